/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A present page of a race's range pinned through io_uring (a buffer
 * registration: a FOLL_LONGTERM pin) in spans while the collapser runs:
 * where and when, drawn each round; the pinner role's loop; and the rule
 * the spans give: no MADV_COLLAPSE succeeds while a pin lasts all through
 * it (a collapse would leave the pin holder on a page no longer mapped).
 */
#ifndef UFFD_SUITE_PIN_SPANS_H
#define UFFD_SUITE_PIN_SPANS_H

#include <stdint.h>

#include "calls.h"
#include "race_ctx.h"
#include "team.h"
#include "uring.h"

struct pin_spans {
	struct uring_pin *pinner;	/* NULL: no pins */
	size_t page;
	uint64_t delay_ns, hold_ns, gap_ns;
	struct calls spans;		/* while a buffer pinned @page */
	unsigned long pinned_calls;	/* calls wholly inside a span */
};

/*
 * Which present page is pinned, when, for how long (drawn by the main
 * thread): pinned about a third of the time, so that collapses still
 * succeed and registrations still race them.
 */
void pin_spans_plan(struct race *x, struct pin_spans *p);
/* The pinner role: pin, hold, let go, and again until *@done. */
void pin_spans_run(struct race *x, struct pin_spans *p, int *done,
		   struct role *role);
/* After the round: a call that succeeded inside a span is a failure. */
void pin_spans_check(struct race *x, struct pin_spans *p,
		     const struct calls *cs);

#endif
