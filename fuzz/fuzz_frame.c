// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_frame - the framing, handshake and per-frame authentication of
 * common/conn.c, over a real socket pair, as every daemon reads its peers.
 *
 * The first input byte picks a mode, the second how the bytes are cut (the
 * size of the pieces written, and of the socket buffer):
 *
 *   raw server   the rest is what a client sends to a listener (HELLO,
 *                AUTH, frames): the handshake's decoders and checks;
 *   raw client   the same towards a connecting side that sent its HELLO;
 *   session      two real ends complete the handshake with the cluster
 *                key, then the rest is a script of operations on the
 *                sending end: frames of any type, stream and size (up to
 *                past the limit), frames filled in place, raw bytes
 *                written past the framing, bytes flipped in queued frames.
 *                The receiving end decodes each frame as the daemons do
 *                (STATUS, BYE, PING answered with PONG, ...) and sometimes
 *                keeps the read buffer (bp_conn_keep_rbuf, as a move does).
 *
 * Invariants: a raw peer never gets past authentication (it does not have
 * the key); bp_conn_read fails only with the documented errors; in a
 * session, until the script corrupts the stream, every frame sent arrives
 * once, in order, intact, and the connection fails only when a decoder
 * refused a payload.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/conn.h"
#include "../common/log.h"
#include "fuzz.h"

#define EXPECT_MAX 256
#define KEPT_MAX 64

struct in {
	const uint8_t *p;
	size_t len, off;
};

static uint32_t in_u8(struct in *in)
{
	return in->off < in->len ? in->p[in->off++] : 0;
}

static uint32_t in_u16(struct in *in)
{
	return in_u8(in) | in_u8(in) << 8;
}

static size_t in_take(struct in *in, const uint8_t **p, size_t want)
{
	size_t n = in->len - in->off < want ? in->len - in->off : want;

	*p = in->p + in->off;
	in->off += n;
	return n;
}

static const unsigned int msg_types[] = {
	BPROC_MSG_BYE,		BPROC_MSG_PING,		 BPROC_MSG_PONG,
	BPROC_MSG_STATUS,	BPROC_MSG_STATUS_ACK,	 BPROC_MSG_MOVE_ORDER,
	BPROC_MSG_MOVE_RESULT,	BPROC_MSG_MOVE_ARMED,	 BPROC_MSG_PROC_REPORT,
	BPROC_MSG_IMAGE_BEGIN,	BPROC_MSG_IMAGE_DATA,	 BPROC_MSG_IMAGE_END,
	BPROC_MSG_IMAGE_RESULT, BPROC_MSG_IMAGE_STREAMS, BPROC_MSG_SIGNAL,
	BPROC_MSG_IO_DATA,	BPROC_MSG_IO_EOF,	 BPROC_MSG_IO_MARK,
	BPROC_MSG_IO_ACK,	BPROC_MSG_EXIT,		 BPROC_MSG_HELLO,
	BPROC_MSG_AUTH,
};
#define NR_TYPES (sizeof(msg_types) / sizeof(msg_types[0]))

static struct bp_key key;

/* ---- raw peers ---- */

static int raw_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		     const uint8_t *data, uint32_t len, void *arg)
{
	(void)c, (void)type, (void)stream, (void)data, (void)len, (void)arg;
	/* only an authenticated frame gets here: a raw peer has no key */
	fuzz_assert(0);
	return 0;
}

static void drain(int fd)
{
	uint8_t b[65536];

	while (read(fd, b, sizeof(b)) > 0)
		;
}

static void run_raw(bool client, size_t chunk, const uint8_t *data, size_t size)
{
	struct bp_conn c;
	int sv[2], err;
	size_t off = 0;
	bool shut = false;

	fuzz_assert(socketpair(AF_UNIX,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       sv) == 0);
	fuzz_assert(bp_conn_init(&c, sv[0], client,
				 client ? BPROC_ROLE_AGENT : BPROC_ROLE_MASTER,
				 client ? "node1" : "master", &key,
				 "fuzz") == 0);
	for (;;) {
		if (off < size) {
			size_t n = size - off < chunk ? size - off : chunk;
			ssize_t w = write(sv[1], data + off, n);

			if (w > 0)
				off += (size_t)w;
		} else if (!shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		err = bp_conn_read(&c, raw_frame, NULL);
		if (err)
			break;
		fuzz_assert(bp_conn_flush(&c) >= 0);
		drain(sv[1]);
	}
	fuzz_assert(err == -ECONNRESET || err == -EPROTO || err == -EACCES);
	fuzz_assert(c.state != BP_CONN_READY);
	bp_conn_destroy(&c);
	close(sv[1]);
}

/* ---- a session between two real ends ---- */

struct sent {
	unsigned int type;
	uint32_t stream, len;
	uint8_t hash[16];
};

struct session {
	struct bp_conn a, b; /* a sends the script, b receives */
	int sv[2];
	bool clean; /* nothing corrupted the stream so far */
	bool refused; /* b's decoder refused a payload */
	bool b_dead;
	struct sent expect[EXPECT_MAX];
	unsigned int head, tail;
	void *kept[KEPT_MAX];
	unsigned int nr_kept;
	unsigned int pongs_due, pongs_seen;
	unsigned int big; /* large frames asked for */
};

/* A frame's fingerprint: SipHash-2-4-128 under a fixed key, fast enough
 * not to be what a large frame costs. */
static void hash(const uint8_t *d, uint32_t len, uint8_t out[16])
{
	static const uint8_t k[crypto_shorthash_siphashx24_KEYBYTES];

	crypto_shorthash_siphashx24(out, d, len, k);
}

/* What a daemon does with a frame it has decoded. */
static int b_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		   const uint8_t *data, uint32_t len, void *arg)
{
	struct session *s = arg;
	struct bp_status st;
	uint32_t reason;
	uint64_t cookie;
	char text[56];
	int err = 0;

	if (type == BPROC_MSG_AUTH && !data)
		return 0;
	if (s->clean) {
		struct sent *e = &s->expect[s->head % EXPECT_MAX];
		uint8_t h[16];

		fuzz_assert(s->head != s->tail);
		s->head++;
		hash(data, len, h);
		fuzz_assert(e->type == type && e->stream == stream &&
			    e->len == len && !memcmp(e->hash, h, sizeof(h)));
	}
	switch (type) {
	case BPROC_MSG_STATUS:
		err = bp_status_decode(data, len, &st);
		break;
	case BPROC_MSG_BYE:
		err = bp_bye_decode(data, len, &reason, text);
		break;
	case BPROC_MSG_PING:
		err = bp_answer_ping(c, data, len);
		if (!err)
			s->pongs_due++;
		break;
	case BPROC_MSG_PONG:
	case BPROC_MSG_STATUS_ACK:
		err = bp_ping_decode(data, len, &cookie);
		break;
	case BPROC_MSG_IMAGE_DATA:
		/* a move keeps the buffer its image bytes arrived in */
		if (len && (stream & 1) && s->nr_kept < KEPT_MAX) {
			void *k = bp_conn_keep_rbuf(c);

			fuzz_assert(k);
			s->kept[s->nr_kept++] = k;
		}
		break;
	default:
		break;
	}
	if (err) {
		s->refused = true;
		return -EPROTO;
	}
	return 0;
}

static int a_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		   const uint8_t *data, uint32_t len, void *arg)
{
	struct session *s = arg;
	uint64_t cookie;

	(void)c, (void)stream;
	if (type == BPROC_MSG_AUTH && !data)
		return 0;
	fuzz_assert(type == BPROC_MSG_PONG);
	fuzz_assert(bp_ping_decode(data, len, &cookie) == 0);
	s->pongs_seen++;
	return 0;
}

static int pending_bytes(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* Carry what a has queued to b, and b's answers back; false once b is gone. */
static bool pump(struct session *s)
{
	int fa, rb, ra;

	if (s->b_dead)
		return false;
	do {
		fa = bp_conn_flush(&s->a);
		fuzz_assert(fa >= 0);
		rb = bp_conn_read(&s->b, b_frame, s);
	} while (!rb && (fa == 1 || pending_bytes(s->sv[1]) > 0));
	if (rb) {
		fuzz_assert(rb == -EPROTO || rb == -EACCES);
		/* an intact stream fails only where a decoder refused */
		fuzz_assert(!s->clean || s->refused);
		s->b_dead = true;
		return false;
	}
	fuzz_assert(bp_conn_flush(&s->b) == 0);
	ra = bp_conn_read(&s->a, a_frame, s);
	fuzz_assert(ra == 0);
	return true;
}

static void expect(struct session *s, unsigned int type, uint32_t stream,
		   const uint8_t *d, uint32_t len)
{
	struct sent *e;

	if (!s->clean)
		return;
	if (type == BPROC_MSG_HELLO || type == BPROC_MSG_AUTH ||
	    !bp_msg_name(type)) {
		s->clean = false; /* b will refuse it, or we lose count */
		return;
	}
	e = &s->expect[s->tail++ % EXPECT_MAX];
	e->type = type;
	e->stream = stream;
	e->len = len;
	hash(d, len, e->hash);
}

static unsigned int pick_type(struct in *in)
{
	unsigned int t = in_u8(in);

	return t < 2 * NR_TYPES ? msg_types[t % NR_TYPES] : t;
}

static void op_frame(struct session *s, struct in *in)
{
	unsigned int type = pick_type(in);
	uint32_t stream = in_u8(in);
	const uint8_t *p;
	uint32_t len = (uint32_t)in_take(in, &p, in_u16(in));
	int err = bp_conn_send(&s->a, type, stream, p, len);

	fuzz_assert(err == 0);
	expect(s, type, stream, p, len);
}

/*
 * A large frame, made of one pattern, of a size at one of the reader's
 * edges: just within and just past its first buffer, past what it has
 * grown to, and past the protocol's limit (refused by the sender, so never
 * sent).  A full BPROC_MAX_PAYLOAD frame takes nothing more than the
 * 131072-byte one does, only longer.
 */
static void op_big(struct session *s, struct in *in)
{
	static const uint32_t sizes[] = {
		65536 - 32, 65537,	65536 - 32,	      131072,
		65537,	    65536 - 32, BPROC_MAX_PAYLOAD + 1
	};
	static uint8_t *pattern;
	unsigned int type = pick_type(in);
	uint32_t stream = in_u8(in);
	uint32_t len = sizes[in_u8(in) % (sizeof(sizes) / sizeof(sizes[0]))];
	uint32_t i;

	if (len > BPROC_MAX_PAYLOAD) {
		fuzz_assert(bp_conn_send(&s->a, type, stream, s, len) ==
			    -EMSGSIZE);
		fuzz_assert(!bp_conn_room(&s->a, len));
		return;
	}
	if (!pattern) {
		pattern = malloc(131072);
		fuzz_assert(pattern);
		for (i = 0; i < 131072; i++)
			pattern[i] = (uint8_t)(i * 7 + i / 251);
	}
	fuzz_assert(bp_conn_send(&s->a, type, stream, pattern, len) == 0);
	expect(s, type, stream, pattern, len);
}

static void op_room(struct session *s, struct in *in)
{
	unsigned int type = pick_type(in);
	uint32_t stream = in_u8(in);
	uint32_t room = in_u16(in), len = in_u16(in);
	const uint8_t *src;
	uint8_t *p;

	if (len > room)
		len = room;
	p = bp_conn_room(&s->a, room);
	fuzz_assert(p);
	len = (uint32_t)in_take(in, &src, len);
	memcpy(p, src, len);
	bp_conn_commit(&s->a, type, stream, len);
	expect(s, type, stream, p, len);
}

static void op_raw(struct session *s, struct in *in)
{
	const uint8_t *p;
	size_t n = in_take(in, &p, in_u8(in) + 1);

	while (bp_conn_pending(&s->a))
		if (!pump(s))
			return;
	if (write(s->sv[0], p, n) > 0)
		s->clean = false;
}

static void op_flip(struct session *s, struct in *in)
{
	size_t at = in_u16(in);
	uint8_t x = (uint8_t)(in_u8(in) | 1);

	if (!bp_conn_pending(&s->a))
		return;
	s->a.wbuf[s->a.woff + at % (s->a.wlen - s->a.woff)] ^= x;
	s->clean = false;
}

static void run_session(size_t chunk, struct in *in)
{
	struct session *s = calloc(1, sizeof(*s));
	unsigned int i;
	int bufsz = (int)chunk;

	fuzz_assert(s);
	s->clean = true;
	fuzz_assert(socketpair(AF_UNIX,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       s->sv) == 0);
	/* a small socket buffer cuts frames at other places */
	if (chunk < 65536)
		setsockopt(s->sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz,
			   sizeof(bufsz));
	fuzz_assert(bp_conn_init(&s->a, s->sv[0], true, BPROC_ROLE_AGENT,
				 "node1", &key, "fuzz-a") == 0);
	fuzz_assert(bp_conn_init(&s->b, s->sv[1], false, BPROC_ROLE_MASTER,
				 "master", &key, "fuzz-b") == 0);
	for (i = 0; i < 8 && (s->a.state != BP_CONN_READY ||
			      s->b.state != BP_CONN_READY);
	     i++) {
		fuzz_assert(bp_conn_flush(&s->a) >= 0);
		fuzz_assert(bp_conn_read(&s->b, b_frame, s) == 0);
		fuzz_assert(bp_conn_flush(&s->b) >= 0);
		fuzz_assert(bp_conn_read(&s->a, a_frame, s) == 0);
	}
	fuzz_assert(s->a.state == BP_CONN_READY && s->b.state == BP_CONN_READY);
	fuzz_assert(!strcmp(s->b.peer_node, "node1") &&
		    !strcmp(s->a.peer_node, "master"));

	while (in->off < in->len && !s->b_dead) {
		/* frames go in batches: b reads many at once, as it would */
		if (s->tail - s->head >= EXPECT_MAX ||
		    s->a.wlen - s->a.woff > (512u << 10))
			pump(s);
		switch (in_u8(in) % 8) {
		default:
			op_frame(s, in);
			break;
		case 3:
			op_room(s, in);
			break;
		case 4:
			op_raw(s, in);
			break;
		case 5:
			op_flip(s, in);
			break;
		case 6:
			/* one large frame a run: they cost the most */
			if (!s->big++)
				op_big(s, in);
			break;
		}
	}
	if (pump(s) && s->clean) {
		/* everything sent arrived, and every PING was answered */
		fuzz_assert(s->head == s->tail);
		fuzz_assert(s->pongs_seen == s->pongs_due);
	}
	for (i = 0; i < s->nr_kept; i++)
		free(s->kept[i]);
	bp_conn_destroy(&s->a);
	bp_conn_destroy(&s->b);
	free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_assert(sodium_init() >= 0);
	memset(key.k, 0x5a, sizeof(key.k));
	bp_log_init("fuzz_frame", LOG_DEBUG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { .p = data, .len = size };
	unsigned int mode = in_u8(&in), cut = in_u8(&in);
	size_t chunk = cut ? cut * 61u : 1u << 20;

	switch (mode % 3) {
	case 0:
		run_raw(false, chunk, data + in.off, size - in.off);
		break;
	case 1:
		run_raw(true, chunk, data + in.off, size - in.off);
		break;
	case 2:
		run_session(chunk, &in);
		break;
	}
	return 0;
}
