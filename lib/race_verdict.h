/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A race's verdict as its kselftest result: FAIL with the first failure
 * and the seed that replays it; SKIP when the positive control failed or
 * the window was never reached; else PASS. Include after
 * kselftest_harness.h (it uses the harness's ASSERT and SKIP).
 */
#ifndef UFFD_SUITE_RACE_VERDICT_H
#define UFFD_SUITE_RACE_VERDICT_H

#include <inttypes.h>

#include "race_ctx.h"

/* Failed: say why and where. Window never reached: SKIP, not a pass. */
static inline void race_verdict(struct __test_metadata *_metadata,
				struct race *x, const char *window)
{
	race_report(x, _metadata->name);
	ASSERT_EQ(0, x->sh->failed) TH_LOG("%s (replay: --seed %" PRIu64 ")",
				      x->sh->why, x->opt.seed);
	if (x->skip[0])
		SKIP(return, "%s", x->skip);
	ASSERT_GE(x->budget.iters, x->excused * EXCUSED_SHARE)
		TH_LOG("%lu of %lu iterations met an anon EINVAL that an immediate retry undid: more than 1 in %d is no transient migration (replay: --seed %" PRIu64 ")",
		       x->excused, x->budget.iters, EXCUSED_SHARE, x->opt.seed);
	if (!x->windows)
		SKIP(return, "window (%s) never reached in %lu iterations",
		     window, x->budget.iters);
}

#endif
