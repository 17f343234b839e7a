# SPDX-License-Identifier: GPL-2.0
# Turn run_tests.sh output (possibly inside a VM console log) into lines
# "BINARY/TEST PASS|FAIL|SKIP", one per result a binary reported, and
# "BINARY PASS|FAIL|SKIP EXIT" for each binary's own result line (to the
# file named by -v tops=FILE). With -v blocks=DIR, each test's own output
# (the binary's lines since its previous result) goes to DIR/BINARY@TEST.
# Kernel console lines ("[  1.234] ...") are not the suite's: skipped.
/^\[ *[0-9]+\.[0-9]+\]/ { next }
/^# selftests: uffd_collapse: / { bin = $4; block = ""; next }
/^(not )?ok [0-9]+ selftests: uffd_collapse: / {
	not = ($1 == "not")
	b = not ? $6 : $5
	rc = 0
	if (match($0, /# exit=[0-9]+/))
		rc = substr($0, RSTART + 7, RLENGTH - 7)
	res = not ? "FAIL" : ($0 ~ /# SKIP/ ? "SKIP" : "PASS")
	if (tops != "")
		print b, res, rc > tops
	bin = ""
	next
}
bin != "" && /^# (not )?ok [0-9]+ / {
	not = ($2 == "not")
	name = not ? $5 : $4
	res = not ? "FAIL" : ($0 ~ /# SKIP/ ? "SKIP" : "PASS")
	print bin "/" name, res
	if (blocks != "") {
		f = blocks "/" bin "@" name
		printf "%s%s\n", block, $0 >> f
		close(f)
	}
	block = ""
	next
}
bin != "" { block = block $0 "\n" }
