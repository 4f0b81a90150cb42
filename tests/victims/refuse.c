// SPDX-License-Identifier: GPL-2.0
/*
 * refuse - hold one thing that cannot move, given by argv[1]: threads, shm
 * (SysV), shanon (shared anonymous memory), socket, pipe, dev (an open
 * device, /dev/mem: /dev/null and the like reopen by path), inotify,
 * epollstdin (an epoll watching stdin, which does not move), devmap (a device mapping: the BIOS area of /dev/mem), zeromap
 * (a shared mapping of /dev/zero, i.e. shared anonymous memory),
 * shanonfork (shared anonymous memory that a child shares). Then wait for
 * SIGUSR1 and print PASS: a dump must fail with EOPNOTSUPP and leave it
 * running. (bproc-ckpt carries threads, shanon and zeromap: only moves
 * refuse them.)
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>

#include "victim.h"

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	int fds[2], ok = 1;

	victim_setup();
	if (!strcmp(what, "threads")) {
		pthread_t t;

		ok = !pthread_create(&t, NULL, sleeper, NULL);
	} else if (!strcmp(what, "shm")) {
		int id = shmget(IPC_PRIVATE, 65536, IPC_CREAT | 0600);

		ok = id >= 0 && shmat(id, NULL, 0) != (void *)-1;
		shmctl(id, IPC_RMID, NULL);
	} else if (!strcmp(what, "shanon")) {
		ok = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0) != MAP_FAILED;
	} else if (!strcmp(what, "shanonfork")) {
		char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		pid_t child;

		ok = p != MAP_FAILED;
		if (ok && (child = fork()) == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause(); /* killed with its parent's group */
		}
		ok = ok && child > 0;
	} else if (!strcmp(what, "socket")) {
		ok = socket(AF_UNIX, SOCK_STREAM, 0) >= 0;
	} else if (!strcmp(what, "pipe")) {
		ok = pipe(fds) == 0;
	} else if (!strcmp(what, "dev")) {
		ok = open("/dev/mem", O_RDONLY) >= 0;
	} else if (!strcmp(what, "inotify")) {
		ok = inotify_init1(0) >= 0;
	} else if (!strcmp(what, "epollstdin")) {
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = epoll_create1(0);

		ok = ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
	} else if (!strcmp(what, "devmap")) {
		int fd = open("/dev/mem", O_RDONLY);

		ok = fd >= 0 && mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
				     0xf0000) != MAP_FAILED;
		close(fd);
	} else if (!strcmp(what, "zeromap")) {
		int fd = open("/dev/zero", O_RDWR);

		ok = fd >= 0 && mmap(NULL, 65536, PROT_READ | PROT_WRITE,
				     MAP_SHARED, fd, 0) != MAP_FAILED;
		close(fd);
	} else {
		printf("FAIL: unknown kind %s\n", what);
		return 2;
	}
	if (!ok) {
		printf("FAIL: setup %s: %s\n", what, strerror(errno));
		return 1;
	}
	victim_ready();
	victim_wait("pause");
	return victim_result();
}
