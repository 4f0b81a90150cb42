// SPDX-License-Identifier: GPL-2.0
/*
 * What a node reports in each heartbeat: kernel, CPUs, memory, load,
 * process count, and the migration engine's state (bproc.ko's version from
 * /sys/module/bproc/version and its device /dev/bproc).
 */
#define LOG_PREFIX "report"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net.h"
#include "agent.h"

/* counting /proc is the costly part of a report: do it every few seconds */
#define PROCS_CACHE_MS 10000
#define ENGINE_CACHE_MS 2000

static int read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* /proc/meminfo, kept open and re-read from the start each time */
static void read_meminfo(struct bp_status *s)
{
	static int fd = -1;
	unsigned long long v;
	char buf[4096];
	const char *p;
	ssize_t n;

	if (fd < 0)
		fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "MemTotal:");
	if (p && sscanf(p, "MemTotal: %llu kB", &v) == 1)
		s->mem_total_kb = v;
	p = strstr(buf, "MemAvailable:");
	if (p && sscanf(p, "MemAvailable: %llu kB", &v) == 1)
		s->mem_avail_kb = v;
}

static void read_loadavg(struct bp_status *s)
{
	struct sysinfo si;
	int i;

	if (sysinfo(&si) < 0)
		return;
	/* sysinfo's loads are fixed point, 16 bits of fraction */
	for (i = 0; i < 3; i++)
		s->load_milli[i] =
			(uint32_t)(((uint64_t)si.loads[i] * 1000 + 32768) >>
				   16);
}

/* Processes (not threads): the numeric entries of /proc, cached briefly. */
static uint32_t count_procs(void)
{
	static int64_t when = -PROCS_CACHE_MS;
	static uint32_t cached;
	int64_t now = bp_now_ms();
	struct dirent *d;
	uint32_t n = 0;
	DIR *dir;

	if (now - when < PROCS_CACHE_MS)
		return cached;
	dir = opendir("/proc");
	if (!dir)
		return cached;
	while ((d = readdir(dir)))
		if (isdigit((unsigned char)d->d_name[0]))
			n++;
	closedir(dir);
	when = now;
	cached = n;
	return n;
}

int engine_version(char *ver, size_t len)
{
	int err = read_small("/sys/module/bproc/version", ver, len);

	if (err)
		ver[0] = '\0';
	ver[strcspn(ver, "\n")] = '\0';
	return err;
}

bool engine_at_least(int major, int minor, char *ver, size_t len)
{
	int ma = 0, mi = 0;

	return !engine_version(ver, len) &&
	       sscanf(ver, "%d.%d", &ma, &mi) == 2 &&
	       (ma > major || (ma == major && mi >= minor));
}

static void probe_engine(struct bp_status *s)
{
	char ver[24];
	struct stat st;

	if (engine_version(ver, sizeof(ver))) {
		if (stat("/sys/module/bproc", &st) == 0)
			snprintf(s->engine, sizeof(s->engine),
				 "none (bproc.ko loaded without a version)");
		else
			snprintf(s->engine, sizeof(s->engine),
				 "none (bproc.ko not loaded)");
		return;
	}
	if (stat("/dev/bproc", &st) < 0 || !S_ISCHR(st.st_mode)) {
		snprintf(s->engine, sizeof(s->engine),
			 "none (/dev/bproc is missing)");
		s->flags |= BPROC_STATUS_FAULT;
		snprintf(s->fault, sizeof(s->fault),
			 "bproc.ko %.20s loaded but /dev/bproc is missing",
			 ver);
		return;
	}
	snprintf(s->engine, sizeof(s->engine), "%.60s", ver);
	s->flags |= BPROC_STATUS_ENGINE;
}

/* The engine's state, probed again every ENGINE_CACHE_MS. */
static void read_engine(struct bp_status *s)
{
	static int64_t when = -ENGINE_CACHE_MS;
	static struct bp_status cached;
	int64_t now = bp_now_ms();

	if (now - when >= ENGINE_CACHE_MS) {
		memset(&cached, 0, sizeof(cached));
		probe_engine(&cached);
		when = now;
	}
	s->flags |= cached.flags;
	memcpy(s->engine, cached.engine, sizeof(s->engine));
	memcpy(s->fault, cached.fault, sizeof(s->fault));
}

/* Anything outside printable ASCII would be refused by the master. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

void report_collect(struct agent *a, struct bp_status *s)
{
	struct utsname u;
	long cpus;

	static char kernel[64];

	(void)a;
	memset(s, 0, sizeof(*s));
	if (!kernel[0] && uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%.63s", u.release);
	memcpy(s->kernel, kernel, sizeof(kernel));
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->cpus = cpus > 0 ? (uint32_t)cpus : 0;
	read_meminfo(s);
	read_loadavg(s);
	s->procs = count_procs();
	read_engine(s);
	sanitize(s->kernel);
	sanitize(s->engine);
	sanitize(s->fault);
}

char *proc_stat(pid_t pid, char *buf, size_t len)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* the comm may hold anything, ')' too: the last one ends it */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

/* The last number of a line (of /proc/PID/status: the innermost pid ns). */
long proc_last_number(const char *line)
{
	const char *p = line + strlen(line);

	while (p > line && (p[-1] == '\n' || p[-1] == ' ' || p[-1] == '\t'))
		p--;
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return strtol(p, NULL, 10);
}

pid_t proc_ns_pid(pid_t pid, pid_t tid)
{
	char path[64], line[256];
	pid_t ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6)) {
			ns = (pid_t)proc_last_number(line);
			break;
		}
	fclose(f);
	return ns;
}
