// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "race.h"

#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL
#define BARRIER_NAP_NS	(10 * NSEC_PER_MSEC)

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

uint64_t race_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void race_spin_ns(uint64_t ns)
{
	uint64_t end = race_now_ns() + ns;

	while (race_now_ns() < end)
		cpu_relax();
}

bool race_wait_flag(int *flag, unsigned int timeout_ms)
{
	uint64_t end = race_now_ns() + timeout_ms * NSEC_PER_MSEC;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (race_now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* The CPUs the process may run on, as they were before any pinning. */
static const cpu_set_t *allowed_cpus(void)
{
	static cpu_set_t set;
	static bool known;

	if (!known) {
		if (sched_getaffinity(0, sizeof(set), &set)) {
			CPU_ZERO(&set);
			CPU_SET(0, &set);
		}
		known = true;
	}
	return &set;
}

unsigned int race_cpus(void)
{
	int n = CPU_COUNT(allowed_cpus());

	return n > 0 ? n : 1;
}

unsigned int race_pin_cpu(unsigned int nth)
{
	const cpu_set_t *set = allowed_cpus();
	unsigned int n = race_cpus(), cpu, seen = 0;
	cpu_set_t one;

	nth %= n;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, set) || seen++ != nth)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		return pthread_setaffinity_np(pthread_self(), sizeof(one),
					      &one) ? 0 : n;
	}
	return 0;
}

void race_unpin(void)
{
	pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t),
			       allowed_cpus());
}

/* Not FUTEX_PRIVATE_FLAG: the barrier may be shared between processes. */
static void futex_wait(unsigned int *word, unsigned int val, uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC,
	};

	syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake_all(unsigned int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void race_barrier_init(struct race_barrier *b, unsigned int parties,
		       unsigned int spin_us)
{
	race_cpus();	/* learn the CPUs before any thread is pinned */
	b->parties = parties;
	b->spin_us = spin_us;
	b->arrived = 0;
	b->gen = 0;
	b->broken = 0;
}

void race_barrier_break(struct race_barrier *b)
{
	__atomic_store_n(&b->broken, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&b->gen, 1, __ATOMIC_RELEASE);
	futex_wake_all(&b->gen);
}

static bool barrier_broken(struct race_barrier *b)
{
	return __atomic_load_n(&b->broken, __ATOMIC_ACQUIRE);
}

/* Wait for b->gen to leave @gen: spin briefly, then sleep in naps. */
static bool barrier_await(struct race_barrier *b, unsigned int gen,
			  uint64_t deadline)
{
	uint64_t now = race_now_ns(), spin_end = now + b->spin_us * 1000ULL;

	while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen) {
		now = race_now_ns();
		if (now >= deadline)
			return false;
		if (now < spin_end) {
			/* More parties than CPUs: let the late one run. */
			if (b->parties > race_cpus())
				sched_yield();
			else
				cpu_relax();
			continue;
		}
		futex_wait(&b->gen, gen, deadline - now < BARRIER_NAP_NS ?
			   deadline - now : BARRIER_NAP_NS);
	}
	return true;
}

bool race_barrier_wait(struct race_barrier *b, int timeout_ms)
{
	unsigned int gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
	uint64_t deadline = race_now_ns() + timeout_ms * NSEC_PER_MSEC;

	if (barrier_broken(b))
		return false;
	if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) ==
	    b->parties) {
		__atomic_store_n(&b->arrived, 0, __ATOMIC_RELAXED);
		__atomic_add_fetch(&b->gen, 1, __ATOMIC_RELEASE);
		futex_wake_all(&b->gen);
		return true;
	}
	if (!barrier_await(b, gen, deadline)) {
		race_barrier_break(b);
		return false;
	}
	return !barrier_broken(b);
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void race_rng_seed(struct race_rng *rng, uint64_t seed, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	while (name && *name)
		h = (h ^ (unsigned char)*name++) * 0x100000001b3ULL;
	rng->state = seed ^ h;
	splitmix64(&rng->state);
}

uint64_t race_rng_next(struct race_rng *rng)
{
	return splitmix64(&rng->state);
}

uint64_t race_rng_below(struct race_rng *rng, uint64_t n)
{
	return n ? race_rng_next(rng) % n : 0;
}

void race_rng_sorted(struct race_rng *rng, uint64_t *t, unsigned int n,
		     uint64_t below)
{
	unsigned int i, j;
	uint64_t v;

	for (i = 0; i < n; i++) {
		v = race_rng_below(rng, below);
		for (j = i; j > 0 && t[j - 1] > v; j--)
			t[j] = t[j - 1];
		t[j] = v;
	}
}

/* Fisher-Yates. */
void race_rng_shuffle(struct race_rng *rng, unsigned int *a, unsigned int n)
{
	unsigned int i, j, tmp;

	for (i = 0; i < n; i++)
		a[i] = i;
	for (i = n - 1; i > 0 && n; i--) {
		j = race_rng_below(rng, i + 1);
		tmp = a[i];
		a[i] = a[j];
		a[j] = tmp;
	}
}

void race_budget_start(struct race_budget *b, unsigned int ms,
		       unsigned long min_iters, unsigned long max_iters)
{
	b->start_ns = race_now_ns();
	b->deadline_ns = b->start_ns + (uint64_t)ms * NSEC_PER_MSEC;
	b->hard_deadline_ns = b->start_ns +
			      (uint64_t)ms * RACE_BUDGET_HARD_X * NSEC_PER_MSEC;
	b->more_deadline_ns = b->start_ns +
			      (uint64_t)ms * RACE_BUDGET_MORE_X * NSEC_PER_MSEC;
	b->min_iters = min_iters;
	b->max_iters = max_iters;
	b->iters = 0;
}

bool race_budget_next(struct race_budget *b, bool more)
{
	uint64_t now = race_now_ns();

	if (b->iters >= b->max_iters || now >= b->more_deadline_ns)
		return false;
	if (!more && (now >= b->hard_deadline_ns ||
		      (now >= b->deadline_ns && b->iters >= b->min_iters)))
		return false;
	b->iters++;
	return true;
}

unsigned long race_budget_elapsed_ms(const struct race_budget *b)
{
	return (race_now_ns() - b->start_ns) / NSEC_PER_MSEC;
}

#define SLEEP_SLACK_NS	100000	/* sleeps wake this late */

void race_sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ULL, .tv_nsec = t % 1000000000ULL,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/*
 * Sleep while @t is far, so that threads outnumbering the CPUs leave them
 * to the others, and spin the last stretch to be on time. When they do
 * outnumber them (@crowded), spin yielding: a thread whose moment came may
 * be queued on this CPU, and would otherwise wait for the end of this
 * spin, or for the next tick, to run.
 */
void race_spin_until(uint64_t t, bool crowded)
{
	uint64_t now = race_now_ns();

	if (t > now + 2 * SLEEP_SLACK_NS)
		race_sleep_until(t - SLEEP_SLACK_NS);
	while (crowded && race_now_ns() < t)
		sched_yield();
	now = race_now_ns();
	if (t > now)
		race_spin_ns(t - now);
}
