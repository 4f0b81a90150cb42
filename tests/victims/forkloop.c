// SPDX-License-Identifier: GPL-2.0
/*
 * forkloop N - fork N children one after the other, each _exit(0)s at
 * once and is reaped before the next fork; prints the microseconds per
 * fork + exit + wait, and the first and last child's pid and getppid()
 * as seen by the child (a check that the run was the kind asked for).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int p[2], bad = 0;
	pid_t first = 0, last = 0;
	double t0, t;

	if (n < 1 || pipe(p))
		return 2;
	t0 = now();
	for (int i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			pid_t pp = getppid();

			_exit(pp == getpid() ? 1 : (pp == 0 ? 3 : 0));
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			bad++;
		if (!first)
			first = pid;
		last = pid;
	}
	t = now() - t0;
	printf("forks=%d us_per_fork=%.1f first_pid=%d last_pid=%d bad=%d\n", n,
	       t / n * 1e6, (int)first, (int)last, bad);
	return bad ? 1 : 0;
}
