// SPDX-License-Identifier: GPL-2.0
/* A race's userfaultfd: registration, snapshot, touching (race_uffd.h). */
#include <errno.h>
#include <string.h>
#include <linux/userfaultfd.h>

#include "pattern.h"
#include "race_calls.h"
#include "race_pages.h"
#include "race_uffd.h"
#include "uffd.h"

int reg_missing(struct race *x, size_t first, size_t count)
{
	return uffd_register(x->w.uffd, page_addr(x, first), count * x->ps,
			     UFFDIO_REGISTER_MODE_MISSING);
}

void unreg(struct race *x, size_t first, size_t count)
{
	if (uffd_unregister(x->w.uffd, page_addr(x, first), count * x->ps))
		race_fail(x, "UFFDIO_UNREGISTER: %s", strerror(errno));
}

bool start_handler(struct race *x)
{
	if (watched_handle(&x->w, x->w.r.addr, x->w.r.size)) {
		race_fail(x, "set-up: cannot start the fault handler");
		return false;
	}
	return true;
}

void handler_mark(struct race *x)
{
	uffd_handler_counts(&x->w.h, &x->eexist0, &x->errors0);
}

void handler_check(struct race *x)
{
	size_t eexist, errors;

	uffd_handler_counts(&x->w.h, &eexist, &errors);
	if (eexist != x->eexist0)
		race_fail(x, "UFFDIO_COPY found %zu page(s) present (EEXIST): a page seen missing was filled behind userspace's back",
			  eexist - x->eexist0);
	else if (errors != x->errors0)
		race_fail(x, "%zu fault handler error(s)", errors - x->errors0);
}

size_t snapshot_seen(struct race *x, size_t first, size_t count)
{
	size_t p, n = 0;

	if (mem_missing(&x->w.r, x->w.missing)) {
		race_fail(x, "reading which pages are missing: %s",
			  strerror(errno));
		return 0;
	}
	for (p = first; p < first + count; p++)
		n += x->seen[p] = x->w.missing[p];
	return n;
}

uint64_t snapshot_ns(struct race *x)
{
	uint64_t t, best = UINT64_MAX;
	int i;

	for (i = 0; i < CALIBRATE_CALLS; i++) {
		t = race_now_ns();
		snapshot_seen(x, 0, x->w.npages);
		t = race_now_ns() - t;
		if (t < best)
			best = t;
	}
	return best;
}

void touch_seen(struct race *x, size_t first, size_t count,
		struct role *role)
{
	unsigned int before, after;
	size_t p;

	for (p = first; p < first + count; p++) {
		if (!x->seen[p])
			continue;
		/* seen missing: not the handler's, whoever punched it */
		uffd_handler_forget(&x->w.h, p);
		before = uffd_handler_faults(&x->w.h, p);
		role_set(role, "reading a page seen missing, waiting for its fault to be resolved",
			 p);
		(void)*(volatile char *)page_addr(x, p);
		after = uffd_handler_faults(&x->w.h, p);
		x->want[p] = W_UFFD;
		x->changed[p] = true;
		if (after == before)
			race_fail(x, "page %zu (offset %#zx) was seen missing after the registration; touching it raised no UFFD_EVENT_PAGEFAULT%s, and it reads %s",
				  p, p * x->ps, x->in_child ? " in the child" : "",
				  content_name(x, page_addr(x, p), p));
		else if (!pattern_check(page_addr(x, p), x->ps, PATTERN_UFFD,
					p))
			race_fail(x, "page %zu (offset %#zx) reads %s after its fault: it does not read %s data",
				  p, p * x->ps,
				  content_name(x, page_addr(x, p), p),
				  x->in_child ? "the child's handler" :
				  "the handler's");
	}
	role_set(role, "running", -1);
}

bool race_own_view(struct race *x)
{
	char *view = mem_map_again(&x->w.r, 0, x->w.r.size);

	if (!view) {
		race_fail(x, "set-up: a second process's mapping: %s",
			  strerror(errno));
		return false;
	}
	x->w.r.addr = view;	/* the file's fd, if any, is inherited */
	x->in_child = true;
	x->w.uffd = uffd_open(0);
	if (x->w.uffd < 0) {
		race_fail(x, "set-up: a second process's userfaultfd: %s",
			  strerror(errno));
		return false;
	}
	return start_handler(x);
}
