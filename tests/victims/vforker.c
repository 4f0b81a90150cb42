// SPDX-License-Identifier: GPL-2.0
/*
 * vforker - a victim that cannot run its task_work for a while: it says
 * "ready PID" and vfork()s a child that sleeps SECS seconds (argv[1],
 * default 2) before it exits; the parent waits killably meanwhile. Then it
 * prints PASS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts = { argc > 1 ? atoi(argv[1]) : 2, 0 };
	pid_t pid;
	int st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	pid = vfork();
	if (pid == 0) {
		/* Only system calls here: the memory is the parent's. */
		syscall(SYS_nanosleep, &ts, NULL);
		syscall(SYS_exit, 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || st) {
		printf("FAIL\n");
		return 1;
	}
	printf("PASS\n");
	return 0;
}
