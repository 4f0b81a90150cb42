// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster processes on this node: those that moved here, each in the
 * namespace of space.c under its front-end pid (the child of a stand-in
 * for its parent, of that namespace's init, or of the agent), and
 * those that cluster processes started here ("born" here: their pids
 * come from the node's range, space.c tells of their forks, exits and
 * reapings). Every moved process has its streams (proto.h: stdin, stdout,
 * stderr and any other output it had open on the front end) on pipes or
 * socket pairs to the agent, or on /dev/null; the processes it starts
 * here share them (they inherit its ends):
 *
 *  - what is written to a stream goes to the master as IO_DATA (for the
 *    front end, where the ghosts have the stream's real end), a datagram
 *    each for a datagram socket, at most BPROC_IO_WINDOW bytes per stream
 *    unacknowledged, so that a slow reader there slows the writers down;
 *    it goes under the pid of the streams' owner: the process that
 *    brought them, and once it has ended, one that still holds them
 *    (STREAM_OWNER tells the front end, which reads stdin for that one);
 *  - stdin bytes from the master go into the stdin pipe, acknowledged as
 *    they go in (but bytes an earlier host acknowledged, BPROC_IO_ACKED);
 *    IO_EOF closes it;
 *  - signals from the master are sent to the process; a born process is
 *    announced to the master (PROC_FORK) as soon as it is forked; every
 *    exit goes to the master after the output written before it, with
 *    how many bytes its stdin held unread, and a born process's reaping
 *    after that (PROC_REAPED). The agent's children end as their pidfd
 *    says, the others (born ones, and moved ones whose parent here is a
 *    stand-in or the init) as the namespace's events say;
 *  - PROC_PARENT from the master: a moved process's parent changed on the
 *    front end (it ended there): the stand-in that is its parent here ends
 *    once none of its children has it as parent (space.c), and getppid()
 *    gives 1.
 *
 * When a process moves away (send.c), its output up to the dump is
 * flushed before the IO_MARK, which says how much its stdin holds unread,
 * and what its stdin still holds is read back through a reader of our own
 * and handed to the master to requeue (unless processes left here share
 * its streams: they keep them, one of them as their owner). A born one
 * that leaves keeps its place here as a proxy, the engine's ghost of it,
 * for its parent; if it comes back, the proxy restores it (recv.c) and it
 * is hosted here again, with streams of its own, as when it left.
 *
 * Which of its fds are which streams, when it moves on, is told by the
 * pipe or socket they are (their end's inode), and for /dev/null by the
 * open file description itself (kcmp), of which the agent keeps a
 * reference.
 */
#define LOG_PREFIX "hosted"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define IO_CHUNK (64u << 10)
#define ACK_EVERY (32u << 10)
#define FORMER_MAX 8

/* A stream it writes to (1, 2, ...): our read end of its pipe. */
struct out_stream {
	uint32_t id, kind;
	int fd; /* -1 once closed, or for /dev/null */
	int ref; /* /dev/null: the description it was given */
	ino_t ino;
	uint64_t unacked;
};

/*
 * A process's streams here: our ends of its pipes or socket pairs, shared
 * with the processes it starts here. Their IO goes under the owner's pid;
 * IO under a former owner's pid (on its way when the owner changed) still
 * finds them.
 */
struct hstreams {
	struct hstreams *next;
	int refs; /* the processes that hold them */
	pid_t owner;
	pid_t former[FORMER_MAX];
	int in_w, in_r; /* stream 0: our write end, our own reader */
	int in_ref; /* stream 0 on /dev/null: the description it was given */
	uint32_t in_kind;
	bool have_in;
	ino_t in_ino;
	struct iobuf inq; /* stdin that the pipe has no room for yet */
	size_t inq_acked; /* bytes at its front an earlier host acked */
	uint32_t in_unacked; /* written into the pipe, not yet acked */
	bool in_eof; /* close the pipe once inq is in */
	bool parked; /* its owner is dumped for a move: stdin stays as is */
	struct out_stream *out;
	unsigned int nr_out;
};

struct hosted {
	struct hosted *next;
	pid_t pid; /* front-end pid, and its pid in the namespace */
	pid_t lpid; /* its pid in the agent's own namespace */
	int pidfd;
	struct hstreams *st;
	bool born; /* started here by a cluster process: not our child */
	/*
	 * Its parent's pid: born, its parent's when it was born; moved, the
	 * one its source named, then the master's (PROC_PARENT); 0: unknown.
	 */
	pid_t ppid;
	/*
	 * Moved: the pid of its parent here if that is not the agent (the
	 * stand-in for ppid, or 1: the namespace's init), and so its end is
	 * the namespace's EXIT event; 0: our child, its pidfd says.
	 */
	pid_t under;
	/*
	 * A born one that moved away: the engine's ghost of it (a proxy)
	 * holds its pid here for its parent, this the ghost's handle (-1:
	 * none). Signals to it go to the process; it ends as the process
	 * ended (EXIT from the master).
	 */
	int ghost;
	bool ghost_ending;
	bool restoring; /* its proxy restores it: a move back here */
	bool moving; /* a move out is in flight: output waits for it */
	bool left; /* it moved away: reap it without a word */
	bool exited, exit_sent;
	bool reaped; /* its parent here has waited for it */
	int status;
	bool dead;
	char comm[16]; /* the name its ghost has (PROC_EXEC) */
	uint32_t uid; /* its real uid, as last read (children start with it) */
	/* its process group and session in the namespace, as last told */
	pid_t pgid, sid;
	pid_t now_pgid, now_sid; /* as this report's round reads them */
};

static struct hosted *procs;
static struct hstreams *sets;
static unsigned int nr_procs;
static uint8_t iobuf_tmp[IO_CHUNK];
static uint8_t msg_tmp[256u << 10]; /* one datagram */

static bool is_message(uint32_t kind)
{
	return kind == BPROC_STREAM_DGRAM || kind == BPROC_STREAM_SEQPACKET;
}

static bool is_socket(uint32_t kind)
{
	return kind == BPROC_STREAM_SOCKET || is_message(kind);
}

/* Read without blocking from a reader of ours (a socket's may share the
 * process's blocking description). */
static ssize_t read_nb(int fd, void *buf, size_t n, uint32_t kind)
{
	return is_socket(kind) ? recv(fd, buf, n, MSG_DONTWAIT) :
				 read(fd, buf, n);
}

/* A socket whose other end is gone (its reads say 0 for ever). */
static bool closed_end(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && p.revents & (POLLHUP | POLLERR);
}

/* Bytes that wait to be read in fd (a pipe or socket), 0 if unknown. */
static uint32_t unread_in(int fd)
{
	int n = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &n) || n < 0)
		return 0;
	return (uint32_t)n;
}

/* ---- stream sets ---- */

static struct hstreams *st_new(pid_t owner, const struct hosted_stream *streams,
			       unsigned int nr)
{
	struct hstreams *st = calloc(1, sizeof(*st));
	unsigned int i;

	if (!st)
		return NULL;
	st->out = calloc(nr ? nr : 1, sizeof(*st->out));
	if (!st->out) {
		free(st);
		return NULL;
	}
	st->refs = 1;
	st->owner = owner;
	st->in_w = st->in_r = st->in_ref = -1;
	for (i = 0; i < nr; i++) {
		if (streams[i].id == 0) {
			st->have_in = true;
			st->in_w = streams[i].fd;
			st->in_r = streams[i].in_r;
			st->in_ref = streams[i].ref;
			st->in_kind = streams[i].kind;
			st->in_ino = streams[i].ino;
			continue;
		}
		st->out[st->nr_out].id = streams[i].id;
		st->out[st->nr_out].kind = streams[i].kind;
		st->out[st->nr_out].fd = streams[i].fd;
		st->out[st->nr_out].ref = streams[i].ref;
		st->out[st->nr_out].ino = streams[i].ino;
		st->nr_out++;
	}
	st->next = sets;
	sets = st;
	return st;
}

static void st_close(struct hstreams *st)
{
	unsigned int i;

	close_fd(&st->in_w);
	close_fd(&st->in_r);
	close_fd(&st->in_ref);
	for (i = 0; i < st->nr_out; i++) {
		close_fd(&st->out[i].fd);
		close_fd(&st->out[i].ref);
	}
}

static void st_put(struct hstreams *st)
{
	struct hstreams **pp;

	if (!st || --st->refs > 0)
		return;
	for (pp = &sets; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	st_close(st);
	iobuf_free(&st->inq);
	free(st->out);
	free(st);
}

/* The streams whose IO goes (or went) under pid. */
static struct hstreams *st_of_tag(pid_t pid)
{
	struct hstreams *st;
	int i;

	for (st = sets; st; st = st->next) {
		if (st->owner == pid)
			return st;
		for (i = 0; i < FORMER_MAX; i++)
			if (st->former[i] == pid)
				return st;
	}
	return NULL;
}

static struct hosted *owner_of(const struct hstreams *st)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h->st == st && h->pid == st->owner && !h->dead)
			return h;
	return NULL;
}

/* Another process here that holds st and goes on, or NULL. */
static struct hosted *other_holder(const struct hstreams *st,
				   const struct hosted *but)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h != but && h->st == st && !h->exited && !h->left &&
		    !h->dead)
			return h;
	return NULL;
}

static void send_ack_of(pid_t tag, unsigned int fd, uint32_t bytes)
{
	struct bp_conn *c = link_conn();

	if (c && bytes)
		link_sent(bp_send_io_ack(c, (uint32_t)tag, fd, bytes),
			  "IO_ACK");
}

/*
 * st's owner h is gone (ended, or away): to holder from now on.  What was
 * written under h's pid but not yet acknowledged is forgiven (the acks may
 * still come, under h's pid), and so is what went into stdin.
 */
static void st_pass(struct hstreams *st, struct hosted *h,
		    struct hosted *holder)
{
	struct bp_conn *c = link_conn();
	unsigned int i;

	send_ack_of(h->pid, 0, st->in_unacked);
	st->in_unacked = 0;
	for (i = 0; i < st->nr_out; i++)
		st->out[i].unacked = 0;
	memmove(st->former + 1, st->former,
		sizeof(st->former) - sizeof(st->former[0]));
	st->former[0] = st->owner;
	st->owner = holder->pid;
	pr_debug("pid %d: its streams go on with pid %d", h->pid, holder->pid);
	if (c)
		link_sent(bp_send_pid_pair(c, BPROC_MSG_STREAM_OWNER,
					   (uint32_t)holder->pid,
					   (uint32_t)h->pid),
			  "STREAM_OWNER");
}

/* ---- processes ---- */

static void threads_leaving(pid_t pid);

struct hosted *hosted_add(pid_t pid, pid_t lpid, int pidfd, pid_t ppid,
			  pid_t under, const struct hosted_stream *streams,
			  unsigned int nr)
{
	struct hosted *h = calloc(1, sizeof(*h));
	struct bp_proc_report r = { 0 };

	if (!h)
		return NULL;
	h->st = st_new(pid, streams, nr);
	if (!h->st) {
		free(h);
		return NULL;
	}
	h->pid = pid;
	h->lpid = lpid;
	h->pidfd = pidfd;
	h->ppid = ppid;
	h->under = under;
	h->ghost = -1;
	/*
	 * Its restorer made a session of its own here (setsid): that is no
	 * change for its ghost, which keeps the process's group and session.
	 */
	h->pgid = h->sid = pid;
	/* restored: its ghost has the name it has now */
	if (!hosted_stat(lpid, &r))
		memcpy(h->comm, r.comm, sizeof(h->comm));
	h->uid = hosted_uid(lpid);
	h->next = procs;
	procs = h;
	nr_procs++;
	return h;
}

struct hosted *hosted_find(pid_t pid)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h->pid == pid && !h->left && !h->dead)
			return h;
	return NULL;
}

pid_t hosted_lpid(const struct hosted *h)
{
	return h->lpid;
}

unsigned int hosted_count(void)
{
	return nr_procs;
}

static void stdin_push(struct hstreams *st);

void hosted_set_moving(struct hosted *h, bool moving)
{
	if (moving)
		threads_leaving(h->pid);
	h->moving = moving;
	if (!moving && h->st->parked) {
		h->st->parked = false;
		stdin_push(h->st); /* it goes on here */
	}
}

/* Stdin acknowledged and not read: in its pipe, or from an earlier host. */
static uint32_t stdin_held(const struct hstreams *st)
{
	return unread_in(st->in_r) + (uint32_t)st->inq_acked;
}

uint32_t hosted_park(struct hosted *h)
{
	/* one that shares its owner's streams leaves its stdin to them */
	if (h->st->owner != h->pid)
		return 0;
	h->st->parked = true;
	return stdin_held(h->st);
}

pid_t hosted_ppid(const struct hosted *h)
{
	return h->ppid;
}

void hosted_parent(pid_t pid, pid_t ppid)
{
	struct hosted *h = hosted_find(pid);

	/* a born one's parent here is its real one */
	if (!h || h->born || h->ppid == ppid)
		return;
	pr_debug("pid %d: its parent is %d now (was %d)", pid, ppid, h->ppid);
	h->ppid = ppid;
}

bool hosted_wants_parent(pid_t ppid)
{
	const struct hosted *h;

	for (h = procs; h; h = h->next)
		if (!h->born && h->under == ppid && h->ppid == ppid &&
		    !h->exited && !h->left && !h->dead)
			return true;
	return false;
}

void hosted_reparented(pid_t ppid)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (!h->born && h->under == ppid)
			h->under = 1;
}

bool hosted_is_born(const struct hosted *h)
{
	return h->born;
}

pid_t hosted_child_of(const struct hosted *h)
{
	const struct hosted *k;

	for (k = procs; k; k = k->next)
		if (k->born && k->ppid == h->pid && !k->dead && !k->reaped &&
		    !k->left)
			return k->pid;
	return 0;
}

/*
 * Its descriptors, but for those of the engine's: a proxy holds nothing
 * of what the process had here (a stream of its set ends when the others
 * are done with it, a file here is not kept open).
 */
static void proxy_close_fds(struct hosted *h)
{
	int32_t fds[BPROC_GHOST_CLOSE_MAX];
	struct bproc_ghost_close a = { .fds = (uintptr_t)fds };
	struct dirent *d;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", h->lpid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);

		if (*end || d->d_name[0] == '.' || fd < 0 || fd > INT32_MAX)
			continue;
		fds[a.nr_fds++] = (int32_t)fd;
		if (a.nr_fds == BPROC_GHOST_CLOSE_MAX) {
			if (ioctl(h->ghost, BPROC_IOC_GHOST_CLOSE, &a))
				pr_debug("pid %d: its proxy's fds: %m", h->pid);
			a.nr_fds = 0;
		}
	}
	closedir(dir);
	if (a.nr_fds && ioctl(h->ghost, BPROC_IOC_GHOST_CLOSE, &a))
		pr_debug("pid %d: its proxy's fds: %m", h->pid);
}

void hosted_proxy(struct hosted *h, int handle)
{
	h->ghost = handle;
	fcntl(handle, F_SETFL, O_NONBLOCK);
	proxy_close_fds(h);
	pr_debug("pid %d: a proxy holds its pid for %d", h->pid, h->ppid);
}

/*
 * Signals its proxy got go to the process: false once the handle says no
 * more (the proxy is gone, or is the process again).
 */
static bool proxy_events(struct hosted *h)
{
	struct bproc_ghost_event ev[16];
	struct bp_conn *c;
	ssize_t n;
	int i;

	while ((n = read(h->ghost, ev, sizeof(ev))) > 0) {
		c = link_conn();
		for (i = 0; c && i < n / (ssize_t)sizeof(ev[0]); i++) {
			pr_debug("pid %d: signal %u to its proxy", h->pid,
				 ev[i].signo);
			link_sent(bp_send_signal(c, (uint32_t)h->pid,
						 ev[i].signo),
				  "SIGNAL");
		}
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Signals its proxy got go to the process; a proxy killed ends it. */
static void proxy_polled(void *obj, short revents)
{
	struct hosted *h = obj;
	struct bp_conn *c;

	(void)revents;
	if (h->ghost < 0 || h->restoring)
		return;
	if (proxy_events(h))
		return;
	/* the proxy is gone: by its own end, or killed here */
	c = link_conn();
	if (!h->ghost_ending && c) {
		pr_info("pid %d: its proxy here was killed; so is it", h->pid);
		link_sent(bp_send_signal(c, (uint32_t)h->pid, SIGKILL),
			  "SIGNAL");
	}
	close_fd(&h->ghost);
}

void hosted_proxy_exit(const struct bp_exit *e)
{
	int st = (int)e->status;
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h->pid == (pid_t)e->pid && h->left && h->ghost >= 0 &&
		    !h->ghost_ending)
			break;
	if (!h) {
		pr_debug("exit of pid %u: no proxy of it here", e->pid);
		return;
	}
	h->ghost_ending = true;
	pr_debug("pid %d: its proxy ends (status 0x%x)", h->pid, st);
	if (ghost_end_as(h->ghost, st))
		pr_warn("pid %d: ending its proxy: %m", h->pid);
}

struct hosted *hosted_proxy_of(pid_t pid)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h->pid == pid && h->left && h->ghost >= 0 &&
		    !h->ghost_ending && !h->exited && !h->dead)
			return h;
	return NULL;
}

int hosted_proxy_handle(const struct hosted *h)
{
	return h->ghost;
}

void hosted_proxy_restoring(struct hosted *h, bool on)
{
	h->restoring = on;
	if (!on)
		proxy_polled(h, POLLIN); /* what it got meanwhile, or its end */
}

int hosted_back(struct hosted *h, const struct hosted_stream *streams,
		unsigned int nr)
{
	struct hstreams *st = st_new(h->pid, streams, nr), *old = h->st;
	struct bp_proc_report r = { 0 };
	int i;

	if (!st)
		return -ENOMEM;
	/* what it got before it began restoring goes to it, here now */
	proxy_events(h);
	close_fd(&h->ghost);
	h->restoring = false;
	h->ghost_ending = false;
	/* its IO goes under its pid to these from now on, none to the old */
	for (i = 0; i < FORMER_MAX; i++)
		if (old->former[i] == h->pid)
			old->former[i] = 0;
	st_put(old);
	h->st = st;
	h->left = false;
	h->moving = false;
	if (!hosted_stat(h->lpid, &r))
		memcpy(h->comm, r.comm, sizeof(h->comm)); /* its ghost's */
	h->uid = hosted_uid(h->lpid);
	pr_debug("pid %d is back where it was born, the child of %d again",
		 h->pid, h->ppid);
	return 0;
}

static int cmp_stream(const void *a, const void *b)
{
	const struct bp_stream *x = a, *y = b;

	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* Is fd of the process the description ref that the agent gave it? */
static bool given_as(const struct hosted *h, int ref, long fd)
{
	return ref >= 0 &&
	       syscall(SYS_kcmp, getpid(), h->lpid, KCMP_FILE, ref, fd) == 0;
}

/* The stream fd is (its stat s), or -1; its kind in *kind. */
static int stream_of_fd(const struct hosted *h, long fd, const struct stat *s,
			uint32_t *kind)
{
	bool ends = S_ISFIFO(s->st_mode) || S_ISSOCK(s->st_mode);
	const struct hstreams *st = h->st;
	unsigned int i;

	if (st->have_in && ((ends && s->st_ino == st->in_ino) ||
			    given_as(h, st->in_ref, fd))) {
		*kind = st->in_kind;
		return 0;
	}
	for (i = 0; i < st->nr_out; i++)
		if ((ends && st->out[i].ino == s->st_ino) ||
		    given_as(h, st->out[i].ref, fd)) {
			*kind = st->out[i].kind;
			return (int)st->out[i].id;
		}
	return -1;
}

int hosted_streams(struct hosted *h, struct bp_stream *map, char *why,
		   size_t len)
{
	char path[64], link[80], target[PATH_MAX];
	struct dirent *d;
	struct stat st;
	int n = 0, err = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", h->lpid);
	dir = opendir(path);
	if (!dir) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -ESRCH;
	}
	while ((d = readdir(dir)) && !err) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);
		uint32_t kind = 0;
		ssize_t k;
		int id;

		if (*end || end == d->d_name)
			continue;
		snprintf(link, sizeof(link), "%s/%ld", path, fd);
		if (stat(link, &st))
			continue;
		id = stream_of_fd(h, fd, &st, &kind);
		if (id >= 0 && n < (int)BPROC_STREAMS_MAX) {
			map[n].fd = (uint32_t)fd;
			map[n].stream = (uint32_t)id;
			map[n++].kind = kind;
			continue;
		}
		if (id >= 0) {
			snprintf(why, len, "more than %u stream descriptors",
				 BPROC_STREAMS_MAX);
			err = -EOPNOTSUPP;
		} else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
			   (S_ISCHR(st.st_mode) && major(st.st_rdev) != 1)) {
			snprintf(why, len, "fd %ld is a %s of its own on %s",
				 fd,
				 S_ISFIFO(st.st_mode) ? "pipe" :
				 S_ISSOCK(st.st_mode) ? "socket" :
							"device",
				 agent->name);
			err = -EOPNOTSUPP;
		} else if (S_ISREG(st.st_mode)) {
			k = readlink(link, target, sizeof(target) - 1);
			target[k > 0 ? k : 0] = '\0';
			/* a memfd is the engine's to carry (ANONFDS) */
			if (!strncmp(target, "/memfd:", 7))
				continue;
			if (st.st_nlink == 0 ||
			    (k > 10 &&
			     !strcmp(target + k - 10, " (deleted)"))) {
				snprintf(why, len,
					 "fd %ld is a deleted file on %s", fd,
					 agent->name);
				err = -EOPNOTSUPP;
			}
		}
	}
	closedir(dir);
	if (err)
		return err;
	qsort(map, (size_t)n, sizeof(*map), cmp_stream);
	return n;
}

/* ---- output ---- */

/*
 * Send up to max bytes of a stream's output: true if there may be more
 * right now (it read all it asked for), false if the pipe is empty or at
 * its end.
 */
static bool forward_output(struct hstreams *st, struct out_stream *o,
			   size_t max)
{
	struct bp_conn *c = link_conn();
	uint8_t *buf = iobuf_tmp;
	ssize_t n;

	if (!c || !max || o->fd < 0)
		return false;
	if (max > sizeof(iobuf_tmp))
		max = sizeof(iobuf_tmp);
	if (is_message(o->kind)) {
		/* a datagram whole, whatever the window has left */
		buf = msg_tmp;
		n = recv(o->fd, buf, sizeof(msg_tmp), MSG_DONTWAIT | MSG_TRUNC);
		if (n > (ssize_t)sizeof(msg_tmp)) {
			pr_warn("pid %d: a datagram of %zd bytes on stream %u "
				"cut to %zu",
				st->owner, n, o->id, sizeof(msg_tmp));
			n = sizeof(msg_tmp);
		}
		if (n == 0 && !closed_end(o->fd))
			return true; /* an empty datagram: nothing to send */
	} else {
		n = read(o->fd, buf, max);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0) {
		close_fd(&o->fd);
		link_sent(bp_send_io(c, BPROC_MSG_IO_EOF, (uint32_t)st->owner,
				     o->id, 0, NULL, 0),
			  "IO_EOF");
		return false;
	}
	o->unacked += (uint64_t)n;
	link_sent(bp_send_io(c, BPROC_MSG_IO_DATA, (uint32_t)st->owner, o->id,
			     0, buf, (uint32_t)n),
		  "IO_DATA");
	return is_message(o->kind) || (size_t)n == max;
}

/* Everything the pipes hold now, whatever the window says. */
static void drain_output(struct hstreams *st, bool to_eof)
{
	unsigned int i;

	for (i = 0; i < st->nr_out; i++) {
		struct out_stream *o = &st->out[i];

		while (o->fd >= 0 && forward_output(st, o, sizeof(iobuf_tmp)))
			;
		if (to_eof && o->fd >= 0 && link_conn()) {
			/* someone it left behind still holds the pipe */
			close_fd(&o->fd);
			link_sent(bp_send_io(link_conn(), BPROC_MSG_IO_EOF,
					     (uint32_t)st->owner, o->id, 0,
					     NULL, 0),
				  "IO_EOF");
		}
	}
}

void hosted_flush_output(struct hosted *h)
{
	drain_output(h->st, false);
}

/* ---- stdin ---- */

static void send_requeue(pid_t tag, const uint8_t *data, size_t n, bool acked)
{
	struct bp_conn *c = link_conn();
	unsigned int flags = BPROC_IO_REQUEUE | (acked ? BPROC_IO_ACKED : 0);

	while (c && n) {
		size_t k = n > IO_CHUNK ? IO_CHUNK : n;

		link_sent(bp_send_io(c, BPROC_MSG_IO_DATA, (uint32_t)tag, 0,
				     flags, data, (uint32_t)k),
			  "requeued stdin");
		data += k;
		n -= k;
	}
}

/* It moved away: what its stdin still holds goes back to the master. */
static void requeue_stdin(struct hosted *h)
{
	struct hstreams *st = h->st;
	ssize_t n;
	size_t k;

	/* what its stdin holds came first (acknowledged), then what never
	 * got in (but what an earlier host acknowledged) */
	while (st->in_r >= 0 && (n = read_nb(st->in_r, msg_tmp, sizeof(msg_tmp),
					     st->in_kind)) > 0)
		send_requeue(h->pid, msg_tmp, (size_t)n, true);
	while ((k = iobuf_take(&st->inq, iobuf_tmp,
			       st->inq_acked && st->inq_acked <
							sizeof(iobuf_tmp) ?
				       st->inq_acked :
				       sizeof(iobuf_tmp)))) {
		size_t acked = k < st->inq_acked ? k : st->inq_acked;

		st->inq_acked -= acked;
		send_requeue(h->pid, iobuf_tmp, k, acked == k);
	}
}

void hosted_left(struct hosted *h)
{
	struct hosted *holder = other_holder(h->st, h);

	if (!holder) {
		requeue_stdin(h);
		st_close(h->st);
	} else if (h->st->owner == h->pid) {
		/* its children here keep its streams, and its stdin */
		st_pass(h->st, h, holder);
		h->st->parked = false;
		stdin_push(h->st);
	}
	h->moving = false;
	h->left = true;
}

static void stdin_ack(struct hstreams *st, bool now)
{
	if (!st->in_unacked || (!now && st->in_unacked < ACK_EVERY))
		return;
	send_ack_of(st->owner, 0, st->in_unacked);
	st->in_unacked = 0;
}

/* n bytes of stdin are in (or gone): acknowledge those not acked yet. */
static void stdin_consumed(struct hstreams *st, size_t n)
{
	size_t acked = n < st->inq_acked ? n : st->inq_acked;

	st->inq_acked -= acked;
	st->in_unacked += (uint32_t)(n - acked);
}

static void stdin_push(struct hstreams *st)
{
	size_t before = st->inq.len;
	ssize_t n;

	if (st->in_w < 0 || st->parked)
		return;
	n = iobuf_write(&st->inq, st->in_w);
	if (n < 0 && n != -EAGAIN) {
		/* it closed its stdin: what it never reads is not waited for */
		pr_debug("pid %d: stdin: %s", st->owner, strerror((int)-n));
		stdin_consumed(st, st->inq.len);
		iobuf_free(&st->inq);
		close_fd(&st->in_w);
	} else if (n > 0) {
		stdin_consumed(st, (size_t)n);
	}
	if (st->in_eof && !st->inq.len)
		close_fd(&st->in_w);
	stdin_ack(st, !st->inq.len || before - st->inq.len >= ACK_EVERY);
}

/* ---- ends ---- */

/* A wait(2) status from what waitid says. */
static int wait_status(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default:
		return si->si_status & 0x7f;
	}
}

static void send_reaped(struct hosted *h)
{
	struct bp_conn *c = link_conn();

	if (c)
		link_sent(bp_send_pid_pair(c, BPROC_MSG_PROC_REAPED,
					   (uint32_t)h->pid, 0),
			  "PROC_REAPED");
	h->dead = true;
}

/*
 * It ended: the output written before, then its exit.  Its streams end
 * with it, unless others here hold them (then one of those owns them).
 */
static void send_exit(struct hosted *h)
{
	struct hstreams *st = h->st;
	struct hosted *holder = other_holder(st, h);
	struct bp_exit e = { 0 };
	struct bp_conn *c;

	c = link_conn();
	if (!c)
		return;
	/* what it wrote, whose the streams are now (its stdin goes on), its
	 * end: in that order */
	if (st->owner == h->pid) {
		drain_output(st, !holder);
		if (holder) {
			st_pass(st, h, holder);
		} else {
			/*
			 * Counted now, not when it ended: stdin that came in
			 * since went into the pipe and was acknowledged, and
			 * only this count gives it back.
			 */
			e.stdin_unread = stdin_held(st);
			st_close(st);
		}
	}
	e.pid = (uint32_t)h->pid;
	e.status = (uint32_t)h->status;
	link_sent(bp_send_exit(c, &e), "EXIT");
	h->exit_sent = true;
	/* a moved process is ours: reaped as soon as it ended */
	if (h->reaped || !h->born)
		send_reaped(h);
}

/* It has ended (status as wait(2)). */
static void ended(struct hosted *h, int status)
{
	if (h->exited)
		return;
	h->exited = true;
	h->status = status;
	pr_debug("pid %d exited, status 0x%x", h->pid, h->status);
}

static void pidfd_polled(void *obj, short revents)
{
	struct hosted *h = obj;
	siginfo_t si;

	(void)revents;
	if (h->dead || h->born || h->under || h->pidfd < 0)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)h->pidfd, &si, WEXITED | WNOHANG) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		pr_perror("pid %d: waitid", h->pid);
		si.si_code = CLD_KILLED;
		si.si_status = SIGKILL;
	} else if (si.si_pid == 0) {
		return;
	}
	close_fd(&h->pidfd);
	if (h->left) {
		h->dead = true;
		return;
	}
	/* the children it forked join first, while it is still a parent */
	space_events_now();
	ended(h, wait_status(&si));
}

/* A process born here: its parent is one of ours, its streams its. */
static void born(const struct bproc_space_event *ev)
{
	struct hosted *parent = hosted_find(ev->ppid), *h;
	struct bp_proc_fork f = { 0 };
	struct bp_conn *c;

	if (!parent) {
		recv_settle(ev->ppid); /* it may run, and fork, already */
		parent = hosted_find(ev->ppid);
	}
	if (!parent || parent->exited) {
		pr_debug("pid %d forked by %d, which is not ours", ev->pid,
			 ev->ppid);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		pr_err("pid %d: out of memory: it is not in the cluster",
		       ev->pid);
		return;
	}
	h->pid = ev->pid;
	h->lpid = ev->lpid;
	h->born = true;
	h->ppid = parent->pid;
	h->ghost = -1;
	h->pgid = parent->pgid; /* as its parent's, and so is its ghost */
	h->sid = parent->sid;
	memcpy(h->comm, parent->comm, sizeof(h->comm)); /* its ghost's */
	h->st = parent->st;
	h->st->refs++;
	h->pidfd = (int)syscall(SYS_pidfd_open, ev->lpid, 0);
	h->next = procs;
	procs = h;
	nr_procs++;
	f.pid = (uint32_t)h->pid;
	f.ppid = (uint32_t)parent->pid;
	/*
	 * As its parent: a fork changes neither, and reading them here
	 * would cost every fork two reads of /proc. An exec (EXEC event)
	 * or a change of uid (the next report) is told as it comes.
	 */
	h->uid = parent->uid;
	f.uid = h->uid;
	memcpy(f.comm, parent->comm, sizeof(f.comm));
	c = link_conn();
	if (c)
		link_sent(bp_send_proc_fork(c, &f), "PROC_FORK");
}

/*
 * Its name is not its ghost's any more (it executed a program, or named
 * itself: busybox's applets do as they start): the master, and its ghost,
 * get its comm and command line.
 */
static void announce(struct hosted *h, const struct bp_proc_report *r)
{
	static uint8_t args[BPROC_ARGS_MAX];
	struct bp_proc_exec x = { 0 };
	struct bp_conn *c = link_conn();
	char path[64];
	ssize_t n;
	int fd;

	if (!c)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", h->lpid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && x.args_len < sizeof(args) &&
	       (n = read(fd, args + x.args_len, sizeof(args) - x.args_len)) > 0)
		x.args_len += (uint32_t)n;
	if (fd >= 0)
		close(fd);
	x.pid = (uint32_t)h->pid;
	x.args = args;
	memcpy(x.comm, r->comm, sizeof(x.comm));
	memcpy(h->comm, r->comm, sizeof(h->comm));
	pr_debug("pid %d is now %s", h->pid, x.comm);
	link_sent(bp_send_proc_exec(c, &x), "PROC_EXEC");
}

/* It executed a program here. */
static void executed(const struct bproc_space_event *ev)
{
	struct bp_proc_report r = { 0 };
	struct hosted *h = hosted_find(ev->pid);

	if (!h) {
		recv_settle(ev->pid); /* it may run, and exec, already */
		h = hosted_find(ev->pid);
	}
	if (!h || h->exited || h->lpid != ev->lpid)
		return;
	if (!hosted_stat(h->lpid, &r))
		announce(h, &r); /* else gone already: its exit says the rest */
}

/*
 * The threads of the processes moved here, for their ghosts on the front
 * end, which make a ghost thread of each (a call of the ghost's, a few
 * milliseconds of the front end's agent): a thread is told once it has
 * lived THREAD_TELL_MS (one that ends before is never told, so a program
 * that makes short-lived threads by the thousand costs the front end
 * nothing), its end only if it was told; those not told yet of a
 * process that moves away are told then (they go with it). Born
 * processes' too: their ghosts, children of a moved one's,
 * keep threads as it does. Not while one moves or leaves (the restorer's
 * threads are the image's; one that leaves ends with its threads).
 */
#define THREAD_TELL_MS 50
#define THREADS_PENDING 256

static struct {
	pid_t pid, tid;
	int64_t at_ms;
} tpend[THREADS_PENDING];
static unsigned int nr_tpend;

static bool thread_tellable(const struct hosted *h)
{
	return h && !h->moving && !h->left && !h->exited;
}

static void thread_tell(pid_t pid, pid_t tid, bool born)
{
	struct bp_conn *c = link_conn();

	if (c)
		link_sent(bp_send_pid_pair(c,
					   born ? BPROC_MSG_PROC_THREAD :
						  BPROC_MSG_PROC_THREAD_END,
					   (uint32_t)pid, (uint32_t)tid),
			  born ? "PROC_THREAD" : "PROC_THREAD_END");
}

static void thread_born(pid_t pid, pid_t tid)
{
	if (nr_tpend == THREADS_PENDING) {
		thread_tell(pid, tid, true); /* no room to wait */
		return;
	}
	tpend[nr_tpend].pid = pid;
	tpend[nr_tpend].tid = tid;
	tpend[nr_tpend].at_ms = bp_now_ms();
	nr_tpend++;
}

/* Those that have lived long enough are told; when to look again. */
static void threads_tell_due(void)
{
	int64_t now = bp_now_ms(), next = 0;
	unsigned int i = 0;

	while (i < nr_tpend) {
		if (now - tpend[i].at_ms < THREAD_TELL_MS) {
			if (!next || tpend[i].at_ms + THREAD_TELL_MS < next)
				next = tpend[i].at_ms + THREAD_TELL_MS;
			i++;
			continue;
		}
		if (thread_tellable(hosted_find(tpend[i].pid)))
			thread_tell(tpend[i].pid, tpend[i].tid, true);
		tpend[i] = tpend[--nr_tpend];
	}
	if (next)
		loop_wake_at(next);
}

/*
 * A process that moves: its threads not told yet go with it, and would be
 * told by no host: told now.
 */
static void threads_leaving(pid_t pid)
{
	unsigned int i = 0;

	while (i < nr_tpend) {
		if (tpend[i].pid != pid) {
			i++;
			continue;
		}
		thread_tell(pid, tpend[i].tid, true);
		tpend[i] = tpend[--nr_tpend];
	}
}

static void thread_event(const struct bproc_space_event *ev, bool born)
{
	unsigned int i;

	if (!thread_tellable(hosted_find(ev->tgid)))
		return;
	if (born) {
		thread_born(ev->tgid, ev->pid);
		return;
	}
	for (i = 0; i < nr_tpend; i++)
		if (tpend[i].tid == ev->pid) {
			tpend[i] = tpend[--nr_tpend]; /* never told */
			return;
		}
	thread_tell(ev->tgid, ev->pid, false);
}

/* A moved process that is not our child (lpid: the same one). */
static struct hosted *not_ours(const struct bproc_space_event *ev)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h->pid == ev->pid && h->lpid == ev->lpid && !h->born &&
		    h->under && !h->dead)
			return h;
	return NULL;
}

/* A moved process whose parent here is not the agent ended. */
static void not_ours_ended(const struct bproc_space_event *ev)
{
	struct hosted *h = not_ours(ev);

	if (!h) {
		recv_settle(ev->pid); /* it may have run, and ended, already */
		h = not_ours(ev);
	}
	if (!h)
		return;
	close_fd(&h->pidfd);
	if (h->left)
		h->dead = true;
	else
		ended(h, (int)ev->status);
}

/*
 * Its pidfd says that one not our child ended, which the engine told
 * before (its EXIT event is queued as its last thread exits): an event
 * that was lost (the reader lagged too far) must not leave its ghost
 * waiting for ever.
 */
static void not_ours_polled(void *obj, short revents)
{
	struct hosted *h = obj;

	(void)revents;
	if (h->dead || h->exited || h->pidfd < 0)
		return;
	space_events_now();
	if (h->dead || h->exited || h->pidfd < 0)
		return;
	pr_warn("pid %d: its end was lost with the namespace's events: taken "
		"as killed",
		h->pid);
	close_fd(&h->pidfd);
	if (h->left)
		h->dead = true;
	else
		ended(h, SIGKILL);
}

void hosted_space_event(const struct bproc_space_event *ev)
{
	struct hosted *h;
	bool any = false;

	switch (ev->type) {
	case BPROC_SPACE_FORK:
		/* threads are the process's; our own children are restorers */
		if (ev->pid == ev->tgid && ev->ppid > 0)
			born(ev);
		else if (ev->pid != ev->tgid)
			thread_event(ev, true);
		return;
	case BPROC_SPACE_TEXIT:
		thread_event(ev, false);
		return;
	case BPROC_SPACE_EXIT:
		for (h = procs; h; h = h->next)
			if (h->pid == ev->pid && h->born && !h->dead) {
				ended(h, (int)ev->status);
				any = true;
			}
		if (!any)
			not_ours_ended(ev);
		return;
	case BPROC_SPACE_EXEC:
		executed(ev);
		return;
	case BPROC_SPACE_REAPED:
		for (h = procs; h; h = h->next)
			if (h->pid == ev->pid && h->born && !h->dead) {
				h->reaped = true;
				if (h->exit_sent || h->left)
					send_reaped(h);
			}
		return;
	default:
		pr_warn("events of the moved processes were lost");
	}
}

/* ---- the loop ---- */

struct out_ref {
	struct hstreams *st;
	unsigned int i;
};

static void output_polled(void *obj, short revents)
{
	struct out_ref *ref = obj;
	struct out_stream *o = &ref->st->out[ref->i];

	(void)revents;
	if (o->fd < 0 || o->unacked >= BPROC_IO_WINDOW)
		return;
	forward_output(ref->st, o, BPROC_IO_WINDOW - o->unacked);
}

static void stdin_polled(void *obj, short revents)
{
	(void)revents;
	stdin_push(obj);
}

void hosted_watch(void)
{
	static struct out_ref *refs;
	static size_t nr_refs;
	size_t used = 0, want = 0;
	struct hstreams *st;
	struct hosted *h;
	unsigned int i;

	threads_tell_due();
	for (h = procs; h; h = h->next) {
		if (h->dead)
			continue;
		if (h->exited) {
			/* a proxy's end is the process's, told elsewhere */
			if (!h->moving && !h->exit_sent && !h->left)
				send_exit(h);
			continue;
		}
		if (h->left && h->ghost >= 0 && !h->restoring)
			loop_add(h->ghost, POLLIN, proxy_polled, h);
		if (!h->born && h->pidfd >= 0)
			loop_add(h->pidfd, POLLIN,
				 h->under ? not_ours_polled : pidfd_polled, h);
	}

	/* one ref per output stream watched this round */
	for (st = sets; st; st = st->next)
		want += st->nr_out;
	if (want > nr_refs) {
		struct out_ref *r = realloc(refs, want * sizeof(*r));

		if (r) {
			refs = r;
			nr_refs = want;
		}
	}
	for (st = sets; st; st = st->next) {
		h = owner_of(st);
		if (st->inq.len && !st->parked && st->in_w >= 0)
			loop_add(st->in_w, POLLOUT, stdin_polled, st);
		if ((h && h->moving) || !link_room())
			continue;
		for (i = 0; i < st->nr_out && used < nr_refs; i++) {
			if (st->out[i].fd < 0 ||
			    st->out[i].unacked >= BPROC_IO_WINDOW)
				continue;
			refs[used].st = st;
			refs[used].i = i;
			loop_add(st->out[i].fd, POLLIN, output_polled,
				 &refs[used++]);
		}
	}
}

void hosted_reap(void)
{
	struct hosted **pp = &procs;

	while (*pp) {
		struct hosted *h = *pp;

		/* a proxy's restore that goes on has it still */
		if (!h->dead || h->restoring) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		close_fd(&h->pidfd);
		close_fd(&h->ghost);
		st_put(h->st);
		free(h);
		nr_procs--;
	}
}

/* ---- from the master ---- */

/*
 * The thread of @h whose tid in the namespace is @tid, as its tid in ours
 * (each thread's NSpid line names both); 0 if it has none (it ended).
 */
static pid_t thread_lpid(const struct hosted *h, pid_t tid)
{
	char path[64];
	struct dirent *d;
	pid_t found = 0;
	DIR *dir;

	if (tid == h->pid)
		return h->lpid;
	snprintf(path, sizeof(path), "/proc/%d/task", h->lpid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (!found && (d = readdir(dir))) {
		pid_t lt = (pid_t)atoi(d->d_name);

		if (lt > 0 && proc_ns_pid(h->lpid, lt) == tid)
			found = lt;
	}
	closedir(dir);
	return found;
}

void hosted_signal(pid_t pid, pid_t tid, unsigned int signo)
{
	struct hosted *h = hosted_find(pid);
	pid_t lt;

	if (!h || h->exited) {
		pr_debug("signal %u for pid %d, which is not here", signo, pid);
		return;
	}
	if (signo < 1 || signo > 64) {
		pr_warn("pid %d: signal %u is no signal", pid, signo);
		return;
	}
	if (!tid) {
		if (syscall(SYS_pidfd_send_signal, h->pidfd, (int)signo, NULL,
			    0))
			pr_debug("pid %d: signal %u: %m", pid, signo);
		return;
	}
	/* to one thread (tgkill on the front end): the pidfd says it lives */
	lt = thread_lpid(h, tid);
	if (!lt || syscall(SYS_pidfd_send_signal, h->pidfd, 0, NULL, 0) ||
	    syscall(SYS_tgkill, h->lpid, lt, (int)signo))
		pr_debug("pid %d: signal %u for its thread %d: %s", pid, signo,
			 tid, lt ? strerror(errno) : "no such thread");
}

static struct out_stream *stream_of(struct hstreams *st, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < st->nr_out; i++)
		if (st->out[i].id == id)
			return &st->out[i];
	return NULL;
}

void hosted_io(pid_t pid, unsigned int type, unsigned int fd,
	       unsigned int flags, const uint8_t *data, uint32_t n)
{
	struct hstreams *st = st_of_tag(pid);

	if (!st) {
		pr_debug("IO for pid %d, which is not here", pid);
		return;
	}
	if (fd != 0) {
		struct out_stream *o = stream_of(st, fd);

		/* the reader of one of its output streams went away */
		if (type == BPROC_MSG_IO_EOF && o && o->fd >= 0) {
			pr_debug("pid %d: stream %u has no reader left", pid,
				 fd);
			close_fd(&o->fd);
		}
		return;
	}
	if (type == BPROC_MSG_IO_EOF) {
		st->in_eof = true;
	} else if (st->in_w < 0) {
		/* its stdin is closed: consumed, as far as anyone can tell */
		if (!(flags & BPROC_IO_ACKED))
			st->in_unacked += n;
	} else if (iobuf_put(&st->inq, data, n)) {
		pr_err("pid %d: out of memory for %u bytes of stdin", pid, n);
		if (!(flags & BPROC_IO_ACKED))
			st->in_unacked += n;
	} else if (flags & BPROC_IO_ACKED) {
		st->inq_acked += n; /* requeued: they come first */
	}
	stdin_push(st);
}

void hosted_ack(pid_t pid, unsigned int fd, uint32_t bytes)
{
	struct hstreams *st = st_of_tag(pid);
	struct out_stream *o = st && fd ? stream_of(st, fd) : NULL;

	if (!o || (pid != st->owner))
		return; /* a former owner's: forgiven already */
	/* acks of bytes a former host sent may arrive here: never below 0 */
	o->unacked -= bytes < o->unacked ? bytes : o->unacked;
}

/* ---- reports ---- */

int hosted_stat(pid_t lpid, struct bp_proc_report *r)
{
	unsigned long long utime, stime;
	long long rss;
	char buf[1024], *lp, *st = proc_stat(lpid, buf, sizeof(buf));
	long tick = sysconf(_SC_CLK_TCK);

	lp = st ? strchr(buf, '(') : NULL;
	if (!lp || lp > st - 2)
		return -EIO;
	st[-2] = '\0';
	snprintf(r->comm, sizeof(r->comm), "%.15s", lp + 1);
	if (sscanf(st,
		   "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %*u %*u %lld",
		   &r->state, &utime, &stime, &rss) != 4)
		return -EIO;
	if (tick <= 0)
		tick = 100;
	r->utime_ms = utime * 1000 / (unsigned long long)tick;
	r->stime_ms = stime * 1000 / (unsigned long long)tick;
	r->rss_kb =
		rss > 0 ? (uint64_t)rss * (uint64_t)(getpagesize() / 1024) : 0;
	return 0;
}

/*
 * Its real uid, and its process group and session as the namespace sees
 * them (0: a leader outside it, as a moved process's are at first).
 */
static uint32_t status_ids(pid_t lpid, pid_t *pgid, pid_t *sid)
{
	char path[64], line[256];
	unsigned int uid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", lpid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %u", &uid) == 1 && !pgid)
			break;
		if (pgid && !strncmp(line, "NSpgid:", 7))
			*pgid = (pid_t)proc_last_number(line);
		else if (sid && !strncmp(line, "NSsid:", 6))
			*sid = (pid_t)proc_last_number(line);
	}
	fclose(f);
	return uid;
}

uint32_t hosted_uid(pid_t lpid)
{
	return status_ids(lpid, NULL, NULL);
}

/*
 * It (or its parent) changed its process group or session here (setpgid,
 * setsid): its ghost does the same (PROC_SESSION first: a new session is a
 * new group too).
 */
static void tell_pgrp(struct bp_conn *c, struct hosted *h, pid_t pgid,
		      pid_t sid)
{
	if (sid != h->sid && sid == h->pid) {
		pr_debug("pid %d: a session of its own", h->pid);
		link_sent(bp_send_pid_pair(c, BPROC_MSG_PROC_SESSION,
					   (uint32_t)h->pid, (uint32_t)h->pid),
			  "PROC_SESSION");
		h->pgid = pgid;
	}
	h->sid = sid;
	if (pgid != h->pgid && pgid > 0) {
		pr_debug("pid %d: in process group %d", h->pid, pgid);
		link_sent(bp_send_pid_pair(c, BPROC_MSG_PROC_PGRP,
					   (uint32_t)h->pid, (uint32_t)pgid),
			  "PROC_PGRP");
	}
	h->pgid = pgid;
}

void hosted_report(struct bp_conn *c)
{
	struct hosted *h;
	int pass;

	for (h = procs; h; h = h->next) {
		h->now_pgid = h->pgid;
		h->now_sid = h->sid;
		if (!h->dead && !h->left && !h->exited)
			h->uid = status_ids(h->lpid, &h->now_pgid, &h->now_sid);
	}
	/* the groups' leaders first: a group exists before others join it */
	for (pass = 0; pass < 2; pass++)
		for (h = procs; h; h = h->next)
			if (!h->dead && !h->left && !h->exited &&
			    (h->now_pgid == h->pid) == !pass)
				tell_pgrp(c, h, h->now_pgid, h->now_sid);
	for (h = procs; h; h = h->next) {
		struct bp_proc_report r = { 0 };

		if (h->dead || h->left || h->exited)
			continue;
		if (hosted_stat(h->lpid, &r))
			continue;
		if (strncmp(r.comm, h->comm, sizeof(h->comm)))
			announce(h, &r);
		r.pid = (uint32_t)h->pid;
		r.uid = h->uid;
		if (bp_send_proc_report(c, &r))
			break;
	}
}

void hosted_kill_all(void)
{
	struct hosted *h;

	for (h = procs; h; h = h->next)
		if (h->pidfd >= 0 && !h->exited)
			syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL,
				0);
}
