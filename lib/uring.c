// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "uring.h"

#ifdef HAVE_LIBURING
#include <liburing.h>

static const char *probe_result(void)
{
	struct io_uring_probe *probe;
	struct io_uring ring;
	const char *why = NULL;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret == -ENOSYS)
		return "kernel without io_uring";
	if (ret == -EPERM)
		return "io_uring disabled (kernel.io_uring_disabled)";
	if (ret)
		return "io_uring_queue_init() failed";
	probe = io_uring_get_probe_ring(&ring);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_MADVISE) ||
	    !io_uring_opcode_supported(probe, IORING_OP_READ))
		why = "io_uring without IORING_OP_MADVISE or IORING_OP_READ";
	io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return why;
}

const char *uring_probe(void)
{
	static const char *why;
	static bool probed;

	if (!probed)
		why = probe_result();
	probed = true;
	return why;
}

/* Submit the one SQE prepared by @prep and return its cqe->res. */
static int submit_one(struct io_uring *ring)
{
	struct __kernel_timespec ts = {
		.tv_sec = URING_WAIT_MS / 1000,
		.tv_nsec = (URING_WAIT_MS % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

int uring_madvise(void *addr, size_t len, int advice)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret)
		return ret;
	io_uring_prep_madvise(io_uring_get_sqe(&ring), addr, len, advice);
	ret = submit_one(&ring);
	io_uring_queue_exit(&ring);
	return ret;
}

int uring_read_async(int fd, void *buf, size_t len, off_t off)
{
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, buf, len, off);
	sqe->flags |= IOSQE_ASYNC;
	ret = submit_one(&ring);
	io_uring_queue_exit(&ring);
	return ret;
}

struct uring_pin {
	struct io_uring ring;
	bool pinned;
};

struct uring_pin *uring_pinner(void)
{
	struct uring_pin *pin = calloc(1, sizeof(*pin));

	if (pin && io_uring_queue_init(4, &pin->ring, 0)) {
		free(pin);
		return NULL;
	}
	return pin;
}

int uring_pin_buffer(struct uring_pin *pin, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	int ret = io_uring_register_buffers(&pin->ring, &iov, 1);

	pin->pinned = !ret;
	return ret;
}

int uring_unpin_buffer(struct uring_pin *pin)
{
	int ret = io_uring_unregister_buffers(&pin->ring);

	pin->pinned = false;
	return ret;
}

void uring_pinner_free(struct uring_pin *pin)
{
	if (!pin)
		return;
	if (pin->pinned)
		io_uring_unregister_buffers(&pin->ring);
	io_uring_queue_exit(&pin->ring);
	free(pin);
}

#else /* !HAVE_LIBURING */

const char *uring_probe(void)
{
	return "built without liburing (install liburing-dev)";
}

int uring_madvise(void *addr, size_t len, int advice)
{
	(void)addr, (void)len, (void)advice;
	return -ENOSYS;
}

int uring_read_async(int fd, void *buf, size_t len, off_t off)
{
	(void)fd, (void)buf, (void)len, (void)off;
	return -ENOSYS;
}

struct uring_pin *uring_pinner(void)
{
	return NULL;
}

int uring_pin_buffer(struct uring_pin *pin, void *addr, size_t len)
{
	(void)pin, (void)addr, (void)len;
	return -ENOSYS;
}

int uring_unpin_buffer(struct uring_pin *pin)
{
	(void)pin;
	return -ENOSYS;
}

void uring_pinner_free(struct uring_pin *pin)
{
	(void)pin;
}

#endif

struct uring_pin *uring_pin(void *addr, size_t len)
{
	struct uring_pin *pin = uring_pinner();

	if (pin && uring_pin_buffer(pin, addr, len)) {
		uring_pinner_free(pin);
		return NULL;
	}
	return pin;
}

void uring_unpin(struct uring_pin *pin)
{
	uring_pinner_free(pin);
}
