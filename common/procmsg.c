// SPDX-License-Identifier: GPL-2.0
/*
 * Encoders and decoders of the process messages (procmsg.h).  Strings go on
 * the wire NUL-padded and printable: anything else becomes '?', so that a
 * reason quoting a path never gets a frame refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procmsg.h"

static void put_str(uint8_t *p, const char *s, size_t n)
{
	size_t i;

	memset(p, 0, n);
	for (i = 0; s && s[i] && i < n - 1; i++)
		p[i] = s[i] >= 0x20 && s[i] <= 0x7e ? (uint8_t)s[i] : '?';
}

static int rd_zero(struct bp_rd *r, size_t n)
{
	uint8_t z[16];

	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		size_t i;

		if (bp_rd_bytes(r, z, k))
			return -EPROTO;
		for (i = 0; i < k; i++)
			if (z[i]) {
				r->bad = true;
				return -EPROTO;
			}
		n -= k;
	}
	return 0;
}

int bp_send_move_order(struct bp_conn *c, const struct bp_move_order *m)
{
	uint8_t b[sizeof(struct bproc_msg_move_order)];

	memset(b, 0, sizeof(b));
	bp_put_u64(b, m->move_id);
	bp_put_u32(b + 8, m->pid);
	bp_put_u32(b + 12, m->flags);
	bp_put_u32(b + 16, m->dump_flags);
	bp_put_u32(b + 20, m->send);
	put_str(b + 24, m->dest, BPROC_NODE_NAME_MAX);
	put_str(b + 40, m->dest_addr, 48);
	bp_put_u32(b + 88, m->copy_of);
	return bp_conn_send(c, BPROC_MSG_MOVE_ORDER, 0, b, sizeof(b));
}

int bp_move_order_decode(const uint8_t *d, uint32_t len,
			 struct bp_move_order *m)
{
	struct bp_rd r;
	uint32_t pad;

	bp_rd_init(&r, d, len);
	bp_rd_u64(&r, &m->move_id);
	bp_rd_u32(&r, &m->pid);
	bp_rd_u32(&r, &m->flags);
	bp_rd_u32(&r, &m->dump_flags);
	if (!bp_rd_u32(&r, &m->send) && m->send > BPROC_SEND_MAX)
		return -EPROTO;
	bp_rd_str(&r, m->dest, sizeof(m->dest));
	bp_rd_str(&r, m->dest_addr, sizeof(m->dest_addr));
	bp_rd_u32(&r, &m->copy_of);
	if (!bp_rd_u32(&r, &pad) && pad)
		return -EPROTO;
	return bp_rd_end(&r);
}

int bp_send_move_armed(struct bp_conn *c, uint64_t move_id)
{
	uint8_t b[sizeof(struct bproc_msg_move_armed)];

	bp_put_u64(b, move_id);
	return bp_conn_send(c, BPROC_MSG_MOVE_ARMED, 0, b, sizeof(b));
}

int bp_move_armed_decode(const uint8_t *d, uint32_t len, uint64_t *move_id)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u64(&r, move_id);
	return bp_rd_end(&r);
}

int bp_send_move_result(struct bp_conn *c, const struct bp_move_result *m)
{
	uint8_t b[sizeof(struct bproc_msg_move_result)];

	bp_put_u64(b, m->move_id);
	bp_put_u32(b + 8, m->pid);
	bp_put_u32(b + 12, m->error);
	bp_put_u64(b + 16, m->bytes);
	bp_put_u64(b + 24, m->usec);
	put_str(b + 32, m->reason, BPROC_REASON_BYTES);
	return bp_conn_send(c, BPROC_MSG_MOVE_RESULT, 0, b, sizeof(b));
}

int bp_move_result_decode(const uint8_t *d, uint32_t len,
			  struct bp_move_result *m)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u64(&r, &m->move_id);
	bp_rd_u32(&r, &m->pid);
	bp_rd_u32(&r, &m->error);
	bp_rd_u64(&r, &m->bytes);
	bp_rd_u64(&r, &m->usec);
	bp_rd_str(&r, m->reason, sizeof(m->reason));
	return bp_rd_end(&r);
}

int bp_send_proc_report(struct bp_conn *c, const struct bp_proc_report *p)
{
	uint8_t b[sizeof(struct bproc_msg_proc_report)];

	memset(b, 0, sizeof(b));
	bp_put_u32(b, p->pid);
	bp_put_u32(b + 4, p->uid);
	bp_put_u64(b + 8, p->rss_kb);
	bp_put_u64(b + 16, p->utime_ms);
	bp_put_u64(b + 24, p->stime_ms);
	b[32] = p->state >= 0x20 && p->state <= 0x7e ? (uint8_t)p->state : '?';
	put_str(b + 40, p->comm, 16);
	return bp_conn_send(c, BPROC_MSG_PROC_REPORT, 0, b, sizeof(b));
}

int bp_proc_report_decode(const uint8_t *d, uint32_t len,
			  struct bp_proc_report *p)
{
	struct bp_rd r;
	uint8_t st;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, &p->pid);
	bp_rd_u32(&r, &p->uid);
	bp_rd_u64(&r, &p->rss_kb);
	bp_rd_u64(&r, &p->utime_ms);
	bp_rd_u64(&r, &p->stime_ms);
	bp_rd_bytes(&r, &st, 1);
	rd_zero(&r, 7);
	bp_rd_str(&r, p->comm, sizeof(p->comm));
	if (st < 0x20 || st > 0x7e)
		r.bad = true;
	p->state = (char)st;
	return bp_rd_end(&r);
}

int bp_send_image_begin(struct bp_conn *c, uint32_t transfer,
			const struct bp_image_begin *m)
{
	uint8_t b[sizeof(struct bproc_msg_image_begin)];

	memset(b, 0, sizeof(b));
	bp_put_u64(b, m->move_id);
	bp_put_u32(b + 8, m->pid);
	bp_put_u32(b + 12, m->flags);
	put_str(b + 16, m->origin, BPROC_NODE_NAME_MAX);
	bp_put_u32(b + 32, m->ppid);
	return bp_conn_send(c, BPROC_MSG_IMAGE_BEGIN, transfer, b, sizeof(b));
}

int bp_image_begin_decode(const uint8_t *d, uint32_t len,
			  struct bp_image_begin *m)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u64(&r, &m->move_id);
	bp_rd_u32(&r, &m->pid);
	bp_rd_u32(&r, &m->flags);
	bp_rd_str(&r, m->origin, sizeof(m->origin));
	bp_rd_u32(&r, &m->ppid);
	rd_zero(&r, 4);
	if (m->ppid >= BPROC_PID_MAX)
		r.bad = true;
	return bp_rd_end(&r);
}

static int send_end(struct bp_conn *c, unsigned int type, uint32_t transfer,
		    const struct bp_image_end *e)
{
	uint8_t b[sizeof(struct bproc_msg_image_end)];

	memset(b, 0, sizeof(b));
	bp_put_u64(b, e->bytes);
	bp_put_u32(b + 8, e->error);
	put_str(b + 16, e->reason, BPROC_REASON_BYTES);
	return bp_conn_send(c, type, transfer, b, sizeof(b));
}

int bp_send_image_end(struct bp_conn *c, uint32_t transfer,
		      const struct bp_image_end *e)
{
	return send_end(c, BPROC_MSG_IMAGE_END, transfer, e);
}

int bp_send_image_fetched(struct bp_conn *c, uint32_t transfer,
			  const struct bp_image_end *e)
{
	return send_end(c, BPROC_MSG_IMAGE_FETCHED, transfer, e);
}

int bp_send_image_ref(struct bp_conn *c, unsigned int type, uint32_t transfer,
		      const struct bp_image_ref *r)
{
	uint8_t b[sizeof(struct bproc_msg_image_ref)];

	memset(b, 0, sizeof(b));
	bp_put_u64(b, r->move_id);
	bp_put_u32(b + 8, r->pid);
	bp_put_u64(b + 16, r->bytes);
	put_str(b + 24, r->node, BPROC_NODE_NAME_MAX);
	put_str(b + 40, r->addr, sizeof(r->addr));
	return bp_conn_send(c, type, transfer, b, sizeof(b));
}

int bp_image_ref_decode(const uint8_t *d, uint32_t len, unsigned int type,
			struct bp_image_ref *r)
{
	struct bp_rd rd;

	bp_rd_init(&rd, d, len);
	bp_rd_u64(&rd, &r->move_id);
	bp_rd_u32(&rd, &r->pid);
	rd_zero(&rd, 4);
	bp_rd_u64(&rd, &r->bytes);
	bp_rd_str(&rd, r->node, sizeof(r->node));
	bp_rd_str(&rd, r->addr, sizeof(r->addr));
	if (!r->pid || r->pid >= BPROC_PID_MAX ||
	    r->bytes > BPROC_KEPT_IMAGE_MAX)
		rd.bad = true;
	/* a fetch names whom from, a keep nobody */
	if (type == BPROC_MSG_IMAGE_FETCH ?
		    !r->node[0] || !r->addr[0] || !r->bytes :
		    r->node[0] || r->addr[0])
		rd.bad = true;
	return bp_rd_end(&rd);
}

int bp_image_end_decode(const uint8_t *d, uint32_t len, struct bp_image_end *e)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u64(&r, &e->bytes);
	bp_rd_u32(&r, &e->error);
	rd_zero(&r, 4);
	bp_rd_str(&r, e->reason, sizeof(e->reason));
	return bp_rd_end(&r);
}

int bp_send_image_result(struct bp_conn *c, uint32_t transfer, uint32_t error,
			 const char *reason)
{
	uint8_t b[sizeof(struct bproc_msg_image_result)];

	memset(b, 0, sizeof(b));
	bp_put_u32(b, error);
	put_str(b + 8, reason, BPROC_REASON_BYTES);
	return bp_conn_send(c, BPROC_MSG_IMAGE_RESULT, transfer, b, sizeof(b));
}

int bp_image_result_decode(const uint8_t *d, uint32_t len, uint32_t *error,
			   char reason[BPROC_REASON_BYTES])
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, error);
	rd_zero(&r, 4);
	bp_rd_str(&r, reason, BPROC_REASON_BYTES);
	return bp_rd_end(&r);
}

int bp_send_image_streams(struct bp_conn *c, uint32_t transfer,
			  const struct bp_stream *s, uint32_t nr)
{
	size_t len = sizeof(struct bproc_msg_image_streams) +
		     (size_t)nr * sizeof(struct bproc_msg_stream);
	uint8_t *b;
	uint32_t i;
	int err;

	if (nr > BPROC_STREAMS_MAX)
		return -EINVAL;
	b = calloc(1, len);
	if (!b)
		return -ENOMEM;
	bp_put_u32(b, nr);
	for (i = 0; i < nr; i++) {
		uint8_t *e = b + 8 + 8 * i;

		if (s[i].stream >= BPROC_STREAMS_MAX ||
		    s[i].kind > BPROC_STREAM_KIND_MAX) {
			free(b);
			return -EINVAL;
		}
		bp_put_u32(e, s[i].fd);
		e[4] = s[i].stream & 0xff;
		e[5] = s[i].stream >> 8;
		e[6] = (uint8_t)s[i].kind;
	}
	err = bp_conn_send(c, BPROC_MSG_IMAGE_STREAMS, transfer, b,
			   (uint32_t)len);
	free(b);
	return err;
}

int bp_image_streams_decode(const uint8_t *d, uint32_t len, struct bp_stream *s,
			    uint32_t *nr)
{
	struct bp_rd r;
	uint32_t i, n;

	bp_rd_init(&r, d, len);
	if (bp_rd_u32(&r, &n) || rd_zero(&r, 4) || n > BPROC_STREAMS_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		uint8_t e[4];
		uint32_t k;

		bp_rd_u32(&r, &s[i].fd);
		bp_rd_bytes(&r, e, sizeof(e));
		s[i].stream = e[0] | (uint32_t)e[1] << 8;
		s[i].kind = e[2];
		if (r.bad || e[3] || s[i].stream >= BPROC_STREAMS_MAX ||
		    s[i].kind > BPROC_STREAM_KIND_MAX || s[i].fd > INT32_MAX ||
		    (i && s[i].fd <= s[i - 1].fd))
			return -EPROTO;
		/* one stream, one kind */
		for (k = 0; k < i; k++)
			if (s[k].stream == s[i].stream &&
			    s[k].kind != s[i].kind)
				return -EPROTO;
	}
	*nr = n;
	return bp_rd_end(&r);
}

/* An absolute path of n bytes (1..BPROC_FILE_PATH_MAX with its NUL). */
static bool path_ok(const char *p, size_t n)
{
	return n >= 2 && n <= BPROC_FILE_PATH_MAX && p[0] == '/' &&
	       memchr(p, '\0', n) == p + n - 1;
}

int bp_send_files_query(struct bp_conn *c, uint32_t transfer,
			const struct bp_file *f, uint32_t nr)
{
	size_t len = sizeof(struct bproc_msg_files_query), off;
	uint32_t i;
	uint8_t *b;
	int err;

	if (nr > BPROC_FILES_MAX)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!f[i].path || f[i].kind > BPROC_FILE_KIND_MAX ||
		    f[i].build_id_len > BPROC_BUILD_ID_MAX ||
		    !path_ok(f[i].path,
			     strnlen(f[i].path, BPROC_FILE_PATH_MAX) + 1))
			return -EINVAL;
		len += sizeof(struct bproc_msg_file) + strlen(f[i].path) + 1;
	}
	if (len > BPROC_MAX_PAYLOAD)
		return -E2BIG;
	b = calloc(1, len);
	if (!b)
		return -ENOMEM;
	bp_put_u32(b, nr);
	off = sizeof(struct bproc_msg_files_query);
	for (i = 0; i < nr; i++) {
		size_t n = strlen(f[i].path) + 1;
		uint8_t *e = b + off;

		bp_put_u64(e, f[i].size);
		bp_put_u64(e + 8, f[i].mtime_ns);
		e[16] = (uint8_t)f[i].kind;
		e[17] = (uint8_t)f[i].build_id_len;
		e[18] = n & 0xff;
		e[19] = (uint8_t)(n >> 8);
		memcpy(e + 24, f[i].build_id, f[i].build_id_len);
		memcpy(e + sizeof(struct bproc_msg_file), f[i].path, n);
		off += sizeof(struct bproc_msg_file) + n;
	}
	err = bp_conn_send(c, BPROC_MSG_FILES_QUERY, transfer, b,
			   (uint32_t)len);
	free(b);
	return err;
}

int bp_files_query_decode(const uint8_t *d, uint32_t len, struct bp_file *f,
			  uint32_t *nr)
{
	struct bp_rd r;
	uint32_t i, n;

	bp_rd_init(&r, d, len);
	if (bp_rd_u32(&r, &n) || rd_zero(&r, 4) || n > BPROC_FILES_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		uint8_t e[8];
		size_t plen, k;

		memset(&f[i], 0, sizeof(f[i]));
		bp_rd_u64(&r, &f[i].size);
		bp_rd_u64(&r, &f[i].mtime_ns);
		bp_rd_bytes(&r, e, 4);
		rd_zero(&r, 4);
		if (bp_rd_bytes(&r, f[i].build_id, BPROC_BUILD_ID_MAX))
			return -EPROTO;
		f[i].kind = e[0];
		f[i].build_id_len = e[1];
		plen = e[2] | (size_t)e[3] << 8;
		if (f[i].kind > BPROC_FILE_KIND_MAX ||
		    f[i].build_id_len > BPROC_BUILD_ID_MAX)
			return -EPROTO;
		/* zero past its length, so that it encodes back the same */
		for (k = f[i].build_id_len; k < BPROC_BUILD_ID_MAX; k++)
			if (f[i].build_id[k])
				return -EPROTO;
		if (plen > r.len - r.off ||
		    !path_ok((const char *)r.p + r.off, plen))
			return -EPROTO;
		f[i].path = (const char *)r.p + r.off;
		r.off += plen;
	}
	*nr = n;
	return bp_rd_end(&r);
}

int bp_send_files_answer(struct bp_conn *c, uint32_t transfer,
			 const uint8_t *verdicts, uint32_t nr)
{
	uint8_t b[sizeof(struct bproc_msg_files_answer) + BPROC_FILES_MAX];
	uint32_t i;

	if (nr > BPROC_FILES_MAX)
		return -EINVAL;
	memset(b, 0, sizeof(struct bproc_msg_files_answer));
	bp_put_u32(b, nr);
	for (i = 0; i < nr; i++) {
		if (verdicts[i] > BPROC_FILE_VERDICT_MAX)
			return -EINVAL;
		b[sizeof(struct bproc_msg_files_answer) + i] = verdicts[i];
	}
	return bp_conn_send(c, BPROC_MSG_FILES_ANSWER, transfer, b,
			    sizeof(struct bproc_msg_files_answer) + nr);
}

int bp_files_answer_decode(const uint8_t *d, uint32_t len, uint8_t *v,
			   uint32_t *nr)
{
	struct bp_rd r;
	uint32_t i, n;

	bp_rd_init(&r, d, len);
	if (bp_rd_u32(&r, &n) || rd_zero(&r, 4) || n > BPROC_FILES_MAX ||
	    bp_rd_bytes(&r, v, n))
		return -EPROTO;
	for (i = 0; i < n; i++)
		if (v[i] > BPROC_FILE_VERDICT_MAX)
			return -EPROTO;
	*nr = n;
	return bp_rd_end(&r);
}

int bp_send_tsignal(struct bp_conn *c, uint32_t pid, uint32_t tid,
		    uint32_t signo)
{
	uint8_t b[sizeof(struct bproc_msg_signal)];

	bp_put_u32(b, pid);
	bp_put_u32(b + 4, signo);
	bp_put_u32(b + 8, tid);
	return bp_conn_send(c, BPROC_MSG_SIGNAL, 0, b, sizeof(b));
}

int bp_send_signal(struct bp_conn *c, uint32_t pid, uint32_t signo)
{
	return bp_send_tsignal(c, pid, 0, signo);
}

int bp_signal_decode(const uint8_t *d, uint32_t len, uint32_t *pid,
		     uint32_t *tid, uint32_t *signo)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, pid);
	bp_rd_u32(&r, signo);
	bp_rd_u32(&r, tid);
	if (!r.bad &&
	    (*signo < 1 || *signo > 64 || !*pid || *tid >= BPROC_PID_MAX))
		r.bad = true;
	return bp_rd_end(&r);
}

int bp_send_io(struct bp_conn *c, unsigned int type, uint32_t pid,
	       unsigned int fd, unsigned int flags, const void *data,
	       uint32_t len)
{
	uint8_t b[sizeof(struct bproc_msg_io)];
	uint8_t *buf;
	int err;

	if (type != BPROC_MSG_IO_DATA && type != BPROC_MSG_IO_EOF)
		return -EINVAL;
	if (type == BPROC_MSG_IO_EOF ? len != 0 : len == 0 || len > BP_IO_CHUNK)
		return -EINVAL;
	bp_put_u32(b, pid);
	b[4] = fd & 0xff;
	b[5] = fd >> 8;
	b[6] = flags & 0xff;
	b[7] = flags >> 8;
	if (!len)
		return bp_conn_send(c, type, 0, b, sizeof(b));
	buf = malloc(sizeof(b) + len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, b, sizeof(b));
	memcpy(buf + sizeof(b), data, len);
	err = bp_conn_send(c, type, 0, buf, sizeof(b) + len);
	free(buf);
	return err;
}

int bp_io_decode(unsigned int type, const uint8_t *d, uint32_t len,
		 uint32_t *pid, unsigned int *fd, unsigned int *flags,
		 const uint8_t **data, uint32_t *n)
{
	if (len < sizeof(struct bproc_msg_io))
		return -EPROTO;
	*pid = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
	       (uint32_t)d[3] << 24;
	*fd = d[4] | d[5] << 8;
	*flags = d[6] | d[7] << 8;
	*data = d + sizeof(struct bproc_msg_io);
	*n = len - sizeof(struct bproc_msg_io);
	if (!*pid || *fd >= BPROC_STREAMS_MAX ||
	    *flags & ~(BPROC_IO_REQUEUE | BPROC_IO_ACKED))
		return -EPROTO;
	if (type == BPROC_MSG_IO_EOF ? *n != 0 : *n == 0)
		return -EPROTO;
	if (*flags && (*fd != 0 || type != BPROC_MSG_IO_DATA))
		return -EPROTO;
	return 0;
}

int bp_send_io_mark(struct bp_conn *c, uint32_t pid, uint64_t move_id,
		    uint32_t stdin_unread)
{
	uint8_t b[sizeof(struct bproc_msg_io_mark)];

	memset(b, 0, sizeof(b));
	bp_put_u32(b, pid);
	bp_put_u32(b + 4, stdin_unread);
	bp_put_u64(b + 8, move_id);
	return bp_conn_send(c, BPROC_MSG_IO_MARK, 0, b, sizeof(b));
}

int bp_io_mark_decode(const uint8_t *d, uint32_t len, uint32_t *pid,
		      uint64_t *move_id, uint32_t *stdin_unread)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, pid);
	bp_rd_u32(&r, stdin_unread);
	bp_rd_u64(&r, move_id);
	return bp_rd_end(&r);
}

int bp_send_io_ack(struct bp_conn *c, uint32_t pid, unsigned int fd,
		   uint32_t bytes)
{
	uint8_t b[sizeof(struct bproc_msg_io_ack)];

	memset(b, 0, sizeof(b));
	bp_put_u32(b, pid);
	b[4] = fd & 0xff;
	b[5] = fd >> 8;
	bp_put_u32(b + 8, bytes);
	return bp_conn_send(c, BPROC_MSG_IO_ACK, 0, b, sizeof(b));
}

int bp_io_ack_decode(const uint8_t *d, uint32_t len, uint32_t *pid,
		     unsigned int *fd, uint32_t *bytes)
{
	uint8_t f[2];
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, pid);
	bp_rd_bytes(&r, f, sizeof(f));
	rd_zero(&r, 2);
	bp_rd_u32(&r, bytes);
	rd_zero(&r, 4);
	if (bp_rd_end(&r))
		return -EPROTO;
	*fd = f[0] | f[1] << 8;
	return *fd >= BPROC_STREAMS_MAX ? -EPROTO : 0;
}

int bp_send_exit(struct bp_conn *c, const struct bp_exit *e)
{
	uint8_t b[sizeof(struct bproc_msg_exit)];

	bp_put_u32(b, e->pid);
	bp_put_u32(b + 4, e->status);
	bp_put_u32(b + 8, e->stdin_unread);
	bp_put_u32(b + 12, e->flags);
	put_str(b + 16, e->reason, sizeof(e->reason));
	return bp_conn_send(c, BPROC_MSG_EXIT, 0, b, sizeof(b));
}

int bp_exit_decode(const uint8_t *d, uint32_t len, struct bp_exit *e)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, &e->pid);
	bp_rd_u32(&r, &e->status);
	bp_rd_u32(&r, &e->stdin_unread);
	bp_rd_u32(&r, &e->flags);
	bp_rd_str(&r, e->reason, sizeof(e->reason));
	if (bp_rd_end(&r) || e->flags & ~BPROC_EXIT_LOST)
		return -EPROTO;
	return 0;
}

int bp_send_pid_range(struct bp_conn *c, uint32_t lo, uint32_t hi)
{
	uint8_t b[sizeof(struct bproc_msg_pid_range)];

	bp_put_u32(b, lo);
	bp_put_u32(b + 4, hi);
	return bp_conn_send(c, BPROC_MSG_PID_RANGE, 0, b, sizeof(b));
}

int bp_pid_range_decode(const uint8_t *d, uint32_t len, uint32_t *lo,
			uint32_t *hi)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, lo);
	bp_rd_u32(&r, hi);
	if (bp_rd_end(&r) || *lo < BPROC_PID_FRONT_MAX || *hi <= *lo ||
	    *hi > BPROC_PID_MAX)
		return -EPROTO;
	return 0;
}

int bp_send_proc_fork(struct bp_conn *c, const struct bp_proc_fork *f)
{
	uint8_t b[sizeof(struct bproc_msg_proc_fork)];

	memset(b, 0, sizeof(b));
	bp_put_u32(b, f->pid);
	bp_put_u32(b + 4, f->ppid);
	bp_put_u32(b + 8, f->uid);
	put_str(b + 16, f->comm, sizeof(f->comm));
	return bp_conn_send(c, BPROC_MSG_PROC_FORK, 0, b, sizeof(b));
}

int bp_proc_fork_decode(const uint8_t *d, uint32_t len, struct bp_proc_fork *f)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, &f->pid);
	bp_rd_u32(&r, &f->ppid);
	bp_rd_u32(&r, &f->uid);
	rd_zero(&r, 4);
	bp_rd_str(&r, f->comm, sizeof(f->comm));
	if (bp_rd_end(&r) || f->pid <= 1 || f->pid >= BPROC_PID_MAX ||
	    f->ppid >= BPROC_PID_MAX)
		return -EPROTO;
	return 0;
}

int bp_send_proc_exec(struct bp_conn *c, const struct bp_proc_exec *x)
{
	uint8_t b[sizeof(struct bproc_msg_proc_exec) + BPROC_ARGS_MAX];
	uint32_t n =
		x->args_len < BPROC_ARGS_MAX ? x->args_len : BPROC_ARGS_MAX;

	memset(b, 0, sizeof(struct bproc_msg_proc_exec));
	bp_put_u32(b, x->pid);
	put_str(b + 8, x->comm, sizeof(x->comm));
	if (n)
		memcpy(b + sizeof(struct bproc_msg_proc_exec), x->args, n);
	return bp_conn_send(c, BPROC_MSG_PROC_EXEC, 0, b,
			    (uint32_t)sizeof(struct bproc_msg_proc_exec) + n);
}

int bp_proc_exec_decode(const uint8_t *d, uint32_t len, struct bp_proc_exec *x)
{
	const uint32_t head = sizeof(struct bproc_msg_proc_exec);
	struct bp_rd r;

	if (len < head || len - head > BPROC_ARGS_MAX)
		return -EPROTO;
	bp_rd_init(&r, d, head);
	bp_rd_u32(&r, &x->pid);
	rd_zero(&r, 4);
	bp_rd_str(&r, x->comm, sizeof(x->comm));
	if (bp_rd_end(&r) || x->pid <= 1 || x->pid >= BPROC_PID_MAX)
		return -EPROTO;
	x->args = len > head ? d + head : NULL;
	x->args_len = len - head;
	return 0;
}

int bp_send_pid_pair(struct bp_conn *c, unsigned int type, uint32_t pid,
		     uint32_t other)
{
	uint8_t b[8];

	bp_put_u32(b, pid);
	bp_put_u32(b + 4, other);
	return bp_conn_send(c, type, 0, b, sizeof(b));
}

int bp_pid_pair_decode(unsigned int type, const uint8_t *d, uint32_t len,
		       uint32_t *pid, uint32_t *other)
{
	struct bp_rd r;

	bp_rd_init(&r, d, len);
	bp_rd_u32(&r, pid);
	bp_rd_u32(&r, other);
	if (bp_rd_end(&r) || !*pid || *pid >= BPROC_PID_MAX)
		return -EPROTO;
	if (type == BPROC_MSG_PROC_REAPED && *other)
		return -EPROTO;
	if (type == BPROC_MSG_PROC_GHOST && *other > 4095)
		return -EPROTO;
	if ((type == BPROC_MSG_PROC_PGRP || type == BPROC_MSG_PROC_SESSION) &&
	    (!*other || *other >= BPROC_PID_MAX))
		return -EPROTO;
	if (type == BPROC_MSG_PROC_SESSION && *other != *pid)
		return -EPROTO;
	if ((type == BPROC_MSG_PROC_THREAD ||
	     type == BPROC_MSG_PROC_THREAD_END) &&
	    (!*other || *other >= BPROC_PID_MAX || *other == *pid))
		return -EPROTO;
	if ((type == BPROC_MSG_STREAM_OWNER || type == BPROC_MSG_PROC_PARENT) &&
	    (!*other || *other >= BPROC_PID_MAX))
		return -EPROTO;
	return 0;
}
