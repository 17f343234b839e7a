#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# vm/lava.sh's helper, run in its LAVA chroot (python3-jinja2 and
# python3-yaml come with lava-dispatcher):
#   lava-files.py device DICT TEMPLATES
#       print the device YAML that lava-server would render from device
#       dictionary DICT over the device-type templates in TEMPLATES
#   lava-files.py read LOG OUT
#       from lava-run's job log LOG, write in directory OUT:
#         ktap     the console lines between the UFFD-KTAP-START and
#                  UFFD-KTAP-END lines (vm/lava/run-suite.sh);
#         results  "NAME RESULT" for each test case of the test definitions;
#         job      "NAME RESULT" for each of LAVA's own results (the job's
#                  last: "job pass", "job fail" or "job incomplete");
#         errors   LAVA's error lines.
import os
import sys

import jinja2
import yaml


def device(dictionary, templates):
	env = jinja2.Environment(
		loader=jinja2.FileSystemLoader([os.path.dirname(dictionary), templates]),
		trim_blocks=True, autoescape=False)
	print(env.get_template(os.path.basename(dictionary)).render())


def entries(log):
	loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
	with open(log, errors='replace') as f:
		for line in f:
			if not line.startswith('{'):
				continue
			try:
				entry = yaml.load(line, Loader=loader)
			except yaml.YAMLError:
				continue
			if isinstance(entry, dict):
				yield entry.get('lvl'), entry.get('msg')


def read(log, out):
	ktap, results, job, errors, inside = [], [], [], [], False
	for lvl, msg in entries(log):
		if lvl == 'target' and isinstance(msg, str):
			text = msg.replace('\r', '')
			if text.strip() == 'UFFD-KTAP-START':
				inside = True
			elif text.strip() == 'UFFD-KTAP-END':
				inside = False
			elif inside:
				ktap.append(text)
		elif lvl == 'results' and isinstance(msg, dict):
			line = f"{msg.get('case')} {msg.get('result')}"
			(job if msg.get('definition') == 'lava' else results).append(line)
		elif lvl in ('error', 'exception') and msg:
			errors.append(str(msg))
	for name, lines in (('ktap', ktap), ('results', results), ('job', job),
			    ('errors', errors)):
		with open(os.path.join(out, name), 'w') as f:
			f.write(''.join(line + '\n' for line in lines))


def main():
	if len(sys.argv) == 4 and sys.argv[1] == 'device':
		device(sys.argv[2], sys.argv[3])
	elif len(sys.argv) == 4 and sys.argv[1] == 'read':
		read(sys.argv[2], sys.argv[3])
	else:
		print('usage: lava-files.py device DICT TEMPLATES | read LOG OUT',
		      file=sys.stderr)
		return 2
	return 0


if __name__ == '__main__':
	sys.exit(main())
