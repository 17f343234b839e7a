// SPDX-License-Identifier: GPL-2.0
/* A log of MADV_COLLAPSE calls with their times and answers (calls.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "calls.h"
#include "collapse.h"
#include "race.h"

static const char *const ret_name[NR_RET] = {
	[RET_OK] = "success", [RET_EBUSY] = "EBUSY", [RET_EAGAIN] = "EAGAIN",
	[RET_ENOMEM] = "ENOMEM", [RET_EINVAL] = "EINVAL", [RET_OTHER] = "other",
};

static int ret_slot(int ret)
{
	switch (ret) {
	case 0: return RET_OK;
	case EBUSY: return RET_EBUSY;
	case EAGAIN: return RET_EAGAIN;
	case ENOMEM: return RET_ENOMEM;
	case EINVAL: return RET_EINVAL;
	default: return RET_OTHER;
	}
}

void calls_init(struct calls *cs, bool retry_einval)
{
	memset(cs, 0, sizeof(*cs));
	cs->retry_einval = retry_einval;
}

struct call *calls_add(struct calls *cs, uint64_t start, uint64_t end,
		       int ret)
{
	struct call *c = &cs->c[cs->total++ % MAX_CALLS];

	if (cs->n < MAX_CALLS)
		cs->n++;
	c->start = start;
	c->end = end;
	c->ret = ret;
	return c;
}

static struct call *calls_one(struct calls *cs, char *addr, size_t len)
{
	uint64_t start = race_now_ns();
	int ret = collapse(addr, len);

	if (!cs->total)
		cs->first_start = start;
	cs->by_ret[ret_slot(ret)]++;
	return calls_add(cs, start, race_now_ns(), ret);
}

/*
 * One MADV_COLLAPSE, recorded. An anon collapse that meets a PTE under
 * migration gives up (SCAN_PTE_NON_PRESENT in hpage_collapse_scan_pmd()),
 * which madvise_collapse_errno() reports as EINVAL: with @cs->retry_einval,
 * such an EINVAL is retried at once and excused if the retry does not say
 * EINVAL again. The EINVAL of a kernel without the change (a none PTE under
 * an armed userfaultfd) comes back every time.
 */
struct call *calls_do(struct calls *cs, char *addr, size_t len)
{
	struct call *c = calls_one(cs, addr, len);

	if (c->ret == EINVAL && cs->retry_einval) {
		c = calls_one(cs, addr, len);
		cs->excused += c->ret != EINVAL;
	}
	if (c->ret && c->ret != EBUSY && c->ret != EAGAIN &&
	    c->ret != ENOMEM && !cs->has_bad) {
		cs->bad = *c;
		cs->has_bad = true;
	}
	return c;
}

const char *calls_summary(const struct calls *cs, char *buf, size_t size)
{
	size_t len;
	int i;

	len = snprintf(buf, size, "%u calls in %" PRIu64 " ms:", cs->total,
		       cs->total ? (race_now_ns() - cs->first_start) / 1000000 :
				   0);
	for (i = 0; i < NR_RET && len < size; i++)
		if (cs->by_ret[i])
			len += snprintf(buf + len, size - len, " %s=%u",
					ret_name[i], cs->by_ret[i]);
	return buf;
}

const struct call *calls_last(const struct calls *cs)
{
	return &cs->c[(cs->total - 1) % MAX_CALLS];
}

bool calls_overlap(const struct calls *cs, uint64_t start, uint64_t end)
{
	unsigned int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].start < end && start < cs->c[i].end)
			return true;
	return false;
}

const char *calls_errno_name(int err)
{
	switch (err) {
	case 0: return "success";
	case EBUSY: return "EBUSY";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	default: return strerror(err);
	}
}
