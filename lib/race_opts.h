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

#define DEFAULT_BUDGET_MS	400	/* per race test, at --stress 1 */

struct race_opts {
	uint64_t seed;
	unsigned int stress;
	unsigned int budget_ms;
};

/* A seed from the clock and the pid, then the environment's values. */
void race_opts_env(struct race_opts *opt);
/*
 * Take our options out of argv (--name N or --name=N), leaving the
 * harness's. Returns -1 on a bad value, 1 for --bench, 2 for -h.
 */
int race_opts_parse(struct race_opts *opt, int *argc, char **argv);

#endif
