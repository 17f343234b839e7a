// SPDX-License-Identifier: GPL-2.0
/* A race's context: set-up, budget, moments, failures (race_ctx.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collapse.h"
#include "node.h"
#include "pattern.h"
#include "race_ctx.h"
#include "thp.h"

void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void race_fail(struct race *x, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (__atomic_exchange_n(&x->sh->failed, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->sh->why, sizeof(x->sh->why), "iteration %lu (seed %"
		 PRIu64 "): %s", x->sh->iter, x->opt.seed, msg);
}

void tally(struct tally *t, const char *name)
{
	int i;

	for (i = 0; i < NR_TALLY && t->name[i]; i++)
		if (!strcmp(t->name[i], name))
			break;
	if (i == NR_TALLY)
		return;
	t->name[i] = name;
	t->n[i]++;
}

unsigned long tally_of(const struct tally *t, const char *name)
{
	int i;

	for (i = 0; i < NR_TALLY && t->name[i]; i++)
		if (!strcmp(t->name[i], name))
			return t->n[i];
	return 0;
}

static void ref_init(struct race *x)
{
	uint64_t *page = (uint64_t *)x->page_buf;
	size_t p, i, last = x->ps / sizeof(*page) - 1;

	for (p = 0; p < x->w.npages; p++) {
		pattern_fill(page, x->ps, PATTERN_FILL, p);
		for (i = 0; i < NR_SAMPLES; i++)
			x->ref[p].fill[i] = page[i * last / (NR_SAMPLES - 1)];
		pattern_fill(page, x->ps, PATTERN_UFFD, p);
		for (i = 0; i < NR_SAMPLES; i++)
			x->ref[p].uffd[i] = page[i * last / (NR_SAMPLES - 1)];
	}
}

/* Zeroed MAP_SHARED memory (race_shared), or NULL. */
static void *shared_calloc(size_t n, size_t size)
{
	void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void shared_free(void *p, size_t n, size_t size)
{
	if (p)
		munmap(p, n * size);
}

static bool race_alloc(struct race *x)
{
	size_t n = x->w.npages;

	x->want = shared_calloc(n, sizeof(*x->want));
	x->changed = shared_calloc(n, sizeof(bool));
	x->seen = shared_calloc(n, sizeof(bool));
	x->ref = calloc(n, sizeof(*x->ref));
	x->buf = aligned_alloc(x->ps, x->w.r.size);
	x->page_buf = aligned_alloc(x->ps, x->ps);
	x->batch_buf = aligned_alloc(x->ps, BATCH * x->ps);
	x->to_punch = calloc(n, sizeof(*x->to_punch));
	x->to_fill = calloc(n, sizeof(*x->to_fill));
	return x->want && x->changed && x->seen &&
	       x->ref && x->buf && x->page_buf && x->batch_buf &&
	       x->to_punch && x->to_fill;
}

void race_start(struct race *x, unsigned int times, unsigned long min_iters)
{
	race_budget_start(&x->budget, x->opt.budget_ms * x->opt.stress * times,
			  min_iters, DEFAULT_MAX_ITERS * x->opt.stress);
}

const char *race_init(struct race *x, const struct race_opts *opt,
		      enum mem_type type, size_t npmd, int node,
		      const char *stream)
{
	size_t pmd = thp_pmd_size();
	const char *why;

	memset(x, 0, sizeof(*x));
	x->opt = *opt;
	x->w.uffd = -1;
	x->w.r.fd = -1;
	x->pidfd = -1;
	x->sh = shared_calloc(1, sizeof(*x->sh));
	if (!x->sh) {
		x->sh = &x->unshared;
		race_fail(x, "set-up: no shared memory: %s", strerror(errno));
		return NULL;
	}
	why = collapse_test_why_not();
	if (why)
		return why;
	why = watched_create(&x->w, type, npmd * pmd, pmd);
	if (why) {
		race_fail(x, "set-up: %s", why);
		return NULL;
	}
	x->ps = x->w.r.page_size;
	if (!race_alloc(x)) {
		race_fail(x, "set-up: out of memory");
		return NULL;
	}
	if (node >= 0)
		node_bind(x->w.r.addr, x->w.r.size, node);
	ref_init(x);
	mem_fill(&x->w.r, x->w.hole);
	x->w.uffd = uffd_open(0);
	if (x->w.uffd < 0) {
		race_fail(x, "set-up: cannot open a userfaultfd: %s",
			  strerror(errno));
		return NULL;
	}
	x->pid = getpid();
#ifdef __NR_pidfd_open
	x->pidfd = syscall(__NR_pidfd_open, x->pid, 0);
#endif
	race_rng_seed(&x->rng, x->opt.seed, stream);
	race_start(x, 1, MIN_ITERS);
	return NULL;
}

void race_fini(struct race *x)
{
	if (x->leak)
		return;
	if (x->pidfd >= 0)
		close(x->pidfd);
	shared_free(x->want, x->w.npages, sizeof(*x->want));
	shared_free(x->changed, x->w.npages, sizeof(bool));
	shared_free(x->seen, x->w.npages, sizeof(bool));
	free(x->ref);
	free(x->buf);
	free(x->page_buf);
	free(x->batch_buf);
	free(x->to_punch);
	free(x->to_fill);
	watched_destroy(&x->w);
	if (x->sh != &x->unshared)
		shared_free(x->sh, 1, sizeof(*x->sh));
}

bool race_next(struct race *x)
{
	bool more = x->windows < MIN_WINDOWS ||
		    (x->wants_refusals && x->refusals < MIN_REFUSALS);

	if (race_failed(x) || !race_budget_next(&x->budget, more))
		return false;
	x->sh->iter = x->budget.iters;
	return true;
}

bool round_conclusive(struct race *x, unsigned int excused, bool enomem)
{
	x->excused += excused;
	x->inconclusive += enomem;
	return !excused && !enomem;
}

uint64_t race_moment(struct race *x)
{
	return race_rng_below(&x->rng, x->call_ns * 5 / 4 + 1);
}

uint64_t reg_moment(struct race *x)
{
	if (x->refusals < MIN_REFUSALS && !race_rng_below(&x->rng, 4))
		return 0;
	if (!race_rng_below(&x->rng, 4))
		return race_moment(x);
	return x->call_ns * 3 / 4 +
	       race_rng_below(&x->rng, x->call_ns * 3 / 8 + 1);
}

static void race_team_fail(void *ctx, const char *msg)
{
	race_fail(ctx, "%s", msg);
}

/* A round is stuck: release a role blocked in a userfault. */
static void race_team_unstick(void *ctx)
{
	struct race *x = ctx;

	uffd_unregister(x->w.uffd, x->w.r.addr, x->w.r.size);
}

bool race_team_start(struct race *x, struct team *t, void *arg)
{
	const struct team_ops ops = {
		.fail = race_team_fail, .unstick = race_team_unstick, .ctx = x,
	};

	return team_start(t, &ops, arg);
}

void race_team_stop(struct race *x, struct team *t)
{
	team_stop(t);
	x->leak |= t->leak;
}

void race_report(struct race *x, const char *test)
{
	char outs[300] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < NR_TALLY && x->out.name[i]; i++)
		len += snprintf(outs + len, sizeof(outs) - len, " %s=%lu",
				x->out.name[i], x->out.n[i]);
	diag("%s: %lu iterations in %lu ms, window reached %lu times; inconclusive: %lu ENOMEM, %lu anon EINVAL undone by an immediate retry; seed %" PRIu64,
	     test, x->budget.iters, race_budget_elapsed_ms(&x->budget),
	     x->windows, x->inconclusive, x->excused, x->opt.seed);
	if (x->wants_refusals)
		diag("%s: %lu rounds had a call refused (EBUSY) for the registration",
		     test, x->refusals);
	diag("%s: outcomes:%s", test, outs);
}

const char *race_test_init(struct race *x, const struct race_opts *opt,
			   enum mem_type type, size_t npmd, int node,
			   const char *test)
{
	const char *why = node < 0 ? NULL : node_probe(node + 1);
	char stream[128];

	if (why)
		return why;
	snprintf(stream, sizeof(stream), "%s.%s", mem_type_name(type), test);
	diag("%s: seed %" PRIu64 " (replay with --seed %" PRIu64 ")",
	     stream, opt->seed, opt->seed);
	return race_init(x, opt, type, npmd, node, stream);
}
