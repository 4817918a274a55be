/*
 * libFuzzer target: everything pairing reads from outside (mobile/).
 * The first byte picks the reader, so one corpus reaches them all:
 *   0  the signpost: URI a device scans: what parses formats back to text
 *      that parses the same;
 *   1  the gateway's token file: what decodes re-encodes the same;
 *   2  the settings inside a response (after decryption);
 *   3  a UDP datagram at either end: the gateway opening a request, the
 *      device reading a reply to the request it made;
 *   4  a control-plane message from a member or the gateway: what decodes
 *      re-encodes to bytes that decode to the same encoding.
 * Keys and the device's request are made once from fixed seeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_key.h"
#include "sp_member.h"
#include "sp_pair.h"
#include "sp_rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	int ready;
	sp_pair_uri uri;
	uint8_t gw_x[32], gw_xpub[32];
	sp_pair_state device;       /* after its request */
} F;

static sp_key *
key_of(sp_key_role role, uint8_t fill)
{
	uint8_t seed[SP_KEY_SEED_BYTES];
	sp_key *k;

	memset(seed, fill, sizeof(seed));
	if (sp_key_from_seed(role, seed, 1700000000, &k) != SP_OK)
		abort();
	return k;
}

static void
setup(void)
{
	sp_rng_seeded rng;
	sp_key *gw = key_of(SP_ROLE_DEVICE, 1), *dev = key_of(SP_ROLE_DEVICE, 3);
	uint8_t dx[32], dxpub[32], msg[SP_PAIR_MSG_MAX];
	size_t len;

	sp_rng_seeded_init(&rng, 5);
	strcpy(F.uri.zone, "alice.example.");
	strcpy(F.uri.name, "phone");
	strcpy(F.uri.endpoint[0], "192.0.2.1:51820");
	F.uri.nendpoints = 1;
	memcpy(F.uri.gateway_key, sp_key_info_of(gw)->pub, SP_KEY_PUBLIC_BYTES);
	memset(F.uri.token, 0x5a, sizeof(F.uri.token));
	if (sp_key_x25519(gw, F.gw_x, F.gw_xpub) != SP_OK || sp_key_x25519(dev, dx, dxpub) != SP_OK ||
	    sp_pair_request_make(&F.device, &F.uri, dx, sp_key_info_of(dev)->pub, &rng.rng, msg,
	    &len) != SP_OK)
		abort();
	sp_key_free(gw);
	sp_key_free(dev);
	F.ready = 1;
}

static void
uri(const uint8_t *data, size_t size)
{
	sp_pair_uri u, back;
	sp_errmsg e;
	char text[SP_PAIR_URI_MAX];

	if (sp_pair_uri_parse((const char *)data, size, &u, &e) != SP_OK)
		return;
	if (sp_pair_uri_format(&u, text, sizeof(text)) != SP_OK ||
	    sp_pair_uri_parse(text, strlen(text), &back, &e) != SP_OK ||
	    memcmp(&u, &back, sizeof(u)) != 0)
		__builtin_trap();
}

static void
token(const uint8_t *data, size_t size)
{
	sp_pair_token t, back;
	sp_errmsg e;
	char text[1024], again[1024];
	size_t n, m;

	memset(&t, 0, sizeof(t));
	if (sp_pair_token_decode((const char *)data, size, "pairing/x", &t, &e) != SP_OK)
		return;
	memset(&back, 0, sizeof(back));
	if (sp_pair_token_encode(&t, text, sizeof(text), &n) != SP_OK ||
	    sp_pair_token_decode(text, n, "pairing/x", &back, &e) != SP_OK ||
	    sp_pair_token_encode(&back, again, sizeof(again), &m) != SP_OK ||
	    n != m || memcmp(text, again, n) != 0)
		__builtin_trap();
}

static void
datagram(const uint8_t *data, size_t size)
{
	sp_pair_state st = F.device, gw;
	sp_pair_settings s;
	sp_pair_request req;
	enum sp_pair_code code;
	enum sp_pair_type type;
	uint8_t id[SP_PAIR_TOKEN_ID], e[32];
	char reason[256];
	int rc;

	(void)sp_pair_peek(data, size, &type, id, e);
	/* No input forges a request without the token. */
	if (sp_pair_request_open(&gw, F.gw_x, F.gw_xpub, F.uri.token, data, size, &req) == SP_OK)
		__builtin_trap();
	sp_pair_wipe(&gw);
	/* Nor a response or a signed error without the gateway's keys. */
	rc = sp_pair_reply_read(&st, data, size, &s, &code, reason, sizeof(reason));
	if (rc != SP_EPROTO)
		__builtin_trap();
	sp_pair_wipe(&st);
}

static void
control(const uint8_t *data, size_t size)
{
	static sp_cp_msg m, back;
	static uint8_t out[SP_CP_MSG_MAX + 2], again[SP_CP_MSG_MAX + 2];
	size_t n, k;

	if (sp_cp_decode(data, size, &m) != SP_OK)
		return;
	if (sp_cp_encode(&m, out, sizeof(out), &n) != SP_OK || n < 2 ||
	    sp_cp_decode(out + 2, n - 2, &back) != SP_OK ||
	    sp_cp_encode(&back, again, sizeof(again), &k) != SP_OK || n != k ||
	    memcmp(out, again, n) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_pair_settings s;

	if (size == 0)
		return 0;
	if (!F.ready)
		setup();
	switch (data[0] % 5) {
	case 0:
		uri(data + 1, size - 1);
		break;
	case 1:
		token(data + 1, size - 1);
		break;
	case 2:
		if (sp_pair_settings_decode(data + 1, size - 1, &s) == SP_OK &&
		    (s.nendpoints > SP_PAIR_MAX_ENDPOINTS || s.ndnskeys > SP_PAIR_MAX_DNSKEYS ||
		    memchr(s.zone, '\0', sizeof(s.zone)) == NULL))
			__builtin_trap();
		break;
	case 3:
		datagram(data + 1, size - 1);
		break;
	default:
		control(data + 1, size - 1);
		break;
	}
	return 0;
}
