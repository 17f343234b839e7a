/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring (liburing): one request at a time, each wait bounded, so the
 * kernel collapses or faults from io_uring's context rather than ours.
 */
#ifndef UFFD_SUITE_URING_H
#define UFFD_SUITE_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define URING_WAIT_MS 10000

/* NULL if io_uring with MADVISE and READ works here, else why not. */
const char *uring_probe(void);
/* cqe->res of IORING_OP_MADVISE: 0 or -errno; -ETIME if none came. */
int uring_madvise(void *addr, size_t len, int advice);
/*
 * cqe->res of IORING_OP_READ of @fd into @buf, forced to an io-wq worker
 * (IOSQE_ASYNC) so any fault on @buf is taken in io_uring's context.
 */
int uring_read_async(int fd, void *buf, size_t len, off_t off);

/*
 * A ring whose registered buffers pin pages (FOLL_LONGTERM), again and
 * again: uring_pin_buffer() pins [@addr, @addr + @len) (0 or -errno),
 * uring_unpin_buffer() lets go, uring_pinner_free() lets go and frees.
 */
struct uring_pin;
struct uring_pin *uring_pinner(void);
int uring_pin_buffer(struct uring_pin *pin, void *addr, size_t len);
int uring_unpin_buffer(struct uring_pin *pin);
void uring_pinner_free(struct uring_pin *pin);

/* A new ring with [@addr, @addr + @len) pinned, or NULL; and its undoing. */
struct uring_pin *uring_pin(void *addr, size_t len);
void uring_unpin(struct uring_pin *pin);

#endif
