/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A race's userfaultfd (race_init() opens it): MODE_MISSING registration of
 * pages of its region, its fault handler, which pages were seen missing
 * right after a registration, and touching them: each must raise its
 * UFFD_EVENT_PAGEFAULT and then read the handler's data.
 */
#ifndef UFFD_SUITE_RACE_UFFD_H
#define UFFD_SUITE_RACE_UFFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "race_ctx.h"
#include "team.h"

/* Register [@first, @first + @count) MODE_MISSING: 0, or -1 with errno. */
int reg_missing(struct race *x, size_t first, size_t count);
/* Unregister [@first, @first + @count), or a failure. */
void unreg(struct race *x, size_t first, size_t count);
/* Start the fault handler over the whole region: false (failed) if not. */
bool start_handler(struct race *x);
/* Note the handler's EEXIST and error counts, for handler_check(). */
void handler_mark(struct race *x);
/* Since handler_mark(): no UFFDIO_COPY found its page present or failed. */
void handler_check(struct race *x);
/*
 * Right after the registration: which pages of the range are missing
 * (x->seen); how many.
 */
size_t snapshot_seen(struct race *x, size_t first, size_t count);
/* How long reading which pages are missing takes: the shortest of a few. */
uint64_t snapshot_ns(struct race *x);
/*
 * Touch each page of the range seen missing after the registration: a
 * UFFD_EVENT_PAGEFAULT (a repeat is no failure: lib/uffd.h), then the
 * handler's data.
 */
void touch_seen(struct race *x, size_t first, size_t count,
		struct role *role);
/*
 * In a process forked to race (team_add_process()): the race's pages
 * through a mapping of that process's own (what is missing read there by
 * mincore(): no fd), with a userfaultfd and a fault handler of its own.
 * False (failed) if it cannot.
 */
bool race_own_view(struct race *x);

#endif
