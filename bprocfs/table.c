// SPDX-License-Identifier: GPL-2.0
/*
 * The node table: every configured node with its state, last report and
 * permissions.  The network thread drives the state machine
 *
 *	down --(agent authenticated)--> boot --(first report)--> up
 *	boot/up --(report with a fault)--> error --(clean report)--> up
 *	any --(connection closed, or silent for `timeout`)--> down
 *
 * and every change is an event, bumps the node's gen and wakes the poll()s
 * on its status file.  Permissions of node directories are kept in memory
 * for every node ever configured and written to the `state` file, if the
 * config names one, on every change.
 */
#define LOG_PREFIX "table"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "bprocfs.h"

#define DEFAULT_MODE 0555 /* BProc: execute for all once a node is set up */
#define NOTIFY_MAX 256

pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
struct move_stats table_moves;

static struct node **nodes; /* by slot */
static size_t nr_nodes;
static struct bp_config cur; /* scalars only: nodes stay NULL */

struct perm {
	char name[16];
	uid_t uid;
	gid_t gid;
	mode_t mode;
};
static struct perm *perms;
static size_t nr_perms;

/* poll handles to notify once the lock is dropped */
static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fuse_pollhandle *notify_q[NOTIFY_MAX];
static size_t notify_n;

const char *node_state_name(enum node_state s)
{
	switch (s) {
	case NODE_BOOT:
		return "boot";
	case NODE_UP:
		return "up";
	case NODE_ERROR:
		return "error";
	default:
		return "down";
	}
}

static struct perm *perm_find(const char *name)
{
	size_t i;

	for (i = 0; i < nr_perms; i++)
		if (!strcmp(perms[i].name, name))
			return &perms[i];
	return NULL;
}

static struct perm *perm_get(const char *name)
{
	struct perm *p = perm_find(name), *np;

	if (p)
		return p;
	np = realloc(perms, (nr_perms + 1) * sizeof(*perms));
	if (!np)
		return NULL;
	perms = np;
	p = &perms[nr_perms++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->uid = 0;
	p->gid = 0;
	p->mode = DEFAULT_MODE;
	return p;
}

/* The state file: "NAME UID GID MODE" lines, '#' comments. */
static int perms_load(const char *path, char *err, size_t errlen)
{
	char line[256];
	int lineno = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[32], extra[2];
		unsigned long uid, gid, mode;
		struct perm *p;
		int n;

		lineno++;
		line[strcspn(line, "#")] = '\0';
		n = sscanf(line, "%31s %lu %lu %lo %1s", name, &uid, &gid,
			   &mode, extra);
		if (n <= 0)
			continue;
		if (n != 4 || mode > 07777 || uid > UINT32_MAX - 1 ||
		    gid > UINT32_MAX - 1 || strlen(name) > 15) {
			snprintf(err, errlen,
				 "%s:%d: expected 'NODE UID GID MODE'", path,
				 lineno);
			fclose(f);
			return -EINVAL;
		}
		p = perm_get(name);
		if (!p) {
			snprintf(err, errlen, "%s: out of memory", path);
			fclose(f);
			return -ENOMEM;
		}
		p->uid = uid;
		p->gid = gid;
		p->mode = mode;
	}
	fclose(f);
	return 0;
}

/* Rewrite the state file atomically: a new file, fsync, rename. */
static int perms_save(void)
{
	char tmp[4096];
	size_t i;
	FILE *f;
	int fd;

	if (!cur.state_path)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", cur.state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		pr_perror("%s", tmp);
		return -EIO;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	fprintf(f, "# bprocfs node permissions: NODE UID GID MODE\n");
	for (i = 0; i < nr_perms; i++)
		fprintf(f, "%s %u %u %04o\n", perms[i].name,
			(unsigned int)perms[i].uid, (unsigned int)perms[i].gid,
			(unsigned int)perms[i].mode);
	if (fflush(f) || fsync(fileno(f))) {
		pr_perror("%s", tmp);
		fclose(f);
		unlink(tmp);
		return -EIO;
	}
	fclose(f);
	if (rename(tmp, cur.state_path) < 0) {
		pr_perror("rename %s", tmp);
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static struct node *node_new(const struct bp_node_conf *nc)
{
	struct node *n = calloc(1, sizeof(*n));
	struct perm *p;

	if (!n)
		return NULL;
	p = perm_get(nc->name);
	if (!p) {
		free(n);
		return NULL;
	}
	n->num = nc->num;
	n->slot = num_slot(nc->num);
	snprintf(n->name, sizeof(n->name), "%s", nc->name);
	snprintf(n->addr_str, sizeof(n->addr_str), "%s", nc->addr_str);
	n->send = nc->send;
	n->state = NODE_DOWN;
	n->since = time(NULL);
	n->uid = p->uid;
	n->gid = p->gid;
	n->mode = p->mode;
	return n;
}

static void copy_scalars(const struct bp_config *cfg)
{
	free(cur.state_path);
	cur.state_path = cfg->state_path ? strdup(cfg->state_path) : NULL;
	cur.heartbeat_ms = cfg->heartbeat_ms;
	cur.timeout_ms = cfg->timeout_ms;
	cur.master = cfg->master;
	memcpy(cur.master_str, cfg->master_str, sizeof(cur.master_str));
}

int table_init(const struct bp_config *cfg, char *err, size_t errlen)
{
	size_t i;
	int ret;

	copy_scalars(cfg);
	if (cur.state_path) {
		ret = perms_load(cur.state_path, err, errlen);
		if (ret)
			return ret;
	}
	nodes = calloc(cfg->nr_nodes, sizeof(*nodes));
	if (!nodes)
		goto out_oom;
	for (i = 0; i < cfg->nr_nodes; i++) {
		nodes[i] = node_new(&cfg->nodes[i]);
		if (!nodes[i])
			goto out_oom;
		nr_nodes++;
	}
	return 0;

out_oom:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void table_fini(void)
{
	size_t i;

	for (i = 0; i < nr_nodes; i++) {
		struct fs_handle *h;

		for (h = nodes[i]->pollers; h; h = h->poll_next) {
			fuse_pollhandle_destroy(h->ph);
			h->ph = NULL;
			h->polling = false;
		}
		free(nodes[i]);
	}
	free(nodes);
	nodes = NULL;
	nr_nodes = 0;
	free(perms);
	perms = NULL;
	nr_perms = 0;
	free(cur.state_path);
	cur.state_path = NULL;
}

struct node *table_find_slot(int slot)
{
	size_t lo = 0, hi = nr_nodes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (nodes[mid]->slot == slot)
			return nodes[mid];
		if (nodes[mid]->slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct node *table_find_name(const char *name)
{
	const char *p;
	char *end;
	long v;

	if (!strcmp(name, "master"))
		return table_find_slot(0);
	if (strncmp(name, "node", 4))
		return NULL;
	p = name + 4;
	if (*p < '0' || *p > '9' || (*p == '0' && p[1]))
		return NULL;
	v = strtol(p, &end, 10);
	if (*end || v < 0 || v > BP_NODE_MAX)
		return NULL;
	return table_find_slot((int)v + 1);
}

size_t table_count(void)
{
	return nr_nodes;
}

struct node *table_at(size_t i)
{
	return i < nr_nodes ? nodes[i] : NULL;
}

const struct bp_config *table_config(void)
{
	return &cur;
}

/* Queue the pollers of n for a wake-up; the lock is held. */
static void wake_pollers(struct node *n)
{
	struct fs_handle *h, *next;

	pthread_mutex_lock(&notify_lock);
	for (h = n->pollers; h; h = next) {
		next = h->poll_next;
		if (h->ph) {
			if (notify_n < NOTIFY_MAX)
				notify_q[notify_n++] = h->ph;
			else
				fuse_pollhandle_destroy(h->ph);
		}
		h->ph = NULL;
		h->polling = false;
		h->poll_next = NULL;
	}
	n->pollers = NULL;
	pthread_mutex_unlock(&notify_lock);
}

void table_flush_notify(void)
{
	struct fuse_pollhandle *q[NOTIFY_MAX];
	size_t i, n;

	pthread_mutex_lock(&notify_lock);
	n = notify_n;
	memcpy(q, notify_q, n * sizeof(q[0]));
	notify_n = 0;
	pthread_mutex_unlock(&notify_lock);
	for (i = 0; i < n; i++) {
		fuse_lowlevel_notify_poll(q[i]);
		fuse_pollhandle_destroy(q[i]);
	}
}

static void set_state(struct node *n, enum node_state s, const char *why)
{
	enum node_state old = n->state;

	if (old == s)
		return;
	n->state = s;
	n->since = time(NULL);
	n->gen++;
	if (why && *why) {
		events_add("%s %s (was %s: %s)", n->name, node_state_name(s),
			   node_state_name(old), why);
		pr_info("%s %s (was %s: %s)", n->name, node_state_name(s),
			node_state_name(old), why);
	} else {
		events_add("%s %s (was %s)", n->name, node_state_name(s),
			   node_state_name(old));
		pr_info("%s %s (was %s)", n->name, node_state_name(s),
			node_state_name(old));
	}
	wake_pollers(n);
}

void *table_joined(const char *name, void *conn, int *slot, bool *unknown)
{
	void *old = NULL;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_name(name);
	*unknown = !n;
	if (n) {
		old = n->conn;
		n->conn = conn;
		*slot = n->slot;
		n->last_seen_ms = bp_now_ms();
		n->seen = true;
		n->have_status = false;
		if (n->state == NODE_BOOT) {
			/* a new agent took over; still joining */
		} else {
			set_state(n, NODE_BOOT,
				  old ? "agent reconnected" : "agent joining");
		}
	}
	pthread_mutex_unlock(&table_lock);
	table_flush_notify();
	return old;
}

void table_status(int slot, void *conn, const struct bp_status *st)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(slot);
	if (n && n->conn == conn) {
		n->st = *st;
		n->have_status = true;
		n->last_seen_ms = bp_now_ms();
		if (st->flags & BPROC_STATUS_FAULT)
			set_state(n, NODE_ERROR, st->fault);
		else
			set_state(n, NODE_UP,
				  n->state == NODE_BOOT ? "agent reported" :
							  "fault cleared");
	}
	pthread_mutex_unlock(&table_lock);
	table_flush_notify();
}

bool table_lost(int slot, void *conn, const char *reason)
{
	struct node *n;
	bool lost = false;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(slot);
	if (n && n->conn == conn) {
		n->conn = NULL;
		set_state(n, NODE_DOWN, reason);
		lost = true;
	}
	pthread_mutex_unlock(&table_lock);
	table_flush_notify();
	return lost;
}

size_t table_silent(int64_t now_ms, void **conns, int *slots, size_t max)
{
	size_t i, k = 0;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < nr_nodes && k < max; i++) {
		struct node *n = nodes[i];

		if (n->conn && now_ms - n->last_seen_ms > cur.timeout_ms) {
			conns[k] = n->conn;
			slots[k++] = n->slot;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return k;
}

void table_reconfigure(const struct bp_config *cfg,
		       void (*drop)(void *conn, void *arg), void *arg)
{
	struct node **fresh;
	size_t i, j = 0;

	fresh = calloc(cfg->nr_nodes ? cfg->nr_nodes : 1, sizeof(*fresh));
	if (!fresh) {
		pr_err("out of memory: configuration not applied");
		return;
	}
	pthread_mutex_lock(&table_lock);
	copy_scalars(cfg);
	/* both lists are sorted by slot */
	for (i = 0; i < cfg->nr_nodes; i++) {
		const struct bp_node_conf *nc = &cfg->nodes[i];
		int slot = num_slot(nc->num);

		while (j < nr_nodes && nodes[j]->slot < slot) {
			struct node *gone = nodes[j++];

			if (gone->conn)
				drop(gone->conn, arg);
			gone->conn = NULL;
			set_state(gone, NODE_DOWN, "removed from the config");
			events_add("%s removed from the config", gone->name);
			free(gone);
		}
		if (j < nr_nodes && nodes[j]->slot == slot) {
			fresh[i] = nodes[j++];
			snprintf(fresh[i]->addr_str, sizeof(fresh[i]->addr_str),
				 "%s", nc->addr_str);
			fresh[i]->send = nc->send;
		} else {
			fresh[i] = node_new(nc);
			if (!fresh[i]) {
				pr_err("out of memory: %s not added", nc->name);
				continue;
			}
			events_add("%s added to the config", nc->name);
		}
	}
	while (j < nr_nodes) {
		struct node *gone = nodes[j++];

		if (gone->conn)
			drop(gone->conn, arg);
		gone->conn = NULL;
		set_state(gone, NODE_DOWN, "removed from the config");
		events_add("%s removed from the config", gone->name);
		free(gone);
	}
	/* compact out the nodes that failed to allocate */
	for (i = j = 0; i < cfg->nr_nodes; i++)
		if (fresh[i])
			fresh[j++] = fresh[i];
	free(nodes);
	nodes = fresh;
	nr_nodes = j;
	pthread_mutex_unlock(&table_lock);
	table_flush_notify();
}

int table_set_perm(int slot, uid_t uid, gid_t gid, mode_t mode)
{
	struct perm *p;
	struct node *n;
	int ret = 0;

	pthread_mutex_lock(&table_lock);
	n = table_find_slot(slot);
	if (!n) {
		ret = -ENOENT;
		goto out_unlock;
	}
	p = perm_get(n->name);
	if (!p) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	n->uid = p->uid = uid;
	n->gid = p->gid = gid;
	n->mode = p->mode = mode & 07777;
	ret = perms_save();
	events_add("%s permissions %u:%u %04o", n->name, (unsigned int)uid,
		   (unsigned int)gid, (unsigned int)(mode & 07777));

out_unlock:
	pthread_mutex_unlock(&table_lock);
	return ret;
}

void table_poll_add(struct node *n, struct fs_handle *h)
{
	if (h->polling)
		return;
	h->poll_next = n->pollers;
	n->pollers = h;
	h->polling = true;
}

void table_poll_remove(struct fs_handle *h)
{
	size_t i;

	pthread_mutex_lock(&table_lock);
	if (h->polling) {
		for (i = 0; i < nr_nodes; i++) {
			struct fs_handle **pp;

			for (pp = &nodes[i]->pollers; *pp;
			     pp = &(*pp)->poll_next) {
				if (*pp == h) {
					*pp = h->poll_next;
					goto found;
				}
			}
		}
found:
		h->polling = false;
	}
	if (h->ph)
		fuse_pollhandle_destroy(h->ph);
	h->ph = NULL;
	pthread_mutex_unlock(&table_lock);
}
