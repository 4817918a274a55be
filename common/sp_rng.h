/*
 * Randomness as an argument.
 *
 * Protocol cores never call a system random number generator: whatever
 * needs random bytes (keys, handshake ephemerals, session indexes, cookie
 * secrets, hash keys, pairing tokens) takes an sp_rng. The daemon passes
 * the platform's generator (sp_platform_rng(), sp_platform.h); tests and
 * fuzzers pass a seeded one and get the same bytes on every run.
 *
 * An sp_rng is borrowed: whoever keeps one keeps it alive.
 */
#ifndef SP_RNG_H
#define SP_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sp_rng {
	void (*fill)(void *ctx, void *buf, size_t len);
	void *ctx;
} sp_rng;

static inline void
sp_rng_fill(const sp_rng *r, void *buf, size_t len)
{
	r->fill(r->ctx, buf, len);
}

/*
 * A deterministic generator: the ChaCha20 keystream of a 32-byte seed
 * made from the given number, one nonce per call. Not for secrets outside
 * tests. Initialise, then use &s->rng.
 */
typedef struct sp_rng_seeded {
	sp_rng rng;
	uint8_t key[32];
	uint64_t calls;
} sp_rng_seeded;

void sp_rng_seeded_init(sp_rng_seeded *s, uint64_t seed);

#endif
