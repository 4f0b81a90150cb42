// SPDX-License-Identifier: GPL-2.0
/*
 * threads.c - the other threads of a process that is dumped (module 1.6).
 *
 * A dump with BPROC_DUMP_THREADS of a process with several threads runs in
 * its main thread's task_work (main.c), which first stops every other
 * thread, in three phases, on the request's rendezvous (struct
 * bproc_threads):
 *
 *  1. PARK: a task_work of its own (struct thread_park, TWA_SIGNAL, as the
 *     main thread's) is queued on every other thread; each, at its next
 *     return to user space (a system call it sleeps in is interrupted as by
 *     a signal, exactly as for the main thread), counts itself in and
 *     waits. Threads created meanwhile by a thread not yet parked get one
 *     in a next round; the phase ends when every live thread of the group
 *     is parked. Nothing is read before that.
 *  2. RECORD: each parked thread records its own state (bproc_dump_thread:
 *     registers, FPU state, TLS bases, mask, alternate stack, its own
 *     pending signals, robust list, clear_child_tid, rseq, name) in its own
 *     context, so that its FPU state is the one in its registers; the main
 *     thread then writes the image with all the records. Without an image
 *     (BPROC_DUMP_NOIMAGE) a thread records nothing and only checks that
 *     it could end as a ghost's thread does (bproc_dump_64bit()).
 *  3. GO: once the request is decided, the main thread lets them all go:
 *     after a KILL only once SIGKILL is sent to the group, so that none
 *     runs a user instruction after the image; after a failed dump or a
 *     RESUME they go on unchanged (their interrupted calls restart).
 *
 * A thread exiting meanwhile (its task_work runs in do_exit) counts as
 * gone and is not in the image. The waits are killable: SIGKILL to the
 * process ends every one of them. The main thread's wait also ends when the
 * request is decided before the dump (the caller went away).
 *
 * Lifetime: the rendezvous is reference-counted, one reference for the main
 * thread and one per queued task_work (each also holds the module); the
 * parks are part of it. Parked threads and the main thread wake each other
 * on the request's wait queue (threads -> main thread, the rendezvous holds
 * a reference on the request) and on the rendezvous's own (phase changes).
 */
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/task_work.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "engine.h"
#include "request.h"

#define THREADS_ROUNDS 16 /* rounds of parking before giving up */

enum { THREADS_PARK, THREADS_RECORD, THREADS_GO, THREADS_END };

#define THREADS_END_MS 5000 /* for the others to end, after a GHOST */

struct thread_park {
	struct callback_head work;
	struct bproc_threads *grp;
	struct task_struct *task; /* with a reference */
	struct bproc_thread_rec rec;
	int result; /* of its recording */
	bool arrived, gone, recorded;
};

struct bproc_threads {
	struct kref ref;
	struct dump_request *req; /* with a reference */
	wait_queue_head_t wait; /* phase changes */
	int phase;
	u32 nr, cap; /* parks queued, allocated */
	struct thread_park *parks;
	struct bproc_thread_rec **recs; /* the recorded ones, by tid */
	u32 nr_recs;
	char reason[BPROC_REASON_LEN]; /* of a failed recording */
};

static void threads_free(struct kref *ref)
{
	struct bproc_threads *g = container_of(ref, struct bproc_threads, ref);
	u32 i;

	for (i = 0; i < g->nr; i++) {
		kfree(g->parks[i].rec.xstate);
		kvfree(g->parks[i].rec.pending);
		put_task_struct(g->parks[i].task);
	}
	kvfree(g->parks);
	kvfree(g->recs);
	dump_request_put(g->req);
	kfree(g);
}

static void threads_put(struct bproc_threads *g)
{
	kref_put(&g->ref, threads_free);
}

/* The parked thread's side, at its return to user space. */
static void thread_park_work(struct callback_head *work)
{
	struct thread_park *p = container_of(work, struct thread_park, work);
	struct bproc_threads *g = p->grp;
	struct dump_request *kept = NULL;
	char reason[BPROC_REASON_LEN] = "";

	if (current->flags & PF_EXITING)
		WRITE_ONCE(p->gone, true);
	smp_store_release(&p->arrived, true);
	wake_up_all(&g->req->wait);
	if (READ_ONCE(p->gone))
		goto out;
	wait_event_killable(g->wait, READ_ONCE(g->phase) != THREADS_PARK);
	if (READ_ONCE(g->phase) == THREADS_RECORD &&
	    !fatal_signal_pending(current)) {
		/* without an image, nothing to record (dump.c) */
		if (g->req->flags & BPROC_DUMP_NOIMAGE)
			p->result = bproc_dump_64bit(current, reason);
		else
			p->result = bproc_dump_thread(&p->rec, reason);
		if (p->result && reason[0])
			strscpy(g->reason, reason, sizeof(g->reason));
		smp_store_release(&p->recorded, true);
		wake_up_all(&g->req->wait);
		wait_event_killable(g->wait, READ_ONCE(g->phase) >= THREADS_GO);
		if (READ_ONCE(g->phase) == THREADS_END &&
		    !fatal_signal_pending(current)) {
			sigset_t all;

			/*
			 * The process stays behind as a ghost: this thread
			 * ends, by a stub's exit(2), before the ghost gives up
			 * the memory, nothing of it to be told; or, for
			 * GHOST_THREADS, it stays as a ghost thread, which
			 * holds nothing of the memory either.
			 */
			siginitsetinv(&all,
				      sigmask(SIGKILL) | sigmask(SIGSTOP));
			sigprocmask(SIG_SETMASK, &all, NULL);
			current->clear_child_tid = NULL;
			current->robust_list = NULL;
			current->rseq = NULL;
			current->rseq_sig = 0;
			current->sas_ss_sp = 0;
			current->sas_ss_size = 0;
			current->sas_ss_flags = SS_DISABLE;
			if (g->req->ghost_keep_threads) {
				kept = g->req;
				kref_get(&kept->ref);
			} else if (ghost_thread_exit()) {
				force_sig(SIGKILL);
			}
		}
	}
out:
	threads_put(g);
	if (kept)
		ghost_kept_park(kept); /* takes the reference */
	module_put(THIS_MODULE);
}

static struct thread_park *threads_find(struct bproc_threads *g,
					struct task_struct *t)
{
	u32 i;

	for (i = 0; i < g->nr; i++)
		if (g->parks[i].task == t)
			return &g->parks[i];
	return NULL;
}

/*
 * Queue a park on every live thread of @leader's group that has none: the
 * number queued, or -ENOSPC when there is no room left for one.
 */
static int threads_queue(struct bproc_threads *g, struct task_struct *leader)
{
	struct task_struct *t;
	int queued = 0;

	rcu_read_lock();
	for_each_thread(leader, t)
	{
		struct thread_park *p;

		if (t == leader || t->flags & PF_EXITING || threads_find(g, t))
			continue;
		if (g->nr == g->cap) {
			queued = -ENOSPC;
			break;
		}
		p = &g->parks[g->nr];
		p->grp = g;
		p->task = get_task_struct(t);
		g->nr++;
		kref_get(&g->ref);
		__module_get(THIS_MODULE);
		init_task_work(&p->work, thread_park_work);
		if (task_work_add(t, &p->work, TWA_SIGNAL)) {
			/* past its last task_work: it is exiting */
			p->gone = true;
			p->arrived = true;
			module_put(THIS_MODULE);
			kref_put(&g->ref, threads_free); /* not the last */
			continue;
		}
		queued++;
	}
	rcu_read_unlock();
	return queued;
}

static bool threads_all(struct bproc_threads *g, bool recorded)
{
	u32 i;

	for (i = 0; i < g->nr; i++) {
		struct thread_park *p = &g->parks[i];

		if (!smp_load_acquire(&p->arrived))
			return false;
		if (recorded && !p->gone && !smp_load_acquire(&p->recorded))
			return false;
	}
	return true;
}

/* Wait on the request's queue; false if killed or decided meanwhile. */
static bool threads_wait(struct bproc_threads *g, bool recorded)
{
	struct dump_request *req = g->req;

	wait_event_killable(req->wait,
			    threads_all(g, recorded) ||
				    READ_ONCE(req->decision) != DECIDE_NONE);
	return threads_all(g, recorded) &&
	       READ_ONCE(req->decision) == DECIDE_NONE &&
	       !fatal_signal_pending(current);
}

static int threads_cmp(const void *a, const void *b)
{
	const struct bproc_thread_rec *x = *(const struct bproc_thread_rec **)a;
	const struct bproc_thread_rec *y = *(const struct bproc_thread_rec **)b;

	return x->t.tid < y->t.tid ? -1 : x->t.tid > y->t.tid;
}

int bproc_threads_stop(struct dump_request *req)
{
	struct bproc_threads *g;
	int round, n, ret = 0;
	u32 i;

	g = kzalloc(sizeof(*g), GFP_KERNEL);
	if (!g)
		return -ENOMEM;
	kref_init(&g->ref);
	kref_get(&req->ref);
	g->req = req;
	init_waitqueue_head(&g->wait);
	g->cap = min_t(u32, get_nr_threads(current) + 64,
		       BPROC_IMAGE_MAX_THREADS + 1);
	g->parks = kvcalloc(g->cap, sizeof(*g->parks), GFP_KERNEL);
	req->threads = g;
	if (!g->parks)
		return -ENOMEM;

	/* 1: park them all, those born meanwhile too. */
	for (round = 0;; round++) {
		n = threads_queue(g, current);
		if (n == -ENOSPC) {
			bproc_reason(req->reason, "more than %u threads",
				     BPROC_IMAGE_MAX_THREADS);
			return -EOPNOTSUPP;
		}
		if (round == THREADS_ROUNDS) {
			bproc_reason(req->reason,
				     "its threads keep making new ones");
			return -EAGAIN;
		}
		if (!threads_wait(g, false)) {
			bproc_reason(req->reason, "the dump was called off");
			return -EINTR;
		}
		if (!n)
			break; /* nobody new: every live thread is parked */
	}

	/* 2: each records itself. */
	WRITE_ONCE(g->phase, THREADS_RECORD);
	wake_up_all(&g->wait);
	if (!threads_wait(g, true)) {
		bproc_reason(req->reason, "the dump was called off");
		return -EINTR;
	}
	g->recs = kvcalloc(g->nr + 1, sizeof(*g->recs), GFP_KERNEL);
	if (!g->recs)
		return -ENOMEM;
	for (i = 0; i < g->nr; i++) {
		struct thread_park *p = &g->parks[i];

		if (p->gone)
			continue;
		if (p->result) {
			strscpy(req->reason, g->reason, sizeof(req->reason));
			ret = p->result;
		}
		g->recs[g->nr_recs++] = &p->rec;
	}
	if (g->nr_recs > BPROC_IMAGE_MAX_THREADS) {
		bproc_reason(req->reason, "more than %u threads",
			     BPROC_IMAGE_MAX_THREADS);
		ret = -EOPNOTSUPP;
	}
	sort(g->recs, g->nr_recs, sizeof(*g->recs), threads_cmp, NULL);
	return ret;
}

struct bproc_thread_rec **bproc_threads_recs(struct dump_request *req, u32 *nr)
{
	*nr = req->threads ? req->threads->nr_recs : 0;
	return req->threads ? req->threads->recs : NULL;
}

int bproc_threads_end(struct dump_request *req)
{
	struct bproc_threads *g = req->threads;
	int ms;

	if (!g)
		return 0;
	req->threads = NULL;
	WRITE_ONCE(g->phase, THREADS_END);
	wake_up_all(&g->wait);
	threads_put(g);
	/* the others end, or become ghost threads (GHOST_THREADS) */
	for (ms = 0;
	     get_nr_threads(current) > 1 + READ_ONCE(req->ghost_nr_kept);
	     ms++) {
		if (ms == THREADS_END_MS || fatal_signal_pending(current))
			return -ETIMEDOUT;
		schedule_timeout_killable(msecs_to_jiffies(1));
	}
	return 0;
}

void bproc_threads_go(struct dump_request *req)
{
	struct bproc_threads *g = req->threads;

	if (!g)
		return;
	req->threads = NULL;
	WRITE_ONCE(g->phase, THREADS_GO);
	wake_up_all(&g->wait);
	threads_put(g);
}
