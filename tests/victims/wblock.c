// SPDX-License-Identifier: GPL-2.0
/*
 * wblock - a victim blocked in a write(): wblock ERRNO
 *   says "ready PID" on stderr, then writes 1 MiB to stdout (a pipe nobody
 *   reads) in one write(), which must fail with errno ERRNO (the result
 *   BPROC_IOC_RESUME_RET gives it). Prints PASS or FAIL on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (1 << 20)

int main(int argc, char **argv)
{
	static char buf[SIZE];
	int want = argc > 1 ? atoi(argv[1]) : 0, e;
	ssize_t n;

	memset(buf, 'x', sizeof(buf));
	fprintf(stderr, "ready %d\n", getpid());
	n = write(1, buf, sizeof(buf));
	e = errno;
	fprintf(stderr, "write returned %zd errno %d (%s)\n", n, n < 0 ? e : 0,
		n < 0 ? strerror(e) : "");
	if (n == -1 && e == want) {
		fprintf(stderr, "PASS\n");
		return 0;
	}
	fprintf(stderr, "FAIL\n");
	return 1;
}
