// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "remote.h"

struct remote_req {
	uint64_t addr;
	uint64_t len;
};

/*
 * Two pipes, not a socket: a kernel without CONFIG_NET (tinyconfig, the
 * bisect and mutant builds) has them. Requests and answers are smaller
 * than PIPE_BUF, so each read and write is whole.
 */
static pid_t helper = -1;
static int to_helper = -1, from_helper = -1;

/* 0 or errno of process_madvise(@pidfd, [@rq], MADV_COLLAPSE). */
static int remote_advise(int pidfd, const struct remote_req *rq)
{
	struct iovec iov = {
		.iov_base = (void *)(uintptr_t)rq->addr,
		.iov_len = rq->len,
	};

	if (syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_COLLAPSE, 0) < 0)
		return errno;
	return 0;
}

/* The helper: one answer per request, until the request pipe closes. */
static void __attribute__((noreturn)) helper_main(int in, int out,
						  pid_t parent)
{
	struct remote_req rq;
	int pidfd, err = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	pidfd = syscall(SYS_pidfd_open, parent, 0);
	if (pidfd < 0)
		err = errno;
	while (read(in, &rq, sizeof(rq)) == sizeof(rq)) {
		int ret = pidfd < 0 ? err : remote_advise(pidfd, &rq);

		if (write(out, &ret, sizeof(ret)) != sizeof(ret))
			break;
	}
	_exit(0);
}

/* Send @rq to the helper; its answer, or ETIME / EPIPE. */
static int remote_call(const struct remote_req *rq)
{
	struct pollfd pfd = { .fd = from_helper, .events = POLLIN };
	int ret;

	if (to_helper < 0)
		return EPIPE;
	if (write(to_helper, rq, sizeof(*rq)) != sizeof(*rq))
		return EPIPE;
	if (poll(&pfd, 1, REMOTE_WAIT_MS) != 1)
		return ETIME;
	if (read(from_helper, &ret, sizeof(ret)) != sizeof(ret))
		return EPIPE;
	return ret;
}

int remote_start(const char **why)
{
	struct remote_req probe = { 0, 0 };
	pid_t parent = getpid();
	int req[2], ans[2], err;

	if (helper > 0)
		return 0;
	*why = "set-up: pipe() failed";
	if (pipe2(req, O_CLOEXEC))
		return -1;
	if (pipe2(ans, O_CLOEXEC)) {
		close(req[0]);
		close(req[1]);
		return -1;
	}
	helper = fork();
	if (!helper) {
		close(req[1]);
		close(ans[0]);
		helper_main(req[0], ans[1], parent);
	}
	close(req[0]);
	close(ans[1]);
	to_helper = req[1];
	from_helper = ans[0];
	if (helper < 0) {
		remote_stop();
		*why = "set-up: fork() failed";
		return -1;
	}
	/*
	 * An empty range: process_madvise() checks the advice
	 * (process_madvise_behavior_valid()) and CAP_SYS_NICE, then has
	 * nothing to do.
	 */
	err = remote_call(&probe);
	if (!err)
		return 0;
	remote_stop();
	*why = "kernel without process_madvise() or pidfd_open()";
	if (err == ENOSYS)
		return 1;
	*why = "kernel without process_madvise(MADV_COLLAPSE)";
	if (err == EINVAL)
		return 1;
	*why = "process_madvise() needs CAP_SYS_NICE";
	if (err == EPERM)
		return 1;
	*why = "set-up: the process_madvise() helper did not answer";
	return -1;
}

int remote_collapse(void *addr, size_t len)
{
	struct remote_req rq = { (uintptr_t)addr, len };

	return remote_call(&rq);
}

void remote_stop(void)
{
	if (to_helper >= 0)
		close(to_helper);
	if (from_helper >= 0)
		close(from_helper);
	to_helper = from_helper = -1;
	if (helper > 0) {
		kill(helper, SIGKILL);
		waitpid(helper, NULL, 0);
	}
	helper = -1;
}

int reap_within(pid_t pid, int timeout_ms)
{
	int status = -1, waited;

	for (waited = 0; waited < timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}
