// SPDX-License-Identifier: GPL-2.0
/*
 * mover - a process for the move tests, driven through its stdin (which is
 * forwarded like everything else when it moves). Started as
 *
 *   mover MB [FILE]
 *
 * it fills MB MiB of memory with a pattern (0: none), opens FILE for
 * writing if given, counts the SIGUSR1s it gets, prints "ready PID" and
 * then answers one line on stdout per command line on stdin:
 *
 *   check     "check ok" if every byte of its memory is as it was, else
 *             "check bad" (the pattern is also checked on exit)
 *   where     "where HOSTNAME PID PPID" (getpid(), as the process sees it)
 *   ids       "ids UID EUID SUID GID EGID SGID GROUPS..."
 *   usr1      "usr1 N": SIGUSR1s so far
 *   write S   writes S and a newline to FILE; "write OFFSET" after it
 *   cwd       "cwd PATH"
 *   cd PATH   chdir(PATH): "cd PATH", or "cd error" if it failed
 *   exit N    exits with status N (after "check", silently)
 *   abort     abort() (dies of SIGABRT)
 *   echo S    "echo S"
 *   thread    starts a thread that waits: "thread TID"
 *   unthread  ends the last one started: "unthread TID"
 *   urg       "urg TID": the thread whose SIGURG handler ran last (0: none)
 *   fdflags N "fdflags N F": fd N's descriptor flags (FD_CLOEXEC is 1)
 *   cloexec N sets FD_CLOEXEC on fd N: "cloexec N"
 *   burst N   makes N threads one after the other, each ending at once:
 *             "burst N" once all are joined
 *
 * EOF on stdin ends it with status 3 after printing "eof".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;
static volatile pid_t urg, last_tid;
static volatile sig_atomic_t thread_stop;
static pthread_t last;
static int nr_threads;

static void on_urg(int sig)
{
	(void)sig;
	urg = (pid_t)syscall(SYS_gettid);
}

static void *brief(void *arg)
{
	return arg;
}

static void *waiter(void *arg)
{
	(void)arg;
	last_tid = (pid_t)syscall(SYS_gettid);
	while (!thread_stop)
		usleep(20000);
	return NULL;
}
static uint32_t *mem;
static size_t words;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static uint32_t pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u ^ 0x5a5a1234u;

	return x ? x : 1;
}

static int check(void)
{
	size_t i;

	for (i = 0; i < words; i++)
		if (mem[i] != pattern(i))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	char line[4096], host[256];
	int file = -1;
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: mover MB [FILE]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_urg;
	sigaction(SIGURG, &sa, NULL);
	words = (size_t)atol(argv[1]) << 18;
	if (words) {
		mem = mmap(NULL, words * 4, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		for (i = 0; i < words; i++)
			mem[i] = pattern(i);
	}
	if (argc > 2) {
		file = open(argv[2], O_WRONLY | O_CREAT, 0644);
		if (file < 0) {
			perror(argv[2]);
			return 2;
		}
	}
	printf("ready %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "check")) {
			printf("check %s\n", check() ? "ok" : "bad");
		} else if (!strcmp(line, "where")) {
			gethostname(host, sizeof(host));
			printf("where %s %d %d\n", host, getpid(), getppid());
		} else if (!strcmp(line, "ids")) {
			uid_t r, e, s;
			gid_t gr, ge, gs, g[64];
			int n = getgroups(64, g), k;

			getresuid(&r, &e, &s);
			getresgid(&gr, &ge, &gs);
			printf("ids %u %u %u %u %u %u", r, e, s, gr, ge, gs);
			for (k = 0; k < n; k++)
				printf(" %u", g[k]);
			printf("\n");
		} else if (!strcmp(line, "usr1")) {
			printf("usr1 %d\n", (int)usr1);
		} else if (!strncmp(line, "write ", 6)) {
			dprintf(file, "%s\n", line + 6);
			printf("write %lld\n",
			       (long long)lseek(file, 0, SEEK_CUR));
		} else if (!strcmp(line, "cwd")) {
			char cwd[4096];

			printf("cwd %s\n", getcwd(cwd, sizeof(cwd)) ?: "?");
		} else if (!strncmp(line, "cd ", 3)) {
			if (chdir(line + 3))
				printf("cd error\n");
			else
				printf("cd %s\n", line + 3);
		} else if (!strncmp(line, "exit ", 5)) {
			return check() ? atoi(line + 5) : 99;
		} else if (!strcmp(line, "abort")) {
			abort();
		} else if (!strncmp(line, "echo ", 5)) {
			printf("echo %s\n", line + 5);
		} else if (!strcmp(line, "thread")) {
			last_tid = 0;
			thread_stop = 0;
			if (nr_threads ||
			    pthread_create(&last, NULL, waiter, NULL))
				printf("thread failed\n");
			while (!nr_threads && !last_tid)
				usleep(1000);
			nr_threads = 1;
			printf("thread %d\n", (int)last_tid);
		} else if (!strcmp(line, "unthread")) {
			thread_stop = 1;
			if (nr_threads) {
				pthread_join(last, NULL);
				nr_threads = 0;
			}
			printf("unthread %d\n", (int)last_tid);
		} else if (!strncmp(line, "fdflags ", 8)) {
			int fd = atoi(line + 8);

			printf("fdflags %d %d\n", fd, fcntl(fd, F_GETFD));
		} else if (!strncmp(line, "cloexec ", 8)) {
			int fd = atoi(line + 8);

			fcntl(fd, F_SETFD, FD_CLOEXEC);
			printf("cloexec %d\n", fd);
		} else if (!strncmp(line, "burst ", 6)) {
			int k, n = atoi(line + 6), done = 0;
			pthread_t t;

			for (k = 0; k < n; k++)
				if (!pthread_create(&t, NULL, brief, NULL) &&
				    !pthread_join(t, NULL))
					done++;
			printf("burst %d\n", done);
		} else if (!strcmp(line, "urg")) {
			printf("urg %d\n", (int)urg);
		} else {
			printf("unknown %s\n", line);
		}
	}
	printf("eof\n");
	return 3;
}
