/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fuzz targets share: a private scratch directory, the check that
 * stops a run on a broken invariant, and the payload of a frame queued on a
 * connection (to decode what an encoder wrote).
 *
 * Each target is a libFuzzer entry point (LLVMFuzzerTestOneInput) over the
 * real parser, linked from the sources the daemons and tools are built from.
 */
#ifndef BPROC_FUZZ_H
#define BPROC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken invariant is a crash: libFuzzer saves the input. */
#define fuzz_assert(cond)                                                \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", \
				__FILE__, __LINE__, #cond);              \
			abort();                                         \
		}                                                        \
	} while (0)

/*
 * fuzz_scratch_dir - a directory of this process's own, made once under
 * $TMPDIR (or /dev/shm, or /tmp) and removed with what is in it at exit.
 */
const char *fuzz_scratch_dir(void);

/* fuzz_write_file - make dir/name hold exactly data, with mode. */
void fuzz_write_file(const char *dir, const char *name, const void *data,
		     size_t size, unsigned int mode);

#endif /* BPROC_FUZZ_H */
