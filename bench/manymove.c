// SPDX-License-Identifier: GPL-2.0
/*
 * manymove - many moves at once from one program, for the move benchmark:
 *
 *   manymove [-m MNT] NODE:PID...
 *
 * opens MNT/NODE/move (MNT: /bproc) for each pair, then starts a thread
 * per pair that writes its pid, all released at the same moment; prints
 * "N moves in S s, F failed" (S: from the release until the last write
 * returned) and, for each failed one, "PID: ERRNAME". Exit 0 if none
 * failed. A shell starting one `echo` per move would measure mostly its
 * own forks and execs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct one {
	pthread_t t;
	int fd;
	char pid[24];
	int err;
};

static pthread_barrier_t go;

static void *mover(void *arg)
{
	struct one *o = arg;
	size_t len = strlen(o->pid);
	ssize_t n;

	pthread_barrier_wait(&go);
	n = write(o->fd, o->pid, len);
	o->err = n == (ssize_t)len ? 0 : n < 0 ? errno : EIO;
	return NULL;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *mnt = "/bproc";
	int i, c, nr, failed = 0;
	struct one *all;
	double t0, t1;

	while ((c = getopt(argc, argv, "m:")) != -1) {
		if (c != 'm') {
			fprintf(stderr,
				"usage: manymove [-m MNT] NODE:PID...\n");
			return 2;
		}
		mnt = optarg;
	}
	nr = argc - optind;
	if (nr < 1) {
		fprintf(stderr, "usage: manymove [-m MNT] NODE:PID...\n");
		return 2;
	}
	all = calloc((size_t)nr, sizeof(*all));
	if (!all || pthread_barrier_init(&go, NULL, (unsigned int)nr + 1)) {
		perror("manymove");
		return 1;
	}
	for (i = 0; i < nr; i++) {
		char *arg = argv[optind + i], *colon = strchr(arg, ':');
		char path[4096];

		if (!colon || !colon[1]) {
			fprintf(stderr, "manymove: %s: not NODE:PID\n", arg);
			return 2;
		}
		snprintf(path, sizeof(path), "%s/%.*s/move", mnt,
			 (int)(colon - arg), arg);
		snprintf(all[i].pid, sizeof(all[i].pid), "%s\n", colon + 1);
		all[i].fd = open(path, O_WRONLY | O_CLOEXEC);
		if (all[i].fd < 0) {
			fprintf(stderr, "manymove: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < nr; i++) {
		if (pthread_create(&all[i].t, NULL, mover, &all[i])) {
			fprintf(stderr, "manymove: no thread\n");
			return 1;
		}
	}
	t0 = now();
	pthread_barrier_wait(&go);
	for (i = 0; i < nr; i++)
		pthread_join(all[i].t, NULL);
	t1 = now();
	for (i = 0; i < nr; i++) {
		if (!all[i].err)
			continue;
		failed++;
		all[i].pid[strcspn(all[i].pid, "\n")] = '\0';
		printf("%s: %s\n", all[i].pid,
		       strerrorname_np(all[i].err) ?: "error");
	}
	printf("%d moves in %.3f s, %d failed\n", nr, t1 - t0, failed);
	return failed ? 1 : 0;
}
