/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A crowd of extra mappings of one page of a shared region, each its own
 * VMA in the file's i_mmap interval tree. The tree is walked in order of
 * file offset, so with the crowd at the region's last page, a walk over the
 * region's range (collapse_file()'s userfaultfd check) visits the region's
 * own mapping first and then every mapping of the crowd.
 */
#ifndef UFFD_SUITE_CROWD_H
#define UFFD_SUITE_CROWD_H

#include <stddef.h>
#include "mem.h"

struct crowd {
	char **addr;
	size_t n, page_size;
};

/*
 * Up to @n mappings of page @page of @r (fewer if vm.max_map_count leaves
 * less room; @c->n says how many). NULL, or why not (a set-up error).
 */
const char *crowd_create(struct crowd *c, const struct region *r,
			 size_t page, size_t n);
void crowd_destroy(struct crowd *c);

#endif
