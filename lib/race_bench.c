// SPDX-License-Identifier: GPL-2.0
/* make bench: the ceilings of a race's calls, and its row (race_bench.h). */
#include <inttypes.h>
#include <stdio.h>

#include "collapse.h"
#include "race_bench.h"
#include "race_calls.h"

/*
 * The ceilings: back-to-back MADV_COLLAPSE of the same PMD range with the
 * race's number of holes, only the calls timed. "refused": the holes under
 * MODE_MISSING, each call does its work and is refused (shmem copies the
 * whole range first; anon refuses at its first check). "collapsing": no
 * registration. Between calls, untimed, call_setup() reads every present
 * page and punches new holes (all of them), as an iteration does before
 * its calls: a call over a range left as the previous call left it (no
 * page mapped, on shmem) does less work than the race's calls do.
 */
static double bench_ceiling(struct race *x, bool registered, size_t holes)
{
	uint64_t in_calls = 0, t, end;
	unsigned long n = 0;

	end = race_now_ns() + x->opt.budget_ms * x->opt.stress * 1000000ULL;
	while (race_now_ns() < end && !race_failed(x)) {
		call_setup(x, registered, holes);
		t = race_now_ns();
		collapse(x->w.r.addr, x->w.r.size);
		in_calls += race_now_ns() - t;
		n++;
		call_done(x, registered);
	}
	return in_calls ? n * 1e9 / in_calls : 0;
}

/*
 * Once the race's threads are up (asleep), as for every call of the race:
 * x86 batches the TLB flushes of the pages a shmem collapse unmaps only in
 * an mm that ran on other CPUs too, and flushes page by page otherwise
 * (the README has what it costs on one machine).
 */
void bench_ceilings(struct race *x, size_t holes)
{
	x->refused = bench_ceiling(x, true, holes);
	x->collapsing = bench_ceiling(x, false, holes);
}

/* One row of the table: @race's rates over @type next to its ceilings. */
static void bench_row(const char *race, enum mem_type type, struct race *x)
{
	double s = race_budget_elapsed_ms(&x->budget) / 1000.0;
	double rate = x->budget.iters / s;

	printf("%-7s %-6s %9.0f %9.0f %10.0f %10.0f %7.0f%% %7.0f%%%s\n",
	       race, mem_type_name(type), rate, x->windows / s, x->refused,
	       x->collapsing, 100 * rate / x->refused,
	       100 * rate / x->collapsing, x->sh->failed ? "  FAILED" : "");
	if (x->sh->failed)
		printf("  %s\n", x->sh->why);
}

static void bench_type(const struct race_opts *opt, enum mem_type type,
		       const struct bench_race *races, size_t n)
{
	char stream[32];
	struct race x;
	const char *why;
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(stream, sizeof(stream), "bench.%zu", i + 1);
		why = race_init(&x, opt, type, 1, -1, stream);
		if (why) {
			printf("%-7s %-6s skipped: %s\n", races[i].name,
			       mem_type_name(type), why);
			race_fini(&x);
			continue;
		}
		x.bench = true;
		races[i].run(&x);
		bench_row(races[i].name, type, &x);
		race_fini(&x);
	}
}

int bench(const struct race_opts *opt, const struct bench_race *races,
	  size_t n)
{
	printf("# %u ms per measurement, seed %" PRIu64 "; rates per second\n",
	       opt->budget_ms * opt->stress, opt->seed);
	printf("%-7s %-6s %9s %9s %10s %10s %8s %8s\n", "race", "memory",
	       "iter/s", "window/s", "refused/s", "collapse/s", "%refus",
	       "%collap");
	bench_type(opt, MEM_MEMFD, races, n);
	bench_type(opt, MEM_ANON, races, n);
	return 0;
}
