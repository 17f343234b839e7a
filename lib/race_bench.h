/* SPDX-License-Identifier: GPL-2.0 */
/*
 * make bench: how many iterations and windows a race makes per second next
 * to the rates of bare MADV_COLLAPSE calls of its range (the ceilings).
 */
#ifndef UFFD_SUITE_RACE_BENCH_H
#define UFFD_SUITE_RACE_BENCH_H

#include <stddef.h>

#include "mem.h"
#include "race_ctx.h"

/*
 * Into x->refused and x->collapsing: calls per second of MADV_COLLAPSE of
 * the range with @holes holes, registered (refused) and not (collapsing).
 */
void bench_ceilings(struct race *x, size_t holes);
/* A race make bench runs: its name in the table, and how to run it. */
struct bench_race {
	const char *name;
	void (*run)(struct race *x);
};

/* The table: each of the @n @races over memfd, then anon; exit status 0. */
int bench(const struct race_opts *opt, const struct bench_race *races,
	  size_t n);

#endif
