// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_config - the cluster configuration parser (common/config.c), as
 * bprocfs and every agent run it on /etc/bproc/config.
 *
 * The input is the whole config file.  It is written to a scratch directory
 * that also holds key files a config may name (relative paths are taken
 * from the config's directory): cluster.key (good), open.key (mode 0644),
 * short.key (too short) and big.key (too long).  A config that loads must
 * satisfy what the daemons rely on: the front end first, node numbers
 * increasing and unique, heartbeat <= timeout, a state path, and every
 * address as printed parses back to itself; one that does not load must
 * say why, prefixed with its path.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <bproc/proto.h>

#include "../common/config.h"
#include "fuzz.h"

static char cfg_path[PATH_MAX];

static void setup(void)
{
	static const char key[] = "0123456789abcdef0123456789abcdef\n";
	static char big[5000];
	const char *dir = fuzz_scratch_dir();

	fuzz_write_file(dir, "cluster.key", key, sizeof(key) - 1, 0600);
	fuzz_write_file(dir, "open.key", key, sizeof(key) - 1, 0644);
	fuzz_write_file(dir, "short.key", key, 8, 0600);
	memset(big, 'k', sizeof(big));
	fuzz_write_file(dir, "big.key", big, sizeof(big), 0600);
	snprintf(cfg_path, sizeof(cfg_path), "%s/config", dir);
}

static void check_addr(const struct bp_addr *a, const char *str)
{
	struct bp_addr back;

	fuzz_assert(bp_addr_parse(str, 1, &back) == 0);
	fuzz_assert(bp_addr_same(&back, a));
}

static void check_loaded(const struct bp_config *cfg)
{
	size_t i;

	fuzz_assert(cfg->path && !strcmp(cfg->path, cfg_path));
	fuzz_assert(cfg->state_path && cfg->state_path[0]);
	fuzz_assert(cfg->heartbeat_ms > 0);
	fuzz_assert(cfg->heartbeat_ms <= cfg->timeout_ms);
	fuzz_assert(cfg->nr_nodes >= 1 && cfg->nr_nodes <= BP_NODES_MAX);
	fuzz_assert(cfg->nodes[0].num == BP_NODE_MASTER);
	fuzz_assert(!strcmp(cfg->nodes[0].name, "master"));
	fuzz_assert(bp_config_find(cfg, "master") == &cfg->nodes[0]);
	check_addr(&cfg->master, cfg->master_str);
	for (i = 0; i < cfg->nr_nodes; i++)
		fuzz_assert(cfg->nodes[i].send == BPROC_SEND_PATH ||
			    cfg->nodes[i].send == BPROC_SEND_WHOLE ||
			    cfg->nodes[i].send == BPROC_SEND_AUTO);
	for (i = 1; i < cfg->nr_nodes; i++) {
		fuzz_assert(cfg->nodes[i].num > cfg->nodes[i - 1].num);
		fuzz_assert(cfg->nodes[i].num <= BP_NODE_MAX);
		fuzz_assert(!bp_addr_same(&cfg->nodes[i].addr,
					  &cfg->nodes[i - 1].addr));
	}
	/* the first and last few: a big iprange would make this quadratic */
	for (i = 0; i < cfg->nr_nodes; i++) {
		const struct bp_node_conf *n = &cfg->nodes[i];

		if (i == 8 && cfg->nr_nodes > 16)
			i = cfg->nr_nodes - 8;
		n = &cfg->nodes[i];
		check_addr(&n->addr, n->addr_str);
		fuzz_assert(bp_config_find(cfg, n->name) == n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bp_config cfg;
	char err[512];
	int ret;

	if (!cfg_path[0])
		setup();
	fuzz_write_file(fuzz_scratch_dir(), "config", data, size, 0644);
	err[0] = '\0';
	ret = bp_config_load(cfg_path, &cfg, err, sizeof(err));
	if (ret == 0) {
		check_loaded(&cfg);
		bp_config_free(&cfg);
		return 0;
	}
	fuzz_assert(ret < 0);
	fuzz_assert(!strncmp(err, cfg_path, strlen(cfg_path)));
	fuzz_assert(strlen(err) > strlen(cfg_path) + 2);
	return 0;
}
