// SPDX-License-Identifier: GPL-2.0
/*
 * filemap - file-backed memory and the process environment: a private
 * read-only mapping of a data file, a private writable one with one page
 * changed (copy-on-write), a shared one (by reference: writes reach the
 * file), an open file with an offset, a working directory, a umask and an
 * rlimit. The data file is DIR/filemap.data (DIR: argv[2], default .), which
 * must exist where the image is restored.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "victim.h"

#define PAGE 4096
#define LEN (16 * PAGE)

static unsigned char expect(size_t i)
{
	return (unsigned char)(i * 13 + 1);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 2 ? argv[2] : ".";
	char path[PATH_MAX], wd[PATH_MAX], cwd[PATH_MAX];
	unsigned char buf[LEN], *ro, *cow, *shr, c;
	struct rlimit rl = { 1000, 4096 }, now;
	int fd, rfd;
	size_t i;

	victim_setup();
	snprintf(path, sizeof(path), "%s/filemap.data", dir);
	for (i = 0; i < LEN; i++)
		buf[i] = expect(i);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, LEN) != LEN) {
		printf("FAIL: cannot write %s\n", path);
		return 1;
	}
	ro = mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	cow = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	shr = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED || cow == MAP_FAILED || shr == MAP_FAILED) {
		printf("FAIL: mmap\n");
		return 1;
	}
	memset(cow + 2 * PAGE, 0xc0, PAGE);
	shr[3 * PAGE] = 0x77;
	close(fd);
	rfd = open(path, O_RDONLY);
	lseek(rfd, 1000, SEEK_SET);
	snprintf(wd, sizeof(wd), "%s/filemap.wd", dir);
	mkdir(wd, 0755);
	if (chdir(wd) || !getcwd(wd, sizeof(wd))) {
		printf("FAIL: chdir\n");
		return 1;
	}
	umask(027);
	setrlimit(RLIMIT_NOFILE, &rl);

	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	for (i = 0; i < LEN; i++)
		if (ro[i] != (i == 3 * PAGE ? 0x77 : expect(i)))
			break;
	victim_check(i == LEN, "private read-only mapping differs at %zu", i);
	for (i = 0; i < LEN; i++)
		if (cow[i] != (i / PAGE == 2 ? 0xc0 :
			       i == 3 * PAGE ? 0x77 :
					       expect(i)))
			break;
	victim_check(i == LEN, "private written mapping differs at %zu", i);
	victim_check(lseek(rfd, 0, SEEK_CUR) == 1000, "file offset %lld",
		     (long long)lseek(rfd, 0, SEEK_CUR));
	victim_check(read(rfd, &c, 1) == 1 && c == expect(1000),
		     "reading the open file");
	victim_check(pread(rfd, &c, 1, 2 * PAGE) == 1 && c == expect(2 * PAGE),
		     "private write reached the file");
	shr[5 * PAGE] = 0x55;
	msync(shr, LEN, MS_SYNC);
	victim_check(pread(rfd, &c, 1, 5 * PAGE) == 1 && c == 0x55,
		     "shared mapping does not reach the file");
	victim_check(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, wd),
		     "cwd %s, expected %s", cwd, wd);
	victim_check(umask(0) == 027, "umask");
	getrlimit(RLIMIT_NOFILE, &now);
	victim_check(now.rlim_cur == 1000 && now.rlim_max == 4096,
		     "RLIMIT_NOFILE %llu %llu",
		     (unsigned long long)now.rlim_cur,
		     (unsigned long long)now.rlim_max);
	return victim_result();
}
