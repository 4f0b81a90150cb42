// SPDX-License-Identifier: GPL-2.0
/*
 * bproc.ko - the bproc migration engine: /dev/bproc (include/bproc/bproc.h).
 *
 * BPROC_IOC_DUMP makes a process write its own image (dump.c) and parks it;
 * BPROC_IOC_RESTORE replaces the caller by an image (restore.c); a parked
 * process can stay behind as a ghost (ghost.c); BPROC_IOC_SPACE watches a
 * pid namespace (space.c). This file wires the device and owns the dump
 * requests; a ghost forked by a ghost (BPROC_IOC_GHOST_FORK) has a request
 * of its own, made by dump_request_new() with its dump done and decided.
 *
 * Lifetime and locking
 * --------------------
 * A dump is a struct dump_request shared by the caller (the ioctl, then the
 * handle file it returns) and the target (its task_work). It is
 * reference-counted (kref): one reference for the caller side, one for the
 * queued task_work; whoever drops the last frees it.
 *
 *  - dump_requests_lock (a mutex) protects the list of live requests, used
 *    only to refuse a second dump of a process that has one (EBUSY). A
 *    request is on the list from before its task_work is queued until the
 *    target has finished with it (resumed or died).
 *  - req->state moves QUEUED -> SELF (the target dumps itself) or QUEUED ->
 *    EXTERNAL (the target is stopped or traced, so the caller dumps it on
 *    its behalf) with cmpxchg; whoever wins writes the image, sets
 *    req->result and completes req->done.
 *  - req->decision moves once from NONE to RESUME, KILL or GHOST (cmpxchg),
 *    by the handle's ioctls, by closing the handle, by a failed dump or by
 *    the caller being killed while it waits; req->wait wakes the parked
 *    target. A parked target waits killably, so SIGKILL always ends it.
 *  - req->ghost_lock (a spinlock) protects the ghost's event ring and its
 *    end (ghost.c).
 *
 * The target never returns to user space while its image is being written,
 * nor after, before a decision. If the caller disappears, the handle's
 * release resumes the target, so a process is never lost.
 *
 * Asynchronous dumps (BPROC_DUMP_ASYNC): the ioctl queues the task_work and
 * returns the handle without waiting for req->done; completing req->done
 * also wakes req->ghost_events_wait, so the handle polls readable, and
 * BPROC_IOC_DUMP_RESULT reads req->result, req->written and req->reason
 * (written only before req->done completes). A failed asynchronous dump
 * takes no decision: the target parks until the handle decides or goes.
 *
 * BPROC_IOC_RESUME_RET: the target records whether it is on the return from
 * a system call (req->in_syscall) before it claims the dump (DUMP_SELF);
 * the ioctl sets req->ret_value together with the RESUME decision under
 * req->ghost_lock, and the woken target stores it in its pt_regs->ax. That
 * runs in get_signal() before the restart logic, so the call returns that
 * value and is not restarted.
 *
 * Parking without an image (BPROC_DUMP_NOIMAGE, module 1.10): the request
 * goes exactly as a dump's (task_work, threads' rendezvous, states,
 * decisions, asynchronous mode) but bproc_dump_task() reads and writes
 * nothing, only checks what a ghost needs, and req->written stays 0;
 * req->out is NULL when the caller gave fd -1.
 *
 * Stopped and traced targets: a task in TASK_STOPPED or TASK_TRACED does not
 * run task_work until it is continued, so the caller writes the image itself
 * (the registers and FPU state are saved in the task, the memory is read
 * with get_user_pages). The task_work is queued anyway: should the task be
 * continued during the dump, it runs the task_work before any user code and
 * waits there for the outcome. The parked state of a stopped target is its
 * stop: RESUME leaves it stopped as it was, KILL sends SIGKILL, GHOST (one
 * stopped by job control) makes it the ghost once it is continued, which
 * then reports a SIGCONT to its holder. The image of a process stopped by
 * job control says so (BPROC_IMAGE_STOPPED) and restores stopped.
 * Limit: a tracer changing the registers of a traced target during its dump,
 * or a SIGCONT arriving together with a caught signal (whose frame the
 * kernel builds before the task_work runs), can make the image inconsistent.
 *
 * Threads (threads.c): with BPROC_DUMP_THREADS the main thread, in its
 * task_work and once it has claimed the dump (DUMP_SELF), parks every other
 * thread and has each record itself (req->threads, the rendezvous, its
 * own and the parked threads' only) before it writes the image; after the
 * decision, and after SIGKILL for a KILL, it lets them go; after a GHOST
 * they end instead (each by exit(2) from a stub page, none running the
 * program again), and the main thread becomes the ghost once it is alone.
 * A stopped process with threads is refused (they cannot park).
 *
 * Ghosts (ghost.c): a third decision, GHOST, taken through the handle,
 * turns the parked target into a ghost that keeps its pid, releases its
 * memory, reports the signals it receives to the handle's reader and ends,
 * when told, with a given exit code or signal. Only a target parked in its
 * own task_work can become one, or one stopped by job control (above).
 * BPROC_IOC_GHOST_RESTORE hands the ghost an image file (req->ghost_img,
 * under ghost_lock; the ghost puts it) and waits killably on
 * req->ghost_restore_done; the ghost restores it in its own context and
 * completes that. A ghost that stops (job control) leaves its task_work;
 * the request stays listed and referenced until ghost.c, which queues the
 * task_work again from a delayed work (req->ghost_rearm), ends it with
 * dump_work_end(). A ghost that ends or dies with a request pending
 * completes it with -ESRCH. The handle's release kills a ghost unless it
 * has been told to exit, is restoring, or has been restored; a restore
 * that fails after the handle went kills it.
 */
#define pr_fmt(fmt) "bproc: " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/sched/task_stack.h>
#include <asm/syscall.h>

#include "engine.h"
#include "request.h"

#define BPROC_MODULE_VERSION "1.10"

static DEFINE_MUTEX(dump_requests_lock);
static LIST_HEAD(dump_requests);

static void dump_request_free(struct kref *ref)
{
	struct dump_request *req = container_of(ref, struct dump_request, ref);

	if (req->out)
		fput(req->out);
	if (req->task)
		put_task_struct(req->task);
	if (req->ghost_child_cred)
		put_cred(req->ghost_child_cred);
	ghost_kept_free_all(req);
	kfree(req->ghost_args);
	kfree(req);
}

void dump_request_put(struct dump_request *req)
{
	kref_put(&req->ref, dump_request_free);
}

static void dump_request_unlist(struct dump_request *req)
{
	mutex_lock(&dump_requests_lock);
	list_del_init(&req->node);
	mutex_unlock(&dump_requests_lock);
}

static void dump_decide(struct dump_request *req, int decision)
{
	if (cmpxchg(&req->decision, DECIDE_NONE, decision) == DECIDE_NONE)
		wake_up_all(&req->wait);
}

/* The outcome is known: wake the ioctl and the handle's pollers. */
static void dump_complete(struct dump_request *req)
{
	complete_all(&req->done);
	wake_up_interruptible_all(&req->ghost_events_wait);
}

static void dump_run(struct dump_request *req)
{
	struct bproc_thread_rec **recs;
	u32 nr;

	recs = bproc_threads_recs(req, &nr);
	if (req->state == DUMP_EXTERNAL && get_nr_threads(req->task) > 1) {
		/* its threads cannot park while it is stopped */
		bproc_reason(req->reason, "stopped, with %d threads",
			     get_nr_threads(req->task));
		req->result = -EOPNOTSUPP;
	} else {
		req->result =
			bproc_dump_task(req->task, req->out, req->flags, recs,
					nr, &req->written, req->reason);
	}
	/* A failed asynchronous dump parks: the caller may set the result. */
	if (req->result && !req->async)
		dump_decide(req, DECIDE_RESUME);
	dump_complete(req);
}

/*
 * The target's side, at its return to user space: write the image unless
 * the caller does, then stay parked until the caller decides.
 */
static void dump_work(struct callback_head *work)
{
	struct dump_request *req =
		container_of(work, struct dump_request, work);
	struct pt_regs *regs = task_pt_regs(current);

	if (current->flags & PF_EXITING) {
		if (cmpxchg(&req->state, DUMP_QUEUED, DUMP_SELF) ==
		    DUMP_QUEUED) {
			req->result = -ESRCH;
			bproc_reason(req->reason, "the process is exiting");
			dump_decide(req, DECIDE_RESUME);
			dump_complete(req);
		} else if (READ_ONCE(req->decision) == DECIDE_GHOST) {
			/* killed in its stop before it became the ghost */
			ghost_mark_done(req);
		}
		goto out;
	}
	/* Before the state: whoever sees SELF sees this. */
	req->in_syscall = syscall_get_nr(current, regs) >= 0;
	if (cmpxchg(&req->state, DUMP_QUEUED, DUMP_SELF) != DUMP_QUEUED) {
		wait_for_completion_killable(&req->done);
	} else if (READ_ONCE(req->decision) != DECIDE_NONE) {
		/* Decided before it began (an asynchronous dump): no image. */
		req->result = -ECANCELED;
		bproc_reason(req->reason, "decided before the dump");
		dump_complete(req);
	} else if (req->threads_ok && get_nr_threads(current) > 1) {
		/* Every other thread parks first (threads.c). */
		req->threaded = true;
		req->result = bproc_threads_stop(req);
		if (req->result) {
			if (!req->reason[0])
				bproc_reason(req->reason,
					     "the threads did not stop (%d)",
					     req->result);
			if (!req->async)
				dump_decide(req, DECIDE_RESUME);
			dump_complete(req);
		} else {
			dump_run(req);
		}
	} else {
		dump_run(req);
	}

	if (!completion_done(&req->done))
		goto out; /* killed while the caller dumps us */
	wait_event_killable(req->wait, READ_ONCE(req->decision) != DECIDE_NONE);
	switch (READ_ONCE(req->decision)) {
	case DECIDE_KILL:
		/* before the other threads go: none runs user code again */
		force_sig(SIGKILL);
		break;
	case DECIDE_GHOST:
		/* a ghost has one thread: the others end first */
		if (req->threaded && !fatal_signal_pending(current) &&
		    bproc_threads_end(req))
			force_sig(SIGKILL);
		if (fatal_signal_pending(current))
			ghost_mark_done(req);
		else if (ghost_run(req, true))
			return; /* stopping: ghost.c holds on */
		break;
	case DECIDE_RESUME:
		/* Set before the decision, under ghost_lock. */
		spin_lock(&req->ghost_lock);
		if (req->ret_set)
			regs->ax = req->ret_value;
		spin_unlock(&req->ghost_lock);
		break;
	}
out:
	bproc_threads_go(req);
	dump_work_end(req);
}

void dump_work_end(struct dump_request *req)
{
	dump_request_unlist(req);
	dump_request_put(req);
	module_put(THIS_MODULE);
}

static long dump_ioctl_resume_ret(struct dump_request *req, void __user *argp)
{
	struct bproc_resume_ret r;
	int ret = 0;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	/* A result the program can see: no kernel-internal restart codes. */
	if (r.value < -511)
		return -EINVAL;
	if (!completion_done(&req->done))
		return -EBUSY;
	if (smp_load_acquire(&req->state) != DUMP_SELF || !req->in_syscall)
		return -EINVAL;
	spin_lock(&req->ghost_lock);
	if (cmpxchg(&req->decision, DECIDE_NONE, DECIDE_RESUME) ==
	    DECIDE_NONE) {
		req->ret_value = r.value;
		req->ret_set = true;
	} else {
		ret = -EINVAL;
	}
	spin_unlock(&req->ghost_lock);
	if (!ret)
		wake_up_all(&req->wait);
	return ret;
}

static long dump_ioctl_result(struct file *file, struct dump_request *req,
			      void __user *argp)
{
	struct bproc_dump_result r;
	int ret;

	if (!completion_done(&req->done)) {
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_for_completion_interruptible(&req->done);
		if (ret)
			return ret;
	}
	memset(&r, 0, sizeof(r));
	r.error = -req->result;
	r.image_size = req->written;
	strscpy(r.reason, req->reason, sizeof(r.reason));
	if (copy_to_user(argp, &r, sizeof(r)))
		return -EFAULT;
	return 0;
}

static long dump_handle_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct dump_request *req = file->private_data;

	switch (cmd) {
	case BPROC_IOC_RESUME:
		dump_decide(req, DECIDE_RESUME);
		return READ_ONCE(req->decision) == DECIDE_RESUME ? 0 : -EINVAL;
	case BPROC_IOC_KILL:
		dump_decide(req, DECIDE_KILL);
		if (READ_ONCE(req->decision) != DECIDE_KILL)
			return -EINVAL;
		/* A stopped target is parked in its stop. */
		if (READ_ONCE(req->state) == DUMP_EXTERNAL)
			send_sig(SIGKILL, req->task, 1);
		return 0;
	case BPROC_IOC_RESUME_RET:
		return dump_ioctl_resume_ret(req, (void __user *)arg);
	case BPROC_IOC_DUMP_RESULT:
		return dump_ioctl_result(file, req, (void __user *)arg);
	case BPROC_IOC_GHOST:
	case BPROC_IOC_GHOST_THREADS:
		/*
		 * A target parked in its own task_work stays behind; so does
		 * one stopped by job control, as it is, until continued (its
		 * queued task_work makes it the ghost then).
		 */
		if (READ_ONCE(req->state) == DUMP_EXTERNAL &&
		    (req->task->ptrace || req->task->flags & PF_EXITING))
			return -EOPNOTSUPP;
		if (READ_ONCE(req->state) != DUMP_SELF &&
		    READ_ONCE(req->state) != DUMP_EXTERNAL)
			return -EOPNOTSUPP;
		if (!completion_done(&req->done) || req->result)
			return -EINVAL;
		if (cmd == BPROC_IOC_GHOST_THREADS &&
		    READ_ONCE(req->decision) == DECIDE_NONE) {
			/* before the decision: the threads read it after */
			req->ghost_tevents = true;
			req->ghost_keep_threads = true;
		}
		dump_decide(req, DECIDE_GHOST);
		return READ_ONCE(req->decision) == DECIDE_GHOST ? 0 : -EINVAL;
	case BPROC_IOC_GHOST_EXIT:
		return ghost_ioctl_exit(req, (void __user *)arg);
	case BPROC_IOC_GHOST_RESTORE:
		return ghost_ioctl_restore(req, (void __user *)arg, false);
	case BPROC_IOC_GHOST_RESTORE_MAP:
		return ghost_ioctl_restore(req, (void __user *)arg, true);
	case BPROC_IOC_GHOST_FORK:
		return ghost_ioctl_fork(req, (void __user *)arg);
	case BPROC_IOC_GHOST_REAP:
		return ghost_ioctl_reap(req, (void __user *)arg);
	case BPROC_IOC_GHOST_NAME:
		return ghost_ioctl_name(req, (void __user *)arg);
	case BPROC_IOC_GHOST_CLOSE:
		return ghost_ioctl_close(req, (void __user *)arg);
	case BPROC_IOC_GHOST_MREMAP:
		return ghost_ioctl_mremap(req, (void __user *)arg);
	case BPROC_IOC_GHOST_THREAD:
		return ghost_ioctl_thread(req, (void __user *)arg);
	case BPROC_IOC_GHOST_PGRP:
		return ghost_ioctl_pgrp(req, (void __user *)arg);
	default:
		return -ENOIOCTLCMD;
	}
}

static int dump_handle_release(struct inode *inode, struct file *file)
{
	struct dump_request *req = file->private_data;

	dump_decide(req, DECIDE_RESUME);
	/* A ghost has nothing to resume to. */
	if (ghost_release(req))
		send_sig(SIGKILL, req->task, 1);
	dump_request_put(req);
	return 0;
}

static const struct file_operations dump_handle_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = dump_handle_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = ghost_read,
	.poll = ghost_poll,
	.release = dump_handle_release,
	.llseek = noop_llseek,
};

static bool dump_target_stopped(struct task_struct *task)
{
	return READ_ONCE(task->__state) & (__TASK_STOPPED | __TASK_TRACED);
}

/* Register @req for its task; -EBUSY if the task already has one. */
/* Whether @task is the target of a live request (a ghost among them). */
bool dump_request_has_task(struct task_struct *task)
{
	struct dump_request *other;
	bool found = false;

	mutex_lock(&dump_requests_lock);
	list_for_each_entry(other, &dump_requests, node)
	{
		if (other->task == task) {
			found = true;
			break;
		}
	}
	mutex_unlock(&dump_requests_lock);
	return found;
}

int dump_request_list(struct dump_request *req)
{
	struct dump_request *other;

	mutex_lock(&dump_requests_lock);
	list_for_each_entry(other, &dump_requests, node)
	{
		if (other->task == req->task) {
			mutex_unlock(&dump_requests_lock);
			return -EBUSY;
		}
	}
	list_add(&req->node, &dump_requests);
	mutex_unlock(&dump_requests_lock);
	return 0;
}

/*
 * Threads that could not park: a stopped or traced one (it runs no
 * task_work until continued), an io_uring worker (never in user space).
 */
static bool dump_threads_unfit(struct dump_request *req)
{
	struct task_struct *t;
	bool unfit = false;

	rcu_read_lock();
	for_each_thread(req->task, t)
	{
		if (t->flags & PF_IO_WORKER) {
			bproc_reason(req->reason, "the process uses io_uring");
			unfit = true;
		} else if (dump_target_stopped(t) && t != req->task) {
			bproc_reason(req->reason, "its thread %d is stopped",
				     task_pid_vnr(t));
			unfit = true;
		}
		if (unfit)
			break;
	}
	rcu_read_unlock();
	return unfit;
}

/* Queue the dump and wait for its result; the caller keeps one reference. */
static int dump_start(struct dump_request *req)
{
	int ret;

	ret = dump_request_list(req);
	if (ret) {
		bproc_reason(req->reason, "the process is being dumped");
		return ret;
	}
	kref_get(&req->ref); /* for the task_work */
	__module_get(THIS_MODULE);
	init_task_work(&req->work, dump_work);
	ret = task_work_add(req->task, &req->work, TWA_SIGNAL);
	if (ret) {
		module_put(THIS_MODULE);
		dump_request_unlist(req);
		dump_request_put(req);
		bproc_reason(req->reason, "the process is exiting");
		return -ESRCH;
	}

	if (dump_target_stopped(req->task) &&
	    cmpxchg(&req->state, DUMP_QUEUED, DUMP_EXTERNAL) == DUMP_QUEUED)
		dump_run(req);
	if (req->async)
		return 0;

	ret = wait_for_completion_killable(&req->done);
	if (ret) {
		/* We go; the target must not wait for us. */
		dump_decide(req, DECIDE_RESUME);
		return ret;
	}
	return req->result;
}

struct dump_request *dump_request_new(void)
{
	struct dump_request *req = kzalloc(sizeof(*req), GFP_KERNEL);

	if (!req)
		return NULL;
	kref_init(&req->ref);
	INIT_LIST_HEAD(&req->node);
	init_completion(&req->done);
	init_waitqueue_head(&req->wait);
	spin_lock_init(&req->ghost_lock);
	init_waitqueue_head(&req->ghost_events_wait);
	INIT_LIST_HEAD(&req->ghost_kept);
	init_completion(&req->ghost_restore_done);
	init_completion(&req->ghost_call_done);
	ghost_init(req);
	return req;
}

/* A new handle for @req, taking the caller's reference: its fd or -errno. */
int dump_handle_install(struct dump_request *req)
{
	struct file *handle;
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0)
		return fd;
	handle = anon_inode_getfile("[bproc-dump]", &dump_handle_fops, req,
				    O_RDWR);
	if (IS_ERR(handle)) {
		put_unused_fd(fd);
		return PTR_ERR(handle);
	}
	fd_install(fd, handle);
	return fd;
}

static long bproc_ioctl_dump(void __user *argp)
{
	struct bproc_dump_args args;
	struct dump_request *req;
	struct file *handle;
	struct pid *pid;
	int ret, fd;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags &
		    ~(BPROC_DUMP_ALL | BPROC_DUMP_STREAMS | BPROC_DUMP_ASYNC |
		      BPROC_DUMP_THREADS | BPROC_DUMP_SHANON |
		      BPROC_DUMP_ANONFDS | BPROC_DUMP_NOIMAGE) ||
	    args.pid <= 0)
		return -EINVAL;

	req = dump_request_new();
	if (!req)
		return -ENOMEM;
	req->flags = args.flags &
		     (BPROC_DUMP_ALL | BPROC_DUMP_STREAMS | BPROC_DUMP_SHANON |
		      BPROC_DUMP_ANONFDS | BPROC_DUMP_NOIMAGE);
	req->async = args.flags & BPROC_DUMP_ASYNC;
	req->threads_ok = args.flags & BPROC_DUMP_THREADS;

	/* No image: no file needed (any other fd is checked as for one). */
	if (!(args.flags & BPROC_DUMP_NOIMAGE) || args.fd != -1) {
		req->out = fget(args.fd);
		if (!req->out) {
			kfree(req);
			return -EBADF;
		}
	}
	pid = find_get_pid(args.pid);
	req->task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!req->task) {
		if (req->out)
			fput(req->out);
		kfree(req);
		return -ESRCH;
	}

	ret = -EBADF;
	if (req->out && !(req->out->f_mode & FMODE_WRITE))
		goto out_put;
	ret = -ESRCH;
	if (req->task->exit_state || req->task->flags & PF_EXITING) {
		bproc_reason(req->reason, "the process has exited");
		goto out_put;
	}
	ret = -EINVAL;
	if (req->task->flags & (PF_KTHREAD | PF_IO_WORKER) || !req->task->mm) {
		bproc_reason(req->reason, "not a user process");
		goto out_put;
	}
	if (is_global_init(req->task)) {
		bproc_reason(req->reason, "init cannot be dumped");
		ret = -EPERM;
		goto out_put;
	}
	if (same_thread_group(req->task, current)) {
		bproc_reason(req->reason, "a process cannot dump itself");
		goto out_put;
	}
	if (get_nr_threads(req->task) != 1 && !req->threads_ok) {
		bproc_reason(req->reason, "the process has %d threads",
			     get_nr_threads(req->task));
		ret = -EOPNOTSUPP;
		goto out_put;
	}
	if (get_nr_threads(req->task) != 1 && dump_threads_unfit(req)) {
		ret = -EOPNOTSUPP;
		goto out_put;
	}
	if (!thread_group_leader(req->task)) {
		bproc_reason(req->reason,
			     "not a process but a thread of process %d",
			     task_tgid_vnr(req->task));
		goto out_put;
	}

	ret = dump_start(req);
	if (ret)
		goto out_put;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_resume;
	}
	handle = anon_inode_getfile("[bproc-dump]", &dump_handle_fops, req,
				    O_RDWR);
	if (IS_ERR(handle)) {
		put_unused_fd(fd);
		ret = PTR_ERR(handle);
		goto out_resume;
	}
	args.handle_fd = fd;
	args.image_size = req->async ? 0 : req->written;
	memset(args.reason, 0, sizeof(args.reason));
	if (copy_to_user(argp, &args, sizeof(args))) {
		put_unused_fd(fd);
		fput(handle); /* resumes the target, drops our reference */
		return -EFAULT;
	}
	fd_install(fd, handle);
	return 0;

out_resume:
	dump_decide(req, DECIDE_RESUME);
out_put:
	strscpy(args.reason, req->reason, sizeof(args.reason));
	args.handle_fd = -1;
	args.image_size = req->written;
	dump_request_put(req);
	if (copy_to_user(argp, &args, sizeof(args)))
		return -EFAULT;
	return ret;
}

static long bproc_ioctl_restore(void __user *argp)
{
	struct bproc_restore_args args;
	struct file *img;
	int ret;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~(BPROC_RESTORE_CLOSE_FDS | BPROC_RESTORE_NOTIFY))
		return -EINVAL;
	if (!(args.flags & BPROC_RESTORE_NOTIFY) && args.notify_fd)
		return -EINVAL;
	img = fget(args.fd);
	if (!img)
		return -EBADF;
	memset(args.reason, 0, sizeof(args.reason));
	if (!(img->f_mode & FMODE_READ))
		ret = -EBADF;
	else
		ret = bproc_restore(img, &args, NULL, 0, args.reason);
	fput(img);
	if (ret && !fatal_signal_pending(current) &&
	    copy_to_user(argp, &args, sizeof(args)))
		return -EFAULT;
	return ret;
}

static long bproc_ioctl_version(void __user *argp)
{
	struct bproc_version v = {
		.abi_version = BPROC_ABI_VERSION,
		.image_version = BPROC_IMAGE_VERSION,
		.page_size = PAGE_SIZE,
	};

	if (copy_to_user(argp, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long bproc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case BPROC_IOC_VERSION:
		return bproc_ioctl_version(argp);
	case BPROC_IOC_DUMP:
		return bproc_ioctl_dump(argp);
	case BPROC_IOC_RESTORE:
		return bproc_ioctl_restore(argp);
	case BPROC_IOC_RESTORE_THREAD:
		return bproc_restore_thread();
	case BPROC_IOC_SPACE:
		return bproc_ioctl_space(argp);
	default:
		return -ENOIOCTLCMD;
	}
}

static int bproc_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return nonseekable_open(inode, file);
}

static const struct file_operations bproc_fops = {
	.owner = THIS_MODULE,
	.open = bproc_open,
	.unlocked_ioctl = bproc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice bproc_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "bproc",
	.fops = &bproc_fops,
	.mode = 0600,
};

static int __init bproc_init(void)
{
	int ret = bproc_space_init();

	if (ret)
		return ret;
	ret = misc_register(&bproc_misc);
	if (ret)
		bproc_space_exit();
	return ret;
}

static void __exit bproc_exit(void)
{
	misc_deregister(&bproc_misc);
	bproc_space_exit();
}

module_init(bproc_init);
module_exit(bproc_exit);

MODULE_AUTHOR("bproc developers");
MODULE_DESCRIPTION("bproc migration engine (process dump and restore)");
MODULE_LICENSE("GPL");
MODULE_VERSION(BPROC_MODULE_VERSION);
