// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>

#include "collapse.h"
#include "compat.h"
#include "context.h"
#include "remote.h"
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

const struct collapse_context collapse_contexts[NR_CTX] = {
	[CTX_MADVISE] = {
		"madvise", nothing_to_start, collapse, nothing_to_stop },
	[CTX_IO_URING] = {
		"io_uring", uring_start, uring_collapse, nothing_to_stop },
	[CTX_PROCESS_MADVISE] = {
		"process_madvise", remote_start, remote_collapse, remote_stop },
};
