/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bound on a call into the kernel that must return. A thread spinning in
 * the kernel (on a retry entry a rolled-back collapse left in the page
 * cache, say: every lookup of that index starts over) cannot be killed, and
 * its process cannot exit, so the test would wait out the harness's timeout
 * of minutes, and name no call. If the guarded call has not returned after
 * STUCK_S seconds, the guard says which call on stderr, then ends the test
 * the way the harness ends one past its timeout: SIGALRM to the harness's
 * process, which kills the test and reports it failed.
 */
#ifndef UFFD_SUITE_STUCK_H
#define UFFD_SUITE_STUCK_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

/* Thousands of times what the guarded calls take, even under TCG. */
#define STUCK_S 30

struct stuck_guard {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, armed, pinned;
	const char *what;
	cpu_set_t saved;	/* the guarded thread's CPUs, when pinned */
	cpu_set_t elsewhere;	/* those less the one it is pinned to */
};

/*
 * Start guarding: @what names the call, for the message. The calling
 * thread stays on its CPU until the guard is disarmed (lib/stuck.c).
 */
void stuck_guard_arm(struct stuck_guard *g, const char *what);
/* The call returned. */
void stuck_guard_disarm(struct stuck_guard *g);

#endif
