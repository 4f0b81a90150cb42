/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdso.h - move the calling process's [vvar] and [vdso] to where an image
 * had them, as the engine requires before BPROC_IOC_RESTORE.
 */
#ifndef BPROC_VDSO_H
#define BPROC_VDSO_H

#include <stddef.h>
#include <bproc/image.h>

#define VDSO_IN_THE_WAY 1

/*
 * vdso_place - mremap our vvar and vDSO to the image's addresses, keeping
 * their distance. Returns 0; VDSO_IN_THE_WAY if other mappings of ours
 * occupy the place (nothing moved: re-exec to get another layout); or -1
 * with errno and a reason in @why (the sizes differ: another kernel).
 */
int vdso_place(const struct bproc_image_mm *m, char *why, size_t whylen);

#endif
