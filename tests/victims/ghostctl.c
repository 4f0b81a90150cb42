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
 *   END "objects" dumps with BPROC_DUMP_ANONFDS and brings the process
 *   home with its kernel objects as the front end's agent does: `bproc-ckpt
 *   objects` makes them at their numbers and sends them here, and the map
 *   gives them with the ghost's fds 0-2, all as descriptors of ours
 *   (BPROC_GHOST_MAP_CALLER). Refused first without a map and with the
 *   first object left out of the map (print "refused REASON" each), the
 *   ghost staying a ghost; then restored.
 *   END "noimage+END" parks PID with BPROC_DUMP_NOIMAGE instead of a dump
 *   (print "noimage SIZE FILESIZE": the size the dump reports and the
 *   image file's, both 0), then goes on as for END.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

#define MAX_OBJECTS 64

static int cmp_map(const void *a, const void *b)
{
	return ((const struct bproc_fd_map *)a)->fd -
	       ((const struct bproc_fd_map *)b)->fd;
}

/* Have `bproc-ckpt objects` make the image's objects; their fds in map. */
static int make_objects(int img, struct bproc_fd_map *map, int *nr)
{
	int sp[2], st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp))
		return fail("socketpair");
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		/* above the program's numbers; nothing else of ours */
		if (dup2(sp[1], 100) < 0 || dup2(img, 101) < 0 ||
		    syscall(SYS_close_range, 3, 99, 0))
			_exit(127);
		execlp("bproc-ckpt", "bproc-ckpt", "objects", "100", "101",
		       (char *)NULL);
		_exit(127);
	}
	close(sp[1]);
	*nr = 0;
	for (;;) {
		char buf[4 + MAX_OBJECTS * 4 + 256];
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(MAX_OBJECTS * sizeof(int))];
		} c;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = c.b,
				      .msg_controllen = sizeof(c.b) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(sp[0], &msg, 0);
		int k, nf = 0, fds[MAX_OBJECTS];

		for (cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm;
		     cm = CMSG_NXTHDR(&msg, cm)) {
			nf = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(cm), nf * sizeof(int));
		}
		if (n > 4 && buf[0] == 'F' && nf == (n - 4) / 4 &&
		    *nr + nf <= MAX_OBJECTS) {
			for (k = 0; k < nf; k++) {
				memcpy(&map[*nr].fd, buf + 4 + 4 * k, 4);
				map[(*nr)++].from = fds[k];
			}
			continue;
		}
		if (n == 1 && buf[0] == 'D')
			break;
		buf[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "bproc-ckpt objects: %s\n",
			n > 0 ? buf : "no answer");
		return 1;
	}
	close(sp[0]);
	waitpid(pid, &st, 0);
	/* the objects, then files an epoll watches: a map goes by fd */
	qsort(map, *nr, sizeof(*map), cmp_map);
	return 0;
}

static int restore_objects(int handle, int pid)
{
	struct bproc_fd_map map[3 + MAX_OBJECTS], part[3 + MAX_OBJECTS];
	struct bproc_fd_map objs[MAX_OBJECTS];
	struct bproc_ghost_restore_map r = { 0 };
	struct bproc_ghost_restore plain = { 0 };
	struct bproc_ghost_event ev;
	int img = open("/tmp/ghost.img", O_RDONLY), nr, i, pidfd;
	ssize_t n;

	if (img < 0)
		return fail("open image");
	if (make_objects(img, objs, &nr))
		return 1;
	if (nr < 1)
		return fail("no object made");
	/* the ghost's 0-2, as ours */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (i = 0; i < 3; i++) {
		map[i].fd = i;
		map[i].from = (int)syscall(SYS_pidfd_getfd, pidfd, i, 0);
		if (map[i].from < 0)
			return fail("pidfd_getfd");
	}
	memcpy(map + 3, objs, nr * sizeof(objs[0]));

	plain.fd = img;
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE, &plain) == 0 ||
	    errno != EINVAL) {
		fprintf(stderr, "objects without a map: not refused\n");
		return 1;
	}
	printf("refused %s\n", plain.reason);
	/* the first object left out */
	lseek(img, 0, SEEK_SET);
	memcpy(part, map, 3 * sizeof(map[0]));
	memcpy(part + 3, objs + 1, (nr - 1) * sizeof(objs[0]));
	r.fd = img;
	r.flags = BPROC_GHOST_MAP_CALLER;
	r.map = (unsigned long)part;
	r.nr_map = 2 + nr;
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE_MAP, &r) == 0 ||
	    errno != EBADF) {
		fprintf(stderr, "an object left out: not refused (%s)\n",
			strerror(errno));
		return 1;
	}
	printf("refused %s\n", r.reason);
	lseek(img, 0, SEEK_SET);
	r.map = (unsigned long)map;
	r.nr_map = 3 + nr;
	if (ioctl(handle, BPROC_IOC_GHOST_RESTORE_MAP, &r)) {
		fprintf(stderr, "restore: %s\n", r.reason);
		return fail("ghost restore objects");
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
	if (!strncmp(argv[3], "noimage+", 8)) {
		d.flags = BPROC_DUMP_NOIMAGE;
		argv[3] += 8;
	}
	if (!strcmp(argv[3], "objects"))
		d.flags |= BPROC_DUMP_ANONFDS;
	if (ioctl(dev, BPROC_IOC_DUMP, &d)) {
		fprintf(stderr, "dump: %s\n", d.reason);
		return fail("dump");
	}
	if (d.flags & BPROC_DUMP_NOIMAGE) {
		struct stat st;

		if (fstat(img, &st))
			return fail("fstat");
		printf("noimage %llu %lld\n", (unsigned long long)d.image_size,
		       (long long)st.st_size);
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
	if (!strcmp(argv[3], "objects"))
		return restore_objects(d.handle_fd, d.pid);
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
