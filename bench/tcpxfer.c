// SPDX-License-Identifier: GPL-2.0
/*
 * tcpxfer - the raw transfer the move benchmark compares moves with: BYTES
 * of touched memory sent over one TCP connection into fresh memory on the
 * other side, nothing else.
 *
 *   tcpxfer recv PORT           accept one connection, read everything into
 *                               memory it touches as it reads, answer one
 *                               byte, print the bytes received
 *   tcpxfer send HOST PORT BYTES
 *                               fill BYTES of memory (a pattern, so every
 *                               page is touched), connect, send, wait for
 *                               the receiver's byte; print the seconds from
 *                               the connect to that byte
 *   tcpxfer sendfile HOST PORT FILE
 *                               the same with the contents of FILE (read
 *                               before the clock starts); with recv -o DIR
 *                               on the other side, DIR/FILE's name gets it
 *
 * Buffers are 1 MiB, as the agents' frames.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static int die(const char *what)
{
	perror(what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int recv_main(int port, const char *out)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	size_t len = 0;
	int one = 1, l, c, fd;
	uint8_t *mem;
	ssize_t n;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		die("listen");
	printf("listening\n");
	fflush(stdout);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	/* grown as needed; fresh pages are faulted in as they are written */
	mem = mmap(NULL, 8ul << 30, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (;;) {
		n = read(c, mem + len, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		len += (size_t)n;
		if (len + CHUNK > (8ul << 30))
			die("too much");
	}
	if (out) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, mem, len) != (ssize_t)len || close(fd))
			die(out);
	}
	if (write(c, "k", 1) != 1)
		die("ack");
	printf("%zu\n", len);
	return 0;
}

static int send_main(const char *host, int port, uint8_t *mem, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	size_t off = 0;
	double t0, t1;
	char ack;
	int s;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("address");
	t0 = now();
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	while (off < len) {
		size_t k = len - off > CHUNK ? CHUNK : len - off;
		ssize_t n = write(s, mem + off, k);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		off += (size_t)n;
	}
	shutdown(s, SHUT_WR);
	if (read(s, &ack, 1) != 1)
		die("no ack");
	t1 = now();
	printf("%.4f\n", t1 - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return recv_main(atoi(argv[2]), NULL);
	if (argc == 5 && !strcmp(argv[1], "recv") && !strcmp(argv[3], "-o"))
		return recv_main(atoi(argv[2]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "send")) {
		size_t len = (size_t)atoll(argv[4]), i;
		uint32_t *w = malloc(len + 4);

		if (!w)
			die("malloc");
		for (i = 0; i < len / 4; i++)
			w[i] = (uint32_t)i * 2654435761u ^ 0x5a5a1234u;
		return send_main(argv[2], atoi(argv[3]), (uint8_t *)w, len);
	}
	if (argc == 5 && !strcmp(argv[1], "sendfile")) {
		struct stat st;
		uint8_t *buf;
		size_t got = 0;
		ssize_t n = 1;
		int fd = open(argv[4], O_RDONLY);

		if (fd < 0 || fstat(fd, &st))
			die(argv[4]);
		buf = malloc((size_t)st.st_size + 1);
		if (!buf)
			die("malloc");
		while (got < (size_t)st.st_size &&
		       (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
			got += (size_t)n;
		if (n <= 0)
			die("read file");
		return send_main(argv[2], atoi(argv[3]), buf,
				 (size_t)st.st_size);
	}
	fprintf(stderr, "usage: tcpxfer recv PORT [-o FILE] | send HOST PORT "
			"BYTES | sendfile HOST PORT FILE\n");
	return 2;
}
