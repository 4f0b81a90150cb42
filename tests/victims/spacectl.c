// SPDX-License-Identifier: GPL-2.0
/*
 * spacectl - drive the engine's process-space features for the tests:
 *
 *   spacectl watch LO HI CMD [ARGS...]
 *     run CMD (with sh -c semantics left to CMD) as init of a new pid
 *     namespace watched with BPROC_IOC_SPACE, its new pids kept in
 *     [LO, HI); print "fork PID PPID", "exit PID STATUS" and "reaped PID"
 *     for every event there (pids as the namespace numbers them) until its
 *     init has ended and been reaped; exit 0.
 *
 *   spacectl steer LO HI CMD [ARGS...]
 *     keep new pids of this (the front end's) namespace in [LO, HI) while
 *     CMD runs; exit with its status.
 *
 *   spacectl ghostfork PID CHILD
 *     dump PID and make it a ghost, then have the ghost fork a ghost child
 *     with pid CHILD and check it: "forked CHILD" (or "fork ERRNAME"); its
 *     parent, process group, session, uid and capabilities are the ghost's
 *     ("same ppid pgrp session uid caps"); a signal sent to it is an event
 *     of its own handle ("child event SIGNO"); ended with code 5 it is a
 *     zombie of the ghost until the ghost reaps it ("zombie", "reaped");
 *     a pid that is taken is refused ("taken EEXIST"); then the ghost ends
 *     with code 0 ("gone"). Exit 0 when all of it held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bproc/bproc.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

static int watch(int dev, int argc, char **argv)
{
	struct bproc_space_args a = { 0 };
	struct bproc_space_event ev[64];
	int go[2], inits = 0, st;
	pid_t init;
	ssize_t n;

	if (argc < 5 || pipe(go) || unshare(CLONE_NEWPID))
		return fail("watch: setup");
	init = fork();
	if (init < 0)
		return fail("fork");
	if (init == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(126);
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	close(go[0]);
	a.pid = init;
	a.flags = BPROC_SPACE_EVENTS;
	a.pid_lo = (unsigned int)atoi(argv[2]);
	a.pid_hi = (unsigned int)atoi(argv[3]);
	if (ioctl(dev, BPROC_IOC_SPACE, &a))
		return fail("BPROC_IOC_SPACE");
	if (ioctl(dev, BPROC_IOC_SPACE, &a) == 0 || errno != EBUSY)
		return fail("a second watcher was not refused");
	if (write(go[1], "x", 1) != 1)
		return fail("go");
	close(go[1]);
	while (inits < 2 && (n = read(a.fd, ev, sizeof(ev))) > 0) {
		int i;

		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++) {
			switch (ev[i].type) {
			case BPROC_SPACE_FORK:
				printf("fork %d %d\n", ev[i].pid, ev[i].ppid);
				break;
			case BPROC_SPACE_EXIT:
				printf("exit %d %u\n", ev[i].pid, ev[i].status);
				inits += ev[i].pid == 1;
				break;
			case BPROC_SPACE_REAPED:
				printf("reaped %d\n", ev[i].pid);
				inits += ev[i].pid == 1;
				break;
			default:
				printf("lost\n");
			}
		}
		/* init is ours to reap, once it has ended */
		if (inits == 1 && init > 0 && waitpid(init, &st, 0) == init)
			init = 0;
	}
	return 0;
}

static int steer(int dev, int argc, char **argv)
{
	struct bproc_space_args a = { 0 };
	pid_t pid;
	int st;

	if (argc < 5)
		return 2;
	a.pid_lo = (unsigned int)atoi(argv[2]);
	a.pid_hi = (unsigned int)atoi(argv[3]);
	if (ioctl(dev, BPROC_IOC_SPACE, &a))
		return fail("BPROC_IOC_SPACE");
	pid = fork();
	if (pid == 0) {
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return fail("run");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Fields of /proc/PID/stat from ppid on: ppid pgrp session; state. */
static int stat_of(pid_t pid, char *state, int f[3])
{
	char path[64], buf[512], *p;
	FILE *s;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s = fopen(path, "r");
	if (!s)
		return -1;
	ok = fgets(buf, sizeof(buf), s) != NULL;
	fclose(s);
	p = ok ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 2, "%c %d %d %d", state, &f[0], &f[1], &f[2]) != 4)
		return -1;
	return 0;
}

/* The Uid: and CapEff: lines of /proc/PID/status, in one string. */
static void creds_of(pid_t pid, char *out, size_t len)
{
	char path[64], line[256];
	FILE *s;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	out[0] = '\0';
	s = fopen(path, "r");
	if (!s)
		return;
	while (fgets(line, sizeof(line), s))
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "CapEff:", 7) ||
		    !strncmp(line, "CapPrm:", 7))
			strncat(out, line, len - strlen(out) - 1);
	fclose(s);
}

static int ghostfork(int dev, int argc, char **argv)
{
	struct bproc_dump_args d = { 0 };
	struct bproc_ghost_fork f = { 0 };
	struct bproc_ghost_exit ex = { .how = BPROC_GHOST_EXIT_CODE };
	struct bproc_ghost_reap r = { 0 };
	struct bproc_ghost_event ev[8];
	char st1, st2, c1[512], c2[512];
	int img, p[3], c[3], bad = 0, i;
	pid_t ghost, child;
	ssize_t n;

	if (argc != 4)
		return 2;
	ghost = atoi(argv[2]);
	child = atoi(argv[3]);
	img = open("/tmp/spacectl.img", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (img < 0)
		return fail("image");
	d.pid = ghost;
	d.fd = img;
	if (ioctl(dev, BPROC_IOC_DUMP, &d)) {
		fprintf(stderr, "dump: %s\n", d.reason);
		return fail("dump");
	}
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST))
		return fail("ghost");
	f.pid = child;
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_FORK, &f)) {
		printf("fork %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("forked %d\n", f.lpid);
	if (f.lpid != child)
		bad = 1;
	/* give its task_work the time to make it a ghost */
	for (i = 0; i < 50; i++) {
		if (!stat_of(child, &st2, c) && st2 == 'S')
			break;
		usleep(20000);
	}
	if (stat_of(ghost, &st1, p) || stat_of(child, &st2, c))
		return fail("stat");
	creds_of(ghost, c1, sizeof(c1));
	creds_of(child, c2, sizeof(c2));
	printf("%s %s %s %s %s\n", c[0] == ghost ? "same" : "other",
	       c[1] == p[1] ? "same" : "other", c[2] == p[2] ? "same" : "other",
	       strncmp(c1, c2, strchr(c1, '\n') - c1) ? "other" : "same",
	       strcmp(c1, c2) ? "other" : "same");
	if (strcmp(c1, c2))
		fprintf(stderr, "ghost:\n%schild:\n%s", c1, c2);
	kill(child, SIGUSR1);
	n = read(f.handle_fd, ev, sizeof(ev));
	if (n <= 0)
		return fail("child events");
	printf("child event %u\n", ev[0].signo);
	ex.value = 5;
	if (ioctl(f.handle_fd, BPROC_IOC_GHOST_EXIT, &ex))
		return fail("child exit");
	while ((n = read(f.handle_fd, ev, sizeof(ev))) > 0)
		;
	for (i = 0; i < 50; i++) {
		if (!stat_of(child, &st2, c) && st2 == 'Z')
			break;
		usleep(20000);
	}
	printf("%s\n", st2 == 'Z' ? "zombie" : "not a zombie");
	r.pid = child;
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_REAP, &r))
		return fail("reap");
	printf("%s\n",
	       kill(child, 0) && errno == ESRCH ? "reaped" : "not reaped");
	f.pid = getpid();
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_FORK, &f) == 0)
		printf("taken: forked\n");
	else
		printf("taken %s\n", strerrorname_np(errno));
	ex.value = 0;
	if (ioctl(d.handle_fd, BPROC_IOC_GHOST_EXIT, &ex))
		return fail("ghost exit");
	while ((n = read(d.handle_fd, ev, sizeof(ev))) > 0)
		;
	printf("gone\n");
	return bad;
}

int main(int argc, char **argv)
{
	int dev;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	dev = open(BPROC_DEVICE, O_RDWR);
	if (dev < 0)
		return fail(BPROC_DEVICE);
	if (!strcmp(argv[1], "watch"))
		return watch(dev, argc, argv);
	if (!strcmp(argv[1], "steer"))
		return steer(dev, argc, argv);
	if (!strcmp(argv[1], "ghostfork"))
		return ghostfork(dev, argc, argv);
	return 2;
}
