/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The messages that move processes and carry their signals, IO and exits
 * (include/bproc/proto.h, "Moving a process"), in host order, with one
 * encoder and one bounds-checked decoder each.  Every decoder returns 0 or
 * -EPROTO (wrong size, a string without its NUL, a reserved field not 0).
 * Every bp_send_* queues the frame on an authenticated connection and
 * returns what bp_conn_send returns.
 */
#ifndef BPROC_PROCMSG_H
#define BPROC_PROCMSG_H

#include <stdint.h>

#include <bproc/proto.h>

#include "conn.h"

struct bp_move_order {
	uint64_t move_id;
	uint32_t pid, flags, dump_flags;
	uint32_t send; /* enum bproc_send */
	char dest[BPROC_NODE_NAME_MAX];
	char dest_addr[48];
	uint32_t copy_of;
};

struct bp_move_result {
	uint64_t move_id;
	uint32_t pid, error;
	uint64_t bytes, usec;
	char reason[BPROC_REASON_BYTES];
};

struct bp_proc_report {
	uint32_t pid, uid;
	uint64_t rss_kb, utime_ms, stime_ms;
	char state;
	char comm[16];
};

struct bp_image_begin {
	uint64_t move_id;
	uint32_t pid, flags;
	char origin[BPROC_NODE_NAME_MAX];
	uint32_t ppid; /* its parent, 0 if not known */
};

/* IMAGE_KEEP and IMAGE_FETCH (type): a kept image, and who has it. */
struct bp_image_ref {
	uint64_t move_id;
	uint32_t pid;
	uint64_t bytes;
	char node[BPROC_NODE_NAME_MAX];
	char addr[48];
};

/* IMAGE_END and IMAGE_RESULT: bytes is 0 in a result. */
struct bp_image_end {
	uint64_t bytes;
	uint32_t error;
	char reason[BPROC_REASON_BYTES];
};

struct bp_exit {
	uint32_t pid, status;
	uint32_t stdin_unread; /* bytes left unread in its stdin */
	uint32_t flags; /* BPROC_EXIT_* */
	char reason[48];
};

struct bp_proc_fork {
	uint32_t pid, ppid, uid;
	char comm[16];
};

/* A process's new program: args points into the frame it was read from. */
struct bp_proc_exec {
	uint32_t pid;
	char comm[16];
	const uint8_t *args;
	uint32_t args_len;
};

int bp_send_move_order(struct bp_conn *c, const struct bp_move_order *m);
int bp_move_order_decode(const uint8_t *d, uint32_t len,
			 struct bp_move_order *m);

int bp_send_move_armed(struct bp_conn *c, uint64_t move_id);
int bp_move_armed_decode(const uint8_t *d, uint32_t len, uint64_t *move_id);

int bp_send_move_result(struct bp_conn *c, const struct bp_move_result *m);
int bp_move_result_decode(const uint8_t *d, uint32_t len,
			  struct bp_move_result *m);

int bp_send_proc_report(struct bp_conn *c, const struct bp_proc_report *p);
int bp_proc_report_decode(const uint8_t *d, uint32_t len,
			  struct bp_proc_report *p);

/* IMAGE_* frames go on the stream of their transfer: 1, 2... (proto.h). */
int bp_send_image_begin(struct bp_conn *c, uint32_t transfer,
			const struct bp_image_begin *b);
int bp_image_begin_decode(const uint8_t *d, uint32_t len,
			  struct bp_image_begin *b);
int bp_send_image_end(struct bp_conn *c, uint32_t transfer,
		      const struct bp_image_end *e);
int bp_image_end_decode(const uint8_t *d, uint32_t len, struct bp_image_end *e);
int bp_send_image_ref(struct bp_conn *c, unsigned int type, uint32_t transfer,
		      const struct bp_image_ref *r);
int bp_image_ref_decode(const uint8_t *d, uint32_t len, unsigned int type,
			struct bp_image_ref *r);
/* IMAGE_FETCHED: as IMAGE_END, bytes being those fetched (proto.h). */
int bp_send_image_fetched(struct bp_conn *c, uint32_t transfer,
			  const struct bp_image_end *e);
int bp_send_image_result(struct bp_conn *c, uint32_t transfer, uint32_t error,
			 const char *reason);
int bp_image_result_decode(const uint8_t *d, uint32_t len, uint32_t *error,
			   char reason[BPROC_REASON_BYTES]);

/* IMAGE_STREAMS: fd -> stream, nr entries (the decoder's s has room for
 * BPROC_STREAMS_MAX), by increasing fd; kind: enum bproc_stream_kind. */
struct bp_stream {
	uint32_t fd, stream, kind;
};

int bp_send_image_streams(struct bp_conn *c, uint32_t transfer,
			  const struct bp_stream *s, uint32_t nr);
int bp_image_streams_decode(const uint8_t *d, uint32_t len, struct bp_stream *s,
			    uint32_t *nr);

/*
 * FILES_QUERY: the files a process maps, nr of them (the decoder's f has
 * room for BPROC_FILES_MAX); a decoded path points into the frame.
 * FILES_ANSWER: one enum bproc_file_verdict per file.  Both go on the
 * stream of the transfer to come.
 */
struct bp_file {
	uint64_t size, mtime_ns;
	uint32_t kind; /* enum bproc_file_kind */
	uint32_t build_id_len;
	uint8_t build_id[BPROC_BUILD_ID_MAX];
	const char *path; /* absolute, NUL-terminated */
};

int bp_send_files_query(struct bp_conn *c, uint32_t transfer,
			const struct bp_file *f, uint32_t nr);
int bp_files_query_decode(const uint8_t *d, uint32_t len, struct bp_file *f,
			  uint32_t *nr);
int bp_send_files_answer(struct bp_conn *c, uint32_t transfer,
			 const uint8_t *verdicts, uint32_t nr);
/* v has room for BPROC_FILES_MAX verdicts. */
int bp_files_answer_decode(const uint8_t *d, uint32_t len, uint8_t *v,
			   uint32_t *nr);

/* SIGNAL: signo for process pid, or with tid for its thread tid alone. */
int bp_send_signal(struct bp_conn *c, uint32_t pid, uint32_t signo);
int bp_send_tsignal(struct bp_conn *c, uint32_t pid, uint32_t tid,
		    uint32_t signo);
int bp_signal_decode(const uint8_t *d, uint32_t len, uint32_t *pid,
		     uint32_t *tid, uint32_t *signo);

/* IO_DATA with len bytes (1..BPROC_MAX_PAYLOAD - 8), or IO_EOF (no bytes). */
int bp_send_io(struct bp_conn *c, unsigned int type, uint32_t pid,
	       unsigned int fd, unsigned int flags, const void *data,
	       uint32_t len);
/* Most bytes one IO_DATA frame carries. */
#define BP_IO_CHUNK (BPROC_MAX_PAYLOAD - sizeof(struct bproc_msg_io))
/* On IO_DATA, data and n give the bytes (n >= 1); on IO_EOF n is 0. */
int bp_io_decode(unsigned int type, const uint8_t *d, uint32_t len,
		 uint32_t *pid, unsigned int *fd, unsigned int *flags,
		 const uint8_t **data, uint32_t *n);

/* IO_MARK: stdin_unread, bytes its stdin held unread when it was parked. */
int bp_send_io_mark(struct bp_conn *c, uint32_t pid, uint64_t move_id,
		    uint32_t stdin_unread);
int bp_io_mark_decode(const uint8_t *d, uint32_t len, uint32_t *pid,
		      uint64_t *move_id, uint32_t *stdin_unread);

/* IO_ACK: bytes of fd (0..2) consumed since the last ack. */
int bp_send_io_ack(struct bp_conn *c, uint32_t pid, unsigned int fd,
		   uint32_t bytes);
int bp_io_ack_decode(const uint8_t *d, uint32_t len, uint32_t *pid,
		     unsigned int *fd, uint32_t *bytes);

int bp_send_exit(struct bp_conn *c, const struct bp_exit *e);
int bp_exit_decode(const uint8_t *d, uint32_t len, struct bp_exit *e);

/*
 * The pid ranges: node N's new pids are in [BP_PID_RANGE_LO(N),
 * BP_PID_RANGE_LO(N + 1)), for nodes 0 to BP_PID_NODES - 1.
 */
#define BP_PID_NODES 1024u
#define BP_PID_RANGE_SIZE ((BPROC_PID_MAX - BPROC_PID_FRONT_MAX) / BP_PID_NODES)
#define BP_PID_RANGE_LO(n) \
	(BPROC_PID_FRONT_MAX + (uint32_t)(n)*BP_PID_RANGE_SIZE)

int bp_send_pid_range(struct bp_conn *c, uint32_t lo, uint32_t hi);
int bp_pid_range_decode(const uint8_t *d, uint32_t len, uint32_t *lo,
			uint32_t *hi);
int bp_send_proc_fork(struct bp_conn *c, const struct bp_proc_fork *f);
int bp_proc_fork_decode(const uint8_t *d, uint32_t len, struct bp_proc_fork *f);

int bp_send_proc_exec(struct bp_conn *c, const struct bp_proc_exec *x);
int bp_proc_exec_decode(const uint8_t *d, uint32_t len, struct bp_proc_exec *x);
/*
 * PROC_GHOST (error), PROC_REAPED (error 0), STREAM_OWNER (error: from),
 * PROC_PGRP (error: pgid), PROC_SESSION (error: pid), PROC_PARENT (error:
 * ppid), PROC_THREAD and PROC_THREAD_END (error: tid).
 */
int bp_send_pid_pair(struct bp_conn *c, unsigned int type, uint32_t pid,
		     uint32_t other);
int bp_pid_pair_decode(unsigned int type, const uint8_t *d, uint32_t len,
		       uint32_t *pid, uint32_t *other);

#endif /* BPROC_PROCMSG_H */
