// SPDX-License-Identifier: GPL-2.0
/*
 * jobwait - a parent that watches its child as a shell's job control does:
 * jobwait PROGRAM ARGS...
 *   runs PROGRAM in a process group of its own (so that it is not orphaned
 *   and obeys SIGTSTP) and prints, for each change waitpid(WUNTRACED |
 *   WCONTINUED) reports, "stopped SIG", "continued", "exited CODE" or
 *   "signaled SIG" (then exits 0).
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		setpgid(0, 0);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	setpgid(pid, pid);
	for (;;) {
		if (waitpid(pid, &st, WUNTRACED | WCONTINUED) != pid) {
			perror("waitpid");
			return 1;
		}
		if (WIFSTOPPED(st)) {
			printf("stopped %d\n", WSTOPSIG(st));
		} else if (WIFCONTINUED(st)) {
			printf("continued\n");
		} else if (WIFEXITED(st)) {
			printf("exited %d\n", WEXITSTATUS(st));
			return 0;
		} else if (WIFSIGNALED(st)) {
			printf("signaled %d%s\n", WTERMSIG(st),
			       WCOREDUMP(st) ? " core" : "");
			return 0;
		}
	}
}
