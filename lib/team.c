// SPDX-License-Identifier: GPL-2.0
/* A team of threads running a race's rounds together (team.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "node.h"
#include "team.h"


struct worker {
	struct team *t;
	unsigned int idx;
};

static void __attribute__((format(printf, 2, 3)))
team_fail(struct team *t, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->ops.fail(t->ops.ctx, msg);
}

void team_add(struct team *t, const char *name, role_fn fn)
{
	t->role[t->nr].name = name;
	t->role[t->nr].idx = t->nr;
	t->fn[t->nr++] = fn;
}

void team_lead(struct team *t, const char *name, role_fn fn)
{
	t->lead_role.name = name;
	t->lead = fn;
}

static void *team_worker(void *arg)
{
	struct team *t = ((struct worker *)arg)->t;
	unsigned int i = ((struct worker *)arg)->idx;

	free(arg);
	if (t->nodes && node_run_on((i + 1) % t->nodes))
		team_fail(t, "numa_run_on_node(%u) for the %s: %s",
			  (i + 1) % t->nodes, t->role[i].name, strerror(errno));
	else if (t->pinned)
		race_pin_cpu(i + 1);
	while (race_barrier_wait(&t->start, TEAM_IDLE_MS) &&
	       !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE) &&
	       race_barrier_wait(&t->go, TEAM_STUCK_MS)) {
		role_set(&t->role[i], "running", -1);
		t->fn[i](t->arg, &t->role[i]);
		role_set(&t->role[i], NULL, -1);
		if (!race_barrier_wait(&t->done, TEAM_STUCK_MS))
			break;
	}
	return NULL;
}

bool team_start(struct team *t, const struct team_ops *ops, void *arg)
{
	struct worker *w;
	unsigned int i;

	t->ops = *ops;
	t->arg = arg;
	for (i = 0; i < t->nr; i++)
		t->role[i].crowded = t->nr + 1 > race_cpus();
	t->lead_role.crowded = t->nr + 1 > race_cpus();
	race_barrier_init(&t->start, t->nr + 1, TEAM_START_SPIN_US);
	race_barrier_init(&t->go, t->nr + 1, TEAM_GO_SPIN_US);
	race_barrier_init(&t->done, t->nr + 1, TEAM_START_SPIN_US);
	if (t->nodes && node_run_on(0)) {
		team_fail(t, "numa_run_on_node(0): %s", strerror(errno));
		return false;
	}
	/* A CPU each, if there are enough: the lead on the first one. */
	t->pinned = !t->nodes && t->nr + 1 <= race_cpus() && race_pin_cpu(0);
	if (!t->pinned && !t->nodes)
		race_unpin();
	for (i = 0; i < t->nr; i++) {
		w = malloc(sizeof(*w));
		if (!w)
			break;
		w->t = t;
		w->idx = i;
		t->running[i] = !pthread_create(&t->tid[i], NULL, team_worker,
						 w);
		if (!t->running[i]) {
			free(w);
			break;
		}
	}
	if (i < t->nr)
		team_fail(t, "cannot start the race threads");
	return i == t->nr;
}

/* What the roles that did not finish the round were doing. */
static void team_stuck(struct team *t)
{
	char msg[300] = "";
	size_t len = 0;
	const char *doing;
	unsigned int i;

	for (i = 0; i < t->nr; i++) {
		doing = __atomic_load_n(&t->role[i].doing, __ATOMIC_ACQUIRE);
		if (doing && len < sizeof(msg))
			len += snprintf(msg + len, sizeof(msg) - len,
					"%s%s: %s (page %ld)", len ? "; " : "",
					t->role[i].name, doing,
					t->role[i].page);
	}
	team_fail(t, "a round did not end within %d ms: %s", TEAM_STUCK_MS,
		  len ? msg : "(no role stuck: the main thread was late)");
	/* Release every party, and any thread blocked in a userfault. */
	race_barrier_break(&t->start);
	race_barrier_break(&t->go);
	race_barrier_break(&t->done);
	t->ops.unstick(t->ops.ctx);
}

/*
 * One round: "start" wakes the workers, "go" releases every party at once
 * (each is running by then: the moments are measured from there), "done"
 * ends the round.
 */
bool team_round(struct team *t)
{
	if (!race_barrier_wait(&t->start, TEAM_STUCK_MS) ||
	    !race_barrier_wait(&t->go, TEAM_STUCK_MS))
		goto stuck;
	if (t->lead)
		t->lead(t->arg, &t->lead_role);
	if (race_barrier_wait(&t->done, TEAM_STUCK_MS))
		return true;
stuck:
	team_stuck(t);
	return false;
}

void team_stop(struct team *t)
{
	struct timespec ts;
	unsigned int i;

	race_unpin();
	__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
	if (!race_barrier_wait(&t->start, TEAM_STUCK_MS))
		race_barrier_break(&t->start);
	for (i = 0; i < t->nr; i++) {
		if (!t->running[i])
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(t->tid[i], NULL, &ts))
			t->leak = true;
	}
}
