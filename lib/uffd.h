/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userfaultfd: open, API handshake, (un)register, and a fault handler thread
 * that resolves every missing-page fault with UFFDIO_COPY of the page's
 * PATTERN_UFFD contents and records each event it saw.
 */
#ifndef UFFD_SUITE_UFFD_H
#define UFFD_SUITE_UFFD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Features the kernel offers (probe on a throw-away fd); 0 if no uffd. */
__u64 uffd_features(void);
/* Open a userfaultfd and do the API handshake asking for @features. */
int uffd_open(__u64 features);
int uffd_register(int uffd, void *addr, size_t len, __u64 mode);
int uffd_unregister(int uffd, void *addr, size_t len);
/* UFFDIO_WRITEPROTECT [@addr, @addr + @len) on (@wp) or off. */
int uffd_writeprotect(int uffd, void *addr, size_t len, bool wp);

struct uffd_handler {
	int uffd;
	char *base;		/* faults are recorded relative to this */
	size_t len, page_size;
	pthread_t thread;
	volatile bool stop;
	int wake_fd;		/* eventfd: uffd_handler_stop() wakes the poll */
	pthread_mutex_t lock;
	unsigned int *faults;	/* missing-page UFFD_EVENT_PAGEFAULTs per page */
	bool *copied;		/* our UFFDIO_COPY installed the page */
	size_t nr_faults;	/* all page faults, in range or not */
	size_t nr_outside;	/* faults outside [base, base + len) */
	size_t nr_eexist;	/* UFFDIO_COPY found present a page not ours */
	size_t nr_repeat;	/* events for a page already ours (see below) */
	size_t nr_errors;	/* other UFFDIO_COPY / read failures */
	size_t nr_other;	/* events other than PAGEFAULT */
	size_t nr_minor;	/* MINOR faults, not counted in @faults */
};

int uffd_handler_start(struct uffd_handler *h, int uffd, void *base,
		       size_t len);
void uffd_handler_stop(struct uffd_handler *h);
unsigned int uffd_handler_faults(struct uffd_handler *h, size_t pgoff);
/* The handler's EEXIST and error counts so far, read together. */
void uffd_handler_counts(struct uffd_handler *h, size_t *eexist,
			 size_t *errors);
/*
 * A repeated event: handle_userfault() waits interruptibly, so a faulting
 * thread woken by a signal or by io_uring task_work (TIF_NOTIFY_SIGNAL)
 * before our UFFDIO_COPY retries the fault and raises a second event for
 * the same missing page; that copy then says EEXIST for the page we just
 * installed. The kernel's own uffd selftests take EEXIST the same way. It
 * tells userspace twice, which breaks no promise; an EEXIST for a page we
 * did not install (nr_eexist) means someone else filled it.
 * The test forgets pages it makes missing again (they are not ours any
 * more): uffd_handler_forget().
 */
void uffd_handler_forget(struct uffd_handler *h, size_t pgoff);

#endif
