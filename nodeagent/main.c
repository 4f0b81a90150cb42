// SPDX-License-Identifier: GPL-2.0
/*
 * bproc-nodeagent [-f] [--config FILE] --node N
 *
 * Wires the agent together: command line, config, signals (SIGTERM and
 * SIGINT stop, SIGHUP reloads the config) and the one poll loop that drives
 * the master link (link.c) and the peer listener (peer.c).
 */
#define LOG_PREFIX "main"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

#define DEFAULT_CONFIG "/etc/bproc/config"
#define POLLFDS_MAX 80

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-f] [--config FILE] --node N\n"
		"  -f, --foreground   stay in the foreground\n"
		"  -c, --config FILE  cluster config (default %s)\n"
		"  -n, --node N       this node's number, or master\n",
		prog, DEFAULT_CONFIG);
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

static void handle_signals(struct agent *a, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(a);
		} else {
			pr_info("signal %u: stopping", si.ssi_signo);
			a->stopping = true;
		}
	}
}

static void run(struct agent *a, int sfd)
{
	struct pollfd pfd[POLLFDS_MAX];

	while (!a->stopping) {
		int64_t now = bp_now_ms(), deadline, t;
		int n = 0, link_idx = -1, peer_idx, nr;
		short events;
		int fd;

		pfd[n].fd = sfd;
		pfd[n++].events = POLLIN;
		fd = link_poll_fd(&events);
		if (fd >= 0) {
			link_idx = n;
			pfd[n].fd = fd;
			pfd[n++].events = events;
		}
		peer_idx = n;
		nr = peer_fill_pollfds(pfd + n, POLLFDS_MAX - n);
		n += nr;

		deadline = link_deadline();
		t = peer_deadline(a->cfg.timeout_ms);
		if (t < deadline)
			deadline = t;
		t = deadline - now;
		if (t < 0)
			t = 0;
		if (t > 1000)
			t = 1000;
		if (poll(pfd, n, (int)t) < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("poll");
			break;
		}
		if (pfd[0].revents)
			handle_signals(a, sfd);
		if (a->stopping)
			break;
		link_run(a, link_idx >= 0 ? pfd[link_idx].revents : 0);
		peer_run(a, pfd + peer_idx, nr);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .config_path = DEFAULT_CONFIG };
	const char *node = NULL;
	bool foreground = false;
	char *abs_config;
	int c, sfd;

	bp_log_init(argv[0], LOG_INFO);
	while ((c = getopt_long(argc, argv, "fc:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'c':
			a.config_path = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (!node || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (node_name(node, a.name, sizeof(a.name))) {
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
	if (sodium_init() < 0) {
		pr_err("libsodium failed to initialise");
		free(abs_config);
		return 1;
	}
	if (load_config(&a, &a.cfg)) {
		free(abs_config);
		return 1;
	}
	sfd = setup_signals();
	if (sfd < 0)
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
	run(&a, sfd);
	link_stop();
	peer_close_all();
	close(sfd);
	bp_config_free(&a.cfg);
	free(abs_config);
	return 0;

out_close_listener:
	peer_close_all();
out_close_sfd:
	close(sfd);
out_free_config:
	bp_config_free(&a.cfg);
	free(abs_config);
	return 1;
}
