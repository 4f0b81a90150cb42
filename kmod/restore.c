// SPDX-License-Identifier: GPL-2.0
/*
 * restore.c - replace the calling process by an image (include/bproc/image.h).
 *
 * The image is untrusted. Restore reads every section up to PAGES into
 * kernel memory, checks every address, size, count and ordering, opens every
 * file the mappings need and checks that the calling process can take the
 * image (its vDSO sits where the image's did and has the same text). For an
 * image in a regular file it also checks that the file holds all the page
 * data it announces. Any failure so far returns -EINVAL (or the error of a
 * missing file) with a reason, and the caller is untouched.
 *
 * Then comes the point of no return: the caller's mappings (all but the
 * vDSO) are unmapped, the image's are mapped, the page contents are read
 * straight into the new pages, and the mm layout, signal state, registers,
 * FPU state and thread pointers are set. A failure after this point can only
 * come from the outside world (a short read, no memory); the process is then
 * killed with SIGKILL before it returns to user space.
 *
 * The system call in progress at the dump: the general registers are set
 * here, but ax and orig_ax only from a task_work that runs (TWA_SIGNAL) in
 * get_signal() on the way out, after the ioctl's return value has been
 * stored, and before the kernel's own restart logic. So a call interrupted
 * with -ERESTARTSYS, -ERESTARTNOINTR or -ERESTARTNOHAND is restarted (or
 * fails with EINTR) exactly as after a signal. -ERESTART_RESTARTBLOCK
 * (nanosleep, clock_nanosleep, poll with a timeout...) cannot use the
 * dumped kernel's restart block: it becomes -ERESTARTNOHAND, so the call is
 * restarted from its original arguments, i.e. with its full duration.
 *
 * Threads (THREADS, module 1.6): the restorer made one thread per thread of
 * the image, with its tid, each waiting in BPROC_IOC_RESTORE_THREAD
 * (bproc_restore_thread, on the list restore_waiters). Before the point of
 * no return the main thread claims exactly these (tid by tid); after it,
 * once the memory, the mm and the signal actions are the image's, it hands
 * each its record and a copy of its own credentials and waits until each
 * has restored itself in its own context with restore_thread_self(), the
 * same function that restores the main thread's registers, FPU state, TLS,
 * mask, alternate stack, pointers and own pending signals (and its
 * interrupted system call, by the same task_work). Signals pending for the
 * whole process then go to the first thread, main thread first, that does
 * not block them (the kernel's own choice, roughly: no way to queue one
 * for the group with its siginfo is exported). A claimed thread always gets
 * an answer: ECANCELED if the restore fails before the point of no return.
 *
 * Kernel objects (FDS, version 3: eventfd, timerfd, signalfd, epoll,
 * memfd) are not made here, which no module can do: whoever restores made
 * each at its fd, with its state (bproc-ckpt, from FDS and MEMFD, whose
 * content the engine reads past). The engine checks the section whole and
 * that each fd holds an object of its kind, maps the memfds that the
 * mappings name (BPROC_VMA_MEMFD) and closes those the process had only
 * mapped (BPROC_FD_UNOPENED). A ghost's restore (BPROC_RESTORE_FILES)
 * takes each from its descriptor map instead, where its agent put the
 * objects a helper made (module 1.9): one only mapped is taken off the
 * map and gets no fd.
 *
 * The program's file (EXEFILE, version 4): read into an in-memory file
 * (shmem_file_setup, as a memfd is made) named after the program's path,
 * which becomes the process's mm->exe_file, so /proc/PID/exe reads
 * "PATH (deleted)", as for a program removed after it was executed, and
 * executing it runs the program; unless the restoring process's own
 * executable is that same file (a ghost taking its process back home),
 * which then stays.
 */
#define pr_fmt(fmt) "bproc: " fmt

#include <linux/bvec.h>
#include <linux/fdtable.h>
#include <linux/fs_struct.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/personality.h>
#include <linux/regset.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/shmem_fs.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <linux/elf.h>
#include <linux/rseq.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/fsgsbase.h>
#include <asm/msr.h>
#include <asm/asm.h>

#include "engine.h"

#define RESTORE_BATCH 512 /* pages pinned and read at a time */

/* User-settable flags, as ptrace allows (trap flag excluded). */
#define RESTORE_EFLAGS_MASK                                              \
	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | \
	 X86_EFLAGS_SF | X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_RF | \
	 X86_EFLAGS_AC)

#define RESTORE_SA_FLAGS                                                      \
	(SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | \
	 SA_NODEFER | SA_RESETHAND | SA_RESTORER |                            \
	 0x00000400 /* UNSUPPORTED */ | 0x00000800 /* EXPOSE_TAGBITS */)

#define XSAVE_HDR_OFFSET 512
#define MXCSR_OFFSET 24
#define XFEATURE_PKRU (1ULL << 9)

struct restore_waiter;

/*
 * One thread's state, restored by restore_thread_self() in the thread's
 * own context: the main thread's (from CORE, XSTATE and SIGNALS) or one of
 * THREADS, then also the thread that takes it.
 */
struct restore_thread {
	struct bproc_image_thread t;
	void *xstate_alloc, *xstate; /* xstate: 64-byte aligned */
	const struct bproc_image_siginfo *pending; /* t.nr_pending */
	struct restore_waiter *waiter; /* claimed, not answered yet */
	struct task_struct *task; /* the thread, with a reference */
};

struct restore_ctx {
	struct file *img;
	loff_t pos;
	char *reason;
	struct bproc_image_header hdr;
	struct bproc_image_core core;
	void *xstate_alloc, *xstate; /* xstate: 64-byte aligned */
	u32 xstate_size;
	struct bproc_image_signals sig;
	struct bproc_image_siginfo *pending;
	struct bproc_image_mm mmi;
	struct bproc_image_vma *vmas;
	u32 nr_vmas;
	char *paths;
	u32 paths_len;
	void *taskenv;
	u64 taskenv_size;
	struct bproc_image_pagemap *runs;
	u32 nr_runs;
	u64 nr_pages;
	struct file **files; /* per vma, for FILE mappings */
	u32 seen; /* bit per section type */
	/* BPROC_RESTORE_FILES: the TASKENV files, opened; fd slots kept. */
	const struct bproc_image_file *env_file;
	struct file **env_files;
	u32 nr_env_files, env_umask;
	bool *env_given; /* per file: a given descriptor takes its place */
	/* ... and the descriptors given to it, or 0-2 and the streams kept */
	struct file **map_files;
	s32 *map_fds;
	u32 nr_map;
	bool map_given; /* a map, not 0-2 and the streams kept */
	int *holes;
	struct file *notify; /* BPROC_RESTORE_NOTIFY: told "restored" */
	/* THREADS: the other threads, parsed, and who takes each. */
	void *threads;
	u64 threads_size;
	u32 nr_threads;
	struct restore_thread *thr;
	struct restore_thread main; /* CORE, XSTATE, SIGNALS */
	atomic_t thr_left; /* threads still restoring themselves */
	struct completion thr_done;
	/* FDS: the entries, the epoll targets, and the caller's files there */
	void *fdsec;
	u64 fdsec_size;
	const struct bproc_image_fd *fds;
	u32 nr_fds;
	const struct bproc_image_epoll_target *targets;
	u32 nr_targets;
	u64 memfd_size; /* of MEMFD */
	struct file **fd_files;
	/* EXEFILE: the program's file, in memory, or NULL; kept: ours is it */
	struct bproc_image_exefile exe;
	struct file *exe_file;
	bool exe_kept;
};

/* A thread waiting in BPROC_IOC_RESTORE_THREAD (on its stack). */
struct restore_waiter {
	struct list_head node; /* on restore_waiters until claimed */
	struct task_struct *task;
	bool claimed;
	struct completion given;
	struct restore_ctx *ctx; /* given: what to take, or an error */
	struct restore_thread *rt;
	struct cred *cred;
	int result;
};

static LIST_HEAD(restore_waiters);
static DEFINE_SPINLOCK(restore_waiters_lock);
static DECLARE_WAIT_QUEUE_HEAD(restore_waiters_wq);

struct restore_syscall_work {
	struct callback_head work;
	u64 ax, orig_ax;
};

#define bad_image(ctx, fmt, ...)                                 \
	({                                                       \
		bproc_reason((ctx)->reason, fmt, ##__VA_ARGS__); \
		-EINVAL;                                         \
	})

static int restore_read(struct restore_ctx *ctx, void *buf, size_t len)
{
	while (len) {
		ssize_t n = kernel_read(ctx->img, buf, len, &ctx->pos);

		if (n < 0)
			return n;
		if (n == 0)
			return bad_image(ctx, "the image is truncated");
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read past @size bytes: the memfds' content is for whoever restores. */
static int restore_skip(struct restore_ctx *ctx, u64 size)
{
	void *buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (size && !ret) {
		size_t n = min_t(u64, size, PAGE_SIZE);

		ret = restore_read(ctx, buf, n);
		size -= n;
	}
	kfree(buf);
	return ret;
}

/* Read a section's payload into new memory, @size checked by the caller. */
static int restore_read_alloc(struct restore_ctx *ctx, void **out, u64 size)
{
	void *p = kvmalloc(size ? size : 1, GFP_KERNEL);
	int ret;

	if (!p)
		return -ENOMEM;
	ret = restore_read(ctx, p, size);
	if (ret) {
		kvfree(p);
		return ret;
	}
	*out = p;
	return 0;
}

static bool user_range_ok(u64 start, u64 end)
{
	return start <= end && end <= TASK_SIZE_MAX;
}

static bool path_ok(struct restore_ctx *ctx, u32 off)
{
	return off < ctx->paths_len && ctx->paths[off] == '/';
}

/*
 * Copy @len bytes to @pos of the new in-memory file @f through its
 * address space's operations, page by page, as the kernel's own users of
 * shmem files do: no write of the restoring process's, which kernel_write
 * would hold to its RLIMIT_FSIZE (the image's, maybe below its program's
 * size).
 */
static int restore_fill(struct file *f, const void *buf, size_t len, loff_t pos)
{
	struct address_space *mapping = f->f_mapping;
	const struct address_space_operations *aops = mapping->a_ops;
	struct inode *inode = file_inode(f);
	int ret = 0;

	inode_lock(inode);
	while (len) {
		unsigned int off = offset_in_page(pos);
		unsigned int n = min_t(size_t, len, PAGE_SIZE - off);
		struct page *page;
		void *fsdata, *vaddr;

		ret = aops->write_begin(f, mapping, pos, n, &page, &fsdata);
		if (ret < 0)
			break;
		vaddr = kmap_local_page(page);
		memcpy(vaddr + off, buf, n);
		kunmap_local(vaddr);
		ret = aops->write_end(f, mapping, pos, n, n, page, fsdata);
		if (ret < 0)
			break;
		if (ret != (int)n) {
			ret = -EIO;
			break;
		}
		ret = 0;
		buf += n;
		pos += n;
		len -= n;
	}
	inode_unlock(inode);
	return ret;
}

/*
 * EXEFILE: the program's file into a new in-memory file, named after its
 * path (less its leading '/': d_path shows such a file as "/NAME
 * (deleted)"), with its permission bits.
 */
static int restore_read_exefile(struct restore_ctx *ctx, u64 size)
{
	struct bproc_image_exefile *e = &ctx->exe;
	struct file *f;
	loff_t pos = 0;
	u64 left;
	void *buf;
	int ret;

	if (size < sizeof(*e) || size - sizeof(*e) > BPROC_IMAGE_MAX_EXEFILE)
		return bad_image(ctx, "bad EXEFILE size");
	ret = restore_read(ctx, e, sizeof(*e));
	if (ret)
		return ret;
	if (e->size != size - sizeof(*e) || e->mode & ~(u32)(S_IFMT | 07777) ||
	    !ctx->paths_len || ctx->paths[ctx->paths_len - 1] ||
	    !path_ok(ctx, e->path) || !ctx->paths[e->path + 1])
		return bad_image(ctx, "bad EXEFILE");
	f = shmem_file_setup(ctx->paths + e->path + 1, e->size, VM_NORESERVE);
	if (IS_ERR(f)) {
		bproc_reason(ctx->reason,
			     "no in-memory file for its program (%ld)",
			     PTR_ERR(f));
		return PTR_ERR(f);
	}
	ctx->exe_file = f;
	file_inode(f)->i_mode = S_IFREG | (e->mode & 0777);
	buf = kvmalloc(RESTORE_BATCH * PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (left = e->size; left && !ret;) {
		size_t len = min_t(u64, left, RESTORE_BATCH * PAGE_SIZE);

		left -= len;
		ret = restore_read(ctx, buf, len);
		if (!ret) {
			ret = restore_fill(f, buf, len, pos);
			if (ret)
				bproc_reason(
					ctx->reason,
					"writing its program in memory failed (%d)",
					ret);
			pos += len;
		}
	}
	kvfree(buf);
	return ret;
}

static int restore_read_sections(struct restore_ctx *ctx)
{
	struct bproc_image_header *h = &ctx->hdr;
	u32 i, last = 0, rank;
	int ret;

	ret = restore_read(ctx, h, sizeof(*h));
	if (ret)
		return ret;
	if (h->magic != BPROC_IMAGE_MAGIC)
		return bad_image(ctx, "not a bproc image (bad magic)");
	if (h->version < BPROC_IMAGE_VERSION_MIN ||
	    h->version > BPROC_IMAGE_VERSION)
		return bad_image(ctx, "image version %u, expected %u to %u",
				 h->version, BPROC_IMAGE_VERSION_MIN,
				 BPROC_IMAGE_VERSION);
	if (h->arch != BPROC_ARCH_X86_64)
		return bad_image(ctx, "image for another architecture");
	if (h->page_size != PAGE_SIZE)
		return bad_image(ctx, "image page size %u", h->page_size);
	if (h->header_size != sizeof(*h) || h->pad ||
	    h->dump_flags & ~(BPROC_DUMP_ALL | BPROC_DUMP_STREAMS |
			      BPROC_IMAGE_STOPPED) ||
	    !memchr(h->release, 0, sizeof(h->release)))
		return bad_image(ctx, "bad image header");
	if (!h->nr_sections || h->nr_sections > BPROC_IMAGE_MAX_SECTIONS)
		return bad_image(ctx, "bad section count %u", h->nr_sections);

	for (i = 0; i < h->nr_sections; i++) {
		struct bproc_image_section s;
		u64 size;

		ret = restore_read(ctx, &s, sizeof(s));
		if (ret)
			return ret;
		size = s.size;
		/* in type order, but PAGES last (10 to 13 before it) */
		rank = s.type == BPROC_SEC_PAGES ? 100 : s.type;
		if (s.pad || rank <= last || s.type > BPROC_SEC_EXEFILE ||
		    (s.type == BPROC_SEC_THREADS && h->version < 2) ||
		    (s.type >= BPROC_SEC_FDS && h->version < 3) ||
		    (s.type == BPROC_SEC_EXEFILE && h->version < 4))
			return bad_image(ctx,
					 "section %u: bad or repeated type", i);
		last = rank;
		ctx->seen |= 1U << s.type;
		switch (s.type) {
		case BPROC_SEC_CORE:
			if (size != sizeof(ctx->core))
				return bad_image(ctx, "bad CORE size");
			ret = restore_read(ctx, &ctx->core, size);
			break;
		case BPROC_SEC_XSTATE:
			if (size < 512 || size > BPROC_IMAGE_MAX_XSTATE)
				return bad_image(ctx, "bad XSTATE size");
			ctx->xstate_alloc = kzalloc(size + 64, GFP_KERNEL);
			if (!ctx->xstate_alloc)
				return -ENOMEM;
			ctx->xstate = PTR_ALIGN(ctx->xstate_alloc, 64);
			ctx->xstate_size = size;
			ret = restore_read(ctx, ctx->xstate, size);
			break;
		case BPROC_SEC_SIGNALS:
			if (size < sizeof(ctx->sig))
				return bad_image(ctx, "bad SIGNALS size");
			ret = restore_read(ctx, &ctx->sig, sizeof(ctx->sig));
			if (ret)
				return ret;
			if (ctx->sig.nr_pending > BPROC_IMAGE_MAX_PENDING ||
			    size != sizeof(ctx->sig) +
					    (u64)ctx->sig.nr_pending *
						    sizeof(*ctx->pending))
				return bad_image(ctx, "bad SIGNALS size");
			ret = restore_read_alloc(ctx, (void **)&ctx->pending,
						 size - sizeof(ctx->sig));
			break;
		case BPROC_SEC_MM:
			if (size != sizeof(ctx->mmi))
				return bad_image(ctx, "bad MM size");
			ret = restore_read(ctx, &ctx->mmi, size);
			break;
		case BPROC_SEC_VMAS:
			if (!size || size % sizeof(*ctx->vmas) ||
			    size / sizeof(*ctx->vmas) > BPROC_IMAGE_MAX_VMAS)
				return bad_image(ctx, "bad VMAS size");
			ctx->nr_vmas = size / sizeof(*ctx->vmas);
			ret = restore_read_alloc(ctx, (void **)&ctx->vmas,
						 size);
			break;
		case BPROC_SEC_PATHS:
			if (size > BPROC_IMAGE_MAX_PATHS)
				return bad_image(ctx, "bad PATHS size");
			ctx->paths_len = size;
			ret = restore_read_alloc(ctx, (void **)&ctx->paths,
						 size);
			break;
		case BPROC_SEC_TASKENV:
			if (size < sizeof(struct bproc_image_taskenv) ||
			    size > sizeof(struct bproc_image_taskenv) +
					    BPROC_IMAGE_MAX_GROUPS * 4 +
					    BPROC_IMAGE_MAX_FILES *
						    sizeof(struct
							   bproc_image_file))
				return bad_image(ctx, "bad TASKENV size");
			ctx->taskenv_size = size;
			ret = restore_read_alloc(ctx, &ctx->taskenv, size);
			break;
		case BPROC_SEC_PAGEMAP:
			if (size % sizeof(*ctx->runs) ||
			    size / sizeof(*ctx->runs) > BPROC_IMAGE_MAX_RUNS)
				return bad_image(ctx, "bad PAGEMAP size");
			ctx->nr_runs = size / sizeof(*ctx->runs);
			ret = restore_read_alloc(ctx, (void **)&ctx->runs,
						 size);
			break;
		case BPROC_SEC_THREADS:
			if (size < sizeof(struct bproc_image_threads) ||
			    size > BPROC_IMAGE_MAX_THREADS_BYTES)
				return bad_image(ctx, "bad THREADS size");
			ctx->threads_size = size;
			ret = restore_read_alloc(ctx, &ctx->threads, size);
			break;
		case BPROC_SEC_FDS:
			if (size < sizeof(struct bproc_image_fds) ||
			    size > sizeof(struct bproc_image_fds) +
					    BPROC_IMAGE_MAX_FDS *
						    sizeof(struct
							   bproc_image_fd) +
					    BPROC_IMAGE_MAX_TARGETS *
						    sizeof(struct
							   bproc_image_epoll_target))
				return bad_image(ctx, "bad FDS size");
			ctx->fdsec_size = size;
			ret = restore_read_alloc(ctx, &ctx->fdsec, size);
			break;
		case BPROC_SEC_MEMFD:
			if (!size || size > BPROC_IMAGE_MAX_MEMFD)
				return bad_image(ctx, "bad MEMFD size");
			ctx->memfd_size = size;
			ret = restore_skip(ctx, size);
			break;
		case BPROC_SEC_EXEFILE:
			ret = restore_read_exefile(ctx, size);
			break;
		case BPROC_SEC_PAGES:
			if (i != h->nr_sections - 1)
				return bad_image(ctx, "PAGES is not last");
			if (size % PAGE_SIZE)
				return bad_image(ctx, "bad PAGES size");
			ctx->nr_pages = size >> PAGE_SHIFT;
			break;
		default:
			return bad_image(ctx, "unknown section type %u",
					 s.type);
		}
		if (ret)
			return ret;
	}
	if ((ctx->seen & ~(1U << BPROC_SEC_THREADS | 1U << BPROC_SEC_FDS |
			   1U << BPROC_SEC_MEMFD | 1U << BPROC_SEC_EXEFILE)) !=
	    ((1U << (BPROC_SEC_PAGES + 1)) - 2))
		return bad_image(ctx, "sections missing");
	return 0;
}

/* What each thread has: registers, rseq area, thread pointers. */
static int restore_check_thread(struct restore_ctx *ctx,
				const struct bproc_image_thread *t)
{
	const struct bproc_image_regs *r = &t->regs;

	if (r->cs != __USER_CS || r->ss != __USER_DS)
		return bad_image(ctx, "bad segment registers");
	if (r->ip >= TASK_SIZE_MAX || r->fs_base >= TASK_SIZE_MAX ||
	    r->gs_base >= TASK_SIZE_MAX)
		return bad_image(ctx, "registers point outside user space");
	if (t->rseq && (t->rseq % 32 || t->rseq_len != sizeof(struct rseq) ||
			!user_range_ok(t->rseq, t->rseq + t->rseq_len)))
		return bad_image(ctx, "bad rseq area");
	if (t->clear_child_tid >= TASK_SIZE_MAX ||
	    t->robust_list >= TASK_SIZE_MAX)
		return bad_image(ctx, "bad thread pointers");
	if (t->sas_ss_flags & ~(SS_AUTODISARM | SS_DISABLE) ||
	    !user_range_ok(t->sas_ss_sp, t->sas_ss_sp + t->sas_ss_size))
		return bad_image(ctx, "bad alternate signal stack");
	if (!memchr(t->comm, 0, sizeof(t->comm)) || t->pad)
		return bad_image(ctx, "bad thread");
	return 0;
}

/* The main thread as one of the threads: CORE and SIGNALS. */
static void restore_main_thread(struct restore_ctx *ctx,
				struct bproc_image_thread *t)
{
	const struct bproc_image_core *c = &ctx->core;

	memset(t, 0, sizeof(*t));
	t->tid = c->pid;
	t->nr_pending = ctx->sig.nr_pending;
	t->regs = c->regs;
	t->rseq = c->rseq;
	t->rseq_len = c->rseq_len;
	t->rseq_sig = c->rseq_sig;
	t->clear_child_tid = c->clear_child_tid;
	t->robust_list = c->robust_list;
	t->blocked = ctx->sig.blocked;
	t->sas_ss_sp = ctx->sig.sas_ss_sp;
	t->sas_ss_size = ctx->sig.sas_ss_size;
	t->sas_ss_flags = ctx->sig.sas_ss_flags;
	memcpy(t->comm, c->comm, sizeof(t->comm));
}

static int restore_check_core(struct restore_ctx *ctx)
{
	const struct bproc_image_core *c = &ctx->core;
	struct bproc_image_thread t;
	int ret;

	restore_main_thread(ctx, &t);
	ret = restore_check_thread(ctx, &t);
	if (ret)
		return ret;
	if ((c->personality & PER_MASK) != PER_LINUX)
		return bad_image(ctx, "unsupported personality %x",
				 c->personality);
	if (!memchr(c->comm, 0, sizeof(c->comm)) || c->pad)
		return bad_image(ctx, "bad CORE");
	return 0;
}

static u32 current_xstate_size(void)
{
	const struct user_regset_view *view = task_user_regset_view(current);
	int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == NT_X86_XSTATE)
			return view->regsets[i].n * view->regsets[i].size;
	return 0;
}

static int restore_check_xstate(struct restore_ctx *ctx, const u8 *x)
{
	u32 mxcsr;

	memcpy(&mxcsr, x + MXCSR_OFFSET, sizeof(mxcsr));
	if (mxcsr & 0xffff0000)
		return bad_image(ctx, "bad MXCSR");
	if (ctx->core.xstate_kind == BPROC_XSTATE_FXSAVE) {
		if (ctx->xstate_size != 512)
			return bad_image(ctx, "bad FXSAVE size");
		return 0;
	}
	if (ctx->core.xstate_kind == BPROC_XSTATE_XSAVE) {
		u64 hdr[8], xcr0;
		int i;

		if (!boot_cpu_has(X86_FEATURE_XSAVE))
			return bad_image(ctx, "this CPU has no XSAVE");
		if (ctx->xstate_size != current_xstate_size())
			return bad_image(
				ctx, "XSAVE size %u differs from this CPU's",
				ctx->xstate_size);
		xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
		memcpy(hdr, x + XSAVE_HDR_OFFSET, sizeof(hdr));
		if (hdr[0] & ~xcr0)
			return bad_image(
				ctx, "FPU state uses features this CPU lacks");
		for (i = 1; i < 8; i++)
			if (hdr[i])
				return bad_image(ctx, "bad XSAVE header");
		return 0;
	}
	return bad_image(ctx, "bad FPU state kind");
}

/* @flags: those allowed (version 2 and the main thread's list). */
static int restore_check_pending(struct restore_ctx *ctx,
				 const struct bproc_image_siginfo *pending,
				 u32 nr, u32 flags)
{
	u32 i;

	if (ctx->hdr.version < 2)
		flags = 0;
	for (i = 0; i < nr; i++) {
		const struct bproc_image_siginfo *p = &pending[i];
		int signo;

		memcpy(&signo, p->info, sizeof(signo));
		if (p->signo < 1 || p->signo > 64 || signo != p->signo ||
		    p->flags & ~flags)
			return bad_image(ctx, "bad pending signal");
	}
	return 0;
}

static int restore_check_signals(struct restore_ctx *ctx)
{
	const struct bproc_image_signals *s = &ctx->sig;
	u32 i;

	for (i = 0; i < 64; i++) {
		const struct bproc_image_sigaction *a = &s->action[i];

		if (a->handler >= TASK_SIZE_MAX ||
		    a->restorer >= TASK_SIZE_MAX ||
		    a->flags & ~(u64)RESTORE_SA_FLAGS)
			return bad_image(ctx, "bad action for signal %u",
					 i + 1);
		if ((i + 1 == SIGKILL || i + 1 == SIGSTOP) && a->handler)
			return bad_image(ctx, "a handler for signal %u", i + 1);
	}
	return restore_check_pending(ctx, ctx->pending, s->nr_pending,
				     BPROC_SIGINFO_SHARED);
}

/* THREADS: every record whole, checked as the main thread's, by tid. */
static int restore_check_threads(struct restore_ctx *ctx)
{
	const struct bproc_image_threads *h = ctx->threads;
	const u8 *p, *end;
	s32 prev = 0;
	u32 i;
	int ret;

	restore_main_thread(ctx, &ctx->main.t);
	ctx->main.xstate = ctx->xstate;
	ctx->main.pending = ctx->pending;
	if (!h)
		return 0;
	if (!h->nr_threads || h->nr_threads > BPROC_IMAGE_MAX_THREADS ||
	    h->xstate_size != ctx->xstate_size)
		return bad_image(ctx, "bad THREADS");
	ctx->thr = kvcalloc(h->nr_threads, sizeof(*ctx->thr), GFP_KERNEL);
	if (!ctx->thr)
		return -ENOMEM;
	ctx->nr_threads = h->nr_threads;
	p = ctx->threads + sizeof(*h);
	end = ctx->threads + ctx->threads_size;
	for (i = 0; i < ctx->nr_threads; i++) {
		struct restore_thread *rt = &ctx->thr[i];
		u64 need;

		if (end - p < sizeof(rt->t))
			return bad_image(ctx, "thread %u: truncated", i);
		memcpy(&rt->t, p, sizeof(rt->t));
		p += sizeof(rt->t);
		if (rt->t.nr_pending > BPROC_IMAGE_MAX_PENDING)
			return bad_image(ctx, "thread %u: bad pending count",
					 i);
		need = h->xstate_size +
		       (u64)rt->t.nr_pending * sizeof(*rt->pending);
		if ((u64)(end - p) < need)
			return bad_image(ctx, "thread %u: truncated", i);
		rt->xstate_alloc = kzalloc(h->xstate_size + 64, GFP_KERNEL);
		if (!rt->xstate_alloc)
			return -ENOMEM;
		rt->xstate = PTR_ALIGN(rt->xstate_alloc, 64);
		memcpy(rt->xstate, p, h->xstate_size);
		p += h->xstate_size;
		rt->pending = (const void *)p;
		p += rt->t.nr_pending * sizeof(*rt->pending);
		if (rt->t.tid <= prev || rt->t.tid == ctx->core.pid)
			return bad_image(ctx, "thread %u: bad tid %d", i,
					 rt->t.tid);
		prev = rt->t.tid;
		ret = restore_check_thread(ctx, &rt->t);
		if (!ret)
			ret = restore_check_xstate(ctx, rt->xstate);
		if (!ret)
			ret = restore_check_pending(ctx, rt->pending,
						    rt->t.nr_pending, 0);
		if (ret)
			return ret;
	}
	if (p != end)
		return bad_image(ctx, "bad THREADS size");
	return 0;
}

static int restore_check_mm(struct restore_ctx *ctx)
{
	const struct bproc_image_mm *m = &ctx->mmi;

	if (!user_range_ok(m->start_code, m->end_code) ||
	    !user_range_ok(m->start_data, m->end_data) ||
	    !user_range_ok(m->start_brk, m->brk) ||
	    !user_range_ok(m->arg_start, m->arg_end) ||
	    !user_range_ok(m->env_start, m->env_end) ||
	    m->start_stack >= TASK_SIZE_MAX)
		return bad_image(ctx, "bad mm layout");
	if (m->nr_auxv > BPROC_IMAGE_MAX_AUXV || m->nr_auxv % 2 ||
	    m->nr_auxv > AT_VECTOR_SIZE)
		return bad_image(ctx, "bad auxv");
	if (!m->vdso_start || !m->vvar_start || !PAGE_ALIGNED(m->vdso_start) ||
	    !PAGE_ALIGNED(m->vdso_end) || !PAGE_ALIGNED(m->vvar_start) ||
	    !PAGE_ALIGNED(m->vvar_end) || m->vdso_start >= m->vdso_end ||
	    m->vvar_start >= m->vvar_end ||
	    !user_range_ok(m->vdso_start, m->vdso_end) ||
	    !user_range_ok(m->vvar_start, m->vvar_end))
		return bad_image(ctx, "bad vDSO layout");
	return 0;
}

static bool vma_has_content(const struct bproc_image_vma *v)
{
	return v->kind == BPROC_VMA_ANON || v->kind == BPROC_VMA_CONTENT ||
	       v->kind == BPROC_VMA_SHANON ||
	       (v->kind == BPROC_VMA_FILE && !(v->flags & BPROC_VMA_SHARED));
}

static int restore_check_vmas(struct restore_ctx *ctx)
{
	const struct bproc_image_mm *m = &ctx->mmi;
	u64 prev_end = PAGE_SIZE;
	u32 i, vdso = 0, vvar = 0;

	if (ctx->paths_len && ctx->paths[ctx->paths_len - 1])
		return bad_image(ctx, "bad PATHS");
	for (i = 0; i < ctx->nr_vmas; i++) {
		const struct bproc_image_vma *v = &ctx->vmas[i];
		u64 pages;

		if (!PAGE_ALIGNED(v->start) || !PAGE_ALIGNED(v->end) ||
		    v->start >= v->end || v->start < prev_end ||
		    v->end > TASK_SIZE_MAX)
			return bad_image(ctx, "mapping %u: bad range", i);
		prev_end = v->end;
		pages = (v->end - v->start) >> PAGE_SHIFT;
		if (v->prot & ~7U ||
		    v->flags & ~(BPROC_VMA_SHARED | BPROC_VMA_GROWSDOWN |
				 BPROC_VMA_MAYWRITE | BPROC_VMA_NORESERVE |
				 BPROC_VMA_EXE) ||
		    v->pgoff > (ULONG_MAX >> PAGE_SHIFT) - pages)
			return bad_image(ctx, "mapping %u: bad flags", i);
		if (v->path != BPROC_IMAGE_NO_PATH && !path_ok(ctx, v->path) &&
		    v->kind != BPROC_VMA_MEMFD)
			return bad_image(ctx, "mapping %u: bad path", i);
		switch (v->kind) {
		case BPROC_VMA_FILE:
			if (v->path == BPROC_IMAGE_NO_PATH)
				return bad_image(ctx, "mapping %u: no path", i);
			break;
		case BPROC_VMA_ANON:
		case BPROC_VMA_CONTENT:
			if (v->flags & (BPROC_VMA_SHARED | BPROC_VMA_MAYWRITE))
				return bad_image(ctx, "mapping %u: shared", i);
			break;
		case BPROC_VMA_SHANON:
			if (ctx->hdr.version < 2 ||
			    !(v->flags & BPROC_VMA_SHARED) ||
			    v->flags & (BPROC_VMA_GROWSDOWN | BPROC_VMA_EXE |
					BPROC_VMA_MAYWRITE) ||
			    v->path != BPROC_IMAGE_NO_PATH)
				return bad_image(
					ctx, "mapping %u: bad shared memory",
					i);
			break;
		case BPROC_VMA_MEMFD: /* its fd: restore_check_fds */
			if (ctx->hdr.version < 3 ||
			    !(v->flags & BPROC_VMA_SHARED) ||
			    v->flags & (BPROC_VMA_GROWSDOWN | BPROC_VMA_EXE))
				return bad_image(ctx, "mapping %u: bad memfd",
						 i);
			break;
		case BPROC_VMA_VDSO:
			if (v->start != m->vdso_start || v->end != m->vdso_end)
				return bad_image(ctx, "bad vDSO mapping");
			vdso++;
			break;
		case BPROC_VMA_VVAR:
			if (v->start != m->vvar_start || v->end != m->vvar_end)
				return bad_image(ctx, "bad vvar mapping");
			vvar++;
			break;
		default:
			return bad_image(ctx, "mapping %u: bad kind", i);
		}
	}
	if (vdso != 1 || vvar != 1)
		return bad_image(ctx, "vDSO mappings missing");
	return 0;
}

static int restore_check_pagemap(struct restore_ctx *ctx)
{
	u64 total = 0, prev_end = 0;
	u32 r, vi = 0;

	for (r = 0; r < ctx->nr_runs; r++) {
		const struct bproc_image_pagemap *run = &ctx->runs[r];
		u64 addr = run->vaddr, end;

		if (!PAGE_ALIGNED(addr) || !run->nr_pages ||
		    run->nr_pages > (TASK_SIZE_MAX >> PAGE_SHIFT) ||
		    addr < prev_end || addr >= TASK_SIZE_MAX)
			return bad_image(ctx, "page run %u: bad range", r);
		end = addr + (run->nr_pages << PAGE_SHIFT);
		if (end > TASK_SIZE_MAX)
			return bad_image(ctx, "page run %u: bad range", r);
		prev_end = end;
		total += run->nr_pages;
		/* Every page of the run lies in a mapping that takes content. */
		while (addr < end) {
			while (vi < ctx->nr_vmas && ctx->vmas[vi].end <= addr)
				vi++;
			if (vi == ctx->nr_vmas || ctx->vmas[vi].start > addr ||
			    !vma_has_content(&ctx->vmas[vi]))
				return bad_image(
					ctx, "page run %u: outside memory", r);
			addr = min(end, ctx->vmas[vi].end);
		}
	}
	if (total != ctx->nr_pages)
		return bad_image(ctx, "page map and page data disagree");
	return 0;
}

static int restore_check_taskenv(struct restore_ctx *ctx)
{
	const struct bproc_image_taskenv *env = ctx->taskenv;
	const struct bproc_image_file *files;
	u64 gsize;
	u32 i;

	if (env->nr_groups > BPROC_IMAGE_MAX_GROUPS ||
	    env->nr_files > BPROC_IMAGE_MAX_FILES)
		return bad_image(ctx, "bad TASKENV");
	gsize = ALIGN((u64)env->nr_groups * 4, 8);
	if (ctx->taskenv_size !=
	    sizeof(*env) + gsize + (u64)env->nr_files * sizeof(*files))
		return bad_image(ctx, "bad TASKENV size");
	if (!path_ok(ctx, env->cwd))
		return bad_image(ctx, "bad working directory");
	files = ctx->taskenv + sizeof(*env) + gsize;
	for (i = 0; i < env->nr_files; i++) {
		u32 mode = files[i].mode;
		bool ok;

		/* a stream: a pipe, FIFO, device, socket or nameless file */
		if (files[i].path == BPROC_IMAGE_NO_PATH)
			ok = (S_ISFIFO(mode) || S_ISCHR(mode) ||
			      S_ISSOCK(mode) || S_ISREG(mode)) &&
			     !files[i].pos;
		else
			ok = (S_ISREG(mode) || S_ISDIR(mode) ||
			      S_ISCHR(mode)) &&
			     path_ok(ctx, files[i].path);
		if (!ok || files[i].fd < 0 ||
		    (files[i].fd < 3 &&
		     !(ctx->hdr.dump_flags & BPROC_DUMP_STREAMS)) ||
		    (i && files[i].fd <= files[i - 1].fd))
			return bad_image(ctx, "bad open file %u", i);
	}
	ctx->env_file = files;
	ctx->env_umask = env->umask;
	return 0;
}

/* The FDS entry at @fd, or NULL. */
static const struct bproc_image_fd *restore_fd_at(struct restore_ctx *ctx,
						  s32 fd)
{
	u32 i;

	for (i = 0; i < ctx->nr_fds; i++)
		if (ctx->fds[i].fd == fd)
			return &ctx->fds[i];
	return NULL;
}

/* The TASKENV file at @fd that is no stream: true if there is one. */
static bool restore_file_at(struct restore_ctx *ctx, s32 fd)
{
	const struct bproc_image_taskenv *env = ctx->taskenv;
	u32 i;

	for (i = 0; i < env->nr_files; i++)
		if (ctx->env_file[i].fd == fd)
			return ctx->env_file[i].path != BPROC_IMAGE_NO_PATH;
	return false;
}

/*
 * FDS: every entry's state within what the system calls take, at an fd
 * of its own, by increasing fd; every epoll target a descriptor of the
 * image; the memfds' sizes those of MEMFD; a memfd mapping's fd a memfd.
 */
static int restore_check_fds(struct restore_ctx *ctx)
{
	const struct bproc_image_fds *h = ctx->fdsec;
	u64 memfd = 0;
	u32 i;

	if (h) {
		if (h->nr_fds > BPROC_IMAGE_MAX_FDS ||
		    h->nr_targets > BPROC_IMAGE_MAX_TARGETS ||
		    ctx->fdsec_size !=
			    sizeof(*h) + (u64)h->nr_fds * sizeof(*ctx->fds) +
				    (u64)h->nr_targets * sizeof(*ctx->targets))
			return bad_image(ctx, "bad FDS size");
		ctx->nr_fds = h->nr_fds;
		ctx->nr_targets = h->nr_targets;
		ctx->fds = (const void *)(h + 1);
		ctx->targets = (const void *)(ctx->fds + ctx->nr_fds);
	}
	for (i = 0; i < ctx->nr_fds; i++) {
		const struct bproc_image_fd *e = &ctx->fds[i];
		const char *why = bproc_check_fd(e);

		if (why)
			return bad_image(ctx, "FDS entry %u: %s", i, why);
		if ((i && e->fd <= ctx->fds[i - 1].fd) ||
		    (e->fd < 3 &&
		     !(ctx->hdr.dump_flags & BPROC_DUMP_STREAMS)) ||
		    restore_file_at(ctx, e->fd))
			return bad_image(ctx, "FDS entry %u: bad fd %d", i,
					 e->fd);
		if (e->kind != BPROC_FD_MEMFD)
			continue;
		if (e->memfd.name >= ctx->paths_len ||
		    strlen(ctx->paths + e->memfd.name) > 249)
			return bad_image(ctx, "FDS entry %u: bad memfd name",
					 i);
		memfd += e->memfd.size;
	}
	if (memfd != ctx->memfd_size)
		return bad_image(ctx, "memfd sizes and MEMFD disagree");
	for (i = 0; i < ctx->nr_targets; i++) {
		const struct bproc_image_epoll_target *t = &ctx->targets[i];
		const struct bproc_image_epoll_target *p =
			i ? &ctx->targets[i - 1] : NULL;
		const struct bproc_image_fd *ep = restore_fd_at(ctx, t->epfd);
		const struct bproc_image_fd *tf = restore_fd_at(ctx, t->tfd);

		if (!ep || ep->kind != BPROC_FD_EPOLL || t->pad ||
		    !bproc_check_target_events(t->events) ||
		    (i && (t->epfd < p->epfd ||
			   (t->epfd == p->epfd && t->tfd <= p->tfd))))
			return bad_image(ctx, "epoll target %u: bad entry", i);
		if (tf ? tf->fd_flags & BPROC_FD_UNOPENED || tf == ep :
			 !restore_file_at(ctx, t->tfd))
			return bad_image(ctx, "epoll target %u: bad fd %d", i,
					 t->tfd);
	}
	for (i = 0; i < ctx->nr_vmas; i++) {
		const struct bproc_image_fd *e;

		if (ctx->vmas[i].kind != BPROC_VMA_MEMFD)
			continue;
		e = restore_fd_at(ctx, ctx->vmas[i].path);
		if (!e || e->kind != BPROC_FD_MEMFD)
			return bad_image(ctx, "mapping %u: no memfd at fd %d",
					 i, (s32)ctx->vmas[i].path);
	}
	return 0;
}

static const char *const restore_fd_kind_name[] = {
	[BPROC_FD_EVENTFD] = "eventfd",	  [BPROC_FD_TIMERFD] = "timerfd",
	[BPROC_FD_SIGNALFD] = "signalfd", [BPROC_FD_EPOLL] = "epoll instance",
	[BPROC_FD_MEMFD] = "memfd",
};

/*
 * BPROC_RESTORE_FILES: the descriptor map's file at @fd, taken off the map
 * if @take (a memfd only mapped: the engine holds it, no fd gets it), or
 * NULL if the map has none there.
 */
static struct file *restore_map_file(struct restore_ctx *ctx, s32 fd, bool take)
{
	struct file *f;
	u32 k;

	for (k = 0; k < ctx->nr_map; k++) {
		if (ctx->map_fds[k] != fd || !ctx->map_files[k])
			continue;
		f = ctx->map_files[k];
		if (take)
			ctx->map_files[k] = NULL;
		else
			get_file(f);
		return f;
	}
	return NULL;
}

/*
 * Before the point of no return: the objects of FDS, made by whoever
 * restores at their fds, each of its kind (a memfd of its size), held
 * for the memfd mappings. A ghost's restore (BPROC_RESTORE_FILES) takes
 * each from its descriptor map (restore_take_map, before this), where
 * the ghost's agent put the ones it made: each object's fd must be there.
 */
static int restore_take_fds(struct restore_ctx *ctx, u32 flags)
{
	bool ghost = flags & BPROC_RESTORE_FILES;
	u32 i;

	if (!ctx->nr_fds)
		return 0;
	if (ghost && !ctx->map_given)
		return bad_image(
			ctx,
			"fd %d: the image's kernel objects must be given in a descriptor map",
			ctx->fds[0].fd);
	ctx->fd_files =
		kvcalloc(ctx->nr_fds, sizeof(*ctx->fd_files), GFP_KERNEL);
	if (!ctx->fd_files)
		return -ENOMEM;
	for (i = 0; i < ctx->nr_fds; i++) {
		const struct bproc_image_fd *e = &ctx->fds[i];
		struct file *f;

		if (ghost)
			f = restore_map_file(ctx, e->fd,
					     e->fd_flags & BPROC_FD_UNOPENED);
		else
			f = fget(e->fd);
		ctx->fd_files[i] = f;
		if (!f && ghost) {
			bproc_reason(
				ctx->reason,
				"fd %d: the image's %s is not in the descriptor map",
				e->fd, restore_fd_kind_name[e->kind]);
			return -EBADF;
		}
		if (!f || bproc_fd_kind(f) != e->kind ||
		    (e->kind == BPROC_FD_MEMFD &&
		     (i_size_read(file_inode(f)) != e->memfd.size ||
		      !(f->f_mode & FMODE_WRITE)))) {
			bproc_reason(
				ctx->reason,
				"fd %d is not the image's %s (whoever restores makes it)",
				e->fd, restore_fd_kind_name[e->kind]);
			return -EBADF;
		}
	}
	return 0;
}

/*
 * After the memory is in place: the memfds that were only mapped (a
 * ghost's were taken off its map, at no fd of its).
 */
static void restore_close_unopened(struct restore_ctx *ctx, u32 flags)
{
	u32 i;

	for (i = 0; !(flags & BPROC_RESTORE_FILES) && i < ctx->nr_fds; i++)
		if (ctx->fds[i].fd_flags & BPROC_FD_UNOPENED)
			close_fd(ctx->fds[i].fd);
}

/*
 * BPROC_RESTORE_FILES: open the image's files (fd 3 and up) as bproc-ckpt
 * does, with the caller's credentials, before the point of no return; but
 * not those whose number a given descriptor takes (restore_take_map).
 */
static int restore_open_env_files(struct restore_ctx *ctx)
{
	const struct bproc_image_taskenv *env = ctx->taskenv;
	const struct bproc_image_file *f = ctx->env_file;
	u32 i, n = env->nr_files;

	if (!n)
		return 0;
	if (f[n - 1].fd >= rlimit(RLIMIT_NOFILE)) {
		bproc_reason(ctx->reason, "fd %d is over the open files limit",
			     f[n - 1].fd);
		return -EMFILE;
	}
	ctx->env_files = kvcalloc(n, sizeof(*ctx->env_files), GFP_KERNEL);
	ctx->nr_env_files = ctx->env_files ? n : 0;
	if (!ctx->env_files)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *path = ctx->paths + f[i].path;
		int flags =
			f[i].flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
		struct file *file;
		loff_t pos;

		if (ctx->env_given[i])
			continue; /* a descriptor given: restore_take_map */
		file = filp_open(path, flags, 0);
		if (IS_ERR(file)) {
			bproc_reason(ctx->reason, "fd %d: cannot open %s (%ld)",
				     f[i].fd, path, PTR_ERR(file));
			return PTR_ERR(file);
		}
		ctx->env_files[i] = file;
		if (S_ISDIR(f[i].mode))
			continue;
		pos = vfs_llseek(file, f[i].pos, SEEK_SET);
		if (pos < 0 && pos != -ESPIPE) {
			bproc_reason(ctx->reason, "fd %d: cannot seek in %s",
				     f[i].fd, path);
			return pos;
		}
	}
	return 0;
}

/*
 * BPROC_RESTORE_FILES: the descriptors the program gets besides the
 * image's regular files, taken before the point of no return: with a map,
 * fd map[i].fd is the caller's fd map[i].from; without one, the caller's
 * fds 0-2 and those the image's streams name stay where they are. Every
 * stream of the image must be among them; an image's file at the number
 * of a given descriptor is not reopened (it was one of the process's
 * streams: a file its shell redirected its output to, say).
 */
static int restore_take_map(struct restore_ctx *ctx,
			    const struct bproc_fd_map *map, u32 nr)
{
	const struct bproc_image_taskenv *env = ctx->taskenv;
	const struct bproc_image_file *f = ctx->env_file;
	u32 i, k, cap = map ? nr : 3 + env->nr_files;
	int fd, top;

	ctx->map_files =
		kvcalloc(cap ?: 1, sizeof(*ctx->map_files), GFP_KERNEL);
	ctx->map_fds = kvcalloc(cap ?: 1, sizeof(*ctx->map_fds), GFP_KERNEL);
	if (!ctx->map_files || !ctx->map_fds)
		return -ENOMEM;
	ctx->map_given = map;
	for (i = 0; map && i < nr; i++) {
		if (map[i].fd < 0 || map[i].fd >= rlimit(RLIMIT_NOFILE) ||
		    (i && map[i].fd <= map[i - 1].fd))
			return bad_image(ctx, "bad descriptor map entry %u", i);
		ctx->map_files[i] = fget(map[i].from);
		if (!ctx->map_files[i]) {
			bproc_reason(ctx->reason,
				     "fd %d (to be fd %d) is not open",
				     map[i].from, map[i].fd);
			return -EBADF;
		}
		ctx->map_fds[i] = map[i].fd;
		ctx->nr_map = i + 1;
	}
	for (fd = 0; !map && fd < 3; fd++) {
		ctx->map_files[ctx->nr_map] = fget(fd);
		if (ctx->map_files[ctx->nr_map])
			ctx->map_fds[ctx->nr_map++] = fd;
	}
	for (i = 0; !map && i < env->nr_files; i++) {
		if (f[i].path != BPROC_IMAGE_NO_PATH)
			continue;
		ctx->map_files[ctx->nr_map] = fget(f[i].fd);
		if (!ctx->map_files[ctx->nr_map]) {
			bproc_reason(ctx->reason, "stream fd %d is not open",
				     f[i].fd);
			return -EBADF;
		}
		ctx->map_fds[ctx->nr_map++] = f[i].fd;
	}
	top = ctx->nr_map ? ctx->map_fds[ctx->nr_map - 1] : 0;
	if (env->nr_files && f[env->nr_files - 1].fd > top)
		top = f[env->nr_files - 1].fd;
	ctx->holes = kvmalloc_array(top + 1, sizeof(*ctx->holes), GFP_KERNEL);
	ctx->env_given = kvcalloc(env->nr_files ?: 1, sizeof(*ctx->env_given),
				  GFP_KERNEL);
	if (!ctx->holes || !ctx->env_given)
		return -ENOMEM;
	/* both lists go by increasing fd */
	for (i = 0, k = 0; i < env->nr_files; i++) {
		while (k < ctx->nr_map && ctx->map_fds[k] < f[i].fd)
			k++;
		ctx->env_given[i] =
			k < ctx->nr_map && ctx->map_fds[k] == f[i].fd;
		if (f[i].path == BPROC_IMAGE_NO_PATH && !ctx->env_given[i])
			return bad_image(ctx,
					 "fd %d: a stream without a descriptor",
					 f[i].fd);
	}
	return 0;
}

/*
 * Install @file at @fd (close-on-exec with @flags O_CLOEXEC), the lowest
 * free slot being what a new one gets.
 */
static int restore_install_at(struct restore_ctx *ctx, int fd,
			      struct file *file, u32 flags,
			      unsigned int *nr_holes)
{
	for (;;) {
		int got = get_unused_fd_flags(flags & O_CLOEXEC);

		if (got < 0)
			return got;
		if (got == fd) {
			fd_install(got, file);
			return 0;
		}
		if (got > fd) {
			put_unused_fd(got);
			return -EBUSY;
		}
		ctx->holes[(*nr_holes)++] = got;
	}
}

/*
 * The image's flags for its descriptor @fd (a given one's), or 0: a
 * kernel object's (FDS) close-on-exec flag as O_CLOEXEC.
 */
static u32 restore_fd_flags(struct restore_ctx *ctx, int fd)
{
	const struct bproc_image_taskenv *env = ctx->taskenv;
	const struct bproc_image_file *f = ctx->env_file;
	const struct bproc_image_fd *e = restore_fd_at(ctx, fd);
	u32 i;

	if (e)
		return e->fd_flags & BPROC_FD_CLOEXEC ? O_CLOEXEC : 0;
	for (i = 0; i < env->nr_files; i++)
		if (f[i].fd == fd)
			return f[i].flags;
	return 0;
}

/*
 * After the point of no return: the caller's descriptors make way for the
 * program's, the given ones (restore_take_map) and the image's files, each
 * at its number, by increasing number (the free slots below one are held
 * meanwhile).
 */
static int restore_install_env_files(struct restore_ctx *ctx)
{
	const struct bproc_image_taskenv *env = ctx->taskenv;
	const struct bproc_image_file *f = ctx->env_file;
	unsigned int fd, max, nr_holes = 0;
	u32 i = 0, k = 0;
	int ret = 0;

	rcu_read_lock();
	max = files_fdtable(current->files)->max_fds;
	rcu_read_unlock();
	for (fd = 0; fd < max; fd++)
		close_fd(fd);
	while (!ret && (i < env->nr_files || k < ctx->nr_map)) {
		if (i < env->nr_files && ctx->env_given[i]) {
			i++; /* one of the given descriptors */
		} else if (k < ctx->nr_map && !ctx->map_files[k]) {
			k++; /* a memfd only mapped (restore_take_fds) */
		} else if (k < ctx->nr_map &&
			   (i == env->nr_files || ctx->map_fds[k] < f[i].fd)) {
			ret = restore_install_at(
				ctx, ctx->map_fds[k], ctx->map_files[k],
				restore_fd_flags(ctx, ctx->map_fds[k]),
				&nr_holes);
			if (!ret)
				ctx->map_files[k] = NULL;
			k++;
		} else {
			ret = restore_install_at(ctx, f[i].fd,
						 ctx->env_files[i], f[i].flags,
						 &nr_holes);
			if (!ret)
				ctx->env_files[i] = NULL;
			i++;
		}
	}
	while (nr_holes)
		put_unused_fd(ctx->holes[--nr_holes]);
	if (ret)
		bproc_reason(ctx->reason, "the open files do not go back (%d)",
			     ret);
	return ret;
}

/* Can the calling process take this image? Its vDSO must match. */
static int restore_check_current(struct restore_ctx *ctx)
{
	const struct bproc_image_mm *m = &ctx->mmi;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool ok;
	u32 crc;
	int ret;

	if (get_nr_threads(current) != 1 + ctx->nr_threads) {
		bproc_reason(
			ctx->reason,
			"the restoring process has %d threads, the image %u",
			get_nr_threads(current), 1 + ctx->nr_threads);
		return -EBUSY;
	}
	mmap_read_lock(mm);
	ok = (unsigned long)mm->context.vdso == m->vdso_start;
	vma = find_vma(mm, m->vdso_start);
	ok = ok && vma && vma->vm_start == m->vdso_start &&
	     vma->vm_end == m->vdso_end;
	vma = find_vma(mm, m->vvar_start);
	ok = ok && vma && vma->vm_start == m->vvar_start &&
	     vma->vm_end == m->vvar_end && vma->vm_ops && vma->vm_ops->name &&
	     !strcmp(vma->vm_ops->name(vma), "[vvar]");
	mmap_read_unlock(mm);
	if (!ok)
		return bad_image(
			ctx,
			"the vDSO is not at the image's place or differs in size (kernel %s)",
			ctx->hdr.release);
	ret = bproc_vdso_crc(current, m->vdso_start,
			     m->vdso_end - m->vdso_start, &crc);
	if (ret)
		return ret;
	if (crc != m->vdso_crc)
		return bad_image(ctx, "the vDSO differs (image from kernel %s)",
				 ctx->hdr.release);
	return 0;
}

/* Open the files the mappings need, before anything is changed. */
static int restore_open_files(struct restore_ctx *ctx)
{
	u32 i;

	ctx->files = kvcalloc(ctx->nr_vmas, sizeof(*ctx->files), GFP_KERNEL);
	if (!ctx->files)
		return -ENOMEM;
	for (i = 0; i < ctx->nr_vmas; i++) {
		const struct bproc_image_vma *v = &ctx->vmas[i];
		int mode = O_RDONLY;
		struct file *f;

		if (v->kind == BPROC_VMA_MEMFD) {
			const struct bproc_image_fd *e =
				restore_fd_at(ctx, v->path);

			ctx->files[i] = get_file(ctx->fd_files[e - ctx->fds]);
			continue;
		}
		if (v->kind != BPROC_VMA_FILE)
			continue;
		if ((v->flags & BPROC_VMA_SHARED) &&
		    (v->flags & BPROC_VMA_MAYWRITE))
			mode = O_RDWR;
		if (i && ctx->files[i - 1] &&
		    ctx->vmas[i - 1].path == v->path &&
		    (ctx->files[i - 1]->f_flags & O_ACCMODE) == mode) {
			ctx->files[i] = get_file(ctx->files[i - 1]);
			continue;
		}
		f = filp_open(ctx->paths + v->path, mode | O_LARGEFILE, 0);
		if (IS_ERR(f)) {
			bproc_reason(ctx->reason, "cannot open %s (%ld)",
				     ctx->paths + v->path, PTR_ERR(f));
			return PTR_ERR(f);
		}
		ctx->files[i] = f;
		if (!S_ISREG(file_inode(f)->i_mode)) {
			bproc_reason(ctx->reason, "%s is not a regular file",
				     ctx->paths + v->path);
			return -EINVAL;
		}
		if ((v->prot & BPROC_PROT_EXEC) &&
		    (f->f_path.mnt->mnt_flags & MNT_NOEXEC)) {
			bproc_reason(ctx->reason, "%s is on a noexec mount",
				     ctx->paths + v->path);
			return -EACCES;
		}
	}
	return 0;
}

static unsigned long prot_of(const struct bproc_image_vma *v)
{
	return ((v->prot & BPROC_PROT_READ) ? PROT_READ : 0) |
	       ((v->prot & BPROC_PROT_WRITE) ? PROT_WRITE : 0) |
	       ((v->prot & BPROC_PROT_EXEC) ? PROT_EXEC : 0);
}

/* Unmap all of the caller's memory but the vDSO and vvar. */
static int restore_unmap_all(struct restore_ctx *ctx)
{
	const struct bproc_image_mm *m = &ctx->mmi;
	unsigned long keep[2][2] = { { m->vvar_start, m->vvar_end },
				     { m->vdso_start, m->vdso_end } };
	unsigned long from = 0;
	int i, ret;

	if (keep[0][0] > keep[1][0]) {
		swap(keep[0][0], keep[1][0]);
		swap(keep[0][1], keep[1][1]);
	}
	for (i = 0; i <= 2; i++) {
		unsigned long to = i < 2 ? keep[i][0] : TASK_SIZE;

		if (to > from) {
			ret = vm_munmap(from, to - from);
			if (ret)
				return ret;
		}
		if (i < 2)
			from = max(from, keep[i][1]);
	}
	return 0;
}

static int restore_map_all(struct restore_ctx *ctx)
{
	u32 i;

	for (i = 0; i < ctx->nr_vmas; i++) {
		const struct bproc_image_vma *v = &ctx->vmas[i];
		unsigned long flags = MAP_FIXED, addr;
		struct file *file = NULL;

		if (v->kind == BPROC_VMA_VDSO || v->kind == BPROC_VMA_VVAR)
			continue;
		if (v->flags & BPROC_VMA_GROWSDOWN)
			flags |= MAP_GROWSDOWN;
		if (v->flags & BPROC_VMA_NORESERVE)
			flags |= MAP_NORESERVE;
		if (v->kind == BPROC_VMA_FILE || v->kind == BPROC_VMA_MEMFD) {
			file = ctx->files[i];
			flags |= (v->flags & BPROC_VMA_SHARED) ? MAP_SHARED :
								 MAP_PRIVATE;
		} else if (v->kind == BPROC_VMA_SHANON) {
			flags |= MAP_SHARED | MAP_ANONYMOUS;
		} else {
			flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		}
		addr = vm_mmap(file, v->start, v->end - v->start, prot_of(v),
			       flags, file ? v->pgoff << PAGE_SHIFT : 0);
		if (addr != v->start) {
			bproc_reason(ctx->reason, "mapping %llx failed (%ld)",
				     v->start, (long)addr);
			return IS_ERR_VALUE(addr) ? (long)addr : -ENOMEM;
		}
	}
	return 0;
}

/*
 * Read page data into the process's memory: pin the pages for writing
 * (FOLL_FORCE, as ptrace does, so read-only and PROT_NONE memory works
 * too; a transparent huge page is allocated at once where it fits) and
 * read straight into them, RESTORE_BATCH pages a call. The pages are fresh
 * anonymous copies, dirty from the write fault: no set_page_dirty needed.
 * (Reading into a user iovec instead, faulting page by page, measured
 * slower.) Shared anonymous memory (@foll without FOLL_WRITE: a forced
 * write to a shared mapping is refused when it is read-only) is pinned
 * for reading: its pages are its shmem file's own, written here and
 * marked dirty.
 */
static int restore_read_pinned(struct restore_ctx *ctx, unsigned long addr,
			       unsigned long nr_pages, struct page **pages,
			       struct bio_vec *bv, unsigned int foll)
{
	struct mm_struct *mm = current->mm;
	int ret = 0;

	while (nr_pages && !ret) {
		unsigned long nr =
			min_t(unsigned long, nr_pages, RESTORE_BATCH);
		struct iov_iter iter;
		long got, i;

		mmap_read_lock(mm);
		got = get_user_pages_remote(mm, addr, nr, foll, pages, NULL,
					    NULL);
		mmap_read_unlock(mm);
		if (got <= 0)
			return got ? got : -EFAULT;
		for (i = 0; i < got && !(foll & FOLL_WRITE); i++) {
			/* pinned for reading: written only if shmem's own */
			if (PageAnon(pages[i]) ||
			    is_zero_pfn(page_to_pfn(pages[i]))) {
				bproc_reason(ctx->reason,
					     "memory at %lx is not shared",
					     addr);
				ret = -EFAULT;
			}
		}
		if (ret) {
			for (i = 0; i < got; i++)
				put_page(pages[i]);
			return ret;
		}
		for (i = 0; i < got; i++) {
			bv[i].bv_page = pages[i];
			bv[i].bv_len = PAGE_SIZE;
			bv[i].bv_offset = 0;
		}
		iov_iter_bvec(&iter, ITER_DEST, bv, got, got * PAGE_SIZE);
		while (iov_iter_count(&iter)) {
			ssize_t n =
				vfs_iter_read(ctx->img, &iter, &ctx->pos, 0);

			if (n <= 0) {
				bproc_reason(ctx->reason,
					     "page data cut short");
				ret = n ? n : -EINVAL;
				break;
			}
		}
		for (i = 0; i < got; i++) {
			if (!PageAnon(pages[i]))
				set_page_dirty_lock(pages[i]);
			put_page(pages[i]);
		}
		addr += got * PAGE_SIZE;
		nr_pages -= got;
	}
	return ret;
}

/* Read the page contents into the new mappings, run by run. */
static int restore_pages(struct restore_ctx *ctx)
{
	struct page **pages;
	struct bio_vec *bv;
	int ret = 0;
	u32 r, vi = 0;

	pages = kvmalloc_array(RESTORE_BATCH, sizeof(*pages), GFP_KERNEL);
	bv = kvmalloc_array(RESTORE_BATCH, sizeof(*bv), GFP_KERNEL);
	if (!pages || !bv) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (r = 0; r < ctx->nr_runs && !ret; r++) {
		unsigned long addr = ctx->runs[r].vaddr;
		unsigned long end =
			addr + (ctx->runs[r].nr_pages << PAGE_SHIFT);

		/* Checked before: the run's pieces lie in mappings. */
		while (addr < end && !ret) {
			const struct bproc_image_vma *v;
			unsigned long piece;

			while (ctx->vmas[vi].end <= addr)
				vi++;
			v = &ctx->vmas[vi];
			piece = min(end, (unsigned long)v->end) - addr;
			if (fatal_signal_pending(current))
				ret = -EINTR;
			else
				ret = restore_read_pinned(
					ctx, addr, piece >> PAGE_SHIFT, pages,
					bv,
					/* shared memory: its own pages */
					v->kind == BPROC_VMA_SHANON ?
						FOLL_FORCE :
						FOLL_WRITE | FOLL_FORCE);
			addr += piece;
		}
	}
out_free:
	kvfree(bv);
	kvfree(pages);
	return ret;
}

static void restore_mm_layout(struct restore_ctx *ctx)
{
	const struct bproc_image_mm *m = &ctx->mmi;
	struct mm_struct *mm = current->mm;

	mmap_write_lock(mm);
	mm->start_code = m->start_code;
	mm->end_code = m->end_code;
	mm->start_data = m->start_data;
	mm->end_data = m->end_data;
	mm->start_brk = m->start_brk;
	mm->brk = m->brk;
	mm->start_stack = m->start_stack;
	spin_lock(&mm->arg_lock);
	mm->arg_start = m->arg_start;
	mm->arg_end = m->arg_end;
	mm->env_start = m->env_start;
	mm->env_end = m->env_end;
	spin_unlock(&mm->arg_lock);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	memcpy(mm->saved_auxv, m->auxv, m->nr_auxv * sizeof(u64));
	mmap_write_unlock(mm);
}

/* The process's signal actions (shared by its threads). */
static void restore_sigactions(struct restore_ctx *ctx, bool keep_pending)
{
	const struct bproc_image_signals *s = &ctx->sig;
	struct sighand_struct *sighand = current->sighand;
	u32 i;

	if (fatal_signal_pending(current))
		return; /* dying anyway: keep the SIGKILL */
	if (!keep_pending)
		flush_signals(current);
	spin_lock_irq(&sighand->siglock);
	for (i = 0; i < 64; i++) {
		struct sigaction *sa = &sighand->action[i].sa;

		sa->sa_handler =
			(__sighandler_t)(unsigned long)s->action[i].handler;
		sa->sa_flags = s->action[i].flags;
		sa->sa_restorer =
			(__sigrestore_t)(unsigned long)s->action[i].restorer;
		siginitset(&sa->sa_mask,
			   s->action[i].mask &
				   ~(sigmask(SIGKILL) | sigmask(SIGSTOP)));
	}
	spin_unlock_irq(&sighand->siglock);
}

/*
 * The signals pending for the whole process, once every thread is there:
 * each to the first thread, main thread first, that does not block it.
 */
static void restore_shared_pending(struct restore_ctx *ctx)
{
	u32 i, k;

	for (i = 0; i < ctx->sig.nr_pending; i++) {
		const struct bproc_image_siginfo *p = &ctx->pending[i];
		struct task_struct *to = current;
		u64 bit = 1ULL << (p->signo - 1);
		kernel_siginfo_t info;

		if (!(p->flags & BPROC_SIGINFO_SHARED))
			continue;
		for (k = 0; ctx->sig.blocked & bit && k < ctx->nr_threads; k++)
			if (!(ctx->thr[k].t.blocked & bit)) {
				to = ctx->thr[k].task;
				break;
			}
		memcpy(&info, p->info, sizeof(info));
		send_sig_info(p->signo, &info, to);
	}
}

static void restore_fsgs(u64 fsbase, u64 gsbase)
{
	unsigned long flags;

	preempt_disable();
	loadsegment(fs, 0);
	current->thread.fsindex = 0;
	current->thread.fsbase = fsbase;
	x86_fsbase_write_cpu(fsbase);

	/* The user's GS base is the inactive one while in the kernel. */
	current->thread.gsbase = gsbase;
	if (boot_cpu_has(X86_FEATURE_FSGSBASE)) {
		local_irq_save(flags);
		native_swapgs();
		wrgsbase(gsbase);
		native_swapgs();
		local_irq_restore(flags);
	} else {
		wrmsrl(MSR_KERNEL_GS_BASE, gsbase);
	}
	preempt_enable();
}

/* Load the image's FPU state into the registers, owned by current. */
static int restore_fpu(struct restore_ctx *ctx, void *buf)
{
	int err;

	fpregs_lock();
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return(); /* our state is live from here on */
	if (ctx->core.xstate_kind == BPROC_XSTATE_XSAVE) {
		u64 mask = xgetbv(XCR_XFEATURE_ENABLED_MASK) & ~XFEATURE_PKRU;

		asm volatile("1: xrstor64 (%[buf])\n\t"
			     "xor %[err], %[err]\n"
			     "2:\n\t" _ASM_EXTABLE_TYPE(1b, 2b,
							EX_TYPE_FAULT_MCE_SAFE)
			     : [err] "=a"(err)
			     : [buf] "D"(buf), "a"((u32)mask),
			       "d"((u32)(mask >> 32))
			     : "memory");
	} else {
		asm volatile("1: fxrstor64 (%[buf])\n\t"
			     "xor %[err], %[err]\n"
			     "2:\n\t" _ASM_EXTABLE_TYPE(1b, 2b,
							EX_TYPE_FAULT_MCE_SAFE)
			     : [err] "=a"(err)
			     : [buf] "D"(buf), "a"(0)
			     : "memory");
	}
	fpregs_unlock();
	if (err)
		bproc_reason(ctx->reason, "the FPU state does not load");
	return err ? -EINVAL : 0;
}

static void restore_syscall_fixup(struct callback_head *work)
{
	struct restore_syscall_work *w =
		container_of(work, struct restore_syscall_work, work);
	struct pt_regs *regs = task_pt_regs(current);

	regs->orig_ax = w->orig_ax;
	regs->ax = w->ax;
	if ((long)regs->orig_ax >= 0 &&
	    (long)regs->ax == -ERESTART_RESTARTBLOCK)
		regs->ax = -ERESTARTNOHAND;
	kfree(w);
	module_put(THIS_MODULE);
}

static int restore_registers(struct restore_ctx *ctx,
			     const struct bproc_image_regs *r, void *xstate)
{
	struct pt_regs *regs = task_pt_regs(current);
	struct restore_syscall_work *w;
	int ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	w->ax = r->ax;
	w->orig_ax = r->orig_ax;

	regs->r15 = r->r15;
	regs->r14 = r->r14;
	regs->r13 = r->r13;
	regs->r12 = r->r12;
	regs->bp = r->bp;
	regs->bx = r->bx;
	regs->r11 = r->r11;
	regs->r10 = r->r10;
	regs->r9 = r->r9;
	regs->r8 = r->r8;
	regs->cx = r->cx;
	regs->dx = r->dx;
	regs->si = r->si;
	regs->di = r->di;
	regs->ip = r->ip;
	regs->sp = r->sp;
	regs->flags = (regs->flags & ~RESTORE_EFLAGS_MASK) |
		      (r->flags & RESTORE_EFLAGS_MASK);
	restore_fsgs(r->fs_base, r->gs_base);

	ret = restore_fpu(ctx, xstate);
	if (ret) {
		kfree(w);
		return ret;
	}
	__module_get(THIS_MODULE);
	init_task_work(&w->work, restore_syscall_fixup);
	ret = task_work_add(current, &w->work, TWA_SIGNAL);
	if (ret) {
		module_put(THIS_MODULE);
		kfree(w);
	}
	return ret;
}

/*
 * A thread restored under another tid than it had (the main thread takes
 * the restoring process's pid): the word its clear_child_tid points to,
 * where fork's CLONE_CHILD_SETTID wrote its tid and the kernel clears at
 * its exit, is where the C library keeps its copy of the tid (glibc's
 * struct pthread; pthread_kill(), error-checking, robust and PI mutexes go
 * by it). It gets the new tid, as a fork would have written it; a word
 * that does not hold the old tid is the library's business and stays.
 */
static void restore_tid_word(const struct bproc_image_thread *t)
{
	u32 __user *word = (u32 __user *)(unsigned long)t->clear_child_tid;
	pid_t now = task_pid_vnr(current);
	u32 v;

	if (!word || t->tid == now || get_user(v, word) || v != (u32)t->tid)
		return;
	if (put_user((u32)now, word))
		pr_debug("pid %d: its tid word at %px cannot be written\n", now,
			 word);
}

/*
 * What is the calling thread's own, in its own context: its mask,
 * alternate stack, name, thread pointers, own pending signals, registers,
 * FPU state and TLS, and its system call in progress. The main thread's
 * and every other's alike.
 */
static int restore_thread_self(struct restore_ctx *ctx,
			       struct restore_thread *rt)
{
	const struct bproc_image_thread *t = &rt->t;
	sigset_t blocked;
	u32 i;

	siginitset(&blocked,
		   t->blocked & ~(sigmask(SIGKILL) | sigmask(SIGSTOP)));
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	clear_restore_sigmask();
	current->sas_ss_sp = t->sas_ss_sp;
	current->sas_ss_size = t->sas_ss_size;
	current->sas_ss_flags = t->sas_ss_flags;

	task_lock(current);
	strscpy_pad(current->comm, t->comm, sizeof(current->comm));
	task_unlock(current);
	current->personality = ctx->core.personality;
	current->clear_child_tid =
		(int __user *)(unsigned long)t->clear_child_tid;
	restore_tid_word(t);
	current->robust_list =
		(struct robust_list_head __user *)(unsigned long)t->robust_list;
	current->rseq = (struct rseq __user *)(unsigned long)t->rseq;
	current->rseq_sig = t->rseq_sig;
	rseq_set_notify_resume(current);

	for (i = 0; i < t->nr_pending && !fatal_signal_pending(current); i++) {
		kernel_siginfo_t info;

		if (rt->pending[i].flags & BPROC_SIGINFO_SHARED)
			continue; /* restore_shared_pending */
		memcpy(&info, rt->pending[i].info, sizeof(info));
		send_sig_info(rt->pending[i].signo, &info, current);
	}
	return restore_registers(ctx, &t->regs, rt->xstate);
}

/* A helper thread is done with @ctx. */
static void restore_thread_done(struct restore_ctx *ctx)
{
	if (atomic_dec_and_test(&ctx->thr_left))
		complete(&ctx->thr_done);
}

/*
 * After the point of no return: every claimed thread takes its state (and
 * the main thread's credentials), each in its own context; wait for them.
 */
static int restore_give_threads(struct restore_ctx *ctx)
{
	int ret = 0;
	u32 i;

	if (!ctx->nr_threads)
		return 0;
	atomic_set(&ctx->thr_left, ctx->nr_threads);
	for (i = 0; i < ctx->nr_threads; i++) {
		struct restore_waiter *w = ctx->thr[i].waiter;

		ctx->thr[i].waiter = NULL; /* answered */
		w->ctx = ctx;
		w->rt = &ctx->thr[i];
		w->cred = prepare_creds();
		w->result = w->cred ? 0 : -ENOMEM;
		if (!w->cred)
			ret = -ENOMEM;
		complete(&w->given); /* w is the thread's: ours no more */
	}
	wait_for_completion(&ctx->thr_done);
	if (ret)
		bproc_reason(ctx->reason, "a thread could not be restored");
	return ret;
}

/* Before the point of no return, or after a failure: no restore for them. */
static void restore_cancel_threads(struct restore_ctx *ctx)
{
	u32 i;

	for (i = 0; i < ctx->nr_threads; i++) {
		struct restore_waiter *w = ctx->thr[i].waiter;

		if (!w)
			continue;
		ctx->thr[i].waiter = NULL;
		w->ctx = NULL;
		w->result = -ECANCELED;
		complete(&w->given);
	}
}

/* Threads of the caller's group waiting in BPROC_IOC_RESTORE_THREAD. */
static u32 restore_nr_waiting(void)
{
	struct restore_waiter *w;
	u32 n = 0;

	spin_lock(&restore_waiters_lock);
	list_for_each_entry(w, &restore_waiters,
			    node) if (same_thread_group(w->task, current)) n++;
	spin_unlock(&restore_waiters_lock);
	return n;
}

/*
 * Before the point of no return: the caller's threads, all waiting, one
 * for each of the image's by its tid.
 */
static int restore_claim_threads(struct restore_ctx *ctx)
{
	struct restore_waiter *w, *tmp;
	long left;
	u32 i;

	if (!ctx->nr_threads)
		return 0;
	left = wait_event_killable_timeout(
		restore_waiters_wq, restore_nr_waiting() >= ctx->nr_threads,
		30 * HZ);
	if (left < 0)
		return left;
	if (!left) {
		bproc_reason(ctx->reason,
			     "the restoring process's threads do not wait");
		return -EBUSY;
	}
	spin_lock(&restore_waiters_lock);
	list_for_each_entry_safe(w, tmp, &restore_waiters, node)
	{
		pid_t tid;

		if (!same_thread_group(w->task, current))
			continue;
		tid = task_pid_vnr(w->task);
		for (i = 0; i < ctx->nr_threads; i++)
			if (ctx->thr[i].t.tid == tid && !ctx->thr[i].waiter)
				break;
		if (i == ctx->nr_threads)
			continue; /* found below: a tid the image lacks */
		list_del_init(&w->node);
		w->claimed = true;
		ctx->thr[i].waiter = w;
		ctx->thr[i].task = get_task_struct(w->task);
	}
	spin_unlock(&restore_waiters_lock);
	for (i = 0; i < ctx->nr_threads; i++)
		if (!ctx->thr[i].waiter)
			return bad_image(
				ctx,
				"thread %d of the image has no thread to take it",
				ctx->thr[i].t.tid);
	return 0;
}

long bproc_restore_thread(void)
{
	struct restore_waiter w = { .task = current };
	int ret;

	if (thread_group_leader(current))
		return -EINVAL;
	INIT_LIST_HEAD(&w.node);
	init_completion(&w.given);
	spin_lock(&restore_waiters_lock);
	list_add_tail(&w.node, &restore_waiters);
	spin_unlock(&restore_waiters_lock);
	wake_up_all(&restore_waiters_wq);
	if (wait_for_completion_killable(&w.given)) {
		spin_lock(&restore_waiters_lock);
		if (!w.claimed) {
			list_del(&w.node);
			spin_unlock(&restore_waiters_lock);
			return -EINTR;
		}
		spin_unlock(&restore_waiters_lock);
		wait_for_completion(&w.given); /* claimed: an answer comes */
	}
	if (!w.ctx)
		return w.result; /* the restore failed before its end */
	ret = w.result;
	if (!ret) {
		commit_creds(w.cred);
		ret = restore_thread_self(w.ctx, w.rt);
	}
	if (ret)
		force_sig(SIGKILL); /* after the point of no return */
	restore_thread_done(w.ctx);
	return ret;
}

/* Do files @a and @b hold the same @size bytes? */
static bool restore_same_content(struct file *a, struct file *b, u64 size)
{
	const size_t chunk = 64 << 10;
	loff_t pa = 0, pb = 0;
	bool same = true;
	char *buf;

	buf = kvmalloc(2 * chunk, GFP_KERNEL);
	if (!buf)
		return false;
	while (size && same) {
		size_t n = min_t(u64, size, chunk);

		same = kernel_read(a, buf, n, &pa) == (ssize_t)n &&
		       kernel_read(b, buf + chunk, n, &pb) == (ssize_t)n &&
		       !memcmp(buf, buf + chunk, n);
		size -= n;
	}
	kvfree(buf);
	return same;
}

/*
 * EXEFILE, when the restoring process's own executable is that file
 * already (its path, its size and its content: a ghost taking its process
 * back where it was dumped first): keep it rather than the in-memory copy.
 */
static int restore_check_exe(struct restore_ctx *ctx)
{
	static const char deleted[] = " (deleted)";
	struct dentry *dentry;
	struct file *own;
	char *buf, *p;
	size_t len;

	if (!ctx->exe_file)
		return 0;
	rcu_read_lock();
	own = rcu_dereference(current->mm->exe_file);
	if (own && !get_file_rcu(own))
		own = NULL;
	rcu_read_unlock();
	if (!own)
		return 0;
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf) {
		fput(own);
		return -ENOMEM;
	}
	p = d_path(&own->f_path, buf, PATH_MAX);
	dentry = own->f_path.dentry;
	if (!IS_ERR(p) &&
	    (d_unlinked(dentry) || (dentry->d_op && dentry->d_op->d_dname))) {
		len = strlen(p);
		if (len > sizeof(deleted) - 1 &&
		    !strcmp(p + len - (sizeof(deleted) - 1), deleted))
			p[len - (sizeof(deleted) - 1)] = '\0';
	}
	if (!IS_ERR(p) && !strcmp(p, ctx->paths + ctx->exe.path) &&
	    i_size_read(file_inode(own)) == ctx->exe.size &&
	    restore_same_content(own, ctx->exe_file, ctx->exe.size))
		ctx->exe_kept = true;
	kfree(buf);
	fput(own);
	return 0;
}

/*
 * /proc/PID/exe: the image's executable again, not the restorer's (a
 * program such as busybox re-executes itself through it): the in-memory
 * file of EXEFILE, or the file a mapping flagged BPROC_VMA_EXE reopened.
 * As the kernel's replace_mm_exe_file() does, which is not exported: the
 * exe file is kept from being written while it is one. Best effort: a file
 * open for writing somewhere stays unnamed rather than failing the restore.
 */
static void restore_exe_file(struct restore_ctx *ctx)
{
	struct file *f = ctx->exe_file, *old;
	u32 i;

	if (ctx->exe_kept)
		return;
	for (i = 0; i < ctx->nr_vmas && !f; i++)
		if (ctx->vmas[i].kind == BPROC_VMA_FILE &&
		    ctx->vmas[i].flags & BPROC_VMA_EXE && ctx->files[i]) {
			f = ctx->files[i];
			break;
		}
	if (!f || deny_write_access(f))
		return;
	get_file(f);
	old = xchg(&current->mm->exe_file, f);
	if (old) {
		allow_write_access(old);
		fput(old);
	}
}

/* After the point of no return. */
static int restore_commit(struct restore_ctx *ctx,
			  const struct bproc_restore_args *args)
{
	int ret;

	ret = restore_unmap_all(ctx);
	if (!ret)
		ret = restore_map_all(ctx);
	if (!ret)
		ret = restore_pages(ctx);
	if (ret)
		return ret;
	restore_close_unopened(ctx, args->flags);
	if (args->flags & BPROC_RESTORE_FILES) {
		ret = restore_install_env_files(ctx);
		if (ret)
			return ret;
		current->fs->umask = ctx->env_umask & 0777;
	}
	restore_mm_layout(ctx);
	restore_exe_file(ctx);
	restore_sigactions(ctx, args->flags & BPROC_RESTORE_KEEP_PENDING);
	ret = restore_thread_self(ctx, &ctx->main);
	if (!ret)
		ret = restore_give_threads(ctx);
	if (ret)
		return ret;
	restore_shared_pending(ctx);
	/* it stops before its first instruction, as it was */
	if (ctx->hdr.dump_flags & BPROC_IMAGE_STOPPED)
		send_sig(SIGSTOP, current, 1);
	if (args->flags & BPROC_RESTORE_CLOSE_FDS) {
		close_fd(args->fd);
		if (args->dev_fd >= 0 && args->dev_fd != args->fd)
			close_fd(args->dev_fd);
	}
	if (ctx->notify) {
		static const char restored = 1;
		loff_t pos = 0;

		/* Best effort: a reader that went away just misses the news. */
		kernel_write(ctx->notify, &restored, 1, &pos);
		close_fd(args->notify_fd);
	}
	return 0;
}

int bproc_restore(struct file *img, const struct bproc_restore_args *args,
		  const struct bproc_fd_map *map, u32 nr_map, char *reason)
{
	struct restore_ctx *ctx;
	int ret;
	u32 i;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->img = img;
	ctx->reason = reason;
	ctx->pos = img->f_pos;
	init_completion(&ctx->thr_done);

	if (args->flags & BPROC_RESTORE_NOTIFY) {
		ctx->notify = fget(args->notify_fd);
		if (!ctx->notify) {
			kfree(ctx);
			return -EBADF;
		}
		if (!(ctx->notify->f_mode & FMODE_WRITE)) {
			fput(ctx->notify);
			kfree(ctx);
			return -EBADF;
		}
	}
	ret = restore_read_sections(ctx);
	if (!ret)
		ret = restore_check_core(ctx);
	if (!ret)
		ret = restore_check_xstate(ctx, ctx->xstate);
	if (!ret)
		ret = restore_check_signals(ctx);
	if (!ret)
		ret = restore_check_threads(ctx);
	if (!ret)
		ret = restore_check_mm(ctx);
	if (!ret)
		ret = restore_check_vmas(ctx);
	if (!ret)
		ret = restore_check_pagemap(ctx);
	if (!ret)
		ret = restore_check_taskenv(ctx);
	if (!ret)
		ret = restore_check_fds(ctx);
	if (!ret && S_ISREG(file_inode(img)->i_mode)) {
		u64 size = i_size_read(file_inode(img));
		u64 pages = (u64)ctx->nr_pages << PAGE_SHIFT;

		if (ctx->pos < 0 || (u64)ctx->pos > size ||
		    pages > size - ctx->pos)
			ret = bad_image(ctx,
					"the image is truncated (page data)");
	}
	if (!ret)
		ret = restore_check_current(ctx);
	if (!ret)
		ret = restore_check_exe(ctx);
	/* a ghost's kernel objects are in its map */
	if (!ret && args->flags & BPROC_RESTORE_FILES)
		ret = restore_take_map(ctx, map, nr_map);
	if (!ret)
		ret = restore_take_fds(ctx, args->flags);
	if (!ret)
		ret = restore_open_files(ctx);
	if (!ret && args->flags & BPROC_RESTORE_FILES)
		ret = restore_open_env_files(ctx);
	if (!ret)
		ret = restore_claim_threads(ctx);
	if (ret)
		goto out_free;

	/* The point of no return. */
	ret = restore_commit(ctx, args);
	if (ret) {
		pr_info("restore of pid %d failed after the point of no return (%d): %s\n",
			task_pid_nr(current), ret, reason);
		force_sig(SIGKILL);
	} else if (!(img->f_mode & FMODE_STREAM)) {
		img->f_pos = ctx->pos;
	}

out_free:
	restore_cancel_threads(ctx);
	if (ctx->thr)
		for (i = 0; i < ctx->nr_threads; i++) {
			kfree(ctx->thr[i].xstate_alloc);
			if (ctx->thr[i].task)
				put_task_struct(ctx->thr[i].task);
		}
	kvfree(ctx->thr);
	kvfree(ctx->threads);
	if (ctx->fd_files)
		for (i = 0; i < ctx->nr_fds; i++)
			if (ctx->fd_files[i])
				fput(ctx->fd_files[i]);
	kvfree(ctx->fd_files);
	kvfree(ctx->fdsec);
	if (ctx->exe_file)
		fput(ctx->exe_file);
	if (ctx->notify)
		fput(ctx->notify);
	if (ctx->files)
		for (i = 0; i < ctx->nr_vmas; i++)
			if (ctx->files[i])
				fput(ctx->files[i]);
	kvfree(ctx->files);
	if (ctx->env_files)
		for (i = 0; i < ctx->nr_env_files; i++)
			if (ctx->env_files[i])
				fput(ctx->env_files[i]);
	kvfree(ctx->env_files);
	kvfree(ctx->env_given);
	if (ctx->map_files)
		for (i = 0; i < ctx->nr_map; i++)
			if (ctx->map_files[i])
				fput(ctx->map_files[i]);
	kvfree(ctx->map_files);
	kvfree(ctx->map_fds);
	kvfree(ctx->holes);
	kvfree(ctx->runs);
	kvfree(ctx->taskenv);
	kvfree(ctx->paths);
	kvfree(ctx->vmas);
	kvfree(ctx->pending);
	kfree(ctx->xstate_alloc);
	kfree(ctx);
	return ret;
}
