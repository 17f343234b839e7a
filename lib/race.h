/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Race plumbing: monotonic time and busy-wait delays, a barrier whose wait
 * is bounded (for threads, or processes sharing it in MAP_SHARED memory),
 * pinning racing threads to CPUs of their own, a seeded PRNG so that every
 * varied moment can be replayed from a printed seed, and a time and
 * iteration budget.
 */
#ifndef UFFD_SUITE_RACE_H
#define UFFD_SUITE_RACE_H

#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ns: comparable between threads and processes. */
uint64_t race_now_ns(void);
/* Busy-wait @ns: finer than any sleep, for placing a moment in a race. */
void race_spin_ns(uint64_t ns);
/* Sleep until @t (race_now_ns()). */
void race_sleep_until(uint64_t t);
/*
 * Wait until @t: sleep while it is far, spin the last stretch to be on
 * time; @crowded (more racing threads than CPUs): yield while spinning.
 */
void race_spin_until(uint64_t t, bool crowded);

/* A time one thread publishes (race_store_ns()) and another reads. */
static inline uint64_t race_load_ns(uint64_t *t)
{
	return __atomic_load_n(t, __ATOMIC_ACQUIRE);
}

static inline void race_store_ns(uint64_t *t, uint64_t v)
{
	__atomic_store_n(t, v, __ATOMIC_RELEASE);
}

/* Wait for *@flag, yielding, within @timeout_ms: false if it never came. */
bool race_wait_flag(int *flag, unsigned int timeout_ms);

/*
 * A reusable barrier. Initialise it once, before any party uses it; it
 * may live in MAP_SHARED memory to synchronise processes.
 */
struct race_barrier {
	unsigned int parties;
	unsigned int arrived;
	unsigned int gen;	/* futex word: bumped when all arrived */
	unsigned int broken;	/* a party gave up waiting */
	unsigned int spin_us;	/* spin this long before sleeping */
};

/*
 * @spin_us: how long a waiter spins before it sleeps. Sleeping waiters
 * wake tens of microseconds after the release; spinning ones at once, so
 * a barrier that must release its parties together spins for as long as
 * the slowest party may take to arrive.
 */
void race_barrier_init(struct race_barrier *b, unsigned int parties,
		       unsigned int spin_us);
/*
 * Wait until all parties arrived. False if they did not within @timeout_ms,
 * or if another party gave up: the barrier is then broken for good, so that
 * every party stops instead of waiting on a peer that is stuck.
 */
bool race_barrier_wait(struct race_barrier *b, int timeout_ms);
/* Break the barrier: every waiter returns false now and from then on. */
void race_barrier_break(struct race_barrier *b);

/*
 * Pin the calling thread to the @nth CPU (modulo their number) of those the
 * process may run on, so that racing threads really run at the same time
 * (a woken thread otherwise often queues behind its waker on one CPU).
 * Returns how many CPUs the process may run on; 0 if it could not pin.
 */
unsigned int race_pin_cpu(unsigned int nth);
/* Let the calling thread run on every CPU the process may run on again. */
void race_unpin(void);
/* How many CPUs the process may run on. */
unsigned int race_cpus(void);

/* splitmix64: small, fast and the same on every machine. */
struct race_rng {
	uint64_t state;
};

/* One stream per @name, all derived from @seed. */
void race_rng_seed(struct race_rng *rng, uint64_t seed, const char *name);
uint64_t race_rng_next(struct race_rng *rng);
/* Uniform in [0, @n); 0 when @n is 0. */
uint64_t race_rng_below(struct race_rng *rng, uint64_t n);
/* @n values race_rng_below(@below) into @t, in ascending order. */
void race_rng_sorted(struct race_rng *rng, uint64_t *t, unsigned int n,
		     uint64_t below);
/* 0 .. @n - 1 into @a, in a random order. */
void race_rng_shuffle(struct race_rng *rng, unsigned int *a, unsigned int n);

/*
 * A race runs until its time or its iterations run out; on a slow machine
 * it runs past its time until it made @min_iters, but not past
 * RACE_BUDGET_HARD_X times its time; and while it still lacks what it
 * needs to mean anything (too few windows reached), up to
 * RACE_BUDGET_MORE_X times its time.
 */
#define RACE_BUDGET_HARD_X 3
#define RACE_BUDGET_MORE_X 10
struct race_budget {
	uint64_t start_ns, deadline_ns, hard_deadline_ns, more_deadline_ns;
	unsigned long min_iters, max_iters, iters;
};

void race_budget_start(struct race_budget *b, unsigned int ms,
		       unsigned long min_iters, unsigned long max_iters);
/*
 * True while time (or @min_iters, or @more: the race still lacks what it
 * needs) and iterations are left; counts one.
 */
bool race_budget_next(struct race_budget *b, bool more);
/* Milliseconds since race_budget_start(). */
unsigned long race_budget_elapsed_ms(const struct race_budget *b);

#endif
