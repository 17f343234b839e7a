// SPDX-License-Identifier: GPL-2.0
/*
 * A page that userspace can see is missing, in a range registered with a
 * userfaultfd in MODE_MISSING, must stay missing until userspace is told
 * (UFFD_EVENT_PAGEFAULT), whatever THP collapse does.
 *
 * Each test is one scenario, without races: set up a PMD-aligned range of
 * one memory type with every other page missing, assert that precondition,
 * collapse (MADV_COLLAPSE or khugepaged), then check the outcome in full:
 * return value and errno, PMD mapping, which pages are missing, contents,
 * and that touching each hole raises its fault event.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "collapse.h"
#include "compat.h"
#include "context.h"
#include "harness.h"
#include "mem.h"
#include "pattern.h"
#include "remote.h"
#include "stuck.h"
#include "node.h"
#include "thp.h"
#include "uffd.h"
#include "uring.h"
#include "watched.h"

#define HOLE_FIRST	1	/* holes at pages 1, 3, 5, ... of each PMD */
#define HOLE_STRIDE	2
#define CHILD_WAIT_MS		10000
/*
 * Tests run in every collapse context: khugepaged's may wait for it up to
 * three times (the control, two acts) for KHUGEPAGED_WAIT_MS and a scan.
 */
#define CTX_TIMEOUT_S		(3 * 2 * KHUGEPAGED_WAIT_MS / 1000 + 30)

struct scenario {
	struct watched w;	/* the memory, its holes, the userfaultfd */
	const struct collapse_context *ctx;	/* who calls MADV_COLLAPSE */
	bool ctx_started;
};

static void scenario_fini(struct scenario *s);

/*
 * SKIP from a fixture's set-up after scenario_init(), which started the
 * collapse context: a SKIP in set-up runs no teardown, so stop it here.
 */
#define SKIP_FINI(s, why_expr) do {					\
	const char *__why = (why_expr);					\
	if (__why) {							\
		scenario_fini(s);					\
		SKIP(return, "%s", __why);				\
	}								\
} while (0)

/*
 * Why this kernel cannot run the scenario (a missing feature: SKIP), else
 * NULL once it is set up. A set-up error is a failure of the test.
 */
static const char *scenario_init(struct __test_metadata *_metadata,
				 struct scenario *s, enum mem_type type,
				 enum collapse_ctx ctx, size_t npmd)
{
	size_t pmd = thp_pmd_size();
	const char *why;
	int ret;

	memset(s, 0, sizeof(*s));
	s->w.uffd = -1;
	s->w.r.fd = -1;
	why = collapse_test_why_not();
	if (why)
		return why;
	/* Before the memory is mapped: a helper process forks here. */
	s->ctx = &collapse_contexts[ctx];
	ret = s->ctx->start(&why);
	if (ret > 0)
		return why;
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	s->ctx_started = true;
	why = watched_create(&s->w, type, npmd * pmd, pmd);
	ASSERT_EQ(NULL, why) TH_LOG("set-up: %s", why);
	why = ctx == CTX_KHUGEPAGED ? mem_khugepaged_why_not(&s->w.r) : NULL;
	if (why)
		scenario_fini(s);	/* a SKIP in set-up runs no teardown */
	return why;
}

/*
 * MADV_COLLAPSE in the scenario's context: 0 or the errno it gave, once it
 * stopped saying EAGAIN (the machine is shared; the verdicts are not).
 */
static int do_collapse(struct scenario *s, void *addr, size_t len)
{
	return collapse_settled(s->ctx->collapse, addr, len);
}

/*
 * What do_collapse() says when the kernel refuses with @err: @err, or in
 * khugepaged's context, which gives no errno, COLLAPSE_LEFT_ALONE.
 */
static int refused(const struct scenario *s, int err)
{
	return s->ctx->answers ? err : COLLAPSE_LEFT_ALONE;
}

/* A collapse's outcome in words, for a failure's one line. */
static const char *outcome(int ret)
{
	if (ret == COLLAPSE_LEFT_ALONE)
		return "left alone by khugepaged";
	return ret ? strerror(ret) : "collapsed";
}

/*
 * The collapse of [@addr, @addr + @len) in the scenario's context gives
 * @want: 0, or what refused() says.
 */
static int expect_collapse(struct __test_metadata *_metadata,
			   struct scenario *s, int want, void *addr,
			   size_t len)
{
	int ret = do_collapse(s, addr, len);

	EXPECT_EQ(want, ret)
		TH_LOG("%s collapse: %s, expected %s", s->ctx->name,
		       outcome(ret), outcome(want));
	return ret;
}

static void scenario_fini(struct scenario *s)
{
	watched_destroy(&s->w);
	if (s->ctx_started)
		s->ctx->stop();
	s->ctx_started = false;
}

static size_t pages_per_pmd(const struct scenario *s)
{
	return s->w.r.pmd_size / s->w.r.page_size;
}

/* Holes at every other page of PMD number @pmd. */
static void make_holes(struct scenario *s, size_t pmd)
{
	size_t n = pages_per_pmd(s);

	mem_holes_every(s->w.hole + pmd * n, n, HOLE_FIRST, HOLE_STRIDE);
}

/* Precondition: exactly the holes are missing and nothing is PMD-mapped. */
static void assert_precondition(struct __test_metadata *_metadata,
				struct scenario *s)
{
	size_t i;

	ASSERT_EQ(0, mem_missing(&s->w.r, s->w.missing));
	for (i = 0; i < s->w.npages; i++)
		ASSERT_EQ(s->w.hole[i], s->w.missing[i])
			TH_LOG("precondition: page %zu should be %s", i,
			       s->w.hole[i] ? "missing" : "present");
	ASSERT_EQ(0, thp_pmd_mapped(s->w.r.addr))
		TH_LOG("precondition: range already PMD-mapped");
}

static void populate(struct __test_metadata *_metadata, struct scenario *s)
{
	mem_fill(&s->w.r, s->w.hole);
	assert_precondition(_metadata, s);
}

static __u64 mode_features(__u64 mode, const struct region *r)
{
	__u64 f = 0;

	if (mode & UFFDIO_REGISTER_MODE_MINOR)
		f |= UFFD_FEATURE_MINOR_SHMEM;
	/* Kernels without uffd-wp for the arch (arm64 before 6.10) mask it */
	if (mode & UFFDIO_REGISTER_MODE_WP)
		f |= UFFD_FEATURE_PAGEFAULT_FLAG_WP | r->ops->wp_features;
	return f;
}

/*
 * Open s->w.uffd with @need (features) and register @mode on [@addr, @addr +
 * @len); NULL, or why not (a feature this kernel lacks).
 */
static const char *register_features(struct __test_metadata *_metadata,
				     struct scenario *s, char *addr,
				     size_t len, __u64 mode, __u64 need)
{
	if ((uffd_features() & need) != need)
		return "userfaultfd lacks the feature for this mode and memory";
	s->w.uffd = uffd_open(need);
	ASSERT_LE(0, s->w.uffd);
	ASSERT_EQ(0, uffd_register(s->w.uffd, addr, len, mode));
	return NULL;
}

/* The same with the features @mode needs on this memory. */
static const char *register_uffd(struct __test_metadata *_metadata,
				 struct scenario *s, char *addr, size_t len,
				 __u64 mode)
{
	return register_features(_metadata, s, addr, len, mode,
				 mode_features(mode, &s->w.r));
}

static void start_handler(struct __test_metadata *_metadata,
			  struct scenario *s, char *addr, size_t len)
{
	ASSERT_EQ(0, watched_handle(&s->w, addr, len));
}

/* Register MODE_MISSING on the whole region and handle its faults. */
static void register_missing(struct __test_metadata *_metadata,
			     struct scenario *s)
{
	ASSERT_EQ(NULL, register_uffd(_metadata, s, s->w.r.addr, s->w.r.size,
				      UFFDIO_REGISTER_MODE_MISSING));
	start_handler(_metadata, s, s->w.r.addr, s->w.r.size);
}

/* Pages [@first, @first + @n): holes still missing, data kept. */
static void expect_holes_kept_in(struct __test_metadata *_metadata,
				 struct scenario *s, size_t first, size_t n)
{
	size_t i, changed = 0;
	struct stuck_guard g;
	long wrong;
	int ret;

	stuck_guard_arm(&g, "reading the range back after the collapse");
	ret = mem_missing(&s->w.r, s->w.missing);
	wrong = mem_verify_fill(&s->w.r, s->w.hole);
	stuck_guard_disarm(&g);
	ASSERT_EQ(0, ret);
	for (i = first; i < first + n; i++)
		changed += s->w.missing[i] != s->w.hole[i];
	EXPECT_EQ(0, changed)
		TH_LOG("%zu pages changed between missing and present", changed);
	EXPECT_EQ(-1, wrong);
}

static void expect_holes_kept(struct __test_metadata *_metadata,
			      struct scenario *s)
{
	expect_holes_kept_in(_metadata, s, 0, s->w.npages);
}

/*
 * Touch each hole of pages [@first, @first + @n) through @addr, a mapping of
 * page @first registered MODE_MISSING and handled by s->w.h: each must raise
 * a UFFD_EVENT_PAGEFAULT (a repeat is allowed: see lib/uffd.h) answered by
 * the handler's UFFDIO_COPY, and then read the handler's data, never zeros.
 * @stride > 1 touches only every @stride-th hole.
 */
static void expect_hole_events(struct __test_metadata *_metadata,
			       struct scenario *s, char *addr, size_t first,
			       size_t n, size_t stride)
{
	size_t i, rel, no_event = 0, wrong_data = 0, touched = 0, seen = 0;
	struct stuck_guard g;
	char *page;

	stuck_guard_arm(&g, "touching the holes after the collapse");
	for (i = first; i < first + n; i++) {
		if (!s->w.hole[i] || seen++ % stride)
			continue;
		rel = i - first;
		page = addr + rel * s->w.r.page_size;
		(void)*(volatile char *)page;
		touched++;
		no_event += uffd_handler_faults(&s->w.h, rel) == 0;
		wrong_data += !pattern_check(page, s->w.r.page_size,
					     PATTERN_UFFD, rel);
	}
	stuck_guard_disarm(&g);
	EXPECT_NE(0, touched);
	EXPECT_EQ(0, no_event)
		TH_LOG("%zu of %zu holes raised no fault event", no_event,
		       touched);
	EXPECT_EQ(0, wrong_data)
		TH_LOG("%zu of %zu holes did not read the handler's data",
		       wrong_data, touched);
	EXPECT_EQ(touched, s->w.h.nr_faults - s->w.h.nr_repeat)
		TH_LOG("%zu fault events (%zu repeated) for %zu holes",
		       s->w.h.nr_faults, s->w.h.nr_repeat, touched);
	EXPECT_EQ(0, s->w.h.nr_eexist)
		TH_LOG("%zu holes were present, not by our UFFDIO_COPY, when the handler answered their event",
		       s->w.h.nr_eexist);
	if (s->w.h.nr_repeat)
		ksft_print_msg("%zu repeated fault events (the faulting thread was woken before the handler's UFFDIO_COPY)\n",
			       s->w.h.nr_repeat);
	EXPECT_EQ(0, s->w.h.nr_errors);
}

/*
 * MADV_COLLAPSE of [@addr, @addr + @len) refused with @err: nothing
 * PMD-mapped, holes and data kept, size and blocks unchanged.
 */
static void expect_refused_range(struct __test_metadata *_metadata,
				 struct scenario *s, char *addr, size_t len,
				 int err)
{
	long long size0, blocks0, size1, blocks1;

	ASSERT_EQ(0, mem_stat(&s->w.r, &size0, &blocks0));
	expect_collapse(_metadata, s, refused(s, err), addr, len);
	EXPECT_EQ(0, thp_pmd_mapped(s->w.r.addr));
	expect_holes_kept(_metadata, s);
	ASSERT_EQ(0, mem_stat(&s->w.r, &size1, &blocks1));
	EXPECT_EQ(size0, size1);
	EXPECT_EQ(blocks0, blocks1);
}

/* Refused: @err, not PMD-mapped, holes kept and raising, size unchanged. */
static void expect_refused(struct __test_metadata *_metadata,
			   struct scenario *s, int err)
{
	expect_refused_range(_metadata, s, s->w.r.addr, s->w.r.size, err);
}

/* The first @len bytes are PMD-mapped, data kept, former holes read zero. */
static void expect_collapsed(struct __test_metadata *_metadata,
			     struct scenario *s, size_t len)
{
	size_t i, nonzero = 0;

	EXPECT_EQ((long)len, thp_pmd_mapped(s->w.r.addr));
	for (i = 0; i < len / s->w.r.page_size; i++)
		if (s->w.hole[i])
			nonzero += !page_is_zero(s->w.r.addr +
						 i * s->w.r.page_size,
						 s->w.r.page_size);
	EXPECT_EQ(0, nonzero);
	EXPECT_EQ(-1, mem_verify_fill(&s->w.r, s->w.hole));
}

/*
 * The no-userfaultfd control: NULL if this machine collapses a range of
 * @s's memory type with holes, by MADV_COLLAPSE, or by khugepaged in its
 * context (a tmpfs mount without huge= never gets there: SKIP).
 */
static const char *collapse_control(struct __test_metadata *_metadata,
				    const struct scenario *s)
{
	enum collapse_ctx ctx = s->ctx->answers ? CTX_MADVISE : CTX_KHUGEPAGED;
	static char why[160];
	struct scenario ctl;
	const char *err;
	int ret;

	err = scenario_init(_metadata, &ctl, s->w.r.type, ctx, 1);
	if (err)
		return err;
	make_holes(&ctl, 0);
	mem_fill(&ctl.w.r, ctl.w.hole);
	ret = do_collapse(&ctl, ctl.w.r.addr, ctl.w.r.size);
	scenario_fini(&ctl);
	if (!ret)
		return NULL;
	snprintf(why, sizeof(why),
		 "control: %s did not collapse %s with holes, no userfaultfd: %s",
		 collapse_contexts[ctx].name, mem_type_name(s->w.r.type),
		 outcome(ret));
	return why;
}

FIXTURE(collapse) {
	struct scenario s;
};

FIXTURE_VARIANT(collapse) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_CONTEXTS(collapse, anon, MEM_ANON);
ADD_SHMEM_TYPES(collapse, ADD_CONTEXTS);

FIXTURE_SETUP(collapse)
{
	SKIP_IF(scenario_init(_metadata, &self->s, variant->type,
			      variant->ctx, 1));
	make_holes(&self->s, 0);
}

FIXTURE_TEARDOWN(collapse)
{
	scenario_fini(&self->s);
}

/* Control: without a userfaultfd, holes do not stop MADV_COLLAPSE. */
TEST_F_TIMEOUT(collapse, no_uffd_holes_collapse, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	populate(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
}

/*
 * MODE_MISSING with holes: EBUSY (anon too: EBUSY, not the old EINVAL), the
 * range unchanged (holes, data, SEEK_DATA map, size) and each hole faulting.
 */
TEST_F_TIMEOUT(collapse, missing_holes_ebusy, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EBUSY);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 1);
}

/*
 * No refusal outlives its registration: refused under MODE_MISSING, half the
 * holes then faulted in by the handler, unregistered: the range, with the
 * other holes still missing, collapses. khugepaged retries a range on each
 * scan (khugepaged_scan_mm_slot()); nothing may remember the refusal.
 */
TEST_F_TIMEOUT(collapse, refused_then_unregistered_collapses, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	int ret;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EBUSY);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 2);
	ASSERT_EQ(0, uffd_unregister(s->w.uffd, s->w.r.addr, s->w.r.size));
	ret = do_collapse(s, s->w.r.addr, s->w.r.size);
	EXPECT_EQ(0, ret)
		TH_LOG("still refused after its unregistration: %s",
		       outcome(ret));
	EXPECT_EQ((long)s->w.r.size, thp_pmd_mapped(s->w.r.addr));
	EXPECT_EQ(-1, mem_verify_fill(&s->w.r, s->w.hole));
}

/*
 * MODE_MISSING over a range never touched: every page missing, no page
 * table, no page cache. Nothing may be filled. Anon's scan stops at the
 * missing page table (find_pmd_or_thp_or_none(): SCAN_PMD_NULL), shmem's
 * collapse_file() at a range with no page at all (SCAN_TRUNCATED): both
 * EINVAL (madvise_collapse_errno()). Every page raises its event.
 */
TEST_F_TIMEOUT(collapse, untouched_registered_einval, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	memset(s->w.hole, 1, s->w.npages * sizeof(bool));
	SKIP_IF(collapse_control(_metadata, &self->s));
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EINVAL);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 1);
}

/*
 * The same after every page was there and was then punched. Shmem still
 * finds no page at all (SCAN_TRUNCATED, EINVAL). Anon: if the page table
 * stayed, 512 none PTEs under an armed userfaultfd refuse it
 * (hpage_collapse_scan_pmd(): SCAN_EXCEED_NONE_PTE, EBUSY); kernels that
 * free an empty page table on MADV_DONTNEED (CONFIG_PT_RECLAIM) leave no
 * table (SCAN_PMD_NULL, EINVAL), seen as VmPTE going down.
 */
TEST_F_TIMEOUT(collapse, emptied_registered_refused, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	long pte_kb;
	int err = EINVAL;

	memset(s->w.hole, 0, s->w.npages * sizeof(bool));
	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	pte_kb = mem_page_tables_kb();
	ASSERT_LE(0, pte_kb);
	ASSERT_EQ(0, mem_punch(&s->w.r, 0, s->w.npages));
	memset(s->w.hole, 1, s->w.npages * sizeof(bool));
	if (!s->w.r.ops->page_cache) {
		if (mem_page_tables_kb() >= pte_kb)
			err = EBUSY;
		ksft_print_msg("the punch %s the page table: expect %s\n",
			       err == EBUSY ? "kept" : "freed",
			       strerror(err));
	}
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, err);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 1);
}

/* MODE_MISSING without holes: nothing to protect, the collapse succeeds. */
TEST_F_TIMEOUT(collapse, missing_full_collapses, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	memset(s->w.hole, 0, s->w.npages * sizeof(bool));
	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
	EXPECT_EQ(0, s->w.h.nr_faults);
}

/*
 * MODE_WP with holes. Anon: any armed userfaultfd stops a collapse over none
 * PTEs, so EBUSY with the holes kept. Shmem: WP promises nothing about
 * missing pages (collapse_file() checks only MODE_MISSING), so the file range
 * is collapsed and its holes filled with zeros; the uffd-wp VMA keeps its
 * page table (SCAN_PTE_UFFD_WP), so the call says EINVAL, not PMD-mapped.
 */
TEST_F_TIMEOUT(collapse, wp_holes, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t i, still_missing = 0;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	SKIP_IF(register_uffd(_metadata, s, s->w.r.addr, s->w.r.size,
			      UFFDIO_REGISTER_MODE_WP));
	assert_precondition(_metadata, s);
	if (!s->w.r.ops->page_cache) {
		expect_refused(_metadata, s, EBUSY);
		return;
	}
	expect_collapse(_metadata, s, refused(s, EINVAL), s->w.r.addr,
			s->w.r.size);
	EXPECT_EQ(0, thp_pmd_mapped(s->w.r.addr));
	ASSERT_EQ(0, mem_missing(&s->w.r, s->w.missing));
	for (i = 0; i < s->w.npages; i++)
		still_missing += s->w.missing[i];
	EXPECT_EQ(0, still_missing);
	EXPECT_EQ(-1, mem_verify_fill(&s->w.r, s->w.hole));
}

/* Registration removed: nothing left to protect, the collapse succeeds. */
TEST_F_TIMEOUT(collapse, unregistered_collapses, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	register_missing(_metadata, s);
	ASSERT_EQ(0, uffd_unregister(s->w.uffd, s->w.r.addr, s->w.r.size));
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
}

/* userfaultfd closed while registered: the registration goes with it. */
TEST_F_TIMEOUT(collapse, uffd_closed_collapses, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	ASSERT_EQ(NULL, register_uffd(_metadata, s, s->w.r.addr, s->w.r.size,
				      UFFDIO_REGISTER_MODE_MISSING));
	ASSERT_EQ(0, close(s->w.uffd));
	s->w.uffd = -1;
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
}

/* A memfd holding one page of PATTERN_FILE data for page @pgoff. */
static int data_file(struct __test_metadata *_metadata, size_t page_size,
		     size_t pgoff)
{
	char *page = malloc(page_size);
	int fd = memfd_create("uffd-collapse-data", MFD_CLOEXEC);

	ASSERT_NE(NULL, page);
	ASSERT_LE(0, fd);
	pattern_fill(page, page_size, PATTERN_FILE, pgoff);
	ASSERT_EQ((ssize_t)page_size, pwrite(fd, page, page_size, 0));
	free(page);
	return fd;
}

/*
 * After a refused collapse, the kernel itself faults on a hole: an io_uring
 * read (forced to an io-wq worker) into it must raise the hole's event, then
 * complete with the file's data in place.
 */
TEST_F_TIMEOUT(collapse, refused_then_uring_read_faults, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t pgoff = HOLE_FIRST, ps = s->w.r.page_size;
	char *hole = s->w.r.addr + pgoff * ps;
	int fd;

	SKIP_IF(uring_probe());
	SKIP_IF(collapse_control(_metadata, &self->s));
	fd = data_file(_metadata, ps, pgoff);
	populate(_metadata, s);
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EBUSY);
	EXPECT_TRUE(s->w.hole[pgoff] && s->w.missing[pgoff]);
	EXPECT_EQ((int)ps, uring_read_async(fd, hole, ps, 0));
	EXPECT_NE(0, uffd_handler_faults(&s->w.h, pgoff))
		TH_LOG("the io_uring read did not raise the hole's event");
	EXPECT_TRUE(pattern_check(hole, ps, PATTERN_FILE, pgoff));
	EXPECT_EQ(0, s->w.h.nr_eexist);
	close(fd);
}

/*
 * Pages pinned by io_uring registered buffers: the collapse cannot take
 * them (SCAN_PAGE_COUNT: EAGAIN, "try again"), and leaves holes and data as
 * they were; once unpinned, the same collapse succeeds.
 */
TEST_F_TIMEOUT(collapse, pinned_pages_eagain, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	struct uring_pin *pin;

	SKIP_IF(uring_probe());
	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	pin = uring_pin(s->w.r.addr, s->w.r.page_size);
	ASSERT_NE(NULL, pin) TH_LOG("io_uring_register_buffers() failed");
	assert_precondition(_metadata, s);
	/* One call: do_collapse() would retry the pin's EAGAIN for 200 ms. */
	EXPECT_EQ(refused(s, EAGAIN),
		  s->ctx->collapse(s->w.r.addr, s->w.r.size));
	EXPECT_EQ(0, thp_pmd_mapped(s->w.r.addr));
	expect_holes_kept(_metadata, s);
	uring_unpin(pin);
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
}

FIXTURE(multi) {
	struct scenario s;
};

FIXTURE_VARIANT(multi) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_CONTEXTS(multi, anon, MEM_ANON);
ADD_SHMEM_TYPES(multi, ADD_CONTEXTS);

FIXTURE_SETUP(multi)
{
	SKIP_IF(scenario_init(_metadata, &self->s, variant->type,
			      variant->ctx, 3));
}

FIXTURE_TEARDOWN(multi)
{
	scenario_fini(&self->s);
}

/*
 * Three PMDs in one MADV_COLLAPSE, holes only in the last: the full ones are
 * collapsed, the last refused with its holes kept, and the call says EBUSY.
 * (The holed PMD is last: the kernel stops at the first non-transient
 * failure, so PMDs after it are not promised anything.)
 */
TEST_F_TIMEOUT(multi, one_pmd_with_holes_ebusy, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t per = pages_per_pmd(s);

	SKIP_IF(collapse_control(_metadata, &self->s));
	make_holes(s, 2);
	populate(_metadata, s);
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, refused(s, EBUSY), s->w.r.addr,
			s->w.r.size);
	EXPECT_EQ(2 * (long)s->w.r.pmd_size, thp_pmd_mapped(s->w.r.addr));
	expect_holes_kept(_metadata, s);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, 3 * per, 1);
}

/*
 * mTHP: the range populated with MTHP_KB folios (hugepages-<size>kB), the
 * holes whole folios (every other one). A collapse must treat a large
 * folio's pages as it treats small ones: without a userfaultfd it
 * collapses; under MODE_MISSING it is refused with EBUSY, the holes kept
 * and raising their events. Anon, memfd and shared anon (tmpfs mounts take
 * their folio sizes from the mount, not from these knobs). The knob is set
 * to "always" only while the range is populated, and is "never" (the
 * suite's value) again before the test goes on, and after it.
 */
#define MTHP_KB 64

#define MTHP_KNOB_LEN 64

FIXTURE(mthp) {
	struct scenario s;
	char knob[MTHP_KNOB_LEN];
	bool knob_set;
};

FIXTURE_VARIANT(mthp) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_CONTEXTS(mthp, anon, MEM_ANON);
ADD_CONTEXTS(mthp, memfd, MEM_MEMFD);
ADD_CONTEXTS(mthp, shared_anon, MEM_SHARED_ANON);

/*
 * Does khugepaged take a shmem range as PMD-collapsible, with no
 * MADV_HUGEPAGE, while the mTHP size @knob is "always"? 6.12 does: its
 * __thp_vma_allowable_orders() returns shmem_allowable_huge_orders()'s
 * mask without masking it with the orders asked for, so any mTHP size set
 * to "always" lets khugepaged collapse an anonymous shmem (or memfd)
 * range to a PMD. Then a range cannot be populated with mTHP folios and
 * left alone until the act. Probe: a full range of @type, the size
 * "always" for KHUGEPAGED_SCANS full scans of the context's fast khugepaged.
 */
static bool khugepaged_takes_shmem(struct __test_metadata *_metadata,
				   enum mem_type type, const char *knob)
{
	struct scenario probe;
	int ret;

	ASSERT_EQ(NULL, scenario_init(_metadata, &probe, type, CTX_MADVISE, 1));
	mem_fill(&probe.w.r, probe.w.hole);	/* no holes */
	ASSERT_EQ(0, thp_knob_set(knob, "always"));
	ret = thp_khugepaged_wait(probe.w.r.addr, probe.w.r.size,
				  KHUGEPAGED_SCANS, KHUGEPAGED_WAIT_MS);
	ASSERT_EQ(0, thp_knob_set(knob, "never"));
	scenario_fini(&probe);
	ASSERT_LE(0, ret) TH_LOG("set-up: waiting for khugepaged failed");
	return ret == 1;
}

/*
 * Why the kernel cannot run the scenario: no such mTHP size, no control,
 * or (in khugepaged's context, shmem) no way to keep khugepaged off the
 * range until the act.
 */
static const char *mthp_why_not(struct __test_metadata *_metadata,
				struct scenario *s, char *knob)
{
	static char why[200];
	char val[32];

	snprintf(knob, MTHP_KNOB_LEN, "hugepages-%dkB/%s", MTHP_KB,
		 s->w.r.ops->mthp_knob);
	if (thp_knob_get(knob, val, sizeof(val))) {
		snprintf(why, sizeof(why), "kernel without %d kB mTHP for %s (no %s)",
			 MTHP_KB, s->w.r.ops->name, knob);
		return why;
	}
	if (!s->ctx->answers && s->w.r.ops->page_cache &&
	    khugepaged_takes_shmem(_metadata, s->w.r.type, knob)) {
		snprintf(why, sizeof(why),
			 "khugepaged collapses %s with no MADV_HUGEPAGE while %s is always: the range cannot wait for the act",
			 s->w.r.ops->name, knob);
		return why;
	}
	return collapse_control(_metadata, s);
}

FIXTURE_SETUP(mthp)
{
	struct scenario *s = &self->s;
	size_t i, per_folio;

	SKIP_IF(scenario_init(_metadata, s, variant->type, variant->ctx, 1));
	SKIP_FINI(s, mthp_why_not(_metadata, s, self->knob));
	per_folio = MTHP_KB * 1024 / s->w.r.page_size;
	for (i = 0; i < s->w.npages; i++)
		s->w.hole[i] = (i / per_folio) % 2;
}

FIXTURE_TEARDOWN(mthp)
{
	if (self->knob_set)
		thp_knob_set(self->knob, "never");
	scenario_fini(&self->s);
}

/* Was the range collapsed already: PMD-mapped, or a hole filled? */
static bool collapsed_early(struct __test_metadata *_metadata,
			    struct scenario *s)
{
	size_t i;

	ASSERT_EQ(0, mem_missing(&s->w.r, s->w.missing));
	for (i = 0; i < s->w.npages; i++)
		if (s->w.hole[i] && !s->w.missing[i])
			return true;
	return thp_pmd_mapped(s->w.r.addr) != 0;
}

/*
 * Compact memory (free memory fragmented after earlier tests had no 64 kB
 * blocks left in 2 GiB guests), populate with the mTHP size set to
 * "always", set it back to "never", then check that every present page is
 * in a large folio; if the allocator fell back to small pages the
 * scenario did not happen: SKIP with the count. The size goes back to
 * "never" at once: in 6.12, __thp_vma_allowable_orders() returns
 * shmem_allowable_huge_orders()'s mask without masking it with the orders
 * asked for, so while any mTHP size is "always", khugepaged takes an
 * anonymous shmem range (memfd's too) as PMD-collapsible with no
 * MADV_HUGEPAGE, and was seen to collapse it before the test registered
 * it. If it did so here, the scenario cannot be had: SKIP.
 */
static const char *populate_mthp(struct __test_metadata *_metadata,
				 struct scenario *s, const char *knob,
				 bool *knob_set)
{
	static char why[160];
	size_t i, small = 0, present = 0;
	bool *large = calloc(s->w.npages, sizeof(bool));

	ASSERT_NE(NULL, large);
	thp_compact_memory();
	ASSERT_EQ(0, thp_knob_set(knob, "always"));
	*knob_set = true;
	mem_fill(&s->w.r, s->w.hole);
	ASSERT_EQ(0, thp_knob_set(knob, "never"));
	*knob_set = false;
	if (collapsed_early(_metadata, s)) {
		free(large);
		snprintf(why, sizeof(why),
			 "khugepaged collapsed the range before the test could register it (%s)",
			 s->ctx->name);
		return why;
	}
	assert_precondition(_metadata, s);
	ASSERT_EQ(0, mem_large_folios(&s->w.r, large))
		TH_LOG("set-up: cannot read /proc/self/pagemap or /proc/kpageflags");
	for (i = 0; i < s->w.npages; i++) {
		present += !s->w.hole[i];
		small += !s->w.hole[i] && !large[i];
	}
	free(large);
	if (!small)
		return NULL;
	snprintf(why, sizeof(why),
		 "control: %zu of %zu pages not in %d kB folios (allocation fell back)",
		 small, present, MTHP_KB);
	return why;
}

/* Control: a range of mTHP folios with holes collapses without a uffd. */
TEST_F_TIMEOUT(mthp, no_uffd_collapses, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(populate_mthp(_metadata, s, self->knob, &self->knob_set));
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
}

TEST_F_TIMEOUT(mthp, missing_holes_ebusy, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(populate_mthp(_metadata, s, self->knob, &self->knob_set));
	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EBUSY);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 1);
}

/*
 * Anon holes holding uffd-wp PTE markers: with UFFD_FEATURE_WP_UNPOPULATED,
 * UFFDIO_WRITEPROTECT leaves a marker in each none PTE (change_pte_range()),
 * and the page stays missing. The scan stops at the first marker
 * (hpage_collapse_scan_pmd(): pte_swp_uffd_wp_any(), SCAN_PTE_UFFD_WP,
 * EINVAL), before it looks at none PTEs.
 */
FIXTURE(anon_wp) {
	struct scenario s;
};

FIXTURE_VARIANT(anon_wp) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_CONTEXTS(anon_wp, anon, MEM_ANON);

FIXTURE_SETUP(anon_wp)
{
	SKIP_IF(scenario_init(_metadata, &self->s, variant->type, variant->ctx,
			      1));
	make_holes(&self->s, 0);
	SKIP_FINI(&self->s, collapse_control(_metadata, &self->s));
	populate(_metadata, &self->s);
}

FIXTURE_TEARDOWN(anon_wp)
{
	scenario_fini(&self->s);
}

/*
 * Register @mode | WP with WP_UNPOPULATED and write-protect the holes only,
 * so that a marker, not a write-protected present page (pte_uffd_wp(), the
 * same SCAN_PTE_UFFD_WP), is what the scan meets.
 */
static const char *register_wp_unpopulated(struct __test_metadata *_metadata,
					   struct scenario *s, __u64 mode)
{
	const char *why = register_features(_metadata, s, s->w.r.addr,
					    s->w.r.size,
					    mode | UFFDIO_REGISTER_MODE_WP,
					    UFFD_FEATURE_WP_UNPOPULATED);
	size_t i, ps = s->w.r.page_size;

	if (why)
		return why;
	for (i = 0; i < s->w.npages; i++)
		if (s->w.hole[i])
			ASSERT_EQ(0, uffd_writeprotect(s->w.uffd,
						       s->w.r.addr + i * ps, ps,
						       true));
	return NULL;
}

/* WP alone: nothing about missing pages is promised, but no marker may go. */
TEST_F_TIMEOUT(anon_wp, wp_unpopulated_holes_einval, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(register_wp_unpopulated(_metadata, s, 0));
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EINVAL);
}

/* MISSING|WP: refused the same way, and each hole raises its event. */
TEST_F_TIMEOUT(anon_wp, missing_wp_unpopulated_holes_einval, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	SKIP_IF(register_wp_unpopulated(_metadata, s,
					UFFDIO_REGISTER_MODE_MISSING));
	start_handler(_metadata, s, s->w.r.addr, s->w.r.size);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EINVAL);
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 1);
}

FIXTURE(shmem) {
	struct scenario s;
};

FIXTURE_VARIANT(shmem) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_SHMEM_TYPES(shmem, ADD_CONTEXTS);

FIXTURE_SETUP(shmem)
{
	SKIP_IF(scenario_init(_metadata, &self->s, variant->type,
			      variant->ctx, 3));
	make_holes(&self->s, 0);
	make_holes(&self->s, 1);
	make_holes(&self->s, 2);
}

FIXTURE_TEARDOWN(shmem)
{
	scenario_fini(&self->s);
}

/*
 * MODE_MINOR promises nothing about missing pages: holes are collapsed.
 * khugepaged maps no PMD there: it drops the page table, but installs no
 * PMD (collapse_pte_mapped_thp() without install_pmd), and each fault is
 * a MINOR event, answered with a PTE (UFFDIO_CONTINUE). So under
 * khugepaged, the holes filled is the outcome.
 */
TEST_F_TIMEOUT(shmem, minor_holes_collapse, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t i, still_missing = 0;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	SKIP_IF(register_uffd(_metadata, s, s->w.r.addr, s->w.r.size,
			      UFFDIO_REGISTER_MODE_MINOR));
	start_handler(_metadata, s, s->w.r.addr, s->w.r.size);
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, s->ctx->answers ? 0 : COLLAPSE_LEFT_ALONE,
			s->w.r.addr, s->w.r.pmd_size);
	if (s->ctx->answers) {
		expect_collapsed(_metadata, s, s->w.r.pmd_size);
		return;
	}
	ASSERT_EQ(0, mem_missing(&s->w.r, s->w.missing));
	for (i = 0; i < pages_per_pmd(s); i++)
		still_missing += s->w.missing[i];
	EXPECT_EQ(0, still_missing)
		TH_LOG("khugepaged left holes in a MODE_MINOR range");
	EXPECT_EQ(-1, mem_verify_fill(&s->w.r, s->w.hole));
}

/*
 * MODE_MISSING on another mapping of the same file, in this process: the
 * collapse through the unregistered mapping is refused, holes kept.
 */
TEST_F_TIMEOUT(shmem, other_mapping_registered_ebusy, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	char *alias;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	alias = mem_map_again(&s->w.r, 0, s->w.r.size);
	ASSERT_NE(NULL, alias);
	ASSERT_EQ(NULL, register_uffd(_metadata, s, alias, s->w.r.size,
				      UFFDIO_REGISTER_MODE_MISSING));
	start_handler(_metadata, s, alias, s->w.r.size);
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EBUSY);
	expect_hole_events(_metadata, s, alias, 0, s->w.npages, 1);
}

/* How many pages of @s's range mapped at @at are not uffd-wp protected. */
static size_t unprotected(struct __test_metadata *_metadata,
			  struct scenario *s, char *at)
{
	bool *wp = calloc(s->w.npages, sizeof(*wp));
	size_t i, n = 0;

	ASSERT_NE(NULL, wp);
	ASSERT_EQ(0, mem_uffd_wp(&s->w.r, at, wp));
	for (i = 0; i < s->w.npages; i++)
		n += !wp[i];
	free(wp);
	return n;
}

/*
 * Another mapping of the range registered WP, every page write-protected:
 * a collapse through this (unregistered) mapping succeeds, and the other
 * mapping keeps its protection: its page table, with a uffd-wp PTE marker
 * where each small page was unmapped (try_to_unmap_one()), stays, since
 * retract_page_tables() skips uffd-wp VMAs.
 */
TEST_F_TIMEOUT(shmem, other_mapping_wp_kept, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t i;
	char *alias;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	alias = mem_map_again(&s->w.r, 0, s->w.r.size);
	ASSERT_NE(NULL, alias);
	SKIP_IF(register_uffd(_metadata, s, alias, s->w.r.size,
			      UFFDIO_REGISTER_MODE_WP));
	for (i = 0; i < s->w.npages; i++)
		if (!s->w.hole[i])
			(void)*(volatile char *)(alias + i * s->w.r.page_size);
	ASSERT_EQ(0, uffd_writeprotect(s->w.uffd, alias, s->w.r.size, true));
	ASSERT_EQ(0, unprotected(_metadata, s, alias))
		TH_LOG("precondition: UFFDIO_WRITEPROTECT left pages unprotected");
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
	EXPECT_EQ(0, unprotected(_metadata, s, alias))
		TH_LOG("the WP mapping's pages lost their write protection in the collapse (its page table freed)");
}

/*
 * MODE_MISSING on a mapping of another PMD of the file (with a PMD between:
 * the kernel's i_mmap lookup includes the page just past the range, so an
 * adjacent registration refuses too): the collapse succeeds, the other
 * range keeps its holes.
 */
TEST_F_TIMEOUT(shmem, disjoint_range_registered_collapses, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t pmd = s->w.r.pmd_size, per = pages_per_pmd(s);
	char *alias;

	SKIP_IF(collapse_control(_metadata, &self->s));
	populate(_metadata, s);
	alias = mem_map_again(&s->w.r, 2 * pmd, pmd);
	ASSERT_NE(NULL, alias);
	ASSERT_EQ(NULL, register_uffd(_metadata, s, alias, pmd,
				      UFFDIO_REGISTER_MODE_MISSING));
	start_handler(_metadata, s, alias, pmd);
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, s->w.r.addr, pmd);
	expect_collapsed(_metadata, s, pmd);
	expect_holes_kept_in(_metadata, s, 2 * per, per);
	expect_hole_events(_metadata, s, alias, 2 * per, per, 1);
}

/* Read one byte from @fd within CHILD_WAIT_MS; '\0' on timeout or EOF. */
static char wait_byte(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c = 0;

	if (poll(&pfd, 1, CHILD_WAIT_MS) == 1 && read(fd, &c, 1) == 1)
		return c;
	return 0;
}

/*
 * The other process: register MODE_MISSING on [@addr, @addr + @len) (its
 * copy of the mapping; if @addr is NULL, a mapping of its own of the
 * file's bytes [@off, @off + @len)), say 'R', then on 'U' unregister and
 * say 'U', and exit on 'X' (or EOF).
 */
static void __attribute__((noreturn)) child_main(struct scenario *s,
						  char *addr, size_t off,
						  size_t len, int cmd, int ack)
{
	int uffd = uffd_open(0);
	char c;

	if (!addr)
		addr = mem_map_again(&s->w.r, off, len);
	if (!addr || uffd < 0 ||
	    uffd_register(uffd, addr, len, UFFDIO_REGISTER_MODE_MISSING))
		_exit(1);
	if (write(ack, "R", 1) != 1)
		_exit(1);
	c = wait_byte(cmd);
	if (c == 'U') {
		if (uffd_unregister(uffd, addr, len) ||
		    write(ack, "U", 1) != 1)
			_exit(1);
		wait_byte(cmd);
	}
	_exit(0);
}

/*
 * MODE_MISSING registered by another process on the same file: EBUSY with
 * the holes kept; once that process unregisters (@unregister) or exits,
 * the same collapse succeeds.
 */
static void other_process(struct __test_metadata *_metadata,
			  struct scenario *s, bool unregister)
{
	int cmd[2], ack[2];
	pid_t pid;

	populate(_metadata, s);
	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(ack));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		child_main(s, s->w.r.addr, 0, s->w.r.size, cmd[0], ack[1]);
	ASSERT_EQ('R', wait_byte(ack[0])) TH_LOG("child did not register");
	assert_precondition(_metadata, s);
	expect_refused(_metadata, s, EBUSY);
	if (unregister) {
		ASSERT_EQ(1, write(cmd[1], "U", 1));
		EXPECT_EQ('U', wait_byte(ack[0]));
		assert_precondition(_metadata, s);
		expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	}
	ASSERT_EQ(1, write(cmd[1], "X", 1));
	EXPECT_EQ(0, reap_within(pid, CHILD_WAIT_MS));
	if (!unregister) {
		assert_precondition(_metadata, s);
		expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	}
	expect_collapsed(_metadata, s, s->w.r.size);
}

TEST_F_TIMEOUT(shmem, other_process_registered_ebusy_until_unregister, CTX_TIMEOUT_S)
{
	SKIP_IF(collapse_control(_metadata, &self->s));
	other_process(_metadata, &self->s, true);
}

TEST_F_TIMEOUT(shmem, other_process_registered_ebusy_until_exit, CTX_TIMEOUT_S)
{
	SKIP_IF(collapse_control(_metadata, &self->s));
	other_process(_metadata, &self->s, false);
}

/*
 * Registrations that cover part of a PMD, or lie next to it. collapse_file()
 * walks the file's i_mmap tree over the range's pages [start, end] and
 * refuses (EBUSY) if any VMA found there has a MODE_MISSING userfaultfd,
 * wherever in the range it is. The walk's end is inclusive: a VMA starting
 * at the page just past the range is found too, one ending at the page
 * just before it is not. The range is the middle PMD of three; only it has
 * holes.
 */
FIXTURE(partial) {
	struct scenario s;
	size_t per;	/* pages per PMD */
};

FIXTURE_VARIANT(partial) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_SHMEM_TYPES(partial, ADD_CONTEXTS);

FIXTURE_SETUP(partial)
{
	SKIP_IF(scenario_init(_metadata, &self->s, variant->type,
			      variant->ctx, 3));
	self->per = pages_per_pmd(&self->s);
	make_holes(&self->s, 1);
	SKIP_FINI(&self->s, collapse_control(_metadata, &self->s));
	populate(_metadata, &self->s);
}

FIXTURE_TEARDOWN(partial)
{
	scenario_fini(&self->s);
}

/* The middle PMD, the range every test of the fixture collapses. */
static char *middle(struct scenario *s)
{
	return s->w.r.addr + s->w.r.pmd_size;
}

/*
 * Register MODE_MISSING on another mapping of the file's pages [@first,
 * @first + @n), in this process, and collapse the middle PMD: @err.
 * Holes under the registration raise their events through it.
 */
static void alias_registered(struct __test_metadata *_metadata,
			     struct scenario *s, size_t first, size_t n,
			     int err)
{
	size_t i, holes = 0, ps = s->w.r.page_size;
	char *alias = mem_map_again(&s->w.r, first * ps, n * ps);

	ASSERT_NE(NULL, alias);
	ASSERT_EQ(NULL, register_uffd(_metadata, s, alias, n * ps,
				      UFFDIO_REGISTER_MODE_MISSING));
	start_handler(_metadata, s, alias, n * ps);
	for (i = first; i < first + n; i++)
		holes += s->w.hole[i];
	assert_precondition(_metadata, s);
	if (err) {
		expect_refused_range(_metadata, s, middle(s), s->w.r.pmd_size,
				     err);
		if (holes)
			expect_hole_events(_metadata, s, alias, first, n, 1);
		return;
	}
	expect_collapse(_metadata, s, 0, middle(s), s->w.r.pmd_size);
	EXPECT_EQ((long)s->w.r.pmd_size, thp_pmd_mapped(middle(s)));
	EXPECT_EQ(-1, mem_verify_fill(&s->w.r, s->w.hole));
	EXPECT_EQ(0, s->w.h.nr_faults);
}

/* Only the range's last page registered (a hole): EBUSY. */
TEST_F_TIMEOUT(partial, last_page_registered_ebusy, CTX_TIMEOUT_S)
{
	alias_registered(_metadata, &self->s, 2 * self->per - 1, 1, EBUSY);
}

/* A slice in the middle of the range registered: EBUSY. */
TEST_F_TIMEOUT(partial, middle_slice_registered_ebusy, CTX_TIMEOUT_S)
{
	alias_registered(_metadata, &self->s, self->per + self->per / 4,
			 self->per / 2, EBUSY);
}

/* All of the range but its first page registered: EBUSY. */
TEST_F_TIMEOUT(partial, all_but_first_page_registered_ebusy, CTX_TIMEOUT_S)
{
	alias_registered(_metadata, &self->s, self->per + 1, self->per - 1,
			 EBUSY);
}

/*
 * A registered mapping that starts at the page just past the range: the
 * walk's end is inclusive (vma_interval_tree_foreach(.., start, end) with
 * end = start + HPAGE_PMD_NR), so it refuses too.
 */
TEST_F_TIMEOUT(partial, adjacent_after_registered_ebusy, CTX_TIMEOUT_S)
{
	alias_registered(_metadata, &self->s, 2 * self->per, 16, EBUSY);
}

/* A registered mapping that ends at the page just before the range: collapses. */
TEST_F_TIMEOUT(partial, adjacent_before_registered_collapses, CTX_TIMEOUT_S)
{
	alias_registered(_metadata, &self->s, self->per - 16, 16, 0);
}

/*
 * Another process registers its own mapping of the range's second half:
 * EBUSY with the holes kept; once it exits, the collapse succeeds.
 */
TEST_F_TIMEOUT(partial, other_process_half_registered_ebusy_until_exit, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t ps = s->w.r.page_size;
	int cmd[2], ack[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(ack));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		child_main(s, NULL, (self->per + self->per / 2) * ps,
			   self->per / 2 * ps, cmd[0], ack[1]);
	ASSERT_EQ('R', wait_byte(ack[0])) TH_LOG("child did not register");
	assert_precondition(_metadata, s);
	expect_refused_range(_metadata, s, middle(s), s->w.r.pmd_size, EBUSY);
	ASSERT_EQ(1, write(cmd[1], "X", 1));
	EXPECT_EQ(0, reap_within(pid, CHILD_WAIT_MS));
	assert_precondition(_metadata, s);
	expect_collapse(_metadata, s, 0, middle(s), s->w.r.pmd_size);
	EXPECT_EQ((long)s->w.r.pmd_size, thp_pmd_mapped(middle(s)));
}

/*
 * A mapping that starts and ends off PMD boundaries (4 pages into the
 * first PMD of the file, 4 pages into the third), registered whole, and
 * collapsed whole: the aligned middle PMD inside it has holes, EBUSY.
 */
TEST_F_TIMEOUT(partial, unaligned_vma_registered_ebusy, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;
	size_t ps = s->w.r.page_size, pmd = s->w.r.pmd_size, len = pmd + 8 * ps;
	char *reserve, *vma;

	/* The middle PMD's file offset must sit at a PMD-aligned address. */
	reserve = mem_map_again(&s->w.r, 0, 3 * pmd);
	ASSERT_NE(NULL, reserve);
	ASSERT_EQ(0, munmap(reserve, 3 * pmd));
	vma = mem_map_at(&s->w.r, pmd - 4 * ps, len, reserve + pmd - 4 * ps);
	ASSERT_NE(NULL, vma);
	ASSERT_EQ(NULL, register_uffd(_metadata, s, vma, len,
				      UFFDIO_REGISTER_MODE_MISSING));
	start_handler(_metadata, s, vma, len);
	assert_precondition(_metadata, s);
	expect_refused_range(_metadata, s, vma, len, EBUSY);
	expect_hole_events(_metadata, s, vma, self->per - 4, self->per + 8, 1);
}

/*
 * MODE_MISSING combined with WP, or with MINOR, on another mapping of the
 * file: still MODE_MISSING, EBUSY. (Through that mapping only holes are
 * touched: a present page whose PTE the refused collapse zapped would
 * raise a MINOR fault, which the handler does not resolve.)
 */
static void combined_mode(struct __test_metadata *_metadata,
			  struct scenario *s, __u64 mode)
{
	char *alias = mem_map_again(&s->w.r, 0, s->w.r.size);
	const char *why;

	ASSERT_NE(NULL, alias);
	why = register_uffd(_metadata, s, alias, s->w.r.size,
			    UFFDIO_REGISTER_MODE_MISSING | mode);
	SKIP_IF(why);
	start_handler(_metadata, s, alias, s->w.r.size);
	assert_precondition(_metadata, s);
	expect_refused_range(_metadata, s, middle(s), s->w.r.pmd_size, EBUSY);
	expect_hole_events(_metadata, s, alias, 0, s->w.npages, 1);
}

TEST_F_TIMEOUT(partial, missing_wp_registered_ebusy, CTX_TIMEOUT_S)
{
	combined_mode(_metadata, &self->s, UFFDIO_REGISTER_MODE_WP);
}

TEST_F_TIMEOUT(partial, missing_minor_registered_ebusy, CTX_TIMEOUT_S)
{
	combined_mode(_metadata, &self->s, UFFDIO_REGISTER_MODE_MINOR);
}

FIXTURE(numa) {
	struct scenario s;
};

FIXTURE_VARIANT(numa) {
	enum mem_type type;
	enum collapse_ctx ctx;
};

ADD_SHMEM_TYPES(numa, ADD_CONTEXTS);

#define NUMA_NODE 1

/* Shmem bound to node 1 (its shared policy), then populated with holes. */
FIXTURE_SETUP(numa)
{
	struct scenario *s = &self->s;

	SKIP_IF(node_probe(NUMA_NODE + 1));
	SKIP_IF(scenario_init(_metadata, s, variant->type, variant->ctx, 1));
	SKIP_FINI(s, collapse_control(_metadata, s));
	make_holes(s, 0);
	node_bind(s->w.r.addr, s->w.r.size, NUMA_NODE);
	populate(_metadata, s);
}

FIXTURE_TEARDOWN(numa)
{
	scenario_fini(&self->s);
}

/* Pages of [@first, @first + @n) present but not on NUMA_NODE. */
static size_t pages_off_node(struct scenario *s, size_t first, size_t n)
{
	size_t i, off = 0;

	for (i = first; i < first + n; i++)
		if (!s->w.hole[i])
			off += node_of(s->w.r.addr + i * s->w.r.page_size) !=
			       NUMA_NODE;
	return off;
}

/* Without a registration the huge page lands where the policy says. */
TEST_F_TIMEOUT(numa, collapse_stays_on_node, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	ASSERT_EQ(0, pages_off_node(s, 0, s->w.npages));
	expect_collapse(_metadata, s, 0, s->w.r.addr, s->w.r.size);
	expect_collapsed(_metadata, s, s->w.r.size);
	EXPECT_EQ(NUMA_NODE, node_of(s->w.r.addr));
}

/* MODE_MISSING with holes: EBUSY, and no present page moved off its node. */
TEST_F_TIMEOUT(numa, missing_holes_ebusy_pages_stay, CTX_TIMEOUT_S)
{
	struct scenario *s = &self->s;

	register_missing(_metadata, s);
	assert_precondition(_metadata, s);
	ASSERT_EQ(0, pages_off_node(s, 0, s->w.npages));
	expect_refused(_metadata, s, EBUSY);
	EXPECT_EQ(0, pages_off_node(s, 0, s->w.npages));
	expect_hole_events(_metadata, s, s->w.r.addr, 0, s->w.npages, 1);
}

/* The knobs are saved, and set for the suite, only for a run of tests. */
int main(int argc, char **argv)
{
	if (!harness_lists_only(argc, argv)) {
		thp_knobs_guard();
		thp_knobs_for_suite();
	}
	return test_harness_run(argc, argv);
}
