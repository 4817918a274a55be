/*
 * keys/keyfile.c: the key file format. Round trips in the clear and sealed,
 * and every bad input the issue names: wrong or missing passphrase,
 * corrupted and truncated files, altered fields, newer versions.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_key.h"

/* Argon2id at its minimum cost keeps the tests fast; the format stores the
 * parameters, so decoding follows whatever the file says. */
static const sp_seal fast_seal = { "correct horse", 13, 1, 8192 };

/* Seal (kept with the key), then encode. */
static int
seal_encode(sp_key *k, const sp_seal *seal, char **text, size_t *len)
{
	int rc = sp_key_seal(k, seal, sp_platform_rng());

	return rc != SP_OK ? rc : sp_key_encode(k, text, len);
}

static sp_key *
new_key(sp_key_role role)
{
	sp_key *k;

	assert_int_equal(sp_key_generate(role, 1763862372, sp_platform_rng(), &k), SP_OK);
	return k;
}

static void
assert_same_key(const sp_key *a, const sp_key *b)
{
	static const uint8_t msg[] = "m";
	uint8_t s1[SP_KEY_SIG_BYTES], s2[SP_KEY_SIG_BYTES];
	const sp_key_info *x = sp_key_info_of(a), *y = sp_key_info_of(b);

	assert_int_equal(x->role, y->role);
	assert_int_equal(x->state, y->state);
	assert_int_equal(x->tag, y->tag);
	assert_int_equal(x->created, y->created);
	assert_int_equal(x->since, y->since);
	assert_memory_equal(x->pub, y->pub, SP_KEY_PUBLIC_BYTES);
	assert_string_equal(x->id, y->id);
	assert_int_equal(sp_key_sign(a, msg, 1, s1), SP_OK);
	assert_int_equal(sp_key_sign(b, msg, 1, s2), SP_OK);
	assert_memory_equal(s1, s2, sizeof(s1));
}

static void
test_clear_round_trip(void **state)
{
	sp_key *k = new_key(SP_ROLE_KSK), *back;
	char *text;
	size_t len;

	(void)state;
	sp_key_set_state(k, SP_KSTATE_PUBLISHED, 1763865972);
	assert_int_equal(sp_key_encode(k, &text, &len), SP_OK);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "signpost-key 1\nrole ksk\nalgorithm 15\nstate published\n"
	    "created 2025-11-23T01:46:12Z\nsince 2025-11-23T02:46:12Z\n"));
	assert_non_null(strstr(text, "\nsecret "));
	assert_null(strstr(text, "sealed"));
	assert_int_equal(sp_key_decode(text, len, NULL, 0, 1, &back, NULL), SP_OK);
	assert_true(sp_key_has_secret(back));
	assert_same_key(k, back);
	sp_key_text_free(text, len);
	sp_key_free(back);
	sp_key_free(k);
}

static void
test_sealed_round_trip(void **state)
{
	sp_key *k = new_key(SP_ROLE_DEVICE), *back, *pub;
	char *text, *again;
	size_t len, len2;
	sp_errmsg e;

	(void)state;
	assert_int_equal(seal_encode(k, &fast_seal, &text, &len), SP_OK);
	assert_non_null(strstr(text, "\nsealed argon2id13 1 8192 "));
	assert_null(strstr(text, "\nsecret "));
	assert_int_equal(sp_key_decode(text, len, "correct horse", 13, 1, &back, &e), SP_OK);
	assert_same_key(k, back);
	/* Without the passphrase, the public part is still readable... */
	assert_int_equal(sp_key_decode(text, len, NULL, 0, 0, &pub, NULL), SP_OK);
	assert_false(sp_key_has_secret(pub));
	assert_memory_equal(sp_key_info_of(pub)->pub, sp_key_info_of(k)->pub, 32);
	/* ...and can be written back (a state change) keeping the seal. */
	sp_key_set_state(pub, SP_KSTATE_RETIRED, 1763870000);
	assert_int_equal(sp_key_encode(pub, &again, &len2), SP_OK);
	assert_non_null(strstr(again, "state retired\n"));
	sp_key_free(back);
	assert_int_equal(sp_key_decode(again, len2, "correct horse", 13, 1, &back, &e), SP_OK);
	assert_int_equal(sp_key_info_of(back)->state, SP_KSTATE_RETIRED);
	assert_int_equal(sp_key_info_of(back)->since, 1763870000);
	sp_key_text_free(text, len);
	sp_key_text_free(again, len2);
	sp_key_free(back);
	sp_key_free(pub);
	sp_key_free(k);
}

static void
test_wrong_and_missing_passphrase(void **state)
{
	sp_key *k = new_key(SP_ROLE_ZSK), *back = NULL;
	char *text;
	size_t len;
	sp_errmsg e;

	(void)state;
	assert_int_equal(seal_encode(k, &fast_seal, &text, &len), SP_OK);
	assert_int_equal(sp_key_decode(text, len, "correct horsf", 13, 1, &back, &e),
	    SP_EPASSPHRASE);
	assert_null(back);
	assert_string_equal(e.msg, "wrong passphrase");
	assert_int_equal(sp_key_decode(text, len, NULL, 0, 1, &back, &e), SP_ENEEDPASS);
	assert_non_null(strstr(e.msg, "passphrase"));
	assert_null(back);
	sp_key_text_free(text, len);
	sp_key_free(k);
}

/* Every prefix of a valid file is refused as corrupt, never accepted. */
static void
test_every_truncation_is_detected(void **state)
{
	sp_key *k = new_key(SP_ROLE_KSK), *back;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(seal_encode(k, &fast_seal, &text, &len), SP_OK);
	for (size_t cut = 0; cut < len; cut++) {
		sp_errmsg e;
		int rc;

		back = NULL;
		rc = sp_key_decode(text, cut, "correct horse", 13, 1, &back, &e);
		assert_int_equal(rc, SP_ECORRUPT);
		assert_null(back);
	}
	sp_key_text_free(text, len);
	sp_key_free(k);
}

/* Flipping any bit of any byte is caught (checksum, syntax or seal). */
static void
test_every_bit_flip_is_detected(void **state)
{
	sp_key *k = new_key(SP_ROLE_ZSK), *back;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(sp_key_encode(k, &text, &len), SP_OK);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;
			text[i] ^= (char)(1 << bit);
			back = NULL;
			rc = sp_key_decode(text, len, NULL, 0, 1, &back, NULL);
			text[i] ^= (char)(1 << bit);
			assert_int_not_equal(rc, SP_OK);
			assert_null(back);
		}
	}
	sp_key_text_free(text, len);
	sp_key_free(k);
}

/* Rewrite a field and fix the checksum, as an attacker or a careless edit
 * with a tool would: the cryptographic checks must still catch it. */
static char *
rewrite(const char *text, const char *field, const char *value, size_t *outlen)
{
	char *out = NULL, *line, *copy = strdup(text), *save = NULL;
	uint8_t digest[crypto_hash_sha256_BYTES];
	char hex[65];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "checksum ", 9) == 0)
			continue;
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ' ')
			fprintf(f, "%s %s\n", field, value);
		else
			fprintf(f, "%s\n", line);
	}
	fflush(f);
	crypto_hash_sha256(digest, (const unsigned char *)out, len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	fprintf(f, "checksum %s\n", hex);
	fclose(f);
	free(copy);
	*outlen = len;
	return out;
}

static void
test_swapped_public_key_is_detected(void **state)
{
	sp_key *k = new_key(SP_ROLE_KSK), *other = new_key(SP_ROLE_KSK), *back = NULL;
	char other64[64], *text, *bad;
	size_t len, badlen;
	sp_errmsg e;

	(void)state;
	sodium_bin2base64(other64, sizeof(other64), sp_key_info_of(other)->pub, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	/* In the clear: the seed no longer derives the public key. */
	assert_int_equal(sp_key_encode(k, &text, &len), SP_OK);
	bad = rewrite(text, "public", other64, &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 1, &back, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "does not match"));
	free(bad);
	sp_key_text_free(text, len);
	/* Sealed: the AEAD binds the public key, so the seal fails. */
	assert_int_equal(seal_encode(k, &fast_seal, &text, &len), SP_OK);
	bad = rewrite(text, "public", other64, &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, "correct horse", 13, 1, &back, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "damaged"));
	free(bad);
	/* A role change is bound too. */
	bad = rewrite(text, "role", "zsk", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, "correct horse", 13, 1, &back, &e), SP_ECORRUPT);
	free(bad);
	assert_null(back);
	sp_key_text_free(text, len);
	sp_key_free(k);
	sp_key_free(other);
}

static void
test_bad_fields(void **state)
{
	sp_key *k = new_key(SP_ROLE_KSK), *back = NULL;
	char *text, *bad;
	size_t len, badlen;
	sp_errmsg e;

	(void)state;
	assert_int_equal(seal_encode(k, &fast_seal, &text, &len), SP_OK);

	bad = rewrite(text, "algorithm", "13", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 0, &back, &e), SP_EUNSUPP);
	assert_non_null(strstr(e.msg, "algorithm 13"));
	free(bad);

	bad = rewrite(text, "signpost-key", "2", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 0, &back, &e), SP_EUNSUPP);
	assert_non_null(strstr(e.msg, "newer"));
	free(bad);

	bad = rewrite(text, "state", "sleeping", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 0, &back, &e), SP_ECORRUPT);
	free(bad);

	bad = rewrite(text, "created", "yesterday", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 0, &back, &e), SP_ECORRUPT);
	free(bad);

	/* Argon2id parameters that would exhaust memory are refused before
	 * any work is done. */
	const char *sealed = strstr(text, "sealed argon2id13 1 8192 ") + 25;
	char params[300];
	snprintf(params, sizeof(params), "argon2id13 1 %zu %.*s", (size_t)1 << 40,
	    (int)strcspn(sealed, "\n"), sealed);
	bad = rewrite(text, "sealed", params, &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, "correct horse", 13, 1, &back, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "out-of-range"));
	free(bad);

	assert_int_equal(sp_key_decode("", 0, NULL, 0, 0, &back, &e), SP_ECORRUPT);
	assert_int_equal(sp_key_decode("hello\n", 6, NULL, 0, 0, &back, &e), SP_ECORRUPT);
	assert_null(back);
	sp_key_text_free(text, len);
	sp_key_free(k);
}

static void
test_duplicate_and_unknown_fields(void **state)
{
	sp_key *k = new_key(SP_ROLE_KSK), *back = NULL;
	char *text, *bad;
	size_t len, badlen;
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_key_encode(k, &text, &len), SP_OK);
	/* The value may hold a newline: that is how an extra line goes in. */
	bad = rewrite(text, "role", "ksk\ncolour blue", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 1, &back, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "unknown field 'colour'"));
	free(bad);
	bad = rewrite(text, "role", "ksk\nrole ksk", &badlen);
	assert_int_equal(sp_key_decode(bad, badlen, NULL, 0, 1, &back, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "twice"));
	free(bad);
	assert_null(back);
	sp_key_text_free(text, len);
	sp_key_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clear_round_trip),
		cmocka_unit_test(test_sealed_round_trip),
		cmocka_unit_test(test_wrong_and_missing_passphrase),
		cmocka_unit_test(test_every_truncation_is_detected),
		cmocka_unit_test(test_every_bit_flip_is_detected),
		cmocka_unit_test(test_swapped_public_key_is_detected),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_duplicate_and_unknown_fields),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
