/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Glue over kselftest_harness.h shared by the test binaries: skipping with
 * a reason string, and fixture variants over memory types (and, for
 * MADV_COLLAPSE, over the context it is called from). Include after
 * kselftest_harness.h; variant structs have .type and, for ADD_CONTEXTS,
 * .ctx (enum collapse_ctx, lib/context.h).
 */
#ifndef UFFD_SUITE_HARNESS_H
#define UFFD_SUITE_HARNESS_H

#include <stdbool.h>
#include <string.h>

#include "context.h"
#include "mem.h"

/* SKIP the test with the reason @why_expr gives, unless it is NULL. */
#define SKIP_IF(why_expr) do {						\
	const char *__why = (why_expr);					\
	if (__why)							\
		SKIP(return, "%s", __why);				\
} while (0)

/* Does @argv only ask the harness for its help or its list (-h, -l)? */
static inline bool harness_lists_only(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "-l"))
			return true;
	return false;
}

/*
 * Variants: a memory type; or one per collapse context (lib/context.h),
 * named <type> (madvise), <type>_io_uring, <type>_process_madvise and
 * <type>_khugepaged; ADD_CALL_CONTEXTS: the MADV_COLLAPSE ones only.
 */
#define ADD_TYPE(fixture, name, mtype)					\
	FIXTURE_VARIANT_ADD(fixture, name) { .type = mtype }
#define ADD_CALL_CONTEXTS(fixture, name, mtype)				\
	FIXTURE_VARIANT_ADD(fixture, name) {				\
		.type = mtype, .ctx = CTX_MADVISE };			\
	FIXTURE_VARIANT_ADD(fixture, name##_io_uring) {			\
		.type = mtype, .ctx = CTX_IO_URING };			\
	FIXTURE_VARIANT_ADD(fixture, name##_process_madvise) {		\
		.type = mtype, .ctx = CTX_PROCESS_MADVISE }
#define ADD_CONTEXTS(fixture, name, mtype)				\
	ADD_CALL_CONTEXTS(fixture, name, mtype);			\
	FIXTURE_VARIANT_ADD(fixture, name##_khugepaged) {		\
		.type = mtype, .ctx = CTX_KHUGEPAGED }
#define ADD_SHMEM_TYPES(fixture, add)					\
	add(fixture, memfd, MEM_MEMFD);					\
	add(fixture, shared_anon, MEM_SHARED_ANON);			\
	add(fixture, tmpfs_file, MEM_TMPFS)

#endif
