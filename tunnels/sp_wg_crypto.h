/*
 * The primitives of the WireGuard protocol (the WireGuard paper, 5.4),
 * each a thin wrapper: libsodium for X25519 and the two AEADs, OpenSSL for
 * BLAKE2s (hash and keyed MAC), which libsodium lacks. Pure.
 */
#ifndef SP_WG_CRYPTO_H
#define SP_WG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "sp_rng.h"

#define SP_WG_KEY 32
#define SP_WG_HASH 32
#define SP_WG_MAC 16
#define SP_WG_TAG 16
#define SP_WG_TAI64N 12

/* HASH(a || b): BLAKE2s-256. b may be NULL with blen 0. */
void sp_wg_hash(uint8_t out[SP_WG_HASH], const void *a, size_t alen, const void *b,
    size_t blen);
/* MAC(key, m): keyed BLAKE2s with 16 bytes of output. */
void sp_wg_mac(uint8_t out[SP_WG_MAC], const uint8_t *key, size_t keylen, const void *m,
    size_t len);
/* HMAC-BLAKE2s(key, a || b), RFC 2104 with BLAKE2s-256 (64-byte blocks). */
void sp_wg_hmac(uint8_t out[SP_WG_HASH], const uint8_t key[SP_WG_HASH], const void *a,
    size_t alen, const void *b, size_t blen);
/* KDF_n(key, input): t1, t2, t3 (t2, t3 may be NULL for KDF1, KDF2). */
void sp_wg_kdf(const uint8_t key[SP_WG_HASH], const void *in, size_t inlen,
    uint8_t t1[SP_WG_HASH], uint8_t *t2, uint8_t *t3);

/* ChaCha20-Poly1305 with the nonce 0^32 || counter (little endian). out
 * receives len + 16 bytes; open returns SP_ECRYPTO if the tag is wrong. */
void sp_wg_aead_seal(uint8_t *out, const uint8_t key[SP_WG_KEY], uint64_t counter,
    const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen);
int sp_wg_aead_open(uint8_t *out, const uint8_t key[SP_WG_KEY], uint64_t counter,
    const uint8_t *ct, size_t len, const uint8_t *ad, size_t adlen);
/* XChaCha20-Poly1305 (cookies). */
void sp_wg_xaead_seal(uint8_t *out, const uint8_t key[SP_WG_KEY], const uint8_t nonce[24],
    const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen);
int sp_wg_xaead_open(uint8_t *out, const uint8_t key[SP_WG_KEY], const uint8_t nonce[24],
    const uint8_t *ct, size_t len, const uint8_t *ad, size_t adlen);

/* X25519; SP_ECRYPTO when the result is all zeros (a low-order point). */
int sp_wg_dh(uint8_t out[SP_WG_KEY], const uint8_t priv[SP_WG_KEY],
    const uint8_t pub[SP_WG_KEY]) __attribute__((warn_unused_result));
void sp_wg_pubkey(uint8_t pub[SP_WG_KEY], const uint8_t priv[SP_WG_KEY]);
/* A new clamped private key. */
void sp_wg_genkey(const sp_rng *rng, uint8_t priv[SP_WG_KEY]);

/* TAI64N of a wall-clock time: 2^62 + seconds (big endian), nanoseconds. */
void sp_wg_tai64n(uint8_t out[SP_WG_TAI64N], int64_t sec, uint32_t nsec);

#endif
