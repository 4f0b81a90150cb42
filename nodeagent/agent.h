/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bproc-nodeagent: the daemon on every node (and on the front end as node
 * "master").  It keeps one authenticated connection to the master and
 * heartbeats its status over it (link.c), accepts authenticated connections
 * from other agents on its own address (peer.c), measures the node
 * (report.c) and moves processes (include/bproc/proto.h, "Moving a
 * process"):
 *
 *   send.c    this agent is a move's source: dump, stream, commit or resume
 *   streams.c which of a front-end process's fds are which of its streams
 *   recv.c    this agent is a move's destination: restore, or come home
 *   objects.c the kernel objects of a process coming home, for its ghost
 *   hosted.c  a node's moved processes: their stdio, signals, exits, reports
 *   ghost.c   the front end's ghosts: signals out, output in, the real exit
 *   space.c   a node's pid namespace for moved processes, the restorer, and
 *             the stand-ins that hold their parents' pids there
 *   loop.c    the one poll loop everything above is driven by
 *   job.c     the few engine calls that block, run on a thread each
 *
 * Everything runs on the main thread but job.c's threads, which only make
 * one ioctl each; nothing else is shared with them.
 */
#ifndef BPROC_AGENT_H
#define BPROC_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/types.h>

#include "../common/config.h"
#include "../common/conn.h"
#include "../common/procmsg.h"

struct agent {
	struct bp_config cfg;
	const char *config_path;
	char name[BPROC_NODE_NAME_MAX]; /* "master" or "nodeN" */
	struct bp_addr listen_addr;
	bool front; /* this is the front end's agent (node "master") */
	bool stopping;
};

/* The agent, for the parts that need its name, key or timeouts. */
extern struct agent *agent;

/* close_fd - close *fd if open, and mark it closed (-1). */
static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- loop.c: the poll set, rebuilt before every poll ---- */

typedef void (*loop_fn)(void *obj, short revents);

/* loop_add - watch fd for events this round; fn(obj, revents) if any. */
void loop_add(int fd, short events, loop_fn fn, void *obj);
/* loop_wake_at - have this round's poll return by monotonic time ms. */
void loop_wake_at(int64_t ms);
/* loop_round - poll what was added (at most max_ms) and dispatch. */
int loop_round(int max_ms);

/* ---- job.c: one blocking ioctl on a thread of its own ---- */

struct job {
	int efd; /* eventfd, readable once the call returned */
	int fd;
	unsigned long request;
	void *arg;
	int ret, err; /* the ioctl's return value and errno */
	bool running;
};

/* job_start - ioctl(fd, request, arg) on a new thread; 0 or -errno. */
int job_start(struct job *j, int fd, unsigned long request, void *arg);
/* job_watch - add the job's eventfd to this round (fn when it is done). */
void job_watch(struct job *j, loop_fn fn, void *obj);
/* job_finished - true once the call returned (consumes the event). */
bool job_finished(struct job *j);

/* ---- iobuf.c: a queue of bytes ---- */

struct iochunk;
struct iobuf {
	struct iochunk *head, *tail;
	size_t len;
};

int iobuf_put(struct iobuf *b, const void *data, size_t len);
/* iobuf_write - write the front to fd: bytes written, or -errno. */
ssize_t iobuf_write(struct iobuf *b, int fd);
/* iobuf_peek - the first contiguous bytes (*data) and how many; 0: empty. */
size_t iobuf_peek(const struct iobuf *b, const uint8_t **data);
/* iobuf_drop - forget the first n bytes. */
void iobuf_drop(struct iobuf *b, size_t n);
/* iobuf_take - move up to max bytes from the front into out. */
size_t iobuf_take(struct iobuf *b, void *out, size_t max);
void iobuf_free(struct iobuf *b);

/* ---- link.c: the master link ---- */

void link_init(struct agent *a);
/* link_watch - write what is queued, add the link's socket to this round. */
void link_watch(void);
/* link_flush - write what is queued for the master, as far as it goes. */
void link_flush(void);
/* link_deadline - monotonic ms of the next thing the link must do. */
int64_t link_deadline(void);
/* link_run - act on this round's poll results and timers. */
void link_run(struct agent *a);
/* link_restart - drop the connection and connect again at once. */
void link_restart(struct agent *a);
/* link_stop - say goodbye to the master and close. */
void link_stop(void);
/* link_conn - the master connection once authenticated, else NULL. */
struct bp_conn *link_conn(void);
/* link_room - whether the master connection takes more IO now. */
bool link_room(void);
/* link_sent - after queueing frames: log a failure; they are written
 * before the next poll (link_watch), or now once 64 KiB are queued. */
void link_sent(int err, const char *what);

/* ---- peer.c: the listener for other agents ---- */

struct peer;
int peer_listen(struct agent *a);
void peer_close_listener(void);
void peer_watch(void);
int64_t peer_deadline(unsigned int timeout_ms);
void peer_reap(void);
void peer_close_all(void);
/* peer_conn - the connection of a peer (for replies). */
struct bp_conn *peer_conn(struct peer *p);
/* peer_finish - flush what is queued, then close (the move is over). */
void peer_finish(struct peer *p);

/* ---- report.c ---- */

void report_collect(struct agent *a, struct bp_status *s);
/*
 * proc_stat - /proc/PID/stat into buf (len bytes): a pointer to its state
 * field, what follows the comm (which ends at the last ')'), or NULL.
 */
char *proc_stat(pid_t pid, char *buf, size_t len);
/*
 * proc_ns_pid - thread tid of process pid (both ours) by its pid in the
 * innermost pid namespace it is in (its NSpid line's last); 0 if gone.
 */
pid_t proc_ns_pid(pid_t pid, pid_t tid);
/* proc_last_number - a /proc/PID/status line's last number. */
long proc_last_number(const char *line);
/* engine_version - bproc.ko's version ("1.9") into ver: 0, or -errno. */
int engine_version(char *ver, size_t len);
/* engine_at_least - bproc.ko is major.minor or later (its version in ver). */
bool engine_at_least(int major, int minor, char *ver, size_t len);

/* ---- send.c: moves out of this agent ---- */

/* ---- files.c ---- */
struct files;
/*
 * files_collect - the files process lpid maps (by their mappings, so a
 * renamed file is still the one mapped; deleted ones are left out: they go
 * whole anyway).  0 and *out (free it with files_free), or -errno and why.
 */
int files_collect(pid_t lpid, struct files **out, char *why, size_t whylen);
void files_free(struct files *fs);
/* files_unaskable - more files than one query holds. */
bool files_unaskable(const struct files *fs);
/* files_ask - queue the FILES_QUERY of fs on c for transfer. */
int files_ask(struct bp_conn *c, uint32_t transfer, const struct files *fs);
/*
 * files_decide - from the destination's FILES_ANSWER (d, len), the dump
 * flags that send (BPROC_SEND_PATH or _AUTO) asks for.  0; -EPROTO for an
 * answer that is not one to fs; -ENOENT when the move cannot be, why
 * naming the file the destination lacks.
 */
int files_decide(const struct files *fs, unsigned int send, const char *dest,
		 const uint8_t *d, uint32_t len, uint32_t *dump_flags,
		 char *why, size_t whylen);
/* files_answer - answer a FILES_QUERY on c: which files this node has. */
int files_answer(struct bp_conn *c, uint32_t stream, const uint8_t *d,
		 uint32_t len);

void send_order(const struct bp_move_order *o);
void send_watch(void);
/* send_in_flight - a move of pid out of here has not ended yet. */
bool send_in_flight(pid_t pid);
void send_reap(void);
/* send_abort_all - at shutdown: every move out fails, processes resume. */
void send_abort_all(void);

/* ---- recv.c: moves into this agent (frames of a peer connection) ---- */

struct inmove;
/* transfer: the frame's stream, the transfer's number on its connection. */
int recv_frame(struct peer *p, struct inmove **im, unsigned int type,
	       uint32_t transfer, const uint8_t *data, uint32_t len);
/* recv_wants_data - whether im can take more image bytes now. */
bool recv_wants_data(const struct inmove *im);
/* recv_conn_lost - the source's connection is gone. */
void recv_conn_lost(struct inmove *im);
/* recv_settle - pid's restore, if its restorer has said it is done. */
void recv_settle(pid_t pid);
void recv_watch(void);
void recv_reap(void);
/* recv_wants_parent - a restore here is the child of the stand-in for ppid. */
bool recv_wants_parent(pid_t ppid);
/* recv_ghost_ready - the ghost of a move home may now restore. */
void recv_ghost_ready(struct inmove *im);
/*
 * image_section - the first section of type in an image's structure (buf,
 * n bytes: its header and sections): 1 with its payload and size, 0 if
 * it has none, -1 if the structure does not read that far.
 */
int image_section(const uint8_t *buf, size_t n, uint32_t type,
		  const uint8_t **payload, uint64_t *size);
/* recv_fetched - image bytes for im from the node that keeps them. */
void recv_fetched(struct inmove *im, struct bp_conn *c, const uint8_t *d,
		  uint32_t len);
/* recv_fetch_done - the fetch for im is over: all of it, or err and why. */
void recv_fetch_done(struct inmove *im, int err, const char *reason);

/* ---- tree.c: images kept for other nodes, and fetched from them ---- */

/* An image kept as it comes, up to BPROC_KEPT_IMAGE_MAX bytes. */
struct keepbuf {
	uint8_t *buf;
	size_t len, cap;
};

/* keepbuf_add - 0, or -EFBIG or -ENOMEM with all of it let go. */
int keepbuf_add(struct keepbuf *b, const void *d, size_t n);
void keepbuf_free(struct keepbuf *b);

struct tree_serve;
struct tree_fetch;
/* tree_keep - keep buf (now tree.c's) as the image (move_id, pid). */
void tree_keep(uint64_t move_id, uint32_t pid, uint8_t *buf, size_t len);
/*
 * tree_serve_start - an IMAGE_FETCH on c: *out is what sends the image
 * (NULL when it is not kept here: c has been told). 0 or -EPROTO.
 */
int tree_serve_start(struct bp_conn *c, uint32_t transfer, const uint8_t *d,
		     uint32_t len, struct tree_serve **out);
/* tree_serve_more - queue more of it on c; true once all of it is. */
bool tree_serve_more(struct tree_serve *s, struct bp_conn *c);
void tree_serve_end(struct tree_serve *s);
/* tree_fetch_start - fetch r's image for im; NULL with errno if it cannot. */
struct tree_fetch *tree_fetch_start(struct inmove *im,
				    const struct bp_image_ref *r);
/* tree_fetch_cancel - im no longer wants it (recv_fetch_done is not called). */
void tree_fetch_cancel(struct tree_fetch *f);
void tree_watch(void);
void tree_reap(void);

/* ---- objects.c: the kernel objects of a process coming home ---- */

struct bproc_fd_map;

/* objects_engine_ok - 0 if the engine takes them in a ghost's map. */
int objects_engine_ok(char *why, size_t len);
/*
 * objects_make - have a helper make the objects of the structure head
 * (the image's sections before PAGES, FDS among them) among the ghost's
 * streams (map: fd -> the ghost's fd), or among ours (mine: for each
 * entry of map, a descriptor of ours that is that fd's stream; a node's
 * proxy), and return the ghost's restore map in *out: every fd of the
 * program, streams and objects, as a descriptor of ours
 * (BPROC_GHOST_MAP_CALLER), by increasing fd, to close after. 0 or -EIO
 * with why.
 */
int objects_make(pid_t ghost, const uint8_t *head, size_t len,
		 const struct bp_stream *map, int nr_map, const int *mine,
		 struct bproc_fd_map **out, uint32_t *nr_out, char *why,
		 size_t whylen);

/* ---- hosted.c: processes that moved to this node ---- */

struct hosted;

/* A process's streams on this node: pipes or socket pairs, our ends. */
struct hosted_stream {
	uint32_t id; /* the stream: 0 is stdin, the rest are written to */
	uint32_t kind; /* enum bproc_stream_kind */
	int fd; /* stream 0: our write end; else our read end; -1: /dev/null */
	int in_r; /* stream 0: a reader of our own, to take back its bytes */
	int ref; /* /dev/null: the description it was given, else -1 */
	ino_t ino; /* its end, to tell it among the process's fds */
};
/*
 * hosted_add - a restored process now runs here; takes the descriptors.
 * ppid: its parent (0: not known); under: the pid of its parent here if
 * that is not the agent (space_spawn).
 */
struct hosted *hosted_add(pid_t pid, pid_t lpid, int pidfd, pid_t ppid,
			  pid_t under, const struct hosted_stream *streams,
			  unsigned int nr);
struct hosted *hosted_find(pid_t pid);
pid_t hosted_lpid(const struct hosted *h);
/* hosted_set_moving - a move out began (true) or failed (false). */
void hosted_set_moving(struct hosted *h, bool moving);
/*
 * hosted_park - it is parked for its move: its stdin is left as it is
 * (until the move fails); returns how many bytes of it are unread.
 */
uint32_t hosted_park(struct hosted *h);
/*
 * hosted_streams - which of the parked process's fds are which of its
 * streams (by increasing fd): how many, or -EOPNOTSUPP with why.
 */
int hosted_streams(struct hosted *h, struct bp_stream *map, char *why,
		   size_t len);
/* hosted_flush_output - the process is parked: send what it wrote. */
void hosted_flush_output(struct hosted *h);
/* hosted_ppid - its parent's pid, as this node knows it (0: not known). */
pid_t hosted_ppid(const struct hosted *h);
/* hosted_parent - the master says pid's parent is ppid now (PROC_PARENT). */
void hosted_parent(pid_t pid, pid_t ppid);
/*
 * hosted_wants_parent - a process here is the child of the stand-in for
 * ppid and has ppid as its parent still.
 */
bool hosted_wants_parent(pid_t ppid);
/* hosted_reparented - the stand-in for ppid ended: the init adopted its
 * children. */
void hosted_reparented(pid_t ppid);
/* hosted_is_born - it was started here by a cluster process. */
bool hosted_is_born(const struct hosted *h);
/* hosted_child_of - a pid of its children here not yet reaped, or 0. */
pid_t hosted_child_of(const struct hosted *h);
/*
 * hosted_proxy - a born one moved away: the engine's ghost of it (handle)
 * holds its pid here for its parent, which waits for it as ever.
 */
void hosted_proxy(struct hosted *h, int handle);
/* hosted_proxy_exit - the process ended where it runs: so does its proxy. */
void hosted_proxy_exit(const struct bp_exit *e);
/* hosted_proxy_of - the proxy here of pid, born here and away, or NULL. */
struct hosted *hosted_proxy_of(pid_t pid);
/* hosted_proxy_handle - its proxy's dump handle. */
int hosted_proxy_handle(const struct hosted *h);
/*
 * hosted_proxy_restoring - its proxy restores the process (true: what the
 * proxy gets is read once it is over), or failed to (false: a proxy still).
 */
void hosted_proxy_restoring(struct hosted *h, bool on);
/*
 * hosted_back - its proxy restored it: it runs here again, the child of
 * its parent as before it left, with these streams (the descriptors are
 * taken). 0, or -ENOMEM (nothing taken).
 */
int hosted_back(struct hosted *h, const struct hosted_stream *streams,
		unsigned int nr);
/* hosted_space_event - a fork, exit or reaping in the namespace. */
struct bproc_space_event;
void hosted_space_event(const struct bproc_space_event *ev);
/* /proc/lpid/stat into a report (state, comm, times, rss); its real uid. */
int hosted_stat(pid_t lpid, struct bp_proc_report *r);
uint32_t hosted_uid(pid_t lpid);
/* hosted_left - it moved away: requeue its unread stdin, forget it. */
void hosted_left(struct hosted *h);
/* hosted_signal - signo for process pid, or its thread tid alone (tid). */
void hosted_signal(pid_t pid, pid_t tid, unsigned int signo);
void hosted_io(pid_t pid, unsigned int type, unsigned int fd,
	       unsigned int flags, const uint8_t *data, uint32_t n);
void hosted_ack(pid_t pid, unsigned int fd, uint32_t bytes);
void hosted_report(struct bp_conn *c);
unsigned int hosted_count(void);
void hosted_watch(void);
void hosted_reap(void);
void hosted_kill_all(void);

/* ---- streams.c ---- */

/*
 * front_streams - which of front-end process pid's fds are which of its
 * streams, by increasing fd, with their kinds (self: it moves itself, so
 * a shell's saved copies of its stdio may be among them): how many, or
 * -EOPNOTSUPP (-ESRCH) with why.
 */
int front_streams(pid_t pid, bool self, struct bp_stream *map, char *why,
		  size_t len);
/* stream_kind_name - "pipe", "/dev/null"... for the log. */
const char *stream_kind_name(uint32_t kind);

/* ---- ghost.c: the front end's ghosts ---- */

struct ghost;
/*
 * ghost_end_as - end the engine's ghost of handle as the process ended
 * (status as wait(2)): BPROC_IOC_GHOST_EXIT's result. A node's proxies
 * end this way too.
 */
int ghost_end_as(int handle, int status);
/*
 * ghost_add - pid became a ghost (handle: its dump handle, taken); with
 * threads, one made by BPROC_IOC_GHOST_THREADS (its events tell tids).
 */
int ghost_add(pid_t pid, int handle, const struct bp_stream *map,
	      unsigned int nr, bool threads);
struct ghost *ghost_find(pid_t pid);
/* ghost_home - a move home begins (im) or failed (NULL). */
int ghost_home(struct ghost *g, struct inmove *im, uint64_t move_id);
/* ghost_handle - the dump handle, for GHOST_RESTORE. */
int ghost_handle(const struct ghost *g);
/*
 * ghost_place_vdso - move the vvar and vDSO of the engine's ghost whose
 * pid here is pid (handle: its dump handle) where the image m had them
 * (the process executed a program where it ran): 0, or -errno with why.
 * For the front end's ghosts and a node's proxies alike.
 */
struct bproc_image_mm;
int ghost_place_vdso(pid_t pid, int handle, const struct bproc_image_mm *m,
		     char *why, size_t len);
/*
 * ghost_thread - that ghost makes a thread with tid (in its own pid
 * namespace), to become that thread of the process as it restores: 0
 * (also if it has one already), or -errno.
 */
int ghost_thread(pid_t pid, int handle, pid_t tid);
/* ghost_restored - the process is home: the ghost is no more. */
void ghost_restored(struct ghost *g);
void ghost_output(pid_t pid, unsigned int type, unsigned int fd,
		  const uint8_t *data, uint32_t n);
void ghost_ack(pid_t pid, uint32_t bytes);
/* ghost_mark - the last host said all; its stdin held stdin_unread bytes. */
void ghost_mark(pid_t pid, uint64_t move_id, uint32_t stdin_unread);
/*
 * ghost_rewind - before the process is restored here, put back what it
 * never read of a regular file's stdin; undo: the restore failed.
 */
void ghost_rewind(struct ghost *g, bool undo);
void ghost_exit(const struct bp_exit *e);
/* ghost_fork - a process f.ppid started on its node: its ghost, forked. */
void ghost_fork(const struct bp_proc_fork *f);
/* ghost_reaped - its real parent has waited for pid where it ran. */
void ghost_reaped(pid_t pid);
/* ghost_name - pid executed a program on its node: its ghost takes its name. */
void ghost_name(const struct bp_proc_exec *x);
/*
 * ghost_pgrp - pid went into process group pgid where it runs (session:
 * it made a session of its own): so does its ghost, as soon as it can.
 */
void ghost_pgrp(pid_t pid, pid_t pgid, bool session);
/*
 * ghost_thread_away - pid made thread tid where it runs (born), or tid
 * ended there alone: its ghost makes or ends a ghost thread of that tid.
 */
void ghost_thread_away(pid_t pid, pid_t tid, bool born);
/* ghost_stream_owner - the streams of from go on with pid. */
void ghost_stream_owner(pid_t pid, pid_t from);
void ghost_watch(void);
void ghost_reap(void);

/* ---- space.c: where moved processes live on a node ---- */

/* space_init - the pid namespace for moved processes (on the first). */
int space_init(void);
/* space_ckpt_path - bproc-ckpt: beside this program, in ../bin or ../ckpt. */
const char *space_ckpt_path(void);
struct space_fds {
	int nr; /* descriptors the restored process gets */
	const int *src; /* ours */
	const int *target; /* its, by increasing number */
	int structure, image, notify; /* for bproc-ckpt restore --agent */
};

/*
 * space_spawn - fork bproc-ckpt restore --agent with pid in the namespace
 * and fds in place (0-2 that it does not get are /dev/null), as the child
 * of a process of pid ppid there if it can be had (a stand-in, or the
 * init for 1; 0: not known).  Returns 0 with *lpid (its pid here), *pidfd
 * and *under (ppid if it is that one's child, 0 if it is ours), or -errno
 * (-EEXIST: the pid is still taken here).
 */
int space_spawn(pid_t pid, pid_t ppid, const struct space_fds *fds, pid_t *lpid,
		int *pidfd, pid_t *under);
/*
 * space_start - at start: pid_max high enough for the cluster's pids; on
 * the front end, its own pids kept below the nodes'.
 */
void space_start(void);
/* space_set_range - the master gave this node its pids (PID_RANGE). */
void space_set_range(uint32_t lo, uint32_t hi);
/* space_reap - wait for a child that was killed, without blocking. */
void space_reap(int pidfd);
/*
 * space_events_now - what the namespace's events say so far, before an
 * exit heard otherwise: a process's forks come before its end.
 */
void space_events_now(void);
void space_watch(void);

#endif /* BPROC_AGENT_H */
