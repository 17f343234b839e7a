#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# One QEMU postcopy live migration between two local qemu-system-x86_64
# processes (TCG) whose guest RAM is a memfd, with collapse_helper looping
# MADV_COLLAPSE over the destination's memfd while postcopy lasts.
# POSIX sh: it runs on the host and in a busybox guest (vm/postcopy.sh).
#
# Prints "# " diagnostics with the figures and, last, one line
#   postcopy-result: PASS|FAIL|ERROR: reason
# and exits 0 (PASS), 1 (FAIL: the kernel broke the migration or the guest's
# memory) or 3 (ERROR: the scenario did not run as it must, no verdict).
# Every wait is bounded; both qemu processes and the helper are killed and
# the work directory (sockets included) removed on every exit path.
# shellcheck disable=SC3043 # local: dash and busybox ash have it

usage() {
	cat <<USAGE
Usage: ${0##*/} --qemu BIN --kernel FILE --initrd FILE --bin DIR [options]

  --qemu BIN        qemu-system-x86_64
  --kernel FILE     the guest's kernel
  --initrd FILE     the guest's initramfs (/init: guest_init)
  --bin DIR         directory holding collapse_helper and qmp
  --mem MIB         guest RAM (default $MEM)
  --fill MIB        memory the guest fills and verifies (default $FILL)
  --bw MIB          max-bandwidth and max-postcopy-bandwidth, MiB/s (default $BW)
  --boot-timeout S  for the source guest's first verification pass (default $BOOT_TIMEOUT)
  --timeout S       for the migration (default $TIMEOUT)
  --verify-timeout S  for a full pass on the destination (default $VERIFY_TIMEOUT)
  --workdir DIR     where sockets and logs go (default: mktemp -d)
  --keep-logs DIR   copy the logs to DIR at exit
USAGE
}

MEM=160 FILL=64 BW=8 BOOT_TIMEOUT=300 TIMEOUT=300 VERIFY_TIMEOUT=120
QEMU='' KERNEL='' INITRD='' BIN='' WORK='' KEEP=''
SRC_PID='' DST_PID='' HELPER_PID='' RESULT_DONE=''

parse_args() {
	while [ $# -gt 0 ]; do
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		case $1 in
		--qemu) QEMU=$2 ;;
		--kernel) KERNEL=$2 ;;
		--initrd) INITRD=$2 ;;
		--bin) BIN=$2 ;;
		--mem) MEM=$2 ;;
		--fill) FILL=$2 ;;
		--bw) BW=$2 ;;
		--boot-timeout) BOOT_TIMEOUT=$2 ;;
		--timeout) TIMEOUT=$2 ;;
		--verify-timeout) VERIFY_TIMEOUT=$2 ;;
		--workdir) WORK=$2 ;;
		--keep-logs) KEEP=$2 ;;
		*) usage >&2; exit 2 ;;
		esac
		shift 2
	done
	[ -n "$QEMU" ] && [ -n "$KERNEL" ] && [ -n "$INITRD" ] && [ -n "$BIN" ] ||
		{ usage >&2; exit 2; }
}

say() { printf '# %s\n' "$*"; }

# dump_logs: the end of each guest console and qemu log, as diagnostics.
dump_logs() {
	local f
	for f in src.console src.qemu dst.console dst.qemu; do
		[ -s "$WORK/$f.log" ] || continue
		tail -n 30 "$WORK/$f.log" | tr -d '\r' | sed "s/^/# $f: /"
	done
}

# result KIND REASON: print the result line once and exit with its status
# (with the logs' ends unless PASS).
result() {
	[ -z "$RESULT_DONE" ] || return 0
	RESULT_DONE=1
	[ "$1" = PASS ] || [ -z "$WORK" ] || dump_logs
	printf 'postcopy-result: %s: %s\n' "$1" "$2"
	case $1 in PASS) exit 0 ;; FAIL) exit 1 ;; *) exit 3 ;; esac
}

# uptime_cs: seconds since boot, in hundredths (monotonic, no date(1) needed).
uptime_cs() {
	local u
	read -r u _ </proc/uptime
	echo "${u%.*}${u#*.}" | sed 's/^0*//; s/^$/0/'
}

secs() { awk -v c="$1" 'BEGIN { printf "%.1f", c / 100 }'; }

# kill_wait PID: SIGTERM, then SIGKILL after 3 s; a postcopy-paused
# destination ignores SIGTERM, so the KILL is needed. Bounded.
kill_wait() {
	local i=0
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	kill_wait "$HELPER_PID"
	kill_wait "$DST_PID"
	kill_wait "$SRC_PID"
	HELPER_PID='' DST_PID='' SRC_PID=''
	if [ -n "$KEEP" ] && [ -d "$WORK" ]; then
		mkdir -p "$KEEP" && cp "$WORK"/*.log "$KEEP"/ 2>/dev/null
	fi
	[ -z "$WORK" ] || rm -rf "$WORK"
}

on_signal() {
	trap - INT TERM HUP
	cleanup
	RESULT_DONE=''
	result ERROR "interrupted by SIG$1"
}

# qemu_start NAME EXTRA...: start a guest with QMP on WORK/NAME.qmp and the
# serial console in WORK/NAME.console.log; prints nothing, sets NAME's pid.
qemu_start() {
	local name=$1
	shift
	"$QEMU" -accel tcg -cpu qemu64,-cx16 -smp 1 -m "${MEM}M" \
		-object "memory-backend-memfd,id=ram0,size=${MEM}M,share=on" \
		-machine pc,memory-backend=ram0 \
		-display none -vga none -nic none -no-reboot -monitor none \
		-serial "file:$WORK/$name.console.log" \
		-qmp "unix:$WORK/$name.qmp,server=on,wait=off" \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 loglevel=3 panic=-1 no_timer_check PC_MIB=$FILL" \
		"$@" </dev/null >"$WORK/$name.qemu.log" 2>&1 &
}

qmp() { "$BIN/qmp" "$WORK/$1.qmp" "$2"; }

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds or the
# time is up (status 1).
wait_until() {
	local end=$(($(uptime_cs) + $1 * 100))
	shift
	while ! "$@"; do
		[ "$(uptime_cs)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

alive() { kill -0 "$1" 2>/dev/null; }

src_verified() {
	alive "$SRC_PID" || return 0
	grep -q '^PCG pass 1 ok=' "$WORK/src.console.log" 2>/dev/null
}

dst_status() {
	qmp dst '{"execute": "query-migrate"}' 2>/dev/null |
		sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p'
}

qemu_failed() {
	grep -qE 'postcopy_place_page(_zero)?: File exists|Detected IO failure for postcopy' \
		"$WORK/dst.qemu.log" 2>/dev/null
}

# dst_state_is STATES: the destination's migration status is one of STATES
# (a | separated list); sets STATUS.
dst_state_is() {
	STATUS=$(dst_status)
	alive "$DST_PID" || { STATUS=dead; return 0; }
	qemu_failed && { STATUS=qemu-failure; return 0; }
	case "|$1|" in *"|$STATUS|"*) return 0 ;; esac
	return 1
}

# dst_pass: a verification pass ran wholly on the destination (its start and
# its result are on the destination's console), or a pass saw a bad page.
dst_pass() {
	local f=$WORK/dst.console.log k
	alive "$DST_PID" || return 0
	grep -q '^PCG pass [0-9]* ok=[0-9]* bad=[1-9]' "$f" && return 0
	for k in $(sed -n 's/^PCG pass \([0-9]*\) start.*/\1/p' "$f"); do
		grep -q "^PCG pass $k ok=" "$f" && return 0
	done
	return 1
}

# boot: both qemu processes up, the source guest's memory filled and
# verified once. A source kernel that dies before that (TCG guests oops now
# and then while booting) gets one more boot; its end is printed.
boot() {
	local t0 attempt
	for attempt in 1 2; do
		qemu_start dst -incoming defer
		DST_PID=$!
		qemu_start src
		SRC_PID=$!
		t0=$(uptime_cs)
		wait_until "$BOOT_TIMEOUT" src_verified ||
			result ERROR "source guest did not verify its memory within $BOOT_TIMEOUT s"
		alive "$SRC_PID" && break
		say "boot $attempt: the source guest died after $(secs $(($(uptime_cs) - t0))) s:"
		grep -aE -A 12 'Kernel panic|Oops|BUG:|general protection' "$WORK/src.console.log" |
			head -n 20 | tr -d '\r' | sed 's/^/# src.console: /'
		[ "$attempt" = 1 ] || result ERROR "source guest died twice during boot"
		kill_wait "$DST_PID"
		kill_wait "$SRC_PID"
		rm -f "$WORK"/*.log "$WORK"/*.qmp
	done
	alive "$DST_PID" || result ERROR "destination qemu died: $(tail -n 3 "$WORK/dst.qemu.log" | tr '\n' ' ')"
	say "source guest booted and verified $FILL MiB in $(secs $(($(uptime_cs) - t0))) s: $(grep -m1 '^PCG fill' "$WORK/src.console.log")"
}

# start_migration: postcopy-ram on both sides, destination listening on an
# ephemeral 127.0.0.1 port, bandwidth limited, postcopy started 0.5 s in.
start_migration() {
	local caps='{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "postcopy-ram", "state": true}]}}'
	local bw=$((BW * 1048576)) port
	qmp dst "$caps" >/dev/null || result ERROR "destination refused postcopy-ram"
	qmp dst '{"execute": "migrate-incoming", "arguments": {"uri": "tcp:127.0.0.1:0"}}' >/dev/null ||
		result ERROR "destination: migrate-incoming failed"
	port=$(qmp dst '{"execute": "query-migrate"}' | sed -n 's/.*"port": "\([0-9]*\)".*/\1/p')
	[ -n "$port" ] || result ERROR "destination reported no listening port"
	qmp src "$caps" >/dev/null || result ERROR "source refused postcopy-ram"
	qmp src "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"max-bandwidth\": $bw, \"max-postcopy-bandwidth\": $bw}}" >/dev/null ||
		result ERROR "source refused the bandwidth limits"
	qmp src "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$port\"}}" >/dev/null ||
		result ERROR "source: migrate failed"
	sleep 0.5
	qmp src '{"execute": "migrate-start-postcopy"}' >/dev/null ||
		result ERROR "source: migrate-start-postcopy failed"
	say "migrating to 127.0.0.1:$port at $BW MiB/s, postcopy requested after 0.5 s"
}

# helper_figures: the helper's counters as "# " lines; sets EBUSY_PC,
# CALLS_PC, FILLED_PC, MINFLT, MAJFLT.
helper_figures() {
	local f=$WORK/helper.log
	sed 's/^HELPER /helper: /; s/^/# /' "$f"
	EBUSY_PC=$(awk '/^HELPER calls phase=postcopy/ { split($6, a, "="); n += a[2] } END { print n + 0 }' "$f")
	CALLS_PC=$(awk '/^HELPER calls phase=postcopy/ { for (i = 5; i <= 10; i++) { split($i, a, "="); n += a[2] } } END { print n + 0 }' "$f")
	FILLED_PC=$(sed -n 's/^HELPER filled phase=postcopy \([0-9]*\).*/\1/p' "$f")
	MINFLT=$(sed -n 's/^HELPER faults minflt=\([0-9]*\) .*/\1/p' "$f")
	MAJFLT=$(sed -n 's/^HELPER faults .*majflt=\([0-9]*\).*/\1/p' "$f")
}

main() {
	local t_pc t_end pages verified bad crash
	parse_args "$@"
	for f in "$QEMU" "$BIN/collapse_helper" "$BIN/qmp"; do
		[ -x "$f" ] || result ERROR "not executable: $f"
	done
	[ -r "$KERNEL" ] && [ -r "$INITRD" ] || result ERROR "cannot read $KERNEL or $INITRD"
	if [ -z "$WORK" ]; then
		WORK=$(mktemp -d "${TMPDIR:-/tmp}/postcopy.XXXXXX") || result ERROR "mktemp failed"
	else
		mkdir -p "$WORK" || result ERROR "cannot create $WORK"
	fi
	trap cleanup EXIT
	trap 'on_signal INT' INT
	trap 'on_signal TERM' TERM
	trap 'on_signal HUP' HUP

	boot
	start_migration
	wait_until 30 dst_state_is 'postcopy-active|completed|failed|postcopy-paused|dead|qemu-failure'
	[ "$STATUS" = postcopy-active ] ||
		result ERROR "destination never reached postcopy-active (status: ${STATUS:-none})"
	t_pc=$(uptime_cs)
	"$BIN/collapse_helper" --pid "$DST_PID" --seconds $((TIMEOUT + VERIFY_TIMEOUT)) >"$WORK/helper.log" 2>&1 &
	HELPER_PID=$!
	say "postcopy-active: collapse_helper started on destination pid $DST_PID"

	wait_until "$TIMEOUT" dst_state_is 'completed|failed|postcopy-paused|dead|qemu-failure' ||
		STATUS="timeout ($STATUS)"
	t_end=$(uptime_cs)
	kill -USR1 "$HELPER_PID" 2>/dev/null
	say "postcopy lasted $(secs $((t_end - t_pc))) s, destination status: $STATUS"
	sed 's/^/# dst qemu: /' "$WORK/dst.qemu.log"
	sed 's/^/# src qemu: /' "$WORK/src.qemu.log"

	[ "$STATUS" = completed ] && wait_until "$VERIFY_TIMEOUT" dst_pass
	# let the helper collapse the finished memory for a second: a positive control
	sleep 1
	kill -TERM "$HELPER_PID" 2>/dev/null
	wait_until 10 eval '! alive "$HELPER_PID"'
	kill_wait "$HELPER_PID"
	HELPER_PID=''
	helper_figures
	grep '^PCG' "$WORK/dst.console.log" | tail -n 4 | sed 's/^/# dst guest: /'

	pages=$((FILL * 256))
	bad=$(grep -c '^PCG pass [0-9]* ok=[0-9]* bad=[1-9]' "$WORK/dst.console.log")
	verified=$(awk -v p="$pages" '/^PCG pass [0-9]+ start/ { s[$3] = 1 }
		/^PCG pass [0-9]+ ok=/ && s[$3] { split($4, a, "="); if (a[2] == p && $5 == "bad=0") n++ }
		END { print n + 0 }' "$WORK/dst.console.log")
	say "figures: postcopy_s=$(secs $((t_end - t_pc))) helper_calls_during_postcopy=$CALLS_PC helper_ebusy_during_postcopy=$EBUSY_PC helper_filled_during_postcopy=$FILLED_PC helper_minflt=$MINFLT helper_majflt=$MAJFLT dst_full_passes=$verified pages_per_pass=$pages"

	case $STATUS in
	qemu-failure | postcopy-paused)
		result FAIL "destination qemu: $(grep -m1 -oE 'postcopy_place_page(_zero)?: File exists|Detected IO failure for postcopy[^"]*' "$WORK/dst.qemu.log" || echo "migration status $STATUS")" ;;
	esac
	[ "$bad" -eq 0 ] || result FAIL "the destination guest saw wrong pages: $(grep -m1 '^PCG pass [0-9]* ok=[0-9]* bad=[1-9]' "$WORK/dst.console.log")"
	crash=$(grep -aE -m1 'Kernel panic|Oops|BUG:|general protection' "$WORK/dst.console.log")
	[ -z "$crash" ] || result ERROR "the destination guest's kernel crashed without a QEMU postcopy error (status $STATUS): $crash"
	[ "$STATUS" = completed ] || result ERROR "migration did not complete: $STATUS"
	[ "$MINFLT" = 0 ] && [ "$MAJFLT" = 0 ] ||
		result ERROR "the helper faulted (minflt=$MINFLT majflt=$MAJFLT): it may have touched guest pages"
	[ "$CALLS_PC" -gt 0 ] || result ERROR "the helper made no call while postcopy lasted"
	[ "$verified" -gt 0 ] || result ERROR "no full verification pass on the destination within $VERIFY_TIMEOUT s"
	[ "$EBUSY_PC" -gt 0 ] || result ERROR "no collapse was refused (EBUSY) while postcopy lasted"
	result PASS "migrated, $verified full pass(es) of $pages pages on the destination, $EBUSY_PC collapses refused during postcopy"
}

main "$@"
