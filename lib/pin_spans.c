// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "pin_spans.h"
#include "race.h"
#include "race_pages.h"

void pin_spans_plan(struct race *x, struct pin_spans *p)
{
	memset(&p->spans, 0, sizeof(p->spans));
	if (!p->pinner)
		return;
	p->page = random_page(x, false);
	p->delay_ns = race_rng_below(&x->rng, x->call_ns / 2 + 1);
	p->hold_ns = race_rng_below(&x->rng, x->call_ns / 2 + 1);
	p->gap_ns = race_rng_below(&x->rng, x->call_ns + 1);
}

/*
 * Each span the page was surely pinned for is recorded. The unregistration
 * waits for the ring's references to go (an RCU grace period: milliseconds
 * in a VM), so the gap after it is at least as long as the whole pin took:
 * the page is free at least half of the time.
 */
void pin_spans_run(struct race *x, struct pin_spans *p, int *done,
		   struct role *role)
{
	uint64_t t0, from, end = race_now_ns() + TEAM_STUCK_MS / 2 * 1000000ULL;
	int ret;

	race_spin_ns(p->delay_ns);
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		if (race_now_ns() > end) {
			race_fail(x, "MADV_COLLAPSE did not return within %d ms",
				  TEAM_STUCK_MS / 2);
			return;
		}
		role_set(role, "registering an io_uring buffer", p->page);
		t0 = race_now_ns();
		ret = uring_pin_buffer(p->pinner, page_addr(x, p->page), x->ps);
		if (ret) {
			race_fail(x, "io_uring_register_buffers() over page %zu: %s",
				  p->page, strerror(-ret));
			return;
		}
		from = race_now_ns();
		race_spin_until(from + p->hold_ns, role->crowded);
		calls_add(&p->spans, from, race_now_ns(), 0);
		role_set(role, "unregistering an io_uring buffer", p->page);
		uring_unpin_buffer(p->pinner);
		/* the gap: the pin's length, and more */
		from = race_now_ns();
		race_spin_until(from + (from - t0) + p->gap_ns, role->crowded);
	}
}

void pin_spans_check(struct race *x, struct pin_spans *p,
		     const struct calls *cs)
{
	const struct call *c, *span;
	unsigned int i, j;

	for (i = 0; i < cs->n; i++)
		for (j = 0, c = &cs->c[i]; j < p->spans.n; j++) {
			span = &p->spans.c[j];
			if (span->start > c->start || c->end > span->end)
				continue;
			p->pinned_calls++;
			if (!c->ret)
				race_fail(x, "MADV_COLLAPSE succeeded while an io_uring buffer pinned page %zu for the whole call",
					  p->page);
			break;
		}
}
