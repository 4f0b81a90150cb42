// SPDX-License-Identifier: GPL-2.0
/*
 * vdso.c - put a process's vDSO where the image expects it (see vdso.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "vdso.h"

#define MAPS_MAX 4096

int vdso_read_maps(int pid, struct vdso_range *r, int max)
{
	char line[512], path[64];
	FILE *f;
	int n = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '[');

		if (sscanf(line, "%lx-%lx", &r[n].start, &r[n].end) != 2)
			continue;
		r[n].name[0] = 0;
		if (name)
			snprintf(r[n].name, sizeof(r[n].name), "%.*s",
				 (int)strcspn(name, "\n"), name);
		n++;
	}
	fclose(f);
	return n;
}

int vdso_place_with(const struct bproc_image_mm *m, const struct vdso_ops *ops,
		    void *arg, char *why, size_t whylen)
{
	static struct vdso_range r[MAPS_MAX];
	unsigned long vdso = 0, vdso_end = 0, vvar = 0, vvar_end = 0, lo, hi,
		      cur_lo, cur_hi;
	unsigned long vdso_len = m->vdso_end - m->vdso_start,
		      vvar_len = m->vvar_end - m->vvar_start;
	int i, n = ops->maps(arg, r, MAPS_MAX);

	if (n < 0) {
		snprintf(why, whylen, "cannot read its mappings");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(r[i].name, "[vdso]")) {
			vdso = r[i].start;
			vdso_end = r[i].end;
		} else if (!strcmp(r[i].name, "[vvar]")) {
			vvar = r[i].start;
			vvar_end = r[i].end;
		}
	}
	errno = EINVAL;
	if (!vdso || !vvar) {
		snprintf(why, whylen, "the process has no vDSO");
		return -1;
	}
	if (vdso_end - vdso != vdso_len || vvar_end - vvar != vvar_len) {
		snprintf(
			why, whylen,
			"the vDSO differs in size from the image's (another kernel)");
		return -1;
	}
	if (vdso == m->vdso_start && vvar == m->vvar_start)
		return 0;
	lo = m->vvar_start < m->vdso_start ? m->vvar_start : m->vdso_start;
	hi = m->vvar_end > m->vdso_end ? m->vvar_end : m->vdso_end;
	for (i = 0; i < n; i++)
		if (r[i].start != vdso && r[i].start != vvar &&
		    r[i].start < hi && r[i].end > lo)
			return VDSO_IN_THE_WAY;

	/* Old and new places overlap: go through a free spot first. */
	cur_lo = vvar < vdso ? vvar : vdso;
	cur_hi = vvar_end > vdso_end ? vvar_end : vdso_end;
	if (cur_lo < hi && cur_hi > lo) {
		unsigned long tmp = ops->spare(arg, r, n, hi - lo, lo, hi);

		if (!tmp)
			return VDSO_IN_THE_WAY;
		if (ops->move(arg, vvar, vvar_len,
			      tmp + (m->vvar_start - lo)) ||
		    ops->move(arg, vdso, vdso_len,
			      tmp + (m->vdso_start - lo))) {
			snprintf(why, whylen, "mremap of the vDSO: %s",
				 strerror(errno));
			return -1;
		}
		vvar = tmp + (m->vvar_start - lo);
		vdso = tmp + (m->vdso_start - lo);
	}
	if (ops->move(arg, vvar, vvar_len, m->vvar_start) ||
	    ops->move(arg, vdso, vdso_len, m->vdso_start)) {
		snprintf(why, whylen, "mremap of the vDSO: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the calling process ---- */

static int self_maps(void *arg, struct vdso_range *r, int max)
{
	(void)arg;
	return vdso_read_maps(0, r, max);
}

static int self_move(void *arg, unsigned long from, unsigned long len,
		     unsigned long to)
{
	(void)arg;
	return mremap((void *)from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		      (void *)to) == MAP_FAILED ?
		       -1 :
		       0;
}

/* A reservation of our own, which the moves then replace. */
static unsigned long self_spare(void *arg, const struct vdso_range *r, int n,
				unsigned long span, unsigned long lo,
				unsigned long hi)
{
	void *p =
		mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long tmp = (unsigned long)p;

	(void)arg, (void)r, (void)n;
	if (p == MAP_FAILED)
		return 0;
	if (tmp < hi && tmp + span > lo) {
		munmap(p, span);
		return 0;
	}
	return tmp;
}

int vdso_place(const struct bproc_image_mm *m, char *why, size_t whylen)
{
	static const struct vdso_ops self = {
		.maps = self_maps,
		.move = self_move,
		.spare = self_spare,
	};

	return vdso_place_with(m, &self, NULL, why, whylen);
}
