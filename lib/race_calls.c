// SPDX-License-Identifier: GPL-2.0
/* A race's lone MADV_COLLAPSE calls: control, calibration (race_calls.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "calls.h"
#include "collapse.h"
#include "race_calls.h"
#include "race_pages.h"
#include "race_uffd.h"
#include "uffd.h"

/*
 * Shmem's MADV_COLLAPSE also says EINVAL while hugepages-<PMD>kB/
 * shmem_enabled is "never" or shmem_enabled "deny": another process
 * writing the THP knobs (lib/thp's thp_knobs_for_suite() sets every size
 * to "never" before the PMD size back to "inherit") can cause it.
 */
const char *einval_hint(const struct race *x, int err)
{
	if (err != EINVAL || !x->w.r.ops->page_cache)
		return "";
	return " (or another process set the PMD size's shmem_enabled to never or shmem_enabled to deny meanwhile)";
}

/*
 * Read a word of every page present, as each iteration's verification does
 * before the holes are rebuilt and the race's calls made: a shmem collapse
 * unmaps every page it copies, refused or not, so a call over a mapped
 * range does more work than one over what a
 * previous call left.
 */
static void touch_present(struct race *x)
{
	size_t p;

	if (mem_missing(&x->w.r, x->w.missing)) {
		race_fail(x, "reading which pages are missing: %s",
			  strerror(errno));
		return;
	}
	for (p = 0; p < x->w.npages; p++)
		if (!x->w.missing[p])
			(void)*(volatile char *)page_addr(x, p);
}

void call_setup(struct race *x, bool registered, size_t holes)
{
	touch_present(x);
	reset_holes(x, 0, x->w.npages, holes);
	if (registered && reg_missing(x, 0, x->w.npages))
		race_fail(x, "UFFDIO_REGISTER: %s", strerror(errno));
}

void call_done(struct race *x, bool registered)
{
	size_t p;

	if (registered) {
		unreg(x, 0, x->w.npages);
		return;
	}
	for (p = 0; p < x->w.npages; p++)
		if (x->w.hole[p])
			x->want[p] = W_ZERO_OR_HOLE;
}

uint64_t second_shortest(uint64_t *d)
{
	uint64_t t;
	int i, j;

	for (i = 1; i < CALIBRATE_CALLS; i++)
		for (j = i; j > 0 && d[j - 1] > d[j]; j--) {
			t = d[j];
			d[j] = d[j - 1];
			d[j - 1] = t;
		}
	return d[1];
}

/*
 * The positive control, before any race: the race's collapse, set up as an
 * iteration sets it up but with no userfaultfd, succeeds here and now
 * (EAGAIN retried, as collapse_settled() does). If it does not (ENOMEM: no
 * huge page to be had; EINVAL: THP knobs forbid it), no outcome of the
 * race could tell a kernel's fault from the machine's: the race SKIPs with
 * this reason. False then.
 */
static bool race_control(struct race *x, size_t holes)
{
	int ret;

	call_setup(x, false, holes);
	ret = collapse_settled(collapse, x->w.r.addr, x->w.r.size);
	call_done(x, false);
	if (race_failed(x))
		return false;
	if (!ret)
		return true;
	snprintf(x->skip, sizeof(x->skip),
		 "control: MADV_COLLAPSE of %s with %zu holes and no userfaultfd: %s",
		 mem_type_name(x->w.r.type), holes, calls_errno_name(ret));
	return false;
}

/*
 * The length of a MADV_COLLAPSE of the whole range with holes: under
 * MODE_MISSING (@registered: shmem does the whole collapse before it
 * refuses) or not (anon refuses at once when registered, so what takes
 * time there is a collapse that succeeds). Each call is set up as an
 * iteration sets up its own (call_setup()). The second shortest of six
 * calls, the first untimed: the first huge pages of a fresh machine (or
 * VM) come slowly, and a moment drawn past the calls never races them.
 * reg_vs_collapse then follows the length of its own calls (reg_track()).
 */
bool calibrate(struct race *x, bool registered, size_t holes)
{
	uint64_t d[CALIBRATE_CALLS], t;
	int i;

	if (!race_control(x, holes))
		return false;
	for (i = 0; i < CALIBRATE_CALLS && !race_failed(x); i++) {
		call_setup(x, registered, holes);
		t = race_now_ns();
		collapse(x->w.r.addr, x->w.r.size);
		d[i] = i ? race_now_ns() - t : UINT64_MAX;
		call_done(x, registered);
	}
	x->call_ns = second_shortest(d);
	diag("a MADV_COLLAPSE of the range (%s) takes %" PRIu64 " us",
	     registered ? "registered, refused" : "collapsing",
	     x->call_ns / 1000);
	return !race_failed(x);
}

uint64_t refused_ns(struct race *x, char *at, size_t holes)
{
	uint64_t d[CALIBRATE_CALLS], t;
	int i, ret;

	for (i = 0; i < CALIBRATE_CALLS && !race_failed(x); i++) {
		call_setup(x, !at, holes);
		if (at && uffd_register(x->w.uffd, at, x->ps,
					UFFDIO_REGISTER_MODE_MISSING))
			race_fail(x, "UFFDIO_REGISTER of another mapping of the range: %s",
				  strerror(errno));
		t = race_now_ns();
		ret = collapse(x->w.r.addr, x->w.r.size);
		d[i] = race_now_ns() - t;
		if (at && uffd_unregister(x->w.uffd, at, x->ps))
			race_fail(x, "UFFDIO_UNREGISTER of another mapping of the range: %s",
				  strerror(errno));
		call_done(x, !at);
		if (ret != EBUSY)
			return 0;
	}
	return second_shortest(d);
}

/* How many ranges khugepaged has collapsed, as the kernel says now. */
static size_t ranges_collapsed(struct race *x)
{
	size_t i, n = 0;

	if (mem_missing(&x->w.r, x->w.missing))
		return 0;
	for (i = 0; i < x->w.r.size / x->w.r.pmd_size; i++)
		n += range_full(x, i);
	return n;
}

uint64_t khugepaged_control(struct race *x, size_t holes, int ms)
{
	size_t n = x->w.r.size / x->w.r.pmd_size;
	uint64_t t0, deadline;

	if (!reset_ranges(x, holes) ||
	    madvise(x->w.r.addr, x->w.r.size, MADV_HUGEPAGE))
		return 0;
	t0 = race_now_ns();
	deadline = t0 + ms * 1000000ULL;
	while (ranges_collapsed(x) < n && race_now_ns() < deadline)
		usleep(1000);
	if (ranges_collapsed(x) < n) {
		snprintf(x->skip, sizeof(x->skip),
			 "control: khugepaged did not collapse %zu unregistered %s ranges with holes in %d ms",
			 n, mem_type_name(x->w.r.type), ms);
		return 0;
	}
	expect_collapsed_unseen(x, 0, x->w.npages);
	return race_now_ns() - t0;
}
