// SPDX-License-Identifier: GPL-2.0
/*
 * mac_bench [MIB] - how fast the MACs a frame could carry run here, over
 * MIB (default 64) MiB in 1 MiB frames, each with a key of its own as the
 * protocol does (include/bproc/proto.h): SipHash-2-4-128 (what frames
 * carry), keyed BLAKE2b-128 and Poly1305, all libsodium's. Prints MB/s.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME (1u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void report(const char *name, size_t bytes, double s)
{
	printf("%-12s %8.1f MB/s\n", name, bytes / 1e6 / s);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64, i;
	size_t bytes = mib * FRAME;
	uint8_t key[32] = { 1 }, out[16], *buf;
	double t;

	if (sodium_init() < 0 || !mib || !(buf = malloc(FRAME)))
		return 1;
	memset(buf, 0x5a, FRAME);

	t = now();
	for (i = 0; i < mib; i++) {
		key[0] = (uint8_t)i;
		crypto_shorthash_siphashx24(out, buf, FRAME, key);
	}
	report("siphashx24", bytes, now() - t);

	t = now();
	for (i = 0; i < mib; i++) {
		key[0] = (uint8_t)i;
		crypto_generichash(out, 16, buf, FRAME, key, 32);
	}
	report("blake2b", bytes, now() - t);

	t = now();
	for (i = 0; i < mib; i++) {
		key[0] = (uint8_t)i;
		crypto_onetimeauth(out, buf, FRAME, key);
	}
	report("poly1305", bytes, now() - t);
	free(buf);
	return 0;
}
