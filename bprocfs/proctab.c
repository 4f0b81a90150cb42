// SPDX-License-Identifier: GPL-2.0
/*
 * The process table: which processes make up the cluster and which node
 * each runs on.  The cluster's process space is the front end's pid space:
 * a process started on the front end runs there until it moves, and is
 * read live from the front end's /proc whenever it is asked for (local and
 * cheap, never the network).  Kernel threads are not processes of the
 * cluster.
 *
 * A process that has moved at least once has an entry in `moved`: the node
 * it runs on, how often it moved and when it last did, and the latest
 * state its node's agent reported.  While it runs elsewhere a ghost holds
 * its pid on the front end; the entry, not /proc, then speaks for it.  An
 * entry on slot 0 is a process that came back: /proc speaks for it again,
 * the entry only keeps its move count.
 */
#define LOG_PREFIX "proctab"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "bprocfs.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */

static pthread_mutex_t proctab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct proc_info *moved; /* processes that moved, by pid */
static size_t nr_moved, moved_cap;

/* Under proctab_lock. */
static struct proc_info *moved_find(pid_t pid)
{
	size_t i;

	for (i = 0; i < nr_moved; i++)
		if (moved[i].pid == pid)
			return &moved[i];
	return NULL;
}

/* Read a small /proc file relative to dirfd; the length or -errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return n;
}

static long clock_hz(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	return hz > 0 ? hz : 100;
}

static uint64_t ticks_to_ms(unsigned long long ticks)
{
	return ticks * 1000 / (unsigned long long)clock_hz();
}

static pthread_once_t boot_once = PTHREAD_ONCE_INIT;
static int64_t boot_time; /* unix time of the front end's boot */

static void read_boot_time(void)
{
	char line[128];
	long long v;
	FILE *f;

	f = fopen("/proc/stat", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &v) == 1)
			boot_time = v;
	fclose(f);
}

/*
 * /proc/PID/stat: "pid (comm) state ppid ... flags ... utime stime ...
 * starttime vsize rss ...".  comm may hold anything but NUL, so it ends at
 * the last ')'.  Returns 0, or -ESRCH for a kernel thread or garbage.
 */
static int parse_stat(char *buf, struct proc_info *p)
{
	unsigned long long utime, stime, start;
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	unsigned int flags;
	long long rss;
	size_t len, i;

	if (!open || !close || close < open)
		return -ESRCH;
	if (sscanf(close + 1,
		   " %c %d %d %*d %*d %*d %u %*u %*u %*u %*u %llu %llu %*d"
		   " %*d %*d %*d %*d %*d %llu %*u %lld",
		   &p->state, &p->ppid, &p->pgid, &flags, &utime, &stime,
		   &start, &rss) != 8)
		return -ESRCH;
	if (flags & PF_KTHREAD)
		return -ESRCH;
	len = close - open - 1;
	if (len >= sizeof(p->comm))
		len = sizeof(p->comm) - 1;
	/* one line per key: no control characters in the value */
	for (i = 0; i < len; i++) {
		unsigned char c = open[1 + i];

		p->comm[i] = c < 0x20 || c == 0x7f ? '?' : c;
	}
	p->comm[len] = '\0';
	p->utime_ms = ticks_to_ms(utime);
	p->stime_ms = ticks_to_ms(stime);
	p->start = start;
	pthread_once(&boot_once, read_boot_time);
	p->started_at = boot_time + (int64_t)(start / clock_hz());
	p->rss_kb =
		rss > 0 ? (uint64_t)rss * (sysconf(_SC_PAGESIZE) / 1024) : 0;
	return 0;
}

/* /proc/PID/status: the thread group id and the uids. */
static int parse_status(char *buf, pid_t pid, struct proc_info *p)
{
	unsigned long r, e, s, g;
	bool have_uid = false, have_gid = false;
	long tgid = -1;
	char *line;

	for (line = buf; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			continue;
		if (sscanf(line, "Uid: %lu %lu %lu", &r, &e, &s) == 3) {
			p->ruid = r;
			p->euid = e;
			p->suid = s;
			have_uid = true;
		} else if (sscanf(line, "Gid: %lu", &g) == 1) {
			p->rgid = g;
			have_gid = true;
		}
	}
	if (tgid != pid || !have_uid || !have_gid)
		return -ESRCH;
	return 0;
}

/*
 * The front-end process pid from /proc (not a thread, not a kernel
 * thread).  Both files are read through one directory handle, so they
 * describe the same process even if the pid is reused meanwhile.
 */
static int read_local(pid_t pid, struct proc_info *p)
{
	char path[32], buf[4096];
	int dirfd, err;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -ESRCH;
	err = read_small(dirfd, "stat", buf, sizeof(buf));
	if (err < 0)
		goto out_close;
	err = parse_stat(buf, p);
	if (err)
		goto out_close;
	err = read_small(dirfd, "status", buf, sizeof(buf));
	if (err < 0)
		goto out_close;
	err = parse_status(buf, pid, p);
out_close:
	close(dirfd);
	return err < 0 ? -ESRCH : 0;
}

/* Only the kernel-thread test, for listings: stat alone. */
static bool local_is_process(pid_t pid)
{
	struct proc_info p;
	char path[32], buf[2048];
	int dirfd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return false;
	n = read_small(dirfd, "stat", buf, sizeof(buf));
	close(dirfd);
	return n > 0 && parse_stat(buf, &p) == 0;
}

pid_t proctab_parent(pid_t pid)
{
	char path[32], buf[1024], *end;
	int dirfd, ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	if (read_small(dirfd, "stat", buf, sizeof(buf)) > 0) {
		end = strrchr(buf, ')');
		if (!end || sscanf(end + 1, " %*c %d", &ppid) != 1)
			ppid = -1;
	}
	close(dirfd);
	return ppid;
}

int proctab_find(pid_t pid, struct proc_info *p)
{
	struct proc_info *m, saved = { 0 };
	bool have = false;
	int err;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(pid);
	if (m)
		saved = *m;
	pthread_mutex_unlock(&proctab_lock);
	if (m) {
		if (saved.slot != 0) {
			struct proc_info ghost;

			*p = saved;
			/* where it is in the tree: its ghost's place here */
			p->ppid = p->pgid = -1;
			if (!read_local(pid, &ghost)) {
				p->ppid = ghost.ppid;
				p->pgid = ghost.pgid;
			}
			return 0;
		}
		have = true;
	}
	err = read_local(pid, p);
	if (err)
		return err;
	if (have && saved.start == p->start) {
		/* it came back: it keeps its history */
		p->moves = saved.moves;
		p->moved_at = saved.moved_at;
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Every pid in /proc from `from` on, ascending, into a new array. */
static int local_pids(pid_t from, pid_t **out, size_t *count)
{
	pid_t *pids = NULL, *p;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long v;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		v = strtol(de->d_name, &end, 10);
		if (*end || v < from || v <= 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			p = realloc(pids, cap * sizeof(*pids));
			if (!p) {
				free(pids);
				closedir(d);
				return -ENOMEM;
			}
			pids = p;
		}
		pids[n++] = (pid_t)v;
	}
	closedir(d);
	if (n)
		qsort(pids, n, sizeof(*pids), cmp_pid);
	*out = pids;
	*count = n;
	return 0;
}

/* Is pid, on the front end, a ghost of a process that runs elsewhere? */
static bool is_away(pid_t pid)
{
	struct proc_info *m;
	bool away;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(pid);
	away = m && m->slot != 0;
	pthread_mutex_unlock(&proctab_lock);
	return away;
}

static int remote_list(int slot, pid_t from, pid_t *pids, size_t max)
{
	size_t i, n = 0;
	pid_t *all;

	pthread_mutex_lock(&proctab_lock);
	all = malloc((nr_moved ? nr_moved : 1) * sizeof(*all));
	if (!all) {
		pthread_mutex_unlock(&proctab_lock);
		return -ENOMEM;
	}
	for (i = 0; i < nr_moved; i++)
		if (moved[i].slot == slot && moved[i].pid >= from)
			all[n++] = moved[i].pid;
	pthread_mutex_unlock(&proctab_lock);
	if (n)
		qsort(all, n, sizeof(*all), cmp_pid);
	if (n > max)
		n = max;
	if (n)
		memcpy(pids, all, n * sizeof(*pids));
	free(all);
	return (int)n;
}

int proctab_list(int slot, pid_t from, pid_t *pids, size_t max)
{
	size_t i, n = 0, count;
	pid_t *all;
	int err;

	if (slot != 0)
		return remote_list(slot, from, pids, max);
	err = local_pids(from, &all, &count);
	if (err)
		return err;
	for (i = 0; i < count && n < max; i++)
		if (!is_away(all[i]) && local_is_process(all[i]))
			pids[n++] = all[i];
	free(all);
	return (int)n;
}

long proctab_count(int slot)
{
	size_t i, count;
	long n = 0;
	pid_t *all;
	int err;

	if (slot != 0) {
		pthread_mutex_lock(&proctab_lock);
		for (i = 0; i < nr_moved; i++)
			n += moved[i].slot == slot;
		pthread_mutex_unlock(&proctab_lock);
		return n;
	}
	err = local_pids(1, &all, &count);
	if (err)
		return err;
	for (i = 0; i < count; i++)
		n += !is_away(all[i]) && local_is_process(all[i]);
	free(all);
	return n;
}

/* kill(2)'s rule, with the caller's uid as FUSE reports it. */
bool proctab_may_signal(uid_t uid, const struct proc_info *p)
{
	return uid == 0 || uid == p->ruid || uid == p->suid;
}

/*
 * remote_signal - a process that runs on another node is signalled through
 * its ghost: the ghost holds its pid on the front end, the front end's
 * agent reports the signal and the master forwards it to the node.  The
 * ghost keeps the pid while the process is away, so it cannot be reused.
 */
static int remote_signal(const struct proc_info *p, int sig)
{
	if (kill(p->pid, sig) == 0)
		return 0;
	return errno == EPERM ? -EPERM : -ESRCH;
}

int proctab_signal(pid_t pid, uint64_t start, int sig, uid_t uid)
{
	struct proc_info p;
	int pidfd, err;

	err = proctab_find(pid, &p);
	if (err)
		return err;
	if (start && p.start != start)
		return -ESRCH;
	if (p.slot != 0) {
		if (!proctab_may_signal(uid, &p))
			return -EPERM;
		return remote_signal(&p, sig);
	}
	/*
	 * Pin the process, then check that it is still the one asked for:
	 * the signal never reaches a process that took over its pid.
	 */
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		err = errno;
		if (err == ESRCH || err == EINVAL)
			return -ESRCH;
		if (err != ENOSYS)
			return -err;
		pidfd = -1; /* before Linux 5.3: kill(2), with its race */
	}
	if (!start)
		start = p.start;
	err = read_local(pid, &p);
	if (!err && p.start != start)
		err = -ESRCH;
	if (!err && !proctab_may_signal(uid, &p))
		err = -EPERM;
	if (!err) {
		if (pidfd >= 0)
			err = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL,
				      0);
		else
			err = kill(pid, sig);
		err = err ? (errno == EPERM ? -EPERM : -ESRCH) : 0;
	}
	if (pidfd >= 0)
		close(pidfd);
	return err;
}

int proctab_moved(const struct proc_info *p, int slot, int64_t now)
{
	struct proc_info *m, *grown;
	unsigned int moves = 0;
	int err = 0;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(p->pid);
	if (m && m->start == p->start)
		moves = m->moves;
	if (!m) {
		if (nr_moved == moved_cap) {
			size_t cap = moved_cap ? moved_cap * 2 : 64;

			grown = realloc(moved, cap * sizeof(*moved));
			if (!grown) {
				err = -ENOMEM;
				goto out_unlock;
			}
			moved = grown;
			moved_cap = cap;
		}
		m = &moved[nr_moved++];
	}
	/* what it was when it left, until its new node reports */
	*m = *p;
	m->slot = slot;
	m->moves = moves + 1;
	m->moved_at = now;
out_unlock:
	pthread_mutex_unlock(&proctab_lock);
	return err;
}

int proctab_born(const struct proc_info *p, int slot)
{
	int err = proctab_moved(p, slot, 0);
	struct proc_info *m;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(p->pid);
	if (m) {
		m->moves = 0;
		m->moved_at = 0;
	}
	pthread_mutex_unlock(&proctab_lock);
	return err;
}

void proctab_report(pid_t pid, uint64_t start, const struct proc_info *r)
{
	struct proc_info *m;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(pid);
	if (m && m->start == start && m->slot != 0) {
		m->state = r->state;
		memcpy(m->comm, r->comm, sizeof(m->comm));
		m->comm[sizeof(m->comm) - 1] = '\0';
		m->ruid = r->ruid;
		m->euid = r->euid;
		m->suid = r->suid;
		m->rss_kb = r->rss_kb;
		m->utime_ms = r->utime_ms;
		m->stime_ms = r->stime_ms;
	}
	pthread_mutex_unlock(&proctab_lock);
}

void proctab_rename(pid_t pid, uint64_t start, const char *comm)
{
	struct proc_info *m;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(pid);
	if (m && m->start == start && m->slot != 0)
		snprintf(m->comm, sizeof(m->comm), "%s", comm);
	pthread_mutex_unlock(&proctab_lock);
}

void proctab_exited(pid_t pid)
{
	struct proc_info *m;

	pthread_mutex_lock(&proctab_lock);
	m = moved_find(pid);
	if (m)
		*m = moved[--nr_moved];
	pthread_mutex_unlock(&proctab_lock);
}

void proctab_fini(void)
{
	pthread_mutex_lock(&proctab_lock);
	free(moved);
	moved = NULL;
	nr_moved = moved_cap = 0;
	pthread_mutex_unlock(&proctab_lock);
}
