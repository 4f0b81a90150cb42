// SPDX-License-Identifier: GPL-2.0
/*
 * lines N [MS] - write the lines 0 to N-1 to stdout, pausing MS
 * milliseconds (default 2) after every 100 lines, so that it can be moved
 * while it writes; exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000, i;
	long ms = argc > 2 ? atol(argv[2]) : 2;
	struct timespec pause = { ms / 1000, (ms % 1000) * 1000000L };

	setvbuf(stdout, NULL, _IOFBF, 4096);
	for (i = 0; i < n; i++) {
		printf("%ld\n", i);
		if (i % 100 == 99) {
			fflush(stdout);
			nanosleep(&pause, NULL);
		}
	}
	return fflush(stdout) ? 1 : 0;
}
