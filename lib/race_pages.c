// SPDX-License-Identifier: GPL-2.0
/* A race's page model: holes, fills, and what pages read (race_pages.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "collapse.h"
#include "compat.h"
#include "pattern.h"
#include "race_pages.h"
#include "race_uffd.h"

static const char *const want_name[] = {
	[W_FILL] = "the test's data", [W_UFFD] = "the handler's data",
	[W_ZERO] = "zeros", [W_HOLE] = "missing",
	[W_ZERO_OR_HOLE] = "missing or zeros",
};

/*
 * Page @p missing again: no longer the handler's (lib/uffd.h). Every page
 * of a race becomes missing here or in punch_pages(), which forgets too.
 */
static int punch(struct race *x, size_t p)
{
	uffd_handler_forget(&x->w.h, p);
	return mem_punch(&x->w.r, p, 1);
}

/* process_madvise() of our own memory: -1 where the headers lack it. */
static long self_madvise(struct race *x, struct iovec *iov, size_t n, int adv)
{
#ifdef __NR_process_madvise
	if (x->pidfd >= 0 && x->pid == getpid())
		return syscall(__NR_process_madvise, x->pidfd, iov, n, adv, 0);
#endif
	errno = ENOSYS;
	return -1;
}

/*
 * Punch the @n pages @pages[]: without a file, one process_madvise() per
 * BATCH pages (kernels since 6.13 take any advice for the caller itself,
 * and since 6.16 flush the TLB once for all of them), else (or if it
 * fails once) page by page; a fallocate() each in a file.
 */
static void punch_pages(struct race *x, const size_t *pages, size_t n)
{
	int adv = x->w.r.ops->punch_advice;
	struct iovec iov[BATCH];
	size_t i = 0, k;

	while (!x->w.r.ops->file && x->pidfd >= 0 && i < n) {
		for (k = 0; k < BATCH && i + k < n; k++) {
			uffd_handler_forget(&x->w.h, pages[i + k]);
			iov[k].iov_base = page_addr(x, pages[i + k]);
			iov[k].iov_len = x->ps;
		}
		if (self_madvise(x, iov, k, adv) != (long)(k * x->ps)) {
			close(x->pidfd);
			x->pidfd = -1;
			i = 0;	/* again, page by page */
			break;
		}
		i += k;
	}
	for (; i < n; i++)
		if (punch(x, pages[i]))
			race_fail(x, "punching page %zu: %s", pages[i],
				  strerror(errno));
}

/*
 * PATTERN_FILL into the @n pages @pages[]: for memory without a file,
 * process_vm_writev() per BATCH pages, so that the kernel faults a missing
 * page in, not a user page fault (several times dearer in a VM), else
 * stores; a pwrite() each in a file.
 */
static void fill_pages(struct race *x, const size_t *pages, size_t n)
{
	struct iovec local[BATCH], remote[BATCH];
	size_t i = 0, k;

	while (!x->w.r.ops->file && x->pid == getpid() && i < n) {
		for (k = 0; k < BATCH && i + k < n; k++) {
			local[k].iov_base = x->batch_buf + k * x->ps;
			local[k].iov_len = x->ps;
			remote[k].iov_base = page_addr(x, pages[i + k]);
			remote[k].iov_len = x->ps;
			pattern_fill(local[k].iov_base, x->ps, PATTERN_FILL,
				     pages[i + k]);
		}
		if (process_vm_writev(x->pid, local, k, remote, k, 0) !=
		    (ssize_t)(k * x->ps))
			break;	/* this batch and the rest: stores */
		i += k;
	}
	for (; i < n; i++) {
		if (!x->w.r.ops->file) {
			pattern_fill(page_addr(x, pages[i]), x->ps,
				     PATTERN_FILL, pages[i]);
			continue;
		}
		pattern_fill(x->page_buf, x->ps, PATTERN_FILL, pages[i]);
		if (pwrite(x->w.r.fd, x->page_buf, x->ps, pages[i] * x->ps) !=
		    (ssize_t)x->ps)
			race_fail(x, "refilling page %zu: %s", pages[i],
				  strerror(errno));
	}
}

static void pick_holes(struct race *x, size_t first, size_t count, size_t n)
{
	size_t p, k = 0;

	for (p = first; p < first + count; p++)
		x->w.hole[p] = x->seen[p] = false;
	while (k < n) {
		p = first + race_rng_below(&x->rng, count);
		if (!x->w.hole[p]) {
			x->w.hole[p] = true;
			k++;
		}
	}
}

size_t random_page(struct race *x, bool hole)
{
	size_t p;

	do {
		p = race_rng_below(&x->rng, x->w.npages);
	} while (x->w.hole[p] != hole);
	return p;
}

/*
 * Fault in one present page of the range: punching a hole in a PMD-mapped
 * huge page zaps the PMD, and 6.1's MADV_COLLAPSE says EINVAL over a PMD
 * with no page table (SCAN_PMD_NONE) after it has collapsed the page cache.
 * Anonymous memory has no page cache: its huge PMD is split, not zapped.
 */
static void map_one(struct race *x, size_t first, size_t count)
{
	size_t p;

	if (!x->w.r.ops->page_cache)
		return;
	for (p = first; p < first + count; p++)
		if (!x->w.hole[p]) {
			(void)*(volatile char *)page_addr(x, p);
			return;
		}
}

void reset_holes(struct race *x, size_t first, size_t count, size_t n)
{
	size_t p, np = 0, nf = 0;

	pick_holes(x, first, count, n);
	for (p = first; p < first + count; p++) {
		x->changed[p] = x->w.hole[p] || x->want[p] != W_FILL;
		if (x->w.hole[p] && x->want[p] != W_HOLE)
			x->to_punch[np++] = p;
		else if (!x->w.hole[p] && x->want[p] != W_FILL)
			x->to_fill[nf++] = p;
		x->want[p] = x->w.hole[p] ? W_HOLE : W_FILL;
	}
	fill_pages(x, x->to_fill, nf);
	punch_pages(x, x->to_punch, np);
	map_one(x, first, count);
}

/* The first page of the range that is not as the set-up made it, or -1. */
static long setup_mismatch(struct race *x, size_t first, size_t count)
{
	size_t p;

	for (p = first; p < first + count; p++)
		if (x->w.missing[p] != (x->want[p] == W_HOLE))
			return p;
	return -1;
}

/*
 * The set-up is what the iteration assumes: exactly the holes missing. A
 * hole punched in a huge page stays present (zeroed) when the huge page
 * cannot be split, as while a per-CPU LRU batch holds a reference to it:
 * then drain those batches (a one-page MADV_COLLAPSE does just that) and
 * punch again.
 */
void precondition(struct race *x, size_t first, size_t count)
{
	long bad = -1;
	size_t p;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (mem_missing(&x->w.r, x->w.missing)) {
			race_fail(x, "precondition: reading which pages are missing: %s",
				  strerror(errno));
			return;
		}
		bad = setup_mismatch(x, first, count);
		if (bad < 0 || x->want[bad] != W_HOLE)
			break;
		collapse(x->w.r.addr, x->ps);
		for (p = first; p < first + count; p++)
			if (x->want[p] == W_HOLE && !x->w.missing[p])
				punch(x, p);
	}
	if (bad >= 0)
		race_fail(x, "precondition: page %ld is %s before the race",
			  bad, x->w.missing[bad] ? "missing" : "present");
}

static bool words_are(const struct race *x, const char *page,
		      const uint64_t *ref)
{
	const volatile uint64_t *w = (const volatile uint64_t *)page;
	size_t i, last = x->ps / sizeof(*w) - 1;

	for (i = 0; i < NR_SAMPLES; i++)
		if (w[i * last / (NR_SAMPLES - 1)] != (ref ? ref[i] : 0))
			return false;
	return true;
}

static bool content_is(const struct race *x, const char *page, size_t p,
		       enum want w)
{
	if (!x->changed[p])
		return words_are(x, page, w == W_FILL ? x->ref[p].fill :
				 w == W_UFFD ? x->ref[p].uffd : NULL);
	if (w == W_FILL)
		return pattern_check(page, x->ps, PATTERN_FILL, p);
	if (w == W_UFFD)
		return pattern_check(page, x->ps, PATTERN_UFFD, p);
	return page_is_zero(page, x->ps);
}

const char *content_name(const struct race *x, const char *page, size_t p)
{
	if (page_is_zero(page, x->ps))
		return "zeros";
	if (pattern_check(page, x->ps, PATTERN_FILL, p))
		return "the test's data";
	if (pattern_check(page, x->ps, PATTERN_UFFD, p))
		return "the handler's data";
	return "other data";
}

static void verify_page(struct race *x, size_t p)
{
	enum want w = x->want[p];

	if (x->w.missing[p]) {
		if (w != W_HOLE && w != W_ZERO_OR_HOLE)
			race_fail(x, "page %zu (offset %#zx) is missing, should hold %s: data lost",
				  p, p * x->ps, want_name[w]);
		return;
	}
	if (w == W_HOLE) {
		race_fail(x, "page %zu (offset %#zx) is present, should be missing",
			  p, p * x->ps);
		return;
	}
	if (w == W_ZERO_OR_HOLE)
		w = W_ZERO;
	if (!content_is(x, page_addr(x, p), p, w))
		race_fail(x, "page %zu (offset %#zx) reads %s through the mapping, should read %s",
			  p, p * x->ps, content_name(x, page_addr(x, p), p),
			  want_name[w]);
	else if (x->w.r.ops->file && !content_is(x, x->buf + p * x->ps, p, w))
		race_fail(x, "page %zu (offset %#zx) reads %s through pread(), should read %s",
			  p, p * x->ps, content_name(x, x->buf + p * x->ps, p),
			  want_name[w]);
}

void verify_data(struct race *x, size_t first, size_t count)
{
	size_t p;

	if (mem_missing(&x->w.r, x->w.missing)) {
		race_fail(x, "reading which pages are missing: %s",
			  strerror(errno));
		return;
	}
	if (x->w.r.ops->file &&
	    pread(x->w.r.fd, x->buf, x->w.r.size, 0) != (ssize_t)x->w.r.size) {
		race_fail(x, "pread() of the file: %s", strerror(errno));
		return;
	}
	for (p = first; p < first + count && !race_failed(x); p++)
		verify_page(x, p);
}

void expect_collapsed_unseen(struct race *x, size_t first, size_t count)
{
	size_t p;

	for (p = first; p < first + count; p++)
		if (x->w.hole[p] && !x->seen[p])
			x->want[p] = W_ZERO;
}

const char *const fill_name[NR_FILL_HOW] = {
	[FILL_STORE] = "store", [FILL_PWRITE] = "pwrite()",
	[FILL_FALLOCATE] = "fallocate()",
};

int fill_page(struct race *x, size_t p, enum fill_how how, const char *buf)
{
	off_t off = p * x->ps;

	switch (how) {
	case FILL_STORE:
		pattern_fill(page_addr(x, p), x->ps, PATTERN_FILL, p);
		return 0;
	case FILL_PWRITE:
		return pwrite(x->w.r.fd, buf, x->ps, off) == (ssize_t)x->ps ?
		       0 : -1;
	default:
		return fallocate(x->w.r.fd, FALLOC_FL_KEEP_SIZE, off, x->ps);
	}
}

bool round_holes(struct race *x, size_t n)
{
	reset_holes(x, 0, x->w.npages, n);
	precondition(x, 0, x->w.npages);
	return !race_failed(x);
}

bool reset_ranges(struct race *x, size_t n)
{
	size_t per = x->w.r.pmd_size / x->ps, first;

	if (madvise(x->w.r.addr, x->w.r.size, MADV_NOHUGEPAGE))
		race_fail(x, "MADV_NOHUGEPAGE: %s", strerror(errno));
	unreg(x, 0, x->w.npages);
	for (first = 0; first < x->w.npages; first += per)
		reset_holes(x, first, per, n);
	precondition(x, 0, x->w.npages);
	return !race_failed(x);
}

bool range_full(const struct race *x, size_t i)
{
	size_t per = x->w.r.pmd_size / x->ps, p;

	for (p = i * per; p < (i + 1) * per; p++)
		if (x->w.missing[p])
			return false;
	return true;
}
