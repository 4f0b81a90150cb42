// SPDX-License-Identifier: GPL-2.0
/*
 * tgkill PID TID SIG - send signal SIG (a number or a name such as URG) to
 * thread TID of process PID alone, as tgkill(2) does; says why it failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int signo(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = { { "HUP", SIGHUP },   { "INT", SIGINT },
		      { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
		      { "USR2", SIGUSR2 }, { "TERM", SIGTERM },
		      { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		      { "URG", SIGURG },   { "WINCH", SIGWINCH } };
	unsigned int i;

	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name))
			return names[i].sig;
	return atoi(s);
}

int main(int argc, char **argv)
{
	int sig;

	if (argc != 4) {
		fprintf(stderr, "usage: tgkill PID TID SIG\n");
		return 2;
	}
	sig = signo(argv[3]);
	if (syscall(SYS_tgkill, atoi(argv[1]), atoi(argv[2]), sig)) {
		fprintf(stderr, "tgkill %s %s %d: %s\n", argv[1], argv[2], sig,
			strerror(errno));
		return 1;
	}
	return 0;
}
