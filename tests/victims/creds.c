// SPDX-License-Identifier: GPL-2.0
/*
 * creds - credentials across a restore: started as root, the victim takes
 * uid 1234 (real, effective, saved), gid 4321 and the supplementary groups
 * 4321 and 5000, and checks after the restore that it has exactly those:
 * the restore gives it back its own credentials and no more (no
 * capabilities).
 */
#include "victim.h"

#include <grp.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	gid_t groups[2] = { 4321, 5000 }, now[8];
	uid_t r, e, s;
	gid_t gr, ge, gs;
	int n;

	victim_setup();
	if (setgroups(2, groups) || setresgid(4321, 4321, 4321) ||
	    setresuid(1234, 1234, 1234)) {
		printf("FAIL: cannot drop privileges: %s\n", strerror(errno));
		return 1;
	}
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	victim_check(r == 1234 && e == 1234 && s == 1234, "uids %u %u %u", r, e,
		     s);
	victim_check(gr == 4321 && ge == 4321 && gs == 4321, "gids %u %u %u",
		     gr, ge, gs);
	n = getgroups(8, now);
	victim_check(n == 2 && now[0] == 4321 && now[1] == 5000,
		     "%d supplementary groups", n);
	victim_check(prctl(PR_CAPBSET_READ, 0) >= 0 && setresuid(0, 0, 0) == -1,
		     "became root again");
	return victim_result();
}
