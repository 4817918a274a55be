/*
 * Keys: the zone's DNSSEC keys and a device's identity key.
 *
 * Every key is Ed25519 (DNSSEC algorithm 15, RFC 8080). A device's X25519
 * key for WireGuard is derived from its Ed25519 identity key (see
 * docs/keys.md for why), so one published key names and reaches a device.
 *
 * Pure functions (no I/O, no clock): generation from a seed, DNSKEY rdata,
 * key tag, DS digest, presentation text, file encoding, sealing. The
 * keystore functions at the end are the only ones that touch an sp_store.
 *
 * Secret material lives in sodium_malloc'd memory owned by the sp_key and
 * is wiped by sp_key_free(). No function here formats a secret for output.
 */
#ifndef SP_KEY_H
#define SP_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_platform.h"
#include "sp_rng.h"

#define SP_KEY_ALG_ED25519 15
#define SP_KEY_PUBLIC_BYTES 32
#define SP_KEY_SEED_BYTES 32
#define SP_KEY_SIG_BYTES 64
#define SP_KEY_ID_CHARS 16            /* hex digits of a key id */
#define SP_DNSKEY_RDATA_BYTES 36      /* flags, protocol, algorithm, key */
#define SP_DS_SHA256_BYTES 32
#define SP_DNSKEY_FLAG_ZONE 0x0100
#define SP_DNSKEY_FLAG_SEP 0x0001
#define SP_DNSKEY_FLAG_REVOKE 0x0080

typedef enum sp_key_role {
	SP_ROLE_KSK,     /* signs the DNSKEY RRset; its DS goes to the parent */
	SP_ROLE_ZSK,     /* signs every other RRset */
	SP_ROLE_DEVICE,  /* a device's identity; never signs DNS data */
} sp_key_role;

typedef enum sp_key_state {
	SP_KSTATE_ACTIVE,     /* published and used */
	SP_KSTATE_PUBLISHED,  /* published ahead of use (rollover) */
	SP_KSTATE_RETIRED,    /* published, no longer used (rollover) */
	SP_KSTATE_REVOKED,    /* withdrawn; kept for the record */
} sp_key_state;

/* What anybody may know about a key. A plain value: copy it freely. */
typedef struct sp_key_info {
	sp_key_role role;
	sp_key_state state;
	uint8_t algorithm;                 /* always 15 today */
	uint16_t flags;                    /* DNSKEY flags (0 for a device key) */
	uint16_t tag;                      /* RFC 4034 key tag of the DNSKEY */
	int64_t created;                   /* Unix seconds */
	int64_t since;                     /* when it entered its state */
	uint8_t pub[SP_KEY_PUBLIC_BYTES];
	char id[SP_KEY_ID_CHARS + 1];      /* hex of SHA-256(pub), first 8 bytes */
} sp_key_info;

typedef struct sp_key sp_key;

/* Parameters for sealing a private key with a passphrase. */
typedef struct sp_seal {
	const char *pass;          /* borrowed */
	size_t passlen;
	unsigned long long ops;    /* Argon2id passes; 0 = default */
	size_t mem;                /* Argon2id memory in bytes; 0 = default */
} sp_seal;

const char *sp_key_role_name(sp_key_role role);
const char *sp_key_state_name(sp_key_state state);
int sp_key_role_parse(const char *s, sp_key_role *out);
int sp_key_state_parse(const char *s, sp_key_state *out);
uint16_t sp_key_role_flags(sp_key_role role);

/* A new key from rng's randomness, or from a given seed. */
int sp_key_generate(sp_key_role role, int64_t created, const sp_rng *rng, sp_key **out)
	__attribute__((warn_unused_result));
int sp_key_from_seed(sp_key_role role, const uint8_t seed[SP_KEY_SEED_BYTES],
    int64_t created, sp_key **out) __attribute__((warn_unused_result));
/* Wipes and frees; NULL is a no-op. */
void sp_key_free(sp_key *key);

const sp_key_info *sp_key_info_of(const sp_key *key);
/* Change the state, recording when (rollover). */
void sp_key_set_state(sp_key *key, sp_key_state state, int64_t since);
/* 1 if the private half is loaded. */
int sp_key_has_secret(const sp_key *key);

/* The private half's 32-byte seed, for a library that must hold the key
 * itself (OpenSSL, for the gateway's TLS certificate). The caller keeps it
 * in sodium_malloc'd memory and wipes it. SP_EINVAL without the private
 * half. */
int sp_key_seed(const sp_key *key, uint8_t seed[SP_KEY_SEED_BYTES])
	__attribute__((warn_unused_result));

/* Ed25519 signature (deterministic). SP_EINVAL without the private half. */
int sp_key_sign(const sp_key *key, const uint8_t *msg, size_t len,
    uint8_t sig[SP_KEY_SIG_BYTES]) __attribute__((warn_unused_result));
int sp_key_verify(const uint8_t pub[SP_KEY_PUBLIC_BYTES], const uint8_t *msg,
    size_t len, const uint8_t sig[SP_KEY_SIG_BYTES]);

/* The WireGuard (X25519) key pair of a device key, and the public half
 * derived from a published Ed25519 key alone. */
int sp_key_x25519(const sp_key *key, uint8_t sk[32], uint8_t pk[32])
	__attribute__((warn_unused_result));
int sp_key_x25519_public(const uint8_t ed_pub[SP_KEY_PUBLIC_BYTES], uint8_t pk[32])
	__attribute__((warn_unused_result));

/*
 * An Ed25519 public key given as base64 (a device's identity key): 32
 * bytes, and a point usable for X25519 too. SP_EINVAL otherwise, with e
 * saying "must be a base64 Ed25519 public key (32 bytes)" or "is not a
 * valid Ed25519 public key", for the caller to prefix with what it was.
 */
int sp_key_public_parse(const char *b64, uint8_t pub[SP_KEY_PUBLIC_BYTES], sp_errmsg *e);

/* ---- DNS encodings (pure) --------------------------------------------- */

/* DNSKEY rdata: flags, protocol 3, algorithm 15, public key. */
void sp_dnskey_rdata(uint16_t flags, const uint8_t pub[SP_KEY_PUBLIC_BYTES],
    uint8_t out[SP_DNSKEY_RDATA_BYTES]);
/* RFC 4034 Appendix B key tag of DNSKEY rdata. */
uint16_t sp_keytag(const uint8_t *rdata, size_t len);
/* The id shown for a key: hex of the first 8 bytes of SHA-256(pub). */
void sp_key_id(const uint8_t pub[SP_KEY_PUBLIC_BYTES], char out[SP_KEY_ID_CHARS + 1]);

/*
 * Check and canonicalise a zone name: a valid DNS name of at least one
 * label, letters, digits and hyphens, lowercased, with the trailing dot.
 * out holds at least 256 bytes.
 */
int sp_zone_name_canon(const char *in, char *out, size_t outlen, sp_errmsg *e);
/* A device name: one label of [a-z0-9-], 1..63, no leading/trailing '-'. */
int sp_device_name_check(const char *name, sp_errmsg *e);

/* SHA-256 DS digest (RFC 4509) of a DNSKEY at zone (canonical name). */
int sp_ds_sha256(const char *zone, const uint8_t rdata[SP_DNSKEY_RDATA_BYTES],
    uint8_t out[SP_DS_SHA256_BYTES]);

/*
 * Presentation format, malloc'd, one record per line, as ldns prints it:
 * sp_key_dnskey_text: "zone.\tTTL\tIN\tDNSKEY\t257 3 15 base64\n";
 * sp_key_ds_text: "zone.\tTTL\tIN\tDS\ttag 15 2 hex\n", exactly what
 * `ldns-key2ds -n -2` prints for the same DNSKEY.
 */
int sp_key_dnskey_text(const sp_key_info *k, const char *zone, uint32_t ttl, char **out);
int sp_key_ds_text(const sp_key_info *k, const char *zone, uint32_t ttl, char **out);

/* Trust anchors for validators: BIND/delv "trust-anchors { ... static-ds }"
 * or unbound "trust-anchor: ..." lines, for every KSK in keys. */
enum sp_anchor_format { SP_ANCHOR_BIND, SP_ANCHOR_UNBOUND };
int sp_anchor_text(const sp_key_info *keys, size_t n, const char *zone,
    enum sp_anchor_format fmt, char **out);

/* ---- The key file (pure) ----------------------------------------------- */

/*
 * Seal the private key with a passphrase (Argon2id + XChaCha20-Poly1305;
 * salt and nonce from rng). The sealed form is kept with the key, so every
 * later encoding of it (a state change) is sealed without the Argon2id
 * work again. Slow by design: the daemon runs it off its loop.
 */
int sp_key_seal(sp_key *key, const sp_seal *seal, const sp_rng *rng)
	__attribute__((warn_unused_result));
/*
 * Encode a key as the text of its file (docs/keys.md): sealed if it was
 * read sealed or sealed with sp_key_seal, otherwise with the private key
 * in the clear (the file's mode protects it). The result holds secrets:
 * free it with sp_key_text_free().
 */
int sp_key_encode(const sp_key *key, char **out, size_t *len)
	__attribute__((warn_unused_result));
void sp_key_text_free(char *text, size_t len);

/*
 * Decode a key file. With want_secret == 0 only the public part is read
 * and no passphrase is needed. Errors: SP_ECORRUPT (truncated, altered,
 * or the private key does not match the public one), SP_ENEEDPASS,
 * SP_EPASSPHRASE, SP_EUNSUPP (a newer format or another algorithm).
 * The message in e does not name the file; callers add it.
 */
int sp_key_decode(const char *text, size_t len, const char *pass, size_t passlen,
    int want_secret, sp_key **out, sp_errmsg *e) __attribute__((warn_unused_result));

/* ---- The keystore: keys/<role>-<id>.key in an sp_store -------------------- */

/* Save a new key as sp_key_encode writes it; SP_EEXIST if a key with
 * that name exists. */
int sp_keystore_add(sp_store *s, const sp_key *key, sp_errmsg *e)
	__attribute__((warn_unused_result));
/* Rewrite a stored key after a state change (atomically), sealed if the
 * key is. */
int sp_keystore_update(sp_store *s, const sp_key *key, sp_errmsg *e)
	__attribute__((warn_unused_result));
/* Delete a key's file: its private half is gone for good. */
int sp_keystore_remove(sp_store *s, const sp_key_info *key, sp_errmsg *e)
	__attribute__((warn_unused_result));
/* Public information of every key, sorted by file name. *out is malloc'd. */
int sp_keystore_list(sp_store *s, sp_key_info **out, size_t *n, sp_errmsg *e)
	__attribute__((warn_unused_result));
/* Load every key with its private half; on failure nothing is returned. */
int sp_keystore_load_all(sp_store *s, const char *pass, size_t passlen,
    sp_key ***out, size_t *n, sp_errmsg *e) __attribute__((warn_unused_result));
void sp_keystore_free_all(sp_key **keys, size_t n);
/* The file name a key is stored under (without the "keys/" folder). */
void sp_keystore_name(const sp_key_info *k, char out[64]);

/* Read a passphrase from the first line of a file into sodium_malloc'd
 * memory; free with sp_passphrase_free. Empty passphrases are refused. */
int sp_passphrase_read(const char *path, char **pass, size_t *len, sp_errmsg *e)
	__attribute__((warn_unused_result));
void sp_passphrase_free(char *pass, size_t len);

#endif
