// SPDX-License-Identifier: GPL-2.0
/* make bench: the ceilings of a race's calls, and its row (race_bench.h). */
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
		collapse(x->r.addr, x->r.size);
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

void bench_row(const char *race, enum mem_type type, struct race *x)
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
