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
ARGS=()
DIE_STATUS=128 # setup errors abort "git bisect run"
START=VMRUN-START RESULT=VMRUN-RESULT
SPLAT='Oops|BUG:|WARNING:|Kernel panic|possible circular locking|possible recursive locking|general protection fault|Call Trace:'
CMDLINE='console=ttyS0 panic=-1 loglevel=5 printk.time=1 rcupdate.rcu_cpu_stall_timeout=300 watchdog_thresh=60'

usage() {
	cat <<USAGE
Usage: ${0##*/} --kernel PATH [options] [-- ARGS for run_tests.sh]

  --kernel PATH       bzImage/vmlinuz to boot (required)
  --smp N             vCPUs (default $SMP)
  --mem SIZE          guest RAM, qemu -m syntax: 2048, 2048M, 2G (default $MEM)
  --numa-nodes N      split RAM and vCPUs evenly over N NUMA nodes (default $NUMA_NODES)
  --accel A           auto|kvm|tcg (default $ACCEL: kvm only if a probe guest runs)
  --timeout S         kill qemu after S seconds (default $TIMEOUT)
  --suite-dir DIR     copy DIR as is to /suite (must hold run_tests.sh);
                      default: make -C $REPO STATIC=1 OUTPUT=tmp,
                      plus run_tests.sh and settings
  --append STR        extra kernel command line
  --log FILE          also save the console of all attempts to FILE
  -h, --help          this help

The console goes to stdout. Exit status: the suite's (0 pass, 1 fail, 4 skip);
1 if a kernel splat (oops, BUG, WARNING, lockdep, GPF, Call Trace) shows after
the suite started; 125 if the kernel did not boot, died or timed out; 2 on a
bad option; 128 if the suite or the tools cannot be set up.
USAGE
}

parse_args() {
	while (($#)); do
		case $1 in
		--kernel | --smp | --mem | --numa-nodes | --accel | --timeout | --suite-dir | --append | --log)
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
	[[ $ACCEL =~ ^(auto|kvm|tcg)$ ]] || bad_usage
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
		mkdir -p "$TMP/build"
		make -C "$REPO" STATIC=1 OUTPUT="$TMP/build" >&2 || die "suite build failed"
		find "$TMP/build" -maxdepth 1 -type f -perm -u+x -exec cp -t "$1" {} +
		cp -a "$REPO/run_tests.sh" "$1"
		[[ ! -e $REPO/settings ]] || cp -a "$REPO/settings" "$1"
	fi
	[[ -x $1/run_tests.sh ]] || die "no executable run_tests.sh in the suite"
}

write_init() {
	cat >"$1" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
set --
while IFS= read -r a; do set -- "$@" "$a"; done </suite.args
cd /suite
printf '\n%s\n' VMRUN-START
/suite/run_tests.sh "$@"
printf '\n%s %s\n' VMRUN-RESULT: $?
poweroff -f
INIT
	chmod +x "$1"
}

# make_initramfs FILE: busybox, /init, /suite and /suite.args as a newc cpio.
make_initramfs() {
	local root=$TMP/root a
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,suite}
	cp /bin/busybox "$root/bin/busybox"
	mknod -m 600 "$root/dev/console" c 5 1
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

# guest_runs QEMU_OPTS...: the kernel boots until it panics for want of a root
# fs. Stops early on "KVM internal error", after which qemu would hang.
guest_runs() {
	local out=$TMP/probe.out pid i
	qemu-system-x86_64 "$@" -m 256 -nographic -no-reboot -nic none -kernel "$KERNEL" \
		-append 'console=ttyS0 loglevel=1 panic=-1' </dev/null >"$out" 2>&1 &
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
	if [[ $a == auto ]]; then
		a=tcg
		kvm_works && a=kvm
	fi
	log "accelerator: $a"
	if [[ $a == kvm ]]; then
		printf '%s\n' -accel kvm -cpu host
	else
		printf '%s\n' -accel tcg,thread=multi -cpu max
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
# result markers went by.
console() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		[[ $line != *$'\e'* ]] || line=${line//$'\e'@(c|\[*([0-9;?])[a-zA-Z])/}
		printf '%s\n' "$line"
		printf '%s\n' "$line" >&3
		case $line in
		*"$START"*) echo "start $EPOCHREALTIME" >&4 ;;
		*"$RESULT:"*) echo "end $EPOCHREALTIME" >&4 ;;
		esac
	done 3>>"$1" 4>>"$2"
}

# boot N: run attempt N; sets LOGN, TIMESN and QEMU_STATUS.
boot() {
	local n=$1
	LOGN=$TMP/console.$n TIMESN=$TMP/times.$n QEMU_STATUS=0
	echo "qemu $EPOCHREALTIME" >"$TIMESN"
	{ timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-nographic -no-reboot -nic none -pidfile "$TMP/qemu.pid" \
		-kernel "$KERNEL" -initrd "$TMP/initrd" \
		-append "$CMDLINE${APPEND:+ $APPEND}" \
		-smp "$SMP" -m "$(mem_mib)M" "${QEMU_OPTS[@]}" </dev/null |
		console "$LOGN" "$TIMESN"; } &
	wait $! || QEMU_STATUS=$?
	rm -f "$TMP/qemu.pid"
	[[ -z $LOG ]] || cat "$LOGN" >>"$LOG"
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
	sed -n "/$START/,\$p" "$LOGN" |
		grep -aE "\[ *[0-9]+\.[0-9]+\].*($SPLAT)" || true
}

# verdict: print the exit status of the last attempt, explaining on stderr.
verdict() {
	local rc found
	found=$(splats)
	rc=$(grep -aoE "$RESULT: [0-9]+" "$LOGN" | tail -n1 | awk '{print $2}')
	if [[ -z $rc ]]; then
		if timed_out; then
			log "timed out after $TIMEOUT s"
		elif ! grep -aq "$START" "$LOGN"; then
			log "kernel did not boot to the suite (qemu status $QEMU_STATUS)"
		else
			log "kernel died during the suite (qemu status $QEMU_STATUS)"
		fi
		[[ -z $found ]] || printf '%s\n' "vm: kernel splat:" "$found" >&2
		echo 125
		return
	fi
	((rc < 128)) || rc=1
	if [[ -n $found ]]; then
		log "KERNEL SPLAT during the suite (suite status $rc), failing:"
		printf '%s\n' "$found" >&2
		rc=1
	fi
	echo "$rc"
}

main() {
	local status n
	parse_args "$@"
	ensure_pkgs qemu-system-x86 busybox-static cpio
	[[ $ACCEL != kvm || -w /dev/kvm ]] || die "--accel kvm: no usable /dev/kvm"
	[[ -r $KERNEL ]] || { log "cannot read kernel $KERNEL"; exit 125; }
	[[ -z $LOG ]] || : >"$LOG"
	mktempdir TMP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	make_initramfs "$TMP/initrd"
	mapfile -t QEMU_OPTS < <(accel_opts; numa_opts)
	for n in 1 2; do
		boot "$n"
		if ((n == 1)) && ! grep -aq "$START" "$LOGN" && ! timed_out; then
			log "attempt 1: died before the start marker after $(elapsed qemu) s (qemu status $QEMU_STATUS), retrying"
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
