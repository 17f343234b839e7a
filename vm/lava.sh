#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the suite under LAVA, as a KernelCI lab runs kselftests: lava-run
# (Debian's lava-dispatcher, no LAVA server) deploys a kernel and a busybox
# ramdisk holding a kselftest install to tmpfs, puts its test overlay into
# the ramdisk, boots them under qemu (TCG) and runs vm/lava/job.yaml's test
# definition: run_kselftest.sh -c uffd_collapse, each KTAP result a LAVA
# test case (vm/lava/run-suite.sh).
#
# lava-dispatcher runs in a Debian 12 chroot made once in the cache
# (debootstrap minbase + apt-get install --no-install-recommends
# lava-dispatcher qemu-system-x86), never on the host: it depends on
# systemd-sysv, libguestfs and more, and upgrades systemd/udev, which a
# test machine should not get from a test suite. The chroot stays as made:
# each run mounts it read-only in a private mount namespace, with tmpfs
# where LAVA writes.
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAVA_DIR=$REPO/vm/lava
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite
# Bump when the chroot's recipe changes: a new one is made.
ROOT=$CACHE/lava/bookworm-lava-1
PACKAGES=(lava-dispatcher qemu-system-x86)
KERNEL='' KSFT='' OUT='' NAME='' TIMEOUT=2700
DIE_STATUS=2

usage() {
	cat <<USAGE
Usage: $0 --kernel FILE --ksft DIR --out DIR [--name NAME] [--timeout S]
  --kernel FILE  x86_64 kernel image to boot (e.g. vm/fetch-kernels.sh's)
  --ksft DIR     a kselftest install holding the uffd_collapse collection
                 (tests/kselftest-tree.sh --install DIR builds one)
  --out DIR      where the job's files go (made; earlier ones replaced):
                   job.yaml device.yaml  the job and device lava-run ran
                   job.log     lava-run's log
                   ktap        the run's KTAP, as the log has it
                   results     LAVA's test cases: NAME RESULT
                   job         LAVA's own results; errors: its errors
  --name NAME    the job's name (default: the kernel's file name)
  --timeout S    bound on the whole job (default $TIMEOUT s)
The chroot with lava-dispatcher is made on the first run ($ROOT).
Exit: 0 the job completed (whatever the tests' results: read DIR/results);
1 it did not (no boot, a timeout, a LAVA error), or the kernel printed a
splat during the suite: the reason on stderr;
2 usage or set-up error. Needs root (debootstrap, chroot, mounts).
USAGE
}

parse_args() {
	while (($#)); do
		case $1 in
		-h | --help) usage; exit 0 ;;
		--kernel | --ksft | --out | --name | --timeout)
			(($# >= 2)) || bad_usage
			case $1 in
			--kernel) KERNEL=$2 ;;
			--ksft) KSFT=$2 ;;
			--out) OUT=$2 ;;
			--name) NAME=$2 ;;
			--timeout) TIMEOUT=$2 ;;
			esac
			shift 2 ;;
		*) bad_usage ;;
		esac
	done
	[[ -n $KERNEL && -n $KSFT && -n $OUT ]] || bad_usage
	[[ $TIMEOUT =~ ^[0-9]+$ ]] || bad_usage
	[[ -r $KERNEL ]] || die "cannot read kernel $KERNEL"
	[[ -x $KSFT/run_kselftest.sh && -d $KSFT/uffd_collapse ]] ||
		die "$KSFT is no kselftest install with uffd_collapse"
	NAME=${NAME:-$(basename "$KERNEL")}
}

bad_usage() { usage >&2; exit 2; }

# in_chroot DIR OUT LIMIT COMMAND...: COMMAND chrooted into DIR, bounded by
# LIMIT s, in a private mount namespace with /proc, /sys and /dev. With OUT
# (not ''): DIR read-only, OUT as /lava-work, tmpfs on /tmp, /run and
# LAVA's work directory. Every mount goes with the namespace.
in_chroot() {
	local r=$1 out=$2 limit=$3
	shift 3
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout -k 30 "$limit" unshare -m --propagation private bash -c '
		r=$1 out=$2; shift 2
		if [ -n "$out" ]; then
			mount --bind "$r" "$r" && mount -o remount,bind,ro "$r" &&
				mount -t tmpfs lava-tmp "$r/tmp" &&
				mount -t tmpfs lava-run "$r/run" &&
				mount -t tmpfs lava-var "$r/var/lib/lava/dispatcher" &&
				mount --bind "$out" "$r/lava-work" || exit 1
		fi
		mount --bind /proc "$r/proc" && mount --rbind /sys "$r/sys" &&
			mount --rbind /dev "$r/dev" || exit 1
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
			PYTHONDONTWRITEBYTECODE=1 "$@"' _ "$r" "$out" "$@"
}

# make_root DIR: debootstrap, lava-dispatcher and qemu into DIR, and the
# device-type templates of lava-server (apt-get download, extracted: the
# server itself is not installed). No service starts (policy-rc.d).
make_root() {
	local r=$1 mirror
	mirror=$(host_mirror)
	[[ -n $mirror ]] || { log "no Debian mirror in /etc/apt/sources.list*"; return 1; }
	debootstrap --variant=minbase bookworm "$r" "$mirror" >&2 || return 1
	rm -rf "$r/etc/apt" && cp -a /etc/apt "$r/etc/apt" && cat /etc/resolv.conf >"$r/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d" && chmod +x "$r/usr/sbin/policy-rc.d"
	in_chroot "$r" '' 1800 sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${PACKAGES[*]} &&
		cd /tmp && apt-get download -q lava-server && mkdir /tmp/server &&
		dpkg-deb -x lava-server_*.deb /tmp/server &&
		mkdir -p /usr/share/lava-server &&
		cp -a /tmp/server/usr/share/lava-server/device-types /usr/share/lava-server/ &&
		rm -rf /tmp/server lava-server_*.deb && apt-get clean" >&2 || return 1
	[[ -f $r/usr/share/lava-server/device-types/qemu.jinja2 ]] || return 1
	mkdir -p "$r/lava-work" "$r/var/lib/lava/dispatcher"
}

# ensure_root: the chroot, made once (under a lock, in a temp dir renamed
# when complete: a half-made one is never used).
ensure_root() {
	local part t0=$SECONDS
	[[ -x $ROOT/usr/bin/lava-run ]] && return 0
	ensure_pkgs debootstrap
	mkdir -p "$(dirname "$ROOT")"
	exec 8>>"$ROOT.lock"
	flock -w 1800 8 || die "another run holds $ROOT.lock for 30 min"
	if [[ ! -x $ROOT/usr/bin/lava-run ]]; then
		log "making the lava-dispatcher chroot $ROOT (once)"
		part=$(mktemp -d "$ROOT.XXXXXX")
		if ! make_root "$part"; then
			rm -rf --one-file-system "$part"
			die "cannot make the lava-dispatcher chroot (see above)"
		fi
		mv "$part" "$ROOT"
		log "chroot made in $((SECONDS - t0)) s"
	fi
	exec 8>&-
}

# write_ramdisk FILE: busybox, /init (guest_init_head, then a root shell on
# the console for LAVA, prompt "uffd-ramdisk# "), the kselftest install in
# /kselftest and the test step in /uffd-lava, as a gzipped newc cpio.
write_ramdisk() {
	local root=$TMP/root
	guest_root "$root" /bin/busybox
	{
		guest_init_head "$SUITE_LOGLEVEL"
		cat <<'INIT'
# busybox's timeout lacks the --foreground kselftest's runner passes
rm -f /usr/bin/timeout
export PS1='uffd-ramdisk# '
exec setsid cttyhack sh -i
INIT
	} >"$root/init"
	chmod +x "$root/init"
	cp -a "$KSFT" "$root/kselftest"
	mkdir "$root/uffd-lava"
	cp "$LAVA_DIR/run-suite.sh" "$LAVA_DIR/ktap-lava.awk" "$root/uffd-lava/"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$1"
}

# write_job: the job and device files lava-run reads, in OUT.
write_job() {
	cp "$KERNEL" "$OUT/vmlinuz"
	write_ramdisk "$OUT/ramdisk.cpio.gz"
	# LAVA knows the boot began by the "Linux version" line, a KERN_NOTICE
	# message that vm/run.sh's loglevel=5 hides
	sed -e "s|@NAME@|$NAME|" -e "s|@CMDLINE@|${CMDLINE/loglevel=5/loglevel=6}|" \
		-e "s|@KERNEL@|/lava-work/vmlinuz|" -e "s|@RAMDISK@|/lava-work/ramdisk.cpio.gz|" \
		"$LAVA_DIR/job.yaml" >"$OUT/job.yaml"
	cp "$LAVA_DIR/qemu-amd64.jinja2" "$LAVA_DIR/lava-files.py" "$OUT/"
	in_chroot "$ROOT" "$OUT" 300 python3 /lava-work/lava-files.py device /lava-work/qemu-amd64.jinja2 \
		/usr/share/lava-server/device-types >"$OUT/device.yaml" ||
		die "cannot render the device dictionary"
}

# run_job: lava-run, bounded; then its log read into OUT's files. Returns 1,
# saying why, if the job did not complete or the kernel printed a splat
# (SPLAT_LINE, vm/lib.sh) during the run, as vm/run.sh does.
run_job() {
	local t0=$SECONDS rc=0 last splat
	in_chroot "$ROOT" "$OUT" "$TIMEOUT" lava-run --job-id 1 \
		--output-dir /lava-work/lava-out --device /lava-work/device.yaml \
		/lava-work/job.yaml >"$OUT/job.log" 2>&1 || rc=$?
	in_chroot "$ROOT" "$OUT" 300 python3 /lava-work/lava-files.py read /lava-work/job.log /lava-work ||
		die "cannot read the job log $OUT/job.log"
	last=$(tail -n 1 "$OUT/job")
	log "lava-run exit $rc in $((SECONDS - t0)) s: $last; $(wc -l <"$OUT/results") test cases"
	((rc != 124 && rc != 137)) || { log "the job timed out after $TIMEOUT s"; return 1; }
	! grep -q '"Retrying: ' "$OUT/job.log" ||
		log "the boot was tried again (job.yaml's failure_retry): $(grep -m1 -o 'boot-image-retry failed: [^"]*' "$OUT/job.log")"
	if [[ $last != "job pass" ]]; then
		log "the job did not complete ($last):"
		sed 's/^/  /' "$OUT/errors" | tail -n 5 >&2
		return 1
	fi
	splat=$(grep -aE "$SPLAT_LINE" "$OUT/ktap" | head -n 5) || true
	[[ -z $splat ]] && return 0
	log "KERNEL SPLAT during the suite:"
	sed 's/^/  /' <<<"$splat" >&2
	return 1
}

main() {
	parse_args "$@"
	((EUID == 0)) || die "needs root (debootstrap, chroot, mounts)"
	ensure_pkgs cpio busybox-static
	mktempdir TMP
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	rm -rf "$OUT/lava-out" && rm -f "$OUT"/{job.yaml,device.yaml,job.log,ktap,results,job,errors}
	ensure_root
	write_job
	DIE_STATUS=1
	run_job
}

main "$@"
