// SPDX-License-Identifier: GPL-2.0
/*
 * qmp SOCKET COMMAND-JSON...: send each command to a QEMU QMP unix socket
 * (after the capabilities handshake) and print each reply on one line.
 * Asynchronous events are skipped. Every read is bounded (10 s in all).
 * Exit status: 0 if every reply was a "return", 1 if one was an "error",
 * 2 on usage, 3 if the socket or the protocol failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char buf[1 << 16];
static size_t len;

/* read_msg: the next complete line from the socket, NUL-terminated. */
static char *read_msg(int fd)
{
	static char line[sizeof(buf)];
	char *nl;
	ssize_t n;

	while (!(nl = memchr(buf, '\n', len))) {
		if (len == sizeof(buf))
			return NULL;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return NULL;
		len += n;
	}
	memcpy(line, buf, nl - buf);
	line[nl - buf] = '\0';
	len -= nl - buf + 1;
	memmove(buf, nl + 1, len);
	return line;
}

/* reply: the next message that is not an event, or NULL. */
static char *reply(int fd)
{
	char *m;

	while ((m = read_msg(fd)))
		if (!strstr(m, "\"event\""))
			return m;
	return NULL;
}

static int send_cmd(int fd, const char *cmd)
{
	size_t n = strlen(cmd);

	return write(fd, cmd, n) != (ssize_t)n || write(fd, "\n", 1) != 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, i, ret = 0;
	char *m;

	if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: qmp SOCKET COMMAND-JSON...\n");
		return 2;
	}
	alarm(10);
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "qmp: %s: %s\n", argv[1], strerror(errno));
		return 3;
	}
	m = read_msg(fd);
	if (!m || !strstr(m, "\"QMP\"") ||
	    send_cmd(fd, "{\"execute\": \"qmp_capabilities\"}") ||
	    !(m = reply(fd)) || strncmp(m, "{\"return\"", 9)) {
		fprintf(stderr, "qmp: %s: no QMP handshake\n", argv[1]);
		return 3;
	}
	for (i = 2; i < argc; i++) {
		if (send_cmd(fd, argv[i]) || !(m = reply(fd))) {
			fprintf(stderr, "qmp: %s: no reply to %s\n", argv[1], argv[i]);
			return 3;
		}
		printf("%s\n", m);
		if (strncmp(m, "{\"return\"", 9))
			ret = 1;
	}
	return ret;
}
