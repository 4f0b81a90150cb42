// SPDX-License-Identifier: GPL-2.0
/*
 * tracer - hold a process in a ptrace stop for the tests: tracer PID
 * seizes PID, interrupts it, prints "stopped" once it is in the stop, then
 * waits for a line on stdin and detaches (the process goes on).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	pid_t pid;
	char line[16];
	int st;

	if (argc != 2)
		return 2;
	pid = atoi(argv[1]);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, pid, 0, 0)) {
		perror("ptrace");
		return 1;
	}
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st)) {
		perror("waitpid");
		return 1;
	}
	printf("stopped\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	if (ptrace(PTRACE_DETACH, pid, 0, 0)) {
		perror("detach");
		return 1;
	}
	printf("detached\n");
	return 0;
}
