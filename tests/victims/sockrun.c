// SPDX-License-Identifier: GPL-2.0
/*
 * sockrun KIND CMD [ARGS...] - run CMD with its stdout on one end of a
 * connected socket and read the other end here, as a harness or a service
 * manager gives a program a socket for its output. KIND is unix-stream,
 * unix-dgram, unix-seqpacket (a socketpair), tcp or udp (two sockets on
 * 127.0.0.1 connected to each other). What arrives goes to stdout: a byte
 * stream as it is; messages one line each, "LEN FIRST-WORDS" (the first
 * two words of the message, a message of "msg I ...." says "msg I"), so
 * that their boundaries show. Ends when CMD has ended and everything it
 * sent is read; exits with CMD's status (128 + signal when killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[1 << 18];

static void die(const char *what)
{
	perror(what);
	exit(100);
}

/* Two connected inet sockets of type on 127.0.0.1: s[0] ours, s[1] its. */
static void inet_pair(int type, int s[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in b = a;
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, type, 0);

	if (l < 0 || bind(l, (void *)&a, sizeof(a)) ||
	    getsockname(l, (void *)&a, &len))
		die("sockrun: socket");
	s[1] = socket(AF_INET, type, 0);
	if (s[1] < 0)
		die("sockrun: socket");
	if (type == SOCK_STREAM) {
		if (listen(l, 1) || connect(s[1], (void *)&a, sizeof(a)))
			die("sockrun: connect");
		s[0] = accept(l, NULL, NULL);
		if (s[0] < 0)
			die("sockrun: accept");
		close(l);
		return;
	}
	len = sizeof(b);
	if (bind(s[1], (void *)&b, sizeof(b)) ||
	    getsockname(s[1], (void *)&b, &len) ||
	    connect(s[1], (void *)&a, sizeof(a)) ||
	    connect(l, (void *)&b, sizeof(b)))
		die("sockrun: connect");
	s[0] = l;
}

int main(int argc, char **argv)
{
	int s[2], type, message, status = 0, done = 0;
	const char *kind;
	pid_t child;

	if (argc < 3) {
		fprintf(stderr, "usage: sockrun KIND CMD [ARGS...]\n");
		return 2;
	}
	kind = argv[1];
	type = strstr(kind, "dgram") || !strcmp(kind, "udp") ? SOCK_DGRAM :
	       strstr(kind, "seqpacket")		     ? SOCK_SEQPACKET :
							       SOCK_STREAM;
	message = type != SOCK_STREAM;
	if (!strncmp(kind, "unix-", 5)) {
		if (socketpair(AF_UNIX, type, 0, s))
			die("sockrun: socketpair");
	} else if (!strcmp(kind, "tcp") || !strcmp(kind, "udp")) {
		inet_pair(type, s);
	} else {
		fprintf(stderr, "sockrun: unknown kind %s\n", kind);
		return 2;
	}
	child = fork();
	if (child < 0)
		die("sockrun: fork");
	if (child == 0) {
		dup2(s[1], 1);
		close(s[0]);
		close(s[1]);
		execvp(argv[2], argv + 2);
		die("sockrun: exec");
	}
	close(s[1]);
	for (;;) {
		struct pollfd p = { .fd = s[0], .events = POLLIN };
		ssize_t n;

		/* a datagram socket has no end: stop once it ended and is quiet */
		if (poll(&p, 1, done ? 500 : 100) == 0) {
			if (done)
				break;
			if (waitpid(child, &status, WNOHANG) == child)
				done = 1;
			continue;
		}
		n = recv(s[0], buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("sockrun: recv");
		if (n == 0 && !message)
			break;
		if (n == 0 && (p.revents & POLLHUP)) {
			/* its end is closed: all that it sent is read */
			if (!done && waitpid(child, &status, 0) == child)
				done = 1;
			break;
		}
		if (message) {
			char w1[32] = "", w2[32] = "";

			buf[n < (ssize_t)sizeof(buf) ? n : n - 1] = '\0';
			sscanf(buf, "%31s %31s", w1, w2);
			printf("%zd %s %s\n", n, w1, w2);
		} else if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			die("sockrun: write");
		}
	}
	fflush(stdout);
	if (!done && waitpid(child, &status, 0) < 0)
		die("sockrun: wait");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
