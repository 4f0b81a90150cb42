// SPDX-License-Identifier: GPL-2.0
/*
 * sigstate - a SIGUSR1 handler that runs on an alternate stack with a mask,
 * a blocked mask with a pending SIGUSR2 and two queued real-time signals
 * carrying values, an ignored SIGINT.
 */
#include <stdint.h>

#include "victim.h"

static char altstack[64 * 1024];
static volatile int on_altstack = -1, usr2_seen, rt_seen, rt_values_ok = 1;
static volatile uint64_t mask_in_handler;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	char here;
	sigset_t cur;

	(void)sig, (void)si, (void)uc;
	on_altstack = &here >= altstack && &here < altstack + sizeof(altstack);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	mask_in_handler = sigismember(&cur, SIGTERM);
	victim_woken = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_seen++;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_value.sival_int != 1234 + rt_seen)
		rt_values_ok = 0;
	rt_seen++;
}

int main(int argc, char **argv)
{
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) }, now;
	struct sigaction sa, old;
	sigset_t block, cur, pend;
	union sigval v;
	int rt = SIGRTMIN + 1;

	victim_setup();
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, rt);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR2);
	v.sival_int = 1234;
	sigqueue(getpid(), rt, v);
	v.sival_int = 1235;
	sigqueue(getpid(), rt, v);

	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	victim_check(on_altstack == 1, "handler ran on the alternate stack: %d",
		     on_altstack);
	victim_check(mask_in_handler == 1, "handler's sa_mask not applied");
	sigaltstack(NULL, &now);
	victim_check(now.ss_sp == altstack && now.ss_size == sizeof(altstack) &&
			     !(now.ss_flags & SS_DISABLE),
		     "sigaltstack changed");
	sigaction(SIGUSR1, NULL, &old);
	victim_check(old.sa_sigaction == on_usr1 &&
			     (old.sa_flags & SA_ONSTACK) &&
			     (old.sa_flags & SA_RESTART) &&
			     sigismember(&old.sa_mask, SIGTERM),
		     "SIGUSR1 action changed");
	sigaction(SIGINT, NULL, &old);
	victim_check(old.sa_handler == SIG_IGN, "SIGINT no longer ignored");
	sigprocmask(SIG_SETMASK, NULL, &cur);
	victim_check(sigismember(&cur, SIGUSR2) && sigismember(&cur, rt) &&
			     !sigismember(&cur, SIGUSR1),
		     "blocked mask changed");
	sigpending(&pend);
	victim_check(sigismember(&pend, SIGUSR2) && sigismember(&pend, rt),
		     "pending signals lost");
	signal(SIGUSR2, on_usr2);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO;
	sigaction(rt, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	victim_check(usr2_seen == 1, "SIGUSR2 delivered %d times", usr2_seen);
	victim_check(rt_seen == 2 && rt_values_ok,
		     "real-time signals: %d, values ok %d", rt_seen,
		     rt_values_ok);
	return victim_result();
}
