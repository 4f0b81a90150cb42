// SPDX-License-Identifier: GPL-2.0
/*
 * imgread.c - load a bproc image's structure, trusting nothing in it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgread.h"

static int img_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : -2;
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

uint64_t img_section_limit(uint32_t type)
{
	switch (type) {
	case BPROC_SEC_CORE:
		return sizeof(struct bproc_image_core);
	case BPROC_SEC_XSTATE:
		return BPROC_IMAGE_MAX_XSTATE;
	case BPROC_SEC_SIGNALS:
		return sizeof(struct bproc_image_signals) +
		       BPROC_IMAGE_MAX_PENDING *
			       sizeof(struct bproc_image_siginfo);
	case BPROC_SEC_MM:
		return sizeof(struct bproc_image_mm);
	case BPROC_SEC_VMAS:
		return (uint64_t)BPROC_IMAGE_MAX_VMAS *
		       sizeof(struct bproc_image_vma);
	case BPROC_SEC_PATHS:
		return BPROC_IMAGE_MAX_PATHS;
	case BPROC_SEC_TASKENV:
		return sizeof(struct bproc_image_taskenv) +
		       BPROC_IMAGE_MAX_GROUPS * 4 +
		       BPROC_IMAGE_MAX_FILES * sizeof(struct bproc_image_file);
	case BPROC_SEC_PAGEMAP:
		return (uint64_t)BPROC_IMAGE_MAX_RUNS *
		       sizeof(struct bproc_image_pagemap);
	case BPROC_SEC_THREADS:
		return BPROC_IMAGE_MAX_THREADS_BYTES;
	case BPROC_SEC_FDS:
		return sizeof(struct bproc_image_fds) +
		       BPROC_IMAGE_MAX_FDS * sizeof(struct bproc_image_fd) +
		       BPROC_IMAGE_MAX_TARGETS *
			       sizeof(struct bproc_image_epoll_target);
	case BPROC_SEC_MEMFD:
		return BPROC_IMAGE_MAX_MEMFD;
	case BPROC_SEC_EXEFILE:
		return sizeof(struct bproc_image_exefile) +
		       BPROC_IMAGE_MAX_EXEFILE;
	default:
		return 0;
	}
}

/*
 * THREADS, when there is one: every record whole, within the section,
 * its FPU state the size it says, as many as it says and no more.
 */
static int check_threads(struct img *img, char *err, size_t errlen)
{
	const struct bproc_image_threads *h;
	uint64_t size, off, xsize;
	uint32_t i;

	h = img_get(img, BPROC_SEC_THREADS, &size);
	if (!h)
		return 0;
	if (size < sizeof(*h) || !h->nr_threads ||
	    h->nr_threads > BPROC_IMAGE_MAX_THREADS ||
	    h->xstate_size > BPROC_IMAGE_MAX_XSTATE)
		return img_err(err, errlen, "bad THREADS section");
	xsize = h->xstate_size;
	off = sizeof(*h);
	for (i = 0; i < h->nr_threads; i++) {
		struct bproc_image_thread t;

		if (size - off < sizeof(t))
			return img_err(err, errlen, "thread %u: truncated", i);
		memcpy(&t, (const char *)h + off, sizeof(t));
		off += sizeof(t);
		if (t.nr_pending > BPROC_IMAGE_MAX_PENDING ||
		    size - off <
			    xsize + (uint64_t)t.nr_pending *
					    sizeof(struct bproc_image_siginfo))
			return img_err(err, errlen, "thread %u: truncated", i);
		off += xsize + (uint64_t)t.nr_pending *
				       sizeof(struct bproc_image_siginfo);
	}
	if (off != size)
		return img_err(err, errlen, "THREADS: %llu bytes left over",
			       (unsigned long long)(size - off));
	return 0;
}

uint32_t img_nr_threads(const struct img *img)
{
	const struct bproc_image_threads *h =
		img_get(img, BPROC_SEC_THREADS, NULL);

	return h ? h->nr_threads : 0;
}

int img_thread(const struct img *img, uint32_t n, struct bproc_image_thread *t,
	       const void **xstate, const struct bproc_image_siginfo **pending)
{
	const struct bproc_image_threads *h;
	uint64_t off = sizeof(*h);
	uint32_t i;

	h = img_get(img, BPROC_SEC_THREADS, NULL);
	if (!h || n >= h->nr_threads)
		return -1;
	/* checked whole by img_load */
	for (i = 0;; i++) {
		memcpy(t, (const char *)h + off, sizeof(*t));
		off += sizeof(*t);
		if (i == n)
			break;
		off += h->xstate_size +
		       (uint64_t)t->nr_pending *
			       sizeof(struct bproc_image_siginfo);
	}
	if (xstate)
		*xstate = (const char *)h + off;
	if (pending)
		*pending =
			(const void *)((const char *)h + off + h->xstate_size);
	return 0;
}

/*
 * FDS, when there is one: as many entries and targets as it says, and
 * the memfds' sizes those of MEMFD.
 */
static int check_fds(struct img *img, char *err, size_t errlen)
{
	const struct bproc_image_fd *fds;
	const struct bproc_image_epoll_target *t;
	uint32_t nr, nt, i;
	uint64_t memfd = 0, size = 0;

	if (img_fds(img, &fds, &nr, &t, &nt))
		return img_err(err, errlen, "bad FDS section");
	for (i = 0; i < nr; i++)
		if (fds[i].kind == BPROC_FD_MEMFD) {
			if (fds[i].memfd.size > BPROC_IMAGE_MAX_MEMFD)
				return img_err(err, errlen, "bad FDS section");
			memfd += fds[i].memfd.size;
		}
	img_get(img, BPROC_SEC_MEMFD, &size);
	if (memfd != size)
		return img_err(err, errlen, "memfd sizes and MEMFD disagree");
	return 0;
}

static int load(struct img *img, int fd, int partial, char *err, size_t errlen)
{
	struct stat st;
	uint64_t off;
	uint32_t last = 0, rank;
	unsigned int i;
	int r;

	memset(img, 0, sizeof(*img));
	if (!partial && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		img->file_size = (uint64_t)st.st_size;
	r = read_at(fd, &img->hdr, sizeof(img->hdr), 0);
	if (r)
		return img_err(err, errlen,
			       r == -2 ? "truncated header" : "read: %s",
			       strerror(errno));
	if (img->hdr.magic != BPROC_IMAGE_MAGIC)
		return img_err(err, errlen, "not a bproc image (magic %#x)",
			       img->hdr.magic);
	if (img->hdr.version < BPROC_IMAGE_VERSION_MIN ||
	    img->hdr.version > BPROC_IMAGE_VERSION)
		return img_err(err, errlen,
			       "image version %u, this tool reads %u to %u",
			       img->hdr.version, BPROC_IMAGE_VERSION_MIN,
			       BPROC_IMAGE_VERSION);
	if (img->hdr.header_size != sizeof(img->hdr) ||
	    !memchr(img->hdr.release, 0, sizeof(img->hdr.release)))
		return img_err(err, errlen, "bad header");
	if (!img->hdr.nr_sections ||
	    img->hdr.nr_sections > BPROC_IMAGE_MAX_SECTIONS)
		return img_err(err, errlen, "bad section count %u",
			       img->hdr.nr_sections);
	off = sizeof(img->hdr);
	for (i = 0; i < img->hdr.nr_sections; i++) {
		struct bproc_image_section s;
		struct img_section *is = &img->sec[i];

		r = read_at(fd, &s, sizeof(s), off);
		if (r)
			return img_err(err, errlen, "section %u: truncated", i);
		off += sizeof(s);
		/* in type order, but PAGES last (10 to 13 before it) */
		rank = s.type == BPROC_SEC_PAGES ? 100 : s.type;
		if (rank <= last || s.type > BPROC_SEC_EXEFILE ||
		    (s.type == BPROC_SEC_THREADS && img->hdr.version < 2) ||
		    (s.type >= BPROC_SEC_FDS && img->hdr.version < 3) ||
		    (s.type == BPROC_SEC_EXEFILE && img->hdr.version < 4))
			return img_err(err, errlen, "section %u: bad type %u",
				       i, s.type);
		last = rank;
		is->type = s.type;
		is->offset = off;
		is->size = s.size;
		img->nr_sec = i + 1;
		if (s.type == BPROC_SEC_PAGES) {
			if (i != img->hdr.nr_sections - 1)
				return img_err(err, errlen,
					       "PAGES is not the last section");
			if (img->file_size && (s.size > img->file_size ||
					       off > img->file_size - s.size))
				return img_err(
					err, errlen,
					"truncated: page data needs %llu bytes, %llu left",
					(unsigned long long)s.size,
					(unsigned long long)(img->file_size -
							     off));
			break;
		}
		if (s.size > img_section_limit(s.type))
			return img_err(err, errlen,
				       "section %u: size %llu too large", i,
				       (unsigned long long)s.size);
		is->data = malloc(s.size ? s.size : 1);
		if (!is->data)
			return img_err(err, errlen, "out of memory");
		r = read_at(fd, is->data, s.size, off);
		if (r)
			return img_err(err, errlen, "section %u: truncated", i);
		off += s.size;
	}
	if (check_threads(img, err, errlen))
		return -1;
	if (img_find(img, BPROC_SEC_EXEFILE) && !img_exefile(img, NULL, NULL))
		return img_err(err, errlen, "bad EXEFILE section");
	return check_fds(img, err, errlen);
}

const struct bproc_image_taskenv *
img_taskenv(const struct img *img, const uint32_t **groups,
	    const struct bproc_image_file **files)
{
	uint64_t size, gsize;
	const struct bproc_image_taskenv *e =
		img_get(img, BPROC_SEC_TASKENV, &size);

	if (!e || size < sizeof(*e) || e->nr_groups > BPROC_IMAGE_MAX_GROUPS ||
	    e->nr_files > BPROC_IMAGE_MAX_FILES)
		return NULL;
	gsize = ((uint64_t)e->nr_groups * 4 + 7) & ~7ULL;
	if (size !=
	    sizeof(*e) + gsize + (uint64_t)e->nr_files * sizeof(**files))
		return NULL;
	*groups = (const void *)(e + 1);
	*files = (const void *)((const char *)(e + 1) + gsize);
	return e;
}

int img_fds(const struct img *img, const struct bproc_image_fd **fds,
	    uint32_t *nr_fds, const struct bproc_image_epoll_target **targets,
	    uint32_t *nr_targets)
{
	uint64_t size;
	const struct bproc_image_fds *h = img_get(img, BPROC_SEC_FDS, &size);

	*nr_fds = *nr_targets = 0;
	if (!h)
		return 0;
	if (size < sizeof(*h) || h->nr_fds > BPROC_IMAGE_MAX_FDS ||
	    h->nr_targets > BPROC_IMAGE_MAX_TARGETS ||
	    size != sizeof(*h) + h->nr_fds * sizeof(**fds) +
			    h->nr_targets * sizeof(**targets))
		return -1;
	*fds = (const void *)(h + 1);
	*nr_fds = h->nr_fds;
	*targets = (const void *)(*fds + h->nr_fds);
	*nr_targets = h->nr_targets;
	return 0;
}

const void *img_memfd(const struct img *img, uint32_t n)
{
	const struct bproc_image_fd *fds;
	const struct bproc_image_epoll_target *t;
	uint32_t nr, nt, i;
	uint64_t size = 0, off = 0;
	const char *data = img_get(img, BPROC_SEC_MEMFD, &size);

	if (img_fds(img, &fds, &nr, &t, &nt) || n >= nr ||
	    fds[n].kind != BPROC_FD_MEMFD)
		return NULL;
	for (i = 0; i < n; i++)
		if (fds[i].kind == BPROC_FD_MEMFD)
			off += fds[i].memfd.size;
	if (!fds[n].memfd.size)
		return "";
	if (!data || off > size || fds[n].memfd.size > size - off)
		return NULL;
	return data + off;
}

const struct bproc_image_exefile *
img_exefile(const struct img *img, const char **path, const void **content)
{
	uint64_t size;
	const struct bproc_image_exefile *e =
		img_get(img, BPROC_SEC_EXEFILE, &size);
	struct bproc_image_exefile h;
	const char *p;

	if (!e || size < sizeof(h))
		return NULL;
	memcpy(&h, e, sizeof(h));
	p = img_path(img, h.path);
	if (h.size != size - sizeof(h) || !p || p[0] != '/' || !p[1])
		return NULL;
	if (path)
		*path = p;
	if (content)
		*content = (const char *)e + sizeof(h);
	return e;
}

int img_load(struct img *img, int fd, int partial, char *err, size_t errlen)
{
	if (load(img, fd, partial, err, errlen)) {
		img_free(img); /* the sections read before the bad one */
		return -1;
	}
	return 0;
}

const struct img_section *img_find(const struct img *img, uint32_t type)
{
	unsigned int i;

	for (i = 0; i < img->nr_sec; i++)
		if (img->sec[i].type == type)
			return &img->sec[i];
	return NULL;
}

void *img_get(const struct img *img, uint32_t type, uint64_t *size)
{
	const struct img_section *s = img_find(img, type);

	if (!s)
		return NULL;
	if (size)
		*size = s->size;
	return s->data;
}

const char *img_path(const struct img *img, uint32_t off)
{
	uint64_t size;
	const char *p = img_get(img, BPROC_SEC_PATHS, &size);

	if (!p || off >= size || !memchr(p + off, 0, size - off))
		return NULL;
	return p + off;
}

void img_free(struct img *img)
{
	unsigned int i;

	for (i = 0; i < img->nr_sec; i++)
		free(img->sec[i].data);
	memset(img, 0, sizeof(*img));
}
