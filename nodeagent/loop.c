// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's poll loop.  Every round the parts add what they wait for
 * (loop_add: a descriptor, the events and a callback) and how soon they
 * want to run again (loop_wake_at); loop_round polls once and calls back
 * each descriptor that has something.  The set is rebuilt every round, so
 * what a part waits for always follows its state.
 *
 * A callback may end the object it is called for: parts only mark objects
 * dead in callbacks and free them in their *_reap() after the round, so a
 * later callback of the same round never sees freed memory.
 */
#define LOG_PREFIX "loop"

#include <errno.h>
#include <stdlib.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

struct watch {
	loop_fn fn;
	void *obj;
};

static struct pollfd *pfd;
static struct watch *watches;
static int nr, cap;
static int64_t wake_ms = INT64_MAX;

void loop_add(int fd, short events, loop_fn fn, void *obj)
{
	if (fd < 0)
		return;
	if (nr == cap) {
		int ncap = cap ? cap * 2 : 64;
		struct pollfd *p = realloc(pfd, ncap * sizeof(*p));
		struct watch *w;

		if (!p)
			goto oom;
		pfd = p;
		w = realloc(watches, ncap * sizeof(*w));
		if (!w)
			goto oom;
		watches = w;
		cap = ncap;
	}
	pfd[nr].fd = fd;
	pfd[nr].events = events;
	pfd[nr].revents = 0;
	watches[nr].fn = fn;
	watches[nr].obj = obj;
	nr++;
	return;
oom:
	/* not watched this round: the next one tries again */
	pr_err("out of memory for the poll set");
	loop_wake_at(bp_now_ms() + 100);
}

void loop_wake_at(int64_t ms)
{
	if (ms < wake_ms)
		wake_ms = ms;
}

int loop_round(int max_ms)
{
	int64_t now = bp_now_ms();
	int i, n, t = max_ms;

	if (wake_ms != INT64_MAX) {
		int64_t d = wake_ms - now;

		if (d < t)
			t = d < 0 ? 0 : (int)d;
	}
	n = poll(pfd, nr, t);
	if (n < 0) {
		n = -errno;
		if (n != -EINTR)
			pr_perror("poll");
	}
	for (i = 0; n > 0 && i < nr; i++)
		if (pfd[i].revents)
			watches[i].fn(watches[i].obj, pfd[i].revents);
	nr = 0;
	wake_ms = INT64_MAX;
	return n < 0 && n != -EINTR ? n : 0;
}
