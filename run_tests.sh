#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the userfaultfd x THP collapse suite with KTAP output.
# Saves every THP/khugepaged knob, sets what the suite needs, runs the test
# binaries and restores the knobs on every exit path (EXIT, INT, TERM, HUP,
# QUIT, PIPE): a signal is passed on to the running binary, which restores
# its own, and waited for before ours are put back. Temporary files live in
# one mktemp -d directory, removed at exit.
# Exit: 0 all passed, 1 a failure, 4 everything skipped, 2 usage error.
# POSIX sh: it also runs under busybox in the vm/ runner's initramfs.

set -f	# no pathname expansion anywhere: test names are never globs

THP=/sys/kernel/mm/transparent_hugepage
KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

here=$(cd "$(dirname "$0")" && pwd)
bindir=${OUTPUT:-$here}
[ -x "$bindir/uffd_collapse_test" ] || bindir=$here/build
BINARIES="uffd_collapse_test madv_collapse_race"
# The races' seed and budget (madv_collapse_race -h) reach the binary.
export UFFD_RACE_SEED UFFD_RACE_STRESS UFFD_RACE_BUDGET_MS
timeout_s=$(sed -n 's/^timeout=//p' "$here/settings" 2>/dev/null)
timeout_s=${timeout_s:-300}
DEFAULT_BUDGET_MS=400	# madv_collapse_race's, per race
LOCK_WAIT_S=600		# as lib/thp.c's
# The lock, as lib/thp.c's: only in a directory that root owns and no one
# else may write to, so no one else can have put a symlink there (/run/lock
# is world-writable on Debian).
LOCK_DIR=/run
LOCK_FILE=$LOCK_DIR/uffd-collapse-suite.lock
STOP_WAIT_S=10		# for a signalled binary to put its knobs back
tmp="" child="" reader="" dogs=""

usage()
{
	cat <<EOF
Usage: $0 [-h] [-l] [-v] [-b BINARY] [-t TEST]
  -h         this help
  -l         list every test as BINARY FIXTURE.VARIANT.TEST
  -b BINARY  run only BINARY (one of: $BINARIES)
  -t TEST    run only TEST: FIXTURE.VARIANT.TEST (as -l prints) or a test
             name (all its variants), matched literally; may be given more
             than once
  -v         verbose: show the knobs set and restored
Environment: OUTPUT=<dir> where the binaries are (default: beside this
script, else ./build). UFFD_RACE_SEED, UFFD_RACE_STRESS, UFFD_RACE_BUDGET_MS
reach madv_collapse_race (see its -h); its timeout ($timeout_s s, from
settings) grows with the last two.
EOF
}

log()
{
	[ -n "$verbose" ] && echo "# $*"
	return 0
}

# Print "FIXTURE.VARIANT.TEST" for every test of binary $1 (from its -l
# table). The harness prints each row as "%-20s %-25s %s": a name starts
# at column 1 (fixture), 22 (variant) or anywhere else (test: a variant
# name longer than 25 pushes it right). Fixture names fit in 20.
list_binary()
{
	"$bindir/$1" -l 2>&1 | awk '
		/^-+$/ { flush(); next }
		/^#|^global/ { next }
		{
			rest = $0; col = 1
			while (match(rest, /[^ ]+/)) {
				col += RSTART - 1
				name = substr(rest, RSTART, RLENGTH)
				if (col == 1)
					fixture = name
				else if (col == 22)
					vars[nv++] = name
				else
					tests[nt++] = name
				col += RLENGTH
				rest = substr(rest, RSTART + RLENGTH)
			}
		}
		function flush(  i, j) {
			for (i = 0; i < nt; i++)
				for (j = 0; j < (nv ? nv : 1); j++)
					print fixture "." (nv ? vars[j] "." : "") tests[i]
			nv = nt = 0
		}
		END { flush() }'
}

# The knobs: every writable file under $THP, saved as "path value" lines.
save_knobs()
{
	find "$THP" -type f -perm -u+w 2>/dev/null | sort | while read -r f; do
		v=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$f" 2>/dev/null)
		[ -n "$v" ] || v=$(cat "$f" 2>/dev/null)
		[ -n "$v" ] && printf '%s %s\n' "$f" "$v"
	done > "$saved"
}

restore_knobs()
{
	[ -s "$saved" ] || return 0
	while read -r f v; do
		echo "$v" > "$f" 2>/dev/null || echo "# could not restore $f to $v"
	done < "$saved"
	log "restored $(wc -l < "$saved") THP/khugepaged knobs"
}

# At exit: our knobs back (no binary runs by then), the temp dir gone. A
# closed stdout must not stop it half-way.
cleanup()
{
	trap '' PIPE
	[ -z "$tmp" ] || restore_knobs
	[ -z "$tmp" ] || rm -rf -- "$tmp"
	# Disarmed now, so ended rather than waited for (up to a second):
	# each is our child, not yet reaped, so its pid is still its own.
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$dogs" ] || { kill $dogs 2>/dev/null; wait $dogs 2>/dev/null; }
}

# on_signal STATUS: the binary running (if any) gets SIGTERM with its
# process group, and at most STOP_WAIT_S s to restore its knobs (then
# SIGKILL); then exit STATUS, and cleanup() restores ours. Ctrl-C reaches
# us only: the binary runs in its own session.
on_signal()
{
	if [ -n "$child" ]; then
		kill -TERM "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null
		reap "$child" "$STOP_WAIT_S"
		child=
	fi
	[ -z "$reader" ] || reap "$reader" "$STOP_WAIT_S"
	exit "$1"
}

# reap PID SECONDS: wait for our child PID (its status in $?); if it is
# still there after SECONDS, SIGKILL it and the binary's process group
# ($group, if any): while a process of that group lives, no other process
# can have been given its id. The watchdog is armed by a file, not told by
# a signal (one that came before it set a trap would be lost): it looks
# once a second, so it outlives reap by at most that, and a disarmed or
# removed file means it never kills.
reap()
{
	: > "$tmp/armed.$1" || { wait "$1"; return; }
	(
		n=$2
		while [ "$n" -gt 0 ] && [ -e "$tmp/armed.$1" ]; do
			sleep 1
			n=$((n - 1))
		done
		[ ! -e "$tmp/armed.$1" ] || kill -KILL ${group:+"-$group"} "$1"
	) > /dev/null 2>&1 &
	dogs="$dogs $!"
	wait "$1"
	set -- "$?" "$1"
	rm -f "$tmp/armed.$2"
	return "$1"
}

set_knob()
{
	echo "$2" > "$THP/$1" 2>/dev/null && log "set $1=$2"
}

# Why the suite cannot run here, or nothing.
why_skip()
{
	[ "$(id -u)" -eq 0 ] || { echo "must run as root (THP knobs, userfaultfd)"; return; }
	[ -d "$THP" ] || { echo "kernel without transparent huge pages"; return; }
	[ -e /proc/sys/vm/unprivileged_userfaultfd ] || [ -e /dev/userfaultfd ] ||
		echo "kernel without userfaultfd"
}

# match BINARY TEST: how binary $1 knows test $2, compared as strings: "-r"
# for a full FIXTURE.VARIANT.TEST, "-t" for a test name (no dot), else
# nothing.
match()
{
	list_binary "$1" | T=$2 awk '
		BEGIN { t = ENVIRON["T"]; n = length(t); name = index(t, ".") == 0 }
		$0 == t { how = "-r"; exit }
		name && substr($0, length($0) - n) == "." t { how = "-t" }
		END { if (how != "") print how }'
}

# Harness arguments selecting the tests of binary $1 named in $tests, one
# per line (the names are [A-Za-z0-9_.-]: see the option parsing).
select_args()
{
	for t in $tests; do
		how=$(match "$1" "$t")
		[ -z "$how" ] || printf '%s\n%s\n' "$how" "$t"
	done
}

# lock_dir_safe: LOCK_DIR is a directory (not a symlink) owned by root and
# writable by its owner only.
lock_dir_safe()
{
	# shellcheck disable=SC2012,SC2046 # ls -n: the owner's number, portably
	set -- $(ls -ldn "$LOCK_DIR" 2>/dev/null)
	case $1 in d????-??-*) [ "$3" = 0 ] ;; *) false ;; esac
}

# One run of the suite at a time (lib/thp.c says why), where flock(1) is
# (busybox has none; a VM runs one suite anyway) and a safe LOCK_DIR is.
# The lock's descriptor goes down to the binaries: their flock() on the
# same open file succeeds.
lock_suite()
{
	command -v flock >/dev/null 2>&1 || return 0
	lock_dir_safe || {
		echo "# no lock: $LOCK_DIR is not a directory only root may write to"
		return 0
	}
	if [ -L "$LOCK_FILE" ] || ! { exec 9>>"$LOCK_FILE"; } 2>/dev/null; then
		echo "Bail out! cannot open the lock $LOCK_FILE (a symlink or not a file)"
		exit $KSFT_FAIL
	fi
	if ! flock -n 9; then
		echo "waiting for another run of the suite to put the THP knobs back" >&2
		# In the background, so that a signal ends the wait (the lock
		# belongs to the open file, which stays ours).
		flock -w "$LOCK_WAIT_S" 9 &
		child=$! group=
		wait "$child"
		set -- $?
		child=
		if [ "$1" -ne 0 ]; then
			echo "Bail out! another run of the suite held the THP knobs for $LOCK_WAIT_S s"
			exit $KSFT_FAIL
		fi
	fi
	export UFFD_SUITE_LOCK_FD=9
}

# $1 if it is a decimal number, else $2.
number_or()
{
	case $1 in
	'' | *[!0-9]*) echo "$2" ;;
	*) echo "$1" ;;
	esac
}

# The timeout of binary $1: settings' one, times the races' budget factor
# (a bad value is the binary's to report).
binary_timeout()
{
	factor=1
	if [ "$1" = madv_collapse_race ]; then
		factor=$(( $(number_or "$UFFD_RACE_STRESS" 1) *
			   $(number_or "$UFFD_RACE_BUDGET_MS" $DEFAULT_BUDGET_MS) ))
		factor=$(( (factor + DEFAULT_BUDGET_MS - 1) / DEFAULT_BUDGET_MS ))
		[ "$factor" -ge 1 ] || factor=1
	fi
	echo $(( timeout_s * factor ))
}

# Run binary $1 (its selected tests) with its output as KTAP diagnostics;
# sets rc to its exit status (255: no test of it selected). The binary runs
# in its own session (so timeout(1) and a signal reach all its processes,
# and only through on_signal()), its output through a FIFO to a reader, so
# that this shell waits in "wait", where a trapped signal interrupts it.
run_binary()
{
	b=$1
	set --
	if [ -n "$tests" ]; then
		for a in $(select_args "$b"); do
			set -- "$@" "$a"
		done
		[ $# -gt 0 ] || { rc=255; return; }
	fi
	tmo=
	command -v timeout >/dev/null &&
		tmo="timeout -k $STOP_WAIT_S $(binary_timeout "$b")"
	sid=
	command -v setsid >/dev/null && sid=setsid
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo" || { echo "# cannot make a FIFO in $tmp"; rc=1; return; }
	tee "$tmp/out" < "$tmp/fifo" | sed 's/^/# /' &
	reader=$!
	# shellcheck disable=SC2086 # $sid and $tmo: words or nothing
	$sid $tmo "$bindir/$b" "$@" > "$tmp/fifo" 2>&1 &
	child=$! group=
	[ -z "$sid" ] || group=$child
	wait "$child"
	rc=$?
	child=
	reap "$reader" "$STOP_WAIT_S"
	reader=
	# The harness exits 0 when every test skipped: that is a skip.
	if [ "$rc" = 0 ] &&
	   grep -q '^# Totals: pass:0 fail:0 .*skip:[1-9]' "$tmp/out"; then
		rc=4
	fi
}

verbose= only= tests= list=
while getopts "hlvb:t:" opt; do
	case $opt in
	h) usage; exit 0 ;;
	l) list=1 ;;
	v) verbose=1 ;;
	b) only=$OPTARG ;;
	t)
		# Test names are identifiers and dots: anything else names no
		# test, and the list splits safely on blanks.
		case $OPTARG in
		'' | *[!A-Za-z0-9_.-]*)
			echo "unknown test: $OPTARG (see -l)" >&2; exit 2 ;;
		esac
		tests="$tests $OPTARG" ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "unexpected argument: $1" >&2; usage >&2; exit 2; }
if [ -n "$only" ]; then
	case " $BINARIES " in
	*" $only "*) BINARIES=$only ;;
	*) echo "unknown binary: $only" >&2; usage >&2; exit 2 ;;
	esac
fi
for b in $BINARIES; do
	[ -x "$bindir/$b" ] || { echo "$bindir/$b not built: run make" >&2; exit 2; }
done

# A test name no binary has is a usage error, not a run that skips it all.
for t in $tests; do
	found=
	for b in $BINARIES; do
		[ -z "$(match "$b" "$t")" ] || found=1
	done
	[ -n "$found" ] || { echo "unknown test: $t (see -l)" >&2; exit 2; }
done

if [ -n "$list" ]; then
	for b in $BINARIES; do
		list_binary "$b" | sed "s/^/$b /"
	done
	exit 0
fi

echo "TAP version 13"
why=$(why_skip)
if [ -n "$why" ]; then
	echo "1..0 # SKIP $why"
	exit $KSFT_SKIP
fi

trap cleanup EXIT
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 131' QUIT
trap 'on_signal 141' PIPE
trap 'on_signal 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uffd-collapse-suite.XXXXXX") || {
	tmp=
	echo "Bail out! cannot make a temporary directory"
	exit $KSFT_FAIL
}
saved=$tmp/knobs
lock_suite
save_knobs
set_knob enabled madvise
set_knob shmem_enabled advise
set_knob defrag madvise

set -- $BINARIES
echo "1..$#"
n=0 failed=0 passed=0
for b in $BINARIES; do
	n=$((n + 1))
	echo "# selftests: uffd_collapse: $b"
	run_binary "$b"
	case $rc in
	0) echo "ok $n selftests: uffd_collapse: $b"; passed=$((passed + 1)) ;;
	4) echo "ok $n selftests: uffd_collapse: $b # SKIP" ;;
	255) echo "ok $n selftests: uffd_collapse: $b # SKIP no test selected" ;;
	*) echo "not ok $n selftests: uffd_collapse: $b # exit=$rc"; failed=$((failed + 1)) ;;
	esac
done

[ $failed -eq 0 ] || exit $KSFT_FAIL
[ $passed -gt 0 ] || exit $KSFT_SKIP
exit $KSFT_PASS
