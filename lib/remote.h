/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MADV_COLLAPSE from another process: a helper process, with an mm of its
 * own, calls process_madvise(2) on a pidfd of ours, so the kernel collapses
 * our range from outside our mm (madvise_collapse() is handed our mm, not
 * current->mm). One helper per process, each wait bounded.
 */
#ifndef UFFD_SUITE_REMOTE_H
#define UFFD_SUITE_REMOTE_H

#include <stddef.h>
#include <sys/types.h>

#define REMOTE_WAIT_MS 10000

/*
 * Start the helper: call it before mapping the memory it will collapse (a
 * fork copies the mappings there are). 0 once it runs and the kernel takes
 * MADV_COLLAPSE through process_madvise(); else 1 and in *@why the feature
 * this kernel lacks, or -1 and in *@why the set-up error.
 */
int remote_start(const char **why);
/*
 * 0 or the errno of the helper's process_madvise(MADV_COLLAPSE); ETIME if
 * no answer came in REMOTE_WAIT_MS.
 */
int remote_collapse(void *addr, size_t len);
/* Stop the helper (also done by its death signal when we exit). */
void remote_stop(void);

/*
 * Wait for our child @pid within @timeout_ms, else SIGKILL it: its wait
 * status, or -1 if it had to be killed.
 */
int reap_within(pid_t pid, int timeout_ms);

#endif
