# SPDX-License-Identifier: GPL-2.0
#
# run_kselftest.sh's output to LAVA test cases, named as KernelCI's LAVA
# kselftest job names them (Linaro test-definitions, parse-output.py over
# python3-tap; tests/kernelci-results.py is the same reading on the host,
# and make check compares the two). POSIX awk: it runs in the guest
# (busybox). Prints "NAME RESULT" (pass, fail or skip) for each binary's
# result and each result nested one level in it:
#  - the "#" lines before a binary's result are its output, read again as
#    TAP with the "#" and the blanks around the rest removed;
#  - a name is the description ("selftests:" dropped), plus for a SKIP the
#    directive's text after "SKIP", with "[N]" removed, every run of
#    characters outside [A-Za-z0-9_-] made one "_", no "_" at either end,
#    "_-" made "__"; a nested name is prefixed with its binary's;
#  - any other line (the kernel's, the shell's) is no TAP and is ignored.

function trim(s)
{
	sub(/^[ \t\r]+/, "", s)
	sub(/[ \t\r]+$/, "", s)
	return s
}

function slug(s)
{
	gsub(/\[[0-9][0-9]?[0-9]?[0-9]?[0-9]?\]/, "", s)
	gsub(/[^A-Za-z0-9_-]+/, "_", s)
	sub(/^_+/, "", s)
	sub(/_+$/, "", s)
	gsub(/_-/, "__", s)
	return s == "" ? "<unknown>" : s
}

# A TAP result line? Sets RES (pass, fail, skip) and NAME (its LAVA name).
function result(line,	rest, ok, i, desc, dir)
{
	if (line ~ /^ok/)
		ok = 1
	else if (line ~ /^not ok/)
		ok = 0
	else
		return 0
	rest = substr(line, ok ? 3 : 7)
	sub(/^[ \t]*[0-9]*[ \t]*/, "", rest)
	desc = rest
	dir = ""
	i = index(rest, "#")
	if (i) {
		desc = substr(rest, 1, i - 1)
		dir = substr(rest, i + 1)
		sub(/^[ \t]*/, "", dir)
	}
	desc = trim(desc)
	sub(/^selftests:/, "", desc)
	RES = ok ? "pass" : "fail"
	if (ok && tolower(substr(dir, 1, 4)) == "skip") {
		RES = "skip"
		desc = desc " " substr(dir, 5)
	}
	NAME = slug(desc)
	return 1
}

result($0) {
	top = NAME
	print top, RES
	for (i = 0; i < n; i++)
		if (result(nested[i]))
			print top "_" NAME, RES
	n = 0
	next
}

/^#/ { nested[n++] = trim(substr($0, 2)) }
