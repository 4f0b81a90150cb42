// SPDX-License-Identifier: GPL-2.0
/*
 * Moves out of this agent (include/bproc/proto.h, "Moving a process"): the
 * master orders the move of a process that runs here (MOVE_ORDER); this
 * agent has the engine dump it into a pipe, streams the image to the
 * destination agent over an authenticated connection of its own, and
 * commits or resumes:
 *
 *   order    check the process, arm an asynchronous dump (a job: a stopped
 *            target is dumped by the caller, which would block), connect
 *            to the destination; a self-move says MOVE_ARMED at once
 *   stream   pipe -> IMAGE_DATA frames, never more than a few MiB queued;
 *            at the first image byte the process is parked: which of its
 *            fds are which streams goes first (IMAGE_STREAMS), its output
 *            up to there is flushed and IO_MARK sent; then IMAGE_END
 *   commit   on IMAGE_RESULT 0: the front end keeps a ghost, a node kills
 *            its copy and hands back the stdin it never read; MOVE_RESULT 0
 *   fail     anything else: the destination is told (IMAGE_END with an
 *            error) and the process resumes where it was, a self-move's
 *            write failing with the errno; MOVE_RESULT says why
 *
 * The pipe is drained until the dump has ended, whatever happens: closing
 * it under a process writing its image would kill it with SIGPIPE.
 *
 * Files (proto.h, enum bproc_send): a move ordered "path" or "auto" first
 * asks the destination which of the process's files it has (files.c), on
 * the connection the image will take, and arms the dump only once the
 * answer says what goes whole, or refuses; "whole" arms it at the order.
 *
 * A connection whose transfer went through is kept for a while (idle), and
 * the next move to the same destination begins its transfer there at once.
 *
 * Fast start (proto.h, BPROC_MOVE_KEEP), on the front end: a self-move
 * ordered KEEP copies its image as it streams and, once it is whole, keeps
 * it (struct kept) with what the process was like: its parent,
 * credentials, cwd, root, program, fd numbers and streams. A self-move
 * ordered with copy_of waits for that image (copy_wait) and, by a process
 * alike in all that, arms a dump that writes nothing (BPROC_DUMP_NOIMAGE:
 * the process parks, and becomes a ghost as any other once restored
 * there) and sends the kept image under its own pid; the destination
 * restores it as it would any image, the engine giving the C library's
 * copy of the tid the new pid. Anything not alike, or a destination that
 * needs a file whole that the kept image lacks, and the move is an
 * ordinary one.
 *
 * Down a tree of nodes (proto.h, BPROC_TREE_MIN): the destinations of a
 * KEEP move and of its copies keep the image too (IMAGE_KEEP, tree.c), and
 * each that has restored its process is a holder of the kept image here.
 * A copy's image goes from a holder that sends fewer than the config's
 * fanout (the destination fetches it: IMAGE_FETCH), else from here under
 * the same limit, else it waits for one of them (copy_source); what a
 * fetch did not bring, this agent sends.
 */
#define LOG_PREFIX "send"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define PIPE_BYTES (1u << 20)
#define IMAGE_CHUNK (1u << 20)
#define QUEUED_MAX (4u << 20) /* image bytes queued on the connection */
#define SILENCE_TIMEOUTS 3 /* a destination silent this many timeouts is gone */
#define IDLE_MAX 32 /* connections kept for later moves */
#define KEPT_MAX 64 /* images kept for copies at once */
/* How long a copy waits for the move of the one it copies to be ordered. */
#define COPY_WAIT_MS 300

/* What a process must share with a kept image to become a copy of it. */
struct likeness {
	pid_t ppid;
	dev_t exe_dev, cwd_dev, root_dev;
	ino_t exe_ino, cwd_ino, root_ino;
	char creds[1024]; /* its status's credential and thread lines */
	char fds[256]; /* its fd numbers, in order */
};

/* A node that keeps a kept image too, and may send it (proto.h). */
struct holder {
	char node[BPROC_NODE_NAME_MAX];
	char addr[48];
	unsigned int busy; /* images it sends now */
	bool bad; /* it could not: it is not asked again */
};

#define HOLDERS_MAX 64

/* A process's image kept for copies of it (fast start). */
struct kept {
	struct kept *next;
	uint64_t move_id; /* the move that took it */
	pid_t pid;
	uint8_t *buf;
	size_t len;
	uint32_t whole; /* BPROC_DUMP_ALL flags it went with */
	struct likeness like;
	struct bp_stream *map; /* its streams, as the destination had them */
	int nr_map;
	int64_t until_ms;
	unsigned int refs; /* copies sending it, and the list */
	struct holder holders[HOLDERS_MAX];
	int nr_holders;
	unsigned int front_busy; /* copies this agent sends it to now */
};

struct outmove {
	struct outmove *next;
	struct bp_move_order o;
	bool self, armed; /* a self-move; MOVE_ARMED sent */
	pid_t lpid; /* the process, in this agent's pid namespace */
	struct hosted *h; /* on a node: the hosted process */
	int64_t t0_ms, seen_ms;

	/* the dump */
	int dev;
	struct job job;
	struct bproc_dump_args dargs;
	int pipe_w, img_r, handle;
	bool dumped; /* its outcome is known */
	uint64_t image_size, bytes;
	bool marked; /* IO_MARK sent */
	struct files *files; /* what the destination is asked about */
	bool asking; /* the dump waits for FILES_ANSWER */
	struct bp_stream *map; /* its fds that are streams */
	int nr_map;

	/* fast start */
	struct likeness *like; /* KEEP: what it is like, at the order */
	struct keepbuf keep; /* KEEP: its image so far */
	bool keep_dropped; /* too big to keep */
	struct kept *copy; /* copy_of: the kept image it may take */
	bool copying; /* its dump writes nothing: the kept image goes */
	bool kept_done; /* KEEP: its image is kept (complete) */
	bool waiting; /* copy_of: that one's image is still coming */
	int64_t wait_until_ms; /* for its move to be ordered at all */
	bool authed; /* the connection is ready: the transfer may open */
	bool sourced; /* a copy: who sends its image is settled */
	bool queued; /* ... not yet: every sender is busy */
	bool slot; /* this agent sends it, one of the config's fanout */
	bool fetching; /* the destination fetches it from a holder */
	int holder; /* that holder, in copy->holders */
	char via[BPROC_NODE_NAME_MAX]; /* the holder that sent all of it */

	/* the destination */
	struct bp_addr dest;
	int cfd; /* while connecting */
	bool have_conn, begun, ended;
	struct bp_conn conn;
	uint32_t
		transfer; /* its number on the connection: the frames' stream */
	bool result_in;

	/* the outcome */
	bool failing, committed, resumed, result_sent;
	int err;
	char reason[BPROC_REASON_BYTES];
	bool dead;
};

static struct outmove *moves;
static uint8_t chunk[IMAGE_CHUNK];

/* An authenticated connection to a destination, between two moves. */
struct idle {
	struct idle *next;
	char dest[BPROC_NODE_NAME_MAX];
	char addr[48];
	struct bp_conn conn;
	uint32_t transfer; /* the last one it carried */
	int64_t since;
	bool dead;
};

static struct idle *idles;
static unsigned int nr_idles;

static void send_result(struct outmove *m, int err, const char *reason)
{
	struct bp_move_result r = { 0 };
	struct bp_conn *c = link_conn();

	r.move_id = m->o.move_id;
	r.pid = m->o.pid;
	r.error = (uint32_t)err;
	r.bytes = err ? 0 : m->bytes;
	r.usec = (uint64_t)(bp_now_ms() - m->t0_ms) * 1000;
	snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
	m->result_sent = true;
	if (c)
		link_sent(bp_send_move_result(c, &r), "MOVE_RESULT");
	else
		pr_warn("move %llu of pid %u ended (%s) with no master to tell",
			(unsigned long long)m->o.move_id, m->o.pid,
			err ? strerror(err) : "done");
}

static void drop_conn(struct outmove *m)
{
	close_fd(&m->cfd);
	if (m->have_conn) {
		bp_conn_flush(&m->conn);
		bp_conn_destroy(&m->conn);
		m->have_conn = false;
	}
}

static void advance(struct outmove *m);
static void keep_conn(struct outmove *m);
static int open_transfer(struct outmove *m);
static int on_answer(struct outmove *m, const uint8_t *d, uint32_t len);
static void copy_release(struct outmove *m);

/*
 * The move fails with err (a positive errno) and a reason: the destination
 * is told, the process resumes once its dump is over (advance).
 */
static void fail(struct outmove *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct outmove *m, int err, const char *fmt, ...)
{
	va_list ap;

	if (m->failing || m->committed)
		return;
	m->failing = true;
	m->err = err;
	m->queued = false;
	if (m->copy)
		copy_release(m);
	va_start(ap, fmt);
	vsnprintf(m->reason, sizeof(m->reason), fmt, ap);
	va_end(ap);
	pr_info("move %llu of pid %u to %s failed: %s",
		(unsigned long long)m->o.move_id, m->o.pid, m->o.dest,
		m->reason);
	if (m->have_conn && m->begun && !m->ended &&
	    m->conn.state == BP_CONN_READY) {
		struct bp_image_end e = { .bytes = m->bytes,
					  .error = (uint32_t)err };

		snprintf(e.reason, sizeof(e.reason), "%s", m->reason);
		bp_send_image_end(&m->conn, m->transfer, &e);
		m->ended = true;
	}
	drop_conn(m);
	/*
	 * An armed self-move fails its write once its dump is over; any
	 * other move resumes the process now, sparing it the dump if it has
	 * not begun. A self-move not armed yet is still in its write: the
	 * master answers that with this result, so it goes now.
	 */
	if (m->self && !m->armed)
		send_result(m, m->err, m->reason);
	if (m->handle >= 0 && !(m->self && m->armed) && !m->resumed) {
		ioctl(m->handle, BPROC_IOC_RESUME);
		m->resumed = true;
	}
}

/* ---- fast start: kept images and their copies ---- */

static struct kept *kepts;
static unsigned int nr_kepts;

/* The parent of front-end process pid, 0 if it is gone. */
static pid_t front_ppid(pid_t pid)
{
	char buf[512], *st = proc_stat(pid, buf, sizeof(buf));
	int ppid = 0;

	if (!st || sscanf(st, "%*c %d", &ppid) != 1 || ppid < 0)
		return 0;
	return (pid_t)ppid;
}

static int stat_of(pid_t pid, const char *what, dev_t *dev, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	if (stat(path, &st))
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/* Its fd numbers, in order, as text: 0 or -errno. */
static int fd_list(pid_t pid, char *out, size_t len)
{
	int fds[64], nr = 0, j, k;
	size_t used = 0;
	struct dirent *d;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.') {
			if (nr == (int)(sizeof(fds) / sizeof(fds[0]))) {
				closedir(dir);
				return -E2BIG; /* too many to compare */
			}
			fds[nr++] = atoi(d->d_name);
		}
	closedir(dir);
	for (j = 1; j < nr; j++) /* readdir's order is not theirs */
		for (k = j; k > 0 && fds[k - 1] > fds[k]; k--) {
			int t = fds[k];

			fds[k] = fds[k - 1];
			fds[k - 1] = t;
		}
	out[0] = '\0';
	for (j = 0; j < nr && used < len; j++)
		used += (size_t)snprintf(out + used, len - used, "%d ", fds[j]);
	return used < len ? 0 : -E2BIG;
}

/* What pid is like, as a copy must match it: 0 or -errno. */
static int likeness_read(pid_t pid, struct likeness *l)
{
	static const char *const keys[] = {
		"Uid:",	    "Gid:",	"Groups:",    "CapInh:",
		"CapPrm:",  "CapEff:",	"CapBnd:",    "CapAmb:",
		"Seccomp:", "Threads:", "NoNewPrivs:"
	};
	char path[64], line[256];
	size_t used = 0, i;
	int err;
	FILE *f;

	memset(l, 0, sizeof(*l));
	l->ppid = front_ppid(pid);
	if (!l->ppid)
		return -ESRCH;
	err = stat_of(pid, "exe", &l->exe_dev, &l->exe_ino);
	if (!err)
		err = stat_of(pid, "cwd", &l->cwd_dev, &l->cwd_ino);
	if (!err)
		err = stat_of(pid, "root", &l->root_dev, &l->root_ino);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) &&
			    used + strlen(line) < sizeof(l->creds)) {
				memcpy(l->creds + used, line, strlen(line));
				used += strlen(line);
			}
	fclose(f);
	return fd_list(pid, l->fds, sizeof(l->fds));
}

static bool likeness_same(const struct likeness *a, const struct likeness *b)
{
	return a->ppid == b->ppid && a->exe_dev == b->exe_dev &&
	       a->exe_ino == b->exe_ino && a->cwd_dev == b->cwd_dev &&
	       a->cwd_ino == b->cwd_ino && a->root_dev == b->root_dev &&
	       a->root_ino == b->root_ino && !strcmp(a->creds, b->creds) &&
	       strstr(a->creds, "Threads:\t1\n") && !strcmp(a->fds, b->fds);
}

/*
 * Are a copy's streams the kept image's: the same fds, each the same
 * stream and kind? Where it runs, the image's streams are then connected
 * to what the copy's ghost holds at those fds, as for any move.
 */
static bool streams_same(const struct kept *k, const struct bp_stream *map,
			 int nr)
{
	int i;

	if (nr != k->nr_map)
		return false;
	for (i = 0; i < nr; i++)
		if (map[i].fd != k->map[i].fd ||
		    map[i].stream != k->map[i].stream ||
		    map[i].kind != k->map[i].kind)
			return false;
	return true;
}

static void kept_put(struct kept *k)
{
	if (--k->refs)
		return;
	free(k->buf);
	free(k->map);
	free(k);
}

/* Images kept past their time go (their process may have ended: no matter). */
static void kept_expire(void)
{
	struct kept **kp = &kepts;
	int64_t now = bp_now_ms();

	while (*kp) {
		struct kept *k = *kp;

		if (now < k->until_ms) {
			loop_wake_at(k->until_ms);
			kp = &k->next;
			continue;
		}
		*kp = k->next;
		nr_kepts--;
		kept_put(k);
	}
}

static struct kept *kept_find(pid_t pid)
{
	struct kept *k;

	for (k = kepts; k; k = k->next)
		if (k->pid == pid)
			return k;
	return NULL;
}

/* m, ordered KEEP, went through: its image is kept for copies. */
static void kept_store(struct outmove *m)
{
	struct kept *k, **kp;

	if (!m->like || m->keep_dropped || !m->keep.len ||
	    m->keep.len != m->bytes || nr_kepts >= KEPT_MAX)
		return;
	for (kp = &kepts; *kp; kp = &(*kp)->next)
		if ((*kp)->pid == (pid_t)m->o.pid) {
			k = *kp;
			*kp = k->next;
			nr_kepts--;
			kept_put(k);
			break;
		}
	k = calloc(1, sizeof(*k));
	if (!k)
		return;
	k->map = calloc((size_t)m->nr_map + 1, sizeof(*k->map));
	if (!k->map) {
		free(k);
		return;
	}
	memcpy(k->map, m->map, (size_t)m->nr_map * sizeof(*k->map));
	k->nr_map = m->nr_map;
	k->pid = (pid_t)m->o.pid;
	k->move_id = m->o.move_id;
	k->buf = m->keep.buf;
	k->len = m->keep.len;
	k->whole = m->dargs.flags & BPROC_DUMP_ALL;
	k->like = *m->like;
	k->until_ms = bp_now_ms() + BPROC_KEPT_IMAGE_MS;
	k->refs = 1;
	m->keep.buf = NULL;
	k->next = kepts;
	kepts = k;
	nr_kepts++;
	pr_debug("pid %d: its image kept for copies (%zu bytes)", k->pid,
		 k->len);
}

/* Image bytes of a move ordered KEEP, as they go. */
static void keep_append(struct outmove *m, const uint8_t *data, size_t n)
{
	int err;

	if (m->keep_dropped || !m->like)
		return;
	err = keepbuf_add(&m->keep, data, n);
	if (err) {
		pr_info("move %llu: its image is not kept: %s",
			(unsigned long long)m->o.move_id,
			err == -EFBIG ? "too big" : "out of memory");
		m->keep_dropped = true;
	}
}

/*
 * At the order of a move with copy_of: the kept image it may take, or
 * NULL (it moves as any other). Its streams are read now, as they will be
 * once parked: a self-move does not run again before.
 */
static struct kept *copy_candidate(struct outmove *m)
{
	struct kept *k = kept_find((pid_t)m->o.copy_of);
	char why[BPROC_REASON_BYTES];
	const char *not = NULL;
	struct likeness l;

	if (!k)
		not = "its image is not kept here";
	else if (likeness_read(m->lpid, &l) || !likeness_same(&l, &k->like))
		not = "the two are not alike";
	else {
		m->map = calloc(BPROC_STREAMS_MAX, sizeof(*m->map));
		if (!m->map)
			return NULL;
		m->nr_map = front_streams(m->lpid, m->self, m->map, why,
					  sizeof(why));
		if (m->nr_map < 0 || !streams_same(k, m->map, m->nr_map)) {
			free(m->map);
			m->map = NULL;
			m->nr_map = 0;
			not = "their streams differ";
		}
	}
	if (not ) {
		pr_info("move %llu: pid %u goes as itself, not as a copy of "
			"%u: %s",
			(unsigned long long)m->o.move_id, m->o.pid,
			m->o.copy_of, not );
		return NULL;
	}
	k->refs++;
	return k;
}

/* node, where a move went with the image kept, may send it on. */
static void holder_add(struct kept *k, const char *node, const char *addr)
{
	struct holder *h;
	int i;

	for (i = 0; i < k->nr_holders; i++)
		if (!strcmp(k->holders[i].node, node))
			return;
	if (k->nr_holders == HOLDERS_MAX)
		return;
	h = &k->holders[k->nr_holders++];
	snprintf(h->node, sizeof(h->node), "%s", node);
	snprintf(h->addr, sizeof(h->addr), "%s", addr);
	pr_debug("pid %d: %s keeps its image too", k->pid, node);
}

/* What sends a copy's image is free again. */
static void copy_release(struct outmove *m)
{
	if (m->fetching)
		m->copy->holders[m->holder].busy--;
	if (m->slot)
		m->copy->front_busy--;
	m->fetching = m->slot = false;
}

/*
 * Who sends a copy's image (proto.h, BPROC_TREE_MIN): a holder that is
 * not busy (the config's fanout: images at once), else this agent if it
 * is not, else nobody yet (queued: tried again each round). A small
 * image, or any with a fanout of 0, this agent sends at once.
 */
static void copy_source(struct outmove *m)
{
	unsigned int fanout = agent->cfg.fanout;
	struct kept *k = m->copy;
	struct bp_image_ref r = { 0 };
	int i;

	m->queued = false;
	if (k->len < BPROC_TREE_MIN || !fanout) {
		m->sourced = true;
		return;
	}
	for (i = 0; i < k->nr_holders; i++) {
		struct holder *h = &k->holders[i];

		if (h->bad || h->busy >= fanout || !strcmp(h->node, m->o.dest))
			continue;
		r.move_id = k->move_id;
		r.pid = (uint32_t)k->pid;
		r.bytes = k->len;
		snprintf(r.node, sizeof(r.node), "%s", h->node);
		snprintf(r.addr, sizeof(r.addr), "%s", h->addr);
		if (bp_send_image_ref(&m->conn, BPROC_MSG_IMAGE_FETCH,
				      m->transfer, &r)) {
			fail(m, EIO, "queueing the image's fetch");
			return;
		}
		bp_conn_flush(&m->conn);
		h->busy++;
		m->holder = i;
		m->fetching = m->sourced = true;
		pr_debug("move %llu: %s fetches the image from %s",
			 (unsigned long long)m->o.move_id, m->o.dest, h->node);
		return;
	}
	if (k->front_busy < fanout) {
		k->front_busy++;
		m->slot = m->sourced = true;
		return;
	}
	m->queued = true;
}

/* The destination has this much of it from a holder: the rest goes now. */
static int on_fetched(struct outmove *m, uint32_t stream, const uint8_t *d,
		      uint32_t len)
{
	struct holder *h;
	struct bp_image_end e;

	if (!m->fetching || stream != m->transfer ||
	    bp_image_end_decode(d, len, &e) || e.bytes > m->image_size)
		return -EPROTO;
	h = &m->copy->holders[m->holder];
	if (e.error) {
		pr_info("move %llu: %s had %llu bytes of the image from %s "
			"(%s); the rest goes from here",
			(unsigned long long)m->o.move_id, m->o.dest,
			(unsigned long long)e.bytes, h->node, e.reason);
		h->bad = true;
	} else {
		snprintf(m->via, sizeof(m->via), "%s", h->node);
	}
	copy_release(m);
	m->bytes = e.bytes;
	return 0;
}

/* A copy's image, from the kept one, as the connection takes it. */
static void copy_feed(struct outmove *m)
{
	while (m->bytes < m->image_size && !m->failing &&
	       m->conn.wlen - m->conn.woff < QUEUED_MAX) {
		size_t n = m->image_size - m->bytes;
		int err;

		if (n > IMAGE_CHUNK)
			n = IMAGE_CHUNK;
		err = bp_conn_send(&m->conn, BPROC_MSG_IMAGE_DATA, m->transfer,
				   m->copy->buf + m->bytes, (uint32_t)n);
		if (err) {
			fail(m, EIO, "queueing the image: %s", strerror(-err));
			return;
		}
		m->bytes += n;
	}
	if (m->bytes == m->image_size && m->slot)
		copy_release(m); /* all of it queued */
	bp_conn_flush(&m->conn);
	m->seen_ms = bp_now_ms();
}

/* The errno a user sees for what the engine said. */
static int dump_errno(int err)
{
	switch (err) {
	case EOPNOTSUPP:
	case ESRCH:
	case EBUSY:
	case ENOMEM:
		return err;
	default:
		return EIO;
	}
}

/*
 * The process is parked: which fds are which streams goes to the
 * destination before the image, what it wrote to the master before the
 * IO_MARK.
 */
static void mark(struct outmove *m)
{
	char why[BPROC_REASON_BYTES];
	uint32_t unread = 0;
	struct bp_conn *c;
	int err;

	m->marked = true;
	pr_debug("move %llu: first image bytes after %lld ms",
		 (unsigned long long)m->o.move_id,
		 (long long)(bp_now_ms() - m->t0_ms));
	/* a copy's streams were read at its order (copy_candidate) */
	if (!m->copying) {
		m->map = calloc(BPROC_STREAMS_MAX, sizeof(*m->map));
		if (!m->map) {
			fail(m, EIO, "out of memory");
			return;
		}
		m->nr_map =
			m->h ? hosted_streams(m->h, m->map, why, sizeof(why)) :
			       front_streams(m->lpid, m->self, m->map, why,
					     sizeof(why));
	}
	if (m->nr_map < 0) {
		fail(m, m->nr_map == -EOPNOTSUPP ? EOPNOTSUPP : ESRCH, "%s",
		     why);
		return;
	}
	for (err = 0; err < m->nr_map; err++)
		pr_debug("move %llu: fd %u is stream %u (%s)",
			 (unsigned long long)m->o.move_id, m->map[err].fd,
			 m->map[err].stream,
			 stream_kind_name(m->map[err].kind));
	err = bp_send_image_streams(&m->conn, m->transfer, m->map,
				    (uint32_t)m->nr_map);
	if (err) {
		fail(m, EIO, "queueing its streams: %s", strerror(-err));
		return;
	}
	if (m->h) {
		hosted_flush_output(m->h);
		unread = hosted_park(m->h);
	}
	c = link_conn();
	if (c)
		link_sent(bp_send_io_mark(c, m->o.pid, m->o.move_id, unread),
			  "IO_MARK");
}

static void commit(struct outmove *m)
{
	m->committed = true;
	if (!m->h) {
		/* its threads stay too (module 1.8), each holding its tid */
		bool threads = ioctl(m->handle, BPROC_IOC_GHOST_THREADS) == 0;

		if ((threads || ioctl(m->handle, BPROC_IOC_GHOST) == 0) &&
		    ghost_add((pid_t)m->o.pid, m->handle, m->map,
			      (unsigned int)m->nr_map, threads) == 0) {
			m->handle = -1; /* the ghost's now */
		} else {
			struct bp_conn *c = link_conn();

			/* never two of it: this copy ends, and so does that */
			pr_err("pid %u: no ghost (%m); the process is ended",
			       m->o.pid);
			ioctl(m->handle, BPROC_IOC_KILL);
			if (c)
				link_sent(bp_send_signal(c, m->o.pid, SIGKILL),
					  "SIGNAL");
		}
	} else if (hosted_is_born(m->h)) {
		/*
		 * Born here: its parent here waits for it, signals it, sees
		 * it in its process group. A ghost of it stays, a proxy that
		 * ends as the process does.
		 */
		if (ioctl(m->handle, BPROC_IOC_GHOST) == 0) {
			hosted_proxy(m->h, m->handle);
			m->handle = -1;
		} else {
			pr_err("pid %u: no proxy of it here (%m): its parent "
			       "here sees it killed",
			       m->o.pid);
			ioctl(m->handle, BPROC_IOC_KILL);
		}
		hosted_left(m->h);
	} else {
		ioctl(m->handle, BPROC_IOC_KILL);
		hosted_left(m->h);
	}
	close_fd(&m->handle);
	if (m->like) {
		struct kept *k = kept_find((pid_t)m->o.pid);

		if (k && k->move_id == m->o.move_id)
			holder_add(k, m->o.dest, m->o.dest_addr);
	}
	if (m->copying) {
		if (m->fetching) /* restored before it said so */
			m->bytes = m->image_size;
		copy_release(m);
		if (m->copy->len >= BPROC_TREE_MIN)
			holder_add(m->copy, m->o.dest, m->o.dest_addr);
	}
	pr_debug("move %llu of pid %u to %s done, %llu bytes, %lld ms",
		 (unsigned long long)m->o.move_id, m->o.pid, m->o.dest,
		 (unsigned long long)m->bytes,
		 (long long)(bp_now_ms() - m->t0_ms));
	if (m->copying) {
		char how[64];

		snprintf(how, sizeof(how), "a copy of pid %u%s%s", m->o.copy_of,
			 m->via[0] ? ", sent by " : "", m->via);
		send_result(m, 0, how);
	} else {
		send_result(m, 0, NULL);
	}
	keep_conn(m);
	close_fd(&m->img_r);
	m->dead = true;
}

/* A failed move ends once its dump has: the process resumes. */
static void finish_fail(struct outmove *m)
{
	if (m->job.running || (m->handle >= 0 && !m->dumped))
		return;
	close_fd(&m->pipe_w); /* still ours if the dump never began */
	close_fd(&m->dev);
	if (m->handle >= 0 && m->self && m->armed) {
		struct bproc_resume_ret rr = { .value = -m->err };

		if (ioctl(m->handle, BPROC_IOC_RESUME_RET, &rr))
			ioctl(m->handle, BPROC_IOC_RESUME);
	}
	close_fd(&m->handle);
	close_fd(&m->img_r);
	if (!m->result_sent)
		send_result(m, m->err, m->reason);
	if (m->h)
		hosted_set_moving(m->h, false);
	m->dead = true;
}

static void advance(struct outmove *m)
{
	if (m->dead)
		return;
	if (m->failing) {
		finish_fail(m);
		return;
	}
	if (m->dumped && m->bytes > m->image_size) {
		fail(m, EIO, "the image is longer than the engine said");
		finish_fail(m);
		return;
	}
	if (m->like && !m->kept_done && m->dumped &&
	    m->bytes == m->image_size) {
		/* whole: copies may take it now, whatever becomes of it */
		m->kept_done = true;
		kept_store(m);
	}
	if (m->result_in && m->dumped) {
		commit(m);
		return;
	}
	if (m->copying && m->dumped && m->begun && m->have_conn && !m->ended) {
		if (!m->marked)
			mark(m);
		if (!m->failing && !m->sourced)
			copy_source(m);
		if (!m->failing && m->sourced && !m->fetching)
			copy_feed(m);
		if (m->failing) {
			finish_fail(m);
			return;
		}
	}
	if (m->dumped && m->begun && !m->ended && m->bytes == m->image_size &&
	    m->have_conn) {
		struct bp_image_end e = { .bytes = m->bytes };

		if (bp_send_image_end(&m->conn, m->transfer, &e))
			fail(m, EIO, "the image's end could not be sent");
		m->ended = true;
	}
}

/* ---- the dump ---- */

static void job_polled(void *obj, short revents)
{
	struct outmove *m = obj;

	(void)revents;
	if (!job_finished(&m->job))
		return;
	close_fd(&m->pipe_w);
	close_fd(&m->dev);
	if (m->job.ret < 0) {
		int err = m->job.err;

		m->dumped = true;
		fail(m, dump_errno(err), "%s%s%s", strerror(err),
		     m->dargs.reason[0] ? ": " : "", m->dargs.reason);
	} else {
		m->handle = m->dargs.handle_fd;
		fcntl(m->handle, F_SETFL, O_NONBLOCK);
		if (m->failing && !m->resumed) {
			ioctl(m->handle, BPROC_IOC_RESUME);
			m->resumed = true;
		}
		if (m->self && !m->failing && link_conn()) {
			link_sent(bp_send_move_armed(link_conn(), m->o.move_id),
				  "MOVE_ARMED");
			m->armed = true;
		}
	}
	advance(m);
}

static void handle_polled(void *obj, short revents)
{
	struct bproc_dump_result r = { 0 };
	struct outmove *m = obj;

	(void)revents;
	if (m->dead || m->dumped)
		return;
	if (ioctl(m->handle, BPROC_IOC_DUMP_RESULT, &r)) {
		if (errno != EAGAIN && errno != EINTR)
			fail(m, EIO, "the dump's outcome: %s", strerror(errno));
		else
			return;
		r.error = EIO;
	}
	m->dumped = true;
	/* a copy's dump wrote nothing: the kept image goes */
	m->image_size = m->copying ? m->copy->len : r.image_size;
	pr_debug("move %llu: dumped after %lld ms",
		 (unsigned long long)m->o.move_id,
		 (long long)(bp_now_ms() - m->t0_ms));
	m->seen_ms = bp_now_ms();
	if (r.error)
		fail(m, dump_errno(r.error), "%s%s%s", strerror(r.error),
		     r.reason[0] ? ": " : "", r.reason);
	advance(m);
}

static void pipe_polled(void *obj, short revents)
{
	struct outmove *m = obj;
	uint8_t *room = NULL;
	ssize_t n;

	(void)revents;
	if (m->dead)
		return;
	/* after the first bytes, straight from the pipe into a frame */
	if (m->marked && !m->failing)
		room = bp_conn_room(&m->conn, IMAGE_CHUNK);
	n = read(m->img_r, room ? room : chunk, IMAGE_CHUNK);
	if (n <= 0)
		return; /* EOF comes only once the engine let the pipe go */
	m->seen_ms = bp_now_ms();
	if (!m->marked && !m->failing)
		mark(m);
	if (!m->failing)
		keep_append(m, room ? room : chunk, (size_t)n);
	if (room) {
		bp_conn_commit(&m->conn, BPROC_MSG_IMAGE_DATA, m->transfer,
			       (uint32_t)n);
		bp_conn_flush(&m->conn);
	} else if (!m->failing) {
		int err = bp_conn_send(&m->conn, BPROC_MSG_IMAGE_DATA,
				       m->transfer, chunk, (uint32_t)n);

		if (err)
			fail(m, EIO, "queueing the image: %s", strerror(-err));
		else
			bp_conn_flush(&m->conn);
	}
	m->bytes += (uint64_t)n;
	advance(m);
}

/* ---- the destination ---- */

static int begin(struct outmove *m)
{
	struct bp_image_begin b = { 0 };
	struct bp_image_ref k = { 0 };
	int err;

	b.move_id = m->o.move_id;
	b.pid = m->o.pid;
	b.flags = m->o.flags;
	/* its parent, for getppid() where it goes */
	b.ppid = (uint32_t)(m->h ? hosted_ppid(m->h) : front_ppid(m->lpid));
	snprintf(b.origin, sizeof(b.origin), "%s", agent->name);
	m->begun = true;
	err = bp_send_image_begin(&m->conn, m->transfer, &b);
	/* fast start: the destination keeps the image, to send it on */
	if (!err && !agent->cfg.fanout)
		return 0; /* no tree */
	if (!err && m->copying && m->copy->len >= BPROC_TREE_MIN) {
		k.move_id = m->copy->move_id;
		k.pid = (uint32_t)m->copy->pid;
		k.bytes = m->copy->len;
		err = bp_send_image_ref(&m->conn, BPROC_MSG_IMAGE_KEEP,
					m->transfer, &k);
	} else if (!err && m->like) {
		k.move_id = m->o.move_id;
		k.pid = m->o.pid; /* its length: as IMAGE_END says */
		err = bp_send_image_ref(&m->conn, BPROC_MSG_IMAGE_KEEP,
					m->transfer, &k);
	}
	return err;
}

/* An idle connection to where m goes, taken for its transfer. */
static bool take_idle(struct outmove *m)
{
	struct idle *i;

	for (i = idles; i; i = i->next) {
		if (i->dead || strcmp(i->dest, m->o.dest) ||
		    strcmp(i->addr, m->o.dest_addr) ||
		    bp_now_ms() - i->since > BPROC_PEER_IDLE_MS)
			continue;
		m->conn = i->conn; /* the connection is the move's now */
		m->have_conn = true;
		m->transfer = i->transfer + 1;
		i->dead = true;
		i->conn.fd = -1;
		return true;
	}
	return false;
}

/* The move went through: its connection may serve the next one. */
static void keep_conn(struct outmove *m)
{
	struct idle *i;

	if (!m->have_conn || m->conn.state != BP_CONN_READY ||
	    m->transfer >= INT32_MAX || nr_idles >= IDLE_MAX ||
	    !(i = calloc(1, sizeof(*i)))) {
		drop_conn(m);
		return;
	}
	snprintf(i->dest, sizeof(i->dest), "%s", m->o.dest);
	snprintf(i->addr, sizeof(i->addr), "%s", m->o.dest_addr);
	i->conn = m->conn;
	i->transfer = m->transfer;
	i->since = bp_now_ms();
	m->have_conn = false;
	i->next = idles;
	idles = i;
	nr_idles++;
}

static int idle_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		      const uint8_t *data, uint32_t len, void *arg)
{
	(void)stream;
	(void)arg;
	switch (type) {
	case BPROC_MSG_PING:
		return bp_answer_ping(c, data, len);
	case BPROC_MSG_PONG:
		return 0;
	default:
		return -ECONNRESET; /* BYE, or anything it should not say now */
	}
}

static void idle_polled(void *obj, short revents)
{
	struct idle *i = obj;
	int err = 0;

	if (i->dead)
		return;
	if (revents & (POLLIN | POLLHUP | POLLERR))
		err = bp_conn_read(&i->conn, idle_frame, i);
	if (!err)
		err = bp_conn_flush(&i->conn) < 0 ? -EPIPE : 0;
	if (err)
		i->dead = true;
}

static int out_frame(struct bp_conn *c, unsigned int type, uint32_t stream,
		     const uint8_t *data, uint32_t len, void *arg)
{
	struct outmove *m = arg;
	char reason[BPROC_REASON_BYTES];
	uint32_t err;

	m->seen_ms = bp_now_ms();
	switch (type) {
	case BPROC_MSG_AUTH:
		if (strcmp(c->peer_node, m->o.dest)) {
			fail(m, EIO, "the agent at %s is %s, not %s",
			     m->o.dest_addr, c->peer_node, m->o.dest);
			return -ECANCELED;
		}
		pr_debug("move %llu: %s authenticated after %lld ms",
			 (unsigned long long)m->o.move_id, m->o.dest,
			 (long long)(bp_now_ms() - m->t0_ms));
		m->transfer = 1;
		m->authed = true;
		if (m->waiting)
			return 0; /* it opens once armed (copy_wait) */
		return open_transfer(m);
	case BPROC_MSG_FILES_ANSWER:
		if (!m->asking || stream != m->transfer)
			return -EPROTO;
		return on_answer(m, data, len);
	case BPROC_MSG_IMAGE_FETCHED:
		return on_fetched(m, stream, data, len);
	case BPROC_MSG_IMAGE_RESULT:
		if (bp_image_result_decode(data, len, &err, reason))
			return -EPROTO;
		if (stream != m->transfer)
			return -EPROTO;
		if (err) {
			fail(m, EIO, "%s: %s", m->o.dest, reason);
			return -ECANCELED;
		}
		m->result_in = true;
		pr_debug("move %llu: %s restored it after %lld ms",
			 (unsigned long long)m->o.move_id, m->o.dest,
			 (long long)(bp_now_ms() - m->t0_ms));
		return 0;
	case BPROC_MSG_PING:
		return bp_answer_ping(c, data, len);
	case BPROC_MSG_PONG:
		return 0;
	case BPROC_MSG_BYE:
		return -ECONNRESET;
	default:
		pr_warn("%s: unexpected %s", c->desc, bp_msg_name(type));
		return -EPROTO;
	}
}

static void conn_polled(void *obj, short revents)
{
	struct outmove *m = obj;
	size_t before;
	int err = 0;

	if (m->dead || !m->have_conn)
		return;
	if (revents & (POLLIN | POLLHUP | POLLERR))
		err = bp_conn_read(&m->conn, out_frame, m);
	if (!err && m->have_conn) {
		before = m->conn.wlen - m->conn.woff;
		err = bp_conn_flush(&m->conn) < 0 ? -EPIPE : 0;
		if (m->conn.wlen - m->conn.woff < before)
			m->seen_ms = bp_now_ms();
	}
	if (err && err != -ECANCELED && !m->result_in)
		fail(m, ECONNRESET, "the connection to %s broke: %s", m->o.dest,
		     strerror(-err));
	advance(m);
}

static void connect_polled(void *obj, short revents)
{
	struct outmove *m = obj;
	int err;

	(void)revents;
	if (m->dead || m->cfd < 0)
		return;
	err = bp_connect_result(m->cfd);
	if (err) {
		fail(m, ECONNRESET, "cannot reach %s at %s: %s", m->o.dest,
		     m->o.dest_addr, strerror(-err));
		advance(m);
		return;
	}
	bp_set_stream_opts(m->cfd);
	err = bp_conn_init(&m->conn, m->cfd, true, BPROC_ROLE_PEER, agent->name,
			   &agent->cfg.key, m->o.dest_addr);
	m->cfd = -1;
	m->have_conn = true; /* destroyed by drop_conn either way */
	m->conn.created_ms = bp_now_ms();
	if (err)
		fail(m, EIO, "out of memory");
	advance(m);
}

/* ---- which files go whole ---- */

/*
 * Arm the dump (an asynchronous job), whole adding to the flags ordered;
 * 0, or -errno with the reason in m->reason.
 */
static int start_dump(struct outmove *m, uint32_t whole)
{
	int err;

	m->dargs.pid = m->lpid;
	m->dargs.fd = m->pipe_w;
	if (m->copy && !(whole & ~m->copy->whole)) {
		/* parked as by a dump, its memory never read */
		m->copying = true;
		m->dargs.flags = BPROC_DUMP_ASYNC | BPROC_DUMP_NOIMAGE;
		err = job_start(&m->job, m->dev, BPROC_IOC_DUMP, &m->dargs);
		if (err)
			snprintf(m->reason, sizeof(m->reason),
				 "no thread for the dump: %s", strerror(-err));
		return err;
	}
	if (m->copy) {
		pr_info("move %llu: pid %u goes as itself: %s needs files "
			"whole that the image of %u lacks",
			(unsigned long long)m->o.move_id, m->o.pid, m->o.dest,
			m->o.copy_of);
		kept_put(m->copy);
		m->copy = NULL;
		free(m->map);
		m->map = NULL;
		m->nr_map = 0;
	}
	/*
	 * All its threads, shared memory that is its own alone, and the
	 * kernel objects a threaded runtime holds (bproc-ckpt makes them
	 * again where it lands; at home, a helper of the front end's agent
	 * does, for its ghost).
	 */
	m->dargs.flags = BPROC_DUMP_ASYNC | BPROC_DUMP_STREAMS |
			 BPROC_DUMP_THREADS | BPROC_DUMP_SHANON |
			 BPROC_DUMP_ANONFDS |
			 ((m->o.dump_flags | whole) & BPROC_DUMP_ALL);
	err = job_start(&m->job, m->dev, BPROC_IOC_DUMP, &m->dargs);
	if (err)
		snprintf(m->reason, sizeof(m->reason),
			 "no thread for the dump: %s", strerror(-err));
	return err;
}

/*
 * At the order: list the files to ask about when the order says "path" or
 * "auto".  One with more files than a query holds is not asked about:
 * "auto" sends them all whole, "path" by path as it was told.
 */
static int files_first(struct outmove *m)
{
	int err;

	if (m->o.send != BPROC_SEND_PATH && m->o.send != BPROC_SEND_AUTO)
		return 0;
	err = files_collect(m->lpid, &m->files, m->reason, sizeof(m->reason));
	if (err)
		return err;
	if (!files_unaskable(m->files)) {
		m->asking = true;
		return 0;
	}
	pr_info("move %llu: too many files to ask %s about",
		(unsigned long long)m->o.move_id, m->o.dest);
	if (m->o.send == BPROC_SEND_AUTO)
		m->o.dump_flags |= BPROC_DUMP_ALL;
	return 0;
}

/* The transfer's first frame: the question, or the image's beginning. */
static int open_transfer(struct outmove *m)
{
	if (m->asking)
		return files_ask(&m->conn, m->transfer, m->files);
	return begin(m);
}

/* The destination said which files it has: arm the dump, or refuse. */
static int on_answer(struct outmove *m, const uint8_t *d, uint32_t len)
{
	char why[BPROC_REASON_BYTES];
	uint32_t whole = 0;
	int err;

	err = files_decide(m->files, m->o.send, m->o.dest, d, len, &whole, why,
			   sizeof(why));
	if (err == -EPROTO)
		return err;
	m->asking = false;
	if (err) {
		fail(m, EIO, "%s", why);
		return -ECANCELED;
	}
	if (whole)
		pr_info("move %llu of pid %u to %s: sent whole:%s%s%s",
			(unsigned long long)m->o.move_id, m->o.pid, m->o.dest,
			whole & BPROC_DUMP_EXEC ? " its program" : "",
			whole & BPROC_DUMP_LIBS ? " its libraries" : "",
			whole & BPROC_DUMP_OTHER ? " its other files" : "");
	if (start_dump(m, whole)) {
		snprintf(why, sizeof(why), "%s", m->reason);
		fail(m, EIO, "%s", why);
		return -ECANCELED;
	}
	return begin(m);
}

/* On a connection ready for it: the transfer's first frame, sent now. */
static void open_now(struct outmove *m)
{
	int err = open_transfer(m);

	if (err)
		fail(m, EIO, "beginning the transfer: %s", strerror(-err));
	else
		bp_conn_flush(&m->conn);
}

/*
 * Ask the destination about its files, or arm the dump at once: 0, or
 * -errno with the reason in m->reason.
 */
static int arm(struct outmove *m)
{
	int err = files_first(m);

	if (!err && !m->asking)
		err = start_dump(
			m, m->o.send == BPROC_SEND_WHOLE ? BPROC_DUMP_ALL : 0);
	return err;
}

/* Is pid's image being taken to be kept (a move ordered KEEP)? */
static bool keeping(pid_t pid)
{
	struct outmove *t;

	for (t = moves; t; t = t->next)
		if ((pid_t)t->o.pid == pid && !t->dead && t->like &&
		    !t->keep_dropped && !t->failing && !t->kept_done)
			return true;
	return false;
}

/*
 * A copy waiting for the image it may take: once that is kept, or will
 * not be (its move failed, or was not ordered within COPY_WAIT_MS: the
 * copies' requests and the first's race to the master), it is armed (as
 * a copy if it can be one) and its transfer opens.
 */
static void copy_wait(struct outmove *m)
{
	int err;

	if (!m->waiting || m->dead || m->failing)
		return;
	if (!kept_find((pid_t)m->o.copy_of) &&
	    (keeping((pid_t)m->o.copy_of) ||
	     (bp_now_ms() < m->wait_until_ms &&
	      kill((pid_t)m->o.copy_of, 0) == 0))) {
		loop_wake_at(m->wait_until_ms);
		return;
	}
	m->waiting = false;
	m->copy = copy_candidate(m);
	err = arm(m);
	if (err) {
		char why[BPROC_REASON_BYTES];

		snprintf(why, sizeof(why), "%s", m->reason);
		fail(m, err == -ENOENT || err == -ESRCH ? ESRCH : EIO, "%s",
		     why);
		advance(m);
		return;
	}
	if (m->authed && m->have_conn)
		open_now(m);
}

/* ---- orders ---- */

/* The one-letter state of lpid, or 0 if it is gone. */
static char proc_state(pid_t lpid)
{
	char buf[512], *p = proc_stat(lpid, buf, sizeof(buf));

	return p ? p[0] : 0;
}

static struct outmove *find(uint32_t pid)
{
	struct outmove *m;

	for (m = moves; m; m = m->next)
		if (m->o.pid == pid && !m->dead)
			return m;
	return NULL;
}

/* Refuse an order before anything began. */
static void refuse(struct outmove *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct outmove *m, int err, const char *fmt, ...)
{
	char reason[BPROC_REASON_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pr_info("move %llu of pid %u to %s refused: %s",
		(unsigned long long)m->o.move_id, m->o.pid, m->o.dest, reason);
	send_result(m, err, reason);
	free(m);
}

/*
 * A child of process @lpid (of any of its threads), living or not yet
 * reaped, by its pid in its own namespace (the cluster's), or 0.
 */
static pid_t first_child(pid_t lpid)
{
	char path[PATH_MAX];
	pid_t child = 0, ns;
	struct dirent *d;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", lpid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (!child && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", lpid,
			 d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	closedir(dir);
	if (!child)
		return 0;
	/* its pid where it is, the cluster's */
	ns = proc_ns_pid(child, child);
	return ns ? ns : child;
}

void send_order(const struct bp_move_order *o)
{
	struct outmove *m = calloc(1, sizeof(*m));
	int p[2], err;
	pid_t child;
	char st;

	if (!m) {
		pr_err("out of memory for a move");
		return;
	}
	m->o = *o;
	m->self = o->flags & BPROC_MOVE_SELF;
	m->t0_ms = m->seen_ms = bp_now_ms();
	m->dev = m->pipe_w = m->img_r = m->handle = m->cfd = -1;
	if (find(o->pid))
		return refuse(m, EBUSY, "it is already moving");
	if (agent->front) {
		m->lpid = (pid_t)o->pid;
	} else {
		m->h = hosted_find((pid_t)o->pid);
		if (!m->h)
			return refuse(m, ESRCH, "it does not run on %s",
				      agent->name);
		m->lpid = hosted_lpid(m->h);
		/* its children here would be a proxy's, out of its reach */
		if (hosted_is_born(m->h) && hosted_child_of(m->h))
			return refuse(m, EOPNOTSUPP,
				      "it was started on %s and has children "
				      "there (pid %d): such a process does not "
				      "move yet",
				      agent->name, hosted_child_of(m->h));
	}
	st = proc_state(m->lpid);
	if (!st || st == 'Z' || st == 'X')
		return refuse(m, ESRCH, "it has exited");
	/* its wait() where it goes would not find them */
	child = first_child(m->lpid);
	if (child)
		return refuse(m, EOPNOTSUPP,
			      "it has children on %s (pid %d), which it "
			      "could not wait for where it goes: such a "
			      "process does not move yet",
			      agent->name, child);
	/* stopped by job control, it moves and stays stopped there */
	if (st == 't')
		return refuse(m, EOPNOTSUPP, "it is stopped by a debugger");
	if (bp_addr_parse(o->dest_addr, BPROC_NODE_PORT, &m->dest))
		return refuse(m, EIO, "bad address %s for %s", o->dest_addr,
			      o->dest);
	m->dev = open(BPROC_DEVICE, O_RDWR | O_CLOEXEC);
	if (m->dev < 0)
		return refuse(m, EOPNOTSUPP, "%s has no migration engine: %s",
			      agent->name, strerror(errno));
	if (pipe2(p, O_CLOEXEC)) {
		err = errno;
		close(m->dev);
		return refuse(m, EIO, "pipe: %s", strerror(err));
	}
	m->img_r = p[0];
	m->pipe_w = p[1];
	fcntl(m->img_r, F_SETFL, O_NONBLOCK);
	fcntl(m->img_r, F_SETPIPE_SZ, PIPE_BYTES);
	if (agent->front && m->self && (o->flags & BPROC_MOVE_KEEP)) {
		m->like = malloc(sizeof(*m->like));
		if (m->like && likeness_read(m->lpid, m->like)) {
			free(m->like); /* nothing to compare copies with */
			m->like = NULL;
		}
	}
	if (agent->front && m->self && o->copy_of) {
		/* its image may be on its way */
		m->waiting = !kept_find((pid_t)o->copy_of);
		m->wait_until_ms = bp_now_ms() + COPY_WAIT_MS;
		if (!m->waiting)
			m->copy = copy_candidate(m);
	}
	err = m->waiting ? 0 : arm(m);
	if (err) {
		close(m->dev);
		close(m->img_r);
		close(m->pipe_w);
		files_free(m->files);
		if (m->copy)
			kept_put(m->copy);
		free(m->map);
		free(m->like);
		/* its maps gone: it has exited since it was checked */
		return refuse(m, err == -ENOENT || err == -ESRCH ? ESRCH : EIO,
			      "%s", m->reason);
	}
	if (m->h)
		hosted_set_moving(m->h, true);
	m->next = moves;
	moves = m;
	if (take_idle(m)) {
		m->authed = true;
		if (!m->waiting)
			open_now(m);
		return;
	}
	m->cfd = bp_connect_start(&m->dest);
	if (m->cfd < 0) {
		err = -m->cfd;
		m->cfd = -1;
		fail(m, ECONNRESET, "cannot reach %s at %s: %s", o->dest,
		     o->dest_addr, strerror(err));
	}
	pr_debug("move %llu: pid %u (%d here) to %s at %s",
		 (unsigned long long)o->move_id, o->pid, m->lpid, o->dest,
		 o->dest_addr);
}

bool send_in_flight(pid_t pid)
{
	struct outmove *m;

	for (m = moves; m; m = m->next)
		if ((pid_t)m->o.pid == pid && !m->dead && !m->result_sent)
			return true;
	return false;
}

void send_watch(void)
{
	int64_t now = bp_now_ms();
	struct outmove *m;
	struct idle *i;

	kept_expire();
	for (m = moves; m; m = m->next) {
		copy_wait(m);
		if (m->queued && !m->dead) /* a sender may be free now */
			advance(m);
	}
	for (i = idles; i; i = i->next) {
		if (i->dead)
			continue;
		if (now - i->since > BPROC_PEER_IDLE_MS) {
			i->dead = true;
			continue;
		}
		loop_wake_at(i->since + BPROC_PEER_IDLE_MS + 1);
		loop_add(i->conn.fd,
			 POLLIN | (bp_conn_pending(&i->conn) ? POLLOUT : 0),
			 idle_polled, i);
	}

	for (m = moves; m; m = m->next) {
		int64_t silent =
			(int64_t)SILENCE_TIMEOUTS * agent->cfg.timeout_ms;

		if (m->dead)
			continue;
		if (!m->failing && !m->result_in && now - m->seen_ms > silent) {
			fail(m, ECONNRESET, "%s said nothing for %lld s",
			     m->o.dest, (long long)(silent / 1000));
			advance(m);
		}
		if (m->dead)
			continue;
		loop_wake_at(m->seen_ms + silent + 1);
		job_watch(&m->job, job_polled, m);
		if (m->handle >= 0 && !m->dumped)
			loop_add(m->handle, POLLIN, handle_polled, m);
		if (m->img_r >= 0 && !m->copying &&
		    (m->failing || (m->begun && m->have_conn &&
				    m->conn.wlen - m->conn.woff < QUEUED_MAX)))
			loop_add(m->img_r, POLLIN, pipe_polled, m);
		if (m->cfd >= 0)
			loop_add(m->cfd, POLLOUT, connect_polled, m);
		if (m->have_conn)
			loop_add(m->conn.fd,
				 POLLIN | (bp_conn_pending(&m->conn) ? POLLOUT :
								       0),
				 conn_polled, m);
	}
}

void send_reap(void)
{
	struct outmove **pp = &moves;
	struct idle **ip = &idles;

	while (*ip) {
		struct idle *i = *ip;

		if (!i->dead) {
			ip = &i->next;
			continue;
		}
		*ip = i->next;
		if (i->conn.fd >= 0)
			bp_conn_destroy(&i->conn);
		free(i);
		nr_idles--;
	}

	while (*pp) {
		struct outmove *m = *pp;

		if (!m->dead) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		drop_conn(m);
		close_fd(&m->img_r);
		close_fd(&m->handle);
		files_free(m->files);
		free(m->map);
		free(m->like);
		keepbuf_free(&m->keep);
		if (m->copy)
			kept_put(m->copy);
		free(m);
	}
}

void send_abort_all(void)
{
	int64_t until = bp_now_ms() + 3000;
	struct outmove *m;
	struct idle *i;

	for (m = moves; m; m = m->next)
		if (!m->dead && !m->committed) {
			fail(m, ECONNRESET, "the agent on %s stops",
			     agent->name);
			advance(m);
		}
	/* let the dumps end, so that no process is left parked or killed */
	while (moves && bp_now_ms() < until) {
		send_watch();
		loop_round(100);
		send_reap();
	}
	for (i = idles; i; i = i->next)
		i->dead = true;
	send_reap();
}
