/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transparent huge pages: PMD size, the sysfs knobs (saved once, restored on
 * exit and on fatal signals), PMD mappings seen in smaps, khugepaged scans.
 */
#ifndef UFFD_SUITE_THP_H
#define UFFD_SUITE_THP_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when the kernel has no THP. */
size_t thp_pmd_size(void);

/*
 * Save every THP/khugepaged knob and arrange for them to be written back at
 * exit() and on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE. Idempotent. First
 * waits for any other run of the suite to end (the lock file
 * /run/uffd-collapse-suite.lock, where /run is writable by root only).
 */
void thp_knobs_guard(void);
/*
 * What the suite runs with: THP on faults only in MADV_HUGEPAGE ranges and
 * no mTHP (so populating a range leaves its holes), khugepaged fast and
 * willing to fill up to 511 holes. Call after thp_knobs_guard().
 */
void thp_knobs_for_suite(void);
/* Write back the saved values now. */
void thp_knobs_restore(void);
/* @name is relative to /sys/kernel/mm/transparent_hugepage/. */
int thp_knob_set(const char *name, const char *value);
/* The knob's value ("[madvise]" -> "madvise") into @value; 0 or -1. */
int thp_knob_get(const char *name, char *value, size_t size);
/*
 * Set every hugepages-<size>kB/@name (mTHP) knob but the PMD size's to
 * @value: the PMD size's own is never touched by this, since "never" there
 * makes MADV_COLLAPSE of shmem fail (EINVAL) for every process meanwhile.
 */
void thp_mthp_set(const char *name, const char *value);

/* Bytes PMD-mapped in the VMA holding @addr (AnonHuge/ShmemPmd/FilePmd). */
long thp_pmd_mapped(const void *addr);

/*
 * khugepaged scans only processes registered with it, and a process whose
 * only MADV_HUGEPAGE mapping is shmem may never be: map and touch a small
 * anonymous MADV_HUGEPAGE region (returned, to munmap with @pmd_size * 2).
 */
void *thp_khugepaged_enroll(size_t pmd_size);

/*
 * Wait for khugepaged over [@addr, @addr + @len), one VMA from @addr on:
 * 1 once it is all PMD-mapped, 0 if khugepaged completed @scans more full
 * scans without that and without a change in which pages are present, -1
 * on error or after @timeout_ms. Faults in only present pages (never a
 * missing one: a userfaultfd would see it).
 */
int thp_khugepaged_wait(void *addr, size_t len, long scans, int timeout_ms);
/*
 * khugepaged made fast: a full scan of every process registered with it
 * (other processes' huge MADV_HUGEPAGE mappings too, such as a VM's RAM)
 * in a wakeup or two, every millisecond. Only these knobs change, and
 * thp_khugepaged_fast_undo() puts only these back: rewriting the others
 * (as thp_knobs_for_suite() does) would disturb other processes' collapses
 * for a moment.
 */
void thp_khugepaged_fast(void);
void thp_khugepaged_fast_undo(void);
/* Compact all memory (/proc/sys/vm/compact_memory), where the kernel can. */
void thp_compact_memory(void);
long thp_full_scans(void);
/* Wait until khugepaged completed @nr more full scans; false on timeout. */
bool thp_wait_full_scans(long nr, int timeout_ms);

/*
 * Set @n knobs for a while, @knobs[i][0] to @knobs[i][1], keeping each old
 * value in @old[i] ("" if it could not be read: then left alone); with
 * @undo, write the old values back instead. Only these knobs change:
 * rewriting the others (thp_knobs_restore()) would disturb other
 * processes' collapses for a moment.
 */
void thp_knobs_swap(const char *const knobs[][2], size_t n, char old[][32],
		    bool undo);

#endif
