/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cluster configuration file (/etc/bproc/config by default), shared by
 * bprocfs and every bproc-nodeagent.  Line-oriented "tag args", '#' starts a
 * comment:
 *
 *	master ADDR[:PORT]            where bprocfs listens (port 2223)
 *	key FILE                      cluster key, 32+ bytes, no group/other access
 *	heartbeat SECONDS             between heartbeats (decimals allowed)
 *	timeout SECONDS               silence before a node is marked down
 *	node N ADDR[:PORT]            node N's agent listens there (port 2224)
 *	node master ADDR[:PORT]       the front end's own agent (default: the
 *	                              master's address, port 2224)
 *	iprange N FIRST LAST          nodes N.. on consecutive IPv4 addresses
 *	state FILE                    where bprocfs keeps node permissions
 *	                              (default BP_STATE_DEFAULT)
 *	send N|master|all MODE        how a process moving to that node takes
 *	                              its executable, libraries and other
 *	                              mapped files: path, whole or auto (the
 *	                              default; proto.h, enum bproc_send).  A
 *	                              node's own line wins over "all", in any
 *	                              order; the node must be configured.
 *	fanout N                      fast start down a tree of nodes: how
 *	                              many images the front end, and each
 *	                              node that has one, send at once
 *	                              (BPROC_TREE_FANOUT, 1, by default); 0:
 *	                              the front end sends every one itself
 *
 * A relative FILE is taken relative to the config file's directory.
 */
#ifndef BPROC_CONFIG_H
#define BPROC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define BP_KEY_BYTES 32
#define BP_NODE_MAX 1048575 /* highest node number */
#define BP_NODES_MAX 65536 /* most nodes in one config */
#define BP_NODE_MASTER (-1) /* node number of the front end */
#define BP_FANOUT_MAX 64

/* Where node permissions are kept when the config has no state line. */
#ifndef BP_STATE_DEFAULT
#define BP_STATE_DEFAULT "/var/lib/bproc/nodes"
#endif

struct bp_key {
	uint8_t k[BP_KEY_BYTES]; /* BLAKE2b-256 of the key file's contents */
};

struct bp_node_conf {
	int num; /* node number, BP_NODE_MASTER for the front end */
	char name[16]; /* "master" or "nodeN" */
	struct bp_addr addr;
	char addr_str[BP_ADDR_STRLEN];
	int line; /* where it was configured, 0 if by default */
	unsigned int send; /* BPROC_SEND_PATH, _WHOLE or _AUTO */
};

struct bp_config {
	char *path;
	struct bp_addr master;
	char master_str[BP_ADDR_STRLEN];
	struct bp_key key;
	unsigned int heartbeat_ms;
	unsigned int timeout_ms;
	char *state_path; /* the state line's, or BP_STATE_DEFAULT */
	unsigned int fanout; /* the fanout line's, or BPROC_TREE_FANOUT */
	/* nodes[0] is the master, then by increasing number */
	struct bp_node_conf *nodes;
	size_t nr_nodes;
};

/*
 * bp_config_load - read and check the whole file.  On success fills cfg
 * (free it with bp_config_free) and returns 0.  On failure returns -errno
 * and writes one line "FILE:LINE: reason" (or "FILE: reason") to err;
 * nothing is logged.
 */
int bp_config_load(const char *path, struct bp_config *cfg, char *err,
		   size_t errlen);

void bp_config_free(struct bp_config *cfg);

/*
 * bp_send_parse - "path", "whole" or "auto" as BPROC_SEND_PATH, _WHOLE or
 * _AUTO; -EINVAL for any other word.  bp_send_name is the other way
 * ("?" for what is none of them).
 */
int bp_send_parse(const char *word);
const char *bp_send_name(unsigned int send);

/* bp_config_find - the node called name ("master", "node5"), or NULL. */
const struct bp_node_conf *bp_config_find(const struct bp_config *cfg,
					  const char *name);

/*
 * bp_key_load - read a key file: it must be a regular file of 32 to 4096
 * bytes with no permission for group or others.  Returns 0 or -errno with
 * the reason in err.
 */
int bp_key_load(const char *path, struct bp_key *key, char *err, size_t errlen);

#endif /* BPROC_CONFIG_H */
