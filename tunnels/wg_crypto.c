#include "sp_wg_crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <string.h>

#include "sp_err.h"
#include "sp_log.h"

#define BLAKE2S_BLOCK 64

void
sp_wg_hash(uint8_t out[SP_WG_HASH], const void *a, size_t alen, const void *b, size_t blen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_blake2s256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SP_WG_HASH)
		sp_fatal("BLAKE2s is not available from OpenSSL");
	EVP_MD_CTX_free(ctx);
}

void
sp_wg_mac(uint8_t out[SP_WG_MAC], const uint8_t *key, size_t keylen, const void *m, size_t len)
{
	static EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	size_t outlen = SP_WG_MAC, got = 0;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
		OSSL_PARAM_construct_end(),
	};

	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL)) == NULL)
		sp_fatal("keyed BLAKE2s is not available from OpenSSL");
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, key, keylen, params) != 1 || EVP_MAC_update(ctx, m, len) != 1 ||
	    EVP_MAC_final(ctx, out, &got, SP_WG_MAC) != 1 || got != SP_WG_MAC)
		sp_fatal("keyed BLAKE2s failed");
	EVP_MAC_CTX_free(ctx);
}

void
sp_wg_hmac(uint8_t out[SP_WG_HASH], const uint8_t key[SP_WG_HASH], const void *a, size_t alen,
    const void *b, size_t blen)
{
	uint8_t pad[BLAKE2S_BLOCK], inner[SP_WG_HASH];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	/* Keys here are 32 bytes, shorter than a block: no pre-hashing. */
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < SP_WG_HASH; i++)
		pad[i] ^= key[i];
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_blake2s256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pad, sizeof(pad)) != 1 ||
	    (alen > 0 && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, inner, &n) != 1)
		sp_fatal("BLAKE2s is not available from OpenSSL");
	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < SP_WG_HASH; i++)
		pad[i] ^= key[i];
	if (EVP_DigestInit_ex(ctx, EVP_blake2s256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pad, sizeof(pad)) != 1 ||
	    EVP_DigestUpdate(ctx, inner, sizeof(inner)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		sp_fatal("BLAKE2s is not available from OpenSSL");
	EVP_MD_CTX_free(ctx);
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

void
sp_wg_kdf(const uint8_t key[SP_WG_HASH], const void *in, size_t inlen, uint8_t t1[SP_WG_HASH],
    uint8_t *t2, uint8_t *t3)
{
	uint8_t t0[SP_WG_HASH], prev[SP_WG_HASH], i;

	sp_wg_hmac(t0, key, in, inlen, NULL, 0);
	i = 1;
	sp_wg_hmac(prev, t0, &i, 1, NULL, 0);
	memcpy(t1, prev, SP_WG_HASH);
	if (t2 != NULL) {
		i = 2;
		sp_wg_hmac(prev, t0, prev, SP_WG_HASH, &i, 1);
		memcpy(t2, prev, SP_WG_HASH);
	}
	if (t3 != NULL) {
		i = 3;
		sp_wg_hmac(prev, t0, prev, SP_WG_HASH, &i, 1);
		memcpy(t3, prev, SP_WG_HASH);
	}
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(prev, sizeof(prev));
}

static void
nonce_of(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void
sp_wg_aead_seal(uint8_t *out, const uint8_t key[SP_WG_KEY], uint64_t counter,
    const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[12];

	nonce_of(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen, NULL, nonce, key);
}

int
sp_wg_aead_open(uint8_t *out, const uint8_t key[SP_WG_KEY], uint64_t counter,
    const uint8_t *ct, size_t len, const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[12];

	nonce_of(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, adlen,
	    nonce, key) != 0)
		return SP_ECRYPTO;
	return SP_OK;
}

void
sp_wg_xaead_seal(uint8_t *out, const uint8_t key[SP_WG_KEY], const uint8_t nonce[24],
    const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen)
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen, NULL, nonce, key);
}

int
sp_wg_xaead_open(uint8_t *out, const uint8_t key[SP_WG_KEY], const uint8_t nonce[24],
    const uint8_t *ct, size_t len, const uint8_t *ad, size_t adlen)
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, adlen,
	    nonce, key) != 0)
		return SP_ECRYPTO;
	return SP_OK;
}

int
sp_wg_dh(uint8_t out[SP_WG_KEY], const uint8_t priv[SP_WG_KEY], const uint8_t pub[SP_WG_KEY])
{
	/* libsodium refuses an all-zero shared secret, which is what the
	 * protocol asks for too. */
	return crypto_scalarmult(out, priv, pub) == 0 ? SP_OK : SP_ECRYPTO;
}

void
sp_wg_pubkey(uint8_t pub[SP_WG_KEY], const uint8_t priv[SP_WG_KEY])
{
	crypto_scalarmult_base(pub, priv);
}

void
sp_wg_genkey(const sp_rng *rng, uint8_t priv[SP_WG_KEY])
{
	sp_rng_fill(rng, priv, SP_WG_KEY);
	priv[0] &= 248;
	priv[31] = (uint8_t)((priv[31] & 127) | 64);
}

void
sp_wg_tai64n(uint8_t out[SP_WG_TAI64N], int64_t sec, uint32_t nsec)
{
	uint64_t s = (uint64_t)0x400000000000000aULL + (uint64_t)sec;

	/* TAI64 labels are 2^62 + TAI seconds; TAI is 10 s ahead of UTC at
	 * the epoch, which is what the reference implementations add. Only
	 * the order matters to a responder. */
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(s >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}
