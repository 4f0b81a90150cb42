// SPDX-License-Identifier: GPL-2.0
/*
 * movectl - drive an asynchronous dump for the tests, as the daemons do for
 * a process that moves itself: movectl [-n] [-t] PID IMAGE THEN
 *   arm the dump of PID (BPROC_DUMP_ASYNC) into IMAGE and print "armed";
 *   wait until the handle polls readable, print "result ERRNO SIZE REASON";
 *   then THEN: "ret:N" resumes it with its system call failing with errno N
 *   (and checks that a second decision is refused), "resume" resumes it,
 *   "kill" kills it, "close" drops the handle. "early" resumes it right
 *   after arming instead, before the result. "ghost:N" makes it a ghost
 *   (print "ghost"), prints "event SIGNO PID" for the first signal it
 *   receives, ends it with exit code N and prints "gone" when the handle
 *   reads EOF. Prints "done".
 *   -n: BPROC_DUMP_NOIMAGE; IMAGE "-" is fd -1, "pipe" a pipe of ours; after
 *   the result, print "output N": the bytes in IMAGE (the pipe's unread
 *   ones), which must be none. -t: BPROC_DUMP_THREADS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bproc/bproc.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

/* The bytes in the image's file (unread in a pipe); -1 without one. */
static long long output_size(int img, int unread)
{
	struct stat st;
	int n;

	if (unread >= 0)
		return ioctl(unread, FIONREAD, &n) ? -2 : n;
	if (img < 0)
		return -1;
	return fstat(img, &st) ? -2 : (long long)st.st_size;
}

/* Make it a ghost, report the first signal, end it with @code. */
static int ghost(int handle, int code)
{
	struct bproc_ghost_exit ex = { .how = BPROC_GHOST_EXIT_CODE };
	struct bproc_ghost_event ev[8];
	ssize_t n;

	if (ioctl(handle, BPROC_IOC_GHOST))
		return fail("ghost");
	printf("ghost\n");
	n = read(handle, ev, sizeof(ev));
	if (n < (ssize_t)sizeof(ev[0]))
		return fail("read events");
	printf("event %u %d\n", ev[0].signo, ev[0].pid);
	ex.value = code;
	if (ioctl(handle, BPROC_IOC_GHOST_EXIT, &ex))
		return fail("ghost exit");
	while ((n = read(handle, ev, sizeof(ev))) > 0)
		;
	if (n < 0)
		return fail("read until gone");
	printf("gone\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct bproc_dump_args d = { 0 };
	struct bproc_dump_result r = { 0 };
	struct bproc_resume_ret rr = { 0 };
	struct pollfd p;
	int dev, img, unread = -1, pfd[2];
	__u32 flags = BPROC_DUMP_ASYNC;

	for (; argc > 1 && argv[1][0] == '-'; argc--, argv++) {
		if (!strcmp(argv[1], "-n"))
			flags |= BPROC_DUMP_NOIMAGE;
		else if (!strcmp(argv[1], "-t"))
			flags |= BPROC_DUMP_THREADS;
		else
			return 2;
	}
	if (argc != 4)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = open(BPROC_DEVICE, O_RDWR);
	if (!strcmp(argv[2], "-")) {
		img = -1;
	} else if (!strcmp(argv[2], "pipe")) {
		if (pipe(pfd))
			return fail("pipe");
		unread = pfd[0];
		img = pfd[1];
	} else {
		img = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (img < 0)
			return fail("open");
	}
	if (dev < 0)
		return fail("open");
	d.pid = atoi(argv[1]);
	d.fd = img;
	d.flags = flags;
	if (ioctl(dev, BPROC_IOC_DUMP, &d)) {
		fprintf(stderr, "dump: %s\n", d.reason);
		return fail("dump");
	}
	printf("armed\n");
	if (!strcmp(argv[3], "early") && ioctl(d.handle_fd, BPROC_IOC_RESUME))
		return fail("resume");
	p.fd = d.handle_fd;
	p.events = POLLIN;
	if (poll(&p, 1, 30000) != 1 || !(p.revents & POLLIN))
		return fail("poll");
	if (ioctl(d.handle_fd, BPROC_IOC_DUMP_RESULT, &r))
		return fail("result");
	printf("result %d %llu %s\n", r.error, (unsigned long long)r.image_size,
	       r.reason);
	if (flags & BPROC_DUMP_NOIMAGE)
		printf("output %lld\n", output_size(img, unread));
	if (!strncmp(argv[3], "ret:", 4)) {
		rr.value = -atoi(argv[3] + 4);
		if (ioctl(d.handle_fd, BPROC_IOC_RESUME_RET, &rr))
			return fail("resume ret");
		if (ioctl(d.handle_fd, BPROC_IOC_RESUME_RET, &rr) == 0 ||
		    errno != EINVAL) {
			fprintf(stderr, "a second decision was taken\n");
			return 1;
		}
	} else if (!strcmp(argv[3], "resume")) {
		if (ioctl(d.handle_fd, BPROC_IOC_RESUME))
			return fail("resume");
	} else if (!strcmp(argv[3], "kill")) {
		if (ioctl(d.handle_fd, BPROC_IOC_KILL))
			return fail("kill");
	} else if (!strncmp(argv[3], "ghost:", 6)) {
		if (ghost(d.handle_fd, atoi(argv[3] + 6)))
			return 1;
	} else if (strcmp(argv[3], "close") && strcmp(argv[3], "early")) {
		return 2;
	}
	close(d.handle_fd);
	printf("done\n");
	return 0;
}
