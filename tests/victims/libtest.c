// SPDX-License-Identifier: GPL-2.0
/*
 * libtest - libbproc's calls, one a run, for tests/vm/lib_cases.sh and
 * tests/test_libbproc.py (built against the library of this tree: libtest
 * with libbproc.so.1, libtest-static with libbproc.a, libtest-asan with
 * the sanitizers' libbproc-asan.a). Errnos are printed by name.
 *
 *   info                 "numnodes N", "currnode C", then "node I STATUS ADDR"
 *                        for master and each of 0..N-1 (an errno in place
 *                        of what failed)
 *   addr NODE SIZE       bproc_nodeaddr with *size = SIZE: "addr LEN FAMILY"
 *   move NODE            "move ERRNO|ok currnode C pid P"
 *   rfork NODE STATUS    the child says "child PID CURRNODE" and exits
 *                        STATUS; the parent "parent PID", then "status
 *                        PID S" (S: an exit status, or "sigN")
 *   rfork-fail NODE ERRNO  bproc_rfork must fail with ERRNO and leave no
 *                        child: "ok", or "FAIL why"
 *   vrfork NODE...       every child says "child INDEX PID CURRNODE" and
 *                        exits 10+INDEX; the parent "vrfork R", "pid INDEX
 *                        PID|ERRNO" for each, then "status PID S" for each
 *                        child, and "nochild" once none is left
 *   execmove NODE CMD [ARG...]   (the program gets this environment)
 *   rexec NODE CMD [ARG...]      when the call returns: "execmove ERRNO
 *                        currnode C" or "rexec ERRNO currnode C", exit 3
 *   vexecmove NODE... -- CMD [ARG...]  as vrfork, the children executing
 *                        CMD with BPROC_RANK in the environment
 *   whereami [STATUS [wait]]  "whereami PID CURRNODE RANK ARGS...", exit
 *                        STATUS; with wait, says it again after a line of
 *                        stdin
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/bproc.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "E?";
}

/* "master", "5" or "node5" into a node number. */
static int node_arg(const char *s)
{
	if (!strcmp(s, "master"))
		return BPROC_NODE_MASTER;
	if (!strncmp(s, "node", 4))
		s += 4;
	return atoi(s);
}

static const char *currnode(char *buf, size_t len)
{
	int n;

	errno = 0;
	n = bproc_currnode();
	if (n == -1 && errno)
		snprintf(buf, len, "%s", ename(errno));
	else
		snprintf(buf, len, "%d", n);
	return buf;
}

static void wait_all(void)
{
	int st;
	pid_t pid;

	while ((pid = wait(&st)) > 0) {
		if (WIFEXITED(st))
			printf("status %d %d\n", (int)pid, WEXITSTATUS(st));
		else
			printf("status %d sig%d\n", (int)pid, WTERMSIG(st));
	}
	printf("%s\n", errno == ECHILD ? "nochild" : ename(errno));
}

static void print_node(int node)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64] = "?";
	int s;

	printf("node %d ", node);
	s = bproc_nodestatus(node);
	if (s < 0)
		printf("%s ", ename(errno));
	else
		printf("%s ", bproc_nodestatus_name(s));
	if (bproc_nodeaddr(node, (struct sockaddr *)&ss, &len)) {
		printf("%s", ename(errno));
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		printf("%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		printf("[%s]:%u", host, ntohs(in6->sin6_port));
	}
	printf(" up=%d\n", bproc_nodeup(node));
}

static int info(void)
{
	char buf[32];
	int n, i;

	n = bproc_numnodes();
	if (n < 0)
		printf("numnodes %s\n", ename(errno));
	else
		printf("numnodes %d\n", n);
	printf("currnode %s\n", currnode(buf, sizeof(buf)));
	print_node(BPROC_NODE_MASTER);
	for (i = 0; i < n; i++)
		print_node(i);
	if (n < 0)
		print_node(1);
	return 0;
}

static int addr(int node, socklen_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = size;

	memset(&ss, 0xff, sizeof(ss));
	if (bproc_nodeaddr(node, size ? (struct sockaddr *)&ss : NULL, &len)) {
		printf("addr %s\n", ename(errno));
		return 1;
	}
	/* the bytes past size are untouched */
	printf("addr %u %d%s\n", (unsigned int)len,
	       size >= sizeof(sa_family_t) ? ss.ss_family : -1,
	       size < sizeof(ss) && ((unsigned char *)&ss)[size] != 0xff ?
		       " overrun" :
		       "");
	return 0;
}

static int move(int node)
{
	char buf[32];
	int r = bproc_move(node);
	const char *e = r ? ename(errno) : "ok";

	printf("move %s currnode %s pid %d\n", e, currnode(buf, sizeof(buf)),
	       (int)getpid());
	return r ? 1 : 0;
}

static int rfork(int node, int status)
{
	char buf[32];
	int pid;

	fflush(stdout);
	pid = bproc_rfork(node);
	if (pid < 0) {
		printf("rfork %s\n", ename(errno));
		return 1;
	}
	if (pid == 0) {
		printf("child %d %s\n", (int)getpid(),
		       currnode(buf, sizeof(buf)));
		fflush(stdout);
		_exit(status);
	}
	printf("parent %d\n", pid);
	wait_all();
	return 0;
}

static int rfork_fail(int node, const char *want)
{
	pid_t w;
	int pid;

	errno = 0;
	pid = bproc_rfork(node);
	if (pid == 0)
		_exit(99);
	if (pid > 0) {
		printf("FAIL a child was made: %d\n", pid);
		wait_all();
		return 1;
	}
	if (strcmp(ename(errno), want)) {
		printf("FAIL %s, wanted %s\n", ename(errno), want);
		return 1;
	}
	w = waitpid(-1, NULL, WNOHANG);
	if (w != -1 || errno != ECHILD) {
		printf("FAIL a child was left: waitpid says %d\n", (int)w);
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* The nodes of argv up to "--" or the end: how many. */
static int node_list(char **argv, int *nodes)
{
	int n = 0;

	while (argv[n] && strcmp(argv[n], "--")) {
		nodes[n] = node_arg(argv[n]);
		n++;
	}
	return n;
}

static void print_pids(int r, int n, const int *pids)
{
	int i;

	printf("%s %d\n", "vrfork", r);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			printf("pid %d %d\n", i, pids[i]);
		else
			printf("pid %d %s\n", i, ename(-pids[i]));
}

static int vrfork(char **argv)
{
	int nodes[256], pids[256], n, r;
	char buf[32];

	n = node_list(argv, nodes);
	fflush(stdout);
	r = bproc_vrfork(n, nodes, pids);
	if (r < 0) {
		printf("vrfork %s\n", ename(errno));
		return 1;
	}
	if (r < n) {
		printf("child %d %d %s\n", r, (int)getpid(),
		       currnode(buf, sizeof(buf)));
		fflush(stdout);
		_exit(10 + r);
	}
	print_pids(r, n, pids);
	wait_all();
	return 0;
}

static int vexecmove(char **argv)
{
	int nodes[256], pids[256], n, r;

	n = node_list(argv, nodes);
	if (!argv[n] || !argv[n + 1])
		return 2;
	fflush(stdout);
	r = bproc_vexecmove(n, nodes, pids, argv[n + 1], argv + n + 1, environ);
	if (r < 0) {
		printf("vrfork %s\n", ename(errno));
		return 1;
	}
	print_pids(r, n, pids);
	wait_all();
	return 0;
}

static int execs(const char *what, int node, char **argv)
{
	const char *e;
	char buf[32];

	fflush(stdout);
	if (!strcmp(what, "execmove"))
		bproc_execmove(node, argv[0], argv, environ);
	else
		bproc_rexec(node, argv[0], argv, environ);
	e = ename(errno);
	printf("%s %s currnode %s\n", what, e, currnode(buf, sizeof(buf)));
	return 3;
}

static void say_where(char **argv)
{
	const char *rank = getenv("BPROC_RANK");
	char buf[32];
	int i;

	printf("whereami %d %s %s", (int)getpid(), currnode(buf, sizeof(buf)),
	       rank ? rank : "-");
	for (i = 0; argv[i]; i++)
		printf(" %s", argv[i]);
	printf("\n");
}

static int whereami(char **argv)
{
	char line[64];

	say_where(argv);
	if (argv[0] && argv[1] && !strcmp(argv[1], "wait")) {
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		say_where(argv);
	}
	return argv[0] ? atoi(argv[0]) : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "info"))
		return info();
	if (!strcmp(cmd, "addr") && argc == 4)
		return addr(node_arg(argv[2]), (socklen_t)atoi(argv[3]));
	if (!strcmp(cmd, "move") && argc == 3)
		return move(node_arg(argv[2]));
	if (!strcmp(cmd, "rfork") && argc == 4)
		return rfork(node_arg(argv[2]), atoi(argv[3]));
	if (!strcmp(cmd, "rfork-fail") && argc == 4)
		return rfork_fail(node_arg(argv[2]), argv[3]);
	if (!strcmp(cmd, "vrfork") && argc > 2 && argc < 250)
		return vrfork(argv + 2);
	if (!strcmp(cmd, "vexecmove") && argc > 4 && argc < 250)
		return vexecmove(argv + 2);
	if ((!strcmp(cmd, "execmove") || !strcmp(cmd, "rexec")) && argc > 3)
		return execs(cmd, node_arg(argv[2]), argv + 3);
	if (!strcmp(cmd, "whereami"))
		return whereami(argv + 2);
	fprintf(stderr, "usage: libtest info | addr NODE SIZE | move NODE | "
			"rfork NODE STATUS | rfork-fail NODE ERRNO | "
			"vrfork NODE... | vexecmove NODE... -- CMD ARGS | "
			"execmove|rexec NODE CMD ARGS | whereami [STATUS]\n");
	return 2;
}
