// SPDX-License-Identifier: GPL-2.0
/*
 * Socket helpers: numeric addresses only (a cluster's config names its
 * nodes by address, as BProc's did), non-blocking everywhere.
 */
#define LOG_PREFIX "net"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

static int parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (!*s || *s == '+' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

int bp_addr_parse(const char *s, int default_port, struct bp_addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s = NULL;
	int port = default_port;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -EINVAL;
		hlen = close - s - 1;
		if (close[1] == ':')
			port_s = close + 2;
		else if (close[1])
			return -EINVAL;
		s++;
	} else {
		const char *colon = strchr(s, ':');

		if (colon && strchr(colon + 1, ':')) {
			hlen = strlen(s); /* bare IPv6 address */
		} else {
			hlen = colon ? (size_t)(colon - s) : strlen(s);
			if (colon)
				port_s = colon + 1;
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port_s && parse_port(port_s, &port))
		return -EINVAL;

	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;

	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		a->len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		a->len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

void bp_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

bool bp_addr_same(const struct bp_addr *a, const struct bp_addr *b)
{
	return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
}

int bp_listen(const struct bp_addr *a)
{
	char desc[BP_ADDR_STRLEN];
	int one = 1;
	int fd, err;

	bp_addr_format((const struct sockaddr *)&a->ss, desc, sizeof(desc));
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = -errno;
		pr_perror("socket for %s", desc);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		err = -errno;
		pr_perror("bind %s", desc);
		goto out_close;
	}
	if (listen(fd, 4096) < 0) {
		err = -errno;
		pr_perror("listen %s", desc);
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return err;
}

int bp_connect_start(const struct bp_addr *a)
{
	int fd, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 &&
	    errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int bp_connect_result(int fd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

void bp_set_stream_opts(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

int64_t bp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bp_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
