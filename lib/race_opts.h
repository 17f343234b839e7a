/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The options every race reads: the seed of every varied moment, the
 * stress factor and the time budget of each race; from the environment
 * (UFFD_RACE_SEED, UFFD_RACE_STRESS, UFFD_RACE_BUDGET_MS) and argv, which
 * wins.
 */
#ifndef UFFD_SUITE_RACE_OPTS_H
#define UFFD_SUITE_RACE_OPTS_H

#include <stdint.h>

#include "race.h"

#define DEFAULT_BUDGET_MS	400	/* per race test, at --stress 1 */
/*
 * The harness's per-test timeout (TEST_F_TIMEOUT) is fixed when the binary
 * is built: it cannot follow the options. So a race's time budget,
 * --budget-ms times --stress, is capped here, and RACE_TIMEOUT_S() is the
 * timeout of a race that runs @times that budget: at most
 * RACE_BUDGET_MORE_X times its budget (lib/race.h), plus its set-up,
 * positive control and last round, each bounded.
 */
#define RACE_MAX_BUDGET_MS	60000
#define RACE_TIMEOUT_S(times)						\
	(RACE_MAX_BUDGET_MS / 1000 * (times) * RACE_BUDGET_MORE_X + 120)

struct race_opts {
	uint64_t seed;
	unsigned int stress;
	unsigned int budget_ms;
};

/*
 * A seed from the clock and the pid, then the environment's values.
 * Returns -1 if one is not a valid value (said on stderr), else 0.
 */
int race_opts_env(struct race_opts *opt);
/*
 * Take our options out of argv (--name N or --name=N), leaving the
 * harness's. Returns -1 on a bad value or a budget past
 * RACE_MAX_BUDGET_MS (said on stderr), 1 for --bench, 2 for -h.
 */
int race_opts_parse(struct race_opts *opt, int *argc, char **argv);
/* The options, on stderr; khugepaged's race runs @khugepaged_x its budget. */
void race_opts_usage(const char *prog, unsigned int khugepaged_x);

#endif
