// SPDX-License-Identifier: GPL-2.0
/*
 * move.c - libbproc's moves and remote process creation, each made of the
 * one thing /bproc offers: a process writes its own pid to
 * /bproc/nodeN/move and, when the write returns, runs on node N
 * (docs/interface.md, "Moving a process").
 *
 *   bproc_move       the caller moves itself
 *   bproc_rexec      moves itself, then execve(2) there: the node's program
 *   bproc_execmove   reads the program here, moves itself with it in its
 *                    memory, then executes that copy there (fexecve(3) of
 *                    an unlinked file): the program is the front end's,
 *                    and none of it runs before it is on the node
 *   bproc_vrfork     n children at once, each of which moves itself and
 *                    says how that went on a pipe; the parent waits for
 *                    every word (bproc_rfork is one of them)
 *   bproc_vexecmove  the same, and each child then executes the program
 *                    read once by the parent, as bproc_execmove does
 *
 * The move is written the way a shell writes it (echo $$ > .../move): the
 * move file on stdout, the real stdout saved on fd 10 or above,
 * close-on-exec, and put back after. The node's agent gives a process its
 * streams and reopens its other files by path; a move file on a
 * descriptor of its own would have to be reopened on the node, which has
 * no /bproc, and the move would fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Linux 6.3: a memfd that may be executed even where they default to not */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* How long a child that ended without a word may still have one on its way. */
#define LAST_WORD_MS 1000

/*
 * Write our own pid to node's move file, as a shell does, with words (""
 * or " keep", " copy PID": fast start): 0 once it runs there, or -1 with
 * the write's errno (and it runs where it was).
 */
static int move_self_as(int node, const char *words)
{
	char path[PATH_MAX], text[48];
	int saved, fd, err = 0, len, flags;
	ssize_t n;

	if (bp_node_path(path, sizeof(path), node, "move"))
		return -1;
	len = snprintf(text, sizeof(text), "%d%s\n", (int)getpid(), words);
	flags = fcntl(1, F_GETFD);
	saved = fcntl(1, F_DUPFD_CLOEXEC, 10);
	if (saved < 0 && errno != EBADF)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (saved >= 0)
			close(saved);
		errno = err;
		return err == ENOENT ? bp_enoent() : -1;
	}
	if (fd != 1) {
		if (dup2(fd, 1) < 0) {
			err = errno;
			close(fd);
			goto out;
		}
		close(fd);
	}
	n = write(1, text, (size_t)len);
	if (n < 0)
		err = errno;
	else if (n != len)
		err = EIO;
out:
	/* here or there, stdout is what it was (there, the stream it was) */
	if (saved >= 0) {
		dup2(saved, 1);
		close(saved);
		if (flags > 0)
			fcntl(1, F_SETFD, flags);
	} else {
		close(1);
	}
	errno = err;
	return err ? -1 : 0;
}

static int move_self(int node)
{
	return move_self_as(node, "");
}

/* The move, or nothing to do when the caller already runs there. */
static int move_to(int node, int here)
{
	if (node < BPROC_NODE_MASTER) {
		errno = EINVAL;
		return -1;
	}
	if (node == here)
		return 0;
	return move_self(node);
}

BP_EXPORT int bproc_move(int node)
{
	return move_to(node, bp_here());
}

BP_EXPORT int bproc_rexec(int node, const char *cmd, char *const argv[],
			  char *const envp[])
{
	if (move_to(node, bp_here()))
		return -1;
	return execve(cmd, argv, envp);
}

/* ---- the program of an execmove, carried in memory ---- */

struct prog {
	char *image; /* the file's bytes, private anonymous memory */
	size_t size, mapped;
	bool script; /* #!: its interpreter opens it as /proc/self/fd/N */
	char name[250]; /* the file's, for the copy */
	const char *cmd;
};

static void prog_free(struct prog *p)
{
	int err = errno;

	if (p->image)
		munmap(p->image, p->mapped);
	p->image = NULL;
	errno = err;
}

/*
 * Read the program cmd here, refusing what execve(2) would refuse here:
 * 0, or -1 with execve's errno (ENOENT, EACCES, ENOEXEC...), or EPERM for
 * a set-user-ID or set-group-ID program, which a copy could not honour.
 */
static int prog_load(struct prog *p, const char *cmd)
{
	const char *base = strrchr(cmd, '/');
	struct statvfs sv;
	struct stat st;
	size_t have = 0;
	int fd, err;
	ssize_t k;

	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : cmd);
	fd = open(cmd, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st))
		goto fail;
	err = 0;
	if (!S_ISREG(st.st_mode))
		err = EACCES;
	else if (faccessat(AT_FDCWD, cmd, X_OK, AT_EACCESS))
		err = errno;
	else if (!fstatvfs(fd, &sv) && sv.f_flag & ST_NOEXEC)
		err = EACCES;
	else if (st.st_mode & S_ISUID ||
		 (st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		err = EPERM;
	else if (st.st_size < 2)
		err = ENOEXEC;
	if (err) {
		errno = err;
		goto fail;
	}
	p->size = p->mapped = (size_t)st.st_size;
	p->image = mmap(NULL, p->mapped, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->image == MAP_FAILED) {
		p->image = NULL;
		goto fail;
	}
	while (have < p->size) {
		k = pread(fd, p->image + have, p->size - have, (off_t)have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		have += (size_t)k;
	}
	if (have >= 4 && !memcmp(p->image, "\177ELF", 4)) {
		p->script = false;
	} else if (have >= 2 && !memcmp(p->image, "#!", 2)) {
		p->script = true;
	} else {
		errno = ENOEXEC;
		goto fail;
	}
	p->size = have;
	close(fd);
	return 0;
fail:
	err = errno;
	prog_free(p);
	close(fd);
	errno = err;
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	ssize_t k;

	while (done < len) {
		k = write(fd, buf + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/*
 * The copy as a file to execute: a file of /tmp or /dev/shm named as the
 * program (the kernel names the process after it), removed at once with
 * its directory and reopened read-only, so that no writer is left (execve
 * would say ETXTBSY), because the engine carries a deleted file's mapping
 * whole when the process moves on; else a memfd, which runs as well but
 * cannot move (the engine takes its name for a path to reopen).
 */
static int prog_file(struct prog *p)
{
	static const char *const dirs[] = { "/tmp", "/dev/shm" };
	int cloexec = p->script ? 0 : O_CLOEXEC, fd, ro, err;
	unsigned int mfd = p->script ? 0 : MFD_CLOEXEC;
	char dir[64], path[PATH_MAX];
	struct statvfs sv;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/bproc-execmove.XXXXXX", dirs[i]);
		if (!mkdtemp(dir))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, p->name);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
		if (fd >= 0)
			unlink(path);
		rmdir(dir);
		if (fd < 0)
			continue;
		ro = -1;
		if (!fstatvfs(fd, &sv) && !(sv.f_flag & ST_NOEXEC) &&
		    !write_all(fd, p->image, p->size)) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			ro = open(path, O_RDONLY | cloexec);
		}
		close(fd);
		if (ro >= 0)
			return ro;
	}
	fd = memfd_create(p->name, mfd | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(p->name, mfd);
	if (fd < 0)
		return -1;
	if (write_all(fd, p->image, p->size)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* Execute the copy, wherever the caller now is: returns only on failure. */
static int prog_exec(struct prog *p, char *const argv[], char *const envp[])
{
	char path[32];
	int fd, err;

	fd = prog_file(p);
	if (fd < 0)
		return -1;
	if (p->script) {
		/* /dev/fd may not be there, /proc is: the interpreter opens it */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		execve(path, argv, envp);
	} else {
		fexecve(fd, argv, envp);
	}
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/*
 * The program could not be executed where the caller has gone: it cannot
 * come back (no /bproc there), and the caller's code must not go on in
 * the program's place. As in BProc, the process ends with the errno as
 * its exit status; stderr says why, which is all anyone sees of it.
 */
static void __attribute__((noreturn))
exec_failed(const char *func, const struct prog *p, int node, int err)
{
	char msg[PATH_MAX + 128], name[32];
	int n;

	n = snprintf(msg, sizeof(msg), "%s: %s on %s: %s\n", func, p->cmd,
		     bp_node_name(name, sizeof(name), node), strerror(err));
	if (n > 0)
		(void)!write(2, msg,
			     (size_t)n < sizeof(msg) ? (size_t)n :
						       sizeof(msg) - 1);
	_exit(err > 0 && err < 256 ? err : 1);
}

BP_EXPORT int bproc_execmove(int node, const char *cmd, char *const argv[],
			     char *const envp[])
{
	int here = bp_here();
	struct prog p;

	if (node < BPROC_NODE_MASTER) {
		errno = EINVAL;
		return -1;
	}
	if (node == here)
		return execve(cmd, argv, envp);
	if (bp_check_mount() || prog_load(&p, cmd))
		return -1;
	if (move_self(node)) {
		prog_free(&p);
		return -1;
	}
	prog_exec(&p, argv, envp);
	exec_failed("bproc_execmove", &p, node, errno);
}

/* ---- n children at once ---- */

/*
 * What a child says on the pipe, once: its pid when it has moved, or
 * -errno. Fast start's first child says GOING first, as it starts to move.
 */
struct word {
	int32_t index;
	int32_t value;
};

#define GOING (-2) /* the index of the first child's word as it starts */

enum { MOVING, ENDED, DONE };

struct child {
	pid_t pid;
	int state;
	struct timespec ended; /* when it was seen ended without a word */
};

/* The BPROC_RANK=... entry of a vexecmove's environment, as BProc did. */
struct rank {
	char **envp; /* a copy of the caller's, with its entry at slot */
	int slot; /* -1: none to fill */
	char text[32];
};

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

/*
 * Fast start: the index of the child of our pid, or i. A copy of the
 * first child's image (below) is that child until its move returns, and
 * which child it is goes by the pid it has.
 */
static int own_index(const struct child *c, int n, int i)
{
	pid_t me = getpid();
	int k;

	for (k = 0; k < n; k++)
		if (c[k].pid == me)
			return k;
	return i;
}

/*
 * The child's side: move, say so, then return (vrfork) or execute; its
 * index. go >= 0: wait for the first child's pid there (fast start), then
 * move as a copy of it; keep: the first child, whose image is kept.
 */
static int child_go(int i, const int *nodes, int here, int wfd, int go,
		    bool keep, const struct child *c, int n, struct prog *p,
		    char *const argv[], struct rank *r)
{
	struct word w = { .index = i };
	char words[32] = "";
	char *const *envp;
	int32_t first = 0;
	int moved, node = nodes[i], value;

	if (go >= 0) {
		while (read(go, &first, sizeof(first)) < 0 && errno == EINTR)
			;
		close(go);
		if (first > 0)
			snprintf(words, sizeof(words), " copy %d", first);
	} else if (keep) {
		struct word going = { .index = GOING };

		/* the others may go now: the front end holds their moves
		 * until this one's image is complete */
		snprintf(words, sizeof(words), " keep");
		while (write(wfd, &going, sizeof(going)) < 0 && errno == EINTR)
			;
	}
	moved = node != here;
	if (moved) {
		value = move_self_as(node, words) ? -errno : (int32_t)getpid();
		i = own_index(c, n, i);
		node = nodes[i];
		w.index = i;
		w.value = value;
		/* one write of a pipe's atomic size: words never mix */
		while (write(wfd, &w, sizeof(w)) < 0 && errno == EINTR)
			;
		if (w.value < 0)
			_exit(127);
	}
	close(wfd);
	if (!p && !r)
		return i;
	envp = r->envp;
	if (r->slot >= 0) {
		snprintf(r->text, sizeof(r->text), "BPROC_RANK=%d", i);
		r->envp[r->slot] = r->text;
	}
	if (moved)
		prog_exec(p, argv, envp);
	else
		execve(p->cmd, argv, envp);
	exec_failed("bproc_vexecmove", p, node, errno);
}

/* Read every word there is: how many children it settled. */
static int read_words(int rfd, char *buf, size_t *have, size_t len, int n,
		      struct child *c, int *pids, bool *going)
{
	struct word w;
	int settled = 0;
	size_t off = 0;
	ssize_t k;

	k = read(rfd, buf + *have, len - *have);
	if (k <= 0)
		return 0;
	*have += (size_t)k;
	for (; *have - off >= sizeof(w); off += sizeof(w)) {
		memcpy(&w, buf + off, sizeof(w));
		if (w.index == GOING) {
			*going = true;
			continue;
		}
		if (w.index < 0 || w.index >= n || c[w.index].state == DONE)
			continue;
		c[w.index].state = DONE;
		settled++;
		if (w.value > 0) {
			pids[w.index] = c[w.index].pid;
			continue;
		}
		/* it failed, and exits at once: leave nothing behind */
		pids[w.index] = w.value < 0 ? w.value : -EIO;
		while (waitpid(c[w.index].pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	memmove(buf, buf + off, *have - off);
	*have -= off;
	return settled;
}

/*
 * The children still moving that have ended without a word: once their
 * last word cannot be on its way any more, reaped, and failed with EIO.
 */
static int reap_silent(int n, struct child *c, int *pids)
{
	int i, rc, settled = 0;
	siginfo_t si;

	for (i = 0; i < n; i++) {
		if (c[i].state == MOVING) {
			/* ended (or reaped by someone else), not reaped here */
			si.si_pid = 0;
			rc = waitid(P_PID, (id_t)c[i].pid, &si,
				    WEXITED | WNOHANG | WNOWAIT);
			if (rc < 0 ? errno != ECHILD : si.si_pid == 0)
				continue;
			c[i].state = ENDED;
			clock_gettime(CLOCK_MONOTONIC, &c[i].ended);
		} else if (c[i].state == ENDED &&
			   ms_since(&c[i].ended) >= LAST_WORD_MS) {
			waitpid(c[i].pid, NULL, WNOHANG);
			pids[i] = -EIO;
			c[i].state = DONE;
			settled++;
		}
	}
	return settled;
}

/* Whether any of the nodes is another than here: 1 or 0; -1 (EINVAL)
 * for arguments that name no vector. */
static int vector_remote(int n, const int *nodes, const int *pids, int here)
{
	int i;

	if (n <= 0 || !nodes || !pids) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (nodes[i] >= BPROC_NODE_MASTER && nodes[i] != here)
			return 1;
	return 0;
}

/* A pipe with both ends above stdio (a child's word must not go out as its
 * stdin or stdout): 0, or -1 with errno. */
static int pipe_above_stdio(int fds[2])
{
	int i, fd, err;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	for (i = 0; i < 2; i++)
		if (fds[i] < 3) {
			fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (fd < 0) {
				err = errno;
				close(fds[0]);
				close(fds[1]);
				errno = err;
				return -1;
			}
			close(fds[i]);
			fds[i] = fd;
		}
	return 0;
}

/* The first child has moved (or failed): the others go, as its copies. */
static void release(int *go_w, int waiting, pid_t first)
{
	int32_t v = first > 0 ? (int32_t)first : 0;

	while (waiting-- > 0)
		while (write(*go_w, &v, sizeof(v)) < 0 && errno == EINTR)
			;
	close(*go_w);
	*go_w = -1;
}

/*
 * bproc_vrfork and bproc_vexecmove: fork every child first, each of which
 * moves itself, so that the moves run together; then wait for each one's
 * word. In a child, its index; in the parent, n (as BProc, so that index
 * and parent never meet) or -1 when nothing could be tried.
 *
 * Fast start: from the front end, with two children or more to move, the
 * last of them (first) is forked last and moves at once, its image kept
 * there ("keep"); the others wait until it says it goes (GOING), then move
 * as copies of it ("copy PID"): the front end's agent holds their moves
 * until its image is complete and sends that under their pids instead of
 * dumping each, and each copy, which was the first child until its move
 * returned, learns which child it is from its pid (own_index). A copy the
 * front end does not make moves as itself: same outcome.
 */
static int spawn(int n, const int *nodes, int *pids, int here, struct prog *p,
		 char *const argv[], struct rank *r)
{
	char buf[64 * sizeof(struct word)];
	int pfd[2], gofd[2] = { -1, -1 }, i, k, left = 0, err, remote;
	int first = -1, movers = 0, waiting = 0;
	bool going = false;
	struct child *c;
	size_t have = 0;
	pid_t pid;

	remote = vector_remote(n, nodes, pids, here);
	if (remote < 0 || (remote && bp_check_mount()))
		return -1;
	c = calloc((size_t)n, sizeof(*c));
	if (!c)
		return -1;
	if (pipe_above_stdio(pfd))
		goto fail;
	for (i = 0; i < n; i++)
		if (nodes[i] >= BPROC_NODE_MASTER && nodes[i] != here) {
			first = i;
			movers++;
		}
	if (here != BPROC_NODE_MASTER || movers < 2 || pipe_above_stdio(gofd))
		first = -1; /* each moves as itself */
	for (k = 0; k < n; k++) {
		/* first is forked last: it knows the others' pids */
		i = first < 0 || k < first ? k : k == n - 1 ? first : k + 1;
		c[i].state = DONE;
		if (nodes[i] < BPROC_NODE_MASTER) {
			pids[i] = -EINVAL;
			continue;
		}
		pid = fork();
		if (pid < 0) {
			pids[i] = -errno;
			continue;
		}
		if (pid == 0) {
			bool wait_first =
				first >= 0 && i != first && nodes[i] != here;

			close(pfd[0]);
			if (gofd[1] >= 0)
				close(gofd[1]);
			if (gofd[0] >= 0 && !wait_first)
				close(gofd[0]);
			i = child_go(i, nodes, here, pfd[1],
				     wait_first ? gofd[0] : -1, i == first, c,
				     n, p, argv, r);
			free(c);
			return i;
		}
		c[i].pid = pids[i] = pid;
		if (nodes[i] != here) {
			c[i].state = MOVING;
			left++;
			if (first >= 0 && i != first)
				waiting++;
		}
	}
	close(pfd[1]);
	if (gofd[0] >= 0)
		close(gofd[0]);
	while (left > 0) {
		struct pollfd pl = { .fd = pfd[0], .events = POLLIN };
		int ready;

		if (gofd[1] >= 0 && (going || c[first].state == DONE))
			release(&gofd[1], waiting,
				c[first].state == DONE ? pids[first] :
							 c[first].pid);
		ready = poll(&pl, 1, 100);
		if (ready > 0)
			left -= read_words(pfd[0], buf, &have, sizeof(buf), n,
					   c, pids, &going);
		if (ready <= 0 || pl.revents & (POLLHUP | POLLERR))
			left -= reap_silent(n, c, pids);
		if (ready > 0 && !(pl.revents & POLLIN))
			poll(NULL, 0, 100); /* hung up: no busy loop */
	}
	if (gofd[1] >= 0)
		release(&gofd[1], waiting, 0);
	close(pfd[0]);
	free(c);
	return n;
fail:
	err = errno;
	free(c);
	errno = err;
	return -1;
}

BP_EXPORT int bproc_vrfork(int n, const int *nodes, int *pids)
{
	return spawn(n, nodes, pids, bp_here(), NULL, NULL, NULL);
}

BP_EXPORT int bproc_rfork(int node)
{
	int pid, r;

	r = spawn(1, &node, &pid, bp_here(), NULL, NULL, NULL);
	if (r != 1)
		return r; /* -1, or 0 in the child */
	if (pid < 0) {
		errno = -pid;
		return -1;
	}
	return pid;
}

BP_EXPORT int bproc_vexecmove(int n, const int *nodes, int *pids,
			      const char *cmd, char *const argv[],
			      char *const envp[])
{
	int here = bp_here(), i, k = 0, ret, err, remote;
	struct rank r = { .slot = -1 };
	struct prog p;

	remote = vector_remote(n, nodes, pids, here);
	if (remote < 0)
		return -1;
	if (remote) {
		if (bp_check_mount() || prog_load(&p, cmd))
			return -1;
	} else {
		memset(&p, 0, sizeof(p));
		p.cmd = cmd;
	}
	if (envp) {
		while (envp[k])
			k++;
		r.envp = calloc((size_t)k + 1, sizeof(*r.envp));
		if (!r.envp) {
			prog_free(&p);
			return -1;
		}
		for (i = 0; i < k; i++) {
			r.envp[i] = envp[i];
			if (!strncmp(envp[i], "BPROC_RANK=", 11))
				r.slot = i;
		}
	}
	ret = spawn(n, nodes, pids, here, &p, argv, &r);
	err = errno;
	free(r.envp);
	prog_free(&p);
	errno = err;
	return ret;
}
