// SPDX-License-Identifier: GPL-2.0
/*
 * bproc-nodeagent [-f] [--config FILE] [--node N]
 *
 * Wires the agent together: command line, config, signals (SIGTERM and
 * SIGINT stop, SIGHUP reloads the config) and the one poll loop (loop.c)
 * that drives the master link (link.c), the peer listener (peer.c), the
 * moves (send.c, recv.c) and the moved processes (hosted.c, ghost.c).
 *
 * Without --node, the agent is the node of the config whose address is one
 * of this machine's (one config for the whole cluster, one unit for every
 * node).  Under systemd (Type=notify) it says READY=1 once it listens.
 */
#define LOG_PREFIX "main"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define DEFAULT_CONFIG "/etc/bproc/config"
#define DEFAULT_RUN_DIR "/run/bproc"

struct agent *agent;

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-f] [-v] [--config FILE] [--node N] [--run-dir DIR]\n"
		"  -f, --foreground   stay in the foreground\n"
		"  -v, --verbose      log debug messages too\n"
		"  -c, --config FILE  cluster config (default %s)\n"
		"  -n, --node N       this node's number, or master (default: the\n"
		"                     node whose address this machine has)\n"
		"  -r, --run-dir DIR  where to say which node this is, in DIR/node\n"
		"                     (default %s)\n",
		prog, DEFAULT_CONFIG, DEFAULT_RUN_DIR);
}

/*
 * DIR/node says which node this machine is to the programs that run on
 * it (libbproc's bproc_currnode()): the number and a newline, -1 on the
 * front end.  /bproc is the front end's alone; this file is there on
 * every node.  Written whole (a rename) so that a reader never sees half.
 */
static void run_file_text(const char *name, char *buf, size_t len)
{
	if (!strcmp(name, "master"))
		snprintf(buf, len, "-1\n");
	else
		snprintf(buf, len, "%s\n", name + 4);
}

static void run_file_write(const char *dir, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[32];
	int fd;

	run_file_text(name, text, sizeof(text));
	if (mkdir(dir, 0755) && errno != EEXIST) {
		pr_warn("%s: %s (programs here cannot tell which node this is)",
			dir, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/node", dir);
	snprintf(tmp, sizeof(tmp), "%s/.node.%d", dir, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fchmod(fd, 0644) || rename(tmp, path)) {
		pr_warn("%s: %s (programs here cannot tell which node this is)",
			path, strerror(errno));
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
}

/* Remove DIR/node at exit, unless another agent has written it since. */
static void run_file_remove(const char *dir, const char *name)
{
	char path[PATH_MAX], text[32], have[32] = "";
	ssize_t n = -1;
	int fd;

	run_file_text(name, text, sizeof(text));
	snprintf(path, sizeof(path), "%s/node", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, have, sizeof(have) - 1);
		close(fd);
	}
	if (n > 0 && !strcmp(have, text))
		unlink(path);
}

/* "5", "node5" or "master" into the node's directory name. */
static int node_name(const char *arg, char *out, size_t len)
{
	const char *num = arg;
	char *end;
	long v;

	if (!strcmp(arg, "master")) {
		snprintf(out, len, "master");
		return 0;
	}
	if (!strncmp(arg, "node", 4))
		num = arg + 4;
	if (*num < '0' || *num > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(num, &end, 10);
	if (errno || *end || v < 0 || v > BP_NODE_MAX)
		return -EINVAL;
	snprintf(out, len, "node%ld", v);
	return 0;
}

/* Does this machine have a's IP on one of its interfaces? */
static bool is_local(const struct ifaddrs *ifs, const struct bp_addr *a)
{
	const struct ifaddrs *i;

	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != a->ss.ss_family)
			continue;
		if (a->ss.ss_family == AF_INET &&
		    !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
			    &((const struct sockaddr_in *)&a->ss)->sin_addr,
			    sizeof(struct in_addr)))
			return true;
		if (a->ss.ss_family == AF_INET6 &&
		    !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			    &((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			    sizeof(struct in6_addr)))
			return true;
	}
	return false;
}

/*
 * The node of the config at one of this machine's addresses, into out;
 * one line on stderr and -ENOENT when there is none or more than one.
 */
static int node_by_address(const char *path, char *out, size_t len)
{
	const struct bp_node_conf *found = NULL;
	struct ifaddrs *ifs;
	struct bp_config cfg;
	char err[512];
	size_t i;
	int ret = 0;

	if (bp_config_load(path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -EINVAL;
	}
	if (getifaddrs(&ifs) < 0) {
		ret = -errno;
		fprintf(stderr, "getifaddrs: %s\n", strerror(errno));
		goto out_free_config;
	}
	for (i = 0; i < cfg.nr_nodes; i++) {
		if (!is_local(ifs, &cfg.nodes[i].addr))
			continue;
		if (found) {
			fprintf(stderr,
				"%s: this machine has the addresses of %s and "
				"%s: say which with --node\n",
				path, found->name, cfg.nodes[i].name);
			ret = -ENOENT;
			goto out_free_ifs;
		}
		found = &cfg.nodes[i];
	}
	if (!found) {
		fprintf(stderr,
			"%s: no node of the config has an address of this "
			"machine: say which with --node\n",
			path);
		ret = -ENOENT;
		goto out_free_ifs;
	}
	snprintf(out, len, "%s", found->name);
out_free_ifs:
	freeifaddrs(ifs);
out_free_config:
	bp_config_free(&cfg);
	return ret;
}

/* Load the config and find this node in it; one line on failure. */
static int load_config(struct agent *a, struct bp_config *cfg)
{
	const struct bp_node_conf *me;
	char err[512];

	if (bp_config_load(a->config_path, cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -EINVAL;
	}
	me = bp_config_find(cfg, a->name);
	if (!me) {
		fprintf(stderr, "%s: %s is not in the config\n", a->config_path,
			a->name);
		bp_config_free(cfg);
		return -ENOENT;
	}
	a->listen_addr = me->addr;
	return 0;
}

static void reload(struct agent *a)
{
	struct bp_addr old_listen = a->listen_addr;
	struct bp_config cfg;
	bool relink, relisten;

	pr_info("SIGHUP: reloading %s", a->config_path);
	if (load_config(a, &cfg)) {
		a->listen_addr = old_listen;
		pr_warn("keeping the previous configuration");
		return;
	}
	relink = !bp_addr_same(&cfg.master, &a->cfg.master) ||
		 memcmp(&cfg.key, &a->cfg.key, sizeof(cfg.key));
	relisten = !bp_addr_same(&old_listen, &a->listen_addr);
	bp_config_free(&a->cfg);
	a->cfg = cfg;
	if (relisten) {
		peer_close_all();
		if (peer_listen(a))
			pr_err("not accepting peers until the next reload");
	}
	if (relink)
		link_restart(a);
}

static int setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		pr_perror("signalfd");
		return -errno;
	}
	return fd;
}

static int signal_fd = -1;

static void handle_signals(void *obj, short revents)
{
	struct signalfd_siginfo si;
	struct agent *a = obj;

	(void)revents;
	while (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(a);
		} else {
			pr_info("signal %u: stopping", si.ssi_signo);
			a->stopping = true;
		}
	}
}

static void run(struct agent *a)
{
	while (!a->stopping) {
		/* what the last round sent to the master, in as few writes as
		 * it takes (link_room() is right for the watchers below) */
		link_flush();
		loop_add(signal_fd, POLLIN, handle_signals, a);
		peer_watch();
		send_watch();
		recv_watch();
		tree_watch();
		if (a->front)
			ghost_watch();
		else
			hosted_watch();
		space_watch();
		/* last: it writes what the watchers sent to the master */
		link_watch();
		loop_wake_at(link_deadline());
		loop_wake_at(peer_deadline(a->cfg.timeout_ms));
		if (loop_round(1000))
			break;
		if (a->stopping)
			break;
		link_run(a);
		peer_reap();
		send_reap();
		recv_reap();
		tree_reap();
		if (a->front)
			ghost_reap();
		else
			hosted_reap();
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "config", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .config_path = DEFAULT_CONFIG };
	const char *node = NULL;
	const char *run_dir = DEFAULT_RUN_DIR;
	bool foreground = false;
	char *abs_config;
	int c;

	bp_log_init(argv[0], LOG_INFO);
	while ((c = getopt_long(argc, argv, "fvc:n:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'v':
			bp_log_init(argv[0], LOG_DEBUG);
			break;
		case 'c':
			a.config_path = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (node && node_name(node, a.name, sizeof(a.name))) {
		fprintf(stderr, "%s: bad node '%s' (a number or master)\n",
			argv[0], node);
		return 2;
	}
	/* daemon() changes to /: keep the config path absolute */
	abs_config = realpath(a.config_path, NULL);
	if (!abs_config) {
		fprintf(stderr, "%s: %s\n", a.config_path, strerror(errno));
		return 1;
	}
	a.config_path = abs_config;
	if (!node && node_by_address(abs_config, a.name, sizeof(a.name))) {
		free(abs_config);
		return 1;
	}
	a.front = !strcmp(a.name, "master");
	agent = &a;
	if (sodium_init() < 0) {
		pr_err("libsodium failed to initialise");
		free(abs_config);
		return 1;
	}
	if (load_config(&a, &a.cfg)) {
		free(abs_config);
		return 1;
	}
	signal_fd = setup_signals();
	if (signal_fd < 0)
		goto out_free_config;
	if (peer_listen(&a))
		goto out_close_sfd;
	if (!foreground && daemon(0, 1) < 0) {
		pr_perror("daemon");
		goto out_close_listener;
	}
	pr_info("%s: listening on %s, master %s", a.name,
		bp_config_find(&a.cfg, a.name)->addr_str, a.cfg.master_str);
	link_init(&a);
	space_start();
	run_file_write(run_dir, a.name);
	sd_notifyf(0, "READY=1\nSTATUS=%s, master %s", a.name,
		   a.cfg.master_str);
	run(&a);
	sd_notify(0, "STOPPING=1");
	run_file_remove(run_dir, a.name);
	send_abort_all();
	if (!a.front)
		hosted_kill_all();
	link_stop();
	peer_close_all();
	close(signal_fd);
	bp_config_free(&a.cfg);
	free(abs_config);
	return 0;

out_close_listener:
	peer_close_all();
out_close_sfd:
	close(signal_fd);
out_free_config:
	bp_config_free(&a.cfg);
	free(abs_config);
	return 1;
}
