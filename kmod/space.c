// SPDX-License-Identifier: GPL-2.0
/*
 * space.c - the pid namespaces the node agents watch (BPROC_IOC_SPACE).
 *
 * A node's moved processes live in a pid namespace of their own, under
 * their cluster pids. Everything they start there must join the cluster:
 * the agent has to learn of every fork, every exit (with its status) and
 * every reaping in that namespace as it happens, and new pids there must
 * be ones that no other host hands out. Both come from three scheduler
 * tracepoints, which every fork, exit and free of a task on the machine
 * passes (the module registers its probes when it loads):
 *
 *  - sched_process_fork, in the parent after the child is made and before
 *    it first runs: a FORK event, and the namespace's pid cursor is kept
 *    inside the space's range [lo, hi): once it comes within SPACE_MARGIN
 *    of hi (or lies outside), the next pid is lo again. A namespace's pids
 *    are handed out in increasing order from its cursor, so they stay in
 *    the range as long as fewer than SPACE_MARGIN forks race past one
 *    probe, and there is room;
 *  - sched_process_exit, in the exiting task: an EXIT event with the wait
 *    status once the last thread of a process is gone; for the spaces
 *    that asked (BPROC_SPACE_THREADS), a TEXIT event when one thread ends
 *    alone (module 1.8);
 *  - sched_process_free, once the process has been reaped (its task is
 *    freed): a REAPED event, matched by its task to the exit recorded;
 *  - sched_process_exec, once a process has executed a program (its new
 *    comm and command line in place): an EXEC event, for the spaces that
 *    asked for them (BPROC_SPACE_EXECS), so that its ghost can take the
 *    new name (module 1.6).
 *
 * A space without BPROC_SPACE_EVENTS only steers its pids: the front end
 * keeps its own below the nodes' ranges that way.
 *
 * Locking: spaces_lock (a mutex) orders the adding and removing of spaces
 * on the RCU list `spaces`, which the probes walk under rcu_read_lock();
 * a space is freed after a grace period. Each space's event ring has its
 * own spinlock (the probes run in atomic context, the free one in softirq:
 * irqsave). exits_lock protects the table of exited, unreaped processes.
 */
#define pr_fmt(fmt) "bproc: " fmt

#include <linux/anon_inodes.h>
#include <linux/binfmts.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/idr.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>

#include "engine.h"

#define SPACE_RING 4096 /* events a reader may lag behind */
#define SPACE_MARGIN 64

struct bproc_space {
	struct list_head node; /* on spaces */
	struct pid_namespace *ns; /* watched */
	struct pid_namespace *reader_ns; /* for lpid */
	u32 lo, hi; /* new pids stay in [lo, hi); hi 0: anywhere */
	bool events, execs, threads;
	spinlock_t lock;
	struct bproc_space_event *ring;
	u32 head, count;
	bool lost; /* the ring overflowed since the last read */
	wait_queue_head_t wait;
	struct rcu_head rcu;
};

/* An exited process of a space, until it is reaped. */
struct space_exit {
	struct hlist_node node;
	struct task_struct *task; /* only compared, never dereferenced */
	struct bproc_space *space;
	s32 pid, lpid;
};

static DEFINE_MUTEX(spaces_lock);
static LIST_HEAD(spaces);
static DEFINE_SPINLOCK(exits_lock);
static DEFINE_HASHTABLE(exits, 8);
static struct tracepoint *tp_fork, *tp_exit, *tp_free, *tp_exec;

static struct bproc_space *space_of(struct pid_namespace *ns)
{
	struct bproc_space *sp;

	list_for_each_entry_rcu(sp, &spaces, node) if (sp->ns == ns) return sp;
	return NULL;
}

static void space_add_event(struct bproc_space *sp,
			    const struct bproc_space_event *ev)
{
	unsigned long flags;

	spin_lock_irqsave(&sp->lock, flags);
	if (sp->count == SPACE_RING) {
		sp->lost = true;
	} else {
		sp->ring[(sp->head + sp->count) % SPACE_RING] = *ev;
		sp->count++;
	}
	spin_unlock_irqrestore(&sp->lock, flags);
	wake_up_interruptible(&sp->wait);
}

/* Keep the namespace's next pid in the space's range. */
static void space_steer(struct bproc_space *sp)
{
	unsigned int next = idr_get_cursor(&sp->ns->idr);

	if (sp->hi && (next < sp->lo || next + SPACE_MARGIN >= sp->hi))
		idr_set_cursor(&sp->ns->idr, sp->lo);
}

static void probe_fork(void *data, struct task_struct *parent,
		       struct task_struct *child)
{
	struct bproc_space_event ev = { .type = BPROC_SPACE_FORK };
	struct pid_namespace *ns;
	struct bproc_space *sp;

	rcu_read_lock();
	ns = task_active_pid_ns(child);
	sp = ns ? space_of(ns) : NULL;
	if (sp) {
		space_steer(sp);
		if (sp->events) {
			ev.pid = task_pid_nr_ns(child, ns);
			ev.tgid = task_tgid_nr_ns(child, ns);
			ev.ppid = task_tgid_nr_ns(
				rcu_dereference(child->real_parent), ns);
			ev.lpid = task_pid_nr_ns(child, sp->reader_ns);
			space_add_event(sp, &ev);
		}
	}
	rcu_read_unlock();
}

/*
 * One thread of a process ends alone (pthread_exit, or the others of one
 * that executes a program), not with its process (a fatal signal, or
 * exit_group: the process's EXIT tells it).
 */
static void probe_thread_exit(struct task_struct *p)
{
	struct bproc_space_event ev = { .type = BPROC_SPACE_TEXIT };
	struct pid_namespace *ns;
	struct bproc_space *sp;

	if (p->signal->flags & SIGNAL_GROUP_EXIT)
		return;
	rcu_read_lock();
	ns = task_active_pid_ns(p);
	sp = ns ? space_of(ns) : NULL;
	if (sp && sp->threads) {
		ev.pid = task_pid_nr_ns(p, ns);
		ev.tgid = task_tgid_nr_ns(p, ns);
		ev.lpid = task_pid_nr_ns(p, sp->reader_ns);
		space_add_event(sp, &ev);
	}
	rcu_read_unlock();
}

static void probe_exit(void *data, struct task_struct *p)
{
	struct bproc_space_event ev = { .type = BPROC_SPACE_EXIT };
	struct pid_namespace *ns;
	struct bproc_space *sp;
	struct space_exit *e;
	unsigned long flags;

	/* a process ends with its last thread */
	if (atomic_read(&p->signal->live)) {
		probe_thread_exit(p);
		return;
	}
	rcu_read_lock();
	ns = task_active_pid_ns(p);
	sp = ns ? space_of(ns) : NULL;
	if (sp && sp->events) {
		struct task_struct *leader = p->group_leader;

		ev.pid = task_tgid_nr_ns(p, ns);
		ev.tgid = ev.pid;
		ev.lpid = task_tgid_nr_ns(p, sp->reader_ns);
		ev.status = p->signal->flags & SIGNAL_GROUP_EXIT ?
				    p->signal->group_exit_code :
				    leader->exit_code;
		space_add_event(sp, &ev);
		e = kmalloc(sizeof(*e), GFP_ATOMIC);
		if (e) {
			e->task = leader;
			e->space = sp;
			e->pid = ev.pid;
			e->lpid = ev.lpid;
			spin_lock_irqsave(&exits_lock, flags);
			hash_add(exits, &e->node, (unsigned long)leader);
			spin_unlock_irqrestore(&exits_lock, flags);
		}
	}
	rcu_read_unlock();
}

static void probe_exec(void *data, struct task_struct *p, pid_t old_pid,
		       struct linux_binprm *bprm)
{
	struct bproc_space_event ev = { .type = BPROC_SPACE_EXEC };
	struct pid_namespace *ns;
	struct bproc_space *sp;

	rcu_read_lock();
	ns = task_active_pid_ns(p);
	sp = ns ? space_of(ns) : NULL;
	if (sp && sp->execs) {
		ev.pid = task_tgid_nr_ns(p, ns);
		ev.tgid = ev.pid;
		ev.lpid = task_tgid_nr_ns(p, sp->reader_ns);
		space_add_event(sp, &ev);
	}
	rcu_read_unlock();
}

static void probe_free(void *data, struct task_struct *p)
{
	struct bproc_space_event ev = { .type = BPROC_SPACE_REAPED };
	struct space_exit *e, *found = NULL;
	unsigned long flags;

	spin_lock_irqsave(&exits_lock, flags);
	hash_for_each_possible(exits, e, node,
			       (unsigned long)p) if (e->task == p)
	{
		hash_del(&e->node);
		found = e;
		break;
	}
	spin_unlock_irqrestore(&exits_lock, flags);
	if (!found)
		return;
	ev.pid = found->pid;
	ev.tgid = found->pid;
	ev.lpid = found->lpid;
	rcu_read_lock();
	/* the space may be gone: only one still listed hears of it */
	{
		struct bproc_space *sp;

		list_for_each_entry_rcu(sp, &spaces,
					node) if (sp == found->space)
			space_add_event(sp, &ev);
	}
	rcu_read_unlock();
	kfree(found);
}

static void space_forget_exits(struct bproc_space *sp)
{
	struct space_exit *e;
	struct hlist_node *tmp;
	unsigned long flags;
	int bkt;

	spin_lock_irqsave(&exits_lock, flags);
	hash_for_each_safe(exits, bkt, tmp, e, node) if (e->space == sp)
	{
		hash_del(&e->node);
		kfree(e);
	}
	spin_unlock_irqrestore(&exits_lock, flags);
}

static void space_free_rcu(struct rcu_head *rcu)
{
	struct bproc_space *sp = container_of(rcu, struct bproc_space, rcu);

	put_pid_ns(sp->ns);
	put_pid_ns(sp->reader_ns);
	kvfree(sp->ring);
	kfree(sp);
}

static int space_release(struct inode *inode, struct file *file)
{
	struct bproc_space *sp = file->private_data;

	mutex_lock(&spaces_lock);
	list_del_rcu(&sp->node);
	mutex_unlock(&spaces_lock);
	/* no probe adds an exit of it once it is unlisted */
	synchronize_rcu();
	space_forget_exits(sp);
	call_rcu(&sp->rcu, space_free_rcu);
	return 0;
}

static ssize_t space_read(struct file *file, char __user *buf, size_t len,
			  loff_t *ppos)
{
	struct bproc_space *sp = file->private_data;
	struct bproc_space_event ev[64];
	size_t n = 0, max = min_t(size_t, len / sizeof(ev[0]), ARRAY_SIZE(ev));
	unsigned long flags;
	int ret;

	if (!max)
		return -EINVAL;
	for (;;) {
		spin_lock_irqsave(&sp->lock, flags);
		if (sp->lost) {
			/* what it missed: it must look for itself */
			memset(&ev[0], 0, sizeof(ev[0]));
			ev[n++].type = BPROC_SPACE_LOST;
			sp->lost = false;
		}
		while (sp->count && n < max) {
			ev[n++] = sp->ring[sp->head];
			sp->head = (sp->head + 1) % SPACE_RING;
			sp->count--;
		}
		spin_unlock_irqrestore(&sp->lock, flags);
		if (n)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(
			sp->wait, READ_ONCE(sp->count) || READ_ONCE(sp->lost));
		if (ret)
			return ret;
	}
	if (copy_to_user(buf, ev, n * sizeof(ev[0])))
		return -EFAULT;
	return n * sizeof(ev[0]);
}

static __poll_t space_poll(struct file *file, struct poll_table_struct *wait)
{
	struct bproc_space *sp = file->private_data;

	poll_wait(file, &sp->wait, wait);
	return READ_ONCE(sp->count) || READ_ONCE(sp->lost) ?
		       EPOLLIN | EPOLLRDNORM :
		       0;
}

static const struct file_operations space_fops = {
	.owner = THIS_MODULE,
	.read = space_read,
	.poll = space_poll,
	.release = space_release,
	.llseek = noop_llseek,
};

long bproc_ioctl_space(void __user *argp)
{
	struct bproc_space_args a;
	struct pid_namespace *ns;
	struct bproc_space *sp;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~(BPROC_SPACE_EVENTS | BPROC_SPACE_EXECS |
			BPROC_SPACE_THREADS) ||
	    a.pad || a.pid < 0 ||
	    (a.flags & (BPROC_SPACE_EXECS | BPROC_SPACE_THREADS) &&
	     !(a.flags & BPROC_SPACE_EVENTS)) ||
	    (a.pid_hi && (a.pid_lo < 2 || a.pid_hi <= a.pid_lo + SPACE_MARGIN ||
			  a.pid_hi > PID_MAX_LIMIT)) ||
	    (!a.pid_hi && a.pid_lo))
		return -EINVAL;
	if (a.pid) {
		struct task_struct *task;
		struct pid *pid = find_get_pid(a.pid);

		task = get_pid_task(pid, PIDTYPE_PID);
		put_pid(pid);
		if (!task)
			return -ESRCH;
		ns = get_pid_ns(task_active_pid_ns(task));
		put_task_struct(task);
	} else {
		ns = get_pid_ns(task_active_pid_ns(current));
	}

	ret = -ENOMEM;
	sp = kzalloc(sizeof(*sp), GFP_KERNEL);
	if (!sp)
		goto out_put_ns;
	sp->ring = kvcalloc(SPACE_RING, sizeof(*sp->ring), GFP_KERNEL);
	if (!sp->ring)
		goto out_free;
	INIT_LIST_HEAD(&sp->node);
	sp->ns = ns;
	sp->reader_ns = get_pid_ns(task_active_pid_ns(current));
	sp->lo = a.pid_lo;
	sp->hi = a.pid_hi;
	sp->events = a.flags & BPROC_SPACE_EVENTS;
	sp->execs = a.flags & BPROC_SPACE_EXECS;
	sp->threads = a.flags & BPROC_SPACE_THREADS;
	spin_lock_init(&sp->lock);
	init_waitqueue_head(&sp->wait);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_put_reader;
	}
	file = anon_inode_getfile("[bproc-space]", &space_fops, sp, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		ret = PTR_ERR(file);
		goto out_put_reader;
	}
	mutex_lock(&spaces_lock);
	rcu_read_lock();
	ret = space_of(ns) ? -EBUSY : 0;
	rcu_read_unlock();
	if (!ret) {
		list_add_rcu(&sp->node, &spaces);
		/* from now on: the next pid there is in the range */
		space_steer(sp);
	}
	mutex_unlock(&spaces_lock);
	if (ret) {
		/* its release unlists a node that was never listed: a no-op */
		put_unused_fd(fd);
		fput(file);
		return -EBUSY;
	}
	a.fd = fd;
	if (copy_to_user(argp, &a, sizeof(a))) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;

out_put_reader:
	put_pid_ns(sp->reader_ns);
out_free:
	kvfree(sp->ring);
	kfree(sp);
out_put_ns:
	put_pid_ns(ns);
	return ret;
}

static void space_find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_fork"))
		tp_fork = tp;
	else if (!strcmp(tp->name, "sched_process_exit"))
		tp_exit = tp;
	else if (!strcmp(tp->name, "sched_process_free"))
		tp_free = tp;
	else if (!strcmp(tp->name, "sched_process_exec"))
		tp_exec = tp;
}

int bproc_space_init(void)
{
	int ret;

	for_each_kernel_tracepoint(space_find_tracepoint, NULL);
	if (!tp_fork || !tp_exit || !tp_free || !tp_exec) {
		pr_err("the scheduler's tracepoints are missing\n");
		return -ENOENT;
	}
	ret = tracepoint_probe_register(tp_fork, probe_fork, NULL);
	if (ret)
		return ret;
	ret = tracepoint_probe_register(tp_exit, probe_exit, NULL);
	if (ret)
		goto out_fork;
	ret = tracepoint_probe_register(tp_free, probe_free, NULL);
	if (ret)
		goto out_exit;
	ret = tracepoint_probe_register(tp_exec, probe_exec, NULL);
	if (ret)
		goto out_free;
	return 0;

out_free:
	tracepoint_probe_unregister(tp_free, probe_free, NULL);
out_exit:
	tracepoint_probe_unregister(tp_exit, probe_exit, NULL);
out_fork:
	tracepoint_probe_unregister(tp_fork, probe_fork, NULL);
	tracepoint_synchronize_unregister();
	return ret;
}

void bproc_space_exit(void)
{
	struct space_exit *e;
	struct hlist_node *tmp;
	int bkt;

	tracepoint_probe_unregister(tp_exec, probe_exec, NULL);
	tracepoint_probe_unregister(tp_free, probe_free, NULL);
	tracepoint_probe_unregister(tp_exit, probe_exit, NULL);
	tracepoint_probe_unregister(tp_fork, probe_fork, NULL);
	tracepoint_synchronize_unregister();
	/* no space is left (each holds the module), only records of exits */
	hash_for_each_safe(exits, bkt, tmp, e, node)
	{
		hash_del(&e->node);
		kfree(e);
	}
	rcu_barrier();
}
