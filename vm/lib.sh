# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared helpers for the vm/ scripts. Source it; do not run it.

log() { printf 'vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit "${DIE_STATUS:-1}"; }

# ensure_pkgs PKG...: apt-get install the Debian packages that are missing.
ensure_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	((EUID == 0)) || die "missing packages (need root to install): ${missing[*]}"
	log "installing ${missing[*]}"
	apt_install "${missing[@]}" || { apt-get update -q >&2 && apt_install "${missing[@]}"; } ||
		die "cannot install ${missing[*]}"
}

# ensure_arch ARCH: dpkg and apt know the foreign architecture ARCH (for
# apt-get download of its kernels, and ARCH's -dev packages).
ensure_arch() {
	dpkg --print-architecture | grep -qx "$1" && return 0
	dpkg --print-foreign-architectures | grep -qx "$1" && return 0
	((EUID == 0)) || die "apt does not know $1 (as root: dpkg --add-architecture $1; apt-get update)"
	log "adding the $1 architecture to dpkg (dpkg --add-architecture $1; apt-get update)"
	dpkg --add-architecture "$1" && apt-get update -q >&2 || die "cannot add the $1 architecture"
}

# ensure_cross: the arm64 cross compiler and the arm64 libraries the suite
# links statically (Debian multiarch).
ensure_cross() {
	ensure_arch arm64
	ensure_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		liburing-dev:arm64 libnuma-dev:arm64
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

# host_mirror: the host's apt mirror for Debian's main archive (sources in
# either format), for debootstrap.
host_mirror() {
	{
		grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{ print $2 }'
		grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed 's/\[[^]]*\]//' | awk '{ print $2 }'
	} | grep -v -e security -e backports | head -n 1
}

# mktempdir VAR: create a temp dir under /tmp and store its path in VAR.
# When the script exits, the processes named by DIR/*.pid are killed and the
# dir is removed. One per script: each call replaces the EXIT trap.
mktempdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/uffd-vm.XXXXXX")
	printf -v "$1" '%s' "$d"
	# shellcheck disable=SC2064 # expand now: the path is fixed
	trap "cleanup_tempdir '$d'" EXIT
}

cleanup_tempdir() {
	local f
	for f in "$1"/*.pid; do
		[[ -s $f ]] && kill "$(<"$f")" 2>/dev/null
	done
	rm -rf -- "$1"
}

# --- busybox guests (vm/run.sh, vm/lava.sh) ---

# What the kernel prints when it went wrong (a line with a printk time stamp).
SPLATS=(
	'Oops' 'BUG:' 'kernel BUG at' 'WARNING:' 'Kernel panic' 'general protection fault'
	'UBSAN:' 'KASAN:' 'BUG: soft lockup' 'INFO: task .* blocked for more than' 'hung_task'
	'rcu_sched self-detected stall' 'rcu: INFO: rcu_.* detected stall'
	'possible circular locking' 'possible recursive locking' 'Call Trace:'
	# the suite's own, in the kernel's log: a call into the kernel that
	# never returned (lib/stuck.c)
	'uffd-collapse-suite: .* the kernel is stuck in it'
)
SPLAT=$(IFS='|'; echo "${SPLATS[*]}")
# shellcheck disable=SC2034 # for the scripts that source this
SPLAT_LINE="\[ *[0-9]+\.[0-9]+\].*($SPLAT)"
# The console log level: the console shows a message whose level is below
# it. loglevel=5 at boot shows warnings and worse: __warn() prints the
# "WARNING:" line at KERN_WARNING (4) and its registers and trace at
# KERN_DEFAULT, which is default_message_loglevel (4: /proc/sys/kernel/printk
# reads "7 4 1 7" in the suite on Debian's 6.1 and 6.12); oopses, BUG, soft
# lockups, hung tasks and RCU stalls print their first line at KERN_ERR or
# more urgent. guest_init_head raises it to SUITE_LOGLEVEL for the suite,
# since the stack of a hung or RCU-stalling task comes from
# sched_show_task() at KERN_INFO (6). Nothing in the suite writes a printk setting; vm/run.sh's
# /init reports the level after the suite, and a lower one fails the run.
# shellcheck disable=SC2034
SUITE_LOGLEVEL=7
# numa_balancing=disable: page migration makes an anonymous MADV_COLLAPSE
# fail with EINVAL (SCAN_PTE_NON_PRESENT) at random; guest_init_head also
# turns off proactive compaction.
# shellcheck disable=SC2034
CMDLINE='panic=-1 loglevel=5 printk.time=1 rcupdate.rcu_cpu_stall_timeout=300 watchdog_thresh=60 numa_balancing=disable'

# guest_root DIR BUSYBOX: DIR is the skeleton of a busybox initramfs: the
# directories /init needs, BUSYBOX as /bin/busybox, /dev/console.
guest_root() {
	mkdir -p "$1"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root}
	cp "$2" "$1/bin/busybox"
	mknod -m 600 "$1/dev/console" c 5 1
}

# guest_init_head LOGLEVEL: the start of a busybox guest's /init, for the
# suite: the applets, /proc /sys /dev /tmp /dev/shm, the /dev links udev
# makes (kselftest's runner appends to /dev/stdout), no NUMA balancing, no
# proactive compaction (page migration makes an anonymous MADV_COLLAPSE fail
# with EINVAL at random), the final clocksource, console log level LOGLEVEL.
guest_init_head() {
	cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm
ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
for f in /proc/sys/kernel/numa_balancing /proc/sys/vm/compaction_proactiveness; do
	[ ! -e $f ] || echo 0 >$f || echo "vm-init: cannot write 0 to $f"
done
# x86: the TSC replaces tsc-early as the clocksource about a second into the
# boot (tsc_refine_calibration_work()), a change made under stop_machine(),
# which needs every CPU: with a test already spinning in a kernel without
# preemption (a mutant's), both CPUs stalled for good. Wait for it, 10 s
# at most.
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
i=0
while [ -r $cs ] && [ "$(cat $cs)" = tsc-early ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
INIT
	echo "echo $1 >/proc/sys/kernel/printk"
}

# --- out-of-tree kernel builds (vm/mutants.sh; the same steps as bisect.sh) ---

# kbuild_not_applied BUILD FRAGMENT...: print each CONFIG_X=V line of the
# fragments that BUILD/.config lacks (merge_config.sh only warns when a
# dependency is missing). Prints nothing when every option took.
kbuild_not_applied() {
	local build=$1 f line
	shift
	for f; do
		while IFS= read -r line; do
			[[ $line == CONFIG_*=* ]] || continue
			grep -qxF -- "$line" "$build/.config" || printf '  %s: %s\n' "$f" "$line"
		done <"$f"
	done
}

# kbuild_config_key SRC FRAGMENT...: a hash of what the .config comes from:
# the contents of SRC's Kconfig files and base configs, and the fragments.
kbuild_config_key() {
	local src=$1
	shift
	{
		(cd "$src" && find . -name 'Kconfig*' -type f -print0 | sort -z |
			xargs -0 sha1sum && find arch/x86/configs kernel/configs scripts/kconfig \
			-type f -print0 | sort -z | xargs -0 sha1sum)
		cat "$@"
	} | sha1sum
}

# kbuild_configure SRC BUILD LOG FRAGMENT...: BUILD/.config is tinyconfig
# merged with the fragments (merge_config.sh), and every CONFIG_X=V line of
# them took. Reconfigures only when SRC's Kconfig files or the fragments
# changed since the last call for BUILD. Returns 1 if configuring failed, 2
# if options did not take (listed on stderr); LOG keeps the tools' output.
kbuild_configure() {
	local src=$1 build=$2 log=$3 stamp=$2/.kbuild-config-key key missing
	shift 3
	key=$(kbuild_config_key "$src" "$@")
	if [[ ! -s $build/.config || $key != "$(cat "$stamp" 2>/dev/null)" ]]; then
		rm -f "$stamp"
		{ make -C "$src" -s O="$build" tinyconfig &&
			(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$build" \
				"$build/.config" "$@") &&
			make -C "$src" -s O="$build" olddefconfig; } >"$log" 2>&1 || return 1
		echo "$key" >"$stamp"
	fi
	missing=$(kbuild_not_applied "$build" "$@")
	[[ -z $missing ]] || { printf '%s\n' "$missing" >&2; return 2; }
}

# kbuild_bzimage SRC BUILD LOG [JOBS]: make bzImage out of tree in BUILD (an
# incremental build when BUILD was used before); the output goes to LOG.
kbuild_bzimage() {
	make -C "$1" -s O="$2" -j"${4:-$(nproc)}" bzImage >"$3" 2>&1
}
