/* SPDX-License-Identifier: GPL-2.0 */
/*
 * imgread.h - bounds-checked loading of a bproc image's structure
 * (everything but the page contents), shared by bproc-ckpt and bproc-imgdump.
 */
#ifndef BPROC_IMGREAD_H
#define BPROC_IMGREAD_H

#include <stddef.h>
#include <stdint.h>
#include <bproc/image.h>

struct img_section {
	uint32_t type;
	uint64_t offset; /* of the payload in the file */
	uint64_t size;
	void *data; /* payload, loaded for every section but PAGES */
};

struct img {
	struct bproc_image_header hdr;
	struct img_section sec[BPROC_IMAGE_MAX_SECTIONS];
	unsigned int nr_sec;
	uint64_t file_size; /* 0 if not a regular file */
};

/*
 * img_load - read the header and every section but the page contents from
 * @fd (from offset 0, with pread), checking sizes against the format's
 * limits, and, unless @partial (the page data is elsewhere), that a regular
 * file holds all the page data, and that a THREADS section is whole
 * (every thread's record, FPU state and pending signals within it, nothing
 * left over), that FDS and MEMFD agree, and that EXEFILE is whole. Takes
 * image versions BPROC_IMAGE_VERSION_MIN to
 * BPROC_IMAGE_VERSION. Returns 0, or -1 with a reason in @err
 * (then nothing is left to free).
 */
int img_load(struct img *img, int fd, int partial, char *err, size_t errlen);

/* The loaded payload of section @type, or NULL; its size in @size. */
void *img_get(const struct img *img, uint32_t type, uint64_t *size);
const struct img_section *img_find(const struct img *img, uint32_t type);

/* The path at @off in PATHS, or NULL if @off is not a valid offset. */
const char *img_path(const struct img *img, uint32_t off);

/* The threads of THREADS besides the main thread (0 without one). */
uint32_t img_nr_threads(const struct img *img);

/*
 * Thread @n of THREADS into @t, with pointers to its FPU state and its
 * pending signals (unaligned: copy them out): 0, or -1 if there is none.
 */
int img_thread(const struct img *img, uint32_t n, struct bproc_image_thread *t,
	       const void **xstate, const struct bproc_image_siginfo **pending);

/*
 * img_taskenv - the TASKENV section, its groups and its open files, or
 * NULL if it is missing or its sizes do not add up.
 */
const struct bproc_image_taskenv *
img_taskenv(const struct img *img, const uint32_t **groups,
	    const struct bproc_image_file **files);
/*
 * The entries and epoll targets of FDS (none without one): 0, or -1 if
 * its counts and size disagree.
 */
int img_fds(const struct img *img, const struct bproc_image_fd **fds,
	    uint32_t *nr_fds, const struct bproc_image_epoll_target **targets,
	    uint32_t *nr_targets);

/*
 * EXEFILE, when there is one and it is whole (its size that of the
 * section, its path in PATHS, absolute): its header (unaligned: copy it
 * out), the path in @path and the file's content in @content (either may
 * be NULL); else NULL.
 */
const struct bproc_image_exefile *
img_exefile(const struct img *img, const char **path, const void **content);

/* The largest payload a section of @type may have (not PAGES): 0 if none. */
uint64_t img_section_limit(uint32_t type);

/* The content of FDS entry @n, a memfd (its memfd.size bytes), or NULL. */
const void *img_memfd(const struct img *img, uint32_t n);

void img_free(struct img *img);

#endif
