/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bproc.h - ioctl ABI of the bproc migration engine, /dev/bproc (bproc.ko).
 *
 * The device is usable only with CAP_SYS_ADMIN (checked at open). It has
 * five ioctls (BPROC_IOC_RESTORE_THREAD, below, makes a thread of an image
 * with threads: module 1.6; BPROC_IOC_SPACE, below with its structures, watches a pid
 * namespace: module 1.5), and the handles BPROC_IOC_DUMP returns have their
 * own (a ghost can also fork ghost children and reap them, BPROC_IOC_GHOST_FORK
 * and BPROC_IOC_GHOST_REAP below, and move its vDSO, BPROC_IOC_GHOST_MREMAP:
 * module 1.7; a ghost that keeps the process's threads,
 * BPROC_IOC_GHOST_THREADS: module 1.8; a ghost's restore of kernel
 * objects given in its map, BPROC_GHOST_MAP_CALLER: module 1.9):
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
 *                      it with an exit code (0..255) or a signal, as a
 *                      remote process ended; its parent's wait() sees
 *                      exactly that (no core is dumped for a core-dumping
 *                      signal). Closing the handle of a ghost kills it
 *                      (SIGKILL): it has nothing left to resume. SIGKILL
 *                      sent to a ghost is reported as an event and kills
 *                      it (the reader then gets EOF).
 *
 *                      Job control: a ghost also really stops on SIGSTOP,
 *                      and on SIGTSTP, SIGTTIN and SIGTTOU when the process
 *                      had left them at their default action when it
 *                      became a ghost (unless its process group is
 *                      orphaned, as for any process), so its parent's
 *                      waitpid(WUNTRACED) sees it stopped; SIGCONT
 *                      continues it (WCONTINUED). Both the stop signal and
 *                      SIGCONT are reported as events, in order, for the
 *                      reader to forward. A stopped ghost restores only
 *                      once continued; BPROC_IOC_GHOST_EXIT sends a stopped
 *                      ghost SIGCONT so that it ends.
 *
 *                      BPROC_IOC_GHOST_RESTORE brings the process home into
 *                      its ghost: the ghost itself restores the image read
 *                      from @fd (as BPROC_IOC_RESTORE would) and becomes
 *                      the program again with its pid, its parent, its own
 *                      stdin, stdout and stderr (fds 0-2 as they were when
 *                      it first left) and the image's other open files
 *                      (its fds 3 and up are closed, the image's reopened
 *                      by path at their numbers and offsets, as
 *                      bproc-ckpt does) and umask. Its cwd, rlimits and
 *                      credentials stay the ghost's (those it had when it
 *                      left). A file that cannot be reopened fails the
 *                      restore before anything changes. Signals that
 *                      reach it while it restores stay pending for the
 *                      program. The ioctl returns when the ghost has
 *                      restored (0; the handle then reads EOF and controls
 *                      nothing) or failed: EINVAL and @reason for a bad
 *                      image, the ghost staying a ghost; after the point of
 *                      no return the ghost is killed and the error is
 *                      returned.
 *
 *                      BPROC_IOC_GHOST_RESTORE_MAP is the same with the
 *                      program's descriptors given: fd @map[i].fd becomes
 *                      the ghost's fd @map[i].from (as it is now), for
 *                      fds 0-2 too; the image's other files are reopened
 *                      at their numbers, and every other fd is closed. The
 *                      image's streams (BPROC_DUMP_STREAMS) must each be in
 *                      the map; an image's file at the number of a map
 *                      entry is not reopened, the entry takes its place
 *                      (module 1.4). Without a map, fds 0-2 and the streams
 *                      stay the ghost's own at the same numbers. Module 1.3.
 *                      The image's kernel objects (FDS) must each be in
 *                      the map: see BPROC_DUMP_ANONFDS and
 *                      BPROC_GHOST_MAP_CALLER (module 1.9).
 *
 *                      With BPROC_DUMP_ASYNC, BPROC_IOC_DUMP only arms the
 *                      dump: it returns the handle at once (checks that
 *                      need no dump, e.g. threads, still fail at once).
 *                      The target writes its image at its next return to
 *                      user space, e.g. when the system call it sleeps in
 *                      (a FUSE write answered after arming) returns. The
 *                      handle polls readable (POLLIN) when the image is
 *                      written or the dump failed; BPROC_IOC_DUMP_RESULT
 *                      then gives the outcome (it blocks before that unless
 *                      the handle is O_NONBLOCK: EAGAIN). The target stays
 *                      parked after a failed asynchronous dump too, until
 *                      the handle decides (RESUME, RESUME_RET, KILL; GHOST
 *                      needs a successful dump) or is closed (RESUME).
 *                      A decision taken before the target began its dump
 *                      spares it: the result is then ECANCELED.
 *
 *                      BPROC_IOC_RESUME_RET resumes a target parked in its
 *                      own context on the return from a system call and
 *                      makes that call return @value instead (a count, or
 *                      -errno with errno 1..511: e.g. -EIO so a process
 *                      whose self-move failed sees its write() fail).
 *                      EINVAL if the target was not in a system call (or is
 *                      stopped and was dumped from outside) or is decided;
 *                      EBUSY while the dump is still running.
 *
 *   BPROC_IOC_RESTORE  replace the calling process by the image read from
 *                      @fd: memory map, registers, FPU state and signal
 *                      state become the dumped process's, and the ioctl
 *                      "returns" into the restored program. A bad image
 *                      fails with EINVAL (and @reason) while the caller is
 *                      intact. Files, cwd, umask, rlimits and credentials
 *                      (the BPROC_SEC_TASKENV section) are applied by the
 *                      caller before this ioctl; see bproc-ckpt. An image
 *                      with threads needs the caller's threads waiting in
 *                      BPROC_IOC_RESTORE_THREAD (below). An image with
 *                      kernel objects (BPROC_DUMP_ANONFDS: eventfds,
 *                      timerfds, signalfds, epolls, memfds) needs the caller
 *                      to have made each at its fd (EBADF and @reason
 *                      otherwise); a memfd only mapped is closed once
 *                      mapped (module 1.7).
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
/*
 * the executable (mm's exe file): its mappings by content, and the file
 * itself whole in the image's EXEFILE section (module 1.8, image.h)
 */
#define BPROC_DUMP_EXEC (1U << 1)
#define BPROC_DUMP_OTHER (1U << 2) /* any other private file mapping */
#define BPROC_DUMP_ALL (BPROC_DUMP_LIBS | BPROC_DUMP_EXEC | BPROC_DUMP_OTHER)
/*
 * Pipes, FIFOs, sockets, character devices (terminals, /dev/null...) and
 * deleted regular files open at fds 3 and up go into the image as
 * *streams* (image.h: a file without a path; a character device keeps its
 * path, so that one that is not a stream can be reopened) instead of
 * failing the dump: whoever restores the image provides them, as the node
 * agents do by forwarding them like stdin, stdout and stderr, and decides
 * which of them can move at all. Module 1.3; sockets, deleted files and
 * device paths since 1.4.
 */
#define BPROC_DUMP_STREAMS (1U << 3)
/*
 * A process with several threads is dumped with all of them (not part of
 * the image: its THREADS section says so). Without it such a process is
 * refused (EOPNOTSUPP), as the node agents want. Every thread stops, in a
 * task_work of its own, before anything is read; each records its own
 * state; none runs a user instruction after the image is taken, unless the
 * process is resumed. A process stopped by job control or a tracer is
 * refused (EOPNOTSUPP) while it has threads. Module 1.6.
 */
#define BPROC_DUMP_THREADS (1U << 4)
/*
 * Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, a shared mapping of
 * /dev/zero) goes into the image by content (image.h, BPROC_VMA_SHANON)
 * when no other process maps it and no page of it is mapped twice; without
 * it, or else, the dump is refused (EOPNOTSUPP). Restored, it is shared
 * memory of its own again (a child forked later shares it). Not part of
 * the image. Module 1.6.
 */
#define BPROC_DUMP_SHANON (1U << 5)
/*
 * Kernel objects open at fds 3 and up (0-2 too with BPROC_DUMP_STREAMS)
 * go into the image (image.h, FDS and MEMFD) instead of failing the dump:
 * eventfds (count, EFD_SEMAPHORE), timerfds (clock, flags, time left,
 * interval, expirations not read), signalfds (mask), epolls (each target
 * with its events and data, when the target is a descriptor that moves
 * too: a file of the image or one of these) and memfds (name, size,
 * seals, content; as a descriptor and as MAP_SHARED memory, the memory
 * then being the memfd's). Each must be the process's alone: no other
 * process, and no other descriptor of its own, may hold it (EOPNOTSUPP
 * otherwise). Without it, or for anything else (inotify, fanotify,
 * io_uring, pidfd, userfaultfd...), the dump is refused (EOPNOTSUPP) with
 * a reason that names the fd and what it is ("fd 5 is an inotify
 * instance"). Not part of the image. BPROC_IOC_RESTORE does not make them:
 * whoever restores does, at their fds (bproc-ckpt), and the engine checks
 * that each is there. A ghost's restore takes them from its descriptor
 * map (BPROC_IOC_GHOST_RESTORE_MAP, usually with BPROC_GHOST_MAP_CALLER):
 * every object's fd must be in it, a memfd only mapped at its spare
 * number too (it then gets no fd), or the restore is refused (EBADF, the
 * reason naming the fd) and the ghost stays a ghost; BPROC_IOC_GHOST_RESTORE,
 * without a map, refuses such an image (EINVAL). Module 1.7; a ghost's
 * restore of them, module 1.9.
 */
#define BPROC_DUMP_ANONFDS (1U << 6)
/* Arm the dump and return the handle at once (not part of the image). */
#define BPROC_DUMP_ASYNC (1U << 8)
/*
 * No image: the target is parked exactly as for a dump (the same
 * rendezvous, threads included with BPROC_DUMP_THREADS; the same handle and
 * decisions; BPROC_DUMP_ASYNC and BPROC_IOC_DUMP_RESULT alike), but nothing
 * of it is read and nothing is written: @image_size (and the result's) is
 * 0. @fd may be -1; any other @fd must be open for writing, as for a dump,
 * and is left untouched. For a process another one's image stands for (a
 * copy), which is parked and then becomes a ghost (BPROC_IOC_GHOST) without
 * its memory ever being read. The flags saying what goes into an image
 * (LIBS, EXEC, OTHER, STREAMS, SHANON, ANONFDS) change nothing, and what
 * only an image needs is not checked (its mappings, files, pending
 * signals, program); what the parked process and its ghost need still is:
 * a process with several threads is refused (EOPNOTSUPP) without
 * BPROC_DUMP_THREADS, one whose threads cannot park (stopped, io_uring)
 * with it, and one not running 64-bit code (EOPNOTSUPP: a ghost runs
 * x86-64 stubs). Module 1.10.
 */
#define BPROC_DUMP_NOIMAGE (1U << 9)

struct bproc_dump_args {
	__s32 pid; /* in: the target, in the caller's pid namespace */
	__s32 fd; /* in: image output, open for writing; NOIMAGE: may be -1 */
	__u32 flags; /* in: BPROC_DUMP_* */
	__s32 handle_fd; /* out: decides the parked target's fate (O_CLOEXEC) */
	__u64 image_size; /* out: bytes written */
	char reason[BPROC_REASON_LEN]; /* out: why it failed, NUL-terminated */
};

/* Close @fd and @dev_fd once the point of no return is passed. */
#define BPROC_RESTORE_CLOSE_FDS (1U << 0)
/*
 * Write one byte (0x01) to @notify_fd, then close it, once the restore has
 * completely succeeded, just before the restored program runs: whoever holds
 * the other end of a pipe learns "restored" exactly (EOF without that byte
 * means the restore failed, or the restorer died). Module 1.2.
 */
#define BPROC_RESTORE_NOTIFY (1U << 1)

struct bproc_restore_args {
	__s32 fd; /* in: the image, read from its current position */
	__s32 dev_fd; /* in: the caller's /dev/bproc descriptor, or -1 */
	__u32 flags; /* in: BPROC_RESTORE_* */
	__s32 notify_fd; /* in: with BPROC_RESTORE_NOTIFY, else must be 0 */
	char reason[BPROC_REASON_LEN]; /* out: why it failed */
};

#define BPROC_IOC_BASE 0xB5

#define BPROC_IOC_VERSION _IOR(BPROC_IOC_BASE, 0, struct bproc_version)
#define BPROC_IOC_DUMP _IOWR(BPROC_IOC_BASE, 1, struct bproc_dump_args)
#define BPROC_IOC_RESTORE _IOWR(BPROC_IOC_BASE, 2, struct bproc_restore_args)
/*
 * BPROC_IOC_RESTORE_THREAD: the calling thread (not the main thread) waits
 * to become a thread of the image that its main thread restores with
 * BPROC_IOC_RESTORE: the image's thread of the same tid. So a restorer
 * creates, before BPROC_IOC_RESTORE, one thread per thread of the image's
 * THREADS section, with its tid (clone3 set_tid), each of which makes
 * this call (and touches no user memory after: the restore replaces it).
 * BPROC_IOC_RESTORE then requires exactly these threads, waiting in this
 * call (EBUSY otherwise, or EINVAL if a tid is not the image's), and takes
 * the restorer's credentials into each. On success the call "returns"
 * into the restored thread; ECANCELED if the restore failed before its
 * point of no return (the thread should exit), EINTR if the thread was
 * killed first. Module 1.6.
 */
#define BPROC_IOC_RESTORE_THREAD _IO(BPROC_IOC_BASE, 4)

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

/* The outcome of a dump, from its handle. */
struct bproc_dump_result {
	__s32 error; /* out: 0, or the errno of the failed dump */
	__u32 pad;
	__u64 image_size; /* out: bytes written */
	char reason[BPROC_REASON_LEN]; /* out: why it failed */
};

#define BPROC_IOC_DUMP_RESULT _IOR(BPROC_IOC_BASE, 20, struct bproc_dump_result)

struct bproc_resume_ret {
	__s64 value; /* in: the system call's result: >= 0, or -1..-511 */
};

#define BPROC_IOC_RESUME_RET _IOW(BPROC_IOC_BASE, 21, struct bproc_resume_ret)

struct bproc_ghost_restore {
	__s32 fd; /* in: the image, read from its current position */
	__u32 flags; /* in: none yet, 0 */
	char reason[BPROC_REASON_LEN]; /* out: why it failed */
};

#define BPROC_IOC_GHOST_RESTORE \
	_IOWR(BPROC_IOC_BASE, 22, struct bproc_ghost_restore)

/* Most entries of a descriptor map. */
#define BPROC_FD_MAP_MAX 1024

struct bproc_fd_map {
	__s32 fd; /* the restored program's descriptor */
	__s32 from; /* the ghost's descriptor that it is */
};

/*
 * bproc_ghost_restore_map.flags: every @map[i].from is the caller's own
 * descriptor, not the ghost's, taken when the ioctl is made (EBADF if one
 * is not open). How the holder gives the process its kernel objects
 * (BPROC_DUMP_ANONFDS), which it made at their numbers with their state,
 * and the ghost's streams it took (pidfd_getfd). Module 1.9.
 */
#define BPROC_GHOST_MAP_CALLER (1U << 0)

struct bproc_ghost_restore_map {
	__s32 fd; /* in: the image, read from its current position */
	__u32 flags; /* in: BPROC_GHOST_MAP_CALLER, or 0 */
	__u64 map; /* in: struct bproc_fd_map[nr_map], by increasing fd */
	__u32 nr_map; /* in: at most BPROC_FD_MAP_MAX */
	__u32 pad; /* in: 0 */
	char reason[BPROC_REASON_LEN]; /* out: why it failed */
};

#define BPROC_IOC_GHOST_RESTORE_MAP \
	_IOWR(BPROC_IOC_BASE, 23, struct bproc_ghost_restore_map)

/*
 * BPROC_IOC_GHOST_FORK: the ghost forks a child that is a ghost too, with
 * pid @pid in the ghost's pid namespace (clone3 set_tid, which the module
 * lets the ghost do), so that it has the ghost's parentage, process group,
 * session, terminal and open files: a process that one running elsewhere
 * forked has its place in this host's process tree. The child's handle
 * comes back in @handle_fd; it is a ghost like any other (events, EXIT,
 * RESTORE). EEXIST: the pid is taken here. Module 1.5.
 */
struct bproc_ghost_fork {
	__s32 pid; /* in: the child's pid */
	__u32 flags; /* in: none yet, 0 */
	__s32 handle_fd; /* out: the child ghost's handle (O_CLOEXEC) */
	__s32 lpid; /* out: the child's pid in the caller's namespace */
};

#define BPROC_IOC_GHOST_FORK _IOWR(BPROC_IOC_BASE, 24, struct bproc_ghost_fork)

/*
 * BPROC_IOC_GHOST_REAP: the ghost reaps its child @pid, a zombie (a ghost
 * child that has ended, say): 0, or ECHILD if it is no child of the ghost,
 * EAGAIN if it has not ended yet. Module 1.5.
 */
struct bproc_ghost_reap {
	__s32 pid; /* in, in the ghost's pid namespace */
	__u32 pad; /* in: 0 */
};

#define BPROC_IOC_GHOST_REAP _IOW(BPROC_IOC_BASE, 25, struct bproc_ghost_reap)

/*
 * BPROC_IOC_GHOST_NAME: the ghost takes the name of the process it stands
 * for, as the process has it where it runs (it may have executed another
 * program there): @comm becomes its comm at once, @args (@args_len bytes,
 * each argument NUL-terminated, as /proc/PID/cmdline reads) its command
 * line once it is in its task_work (at once unless it is stopped), so that
 * ps, pgrep and pkill on this host see the process by its name. A ghost
 * keeps the command line it had when it became one (a forked ghost its
 * parent's) until told otherwise. Module 1.6.
 */
#define BPROC_GHOST_ARGS_MAX 4096

struct bproc_ghost_name {
	char comm[16]; /* in: NUL-terminated */
	__u64 args; /* in: the command line */
	__u32 args_len; /* in: at most BPROC_GHOST_ARGS_MAX */
	__u32 flags; /* in: none yet, 0 */
};

#define BPROC_IOC_GHOST_NAME _IOW(BPROC_IOC_BASE, 26, struct bproc_ghost_name)

/*
 * BPROC_IOC_GHOST_CLOSE: the ghost closes its descriptors @fds (@nr_fds of
 * them, an array of __s32), in its task_work (at once unless it is
 * stopped): where the process runs nothing holds that stream any more, so
 * the ghost must not hold it here either (a reader waiting for the end of
 * a pipe gets it, as it would with no move). A descriptor it does not have
 * is no error. The ioctl returns once the request is queued. EBUSY: more
 * than BPROC_GHOST_CLOSE_MAX wait. Module 1.6.
 */
#define BPROC_GHOST_CLOSE_MAX 64

struct bproc_ghost_close {
	__u64 fds; /* in: __s32[nr_fds] */
	__u32 nr_fds; /* in: at most BPROC_GHOST_CLOSE_MAX */
	__u32 flags; /* in: none yet, 0 */
};

#define BPROC_IOC_GHOST_CLOSE _IOW(BPROC_IOC_BASE, 27, struct bproc_ghost_close)

/*
 * BPROC_IOC_GHOST_MREMAP: the ghost moves one of its special mappings (its
 * [vdso] or [vvar], the whole of it: @from and @len) to @to, with mremap(2)
 * made by the ghost itself (as GHOST_FORK's clone3()). A process that
 * executed a program where it ran has its vDSO elsewhere than the ghost it
 * comes home into, and GHOST_RESTORE requires the image's place: the
 * holder moves the ghost's vvar and vDSO there first. EINVAL: not a whole
 * special mapping, or a bad address; EADDRINUSE: the place is the call's
 * own page; else mremap's error. Module 1.7.
 */
struct bproc_ghost_mremap {
	__u64 from, len, to; /* in: page-aligned */
};

#define BPROC_IOC_GHOST_MREMAP \
	_IOW(BPROC_IOC_BASE, 28, struct bproc_ghost_mremap)

/*
 * BPROC_IOC_GHOST_THREAD: the ghost makes a thread of its own with thread id
 * @tid (clone3() made by the ghost itself, as GHOST_FORK's), which waits,
 * before it runs an instruction, to become that thread of the image the
 * ghost restores next (as a thread in BPROC_IOC_RESTORE_THREAD does): a
 * process with threads comes home into its ghost, which has one, once the
 * holder has made one for each of the image's other threads. If the
 * restore fails, they end. EEXIST: the tid is taken. Module 1.7.
 */
struct bproc_ghost_thread {
	__s32 tid; /* in: in the ghost's pid namespace */
	__u32 flags; /* in: BPROC_GHOST_THREAD_* or 0 */
};

/*
 * For a ghost that keeps its threads (BPROC_IOC_GHOST_THREADS, module
 * 1.8): BPROC_GHOST_THREAD_NOW makes a ghost thread of @tid now (a thread
 * the process made where it runs), which holds its tid and reports its
 * signals as the others; nothing if the ghost has a thread of that tid
 * already. BPROC_GHOST_THREAD_END ends the ghost thread of @tid (a thread
 * that ended where the process runs); ESRCH if there is none. EINVAL for
 * another ghost.
 */
#define BPROC_GHOST_THREAD_NOW (1U << 0)
#define BPROC_GHOST_THREAD_END (1U << 1)

#define BPROC_IOC_GHOST_THREAD \
	_IOW(BPROC_IOC_BASE, 29, struct bproc_ghost_thread)

/*
 * BPROC_IOC_GHOST_PGRP: the ghost calls setpgid(0, @pgid), or setsid() with
 * BPROC_GHOST_SETSID (pgid: its own pid), as the process it stands for
 * did where it runs, so that the process group and session it has here
 * are the process's: kill -- -PGID and the terminal reach it as they
 * would. setpgid's and setsid's errors (EPERM: no such group in its
 * session). Module 1.7.
 */
#define BPROC_GHOST_SETSID (1U << 0)

struct bproc_ghost_pgrp {
	__s32 pgid; /* in */
	__u32 flags; /* in: BPROC_GHOST_SETSID or 0 */
};

#define BPROC_IOC_GHOST_PGRP _IOW(BPROC_IOC_BASE, 30, struct bproc_ghost_pgrp)

/*
 * BPROC_IOC_SPACE (on /dev/bproc): watch the pid namespace of process @pid
 * (0: the caller's own). With BPROC_SPACE_EVENTS the returned descriptor
 * reads struct bproc_space_event records (poll(2) says when): every fork,
 * every process's end with its wait status, every reaping there. With
 * @pid_hi, new pids in that namespace stay in [@pid_lo, @pid_hi): a node's
 * processes get pids no other host hands out, the front end keeps its own
 * below the nodes'. One watcher per namespace (EBUSY); closing the
 * descriptor ends it. Module 1.5.
 */
#define BPROC_SPACE_EVENTS (1U << 0)
/* and an EXEC event when a process there executes a program (module 1.6) */
#define BPROC_SPACE_EXECS (1U << 1)
/*
 * and a TEXIT event when one thread of a process there ends alone (it
 * exits, or another executes a program), not with its process (module 1.8)
 */
#define BPROC_SPACE_THREADS (1U << 2)

struct bproc_space_args {
	__s32 pid; /* in */
	__u32 flags; /* in: BPROC_SPACE_* */
	__u32 pid_lo, pid_hi; /* in: 0, 0 for no range */
	__s32 fd; /* out (O_CLOEXEC) */
	__u32 pad; /* in: 0 */
};

#define BPROC_IOC_SPACE _IOWR(BPROC_IOC_BASE, 3, struct bproc_space_args)

enum bproc_space_event_type {
	BPROC_SPACE_FORK = 1, /* pid is new (a thread of tgid if they differ) */
	BPROC_SPACE_EXIT = 2, /* process pid ended: status */
	BPROC_SPACE_REAPED = 3, /* process pid is reaped: it is gone */
	BPROC_SPACE_LOST = 4, /* events were lost: look for yourself */
	BPROC_SPACE_EXEC = 5, /* process pid executed a program */
	BPROC_SPACE_TEXIT = 6, /* thread pid of process tgid ended alone */
};

struct bproc_space_event {
	__u32 type; /* enum bproc_space_event_type */
	__s32 pid; /* in the namespace */
	__s32 tgid; /* its process */
	__s32 ppid; /* FORK: its parent there, 0 if outside it */
	__s32 lpid; /* pid in the reader's namespace */
	__u32 status; /* EXIT: as wait(2) */
};

/* A signal the ghost received, read from the handle. */
struct bproc_ghost_event {
	__u32 signo;
	__s32 code; /* si_code */
	__s32 pid; /* sender, in the ghost's pid namespace (0: the kernel) */
	__u32 uid; /* sender's real uid */
};

/*
 * BPROC_IOC_GHOST_THREADS: as BPROC_IOC_GHOST, but the process's other
 * threads stay too, each a *ghost thread* that keeps its tid (a process
 * of 9 threads that moved has 9 on the front end, /proc/PID/task lists
 * them): a signal sent to one of them alone (tgkill(2), or a timer's) is
 * taken off its queue and reported with its tid, and the handle's read(2)
 * returns struct bproc_ghost_tevent records, whose @tid is the thread a
 * signal was sent to alone (the main thread's: the pid), 0 for one sent
 * to the process. A ghost thread leaves the stop signals to the main
 * thread and takes part in its stops as a thread of a stopped process
 * does. BPROC_IOC_GHOST_THREAD with the tid of a ghost thread makes no
 * new thread: that one becomes the image's thread of that tid at the next
 * BPROC_IOC_GHOST_RESTORE (and stays a ghost thread if the restore
 * fails); the ghost threads not asked for end first (a thread the process
 * ended where it ran). A ghost that ends ends its ghost threads first.
 * A ghost child of such a ghost (BPROC_IOC_GHOST_FORK) keeps its threads
 * too, its events telling tids. Module 1.8.
 */
struct bproc_ghost_tevent {
	struct bproc_ghost_event ev;
	__s32 tid; /* in the ghost's pid namespace; 0: sent to the process */
	__u32 pad;
};

#define BPROC_IOC_GHOST_THREADS _IO(BPROC_IOC_BASE, 31)

_Static_assert(sizeof(struct bproc_version) == 16, "bproc_version ABI");
_Static_assert(sizeof(struct bproc_dump_args) == 24 + BPROC_REASON_LEN,
	       "bproc_dump_args ABI");
_Static_assert(sizeof(struct bproc_restore_args) == 16 + BPROC_REASON_LEN,
	       "bproc_restore_args ABI");
_Static_assert(sizeof(struct bproc_ghost_exit) == 8, "bproc_ghost_exit ABI");
_Static_assert(sizeof(struct bproc_ghost_event) == 16, "bproc_ghost_event ABI");
_Static_assert(sizeof(struct bproc_ghost_tevent) == 24,
	       "bproc_ghost_tevent ABI");
_Static_assert(sizeof(struct bproc_dump_result) == 16 + BPROC_REASON_LEN,
	       "bproc_dump_result ABI");
_Static_assert(sizeof(struct bproc_resume_ret) == 8, "bproc_resume_ret ABI");
_Static_assert(sizeof(struct bproc_ghost_restore) == 8 + BPROC_REASON_LEN,
	       "bproc_ghost_restore ABI");
_Static_assert(sizeof(struct bproc_fd_map) == 8, "bproc_fd_map ABI");
_Static_assert(sizeof(struct bproc_ghost_restore_map) == 24 + BPROC_REASON_LEN,
	       "bproc_ghost_restore_map ABI");
_Static_assert(sizeof(struct bproc_ghost_fork) == 16, "bproc_ghost_fork ABI");
_Static_assert(sizeof(struct bproc_ghost_reap) == 8, "bproc_ghost_reap ABI");
_Static_assert(sizeof(struct bproc_ghost_name) == 32, "bproc_ghost_name ABI");
_Static_assert(sizeof(struct bproc_ghost_close) == 16, "bproc_ghost_close ABI");
_Static_assert(sizeof(struct bproc_space_args) == 24, "bproc_space_args ABI");
_Static_assert(sizeof(struct bproc_space_event) == 24, "bproc_space_event ABI");

#endif /* _UAPI_BPROC_BPROC_H */
