/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A team running a race's rounds together: each worker runs its role in a
 * thread of its own (or a process of its own: team_add_process()), the
 * lead role runs in the calling thread, and bounded barriers start a
 * round, release every role at once and end it. A round that does not
 * end in time says which role was doing what.
 */
#ifndef UFFD_SUITE_TEAM_H
#define UFFD_SUITE_TEAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
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
/* A process role's set-up, in its process before its first round. */
typedef bool (*role_setup_fn)(void *arg);

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

/* What the roles share: MAP_SHARED, so that a role may be a process. */
struct team_shared {
	struct race_barrier start, go, done;
	bool stop;
	struct role role[TEAM_MAX_ROLES];
};

/*
 * With @nodes set, the lead runs on NUMA node 0 and worker i on node
 * (i + 1) % @nodes; otherwise each has a CPU of its own, if there are
 * enough. @leak: a worker did not end when stopped (it may still use the
 * race's memory).
 */
struct team {
	struct team_shared *sh;
	bool leak;
	unsigned int nr, nodes;
	struct team_ops ops;
	void *arg;
	role_fn lead;
	struct role lead_role;
	bool pinned;
	const char *name[TEAM_MAX_ROLES];
	role_fn fn[TEAM_MAX_ROLES];
	role_setup_fn setup[TEAM_MAX_ROLES];	/* set: a process */
	pthread_t tid[TEAM_MAX_ROLES];
	pid_t pid[TEAM_MAX_ROLES];
	bool running[TEAM_MAX_ROLES];
};

void team_add(struct team *t, const char *name, role_fn fn);
/*
 * A worker in a process of its own (forked by team_start(), @setup run
 * there once): what it shares with the others is what @arg points to in
 * MAP_SHARED memory. A failure of its set-up or of its exit fails the team.
 */
void team_add_process(struct team *t, const char *name, role_fn fn,
		      role_setup_fn setup);
void team_lead(struct team *t, const char *name, role_fn fn);
/* Start the workers; each role gets @arg. False (failed) if they cannot. */
bool team_start(struct team *t, const struct team_ops *ops, void *arg);
/* One round; false (failed, saying who was stuck) if it did not end. */
bool team_round(struct team *t);
void team_stop(struct team *t);

#endif
