// SPDX-License-Identifier: GPL-2.0
/*
 * omp [THREADS [N]] - an OpenMP program (libgomp, linked statically) for the
 * move tests: THREADS (default 4) threads share a loop over N (default
 * 20,000,000) terms of a sum; halfway through its share each thread waits,
 * busy, until SIGUSR1; once they all wait the program prints "ready PID",
 * then, after SIGUSR1, "sum S" (a run that never moved must print the same)
 * and "threads T", and exits 0.
 */
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static atomic_int arrived;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static uint64_t term(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull;

	return (x ^ (x >> 29)) % 1000003;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	long n = argc > 2 ? atol(argv[2]) : 20000000;
	struct sigaction sa = { .sa_handler = on_usr1 };
	uint64_t sum = 0;
	int used = 0;

	sigaction(SIGUSR1, &sa, NULL);
	omp_set_num_threads(threads);
#pragma omp parallel reduction(+ : sum)
	{
		int t = omp_get_thread_num(), nth = omp_get_num_threads();
		long lo = n * t / nth, hi = n * (t + 1) / nth, i;

		for (i = lo; i < hi; i++) {
			if (i == lo + (hi - lo) / 2) {
				if (atomic_fetch_add(&arrived, 1) + 1 == nth) {
					printf("ready %d\n", (int)getpid());
					fflush(stdout);
				}
				while (!go)
					sched_yield();
			}
			sum += term((uint64_t)i);
		}
		if (t == 0)
			used = nth;
	}
	printf("sum %llu\nthreads %d\n", (unsigned long long)sum, used);
	return 0;
}
