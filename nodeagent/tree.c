// SPDX-License-Identifier: GPL-2.0
/*
 * Fast start down a tree of nodes (include/bproc/proto.h, BPROC_TREE_MIN),
 * the part of a node: the images this agent keeps for other nodes (a move
 * in told to with IMAGE_KEEP, recv.c), sent to an agent that asks for one
 * (IMAGE_FETCH as the first frame of a peer connection's transfer,
 * peer.c), and the fetch of an image from such a holder for a move into
 * this agent, whose bytes go to that move as if its source had sent them.
 *
 * A kept image is named by the move that took it and the pid it was taken
 * from. Only one of BPROC_TREE_MIN bytes or more is kept (a smaller one
 * the front end sends itself). It stays BPROC_KEPT_IMAGE_MS, and all those
 * kept here take at most BPROC_KEPT_IMAGE_MAX bytes: the oldest go first.
 */
#define LOG_PREFIX "tree"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define SERVE_CHUNK (1u << 20)
#define SERVE_QUEUED (4u << 20) /* image bytes queued on the connection */
#define FETCH_SILENCE_TIMEOUTS 3 /* a holder silent this long is gone */

struct nkept {
	struct nkept *next;
	uint64_t move_id;
	uint32_t pid;
	uint8_t *buf;
	size_t len;
	int64_t until_ms;
	unsigned int refs; /* the list, and each connection sending it */
};

static struct nkept *nkepts;
static size_t nkept_bytes; /* of those in the list */

struct tree_serve {
	struct nkept *k;
	uint32_t transfer;
	uint64_t off;
};

struct tree_fetch {
	struct tree_fetch *next;
	struct inmove *im; /* NULL once the move no longer wants it */
	struct bp_image_ref ref;
	struct bp_addr addr;
	int cfd; /* while connecting */
	bool have_conn, asked, dead;
	struct bp_conn conn;
	uint64_t got;
	int64_t seen_ms;
};

static struct tree_fetch *fetches;

static void nkept_put(struct nkept *k)
{
	if (--k->refs)
		return;
	free(k->buf);
	free(k);
}

/* Out of the list (those sending it keep it until they are done). */
static void nkept_unlink(struct nkept **kp)
{
	struct nkept *k = *kp;

	*kp = k->next;
	nkept_bytes -= k->len;
	nkept_put(k);
}

void tree_keep(uint64_t move_id, uint32_t pid, uint8_t *buf, size_t len)
{
	struct nkept *k, **kp;

	if (len < BPROC_TREE_MIN || len > BPROC_KEPT_IMAGE_MAX) {
		free(buf); /* a smaller one the front end sends itself */
		return;
	}
	for (kp = &nkepts; *kp;) /* the same again: the newer wins */
		if ((*kp)->move_id == move_id && (*kp)->pid == pid)
			nkept_unlink(kp);
		else
			kp = &(*kp)->next;
	while (nkepts && nkept_bytes + len > BPROC_KEPT_IMAGE_MAX) {
		/* the oldest is last */
		for (kp = &nkepts; (*kp)->next; kp = &(*kp)->next)
			;
		nkept_unlink(kp);
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		free(k);
		free(buf);
		return;
	}
	k->move_id = move_id;
	k->pid = pid;
	k->buf = buf;
	k->len = len;
	k->until_ms = bp_now_ms() + BPROC_KEPT_IMAGE_MS;
	k->refs = 1;
	k->next = nkepts;
	nkepts = k;
	nkept_bytes += len;
	pr_debug("image of pid %u (move %llu) kept for other nodes, %zu bytes",
		 pid, (unsigned long long)move_id, len);
}

int keepbuf_add(struct keepbuf *b, const void *d, size_t n)
{
	if (b->len + n > BPROC_KEPT_IMAGE_MAX) {
		keepbuf_free(b);
		return -EFBIG;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1u << 20;
		uint8_t *nb;

		while (cap < b->len + n)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (!nb) {
			keepbuf_free(b);
			return -ENOMEM;
		}
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, d, n);
	b->len += n;
	return 0;
}

void keepbuf_free(struct keepbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

/* ---- sending a kept image to a node that asks ---- */

int tree_serve_start(struct bp_conn *c, uint32_t transfer, const uint8_t *d,
		     uint32_t len, struct tree_serve **out)
{
	struct bp_image_end e = { 0 };
	struct bp_image_ref r;
	struct tree_serve *s;
	struct nkept *k;

	*out = NULL;
	if (bp_image_ref_decode(d, len, BPROC_MSG_IMAGE_FETCH, &r))
		return -EPROTO;
	for (k = nkepts; k; k = k->next)
		if (k->move_id == r.move_id && k->pid == r.pid &&
		    k->len == r.bytes)
			break;
	s = k ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		e.error = k ? ENOMEM : ENOENT;
		snprintf(e.reason, sizeof(e.reason),
			 "%s keeps no image of pid %u", agent->name, r.pid);
		pr_info("%s asked for the image of pid %u: not kept here",
			c->peer_node, r.pid);
		return bp_send_image_end(c, transfer, &e);
	}
	k->refs++;
	s->k = k;
	s->transfer = transfer;
	*out = s;
	pr_debug("sending the image of pid %u to %s", r.pid, c->peer_node);
	return 0;
}

bool tree_serve_more(struct tree_serve *s, struct bp_conn *c)
{
	struct bp_image_end e = { 0 };

	while (s->off < s->k->len && c->wlen - c->woff < SERVE_QUEUED) {
		size_t n = s->k->len - s->off;

		if (n > SERVE_CHUNK)
			n = SERVE_CHUNK;
		if (bp_conn_send(c, BPROC_MSG_IMAGE_DATA, s->transfer,
				 s->k->buf + s->off, (uint32_t)n))
			return true; /* the connection is failing */
		s->off += n;
	}
	if (s->off < s->k->len)
		return false;
	e.bytes = s->off;
	bp_send_image_end(c, s->transfer, &e);
	return true;
}

void tree_serve_end(struct tree_serve *s)
{
	if (!s)
		return;
	nkept_put(s->k);
	free(s);
}

/* ---- fetching an image for a move into this agent ---- */

static void fetch_done(struct tree_fetch *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fetch_done(struct tree_fetch *f, int err, const char *fmt, ...)
{
	char reason[BPROC_REASON_BYTES] = "";
	va_list ap;

	if (f->dead)
		return;
	f->dead = true;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	if (err)
		pr_info("image of pid %u from %s: %s", f->ref.pid, f->ref.node,
			reason);
	if (f->im)
		recv_fetch_done(f->im, err, reason);
	f->im = NULL;
}

struct tree_fetch *tree_fetch_start(struct inmove *im,
				    const struct bp_image_ref *r)
{
	struct tree_fetch *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return NULL;
	f->im = im;
	f->ref = *r;
	f->cfd = -1;
	f->seen_ms = bp_now_ms();
	err = bp_addr_parse(r->addr, BPROC_NODE_PORT, &f->addr);
	if (!err) {
		f->cfd = bp_connect_start(&f->addr);
		err = f->cfd < 0 ? f->cfd : 0;
	}
	if (err) {
		free(f);
		errno = -err;
		return NULL;
	}
	f->next = fetches;
	fetches = f;
	return f;
}

void tree_fetch_cancel(struct tree_fetch *f)
{
	if (f) {
		f->im = NULL;
		f->dead = true;
	}
}

static int fetch_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		       const uint8_t *data, uint32_t len, void *arg)
{
	struct tree_fetch *f = arg;
	struct bp_image_end e;

	f->seen_ms = bp_now_ms();
	switch (type) {
	case BPROC_MSG_AUTH:
		if (strcmp(c->peer_node, f->ref.node)) {
			fetch_done(f, EIO, "the agent at %s is %s, not %s",
				   f->ref.addr, c->peer_node, f->ref.node);
			return -ECANCELED;
		}
		f->asked = true;
		return bp_send_image_ref(c, BPROC_MSG_IMAGE_FETCH, 1, &f->ref);
	case BPROC_MSG_IMAGE_DATA:
		if (!f->asked || stream != 1 || f->got + len > f->ref.bytes)
			return -EPROTO;
		f->got += len;
		if (f->im)
			recv_fetched(f->im, c, data, len);
		return 0;
	case BPROC_MSG_IMAGE_END:
		if (!f->asked || stream != 1 ||
		    bp_image_end_decode(data, len, &e))
			return -EPROTO;
		if (e.error)
			fetch_done(f, (int)e.error, "%s", e.reason);
		else if (e.bytes != f->got || f->got != f->ref.bytes)
			fetch_done(f, EIO, "%s sent %llu bytes of %llu",
				   f->ref.node, (unsigned long long)f->got,
				   (unsigned long long)f->ref.bytes);
		else
			fetch_done(f, 0, NULL);
		return -ECANCELED;
	case BPROC_MSG_PING:
		return bp_answer_ping(c, data, len);
	case BPROC_MSG_PONG:
		return 0;
	default:
		return -EPROTO; /* BYE, or anything it should not say */
	}
}

static void fetch_polled(void *obj, short revents)
{
	struct tree_fetch *f = obj;
	int err = 0;

	if (f->dead)
		return;
	if (f->cfd >= 0) {
		err = bp_connect_result(f->cfd);
		if (err) {
			fetch_done(f, ECONNRESET, "cannot reach %s at %s: %s",
				   f->ref.node, f->ref.addr, strerror(-err));
			return;
		}
		bp_set_stream_opts(f->cfd);
		err = bp_conn_init(&f->conn, f->cfd, true, BPROC_ROLE_PEER,
				   agent->name, &agent->cfg.key, f->ref.addr);
		f->cfd = -1;
		f->have_conn = true;
		f->conn.created_ms = bp_now_ms();
		if (err)
			fetch_done(f, ENOMEM, "out of memory");
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		err = bp_conn_read(&f->conn, fetch_frame, f);
	if (!err)
		err = bp_conn_flush(&f->conn) < 0 ? -EPIPE : 0;
	if (err && err != -ECANCELED)
		fetch_done(f, ECONNRESET, "the connection to %s broke: %s",
			   f->ref.node, strerror(-err));
}

void tree_watch(void)
{
	int64_t now = bp_now_ms(), silent;
	struct tree_fetch *f;
	struct nkept **kp = &nkepts;

	while (*kp) {
		if (now >= (*kp)->until_ms) {
			nkept_unlink(kp);
			continue;
		}
		loop_wake_at((*kp)->until_ms);
		kp = &(*kp)->next;
	}
	silent = (int64_t)FETCH_SILENCE_TIMEOUTS * agent->cfg.timeout_ms;
	for (f = fetches; f; f = f->next) {
		if (f->dead)
			continue;
		if (now - f->seen_ms > silent) {
			fetch_done(f, ETIMEDOUT, "%s said nothing for %lld s",
				   f->ref.node, (long long)(silent / 1000));
			continue;
		}
		loop_wake_at(f->seen_ms + silent + 1);
		if (f->cfd >= 0)
			loop_add(f->cfd, POLLOUT, fetch_polled, f);
		else if (f->have_conn)
			loop_add(f->conn.fd,
				 (!f->asked || (f->im &&
						recv_wants_data(f->im)) ?
					  POLLIN :
					  0) |
					 (bp_conn_pending(&f->conn) ? POLLOUT :
								      0),
				 fetch_polled, f);
	}
}

void tree_reap(void)
{
	struct tree_fetch **fp = &fetches;

	while (*fp) {
		struct tree_fetch *f = *fp;

		if (!f->dead) {
			fp = &f->next;
			continue;
		}
		*fp = f->next;
		close_fd(&f->cfd);
		if (f->have_conn)
			bp_conn_destroy(&f->conn);
		free(f);
	}
}
