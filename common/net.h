/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small socket helpers shared by the daemons: numeric address parsing and
 * formatting, non-blocking listeners and connects, monotonic time.
 */
#ifndef BPROC_NET_H
#define BPROC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BP_ADDR_STRLEN 64

struct bp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * bp_addr_parse - parse a numeric "A.B.C.D[:port]", "[v6addr][:port]" or
 * bare IPv6 address; default_port is used when none is given.
 * Returns 0 or -EINVAL.
 */
int bp_addr_parse(const char *s, int default_port, struct bp_addr *a);

/* bp_addr_format - "A.B.C.D:port" or "[v6]:port" into buf. */
void bp_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* bp_addr_same - whether two addresses have the same family, IP and port. */
bool bp_addr_same(const struct bp_addr *a, const struct bp_addr *b);

/*
 * bp_listen - a non-blocking, close-on-exec TCP listener bound to a.
 * Returns the fd or -errno (logged).
 */
int bp_listen(const struct bp_addr *a);

/*
 * bp_connect_start - begin a non-blocking TCP connect to a; the fd becomes
 * writable when the connect is done (check it with bp_connect_result).
 * Returns the fd or -errno.
 */
int bp_connect_start(const struct bp_addr *a);

/* bp_connect_result - 0 once connected, or the connect's -errno. */
int bp_connect_result(int fd);

/* bp_set_stream_opts - TCP_NODELAY and keepalive on a connected socket. */
void bp_set_stream_opts(int fd);

/* bp_now_ms - CLOCK_MONOTONIC in milliseconds. */
int64_t bp_now_ms(void);

/* bp_wall_ms - CLOCK_REALTIME in milliseconds. */
int64_t bp_wall_ms(void);

#endif /* BPROC_NET_H */
