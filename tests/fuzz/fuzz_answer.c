/*
 * libFuzzer target: the authoritative answerer (resolver/answer.c) over a
 * fixed signed zone, every input asked over UDP, over TCP, and over TCP
 * into the smallest buffer allowed. Whatever comes back must fit, be a
 * response to this query, and parse with ldns.
 */
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "sp_answer.h"
#include "sp_cloud.h"
#include "sp_device.h"
#include "sp_zonesrc.h"

#define NOW 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built on the first call and kept: the keys come from fixed seeds, so
 * the zone and every signature are the same in every run. The answerer's
 * cache of denial signatures carries over between inputs, as in the
 * daemon. */
static sp_answerer *answerer;
static uint8_t out[65535];
/* Randomness from a fixed seed, so a crash replays exactly. */
static sp_rng_seeded rng;

static sp_key *
key(sp_key_role role, uint8_t fill)
{
	uint8_t seed[SP_KEY_SEED_BYTES];
	sp_key *k;

	memset(seed, fill, sizeof(seed));
	if (sp_key_from_seed(role, seed, NOW - 86400, &k) != SP_OK)
		__builtin_trap();
	return k;
}

static void
init(void)
{
	static sp_key *keys[3];
	static sp_zone *zone;
	sp_zone_config cfg;
	sp_device dev;
	sp_cloud cloud;
	sp_errmsg e;
	sp_key *phone;

	sp_rng_seeded_init(&rng, 1);
	keys[0] = key(SP_ROLE_KSK, 1);
	keys[1] = key(SP_ROLE_ZSK, 2);
	keys[2] = key(SP_ROLE_DEVICE, 3);
	phone = key(SP_ROLE_DEVICE, 4);

	memset(&cloud, 0, sizeof(cloud));
	strcpy(cloud.zone, "alice.example.");
	strcpy(cloud.name, "gw");
	sp_ula_prefix(cloud.zone, sp_key_info_of(keys[0])->pub, cloud.prefix);
	memset(&dev, 0, sizeof(dev));
	strcpy(dev.name, "phone");
	memcpy(dev.pub, sp_key_info_of(phone)->pub, SP_KEY_PUBLIC_BYTES);
	dev.sshfp[0].algorithm = 4;
	dev.sshfp[0].fp_type = 2;
	memset(dev.sshfp[0].fp, 0xab, sizeof(dev.sshfp[0].fp));
	dev.nsshfp = 1;
	sp_key_free(phone);

	sp_zone_config_default(&cfg);
	if (sp_zone_build(&cloud, keys, 3, &dev, 1, &cfg, 1, NOW, NULL, &zone, &e) != SP_OK ||
	    sp_answerer_new(0, &rng.rng, &answerer) != SP_OK)
		__builtin_trap();
	sp_answerer_set_zone(answerer, zone);
}

static void
check(const uint8_t *data, size_t size, int tcp, size_t cap)
{
	sp_answer_info info;
	size_t len = sp_answer(answerer, data, size, tcp, NOW, out, cap, &info);
	ldns_pkt *pkt = NULL;

	if (len > cap)
		__builtin_trap();
	if (len == 0) {
		/* Dropped, or a transfer for the caller (TCP only). */
		if (info.kind != SP_ANS_DROP && !(tcp && info.kind == SP_ANS_XFR))
			__builtin_trap();
		return;
	}
	if (info.kind == SP_ANS_DROP || info.kind == SP_ANS_XFR)
		__builtin_trap();
	/* A response, to this query: a query is at least a header long. */
	if (len < SP_DNS_HEADER || size < 2 || (out[2] & 0x80) == 0 ||
	    out[0] != data[0] || out[1] != data[1])
		__builtin_trap();
	/* At most one question; the additional section is our OPT or empty. */
	if (out[4] != 0 || out[5] > 1 || out[10] != 0 || out[11] > 1)
		__builtin_trap();
	/* UDP stays within 512 without EDNS and within our 1232 with it. */
	if (!tcp && len > SP_DNS_UDP_DEFAULT)
		__builtin_trap();
	if (ldns_wire2pkt(&pkt, out, len) != LDNS_STATUS_OK)
		__builtin_trap();
	if (!tcp && !ldns_pkt_edns(pkt) && len > 512)
		__builtin_trap();
	ldns_pkt_free(pkt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (answerer == NULL)
		init();
	check(data, size, 0, sizeof(out));
	check(data, size, 1, sizeof(out));
	check(data, size, 1, 512);
	return 0;
}
