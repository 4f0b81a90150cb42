// SPDX-License-Identifier: GPL-2.0
/*
 * shanon - shared anonymous memory of the process's own across a restore
 * (BPROC_DUMP_SHANON): a MAP_SHARED|MAP_ANONYMOUS region partly written
 * (by a second thread too) and partly never touched, another made
 * read-only after it was written, and a shared mapping of /dev/zero. After
 * the wait (victim.h) every byte must be as it was, each region still
 * shared (maps say 's', with its protection), and shared for real: what a
 * child forked now writes there, the parent reads.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "victim.h"

#define PG 4096
#define A_PAGES 64
#define B_PAGES 4
#define C_PAGES 16

static uint64_t *a, *b, *c;
static volatile int writer_done, quit;

static uint64_t val(char r, size_t i)
{
	return ((uint64_t)r << 56) ^ (i * 0x9e3779b97f4a7c15ULL);
}

/* Region r, word i: written, or zero where the page was never touched. */
static uint64_t want(char r, size_t i)
{
	if (r == 'a' && (i / (PG / 8)) % 3 == 2)
		return 0;
	return val(r, i);
}

static void *writer(void *arg)
{
	size_t i;

	(void)arg;
	/* the pages of a that are 1 mod 3: this thread's */
	for (i = 0; i < A_PAGES * PG / 8; i++)
		if ((i / (PG / 8)) % 3 == 1)
			a[i] = val('a', i);
	writer_done = 1;
	while (!quit)
		usleep(10000);
	return NULL;
}

/* Is [p, p + len) one line of /proc/self/maps with permissions @perms? */
static int mapped_as(void *p, const char *perms)
{
	char line[512], want_start[32], perm[8];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	snprintf(want_start, sizeof(want_start), "%lx-", (unsigned long)p);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want_start, strlen(want_start)) &&
		    sscanf(line, "%*s %7s", perm) == 1)
			found = !strcmp(perm, perms);
	if (f)
		fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	pthread_t t;
	size_t i;
	int fd, ok, st;
	pid_t child;

	victim_setup();
	a = mmap(NULL, A_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, B_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open("/dev/zero", O_RDWR);
	c = mmap(NULL, C_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (a == MAP_FAILED || b == MAP_FAILED || c == MAP_FAILED) {
		printf("FAIL: mmap: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < A_PAGES * PG / 8; i++)
		if ((i / (PG / 8)) % 3 == 0)
			a[i] = val('a', i);
	for (i = 0; i < B_PAGES * PG / 8; i++)
		b[i] = val('b', i);
	mprotect(b, B_PAGES * PG, PROT_READ);
	for (i = 0; i < C_PAGES * PG / 8; i++)
		c[i] = val('c', i);
	pthread_create(&t, NULL, writer, NULL);
	while (!writer_done)
		usleep(1000);
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	ok = 1;
	for (i = 0; i < A_PAGES * PG / 8; i++)
		ok &= a[i] == want('a', i);
	victim_check(ok, "shared anonymous memory changed");
	ok = 1;
	for (i = 0; i < B_PAGES * PG / 8; i++)
		ok &= b[i] == want('b', i);
	victim_check(ok, "read-only shared memory changed");
	ok = 1;
	for (i = 0; i < C_PAGES * PG / 8; i++)
		ok &= c[i] == want('c', i);
	victim_check(ok, "shared /dev/zero memory changed");
	victim_check(mapped_as(a, "rw-s"), "a is not rw-s");
	victim_check(mapped_as(b, "r--s"), "b is not r--s");
	victim_check(mapped_as(c, "rw-s"), "c is not rw-s");

	child = fork();
	if (child == 0) {
		a[5] = 0x1234;
		c[7] = 0x5678;
		_exit(0);
	}
	waitpid(child, &st, 0);
	victim_check(a[5] == 0x1234 && c[7] == 0x5678,
		     "a child's writes are not shared");
	quit = 1;
	pthread_join(t, NULL);
	return victim_result();
}
