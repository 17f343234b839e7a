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

# expected KERNEL TEST: what tests/expectations says (FAIL, SKIP, PASS|SKIP),
# else PASS.
expected()
{
	local k t r
	while read -r k t r; do
		case $k in '#'* | '') continue ;; esac
		# shellcheck disable=SC2053
		[[ $k == "$1" && $2 == $t ]] && { echo "$r"; return; }
	done < "$EXPECT"
	echo PASS
}

# compare KERNEL LOG: per-test results of LOG against the expectations.
compare()
{
	local kernel=$1 log=$2 test got want mark rc=0 total=0
	awk -f "$REPO/tests/ktap-results.awk" "$log" > "$tmp/results"
	printf '# %-72s %-9s %s\n' "test ($kernel)" expected got
	while read -r test got; do
		want=$(expected "$kernel" "$test")
		total=$((total + 1))
		case "|$want|" in
		*"|$got|"*) mark= ;;
		*) mark='   <-- differs'; rc=1 ;;
		esac
		printf '# %-72s %-9s %s%s\n' "$test" "$want" "$got" "$mark"
	done < "$tmp/results"
	[ "$total" -gt 0 ] || { echo "# no test results in the log"; rc=1; }
	return $rc
}

check_host()
{
	"$REPO/run_tests.sh" > "$tmp/host.log" 2>&1
	echo "# run_tests.sh exit $?"
	compare host "$tmp/host.log"
}

# check_vm KERNEL PATH: the suite in a VM on a known kernel.
check_vm()
{
	local log="$tmp/vm-$1.log"
	"$REPO/vm/run.sh" --kernel "$2" --numa-nodes 2 --timeout 1200 > "$log" 2> "$log.err"
	echo "# vm/run.sh exit $?: $(grep '^vm:' "$log.err" | tr '\n' ' ')"
	compare "$1" "$log" || { grep -E '^\[.*(BUG|WARNING|Oops)' "$log"; return 1; }
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

check_known_kernels()
{
	local tag path
	"$REPO/vm/fetch-kernels.sh" > "$tmp/kernels" || {
		report "fetch Debian's known kernels" 1
		return
	}
	while read -r tag path; do
		case $tag in
		known-bad) check "suite on Debian 6.1 (known-bad) in a VM" check_vm 6.1 "$path" ;;
		known-good)
			check "suite on Debian 6.12 (known-good) in a VM" check_vm 6.12 "$path"
			check "vm/run.sh: 125 for no boot and a hang, 1 for a WARNING" \
				check_vm_runner "$path"
			;;
		esac
	done < "$tmp/kernels"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
'') ;;
*) usage >&2; exit 2 ;;
esac

check "run_tests.sh usage, -h, -l" check_usage
check "THP knobs restored after a run and after SIGINT" check_knobs
check "suite on the running kernel ($(uname -r))" check_host
[ -n "$SKIP_VM" ] || check_known_kernels
if [ -x "$REPO/tests/kselftest-tree.sh" ]; then
	check "suite built and run in a kernel tree (kselftest)" \
		"$REPO/tests/kselftest-tree.sh"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
