// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collapse.h"
#include "compat.h"
#include "thp.h"
#include "uffd.h"

int collapse(void *addr, size_t len)
{
	return madvise(addr, len, MADV_COLLAPSE) ? errno : 0;
}

int collapse_settled(int (*fn)(void *addr, size_t len), void *addr,
		     size_t len)
{
	int tries, err = 0;

	for (tries = 0; tries < COLLAPSE_TRIES; tries++) {
		err = fn(addr, len);
		if (err != EAGAIN)
			break;
		usleep(10000);
	}
	return err;
}

/*
 * A one-page MADV_COLLAPSE in a THP-eligible VMA covers no whole PMD, so a
 * kernel that knows the advice returns 0 without collapsing anything. The
 * page is touched first: anon VMAs without an anon_vma are not eligible.
 */
bool collapse_supported(size_t pmd_size)
{
	size_t len = 3 * pmd_size;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned;
	bool ok;

	if (p == MAP_FAILED)
		return false;
	aligned = (char *)(((uintptr_t)p + pmd_size - 1) & ~(pmd_size - 1));
	*aligned = 1;
	ok = !madvise(aligned, getpagesize(), MADV_COLLAPSE);
	munmap(p, len);
	return ok;
}

const char *collapse_test_why_not(void)
{
	size_t pmd = thp_pmd_size();

	if (!pmd)
		return "kernel without transparent huge pages";
	if (!uffd_features())
		return "kernel without userfaultfd (or not permitted)";
	if (!collapse_supported(pmd))
		return "kernel without MADV_COLLAPSE";
	return NULL;
}
