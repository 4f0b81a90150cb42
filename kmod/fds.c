// SPDX-License-Identifier: GPL-2.0
/*
 * fds.c - kernel objects open as descriptors: what each is, and the state
 * of those that move (BPROC_DUMP_ANONFDS: eventfd, timerfd, signalfd,
 * epoll, memfd; image.h, FDS).
 *
 * Their state lives in structures private to the kernel's own files, none
 * of which exports a way to read them. What it does export for every one
 * of them is its show_fdinfo callback, the text of /proc/PID/fdinfo/N, a
 * stable interface that CRIU reads too: the state is read from that text,
 * written into a buffer of our own. Only the EFD_SEMAPHORE flag of an
 * eventfd is not in that text before Linux 6.5; it is read from the
 * eventfd's context (eventfd_ctx_fileget) through a copy of its layout,
 * trusted only once the count and id read through it are those that
 * fdinfo shows. A memfd is shmem: its seals and size are in its inode.
 *
 * Nothing here makes an object: whoever restores makes them with the
 * system calls (bproc-ckpt), which no module can call.
 */
#include <linux/eventfd.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/magic.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/wait.h>
#include <uapi/linux/eventpoll.h>
#include <uapi/linux/timerfd.h>

#include "engine.h"

#define FDINFO_MAX (1U << 20) /* bytes of fdinfo text at most */

/* Pseudo files by the name their kernel code gives them. */
static const struct {
	const char *name;
	const char *what;
	u32 kind; /* 0: does not move */
} fd_names[] = {
	{ "[eventfd]", "an eventfd", BPROC_FD_EVENTFD },
	{ "[timerfd]", "a timerfd", BPROC_FD_TIMERFD },
	{ "[signalfd]", "a signalfd", BPROC_FD_SIGNALFD },
	{ "[eventpoll]", "an epoll instance", BPROC_FD_EPOLL },
	{ "inotify", "an inotify instance", 0 },
	{ "[fanotify]", "a fanotify instance", 0 },
	{ "[io_uring]", "an io_uring instance", 0 },
	{ "[pidfd]", "a pidfd", 0 },
	{ "[userfaultfd]", "a userfaultfd", 0 },
	{ "[perf_event]", "a perf event", 0 },
	{ "[fscontext]", "a filesystem context", 0 },
};

static bool fd_is_pseudo(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;

	return dentry->d_op && dentry->d_op->d_dname;
}

static bool fd_is_memfd(struct file *file)
{
	struct inode *inode = file_inode(file);

	return fd_is_pseudo(file) &&
	       !strncmp(file->f_path.dentry->d_name.name, "memfd:", 6) &&
	       S_ISREG(inode->i_mode) && inode->i_sb->s_magic == TMPFS_MAGIC;
}

u32 bproc_fd_kind(struct file *file)
{
	const char *name = file->f_path.dentry->d_name.name;
	u32 i;

	if (!fd_is_pseudo(file))
		return 0;
	if (fd_is_memfd(file))
		return BPROC_FD_MEMFD;
	for (i = 0; i < ARRAY_SIZE(fd_names); i++)
		if (!strcmp(name, fd_names[i].name))
			return fd_names[i].kind;
	return 0;
}

const char *bproc_fd_what(struct file *file)
{
	const char *name = file->f_path.dentry->d_name.name;
	u32 i;

	if (!fd_is_pseudo(file))
		return NULL;
	if (!strncmp(name, "memfd:", 6))
		return fd_is_memfd(file) ? "a memfd" : "a hugetlb memfd";
	for (i = 0; i < ARRAY_SIZE(fd_names); i++)
		if (!strcmp(name, fd_names[i].name))
			return fd_names[i].what;
	if (!strncmp(name, "bpf", 3))
		return "a BPF object";
	return NULL;
}

/*
 * The fdinfo text of @file (its show_fdinfo), NUL-terminated, in a new
 * buffer that the caller frees with kvfree; NULL if it has none or on
 * failure.
 */
static char *fd_fdinfo(struct file *file)
{
	size_t size = PAGE_SIZE;

	if (!file->f_op->show_fdinfo)
		return NULL;
	for (;;) {
		struct seq_file m = {};

		m.buf = kvmalloc(size, GFP_KERNEL);
		if (!m.buf)
			return NULL;
		m.size = size;
		file->f_op->show_fdinfo(&m, file);
		if (!seq_has_overflowed(&m)) {
			m.buf[m.count] = '\0';
			return m.buf;
		}
		kvfree(m.buf);
		if (size >= FDINFO_MAX)
			return NULL;
		size *= 2;
	}
}

/* The value after @key at the start of a line of @text, or NULL. */
static const char *fd_field(const char *text, const char *key)
{
	size_t len = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, len))
			return p + len;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/*
 * The head of struct eventfd_ctx (fs/eventfd.c, Linux 6.1), to read its
 * flags; checked against fdinfo before it is believed.
 */
struct fd_eventfd_ctx {
	struct kref kref;
	wait_queue_head_t wqh;
	__u64 count;
	unsigned int flags;
	int id;
};

#define FD_EFD_SEMAPHORE 1 /* EFD_SEMAPHORE, uapi value */

static int fd_eventfd(struct file *file, const char *info,
		      struct bproc_image_fd *e)
{
	const char *p = fd_field(info, "eventfd-count:");
	const char *id = fd_field(info, "eventfd-id:");
	const char *sem = fd_field(info, "eventfd-semaphore:");
	struct fd_eventfd_ctx *c;
	struct eventfd_ctx *ctx;
	unsigned long long count;
	unsigned int flags;
	int n, cid;
	bool same;

	if (!p || sscanf(p, "%llx", &count) != 1 || count == ULLONG_MAX)
		return -EINVAL;
	e->eventfd.count = count;
	if (sem)
		return sscanf(sem, "%d", &n) == 1 ?
			       (e->eventfd.semaphore = !!n, 0) :
			       -EINVAL;
	if (!id || sscanf(id, "%d", &n) != 1)
		return -EINVAL;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	c = (struct fd_eventfd_ctx *)ctx;
	spin_lock_irq(&c->wqh.lock);
	same = c->count == count;
	flags = c->flags;
	cid = c->id;
	spin_unlock_irq(&c->wqh.lock);
	eventfd_ctx_put(ctx);
	if (!same || cid != n)
		return -EINVAL; /* another layout: say so rather than guess */
	e->eventfd.semaphore = !!(flags & FD_EFD_SEMAPHORE);
	return 0;
}

static bool fd_clock_ok(s32 clockid)
{
	return clockid == CLOCK_REALTIME || clockid == CLOCK_MONOTONIC ||
	       clockid == CLOCK_BOOTTIME || clockid == CLOCK_REALTIME_ALARM ||
	       clockid == CLOCK_BOOTTIME_ALARM;
}

static int fd_timerfd(const char *info, struct bproc_image_fd *e)
{
	unsigned long long ticks, vs, vn, is, in;
	unsigned int sflags;
	int clockid;

	if (sscanf(info,
		   "clockid: %d ticks: %llu settime flags: %o it_value: (%llu, %llu) it_interval: (%llu, %llu)",
		   &clockid, &ticks, &sflags, &vs, &vn, &is, &in) != 7)
		return -EINVAL;
	e->timerfd.clockid = clockid;
	e->timerfd.settime_flags = sflags;
	e->timerfd.ticks = ticks;
	e->timerfd.value_sec = vs;
	e->timerfd.value_nsec = vn;
	e->timerfd.interval_sec = is;
	e->timerfd.interval_nsec = in;
	return 0;
}

static int fd_signalfd(const char *info, struct bproc_image_fd *e)
{
	const char *p = fd_field(info, "sigmask:");
	unsigned long long mask;

	if (!p || sscanf(p, "%llx", &mask) != 1)
		return -EINVAL;
	e->signalfd.sigmask = mask;
	return 0;
}

static void fd_memfd(struct file *file, struct bproc_image_fd *e)
{
	struct inode *inode = file_inode(file);

	e->memfd.size = i_size_read(inode);
	e->memfd.seals = SHMEM_I(inode)->seals;
	e->memfd.pos = file->f_pos;
}

int bproc_fd_state(struct file *file, u32 kind, struct bproc_image_fd *e)
{
	char *info = NULL;
	int ret = 0;

	e->kind = kind;
	e->flags = file->f_flags & (O_ACCMODE | O_NONBLOCK | O_APPEND);
	if (kind == BPROC_FD_MEMFD) {
		fd_memfd(file, e);
		return 0;
	}
	if (kind == BPROC_FD_EPOLL)
		return 0; /* its targets: bproc_fd_epoll_targets */
	info = fd_fdinfo(file);
	if (!info)
		return -EINVAL;
	if (kind == BPROC_FD_EVENTFD)
		ret = fd_eventfd(file, info, e);
	else if (kind == BPROC_FD_TIMERFD)
		ret = fd_timerfd(info, e);
	else if (kind == BPROC_FD_SIGNALFD)
		ret = fd_signalfd(info, e);
	else
		ret = -EINVAL;
	kvfree(info);
	return ret;
}

int bproc_fd_epoll_targets(struct file *file, struct bproc_fd_target **out,
			   u32 *nr)
{
	struct bproc_fd_target *t = NULL;
	char *info = fd_fdinfo(file);
	const char *p = info;
	u32 n = 0, cap = 0;

	if (!info)
		return -EINVAL;
	while ((p = fd_field(p, "tfd:"))) {
		struct bproc_fd_target x = {};
		unsigned long long data, ino;
		long long pos;
		unsigned int events, sdev;

		if (sscanf(p,
			   "%d events: %x data: %llx pos:%lli ino:%llx sdev:%x",
			   &x.tfd, &events, &data, &pos, &ino, &sdev) != 6)
			goto bad;
		x.events = events;
		x.data = data;
		x.ino = ino;
		x.sdev = sdev;
		if (n == BPROC_IMAGE_MAX_TARGETS)
			goto bad;
		if (n == cap) {
			u32 c = max_t(u32, 16, cap * 2);
			void *q = kvrealloc(t, cap * sizeof(*t), c * sizeof(*t),
					    GFP_KERNEL);

			if (!q)
				goto bad;
			t = q;
			cap = c;
		}
		t[n++] = x;
	}
	kvfree(info);
	*out = t;
	*nr = n;
	return 0;
bad:
	kvfree(t);
	kvfree(info);
	return -EINVAL;
}

/* Events epoll_ctl takes (EPOLLIN... EPOLLMSG, EPOLLRDHUP, the modes). */
#define FD_EPOLL_EVENTS                                                       \
	(0x3fffU | EPOLLRDHUP | EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | \
	 EPOLLET)

bool bproc_check_target_events(u32 events)
{
	return !(events & ~FD_EPOLL_EVENTS);
}

const char *bproc_check_fd(const struct bproc_image_fd *e)
{
	u32 i;

	if (e->fd < 0 || e->fd >= BPROC_IMAGE_MAX_FD)
		return "bad fd";
	if (e->flags & ~(O_ACCMODE | O_NONBLOCK | O_APPEND) ||
	    e->fd_flags & ~(BPROC_FD_CLOEXEC | BPROC_FD_UNOPENED) ||
	    (e->fd_flags & BPROC_FD_UNOPENED && e->kind != BPROC_FD_MEMFD))
		return "bad flags";
	switch (e->kind) {
	case BPROC_FD_EVENTFD:
		if (e->eventfd.count == ULLONG_MAX ||
		    e->eventfd.semaphore > 1 || e->eventfd.pad)
			return "bad eventfd";
		for (i = 2; i < ARRAY_SIZE(e->raw); i++)
			if (e->raw[i])
				return "bad eventfd";
		return NULL;
	case BPROC_FD_TIMERFD:
		if (!fd_clock_ok(e->timerfd.clockid))
			return "bad clock";
		if (e->timerfd.settime_flags &
			    ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) ||
		    e->timerfd.value_nsec >= NSEC_PER_SEC ||
		    e->timerfd.interval_nsec >= NSEC_PER_SEC ||
		    e->timerfd.value_sec > KTIME_SEC_MAX ||
		    e->timerfd.interval_sec > KTIME_SEC_MAX)
			return "bad timerfd";
		return NULL;
	case BPROC_FD_SIGNALFD:
		if (e->signalfd.sigmask &
		    (BIT_ULL(SIGKILL - 1) | BIT_ULL(SIGSTOP - 1)))
			return "bad signalfd";
		for (i = 1; i < ARRAY_SIZE(e->raw); i++)
			if (e->raw[i])
				return "bad signalfd";
		return NULL;
	case BPROC_FD_EPOLL:
		for (i = 0; i < ARRAY_SIZE(e->raw); i++)
			if (e->raw[i])
				return "bad epoll";
		return NULL;
	case BPROC_FD_MEMFD:
		if (e->memfd.size > BPROC_IMAGE_MAX_MEMFD ||
		    e->memfd.seals &
			    ~(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
			      F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) ||
		    e->memfd.pos < 0)
			return "bad memfd";
		for (i = 3; i < ARRAY_SIZE(e->raw); i++)
			if (e->raw[i])
				return "bad memfd";
		return NULL;
	default:
		return "bad kind";
	}
}
