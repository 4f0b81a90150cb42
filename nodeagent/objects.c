// SPDX-License-Identifier: GPL-2.0
/*
 * The front end: a process that comes home with kernel objects (eventfds,
 * timerfds, signalfds, epolls, memfds: image.h, FDS and MEMFD) gets them
 * from this agent, since neither the engine nor the ghost can make them;
 * so does, on a node, one born there that comes back into its proxy (its
 * streams there are this agent's pipes, given to the helper as they are).
 *
 * A helper is arranged like the program: the ghost's files of the
 * process's streams (pidfd_getfd) at the program's fd numbers, so that an
 * epoll watching one is registered with that file at that number, as an
 * epoll item is keyed.  It execs `bproc-ckpt objects`, which makes every
 * object at its fd with its state, as bproc-ckpt's restore does (the same
 * code), and sends them back here (SCM_RIGHTS), with the image's files an
 * epoll watches that are no stream (opened there by path, so that the
 * file registered is the one the program gets).  The ghost's restore then
 * gets a map of descriptors of this agent's (BPROC_GHOST_MAP_CALLER,
 * module 1.9): the streams' files, taken from the ghost too, and the
 * objects.  The helper works while the agent waits (a few milliseconds;
 * a memfd's content is at most 64 MiB, written once).
 */
#define LOG_PREFIX "objects"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>
#include <bproc/image.h>

#include "../common/log.h"
#include "agent.h"

#define HELPER_MS 30000 /* for the helper to make them all */
#define BATCH 64 /* objects a message, as bproc-ckpt sends them */

int objects_engine_ok(char *why, size_t len)
{
	char ver[32];

	if (engine_at_least(1, 9, ver, sizeof(ver)))
		return 0;
	snprintf(why, len,
		 "the front end's engine (bproc.ko %s) cannot give kernel "
		 "objects back to a ghost: 1.9 or later can",
		 ver[0] ? ver : "of no version");
	return -EOPNOTSUPP;
}

/*
 * The helper, a child: arranged like the program, it execs @path with its
 * two descriptors at @top and @top + 1 (above every number of the
 * program's), named in @a and @b. Its streams are the ghost's, or @mine
 * (@hi: room for them). (An exit without a word: the agent says the
 * helper ended without one.)
 */
static void helper(pid_t ghost, int sock, int sfd, const struct bp_stream *map,
		   int nr_map, const int *mine, int *hi, int top,
		   const char *path, const char *a, const char *b)
{
	int pidfd = mine ? -1 : (int)syscall(SYS_pidfd_open, ghost, 0), i, fd;

	/* ours clear of the program's numbers (and of top and top + 1) */
	pidfd = pidfd < 0 ? -1 : fcntl(pidfd, F_DUPFD_CLOEXEC, top + 2);
	for (i = 0; mine && i < nr_map; i++) {
		hi[i] = fcntl(mine[i], F_DUPFD_CLOEXEC, top + 2);
		if (hi[i] < 0)
			_exit(127);
	}
	sock = fcntl(sock, F_DUPFD_CLOEXEC, top + 2);
	sfd = fcntl(sfd, F_DUPFD_CLOEXEC, top + 2);
	if ((!mine && pidfd < 0) || sock < 0 || sfd < 0 ||
	    dup2(sock, top) < 0 || dup2(sfd, top + 1) < 0)
		_exit(127);
	sock = top;
	sfd = top + 1;
	/* the rest of ours, 0-2 included, goes at the exec */
	if (syscall(SYS_close_range, 0, ~0U, CLOSE_RANGE_CLOEXEC))
		_exit(127);
	fcntl(sock, F_SETFD, 0);
	fcntl(sfd, F_SETFD, 0);
	for (i = 0; i < nr_map; i++) {
		fd = mine ? hi[i] :
			    (int)syscall(SYS_pidfd_getfd, pidfd,
					 (int)map[i].stream, 0);
		if (fd < 0) {
			dprintf(sock, "E%d fd %u: the ghost's stream %u: %s\n",
				errno, map[i].fd, map[i].stream,
				strerror(errno));
			_exit(1);
		}
		if (fd != (int)map[i].fd) {
			if (dup2(fd, (int)map[i].fd) < 0)
				_exit(127);
			close(fd);
		} else {
			fcntl(fd, F_SETFD, 0);
		}
	}
	execl(path, "bproc-ckpt", "objects", a, b, (char *)NULL);
	dprintf(sock, "E%d exec %s: %s\n", errno, path, strerror(errno));
	_exit(127);
}

/* One message of the helper's: objects (1), done (0) or -1 (why). */
static int helper_message(int sock, struct bproc_fd_map *out, uint32_t *nr,
			  uint32_t max, char *why, size_t len)
{
	char buf[4 + BATCH * 4 + 256];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(BATCH * sizeof(int))];
	} c;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = c.b,
			      .msg_controllen = sizeof(c.b) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int fds[BATCH], nfds = 0, k;
	struct cmsghdr *cm;
	ssize_t n;

	if (poll(&pfd, 1, HELPER_MS) != 1) {
		snprintf(why, len, "the helper that makes them is too slow");
		return -1;
	}
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	for (cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm;
	     cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) /
				     sizeof(int));
			memcpy(fds, CMSG_DATA(cm), (size_t)nfds * sizeof(int));
		}
	if (n > 0 && buf[0] == 'F' && nfds == (n - 4) / 4 && (n - 4) % 4 == 0 &&
	    *nr + (uint32_t)nfds <= max && !(msg.msg_flags & MSG_CTRUNC)) {
		for (k = 0; k < nfds; k++) {
			memcpy(&out[*nr].fd, buf + 4 + 4 * k, 4);
			out[(*nr)++].from = fds[k];
		}
		return 1;
	}
	for (k = 0; k < nfds; k++)
		close(fds[k]);
	if (n == 1 && buf[0] == 'D')
		return 0;
	if (n > 1 && buf[0] == 'E') {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		/* "E<errno> what: why": the words */
		snprintf(why, len, "%s",
			 strchr(buf, ' ') ? strchr(buf, ' ') + 1 : buf);
		return -1;
	}
	snprintf(why, len, "the helper that makes them %s",
		 n == 0 ? "ended without a word" : "said something else");
	return -1;
}

/*
 * The objects of the structure's FDS section: how many, and *top raised
 * above their fds. 0, or -1 if the section does not read.
 */
static int head_fds(const uint8_t *head, size_t len, uint32_t *nr,
		    uint32_t *targets, int *top)
{
	struct bproc_image_fds h;
	struct bproc_image_fd e;
	const uint8_t *sec;
	uint64_t size;
	uint32_t k;
	int found;

	*nr = *targets = 0;
	found = image_section(head, len, BPROC_SEC_FDS, &sec, &size);
	if (found <= 0)
		return found;
	if (size < sizeof(h))
		return -1;
	memcpy(&h, sec, sizeof(h));
	if (h.nr_fds > BPROC_IMAGE_MAX_FDS ||
	    size < sizeof(h) + (uint64_t)h.nr_fds * sizeof(e))
		return -1;
	for (k = 0; k < h.nr_fds; k++) {
		memcpy(&e, sec + sizeof(h) + k * sizeof(e), sizeof(e));
		if (e.fd < 0 || e.fd >= 65536)
			return -1;
		if (e.fd >= *top)
			*top = e.fd + 1;
	}
	*nr = h.nr_fds;
	*targets = h.nr_targets;
	return 0;
}

static int cmp_map(const void *a, const void *b)
{
	const struct bproc_fd_map *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

int objects_make(pid_t ghost, const uint8_t *head, size_t len,
		 const struct bp_stream *map, int nr_map, const int *mine,
		 struct bproc_fd_map **out, uint32_t *nr_out, char *why,
		 size_t whylen)
{
	uint32_t nr_objects = 0, nr_targets = 0, nr = 0, i;
	int sp[2] = { -1, -1 }, sfd = -1, pidfd = -1, top = 3, st, r = 1;
	int *hi = NULL;
	struct bproc_fd_map *m = NULL;
	const char *path;
	char a[16], b[16];
	pid_t pid;

	*out = NULL;
	*nr_out = 0;
	if (head_fds(head, len, &nr_objects, &nr_targets, &top)) {
		snprintf(why, whylen, "bad FDS section");
		return -EIO;
	}
	/* the objects, then files an epoll watches, opened by path */
	m = calloc((size_t)nr_map + nr_objects + nr_targets + 1, sizeof(*m));
	hi = calloc((size_t)nr_map + 1, sizeof(*hi)); /* the helper's */
	sfd = memfd_create("bproc-objects", MFD_CLOEXEC);
	if (!m || !hi || sfd < 0 || write(sfd, head, len) != (ssize_t)len ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		snprintf(why, whylen, "no room to make them: %s",
			 strerror(errno));
		goto fail;
	}
	/* above the numbers the program has: objects and streams */
	for (i = 0; i < (uint32_t)nr_map; i++)
		if ((int)map[i].fd >= top)
			top = (int)map[i].fd + 1;
	/* (all the child needs, made before it is forked) */
	path = space_ckpt_path();
	snprintf(a, sizeof(a), "%d", top);
	snprintf(b, sizeof(b), "%d", top + 1);
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		helper(ghost, sp[1], sfd, map, nr_map, mine, hi, top, path, a,
		       b);
	close_fd(&sp[1]);
	while ((r = helper_message(sp[0], m, &nr, nr_objects + nr_targets, why,
				   whylen)) > 0)
		;
	if (r) /* it may still be working */
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r)
		goto fail;
	if (nr < nr_objects) {
		snprintf(why, whylen, "the helper made %u of %u", nr,
			 nr_objects);
		goto fail;
	}
	/* and the streams, the ghost's files (or ours), as ours */
	pidfd = mine ? -1 : (int)syscall(SYS_pidfd_open, ghost, 0);
	for (i = 0; i < (uint32_t)nr_map; i++) {
		int fd = mine	   ? fcntl(mine[i], F_DUPFD_CLOEXEC, 3) :
			 pidfd < 0 ? -1 :
				     (int)syscall(SYS_pidfd_getfd, pidfd,
						  (int)map[i].stream, 0);

		if (fd < 0) {
			snprintf(why, whylen, "fd %u: its stream: %s",
				 map[i].fd, strerror(errno));
			goto fail;
		}
		m[nr].fd = (int32_t)map[i].fd;
		m[nr++].from = fd;
	}
	qsort(m, nr, sizeof(*m), cmp_map);
	for (i = 1; i < nr; i++)
		if (m[i].fd == m[i - 1].fd) {
			snprintf(why, whylen, "fd %d: a stream and an object",
				 m[i].fd);
			goto fail;
		}
	close(sfd);
	close(sp[0]);
	close_fd(&pidfd);
	free(hi);
	*out = m;
	*nr_out = nr;
	return 0;
fail:
	for (i = 0; m && i < nr; i++)
		close(m[i].from);
	free(m);
	free(hi);
	close_fd(&sfd);
	close_fd(&sp[0]);
	close_fd(&sp[1]);
	close_fd(&pidfd);
	return -EIO;
}
