// SPDX-License-Identifier: GPL-2.0
/*
 * vdso.c - put our vDSO where the image expects it (see vdso.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "vdso.h"

struct maps_range {
	unsigned long start, end;
	char name[16];
};

static int read_maps(struct maps_range *r, int max)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

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

static int move(unsigned long from, unsigned long len, unsigned long to)
{
	return mremap((void *)from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		      (void *)to) == MAP_FAILED ?
		       -1 :
		       0;
}

int vdso_place(const struct bproc_image_mm *m, char *why, size_t whylen)
{
	static struct maps_range r[4096];
	unsigned long vdso = 0, vdso_end = 0, vvar = 0, vvar_end = 0, lo, hi,
		      cur_lo, cur_hi;
	unsigned long vdso_len = m->vdso_end - m->vdso_start,
		      vvar_len = m->vvar_end - m->vvar_start;
	int i, n = read_maps(r, 4096);

	if (n < 0) {
		snprintf(why, whylen, "cannot read /proc/self/maps");
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
		snprintf(why, whylen, "this process has no vDSO");
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
		unsigned long span = hi - lo, tmp;
		void *p = mmap(NULL, span, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			snprintf(why, whylen, "mmap: %s", strerror(errno));
			return -1;
		}
		tmp = (unsigned long)p;
		if (tmp < hi && tmp + span > lo) {
			munmap(p, span);
			return VDSO_IN_THE_WAY;
		}
		if (move(vvar, vvar_len, tmp + (m->vvar_start - lo)) ||
		    move(vdso, vdso_len, tmp + (m->vdso_start - lo))) {
			snprintf(why, whylen, "mremap of the vDSO: %s",
				 strerror(errno));
			return -1;
		}
		vvar = tmp + (m->vvar_start - lo);
		vdso = tmp + (m->vdso_start - lo);
	}
	if (move(vvar, vvar_len, m->vvar_start) ||
	    move(vdso, vdso_len, m->vdso_start)) {
		snprintf(why, whylen, "mremap of the vDSO: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}
