/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The races' fixtures, which differ only in the race's size, NUMA node and
 * what their teardown undoes. Include after kselftest_harness.h.
 */
#ifndef UFFD_SUITE_RACE_FIXTURE_H
#define UFFD_SUITE_RACE_FIXTURE_H

#include "harness.h"
#include "race_ctx.h"

/*
 * Fixture @fixture: a race (race_test_init()) with options @opts over @npmd
 * PMDs of the variant's memory type, on NUMA @node unless it is negative;
 * a set-up error fails the test, a missing feature SKIPs it. Teardown:
 * @undo, then race_fini(), however the test ended.
 */
#define RACE_FIXTURE(fixture, opts, npmd, node, undo)			\
	FIXTURE(fixture) {						\
		struct race x;						\
	};								\
	FIXTURE_VARIANT(fixture) {					\
		enum mem_type type;					\
	};								\
	FIXTURE_SETUP(fixture)						\
	{								\
		SKIP_IF(race_test_init(&self->x, opts, variant->type,	\
				       npmd, node, _metadata->name));	\
		ASSERT_EQ(0, self->x.sh->failed)			\
			TH_LOG("%s", self->x.sh->why);			\
	}								\
	FIXTURE_TEARDOWN(fixture)					\
	{								\
		undo;							\
		race_fini(&self->x);					\
	}

#endif
