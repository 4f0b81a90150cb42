// SPDX-License-Identifier: GPL-2.0
/*
 * dgrams N - write N messages to stdout, each with one write(2): message I
 * is "msg I " followed by dots up to a length that varies with I (8 to
 * 8008 bytes), so that a reader of a datagram socket can check that each
 * arrived whole and on its own; exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100, i;
	static char msg[8192];

	for (i = 0; i < n; i++) {
		size_t len = 8 + (size_t)(i * 997 % 8001);
		int k = snprintf(msg, sizeof(msg), "msg %ld ", i);

		memset(msg + k, '.', len - (size_t)k);
		if (write(1, msg, len) != (ssize_t)len) {
			perror("dgrams: write");
			return 1;
		}
	}
	return 0;
}
