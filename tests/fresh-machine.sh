#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The README's claim, on a machine that has nothing of the suite's: a clean
# clone of HEAD (no build/) builds and runs with what make itself installs.
#  build:  `make` in a mount namespace (unshare -m) where /usr/src and the
#          suite's cache are empty tmpfs, so the kselftest headers come
#          through apt-get download; both binaries must be built and run.
#  chroot: `make run` as root in a minimal Debian 12 chroot (debootstrap
#          minbase + make gcc libc6-dev ca-certificates, the host's apt
#          config) with /proc /sys /dev and the suite's knob lock file
#          bind-mounted: make must install liburing-dev, libnuma-dev and the
#          headers itself, and the suite must pass. The debootstrap result is
#          cached as a tarball; each run unpacks a pristine copy.
# Guarantees: every mount is made inside a private mount namespace, so it
# goes when the namespace's processes end, on every exit path; nothing is
# deleted through a mount; every step is timed and bounded.
# Only what HEAD has committed is checked, not the work tree.
set -uo pipefail
# Nothing of the caller's build reaches the clean clone (make check exports
# OUTPUT: the clone would build into the caller's build/).
unset OUTPUT KDIR KSFT_SRC_PKG STATIC

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=vm/lib.sh
. "$REPO/vm/lib.sh"	# host_mirror
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite
BASE_DIR=$CACHE/fresh-machine
SUITE=bookworm
INCLUDE=make,gcc,libc6-dev,ca-certificates
# Bump when the chroot's recipe changes: the cached base is remade.
BASE=$BASE_DIR/$SUITE-minbase-1.tar
PROGS=$(sed -n 's/^TEST_GEN_PROGS := //p' "$REPO/Makefile")
chroot_part=1 keep='' tmp='' step_pid=''

usage()
{
	cat <<EOF
Usage: $0 [-h] [--no-chroot] [--keep]
  --no-chroot  only the build with an empty /usr/src and cache, not
               'make run' in a debootstrap'd Debian 12 chroot
  --keep       keep the work directory (clone, logs, chroot) for a look
Checks that a clean clone of HEAD builds (and, in the chroot, runs) on a
machine that has nothing of the suite's. The chroot's base is made once
with debootstrap and kept in $BASE.
Exit: 0 passed; 1 failed; 2 usage error. Needs root.
EOF
}

say() { echo "# $*"; }
fail() { echo "# FAIL: $*"; exit 1; }

# The mounts this namespace has under DIR (none when all went with theirs).
mounts_under() { awk -v d="$1/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo; }

# A signal stops the running step (timeout passes it on to the step's
# processes and kills them 30 s later) before the EXIT trap cleans up.
interrupted()
{
	if [ -n "$step_pid" ]; then
		kill -TERM "$step_pid" 2>/dev/null
		wait "$step_pid"
	fi
	say "FAIL: interrupted"
	exit "$1"
}

# Never delete through a mount: a leftover one is detached first, and the
# removal stays on one file system.
cleanup()
{
	local m
	[ -n "$tmp" ] && [ -d "$tmp" ] || return 0
	for m in $(mounts_under "$tmp" | sort -r); do umount -l "$m" 2>/dev/null; done
	[ -z "$keep" ] || { say "kept $tmp"; return 0; }
	if [ -n "$(mounts_under "$tmp")" ]; then
		say "left $tmp: still mounted there"
		return 0
	fi
	rm -rf --one-file-system "$tmp"
}

# step NAME SECONDS COMMAND...: run it bounded (a function of this script
# too: they are exported), its output in $tmp/NAME.log; say how long it
# took, or why it failed with the log's last lines.
step()
{
	local name=$1 limit=$2 t0=$SECONDS rc=0
	shift 2
	# In the background, so that a signal to this script is handled at once.
	timeout -k 30 "$limit" bash -c '"$@"' _ "$@" </dev/null >"$tmp/$name.log" 2>&1 &
	step_pid=$!
	wait "$step_pid" || rc=$?
	step_pid=''
	if [ "$rc" -ne 0 ]; then
		tail -n 15 "$tmp/$name.log" | sed 's/^/#   /'
		say "$name: failures and set-up messages in its log:"
		grep -E '(^|# )not ok |Expected |^E: |^(linux-source|ksft-headers|deps)\.sh: |^make: ' \
			"$tmp/$name.log" | head -n 30 | sed 's/^/#   /'
		[ "$rc" -ne 124 ] || fail "$name: timed out after ${limit}s"
		[ "$name" != make-run-chroot ] || suite_failed "$tmp/$name.log"
		fail "$name: exit $rc after $((SECONDS - t0))s (log above)"
	fi
	say "$name: $((SECONDS - t0))s"
}

# suite_failed LOG: when make run got as far as the suite, the set-up worked
# and the suite's own failures are the reason: name them.
suite_failed()
{
	local failed
	grep -q '^TAP version 13$' "$1" || return 0
	failed=$(sed -n 's/^# not ok [0-9]* \([^ ]*\).*/\1/p' "$1" | tr '\n' ' ')
	fail "make run in the chroot: set-up worked (packages, headers, build), the suite failed: ${failed:-see the log above}"
}

# need COMMAND PACKAGE: apt-get install PACKAGE if COMMAND is missing.
need()
{
	command -v "$1" >/dev/null && return 0
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
		-o DPkg::Lock::Timeout=300 "$2" >"$tmp/apt-$2.log" 2>&1 ||
		fail "no $1, and 'apt-get install $2' failed: $(grep '^E:' "$tmp/apt-$2.log" | tail -n 1)"
}

# A clean clone of what HEAD has committed: no build/, nothing ignored.
clone()
{
	git clone -q "$REPO" "$tmp/clone" &&
	git -C "$tmp/clone" fetch -q "$REPO" HEAD &&
	git -C "$tmp/clone" checkout -q --detach FETCH_HEAD
}

# In this (private) mount namespace: /usr/src and the cache empty, then make.
build_in_namespace() # CLONE CACHE
{
	mount -t tmpfs -o size=16m,mode=755 fresh-usr-src /usr/src &&
	mount -t tmpfs -o size=2g,mode=755 fresh-cache "$2" || return 1
	echo "/usr/src: $(find /usr/src -mindepth 1 | wc -l) entries; $2: $(find "$2" -mindepth 1 | wc -l) entries"
	make -C "$1"
}

# Every binary built, and each lists tests through run_tests.sh -l.
check_binaries() # DIR
{
	local p n
	for p in $PROGS; do
		[ -x "$1/build/$p" ] || fail "$p was not built"
		n=$(OUTPUT=$1/build "$1/run_tests.sh" -l -b "$p" | wc -l)
		[ "$n" -gt 0 ] || fail "$p: run_tests.sh -l listed nothing"
		say "$p: $n tests listed"
	done
}

part_build()
{
	local log=$tmp/make-empty-usr-src.log
	step clone 300 clone
	say "clone of $(git -C "$tmp/clone" log -1 --format='%h %s')"
	[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
		say "note: $REPO has uncommitted changes, not checked here"
	[ ! -e "$tmp/clone/build" ] || fail "the clone has a build/"
	# Built in a copy: the clone stays clean for the chroot.
	cp -a "$tmp/clone" "$tmp/build"
	mkdir -p "$CACHE"
	step make-empty-usr-src 1200 unshare -m --propagation private \
		bash -c 'build_in_namespace "$@"' _ "$tmp/build" "$CACHE"
	grep -q '^/usr/src: 0 entries; .*: 0 entries$' "$log" ||
		fail "/usr/src or the cache was not empty: $(head -n 1 "$log")"
	grep -q '^linux-source.sh: fetching .* with apt-get download' "$log" ||
		fail "the headers did not come through apt-get download"
	grep '^kselftest headers from' "$log" | sed 's/^/# /'
	check_binaries "$tmp/build"
	say "built with empty /usr/src and cache: $PROGS"
}

# The debootstrap'd base, made once (under a lock, into a temp file, then
# renamed): a half-made base is never used.
make_base()
{
	local mirror part
	mirror=$(host_mirror)
	[ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list*"
	rm -rf --one-file-system "$tmp/base"
	debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp/base" "$mirror" || return 1
	part=$(mktemp "$BASE.XXXXXX")
	{ tar --numeric-owner -C "$tmp/base" -cf "$part" . && mv "$part" "$BASE"; } ||
		{ rm -f "$part"; return 1; }
	rm -rf --one-file-system "$tmp/base"
}

base()
{
	mkdir -p "$BASE_DIR"
	exec 8>>"$BASE_DIR/.lock"
	flock -w 1800 8 || fail "another run holds $BASE_DIR/.lock for 30 min"
	if [ -s "$BASE" ]; then
		say "debootstrap base: cached $BASE ($(du -m "$BASE" | cut -f1) MB)"
	else
		need debootstrap debootstrap
		step debootstrap 1800 make_base
	fi
	exec 8>&-
}

# A pristine root: the base, the host's apt config and resolver, the clone.
unpack_root()
{
	local r=$tmp/root
	mkdir "$r" && tar --numeric-owner -C "$r" -xpf "$BASE" &&
	rm -rf "$r/etc/apt" && cp -a /etc/apt "$r/etc/apt" &&
	cat /etc/resolv.conf >"$r/etc/resolv.conf" &&
	cp -a "$tmp/clone" "$r/root/suite"
}

# In this (private) mount namespace: ROOT a mount of its own (as / is on
# a machine: the suite's private huge=advise tmpfs needs to make / private,
# which fails on a directory that is no mount), the kernel's files and the
# host's knob lock (run_tests.sh's and lib/thp.c's
# /run/uffd-collapse-suite.lock, so that the chroot's run takes turns with
# the host's), then make run as a fresh root login would.
run_in_chroot() # ROOT
{
	local r=$1 lock=/run/uffd-collapse-suite.lock
	[ ! -L "$lock" ] || return 1
	[ -f "$lock" ] || : >>"$lock" || return 1
	mount --bind "$r" "$r" &&
	mount --bind /proc "$r/proc" && mount --rbind /sys "$r/sys" &&
	mount --rbind /dev "$r/dev" && mkdir -p "$r/run" &&
	: >"$r$lock" && mount --bind "$lock" "$r$lock" || return 1
	chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		sh -c 'cd /root/suite && make run'
}

part_chroot()
{
	local log=$tmp/make-run-chroot.log r=$tmp/root p
	base
	step unpack 600 unpack_root
	[ ! -e "$r/root/suite/build" ] || fail "the chroot's clone has a build/"
	# shellcheck disable=SC2016 # dpkg-query's format
	for p in liburing-dev libnuma-dev xz-utils; do
		! chroot "$r" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' ||
			fail "the chroot has $p before make run"
	done
	step make-run-chroot 2400 unshare -m --propagation private \
		bash -c 'run_in_chroot "$@"' _ "$r"
	# shellcheck disable=SC2016 # dpkg-query's format
	for p in liburing-dev libnuma-dev; do
		chroot "$r" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' ||
			fail "make run did not install $p"
	done
	grep -q '^linux-source.sh: fetching .* with apt-get download' "$log" ||
		fail "the headers did not come through apt-get download"
	grep -E '^(kselftest headers from|(not )?ok [0-9]+ selftests)' "$log" | sed 's/^/# /'
	say "make run in a fresh $SUITE chroot: installed liburing-dev libnuma-dev, passed"
}

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--no-chroot) chroot_part='' ;;
	--keep) keep=1 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || fail "needs root (mount namespaces, chroot, apt-get)"
for c in git unshare mount chroot timeout flock make; do
	command -v "$c" >/dev/null || fail "no $c (Debian: git, util-linux, coreutils, make)"
done

t_start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fresh-machine.XXXXXX")
export REPO CACHE BASE SUITE INCLUDE tmp
export -f say fail clone build_in_namespace host_mirror make_base unpack_root run_in_chroot
trap cleanup EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM
part_build
[ -z "$chroot_part" ] || part_chroot
say "PASS: fresh machine in $((SECONDS - t_start))s"
