// SPDX-License-Identifier: GPL-2.0
/*
 * The process files /bproc/<node>/<pid>: one per process of the cluster,
 * in the directory of the node it runs on.  Reading one gives flat
 * "key value" lines (pid, node, state, comm, uid, rss_kb, utime_ms,
 * stime_ms, moves, moved_at), a snapshot taken when it is opened or read
 * at offset 0.  Writing a signal (`9`, `KILL`, `SIGKILL`) sends it, by
 * kill(2)'s rule for the writer.
 *
 * A file's inode is its pid's, whichever node the process runs on; its
 * owner is the process's real uid.  Processes come and go without telling
 * the kernel, so entries and attributes are never cached.
 */
#define LOG_PREFIX "procfiles"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"
#include "bprocfs.h"

#define PID_DIGITS_MAX 10
#define DIRENT_MIN 32 /* the smallest entry fuse_add_direntry makes */

bool procfiles_parse_name(const char *name, pid_t *pid)
{
	long long v = 0;
	size_t i, len = strlen(name);

	if (len == 0 || len > PID_DIGITS_MAX || name[0] == '0')
		return false;
	for (i = 0; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (name[i] - '0');
	}
	if (v > 0x7fffffff)
		return false;
	*pid = (pid_t)v;
	return true;
}

static void proc_stat(const struct proc_info *p, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = proc_ino(p->pid);
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_uid = p->ruid;
	st->st_gid = p->rgid;
	/* when it started, or last moved */
	st->st_mtime = st->st_ctime = p->moved_at ? p->moved_at : p->started_at;
}

void procfiles_lookup(fuse_req_t req, int slot, pid_t pid)
{
	struct fuse_entry_param e;
	struct proc_info p;
	struct stat st;

	if (proctab_find(pid, &p) || p.slot != slot) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	proc_stat(&p, &st);
	fs_fill_entry(&e, &st, 0);
	e.entry_timeout = 0;
	fuse_reply_entry(req, &e);
}

size_t procfiles_readdir(fuse_req_t req, int slot, char *buf, size_t size,
			 off_t off, off_t first_off)
{
	pid_t from = off > first_off ? (pid_t)(off - first_off) : 1;
	size_t max = size / DIRENT_MIN + 1, used = 0;
	pid_t *pids;
	int i, n;

	pids = malloc(max * sizeof(*pids));
	if (!pids)
		return 0;
	n = proctab_list(slot, from, pids, max);
	for (i = 0; i < n; i++) {
		struct stat e = { 0 };
		char name[16];
		size_t len;

		snprintf(name, sizeof(name), "%d", pids[i]);
		e.st_ino = proc_ino(pids[i]);
		e.st_mode = S_IFREG;
		/* the next entry is the next pid up */
		len = fuse_add_direntry(req, buf + used, size - used, name, &e,
					first_off + pids[i] + 1);
		if (len > size - used)
			break;
		used += len;
	}
	free(pids);
	return used;
}

void procfiles_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct proc_info p;
	struct stat st;

	if (proctab_find(ino_pid(ino), &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	proc_stat(&p, &st);
	fuse_reply_attr(req, &st, 0);
}

/* Truncating (`echo KILL > PID`) is accepted and ignored; nothing else. */
void procfiles_setattr(fuse_req_t req, fuse_ino_t ino, int to_set)
{
	const int ok_bits = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
			    FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			    FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;

	if (to_set & ~ok_bits) {
		fuse_reply_err(req, EPERM);
		return;
	}
	procfiles_getattr(req, ino);
}

static int build(struct fs_handle *h, struct sbuf *b)
{
	char node[16] = "-";
	struct proc_info p;
	struct node *n;

	if (proctab_find(ino_pid(h->ino), &p) || p.start != h->proc_start)
		return -ESRCH;
	pthread_mutex_lock(&table_lock);
	n = table_find_slot(p.slot);
	if (n)
		snprintf(node, sizeof(node), "%s", n->name);
	pthread_mutex_unlock(&table_lock);

	sb_printf(b, "pid %d\n", p.pid);
	sb_printf(b, "node %s\n", node);
	sb_printf(b, "state %c\n", p.state);
	sb_printf(b, "comm %s\n", p.comm);
	sb_printf(b, "uid %u\n", (unsigned int)p.ruid);
	if (p.ppid >= 0)
		sb_printf(b, "ppid %d\npgid %d\n", p.ppid, p.pgid);
	else
		sb_printf(b, "ppid -\npgid -\n");
	sb_printf(b, "rss_kb %llu\n", (unsigned long long)p.rss_kb);
	sb_printf(b, "utime_ms %llu\n", (unsigned long long)p.utime_ms);
	sb_printf(b, "stime_ms %llu\n", (unsigned long long)p.stime_ms);
	sb_printf(b, "moves %u\n", p.moves);
	if (p.moved_at)
		sb_printf(b, "moved_at %lld\n", (long long)p.moved_at);
	else
		sb_printf(b, "moved_at -\n");
	return 0;
}

/* At open a process that is gone is a file that is not there. */
static int build_open(struct fs_handle *h, struct sbuf *b)
{
	int err = build(h, b);

	return err == -ESRCH ? -ENOENT : err;
}

void procfiles_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_build_fn first = NULL;
	struct proc_info p;

	if (proctab_find(ino_pid(ino), &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_WRONLY)
		first = build_open;
	/* reads and signals are for this process, not a later one */
	fs_open_generated(req, ino, fi, p.start, first);
}

void procfiles_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	fs_read_generated(req, fi, size, off, build);
}

/*
 * A signal as kill(1) takes it: a number (`9`) or a name with or without
 * SIG (`KILL`, `SIGKILL`, any case), then at most one newline.
 */
static int parse_signal(const char *buf, size_t size, int *sig)
{
	char word[16];
	const char *abbrev;
	int i, v = 0;

	if (size && buf[size - 1] == '\n')
		size--;
	if (size == 0 || size >= sizeof(word) || memchr(buf, '\0', size))
		return -EINVAL;
	memcpy(word, buf, size);
	word[size] = '\0';
	if (word[0] >= '0' && word[0] <= '9') {
		for (i = 0; word[i]; i++) {
			if (word[i] < '0' || word[i] > '9' || i >= 3)
				return -EINVAL;
			v = v * 10 + (word[i] - '0');
		}
		if (v < 1 || v > SIGRTMAX)
			return -EINVAL;
		*sig = v;
		return 0;
	}
	i = strncasecmp(word, "SIG", 3) ? 0 : 3;
	for (v = 1; v < SIGRTMIN; v++) {
		abbrev = sigabbrev_np(v);
		if (abbrev && word[i] && !strcasecmp(word + i, abbrev)) {
			*sig = v;
			return 0;
		}
	}
	return -EINVAL;
}

void procfiles_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs_handle *h;
	int sig, err;

	h = fs_handle_get(fi);
	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	err = parse_signal(buf, size, &sig);
	if (!err)
		err = proctab_signal(ino_pid(ino), h->proc_start, sig,
				     ctx->uid);
	fs_handle_put(h);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}
