// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_procmsg - the decoders of the messages that move processes and carry
 * their signals, IO and exits (common/procmsg.c), and the fixed messages of
 * common/conn.c (STATUS, BYE, PING).
 *
 * The first input byte picks the message, the rest is its payload as a
 * frame would carry it.  A payload that decodes must encode again (with the
 * real bp_send_* into a connection's send buffer) into one that decodes to
 * exactly the same thing: decode(encode(decode(x))) == decode(x).
 */
#include <errno.h>
#include <string.h>

#include "../common/conn.h"
#include "../common/procmsg.h"
#include "fuzz.h"

#define HDR_BYTES sizeof(struct bproc_frame_hdr)

/* A connection that only queues: what an encoder sent stays in wbuf. */
static void conn_open(struct bp_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = BP_CONN_READY;
}

/* The one frame queued on c: its type, stream and payload. */
static const uint8_t *conn_frame(struct bp_conn *c, unsigned int *type,
				 uint32_t *stream, uint32_t *len)
{
	const uint8_t *h = c->wbuf;

	fuzz_assert(c->wlen >= HDR_BYTES + BPROC_MAC_BYTES);
	*len = h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24;
	*type = h[4] | h[5] << 8;
	*stream = h[8] | h[9] << 8 | h[10] << 16 | (uint32_t)h[11] << 24;
	fuzz_assert(c->wlen == HDR_BYTES + *len + BPROC_MAC_BYTES);
	fuzz_assert(h[6] == BPROC_PROTO_VERSION && !h[7]);
	return h + HDR_BYTES;
}

static void conn_close(struct bp_conn *c)
{
	free(c->wbuf);
}

/*
 * Each case: decode into a, and if that worked, send a, take the frame,
 * check its type, decode it into b and compare.
 */
#define ROUND_TRIP(msgtype, decl, dec_a, send, dec_b, same) \
	do {                                                \
		decl;                                       \
		if (dec_a)                                  \
			break;                              \
		conn_open(&c);                              \
		fuzz_assert((send) == 0);                   \
		p = conn_frame(&c, &type, &stream, &plen);  \
		fuzz_assert(type == (msgtype));             \
		fuzz_assert((dec_b) == 0);                  \
		fuzz_assert(same);                          \
		conn_close(&c);                             \
	} while (0)

#define SAME(x, y) (!memcmp(&(x), &(y), sizeof(x)))

/* Two decoded FILES_QUERY lists: the same files, paths compared as text. */
static bool same_files(const struct bp_file *a, const struct bp_file *b,
		       uint32_t nr)
{
	uint32_t i;

	for (i = 0; i < nr; i++)
		if (a[i].size != b[i].size || a[i].mtime_ns != b[i].mtime_ns ||
		    a[i].kind != b[i].kind ||
		    a[i].build_id_len != b[i].build_id_len ||
		    memcmp(a[i].build_id, b[i].build_id, BPROC_BUILD_ID_MAX) ||
		    strcmp(a[i].path, b[i].path))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *d = data + 1, *p;
	uint32_t len = size ? (uint32_t)(size - 1) : 0;
	unsigned int type;
	uint32_t stream, plen;
	struct bp_conn c;

	if (!size)
		return 0;
	switch (data[0] % 24) {
	case 0:
		ROUND_TRIP(BPROC_MSG_MOVE_ORDER, struct bp_move_order a = { 0 };
			   struct bp_move_order b = { 0 },
			   bp_move_order_decode(d, len, &a),
			   bp_send_move_order(&c, &a),
			   bp_move_order_decode(p, plen, &b), SAME(a, b));
		break;
	case 1:
		ROUND_TRIP(BPROC_MSG_MOVE_ARMED, uint64_t a = 0;
			   uint64_t b = 0, bp_move_armed_decode(d, len, &a),
			   bp_send_move_armed(&c, a),
			   bp_move_armed_decode(p, plen, &b), a == b);
		break;
	case 2:
		ROUND_TRIP(BPROC_MSG_MOVE_RESULT,
			   struct bp_move_result a = { 0 };
			   struct bp_move_result b = { 0 },
			   bp_move_result_decode(d, len, &a),
			   bp_send_move_result(&c, &a),
			   bp_move_result_decode(p, plen, &b), SAME(a, b));
		break;
	case 3:
		ROUND_TRIP(BPROC_MSG_PROC_REPORT,
			   struct bp_proc_report a = { 0 };
			   struct bp_proc_report b = { 0 },
			   bp_proc_report_decode(d, len, &a),
			   bp_send_proc_report(&c, &a),
			   bp_proc_report_decode(p, plen, &b), SAME(a, b));
		break;
	case 4:
		if (data[0] / 24 % 3) {
			/* IMAGE_KEEP, IMAGE_FETCH */
			unsigned int t = data[0] / 24 % 3 == 1 ?
						 BPROC_MSG_IMAGE_KEEP :
						 BPROC_MSG_IMAGE_FETCH;

			ROUND_TRIP(t, struct bp_image_ref a = { 0 };
				   struct bp_image_ref b = { 0 },
				   bp_image_ref_decode(d, len, t, &a),
				   bp_send_image_ref(&c, t, 4, &a),
				   bp_image_ref_decode(p, plen, t, &b),
				   SAME(a, b) && stream == 4);
			break;
		}
		ROUND_TRIP(BPROC_MSG_IMAGE_BEGIN,
			   struct bp_image_begin a = { 0 };
			   struct bp_image_begin b = { 0 },
			   bp_image_begin_decode(d, len, &a),
			   bp_send_image_begin(&c, 7, &a),
			   bp_image_begin_decode(p, plen, &b),
			   SAME(a, b) && stream == 7);
		break;
	case 5:
		if (data[0] / 24 % 2) {
			ROUND_TRIP(BPROC_MSG_IMAGE_FETCHED,
				   struct bp_image_end a = { 0 };
				   struct bp_image_end b = { 0 },
				   bp_image_end_decode(d, len, &a),
				   bp_send_image_fetched(&c, 3, &a),
				   bp_image_end_decode(p, plen, &b),
				   SAME(a, b) && stream == 3);
			break;
		}
		ROUND_TRIP(BPROC_MSG_IMAGE_END, struct bp_image_end a = { 0 };
			   struct bp_image_end b = { 0 },
			   bp_image_end_decode(d, len, &a),
			   bp_send_image_end(&c, 3, &a),
			   bp_image_end_decode(p, plen, &b),
			   SAME(a, b) && stream == 3);
		break;
	case 6:
		ROUND_TRIP(BPROC_MSG_IMAGE_RESULT, uint32_t ea = 0;
			   uint32_t eb = 0; char ra[BPROC_REASON_BYTES] = "";
			   char rb[BPROC_REASON_BYTES] = "",
			   bp_image_result_decode(d, len, &ea, ra),
			   bp_send_image_result(&c, 2, ea, ra),
			   bp_image_result_decode(p, plen, &eb, rb),
			   ea == eb && SAME(ra, rb) && stream == 2);
		break;
	case 7: {
		static struct bp_stream sa[BPROC_STREAMS_MAX],
			sb[BPROC_STREAMS_MAX];

		memset(sa, 0, sizeof(sa));
		memset(sb, 0, sizeof(sb));
		ROUND_TRIP(BPROC_MSG_IMAGE_STREAMS, uint32_t na = 0;
			   uint32_t nb = 0,
			   bp_image_streams_decode(d, len, sa, &na),
			   bp_send_image_streams(&c, 1, sa, na),
			   bp_image_streams_decode(p, plen, sb, &nb),
			   na == nb && !memcmp(sa, sb, na * sizeof(*sa)));
		break;
	}
	case 8:
		ROUND_TRIP(BPROC_MSG_SIGNAL, uint32_t pa = 0; uint32_t sa = 0;
			   uint32_t ta = 0; uint32_t pb = 0; uint32_t tb = 0;
			   uint32_t sb = 0,
			   bp_signal_decode(d, len, &pa, &ta, &sa),
			   bp_send_tsignal(&c, pa, ta, sa),
			   bp_signal_decode(p, plen, &pb, &tb, &sb),
			   pa == pb && ta == tb && sa == sb);
		break;
	case 9:
	case 10: {
		unsigned int t = data[0] % 24 == 9 ? BPROC_MSG_IO_DATA :
						     BPROC_MSG_IO_EOF;

		ROUND_TRIP(t, uint32_t pa = 0; unsigned int fa = 0;
			   unsigned int la = 0; const uint8_t *da = NULL;
			   uint32_t na = 0; uint32_t pb = 0;
			   unsigned int fb = 0; unsigned int lb = 0;
			   const uint8_t *db = NULL;
			   uint32_t nb = 0,
			   bp_io_decode(t, d, len, &pa, &fa, &la, &da, &na),
			   bp_send_io(&c, t, pa, fa, la, da, na),
			   bp_io_decode(t, p, plen, &pb, &fb, &lb, &db, &nb),
			   pa == pb && fa == fb && la == lb && na == nb &&
				   (!na || !memcmp(da, db, na)));
		break;
	}
	case 11:
		ROUND_TRIP(BPROC_MSG_IO_MARK, uint32_t pa = 0; uint64_t ma = 0;
			   uint32_t ua = 0; uint32_t pb = 0; uint64_t mb = 0;
			   uint32_t ub = 0,
			   bp_io_mark_decode(d, len, &pa, &ma, &ua),
			   bp_send_io_mark(&c, pa, ma, ua),
			   bp_io_mark_decode(p, plen, &pb, &mb, &ub),
			   pa == pb && ma == mb && ua == ub);
		break;
	case 12:
		ROUND_TRIP(BPROC_MSG_IO_ACK, uint32_t pa = 0;
			   unsigned int fa = 0; uint32_t ba = 0;
			   uint32_t pb = 0; unsigned int fb = 0;
			   uint32_t bb = 0,
			   bp_io_ack_decode(d, len, &pa, &fa, &ba),
			   bp_send_io_ack(&c, pa, fa, ba),
			   bp_io_ack_decode(p, plen, &pb, &fb, &bb),
			   pa == pb && fa == fb && ba == bb);
		break;
	case 13:
		ROUND_TRIP(BPROC_MSG_EXIT, struct bp_exit a = { 0 };
			   struct bp_exit b = { 0 }, bp_exit_decode(d, len, &a),
			   bp_send_exit(&c, &a), bp_exit_decode(p, plen, &b),
			   SAME(a, b));
		break;
	case 14: {
		/* STATUS has no bp_send_*: its encoder fills the payload */
		struct bp_status a = { 0 }, b = { 0 };
		uint8_t out[sizeof(struct bproc_msg_status)];

		if (bp_status_decode(d, len, &a))
			break;
		bp_status_encode(&a, out);
		fuzz_assert(bp_status_decode(out, sizeof(out), &b) == 0);
		fuzz_assert(SAME(a, b));
		break;
	}
	case 15:
		ROUND_TRIP(BPROC_MSG_BYE, uint32_t ra = 0; char ta[56] = "";
			   uint32_t rb = 0;
			   char tb[56] = "", bp_bye_decode(d, len, &ra, ta),
			   bp_send_bye(&c, ra, ta),
			   bp_bye_decode(p, plen, &rb, tb),
			   ra == rb && SAME(ta, tb));
		break;
	case 16:
		ROUND_TRIP(BPROC_MSG_PING, uint64_t a = 0;
			   uint64_t b = 0, bp_ping_decode(d, len, &a),
			   bp_send_ping(&c, BPROC_MSG_PING, a),
			   bp_ping_decode(p, plen, &b), a == b);
		break;
	case 17:
		/* PING answered: the PONG carries the cookie back */
		ROUND_TRIP(BPROC_MSG_PONG, uint64_t a = 0;
			   uint64_t b = 0, bp_ping_decode(d, len, &a),
			   bp_answer_ping(&c, d, len),
			   bp_ping_decode(p, plen, &b), a == b);
		break;
	case 18:
		ROUND_TRIP(BPROC_MSG_PID_RANGE, uint32_t la = 0;
			   uint32_t ha = 0; uint32_t lb = 0;
			   uint32_t hb = 0,
			   bp_pid_range_decode(d, len, &la, &ha),
			   bp_send_pid_range(&c, la, ha),
			   bp_pid_range_decode(p, plen, &lb, &hb),
			   la == lb && ha == hb);
		break;
	case 19:
		ROUND_TRIP(BPROC_MSG_PROC_FORK, struct bp_proc_fork a = { 0 };
			   struct bp_proc_fork b = { 0 },
			   bp_proc_fork_decode(d, len, &a),
			   bp_send_proc_fork(&c, &a),
			   bp_proc_fork_decode(p, plen, &b), SAME(a, b));
		break;
	case 21:
		ROUND_TRIP(BPROC_MSG_PROC_EXEC, struct bp_proc_exec a = { 0 };
			   struct bp_proc_exec b = { 0 },
			   bp_proc_exec_decode(d, len, &a),
			   bp_send_proc_exec(&c, &a),
			   bp_proc_exec_decode(p, plen, &b),
			   a.pid == b.pid && SAME(a.comm, b.comm) &&
				   a.args_len == b.args_len &&
				   (!a.args_len ||
				    !memcmp(a.args, b.args, a.args_len)));
		break;
	case 20: {
		/* the eight messages of a pid and another number */
		static const unsigned int types[] = {
			BPROC_MSG_PROC_GHOST,	BPROC_MSG_PROC_REAPED,
			BPROC_MSG_STREAM_OWNER, BPROC_MSG_PROC_PGRP,
			BPROC_MSG_PROC_SESSION, BPROC_MSG_PROC_PARENT,
			BPROC_MSG_PROC_THREAD,	BPROC_MSG_PROC_THREAD_END
		};
		unsigned int t = types[data[0] / 24 % 8];

		ROUND_TRIP(t, uint32_t pa = 0; uint32_t oa = 0; uint32_t pb = 0;
			   uint32_t ob = 0,
			   bp_pid_pair_decode(t, d, len, &pa, &oa),
			   bp_send_pid_pair(&c, t, pa, oa),
			   bp_pid_pair_decode(t, p, plen, &pb, &ob),
			   pa == pb && oa == ob);
		break;
	}
	case 22: {
		static struct bp_file fa[BPROC_FILES_MAX], fb[BPROC_FILES_MAX];

		ROUND_TRIP(BPROC_MSG_FILES_QUERY, uint32_t na = 0;
			   uint32_t nb = 0,
			   bp_files_query_decode(d, len, fa, &na),
			   bp_send_files_query(&c, 4, fa, na),
			   bp_files_query_decode(p, plen, fb, &nb),
			   na == nb && stream == 4 && same_files(fa, fb, na));
		break;
	}
	case 23: {
		uint8_t va[BPROC_FILES_MAX], vb[BPROC_FILES_MAX];

		ROUND_TRIP(BPROC_MSG_FILES_ANSWER, uint32_t na = 0;
			   uint32_t nb = 0,
			   bp_files_answer_decode(d, len, va, &na),
			   bp_send_files_answer(&c, 4, va, na),
			   bp_files_answer_decode(p, plen, vb, &nb),
			   na == nb && stream == 4 && !memcmp(va, vb, na));
		break;
	}
	}
	return 0;
}
