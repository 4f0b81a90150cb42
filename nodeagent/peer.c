// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's own listener, on its configured address: other agents (node
 * to node image transfers, later) and tools connect here.  Every connection
 * must authenticate with the cluster key within `timeout`; for now an
 * authenticated peer may PING.
 */
#define LOG_PREFIX "peer"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define PEERS_MAX 64

static int listen_fd = -1;
static struct bp_conn *peers[PEERS_MAX];
static int nr_peers;

int peer_listen(struct agent *a)
{
	int fd = bp_listen(&a->listen_addr);

	if (fd < 0)
		return fd;
	listen_fd = fd;
	return 0;
}

void peer_close_listener(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}

int peer_fill_pollfds(struct pollfd *pfd, int max)
{
	int i, n = 0;

	if (listen_fd >= 0 && n < max) {
		pfd[n].fd = nr_peers < PEERS_MAX ? listen_fd : -1;
		pfd[n++].events = POLLIN;
	}
	for (i = 0; i < nr_peers && n < max; i++) {
		pfd[n].fd = peers[i]->fd;
		pfd[n++].events =
			POLLIN | (bp_conn_pending(peers[i]) ? POLLOUT : 0);
	}
	return n;
}

int64_t peer_deadline(unsigned int timeout_ms)
{
	int64_t d = INT64_MAX;
	int i;

	for (i = 0; i < nr_peers; i++)
		if (peers[i]->state != BP_CONN_READY &&
		    peers[i]->created_ms + timeout_ms + 1 < d)
			d = peers[i]->created_ms + timeout_ms + 1;
	return d;
}

static void peer_drop(int i)
{
	bp_conn_destroy(peers[i]);
	free(peers[i]);
	peers[i] = peers[--nr_peers];
}

static void peer_accept(struct agent *a)
{
	char desc[BP_ADDR_STRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct bp_conn *c;
	int fd;

	fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			pr_perror("accept");
		return;
	}
	bp_addr_format((struct sockaddr *)&ss, desc, sizeof(desc));
	bp_set_stream_opts(fd);
	c = malloc(sizeof(*c));
	if (!c || bp_conn_init(c, fd, false, BPROC_ROLE_PEER, a->name,
			       &a->cfg.key, desc)) {
		pr_err("out of memory for peer %s", desc);
		if (c)
			bp_conn_destroy(c);
		else
			close(fd);
		free(c);
		return;
	}
	c->created_ms = bp_now_ms();
	peers[nr_peers++] = c;
}

static int on_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		    const uint8_t *data, uint32_t len, void *arg)
{
	uint64_t cookie;

	(void)stream;
	(void)arg;
	switch (type) {
	case BPROC_MSG_AUTH:
		pr_debug("%s authenticated as %s", c->desc, c->peer_node);
		return 0;
	case BPROC_MSG_PING:
		if (bp_ping_decode(data, len, &cookie)) {
			pr_warn("%s: malformed PING", c->desc);
			return -EPROTO;
		}
		return bp_send_ping(c, BPROC_MSG_PONG, cookie);
	case BPROC_MSG_BYE:
		return -ECONNRESET;
	default:
		pr_warn("%s: %s not supported by this agent", c->desc,
			bp_msg_name(type));
		return -EPROTO;
	}
}

static struct bp_conn *peer_by_fd(int fd, int *idx)
{
	int i;

	for (i = 0; i < nr_peers; i++) {
		if (peers[i]->fd == fd) {
			*idx = i;
			return peers[i];
		}
	}
	return NULL;
}

void peer_run(struct agent *a, const struct pollfd *pfd, int n)
{
	int64_t now = bp_now_ms();
	int i, k = 0;

	if (listen_fd >= 0 && n > 0 && pfd[0].events == POLLIN &&
	    (pfd[0].fd == listen_fd || pfd[0].fd == -1)) {
		if (pfd[0].revents & POLLIN)
			peer_accept(a);
		k = 1;
	}
	for (; k < n; k++) {
		struct bp_conn *c = peer_by_fd(pfd[k].fd, &i);
		int err = 0;

		if (!c)
			continue;
		if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
			err = bp_conn_read(c, on_frame, a);
		if (!err)
			err = bp_conn_flush(c) < 0 ? -EPIPE : 0;
		if (err)
			peer_drop(i);
	}
	/* peers that did not authenticate in time */
	for (i = 0; i < nr_peers;) {
		if (peers[i]->state != BP_CONN_READY &&
		    now - peers[i]->created_ms > a->cfg.timeout_ms) {
			pr_warn("%s: no authentication within the timeout",
				peers[i]->desc);
			peer_drop(i);
			continue;
		}
		i++;
	}
}

void peer_close_all(void)
{
	while (nr_peers)
		peer_drop(nr_peers - 1);
	peer_close_listener();
}
