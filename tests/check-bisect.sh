#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-bisect: "git bisect run vm/bisect.sh" must find a regression in
# a real kernel tree. The tree is a git repository made from Debian's
# linux-source-6.12 (which has the change under test): a good base commit,
# then six harmless commits, the third of which undoes the MODE_MISSING
# rollback of collapse_file(). With the culprit in the middle, naming it
# takes both a good and a bad verdict.
# The tree and the kernel build directory are cached; each run starts a
# fresh bisection. As root: it may apt-get what is missing.
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG=linux-source-6.12
TARBALL='' VERSION='' # from scripts/linux-source.sh
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/bisect-demo
TREE=$CACHE/linux BUILD=$CACHE/build
SERIES=1 # bump when the commits below change: the cached tree is remade
TEST=missing_holes_ebusy
unpack=''

usage() {
	cat <<EOF
Usage: $0 [-h]
Makes (once) a git repository of Debian's $PKG tarball (fetched by
scripts/linux-source.sh into the suite's cache) in
$TREE with a known culprit commit, runs
  git bisect start bad good
  git bisect run $REPO/vm/bisect.sh -t $TEST -O $BUILD
and checks that git names the culprit. Prints the time of each step.
Exit: 0 git named the culprit; 1 not; 2 bad option.
EOF
}

say() { echo "# $*"; }
fail() { echo "FAIL: $*"; exit 1; }
git_tree() { git -C "$TREE" "$@"; }

# --- the commits on top of the good base ----------------------------------

boot_message() {
	cat >>init/main.c <<'EOF'

/* bisect demo: a harmless boot message */
static int __init bisect_demo_hello(void)
{
	pr_info("bisect demo: hello\n");
	return 0;
}
late_initcall(bisect_demo_hello);
EOF
}

comment() { printf '\n/* bisect demo: a harmless comment */\n' >>"$1"; }

# The culprit: collapse_file() no longer refuses a range that a MODE_MISSING
# userfaultfd covers, so MADV_COLLAPSE fills its holes again (6.1's bug).
undo_fix() {
	git apply - <<'EOF'
--- a/mm/khugepaged.c
+++ b/mm/khugepaged.c
@@ -2098,7 +2098,6 @@
 	}
 
 	if (nr_none) {
-		struct vm_area_struct *vma;
 		int nr_none_check = 0;
 
 		i_mmap_lock_read(mapping);
@@ -2121,26 +2120,6 @@
 			goto immap_locked;
 		}
 
-		/*
-		 * If userspace observed a missing page in a VMA with
-		 * a MODE_MISSING userfaultfd, then it might expect a
-		 * UFFD_EVENT_PAGEFAULT for that page. If so, we need to
-		 * roll back to avoid suppressing such an event. Since
-		 * wp/minor userfaultfds don't give userspace any
-		 * guarantees that the kernel doesn't fill a missing
-		 * page with a zero page, so they don't matter here.
-		 *
-		 * Any userfaultfds registered after this point will
-		 * not be able to observe any missing pages due to the
-		 * previously inserted retry entries.
-		 */
-		vma_interval_tree_foreach(vma, &mapping->i_mmap, start, end) {
-			if (userfaultfd_missing(vma)) {
-				result = SCAN_EXCEED_NONE_PTE;
-				goto immap_locked;
-			}
-		}
-
 immap_locked:
 		i_mmap_unlock_read(mapping);
 		if (result != SCAN_SUCCEED) {
EOF
}

# commit N SUBJECT: commit everything, with a fixed author and date.
commit() {
	GIT_AUTHOR_DATE="2025-01-01T12:0$1:00Z" GIT_COMMITTER_DATE="2025-01-01T12:0$1:00Z" \
		git -c user.name='Bisect Demo' -c user.email=bisect-demo@example.invalid \
		commit -q -a -m "$2"
}

make_series() {
	git init -q -b demo
	git add -f -A .
	commit 0 "Debian $PKG $VERSION"
	git tag good
	boot_message
	commit 1 "init: a harmless boot message"
	comment lib/string.c
	commit 2 "lib/string: a harmless comment"
	undo_fix
	commit 3 "mm/khugepaged: drop the MODE_MISSING check in collapse_file()"
	comment fs/ramfs/inode.c
	commit 4 "ramfs: a harmless comment"
	printf '\nbisect demo: a harmless README line\n' >>README
	commit 5 "README: a harmless line"
	comment kernel/panic.c
	commit 6 "panic: a harmless comment"
	git tag bad
}

stamp() { echo "$PKG $VERSION series $SERIES"; }

# Made beside the cache, then renamed: a half-made tree is never reused.
make_tree() {
	local top
	[[ "$(cat "$TREE/.git/bisect-demo" 2>/dev/null)" != "$(stamp)" ]] || return 0
	rm -rf "$TREE"
	mkdir -p "$CACHE"
	unpack=$(mktemp -d "$CACHE/unpack.XXXXXX")
	top=$(basename "$TARBALL" .tar.xz)
	tar -I 'xz -T0' -xf "$TARBALL" -C "$unpack"
	(cd "$unpack/$top" && make_series) # set -e: a failed step stops it
	stamp >"$unpack/$top/.git/bisect-demo"
	mv "$unpack/$top" "$TREE"
	rm -rf "$unpack"
	unpack=''
}

cleanup() {
	[[ -z $unpack ]] || rm -rf "$unpack"
	[[ ! -d $TREE/.git ]] || git_tree bisect reset >/dev/null 2>&1 || true
}

# step_times LOG: one line per bisection step from vm/bisect.sh's messages.
step_times() {
	awk '/^vm: bisect [0-9a-f]+: build / {rev = $3; sub(/:$/, "", rev); b = $5}
		/^vm: bisect [0-9a-f]+: boot\+suite / {s = $5; x = $9}
		/^vm: bisect [0-9a-f]+: (good|bad)$/ {
			printf "# step %d %s: build %s s, boot+suite %s s, exit %s: %s\n", ++n, rev, b, s, x, $4
		}
		/skipping this commit/ {printf "# step %d: %s\n", ++n, $0}' "$1"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
'') ;;
*) usage >&2; exit 2 ;;
esac

t_start=$SECONDS
trap cleanup EXIT
ensure_pkgs git xz-utils make gcc libc6-dev bc bison flex libelf-dev \
	libssl-dev qemu-system-x86 busybox-static cpio
# linux-source.sh says on stderr why it failed.
TARBALL=$("$REPO/scripts/linux-source.sh" "$PKG") || fail "no $PKG tarball (see the line above)"
VERSION=$(cat "${TARBALL%.tar.xz}.version")
t0=$SECONDS
make_tree
say "tree $TREE ready in $((SECONDS - t0)) s"

# A fresh bisection on a clean tree.
git_tree bisect reset >/dev/null 2>&1 || true
git_tree checkout -q -f demo
git_tree clean -q -f -d -x
culprit=$(git_tree rev-list good..bad -- mm/khugepaged.c)
[[ $(wc -w <<<"$culprit") -eq 1 ]] || fail "expected one culprit commit, got: $culprit"
say "culprit: $(git_tree log -1 --format='%h %s' "$culprit")"
first=full
[[ ! -e $BUILD/arch/x86/boot/bzImage ]] || first=incremental
say "build dir $BUILD: the first build is $first"

t0=$SECONDS
log=$CACHE/bisect-run.log
rc=0
(cd "$TREE" && git bisect start bad good &&
	git bisect run "$REPO/vm/bisect.sh" -t "$TEST" -O "$BUILD") >"$log" 2>&1 || rc=$?
t_bisect=$((SECONDS - t0))
{ grep -E '^(Bisecting:|\[[0-9a-f]{40}\] |[0-9a-f]{40} is the first bad commit)' "$log" || true; } |
	sed 's/^/# /'
step_times "$log"
say "git bisect log, last lines:"
{ git_tree bisect log || true; } | tail -n 4 | sed 's/^/#   /'
named=$(git_tree rev-parse -q --verify refs/bisect/bad || true)
say "first build ($first): $(awk '/^vm: bisect [0-9a-f]+: build / {print $5 " s"; exit}' "$log")"
say "bisect run: $t_bisect s; total: $((SECONDS - t_start)) s; full log: $log"

((rc == 0)) || fail "git bisect run exit $rc (see $log)"
grep -q "^$culprit is the first bad commit" "$log" ||
	fail "git named $(git_tree log -1 --format='%h %s' "$named" 2>/dev/null || echo nothing), not the culprit"
echo "PASS: git bisect run vm/bisect.sh named $(git_tree log -1 --format='%h %s' "$culprit")"
