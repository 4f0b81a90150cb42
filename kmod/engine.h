/* SPDX-License-Identifier: GPL-2.0 */
/*
 * engine.h - what main.c (the device), dump.c and restore.c share.
 */
#ifndef BPROC_ENGINE_H
#define BPROC_ENGINE_H

#include <linux/types.h>
#include <bproc/bproc.h>
#include <bproc/image.h>

struct task_struct;
struct file;

#define bproc_reason(reason, fmt, ...) \
	snprintf(reason, BPROC_REASON_LEN, fmt, ##__VA_ARGS__)

/*
 * One thread of a dumped process besides its main thread, as it recorded
 * itself while parked (threads.c): registers, pointers, mask, alternate
 * stack, name in @t; its FPU state; its own pending signals.
 */
struct bproc_thread_rec {
	struct bproc_image_thread t;
	void *xstate;
	u32 xstate_size;
	struct bproc_image_siginfo *pending; /* t.nr_pending of them */
};

/* dump.c: record the calling thread's state into @rec. */
int bproc_dump_thread(struct bproc_thread_rec *rec, char *reason);
/* dump.c: is @task 64-bit code in 64-bit mode (every dump checks it). */
int bproc_dump_64bit(struct task_struct *task, char *reason);

/*
 * bproc_dump_task - write the image of @task to @out.
 *
 * Runs either in @task's own context (from its task_work, at a return to
 * user space) or, for a stopped or traced task, in the caller's context
 * while @task stays stopped. Checks first that everything can move and
 * writes nothing otherwise (-EOPNOTSUPP with @reason). Leaves @task
 * unchanged. A process with threads must have all the others parked, their
 * records in @threads (@nr_threads, by increasing tid): they go into the
 * THREADS section. Returns 0 and the bytes written in @written, or -errno.
 * With BPROC_DUMP_NOIMAGE it reads and writes nothing (@out may be NULL,
 * @written is 0) and checks only what a ghost of @task needs.
 */
int bproc_dump_task(struct task_struct *task, struct file *out, u32 flags,
		    struct bproc_thread_rec **threads, u32 nr_threads,
		    u64 *written, char *reason);

/*
 * bproc_restore - replace the calling process by the image read from @img.
 *
 * Everything in the image is read and checked before the calling process
 * is touched; until then a failure returns -errno with @reason and leaves it
 * intact. After that point a failure kills it (SIGKILL). On success the
 * return to user space enters the restored program.
 */
/*
 * Kernel-internal restore flags: keep the caller's pending signals; put
 * the image's open files (fd 3 and up) and umask in place of the caller's.
 */
#define BPROC_RESTORE_KEEP_PENDING (1U << 31)
#define BPROC_RESTORE_FILES (1U << 30)

/*
 * With BPROC_RESTORE_FILES, @map (@nr_map entries, NULL for none) gives
 * the program's descriptors besides the image's files (bproc.h,
 * BPROC_IOC_GHOST_RESTORE_MAP).
 */
int bproc_restore(struct file *img, const struct bproc_restore_args *args,
		  const struct bproc_fd_map *map, u32 nr_map, char *reason);

/*
 * BPROC_IOC_RESTORE_THREAD: the calling thread waits to take a thread of
 * the image its main thread restores (restore.c).
 */
long bproc_restore_thread(void);

/* fds.c: kernel objects open as descriptors (BPROC_DUMP_ANONFDS). */

/*
 * The kind (BPROC_FD_*) of @file if it is a kernel object that can move,
 * else 0; bproc_fd_what() names any kernel object without a path ("an
 * inotify instance"), NULL for other files.
 */
u32 bproc_fd_kind(struct file *file);
const char *bproc_fd_what(struct file *file);

/*
 * Record into @e (its kind, flags and state) @file of kind @kind: 0, or
 * -EINVAL if its state cannot be read.
 */
int bproc_fd_state(struct file *file, u32 kind, struct bproc_image_fd *e);

/* One target of an epoll as its fdinfo tells it. */
struct bproc_fd_target {
	s32 tfd; /* the fd it was added as */
	u32 events;
	u64 data;
	u64 ino; /* of the file watched */
	u32 sdev;
};

/* The targets of epoll @file in a new array (kvfree), @nr of them. */
int bproc_fd_epoll_targets(struct file *file, struct bproc_fd_target **out,
			   u32 *nr);

/* What is wrong with FDS entry @e (its fd and state), or NULL. */
const char *bproc_check_fd(const struct bproc_image_fd *e);
bool bproc_check_target_events(u32 events);

/* The vDSO of @mm and its checksum, shared by dump and restore. */
int bproc_vdso_crc(struct task_struct *task, unsigned long start,
		   unsigned long len, u32 *crc);

/* space.c: BPROC_IOC_SPACE, and its tracepoint probes. */
long bproc_ioctl_space(void __user *argp);
int bproc_space_init(void);
void bproc_space_exit(void);

#endif /* BPROC_ENGINE_H */
