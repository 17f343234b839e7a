#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the userfaultfd x THP collapse suite with KTAP output.
# Saves every THP/khugepaged knob, sets what the suite needs, runs the test
# binaries and restores the knobs on every exit path (EXIT, INT, TERM, HUP).
# Exit: 0 all passed, 1 a failure, 4 everything skipped, 2 usage error.
# POSIX sh: it also runs under busybox in the vm/ runner's initramfs.

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

usage()
{
	cat <<EOF
Usage: $0 [-h] [-l] [-v] [-b BINARY] [-t TEST]
  -h         this help
  -l         list every test as BINARY FIXTURE.VARIANT.TEST
  -b BINARY  run only BINARY (one of: $BINARIES)
  -t TEST    run only TEST: FIXTURE.VARIANT.TEST (as -l prints) or a test
             name (all its variants); may be given more than once
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

# Print "FIXTURE.VARIANT.TEST" for every test of binary $1 (from its -l table).
list_binary()
{
	"$bindir/$1" -l 2>&1 | awk '
		/^-+$/ { flush(); next }
		/^#|^global/ { next }
		{
			line = $0
			f = substr(line, 1, 21); v = substr(line, 22, 26); t = substr(line, 48)
			gsub(/ /, "", f); gsub(/ /, "", v); gsub(/ /, "", t)
			if (f != "") fixture = f
			if (v != "") vars[nv++] = v
			if (t != "") tests[nt++] = t
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

cleanup()
{
	restore_knobs
	rm -f "$saved" "$saved.rc" "$saved.out"
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

# Harness arguments selecting the tests of binary $1 named in $tests.
select_args()
{
	for t in $tests; do
		if list_binary "$1" | grep -qx "$t"; then
			printf ' -r %s' "$t"
		elif list_binary "$1" | grep -q "\.$t\$"; then
			printf ' -t %s' "$t"
		fi
	done
}

# One run of the suite at a time (lib/thp.c says why), where flock(1) is
# (busybox has none; a VM runs one suite anyway). The lock's descriptor
# goes down to the binaries: their flock() on the same open file succeeds.
lock_suite()
{
	command -v flock >/dev/null 2>&1 || return 0
	for dir in /run/lock /tmp; do
		[ -d "$dir" ] && [ -w "$dir" ] && break
	done
	{ exec 9>>"$dir/uffd-collapse-suite.lock"; } 2>/dev/null || return 0
	if ! flock -n 9; then
		echo "waiting for another run of the suite to put the THP knobs back" >&2
		if ! flock -w "$LOCK_WAIT_S" 9; then
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
# its exit status goes to $saved.rc (255: no test of it selected).
run_binary()
{
	args=
	if [ -n "$tests" ]; then
		args=$(select_args "$1")
		[ -n "$args" ] || { echo 255 > "$saved.rc"; return; }
	fi
	tmo=
	command -v timeout >/dev/null && tmo="timeout $(binary_timeout "$1")"
	# shellcheck disable=SC2086
	{ $tmo "$bindir/$1" $args 2>&1; echo $? > "$saved.rc"; } |
		tee "$saved.out" | sed 's/^/# /'
	# The harness exits 0 when every test skipped: that is a skip.
	if [ "$(cat "$saved.rc")" = 0 ] &&
	   grep -q '^# Totals: pass:0 fail:0 .*skip:[1-9]' "$saved.out"; then
		echo 4 > "$saved.rc"
	fi
}

verbose= only= tests= list=
while getopts "hlvb:t:" opt; do
	case $opt in
	h) usage; exit 0 ;;
	l) list=1 ;;
	v) verbose=1 ;;
	b) only=$OPTARG ;;
	t) tests="$tests $OPTARG" ;;
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
		list_binary "$b" | grep -q -e "^$t\$" -e "\.$t\$" && found=1
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

lock_suite
saved=$(mktemp)
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
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
	rc=$(cat "$saved.rc")
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
