/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A log of MADV_COLLAPSE calls with their times and answers, for races
 * that ask when something happened relative to a call and what the call
 * said.
 */
#ifndef UFFD_SUITE_CALLS_H
#define UFFD_SUITE_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CALLS	16

/* A span of time (race_now_ns()) and what ended it: 0 or an errno. */
struct call {
	uint64_t start, end;
	int ret;
};

/* What calls answered, for the outcomes and for failure messages. */
enum {
	RET_OK, RET_EBUSY, RET_EAGAIN, RET_ENOMEM, RET_EINVAL, RET_OTHER,
	NR_RET
};

/*
 * A round's calls: the last MAX_CALLS of them, how many gave each answer,
 * and the first whose answer is never right. With @retry_einval (anon),
 * an EINVAL is retried at once, and excused if the retry says otherwise.
 */
struct calls {
	struct call c[MAX_CALLS];
	unsigned int n, total;
	unsigned int by_ret[NR_RET];
	uint64_t first_start;
	bool retry_einval;
	unsigned int excused;
	struct call bad;
	bool has_bad;
};

void calls_init(struct calls *cs, bool retry_einval);
/* Record a span of time (a call, or anything else): the oldest goes. */
struct call *calls_add(struct calls *cs, uint64_t start, uint64_t end,
		       int ret);
/* One MADV_COLLAPSE of [@addr, @addr + @len), recorded (see calls.c). */
struct call *calls_do(struct calls *cs, char *addr, size_t len);
/* "N calls in T ms: success=a EBUSY=b ...", for a failure message. */
const char *calls_summary(const struct calls *cs, char *buf, size_t size);
const struct call *calls_last(const struct calls *cs);
/* Did any recorded call run at the same time as [@start, @end]? */
bool calls_overlap(const struct calls *cs, uint64_t start, uint64_t end);
/* "success", "EBUSY", ... or strerror(). */
const char *calls_errno_name(int err);

#endif
