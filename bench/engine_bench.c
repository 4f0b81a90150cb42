// SPDX-License-Identifier: GPL-2.0
/*
 * engine_bench - the timed parts of the engine benchmark (engine_bench.sh).
 *
 *   engine_bench bproc PID NAME FILE   dump process PID (comm NAME) to FILE
 *                                      and end it, then restore FILE in a
 *                                      forked child, as a node agent does
 *                                      (no exec); prints "dump_s restore_s
 *                                      bytes"; the restore counts until the
 *                                      child runs as NAME (polled every
 *                                      0.5 ms, leaving the CPU to it).
 *   engine_bench copy FILE BYTES       the floor for moving BYTES of memory
 *                                      through a file: write() them from
 *                                      touched memory, read() them back into
 *                                      fresh memory; prints "write_s read_s".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bproc/bproc.h>
#include "imgread.h"
#include "vdso.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *reason)
{
	fprintf(stderr, "engine_bench: %s: %s%s%s\n", what, strerror(errno),
		reason && *reason ? ": " : "", reason ? reason : "");
	exit(1);
}

static int comm_is(pid_t pid, const char *name)
{
	char path[64], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return !strcmp(buf, name);
}

static int bench_bproc(pid_t pid, const char *name, const char *file)
{
	struct bproc_dump_args d;
	struct bproc_image_mm mm;
	const void *p;
	uint64_t size;
	char err[256];
	struct img img;
	double t0, t1, t2;
	pid_t child;
	int dev, fd, st;

	dev = open(BPROC_DEVICE, O_RDWR);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (dev < 0 || fd < 0)
		die("open", NULL);

	t0 = now();
	memset(&d, 0, sizeof(d));
	d.pid = pid;
	d.fd = fd;
	if (ioctl(dev, BPROC_IOC_DUMP, &d))
		die("dump", d.reason);
	if (ioctl(d.handle_fd, BPROC_IOC_KILL))
		die("kill", NULL);
	close(d.handle_fd);
	t1 = now();

	/* The MM section, for the vDSO's place (not timed: a node agent has it). */
	if (img_load(&img, fd, 0, err, sizeof(err)))
		die("image", err);
	p = img_get(&img, BPROC_SEC_MM, &size);
	if (!p || size != sizeof(mm))
		die("image", "no MM");
	memcpy(&mm, p, sizeof(mm));
	img_free(&img);
	waitpid(pid, NULL, 0);

	t2 = now();
	child = fork();
	if (child == 0) {
		struct bproc_restore_args r;

		if (vdso_place(&mm, err, sizeof(err)))
			_exit(3);
		lseek(fd, 0, SEEK_SET);
		memset(&r, 0, sizeof(r));
		r.fd = fd;
		r.dev_fd = dev;
		r.flags = BPROC_RESTORE_CLOSE_FDS;
		ioctl(dev, BPROC_IOC_RESTORE, &r);
		fprintf(stderr, "engine_bench: restore: %s: %s\n",
			strerror(errno), r.reason);
		_exit(4);
	}
	for (;;) {
		int c = comm_is(child, name);

		if (c == 1)
			break;
		if (waitpid(child, &st, WNOHANG) == child) {
			fprintf(stderr,
				"engine_bench: restore failed (status %#x)\n",
				st);
			return 1;
		}
		/* Poll gently: the VM has one CPU and the child needs it. */
		nanosleep(&(struct timespec){ 0, 500000 }, NULL);
	}
	printf("%.4f %.4f %lld\n", t1 - t0, now() - t2,
	       (long long)lseek(fd, 0, SEEK_END));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}

static int bench_copy(const char *file, size_t bytes)
{
	char *src = malloc(bytes), *dst;
	double t0, t1, t2;
	size_t done;
	int fd;

	if (!src)
		die("malloc", NULL);
	memset(src, 0x5a, bytes);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(file, NULL);
	t0 = now();
	for (done = 0; done < bytes;) {
		ssize_t n = write(fd, src + done, bytes - done);

		if (n <= 0)
			die("write", NULL);
		done += (size_t)n;
	}
	t1 = now();
	dst = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		die("mmap", NULL);
	for (done = 0; done < bytes;) {
		ssize_t n = pread(fd, dst + done, bytes - done, (off_t)done);

		if (n <= 0)
			die("read", NULL);
		done += (size_t)n;
	}
	t2 = now();
	printf("%.4f %.4f\n", t1 - t0, t2 - t1);
	unlink(file);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "bproc"))
		return bench_bproc(atoi(argv[2]), argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "copy"))
		return bench_copy(argv[2], strtoull(argv[3], NULL, 10));
	fprintf(stderr,
		"usage: engine_bench bproc PID NAME FILE | copy FILE BYTES\n");
	return 2;
}
