/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An authenticated bproc connection over a non-blocking stream socket: the
 * handshake of include/bproc/proto.h, framing, per-frame MACs, and the
 * buffers in both directions.  The owner polls the fd, calls bp_conn_read
 * when it is readable and bp_conn_flush when it is writable; decoded frames
 * come back through a callback only once both sides have proved the key.
 *
 * Also the bounds-checked payload reader (struct bp_rd) every decoder uses.
 */
#ifndef BPROC_CONN_H
#define BPROC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bproc/proto.h>

#include "config.h"

/* Most bytes queued for sending before the peer counts as stuck. */
#define BP_CONN_WBUF_MAX (8u << 20)

enum bp_conn_state {
	BP_CONN_HELLO, /* waiting for the peer's HELLO */
	BP_CONN_AUTH, /* waiting for the peer's AUTH */
	BP_CONN_READY, /* authenticated both ways */
};

struct bp_conn;

/*
 * Called for each authenticated frame, and once with type BPROC_MSG_AUTH,
 * data NULL, when the handshake completes.  Return 0 to go on, or -errno to
 * have bp_conn_read stop and return it (the owner then closes).
 */
typedef int (*bp_frame_fn)(struct bp_conn *c, unsigned int type,
			   uint32_t stream, const uint8_t *data, uint32_t len,
			   void *arg);

struct bp_conn {
	int fd;
	bool client;
	enum bp_conn_state state;
	uint32_t role, peer_role;
	char node[BPROC_NODE_NAME_MAX]; /* who we say we are */
	char peer_node[BPROC_NODE_NAME_MAX]; /* who the peer says it is */
	char desc[BP_ADDR_STRLEN]; /* peer address, for logs */
	struct bp_key key;
	uint8_t hello_c[sizeof(struct bproc_msg_hello)];
	uint8_t hello_s[sizeof(struct bproc_msg_hello)];
	uint8_t key_tx[32], key_rx[32];
	uint64_t seq_tx, seq_rx;
	uint8_t *rbuf;
	size_t rlen, rcap;
	bool rbuf_kept; /* a frame callback took rbuf (bp_conn_keep_rbuf) */
	uint8_t *spare; /* then the next rbuf */
	uint8_t *wbuf;
	size_t wlen, woff, wcap;
	int64_t created_ms;
};

/*
 * bp_conn_init - take over a connected non-blocking socket.  A client
 * (the side that connected) queues its HELLO at once.  node is the name
 * sent in HELLO; desc names the peer in logs.  Returns 0 or -ENOMEM.
 */
int bp_conn_init(struct bp_conn *c, int fd, bool client, uint32_t role,
		 const char *node, const struct bp_key *key, const char *desc);

/* bp_conn_destroy - close the socket, free the buffers, wipe the keys. */
void bp_conn_destroy(struct bp_conn *c);

/*
 * bp_conn_read - read what the socket holds and handle every complete
 * frame.  Returns 0 to go on, -ECONNRESET when the peer closed, -EPROTO on a
 * malformed frame, -EACCES when the peer failed authentication, or what fn
 * returned.  A reason is logged (as a warning) for protocol and
 * authentication failures; the caller then destroys the connection.
 */
int bp_conn_read(struct bp_conn *c, bp_frame_fn fn, void *arg);

/*
 * bp_conn_keep_rbuf - from a frame callback: the caller keeps the read
 * buffer that the frame's data points into, as it is, and frees it when
 * done with it; the connection reads on into a new one.  For a large
 * payload that is to stay put, e.g. while a pipe holds references to its
 * pages (vmsplice).  Returns the pointer to free, or NULL when out of
 * memory (then nothing changes hands).
 */
void *bp_conn_keep_rbuf(struct bp_conn *c);

/*
 * bp_conn_send - queue one frame (with its MAC once authenticated).
 * Returns 0, -EMSGSIZE above BPROC_MAX_PAYLOAD, -ENOBUFS when the peer has
 * more than BP_CONN_WBUF_MAX unsent, -ENOTCONN before authentication.
 */
int bp_conn_send(struct bp_conn *c, unsigned int type, uint32_t stream,
		 const void *data, uint32_t len);

/*
 * bp_conn_room - the place for a frame's payload of up to len bytes at the
 * end of the send buffer, to fill in place (a read straight into it), or
 * NULL (not ready, no memory, or more than BP_CONN_WBUF_MAX queued); then
 * bp_conn_commit with the bytes put there (at most len) queues the frame.
 * Nothing else may be sent in between.
 */
uint8_t *bp_conn_room(struct bp_conn *c, uint32_t len);
void bp_conn_commit(struct bp_conn *c, unsigned int type, uint32_t stream,
		    uint32_t len);

/* bp_conn_flush - write what is queued: 0 when all sent, 1 if some is left
 * (wait for POLLOUT), -errno on a broken connection. */
int bp_conn_flush(struct bp_conn *c);

static inline bool bp_conn_pending(const struct bp_conn *c)
{
	return c->wlen > c->woff;
}

/* Bounds-checked little-endian reader over one payload. */
struct bp_rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static inline void bp_rd_init(struct bp_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

/* Each getter returns -EPROTO (and sets bad) instead of reading past the end. */
int bp_rd_u32(struct bp_rd *r, uint32_t *v);
int bp_rd_u64(struct bp_rd *r, uint64_t *v);
int bp_rd_bytes(struct bp_rd *r, void *out, size_t n);
/* A NUL-padded string field of n bytes: needs a NUL, printable ASCII before. */
int bp_rd_str(struct bp_rd *r, char *out, size_t n);
/* bp_rd_end - -EPROTO unless every byte was consumed and nothing failed. */
int bp_rd_end(const struct bp_rd *r);

/* Little-endian writers into a fixed buffer the caller sized. */
void bp_put_u32(uint8_t *p, uint32_t v);
void bp_put_u64(uint8_t *p, uint64_t v);

/* Names for logs. */
const char *bp_msg_name(unsigned int type);

/* Encode and decode the fixed messages of proto.h. */
struct bp_status {
	uint32_t flags, cpus;
	uint64_t mem_total_kb, mem_avail_kb;
	uint32_t load_milli[3];
	uint32_t procs;
	char kernel[64], engine[64], fault[64];
};

void bp_status_encode(const struct bp_status *s,
		      uint8_t out[sizeof(struct bproc_msg_status)]);
int bp_status_decode(const uint8_t *data, uint32_t len, struct bp_status *s);

int bp_send_bye(struct bp_conn *c, uint32_t reason, const char *text);
int bp_bye_decode(const uint8_t *data, uint32_t len, uint32_t *reason,
		  char text[56]);
int bp_send_ping(struct bp_conn *c, unsigned int type, uint64_t cookie);
int bp_ping_decode(const uint8_t *data, uint32_t len, uint64_t *cookie);
/* bp_answer_ping - PONG a PING with its cookie; -EPROTO when malformed. */
int bp_answer_ping(struct bp_conn *c, const uint8_t *data, uint32_t len);

#endif /* BPROC_CONN_H */
