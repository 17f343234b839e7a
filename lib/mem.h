/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test memory: PMD-aligned regions of each memory type, filled with
 * PATTERN_FILL except at chosen holes, and which of their pages are missing.
 */
#ifndef UFFD_SUITE_MEM_H
#define UFFD_SUITE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mem_type {
	MEM_ANON,		/* MAP_PRIVATE | MAP_ANONYMOUS */
	MEM_MEMFD,		/* memfd_create(), MAP_SHARED */
	MEM_SHARED_ANON,	/* MAP_SHARED | MAP_ANONYMOUS (shmem) */
	MEM_TMPFS,		/* unlinked file on a tmpfs mount, MAP_SHARED */
};

struct region;

/*
 * The memory-type table (mem_types[], in mem.c): what differs between the
 * types is said once here, so that no test or race branches on the type.
 * A new type is a new row.
 */
struct mem_ops {
	const char *name;		/* as in test names, e.g. "tmpfs-file" */
	/*
	 * The pages are shmem's page cache: MADV_COLLAPSE and khugepaged run
	 * collapse_file(), which checks the userfaultfd registration of every
	 * mapping of the file, and leaves the range PMD-mappable in the
	 * cache even where a mapping keeps its page table. Else the anon
	 * scan, hpage_collapse_scan_pmd() and __collapse_huge_page_isolate(),
	 * which look at the one VMA and its PTEs.
	 */
	bool page_cache;
	/*
	 * There is a file: a page can be filled (pwrite()), read (pread()),
	 * punched (fallocate()) and counted (st_blocks) without the mapping,
	 * so with no userfaultfd event. Without one, a missing page can only
	 * be faulted in, through the mapping.
	 */
	bool file;
	/* How mem_missing() tells which pages are missing, for messages. */
	const char *missing_how;
	/* The mTHP knob under hugepages-<size>kB/ for this memory. */
	const char *mthp_knob;
	/* Features a MODE_WP registration needs here, besides FLAG_WP. */
	uint64_t wp_features;
	/* madvise() advice that makes a page missing through the mapping. */
	int punch_advice;
	int mmap_flags;			/* MAP_PRIVATE / MAP_SHARED, ... */
	/* Set r->fd (-1: no file); NULL, or why the type cannot be had. */
	const char *(*open)(struct region *r);
	int (*missing)(const struct region *r, bool *missing);
	/* Map pages [off, off + len) of @r again at @at (MAP_FIXED), if can. */
	char *(*map_at)(const struct region *r, size_t off, size_t len,
			char *at);
};

extern const struct mem_ops mem_types[];

struct region {
	enum mem_type type;
	const struct mem_ops *ops;	/* &mem_types[type] */
	char *addr;
	size_t size;		/* a multiple of pmd_size */
	size_t pmd_size, page_size;
	int fd;			/* -1 for anonymous types */
	bool huge_advise;	/* a tmpfs file on our own huge=advise mount */
};

const char *mem_type_name(enum mem_type type);
/* NULL on success, else why the type cannot be had here. */
const char *mem_region_create(struct region *r, enum mem_type type,
			      size_t size, size_t pmd_size);
void mem_region_destroy(struct region *r);
/*
 * NULL if khugepaged may collapse @r (with MADV_HUGEPAGE), else why not:
 * a tmpfs file on a mount without huge= (khugepaged honours the mount's
 * option, not shmem_enabled), where the private huge=advise mount could
 * not be made.
 */
const char *mem_khugepaged_why_not(const struct region *r);
/* Map the pages [off, off + len) of @r's file again, PMD-aligned. */
char *mem_map_again(const struct region *r, size_t off, size_t len);
/* The same at address @at (MAP_FIXED: replacing what is there), or NULL. */
char *mem_map_at(const struct region *r, size_t off, size_t len, char *at);

static inline size_t mem_pages(const struct region *r)
{
	return r->size / r->page_size;
}

/* Holes at every @stride-th page starting at @first, in [0, npages). */
void mem_holes_every(bool *hole, size_t npages, size_t first, size_t stride);
/* Write PATTERN_FILL into each page that is not a hole. */
void mem_fill(struct region *r, const bool *hole);
/*
 * Make pages [@first, @first + @n) missing again: a hole punched in the
 * file (fallocate), MADV_REMOVE for shared anon, MADV_DONTNEED for anon
 * (the page table stays). 0, or -1 with errno.
 */
int mem_punch(const struct region *r, size_t first, size_t n);
/*
 * large[i] = page i of @r is mapped here and part of a large folio (mTHP or
 * THP), by its PFN (/proc/self/pagemap) and /proc/kpageflags (root). 0, or
 * -1 if either cannot be read.
 */
int mem_large_folios(const struct region *r, bool *large);
/*
 * wp[i] = page i of the mapping of @r's pages at @at is write-protected by
 * userfaultfd (its PTE, or a uffd-wp PTE marker: /proc/self/pagemap bit
 * 57). 0, or -1 if pagemap cannot be read.
 */
int mem_uffd_wp(const struct region *r, char *at, bool *wp);
/* This process's page tables, in kB (VmPTE of /proc/self/status), or -1. */
long mem_page_tables_kb(void);
/* Page index of the first page whose contents are not as expected, or -1. */
long mem_verify_fill(const struct region *r, const bool *hole);

/* missing[i] = page i of @r is not present (not in page cache / no PTE). */
int mem_missing(const struct region *r, bool *missing);

/* File size and allocated blocks; both 0 for private anonymous memory. */
int mem_stat(const struct region *r, long long *size, long long *blocks);

#endif
