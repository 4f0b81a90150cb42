// SPDX-License-Identifier: GPL-2.0
/*
 * threads - a process of 8 threads besides its main thread, dumped and
 * restored with all of them (bproc-ckpt, BPROC_DUMP_THREADS). Worker k sums
 * its own array, half before and half after a wait of its own kind, where
 * it sits when the image is taken:
 *   0 a condition variable   1 a raw futex wait
 *   2 read() of one byte from stdin (a pipe)
 *   3 nanosleep (6 s, must sleep it all)
 *   4 poll() for stdin readable (the byte after 2's, at most 60 s)
 *   5 busy in user space, summing doubles in its FPU registers
 *   6 a condition variable, holding a robust mutex it never unlocks
 *   7 sigwaitinfo() for SIGUSR2, which the main thread sends it (tgkill);
 *     it fails with EINTR after a stop and after a dump: called again
 * Each has its own name (w0..w7), __thread value, signal mask (SIGUSR1 and
 * SIGRTMIN+k blocked), a SIGRTMIN+k pending for it alone (sent with tgkill
 * before "ready") and alternate signal stack; after its wait it checks they
 * are all still its own, and that gettid() is the tid it had. Then every
 * worker gets SIGUSR2 with tgkill and its handler must run in that very
 * thread. Worker 6 ends with a raw exit holding its robust mutex: the
 * kernel must mark it owner-died (its robust list head was restored), and
 * pthread_join of every worker needs its clear_child_tid (set_tid_address)
 * restored.
 *
 * Prints "tids T0 .. T7" before "ready", and "sums S0 .. S7" at the end,
 * which a run that never moved must match. A SIGURG sent to one thread
 * alone (tgkill from outside) runs its handler in that thread, which says
 * so at the end: "urg T" for each thread that had one, main thread first
 * (worker 0, 1 and 5 take one in their wait: nanosleep and poll would
 * fail with EINTR, as they would without any move). Main waits as victim.h says
 * (argv[1], pause by default); workers 2 and 4 wait for two bytes on stdin
 * ("go" and a newline, say). No descriptor is open but stdio: a pipe at
 * fd 3 and up would not be dumped.
 */
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "victim.h"

#define NR 8
#define LEN 4096

static uint64_t arr[NR][LEN];
static uint64_t sums[NR];
static pid_t tids[NR];
static char errs[NR][160];
static atomic_int started, sent, at_end, quit;
static volatile pid_t hit[NR]; /* by the SIGUSR2 handler */
static volatile pid_t urg[NR + 1]; /* by SIGURG's: worker k, main at NR */
static pid_t main_tid;
static int futex_word;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go_cond, go_busy;
static pthread_mutex_t robust;
static __thread int mine = -1;
static char altstacks[NR][SIGSTKSZ * 2];

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_usr2(int sig)
{
	int k;

	(void)sig;
	for (k = 0; k < NR; k++)
		if (tids[k] == my_tid())
			hit[k] = my_tid();
}

static void on_urg(int sig)
{
	int k;

	(void)sig;
	if (my_tid() == main_tid)
		urg[NR] = main_tid;
	for (k = 0; k < NR; k++)
		if (tids[k] == my_tid())
			urg[k] = my_tid();
}

static void err(int k, const char *what)
{
	if (!errs[k][0])
		snprintf(errs[k], sizeof(errs[k]), "worker %d: %s", k, what);
}

static uint64_t sum(int k, int from, int to)
{
	uint64_t s = 0;
	int i;

	for (i = from; i < to; i++)
		s = s * 31 + arr[k][i];
	return s;
}

/* The wait of worker k, in which the image is taken. */
static void wait_kind(int k)
{
	char c;
	struct pollfd p;
	struct timespec ts = { 6, 0 };
	double t0, t, d = 0, want = 0;
	sigset_t usr2;
	siginfo_t si;
	int i;

	switch (k) {
	case 0:
	case 6:
		pthread_mutex_lock(&lock);
		while (!go_cond)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		break;
	case 1:
		while (!__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE))
			syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0,
				NULL, NULL, 0);
		break;
	case 2:
		if (read(0, &c, 1) != 1)
			err(k, "read from stdin failed");
		break;
	case 3:
		t0 = victim_now();
		if (nanosleep(&ts, NULL))
			err(k, "nanosleep failed");
		t = victim_now() - t0;
		if (t < 6 - victim_slack())
			err(k, "nanosleep cut short");
		break;
	case 4:
		p.fd = 0;
		p.events = POLLIN;
		if (poll(&p, 1, 60000) != 1 || !(p.revents & POLLIN))
			err(k, "poll did not see stdin readable");
		break;
	case 5:
		for (i = 0; i < LEN; i++)
			want += (double)(arr[k][i] & 0xffff) * 0.5;
		while (!__atomic_load_n(&go_busy, __ATOMIC_ACQUIRE)) {
			d = 0;
			for (i = 0; i < LEN; i++)
				d += (double)(arr[k][i] & 0xffff) * 0.5;
			if (d != want)
				err(k, "the FPU lost its sum");
		}
		break;
	case 7:
		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		/* EINTR after a stop, and after a dump (signal(7)) */
		do
			i = sigwaitinfo(&usr2, &si);
		while (i < 0 && errno == EINTR);
		if (i != SIGUSR2 || si.si_pid != getpid())
			snprintf(errs[k], sizeof(errs[k]),
				 "worker 7: sigwaitinfo: %d (%s), from %d", i,
				 i < 0 ? strerror(errno) : "", si.si_pid);
		break;
	}
}

static void *worker(void *arg)
{
	int k = (int)(intptr_t)arg, j;
	sigset_t m, pend;
	stack_t ss = { .ss_sp = altstacks[k], .ss_size = sizeof(altstacks[k]) };
	char name[16], want[16];
	uint64_t first;

	tids[k] = my_tid();
	mine = 1000 + k;
	snprintf(want, sizeof(want), "w%d", k);
	prctl(PR_SET_NAME, want);
	sigaltstack(&ss, NULL);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN + k);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	if (k == 6)
		pthread_mutex_lock(&robust);
	first = sum(k, 0, LEN / 2);
	atomic_fetch_add(&started, 1);

	wait_kind(k);
	while (!atomic_load(
		&sent)) /* its SIGRTMIN+k, should the wait be over */
		usleep(1000);

	if (my_tid() != tids[k])
		err(k, "gettid changed");
	if (mine != 1000 + k)
		err(k, "__thread value lost");
	prctl(PR_GET_NAME, name);
	if (strcmp(name, want))
		err(k, "name lost");
	memset(&ss, 0, sizeof(ss));
	sigaltstack(NULL, &ss);
	if (ss.ss_sp != altstacks[k] || ss.ss_size != sizeof(altstacks[k]))
		err(k, "alternate signal stack lost");
	pthread_sigmask(SIG_BLOCK, NULL, &m);
	if (!sigismember(&m, SIGUSR1) || !sigismember(&m, SIGRTMIN + k) ||
	    (k != 7 && !sigismember(&m, SIGUSR2)) ||
	    sigismember(&m, SIGRTMIN + (k + 1) % NR))
		err(k, "signal mask lost");
	sigpending(&pend);
	for (j = 0; j < NR; j++)
		if (sigismember(&pend, SIGRTMIN + j) != (j == k))
			err(k, "pending signals not its own");
	sums[k] = first * 1000003 + sum(k, LEN / 2, LEN);

	if (k == 6)
		syscall(SYS_exit, 0); /* holding the robust mutex */
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	atomic_fetch_add(&at_end, 1);
	while (!atomic_load(&quit))
		usleep(20000); /* SIGUSR2's handler runs meanwhile */
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t ma;
	struct sigaction sa;
	pthread_t th[NR];
	int k, i, r;

	victim_setup();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	main_tid = my_tid();
	sa.sa_handler = on_urg;
	sigaction(SIGURG, &sa, NULL);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &ma);
	for (k = 0; k < NR; k++)
		for (i = 0; i < LEN; i++)
			arr[k][i] = (uint64_t)(k + 1) * 2654435761u * (i + 7) ^
				    (uint64_t)i << 17;
	for (k = 0; k < NR; k++)
		pthread_create(&th[k], NULL, worker, (void *)(intptr_t)k);
	while (atomic_load(&started) < NR)
		usleep(10000);
	/* one signal pending for each worker alone */
	for (k = 0; k < NR; k++)
		syscall(SYS_tgkill, getpid(), tids[k], SIGRTMIN + k);
	atomic_store(&sent, 1);
	printf("tids");
	for (k = 0; k < NR; k++)
		printf(" %d", tids[k]);
	printf("\n");
	usleep(200000); /* into their waits */
	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	/* Let them all go on. */
	pthread_mutex_lock(&lock);
	go_cond = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	__atomic_store_n(&futex_word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
		0);
	__atomic_store_n(&go_busy, 1, __ATOMIC_RELEASE);
	syscall(SYS_tgkill, getpid(), tids[7], SIGUSR2);

	/* Every worker but 6 (gone) at its end; SIGUSR2 to each alone. */
	for (i = 0; i < 3000 && atomic_load(&at_end) < NR - 1; i++)
		usleep(10000);
	victim_check(atomic_load(&at_end) == NR - 1, "%d workers at the end",
		     atomic_load(&at_end));
	for (k = 0; k < NR; k++) {
		if (k == 6)
			continue;
		syscall(SYS_tgkill, getpid(), tids[k], SIGUSR2);
		for (i = 0; i < 500 && !hit[k]; i++)
			usleep(10000);
		victim_check(hit[k] == tids[k],
			     "SIGUSR2 for thread %d ran in thread %d", tids[k],
			     hit[k]);
	}
	r = pthread_mutex_lock(&robust);
	victim_check(r == EOWNERDEAD, "robust mutex: %d, not EOWNERDEAD", r);
	atomic_store(&quit, 1);
	for (k = 0; k < NR; k++) {
		pthread_join(th[k], NULL);
	}
	for (k = 0; k < NR; k++) {
		if (errs[k][0])
			victim_check(0, "%s", errs[k]);
		victim_check(sums[k] == sum(k, 0, LEN / 2) * 1000003 +
						sum(k, LEN / 2, LEN),
			     "worker %d summed wrong", k);
	}
	printf("sums");
	for (k = 0; k < NR; k++)
		printf(" %016llx", (unsigned long long)sums[k]);
	printf("\n");
	if (urg[NR])
		printf("urg %d\n", urg[NR]);
	for (k = 0; k < NR; k++)
		if (urg[k])
			printf("urg %d\n", urg[k]);
	return victim_result();
}
