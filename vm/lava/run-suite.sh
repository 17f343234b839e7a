#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The step of vm/lava/job.yaml's test definition, in the guest: run the
# kselftest collection installed in $1 and make each KTAP result a LAVA test
# case, named as KernelCI's kselftest job names it (ktap-lava.awk). The run
# goes to the console between UFFD-KTAP-START and UFFD-KTAP-END lines, which
# vm/lava.sh reads back from the job log. The root file system's timeout(1)
# is busybox's, which lacks the --foreground the runner passes: the ramdisk
# has none, so the runner runs each binary without a timeout of its own and
# the job's test timeout bounds the run.
dir=$(dirname "$0")
cd "${1:?usage: run-suite.sh KSELFTEST_DIR}" || exit 1
echo UFFD-KTAP-START
./run_kselftest.sh -c uffd_collapse 2>&1 | tee /tmp/ktap
echo UFFD-KTAP-END
awk -f "$dir/ktap-lava.awk" /tmp/ktap | while read -r name result; do
	lava-test-case "$name" --result "$result"
done
