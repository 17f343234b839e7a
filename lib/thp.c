// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "thp.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"
#define MAX_KNOBS 64
/*
 * The lock, as run_tests.sh's: only in a directory that root owns and no
 * one else may write to (so no one else can have put a symlink there:
 * /run/lock is world-writable on Debian), and never through a symlink.
 */
#define LOCK_DIR "/run"
#define LOCK_PATH LOCK_DIR "/uffd-collapse-suite.lock"
#define LOCK_WAIT_S 600

struct knob {
	char path[160];
	char value[32];
};

static struct knob knobs[MAX_KNOBS];
static int nr_knobs;
static bool guarded;

static const char *const fixed_knobs[] = {
	"enabled", "shmem_enabled", "defrag",
	"khugepaged/defrag", "khugepaged/max_ptes_none",
	"khugepaged/max_ptes_swap", "khugepaged/max_ptes_shared",
	"khugepaged/pages_to_scan", "khugepaged/scan_sleep_millisecs",
	"khugepaged/alloc_sleep_millisecs",
};

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Async-signal-safe: used from the signal handler. */
static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? -1 : 0;
}

/* "always [madvise] never\n" -> "madvise"; "511\n" -> "511". */
static int read_knob(const char *path, char *value, size_t size)
{
	char buf[256], *open_br, *close_br;

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	open_br = strchr(buf, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (open_br && close_br) {
		*close_br = '\0';
		memmove(buf, open_br + 1, strlen(open_br + 1) + 1);
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strlen(buf) >= size)
		return -1;
	strcpy(value, buf);
	return 0;
}

static void save_knob(const char *path)
{
	struct knob *k = &knobs[nr_knobs];

	if (nr_knobs == MAX_KNOBS || strlen(path) >= sizeof(k->path))
		return;
	if (read_knob(path, k->value, sizeof(k->value)))
		return;
	strcpy(k->path, path);
	nr_knobs++;
}

static void save_all_knobs(void)
{
	char path[160];
	glob_t g;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fixed_knobs); i++) {
		snprintf(path, sizeof(path), THP_DIR "%s", fixed_knobs[i]);
		save_knob(path);
	}
	if (glob(THP_DIR "hugepages-*kB/*enabled", 0, NULL, &g))
		return;
	for (i = 0; i < g.gl_pathc; i++)
		save_knob(g.gl_pathv[i]);
	globfree(&g);
}

void thp_knobs_restore(void)
{
	int i;

	for (i = 0; i < nr_knobs; i++)
		write_file(knobs[i].path, knobs[i].value);
}

static void restore_on_signal(int sig)
{
	thp_knobs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* LOCK_DIR is a directory, not a symlink, owned by root, writable by it only. */
static bool lock_dir_safe(void)
{
	struct stat st;

	return !lstat(LOCK_DIR, &st) && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * The lock's descriptor: the one run_tests.sh holds it on and passes down
 * (flock() on the same open file succeeds at once), else our own; -1 when
 * there is no safe LOCK_DIR (no lock then, as in run_tests.sh). A lock file
 * that cannot be opened as a regular file (a symlink, say) bails out.
 */
static int lock_fd(void)
{
	const char *env = getenv("UFFD_SUITE_LOCK_FD");
	struct stat st;
	int fd;

	if (env && *env) {
		fd = atoi(env);
		if (fd > 2 && fcntl(fd, F_GETFD) >= 0)
			return fd;
	}
	if (!lock_dir_safe())
		return -1;
	fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		printf("Bail out! cannot open the lock %s (a symlink or not a file)\n",
		       LOCK_PATH);
		exit(1);	/* KSFT_FAIL; nothing set yet */
	}
	return fd;
}

/*
 * One run of the suite at a time: the knobs are global, and a run started
 * while another had set them would save the suite's values as the
 * originals, and put those back at its exit. Wait for the other run, at
 * most LOCK_WAIT_S; the lock goes with the process.
 */
static void knobs_lock(void)
{
	int fd = lock_fd(), tries = 0;

	if (fd < 0)
		return;	/* nowhere to lock */
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK)
			return;
		if (!tries)
			fprintf(stderr, "waiting for another run of the suite to put the THP knobs back\n");
		if (++tries > LOCK_WAIT_S * 10) {
			printf("Bail out! another run of the suite held the THP knobs for %d s\n",
			       LOCK_WAIT_S);
			exit(1);	/* KSFT_FAIL; nothing set yet */
		}
		usleep(100000);
	}
}

static __thread pid_t forking_pid;

static void fork_prepare(void)
{
	forking_pid = getpid();
}

/*
 * A process forked after thp_knobs_guard() is SIGKILLed when its parent
 * dies: the harness runs each test in a process group of its own, which a
 * Ctrl-C or a signal to the binary's group does not reach, and a test left
 * running would go on changing knobs after they were restored. The dying
 * parent restores them; the children, killed, write nothing.
 */
static void fork_child(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != forking_pid)
		_exit(1);	/* the parent died before prctl() */
}

void thp_knobs_guard(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	size_t i;

	if (guarded)
		return;
	guarded = true;
	knobs_lock();
	save_all_knobs();
	atexit(thp_knobs_restore);
	pthread_atfork(fork_prepare, NULL, fork_child);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], restore_on_signal);
}

int thp_knob_set(const char *name, const char *value)
{
	char path[160];

	snprintf(path, sizeof(path), THP_DIR "%s", name);
	return write_file(path, value);
}

int thp_knob_get(const char *name, char *value, size_t size)
{
	char path[160];

	snprintf(path, sizeof(path), THP_DIR "%s", name);
	return read_knob(path, value, size);
}

void thp_mthp_set(const char *name, const char *value)
{
	char pattern[160], pmd_dir[64];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), THP_DIR "hugepages-*kB/%s", name);
	snprintf(pmd_dir, sizeof(pmd_dir), "/hugepages-%zukB/",
		 thp_pmd_size() / 1024);
	if (glob(pattern, 0, NULL, &g))
		return;
	for (i = 0; i < g.gl_pathc; i++)
		if (!strstr(g.gl_pathv[i], pmd_dir))
			write_file(g.gl_pathv[i], value);
	globfree(&g);
}

/* The PMD size's own knob: "inherit" follows the top-level one. */
static void thp_pmd_knob_set(const char *name, const char *value)
{
	char knob[64];

	snprintf(knob, sizeof(knob), "hugepages-%zukB/%s",
		 thp_pmd_size() / 1024, name);
	thp_knob_set(knob, value);
}

void thp_knobs_for_suite(void)
{
	thp_knob_set("enabled", "madvise");
	thp_knob_set("shmem_enabled", "advise");
	thp_knob_set("defrag", "madvise");
	thp_pmd_knob_set("enabled", "inherit");
	thp_pmd_knob_set("shmem_enabled", "inherit");
	thp_mthp_set("enabled", "never");
	thp_mthp_set("shmem_enabled", "never");
	thp_knob_set("khugepaged/scan_sleep_millisecs", "10");
	thp_knob_set("khugepaged/alloc_sleep_millisecs", "10");
	thp_knob_set("khugepaged/max_ptes_none", "511");
}

size_t thp_pmd_size(void)
{
	char buf[32];

	if (read_file(THP_DIR "hpage_pmd_size", buf, sizeof(buf)))
		return 0;
	return strtoul(buf, NULL, 10);
}

static bool smaps_field(const char *line, const char *name, long *kb)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) || line[n] != ':')
		return false;
	*kb = strtol(line + n + 1, NULL, 10);
	return true;
}

/* Is @line a VMA header "start-end ..." covering @addr? */
static int vma_header(const char *line, unsigned long addr)
{
	unsigned long start, end;

	if (sscanf(line, "%lx-%lx ", &start, &end) != 2)
		return -1;
	return addr >= start && addr < end;
}

long thp_pmd_mapped(const void *addr)
{
	static const char *const fields[] = {
		"AnonHugePages", "ShmemPmdMapped", "FilePmdMapped",
	};
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long total = 0, kb;
	int in_vma = 0, hdr;
	size_t i;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		hdr = vma_header(line, (unsigned long)addr);
		if (hdr >= 0) {
			if (in_vma)
				break;
			in_vma = hdr;
			continue;
		}
		for (i = 0; in_vma && i < ARRAY_SIZE(fields); i++)
			if (smaps_field(line, fields[i], &kb))
				total += kb;
	}
	fclose(f);
	return total * 1024;
}

long thp_full_scans(void)
{
	char buf[32];

	if (read_file(THP_DIR "khugepaged/full_scans", buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/*
 * How often the khugepaged waits look: khugepaged_fast() sleeps 1 ms
 * between scans, so a coarser step only adds to every wait.
 */
#define WAIT_STEP_MS	2

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_nsec = ms * 1000L * 1000L };

	nanosleep(&ts, NULL);
}

bool thp_wait_full_scans(long nr, int timeout_ms)
{
	long target = thp_full_scans() + nr;
	int waited;

	for (waited = 0; waited < timeout_ms; waited += WAIT_STEP_MS) {
		if (thp_full_scans() >= target)
			return true;
		sleep_ms(WAIT_STEP_MS);
	}
	return false;
}

/*
 * Touch, in each PMD of [@addr, @addr + @len), the first page resident
 * in memory or in the page cache (mincore()): never a missing page, whose
 * fault a userfaultfd would see. A file range khugepaged collapsed is
 * PMD-mapped only at such a fault (its page table was retracted). The
 * number of resident pages, or -1.
 */
static long touch_resident(const char *addr, size_t len, size_t pmd_size)
{
	size_t ps = getpagesize(), n = len / ps, per = pmd_size / ps, i;
	unsigned char *vec = malloc(n);
	long resident = 0;
	bool touched = false;

	if (!vec || mincore((void *)addr, len, vec)) {
		free(vec);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (i % per == 0)
			touched = false;
		if (!(vec[i] & 1))
			continue;
		resident++;
		if (!touched)
			(void)*(const volatile char *)(addr + i * ps);
		touched = true;
	}
	free(vec);
	return resident;
}

int thp_khugepaged_wait(void *addr, size_t len, long scans, int timeout_ms)
{
	size_t pmd = thp_pmd_size();
	long target = thp_full_scans() + scans, resident, last = -1;
	bool scanned;
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += WAIT_STEP_MS) {
		scanned = thp_full_scans() >= target;
		resident = touch_resident(addr, len, pmd);
		if (resident < 0)
			return -1;
		if (thp_pmd_mapped(addr) >= (long)len)
			return 1;
		if (resident != last && last >= 0) {
			/* khugepaged is at work here: give it @scans more */
			target = thp_full_scans() + scans;
			scanned = false;
		}
		last = resident;
		if (scanned)
			return 0;
		sleep_ms(WAIT_STEP_MS);
	}
	return -1;
}

void thp_compact_memory(void)
{
	int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return;
	n = write(fd, "1", 1);	/* if it fails, the caller sees the outcome */
	(void)n;
	close(fd);
}

/* The knobs thp_khugepaged_fast() sets, and their values before it. */
static const char *const fast_knobs[][2] = {
	{ "khugepaged/scan_sleep_millisecs", "1" },
	{ "khugepaged/alloc_sleep_millisecs", "1" },
	{ "khugepaged/pages_to_scan", "524288" },
};
static char fast_saved[ARRAY_SIZE(fast_knobs)][32];

void thp_khugepaged_fast(void)
{
	thp_knobs_swap(fast_knobs, ARRAY_SIZE(fast_knobs), fast_saved, false);
}

void thp_khugepaged_fast_undo(void)
{
	thp_knobs_swap(fast_knobs, ARRAY_SIZE(fast_knobs), fast_saved, true);
}

void *thp_khugepaged_enroll(size_t pmd_size)
{
	char *p = mmap(NULL, 2 * pmd_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Fault first: 6.1 enrolls at MADV_HUGEPAGE only with an anon_vma. */
	*p = 1;
	madvise(p, 2 * pmd_size, MADV_HUGEPAGE);
	return p;
}

void thp_knobs_swap(const char *const knobs[][2], size_t n, char old[][32],
		    bool undo)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (undo) {
			if (old[i][0])
				thp_knob_set(knobs[i][0], old[i]);
		} else if (thp_knob_get(knobs[i][0], old[i], sizeof(old[i]))) {
			old[i][0] = '\0';
		} else {
			thp_knob_set(knobs[i][0], knobs[i][1]);
		}
	}
}
