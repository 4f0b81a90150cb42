// SPDX-License-Identifier: GPL-2.0
/*
 * bigmem - VICTIM_MIB (from the environment, default 256) MiB of touched, non-zero memory, for
 * the benchmark; verifies a checksum of all of it after the wake-up.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "victim.h"

static uint64_t sum(const uint64_t *p, size_t n)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

int main(int argc, char **argv)
{
	const char *env = getenv("VICTIM_MIB");
	size_t mib = env ? (size_t)atol(env) : 256, n = mib << 17, i;
	uint64_t *p, before;

	victim_setup();
	p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("FAIL: mmap\n");
		return 1;
	}
	for (i = 0; i < n; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL + 1;
	before = sum(p, n);
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");
	victim_check(sum(p, n) == before, "memory checksum");
	return victim_result();
}
