// SPDX-License-Identifier: GPL-2.0
/*
 * linger CODE - a process that waits for signals: prints "linger PID",
 * then, for each SIGUSR2, "here PID" (to see its output arrive wherever it
 * runs), and on SIGUSR1 exits with status CODE.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t usr1, usr2;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		usr1 = 1;
	else
		usr2++;
}

int main(int argc, char **argv)
{
	int code = argc > 1 ? atoi(argv[1]) : 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t none, all;

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&none);
	sigemptyset(&all);
	sigaddset(&all, SIGUSR1);
	sigaddset(&all, SIGUSR2);
	sigprocmask(SIG_BLOCK, &all, NULL);
	printf("linger %d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		while (!usr1 && !usr2)
			sigsuspend(&none);
		if (usr1)
			return code;
		usr2--;
		printf("here %d\n", (int)getpid());
		fflush(stdout);
	}
}
