// SPDX-License-Identifier: GPL-2.0
/*
 * movectl - drive an asynchronous dump for the tests, as the daemons do for
 * a process that moves itself: movectl PID IMAGE THEN
 *   arm the dump of PID (BPROC_DUMP_ASYNC) into IMAGE and print "armed";
 *   wait until the handle polls readable, print "result ERRNO SIZE REASON";
 *   then THEN: "ret:N" resumes it with its system call failing with errno N
 *   (and checks that a second decision is refused), "resume" resumes it,
 *   "kill" kills it, "close" drops the handle. "early" resumes it right
 *   after arming instead, before the result. Prints "done".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

int main(int argc, char **argv)
{
	struct bproc_dump_args d = { 0 };
	struct bproc_dump_result r = { 0 };
	struct bproc_resume_ret rr = { 0 };
	struct pollfd p;
	int dev, img;

	if (argc != 4)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = open(BPROC_DEVICE, O_RDWR);
	img = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (dev < 0 || img < 0)
		return fail("open");
	d.pid = atoi(argv[1]);
	d.fd = img;
	d.flags = BPROC_DUMP_ASYNC;
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
	} else if (strcmp(argv[3], "close") && strcmp(argv[3], "early")) {
		return 2;
	}
	close(d.handle_fd);
	printf("done\n");
	return 0;
}
