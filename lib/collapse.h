/* SPDX-License-Identifier: GPL-2.0 */
/* MADV_COLLAPSE: the call, and whether this kernel has it at all. */
#ifndef UFFD_SUITE_COLLAPSE_H
#define UFFD_SUITE_COLLAPSE_H

#include <stdbool.h>
#include <stddef.h>

/* 0 on success, else errno of madvise(MADV_COLLAPSE). */
int collapse(void *addr, size_t len);
/*
 * Call @fn (a collapse returning 0 or an errno) again while it says EAGAIN,
 * the kernel's "try again" (a page locked, off the LRU or with a passing
 * extra reference), up to COLLAPSE_TRIES times; its last answer.
 */
#define COLLAPSE_TRIES 20
int collapse_settled(int (*fn)(void *addr, size_t len), void *addr,
		     size_t len);
/* True if the kernel knows MADV_COLLAPSE (5.x kernels answer EINVAL). */
bool collapse_supported(size_t pmd_size);
/*
 * NULL if the kernel has what every test of the suite needs (THP, a
 * userfaultfd this process may open, MADV_COLLAPSE), else what it lacks.
 */
const char *collapse_test_why_not(void);

#endif
