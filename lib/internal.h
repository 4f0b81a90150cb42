/* SPDX-License-Identifier: GPL-2.0 */
/*
 * internal.h - what node.c and move.c share. Nothing here is exported:
 * the library is built with -fvisibility=hidden and a version script, and
 * only the functions of <sys/bproc.h> are marked BP_EXPORT.
 */
#ifndef BPROC_LIB_INTERNAL_H
#define BPROC_LIB_INTERNAL_H

#include <stddef.h>

#include <sys/bproc.h>

#define BP_EXPORT __attribute__((visibility("default")))

/* Where every node's agent says which node it is: "N\n", "-1\n" on the front end. */
#define BP_NODE_FILE "/run/bproc/node"

/* bp_mount - the mount point of bprocfs: $BPROC_MOUNT, or /bproc. */
const char *bp_mount(void);

/*
 * bp_node_path - FILE in node's directory (nodeN/FILE, master/FILE) into
 * buf: 0, or -1 with errno EINVAL (not a node number) or ENAMETOOLONG.
 */
int bp_node_path(char *buf, size_t len, int node, const char *file);

/*
 * bp_check_mount - 0 when bprocfs is mounted here (the front end); -1 with
 * errno ENOSYS when it is not (a node), or what stat(2) said of it.
 */
int bp_check_mount(void);

/*
 * bp_enoent - a file under the mount was not there: errno becomes ENOENT
 * (no such node) when the mount is, ENOSYS when it is not. Returns -1.
 */
int bp_enoent(void);

/*
 * bp_here - the node this process runs on, BPROC_NODE_NONE when that is
 * not known (not in a cluster); errno is left as it was.
 */
int bp_here(void);

/* bp_node_name - "nodeN" or "master" into buf, for messages. */
const char *bp_node_name(char *buf, size_t len, int node);

#endif /* BPROC_LIB_INTERNAL_H */
