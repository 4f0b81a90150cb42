/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdso.h - move a process's [vvar] and [vdso] to where an image had them,
 * as the engine requires before BPROC_IOC_RESTORE (bproc-ckpt restore, in
 * itself) and BPROC_IOC_GHOST_RESTORE (the node agent, in a ghost through
 * BPROC_IOC_GHOST_MREMAP).
 */
#ifndef BPROC_VDSO_H
#define BPROC_VDSO_H

#include <stddef.h>
#include <bproc/image.h>

#define VDSO_IN_THE_WAY 1

/* A mapping of the process, as /proc/PID/maps says. */
struct vdso_range {
	unsigned long start, end;
	char name[16]; /* "[vdso]", "[vvar]", or "" */
};

/* How to act on the process whose vDSO moves. */
struct vdso_ops {
	/* its mappings, at most max, by address: how many, or -1 */
	int (*maps)(void *arg, struct vdso_range *r, int max);
	/* mremap a whole mapping: 0, or -1 with errno */
	int (*move)(void *arg, unsigned long from, unsigned long len,
		    unsigned long to);
	/*
	 * a free place of span bytes not within [lo, hi), for a move in two
	 * steps (the old and new places overlap): its address, or 0
	 */
	unsigned long (*spare)(void *arg, const struct vdso_range *r, int n,
			       unsigned long span, unsigned long lo,
			       unsigned long hi);
};

/*
 * vdso_place_with - move the process's vvar and vDSO to the image's
 * addresses, keeping their distance. Returns 0; VDSO_IN_THE_WAY if other
 * mappings occupy the place (nothing moved); or -1 with errno and a
 * reason in @why (the sizes differ: another kernel).
 */
int vdso_place_with(const struct bproc_image_mm *m, const struct vdso_ops *ops,
		    void *arg, char *why, size_t whylen);

/* vdso_place - the same for the calling process (re-exec if in the way). */
int vdso_place(const struct bproc_image_mm *m, char *why, size_t whylen);

/* vdso_read_maps - the mappings of /proc/PID/maps (pid 0: ourselves). */
int vdso_read_maps(int pid, struct vdso_range *r, int max);

#endif
