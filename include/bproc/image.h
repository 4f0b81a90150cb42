/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * image.h - the bproc process image format (VMADump successor).
 *
 * An image is a header followed by length-prefixed sections:
 *
 *   struct bproc_image_header            magic, version, arch, release, page size
 *   { struct bproc_image_section; payload } * nr_sections
 *
 * All integers are little-endian (the only architecture is x86-64). Sections
 * appear in the order of their type numbers, each at most once, except that
 * PAGES is always last (THREADS, FDS, MEMFD and EXEFILE, types 10 to 13,
 * come before it), so every piece
 * of structure can be read and checked before the first byte of memory is
 * touched. The page map (PAGEMAP) is kept apart from the
 * page contents (PAGES): PAGES holds, back to back, the contents of the pages
 * named by the page-map runs, in run order. Pages that are absent or all
 * zero are in no run (they read back as zero).
 *
 *   type      payload                              required
 *   CORE      struct bproc_image_core              yes
 *   XSTATE    FPU/SSE/AVX state, user XSAVE layout  yes
 *             (or 512-byte FXSAVE layout)
 *   SIGNALS   struct bproc_image_signals, then      yes
 *             nr_pending struct bproc_image_siginfo
 *   MM        struct bproc_image_mm                 yes
 *   VMAS      struct bproc_image_vma[]              yes (sorted, disjoint)
 *   PATHS     NUL-terminated strings, referenced    if any vma/file has a path
 *             by byte offset
 *   TASKENV   struct bproc_image_taskenv, groups,   yes
 *             then struct bproc_image_file[]
 *   PAGEMAP   struct bproc_image_pagemap[]          yes (may be empty)
 *   THREADS   struct bproc_image_threads, then      if the process has more
 *             per thread struct bproc_image_thread, than one thread
 *             its XSTATE, its pending signals       (version 2)
 *   FDS       struct bproc_image_fds, then          if it has kernel objects
 *             struct bproc_image_fd[nr_fds],        open (version 3)
 *             struct bproc_image_epoll_target[]
 *   MEMFD     the memfds' contents, in FDS order    if a memfd holds data
 *                                                   (version 3)
 *   EXEFILE   struct bproc_image_exefile, then      if the program went
 *             the program's file, whole             whole (version 4)
 *   PAGES     page contents                         yes, last
 *
 * CORE, XSTATE and SIGNALS are the main thread's (the thread group leader,
 * whose tid is the pid); THREADS holds every other thread, by increasing
 * tid. Version 2 (module 1.6) added THREADS and the shared flag of a
 * pending signal; a version 1 image is a version 2 image without them, and
 * readers take both. Version 3 (module 1.7) added FDS, MEMFD and
 * BPROC_VMA_MEMFD; an older image is a version 3 image without them, and
 * an image without them is written as version 2, which older engines read.
 * Version 4 (module 1.8) added EXEFILE; an image without it is written as
 * version 3 or 2 as above, so that an engine of module 1.7 takes it.
 *
 * Limits a reader enforces (anything larger is a corrupt image): see the
 * BPROC_IMAGE_MAX_* constants. ckpt/bproc-imgdump prints an image.
 */
#ifndef _UAPI_BPROC_IMAGE_H
#define _UAPI_BPROC_IMAGE_H

#include <linux/types.h>

#define BPROC_IMAGE_MAGIC 0x43525042U /* "BPRC" */
#define BPROC_IMAGE_VERSION 4
#define BPROC_IMAGE_VERSION_MIN 1 /* the oldest version readers take */
#define BPROC_ARCH_X86_64 62 /* EM_X86_64 */

#define BPROC_IMAGE_MAX_SECTIONS 16
#define BPROC_IMAGE_MAX_VMAS 65536
#define BPROC_IMAGE_MAX_RUNS (1U << 20)
#define BPROC_IMAGE_MAX_PATHS (4U << 20) /* bytes of the PATHS section */
#define BPROC_IMAGE_MAX_XSTATE (64U << 10)
#define BPROC_IMAGE_MAX_PENDING 1024
#define BPROC_IMAGE_MAX_FILES 4096
#define BPROC_IMAGE_MAX_GROUPS 65536
#define BPROC_IMAGE_MAX_AUXV 64 /* __u64 words: 32 (type, value) pairs */
#define BPROC_IMAGE_MAX_THREADS 1024 /* besides the main thread */
#define BPROC_IMAGE_MAX_THREADS_BYTES (64U << 20) /* of the THREADS section */
#define BPROC_IMAGE_MAX_FDS 1024 /* entries of FDS */
#define BPROC_IMAGE_MAX_TARGETS 4096 /* epoll targets of FDS, in all */
#define BPROC_IMAGE_MAX_FD (1 << 20) /* descriptor numbers are below */
#define BPROC_IMAGE_MAX_MEMFD (64U << 20) /* bytes of MEMFD */
#define BPROC_IMAGE_MAX_EXEFILE (64U << 20) /* bytes of the program's file */
#define BPROC_IMAGE_NO_PATH 0xffffffffU

/*
 * In the header's dump_flags, beside the BPROC_DUMP_* it was made with:
 * the process was stopped by job control when it was dumped, and is
 * restored stopped, as if it had received SIGSTOP (module 1.7).
 */
#define BPROC_IMAGE_STOPPED (1U << 31)

struct bproc_image_header {
	__u32 magic; /* BPROC_IMAGE_MAGIC */
	__u32 version; /* BPROC_IMAGE_VERSION */
	__u32 arch; /* BPROC_ARCH_X86_64 */
	__u32 page_size; /* bytes */
	__u32 header_size; /* sizeof(struct bproc_image_header) */
	__u32 nr_sections;
	__u32 dump_flags; /* BPROC_DUMP_* the image was made with */
	__u32 pad;
	char release[72]; /* uname -r of the dumping kernel, NUL-terminated */
};

enum bproc_image_section_type {
	BPROC_SEC_CORE = 1,
	BPROC_SEC_XSTATE = 2,
	BPROC_SEC_SIGNALS = 3,
	BPROC_SEC_MM = 4,
	BPROC_SEC_VMAS = 5,
	BPROC_SEC_PATHS = 6,
	BPROC_SEC_TASKENV = 7,
	BPROC_SEC_PAGEMAP = 8,
	BPROC_SEC_PAGES = 9,
	BPROC_SEC_THREADS = 10, /* before PAGES, which is always last */
	BPROC_SEC_FDS = 11, /* version 3 */
	BPROC_SEC_MEMFD = 12, /* version 3 */
	BPROC_SEC_EXEFILE = 13, /* version 4 */
};

struct bproc_image_section {
	__u32 type; /* enum bproc_image_section_type */
	__u32 pad;
	__u64 size; /* bytes of payload that follow */
};

/* General registers, in the order of struct user_regs_struct. */
struct bproc_image_regs {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	__u64 ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
	__u64 fs_base, gs_base, ds, es, fs, gs;
};

#define BPROC_XSTATE_FXSAVE 1 /* 512 bytes, FXSAVE layout */
#define BPROC_XSTATE_XSAVE 2 /* standard (non-compacted) XSAVE layout */

struct bproc_image_core {
	struct bproc_image_regs regs; /* at the return to user space; a system
				       * call in progress has ax = -ERESTART* */
	__u64 rseq; /* registered struct rseq, or 0 */
	__u32 rseq_len;
	__u32 rseq_sig;
	__u64 clear_child_tid; /* set_tid_address() */
	__u64 robust_list; /* set_robust_list() */
	__u64 xcr0; /* XCR0 of the dumping CPU (0 without XSAVE) */
	__u32 xstate_kind; /* BPROC_XSTATE_* */
	__u32 personality;
	__s32 pid; /* the dumped process's pid, for information */
	__u32 pad;
	char comm[16];
};

struct bproc_image_sigaction {
	__u64 handler; /* 0 = SIG_DFL, 1 = SIG_IGN, else an address */
	__u64 flags; /* SA_* */
	__u64 restorer;
	__u64 mask;
};

struct bproc_image_signals {
	struct bproc_image_sigaction action[64]; /* signal n at [n - 1] */
	__u64 blocked; /* mask outside sigsuspend & co */
	__u64 sas_ss_sp;
	__u64 sas_ss_size;
	__u32 sas_ss_flags;
	__u32 nr_pending; /* struct bproc_image_siginfo that follow */
};

/* Pending for the whole process (kill), not for one thread (tgkill). */
#define BPROC_SIGINFO_SHARED (1U << 0)

struct bproc_image_siginfo {
	__u32 signo;
	__u32 flags; /* BPROC_SIGINFO_* (version 2; 0 in version 1) */
	__u8 info[48]; /* the kernel's siginfo: signo, errno, code, fields */
};

struct bproc_image_mm {
	__u64 start_code, end_code, start_data, end_data;
	__u64 start_brk, brk, start_stack;
	__u64 arg_start, arg_end, env_start, env_end;
	__u64 vdso_start, vdso_end; /* the [vdso] mapping */
	__u64 vvar_start, vvar_end; /* the [vvar] mapping */
	__u32 vdso_crc; /* crc32 of the vDSO's text */
	__u32 nr_auxv; /* __u64 words used in auxv */
	__u64 auxv[BPROC_IMAGE_MAX_AUXV];
};

enum bproc_image_vma_kind {
	BPROC_VMA_ANON = 1, /* private anonymous: content in the page map */
	BPROC_VMA_FILE = 2, /* file by path and offset; for a private one the
				* pages written since (copy-on-write) are in the
				* page map */
	BPROC_VMA_CONTENT = 3, /* was a private file mapping, carried by
				* content (BPROC_DUMP_*); path for information */
	BPROC_VMA_VDSO = 4,
	BPROC_VMA_VVAR = 5,
	BPROC_VMA_SHANON = 6, /* shared anonymous (MAP_SHARED|MAP_ANONYMOUS,
				* or of /dev/zero), this process's alone: content
				* in the page map; flags BPROC_VMA_SHARED
				* (version 2) */
	BPROC_VMA_MEMFD = 7, /* MAP_SHARED of a memfd of FDS, whose fd is
				* in path (not an offset here); its content is
				* the memfd's, in MEMFD, none in the page map;
				* flags BPROC_VMA_SHARED (version 3) */
};

#define BPROC_VMA_SHARED (1U << 0) /* MAP_SHARED of a file */
#define BPROC_VMA_GROWSDOWN (1U << 1)
#define BPROC_VMA_MAYWRITE (1U << 2) /* shared: the file was open for writing */
#define BPROC_VMA_NORESERVE (1U << 3)
/* A mapping of the process's executable: restore makes that file the
 * process's /proc/PID/exe again (on a BPROC_VMA_FILE one). */
#define BPROC_VMA_EXE (1U << 4)

#define BPROC_PROT_READ 1
#define BPROC_PROT_WRITE 2
#define BPROC_PROT_EXEC 4

struct bproc_image_vma {
	__u64 start, end; /* page aligned, below the user address limit */
	__u64 pgoff; /* file offset in pages */
	__u32 prot; /* BPROC_PROT_* */
	__u32 flags; /* BPROC_VMA_* */
	__u32 kind; /* enum bproc_image_vma_kind */
	__u32 path; /* offset in PATHS, or BPROC_IMAGE_NO_PATH */
};

struct bproc_image_rlimit {
	__u64 cur, max;
};

#define BPROC_IMAGE_NR_RLIMITS 16

struct bproc_image_taskenv {
	__u32 umask;
	__u32 cwd; /* offset in PATHS */
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 nr_groups; /* __u32 gids that follow (padded to 8 bytes) */
	__u32 nr_files; /* then struct bproc_image_file[nr_files] */
	struct bproc_image_rlimit rlim[BPROC_IMAGE_NR_RLIMITS];
};

/*
 * A regular file, directory or character device open at the dump
 * (stdin/out/err excepted, but with BPROC_DUMP_STREAMS, in which case
 * whoever restores decides about fds 0-2 too: module 1.4), reopened by
 * path unless whoever restores gives
 * a descriptor of its own for that fd; or, with path BPROC_IMAGE_NO_PATH,
 * a stream (a pipe, FIFO, socket, character device or deleted regular
 * file: mode says which, pos is 0) that whoever restores must provide at
 * that fd (BPROC_DUMP_STREAMS).
 */
struct bproc_image_file {
	__s32 fd;
	__u32 flags; /* open(2) flags */
	__s64 pos;
	__u32 path; /* offset in PATHS, or BPROC_IMAGE_NO_PATH: a stream */
	__u32 mode; /* st_mode of the file */
};

/*
 * THREADS: the threads other than the main one. Each struct
 * bproc_image_thread is followed by xstate_size bytes of FPU state (the
 * kind and size of the XSTATE section) and nr_pending struct
 * bproc_image_siginfo, the signals pending for that thread alone (those
 * pending for the whole process are in SIGNALS, flagged shared).
 */
struct bproc_image_threads {
	__u32 nr_threads; /* struct bproc_image_thread that follow */
	__u32 xstate_size; /* bytes of FPU state after each */
};

struct bproc_image_thread {
	__s32 tid; /* in the dumped process's pid namespace */
	__u32 nr_pending; /* struct bproc_image_siginfo after its FPU state */
	struct bproc_image_regs regs; /* as CORE's */
	__u64 rseq; /* as CORE's */
	__u32 rseq_len;
	__u32 rseq_sig;
	__u64 clear_child_tid;
	__u64 robust_list;
	__u64 blocked; /* as SIGNALS' */
	__u64 sas_ss_sp;
	__u64 sas_ss_size;
	__u32 sas_ss_flags;
	__u32 pad;
	char comm[16]; /* its name (PR_SET_NAME), NUL-terminated */
};

/*
 * FDS: the kernel objects the process has open (BPROC_DUMP_ANONFDS), which
 * no path reopens: whoever restores makes each anew, with this state, at
 * its fd before BPROC_IOC_RESTORE (bproc-ckpt does), and the engine checks
 * that each is there and of its kind. Entries go by increasing fd, at
 * numbers no TASKENV file has; then the targets of every epoll, by epoll
 * fd then target fd, each a descriptor of the image (a TASKENV file that
 * is no stream, or an FDS entry).
 */
struct bproc_image_fds {
	__u32 nr_fds; /* struct bproc_image_fd that follow */
	__u32 nr_targets; /* then struct bproc_image_epoll_target */
};

enum bproc_image_fd_kind {
	BPROC_FD_EVENTFD = 1,
	BPROC_FD_TIMERFD = 2,
	BPROC_FD_SIGNALFD = 3,
	BPROC_FD_EPOLL = 4,
	BPROC_FD_MEMFD = 5,
};

#define BPROC_FD_CLOEXEC (1U << 0) /* the descriptor's FD_CLOEXEC */
/*
 * A memfd that is only mapped (BPROC_VMA_MEMFD), at no fd of the process:
 * @fd is a spare number above all others, where whoever restores puts it
 * for the engine, which closes it once it is mapped.
 */
#define BPROC_FD_UNOPENED (1U << 1)

struct bproc_image_fd {
	__s32 fd;
	__u32 kind; /* enum bproc_image_fd_kind */
	__u32 flags; /* open(2) flags: O_ACCMODE, O_NONBLOCK, O_APPEND */
	__u32 fd_flags; /* BPROC_FD_* */
	union {
		struct {
			__u64 count; /* below 2^64 - 1 */
			__u32 semaphore; /* EFD_SEMAPHORE: 0 or 1 */
			__u32 pad;
		} eventfd;
		/*
		 * The time left and the interval, whatever the clock says:
		 * restored relative to the restore (an absolute timer too,
		 * unless it is to be cancelled on a clock change). A periodic
		 * timer that has expired but was not read since has a value
		 * of 0 and ticks: restored, it expires next one interval on.
		 */
		struct {
			__s32 clockid; /* CLOCK_REALTIME, _MONOTONIC, _BOOTTIME,
					* _REALTIME_ALARM, _BOOTTIME_ALARM */
			__u32 settime_flags; /* TFD_TIMER_ABSTIME,
					      * TFD_TIMER_CANCEL_ON_SET */
			__u64 ticks; /* expirations not read yet */
			__u64 value_sec, value_nsec; /* left, 0: disarmed */
			__u64 interval_sec, interval_nsec;
		} timerfd;
		struct {
			__u64 sigmask; /* signal n is bit n - 1 */
		} signalfd;
		struct {
			__u64 size; /* bytes, its content in MEMFD */
			__u32 seals; /* F_SEAL_* */
			__u32 name; /* offset in PATHS: as given to
				     * memfd_create, without "memfd:" */
			__s64 pos; /* file offset */
		} memfd;
		__u64 raw[6]; /* epoll: 0 */
	};
};

struct bproc_image_epoll_target {
	__s32 epfd; /* the epoll, an FDS entry */
	__s32 tfd; /* the descriptor it watches */
	__u32 events; /* EPOLL* as given to epoll_ctl */
	__u32 pad;
	__u64 data;
};

/*
 * EXEFILE: the process's executable file itself, whole (its mapped pages
 * are in the page map as any BPROC_VMA_CONTENT mapping's: a private
 * writable mapping's differ from the file). The dump writes it when the
 * program goes whole (BPROC_DUMP_EXEC) or has no path to reopen (a
 * deleted file, or the in-memory file of an earlier restore). The restore
 * makes an in-memory file of this content, named after @path, the
 * process's /proc/PID/exe, which then reads "PATH (deleted)" as for a
 * program removed after it was executed; unless the restoring process's
 * own executable is that file already (a ghost taking its process back),
 * which it keeps. The struct is followed by @size bytes, the section's
 * size being exactly sizeof(struct bproc_image_exefile) + @size.
 */
struct bproc_image_exefile {
	__u64 size; /* bytes of the file, at most BPROC_IMAGE_MAX_EXEFILE */
	__u32 path; /* offset in PATHS: its path, without " (deleted)" */
	__u32 mode; /* its st_mode; the in-memory file takes the 0777 bits */
};

struct bproc_image_pagemap {
	__u64 vaddr; /* page aligned */
	__u64 nr_pages; /* contiguous pages whose contents are in PAGES */
};

#ifdef __KERNEL__
#define BPROC_IMAGE_ASSERT(c, m) static_assert(c, m)
#else
#define BPROC_IMAGE_ASSERT(c, m) _Static_assert(c, m)
#endif
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_header) == 104, "header");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_section) == 16, "section");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_regs) == 27 * 8, "regs");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_core) == 27 * 8 + 72, "core");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_signals) == 64 * 32 + 32,
		   "signals");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_siginfo) == 56, "siginfo");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_mm) == 15 * 8 + 8 + 64 * 8, "mm");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_vma) == 40, "vma");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_taskenv) == 48 + 16 * 16,
		   "taskenv");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_file) == 24, "file");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_pagemap) == 16, "pagemap");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_threads) == 8, "threads");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_thread) == 27 * 8 + 88, "thread");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_fds) == 8, "fds");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_fd) == 64, "fd");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_epoll_target) == 24, "target");
BPROC_IMAGE_ASSERT(sizeof(struct bproc_image_exefile) == 16, "exefile");

#endif /* _UAPI_BPROC_IMAGE_H */
