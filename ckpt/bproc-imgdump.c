// SPDX-License-Identifier: GPL-2.0
/*
 * bproc-imgdump - print a bproc process image, every section, like CRIU's
 * crit show. The format is include/bproc/image.h.
 *
 *   bproc-imgdump FILE
 *
 * Exits 0 when the image's structure is well-formed, 1 with a reason if not.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgread.h"

static const char *const section_names[] = {
	[BPROC_SEC_CORE] = "CORE",	 [BPROC_SEC_XSTATE] = "XSTATE",
	[BPROC_SEC_SIGNALS] = "SIGNALS", [BPROC_SEC_MM] = "MM",
	[BPROC_SEC_VMAS] = "VMAS",	 [BPROC_SEC_PATHS] = "PATHS",
	[BPROC_SEC_TASKENV] = "TASKENV", [BPROC_SEC_PAGEMAP] = "PAGEMAP",
	[BPROC_SEC_PAGES] = "PAGES",	 [BPROC_SEC_THREADS] = "THREADS",
	[BPROC_SEC_FDS] = "FDS",	 [BPROC_SEC_MEMFD] = "MEMFD",
	[BPROC_SEC_EXEFILE] = "EXEFILE",
};

static const char *const rlimit_names[BPROC_IMAGE_NR_RLIMITS] = {
	"cpu",	    "fsize",  "data",	 "stack",  "core",  "rss",
	"nproc",    "nofile", "memlock", "as",	   "locks", "sigpending",
	"msgqueue", "nice",   "rtprio",	 "rttime",
};

static int bad(const char *what)
{
	fprintf(stderr, "bproc-imgdump: malformed image: %s\n", what);
	return 1;
}

static int show_core(const struct img *img)
{
	uint64_t size;
	const struct bproc_image_core *c = img_get(img, BPROC_SEC_CORE, &size);
	const struct bproc_image_regs *r;

	if (!c || size != sizeof(*c))
		return bad("CORE missing or wrong size");
	r = &c->regs;
	printf("core:\n  pid %d comm \"%.16s\" personality %#x\n", c->pid,
	       c->comm, c->personality);
	printf("  rip %016llx rsp %016llx rflags %016llx\n",
	       (unsigned long long)r->ip, (unsigned long long)r->sp,
	       (unsigned long long)r->flags);
	printf("  rax %016llx orig_rax %lld\n", (unsigned long long)r->ax,
	       (long long)r->orig_ax);
	printf("  rbx %016llx rcx %016llx rdx %016llx\n",
	       (unsigned long long)r->bx, (unsigned long long)r->cx,
	       (unsigned long long)r->dx);
	printf("  rsi %016llx rdi %016llx rbp %016llx\n",
	       (unsigned long long)r->si, (unsigned long long)r->di,
	       (unsigned long long)r->bp);
	printf("  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n",
	       (unsigned long long)r->r8, (unsigned long long)r->r9,
	       (unsigned long long)r->r10, (unsigned long long)r->r11);
	printf("  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n",
	       (unsigned long long)r->r12, (unsigned long long)r->r13,
	       (unsigned long long)r->r14, (unsigned long long)r->r15);
	printf("  cs %#llx ss %#llx fs_base %016llx gs_base %016llx\n",
	       (unsigned long long)r->cs, (unsigned long long)r->ss,
	       (unsigned long long)r->fs_base, (unsigned long long)r->gs_base);
	if ((long long)r->orig_ax >= 0 && (long long)r->ax < 0 &&
	    (long long)r->ax >= -516)
		printf("  in system call %lld, interrupted (%lld)\n",
		       (long long)r->orig_ax, (long long)r->ax);
	printf("  rseq %#llx len %u sig %#x clear_child_tid %#llx robust_list %#llx\n",
	       (unsigned long long)c->rseq, c->rseq_len, c->rseq_sig,
	       (unsigned long long)c->clear_child_tid,
	       (unsigned long long)c->robust_list);
	printf("  fpu %s xcr0 %#llx\n",
	       c->xstate_kind == BPROC_XSTATE_XSAVE  ? "xsave" :
	       c->xstate_kind == BPROC_XSTATE_FXSAVE ? "fxsave" :
						       "?",
	       (unsigned long long)c->xcr0);
	return 0;
}

static int show_xstate(const struct img *img)
{
	uint64_t size;
	const uint8_t *x = img_get(img, BPROC_SEC_XSTATE, &size);
	uint32_t mxcsr;
	uint64_t xfeatures = 0;
	int i;

	if (!x || size < 512)
		return bad("XSTATE missing or too small");
	memcpy(&mxcsr, x + 24, 4);
	if (size >= 520)
		memcpy(&xfeatures, x + 512, 8);
	printf("xstate: %llu bytes, mxcsr %#x, xfeatures %#llx\n",
	       (unsigned long long)size, mxcsr, (unsigned long long)xfeatures);
	for (i = 0; i < 16; i++) {
		uint64_t lo, hi;

		memcpy(&lo, x + 160 + 16 * i, 8);
		memcpy(&hi, x + 168 + 16 * i, 8);
		printf("  xmm%-2d %016llx%016llx\n", i, (unsigned long long)hi,
		       (unsigned long long)lo);
	}
	return 0;
}

static int show_signals(const struct img *img)
{
	uint64_t size;
	const struct bproc_image_signals *s =
		img_get(img, BPROC_SEC_SIGNALS, &size);
	const struct bproc_image_siginfo *p;
	uint32_t i;

	if (!s || size < sizeof(*s) ||
	    size != sizeof(*s) + (uint64_t)s->nr_pending * sizeof(*p))
		return bad("SIGNALS missing or wrong size");
	printf("signals:\n  blocked %016llx\n", (unsigned long long)s->blocked);
	printf("  altstack sp %#llx size %llu flags %#x\n",
	       (unsigned long long)s->sas_ss_sp,
	       (unsigned long long)s->sas_ss_size, s->sas_ss_flags);
	for (i = 0; i < 64; i++) {
		const struct bproc_image_sigaction *a = &s->action[i];

		if (!a->handler && !a->flags && !a->mask)
			continue;
		printf("  sig %2u handler %s%#llx flags %#llx mask %016llx restorer %#llx\n",
		       i + 1, a->handler == 1 ? "SIG_IGN " : "",
		       (unsigned long long)a->handler,
		       (unsigned long long)a->flags,
		       (unsigned long long)a->mask,
		       (unsigned long long)a->restorer);
	}
	p = (const void *)(s + 1);
	for (i = 0; i < s->nr_pending; i++) {
		int32_t errno_, code;

		memcpy(&errno_, p[i].info + 4, 4);
		memcpy(&code, p[i].info + 8, 4);
		printf("  pending sig %u code %d errno %d%s\n", p[i].signo,
		       code, errno_,
		       p[i].flags & BPROC_SIGINFO_SHARED ? " shared" : "");
	}
	return 0;
}

/* The other threads (THREADS), checked whole by img_load. */
static int show_threads(const struct img *img)
{
	uint32_t i, k, n = img_nr_threads(img);

	if (!n)
		return 0;
	printf("threads: %u besides the main thread\n", n);
	for (i = 0; i < n; i++) {
		const struct bproc_image_siginfo *pending;
		struct bproc_image_thread t;
		const struct bproc_image_regs *r = &t.regs;
		const void *xstate;

		if (img_thread(img, i, &t, &xstate, &pending))
			return bad("a thread is missing");
		printf("  thread %d comm \"%.16s\"\n", t.tid, t.comm);
		printf("    rip %016llx rsp %016llx rax %016llx orig_rax %lld\n",
		       (unsigned long long)r->ip, (unsigned long long)r->sp,
		       (unsigned long long)r->ax, (long long)r->orig_ax);
		printf("    fs_base %016llx gs_base %016llx\n",
		       (unsigned long long)r->fs_base,
		       (unsigned long long)r->gs_base);
		if ((long long)r->orig_ax >= 0 && (long long)r->ax < 0 &&
		    (long long)r->ax >= -516)
			printf("    in system call %lld, interrupted (%lld)\n",
			       (long long)r->orig_ax, (long long)r->ax);
		printf("    blocked %016llx altstack sp %#llx size %llu flags %#x\n",
		       (unsigned long long)t.blocked,
		       (unsigned long long)t.sas_ss_sp,
		       (unsigned long long)t.sas_ss_size, t.sas_ss_flags);
		printf("    rseq %#llx clear_child_tid %#llx robust_list %#llx\n",
		       (unsigned long long)t.rseq,
		       (unsigned long long)t.clear_child_tid,
		       (unsigned long long)t.robust_list);
		for (k = 0; k < t.nr_pending; k++) {
			struct bproc_image_siginfo si;
			int32_t code;

			memcpy(&si, pending + k, sizeof(si));
			memcpy(&code, si.info + 8, 4);
			printf("    pending sig %u code %d\n", si.signo, code);
		}
		(void)xstate;
	}
	return 0;
}

static int show_mm(const struct img *img)
{
	uint64_t size;
	const struct bproc_image_mm *m = img_get(img, BPROC_SEC_MM, &size);
	uint32_t i;

	if (!m || size != sizeof(*m) || m->nr_auxv > BPROC_IMAGE_MAX_AUXV)
		return bad("MM missing or wrong size");
	printf("mm:\n  code %#llx-%#llx data %#llx-%#llx\n",
	       (unsigned long long)m->start_code,
	       (unsigned long long)m->end_code,
	       (unsigned long long)m->start_data,
	       (unsigned long long)m->end_data);
	printf("  brk %#llx-%#llx stack %#llx\n",
	       (unsigned long long)m->start_brk, (unsigned long long)m->brk,
	       (unsigned long long)m->start_stack);
	printf("  args %#llx-%#llx env %#llx-%#llx\n",
	       (unsigned long long)m->arg_start, (unsigned long long)m->arg_end,
	       (unsigned long long)m->env_start,
	       (unsigned long long)m->env_end);
	printf("  vdso %#llx-%#llx vvar %#llx-%#llx vdso crc32 %08x\n",
	       (unsigned long long)m->vdso_start,
	       (unsigned long long)m->vdso_end,
	       (unsigned long long)m->vvar_start,
	       (unsigned long long)m->vvar_end, m->vdso_crc);
	printf("  auxv");
	for (i = 0; i + 1 < m->nr_auxv; i += 2)
		printf(" %llu=%#llx", (unsigned long long)m->auxv[i],
		       (unsigned long long)m->auxv[i + 1]);
	printf("\n");
	return 0;
}

static const char *kind_name(uint32_t k)
{
	switch (k) {
	case BPROC_VMA_ANON:
		return "anon";
	case BPROC_VMA_FILE:
		return "file";
	case BPROC_VMA_CONTENT:
		return "content";
	case BPROC_VMA_VDSO:
		return "vdso";
	case BPROC_VMA_VVAR:
		return "vvar";
	case BPROC_VMA_SHANON:
		return "shanon";
	case BPROC_VMA_MEMFD:
		return "memfd";
	default:
		return "?";
	}
}

static int show_vmas(const struct img *img)
{
	uint64_t size, i;
	const struct bproc_image_vma *v = img_get(img, BPROC_SEC_VMAS, &size);

	if (!v || size % sizeof(*v))
		return bad("VMAS missing or wrong size");
	printf("vmas: %llu\n", (unsigned long long)(size / sizeof(*v)));
	for (i = 0; i < size / sizeof(*v); i++) {
		const char *path = v[i].path == BPROC_IMAGE_NO_PATH ?
					   "" :
					   img_path(img, v[i].path);
		char memfd[32];

		if (v[i].kind == BPROC_VMA_MEMFD) { /* path: its fd */
			snprintf(memfd, sizeof(memfd), "<memfd fd %d>",
				 (int32_t)v[i].path);
			path = memfd;
		}

		printf("  %012llx-%012llx %c%c%c%c %08llx %-7s%s%s %s\n",
		       (unsigned long long)v[i].start,
		       (unsigned long long)v[i].end,
		       v[i].prot & BPROC_PROT_READ ? 'r' : '-',
		       v[i].prot & BPROC_PROT_WRITE ? 'w' : '-',
		       v[i].prot & BPROC_PROT_EXEC ? 'x' : '-',
		       v[i].flags & BPROC_VMA_SHARED ? 's' : 'p',
		       (unsigned long long)(v[i].pgoff * img->hdr.page_size),
		       kind_name(v[i].kind),
		       v[i].flags & BPROC_VMA_GROWSDOWN ? " growsdown" : "",
		       v[i].flags & BPROC_VMA_MAYWRITE ? " maywrite" : "",
		       path ? path : "<bad path>");
		if (!path)
			return bad("a mapping's path is outside PATHS");
	}
	return 0;
}

static int show_taskenv(const struct img *img)
{
	uint64_t size, gsize;
	const struct bproc_image_taskenv *e =
		img_get(img, BPROC_SEC_TASKENV, &size);
	const struct bproc_image_file *f;
	const uint32_t *groups;
	const char *cwd;
	uint32_t i;

	if (!e || size < sizeof(*e))
		return bad("TASKENV missing");
	gsize = ((uint64_t)e->nr_groups * 4 + 7) & ~7ULL;
	if (size != sizeof(*e) + gsize + (uint64_t)e->nr_files * sizeof(*f))
		return bad("TASKENV wrong size");
	cwd = img_path(img, e->cwd);
	printf("taskenv:\n  cwd %s umask %04o\n", cwd ? cwd : "<bad>",
	       e->umask);
	printf("  uid %u %u %u %u gid %u %u %u %u groups", e->uid, e->euid,
	       e->suid, e->fsuid, e->gid, e->egid, e->sgid, e->fsgid);
	groups = (const void *)(e + 1);
	for (i = 0; i < e->nr_groups; i++)
		printf(" %u", groups[i]);
	printf("\n");
	for (i = 0; i < BPROC_IMAGE_NR_RLIMITS; i++)
		printf("  rlimit %-10s %lld %lld\n", rlimit_names[i],
		       (long long)e->rlim[i].cur, (long long)e->rlim[i].max);
	f = (const void *)((const char *)(e + 1) + gsize);
	for (i = 0; i < e->nr_files; i++) {
		const char *p = f[i].path == BPROC_IMAGE_NO_PATH ?
					"<stream>" :
					img_path(img, f[i].path);

		printf("  fd %d flags %#o pos %lld mode %06o %s\n", f[i].fd,
		       f[i].flags, (long long)f[i].pos, f[i].mode,
		       p ? p : "<bad path>");
	}
	return cwd ? 0 : bad("bad cwd path");
}

static int show_fds(const struct img *img)
{
	const struct bproc_image_fd *f;
	const struct bproc_image_epoll_target *t;
	uint32_t nr, nt, i;

	if (img_fds(img, &f, &nr, &t, &nt))
		return bad("bad FDS section");
	if (!img_find(img, BPROC_SEC_FDS))
		return 0;
	printf("fds: %u, epoll targets %u\n", nr, nt);
	for (i = 0; i < nr; i++) {
		printf("  fd %d flags %#o%s%s ", f[i].fd, f[i].flags,
		       f[i].fd_flags & BPROC_FD_CLOEXEC ? " cloexec" : "",
		       f[i].fd_flags & BPROC_FD_UNOPENED ? " unopened" : "");
		switch (f[i].kind) {
		case BPROC_FD_EVENTFD:
			printf("eventfd count %llu%s\n",
			       (unsigned long long)f[i].eventfd.count,
			       f[i].eventfd.semaphore ? " semaphore" : "");
			break;
		case BPROC_FD_TIMERFD:
			printf("timerfd clock %d flags %#x ticks %llu value %llu.%09llu interval %llu.%09llu\n",
			       f[i].timerfd.clockid, f[i].timerfd.settime_flags,
			       (unsigned long long)f[i].timerfd.ticks,
			       (unsigned long long)f[i].timerfd.value_sec,
			       (unsigned long long)f[i].timerfd.value_nsec,
			       (unsigned long long)f[i].timerfd.interval_sec,
			       (unsigned long long)f[i].timerfd.interval_nsec);
			break;
		case BPROC_FD_SIGNALFD:
			printf("signalfd mask %016llx\n",
			       (unsigned long long)f[i].signalfd.sigmask);
			break;
		case BPROC_FD_EPOLL:
			printf("epoll\n");
			break;
		case BPROC_FD_MEMFD: {
			const char *name = img_path(img, f[i].memfd.name);

			printf("memfd \"%s\" size %llu seals %#x pos %lld\n",
			       name ? name : "<bad name>",
			       (unsigned long long)f[i].memfd.size,
			       f[i].memfd.seals, (long long)f[i].memfd.pos);
			if (!name)
				return bad("a memfd's name is outside PATHS");
			break;
		}
		default:
			printf("kind %u\n", f[i].kind);
			return bad("unknown kind of fd");
		}
	}
	for (i = 0; i < nt; i++)
		printf("  epoll fd %d watches fd %d events %#x data %#llx\n",
		       t[i].epfd, t[i].tfd, t[i].events,
		       (unsigned long long)t[i].data);
	return 0;
}

/* EXEFILE: the program's file, whole (its content is not printed). */
static int show_exefile(const struct img *img)
{
	const struct bproc_image_exefile *e;
	struct bproc_image_exefile h;
	const char *path;

	if (!img_find(img, BPROC_SEC_EXEFILE))
		return 0;
	e = img_exefile(img, &path, NULL);
	if (!e)
		return bad("bad EXEFILE section");
	memcpy(&h, e, sizeof(h));
	printf("exefile: %s size %llu mode %04o\n", path,
	       (unsigned long long)h.size, h.mode & 07777);
	return 0;
}

static int show_pagemap(const struct img *img)
{
	uint64_t size, i, total = 0;
	const struct bproc_image_pagemap *r =
		img_get(img, BPROC_SEC_PAGEMAP, &size);
	const struct img_section *pages = img_find(img, BPROC_SEC_PAGES);

	if (!r || size % sizeof(*r) || !pages)
		return bad("PAGEMAP or PAGES missing");
	printf("pagemap: %llu runs\n", (unsigned long long)(size / sizeof(*r)));
	for (i = 0; i < size / sizeof(*r); i++) {
		printf("  %012llx %llu pages\n", (unsigned long long)r[i].vaddr,
		       (unsigned long long)r[i].nr_pages);
		total += r[i].nr_pages;
	}
	printf("pages: %llu pages, %llu bytes at offset %llu\n",
	       (unsigned long long)total, (unsigned long long)pages->size,
	       (unsigned long long)pages->offset);
	if (total * img->hdr.page_size != pages->size)
		return bad("page map and page data sizes disagree");
	return 0;
}

int main(int argc, char **argv)
{
	char err[256];
	struct img img;
	unsigned int i;
	int fd, ret = 0;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bproc-imgdump FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (img_load(&img, fd, 0, err, sizeof(err))) {
		fprintf(stderr, "bproc-imgdump: %s: %s\n", argv[1], err);
		close(fd);
		return 1;
	}
	printf("image: magic %#x version %u arch %u page size %u release %s dump flags %#x\n",
	       img.hdr.magic, img.hdr.version, img.hdr.arch, img.hdr.page_size,
	       img.hdr.release, img.hdr.dump_flags);
	for (i = 0; i < img.nr_sec; i++)
		printf("section %-8s offset %10llu size %llu\n",
		       section_names[img.sec[i].type],
		       (unsigned long long)img.sec[i].offset,
		       (unsigned long long)img.sec[i].size);
	ret |= show_core(&img);
	if (!ret)
		ret |= show_xstate(&img);
	if (!ret)
		ret |= show_signals(&img);
	if (!ret)
		ret |= show_mm(&img);
	if (!ret)
		ret |= show_vmas(&img);
	if (!ret)
		ret |= show_taskenv(&img);
	if (!ret)
		ret |= show_threads(&img);
	if (!ret)
		ret |= show_fds(&img);
	if (!ret)
		ret |= show_exefile(&img);
	if (!ret)
		ret |= show_pagemap(&img);
	img_free(&img);
	close(fd);
	return ret;
}
