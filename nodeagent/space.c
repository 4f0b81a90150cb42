// SPDX-License-Identifier: GPL-2.0
/*
 * Where moved processes live on a node: one pid namespace, so that each
 * keeps its front-end pid (getpid() inside it returns that pid), with a
 * mount namespace of its own whose /proc is that pid namespace's, so that
 * /proc/self and /proc/PID agree with getpid().
 *
 * space_init(), at the first move here, makes the agent's children go into
 * a new pid namespace and forks its init (pid 1 there): it reaps orphans, and dies with the agent
 * (PR_SET_PDEATHSIG), taking every moved process with it, as a node whose
 * agent is gone is down for the master too.  space_spawn() starts a
 * restorer with clone3's set_tid, so that it gets the process's pid in the
 * namespace, and execs `bproc-ckpt restore --agent`, which becomes the
 * process; it does so as vfork does (the child in our memory until it has
 * exec'd), which is far cheaper than a fork under emulation.
 *
 * Parents: a moved process keeps the parent it had (IMAGE_BEGIN's ppid),
 * as getppid() sees it.  Its restorer is made by a stand-in that holds the
 * parent's pid in the namespace, when that parent is no process of this
 * node: one stand-in per parent (its moved children here share it), a
 * fork of the namespace's init made with set_tid, which makes restorers
 * on request as the agent would (a request on its socket: the pid, the
 * descriptors by SCM_RIGHTS; the answer: a pidfd).  A parent of 1 (it was
 * gone on the front end) is the namespace's init itself, which serves the
 * same requests.  A stand-in ends (its socket closed) once none of its
 * children here has its pid as their parent any more: they ended or moved
 * on, or their parent ended (PROC_PARENT, hosted.c), and the init adopts
 * those left, so that getppid() gives 1; it also gives way at once to a
 * process of its pid that moves here, whose children here then see 1.  A
 * parent that is a process of this node cannot be had (it does not fork
 * for us): its children that move here are the agent's, getppid() 0, as
 * are all when the engine does not report the namespace's events.  The
 * end of a process whose parent is not the agent is known by its EXIT
 * event, as a born one's (below); whoever is its parent reaps it.
 *
 * A child that is killed before it was anyone's (a restore given up) is
 * reaped here without blocking (space_reap).
 *
 * The engine watches the namespace (BPROC_IOC_SPACE): every fork, exit,
 * reaping and exec there is an event for hosted.c (but a restorer's fork
 * and its exec of bproc-ckpt, which are ours, not the process's, and all a
 * stand-in does), and its new pids are in the node's range (PID_RANGE from
 * the master), so that what moved processes start here joins the cluster
 * under pids no other host hands out. On the front end the engine keeps
 * the front end's own pids below the nodes'.
 */
#define LOG_PREFIX "space"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../common/log.h"
#include "agent.h"

#define ZOMBIES_MAX 256
#define STANDINS_MAX 128
#define ASK_TIMEOUT_MS 10000
#define PASS_MAX 240 /* descriptors one request passes (SCM_MAX_FD is 253) */

static bool ready;
static pid_t init_pid = -1;
static int own_ns = -1, moved_ns = -1; /* pid namespaces: ours, theirs */
static int mnt_fd = -1;
static char ckpt_path[PATH_MAX];
static int zombies[ZOMBIES_MAX];
static int nr_zombies;
static int watch_fd = -1; /* the engine's events of the namespace */
static uint32_t range_lo, range_hi; /* the node's pids */
/* restorers (lpids) whose exec of bproc-ckpt is no program of a process */
static pid_t restorers[ZOMBIES_MAX];
static unsigned int next_restorer;
/* stand-ins (lpids): none of their events is a cluster process's */
static pid_t helpers[STANDINS_MAX];
static unsigned int next_helper;
static int init_sock = -1; /* requests to the namespace's init */

/* A stand-in for a parent that is not here: the holder of its pid. */
struct standin {
	pid_t pid; /* the parent's, 0: a free slot */
	int sock; /* its requests */
};
static struct standin standins[STANDINS_MAX];
static unsigned int nr_standins; /* slots in use */

/*
 * A request to the init or a stand-in, on its SOCK_SEQPACKET socket, with
 * nr_fds descriptors (SCM_RIGHTS): SPAWN a restorer with pid as a child
 * (structure, image and notify, then the streams' ends, which src[]
 * indexes, for target[]), or, to the init, make a STANDIN for pid that
 * serves the one socket passed. The answer: an int, 0 with the child's
 * pidfd or -errno.
 */
enum { SREQ_SPAWN = 1, SREQ_STANDIN = 2 };

struct sreq {
	int32_t type, pid, nr, nr_fds;
	int32_t target[BPROC_STREAMS_MAX];
	uint8_t src[BPROC_STREAMS_MAX];
};

static long restorer_clone(pid_t pid, const struct space_fds *fds, int *pidfd);
static void __attribute__((noreturn)) serve(int sock, bool init);

/*
 * pid 1 of the namespace: a private /proc, then reap until the agent goes,
 * and serve the agent's requests on sock (3 once it runs).
 */
static void __attribute__((noreturn)) space_init_main(int ready_fd, int sock)
{
	sigset_t all;
	char ok = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "bproc-space");
	/* nothing of the agent's: a pipe end kept here would never see EOF */
	sock = fcntl(sock, F_DUPFD, 5);
	ready_fd = fcntl(ready_fd, F_DUPFD, 5);
	if (sock < 0 || ready_fd < 0 || dup2(sock, 3) != 3 ||
	    dup2(ready_fd, 4) != 4)
		_exit(1);
	close_range(5, ~0U, 0);
	if (unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0 &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) == 0)
		ok = 2;
	if (write(4, &ok, 1) != 1)
		_exit(1);
	close(4);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	serve(3, true);
}

/* ---- the init's and the stand-ins' side ---- */

/* A request's restorer, made here: its pidfd in *pidfd, or -errno. */
static int serve_spawn(const struct sreq *q, const int *fds, int nr_fds,
		       int *pidfd)
{
	static int src[BPROC_STREAMS_MAX];
	struct space_fds f;
	long r;
	int i;

	if (q->pid <= 1 || q->nr < 0 || q->nr > (int)BPROC_STREAMS_MAX ||
	    nr_fds < 3)
		return -EINVAL;
	for (i = 0; i < q->nr; i++) {
		if (q->src[i] >= nr_fds - 3)
			return -EINVAL;
		src[i] = fds[3 + q->src[i]];
	}
	f.nr = q->nr;
	f.src = src;
	f.target = q->target;
	f.structure = fds[0];
	f.image = fds[1];
	f.notify = fds[2];
	r = restorer_clone(q->pid, &f, pidfd);
	return r < 0 ? (int)r : 0;
}

/* The init makes a stand-in for pid, which serves its_sock. */
static int serve_standin(pid_t pid, int its_sock, int *pidfd)
{
	struct clone_args a;
	pid_t tid = pid;
	long r;

	memset(&a, 0, sizeof(a));
	a.flags = CLONE_PIDFD;
	a.pidfd = (uint64_t)(uintptr_t)pidfd;
	a.exit_signal = SIGCHLD;
	a.set_tid = (uint64_t)(uintptr_t)&tid;
	a.set_tid_size = 1;
	r = syscall(SYS_clone3, &a, sizeof(a));
	if (r < 0)
		return -errno;
	if (r == 0) {
		/* a fork of the init: nothing of it but the new socket */
		prctl(PR_SET_NAME, "bproc-standin");
		if (dup2(its_sock, 3) != 3)
			_exit(1);
		close_range(4, ~0U, 0);
		serve(3, false);
	}
	return 0;
}

/* One request: 1 when answered, 0 at the end of the socket. */
static int serve_one(int sock, bool init)
{
	static struct sreq q;
	union {
		char buf[CMSG_SPACE(sizeof(int) * PASS_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec v = { .iov_base = &q, .iov_len = sizeof(q) };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	int fds[PASS_MAX], nr_fds = 0, pidfd = -1, err, i;
	struct cmsghdr *c;
	ssize_t n;

	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k && nr_fds < PASS_MAX; i++)
			memcpy(&fds[nr_fds++], CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
	}
	if (n != sizeof(q) || q.nr_fds != nr_fds || m.msg_flags & MSG_CTRUNC)
		err = -EPROTO;
	else if (q.type == SREQ_SPAWN)
		err = serve_spawn(&q, fds, nr_fds, &pidfd);
	else if (q.type == SREQ_STANDIN && init && nr_fds == 1 && q.pid > 1)
		err = serve_standin(q.pid, fds[0], &pidfd);
	else
		err = -EPROTO;
	for (i = 0; i < nr_fds; i++)
		close(fds[i]);
	/* the answer, with the child's pidfd */
	v.iov_base = &err;
	v.iov_len = sizeof(err);
	memset(&m, 0, sizeof(m));
	m.msg_iov = &v;
	m.msg_iovlen = 1;
	if (pidfd >= 0) {
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
	}
	n = sendmsg(sock, &m, MSG_NOSIGNAL);
	if (pidfd >= 0)
		close(pidfd);
	return n < 0 ? 0 : 1;
}

/*
 * Reap children (orphans, for the init; the restored processes once they
 * ended, for a stand-in: the agent knows their ends from the namespace's
 * events) and serve requests; a stand-in ends with its socket, and its
 * children are the init's then.
 */
static void __attribute__((noreturn)) serve(int sock, bool init)
{
	struct signalfd_siginfo si;
	struct pollfd p[2];
	sigset_t chld;
	int sfd;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		p[0].fd = sfd;
		p[0].events = POLLIN;
		p[1].fd = sock;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		/* without a signalfd, look for the dead every second */
		if (poll(p, 2, sfd < 0 ? 1000 : -1) < 0)
			continue;
		while (sfd >= 0 && read(sfd, &si, sizeof(si)) > 0)
			;
		if (sock >= 0 && p[1].revents && !serve_one(sock, init)) {
			if (!init)
				_exit(0);
			close(sock);
			sock = -1;
		}
	}
}

/* BPROC_IOC_SPACE on pid's namespace: its descriptor, or -errno. */
static int space_open_watch(pid_t pid, uint32_t flags, uint32_t lo, uint32_t hi)
{
	struct bproc_space_args a = { 0 };
	int dev = open(BPROC_DEVICE, O_RDWR | O_CLOEXEC), err = 0;

	if (dev < 0)
		return -errno;
	a.pid = pid;
	a.flags = flags;
	a.pid_lo = lo;
	a.pid_hi = hi;
	if (ioctl(dev, BPROC_IOC_SPACE, &a))
		err = -errno;
	close(dev);
	if (err)
		return err;
	fcntl(a.fd, F_SETFL, O_NONBLOCK);
	return a.fd;
}

/* pid_max is the kernel's: at least the pids the cluster hands out. */
static void raise_pid_max(void)
{
	char buf[32];
	long max = 0;
	int fd = open("/proc/sys/kernel/pid_max", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		max = strtol(buf, NULL, 10);
	}
	if (max > 0 && max < (long)BPROC_PID_MAX) {
		n = snprintf(buf, sizeof(buf), "%u\n", BPROC_PID_MAX);
		if (pwrite(fd, buf, (size_t)n, 0) != n)
			pr_warn("pid_max %ld: cannot raise it to %u: %m", max,
				BPROC_PID_MAX);
		else
			pr_info("pid_max raised from %ld to %u", max,
				BPROC_PID_MAX);
	}
	close(fd);
}

void space_start(void)
{
	raise_pid_max();
	if (!agent->front)
		return;
	/* the front end's own pids stay below the nodes' */
	watch_fd = space_open_watch(0, 0, 300, BPROC_PID_FRONT_MAX);
	if (watch_fd < 0)
		pr_warn("the front end's pids are not kept below %u: %s",
			BPROC_PID_FRONT_MAX, strerror(-watch_fd));
}

void space_set_range(uint32_t lo, uint32_t hi)
{
	if (range_hi && (lo != range_lo || hi != range_hi))
		pr_warn("a new pid range [%u, %u): this node keeps [%u, %u)",
			lo, hi, range_lo, range_hi);
	if (range_hi)
		return;
	range_lo = lo;
	range_hi = hi;
	pr_debug("pids of the processes started here: [%u, %u)", lo, hi);
}

/*
 * A restorer's own fork or exec (or its end), or anything a stand-in does:
 * true when it is ours. A restorer is forgotten once it exec'd or ended, a
 * stand-in once reaped.
 */
static bool restorer_event(const struct bproc_space_event *ev)
{
	unsigned int i;

	for (i = 0; i < STANDINS_MAX; i++)
		if (helpers[i] && helpers[i] == ev->lpid) {
			if (ev->type == BPROC_SPACE_REAPED)
				helpers[i] = 0;
			return true;
		}
	if (ev->type != BPROC_SPACE_EXEC && ev->type != BPROC_SPACE_EXIT &&
	    ev->type != BPROC_SPACE_FORK)
		return false;
	for (i = 0; i < ZOMBIES_MAX; i++)
		if (restorers[i] && restorers[i] == ev->lpid) {
			if (ev->type == BPROC_SPACE_FORK)
				return true;
			restorers[i] = 0;
			return ev->type == BPROC_SPACE_EXEC;
		}
	return false;
}

/*
 * After a round of events, the next waits a while: a process that forks
 * and waits for child after child would otherwise have this agent take
 * the CPU from it three times a child (fork, exit, reaping), each for
 * little. A round that comes as soon as the wait is over (the namespace is
 * busy) doubles the wait, up to EVENTS_GATHER_MAX_MS, so that one round
 * takes several children; a quiet namespace goes back to the shortest.
 * Nobody waits for these events but the front end.
 */
#define EVENTS_GATHER_MS 3
#define EVENTS_GATHER_MAX_MS 24
static int64_t events_after_ms, events_gather_ms = EVENTS_GATHER_MS;

static void watch_polled(void *obj, short revents)
{
	struct bproc_space_event ev[64];
	int64_t now = bp_now_ms();
	ssize_t n;
	int i;

	(void)obj;
	(void)revents;
	if (now < events_after_ms + events_gather_ms)
		events_gather_ms = events_gather_ms * 2 > EVENTS_GATHER_MAX_MS ?
					   EVENTS_GATHER_MAX_MS :
					   events_gather_ms * 2;
	else
		events_gather_ms = EVENTS_GATHER_MS;
	events_after_ms = now + events_gather_ms;
	do {
		n = read(watch_fd, ev, sizeof(ev));
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++)
			if (!restorer_event(&ev[i]))
				hosted_space_event(&ev[i]);
	} while (n == (ssize_t)sizeof(ev));
}

void space_events_now(void)
{
	if (watch_fd >= 0)
		watch_polled(NULL, POLLIN);
}

/* bproc-ckpt beside this program, in ../bin, or in the source tree. */
static void find_ckpt(void)
{
	static const char *const rel[] = { "bproc-ckpt", "../bin/bproc-ckpt",
					   "../ckpt/bproc-ckpt" };
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t i;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			slash[1] = '\0';
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(ckpt_path, sizeof(ckpt_path), "%s%s", self,
				 rel[i]);
			if (access(ckpt_path, X_OK) == 0)
				return;
		}
	}
	snprintf(ckpt_path, sizeof(ckpt_path), "/usr/local/bin/bproc-ckpt");
}

const char *space_ckpt_path(void)
{
	if (!ckpt_path[0])
		find_ckpt();
	return ckpt_path;
}

int space_init(void)
{
	char path[64], ok = 0;
	int p[2], sv[2];

	find_ckpt();
	own_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_ns < 0) {
		pr_perror("/proc/self/ns/pid");
		return -errno;
	}
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -errno;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("socketpair");
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (unshare(CLONE_NEWPID)) {
		pr_perror("unshare(CLONE_NEWPID)");
		close(p[0]);
		close(p[1]);
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	init_pid = fork();
	if (init_pid == 0)
		space_init_main(p[1], sv[1]);
	/* threads can only be made with our own namespace for children */
	if (setns(own_ns, CLONE_NEWPID))
		pr_perror("setns back to our pid namespace");
	close(p[1]);
	close(sv[1]);
	init_sock = sv[0];
	if (init_pid < 0) {
		pr_perror("fork");
		close(p[0]);
		close_fd(&init_sock);
		return -ECHILD;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", init_pid);
	moved_ns = open(path, O_RDONLY | O_CLOEXEC);
	if (read(p[0], &ok, 1) != 1)
		ok = 0;
	close(p[0]);
	if (!ok || moved_ns < 0) {
		pr_err("the namespace's init did not start");
		return -ECHILD;
	}
	if (ok == 2) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", init_pid);
		mnt_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (mnt_fd < 0)
		pr_warn("moved processes share this node's /proc");
	watch_fd = space_open_watch(init_pid,
				    BPROC_SPACE_EVENTS | BPROC_SPACE_EXECS |
					    BPROC_SPACE_THREADS,
				    range_lo, range_hi);
	if (watch_fd == -EINVAL) {
		/* an engine before 1.8: the front end hears of no thread */
		watch_fd = space_open_watch(
			init_pid, BPROC_SPACE_EVENTS | BPROC_SPACE_EXECS,
			range_lo, range_hi);
	}
	if (watch_fd == -EINVAL) {
		/* an engine before 1.6: ghosts keep the names they had */
		pr_warn("the engine does not report execs: ghosts on the front "
			"end keep the name a process had there");
		watch_fd = space_open_watch(init_pid, BPROC_SPACE_EVENTS,
					    range_lo, range_hi);
	}
	if (watch_fd < 0)
		pr_warn("the processes moved processes start here will not "
			"join the cluster: %s",
			strerror(-watch_fd));
	ready = true;
	pr_info("moved processes live in pid namespace of %d (%s)", init_pid,
		ckpt_path);
	return 0;
}

/*
 * Async-signal-safe, and nothing written but the child's own stack and
 * descriptors: it runs in the agent's memory until it execs.
 */
static void __attribute__((noreturn))
child_fail(int notify, const char *what, int err)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "E%d %s: %s\n", err, what,
			 strerror(err));

	if (n > 0 && write(notify, buf, (size_t)n) < 0)
		_exit(126);
	_exit(127);
}

static bool is_target(const struct space_fds *f, int fd)
{
	int i;

	for (i = 0; i < f->nr; i++)
		if (f->target[i] == fd)
			return true;
	return false;
}

/*
 * In the child: the process's descriptors at their numbers (0-2 that it
 * does not get stay closed, as they were), bproc-ckpt's three just above
 * them all, and nothing else; then exec.
 */
static void __attribute__((noreturn)) child_main(const struct space_fds *f)
{
	static const char adj[] = "1000";
	/* (in the memory of whoever forked it, idle until it has exec'd) */
	static int tmp[BPROC_STREAMS_MAX];
	const int ctl[3] = { f->structure, f->image, f->notify };
	int top = 3, tmp_ctl[3], i, fd, note = f->notify;
	char args[3][16];
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (mnt_fd >= 0 && setns(mnt_fd, CLONE_NEWNS))
		child_fail(note, "restorer: setns", errno);
	for (i = 0; i < f->nr; i++)
		if (f->target[i] + 1 > top)
			top = f->target[i] + 1;
	/* out of the way of every number that matters, first */
	for (i = 0; i < 3; i++) {
		tmp_ctl[i] = fcntl(ctl[i], F_DUPFD, top + 3);
		if (tmp_ctl[i] < 0)
			child_fail(note, "restorer: fcntl", errno);
	}
	note = tmp_ctl[2];
	/*
	 * All of ours out of the way too before any goes in place: one may
	 * have the number another is to have (a stand-in's few descriptors
	 * are low ones).
	 */
	for (i = 0; i < f->nr; i++) {
		tmp[i] = fcntl(f->src[i], F_DUPFD, top + 3);
		if (tmp[i] < 0)
			child_fail(note, "restorer: fcntl", errno);
	}
	for (i = 0; i < f->nr; i++)
		if (dup2(tmp[i], f->target[i]) < 0)
			child_fail(note, "restorer: dup2", errno);
	for (i = 0; i < 3; i++) {
		if (dup2(tmp_ctl[i], top + i) < 0)
			child_fail(note, "restorer: dup2", errno);
		snprintf(args[i], sizeof(args[i]), "%d", top + i);
	}
	note = top + 2;
	close_range((unsigned int)top + 3, ~0U, 0);
	for (fd = 0; fd < top; fd++)
		if (!is_target(f, fd))
			close(fd);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	/* while it restores, an out-of-memory node sacrifices it first */
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, adj, sizeof(adj) - 1) < 0)
			child_fail(note, "restorer: oom_score_adj", errno);
		close(fd);
	}
	setsid();
	execl(ckpt_path, "bproc-ckpt", "restore", "--agent", args[0], args[1],
	      args[2], (char *)NULL);
	child_fail(note, "restorer: exec bproc-ckpt", errno);
}

/*
 * clone3 as vfork: the child runs fn(arg) on its own stack in our memory,
 * and we wait until it has exec'd (or died), so that nothing of ours is
 * copied, neither now nor by the copy-on-write faults that a fork would
 * cost us later.  Returns what clone3 does here: the child's pid or -errno.
 */
static long clone3_vfork(struct clone_args *args, void (*fn)(const void *),
			 const void *arg)
{
	long ret;

	__asm__ volatile("mov %[fn], %%r12\n\t"
			 "mov %[arg], %%r13\n\t"
			 "syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 /* the child, on its stack: fn never returns */
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov $60, %%eax\n\t"
			 "mov $127, %%edi\n\t"
			 "syscall\n\t"
			 "1:\n\t"
			 : "=a"(ret)
			 : "0"((long)SYS_clone3), "D"(args),
			   "S"(sizeof(*args)), [fn] "r"(fn), [arg] "r"(arg)
			 : "rcx", "r11", "r12", "r13", "memory");
	return ret;
}

static void spawn_child(const void *fds)
{
	child_main(fds);
}

/*
 * The restorer as our child, in the namespace we make children in: its
 * pid (ours) and *pidfd, or -errno.
 */
static long restorer_clone(pid_t pid, const struct space_fds *fds, int *pidfd)
{
	/* one child at a time uses it: we wait while it does */
	static uint8_t stack[64 << 10] __attribute__((aligned(16)));
	struct clone_args args;
	pid_t tid = pid;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD | CLONE_VM | CLONE_VFORK;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	args.stack = (uint64_t)(uintptr_t)stack;
	args.stack_size = sizeof(stack);
	args.set_tid = (uint64_t)(uintptr_t)&tid;
	args.set_tid_size = 1;
	return clone3_vfork(&args, spawn_child, fds);
}

/* ---- the agent's side of the init and the stand-ins ---- */

/* The pid (in our namespace) a pidfd is of, or -1. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	long pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	fclose(f);
	return (pid_t)pid;
}

/*
 * A request on sock, with its descriptors, and its answer (at most
 * ASK_TIMEOUT_MS away: the other side only forks): 0 with *pidfd, or
 * -errno (-EPIPE: the other side is gone or does not answer).
 */
static int ask(int sock, const struct sreq *q, const int *fds, int *pidfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * PASS_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec v = { .iov_base = (void *)q, .iov_len = sizeof(*q) };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	int err = -EPIPE;
	ssize_t n;

	*pidfd = -1;
	memset(u.buf, 0, sizeof(u.buf));
	if (q->nr_fds) {
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)q->nr_fds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)q->nr_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)q->nr_fds);
	}
	if (sendmsg(sock, &m, MSG_NOSIGNAL) != (ssize_t)sizeof(*q))
		return -EPIPE;
	if (poll(&p, 1, ASK_TIMEOUT_MS) != 1)
		return -EPIPE;
	v.iov_base = &err;
	v.iov_len = sizeof(err);
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(err))
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(pidfd, CMSG_DATA(c), sizeof(int));
	if (!err && *pidfd < 0)
		err = -EPIPE;
	if (err)
		close_fd(pidfd);
	return err;
}

static struct standin *standin_find(pid_t pid)
{
	unsigned int i;

	/* pid 0: a free slot */
	for (i = 0; i < STANDINS_MAX; i++)
		if (standins[i].pid == pid)
			return &standins[i];
	return NULL;
}

/* Its socket closed: it ends, and the init adopts its children. */
static void standin_end(struct standin *s, const char *why)
{
	pr_debug("the stand-in for %d ends: %s", s->pid, why);
	close_fd(&s->sock);
	hosted_reparented(s->pid);
	s->pid = 0;
	nr_standins--;
}

/* The stand-in for ppid, made if need be, or NULL. */
static struct standin *standin_get(pid_t ppid)
{
	struct standin *s = standin_find(ppid);
	struct sreq *q;
	int sv[2], pidfd, err;
	unsigned int i;
	pid_t lpid;

	if (s)
		return s;
	s = standin_find(0);
	if (!s || init_sock < 0)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("socketpair");
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	q->type = SREQ_STANDIN;
	q->pid = ppid;
	q->nr_fds = 1;
	err = ask(init_sock, q, &sv[1], &pidfd);
	free(q);
	close(sv[1]);
	if (err == -EPIPE) {
		pr_err("the namespace's init does not answer");
		close_fd(&init_sock);
	}
	if (err) {
		pr_debug("no stand-in for %d: %s", ppid, strerror(-err));
		close(sv[0]);
		return NULL;
	}
	lpid = pidfd_pid(pidfd);
	close(pidfd);
	for (i = 0; i < STANDINS_MAX && helpers[next_helper % STANDINS_MAX];
	     i++)
		next_helper++;
	helpers[next_helper++ % STANDINS_MAX] = lpid;
	s->pid = ppid;
	s->sock = sv[0];
	nr_standins++;
	pr_debug("a stand-in for %d (%d here)", ppid, lpid);
	return s;
}

/*
 * The restorer made by the holder of sock (a stand-in, the init): 0 with
 * *pidfd, or -errno.
 */
static int spawn_by(int sock, pid_t pid, const struct space_fds *fds,
		    int *pidfd)
{
	int pass[PASS_MAX], nr = 3, i, k, err;
	struct sreq *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	pass[0] = fds->structure;
	pass[1] = fds->image;
	pass[2] = fds->notify;
	for (i = 0; i < fds->nr; i++) {
		for (k = 3; k < nr && pass[k] != fds->src[i]; k++)
			;
		if (k == nr && nr == PASS_MAX) {
			free(q);
			return -E2BIG;
		}
		if (k == nr)
			pass[nr++] = fds->src[i];
		q->src[i] = (uint8_t)(k - 3);
		q->target[i] = fds->target[i];
	}
	q->type = SREQ_SPAWN;
	q->pid = pid;
	q->nr = fds->nr;
	q->nr_fds = nr;
	err = ask(sock, q, pass, pidfd);
	free(q);
	return err;
}

int space_spawn(pid_t pid, pid_t ppid, const struct space_fds *fds, pid_t *lpid,
		int *pidfd, pid_t *under)
{
	struct standin *s;
	int pfd = -1, sock = -1, err;
	long r;

	*under = 0;
	if (!ready && space_init())
		return -ENOSYS;
	if (pid <= 1)
		return -EINVAL;
	/* a stand-in for it gives way; the pid is free once it is reaped */
	s = standin_find(pid); /* pid > 1 */
	if (s) {
		standin_end(s, "its process comes here");
		return -EEXIST;
	}
	/* its parent here: a stand-in, or the init for a parent gone */
	if (watch_fd >= 0 && ppid == 1) {
		sock = init_sock;
	} else if (watch_fd >= 0 && ppid > 1 && ppid != pid &&
		   !hosted_find(ppid)) {
		s = standin_get(ppid);
		sock = s ? s->sock : -1;
	}
	if (sock >= 0) {
		err = spawn_by(sock, pid, fds, &pfd);
		if (err == -EEXIST)
			return err;
		if (!err) {
			r = pidfd_pid(pfd);
			if (r <= 0) {
				/* it ended before we knew it */
				close(pfd);
				return -ECHILD;
			}
			*under = ppid;
			goto spawned;
		}
		pr_warn("pid %d: no restorer by the holder of its parent's pid "
			"%d (%s): it is our child (getppid() 0)",
			pid, ppid, strerror(-err));
		if (err == -EPIPE && s)
			standin_end(s, "it does not answer");
	}
	if (setns(moved_ns, CLONE_NEWPID))
		return -errno;
	r = restorer_clone(pid, fds, &pfd);
	if (setns(own_ns, CLONE_NEWPID))
		pr_perror("setns back to our pid namespace");
	if (r < 0)
		return (int)r;
	fcntl(pfd, F_SETFD, FD_CLOEXEC);
spawned:
	/* it has exec'd bproc-ckpt (or died) by now: not the process's exec */
	restorers[next_restorer++ % ZOMBIES_MAX] = (pid_t)r;
	*lpid = (pid_t)r;
	*pidfd = pfd;
	return 0;
}

/* Stand-ins none of whose children here has its pid as their parent end. */
static void standins_check(void)
{
	unsigned int i;

	/* (each round of the loop: nothing to do without a stand-in) */
	for (i = 0; nr_standins && i < STANDINS_MAX; i++)
		if (standins[i].pid && !hosted_wants_parent(standins[i].pid) &&
		    !recv_wants_parent(standins[i].pid))
			standin_end(&standins[i], "no child of its pid here");
}

static void zombie_polled(void *obj, short revents)
{
	int i = (int)(intptr_t)obj;
	siginfo_t si;

	(void)revents;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)zombies[i], &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid == 0)
		return; /* not yet */
	close(zombies[i]);
	zombies[i] = -1;
}

void space_reap(int pidfd)
{
	int i;

	if (pidfd < 0)
		return;
	for (i = 0; i < nr_zombies; i++)
		if (zombies[i] < 0)
			break;
	if (i == ZOMBIES_MAX) {
		/* never block the loop: leave it to the namespace's end */
		pr_warn("too many children to reap");
		close(pidfd);
		return;
	}
	zombies[i] = pidfd;
	if (i == nr_zombies)
		nr_zombies++;
}

void space_watch(void)
{
	int i;

	standins_check();
	if (watch_fd >= 0 && !agent->front) {
		if (bp_now_ms() < events_after_ms)
			loop_wake_at(events_after_ms);
		else
			loop_add(watch_fd, POLLIN, watch_polled, NULL);
	}
	while (nr_zombies && zombies[nr_zombies - 1] < 0)
		nr_zombies--;
	for (i = 0; i < nr_zombies; i++)
		if (zombies[i] >= 0)
			loop_add(zombies[i], POLLIN, zombie_polled,
				 (void *)(intptr_t)i);
}
