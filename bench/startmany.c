// SPDX-License-Identifier: GPL-2.0
/*
 * startmany - start one process on each of many nodes and wait for them,
 * for the start benchmark (bench/start_bench):
 *
 *   startmany vrfork|rfork NODE...
 *
 * vrfork: bproc_vrfork() of one child per NODE, all at once; rfork: one
 * bproc_rfork() after the other. Each child _exits(0) as soon as it runs
 * on its node; the parent waits for all of them. Prints "N processes in S
 * s" (from before the first call until the last child was reaped), exit 0
 * if every child started and ended well.
 */
#include <errno.h>
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

int main(int argc, char **argv)
{
	int n = argc - 2, i, bad = 0, *nodes, *pids;
	double t0;

	if (n < 1 || (strcmp(argv[1], "vrfork") && strcmp(argv[1], "rfork"))) {
		fprintf(stderr, "usage: startmany vrfork|rfork NODE...\n");
		return 2;
	}
	nodes = calloc(n, sizeof(*nodes));
	pids = calloc(n, sizeof(*pids));
	if (!nodes || !pids)
		return 1;
	for (i = 0; i < n; i++)
		nodes[i] = atoi(argv[i + 2]);
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
