// SPDX-License-Identifier: GPL-2.0
/*
 * The event log behind /bproc/events: an append-only text buffer, one
 * "TIMESTAMP what" line per event.  Readers see offsets into the whole log
 * since bprocfs started, so `tail -f` follows it; when the buffer passes
 * EVENTS_MAX the oldest half is dropped and reads before that point start at
 * the oldest line kept.
 */
#define LOG_PREFIX "events"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "bprocfs.h"

#define EVENTS_MAX (4u << 20)
#define EVENT_LINE_MAX 512

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static char *ev_buf;
static size_t ev_len, ev_cap;
static uint64_t ev_base; /* log offset of ev_buf[0] */

void events_init(void)
{
}

void events_fini(void)
{
	free(ev_buf);
	ev_buf = NULL;
	ev_len = ev_cap = 0;
}

static void events_trim(void)
{
	char *cut = memchr(ev_buf + ev_len / 2, '\n', ev_len - ev_len / 2);
	size_t drop;

	if (!cut)
		return;
	drop = cut + 1 - ev_buf;
	memmove(ev_buf, ev_buf + drop, ev_len - drop);
	ev_len -= drop;
	ev_base += drop;
}

void events_add(const char *fmt, ...)
{
	char line[EVENT_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
		      ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	pthread_mutex_lock(&events_lock);
	if (ev_len + n > EVENTS_MAX)
		events_trim();
	if (ev_len + n > ev_cap) {
		size_t cap = ev_cap ? ev_cap : 16384;
		char *b;

		while (cap < ev_len + n)
			cap *= 2;
		b = realloc(ev_buf, cap);
		if (!b) {
			pthread_mutex_unlock(&events_lock);
			pr_err("out of memory: event lost");
			return;
		}
		ev_buf = b;
		ev_cap = cap;
	}
	memcpy(ev_buf + ev_len, line, n);
	ev_len += n;
	pthread_mutex_unlock(&events_lock);
}

size_t events_read(char *dst, size_t size, uint64_t off)
{
	size_t n = 0;

	pthread_mutex_lock(&events_lock);
	if (off < ev_base)
		off = ev_base;
	if (off < ev_base + ev_len) {
		n = ev_base + ev_len - off;
		if (n > size)
			n = size;
		memcpy(dst, ev_buf + (off - ev_base), n);
	}
	pthread_mutex_unlock(&events_lock);
	return n;
}

uint64_t events_size(void)
{
	uint64_t n;

	pthread_mutex_lock(&events_lock);
	n = ev_base + ev_len;
	pthread_mutex_unlock(&events_lock);
	return n;
}
