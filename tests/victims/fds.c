// SPDX-License-Identifier: GPL-2.0
/*
 * fds - the kernel objects a threaded runtime holds, across a restore
 * (BPROC_DUMP_ANONFDS): two eventfds (a count, non-blocking and
 * close-on-exec; a semaphore), three timerfds (periodic, expiring every
 * 200 ms, unread; one-shot, expired and unread; one-shot in 1000 s), a
 * signalfd for SIGUSR1 with SIGUSR1 blocked and one pending, an epoll
 * watching all of these and /dev/random (a file reopened by path: where
 * it is restored, the one registered must be the one the program has at
 * that fd) and an empty epoll, a memfd with data, mapped shared and
 * sealed, a memfd only mapped, and /dev/null and /dev/zero.
 * (A regular file cannot be watched by an epoll: EPERM, checked too.)
 * After the wait (victim.h; "read", since SIGUSR1 is the signalfd's)
 * every object must be there at its fd with its state, its flags and
 * its close-on-exec flag, and no other fd may be open.
 */
#include "victim.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#define PG 4096
#define M_SIZE (3 * PG + 100)

enum {
	D_EFD = 0x1111,
	D_TFD = 0x2222,
	D_SFD = 0x3333,
	D_SEM = 0x4444,
	D_RND = 0x7777
};

static int efd, esem, tfd, texp, tlong, sfd, ep, ep2, mfd, nul, zero, rnd;
static char fds_before[1024];
static unsigned char *map, *only;

static unsigned char pat(int r, size_t i)
{
	return (unsigned char)(r * 31 + i * 7 + i / 251);
}

static uint64_t ms(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000 + (uint64_t)t->tv_nsec / 1000000;
}

static void check_fdflags(int fd, int nonblock, int cloexec, const char *what)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	victim_check(fl >= 0 && !!(fl & O_NONBLOCK) == nonblock,
		     "%s: O_NONBLOCK %d, want %d", what, !!(fl & O_NONBLOCK),
		     nonblock);
	victim_check(fdfl >= 0 && !!(fdfl & FD_CLOEXEC) == cloexec,
		     "%s: FD_CLOEXEC %d, want %d", what, !!(fdfl & FD_CLOEXEC),
		     cloexec);
}

static void check_link(int fd, const char *want)
{
	char p[64], buf[256];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	victim_check(!strcmp(buf, want), "fd %d is '%s', want '%s'", fd, buf,
		     want);
}

/* The fds open from 3 up, as text ("3 4 5 "). */
static void open_fds(char *out, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fd, max = 0;
	char have[1024] = "";

	while (d && (de = readdir(d))) {
		fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd != dirfd(d) && fd >= 3 &&
		    fd < (int)sizeof(have)) {
			have[fd] = 1;
			max = fd > max ? fd : max;
		}
	}
	if (d)
		closedir(d);
	out[0] = '\0';
	for (fd = 3; fd <= max; fd++)
		if (have[fd])
			snprintf(out + strlen(out), len - strlen(out), "%d ",
				 fd);
}

static void setup(void)
{
	struct itimerspec per = { { 0, 200000000 }, { 0, 200000000 } };
	struct itimerspec once = { { 0, 0 }, { 0, 10000000 } };
	struct itimerspec late = { { 0, 0 }, { 1000, 0 } };
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t five = 5;
	sigset_t set;
	size_t i;
	int reg;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	victim_check(write(efd, &five, 8) == 8, "eventfd write");
	esem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	texp = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	tlong = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	victim_check(!timerfd_settime(tfd, 0, &per, NULL), "timerfd_settime");
	victim_check(!timerfd_settime(texp, 0, &once, NULL), "settime once");
	victim_check(!timerfd_settime(tlong, 0, &late, NULL), "settime late");

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	kill(getpid(), SIGUSR1); /* pending, read after the restore */

	ep = epoll_create1(EPOLL_CLOEXEC);
	ep2 = epoll_create1(0);
	ev.data.u64 = D_EFD;
	victim_check(!epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), "add efd");
	ev.data.u64 = D_TFD;
	victim_check(!epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev), "add tfd");
	ev.data.u64 = D_SFD;
	victim_check(!epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev), "add sfd");
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = D_SEM;
	victim_check(!epoll_ctl(ep, EPOLL_CTL_ADD, esem, &ev), "add esem");
	ev.events = EPOLLIN;
	ev.data.u64 = 0x5555;
	victim_check(!epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev), "add ep2");
	reg = open("/proc/self/exe", O_RDONLY);
	victim_check(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev) && errno == EPERM,
		     "an epoll took a regular file");
	close(reg);

	mfd = memfd_create("bproc-test", MFD_ALLOW_SEALING);
	victim_check(!ftruncate(mfd, M_SIZE), "ftruncate");
	for (i = 0; i < M_SIZE; i++) {
		unsigned char c = pat(1, i);

		victim_check(pwrite(mfd, &c, 1, (off_t)i) == 1, "pwrite");
	}
	map = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	victim_check(map != MAP_FAILED, "mmap memfd");
	map[PG + 5] = 0xab; /* through the mapping */
	victim_check(!fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW),
		     "seals");
	lseek(mfd, 123, SEEK_SET);

	i = (size_t)memfd_create("only-mapped", 0);
	victim_check(!ftruncate((int)i, 2 * PG), "ftruncate only");
	only = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, (int)i,
		    0);
	victim_check(only != MAP_FAILED, "mmap only");
	close((int)i);
	for (i = 0; i < 2 * PG; i++)
		only[i] = pat(2, i);

	nul = open("/dev/null", O_WRONLY);
	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	rnd = open("/dev/random", O_RDONLY | O_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.u64 = D_RND;
	victim_check(!epoll_ctl(ep, EPOLL_CTL_ADD, rnd, &ev), "add random");
	usleep(100000); /* texp expires, unread */
	open_fds(fds_before, sizeof(fds_before));
}

static void check_epoll(void)
{
	struct epoll_event evs[8], ev = { .events = EPOLLIN };
	uint64_t seen = 0;
	int n, i, dup, tries = 0;

	/* the periodic timer may not have expired again yet */
again:
	n = epoll_wait(ep, evs, 8, 500);
	for (i = 0; i < n; i++) {
		victim_check(evs[i].events == EPOLLIN, "epoll events %#x",
			     evs[i].events);
		switch (evs[i].data.u64) {
		case D_EFD:
			seen |= 1;
			break;
		case D_TFD:
			seen |= 2;
			break;
		case D_SFD:
			seen |= 4;
			break;
		case D_SEM:
			seen |= 8;
			break;
		case D_RND: /* ready once the kernel's generator is */
			break;
		default:
			victim_check(0, "epoll data %#llx",
				     (unsigned long long)evs[i].data.u64);
		}
	}
	if (seen != 15 && tries++ < 20) {
		usleep(100000); /* (the others are ready: it returns at once) */
		goto again;
	}
	victim_check(seen == 15, "epoll_wait: ready mask %#llx",
		     (unsigned long long)seen);
	/* every target is still registered, and only those */
	dup = epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) && errno == EEXIST;
	dup &= epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) && errno == EEXIST;
	dup &= epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) && errno == EEXIST;
	dup &= epoll_ctl(ep, EPOLL_CTL_ADD, esem, &ev) && errno == EEXIST;
	dup &= epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev) && errno == EEXIST;
	victim_check(dup, "an epoll target is missing");
	/* registered with the file at that fd, not another of that path */
	victim_check(epoll_ctl(ep, EPOLL_CTL_ADD, rnd, &ev) && errno == EEXIST,
		     "the epoll does not watch the /dev/random at fd %d", rnd);
	victim_check(epoll_wait(ep2, evs, 8, 0) == 0, "the empty epoll");
}

static void check(void)
{
	struct signalfd_siginfo si;
	struct itimerspec cur;
	uint64_t v = 0;
	struct stat st;
	unsigned char buf[64];
	char maps[8192];
	char after[1024];
	size_t i;
	int k, bad;
	FILE *f;

	check_epoll();

	/* eventfds */
	victim_check(read(efd, &v, 8) == 8 && v == 5, "eventfd count %llu",
		     (unsigned long long)v);
	victim_check(read(efd, &v, 8) < 0 && errno == EAGAIN,
		     "eventfd not empty after a read");
	for (k = 0; k < 3; k++)
		victim_check(read(esem, &v, 8) == 8 && v == 1,
			     "semaphore read %d gave %llu", k,
			     (unsigned long long)v);
	victim_check(read(esem, &v, 8) < 0 && errno == EAGAIN,
		     "semaphore not empty after 3 reads");
	check_fdflags(efd, 1, 1, "eventfd");
	check_fdflags(esem, 1, 0, "semaphore");

	/* timerfds */
	victim_check(read(tfd, &v, 8) == 8 && v >= 1, "periodic: %llu ticks",
		     (unsigned long long)v);
	victim_check(!timerfd_gettime(tfd, &cur) &&
			     ms(&cur.it_interval) == 200 &&
			     ms(&cur.it_value) <= 200,
		     "periodic: interval %llu ms, value %llu ms",
		     (unsigned long long)ms(&cur.it_interval),
		     (unsigned long long)ms(&cur.it_value));
	victim_check(read(tfd, &v, 8) == 8 && v >= 1, "periodic: ticks again");
	victim_check(read(texp, &v, 8) == 8 && v == 1,
		     "expired unread: %llu ticks", (unsigned long long)v);
	victim_check(!timerfd_gettime(texp, &cur) && !ms(&cur.it_value),
		     "expired timer armed again");
	victim_check(read(tlong, &v, 8) < 0 && errno == EAGAIN,
		     "1000 s timer expired");
	victim_check(!timerfd_gettime(tlong, &cur) &&
			     cur.it_value.tv_sec > 900 &&
			     cur.it_value.tv_sec < 1000,
		     "1000 s timer: %llu s left",
		     (unsigned long long)cur.it_value.tv_sec);
	check_fdflags(tfd, 0, 1, "periodic timer");
	check_fdflags(texp, 1, 0, "expired timer");

	/* signalfd: the signal pending at the dump, then a new one */
	victim_check(read(sfd, &si, sizeof(si)) == sizeof(si) &&
			     si.ssi_signo == SIGUSR1,
		     "signalfd: the pending SIGUSR1");
	victim_check(read(sfd, &si, sizeof(si)) < 0 && errno == EAGAIN,
		     "signalfd: more than one signal");
	kill(getpid(), SIGUSR1);
	victim_check(read(sfd, &si, sizeof(si)) == sizeof(si) &&
			     si.ssi_signo == SIGUSR1 &&
			     si.ssi_pid == (uint32_t)getpid(),
		     "signalfd: SIGUSR1 sent after the restore");
	check_fdflags(sfd, 1, 1, "signalfd");
	check_fdflags(ep, 0, 1, "epoll");
	check_fdflags(ep2, 0, 0, "empty epoll");

	/* memfds */
	check_link(mfd, "/memfd:bproc-test (deleted)");
	victim_check(!fstat(mfd, &st) && st.st_size == M_SIZE,
		     "memfd size %lld", (long long)st.st_size);
	victim_check(fcntl(mfd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW),
		     "memfd seals %#x", fcntl(mfd, F_GET_SEALS));
	victim_check(lseek(mfd, 0, SEEK_CUR) == 123, "memfd offset");
	for (bad = 0, i = 0; i < M_SIZE; i += sizeof(buf)) {
		size_t k2,
			n = M_SIZE - i < sizeof(buf) ? M_SIZE - i : sizeof(buf);

		if (pread(mfd, buf, n, (off_t)i) != (ssize_t)n)
			bad++;
		for (k2 = 0; k2 < n; k2++)
			bad += buf[k2] !=
			       (i + k2 == PG + 5 ? 0xab : pat(1, i + k2));
	}
	victim_check(!bad, "memfd content: %d bytes differ", bad);
	for (bad = 0, i = 0; i < 3 * PG; i++)
		bad += map[i] != (i == PG + 5 ? 0xab :
				  i < M_SIZE  ? pat(1, i) :
						0);
	victim_check(!bad, "memfd mapping: %d bytes differ", bad);
	map[7] = 0x5a; /* shared with the memfd for real */
	victim_check(pread(mfd, buf, 1, 7) == 1 && buf[0] == 0x5a,
		     "the mapping is not the memfd's");
	victim_check(ftruncate(mfd, PG) && errno == EPERM,
		     "a sealed memfd shrank");
	for (bad = 0, i = 0; i < 2 * PG; i++)
		bad += only[i] != pat(2, i);
	victim_check(!bad, "mapped memfd: %d bytes differ", bad);
	f = fopen("/proc/self/maps", "r");
	i = f ? fread(maps, 1, sizeof(maps) - 1, f) : 0;
	maps[i] = '\0';
	if (f)
		fclose(f);
	victim_check(strstr(maps, "/memfd:bproc-test (deleted)") &&
			     strstr(maps, "/memfd:only-mapped (deleted)"),
		     "memfd mappings: %s", maps);

	/* /dev/null, /dev/zero */
	check_link(nul, "/dev/null");
	check_link(zero, "/dev/zero");
	victim_check(write(nul, "x", 1) == 1, "write /dev/null");
	memset(buf, 1, sizeof(buf));
	victim_check(read(zero, buf, sizeof(buf)) == sizeof(buf) && !buf[0] &&
			     !memcmp(buf, buf + 1, sizeof(buf) - 1),
		     "read /dev/zero");

	/* no other descriptor, the only-mapped memfd's included */
	open_fds(after, sizeof(after));
	victim_check(!strcmp(after, fds_before), "fds open '%s', were '%s'",
		     after, fds_before);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "read";

	victim_setup();
	setup();
	victim_ready();
	victim_wait(mode);
	check();
	return victim_result();
}
