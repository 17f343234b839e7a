#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the project's own tests.
#  - run_tests.sh: usage errors, listing, knobs restored (also on SIGINT);
#  - the suite on the running kernel, every test as tests/expectations says;
#  - the suite in a VM on Debian's known-bad (6.1) and known-good (6.12)
#    kernels, per-test results compared with tests/expectations, and the
#    VM runner's verdicts on a kernel that does not boot, a hang, a WARNING;
#    each run also read as KernelCI's LAVA parser reads it: same results;
#  - the suite installed from a kernel tree and run under LAVA's dispatcher
#    (vm/lava.sh) on both kernels: LAVA's test cases as KernelCI reads the
#    run, the results as tests/expectations says;
#  - the suite built and run the kselftest way inside a kernel tree.
# Ends with "N passed, N failed"; exits 1 if anything failed.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTPUT=${OUTPUT:-$REPO/build}
THP=/sys/kernel/mm/transparent_hugepage
EXPECT=$REPO/tests/expectations
SKIP_VM=${SKIP_VM:-}
VM_ARCH=amd64
passed=0 failed=0 n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OUTPUT

usage()
{
	cat <<EOF
Usage: $0 [-h] [--arm64 | --lava]
  --arm64  only the suite on Debian's arm64 6.1 and 6.12 kernels, in
           qemu-system-aarch64 under TCG, and cross-built in a kernel
           tree and run by run_kselftest.sh on arm64 6.12 (make check-arm64)
  --lava   only the suite under LAVA's dispatcher on Debian's 6.1 and 6.12
           (vm/lava.sh; make check-lava)
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

# check DESCRIPTION COMMAND...: run a check function and time it; if it
# fails, keep its reasons for the summary at the end (see reasons).
check()
{
	local desc=$1 start=$SECONDS rc out tee_pid i
	shift
	echo "# --- $desc"
	exec {out}> >(tee "$tmp/check.out")
	tee_pid=$!
	"$@" >&"$out"
	rc=$?
	exec {out}>&-
	# tee ends when the last writer is gone (bounded: a stray child may hold it)
	for i in $(seq 50); do kill -0 "$tee_pid" 2> /dev/null || break; sleep 0.2; done
	report "$desc" "$rc" $((SECONDS - start))
	[ "$rc" -eq 0 ] && return
	{ echo "# check $n, $desc:"; reasons "$tmp/check.out"; } >> "$tmp/failures"
}

# reasons OUT: the lines of a failed check's output OUT that say why: the
# rows compare() marked and what the test printed under them, else the
# check's last own diagnostics (no table rows, no nested output).
reasons()
{
	if grep -q -- '<--' "$1"; then
		awk '/<--/ { print; keep = 1; next }
		     keep && /^#        \| / { print; next } { keep = 0 }' "$1"
		grep -E '^# (binary |the run |a result |KernelCI )' "$1"
	else
		# not table rows, not what a nested run's tests printed
		grep -E '^# ' "$1" | grep -vE '^# (---|[^ ]+/[^ ]+ +(PASS|FAIL|SKIP))' |
			grep -vE '^# # (  |# |(not )?ok )' | tail -n 8
	fi | sed 's/^#/#  /'
}

# finish: the reasons of the failed checks, then the totals; the status.
finish()
{
	if [ -s "$tmp/failures" ]; then
		echo "# --- why the checks failed"
		cat "$tmp/failures"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# The writable knobs only: counters and stats move with other workloads.
knob_snapshot()
{
	find "$THP" -type f -perm -u+w | sort | xargs grep -H . 2>/dev/null
}

# knobs_as SNAPSHOT WHAT: the knobs read as in file SNAPSHOT, else say
# what WHAT changed.
knobs_as()
{
	knob_snapshot | diff "$1" - > "$tmp/knobs.diff" && return
	echo "# knobs changed by: $2"
	sed 's/^/# /' "$tmp/knobs.diff"
	return 1
}

check_usage()
{
	local rc=0 listed t
	"$REPO/run_tests.sh" -h > /dev/null || { echo "# -h failed"; rc=1; }
	"$REPO/run_tests.sh" -Z > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# a bad option did not exit 2"; rc=1; }
	"$REPO/run_tests.sh" -b nosuch > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# an unknown binary did not exit 2"; rc=1; }
	"$REPO/run_tests.sh" extra > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# a stray argument did not exit 2"; rc=1; }
	"$REPO/run_tests.sh" -t no_such_test > /dev/null 2>&1
	[ $? -eq 2 ] || { echo "# an unknown test name did not exit 2"; rc=1; }
	# Test names are matched literally: not as a glob, not as a regex.
	for t in 'collapse.*' '.' '*' '*holes_ebusy' 'missing_holes_ebus.' \
		 'missing_holes_ebusy$' 'collapse.anon' 'anon.missing_holes_ebusy'; do
		"$REPO/run_tests.sh" -l -t "$t" > /dev/null 2> "$tmp/usage.err"
		if [ $? -ne 2 ] || ! grep -q '^unknown test: ' "$tmp/usage.err"; then
			echo "# -t '$t' was not an unknown test (exit 2)"
			rc=1
		fi
	done
	listed=$("$REPO/run_tests.sh" -l | wc -l)
	[ "$listed" -gt 0 ] || { echo "# -l listed nothing"; rc=1; }
	echo "# $listed tests listed"
	return $rc
}

# interrupt_after DELAY COMMAND...: as Ctrl-C would, SIGINT to COMMAND's
# process group DELAY s after a test binary started (see signal_run).
interrupt_after()
{
	signal_run INT group "$@"
}

# The knobs read the same after a run, after Ctrl-C (SIGINT to the group)
# and after SIGTERM to run_tests.sh alone, and after Ctrl-C to a binary.
# The helpers report on fd 3 (see say): knobs_kept keeps their stdout.
check_knobs()
{
	local rc=0
	{
		knobs_kept own_tmp_run "$REPO/run_tests.sh" -t missing_holes_ebusy || rc=1
		knobs_kept interrupt_after 1 "$REPO/run_tests.sh" || rc=1
		knobs_kept signal_run TERM leader 1 "$REPO/run_tests.sh" || rc=1
		knobs_kept interrupt_after 1 "$OUTPUT/uffd_collapse_test" || rc=1
	} 3>&1
	return $rc
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
		# KERNEL/ARCH (6.1/arm64) takes its own lines, then KERNEL's
		[[ $k == "$1" || $k == "${1%/*}" ]] || continue
		# shellcheck disable=SC2053
		[[ $2 == $t ]] && { echo "$r $why"; return; }
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

# kernelci_reads LOG: KernelCI's LAVA parser (tests/kernelci-results.py)
# reads from LOG the results ktap-results.awk read ($tmp/results), and
# nothing else. Its python3-tap is installed on the first call.
kci_ready=
kernelci_reads()
{
	local py=/usr/bin/python3
	if [ -z "$kci_ready" ] &&
	   ! (. "$REPO/vm/lib.sh" && ensure_pkgs python3-tap) 2> "$tmp/kci.err"; then
		echo "# cannot read the run as KernelCI does: $(tail -n 1 "$tmp/kci.err")"
		return 1
	fi
	kci_ready=1
	if ! "$py" "$REPO/tests/kernelci-results.py" "$1" > "$tmp/kci" 2> "$tmp/kci.err"; then
		sed 's/^/# KernelCI would misread: /' "$tmp/kci.err"
		return 1
	fi
	cut -d' ' -f1,2 "$tmp/kci" | sort > "$tmp/kci.ours"
	sort "$tmp/results" | diff - "$tmp/kci.ours" > "$tmp/kci.diff" && return
	echo "# KernelCI would read other results (<: ours, >: KernelCI's):"
	sed 's/^/# /' "$tmp/kci.diff"
	return 1
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
	kernelci_reads "$log" || rc=1
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

# The whole suite on the host, races included (khugepaged_vs_reg sets
# khugepaged's knobs and shmem_enabled): every result as expected, knobs as
# before.
check_host()
{
	local status=0 rc=0
	knob_snapshot > "$tmp/knobs.host"
	timeout -k 30 1500 "$REPO/run_tests.sh" > "$tmp/host.log" 2>&1 || status=$?
	echo "# run_tests.sh exit $status"
	compare host "$tmp/host.log" "$status" || rc=1
	knobs_as "$tmp/knobs.host" "the suite on the host" || rc=1
	return $rc
}

# check_vm KERNEL PATH: the suite in a VM on a known kernel.
check_vm()
{
	local log="$tmp/vm-$1.log" status=0 tmo=1200 key
	[ "$VM_ARCH" = amd64 ] || tmo=5400	# another ISA under TCG
	"$REPO/vm/run.sh" --arch "$VM_ARCH" --kernel "$2" --numa-nodes 2 \
		--timeout "$tmo" > "$log" 2> "$log.err" || status=$?
	echo "# vm/run.sh exit $status: $(grep '^vm:' "$log.err" | tr '\n' ' ')"
	if [ "$status" -eq 125 ]; then
		echo "# the $1 guest did not boot, died or hung (vm/run.sh exit 125)"
		tail -n 20 "$log" | sed 's/^/#   /'
		return 1
	fi
	key=$1
	[ "$VM_ARCH" = amd64 ] || key=$1/$VM_ARCH
	compare "$key" "$log" "$status" "$(cat "$2.version" 2>/dev/null)" && return
	# a splat during the suite (vm/run.sh says so; one at boot is no verdict)
	grep -aA20 'KERNEL SPLAT' "$log.err" | sed 's/^/# vm\/run.sh: /'
	return 1
}

# A suite directory whose run_tests.sh runs the shell snippet $2.
fake_suite()
{
	mkdir -p "$1"
	printf '#!/bin/sh\n%s\n' "$2" > "$1/run_tests.sh"
	chmod +x "$1/run_tests.sh"
}

# vm_rc WANT DESCRIPTION vm/run.sh-ARGS...: vm/run.sh must exit WANT; its
# time in vm_rc_s, its stdout and stderr in $tmp/vmrc.log.
vm_rc()
{
	local want=$1 desc=$2 got t0=$SECONDS
	shift 2
	"$REPO/vm/run.sh" "$@" > "$tmp/vmrc.log" 2>&1
	got=$?
	vm_rc_s=$((SECONDS - t0))
	echo "# vm/run.sh, $desc: exit $got (want $want) in $vm_rc_s s"
	[ "$got" -eq "$want" ] && return
	grep -a '^vm:' "$tmp/vmrc.log" | sed 's/^/#   /'
	return 1
}

# The runner's verdicts: a kernel that does not boot or a guest that hangs
# is 125 (git bisect skip); a kernel splat after the suite started is a
# failure (1), in a passing run and in a run the splat hung, which is
# stopped --splat-grace s after the splat, long before the timeout.
check_vm_runner()
{
	local k=$1 rc=0 s
	head -c 100000 "$k" > "$tmp/truncated"
	fake_suite "$tmp/hang" 'echo "TAP version 13"; sleep 100000'
	# Also shows what /init set for the suite.
	# shellcheck disable=SC2016 # expanded in the guest
	fake_suite "$tmp/warn" 'echo "TAP version 13"; echo 1..1
echo "env: numa_balancing=$(cat /proc/sys/kernel/numa_balancing)" \
	"compaction_proactiveness=$(cat /proc/sys/vm/compaction_proactiveness)" \
	"printk=$(cut -f1 /proc/sys/kernel/printk)"
echo "WARNING: CPU: 0 PID: 1 at mm/khugepaged.c:1 fake+0x0/0x0" > /dev/kmsg
echo "ok 1 fake"; exit 0'
	fake_suite "$tmp/quiet" 'echo "TAP version 13"; echo 1..1
echo 4 > /proc/sys/kernel/printk; echo "ok 1 fake"; exit 0'
	splat_hang_suite "$tmp/oops" 'Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI'
	splat_hang_suite "$tmp/bug" 'kernel BUG at mm/khugepaged.c:1234!'
	vm_rc 125 "truncated kernel" --kernel "$tmp/truncated" --timeout 60 || rc=1
	vm_rc 125 "hung guest" --kernel "$k" --suite-dir "$tmp/hang" --timeout 30 || rc=1
	vm_rc 1 "WARNING in a passing run" --kernel "$k" --suite-dir "$tmp/warn" || rc=1
	vm_said 'KERNEL SPLAT during the suite (suite status 0)' || rc=1
	grep -aq '^env: numa_balancing=0 compaction_proactiveness=0 printk=7' "$tmp/vmrc.log" ||
		{ echo "# /init did not set numa_balancing=0 compaction_proactiveness=0 printk=7:"; \
		  grep -a '^env:' "$tmp/vmrc.log" | sed 's/^/#   /'; rc=1; }
	vm_rc 1 "console log level lowered by the suite" --kernel "$k" --suite-dir "$tmp/quiet" || rc=1
	vm_said 'the suite lowered the console log level to 4' || rc=1
	for s in oops bug; do
		vm_rc 1 "$s, then the suite hangs" --kernel "$k" --suite-dir "$tmp/$s" \
			--timeout 600 --splat-grace 10 || rc=1
		# Boot takes seconds: 300 s is far above boot + grace, far below 600.
		[ "$vm_rc_s" -lt 300 ] || { echo "# $s: not stopped before the timeout"; rc=1; }
		vm_said 'KERNEL SPLAT during the suite, then the guest stopped' || rc=1
	done
	return $rc
}

# vm_said TEXT: the last vm/run.sh gave TEXT as its reason (a "vm: " line).
vm_said()
{
	grep -aqF "vm: $1" "$tmp/vmrc.log" && return
	echo "# vm/run.sh did not say: $1"
	return 1
}

# splat_hang_suite DIR LINE: a fake suite that puts LINE in the kernel log,
# as a crashing kernel would, and then hangs.
splat_hang_suite()
{
	fake_suite "$1" "echo 'TAP version 13'; echo 1..1
echo '$2' > /dev/kmsg; sleep 100000"
}

# knobs_kept COMMAND...: COMMAND succeeds (its output in $tmp/out) and the
# knobs read the same afterwards.
knobs_kept()
{
	local rc
	knob_snapshot > "$tmp/knobs.kept"
	"$@" > "$tmp/out" 2>&1
	rc=$?
	knobs_as "$tmp/knobs.kept" "$*" || rc=1
	return $rc
}

# say TEXT: print TEXT on fd 3 if it is open, else on stdout.
say()
{
	if { true >&3; } 2> /dev/null; then
		echo "$*" >&3
	else
		echo "$*"
	fi
}

# own_tmp_run COMMAND...: run COMMAND with a /tmp of its own (see
# own_tmp_cmd), and fail if it left anything there (whatever its status).
own_tmp_run()
{
	own_tmp_cmd
	"${OWN_TMP[@]}" "$@"
	say "# ${*##*/}: exit $?"
	own_tmp_left
}

# own_tmp_cmd: set OWN_TMP to a command prefix that execs the rest (same
# process: signal_run signals it by pid) in a mount namespace where /tmp is
# an overlay of itself: what the rest writes there goes to an upper layer
# on a tmpfs of its own, and what others write to /tmp meanwhile does not.
# A sleeper whose working directory is that upper layer is left there for
# own_tmp_left.
own_tmp_cmd()
{
	rm -f "$tmp/sleeper.pid"
	mkdir -p "$tmp/ovl"
	# shellcheck disable=SC2016 # expanded by that sh
	OWN_TMP=(unshare -m sh -c 'exec 3> "$1"; d=$2; shift 2
		mount -t tmpfs uffd-check-tmp "$d" && mkdir "$d/up" "$d/work" &&
		cd "$d/up" && mount -t overlay uffd-check-tmp \
			-o "lowerdir=/tmp,upperdir=$d/up,workdir=$d/work" /tmp || exit 1
		sleep 600 < /dev/null > /dev/null 2>&1 &
		echo $! >&3; exec 3>&-; cd /
		unset TMPDIR; exec "$@"' sh "$tmp/sleeper.pid" "$tmp/ovl")
}

# own_tmp_left: fail, naming them, if the last command run with OWN_TMP
# left files in /tmp; ends its sleeper.
own_tmp_left()
{
	local s left
	s=$(cat "$tmp/sleeper.pid" 2>/dev/null)
	[ -n "$s" ] || { say "# could not give the run a /tmp of its own"; return 1; }
	left=$(cd "/proc/$s/cwd" && find . -mindepth 1 | sed 's|^\./|/tmp/|')
	kill "$s"
	rm -f "$tmp/sleeper.pid"
	[ -z "$left" ] || { say "# left in /tmp: $(echo "$left" | tr '\n' ' ')"; return 1; }
}

# suite_procs: the processes of a test binary of $OUTPUT.
suite_procs()
{
	ps -eo pid=,args= | P="$OUTPUT/" awk 'index($2, ENVIRON["P"]) == 1'
}

# signal_run SIG WHOM DELAY COMMAND...: start COMMAND in a session (and a
# /tmp, see own_tmp_cmd) of its own, with SIGINT at its default (a
# background job of a script would ignore it); DELAY s after a test binary
# started, send SIG to COMMAND's process group (WHOM=group, as Ctrl-C does)
# or to COMMAND alone (WHOM=leader). The binary must be stopped by it, not
# run to its end, and COMMAND must end within 30 s (run_tests.sh waits at
# most 10 s for the binary, then 10 s for its output), leaving no process
# of a test binary and no file in /tmp.
signal_run()
{
	local sig=$1 whom=$2 delay=$3 pid i t0 st rc=0 left
	shift 3
	own_tmp_cmd
	setsid env --default-signal=INT "${OWN_TMP[@]}" "$@" > "$tmp/signal.out" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ -z "$(suite_procs)" ] || break
		sleep 0.1
	done
	[ "$i" -lt 300 ] || { say "# no test binary started in 30 s"; rc=1; }
	sleep "$delay"
	t0=$EPOCHREALTIME
	if [ "$whom" = group ]; then
		kill -"$sig" -- "-$pid"
	else
		kill -"$sig" "$pid"
	fi
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$i" -ge 300 ]; then
		say "# SIG$sig to the $whom: $* still ran 30 s later"
		kill -KILL -- "-$pid"
		rc=1
	fi
	wait "$pid"
	st=$?
	say "# SIG$sig to the $whom of ${*##*/}: exit $st after" \
		"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
	left=$(suite_procs)
	if [ -n "$left" ]; then
		say "# test binaries left running: $(echo "$left" | tr '\n' ' ')"
		awk '{print $1}' <<< "$left" | xargs -r kill -KILL
		rc=1
	fi
	if grep -q 'Totals: pass:' "$tmp/signal.out"; then
		say "# a binary ran to its end: SIG$sig did not stop it"
		rc=1
	fi
	own_tmp_left || rc=1
	return $rc
}

# fetch_kernels: Debian's known-bad and known-good kernels (vm/fetch-kernels.sh,
# cached) in KBAD and KGOOD; else a failed check line saying what came.
fetch_kernels()
{
	local tag path
	KBAD='' KGOOD=''
	timeout -k 10 600 "$REPO/vm/fetch-kernels.sh" --arch "$VM_ARCH" > "$tmp/kernels"
	while read -r tag path; do
		case $tag in
		known-bad) KBAD=$path ;;
		known-good) KGOOD=$path ;;
		esac
	done < "$tmp/kernels"
	[ -n "$KBAD" ] && [ -n "$KGOOD" ] && [ -r "$KBAD" ] && [ -r "$KGOOD" ] && return
	report "fetch Debian's known-bad and known-good kernels (got: $(tr '\n' ' ' < "$tmp/kernels"))" 1
	return 1
}

# The suite on Debian's known-bad and known-good kernels, each named by its
# exact package and version.
check_known_kernels()
{
	fetch_kernels || return
	check "suite on Debian 6.1 ($(cat "$KBAD.version"), known-bad) in a $VM_ARCH VM" \
		check_vm 6.1 "$KBAD"
	check "suite on Debian 6.12 ($(cat "$KGOOD.version"), known-good) in a $VM_ARCH VM" \
		check_vm 6.12 "$KGOOD"
	[ "$VM_ARCH" != amd64 ] ||
		check "vm/run.sh: 125 for no boot and a hang, 1 for a WARNING" \
			check_vm_runner "$KGOOD"
}

# The suite as a KernelCI lab runs it, on both known kernels: installed the
# kselftest way, booted and run by LAVA's dispatcher (vm/lava.sh).
check_lava_kernels()
{
	local t0=$SECONDS
	fetch_kernels || return
	if ! diagnostics timeout -k 30 1800 "$REPO/tests/kselftest-tree.sh" \
			--install "$tmp/ksft" > "$tmp/ksft.log"; then
		report "the suite installed from a kernel tree for LAVA" 1 $((SECONDS - t0))
		{ echo "# check $n: the kselftest install:"; tail -n 5 "$tmp/ksft.log"; } >> "$tmp/failures"
		return
	fi
	check "suite under LAVA (lava-run) on Debian 6.1 ($(cat "$KBAD.version"), known-bad)" \
		check_lava 6.1 "$KBAD"
	check "suite under LAVA (lava-run) on Debian 6.12 ($(cat "$KGOOD.version"), known-good)" \
		check_lava 6.12 "$KGOOD"
}

# check_lava KERNEL FILE: vm/lava.sh's job completed; the run's KTAP (from
# the job log) is as tests/expectations says (compare(): run_kselftest.sh's
# exit status tells nothing, so the run's is 1 when a binary failed); LAVA
# recorded exactly the test cases KernelCI's reading of that KTAP gives,
# with the same results. A kernel splat during the run fails vm/lava.sh.
check_lava()
{
	local out=$tmp/lava-$1 status=0 rc=0
	if ! timeout -k 30 3000 "$REPO/vm/lava.sh" --kernel "$2" --ksft "$tmp/ksft" \
			--out "$out" --name "Debian $(cat "$2.version")" 2> "$out.err"; then
		grep -v '^[A-Z]:\|^Get:\|^Setting up\|^Unpacking\|^Selecting\|^Preparing' "$out.err" |
			tail -n 8 | sed 's/^/# vm\/lava.sh: /'
		return 1
	fi
	grep '^vm: lava-run' "$out.err" | sed 's/^/# /'
	grep -q '^not ok [0-9]* selftests: uffd_collapse: ' "$out/ktap" && status=1
	compare "$1" "$out/ktap" "$status" "$(cat "$2.version")" || rc=1
	lava_recorded "$out/results" || rc=1
	return $rc
}

# lava_recorded RESULTS: LAVA's test cases (NAME pass|fail|skip) are those
# of KernelCI's reading of the run ($tmp/kci, from compare()) and each
# binary's own result ($tmp/tops), no more, no fewer, with the same results.
lava_recorded()
{
	{
		awk '{ print $3, tolower($2) }' "$tmp/kci"
		awk '{ print "uffd_collapse_" $1, tolower($2) }' "$tmp/tops"
	} | sort > "$tmp/lava.want"
	sort "$1" | diff "$tmp/lava.want" - > "$tmp/lava.diff" && {
		echo "# LAVA recorded $(wc -l < "$1") test cases, as KernelCI reads the run"
		return
	}
	echo "# LAVA recorded other test cases than KernelCI's reading of the run (<: KernelCI, >: LAVA):"
	head -n 20 "$tmp/lava.diff" | sed 's/^/# /'
	return 1
}

# A real client: QEMU postcopy live migration of a guest whose RAM is a
# memfd, while a helper collapses that memfd (the running kernel only; the
# nested 6.1 and 6.12 runs are make check-postcopy's).
check_postcopy()
{
	diagnostics timeout -k 30 600 "$REPO/vm/postcopy.sh" --host-only \
		--quick --bin "$OUTPUT/postcopy"
}

# diagnostics COMMAND...: COMMAND's output as "# " lines (a nested run's
# own "ok"/"not ok" lines must not read as this report's), its status.
diagnostics()
{
	"$@" 2>&1 | sed 's/^/# /'
	return "${PIPESTATUS[0]}"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
--arm64)
	VM_ARCH=arm64
	check_known_kernels
	check "suite cross-built in a kernel tree (ARCH=arm64), run by run_kselftest.sh in an arm64 VM" \
		diagnostics timeout -k 30 5400 "$REPO/tests/kselftest-tree.sh" --arch arm64
	finish
	exit ;;
--lava)
	check_lava_kernels
	finish
	exit ;;
'') ;;
*) usage >&2; exit 2 ;;
esac

check "tests/expectations: every expected FAIL names its reason" check_expectations
check "run_tests.sh usage, -h, -l" check_usage
check "the binaries have every test of tests/listed, and no other" check_listed
check "THP knobs restored after a run and after SIGINT" check_knobs
check "suite on the running kernel ($(uname -r))" check_host
[ -n "$SKIP_VM" ] || check_known_kernels
[ -n "$SKIP_VM" ] || check_lava_kernels
check "QEMU postcopy migration vs MADV_COLLAPSE on the running kernel" \
	check_postcopy
check "a clean clone builds with empty /usr/src and cache; make run passes in a fresh Debian 12 chroot" \
	diagnostics timeout -k 30 2400 "$REPO/tests/fresh-machine.sh"
if [ -x "$REPO/tests/kselftest-tree.sh" ]; then
	check "suite built and run in a kernel tree (kselftest)" \
		diagnostics timeout -k 30 1800 "$REPO/tests/kselftest-tree.sh"
fi

finish
