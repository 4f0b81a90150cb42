// SPDX-License-Identifier: GPL-2.0
/*
 * seedgen - write the seed corpora of fuzz_procmsg and fuzz_frame with the
 * real encoders, so that the seeds follow the protocol as it changes:
 *
 *   seedgen DIR     writes the seeds under DIR/fuzz_procmsg and DIR/fuzz_frame
 *
 * A procmsg seed is the message's index (fuzz_procmsg.c) and a payload as
 * bp_send_* makes it; a frame seed is a raw peer's handshake (a HELLO and
 * an AUTH) or a session script that sends each message once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/conn.h"
#include "../common/procmsg.h"

#define HDR_BYTES sizeof(struct bproc_frame_hdr)

static const char *outdir;

static void put(const char *target, const char *name, const void *a,
		size_t alen, const void *b, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "w");
	if (!f || fwrite(a, 1, alen, f) != alen ||
	    (blen && fwrite(b, 1, blen, f) != blen) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static struct bp_conn conn;

static void conn_reset(void)
{
	free(conn.wbuf);
	memset(&conn, 0, sizeof(conn));
	conn.fd = -1;
	conn.state = BP_CONN_READY;
}

/* The payload of the one frame the encoder queued. */
static const uint8_t *payload(uint32_t *len, unsigned int *type)
{
	const uint8_t *h = conn.wbuf;

	*len = h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24;
	*type = h[4] | h[5] << 8;
	return h + HDR_BYTES;
}

/* fuzz_frame session script: one op 0 frame per message. */
static uint8_t script[1 << 16];
static size_t script_len;

static void script_add(unsigned int type_index, const uint8_t *p, uint32_t len)
{
	uint8_t op[5] = { 0, (uint8_t)type_index, 1, (uint8_t)len,
			  (uint8_t)(len >> 8) };

	memcpy(script + script_len, op, sizeof(op));
	memcpy(script + script_len + sizeof(op), p, len);
	script_len += sizeof(op) + len;
}

/* fuzz_frame.c's msg_types order */
static int frame_index(unsigned int type)
{
	static const unsigned int order[] = {
		BPROC_MSG_BYE,		BPROC_MSG_PING,
		BPROC_MSG_PONG,		BPROC_MSG_STATUS,
		BPROC_MSG_STATUS_ACK,	BPROC_MSG_MOVE_ORDER,
		BPROC_MSG_MOVE_RESULT,	BPROC_MSG_MOVE_ARMED,
		BPROC_MSG_PROC_REPORT,	BPROC_MSG_IMAGE_BEGIN,
		BPROC_MSG_IMAGE_DATA,	BPROC_MSG_IMAGE_END,
		BPROC_MSG_IMAGE_RESULT, BPROC_MSG_IMAGE_STREAMS,
		BPROC_MSG_SIGNAL,	BPROC_MSG_IO_DATA,
		BPROC_MSG_IO_EOF,	BPROC_MSG_IO_MARK,
		BPROC_MSG_IO_ACK,	BPROC_MSG_EXIT,
	};
	unsigned int i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] == type)
			return (int)i;
	return -1;
}

/* The frame conn holds, as seed index idx of fuzz_procmsg and in the script. */
static void emit(int idx, const char *name)
{
	uint8_t sel = (uint8_t)idx;
	unsigned int type;
	uint32_t len;
	const uint8_t *p = payload(&len, &type);
	int fi = frame_index(type);

	put("fuzz_procmsg", name, &sel, 1, p, len);
	if (fi >= 0 && script_len + len + 5 < sizeof(script))
		script_add((unsigned int)fi, p, len);
	conn_reset();
}

static void frame(uint8_t *out, unsigned int type, const void *p, uint32_t len)
{
	memset(out, 0, HDR_BYTES);
	bp_put_u32(out, len);
	out[4] = (uint8_t)type;
	out[6] = BPROC_PROTO_VERSION;
	memcpy(out + HDR_BYTES, p, len);
}

static void raw_seeds(void)
{
	uint8_t hello[sizeof(struct bproc_msg_hello)] = { 0 };
	uint8_t auth[BPROC_PROOF_BYTES];
	uint8_t b[2 + 2 * (HDR_BYTES + sizeof(hello))];
	size_t n;

	/* to a listener: an agent's HELLO, then a (wrong) AUTH */
	b[0] = 0;
	b[1] = 0;
	bp_put_u32(hello, BPROC_ROLE_AGENT);
	memset(hello + 8, 0x11, BPROC_NONCE_BYTES);
	memcpy(hello + 8 + BPROC_NONCE_BYTES, "node1", 5);
	frame(b + 2, BPROC_MSG_HELLO, hello, sizeof(hello));
	memset(auth, 0x22, sizeof(auth));
	n = 2 + HDR_BYTES + sizeof(hello);
	frame(b + n, BPROC_MSG_AUTH, auth, sizeof(auth));
	n += HDR_BYTES + sizeof(auth);
	put("fuzz_frame", "raw-server-handshake", b, n, NULL, 0);
	b[1] = 3; /* cut in 183-byte pieces */
	put("fuzz_frame", "raw-server-cut", b, n, NULL, 0);

	/* to a connecting side: the master's HELLO, then an AUTH */
	b[0] = 1;
	b[1] = 0;
	memset(hello, 0, sizeof(hello));
	bp_put_u32(hello, BPROC_ROLE_MASTER);
	memset(hello + 8, 0x33, BPROC_NONCE_BYTES);
	memcpy(hello + 8 + BPROC_NONCE_BYTES, "master", 6);
	frame(b + 2, BPROC_MSG_HELLO, hello, sizeof(hello));
	n = 2 + HDR_BYTES + sizeof(hello);
	frame(b + n, BPROC_MSG_AUTH, auth, sizeof(auth));
	n += HDR_BYTES + sizeof(auth);
	put("fuzz_frame", "raw-client-handshake", b, n, NULL, 0);
}

int main(int argc, char **argv)
{
	struct bp_move_order mo = { .move_id = 7, .pid = 1234 };
	struct bp_move_result mr = {
		.move_id = 7, .pid = 1234, .bytes = 81920, .usec = 43000
	};
	struct bp_proc_report pr = {
		.pid = 1234, .uid = 1000, .rss_kb = 512, .state = 'S'
	};
	struct bp_image_begin ib = { .move_id = 7, .pid = 1234, .ppid = 1200 };
	struct bp_image_end ie = { .bytes = 81920 };
	struct bp_stream st[3] = { { 1, 1, 0 }, { 2, 1, 0 }, { 10, 10, 0 } };
	struct bp_exit ex = { .pid = 1234, .status = 3 << 8 };
	struct bp_status s = { .flags = BPROC_STATUS_ENGINE,
			       .cpus = 2,
			       .mem_total_kb = 1 << 20,
			       .mem_avail_kb = 1 << 19,
			       .load_milli = { 250, 100, 50 },
			       .procs = 42 };
	uint8_t sb[sizeof(struct bproc_msg_status)], sel;
	uint8_t head[2] = { 2, 0 };
	unsigned int i;

	if (argc != 2) {
		fprintf(stderr, "usage: seedgen DIR\n");
		return 2;
	}
	outdir = argv[1];
	conn_reset();
	snprintf(mo.dest, sizeof(mo.dest), "node5");
	snprintf(mo.dest_addr, sizeof(mo.dest_addr), "10.0.0.5:2224");
	snprintf(mr.reason, sizeof(mr.reason), "node5: ENOMEM: not enough");
	snprintf(pr.comm, sizeof(pr.comm), "sim");
	snprintf(ib.origin, sizeof(ib.origin), "master");
	snprintf(ex.reason, sizeof(ex.reason), "exited");
	snprintf(s.kernel, sizeof(s.kernel), "6.1.0-cloud-amd64");
	snprintf(s.engine, sizeof(s.engine), "bproc 1.4");

	bp_send_move_order(&conn, &mo), emit(0, "move-order");
	bp_send_move_armed(&conn, 7), emit(1, "move-armed");
	bp_send_move_result(&conn, &mr), emit(2, "move-result");
	bp_send_proc_report(&conn, &pr), emit(3, "proc-report");
	bp_send_image_begin(&conn, 1, &ib), emit(4, "image-begin");
	bp_send_image_end(&conn, 1, &ie), emit(5, "image-end");
	bp_send_image_fetched(&conn, 1, &ie), emit(29, "image-fetched");
	{
		struct bp_image_ref ir = { .move_id = 7,
					   .pid = 1234,
					   .bytes = 81920 };

		bp_send_image_ref(&conn, BPROC_MSG_IMAGE_KEEP, 1, &ir),
			emit(28, "image-keep");
		snprintf(ir.node, sizeof(ir.node), "node5");
		snprintf(ir.addr, sizeof(ir.addr), "10.0.0.5:2224");
		bp_send_image_ref(&conn, BPROC_MSG_IMAGE_FETCH, 1, &ir),
			emit(52, "image-fetch");
	}
	bp_send_image_result(&conn, 1, EBUSY, "its pid is taken here"),
		emit(6, "image-result");
	bp_send_image_streams(&conn, 1, st, 3), emit(7, "image-streams");
	bp_send_signal(&conn, 1234, 15), emit(8, "signal");
	bp_send_tsignal(&conn, 1234, 1240, 10), emit(8, "signal-thread");
	bp_send_io(&conn, BPROC_MSG_IO_DATA, 1234, 1, 0, "hello\n", 6),
		emit(9, "io-data");
	bp_send_io(&conn, BPROC_MSG_IO_EOF, 1234, 0, 0, NULL, 0),
		emit(10, "io-eof");
	bp_send_io_mark(&conn, 1234, 7, 0), emit(11, "io-mark");
	bp_send_io_ack(&conn, 1234, 1, 4096), emit(12, "io-ack");
	bp_send_exit(&conn, &ex), emit(13, "exit");
	bp_status_encode(&s, sb);
	sel = 14;
	put("fuzz_procmsg", "status", &sel, 1, sb, sizeof(sb));
	script_add((unsigned int)frame_index(BPROC_MSG_STATUS), sb, sizeof(sb));
	bp_send_bye(&conn, 1, "shutting down"), emit(15, "bye");
	bp_send_ping(&conn, BPROC_MSG_PING, 99), emit(16, "ping");
	bp_send_ping(&conn, BPROC_MSG_PING, 99);
	{
		unsigned int type;
		uint32_t len;
		const uint8_t *p = payload(&len, &type);

		sel = 17;
		put("fuzz_procmsg", "pong", &sel, 1, p, len);
		conn_reset();
	}
	{
		struct bp_proc_fork pf = { .pid = 2099200,
					   .ppid = 1234,
					   .uid = 1000 };

		snprintf(pf.comm, sizeof(pf.comm), "sleep");
		bp_send_pid_range(&conn, 2099200, 2101248),
			emit(18, "pid-range");
		bp_send_proc_fork(&conn, &pf), emit(19, "proc-fork");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_GHOST, 2099200, EEXIST),
			emit(20, "proc-ghost");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_REAPED, 2099200, 0),
			emit(44, "proc-reaped");
		bp_send_pid_pair(&conn, BPROC_MSG_STREAM_OWNER, 2099200, 1234),
			emit(68, "stream-owner");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_PGRP, 2099201, 2099200),
			emit(92, "proc-pgrp");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_SESSION, 2099201,
				 2099201),
			emit(116, "proc-session");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_PARENT, 2099201, 1),
			emit(140, "proc-parent");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_THREAD, 1234, 2099202),
			emit(164, "proc-thread");
		bp_send_pid_pair(&conn, BPROC_MSG_PROC_THREAD_END, 1234,
				 2099202),
			emit(188, "proc-thread-end");
		{
			static const char args[] = "make\0-j4\0";
			struct bp_proc_exec px = {
				.pid = 2099200,
				.args = (const uint8_t *)args,
				.args_len = sizeof(args) - 1
			};

			snprintf(px.comm, sizeof(px.comm), "make");
			bp_send_proc_exec(&conn, &px), emit(21, "proc-exec");
		}
	}
	{
		static const uint8_t verdicts[3] = { BPROC_FILE_MISSING,
						     BPROC_FILE_SAME,
						     BPROC_FILE_DIFFERS };
		struct bp_file fl[3] = {
			{ .size = 16384,
			  .mtime_ns = 1764900000123456789ull,
			  .kind = BPROC_FILE_EXEC,
			  .build_id_len = 20,
			  .path = "/tmp/only-here/prog" },
			{ .size = 1922136,
			  .mtime_ns = 1700000000000000000ull,
			  .kind = BPROC_FILE_LIB,
			  .build_id_len = 20,
			  .path = "/lib/x86_64-linux-gnu/libc.so.6" },
			{ .size = 4096,
			  .mtime_ns = 1764900000000000000ull,
			  .kind = BPROC_FILE_OTHER,
			  .path = "/var/lib/data.bin" },
		};

		for (i = 0; i < 20; i++) {
			fl[0].build_id[i] = (uint8_t)(0xa0 + i);
			fl[1].build_id[i] = (uint8_t)(0x10 + i);
		}
		bp_send_files_query(&conn, 1, fl, 3), emit(22, "files-query");
		bp_send_files_answer(&conn, 1, verdicts, 3),
			emit(23, "files-answer");
	}
	put("fuzz_frame", "session-every-message", head, 2, script, script_len);

	/* a session with a big IMAGE_DATA kept by the receiver, then a PING */
	script_len = 0;
	script[script_len++] = 6; /* op_big */
	script[script_len++] = (uint8_t)frame_index(BPROC_MSG_IMAGE_DATA);
	script[script_len++] = 1; /* odd stream: the buffer is kept */
	script[script_len++] = 3; /* 131072 bytes */
	for (i = 0; i < 2; i++) {
		uint8_t ping[8] = { 1, 2, 3, 4, 5, 6, 7, (uint8_t)i };

		script_add((unsigned int)frame_index(BPROC_MSG_PING), ping,
			   sizeof(ping));
	}
	head[1] = 5;
	put("fuzz_frame", "session-big-image", head, 2, script, script_len);
	raw_seeds();
	free(conn.wbuf);
	return 0;
}
