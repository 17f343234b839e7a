// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the migrated guest (static, PID 1 of a busybox-free initramfs).
 *
 * Fills PC_MIB MiB (kernel command line "PC_MIB=N", default 64) with a
 * pattern unique to each page and word, then re-verifies the whole buffer in
 * passes forever, printing on the console:
 *   PCG fill pages=N ms=T
 *   PCG pass K start
 *   PCG pass K ok=N bad=B ms=T [first_bad=I]
 * A pass whose "start" and result lines both show on the destination's
 * console ran entirely on the destination. As PID 1 it never exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))
#define SEED 0x9e3779b97f4a7c15ULL

static uint64_t word(uint64_t page, uint64_t w)
{
	return SEED ^ (page << 16) ^ (w * 0x100000001b3ULL);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The console is fd 1 and 2 when the initramfs holds /dev/console. */
static void console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) >= 0)
		return;
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
}

static void say(const char *fmt, long a, long b, long c, long d)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), fmt, a, b, c, d);

	if (write(1, buf, n) < 0)
		return;
}

int main(void)
{
	const char *env = getenv("PC_MIB");
	unsigned long mib = env ? strtoul(env, NULL, 10) : 64;
	unsigned long pages, p, w, ok, bad, first_bad;
	uint64_t *buf;
	long t0, pass;

	console();
	if (!mib)
		mib = 64;
	pages = mib * 256;
	buf = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		say("PCG error mmap %ld MiB errno %ld\n", mib, errno, 0, 0);
		for (;;)
			pause();
	}
	t0 = now_ms();
	for (p = 0; p < pages; p++)
		for (w = 0; w < WORDS; w++)
			buf[p * WORDS + w] = word(p, w);
	say("PCG fill pages=%ld ms=%ld\n", pages, now_ms() - t0, 0, 0);
	for (pass = 1;; pass++) {
		say("PCG pass %ld start\n", pass, 0, 0, 0);
		t0 = now_ms();
		ok = bad = 0;
		first_bad = -1UL;
		for (p = 0; p < pages; p++) {
			for (w = 0; w < WORDS; w++)
				if (buf[p * WORDS + w] != word(p, w))
					break;
			if (w == WORDS) {
				ok++;
			} else {
				if (!bad)
					first_bad = p;
				bad++;
			}
		}
		if (bad)
			say("PCG pass %ld ok=%ld bad=%ld first_bad=%ld\n",
			    pass, ok, bad, first_bad);
		else
			say("PCG pass %ld ok=%ld bad=0 ms=%ld\n", pass, ok,
			    now_ms() - t0, 0);
		usleep(200000);
	}
}
