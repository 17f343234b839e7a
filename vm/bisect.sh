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

# configure: tinyconfig + the fragments (vm/lib.sh's kbuild_configure:
# only when the Kconfig files or the fragments changed since the last step).
configure() {
	local log=$BUILD/bisect-config.log rc=0
	kbuild_configure . "$BUILD" "$log" "$REPO/vm/bisect.config" "$REPO/config" || rc=$?
	case $rc in
	0) ;;
	2) skip "these options did not stick in $BUILD/.config" ;;
	*) tail -n 20 "$log" >&2; skip "configuration failed (log: $log)" ;;
	esac
}

build() {
	local log=$BUILD/bisect-build.log
	kbuild_bzimage . "$BUILD" "$log" "$JOBS" ||
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
