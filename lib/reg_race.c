// SPDX-License-Identifier: GPL-2.0
/* A registration racing MADV_COLLAPSE calls (reg_race.h). */
#include <errno.h>
#include <stdint.h>

#include "race_calls.h"
#include "reg_race.h"

void collapse_until(struct race *x, struct calls *cs, uint64_t *reg_ns,
		    int *done, bool retry_eagain)
{
	uint64_t reg, end = race_now_ns() + TEAM_STUCK_MS / 2 * 1000000ULL;
	const struct call *c;
	char sum[160];

	do {
		c = calls_do(cs, x->w.r.addr, x->w.r.size);
		reg = race_load_ns(reg_ns);
	} while (c->ret && (!reg || c->end <= reg ||
			    (retry_eagain && c->ret == EAGAIN)) &&
		 race_now_ns() < end);
	__atomic_store_n(done, 1, __ATOMIC_RELEASE);
	if (c->ret && !reg)
		race_fail(x, "the registration did not return within %d ms of MADV_COLLAPSE calls (%s)",
			  TEAM_STUCK_MS / 2, calls_summary(cs, sum, sizeof(sum)));
}

const struct call *reg_call(const struct calls *cs, uint64_t reg)
{
	unsigned int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].start < reg && reg < cs->c[i].end)
			return &cs->c[i];
	return NULL;
}

/*
 * Did the registration put the guarantee to the test? A collapse looks for
 * userfaultfds late in the call: collapse_file() only after copying the
 * range, under its final page-cache lock; an anon collapse again in
 * __collapse_huge_page_isolate(), once it has retaken the mmap lock that
 * UFFDIO_REGISTER takes too. A registration that returned early in a call
 * that was then refused was simply there for that check: nothing raced.
 * The race is real when the registration returned inside a call that then
 * succeeded (the check ran before the registration: the holes must be gone
 * for it, or raise their events) or in the last quarter of a call that
 * was then rolled back (EBUSY; or EAGAIN: a hole the registrar saw and
 * touched was filled through its event before the final recount).
 */
static bool reg_raced(const struct call *c, uint64_t reg)
{
	if (!c || c->ret == ENOMEM)
		return false;
	return !c->ret ||
	       (reg - c->start) * 4 >= (c->end - c->start) * 3;
}

static size_t count_seen(const struct race *x, size_t first, size_t count)
{
	size_t p, n = 0;

	for (p = first; p < first + count; p++)
		n += x->seen[p];
	return n;
}

/*
 * Every call's result is one the kernel may give: success, EBUSY, EAGAIN;
 * ENOMEM or an excused EINVAL make the round inconclusive. A success after
 * holes were seen missing is right only if the handler filled them first
 * (the reader's touch raced ahead of the collapse): touch_seen() and the
 * data check say. Returns the call the registration returned during if
 * the round is conclusive and the registration raced it (reg_raced()).
 */
const struct call *reg_outcome(struct race *x, const struct calls *cs,
			       uint64_t reg, const char *who)
{
	const struct call *last = calls_last(cs), *in = reg_call(cs, reg);
	size_t seen = count_seen(x, 0, x->w.npages);

	if (cs->has_bad)
		race_fail(x, "MADV_COLLAPSE %s %s registration returned %s; allowed: success, EBUSY, EAGAIN%s",
			  cs->bad.end < reg ? "before" :
			  cs->bad.start < reg ? "during" : "after",
			  who, calls_errno_name(cs->bad.ret),
			  einval_hint(x, cs->bad.ret));
	if (last->ret)
		tally(&x->out, calls_errno_name(last->ret));
	else if (!seen)
		tally(&x->out, "collapsed-before-registration");
	else
		tally(&x->out, "collapsed-after-handler-filled-holes");
	tally(&x->out, !in ? "reg-between-calls" :
		       !in->ret ? "reg-in-successful-call" :
		       reg_raced(in, reg) ? "reg-late-in-refused-call" :
		       "reg-early-in-refused-call");
	/*
	 * The errno clause put to the test: a call that checked after the
	 * registration and was refused (EBUSY; a kernel without the change
	 * gives anon EINVAL, which failed above). Registrations aimed at the
	 * end of calls rarely make one, so the race runs on (more budget)
	 * until MIN_REFUSALS rounds did: a kernel that answers such a call
	 * with the wrong errno cannot pass by chance.
	 */
	x->wants_refusals = true;
	x->refusals += cs->by_ret[RET_EBUSY] > 0;
	if (!round_conclusive(x, cs->excused, last->ret == ENOMEM))
		return NULL;
	return reg_raced(in, reg) ? in : NULL;
}

const struct call *first_call(const struct calls *cs)
{
	return cs->total && cs->total <= MAX_CALLS ? &cs->c[0] : NULL;
}

void follow_ns(uint64_t *avg, const struct call *c)
{
	int64_t d = (int64_t)(c->end - c->start) - (int64_t)*avg;

	*avg += d / 4;
}

/*
 * The length of the round's first call, if the registration had not
 * returned before it began, into the length the moments are drawn from:
 * the race's calls, among its threads, last longer than calibrate()'s.
 */
void track_call_ns(struct race *x, const struct calls *cs, uint64_t reg)
{
	const struct call *c = first_call(cs);

	if (c && c->start < reg)
		follow_ns(&x->call_ns, c);
}
