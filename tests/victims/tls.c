// SPDX-License-Identifier: GPL-2.0
/*
 * tls - thread-local storage (fs base) across a restore: __thread data,
 * errno, pthread_self, a pthread key, and the fs base itself. Restored under
 * another pid (bproc-ckpt restore keeps its own), the C library's copy of
 * the thread id (the word at the kernel's clear_child_tid, where fork wrote
 * it) must be the new tid: a thread's pthread_kill() of the main thread
 * goes by it.
 */
#include <asm/prctl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "victim.h"

static __thread uint64_t tls_data[64] = { 1 };
static __thread int tls_counter = 77;

static void *kill_main(void *arg)
{
	return (void *)(intptr_t)pthread_kill(*(pthread_t *)arg, 0);
}

int main(int argc, char **argv)
{
	unsigned long fs_before, fs_after;
	pthread_t self = pthread_self();
	pthread_key_t key;
	int i, ok = 1, *tidp = NULL, tid;
	pthread_t t;
	void *ret = (void *)-1;

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
	tid = (int)syscall(SYS_gettid);
	i = prctl(PR_GET_TID_ADDRESS, &tidp);
	victim_check(i == 0 && tidp && *tidp == tid,
		     "prctl %d (%s), tid word at %p: %d, gettid() %d", i,
		     strerror(errno), (void *)tidp, tidp ? *tidp : -1, tid);
	i = pthread_create(&t, NULL, kill_main, &self);
	if (!i)
		i = pthread_join(t, &ret);
	victim_check(i == 0 && ret == NULL,
		     "pthread_kill of the main thread from a thread: %s",
		     strerror(i ? i : (int)(intptr_t)ret));
	return victim_result();
}
