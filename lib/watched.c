// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "watched.h"

const char *watched_create(struct watched *w, enum mem_type type,
			   size_t size, size_t pmd_size)
{
	const char *why;
	void *p;

	memset(w, 0, sizeof(*w));
	w->uffd = -1;
	w->r.fd = -1;
	why = mem_region_create(&w->r, type, size, pmd_size);
	if (why)
		return why;
	w->npages = mem_pages(&w->r);
	w->hole = calloc(w->npages, sizeof(bool));
	p = mmap(NULL, w->npages * sizeof(bool), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	w->missing = p == MAP_FAILED ? NULL : p;
	return w->hole && w->missing ? NULL : "out of memory";
}

int watched_handle(struct watched *w, char *addr, size_t len)
{
	if (uffd_handler_start(&w->h, w->uffd, addr, len))
		return -1;
	w->handling = true;
	return 0;
}

void watched_destroy(struct watched *w)
{
	if (w->handling)
		uffd_handler_stop(&w->h);
	w->handling = false;
	if (w->uffd >= 0)
		close(w->uffd);
	w->uffd = -1;
	mem_region_destroy(&w->r);
	free(w->hole);
	if (w->missing)
		munmap(w->missing, w->npages * sizeof(bool));
	w->hole = w->missing = NULL;
}
