// SPDX-License-Identifier: GPL-2.0
/*
 * bproc-ckpt - checkpoint a process to a file and restore it, with the
 * bproc engine (/dev/bproc, include/bproc/bproc.h).
 *
 *   bproc-ckpt dump [--kill] [--send path|whole] [--libs] [--exec] [--other]
 *                   [--streams] PID FILE|-
 *   bproc-ckpt restore [--kernel-only] FILE
 *   bproc-ckpt restore -            (the image streamed on stdin)
 *   bproc-ckpt restore --agent STRUCT_FD IMAGE_FD NOTIFY_FD
 *
 * dump: the process writes its image to FILE ("-": stdout, e.g. a pipe)
 * and goes on running (or is killed with --kill, once the image is complete
 * and, in a regular file, synced). --libs, --exec and
 * --other put shared libraries, the executable and other private file
 * mappings in the image by content instead of by path (--exec also the
 * program's file itself, whole: where the image is restored,
 * /proc/PID/exe is an in-memory copy named "PATH (deleted)"); --send whole all
 * three, --send path none of them (the default: an image file has no
 * destination to ask what it has, as a move's "auto" does, and one meant
 * for another machine says so). --streams records
 * pipes, sockets, devices and deleted files open at fds 3 and up as
 * streams (BPROC_DUMP_STREAMS) instead of refusing them: only restore
 * --agent, given them, restores such an image. Threads, shared anonymous
 * memory and kernel objects (eventfd, timerfd, signalfd, epoll, memfd:
 * BPROC_DUMP_ANONFDS) always go into the image.
 *
 * restore: this process becomes the checkpointed program. Before the engine
 * replaces its memory and registers, it takes the image's process
 * environment (the TASKENV section): rlimits, credentials (set with
 * setresuid & co., so it never gains a privilege it did not have), working
 * directory, umask and the open regular files, reopened by path with the
 * same flags and offset at the same descriptor numbers, and the kernel
 * objects of the FDS section, made anew at theirs with their state (the
 * engine only checks that they are there). Its own
 * stdin/stdout/stderr are kept. It also moves its vDSO to where the image
 * had it (re-executing itself if its own mappings are in the way).
 *
 * restore - reads the image from stdin, a pipe or a socket: the structure
 * is read first, and a helper process feeds it and then the rest of the
 * stream to the engine through a pipe; the restored program's stdin is then
 * /dev/null. (If the vDSO's place is taken, this fails instead of
 * re-executing.) An image with threads is read whole into memory first,
 * and a thread id still taken is waited for (5 s at most): that of the
 * process dumped into the stream on this machine, which ends only once its
 * image is read.
 *
 * restore --agent is how a node agent restores a process that moves in: it
 * forks this program with the process's pid (in the node's pid namespace)
 * and its stdin/stdout/stderr already in place, and hands it three
 * descriptors: STRUCT_FD, the image's structure (everything up to the PAGES
 * section header), read here for the TASKENV work: a seekable file such as
 * a memfd, or a pipe the agent writes it to and closes (so that it can
 * start this program before the image has come); IMAGE_FD, the whole image
 * from its first byte, a pipe the agent feeds, read by the engine;
 * NOTIFY_FD, a pipe back to the agent. On
 * success the engine writes one byte 0x01 to NOTIFY_FD just before the
 * program runs (BPROC_RESTORE_NOTIFY); a failure writes one line
 * "E<errno> <what>: <why>" there instead, and nothing goes to the
 * program's stderr. Every other descriptor open when it starts is one the
 * agent gives the program, at its number (0-2 included; those it does not
 * give stay closed): the process's streams (BPROC_DUMP_STREAMS: what the
 * agents forward, whatever it is on the front end, a file or a socket as
 * well as a pipe or a terminal), each taking the place of the image's file
 * at that number; the three descriptors must be above them. Since no
 * stream has been read when the vDSO is placed, re-executing this program
 * to move it stays possible.
 *
 * objects SOCK_FD STRUCT_FD (not for people: the front end's agent runs it
 * for a process that comes home into its ghost, which no program can
 * replace) makes the kernel objects of the structure's FDS section, with
 * their state, at their fds among the descriptors the agent gave at the
 * process's numbers (its streams: an epoll registration is keyed by file
 * and fd number, so one watching a stream must be made with that stream
 * at that number), with make_fds as restore does, and sends each back
 * over the SOCK_FD socket (SOCK_SEQPACKET): messages "F" + pad + fd
 * numbers with the descriptors (SCM_RIGHTS), then "D"; a failure sends
 * "E<errno> <what>: <why>" instead. STRUCT_FD holds the image's sections
 * before PAGES (FDS, MEMFD and the PATHS they name at least). An image's
 * file that an epoll watches and that is no stream is opened here by
 * path, at its number, and sent back after the objects (the ghost's own
 * reopening of it would not be the file registered).
 *
 * restore --kernel-only hands the image to the engine as it is, with no
 * check and no TASKENV here (the vDSO is still moved when the MM section
 * reads well): the engine's own checks are then all that stands between a
 * bad image and the process, which is what the robustness tests want.
 *
 * Errors print one line with the errno name and the engine's reason; the
 * exit status is 1 (2 for usage).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bproc/bproc.h>
#include "imgread.h"
#include "vdso.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

#define REEXEC_ENV "BPROC_CKPT_REEXEC"
#define REEXEC_MAX 16

static void usage(void)
{
	fprintf(stderr,
		"usage: bproc-ckpt dump [--kill] [--send path|whole] [--libs] [--exec] [--other]\n"
		"                       [--streams] PID FILE|-\n"
		"       bproc-ckpt restore [--kernel-only] FILE|-\n"
		"       bproc-ckpt restore --agent STRUCT_FD IMAGE_FD NOTIFY_FD\n");
	exit(2);
}

/* restore --agent: failures go to the agent, not to the program's stderr. */
static int agent_notify = -1;

static void fail(const char *what, int err, const char *reason)
{
	const char *name = strerrorname_np(err);

	if (agent_notify >= 0) {
		dprintf(agent_notify, "E%d %s: %s%s%s\n", err, what,
			strerror(err), reason && reason[0] ? ": " : "",
			reason ? reason : "");
		exit(1);
	}
	fprintf(stderr, "bproc-ckpt: %s: %s (%s)%s%s\n", what, strerror(err),
		name ? name : "?", reason && reason[0] ? ": " : "",
		reason ? reason : "");
	exit(1);
}

static int open_engine(void)
{
	int fd = open(BPROC_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail("open " BPROC_DEVICE, errno, NULL);
	return fd;
}

/*
 * --send: "whole" carries the executable, the libraries and the other
 * file mappings in the image, "path" leaves them to the restoring machine.
 * "auto", a move's default, needs a destination to ask: not here.
 */
static unsigned int send_flags(const char *mode)
{
	if (!strcmp(mode, "whole"))
		return BPROC_DUMP_ALL;
	if (!strcmp(mode, "path"))
		return 0;
	fprintf(stderr,
		"bproc-ckpt: --send %s: path or whole (auto asks a move's "
		"destination; an image file has none)\n",
		mode);
	exit(2);
}

static int cmd_dump(int argc, char **argv)
{
	struct bproc_dump_args args;
	int i, dev, out, kill_it = 0, to_stdout;
	struct stat st;
	unsigned int flags = 0;
	char what[64], *end;
	long pid;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--kill"))
			kill_it = 1;
		else if (!strcmp(argv[i], "--send") && i + 1 < argc)
			flags |= send_flags(argv[++i]);
		else if (!strcmp(argv[i], "--libs"))
			flags |= BPROC_DUMP_LIBS;
		else if (!strcmp(argv[i], "--exec"))
			flags |= BPROC_DUMP_EXEC;
		else if (!strcmp(argv[i], "--other"))
			flags |= BPROC_DUMP_OTHER;
		else if (!strcmp(argv[i], "--streams"))
			flags |= BPROC_DUMP_STREAMS;
		else
			usage();
	}
	if (argc - i != 2)
		usage();
	errno = 0;
	pid = strtol(argv[i], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT32_MAX)
		fail("dump: bad pid", EINVAL, argv[i]);
	snprintf(what, sizeof(what), "dump %ld", pid);

	dev = open_engine();
	to_stdout = !strcmp(argv[i + 1], "-");
	out = to_stdout ? 1 :
			  open(argv[i + 1],
			       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		fail(argv[i + 1], errno, NULL);
	if (fstat(out, &st))
		fail(argv[i + 1], errno, NULL);
	memset(&args, 0, sizeof(args));
	args.pid = (int32_t)pid;
	args.fd = out;
	args.flags = flags | BPROC_DUMP_THREADS | BPROC_DUMP_SHANON |
		     BPROC_DUMP_ANONFDS;
	if (ioctl(dev, BPROC_IOC_DUMP, &args)) {
		int err = errno;

		if (!to_stdout)
			unlink(argv[i + 1]);
		fail(what, err, args.reason);
	}
	/* The process is parked until we decide. */
	if (kill_it && S_ISREG(st.st_mode) && fsync(out)) {
		int err = errno;

		ioctl(args.handle_fd, BPROC_IOC_RESUME);
		fail(what, err,
		     "fsync of the image failed; the process goes on");
	}
	if (ioctl(args.handle_fd, kill_it ? BPROC_IOC_KILL : BPROC_IOC_RESUME))
		fail(what, errno, "deciding the process's fate");
	close(args.handle_fd);
	if (!to_stdout && close(out))
		fail(argv[i + 1], errno, NULL);
	return 0;
}

/* struct clone_args of clone3(2), version 2 (with set_tid). */
struct ckpt_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define THREAD_STACK 4096

/* Milliseconds a thread id may take to be free (restore - of threads). */
static int tid_patience;

/*
 * A thread that waits in the engine to become the image's thread @tid
 * (BPROC_IOC_RESTORE_THREAD), made with clone3 and that very tid
 * (set_tid: we opened /dev/bproc, so we may). It runs nothing but that
 * ioctl and, should it return (the restore failed), exit: it has no C
 * runtime of its own (it shares our memory and TLS), so it is assembly,
 * with its arguments in registers that the child keeps.
 */
static void make_thread(int dev, int32_t tid)
{
	struct ckpt_clone_args ca;
	void *stack = mmap(NULL, THREAD_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	register long r12 __asm__("r12") = dev;
	register long r13 __asm__("r13") = BPROC_IOC_RESTORE_THREAD;
	pid_t set_tid = tid;
	char what[64];
	int waited = 0;
	long ret;

	if (stack == MAP_FAILED)
		fail("restore: thread stack", errno, NULL);
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
		   CLONE_THREAD | CLONE_SYSVSEM;
	ca.stack = (uintptr_t)stack;
	ca.stack_size = THREAD_STACK;
	ca.set_tid = (uintptr_t)&set_tid;
	ca.set_tid_size = 1;
again:
	__asm__ volatile(
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jnz 1f\n\t"
		"mov %[ioctl], %%eax\n\t"
		"mov %%r12, %%rdi\n\t"
		"mov %%r13, %%rsi\n\t"
		"xor %%edx, %%edx\n\t"
		"syscall\n\t"
		"mov %[exit], %%eax\n\t"
		"xor %%edi, %%edi\n\t"
		"syscall\n\t"
		"ud2\n"
		"1:\n"
		: "=a"(ret)
		: "0"((long)SYS_clone3), "D"(&ca), "S"(sizeof(ca)), "r"(r12),
		  "r"(r13), [ioctl] "i"(SYS_ioctl), [exit] "i"(SYS_exit)
		: "rcx", "r11", "rdx", "memory");
	if (ret == -EEXIST && waited < tid_patience) {
		usleep(10000); /* its dumped owner is still ending */
		waited += 10;
		goto again;
	}
	if (ret < 0) {
		snprintf(what, sizeof(what), "restore: thread %d", tid);
		fail(what, (int)-ret,
		     ret == -EEXIST ? "its thread id is taken here" :
				      "cannot make it with its thread id");
	}
}

/*
 * One thread per thread of the image, each with its tid, waiting for the
 * engine to make it the image's (see bproc.h, BPROC_IOC_RESTORE_THREAD).
 * They are made with every signal blocked; the engine gives each its own
 * mask, and our credentials once the image's are ours.
 */
static void make_threads(int dev, const struct img *img)
{
	uint32_t i, n = img_nr_threads(img);
	struct bproc_image_thread t;
	sigset_t all;

	if (!n)
		return;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (i = 0; i < n; i++) {
		if (img_thread(img, i, &t, NULL, NULL) || t.tid <= 0)
			fail("restore", EINVAL, "bad THREADS section");
		make_thread(dev, t.tid);
	}
}

static void reexec(char **argv)
{
	const char *s = getenv(REEXEC_ENV);
	int tries = s ? atoi(s) : 0;
	char buf[16];

	if (tries >= REEXEC_MAX)
		fail("restore", EBUSY,
		     "cannot move the vDSO to the image's address");
	snprintf(buf, sizeof(buf), "%d", tries + 1);
	setenv(REEXEC_ENV, buf, 1);
	execv("/proc/self/exe", argv);
	fail("restore: re-exec", errno, NULL);
}

/* Move our vDSO where the image had it; re-exec ourselves if in the way. */
static void place_vdso(const struct bproc_image_mm *m, char **argv)
{
	char why[128];
	int r = vdso_place(m, why, sizeof(why));

	if (r == VDSO_IN_THE_WAY)
		reexec(argv);
	else if (r)
		fail("restore", errno, why);
}

/* Move @fd to a number at or above @min; returns the new descriptor. */
static int move_fd(int fd, int min)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, min);

	if (n < 0)
		fail("restore: fcntl", errno, NULL);
	close(fd);
	return n;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every descriptor from 3 up but the @n in @keep. */
static void close_all_but(const int *keep, int n)
{
	int *k = malloc(((size_t)n + 1) * sizeof(int)), i, from = 3;

	if (!k)
		fail("restore", ENOMEM, NULL);
	memcpy(k, keep, (size_t)n * sizeof(int));
	qsort(k, (size_t)n, sizeof(int), cmp_int);
	for (i = 0; i < n; i++) {
		if (k[i] > from)
			close_range((unsigned int)from, (unsigned int)k[i] - 1,
				    0);
		if (k[i] + 1 > from)
			from = k[i] + 1;
	}
	close_range((unsigned int)from, ~0U, 0);
	free(k);
}

static bool is_kept(int fd, const int *keep, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fd == keep[i])
			return true;
	return false;
}

static bool is_stream(const struct bproc_image_file *f)
{
	return f->path == BPROC_IMAGE_NO_PATH;
}

/*
 * Keep @keep (@nkeep of them) and, for an agent, the descriptors it gave
 * (@given, @ngiven; NULL otherwise) where they are: each takes the place
 * of the image's file at its number, a stream or not (a file the process's
 * shell had redirected its output to is forwarded like stdout).  Anything
 * else from fd 3 up makes way for the image's files, reopened by path; a
 * stream (a file without a path) that nobody gave fails.
 */
/* Put new descriptor @fd at @e's number, with its flags; fail as @what. */
static void place_fd(int fd, const struct bproc_image_fd *e, const char *what)
{
	int cloexec = e->fd_flags & BPROC_FD_CLOEXEC;

	if (fd < 0)
		fail(what, errno, NULL);
	if (fcntl(fd, F_SETFL, (int)e->flags & (O_NONBLOCK | O_APPEND)))
		fail(what, errno, "its flags");
	if (fd == e->fd) {
		if (fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0))
			fail(what, errno, NULL);
		return;
	}
	if (dup3(fd, e->fd, cloexec ? O_CLOEXEC : 0) < 0)
		fail(what, errno, NULL);
	close(fd);
}

static void ts_of(struct timespec *ts, uint64_t sec, uint64_t nsec)
{
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = (long)nsec;
}

/*
 * A timerfd armed anew relative to now with the time it had left (or,
 * to be cancelled on a clock change, absolute at now plus that time); a
 * periodic one that had expired unread expires an interval from now.
 * Its expirations not read yet become its count again.
 */
static int make_timerfd(const struct bproc_image_fd *e, const char *what)
{
	struct itimerspec its;
	int fd = timerfd_create(e->timerfd.clockid, TFD_CLOEXEC), flags = 0;
	uint64_t ticks = e->timerfd.ticks;

	if (fd < 0)
		fail(what, errno, "timerfd_create");
	ts_of(&its.it_value, e->timerfd.value_sec, e->timerfd.value_nsec);
	ts_of(&its.it_interval, e->timerfd.interval_sec,
	      e->timerfd.interval_nsec);
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec && ticks)
		its.it_value = its.it_interval;
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) &&
	    e->timerfd.settime_flags & TFD_TIMER_CANCEL_ON_SET) {
		struct timespec now;

		if (clock_gettime(e->timerfd.clockid, &now))
			fail(what, errno, "clock_gettime");
		its.it_value.tv_sec += now.tv_sec;
		its.it_value.tv_nsec += now.tv_nsec;
		if (its.it_value.tv_nsec >= 1000000000L) {
			its.it_value.tv_nsec -= 1000000000L;
			its.it_value.tv_sec++;
		}
		flags = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET;
	}
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) &&
	    timerfd_settime(fd, flags, &its, NULL))
		fail(what, errno, "timerfd_settime");
	if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks))
		fail(what, errno, "its expirations");
	return fd;
}

static int make_memfd(const struct img *img, uint32_t n,
		      const struct bproc_image_fd *e, const char *what)
{
	const char *name = img_path(img, e->memfd.name);
	const char *data = img_memfd(img, n);
	uint32_t seals = e->memfd.seals;
	uint64_t off;
	int fd;

	if (!name || !data)
		fail(what, EINVAL, "bad memfd in the image");
	/* without F_SEAL_SEAL alone, sealing is allowed */
	fd = memfd_create(
		name,
		MFD_CLOEXEC | (seals == F_SEAL_SEAL ? 0 : MFD_ALLOW_SEALING));
	if (fd < 0)
		fail(what, errno, "memfd_create");
	if (ftruncate(fd, (off_t)e->memfd.size))
		fail(what, errno, "its size");
	for (off = 0; off < e->memfd.size;) {
		ssize_t w =
			pwrite(fd, data + off, e->memfd.size - off, (off_t)off);

		if (w <= 0)
			fail(what, w < 0 ? errno : EIO, "its content");
		off += (uint64_t)w;
	}
	if (seals && seals != F_SEAL_SEAL && fcntl(fd, F_ADD_SEALS, (int)seals))
		fail(what, errno, "its seals");
	if (lseek(fd, (off_t)e->memfd.pos, SEEK_SET) < 0)
		fail(what, errno, "its offset");
	return fd;
}

/*
 * The image's kernel objects (FDS), each made at its fd with its state,
 * then every epoll's targets, once all exist: the engine only checks
 * that they are there (bproc.h, BPROC_DUMP_ANONFDS).
 */
static void make_fds(const struct img *img, int agent)
{
	const struct bproc_image_fd *f;
	const struct bproc_image_epoll_target *t;
	uint32_t nr, nt, i;
	char what[64];

	if (img_fds(img, &f, &nr, &t, &nt))
		fail("restore", EINVAL, "bad FDS section");
	for (i = 0; i < nr; i++) {
		const struct bproc_image_fd *e = &f[i];
		int fd = -1;

		snprintf(what, sizeof(what), "restore: fd %d", e->fd);
		if (e->fd >= 65536)
			fail(what, EINVAL, "an fd too high");
		if (e->fd < 3 && !agent)
			fail(what, EINVAL,
			     "a kernel object at a stdio fd: only an agent restores it");
		switch (e->kind) {
		case BPROC_FD_EVENTFD:
			fd = eventfd(0, EFD_CLOEXEC | (e->eventfd.semaphore ?
							       EFD_SEMAPHORE :
							       0));
			if (fd >= 0 && e->eventfd.count &&
			    write(fd, &e->eventfd.count, 8) != 8)
				fail(what, errno, "its count");
			break;
		case BPROC_FD_TIMERFD:
			fd = make_timerfd(e, what);
			break;
		case BPROC_FD_SIGNALFD: {
			sigset_t set;
			int s;

			sigemptyset(&set);
			for (s = 1; s <= 64; s++)
				if (e->signalfd.sigmask & (1ULL << (s - 1)))
					sigaddset(&set, s);
			fd = signalfd(-1, &set, SFD_CLOEXEC);
			break;
		}
		case BPROC_FD_EPOLL:
			fd = epoll_create1(EPOLL_CLOEXEC);
			break;
		case BPROC_FD_MEMFD:
			fd = make_memfd(img, i, e, what);
			break;
		default:
			fail(what, EINVAL, "an unknown kind of kernel object");
		}
		place_fd(fd, e, what);
	}
	for (i = 0; i < nt; i++) {
		struct epoll_event ev = { .events = t[i].events,
					  .data.u64 = t[i].data };

		snprintf(what, sizeof(what), "restore: epoll fd %d", t[i].epfd);
		if (epoll_ctl(t[i].epfd, EPOLL_CTL_ADD, t[i].tfd, &ev)) {
			char why[48];

			snprintf(why, sizeof(why), "watching fd %d", t[i].tfd);
			fail(what, errno, why);
		}
	}
}

/*
 * The image's open file @f, reopened by path at its number, with its
 * flags (close-on-exec too) and offset; fail as @what.
 */
static void reopen_file(const struct img *img, const struct bproc_image_file *f,
			const char *what)
{
	const char *path = img_path(img, f->path);
	int flags = (int)f->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
	int fd;

	if (is_stream(f) || !path)
		fail(what, EINVAL, "bad open file in the image");
	fd = open(path, flags);
	if (fd < 0)
		fail(what, errno, path);
	if (fd != f->fd) {
		if (dup3(fd, f->fd, flags & O_CLOEXEC) < 0)
			fail(what, errno, path);
		close(fd);
	}
	if (!S_ISDIR(f->mode) && lseek(f->fd, f->pos, SEEK_SET) < 0 &&
	    errno != ESPIPE)
		fail(what, errno, path);
}

static void apply_taskenv(const struct img *img, const int *keep, int nkeep,
			  const int *given, int ngiven)
{
	const struct bproc_image_file *f;
	const uint32_t *groups;
	const struct bproc_image_taskenv *e = img_taskenv(img, &groups, &f);
	gid_t *gids;
	const char *cwd;
	uint32_t i;
	char what[64];

	if (!e)
		fail("restore", EINVAL, "bad TASKENV section");
	cwd = img_path(img, e->cwd);
	if (!cwd)
		fail("restore", EINVAL, "bad working directory");

	/* Descriptors: only ours, 0-2, the given ones and the image's. */
	{
		int *all = malloc(
			((size_t)nkeep + (size_t)ngiven) * sizeof(int) + 1);

		if (!all)
			fail("restore", ENOMEM, NULL);
		memcpy(all, keep, (size_t)nkeep * sizeof(int));
		if (ngiven)
			memcpy(all + nkeep, given,
			       (size_t)ngiven * sizeof(int));
		for (i = 0; i < e->nr_files; i++) {
			if (!is_stream(&f[i]) ||
			    is_kept(f[i].fd, given, ngiven) ||
			    (!given && f[i].fd < 3))
				continue;
			snprintf(what, sizeof(what), "restore: fd %d", f[i].fd);
			if (!given)
				fail(what, EINVAL,
				     "a stream that only an agent can give");
			fail(what, EBADF, "the agent gave no stream");
		}
		for (i = 0; i < e->nr_files; i++)
			if (f[i].fd < 0 || is_kept(f[i].fd, keep, nkeep))
				fail("restore", EINVAL,
				     "bad open file in the image");
		close_all_but(all, nkeep + ngiven);
		free(all);
	}

	for (i = 0; i < BPROC_IMAGE_NR_RLIMITS; i++) {
		struct rlimit rl = { .rlim_cur = e->rlim[i].cur,
				     .rlim_max = e->rlim[i].max };

		if (i == RLIMIT_NOFILE)
			continue; /* after the files are open */
		if (setrlimit((int)i, &rl)) {
			snprintf(what, sizeof(what), "restore: rlimit %u", i);
			fail(what, errno, NULL);
		}
	}

	gids = calloc(e->nr_groups + 1, sizeof(*gids));
	if (!gids)
		fail("restore", ENOMEM, NULL);
	for (i = 0; i < e->nr_groups; i++)
		gids[i] = groups[i];
	/* Only root may change these; an unchanged set needs no privilege. */
	if (setgroups(e->nr_groups, gids) && errno != EPERM)
		fail("restore: setgroups", errno, NULL);
	free(gids);
	if (setresgid(e->gid, e->egid, e->sgid))
		fail("restore: setresgid", errno,
		     "cannot take the image's group ids");
	if (setresuid(e->uid, e->euid, e->suid))
		fail("restore: setresuid", errno,
		     "cannot take the image's user ids");
	setfsgid(e->fsgid);
	setfsuid(e->fsuid);

	if (chdir(cwd))
		fail("restore: working directory", errno, cwd);
	umask(e->umask & 0777);
	for (i = 0; i < e->nr_files; i++) {
		/* given, or (not an agent's restore) our own stdio */
		if (!given && f[i].fd < 3)
			continue;
		snprintf(what, sizeof(what), "restore: fd %d", f[i].fd);
		if (is_kept(f[i].fd, given, ngiven)) {
			/* as the process had it: close-on-exec or not */
			if (fcntl(f[i].fd, F_SETFD,
				  f[i].flags & O_CLOEXEC ? FD_CLOEXEC : 0))
				fail(what, errno, "its close-on-exec flag");
			continue;
		}
		reopen_file(img, &f[i], what);
	}
	make_fds(img, given != NULL);
	{
		struct rlimit rl = { .rlim_cur = e->rlim[RLIMIT_NOFILE].cur,
				     .rlim_max = e->rlim[RLIMIT_NOFILE].max };

		if (setrlimit(RLIMIT_NOFILE, &rl))
			fail("restore: rlimit nofile", errno, NULL);
	}
}

static int restore_kernel_only(const char *path, char **full_argv)
{
	struct bproc_restore_args args;
	struct bproc_image_header hdr;
	struct bproc_image_section sec;
	struct bproc_image_mm m;
	int dev = open_engine(), fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t off = sizeof(hdr);
	unsigned int i;

	if (fd < 0)
		fail(path, errno, NULL);
	/* Find MM, if it reads, only to move the vDSO. */
	if (pread(fd, &hdr, sizeof(hdr), 0) == sizeof(hdr) &&
	    hdr.nr_sections <= BPROC_IMAGE_MAX_SECTIONS)
		for (i = 0; i < hdr.nr_sections; i++) {
			if (pread(fd, &sec, sizeof(sec), (off_t)off) !=
				    sizeof(sec) ||
			    sec.size > (1ULL << 40))
				break;
			off += sizeof(sec);
			if (sec.type == BPROC_SEC_MM && sec.size == sizeof(m)) {
				if (pread(fd, &m, sizeof(m), (off_t)off) ==
					    sizeof(m) &&
				    m.vdso_end > m.vdso_start &&
				    m.vvar_end > m.vvar_start &&
				    m.vdso_end - m.vdso_start < (1 << 20) &&
				    m.vvar_end - m.vvar_start < (1 << 20))
					place_vdso(&m, full_argv);
				break;
			}
			off += sec.size;
		}
	memset(&args, 0, sizeof(args));
	args.fd = fd;
	args.dev_fd = dev;
	args.flags = BPROC_RESTORE_CLOSE_FDS;
	ioctl(dev, BPROC_IOC_RESTORE, &args);
	fail("restore", errno, args.reason);
	return 1;
}

static int read_full(int fd, void *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append @n bytes read from @in to the growing buffer. */
static void stream_take(int in, char **buf, size_t *len, size_t *cap, size_t n)
{
	if (*len + n > (256U << 20))
		fail("restore", EINVAL, "image structure too large");
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			fail("restore", ENOMEM, NULL);
	}
	if (read_full(in, *buf + *len, n))
		fail("restore", EINVAL, "the image stream is truncated");
	*len += n;
}

/*
 * Take a streamed image from @in: read its structure (up to the PAGES
 * header) into @img, and start a helper (a grandchild, so it is nobody's
 * child after the restore) that writes that structure and then the rest of
 * @in into a pipe. Returns the pipe's read end, the image for the engine.
 */
static int stream_image(int in, struct img *img)
{
	struct bproc_image_header hdr;
	struct bproc_image_section sec;
	size_t len = 0, cap = 0;
	char *buf = NULL, err[256];
	int p[2], memfd, st;
	unsigned int i;
	pid_t pid;

	stream_take(in, &buf, &len, &cap, sizeof(hdr));
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.magic != BPROC_IMAGE_MAGIC ||
	    hdr.nr_sections > BPROC_IMAGE_MAX_SECTIONS)
		fail("restore", EINVAL, "not a bproc image");
	for (i = 0; i < hdr.nr_sections; i++) {
		stream_take(in, &buf, &len, &cap, sizeof(sec));
		memcpy(&sec, buf + len - sizeof(sec), sizeof(sec));
		if (sec.type == BPROC_SEC_PAGES)
			break;
		/* (the program's file, EXEFILE, may be a little more) */
		if (sec.size > (64U << 20) &&
		    sec.size > img_section_limit(sec.type))
			fail("restore", EINVAL, "image structure too large");
		stream_take(in, &buf, &len, &cap, sec.size);
	}
	memfd = memfd_create("bproc-image", MFD_CLOEXEC);
	if (memfd < 0 || write_full(memfd, buf, len))
		fail("restore: memfd", errno, NULL);
	if (img_load(img, memfd, 1, err, sizeof(err)))
		fail("restore", EINVAL, err);
	if (img_nr_threads(img)) {
		static char chunk[1 << 20];
		ssize_t n;

		/*
		 * Threads: their tids may be those of the process being
		 * dumped into the stream on this machine, which ends only
		 * once its whole image is read; take it all first.
		 */
		while ((n = read(in, chunk, sizeof(chunk))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 || write_full(memfd, chunk, (size_t)n))
				fail("restore: memfd", errno, NULL);
		}
		if (lseek(memfd, 0, SEEK_SET))
			fail("restore: memfd", errno, NULL);
		tid_patience = 5000;
		p[0] = memfd;
		goto out;
	}
	close(memfd);

	if (pipe2(p, O_CLOEXEC))
		fail("restore: pipe", errno, NULL);
	pid = fork();
	if (pid < 0)
		fail("restore: fork", errno, NULL);
	if (pid == 0) {
		static char chunk[1 << 20];
		ssize_t n;

		close(p[0]);
		if (fork() != 0)
			_exit(0);
		if (write_full(p[1], buf, len))
			_exit(1);
		while ((n = read(in, chunk, sizeof(chunk))) > 0)
			if (write_full(p[1], chunk, (size_t)n))
				_exit(1);
		_exit(n < 0);
	}
	waitpid(pid, &st, 0);
	close(p[1]);
out:
	free(buf);
	/* The stream was our stdin: the restored program gets /dev/null. */
	if (in == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0)
			fail("restore: /dev/null", errno, NULL);
		close(null);
	}
	return p[0];
}

/* The lowest descriptor above every one the image's TASKENV opens. */
static int image_fd_top(const struct img *img)
{
	const struct bproc_image_file *f;
	const uint32_t *groups;
	const struct bproc_image_taskenv *e = img_taskenv(img, &groups, &f);
	int top = 3;
	uint32_t i;

	for (i = 0; e && i < e->nr_files; i++)
		if (f[i].fd >= top && f[i].fd < 65536)
			top = f[i].fd + 1;
	{
		const struct bproc_image_fd *fds;
		const struct bproc_image_epoll_target *t;
		uint32_t nr, nt;

		if (!img_fds(img, &fds, &nr, &t, &nt))
			for (i = 0; i < nr; i++)
				if (fds[i].fd >= top && fds[i].fd < 65536)
					top = fds[i].fd + 1;
	}
	return top;
}

static const struct bproc_image_mm *image_mm(const struct img *img)
{
	const struct bproc_image_mm *m;
	uint64_t size;

	m = img_get(img, BPROC_SEC_MM, &size);
	if (!m || size != sizeof(*m))
		fail("restore", EINVAL, "no MM section");
	return m;
}

static int parse_fd(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 3 || v > 65535)
		usage();
	return (int)v;
}

/*
 * A structure that comes through a pipe goes into a memfd at the same fd
 * number: read with pread, and still there if the vDSO makes us re-exec.
 */
static void structure_seekable(int sfd)
{
	static char buf[1 << 16];
	struct stat st;
	ssize_t n;
	int m;

	if (fstat(sfd, &st))
		fail("restore: structure", errno, NULL);
	if (!S_ISFIFO(st.st_mode))
		return;
	m = memfd_create("bproc-structure", MFD_CLOEXEC);
	if (m < 0)
		fail("restore: memfd", errno, NULL);
	while ((n = read(sfd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_full(m, buf, (size_t)n))
			fail("restore: structure", errno, NULL);
	}
	if (dup2(m, sfd) < 0)
		fail("restore: structure", errno, NULL);
	close(m);
}

/*
 * The descriptors open now but @a, @b and @c, by increasing number: what
 * the agent gave the process (at most @max).
 */
static int given_fds(int *out, int max, int a, int b, int c)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;
	int n = 0;

	if (!dir)
		fail("restore: /proc/self/fd", errno, NULL);
	while ((d = readdir(dir))) {
		char *end;
		long v = strtol(d->d_name, &end, 10);

		if (*end || end == d->d_name || v == dirfd(dir) || v == a ||
		    v == b || v == c)
			continue;
		if (n == max)
			fail("restore", EMFILE, "too many descriptors given");
		out[n++] = (int)v;
	}
	closedir(dir);
	qsort(out, (size_t)n, sizeof(int), cmp_int);
	return n;
}

/* restore --agent STRUCT_FD IMAGE_FD NOTIFY_FD: see the top comment. */
static int cmd_restore_agent(char **argv, char **full_argv)
{
	static int given[BPROC_IMAGE_MAX_FILES + 3];
	struct bproc_restore_args args;
	int dev, sfd, fd, nfd, top, ngiven;
	char err[256];
	struct img img;

	sfd = parse_fd(argv[0]);
	fd = parse_fd(argv[1]);
	nfd = parse_fd(argv[2]);
	if (fcntl(nfd, F_GETFD) < 0)
		usage();
	agent_notify = nfd;
	if (sfd == fd || sfd == nfd || fd == nfd)
		fail("restore", EINVAL, "the three descriptors must differ");
	ngiven = given_fds(given, (int)(sizeof(given) / sizeof(given[0])), sfd,
			   fd, nfd);
	structure_seekable(sfd);
	dev = open_engine();
	if (img_load(&img, sfd, 1, err, sizeof(err)))
		fail("restore", EINVAL, err);
	/* Before any descriptor moves: a re-exec keeps 3 to 5 as they are. */
	place_vdso(image_mm(&img), full_argv);
	top = image_fd_top(&img);
	dev = move_fd(dev, top);
	fd = move_fd(fd, top);
	nfd = move_fd(nfd, top);
	agent_notify = nfd;
	make_threads(dev, &img);
	{
		int keep[3] = { dev, fd, nfd };

		apply_taskenv(&img, keep, 3, given, ngiven);
	}
	img_free(&img);

	memset(&args, 0, sizeof(args));
	args.fd = fd;
	args.dev_fd = dev;
	args.flags = BPROC_RESTORE_CLOSE_FDS | BPROC_RESTORE_NOTIFY;
	args.notify_fd = nfd;
	ioctl(dev, BPROC_IOC_RESTORE, &args);
	/* Only a failure returns here. */
	fail("restore", errno, args.reason);
	return 1;
}

#define OBJECTS_BATCH 64

/* Send @n of the objects, @fds, to the agent: "F", pad, their numbers. */
static void send_objects(int sock, const int *fds, int n)
{
	char buf[4 + OBJECTS_BATCH * 4];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(OBJECTS_BATCH * sizeof(int))];
	} c;
	struct iovec iov = { .iov_base = buf, .iov_len = 4 + (size_t)n * 4 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = c.b,
			      .msg_controllen =
				      CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *cm;

	memset(buf, 0, 4);
	buf[0] = 'F';
	memcpy(buf + 4, fds, (size_t)n * 4);
	memset(&c, 0, sizeof(c));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0)
		fail("objects: sending them", errno, NULL);
}

/*
 * objects: the image's files that an epoll watches and that are no
 * stream (a terminal reopened by path, say), opened here by path at their
 * numbers: the ghost would reopen them, as other files than the ones
 * registered; given with the objects, they take the place of the image's.
 * Returns how many, their fds in @out.
 */
static int objects_files(const struct img *img, const struct bproc_image_fd *f,
			 uint32_t nr, const struct bproc_image_epoll_target *t,
			 uint32_t nt, int *out)
{
	const struct bproc_image_file *file;
	const uint32_t *groups;
	const struct bproc_image_taskenv *e = img_taskenv(img, &groups, &file);
	uint32_t i, k, j;
	char what[64];
	int n = 0;

	if (!e)
		fail("objects", EINVAL, "bad TASKENV section");
	for (i = 0; i < nt; i++) {
		bool object = false, done = false;

		for (k = 0; k < nr; k++)
			object = object || f[k].fd == t[i].tfd;
		for (j = 0; j < (uint32_t)n; j++)
			done = done || out[j] == t[i].tfd;
		/* an object, one opened already, or a stream given */
		if (object || done || fcntl(t[i].tfd, F_GETFD) >= 0)
			continue;
		for (k = 0; k < e->nr_files; k++) {
			if (file[k].fd != t[i].tfd)
				continue;
			snprintf(what, sizeof(what), "objects: fd %d",
				 file[k].fd);
			if (is_stream(&file[k]))
				fail(what, EBADF, "the agent gave no stream");
			reopen_file(img, &file[k], what);
			out[n++] = file[k].fd;
		}
	}
	return n;
}

/* objects SOCK_FD STRUCT_FD: see the top comment. */
static int cmd_objects(char **argv)
{
	const struct bproc_image_epoll_target *t;
	const struct bproc_image_fd *f;
	static int files[BPROC_IMAGE_MAX_TARGETS];
	int sock, sfd, top, batch[OBJECTS_BATCH], n = 0, nfile;
	uint32_t nr, nt, i;
	char err[256];
	struct img img;

	sock = parse_fd(argv[0]);
	sfd = parse_fd(argv[1]);
	if (sock == sfd || fcntl(sock, F_GETFD) < 0)
		usage();
	agent_notify = sock;
	if (img_load(&img, sfd, 1, err, sizeof(err)))
		fail("objects", EINVAL, err);
	/* clear of the process's numbers, where the objects go */
	top = image_fd_top(&img);
	sock = move_fd(sock, top);
	agent_notify = sock;
	close(sfd);
	if (img_fds(&img, &f, &nr, &t, &nt))
		fail("objects", EINVAL, "bad FDS section");
	nfile = objects_files(&img, f, nr, t, nt, files);
	make_fds(&img, 1);
	for (i = 0; i < nr + (uint32_t)nfile; i++) {
		batch[n++] = i < nr ? f[i].fd : files[i - nr];
		if (n == OBJECTS_BATCH || i + 1 == nr + (uint32_t)nfile) {
			send_objects(sock, batch, n);
			n = 0;
		}
	}
	if (write(sock, "D", 1) != 1)
		fail("objects: done", errno, NULL);
	img_free(&img);
	return 0;
}

static int cmd_restore(int argc, char **argv, char **full_argv)
{
	struct bproc_restore_args args;
	const struct bproc_image_mm *m;
	char err[256];
	struct img img;
	int dev, fd, top;

	if (argc == 2 && !strcmp(argv[0], "--kernel-only"))
		return restore_kernel_only(argv[1], full_argv);
	if (argc == 4 && !strcmp(argv[0], "--agent"))
		return cmd_restore_agent(argv + 1, full_argv);
	if (argc != 1)
		usage();
	dev = open_engine();
	if (!strcmp(argv[0], "-")) {
		setenv(REEXEC_ENV, "99", 1); /* the stream cannot be replayed */
		fd = stream_image(0, &img);
	} else {
		fd = open(argv[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(argv[0], errno, NULL);
		if (img_load(&img, fd, 0, err, sizeof(err)))
			fail("restore", EINVAL, err);
	}
	m = image_mm(&img);
	top = image_fd_top(&img);
	/* Keep our two descriptors clear of the image's. */
	dev = move_fd(dev, top);
	fd = move_fd(fd, top);
	place_vdso(m, full_argv);
	make_threads(dev, &img);
	{
		int keep[2] = { dev, fd };

		apply_taskenv(&img, keep, 2, NULL, 0);
	}
	img_free(&img);

	memset(&args, 0, sizeof(args));
	args.fd = fd;
	args.dev_fd = dev;
	args.flags = BPROC_RESTORE_CLOSE_FDS;
	if (strcmp(argv[0], "-") && lseek(fd, 0, SEEK_SET) < 0)
		fail("restore", errno, NULL);
	ioctl(dev, BPROC_IOC_RESTORE, &args);
	/* Only a failure returns here. */
	fail("restore", errno, args.reason);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 2, argv + 2);
	if (!strcmp(argv[1], "restore"))
		return cmd_restore(argc - 2, argv + 2, argv);
	if (!strcmp(argv[1], "objects") && argc == 4)
		return cmd_objects(argv + 2);
	usage();
	return 2;
}
