/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging for the bproc daemons: one line per message on stderr, prefixed
 * with the program, the level and the file's subsystem (LOG_PREFIX), so that
 * journald (which reads the "<N>" syslog priority when JOURNAL_STREAM says
 * stderr goes to the journal) and a person at a terminal both read it well.
 *
 * Each .c file defines LOG_PREFIX before including this header.
 */
#ifndef BPROC_LOG_H
#define BPROC_LOG_H

#include <syslog.h>

#ifndef LOG_PREFIX
#define LOG_PREFIX "main"
#endif

/*
 * bp_log_init - name the program in every line; call once before logging.
 * Messages above max_level (LOG_DEBUG is the most verbose) are dropped.
 */
void bp_log_init(const char *prog, int max_level);

/* bp_log - write one line "PROG: LEVEL: PREFIX: message" to stderr. */
void bp_log(int level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pr_err(fmt, ...) bp_log(LOG_ERR, LOG_PREFIX, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) bp_log(LOG_WARNING, LOG_PREFIX, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) bp_log(LOG_INFO, LOG_PREFIX, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) bp_log(LOG_DEBUG, LOG_PREFIX, fmt, ##__VA_ARGS__)
/* pr_perror - like pr_err, with strerror(errno) appended; keeps errno. */
#define pr_perror(fmt, ...) \
	bp_log(LOG_ERR, LOG_PREFIX, fmt ": %m", ##__VA_ARGS__)

#endif /* BPROC_LOG_H */
