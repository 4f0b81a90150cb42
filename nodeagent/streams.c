// SPDX-License-Identifier: GPL-2.0
/*
 * Which of a front-end process's descriptors are its streams (proto.h,
 * "Streams"), worked out when it is parked for its first move away, and so
 * what its ghost forwards and what the node gives it in their place.
 *
 * A stream is stdin, stdout or stderr, whatever it is here: a terminal, a
 * pipe or FIFO, a regular file (its offset shared with the front end, as
 * a redirected local process would share it), a socket, /dev/null.  Every
 * other descriptor that is one of them by origin is that stream too: the
 * same open file description (2>&1, `exec 3>&1`, a saved copy of stdin),
 * and, while a shell runs `echo $$ > /bproc/nodeN/move` (its stdio is the
 * move file it writes), the copies of its stdio that the shell saved to
 * put back afterwards: POSIX shells save them at fd 10 and up,
 * close-on-exec.  So are, as before, the other pipes, FIFOs and devices it
 * holds open for writing.  Descriptions of one file that takes no offset
 * (a pipe, a terminal) or whose descriptions all append are one stream,
 * so that `>>f 2>>f` keeps its order as 2>&1 does.
 *
 * Each stream is named by the lowest of its descriptors (0 for stdin), the
 * ghost's descriptor that the front end's agent writes or reads.  Other
 * regular files and directories are left to the engine (reopened by path
 * where the process goes); a socket, a deleted file or a pipe or device
 * open for reading that is not a stream cannot move, and the reason names
 * its descriptor.
 */
#define LOG_PREFIX "streams"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/log.h"
#include "agent.h"

/* What the agent knows of one of the process's descriptors. */
struct fdent {
	int fd;
	struct stat st;
	int flags; /* open(2) flags, with O_CLOEXEC for close-on-exec */
	bool deleted; /* a regular file that has no name any more */
	bool move_file; /* a move file of /bproc */
	int desc; /* index of the first entry with its open file description */
	int group; /* index of the first entry of its stream, or -1 */
};

static int cmp_fd(const void *a, const void *b)
{
	const struct fdent *x = a, *y = b;

	return x->fd - y->fd;
}

static int cmp_stream(const void *a, const void *b)
{
	const struct bp_stream *x = a, *y = b;

	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* The open(2) flags of fd n of pid, from fdinfo; -1 if unknown. */
static int fd_flags(pid_t pid, int n)
{
	char path[64], line[128];
	unsigned int flags;
	int found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, n);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %o", &flags) == 1) {
			found = (int)flags;
			break;
		}
	fclose(f);
	return found;
}

static bool writable(const struct fdent *e)
{
	return (e->flags & O_ACCMODE) != O_RDONLY;
}

static bool is_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

/* The memory devices (null, zero, random...) are the same everywhere. */
static bool is_mem_device(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1;
}

static bool same_description(pid_t pid, int a, int b)
{
	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b) == 0;
}

static const char *what_kind(const struct stat *st)
{
	if (S_ISFIFO(st->st_mode))
		return "pipe";
	if (S_ISSOCK(st->st_mode))
		return "socket";
	if (S_ISCHR(st->st_mode))
		return "device";
	return "file";
}

/* Read what the agent needs of every descriptor of pid: how many, or -errno. */
static int read_fds(pid_t pid, struct fdent **out, char *why, size_t len)
{
	char path[64], link[96], target[PATH_MAX];
	struct fdent *e = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -ESRCH;
	}
	while ((d = readdir(dir))) {
		struct fdent *x;
		struct statfs sfs;
		char *end;
		long fd = strtol(d->d_name, &end, 10);
		ssize_t k;

		if (*end || end == d->d_name || fd < 0 || fd > INT32_MAX)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;

			x = realloc(e, c * sizeof(*e));
			if (!x) {
				free(e);
				closedir(dir);
				snprintf(why, len, "out of memory");
				return -ENOMEM;
			}
			e = x;
			cap = c;
		}
		x = &e[n];
		memset(x, 0, sizeof(*x));
		x->fd = (int)fd;
		snprintf(link, sizeof(link), "%s/%ld", path, fd);
		if (stat(link, &x->st))
			continue; /* closed meanwhile, or nothing to stat */
		x->flags = fd_flags(pid, x->fd);
		if (x->flags < 0)
			continue;
		k = readlink(link, target, sizeof(target) - 1);
		target[k > 0 ? k : 0] = '\0';
		/* a memfd is no stream: the engine carries it (ANONFDS) */
		if (!strncmp(target, "/memfd:", 7))
			continue;
		if (S_ISREG(x->st.st_mode)) {
			x->deleted = x->st.st_nlink == 0 ||
				     (k > 10 &&
				      !strcmp(target + k - 10, " (deleted)"));
			/*
			 * bprocfs gives each lookup of a move file an inode
			 * of its own: another process's open of the same
			 * file replaces this one's dentry, which then reads
			 * "/move (deleted)" here.
			 */
			end = strrchr(target, '/');
			x->move_file = end &&
				       (!strcmp(end, "/move") ||
					!strcmp(end, "/move (deleted)")) &&
				       !statfs(link, &sfs) &&
				       sfs.f_type == FUSE_SUPER_MAGIC;
		}
		n++;
	}
	closedir(dir);
	qsort(e, n, sizeof(*e), cmp_fd);
	*out = e;
	return (int)n;
}

/* Which kind of stream e's file makes where the process goes. */
static uint32_t stream_kind(int pidfd, const struct fdent *e)
{
	int fd, type = 0;
	socklen_t len = sizeof(type);

	if (is_null(&e->st))
		return BPROC_STREAM_NULL;
	if (!S_ISSOCK(e->st.st_mode))
		return BPROC_STREAM_PIPE;
	fd = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, e->fd, 0) : -1;
	if (fd >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
			type = 0;
		close(fd);
	}
	switch (type) {
	case SOCK_DGRAM:
		return BPROC_STREAM_DGRAM;
	case SOCK_SEQPACKET:
		return BPROC_STREAM_SEQPACKET;
	default:
		return BPROC_STREAM_SOCKET;
	}
}

/*
 * Can e's stream take f too?  The same open file description, or the same
 * file when it takes no offset (pipe, FIFO, terminal) or both append.
 */
static bool same_stream(const struct fdent *e, const struct fdent *f)
{
	if (e->st.st_dev != f->st.st_dev || e->st.st_ino != f->st.st_ino ||
	    writable(e) != writable(f))
		return false;
	if (e->desc == f->desc)
		return true;
	if (S_ISFIFO(e->st.st_mode) ||
	    (S_ISCHR(e->st.st_mode) && !is_mem_device(&e->st)))
		return true;
	return S_ISREG(e->st.st_mode) && e->flags & f->flags & O_APPEND;
}

const char *stream_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[BPROC_STREAM_PIPE] = "pipe",
		[BPROC_STREAM_NULL] = "/dev/null",
		[BPROC_STREAM_SOCKET] = "stream socket",
		[BPROC_STREAM_DGRAM] = "datagram socket",
		[BPROC_STREAM_SEQPACKET] = "seqpacket socket",
	};

	return kind <= BPROC_STREAM_KIND_MAX ? names[kind] : "?";
}

int front_streams(pid_t pid, bool self, struct bp_stream *map, char *why,
		  size_t len)
{
	struct fdent *e = NULL;
	bool redirected = false;
	int nr, i, j, n = 0, pidfd, in_desc = -1, err = 0;

	nr = read_fds(pid, &e, why, len);
	if (nr < 0)
		return nr;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (i = 0; i < nr; i++) {
		e[i].desc = i;
		e[i].group = -1;
		for (j = 0; j < i; j++)
			if (e[j].desc == j &&
			    e[j].st.st_dev == e[i].st.st_dev &&
			    e[j].st.st_ino == e[i].st.st_ino &&
			    same_description(pid, e[j].fd, e[i].fd)) {
				e[i].desc = j;
				break;
			}
		if (e[i].fd == 0)
			in_desc = e[i].desc;
		if (self && e[i].fd <= 2 && e[i].move_file)
			redirected = true;
	}

	for (i = 0; i < nr && !err; i++) {
		struct fdent *x = &e[i];
		const char *kind = what_kind(&x->st);
		bool out = false;

		if (n == (int)BPROC_STREAMS_MAX) {
			snprintf(why, len, "more than %u stream descriptors",
				 BPROC_STREAMS_MAX);
			err = -EOPNOTSUPP;
			break;
		}
		if (x->fd == 0 || (x->desc == in_desc && !writable(x))) {
			/* stdin, or a copy of it */
			map[n].fd = (uint32_t)x->fd;
			map[n].stream = 0;
			map[n++].kind = stream_kind(pidfd, &e[in_desc]);
			continue;
		}
		if (x->fd <= 2 || x->desc == in_desc)
			out = true;
		/* one of 1 and 2 by origin */
		for (j = 0; j < i && !out; j++)
			if (e[j].fd >= 1 && e[j].fd <= 2 && e[j].group >= 0 &&
			    same_stream(&e[j], x))
				out = true;
		if (!out && writable(x) &&
		    (S_ISFIFO(x->st.st_mode) || S_ISCHR(x->st.st_mode)))
			out = true; /* a pipe or device it writes to */
		if (!out && redirected && x->fd >= 10 && x->flags & O_CLOEXEC &&
		    writable(x) &&
		    (S_ISREG(x->st.st_mode) || S_ISSOCK(x->st.st_mode)))
			out = true; /* a shell's saved copy of its stdio */
		if (!out) {
			/* not a stream: the engine's, if it can move at all */
			if (S_ISSOCK(x->st.st_mode) ||
			    (S_ISFIFO(x->st.st_mode) && x->fd > 2) ||
			    (S_ISCHR(x->st.st_mode) &&
			     !is_mem_device(&x->st))) {
				snprintf(why, len,
					 "fd %d is a %s%s (only stdin, stdout, "
					 "stderr and what it writes to are "
					 "forwarded)",
					 x->fd, kind,
					 S_ISSOCK(x->st.st_mode) ?
						 "" :
						 " open for reading");
				err = -EOPNOTSUPP;
			} else if (x->deleted) {
				snprintf(why, len, "fd %d is a deleted file",
					 x->fd);
				err = -EOPNOTSUPP;
			}
			continue;
		}
		for (j = 0; j < i && x->group < 0; j++)
			if (e[j].group >= 0 && e[j].fd > 0 &&
			    same_stream(&e[j], x))
				x->group = e[j].group;
		if (x->group < 0)
			x->group = i;
		if (e[x->group].fd >= (int)BPROC_STREAMS_MAX) {
			snprintf(why, len, "fd %d is a stream above %u", x->fd,
				 BPROC_STREAMS_MAX);
			err = -EOPNOTSUPP;
			break;
		}
		map[n].fd = (uint32_t)x->fd;
		map[n].stream = (uint32_t)e[x->group].fd;
		map[n++].kind = stream_kind(pidfd, &e[x->group]);
	}
	if (pidfd >= 0)
		close(pidfd);
	free(e);
	if (err)
		return err;
	qsort(map, (size_t)n, sizeof(*map), cmp_stream);
	return n;
}
