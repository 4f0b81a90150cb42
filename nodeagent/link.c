// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's link to the master.  States: idle (waiting to retry),
 * connecting, handshake, ready.  Once ready the agent sends STATUS at once
 * (that is what turns the node "up") and then every heartbeat; the master
 * acknowledges one per timeout, so an agent whose master has gone silent
 * for three times the timeout drops the link and reconnects.
 * Retries back off from 100 ms to 5 s with jitter so a restarted master is
 * not hit by every node at once.
 *
 * The link also carries the moves the master orders (send.c) and the
 * signals, IO and exits of moved processes, which it hands to hosted.c on
 * a node and to ghost.c on the front end.  A node reports its moved
 * processes with every heartbeat.
 */
#define LOG_PREFIX "link"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/log.h"
#include "../common/net.h"
#include "../common/procmsg.h"
#include "agent.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* IO queued for the master beyond which readers wait */
#define LINK_IO_ROOM (4u << 20)

enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_HANDSHAKE, LINK_READY };

static struct {
	enum link_state state;
	struct bp_conn conn;
	int fd;
	int64_t next_ms; /* idle: when to retry; ready: next heartbeat */
	int64_t last_rx_ms; /* last frame from the master */
	int64_t started_ms; /* connect or handshake start */
	unsigned int backoff_ms;
	bool warned; /* a failure was logged for this outage */
	unsigned int timeout_ms;
	short revents; /* of this round */
} ml = { .fd = -1 };

void link_init(struct agent *a)
{
	ml.timeout_ms = a->cfg.timeout_ms;
	ml.state = LINK_IDLE;
	ml.next_ms = bp_now_ms();
	ml.backoff_ms = BACKOFF_MIN_MS;
}

static void link_close(struct agent *a, const char *why)
{
	unsigned int jitter;

	if (why && !ml.warned) {
		pr_warn("master %s: %s; reconnecting", a->cfg.master_str, why);
		ml.warned = true;
	}
	if (ml.state == LINK_HANDSHAKE || ml.state == LINK_READY)
		bp_conn_destroy(&ml.conn);
	else if (ml.fd >= 0)
		close(ml.fd);
	ml.fd = -1;
	ml.state = LINK_IDLE;
	jitter = randombytes_uniform(ml.backoff_ms / 2 + 1);
	ml.next_ms = bp_now_ms() + ml.backoff_ms / 2 + jitter;
	ml.backoff_ms *= 2;
	if (ml.backoff_ms > BACKOFF_MAX_MS)
		ml.backoff_ms = BACKOFF_MAX_MS;
}

static void link_polled(void *obj, short revents)
{
	(void)obj;
	ml.revents = revents;
}

void link_flush(void)
{
	if (ml.state == LINK_READY && bp_conn_pending(&ml.conn) &&
	    bp_conn_flush(&ml.conn) < 0)
		pr_debug("master link: write failed; the read will tell");
}

void link_watch(void)
{
	ml.revents = 0;
	switch (ml.state) {
	case LINK_CONNECTING:
		loop_add(ml.fd, POLLOUT, link_polled, NULL);
		break;
	case LINK_READY:
		link_flush();
		/* fall through */
	case LINK_HANDSHAKE:
		loop_add(ml.conn.fd,
			 POLLIN | (bp_conn_pending(&ml.conn) ? POLLOUT : 0),
			 link_polled, NULL);
		break;
	default:
		break;
	}
}

struct bp_conn *link_conn(void)
{
	return ml.state == LINK_READY ? &ml.conn : NULL;
}

bool link_room(void)
{
	return ml.state == LINK_READY &&
	       ml.conn.wlen - ml.conn.woff < LINK_IO_ROOM;
}

#define LINK_FLUSH_AT (64u << 10)

void link_sent(int err, const char *what)
{
	if (ml.state != LINK_READY)
		return;
	if (err)
		pr_warn("%s not sent to the master: %s", what, strerror(-err));
	/*
	 * Sent before the next poll (link_watch), together with everything
	 * else of this round: a burst of forks and exits on a node is a few
	 * writes, not one each.  A full buffer goes now.
	 */
	if (ml.conn.wlen - ml.conn.woff < LINK_FLUSH_AT)
		return;
	if (bp_conn_flush(&ml.conn) < 0)
		pr_debug("master link: write failed; the read will tell");
}

int64_t link_deadline(void)
{
	int64_t silent;

	switch (ml.state) {
	case LINK_CONNECTING:
		return ml.started_ms + ml.timeout_ms + 1;
	case LINK_HANDSHAKE:
		return ml.last_rx_ms + ml.timeout_ms + 1;
	case LINK_READY:
		silent = ml.last_rx_ms + 3 * ml.timeout_ms + 1;
		return silent < ml.next_ms ? silent : ml.next_ms;
	default:
		return ml.next_ms;
	}
}

static int send_status(struct agent *a)
{
	uint8_t b[sizeof(struct bproc_msg_status)];
	struct bp_status s;

	report_collect(a, &s);
	bp_status_encode(&s, b);
	if (!a->front)
		hosted_report(&ml.conn);
	return bp_conn_send(&ml.conn, BPROC_MSG_STATUS, 0, b, sizeof(b));
}

/* A move, or the traffic of a moved process, from the master. */
static int on_process_frame(struct agent *a, unsigned int type,
			    const uint8_t *data, uint32_t len)
{
	const uint8_t *bytes;
	struct bp_move_order o;
	struct bp_proc_fork f;
	struct bp_proc_exec x;
	struct bp_exit e;
	unsigned int fd, flags;
	uint32_t pid, tid, v, n;
	uint64_t id;

	switch (type) {
	case BPROC_MSG_MOVE_ORDER:
		if (bp_move_order_decode(data, len, &o))
			return -EPROTO;
		send_order(&o);
		return 0;
	case BPROC_MSG_SIGNAL:
		if (bp_signal_decode(data, len, &pid, &tid, &v))
			return -EPROTO;
		if (!a->front)
			hosted_signal((pid_t)pid, (pid_t)tid, v);
		return 0;
	case BPROC_MSG_IO_DATA:
	case BPROC_MSG_IO_EOF:
		if (bp_io_decode(type, data, len, &pid, &fd, &flags, &bytes,
				 &n))
			return -EPROTO;
		if (a->front)
			ghost_output((pid_t)pid, type, fd, bytes, n);
		else
			hosted_io((pid_t)pid, type, fd, flags, bytes, n);
		return 0;
	case BPROC_MSG_IO_ACK:
		if (bp_io_ack_decode(data, len, &pid, &fd, &v))
			return -EPROTO;
		if (a->front && fd == 0)
			ghost_ack((pid_t)pid, v);
		else if (!a->front && fd != 0)
			hosted_ack((pid_t)pid, fd, v);
		return 0;
	case BPROC_MSG_IO_MARK:
		if (bp_io_mark_decode(data, len, &pid, &id, &v))
			return -EPROTO;
		if (a->front)
			ghost_mark((pid_t)pid, id, v);
		return 0;
	case BPROC_MSG_EXIT:
		if (bp_exit_decode(data, len, &e))
			return -EPROTO;
		if (a->front)
			ghost_exit(&e);
		else
			hosted_proxy_exit(&e);
		return 0;
	case BPROC_MSG_PID_RANGE:
		if (bp_pid_range_decode(data, len, &pid, &v))
			return -EPROTO;
		if (!a->front)
			space_set_range(pid, v);
		return 0;
	case BPROC_MSG_PROC_FORK:
		if (bp_proc_fork_decode(data, len, &f))
			return -EPROTO;
		if (a->front)
			ghost_fork(&f);
		return 0;
	case BPROC_MSG_PROC_EXEC:
		if (bp_proc_exec_decode(data, len, &x))
			return -EPROTO;
		if (a->front)
			ghost_name(&x);
		return 0;
	case BPROC_MSG_PROC_REAPED:
	case BPROC_MSG_STREAM_OWNER:
	case BPROC_MSG_PROC_PGRP:
	case BPROC_MSG_PROC_SESSION:
	case BPROC_MSG_PROC_THREAD:
	case BPROC_MSG_PROC_THREAD_END:
	case BPROC_MSG_PROC_PARENT:
		if (bp_pid_pair_decode(type, data, len, &pid, &v))
			return -EPROTO;
		if (type == BPROC_MSG_PROC_PARENT) {
			if (!a->front)
				hosted_parent((pid_t)pid, (pid_t)v);
			return 0;
		}
		if (a->front && type == BPROC_MSG_PROC_REAPED)
			ghost_reaped((pid_t)pid);
		else if (a->front && (type == BPROC_MSG_PROC_THREAD ||
				      type == BPROC_MSG_PROC_THREAD_END))
			ghost_thread_away((pid_t)pid, (pid_t)v,
					  type == BPROC_MSG_PROC_THREAD);
		else if (a->front && type == BPROC_MSG_STREAM_OWNER)
			ghost_stream_owner((pid_t)pid, (pid_t)v);
		else if (a->front)
			ghost_pgrp((pid_t)pid, (pid_t)v,
				   type == BPROC_MSG_PROC_SESSION);
		return 0;
	default:
		return 1;
	}
}

static int on_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		    const uint8_t *data, uint32_t len, void *arg)
{
	struct agent *a = arg;
	char text[56];
	uint32_t reason;
	uint64_t cookie;
	int err;

	(void)stream;
	ml.last_rx_ms = bp_now_ms();
	switch (type) {
	case BPROC_MSG_AUTH:
		if (c->peer_role != BPROC_ROLE_MASTER) {
			pr_warn("%s: peer is not a master", c->desc);
			return -EPROTO;
		}
		pr_info("joined master %s as %s", c->desc, a->name);
		ml.state = LINK_READY;
		ml.warned = false;
		ml.backoff_ms = BACKOFF_MIN_MS;
		ml.next_ms = ml.last_rx_ms + a->cfg.heartbeat_ms;
		return send_status(a);
	case BPROC_MSG_STATUS_ACK:
		return bp_ping_decode(data, len, &cookie);
	case BPROC_MSG_PING:
		return bp_answer_ping(c, data, len);
	case BPROC_MSG_BYE:
		if (bp_bye_decode(data, len, &reason, text))
			return -EPROTO;
		if (reason == BPROC_BYE_SHUTDOWN)
			pr_info("master %s closed the link: %s", c->desc, text);
		else
			pr_warn("master %s closed the link: %s", c->desc, text);
		if (reason == BPROC_BYE_UNKNOWN_NODE ||
		    reason == BPROC_BYE_REMOVED)
			ml.backoff_ms = BACKOFF_MAX_MS;
		ml.warned = true;
		return -ECONNRESET;
	default:
		err = on_process_frame(a, type, data, len);
		if (err < 0)
			pr_warn("%s: malformed %s", c->desc, bp_msg_name(type));
		if (err <= 0)
			return err;
		pr_warn("%s: %s not supported by this agent", c->desc,
			bp_msg_name(type));
		return -EPROTO;
	}
}

static void start_connect(struct agent *a)
{
	int fd = bp_connect_start(&a->cfg.master);

	if (fd < 0) {
		errno = -fd;
		link_close(a, strerror(errno));
		return;
	}
	ml.fd = fd;
	ml.state = LINK_CONNECTING;
	ml.started_ms = bp_now_ms();
}

static void start_handshake(struct agent *a)
{
	int err = bp_connect_result(ml.fd);

	if (err) {
		errno = -err;
		link_close(a, strerror(errno));
		return;
	}
	bp_set_stream_opts(ml.fd);
	err = bp_conn_init(&ml.conn, ml.fd, true, BPROC_ROLE_AGENT, a->name,
			   &a->cfg.key, a->cfg.master_str);
	if (err) {
		ml.state = LINK_HANDSHAKE; /* so link_close frees it */
		link_close(a, "out of memory");
		return;
	}
	ml.state = LINK_HANDSHAKE;
	ml.started_ms = bp_now_ms();
	ml.last_rx_ms = ml.started_ms;
}

void link_run(struct agent *a)
{
	int64_t now = bp_now_ms();
	short revents = ml.revents;
	int err;

	ml.timeout_ms = a->cfg.timeout_ms;
	switch (ml.state) {
	case LINK_IDLE:
		if (now >= ml.next_ms)
			start_connect(a);
		return;
	case LINK_CONNECTING:
		if (revents)
			start_handshake(a);
		else if (now - ml.started_ms > a->cfg.timeout_ms)
			link_close(a, "connect timed out");
		break;
	case LINK_HANDSHAKE:
	case LINK_READY:
		if (revents & (POLLIN | POLLHUP | POLLERR)) {
			err = bp_conn_read(&ml.conn, on_frame, a);
			if (err == -ECONNRESET) {
				link_close(a, "connection closed");
				return;
			}
			if (err) {
				errno = -err;
				link_close(a, strerror(errno));
				return;
			}
		}
		/*
		 * The master acknowledges once per timeout; a master that
		 * died closes the socket, so silence only means a hung
		 * master: give it three times the timeout before leaving.
		 */
		if (now - ml.last_rx_ms > (ml.state == LINK_READY ? 3 : 1) *
						  (int64_t)a->cfg.timeout_ms) {
			link_close(a, ml.state == LINK_READY ?
					      "master silent" :
					      "handshake timed out");
			return;
		}
		if (ml.state == LINK_READY && now >= ml.next_ms) {
			err = send_status(a);
			if (err) {
				errno = -err;
				link_close(a, strerror(errno));
				return;
			}
			/* keep the period; skip beats missed while stopped */
			ml.next_ms += a->cfg.heartbeat_ms;
			if (ml.next_ms <= now)
				ml.next_ms = now + a->cfg.heartbeat_ms;
		}
		err = bp_conn_flush(&ml.conn);
		if (err < 0) {
			errno = -err;
			link_close(a, strerror(errno));
		}
		return;
	}
}

void link_restart(struct agent *a)
{
	if (ml.state != LINK_IDLE)
		link_close(a, NULL);
	ml.backoff_ms = BACKOFF_MIN_MS;
	ml.next_ms = bp_now_ms();
}

void link_stop(void)
{
	if (ml.state == LINK_READY) {
		bp_send_bye(&ml.conn, BPROC_BYE_SHUTDOWN, "agent stopping");
		bp_conn_flush(&ml.conn);
	}
	if (ml.state == LINK_HANDSHAKE || ml.state == LINK_READY)
		bp_conn_destroy(&ml.conn);
	else if (ml.fd >= 0)
		close(ml.fd);
	ml.fd = -1;
	ml.state = LINK_IDLE;
}
