// SPDX-License-Identifier: GPL-2.0
/*
 * "echo PID > /bproc/<node>/move", or "echo 'PID whole' > ...": check the
 * request in the order a user can act on (a pid at all, a process at all, allowed to move it, the node
 * up, an engine on both ends) and start the move.  Every refusal is one
 * events line with the reason and a count in the metrics.
 *
 * The cluster's process space is the front end's; the process table
 * (proctab.c) says which processes exist and where each runs.
 */
#define LOG_PREFIX "move"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "bprocfs.h"

#define PID_DIGITS_MAX 10

/* size bytes of a decimal pid, and nothing else. */
static int parse_pid(const char *buf, size_t size, pid_t *pid)
{
	long long v = 0;
	size_t i;

	if (size == 0 || size > PID_DIGITS_MAX)
		return -EINVAL;
	for (i = 0; i < size; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		v = v * 10 + (buf[i] - '0');
	}
	if (v <= 0 || v > 0x7fffffff)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

/* What a request asks besides the pid and how its files go. */
struct move_words {
	bool keep; /* keep its image for copies */
	pid_t copy_of; /* start it from that one's kept image */
};

/*
 * "PID [WORD...]", one newline at most at the end: the pid, and words:
 * how its files go (path, whole, auto; else the destination's setting),
 * "keep" and "copy PID" (fast start: see proto.h, BPROC_MOVE_KEEP).
 * -EINVAL for a bad pid, -EOPNOTSUPP for a bad word (in word).
 */
static int parse_request(const char *buf, size_t size, pid_t *pid,
			 unsigned int *send, struct move_words *w, char *word,
			 size_t wordlen)
{
	const char *p, *end, *sp;
	bool have_send = false;
	int mode;

	if (size && buf[size - 1] == '\n')
		size--;
	end = buf + size;
	sp = memchr(buf, ' ', size);
	if (parse_pid(buf, sp ? (size_t)(sp - buf) : size, pid))
		return -EINVAL;
	for (p = sp; p && p < end; p = sp) {
		size_t len;

		p++;
		sp = memchr(p, ' ', (size_t)(end - p));
		len = (size_t)((sp ? sp : end) - p);
		snprintf(word, wordlen, "%.*s", (int)len, p);
		if (!strcmp(word, "keep")) {
			if (w->keep)
				return -EOPNOTSUPP;
			w->keep = true;
			continue;
		}
		if (!strcmp(word, "copy")) {
			if (!sp || w->copy_of)
				return -EOPNOTSUPP;
			p = sp + 1;
			sp = memchr(p, ' ', (size_t)(end - p));
			len = (size_t)((sp ? sp : end) - p);
			if (parse_pid(p, len, &w->copy_of)) {
				snprintf(word, wordlen, "copy %.*s", (int)len,
					 p);
				return -EOPNOTSUPP;
			}
			continue;
		}
		mode = bp_send_parse(word);
		if (mode < 0 || have_send)
			return -EOPNOTSUPP;
		have_send = true;
		*send = (unsigned int)mode;
	}
	return 0;
}

static bool may_exec(fuse_req_t req, uid_t owner, gid_t group, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[256];
	int i, n;

	if (ctx->uid == 0)
		return true;
	if (ctx->uid == owner)
		return mode & 0100;
	if (ctx->gid == group)
		return mode & 0010;
	n = fuse_req_getgroups(req, 256, groups);
	for (i = 0; i < n && i < 256; i++)
		if (groups[i] == group)
			return mode & 0010;
	return mode & 0001;
}

enum move_result move_result_of(int err)
{
	switch (err) {
	case 0:
		return MR_OK;
	case -EINVAL:
		return MR_EINVAL;
	case -ESRCH:
		return MR_ESRCH;
	case -EPERM:
		return MR_EPERM;
	case -EACCES:
		return MR_EACCES;
	case -EHOSTDOWN:
		return MR_EHOSTDOWN;
	case -EBUSY:
		return MR_EBUSY;
	case -EOPNOTSUPP:
		return MR_EOPNOTSUPP;
	case -ECONNRESET:
		return MR_ECONNRESET;
	default:
		return MR_EIO;
	}
}

/*
 * Is the writer (FUSE reports its thread id) a thread of process pid?  Then
 * the move is a self-move: the source must arm the dump and let the write
 * return, or the writer would be frozen inside its own write.
 */
static bool writer_is(pid_t tid, pid_t pid)
{
	char path[64];

	if (tid == pid)
		return true;
	if (tid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return access(path, F_OK) == 0;
}

/* One events line and one count for a move that did not happen. */
static int refuse(const char *what, const char *dest, int err, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

static int refuse(const char *what, const char *dest, int err, const char *fmt,
		  ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	events_add("move %s to %s failed: %s: %s", what, dest,
		   route_errno_name(-err), reason);
	pthread_mutex_lock(&table_lock);
	table_moves.count[move_result_of(err)]++;
	pthread_mutex_unlock(&table_lock);
	return err;
}

int move_request(fuse_req_t req, int dest_slot, const char *buf, size_t size)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char dest[16], src[16], what[32], engine[64], src_engine[64];
	char dest_addr[BP_ADDR_STRLEN], word[32];
	struct move_words w = { 0 };
	unsigned int send;
	bool dest_engine, have_src_engine, src_up, self;
	enum node_state state;
	struct proc_info proc;
	uid_t owner;
	gid_t group;
	mode_t mode;
	struct node *n;
	pid_t pid;
	int err;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(dest_slot);
	if (!n) {
		pthread_mutex_unlock(&table_lock);
		return -ENOENT;
	}
	snprintf(dest, sizeof(dest), "%s", n->name);
	snprintf(dest_addr, sizeof(dest_addr), "%s", n->addr_str);
	owner = n->uid;
	group = n->gid;
	mode = n->mode;
	send = n->send;
	state = n->state;
	dest_engine = n->have_status && (n->st.flags & BPROC_STATUS_ENGINE);
	snprintf(engine, sizeof(engine), "%s",
		 n->have_status ? n->st.engine : "not reported");
	pthread_mutex_unlock(&table_lock);

	err = parse_request(buf, size, &pid, &send, &w, word, sizeof(word));
	if (err == -EOPNOTSUPP)
		return refuse("(bad request)", dest, -EINVAL,
			      "'%s' is not path, whole, auto, keep or copy "
			      "PID",
			      word);
	if (err)
		return refuse("(not a pid)", dest, -EINVAL,
			      "write one decimal pid, then path, whole or auto "
			      "if you like");
	snprintf(what, sizeof(what), "pid %d", pid);
	if (proctab_find(pid, &proc))
		return refuse(what, dest, -ESRCH, "no such process");
	self = writer_is(ctx->pid, pid);
	if ((w.keep || w.copy_of) && (!self || proc.slot != 0))
		return refuse(what, dest, -EINVAL,
			      "keep and copy are for a process on the front "
			      "end that moves itself");
	if (w.copy_of == pid)
		return refuse(what, dest, -EINVAL,
			      "copy %d: a process is not a copy of itself",
			      pid);
	if (!proctab_may_signal(ctx->uid, &proc))
		return refuse(what, dest, -EPERM,
			      "uid %u may not signal a process of uid %u",
			      (unsigned int)ctx->uid, (unsigned int)proc.ruid);
	if (!may_exec(req, owner, group, mode))
		return refuse(what, dest, -EACCES,
			      "uid %u has no execute permission on %s (%u:%u "
			      "%04o)",
			      (unsigned int)ctx->uid, dest, (unsigned int)owner,
			      (unsigned int)group, (unsigned int)mode);
	if (state != NODE_UP)
		return refuse(what, dest, -EHOSTDOWN, "%s is %s", dest,
			      node_state_name(state));
	if (route_moving(pid))
		return refuse(what, dest, -EBUSY, "it is already moving");
	if (dest_slot == proc.slot) {
		events_add("move %s to %s done: already there", what, dest);
		pthread_mutex_lock(&table_lock);
		table_moves.count[MR_OK]++;
		pthread_mutex_unlock(&table_lock);
		return 0;
	}
	pthread_mutex_lock(&table_lock);
	n = table_find_slot(proc.slot);
	snprintf(src, sizeof(src), "%s", n ? n->name : "?");
	src_up = n && n->state == NODE_UP;
	have_src_engine =
		n && n->have_status && (n->st.flags & BPROC_STATUS_ENGINE);
	snprintf(src_engine, sizeof(src_engine), "%s",
		 n && n->have_status ? n->st.engine : "not reported");
	pthread_mutex_unlock(&table_lock);

	if (!dest_engine)
		return refuse(what, dest, -EOPNOTSUPP,
			      "%s has no migration engine: %s", dest, engine);
	if (!src_up || !have_src_engine)
		return refuse(what, dest, -EOPNOTSUPP,
			      "%s has no migration engine: %s", src,
			      src_up ? src_engine : "its agent is not up");
	/*
	 * The write is answered later, from the network thread: the request
	 * stays pending meanwhile and holds no thread and no lock.
	 */
	err = route_move_begin(req, size, &proc, dest_slot, dest, dest_addr,
			       src, self, send, w.keep, w.copy_of);
	if (err == -EBUSY)
		return refuse(what, dest, err, "it is already moving");
	if (err)
		return refuse(what, dest, err, "%s", strerror(-err));
	return MOVE_PENDING;
}
