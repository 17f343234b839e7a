#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in qemu with a busybox initramfs holding the suite, run
# /suite/run_tests.sh in it and exit with its status, git-bisect style.
set -euo pipefail
shopt -s extglob

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KERNEL='' SMP=2 MEM=2G NUMA_NODES=1 ACCEL=auto TIMEOUT=600 SUITE_DIR='' APPEND='' LOG=''
ARCH=amd64
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite
SPLAT_GRACE=30
BOOT_TIMEOUT='' # default: 120 s, 600 s for arm64 (TCG)
ARGS=()
DIE_STATUS=128 # setup errors abort "git bisect run"
START=VMRUN-START RESULT=VMRUN-RESULT

usage() {
	cat <<USAGE
Usage: ${0##*/} --kernel PATH [options] [-- ARGS for run_tests.sh]

  --kernel PATH       bzImage/vmlinuz (arm64: Image) to boot (required)
  --arch A            amd64 (default) or arm64: qemu-system-aarch64 -M virt
                      under TCG, the suite cross-built (aarch64-linux-gnu-gcc,
                      liburing-dev:arm64, libnuma-dev:arm64) with Debian's
                      busybox-static:arm64 (apt-get download, not installed)
  --smp N             vCPUs (default $SMP)
  --mem SIZE          guest RAM, qemu -m syntax: 2048, 2048M, 2G (default $MEM)
  --numa-nodes N      split RAM and vCPUs evenly over N NUMA nodes (default $NUMA_NODES)
  --accel A           auto|kvm|tcg (default $ACCEL: kvm only if a probe guest runs)
  --timeout S         kill qemu after S seconds (default $TIMEOUT)
  --splat-grace S     after a kernel splat, give the suite S seconds to end,
                      then stop the guest (default $SPLAT_GRACE)
  --boot-timeout S    stop a guest that has not started the suite S seconds
                      after qemu started, and boot it once more (a hang at
                      boot; default 120, arm64 600; 0: never)
  --suite-dir DIR     copy DIR as is to /suite (must hold run_tests.sh);
                      default: make -C $REPO STATIC=1 OUTPUT=tmp,
                      plus run_tests.sh and settings
  --append STR        extra kernel command line
  --log FILE          also save the console of all attempts to FILE
  -h, --help          this help

The console goes to stdout. Exit status: the suite's (0 pass, 1 fail, 4 skip);
1 if a kernel splat (oops, BUG, WARNING, panic, lockdep, GPF, UBSAN, KASAN,
soft lockup, hung task, RCU stall, Call Trace) shows after the suite started,
whether or not the suite ends: the guest is stopped --splat-grace seconds
after the splat; 125 if the kernel did not boot, or died or timed out during
the suite without a splat; 2 on a bad option; 128 if the suite or the tools
cannot be set up.
USAGE
}

parse_args() {
	while (($#)); do
		case $1 in
		--kernel | --arch | --smp | --mem | --numa-nodes | --accel | --timeout | --splat-grace | --boot-timeout | --suite-dir | --append | --log)
			(($# >= 2)) || bad_usage
			local v=${1#--}
			v=${v//-/_}
			printf -v "${v^^}" '%s' "$2" # --numa-nodes N sets NUMA_NODES=N
			shift 2 ;;
		--) shift; ARGS=("$@"); break ;;
		-h | --help) usage; exit 0 ;;
		*) bad_usage ;;
		esac
	done
	[[ -n $KERNEL ]] || bad_usage
	[[ $SMP =~ ^[1-9][0-9]*$ && $NUMA_NODES =~ ^[1-9][0-9]*$ && $TIMEOUT =~ ^[1-9][0-9]*$ ]] || bad_usage
	[[ $SPLAT_GRACE =~ ^[0-9]+$ && $BOOT_TIMEOUT =~ ^[0-9]*$ ]] || bad_usage
	[[ $ACCEL =~ ^(auto|kvm|tcg)$ ]] || bad_usage
	case $ARCH in
	amd64 | x86_64) ARCH=amd64 ;;
	arm64 | aarch64) ARCH=arm64 ;;
	*) bad_usage ;;
	esac
	[[ -n $BOOT_TIMEOUT ]] || { BOOT_TIMEOUT=120; [[ $ARCH == amd64 ]] || BOOT_TIMEOUT=600; }
	mem_mib >/dev/null || bad_usage
}

bad_usage() { usage >&2; exit 2; }

# mem_mib: print MEM in MiB.
mem_mib() {
	[[ $MEM =~ ^([0-9]+)([MmGg]?)$ ]] || return 1
	local n=${BASH_REMATCH[1]}
	[[ ${BASH_REMATCH[2]} == [Gg] ]] && n=$((n * 1024))
	echo "$n"
}

# stage_suite DEST: fill DEST with the suite.
stage_suite() {
	if [[ -n $SUITE_DIR ]]; then
		[[ -d $SUITE_DIR ]] || die "no suite dir $SUITE_DIR"
		cp -a -- "$SUITE_DIR/." "$1"
	else
		[[ -e $REPO/run_tests.sh ]] || die "no $REPO/run_tests.sh"
		ensure_pkgs make gcc libc6-dev
		[[ $ARCH == amd64 ]] || ensure_cross
		mkdir -p "$TMP/build"
		make -C "$REPO" STATIC=1 OUTPUT="$TMP/build" "${CROSS_MAKE[@]}" >&2 ||
			die "suite build failed"
		find "$TMP/build" -maxdepth 1 -type f -perm -u+x -exec cp -t "$1" {} +
		cp -a "$REPO/run_tests.sh" "$1"
		[[ ! -e $REPO/settings ]] || cp -a "$REPO/settings" "$1"
	fi
	[[ -x $1/run_tests.sh ]] || die "no executable run_tests.sh in the suite"
}

# arch_setup: QEMU, CONSOLE, BUSYBOX and CROSS_MAKE for ARCH, with the
# packages they come from.
arch_setup() {
	CROSS_MAKE=()
	if [[ $ARCH == amd64 ]]; then
		ensure_pkgs qemu-system-x86 busybox-static cpio
		QEMU=qemu-system-x86_64 CONSOLE=ttyS0 BUSYBOX=/bin/busybox
		return
	fi
	ensure_pkgs qemu-system-arm cpio
	QEMU=qemu-system-aarch64 CONSOLE=ttyAMA0
	CROSS_MAKE=(CC=aarch64-linux-gnu-gcc)
	BUSYBOX=$(foreign_busybox arm64)
}

# foreign_busybox ARCH: print the path of Debian's static busybox for ARCH,
# extracted once from busybox-static:ARCH (apt-get download into TMP, not
# installed) into the cache.
foreign_busybox() {
	local dir=$CACHE/busybox-$1 deb=$TMP/busybox-deb
	if [[ ! -x $dir/bin/busybox ]]; then
		ensure_arch "$1"
		mkdir -p "$deb"
		(cd "$deb" && apt-get download -q -o APT::Sandbox::User=root "busybox-static:$1" >&2) ||
			die "cannot apt-get download busybox-static:$1"
		mkdir -p "$dir"
		dpkg-deb -x "$deb"/busybox-static_*.deb "$dir" || die "cannot extract busybox-static:$1"
	fi
	echo "$dir/bin/busybox"
}

# write_init FILE: the guest's /init: guest_init_head (vm/lib.sh), then the
# suite. The VM ends with the suite, so nothing is put back. After it: the
# suite's status and the console log level, on the result line.
write_init() {
	{
		guest_init_head "$SUITE_LOGLEVEL"
		cat <<'INIT'
set --
while IFS= read -r a; do set -- "$@" "$a"; done </suite.args
cd /suite
printf '\n%s\n' VMRUN-START
/suite/run_tests.sh "$@"
rc=$?
read -r level rest </proc/sys/kernel/printk
printf '\n%s %s console_loglevel=%s\n' VMRUN-RESULT: $rc "$level"
poweroff -f
INIT
	} >"$1"
	chmod +x "$1"
}

# make_initramfs FILE: busybox, /init, /suite and /suite.args as a newc cpio.
make_initramfs() {
	local root=$TMP/root a
	guest_root "$root" "$BUSYBOX"
	mkdir "$root/suite"
	write_init "$root/init"
	stage_suite "$root/suite"
	for a in "${ARGS[@]}"; do
		[[ $a != *$'\n'* ]] || die "run_tests.sh arguments must not contain newlines"
		printf '%s\n' "$a"
	done >"$root/suite.args"
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$1"
}

# kvm_works: /dev/kvm is there and a guest really runs on it.
kvm_works() {
	[[ -r /dev/kvm && -w /dev/kvm ]] && guest_runs -accel kvm -cpu host
}

# kvm_works_here: kvm_works, probed once per boot of this host and kept in
# the cache: where /dev/kvm opens but runs no guest (no nested
# virtualisation), the probe waits its whole 60 s, which made each boot of
# vm/mutants.sh and vm/bisect.sh a minute longer.
kvm_works_here() {
	local f=$CACHE/kvm-works boot='' b v
	boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) || boot=''
	if [[ -n $boot && -r $f ]] && read -r b v <"$f" && [[ $b == "$boot" && $v == [01] ]]; then
		log "KVM probe of this host boot (from $f): $( ((v == 0)) && echo works || echo 'runs no guest')"
		return "$v"
	fi
	v=0
	kvm_works || v=1
	if [[ -n $boot ]] && mkdir -p "$CACHE"; then
		{ echo "$boot $v" >"$f.$$" && mv -f "$f.$$" "$f"; } 2>/dev/null || rm -f "$f.$$"
	fi
	return "$v"
}

# guest_runs QEMU_OPTS...: the kernel boots until it panics for want of a root
# fs. Stops early on "KVM internal error", after which qemu would hang.
guest_runs() {
	local out=$TMP/probe.out pid i
	: >"$out"
	"$QEMU" "$@" -m 256 -nographic -no-reboot -nic none -kernel "$KERNEL" \
		-append "console=$CONSOLE loglevel=1 panic=-1" </dev/null >"$out" 2>&1 &
	pid=$!
	echo "$pid" >"$TMP/probe.pid"
	for ((i = 0; i < 120; i++)); do
		grep -qE 'Kernel panic|KVM internal error' "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" || true
	rm -f "$TMP/probe.pid"
	grep -q 'Kernel panic' "$out" && ! grep -q 'KVM internal error' "$out"
}

# accel_opts: print the qemu accelerator options, one per line.
accel_opts() {
	local a=$ACCEL
	[[ $ARCH == amd64 ]] || a=tcg # no KVM for another architecture
	if [[ $a == auto ]]; then
		a=tcg
		kvm_works_here && a=kvm
	fi
	log "accelerator: $a"
	if [[ $a == kvm ]]; then
		printf '%s\n' -accel kvm -cpu host
	elif [[ $ARCH == arm64 ]]; then
		# pauth-impdef: QEMU's cheap pointer authentication, not
		# the architected QARMA cipher, which TCG computes slowly
		printf '%s\n' -M virt -accel tcg,thread=multi -cpu max,pauth-impdef=on
	else
		# No ERMS/FSRM: with them, the kernel's clear_page() and
		# memcpy() (and glibc's) use rep stosb/movsb, which TCG
		# runs a byte an iteration; without, 8 bytes at a time
		printf '%s\n' -accel tcg,thread=multi -cpu max,erms=off,fsrm=off
	fi
}

# numa_opts: print the qemu options for NUMA_NODES nodes, one per line.
numa_opts() {
	local total i size lo hi cpus
	total=$(mem_mib)
	((NUMA_NODES > 1)) || return 0
	for ((i = 0; i < NUMA_NODES; i++)); do
		size=$((total / NUMA_NODES))
		((i < NUMA_NODES - 1)) || size=$((total - size * (NUMA_NODES - 1)))
		lo=$((i * SMP / NUMA_NODES)) hi=$(((i + 1) * SMP / NUMA_NODES - 1))
		cpus=''
		((hi < lo)) || cpus=",cpus=$lo-$hi"
		printf '%s\n' -object "memory-backend-ram,id=mem$i,size=${size}M" \
			-numa "node,nodeid=$i,memdev=mem$i$cpus"
	done
}

# console LOG TIMES: copy the guest console to stdout and LOG, less CRs and
# the firmware's terminal escapes, and note in TIMES when the start and
# result markers went by, and the first kernel splat before the start
# ("splat-boot") and after it ("splat-suite").
console() {
	local line phase=boot seen=''
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		[[ $line != *$'\e'* ]] || line=${line//$'\e'@(c|\[*([0-9;?])[a-zA-Z])/}
		printf '%s\n' "$line"
		printf '%s\n' "$line" >&3
		case $line in
		*"$START"*) echo "start $EPOCHREALTIME" >&4; phase=suite seen='' ;;
		*"$RESULT:"*) echo "end $EPOCHREALTIME" >&4 ;;
		esac
		if [[ -z $seen && $line =~ $SPLAT_LINE ]]; then
			echo "splat-$phase $EPOCHREALTIME" >&4
			seen=1
		fi
	done 3>>"$1" 4>>"$2"
}

# boot N: run attempt N; sets LOGN, TIMESN, QEMU_STATUS and STOPPED.
boot() {
	local n=$1 pid
	LOGN=$TMP/console.$n TIMESN=$TMP/times.$n QEMU_STATUS=0
	echo "qemu $EPOCHREALTIME" >"$TIMESN"
	{ timeout --foreground -k 10 "$TIMEOUT" "$QEMU" \
		-nographic -no-reboot -nic none -pidfile "$TMP/qemu.pid" \
		-kernel "$KERNEL" -initrd "$TMP/initrd" \
		-append "console=$CONSOLE $CMDLINE${APPEND:+ $APPEND}" \
		-smp "$SMP" -m "$(mem_mib)M" "${QEMU_OPTS[@]}" </dev/null |
		console "$LOGN" "$TIMESN"; } &
	pid=$!
	watch_guest "$pid"
	wait "$pid" || QEMU_STATUS=$?
	rm -f "$TMP/qemu.pid"
	[[ -z $LOG ]] || cat "$LOGN" >>"$LOG"
}

# watch_guest PID: while PID (qemu and the console) runs, stop the guest
# SPLAT_GRACE s after the first splat of the suite if the suite has not
# ended by then, after a splat at boot if the suite has not started, and
# after the suite's result if the guest did not power off; and BOOT_TIMEOUT
# s after qemu started if the suite has not started (Debian's 6.1 has hung
# at boot under TCG, silent after "VFS: Disk quotas"; main() boots it once
# more). Sets STOPPED to
# why, or ''. SIGKILL 10 s after SIGTERM; timeout(1) bounds it all anyway.
watch_guest() {
	local pid=$1 stop_at=''
	STOPPED=''
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.5
		if [[ -z $STOPPED ]]; then
			stop_reason
			[[ -n $STOPPED ]] || continue
			stop_at=$SECONDS
			stop_qemu TERM
		elif ((SECONDS - stop_at >= 10)); then
			stop_qemu KILL
		fi
	done
}

stop_qemu() {
	[[ ! -s $TMP/qemu.pid ]] || kill -"$1" "$(<"$TMP/qemu.pid")" 2>/dev/null || true
}

# stop_reason: set STOPPED if the guest should be stopped now (see
# watch_guest); times in microseconds.
stop_reason() {
	local k t qemu='' start='' end='' boot_splat='' suite_splat=''
	local now=${EPOCHREALTIME//[.,]/} grace=$((SPLAT_GRACE * 1000000))
	while read -r k t; do
		t=${t//[.,]/}
		case $k in
		qemu) qemu=$t ;;
		start) start=$t ;;
		end) end=$t ;;
		splat-boot) boot_splat=$t ;;
		splat-suite) suite_splat=$t ;;
		esac
	done <"$TIMESN"
	if [[ -n $end ]]; then
		((now - end < grace)) ||
			STOPPED="the guest did not power off within $SPLAT_GRACE s of the suite's end"
	elif [[ -n $suite_splat ]]; then
		((now - suite_splat < grace)) ||
			STOPPED="the suite did not end within $SPLAT_GRACE s of the splat"
	elif [[ -z $start && -n $boot_splat ]]; then
		((now - boot_splat < grace)) ||
			STOPPED="kernel splat at boot, and no suite $SPLAT_GRACE s later"
	elif [[ -z $start && -n $qemu ]] && ((BOOT_TIMEOUT)); then
		((now - qemu < BOOT_TIMEOUT * 1000000)) ||
			STOPPED="no suite $BOOT_TIMEOUT s after qemu started (a hang at boot)"
	fi
}

timed_out() { ((QEMU_STATUS == 124 || QEMU_STATUS == 137)); }

# elapsed FROM [TO]: seconds between two marks of TIMESN (TO: now), or "-".
elapsed() {
	awk -v a="$1" -v b="${2-}" -v now="$EPOCHREALTIME" \
		'$1 == a {x = $2} $1 == b {y = $2}
		END {if (b == "") y = now; if (x != "" && y != "") printf "%.1f", y - x; else printf "-"}' "$TIMESN"
}

# splats: print the kernel splat lines after the start marker.
splats() {
	sed -n "/$START/,\$p" "$LOGN" | grep -aE "$SPLAT_LINE" || true
}

# show_splats LINES: print them on stderr, at most 20.
show_splats() {
	local n
	n=$(grep -c . <<<"$1")
	head -n 20 <<<"$1" >&2
	((n <= 20)) || log "... and $((n - 20)) more splat lines in the console"
}

# how_ended: why the guest ended without the suite's result.
how_ended() {
	if [[ -n $STOPPED ]]; then
		echo "stopped: $STOPPED"
	elif timed_out; then
		echo "timed out after $TIMEOUT s"
	else
		echo "died (qemu status $QEMU_STATUS)"
	fi
}

# verdict: print the exit status of the last attempt, explaining on stderr.
# A splat after the start marker fails the run whatever the suite did; one
# before it, at boot, is the kernel not booting (125): no test ran, and
# git bisect must skip such a commit, not call it bad.
verdict() {
	local rc found level
	found=$(splats)
	rc=$(grep -aoE "$RESULT: [0-9]+" "$LOGN" | tail -n1 | awk '{print $2}')
	level=$(grep -aoE "$RESULT: [0-9]+ console_loglevel=[0-9]+" "$LOGN" | tail -n1 | sed 's/.*=//')
	if [[ -n $found ]]; then
		if [[ -n $rc ]]; then
			log "KERNEL SPLAT during the suite (suite status $rc), failing:"
		else
			log "KERNEL SPLAT during the suite, then the guest $(how_ended), failing:"
		fi
		show_splats "$found"
		echo 1
		return
	fi
	if [[ -z $rc ]]; then
		if ! grep -aq "$START" "$LOGN"; then
			log "kernel did not boot to the suite: the guest $(how_ended)"
		else
			log "no result from the suite: the guest $(how_ended)"
		fi
		echo 125
		return
	fi
	if [[ -n $level ]] && ((level < SUITE_LOGLEVEL)); then
		log "the suite lowered the console log level to $level (set: $SUITE_LOGLEVEL): splats may be hidden, failing"
		echo 1
		return
	fi
	((rc < 128)) || rc=1
	echo "$rc"
}

main() {
	local status n
	parse_args "$@"
	mktempdir TMP
	arch_setup
	[[ $ACCEL != kvm || -w /dev/kvm ]] || die "--accel kvm: no usable /dev/kvm"
	[[ -r $KERNEL ]] || { log "cannot read kernel $KERNEL"; exit 125; }
	[[ -z $LOG ]] || : >"$LOG"
	trap 'exit 130' INT
	trap 'exit 143' TERM
	make_initramfs "$TMP/initrd"
	mapfile -t QEMU_OPTS < <(accel_opts; numa_opts)
	for n in 1 2; do
		boot "$n"
		if ((n == 1)) && ! grep -aq "$START" "$LOGN" && ! timed_out; then
			log "attempt 1: ended before the start marker after $(elapsed qemu) s ($(how_ended)), retrying"
			continue
		fi
		break
	done
	status=$(verdict)
	((n == 1)) || log "attempt 2: exit $status"
	log "boot $(elapsed qemu start) s, suite $(elapsed start end) s"
	exit "$status"
}

main "$@"
