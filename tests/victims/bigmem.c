// SPDX-License-Identifier: GPL-2.0
/*
 * bigmem - VICTIM_MIB (from the environment, default 256) MiB of touched, non-zero memory, for
 * the benchmark; verifies a checksum of all of it after the wake-up. With
 * VICTIM_THREADS=N, N more threads wait on a condition variable meanwhile
 * (a threaded process of that size).
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "victim.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

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
	const char *tenv = getenv("VICTIM_THREADS");
	int threads = tenv ? atoi(tenv) : 0, t;
	uint64_t *p, before;
	pthread_t tid;

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
	for (t = 0; t < threads; t++)
		if (pthread_create(&tid, NULL, waiter, NULL)) {
			printf("FAIL: pthread_create\n");
			return 1;
		}
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");
	victim_check(sum(p, n) == before, "memory checksum");
	return victim_result();
}
