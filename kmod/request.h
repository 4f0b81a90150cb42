/* SPDX-License-Identifier: GPL-2.0 */
/*
 * request.h - a dump request, shared by main.c and ghost.c. Lifetime and
 * locking: see the comment at the top of main.c.
 */
#ifndef BPROC_REQUEST_H
#define BPROC_REQUEST_H

#include <linux/completion.h>
#include <linux/cred.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "engine.h"

#define GHOST_MAX_EVENTS 64

enum dump_state { DUMP_QUEUED, DUMP_SELF, DUMP_EXTERNAL };
enum dump_decision { DECIDE_NONE, DECIDE_RESUME, DECIDE_KILL, DECIDE_GHOST };

struct dump_request {
	struct kref ref;
	struct list_head node; /* on dump_requests */
	struct callback_head work;
	struct task_struct *task;
	struct file *out;
	u32 flags; /* BPROC_DUMP_* but ASYNC */
	bool async; /* BPROC_DUMP_ASYNC: a failed dump parks too */
	bool threads_ok; /* BPROC_DUMP_THREADS: the other threads too */
	bool threaded; /* they were parked (threads.c): no ghost */
	struct bproc_threads *threads; /* meanwhile, the target's own */
	bool in_syscall; /* parked on the return from a system call */
	bool ret_set; /* BPROC_IOC_RESUME_RET: ret_value is the result */
	long ret_value;
	int state; /* enum dump_state, cmpxchg */
	int decision; /* enum dump_decision, cmpxchg */
	int result;
	u64 written;
	struct completion done; /* the image is written (or failed) */
	/* ghost_events_wait also wakes pollers of the dump's outcome. */
	wait_queue_head_t wait; /* the parked target waits for a decision */
	char reason[BPROC_REASON_LEN];

	/* Ghost mode (ghost.c); ghost_lock protects the event ring. */
	spinlock_t ghost_lock;
	wait_queue_head_t ghost_events_wait; /* readers of the handle */
	struct bproc_ghost_tevent ghost_events[GHOST_MAX_EVENTS];
	u32 ghost_head, ghost_count;
	bool ghost_tevents; /* GHOST_THREADS: read() gives the tids too */
	/*
	 * GHOST_THREADS: its other threads stay as ghost threads (struct
	 * ghost_kept, ghost.c), listed under ghost_lock; how many are still
	 * ghost threads (neither ending nor restored).
	 */
	bool ghost_keep_threads;
	struct list_head ghost_kept;
	u32 ghost_nr_kept;
	bool ghost_done; /* the ghost is gone (or restored): EOF */
	bool ghost_exit_set; /* the fields below are valid */
	u32 ghost_exit_how;
	s32 ghost_exit_value;
	bool handle_closed; /* the handle is released */
	/* Job control: the ghost stops for real (ghost.c). */
	unsigned long ghost_stop_dfl; /* SIGTSTP/TTIN/TTOU left at SIG_DFL */
	int ghost_stopping; /* the stop signal, while out of its task_work */
	unsigned long ghost_stub; /* the pause() page meanwhile */
	struct delayed_work ghost_rearm; /* queues the task_work again */
	/* BPROC_IOC_GHOST_RESTORE: the image, set until the ghost is done. */
	struct file *ghost_img;
	struct bproc_fd_map *ghost_map; /* and its descriptors, or NULL */
	u32 ghost_nr_map;
	/* BPROC_GHOST_MAP_CALLER: the holder's files, per map entry */
	struct file **ghost_map_files;
	bool ghost_resumed; /* restored: the program runs again */
	int ghost_restore_result;
	struct completion ghost_restore_done;
	char ghost_reason[BPROC_REASON_LEN];
	/*
	 * A system call the ghost makes for the holder (ghost.c): asked for
	 * under ghost_lock (ghost_call, ghost_call_arg), made from a stub
	 * page out of its task_work, answered in ghost_call_result.
	 */
	int ghost_call; /* enum ghost_call, 0 when none is asked for */
	s32 ghost_call_arg;
	u64 ghost_call_mremap[3]; /* GHOST_CALL_MREMAP: from, len, to */
	bool ghost_calling; /* out of its task_work, in the call's stub */
	bool ghost_call_abandoned; /* the holder's ioctl went meanwhile */
	struct dump_request *ghost_call_child; /* GHOST_FORK: the child's */
	long ghost_call_result;
	struct completion ghost_call_done;
	struct cred *ghost_call_cred; /* its own, while it forks as more */
	struct cred *ghost_child_cred; /* a forked child's, until it takes it */
	/*
	 * GHOST_NAME's command line and GHOST_CLOSE's descriptors, asked for
	 * under ghost_lock and done by the ghost in its task_work (ghost_todo
	 * says there is something).
	 */
	bool ghost_todo;
	char *ghost_args; /* a new command line (kmalloc'd), or NULL */
	u32 ghost_args_len;
	s32 ghost_close[BPROC_GHOST_CLOSE_MAX];
	u32 ghost_nr_close;
	unsigned long ghost_args_page; /* where its command line is */
	/* A ghost born of GHOST_FORK: what its parent ghost had. */
	bool ghost_child;
	unsigned long ghost_child_stop_dfl;
};

enum ghost_call {
	GHOST_CALL_FORK = 1, /* clone3() with set_tid = arg */
	GHOST_CALL_REAP, /* wait4(arg, WNOHANG) */
	GHOST_CALL_MREMAP, /* mremap(from, len, len, FIXED, to) */
	GHOST_CALL_THREAD, /* clone3() of a thread with set_tid = arg */
	GHOST_CALL_SETPGID, /* setpgid(0, arg) */
	GHOST_CALL_SETSID, /* setsid() */
};

/* main.c: a request for a ghost of GHOST_FORK, and its handle. */
struct dump_request *dump_request_new(void);
void dump_request_put(struct dump_request *req);
int dump_request_list(struct dump_request *req);
bool dump_request_has_task(struct task_struct *task);
int dump_handle_install(struct dump_request *req);

/*
 * threads.c, in the target's task_work: park its other threads and have
 * them record themselves (req->threads, @req->reason on failure); their
 * records, by tid; let them go (after the decision).
 */
int bproc_threads_stop(struct dump_request *req);
struct bproc_thread_rec **bproc_threads_recs(struct dump_request *req, u32 *nr);
void bproc_threads_go(struct dump_request *req);
/*
 * bproc_threads_end - after a GHOST decision: the other threads end (none
 * runs a user instruction of the program again), or with GHOST_THREADS
 * become ghost threads, and the main thread, the ghost, waits until they
 * have; 0, or -errno.
 */
int bproc_threads_end(struct dump_request *req);
/*
 * ghost.c, in a thread of a process whose ghost keeps its threads
 * (@req->ghost_keep_threads), at bproc_threads_end(): it stays as a ghost
 * thread until the ghost ends or restores, or it is killed.
 */
void ghost_kept_park(struct dump_request *req);
/* The request's end: free what its ghost threads left. */
void ghost_kept_free_all(struct dump_request *req);
/* ghost.c: return to a stub page of the caller's own that calls exit(0). */
int ghost_thread_exit(void);

void ghost_init(struct dump_request *req);
/*
 * The parked target becomes a ghost (@first) and stays one until it ends:
 * false. True when it left its task_work to stop: ghost.c then owns the
 * task_work's reference and calls dump_work_end() in the end.
 */
bool ghost_run(struct dump_request *req, bool first);
void ghost_mark_done(struct dump_request *req);
/* The task_work's end: unlist, drop its reference and the module's. */
void dump_work_end(struct dump_request *req);

long ghost_ioctl_exit(struct dump_request *req, void __user *argp);
long ghost_ioctl_fork(struct dump_request *req, void __user *argp);
long ghost_ioctl_reap(struct dump_request *req, void __user *argp);
long ghost_ioctl_name(struct dump_request *req, void __user *argp);
long ghost_ioctl_close(struct dump_request *req, void __user *argp);
long ghost_ioctl_mremap(struct dump_request *req, void __user *argp);
long ghost_ioctl_thread(struct dump_request *req, void __user *argp);
long ghost_ioctl_pgrp(struct dump_request *req, void __user *argp);
/* BPROC_IOC_GHOST_RESTORE, or with @with_map BPROC_IOC_GHOST_RESTORE_MAP. */
long ghost_ioctl_restore(struct dump_request *req, void __user *argp,
			 bool with_map);
/* The handle is being released: must the ghost be killed? */
bool ghost_release(struct dump_request *req);
ssize_t ghost_read(struct file *file, char __user *buf, size_t len,
		   loff_t *ppos);
__poll_t ghost_poll(struct file *file, struct poll_table_struct *wait);

#endif /* BPROC_REQUEST_H */
