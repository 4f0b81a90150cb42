/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bproc.h - ioctl ABI of the bproc migration engine, /dev/bproc (bproc.ko).
 *
 * The device is usable only with CAP_SYS_ADMIN (checked at open). It has
 * three ioctls:
 *
 *   BPROC_IOC_VERSION  report the ABI and image versions of the module.
 *
 *   BPROC_IOC_DUMP     make process @pid write its image (see image.h) to
 *                      the caller's file descriptor @fd. The target writes
 *                      it itself, from a task_work at its next return to
 *                      user space (running, sleeping in a system call, which
 *                      is interrupted as by a signal, or stopped: then the
 *                      caller writes it on the target's behalf). The ioctl
 *                      returns when the image is written. On failure the
 *                      target goes on unchanged, errno says why and @reason
 *                      says it in words (EOPNOTSUPP: threads, a mapping or a
 *                      file that cannot move). On success the target is
 *                      *parked*: it sleeps in the kernel, unchanged, until
 *                      the caller decides through @handle_fd, a new file
 *                      descriptor: BPROC_IOC_RESUME lets it continue where it
 *                      was, BPROC_IOC_KILL ends it with SIGKILL. Closing the
 *                      handle without deciding resumes it: a process is
 *                      never lost.
 *
 *                      BPROC_IOC_GHOST instead makes it a *ghost*: it keeps
 *                      its pid, releases its memory, and every signal it
 *                      receives is taken off its queue and reported to the
 *                      handle's reader (read(2) returns struct
 *                      bproc_ghost_event records; poll(2) says when; EOF
 *                      once the ghost is gone). BPROC_IOC_GHOST_EXIT ends
 *                      it with an exit code or a signal, as a remote
 *                      process ended. Closing the handle of a ghost kills
 *                      it (SIGKILL): it has nothing left to resume.
 *
 *   BPROC_IOC_RESTORE  replace the calling process by the image read from
 *                      @fd: memory map, registers, FPU state and signal
 *                      state become the dumped process's, and the ioctl
 *                      "returns" into the restored program. A bad image
 *                      fails with EINVAL (and @reason) while the caller is
 *                      intact. Files, cwd, umask, rlimits and credentials
 *                      (the BPROC_SEC_TASKENV section) are applied by the
 *                      caller before this ioctl; see bproc-ckpt.
 *
 * All structures have fixed-width fields and explicit padding; pointers are
 * passed as __u64. Padding and reserved fields must be zero.
 */
#ifndef _UAPI_BPROC_BPROC_H
#define _UAPI_BPROC_BPROC_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BPROC_DEVICE "/dev/bproc"

/* Version of this ABI; bumped on any incompatible change. */
#define BPROC_ABI_VERSION 1

#define BPROC_REASON_LEN 128

struct bproc_version {
	__u32 abi_version; /* out: BPROC_ABI_VERSION */
	__u32 image_version; /* out: BPROC_IMAGE_VERSION (image.h) */
	__u32 page_size; /* out */
	__u32 pad;
};

/* What goes into the image by content rather than by reference. */
#define BPROC_DUMP_LIBS \
	(1U << 0) /* shared libraries (files mapped executable) */
#define BPROC_DUMP_EXEC (1U << 1) /* the executable (mm's exe file) */
#define BPROC_DUMP_OTHER (1U << 2) /* any other private file mapping */
#define BPROC_DUMP_ALL (BPROC_DUMP_LIBS | BPROC_DUMP_EXEC | BPROC_DUMP_OTHER)

struct bproc_dump_args {
	__s32 pid; /* in: the target, in the caller's pid namespace */
	__s32 fd; /* in: where to write the image (opened for writing) */
	__u32 flags; /* in: BPROC_DUMP_* */
	__s32 handle_fd; /* out: decides the parked target's fate (O_CLOEXEC) */
	__u64 image_size; /* out: bytes written */
	char reason[BPROC_REASON_LEN]; /* out: why it failed, NUL-terminated */
};

/* Close @fd and @dev_fd once the point of no return is passed. */
#define BPROC_RESTORE_CLOSE_FDS (1U << 0)

struct bproc_restore_args {
	__s32 fd; /* in: the image, read from its current position */
	__s32 dev_fd; /* in: the caller's /dev/bproc descriptor, or -1 */
	__u32 flags; /* in: BPROC_RESTORE_* */
	__u32 pad;
	char reason[BPROC_REASON_LEN]; /* out: why it failed */
};

#define BPROC_IOC_BASE 0xB5

#define BPROC_IOC_VERSION _IOR(BPROC_IOC_BASE, 0, struct bproc_version)
#define BPROC_IOC_DUMP _IOWR(BPROC_IOC_BASE, 1, struct bproc_dump_args)
#define BPROC_IOC_RESTORE _IOWR(BPROC_IOC_BASE, 2, struct bproc_restore_args)

/* On the handle returned by BPROC_IOC_DUMP. */
#define BPROC_IOC_RESUME _IO(BPROC_IOC_BASE, 16)
#define BPROC_IOC_KILL _IO(BPROC_IOC_BASE, 17)
#define BPROC_IOC_GHOST _IO(BPROC_IOC_BASE, 18)

#define BPROC_GHOST_EXIT_CODE 1 /* exit_group(value), value 0..255 */
#define BPROC_GHOST_EXIT_SIGNAL 2 /* die of signal value (default action) */

struct bproc_ghost_exit {
	__u32 how; /* BPROC_GHOST_EXIT_* */
	__s32 value;
};

#define BPROC_IOC_GHOST_EXIT _IOW(BPROC_IOC_BASE, 19, struct bproc_ghost_exit)

/* A signal the ghost received, read from the handle. */
struct bproc_ghost_event {
	__u32 signo;
	__s32 code; /* si_code */
	__s32 pid; /* sender, in the ghost's pid namespace (0: the kernel) */
	__u32 uid; /* sender's real uid */
};

_Static_assert(sizeof(struct bproc_version) == 16, "bproc_version ABI");
_Static_assert(sizeof(struct bproc_dump_args) == 24 + BPROC_REASON_LEN,
	       "bproc_dump_args ABI");
_Static_assert(sizeof(struct bproc_restore_args) == 16 + BPROC_REASON_LEN,
	       "bproc_restore_args ABI");
_Static_assert(sizeof(struct bproc_ghost_exit) == 8, "bproc_ghost_exit ABI");
_Static_assert(sizeof(struct bproc_ghost_event) == 16, "bproc_ghost_event ABI");

#endif /* _UAPI_BPROC_BPROC_H */
