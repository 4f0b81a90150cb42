// SPDX-License-Identifier: GPL-2.0
/*
 * ghost.c - a dumped process that stays behind as a ghost (BPROC_IOC_GHOST).
 *
 * After a move, the front end keeps the process's pid as a ghost: the
 * parked target, still in its task_work, releases its whole address space
 * and then sleeps interruptibly. Every signal it receives wakes it; it
 * takes the signal off its own queue (dequeue_signal) and adds an event to
 * the request's ring, which the handle's holder (the node agent) reads and
 * forwards to the remote process. SIGKILL is never taken: it ends the ghost.
 *
 * So that signals are queued rather than acted on (a default action could
 * kill or stop it, SIG_IGN would drop them), the ghost blocks nothing and
 * gives every signal a handler that never runs (GHOST_NO_HANDLER): the
 * ghost dequeues signals itself before any return to user space.
 *
 * BPROC_IOC_GHOST_EXIT ends the ghost as the remote process ended:
 *  - with a signal: every other signal becomes ignored and pending ones are
 *    dropped, that one gets its default action and is sent; the ghost then
 *    leaves its task_work and get_signal() applies the default action;
 *  - with an exit code: do_exit is not exported, so the ghost maps one page
 *    holding "mov $code, %edi; mov $__NR_exit_group, %eax; syscall" and
 *    returns to it (orig_ax = -1 so nothing is restarted), all signals
 *    ignored meanwhile.
 * If the holder closes the handle without ending the ghost, it is killed.
 * SIGKILL is reported as an event (sender unknown) before the ghost dies.
 * Either way the ghost's mm is made undumpable first: a core-dumping
 * signal ends it with that signal but no core (the remote process had the
 * memory; a ghost's core would hold nothing), so wait() sees no WCOREDUMP.
 *
 * Job control: SIGSTOP, and SIGTSTP/SIGTTIN/SIGTTOU if the process had
 * them at SIG_DFL, keep SIG_DFL in the ghost. The ghost reports such a
 * signal, puts it back and leaves its task_work with every other signal
 * blocked, so that get_signal() stops it as any process (ghost_stop()); a
 * delayed work queues its task_work again once it is out of it, and after
 * SIGCONT the ghost parks again before any return to user space. While it
 * is away the request's task_work reference belongs to ghost.c, which
 * ends the request (dump_work_end) when the ghost is done.
 *
 * System calls for the holder (GHOST_FORK, GHOST_REAP, GHOST_MREMAP,
 * GHOST_THREAD): a ghost can only do some things from user space, clone3()
 * first among them (no way to fork is exported to modules), mremap() of
 * its vDSO another (vm_mremap is not exported either). GHOST_THREAD's
 * clone3() makes a thread of the ghost (CLONE_THREAD, the tid asked for),
 * which comes back to the same stub with 0 and pauses apart until the
 * ioctl's task_work takes it: it waits to become a thread of the image the
 * ghost restores next (bproc_restore_thread), and ends if it does not. The ghost maps one page holding the call
 * and its arguments, blocks every signal and leaves its task_work for it,
 * as for a stop; the stub stores the result in the page and waits in
 * pause(). ghost_rearm() sees the result written (access_process_vm: every
 * 50-100 us for the first milliseconds, a fork's time, then every tick) and
 * queues the task_work again, which reads it and answers the holder.
 * GHOST_FORK's clone3() gives the child the pid asked for (set_tid): for
 * that call the ghost holds CAP_CHECKPOINT_RESTORE, which its child
 * inherits and gives up in its own task_work (queued by the ioctl before
 * the child ever returns to user space: it never runs a user instruction)
 * as it becomes a ghost itself, with the parent's handlers and job-control
 * dispositions. A ghost is undumpable, so nobody can ptrace either of them
 * meanwhile.
 *
 * Its name (GHOST_NAME): a ghost keeps the command line it had, on a page
 * of its own (its memory is gone), and its comm; the holder gives it the
 * process's new ones when the process executes a program where it runs.
 * The comm is set from the ioctl; the page is mapped by the ghost itself
 * in its task_work, where it has its own mm, as soon as it is parked
 * there. So are descriptors closed (GHOST_CLOSE: a stream that nothing
 * holds where the process runs), with its own files.
 *
 * Its threads (GHOST_THREADS, module 1.8): the process's other threads stay
 * as ghost threads (struct ghost_kept, below), each holding its tid and
 * reporting the signals sent to it alone with that tid; they join the
 * ghost's stops, end before it ends or restores, become the image's
 * threads of their tids when GHOST_THREAD asks for them, and are made
 * (GHOST_THREAD_NOW) or ended (GHOST_THREAD_END) as the process makes and
 * ends threads where it runs.
 *
 * The ghost keeps its vDSO and vvar where they were: when the process
 * comes home, BPROC_IOC_GHOST_RESTORE makes the ghost restore the image
 * itself (restore.c, as BPROC_IOC_RESTORE, checked against that vDSO) with
 * all signals blocked and its pending signals kept for the program. It
 * keeps its pid, parent, fds 0-2, cwd, rlimits and credentials (those it
 * had when it left); its fds 3 and up and its umask become the image's
 * (BPROC_RESTORE_FILES). With BPROC_GHOST_MAP_CALLER (module 1.9) the
 * descriptors of its map are the holder's, taken at the ioctl and
 * installed in the ghost's table (at free numbers, the map rewritten to
 * them) just before it restores, closed again if the restore fails: so
 * the agent gives the process its kernel objects, made by a helper at
 * their numbers, which no module can make (restore.c).
 */
#define pr_fmt(fmt) "bproc: " fmt

#include <linux/delay.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>
#include <linux/unistd.h>
#include <linux/cred.h>
#include <linux/pid_namespace.h>
#include <linux/sched/task.h>
#include <uapi/linux/sched.h>

#include "request.h"

/* The vDSO and vvar (and room to spare). */
#define GHOST_KEEP_MAPS 4

/* Code to return to that only calls pause(), for ever. */
static const u8 ghost_pause[] = {
	0xb8, __NR_pause, 0, 0, 0, /* 1: mov $nr, %eax */
	0x0f, 0x05, /* syscall */
	0xeb, 0xf7, /* jmp 1b */
};

/* A user address, never called: the ghost has no memory. */
#define GHOST_NO_HANDLER ((__sighandler_t)PAGE_SIZE)

/*
 * Set every signal's action but SIGKILL's and SIGSTOP's to @handler, but
 * @except's to @except_handler and those in @keep_dfl to SIG_DFL.
 */
static void ghost_set_actions(__sighandler_t handler, int except,
			      __sighandler_t except_handler,
			      unsigned long keep_dfl)
{
	struct sighand_struct *sighand = current->sighand;
	int sig;

	spin_lock_irq(&sighand->siglock);
	for (sig = 1; sig <= _NSIG; sig++) {
		struct k_sigaction *ka = &sighand->action[sig - 1];

		if (sig_kernel_only(sig))
			continue;
		if (sig == except)
			ka->sa.sa_handler = except_handler;
		else if (sig < BITS_PER_LONG && keep_dfl & sigmask(sig))
			ka->sa.sa_handler = SIG_DFL;
		else
			ka->sa.sa_handler = handler;
		ka->sa.sa_flags = 0;
		sigemptyset(&ka->sa.sa_mask);
	}
	spin_unlock_irq(&sighand->siglock);
}

/* Which of the terminal stop signals the process left at their default. */
static unsigned long ghost_stops_dfl(void)
{
	static const int stops[] = { SIGTSTP, SIGTTIN, SIGTTOU };
	struct sighand_struct *sighand = current->sighand;
	unsigned long mask = 0;
	int i;

	spin_lock_irq(&sighand->siglock);
	for (i = 0; i < ARRAY_SIZE(stops); i++)
		if (sighand->action[stops[i] - 1].sa.sa_handler == SIG_DFL)
			mask |= sigmask(stops[i]);
	spin_unlock_irq(&sighand->siglock);
	return mask;
}

static void ghost_add_event(struct dump_request *req,
			    const kernel_siginfo_t *info, pid_t tid)
{
	struct bproc_ghost_event *ev;
	u32 slot;

	spin_lock(&req->ghost_lock);
	if (req->ghost_count == GHOST_MAX_EVENTS) {
		/* Full: the oldest goes, the reader is behind. */
		req->ghost_head = (req->ghost_head + 1) % GHOST_MAX_EVENTS;
		req->ghost_count--;
	}
	slot = (req->ghost_head + req->ghost_count) % GHOST_MAX_EVENTS;
	req->ghost_events[slot].tid = tid;
	ev = &req->ghost_events[slot].ev;
	ev->signo = info->si_signo;
	ev->code = info->si_code;
	ev->pid = 0;
	ev->uid = 0;
	/* a sender, or the child a SIGCHLD is about */
	if (info->si_code <= 0 || info->si_code == SI_USER ||
	    info->si_signo == SIGCHLD) {
		ev->pid = info->si_pid;
		ev->uid = info->si_uid;
	}
	req->ghost_count++;
	spin_unlock(&req->ghost_lock);
	wake_up_interruptible(&req->ghost_events_wait);
}

/* Map one page holding @code and return to it, no system call restarted. */
static int ghost_return_to(const u8 *code, size_t len, unsigned long *addrp)
{
	struct pt_regs *regs = task_pt_regs(current);
	unsigned long addr;

	addr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(addr))
		return (long)addr;
	if (copy_to_user((void __user *)addr, code, len)) {
		vm_munmap(addr, PAGE_SIZE);
		return -EFAULT;
	}
	regs->ip = addr;
	regs->sp = addr + PAGE_SIZE;
	regs->orig_ax = -1;
	regs->ax = 0;
	if (addrp)
		*addrp = addr;
	return 0;
}

int ghost_thread_exit(void)
{
	static const u8 stub[] = {
		0x31, 0xff, /* xor %edi, %edi */
		0xb8, __NR_exit, 0, 0, 0, /* mov $nr, %eax */
		0x0f, 0x05, /* syscall */
		0x0f, 0x0b, /* ud2 */
	};

	return ghost_return_to(stub, sizeof(stub), NULL);
}

/* Return to a stub that calls exit_group(@code). */
static int ghost_exit_code(int code)
{
	u8 stub[] = {
		0xbf, code & 0xff,
		0,    0,
		0, /* mov $code, %edi */
		0xb8, __NR_exit_group,
		0,    0,
		0, /* mov $nr, %eax */
		0x0f, 0x05, /* syscall */
		0x0f, 0x0b, /* ud2 */
	};

	return ghost_return_to(stub, sizeof(stub), NULL);
}

/*
 * Unmap everything but the vDSO and vvar: they stay where they were so that
 * the image can be restored into the ghost when the process comes back.
 */
static void ghost_release_memory(void)
{
	struct mm_struct *mm = current->mm;
	unsigned long keep[GHOST_KEEP_MAPS][2], from = 0;
	struct vm_area_struct *vma;
	int i, n = 0;
	VMA_ITERATOR(vmi, mm, 0);

	mmap_read_lock(mm);
	for_each_vma(vmi, vma)
	{
		const char *name = vma->vm_ops && vma->vm_ops->name ?
					   vma->vm_ops->name(vma) :
					   NULL;

		if (n < GHOST_KEEP_MAPS && name &&
		    (!strcmp(name, "[vdso]") || !strcmp(name, "[vvar]"))) {
			keep[n][0] = vma->vm_start;
			keep[n][1] = vma->vm_end;
			n++;
		}
	}
	mmap_read_unlock(mm);
	for (i = 0; i < n; i++) {
		if (keep[i][0] > from)
			vm_munmap(from, keep[i][0] - from);
		from = keep[i][1];
	}
	if (from < TASK_SIZE)
		vm_munmap(from, TASK_SIZE - from);
}

/* The ghost's command line as it is now (at most a page), or NULL. */
static char *ghost_args_now(u32 *len)
{
	struct mm_struct *mm = current->mm;
	unsigned long start, end;
	char *buf;

	spin_lock(&mm->arg_lock);
	start = mm->arg_start;
	end = mm->arg_end;
	spin_unlock(&mm->arg_lock);
	*len = 0;
	if (end <= start)
		return NULL;
	*len = min_t(unsigned long, end - start, BPROC_GHOST_ARGS_MAX);
	buf = kmalloc(*len, GFP_KERNEL);
	if (buf && copy_from_user(buf, (const void __user *)start, *len)) {
		kfree(buf);
		buf = NULL;
	}
	if (!buf)
		*len = 0;
	return buf;
}

/*
 * Give the ghost @args as its command line: a page of its own holds it
 * (the one it had goes), /proc/PID/cmdline reads it; no environment.
 */
static void ghost_set_args(struct dump_request *req, const char *args, u32 len)
{
	struct mm_struct *mm = current->mm;
	unsigned long addr = 0;

	if (req->ghost_args_page)
		vm_munmap(req->ghost_args_page, PAGE_SIZE);
	req->ghost_args_page = 0;
	if (len) {
		addr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, 0);
		if (IS_ERR_VALUE(addr)) {
			addr = 0;
		} else if (copy_to_user((void __user *)addr, args, len)) {
			vm_munmap(addr, PAGE_SIZE);
			addr = 0;
		}
	}
	req->ghost_args_page = addr;
	if (!addr)
		len = 0;
	spin_lock(&mm->arg_lock);
	mm->arg_start = addr;
	mm->arg_end = addr + len;
	mm->env_start = addr + len;
	mm->env_end = addr + len;
	spin_unlock(&mm->arg_lock);
}

static void ghost_work(struct callback_head *work);

/*
 * What the holder asked of the ghost in its own context. The last fput()
 * of a closed file is a task_work of the ghost's, which would wait behind
 * the ghost's own for ever: the ghost queues itself again first and
 * leaves (true), so that the files go, then it parks again.
 */
static bool ghost_do_todo(struct dump_request *req)
{
	s32 fds[BPROC_GHOST_CLOSE_MAX];
	bool again = false;
	char *args;
	u32 i, nr, len;

	spin_lock(&req->ghost_lock);
	args = req->ghost_args;
	len = req->ghost_args_len;
	req->ghost_args = NULL;
	nr = req->ghost_nr_close;
	memcpy(fds, req->ghost_close, nr * sizeof(fds[0]));
	req->ghost_nr_close = 0;
	req->ghost_todo = false;
	spin_unlock(&req->ghost_lock);
	if (args) {
		ghost_set_args(req, args, len);
		kfree(args);
	}
	if (nr) {
		init_task_work(&req->work, ghost_work);
		again = !task_work_add(current, &req->work, TWA_NONE);
	}
	for (i = 0; i < nr; i++)
		close_fd(fds[i]);
	return again;
}

/*
 * BPROC_IOC_GHOST_RESTORE, in the ghost: restore the image with every
 * signal blocked (a pending one must not cut short the reading of a pipe
 * or socket), keeping the pending ones for the program. 0 when the
 * program runs again.
 */
static int ghost_restore(struct dump_request *req, struct file *img,
			 struct bproc_fd_map *map, u32 nr_map,
			 struct file **files)
{
	struct bproc_restore_args args = {
		.fd = -1,
		.dev_fd = -1,
		.flags = BPROC_RESTORE_KEEP_PENDING | BPROC_RESTORE_FILES,
	};
	sigset_t all, old;
	u32 i, nr_in = 0;
	int ret = 0;

	memset(req->ghost_reason, 0, sizeof(req->ghost_reason));
	/* the holder's files: at free numbers of ours, for the map */
	for (i = 0; files && i < nr_map; i++) {
		int fd = get_unused_fd_flags(O_CLOEXEC);

		if (fd < 0) {
			bproc_reason(req->ghost_reason,
				     "no free descriptor for fd %d (%d)",
				     map[i].fd, fd);
			ret = fd;
			break;
		}
		fd_install(fd, get_file(files[i]));
		map[i].from = fd;
		nr_in = i + 1;
	}
	siginitsetinv(&all, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &all, &old);
	if (!ret && !(img->f_mode & FMODE_READ))
		ret = -EBADF;
	else if (!ret)
		ret = bproc_restore(img, &args, map, nr_map, req->ghost_reason);
	if (ret && !fatal_signal_pending(current))
		sigprocmask(SIG_SETMASK, &old, NULL);
	/* failed: still a ghost, without them */
	for (i = 0; ret && i < nr_in; i++)
		close_fd(map[i].from);
	return ret;
}

static void ghost_put_files(struct file **files, u32 nr)
{
	u32 i;

	for (i = 0; files && i < nr; i++)
		if (files[i])
			fput(files[i]);
	kfree(files);
}

/* A restore's map and the holder's files of it (ghost_lock held). */
static void ghost_free_map(struct dump_request *req)
{
	ghost_put_files(req->ghost_map_files, req->ghost_nr_map);
	req->ghost_map_files = NULL;
	kfree(req->ghost_map);
	req->ghost_map = NULL;
}

/* The restore is over: tell the ioctl. The ghost may have a new life. */
static bool ghost_restore_end(struct dump_request *req, int result)
{
	struct file *img;
	bool closed;

	spin_lock(&req->ghost_lock);
	img = req->ghost_img;
	req->ghost_img = NULL;
	ghost_free_map(req);
	req->ghost_restore_result = result;
	closed = req->handle_closed;
	if (!result)
		req->ghost_resumed = true;
	spin_unlock(&req->ghost_lock);
	fput(img);
	complete_all(&req->ghost_restore_done);
	return closed;
}

void ghost_mark_done(struct dump_request *req)
{
	struct dump_request *child;
	struct file *img;
	bool call;

	spin_lock(&req->ghost_lock);
	call = req->ghost_call;
	req->ghost_call = 0;
	req->ghost_call_result = -ESRCH;
	child = req->ghost_call_child;
	req->ghost_call_child = NULL;
	req->ghost_done = true;
	img = req->ghost_img; /* a restore asked for too late */
	req->ghost_img = NULL;
	ghost_free_map(req);
	if (img)
		req->ghost_restore_result = -ESRCH;
	spin_unlock(&req->ghost_lock);
	if (img) {
		fput(img);
		complete_all(&req->ghost_restore_done);
	}
	if (child)
		dump_request_put(child);
	if (call)
		complete_all(&req->ghost_call_done);
	wake_up_interruptible_all(&req->ghost_events_wait);
}

/* A stop signal the ghost must obey, taken off its queue; 0 if none. */
static int ghost_stop_pending(struct dump_request *req, kernel_siginfo_t *info)
{
	enum pid_type type;
	sigset_t others;
	int sig;

	siginitsetinv(&others, sigmask(SIGSTOP) | req->ghost_stop_dfl);
	spin_lock_irq(&current->sighand->siglock);
	sig = dequeue_signal(current, &others, info, &type);
	spin_unlock_irq(&current->sighand->siglock);
	return sig > 0 ? sig : 0;
}

/*
 * Stop for real: @sig goes back on the queue, every other signal is
 * blocked, and the ghost leaves its task_work so that get_signal() stops
 * it as any process (the parent's waitpid(WUNTRACED) sees it). It must not
 * run user code: should the stop not happen (an orphaned process group),
 * or once continued, it returns to a stub page that only calls pause().
 * ghost_rearm() queues the task_work again as soon as the ghost is out of
 * it (stopped, or in pause()); after SIGCONT the ghost then parks again
 * before returning to user space, and reports the SIGCONT left pending.
 */
static int ghost_stop(struct dump_request *req, int sig)
{
	sigset_t only;
	int ret;

	ret = ghost_return_to(ghost_pause, sizeof(ghost_pause),
			      &req->ghost_stub);
	if (ret)
		return ret;
	send_sig(sig, current, 1);
	siginitsetinv(&only, sigmask(sig));
	sigprocmask(SIG_SETMASK, &only, NULL);
	WRITE_ONCE(req->ghost_stopping, sig);
	schedule_delayed_work(&req->ghost_rearm, 1);
	return 0;
}

/* How many times a call's result is looked for at once (ghost_rearm). */
#define GHOST_CALL_POLLS 40

/* A stub page's slot before the call has written it: no call returns it. */
#define GHOST_CALL_PENDING 0x8000000000000000ULL
/* Where in the stub page: the code, clone3's arguments, the result. */
#define GHOST_STUB_ARGS 1024
#define GHOST_STUB_SLOT 2048

/* The call's result, written by the stub: true once it is there. */
static bool ghost_call_answered(struct task_struct *task, unsigned long stub,
				long *result)
{
	u64 v;

	if (access_process_vm(task, stub + GHOST_STUB_SLOT, &v, sizeof(v), 0) !=
	    sizeof(v))
		return true; /* no memory to read: it will not come */
	*result = (long)v;
	return v != GHOST_CALL_PENDING;
}

/*
 * Answer the holder's call; the ghost is back in its task_work. A child
 * forked for a holder that went meanwhile has nobody to be a ghost for: it
 * is killed (it never ran a user instruction of its own).
 */
static void ghost_call_answer(struct dump_request *req, long result)
{
	struct dump_request *child;
	bool abandoned;
	int call;

	spin_lock(&req->ghost_lock);
	call = req->ghost_call;
	req->ghost_call_result = result;
	req->ghost_call = 0;
	abandoned = req->ghost_call_abandoned;
	req->ghost_call_abandoned = false;
	child = req->ghost_call_child;
	req->ghost_call_child = NULL;
	spin_unlock(&req->ghost_lock);
	if (abandoned && call == GHOST_CALL_FORK && result > 0) {
		struct pid *pid;

		rcu_read_lock();
		pid = find_pid_ns(result, task_active_pid_ns(current));
		if (pid)
			kill_pid(pid, SIGKILL, 1);
		rcu_read_unlock();
	}
	if (child)
		dump_request_put(child);
	complete_all(&req->ghost_call_done);
}

/*
 * Arm the stub page at @addr (mapped by ghost_return_to, where the ghost
 * returns) to make system call @nr with @args, store its result at
 * GHOST_STUB_SLOT and pause; @page (@len bytes) goes at GHOST_STUB_ARGS.
 * Every signal is blocked until the ghost is back.
 */
static int ghost_call_arm(struct dump_request *req, unsigned long addr, int nr,
			  const u64 args[5], const void *page, size_t len,
			  bool thread)
{
	static const u8 movs[5][2] = { { 0x48, 0xbf },
				       { 0x48, 0xbe },
				       { 0x48, 0xba },
				       { 0x49, 0xba },
				       { 0x49, 0xb8 } };
	u64 slot = addr + GHOST_STUB_SLOT, pending = GHOST_CALL_PENDING;
	u8 code[128], *c = code;
	sigset_t all;
	int i;

	*c++ = 0xb8; /* mov $nr, %eax */
	memcpy(c, &nr, 4);
	c += 4;
	for (i = 0; i < 5; i++) { /* movabs $arg, %rdi, %rsi ... %r8 */
		*c++ = movs[i][0];
		*c++ = movs[i][1];
		memcpy(c, &args[i], 8);
		c += 8;
	}
	*c++ = 0x0f; /* syscall */
	*c++ = 0x05;
	if (thread) {
		/*
		 * A thread of the ghost (clone3 with CLONE_VM) comes back here
		 * with 0, in the same memory: it must not write the slot. It
		 * pauses apart, until its task_work takes it.
		 */
		*c++ = 0x48; /* test %rax, %rax */
		*c++ = 0x85;
		*c++ = 0xc0;
		*c++ = 0x74; /* jz child: over movabs (10) and the loop */
		*c++ = 10 + sizeof(ghost_pause);
	}
	*c++ = 0x48; /* movabs %rax, slot */
	*c++ = 0xa3;
	memcpy(c, &slot, 8);
	c += 8;
	memcpy(c, ghost_pause, sizeof(ghost_pause));
	c += sizeof(ghost_pause);
	if (thread) { /* child: pause until taken */
		memcpy(c, ghost_pause, sizeof(ghost_pause));
		c += sizeof(ghost_pause);
	}
	if (copy_to_user((void __user *)addr, code, c - code) ||
	    copy_to_user((void __user *)slot, &pending, sizeof(pending)) ||
	    (len &&
	     copy_to_user((void __user *)addr + GHOST_STUB_ARGS, page, len)))
		return -EFAULT;
	siginitsetinv(&all, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &all, NULL);
	req->ghost_calling = true;
	schedule_delayed_work(&req->ghost_rearm, 0);
	return 0;
}

/* The fork's clone3() arguments, at GHOST_STUB_ARGS in the stub page. */
struct ghost_fork_page {
	struct clone_args ca;
	pid_t set_tid;
};

/*
 * Make the call asked for: 0 when the ghost leaves its task_work for it
 * (the caller returns), else it failed and is answered already.
 */
static int ghost_call_start(struct dump_request *req)
{
	static const u8 nothing[] = { 0x0f, 0x0b }; /* ud2, overwritten */
	struct dump_request *child = req->ghost_call_child;
	int call = READ_ONCE(req->ghost_call);
	struct ghost_fork_page fp = {};
	u64 args[5] = { 0 };
	struct cred *more = NULL;
	const void *page = NULL;
	unsigned long addr;
	int ret, nr = 0;

	ret = ghost_return_to(nothing, sizeof(nothing), &addr);
	if (ret)
		goto out_answer;
	req->ghost_stub = addr;
	switch (call) {
	case GHOST_CALL_FORK:
	case GHOST_CALL_THREAD:
		/*
		 * The pid (tid) asked for takes CAP_CHECKPOINT_RESTORE: the
		 * ghost's own creds come back after, a forked child gives it
		 * up in its own task_work, a thread takes the image's.
		 */
		ret = -ENOMEM;
		req->ghost_call_cred = prepare_creds();
		more = prepare_creds();
		if (call == GHOST_CALL_FORK)
			child->ghost_child_cred = prepare_creds();
		if (!req->ghost_call_cred || !more ||
		    (call == GHOST_CALL_FORK && !child->ghost_child_cred))
			break;
		cap_raise(more->cap_effective, CAP_CHECKPOINT_RESTORE);
		cap_raise(more->cap_permitted, CAP_CHECKPOINT_RESTORE);
		if (call == GHOST_CALL_FORK)
			fp.ca.exit_signal = SIGCHLD;
		else
			fp.ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES |
				      CLONE_SIGHAND | CLONE_THREAD |
				      CLONE_SYSVSEM;
		fp.ca.set_tid = addr + GHOST_STUB_ARGS +
				offsetof(struct ghost_fork_page, set_tid);
		fp.ca.set_tid_size = 1;
		fp.set_tid = req->ghost_call_arg;
		args[0] = addr + GHOST_STUB_ARGS;
		args[1] = sizeof(fp.ca);
		nr = __NR_clone3;
		page = &fp;
		ret = 0;
		break;
	case GHOST_CALL_SETPGID:
		args[1] = req->ghost_call_arg;
		nr = __NR_setpgid;
		break;
	case GHOST_CALL_SETSID:
		nr = __NR_setsid;
		break;
	case GHOST_CALL_REAP:
		args[0] = req->ghost_call_arg;
		args[2] = WNOHANG;
		nr = __NR_wait4;
		break;
	case GHOST_CALL_MREMAP:
		args[0] = req->ghost_call_mremap[0];
		args[1] = args[2] = req->ghost_call_mremap[1];
		args[3] = MREMAP_MAYMOVE | MREMAP_FIXED;
		args[4] = req->ghost_call_mremap[2];
		/* not over the page the call runs from */
		ret = -EADDRINUSE;
		if (addr + PAGE_SIZE > args[4] && addr < args[4] + args[1])
			break;
		nr = __NR_mremap;
		ret = 0;
		break;
	default:
		ret = -EINVAL;
	}
	if (!ret)
		ret = ghost_call_arm(req, addr, nr, args, page,
				     page ? sizeof(fp) : 0,
				     call == GHOST_CALL_THREAD);
	if (!ret) {
		if (more)
			commit_creds(more);
		return 0;
	}
	vm_munmap(addr, PAGE_SIZE);
	req->ghost_stub = 0;
	req->ghost_calling = false;
out_answer:
	if (more)
		abort_creds(more);
	if (req->ghost_call_cred) {
		abort_creds(req->ghost_call_cred);
		req->ghost_call_cred = NULL;
	}
	ghost_call_answer(req, ret);
	return ret;
}

/* Back from the call's stub: its result to the holder. */
static void ghost_call_end(struct dump_request *req)
{
	u64 v = GHOST_CALL_PENDING;
	long result;

	if (get_user(v, (u64 __user *)(req->ghost_stub + GHOST_STUB_SLOT)))
		v = (u64)-EFAULT;
	result = v == GHOST_CALL_PENDING ? -EINTR : (long)v;
	vm_munmap(req->ghost_stub, PAGE_SIZE);
	req->ghost_stub = 0;
	req->ghost_calling = false;
	if (req->ghost_call_cred) {
		commit_creds(req->ghost_call_cred); /* no longer more */
		req->ghost_call_cred = NULL;
	}
	ghost_call_answer(req, result);
}

/* The ghost's task_work again, after a stop. */
static void ghost_work(struct callback_head *work)
{
	struct dump_request *req =
		container_of(work, struct dump_request, work);

	if (current->flags & PF_EXITING)
		ghost_mark_done(req); /* killed while stopped */
	else if (ghost_run(req, false))
		return;
	dump_work_end(req);
}

static void ghost_rearm(struct work_struct *work)
{
	struct dump_request *req = container_of(
		to_delayed_work(work), struct dump_request, ghost_rearm);
	struct task_struct *task = req->task;
	long result;

	if (READ_ONCE(req->ghost_calling) && !task->exit_state) {
		int i;

		/*
		 * Not before the call is made: it must not be cut short. A
		 * fork takes about a millisecond: the result is looked for
		 * every 50-100 us for a few milliseconds, then every tick.
		 */
		for (i = 0;
		     !ghost_call_answered(task, req->ghost_stub, &result);
		     i++) {
			if (i >= GHOST_CALL_POLLS ||
			    READ_ONCE(task->exit_state)) {
				schedule_delayed_work(&req->ghost_rearm, 1);
				return;
			}
			usleep_range(50, 100);
		}
	} else if (READ_ONCE(task->__state) == TASK_RUNNING &&
		   !task->exit_state) {
		/* Still on its way out of the task_work, or to its stop. */
		schedule_delayed_work(&req->ghost_rearm, 1);
		return;
	}
	init_task_work(&req->work, ghost_work);
	if (task_work_add(task, &req->work, TWA_SIGNAL)) {
		ghost_mark_done(req); /* it has exited */
		dump_work_end(req);
	}
}

/*
 * A ghost thread (GHOST_THREADS): one of the process's other threads,
 * kept with its tid while the process is away. Parked in a task_work as
 * the ghost is, with the stop signals blocked (the ghost obeys those for
 * the process), it takes every other signal sent to it (or to the process,
 * when the kernel chooses it to take one) off its queue and reports it
 * with its tid. When the ghost stops (job control) it takes part in the
 * group stop as any thread: it leaves its task_work for a stub page that
 * only calls pause(), every signal blocked, and a delayed work queues its
 * task_work again once it is out, as for the ghost (ghost_rearm). It ends
 * by a stub's exit(2) when the ghost ends or restores without it; asked
 * for by GHOST_THREAD (@adopt), it becomes that thread of the image the
 * ghost restores (bproc_restore_thread), or goes on as a ghost thread if
 * the restore fails.
 *
 * The structure is the request's (on req->ghost_kept, freed with it);
 * whoever runs the thread's part (its task_work, or the delayed work
 * between two) holds a reference on the request and on the module.
 */
struct ghost_kept {
	struct list_head node;
	struct callback_head work;
	struct delayed_work rearm;
	struct dump_request *req;
	struct task_struct *task; /* with a reference */
	unsigned long stub; /* its pause() page, while out for a stop */
	bool adopt; /* GHOST_THREAD asked for it: the image's thread */
	bool end; /* GHOST_THREAD_END: it ended where the process runs */
	bool ending; /* out of the count: ends, or is the program's */
};

static bool ghost_kept_run(struct ghost_kept *k);

/* No longer a ghost thread (under nothing): out of the count. */
static void ghost_kept_leave(struct ghost_kept *k)
{
	struct dump_request *req = k->req;

	spin_lock(&req->ghost_lock);
	if (!k->ending) {
		k->ending = true;
		req->ghost_nr_kept--;
	}
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);
}

/* The thread's part is over for good, or until its task_work runs. */
static void ghost_kept_put(struct ghost_kept *k)
{
	dump_request_put(k->req);
	module_put(THIS_MODULE);
}

static void ghost_kept_work(struct callback_head *work)
{
	struct ghost_kept *k = container_of(work, struct ghost_kept, work);

	if (current->flags & PF_EXITING) {
		ghost_kept_leave(k);
	} else if (ghost_kept_run(k)) {
		return; /* out for a stop again: the delayed work holds on */
	}
	ghost_kept_put(k);
}

static void ghost_kept_rearm(struct work_struct *work)
{
	struct ghost_kept *k =
		container_of(to_delayed_work(work), struct ghost_kept, rearm);
	struct task_struct *task = k->task;

	if (READ_ONCE(task->__state) == TASK_RUNNING && !task->exit_state) {
		/* still on its way out of the task_work, or to its stop */
		schedule_delayed_work(&k->rearm, 1);
		return;
	}
	init_task_work(&k->work, ghost_kept_work);
	if (task_work_add(task, &k->work, TWA_SIGNAL)) {
		ghost_kept_leave(k); /* it has exited */
		ghost_kept_put(k);
	}
}

/* Take part in the ghost's stop: 0 once out of the task_work for it. */
static int ghost_kept_stop(struct ghost_kept *k)
{
	sigset_t all;
	int ret;

	ret = ghost_return_to(ghost_pause, sizeof(ghost_pause), &k->stub);
	if (ret)
		return ret;
	siginitsetinv(&all, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &all, NULL);
	schedule_delayed_work(&k->rearm, 1);
	return 0;
}

static bool ghost_kept_wanted(struct ghost_kept *k)
{
	struct dump_request *req = k->req;

	return READ_ONCE(k->adopt) || READ_ONCE(k->end) ||
	       READ_ONCE(req->ghost_exit_set) || READ_ONCE(req->ghost_img) ||
	       READ_ONCE(req->ghost_done);
}

/*
 * The ghost thread's loop, in its task_work: true when it left it for a
 * stop (the delayed work then holds its references), false when its part
 * is over (it dies, ends, or runs as the image's thread).
 */
static bool ghost_kept_run(struct ghost_kept *k)
{
	struct dump_request *req = k->req;
	pid_t tid = task_pid_vnr(current);
	sigset_t stops, all;

	if (k->stub) {
		vm_munmap(k->stub, PAGE_SIZE);
		k->stub = 0;
	}
	siginitsetinv(&all, sigmask(SIGKILL) | sigmask(SIGSTOP));
	siginitset(&stops, sigmask(SIGSTOP) | req->ghost_stop_dfl);
	sigprocmask(SIG_SETMASK, &stops, NULL);
	for (;;) {
		kernel_siginfo_t info;
		enum pid_type type;
		int sig;

		if (!wait_event_interruptible(req->wait,
					      ghost_kept_wanted(k))) {
			if (!READ_ONCE(k->adopt) || READ_ONCE(k->end))
				break; /* the ghost ends, or goes on without it */
			sigprocmask(SIG_SETMASK, &all, NULL);
			if (!bproc_restore_thread()) {
				ghost_kept_leave(k);
				return false; /* the program's thread now */
			}
			if (fatal_signal_pending(current))
				return false;
			/* the restore failed: still a ghost thread */
			WRITE_ONCE(k->adopt, false);
			sigprocmask(SIG_SETMASK, &stops, NULL);
			continue;
		}
		if (fatal_signal_pending(current)) {
			ghost_kept_leave(k);
			return false;
		}
		/* a stop (or a freezer's trap): what get_signal() does */
		if (current->jobctl &
		    (JOBCTL_PENDING_MASK | JOBCTL_TRAP_FREEZE)) {
			if (!ghost_kept_stop(k))
				return true;
			/* no page for the stub: try again in a while */
			schedule_timeout_interruptible(HZ / 10);
			continue;
		}
		spin_lock_irq(&current->sighand->siglock);
		sig = dequeue_signal(current, &stops, &info, &type);
		spin_unlock_irq(&current->sighand->siglock);
		if (sig > 0)
			ghost_add_event(req, &info,
					type == PIDTYPE_PID ? tid : 0);
		else
			clear_notify_signal(); /* a task_work's kick */
	}
	/* it ends, nothing of it to be told */
	sigprocmask(SIG_SETMASK, &all, NULL);
	ghost_kept_leave(k);
	if (ghost_thread_exit())
		force_sig(SIGKILL);
	return false;
}

/*
 * What is pending for this thread alone is in the image, which brings it
 * where the thread runs now: not to be reported again.
 */
static void ghost_kept_drain(void)
{
	kernel_siginfo_t info;
	enum pid_type type;
	sigset_t others;
	int sig;

	spin_lock_irq(&current->sighand->siglock);
	for (sig = 1; sig <= _NSIG; sig++) {
		if (sig_kernel_only(sig))
			continue;
		sigfillset(&others);
		sigdelset(&others, sig);
		while (sigismember(&current->pending.signal, sig) &&
		       dequeue_signal(current, &others, &info, &type) > 0)
			;
	}
	spin_unlock_irq(&current->sighand->siglock);
}

void ghost_kept_park(struct dump_request *req)
{
	struct ghost_kept *k = kzalloc(sizeof(*k), GFP_KERNEL);

	if (!k) {
		if (ghost_thread_exit())
			force_sig(SIGKILL);
		dump_request_put(req);
		return;
	}
	INIT_LIST_HEAD(&k->node);
	INIT_DELAYED_WORK(&k->rearm, ghost_kept_rearm);
	k->req = req; /* the caller's reference */
	k->task = get_task_struct(current);
	__module_get(THIS_MODULE);
	spin_lock(&req->ghost_lock);
	list_add_tail(&k->node, &req->ghost_kept);
	req->ghost_nr_kept++;
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);
	ghost_kept_drain();
	if (!ghost_kept_run(k))
		ghost_kept_put(k);
}

void ghost_kept_free_all(struct dump_request *req)
{
	struct ghost_kept *k, *tmp;

	list_for_each_entry_safe(k, tmp, &req->ghost_kept, node)
	{
		list_del(&k->node);
		put_task_struct(k->task);
		kfree(k);
	}
}

/*
 * The ghost's own end or restore: its ghost threads not asked for end
 * first; with @gone, wait until they are out of user space for good (a
 * restore unmaps the stub they end from), else until they take no more
 * signals. Killable, and at most a few seconds.
 */
static void ghost_kept_wait(struct dump_request *req, bool gone)
{
	unsigned long until = jiffies + 5 * HZ;

	if (!req->ghost_keep_threads)
		return;
	wake_up_all(&req->wait);
	for (;;) {
		struct ghost_kept *k;
		bool left = false;

		spin_lock(&req->ghost_lock);
		list_for_each_entry(k, &req->ghost_kept, node)
		{
			if (READ_ONCE(k->adopt))
				continue;
			if (!k->ending ||
			    (gone && !(k->task->flags & PF_EXITING) &&
			     !k->task->exit_state))
				left = true;
		}
		spin_unlock(&req->ghost_lock);
		if (!left || time_after(jiffies, until) ||
		    fatal_signal_pending(current))
			return;
		schedule_timeout_killable(1);
	}
}

/*
 * GHOST_THREAD for @tid: the ghost thread of that tid (neither ending nor
 * asked to) is asked for the restore, or to end with
 * BPROC_GHOST_THREAD_END in @flags; false if there is none.
 */
static bool ghost_kept_ask(struct dump_request *req, pid_t tid, u32 flags)
{
	struct pid_namespace *ns = task_active_pid_ns(req->task);
	struct ghost_kept *k;
	bool found = false;

	spin_lock(&req->ghost_lock);
	list_for_each_entry(k, &req->ghost_kept, node)
	{
		if (k->ending || READ_ONCE(k->end) ||
		    task_pid_nr_ns(k->task, ns) != tid)
			continue;
		found = true;
		if (flags & BPROC_GHOST_THREAD_END)
			WRITE_ONCE(k->end, true);
		else
			WRITE_ONCE(k->adopt, true);
		break;
	}
	spin_unlock(&req->ghost_lock);
	if (found)
		wake_up_all(&req->wait);
	return found;
}

void ghost_init(struct dump_request *req)
{
	INIT_DELAYED_WORK(&req->ghost_rearm, ghost_rearm);
}

bool ghost_run(struct dump_request *req, bool first)
{
	sigset_t none;
	char *args;
	u32 len;

	sigemptyset(&none);
	if (first) {
		/* a forked ghost has its parent's (its handlers are ghosts') */
		req->ghost_stop_dfl = req->ghost_child ?
					      req->ghost_child_stop_dfl :
					      ghost_stops_dfl();
		ghost_set_actions(GHOST_NO_HANDLER, 0, NULL,
				  req->ghost_stop_dfl);
		/* Nothing may point into the memory it gives up. */
		current->rseq = NULL;
		current->rseq_sig = 0;
		current->clear_child_tid = NULL;
		current->robust_list = NULL;
		current->sas_ss_sp = 0;
		current->sas_ss_size = 0;
		current->sas_ss_flags = SS_DISABLE;
		args = ghost_args_now(&len);
		ghost_release_memory();
		if (READ_ONCE(req->state) == DUMP_EXTERNAL) {
			/*
			 * Dumped in its stop (job control), continued since:
			 * the process, stopped where it runs, goes on too.
			 */
			kernel_siginfo_t cont = { .si_signo = SIGCONT,
						  .si_code = SI_KERNEL };

			ghost_add_event(req, &cont, 0);
		}
		req->ghost_args_page = 0; /* a forked ghost's parent's page */
		ghost_set_args(req, args, len);
		kfree(args);
	} else if (req->ghost_calling) {
		ghost_call_end(req);
	} else if (req->ghost_stub) {
		/* Back from a stop. */
		vm_munmap(req->ghost_stub, PAGE_SIZE);
		req->ghost_stub = 0;
	}
	WRITE_ONCE(req->ghost_stopping, 0);
	sigprocmask(SIG_SETMASK, &none, NULL);

	for (;;) {
		kernel_siginfo_t info;
		enum pid_type type;
		int sig;

		if (!wait_event_interruptible(
			    req->wait, READ_ONCE(req->ghost_exit_set) ||
					       READ_ONCE(req->ghost_img) ||
					       READ_ONCE(req->ghost_call) ||
					       READ_ONCE(req->ghost_todo))) {
			struct bproc_fd_map *map;
			struct file *img, **files;
			u32 nr_map;
			int ret;

			if (READ_ONCE(req->ghost_todo) &&
			    !READ_ONCE(req->ghost_exit_set)) {
				if (ghost_do_todo(req))
					return true; /* back in ghost_work() */
				continue;
			}

			if (READ_ONCE(req->ghost_call) &&
			    !READ_ONCE(req->ghost_exit_set)) {
				if (!ghost_call_start(req))
					return true; /* back in ghost_work() */
				continue; /* answered already: it failed */
			}

			spin_lock(&req->ghost_lock);
			img = req->ghost_img;
			map = req->ghost_map;
			nr_map = req->ghost_nr_map;
			files = req->ghost_map_files;
			spin_unlock(&req->ghost_lock);
			if (!img)
				break;
			ghost_kept_wait(req, true);
			ret = ghost_restore(req, img, map, nr_map, files);
			req->ghost_args_page = 0; /* the restore unmapped it */
			if (!ret) {
				ghost_restore_end(req, 0);
				goto out_done; /* the program runs again */
			}
			/* Failed: still a ghost, unless dying or abandoned. */
			if (ghost_restore_end(req, ret))
				force_sig(SIGKILL);
			if (fatal_signal_pending(current))
				goto out_done;
			continue;
		}
		if (fatal_signal_pending(current)) {
			/* SIGKILL: reported (sender unknown), then it dies. */
			kernel_siginfo_t kill = { .si_signo = SIGKILL,
						  .si_code = SI_KERNEL };

			ghost_add_event(req, &kill, 0);
			goto out_done;
		}
		sig = ghost_stop_pending(req, &info);
		if (sig) {
			ghost_add_event(req, &info, 0);
			if (!ghost_stop(req, sig))
				return true; /* back in ghost_work() */
			continue; /* no memory for the stub: reported only */
		}
		spin_lock_irq(&current->sighand->siglock);
		sig = dequeue_signal(current, &none, &info, &type);
		spin_unlock_irq(&current->sighand->siglock);
		if (sig > 0)
			ghost_add_event(req, &info,
					type == PIDTYPE_PID ?
						task_pid_vnr(current) :
						0);
		else
			clear_notify_signal(); /* no signal: a task_work's kick */
	}

	/* Ended by the holder: its ghost threads first. */
	ghost_kept_wait(req, false);
	/* Its end is the remote process's; a core would hold nothing. */
	set_mask_bits(&current->mm->flags, MMF_DUMPABLE_MASK,
		      SUID_DUMP_DISABLE);
	if (req->ghost_exit_how == BPROC_GHOST_EXIT_SIGNAL) {
		ghost_set_actions(SIG_IGN, req->ghost_exit_value, SIG_DFL, 0);
		flush_signals(current);
		send_sig(req->ghost_exit_value, current, 1);
	} else {
		ghost_set_actions(SIG_IGN, 0, NULL, 0);
		flush_signals(current);
		if (ghost_exit_code(req->ghost_exit_value))
			force_sig(SIGKILL);
	}
out_done:
	ghost_mark_done(req);
	return false;
}

long ghost_ioctl_exit(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_exit ex;

	if (copy_from_user(&ex, argp, sizeof(ex)))
		return -EFAULT;
	if (ex.how == BPROC_GHOST_EXIT_CODE) {
		if (ex.value < 0 || ex.value > 255)
			return -EINVAL;
	} else if (ex.how == BPROC_GHOST_EXIT_SIGNAL) {
		/* A signal whose default action ends the process. */
		if (ex.value < 1 || ex.value > _NSIG ||
		    sig_kernel_ignore(ex.value) || sig_kernel_stop(ex.value))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return -EINVAL;
	spin_lock(&req->ghost_lock);
	if (req->ghost_exit_set || req->ghost_img || req->ghost_done) {
		spin_unlock(&req->ghost_lock);
		return -EBUSY;
	}
	req->ghost_exit_how = ex.how;
	req->ghost_exit_value = ex.value;
	smp_store_release(&req->ghost_exit_set, true);
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);
	/* A stopped ghost ends too, as a stopped process killed would. */
	if (READ_ONCE(req->ghost_stopping))
		send_sig(SIGCONT, req->task, 1);
	return 0;
}

long ghost_ioctl_restore(struct dump_request *req, void __user *argp,
			 bool with_map)
{
	struct bproc_ghost_restore_map a = { 0 };
	struct bproc_fd_map *map = NULL;
	struct file **files = NULL;
	char __user *reason;
	struct file *img;
	u32 i;
	int ret;

	if (with_map) {
		if (copy_from_user(&a, argp, sizeof(a)))
			return -EFAULT;
		if (a.pad || a.nr_map > BPROC_FD_MAP_MAX)
			return -EINVAL;
		reason =
			((struct bproc_ghost_restore_map __user *)argp)->reason;
	} else {
		struct bproc_ghost_restore old;

		if (copy_from_user(&old, argp, sizeof(old)))
			return -EFAULT;
		a.fd = old.fd;
		a.flags = old.flags;
		reason = ((struct bproc_ghost_restore __user *)argp)->reason;
	}
	if ((a.flags & ~BPROC_GHOST_MAP_CALLER) || (a.flags && !with_map))
		return -EINVAL;
	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return -EINVAL;
	if (with_map) {
		/* an empty map is a map: the program gets no descriptor */
		map = memdup_user(u64_to_user_ptr(a.map),
				  (a.nr_map ?: 1) * sizeof(*map));
		if (IS_ERR(map))
			return PTR_ERR(map);
	}
	/* the caller's descriptors: taken now, from its own table */
	if (a.flags & BPROC_GHOST_MAP_CALLER) {
		files = kcalloc(a.nr_map ?: 1, sizeof(*files), GFP_KERNEL);
		ret = files ? 0 : -ENOMEM;
		for (i = 0; !ret && i < a.nr_map; i++) {
			files[i] = fget(map[i].from);
			if (!files[i])
				ret = -EBADF;
		}
		if (ret) {
			ghost_put_files(files, a.nr_map);
			kfree(map);
			return ret;
		}
	}
	img = fget(a.fd);
	if (!img) {
		ghost_put_files(files, a.nr_map);
		kfree(map);
		return -EBADF;
	}
	spin_lock(&req->ghost_lock);
	if (req->ghost_exit_set || req->ghost_img || req->ghost_done) {
		spin_unlock(&req->ghost_lock);
		fput(img);
		ghost_put_files(files, a.nr_map);
		kfree(map);
		return -EBUSY;
	}
	reinit_completion(&req->ghost_restore_done);
	req->ghost_map = map; /* the ghost frees it */
	req->ghost_map_files = files;
	req->ghost_nr_map = a.nr_map;
	req->ghost_img = img; /* the ghost puts it */
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);

	ret = wait_for_completion_killable(&req->ghost_restore_done);
	if (ret)
		return ret; /* the restore goes on without us */
	ret = req->ghost_restore_result;
	memset(a.reason, 0, sizeof(a.reason));
	if (ret)
		strscpy(a.reason, req->ghost_reason, sizeof(a.reason));
	if (copy_to_user(reason, a.reason, sizeof(a.reason)))
		return -EFAULT;
	return ret;
}

long ghost_ioctl_name(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_name a;
	char *args = NULL;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.args_len > BPROC_GHOST_ARGS_MAX ||
	    strnlen(a.comm, sizeof(a.comm)) == sizeof(a.comm))
		return -EINVAL;
	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return -EINVAL;
	if (a.args_len) {
		args = memdup_user(u64_to_user_ptr(a.args), a.args_len);
		if (IS_ERR(args))
			return PTR_ERR(args);
	}
	spin_lock(&req->ghost_lock);
	if (req->ghost_exit_set || req->ghost_img || req->ghost_done) {
		spin_unlock(&req->ghost_lock);
		kfree(args);
		return -EBUSY;
	}
	/* what __set_task_comm does, which is not for modules */
	task_lock(req->task);
	strscpy_pad(req->task->comm, a.comm, sizeof(req->task->comm));
	task_unlock(req->task);
	kfree(req->ghost_args); /* an older one it has not taken yet */
	req->ghost_args = args;
	req->ghost_args_len = a.args_len;
	/* an empty command line is one too */
	if (!args)
		req->ghost_args = kzalloc(1, GFP_ATOMIC);
	req->ghost_todo = true;
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);
	return 0;
}

long ghost_ioctl_close(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_close a;
	s32 fds[BPROC_GHOST_CLOSE_MAX];
	u32 i;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags || !a.nr_fds || a.nr_fds > BPROC_GHOST_CLOSE_MAX)
		return -EINVAL;
	if (copy_from_user(fds, u64_to_user_ptr(a.fds),
			   a.nr_fds * sizeof(fds[0])))
		return -EFAULT;
	for (i = 0; i < a.nr_fds; i++)
		if (fds[i] < 0)
			return -EBADF;
	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return -EINVAL;
	spin_lock(&req->ghost_lock);
	if (req->ghost_exit_set || req->ghost_img || req->ghost_done ||
	    req->ghost_nr_close + a.nr_fds > BPROC_GHOST_CLOSE_MAX) {
		spin_unlock(&req->ghost_lock);
		return -EBUSY;
	}
	memcpy(req->ghost_close + req->ghost_nr_close, fds,
	       a.nr_fds * sizeof(fds[0]));
	req->ghost_nr_close += a.nr_fds;
	req->ghost_todo = true;
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);
	return 0;
}

bool ghost_release(struct dump_request *req)
{
	bool kill;

	spin_lock(&req->ghost_lock);
	req->handle_closed = true;
	kill = READ_ONCE(req->decision) == DECIDE_GHOST &&
	       !req->ghost_exit_set && !req->ghost_img && !req->ghost_resumed;
	spin_unlock(&req->ghost_lock);
	return kill;
}

ssize_t ghost_read(struct file *file, char __user *buf, size_t len,
		   loff_t *ppos)
{
	struct dump_request *req = file->private_data;
	struct bproc_ghost_tevent ev[GHOST_MAX_EVENTS];
	size_t one = req->ghost_tevents ? sizeof(ev[0]) : sizeof(ev[0].ev);
	size_t i, n = 0, max = len / one;
	int ret;

	if (!max)
		return -EINVAL;
	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return -EINVAL;
	for (;;) {
		spin_lock(&req->ghost_lock);
		while (req->ghost_count && n < max && n < GHOST_MAX_EVENTS) {
			ev[n++] = req->ghost_events[req->ghost_head];
			req->ghost_head =
				(req->ghost_head + 1) % GHOST_MAX_EVENTS;
			req->ghost_count--;
		}
		spin_unlock(&req->ghost_lock);
		if (n || READ_ONCE(req->ghost_done))
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(
			req->ghost_events_wait,
			READ_ONCE(req->ghost_count) ||
				READ_ONCE(req->ghost_done));
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++)
		if (copy_to_user(buf + i * one, &ev[i], one))
			return -EFAULT;
	return n * one;
}

__poll_t ghost_poll(struct file *file, struct poll_table_struct *wait)
{
	struct dump_request *req = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &req->ghost_events_wait, wait);
	if (!completion_done(&req->done))
		return 0;
	/* Before a ghost: the dump's outcome is there to read. */
	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return EPOLLIN | EPOLLRDNORM;
	spin_lock(&req->ghost_lock);
	if (req->ghost_count)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (req->ghost_done)
		mask |= EPOLLHUP;
	spin_unlock(&req->ghost_lock);
	return mask;
}

/* Ask the ghost for a call and wait for its answer. */
static long ghost_call(struct dump_request *req, int call, s32 arg,
		       struct dump_request *child)
{
	int ret;

	if (READ_ONCE(req->decision) != DECIDE_GHOST)
		return -EINVAL;
	spin_lock(&req->ghost_lock);
	if (req->ghost_exit_set || req->ghost_img || req->ghost_done ||
	    req->ghost_call) {
		spin_unlock(&req->ghost_lock);
		return -EBUSY;
	}
	reinit_completion(&req->ghost_call_done);
	req->ghost_call_arg = arg;
	req->ghost_call_abandoned = false;
	if (child)
		kref_get(&child->ref); /* the ghost's, until it answers */
	req->ghost_call_child = child;
	smp_store_release(&req->ghost_call, call);
	spin_unlock(&req->ghost_lock);
	wake_up_all(&req->wait);

	ret = wait_for_completion_killable(&req->ghost_call_done);
	if (ret) {
		/* the call goes on without us: its child is not wanted */
		spin_lock(&req->ghost_lock);
		if (req->ghost_call == call)
			req->ghost_call_abandoned = true;
		spin_unlock(&req->ghost_lock);
		if (completion_done(&req->ghost_call_done))
			ret = READ_ONCE(req->ghost_call_result);
		return ret;
	}
	return READ_ONCE(req->ghost_call_result);
}

/* In the forked child, before its first return to user space. */
static void ghost_child_work(struct callback_head *work)
{
	struct dump_request *req =
		container_of(work, struct dump_request, work);

	if (current->flags & PF_EXITING) {
		ghost_mark_done(req);
	} else {
		/* the parent's own credentials, nothing more */
		commit_creds(req->ghost_child_cred);
		req->ghost_child_cred = NULL;
		if (ghost_run(req, true))
			return; /* stopping: ghost.c holds on */
	}
	dump_work_end(req);
}

/*
 * The ghost ended during a GHOST_FORK: if its clone3() had run, the child
 * (pid @nr, asked for with set_tid, so nobody else's) waits in the stub
 * with CAP_CHECKPOINT_RESTORE and no holder. It never ran a program of
 * its own: it goes.
 */
static void ghost_fork_orphan(struct dump_request *req, pid_t nr)
{
	struct task_struct *task;
	struct pid *pid;

	rcu_read_lock();
	pid = get_pid(find_pid_ns(nr, task_active_pid_ns(req->task)));
	rcu_read_unlock();
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!task)
		return;
	if (task->flags & PF_FORKNOEXEC && task->pid == task->tgid &&
	    !strncmp(task->comm, req->task->comm, TASK_COMM_LEN) &&
	    !dump_request_has_task(task)) {
		pr_debug("pid %d: the child of a ghost that ended meanwhile\n",
			 nr);
		send_sig(SIGKILL, task, 1);
	}
	put_task_struct(task);
}

long ghost_ioctl_fork(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_fork a;
	struct dump_request *child;
	struct task_struct *task;
	struct pid *pid;
	long nr;
	int ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.pid <= 1)
		return -EINVAL;
	child = dump_request_new();
	if (!child)
		return -ENOMEM;
	/* a ghost from the start: decided, its (empty) dump done */
	child->state = DUMP_SELF;
	child->decision = DECIDE_GHOST;
	complete_all(&child->done);
	child->ghost_child = true;
	child->ghost_child_stop_dfl = req->ghost_stop_dfl;
	/* a ghost that keeps threads has children that do */
	child->ghost_tevents = req->ghost_tevents;
	child->ghost_keep_threads = req->ghost_keep_threads;
	nr = ghost_call(req, GHOST_CALL_FORK, a.pid, child);
	if (nr == -ESRCH)
		ghost_fork_orphan(req, a.pid);
	if (nr < 0) {
		ret = nr;
		goto out_put;
	}
	rcu_read_lock();
	pid = get_pid(find_pid_ns(nr, task_active_pid_ns(req->task)));
	rcu_read_unlock();
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	ret = -ESRCH;
	if (!task)
		goto out_put; /* killed already */
	child->task = task;
	ret = dump_request_list(child);
	if (ret)
		goto out_put;
	kref_get(&child->ref); /* for the task_work */
	__module_get(THIS_MODULE);
	init_task_work(&child->work, ghost_child_work);
	if (task_work_add(task, &child->work, TWA_SIGNAL)) {
		dump_work_end(child);
		ret = -ESRCH;
		goto out_put;
	}
	a.lpid = task_tgid_vnr(task);
	ret = dump_handle_install(child);
	if (ret < 0) {
		/* nobody holds it: it ends, as a ghost whose handle closed */
		send_sig(SIGKILL, task, 1);
		goto out_put;
	}
	a.handle_fd = ret;
	if (copy_to_user(argp, &a, sizeof(a)))
		return -EFAULT; /* the descriptor stays the caller's */
	return 0;

out_put:
	dump_request_put(child);
	return ret;
}

/* Is [from, from + len) a whole special mapping of the ghost's? */
static bool ghost_special_mapping(struct dump_request *req, u64 from, u64 len)
{
	struct mm_struct *mm = get_task_mm(req->task);
	struct vm_area_struct *vma;
	bool ok;

	if (!mm)
		return false;
	mmap_read_lock(mm);
	vma = find_vma(mm, from);
	ok = vma && vma->vm_start == from && vma->vm_end == from + len &&
	     !vma->vm_file && (vma->vm_flags & VM_DONTEXPAND);
	mmap_read_unlock(mm);
	mmput(mm);
	return ok;
}

long ghost_ioctl_mremap(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_mremap a;
	long ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (!a.len || !PAGE_ALIGNED(a.from) || !PAGE_ALIGNED(a.len) ||
	    !PAGE_ALIGNED(a.to) || a.to + a.len < a.to ||
	    a.to + a.len > TASK_SIZE_MAX || a.from + a.len < a.from)
		return -EINVAL;
	if (READ_ONCE(req->decision) != DECIDE_GHOST ||
	    !ghost_special_mapping(req, a.from, a.len))
		return -EINVAL;
	if (a.from == a.to)
		return 0;
	spin_lock(&req->ghost_lock);
	req->ghost_call_mremap[0] = a.from;
	req->ghost_call_mremap[1] = a.len;
	req->ghost_call_mremap[2] = a.to;
	spin_unlock(&req->ghost_lock);
	ret = ghost_call(req, GHOST_CALL_MREMAP, 0, NULL);
	if (ret < 0)
		return ret;
	return (u64)ret == a.to ? 0 : -EINVAL;
}

/*
 * A thread made for the ghost's restore: before it runs a user instruction
 * of its own (it pauses in the stub), it waits to be a thread of the image
 * (bproc_restore_thread, as BPROC_IOC_RESTORE_THREAD); restored, it goes on
 * as that thread, else it ends.
 */
struct ghost_thread_work {
	struct callback_head work;
	struct dump_request *req; /* GHOST_THREAD_NOW: its, with a reference */
};

static void ghost_thread_work(struct callback_head *work)
{
	struct ghost_thread_work *w =
		container_of(work, struct ghost_thread_work, work);
	struct dump_request *req = w->req;
	struct cred *cred;

	kfree(w);
	if (current->flags & PF_EXITING) {
		if (req)
			dump_request_put(req);
		goto out;
	}
	if (req) {
		/*
		 * A ghost thread from now on: it runs no user instruction
		 * again unless it becomes an image's thread, which takes the
		 * image's credentials; not the one its tid took meanwhile.
		 */
		cred = prepare_creds();
		if (cred) {
			cap_lower(cred->cap_effective, CAP_CHECKPOINT_RESTORE);
			cap_lower(cred->cap_permitted, CAP_CHECKPOINT_RESTORE);
			commit_creds(cred);
		}
		ghost_kept_park(req); /* takes the reference */
		goto out;
	}
	if (bproc_restore_thread() && ghost_thread_exit())
		force_sig(SIGKILL);
out:
	module_put(THIS_MODULE);
}

/* Has the ghost a thread of @tid, whatever it is doing? */
static bool ghost_has_thread(struct dump_request *req, pid_t tid)
{
	struct task_struct *t;
	bool has;

	rcu_read_lock();
	t = pid_task(find_pid_ns(tid, task_active_pid_ns(req->task)),
		     PIDTYPE_PID);
	has = t && same_thread_group(t, req->task);
	rcu_read_unlock();
	return has;
}

long ghost_ioctl_thread(struct dump_request *req, void __user *argp)
{
	const u32 flags = BPROC_GHOST_THREAD_NOW | BPROC_GHOST_THREAD_END;
	struct bproc_ghost_thread a;
	struct ghost_thread_work *w;
	struct task_struct *task;
	struct pid *pid;
	long nr;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~flags || a.flags == flags || a.tid <= 1 ||
	    (a.flags && !req->ghost_keep_threads))
		return -EINVAL;
	if (READ_ONCE(req->decision) == DECIDE_GHOST) {
		if (a.flags & BPROC_GHOST_THREAD_END)
			return ghost_kept_ask(req, a.tid, a.flags) ? 0 : -ESRCH;
		/* NOW: nothing if it has a thread of that tid, kept or not yet */
		if (a.flags & BPROC_GHOST_THREAD_NOW ?
			    ghost_has_thread(req, a.tid) :
			    ghost_kept_ask(req, a.tid, a.flags))
			return 0;
	}
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	nr = ghost_call(req, GHOST_CALL_THREAD, a.tid, NULL);
	if (nr < 0) {
		kfree(w);
		return nr;
	}
	rcu_read_lock();
	pid = get_pid(find_pid_ns(nr, task_active_pid_ns(req->task)));
	rcu_read_unlock();
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!task || !same_thread_group(task, req->task)) {
		if (task)
			put_task_struct(task);
		kfree(w);
		return -ESRCH;
	}
	if (a.flags & BPROC_GHOST_THREAD_NOW) {
		kref_get(&req->ref);
		w->req = req;
	}
	__module_get(THIS_MODULE);
	init_task_work(&w->work, ghost_thread_work);
	if (task_work_add(task, &w->work, TWA_SIGNAL)) {
		module_put(THIS_MODULE);
		if (w->req)
			dump_request_put(w->req);
		kfree(w);
		put_task_struct(task);
		return -ESRCH;
	}
	put_task_struct(task);
	return 0;
}

long ghost_ioctl_pgrp(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_pgrp a;
	long ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~BPROC_GHOST_SETSID || a.pgid <= 0)
		return -EINVAL;
	ret = ghost_call(req,
			 a.flags & BPROC_GHOST_SETSID ? GHOST_CALL_SETSID :
							GHOST_CALL_SETPGID,
			 a.pgid, NULL);
	return ret < 0 ? ret : 0;
}

long ghost_ioctl_reap(struct dump_request *req, void __user *argp)
{
	struct bproc_ghost_reap a;
	long ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.pad || a.pid <= 0)
		return -EINVAL;
	ret = ghost_call(req, GHOST_CALL_REAP, a.pid, NULL);
	if (ret == 0)
		return -EAGAIN; /* not ended yet */
	return ret < 0 ? ret : 0;
}
