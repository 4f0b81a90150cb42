// SPDX-License-Identifier: GPL-2.0
/*
 * Moves into this agent: a source agent connects (peer.c) and sends
 * IMAGE_BEGIN, the image as IMAGE_DATA and IMAGE_END; this agent answers
 * IMAGE_RESULT, 0 once the process runs here.
 *
 * IMAGE_STREAMS comes first: which of the process's fds are which of its
 * streams (proto.h).  On a node the restorer (space.c) is forked then, with
 * the process's pid and a pipe per stream at the fds that are that stream,
 * and execs `bproc-ckpt restore --agent` while the image is still on its
 * way.  The structure of the image (everything before the page contents)
 * is gathered next: it says how much memory the process needs (a node
 * without it refuses at once) and goes to the restorer through a pipe of
 * its own; the whole image is fed
 * to it through a pipe as it arrives, and its notify pipe says when the
 * process runs (one byte) or why it failed (a line).  Then the process is
 * hosted (hosted.c).
 *
 * On the front end the process comes home into its ghost: once the last
 * host's output is written (its IO_MARK seen, ghost.c), a job has the
 * ghost restore the image from a pipe fed the same way, its fds being the
 * ghost's fds of their streams (BPROC_IOC_GHOST_RESTORE_MAP).  Its kernel
 * objects (FDS), read from the structure as it comes, are made by a
 * helper (objects.c) and given in that map too, with the streams, as
 * descriptors of this agent's.
 *
 * On a node, a process born here that comes back is restored by its proxy
 * (hosted.c), the engine's ghost of it that held its pid for its parent,
 * the same way: its streams are made as for a restorer, and the process's
 * ends given in the map as descriptors of ours (BPROC_GHOST_MAP_CALLER),
 * with its kernel objects, made by the helper among them, so that it is
 * its parent's child here again. The proxy keeps its own credentials and
 * working directory: an image whose differ is refused.
 *
 * Image bytes go into the pipe by vmsplice, by reference to the buffer a
 * frame was read into, which is kept as it is (bp_conn_keep_rbuf) until
 * the pipe's reader has copied all of it out: FIONREAD on a reader of our
 * own says how far it is.  So the pages of a frame are copied once, by the
 * restorer into the process's memory, not also into the pipe.  The
 * connection is not read while the pipe's reader lags behind, so the
 * image is never held here whole.  While it works, this agent PINGs the
 * source every second so that a slow restore is not taken for a dead
 * node.
 */
#define LOG_PREFIX "recv"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>
#include <bproc/image.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define PIPE_BYTES (1u << 20)
#define QUEUE_MAX (8u << 20) /* image bytes held before reading waits */
#define KEEP_MIN (64u << 10) /* a payload this large is not copied */
#define STRUCT_MAX (256u << 20)
/* what of a structure the ghost looks at: up to MEMFD, 64 MiB of memfds */
#define HEAD_MAX (BPROC_IMAGE_MAX_MEMFD + (32u << 20))
#define SPAWN_RETRY_MS 3000 /* for the pid's last holder here to be reaped */

/* Image bytes for the pipe: a buffer of ours, freed once read from it. */
struct seg {
	struct seg *next;
	void *base; /* what to free */
	const uint8_t *p; /* what is not yet in the pipe */
	size_t len;
	uint64_t end; /* im->in_pipe once all of it is in */
};

struct inmove {
	struct inmove *next;
	struct peer *peer; /* NULL once the connection is gone */
	struct bp_image_begin b;
	uint32_t transfer; /* on its connection: the frames' stream */
	bool done; /* the result is sent (or there is nobody to tell) */
	bool dead;
	int64_t ping_ms;
	struct bp_stream *map; /* IMAGE_STREAMS: fd -> stream */
	int nr_map; /* -1 until it came */

	/* the structure, up to and with the PAGES section header */
	uint8_t *sbuf;
	size_t slen, scap;
	bool parsed;
	uint64_t pages_bytes;

	struct seg *pend, **pend_tail; /* not yet (all) in the pipe */
	struct seg *lent, **lent_tail; /* in it, maybe not yet read */
	size_t pend_bytes;
	uint64_t in_pipe; /* bytes put in the pipe */
	uint64_t received;
	bool end_in;
	int img_w;
	int img_rd; /* our reader of the pipe: FIONREAD, and draining it */
	struct iobuf sq; /* the structure, for the restorer's structure pipe */
	int struct_w;

	/* fast start down a tree (tree.c) */
	struct bp_image_ref keep; /* IMAGE_KEEP: what to keep its bytes as */
	bool keeping;
	struct keepbuf kb; /* its bytes so far */
	struct tree_fetch *fetch; /* IMAGE_FETCH: its bytes come from there */
	bool fetched; /* a fetch was asked for (one at most) */

	/* node: the restorer */
	bool spawned;
	int64_t spawn_until;
	pid_t lpid;
	pid_t under; /* its parent here if not us: a stand-in's pid, or 1 */
	int pidfd, notify_r;
	char note[256];
	size_t note_len;
	int64_t t0_ms;
	struct hosted_stream *streams; /* our ends, until hosted.c has them */
	unsigned int nr_streams;

	/* front end: the ghost restores; a node: the proxy of one born here */
	struct ghost *g;
	struct hosted *px;
	/* the image up to its MM section: where the ghost's vDSO must be */
	uint8_t *hbuf;
	size_t hlen, hcap;
	int mm_state; /* 0: not seen yet, 1: in mm, -1: none to be had */
	struct bproc_image_mm mm;
	int32_t *tids; /* its other threads' */
	uint32_t nr_tids;
	bool objects; /* FDS: hbuf keeps the sections up to MEMFD */
	uint32_t nr_given; /* fdmap's descriptors are ours (objects) */
	struct job job;
	struct bproc_ghost_restore_map gr;
	struct bproc_fd_map *fdmap;
	int img_r;
	bool restoring;
};

static struct inmove *moves;

static void segs_free(struct seg **head, struct seg ***tail)
{
	while (*head) {
		struct seg *sg = *head;

		*head = sg->next;
		free(sg->base);
		free(sg);
	}
	*tail = head;
}

/* Queue len bytes at d, which lie in base: ours to free from now on. */
static int seg_add(struct inmove *im, void *base, const uint8_t *d, size_t len)
{
	struct seg *sg = malloc(sizeof(*sg));

	if (!sg) {
		free(base);
		return -ENOMEM;
	}
	sg->next = NULL;
	sg->base = base;
	sg->p = d;
	sg->len = len;
	sg->end = 0;
	*im->pend_tail = sg;
	im->pend_tail = &sg->next;
	im->pend_bytes += len;
	return 0;
}

/* Free what the pipe's reader has copied out of the pipe. */
static void segs_reclaim(struct inmove *im)
{
	uint64_t done;
	int unread;

	if (!im->lent || im->img_rd < 0 || ioctl(im->img_rd, FIONREAD, &unread))
		return;
	done = im->in_pipe - (uint64_t)unread;
	while (im->lent && im->lent->end <= done) {
		struct seg *sg = im->lent;

		im->lent = sg->next;
		free(sg->base);
		free(sg);
	}
	if (!im->lent)
		im->lent_tail = &im->lent;
}

/*
 * Nobody is to read the pipe any more: empty it ourselves, so that it holds
 * no reference to our buffers, and free them.
 */
static void segs_drain(struct inmove *im)
{
	static char sink[1 << 16];

	segs_free(&im->pend, &im->pend_tail);
	im->pend_bytes = 0;
	if (im->img_rd >= 0)
		while (read(im->img_rd, sink, sizeof(sink)) > 0)
			;
	segs_reclaim(im);
	if (im->lent) {
		/* leaked rather than reused while the pipe may show them */
		pr_warn("move %llu: image pipe not drained",
			(unsigned long long)im->b.move_id);
		im->lent = NULL;
		im->lent_tail = &im->lent;
	}
	if (im->img_rd >= 0)
		close(im->img_rd);
	im->img_rd = -1;
}

static void answer(struct inmove *im, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* IMAGE_RESULT: 0, or why this agent refuses (errno and reason). */
static void answer(struct inmove *im, int err, const char *fmt, ...)
{
	char reason[BPROC_REASON_BYTES] = "";
	va_list ap;

	if (im->done)
		return;
	im->done = true;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	if (err)
		pr_info("move %llu of pid %u from %s refused: %s",
			(unsigned long long)im->b.move_id, im->b.pid,
			im->b.origin, reason);
	if (!im->peer)
		return;
	if (bp_send_image_result(peer_conn(im->peer), im->transfer,
				 (uint32_t)err, reason))
		pr_warn("move %llu: the result could not be sent",
			(unsigned long long)im->b.move_id);
	bp_conn_flush(peer_conn(im->peer));
	peer_finish(im->peer);
	im->peer = NULL;
}

static void close_streams(struct inmove *im)
{
	unsigned int i;

	for (i = 0; i < im->nr_streams; i++) {
		close_fd(&im->streams[i].fd);
		close_fd(&im->streams[i].in_r);
		close_fd(&im->streams[i].ref);
	}
	free(im->streams);
	im->streams = NULL;
	im->nr_streams = 0;
}

/* The descriptors of ours the ghost's restore was given, once it is over. */
static void close_given(struct inmove *im)
{
	uint32_t i;

	for (i = 0; i < im->nr_given; i++)
		close(im->fdmap[i].from);
	im->nr_given = 0;
}

/* Let go of everything but a running ghost restore; dead once idle. */
static void drop(struct inmove *im)
{
	tree_fetch_cancel(im->fetch);
	im->fetch = NULL;
	keepbuf_free(&im->kb);
	im->keeping = false;
	if (im->peer) {
		/* nothing more to say on it: the source closes it */
		peer_finish(im->peer);
		im->peer = NULL;
	}
	free(im->sbuf);
	free(im->hbuf);
	im->hbuf = NULL;
	im->sbuf = NULL;
	iobuf_free(&im->sq);
	close_fd(&im->img_w);
	segs_free(&im->pend, &im->pend_tail);
	im->pend_bytes = 0;
	close_fd(&im->struct_w);
	close_fd(&im->notify_r);
	if (!im->restoring)
		close_streams(im); /* else the proxy's restore may take them */
	if (im->pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, im->pidfd, SIGKILL, NULL, 0);
		space_reap(im->pidfd);
		im->pidfd = -1;
	}
	if (im->g && !im->restoring) {
		ghost_home(im->g, NULL, 0);
		im->g = NULL;
	}
	if (!im->restoring) {
		segs_drain(im); /* its reader is gone or has all it needs */
		close_given(im);
		im->dead = true;
	}
}

static void refuse(struct inmove *im, int err, const char *reason)
{
	answer(im, err, "%s", reason);
	drop(im);
}

/*
 * Is the structure complete in buf?  1 with *len (up to and with the PAGES
 * header) and *pages, 0 for more, -EINVAL for an image this is not.
 */
static int parse_structure(const uint8_t *buf, size_t n, size_t *len,
			   uint64_t *pages)
{
	struct bproc_image_header h;
	struct bproc_image_section s;
	size_t off = sizeof(h);
	uint32_t i;

	if (n < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != BPROC_IMAGE_MAGIC || h.header_size != sizeof(h) ||
	    h.nr_sections > BPROC_IMAGE_MAX_SECTIONS)
		return -EINVAL;
	for (i = 0; i < h.nr_sections; i++) {
		if (n - off < sizeof(s))
			return 0;
		memcpy(&s, buf + off, sizeof(s));
		off += sizeof(s);
		if (s.type == BPROC_SEC_PAGES) {
			*len = off;
			*pages = s.size;
			return 1;
		}
		if (s.size > STRUCT_MAX - off)
			return -EINVAL;
		if (n - off < s.size)
			return 0;
		off += s.size;
	}
	return -EINVAL;
}

/*
 * What the ghost needs to know of an image before it restores it, from
 * the image's first n bytes (its structure, up to the PAGES section): its
 * MM section (where its vDSO is), the tids of its other threads (one
 * thread each must wait in the ghost) and whether it has kernel objects
 * (FDS): then *head_len bytes, *head_secs sections, are what their
 * helper needs (up to MEMFD). 1 when all are in, 0 for more, -1 if they
 * are not to be had (the restore says what is wrong).
 */
static int find_structure(const uint8_t *buf, size_t n,
			  struct bproc_image_mm *mm, int32_t **tids,
			  uint32_t *nr_tids, size_t *head_len,
			  uint32_t *head_secs, bool *objects)
{
	struct bproc_image_header h;
	struct bproc_image_section s;
	size_t off = sizeof(h);
	bool have_mm = false;
	uint32_t i, k;

	if (n < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != BPROC_IMAGE_MAGIC || h.header_size != sizeof(h) ||
	    h.nr_sections > BPROC_IMAGE_MAX_SECTIONS)
		return -1;
	for (i = 0; i < h.nr_sections; i++) {
		if (n - off < sizeof(s))
			return 0;
		memcpy(&s, buf + off, sizeof(s));
		off += sizeof(s);
		/* in type order: nothing to look for past MEMFD (the
		 * program's file, EXEFILE, may be large) */
		if (s.type == BPROC_SEC_PAGES || s.type > BPROC_SEC_MEMFD) {
			*head_len = off - sizeof(s);
			*head_secs = i;
			return have_mm ? 1 : -1;
		}
		if (s.size > HEAD_MAX)
			return -1;
		if (n - off < s.size)
			return 0;
		if (s.type == BPROC_SEC_FDS)
			*objects = true;
		if (s.type == BPROC_SEC_MM) {
			if (s.size < sizeof(*mm))
				return -1;
			memcpy(mm, buf + off, sizeof(*mm));
			have_mm = true;
		} else if (s.type == BPROC_SEC_THREADS) {
			struct bproc_image_threads t;
			struct bproc_image_thread th;
			size_t p = off + sizeof(t);

			if (s.size < sizeof(t))
				return -1;
			memcpy(&t, buf + off, sizeof(t));
			if (!t.nr_threads ||
			    t.nr_threads > BPROC_IMAGE_MAX_THREADS)
				return -1;
			free(*tids);
			*tids = calloc(t.nr_threads, sizeof(**tids));
			if (!*tids)
				return -1;
			*nr_tids = t.nr_threads;
			for (k = 0; k < t.nr_threads; k++) {
				if (p + sizeof(th) > off + s.size)
					return -1;
				memcpy(&th, buf + p, sizeof(th));
				(*tids)[k] = th.tid;
				p += sizeof(th) + t.xstate_size +
				     (size_t)th.nr_pending *
					     sizeof(struct bproc_image_siginfo);
			}
		}
		off += s.size;
	}
	return -1;
}

static void proxy_ready(struct inmove *im);

/*
 * Front end, or a node's proxy: the image's structure, until it is all
 * in.
 */
static void look_at_structure(struct inmove *im, const uint8_t *d, uint32_t len)
{
	uint32_t head_secs = 0;
	size_t k = len, head_len = 0;

	if (im->mm_state)
		return;
	if (im->hlen + k > HEAD_MAX)
		k = HEAD_MAX - im->hlen;
	if (im->hlen + k > im->hcap) {
		size_t cap = im->hcap ? im->hcap : 16384;
		uint8_t *b;

		while (cap < im->hlen + k)
			cap *= 2;
		b = realloc(im->hbuf, cap);
		if (!b) {
			im->mm_state = -1;
			return;
		}
		im->hbuf = b;
		im->hcap = cap;
	}
	memcpy(im->hbuf + im->hlen, d, k);
	im->hlen += k;
	im->objects = false;
	im->mm_state = find_structure(im->hbuf, im->hlen, &im->mm, &im->tids,
				      &im->nr_tids, &head_len, &head_secs,
				      &im->objects);
	if (!im->mm_state && im->hlen == HEAD_MAX)
		im->mm_state = -1;
	if (!im->mm_state)
		return;
	if (im->mm_state > 0 && (im->objects || im->px)) {
		/* the objects' helper's, or what a proxy compares: the
		 * sections before EXEFILE */
		struct bproc_image_header *h = (void *)im->hbuf;

		h->nr_sections = head_secs;
		im->hlen = head_len;
	} else {
		im->objects = false;
		free(im->hbuf);
		im->hbuf = NULL;
		im->hlen = im->hcap = 0;
	}
	if (im->g)
		ghost_home(im->g, im, im->b.move_id); /* ready now? */
	else if (im->px)
		proxy_ready(im);
}

static uint64_t mem_available_kb(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- a node: the restorer ---- */

static int make_pipe(int p[2], int our_end)
{
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fcntl(p[our_end], F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * The two ends of a stream of this kind: p[0] the process's, p[1] ours
 * (non-blocking), or for /dev/null p[0] only.
 */
static int make_ends(uint32_t kind, bool in, int p[2])
{
	static const int types[] = { [BPROC_STREAM_SOCKET] = SOCK_STREAM,
				     [BPROC_STREAM_DGRAM] = SOCK_DGRAM,
				     [BPROC_STREAM_SEQPACKET] =
					     SOCK_SEQPACKET };
	int q[2];

	p[0] = p[1] = -1;
	if (kind == BPROC_STREAM_NULL) {
		p[0] = open("/dev/null",
			    (in ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
		return p[0] < 0 ? -errno : 0;
	}
	if (kind == BPROC_STREAM_PIPE) {
		if (pipe2(q, O_CLOEXEC))
			return -errno;
		p[0] = in ? q[0] : q[1];
		p[1] = in ? q[1] : q[0];
	} else if (socketpair(AF_UNIX, types[kind] | SOCK_CLOEXEC, 0, p)) {
		return -errno;
	}
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * The ends of each stream: ours in im->streams, the process's in ends[]
 * (same order).  Stream 0 is read by it; we keep a reader of our own too,
 * to take back what it leaves unread when it moves on; of /dev/null, we
 * keep the description it gets, to know it again then.
 */
static int make_streams(struct inmove *im, int *ends)
{
	unsigned int i, k;
	struct stat st;
	char path[64];
	int p[2], err;

	im->streams = calloc((size_t)im->nr_map + 1, sizeof(*im->streams));
	if (!im->streams)
		return -ENOMEM;
	for (i = 0; i < (unsigned int)im->nr_map; i++) {
		uint32_t id = im->map[i].stream, kind = im->map[i].kind;
		struct hosted_stream *hs;

		for (k = 0; k < im->nr_streams && im->streams[k].id != id; k++)
			;
		if (k < im->nr_streams)
			continue;
		hs = &im->streams[k];
		hs->id = id;
		hs->kind = kind;
		hs->fd = hs->in_r = hs->ref = -1;
		im->nr_streams++;
		err = make_ends(kind, id == 0, p);
		if (err)
			return err;
		ends[k] = p[0];
		hs->fd = p[1];
		if (kind == BPROC_STREAM_NULL) {
			hs->ref = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
			if (hs->ref < 0)
				return -errno;
			continue;
		}
		if (fstat(p[0], &st))
			return -errno;
		hs->ino = st.st_ino;
		if (id != 0)
			continue;
		if (kind == BPROC_STREAM_PIPE) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
			hs->in_r =
				open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		} else {
			hs->in_r = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
		}
		if (hs->in_r < 0)
			return -errno;
	}
	return 0;
}

/* A reader of the image pipe of our own, with its own file flags. */
static int our_reader(struct inmove *im, int rfd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", rfd);
	im->img_rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return im->img_rd < 0 ? -errno : 0;
}

/*
 * Fork the restorer.  The structure, the image and the streams go through
 * pipes; our ends are non-blocking, its ends are as a program expects.
 */
static int spawn(struct inmove *im)
{
	int img[2] = { -1, -1 }, note[2] = { -1, -1 }, st[2] = { -1, -1 };
	int *ends, *src = NULL, *target = NULL, err = 0;
	struct space_fds f = { 0 };
	unsigned int i, k;

	ends = calloc((size_t)im->nr_map + 1, sizeof(int));
	src = calloc((size_t)im->nr_map + 1, sizeof(int));
	target = calloc((size_t)im->nr_map + 1, sizeof(int));
	if (!ends || !src || !target) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i <= (unsigned int)im->nr_map; i++)
		ends[i] = -1;
	err = make_streams(im, ends);
	if (!err)
		err = make_pipe(img, 1);
	if (!err)
		err = make_pipe(note, 0);
	if (!err)
		err = make_pipe(st, 1);
	if (err)
		goto out;
	fcntl(img[1], F_SETPIPE_SZ, PIPE_BYTES);
	fcntl(st[1], F_SETPIPE_SZ, PIPE_BYTES);
	err = our_reader(im, img[0]);
	if (err)
		goto out;
	for (i = 0; i < (unsigned int)im->nr_map; i++) {
		for (k = 0; im->streams[k].id != im->map[i].stream; k++)
			;
		src[i] = ends[k];
		target[i] = (int)im->map[i].fd;
	}
	f.nr = im->nr_map;
	f.src = src;
	f.target = target;
	f.structure = st[0];
	f.image = img[0];
	f.notify = note[1];
	err = space_spawn((pid_t)im->b.pid, (pid_t)im->b.ppid, &f, &im->lpid,
			  &im->pidfd, &im->under);
	if (err)
		goto out;
	im->img_w = img[1];
	im->notify_r = note[0];
	im->struct_w = st[1];
	img[1] = note[0] = st[1] = -1;
	im->spawned = true;
	pr_debug("move %llu: restorer %d forked after %lld ms",
		 (unsigned long long)im->b.move_id, im->lpid,
		 (long long)(bp_now_ms() - im->t0_ms));
out:
	if (err)
		close_fd(&im->img_rd);
	for (i = 0; ends && i < im->nr_streams; i++)
		close_fd(&ends[i]);
	close_fd(&st[0]);
	close_fd(&st[1]);
	close_fd(&img[0]);
	close_fd(&img[1]);
	close_fd(&note[0]);
	close_fd(&note[1]);
	if (err)
		close_streams(im);
	free(ends);
	free(src);
	free(target);
	return err;
}

static void try_spawn(struct inmove *im)
{
	int err = spawn(im);

	if (err == -EEXIST && bp_now_ms() < im->spawn_until) {
		loop_wake_at(bp_now_ms() + 20);
		return;
	}
	if (err == -EEXIST) {
		refuse(im, EBUSY, "its pid is taken here");
		return;
	}
	if (err) {
		char why[96];

		snprintf(why, sizeof(why), "no restorer: %s", strerror(-err));
		refuse(im, EIO, why);
		return;
	}
}

/* The structure is complete: can this node take the process at all? */
static void structure_done(struct inmove *im, size_t slen, uint64_t pages)
{
	uint64_t avail = mem_available_kb();
	char why[BPROC_REASON_BYTES];
	uint8_t *b;
	size_t n;

	im->parsed = true;
	im->pages_bytes = pages;
	pr_debug("move %llu: structure in after %lld ms",
		 (unsigned long long)im->b.move_id,
		 (long long)(bp_now_ms() - im->t0_ms));
	/* the structure for its pipe, the whole image from its first byte */
	if (iobuf_put(&im->sq, im->sbuf, slen)) {
		refuse(im, EIO, "out of memory");
		return;
	}
	b = im->sbuf;
	n = im->slen;
	im->sbuf = NULL;
	im->slen = im->scap = 0;
	if (seg_add(im, b, b, n)) {
		refuse(im, EIO, "out of memory");
		return;
	}
	if (avail && pages / 1024 > avail) {
		snprintf(why, sizeof(why),
			 "ENOMEM: it needs %llu MiB, %s has %llu MiB available",
			 (unsigned long long)(pages >> 20), agent->name,
			 (unsigned long long)(avail >> 10));
		refuse(im, EIO, why);
		return;
	}
}

/* Its bytes so far are kept for other nodes (tree.c). */
static void keep_now(struct inmove *im)
{
	tree_keep(im->keep.move_id, im->keep.pid, im->kb.buf, im->kb.len);
	im->kb = (struct keepbuf){ 0 };
	im->keeping = false;
}

static void restored(struct inmove *im)
{
	struct hosted *h;
	char path[64];
	int fd;

	/* it runs: no longer the first to go when memory runs out */
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", im->lpid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			pr_debug("pid %u: oom_score_adj: %m", im->b.pid);
		close(fd);
	}
	h = hosted_add((pid_t)im->b.pid, im->lpid, im->pidfd, (pid_t)im->b.ppid,
		       im->under, im->streams, im->nr_streams);
	if (!h) {
		refuse(im, EIO, "out of memory");
		return;
	}
	im->pidfd = -1;
	free(im->streams); /* the descriptors are hosted.c's now */
	im->streams = NULL;
	im->nr_streams = 0;
	pr_debug(
		"pid %u from %s runs here as %d, %lld ms after its image began",
		im->b.pid, im->b.origin, im->lpid,
		(long long)(bp_now_ms() - im->t0_ms));
	/*
	 * Its length may be unknown yet (IMAGE_END not read, and the rest of
	 * an answered transfer is let be): what came is kept, and sent only
	 * to a node asking for exactly that length.
	 */
	if (im->keeping)
		keep_now(im);
	answer(im, 0, NULL);
	drop(im);
}

/* What the restorer said failed, from its notify line and its exit. */
static void restorer_failed(struct inmove *im)
{
	char why[BPROC_REASON_BYTES];
	siginfo_t si = { 0 };
	int err = 0;

	im->note[im->note_len] = '\0';
	if (im->note[0] == 'E' && sscanf(im->note, "E%d ", &err) == 1) {
		char *sp = strchr(im->note, ' ');
		char *nl = strchr(im->note, '\n');
		const char *name = strerrorname_np(err);

		if (nl)
			*nl = '\0';
		snprintf(why, sizeof(why), "%s: %.100s", name ? name : "error",
			 sp ? sp + 1 : im->note);
	} else if (waitid(P_PIDFD, (id_t)im->pidfd, &si, WEXITED | WNOHANG) ==
			   0 &&
		   si.si_pid && si.si_code != CLD_EXITED) {
		snprintf(why, sizeof(why), "the restorer was killed by SIG%s%s",
			 sigabbrev_np(si.si_status) ?: "?",
			 si.si_status == SIGKILL ? " (out of memory?)" : "");
	} else {
		snprintf(why, sizeof(why), "the restorer ended without a word");
	}
	refuse(im, EIO, why);
}

static void notify_polled(void *obj, short revents)
{
	struct inmove *im = obj;
	ssize_t n;

	(void)revents;
	if (im->dead || im->done)
		return;
	n = read(im->notify_r, im->note + im->note_len,
		 sizeof(im->note) - 1 - im->note_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		im->note_len += (size_t)n;
		if (im->note[0] == 1) {
			restored(im);
			return;
		}
		if (im->note_len < sizeof(im->note) - 1)
			return;
	}
	restorer_failed(im);
}

/*
 * pid may have been restored here and be running before its restorer's
 * word was read (a fork of it is heard first): read that word now.
 */
void recv_settle(pid_t pid)
{
	struct inmove *im;

	for (im = moves; im; im = im->next)
		if ((pid_t)im->b.pid == pid && im->notify_r >= 0 && !im->done &&
		    !im->dead) {
			notify_polled(im, POLLIN);
			return;
		}
}

bool recv_wants_parent(pid_t ppid)
{
	struct inmove *im;

	for (im = moves; im; im = im->next)
		if (im->spawned && im->under == ppid && !im->done && !im->dead)
			return true;
	return false;
}

/* ---- the front end: the ghost restores; a node: the proxy restores ---- */

static void ghost_job_polled(void *obj, short revents)
{
	struct inmove *im = obj;

	(void)revents;
	if (!job_finished(&im->job))
		return;
	im->restoring = false;
	close_fd(&im->img_r);
	segs_drain(im); /* what it read, and what it left */
	if (im->job.ret == 0) {
		pr_debug("pid %u from %s is home", im->b.pid, im->b.origin);
		ghost_restored(im->g);
		im->g = NULL;
		answer(im, 0, NULL);
	} else {
		ghost_rewind(im->g, true); /* its old host goes on */
		answer(im, EIO, "the ghost did not restore: %s%s%s",
		       strerrorname_np(im->job.err) ?: "error",
		       im->gr.reason[0] ? ": " : "", im->gr.reason);
	}
	drop(im);
}

static void proxy_job_polled(void *obj, short revents)
{
	struct inmove *im = obj;
	struct hosted *h = im->px;

	(void)revents;
	if (!job_finished(&im->job))
		return;
	im->restoring = false;
	im->px = NULL;
	close_fd(&im->img_r);
	segs_drain(im);
	close_given(im); /* the process has its own now */
	if (im->job.ret) {
		hosted_proxy_restoring(h, false); /* a proxy still */
		answer(im, EIO, "its proxy did not restore: %s%s%s",
		       strerrorname_np(im->job.err) ?: "error",
		       im->gr.reason[0] ? ": " : "", im->gr.reason);
	} else if (im->done) {
		/*
		 * Restored, but its source was lost meanwhile and never heard
		 * so: it resumes its copy. Never two of it: this one ends,
		 * and the proxy's end ends that one (as a proxy killed).
		 */
		pr_warn("pid %u: restored here once %s was gone: ended",
			im->b.pid, im->b.origin);
		kill(hosted_lpid(h), SIGKILL);
		hosted_proxy_restoring(h, false);
	} else if (hosted_back(h, im->streams, im->nr_streams)) {
		/*
		 * It cannot be hosted: it ends here, its parent sees it
		 * killed, and the proxy's end (EOF) ends its old host's copy
		 * too, which goes on as the move failed.
		 */
		pr_err("pid %u: out of memory for it, back here: ended",
		       im->b.pid);
		kill(hosted_lpid(h), SIGKILL);
		hosted_proxy_restoring(h, false);
		answer(im, EIO, "out of memory");
	} else {
		free(im->streams); /* the descriptors are hosted.c's now */
		im->streams = NULL;
		im->nr_streams = 0;
		pr_debug("pid %u from %s is back where it was born, %lld ms "
			 "after its image began",
			 im->b.pid, im->b.origin,
			 (long long)(bp_now_ms() - im->t0_ms));
		answer(im, 0, NULL);
	}
	drop(im);
}

/*
 * The engine's ghost of the process (pid here, handle) is made ready for
 * the image: its vDSO where the image has it (it executed a program where
 * it ran), a thread of its own for each of the image's other threads. 0,
 * or the move is refused.
 */
static int ghost_prepare(struct inmove *im, pid_t pid, int handle)
{
	char why[160];
	int err, i;

	if (im->mm_state > 0) {
		err = ghost_place_vdso(pid, handle, &im->mm, why, sizeof(why));
		if (err) {
			char reason[256];

			snprintf(reason, sizeof(reason),
				 "the ghost's vDSO cannot go where the process "
				 "has it: %s",
				 why);
			refuse(im, EIO, reason);
			return err;
		}
	}
	for (i = 0; i < (int)im->nr_tids; i++) {
		err = ghost_thread(pid, handle, (pid_t)im->tids[i]);
		if (err) {
			char reason[160];

			snprintf(reason, sizeof(reason), "%s: thread %d: %s",
				 strerrorname_np(-err) ?: "?", im->tids[i],
				 err == -EEXIST ?
					 "its thread id is taken here" :
				 err == -EAGAIN ? "its ghost is stopped: "
						  "continue it first" :
						  strerror(-err));
			refuse(im, EIO, reason);
			return err;
		}
	}
	return 0;
}

/*
 * The ghost (handle) restores from a pipe of the image, fed as it comes:
 * its map is ready in im->fdmap (im->gr.nr_map, im->gr.flags). 0, or
 * why it cannot (to refuse the move with, once undone what was done).
 */
static const char *ghost_start(struct inmove *im, int handle)
{
	int p[2];

	if (make_pipe(p, 1))
		return "no pipe for the image";
	fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
	if (our_reader(im, p[0])) {
		close(p[0]);
		close(p[1]);
		return "no reader of our own for the image pipe";
	}
	im->gr.fd = p[0];
	im->gr.map = (uint64_t)(uintptr_t)im->fdmap;
	if (job_start(&im->job, handle, BPROC_IOC_GHOST_RESTORE_MAP, &im->gr)) {
		close(p[0]);
		close(p[1]);
		return "no thread for the restore";
	}
	im->img_r = p[0];
	im->img_w = p[1];
	im->restoring = true;
	return NULL;
}

void recv_ghost_ready(struct inmove *im)
{
	const char *failed;
	char why[160];
	int i;

	if (im->restoring || im->done || im->dead || !im->g || im->nr_map < 0 ||
	    !im->mm_state)
		return;
	if (ghost_prepare(im, (pid_t)im->b.pid, ghost_handle(im->g)))
		return;
	if (im->objects) {
		/* its kernel objects, made with the streams in place */
		uint32_t nr;

		if (objects_engine_ok(why, sizeof(why))) {
			refuse(im, EOPNOTSUPP, why);
			return;
		}
		if (objects_make((pid_t)im->b.pid, im->hbuf, im->hlen, im->map,
				 im->nr_map, NULL, &im->fdmap, &nr, why,
				 sizeof(why))) {
			char reason[256];

			snprintf(reason, sizeof(reason),
				 "its kernel objects: %s", why);
			refuse(im, EIO, reason);
			return;
		}
		im->nr_given = nr;
		free(im->hbuf);
		im->hbuf = NULL;
	} else {
		im->fdmap = calloc((size_t)im->nr_map + 1, sizeof(*im->fdmap));
	}
	if (!im->fdmap) {
		refuse(im, EIO, "out of memory");
		return;
	}
	/* each fd is the ghost's fd of its stream (or ours: objects) */
	for (i = 0; !im->nr_given && i < im->nr_map; i++) {
		im->fdmap[i].fd = (int32_t)im->map[i].fd;
		im->fdmap[i].from = (int32_t)im->map[i].stream;
	}
	im->gr.nr_map = im->nr_given ? im->nr_given : (uint32_t)im->nr_map;
	im->gr.flags = im->nr_given ? BPROC_GHOST_MAP_CALLER : 0;
	ghost_rewind(im->g, false);
	failed = ghost_start(im, ghost_handle(im->g));
	if (failed) {
		ghost_rewind(im->g, true);
		refuse(im, EIO, failed);
	}
}

int image_section(const uint8_t *buf, size_t n, uint32_t type,
		  const uint8_t **payload, uint64_t *size)
{
	struct bproc_image_header h;
	struct bproc_image_section s;
	size_t off = sizeof(h);
	uint32_t i;

	if (!buf || n < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	for (i = 0; i < h.nr_sections; i++) {
		if (n - off < sizeof(s))
			return -1;
		memcpy(&s, buf + off, sizeof(s));
		off += sizeof(s);
		if (s.size > n - off)
			return -1;
		if (s.type == type) {
			*payload = buf + off;
			*size = s.size;
			return 1;
		}
		off += s.size;
	}
	return 0;
}

/* The numbers of a /proc/PID/status line ("Uid:", "Groups:"). */
static int status_numbers(pid_t lpid, const char *key, uint32_t *v, int max)
{
	char path[64], line[4096], *p, *end;
	size_t klen = strlen(key);
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", lpid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (n < 0 && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen))
			continue;
		for (n = 0, p = line + klen; n < max; n++, p = end) {
			unsigned long x = strtoul(p, &end, 10);

			if (end == p)
				break;
			v[n] = (uint32_t)x;
		}
	}
	fclose(f);
	return n;
}

/*
 * A proxy restores the process with its own working directory, rlimits
 * and credentials (bproc.h, BPROC_IOC_GHOST_RESTORE): those it had when it
 * left. Its image (buf, n: its structure) must have the same credentials
 * and working directory, or it would gain what it gave up, or go on
 * elsewhere than it was: 0, or why not.
 */
static int proxy_alike(const uint8_t *buf, size_t n, pid_t lpid, char *why,
		       size_t len)
{
	static uint32_t groups[BPROC_IMAGE_MAX_GROUPS];
	uint32_t ids[8], here[8];
	const uint8_t *te = NULL, *paths = NULL;
	struct bproc_image_taskenv env;
	uint64_t te_size = 0, paths_size = 0;
	char cwd[PATH_MAX], link[64];
	ssize_t k;
	int nr;

	if (image_section(buf, n, BPROC_SEC_PATHS, &paths, &paths_size) < 1)
		paths = NULL;
	if (image_section(buf, n, BPROC_SEC_TASKENV, &te, &te_size) < 1 ||
	    te_size < sizeof(env)) {
		snprintf(why, len, "its image's credentials cannot be read");
		return -EIO;
	}
	memcpy(&env, te, sizeof(env));
	ids[0] = env.uid, ids[1] = env.euid, ids[2] = env.suid;
	ids[3] = env.fsuid, ids[4] = env.gid, ids[5] = env.egid;
	ids[6] = env.sgid, ids[7] = env.fsgid;
	if (status_numbers(lpid, "Uid:", here, 4) != 4 ||
	    status_numbers(lpid, "Gid:", here + 4, 4) != 4 ||
	    memcmp(ids, here, sizeof(ids))) {
		snprintf(why, len,
			 "EOPNOTSUPP: its credentials changed since it left "
			 "(uid %u gid %u, here %u %u): its proxy has the old "
			 "ones",
			 env.euid, env.egid, here[1], here[5]);
		return -EOPNOTSUPP;
	}
	nr = status_numbers(lpid, "Groups:", groups, BPROC_IMAGE_MAX_GROUPS);
	if (env.nr_groups > BPROC_IMAGE_MAX_GROUPS ||
	    sizeof(env) + (uint64_t)env.nr_groups * 4 > te_size ||
	    nr != (int)env.nr_groups ||
	    memcmp(groups, te + sizeof(env), (size_t)nr * 4)) {
		snprintf(why, len,
			 "EOPNOTSUPP: its groups changed since it left: its "
			 "proxy has the old ones");
		return -EOPNOTSUPP;
	}
	snprintf(link, sizeof(link), "/proc/%d/cwd", lpid);
	k = readlink(link, cwd, sizeof(cwd) - 1);
	cwd[k > 0 ? k : 0] = '\0';
	if (!paths || env.cwd >= paths_size ||
	    !memchr(paths + env.cwd, '\0', paths_size - env.cwd) ||
	    strcmp((const char *)paths + env.cwd, cwd)) {
		snprintf(why, len,
			 "EOPNOTSUPP: its working directory changed since it "
			 "left (%.40s here)",
			 cwd);
		return -EOPNOTSUPP;
	}
	return 0;
}

static bool proxy_stopped(pid_t lpid)
{
	char buf[512], *p = proc_stat(lpid, buf, sizeof(buf));

	return p && (p[0] == 'T' || p[0] == 't');
}

/* Can this node's engine give a proxy descriptors of ours (module 1.9)? */
static int proxy_engine_ok(char *why, size_t len)
{
	char ver[32];

	if (engine_at_least(1, 9, ver, sizeof(ver)))
		return 0;
	snprintf(why, len,
		 "EOPNOTSUPP: the engine here (bproc.ko %s) cannot give its "
		 "proxy its streams: 1.9 or later can",
		 ver[0] ? ver : "of no version");
	return -EOPNOTSUPP;
}

/*
 * A node: a process born here comes back, and its proxy, which holds its
 * pid for its parent here, restores it (as a ghost on the front end does),
 * so that it is its parent's child again. Its streams are made as for any
 * process that arrives (pipes or socket pairs to this agent), the
 * process's ends given in the map as descriptors of ours. No IO_MARK to
 * wait for: the master holds what it writes here until its old host has
 * said all.
 */
static void proxy_ready(struct inmove *im)
{
	char why[BPROC_REASON_BYTES];
	int *ends = NULL, *mine = NULL, i, k, handle;
	const char *failed;
	uint32_t nr = 0;

	if (im->restoring || im->done || im->dead || !im->px ||
	    im->nr_map < 0 || !im->mm_state)
		return;
	/* it may have been killed here meanwhile, and the process with it */
	im->px = hosted_proxy_of((pid_t)im->b.pid);
	if (!im->px) {
		refuse(im, ESRCH, "its proxy here is gone");
		return;
	}
	if (proxy_stopped(hosted_lpid(im->px))) {
		/* it would restore once continued: the move would wait */
		refuse(im, EOPNOTSUPP,
		       "EOPNOTSUPP: its proxy here is stopped (its parent "
		       "stopped it): continue it first");
		return;
	}
	if (proxy_engine_ok(why, sizeof(why)) ||
	    proxy_alike(im->hbuf, im->hlen, hosted_lpid(im->px), why,
			sizeof(why))) {
		refuse(im, EOPNOTSUPP, why);
		return;
	}
	handle = hosted_proxy_handle(im->px);
	if (ghost_prepare(im, hosted_lpid(im->px), handle))
		return;
	ends = calloc((size_t)im->nr_map + 1, sizeof(*ends));
	mine = calloc((size_t)im->nr_map + 1, sizeof(*mine));
	if (!ends || !mine) {
		free(ends);
		free(mine);
		refuse(im, EIO, "out of memory");
		return;
	}
	for (i = 0; i <= im->nr_map; i++)
		ends[i] = -1;
	k = make_streams(im, ends);
	/* the end of ours that each of its fds is (2>&1: one, two fds) */
	for (i = 0; !k && i < im->nr_map; i++) {
		unsigned int s;

		for (s = 0; im->streams[s].id != im->map[i].stream; s++)
			;
		mine[i] = ends[s];
	}
	why[0] = '\0';
	if (!k && im->objects) {
		/* its kernel objects, made among its streams */
		if (objects_make(0, im->hbuf, im->hlen, im->map, im->nr_map,
				 mine, &im->fdmap, &nr, why, sizeof(why)))
			k = -EIO;
		im->nr_given = nr;
	} else if (!k) {
		im->fdmap = calloc((size_t)im->nr_map + 1, sizeof(*im->fdmap));
		if (!im->fdmap)
			k = -ENOMEM;
		for (i = 0; !k && i < im->nr_map; i++) {
			im->fdmap[i].fd = (int32_t)im->map[i].fd;
			im->fdmap[i].from = fcntl(mine[i], F_DUPFD_CLOEXEC, 3);
			if (im->fdmap[i].from < 0)
				k = -errno;
			else
				im->nr_given = (uint32_t)i + 1;
		}
	}
	for (i = 0; i < (int)im->nr_streams; i++)
		close_fd(&ends[i]);
	free(ends);
	free(mine);
	free(im->hbuf);
	im->hbuf = NULL;
	if (k) {
		char reason[256];

		snprintf(reason, sizeof(reason), "its %s: %s",
			 why[0] ? "kernel objects" : "streams",
			 why[0] ? why : strerror(-k));
		refuse(im, EIO, reason);
		return;
	}
	im->gr.nr_map = im->nr_given;
	im->gr.flags = BPROC_GHOST_MAP_CALLER;
	hosted_proxy_restoring(im->px, true);
	failed = ghost_start(im, handle);
	if (failed) {
		hosted_proxy_restoring(im->px, false);
		refuse(im, EIO, failed);
	}
}

/* ---- frames ---- */

static int on_begin(struct peer *p, struct inmove **slot, uint32_t transfer,
		    const uint8_t *d, uint32_t len)
{
	struct inmove *im;
	struct hosted *h;

	if (*slot)
		return -EPROTO;
	im = calloc(1, sizeof(*im));
	if (!im)
		return -ENOMEM;
	if (bp_image_begin_decode(d, len, &im->b)) {
		free(im);
		return -EPROTO;
	}
	im->peer = p;
	im->transfer = transfer;
	im->img_w = im->img_r = im->notify_r = im->pidfd = im->struct_w = -1;
	im->img_rd = -1;
	im->pend_tail = &im->pend;
	im->lent_tail = &im->lent;
	im->nr_map = -1;
	im->t0_ms = bp_now_ms();
	im->ping_ms = bp_now_ms() + 1000;
	im->next = moves;
	moves = im;
	*slot = im;
	pr_debug("move %llu: pid %u (parent %u) from %s",
		 (unsigned long long)im->b.move_id, im->b.pid, im->b.ppid,
		 im->b.origin);
	if (agent->front) {
		im->g = ghost_find((pid_t)im->b.pid);
		if (!im->g)
			refuse(im, ESRCH, "its ghost is gone");
		else if (ghost_home(im->g, im, im->b.move_id)) {
			im->g = NULL;
			refuse(im, EBUSY, "its ghost is busy");
		}
		return 0;
	}
	h = hosted_find((pid_t)im->b.pid);
	if (h)
		refuse(im, EBUSY, "it already runs here");
	else
		im->px = hosted_proxy_of((pid_t)im->b.pid); /* born here */
	return 0;
}

static void feed(struct inmove *im);

/*
 * Image bytes for the pipe: a large payload stays where it was read and
 * goes in from there, a small one is copied.
 */
static void push(struct inmove *im, struct bp_conn *c, const uint8_t *d,
		 uint32_t len)
{
	void *base = NULL;

	if (!len)
		return;
	if (len >= KEEP_MIN)
		base = bp_conn_keep_rbuf(c);
	if (!base) {
		base = malloc(len);
		if (base)
			memcpy(base, d, len);
		d = base;
	}
	if (!base || seg_add(im, base, d, len)) {
		refuse(im, EIO, "out of memory");
		return;
	}
	feed(im);
}

/* The image's bytes are kept for other nodes once all of them came. */
static void keep_bytes(struct inmove *im, const uint8_t *d, uint32_t len)
{
	if (keepbuf_add(&im->kb, d, len)) {
		pr_info("move %llu: its image is not kept for other nodes",
			(unsigned long long)im->b.move_id);
		im->keeping = false;
		return;
	}
	if (im->keep.bytes && im->kb.len == im->keep.bytes)
		keep_now(im);
}

static int on_data(struct inmove *im, struct bp_conn *c, const uint8_t *d,
		   uint32_t len)
{
	size_t slen;
	uint64_t pages;
	int r;

	im->received += len;
	if (im->done || im->dead)
		return 0;
	if (im->keeping)
		keep_bytes(im, d, len);
	if (agent->front || im->px)
		look_at_structure(im, d, len);
	if (agent->front || im->px || im->parsed) {
		push(im, c, d, len);
		return 0;
	}
	if (im->slen + len > im->scap) {
		size_t cap = im->scap ? im->scap : 65536;
		uint8_t *b;

		while (cap < im->slen + len)
			cap *= 2;
		if (cap > STRUCT_MAX + (2u << 20)) {
			refuse(im, EIO, "the image's structure is too large");
			return 0;
		}
		b = realloc(im->sbuf, cap);
		if (!b) {
			refuse(im, EIO, "out of memory");
			return 0;
		}
		im->sbuf = b;
		im->scap = cap;
	}
	memcpy(im->sbuf + im->slen, d, len);
	im->slen += len;
	r = parse_structure(im->sbuf, im->slen, &slen, &pages);
	if (r < 0)
		refuse(im, EIO, "not a bproc image");
	else if (r > 0)
		structure_done(im, slen, pages);
	return 0;
}

static int on_end(struct inmove *im, const uint8_t *d, uint32_t len)
{
	struct bp_image_end e;

	if (bp_image_end_decode(d, len, &e))
		return -EPROTO;
	if (im->done || im->dead)
		return 0;
	if (e.error) {
		pr_info("move %llu of pid %u: %s gave up: %s",
			(unsigned long long)im->b.move_id, im->b.pid,
			im->b.origin, e.reason);
		im->done = true; /* nobody waits for an answer */
		drop(im);
		return 0;
	}
	if (e.bytes != im->received) {
		refuse(im, EIO, "the image's size does not add up");
		return 0;
	}
	if (!agent->front && !im->px && !im->parsed) {
		refuse(im, EIO, "the image ends in its structure");
		return 0;
	}
	if (im->keeping && !im->keep.bytes)
		keep_now(im); /* its length known only now */
	im->end_in = true;
	return 0;
}

/* IMAGE_KEEP: keep its bytes for other nodes (tree.c). */
static int on_keep(struct inmove *im, const uint8_t *d, uint32_t len)
{
	if (im->keeping || im->received || agent->front ||
	    bp_image_ref_decode(d, len, BPROC_MSG_IMAGE_KEEP, &im->keep))
		return -EPROTO;
	im->keeping = !im->done && !im->dead;
	return 0;
}

/* IMAGE_FETCH: its bytes come from a node that keeps them. */
static int on_fetch(struct inmove *im, const uint8_t *d, uint32_t len)
{
	struct bp_image_end e = { 0 };
	struct bp_image_ref r;

	if (im->nr_map < 0 || im->fetched || im->received ||
	    bp_image_ref_decode(d, len, BPROC_MSG_IMAGE_FETCH, &r))
		return -EPROTO;
	im->fetched = true;
	if (im->done || im->dead)
		return 0;
	pr_debug("move %llu: its image from %s",
		 (unsigned long long)im->b.move_id, r.node);
	im->fetch = tree_fetch_start(im, &r);
	if (im->fetch)
		return 0;
	e.error = ECONNRESET;
	snprintf(e.reason, sizeof(e.reason), "cannot reach %s at %s: %s",
		 r.node, r.addr, strerror(errno));
	return bp_send_image_fetched(peer_conn(im->peer), im->transfer, &e);
}

void recv_fetched(struct inmove *im, struct bp_conn *c, const uint8_t *d,
		  uint32_t len)
{
	on_data(im, c, d, len);
}

void recv_fetch_done(struct inmove *im, int err, const char *reason)
{
	struct bp_image_end e = { .bytes = im->received,
				  .error = (uint32_t)err };

	im->fetch = NULL;
	if (im->done || im->dead || !im->peer)
		return;
	pr_debug("move %llu: %llu image bytes fetched%s%s",
		 (unsigned long long)im->b.move_id,
		 (unsigned long long)im->received, err ? ": " : "",
		 err ? reason : "");
	snprintf(e.reason, sizeof(e.reason), "%s", err ? reason : "");
	if (bp_send_image_fetched(peer_conn(im->peer), im->transfer, &e))
		refuse(im, EIO, "the fetch's outcome could not be sent");
}

static int on_streams(struct inmove *im, const uint8_t *d, uint32_t len)
{
	uint32_t nr;

	if (im->nr_map >= 0 || im->received)
		return -EPROTO;
	im->map = calloc(BPROC_STREAMS_MAX, sizeof(*im->map));
	if (!im->map)
		return -ENOMEM;
	if (bp_image_streams_decode(d, len, im->map, &nr))
		return -EPROTO;
	if (nr && im->map[nr - 1].fd > 65000)
		return -EPROTO;
	im->nr_map = (int)nr;
	if (im->g)
		ghost_home(im->g, im, im->b.move_id); /* it may be ready */
	if (im->px)
		proxy_ready(im);
	else if (!agent->front && !im->done) {
		/* its start overlaps the rest of the transfer */
		im->spawn_until = bp_now_ms() + SPAWN_RETRY_MS;
		try_spawn(im);
	}
	return 0;
}

int recv_frame(struct peer *p, struct inmove **im, unsigned int type,
	       uint32_t transfer, const uint8_t *data, uint32_t len)
{
	if (type == BPROC_MSG_IMAGE_BEGIN)
		return on_begin(p, im, transfer, data, len);
	if (!*im)
		return -EPROTO;
	if (type == BPROC_MSG_IMAGE_STREAMS)
		return on_streams(*im, data, len);
	if (type == BPROC_MSG_IMAGE_KEEP)
		return on_keep(*im, data, len);
	if (type == BPROC_MSG_IMAGE_FETCH)
		return on_fetch(*im, data, len);
	/* its bytes come from the source, but for those a fetch brings */
	if ((*im)->fetch)
		return -EPROTO;
	if (type == BPROC_MSG_IMAGE_DATA)
		return (*im)->nr_map < 0 ?
			       -EPROTO :
			       on_data(*im, peer_conn(p), data, len);
	return on_end(*im, data, len);
}

bool recv_wants_data(const struct inmove *im)
{
	/* the ghost restores once it knows the structure: all of it first */
	return im->pend_bytes < QUEUE_MAX ||
	       ((agent->front || im->px) && !im->mm_state);
}

void recv_conn_lost(struct inmove *im)
{
	im->peer = NULL;
	if (im->done)
		return;
	pr_info("move %llu of pid %u: the connection from %s is gone",
		(unsigned long long)im->b.move_id, im->b.pid, im->b.origin);
	im->done = true;
	drop(im);
}

/* ---- the loop ---- */

static void feed(struct inmove *im)
{
	ssize_t n;

	if (im->struct_w >= 0 && im->sq.len) {
		n = iobuf_write(&im->sq, im->struct_w);
		if (n < 0 && n != -EAGAIN) {
			iobuf_free(&im->sq);
			close_fd(&im->struct_w);
		}
	}
	if (im->struct_w >= 0 && im->parsed && !im->sq.len)
		close_fd(&im->struct_w); /* all of it: the restorer goes on */
	segs_reclaim(im);
	while (im->img_w >= 0 && im->pend) {
		struct seg *sg = im->pend;
		struct iovec v = { .iov_base = (void *)sg->p,
				   .iov_len = sg->len };

		n = vmsplice(im->img_w, &v, 1, SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* the reader stopped: its outcome will say why */
			close_fd(&im->img_w);
			segs_free(&im->pend, &im->pend_tail);
			im->pend_bytes = 0;
			return;
		}
		sg->p += n;
		sg->len -= (size_t)n;
		im->pend_bytes -= (size_t)n;
		im->in_pipe += (uint64_t)n;
		if (sg->len)
			continue;
		im->pend = sg->next;
		if (!im->pend)
			im->pend_tail = &im->pend;
		sg->next = NULL;
		sg->end = im->in_pipe;
		*im->lent_tail = sg;
		im->lent_tail = &sg->next;
	}
	if (im->img_w >= 0 && im->end_in && !im->pend)
		close_fd(&im->img_w);
}

static void img_polled(void *obj, short revents)
{
	struct inmove *im = obj;

	(void)revents;
	if (!im->dead)
		feed(im);
}

static void send_ping(struct inmove *im)
{
	int64_t now = bp_now_ms();

	if (now < im->ping_ms) {
		loop_wake_at(im->ping_ms);
		return;
	}
	im->ping_ms = now + 1000;
	loop_wake_at(im->ping_ms);
	bp_send_ping(peer_conn(im->peer), BPROC_MSG_PING, (uint64_t)now);
}

void recv_watch(void)
{
	struct inmove *im;

	for (im = moves; im; im = im->next) {
		if (im->dead)
			continue;
		if (im->restoring)
			job_watch(&im->job,
				  im->px ? proxy_job_polled : ghost_job_polled,
				  im);
		if (im->done)
			continue;
		if (im->peer)
			send_ping(im);
		if (im->nr_map >= 0 && !im->spawned && !agent->front && !im->px)
			try_spawn(im);
		if (im->done || im->dead)
			continue;
		if (im->struct_w >= 0 && im->parsed)
			feed(im); /* a small write; the rest when there is room */
		if (im->struct_w >= 0 && im->sq.len)
			loop_add(im->struct_w, POLLOUT, img_polled, im);
		if (im->img_w >= 0 && (im->pend || im->end_in))
			loop_add(im->img_w, POLLOUT, img_polled, im);
		if (im->notify_r >= 0)
			loop_add(im->notify_r, POLLIN, notify_polled, im);
	}
}

void recv_reap(void)
{
	struct inmove **pp = &moves;

	while (*pp) {
		struct inmove *im = *pp;

		if (!im->dead) {
			pp = &im->next;
			continue;
		}
		*pp = im->next;
		free(im->sbuf);
		free(im->hbuf);
		keepbuf_free(&im->kb);
		free(im->tids);
		iobuf_free(&im->sq);
		segs_drain(im);
		free(im->map);
		free(im->fdmap);
		free(im);
	}
}
