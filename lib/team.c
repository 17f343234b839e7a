// SPDX-License-Identifier: GPL-2.0
/* A team running a race's rounds together (team.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "node.h"
#include "remote.h"
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
	t->name[t->nr] = name;
	t->fn[t->nr++] = fn;
}

void team_add_process(struct team *t, const char *name, role_fn fn,
		      role_setup_fn setup)
{
	t->setup[t->nr] = setup;
	team_add(t, name, fn);
}

void team_lead(struct team *t, const char *name, role_fn fn)
{
	t->lead_role.name = name;
	t->lead = fn;
}

/* Worker @i's rounds, until the team stops or a round is stuck. */
static void team_work(struct team *t, unsigned int i)
{
	struct team_shared *sh = t->sh;

	if (t->nodes && node_run_on((i + 1) % t->nodes))
		team_fail(t, "numa_run_on_node(%u) for the %s: %s",
			  (i + 1) % t->nodes, sh->role[i].name, strerror(errno));
	else if (t->pinned)
		race_pin_cpu(i + 1);
	if (t->setup[i] && !t->setup[i](t->arg)) {
		race_barrier_break(&sh->start);
		return;
	}
	while (race_barrier_wait(&sh->start, TEAM_IDLE_MS) &&
	       !__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE) &&
	       race_barrier_wait(&sh->go, TEAM_STUCK_MS)) {
		role_set(&sh->role[i], "running", -1);
		t->fn[i](t->arg, &sh->role[i]);
		role_set(&sh->role[i], NULL, -1);
		if (!race_barrier_wait(&sh->done, TEAM_STUCK_MS))
			break;
	}
}

static void *team_worker(void *arg)
{
	struct team *t = ((struct worker *)arg)->t;
	unsigned int i = ((struct worker *)arg)->idx;

	free(arg);
	team_work(t, i);
	return NULL;
}

/* Worker @i in a thread, or in a process of its own; false if it failed. */
static bool team_spawn(struct team *t, unsigned int i)
{
	struct worker *w;

	if (t->setup[i]) {
		fflush(stdout);
		t->pid[i] = fork();
		if (!t->pid[i]) {
			team_work(t, i);
			_exit(0);
		}
		return t->running[i] = t->pid[i] > 0;
	}
	w = malloc(sizeof(*w));
	if (!w)
		return false;
	w->t = t;
	w->idx = i;
	t->running[i] = !pthread_create(&t->tid[i], NULL, team_worker, w);
	if (!t->running[i])
		free(w);
	return t->running[i];
}

/* The barriers and the roles, shared; false if there is no memory. */
static bool team_share(struct team *t)
{
	struct team_shared *sh;
	unsigned int i, n = t->nr + 1;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return false;
	for (i = 0; i < t->nr; i++) {
		sh->role[i].name = t->name[i];
		sh->role[i].idx = i;
		sh->role[i].crowded = n > race_cpus();
	}
	t->lead_role.crowded = n > race_cpus();
	race_barrier_init(&sh->start, n, TEAM_START_SPIN_US);
	race_barrier_init(&sh->go, n, TEAM_GO_SPIN_US);
	race_barrier_init(&sh->done, n, TEAM_START_SPIN_US);
	t->sh = sh;
	return true;
}

bool team_start(struct team *t, const struct team_ops *ops, void *arg)
{
	unsigned int i;

	t->ops = *ops;
	t->arg = arg;
	if (!team_share(t)) {
		team_fail(t, "cannot map the race threads' barriers");
		return false;
	}
	if (t->nodes && node_run_on(0)) {
		team_fail(t, "numa_run_on_node(0): %s", strerror(errno));
		return false;
	}
	/* A CPU each, if there are enough: the lead on the first one. */
	t->pinned = !t->nodes && t->nr + 1 <= race_cpus() && race_pin_cpu(0);
	if (!t->pinned && !t->nodes)
		race_unpin();
	for (i = 0; i < t->nr && team_spawn(t, i); i++)
		;
	if (i < t->nr)
		team_fail(t, "cannot start the race threads");
	return i == t->nr;
}

/* What the roles that did not finish the round were doing. */
static void team_stuck(struct team *t)
{
	char msg[300] = "";
	const struct role *r;
	size_t len = 0;
	const char *doing;
	unsigned int i;

	for (i = 0; i < t->nr; i++) {
		r = &t->sh->role[i];
		doing = __atomic_load_n(&r->doing, __ATOMIC_ACQUIRE);
		if (doing && len < sizeof(msg))
			len += snprintf(msg + len, sizeof(msg) - len,
					"%s%s: %s (page %ld)", len ? "; " : "",
					r->name, doing, r->page);
	}
	team_fail(t, "a round did not end within %d ms: %s", TEAM_STUCK_MS,
		  len ? msg : "(no role stuck: the main thread was late)");
	/* Release every party, and any thread blocked in a userfault. */
	race_barrier_break(&t->sh->start);
	race_barrier_break(&t->sh->go);
	race_barrier_break(&t->sh->done);
	t->ops.unstick(t->ops.ctx);
}

/*
 * One round: "start" wakes the workers, "go" releases every party at once
 * (each is running by then: the moments are measured from there), "done"
 * ends the round.
 */
bool team_round(struct team *t)
{
	if (!race_barrier_wait(&t->sh->start, TEAM_STUCK_MS) ||
	    !race_barrier_wait(&t->sh->go, TEAM_STUCK_MS))
		goto stuck;
	if (t->lead)
		t->lead(t->arg, &t->lead_role);
	if (race_barrier_wait(&t->sh->done, TEAM_STUCK_MS))
		return true;
stuck:
	team_stuck(t);
	return false;
}

/* A worker process ended, with status 0, within TEAM_STUCK_MS. */
static void team_reap(struct team *t, unsigned int i)
{
	int status = reap_within(t->pid[i], TEAM_STUCK_MS);

	if (status < 0)
		team_fail(t, "the %s's process did not exit within %d ms",
			  t->name[i], TEAM_STUCK_MS);
	else if (WIFSIGNALED(status))
		team_fail(t, "the %s's process was killed by signal %d",
			  t->name[i], WTERMSIG(status));
	else if (WEXITSTATUS(status))
		team_fail(t, "the %s's process exited with status %d",
			  t->name[i], WEXITSTATUS(status));
}

void team_stop(struct team *t)
{
	struct timespec ts;
	unsigned int i;

	race_unpin();
	if (!t->sh)
		return;
	__atomic_store_n(&t->sh->stop, true, __ATOMIC_RELEASE);
	if (!race_barrier_wait(&t->sh->start, TEAM_STUCK_MS))
		race_barrier_break(&t->sh->start);
	for (i = 0; i < t->nr; i++) {
		if (!t->running[i])
			continue;
		if (t->setup[i]) {
			team_reap(t, i);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(t->tid[i], NULL, &ts))
			t->leak = true;
	}
	if (!t->leak)
		munmap(t->sh, sizeof(*t->sh));
}
