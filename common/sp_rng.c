/* The seeded generator of sp_rng.h; the system one is in platform_linux.c. */
#include "sp_rng.h"

#include <sodium.h>
#include <string.h>

static void
seeded_fill(void *ctx, void *buf, size_t len)
{
	sp_rng_seeded *s = ctx;
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
	uint64_t n = s->calls++;

	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(n >> (8 * i));
	crypto_stream_chacha20(buf, len, nonce, s->key);
}

void
sp_rng_seeded_init(sp_rng_seeded *s, uint64_t seed)
{
	uint8_t in[8];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(seed >> (8 * i));
	crypto_generichash(s->key, sizeof(s->key), in, sizeof(in), NULL, 0);
	s->calls = 0;
	s->rng.fill = seeded_fill;
	s->rng.ctx = s;
}
