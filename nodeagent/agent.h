/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bproc-nodeagent: the daemon on every node (and on the front end as node
 * "master").  It keeps one authenticated connection to the master and
 * heartbeats its status over it (link.c), accepts authenticated connections
 * from other agents on its own address (peer.c), and measures the node
 * (report.c).  main.c runs the single poll loop that drives them.
 */
#ifndef BPROC_AGENT_H
#define BPROC_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/conn.h"

struct agent {
	struct bp_config cfg;
	const char *config_path;
	char name[BPROC_NODE_NAME_MAX]; /* "master" or "nodeN" */
	struct bp_addr listen_addr;
	bool stopping;
};

/* The master link: connect, authenticate, heartbeat, reconnect. */
void link_init(struct agent *a);
/* link_poll_fd - the fd and events to wait for, or -1. */
int link_poll_fd(short *events);
/* link_deadline - monotonic ms of the next thing the link must do. */
int64_t link_deadline(void);
/* link_run - act on poll results (revents 0 when only time passed). */
void link_run(struct agent *a, short revents);
/* link_restart - drop the connection and connect again at once. */
void link_restart(struct agent *a);
/* link_stop - say goodbye to the master and close. */
void link_stop(void);

/* The listener for peers. */
int peer_listen(struct agent *a);
void peer_close_listener(void);
/* peer_fill_pollfds - append the listener and peers; returns how many. */
int peer_fill_pollfds(struct pollfd *pfd, int max);
void peer_run(struct agent *a, const struct pollfd *pfd, int n);
int64_t peer_deadline(unsigned int timeout_ms);
void peer_close_all(void);

/* report_collect - fill a status message about this node now. */
void report_collect(struct agent *a, struct bp_status *s);

#endif /* BPROC_AGENT_H */
