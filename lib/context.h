/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Collapse contexts: who collapses. The guarantee holds whichever does:
 * MADV_COLLAPSE from this thread (madvise(2)), from an io_uring worker
 * (IORING_OP_MADVISE) or from another process (process_madvise(2)); or
 * khugepaged, on a range advised MADV_HUGEPAGE.
 */
#ifndef UFFD_SUITE_CONTEXT_H
#define UFFD_SUITE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

enum collapse_ctx {
	CTX_MADVISE, CTX_IO_URING, CTX_PROCESS_MADVISE, CTX_KHUGEPAGED, NR_CTX
};

/*
 * khugepaged answers nothing: its context's collapse() says 0 once the
 * range is PMD-mapped, else COLLAPSE_LEFT_ALONE (not an errno) after
 * KHUGEPAGED_SCANS more full scans of khugepaged, or ETIMEDOUT if it made
 * none.
 */
#define COLLAPSE_LEFT_ALONE	1000
/*
 * Three, not two: khugepaged_do_scan() drains the per-CPU LRU batches
 * (lru_add_drain_all()) once per wakeup, then may complete two full scans
 * (pass_through_head < 2). A page still in a batch fails
 * hpage_collapse_scan_file()'s folio_test_lru() (SCAN_PAGE_LRU), so two
 * scans can be one wakeup whose drain came before the last pages were
 * populated; the third starts in a later wakeup, after a drain.
 */
#define KHUGEPAGED_SCANS	3
#define KHUGEPAGED_WAIT_MS	30000

struct collapse_context {
	const char *name;
	/*
	 * Get ready (before the memory is mapped): 0; or 1 and in *@why what
	 * the kernel lacks; or -1 and in *@why the set-up error.
	 */
	int (*start)(const char **why);
	/* 0, or the errno of MADV_COLLAPSE of [@addr, @addr + @len). */
	int (*collapse)(void *addr, size_t len);
	void (*stop)(void);
	/* Does collapse() give the errno the kernel gave (not khugepaged)? */
	bool answers;
};

extern const struct collapse_context collapse_contexts[NR_CTX];

#endif
