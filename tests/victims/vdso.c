// SPDX-License-Identifier: GPL-2.0
/*
 * vdso - clock_gettime and gettimeofday through the vDSO keep working after
 * a restore, agree with the system call, and the vDSO is where the
 * auxiliary vector says.
 */
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "victim.h"

static int vdso_in_maps(unsigned long base)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long s, e;
	int ok = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 &&
		    strstr(line, "[vdso]"))
			ok = s == base;
	if (f)
		fclose(f);
	return ok;
}

int main(int argc, char **argv)
{
	struct timespec a, b, sys;
	struct timeval tv;
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	int i, mono_ok = 1;

	victim_setup();
	clock_gettime(CLOCK_MONOTONIC, &a);
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	victim_check(vdso_in_maps(base), "vDSO not at AT_SYSINFO_EHDR %#lx",
		     base);
	for (i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (b.tv_sec < a.tv_sec ||
		    (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec))
			mono_ok = 0;
		a = b;
	}
	victim_check(mono_ok, "CLOCK_MONOTONIC went backwards");
	clock_gettime(CLOCK_REALTIME, &b);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &sys);
	victim_check(llabs((long long)sys.tv_sec - b.tv_sec) <= 2,
		     "vDSO time %lld, kernel %lld", (long long)b.tv_sec,
		     (long long)sys.tv_sec);
	gettimeofday(&tv, NULL);
	victim_check(llabs((long long)tv.tv_sec - sys.tv_sec) <= 2,
		     "gettimeofday");
	victim_check(llabs((long long)time(NULL) - sys.tv_sec) <= 2, "time()");
	return victim_result();
}
