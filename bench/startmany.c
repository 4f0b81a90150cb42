// SPDX-License-Identifier: GPL-2.0
/*
 * startmany - start one process on each of many nodes and wait for them,
 * for the start benchmark (bench/start_bench):
 *
 *   startmany vrfork|each|rfork NODE...
 *
 * vrfork: bproc_vrfork() of one child per NODE, all at once (from the
 * front end: fast start, one child dumped and the others started from its
 * image); each: the same without fast start, every child forked first and
 * moving itself with its own image, all at once (what bproc_vrfork did
 * before); rfork: one bproc_rfork() after the other. With STARTMANY_MIB
 * set, the starter first touches that many MiB of memory of its own (a
 * launcher with its data): every child carries it. Each child _exits(0) as soon as it runs
 * on its node; the parent waits for all of them. Prints "N processes in S
 * s" (from before the first call until the last child was reaped), exit 0
 * if every child started and ended well.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/bproc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int reaped(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	return !WIFEXITED(st) || WEXITSTATUS(st);
}

/* A child's move of itself to node, as a shell writes it: 0 or -1. */
static int move_self(int node)
{
	char path[PATH_MAX], text[16];
	int saved = fcntl(1, F_DUPFD_CLOEXEC, 10), fd, len, ret;
	const char *mnt = getenv("BPROC_MOUNT");

	snprintf(path, sizeof(path), "%s/node%d/move", mnt ? mnt : "/bproc",
		 node);
	len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 1) < 0)
		return -1;
	close(fd);
	ret = write(1, text, (size_t)len) == len ? 0 : -1;
	dup2(saved, 1);
	close(saved);
	return ret;
}

/* Every child forked first, each moving itself: all at once, no fast start. */
static int each(int n, const int *nodes)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	int i, bad = 0;

	if (!pids)
		return 1;
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(move_self(nodes[i]) ? 1 : 0);
		if (pids[i] < 0) {
			perror("fork");
			bad++;
		}
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			bad += reaped(pids[i]);
	free(pids);
	return bad;
}

int main(int argc, char **argv)
{
	int n = argc - 2, i, bad = 0, *nodes, *pids;
	double t0;

	if (n < 1 || (strcmp(argv[1], "vrfork") && strcmp(argv[1], "each") &&
		      strcmp(argv[1], "rfork"))) {
		fprintf(stderr, "usage: startmany vrfork|each|rfork NODE...\n");
		return 2;
	}
	nodes = calloc(n, sizeof(*nodes));
	pids = calloc(n, sizeof(*pids));
	if (!nodes || !pids)
		return 1;
	for (i = 0; i < n; i++)
		nodes[i] = atoi(argv[i + 2]);
	if (getenv("STARTMANY_MIB")) {
		size_t len = (size_t)atoi(getenv("STARTMANY_MIB")) << 20;
		char *data = malloc(len);

		if (!data)
			return 1;
		for (size_t off = 0; off < len; off += 4096)
			data[off] = (char)(off >> 12 | 1);
	}
	t0 = now();
	if (!strcmp(argv[1], "vrfork")) {
		int r = bproc_vrfork(n, nodes, pids);

		if (r >= 0 && r < n)
			_exit(0); /* a child, on its node */
		if (r < 0) {
			fprintf(stderr, "bproc_vrfork: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (pids[i] < 0) {
				fprintf(stderr, "node %d: %s\n", nodes[i],
					strerror(-pids[i]));
				bad++;
				continue;
			}
			bad += reaped(pids[i]);
		}
	} else if (!strcmp(argv[1], "each")) {
		bad = each(n, nodes);
	} else {
		for (i = 0; i < n; i++) {
			pid_t pid = bproc_rfork(nodes[i]);

			if (pid == 0)
				_exit(0);
			if (pid < 0) {
				fprintf(stderr, "node %d: %s\n", nodes[i],
					strerror(errno));
				bad++;
				continue;
			}
			bad += reaped(pid);
		}
	}
	printf("%d processes in %.4f s\n", n, now() - t0);
	return bad ? 1 : 0;
}
