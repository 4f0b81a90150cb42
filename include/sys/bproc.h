/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sys/bproc.h - libbproc, BProc's C API for programs: node information and
 * remote process creation, over the files of /bproc alone (the mount point
 * is $BPROC_MOUNT when set). It links nothing but libc. The contract is
 * docs/interface.md, "C library"; bproc(3) and a page per function are the
 * manuals.
 *
 * Every function returns -1 and sets errno on failure. The errnos of a
 * move are those of the write to /bproc/nodeN/move, passed through; a node
 * that is not in the cluster is ENOENT, and where /bproc is not mounted
 * (on a node: a process there cannot move by itself yet) ENOSYS.
 */
#ifndef BPROC_SYS_BPROC_H
#define BPROC_SYS_BPROC_H

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Node numbers: 0 and up are /bproc/nodeN, the front end is master. */
#define BPROC_NODE_MASTER (-1)
#define BPROC_NODE_NONE (-3) /* no node: never a valid argument */

/* What bproc_nodestatus() returns: /bproc/nodeN/status, as a number. */
#define BPROC_NODE_DOWN 0
#define BPROC_NODE_UP 1
#define BPROC_NODE_BOOT 2
#define BPROC_NODE_ERROR 3

/* Node information */
int bproc_numnodes(void);
int bproc_currnode(void);
int bproc_nodestatus(int node);
const char *bproc_nodestatus_name(int status);
int bproc_nodeup(int node);
int bproc_nodeaddr(int node, struct sockaddr *s, socklen_t *size);

/* Moving the caller, and processes made on other nodes */
int bproc_move(int node);
int bproc_rfork(int node);
int bproc_vrfork(int n, const int *nodes, int *pids);
int bproc_execmove(int node, const char *cmd, char *const argv[],
		   char *const envp[]);
int bproc_vexecmove(int n, const int *nodes, int *pids, const char *cmd,
		    char *const argv[], char *const envp[]);
int bproc_rexec(int node, const char *cmd, char *const argv[],
		char *const envp[]);

#ifdef __cplusplus
}
#endif

#endif /* BPROC_SYS_BPROC_H */
