/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A race's lone MADV_COLLAPSE calls of its whole range, each set up as an
 * iteration sets up its own: the positive control that must succeed before
 * the race means anything, and the calibrated length of a call that the
 * race's moments are drawn from. And what an errno may also mean.
 */
#ifndef UFFD_SUITE_RACE_CALLS_H
#define UFFD_SUITE_RACE_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "race_ctx.h"

#define CALIBRATE_CALLS	6

/* For a failure message: what else may have caused errno @err, or "". */
const char *einval_hint(const struct race *x, int err);
/*
 * A lone MADV_COLLAPSE of the whole range set up as a race iteration sets
 * it up: every page present read (the verification), @holes new holes, the
 * range registered MODE_MISSING or not. Then call_done().
 */
void call_setup(struct race *x, bool registered, size_t holes);
/* After the call: its holes were collapsed (zeros) or kept. */
void call_done(struct race *x, bool registered);
/* The second shortest of CALIBRATE_CALLS times (@d is sorted). */
uint64_t second_shortest(uint64_t *d);
/*
 * The positive control, then x->call_ns: how long a MADV_COLLAPSE of the
 * whole range with @holes holes, @registered or not, takes. False if the
 * control failed (x->skip says why) or the race did.
 */
bool calibrate(struct race *x, bool registered, size_t holes);
/*
 * The length of a lone MADV_COLLAPSE of the range with @holes holes,
 * refused for a MODE_MISSING registration: of the range's own mapping
 * (@at NULL), or of the one page mapped at @at (another mapping of a page
 * of the range, which collapse_file()'s walk of the file's mappings finds
 * in its own turn). The second shortest of a few; 0 if a call was not
 * refused (a kernel without the check: the race will say what went wrong).
 */
uint64_t refused_ns(struct race *x, char *at, size_t holes);
/*
 * khugepaged's positive control: how long it takes to collapse every
 * range of the region (reset_ranges(): @holes holes each, no registration)
 * once advised MADV_HUGEPAGE. 0 if it did not within @ms (x->skip says so)
 * or the race failed.
 */
uint64_t khugepaged_control(struct race *x, size_t holes, int ms);

#endif
