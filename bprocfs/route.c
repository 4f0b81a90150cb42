// SPDX-License-Identifier: GPL-2.0
/*
 * Moves in flight and the routing of moved processes (include/bproc/proto.h,
 * "Moving a process").  The master is the hub: it knows, per pid, the node
 * that hosts the process (its "host": 0 for the front end) and whether it is
 * moving, and passes signals, stdin, output and exits between the front
 * end's agent and the host's agent.
 *
 * A move is registered by a FUSE thread (route_move_begin), which returns
 * without answering the write; the network thread sends the MOVE_ORDER and
 * answers the write later: a self-move once the source has armed its dump
 * (MOVE_ARMED), any other move on its MOVE_RESULT, or with ECONNRESET when
 * the source's agent goes away first.  No FUSE thread ever waits for a move.
 *
 * While a pid moves, what would go to it (signals, stdin) is held, and so is
 * what its new host says before the old host's IO_MARK (its output, its
 * exit), so that the front end sees output in the order it was written;
 * the program it executes there before the move has ended (it runs as
 * soon as it is restored) is held until then, when its ghost is there.
 * When the move ends, the held traffic goes to wherever the process is then.
 *
 * Locking: route_lock guards everything here; it is taken before table_lock,
 * proctab's and the event log's locks, never after them, and nothing that
 * serves a read of a /bproc file takes it, so reads never wait for it.
 * Under it frames are queued and written without blocking (non-blocking
 * sockets; what does not fit waits in the connection's buffer).
 */
#define LOG_PREFIX "route"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../common/log.h"
#include "../common/net.h"
#include "../common/procmsg.h"
#include "bprocfs.h"

#define RP_BUCKETS 1024
#define HELD_MAX (64u << 20) /* held bytes per process before dropping */

/* Something held for a moving process. */
struct held {
	struct held *next;
	unsigned int type; /* BPROC_MSG_SIGNAL, _IO_DATA, _IO_EOF, _IO_ACK,
			    * _EXIT */
	unsigned int fd, flags, signo;
	uint32_t tid; /* SIGNAL: to that thread alone, or 0 */
	uint32_t acked; /* IO_ACK: bytes consumed */
	struct bp_exit exit;
	uint32_t len;
	uint8_t data[];
};

struct hq {
	struct held *head, **tail;
};

/* A process the master routes for: one that is away or moving. */
struct rproc {
	struct rproc *hnext; /* hash chain */
	struct rproc *onext; /* in orders, while its order is queued */
	pid_t pid;
	struct proc_info info; /* as it was when its last move began */
	int host; /* slot of the node it runs on */
	bool born; /* started on its node by a cluster process there */
	/*
	 * A born process that moved away from its node: the slot of that
	 * node, where a ghost of it (a "proxy") keeps its pid for its parent
	 * there (its exit goes there, its signals come from there); 0: none,
	 * and again once it moved back there (the proxy restored it).
	 */
	int birth;
	bool stdin_eof; /* the front end's agent sent IO_EOF fd 0 */
	bool eof_delivered; /* and the host has it */
	bool gone; /* exited or lost while moving: only the move remains */

	/* the move, while moving */
	bool moving, order_queued, mark_seen, self, keep;
	pid_t copy_of; /* fast start: proto.h, BPROC_MOVE_KEEP */
	unsigned int send; /* BPROC_SEND_*: how its files go */
	uint64_t move_id;
	int src, dest;
	char src_name[16], dest_name[16], dest_addr[BP_ADDR_STRLEN];
	fuse_req_t req; /* the write to answer, NULL once answered */
	size_t size;
	int64_t t0_ms;
	struct hq sigs; /* signals for the process */
	struct hq back; /* acks of its output, and its readers gone */
	struct hq requeue; /* stdin the old host never delivered */
	struct hq in; /* stdin from the front end */
	struct hq out; /* output and exit of the new host, before IO_MARK */
	size_t held_bytes;
};

static pthread_mutex_t route_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rproc *buckets[RP_BUCKETS];
static struct rproc *orders, **orders_tail = &orders;
static uint64_t next_move_id = 1;
static uint64_t in_flight; /* atomic: read by metrics without the lock */

uint64_t route_moves_in_flight(void)
{
	return __atomic_load_n(&in_flight, __ATOMIC_RELAXED);
}

static void hq_init(struct hq *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void hq_free(struct hq *q)
{
	while (q->head) {
		struct held *h = q->head;

		q->head = h->next;
		free(h);
	}
	q->tail = &q->head;
}

/* Append a copy of data; false (and a warning) when it cannot be held. */
static bool hold(struct rproc *rp, struct hq *q, const struct held *tmpl,
		 const void *data, uint32_t len)
{
	struct held *h;

	if (rp->held_bytes + len > HELD_MAX) {
		pr_warn("pid %d: more than %u bytes held while it moves; "
			"dropping %s",
			rp->pid, HELD_MAX, bp_msg_name(tmpl->type));
		return false;
	}
	h = malloc(sizeof(*h) + len);
	if (!h) {
		pr_warn("pid %d: out of memory; dropping %s", rp->pid,
			bp_msg_name(tmpl->type));
		return false;
	}
	*h = *tmpl;
	h->next = NULL;
	h->len = len;
	if (len)
		memcpy(h->data, data, len);
	*q->tail = h;
	q->tail = &h->next;
	rp->held_bytes += len;
	return true;
}

static struct rproc **rp_slot(pid_t pid)
{
	return &buckets[(unsigned int)pid % RP_BUCKETS];
}

static struct rproc *rp_find(pid_t pid)
{
	struct rproc *rp;

	for (rp = *rp_slot(pid); rp; rp = rp->hnext)
		if (rp->pid == pid)
			return rp;
	return NULL;
}

static struct rproc *rp_new(pid_t pid)
{
	struct rproc *rp = calloc(1, sizeof(*rp));

	if (!rp)
		return NULL;
	rp->pid = pid;
	hq_init(&rp->sigs);
	hq_init(&rp->back);
	hq_init(&rp->requeue);
	hq_init(&rp->in);
	hq_init(&rp->out);
	rp->hnext = *rp_slot(pid);
	*rp_slot(pid) = rp;
	return rp;
}

static void rp_clear_held(struct rproc *rp)
{
	hq_free(&rp->sigs);
	hq_free(&rp->back);
	hq_free(&rp->requeue);
	hq_free(&rp->in);
	hq_free(&rp->out);
	rp->held_bytes = 0;
}

static void rp_free(struct rproc *rp)
{
	struct rproc **pp, **op;

	for (pp = rp_slot(rp->pid); *pp; pp = &(*pp)->hnext) {
		if (*pp == rp) {
			*pp = rp->hnext;
			break;
		}
	}
	if (rp->order_queued) {
		for (op = &orders; *op; op = &(*op)->onext) {
			if (*op == rp) {
				*op = rp->onext;
				break;
			}
		}
		orders_tail = &orders;
		while (*orders_tail)
			orders_tail = &(*orders_tail)->onext;
	}
	rp_clear_held(rp);
	free(rp);
}

static void slot_name(int slot, char *buf, size_t len)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(slot);
	snprintf(buf, len, "%s", n ? n->name : "(removed node)");
	pthread_mutex_unlock(&table_lock);
}

const char *route_errno_name(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "EIO";
}

/* "status 3", "killed by SIGTERM", for events. */
static void status_text(uint32_t status, char *buf, size_t len)
{
	int st = (int)status;

	if (WIFSIGNALED(st)) {
		const char *name = sigabbrev_np(WTERMSIG(st));

		if (name)
			snprintf(buf, len, "killed by SIG%s%s", name,
				 WCOREDUMP(st) ? " (core dumped)" : "");
		else
			snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	} else {
		snprintf(buf, len, "status %d", WEXITSTATUS(st));
	}
}

/* ---- sending: the network thread only ---- */

/* The connection of slot's agent, or NULL with a debug line. */
static struct bp_conn *conn_of(int slot, pid_t pid, unsigned int type)
{
	struct bp_conn *c = net_slot_conn(slot);

	if (!c) {
		char name[16];

		slot_name(slot, name, sizeof(name));
		pr_debug("pid %d: %s dropped: %s is not connected", pid,
			 bp_msg_name(type), name);
	}
	return c;
}

static void sent(struct bp_conn *c, int err, pid_t pid, unsigned int type)
{
	if (err)
		pr_warn("pid %d: %s to %s not sent: %s", pid, bp_msg_name(type),
			c->peer_node, strerror(-err));
	net_conn_sent(c);
}

static void send_tsignal(int slot, const struct rproc *rp, uint32_t tid,
			 unsigned int sig)
{
	struct bp_conn *c;
	int err;

	if (slot == 0) {
		/* back on the front end: a process like any other */
		if (!tid)
			err = proctab_signal(rp->pid, rp->info.start, (int)sig,
					     0);
		else if (syscall(SYS_tgkill, rp->pid, (pid_t)tid, (int)sig))
			err = -errno;
		else
			err = 0;
		if (err)
			pr_debug("pid %d: signal %u: %s", rp->pid, sig,
				 strerror(-err));
		return;
	}
	c = conn_of(slot, rp->pid, BPROC_MSG_SIGNAL);
	if (c)
		sent(c, bp_send_tsignal(c, rp->pid, tid, sig), rp->pid,
		     BPROC_MSG_SIGNAL);
}

static void send_signal(int slot, const struct rproc *rp, unsigned int sig)
{
	send_tsignal(slot, rp, 0, sig);
}

static void send_io(int slot, pid_t pid, unsigned int type, unsigned int fd,
		    unsigned int flags, const void *data, uint32_t len)
{
	struct bp_conn *c = conn_of(slot, pid, type);

	if (c)
		sent(c, bp_send_io(c, type, pid, fd, flags, data, len), pid,
		     type);
}

static void send_ack(int slot, pid_t pid, unsigned int fd, uint32_t bytes)
{
	struct bp_conn *c = conn_of(slot, pid, BPROC_MSG_IO_ACK);

	if (c)
		sent(c, bp_send_io_ack(c, (uint32_t)pid, fd, bytes), pid,
		     BPROC_MSG_IO_ACK);
}

/* An ack or a reader gone, from the front end to the process's host. */
static void send_back(int slot, pid_t pid, const struct held *h)
{
	if (h->type == BPROC_MSG_IO_ACK)
		send_ack(slot, pid, h->fd, h->acked);
	else
		send_io(slot, pid, BPROC_MSG_IO_EOF, h->fd, 0, NULL, 0);
}

static void send_exit(const struct bp_exit *e)
{
	struct bp_conn *c = conn_of(0, (pid_t)e->pid, BPROC_MSG_EXIT);

	if (c)
		sent(c, bp_send_exit(c, e), (pid_t)e->pid, BPROC_MSG_EXIT);
}

/* ---- moves ---- */

static void account(int src, int dest, int err, uint64_t bytes, int64_t ms)
{
	struct node *from, *to;
	double s = ms / 1000.0;
	size_t k;

	pthread_mutex_lock(&table_lock);
	from = table_find_slot(src);
	to = table_find_slot(dest);
	if (to && err)
		to->moves_failed++;
	else if (to)
		to->moves_in++;
	if (from && !err)
		from->moves_out++;
	table_moves.count[move_result_of(err)]++;
	if (!err) {
		table_moves.bytes += bytes;
		for (k = 0; k < MOVE_BUCKETS; k++) {
			if (s <= move_bucket_le[k]) {
				table_moves.dur_bucket[k]++;
				break;
			}
		}
		table_moves.dur_count++;
		table_moves.dur_sum += s;
	}
	pthread_mutex_unlock(&table_lock);
}

int route_move_begin(fuse_req_t req, size_t size, const struct proc_info *p,
		     int dest_slot, const char *dest_name,
		     const char *dest_addr, const char *src_name, bool self,
		     unsigned int send, bool keep, pid_t copy_of)
{
	struct rproc *rp;
	bool fresh = false;

	pthread_mutex_lock(&route_lock);
	rp = rp_find(p->pid);
	if (rp && (rp->moving || rp->gone)) {
		pthread_mutex_unlock(&route_lock);
		return -EBUSY;
	}
	if (!rp) {
		rp = rp_new(p->pid);
		if (!rp) {
			pthread_mutex_unlock(&route_lock);
			return -ENOMEM;
		}
		rp->host = p->slot;
		fresh = true;
	}
	if (rp->host != p->slot && !fresh) {
		/* the table and the routes disagree for a moment: retry */
		pthread_mutex_unlock(&route_lock);
		return -EBUSY;
	}
	rp->info = *p;
	rp->moving = true;
	rp->mark_seen = false;
	rp->self = self;
	rp->send = send;
	rp->keep = keep;
	rp->copy_of = copy_of;
	rp->move_id = next_move_id++;
	rp->src = rp->host;
	rp->dest = dest_slot;
	snprintf(rp->src_name, sizeof(rp->src_name), "%s", src_name);
	snprintf(rp->dest_name, sizeof(rp->dest_name), "%s", dest_name);
	snprintf(rp->dest_addr, sizeof(rp->dest_addr), "%s", dest_addr);
	rp->req = req;
	rp->size = size;
	rp->t0_ms = bp_now_ms();
	rp->order_queued = true;
	rp->onext = NULL;
	*orders_tail = rp;
	orders_tail = &rp->onext;
	__atomic_add_fetch(&in_flight, 1, __ATOMIC_RELAXED);
	events_add("move pid %d (%s) %s -> %s started", p->pid, p->comm,
		   src_name, dest_name);
	pthread_mutex_unlock(&route_lock);
	net_wake_orders();
	return 0;
}

bool route_moving(pid_t pid)
{
	struct rproc *rp;
	bool busy;

	pthread_mutex_lock(&route_lock);
	rp = rp_find(pid);
	busy = rp && (rp->moving || rp->gone);
	pthread_mutex_unlock(&route_lock);
	return busy;
}

static void answer(struct rproc *rp, int err)
{
	if (!rp->req)
		return;
	if (err)
		fuse_reply_err(rp->req, -err);
	else
		fuse_reply_write(rp->req, rp->size);
	rp->req = NULL;
}

/* Hand what was held to slot: signals, then stdin (requeued bytes first). */
static void deliver_inbound(struct rproc *rp, int slot)
{
	struct held *h;
	bool eof = false;

	for (h = rp->sigs.head; h; h = h->next)
		send_tsignal(slot, rp, h->tid, h->signo);
	if (slot != 0)
		for (h = rp->back.head; h; h = h->next)
			send_back(slot, rp->pid, h);
	if (slot == 0) {
		if (rp->requeue.head || rp->in.head)
			pr_info("pid %d is back on the front end and reads its "
				"own stdin: %zu bytes held for it dropped",
				rp->pid, rp->held_bytes);
		return;
	}
	/* what the old host acknowledged, the new one does not again */
	for (h = rp->requeue.head; h; h = h->next)
		send_io(slot, rp->pid, BPROC_MSG_IO_DATA, 0,
			h->flags & BPROC_IO_ACKED, h->data, h->len);
	for (h = rp->in.head; h; h = h->next) {
		if (h->type == BPROC_MSG_IO_EOF) {
			eof = true;
			continue;
		}
		if (!eof)
			send_io(slot, rp->pid, BPROC_MSG_IO_DATA, 0, 0, h->data,
				h->len);
	}
	if (rp->stdin_eof && !rp->eof_delivered) {
		send_io(slot, rp->pid, BPROC_MSG_IO_EOF, 0, 0, NULL, 0);
		rp->eof_delivered = true;
	}
}

static void exited(struct rproc *rp, const struct bp_exit *e, int slot);
static void to_front(unsigned int type, uint32_t pid, uint32_t other);
static void remember_left(pid_t pid, int slot, bool orphan);
static void lose_one(struct rproc *rp, int slot, const char *name,
		     const char *why);

/*
 * The new host's output held until the old host's IO_MARK goes to the
 * front end; an exit stays held until the move has ended (ended: it went
 * through, the process is the new host's).
 */
static int on_proc_exec(int slot, const uint8_t *d, uint32_t len);

static void release_out(struct rproc *rp, bool ended)
{
	struct held *h;

	while ((h = rp->out.head)) {
		if (h->type == BPROC_MSG_EXIT) {
			if (!ended)
				return;
			exited(rp, &h->exit, rp->dest);
		} else if (h->type == BPROC_MSG_PROC_EXEC) {
			/* what it ran as soon as it ran there: its ghost is
			 * there now */
			if (!ended)
				return;
			on_proc_exec(rp->host, h->data, h->len);
		} else {
			send_io(0, rp->pid, h->type, h->fd, h->flags, h->data,
				h->len);
		}
		rp->out.head = h->next;
		rp->held_bytes -= h->len;
		free(h);
		if (rp->gone)
			break;
	}
	if (!rp->out.head)
		rp->out.tail = &rp->out.head;
}

/*
 * The move of rp ended with err (0: it runs on dest now).  Answers the
 * write, writes events and metrics, sends the held traffic on.  Returns
 * false when rp was freed.
 */
static bool move_ended(struct rproc *rp, int err, uint64_t bytes,
		       const char *reason)
{
	int64_t ms = bp_now_ms() - rp->t0_ms;
	int where;

	rp->moving = false;
	__atomic_sub_fetch(&in_flight, 1, __ATOMIC_RELAXED);
	account(rp->src, rp->dest, err, bytes, ms);
	if (err)
		events_add("move pid %d (%s) %s -> %s failed: %s: %s", rp->pid,
			   rp->info.comm, rp->src_name, rp->dest_name,
			   route_errno_name(-err), reason);
	else
		events_add("move pid %d (%s) %s -> %s done (%llu bytes, %lld "
			   "ms%s%s)",
			   rp->pid, rp->info.comm, rp->src_name, rp->dest_name,
			   (unsigned long long)bytes, (long long)ms,
			   reason && reason[0] ? ", " : "",
			   reason ? reason : "");
	/* the write returns once /bproc and events say where it is */
	if (!err && !rp->gone && proctab_moved(&rp->info, rp->dest, time(NULL)))
		pr_warn("pid %d: out of memory for the process table", rp->pid);
	answer(rp, err);
	if (rp->gone) {
		/* its ghost is gone: what moved has nothing to report to */
		if (!err && rp->dest != 0) {
			send_signal(rp->dest, rp, SIGKILL);
			remember_left(rp->pid, rp->dest, true);
		}
		rp_free(rp);
		return false;
	}
	if (!err) {
		if (rp->src != 0)
			remember_left(rp->pid, rp->src, false);
		if (rp->birth && rp->dest == rp->birth) {
			/*
			 * Back where it was born: its proxy there restored it,
			 * and it is its parent's child again, with no proxy.
			 * Its output goes under its own pid still.
			 */
			rp->birth = 0;
		} else if (rp->born && !rp->birth && rp->src != 0) {
			/*
			 * It left the node where it was born: a proxy holds
			 * its pid there, and its output goes under its own
			 * pid from now on (its ghost here leaves the set of
			 * streams it shared there: STREAM_OWNER to itself).
			 */
			rp->birth = rp->src;
			if (rp->dest != 0)
				to_front(BPROC_MSG_STREAM_OWNER,
					 (uint32_t)rp->pid, (uint32_t)rp->pid);
		}
		rp->host = rp->dest;
		rp->eof_delivered = false;
		rp->mark_seen = true;
		release_out(rp, true);
		if (!rp->gone && rp->dest != 0 && !net_slot_conn(rp->dest)) {
			/* it arrived on a node that went down since */
			char why[64];

			snprintf(why, sizeof(why), "%s down", rp->dest_name);
			lose_one(rp, rp->dest, rp->dest_name, why);
		}
		if (rp->gone) {
			rp_free(rp);
			return false;
		}
	} else if (rp->out.head) {
		pr_info("pid %d: what %s said before the move failed is "
			"dropped",
			rp->pid, rp->dest_name);
		hq_free(&rp->out);
	}
	where = rp->host;
	deliver_inbound(rp, where);
	rp_clear_held(rp);
	if (where == 0 && !rp->birth) {
		/* a front-end process: /proc speaks for it again */
		rp_free(rp);
		return false;
	}
	return true;
}

/*
 * How the order says the files go: "whole" is every category by content
 * at once; "path" and "auto" have the source ask the destination first.
 */
static void order_files(const struct rproc *rp, struct bp_move_order *o)
{
	o->send = rp->send;
	o->dump_flags = rp->send == BPROC_SEND_WHOLE ? BPROC_DUMP_ALL : 0;
}

void route_send_orders(void)
{
	struct rproc *rp;

	pthread_mutex_lock(&route_lock);
	while ((rp = orders)) {
		struct bp_move_order o = { 0 };
		struct bp_conn *c;
		int err;

		orders = rp->onext;
		if (!orders)
			orders_tail = &orders;
		rp->order_queued = false;
		c = net_slot_conn(rp->src);
		if (!c) {
			move_ended(rp, -ECONNRESET, 0,
				   "the source's agent is not connected");
			continue;
		}
		o.move_id = rp->move_id;
		o.pid = (uint32_t)rp->pid;
		o.flags = (rp->self ? BPROC_MOVE_SELF : 0) |
			  (rp->keep ? BPROC_MOVE_KEEP : 0);
		o.copy_of = (uint32_t)rp->copy_of;
		order_files(rp, &o);
		snprintf(o.dest, sizeof(o.dest), "%s", rp->dest_name);
		if (strlen(rp->dest_addr) >= sizeof(o.dest_addr)) {
			move_ended(rp, -EIO, 0,
				   "the destination's address is too long for "
				   "a move order");
			continue;
		}
		memcpy(o.dest_addr, rp->dest_addr, strlen(rp->dest_addr) + 1);
		err = bp_send_move_order(c, &o);
		net_conn_sent(c);
		if (err) {
			move_ended(rp, -EIO, 0,
				   "the order could not be sent to the source");
			continue;
		}
		pr_debug("move %llu: pid %d %s -> %s ordered",
			 (unsigned long long)rp->move_id, rp->pid, rp->src_name,
			 rp->dest_name);
	}
	pthread_mutex_unlock(&route_lock);
}

/* ---- frames from agents ---- */

static struct rproc *rp_by_move(uint64_t move_id)
{
	struct rproc *rp;
	size_t i;

	for (i = 0; i < RP_BUCKETS; i++)
		for (rp = buckets[i]; rp; rp = rp->hnext)
			if (rp->moving && rp->move_id == move_id)
				return rp;
	return NULL;
}

static int on_armed(int slot, const uint8_t *d, uint32_t len)
{
	struct rproc *rp;
	uint64_t id;

	if (bp_move_armed_decode(d, len, &id))
		return -EPROTO;
	rp = rp_by_move(id);
	if (!rp || rp->src != slot || rp->order_queued || !rp->self) {
		pr_debug("MOVE_ARMED for move %llu that slot %d has not",
			 (unsigned long long)id, slot);
		return 0;
	}
	/* the dump runs as the write returns */
	answer(rp, 0);
	return 0;
}

static int on_result(int slot, const uint8_t *d, uint32_t len)
{
	struct bp_move_result r;
	struct rproc *rp;
	int err;

	if (bp_move_result_decode(d, len, &r))
		return -EPROTO;
	rp = rp_find((pid_t)r.pid);
	if (!rp || !rp->moving || rp->move_id != r.move_id || rp->src != slot ||
	    rp->order_queued) {
		pr_debug("MOVE_RESULT for move %llu (pid %u) not in flight "
			 "from slot %d",
			 (unsigned long long)r.move_id, r.pid, slot);
		return 0;
	}
	err = r.error ? -(int)r.error : 0;
	if (r.error > 4095)
		err = -EIO;
	/* a success's reason says how it went (a copy of another's image) */
	move_ended(rp, err, r.bytes,
		   r.reason[0] ? r.reason :
		   err	       ? "no reason" :
				 "");
	return 0;
}

/* A born process that left its node ended: its proxy there ends alike. */
static void to_birth(const struct rproc *rp, const struct bp_exit *e)
{
	struct bp_conn *c;

	if (!rp->birth)
		return;
	c = conn_of(rp->birth, rp->pid, BPROC_MSG_EXIT);
	if (c)
		sent(c, bp_send_exit(c, e), rp->pid, BPROC_MSG_EXIT);
}

static void exited(struct rproc *rp, const struct bp_exit *e, int slot)
{
	char how[48], name[16];

	status_text(e->status, how, sizeof(how));
	slot_name(slot, name, sizeof(name));
	/* one that came home has no ghost here: it is the process */
	if (slot != 0)
		send_exit(e);
	to_birth(rp, e);
	proctab_exited(rp->pid);
	remember_left(rp->pid, slot, false);
	if (e->reason[0])
		events_add("pid %d (%s) exited on %s: %s (%s)", rp->pid,
			   rp->info.comm, name, how, e->reason);
	else
		events_add("pid %d (%s) exited on %s: %s", rp->pid,
			   rp->info.comm, name, how);
	rp->gone = true;
}

static int on_exit_msg(int slot, const uint8_t *d, uint32_t len)
{
	struct held tmpl = { .type = BPROC_MSG_EXIT };
	struct rproc *rp;

	if (bp_exit_decode(d, len, &tmpl.exit))
		return -EPROTO;
	rp = rp_find((pid_t)tmpl.exit.pid);
	if (rp && !rp->gone && rp->moving && slot == rp->dest &&
	    slot != rp->src) {
		hold(rp, &rp->out, &tmpl, NULL, 0);
		return 0;
	}
	/* the front end's agent tells of one born elsewhere that came home */
	if (!rp || rp->gone || slot != rp->host ||
	    (slot == 0 && (!rp->birth || rp->moving))) {
		pr_debug("EXIT of pid %u from slot %d, not its host",
			 tmpl.exit.pid, slot);
		return 0;
	}
	exited(rp, &tmpl.exit, slot);
	if (!rp->moving)
		rp_free(rp);
	return 0;
}

static int on_signal(int slot, const uint8_t *d, uint32_t len)
{
	struct held tmpl = { .type = BPROC_MSG_SIGNAL };
	struct rproc *rp;
	uint32_t pid;

	if (bp_signal_decode(d, len, &pid, &tmpl.tid, &tmpl.signo))
		return -EPROTO;
	rp = rp_find((pid_t)pid);
	/*
	 * From its ghost on the front end, or its proxy where it was born
	 * (also what the proxy got just before it restored the process
	 * there, if the move has ended since: it is the host now).
	 */
	if (!rp || rp->gone ||
	    (slot != 0 && slot != rp->birth &&
	     !(rp->born && slot == rp->host))) {
		pr_debug("SIGNAL %u for pid %u from slot %d: nobody to take it",
			 tmpl.signo, pid, slot);
		return 0;
	}
	if (rp->moving)
		hold(rp, &rp->sigs, &tmpl, NULL, 0);
	else if (rp->host != 0 || slot != 0)
		send_tsignal(rp->host, rp, tmpl.tid, tmpl.signo);
	return 0;
}

/* fd 0: from the front end to the host, or requeued by the old host. */
static void on_stdin(int slot, struct rproc *rp, unsigned int type,
		     unsigned int flags, const uint8_t *data, uint32_t n)
{
	struct held tmpl = { .type = type, .flags = flags };

	if (type == BPROC_MSG_IO_DATA && (flags & BPROC_IO_REQUEUE)) {
		if (!rp->moving || slot != rp->src) {
			pr_debug("pid %d: requeued stdin from slot %d outside "
				 "its move",
				 rp->pid, slot);
			return;
		}
		hold(rp, &rp->requeue, &tmpl, data, n);
		return;
	}
	if (slot != 0) {
		pr_debug("pid %d: stdin from slot %d, not the front end",
			 rp->pid, slot);
		return;
	}
	if (type == BPROC_MSG_IO_EOF) {
		if (rp->stdin_eof)
			return;
		rp->stdin_eof = true;
	}
	if (rp->moving) {
		hold(rp, &rp->in, &tmpl, data, n);
		return;
	}
	if (rp->host == 0) {
		pr_debug("pid %d runs on the front end: stdin dropped",
			 rp->pid);
		return;
	}
	send_io(rp->host, rp->pid, type, 0, 0, data, n);
	if (type == BPROC_MSG_IO_EOF)
		rp->eof_delivered = true;
}

/* What the front end says to the process's host: now, or once it moved. */
static void to_host(struct rproc *rp, const struct held *h)
{
	if (rp->moving)
		hold(rp, &rp->back, h, NULL, 0);
	else if (rp->host != 0)
		send_back(rp->host, rp->pid, h);
}

static int on_ack(int slot, const uint8_t *d, uint32_t len)
{
	struct held tmpl = { .type = BPROC_MSG_IO_ACK };
	struct rproc *rp;
	uint32_t pid;

	if (bp_io_ack_decode(d, len, &pid, &tmpl.fd, &tmpl.acked))
		return -EPROTO;
	rp = rp_find((pid_t)pid);
	if (!rp || rp->gone) {
		pr_debug("IO_ACK of pid %u from slot %d: not routed", pid,
			 slot);
		return 0;
	}
	if (tmpl.fd == 0 && slot != 0)
		send_ack(0, rp->pid, 0, tmpl.acked);
	else if (tmpl.fd != 0 && slot == 0)
		to_host(rp, &tmpl);
	else
		pr_debug("IO_ACK fd %u of pid %u from slot %d: not its reader",
			 tmpl.fd, pid, slot);
	return 0;
}

static int on_io(int slot, unsigned int type, const uint8_t *d, uint32_t len)
{
	const uint8_t *data;
	unsigned int fd, flags;
	struct rproc *rp;
	uint32_t pid, n;

	if (bp_io_decode(type, d, len, &pid, &fd, &flags, &data, &n))
		return -EPROTO;
	rp = rp_find((pid_t)pid);
	if (!rp || rp->gone) {
		pr_debug("%s fd %u of pid %u from slot %d: not routed",
			 bp_msg_name(type), fd, pid, slot);
		return 0;
	}
	if (fd == 0) {
		on_stdin(slot, rp, type, flags, data, n);
		return 0;
	}
	if (slot == 0) {
		/* fd 1 or 2 from the front end: only "the reader is gone" */
		struct held tmpl = { .type = type, .fd = fd };

		if (type == BPROC_MSG_IO_EOF)
			to_host(rp, &tmpl);
		else
			pr_debug("output of pid %u from the front end", pid);
		return 0;
	}
	if (rp->moving && slot == rp->dest && slot != rp->src) {
		struct held tmpl = { .type = type, .fd = fd, .flags = flags };

		if (!rp->mark_seen || rp->out.head)
			hold(rp, &rp->out, &tmpl, data, n);
		else
			send_io(0, rp->pid, type, fd, flags, data, n);
		return 0;
	}
	if (slot != rp->host || slot == 0 || (rp->moving && rp->mark_seen)) {
		pr_debug("%s fd %u of pid %u from slot %d, not its host",
			 bp_msg_name(type), fd, pid, slot);
		return 0;
	}
	send_io(0, rp->pid, type, fd, flags, data, n);
	return 0;
}

static int on_mark(int slot, const uint8_t *d, uint32_t len)
{
	struct rproc *rp;
	uint32_t pid, unread;
	uint64_t id;

	if (bp_io_mark_decode(d, len, &pid, &id, &unread))
		return -EPROTO;
	rp = rp_find((pid_t)pid);
	if (!rp || !rp->moving || rp->move_id != id || slot != rp->src) {
		pr_debug("IO_MARK of move %llu (pid %u) from slot %d: not in "
			 "flight",
			 (unsigned long long)id, pid, slot);
		return 0;
	}
	/*
	 * A process leaving the front end has no output of the old host to
	 * wait for, but no ghost either until the move is done: what the new
	 * host says waits for that (move_ended), not for this.
	 */
	if (rp->src == 0)
		return 0;
	rp->mark_seen = true;
	if (rp->dest == 0 && !rp->gone) {
		/* the ghost restores once the output before this is out */
		struct bp_conn *c = conn_of(0, rp->pid, BPROC_MSG_IO_MARK);

		if (c)
			sent(c, bp_send_io_mark(c, pid, id, unread), rp->pid,
			     BPROC_MSG_IO_MARK);
	}
	release_out(rp, false);
	return 0;
}

/*
 * Processes that recently left a node: they exited or moved away (a late
 * report of them is stale), or the master gave them up for lost while the
 * node was away (their ghosts are gone: if the node comes back with them,
 * they are orphans to end).  A ring of the latest ones is enough.
 */
#define LEFT_MAX 1024

static struct {
	pid_t pid;
	int slot;
	bool orphan;
} left[LEFT_MAX];
static size_t left_next;

static void remember_left(pid_t pid, int slot, bool orphan)
{
	left[left_next].pid = pid;
	left[left_next].slot = slot;
	left[left_next].orphan = orphan;
	left_next = (left_next + 1) % LEFT_MAX;
}

/* 0: not seen leaving slot; 1: left it; 2: left it an orphan. */
static int has_left(pid_t pid, int slot)
{
	size_t i, k;

	/* the latest first: a pid may leave a node more than once */
	for (i = 1; i <= LEFT_MAX; i++) {
		k = (left_next + LEFT_MAX - i) % LEFT_MAX;
		if (left[k].pid == pid && left[k].slot == slot && pid)
			return left[k].orphan ? 2 : 1;
	}
	return 0;
}

/*
 * A node reports a process the master does not know: the master restarted
 * while it ran there.  Its ghost still holds its pid on the front end, so
 * the master takes it back into its table and routes for it again; one the
 * master gave up for lost is ended instead.
 */
static void adopt(int slot, pid_t pid)
{
	struct proc_info p;
	struct rproc *rp;
	char name[16];

	switch (has_left(pid, slot)) {
	case 1:
		return;
	case 2: {
		struct bp_conn *c = conn_of(slot, pid, BPROC_MSG_SIGNAL);

		pr_info("pid %d, given up for lost, reported again by slot %d:"
			" ended",
			pid, slot);
		if (c)
			sent(c, bp_send_signal(c, pid, SIGKILL), pid,
			     BPROC_MSG_SIGNAL);
		return;
	}
	}
	if (proctab_find(pid, &p) || p.slot != 0 || p.state == 'Z')
		return;
	rp = rp_new(pid);
	if (!rp)
		return;
	if (proctab_moved(&p, slot, time(NULL))) {
		rp_free(rp);
		return;
	}
	rp->info = p;
	rp->host = slot;
	slot_name(slot, name, sizeof(name));
	events_add("pid %d (%s) runs on %s (reported by its agent)", pid,
		   p.comm, name);
}

/*
 * Its ghost's parent on the front end is another than when it moved (the
 * parent ended, and the ghost was reparented): its host hears of it, for
 * getppid() there. Not while it moves: the next host hears once it is
 * there.
 */
static void tell_parent(struct rproc *rp)
{
	pid_t ppid = rp->moving ? -1 : proctab_parent(rp->pid);
	struct bp_conn *c;

	if (ppid <= 0 || ppid == rp->info.ppid)
		return;
	c = conn_of(rp->host, rp->pid, BPROC_MSG_PROC_PARENT);
	if (!c)
		return;
	pr_debug("pid %d: its parent is %d now (was %d)", rp->pid, ppid,
		 rp->info.ppid);
	sent(c,
	     bp_send_pid_pair(c, BPROC_MSG_PROC_PARENT, (uint32_t)rp->pid,
			      (uint32_t)ppid),
	     rp->pid, BPROC_MSG_PROC_PARENT);
	rp->info.ppid = ppid;
}

static int on_report(int slot, const uint8_t *d, uint32_t len)
{
	struct bp_proc_report r;
	struct proc_info p = { 0 };
	struct rproc *rp;

	if (bp_proc_report_decode(d, len, &r))
		return -EPROTO;
	if (slot == 0)
		return 0;
	rp = rp_find((pid_t)r.pid);
	if (!rp) {
		adopt(slot, (pid_t)r.pid);
		rp = rp_find((pid_t)r.pid);
	}
	if (!rp || rp->gone || rp->host != slot)
		return 0;
	p.state = r.state ? r.state : '?';
	snprintf(p.comm, sizeof(p.comm), "%s", r.comm);
	p.ruid = p.euid = p.suid = r.uid;
	p.rss_kb = r.rss_kb;
	p.utime_ms = r.utime_ms;
	p.stime_ms = r.stime_ms;
	/* it may have exec'd there: events name it as it is now */
	memcpy(rp->info.comm, p.comm, sizeof(rp->info.comm));
	proctab_report(rp->pid, rp->info.start, &p);
	tell_parent(rp);
	return 0;
}

/* The front end's agent hears of what it keeps ghosts for. */
static void to_front(unsigned int type, uint32_t pid, uint32_t other)
{
	struct bp_conn *c = conn_of(0, (pid_t)pid, type);

	if (c)
		sent(c, bp_send_pid_pair(c, type, pid, other), (pid_t)pid,
		     type);
}

/*
 * A process that a cluster process started on slot: it is listed there
 * and routed as a moved one, and the front end makes its ghost.
 */
static int on_proc_fork(int slot, const uint8_t *d, uint32_t len)
{
	struct proc_info p = { 0 };
	struct bp_proc_fork f;
	struct rproc *rp, *parent;
	struct bp_conn *c;

	if (bp_proc_fork_decode(d, len, &f))
		return -EPROTO;
	parent = rp_find((pid_t)f.ppid);
	/* one forked as soon as it ran there, before its move has ended */
	if (slot == 0 || !parent || parent->gone ||
	    (parent->host != slot && !(parent->moving && slot == parent->dest &&
				       slot != parent->src))) {
		pr_debug("PROC_FORK of pid %u (parent %u) from slot %d: its "
			 "parent is not there",
			 f.pid, f.ppid, slot);
		return 0;
	}
	rp = rp_find((pid_t)f.pid);
	if (rp) {
		/* pids are unique: an entry left of an earlier one is stale */
		if (rp->moving || !rp->gone)
			pr_warn("pid %u on slot %d: already known", f.pid,
				slot);
		if (rp->moving)
			return 0;
		rp_free(rp);
	}
	rp = rp_new((pid_t)f.pid);
	if (!rp)
		return 0;
	p.pid = (pid_t)f.pid;
	p.ppid = (pid_t)f.ppid;
	p.slot = slot;
	p.state = 'R';
	snprintf(p.comm, sizeof(p.comm), "%s", f.comm);
	p.ruid = p.euid = p.suid = f.uid;
	p.rgid = parent->info.rgid;
	p.started_at = time(NULL);
	rp->info = p;
	rp->host = slot;
	rp->born = true;
	if (proctab_born(&p, slot)) {
		pr_warn("pid %u: out of memory for the process table", f.pid);
		rp_free(rp);
		return 0;
	}
	c = conn_of(0, rp->pid, BPROC_MSG_PROC_FORK);
	if (c)
		sent(c, bp_send_proc_fork(c, &f), rp->pid, BPROC_MSG_PROC_FORK);
	return 0;
}

/*
 * A process executed a program where it runs: listed under its new name at
 * once (not at the next report), and its ghost takes it too.
 */
static int on_proc_exec(int slot, const uint8_t *d, uint32_t len)
{
	struct bp_proc_exec x;
	struct rproc *rp;
	struct bp_conn *c;

	if (bp_proc_exec_decode(d, len, &x))
		return -EPROTO;
	rp = rp_find((pid_t)x.pid);
	if (slot != 0 && rp && !rp->gone && rp->moving && slot == rp->dest &&
	    slot != rp->src) {
		struct held tmpl = { .type = BPROC_MSG_PROC_EXEC };

		hold(rp, &rp->out, &tmpl, d, len);
		return 0;
	}
	if (slot == 0 || !rp || rp->gone || rp->host != slot)
		return 0;
	snprintf(rp->info.comm, sizeof(rp->info.comm), "%s", x.comm);
	proctab_rename(rp->pid, rp->info.start, x.comm);
	c = conn_of(0, rp->pid, BPROC_MSG_PROC_EXEC);
	if (c)
		sent(c, bp_send_proc_exec(c, &x), rp->pid, BPROC_MSG_PROC_EXEC);
	return 0;
}

/* The front end could not make the ghost: the process cannot be. */
static int on_proc_ghost(int slot, const uint8_t *d, uint32_t len)
{
	uint32_t pid, err;
	struct rproc *rp;
	char name[16];

	if (bp_pid_pair_decode(BPROC_MSG_PROC_GHOST, d, len, &pid, &err))
		return -EPROTO;
	rp = rp_find((pid_t)pid);
	if (slot != 0 || !err || !rp || rp->gone)
		return 0;
	slot_name(rp->host, name, sizeof(name));
	events_add("pid %d (%s) on %s killed: no ghost on the front end: %s%s",
		   rp->pid, rp->info.comm, name, route_errno_name((int)err),
		   err == EEXIST ? ": its pid is taken there" : "");
	send_signal(rp->host, rp, SIGKILL);
	return 0;
}

/*
 * Reaped where it ran, the streams pass on, a new process group or
 * session there: for the front end.
 */
static int on_proc_pid(int slot, unsigned int type, const uint8_t *d,
		       uint32_t len)
{
	uint32_t pid, other;

	if (bp_pid_pair_decode(type, d, len, &pid, &other))
		return -EPROTO;
	if (slot != 0)
		to_front(type, pid, other);
	return 0;
}

void route_joined(int slot)
{
	struct bp_conn *c = net_slot_conn(slot);
	struct node *n;
	int num = -1;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(slot);
	if (n)
		num = n->num;
	pthread_mutex_unlock(&table_lock);
	if (!c || slot == 0 || num < 0)
		return;
	if (num >= (int)BP_PID_NODES) {
		pr_warn("node %d: no pid range (nodes 0 to %u have one): what "
			"its processes start there cannot join the cluster",
			num, BP_PID_NODES - 1);
		return;
	}
	if (bp_send_pid_range(c, BP_PID_RANGE_LO(num),
			      BP_PID_RANGE_LO(num + 1)))
		pr_warn("node %d: its pid range could not be sent", num);
	net_conn_sent(c);
}

int route_frame(int slot, unsigned int type, const uint8_t *data, uint32_t len)
{
	int err;

	pthread_mutex_lock(&route_lock);
	switch (type) {
	case BPROC_MSG_MOVE_ARMED:
		err = on_armed(slot, data, len);
		break;
	case BPROC_MSG_MOVE_RESULT:
		err = on_result(slot, data, len);
		break;
	case BPROC_MSG_PROC_REPORT:
		err = on_report(slot, data, len);
		break;
	case BPROC_MSG_SIGNAL:
		err = on_signal(slot, data, len);
		break;
	case BPROC_MSG_IO_DATA:
	case BPROC_MSG_IO_EOF:
		err = on_io(slot, type, data, len);
		break;
	case BPROC_MSG_IO_MARK:
		err = on_mark(slot, data, len);
		break;
	case BPROC_MSG_IO_ACK:
		err = on_ack(slot, data, len);
		break;
	case BPROC_MSG_EXIT:
		err = on_exit_msg(slot, data, len);
		break;
	case BPROC_MSG_PROC_FORK:
		err = on_proc_fork(slot, data, len);
		break;
	case BPROC_MSG_PROC_GHOST:
		err = on_proc_ghost(slot, data, len);
		break;
	case BPROC_MSG_PROC_EXEC:
		err = on_proc_exec(slot, data, len);
		break;
	case BPROC_MSG_PROC_REAPED:
	case BPROC_MSG_STREAM_OWNER:
	case BPROC_MSG_PROC_PGRP:
	case BPROC_MSG_PROC_SESSION:
	case BPROC_MSG_PROC_THREAD:
	case BPROC_MSG_PROC_THREAD_END:
		err = on_proc_pid(slot, type, data, len);
		break;
	default:
		err = -EPROTO;
		break;
	}
	pthread_mutex_unlock(&route_lock);
	if (err)
		pr_warn("slot %d: malformed %s", slot, bp_msg_name(type));
	return err;
}

/* ---- nodes going away ---- */

/* Every process hosted on slot is lost; the front end ends its ghost. */
/* rp, hosted on slot (called name), is lost; the front end ends its ghost. */
static void lose_one(struct rproc *rp, int slot, const char *name,
		     const char *why)
{
	struct bp_exit e = { 0 };

	e.pid = (uint32_t)rp->pid;
	e.status = SIGKILL;
	e.flags = BPROC_EXIT_LOST;
	snprintf(e.reason, sizeof(e.reason), "%s down", name);
	send_exit(&e);
	to_birth(rp, &e);
	proctab_exited(rp->pid);
	remember_left(rp->pid, slot, true);
	events_add("pid %d (%s) lost on %s: %s", rp->pid, rp->info.comm, name,
		   why);
	rp->gone = true;
}

/* Every process hosted on slot is lost. */
static void lose_hosted(int slot, const char *name, const char *why)
{
	struct rproc *rp, *next;
	size_t i;

	for (i = 0; i < RP_BUCKETS; i++) {
		for (rp = buckets[i]; rp; rp = next) {
			next = rp->hnext;
			if (rp->birth == slot) {
				/* its proxy, and its parent there, are gone */
				rp->birth = 0;
				if (rp->host == 0 && !rp->moving && !rp->gone) {
					rp_free(rp);
					continue;
				}
			}
			if (rp->gone || rp->host != slot)
				continue;
			lose_one(rp, slot, name, why);
			if (!rp->moving)
				rp_free(rp);
		}
	}
}

/*
 * Processes ended because the front end's agent was gone: if it was only
 * its connection that was, their ghosts still wait, and hear of it when the
 * agent is back (route_front_end_back).
 */
#define CUT_OFF_MAX 4096
static pid_t cut_off[CUT_OFF_MAX];
static size_t nr_cut_off;

/*
 * The front end's agent is gone, and with it the ghosts: processes away
 * have no pid, no parent and no terminal left.  End them.
 */
static void lose_ghosts(const char *why)
{
	struct rproc *rp, *next;
	size_t i;

	for (i = 0; i < RP_BUCKETS; i++) {
		for (rp = buckets[i]; rp; rp = next) {
			char name[16];

			next = rp->hnext;
			if (rp->gone || rp->host == 0)
				continue;
			slot_name(rp->host, name, sizeof(name));
			send_signal(rp->host, rp, SIGKILL);
			remember_left(rp->pid, rp->host, true);
			proctab_exited(rp->pid);
			if (nr_cut_off < CUT_OFF_MAX)
				cut_off[nr_cut_off++] = rp->pid;
			events_add(
				"pid %d (%s) on %s killed: its ghost is gone "
				"(master %s)",
				rp->pid, rp->info.comm, name, why);
			rp->gone = true;
			if (!rp->moving)
				rp_free(rp);
		}
	}
}

void route_front_end_back(void)
{
	struct bp_exit e = { 0 };
	size_t i;

	pthread_mutex_lock(&route_lock);
	for (i = 0; i < nr_cut_off; i++) {
		e.pid = (uint32_t)cut_off[i];
		e.status = SIGKILL;
		e.flags = BPROC_EXIT_LOST;
		snprintf(e.reason, sizeof(e.reason),
			 "ended while the front end's agent was away");
		send_exit(&e);
	}
	nr_cut_off = 0;
	pthread_mutex_unlock(&route_lock);
}

void route_node_lost(int slot, const char *node, const char *reason)
{
	char name[16], why[96];
	struct rproc *rp, *next;
	size_t i;

	if (node)
		snprintf(name, sizeof(name), "%s", node);
	else
		slot_name(slot, name, sizeof(name));
	snprintf(why, sizeof(why), "%s down (%s)", name,
		 reason && *reason ? reason : "connection closed");
	pthread_mutex_lock(&route_lock);
	/* moves whose source is gone end here: nobody else will say so */
	for (i = 0; i < RP_BUCKETS; i++) {
		for (rp = buckets[i]; rp; rp = next) {
			next = rp->hnext;
			if (rp->moving && rp->src == slot)
				move_ended(rp, -ECONNRESET, 0, why);
		}
	}
	if (slot == 0)
		lose_ghosts(reason && *reason ? reason : "connection closed");
	else
		lose_hosted(slot, name, why);
	pthread_mutex_unlock(&route_lock);
}

void route_shutdown(void)
{
	struct rproc *rp;
	size_t i;

	pthread_mutex_lock(&route_lock);
	for (i = 0; i < RP_BUCKETS; i++) {
		while ((rp = buckets[i])) {
			if (rp->moving) {
				answer(rp, -ECONNRESET);
				__atomic_sub_fetch(&in_flight, 1,
						   __ATOMIC_RELAXED);
			}
			rp_free(rp);
		}
	}
	orders = NULL;
	orders_tail = &orders;
	pthread_mutex_unlock(&route_lock);
}
