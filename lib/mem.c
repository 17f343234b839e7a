// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "compat.h"
#include "mem.h"
#include "pattern.h"

#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_PFN ((1ULL << 55) - 1)
#define KPF_COMPOUND_HEAD 15	/* include/uapi/linux/kernel-page-flags.h */
#define KPF_COMPOUND_TAIL 16
#define PAGEMAP_SWAPPED (1ULL << 62)
/* The PTE (or its uffd-wp marker) is write-protected by userfaultfd. */
#define PAGEMAP_UFFD_WP (1ULL << 57)

/*
 * Reserve @len + @align bytes PROT_NONE and return the aligned start: the
 * mapping placed there with MAP_FIXED keeps PROT_NONE guards on both sides,
 * so it never merges with a neighbour and is one VMA in smaps.
 */
static char *reserve_aligned(size_t len, size_t align)
{
	char *p = mmap(NULL, len + 2 * align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	return (char *)(((uintptr_t)p + 2 * align - 1) & ~(align - 1));
}

static char *map_aligned(size_t len, size_t align, int flags, int fd,
			 off_t off)
{
	char *want = reserve_aligned(len, align), *p;

	if (!want)
		return NULL;
	p = mmap(want, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, off);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * A file on a tmpfs mount of our own with huge=advise (as khugepaged honours
 * a mount's huge= option, not shmem_enabled), mounted in a private mount
 * namespace and detached at once: the open file keeps it alive, nothing is
 * left behind.
 */
static int open_private_tmpfs_file(void)
{
	char dir[] = "/tmp/uffd-collapse-XXXXXX";
	int fd;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || !mkdtemp(dir))
		return -1;
	if (mount("tmpfs", dir, "tmpfs", 0, "huge=advise")) {
		rmdir(dir);
		return -1;
	}
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return fd;
}

/*
 * Else a tmpfs directory there is: $TMPDIR, /dev/shm or /tmp (*@own:
 * whether the file is on our huge=advise mount).
 */
static int open_tmpfs_file(bool *own)
{
	const char *dirs[] = { getenv("TMPDIR"), "/dev/shm", "/tmp" };
	struct statfs sfs;
	size_t i;
	int fd = open_private_tmpfs_file();

	*own = fd >= 0;
	for (i = 0; fd < 0 && i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i] || statfs(dirs[i], &sfs) ||
		    sfs.f_type != TMPFS_MAGIC)
			continue;
		fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	return fd;
}

static const char *open_memfd(struct region *r)
{
	r->fd = memfd_create("uffd-collapse", MFD_CLOEXEC);
	return r->fd < 0 ? "memfd_create() failed" : NULL;
}

static const char *open_tmpfs(struct region *r)
{
	r->fd = open_tmpfs_file(&r->huge_advise);
	return r->fd < 0 ? "no tmpfs to create a file in" : NULL;
}

static const char *open_none(struct region *r)
{
	r->fd = -1;
	return NULL;
}

const char *mem_khugepaged_why_not(const struct region *r)
{
	if (r->type != MEM_TMPFS || r->huge_advise)
		return NULL;
	return "a tmpfs file on a mount without huge= (no private huge=advise mount here): khugepaged leaves it alone";
}

const char *mem_region_create(struct region *r, enum mem_type type,
			      size_t size, size_t pmd_size)
{
	const char *why;

	memset(r, 0, sizeof(*r));
	r->type = type;
	r->ops = &mem_types[type];
	r->size = size;
	r->pmd_size = pmd_size;
	r->page_size = getpagesize();
	why = r->ops->open(r);
	if (why)
		return why;
	if (r->ops->file && ftruncate(r->fd, size))
		return "ftruncate() failed";
	r->addr = map_aligned(size, pmd_size, r->ops->mmap_flags, r->fd, 0);
	return r->addr ? NULL : "mmap() failed";
}

void mem_region_destroy(struct region *r)
{
	if (r->addr)
		munmap(r->addr, r->size);
	if (r->fd >= 0)
		close(r->fd);
	r->addr = NULL;
	r->fd = -1;
}

static char *map_file_at(const struct region *r, size_t off, size_t len,
			 char *at)
{
	char *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, r->fd, off);

	return p == MAP_FAILED ? NULL : p;
}

/* Shared anonymous memory has no fd: mremap(0) aliases it. */
static char *map_alias_at(const struct region *r, size_t off, size_t len,
			  char *at)
{
	char *p = mremap(r->addr + off, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			 at);

	return p == MAP_FAILED ? NULL : p;
}

char *mem_map_at(const struct region *r, size_t off, size_t len, char *at)
{
	/* Private anonymous memory cannot be mapped twice: no map_at. */
	return r->ops->map_at ? r->ops->map_at(r, off, len, at) : NULL;
}

char *mem_map_again(const struct region *r, size_t off, size_t len)
{
	char *want = reserve_aligned(len, r->pmd_size);

	return want ? mem_map_at(r, off, len, want) : NULL;
}

void mem_holes_every(bool *hole, size_t npages, size_t first, size_t stride)
{
	size_t i;

	for (i = 0; i < npages; i++)
		hole[i] = i >= first && (i - first) % stride == 0;
}

void mem_fill(struct region *r, const bool *hole)
{
	size_t i;

	for (i = 0; i < mem_pages(r); i++)
		if (!hole[i])
			pattern_fill(r->addr + i * r->page_size, r->page_size,
				     PATTERN_FILL, i);
}

long mem_verify_fill(const struct region *r, const bool *hole)
{
	size_t i;

	for (i = 0; i < mem_pages(r); i++)
		if (!hole[i] && !pattern_check(r->addr + i * r->page_size,
					       r->page_size, PATTERN_FILL, i))
			return i;
	return -1;
}

/* Page-cache holes of the file, by SEEK_DATA/SEEK_HOLE. */
static int missing_by_seek(const struct region *r, bool *missing)
{
	off_t pos = 0, data, hole;
	size_t i;

	for (i = 0; i < mem_pages(r); i++)
		missing[i] = true;
	while (pos < (off_t)r->size) {
		data = lseek(r->fd, pos, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -1;
		hole = lseek(r->fd, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		for (pos = data; pos < hole && pos < (off_t)r->size;
		     pos += r->page_size)
			missing[pos / r->page_size] = false;
		pos = hole;
	}
	return 0;
}

static int pagemap_fd = -1;

/* In a child after fork(): the inherited fd reads the parent's mm. */
static void pagemap_forget(void)
{
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pagemap_fd = -1;
}

static void pagemap_init(void)
{
	pthread_atfork(NULL, NULL, pagemap_forget);
}

/*
 * /proc/self/pagemap, opened once per process: opening and closing it
 * cost about as much as reading a PMD's entries. Threads may race to open
 * it; one fd wins.
 */
static int pagemap(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int fd, none = -1;

	pthread_once(&once, pagemap_init);
	fd = __atomic_load_n(&pagemap_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!__atomic_compare_exchange_n(&pagemap_fd, &none, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);
		return none;
	}
	return fd;
}

/*
 * A PTE marker (e.g. uffd-wp's in a hole, UFFD_FEATURE_WP_UNPOPULATED) is
 * no page: pagemap shows it as swapped (pte_to_pagemap_entry()), with, to
 * root, swap type SWP_PTE_MARKER: the last of the 5-bit type field
 * (MAX_SWAPFILES_SHIFT), no swap file's.
 */
static bool pagemap_is_marker(uint64_t ent)
{
	const uint64_t type_mask = (1 << 5) - 1;

	return (ent & PAGEMAP_SWAPPED) && (ent & type_mask) == type_mask;
}

/* The /proc/self/pagemap entries of @r's pages (to free()), or NULL. */
static uint64_t *pagemap_read(const struct region *r)
{
	size_t n = mem_pages(r);
	uint64_t *ent = calloc(n, sizeof(*ent));
	off_t off = (uintptr_t)r->addr / r->page_size * sizeof(*ent);
	int fd = pagemap();

	if (fd < 0 || !ent ||
	    pread(fd, ent, n * sizeof(*ent), off) != (ssize_t)(n * sizeof(*ent))) {
		free(ent);
		return NULL;
	}
	return ent;
}

/* Present or swapped PTEs, by /proc/self/pagemap. */
static int missing_by_pagemap(const struct region *r, bool *missing)
{
	uint64_t *ent = pagemap_read(r);
	size_t i;

	if (!ent)
		return -1;
	for (i = 0; i < mem_pages(r); i++)
		missing[i] = !(ent[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)) ||
			     pagemap_is_marker(ent[i]);
	free(ent);
	return 0;
}

/* Page-cache residency for shmem without an fd, by mincore(). */
static int missing_by_mincore(const struct region *r, bool *missing)
{
	size_t i, n = mem_pages(r);
	unsigned char *vec = malloc(n);

	if (!vec || mincore(r->addr, r->size, vec)) {
		free(vec);
		return -1;
	}
	for (i = 0; i < n; i++)
		missing[i] = !(vec[i] & 1);
	free(vec);
	return 0;
}

int mem_missing(const struct region *r, bool *missing)
{
	return r->ops->missing(r, missing);
}

int mem_stat(const struct region *r, long long *size, long long *blocks)
{
	struct stat st;

	*size = *blocks = 0;
	if (!r->ops->file)
		return 0;
	if (fstat(r->fd, &st))
		return -1;
	*size = st.st_size;
	*blocks = st.st_blocks;
	return 0;
}

int mem_punch(const struct region *r, size_t first, size_t n)
{
	size_t off = first * r->page_size, len = n * r->page_size;

	if (r->ops->file)
		return fallocate(r->fd, FALLOC_FL_PUNCH_HOLE |
				 FALLOC_FL_KEEP_SIZE, off, len);
	return madvise(r->addr + off, len, r->ops->punch_advice);
}

long mem_page_tables_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int mem_uffd_wp(const struct region *r, char *at, bool *wp)
{
	struct region alias = *r;
	uint64_t *ent;
	size_t i;

	alias.addr = at;
	ent = pagemap_read(&alias);
	if (!ent)
		return -1;
	for (i = 0; i < mem_pages(r); i++)
		wp[i] = ent[i] & PAGEMAP_UFFD_WP;
	free(ent);
	return 0;
}

int mem_large_folios(const struct region *r, bool *large)
{
	const uint64_t compound = (1ULL << KPF_COMPOUND_HEAD) |
				  (1ULL << KPF_COMPOUND_TAIL);
	uint64_t *ent = pagemap_read(r), flags;
	int kpf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	int ret = -1;
	size_t i;

	if (kpf < 0 || !ent)
		goto out;
	for (i = 0; i < mem_pages(r); i++) {
		large[i] = false;
		if (!(ent[i] & PAGEMAP_PRESENT) || !(ent[i] & PAGEMAP_PFN))
			continue;
		if (pread(kpf, &flags, sizeof(flags),
			  (ent[i] & PAGEMAP_PFN) * sizeof(flags)) != sizeof(flags))
			goto out;
		large[i] = flags & compound;
	}
	ret = 0;
out:
	if (kpf >= 0)
		close(kpf);
	free(ent);
	return ret;
}

/* What every shmem type has in common. */
#define SHMEM_OPS							\
	.page_cache = true,						\
	.mthp_knob = "shmem_enabled",					\
	.wp_features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM,			\
	.punch_advice = MADV_REMOVE

const struct mem_ops mem_types[] = {
	[MEM_ANON] = {
		.name = "anon",
		.missing_how = "/proc/self/pagemap",
		.mthp_knob = "enabled",
		.punch_advice = MADV_DONTNEED,	/* the page table stays */
		.mmap_flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.open = open_none,
		.missing = missing_by_pagemap,
	},
	[MEM_MEMFD] = {
		SHMEM_OPS,
		.name = "memfd",
		.file = true,
		.missing_how = "SEEK_DATA/SEEK_HOLE",
		.mmap_flags = MAP_SHARED,
		.open = open_memfd,
		.missing = missing_by_seek,
		.map_at = map_file_at,
	},
	[MEM_SHARED_ANON] = {
		SHMEM_OPS,
		.name = "shared-anon",
		.missing_how = "mincore()",
		.mmap_flags = MAP_SHARED | MAP_ANONYMOUS,
		.open = open_none,
		.missing = missing_by_mincore,
		.map_at = map_alias_at,
	},
	[MEM_TMPFS] = {
		SHMEM_OPS,
		.name = "tmpfs-file",
		.file = true,
		.missing_how = "SEEK_DATA/SEEK_HOLE",
		.mmap_flags = MAP_SHARED,
		.open = open_tmpfs,
		.missing = missing_by_seek,
		.map_at = map_file_at,
	},
};

const char *mem_type_name(enum mem_type type)
{
	return mem_types[type].name;
}
