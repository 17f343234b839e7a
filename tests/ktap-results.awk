# SPDX-License-Identifier: GPL-2.0
# Turn run_tests.sh output (possibly inside a VM console log) into lines
# "BINARY/TEST PASS|FAIL|SKIP", one per test a binary reported.
/^# selftests: uffd_collapse: / { bin = $4; next }
bin != "" && /^# (not )?ok [0-9]+ / {
	not = ($2 == "not")
	name = not ? $5 : $4
	res = not ? "FAIL" : ($0 ~ /# SKIP/ ? "SKIP" : "PASS")
	print bin "/" name, res
}
