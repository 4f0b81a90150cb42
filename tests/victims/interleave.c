// SPDX-License-Identifier: GPL-2.0
/*
 * interleave N [MS] - write "out I" to stdout and "err I" to stderr, one
 * line each in turn for I in 0..N-1, unbuffered, pausing MS milliseconds
 * (default 0) after every 100, so that with 2>&1 the lines must land in
 * exactly that order; exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int say(int fd, const char *what, long i)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %ld\n", what, i);

	return write(fd, line, (size_t)n) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000, i;
	long ms = argc > 2 ? atol(argv[2]) : 0;
	struct timespec pause = { ms / 1000, (ms % 1000) * 1000000L };

	for (i = 0; i < n; i++) {
		if (say(1, "out", i) || say(2, "err", i))
			return 1;
		if (ms && i % 100 == 99)
			nanosleep(&pause, NULL);
	}
	return 0;
}
