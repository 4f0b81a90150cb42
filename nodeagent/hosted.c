// SPDX-License-Identifier: GPL-2.0
/*
 * The processes that moved to this node.  Each is a child of the agent in
 * the namespace of space.c, under its front-end pid, with its streams
 * (proto.h: stdin, stdout, stderr and any other output it had open on the
 * front end) on pipes or socket pairs to the agent, or on /dev/null:
 *
 *  - what it writes to a stream goes to the master as IO_DATA (for the
 *    front end, where its ghost has the stream's real end), a datagram
 *    each for a datagram socket, at most BPROC_IO_WINDOW bytes per stream
 *    unacknowledged, so that a slow reader there slows the process down
 *    here;
 *  - stdin bytes from the master go into its stdin, acknowledged as they
 *    go in (but bytes an earlier host acknowledged, BPROC_IO_ACKED); IO_EOF
 *    closes it;
 *  - signals from the master are sent to it; its exit goes to the master
 *    after its last output, with how many bytes its stdin held unread.
 *
 * When it moves away (send.c), its output up to the dump is flushed before
 * the IO_MARK, which says how much its stdin holds unread, and what its
 * stdin still holds is read back through a reader of our own and handed to
 * the master to requeue.
 *
 * Which of its fds are which streams, when it moves on, is told by the
 * pipe or socket they are (its end's inode), and for /dev/null by the open
 * file description itself (kcmp), of which the agent keeps a reference.
 */
#define LOG_PREFIX "hosted"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define IO_CHUNK (64u << 10)
#define ACK_EVERY (32u << 10)

/* A stream it writes to (1, 2, ...): our read end of its pipe. */
struct out_stream {
	uint32_t id, kind;
	int fd; /* -1 once closed, or for /dev/null */
	int ref; /* /dev/null: the description it was given */
	ino_t ino;
	uint64_t unacked;
};

struct hosted {
	struct hosted *next;
	pid_t pid; /* front-end pid, and its pid in the namespace */
	pid_t lpid; /* its pid in the agent's own namespace */
	int pidfd;
	int in_w, in_r; /* stream 0: our write end, our own reader */
	int in_ref; /* stream 0 on /dev/null: the description it was given */
	uint32_t in_kind;
	bool have_in;
	ino_t in_ino;
	struct iobuf inq; /* stdin that the pipe has no room for yet */
	size_t inq_acked; /* bytes at its front an earlier host acked */
	uint32_t in_unacked; /* written into the pipe, not yet acked */
	uint32_t stdin_unread; /* at its exit: what its stdin held unread */
	bool in_eof; /* close the pipe once inq is in */
	bool parked; /* dumped for a move: its stdin must not change */
	struct out_stream *out;
	unsigned int nr_out;
	bool moving; /* a move out is in flight: output waits for it */
	bool left; /* it moved away: reap it without a word */
	bool exited, exit_sent;
	int status;
	bool dead;
};

static struct hosted *procs;
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

struct hosted *hosted_add(pid_t pid, pid_t lpid, int pidfd,
			  const struct hosted_stream *streams, unsigned int nr)
{
	struct hosted *h = calloc(1, sizeof(*h));
	unsigned int i;

	if (!h)
		return NULL;
	h->out = calloc(nr ? nr : 1, sizeof(*h->out));
	if (!h->out) {
		free(h);
		return NULL;
	}
	h->pid = pid;
	h->lpid = lpid;
	h->pidfd = pidfd;
	h->in_w = h->in_r = h->in_ref = -1;
	for (i = 0; i < nr; i++) {
		if (streams[i].id == 0) {
			h->have_in = true;
			h->in_w = streams[i].fd;
			h->in_r = streams[i].in_r;
			h->in_ref = streams[i].ref;
			h->in_kind = streams[i].kind;
			h->in_ino = streams[i].ino;
			continue;
		}
		h->out[h->nr_out].id = streams[i].id;
		h->out[h->nr_out].kind = streams[i].kind;
		h->out[h->nr_out].fd = streams[i].fd;
		h->out[h->nr_out].ref = streams[i].ref;
		h->out[h->nr_out].ino = streams[i].ino;
		h->nr_out++;
	}
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

static void stdin_push(struct hosted *h);

void hosted_set_moving(struct hosted *h, bool moving)
{
	h->moving = moving;
	if (!moving && h->parked) {
		h->parked = false;
		stdin_push(h); /* it goes on here */
	}
}

uint32_t hosted_park(struct hosted *h)
{
	h->parked = true;
	/* acknowledged and not read: in its stdin, or from an earlier host */
	return unread_in(h->in_r) + (uint32_t)h->inq_acked;
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

/* The stream fd is (its stat st), or -1 with its kind in *kind. */
static int stream_of_fd(const struct hosted *h, long fd, const struct stat *st,
			uint32_t *kind)
{
	bool ends = S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode);
	unsigned int i;

	if (h->have_in &&
	    ((ends && st->st_ino == h->in_ino) || given_as(h, h->in_ref, fd))) {
		*kind = h->in_kind;
		return 0;
	}
	for (i = 0; i < h->nr_out; i++)
		if ((ends && h->out[i].ino == st->st_ino) ||
		    given_as(h, h->out[i].ref, fd)) {
			*kind = h->out[i].kind;
			return (int)h->out[i].id;
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

/*
 * Send up to max bytes of a stream's output: true if there may be more
 * right now (it read all it asked for), false if the pipe is empty or at
 * its end.
 */
static bool forward_output(struct hosted *h, struct out_stream *o, size_t max)
{
	struct bp_conn *c = link_conn();
	ssize_t n;

	uint8_t *buf = iobuf_tmp;

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
				h->pid, n, o->id, sizeof(msg_tmp));
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
		link_sent(bp_send_io(c, BPROC_MSG_IO_EOF, (uint32_t)h->pid,
				     o->id, 0, NULL, 0),
			  "IO_EOF");
		return false;
	}
	o->unacked += (uint64_t)n;
	link_sent(bp_send_io(c, BPROC_MSG_IO_DATA, (uint32_t)h->pid, o->id, 0,
			     buf, (uint32_t)n),
		  "IO_DATA");
	return is_message(o->kind) || (size_t)n == max;
}

/* Everything the pipes hold now, whatever the window says. */
static void drain_output(struct hosted *h, bool to_eof)
{
	unsigned int i;

	for (i = 0; i < h->nr_out; i++) {
		struct out_stream *o = &h->out[i];

		while (o->fd >= 0 && forward_output(h, o, sizeof(iobuf_tmp)))
			;
		if (to_eof && o->fd >= 0 && link_conn()) {
			/* someone it left behind still holds the pipe */
			close_fd(&o->fd);
			link_sent(bp_send_io(link_conn(), BPROC_MSG_IO_EOF,
					     (uint32_t)h->pid, o->id, 0, NULL,
					     0),
				  "IO_EOF");
		}
	}
}

void hosted_flush_output(struct hosted *h)
{
	drain_output(h, false);
}

static void send_requeue(struct hosted *h, const uint8_t *data, size_t n,
			 bool acked)
{
	struct bp_conn *c = link_conn();
	unsigned int flags = BPROC_IO_REQUEUE | (acked ? BPROC_IO_ACKED : 0);

	while (c && n) {
		size_t k = n > IO_CHUNK ? IO_CHUNK : n;

		link_sent(bp_send_io(c, BPROC_MSG_IO_DATA, (uint32_t)h->pid, 0,
				     flags, data, (uint32_t)k),
			  "requeued stdin");
		data += k;
		n -= k;
	}
}

static void close_streams(struct hosted *h)
{
	unsigned int i;

	close_fd(&h->in_w);
	close_fd(&h->in_r);
	close_fd(&h->in_ref);
	for (i = 0; i < h->nr_out; i++) {
		close_fd(&h->out[i].fd);
		close_fd(&h->out[i].ref);
	}
}

void hosted_left(struct hosted *h)
{
	ssize_t n;
	size_t k;

	/* what its stdin holds came first (acknowledged), then what never
	 * got in (but what an earlier host acknowledged) */
	while (h->in_r >= 0 &&
	       (n = read_nb(h->in_r, msg_tmp, sizeof(msg_tmp), h->in_kind)) > 0)
		send_requeue(h, msg_tmp, (size_t)n, true);
	while ((k = iobuf_take(&h->inq, iobuf_tmp,
			       h->inq_acked && h->inq_acked <
						       sizeof(iobuf_tmp) ?
				       h->inq_acked :
				       sizeof(iobuf_tmp)))) {
		size_t acked = k < h->inq_acked ? k : h->inq_acked;

		h->inq_acked -= acked;
		send_requeue(h, iobuf_tmp, k, acked == k);
	}
	close_streams(h);
	h->moving = false;
	h->left = true;
}

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

/* Its last output, the end of its streams, then its exit. */
static void send_exit(struct hosted *h)
{
	struct bp_exit e = { 0 };
	struct bp_conn *c;

	drain_output(h, true);
	c = link_conn();
	if (!c)
		return;
	e.pid = (uint32_t)h->pid;
	e.status = (uint32_t)h->status;
	e.stdin_unread = h->stdin_unread;
	link_sent(bp_send_exit(c, &e), "EXIT");
	h->exit_sent = true;
	h->dead = true;
}

static void pidfd_polled(void *obj, short revents)
{
	struct hosted *h = obj;
	siginfo_t si;

	(void)revents;
	if (h->dead || h->exited)
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
	h->exited = true;
	h->status = wait_status(&si);
	h->stdin_unread = unread_in(h->in_r) + (uint32_t)h->inq_acked;
	pr_debug("pid %d exited, status 0x%x", h->pid, h->status);
	close_fd(&h->in_w);
	close_fd(&h->in_r);
	iobuf_free(&h->inq);
}

/* Each output stream is watched with its hosted process as the object. */
static struct out_stream *stream_of(struct hosted *h, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < h->nr_out; i++)
		if (h->out[i].id == id)
			return &h->out[i];
	return NULL;
}

struct out_ref {
	struct hosted *h;
	unsigned int i;
};

static void output_polled(void *obj, short revents)
{
	struct hosted *h = ((struct out_ref *)obj)->h;
	struct out_stream *o = &h->out[((struct out_ref *)obj)->i];

	(void)revents;
	if (h->dead || h->left || o->fd < 0 || o->unacked >= BPROC_IO_WINDOW)
		return;
	forward_output(h, o, BPROC_IO_WINDOW - o->unacked);
}

static void stdin_ack(struct hosted *h, bool now)
{
	struct bp_conn *c = link_conn();

	if (!c || !h->in_unacked || (!now && h->in_unacked < ACK_EVERY))
		return;
	link_sent(bp_send_io_ack(c, (uint32_t)h->pid, 0, h->in_unacked),
		  "IO_ACK");
	h->in_unacked = 0;
}

/* n bytes of stdin are in (or gone): acknowledge those not acked yet. */
static void stdin_consumed(struct hosted *h, size_t n)
{
	size_t acked = n < h->inq_acked ? n : h->inq_acked;

	h->inq_acked -= acked;
	h->in_unacked += (uint32_t)(n - acked);
}

static void stdin_push(struct hosted *h)
{
	size_t before = h->inq.len;
	ssize_t n;

	if (h->in_w < 0 || h->parked)
		return;
	n = iobuf_write(&h->inq, h->in_w);
	if (n < 0 && n != -EAGAIN) {
		/* it closed its stdin: what it never reads is not waited for */
		pr_debug("pid %d: stdin: %s", h->pid, strerror((int)-n));
		stdin_consumed(h, h->inq.len);
		iobuf_free(&h->inq);
		close_fd(&h->in_w);
	} else if (n > 0) {
		stdin_consumed(h, (size_t)n);
	}
	if (h->in_eof && !h->inq.len)
		close_fd(&h->in_w);
	stdin_ack(h, !h->inq.len || before - h->inq.len >= ACK_EVERY);
}

static void stdin_polled(void *obj, short revents)
{
	struct hosted *h = obj;

	(void)revents;
	if (!h->dead && !h->left)
		stdin_push(h);
}

void hosted_watch(void)
{
	static struct out_ref *refs;
	static size_t nr_refs;
	size_t used = 0, want = 0;
	struct hosted *h;
	unsigned int i;

	/* one ref per output stream watched this round */
	for (h = procs; h; h = h->next)
		want += h->nr_out;
	if (want > nr_refs) {
		struct out_ref *r = realloc(refs, want * sizeof(*r));

		if (r) {
			refs = r;
			nr_refs = want;
		}
	}

	for (h = procs; h; h = h->next) {
		if (h->dead)
			continue;
		if (h->exited) {
			if (!h->moving)
				send_exit(h);
			continue;
		}
		loop_add(h->pidfd, POLLIN, pidfd_polled, h);
		if (h->left)
			continue;
		if (h->inq.len && !h->parked)
			loop_add(h->in_w, POLLOUT, stdin_polled, h);
		if (h->moving || !link_room())
			continue;
		for (i = 0; i < h->nr_out && used < nr_refs; i++) {
			if (h->out[i].fd < 0 ||
			    h->out[i].unacked >= BPROC_IO_WINDOW)
				continue;
			refs[used].h = h;
			refs[used].i = i;
			loop_add(h->out[i].fd, POLLIN, output_polled,
				 &refs[used++]);
		}
	}
}

void hosted_reap(void)
{
	struct hosted **pp = &procs;

	while (*pp) {
		struct hosted *h = *pp;

		if (!h->dead) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		close_fd(&h->pidfd);
		close_streams(h);
		iobuf_free(&h->inq);
		free(h->out);
		free(h);
		nr_procs--;
	}
}

void hosted_signal(pid_t pid, unsigned int signo)
{
	struct hosted *h = hosted_find(pid);

	if (!h || h->exited) {
		pr_debug("signal %u for pid %d, which is not here", signo, pid);
		return;
	}
	if (signo < 1 || signo > 64) {
		pr_warn("pid %d: signal %u is no signal", pid, signo);
		return;
	}
	if (syscall(SYS_pidfd_send_signal, h->pidfd, (int)signo, NULL, 0))
		pr_debug("pid %d: signal %u: %m", pid, signo);
}

void hosted_io(pid_t pid, unsigned int type, unsigned int fd,
	       unsigned int flags, const uint8_t *data, uint32_t n)
{
	struct hosted *h = hosted_find(pid);

	if (!h || h->exited) {
		pr_debug("IO for pid %d, which is not here", pid);
		return;
	}
	if (fd != 0) {
		struct out_stream *o = stream_of(h, fd);

		/* the reader of one of its output streams went away */
		if (type == BPROC_MSG_IO_EOF && o && o->fd >= 0) {
			pr_debug("pid %d: stream %u has no reader left", pid,
				 fd);
			close_fd(&o->fd);
		}
		return;
	}
	if (type == BPROC_MSG_IO_EOF) {
		h->in_eof = true;
	} else if (h->in_w < 0) {
		/* its stdin is closed: consumed, as far as anyone can tell */
		if (!(flags & BPROC_IO_ACKED))
			h->in_unacked += n;
	} else if (iobuf_put(&h->inq, data, n)) {
		pr_err("pid %d: out of memory for %u bytes of stdin", pid, n);
		if (!(flags & BPROC_IO_ACKED))
			h->in_unacked += n;
	} else if (flags & BPROC_IO_ACKED) {
		h->inq_acked += n; /* requeued: they come first */
	}
	stdin_push(h);
}

void hosted_ack(pid_t pid, unsigned int fd, uint32_t bytes)
{
	struct hosted *h = hosted_find(pid);
	struct out_stream *o = h && fd ? stream_of(h, fd) : NULL;

	if (!o)
		return;
	/* acks of bytes a former host sent may arrive here: never below 0 */
	o->unacked -= bytes < o->unacked ? bytes : o->unacked;
}

/* Fields of /proc/PID/stat after the comm, from state (field 3) on. */
static int read_stat(pid_t lpid, struct bp_proc_report *r)
{
	unsigned long long utime, stime;
	long long rss;
	char buf[1024], *lp, *rp;
	long tick = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	snprintf(buf, sizeof(buf), "/proc/%d/stat", lpid);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -EIO;
	*rp = '\0';
	snprintf(r->comm, sizeof(r->comm), "%.15s", lp + 1);
	if (sscanf(rp + 2,
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

static uint32_t read_uid(pid_t lpid)
{
	char path[64], line[256];
	unsigned int uid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", lpid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

void hosted_report(struct bp_conn *c)
{
	struct hosted *h;

	for (h = procs; h; h = h->next) {
		struct bp_proc_report r = { 0 };

		if (h->dead || h->left || h->exited)
			continue;
		if (read_stat(h->lpid, &r))
			continue;
		r.pid = (uint32_t)h->pid;
		r.uid = read_uid(h->lpid);
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
