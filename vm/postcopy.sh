#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# QEMU postcopy live migration against MADV_COLLAPSE, end to end: Debian's
# qemu-system-x86_64 migrates a small guest (TCG) between two local processes
# whose guest RAM is a memfd, while collapse_helper loops MADV_COLLAPSE over
# the destination's memfd. On the running kernel ("host") and, nested, in a
# VM booted with Debian's 6.1 (known-bad) and 6.12 (known-good) kernels.
# Each run is postcopy/scenario.sh; this script builds and stages what it
# needs, runs it, and prints KTAP.
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODES=host,6.12,6.1 RUNS=1 QUICK='' EXPECT='' BIN='' LOGS='' ACCEL=auto
QEMU_BIN=/usr/bin/qemu-system-x86_64
TCG_MODULE=/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
# qemu -machine pc -vga none -nic none -kernel BZIMAGE opens only these
# (strace)
FIRMWARE=(/usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin
	/usr/share/qemu/linuxboot_dma.bin)
FAIL_RE='postcopy_place_page(_zero)?: File exists|Detected IO failure for postcopy|saw wrong pages'
CHILD=''

usage() {
	cat <<USAGE
Usage: ${0##*/} [options]

Run a QEMU postcopy live migration with MADV_COLLAPSE looping on the
destination's guest memory, on each kernel of MODES, and print KTAP.

  --modes LIST    comma-separated: host (the running kernel), 6.1, 6.12
                  (nested: a VM booted with Debian's kernel runs both qemus);
                  default $MODES
  --host-only     same as --modes host
  --quick         a smaller, faster host scenario (seconds; for make check)
  --runs N        runs per mode (default $RUNS)
  --expect        judge against the expectation: host and 6.12 PASS, 6.1 FAIL
                  for QEMU's postcopy failure or a wrong guest page
  --bin DIR       prebuilt guest_init, collapse_helper, qmp (default: make postcopy)
  --accel A       the outer VM's accelerator for vm/run.sh (default $ACCEL)
  --logs DIR      keep each run's logs in DIR/MODE.RUN/
  -h, --help      this help

A run is PASS when the migration completes, the destination guest verifies
every page in a full pass, and the helper's collapses were refused (EBUSY)
while postcopy lasted; FAIL when the destination qemu reports
"postcopy_place_page: File exists" or "Detected IO failure for postcopy"
(migration paused), or the guest sees a wrong page; ERROR otherwise (no boot,
no postcopy, helper never ran during postcopy...), never a pass.
Exit status: 0 if every run passed (with --expect: matched the expectation),
1 otherwise, 2 on a bad option. Needs root (QEMU's userfaultfd).
USAGE
}

bad_usage() { usage >&2; exit 2; }

parse_args() {
	while (($#)); do
		case $1 in
		--modes | --runs | --bin | --logs | --accel)
			(($# >= 2)) || bad_usage
			local v=${1#--}
			printf -v "${v^^}" '%s' "$2"
			shift 2 ;;
		--host-only) MODES=host; shift ;;
		--quick) QUICK=1; shift ;;
		--expect) EXPECT=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) bad_usage ;;
		esac
	done
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || bad_usage
	local m
	for m in ${MODES//,/ }; do
		[[ $m =~ ^(host|6\.1|6\.12)$ ]] || bad_usage
	done
}

# build: BIN holds the three static programs.
build() {
	if [[ -n $BIN ]]; then
		BIN=$(cd "$BIN" && pwd)
	else
		ensure_pkgs make gcc libc6-dev
		make -s -C "$REPO" postcopy OUTPUT="$TMP/build" >&2 || die "build of postcopy/ failed"
		BIN=$TMP/build/postcopy
	fi
	local p
	for p in guest_init collapse_helper qmp; do
		[[ -x $BIN/$p ]] || die "no $BIN/$p"
	done
}

# inner_initrd FILE: guest_init as /init, and a console.
inner_initrd() {
	local root=$TMP/inner-root
	mkdir -p "$root/dev"
	cp "$BIN/guest_init" "$root/init"
	mknod -m 600 "$root/dev/console" c 5 1
	(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$1"
}

# copy_with_libs ROOT FILE...: FILEs and the shared libraries they load, at
# their own paths under ROOT (symlinks resolved).
copy_with_libs() {
	local root=$1 f
	shift
	{
		printf '%s\n' "$@"
		ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*[^:]$/ {print $1}'
	} | sort -u | while read -r f; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
}

# stage_nested DIR: the outer VM's /suite: run_tests.sh, scenario.sh, the
# programs, the inner kernel and initramfs, and root/ (qemu, its libraries,
# its TCG module and firmware), which run_tests.sh copies to /.
stage_nested() {
	local d=$1 f
	mkdir -p "$d/bin" "$d/inner" "$d/root"
	cp "$BIN/collapse_helper" "$BIN/qmp" "$d/bin/"
	cp "$REPO/postcopy/scenario.sh" "$d/"
	cp -L "$INNER_KERNEL" "$d/inner/vmlinuz"
	cp "$INNER_INITRD" "$d/inner/initrd"
	copy_with_libs "$d/root" "$QEMU_BIN" "$TCG_MODULE"
	for f in "${FIRMWARE[@]}"; do
		mkdir -p "$d/root$(dirname "$f")"
		cp -L "$f" "$d/root$f"
	done
	cat >"$d/run_tests.sh" <<'OUTER'
#!/bin/sh
# In the outer VM: qemu's files into place, loopback up, one scenario.
cp -a /suite/root/. / || exit 3
ip link set lo up || exit 3
exec sh /suite/scenario.sh --qemu /usr/bin/qemu-system-x86_64 \
	--kernel /suite/inner/vmlinuz --initrd /suite/inner/initrd \
	--bin /suite/bin --workdir /tmp/postcopy "$@"
OUTER
	chmod +x "$d/run_tests.sh"
}

# scenario_args MODE: the scenario's sizes and bounds for MODE.
scenario_args() {
	if [[ $1 == host && -n $QUICK ]]; then
		echo --mem 96 --fill 32 --bw 32 --boot-timeout 60 --timeout 60 --verify-timeout 30
	elif [[ $1 == host ]]; then
		echo --mem 160 --fill 64 --bw 8 --boot-timeout 120 --timeout 180 --verify-timeout 60
	else
		echo --mem 160 --fill 64 --bw 8 --boot-timeout 600 --timeout 600 --verify-timeout 300
	fi
}

# run_child LOG CMD...: run CMD in the background with output to LOG and
# wait for it, so that a signal to this script reaches the trap at once.
run_child() {
	local log=$1 rc=0
	shift
	"$@" >"$log" 2>&1 &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=''
	return "$rc"
}

# run_once MODE N: one scenario; sets VERDICT (PASS|FAIL|ERROR), REASON, SECS.
run_once() {
	local mode=$1 n=$2 log=$TMP/run.log rc=0 t0 line
	local -a args
	read -ra args <<<"$(scenario_args "$mode")"
	t0=$EPOCHREALTIME
	if [[ $mode == host ]]; then
		run_child "$log" timeout -k 20 1200 sh "$REPO/postcopy/scenario.sh" \
			--qemu "$QEMU_BIN" --kernel "$INNER_KERNEL" --initrd "$INNER_INITRD" \
			--bin "$BIN" "${args[@]}" || rc=$?
	else
		run_child "$log" "$REPO/vm/run.sh" --kernel "${KERNEL[$mode]}" --accel "$ACCEL" \
			--mem 2G --smp 2 --timeout 2400 --suite-dir "$TMP/nested" -- "${args[@]}" || rc=$?
	fi
	SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	if [[ -n $LOGS ]]; then
		mkdir -p "$LOGS/$mode.$n"
		cp "$log" "$LOGS/$mode.$n/output.log"
	fi
	grep -a '^# ' "$log" | grep -av '^# \(dst\|src\) qemu: $' | sed "s/^# /# $mode.$n: /" || true
	line=$(grep -ao 'postcopy-result: [A-Z]*: .*' "$log" | tail -n1 || true)
	if [[ -n $line ]]; then
		line=${line#postcopy-result: }
		VERDICT=${line%%:*} REASON=${line#*: }
	elif [[ $mode != host ]] && ((rc == 125)); then
		VERDICT=ERROR REASON="the outer VM did not boot, died or timed out (vm/run.sh 125)"
	else
		VERDICT=ERROR REASON="no result from the scenario (status $rc): $(tail -n 2 "$log" | tr '\n' ' ')"
	fi
	if [[ $mode != host && $VERDICT != ERROR ]] && ((rc != 0 && rc != 1)); then
		VERDICT=ERROR REASON="vm/run.sh exit $rc after: $REASON"
	fi
}

# judge MODE: status 0 if VERDICT is what MODE must give (--expect) or PASS.
judge() {
	if [[ -z $EXPECT || $1 != 6.1 ]]; then
		[[ $VERDICT == PASS ]]
	else
		[[ $VERDICT == FAIL && $REASON =~ $FAIL_RE ]]
	fi
}

on_signal() {
	trap - INT TERM
	if [[ -n $CHILD ]]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	log "interrupted"
	exit "$1"
}

main() {
	local m n i=0 ok=0 total failed=0 t_all=$EPOCHREALTIME
	local -A KERNEL=()
	local -a modes summary=()
	parse_args "$@"
	((EUID == 0)) || die "needs root: QEMU's postcopy opens a userfaultfd"
	ensure_pkgs qemu-system-x86 busybox-static cpio
	IFS=, read -ra modes <<<"$MODES"
	mktempdir TMP
	trap 'on_signal 130' INT
	trap 'on_signal 143' TERM
	build
	while read -r m n; do
		[[ $m == known-bad ]] && KERNEL[6.1]=$n
		[[ $m == known-good ]] && KERNEL[6.12]=$n
	done < <("$REPO/vm/fetch-kernels.sh")
	# the bzImage: booted as a PVH vmlinux, the nested guest's kernel died
	# at its first text_poke_early() (#GP on iretq) in 2 of 4 boots
	INNER_KERNEL=${KERNEL[6.12]}
	INNER_INITRD=$TMP/inner-initrd.gz
	inner_initrd "$INNER_INITRD"
	[[ $MODES != *6.1* ]] || stage_nested "$TMP/nested"
	total=$((${#modes[@]} * RUNS))
	echo "KTAP version 1"
	echo "1..$total"
	echo "# guest kernel $(cat "${KERNEL[6.12]}.version"); qemu $("$QEMU_BIN" --version | head -n1)"
	[[ -z ${KERNEL[6.1]:-} ]] || echo "# nested: 6.1 = $(cat "${KERNEL[6.1]}.version"), 6.12 = $(cat "${KERNEL[6.12]}.version")"
	echo "# host kernel $(uname -r)"
	for m in "${modes[@]}"; do
		for ((n = 1; n <= RUNS; n++)); do
			i=$((i + 1))
			run_once "$m" "$n"
			if judge "$m"; then
				ok=$((ok + 1))
				echo "ok $i postcopy.$m.$n # $VERDICT in $SECS s: $REASON"
			else
				failed=$((failed + 1))
				echo "not ok $i postcopy.$m.$n # $VERDICT in $SECS s: $REASON"
			fi
			summary+=("$m.$n $VERDICT ${SECS}s")
		done
	done
	echo "# results: ${summary[*]}"
	echo "# total $(awk -v a="$t_all" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s${EXPECT:+ (expected: host and 6.12 PASS, 6.1 FAIL)}"
	echo "# $ok passed, $failed failed"
	((failed == 0))
}

main "$@"
