// SPDX-License-Identifier: GPL-2.0
/*
 * The root of /bproc: the cluster-wide files status (the node table),
 * metrics (Prometheus text format) and events (the append-only log), and
 * the listing of the node directories.  Each text is built from the node
 * table when the file is opened or read at offset 0.
 */
#define LOG_PREFIX "cluster"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "bprocfs.h"

const double move_bucket_le[MOVE_BUCKETS] = { 0.01, 0.05, 0.1, 0.25,
					      0.5,  1,	  2.5, 10 };

static const char *const result_names[MR_MAX] = {
	[MR_OK] = "ok",		[MR_EINVAL] = "einval",
	[MR_ESRCH] = "esrch",	[MR_EPERM] = "eperm",
	[MR_EACCES] = "eacces", [MR_EHOSTDOWN] = "ehostdown",
	[MR_EBUSY] = "ebusy",	[MR_EOPNOTSUPP] = "eopnotsupp",
	[MR_EIO] = "eio",	[MR_ECONNRESET] = "econnreset",
};

static const struct {
	const char *name;
	fuse_ino_t ino;
} root_files[] = {
	{ "status", INO_STATUS },
	{ "metrics", INO_METRICS },
	{ "events", INO_EVENTS },
};

#define NR_ROOT_FILES (sizeof(root_files) / sizeof(root_files[0]))

static void root_stat(fuse_ino_t ino, struct stat *st)
{
	static time_t started;

	if (!started)
		started = time(NULL);
	memset(st, 0, sizeof(*st));
	st->st_mtime = st->st_ctime = st->st_atime = started;
	st->st_ino = ino;
	st->st_uid = 0;
	st->st_gid = 0;
	if (ino == INO_ROOT) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	if (ino == INO_EVENTS)
		st->st_size = events_size();
}

void cluster_lookup(fuse_req_t req, const char *name)
{
	struct fuse_entry_param e;
	struct stat st;
	struct node *n;
	size_t i;

	for (i = 0; i < NR_ROOT_FILES; i++) {
		if (!strcmp(name, root_files[i].name)) {
			root_stat(root_files[i].ino, &st);
			fs_fill_entry(&e, &st,
				      root_files[i].ino == INO_EVENTS ?
					      0 :
					      bprocfs_attr_timeout);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	pthread_mutex_lock(&table_lock);
	n = table_find_name(name);
	if (n)
		nodefs_stat(node_ino(n->slot, NF_DIR), &st);
	pthread_mutex_unlock(&table_lock);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_fill_entry(&e, &st, bprocfs_attr_timeout);
	fuse_reply_entry(req, &e);
}

void cluster_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct stat st;

	if (ino != INO_ROOT && ino != INO_STATUS && ino != INO_METRICS &&
	    ino != INO_EVENTS) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	root_stat(ino, &st);
	fuse_reply_attr(req, &st, ino == INO_EVENTS ? 0 : bprocfs_attr_timeout);
}

void cluster_readdir(fuse_req_t req, size_t size, off_t off)
{
	char *buf = malloc(size);
	size_t used = 0;
	off_t i;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&table_lock);
	for (i = off; i < (off_t)(2 + NR_ROOT_FILES + table_count()); i++) {
		struct stat st = { 0 };
		const char *name;
		size_t len;

		if (i == 0) {
			name = ".";
			st.st_ino = INO_ROOT;
			st.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			st.st_ino = INO_ROOT;
			st.st_mode = S_IFDIR;
		} else if (i < (off_t)(2 + NR_ROOT_FILES)) {
			name = root_files[i - 2].name;
			st.st_ino = root_files[i - 2].ino;
			st.st_mode = S_IFREG;
		} else {
			struct node *n = table_at(i - 2 - NR_ROOT_FILES);

			name = n->name;
			st.st_ino = node_ino(n->slot, NF_DIR);
			st.st_mode = S_IFDIR;
		}
		len = fuse_add_direntry(req, buf + used, size - used, name, &st,
					i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	pthread_mutex_unlock(&table_lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void status_build(struct sbuf *b)
{
	size_t i;

	sb_printf(b, "%-10s %-5s %-4s %6s %6s %-24s %7s %6s %10s %8s %9s\n",
		  "node", "state", "mode", "uid", "gid", "addr", "load1",
		  "procs", "since", "moves_in", "moves_out");
	pthread_mutex_lock(&table_lock);
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);
		char load[16] = "-", procs[16] = "-";

		if (n->have_status && n->state != NODE_DOWN) {
			snprintf(load, sizeof(load), "%.2f",
				 n->st.load_milli[0] / 1000.0);
			snprintf(procs, sizeof(procs), "%u", n->st.procs);
		}
		sb_printf(b,
			  "%-10s %-5s %04o %6u %6u %-24s %7s %6s %10lld %8llu "
			  "%9llu\n",
			  n->name, node_state_name(n->state),
			  (unsigned int)n->mode, (unsigned int)n->uid,
			  (unsigned int)n->gid, n->addr_str, load, procs,
			  (long long)n->since, (unsigned long long)n->moves_in,
			  (unsigned long long)n->moves_out);
	}
	pthread_mutex_unlock(&table_lock);
}

static void metric_head(struct sbuf *b, const char *name, const char *type,
			const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct node_ref {
	int slot;
	char name[16];
};

/*
 * The cluster's processes on each node, from the process table: counted
 * after table_lock is dropped, as the front end's come from its /proc.
 */
static void processes_build(struct sbuf *b)
{
	struct node_ref *nodes;
	size_t i, nr;
	long count;

	pthread_mutex_lock(&table_lock);
	nr = table_count();
	nodes = calloc(nr ? nr : 1, sizeof(*nodes));
	for (i = 0; nodes && i < nr; i++) {
		nodes[i].slot = table_at(i)->slot;
		snprintf(nodes[i].name, sizeof(nodes[i].name), "%s",
			 table_at(i)->name);
	}
	pthread_mutex_unlock(&table_lock);
	if (!nodes) {
		b->oom = true;
		return;
	}
	metric_head(b, "bproc_processes", "gauge",
		    "Processes of the cluster running on the node.");
	for (i = 0; i < nr; i++) {
		count = proctab_count(nodes[i].slot);
		if (count >= 0)
			sb_printf(b, "bproc_processes{node=\"%s\"} %ld\n",
				  nodes[i].name, count);
	}
	free(nodes);
}

static void metrics_build(struct sbuf *b)
{
	static const enum node_state states[] = { NODE_UP, NODE_DOWN, NODE_BOOT,
						  NODE_ERROR };
	size_t counts[4] = { 0 };
	int64_t now = bp_now_ms();
	struct move_stats ms;
	uint64_t cum = 0;
	size_t i, k;

	pthread_mutex_lock(&table_lock);
	metric_head(b, "bproc_node_up", "gauge",
		    "Whether the node is up (1) or not (0).");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		sb_printf(b, "bproc_node_up{node=\"%s\"} %d\n", n->name,
			  n->state == NODE_UP);
		counts[n->state]++;
	}
	metric_head(b, "bproc_node_state", "gauge",
		    "The node's state: 1 for the state it is in.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		for (k = 0; k < 4; k++)
			sb_printf(b,
				  "bproc_node_state{node=\"%s\",state=\"%s\"} "
				  "%d\n",
				  n->name, node_state_name(states[k]),
				  n->state == states[k]);
	}
	metric_head(b, "bproc_nodes", "gauge", "Nodes in each state.");
	for (k = 0; k < 4; k++)
		sb_printf(b, "bproc_nodes{state=\"%s\"} %zu\n",
			  node_state_name(states[k]), counts[states[k]]);
	metric_head(b, "bproc_node_load1", "gauge",
		    "One-minute load average reported by the node.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		if (n->have_status && n->state != NODE_DOWN)
			sb_printf(b, "bproc_node_load1{node=\"%s\"} %.3f\n",
				  n->name, n->st.load_milli[0] / 1000.0);
	}
	metric_head(b, "bproc_node_processes", "gauge",
		    "Processes running on the node.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		if (n->have_status && n->state != NODE_DOWN)
			sb_printf(b, "bproc_node_processes{node=\"%s\"} %u\n",
				  n->name, n->st.procs);
	}
	metric_head(b, "bproc_node_moves_total", "counter",
		    "Moves that went through, by node and direction.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		sb_printf(
			b,
			"bproc_node_moves_total{node=\"%s\",direction=\"in\"} "
			"%llu\n"
			"bproc_node_moves_total{node=\"%s\",direction=\"out\"}"
			" %llu\n",
			n->name, (unsigned long long)n->moves_in, n->name,
			(unsigned long long)n->moves_out);
	}
	metric_head(b, "bproc_node_moves_failed_total", "counter",
		    "Moves to the node that failed after they began.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		sb_printf(b,
			  "bproc_node_moves_failed_total{node=\"%s\"} %llu\n",
			  n->name, (unsigned long long)n->moves_failed);
	}
	metric_head(b, "bproc_node_memory_available_bytes", "gauge",
		    "Memory available on the node.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		if (n->have_status && n->state != NODE_DOWN)
			sb_printf(b,
				  "bproc_node_memory_available_bytes"
				  "{node=\"%s\"} %llu\n",
				  n->name,
				  (unsigned long long)n->st.mem_avail_kb *
					  1024);
	}
	metric_head(b, "bproc_node_last_seen_seconds", "gauge",
		    "Seconds since the node's agent was last heard from.");
	for (i = 0; i < table_count(); i++) {
		struct node *n = table_at(i);

		if (n->seen)
			sb_printf(b,
				  "bproc_node_last_seen_seconds{node=\"%s\"} "
				  "%.3f\n",
				  n->name, (now - n->last_seen_ms) / 1000.0);
	}
	ms = table_moves;
	pthread_mutex_unlock(&table_lock);

	processes_build(b);

	metric_head(b, "bproc_moves_total", "counter",
		    "Process moves by result.");
	for (k = 0; k < MR_MAX; k++)
		sb_printf(b, "bproc_moves_total{result=\"%s\"} %llu\n",
			  result_names[k], (unsigned long long)ms.count[k]);
	metric_head(b, "bproc_moves_in_flight", "gauge",
		    "Moves started and not ended yet.");
	sb_printf(b, "bproc_moves_in_flight %llu\n",
		  (unsigned long long)route_moves_in_flight());
	metric_head(b, "bproc_moved_bytes_total", "counter",
		    "Bytes of process images sent by moves.");
	sb_printf(b, "bproc_moved_bytes_total %llu\n",
		  (unsigned long long)ms.bytes);
	metric_head(b, "bproc_move_duration_seconds", "histogram",
		    "How long successful moves took.");
	for (k = 0; k < MOVE_BUCKETS; k++) {
		cum += ms.dur_bucket[k];
		sb_printf(b,
			  "bproc_move_duration_seconds_bucket{le=\"%g\"} "
			  "%llu\n",
			  move_bucket_le[k], (unsigned long long)cum);
	}
	sb_printf(b, "bproc_move_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		  (unsigned long long)ms.dur_count);
	sb_printf(b, "bproc_move_duration_seconds_sum %.6f\n", ms.dur_sum);
	sb_printf(b, "bproc_move_duration_seconds_count %llu\n",
		  (unsigned long long)ms.dur_count);
}

static int build(struct fs_handle *h, struct sbuf *b)
{
	if (h->ino == INO_STATUS)
		status_build(b);
	else
		metrics_build(b);
	return 0;
}

void cluster_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->nonseekable = 0;
	/* events are read live, not from a snapshot */
	fs_open_generated(req, ino, fi, 0, ino == INO_EVENTS ? NULL : build);
}

void cluster_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	char *buf;
	size_t n;

	if (ino == INO_EVENTS) {
		buf = malloc(size ? size : 1);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		n = events_read(buf, size, off);
		fuse_reply_buf(req, buf, n);
		free(buf);
		return;
	}
	fs_read_generated(req, fi, size, off, build);
}
