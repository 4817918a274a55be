/* Key generation, identity and signing: pure functions over libsodium. */
#include "key_internal.h"

#include <ldns/ldns.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = { "ksk", "zsk", "device" };
static const char *const state_names[] = { "active", "published", "retired", "revoked" };

const char *
sp_key_role_name(sp_key_role role)
{
	return (unsigned)role < 3 ? role_names[role] : "?";
}

const char *
sp_key_state_name(sp_key_state state)
{
	return (unsigned)state < 4 ? state_names[state] : "?";
}

int
sp_key_role_parse(const char *s, sp_key_role *out)
{
	for (unsigned i = 0; i < 3; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*out = (sp_key_role)i;
			return SP_OK;
		}
	return SP_EINVAL;
}

int
sp_key_state_parse(const char *s, sp_key_state *out)
{
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (sp_key_state)i;
			return SP_OK;
		}
	return SP_EINVAL;
}

uint16_t
sp_key_role_flags(sp_key_role role)
{
	switch (role) {
	case SP_ROLE_KSK: return SP_DNSKEY_FLAG_ZONE | SP_DNSKEY_FLAG_SEP;
	case SP_ROLE_ZSK: return SP_DNSKEY_FLAG_ZONE;
	case SP_ROLE_DEVICE: return 0;
	}
	return 0;
}

void
sp_dnskey_rdata(uint16_t flags, const uint8_t pub[SP_KEY_PUBLIC_BYTES],
    uint8_t out[SP_DNSKEY_RDATA_BYTES])
{
	out[0] = (uint8_t)(flags >> 8);
	out[1] = (uint8_t)flags;
	out[2] = 3;   /* protocol, RFC 4034 2.1.2 */
	out[3] = SP_KEY_ALG_ED25519;
	memcpy(out + 4, pub, SP_KEY_PUBLIC_BYTES);
}

uint16_t
sp_keytag(const uint8_t *rdata, size_t len)
{
	return ldns_calc_keytag_raw(rdata, len);
}

void
sp_key_id(const uint8_t pub[SP_KEY_PUBLIC_BYTES], char out[SP_KEY_ID_CHARS + 1])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pub, SP_KEY_PUBLIC_BYTES);
	sodium_bin2hex(out, SP_KEY_ID_CHARS + 1, h, SP_KEY_ID_CHARS / 2);
}

void
sp_key_fill_info(sp_key_info *info, sp_key_role role, int64_t created,
    const uint8_t pub[SP_KEY_PUBLIC_BYTES])
{
	uint8_t rdata[SP_DNSKEY_RDATA_BYTES];

	memset(info, 0, sizeof(*info));
	info->role = role;
	info->state = SP_KSTATE_ACTIVE;
	info->algorithm = SP_KEY_ALG_ED25519;
	info->flags = sp_key_role_flags(role);
	info->created = created;
	info->since = created;
	memcpy(info->pub, pub, SP_KEY_PUBLIC_BYTES);
	sp_dnskey_rdata(info->flags, pub, rdata);
	info->tag = sp_keytag(rdata, sizeof(rdata));
	sp_key_id(pub, info->id);
}

int
sp_key_new_public(sp_key_role role, int64_t created,
    const uint8_t pub[SP_KEY_PUBLIC_BYTES], sp_key **out)
{
	sp_key *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return SP_ENOMEM;
	sp_key_fill_info(&k->info, role, created, pub);
	*out = k;
	return SP_OK;
}

int
sp_key_from_seed(sp_key_role role, const uint8_t seed[SP_KEY_SEED_BYTES],
    int64_t created, sp_key **out)
{
	uint8_t pub[SP_KEY_PUBLIC_BYTES];
	sp_key *k;
	int rc;

	if (sodium_init() < 0)
		return SP_ECRYPTO;
	/* Derive into the guarded buffer first, so the secret never sits in
	 * ordinary memory. */
	unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (sk == NULL)
		return SP_ENOMEM;
	if (crypto_sign_seed_keypair(pub, sk, seed) != 0) {
		sodium_free(sk);
		return SP_ECRYPTO;
	}
	if ((rc = sp_key_new_public(role, created, pub, &k)) != SP_OK) {
		sodium_free(sk);
		return rc;
	}
	k->sk = sk;
	*out = k;
	return SP_OK;
}

int
sp_key_generate(sp_key_role role, int64_t created, const sp_rng *rng, sp_key **out)
{
	unsigned char *seed;
	int rc;

	if (sodium_init() < 0)
		return SP_ECRYPTO;
	seed = sodium_malloc(SP_KEY_SEED_BYTES);
	if (seed == NULL)
		return SP_ENOMEM;
	sp_rng_fill(rng, seed, SP_KEY_SEED_BYTES);
	rc = sp_key_from_seed(role, seed, created, out);
	sodium_free(seed);
	return rc;
}

void
sp_key_free(sp_key *k)
{
	if (k == NULL)
		return;
	if (k->sk != NULL)
		sodium_free(k->sk);
	if (k->sealed != NULL) {
		sodium_memzero(k->sealed, strlen(k->sealed));
		free(k->sealed);
	}
	free(k);
}

const sp_key_info *
sp_key_info_of(const sp_key *k)
{
	return &k->info;
}

void
sp_key_set_state(sp_key *k, sp_key_state state, int64_t since)
{
	k->info.state = state;
	k->info.since = since;
}

int
sp_key_has_secret(const sp_key *k)
{
	return k->sk != NULL;
}

int
sp_key_sign(const sp_key *k, const uint8_t *msg, size_t len,
    uint8_t sig[SP_KEY_SIG_BYTES])
{
	if (k->sk == NULL)
		return SP_EINVAL;
	if (crypto_sign_detached(sig, NULL, msg, len, k->sk) != 0)
		return SP_ECRYPTO;
	return SP_OK;
}

int
sp_key_verify(const uint8_t pub[SP_KEY_PUBLIC_BYTES], const uint8_t *msg,
    size_t len, const uint8_t sig[SP_KEY_SIG_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? SP_OK : SP_ECRYPTO;
}

int
sp_key_seed(const sp_key *k, uint8_t seed[SP_KEY_SEED_BYTES])
{
	if (k->sk == NULL)
		return SP_EINVAL;
	return crypto_sign_ed25519_sk_to_seed(seed, k->sk) == 0 ? SP_OK : SP_ECRYPTO;
}

int
sp_key_x25519(const sp_key *k, uint8_t sk[32], uint8_t pk[32])
{
	if (k->sk == NULL || k->info.role != SP_ROLE_DEVICE)
		return SP_EINVAL;
	if (crypto_sign_ed25519_sk_to_curve25519(sk, k->sk) != 0)
		return SP_ECRYPTO;
	return sp_key_x25519_public(k->info.pub, pk);
}

int
sp_key_x25519_public(const uint8_t ed_pub[SP_KEY_PUBLIC_BYTES], uint8_t pk[32])
{
	/* Fails for points of small order and non-canonical encodings, which
	 * is what we want for keys read from the network. */
	return crypto_sign_ed25519_pk_to_curve25519(pk, ed_pub) == 0 ? SP_OK : SP_ECRYPTO;
}

int
sp_key_public_parse(const char *b64, uint8_t pub[SP_KEY_PUBLIC_BYTES], sp_errmsg *e)
{
	uint8_t x[32];
	size_t got;

	if (sodium_base642bin(pub, SP_KEY_PUBLIC_BYTES, b64, strlen(b64), NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != SP_KEY_PUBLIC_BYTES)
		return sp_errf(e, SP_EINVAL, "must be a base64 Ed25519 public key (32 bytes)");
	if (sp_key_x25519_public(pub, x) != SP_OK)
		return sp_errf(e, SP_EINVAL, "is not a valid Ed25519 public key");
	return SP_OK;
}

static int
ldh_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

int
sp_zone_name_canon(const char *in, char *out, size_t outlen, sp_errmsg *e)
{
	size_t len = strlen(in), o = 0;
	const char *p = in;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return sp_errf(e, SP_EINVAL, "zone name is empty (the root is not a personal zone)");
	/* The wire form has one length byte per label plus the root: 253
	 * characters of presentation text is the most that fits in 255. */
	if (len > 253 || len + 2 > outlen)
		return sp_errf(e, SP_EINVAL, "zone name '%s' is too long", in);
	while (p < in + len) {
		const char *dot = memchr(p, '.', (size_t)(in + len - p));
		size_t n = dot != NULL ? (size_t)(dot - p) : (size_t)(in + len - p);
		if (!ldh_label(p, n))
			return sp_errf(e, SP_EINVAL,
			    "zone name '%s': label '%.*s' is not 1-63 letters, digits "
			    "or inner hyphens", in, (int)n, p);
		for (size_t i = 0; i < n; i++) {
			char c = p[i];
			out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		out[o++] = '.';
		p += n + 1;
	}
	out[o] = '\0';
	return SP_OK;
}

int
sp_device_name_check(const char *name, sp_errmsg *e)
{
	size_t n = strlen(name);

	if (!ldh_label(name, n))
		return sp_errf(e, SP_EINVAL,
		    "device name '%s' must be one label of 1-63 letters, digits or "
		    "inner hyphens", name);
	for (size_t i = 0; i < n; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			return sp_errf(e, SP_EINVAL,
			    "device name '%s' must be lowercase", name);
	return SP_OK;
}

int
sp_ds_sha256(const char *zone, const uint8_t rdata[SP_DNSKEY_RDATA_BYTES],
    uint8_t out[SP_DS_SHA256_BYTES])
{
	crypto_hash_sha256_state st;
	ldns_rdf *owner = NULL;

	if (ldns_str2rdf_dname(&owner, zone) != LDNS_STATUS_OK)
		return SP_EINVAL;
	ldns_dname2canonical(owner);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, ldns_rdf_data(owner), ldns_rdf_size(owner));
	crypto_hash_sha256_update(&st, rdata, SP_DNSKEY_RDATA_BYTES);
	crypto_hash_sha256_final(&st, out);
	ldns_rdf_deep_free(owner);
	return SP_OK;
}
