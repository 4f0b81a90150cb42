// SPDX-License-Identifier: GPL-2.0
/*
 * Logging to stderr, one write(2) per line so lines from several threads
 * never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "bproc";
static int log_max_level = LOG_INFO;
static bool log_journal;

void bp_log_init(const char *prog, int max_level)
{
	const char *slash = strrchr(prog, '/');

	log_prog = slash ? slash + 1 : prog;
	log_max_level = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to journald */
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void bp_log(int level, const char *prefix, const char *fmt, ...)
{
	int saved_errno = errno;
	char line[1024];
	size_t n = 0;
	va_list ap;
	int r;

	if (level > log_max_level)
		return;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", level);
	r = snprintf(line + n, sizeof(line) - n, "%s: %s: %s: ", log_prog,
		     level_name(level), prefix);
	if (r > 0)
		n += r;
	va_start(ap, fmt);
	errno = saved_errno; /* for %m */
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}
