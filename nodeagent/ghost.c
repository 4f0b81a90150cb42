// SPDX-License-Identifier: GPL-2.0
/*
 * The front end's ghosts.  When a front-end process moves away, the engine
 * leaves a ghost in its place (bproc.h, BPROC_IOC_GHOST): same pid, same
 * parent, no memory.  This agent holds each ghost's dump handle and:
 *
 *  - forwards every signal the ghost receives (kill, Ctrl-C, Ctrl-Z, fg)
 *    to the master, which sends it where the process runs; a ghost made
 *    with BPROC_IOC_GHOST_THREADS keeps the process's threads, and a
 *    signal sent to one of them alone goes with its tid, for that thread;
 *    the threads the process makes and ends where it runs (PROC_THREAD,
 *    PROC_THREAD_END) get or lose their ghost threads;
 *  - writes the process's output (IO_DATA of its streams: stdout, stderr
 *    and any other it writes to, proto.h and streams.c) to the ghost's fd
 *    of the same number, a terminal, a pipe, a file or a socket (a
 *    datagram an IO_DATA), acknowledging the bytes as they are written; a
 *    reader that went away is reported back (IO_EOF), so the process gets
 *    EPIPE as it would have here;
 *  - reads the ghost's stdin and sends it on, at most BPROC_IO_WINDOW
 *    bytes unacknowledged, and from a terminal only while the ghost's
 *    process group is in the foreground (as the terminal would allow); a
 *    regular file's offset is put back by what the process never read
 *    when it exits or comes home, so that whoever reads the file next
 *    goes on from where the process stopped, as with no move;
 *  - ends the ghost as the process ended (EXIT), once the output before the
 *    exit is written, so the parent's wait() sees the real status;
 *  - lets the ghost restore the process when it comes home (recv.c), once
 *    the output of its last host is written;
 *  - has the ghost of a process fork the ghost of a process it started on
 *    its node (PROC_FORK, proto.h "The process space"), with the new one's
 *    pid: one fork at a time per parent ghost, as a job; events for the
 *    child that come meanwhile wait for its ghost. A child ghost of a
 *    ghost ends when its process is reaped on its node (its real parent
 *    has waited for it there), and is then reaped by its parent ghost;
 *    the kernel's SIGCHLD for it is not forwarded (the real parent had its
 *    own). A ghost reads stdin only while its process owns its streams;
 *  - gives a ghost the name of its process when the process executes a
 *    program where it runs (PROC_EXEC: BPROC_IOC_GHOST_NAME), so that ps,
 *    pgrep and pkill here see the program that runs;
 *  - holds the output of a ghost still being forked (its process may own
 *    the streams before its ghost exists) until it is;
 *  - when nothing holds an output stream where the processes run (IO_EOF
 *    from the host), has every ghost that holds it (the moved process's,
 *    and those forked from it: a "set", split when its streams pass to
 *    another process because the first moved on) close it
 *    (BPROC_IOC_GHOST_CLOSE) and closes its own way to it once what waits
 *    is written, so that a reader here sees its end as with no move.
 *
 * The ghost's streams are reached through /proc/PID/fd: pipes and terminals
 * are opened anew, non-blocking, so that neither a slow reader nor a quiet
 * writer ever blocks this agent and the ghost's own descriptions keep
 * their flags; regular files, sockets and other devices are taken as they
 * are (pidfd_getfd), so a file's offset stays the one the process had and
 * a device that can be opened only once still works.
 */
#define LOG_PREFIX "ghost"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../ckpt/vdso.h"
#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define IO_CHUNK (64u << 10)
#define ACK_EVERY (32u << 10)
#define FG_CHECK_MS 200
#define KIDS_MAX 4096

enum stdio_kind {
	KIND_NONE, /* closed, or nothing this agent can use */
	KIND_FILE, /* a regular file or a device that never blocks */
	KIND_STREAM, /* a pipe, FIFO or terminal, opened anew non-blocking */
	KIND_SOCKET, /* the process's own socket */
};

/* Output for a ghost still being forked: written once it is. */
struct held_io {
	struct held_io *next;
	unsigned int type, fd;
	uint32_t len;
	uint8_t data[];
};

/* A stream the process writes to: the ghost's fd of that number. */
struct gout {
	uint32_t id;
	int fd; /* -1: nowhere (closed, /dev/null, a reader gone) */
	enum stdio_kind kind;
	struct iobuf q; /* output not yet written */
	uint32_t unacked; /* written, not yet acknowledged */
	bool ended; /* nothing holds it where it runs: close once written */
	struct ghost *g;
};

struct ghost {
	struct ghost *next;
	pid_t pid;
	int handle; /* -1 while it is being forked */
	bool threads; /* GHOST_THREADS: it keeps its threads, events tell tids */
	struct bp_stream *map; /* its streams, for ghosts it forks */
	unsigned int nr_map;
	bool in_owner; /* its process has its streams: stdin is read for it */
	/* the process group or session its process went into, to follow */
	bool pgrp_pending, pgrp_session;
	pid_t pgrp;
	/* its process's name, for its ghost once it is forked */
	bool name_pending;
	struct bproc_ghost_name name;
	uint8_t *name_args;
	struct held_io *held, **held_tail; /* while it is being forked */
	pid_t set; /* whose streams it holds: a moved process's pid */
	/* the streams that ended where it runs, the first nr_closed closed */
	uint32_t *ended;
	unsigned int nr_ended, cap_ended, nr_closed;
	/* forked by its parent's ghost (PROC_FORK) */
	pid_t parent; /* that parent, or 0 */
	bool forking, fork_started;
	struct job job;
	struct bproc_ghost_fork gf;
	bool reaped; /* its real parent waited for it where it ran */
	/* its children's ghosts: to reap once ended, and their SIGCHLDs */
	pid_t *kids;
	unsigned int nr_kids, cap_kids;
	pid_t *to_reap;
	unsigned int nr_to_reap, cap_to_reap;
	struct job reap_job;
	struct bproc_ghost_reap reap;
	int64_t reap_at_ms;
	int in_fd; /* stream 0: its stdin */
	enum stdio_kind in_kind;
	bool tty_in; /* stdin is a terminal */
	bool in_seekable; /* stdin is a regular file: unread bytes go back */
	uint32_t
		home_unread; /* its stdin's unread bytes when it left for home */
	uint32_t rewound; /* bytes put back for a restore that may fail */
	uint32_t rewound_unacked; /* and in_unacked before that */
	bool rewound_eof;
	struct gout *out;
	unsigned int nr_out;
	uint32_t in_unacked; /* stdin sent, not yet acknowledged */
	bool in_eof; /* stdin's end was sent */
	bool fg; /* the ghost's process group owns its terminal */
	int64_t fg_checked_ms;
	struct inmove *home; /* the process is coming home */
	uint64_t home_move;
	bool mark_seen; /* the last host said all it had */
	uint64_t mark_move;
	bool exit_pending, exiting;
	struct bp_exit exit;
	/*
	 * A process born on a node came home into its ghost, a child of its
	 * parent's ghost: it runs here, its proxy on that node holds its pid
	 * for its parent. Its end goes to the master (EXIT) and, once its
	 * parent there has waited for it (PROC_REAPED), its parent's ghost
	 * reaps it.
	 */
	bool at_home, home_exited;
	int pidfd;
	bool dead;
};

static struct ghost *ghosts;

static bool is_kid(const struct ghost *g, pid_t pid);
static struct gout *out_of(struct ghost *g, uint32_t id);
static void reap_later(struct ghost *g);
static uint8_t buf[IO_CHUNK];

/* Our own way to the ghost's fd n (0: to read, others: to write). */
static int open_stdio(int pidfd, pid_t pid, uint32_t n, enum stdio_kind *kind,
		      bool *tty)
{
	char path[64];
	struct stat st;
	int fd;

	*kind = KIND_NONE;
	*tty = false;
	snprintf(path, sizeof(path), "/proc/%d/fd/%u", pid, n);
	if (stat(path, &st))
		return -1;
	if (!S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode) &&
	    !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return -1;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);
	if (fd < 0)
		return -1;
	if (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && !isatty(fd))) {
		/* its own description: a file's offset, a device opened once */
		*kind = S_ISSOCK(st.st_mode) ? KIND_SOCKET : KIND_FILE;
		return fd;
	}
	close(fd);
	fd = open(path, (n == 0 ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_NOCTTY |
				O_CLOEXEC);
	if (fd < 0)
		return -1;
	*tty = isatty(fd);
	*kind = KIND_STREAM;
	return fd;
}

/* A ghost of pid (handle -1 until it is forked), its streams as map. */
static struct ghost *ghost_new(pid_t pid, const struct bp_stream *map,
			       unsigned int nr)
{
	struct ghost *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->out = calloc(nr ? nr : 1, sizeof(*g->out));
	g->map = calloc(nr ? nr : 1, sizeof(*g->map));
	if (!g->out || !g->map) {
		free(g->out);
		free(g->map);
		free(g);
		return NULL;
	}
	if (nr)
		memcpy(g->map, map, nr * sizeof(*map));
	g->nr_map = nr;
	g->held_tail = &g->held;
	g->pid = pid;
	g->handle = -1;
	g->in_fd = -1;
	g->pidfd = -1;
	g->next = ghosts;
	ghosts = g;
	return g;
}

/* Our own ways to the ghost's streams, once it exists. */
static void ghost_open_streams(struct ghost *g)
{
	const struct bp_stream *map = g->map;
	unsigned int i, k, nr = g->nr_map;
	pid_t pid = g->pid;
	int pidfd;
	bool tty;

	fcntl(g->handle, F_SETFL, O_NONBLOCK);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (i = 0; i < nr && pidfd >= 0; i++) {
		uint32_t id = map[i].stream;
		bool null = map[i].kind == BPROC_STREAM_NULL;

		if (id == 0) {
			if (g->in_fd < 0 && !null) {
				struct stat st;

				g->in_fd = open_stdio(pidfd, pid, 0,
						      &g->in_kind, &g->tty_in);
				g->in_seekable = g->in_fd >= 0 &&
						 !fstat(g->in_fd, &st) &&
						 S_ISREG(st.st_mode);
			}
			continue;
		}
		for (k = 0; k < g->nr_out && g->out[k].id != id; k++)
			;
		if (k < g->nr_out)
			continue;
		g->out[k].id = id;
		g->out[k].g = g;
		g->out[k].fd = null ? -1 :
				      open_stdio(pidfd, pid, id,
						 &g->out[k].kind, &tty);
		if (g->out[k].fd < 0 && !null)
			pr_debug("pid %d: stream %u goes nowhere", pid, id);
		g->nr_out++;
	}
	if (pidfd >= 0)
		close(pidfd);
}

static struct ghost *at_home(pid_t pid)
{
	struct ghost *g;

	for (g = ghosts; g; g = g->next)
		if (g->pid == pid && g->at_home && !g->dead)
			return g;
	return NULL;
}

int ghost_add(pid_t pid, int handle, const struct bp_stream *map,
	      unsigned int nr, bool threads)
{
	struct ghost *g = ghost_new(pid, map, nr), *was = at_home(pid);

	if (!g)
		return -ENOMEM;
	if (was) {
		/* born on a node, home, away again: still its parent's */
		g->parent = was->parent;
		was->dead = true;
	}
	g->handle = handle;
	g->threads = threads;
	g->in_owner = true;
	g->set = pid;
	ghost_open_streams(g);
	return 0;
}

struct ghost *ghost_find(pid_t pid)
{
	struct ghost *g;

	for (g = ghosts; g; g = g->next)
		if (g->pid == pid && !g->dead && !g->at_home)
			return g;
	return NULL;
}

int ghost_handle(const struct ghost *g)
{
	return g->handle;
}

/* ---- its vDSO, where the image wants it ---- */

/* An engine's ghost: its pid here and its dump handle. */
struct held_ghost {
	pid_t pid;
	int handle;
};

/*
 * A stopped ghost makes no call until it is continued, and this agent would
 * wait for it meanwhile: its calls are for a ghost that runs.
 */
static bool pid_stopped(pid_t pid)
{
	char buf[512], *p = proc_stat(pid, buf, sizeof(buf));

	return p && (p[0] == 'T' || p[0] == 't');
}

static bool ghost_stopped(const struct ghost *g)
{
	return pid_stopped(g->pid);
}

static int ghost_maps(void *arg, struct vdso_range *r, int max)
{
	return vdso_read_maps(((struct held_ghost *)arg)->pid, r, max);
}

static int ghost_move(void *arg, unsigned long from, unsigned long len,
		      unsigned long to)
{
	struct bproc_ghost_mremap a = { .from = from, .len = len, .to = to };
	struct held_ghost *hg = arg;

	if (pid_stopped(hg->pid)) {
		errno = EAGAIN; /* "mremap of the vDSO: Resource temporarily..." */
		return -1;
	}
	return ioctl(hg->handle, BPROC_IOC_GHOST_MREMAP, &a);
}

/*
 * A free place in the ghost (it has all but no mappings left): below the
 * lowest one at or above 4 GiB, or between two, away from [lo, hi).
 */
static unsigned long ghost_spare(void *arg, const struct vdso_range *r, int n,
				 unsigned long span, unsigned long lo,
				 unsigned long hi)
{
	const unsigned long gap = 1ul << 24, floor = 1ul << 32;
	unsigned long prev = floor;
	int i;

	(void)arg;
	for (i = 0; i <= n; i++) {
		unsigned long next = i < n ? r[i].start : 0x7ff000000000ul;
		unsigned long at = next - gap - span;

		if (i < n && r[i].end <= floor)
			continue;
		if (next > prev + 2 * gap + span && at >= prev + gap &&
		    (at >= hi || at + span <= lo))
			return at & ~0xffful;
		if (i < n)
			prev = r[i].end;
	}
	return 0;
}

/* Has the ghost pid a thread whose tid in its own namespace is tid? */
static bool has_thread(pid_t pid, pid_t tid)
{
	char path[64];
	struct dirent *d;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (d = readdir(dir))) {
		pid_t t = (pid_t)atoi(d->d_name);

		found = t > 0 && proc_ns_pid(pid, t) == tid;
	}
	closedir(dir);
	return found;
}

int ghost_thread(pid_t pid, int handle, pid_t tid)
{
	struct bproc_ghost_thread a = { .tid = tid };

	if (pid_stopped(pid))
		return -EAGAIN;
	if (!ioctl(handle, BPROC_IOC_GHOST_THREAD, &a))
		return 0;
	/* made for an earlier try that failed: it waits still */
	if (errno == EEXIST && has_thread(pid, tid))
		return 0;
	return -errno;
}

int ghost_place_vdso(pid_t pid, int handle, const struct bproc_image_mm *m,
		     char *why, size_t len)
{
	static const struct vdso_ops ops = {
		.maps = ghost_maps,
		.move = ghost_move,
		.spare = ghost_spare,
	};
	struct held_ghost hg = { .pid = pid, .handle = handle };
	int r = vdso_place_with(m, &ops, &hg, why, len);

	if (r == VDSO_IN_THE_WAY) {
		snprintf(why, len,
			 "the ghost's mappings are where its vDSO "
			 "would go");
		return -EADDRINUSE;
	}
	return r ? -errno : 0;
}

static struct gout *out_of(struct ghost *g, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < g->nr_out; i++)
		if (g->out[i].id == id)
			return &g->out[i];
	return NULL;
}

static bool output_pending(const struct ghost *g)
{
	unsigned int i;

	for (i = 0; i < g->nr_out; i++)
		if (g->out[i].q.len)
			return true;
	return false;
}

static void close_stdio(struct ghost *g)
{
	unsigned int i;

	close_fd(&g->in_fd);
	for (i = 0; i < g->nr_out; i++) {
		close_fd(&g->out[i].fd);
		iobuf_free(&g->out[i].q);
	}
}

/* ---- output: from wherever the process runs to the ghost's fds ---- */

static void send_ack(struct ghost *g, struct gout *o, bool now)
{
	struct bp_conn *c = link_conn();

	if (!c || !o->unacked || (!now && o->unacked < ACK_EVERY))
		return;
	link_sent(bp_send_io_ack(c, (uint32_t)g->pid, o->id, o->unacked),
		  "IO_ACK");
	o->unacked = 0;
}

/* The reader of stream o went away: drop what waits, tell the host. */
static void reader_gone(struct ghost *g, struct gout *o)
{
	struct bp_conn *c = link_conn();

	pr_debug("pid %d: stream %u: the reader went away", g->pid, o->id);
	o->unacked += (uint32_t)o->q.len;
	iobuf_free(&o->q);
	close_fd(&o->fd);
	o->kind = KIND_NONE;
	send_ack(g, o, true);
	if (c)
		link_sent(bp_send_io(c, BPROC_MSG_IO_EOF, (uint32_t)g->pid,
				     o->id, 0, NULL, 0),
			  "IO_EOF");
}

static void maybe_end(struct ghost *g);

static void write_out(struct ghost *g, struct gout *o)
{
	size_t before = o->q.len;
	const uint8_t *p;
	ssize_t w = 0;
	size_t k;

	if (o->fd < 0 || !before)
		return;
	while ((k = iobuf_peek(&o->q, &p))) {
		if (o->kind == KIND_SOCKET)
			w = send(o->fd, p, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(o->fd, p, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EMSGSIZE) {
			/* a datagram its socket here cannot take: as here */
			iobuf_drop(&o->q, k);
			continue;
		}
		if (w <= 0)
			break;
		iobuf_drop(&o->q, (size_t)w);
	}
	if (w < 0 && errno != EAGAIN) {
		reader_gone(g, o);
		before = 0;
	}
	if (before > o->q.len) {
		o->unacked += (uint32_t)(before - o->q.len);
		send_ack(g, o, !o->q.len);
	}
	if (!o->q.len && o->ended)
		close_fd(&o->fd); /* the reader here may see the end now */
	if (!o->q.len)
		maybe_end(g);
}

/*
 * Close what ended of g's streams, in the ghost (its descriptors of that
 * stream but stdin) and here (once what waits is written).  A ghost still
 * being forked closes them once it is.
 */
static void close_ended(struct ghost *g)
{
	int32_t fds[BPROC_GHOST_CLOSE_MAX];
	struct bproc_ghost_close a = { .fds = (uintptr_t)fds };
	unsigned int i;

	if (g->handle < 0 || g->forking || g->dead)
		return;
	for (; g->nr_closed < g->nr_ended; g->nr_closed++) {
		uint32_t id = g->ended[g->nr_closed];
		struct gout *o = out_of(g, id);

		for (i = 0; i < g->nr_map; i++)
			if (g->map[i].stream == id && g->map[i].fd > 0 &&
			    a.nr_fds < BPROC_GHOST_CLOSE_MAX)
				fds[a.nr_fds++] = (int32_t)g->map[i].fd;
		if (o) {
			o->ended = true;
			if (!o->q.len)
				close_fd(&o->fd);
		}
	}
	if (a.nr_fds && ioctl(g->handle, BPROC_IOC_GHOST_CLOSE, &a))
		pr_warn("pid %d: closing its ended streams: %m", g->pid);
}

/* Nothing holds stream id where owner's set runs: nothing here either. */
static void stream_ended(struct ghost *owner, uint32_t id)
{
	struct ghost *g;
	unsigned int i;

	if (!id)
		return;
	pr_debug("pid %d: stream %u ended where it runs", owner->pid, id);
	for (g = ghosts; g; g = g->next) {
		if (g->dead || g->set != owner->set)
			continue;
		for (i = 0; i < g->nr_ended && g->ended[i] != id; i++)
			;
		if (i < g->nr_ended)
			continue;
		if (g->nr_ended == g->cap_ended) {
			unsigned int cap = g->cap_ended ? 2 * g->cap_ended : 4;
			uint32_t *v = realloc(g->ended, cap * sizeof(*v));

			if (!v) {
				pr_warn("pid %d: out of memory", g->pid);
				continue;
			}
			g->ended = v;
			g->cap_ended = cap;
		}
		g->ended[g->nr_ended++] = id;
		close_ended(g);
	}
}

/* Give the ghost the name its process has now, once it can take it. */
static void name_ghost(struct ghost *g)
{
	if (!g->name_pending || g->handle < 0 || g->forking || g->dead)
		return;
	g->name_pending = false;
	if (ioctl(g->handle, BPROC_IOC_GHOST_NAME, &g->name) && errno != EBUSY)
		pr_warn("pid %d: naming its ghost %s: %m", g->pid,
			g->name.comm);
	free(g->name_args);
	g->name_args = NULL;
}

static bool calling(const struct ghost *p);

/* Its process's group or session, once its ghost can take it. */
static void pgrp_ghost(struct ghost *g)
{
	struct bproc_ghost_pgrp a = { .pgid = g->pgrp };

	if (!g->pgrp_pending || g->handle < 0 || g->forking || g->dead ||
	    g->home || g->exit_pending || calling(g) || ghost_stopped(g))
		return;
	g->pgrp_pending = false;
	a.flags = g->pgrp_session ? BPROC_GHOST_SETSID : 0;
	if (ioctl(g->handle, BPROC_IOC_GHOST_PGRP, &a))
		pr_info("pid %d: its ghost cannot follow it into %s %d: %m",
			g->pid, g->pgrp_session ? "a session" : "group",
			g->pgrp);
	else
		pr_debug("pid %d: its ghost is in %s %d", g->pid,
			 g->pgrp_session ? "the session" : "group", g->pgrp);
}

void ghost_pgrp(pid_t pid, pid_t pgid, bool session)
{
	struct ghost *g = ghost_find(pid);

	if (!g) {
		pr_debug("pid %d went into group %d: no ghost here", pid, pgid);
		return;
	}
	/* a session after a group: the session is the group too */
	if (g->pgrp_pending && g->pgrp_session && !session)
		pgrp_ghost(g);
	g->pgrp = pgid;
	g->pgrp_session = session;
	g->pgrp_pending = true;
	pgrp_ghost(g);
}

void ghost_thread_away(pid_t pid, pid_t tid, bool born)
{
	struct bproc_ghost_thread a = {
		.tid = tid,
		.flags = born ? BPROC_GHOST_THREAD_NOW : BPROC_GHOST_THREAD_END,
	};
	struct ghost *g = ghost_find(pid);

	/*
	 * A ghost thread is made by a call of the ghost's: none while it is
	 * stopped (nor is the process, which makes no thread meanwhile).
	 */
	if (!g || !g->threads || g->handle < 0 || g->home || g->exit_pending ||
	    (born && (calling(g) || ghost_stopped(g)))) {
		pr_debug("pid %d: thread %d %s: no ghost thread for it", pid,
			 tid, born ? "made" : "ended");
		return;
	}
	if (ioctl(g->handle, BPROC_IOC_GHOST_THREAD, &a))
		pr_debug("pid %d: ghost thread %d %s: %m", pid, tid,
			 born ? "not made" : "not ended");
}

void ghost_name(const struct bp_proc_exec *x)
{
	struct ghost *g = ghost_find((pid_t)x->pid);

	if (!g) {
		pr_debug("pid %u executed %s: no ghost here", x->pid, x->comm);
		return;
	}
	free(g->name_args);
	g->name_args = x->args_len ? malloc(x->args_len) : NULL;
	memset(&g->name, 0, sizeof(g->name));
	memcpy(g->name.comm, x->comm, sizeof(g->name.comm));
	g->name.comm[sizeof(g->name.comm) - 1] = '\0';
	if (g->name_args) {
		memcpy(g->name_args, x->args, x->args_len);
		g->name.args = (uintptr_t)g->name_args;
		g->name.args_len = x->args_len;
	}
	g->name_pending = true;
	name_ghost(g);
}

/* Output that came before the ghost was forked (its process owns the
 * streams already): held until it is. */
static void hold_output(struct ghost *g, unsigned int type, unsigned int fd,
			const uint8_t *data, uint32_t len)
{
	struct held_io *h = malloc(sizeof(*h) + len);

	if (!h) {
		pr_err("pid %d: out of memory for %u bytes of output", g->pid,
		       len);
		return;
	}
	h->next = NULL;
	h->type = type;
	h->fd = fd;
	h->len = len;
	memcpy(h->data, data, len);
	*g->held_tail = h;
	g->held_tail = &h->next;
}

static void drop_held(struct ghost *g)
{
	while (g->held) {
		struct held_io *h = g->held;

		g->held = h->next;
		free(h);
	}
	g->held_tail = &g->held;
}

void ghost_output(pid_t pid, unsigned int type, unsigned int fd,
		  const uint8_t *data, uint32_t len)
{
	struct ghost *g = ghost_find(pid);
	struct gout *o = g ? out_of(g, fd) : NULL;

	if (g && (g->forking || g->handle < 0)) {
		hold_output(g, type, fd, data, len);
		return;
	}
	if (g && type == BPROC_MSG_IO_EOF) {
		stream_ended(g, fd);
		return;
	}
	if (!o) {
		pr_debug("output of pid %d stream %u: no ghost here", pid, fd);
		return;
	}
	if (type == BPROC_MSG_IO_EOF)
		return; /* the ghost's own fd stays open until it ends */
	if (o->fd < 0) {
		o->unacked += len;
		send_ack(g, o, false);
		return;
	}
	if (iobuf_put(&o->q, data, len)) {
		pr_err("pid %d: out of memory for %u bytes of output", pid,
		       len);
		return;
	}
	write_out(g, o);
}

/* ---- stdin: from the ghost's stdin to the process ---- */

/* Is the ghost's process group the foreground of its terminal? */
static bool in_foreground(struct ghost *g)
{
	int64_t now = bp_now_ms();
	char stat[512], *p;
	int pgrp, tpgid;

	if (now - g->fg_checked_ms < FG_CHECK_MS)
		return g->fg;
	g->fg_checked_ms = now;
	p = proc_stat(g->pid, stat, sizeof(stat));
	/* state ppid pgrp session tty_nr tpgid */
	if (!p || sscanf(p, "%*c %*d %d %*d %*d %d", &pgrp, &tpgid) != 2)
		return g->fg = false;
	g->fg = pgrp == tpgid;
	return g->fg;
}

static void send_stdin(struct ghost *g, const uint8_t *data, ssize_t n)
{
	struct bp_conn *c = link_conn();

	if (!c)
		return;
	if (n <= 0) {
		g->in_eof = true;
		if (!g->in_seekable)
			close_fd(&g->in_fd);
		link_sent(bp_send_io(c, BPROC_MSG_IO_EOF, (uint32_t)g->pid, 0,
				     0, NULL, 0),
			  "IO_EOF");
		return;
	}
	g->in_unacked += (uint32_t)n;
	link_sent(bp_send_io(c, BPROC_MSG_IO_DATA, (uint32_t)g->pid, 0, 0, data,
			     (uint32_t)n),
		  "IO_DATA");
}

static void stdin_polled(void *obj, short revents)
{
	struct ghost *g = obj;
	size_t max = BPROC_IO_WINDOW - g->in_unacked;
	ssize_t n;

	if (g->dead || g->in_fd < 0 || g->in_eof || g->home || !link_conn())
		return;
	if (max > sizeof(buf))
		max = sizeof(buf);
	if (g->in_kind == KIND_SOCKET)
		n = recv(g->in_fd, buf, max, MSG_DONTWAIT);
	else
		n = read(g->in_fd, buf, max);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		pr_debug("pid %d: stdin: %m", g->pid);
	else if (n == 0)
		pr_debug("pid %d: stdin ends (revents %#x)", g->pid, revents);
	send_stdin(g, buf, n);
}

void ghost_ack(pid_t pid, uint32_t bytes)
{
	struct ghost *g = ghost_find(pid);

	if (g)
		g->in_unacked -= bytes < g->in_unacked ? bytes : g->in_unacked;
}

/* ---- signals and the end ---- */

static void handle_polled(void *obj, short revents)
{
	/* as many of the old records as of the new */
	struct bproc_ghost_tevent tev[16];
	struct bproc_ghost_event *ev = (void *)tev;
	struct ghost *g = obj;
	size_t one = g->threads ? sizeof(tev[0]) : sizeof(*ev);
	ssize_t n;
	int i;

	(void)revents;
	if (g->dead)
		return;
	for (;;) {
		n = read(g->handle, tev, 16 * one);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n / (ssize_t)one; i++) {
			const struct bproc_ghost_event *e =
				g->threads ? &tev[i].ev : &ev[i];
			int32_t tid = g->threads ? tev[i].tid : 0;
			struct bp_conn *c = link_conn();

			pr_debug("pid %d: signal %u from %d (thread %d)",
				 g->pid, e->signo, e->pid, tid);
			if (e->signo == SIGCHLD && e->code > 0 &&
			    is_kid(g, e->pid))
				continue; /* its real parent had its own */
			if (c)
				link_sent(bp_send_tsignal(c, (uint32_t)g->pid,
							  (uint32_t)tid,
							  e->signo),
					  "SIGNAL");
		}
	}
	if (n < 0 && errno == EAGAIN)
		return;
	/* EOF: the ghost is gone */
	if (!g->exiting && !g->home) {
		struct bp_conn *c = link_conn();

		/* killed here: the process must not go on without it */
		pr_info("pid %d: its ghost is gone; ending the process",
			g->pid);
		if (c)
			link_sent(bp_send_signal(c, (uint32_t)g->pid, SIGKILL),
				  "SIGNAL");
	}
	if (!g->home) {
		g->dead = true;
		reap_later(g);
	}
}

/*
 * Put back what the process never read of a regular file's stdin: what
 * was sent and no host acknowledged (still on its way, or held), and the
 * unread bytes its last stdin held.  Returns how far the offset went back.
 */
static uint32_t rewind_stdin(struct ghost *g, uint32_t unread)
{
	off_t back = (off_t)g->in_unacked + unread;

	if (!g->in_seekable || g->in_fd < 0 || !back || !g->in_owner)
		return 0;
	if (lseek(g->in_fd, -back, SEEK_CUR) < 0) {
		pr_warn("pid %d: stdin: putting back %lld bytes: %m", g->pid,
			(long long)back);
		return 0;
	}
	pr_debug("pid %d: %lld bytes of stdin put back", g->pid,
		 (long long)back);
	g->in_unacked = 0;
	g->in_eof = false;
	return (uint32_t)back;
}

/* End the ghost as the process ended, once its output is out. */
/* Is g's parent one of our ghosts, still a ghost? */
static struct ghost *parent_ghost(const struct ghost *g)
{
	return g->parent ? ghost_find(g->parent) : NULL;
}

/*
 * A child ghost of a ghost ends when it is reaped where it ran (its real
 * parent waited for it there); any other when it ends, for its parent
 * here to wait for.
 */
static bool may_end(const struct ghost *g)
{
	return g->exit.flags & BPROC_EXIT_LOST || g->reaped || !parent_ghost(g);
}

/*
 * Children whose ghosts are still to be forked from g's: g waits for
 * them, or they would have none (a child that outlives its parent, as
 * `sh -c 'sleep 100 &'` leaves, would be killed for it).
 */
static bool kids_forking(const struct ghost *g)
{
	const struct ghost *k;

	for (k = ghosts; k; k = k->next)
		if (k->parent == g->pid && k->forking && !k->dead)
			return true;
	return false;
}

int ghost_end_as(int handle, int status)
{
	struct bproc_ghost_exit ex = { 0 };

	if (WIFSIGNALED(status)) {
		ex.how = BPROC_GHOST_EXIT_SIGNAL;
		ex.value = WTERMSIG(status);
	} else {
		ex.how = BPROC_GHOST_EXIT_CODE;
		ex.value = WEXITSTATUS(status);
	}
	return ioctl(handle, BPROC_IOC_GHOST_EXIT, &ex);
}

static void maybe_end(struct ghost *g)
{
	int st = (int)g->exit.status;
	unsigned int i;

	if (g->forking && !g->fork_started && g->exit_pending && g->reaped &&
	    !g->held && !kids_forking(g)) {
		/*
		 * It was born, ended and waited for where it ran before its
		 * ghost's turn came (its parent's ghost makes one at a time):
		 * the ghost would only be made to end, and is not. A process
		 * that forks and reaps child after child costs this agent
		 * nothing for most of them.
		 */
		pr_debug("pid %d: ended before its ghost was made", g->pid);
		g->forking = false;
		g->dead = true;
		return;
	}
	if (!g->exit_pending || g->exiting || g->forking || output_pending(g) ||
	    !may_end(g) || kids_forking(g))
		return;
	pr_debug("pid %d: its ghost ends (status 0x%x)", g->pid, st);
	g->exiting = true;
	rewind_stdin(g, g->exit.stdin_unread);
	for (i = 0; i < g->nr_out; i++)
		send_ack(g, &g->out[i], true);
	/* readers see EOF when the ghost goes, not when this agent does */
	close_stdio(g);
	if (ghost_end_as(g->handle, st)) {
		pr_warn("pid %d: ending the ghost: %m", g->pid);
		g->dead = true;
	}
}

void ghost_exit(const struct bp_exit *e)
{
	struct ghost *g = ghost_find((pid_t)e->pid);

	if (!g) {
		pr_debug("exit of pid %u: no ghost here", e->pid);
		return;
	}
	if (g->home)
		pr_warn("pid %d ended while coming home", g->pid);
	g->exit = *e;
	g->exit_pending = true;
	maybe_end(g);
}

void ghost_reaped(pid_t pid)
{
	struct ghost *g = ghost_find(pid);

	if (!g && (g = at_home(pid))) {
		/* its parent on its node has waited for it: so does ours */
		pr_debug("pid %d, home, reaped where it was born", pid);
		g->dead = true;
		reap_later(g);
		return;
	}
	if (!g) {
		pr_debug("pid %d reaped: no ghost here", pid);
		return;
	}
	g->reaped = true;
	pr_debug("pid %d: reaped where it ran", pid);
	maybe_end(g);
}

void ghost_stream_owner(pid_t pid, pid_t from)
{
	struct ghost *to = ghost_find(pid), *was = ghost_find(from), *g;
	pid_t set = was ? was->set : from;

	if (pid == from) {
		/*
		 * It left the node where it shared the streams of the process
		 * that started it: it has streams of its own now, and reads
		 * its stdin here as they do (as two processes here would).
		 */
		if (to) {
			to->set = pid;
			to->in_owner = true;
		}
		pr_debug("pid %d: streams of its own", pid);
		return;
	}

	/*
	 * The streams stay with the others where they run, and from has
	 * other ones if it goes on elsewhere (it moved): the others are a
	 * set of their own, whose streams end apart from from's.
	 */
	for (g = ghosts; g; g = g->next)
		if (!g->dead && g->set == set && g->pid != from)
			g->set = pid;
	/* one reader of the streams' stdin here: whoever has them now */
	if (was)
		was->in_owner = false;
	if (to)
		to->in_owner = true;
	pr_debug("pid %d: the streams of %d", pid, from);
}

/* ---- ghosts forked by ghosts ---- */

static bool is_kid(const struct ghost *g, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < g->nr_kids; i++)
		if (g->kids[i] == pid)
			return true;
	return false;
}

static int add_pid(pid_t **v, unsigned int *n, unsigned int *cap, pid_t pid)
{
	pid_t *grown;

	if (*n == *cap) {
		unsigned int c = *cap ? *cap * 2 : 8;

		grown = realloc(*v, c * sizeof(**v));
		if (!grown)
			return -ENOMEM;
		*v = grown;
		*cap = c;
	}
	(*v)[(*n)++] = pid;
	return 0;
}

static void drop_pid(pid_t *v, unsigned int *n, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < *n; i++)
		if (v[i] == pid) {
			v[i] = v[--*n];
			return;
		}
}

/* A call of the parent ghost's is in flight (one at a time). */
static bool calling(const struct ghost *p)
{
	const struct ghost *g;

	if (p->reap_job.running)
		return true;
	for (g = ghosts; g; g = g->next)
		if (g->parent == p->pid && g->forking && g->fork_started)
			return true;
	return false;
}

static void tell_ghost(pid_t pid, int err)
{
	struct bp_conn *c = link_conn();

	if (c)
		link_sent(bp_send_pid_pair(c, BPROC_MSG_PROC_GHOST,
					   (uint32_t)pid, (uint32_t)err),
			  "PROC_GHOST");
}

static void fork_polled(void *obj, short revents)
{
	struct ghost *g = obj;
	struct ghost *p = parent_ghost(g);
	int err;

	(void)revents;
	if (!job_finished(&g->job))
		return;
	g->forking = false;
	err = g->job.ret < 0 ? g->job.err : 0;
	if (err) {
		pr_info("pid %d: no ghost: %s", g->pid, strerror(err));
		tell_ghost(g->pid, err);
		g->dead = true;
		if (p)
			maybe_end(p); /* it may have waited for this one */
		return;
	}
	g->handle = g->gf.handle_fd;
	/* a child of a ghost that keeps threads keeps its own (module 1.8) */
	g->threads = p && p->threads;
	ghost_open_streams(g);
	close_ended(g);
	name_ghost(g);
	while (g->held) {
		struct held_io *h = g->held;

		g->held = h->next;
		ghost_output(g->pid, h->type, h->fd, h->data, h->len);
		free(h);
	}
	g->held_tail = &g->held;
	/* the latest KIDS_MAX of them: which SIGCHLDs are not the process's */
	if (p && p->nr_kids == KIDS_MAX)
		memmove(p->kids, p->kids + 1, --p->nr_kids * sizeof(*p->kids));
	if (p && add_pid(&p->kids, &p->nr_kids, &p->cap_kids, g->pid))
		pr_warn("pid %d: out of memory for its children", p->pid);
	pr_debug("pid %d: its ghost is a child of %d's", g->pid, g->parent);
	tell_ghost(g->pid, 0);
	maybe_end(g); /* it may have ended meanwhile */
	if (p)
		maybe_end(p); /* and its parent waited for this one */
}

/* g's parent ghost is there now: g holds what it holds. */
static int take_map(struct ghost *g, const struct ghost *p)
{
	struct bp_stream *map;
	struct gout *out;

	if (g->nr_map || !p->nr_map)
		return 0;
	map = calloc(p->nr_map, sizeof(*map));
	out = calloc(p->nr_map, sizeof(*out));
	if (!map || !out) {
		free(map);
		free(out);
		return -ENOMEM;
	}
	memcpy(map, p->map, p->nr_map * sizeof(*map));
	free(g->map);
	free(g->out);
	g->map = map;
	g->out = out;
	g->nr_map = p->nr_map;
	return 0;
}

void ghost_fork(const struct bp_proc_fork *f)
{
	struct ghost *p = ghost_find((pid_t)f->ppid), *g;

	if (!p && send_in_flight((pid_t)f->ppid)) {
		/*
		 * It forked as soon as it ran on its new host, before its
		 * move has ended here: its ghost waits for its parent's.
		 */
		g = ghost_new((pid_t)f->pid, NULL, 0);
		if (!g) {
			tell_ghost((pid_t)f->pid, ENOMEM);
			return;
		}
		g->parent = (pid_t)f->ppid;
		g->set = (pid_t)f->ppid;
		g->forking = true;
		g->gf.pid = (int32_t)f->pid;
		return;
	}
	if (!p || p->home) {
		/* its parent came home, or is gone: nothing to fork it */
		pr_info("pid %u: no ghost of its parent %u", f->pid, f->ppid);
		tell_ghost((pid_t)f->pid, ESRCH);
		return;
	}
	g = ghost_new((pid_t)f->pid, p->map, p->nr_map);
	if (!g) {
		tell_ghost((pid_t)f->pid, ENOMEM);
		return;
	}
	g->parent = p->pid;
	g->set = p->set;
	g->forking = true;
	g->gf.pid = (int32_t)f->pid;
	/* what its parent's ghost closed, this one may hold still */
	if (p->nr_ended) {
		g->ended = malloc(p->nr_ended * sizeof(*g->ended));
		if (g->ended) {
			memcpy(g->ended, p->ended,
			       p->nr_ended * sizeof(*g->ended));
			g->nr_ended = g->cap_ended = p->nr_ended;
		}
	}
}

/* Start what waits for a parent ghost: a fork, or a reaping. */
static void parent_calls(struct ghost *g)
{
	struct ghost *p = parent_ghost(g);
	int err;

	if (!g->forking || g->fork_started)
		return;
	if (p && p->forking)
		return; /* its parent's ghost is being made: this one next */
	if (!p && send_in_flight(g->parent))
		return; /* its parent's move has not ended yet */
	if (!p || p->home || p->handle < 0 || take_map(g, p)) {
		g->forking = false;
		tell_ghost(g->pid, ESRCH);
		g->dead = true;
		if (p)
			maybe_end(p);
		return;
	}
	if (calling(p))
		return;
	err = job_start(&g->job, p->handle, BPROC_IOC_GHOST_FORK, &g->gf);
	if (err) {
		g->forking = false;
		tell_ghost(g->pid, -err);
		g->dead = true;
		maybe_end(p);
		return;
	}
	g->fork_started = true;
}

static void reap_polled(void *obj, short revents)
{
	struct ghost *p = obj;

	(void)revents;
	if (!job_finished(&p->reap_job))
		return;
	if (p->reap_job.ret < 0 && p->reap_job.err == EAGAIN) {
		/* not a zombie yet: soon */
		p->reap_at_ms = bp_now_ms() + 20;
		return;
	}
	if (p->reap_job.ret < 0) /* it ends: its parent here reaps it */
		pr_debug("pid %d: reaping the ghost of %d: %s", p->pid,
			 p->reap.pid, strerror(p->reap_job.err));
	else
		pr_debug("pid %d: the ghost of %d reaped", p->pid, p->reap.pid);
	/* still a kid: its SIGCHLD may not have been read yet */
	drop_pid(p->to_reap, &p->nr_to_reap, p->reap.pid);
	p->reap_at_ms = 0;
}

static void reap_kids(struct ghost *p)
{
	if (!p->nr_to_reap || p->reap_job.running || calling(p) ||
	    p->handle < 0 || p->home || p->exiting)
		return;
	if (bp_now_ms() < p->reap_at_ms) {
		loop_wake_at(p->reap_at_ms);
		return;
	}
	p->reap.pid = p->to_reap[0];
	if (job_start(&p->reap_job, p->handle, BPROC_IOC_GHOST_REAP, &p->reap))
		p->reap_at_ms = bp_now_ms() + 100;
}

/* g's ghost is gone: its parent ghost reaps it. */
static void reap_later(struct ghost *g)
{
	struct ghost *p = parent_ghost(g);

	if (!p || !is_kid(p, g->pid))
		return;
	if (add_pid(&p->to_reap, &p->nr_to_reap, &p->cap_to_reap, g->pid))
		pr_warn("pid %d: its ghost will not be reaped", g->pid);
}

/* ---- coming home ---- */

static void check_home(struct ghost *g)
{
	if (g->home && g->mark_seen && g->mark_move == g->home_move &&
	    !output_pending(g))
		recv_ghost_ready(g->home);
}

int ghost_home(struct ghost *g, struct inmove *im, uint64_t move_id)
{
	if (im && ((g->home && g->home != im) || g->exit_pending))
		return -EBUSY;
	g->home = im;
	g->home_move = move_id;
	if (im)
		check_home(g);
	return 0;
}

void ghost_mark(pid_t pid, uint64_t move_id, uint32_t stdin_unread)
{
	struct ghost *g = ghost_find(pid);

	if (!g) {
		pr_debug("IO_MARK of pid %d: no ghost here", pid);
		return;
	}
	g->mark_seen = true;
	g->mark_move = move_id;
	g->home_unread = stdin_unread;
	check_home(g);
}

void ghost_rewind(struct ghost *g, bool undo)
{
	if (!undo) {
		g->rewound_unacked = g->in_unacked;
		g->rewound_eof = g->in_eof;
		g->rewound = rewind_stdin(g, g->home_unread);
		return;
	}
	/* the restore failed: the process still has those bytes there */
	if (!g->rewound)
		return;
	if (lseek(g->in_fd, g->rewound, SEEK_CUR) < 0)
		pr_warn("pid %d: stdin: %m", g->pid);
	g->in_unacked = g->rewound_unacked;
	g->in_eof = g->rewound_eof;
	g->rewound = 0;
}

void ghost_restored(struct ghost *g)
{
	unsigned int i;

	for (i = 0; i < g->nr_out; i++)
		send_ack(g, &g->out[i], true);
	close_stdio(g);
	g->home = NULL;
	if (parent_ghost(g) && is_kid(parent_ghost(g), g->pid)) {
		/* born on a node: its parent there waits for it */
		g->pidfd = (int)syscall(SYS_pidfd_open, g->pid, 0);
		if (g->pidfd >= 0) {
			g->at_home = true;
			close_fd(&g->handle);
			g->mark_seen = false;
			return;
		}
		pr_warn("pid %d: home, but not watched: %m", g->pid);
	}
	g->dead = true;
}

/* The wait status of our pid, a zombie: /proc/PID/stat's exit_code. */
static int zombie_status(pid_t pid)
{
	char buf[1024], *p = proc_stat(pid, buf, sizeof(buf));
	size_t n = p ? strlen(p) : 0;

	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
		p[--n] = '\0';
	p = n ? strrchr(p, ' ') : NULL;
	return p ? atoi(p + 1) : SIGKILL;
}

/* One born on a node and home here ended: its proxy there ends alike. */
static void home_polled(void *obj, short revents)
{
	struct ghost *g = obj;
	struct bp_exit e = { 0 };
	struct bp_conn *c = link_conn();

	(void)revents;
	if (!g->at_home || g->home_exited)
		return;
	g->home_exited = true;
	close_fd(&g->pidfd);
	e.pid = (uint32_t)g->pid;
	e.status = (uint32_t)zombie_status(g->pid);
	pr_debug("pid %d, home, ended: status 0x%x", g->pid, e.status);
	if (c)
		link_sent(bp_send_exit(c, &e), "EXIT");
}

/* ---- the loop ---- */

static void output_polled(void *obj, short revents)
{
	struct gout *o = obj;
	struct ghost *g = o->g;

	(void)revents;
	if (!g->dead)
		write_out(g, o);
	if (!g->dead)
		check_home(g);
}

void ghost_watch(void)
{
	struct ghost *g;
	unsigned int i;

	for (g = ghosts; g; g = g->next) {
		/* the calls first, so that one started now is watched now */
		if (!g->dead && g->forking)
			parent_calls(g);
		else if (!g->dead)
			reap_kids(g);
		if (!g->dead && g->pgrp_pending)
			pgrp_ghost(g);
	}
	for (g = ghosts; g; g = g->next) {
		job_watch(&g->job, fork_polled, g);
		job_watch(&g->reap_job, reap_polled, g);
		if (g->at_home && !g->dead && g->pidfd >= 0)
			loop_add(g->pidfd, POLLIN, home_polled, g);
		if (g->dead || g->forking || g->at_home)
			continue;
		/* signals wait at the master while it moves */
		if (!g->home)
			loop_add(g->handle, POLLIN, handle_polled, g);
		for (i = 0; i < g->nr_out; i++)
			if (g->out[i].q.len)
				loop_add(g->out[i].fd, POLLOUT, output_polled,
					 &g->out[i]);
		if (g->in_fd < 0 || g->in_eof || g->home || g->exit_pending ||
		    !g->in_owner || g->in_unacked >= BPROC_IO_WINDOW ||
		    !link_room())
			continue;
		if (g->tty_in && !in_foreground(g)) {
			loop_wake_at(g->fg_checked_ms + FG_CHECK_MS);
			continue;
		}
		loop_add(g->in_fd, POLLIN, stdin_polled, g);
	}
}

void ghost_reap(void)
{
	struct ghost **pp = &ghosts;

	while (*pp) {
		struct ghost *g = *pp;

		/* a job of its own may still write into it */
		if (!g->dead || g->job.running || g->reap_job.running) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		close_stdio(g);
		close_fd(&g->handle);
		close_fd(&g->pidfd);
		free(g->out);
		free(g->map);
		free(g->kids);
		free(g->to_reap);
		free(g->name_args);
		free(g->ended);
		drop_held(g);
		free(g);
	}
}
