// SPDX-License-Identifier: GPL-2.0
/*
 * node.c - libbproc's node information: the number of nodes, a node's
 * status and address, and which node the caller runs on. All of it is
 * read from the files of /bproc (docs/interface.md, "The filesystem"),
 * but the caller's own node, which comes from the file every node's agent
 * writes (BP_NODE_FILE): a process that runs on a node has no /bproc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

const char *bp_mount(void)
{
	const char *m = secure_getenv("BPROC_MOUNT");

	return m && *m ? m : "/bproc";
}

int bp_node_path(char *buf, size_t len, int node, const char *file)
{
	int n;

	if (node < BPROC_NODE_MASTER) {
		errno = EINVAL;
		return -1;
	}
	if (node == BPROC_NODE_MASTER)
		n = snprintf(buf, len, "%s/master/%s", bp_mount(), file);
	else
		n = snprintf(buf, len, "%s/node%d/%s", bp_mount(), node, file);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int bp_check_mount(void)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/status", bp_mount());
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!stat(path, &st))
		return 0;
	if (errno == ENOENT || errno == ENOTDIR)
		errno = ENOSYS;
	return -1;
}

int bp_enoent(void)
{
	if (!bp_check_mount())
		errno = ENOENT;
	return -1;
}

const char *bp_node_name(char *buf, size_t len, int node)
{
	if (node == BPROC_NODE_MASTER)
		snprintf(buf, len, "master");
	else
		snprintf(buf, len, "node%d", node);
	return buf;
}

/*
 * A small text file whole into buf, without its newline: its length, or
 * -1 with errno. A node's file that is not there is ENOENT, or ENOSYS
 * without /bproc.
 */
static ssize_t read_node_file(int node, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t have = 0;
	ssize_t k;
	int fd, err;

	if (bp_node_path(path, sizeof(path), node, file))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? bp_enoent() : -1;
	while (have < len - 1) {
		k = read(fd, buf + have, len - 1 - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		if (k == 0)
			break;
		have += (size_t)k;
	}
	close(fd);
	buf[have] = '\0';
	if (have && buf[have - 1] == '\n')
		buf[--have] = '\0';
	return (ssize_t)have;
}

/* "node5" -> 5; -1 for any other name. */
static int node_number(const char *name)
{
	long v = 0;
	const char *p;

	if (strncmp(name, "node", 4) || !name[4])
		return -1;
	for (p = name + 4; *p; p++) {
		if (*p < '0' || *p > '9' || v > INT_MAX / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v > INT_MAX - 1 ? -1 : (int)v;
}

BP_EXPORT int bproc_numnodes(void)
{
	struct dirent *d;
	int max = -1, n, err;
	DIR *dir;

	if (bp_check_mount())
		return -1;
	dir = opendir(bp_mount());
	if (!dir)
		return -1;
	errno = 0;
	while ((d = readdir(dir))) {
		n = node_number(d->d_name);
		if (n > max)
			max = n;
	}
	err = errno;
	closedir(dir);
	if (err) {
		errno = err;
		return -1;
	}
	return max + 1;
}

static const char *const status_names[] = {
	[BPROC_NODE_DOWN] = "down",
	[BPROC_NODE_UP] = "up",
	[BPROC_NODE_BOOT] = "boot",
	[BPROC_NODE_ERROR] = "error",
};

BP_EXPORT const char *bproc_nodestatus_name(int status)
{
	if (status < 0 ||
	    status >= (int)(sizeof(status_names) / sizeof(status_names[0]))) {
		errno = EINVAL;
		return NULL;
	}
	return status_names[status];
}

BP_EXPORT int bproc_nodestatus(int node)
{
	char buf[64];
	size_t i;

	if (read_node_file(node, "status", buf, sizeof(buf)) < 0)
		return -1;
	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (!strcmp(buf, status_names[i]))
			return (int)i;
	errno = EPROTO; /* a state this library does not know */
	return -1;
}

BP_EXPORT int bproc_nodeup(int node)
{
	int s = bproc_nodestatus(node);

	if (s < 0 && errno != EPROTO)
		return -1;
	return s == BPROC_NODE_UP;
}

/* "10.0.0.5:2224" or "[fd00::5]:2224" into a socket address: 0, or -1. */
static int parse_addr(char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char *host = text, *port, *end;
	unsigned long p;

	memset(ss, 0, sizeof(*ss));
	if (*host == '[') {
		end = strchr(++host, ']');
		if (!end || end[1] != ':')
			return -1;
		*end = '\0';
		port = end + 2;
	} else {
		end = strrchr(host, ':');
		if (!end)
			return -1;
		*end = '\0';
		port = end + 1;
	}
	if (*port < '0' || *port > '9')
		return -1;
	p = strtoul(port, &end, 10);
	if (*end || p > 65535)
		return -1;
	if (text[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return -1;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		*len = sizeof(*in4);
	}
	return 0;
}

BP_EXPORT int bproc_nodeaddr(int node, struct sockaddr *s, socklen_t *size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[128];

	if (!size || (!s && *size)) {
		errno = EINVAL;
		return -1;
	}
	if (read_node_file(node, "addr", buf, sizeof(buf)) < 0)
		return -1;
	if (parse_addr(buf, &ss, &len)) {
		errno = EPROTO;
		return -1;
	}
	/* as getsockname(2): truncated to *size, which says the real length */
	if (*size)
		memcpy(s, &ss, *size < len ? *size : len);
	*size = len;
	return 0;
}

/* The number in BP_NODE_FILE ("5\n", "-1\n"): 0, or -1 with errno. */
static int read_node_number(int *node)
{
	char buf[32], *p;
	long v = 0;
	int fd, neg = 0;
	ssize_t k;

	fd = open(BP_NODE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		k = read(fd, buf, sizeof(buf) - 1);
	while (k < 0 && errno == EINTR);
	close(fd);
	if (k < 0)
		return -1;
	buf[k] = '\0';
	p = buf;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			goto bad;
	}
	if (strcmp(p, "\n") && *p)
		goto bad;
	if (neg && v != 1)
		goto bad;
	*node = neg ? BPROC_NODE_MASTER : (int)v;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

/* Which node this is: 0, or -1 with errno ENOSYS when nothing says. */
static int currnode(int *node)
{
	if (!read_node_number(node))
		return 0;
	if (errno != ENOENT && errno != ENOTDIR)
		return -1;
	/* no agent says where this is: where /bproc is, the front end */
	if (!bp_check_mount()) {
		*node = BPROC_NODE_MASTER;
		return 0;
	}
	errno = ENOSYS;
	return -1;
}

BP_EXPORT int bproc_currnode(void)
{
	int node, err = errno;

	if (currnode(&node))
		return -1;
	errno = err;
	return node;
}

int bp_here(void)
{
	int node, err = errno;

	if (currnode(&node))
		node = BPROC_NODE_NONE;
	errno = err;
	return node;
}
