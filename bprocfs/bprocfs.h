/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bprocfs: the master.  Shared declarations of its parts:
 *
 *   main.c     command line, config, FUSE session, routing of FUSE requests
 *   table.c    table_*:   the node table (state machine, permissions, stats)
 *   net.c      net_*:     the network thread (agents connect here)
 *   events.c   events_*:  the append-only event log behind /bproc/events
 *   cluster.c  cluster_*: the root directory: status, metrics, events
 *   nodefs.c   nodefs_*:  the node directories: status, addr, info, move
 *   move.c     move_*:    checking a move request and starting it
 *   proctab.c  proctab_*: the process table: the cluster's processes and
 *                         the node each runs on
 *   procfiles.c procfiles_*: the process files /bproc/<node>/<pid>
 *   route.c    route_*:   moves in flight; signals, IO and exits of moved
 *                         processes between the agents
 *
 * Locking: the node table has one mutex (table_lock); the event log and
 * the process table each their own.  The routes of moved processes and the
 * moves in flight (route_lock) come first: the others may be taken under
 * it, never the other way round, and no read of a /bproc file takes it.
 * No network I/O under any of them ever blocks (the sockets are
 * non-blocking), so a read never waits on the network or on a move.
 */
#ifndef BPROCFS_H
#define BPROCFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/config.h"
#include "../common/conn.h"

/* Inode numbers: fixed for the root files, computed for node files. */
enum {
	INO_ROOT = FUSE_ROOT_ID,
	INO_STATUS = 2,
	INO_METRICS = 3,
	INO_EVENTS = 4,
	INO_NODE_BASE = 0x100,
};

/* Process files: one inode per pid, whichever node the process runs on. */
#define INO_PROC_BASE ((fuse_ino_t)1 << 32)

/*
 * A node's move file is a new inode at every lookup (and lookups are not
 * cached), so that writes to it from different processes never wait for
 * one another: the kernel holds a file's inode lock through a FUSE write,
 * and a move's write lasts as long as the move.
 */
#define INO_MOVE_BASE ((fuse_ino_t)1 << 48)
#define INO_MOVE_SLOT_BITS 20

/* Node files, the low 4 bits of a node inode. */
enum node_file {
	NF_DIR = 0,
	NF_STATUS = 1,
	NF_ADDR = 2,
	NF_INFO = 3,
	NF_MOVE = 4,
	NF_MAX,
};

/* slot: 0 for the master, N + 1 for nodeN */
static inline fuse_ino_t node_ino(int slot, enum node_file f)
{
	return INO_NODE_BASE + ((fuse_ino_t)slot << 4) + f;
}

static inline bool ino_is_node(fuse_ino_t ino)
{
	return (ino >= INO_NODE_BASE && ino < INO_PROC_BASE) ||
	       ino >= INO_MOVE_BASE;
}

static inline bool ino_is_proc(fuse_ino_t ino)
{
	return ino >= INO_PROC_BASE && ino < INO_MOVE_BASE;
}

/* A move file inode of slot's, new for each seq. */
static inline fuse_ino_t move_ino(int slot, uint64_t seq)
{
	return INO_MOVE_BASE +
	       ((seq << INO_MOVE_SLOT_BITS) & (INO_MOVE_BASE - 1)) +
	       (fuse_ino_t)slot;
}

static inline fuse_ino_t proc_ino(pid_t pid)
{
	return INO_PROC_BASE + (fuse_ino_t)pid;
}

static inline pid_t ino_pid(fuse_ino_t ino)
{
	return (pid_t)(ino - INO_PROC_BASE);
}

static inline int ino_slot(fuse_ino_t ino)
{
	if (ino >= INO_MOVE_BASE)
		return (int)(ino & ((1u << INO_MOVE_SLOT_BITS) - 1));
	return (int)((ino - INO_NODE_BASE) >> 4);
}

static inline enum node_file ino_file(fuse_ino_t ino)
{
	if (ino >= INO_MOVE_BASE)
		return NF_MOVE;
	return (enum node_file)((ino - INO_NODE_BASE) & 0xf);
}

static inline int num_slot(int num)
{
	return num == BP_NODE_MASTER ? 0 : num + 1;
}

enum node_state { NODE_DOWN, NODE_BOOT, NODE_UP, NODE_ERROR };

const char *node_state_name(enum node_state s);

struct fs_handle;

struct node {
	int num; /* BP_NODE_MASTER or the node number */
	int slot;
	char name[16];
	char addr_str[BP_ADDR_STRLEN];
	enum node_state state;
	int64_t since; /* unix time of the last state change */
	int64_t last_seen_ms; /* monotonic, last frame from its agent */
	bool seen; /* last_seen_ms is meaningful */
	struct bp_status st;
	bool have_status;
	uid_t uid;
	gid_t gid;
	mode_t mode; /* permission bits of the node directory */
	unsigned int send; /* how moves here take their files (config) */
	void *conn; /* the agent's connection (net.c owns it) */
	uint64_t gen; /* bumped on every state change */
	/* moves ordered: went through to it, from it; failed to it */
	uint64_t moves_in, moves_out, moves_failed;
	struct fs_handle *pollers; /* handles waiting in poll() */
};

/* Results of moves, for metrics. */
enum move_result {
	MR_OK,
	MR_EINVAL,
	MR_ESRCH,
	MR_EPERM,
	MR_EACCES,
	MR_EHOSTDOWN,
	MR_EBUSY,
	MR_EOPNOTSUPP,
	MR_EIO,
	MR_ECONNRESET,
	MR_MAX,
};

#define MOVE_BUCKETS 8
extern const double move_bucket_le[MOVE_BUCKETS];

struct move_stats {
	uint64_t count[MR_MAX];
	uint64_t bytes;
	uint64_t dur_bucket[MOVE_BUCKETS]; /* cumulative at render time */
	uint64_t dur_count;
	double dur_sum;
};

/* An open file: the text snapshot and, for status, its poll state. */
struct fs_handle {
	pthread_mutex_t lock; /* buf and len: reads may run in parallel */
	uint64_t id; /* what fi->fh holds */
	int refs; /* the open, plus each request using it */
	struct fs_handle *hash_next;
	fuse_ino_t ino;
	char *buf;
	size_t len;
	uint64_t seen_gen; /* node gen the snapshot shows */
	struct fuse_pollhandle *ph; /* pending poll, if any */
	struct fs_handle *poll_next; /* in node->pollers */
	bool polling;
	uint64_t proc_start; /* process files: the process opened */
};

/* A growable text buffer for building snapshots. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- table.c ---- */
extern pthread_mutex_t table_lock;

/*
 * table_init - build the table from cfg and load the permission state file
 * (cfg->state_path).  Returns 0, or -errno with "FILE:LINE: reason" in err.
 */
int table_init(const struct bp_config *cfg, char *err, size_t errlen);
void table_fini(void);

/* Under table_lock: */
struct node *table_find_slot(int slot);
struct node *table_find_name(const char *name);
size_t table_count(void);
struct node *table_at(size_t i); /* by slot order, master first */
const struct bp_config *table_config(void);
extern struct move_stats table_moves;

/* Network thread entry points; each takes the lock itself. */
struct fuse_pollhandle;
/*
 * table_joined - an agent authenticated as node name on conn.  Returns the
 * connection it replaces (to close), NULL, or sets *unknown when no such
 * node is configured.
 */
void *table_joined(const char *name, void *conn, int *slot, bool *unknown);
/* table_status - a heartbeat from slot's agent on conn. */
void table_status(int slot, void *conn, const struct bp_status *st);
/*
 * table_lost - conn of slot is gone, for reason.  Returns true when it was
 * the node's connection (the node went down).
 */
bool table_lost(int slot, void *conn, const char *reason);
/*
 * table_silent - connections of nodes silent longer than the timeout; the
 * caller closes each one (then calls table_lost).  Fills up to max.
 */
size_t table_silent(int64_t now_ms, void **conns, int *slots, size_t max);
/*
 * table_reconfigure - take a reloaded config.  Connections of nodes that
 * were removed are handed to drop() (with the lock held: drop must only
 * queue them).
 */
void table_reconfigure(const struct bp_config *cfg,
		       void (*drop)(void *conn, void *arg), void *arg);

/* Node permissions (FUSE threads): returns 0 or -errno. */
int table_set_perm(int slot, uid_t uid, gid_t gid, mode_t mode);

/* poll: register h to be woken on slot's next state change. */
void table_poll_add(struct node *n, struct fs_handle *h);
void table_poll_remove(struct fs_handle *h);

/* Send poll notifications queued by state changes (without the lock). */
void table_flush_notify(void);

/* ---- events.c ---- */
void events_init(void);
void events_fini(void);
/* events_add - append one timestamped line (no newline in fmt). */
void events_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* events_read - copy up to size bytes from off; returns bytes copied. */
size_t events_read(char *dst, size_t size, uint64_t off);
uint64_t events_size(void);

/* ---- net.c ---- */
int net_init(const struct bp_config *cfg);
int net_start(void);
void net_stop(void);
void net_request_reload(void); /* async-signal-safe */
void net_wake_orders(void); /* route_send_orders on the network thread */
/* The network thread only: slot's agent connection, or NULL. */
struct bp_conn *net_slot_conn(int slot);
/* net_conn_sent - frames were queued on c: have them written out. */
void net_conn_sent(struct bp_conn *c);

/* ---- cluster.c ---- */
void cluster_lookup(fuse_req_t req, const char *name);
void cluster_getattr(fuse_req_t req, fuse_ino_t ino);
void cluster_readdir(fuse_req_t req, size_t size, off_t off);
void cluster_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void cluster_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);

/* ---- nodefs.c ---- */
void nodefs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int nodefs_stat(fuse_ino_t ino, struct stat *st);
void nodefs_getattr(fuse_req_t req, fuse_ino_t ino);
void nodefs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set);
void nodefs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
void nodefs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void nodefs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void nodefs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi);
void nodefs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct fuse_pollhandle *ph);

/* ---- move.c ---- */
struct proc_info;

#define MOVE_PENDING 1
/*
 * move_request - handle "echo PID > /bproc/<dest>/move" from req's caller.
 * Returns 0 when the process runs on dest, -errno, or MOVE_PENDING when
 * the move has started and req will be answered when it ends (the caller
 * must not answer it); every failure is recorded in events with its
 * reason and counted in the metrics.
 */
int move_request(fuse_req_t req, int dest_slot, const char *buf, size_t size);
/* move_result_of - the metrics' result of a move that ended with err. */
enum move_result move_result_of(int err);

/* ---- route.c ---- */
/*
 * route_move_begin - register the move of p to dest_slot (its agent at
 * dest_addr) and queue its order for the network thread; req is answered
 * from there.  self: the writer is the process; keep, copy_of: fast start
 * (proto.h, BPROC_MOVE_KEEP), passed on to the source.  Returns 0, -EBUSY when
 * p is already moving, -EOPNOTSUPP when dest is the node where p was
 * born and which it left (its pid is held there), or -ENOMEM.
 */
int route_move_begin(fuse_req_t req, size_t size, const struct proc_info *p,
		     int dest_slot, const char *dest_name,
		     const char *dest_addr, const char *src_name, bool self,
		     unsigned int send /* BPROC_SEND_*: how its files go */,
		     bool keep, pid_t copy_of);
/* route_moving - is pid moving (or still finishing one)? */
bool route_moving(pid_t pid);
uint64_t route_moves_in_flight(void);
/* "EBUSY" for EBUSY, for events. */
const char *route_errno_name(int err);
/* The network thread: */
void route_send_orders(void);
/*
 * route_frame - a moving or routing frame from slot's agent; returns 0, or
 * -EPROTO when it is malformed.
 */
int route_frame(int slot, unsigned int type, const uint8_t *data, uint32_t len);
/*
 * route_node_lost - slot's agent is gone, for reason: end its moves and
 * processes.  node names it when the table no longer does (NULL: ask it).
 */
void route_node_lost(int slot, const char *node, const char *reason);

/* route_joined - slot's agent joined: its pid range. */
void route_joined(int slot);
/*
 * route_front_end_back - the front end's agent is up (each of its
 * heartbeats): ghosts whose processes were ended while it was away are told.
 */
void route_front_end_back(void);
/* route_shutdown - the master stops: answer every pending move, forget. */
void route_shutdown(void);

/* ---- proctab.c ---- */
#define PROC_COMM_LEN 16

/*
 * One process of the cluster as its file shows it.  start identifies it
 * across pid reuse: its start time in clock ticks after the front end's
 * boot, kept when it moves.
 */
struct proc_info {
	pid_t pid;
	int slot; /* the node it runs on: 0 for the front end */
	char state; /* one letter, as in /proc/PID/stat */
	char comm[PROC_COMM_LEN];
	uid_t ruid, euid, suid;
	gid_t rgid;
	uint64_t rss_kb;
	uint64_t utime_ms, stime_ms;
	uint64_t start;
	int64_t started_at; /* unix time it started */
	pid_t ppid, pgid; /* on the front end (its ghost's, when away) */
	unsigned int moves; /* how many times it moved */
	int64_t moved_at; /* unix time of the last move, 0 if never */
};

/*
 * proctab_find - the process pid of the cluster (not a thread, not a
 * kernel thread) into *p.  Returns 0 or -ESRCH.  Front-end processes are
 * read from /proc; processes that moved come from the table.
 */
int proctab_find(pid_t pid, struct proc_info *p);

/*
 * proctab_parent - the parent of pid on the front end (a moved process's:
 * its ghost's), read live; -1 if it is gone.
 */
pid_t proctab_parent(pid_t pid);

/*
 * proctab_list - the pids of the processes running on slot, ascending,
 * from pid `from` on; fills up to max.  Returns how many, or -errno.
 */
int proctab_list(int slot, pid_t from, pid_t *pids, size_t max);

/* proctab_count - processes running on slot, or -errno. */
long proctab_count(int slot);

/* proctab_may_signal - kill(2)'s rule for caller uid against p. */
bool proctab_may_signal(uid_t uid, const struct proc_info *p);

/*
 * proctab_signal - send sig to pid for caller uid, if it is still the
 * process that started at start (0: any).  Returns 0, -ESRCH when it is
 * gone, -EPERM when the caller may not signal it.
 */
int proctab_signal(pid_t pid, uint64_t start, int sig, uid_t uid);

/*
 * proctab_moved - record that process p (as it was when the move began)
 * now runs on slot, at unix time now; slot 0 takes it back to the front
 * end.  Its node's reports then refresh it with proctab_report.  Returns 0
 * or -ENOMEM.
 */
int proctab_moved(const struct proc_info *p, int slot, int64_t now);
/*
 * proctab_report - the node's latest view of moved process pid (which
 * started at start): state, comm, uids, rss and times of r.
 */
void proctab_report(pid_t pid, uint64_t start, const struct proc_info *r);
/* proctab_rename - moved process pid executed comm on its node (PROC_EXEC). */
void proctab_rename(pid_t pid, uint64_t start, const char *comm);
/*
 * proctab_born - process p started on slot (a node-born one: never on the
 * front end, never moved).  Returns 0 or -ENOMEM.
 */
int proctab_born(const struct proc_info *p, int slot);
/* proctab_exited - a moved process is gone. */
void proctab_exited(pid_t pid);
void proctab_fini(void);

/* ---- procfiles.c ---- */
/* procfiles_parse_name - a process file's name: a decimal pid. */
bool procfiles_parse_name(const char *name, pid_t *pid);
void procfiles_lookup(fuse_req_t req, int slot, pid_t pid);
/*
 * procfiles_readdir - add slot's process files from readdir offset off on
 * (first_off: the offset of the first of them) to buf.  Returns the bytes
 * added.
 */
size_t procfiles_readdir(fuse_req_t req, int slot, char *buf, size_t size,
			 off_t off, off_t first_off);
void procfiles_getattr(fuse_req_t req, fuse_ino_t ino);
void procfiles_setattr(fuse_req_t req, fuse_ino_t ino, int to_set);
void procfiles_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void procfiles_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void procfiles_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, struct fuse_file_info *fi);

/* ---- shared helpers (main.c) ---- */
extern struct fuse_session *bprocfs_session;
extern double bprocfs_attr_timeout;
/*
 * Open files are found by id, never by a pointer the kernel hands back, and
 * counted: a request that races with the release of its file finds nothing
 * (EBADF) or keeps the handle alive until it is done.
 */
struct fs_handle *fs_handle_new(fuse_ino_t ino);
struct fs_handle *fs_handle_get(const struct fuse_file_info *fi);
void fs_handle_put(struct fs_handle *h);
void fs_handle_release(const struct fuse_file_info *fi);
/* fs_reply_snapshot - serve a read from h's snapshot. */
void fs_reply_snapshot(fuse_req_t req, struct fs_handle *h, size_t size,
		       off_t off);

/*
 * Generated text files (the cluster's status and metrics, a node's files, a
 * process's file) are served from a snapshot held in their handle.  An
 * fs_build_fn writes the file's text for h into the empty buffer b and
 * returns 0, or returns -errno when the file cannot be built (then whatever
 * it wrote is discarded).  It runs with h->lock held, except at open.
 */
typedef int (*fs_build_fn)(struct fs_handle *h, struct sbuf *b);

/*
 * fs_handle_take_text - install the text built in b as h's snapshot.  If
 * building ran out of memory (b->oom), b's memory is freed, h keeps its old
 * snapshot and -ENOMEM is returned; otherwise h's old snapshot is freed, h
 * takes over b's memory (b->p is left NULL) and 0 is returned.  The caller
 * holds h->lock, or is the only one who knows h.
 */
int fs_handle_take_text(struct fs_handle *h, struct sbuf *b);

/*
 * fs_open_generated - answer an open of ino whose access mode the caller has
 * already checked.  A new handle gets proc_start (0 for files that are not a
 * process's), then its first snapshot from build; build NULL takes none (a
 * file served live or written only).  An error from build is replied as is,
 * with the handle dropped, so a caller that wants another errno maps it in
 * its build.  On success fi->fh names the handle, reads go direct (no page
 * cache), and the open is replied; the handle is dropped again if the
 * kernel no longer wants it.
 */
void fs_open_generated(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi, uint64_t proc_start,
		       fs_build_fn build);

/*
 * fs_read_generated - answer a read of [off, off + size) of a file opened
 * with fs_open_generated.  A read at offset 0, or on a handle with no
 * snapshot yet, first rebuilds the snapshot with build (its error, or
 * -ENOMEM, is replied and nothing is served), so each pass from the start
 * sees fresh text while later reads continue the same snapshot.  Replies
 * EBADF when fi's handle is gone; past the end, an empty read.
 */
void fs_read_generated(fuse_req_t req, struct fuse_file_info *fi, size_t size,
		       off_t off, fs_build_fn build);

void fs_fill_entry(struct fuse_entry_param *e, const struct stat *st,
		   double timeout);

#endif /* BPROCFS_H */
