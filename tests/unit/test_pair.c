/*
 * mobile/: the pairing URI and the exchange (sp_pair.h), both sides, with
 * every refusal the protocol must make: the wrong token, a tampered
 * request, a forged response or error, keys that do not match the DS.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_pair.h"
#include "sp_wg_crypto.h"

#define NOW 1800000000

static sp_rng_seeded R;

static struct {
	sp_key *gw, *ksk, *dev, *other;
	uint8_t gw_x[32], gw_xpub[32];
	uint8_t dev_x[32], dev_xpub[32];
	sp_pair_uri uri;
} F;

static sp_key *
key_from(sp_key_role role, uint8_t fill)
{
	uint8_t seed[SP_KEY_SEED_BYTES];
	sp_key *k;

	memset(seed, fill, sizeof(seed));
	assert_int_equal(sp_key_from_seed(role, seed, NOW, &k), SP_OK);
	return k;
}

static int
setup(void **state)
{
	uint8_t rdata[SP_DNSKEY_RDATA_BYTES];

	(void)state;
	sp_rng_seeded_init(&R, 7);
	F.gw = key_from(SP_ROLE_DEVICE, 1);
	F.ksk = key_from(SP_ROLE_KSK, 2);
	F.dev = key_from(SP_ROLE_DEVICE, 3);
	F.other = key_from(SP_ROLE_DEVICE, 4);
	assert_int_equal(sp_key_x25519(F.gw, F.gw_x, F.gw_xpub), SP_OK);
	assert_int_equal(sp_key_x25519(F.dev, F.dev_x, F.dev_xpub), SP_OK);
	memset(&F.uri, 0, sizeof(F.uri));
	strcpy(F.uri.zone, "alice.example.");
	strcpy(F.uri.name, "phone");
	strcpy(F.uri.endpoint[0], "192.0.2.1:51820");
	strcpy(F.uri.endpoint[1], "[2001:db8::1]:51820");
	F.uri.nendpoints = 2;
	memcpy(F.uri.gateway_key, sp_key_info_of(F.gw)->pub, 32);
	sp_dnskey_rdata(sp_key_info_of(F.ksk)->flags, sp_key_info_of(F.ksk)->pub, rdata);
	F.uri.ds[0].tag = sp_key_info_of(F.ksk)->tag;
	assert_int_equal(sp_ds_sha256("alice.example.", rdata, F.uri.ds[0].digest), SP_OK);
	F.uri.nds = 1;
	memset(F.uri.token, 0x5a, sizeof(F.uri.token));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sp_key_free(F.gw);
	sp_key_free(F.ksk);
	sp_key_free(F.dev);
	sp_key_free(F.other);
	return 0;
}

/* ---- the URI ------------------------------------------------------------- */

static void
test_uri_round_trip(void **state)
{
	char text[SP_PAIR_URI_MAX];
	sp_pair_uri back;
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_pair_uri_format(&F.uri, text, sizeof(text)), SP_OK);
	assert_true(strncmp(text, "signpost:pair?v=1&z=alice.example&n=phone&k=", 44) == 0);
	assert_non_null(strstr(text, "&e=%5B2001:db8::1%5D:51820"));
	assert_int_equal(sp_pair_uri_parse(text, strlen(text), &back, &e), SP_OK);
	assert_string_equal(back.zone, "alice.example.");
	assert_string_equal(back.name, "phone");
	assert_int_equal(back.nendpoints, 2);
	assert_string_equal(back.endpoint[1], "[2001:db8::1]:51820");
	assert_memory_equal(back.gateway_key, F.uri.gateway_key, 32);
	assert_int_equal(back.nds, 1);
	assert_int_equal(back.ds[0].tag, F.uri.ds[0].tag);
	assert_memory_equal(back.ds[0].digest, F.uri.ds[0].digest, 32);
	assert_memory_equal(back.token, F.uri.token, SP_PAIR_TOKEN);
	/* A line from a file, with its newline, is the same code. */
	strcat(text, "\n");
	assert_int_equal(sp_pair_uri_parse(text, strlen(text), &back, &e), SP_OK);
	/* Too small a buffer is said, and leaves nothing of the token. */
	assert_int_equal(sp_pair_uri_format(&F.uri, text, 40), SP_ESPACE);
}

static void
expect_bad(const char *text, int rc, const char *says)
{
	sp_pair_uri u;
	sp_errmsg e;

	e.msg[0] = '\0';
	if (sp_pair_uri_parse(text, strlen(text), &u, &e) != rc || strstr(e.msg, says) == NULL)
		fail_msg("'%s' gave '%s', wanted %d and '%s'", text, e.msg, rc, says);
}

static void
test_uri_errors(void **state)
{
	char good[SP_PAIR_URI_MAX], bad[SP_PAIR_URI_MAX + 64];
	char *t;

	(void)state;
	assert_int_equal(sp_pair_uri_format(&F.uri, good, sizeof(good)), SP_OK);
	expect_bad("https://example.com/", SP_EINVAL, "not a Signpost pairing code");
	expect_bad("signpost:other?v=1", SP_EINVAL, "not a pairing code");
	expect_bad("signpost:pair?v=2&z=a.example", SP_EUNSUPP, "newer Signpost");
	expect_bad("signpost:pair?v=1&z=a.example&=x", SP_EINVAL, "malformed");
	/* Each required field, removed in turn, is named. */
	static const struct { const char *field, *says; } need[] = {
		{ "v=1&", "version" }, { "&z=alice.example", "zone" }, { "&n=phone", "device name" },
		{ "&d=", "DS" }, { "&t=", "token" },
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		char *at = strstr(good, need[i].field);
		size_t cut;
		assert_non_null(at);
		cut = strcspn(at + 1, "&") + 1;
		if (need[i].field[0] != '&')
			cut = strlen(need[i].field);
		snprintf(bad, sizeof(bad), "%.*s%s", (int)(at - good), good, at + cut);
		expect_bad(bad, SP_EINVAL, need[i].says);
	}
	/* A token cut short. */
	snprintf(bad, sizeof(bad), "%s", good);
	t = strstr(bad, "&t=");
	t[10] = '\0';
	expect_bad(bad, SP_EINVAL, "token is malformed");
	/* A key that is not a point, a DS that is not hex, an address
	 * without a port. */
	snprintf(bad, sizeof(bad), "%s&k=AAAA", good);
	expect_bad(bad, SP_EINVAL, "gateway key");
	snprintf(bad, sizeof(bad), "%s&d=1-zz", good);
	expect_bad(bad, SP_EINVAL, "DS is malformed");
	snprintf(bad, sizeof(bad), "%s&e=192.0.2.9", good);
	expect_bad(bad, SP_EINVAL, "gateway address '192.0.2.9'");
	snprintf(bad, sizeof(bad), "%s&e=%%5Bnot-v6%%5D:1", good);
	expect_bad(bad, SP_EINVAL, "gateway address");
	/* A name that is not a device name, a zone that is not a zone. */
	snprintf(bad, sizeof(bad), "%s", good);
	memcpy(strstr(bad, "n=phone"), "n=Ph_ne", 7);
	expect_bad(bad, SP_EINVAL, "device name is malformed");
	/* An unknown parameter is fine (a newer version 1). */
	snprintf(bad, sizeof(bad), "%s&x=later", good);
	{
		sp_pair_uri u;
		assert_int_equal(sp_pair_uri_parse(bad, strlen(bad), &u, NULL), SP_OK);
	}
	/* Longer than any code. */
	memset(bad, 'a', SP_PAIR_URI_MAX + 10);
	memcpy(bad, "signpost:pair?", 14);
	bad[SP_PAIR_URI_MAX + 10] = '\0';
	expect_bad(bad, SP_EINVAL, "longer than");
}

/* ---- the exchange ---------------------------------------------------------- */

static sp_pair_settings
settings(void)
{
	sp_pair_settings s;

	memset(&s, 0, sizeof(s));
	strcpy(s.zone, "alice.example.");
	strcpy(s.name, "phone");
	memset(s.prefix, 0xfd, sizeof(s.prefix));
	memset(s.gateway_addr, 0xfd, sizeof(s.gateway_addr));
	memcpy(s.gateway_key, sp_key_info_of(F.gw)->pub, 32);
	s.control_port = 5301;
	strcpy(s.endpoint[0], "192.0.2.1:51820");
	s.nendpoints = 1;
	sp_dnskey_rdata(sp_key_info_of(F.ksk)->flags, sp_key_info_of(F.ksk)->pub, s.dnskey[0]);
	s.ndnskeys = 1;
	return s;
}

static void
request(sp_pair_state *dev, uint8_t *msg, size_t *len)
{
	assert_int_equal(sp_pair_request_make(dev, &F.uri, F.dev_x, sp_key_info_of(F.dev)->pub,
	    &R.rng, msg, len), SP_OK);
}

static void
test_exchange(void **state)
{
	uint8_t msg[SP_PAIR_MSG_MAX], resp[SP_PAIR_MSG_MAX], id[SP_PAIR_TOKEN_ID], e[32];
	sp_pair_state dev, gw;
	sp_pair_request req;
	sp_pair_settings s = settings(), got;
	enum sp_pair_type type;
	enum sp_pair_code code;
	char reason[100];
	size_t len, rlen;
	sp_errmsg err;

	(void)state;
	request(&dev, msg, &len);
	/* What anyone on the path sees: the type and the token's public id,
	 * never the token or the device's key in the clear. */
	assert_int_equal(sp_pair_peek(msg, len, &type, id, e), SP_OK);
	assert_int_equal(type, SP_PAIR_REQUEST);
	sp_pair_token_id(F.uri.token, id + 0);
	assert_memory_equal(msg + 4, id, SP_PAIR_TOKEN_ID);
	assert_null(memmem(msg, len, F.uri.token, SP_PAIR_TOKEN));
	assert_null(memmem(msg, len, sp_key_info_of(F.dev)->pub, 32));
	assert_null(memmem(msg, len, F.dev_xpub, 32));

	assert_int_equal(sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, F.uri.token, msg, len, &req),
	    SP_OK);
	assert_string_equal(req.name, "phone");
	assert_memory_equal(req.device_key, sp_key_info_of(F.dev)->pub, 32);
	assert_memory_equal(req.device_x25519, F.dev_xpub, 32);
	assert_int_equal(sp_pair_response_make(&gw, &s, &R.rng, resp, &rlen), SP_OK);
	sp_pair_wipe(&gw);

	assert_int_equal(sp_pair_reply_read(&dev, resp, rlen, &got, &code, reason, sizeof(reason)),
	    SP_OK);
	assert_string_equal(got.zone, "alice.example.");
	assert_string_equal(got.name, "phone");
	assert_int_equal(got.control_port, 5301);
	assert_int_equal(got.ndnskeys, 1);
	assert_string_equal(got.endpoint[0], "192.0.2.1:51820");
	assert_int_equal(sp_pair_check_anchor(&got, &F.uri, &err), SP_OK);
	sp_pair_wipe(&dev);
}

static void
test_wrong_token_is_refused(void **state)
{
	uint8_t msg[SP_PAIR_MSG_MAX], token[SP_PAIR_TOKEN];
	sp_pair_state dev, gw;
	sp_pair_request req;
	size_t len;

	(void)state;
	request(&dev, msg, &len);
	memcpy(token, F.uri.token, sizeof(token));
	for (size_t i = 0; i < sizeof(token); i++) {
		token[i] ^= 1;
		assert_int_equal(sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, token, msg, len, &req),
		    SP_ECRYPTO);
		token[i] ^= 1;
	}
	/* Nor can another gateway key open it. */
	{
		uint8_t x[32], xp[32];
		assert_int_equal(sp_key_x25519(F.other, x, xp), SP_OK);
		assert_int_equal(sp_pair_request_open(&gw, x, xp, F.uri.token, msg, len, &req),
		    SP_ECRYPTO);
	}
	sp_pair_wipe(&dev);
}

/* Every byte of a request is covered: a changed one (another device key,
 * another name, another ephemeral, another token id) is refused. */
static void
test_tampered_request_is_refused(void **state)
{
	uint8_t msg[SP_PAIR_MSG_MAX];
	sp_pair_state dev, gw;
	sp_pair_request req;
	size_t len;

	(void)state;
	request(&dev, msg, &len);
	for (size_t i = 0; i < len; i++) {
		msg[i] ^= 0x20;
		assert_int_not_equal(sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, F.uri.token, msg,
		    len, &req), SP_OK);
		msg[i] ^= 0x20;
	}
	assert_int_equal(sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, F.uri.token, msg, len, &req),
	    SP_OK);
	/* Cut short, or with bytes added: malformed. */
	assert_int_equal(sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, F.uri.token, msg, 40, &req),
	    SP_EPROTO);
	sp_pair_wipe(&dev);
}

/* A response the device accepts comes from the holder of the gateway's
 * key: one made by anyone else, or changed on the way, is ignored. */
static void
test_forged_response_is_ignored(void **state)
{
	uint8_t msg[SP_PAIR_MSG_MAX], resp[SP_PAIR_MSG_MAX];
	sp_pair_state dev, gw;
	sp_pair_request req;
	sp_pair_settings s = settings(), got;
	enum sp_pair_code code;
	size_t len, rlen;
	uint8_t x[32], xp[32];

	(void)state;
	request(&dev, msg, &len);
	assert_int_equal(sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, F.uri.token, msg, len, &req),
	    SP_OK);
	assert_int_equal(sp_pair_response_make(&gw, &s, &R.rng, resp, &rlen), SP_OK);
	for (size_t i = 0; i < rlen; i++) {
		resp[i] ^= 1;
		assert_int_equal(sp_pair_reply_read(&dev, resp, rlen, &got, &code, NULL, 0),
		    SP_EPROTO);
		resp[i] ^= 1;
	}
	/* A responder with another static key, however it learned the token. */
	assert_int_equal(sp_key_x25519(F.other, x, xp), SP_OK);
	memcpy(gw.rs, F.dev_xpub, 32);
	{
		sp_pair_state fake = gw;
		uint8_t dh[32];
		/* Rebuild its state as if it had opened the request with its
		 * own key: it cannot, so the best it can do is guess. */
		memset(fake.ck, 0x11, sizeof(fake.ck));
		assert_int_equal(sp_wg_dh(dh, x, F.dev_xpub), SP_OK);
		uint8_t fake_resp[SP_PAIR_MSG_MAX];
		size_t flen;
		assert_int_equal(sp_pair_response_make(&fake, &s, &R.rng, fake_resp, &flen), SP_OK);
		assert_int_equal(sp_pair_reply_read(&dev, fake_resp, flen, &got, &code, NULL, 0),
		    SP_EPROTO);
		sp_pair_wipe(&fake);
	}
	/* Longer than any reply, with the request's token id (which travels
	 * in the clear): refused before decryption, never written past the
	 * payload buffer (ASan catches that in test-asan). */
	{
		uint8_t big[SP_PAIR_MSG_MAX + 64];
		memset(big, 0xa5, sizeof(big));
		memcpy(big, resp, 4 + SP_PAIR_TOKEN_ID);
		for (size_t n = SP_PAIR_MSG_MAX + 1; n <= sizeof(big); n++)
			assert_int_equal(sp_pair_reply_read(&dev, big, n, &got, &code, NULL, 0),
			    SP_EPROTO);
		big[1] = SP_PAIR_ERROR;
		assert_int_equal(sp_pair_reply_read(&dev, big, sizeof(big), &got, &code, NULL, 0),
		    SP_EPROTO);
	}
	/* The real one still works after all that. */
	assert_int_equal(sp_pair_reply_read(&dev, resp, rlen, &got, &code, NULL, 0), SP_OK);
	sp_pair_wipe(&gw);
	sp_pair_wipe(&dev);
}

static void
test_errors_are_signed(void **state)
{
	uint8_t msg[SP_PAIR_MSG_MAX], err[SP_PAIR_MSG_MAX], id[SP_PAIR_TOKEN_ID], e[32];
	sp_pair_state dev;
	sp_pair_settings got;
	enum sp_pair_type type;
	enum sp_pair_code code = 0;
	char reason[100];
	size_t len, elen;

	(void)state;
	request(&dev, msg, &len);
	assert_int_equal(sp_pair_peek(msg, len, &type, id, e), SP_OK);
	assert_int_equal(sp_pair_error_make(F.gw, id, e, SP_PAIR_E_USED,
	    "this pairing code was used already", err, &elen), SP_OK);
	assert_int_equal(sp_pair_reply_read(&dev, err, elen, &got, &code, reason, sizeof(reason)),
	    SP_EPERM);
	assert_int_equal(code, SP_PAIR_E_USED);
	assert_string_equal(reason, "this pairing code was used already");
	/* Changed on the way, or signed by another key, or for another
	 * request: ignored, so nobody on the path can make a device give up. */
	for (size_t i = 0; i < elen; i++) {
		err[i] ^= 4;
		assert_int_equal(sp_pair_reply_read(&dev, err, elen, &got, &code, NULL, 0),
		    SP_EPROTO);
		err[i] ^= 4;
	}
	assert_int_equal(sp_pair_error_make(F.other, id, e, SP_PAIR_E_USED, "x", err, &elen),
	    SP_OK);
	assert_int_equal(sp_pair_reply_read(&dev, err, elen, &got, &code, NULL, 0), SP_EPROTO);
	e[0] ^= 1;
	assert_int_equal(sp_pair_error_make(F.gw, id, e, SP_PAIR_E_USED, "x", err, &elen), SP_OK);
	assert_int_equal(sp_pair_reply_read(&dev, err, elen, &got, &code, NULL, 0), SP_EPROTO);
	sp_pair_wipe(&dev);
}

static void
test_anchor_must_match_the_ds(void **state)
{
	sp_pair_settings s = settings();
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_pair_check_anchor(&s, &F.uri, &e), SP_OK);
	/* Another zone's KSK, or the right key without its SEP flag. */
	sp_dnskey_rdata(sp_key_info_of(F.other)->flags | SP_DNSKEY_FLAG_SEP |
	    SP_DNSKEY_FLAG_ZONE, sp_key_info_of(F.other)->pub, s.dnskey[0]);
	assert_int_equal(sp_pair_check_anchor(&s, &F.uri, &e), SP_ECRYPTO);
	assert_non_null(strstr(e.msg, "do not match the DS"));
	s = settings();
	s.dnskey[0][1] &= (uint8_t)~SP_DNSKEY_FLAG_SEP;
	assert_int_equal(sp_pair_check_anchor(&s, &F.uri, &e), SP_ECRYPTO);
	/* The anchor kept is the KSK the DS names, never a ZSK beside it:
	 * a retired ZSK's key must not stay trusted. */
	{
		uint8_t keys[4][SP_DNSKEY_RDATA_BYTES];
		s = settings();
		sp_dnskey_rdata(SP_DNSKEY_FLAG_ZONE, sp_key_info_of(F.other)->pub, s.dnskey[1]);
		memcpy(s.dnskey[2], s.dnskey[1], SP_DNSKEY_RDATA_BYTES);
		memcpy(s.dnskey[2], s.dnskey[0], 4);   /* the KSK's flags, another key */
		s.ndnskeys = 3;
		assert_int_equal(sp_pair_anchor_keys(&s, &F.uri, keys, 4), 1);
		assert_memory_equal(keys[0], s.dnskey[0], SP_DNSKEY_RDATA_BYTES);
		assert_int_equal(sp_pair_anchor_keys(&s, &F.uri, keys, 0), 0);
	}
}

/* The same randomness gives the same messages: the core takes only what
 * it is given. */
static void
test_deterministic(void **state)
{
	uint8_t a[SP_PAIR_MSG_MAX], b[SP_PAIR_MSG_MAX];
	sp_pair_state st;
	size_t la, lb;

	(void)state;
	sp_rng_seeded_init(&R, 99);
	request(&st, a, &la);
	sp_rng_seeded_init(&R, 99);
	request(&st, b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	sp_pair_wipe(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_round_trip),
		cmocka_unit_test(test_uri_errors),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_wrong_token_is_refused),
		cmocka_unit_test(test_tampered_request_is_refused),
		cmocka_unit_test(test_forged_response_is_ignored),
		cmocka_unit_test(test_errors_are_signed),
		cmocka_unit_test(test_anchor_must_match_the_ds),
		cmocka_unit_test(test_deterministic),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
