// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmstat.h"

/* The value of counter @name in @text, or -1. */
static long counter(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return strtol(p + len + 1, NULL, 10);
		p += len;
	}
	return -1;
}

long vmstat_migrations(void)
{
	char buf[16384];
	long ok, failed;
	ssize_t n;
	int fd;

	fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	ok = counter(buf, "pgmigrate_success");
	failed = counter(buf, "pgmigrate_fail");
	return ok < 0 || failed < 0 ? -1 : ok + failed;
}
