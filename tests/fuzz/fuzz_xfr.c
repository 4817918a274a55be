/*
 * libFuzzer target: the zone-transfer request path up to its verdict,
 * where an unauthenticated client's bytes meet the gateway: the answerer
 * classifies the query (resolver/answer.c), then TSIG verification
 * (resolver/tsig.c) decides; a verified request is answered with a signed
 * first message, which ldns must then parse.
 */
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "sp_answer.h"
#include "sp_tsig.h"
#include "sp_zonesrc.h"

#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sp_answerer *answerer;
static sp_tsig_key keys[2];
static sp_rng_seeded rng;

static void
init(void)
{
	static sp_zone *zone;
	static sp_key *k[3];
	sp_zone_config cfg;
	sp_cloud cloud;
	uint8_t seed[SP_KEY_SEED_BYTES];

	sp_rng_seeded_init(&rng, 1);
	for (int i = 0; i < 3; i++) {
		memset(seed, i + 1, sizeof(seed));
		if (sp_key_from_seed(i == 0 ? SP_ROLE_KSK : i == 1 ? SP_ROLE_ZSK : SP_ROLE_DEVICE,
		    seed, NOW - 86400, &k[i]) != SP_OK)
			__builtin_trap();
	}
	memset(&cloud, 0, sizeof(cloud));
	strcpy(cloud.zone, "alice.example.");
	strcpy(cloud.name, "gw");
	sp_zone_config_default(&cfg);
	if (sp_zone_build(&cloud, k, 3, NULL, 0, &cfg, 1, NOW, NULL, &zone, NULL) != SP_OK ||
	    sp_answerer_new(0, &rng.rng, &answerer) != SP_OK ||
	    sp_tsig_key_set(&keys[0], "xfr-key", "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IQ==") != SP_OK ||
	    sp_tsig_key_set(&keys[1], "other.key.", "b3RoZXIgc2VjcmV0") != SP_OK)
		__builtin_trap();
	sp_answerer_set_zone(answerer, zone);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	sp_answer_info info;
	sp_tsig_state st;
	size_t at;

	if (answerer == NULL)
		init();
	(void)sp_answer(answerer, data, size, 1, NOW, out, sizeof(out), &info);
	if (sp_tsig_verify(data, size, keys, 2, NOW, &st, &at) != SP_OK)
		return 0;
	if (at > size || (st.error == SP_TSIG_OK && st.key < 0))
		__builtin_trap();
	if (st.error == SP_TSIG_OK || st.error == SP_TSIG_BADTIME) {
		/* A reply signed with the request's key parses. */
		uint8_t msg[600];
		size_t len = SP_DNS_HEADER;
		ldns_pkt *p = NULL;
		memset(msg, 0, sizeof(msg));
		memcpy(msg, data, 2);
		msg[2] = 0x80;
		if (sp_tsig_sign(msg, &len, sizeof(msg), &keys[st.key], &st, NOW, st.error) != SP_OK ||
		    ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK || ldns_pkt_tsig(p) == NULL)
			__builtin_trap();
		ldns_pkt_free(p);
	} else {
		uint8_t msg[600];
		size_t len = SP_DNS_HEADER;
		memset(msg, 0, sizeof(msg));
		if (sp_tsig_append_error(msg, &len, sizeof(msg), &st, NOW) != SP_OK)
			__builtin_trap();
	}
	return 0;
}
