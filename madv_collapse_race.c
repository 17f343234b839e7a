// SPDX-License-Identifier: GPL-2.0
/*
 * Races between userfaultfd MODE_MISSING and THP collapse (MADV_COLLAPSE and
 * khugepaged), on every memory type they apply to.
 *
 * The invariant, checked on every iteration of every race: a page that
 * userspace observed as missing (SEEK_DATA/SEEK_HOLE, mincore or pagemap)
 * after its MODE_MISSING registration returned raises a
 * UFFD_EVENT_PAGEFAULT when touched (a repeated event is allowed: see
 * lib/uffd.h), the handler's UFFDIO_COPY into it succeeds (EEXIST would
 * mean the page became present behind userspace's back) and the reader
 * sees the handler's data. And no data is lost: after
 * each iteration every page reads back what was last written to it, through
 * the mapping and, for files, through pread() (pages whose state changed in
 * the iteration are compared in full, the others at three words each).
 *
 * Threads start together on a barrier; each varied moment is a delay drawn
 * from a PRNG seeded by --seed (printed by every test: a failure replays
 * with --seed). A race runs for a time and iteration budget (--budget-ms,
 * --stress; on a slow machine, past its time until it made MIN_ITERS, at
 * most RACE_BUDGET_HARD_X times its time, and until it reached its window
 * MIN_WINDOWS times, at most RACE_BUDGET_MORE_X times its time), then
 * prints its iterations, outcomes and how often its racy window was
 * reached; a race that never reached its window is a SKIP, never a pass.
 * Every wait is bounded: a thread stuck in a fault, or a child that stops
 * answering, fails the test saying what it was waiting for.
 *
 * The window of a race, said at the head of its section: the iterations
 * that put the guarantee to the test ("reached" means). A round that met
 * ENOMEM (no huge page to be had) or an anon EINVAL that an immediate retry
 * undid is inconclusive and never a window; more than 1 in EXCUSED_SHARE
 * such EINVALs fail the race. The races keep the numbers the README uses.
 *
 * Each race first runs its positive control: its collapse, set up as an
 * iteration but with no userfaultfd, must succeed (khugepaged_vs_reg:
 * khugepaged must collapse unregistered ranges), else the race SKIPs with
 * that reason. A set-up error fails the race.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>	/* vmsplice() */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "calls.h"
#include "collapse.h"
#include "compat.h"
#include "crowd.h"
#include "harness.h"
#include "mem.h"
#include "node.h"
#include "pattern.h"
#include "pin_spans.h"
#include "race.h"
#include "race_bench.h"
#include "race_calls.h"
#include "race_ctx.h"
#include "race_fixture.h"
#include "race_opts.h"
#include "race_pages.h"
#include "race_uffd.h"
#include "race_verdict.h"
#include "reg_race.h"
#include "team.h"
#include "thp.h"
#include "uffd.h"
#include "uring.h"

#define KHUGEPAGED_BUDGET_X	4	/* khugepaged_vs_reg waits on khugepaged */
#define STUCK_MS		TEAM_STUCK_MS	/* a round never takes this long */

#define REG_HOLES	2
#define REG_CROWD	60000	/* mappings of the last page: a long i_mmap walk */
#define FILL_HOLES	8
#define FILL_WRITERS	2
#define FILL_PER_WRITER	2	/* per writer and iteration */
#define OBS_HOLES	8
#define KH_RANGES	8
#define KH_HOLES	8	/* per range */
#define KH_CONTROL_MS	10000
#define KH_SCANS	2	/* full scans after the last registration */
#define KH_SCAN_WAIT_MS	3000
#define UNREG_HOLES	4
#define UNREG_TRIES_AFTER	100	/* EAGAIN retries once unregistered */

static struct race_opts opt = { .stress = 1, .budget_ms = DEFAULT_BUDGET_MS };

/* ---- the fixtures ------------------------------------------------------ */

#define RACE_NODE 1	/* race_numa's memory; the collapser runs on node 0 */

/* Users filter on their names: race, race_khugepaged, race_shmem, race_numa. */
RACE_FIXTURE(race, &opt, 1, -1, (void)0)
ADD_TYPE(race, anon, MEM_ANON);
ADD_SHMEM_TYPES(race, ADD_TYPE);

/* khugepaged's knobs back as they were, however the test ended. */
RACE_FIXTURE(race_khugepaged, &opt, KH_RANGES, -1, thp_khugepaged_fast_undo())
ADD_TYPE(race_khugepaged, anon, MEM_ANON);
ADD_SHMEM_TYPES(race_khugepaged, ADD_TYPE);

RACE_FIXTURE(race_shmem, &opt, 1, -1, (void)0)
ADD_SHMEM_TYPES(race_shmem, ADD_TYPE);

RACE_FIXTURE(race_numa, &opt, 1, RACE_NODE, (void)0)
ADD_TYPE(race_numa, anon, MEM_ANON);
ADD_SHMEM_TYPES(race_numa, ADD_TYPE);

/*
 * Each race's section ends with its tests, in the order -l lists them
 * (within a fixture, the order of the TEST_F()s): observer_vs_failed_collapse,
 * race_shmem's first test, before reg_vs_collapse and its variants.
 */

/* ---- observer_vs_failed_collapse --------------------------------------- */

/*
 * Collapses that fail part-way (MODE_MISSING registered; a disturber fills
 * a hole, pins or touches a page): a reader of the data/hole map
 * (SEEK_DATA/SEEK_HOLE, or mincore) and of fstat never sees a
 * half-collapsed range. Window: a whole observer pass ran inside one
 * MADV_COLLAPSE call that then failed.
 */

enum disturb { D_NONE, D_FILL, D_PIN, D_TOUCH, NR_DISTURB };
static const char *const disturb_name[] = {
	[D_NONE] = "none", [D_FILL] = "fill", [D_PIN] = "pin",
	[D_TOUCH] = "touch",
};

/* What a page is, as the threads that change it say (the truth). */
enum pstate { S_PRESENT, S_HOLE, S_FILLING, S_FILLED };

struct obs_race {
	struct race *x;
	unsigned int *state;	/* enum pstate of each page */
	unsigned int seq;	/* odd while MADV_COLLAPSE is in flight */
	int ret;
	bool done;
	enum disturb action;
	size_t page;
	uint64_t delay_ns, hold_ns;
	int pipe[2];
	/* the observer's own */
	unsigned int *before, *after;
	bool *hole_seen;
	unsigned long passes, inside, charged;
	long long blocks_per_page;
};

static unsigned int state_get(struct obs_race *s, size_t p)
{
	return __atomic_load_n(&s->state[p], __ATOMIC_ACQUIRE);
}

static void state_set(struct obs_race *s, size_t p, enum pstate v)
{
	__atomic_store_n(&s->state[p], v, __ATOMIC_RELEASE);
}

static void obs_collapser(void *arg, struct role *role)
{
	struct obs_race *s = arg;

	role_set(role, "in MADV_COLLAPSE", -1);
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
	s->ret = collapse(s->x->w.r.addr, s->x->w.r.size);
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
}

/* The data/hole map read in this pass against the truth around it. */
static void obs_check_map(struct obs_race *s, bool in_flight)
{
	struct race *x = s->x;
	const char *how = x->w.r.ops->missing_how;
	const char *when = in_flight ? "while MADV_COLLAPSE was in flight" :
				       "with no collapse in flight";
	size_t p;

	for (p = 0; p < x->w.npages && !race_failed(x); p++) {
		if ((s->before[p] == S_PRESENT || s->before[p] == S_FILLED) &&
		    s->hole_seen[p])
			race_fail(x, "present page %zu (offset %#zx) reported as a hole by %s %s",
				  p, p * x->ps, how, when);
		else if (s->before[p] == S_HOLE && s->after[p] == S_HOLE &&
			 !s->hole_seen[p])
			race_fail(x, "hole %zu (offset %#zx), which no thread filled, reported as data by %s %s",
				  p, p * x->ps, how, when);
	}
}

/*
 * Size never moves. Blocks: the pages present (plus fills in progress), or,
 * while a collapse is in flight, the whole range at once (plus holes filled
 * after the collapse counted them): the fixed kernel charges all the holes
 * it counted before its final check and uncharges them on rollback.
 * Anything between is a range seen half collapsed.
 */
static void obs_check_stat(struct obs_race *s, const struct stat *st,
			   bool in_flight)
{
	struct race *x = s->x;
	long long present = 0, f0 = 0, f1 = 0, b;
	size_t p;

	for (p = 0; p < x->w.npages; p++) {
		present += s->before[p] == S_PRESENT;
		f0 += s->before[p] == S_FILLED;
		f1 += s->after[p] >= S_FILLING;
	}
	if (st->st_size != (off_t)x->w.r.size) {
		race_fail(x, "file size moved: %lld, should be %zu",
			  (long long)st->st_size, x->w.r.size);
		return;
	}
	b = st->st_blocks / s->blocks_per_page;
	if (b >= present + f0 && b <= present + f1)
		return;
	if (in_flight && b >= (long long)x->w.npages &&
	    b <= (long long)x->w.npages + f1) {
		s->charged++;
		return;
	}
	race_fail(x, "st_blocks says %lld pages allocated %s; %lld..%lld are present (or %zu..%lld while a collapse charges its holes)",
		  b, in_flight ? "while MADV_COLLAPSE was in flight" :
		  "with no collapse in flight", present + f0, present + f1,
		  x->w.npages, x->w.npages + f1);
}

static void obs_states(struct obs_race *s, unsigned int *into)
{
	size_t p;

	for (p = 0; p < s->x->w.npages; p++)
		into[p] = state_get(s, p);
}

/* One pass: the data/hole map and fstat(), checked against the truth. */
static void obs_pass(struct obs_race *s)
{
	struct race *x = s->x;
	unsigned int s0, s1;
	struct stat st = { 0 };
	bool in_flight;

	obs_states(s, s->before);
	s0 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	if (mem_missing(&x->w.r, s->hole_seen) ||
	    (x->w.r.ops->file && fstat(x->w.r.fd, &st))) {
		race_fail(x, "observer: %s", strerror(errno));
		return;
	}
	s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	obs_states(s, s->after);
	in_flight = (s0 & 1) || s0 != s1;
	s->passes++;
	s->inside += s0 == s1 && (s0 & 1);
	obs_check_map(s, in_flight);
	if (x->w.r.ops->file)
		obs_check_stat(s, &st, in_flight);
}

static void obs_observer(void *arg, struct role *role)
{
	struct obs_race *s = arg;

	role_set(role, "reading the data/hole map", -1);
	do {
		obs_pass(s);
	} while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) &&
		 !race_failed(s->x));
}

static void obs_fill(struct obs_race *s, struct role *role)
{
	struct race *x = s->x;

	state_set(s, s->page, S_FILLING);
	if (x->w.r.ops->file) {
		role_set(role, "pwrite() into a hole", s->page);
		if (fill_page(x, s->page, FILL_PWRITE, x->page_buf))
			race_fail(x, "pwrite() of page %zu: %s", s->page,
				  strerror(errno));
	} else {
		role_set(role, "reading a hole, waiting for the fault handler",
			 s->page);
		(void)*(volatile char *)page_addr(x, s->page);
	}
	state_set(s, s->page, S_FILLED);
}

/* vmsplice() holds a reference on the page until the pipe is read. */
static void obs_pin(struct obs_race *s, struct role *role)
{
	struct race *x = s->x;
	struct iovec iov = { .iov_base = page_addr(x, s->page),
			     .iov_len = x->ps };
	char *buf = x->buf;

	role_set(role, "vmsplice() of a present page", s->page);
	if (vmsplice(s->pipe[1], &iov, 1, 0) != (ssize_t)x->ps) {
		race_fail(x, "vmsplice(): %s", strerror(errno));
		return;
	}
	race_spin_ns(s->hold_ns);
	role_set(role, "reading the pipe to unpin a page", s->page);
	if (read(s->pipe[0], buf, x->ps) != (ssize_t)x->ps)
		race_fail(x, "reading the vmsplice() pipe: %s",
			  strerror(errno));
}

static void obs_touch(struct obs_race *s, struct role *role)
{
	volatile char *page = page_addr(s->x, s->page);
	uint64_t end = race_now_ns() + s->hold_ns;

	role_set(role, "reading a present page", s->page);
	do {
		(void)*page;
	} while (race_now_ns() < end);
}

static void obs_disturber(void *arg, struct role *role)
{
	struct obs_race *s = arg;

	race_spin_until(race_now_ns() + s->delay_ns, role->crowded);
	if (s->action == D_FILL)
		obs_fill(s, role);
	else if (s->action == D_PIN)
		obs_pin(s, role);
	else if (s->action == D_TOUCH)
		obs_touch(s, role);
}

static void obs_plan(struct race *x, struct obs_race *s)
{
	size_t p;

	for (p = 0; p < x->w.npages; p++)
		state_set(s, p, x->w.hole[p] ? S_HOLE : S_PRESENT);
	s->action = race_rng_below(&x->rng, NR_DISTURB);
	s->page = random_page(x, s->action == D_FILL);
	s->delay_ns = race_moment(x);
	s->hold_ns = race_rng_below(&x->rng, x->call_ns / 2 + 1);
	if (s->action == D_FILL && x->w.r.ops->file)
		pattern_fill(x->page_buf, x->ps, PATTERN_FILL, s->page);
	s->seq = 0;
	s->ret = -1;
	s->done = false;
	s->passes = s->inside = 0;
}

static void obs_outcome(struct race *x, struct obs_race *s)
{
	if (s->action == D_FILL) {
		x->want[s->page] = x->w.r.ops->file ? W_FILL : W_UFFD;
		x->changed[s->page] = true;
	}
	if (round_conclusive(x, 0, s->ret == ENOMEM))
		x->windows += s->ret && s->inside;
	tally(&x->out, calls_errno_name(s->ret));
	tally(&x->out, disturb_name[s->action]);
	if (!s->ret)
		race_fail(x, "MADV_COLLAPSE succeeded over holes under MODE_MISSING (the holes were filled silently)");
	else if (s->ret != EBUSY && s->ret != EAGAIN && s->ret != ENOMEM)
		race_fail(x, "MADV_COLLAPSE returned %s; allowed: EBUSY, EAGAIN%s",
			  calls_errno_name(s->ret), einval_hint(x, s->ret));
}

static void obs_iteration(struct race *x, struct team *t, struct obs_race *s)
{
	if (!round_holes(x, OBS_HOLES))
		return;
	obs_plan(x, s);
	if (reg_missing(x, 0, x->w.npages)) {
		race_fail(x, "UFFDIO_REGISTER: %s", strerror(errno));
		return;
	}
	handler_mark(x);
	if (!team_round(t))
		return;
	obs_outcome(x, s);
	handler_check(x);
	unreg(x, 0, x->w.npages);
	verify_data(x, 0, x->w.npages);
}

static bool obs_alloc(struct race *x, struct obs_race *s)
{
	s->x = x;
	s->state = calloc(x->w.npages, sizeof(*s->state));
	s->before = calloc(x->w.npages, sizeof(*s->before));
	s->after = calloc(x->w.npages, sizeof(*s->after));
	s->hole_seen = calloc(x->w.npages, sizeof(bool));
	s->blocks_per_page = x->ps / 512;
	return s->state && s->before && s->after && s->hole_seen &&
	       !pipe(s->pipe);
}

static void obs_free(struct obs_race *s)
{
	free(s->state);
	free(s->before);
	free(s->after);
	free(s->hole_seen);
	close(s->pipe[0]);
	close(s->pipe[1]);
}

static void run_observer_vs_failed_collapse(struct race *x,
					    unsigned long *passes,
					    unsigned long *charged)
{
	struct team t = { 0 };
	struct obs_race s = { 0 };

	if (!start_handler(x))
		return;
	if (!obs_alloc(x, &s)) {
		race_fail(x, "set-up: out of memory or pipes");
		return;
	}
	team_lead(&t, "collapser", obs_collapser);
	team_add(&t, "observer", obs_observer);
	team_add(&t, "disturber", obs_disturber);
	race_start(x, 1, MIN_ITERS);
	if (calibrate(x, true, OBS_HOLES) && race_team_start(x, &t, &s))
		while (race_next(x)) {
			obs_iteration(x, &t, &s);
			*passes += s.passes;
		}
	race_team_stop(x, &t);
	*charged = s.charged;
	if (!x->leak)
		obs_free(&s);
}

TEST_F_TIMEOUT(race_shmem, observer_vs_failed_collapse, RACE_TIMEOUT_S(1))
{
	unsigned long passes = 0, charged = 0;

	run_observer_vs_failed_collapse(&self->x, &passes, &charged);
	diag("%s: %lu observer passes; st_blocks showed the whole range charged by a collapse in flight %lu times",
	     _metadata->name, passes, charged);
	race_verdict(_metadata, &self->x,
		     "an observer pass inside a MADV_COLLAPSE that failed");
}

/* ---- reg_vs_collapse, and its variants --------------------------------- */

/*
 * A registration racing MADV_COLLAPSE: pages seen missing after it fault
 * to userspace, whatever the moment; the collapse says success, EBUSY or
 * EAGAIN. Window: UFFDIO_REGISTER returned inside a call that then
 * succeeded, or in the last quarter of one that was then rolled back
 * (EBUSY, EAGAIN): a collapse looks for userfaultfds late in the call
 * (after copying, in collapse_file(); after retaking the mmap lock, in
 * __collapse_huge_page_isolate()), so a registration early in a call that
 * is then refused raced nothing (reg_raced()). Its variants, each with
 * reg_vs_collapse's window and more:
 *  - reg_vs_collapse_uring_pins: a thread registers and
 *    unregisters an io_uring buffer over a present page in a loop; a pin
 *    overlapped the window's call, and no call may succeed while a pin
 *    lasts all through it;
 *  - reg_vs_crowded_collapse: collapse_file()'s userfaultfd walk made long
 *    (REG_CROWD more mappings after the registered one): a registration
 *    that returns after the walk looked at its mapping finds no page
 *    missing (the retry entries hide the holes until the huge page is
 *    stored), or the holes raise events; the window is that gap;
 *  - other_process_reg_vs_collapse: the registrar a child process
 *    with a mapping of the file, a userfaultfd and a handler of its own;
 *  - reg_vs_collapse_across_nodes: the memory on node 1, the
 *    collapser bound to node 0 and the registrar to node 1; the window's
 *    roles ran on different nodes.
 */

struct reg_race {
	struct race *x;
	uint64_t delay_ns;
	uint64_t reg_ns;	/* UFFDIO_REGISTER returned; 0 until then */
	bool touch_late;	/* touch once the collapser is done */
	int collapsed;		/* the collapser is done */
	struct calls calls;
	/* reg_vs_collapse_uring_pins: a page pinned in spans */
	struct pin_spans pin;
	/* other_process_reg_vs_collapse: the registrar is another process */
	bool other_process;
	/* reg_vs_collapse_across_nodes: the team's nodes, where the roles ran */
	unsigned int nodes;
	int col_node, reg_node;
	unsigned long apart;	/* iterations they ran on different nodes */
	unsigned long quarter[4];	/* where in a call registrations returned */
	/* reg_vs_crowded_collapse: the crowd, and how long looking took */
	bool crowd_wanted;
	struct crowd crowd;
	uint64_t walk_ns;	/* what the crowd adds to a collapsing call */
	uint64_t alone_ns;	/* a collapsing call, alone (calibrated) */
	uint64_t success_ns;	/* a collapsing call, in the race */
	uint64_t reg_cost_ns;	/* how long UFFDIO_REGISTER takes */
	uint64_t look_ns, look_base_ns;
	unsigned long in_success, waited;
};

static void reg_collapser(void *arg, struct role *role)
{
	struct reg_race *s = arg;

	if (s->nodes)
		s->col_node = node_here();
	role_set(role, "in MADV_COLLAPSE", -1);
	collapse_until(s->x, &s->calls, &s->reg_ns, &s->collapsed,
		       s->pin.pinner);
}

/*
 * Register at the varied moment, see what is missing, touch it: every page
 * seen missing raises its event in this role's handler, none EEXIST. In
 * another process, unregister there once done (for a thread, the main
 * thread does after the round).
 */
static void reg_registrar(void *arg, struct role *role)
{
	struct reg_race *s = arg;
	struct race *x = s->x;
	uint64_t t0;
	int ret;

	handler_mark(x);
	race_spin_ns(s->delay_ns);
	if (s->nodes)
		s->reg_node = node_here();
	role_set(role, "in UFFDIO_REGISTER", -1);
	t0 = race_now_ns();
	ret = reg_missing(x, 0, x->w.npages);
	race_store_ns(&s->reg_ns, race_now_ns());
	if (ret) {
		race_fail(x, "UFFDIO_REGISTER: %s", strerror(errno));
		return;
	}
	s->reg_cost_ns = race_load_ns(&s->reg_ns) - t0;
	role_set(role, "reading which pages are missing", -1);
	snapshot_seen(x, 0, x->w.npages);
	s->look_ns = race_now_ns() - race_load_ns(&s->reg_ns);
	role_set(role, "waiting for the collapser", -1);
	if (s->touch_late && !race_wait_flag(&s->collapsed, STUCK_MS / 2))
		race_fail(x, "MADV_COLLAPSE did not return within %d ms",
			  STUCK_MS / 2);
	touch_seen(x, 0, x->w.npages, role);
	handler_check(x);
	if (s->other_process)
		unreg(x, 0, x->w.npages);
}

/* The registrar's process: the file through a mapping of its own. */
static bool reg_registrar_setup(void *arg)
{
	struct reg_race *s = arg;

	return race_own_view(s->x);
}

/* Pin a present page in spans until the collapser is done (pin_spans.h). */
static void reg_pinner(void *arg, struct role *role)
{
	struct reg_race *s = arg;

	pin_spans_run(s->x, &s->pin, &s->collapsed, role);
}

/*
 * Calibrated time @t as the race's threads see it: calls last longer
 * among them than alone.
 */
static uint64_t reg_scaled(const struct reg_race *s, uint64_t t)
{
	if (!s->alone_ns || s->success_ns <= s->alone_ns)
		return t;
	return t * s->success_ns / s->alone_ns;
}

/*
 * With a crowd, the window is the gap between collapse_file()'s look at the
 * registered mapping and its store of the huge page: the registration
 * returned inside a call that then succeeded over holes (so after that
 * look), and reading which pages are missing waited on the retry entries
 * (lock-free readers spin on them until the store) for more than a quarter
 * of the crowd's walk (both as long as the race makes them).
 */
static bool reg_in_gap(struct reg_race *s, const struct call *raced)
{
	if (!raced || raced->ret)
		return false;
	s->in_success++;
	if (s->look_ns <= reg_scaled(s, s->look_base_ns + s->walk_ns / 4))
		return false;
	s->waited++;
	return true;
}

/*
 * The window: the registration raced a call (reg_outcome()); with a
 * pinner, a pin overlapped that call; across nodes, the two roles ran on
 * different nodes; with a crowd, it returned in the gap (reg_in_gap()).
 */
static bool reg_window(struct reg_race *s, const struct call *raced)
{
	bool apart = s->col_node >= 0 && s->reg_node >= 0 &&
		     s->col_node != s->reg_node;

	s->apart += apart;
	if (s->crowd.n)
		return reg_in_gap(s, raced);
	if (!raced)
		return false;
	if (s->pin.pinner &&
	    !calls_overlap(&s->pin.spans, raced->start, raced->end))
		return false;
	return !s->nodes || apart;
}

/*
 * Where in its call the registration returned, by quarter; with a crowd,
 * also how long a call that collapsed lasted.
 */
static void reg_track(struct race *x, struct reg_race *s)
{
	const struct call *c = reg_call(&s->calls, s->reg_ns);
	const struct call *first = first_call(&s->calls);

	if (c)
		s->quarter[(s->reg_ns - c->start) * 4 / (c->end - c->start)]++;
	track_call_ns(x, &s->calls, s->reg_ns);
	if (s->crowd.n && first && !first->ret)
		follow_ns(&s->success_ns, first);
}

/*
 * A registration aimed at the gap (reg_in_gap()): to return within the
 * crowd's walk (and a quarter more) before a collapsing call ends, three
 * times in four; else as reg_vs_collapse draws it.
 */
static uint64_t reg_aim(struct race *x, struct reg_race *s)
{
	uint64_t end, back;

	if (!s->crowd.n || !race_rng_below(&x->rng, 4))
		return reg_moment(x);
	end = s->success_ns > s->reg_cost_ns ? s->success_ns - s->reg_cost_ns : 0;
	back = race_rng_below(&x->rng, reg_scaled(s, s->walk_ns) * 5 / 4 + 1);
	return end > back ? end - back : 0;
}

static void reg_iteration(struct race *x, struct team *t, struct reg_race *s)
{
	if (!round_holes(x, REG_HOLES))
		return;
	s->delay_ns = reg_aim(x, s);
	s->touch_late = race_rng_below(&x->rng, 2);
	s->reg_ns = 0;
	s->collapsed = 0;
	s->col_node = s->reg_node = -1;
	calls_init(&s->calls, !x->w.r.ops->page_cache);
	pin_spans_plan(x, &s->pin);
	if (!team_round(t))
		return;
	x->windows += reg_window(s, reg_outcome(x, &s->calls, s->reg_ns,
					       s->other_process ?
					       "the other process's" : "the"));
	if (s->pin.pinner)
		pin_spans_check(x, &s->pin, &s->calls);
	reg_track(x, s);
	unreg(x, 0, x->w.npages);
	expect_collapsed_unseen(x, 0, x->w.npages);
	verify_data(x, 0, x->w.npages);
}

/*
 * Widen the gap: REG_CROWD more mappings of the range's last page, which
 * collapse_file()'s userfaultfd walk visits after the registered mapping
 * (crowd.h). The walk's length: a call refused for a registration on the
 * crowd's last mapping, less one refused for the range's own.
 */
static bool reg_crowd(struct race *x, struct reg_race *s)
{
	uint64_t first, last;
	const char *why;

	why = crowd_create(&s->crowd, &x->w.r, x->w.npages - 1, REG_CROWD);
	if (why || !s->crowd.n) {
		race_fail(x, "set-up: %s", why ? why : "vm.max_map_count leaves no room for more mappings");
		return false;
	}
	if (!calibrate(x, false, REG_HOLES))
		return false;
	s->alone_ns = s->success_ns = x->call_ns;
	first = refused_ns(x, NULL, REG_HOLES);
	last = refused_ns(x, s->crowd.addr[s->crowd.n - 1], REG_HOLES);
	s->walk_ns = first && last > first ? last - first : 0;
	call_setup(x, false, REG_HOLES);
	s->look_base_ns = snapshot_ns(x);
	call_done(x, false);
	diag("collapse_file()'s userfaultfd walk over %zu more mappings of the last page takes %" PRIu64 " us (refused calls: %" PRIu64 " us for the first mapping, %" PRIu64 " us for the last); reading which pages are missing takes %" PRIu64 " us",
	     s->crowd.n, s->walk_ns / 1000, first / 1000, last / 1000,
	     s->look_base_ns / 1000);
	return !race_failed(x);
}

/*
 * reg_vs_collapse (and its variants): @s->pin.pinner set adds a thread
 * pinning pages through io_uring; @s->other_process makes the registrar
 * another process (@s then in MAP_SHARED memory); @nodes binds the roles to
 * different NUMA nodes.
 */
static void run_reg_vs_collapse(struct race *x, struct reg_race *s,
				unsigned int nodes)
{
	struct team t = { .nodes = nodes };

	s->x = x;
	s->nodes = nodes;
	if (!start_handler(x) || (s->crowd_wanted && !reg_crowd(x, s)))
		return;
	if (!calibrate(x, x->w.r.ops->page_cache, REG_HOLES))
		return;
	team_lead(&t, "collapser", reg_collapser);
	if (s->other_process)
		team_add_process(&t, "registrar", reg_registrar,
				 reg_registrar_setup);
	else
		team_add(&t, "registrar", reg_registrar);
	if (s->pin.pinner)
		team_add(&t, "pinner", reg_pinner);
	if (!race_team_start(x, &t, s))
		return;
	if (x->bench)
		bench_ceilings(x, REG_HOLES);
	race_start(x, 1, MIN_ITERS);
	while (race_next(x))
		reg_iteration(x, &t, s);
	race_team_stop(x, &t);
	diag("registrations returned in the 1st/2nd/3rd/4th quarter of a MADV_COLLAPSE call: %lu/%lu/%lu/%lu; calls lasted %" PRIu64 " us in the race",
	     s->quarter[0], s->quarter[1], s->quarter[2], s->quarter[3],
	     x->call_ns / 1000);
	if (s->crowd.n)
		diag("registrations that returned in a call that succeeded over holes: %lu; of them, the look at the holes waited on the retry entries (in the gap): %lu, %.1f per second",
		     s->in_success, s->waited,
		     s->waited * 1000.0 /
		     (race_budget_elapsed_ms(&x->budget) + 1));
	crowd_destroy(&s->crowd);
}

TEST_F_TIMEOUT(race, reg_vs_collapse, RACE_TIMEOUT_S(1))
{
	struct reg_race s = { 0 };

	run_reg_vs_collapse(&self->x, &s, 0);
	race_verdict(_metadata, &self->x,
		     "registration returned during a MADV_COLLAPSE call");
}

TEST_F_TIMEOUT(race, reg_vs_collapse_uring_pins, RACE_TIMEOUT_S(1))
{
	struct race *x = &self->x;
	struct reg_race s = { 0 };
	int ret;

	SKIP_IF(uring_probe());
	s.pin.pinner = uring_pinner();
	ASSERT_NE(NULL, s.pin.pinner) TH_LOG("io_uring_queue_init() failed");
	ret = uring_pin_buffer(s.pin.pinner, x->w.r.addr, x->ps);
	if (ret) {
		uring_pinner_free(s.pin.pinner);
		SKIP(return, "io_uring cannot register buffers over %s: %s",
		     mem_type_name(x->w.r.type), strerror(-ret));
	}
	uring_unpin_buffer(s.pin.pinner);
	run_reg_vs_collapse(x, &s, 0);
	diag("%s: %lu MADV_COLLAPSE calls ran wholly while a page was pinned",
	     _metadata->name, s.pin.pinned_calls);
	if (!x->leak)
		uring_pinner_free(s.pin.pinner);
	race_verdict(_metadata, x,
		     "registration returned during a MADV_COLLAPSE call while a buffer pinned a page");
}

TEST_F_TIMEOUT(race_shmem, reg_vs_crowded_collapse, RACE_TIMEOUT_S(1))
{
	struct reg_race s = { .crowd_wanted = true };

	run_reg_vs_collapse(&self->x, &s, 0);
	race_verdict(_metadata, &self->x,
		     "a registration returned between the walk's look at its mapping and the huge page's store");
}

TEST_F_TIMEOUT(race_shmem, other_process_reg_vs_collapse, RACE_TIMEOUT_S(1))
{
	/* what the registrar's process reads and writes each round */
	struct reg_race *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, s);
	s->other_process = true;
	run_reg_vs_collapse(&self->x, s, 0);
	race_verdict(_metadata, &self->x,
		     "the other process's registration returned during a MADV_COLLAPSE call");
}

TEST_F_TIMEOUT(race_numa, reg_vs_collapse_across_nodes, RACE_TIMEOUT_S(1))
{
	struct reg_race s = { 0 };

	run_reg_vs_collapse(&self->x, &s, RACE_NODE + 1);
	diag("%s: the collapser and the registrar ran on different nodes in %lu of %lu iterations",
	     _metadata->name, s.apart, self->x.budget.iters);
	race_verdict(_metadata, &self->x,
		     "registration returned during a MADV_COLLAPSE call on another node");
}

/* ---- fill_vs_collapse -------------------------------------------------- */

/*
 * Holes filled (stores, pwrite(), fallocate()) while MADV_COLLAPSE runs: no
 * write lost, the collapse says success or EAGAIN, and the range agrees
 * with the answer (fill_outcome()). Window: a fill of a hole ran at the same
 * time as a call (it began before the call ended and ended after the call
 * began).
 */

struct fill_job {
	size_t page;
	enum fill_how how;
	uint64_t delay_ns, start, end;
	char *buf;
};

struct fill_race {
	struct race *x;
	struct calls calls;
	struct fill_job job[FILL_WRITERS][FILL_PER_WRITER];
};

static void fill_collapser(void *arg, struct role *role)
{
	struct fill_race *s = arg;

	role_set(role, "in MADV_COLLAPSE", -1);
	calls_do(&s->calls, s->x->w.r.addr, s->x->w.r.size);
}

static void fill_writer(void *arg, struct role *role)
{
	struct fill_race *s = arg;
	struct fill_job *j = s->job[role->idx];
	uint64_t t0 = race_now_ns();
	int k;

	for (k = 0; k < FILL_PER_WRITER; k++) {
		race_spin_until(t0 + j[k].delay_ns, role->crowded);
		role_set(role, fill_name[j[k].how], j[k].page);
		j[k].start = race_now_ns();
		if (fill_page(s->x, j[k].page, j[k].how, j[k].buf))
			race_fail(s->x, "%s of page %zu: %s",
				  fill_name[j[k].how], j[k].page,
				  strerror(errno));
		j[k].end = race_now_ns();
	}
}

/* A hole of this iteration not given to a writer yet. */
static size_t free_hole(struct race *x)
{
	size_t p;

	do {
		p = race_rng_below(&x->rng, x->w.npages);
	} while (!x->w.hole[p] || x->seen[p]);
	x->seen[p] = true;	/* here: taken by a writer */
	return p;
}

static void fill_plan(struct race *x, struct fill_race *s)
{
	int nhow = x->w.r.ops->file ? NR_FILL_HOW : 1;
	struct fill_job *j, tmp;
	int w, k;

	for (w = 0; w < FILL_WRITERS; w++) {
		for (k = 0; k < FILL_PER_WRITER; k++) {
			j = &s->job[w][k];
			j->page = free_hole(x);
			j->how = race_rng_below(&x->rng, nhow);
			j->delay_ns = race_moment(x);
			if (j->how == FILL_PWRITE)
				pattern_fill(j->buf, x->ps, PATTERN_FILL,
					     j->page);
		}
		j = s->job[w];
		if (j[0].delay_ns > j[1].delay_ns) {
			tmp = j[0];
			j[0] = j[1];
			j[1] = tmp;
		}
	}
}

/*
 * Window, result and what each page must read now. The answer must agree
 * with the range: after a success every hole is present (zero, or the
 * writer's data) and the range PMD-mapped (madvise_collapse() maps it);
 * after EAGAIN (SCAN_PAGE_FILLED and the like: collapse_file() rolled
 * back) nothing was collapsed, and no hole the writers left was filled.
 */
static void fill_outcome(struct race *x, struct fill_race *s)
{
	const struct call *c = calls_last(&s->calls);
	enum want untouched = !c->ret ? W_ZERO :
			      c->ret == EAGAIN ? W_HOLE : W_ZERO_OR_HOLE;
	bool window = false;
	struct fill_job *j;
	size_t p;
	int w, k;

	for (p = 0; p < x->w.npages; p++)
		if (x->w.hole[p])
			x->want[p] = untouched;
	for (w = 0; w < FILL_WRITERS; w++)
		for (k = 0; k < FILL_PER_WRITER; k++) {
			j = &s->job[w][k];
			window |= j->start < c->end && c->start < j->end;
			/* shmem's SEEK_DATA skips an unwritten fallocate()d page */
			x->want[j->page] = j->how == FILL_FALLOCATE ?
					   W_ZERO_OR_HOLE : W_FILL;
		}
	if (round_conclusive(x, s->calls.excused, c->ret == ENOMEM))
		x->windows += window;
	if (c->ret && c->ret != EAGAIN && c->ret != ENOMEM)
		race_fail(x, "MADV_COLLAPSE while holes were filled returned %s; allowed: success, EAGAIN%s",
			  calls_errno_name(c->ret), einval_hint(x, c->ret));
	tally(&x->out, calls_errno_name(c->ret));
	if (c->ret == EAGAIN && window)
		tally(&x->out, "EAGAIN-in-window");
}

/*
 * After verify_data(): PMD-mapped exactly when the call said 0, and a
 * file's st_blocks counts what is allocated: the present pages and the
 * fallocate()d ones SEEK_DATA does not show (a collapsed range: all).
 */
static void fill_check_range(struct race *x, struct fill_race *s)
{
	const struct call *c = calls_last(&s->calls);
	long long present = 0, size, blocks;
	long mapped = thp_pmd_mapped(x->w.r.addr);
	struct fill_job *j;
	size_t p;
	int w, k;

	if (race_failed(x) || c->ret == ENOMEM ||
	    (c->ret == EINVAL && s->calls.excused))
		return;
	if (mapped != (c->ret ? 0 : (long)x->w.r.size)) {
		race_fail(x, "MADV_COLLAPSE returned %s, and %ld bytes of the range are PMD-mapped",
			  calls_errno_name(c->ret), mapped);
		return;
	}
	if (!x->w.r.ops->file)
		return;
	for (p = 0; p < x->w.npages; p++)
		present += !x->w.missing[p];
	for (w = 0; w < FILL_WRITERS; w++)
		for (k = 0; k < FILL_PER_WRITER; k++) {
			j = &s->job[w][k];
			present += j->how == FILL_FALLOCATE &&
				   x->w.missing[j->page];
		}
	if (mem_stat(&x->w.r, &size, &blocks)) {
		race_fail(x, "fstat(): %s", strerror(errno));
		return;
	}
	if (blocks != present * (long long)(x->ps / 512))
		race_fail(x, "MADV_COLLAPSE returned %s; st_blocks says %lld pages allocated, %lld are present or fallocate()d",
			  calls_errno_name(c->ret),
			  blocks / (long long)(x->ps / 512), present);
}

static void fill_iteration(struct race *x, struct team *t, struct fill_race *s)
{
	if (!round_holes(x, FILL_HOLES))
		return;
	fill_plan(x, s);
	calls_init(&s->calls, !x->w.r.ops->page_cache);
	if (!team_round(t))
		return;
	fill_outcome(x, s);
	verify_data(x, 0, x->w.npages);
	fill_check_range(x, s);
}

static void run_fill_vs_collapse(struct race *x)
{
	struct team t = { 0 };
	struct fill_race s = { .x = x };
	size_t njobs = FILL_WRITERS * FILL_PER_WRITER;
	char *bufs = aligned_alloc(x->ps, njobs * x->ps);
	int w, k;

	for (w = 0; w < FILL_WRITERS; w++)
		for (k = 0; k < FILL_PER_WRITER && bufs; k++)
			s.job[w][k].buf = bufs +
					  (w * FILL_PER_WRITER + k) * x->ps;
	if (!bufs)
		race_fail(x, "set-up: out of memory");
	team_lead(&t, "collapser", fill_collapser);
	for (w = 0; w < FILL_WRITERS; w++)
		team_add(&t, "writer", fill_writer);
	if (!race_failed(x) && calibrate(x, false, FILL_HOLES) &&
	    race_team_start(x, &t, &s)) {
		if (x->bench)
			bench_ceilings(x, FILL_HOLES);
		race_start(x, 1, MIN_ITERS);
		while (race_next(x))
			fill_iteration(x, &t, &s);
	}
	race_team_stop(x, &t);
	if (!x->leak)
		free(bufs);
}

TEST_F_TIMEOUT(race, fill_vs_collapse, RACE_TIMEOUT_S(1))
{
	struct race *x = &self->x;

	run_fill_vs_collapse(x);
	diag("%s: EAGAIN %lu times, %lu of them with a fill during the call",
	     _metadata->name, tally_of(&x->out, "EAGAIN"),
	     tally_of(&x->out, "EAGAIN-in-window"));
	race_verdict(_metadata, x, "a fill during a MADV_COLLAPSE call");
}

/* ---- unregister_vs_collapse -------------------------------------------- */

/*
 * The registration goes (UFFDIO_UNREGISTER, or close() of the userfaultfd)
 * while MADV_COLLAPSE runs: a call wholly under it is refused, and once it
 * is gone the collapse succeeds (no hang, no stale EBUSY). Window: the
 * unregistration ran at the same time as a call (the call began before it
 * returned and ended after it began: on anon the two serialise on the mmap
 * lock, so one rarely returns inside the other).
 */

struct unreg_race {
	struct race *x;
	int uffd;
	bool close_it;
	uint64_t delay_ns;
	uint64_t unreg_start, unreg_end;	/* 0 until then */
	struct calls calls;
	unsigned int tries_after;		/* calls started after it */
	bool collapsed;
	bool inconclusive;			/* a call said ENOMEM */
	int first_done;				/* the first call returned */
};

/*
 * One call's result against where it fell: wholly registered (no success
 * over holes), across the unregistration (anything but a failure other
 * than EBUSY/EAGAIN), after it (success or EAGAIN: EBUSY is stale).
 */
static bool unreg_judge(struct unreg_race *s, const struct call *c)
{
	struct race *x = s->x;
	uint64_t us = race_load_ns(&s->unreg_start);
	uint64_t ue = race_load_ns(&s->unreg_end);
	const char *gone = s->close_it ? "close()" : "UFFDIO_UNREGISTER";
	char sum[160];

	if (c->ret == ENOMEM) {
		s->inconclusive = true;
		return true;
	}
	if (c->ret && c->ret != EBUSY && c->ret != EAGAIN) {
		race_fail(x, "MADV_COLLAPSE returned %s %s %s returned%s",
			  calls_errno_name(c->ret),
			  !us || c->end < us ? "before" :
			  !ue || c->start < ue ? "while" : "after", gone,
			  einval_hint(x, c->ret));
		return true;
	}
	if (!us) {
		if (!c->ret)
			race_fail(x, "MADV_COLLAPSE succeeded over holes while MODE_MISSING was still registered");
		return false;
	}
	if (!ue || c->start < ue)
		return !c->ret;
	s->tries_after++;
	if (c->ret == EBUSY)
		race_fail(x, "stale refusal: MADV_COLLAPSE started %" PRIu64 " us after %s returned said EBUSY",
			  (c->start - ue) / 1000, gone);
	else if (c->ret && s->tries_after >= UNREG_TRIES_AFTER)
		race_fail(x, "MADV_COLLAPSE still %s after %u tries since %s returned (%s)",
			  calls_errno_name(c->ret), s->tries_after, gone,
			  calls_summary(&s->calls, sum, sizeof(sum)));
	return !c->ret || s->tries_after >= UNREG_TRIES_AFTER;
}

static void unreg_collapser(void *arg, struct role *role)
{
	struct unreg_race *s = arg;
	uint64_t end = race_now_ns() + STUCK_MS / 2 * 1000000ULL;
	const struct call *c;
	char sum[160];
	bool done;

	role_set(role, "in MADV_COLLAPSE", -1);
	do {
		c = calls_do(&s->calls, s->x->w.r.addr, s->x->w.r.size);
		__atomic_store_n(&s->first_done, 1, __ATOMIC_RELEASE);
		done = unreg_judge(s, c);
	} while (!done && !race_failed(s->x) && race_now_ns() < end);
	s->collapsed = !c->ret;
	if (!done && !race_failed(s->x))
		race_fail(s->x, "no MADV_COLLAPSE success within %d ms, %s %s returned (%s)",
			  STUCK_MS / 2, race_load_ns(&s->unreg_end) ?
			  "though" : "and not yet",
			  s->close_it ? "close()" : "UFFDIO_UNREGISTER",
			  calls_summary(&s->calls, sum, sizeof(sum)));
}

static void unreg_unregistrar(void *arg, struct role *role)
{
	struct unreg_race *s = arg;
	int ret;

	/*
	 * One whole call under the registration first: with holes, it must
	 * be refused (on a kernel without the change, a shmem one succeeds).
	 */
	role_set(role, "waiting for the first MADV_COLLAPSE call to return",
		 -1);
	if (!race_wait_flag(&s->first_done, STUCK_MS / 2)) {
		race_fail(s->x, "the first MADV_COLLAPSE call did not return within %d ms",
			  STUCK_MS / 2);
		return;
	}
	race_spin_ns(s->delay_ns);
	role_set(role, s->close_it ? "in close()" : "in UFFDIO_UNREGISTER",
		 -1);
	race_store_ns(&s->unreg_start, race_now_ns());
	if (s->close_it)
		ret = close(s->uffd);
	else
		ret = uffd_unregister(s->uffd, s->x->w.r.addr, s->x->w.r.size);
	race_store_ns(&s->unreg_end, race_now_ns());
	if (ret)
		race_fail(s->x, "%s: %s", s->close_it ? "close()" :
			  "UFFDIO_UNREGISTER", strerror(errno));
}

static void unreg_iteration(struct race *x, struct team *t,
			    struct unreg_race *s)
{
	size_t p;

	if (!round_holes(x, UNREG_HOLES))
		return;
	s->uffd = uffd_open(0);
	if (s->uffd < 0 || uffd_register(s->uffd, x->w.r.addr, x->w.r.size,
					 UFFDIO_REGISTER_MODE_MISSING)) {
		race_fail(x, "userfaultfd set-up: %s", strerror(errno));
		return;
	}
	s->close_it = race_rng_below(&x->rng, 2);
	s->delay_ns = race_moment(x);
	s->unreg_start = s->unreg_end = 0;
	s->tries_after = 0;
	s->inconclusive = false;
	s->first_done = 0;
	calls_init(&s->calls, !x->w.r.ops->page_cache);
	if (!team_round(t))
		return;
	if (!s->close_it)
		close(s->uffd);
	if (round_conclusive(x, s->calls.excused, s->inconclusive))
		x->windows += calls_overlap(&s->calls, s->unreg_start,
					    s->unreg_end);
	tally(&x->out, s->close_it ? "close" : "unregister");
	tally(&x->out, s->collapsed ? "collapsed" : "not-collapsed");
	for (p = 0; p < x->w.npages; p++)
		if (x->w.hole[p])
			x->want[p] = s->collapsed ? W_ZERO : W_ZERO_OR_HOLE;
	verify_data(x, 0, x->w.npages);
}

static void run_unregister_vs_collapse(struct race *x,
				       unsigned long *max_tries)
{
	struct team t = { 0 };
	struct unreg_race s = { .x = x };

	team_lead(&t, "collapser", unreg_collapser);
	team_add(&t, "unregistrar", unreg_unregistrar);
	race_start(x, 1, MIN_ITERS);
	if (calibrate(x, x->w.r.ops->page_cache, UNREG_HOLES) &&
	    race_team_start(x, &t, &s))
		while (race_next(x)) {
			unreg_iteration(x, &t, &s);
			if (s.tries_after > *max_tries)
				*max_tries = s.tries_after;
		}
	race_team_stop(x, &t);
}

TEST_F_TIMEOUT(race, unregister_vs_collapse, RACE_TIMEOUT_S(1))
{
	unsigned long max_tries = 0;

	run_unregister_vs_collapse(&self->x, &max_tries);
	diag("%s: at most %lu MADV_COLLAPSE calls after the unregistration before success",
	     _metadata->name, max_tries);
	race_verdict(_metadata, &self->x,
		     "unregister or close at the same time as a MADV_COLLAPSE call");
}

/* ---- khugepaged_vs_reg ------------------------------------------------- */

/*
 * Registrations racing khugepaged (made fast: thp_khugepaged_fast())
 * over KH_RANGES ranges with holes: a range seen with holes after its
 * registration is never collapsed behind its back. Window: a registration
 * returned with holes seen in its range while khugepaged was collapsing
 * the batch (it had collapsed another range by then, and collapsed yet
 * another after), in a batch whose full scans all came within their
 * bounded wait.
 */

struct kh_race {
	struct race *x;
	size_t per;		/* pages per range (one PMD) */
	uint64_t span_ns;	/* registrations are spread over this */
	unsigned int order[KH_RANGES];
	uint64_t at[KH_RANGES];
	bool first[KH_RANGES];		/* k-th registration saw holes */
	int collapsed_at[KH_RANGES];	/* first snapshot seeing it, or -1 */
	unsigned long registered_first, first_before, slow_scans;
};

static void kh_toucher(void *arg, struct role *role)
{
	struct kh_race *s = arg;

	touch_seen(s->x, 0, s->x->w.npages, role);
}

/* Registration moments: sorted times, dealt to the ranges at random. */
static void kh_plan(struct race *x, struct kh_race *s)
{
	race_rng_sorted(&x->rng, s->at, KH_RANGES, s->span_ns);
	race_rng_shuffle(&x->rng, s->order, KH_RANGES);
}

/*
 * Snapshot @k (x->w.missing just read): the ranges khugepaged has collapsed
 * by now (none of their pages missing) that it had not at earlier ones.
 */
static void kh_note_collapsed(struct kh_race *s, int k)
{
	unsigned int i;

	for (i = 0; i < KH_RANGES; i++)
		if (s->collapsed_at[i] < 0 && range_full(s->x, i))
			s->collapsed_at[i] = k;
}

/* Register each range at its moment; note what khugepaged did first. */
static void kh_register_all(struct race *x, struct kh_race *s, uint64_t t0)
{
	size_t first;
	unsigned int k;

	for (k = 0; k < KH_RANGES; k++) {
		s->first[k] = false;
		s->collapsed_at[k] = -1;
	}
	for (k = 0; k < KH_RANGES && !race_failed(x); k++) {
		first = s->order[k] * s->per;
		race_sleep_until(t0 + s->at[k]);
		if (reg_missing(x, first, s->per)) {
			race_fail(x, "UFFDIO_REGISTER: %s", strerror(errno));
			return;
		}
		s->first[k] = snapshot_seen(x, first, s->per);
		kh_note_collapsed(s, k);
		s->registered_first += s->first[k];
		tally(&x->out, s->first[k] ? "registered-first" :
			       "collapsed-before-registration");
	}
}

/*
 * The windows of the batch (above). A range khugepaged collapsed before its
 * registration tests nothing: it had no hole left to protect.
 */
static unsigned int kh_windows(const struct kh_race *s)
{
	unsigned int k, i, n = 0;
	bool before, after;
	int at;

	for (k = 0; k < KH_RANGES; k++) {
		if (!s->first[k])
			continue;
		before = after = false;
		for (i = 0; i < KH_RANGES; i++) {
			at = s->collapsed_at[i];
			if (i == s->order[k] || at < 0)
				continue;
			before |= at <= (int)k;
			after |= at > (int)k;
		}
		n += before && after;
	}
	return n;
}

/*
 * Keep both sides of the race in play: spread the registrations wider when
 * khugepaged lost every race of the batch, narrower when it won them all
 * (khugepaged's pace moves with the machine's load).
 */
static void kh_adapt(struct kh_race *s)
{
	unsigned long first = s->registered_first - s->first_before;

	if (first == KH_RANGES)
		s->span_ns += s->span_ns / 2;
	else if (!first && s->span_ns > 2000000)
		s->span_ns -= s->span_ns / 4;
	s->first_before = s->registered_first;
}

static void kh_batch(struct race *x, struct team *t, struct kh_race *s)
{
	if (!reset_ranges(x, KH_HOLES))
		return;
	kh_plan(x, s);
	if (madvise(x->w.r.addr, x->w.r.size, MADV_HUGEPAGE)) {
		race_fail(x, "MADV_HUGEPAGE: %s", strerror(errno));
		return;
	}
	kh_register_all(x, s, race_now_ns());
	kh_adapt(s);
	/*
	 * khugepaged had its full scans after the last registration, or the
	 * batch is inconclusive (the invariant is still checked below).
	 */
	if (!thp_wait_full_scans(KH_SCANS, KH_SCAN_WAIT_MS)) {
		s->slow_scans++;
		x->inconclusive++;
	} else if (!mem_missing(&x->w.r, x->w.missing)) {
		kh_note_collapsed(s, KH_RANGES);
		x->windows += kh_windows(s);
	}
	handler_mark(x);
	if (race_failed(x) || !team_round(t))
		return;
	handler_check(x);
	unreg(x, 0, x->w.npages);
	expect_collapsed_unseen(x, 0, x->w.npages);
	verify_data(x, 0, x->w.npages);
}

static void run_khugepaged_vs_reg(struct race *x, struct kh_race *s)
{
	struct team t = { 0 };
	uint64_t control;

	if (!start_handler(x))
		return;
	control = khugepaged_control(x, KH_HOLES, KH_CONTROL_MS);
	if (!control)
		return;
	s->span_ns = control * 5 / 4 + 1;
	diag("khugepaged collapsed %d unregistered ranges in %" PRIu64 " ms",
	     KH_RANGES, control / 1000000);
	team_add(&t, "toucher", kh_toucher);
	race_start(x, KHUGEPAGED_BUDGET_X, 0);
	if (race_team_start(x, &t, s))
		while (race_next(x))
			kh_batch(x, &t, s);
	race_team_stop(x, &t);
}

TEST_F_TIMEOUT(race_khugepaged, khugepaged_vs_reg, RACE_TIMEOUT_S(KHUGEPAGED_BUDGET_X))
{
	struct race *x = &self->x;
	struct kh_race s = { .x = x, .per = x->w.r.pmd_size / x->ps };

	thp_khugepaged_fast();
	ASSERT_NE(NULL, thp_khugepaged_enroll(x->w.r.pmd_size));
	run_khugepaged_vs_reg(x, &s);
	diag("%s: %lu ranges registered before khugepaged got to them, %lu batches waited the full %d ms for khugepaged's scans",
	     _metadata->name, s.registered_first, s.slow_scans,
	     KH_SCAN_WAIT_MS);
	race_verdict(_metadata, x,
		     "khugepaged collapsed a range before its registration");
}

/* ---- make bench: reg_vs_collapse and fill_vs_collapse ------------------ */

static void bench_reg_vs_collapse(struct race *x)
{
	run_reg_vs_collapse(x, &(struct reg_race){ 0 }, 0);
}

static const struct bench_race bench_races[] = {
	{ "race1", bench_reg_vs_collapse },
	{ "race2", run_fill_vs_collapse },
};

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char *help[] = { argv[0], "-h", NULL };
	int ret;

	ret = race_opts_env(&opt);
	if (!ret)
		ret = race_opts_parse(&opt, &argc, argv);
	if (ret < 0 || ret == 2) {
		race_opts_usage(argv[0], KHUGEPAGED_BUDGET_X);
		if (ret < 0)
			return 2;	/* a usage error */
		return test_harness_run(2, help) == KSFT_SKIP ? 0 : KSFT_FAIL;
	}
	if (ret != 1 && harness_lists_only(argc, argv))
		return test_harness_run(argc, argv);
	thp_knobs_guard();
	thp_knobs_for_suite();
	if (ret == 1)
		return bench(&opt, bench_races, ARRAY_SIZE(bench_races));
	return test_harness_run(argc, argv);
}
