/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A race's page model: which pages are holes this iteration, making them
 * so (punching, filling again), and checking that every page reads what it
 * must (enum want), through the mapping and, for files, through pread().
 */
#ifndef UFFD_SUITE_RACE_PAGES_H
#define UFFD_SUITE_RACE_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "race_ctx.h"

/* The address of page @p of the race's region. */
static inline char *page_addr(const struct race *x, size_t p)
{
	return x->w.r.addr + p * x->ps;
}

/* How a hole is filled: through the mapping, or (a file) the fd. */
enum fill_how { FILL_STORE, FILL_PWRITE, FILL_FALLOCATE, NR_FILL_HOW };
extern const char *const fill_name[NR_FILL_HOW];

/*
 * Fill page @p @how: PATTERN_FILL (for pwrite(), from @buf), or allocated
 * and zero (fallocate()). 0, or -1 with errno.
 */
int fill_page(struct race *x, size_t p, enum fill_how how, const char *buf);
/*
 * A new iteration's @n random holes over the whole region, the rest
 * PATTERN_FILL again, checked (precondition()): false if that failed.
 */
bool round_holes(struct race *x, size_t n);
/*
 * The region as ranges of one PMD each, for khugepaged: not advised
 * (MADV_NOHUGEPAGE), unregistered, @n new holes in each, the precondition
 * checked. False if that failed.
 */
bool reset_ranges(struct race *x, size_t n);
/* Range @i has no page missing in x->w.missing (as last read): collapsed. */
bool range_full(const struct race *x, size_t i);
/* A random page of the region that is (@hole) or is not a hole. */
size_t random_page(struct race *x, bool hole);
/*
 * Make @n random pages of [@first, @first + @count) the holes of the next
 * iteration and every other page there PATTERN_FILL again. Unregistered.
 */
void reset_holes(struct race *x, size_t first, size_t count, size_t n);
/* Exactly the holes of [@first, @first + @count) are missing, or a failure. */
void precondition(struct race *x, size_t first, size_t count);
/* What page @p holds, in words, for a failure message. */
const char *content_name(const struct race *x, const char *page, size_t p);
/* Every page of [@first, @first + @count) reads what it should. */
void verify_data(struct race *x, size_t first, size_t count);
/* Holes not seen missing after the registration were collapsed: zeros. */
void expect_collapsed_unseen(struct race *x, size_t first, size_t count);

#endif
