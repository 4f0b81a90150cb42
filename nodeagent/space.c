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
 * A child that is killed before it was anyone's (a restore given up) is
 * reaped here without blocking (space_reap).
 *
 * The engine watches the namespace (BPROC_IOC_SPACE): every fork, exit,
 * reaping and exec there is an event for hosted.c (but the exec of
 * bproc-ckpt by a restorer, which is ours, not the process's), and its new pids are in the
 * node's range (PID_RANGE from the master), so that what moved processes
 * start here joins the cluster under pids no other host hands out. On the
 * front end the engine keeps the front end's own pids below the nodes'.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../common/log.h"
#include "agent.h"

#define ZOMBIES_MAX 256

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

/* pid 1 of the namespace: a private /proc, then reap until the agent goes. */
static void __attribute__((noreturn)) space_init_main(int ready_fd)
{
	sigset_t all, chld;
	char ok = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "bproc-space");
	/* nothing of the agent's: a pipe end kept here would never see EOF */
	if (ready_fd > 3)
		close_range(3, (unsigned int)ready_fd - 1, 0);
	close_range((unsigned int)ready_fd + 1, ~0U, 0);
	if (unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0 &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) == 0)
		ok = 2;
	if (write(ready_fd, &ok, 1) != 1)
		_exit(1);
	close(ready_fd);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	/* orphans keep coming: reap them, then wait for the next one */
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		sigwaitinfo(&chld, NULL);
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

/* A restorer's own exec (or its end): true, and it is forgotten. */
static bool restorer_event(const struct bproc_space_event *ev)
{
	unsigned int i;

	if (ev->type != BPROC_SPACE_EXEC && ev->type != BPROC_SPACE_EXIT)
		return false;
	for (i = 0; i < ZOMBIES_MAX; i++)
		if (restorers[i] && restorers[i] == ev->lpid) {
			restorers[i] = 0;
			return ev->type == BPROC_SPACE_EXEC;
		}
	return false;
}

/*
 * After a round of events, the next waits this long: a process that forks
 * and waits for child after child would otherwise have this agent take
 * the CPU from it three times a child (fork, exit, reaping), each for
 * little. Nobody waits for these events but the front end.
 */
#define EVENTS_GATHER_MS 3
static int64_t events_after_ms;

static void watch_polled(void *obj, short revents)
{
	struct bproc_space_event ev[64];
	ssize_t n;
	int i;

	(void)obj;
	(void)revents;
	events_after_ms = bp_now_ms() + EVENTS_GATHER_MS;
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

int space_init(void)
{
	char path[64], ok = 0;
	int p[2];

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
	if (unshare(CLONE_NEWPID)) {
		pr_perror("unshare(CLONE_NEWPID)");
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	init_pid = fork();
	if (init_pid == 0) {
		close(p[0]);
		space_init_main(p[1]);
	}
	/* threads can only be made with our own namespace for children */
	if (setns(own_ns, CLONE_NEWPID))
		pr_perror("setns back to our pid namespace");
	close(p[1]);
	if (init_pid < 0) {
		pr_perror("fork");
		close(p[0]);
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
	for (i = 0; i < f->nr; i++) {
		int t = fcntl(f->src[i], F_DUPFD, top + 3);

		if (t < 0 || dup2(t, f->target[i]) < 0)
			child_fail(note, "restorer: dup2", errno);
	}
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

int space_spawn(pid_t pid, const struct space_fds *fds, pid_t *lpid, int *pidfd)
{
	/* one child at a time uses it: we wait while it does */
	static uint8_t stack[64 << 10] __attribute__((aligned(16)));
	struct clone_args args;
	pid_t tid = pid;
	int pfd = -1;
	long r;

	if (!ready && space_init())
		return -ENOSYS;
	if (pid <= 1)
		return -EINVAL;
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD | CLONE_VM | CLONE_VFORK;
	args.pidfd = (uint64_t)(uintptr_t)&pfd;
	args.exit_signal = SIGCHLD;
	args.stack = (uint64_t)(uintptr_t)stack;
	args.stack_size = sizeof(stack);
	args.set_tid = (uint64_t)(uintptr_t)&tid;
	args.set_tid_size = 1;
	if (setns(moved_ns, CLONE_NEWPID))
		return -errno;
	r = clone3_vfork(&args, spawn_child, fds);
	if (setns(own_ns, CLONE_NEWPID))
		pr_perror("setns back to our pid namespace");
	if (r < 0)
		return (int)r;
	fcntl(pfd, F_SETFD, FD_CLOEXEC);
	/* it has exec'd bproc-ckpt (or died) by now: not the process's exec */
	restorers[next_restorer++ % ZOMBIES_MAX] = (pid_t)r;
	*lpid = (pid_t)r;
	*pidfd = pfd;
	return 0;
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
