// SPDX-License-Identifier: GPL-2.0
/*
 * collapse_helper --pid PID [--seconds S]: map the first memfd open in
 * process PID (through /proc/PID/fd/N) MAP_SHARED and read-only at a 2 MiB
 * aligned address, advise MADV_HUGEPAGE and loop MADV_COLLAPSE over every
 * 2 MiB range until SIGTERM/SIGINT or S seconds (default 600).
 *
 * It never touches a page of the mapping: the loop makes only madvise() and
 * mincore() calls on it (a read would fill a shmem hole itself). It checks
 * this: the process's own minor and major fault counts (getrusage, the same
 * counters as /proc/self/stat) must not move during the loop, and it prints
 * them.
 *
 * Each call is counted by phase (0 until SIGUSR1, "postcopy"; 1 after,
 * "after"), by the range's state before the call (mincore: empty, partial,
 * full) and by result. A call that found a partial range and after which the
 * range is full without an error other than EINVAL is counted as "filled":
 * on a kernel without the MODE_MISSING check that is the collapse filling
 * holes (6.1 reports EINVAL when the caller has no page table even though the
 * page cache was collapsed), though the owner may also have filled them.
 *
 * Output lines start with "HELPER ". Exit 0, or 1 on a set-up error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/mman.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define PMD (2UL << 20)
#define PAGE 4096UL
#define NPTE (PMD / PAGE)

enum { EMPTY, PARTIAL, FULL, NSTATE };
enum { RES_OK, RES_EBUSY, RES_EAGAIN, RES_EINVAL, RES_ENOMEM, RES_OTHER, NRES };
static const char *const state_name[] = { "empty", "partial", "full" };
static const char *const phase_name[] = { "postcopy", "after" };

static volatile sig_atomic_t phase, stop;
static unsigned long calls[2][NSTATE][NRES], filled[2];
static unsigned char vec[NPTE];

static void on_usr1(int sig) { (void)sig; phase = 1; }
static void on_stop(int sig) { (void)sig; stop = 1; }

static void die(const char *what)
{
	printf("HELPER error %s: %s\n", what, strerror(errno));
	exit(1);
}

/* find_memfd: open the first memfd among PID's fds, read-only. */
static int find_memfd(const char *pid, char *path, size_t size)
{
	char dir[64], link[PATH_MAX];
	struct dirent *d;
	DIR *dp;
	ssize_t n;
	int fd = -1;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	dp = opendir(dir);
	if (!dp)
		die(dir);
	while (fd < 0 && (d = readdir(dp))) {
		snprintf(path, size, "%s/%s", dir, d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strncmp(link, "/memfd:", 7)) {
			fd = open(path, O_RDONLY);
			printf("HELPER memfd %s -> %s\n", path, link);
		}
	}
	closedir(dp);
	if (fd < 0)
		die("no memfd in the process");
	return fd;
}

/* resident: pages of the range in the page cache (mincore, no fault). */
static int resident(char *addr)
{
	unsigned long i;
	int n = 0;

	if (mincore(addr, PMD, vec))
		return -1;
	for (i = 0; i < NPTE; i++)
		n += vec[i] & 1;
	return n;
}

static int classify(int ret, int err)
{
	if (!ret)
		return RES_OK;
	switch (err) {
	case EBUSY: return RES_EBUSY;
	case EAGAIN: return RES_EAGAIN;
	case EINVAL: return RES_EINVAL;
	case ENOMEM: return RES_ENOMEM;
	default: return RES_OTHER;
	}
}

static long shmem_huge_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ShmemHugePages: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long file_resident(char *map, unsigned long nr)
{
	unsigned long r;
	long sum = 0;

	for (r = 0; r < nr; r++)
		sum += resident(map + r * PMD);
	return sum;
}

/*
 * prefault_stack: touch 256 KiB of stack below the caller, where the loop's
 * calls and the signal frames go (a volatile store per page, which the
 * compiler cannot drop).
 */
static __attribute__((noinline)) void prefault_stack(void)
{
	char pad[256 << 10];
	volatile char *p = pad;
	size_t i;

	for (i = 0; i < sizeof(pad); i += PAGE)
		p[i] = 0;
	__asm__ volatile("" : : "r"(pad) : "memory");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *pid = NULL;
	double seconds = 600, t0, t_end, first_ebusy = -1;
	unsigned long nr, r, loops = 0;
	struct rusage ru0, ru1;
	struct sigaction sa = { 0 };
	char path[PATH_MAX], *raw, *map;
	struct stat st;
	int fd, i, s, ret, err, before, after;
	long huge0, res0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else
			pid = NULL, i = argc;
	}
	if (!pid || seconds <= 0) {
		fprintf(stderr, "usage: collapse_helper --pid PID [--seconds S]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = find_memfd(pid, path, sizeof(path));
	if (fstat(fd, &st))
		die("fstat");
	nr = st.st_size / PMD;
	if (!nr)
		die("memfd smaller than 2 MiB");
	raw = mmap(NULL, (nr + 1) * PMD, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap reserve");
	map = (char *)(((unsigned long)raw + PMD - 1) & ~(PMD - 1));
	if (mmap(map, nr * PMD, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		die("mmap memfd");
	if (madvise(map, nr * PMD, MADV_HUGEPAGE))
		die("MADV_HUGEPAGE");

	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* the loop's data and stack are touched before its fault count */
	prefault_stack();
	memset(calls, 0, sizeof(calls));
	memset(filled, 0, sizeof(filled));
	memset(vec, 0, sizeof(vec));
	now();
	huge0 = shmem_huge_kb();
	res0 = file_resident(map, nr);
	printf("HELPER start ranges=%lu resident_pages=%ld shmem_huge_kb=%ld\n",
	       nr, res0, huge0);

	t0 = now();
	t_end = t0 + seconds;
	getrusage(RUSAGE_SELF, &ru0);
	while (!stop && now() < t_end) {
		for (r = 0; r < nr && !stop; r++) {
			char *a = map + r * PMD;
			int ph = phase;

			before = resident(a);
			if (before < 0)
				break;
			s = before == 0 ? EMPTY : before == NPTE ? FULL : PARTIAL;
			ret = madvise(a, PMD, MADV_COLLAPSE);
			err = errno;
			calls[ph][s][classify(ret, err)]++;
			if (ret && err == EBUSY && first_ebusy < 0)
				first_ebusy = now() - t0;
			after = resident(a);
			if (s == PARTIAL && after == NPTE && (!ret || err == EINVAL))
				filled[ph]++;
		}
		loops++;
	}
	getrusage(RUSAGE_SELF, &ru1);

	printf("HELPER loops=%lu seconds=%.1f first_ebusy_s=%.2f\n", loops,
	       now() - t0, first_ebusy);
	for (i = 0; i < 2; i++)
		for (s = 0; s < NSTATE; s++) {
			unsigned long *c = calls[i][s];

			printf("HELPER calls phase=%s state=%s ok=%lu ebusy=%lu eagain=%lu einval=%lu enomem=%lu other=%lu\n",
			       phase_name[i], state_name[s], c[RES_OK], c[RES_EBUSY],
			       c[RES_EAGAIN], c[RES_EINVAL], c[RES_ENOMEM], c[RES_OTHER]);
		}
	printf("HELPER filled phase=postcopy %lu phase=after %lu\n", filled[0], filled[1]);
	printf("HELPER end resident_pages=%ld shmem_huge_kb=%ld\n",
	       file_resident(map, nr), shmem_huge_kb());
	printf("HELPER faults minflt=%ld majflt=%ld\n",
	       ru1.ru_minflt - ru0.ru_minflt, ru1.ru_majflt - ru0.ru_majflt);
	return 0;
}
