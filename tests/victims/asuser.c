// SPDX-License-Identifier: GPL-2.0
/*
 * asuser UID GID CMD [ARGS...] - run CMD as that user and group, with no
 * supplementary groups (the move tests' non-root users).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	gid_t gid;

	if (argc < 4) {
		fprintf(stderr, "usage: asuser UID GID CMD [ARGS...]\n");
		return 2;
	}
	gid = (gid_t)atoi(argv[2]);
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) ||
	    setresuid((uid_t)atoi(argv[1]), (uid_t)atoi(argv[1]),
		      (uid_t)atoi(argv[1]))) {
		perror("asuser");
		return 2;
	}
	execvp(argv[3], argv + 3);
	perror(argv[3]);
	return 127;
}
