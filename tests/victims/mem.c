// SPDX-License-Identifier: GPL-2.0
/*
 * mem - heap, stack and mmap'd memory with known patterns, an mprotect'd
 * read-only region, a PROT_NONE region holding data, a partly unmapped
 * region, zero pages, and brk growth after the restore.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "victim.h"

#define PAGE 4096

static uint32_t pattern(uintptr_t where, uint32_t seed)
{
	uint32_t x = (uint32_t)where * 2654435761u ^ seed;

	return x ? x : 1;
}

static void fill(void *p, size_t len, uint32_t seed)
{
	uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		w[i] = pattern(i, seed);
}

static int check(const void *p, size_t len, uint32_t seed)
{
	const uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		if (w[i] != pattern(i, seed))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	size_t heap_len = 3 << 20, big_len = 8 << 20;
	char stack[64 * 1024];
	char *heap, *big, *ro, *none, *holes, *zeros, *more;
	size_t i;

	victim_setup();
	heap = malloc(heap_len);
	big = mmap(NULL, big_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	holes = mmap(NULL, 12 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zeros = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!heap || big == MAP_FAILED || ro == MAP_FAILED ||
	    none == MAP_FAILED || holes == MAP_FAILED || zeros == MAP_FAILED) {
		printf("FAIL: setup\n");
		return 1;
	}
	fill(heap, heap_len, 1);
	fill(stack, sizeof(stack), 2);
	/* Every other 64 KiB of big stays untouched. */
	for (i = 0; i < big_len; i += 128 * 1024)
		fill(big + i, 64 * 1024, 3 + (uint32_t)i);
	fill(ro, 16 * PAGE, 4);
	mprotect(ro, 16 * PAGE, PROT_READ);
	fill(none, 4 * PAGE, 5);
	mprotect(none, 4 * PAGE, PROT_NONE);
	fill(holes, 12 * PAGE, 6);
	munmap(holes + 4 * PAGE, 3 * PAGE);
	memset(zeros, 0, 64 * PAGE); /* touched, all zero */
	zeros[10 * PAGE + 7] = 42;

	victim_ready();
	victim_wait(argc > 1 ? argv[1] : "pause");

	victim_check(check(heap, heap_len, 1), "heap pattern");
	victim_check(check(stack, sizeof(stack), 2), "stack pattern");
	for (i = 0; i < big_len; i += 128 * 1024) {
		victim_check(check(big + i, 64 * 1024, 3 + (uint32_t)i),
			     "mmap pattern at %zu", i);
		victim_check(big[i + 64 * 1024] == 0 &&
				     big[i + 128 * 1024 - 1] == 0,
			     "untouched mmap memory at %zu not zero", i);
	}
	victim_check(check(ro, 16 * PAGE, 4), "read-only pattern");
	victim_check(mprotect(none, 4 * PAGE, PROT_READ) == 0,
		     "mprotect PROT_NONE region");
	victim_check(check(none, 4 * PAGE, 5), "PROT_NONE region pattern");
	victim_check(check(holes, 4 * PAGE, 6), "region before the hole");
	victim_check(msync(holes + 4 * PAGE, PAGE, MS_ASYNC) == -1 &&
			     errno == ENOMEM,
		     "the hole is mapped");
	for (i = 0; i < 64 * PAGE; i++)
		if (zeros[i] != (i == 10 * PAGE + 7 ? 42 : 0))
			break;
	victim_check(i == 64 * PAGE, "zero pages differ at %zu", i);
	/* brk and malloc keep working. */
	more = malloc(8 << 20);
	victim_check(more != NULL, "malloc after restore");
	if (more) {
		fill(more, 8 << 20, 7);
		victim_check(check(more, 8 << 20, 7), "new memory");
	}
	victim_check(sbrk(1 << 20) != (void *)-1, "sbrk after restore");
	return victim_result();
}
