/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A registration racing MADV_COLLAPSE calls (reg_vs_collapse and its
 * variants): the collapser's loop, the call the registration returned
 * during, whether it put the guarantee to the test, what the calls may
 * answer, and the running length of a call the moments are drawn from.
 */
#ifndef UFFD_SUITE_REG_RACE_H
#define UFFD_SUITE_REG_RACE_H

#include <stdbool.h>
#include <stdint.h>

#include "calls.h"
#include "race_ctx.h"

/*
 * Collapse until the range is collapsed or a call ended after the
 * registration returned (and, with @retry_eagain, did not say EAGAIN: try
 * again); then raise *@done.
 */
void collapse_until(struct race *x, struct calls *cs, uint64_t *reg_ns,
		    int *done, bool retry_eagain);
/* The call the registration returned during, or NULL. */
const struct call *reg_call(const struct calls *cs, uint64_t reg);
/*
 * Every call's result is one the kernel may give, else a failure; the
 * round's outcomes counted. Returns the call the registration (@who's)
 * returned during if the round is conclusive and the registration raced
 * it (reg_raced()), else NULL.
 */
const struct call *reg_outcome(struct race *x, const struct calls *cs,
			       uint64_t reg, const char *who);
/* The round's first call, if the log still holds it (MAX_CALLS), else NULL. */
const struct call *first_call(const struct calls *cs);
/* Move the running length *@avg a quarter of the way to @c's length. */
void follow_ns(uint64_t *avg, const struct call *c);
/*
 * The length of the round's first call, if the registration had not
 * returned before it began, into x->call_ns.
 */
void track_call_ns(struct race *x, const struct calls *cs, uint64_t reg);

#endif
