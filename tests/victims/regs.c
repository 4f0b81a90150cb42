// SPDX-License-Identifier: GPL-2.0
/*
 * regs - general registers (rbx, r8-r10, r12-r15), vector registers
 * (xmm0-15, or ymm0-15 with AVX) and MXCSR holding known values across the
 * dump and restore. The values sit in the registers themselves while the
 * process waits (in pause(2), in nanosleep(2) or spinning in user space),
 * inside one asm block.
 */
#include <stdint.h>

#include "victim.h"

struct regstate {
	uint8_t vin[16 * 32]; /* 0 */
	uint8_t vout[16 * 32]; /* 512 */
	uint64_t gin[8]; /* 1024: rbx r8 r9 r10 r12 r13 r14 r15 */
	uint64_t gout[8]; /* 1088 */
	struct timespec req; /* 1152 */
	int64_t ret; /* 1168 */
	uint32_t mxcsr_in; /* 1176 */
	uint32_t mxcsr_out; /* 1180 */
	volatile sig_atomic_t *flag; /* 1184 */
};

#define REGS16 "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"
#define LOAD_YMM ".irp n," REGS16 "\n vmovdqu \\n*32(%%rdx), %%ymm\\n\n .endr\n"
#define STORE_YMM \
	".irp n," REGS16 "\n vmovdqu %%ymm\\n, 512+\\n*32(%%rdx)\n .endr\n"
#define LOAD_XMM ".irp n," REGS16 "\n movdqu \\n*32(%%rdx), %%xmm\\n\n .endr\n"
#define STORE_XMM \
	".irp n," REGS16 "\n movdqu %%xmm\\n, 512+\\n*32(%%rdx)\n .endr\n"
#define LOAD_GPRS                                                                   \
	"ldmxcsr 1176(%%rdx)\n mov 1024(%%rdx), %%rbx\n mov 1032(%%rdx), %%r8\n"    \
	"mov 1040(%%rdx), %%r9\n mov 1048(%%rdx), %%r10\n mov 1056(%%rdx), %%r12\n" \
	"mov 1064(%%rdx), %%r13\n mov 1072(%%rdx), %%r14\n mov 1080(%%rdx), %%r15\n"
#define STORE_GPRS                                                                  \
	"stmxcsr 1180(%%rdx)\n mov %%rbx, 1088(%%rdx)\n mov %%r8, 1096(%%rdx)\n"    \
	"mov %%r9, 1104(%%rdx)\n mov %%r10, 1112(%%rdx)\n mov %%r12, 1120(%%rdx)\n" \
	"mov %%r13, 1128(%%rdx)\n mov %%r14, 1136(%%rdx)\n mov %%r15, 1144(%%rdx)\n"
/* The kernel keeps all but rax, rcx and r11 across a system call. */
#define WAIT_PAUSE \
	"1: mov $34, %%eax\n syscall\n mov 1184(%%rdx), %%rax\n cmpl $0, (%%rax)\n je 1b\n"
#define WAIT_BUSY "1: mov 1184(%%rdx), %%rax\n cmpl $0, (%%rax)\n je 1b\n"
#define WAIT_SLEEP                                                               \
	"lea 1152(%%rdx), %%rdi\n xor %%esi, %%esi\n mov $35, %%eax\n syscall\n" \
	"mov %%rax, 1168(%%rdx)\n"
#define RUN(loadv, wait, storev)                                               \
	asm volatile(loadv LOAD_GPRS wait storev STORE_GPRS                    \
		     :                                                         \
		     : "d"(st)                                                 \
		     : "rax", "rbx", "rcx", "rdi", "rsi", "r8", "r9", "r10",   \
		       "r11", "r12", "r13", "r14", "r15", "memory", "cc",      \
		       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", \
		       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",      \
		       "xmm13", "xmm14", "xmm15")

int main(int argc, char **argv)
{
	static struct regstate state;
	struct regstate *st = &state;
	const char *mode = argc > 1 ? argv[1] : "pause";
	int avx = !!__builtin_cpu_supports("avx"), width = avx ? 32 : 16, i, j;
	double t0, slept;

	victim_setup();
	for (i = 0; i < 16 * 32; i++)
		st->vin[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < 8; i++)
		st->gin[i] =
			0x0123456789abcdefULL * (i + 1) ^ 0x5a5a5a5a5a5a5a5aULL;
	st->mxcsr_in = 0x1f80 | (1 << 13); /* all masked, round down */
	st->req.tv_sec =
		getenv("VICTIM_SLEEP") ? atoi(getenv("VICTIM_SLEEP")) : 4;
	st->ret = -1;
	st->flag = &victim_woken;
	printf("avx %d\n", avx);
	victim_ready();
	t0 = victim_now();

	if (!strcmp(mode, "pause")) {
		if (avx)
			RUN(LOAD_YMM, WAIT_PAUSE, STORE_YMM);
		else
			RUN(LOAD_XMM, WAIT_PAUSE, STORE_XMM);
	} else if (!strcmp(mode, "busy")) {
		if (avx)
			RUN(LOAD_YMM, WAIT_BUSY, STORE_YMM);
		else
			RUN(LOAD_XMM, WAIT_BUSY, STORE_XMM);
	} else if (!strcmp(mode, "nanosleep")) {
		if (avx)
			RUN(LOAD_YMM, WAIT_SLEEP, STORE_YMM);
		else
			RUN(LOAD_XMM, WAIT_SLEEP, STORE_XMM);
		slept = victim_now() - t0;
		victim_check(st->ret == 0, "nanosleep returned %lld",
			     (long long)st->ret);
		victim_check(slept >= st->req.tv_sec - victim_slack(),
			     "slept %.2fs", slept);
	} else {
		printf("FAIL: unknown mode %s\n", mode);
		return 2;
	}

	for (i = 0; i < 16; i++)
		for (j = 0; j < width; j++)
			if (st->vout[i * 32 + j] != st->vin[i * 32 + j]) {
				victim_check(0, "%cmm%d byte %d: %#x != %#x",
					     avx ? 'y' : 'x', i, j,
					     st->vout[i * 32 + j],
					     st->vin[i * 32 + j]);
				break;
			}
	for (i = 0; i < 8; i++)
		victim_check(st->gout[i] == st->gin[i],
			     "general register %d: %#llx != %#llx", i,
			     (unsigned long long)st->gout[i],
			     (unsigned long long)st->gin[i]);
	victim_check(st->mxcsr_out == st->mxcsr_in, "mxcsr %#x != %#x",
		     st->mxcsr_out, st->mxcsr_in);
	return victim_result();
}
