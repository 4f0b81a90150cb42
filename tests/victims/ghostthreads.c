// SPDX-License-Identifier: GPL-2.0
/*
 * ghostthreads - the engine's ghost that keeps a process's threads, as the
 * front end's agent drives it (BPROC_IOC_GHOST_THREADS):
 *   ghostthreads PID NSIG
 * dumps PID with its threads (image to /tmp/ghostthreads.img), makes it a
 * ghost that keeps them, prints "ghost" and "tasks N" (its threads now),
 * then "event SIGNO TID" for each of the NSIG signals it receives (TID 0:
 * sent to the process). Then GHOST_THREAD's own cases, one line each:
 *   "end-unknown ERRNO"  ending a ghost thread it does not have (ESRCH)
 *   "both ERRNO"         NOW and END together (EINVAL)
 *   "ended TID"          END of one of its ghost threads: it is gone
 *   "made TID"           NOW of that tid again: it is back
 *   "again N"            NOW of a tid it has: nothing new, N threads
 * and ends the ghost with exit code 7: "gone" once the handle says so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <bproc/bproc.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

/* How many threads PID has, and (if @other) one of them but PID. */
static int tasks(int pid, int *other)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		int t = atoi(d->d_name);

		if (t <= 0)
			continue;
		n++;
		if (other && t != pid)
			*other = t;
	}
	closedir(dir);
	return n;
}

static int has(int pid, int tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return access(path, F_OK) == 0;
}

/* Until task @tid of @pid is there (@want) or not; 0 when it is so. */
static int until(int pid, int tid, int want)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (has(pid, tid) == want)
			return 0;
		usleep(10000);
	}
	return -1;
}

static const char *ename(int e)
{
	return e == ESRCH ? "ESRCH" : e == EINVAL ? "EINVAL" : strerror(e);
}

int main(int argc, char **argv)
{
	struct bproc_dump_args d = { 0 };
	struct bproc_ghost_tevent ev[8];
	struct bproc_ghost_exit ex = { .how = BPROC_GHOST_EXIT_CODE,
				       .value = 7 };
	struct bproc_ghost_thread t = { 0 };
	int dev, img, pid, seen = 0, want, other = 0, n0;
	ssize_t n;

	if (argc != 3)
		return 2;
	pid = atoi(argv[1]);
	want = atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = open(BPROC_DEVICE, O_RDWR);
	img = open("/tmp/ghostthreads.img", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (dev < 0 || img < 0)
		return fail("open");
	d.pid = pid;
	d.fd = img;
	d.flags = BPROC_DUMP_THREADS;
	if (ioctl(dev, BPROC_IOC_DUMP, &d)) {
		fprintf(stderr, "dump: %s\n", d.reason);
		return fail("dump");
	}
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_THREADS))
		return fail("ghost threads");
	printf("ghost\n");
	printf("tasks %d\n", tasks(pid, &other));
	while (seen < want) {
		int i;

		n = read(d.handle_fd, ev, sizeof(ev));
		if (n <= 0 || n % sizeof(ev[0]))
			return fail("read events");
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++, seen++)
			printf("event %u %d\n", ev[i].ev.signo, ev[i].tid);
	}

	t.tid = 1 << 21;
	t.flags = BPROC_GHOST_THREAD_END;
	printf("end-unknown %s\n",
	       ioctl(d.handle_fd, BPROC_IOC_GHOST_THREAD, &t) ? ename(errno) :
								"ok");
	t.tid = other;
	t.flags = BPROC_GHOST_THREAD_NOW | BPROC_GHOST_THREAD_END;
	printf("both %s\n", ioctl(d.handle_fd, BPROC_IOC_GHOST_THREAD, &t) ?
				    ename(errno) :
				    "ok");
	t.flags = BPROC_GHOST_THREAD_END;
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_THREAD, &t) ||
	    until(pid, other, 0))
		return fail("end a ghost thread");
	printf("ended %d\n", other);
	t.flags = BPROC_GHOST_THREAD_NOW;
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_THREAD, &t) ||
	    until(pid, other, 1))
		return fail("make a ghost thread");
	printf("made %d\n", other);
	n0 = tasks(pid, NULL);
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_THREAD, &t))
		return fail("make a ghost thread it has");
	usleep(200000);
	printf("again %d\n", tasks(pid, NULL) == n0 ? n0 : -1);

	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_EXIT, &ex))
		return fail("ghost exit");
	while ((n = read(d.handle_fd, ev, sizeof(ev))) > 0)
		;
	if (n < 0)
		return fail("read until gone");
	printf("gone\n");
	return 0;
}
