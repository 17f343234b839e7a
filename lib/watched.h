/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A watched region, what both binaries build on: test memory of one type
 * (lib/mem.h), the pages the test made missing and those the kernel says
 * are missing, and a userfaultfd with its recording fault handler
 * (lib/uffd.h).
 */
#ifndef UFFD_SUITE_WATCHED_H
#define UFFD_SUITE_WATCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "mem.h"
#include "uffd.h"

struct watched {
	struct region r;
	size_t npages;
	bool *hole;		/* what the test made missing */
	bool *missing;		/* what the kernel says (MAP_SHARED: forks) */
	int uffd;		/* -1 until the test opens one */
	bool handling;		/* the handler thread runs */
	struct uffd_handler h;
};

/*
 * @size bytes (a multiple of @pmd_size) of @type, PMD-aligned, and the
 * page arrays; no userfaultfd yet. NULL, or why not (a set-up error): @w
 * is then ready for watched_destroy() all the same.
 */
const char *watched_create(struct watched *w, enum mem_type type,
			   size_t size, size_t pmd_size);
/* Handle w->uffd's faults over [@addr, @addr + @len): 0, or -1. */
int watched_handle(struct watched *w, char *addr, size_t len);
/* Stop the handler, close the userfaultfd, free the memory. */
void watched_destroy(struct watched *w);

#endif
