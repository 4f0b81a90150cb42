// SPDX-License-Identifier: GPL-2.0
/*
 * moveto [-m MNT] [-t] NODE WHAT - write WHAT (a pid, or anything: it is
 * written as given, with a newline) to MNT/NODE/move (MNT: /bproc) and
 * print "ok", or the errno's name (EPERM, EHOSTDOWN...) when the write
 * fails; with -t also the microseconds the write took. Exit 0 on "ok".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *mnt = "/bproc";
	struct timespec t0, t1;
	char path[4096], buf[256];
	int fd, err = 0, timed = 0, c;
	ssize_t n, len;

	while ((c = getopt(argc, argv, "m:t")) != -1) {
		if (c == 'm')
			mnt = optarg;
		else if (c == 't')
			timed = 1;
		else
			return 2;
	}
	if (argc - optind != 2)
		return 2;
	snprintf(path, sizeof(path), "%s/%s/move", mnt, argv[optind]);
	len = snprintf(buf, sizeof(buf), "%s\n", argv[optind + 1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		err = errno;
	} else {
		n = write(fd, buf, (size_t)len);
		if (n < 0)
			err = errno;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s", err ? strerrorname_np(err) : "ok");
	if (timed)
		printf(" %lld",
		       (long long)((t1.tv_sec - t0.tv_sec) * 1000000LL +
				   (t1.tv_nsec - t0.tv_nsec) / 1000));
	printf("\n");
	return err ? 1 : 0;
}
