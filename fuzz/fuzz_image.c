// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_image - the user-space image parser: img_load (ckpt/imgread.c), the
 * structure every bproc-ckpt restore reads first, and bproc-imgdump, the
 * decoder that prints every section (its main, built in as
 * bproc_imgdump_main).
 *
 * The input is an image file.  It is loaded both ways bproc-ckpt does, as a
 * whole regular file and as the structure of a streamed image (the page
 * data elsewhere), then given to bproc-imgdump.  Invariants: a loaded image
 * has increasing section types, PAGES last, every other section's payload
 * read and within the file, every thread of THREADS (its record, FPU state
 * and pending signals) within that section, every entry and epoll target
 * of FDS within it and every memfd's content within MEMFD, the program's
 * file of EXEFILE whole within that section and its path in PATHS, and
 * img_path never hands out a string that is not NUL-terminated inside PATHS;
 * bproc-imgdump exits 0 or 1.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../ckpt/imgread.h"
#include "fuzz.h"

int bproc_imgdump_main(int argc, char **argv);

static int memfd = -1;
static char memfd_path[64];

/* Every thread of THREADS lies whole inside the section. */
static void check_threads(const struct img *img)
{
	const struct bproc_image_threads *h;
	const struct bproc_image_siginfo *pending;
	struct bproc_image_thread t;
	const char *base;
	const void *xstate;
	uint64_t size;
	uint32_t i, n = img_nr_threads(img);

	h = img_get(img, BPROC_SEC_THREADS, &size);
	fuzz_assert(!n == !h);
	if (!h)
		return;
	fuzz_assert(img->hdr.version >= 2 && n <= BPROC_IMAGE_MAX_THREADS);
	base = (const char *)h;
	for (i = 0; i < n; i++) {
		fuzz_assert(img_thread(img, i, &t, &xstate, &pending) == 0);
		fuzz_assert((const char *)xstate >= base + sizeof(*h) &&
			    (const char *)pending >= (const char *)xstate);
		fuzz_assert((uint64_t)((const char *)pending - base) +
				    (uint64_t)t.nr_pending * sizeof(*pending) <=
			    size);
	}
	fuzz_assert(img_thread(img, n, &t, NULL, NULL) == -1);
}

/* FDS's entries and targets lie in it, each memfd's content in MEMFD. */
static void check_fds(const struct img *img)
{
	const struct bproc_image_fd *f;
	const struct bproc_image_epoll_target *t;
	uint64_t size = 0, msize = 0;
	const char *h = img_get(img, BPROC_SEC_FDS, &size);
	const char *m = img_get(img, BPROC_SEC_MEMFD, &msize);
	uint32_t nr, nt, i;

	fuzz_assert(img_fds(img, &f, &nr, &t, &nt) == 0);
	fuzz_assert(h || !nr);
	if (!h)
		return;
	fuzz_assert(img->hdr.version >= 3);
	fuzz_assert((const char *)(t + nt) <= h + size);
	for (i = 0; i < nr; i++) {
		const char *c = img_memfd(img, i);

		if (f[i].kind != BPROC_FD_MEMFD) {
			fuzz_assert(!c);
			continue;
		}
		fuzz_assert(c);
		if (f[i].memfd.size)
			fuzz_assert(m && c >= m &&
				    f[i].memfd.size <=
					    msize - (uint64_t)(c - m));
	}
	fuzz_assert(!img_memfd(img, nr));
}

/* EXEFILE: its content fills the rest of the section, its path in PATHS. */
static void check_exefile(const struct img *img)
{
	const struct bproc_image_exefile *e;
	struct bproc_image_exefile h;
	const void *content;
	const char *path;
	uint64_t size;

	e = img_get(img, BPROC_SEC_EXEFILE, &size);
	if (!e)
		return;
	fuzz_assert(img->hdr.version >= 4);
	fuzz_assert(img_exefile(img, &path, &content) == e);
	memcpy(&h, e, sizeof(h));
	fuzz_assert(size == sizeof(h) + h.size);
	fuzz_assert((const char *)content == (const char *)e + sizeof(h));
	fuzz_assert(path == img_path(img, h.path) && path[0] == '/');
}

static void check_loaded(const struct img *img, uint64_t size, int partial)
{
	uint64_t psize;
	const char *paths;
	unsigned int i;

	fuzz_assert(img->nr_sec >= 1 && img->nr_sec <= img->hdr.nr_sections);
	for (i = 0; i < img->nr_sec; i++) {
		const struct img_section *s = &img->sec[i];

		/* by type, but PAGES (9) last, after THREADS (10) */
		fuzz_assert(i == 0 || s->type == BPROC_SEC_PAGES ||
			    s->type > img->sec[i - 1].type);
		fuzz_assert(img_find(img, s->type) == s);
		if (s->type == BPROC_SEC_PAGES) {
			fuzz_assert(i == img->nr_sec - 1);
			fuzz_assert(!s->data);
			if (!partial)
				fuzz_assert(s->offset <= size &&
					    s->size <= size - s->offset);
			continue;
		}
		fuzz_assert(s->data);
		fuzz_assert(s->offset <= size && s->size <= size - s->offset);
	}
	paths = img_get(img, BPROC_SEC_PATHS, &psize);
	for (i = 0; paths && i < 64 && i <= psize; i++) {
		uint32_t off = i ? (uint32_t)(psize - i) : 0;
		const char *p = img_path(img, off);

		if (p)
			fuzz_assert(p >= paths && p < paths + psize &&
				    memchr(p, 0, psize - (size_t)(p - paths)));
	}
	fuzz_assert(!img_path(img, (uint32_t)psize));
	check_threads(img);
	check_fds(img);
	check_exefile(img);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)argc, (void)argv;
	/* bproc-imgdump prints every section: not to the terminal */
	fuzz_assert(null >= 0 && dup2(null, 1) == 1);
	close(null);
	memfd = memfd_create("fuzz-image", MFD_CLOEXEC);
	fuzz_assert(memfd >= 0);
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], prog[] = "bproc-imgdump";
	char *argv[] = { prog, memfd_path, NULL };
	struct img img;
	int partial, ret;

	fuzz_assert(ftruncate(memfd, 0) == 0);
	fuzz_assert(pwrite(memfd, data, size, 0) == (ssize_t)size);
	for (partial = 0; partial <= 1; partial++) {
		err[0] = '\0';
		if (img_load(&img, memfd, partial, err, sizeof(err)) == 0) {
			check_loaded(&img, size, partial);
			img_free(&img);
		} else {
			fuzz_assert(err[0]);
			fuzz_assert(img.nr_sec == 0); /* nothing left to free */
		}
	}
	ret = bproc_imgdump_main(2, argv);
	fuzz_assert(ret == 0 || ret == 1);
	fflush(stdout);
	return 0;
}
