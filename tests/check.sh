#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the project's own tests.
#  - run_tests.sh: usage errors, listing, knobs restored (also on SIGINT);
#  - the suite on the running kernel, every test as tests/expectations says;
#  - the suite in a VM on Debian's known-bad (6.1) and known-good (6.12)
#    kernels, per-test results compared with tests/expectations, and the
#    VM runner's verdicts on a kernel that does not boot, a hang, a WARNING;
#  - the suite built and run the kselftest way inside a kernel tree.
# Ends with "N passed, N failed"; exits 1 if anything failed.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTPUT=${OUTPUT:-$REPO/build}
THP=/sys/kernel/mm/transparent_hugepage
# A kernel splat in a console log (vm/run.sh fails a run that prints one).
SPLAT='Oops|BUG:|WARNING:|Kernel panic|kernel BUG at|general protection fault|Call Trace:'
EXPECT=$REPO/tests/expectations
SKIP_VM=${SKIP_VM:-}
passed=0 failed=0 n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OUTPUT

usage()
{
	cat <<EOF
Usage: $0 [-h]
Environment: SKIP_VM=1 skips the known-kernel VM runs; OUTPUT=<dir> where
the binaries are (default build/).
EOF
}

# report DESCRIPTION STATUS [SECONDS]: one KTAP line per check.
report()
{
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok $n $1${3:+ # ${3}s}"
	else
		failed=$((failed + 1))
		echo "not ok $n $1${3:+ # ${3}s}"
	fi
}

# check DESCRIPTION COMMAND...: run a check function and time it.
check()
{
	local desc=$1 start=$SECONDS rc
	shift
	echo "# --- $desc"
	"$@"
	rc=$?
	report "$desc" "$rc" $((SECONDS - start))
}

# The writable knobs only: counters and stats move with other workloads.
knob_snapshot()
{
	find "$THP" -type f -perm -u+w | sort | xargs grep -H . 2>/dev/null
}

check_usage()
{
	local rc=0 listed
	"$REPO/run_tests.sh" -h > /dev/null || { echo "# -h failed"; rc=1; }
	"$REPO/run_tests.sh" -Z > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# a bad option did not exit 2"; rc=1; }
	"$REPO/run_tests.sh" -b nosuch > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# an unknown binary did not exit 2"; rc=1; }
	"$REPO/run_tests.sh" extra > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# a stray argument did not exit 2"; rc=1; }
	"$REPO/run_tests.sh" -t no_such_test > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# an unknown test name did not exit 2"; rc=1; }
	listed=$("$REPO/run_tests.sh" -l | wc -l)
	[ "$listed" -gt 0 ] || { echo "# -l listed nothing"; rc=1; }
	echo "# $listed tests listed"
	return $rc
}

# knobs_restored_after DESCRIPTION COMMAND...
knobs_restored_after()
{
	local before="$tmp/knobs.before" after="$tmp/knobs.after"
	knob_snapshot > "$before"
	"$@" > "$tmp/out" 2>&1
	knob_snapshot > "$after"
	if ! diff "$before" "$after" > "$tmp/knobs.diff"; then
		echo "# knobs changed by: $*"
		sed 's/^/# /' "$tmp/knobs.diff"
		return 1
	fi
}

# Start COMMAND in its own process group with SIGINT at its default (a
# background job of a script would ignore it), and send the group SIGINT
# after $1 seconds, as a Ctrl-C would.
interrupt_after()
{
	local delay=$1 pid
	shift
	setsid env --default-signal=INT "$@" &
	pid=$!
	sleep "$delay"
	kill -INT -- "-$pid" 2>/dev/null
	wait "$pid"
	return 0
}

check_knobs()
{
	knobs_restored_after "$REPO/run_tests.sh" -t missing_holes_ebusy &&
	knobs_restored_after interrupt_after 1 "$REPO/run_tests.sh" &&
	knobs_restored_after interrupt_after 1 "$OUTPUT/uffd_collapse_test"
}

# expected KERNEL TEST: "RESULT REASON" as the first line of
# tests/expectations matching KERNEL and TEST says (RESULT: FAIL, SKIP or
# alternatives such as PASS|SKIP; REASON: for a FAIL, an extended regex its
# output must match), else "PASS".
expected()
{
	local k t r why
	while read -r k t r why; do
		case $k in '#'* | '') continue ;; esac
		# shellcheck disable=SC2053
		[[ $k == "$1" && $2 == $t ]] && { echo "$r $why"; return; }
	done < "$EXPECT"
	echo PASS
}

# The expectations themselves: every line that expects FAIL names the reason.
check_expectations()
{
	local k t r why rc=0
	while read -r k t r why; do
		case $k in '#'* | '') continue ;; esac
		[[ $r != *FAIL* || -n $why ]] && continue
		echo "# tests/expectations: $k $t expects $r with no reason"
		rc=1
	done < "$EXPECT"
	return $rc
}

# The binaries have exactly the tests of tests/listed: none lost, none new
# without a line there (regenerate it with "run_tests.sh -l > tests/listed").
check_listed()
{
	local listed diffs
	listed=$("$REPO/run_tests.sh" -l) || { echo "# run_tests.sh -l failed"; return 1; }
	diffs=$(diff <(sort "$REPO/tests/listed") <(sort <<< "$listed") |
		sed -n 's/^< /# missing from the binaries: /p; s/^> /# not in tests\/listed: /p')
	if [ -n "$diffs" ]; then
		echo "$diffs"
		return 1
	fi
	echo "# $(wc -l < "$REPO/tests/listed") tests, as tests/listed says"
}

# The tests run_tests.sh lists, as BINARY/TEST.
listed_tests()
{
	[ -s "$tmp/listed" ] ||
		"$REPO/run_tests.sh" -l | awk '{ print $1 "/" $2 }' > "$tmp/listed"
	cat "$tmp/listed"
}

# why_failed BLOCK: the lines of a test's output that say why it failed.
why_failed()
{
	grep -vE '^# (not )?ok [0-9]|^# #  RUN|^# # +(OK|FAIL|SKIP) ' "$1" |
		grep -iE 'expected|fail|error|iteration|bail|timeout|terminated|signal|set-up|precondition' |
		tail -n 4 | sed 's/^/#        | /'
}

# compare KERNEL LOG STATUS [DESCRIPTION]: LOG's per-test results against
# the expectations. Every listed test has exactly one result, as expected,
# and an expected FAIL fails for its reason; each binary's own result and
# the run's exit STATUS are what those imply (a binary with an expected
# FAIL exits 1, never a crash or a timeout).
compare()
{
	local kernel=$1 log=$2 status=$3 test got want why mark n rc=0
	local bad=0 stillbad=0 b wantbin res code
	rm -rf "$tmp/blocks" && mkdir "$tmp/blocks"
	: > "$tmp/tops"
	awk -v tops="$tmp/tops" -v blocks="$tmp/blocks" \
		-f "$REPO/tests/ktap-results.awk" "$log" > "$tmp/results"
	printf '# %-72s %-9s %s\n' "test ($kernel)" expected got > "$tmp/table"
	: > "$tmp/binfail"
	while read -r test; do
		read -r want why <<< "$(expected "$kernel" "$test")"
		n=$(grep -cxF -e "$test PASS" -e "$test FAIL" -e "$test SKIP" "$tmp/results")
		got=$(grep -m1 "^$test " "$tmp/results" | awk '{ print $2 }')
		mark=
		[[ $want == FAIL ]] && echo "${test%%/*}" >> "$tmp/binfail"
		if [ "$n" -eq 0 ]; then
			got=none mark='   <-- no result (crashed, timed out, or not run)'
		elif [ "$n" -gt 1 ]; then
			mark="   <-- $n results"
		elif [[ "|$want|" != *"|$got|"* ]]; then
			mark='   <-- differs'
		elif [[ $got == FAIL ]] &&
		     ! grep -qE -- "$why" "$tmp/blocks/${test%%/*}@${test#*/}"; then
			mark="   <-- failed for another reason than /$why/"
		fi
		if [[ $want == FAIL ]]; then
			bad=$((bad + 1))
			[[ $got != FAIL ]] || stillbad=$((stillbad + 1))
		fi
		printf '# %-72s %-9s %s%s\n' "$test" "$want" "$got" "$mark" >> "$tmp/table"
		if [ -n "$mark" ]; then
			rc=1
			[[ $got != FAIL ]] || why_failed "$tmp/blocks/${test%%/*}@${test#*/}" >> "$tmp/table"
		fi
	done < <(listed_tests)
	if [ ! -s "$tmp/listed" ]; then
		echo "# run_tests.sh -l listed no test"
		return 1
	fi
	if [ "$bad" -gt 0 ] && [ "$stillbad" -eq 0 ] && [ "$status" -eq 0 ]; then
		echo "# $kernel${4:+ ($4)} passed all $bad tests expected to fail on it: it has the change (a stable backport?), so it is no known-bad kernel any more"
		return 1
	fi
	cat "$tmp/table"
	awk '{ print $1 }' "$tmp/results" | sort | uniq | grep -vxF -f <(listed_tests) |
		sed 's/^/# a result for a test run_tests.sh -l does not list: /' | grep . && rc=1
	for b in $(sed -n 's/^TEST_GEN_PROGS := //p' "$REPO/Makefile"); do
		wantbin=PASS code=0
		grep -qx "$b" "$tmp/binfail" && wantbin=FAIL code=1
		read -r res n <<< "$(awk -v b="$b" '$1 == b { print $2, $3 }' "$tmp/tops")"
		if [[ $res != "$wantbin" || ${n:-0} -ne $code ]]; then
			echo "# binary $b: ${res:-no result line}${n:+ (exit $n)}, expected $wantbin (exit $code)"
			rc=1
		fi
	done
	code=0
	[ -s "$tmp/binfail" ] && code=1
	if [ "$status" -ne "$code" ]; then
		echo "# the run exited $status, expected $code"
		rc=1
	fi
	return $rc
}

check_host()
{
	local status=0
	timeout -k 30 1500 "$REPO/run_tests.sh" > "$tmp/host.log" 2>&1 || status=$?
	echo "# run_tests.sh exit $status"
	compare host "$tmp/host.log" "$status"
}

# check_vm KERNEL PATH: the suite in a VM on a known kernel.
check_vm()
{
	local log="$tmp/vm-$1.log" status=0
	"$REPO/vm/run.sh" --kernel "$2" --numa-nodes 2 --timeout 1200 \
		> "$log" 2> "$log.err" || status=$?
	echo "# vm/run.sh exit $status: $(grep '^vm:' "$log.err" | tr '\n' ' ')"
	if [ "$status" -eq 125 ]; then
		echo "# the $1 guest did not boot, died or hung (vm/run.sh exit 125)"
		tail -n 20 "$log" | sed 's/^/#   /'
		return 1
	fi
	compare "$1" "$log" "$status" "$(cat "$2.version" 2>/dev/null)" ||
		{ grep -aE "^\[.*($SPLAT)" "$log"; return 1; }
}

# A suite directory whose run_tests.sh runs the shell snippet $2.
fake_suite()
{
	mkdir -p "$1"
	printf '#!/bin/sh\n%s\n' "$2" > "$1/run_tests.sh"
	chmod +x "$1/run_tests.sh"
}

# vm_rc WANT DESCRIPTION vm/run.sh-ARGS...: vm/run.sh must exit WANT.
vm_rc()
{
	local want=$1 desc=$2 got
	shift 2
	"$REPO/vm/run.sh" "$@" > "$tmp/vmrc.log" 2>&1
	got=$?
	echo "# vm/run.sh, $desc: exit $got (want $want)"
	[ "$got" -eq "$want" ]
}

# The runner's verdicts: a kernel that does not boot or a guest that hangs
# is 125 (git bisect skip); a WARNING during a passing run is a failure.
check_vm_runner()
{
	local k=$1 rc=0
	head -c 100000 "$k" > "$tmp/truncated"
	fake_suite "$tmp/hang" 'echo "TAP version 13"; sleep 100000'
	fake_suite "$tmp/warn" 'echo "TAP version 13"; echo 1..1
echo "WARNING: CPU: 0 PID: 1 at mm/khugepaged.c:1 fake+0x0/0x0" > /dev/kmsg
echo "ok 1 fake"; exit 0'
	vm_rc 125 "truncated kernel" --kernel "$tmp/truncated" --timeout 60 || rc=1
	vm_rc 125 "hung guest" --kernel "$k" --suite-dir "$tmp/hang" --timeout 30 || rc=1
	vm_rc 1 "WARNING in a passing run" --kernel "$k" --suite-dir "$tmp/warn" || rc=1
	return $rc
}

# The suite on Debian's known-bad and known-good kernels, each named by its
# exact package and version.
check_known_kernels()
{
	local tag path bad='' good=''
	timeout -k 10 600 "$REPO/vm/fetch-kernels.sh" > "$tmp/kernels"
	while read -r tag path; do
		case $tag in
		known-bad) bad=$path ;;
		known-good) good=$path ;;
		esac
	done < "$tmp/kernels"
	if [ -z "$bad" ] || [ -z "$good" ] || [ ! -r "$bad" ] || [ ! -r "$good" ]; then
		report "fetch Debian's known-bad and known-good kernels (got: $(tr '\n' ' ' < "$tmp/kernels"))" 1
		return
	fi
	check "suite on Debian 6.1 ($(cat "$bad.version"), known-bad) in a VM" \
		check_vm 6.1 "$bad"
	check "suite on Debian 6.12 ($(cat "$good.version"), known-good) in a VM" \
		check_vm 6.12 "$good"
	check "vm/run.sh: 125 for no boot and a hang, 1 for a WARNING" \
		check_vm_runner "$good"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
'') ;;
*) usage >&2; exit 2 ;;
esac

check "tests/expectations: every expected FAIL names its reason" check_expectations
check "run_tests.sh usage, -h, -l" check_usage
check "the binaries have every test of tests/listed, and no other" check_listed
check "THP knobs restored after a run and after SIGINT" check_knobs
check "suite on the running kernel ($(uname -r))" check_host
[ -n "$SKIP_VM" ] || check_known_kernels
if [ -x "$REPO/tests/kselftest-tree.sh" ]; then
	check "suite built and run in a kernel tree (kselftest)" \
		timeout -k 30 1800 "$REPO/tests/kselftest-tree.sh"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
