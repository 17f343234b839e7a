/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A race's context: its memory and what each page must read (the page
 * model: race_pages.h), its userfaultfd and fault handler, its PRNG stream,
 * its budget, its counters and outcomes, and its first failure. Set up and
 * torn down here, with the moments races draw from it and the glue that
 * runs its team of threads (team.h).
 */
#ifndef UFFD_SUITE_RACE_CTX_H
#define UFFD_SUITE_RACE_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mem.h"
#include "race.h"
#include "race_opts.h"
#include "team.h"
#include "uffd.h"
#include "watched.h"

#define DEFAULT_MAX_ITERS	20000
#define MIN_ITERS		20	/* past the time budget, on a slow machine */
#define MIN_WINDOWS		5	/* likewise */
#define MIN_REFUSALS		5	/* races on registrations: see reg_outcome() */
#define EXCUSED_SHARE		20	/* 1 in 20 iterations may excuse EINVAL */
#define BATCH			64	/* pages punched or filled a syscall */

/* A KTAP diagnostic line, flushed: tests end in _exit(). */
void __attribute__((format(printf, 1, 2))) diag(const char *fmt, ...);

/* What a page must read after the iteration. */
enum want {
	W_FILL,		/* PATTERN_FILL: written by the test */
	W_UFFD,		/* PATTERN_UFFD: the handler's UFFDIO_COPY */
	W_ZERO,		/* present, zero: a collapse filled the hole */
	W_HOLE,		/* missing */
	W_ZERO_OR_HOLE,	/* missing, or present and zero */
};

/* Three words of each page's two patterns: a cheap check of every page. */
#define NR_SAMPLES 3
struct ref_words {
	uint64_t fill[NR_SAMPLES], uffd[NR_SAMPLES];
};

#define NR_TALLY 12
struct tally {
	const char *name[NR_TALLY];
	unsigned long n[NR_TALLY];
};

/*
 * What a race shares with a role in a process of its own (team.h), in
 * MAP_SHARED memory: its first failure and the iteration it names, and
 * (race_init()) the page arrays such a role writes: want, changed,
 * missing, seen.
 */
struct race_shared {
	int failed;
	unsigned long iter;
	char why[512];
};

struct race {
	struct watched w;	/* w.hole: made a hole for this iteration */
	size_t ps;
	enum want *want;
	bool *changed;		/* changed this iteration: full check */
	bool *seen;		/* seen missing after the registration */
	struct ref_words *ref;
	char *buf;		/* pread() of the whole file */
	char *page_buf;		/* one page, for pwrite() */
	char *batch_buf;	/* BATCH pages, for process_vm_writev() */
	size_t *to_punch, *to_fill;	/* reset_holes()'s pages */
	int pidfd;		/* for process_madvise(); -1: page by page */
	pid_t pid;		/* whose pidfd, and whose memory to write */
	size_t eexist0, errors0;
	struct race_rng rng;
	struct race_budget budget;
	uint64_t call_ns;	/* calibrated length of a MADV_COLLAPSE */
	unsigned long windows, inconclusive;
	unsigned long excused;	/* anon EINVALs an immediate retry undid */
	unsigned long refusals;	/* rounds with a call refused for the reg */
	bool wants_refusals;	/* the race counts them (reg_outcome()) */
	struct tally out;
	bool bench;		/* make bench: measure the ceilings too */
	double refused, collapsing;	/* the ceilings, calls per second */
	bool leak;		/* a thread may still use the memory */
	bool in_child;		/* a forked role's copy (race_own_view()) */
	struct race_opts opt;	/* race_init()'s copy */
	struct race_shared *sh, unshared;	/* unshared: no shared memory */
	char skip[200];		/* the positive control failed: why */
};

/*
 * Record the first failure (later ones are dropped), with the iteration
 * and the seed that replays it.
 */
void __attribute__((format(printf, 2, 3)))
race_fail(struct race *x, const char *fmt, ...);

/* Has any thread of the race recorded a failure? */
static inline bool race_failed(struct race *x)
{
	return __atomic_load_n(&x->sh->failed, __ATOMIC_ACQUIRE);
}

/* Count one outcome @name (a string that outlives @t); NR_TALLY at most. */
void tally(struct tally *t, const char *name);
/* How many times @name was counted. */
unsigned long tally_of(const struct tally *t, const char *name);

/*
 * The budget starts now (set-up and calibration are not part of it): @times
 * the time budget, and past it until @min_iters were made (lib/race.c
 * bounds that).
 */
void race_start(struct race *x, unsigned int times, unsigned long min_iters);
/*
 * @npmd PMD-aligned PMDs of @type, every page PATTERN_FILL, a userfaultfd
 * (not registered yet) and a PRNG stream named after the test, seeded and
 * budgeted from @opt; bound to NUMA @node before it is populated, unless
 * @node is negative. Returns why this kernel cannot run the race (a
 * missing feature: SKIP), else NULL: ready, or a set-up error recorded
 * with race_fail() (a FAIL).
 */
const char *race_init(struct race *x, const struct race_opts *opt,
		      enum mem_type type, size_t npmd, int node,
		      const char *stream);
/*
 * The same for the test @test: its stream is "<type>.<test>", its seed is
 * printed, and a @node that is not negative needs @node + 1 NUMA nodes
 * (else that is the reason returned).
 */
const char *race_test_init(struct race *x, const struct race_opts *opt,
			   enum mem_type type, size_t npmd, int node,
			   const char *test);
/* Free what race_init() made; nothing if a thread may still use it. */
void race_fini(struct race *x);
/* One more iteration, while the budget lasts and nothing failed. */
bool race_next(struct race *x);
/*
 * After a round: count its excused EINVALs and an ENOMEM (no huge page to
 * be had). Either makes the round inconclusive: it reached no window.
 */
bool round_conclusive(struct race *x, unsigned int excused, bool enomem);
/* A delay placing a moment anywhere in a MADV_COLLAPSE call, and past it. */
uint64_t race_moment(struct race *x);
/*
 * A delay for a registration: a quarter of the time anywhere
 * (race_moment()), else from the last quarter of a call to just past its
 * end, where a collapse looks for userfaultfds (reg_raced()). Until
 * MIN_REFUSALS rounds had a call refused for their registration, one in
 * four registers at once, before the call gets to its check: the errno
 * clause (reg_outcome()).
 */
uint64_t reg_moment(struct race *x);

/*
 * Start @t's workers on the race: a failure of the team is the race's, and
 * a stuck round unregisters the whole range (releasing a role blocked in a
 * userfault). False (failed) if they cannot start.
 */
bool race_team_start(struct race *x, struct team *t, void *arg);
/* Stop @t; the race leaks its memory if a worker may still use it. */
void race_team_stop(struct race *x, struct team *t);

/* The race's iterations, windows, inconclusive rounds and outcomes. */
void race_report(struct race *x, const char *test);

#endif
