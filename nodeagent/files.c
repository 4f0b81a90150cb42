// SPDX-License-Identifier: GPL-2.0
/*
 * Which files a moving process needs at its destination (proto.h, enum
 * bproc_send): the source lists what the process maps (files_collect) and
 * asks the destination (FILES_QUERY), the destination says what it has
 * identical (files_answer: FILES_ANSWER), and the source chooses from that
 * what goes whole (files_decide).  A program built on the front end only
 * then runs on a node that never had it, and a program every node has
 * still moves by path, its image a few pages.
 *
 * Identical means a regular file of the same name, size and mtime and,
 * where the source's has one, the same ELF build id: a library rebuilt
 * with the same size keeps none of them, and one copied with its mtime
 * (cp -p, a shared root) keeps all.
 */
#define LOG_PREFIX "files"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bproc/bproc.h>

#include "../common/log.h"
#include "agent.h"

#define NOTES_MAX (64u << 10) /* note bytes read from one file */

struct files {
	struct bp_file f[BPROC_FILES_MAX];
	char *paths[BPROC_FILES_MAX];
	uint32_t nr;
	bool too_many; /* more than a query holds: all goes whole */
};

static bool read_at(int fd, void *buf, size_t n, uint64_t off)
{
	return pread(fd, buf, n, (off_t)off) == (ssize_t)n;
}

/*
 * The GNU build id of the ELF64 file fd (its PT_NOTE segments'
 * NT_GNU_BUILD_ID), into id; its length, or 0 if it has none.
 */
static uint32_t build_id(int fd, uint8_t id[BPROC_BUILD_ID_MAX])
{
	Elf64_Ehdr eh;
	unsigned int i;

	if (!read_at(fd, &eh, sizeof(eh), 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
		return 0;
	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *notes;
		size_t off = 0;

		if (!read_at(fd, &ph, sizeof(ph),
			     eh.e_phoff + (uint64_t)i * sizeof(ph)))
			return 0;
		if (ph.p_type != PT_NOTE || ph.p_filesz > NOTES_MAX ||
		    ph.p_filesz < sizeof(Elf64_Nhdr))
			continue;
		notes = malloc(ph.p_filesz);
		if (!notes)
			return 0;
		if (!read_at(fd, notes, ph.p_filesz, ph.p_offset)) {
			free(notes);
			continue;
		}
		while (off + sizeof(Elf64_Nhdr) <= ph.p_filesz) {
			Elf64_Nhdr nh;
			size_t name, desc;

			memcpy(&nh, notes + off, sizeof(nh));
			name = off + sizeof(nh);
			desc = name + ((nh.n_namesz + 3) & ~3u);
			if (desc > ph.p_filesz || nh.n_descsz > ph.p_filesz ||
			    desc + nh.n_descsz > ph.p_filesz)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp(notes + name, "GNU", 4) && nh.n_descsz &&
			    nh.n_descsz <= BPROC_BUILD_ID_MAX) {
				memcpy(id, notes + desc, nh.n_descsz);
				free(notes);
				return nh.n_descsz;
			}
			off = desc + ((nh.n_descsz + 3) & ~3u);
		}
		free(notes);
	}
	return 0;
}

static uint64_t mtime_ns(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
	       (uint64_t)st->st_mtim.tv_nsec;
}

/* What the engine calls a file the process maps (kmod/dump.c). */
static uint32_t kind_of(const char *perms, const struct stat *st,
			const struct stat *exe)
{
	if (exe && st->st_dev == exe->st_dev && st->st_ino == exe->st_ino)
		return BPROC_FILE_EXEC;
	if (perms[2] == 'x')
		return BPROC_FILE_LIB;
	if (perms[3] == 's')
		return BPROC_FILE_SHARED;
	return BPROC_FILE_OTHER;
}

/* A file mapped again: what it is to the engine, all its mappings told. */
static uint32_t kind_merge(uint32_t a, uint32_t b)
{
	static const int rank[] = {
		[BPROC_FILE_EXEC] = 3,
		[BPROC_FILE_LIB] = 2,
		[BPROC_FILE_OTHER] = 1,
		[BPROC_FILE_SHARED] = 0,
	};

	return rank[a] >= rank[b] ? a : b;
}

/* One line of /proc/PID/maps: a file into fs, unless it is there already. */
static int collect_line(struct files *fs, pid_t lpid, char *line,
			const struct stat *exe)
{
	unsigned long start, end;
	char perms[8], mf[96], *path;
	struct stat st;
	uint32_t i, kind;
	int fd, n = 0;

	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms,
		   &n) != 3 ||
	    !n || strlen(perms) < 4)
		return 0;
	path = line + n;
	if (path[0] != '/')
		return 0; /* anonymous, [heap], [stack], [vdso]... */
	/* the file really mapped, even if its name now is another's */
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", lpid, start,
		 end);
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone meanwhile: the dump will say */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink == 0) {
		/* a device the engine refuses, or deleted: goes whole */
		close(fd);
		return 0;
	}
	kind = kind_of(perms, &st, exe);
	for (i = 0; i < fs->nr; i++)
		if (!strcmp(fs->paths[i], path)) {
			fs->f[i].kind = kind_merge(fs->f[i].kind, kind);
			close(fd);
			return 0;
		}
	if (fs->nr == BPROC_FILES_MAX || strlen(path) >= BPROC_FILE_PATH_MAX) {
		fs->too_many = true;
		close(fd);
		return 0;
	}
	fs->paths[fs->nr] = strdup(path);
	if (!fs->paths[fs->nr]) {
		close(fd);
		return -ENOMEM;
	}
	fs->f[fs->nr].path = fs->paths[fs->nr];
	fs->f[fs->nr].size = (uint64_t)st.st_size;
	fs->f[fs->nr].mtime_ns = mtime_ns(&st);
	fs->f[fs->nr].kind = kind;
	fs->f[fs->nr].build_id_len = build_id(fd, fs->f[fs->nr].build_id);
	fs->nr++;
	close(fd);
	return 0;
}

int files_collect(pid_t lpid, struct files **out, char *why, size_t whylen)
{
	struct stat exe_st, *exe = &exe_st;
	size_t cap = 0;
	char *line = NULL, path[64];
	struct files *fs;
	FILE *f;
	int err = 0;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", lpid);
	if (stat(path, &exe_st))
		exe = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", lpid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		snprintf(why, whylen, "its mappings: %s", strerror(errno));
		free(fs);
		return err;
	}
	while (!err && getline(&line, &cap, f) > 0)
		err = collect_line(fs, lpid, line, exe);
	free(line);
	fclose(f);
	if (err) {
		snprintf(why, whylen, "listing its files: %s", strerror(-err));
		files_free(fs);
		return err;
	}
	*out = fs;
	return 0;
}

void files_free(struct files *fs)
{
	uint32_t i;

	if (!fs)
		return;
	for (i = 0; i < fs->nr; i++)
		free(fs->paths[i]);
	free(fs);
}

int files_ask(struct bp_conn *c, uint32_t transfer, const struct files *fs)
{
	return bp_send_files_query(c, transfer, fs->f, fs->nr);
}

bool files_unaskable(const struct files *fs)
{
	return fs->too_many;
}

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case BPROC_FILE_EXEC:
		return "its program";
	case BPROC_FILE_LIB:
		return "its library";
	case BPROC_FILE_SHARED:
		return "its shared mapping";
	default:
		return "its file";
	}
}

static uint32_t kind_flag(uint32_t kind)
{
	switch (kind) {
	case BPROC_FILE_EXEC:
		return BPROC_DUMP_EXEC;
	case BPROC_FILE_LIB:
		return BPROC_DUMP_LIBS;
	case BPROC_FILE_OTHER:
		return BPROC_DUMP_OTHER;
	default:
		return 0;
	}
}

int files_decide(const struct files *fs, unsigned int send, const char *dest,
		 const uint8_t *d, uint32_t len, uint32_t *dump_flags,
		 char *why, size_t whylen)
{
	uint8_t v[BPROC_FILES_MAX];
	uint32_t i, nr, whole = 0;

	if (bp_files_answer_decode(d, len, v, &nr) || nr != fs->nr)
		return -EPROTO;
	for (i = 0; i < nr; i++) {
		const struct bp_file *f = &fs->f[i];

		if (v[i] == BPROC_FILE_SAME)
			continue;
		pr_debug("%s: %s %s (%s)", dest, f->path,
			 v[i] == BPROC_FILE_MISSING ? "is missing" : "differs",
			 kind_name(f->kind));
		/* a shared mapping is the file itself: it cannot go whole */
		if (v[i] == BPROC_FILE_MISSING &&
		    (send == BPROC_SEND_PATH || f->kind == BPROC_FILE_SHARED)) {
			snprintf(why, whylen, "%s: ENOENT: %s %s is not here",
				 dest, kind_name(f->kind), f->path);
			return -ENOENT;
		}
		if (send == BPROC_SEND_AUTO)
			whole |= kind_flag(f->kind);
	}
	*dump_flags = whole;
	return 0;
}

/* The destination's verdict on one file it was asked about. */
static uint8_t verdict(const struct bp_file *f)
{
	uint8_t id[BPROC_BUILD_ID_MAX];
	struct stat st;
	uint8_t v = BPROC_FILE_SAME;
	int fd;

	if (stat(f->path, &st) || !S_ISREG(st.st_mode))
		return BPROC_FILE_MISSING;
	if ((uint64_t)st.st_size != f->size || mtime_ns(&st) != f->mtime_ns)
		return BPROC_FILE_DIFFERS;
	if (!f->build_id_len)
		return BPROC_FILE_SAME;
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return BPROC_FILE_MISSING;
	if (build_id(fd, id) != f->build_id_len ||
	    memcmp(id, f->build_id, f->build_id_len))
		v = BPROC_FILE_DIFFERS;
	close(fd);
	return v;
}

int files_answer(struct bp_conn *c, uint32_t stream, const uint8_t *d,
		 uint32_t len)
{
	static struct bp_file f[BPROC_FILES_MAX];
	uint8_t v[BPROC_FILES_MAX];
	uint32_t i, nr, differ = 0;

	if (bp_files_query_decode(d, len, f, &nr))
		return -EPROTO;
	for (i = 0; i < nr; i++) {
		v[i] = verdict(&f[i]);
		differ += v[i] != BPROC_FILE_SAME;
	}
	pr_debug("%s asks about %u files: %u not here or not the same",
		 c->peer_node, nr, differ);
	return bp_send_files_answer(c, stream, v, nr);
}
