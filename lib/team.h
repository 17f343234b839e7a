/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A team of threads running a race's rounds together: each worker runs its
 * role in a thread of its own, the lead role runs in the calling thread,
 * and bounded barriers start a round, release every role at once and end
 * it. A round that does not end in time says which role was doing what.
 */
#ifndef UFFD_SUITE_TEAM_H
#define UFFD_SUITE_TEAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "race.h"

#define TEAM_MAX_ROLES	4
#define TEAM_STUCK_MS	10000	/* a round never takes this long */
#define TEAM_IDLE_MS	120000	/* workers await a round */
#define TEAM_START_SPIN_US 20	/* then sleep: workers await the next round */
#define TEAM_GO_SPIN_US	2000	/* all parties are waking up */

struct role {
	const char *name;
	unsigned int idx;
	bool crowded;		/* the team's threads outnumber the CPUs */
	const char *doing;	/* NULL when done; else what it waits for */
	long page;
};

/* What @role is doing now (and on which page, or -1), for team_round(). */
static inline void role_set(struct role *role, const char *doing, long page)
{
	__atomic_store_n(&role->page, page, __ATOMIC_RELAXED);
	__atomic_store_n(&role->doing, doing, __ATOMIC_RELEASE);
}

typedef void (*role_fn)(void *arg, struct role *role);

/*
 * The race's side: @fail records a failure (the first one counts);
 * @unstick releases a role blocked in the kernel (a userfault) once a
 * round is stuck. Both get @ctx.
 */
struct team_ops {
	void (*fail)(void *ctx, const char *msg);
	void (*unstick)(void *ctx);
	void *ctx;
};

/*
 * With @nodes set, the lead runs on NUMA node 0 and worker i on node
 * (i + 1) % @nodes; otherwise each has a CPU of its own, if there are
 * enough. @leak: a worker did not end when stopped (it may still use the
 * race's memory).
 */
struct team {
	struct race_barrier start, go, done;
	bool stop, leak;
	unsigned int nr, nodes;
	struct team_ops ops;
	void *arg;
	role_fn lead;
	struct role lead_role;
	bool pinned;
	role_fn fn[TEAM_MAX_ROLES];
	struct role role[TEAM_MAX_ROLES];
	pthread_t tid[TEAM_MAX_ROLES];
	bool running[TEAM_MAX_ROLES];
};

void team_add(struct team *t, const char *name, role_fn fn);
void team_lead(struct team *t, const char *name, role_fn fn);
/* Start the workers; each role gets @arg. False (failed) if they cannot. */
bool team_start(struct team *t, const struct team_ops *ops, void *arg);
/* One round; false (failed, saying who was stuck) if it did not end. */
bool team_round(struct team *t);
void team_stop(struct team *t);

#endif
