// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's own listener, on its configured address: other agents
 * connect here to send a process that moves to this node (recv.c), first
 * asking which of its files this node has (FILES_QUERY, files.c), and
 * tools may connect to PING.  Every connection must authenticate with the
 * cluster key within `timeout`.  A connection carries one image at a time
 * (its transfers are numbered: proto.h); while the image has nowhere to go
 * (the restorer is slower than the network), the connection is not read,
 * so the sender slows down instead of this agent buffering the whole
 * image.
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

#define PEERS_MAX 1024

struct peer {
	struct peer *next;
	struct bp_conn c;
	struct inmove *im; /* the move this connection brings, if any */
	struct tree_serve *serve; /* a kept image it asked for (tree.c) */
	uint32_t transfer; /* the number of the last one it began */
	bool finishing; /* it is answered: the next one, or the source's end */
	int64_t finish_ms;
	bool dead;
};

static int listen_fd = -1;
static struct peer *peers;
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

struct bp_conn *peer_conn(struct peer *p)
{
	return &p->c;
}

void peer_finish(struct peer *p)
{
	p->im = NULL;
	p->finishing = true;
	p->finish_ms = bp_now_ms();
}

static void peer_close(struct peer *p)
{
	if (p->dead)
		return;
	if (p->im)
		recv_conn_lost(p->im);
	p->im = NULL;
	tree_serve_end(p->serve);
	p->serve = NULL;
	p->dead = true;
}

int64_t peer_deadline(unsigned int timeout_ms)
{
	int64_t d = INT64_MAX;
	struct peer *p;

	for (p = peers; p; p = p->next)
		if (p->c.state != BP_CONN_READY &&
		    p->c.created_ms + timeout_ms + 1 < d)
			d = p->c.created_ms + timeout_ms + 1;
	return d;
}

static void peer_accept(void *obj, short revents)
{
	char desc[BP_ADDR_STRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct peer *p;
	int fd;

	(void)obj;
	(void)revents;
	fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			pr_perror("accept");
		return;
	}
	bp_addr_format((struct sockaddr *)&ss, desc, sizeof(desc));
	bp_set_stream_opts(fd);
	p = calloc(1, sizeof(*p));
	if (!p || bp_conn_init(&p->c, fd, false, BPROC_ROLE_PEER, agent->name,
			       &agent->cfg.key, desc)) {
		pr_err("out of memory for peer %s", desc);
		if (p)
			bp_conn_destroy(&p->c);
		else
			close(fd);
		free(p);
		return;
	}
	p->c.created_ms = bp_now_ms();
	p->next = peers;
	peers = p;
	nr_peers++;
}

static int on_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		    const uint8_t *data, uint32_t len, void *arg)
{
	struct peer *p = arg;

	switch (type) {
	case BPROC_MSG_AUTH:
		pr_debug("%s authenticated as %s", c->desc, c->peer_node);
		return 0;
	case BPROC_MSG_PING:
		return bp_answer_ping(c, data, len);
	case BPROC_MSG_PONG:
		return 0;
	case BPROC_MSG_BYE:
		return -ECONNRESET;
	case BPROC_MSG_FILES_QUERY:
		/* about the transfer to come, asked while none is under way */
		if (stream <= p->transfer || (p->im && !p->finishing)) {
			pr_warn("%s: FILES_QUERY %u out of place", c->desc,
				stream);
			return -EPROTO;
		}
		return files_answer(c, stream, data, len);
	case BPROC_MSG_IMAGE_FETCH:
		if (stream > p->transfer && !p->serve &&
		    (!p->im || p->finishing)) {
			/* a node asks for an image kept here */
			p->transfer = stream;
			p->im = NULL;
			p->finishing = false;
			return tree_serve_start(c, stream, data, len,
						&p->serve);
		}
		/* else where a move's image comes from */
		/* fall through */
	case BPROC_MSG_IMAGE_KEEP:
	case BPROC_MSG_IMAGE_BEGIN:
	case BPROC_MSG_IMAGE_STREAMS:
	case BPROC_MSG_IMAGE_DATA:
	case BPROC_MSG_IMAGE_END:
		if (type == BPROC_MSG_IMAGE_BEGIN) {
			/* the next transfer, once the last one is answered */
			if (stream <= p->transfer || (p->im && !p->finishing)) {
				pr_warn("%s: transfer %u out of place", c->desc,
					stream);
				return -EPROTO;
			}
			p->transfer = stream;
			p->finishing = false;
		} else if (stream != p->transfer) {
			if (stream < p->transfer)
				return 0; /* what still comes of an older one */
			pr_warn("%s: %s of transfer %u out of place", c->desc,
				bp_msg_name(type), stream);
			return -EPROTO;
		} else if (p->finishing) {
			return 0; /* the rest of one that is answered */
		}
		return recv_frame(p, &p->im, type, stream, data, len);
	default:
		pr_warn("%s: %s not supported by this agent", c->desc,
			bp_msg_name(type));
		return -EPROTO;
	}
}

static void peer_polled(void *obj, short revents)
{
	struct peer *p = obj;
	int err = 0;

	if (p->dead)
		return;
	if (revents & (POLLIN | POLLHUP | POLLERR))
		err = bp_conn_read(&p->c, on_frame, p);
	if (!err && !p->dead)
		err = bp_conn_flush(&p->c) < 0 ? -EPIPE : 0;
	if (err) {
		if (err != -ECONNRESET || p->im)
			pr_debug("%s: closed: %s", p->c.desc, strerror(-err));
		peer_close(p);
	}
}

void peer_watch(void)
{
	int64_t now = bp_now_ms();
	struct peer *p;

	if (listen_fd >= 0 && nr_peers < PEERS_MAX)
		loop_add(listen_fd, POLLIN, peer_accept, NULL);
	for (p = peers; p; p = p->next) {
		short ev = bp_conn_pending(&p->c) ? POLLOUT : 0;

		if (p->dead)
			continue;
		if (p->c.state != BP_CONN_READY &&
		    now - p->c.created_ms > agent->cfg.timeout_ms) {
			pr_warn("%s: no authentication within the timeout",
				p->c.desc);
			peer_close(p);
			continue;
		}
		/* the source may send another; or it closes; or it is gone */
		if (p->finishing && now - p->finish_ms > BPROC_PEER_LINGER_MS) {
			peer_close(p);
			continue;
		}
		if (p->finishing)
			loop_wake_at(p->finish_ms + BPROC_PEER_LINGER_MS + 1);
		if (p->serve && tree_serve_more(p->serve, &p->c)) {
			/* all of it is queued: the node closes once it has it */
			tree_serve_end(p->serve);
			p->serve = NULL;
			peer_finish(p);
		}
		if (bp_conn_pending(&p->c))
			ev = POLLOUT;
		if (!p->im || recv_wants_data(p->im))
			ev |= POLLIN;
		if (ev)
			loop_add(p->c.fd, ev, peer_polled, p);
	}
}

void peer_reap(void)
{
	struct peer **pp = &peers;

	while (*pp) {
		struct peer *p = *pp;

		if (!p->dead) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		bp_conn_destroy(&p->c);
		free(p);
		nr_peers--;
	}
}

void peer_close_all(void)
{
	struct peer *p;

	for (p = peers; p; p = p->next)
		peer_close(p);
	peer_reap();
	peer_close_listener();
}
