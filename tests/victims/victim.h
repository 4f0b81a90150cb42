/* SPDX-License-Identifier: GPL-2.0 */
/*
 * victim.h - the frame of the engine's victim programs, in the style of
 * CRIU's zdtm tests: set up state, say "ready", wait while being dumped and
 * restored, then verify everything and print PASS or FAIL (exit 0 or 1).
 *
 * The wait is chosen by the first argument:
 *   pause      pause() until SIGUSR1
 *   busy       spin in user space until SIGUSR1
 *   nanosleep  one nanosleep of VICTIM_SLEEP seconds (default 4) that must
 *              return 0 having slept its full time, restarted or not
 *              (wall-clock time, so that it can be measured across
 *              machines; VICTIM_SLACK seconds of clock difference allowed,
 *              default 0.01)
 *   read       read() from stdin until it yields "go"
 * "ready" goes to stdout once the state is set up; PASS/FAIL lines go to
 * stdout too, which after a restore is the restoring process's stdout.
 */
#ifndef VICTIM_H
#define VICTIM_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t victim_woken;
static int victim_failures;

static void victim_on_usr1(int sig)
{
	(void)sig;
	victim_woken = 1;
}

static void __attribute__((format(printf, 2, 3), unused))
victim_check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	victim_failures++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void victim_ready(void)
{
	printf("ready %d\n", getpid());
	fflush(stdout);
}

/* Clock difference allowed between where a sleep starts and ends. */
static double __attribute__((unused)) victim_slack(void)
{
	const char *s = getenv("VICTIM_SLACK");

	return s ? atof(s) : 0.01;
}

static double __attribute__((unused)) victim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Install the SIGUSR1 handler; call before victim_ready(). */
static void victim_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = victim_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static void __attribute__((unused)) victim_wait(const char *mode)
{
	if (!strcmp(mode, "pause")) {
		while (!victim_woken)
			pause();
	} else if (!strcmp(mode, "busy")) {
		while (!victim_woken)
			;
	} else if (!strcmp(mode, "nanosleep")) {
		const char *s = getenv("VICTIM_SLEEP");
		double secs = s ? atof(s) : 4, t0 = victim_now(), t;
		struct timespec req = { (time_t)secs, 0 };
		int r = nanosleep(&req, NULL);

		t = victim_now() - t0;
		victim_check(r == 0, "nanosleep returned %d (%s)", r,
			     strerror(errno));
		victim_check(t >= secs - victim_slack(),
			     "nanosleep slept %.2fs of %.0fs", t, secs);
	} else if (!strcmp(mode, "read")) {
		char buf[16] = "";
		ssize_t n = read(0, buf, sizeof(buf) - 1);

		victim_check(n >= 2 && !strncmp(buf, "go", 2),
			     "read returned %zd '%s' (%s)", n, buf,
			     n < 0 ? strerror(errno) : "");
	} else {
		printf("FAIL: unknown wait mode %s\n", mode);
		exit(2);
	}
}

static int victim_result(void)
{
	printf("%s\n", victim_failures ? "FAIL" : "PASS");
	fflush(stdout);
	return victim_failures ? 1 : 0;
}

#endif
