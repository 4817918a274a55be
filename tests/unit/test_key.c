/*
 * keys/key.c and keys/keytext.c: derivation, key tags, DS records and
 * anchors against the RFC 8080 section 6 examples and against ldns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>
#include <sodium.h>

#include "sp_key.h"

/* RFC 8080 section 6.1, first Ed25519 example (example.com.). */
static const char rfc_seed_b64[] = "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=";
static const char rfc_pub_b64[] = "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=";
static const char rfc_ds_ksk[] =
    "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b";
/* The same key with flags 256 at owner "ed25519.", from Knot DNS's sample
 * keys (also used by PowerDNS's tests): an independent second vector. */
static const char rfc_ds_zsk[] =
    "1b1c8766b2a96566ff196f77c0c4194af86aaa109c5346ff60231a27d2b07ac0";
/* RFC 8080 section 6.1, second Ed25519 example. */
static const char rfc2_seed_b64[] = "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=";
static const char rfc2_pub_b64[] = "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=";

static void
b64(const char *in, uint8_t *out, size_t n)
{
	size_t got;

	assert_int_equal(sodium_base642bin(out, n, in, strlen(in), NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(got, n);
}

static sp_key *
rfc_key(sp_key_role role, const char *seed_b64)
{
	uint8_t seed[SP_KEY_SEED_BYTES];
	sp_key *k;

	b64(seed_b64, seed, sizeof(seed));
	assert_int_equal(sp_key_from_seed(role, seed, 1438207200, &k), SP_OK);
	return k;
}

static void
test_rfc8080_public_keys(void **state)
{
	uint8_t want[SP_KEY_PUBLIC_BYTES];
	sp_key *k;

	(void)state;
	k = rfc_key(SP_ROLE_KSK, rfc_seed_b64);
	b64(rfc_pub_b64, want, sizeof(want));
	assert_memory_equal(sp_key_info_of(k)->pub, want, sizeof(want));
	sp_key_free(k);

	k = rfc_key(SP_ROLE_ZSK, rfc2_seed_b64);
	b64(rfc2_pub_b64, want, sizeof(want));
	assert_memory_equal(sp_key_info_of(k)->pub, want, sizeof(want));
	sp_key_free(k);
}

static void
test_rfc8080_key_tags(void **state)
{
	sp_key *ksk = rfc_key(SP_ROLE_KSK, rfc_seed_b64);
	sp_key *zsk = rfc_key(SP_ROLE_ZSK, rfc_seed_b64);

	(void)state;
	assert_int_equal(sp_key_info_of(ksk)->flags, 257);
	assert_int_equal(sp_key_info_of(ksk)->tag, 3613);
	assert_int_equal(sp_key_info_of(zsk)->flags, 256);
	assert_int_equal(sp_key_info_of(zsk)->tag, 3612);
	sp_key_free(ksk);
	sp_key_free(zsk);
}

static void
assert_ds(sp_key_role role, const char *owner, const char *want_hex)
{
	uint8_t rdata[SP_DNSKEY_RDATA_BYTES], digest[SP_DS_SHA256_BYTES];
	char hex[2 * SP_DS_SHA256_BYTES + 1];
	sp_key *k = rfc_key(role, rfc_seed_b64);
	const sp_key_info *i = sp_key_info_of(k);

	sp_dnskey_rdata(i->flags, i->pub, rdata);
	assert_int_equal(sp_ds_sha256(owner, rdata, digest), SP_OK);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	assert_string_equal(hex, want_hex);
	/* The owner name is canonicalised: case does not change the digest. */
	char upper[64];
	for (size_t j = 0; j <= strlen(owner); j++)
		upper[j] = (char)(owner[j] >= 'a' && owner[j] <= 'z' ? owner[j] - 32 : owner[j]);
	assert_int_equal(sp_ds_sha256(upper, rdata, digest), SP_OK);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	assert_string_equal(hex, want_hex);
	sp_key_free(k);
}

static void
test_rfc8080_ds(void **state)
{
	(void)state;
	assert_ds(SP_ROLE_KSK, "example.com.", rfc_ds_ksk);
	assert_ds(SP_ROLE_ZSK, "ed25519.", rfc_ds_zsk);
}

static void
test_ds_text_matches_ldns_key2ds_format(void **state)
{
	sp_key *k = rfc_key(SP_ROLE_KSK, rfc_seed_b64);
	char *text;

	(void)state;
	assert_int_equal(sp_key_ds_text(sp_key_info_of(k), "example.com.", 3600, &text), SP_OK);
	assert_string_equal(text, "example.com.\t3600\tIN\tDS\t3613 15 2 "
	    "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b\n");
	free(text);
	assert_int_equal(sp_key_dnskey_text(sp_key_info_of(k), "example.com.", 3600, &text), SP_OK);
	assert_string_equal(text, "example.com.\t3600\tIN\tDNSKEY\t257 3 15 "
	    "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n");
	free(text);
	sp_key_free(k);
}

/* Our key tag, DS digest and DNSKEY rdata agree with ldns for random keys. */
static void
test_random_keys_agree_with_ldns(void **state)
{
	(void)state;
	for (int i = 0; i < 50; i++) {
		sp_key_role role = i % 2 ? SP_ROLE_KSK : SP_ROLE_ZSK;
		uint8_t rdata[SP_DNSKEY_RDATA_BYTES], digest[SP_DS_SHA256_BYTES];
		char *dnskey, *ds, hex[65];
		ldns_rr *rr, *lds;
		sp_key *k;

		assert_int_equal(sp_key_generate(role, 0, sp_platform_rng(), &k), SP_OK);
		const sp_key_info *info = sp_key_info_of(k);
		assert_int_equal(sp_key_dnskey_text(info, "alice.example.", 300, &dnskey), SP_OK);
		assert_int_equal(ldns_rr_new_frm_str(&rr, dnskey, 0, NULL, NULL), LDNS_STATUS_OK);
		assert_int_equal(ldns_calc_keytag(rr), info->tag);
		sp_dnskey_rdata(info->flags, info->pub, rdata);
		assert_int_equal(sp_keytag(rdata, sizeof(rdata)), info->tag);
		lds = ldns_key_rr2ds(rr, LDNS_SHA256);
		assert_non_null(lds);
		assert_int_equal(sp_ds_sha256("alice.example.", rdata, digest), SP_OK);
		assert_int_equal(ldns_rdf_size(ldns_rr_rdf(lds, 3)), 32);
		assert_memory_equal(ldns_rdf_data(ldns_rr_rdf(lds, 3)), digest, 32);
		assert_int_equal(sp_key_ds_text(info, "alice.example.", 300, &ds), SP_OK);
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		assert_non_null(strstr(ds, hex));
		free(dnskey);
		free(ds);
		ldns_rr_free(rr);
		ldns_rr_free(lds);
		sp_key_free(k);
	}
}

static void
test_sign_verify(void **state)
{
	static const uint8_t msg[] = "the DNSKEY RRset";
	uint8_t sig[SP_KEY_SIG_BYTES], sig2[SP_KEY_SIG_BYTES];
	sp_key *k = rfc_key(SP_ROLE_ZSK, rfc_seed_b64);

	(void)state;
	assert_int_equal(sp_key_sign(k, msg, sizeof(msg), sig), SP_OK);
	assert_int_equal(sp_key_verify(sp_key_info_of(k)->pub, msg, sizeof(msg), sig), SP_OK);
	/* Ed25519 is deterministic. */
	assert_int_equal(sp_key_sign(k, msg, sizeof(msg), sig2), SP_OK);
	assert_memory_equal(sig, sig2, sizeof(sig));
	sig[10] ^= 1;
	assert_int_equal(sp_key_verify(sp_key_info_of(k)->pub, msg, sizeof(msg), sig), SP_ECRYPTO);
	sp_key_free(k);
}

static void
test_x25519_derivation(void **state)
{
	uint8_t sk[32], pk[32], pk_pub[32], base[32];
	sp_key *dev, *zsk;

	(void)state;
	assert_int_equal(sp_key_generate(SP_ROLE_DEVICE, 0, sp_platform_rng(), &dev), SP_OK);
	assert_int_equal(sp_key_x25519(dev, sk, pk), SP_OK);
	/* The public half derived from the published key alone is the one
	 * that belongs to the private half. */
	assert_int_equal(sp_key_x25519_public(sp_key_info_of(dev)->pub, pk_pub), SP_OK);
	assert_memory_equal(pk, pk_pub, 32);
	assert_int_equal(crypto_scalarmult_base(base, sk), 0);
	assert_memory_equal(base, pk, 32);
	/* Zone keys are not tunnel keys. */
	assert_int_equal(sp_key_generate(SP_ROLE_ZSK, 0, sp_platform_rng(), &zsk), SP_OK);
	assert_int_equal(sp_key_x25519(zsk, sk, pk), SP_EINVAL);
	sp_key_free(dev);
	sp_key_free(zsk);
}

static void
test_public_parse(void **state)
{
	uint8_t pub[SP_KEY_PUBLIC_BYTES], want[SP_KEY_PUBLIC_BYTES];
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_key_public_parse(rfc_pub_b64, pub, &e), SP_OK);
	b64(rfc_pub_b64, want, sizeof(want));
	assert_memory_equal(pub, want, sizeof(want));
	assert_int_equal(sp_key_public_parse("bm90IGEga2V5", pub, &e), SP_EINVAL);
	assert_string_equal(e.msg, "must be a base64 Ed25519 public key (32 bytes)");
	assert_int_equal(sp_key_public_parse("not base64!", pub, &e), SP_EINVAL);
	/* 32 zero bytes decode but are a point of small order. */
	assert_int_equal(sp_key_public_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", pub, &e),
	    SP_EINVAL);
	assert_string_equal(e.msg, "is not a valid Ed25519 public key");
}

static void
test_key_id(void **state)
{
	uint8_t pub[SP_KEY_PUBLIC_BYTES];
	char id[SP_KEY_ID_CHARS + 1];

	(void)state;
	/* SHA-256 of 32 zero bytes starts 66687aadf862bd77. */
	memset(pub, 0, sizeof(pub));
	sp_key_id(pub, id);
	assert_string_equal(id, "66687aadf862bd77");
}

static void
test_zone_names(void **state)
{
	char out[256];
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_zone_name_canon("Alice.Example", out, sizeof(out), NULL), SP_OK);
	assert_string_equal(out, "alice.example.");
	assert_int_equal(sp_zone_name_canon("alice.example.", out, sizeof(out), NULL), SP_OK);
	assert_string_equal(out, "alice.example.");
	assert_int_equal(sp_zone_name_canon("home", out, sizeof(out), NULL), SP_OK);
	assert_string_equal(out, "home.");
	assert_int_equal(sp_zone_name_canon("", out, sizeof(out), &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "empty"));
	assert_int_equal(sp_zone_name_canon(".", out, sizeof(out), NULL), SP_EINVAL);
	assert_int_equal(sp_zone_name_canon("a..b", out, sizeof(out), &e), SP_EINVAL);
	assert_int_equal(sp_zone_name_canon("-a.b", out, sizeof(out), NULL), SP_EINVAL);
	assert_int_equal(sp_zone_name_canon("a_b.c", out, sizeof(out), &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "a_b"));
	assert_int_equal(sp_zone_name_canon("a b.c", out, sizeof(out), NULL), SP_EINVAL);
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ".ex");
	assert_int_equal(sp_zone_name_canon(label, out, sizeof(out), NULL), SP_EINVAL);
	strcpy(label + 63, ".ex");
	assert_int_equal(sp_zone_name_canon(label, out, sizeof(out), NULL), SP_OK);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	for (int i = 50; i < 299; i += 51)
		longname[i] = '.';
	longname[299] = '\0';
	assert_int_equal(sp_zone_name_canon(longname, out, sizeof(out), &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
}

static void
test_device_names(void **state)
{
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_device_name_check("phone", NULL), SP_OK);
	assert_int_equal(sp_device_name_check("my-laptop-2", NULL), SP_OK);
	assert_int_equal(sp_device_name_check("Phone", &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "lowercase"));
	assert_int_equal(sp_device_name_check("a.b", NULL), SP_EINVAL);
	assert_int_equal(sp_device_name_check("", NULL), SP_EINVAL);
	assert_int_equal(sp_device_name_check("-x", NULL), SP_EINVAL);
	assert_int_equal(sp_device_name_check("x-", NULL), SP_EINVAL);
}

static void
test_anchors(void **state)
{
	sp_key *ksk = rfc_key(SP_ROLE_KSK, rfc_seed_b64);
	sp_key *zsk = rfc_key(SP_ROLE_ZSK, rfc2_seed_b64);
	sp_key_info infos[2] = { *sp_key_info_of(zsk), *sp_key_info_of(ksk) };
	char *text;

	(void)state;
	assert_int_equal(sp_anchor_text(infos, 2, "example.com.", SP_ANCHOR_BIND, &text), SP_OK);
	assert_string_equal(text, "trust-anchors {\n"
	    "\texample.com. static-ds 3613 15 2 \"3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b\";\n"
	    "};\n");
	free(text);
	assert_int_equal(sp_anchor_text(infos, 2, "example.com.", SP_ANCHOR_UNBOUND, &text), SP_OK);
	assert_string_equal(text, "trust-anchor: \"example.com. DS 3613 15 2 "
	    "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b\"\n");
	free(text);
	/* No KSK, no anchor. */
	assert_int_equal(sp_anchor_text(infos, 1, "example.com.", SP_ANCHOR_BIND, &text), SP_ENOENT);
	sp_key_free(ksk);
	sp_key_free(zsk);
}

static void
test_public_only_key_cannot_sign(void **state)
{
	static const uint8_t msg[] = "x";
	uint8_t sig[SP_KEY_SIG_BYTES];
	sp_key *k = rfc_key(SP_ROLE_ZSK, rfc_seed_b64), *pub;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(sp_key_encode(k, &text, &len), SP_OK);
	assert_int_equal(sp_key_decode(text, len, NULL, 0, 0, &pub, NULL), SP_OK);
	assert_false(sp_key_has_secret(pub));
	assert_int_equal(sp_key_sign(pub, msg, 1, sig), SP_EINVAL);
	sp_key_text_free(text, len);
	sp_key_free(pub);
	sp_key_free(k);
	sp_key_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8080_public_keys),
		cmocka_unit_test(test_rfc8080_key_tags),
		cmocka_unit_test(test_rfc8080_ds),
		cmocka_unit_test(test_ds_text_matches_ldns_key2ds_format),
		cmocka_unit_test(test_random_keys_agree_with_ldns),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_x25519_derivation),
		cmocka_unit_test(test_public_parse),
		cmocka_unit_test(test_key_id),
		cmocka_unit_test(test_zone_names),
		cmocka_unit_test(test_device_names),
		cmocka_unit_test(test_anchors),
		cmocka_unit_test(test_public_only_key_cannot_sign),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
