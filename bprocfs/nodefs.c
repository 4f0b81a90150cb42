// SPDX-License-Identifier: GPL-2.0
/*
 * The node directories /bproc/master and /bproc/nodeN and their files:
 * status (one word, poll() wakes on change), addr, info (flat "key value"
 * lines) and move (write a pid).  A node directory's owner, group and mode
 * are the node's permissions: execute decides who may move processes there.
 * The directory also lists the process files of the processes that run on
 * the node (procfiles.c).
 */
#define LOG_PREFIX "nodefs"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "bprocfs.h"

static const char *const file_names[NF_MAX] = {
	[NF_STATUS] = "status",
	[NF_ADDR] = "addr",
	[NF_INFO] = "info",
	[NF_MOVE] = "move",
};

/* Needs table_lock.  0 or -ENOENT. */
int nodefs_stat(fuse_ino_t ino, struct stat *st)
{
	struct node *n = table_find_slot(ino_slot(ino));
	enum node_file f = ino_file(ino);

	if (!n || f >= NF_MAX)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	switch (f) {
	case NF_DIR:
		st->st_mode = S_IFDIR | n->mode;
		st->st_nlink = 2;
		st->st_uid = n->uid;
		st->st_gid = n->gid;
		st->st_mtime = st->st_ctime = n->since;
		break;
	case NF_MOVE:
		st->st_mode = S_IFREG | 0222;
		st->st_nlink = 1;
		break;
	default:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_mtime = st->st_ctime = n->since;
		break;
	}
	return 0;
}

void nodefs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	struct stat st;
	int f, err = -ENOENT;
	pid_t pid;

	if (ino_file(parent) != NF_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (f = NF_STATUS; f < NF_MAX; f++)
		if (!strcmp(name, file_names[f]))
			break;
	if (f == NF_MAX && procfiles_parse_name(name, &pid)) {
		procfiles_lookup(req, ino_slot(parent), pid);
		return;
	}
	if (f == NF_MOVE) {
		static uint64_t seq;

		ino = move_ino(ino_slot(parent),
			       __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	} else if (f < NF_MAX) {
		ino = node_ino(ino_slot(parent), f);
	}
	if (f < NF_MAX) {
		pthread_mutex_lock(&table_lock);
		err = nodefs_stat(ino, &st);
		pthread_mutex_unlock(&table_lock);
	}
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fs_fill_entry(&e, &st, bprocfs_attr_timeout);
	if (f == NF_MOVE)
		e.entry_timeout = e.attr_timeout = 0;
	fuse_reply_entry(req, &e);
}

void nodefs_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct stat st;
	int err;

	pthread_mutex_lock(&table_lock);
	err = nodefs_stat(ino, &st);
	pthread_mutex_unlock(&table_lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, bprocfs_attr_timeout);
}

static bool in_group(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[256];
	int i, n;

	if (ctx->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 256, groups);
	for (i = 0; i < n && i < 256; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * chmod, chown, chgrp on a node directory, by POSIX rules: root may do
 * anything; the owner may change the mode, and the group to one of their
 * own groups.  Truncating move (`echo PID > move`) is accepted and ignored.
 */
void nodefs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const int perm_bits =
		FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID;
	const int time_bits = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			      FUSE_SET_ATTR_ATIME_NOW |
			      FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	enum node_file f = ino_file(ino);
	uid_t uid, owner;
	gid_t gid;
	mode_t mode;
	struct node *n;
	int err = 0;

	if (f == NF_MOVE && !(to_set & ~(FUSE_SET_ATTR_SIZE | time_bits))) {
		nodefs_getattr(req, ino);
		return;
	}
	if (f != NF_DIR || (to_set & ~(perm_bits | time_bits))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	pthread_mutex_lock(&table_lock);
	n = table_find_slot(ino_slot(ino));
	if (!n) {
		pthread_mutex_unlock(&table_lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	owner = uid = n->uid;
	gid = n->gid;
	mode = n->mode;
	pthread_mutex_unlock(&table_lock);

	if (to_set & FUSE_SET_ATTR_UID && attr->st_uid != uid) {
		if (ctx->uid != 0)
			err = EPERM;
		uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID && attr->st_gid != gid) {
		if (ctx->uid != 0 &&
		    (ctx->uid != owner || !in_group(req, attr->st_gid)))
			err = EPERM;
		gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		if (ctx->uid != 0 && ctx->uid != owner)
			err = EPERM;
		mode = attr->st_mode & 07777;
	}
	if (to_set & time_bits && !(to_set & perm_bits) && ctx->uid != 0 &&
	    ctx->uid != owner)
		err = EPERM;
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (to_set & perm_bits) {
		err = table_set_perm(ino_slot(ino), uid, gid, mode);
		if (err) {
			fuse_reply_err(req, -err);
			return;
		}
	}
	nodefs_getattr(req, ino);
}

/*
 * Offsets: 0 to NF_MAX for ".", ".." and the node's files, then
 * NF_MAX + 1 + PID for the process files, so a listing goes on from the
 * right pid however processes come and go between calls.
 */
void nodefs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	const off_t first_proc = NF_MAX + 1;
	size_t used = 0;
	struct stat st;
	char *buf;
	off_t i;

	if (ino_file(ino) != NF_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	pthread_mutex_lock(&table_lock);
	i = nodefs_stat(ino, &st);
	pthread_mutex_unlock(&table_lock);
	if (i) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off; i < first_proc; i++) {
		struct stat e = { 0 };
		const char *name;
		size_t len;

		if (i == 0) {
			name = ".";
			e.st_ino = ino;
			e.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			e.st_ino = INO_ROOT;
			e.st_mode = S_IFDIR;
		} else {
			name = file_names[i - 1];
			e.st_ino = node_ino(ino_slot(ino), i - 1);
			e.st_mode = S_IFREG;
		}
		len = fuse_add_direntry(req, buf + used, size - used, name, &e,
					i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	if (i >= first_proc)
		used += procfiles_readdir(req, ino_slot(ino), buf + used,
					  size - used, i, first_proc);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void info_build(struct sbuf *b, struct node *n)
{
	int64_t now = bp_now_ms();

	sb_printf(b, "state %s\n", node_state_name(n->state));
	sb_printf(b, "addr %s\n", n->addr_str);
	sb_printf(b, "since %lld\n", (long long)n->since);
	sb_printf(b, "moves_in %llu\nmoves_out %llu\nmoves_failed %llu\n",
		  (unsigned long long)n->moves_in,
		  (unsigned long long)n->moves_out,
		  (unsigned long long)n->moves_failed);
	if (n->seen)
		sb_printf(b, "last_seen_ms %lld\n",
			  (long long)(now - n->last_seen_ms));
	else
		sb_printf(b, "last_seen_ms -\n");
	if (!n->have_status && !n->st.kernel[0]) {
		sb_printf(b, "kernel -\ncpus -\nmem_total_kb -\n"
			     "mem_avail_kb -\nload1 -\nload5 -\nload15 -\n"
			     "procs -\nengine -\n");
		return;
	}
	sb_printf(b, "kernel %s\n", n->st.kernel);
	sb_printf(b, "cpus %u\n", n->st.cpus);
	sb_printf(b, "mem_total_kb %llu\n",
		  (unsigned long long)n->st.mem_total_kb);
	sb_printf(b, "mem_avail_kb %llu\n",
		  (unsigned long long)n->st.mem_avail_kb);
	sb_printf(b, "load1 %.2f\n", n->st.load_milli[0] / 1000.0);
	sb_printf(b, "load5 %.2f\n", n->st.load_milli[1] / 1000.0);
	sb_printf(b, "load15 %.2f\n", n->st.load_milli[2] / 1000.0);
	sb_printf(b, "procs %u\n", n->st.procs);
	sb_printf(b, "engine %s\n", n->st.engine[0] ? n->st.engine : "-");
	if (n->state == NODE_ERROR)
		sb_printf(b, "fault %s\n", n->st.fault);
}

static int build(struct fs_handle *h, struct sbuf *b)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(ino_slot(h->ino));
	if (!n) {
		pthread_mutex_unlock(&table_lock);
		return -ENOENT;
	}
	switch (ino_file(h->ino)) {
	case NF_STATUS:
		sb_printf(b, "%s\n", node_state_name(n->state));
		h->seen_gen = n->gen;
		break;
	case NF_ADDR:
		sb_printf(b, "%s\n", n->addr_str);
		break;
	default:
		info_build(b, n);
		break;
	}
	pthread_mutex_unlock(&table_lock);
	return 0;
}

void nodefs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum node_file f = ino_file(ino);
	int acc = fi->flags & O_ACCMODE;

	if (f == NF_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((f == NF_MOVE && acc != O_WRONLY) ||
	    (f != NF_MOVE && acc != O_RDONLY)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* move is written only: nothing to snapshot */
	fs_open_generated(req, ino, fi, 0, f == NF_MOVE ? NULL : build);
}

void nodefs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	if (ino_file(ino) == NF_MOVE) {
		fuse_reply_err(req, EBADF);
		return;
	}
	fs_read_generated(req, fi, size, off, build);
}

void nodefs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi)
{
	int err;

	(void)off;
	(void)fi;
	if (ino_file(ino) != NF_MOVE) {
		fuse_reply_err(req, EBADF);
		return;
	}
	err = move_request(req, ino_slot(ino), buf, size);
	if (err == MOVE_PENDING)
		return; /* answered when the move gets that far */
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

void nodefs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct fuse_pollhandle *ph)
{
	struct fs_handle *h;
	unsigned int revents = POLLIN | POLLRDNORM;
	struct fuse_pollhandle *old = NULL;
	struct node *n;

	if (ino_file(ino) != NF_STATUS) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req,
				ino_file(ino) == NF_MOVE ? POLLOUT : revents);
		return;
	}
	h = fs_handle_get(fi);
	if (!h) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLERR | POLLNVAL);
		return;
	}
	pthread_mutex_lock(&table_lock);
	n = table_find_slot(ino_slot(ino));
	if (!n) {
		revents = POLLERR | POLLHUP;
	} else if (h->seen_gen != n->gen) {
		/* changed since this handle last read it */
		revents |= POLLPRI;
	} else {
		revents = 0;
		if (ph) {
			old = h->ph;
			h->ph = ph;
			ph = NULL;
			table_poll_add(n, h);
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (old)
		fuse_pollhandle_destroy(old);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fs_handle_put(h);
	fuse_reply_poll(req, revents);
}
