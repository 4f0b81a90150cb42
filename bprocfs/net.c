// SPDX-License-Identifier: GPL-2.0
/*
 * The master's network thread: one epoll loop over the agents' listener,
 * every connection (non-blocking, with its own buffers in struct bp_conn),
 * a timerfd that checks for silent nodes and stalled handshakes, and an
 * eventfd through which SIGHUP (reload) and shutdown reach it.
 *
 * A connection that sends anything malformed or fails authentication is
 * closed alone; a node whose agent has been silent for `timeout` is marked
 * down and its connection closed, so a stopped agent goes down as surely as
 * a killed one.
 */
#define LOG_PREFIX "net"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "bprocfs.h"

#define EVENTS_PER_WAIT 256
#define PENDING_MAX 4096 /* connections still in the handshake */
#define SILENT_BATCH 256
#define COALESCE_NS (20 * 1000 * 1000)

enum { WAKE_RELOAD = 1, WAKE_STOP = 2, WAKE_ORDERS = 4 };

struct net_conn {
	struct bp_conn c;
	int slot; /* node slot once joined, else -1 */
	bool want_out;
	bool closing; /* queued for close in this round */
	int64_t acked_ms; /* when a STATUS was last acknowledged */
	struct net_conn *prev, *next;
};

static struct {
	struct bp_config cfg; /* the config being served */
	int epfd, listen_fd, timer_fd, wake_fd;
	pthread_t thread;
	bool running;
	int wake_bits; /* atomic: set by other threads and SIGHUP */
	struct net_conn *conns; /* all connections */
	struct net_conn *dead; /* closed this round, freed after it */
	size_t nr_pending;
	unsigned int tick_ms;
	bool urgent; /* this round carried moves or the traffic of one */
} net = { .epfd = -1, .listen_fd = -1, .timer_fd = -1, .wake_fd = -1 };

/* Tags for epoll data of the fixed fds; connections use their pointer. */
static int tag_listen, tag_timer, tag_wake;

static unsigned int tick_for(const struct bp_config *cfg)
{
	unsigned int t = cfg->heartbeat_ms < cfg->timeout_ms ?
				 cfg->heartbeat_ms :
				 cfg->timeout_ms;

	t /= 4;
	if (t < 10)
		t = 10;
	if (t > 250)
		t = 250;
	return t;
}

static int arm_timer(unsigned int ms)
{
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000L },
		.it_value = { ms / 1000, (ms % 1000) * 1000000L },
	};

	net.tick_ms = ms;
	return timerfd_settime(net.timer_fd, 0, &its, NULL);
}

int net_init(const struct bp_config *cfg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	net.cfg = *cfg;
	net.cfg.nodes = NULL;
	net.cfg.nr_nodes = 0;
	net.cfg.path = strdup(cfg->path);
	net.cfg.state_path = NULL;
	net.listen_fd = bp_listen(&cfg->master);
	if (net.listen_fd < 0)
		return net.listen_fd;
	net.epfd = epoll_create1(EPOLL_CLOEXEC);
	net.timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	net.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (net.epfd < 0 || net.timer_fd < 0 || net.wake_fd < 0) {
		err = -errno;
		pr_perror("epoll, timerfd or eventfd");
		return err;
	}
	ev.data.ptr = &tag_listen;
	epoll_ctl(net.epfd, EPOLL_CTL_ADD, net.listen_fd, &ev);
	ev.data.ptr = &tag_timer;
	epoll_ctl(net.epfd, EPOLL_CTL_ADD, net.timer_fd, &ev);
	ev.data.ptr = &tag_wake;
	epoll_ctl(net.epfd, EPOLL_CTL_ADD, net.wake_fd, &ev);
	if (arm_timer(tick_for(cfg)) < 0) {
		err = -errno;
		pr_perror("timerfd_settime");
		return err;
	}
	return 0;
}

static void conn_update_events(struct net_conn *nc)
{
	bool want = bp_conn_pending(&nc->c);
	struct epoll_event ev;

	if (want == nc->want_out)
		return;
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = nc;
	epoll_ctl(net.epfd, EPOLL_CTL_MOD, nc->c.fd, &ev);
	nc->want_out = want;
}

/*
 * Close nc; if it belonged to a node, the node goes down for reason, and
 * the moves and processes that depended on its agent with it.
 */
static void conn_close(struct net_conn *nc, const char *reason)
{
	if (nc->closing)
		return;
	if (nc->c.state != BP_CONN_READY)
		net.nr_pending--;
	if (nc->slot >= 0 && table_lost(nc->slot, nc, reason))
		route_node_lost(nc->slot, NULL, reason);
	epoll_ctl(net.epfd, EPOLL_CTL_DEL, nc->c.fd, NULL);
	if (nc->prev)
		nc->prev->next = nc->next;
	else
		net.conns = nc->next;
	if (nc->next)
		nc->next->prev = nc->prev;
	bp_conn_destroy(&nc->c);
	/* later events of this round may still point at it */
	nc->closing = true;
	nc->next = net.dead;
	net.dead = nc;
}

static void free_dead(void)
{
	while (net.dead) {
		struct net_conn *nc = net.dead;

		net.dead = nc->next;
		free(nc);
	}
}

/* Say why, try once to send it, then close. */
static void conn_bye(struct net_conn *nc, uint32_t reason, const char *text,
		     const char *why)
{
	if (nc->closing)
		return;
	if (nc->c.state == BP_CONN_READY && !bp_send_bye(&nc->c, reason, text))
		bp_conn_flush(&nc->c);
	conn_close(nc, why);
}

static void accept_all(void)
{
	int i;

	for (i = 0; i < 64; i++) {
		char desc[BP_ADDR_STRLEN];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct epoll_event ev;
		struct net_conn *nc;
		int fd;

		fd = accept4(net.listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				pr_warn("accept: %m (raise the fd limit)");
			else if (errno != EAGAIN && errno != EINTR &&
				 errno != ECONNABORTED)
				pr_perror("accept");
			return;
		}
		if (net.nr_pending >= PENDING_MAX) {
			close(fd);
			continue;
		}
		bp_addr_format((struct sockaddr *)&ss, desc, sizeof(desc));
		bp_set_stream_opts(fd);
		nc = calloc(1, sizeof(*nc));
		if (!nc || bp_conn_init(&nc->c, fd, false, BPROC_ROLE_MASTER,
					"bprocfs", &net.cfg.key, desc)) {
			pr_err("out of memory for %s", desc);
			if (nc)
				bp_conn_destroy(&nc->c);
			else
				close(fd);
			free(nc);
			continue;
		}
		nc->slot = -1;
		nc->c.created_ms = bp_now_ms();
		ev.events = EPOLLIN;
		ev.data.ptr = nc;
		if (epoll_ctl(net.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			pr_perror("epoll_ctl");
			bp_conn_destroy(&nc->c);
			free(nc);
			continue;
		}
		nc->next = net.conns;
		if (net.conns)
			net.conns->prev = nc;
		net.conns = nc;
		net.nr_pending++;
	}
}

static int on_joined(struct net_conn *nc)
{
	struct net_conn *old;
	bool unknown;
	int slot;

	net.nr_pending--;
	if (nc->c.peer_role == BPROC_ROLE_PEER)
		return 0; /* a tool: may ping, is no node */
	if (nc->c.peer_role != BPROC_ROLE_AGENT) {
		pr_warn("%s: not an agent (role %u)", nc->c.desc,
			nc->c.peer_role);
		return -EPROTO;
	}
	old = table_joined(nc->c.peer_node, nc, &slot, &unknown);
	if (unknown) {
		pr_warn("%s: %s is not in the config", nc->c.desc,
			nc->c.peer_node);
		bp_send_bye(&nc->c, BPROC_BYE_UNKNOWN_NODE,
			    "node not in the master's config");
		bp_conn_flush(&nc->c);
		return -ENOENT;
	}
	nc->slot = slot;
	route_joined(slot);
	if (old) {
		/* the node's earlier connection lost to the new one */
		old->slot = -1;
		conn_bye(old, BPROC_BYE_REPLACED,
			 "replaced by a new connection", NULL);
	}
	return 0;
}

static int on_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		    const uint8_t *data, uint32_t len, void *arg)
{
	struct net_conn *nc = arg;
	struct bp_status st;
	int64_t now;
	uint32_t reason;
	uint64_t cookie;
	char text[56];

	(void)c;
	if (stream) {
		pr_warn("%s: %s on stream %u", nc->c.desc, bp_msg_name(type),
			stream);
		return -EPROTO;
	}
	switch (type) {
	case BPROC_MSG_AUTH:
		return on_joined(nc);
	case BPROC_MSG_STATUS:
		if (nc->slot < 0) {
			pr_warn("%s: STATUS from a peer that is no agent",
				nc->c.desc);
			return -EPROTO;
		}
		if (bp_status_decode(data, len, &st)) {
			pr_warn("%s: malformed STATUS", nc->c.desc);
			return -EPROTO;
		}
		table_status(nc->slot, nc, &st);
		if (nc->slot == 0)
			route_front_end_back();
		/*
		 * The agent only needs to hear from the master within three
		 * times the timeout (a dead master closes the socket; this is
		 * for a hung one): one acknowledgement per timeout is enough,
		 * and each one wakes the agent, which the master pays for.
		 */
		now = bp_now_ms();
		if (now - nc->acked_ms < net.cfg.timeout_ms)
			return 0;
		nc->acked_ms = now;
		return bp_send_ping(&nc->c, BPROC_MSG_STATUS_ACK, nc->c.seq_rx);
	case BPROC_MSG_PING:
		return bp_answer_ping(&nc->c, data, len);
	case BPROC_MSG_PONG:
		return bp_ping_decode(data, len, &cookie);
	case BPROC_MSG_BYE:
		if (bp_bye_decode(data, len, &reason, text))
			return -EPROTO;
		pr_info("%s (%s) leaves: %s", nc->c.desc, nc->c.peer_node,
			text);
		return -ESHUTDOWN;
	case BPROC_MSG_MOVE_ARMED:
	case BPROC_MSG_MOVE_RESULT:
	case BPROC_MSG_PROC_REPORT:
	case BPROC_MSG_SIGNAL:
	case BPROC_MSG_IO_DATA:
	case BPROC_MSG_IO_EOF:
	case BPROC_MSG_IO_MARK:
	case BPROC_MSG_IO_ACK:
	case BPROC_MSG_EXIT:
	case BPROC_MSG_PROC_FORK:
	case BPROC_MSG_PROC_GHOST:
	case BPROC_MSG_PROC_REAPED:
	case BPROC_MSG_PROC_EXEC:
	case BPROC_MSG_STREAM_OWNER:
	case BPROC_MSG_PROC_PGRP:
	case BPROC_MSG_PROC_SESSION:
	case BPROC_MSG_PROC_THREAD:
	case BPROC_MSG_PROC_THREAD_END:
		if (nc->slot < 0) {
			pr_warn("%s: %s from a peer that is no agent",
				nc->c.desc, bp_msg_name(type));
			return -EPROTO;
		}
		/* reports come with heartbeats: they can wait as those do */
		if (type != BPROC_MSG_PROC_REPORT)
			net.urgent = true;
		return route_frame(nc->slot, type, data, len);
	default:
		pr_warn("%s: %s not expected by the master", nc->c.desc,
			bp_msg_name(type));
		return -EPROTO;
	}
}

static void conn_event(struct net_conn *nc, uint32_t events)
{
	int err = 0;

	if (nc->closing)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		err = bp_conn_read(&nc->c, on_frame, nc);
	if (!err && bp_conn_pending(&nc->c)) {
		int r = bp_conn_flush(&nc->c);

		if (r < 0)
			err = r;
		else if (r > 0 &&
			 nc->c.wlen - nc->c.woff > BP_CONN_WBUF_MAX / 2)
			err = -ENOBUFS;
	}
	switch (err) {
	case 0:
		conn_update_events(nc);
		return;
	case -ECONNRESET:
		conn_close(nc, "connection closed");
		return;
	case -ESHUTDOWN:
		conn_close(nc, "agent stopped");
		return;
	case -EPROTO:
		conn_close(nc, "protocol error");
		return;
	case -EACCES:
		conn_close(nc, "authentication failed");
		return;
	default:
		conn_close(nc, strerror(-err));
		return;
	}
}

static void tick(void)
{
	void *silent[SILENT_BATCH];
	int slots[SILENT_BATCH];
	int64_t now = bp_now_ms();
	struct net_conn *nc, *next;
	uint64_t expirations;
	char why[64];
	size_t i, n;

	if (read(net.timer_fd, &expirations, sizeof(expirations)) < 0) {
		/* spurious wake-up */
	}
	for (nc = net.conns; nc; nc = next) {
		next = nc->next;
		if (nc->c.state != BP_CONN_READY &&
		    now - nc->c.created_ms > net.cfg.timeout_ms) {
			pr_warn("%s: no authentication within the timeout",
				nc->c.desc);
			conn_close(nc, NULL);
		}
	}
	do {
		n = table_silent(now, silent, slots, SILENT_BATCH);
		for (i = 0; i < n; i++) {
			nc = silent[i];
			snprintf(why, sizeof(why), "silent for %.1f s",
				 net.cfg.timeout_ms / 1000.0);
			pr_warn("%s (%s): %s", nc->c.desc, nc->c.peer_node,
				why);
			conn_close(nc, why);
		}
	} while (n == SILENT_BATCH);
}

struct drop_list {
	struct net_conn **v;
	size_t n, cap;
};

static void drop_conn(void *conn, void *arg)
{
	struct drop_list *d = arg;
	struct net_conn **v;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		v = realloc(d->v, d->cap * sizeof(*v));
		if (!v)
			return; /* it stays open until it goes silent */
		d->v = v;
	}
	d->v[d->n++] = conn;
}

static void reload(void)
{
	struct drop_list d = { 0 };
	struct bp_config cfg;
	char err[512];
	size_t i;

	pr_info("reloading %s", net.cfg.path);
	if (bp_config_load(net.cfg.path, &cfg, err, sizeof(err))) {
		pr_err("%s; keeping the previous configuration", err);
		return;
	}
	if (!bp_addr_same(&cfg.master, &net.cfg.master))
		pr_warn("the master address changes only on restart");
	table_reconfigure(&cfg, drop_conn, &d);
	for (i = 0; i < d.n; i++) {
		char name[BPROC_NODE_NAME_MAX];
		int slot = d.v[i]->slot;

		snprintf(name, sizeof(name), "%s", d.v[i]->c.peer_node);
		d.v[i]->slot = -1; /* already marked down */
		conn_bye(d.v[i], BPROC_BYE_REMOVED,
			 "node removed from the config", NULL);
		route_node_lost(slot, name, "removed from the config");
	}
	free(d.v);
	net.cfg.heartbeat_ms = cfg.heartbeat_ms;
	net.cfg.timeout_ms = cfg.timeout_ms;
	net.cfg.key = cfg.key;
	if (tick_for(&cfg) != net.tick_ms)
		arm_timer(tick_for(&cfg));
	bp_config_free(&cfg);
	/* the kernel may have cached names that are gone */
	fuse_lowlevel_notify_inval_inode(bprocfs_session, INO_ROOT, 0, 0);
}

static void *net_thread(void *arg)
{
	struct epoll_event evs[EVENTS_PER_WAIT];

	(void)arg;
	for (;;) {
		int i, n;

		n = epoll_wait(net.epfd, evs, EVENTS_PER_WAIT, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("epoll_wait");
			break;
		}
		net.urgent = false;
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tag_listen) {
				accept_all();
			} else if (p == &tag_timer) {
				tick();
			} else if (p == &tag_wake) {
				uint64_t v;

				if (read(net.wake_fd, &v, sizeof(v)) < 0) {
					/* nothing to read */
				}
				if (__atomic_load_n(&net.wake_bits,
						    __ATOMIC_SEQ_CST) &
				    WAKE_STOP)
					goto out;
				if (__atomic_fetch_and(&net.wake_bits,
						       ~WAKE_RELOAD,
						       __ATOMIC_SEQ_CST) &
				    WAKE_RELOAD)
					reload();
				if (__atomic_fetch_and(&net.wake_bits,
						       ~WAKE_ORDERS,
						       __ATOMIC_SEQ_CST) &
				    WAKE_ORDERS) {
					route_send_orders();
					net.urgent = true;
				}
			} else {
				conn_event(p, evs[i].events);
			}
		}
		free_dead();
		/*
		 * Coalesce: with a thousand agents heartbeating, waking for
		 * each one costs more than the work.  Letting events gather
		 * for a moment after a small batch bounds the wake-ups; it
		 * delays noticing anything by at most COALESCE_NS.  Never
		 * after a round with moves in it: a move's every step, its
		 * signals and its IO would wait that long.
		 */
		if (n < EVENTS_PER_WAIT / 4 && !net.urgent) {
			struct timespec ts = { 0, COALESCE_NS };

			nanosleep(&ts, NULL);
		}
	}
out:
	route_shutdown();
	while (net.conns) {
		net.conns->slot = -1;
		conn_bye(net.conns, BPROC_BYE_SHUTDOWN, "master stopping",
			 NULL);
	}
	free_dead();
	return NULL;
}

int net_start(void)
{
	sigset_t set, old;
	int err;

	/* signals are for the FUSE thread */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	err = pthread_create(&net.thread, NULL, net_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("pthread_create: %s", strerror(err));
		return -err;
	}
	net.running = true;
	return 0;
}

static void wake(int bit)
{
	uint64_t one = 1;

	__atomic_fetch_or(&net.wake_bits, bit, __ATOMIC_SEQ_CST);
	if (write(net.wake_fd, &one, sizeof(one)) < 0) {
		/* counter full: a wake-up is pending anyway */
	}
}

void net_request_reload(void)
{
	wake(WAKE_RELOAD);
}

void net_wake_orders(void)
{
	wake(WAKE_ORDERS);
}

struct bp_conn *net_slot_conn(int slot)
{
	struct net_conn *nc = NULL;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(slot);
	if (n)
		nc = n->conn;
	pthread_mutex_unlock(&table_lock);
	return nc && !nc->closing ? &nc->c : NULL;
}

/*
 * Write out right away what was queued on a connection, which may not be
 * the one being read.  A failure is not handled here (the caller may be in
 * the middle of routing): epoll reports the broken socket as an error
 * event, and conn_event closes it then.
 */
void net_conn_sent(struct bp_conn *c)
{
	struct net_conn *nc =
		(struct net_conn *)((char *)c - offsetof(struct net_conn, c));

	if (nc->closing)
		return;
	bp_conn_flush(c);
	conn_update_events(nc);
}

void net_stop(void)
{
	if (net.running) {
		wake(WAKE_STOP);
		pthread_join(net.thread, NULL);
		net.running = false;
	}
	if (net.listen_fd >= 0)
		close(net.listen_fd);
	if (net.epfd >= 0)
		close(net.epfd);
	if (net.timer_fd >= 0)
		close(net.timer_fd);
	if (net.wake_fd >= 0)
		close(net.wake_fd);
	net.listen_fd = net.epfd = net.timer_fd = net.wake_fd = -1;
	free(net.cfg.path);
	net.cfg.path = NULL;
}
