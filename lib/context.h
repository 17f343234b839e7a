/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Collapse contexts: where MADV_COLLAPSE is called from. The guarantee
 * holds whichever asks: this thread (madvise(2)), an io_uring worker
 * (IORING_OP_MADVISE), or another process (process_madvise(2)).
 */
#ifndef UFFD_SUITE_CONTEXT_H
#define UFFD_SUITE_CONTEXT_H

#include <stddef.h>

enum collapse_ctx { CTX_MADVISE, CTX_IO_URING, CTX_PROCESS_MADVISE, NR_CTX };

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
};

extern const struct collapse_context collapse_contexts[NR_CTX];

#endif
