// SPDX-License-Identifier: GPL-2.0
/*
 * lineread MS1 MS2 - sleep MS1 milliseconds, read one line from stdin a
 * byte at a time (as a shell's read does on a pipe: nothing beyond the
 * line is consumed), sleep MS2 milliseconds, then print "got LINE" and
 * exit 0 (1 at EOF before a line). It can be moved in either sleep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	char line[256];
	size_t n = 0;
	char c;

	sleep_ms(argc > 1 ? atol(argv[1]) : 0);
	while (n < sizeof(line) - 1) {
		ssize_t r = read(0, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 1;
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	sleep_ms(argc > 2 ? atol(argv[2]) : 0);
	printf("got %s\n", line);
	return 0;
}
