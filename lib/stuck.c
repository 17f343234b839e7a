// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stuck.h"

/*
 * @line also in the kernel's log, time-stamped among its messages: a VM
 * runner that watches the console for the kernel's own complaints (a soft
 * lockup needs CONFIG_SOFTLOCKUP_DETECTOR, which small test kernels lack)
 * sees this one too (vm/lib.sh's SPLATS).
 */
static void stuck_kmsg(const char *line)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = write(fd, line, strlen(line));	/* if not, stderr said it */
	(void)n;
	close(fd);
}

/*
 * The harness's own process, which waits for each test under its timeout
 * (SIGALRM): the test's parent, or with TEST_F in 6.12's harness its
 * grandparent (the TEST_F wrapper forks the test and waits for it, to run
 * the teardown). Noted at start-up, before the harness forks anything.
 */
static pid_t harness_pid;

__attribute__((constructor)) static void stuck_note_harness(void)
{
	harness_pid = getpid();
}

static void *stuck_watch(void *arg)
{
	struct stuck_guard *g = arg;
	struct timespec deadline;
	char line[256];
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STUCK_S;
	pthread_mutex_lock(&g->lock);
	while (!g->done && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&g->cond, &g->lock, &deadline);
	pthread_mutex_unlock(&g->lock);
	if (g->done)
		return NULL;
	snprintf(line, sizeof(line),
		 "uffd-collapse-suite: %s has not returned in %d s: the kernel is stuck in it\n",
		 g->what, STUCK_S);
	fprintf(stderr, "# %s", strchr(line, ' ') + 1);
	fflush(stderr);
	stuck_kmsg(line);
	/* The harness, woken by the signal, must not queue behind the spin */
	if (g->pinned)
		sched_setaffinity(harness_pid, sizeof(g->elsewhere),
				  &g->elsewhere);
	kill(harness_pid, SIGALRM);
	return NULL;
}

/*
 * The watcher runs on other CPUs than the guarded thread, which stays on
 * its own while guarded, where there are two. A kernel without preemption
 * (CONFIG_PREEMPT_NONE, as vm/mutants.sh's) runs a thread that spins in
 * the kernel until it returns, so what waits on that CPU waits for good
 * unless load balancing moves it, and adjust_numa_imbalance() ignores an
 * imbalance of up to two tasks between NUMA nodes: in a guest with one
 * CPU per node, a guard never spoke (an RCU stall after 300 s instead),
 * both when the watcher could share the guarded thread's CPU, and when
 * the guarded thread, not pinned, could move onto the watcher's.
 */
static void watch_elsewhere(struct stuck_guard *g, pthread_attr_t *attr)
{
	int cpu = sched_getcpu();
	cpu_set_t one;

	if (cpu < 0 || sched_getaffinity(0, sizeof(g->saved), &g->saved) ||
	    CPU_COUNT(&g->saved) < 2 || !CPU_ISSET(cpu, &g->saved))
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return;
	g->pinned = true;
	g->elsewhere = g->saved;
	CPU_CLR(cpu, &g->elsewhere);
	pthread_attr_setaffinity_np(attr, sizeof(g->elsewhere), &g->elsewhere);
}

/*
 * If the thread cannot be started, the call goes unguarded: the harness's
 * own timeout still bounds it.
 */
void stuck_guard_arm(struct stuck_guard *g, const char *what)
{
	pthread_condattr_t attr;
	pthread_attr_t tattr;

	memset(g, 0, sizeof(*g));
	g->what = what;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_attr_init(&tattr);
	watch_elsewhere(g, &tattr);
	g->armed = !pthread_create(&g->thread, &tattr, stuck_watch, g);
	pthread_attr_destroy(&tattr);
	if (!g->armed && g->pinned)
		sched_setaffinity(0, sizeof(g->saved), &g->saved);
}

void stuck_guard_disarm(struct stuck_guard *g)
{
	if (!g->armed)
		return;
	pthread_mutex_lock(&g->lock);
	g->done = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	g->armed = false;
	if (g->pinned)
		sched_setaffinity(0, sizeof(g->saved), &g->saved);
	g->pinned = false;
}
