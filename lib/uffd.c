// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "pattern.h"
#include "uffd.h"

#define HANDLER_POLL_MS 50

/* The syscall, else /dev/userfaultfd (kernels with the syscall restricted). */
static int uffd_open_raw(void)
{
	int fd, dev;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd;
}

__u64 uffd_features(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_open_raw();

	if (fd < 0)
		return 0;
	if (ioctl(fd, UFFDIO_API, &api))
		api.features = 0;
	close(fd);
	return api.features;
}

int uffd_open(__u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = uffd_open_raw();

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

int uffd_register(int uffd, void *addr, size_t len, __u64 mode)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg);
}

int uffd_unregister(int uffd, void *addr, size_t len)
{
	struct uffdio_range range = { .start = (unsigned long)addr, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &range);
}

int uffd_writeprotect(int uffd, void *addr, size_t len, bool wp)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
}

/* Resolve one fault at @page; on failure wake the faulting thread anyway. */
static int handler_copy(struct uffd_handler *h, unsigned long page, void *buf)
{
	struct uffdio_copy copy = {
		.dst = page, .src = (unsigned long)buf, .len = h->page_size,
	};
	struct uffdio_range range = { .start = page, .len = h->page_size };
	size_t pgoff = (page - (unsigned long)h->base) / h->page_size;

	pattern_fill(buf, h->page_size, PATTERN_UFFD, pgoff);
	if (!ioctl(h->uffd, UFFDIO_COPY, &copy))
		return 0;
	ioctl(h->uffd, UFFDIO_WAKE, &range);
	return copy.copy == -EEXIST ? -EEXIST : -1;
}

/*
 * A MINOR fault (MODE_MINOR registered): the page is in the page cache,
 * only not mapped here; map it as it is (UFFDIO_CONTINUE). Counted apart
 * from missing-page events: a page seen missing that faults as MINOR was
 * filled behind userspace's back. A failed UFFDIO_CONTINUE wakes no one
 * (EEXIST: mapped meanwhile, e.g. by a PMD; EAGAIN): wake the faulting
 * thread, which retries its fault.
 */
static void handler_continue(struct uffd_handler *h, unsigned long page)
{
	struct uffdio_continue cont = {
		.range = { .start = page, .len = h->page_size },
	};
	int ret = ioctl(h->uffd, UFFDIO_CONTINUE, &cont) ? errno : 0;

	if (ret)
		ioctl(h->uffd, UFFDIO_WAKE, &cont.range);

	pthread_mutex_lock(&h->lock);
	h->nr_minor++;
	h->nr_errors += ret && ret != EEXIST;
	pthread_mutex_unlock(&h->lock);
}

/*
 * Account our UFFDIO_COPY, which returned @ret, of the page whose "ours"
 * flag is *@copied (NULL: a page outside the range, never ours).
 */
static void handler_copied(struct uffd_handler *h, bool *copied, int ret)
{
	if (!ret && copied)
		*copied = true;
	else if (ret == -EEXIST && copied && *copied)
		h->nr_repeat++;
	else if (ret == -EEXIST)
		h->nr_eexist++;
	else if (ret)
		h->nr_errors++;
}

/* Record the fault before resolving it: the faulting reader checks at once. */
static void handler_event(struct uffd_handler *h, struct uffd_msg *msg,
			  void *buf)
{
	unsigned long page = msg->arg.pagefault.address & ~(h->page_size - 1);
	unsigned long base = (unsigned long)h->base;
	bool outside = page < base || page >= base + h->len;
	size_t pgoff = (page - base) / h->page_size;
	int ret;

	if (msg->event != UFFD_EVENT_PAGEFAULT) {
		h->nr_other++;
		return;
	}
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) {
		handler_continue(h, page);
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->nr_faults++;
	if (outside)
		h->nr_outside++;
	else
		h->faults[pgoff]++;
	pthread_mutex_unlock(&h->lock);
	ret = handler_copy(h, page, buf);
	pthread_mutex_lock(&h->lock);
	handler_copied(h, outside ? NULL : &h->copied[pgoff], ret);
	pthread_mutex_unlock(&h->lock);
}

static void *handler_main(void *arg)
{
	struct uffd_handler *h = arg;
	struct pollfd pfd[2] = {
		{ .fd = h->uffd, .events = POLLIN },
		{ .fd = h->wake_fd, .events = POLLIN },
	};
	struct uffd_msg msg;
	void *buf;

	buf = aligned_alloc(h->page_size, h->page_size);
	if (!buf)
		return NULL;
	while (!h->stop) {
		if (poll(pfd, 2, HANDLER_POLL_MS) <= 0 ||
		    !(pfd[0].revents & POLLIN))
			continue;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno != EAGAIN)
				h->nr_errors++;
			continue;
		}
		handler_event(h, &msg, buf);
	}
	free(buf);
	return NULL;
}

int uffd_handler_start(struct uffd_handler *h, int uffd, void *base,
		       size_t len)
{
	memset(h, 0, sizeof(*h));
	h->uffd = uffd;
	h->base = base;
	h->len = len;
	h->page_size = getpagesize();
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->faults = calloc(len / h->page_size, sizeof(*h->faults));
	h->copied = calloc(len / h->page_size, sizeof(*h->copied));
	if (h->wake_fd < 0 || !h->faults || !h->copied)
		goto fail;
	pthread_mutex_init(&h->lock, NULL);
	if (pthread_create(&h->thread, NULL, handler_main, h))
		goto fail;
	return 0;
fail:
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	free(h->faults);
	free(h->copied);
	return -1;
}

/*
 * Bounded: the eventfd wakes the thread's poll at once; should that write
 * fail, it re-checks @stop at least every HANDLER_POLL_MS.
 */
void uffd_handler_stop(struct uffd_handler *h)
{
	uint64_t one = 1;

	h->stop = true;
	if (write(h->wake_fd, &one, sizeof(one)) != sizeof(one))
		h->nr_errors++;
	pthread_join(h->thread, NULL);
	close(h->wake_fd);
	free(h->faults);
	free(h->copied);
	h->faults = NULL;
	h->copied = NULL;
}

void uffd_handler_forget(struct uffd_handler *h, size_t pgoff)
{
	if (!h->copied)
		return;
	pthread_mutex_lock(&h->lock);
	h->copied[pgoff] = false;
	pthread_mutex_unlock(&h->lock);
}

unsigned int uffd_handler_faults(struct uffd_handler *h, size_t pgoff)
{
	unsigned int n;

	pthread_mutex_lock(&h->lock);
	n = h->faults[pgoff];
	pthread_mutex_unlock(&h->lock);
	return n;
}

void uffd_handler_counts(struct uffd_handler *h, size_t *eexist,
			 size_t *errors)
{
	pthread_mutex_lock(&h->lock);
	*eexist = h->nr_eexist;
	*errors = h->nr_errors;
	pthread_mutex_unlock(&h->lock);
}
