#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# For "git bisect run", from the top of a kernel tree: build a small x86_64
# kernel out of tree (tinyconfig + vm/bisect.config + the suite's config
# fragment), boot it with the suite in vm/run.sh, and exit 0 (good), 1 (bad),
# 125 (skip: no build or no boot) or 128 and above (abort the bisection).
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/bisect-build
JOBS=$(nproc)
TESTS=() RUN_ARGS=()
DIE_STATUS=128 # setup errors abort "git bisect run"
SKIP=125

usage() {
	cat <<USAGE
Usage: ${0##*/} [-h] [-t TEST]... [-O BUILD_DIR] [--jobs N] [-- vm/run.sh options]

Run from the top of a kernel tree, e.g.
  git bisect start BAD GOOD && git bisect run $0 -t missing_holes_ebusy

  -t TEST       run only TEST (run_tests.sh -t); may be repeated; default: all
  -O DIR        kernel build directory, kept between steps so each step only
                rebuilds what changed (default $BUILD)
  --jobs N      make -j N (default $JOBS)
  -h, --help    this help
Options after -- go to vm/run.sh (e.g. --timeout 1200 --smp 1); a second --
there passes options to run_tests.sh.

Exit: 0 the suite passed; 1 it failed (or the kernel splat); 125 the kernel
did not configure, build or boot, or every test skipped; 128 and above
(setup error, interrupt) to abort the bisection; 2 bad option.
USAGE
}

bad_usage() { usage >&2; exit 2; }

parse_args() {
	while (($#)); do
		case $1 in
		-h | --help) usage; exit 0 ;;
		-t) (($# >= 2)) || bad_usage; TESTS+=("$2"); shift 2 ;;
		-O) (($# >= 2)) || bad_usage; BUILD=$2; shift 2 ;;
		--jobs) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || bad_usage; JOBS=$2; shift 2 ;;
		--) shift; RUN_ARGS=("$@"); break ;;
		*) bad_usage ;;
		esac
	done
}

# skip MESSAGE: this commit cannot be tested.
skip() { log "$*: skipping this commit"; exit "$SKIP"; }

# not_applied FRAGMENT...: print each CONFIG_X=V line of the fragments that
# the .config lacks (merge_config.sh only warns when a dependency is missing).
not_applied() {
	local f line
	for f; do
		while IFS= read -r line; do
			[[ $line == CONFIG_*=* ]] || continue
			grep -qxF -- "$line" "$BUILD/.config" || printf '  %s: %s\n' "${f#"$REPO"/}" "$line"
		done <"$f"
	done
}

# config_key: a hash of what the .config comes from (Kconfig files as git's
# index has them, base configs, both fragments); nothing outside git.
config_key() {
	local files
	files=$(git ls-files -s -- '*Kconfig*' arch/x86/configs kernel/configs scripts/kconfig 2>/dev/null) &&
		[[ -n $files ]] || return 0
	printf '%s\n' "$files" | cat - "$REPO/vm/bisect.config" "$REPO/config" | sha1sum
}

# configure: tinyconfig + the fragments, unless the last step's still holds.
configure() {
	local log=$BUILD/bisect-config.log stamp=$BUILD/.bisect-config-key key missing
	key=$(config_key)
	if [[ -z $key || ! -s $BUILD/.config || $key != "$(cat "$stamp" 2>/dev/null)" ]]; then
		rm -f "$stamp"
		if ! { make -s O="$BUILD" tinyconfig &&
			scripts/kconfig/merge_config.sh -m -O "$BUILD" "$BUILD/.config" \
				"$REPO/vm/bisect.config" "$REPO/config" &&
			make -s O="$BUILD" olddefconfig; } >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			skip "configuration failed (log: $log)"
		fi
		[[ -z $key ]] || echo "$key" >"$stamp"
	fi
	missing=$(not_applied "$REPO/vm/bisect.config" "$REPO/config")
	[[ -z $missing ]] || { printf '%s\n' "$missing" >&2; skip "these options did not stick in $BUILD/.config"; }
}

build() {
	local log=$BUILD/bisect-build.log
	make -s O="$BUILD" -j"$JOBS" bzImage >"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; skip "build failed (log: $log)"; }
}

# boot: vm/run.sh on the new kernel; sets RC to its exit status.
boot() {
	local a t dashdash='' cmd=("$REPO/vm/run.sh" --kernel "$BUILD/arch/x86/boot/bzImage")
	for a in "${RUN_ARGS[@]}"; do [[ $a != -- ]] || dashdash=1; done
	cmd+=("${RUN_ARGS[@]}")
	[[ -n $dashdash ]] || cmd+=(--) # what follows goes to run_tests.sh
	for t in "${TESTS[@]}"; do cmd+=(-t "$t"); done
	RC=0
	"${cmd[@]}" || RC=$?
}

main() {
	local rev t0
	parse_args "$@"
	[[ -f Makefile && -f scripts/kconfig/merge_config.sh && -d arch/x86 ]] ||
		die "run from the top of a kernel tree"
	[[ ! -e .config && ! -d include/config ]] ||
		die "the source tree is not clean (.config): run make mrproper; builds go to -O"
	ensure_pkgs make gcc libc6-dev bc bison flex libelf-dev libssl-dev xz-utils
	mkdir -p "$BUILD" && BUILD=$(cd "$BUILD" && pwd)
	exec 9>"$BUILD/.bisect.lock"
	flock -n 9 || die "$BUILD is in use by another vm/bisect.sh"
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo tree)

	t0=$SECONDS
	configure
	build
	log "bisect $rev: build $((SECONDS - t0)) s"
	t0=$SECONDS
	boot
	log "bisect $rev: boot+suite $((SECONDS - t0)) s, vm/run.sh exit $RC"
	case $RC in
	0) log "bisect $rev: good"; exit 0 ;;
	1) log "bisect $rev: bad"; exit 1 ;;
	4) skip "every test skipped" ;;
	125) skip "the kernel did not boot or the VM died" ;;
	*) log "vm/run.sh exit $RC: aborting the bisection"; exit $((RC >= 128 ? RC : 128)) ;;
	esac
}

main "$@"
