// SPDX-License-Identifier: GPL-2.0
/*
 * ptyrun [-s] CMD [ARGS...] - run CMD as the foreground job of a terminal
 * of its own, as an interactive shell would (with -s: as the terminal's
 * session leader itself, as a login shell is, so that the terminal hangs
 * up when it ends), and play the user at that terminal with the commands
 * read from stdin, one per line:
 *
 *   expect TEXT   wait (60 s at most) until the terminal has shown TEXT
 *                 since the last expect; prints "got TEXT" or "timeout"
 *   send TEXT     type TEXT and Enter; \003 (Ctrl-C) and \032 (Ctrl-Z)
 *                 are typed as those keys, without Enter
 *   move NODE     write the job's pid to /bproc/NODE/move: "move ok" or
 *                 "move ERRNO"
 *   status        the job's next change as its shell sees it (60 s at
 *                 most): "exited N", "killed SIG", "stopped SIG"
 *   fg            what fg does: the job in the foreground again, SIGCONT
 *   pid           prints "pid N", the job's pid
 *
 * A "shell" child is the session leader and the terminal's controlling
 * process; CMD runs in a process group of its own, in the foreground, so
 * that Ctrl-C and Ctrl-Z reach it and a stop is job control, not an
 * orphaned group's. What the terminal showed is printed at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char seen[1 << 20];
static size_t seen_len, expect_from;
static int master_fd;

static void pump(int ms)
{
	struct pollfd p = { .fd = master_fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return;
	n = read(master_fd, seen + seen_len, sizeof(seen) - 1 - seen_len);
	if (n > 0)
		seen_len += (size_t)n;
	seen[seen_len] = '\0';
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A terminal's job starts with every signal at its default, whatever we
 * were started with (a job in the background of a script ignores SIGINT).
 */
/* In a child: a session of its own, the pty its terminal and stdio. */
static void take_terminal(int master_fd)
{
	int slave;

	setsid();
	slave = open(ptsname(master_fd), O_RDWR);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0))
		_exit(126);
	dup2(slave, 0);
	dup2(slave, 1);
	dup2(slave, 2);
}

static void default_signals(void)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
}

/* The shell: job in its own group, in the foreground; report its changes. */
static void __attribute__((noreturn)) shell(char **cmd, int report)
{
	pid_t job;
	int st;

	job = fork();
	if (job == 0) {
		setpgid(0, 0);
		tcsetpgrp(0, getpid());
		default_signals();
		close(3);
		close(4);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	setpgid(job, job);
	tcsetpgrp(0, job);
	dprintf(report, "pid %d\n", job);
	for (;;) {
		char line[64];
		ssize_t n;

		if (waitpid(job, &st, WUNTRACED) < 0)
			_exit(0);
		if (WIFSTOPPED(st)) {
			dprintf(report, "stopped %d\n", WSTOPSIG(st));
			/* fg: told on the report pipe's other direction */
			n = read(3, line, sizeof(line));
			if (n <= 0)
				_exit(0);
			tcsetpgrp(0, job);
			kill(-job, SIGCONT);
			continue;
		}
		if (WIFSIGNALED(st))
			dprintf(report, "killed %d\n", WTERMSIG(st));
		else
			dprintf(report, "exited %d\n", WEXITSTATUS(st));
		_exit(0);
	}
}

/* With -s: CMD is the session leader, and our child: its next change. */
static void leader_status(pid_t job)
{
	double until = now() + 60;
	int st;

	for (;;) {
		pid_t r = waitpid(job, &st, WUNTRACED | WNOHANG);

		if (r == job)
			break;
		if (r < 0 || now() > until) {
			printf("no status\n");
			return;
		}
		pump(100);
	}
	if (WIFSTOPPED(st))
		printf("stopped %d\n", WSTOPSIG(st));
	else if (WIFSIGNALED(st))
		printf("killed %d\n", WTERMSIG(st));
	else
		printf("exited %d\n", WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	char line[4096], rep[256], *p;
	int rp[2], fg[2], leader = 0;
	pid_t job = 0;
	FILE *reports;

	if (argc > 1 && !strcmp(argv[1], "-s")) {
		leader = 1;
		argv++;
		argc--;
	}
	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	master_fd = posix_openpt(O_RDWR | O_NOCTTY);
	if (master_fd < 0 || grantpt(master_fd) || unlockpt(master_fd))
		return perror("pty"), 1;
	if (pipe(rp) || pipe(fg))
		return perror("pipe"), 1;
	if (leader) {
		job = fork();
		if (job == 0) {
			take_terminal(master_fd);
			close_range(3, ~0U, 0);
			default_signals();
			execvp(argv[1], argv + 1);
			_exit(127);
		}
		dprintf(rp[1], "pid %d\n", job);
	} else if (fork() == 0) {
		int f3 = fcntl(fg[0], F_DUPFD, 10),
		    f4 = fcntl(rp[1], F_DUPFD, 10);

		take_terminal(master_fd);
		dup2(f3, 3);
		dup2(f4, 4);
		close_range(5, ~0U, 0);
		signal(SIGTTOU, SIG_IGN);
		shell(argv + 1, 4);
	}
	close(rp[1]);
	close(fg[0]);
	reports = fdopen(rp[0], "r");
	if (!fgets(rep, sizeof(rep), reports) ||
	    sscanf(rep, "pid %d", &job) != 1)
		return fprintf(stderr, "no job\n"), 1;
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "expect ", 7)) {
			double until = now() + 60;

			while (!strstr(seen + expect_from, line + 7) &&
			       now() < until)
				pump(100);
			p = strstr(seen + expect_from, line + 7);
			if (p) {
				expect_from =
					(size_t)(p - seen) + strlen(line + 7);
				printf("got %s\n", line + 7);
			} else {
				printf("timeout waiting for %s\n", line + 7);
			}
		} else if (!strncmp(line, "send ", 5)) {
			const char *t = line + 5;

			if (!strcmp(t, "\\003") || !strcmp(t, "\\032")) {
				char key = t[3] == '3' ? 3 : 26;

				if (write(master_fd, &key, 1) != 1)
					perror("send");
			} else if (dprintf(master_fd, "%s\r", t) < 0) {
				perror("send");
			}
			pump(50);
		} else if (!strncmp(line, "move ", 5)) {
			char path[256], pid[32];
			int fd, err = 0, n;

			snprintf(path, sizeof(path), "/bproc/%.64s/move",
				 line + 5);
			n = snprintf(pid, sizeof(pid), "%d\n", job);
			fd = open(path, O_WRONLY);
			if (fd < 0 || write(fd, pid, (size_t)n) != n)
				err = errno;
			if (fd >= 0)
				close(fd);
			printf("move %s\n", err ? strerrorname_np(err) : "ok");
		} else if (!strcmp(line, "status") && leader) {
			leader_status(job);
		} else if (!strcmp(line, "status")) {
			struct pollfd pr = { .fd = rp[0], .events = POLLIN };
			double until = now() + 60;

			while (poll(&pr, 1, 100) == 0 && now() < until)
				pump(0);
			if (fgets(rep, sizeof(rep), reports))
				printf("%s", rep);
			else
				printf("no status\n");
		} else if (!strncmp(line, "pid", 3)) {
			printf("pid %d\n", job);
		} else if (!strcmp(line, "fg")) {
			if (write(fg[1], "fg\n", 3) != 3)
				perror("fg");
			printf("continued\n");
		}
		pump(0);
	}
	pump(200);
	printf("--- the terminal:\n%s\n---\n", seen);
	return 0;
}
