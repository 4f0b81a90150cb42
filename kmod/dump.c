// SPDX-License-Identifier: GPL-2.0
/*
 * dump.c - write a process's image (include/bproc/image.h).
 *
 * The dump runs in two phases. First it collects every piece of structure
 * (registers, FPU state, signal state, the mm layout, the mapping list with
 * paths, the open files, and the page map) into kernel memory, refusing with
 * -EOPNOTSUPP and a reason anything that cannot move; nothing is written
 * until this phase has succeeded. Then it writes the header and the sections
 * and streams the page contents straight from the process's pages to the
 * output file (a bio_vec iterator over pinned pages, up to DUMP_BATCH pages a
 * write), so no image is ever buffered whole.
 *
 * Zero pages are skipped cheaply: get_user_pages with FOLL_DUMP fails on
 * pages that were never touched, without faulting them in, and a touched
 * page whose bytes are all zero is left out after one memchr_inv.
 *
 * A process with threads (BPROC_DUMP_THREADS) is dumped by its main thread
 * once every other one is parked and has recorded its own state
 * (threads.c, bproc_dump_thread below); the records go into THREADS. With
 * BPROC_DUMP_SHANON shared anonymous memory that only this process maps
 * goes by content, as private anonymous memory does (BPROC_VMA_SHANON).
 * With BPROC_DUMP_ANONFDS the kernel objects the process has open
 * (eventfd, timerfd, signalfd, epoll, memfd: fds.c reads them) go into FDS,
 * a memfd's content into MEMFD, and a shared mapping of a memfd refers to
 * its FDS entry (BPROC_VMA_MEMFD): as with shared anonymous memory, only
 * when nobody else holds the object.
 *
 * The program's file itself goes into EXEFILE, read from mm->exe_file
 * (dump_exefile), when it goes whole (BPROC_DUMP_EXEC) or has no path that
 * reopens it: a deleted file, or the in-memory file an earlier restore made
 * (restore.c), so that /proc/PID/exe names the program wherever it lands;
 * up to BPROC_IMAGE_MAX_EXEFILE bytes, refused beyond.
 */
#include <linux/bvec.h>
#include <linux/crc32.h>
#include <linux/cred.h>
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/highmem.h>
#include <linux/kallsyms.h>
#include <linux/major.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/regset.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uio.h>
#include <linux/utsname.h>
#include <linux/vmalloc.h>
#include <asm/fpu/xcr.h>

#include "engine.h"

#define DUMP_BATCH 512 /* pages pinned and written at a time */

struct dump_ctx {
	struct task_struct *task;
	struct mm_struct *mm;
	struct file *out;
	loff_t pos;
	u64 written;
	u32 flags;
	char *reason;
	char *pathbuf; /* PATH_MAX scratch for d_path */

	struct bproc_image_core core;
	void *xstate;
	u32 xstate_size;

	struct bproc_image_signals sig;
	struct bproc_image_siginfo *pending;

	struct bproc_image_mm mmi;

	struct bproc_image_vma *vmas;
	bool *scan; /* per vma: may hold pages that go into the image */
	u32 nr_vmas;

	char *paths;
	u32 paths_len, paths_cap, last_path;

	struct bproc_image_taskenv env;
	u32 *groups;
	struct bproc_image_file *files;

	struct bproc_image_pagemap *runs;
	u32 nr_runs, runs_cap;
	u64 nr_pages;

	/* The other threads, parked, as each recorded itself (threads.c). */
	struct bproc_thread_rec **threads;
	u32 nr_threads;
	u64 threads_size; /* bytes of the THREADS payload */

	/* BPROC_DUMP_ANONFDS: FDS entries, each with its file held. */
	struct bproc_image_fd *fds;
	struct file **fd_files;
	u32 nr_fds;
	struct bproc_image_epoll_target *targets;
	u32 nr_targets;
	struct file **memfds; /* mapped shared; their vmas' path: index */
	u32 nr_memfds;
	u64 memfd_bytes; /* of the MEMFD payload */
	int top_fd; /* the highest fd open */

	/* EXEFILE: the program's file, held, or NULL. */
	struct file *exe_file;
	struct bproc_image_exefile exe;
};

/* Append @s to PATHS (reusing the previous entry when equal). */
static int dump_add_path(struct dump_ctx *ctx, const char *s, u32 *off)
{
	size_t len = strlen(s) + 1;

	if (ctx->last_path != BPROC_IMAGE_NO_PATH &&
	    !strcmp(ctx->paths + ctx->last_path, s)) {
		*off = ctx->last_path;
		return 0;
	}
	if (ctx->paths_len + len > BPROC_IMAGE_MAX_PATHS) {
		bproc_reason(ctx->reason, "too many file paths");
		return -EOPNOTSUPP;
	}
	if (ctx->paths_len + len > ctx->paths_cap) {
		u32 cap = max_t(u32, ctx->paths_cap * 2, ctx->paths_len + len);
		char *p =
			kvrealloc(ctx->paths, ctx->paths_cap, cap, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		ctx->paths = p;
		ctx->paths_cap = cap;
	}
	memcpy(ctx->paths + ctx->paths_len, s, len);
	*off = ctx->paths_len;
	ctx->last_path = ctx->paths_len;
	ctx->paths_len += len;
	return 0;
}

/* The path of @path for the image, or an error if it cannot be reopened. */
static int dump_path(struct dump_ctx *ctx, const struct path *path,
		     const char *what, u32 *off)
{
	char *p;

	if (d_unlinked(path->dentry)) {
		bproc_reason(ctx->reason, "%s is a deleted file", what);
		return -EOPNOTSUPP;
	}
	p = d_path(path, ctx->pathbuf, PATH_MAX);
	if (IS_ERR(p) || p[0] != '/') {
		bproc_reason(ctx->reason, "%s has no path", what);
		return -EOPNOTSUPP;
	}
	return dump_add_path(ctx, p, off);
}

/*
 * A file with no path that reopens it: deleted, or of a kernel-internal
 * filesystem (a memfd, the in-memory program file of a restore), whose
 * d_path is a made-up "/NAME (deleted)".
 */
static bool dump_pathless(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;

	return d_unlinked(dentry) || (dentry->d_op && dentry->d_op->d_dname);
}

/*
 * EXEFILE: the program's file, when it goes whole or has no path to
 * reopen, with its path as Linux shows it but without " (deleted)".
 */
static int dump_exefile(struct dump_ctx *ctx)
{
	static const char deleted[] = " (deleted)";
	struct file *f;
	size_t len;
	loff_t size;
	char *p;

	rcu_read_lock();
	f = rcu_dereference(ctx->mm->exe_file);
	if (f && !get_file_rcu(f))
		f = NULL;
	rcu_read_unlock();
	if (!f)
		return 0;
	if (!(ctx->flags & BPROC_DUMP_EXEC) && !dump_pathless(f)) {
		fput(f);
		return 0;
	}
	ctx->exe_file = f;
	size = i_size_read(file_inode(f));
	if (!S_ISREG(file_inode(f)->i_mode) || size < 0) {
		bproc_reason(ctx->reason, "its program is not a regular file");
		return -EOPNOTSUPP;
	}
	if (size > BPROC_IMAGE_MAX_EXEFILE) {
		bproc_reason(
			ctx->reason,
			"its program is %lld bytes, over the %u MiB an image carries (BPROC_IMAGE_MAX_EXEFILE)",
			(long long)size, BPROC_IMAGE_MAX_EXEFILE >> 20);
		return -EOPNOTSUPP;
	}
	p = d_path(&f->f_path, ctx->pathbuf, PATH_MAX);
	if (IS_ERR(p) || p[0] != '/') {
		bproc_reason(ctx->reason, "its program has no path");
		return -EOPNOTSUPP;
	}
	len = strlen(p);
	if (dump_pathless(f) && len > sizeof(deleted) - 1 &&
	    !strcmp(p + len - (sizeof(deleted) - 1), deleted))
		p[len - (sizeof(deleted) - 1)] = '\0';
	ctx->exe.size = size;
	ctx->exe.mode = file_inode(f)->i_mode;
	return dump_add_path(ctx, p, &ctx->exe.path);
}

static const struct user_regset *dump_find_regset(struct task_struct *task,
						  unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(task);
	int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

/*
 * A system call the kernel goes on with through restart_syscall(2) (after
 * a stop, say: nanosleep, poll and futex waits with a timeout) keeps what
 * it was doing in the task's restart_block, which does not move: the image
 * names the call itself instead, its arguments still in the registers, so
 * that it restarts where the process lands as any interrupted call does
 * (with its full duration). Which call, only the restart function's name
 * says (the functions are not exported).
 */
static void dump_restart_call(struct task_struct *task,
			      struct bproc_image_regs *regs)
{
	char name[KSYM_SYMBOL_LEN];

	if ((long)regs->orig_ax != __NR_restart_syscall)
		return;
	sprint_symbol_no_offset(name, (unsigned long)task->restart_block.fn);
	if (!strcmp(name, "hrtimer_nanosleep_restart"))
		/* clock_nanosleep(clockid, ...) or nanosleep(rqtp, ...) */
		regs->orig_ax =
			regs->di < 64 ? __NR_clock_nanosleep : __NR_nanosleep;
	else if (!strcmp(name, "posix_cpu_nsleep_restart") ||
		 !strcmp(name, "alarm_timer_nsleep_restart"))
		regs->orig_ax = __NR_clock_nanosleep;
	else if (!strcmp(name, "do_restart_poll"))
		regs->orig_ax = __NR_poll;
	else if (!strcmp(name, "futex_wait_restart"))
		regs->orig_ax = __NR_futex;
	else
		return; /* nothing to go on with: EINTR, as here */
	regs->ax = -ERESTARTNOHAND;
}

/*
 * The general registers and FPU state of @task (the caller itself, or a
 * task that does not run), into @regs and a new buffer in @xstate.
 */
static int dump_regs(struct task_struct *task, struct bproc_image_regs *regs,
		     void **xstate, u32 *xstate_size, u32 *kind, u64 *xcr0,
		     char *reason)
{
	const struct user_regset *rs;
	int ret;

	ret = bproc_dump_64bit(task, reason);
	if (ret)
		return ret;
	rs = dump_find_regset(task, NT_PRSTATUS);
	if (!rs || rs->n * rs->size != sizeof(*regs))
		return -EINVAL;
	ret = regset_get(task, rs, sizeof(*regs), regs);
	if (ret < 0)
		return ret;
	dump_restart_call(task, regs);

	rs = NULL;
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		rs = dump_find_regset(task, NT_X86_XSTATE);
	if (rs) {
		*kind = BPROC_XSTATE_XSAVE;
		*xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	} else {
		rs = dump_find_regset(task, NT_PRFPREG);
		*kind = BPROC_XSTATE_FXSAVE;
	}
	if (!rs || rs->n * rs->size > BPROC_IMAGE_MAX_XSTATE)
		return -EINVAL;
	*xstate_size = rs->n * rs->size;
	*xstate = kzalloc(*xstate_size, GFP_KERNEL);
	if (!*xstate)
		return -ENOMEM;
	ret = regset_get(task, rs, *xstate_size, *xstate);
	return ret < 0 ? ret : 0;
}

static int dump_registers(struct dump_ctx *ctx)
{
	struct task_struct *task = ctx->task;
	int ret;

	ret = dump_regs(task, &ctx->core.regs, &ctx->xstate, &ctx->xstate_size,
			&ctx->core.xstate_kind, &ctx->core.xcr0, ctx->reason);
	if (ret)
		return ret;
	ctx->core.rseq = (unsigned long)task->rseq;
	ctx->core.rseq_len = task->rseq ? sizeof(struct rseq) : 0;
	ctx->core.rseq_sig = task->rseq_sig;
	ctx->core.clear_child_tid = (unsigned long)task->clear_child_tid;
	ctx->core.robust_list = (unsigned long)task->robust_list;
	ctx->core.personality = task->personality;
	ctx->core.pid = task_pid_vnr(task);
	__get_task_comm(ctx->core.comm, sizeof(ctx->core.comm), task);
	return 0;
}

static void dump_one_siginfo(struct bproc_image_siginfo *out,
			     const kernel_siginfo_t *info)
{
	BUILD_BUG_ON(sizeof(kernel_siginfo_t) != sizeof(out->info));
	out->signo = info->si_signo;
	memcpy(out->info, info, sizeof(out->info));
}

/*
 * Append the signals of @list to @out (@n of @max used), each with
 * @flags; the caller holds the siglock. -EOPNOTSUPP if more than @max.
 */
static int dump_pending(struct sigpending *list, u32 flags,
			struct bproc_image_siginfo *out, u32 *n, u32 max)
{
	struct sigqueue *q;
	u64 seen = 0;
	int i;

	list_for_each_entry(q, &list->list, list)
	{
		int s = q->info.si_signo;

		if (s < 1 || s > _NSIG)
			continue;
		if (*n == max)
			return -EOPNOTSUPP;
		dump_one_siginfo(&out[*n], &q->info);
		out[(*n)++].flags = flags;
		seen |= 1ULL << (s - 1);
	}
	/* Pending without a queue entry: record as sent by the kernel. */
	for (i = 1; i <= _NSIG; i++) {
		kernel_siginfo_t info = {};

		if (!sigismember(&list->signal, i) ||
		    (seen & (1ULL << (i - 1))))
			continue;
		if (*n == max)
			return -EOPNOTSUPP;
		info.si_signo = i;
		info.si_code = SI_KERNEL;
		dump_one_siginfo(&out[*n], &info);
		out[(*n)++].flags = flags;
	}
	return 0;
}

/* The mask outside sigsuspend & co; the caller holds the siglock. */
static u64 dump_blocked(struct task_struct *task)
{
	if (test_tsk_restore_sigmask(task))
		return task->saved_sigmask.sig[0];
	return task->blocked.sig[0];
}

static int dump_signals(struct dump_ctx *ctx)
{
	struct task_struct *task = ctx->task;
	struct sighand_struct *sighand = task->sighand;
	struct bproc_image_signals *sig = &ctx->sig;
	u32 max = BPROC_IMAGE_MAX_PENDING, n = 0;
	int i, ret;

	ctx->pending = kvcalloc(max, sizeof(*ctx->pending), GFP_KERNEL);
	if (!ctx->pending)
		return -ENOMEM;

	spin_lock_irq(&sighand->siglock);
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sighand->action[i].sa;

		sig->action[i].handler = (unsigned long)sa->sa_handler;
		sig->action[i].flags = sa->sa_flags;
		sig->action[i].restorer = (unsigned long)sa->sa_restorer;
		sig->action[i].mask = sa->sa_mask.sig[0];
	}
	sig->blocked = dump_blocked(task);
	/* This thread's own, then the whole process's. */
	ret = dump_pending(&task->pending, 0, ctx->pending, &n, max);
	if (!ret)
		ret = dump_pending(&task->signal->shared_pending,
				   BPROC_SIGINFO_SHARED, ctx->pending, &n, max);
	spin_unlock_irq(&sighand->siglock);
	if (ret) {
		bproc_reason(ctx->reason, "more than %u pending signals", max);
		return ret;
	}
	sig->nr_pending = n;
	sig->sas_ss_sp = task->sas_ss_sp;
	sig->sas_ss_size = task->sas_ss_size;
	sig->sas_ss_flags = task->sas_ss_flags;
	return 0;
}

int bproc_dump_thread(struct bproc_thread_rec *rec, char *reason)
{
	struct task_struct *task = current;
	struct bproc_image_thread *t = &rec->t;
	u32 max = BPROC_IMAGE_MAX_PENDING, kind, n = 0;
	u64 xcr0;
	int ret;

	ret = dump_regs(task, &t->regs, &rec->xstate, &rec->xstate_size, &kind,
			&xcr0, reason);
	if (ret)
		return ret;
	t->tid = task_pid_vnr(task);
	t->rseq = (unsigned long)task->rseq;
	t->rseq_len = task->rseq ? sizeof(struct rseq) : 0;
	t->rseq_sig = task->rseq_sig;
	t->clear_child_tid = (unsigned long)task->clear_child_tid;
	t->robust_list = (unsigned long)task->robust_list;
	t->sas_ss_sp = task->sas_ss_sp;
	t->sas_ss_size = task->sas_ss_size;
	t->sas_ss_flags = task->sas_ss_flags;
	__get_task_comm(t->comm, sizeof(t->comm), task);

	rec->pending = kvcalloc(max, sizeof(*rec->pending), GFP_KERNEL);
	if (!rec->pending)
		return -ENOMEM;
	spin_lock_irq(&task->sighand->siglock);
	t->blocked = dump_blocked(task);
	ret = dump_pending(&task->pending, 0, rec->pending, &n, max);
	spin_unlock_irq(&task->sighand->siglock);
	if (ret) {
		bproc_reason(reason, "thread %d: more than %u pending signals",
			     t->tid, max);
		return ret;
	}
	t->nr_pending = n;
	return 0;
}

static const char *dump_special_name(struct vm_area_struct *vma)
{
	if (vma->vm_ops && vma->vm_ops->name)
		return vma->vm_ops->name(vma);
	return NULL;
}

/* Why a shared file mapping or open file cannot move, or NULL. */
static const char *dump_unmovable_file(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;
	struct inode *inode = file_inode(file);
	const char *name = dentry->d_name.name;

	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		return "a device";
	if (S_ISSOCK(inode->i_mode))
		return "a socket";
	if (S_ISFIFO(inode->i_mode))
		return "a pipe";
	/* Files of the kernel's pseudo filesystems have no path to reopen. */
	if (dentry->d_op && dentry->d_op->d_dname) {
		if (!strncmp(name, "SYSV", 4))
			return "SysV shared memory";
		if (!strcmp(name, "dev/zero"))
			return "shared anonymous memory";
		return bproc_fd_what(file) ?: "an anonymous file";
	}
	if (!S_ISREG(inode->i_mode) && !S_ISDIR(inode->i_mode))
		return "not a regular file";
	return NULL;
}

static bool dump_file_in(struct inode **set, u32 n, struct inode *inode)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (set[i] == inode)
			return true;
	return false;
}

/*
 * Shared anonymous memory (BPROC_DUMP_SHANON) moves by content, as a
 * mapping of its own, when nobody else has it: every reference to its file
 * is one of this process's mappings (a child that shares it holds one
 * more), and no page of it is mapped twice here.
 */
static int dump_shanon(struct dump_ctx *ctx, struct vm_area_struct *vma,
		       const char *what)
{
	struct vm_area_struct *o;
	long refs = 0;
	VMA_ITERATOR(vmi, ctx->mm, 0);

	for_each_vma(vmi, o)
	{
		if (o->vm_file != vma->vm_file)
			continue;
		refs++;
		if (o != vma && o->vm_pgoff < vma->vm_pgoff + vma_pages(vma) &&
		    vma->vm_pgoff < o->vm_pgoff + vma_pages(o)) {
			bproc_reason(
				ctx->reason,
				"%s is shared anonymous memory mapped twice",
				what);
			return -EOPNOTSUPP;
		}
	}
	if (file_count(vma->vm_file) != refs) {
		bproc_reason(
			ctx->reason,
			"%s is shared anonymous memory another process has",
			what);
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * A shared mapping of a memfd (BPROC_DUMP_ANONFDS) refers to the memfd's
 * FDS entry, which dump_resolve_fds() makes or finds; until then its path
 * is its index in ctx->memfds.
 */
static int dump_memfd_vma(struct dump_ctx *ctx, struct vm_area_struct *vma,
			  struct bproc_image_vma *v)
{
	u32 i;

	if (!ctx->memfds) {
		ctx->memfds = kvcalloc(ctx->nr_vmas, sizeof(*ctx->memfds),
				       GFP_KERNEL);
		if (!ctx->memfds)
			return -ENOMEM;
	}
	for (i = 0; i < ctx->nr_memfds; i++)
		if (ctx->memfds[i] == vma->vm_file)
			break;
	if (i == ctx->nr_memfds) {
		if (i == BPROC_IMAGE_MAX_FDS) {
			bproc_reason(ctx->reason, "more than %u memfds mapped",
				     BPROC_IMAGE_MAX_FDS);
			return -EOPNOTSUPP;
		}
		ctx->memfds[ctx->nr_memfds++] = get_file(vma->vm_file);
	}
	v->kind = BPROC_VMA_MEMFD;
	v->flags |= BPROC_VMA_SHARED;
	if (vma->vm_file->f_mode & FMODE_WRITE)
		v->flags |= BPROC_VMA_MAYWRITE;
	v->path = i;
	return 0;
}

/* Classify every mapping; the caller holds the mmap lock for reading. */
static int dump_vmas_locked(struct dump_ctx *ctx, struct inode **libs)
{
	struct mm_struct *mm = ctx->mm;
	struct inode *exe = NULL;
	struct vm_area_struct *vma;
	struct file *exe_file;
	u32 nr_libs = 0, n = 0;
	char what[48];
	int ret;
	VMA_ITERATOR(vmi, mm, 0);

	if (mm->map_count > BPROC_IMAGE_MAX_VMAS) {
		bproc_reason(ctx->reason, "more than %u mappings",
			     BPROC_IMAGE_MAX_VMAS);
		return -EOPNOTSUPP;
	}
	rcu_read_lock();
	exe_file = rcu_dereference(mm->exe_file);
	if (exe_file)
		exe = file_inode(exe_file);
	rcu_read_unlock();

	/* Libraries: files that are mapped executable somewhere. */
	for_each_vma(vmi, vma)
	{
		struct inode *inode;

		if (!vma->vm_file || !(vma->vm_flags & VM_EXEC))
			continue;
		inode = file_inode(vma->vm_file);
		if (inode != exe && !dump_file_in(libs, nr_libs, inode) &&
		    nr_libs < BPROC_IMAGE_MAX_VMAS)
			libs[nr_libs++] = inode;
	}

	vma_iter_init(&vmi, mm, 0);
	for_each_vma(vmi, vma)
	{
		struct bproc_image_vma *v = &ctx->vmas[n];
		unsigned long fl = vma->vm_flags;
		const char *special = dump_special_name(vma);
		const char *why;

		if (n == ctx->nr_vmas)
			return -EAGAIN;
		memset(v, 0, sizeof(*v));
		v->start = vma->vm_start;
		v->end = vma->vm_end;
		v->pgoff = vma->vm_pgoff;
		v->prot = ((fl & VM_READ) ? BPROC_PROT_READ : 0) |
			  ((fl & VM_WRITE) ? BPROC_PROT_WRITE : 0) |
			  ((fl & VM_EXEC) ? BPROC_PROT_EXEC : 0);
		v->path = BPROC_IMAGE_NO_PATH;
		if (fl & VM_GROWSDOWN)
			v->flags |= BPROC_VMA_GROWSDOWN;
		if (fl & VM_NORESERVE)
			v->flags |= BPROC_VMA_NORESERVE;
		snprintf(what, sizeof(what), "mapping at %lx", vma->vm_start);

		if (special && !strcmp(special, "[vdso]") &&
		    vma->vm_start == (unsigned long)mm->context.vdso) {
			v->kind = BPROC_VMA_VDSO;
			ctx->mmi.vdso_start = v->start;
			ctx->mmi.vdso_end = v->end;
		} else if (special && !strcmp(special, "[vvar]")) {
			v->kind = BPROC_VMA_VVAR;
			ctx->mmi.vvar_start = v->start;
			ctx->mmi.vvar_end = v->end;
		} else if (special) {
			bproc_reason(ctx->reason, "%s is special (%s)", what,
				     special);
			return -EOPNOTSUPP;
		} else if (fl & (VM_IO | VM_PFNMAP | VM_MIXEDMAP)) {
			bproc_reason(ctx->reason, "%s is a device mapping",
				     what);
			return -EOPNOTSUPP;
		} else if (fl & VM_HUGETLB) {
			bproc_reason(ctx->reason, "%s is hugetlbfs memory",
				     what);
			return -EOPNOTSUPP;
		} else if (fl & VM_SHARED || fl & VM_MAYSHARE) {
			if (!vma->vm_file) {
				bproc_reason(ctx->reason,
					     "%s is shared anonymous memory",
					     what);
				return -EOPNOTSUPP;
			}
			why = dump_unmovable_file(vma->vm_file);
			if (ctx->flags & BPROC_DUMP_ANONFDS &&
			    bproc_fd_kind(vma->vm_file) == BPROC_FD_MEMFD) {
				ret = dump_memfd_vma(ctx, vma, v);
				if (ret)
					return ret;
				ctx->scan[n++] = false; /* content: MEMFD */
				continue;
			}
			if (why && !strcmp(why, "shared anonymous memory") &&
			    ctx->flags & BPROC_DUMP_SHANON) {
				ret = dump_shanon(ctx, vma, what);
				if (ret)
					return ret;
				v->kind = BPROC_VMA_SHANON;
				v->flags |= BPROC_VMA_SHARED;
				ctx->scan[n++] = true;
				continue;
			}
			if (why || !S_ISREG(file_inode(vma->vm_file)->i_mode)) {
				bproc_reason(ctx->reason, "%s is %s", what,
					     why ?: "not a regular file");
				return -EOPNOTSUPP;
			}
			ret = dump_path(ctx, &vma->vm_file->f_path, what,
					&v->path);
			if (ret)
				return ret;
			v->kind = BPROC_VMA_FILE;
			v->flags |= BPROC_VMA_SHARED;
			if (vma->vm_file->f_mode & FMODE_WRITE)
				v->flags |= BPROC_VMA_MAYWRITE;
		} else if (vma_is_anonymous(vma)) {
			v->kind = BPROC_VMA_ANON;
		} else {
			struct inode *inode = file_inode(vma->vm_file);
			bool content;

			if (!S_ISREG(inode->i_mode)) {
				bproc_reason(ctx->reason, "%s maps a device",
					     what);
				return -EOPNOTSUPP;
			}
			if (inode == exe) {
				content = ctx->flags & BPROC_DUMP_EXEC;
				v->flags |= BPROC_VMA_EXE;
			} else if (dump_file_in(libs, nr_libs, inode))
				content = ctx->flags & BPROC_DUMP_LIBS;
			else
				content = ctx->flags & BPROC_DUMP_OTHER;
			/* A deleted file cannot be reopened: carry it whole. */
			if (d_unlinked(vma->vm_file->f_path.dentry))
				content = true;
			else {
				ret = dump_path(ctx, &vma->vm_file->f_path,
						what, &v->path);
				if (ret)
					return ret;
			}
			v->kind = content ? BPROC_VMA_CONTENT : BPROC_VMA_FILE;
		}
		/*
		 * Anonymous pages exist only where an anon_vma does: memory
		 * never written (a PROT_NONE reserve, untouched text) needs no
		 * scan. Content mappings read their file too.
		 */
		ctx->scan[n] = v->kind == BPROC_VMA_CONTENT ||
			       ((v->kind == BPROC_VMA_ANON ||
				 (v->kind == BPROC_VMA_FILE &&
				  !(v->flags & BPROC_VMA_SHARED))) &&
				vma->anon_vma);
		n++;
	}
	ctx->nr_vmas = n;
	if (!ctx->mmi.vdso_start) {
		bproc_reason(ctx->reason, "the process has no vDSO");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int dump_mm_layout(struct dump_ctx *ctx)
{
	struct mm_struct *mm = ctx->mm;
	struct bproc_image_mm *m = &ctx->mmi;
	struct inode **libs;
	int ret, i;

	ctx->nr_vmas =
		min_t(u32, READ_ONCE(mm->map_count) + 8, BPROC_IMAGE_MAX_VMAS);
	ctx->vmas = kvcalloc(ctx->nr_vmas, sizeof(*ctx->vmas), GFP_KERNEL);
	ctx->scan = kvcalloc(ctx->nr_vmas, sizeof(*ctx->scan), GFP_KERNEL);
	libs = kvcalloc(ctx->nr_vmas, sizeof(*libs), GFP_KERNEL);
	if (!ctx->vmas || !ctx->scan || !libs) {
		kvfree(libs);
		return -ENOMEM;
	}

	mmap_read_lock(mm);
	m->start_code = mm->start_code;
	m->end_code = mm->end_code;
	m->start_data = mm->start_data;
	m->end_data = mm->end_data;
	m->start_brk = mm->start_brk;
	m->brk = mm->brk;
	m->start_stack = mm->start_stack;
	spin_lock(&mm->arg_lock);
	m->arg_start = mm->arg_start;
	m->arg_end = mm->arg_end;
	m->env_start = mm->env_start;
	m->env_end = mm->env_end;
	spin_unlock(&mm->arg_lock);
	for (i = 0; i + 1 < AT_VECTOR_SIZE && i + 1 < BPROC_IMAGE_MAX_AUXV;
	     i += 2) {
		m->auxv[i] = mm->saved_auxv[i];
		m->auxv[i + 1] = mm->saved_auxv[i + 1];
		if (mm->saved_auxv[i] == AT_NULL)
			break;
	}
	m->nr_auxv = min(i + 2, BPROC_IMAGE_MAX_AUXV);
	ret = dump_vmas_locked(ctx, libs);
	mmap_read_unlock(mm);
	kvfree(libs);
	if (ret)
		return ret;
	return bproc_vdso_crc(ctx->task, m->vdso_start,
			      m->vdso_end - m->vdso_start, &m->vdso_crc);
}

int bproc_vdso_crc(struct task_struct *task, unsigned long start,
		   unsigned long len, u32 *crc)
{
	void *buf;
	int ret = 0;

	if (!len || len > 64 * PAGE_SIZE)
		return -EINVAL;
	buf = kvmalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (access_process_vm(task, start, buf, len, FOLL_FORCE) != len)
		ret = -EFAULT;
	else
		*crc = crc32_le(0, buf, len);
	kvfree(buf);
	return ret;
}

static int dump_add_run(struct dump_ctx *ctx, unsigned long addr)
{
	struct bproc_image_pagemap *r =
		ctx->nr_runs ? &ctx->runs[ctx->nr_runs - 1] : NULL;

	ctx->nr_pages++;
	if (r && r->vaddr + r->nr_pages * PAGE_SIZE == addr) {
		r->nr_pages++;
		return 0;
	}
	if (ctx->nr_runs == BPROC_IMAGE_MAX_RUNS) {
		bproc_reason(ctx->reason, "memory too fragmented");
		return -EOPNOTSUPP;
	}
	if (ctx->nr_runs == ctx->runs_cap) {
		u32 cap = max_t(u32, 64, ctx->runs_cap * 2);
		void *p = kvrealloc(ctx->runs, ctx->runs_cap * sizeof(*r),
				    cap * sizeof(*r), GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		ctx->runs = p;
		ctx->runs_cap = cap;
	}
	ctx->runs[ctx->nr_runs].vaddr = addr;
	ctx->runs[ctx->nr_runs].nr_pages = 1;
	ctx->nr_runs++;
	return 0;
}

/*
 * Find the pages of one mapping that go into the image: present and not
 * all zero for anonymous memory and mappings carried by content, written
 * since mapped (anonymous copies) for a private file mapping.
 */
static int dump_scan_vma(struct dump_ctx *ctx, const struct bproc_image_vma *v,
			 struct page **pages)
{
	bool cow_only = v->kind == BPROC_VMA_FILE;
	unsigned long addr = v->start;
	int ret = 0;

	while (addr < v->end && !ret) {
		unsigned long nr = min_t(unsigned long, DUMP_BATCH,
					 (v->end - addr) >> PAGE_SHIFT);
		long got, i;

		if (fatal_signal_pending(current))
			return -EINTR;
		mmap_read_lock(ctx->mm);
		got = get_user_pages_remote(ctx->mm, addr, nr,
					    FOLL_FORCE | FOLL_DUMP, pages, NULL,
					    NULL);
		mmap_read_unlock(ctx->mm);
		if (got == -EFAULT) { /* a hole: never touched */
			addr += PAGE_SIZE;
			continue;
		}
		if (got <= 0)
			return got ? got : -EFAULT;
		for (i = 0; i < got; i++) {
			struct page *page = pages[i];
			bool keep;

			if (cow_only) {
				keep = PageAnon(page);
			} else {
				void *k = kmap_local_page(page);

				keep = memchr_inv(k, 0, PAGE_SIZE) != NULL;
				kunmap_local(k);
			}
			if (keep && !ret)
				ret = dump_add_run(ctx, addr + i * PAGE_SIZE);
			put_page(page);
		}
		addr += got * PAGE_SIZE;
		cond_resched();
	}
	return ret;
}

static int dump_pagemap(struct dump_ctx *ctx)
{
	struct page **pages;
	int ret = 0;
	u32 i;

	pages = kvmalloc_array(DUMP_BATCH, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < ctx->nr_vmas && !ret; i++)
		if (ctx->scan[i])
			ret = dump_scan_vma(ctx, &ctx->vmas[i], pages);
	kvfree(pages);
	return ret;
}

/* The file descriptor after @n (from @n), with a reference, or -1. */
static int dump_next_fd(struct task_struct *task, unsigned int n,
			struct file **filep)
{
	struct files_struct *files;
	int fd = -1;

	task_lock(task);
	files = task->files;
	if (files) {
		struct fdtable *fdt;
		unsigned int i;

		rcu_read_lock();
		fdt = files_fdtable(files);
		for (i = n; i < fdt->max_fds; i++) {
			struct file *f = rcu_dereference(fdt->fd[i]);

			if (f && get_file_rcu(f)) {
				*filep = f;
				fd = i;
				break;
			}
		}
		rcu_read_unlock();
	}
	task_unlock(task);
	return fd;
}

/*
 * With BPROC_DUMP_STREAMS, what whoever restores may have to provide: a
 * pipe, FIFO or socket, a character device (by path too when it has one:
 * /dev/null reopens anywhere), or a regular file that cannot be reopened
 * by path (deleted). Which of them are streams is for the caller to say.
 */
static bool dump_stream_candidate(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;
	struct dentry *dentry = file->f_path.dentry;

	if (S_ISFIFO(mode) || S_ISSOCK(mode) || S_ISCHR(mode))
		return true;
	return S_ISREG(mode) && !(dentry->d_op && dentry->d_op->d_dname) &&
	       d_unlinked(dentry);
}

/*
 * /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom: memory
 * devices that every machine has, reopened by path as a regular file is.
 */
static bool dump_memdev(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (!S_ISCHR(inode->i_mode) || imajor(inode) != MEM_MAJOR)
		return false;
	switch (iminor(inode)) {
	case 3: /* null */
	case 5: /* zero */
	case 7: /* full */
	case 8: /* random */
	case 9: /* urandom */
		return true;
	}
	return false;
}

static bool dump_fd_cloexec(struct task_struct *task, int fd)
{
	bool ret = false;

	task_lock(task);
	if (task->files) {
		rcu_read_lock();
		ret = close_on_exec(fd, files_fdtable(task->files));
		rcu_read_unlock();
	}
	task_unlock(task);
	return ret;
}

static int cmp_target(const void *a, const void *b)
{
	const struct bproc_image_epoll_target *x = a, *y = b;

	return x->tfd < y->tfd ? -1 : x->tfd > y->tfd;
}

/* A new FDS entry at @fd for @file, held; NULL (with @reason) if full. */
static struct bproc_image_fd *dump_new_fd(struct dump_ctx *ctx, int fd,
					  struct file *file)
{
	struct bproc_image_fd *e;

	if (!ctx->fds) {
		ctx->fds = kvcalloc(BPROC_IMAGE_MAX_FDS, sizeof(*ctx->fds),
				    GFP_KERNEL);
		ctx->fd_files = kvcalloc(BPROC_IMAGE_MAX_FDS,
					 sizeof(*ctx->fd_files), GFP_KERNEL);
		if (!ctx->fds || !ctx->fd_files)
			return ERR_PTR(-ENOMEM);
	}
	if (ctx->nr_fds == BPROC_IMAGE_MAX_FDS) {
		bproc_reason(ctx->reason, "more than %u kernel objects open",
			     BPROC_IMAGE_MAX_FDS);
		return ERR_PTR(-EOPNOTSUPP);
	}
	e = &ctx->fds[ctx->nr_fds];
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	ctx->fd_files[ctx->nr_fds++] = get_file(file);
	return e;
}

/* The state of @e's object; a memfd's name goes into PATHS. */
static int dump_fd_state(struct dump_ctx *ctx, struct bproc_image_fd *e,
			 struct file *file, u32 kind)
{
	if (bproc_fd_state(file, kind, e)) {
		bproc_reason(ctx->reason,
			     "fd %d is %s whose state cannot be read", e->fd,
			     bproc_fd_what(file));
		return -EOPNOTSUPP;
	}
	if (kind == BPROC_FD_MEMFD)
		return dump_add_path(ctx, file->f_path.dentry->d_name.name + 6,
				     &e->memfd.name);
	return 0;
}

/*
 * The targets of epoll @file at @fd: each must still be the file open at
 * the fd it was added as (checked here) and move too (dump_resolve_fds).
 */
static int dump_epoll(struct dump_ctx *ctx, int fd, struct file *file)
{
	struct bproc_image_epoll_target *t;
	struct bproc_fd_target *x;
	u32 i, nr, first = ctx->nr_targets;
	int ret = 0;

	if (bproc_fd_epoll_targets(file, &x, &nr)) {
		bproc_reason(
			ctx->reason,
			"fd %d is an epoll instance whose state cannot be read",
			fd);
		return -EOPNOTSUPP;
	}
	if (nr > BPROC_IMAGE_MAX_TARGETS - ctx->nr_targets) {
		bproc_reason(ctx->reason, "more than %u epoll targets",
			     BPROC_IMAGE_MAX_TARGETS);
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	t = kvrealloc(ctx->targets, ctx->nr_targets * sizeof(*t),
		      (ctx->nr_targets + nr) * sizeof(*t) ?: 1, GFP_KERNEL);
	if (!t) {
		ret = -ENOMEM;
		goto out_free;
	}
	ctx->targets = t;
	for (i = 0; i < nr && !ret; i++) {
		struct file *f = NULL;
		struct inode *inode;
		bool same;

		same = dump_next_fd(ctx->task, x[i].tfd, &f) == x[i].tfd;
		if (f) {
			inode = file_inode(f);
			same = same && inode->i_ino == x[i].ino &&
			       inode->i_sb->s_dev == x[i].sdev;
			fput(f);
		}
		if (!same) {
			bproc_reason(
				ctx->reason,
				"fd %d is an epoll instance watching a file no longer open at fd %d",
				fd, x[i].tfd);
			ret = -EOPNOTSUPP;
			break;
		}
		t = &ctx->targets[ctx->nr_targets++];
		memset(t, 0, sizeof(*t));
		t->epfd = fd;
		t->tfd = x[i].tfd;
		t->events = x[i].events;
		t->data = x[i].data;
	}
	if (!ret)
		sort(ctx->targets + first, ctx->nr_targets - first, sizeof(*t),
		     cmp_target, NULL);
out_free:
	kvfree(x);
	return ret;
}

/* A kernel object open at @fd (BPROC_DUMP_ANONFDS) into FDS. */
static int dump_anon_fd(struct dump_ctx *ctx, int fd, struct file *file,
			u32 kind)
{
	struct bproc_image_fd *e;
	int ret;

	/*
	 * Nobody else may hold it: the fd table holds one reference and
	 * dump_next_fd() one. A memfd's mappings hold more: it is checked
	 * in dump_resolve_fds().
	 */
	if (kind != BPROC_FD_MEMFD && file_count(file) != 2) {
		bproc_reason(
			ctx->reason,
			"fd %d is %s another process or descriptor has too", fd,
			bproc_fd_what(file));
		return -EOPNOTSUPP;
	}
	e = dump_new_fd(ctx, fd, file);
	if (IS_ERR(e))
		return PTR_ERR(e);
	if (dump_fd_cloexec(ctx->task, fd))
		e->fd_flags |= BPROC_FD_CLOEXEC;
	ret = dump_fd_state(ctx, e, file, kind);
	if (!ret && kind == BPROC_FD_EPOLL)
		ret = dump_epoll(ctx, fd, file);
	return ret;
}

/* Is @fd a descriptor the image carries, which an epoll can watch? */
static bool dump_fd_moves(struct dump_ctx *ctx, int fd)
{
	u32 i;

	for (i = 0; i < ctx->env.nr_files; i++)
		if (ctx->files[i].fd == fd)
			return ctx->files[i].path != BPROC_IMAGE_NO_PATH;
	for (i = 0; i < ctx->nr_fds; i++)
		if (ctx->fds[i].fd == fd)
			return !(ctx->fds[i].fd_flags & BPROC_FD_UNOPENED);
	return false;
}

/* The references to @file that this process's mappings hold. */
static long dump_vma_refs(struct dump_ctx *ctx, struct file *file,
			  bool *writable)
{
	struct vm_area_struct *vma;
	long refs = 0;
	VMA_ITERATOR(vmi, ctx->mm, 0);

	mmap_read_lock(ctx->mm);
	for_each_vma(vmi, vma)
	{
		if (vma->vm_file != file)
			continue;
		refs++;
		if ((vma->vm_flags & (VM_SHARED | VM_WRITE)) ==
		    (VM_SHARED | VM_WRITE))
			*writable = true;
	}
	mmap_read_unlock(ctx->mm);
	return refs;
}

/*
 * Once every fd is known: memfds that are only mapped get a spare fd
 * above all others (BPROC_FD_UNOPENED), the memfd mappings their memfd's
 * fd; every memfd must be this process's alone, as shared anonymous
 * memory must (dump_shanon); every epoll target must move.
 */
static int dump_resolve_fds(struct dump_ctx *ctx)
{
	int spare = max(ctx->top_fd, 2);
	u32 i, k;
	int ret;

	for (i = 0; i < ctx->nr_memfds; i++) {
		struct file *file = ctx->memfds[i];
		struct bproc_image_fd *e = NULL;

		for (k = 0; k < ctx->nr_fds; k++)
			if (ctx->fd_files[k] == file)
				e = &ctx->fds[k];
		if (!e) {
			e = dump_new_fd(ctx, ++spare, file);
			if (IS_ERR(e))
				return PTR_ERR(e);
			e->fd_flags = BPROC_FD_UNOPENED;
			ret = dump_fd_state(ctx, e, file, BPROC_FD_MEMFD);
			if (ret)
				return ret;
		}
		for (k = 0; k < ctx->nr_vmas; k++)
			if (ctx->vmas[k].kind == BPROC_VMA_MEMFD &&
			    ctx->vmas[k].path == i)
				ctx->vmas[k].path = e->fd | (1U << 31);
	}
	/* (the mark keeps an fd apart from an index not yet replaced) */
	for (k = 0; k < ctx->nr_vmas; k++)
		if (ctx->vmas[k].kind == BPROC_VMA_MEMFD)
			ctx->vmas[k].path &= ~(1U << 31);

	for (i = 0; i < ctx->nr_fds; i++) {
		struct bproc_image_fd *e = &ctx->fds[i];
		struct file *file = ctx->fd_files[i];
		bool opened = !(e->fd_flags & BPROC_FD_UNOPENED);
		bool writable = false, mapped = false;
		long refs;

		if (e->kind != BPROC_FD_MEMFD)
			continue;
		/* its fd, its mappings and ours (fd_files, memfds) */
		refs = opened + dump_vma_refs(ctx, file, &writable) + 1;
		for (k = 0; k < ctx->nr_memfds; k++)
			mapped |= ctx->memfds[k] == file;
		refs += mapped;
		if (file_count(file) != refs ||
		    d_count(file->f_path.dentry) != 1) {
			if (opened)
				bproc_reason(
					ctx->reason,
					"fd %d is a memfd another process or descriptor has too",
					e->fd);
			else
				bproc_reason(
					ctx->reason,
					"a memfd mapped here is another process's too");
			return -EOPNOTSUPP;
		}
		if (writable && e->memfd.seals & F_SEAL_FUTURE_WRITE) {
			bproc_reason(
				ctx->reason,
				"a memfd sealed against writes is mapped writable");
			return -EOPNOTSUPP;
		}
		if (e->memfd.size > BPROC_IMAGE_MAX_MEMFD - ctx->memfd_bytes) {
			bproc_reason(ctx->reason, "memfds of more than %u MiB",
				     BPROC_IMAGE_MAX_MEMFD >> 20);
			return -EOPNOTSUPP;
		}
		ctx->memfd_bytes += e->memfd.size;
	}

	for (i = 0; i < ctx->nr_targets; i++) {
		const struct bproc_image_epoll_target *t = &ctx->targets[i];

		if (!dump_fd_moves(ctx, t->tfd)) {
			bproc_reason(
				ctx->reason,
				"fd %d is an epoll instance watching fd %d, which does not move",
				t->epfd, t->tfd);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* Its open(2) flags, and O_CLOEXEC if the descriptor is close-on-exec. */
static u32 dump_file_flags(struct task_struct *task, int fd, struct file *file)
{
	return (file->f_flags & ~O_CLOEXEC) |
	       (dump_fd_cloexec(task, fd) ? O_CLOEXEC : 0);
}

static int dump_files(struct dump_ctx *ctx)
{
	u32 max = BPROC_IMAGE_MAX_FILES, n = 0;
	struct file *file;
	char what[32];
	int fd = 2, ret = 0;

	ctx->files = kvcalloc(max, sizeof(*ctx->files), GFP_KERNEL);
	if (!ctx->files)
		return -ENOMEM;
	/* with streams, whoever restores decides about 0-2 as well */
	if (ctx->flags & BPROC_DUMP_STREAMS)
		fd = -1;
	while ((fd = dump_next_fd(ctx->task, fd + 1, &file)) >= 0) {
		struct bproc_image_file *f = &ctx->files[n];
		const char *why =
			dump_memdev(file) ? NULL : dump_unmovable_file(file);
		umode_t mode = file_inode(file)->i_mode;
		bool stream = ctx->flags & BPROC_DUMP_STREAMS &&
			      dump_stream_candidate(file);
		u32 kind = ctx->flags & BPROC_DUMP_ANONFDS ?
				   bproc_fd_kind(file) :
				   0;

		ctx->top_fd = fd;
		snprintf(what, sizeof(what), "fd %d", fd);
		if (kind && (fd >= 3 || ctx->flags & BPROC_DUMP_STREAMS)) {
			ret = dump_anon_fd(ctx, fd, file, kind);
		} else if (stream && n < max) {
			char *p = NULL;

			/* the restorer provides it, or reopens a device */
			f->fd = fd;
			f->flags = dump_file_flags(ctx->task, fd, file);
			f->pos = 0;
			f->mode = mode;
			f->path = BPROC_IMAGE_NO_PATH;
			if (S_ISCHR(mode))
				p = d_path(&file->f_path, ctx->pathbuf,
					   PATH_MAX);
			if (p && !IS_ERR(p) && p[0] == '/' &&
			    !d_unlinked(file->f_path.dentry)) {
				f->pos = file->f_pos;
				ret = dump_add_path(ctx, p, &f->path);
			}
			n++;
		} else if (why && fd < 3) {
			/* stdio that only its streams can carry: the caller's */
		} else if (why) {
			char *p = d_path(&file->f_path, ctx->pathbuf, PATH_MAX);

			bproc_reason(ctx->reason, "fd %d is %s (%s)", fd, why,
				     IS_ERR(p) ? "?" : p);
			ret = -EOPNOTSUPP;
		} else if (n == max) {
			bproc_reason(ctx->reason, "more than %u open files",
				     max);
			ret = -EOPNOTSUPP;
		} else {
			f->fd = fd;
			f->flags = dump_file_flags(ctx->task, fd, file);
			f->pos = file->f_pos;
			f->mode = file_inode(file)->i_mode;
			ret = dump_path(ctx, &file->f_path, what, &f->path);
			if (ret == -EOPNOTSUPP && fd < 3) {
				ret = 0; /* no path to reopen: as above */
				ctx->reason[0] = '\0';
			} else {
				n++;
			}
		}
		fput(file);
		if (ret)
			return ret;
	}
	ctx->env.nr_files = n;
	return dump_resolve_fds(ctx);
}

static int dump_taskenv(struct dump_ctx *ctx)
{
	struct task_struct *task = ctx->task;
	struct bproc_image_taskenv *env = &ctx->env;
	const struct cred *cred;
	struct path pwd;
	bool have_pwd = false;
	int ret, i;

	task_lock(task);
	if (task->fs) {
		env->umask = task->fs->umask;
		get_fs_pwd(task->fs, &pwd);
		have_pwd = true;
	}
	task_unlock(task);
	if (!have_pwd)
		return -ESRCH;
	ret = dump_path(ctx, &pwd, "the working directory", &env->cwd);
	path_put(&pwd);
	if (ret)
		return ret;

	cred = get_task_cred(task);
	env->uid = from_kuid_munged(cred->user_ns, cred->uid);
	env->euid = from_kuid_munged(cred->user_ns, cred->euid);
	env->suid = from_kuid_munged(cred->user_ns, cred->suid);
	env->fsuid = from_kuid_munged(cred->user_ns, cred->fsuid);
	env->gid = from_kgid_munged(cred->user_ns, cred->gid);
	env->egid = from_kgid_munged(cred->user_ns, cred->egid);
	env->sgid = from_kgid_munged(cred->user_ns, cred->sgid);
	env->fsgid = from_kgid_munged(cred->user_ns, cred->fsgid);
	env->nr_groups =
		min_t(u32, cred->group_info->ngroups, BPROC_IMAGE_MAX_GROUPS);
	ctx->groups = kvcalloc(env->nr_groups + 1, sizeof(u32), GFP_KERNEL);
	if (ctx->groups)
		for (i = 0; i < env->nr_groups; i++)
			ctx->groups[i] = from_kgid_munged(
				cred->user_ns, cred->group_info->gid[i]);
	put_cred(cred);
	if (!ctx->groups)
		return -ENOMEM;

	task_lock(task->group_leader);
	for (i = 0; i < BPROC_IMAGE_NR_RLIMITS && i < RLIM_NLIMITS; i++) {
		env->rlim[i].cur = task->signal->rlim[i].rlim_cur;
		env->rlim[i].max = task->signal->rlim[i].rlim_max;
	}
	task_unlock(task->group_leader);
	return dump_files(ctx);
}

static int dump_write(struct dump_ctx *ctx, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = kernel_write(ctx->out, buf, len, &ctx->pos);

		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= n;
		ctx->written += n;
	}
	return 0;
}

static int dump_section(struct dump_ctx *ctx, u32 type, u64 size)
{
	struct bproc_image_section s = { .type = type, .size = size };

	return dump_write(ctx, &s, sizeof(s));
}

/* Stream the contents of the page-map runs, straight from the pages. */
static int dump_pages(struct dump_ctx *ctx)
{
	struct page **pages;
	struct bio_vec *bv;
	int ret = 0;
	u32 r;

	pages = kvmalloc_array(DUMP_BATCH, sizeof(*pages), GFP_KERNEL);
	bv = kvmalloc_array(DUMP_BATCH, sizeof(*bv), GFP_KERNEL);
	if (!pages || !bv) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (r = 0; r < ctx->nr_runs && !ret; r++) {
		unsigned long addr = ctx->runs[r].vaddr;
		u64 left = ctx->runs[r].nr_pages;

		while (left && !ret) {
			unsigned long nr = min_t(u64, left, DUMP_BATCH);
			struct iov_iter iter;
			long got, i;

			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			mmap_read_lock(ctx->mm);
			got = get_user_pages_remote(ctx->mm, addr, nr,
						    FOLL_FORCE, pages, NULL,
						    NULL);
			mmap_read_unlock(ctx->mm);
			if (got <= 0) {
				bproc_reason(ctx->reason,
					     "memory at %lx vanished", addr);
				ret = got ? got : -EFAULT;
				break;
			}
			for (i = 0; i < got; i++) {
				bv[i].bv_page = pages[i];
				bv[i].bv_len = PAGE_SIZE;
				bv[i].bv_offset = 0;
			}
			iov_iter_bvec(&iter, ITER_SOURCE, bv, got,
				      got * PAGE_SIZE);
			file_start_write(ctx->out);
			while (iov_iter_count(&iter)) {
				ssize_t n = vfs_iter_write(ctx->out, &iter,
							   &ctx->pos, 0);

				if (n <= 0) {
					ret = n ? n : -EIO;
					break;
				}
				ctx->written += n;
			}
			file_end_write(ctx->out);
			for (i = 0; i < got; i++)
				put_page(pages[i]);
			addr += got * PAGE_SIZE;
			left -= got;
		}
	}
out_free:
	kvfree(bv);
	kvfree(pages);
	return ret;
}

/*
 * The @size bytes of @file from its start into the image, by @buf (of
 * DUMP_BATCH pages); a file that is shorter now (none can be: no writer
 * has the program or a memfd only the process holds) reads as zeros past
 * its end. @what names it in the reason of a failed read.
 */
static int dump_file_bytes(struct dump_ctx *ctx, struct file *file, u64 size,
			   void *buf, const char *what)
{
	u64 left = size;
	loff_t pos = 0;
	int ret = 0;

	while (left && !ret) {
		size_t len = min_t(u64, left, DUMP_BATCH * PAGE_SIZE);
		ssize_t n = kernel_read(file, buf, len, &pos);

		if (n < 0) {
			bproc_reason(ctx->reason, "reading %s failed (%zd)",
				     what, n);
			return n;
		}
		if ((size_t)n < len)
			memset(buf + n, 0, len - n);
		ret = dump_write(ctx, buf, len);
		left -= len;
		pos = size - left;
	}
	return ret;
}

/* EXEFILE: its header, then the program's file, read from it. */
static int dump_write_exefile(struct dump_ctx *ctx)
{
	void *buf;
	int ret;

	ret = dump_section(ctx, BPROC_SEC_EXEFILE,
			   sizeof(ctx->exe) + ctx->exe.size);
	if (!ret)
		ret = dump_write(ctx, &ctx->exe, sizeof(ctx->exe));
	if (ret || !ctx->exe.size)
		return ret;
	buf = kvmalloc(DUMP_BATCH * PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = dump_file_bytes(ctx, ctx->exe_file, ctx->exe.size, buf,
			      "its program");
	kvfree(buf);
	return ret;
}

/* FDS, then MEMFD: each memfd's content, read from it. */
static int dump_write_fds(struct dump_ctx *ctx)
{
	struct bproc_image_fds h = {
		.nr_fds = ctx->nr_fds,
		.nr_targets = ctx->nr_targets,
	};
	void *buf;
	int ret;
	u32 i;

	ret = dump_section(ctx, BPROC_SEC_FDS,
			   sizeof(h) + ctx->nr_fds * sizeof(*ctx->fds) +
				   ctx->nr_targets * sizeof(*ctx->targets));
	if (!ret)
		ret = dump_write(ctx, &h, sizeof(h));
	if (!ret)
		ret = dump_write(ctx, ctx->fds,
				 ctx->nr_fds * sizeof(*ctx->fds));
	if (!ret)
		ret = dump_write(ctx, ctx->targets,
				 ctx->nr_targets * sizeof(*ctx->targets));
	if (ret || !ctx->memfd_bytes)
		return ret;
	ret = dump_section(ctx, BPROC_SEC_MEMFD, ctx->memfd_bytes);
	buf = kvmalloc(DUMP_BATCH * PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < ctx->nr_fds && !ret; i++)
		if (ctx->fds[i].kind == BPROC_FD_MEMFD)
			ret = dump_file_bytes(ctx, ctx->fd_files[i],
					      ctx->fds[i].memfd.size, buf,
					      "a memfd");
	kvfree(buf);
	return ret;
}

static int dump_write_image(struct dump_ctx *ctx)
{
	struct bproc_image_header hdr = {
		.magic = BPROC_IMAGE_MAGIC,
		/*
		 * Version 4 only for what needs it (EXEFILE), 3 for FDS, so
		 * that an engine that reads up to version 2 or 3 still takes
		 * the rest.
		 */
		.version = ctx->exe_file ? 4 :
			   ctx->nr_fds	 ? 3 :
					   2,
		.arch = BPROC_ARCH_X86_64,
		.page_size = PAGE_SIZE,
		.header_size = sizeof(hdr),
		.nr_sections = 9 + !!ctx->nr_threads + !!ctx->nr_fds +
			       !!ctx->memfd_bytes + !!ctx->exe_file,
		.dump_flags =
			ctx->flags & (BPROC_DUMP_ALL | BPROC_DUMP_STREAMS),
	};
	u64 groups_size = ALIGN((u64)ctx->env.nr_groups * sizeof(u32), 8);
	int ret;
	u32 i;

	/* stopped by job control (not a tracer's): restored stopped */
	if (READ_ONCE(ctx->task->signal->flags) & SIGNAL_STOP_STOPPED &&
	    !ctx->task->ptrace)
		hdr.dump_flags |= BPROC_IMAGE_STOPPED;

	strscpy(hdr.release, init_utsname()->release, sizeof(hdr.release));
	ret = dump_write(ctx, &hdr, sizeof(hdr));
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_CORE, sizeof(ctx->core));
	if (!ret)
		ret = dump_write(ctx, &ctx->core, sizeof(ctx->core));
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_XSTATE, ctx->xstate_size);
	if (!ret)
		ret = dump_write(ctx, ctx->xstate, ctx->xstate_size);
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_SIGNALS,
				   sizeof(ctx->sig) +
					   ctx->sig.nr_pending *
						   sizeof(*ctx->pending));
	if (!ret)
		ret = dump_write(ctx, &ctx->sig, sizeof(ctx->sig));
	if (!ret)
		ret = dump_write(ctx, ctx->pending,
				 ctx->sig.nr_pending * sizeof(*ctx->pending));
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_MM, sizeof(ctx->mmi));
	if (!ret)
		ret = dump_write(ctx, &ctx->mmi, sizeof(ctx->mmi));
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_VMAS,
				   ctx->nr_vmas * sizeof(*ctx->vmas));
	if (!ret)
		ret = dump_write(ctx, ctx->vmas,
				 ctx->nr_vmas * sizeof(*ctx->vmas));
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_PATHS, ctx->paths_len);
	if (!ret)
		ret = dump_write(ctx, ctx->paths, ctx->paths_len);
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_TASKENV,
				   sizeof(ctx->env) + groups_size +
					   ctx->env.nr_files *
						   sizeof(*ctx->files));
	if (!ret)
		ret = dump_write(ctx, &ctx->env, sizeof(ctx->env));
	if (!ret)
		ret = dump_write(ctx, ctx->groups, groups_size);
	if (!ret)
		ret = dump_write(ctx, ctx->files,
				 ctx->env.nr_files * sizeof(*ctx->files));
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_PAGEMAP,
				   ctx->nr_runs * sizeof(*ctx->runs));
	if (!ret)
		ret = dump_write(ctx, ctx->runs,
				 ctx->nr_runs * sizeof(*ctx->runs));
	if (!ret && ctx->nr_threads) {
		struct bproc_image_threads th = {
			.nr_threads = ctx->nr_threads,
			.xstate_size = ctx->xstate_size,
		};

		ret = dump_section(ctx, BPROC_SEC_THREADS, ctx->threads_size);
		if (!ret)
			ret = dump_write(ctx, &th, sizeof(th));
		for (i = 0; i < ctx->nr_threads && !ret; i++) {
			const struct bproc_thread_rec *r = ctx->threads[i];

			ret = dump_write(ctx, &r->t, sizeof(r->t));
			if (!ret)
				ret = dump_write(ctx, r->xstate,
						 r->xstate_size);
			if (!ret)
				ret = dump_write(ctx, r->pending,
						 r->t.nr_pending *
							 sizeof(*r->pending));
		}
	}
	if (!ret && ctx->nr_fds)
		ret = dump_write_fds(ctx);
	if (!ret && ctx->exe_file)
		ret = dump_write_exefile(ctx);
	if (!ret)
		ret = dump_section(ctx, BPROC_SEC_PAGES,
				   ctx->nr_pages * PAGE_SIZE);
	if (!ret)
		ret = dump_pages(ctx);
	return ret;
}

/* The other threads' records go with the main thread's state. */
static int dump_threads(struct dump_ctx *ctx)
{
	u32 i;

	ctx->threads_size = sizeof(struct bproc_image_threads);
	for (i = 0; i < ctx->nr_threads; i++) {
		const struct bproc_thread_rec *r = ctx->threads[i];

		if (r->xstate_size != ctx->xstate_size)
			return -EINVAL; /* one CPU, one layout */
		ctx->threads_size += sizeof(r->t) + r->xstate_size +
				     (u64)r->t.nr_pending * sizeof(*r->pending);
	}
	return 0;
}

/*
 * Is @task (the caller, or a task that does not run) 64-bit code in 64-bit
 * mode? An image holds only such registers, and a ghost and its ending
 * threads return to x86-64 stubs (ghost.c): a dump checks it first, and so
 * does one without an image (BPROC_DUMP_NOIMAGE, where nothing else is
 * read), for the main thread here and each parked thread by itself.
 */
int bproc_dump_64bit(struct task_struct *task, char *reason)
{
	if (task_user_regset_view(task)->e_machine != EM_X86_64) {
		bproc_reason(reason, "not a 64-bit process");
		return -EOPNOTSUPP;
	}
	if (task_pt_regs(task)->cs != __USER_CS) {
		bproc_reason(reason, "not in 64-bit mode");
		return -EOPNOTSUPP;
	}
	return 0;
}

int bproc_dump_task(struct task_struct *task, struct file *out, u32 flags,
		    struct bproc_thread_rec **threads, u32 nr_threads,
		    u64 *written, char *reason)
{
	struct dump_ctx *ctx;
	sigset_t old;
	int ret;
	u32 i;

	*written = 0;
	/* Threads other than the caller's parked ones do not move. */
	if (get_nr_threads(task) != 1 + nr_threads) {
		bproc_reason(reason, "the process has %d threads",
			     get_nr_threads(task));
		return -EOPNOTSUPP;
	}
	if (flags & BPROC_DUMP_NOIMAGE)
		return bproc_dump_64bit(task, reason);

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->task = task;
	ctx->out = out;
	ctx->flags = flags;
	ctx->reason = reason;
	ctx->last_path = BPROC_IMAGE_NO_PATH;
	ctx->pos = out->f_pos;
	ctx->pathbuf = kmalloc(PATH_MAX, GFP_KERNEL);
	ctx->mm = get_task_mm(task);
	if (!ctx->pathbuf || !ctx->mm) {
		ret = ctx->mm ? -ENOMEM : -ESRCH;
		goto out_free;
	}
	ctx->threads = threads;
	ctx->nr_threads = nr_threads;

	/* Phase 1: collect and check; nothing is written yet. */
	ret = dump_registers(ctx);
	if (!ret)
		ret = dump_threads(ctx);
	if (!ret)
		ret = dump_signals(ctx);
	if (!ret)
		ret = dump_mm_layout(ctx);
	if (!ret)
		ret = dump_taskenv(ctx);
	if (!ret)
		ret = dump_exefile(ctx);
	if (!ret)
		ret = dump_pagemap(ctx);
	if (ret)
		goto out_free;

	/*
	 * Phase 2: write. The process writing its own image blocks every
	 * signal meanwhile (its mask is in the image already), so that one
	 * arriving now cannot cut short a write to a full pipe: it stays
	 * pending for after the dump.
	 */
	if (task == current) {
		sigset_t all;

		siginitsetinv(&all, sigmask(SIGKILL) | sigmask(SIGSTOP));
		sigprocmask(SIG_BLOCK, &all, &old);
	}
	ret = dump_write_image(ctx);
	if (task == current)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (!(out->f_mode & FMODE_STREAM))
		out->f_pos = ctx->pos;
	*written = ctx->written;
	if (ret && !reason[0])
		bproc_reason(reason, "writing the image failed (%d)", ret);

out_free:
	if (ctx->mm)
		mmput(ctx->mm);
	if (ctx->exe_file)
		fput(ctx->exe_file);
	for (i = 0; i < ctx->nr_fds; i++)
		fput(ctx->fd_files[i]);
	for (i = 0; i < ctx->nr_memfds; i++)
		fput(ctx->memfds[i]);
	kvfree(ctx->fd_files);
	kvfree(ctx->fds);
	kvfree(ctx->memfds);
	kvfree(ctx->targets);
	kvfree(ctx->runs);
	kvfree(ctx->files);
	kvfree(ctx->groups);
	kvfree(ctx->paths);
	kvfree(ctx->scan);
	kvfree(ctx->vmas);
	kvfree(ctx->pending);
	kfree(ctx->xstate);
	kfree(ctx->pathbuf);
	kfree(ctx);
	return ret;
}
