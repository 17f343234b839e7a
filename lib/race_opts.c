// SPDX-License-Identifier: GPL-2.0
/* The races' options: environment and argv (race_opts.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compat.h"
#include "race.h"
#include "race_opts.h"

static bool parse_num(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

static bool set_opt(struct race_opts *opt, const char *name,
		    const char *val)
{
	uint64_t v;

	if (!parse_num(val, &v))
		return false;
	if (!strcmp(name, "seed"))
		opt->seed = v;
	else if (!strcmp(name, "stress") && v >= 1 && v <= 1000)
		opt->stress = v;
	else if (!strcmp(name, "budget-ms") && v >= 1 && v <= 3600000)
		opt->budget_ms = v;
	else
		return false;
	return true;
}

/* The value of @var, if set, for option @name: false if it is not valid. */
static bool env_opt(struct race_opts *opt, const char *var, const char *name)
{
	const char *val = getenv(var);

	if (!val || set_opt(opt, name, val))
		return true;
	fprintf(stderr, "%s=%s: not a valid --%s\n", var, val, name);
	return false;
}

int race_opts_env(struct race_opts *opt)
{
	uint64_t t = race_now_ns();
	bool ok;

	opt->seed = (t ^ (t >> 32) ^ ((uint64_t)getpid() << 16)) % 1000000000;
	ok = env_opt(opt, "UFFD_RACE_SEED", "seed");
	ok &= env_opt(opt, "UFFD_RACE_STRESS", "stress");
	ok &= env_opt(opt, "UFFD_RACE_BUDGET_MS", "budget-ms");
	return ok ? 0 : -1;
}

/* The budget fits in the harness's per-test timeouts (race_opts.h). */
static bool budget_fits(const struct race_opts *opt)
{
	if ((uint64_t)opt->budget_ms * opt->stress <= RACE_MAX_BUDGET_MS)
		return true;
	fprintf(stderr, "--budget-ms %u times --stress %u is more than %d ms: the harness's per-test timeouts are fixed at build time\n",
		opt->budget_ms, opt->stress, RACE_MAX_BUDGET_MS);
	return false;
}

/* See race_opts.h. */
int race_opts_parse(struct race_opts *opt, int *argc, char **argv)
{
	static const char *const names[] = { "seed", "stress", "budget-ms" };
	int i, j, out = 1, ret = 0;
	const char *a, *val;
	size_t k, n;

	for (i = 1; i < *argc; i++) {
		a = argv[i];
		for (k = 0; k < ARRAY_SIZE(names); k++) {
			n = strlen(names[k]);
			if (strncmp(a, "--", 2) || strncmp(a + 2, names[k], n))
				continue;
			if (a[2 + n] == '=')
				val = a + 3 + n;
			else if (!a[2 + n] && i + 1 < *argc)
				val = argv[++i];
			else
				continue;
			if (!set_opt(opt, names[k], val)) {
				fprintf(stderr, "--%s %s: not a valid value\n",
					names[k], val);
				ret = -1;
			}
			break;
		}
		if (k < ARRAY_SIZE(names))
			continue;
		if (!strcmp(a, "--bench"))
			ret = ret ? ret : 1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			ret = 2;
		else
			argv[out++] = argv[i];
	}
	for (j = out; j < *argc; j++)
		argv[j] = NULL;
	*argc = out;
	if (!ret && !budget_fits(opt))	/* --bench has no harness timeout */
		ret = -1;
	return ret;
}

void race_opts_usage(const char *prog, unsigned int khugepaged_x)
{
	fprintf(stderr,
		"Usage: %s [--seed N] [--stress N] [--budget-ms N] [--bench] [harness options]\n"
		"  --seed N       seed of every varied moment (default: from the clock; printed)\n"
		"  --stress N     multiply every race's time and iteration budget by N (default 1)\n"
		"  --budget-ms N  time budget of each race in ms (default %d; khugepaged x%u)\n"
		"                 --budget-ms times --stress: at most %d ms (the harness's\n"
		"                 per-test timeouts, fixed at build time, cover that)\n"
		"  --bench        print iteration and window rates of races 1 and 2 next to\n"
		"                 the rate of bare MADV_COLLAPSE calls, instead of testing\n"
		"Environment: UFFD_RACE_SEED, UFFD_RACE_STRESS, UFFD_RACE_BUDGET_MS (the options win).\n\n",
		prog, DEFAULT_BUDGET_MS, khugepaged_x, RACE_MAX_BUDGET_MS);
}
