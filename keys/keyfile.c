/*
 * The key file format (docs/keys.md), encoded and decoded without I/O.
 *
 *   signpost-key 1
 *   role ksk
 *   algorithm 15
 *   state active
 *   created 2026-11-23T01:46:12Z
 *   since 2026-11-23T01:46:12Z      (when it entered its state)
 *   public <base64 of the Ed25519 public key>
 *   secret <base64 of the 32-byte seed>                    (or)
 *   sealed argon2id13 <ops> <mem> <salt> <nonce> <check> <ciphertext>
 *   checksum <hex SHA-256 of every byte before this line>
 *
 * The checksum catches truncation and accidental damage; the seal's AEAD
 * binds the private key to the role, algorithm and public key; the check
 * value tells a wrong passphrase from a damaged ciphertext.
 */
#define _GNU_SOURCE
#include "key_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_time.h"
#include "sp_wire.h"

#define KEYFILE_VERSION 1
#define SEAL_KDF_CONTEXT "sp-seal1"
#define SEAL_CHECK_BYTES 16
#define SEAL_MAX_OPS 16ULL
#define SEAL_MAX_MEM (1024UL * 1024UL * 1024UL)
#define B64(n) sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL)

static void
seal_aad(const sp_key_info *k, uint8_t aad[48], size_t *len)
{
	sp_wire w = sp_wire_writer(aad, 48);

	sp_wire_put_str(&w, "sp-key1");
	sp_wire_put_u8(&w, (uint8_t)k->role);
	sp_wire_put_u8(&w, k->algorithm);
	sp_wire_put(&w, k->pub, SP_KEY_PUBLIC_BYTES);
	*len = sp_wire_used(&w);
}

/* Derive the sealing key and the passphrase check value. */
static int
seal_derive(const char *pass, size_t passlen, const uint8_t salt[crypto_pwhash_SALTBYTES],
    unsigned long long ops, size_t mem, unsigned char *enc_key,
    uint8_t check[SEAL_CHECK_BYTES])
{
	unsigned char *master = sodium_malloc(32);
	int rc = SP_OK;

	if (master == NULL)
		return SP_ENOMEM;
	if (crypto_pwhash(master, 32, pass, passlen, salt, ops, mem,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		rc = SP_ENOMEM;   /* the only failure is not getting the memory */
	else if (crypto_kdf_derive_from_key(enc_key, 32, 1, SEAL_KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(check, SEAL_CHECK_BYTES, 2, SEAL_KDF_CONTEXT, master) != 0)
		rc = SP_ECRYPTO;
	sodium_free(master);
	return rc;
}

static int
seal_line(const sp_key *k, const sp_seal *seal, const sp_rng *rng, char **out)
{
	uint8_t salt[crypto_pwhash_SALTBYTES];
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t check[SEAL_CHECK_BYTES], aad[48];
	uint8_t ct[SP_KEY_SEED_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	char salt64[B64(sizeof(salt))], nonce64[B64(sizeof(nonce))];
	char check64[B64(sizeof(check))], ct64[B64(sizeof(ct))];
	unsigned long long ops = seal->ops ? seal->ops : crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = seal->mem ? seal->mem : crypto_pwhash_MEMLIMIT_INTERACTIVE;
	unsigned char *enc_key;
	size_t aadlen;
	int rc;

	if (seal->passlen == 0)
		return SP_EINVAL;
	if ((enc_key = sodium_malloc(32)) == NULL)
		return SP_ENOMEM;
	sp_rng_fill(rng, salt, sizeof(salt));
	sp_rng_fill(rng, nonce, sizeof(nonce));
	rc = seal_derive(seal->pass, seal->passlen, salt, ops, mem, enc_key, check);
	if (rc == SP_OK) {
		seal_aad(&k->info, aad, &aadlen);
		/* The seed is the first half of libsodium's secret key. */
		crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, k->sk,
		    SP_KEY_SEED_BYTES, aad, aadlen, NULL, nonce, enc_key);
	}
	sodium_free(enc_key);
	if (rc != SP_OK)
		return rc;
	sodium_bin2base64(salt64, sizeof(salt64), salt, sizeof(salt), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(nonce64, sizeof(nonce64), nonce, sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(check64, sizeof(check64), check, sizeof(check), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(ct64, sizeof(ct64), ct, sizeof(ct), sodium_base64_VARIANT_ORIGINAL);
	if (asprintf(out, "sealed argon2id13 %llu %zu %s %s %s %s", ops, mem,
	    salt64, nonce64, check64, ct64) < 0)
		return SP_ENOMEM;
	return SP_OK;
}

int
sp_key_seal(sp_key *k, const sp_seal *seal, const sp_rng *rng)
{
	char *line;
	int rc;

	if (k->sk == NULL)
		return SP_EINVAL;
	if ((rc = seal_line(k, seal, rng, &line)) != SP_OK)
		return rc;
	if (k->sealed != NULL)
		sp_key_text_free(k->sealed, strlen(k->sealed));
	k->sealed = line;
	return SP_OK;
}

int
sp_key_encode(const sp_key *k, char **out, size_t *len)
{
	char created[SP_TIME_TEXT], since[SP_TIME_TEXT], pub64[B64(SP_KEY_PUBLIC_BYTES)], sum[65];
	char *secret_line = NULL, *buf = NULL;
	uint8_t digest[crypto_hash_sha256_BYTES];
	size_t blen = 0;
	FILE *f;
	int rc;

	if (k->sk == NULL && k->sealed == NULL)
		return SP_EINVAL;
	if (k->sealed != NULL) {
		if ((secret_line = strdup(k->sealed)) == NULL)
			return SP_ENOMEM;
	} else {
		char seed64[B64(SP_KEY_SEED_BYTES)];
		sodium_bin2base64(seed64, sizeof(seed64), k->sk, SP_KEY_SEED_BYTES,
		    sodium_base64_VARIANT_ORIGINAL);
		rc = asprintf(&secret_line, "secret %s", seed64);
		sodium_memzero(seed64, sizeof(seed64));
		if (rc < 0)
			return SP_ENOMEM;
	}
	sp_time_format(k->info.created, created);
	sp_time_format(k->info.since, since);
	sodium_bin2base64(pub64, sizeof(pub64), k->info.pub, SP_KEY_PUBLIC_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);

	/* open_memstream grows its buffer by realloc, which would leave copies
	 * of the secret behind in freed memory; write into a fixed buffer big
	 * enough for any key file instead. */
	blen = 1024;
	if ((buf = malloc(blen)) == NULL) {
		sp_key_text_free(secret_line, strlen(secret_line));
		return SP_ENOMEM;
	}
	f = fmemopen(buf, blen, "w");
	if (f == NULL) {
		sp_key_text_free(secret_line, strlen(secret_line));
		free(buf);
		return SP_ENOMEM;
	}
	setvbuf(f, NULL, _IONBF, 0);
	fprintf(f, "signpost-key %d\nrole %s\nalgorithm %u\nstate %s\ncreated %s\n"
	    "since %s\npublic %s\n%s\n", KEYFILE_VERSION, sp_key_role_name(k->info.role),
	    k->info.algorithm, sp_key_state_name(k->info.state), created, since, pub64,
	    secret_line);
	long pos = ftell(f);
	fclose(f);
	sp_key_text_free(secret_line, strlen(secret_line));
	if (pos <= 0 || (size_t)pos + 80 > blen) {
		sp_key_text_free(buf, blen);
		return SP_ESPACE;
	}
	crypto_hash_sha256(digest, (const unsigned char *)buf, (size_t)pos);
	sodium_bin2hex(sum, sizeof(sum), digest, sizeof(digest));
	pos += snprintf(buf + pos, blen - (size_t)pos, "checksum %s\n", sum);
	*out = buf;
	*len = (size_t)pos;
	return SP_OK;
}

void
sp_key_text_free(char *text, size_t len)
{
	if (text == NULL)
		return;
	sodium_memzero(text, len);
	free(text);
}

/* ---- decoding ---------------------------------------------------------- */

enum field { F_ROLE, F_ALG, F_STATE, F_CREATED, F_PUBLIC, F_SECRET, F_SEALED, F_SINCE, F_COUNT };
static const char *const field_names[F_COUNT] = {
	"role", "algorithm", "state", "created", "public", "secret", "sealed", "since",
};

struct parsed {
	char val[F_COUNT][512];
	int seen[F_COUNT];
};

static int
b64_exact(const char *s, uint8_t *out, size_t n)
{
	size_t got;

	if (sodium_base642bin(out, n, s, strlen(s), NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != n)
		return SP_EINVAL;
	return SP_OK;
}

static int
unseal(sp_key *k, const char *line, const char *pass, size_t passlen, sp_errmsg *e)
{
	char alg[32], salt64[64], nonce64[64], check64[64], ct64[128];
	uint8_t salt[crypto_pwhash_SALTBYTES];
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t check[SEAL_CHECK_BYTES], want[SEAL_CHECK_BYTES], aad[48];
	uint8_t ct[SP_KEY_SEED_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	unsigned long long ops;
	size_t mem, aadlen;
	unsigned char *enc_key, *seed;
	sp_key *full;
	int rc;

	if (sscanf(line, "%31s %llu %zu %63s %63s %63s %127s", alg, &ops, &mem,
	    salt64, nonce64, check64, ct64) != 7 || strcmp(alg, "argon2id13") != 0 ||
	    b64_exact(salt64, salt, sizeof(salt)) != SP_OK ||
	    b64_exact(nonce64, nonce, sizeof(nonce)) != SP_OK ||
	    b64_exact(check64, check, sizeof(check)) != SP_OK ||
	    b64_exact(ct64, ct, sizeof(ct)) != SP_OK)
		return sp_errf(e, SP_ECORRUPT, "the sealed private key is malformed");
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > SEAL_MAX_OPS ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > SEAL_MAX_MEM)
		return sp_errf(e, SP_ECORRUPT,
		    "the sealed private key has out-of-range Argon2id parameters");
	if (pass == NULL)
		return sp_errf(e, SP_ENEEDPASS,
		    "the private key is sealed; a passphrase is needed (--passphrase-file)");
	if ((enc_key = sodium_malloc(32)) == NULL)
		return SP_ENOMEM;
	if ((seed = sodium_malloc(SP_KEY_SEED_BYTES)) == NULL) {
		sodium_free(enc_key);
		return SP_ENOMEM;
	}
	rc = seal_derive(pass, passlen, salt, ops, mem, enc_key, want);
	if (rc != SP_OK)
		goto out;
	if (sodium_memcmp(want, check, sizeof(want)) != 0) {
		rc = sp_errf(e, SP_EPASSPHRASE, "wrong passphrase");
		goto out;
	}
	seal_aad(&k->info, aad, &aadlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed, NULL, NULL, ct,
	    sizeof(ct), aad, aadlen, nonce, enc_key) != 0) {
		rc = sp_errf(e, SP_ECORRUPT,
		    "the passphrase is right but the sealed private key is damaged");
		goto out;
	}
	if ((rc = sp_key_from_seed(k->info.role, seed, k->info.created, &full)) != SP_OK)
		goto out;
	if (sodium_memcmp(full->info.pub, k->info.pub, SP_KEY_PUBLIC_BYTES) != 0) {
		sp_key_free(full);
		rc = sp_errf(e, SP_ECORRUPT, "the private key does not match the public key");
		goto out;
	}
	k->sk = full->sk;
	full->sk = NULL;
	sp_key_free(full);
out:
	sodium_free(enc_key);
	sodium_free(seed);
	return rc;
}

static int
parse_fields(const char *text, size_t len, struct parsed *p, sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	const char *line;
	size_t n, lineno = 0, body_end = 0;
	bool had_lf, got_sum = false;

	while (sp_wire_line(&r, &line, &n, &had_lf)) {
		const char *sp = memchr(line, ' ', n);
		size_t klen = sp != NULL ? (size_t)(sp - line) : n;
		size_t vlen = sp != NULL ? n - klen - 1 : 0;
		char key[32];

		lineno++;
		if (got_sum)
			return sp_errf(e, SP_ECORRUPT, "line %zu: data after the checksum", lineno);
		if (!had_lf || memchr(line, '\0', n) != NULL)
			return sp_errf(e, SP_ECORRUPT, "truncated: line %zu is incomplete", lineno);
		if (sp == NULL || klen >= sizeof(key) || vlen == 0 || vlen >= sizeof(p->val[0]))
			return sp_errf(e, SP_ECORRUPT, "line %zu: malformed", lineno);
		memcpy(key, line, klen);
		key[klen] = '\0';
		if (lineno == 1) {
			char num[16], *end;
			long v;
			if (strcmp(key, "signpost-key") != 0)
				return sp_errf(e, SP_ECORRUPT, "not a signpost key file");
			/* The text is not NUL-terminated: strtol gets a copy. */
			if (vlen >= sizeof(num))
				return sp_errf(e, SP_ECORRUPT, "line 1: bad version");
			memcpy(num, line + klen + 1, vlen);
			num[vlen] = '\0';
			errno = 0;
			v = strtol(num, &end, 10);
			if (*end != '\0' || errno != 0 || v < 1)
				return sp_errf(e, SP_ECORRUPT, "line 1: bad version");
			if (v != KEYFILE_VERSION)
				return sp_errf(e, SP_EUNSUPP,
				    "key file version %ld is newer than this program (%d)",
				    v, KEYFILE_VERSION);
			continue;
		}
		if (strcmp(key, "checksum") == 0) {
			uint8_t want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
			char hex[2 * sizeof(got) + 1];
			size_t bin;

			/* Lowercase only: one file has exactly one valid checksum
			 * line, so no bit of the file can change unnoticed. */
			if (vlen != 2 * sizeof(got) ||
			    strspn(line + klen + 1, "0123456789abcdef") < vlen)
				return sp_errf(e, SP_ECORRUPT, "line %zu: malformed checksum", lineno);
			memcpy(hex, line + klen + 1, vlen);
			hex[vlen] = '\0';
			if (sodium_hex2bin(got, sizeof(got), hex, vlen, NULL, &bin, NULL) != 0 ||
			    bin != sizeof(got))
				return sp_errf(e, SP_ECORRUPT, "line %zu: malformed checksum", lineno);
			body_end = (size_t)(line - text);
			crypto_hash_sha256(want, (const unsigned char *)text, body_end);
			if (sodium_memcmp(want, got, sizeof(got)) != 0)
				return sp_errf(e, SP_ECORRUPT,
				    "checksum mismatch: the file was altered or damaged");
			got_sum = true;
			continue;
		}
		int f;
		for (f = 0; f < F_COUNT; f++)
			if (strcmp(key, field_names[f]) == 0)
				break;
		if (f == F_COUNT)
			return sp_errf(e, SP_ECORRUPT, "line %zu: unknown field '%s'", lineno, key);
		if (p->seen[f])
			return sp_errf(e, SP_ECORRUPT, "line %zu: '%s' given twice", lineno, key);
		p->seen[f] = 1;
		memcpy(p->val[f], line + klen + 1, vlen);
		p->val[f][vlen] = '\0';
	}
	if (lineno == 0)
		return sp_errf(e, SP_ECORRUPT, "the file is empty");
	if (!got_sum)
		return sp_errf(e, SP_ECORRUPT, "truncated: no checksum line");
	for (int f = F_ROLE; f <= F_PUBLIC; f++)
		if (!p->seen[f])
			return sp_errf(e, SP_ECORRUPT, "missing field '%s'", field_names[f]);
	if (p->seen[F_SECRET] == p->seen[F_SEALED])
		return sp_errf(e, SP_ECORRUPT, "needs exactly one of 'secret' and 'sealed'");
	return SP_OK;
}

int
sp_key_decode(const char *text, size_t len, const char *pass, size_t passlen,
    int want_secret, sp_key **out, sp_errmsg *e)
{
	struct parsed *p;
	uint8_t pub[SP_KEY_PUBLIC_BYTES];
	sp_key_role role;
	sp_key_state state;
	int64_t created, since;
	sp_key *k = NULL;
	int rc;

	/* The parsed fields hold the secret line: keep them off the stack so
	 * they can be wiped and freed in one place. */
	if ((p = sodium_malloc(sizeof(*p))) == NULL)
		return SP_ENOMEM;
	memset(p, 0, sizeof(*p));
	if ((rc = parse_fields(text, len, p, e)) != SP_OK)
		goto out;
	if (strcmp(p->val[F_ALG], "15") != 0) {
		rc = sp_errf(e, SP_EUNSUPP, "algorithm %s is not supported (only 15, Ed25519)",
		    p->val[F_ALG]);
		goto out;
	}
	if (sp_key_role_parse(p->val[F_ROLE], &role) != SP_OK ||
	    sp_key_state_parse(p->val[F_STATE], &state) != SP_OK ||
	    sp_time_parse(p->val[F_CREATED], &created) != SP_OK ||
	    b64_exact(p->val[F_PUBLIC], pub, sizeof(pub)) != SP_OK ||
	    (p->seen[F_SINCE] && sp_time_parse(p->val[F_SINCE], &since) != SP_OK)) {
		rc = sp_errf(e, SP_ECORRUPT, "a field has an invalid value");
		goto out;
	}
	if ((rc = sp_key_new_public(role, created, pub, &k)) != SP_OK)
		goto out;
	k->info.state = state;
	k->info.since = p->seen[F_SINCE] ? since : created;
	if (p->seen[F_SEALED]) {
		if ((k->sealed = malloc(strlen(p->val[F_SEALED]) + 8)) == NULL) {
			rc = SP_ENOMEM;
			goto out;
		}
		sprintf(k->sealed, "sealed %s", p->val[F_SEALED]);
		if (want_secret)
			rc = unseal(k, p->val[F_SEALED], pass, passlen, e);
	} else if (want_secret) {
		unsigned char *seed = sodium_malloc(SP_KEY_SEED_BYTES);
		sp_key *full = NULL;

		if (seed == NULL) {
			rc = SP_ENOMEM;
			goto out;
		}
		if (b64_exact(p->val[F_SECRET], seed, SP_KEY_SEED_BYTES) != SP_OK)
			rc = sp_errf(e, SP_ECORRUPT, "the private key is malformed");
		else
			rc = sp_key_from_seed(role, seed, created, &full);
		sodium_free(seed);
		if (rc == SP_OK &&
		    sodium_memcmp(full->info.pub, pub, SP_KEY_PUBLIC_BYTES) != 0)
			rc = sp_errf(e, SP_ECORRUPT,
			    "the private key does not match the public key");
		if (rc == SP_OK) {
			k->sk = full->sk;
			full->sk = NULL;
		}
		sp_key_free(full);
	}
out:
	sodium_free(p);
	if (rc != SP_OK) {
		sp_key_free(k);
		return rc;
	}
	*out = k;
	return SP_OK;
}
