// SPDX-License-Identifier: GPL-2.0
/* A crowd of extra mappings of one page of a shared region (crowd.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "crowd.h"

#define MAP_COUNT_SPARE	1000	/* mappings left for the rest of the test */

/* How many more mappings vm.max_map_count allows this process. */
static size_t map_room(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	size_t max = 65530, used = 0;
	char line[512];

	if (f) {
		if (fscanf(f, "%zu", &max) != 1)
			max = 65530;
		fclose(f);
	}
	f = fopen("/proc/self/maps", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			used += !!strchr(line, '\n');
		fclose(f);
	}
	return max > used + MAP_COUNT_SPARE ? max - used - MAP_COUNT_SPARE : 0;
}

/*
 * mremap() with an old size of 0 maps a shared mapping's pages once more,
 * at a new address: a new VMA at the same file offset. Neighbours of the
 * same page cannot merge (their offsets are not contiguous).
 */
const char *crowd_create(struct crowd *c, const struct region *r,
			 size_t page, size_t n)
{
	static char why[160];
	char *src = r->addr + page * r->page_size, *p;
	size_t room = map_room();

	c->n = 0;
	c->page_size = r->page_size;
	if (n > room)
		n = room;
	c->addr = calloc(n ? n : 1, sizeof(*c->addr));
	if (!c->addr)
		return "out of memory";
	while (c->n < n) {
		p = mremap(src, 0, r->page_size, MREMAP_MAYMOVE);
		if (p == MAP_FAILED) {
			snprintf(why, sizeof(why),
				 "mapping page %zu again (mapping %zu of %zu): %s",
				 page, c->n + 1, n, strerror(errno));
			return why;
		}
		c->addr[c->n++] = p;
	}
	return NULL;
}

void crowd_destroy(struct crowd *c)
{
	while (c->n)
		munmap(c->addr[--c->n], c->page_size);
	free(c->addr);
	c->addr = NULL;
}
