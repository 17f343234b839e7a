#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prove the suite works the kernel's way: copy it into a kernel tree as
# tools/testing/selftests/uffd_collapse, install it with kselftest's Makefile,
# run the installed run_kselftest.sh and check its KTAP. Run as root (apt-get
# of what is missing; the tests change THP knobs and restore them). With
# --arch arm64: cross-built (ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-,
# static) and run in an arm64 VM on Debian's 6.12 (vm/run.sh --arch arm64).
set -euo pipefail

NAME=uffd_collapse
PKG=linux-source-6.12
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/$PKG
REPO=$(cd "$(dirname "$0")/.." && pwd)
tree='' keep='' tmp='' unpack='' arch='' install=''
CROSS=aarch64-linux-gnu-

usage()
{
	cat <<EOF
Usage: $0 [-h] [--tree DIR] [--arch arm64] [--keep] [--install DIR]
  --tree DIR  use kernel tree DIR, else Debian's $PKG tarball
              (scripts/linux-source.sh: apt-get download into the cache)
              extracted (less drivers/ sound/ Documentation/, arch/ but
              x86 and arm64) once into $CACHE
  --arch arm64
              build with ARCH=arm64 CROSS_COMPILE=$CROSS (static, out of
              tree: O= a temp dir) and run the installed suite with
              run_kselftest.sh in an arm64 VM (vm/run.sh --arch arm64
              --numa-nodes 2, Debian's 6.12)
  --keep      keep the kselftest install directory
  --install DIR
              only build (static) and install into DIR, run nothing (the
              kselftest tree vm/lava.sh puts into its ramdisk)
Exit: 0 the suite built, installed and passed under run_kselftest.sh; 1 not.
EOF
}

log() { echo "# $*" >&2; }
die() { echo "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
took() { log "$1: $(awk "BEGIN { printf \"%.1f\", $(now) - $2 }")s"; }

cleanup()
{
	[ -z "$unpack" ] || rm -rf "$unpack"
	if [ -n "$keep" ]; then log "kept $tmp/kselftest"; else rm -rf "$tmp"; fi
}

need() # COMMAND-OR-FILE PACKAGE
{
	command -v "$1" >/dev/null || [ -e "$1" ] ||
	apt-get install -y -q "$2" >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q "$2" >&2; }
}

# Extracted beside the cache, then renamed: never reused half there. A tree
# extracted without arm64 gets its arch/arm64 the same way when --arch
# arm64 needs it.
extract_tree()
{
	local t0 top=$PKG tarball
	t0=$(now) tree=$CACHE
	if [ ! -f "$tree/Makefile" ] || { [ -n "$arch" ] && [ ! -d "$tree/arch/arm64" ]; }; then
		# linux-source.sh says on stderr why it failed.
		tarball=$("$REPO/scripts/linux-source.sh" "$PKG") ||
			die "no $PKG tarball (see the line above)"
		mkdir -p "$(dirname "$CACHE")"
		unpack=$(mktemp -d "$CACHE.XXXXXX")
	fi
	if [ ! -f "$tree/Makefile" ]; then
		tar -I 'xz -T0' -xf "$tarball" -C "$unpack" \
			--exclude="$top/"{drivers,sound,Documentation} \
			--exclude="$top/arch/[!xa]*" --exclude="$top/arch/xtensa" \
			--exclude="$top/arch/a[!r]*" --exclude="$top/arch/arc" \
			--exclude="$top/arch/arm"
		mv "$unpack/$top" "$tree"
	elif [ -n "$arch" ] && [ ! -d "$tree/arch/arm64" ]; then
		tar -I 'xz -T0' -xf "$tarball" -C "$unpack" "$top/arch/arm64"
		mv "$unpack/$top/arch/arm64" "$tree/arch/arm64"
	fi
	took "extract ($tree)" "$t0"
}

# A fresh copy of the suite as the build sees it: the files git tracks or
# would (not ignored: no build/), else all but build/ and .git/.
copy_suite()
{
	local dest=$tree/tools/testing/selftests/$NAME
	rm -rf "$dest" && mkdir -p "$dest"
	if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$REPO" ls-files -z --cached --others --exclude-standard |
			tar -C "$REPO" --null --ignore-failed-read -T - -cf -
	else
		tar -C "$REPO" --exclude=./build --exclude=./.git -cf - .
	fi | tar -C "$dest" -xf -
}

# NAME COMMAND...: run it timed, quiet but for its log's tail if it fails.
step()
{
	local t0 name=$1 log=$tmp/build.log
	t0=$(now) && shift
	"$@" >>"$log" 2>&1 || { tail -n 30 "$log"; die "$name failed"; }
	took "$name" "$t0"
}

build_install()
{
	local f cross=() bins
	bins=$(sed -n "s/^TEST_GEN_PROGS := //p" "$REPO/Makefile")
	# arm64 out of tree (O=): the tree keeps its x86 headers
	[ -z "$arch" ] || cross=(O="$tmp/o" ARCH=arm64 CROSS_COMPILE="$CROSS")
	[ -z "$arch$install" ] || cross+=(STATIC=1)
	step "make headers" make -C "$tree" -j"$(nproc)" "${cross[@]}" headers
	step "build+install" make -C "$tree/tools/testing/selftests" \
		"${cross[@]}" TARGETS=$NAME install INSTALL_PATH="$tmp/kselftest"
	for f in $bins run_tests.sh config settings; do
		[ -e "$tmp/kselftest/$NAME/$f" ] || die "$NAME/$f not installed"
	done
	[ -n "$arch" ] || return 0
	for f in $bins; do
		LC_ALL=C readelf -h "$tmp/kselftest/$NAME/$f" | grep -q 'Machine: *AArch64' ||
			die "$NAME/$f is no arm64 binary"
	done
}

# run_kselftest.sh in an arm64 VM on Debian's 6.12: the KTAP is what the
# guest printed between vm/run.sh's start and result markers, less the
# kernel's own console lines (the runner logs "kselftest: Running tests"
# to /dev/kmsg). The initramfs has busybox, whose timeout(1) lacks the
# --foreground the runner passes to /usr/bin/timeout: it goes, the runner
# then runs each binary without its own timeout, and vm/run.sh --timeout
# bounds the whole run.
run_ksft_vm()
{
	local t0 rc=0 k suite=$tmp/vmsuite
	t0=$(now)
	k=$("$REPO/vm/fetch-kernels.sh" --arch arm64 | awk '$1 == "known-good" { print $2 }')
	[ -n "$k" ] || die "no arm64 known-good kernel from vm/fetch-kernels.sh"
	mkdir -p "$suite"
	cp -a "$tmp/kselftest" "$suite/kselftest"
	printf '#!/bin/sh\nrm -f /usr/bin/timeout\ncd /suite/kselftest && exec ./run_kselftest.sh -c %s\n' \
		"$NAME" > "$suite/run_tests.sh"
	chmod +x "$suite/run_tests.sh"
	"$REPO/vm/run.sh" --arch arm64 --kernel "$k" --numa-nodes 2 \
		--timeout 5400 --suite-dir "$suite" > "$tmp/console" 2> "$tmp/vm.err" || rc=$?
	sed -n '/^VMRUN-START$/,/^VMRUN-RESULT:/p' "$tmp/console" |
		sed '1d;$d' | sed '${/^$/d}' |
		grep -av '^\[ *[0-9][0-9]*\.[0-9]*\] ' | tee "$tmp/out"
	took "run in the arm64 VM ($(grep '^vm: boot' "$tmp/vm.err"))" "$t0"
	[ "$rc" -eq 0 ] || { sed 's/^/# /' "$tmp/vm.err"; die "vm/run.sh exit $rc"; }
}

# Through a pipe: the runner appends to /dev/stdout, so a file would clobber.
run_ksft()
{
	local t0 rc=0
	t0=$(now)
	"$tmp/kselftest/run_kselftest.sh" -c $NAME 2>&1 | tee "$tmp/out" || rc=$?
	took run "$t0"
	[ "$rc" -eq 0 ] || die "run_kselftest.sh exit $rc"
}

# KTAP, and every binary of TEST_GEN_PROGS passing with its subtests.
check_output()
{
	local o=$tmp/out test='\(not \)\{0,1\}ok [0-9]' plan top sub plans b bins
	bins=$(sed -n 's/^TEST_GEN_PROGS := //p' "$REPO/Makefile")
	[ "$(head -n 1 "$o")" = "TAP version 13" ] || die "no 'TAP version 13'"
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$o")
	[ -n "$plan" ] || die "no plan line"
	! grep -v -e '^#' -e '^TAP version 13$' -e '^1\.\.[0-9]*$' \
		-e "^$test" "$o" || die "the lines above are not KTAP"
	top=$(grep -c "^$test" "$o" || true)
	[ "$top" -eq "$plan" ] || die "plan 1..$plan but $top test lines"
	! grep '^not ok\|^ok.*# SKIP' "$o" || die "the lines above did not pass"
	for b in $bins; do
		grep -qx "ok [0-9]* selftests: $NAME: $b" "$o" || die "$b did not run"
	done
	sub=$(grep -c "^# $test" "$o" || true)
	[ "$sub" -gt 0 ] || die "no subtests reported"
	plans=$(sed -n 's/^# 1\.\.\([0-9]*\)$/\1/p' "$o" | awk '{ s += $1 } END { print s + 0 }')
	[ "$sub" -eq "$plans" ] || die "$sub subtests but the plans add up to $plans"
	! grep '^# not ok' "$o" || die "the subtests above failed"
	echo "PASS: run_kselftest.sh -c $NAME exit 0, $top/$plan ok;" \
		"$sub subtests ($(sed -n 's/^# # Totals: //p' "$o" | tr '\n' ';'))" \
		"installed: $bins run_tests.sh config settings"
}

while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--tree) tree=$(cd "${2:?usage: --tree DIR}" && pwd); shift ;;
	--keep) keep=1 ;;
	--install)
		[ -n "${2-}" ] || { usage >&2; exit 1; }
		install=$2; shift ;;
	--arch)
		[ "${2-}" = arm64 ] || { usage >&2; exit 1; }
		arch=arm64; shift ;;
	*) usage >&2; exit 1 ;;
	esac
	shift
done

tmp=$(mktemp -d)
trap cleanup EXIT
need rsync rsync || die "no rsync, and apt-get install rsync failed (apt's messages above)"
need xz xz-utils || die "no xz, and apt-get install xz-utils failed (apt's messages above)"
if [ -n "$arch" ]; then
	(. "$REPO/vm/lib.sh" && ensure_cross) >&2 ||
		die "no arm64 cross compiler or arm64 libraries (see the lines above)"
fi
[ -n "$tree" ] || extract_tree
[ -f "$tree/tools/testing/selftests/lib.mk" ] || die "$tree: no kselftest"
copy_suite
build_install
if [ -n "$install" ]; then
	if ! { rm -rf "$install" && mkdir -p "$(dirname "$install")" &&
	       cp -a "$tmp/kselftest" "$install"; }; then
		die "cannot copy the install to $install"
	fi
	log "installed in $install"
	exit 0
fi
if [ -n "$arch" ]; then run_ksft_vm; else run_ksft; fi
check_output
