// SPDX-License-Identifier: GPL-2.0
/*
 * bprocfs [-f] [--config FILE] [-o FUSE-OPTS] [CONFIG] MOUNTPOINT
 *
 * The master on the front end.  This file only wires the parts together:
 * the command line and config, the node table, the network thread, and the
 * FUSE low-level session whose requests it routes by inode to cluster.c
 * (the root and its files), nodefs.c (the node directories) or
 * procfiles.c (the process files).
 *
 * Two positional arguments are what mount.fuse3 passes for an fstab line
 * of type fuse.bprocfs: the line's source (the config) and its mount point.
 * Under systemd (Type=notify) it says READY=1 once /bproc is mounted and
 * the agents' listener is open, and STOPPING=1 when it goes.
 */
#define LOG_PREFIX "main"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "../common/log.h"
#include "bprocfs.h"

#define DEFAULT_CONFIG "/etc/bproc/config"
#define DEFAULT_MOUNT "/bproc"

struct fuse_session *bprocfs_session;
double bprocfs_attr_timeout = 1.0;

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
			      b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

#define HANDLE_BUCKETS 1024

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_handle *handles[HANDLE_BUCKETS];
static uint64_t handle_next_id;

struct fs_handle *fs_handle_new(fuse_ino_t ino)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ino = ino;
	h->refs = 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&handles_lock);
	h->id = ++handle_next_id;
	h->hash_next = handles[h->id % HANDLE_BUCKETS];
	handles[h->id % HANDLE_BUCKETS] = h;
	pthread_mutex_unlock(&handles_lock);
	return h;
}

/* Find fi's handle; the caller then owns one reference. */
struct fs_handle *fs_handle_get(const struct fuse_file_info *fi)
{
	struct fs_handle *h;

	pthread_mutex_lock(&handles_lock);
	for (h = handles[fi->fh % HANDLE_BUCKETS]; h; h = h->hash_next)
		if (h->id == fi->fh)
			break;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&handles_lock);
	return h;
}

void fs_handle_put(struct fs_handle *h)
{
	struct fs_handle **pp;
	bool last;

	pthread_mutex_lock(&handles_lock);
	last = --h->refs == 0;
	if (last) {
		for (pp = &handles[h->id % HANDLE_BUCKETS]; *pp;
		     pp = &(*pp)->hash_next) {
			if (*pp == h) {
				*pp = h->hash_next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&handles_lock);
	if (!last)
		return;
	if (h->polling || h->ph)
		table_poll_remove(h);
	pthread_mutex_destroy(&h->lock);
	free(h->buf);
	free(h);
}

/* The file is closed: drop the open's reference, once. */
void fs_handle_release(const struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_get(fi);

	if (!h)
		return;
	pthread_mutex_lock(&handles_lock);
	for (struct fs_handle **pp = &handles[h->id % HANDLE_BUCKETS]; *pp;
	     pp = &(*pp)->hash_next) {
		if (*pp == h) {
			/* unhashed: later requests for it find nothing */
			*pp = h->hash_next;
			break;
		}
	}
	h->refs--; /* the open's; ours is dropped below */
	h->hash_next = NULL;
	pthread_mutex_unlock(&handles_lock);
	fs_handle_put(h);
}

void fs_reply_snapshot(fuse_req_t req, struct fs_handle *h, size_t size,
		       off_t off)
{
	if (off < 0 || (size_t)off >= h->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > h->len - off)
		size = h->len - off;
	fuse_reply_buf(req, h->buf + off, size);
}

int fs_handle_take_text(struct fs_handle *h, struct sbuf *b)
{
	if (b->oom) {
		free(b->p);
		b->p = NULL;
		return -ENOMEM;
	}
	free(h->buf);
	h->buf = b->p;
	h->len = b->len;
	b->p = NULL;
	return 0;
}

/* Build h's text afresh with build and install it in h. */
static int fs_snapshot(struct fs_handle *h, fs_build_fn build)
{
	struct sbuf b = { 0 };
	int err;

	err = build(h, &b);
	if (err) {
		free(b.p);
		return err;
	}
	return fs_handle_take_text(h, &b);
}

void fs_open_generated(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi, uint64_t proc_start,
		       fs_build_fn build)
{
	struct fs_handle *h;
	int err;

	h = fs_handle_new(ino);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->proc_start = proc_start;
	if (build) {
		err = fs_snapshot(h, build);
		if (err) {
			fs_handle_put(h);
			fuse_reply_err(req, -err);
			return;
		}
	}
	fi->fh = h->id;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_handle_put(h);
}

void fs_read_generated(fuse_req_t req, struct fuse_file_info *fi, size_t size,
		       off_t off, fs_build_fn build)
{
	struct fs_handle *h;
	int err;

	h = fs_handle_get(fi);
	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	err = off == 0 || !h->buf ? fs_snapshot(h, build) : 0;
	if (err)
		fuse_reply_err(req, -err);
	else
		fs_reply_snapshot(req, h, size, off);
	pthread_mutex_unlock(&h->lock);
	fs_handle_put(h);
}

void fs_fill_entry(struct fuse_entry_param *e, const struct stat *st,
		   double timeout)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = timeout;
	e->entry_timeout = bprocfs_attr_timeout;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC comes with open, not as a setattr before it */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* one read(2), one request: a snapshot is rebuilt at offset 0 only */
	conn->want &= ~FUSE_CAP_ASYNC_DIO;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent == INO_ROOT)
		cluster_lookup(req, name);
	else if (ino_is_node(parent))
		nodefs_lookup(req, parent, name);
	else
		fuse_reply_err(req, ENOTDIR);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)fi;
	if (ino_is_node(ino))
		nodefs_getattr(req, ino);
	else if (ino_is_proc(ino))
		procfiles_getattr(req, ino);
	else
		cluster_getattr(req, ino);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino_is_node(ino))
		nodefs_setattr(req, ino, attr, to_set);
	else if (ino_is_proc(ino))
		procfiles_setattr(req, ino, to_set);
	else
		fuse_reply_err(req, EPERM);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	if (ino == INO_ROOT)
		cluster_readdir(req, size, off);
	else if (ino_is_node(ino))
		nodefs_readdir(req, ino, size, off);
	else
		fuse_reply_err(req, ENOTDIR);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino_is_node(ino))
		nodefs_open(req, ino, fi);
	else if (ino_is_proc(ino))
		procfiles_open(req, ino, fi);
	else if (ino == INO_ROOT)
		fuse_reply_err(req, EISDIR);
	else
		cluster_open(req, ino, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if (ino_is_node(ino))
		nodefs_read(req, ino, size, off, fi);
	else if (ino_is_proc(ino))
		procfiles_read(req, ino, size, off, fi);
	else
		cluster_read(req, ino, size, off, fi);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	if (ino_is_node(ino))
		nodefs_write(req, ino, buf, size, off, fi);
	else if (ino_is_proc(ino))
		procfiles_write(req, ino, buf, size, fi);
	else
		fuse_reply_err(req, EBADF);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	if (fi->fh)
		fs_handle_release(fi);
	fuse_reply_err(req, 0);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	if (ino_is_node(ino)) {
		nodefs_poll(req, ino, fi, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM);
}

static const struct fuse_lowlevel_ops bprocfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.poll = op_poll,
};

static void on_sighup(int sig)
{
	(void)sig;
	net_request_reload();
}

/* Many agents, one socket each: take every descriptor we are allowed. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * A bprocfs that died leaves its mount behind, and every access to it
 * fails with ENOTCONN until it is unmounted: detach such a stale mount so
 * that a restart (systemd's Restart=, or by hand) mounts afresh.
 */
static int clear_stale_mount(const char *mountpoint)
{
	struct stat st;

	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return 0;
	if (umount2(mountpoint, MNT_DETACH) < 0) {
		pr_perror("%s is a dead FUSE mount and cannot be unmounted",
			  mountpoint);
		return -1;
	}
	pr_info("%s: a dead bprocfs's mount was detached", mountpoint);
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-f] [--config FILE] [-o FUSE-OPTS] [CONFIG] MOUNTPOINT\n"
		"  -f, --foreground   stay in the foreground\n"
		"  -c, --config FILE  cluster config (default %s)\n"
		"  -o OPTS            FUSE mount options\n"
		"  -d, --debug        FUSE debug output (implies -f)\n",
		prog, DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	const char *config_path = DEFAULT_CONFIG;
	const char *mountpoint = DEFAULT_MOUNT;
	struct fuse_loop_config *loop_cfg;
	char *abs_config = NULL, *abs_mount = NULL;
	bool foreground = false, debug = false;
	struct bp_config cfg;
	struct sigaction sa;
	char err[512];
	int c, ret = 1;

	bp_log_init(argv[0], LOG_INFO);
	fuse_opt_add_arg(&args, argv[0]);
	while ((c = getopt_long(argc, argv, "fc:o:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			fuse_opt_add_arg(&args, "-o");
			fuse_opt_add_arg(&args, optarg);
			break;
		case 'd':
			debug = foreground = true;
			break;
		case 'h':
			usage(stdout, argv[0]);
			fuse_opt_free_args(&args);
			return 0;
		default:
			usage(stderr, argv[0]);
			fuse_opt_free_args(&args);
			return 2;
		}
	}
	/* mount.fuse3 runs "bprocfs SOURCE MOUNTPOINT -o OPTS" */
	if (argc - optind == 2)
		config_path = argv[optind++];
	if (optind < argc)
		mountpoint = argv[optind++];
	if (optind != argc) {
		usage(stderr, argv[0]);
		fuse_opt_free_args(&args);
		return 2;
	}
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "allow_other,fsname=bproc,subtype=bproc");
	if (debug)
		fuse_opt_add_arg(&args, "-d");

	/* fuse_daemonize changes to /: keep the paths absolute */
	if (clear_stale_mount(mountpoint))
		goto out_free_args;
	abs_config = realpath(config_path, NULL);
	if (!abs_config) {
		fprintf(stderr, "%s: %s\n", config_path, strerror(errno));
		goto out_free_args;
	}
	if (bp_config_load(abs_config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out_free_args;
	}
	abs_mount = realpath(mountpoint, NULL);
	if (!abs_mount) {
		fprintf(stderr, "%s: %s\n", mountpoint, strerror(errno));
		goto out_free_config;
	}
	if (sodium_init() < 0) {
		pr_err("libsodium failed to initialise");
		goto out_free_config;
	}
	raise_nofile();
	if (table_init(&cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out_free_config;
	}
	events_init();
	if (net_init(&cfg))
		goto out_fini_table;

	bprocfs_session = fuse_session_new(&args, &bprocfs_ops,
					   sizeof(bprocfs_ops), NULL);
	if (!bprocfs_session)
		goto out_stop_net;
	if (fuse_set_signal_handlers(bprocfs_session))
		goto out_destroy;
	/* libfuse exits on SIGHUP; here it means reload the config */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	if (fuse_session_mount(bprocfs_session, abs_mount))
		goto out_remove_handlers;
	if (fuse_daemonize(foreground))
		goto out_unmount;
	if (net_start())
		goto out_unmount;
	pr_info("serving %s, %zu nodes, agents on %s", abs_mount, cfg.nr_nodes,
		cfg.master_str);
	sd_notifyf(0, "READY=1\nSTATUS=serving %s, agents on %s", abs_mount,
		   cfg.master_str);
	events_add("bprocfs started: %zu nodes", cfg.nr_nodes);

	loop_cfg = fuse_loop_cfg_create();
	if (!loop_cfg)
		goto out_unmount;
	fuse_loop_cfg_set_clone_fd(loop_cfg, 0);
	fuse_loop_cfg_set_max_threads(loop_cfg, 16);
	ret = fuse_session_loop_mt(bprocfs_session, loop_cfg);
	fuse_loop_cfg_destroy(loop_cfg);
	ret = ret < 0 ? 1 : 0;
	pr_info("stopping");
	sd_notify(0, "STOPPING=1");

out_unmount:
	net_stop();
	fuse_session_unmount(bprocfs_session);
out_remove_handlers:
	fuse_remove_signal_handlers(bprocfs_session);
out_destroy:
	fuse_session_destroy(bprocfs_session);
out_stop_net:
	net_stop();
out_fini_table:
	proctab_fini();
	table_fini();
	events_fini();
out_free_config:
	bp_config_free(&cfg);
out_free_args:
	free(abs_config);
	free(abs_mount);
	fuse_opt_free_args(&args);
	return ret;
}
