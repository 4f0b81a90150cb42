// SPDX-License-Identifier: GPL-2.0
/*
 * Framing, handshake and per-frame authentication (see include/bproc/proto.h
 * for the protocol).  All primitives are libsodium's: SipHash-2-4-128 for
 * frame MACs, keyed BLAKE2b for key derivation, HMAC-SHA-512-256 for the
 * handshake proofs, randombytes for nonces, sodium_memcmp for comparisons.
 */
#define LOG_PREFIX "conn"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "conn.h"
#include "log.h"

#define HDR_BYTES sizeof(struct bproc_frame_hdr)
#define RBUF_MIN (64u << 10)
#define READS_PER_CALL 16

static const char label_client[] = "bproc-auth-client";
static const char label_server[] = "bproc-auth-server";
static const char label_c2s[] = "bproc-key-c2s";
static const char label_s2c[] = "bproc-key-s2c";

void bp_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

void bp_put_u64(uint8_t *p, uint64_t v)
{
	bp_put_u32(p, (uint32_t)v);
	bp_put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int bp_rd_bytes(struct bp_rd *r, void *out, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return -EPROTO;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

int bp_rd_u32(struct bp_rd *r, uint32_t *v)
{
	uint8_t b[4];

	if (bp_rd_bytes(r, b, sizeof(b)))
		return -EPROTO;
	*v = get_u32(b);
	return 0;
}

int bp_rd_u64(struct bp_rd *r, uint64_t *v)
{
	uint8_t b[8];

	if (bp_rd_bytes(r, b, sizeof(b)))
		return -EPROTO;
	*v = get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
	return 0;
}

int bp_rd_str(struct bp_rd *r, char *out, size_t n)
{
	size_t i;

	if (bp_rd_bytes(r, out, n))
		return -EPROTO;
	for (i = 0; i < n && out[i]; i++) {
		if (out[i] < 0x20 || out[i] > 0x7e) {
			r->bad = true;
			return -EPROTO;
		}
	}
	if (i == n) {
		r->bad = true;
		return -EPROTO;
	}
	memset(out + i, 0, n - i);
	return 0;
}

int bp_rd_end(const struct bp_rd *r)
{
	return r->bad || r->off != r->len ? -EPROTO : 0;
}

const char *bp_msg_name(unsigned int type)
{
	switch (type) {
	case BPROC_MSG_HELLO:
		return "HELLO";
	case BPROC_MSG_AUTH:
		return "AUTH";
	case BPROC_MSG_BYE:
		return "BYE";
	case BPROC_MSG_PING:
		return "PING";
	case BPROC_MSG_PONG:
		return "PONG";
	case BPROC_MSG_STATUS:
		return "STATUS";
	case BPROC_MSG_STATUS_ACK:
		return "STATUS_ACK";
	case BPROC_MSG_MOVE_ORDER:
		return "MOVE_ORDER";
	case BPROC_MSG_MOVE_RESULT:
		return "MOVE_RESULT";
	case BPROC_MSG_MOVE_ARMED:
		return "MOVE_ARMED";
	case BPROC_MSG_PROC_REPORT:
		return "PROC_REPORT";
	case BPROC_MSG_IMAGE_BEGIN:
		return "IMAGE_BEGIN";
	case BPROC_MSG_IMAGE_DATA:
		return "IMAGE_DATA";
	case BPROC_MSG_IMAGE_END:
		return "IMAGE_END";
	case BPROC_MSG_IMAGE_RESULT:
		return "IMAGE_RESULT";
	case BPROC_MSG_SIGNAL:
		return "SIGNAL";
	case BPROC_MSG_IO_DATA:
		return "IO_DATA";
	case BPROC_MSG_IO_EOF:
		return "IO_EOF";
	case BPROC_MSG_IO_MARK:
		return "IO_MARK";
	case BPROC_MSG_IO_ACK:
		return "IO_ACK";
	case BPROC_MSG_IMAGE_STREAMS:
		return "IMAGE_STREAMS";
	case BPROC_MSG_FILES_QUERY:
		return "FILES_QUERY";
	case BPROC_MSG_FILES_ANSWER:
		return "FILES_ANSWER";
	case BPROC_MSG_IMAGE_KEEP:
		return "IMAGE_KEEP";
	case BPROC_MSG_IMAGE_FETCH:
		return "IMAGE_FETCH";
	case BPROC_MSG_IMAGE_FETCHED:
		return "IMAGE_FETCHED";
	case BPROC_MSG_EXIT:
		return "EXIT";
	case BPROC_MSG_PID_RANGE:
		return "PID_RANGE";
	case BPROC_MSG_STREAM_OWNER:
		return "STREAM_OWNER";
	case BPROC_MSG_PROC_FORK:
		return "PROC_FORK";
	case BPROC_MSG_PROC_GHOST:
		return "PROC_GHOST";
	case BPROC_MSG_PROC_REAPED:
		return "PROC_REAPED";
	case BPROC_MSG_PROC_EXEC:
		return "PROC_EXEC";
	case BPROC_MSG_PROC_PGRP:
		return "PROC_PGRP";
	case BPROC_MSG_PROC_SESSION:
		return "PROC_SESSION";
	case BPROC_MSG_PROC_PARENT:
		return "PROC_PARENT";
	case BPROC_MSG_PROC_THREAD:
		return "PROC_THREAD";
	case BPROC_MSG_PROC_THREAD_END:
		return "PROC_THREAD_END";
	default:
		return NULL;
	}
}

/*
 * A frame's MAC (proto.h): SipHash-2-4-128 of the header and the payload
 * that follows it at hdr, keyed with the frame's own key, which is
 * SipHash-2-4-128 of its sequence number under the direction's key.
 */
static void frame_mac(const uint8_t key[32], uint64_t seq, const uint8_t *hdr,
		      uint32_t len, uint8_t out[BPROC_MAC_BYTES])
{
	uint8_t s[8], fk[crypto_shorthash_siphashx24_KEYBYTES];

	bp_put_u64(s, seq);
	crypto_shorthash_siphashx24(fk, s, sizeof(s), key);
	crypto_shorthash_siphashx24(out, hdr, HDR_BYTES + len, fk);
	sodium_memzero(fk, sizeof(fk));
}

static bool frame_mac_ok(const uint8_t key[32], uint64_t seq,
			 const uint8_t *hdr, uint32_t len,
			 const uint8_t mac[BPROC_MAC_BYTES])
{
	uint8_t want[BPROC_MAC_BYTES];

	frame_mac(key, seq, hdr, len, want);
	return sodium_memcmp(want, mac, sizeof(want)) == 0;
}

static void proof(const struct bp_conn *c, const char *label,
		  uint8_t out[BPROC_PROOF_BYTES])
{
	crypto_auth_hmacsha512256_state st;

	crypto_auth_hmacsha512256_init(&st, c->key.k, sizeof(c->key.k));
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)label,
					 strlen(label));
	crypto_auth_hmacsha512256_update(&st, c->hello_c, sizeof(c->hello_c));
	crypto_auth_hmacsha512256_update(&st, c->hello_s, sizeof(c->hello_s));
	crypto_auth_hmacsha512256_final(&st, out);
}

static void derive(const struct bp_conn *c, const char *label, uint8_t out[32])
{
	const size_t nonce_off = offsetof(struct bproc_msg_hello, nonce);
	crypto_generichash_state st;

	crypto_generichash_init(&st, c->key.k, sizeof(c->key.k), 32);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, c->hello_c + nonce_off,
				  BPROC_NONCE_BYTES);
	crypto_generichash_update(&st, c->hello_s + nonce_off,
				  BPROC_NONCE_BYTES);
	crypto_generichash_final(&st, out, 32);
}

/* Room for a frame of len payload bytes at the end of the send buffer. */
static uint8_t *frame_room(struct bp_conn *c, uint32_t len, bool mac)
{
	size_t need = HDR_BYTES + len + (mac ? BPROC_MAC_BYTES : 0);

	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wlen - c->woff + need > BP_CONN_WBUF_MAX)
		return NULL;
	if (c->woff && c->wlen + need > c->wcap) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + need > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		uint8_t *b;

		while (cap < c->wlen + need)
			cap *= 2;
		b = realloc(c->wbuf, cap);
		if (!b)
			return NULL;
		c->wbuf = b;
		c->wcap = cap;
	}
	return c->wbuf + c->wlen;
}

/* The frame whose payload frame_room's caller put in place goes out. */
static void frame_seal(struct bp_conn *c, unsigned int type, uint32_t stream,
		       uint32_t len, bool mac)
{
	uint8_t *hdr = c->wbuf + c->wlen;

	bp_put_u32(hdr, len);
	hdr[4] = type;
	hdr[5] = type >> 8;
	hdr[6] = BPROC_PROTO_VERSION;
	hdr[7] = 0;
	bp_put_u32(hdr + 8, stream);
	bp_put_u32(hdr + 12, 0);
	if (mac)
		frame_mac(c->key_tx, c->seq_tx++, hdr, len,
			  hdr + HDR_BYTES + len);
	c->wlen += HDR_BYTES + len + (mac ? BPROC_MAC_BYTES : 0);
}

/* Append one frame to the send buffer; mac decides whether it has one. */
static int frame_append(struct bp_conn *c, unsigned int type, uint32_t stream,
			const void *data, uint32_t len, bool mac)
{
	uint8_t *hdr;

	if (len > BPROC_MAX_PAYLOAD)
		return -EMSGSIZE;
	hdr = frame_room(c, len, mac);
	if (!hdr)
		return c->wlen - c->woff + HDR_BYTES + len > BP_CONN_WBUF_MAX ?
			       -ENOBUFS :
			       -ENOMEM;
	if (len)
		memcpy(hdr + HDR_BYTES, data, len);
	frame_seal(c, type, stream, len, mac);
	return 0;
}

int bp_conn_send(struct bp_conn *c, unsigned int type, uint32_t stream,
		 const void *data, uint32_t len)
{
	if (c->state != BP_CONN_READY)
		return -ENOTCONN;
	return frame_append(c, type, stream, data, len, true);
}

uint8_t *bp_conn_room(struct bp_conn *c, uint32_t len)
{
	uint8_t *hdr;

	if (c->state != BP_CONN_READY || len > BPROC_MAX_PAYLOAD)
		return NULL;
	hdr = frame_room(c, len, true);
	return hdr ? hdr + HDR_BYTES : NULL;
}

void bp_conn_commit(struct bp_conn *c, unsigned int type, uint32_t stream,
		    uint32_t len)
{
	frame_seal(c, type, stream, len, true);
}

int bp_conn_flush(struct bp_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		c->woff += n;
	}
	c->woff = c->wlen = 0;
	return 0;
}

static void hello_encode(struct bp_conn *c, uint8_t out[64])
{
	memset(out, 0, 64);
	bp_put_u32(out, c->role);
	bp_put_u32(out + 4, 0);
	randombytes_buf(out + offsetof(struct bproc_msg_hello, nonce),
			BPROC_NONCE_BYTES);
	memcpy(out + offsetof(struct bproc_msg_hello, node), c->node,
	       strnlen(c->node, BPROC_NODE_NAME_MAX - 1));
}

int bp_conn_init(struct bp_conn *c, int fd, bool client, uint32_t role,
		 const char *node, const struct bp_key *key, const char *desc)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->client = client;
	c->role = role;
	c->state = BP_CONN_HELLO;
	c->key = *key;
	snprintf(c->node, sizeof(c->node), "%s", node);
	snprintf(c->desc, sizeof(c->desc), "%s", desc);
	c->rbuf = malloc(RBUF_MIN);
	if (!c->rbuf)
		return -ENOMEM;
	c->rcap = RBUF_MIN;
	if (client) {
		hello_encode(c, c->hello_c);
		return frame_append(c, BPROC_MSG_HELLO, 0, c->hello_c,
				    sizeof(c->hello_c), false);
	}
	return 0;
}

void bp_conn_destroy(struct bp_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	free(c->spare);
	free(c->wbuf);
	c->rbuf = c->wbuf = c->spare = NULL;
	sodium_memzero(&c->key, sizeof(c->key));
	sodium_memzero(c->key_tx, sizeof(c->key_tx));
	sodium_memzero(c->key_rx, sizeof(c->key_rx));
}

static int on_hello(struct bp_conn *c, const uint8_t *data, uint32_t len)
{
	char node[BPROC_NODE_NAME_MAX];
	uint8_t nonce[BPROC_NONCE_BYTES];
	uint32_t role, flags;
	uint64_t reserved;
	struct bp_rd r;
	uint8_t auth[BPROC_PROOF_BYTES];

	bp_rd_init(&r, data, len);
	bp_rd_u32(&r, &role);
	bp_rd_u32(&r, &flags);
	bp_rd_bytes(&r, nonce, sizeof(nonce));
	bp_rd_str(&r, node, sizeof(node));
	bp_rd_u64(&r, &reserved);
	if (bp_rd_end(&r) || flags || reserved || role < BPROC_ROLE_AGENT ||
	    role > BPROC_ROLE_PEER) {
		pr_warn("%s: malformed HELLO", c->desc);
		return -EPROTO;
	}
	c->peer_role = role;
	memcpy(c->peer_node, node, sizeof(node));
	if (c->client) {
		memcpy(c->hello_s, data, len);
		proof(c, label_client, auth);
		c->state = BP_CONN_AUTH;
		return frame_append(c, BPROC_MSG_AUTH, 0, auth, sizeof(auth),
				    false);
	}
	memcpy(c->hello_c, data, len);
	hello_encode(c, c->hello_s);
	c->state = BP_CONN_AUTH;
	return frame_append(c, BPROC_MSG_HELLO, 0, c->hello_s,
			    sizeof(c->hello_s), false);
}

static int on_auth(struct bp_conn *c, const uint8_t *data, uint32_t len)
{
	uint8_t want[BPROC_PROOF_BYTES];
	int err;

	if (len != BPROC_PROOF_BYTES) {
		pr_warn("%s: malformed AUTH", c->desc);
		return -EPROTO;
	}
	proof(c, c->client ? label_server : label_client, want);
	if (sodium_memcmp(want, data, sizeof(want))) {
		pr_warn("%s: peer failed authentication (wrong cluster key)",
			c->desc);
		return -EACCES;
	}
	if (!c->client) {
		proof(c, label_server, want);
		err = frame_append(c, BPROC_MSG_AUTH, 0, want, sizeof(want),
				   false);
		if (err)
			return err;
	}
	derive(c, c->client ? label_c2s : label_s2c, c->key_tx);
	derive(c, c->client ? label_s2c : label_c2s, c->key_rx);
	c->state = BP_CONN_READY;
	return 0;
}

/* One complete frame at p; hdr checked already. */
static int handle_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
			const uint8_t *p, uint32_t len, bp_frame_fn fn,
			void *arg)
{
	const uint8_t *data = p + HDR_BYTES;
	int err;

	switch (c->state) {
	case BP_CONN_HELLO:
		if (type != BPROC_MSG_HELLO)
			goto unexpected;
		return on_hello(c, data, len);
	case BP_CONN_AUTH:
		if (type != BPROC_MSG_AUTH)
			goto unexpected;
		err = on_auth(c, data, len);
		if (err)
			return err;
		return fn(c, BPROC_MSG_AUTH, 0, NULL, 0, arg);
	case BP_CONN_READY:
		if (!frame_mac_ok(c->key_rx, c->seq_rx, p, len, data + len)) {
			pr_warn("%s: bad MAC on frame %llu (%s)", c->desc,
				(unsigned long long)c->seq_rx,
				bp_msg_name(type));
			return -EACCES;
		}
		c->seq_rx++;
		if (type == BPROC_MSG_HELLO || type == BPROC_MSG_AUTH)
			goto unexpected;
		return fn(c, type, stream, data, len, arg);
	}
unexpected:
	pr_warn("%s: unexpected %s frame", c->desc, bp_msg_name(type));
	return -EPROTO;
}

void *bp_conn_keep_rbuf(struct bp_conn *c)
{
	uint8_t *b = malloc(c->rcap);

	if (!b)
		return NULL;
	c->rbuf_kept = true;
	c->spare = b;
	return c->rbuf;
}

/*
 * The frame callback kept rbuf: what follows the frame (off bytes in)
 * goes to the spare that bp_conn_keep_rbuf made, the new rbuf.
 */
static size_t rbuf_replace(struct bp_conn *c, size_t off)
{
	memcpy(c->spare, c->rbuf + off, c->rlen - off);
	c->rbuf = c->spare;
	c->spare = NULL;
	c->rlen -= off;
	c->rbuf_kept = false;
	return 0;
}

/* Handle every complete frame in rbuf, keep the partial rest. */
static int process(struct bp_conn *c, bp_frame_fn fn, void *arg)
{
	size_t off = 0;
	int err = 0;

	while (c->rlen - off >= HDR_BYTES) {
		const uint8_t *p = c->rbuf + off;
		uint32_t len = get_u32(p);
		unsigned int type = p[4] | p[5] << 8;
		size_t need;

		if (p[6] != BPROC_PROTO_VERSION) {
			pr_warn("%s: protocol version %u, expected %u", c->desc,
				p[6], BPROC_PROTO_VERSION);
			err = -EPROTO;
			break;
		}
		if (p[7] || get_u32(p + 12) || !bp_msg_name(type)) {
			pr_warn("%s: malformed frame header (type %u)", c->desc,
				type);
			err = -EPROTO;
			break;
		}
		if (len > BPROC_MAX_PAYLOAD) {
			pr_warn("%s: frame of %u bytes, limit %u", c->desc, len,
				BPROC_MAX_PAYLOAD);
			err = -EPROTO;
			break;
		}
		need = HDR_BYTES + len +
		       (c->state == BP_CONN_READY ? BPROC_MAC_BYTES : 0);
		if (c->rlen - off < need) {
			if (need > c->rcap) {
				uint8_t *b = realloc(c->rbuf, need);

				if (!b) {
					err = -ENOMEM;
					break;
				}
				c->rbuf = b;
				c->rcap = need;
			}
			break;
		}
		err = handle_frame(c, type, get_u32(p + 8), p, len, fn, arg);
		off += need;
		if (c->rbuf_kept)
			off = rbuf_replace(c, off); /* the old one is fn's */
		if (err)
			break;
	}
	if (off && c->rbuf) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	return err;
}

int bp_conn_read(struct bp_conn *c, bp_frame_fn fn, void *arg)
{
	size_t space;
	int i, err;

	for (i = 0; i < READS_PER_CALL; i++) {
		ssize_t n;

		if (c->rcap - c->rlen < RBUF_MIN / 4 &&
		    c->rcap < RBUF_MIN * 4) {
			uint8_t *b = realloc(c->rbuf, c->rcap * 2);

			if (!b)
				return -ENOMEM;
			c->rbuf = b;
			c->rcap *= 2;
		}
		space = c->rcap - c->rlen;
		/*
		 * In a large frame, read up to its end only: what follows it
		 * would otherwise be moved to the front once it is handled,
		 * a second copy of every byte of an image.
		 */
		if (c->rlen >= HDR_BYTES) {
			size_t need =
				HDR_BYTES + get_u32(c->rbuf) +
				(c->state == BP_CONN_READY ? BPROC_MAC_BYTES :
							     0);

			if (need > RBUF_MIN && need > c->rlen &&
			    need - c->rlen < space)
				space = need - c->rlen;
		}
		n = read(c->fd, c->rbuf + c->rlen, space);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		c->rlen += n;
		err = process(c, fn, arg);
		if (err)
			return err;
		/* a short read drained the socket: save the EAGAIN round */
		if ((size_t)n < space)
			return 0;
	}
	return 0;
}

void bp_status_encode(const struct bp_status *s,
		      uint8_t out[sizeof(struct bproc_msg_status)])
{
	memset(out, 0, sizeof(struct bproc_msg_status));
	bp_put_u32(out + 0, s->flags);
	bp_put_u32(out + 4, s->cpus);
	bp_put_u64(out + 8, s->mem_total_kb);
	bp_put_u64(out + 16, s->mem_avail_kb);
	bp_put_u32(out + 24, s->load_milli[0]);
	bp_put_u32(out + 28, s->load_milli[1]);
	bp_put_u32(out + 32, s->load_milli[2]);
	bp_put_u32(out + 36, s->procs);
	memcpy(out + 40, s->kernel, strnlen(s->kernel, 63));
	memcpy(out + 104, s->engine, strnlen(s->engine, 63));
	memcpy(out + 168, s->fault, strnlen(s->fault, 63));
}

int bp_status_decode(const uint8_t *data, uint32_t len, struct bp_status *s)
{
	struct bp_rd r;

	bp_rd_init(&r, data, len);
	bp_rd_u32(&r, &s->flags);
	bp_rd_u32(&r, &s->cpus);
	bp_rd_u64(&r, &s->mem_total_kb);
	bp_rd_u64(&r, &s->mem_avail_kb);
	bp_rd_u32(&r, &s->load_milli[0]);
	bp_rd_u32(&r, &s->load_milli[1]);
	bp_rd_u32(&r, &s->load_milli[2]);
	bp_rd_u32(&r, &s->procs);
	bp_rd_str(&r, s->kernel, sizeof(s->kernel));
	bp_rd_str(&r, s->engine, sizeof(s->engine));
	bp_rd_str(&r, s->fault, sizeof(s->fault));
	if (bp_rd_end(&r))
		return -EPROTO;
	if (s->flags & ~(BPROC_STATUS_ENGINE | BPROC_STATUS_FAULT))
		return -EPROTO;
	return 0;
}

int bp_send_bye(struct bp_conn *c, uint32_t reason, const char *text)
{
	uint8_t b[sizeof(struct bproc_msg_bye)] = { 0 };

	bp_put_u32(b, reason);
	memcpy(b + 8, text, strnlen(text, sizeof(b) - 8 - 1));
	return bp_conn_send(c, BPROC_MSG_BYE, 0, b, sizeof(b));
}

int bp_bye_decode(const uint8_t *data, uint32_t len, uint32_t *reason,
		  char text[56])
{
	struct bp_rd r;
	uint32_t pad;

	bp_rd_init(&r, data, len);
	bp_rd_u32(&r, reason);
	bp_rd_u32(&r, &pad);
	bp_rd_str(&r, text, 56);
	return bp_rd_end(&r) || pad ? -EPROTO : 0;
}

int bp_send_ping(struct bp_conn *c, unsigned int type, uint64_t cookie)
{
	uint8_t b[8];

	bp_put_u64(b, cookie);
	return bp_conn_send(c, type, 0, b, sizeof(b));
}

int bp_ping_decode(const uint8_t *data, uint32_t len, uint64_t *cookie)
{
	struct bp_rd r;

	bp_rd_init(&r, data, len);
	bp_rd_u64(&r, cookie);
	return bp_rd_end(&r);
}

int bp_answer_ping(struct bp_conn *c, const uint8_t *data, uint32_t len)
{
	uint64_t cookie;

	if (bp_ping_decode(data, len, &cookie)) {
		pr_warn("%s: malformed PING", c->desc);
		return -EPROTO;
	}
	return bp_send_ping(c, BPROC_MSG_PONG, cookie);
}
