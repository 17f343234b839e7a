#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Read a run's output the way KernelCI's LAVA jobs do (Linaro
# test-definitions, automated/linux/kselftest/parse-output.py, on top of
# Debian's python3-tap): the top-level TAP stream is parsed; the "#" lines
# before each result are that result's output, parsed again as nested TAP
# with one "#" and the blanks after it removed; a result's LAVA name is
# its description ("selftests:" dropped) plus, for a SKIP, the directive's
# text after "SKIP", made of [A-Za-z0-9_-] only; nested names are prefixed
# with their parent's. Our own code, written from that description.
#
# Prints one line per result of a test inside a suite binary:
#   BINARY/TEST RESULT LAVA_NAME
# (RESULT: PASS, FAIL or SKIP), to be compared with tests/ktap-results.awk,
# and on stderr what KernelCI would get wrong: a result it would see that
# the suite did not report (a diagnostic read as a result, by the nested
# parse or by the job's older one-regex rule), a test name with "#", two
# results under one LAVA name.
import re
import sys

from tap.parser import Parser

SUITE = 'selftests: uffd_collapse: '


def slug(text):
	text = re.sub(r'\[\d{1,5}\]', '', text)
	text = re.sub(r'[^A-Za-z0-9_-]+', '_', text).strip('_')
	return text.replace('_-', '__')


def uncomment(text):
	return text[1:].strip() if text.startswith('#') else text


def results(text):
	"""[(description, verdict, directive, children)] of a TAP text."""
	out, nested = [], ''
	for line in Parser().parse_text(text):
		if line.category == 'test':
			skip = line.ok and line.skip
			verdict = 'SKIP' if skip else ('PASS' if line.ok else 'FAIL')
			out.append((line.description.strip(), verdict,
				    line.directive.text, results(nested)))
			nested = ''
		elif line.category == 'diagnostic':
			nested += uncomment(line.text) + '\n'
	return out


def lava_name(description, verdict, directive):
	name = description
	if name.startswith('selftests:'):
		name = name[len('selftests:'):]
	if verdict == 'SKIP' and directive.lower().startswith('skip'):
		name += ' ' + directive[4:]
	return slug(name) or '<unknown>'


# The older rule of Linaro's kselftest job (a regex over every line, any
# number of "# " in front): result lines that are not one of a binary's
# own, or that it names otherwise than the nested parse does.
OLD_RULE = re.compile(r'^(?:# )*(not )?ok \d+ ([^#]+)(# (SKIP)?)?')


def old_rule(text, ours):
	bad = 0
	for line in text.splitlines():
		m = OLD_RULE.match(line)
		if not m or line.startswith(('ok ', 'not ok ')):
			continue
		name = m.group(2).strip()
		if not line.startswith('# ') or line.startswith('# # ') or \
		   name not in ours:
			print(f'the older KernelCI rule reads a result "{name}" from: {line}',
			      file=sys.stderr)
			bad = 1
	return bad


def main():
	text = open(sys.argv[1], errors='replace').read() if len(sys.argv) > 1 \
		else sys.stdin.read()
	seen, bad = {}, 0
	for desc, verdict, directive, children in results(text):
		if not desc.startswith(SUITE):
			continue
		binary = desc[len(SUITE):].strip()
		top = lava_name(desc, verdict, directive)
		for cdesc, cverdict, cdirective, grandchildren in children:
			name = top + '_' + lava_name(cdesc, cverdict, cdirective)
			if '#' in cdesc or not cdesc:
				print(f'a result named "{cdesc}" in {binary}',
				      file=sys.stderr)
				bad = 1
			for g in grandchildren:
				print(f'a diagnostic of {binary}/{cdesc} read as result "{g[0]}"',
				      file=sys.stderr)
				bad = 1
			if name in seen:
				print(f'{binary}/{cdesc} and {seen[name]} share the LAVA name {name}',
				      file=sys.stderr)
				bad = 1
			seen[name] = f'{binary}/{cdesc}'
			print(f'{binary}/{cdesc} {cverdict} {name}')
	ours = {v.split('/', 1)[1] for v in seen.values()}
	return bad | old_rule(text, ours)


if __name__ == '__main__':
	sys.exit(main())
