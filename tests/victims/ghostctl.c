// SPDX-License-Identifier: GPL-2.0
/*
 * ghostctl - drive the engine's ghost mode for the tests, as the node agent
 * will: ghostctl PID NSIG END
 *   dump PID (image to /tmp/ghost.img), make it a ghost, print "ghost",
 *   print "event SIGNO PID" for each of the NSIG signals it then receives,
 *   end it with END ("code:N", "signal:N", or "close": drop the handle),
 *   wait until the handle reports the ghost gone (EOF) and print "gone".
 *   END "none" only waits for EOF (the ghost was killed).
 *   END "restore" brings the process back into its ghost instead: a
 *   truncated copy of the image must be refused (print "refused REASON"),
 *   then the image restores (print "restored") and the handle reads EOF.
 *   The image restored is $GHOST_IMG if set (read once the NSIG events are
 *   in), else the one just dumped.
 *   END "restoremap:N" restores with BPROC_IOC_GHOST_RESTORE_MAP, the
 *   program's fd 1 being the ghost's fd N (0 and 2 stay): a map naming a
 *   ghost fd that is not open must be refused first (print "refused").
 */
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

static int restore(int handle)
{
	struct bproc_ghost_restore r = { 0 };
	struct bproc_ghost_event ev;
	char buf[4096];
	int img, bad;
	ssize_t n;

	img = open(getenv("GHOST_IMG") ?: "/tmp/ghost.img", O_RDONLY);
	bad = open("/tmp/ghost.bad", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (img < 0 || bad < 0)
		return fail("open image");
	n = read(img, buf, sizeof(buf));
	if (n <= 0 || write(bad, buf, n / 2) != n / 2)
		return fail("truncated image");
	lseek(img, 0, SEEK_SET);
	lseek(bad, 0, SEEK_SET);
	r.fd = bad;
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE, &r) == 0 ||
	    errno != EINVAL) {
		fprintf(stderr, "truncated image: not refused with EINVAL\n");
		return 1;
	}
	printf("refused %s\n", r.reason);
	r.fd = img;
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE, &r)) {
		fprintf(stderr, "restore: %s\n", r.reason);
		return fail("ghost restore");
	}
	printf("restored\n");
	while ((n = read(handle, &ev, sizeof(ev))) > 0)
		;
	if (n < 0)
		return fail("read until gone");
	close(handle);
	printf("gone\n");
	return 0;
}

static int restore_map(int handle, int from)
{
	struct bproc_fd_map map[3] = { { 0, 0 }, { 1, from }, { 2, 2 } };
	struct bproc_ghost_restore_map r = { 0 };
	struct bproc_ghost_event ev;
	int img;
	ssize_t n;

	img = open("/tmp/ghost.img", O_RDONLY);
	if (img < 0)
		return fail("open image");
	r.fd = img;
	r.map = (unsigned long)map;
	r.nr_map = 3;
	map[1].from = 999;
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE_MAP, &r) == 0 ||
	    errno != EBADF) {
		fprintf(stderr, "a map from a closed fd: not refused\n");
		return 1;
	}
	printf("refused %s\n", r.reason);
	map[1].from = from;
	lseek(img, 0, SEEK_SET);
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE_MAP, &r)) {
		fprintf(stderr, "restore: %s\n", r.reason);
		return fail("ghost restore map");
	}
	printf("restored\n");
	while ((n = read(handle, &ev, sizeof(ev))) > 0)
		;
	close(handle);
	printf("gone\n");
	return n < 0 ? fail("read until gone") : 0;
}

int main(int argc, char **argv)
{
	struct bproc_dump_args d = { 0 };
	struct bproc_ghost_event ev[8];
	struct bproc_ghost_exit ex = { 0 };
	int dev, img, seen = 0, want;
	ssize_t n;

	if (argc != 4)
		return 2;
	want = atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = open(BPROC_DEVICE, O_RDWR);
	img = open("/tmp/ghost.img", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (dev < 0 || img < 0)
		return fail("open");
	d.pid = atoi(argv[1]);
	d.fd = img;
	if (ioctl(dev, BPROC_IOC_DUMP, &d)) {
		fprintf(stderr, "dump: %s\n", d.reason);
		return fail("dump");
	}
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST))
		return fail("ghost");
	printf("ghost\n");
	while (seen < want) {
		int i;

		n = read(d.handle_fd, ev, sizeof(ev));
		if (n <= 0)
			return fail("read events");
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++, seen++)
			printf("event %u %d\n", ev[i].signo, ev[i].pid);
	}
	if (!strcmp(argv[3], "close")) {
		close(d.handle_fd);
		printf("gone\n");
		return 0;
	}
	if (!strcmp(argv[3], "restore"))
		return restore(d.handle_fd);
	if (!strncmp(argv[3], "restoremap:", 11))
		return restore_map(d.handle_fd, atoi(argv[3] + 11));
	if (!strcmp(argv[3], "none"))
		goto until_gone;
	if (!strncmp(argv[3], "code:", 5)) {
		ex.how = BPROC_GHOST_EXIT_CODE;
		ex.value = atoi(argv[3] + 5);
	} else if (!strncmp(argv[3], "signal:", 7)) {
		ex.how = BPROC_GHOST_EXIT_SIGNAL;
		ex.value = atoi(argv[3] + 7);
	} else {
		return 2;
	}
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_EXIT, &ex))
		return fail("ghost exit");
until_gone:
	while ((n = read(d.handle_fd, ev, sizeof(ev))) > 0)
		;
	if (n < 0)
		return fail("read until gone");
	printf("gone\n");
	return 0;
}
