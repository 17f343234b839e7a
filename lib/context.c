// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>

#include "collapse.h"
#include "compat.h"
#include "context.h"
#include "remote.h"
#include "thp.h"
#include "uring.h"

static int nothing_to_start(const char **why)
{
	(void)why;
	return 0;
}

static void nothing_to_stop(void)
{
}

static int uring_start(const char **why)
{
	*why = uring_probe();
	return *why ? 1 : 0;
}

static int uring_collapse(void *addr, size_t len)
{
	return -uring_madvise(addr, len, MADV_COLLAPSE);
}

static void *enrolled;
static int khugepaged_users;	/* scenarios started, not yet stopped */

/*
 * khugepaged scans only processes registered with it: register this one
 * (once: the region stays until the process exits), and make it fast
 * while scenarios in this context run (a control runs inside a test).
 */
static int khugepaged_start(const char **why)
{
	if (!enrolled)
		enrolled = thp_khugepaged_enroll(thp_pmd_size());
	*why = "set-up: mmap() of a region to enroll with khugepaged failed";
	if (!enrolled)
		return -1;
	if (!khugepaged_users++)
		thp_khugepaged_fast();
	return 0;
}

/* The knobs back when the last scenario in this context stops. */
static void khugepaged_stop(void)
{
	if (!--khugepaged_users)
		thp_khugepaged_fast_undo();
}

/*
 * MADV_HUGEPAGE makes the range khugepaged's to collapse
 * (hugepage_madvise() enrolls the mm, khugepaged_scan_mm_slot() visits
 * it); KHUGEPAGED_SCANS full scans after that, khugepaged has visited all
 * of it in a wakeup that began after the range was populated.
 * MADV_NOHUGEPAGE after it ends the act: khugepaged leaves the range
 * alone until the next call (a collapsed range stays PMD-mapped), once
 * the scan in progress is over: khugepaged retries a refused range on
 * every scan, and collapse_file() charges the holes to the inode before
 * its userfaultfd check rolls the attempt back, so st_blocks is only
 * settled after a full scan more.
 */
static int khugepaged_collapse(void *addr, size_t len)
{
	int ret;

	if (madvise(addr, len, MADV_HUGEPAGE))
		return errno;
	ret = thp_khugepaged_wait(addr, len, KHUGEPAGED_SCANS,
				  KHUGEPAGED_WAIT_MS);
	if (madvise(addr, len, MADV_NOHUGEPAGE))
		return errno;
	if (ret < 0 || !thp_wait_full_scans(1, KHUGEPAGED_WAIT_MS))
		return ETIMEDOUT;
	return ret ? 0 : COLLAPSE_LEFT_ALONE;
}

const struct collapse_context collapse_contexts[NR_CTX] = {
	[CTX_MADVISE] = { "madvise", nothing_to_start, collapse,
			  nothing_to_stop, true },
	[CTX_IO_URING] = { "io_uring", uring_start, uring_collapse,
			   nothing_to_stop, true },
	[CTX_PROCESS_MADVISE] = { "process_madvise", remote_start,
				  remote_collapse, remote_stop, true },
	[CTX_KHUGEPAGED] = { "khugepaged", khugepaged_start,
			     khugepaged_collapse, khugepaged_stop, false },
};
