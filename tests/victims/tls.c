// SPDX-License-Identifier: GPL-2.0
/*
 * tls - thread-local storage (fs base) across a restore: __thread data,
 * errno, pthread_self, a pthread key, and the fs base itself.
 */
#include <asm/prctl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "victim.h"

static __thread uint64_t tls_data[64] = { 1 };
static __thread int tls_counter = 77;

int main(int argc, char **argv)
{
	unsigned long fs_before, fs_after;
	pthread_t self = pthread_self();
	pthread_key_t key;
	int i, ok = 1;

	victim_setup();
	for (i = 0; i < 64; i++)
		tls_data[i] = 0xfeed0000ULL + (uint64_t)i * 3;
	pthread_key_create(&key, NULL);
	pthread_setspecific(key, &tls_counter);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_before);
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_after);
	victim_check(fs_after == fs_before, "fs base %#lx, was %#lx", fs_after,
		     fs_before);
	for (i = 0; i < 64; i++)
		if (tls_data[i] != 0xfeed0000ULL + (uint64_t)i * 3)
			ok = 0;
	victim_check(ok, "__thread data");
	victim_check(tls_counter == 77, "__thread counter %d", tls_counter);
	victim_check(pthread_equal(self, pthread_self()),
		     "pthread_self changed");
	victim_check(pthread_getspecific(key) == &tls_counter, "pthread key");
	errno = 0;
	victim_check(close(-1) == -1 && errno == EBADF, "errno");
	return victim_result();
}
