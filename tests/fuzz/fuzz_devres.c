/*
 * libFuzzer target: the device's validating resolver (resolver/devres.c).
 * Every input is parsed as a client's query, and ingested as the gateway's
 * response to the question it carries itself (its own id, name and type,
 * so that a mutated real response gets past "not mine" into validation),
 * with a validated DNSKEY set in place. Whatever validates is answered
 * back; every reply built must fit its buffer and parse with ldns.
 */
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "sp_answer.h"
#include "sp_cloud.h"
#include "sp_devres.h"
#include "sp_device.h"
#include "sp_zonesrc.h"

#define NOW 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built on the first call and kept: the keys come from fixed seeds (those
 * of fuzz_answer.c), so the seed corpus's responses validate in every run.
 * The cache carries over between inputs, as in the daemon; it is small so
 * that eviction runs. */
static sp_devres *resolver;
static uint8_t out[65535];

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

/* The gateway's answer to one of our queries, from the zone of the seeds. */
static size_t
gateway(sp_answerer *a, uint16_t id, const char *name, uint16_t qtype, uint8_t *resp)
{
	uint8_t q[512], n[SP_DNAME_MAX];
	size_t nl, ql;

	if (sp_dname_from_text(name, n, &nl) != SP_OK ||
	    sp_devres_make_query(id, n, nl, qtype, q, sizeof(q), &ql) != SP_OK)
		__builtin_trap();
	return sp_answer(a, q, ql, 0, NOW, resp, 65535, NULL);
}

static void
init(void)
{
	static sp_key *keys[3];
	static uint8_t anchor[1][SP_DNSKEY_RDATA_BYTES];
	static sp_rng_seeded rng;
	sp_devres_conf conf;
	sp_zone_config cfg;
	sp_answerer *a;
	sp_zone *zone;
	sp_device dev;
	sp_cloud cloud;
	sp_errmsg e;
	sp_key *phone;
	size_t len;

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
	    sp_answerer_new(0, &rng.rng, &a) != SP_OK)
		__builtin_trap();
	sp_answerer_set_zone(a, zone);

	sp_dnskey_rdata(257, sp_key_info_of(keys[0])->pub, anchor[0]);
	memset(&conf, 0, sizeof(conf));
	conf.zone = "alice.example";
	conf.anchor = (const uint8_t (*)[SP_DNSKEY_RDATA_BYTES])anchor;
	conf.nanchor = 1;
	conf.cache_max = 32;
	if (sp_devres_new(&conf, &resolver, &e) != SP_OK)
		__builtin_trap();
	len = gateway(a, 1, "alice.example", SP_T_DNSKEY, out);
	if (sp_devres_ingest(resolver, 1, (const uint8_t *)"\5alice\7example", 15, SP_T_DNSKEY,
	    out, len, NOW, NULL, NULL, 0) != SP_DEVRES_OK)
		__builtin_trap();
	sp_answerer_free(a);
	sp_zone_free(zone);
	for (size_t i = 0; i < 3; i++)
		sp_key_free(keys[i]);
}

static void
check_reply(size_t len, size_t cap)
{
	ldns_pkt *p = NULL;

	if (len < SP_DNS_HEADER || len > cap || (out[2] & 0x80) == 0)
		__builtin_trap();
	if (ldns_wire2pkt(&p, out, len) != LDNS_STATUS_OK)
		__builtin_trap();
	ldns_pkt_free(p);
}

/* The input as a client's query: answered from the cache, or an error. */
static void
as_query(const uint8_t *data, size_t size)
{
	sp_devres_question q;
	sp_devres_rrset rr;
	size_t len, cap = size & 1 ? 512 : sizeof(out);
	int rc = sp_devres_parse(data, size, &q);

	if (rc == SP_OK) {
		q.in_zone = sp_devres_in_zone(resolver, q.qname, q.qname_len);
		q.tcp = (size & 2) != 0;
		if (q.in_zone &&
		    sp_devres_lookup(resolver, q.qname, q.qname_len, q.qtype, NOW, &rr) != SP_DEVRES_MISS) {
			if (sp_devres_answer(resolver, &q, &rr, out, cap, &len) != SP_OK)
				__builtin_trap();
			check_reply(len, cap);
			return;
		}
		if (sp_devres_error(&q, SP_RCODE_SERVFAIL, out, cap, &len) != SP_OK)
			__builtin_trap();
		check_reply(len, cap);
	} else if (rc == SP_EUNSUPP || (size >= SP_DNS_HEADER && !(q.flags & SP_F_QR))) {
		if (sp_devres_error(&q, rc == SP_EUNSUPP ? SP_RCODE_BADVERS : SP_RCODE_FORMERR, out,
		    cap, &len) != SP_OK)
			__builtin_trap();
		check_reply(len, cap);
	}
}

/* The input as the gateway's response to the question it carries. */
static void
as_response(const uint8_t *data, size_t size)
{
	sp_wire w = sp_wire_reader(data, size);
	uint8_t name[SP_DNAME_MAX];
	size_t nlen, len;
	uint16_t id, qtype;
	sp_devres_rrset rr;
	sp_devres_question q;
	char why[64];
	enum sp_devres_result res;

	id = sp_wire_u16(&w);
	sp_wire_skip(&w, 10);
	if (sp_dname_read(&w, name, &nlen, NULL) != SP_OK)
		return;
	qtype = sp_wire_u16(&w);
	if (sp_wire_err(&w) != SP_OK)
		return;
	res = sp_devres_ingest(resolver, id, name, nlen, qtype, data, size, NOW,
	    size & 4 ? NULL : &rr, why, sizeof(why));
	if (res == SP_DEVRES_BOGUS && memchr(why, '\0', sizeof(why)) == NULL)
		__builtin_trap();
	if (res != SP_DEVRES_OK || (size & 4))
		return;
	/* What validated, answered to a client with DO over UDP 512. */
	memset(&q, 0, sizeof(q));
	q.id = id;
	q.flags = SP_F_RD;
	memcpy(q.qname, name, nlen);
	memcpy(q.qname_sent, name, nlen);
	q.qname_len = nlen;
	q.qtype = qtype;
	q.qclass = SP_C_IN;
	q.edns = 1;
	q.udp_size = 512;
	q.do_bit = 1;
	q.edns_flags = SP_EDNS_DO | (size & 8 ? SP_EDNS_CO : 0);
	if (sp_devres_answer(resolver, &q, &rr, out, 512, &len) != SP_OK)
		__builtin_trap();
	check_reply(len, 512);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (resolver == NULL)
		init();
	as_query(data, size);
	as_response(data, size);
	return 0;
}
