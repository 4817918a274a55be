/*
 * resolver/devres.c: the device's validating resolver, against the real
 * gateway. A zone is built and signed with sp_zone_build and answered by
 * sp_answer (resolver/answer.c); the queries are the ones
 * sp_devres_make_query builds and the responses are fed to
 * sp_devres_ingest in virtual time. Tampered responses are those bytes
 * with one thing changed, or records signed here with sp_sign_rrset.
 * ldns checks the replies sp_devres_answer builds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "sp_answer.h"
#include "sp_cloud.h"
#include "sp_devres.h"
#include "sp_device.h"
#include "sp_dns.h"
#include "sp_key.h"
#include "sp_xfr.h"
#include "sp_zone.h"
#include "sp_zonesrc.h"

#define NOW 1700000000
#define LATER (NOW + 20 * 86400)   /* past every signature made at NOW */
#define CAP 65535
#define ZONE "alice.example."
#define T_TXT 16
#define T_CNAME 5

static struct {
	sp_key *ksk, *zsk, *self, *other;
	sp_cloud cloud;
	sp_device devs[3];
	sp_zone *zone;         /* signed at NOW: apex, gw, phone, laptop, server */
	sp_zone *later;        /* the same keys, signed at LATER, device TTL 100000 */
	sp_answerer *a, *a_later;
	uint8_t anchor[1][SP_DNSKEY_RDATA_BYTES];
	sp_devres *r;          /* fresh for every test */
	uint8_t resp[CAP], out[CAP];
	char why[128];
} F;

/* ---- helpers ------------------------------------------------------------ */

static size_t
wire(const char *text, uint8_t out[SP_DNAME_MAX])
{
	size_t len;

	assert_int_equal(sp_dname_from_text(text, out, &len), SP_OK);
	return len;
}

/* The gateway's response to the query sp_devres_make_query builds. */
static size_t
gateway(sp_answerer *a, uint16_t id, const char *name, uint16_t qtype, int64_t now,
    uint8_t *out)
{
	uint8_t q[512], n[SP_DNAME_MAX];
	size_t ql, nl = wire(name, n), len;

	assert_int_equal(sp_devres_make_query(id, n, nl, qtype, q, sizeof(q), &ql), SP_OK);
	len = sp_answer(a, q, ql, 0, now, out, CAP, NULL);
	assert_true(len > SP_DNS_HEADER);
	return len;
}

static enum sp_devres_result
feed(uint16_t id, const char *name, uint16_t qtype, const uint8_t *resp, size_t len,
    int64_t now, sp_devres_rrset *out)
{
	uint8_t n[SP_DNAME_MAX];
	size_t nl = wire(name, n);

	F.why[0] = 'x';
	return sp_devres_ingest(F.r, id, n, nl, qtype, resp, len, now, out, F.why, sizeof(F.why));
}

/* Ask F.a (the zone of NOW) and ingest the response at now. */
static enum sp_devres_result
ask(const char *name, uint16_t qtype, int64_t now, sp_devres_rrset *out)
{
	size_t len = gateway(F.a, 7, name, qtype, now, F.resp);
	return feed(7, name, qtype, F.resp, len, now, out);
}

static void
keys(int64_t now)
{
	assert_int_equal(ask(ZONE, SP_T_DNSKEY, now, NULL), SP_DEVRES_OK);
	assert_true(sp_devres_have_keys(F.r, now));
}

static void
expect_bogus(enum sp_devres_result res, const char *reason)
{
	assert_int_equal(res, SP_DEVRES_BOGUS);
	if (strstr(F.why, reason) == NULL)
		fail_msg("why is \"%s\", expected \"%s\" in it", F.why, reason);
}

static uint16_t
u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The zone's RRset of (name, type): its rdatas, as sp_zone holds them. */
static void
expect_zone_rrset(const sp_zone *z, const char *name, uint16_t type, const sp_devres_rrset *got)
{
	uint8_t n[SP_DNAME_MAX];
	size_t nl = wire(name, n), off = 0;
	const sp_node *node = sp_zone_find(z, n, nl);
	const sp_rrset *rs;

	assert_non_null(node);
	rs = sp_node_rrset(node, type);
	assert_non_null(rs);
	assert_int_equal(got->kind, SP_DEVRES_POSITIVE);
	assert_int_equal(got->type, type);
	assert_int_equal(got->n, rs->count);
	/* Both in canonical order: the gateway sends them so. */
	for (size_t i = 0; i < got->n; i++) {
		uint16_t l = u16(rs->rdata + off);
		assert_int_equal(got->rdlen[i], l);
		assert_memory_equal(got->rdata[i], rs->rdata + off + 2, l);
		off += 2 + l;
	}
	assert_true(got->nsig >= 1);
}

static ldns_pkt *
parse(const uint8_t *r, size_t len)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_wire2pkt(&p, r, len), LDNS_STATUS_OK);
	return p;
}

static size_t
unparse(const ldns_pkt *p, uint8_t *out)
{
	uint8_t *w = NULL;
	size_t len;

	assert_int_equal(ldns_pkt2wire(&w, p, &len), LDNS_STATUS_OK);
	assert_true(len <= CAP);
	memcpy(out, w, len);
	free(w);
	return len;
}

/* The zone's DNSKEYs as ldns sees them. */
static ldns_rr_list *
zone_keys(void)
{
	ldns_rr_list *l = ldns_rr_list_new();
	uint8_t rd[SP_DNSKEY_RDATA_BYTES], apex[SP_DNAME_MAX];
	size_t al = wire(ZONE, apex);

	sp_dnskey_rdata(257, sp_key_info_of(F.ksk)->pub, rd);
	ldns_rr_list_push_rr(l, sp_xfr_ldns_rr(apex, al, SP_T_DNSKEY, 3600, rd, sizeof(rd)));
	sp_dnskey_rdata(256, sp_key_info_of(F.zsk)->pub, rd);
	ldns_rr_list_push_rr(l, sp_xfr_ldns_rr(apex, al, SP_T_DNSKEY, 3600, rd, sizeof(rd)));
	return l;
}

/* Every RRSIG in section s of p verifies, with ldns, over its RRset at
 * now; returns how many there were. */
static size_t
verify_section(const ldns_pkt *p, ldns_pkt_section s, int64_t now)
{
	ldns_rr_list *sigs = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_RRSIG, s);
	ldns_rr_list *keys = zone_keys();
	size_t n = sigs ? ldns_rr_list_rr_count(sigs) : 0;

	for (size_t i = 0; i < n; i++) {
		ldns_rr *sig = ldns_rr_list_rr(sigs, i);
		ldns_rr_list *rrs = ldns_pkt_rr_list_by_type(p,
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig)), s);
		ldns_rr_list *good = ldns_rr_list_new();

		assert_non_null(rrs);
		assert_int_equal(ldns_verify_rrsig_keylist_time(rrs, sig, keys, now, good),
		    LDNS_STATUS_OK);
		ldns_rr_list_free(good);
		ldns_rr_list_deep_free(rrs);
	}
	ldns_rr_list_deep_free(keys);
	ldns_rr_list_deep_free(sigs);
	return n;
}

/* An RRSIG RR over one RR (owner, type, ttl, rdata), made here. */
static ldns_rr *
sign_one(const sp_key *key, const char *signer, const char *owner, uint16_t type, uint32_t ttl,
    const uint8_t *rd, size_t rdlen, int64_t now)
{
	uint8_t set[2 + 512], sig[18 + SP_DNAME_MAX + SP_KEY_SIG_BYTES], s[SP_DNAME_MAX],
	    o[SP_DNAME_MAX];
	size_t sl = wire(signer, s), ol = wire(owner, o), siglen;

	set[0] = (uint8_t)(rdlen >> 8);
	set[1] = (uint8_t)rdlen;
	memcpy(set + 2, rd, rdlen);
	assert_int_equal(sp_sign_rrset(key, s, sl, o, ol, type, ttl, set, rdlen + 2, 1,
	    (uint32_t)(now - 3600), (uint32_t)(now + 86400), sig, &siglen), SP_OK);
	return sp_xfr_ldns_rr(o, ol, SP_T_RRSIG, ttl, sig, siglen);
}

/* A wildcard's RRSIG (labels 2, "*.alice.example") over one AAAA, as a
 * zone with a wildcard would make it, by hand after RFC 4034 3.1.8.1. */
static ldns_rr *
sign_wildcard(const char *owner, const uint8_t addr[16], int64_t now)
{
	static const uint8_t zone[] = "\5alice\7example";
	static const uint8_t star[] = "\1*\5alice\7example";
	uint8_t rd[18 + sizeof(zone) + SP_KEY_SIG_BYTES], msg[512], o[SP_DNAME_MAX];
	sp_wire w = sp_wire_writer(rd, sizeof(rd)), m;
	size_t ol = wire(owner, o), pre;

	sp_wire_put_u16(&w, SP_T_AAAA);
	sp_wire_put_u8(&w, SP_KEY_ALG_ED25519);
	sp_wire_put_u8(&w, 2);
	sp_wire_put_u32(&w, 300);
	sp_wire_put_u32(&w, (uint32_t)(now + 86400));
	sp_wire_put_u32(&w, (uint32_t)(now - 3600));
	sp_wire_put_u16(&w, sp_key_info_of(F.zsk)->tag);
	sp_wire_put(&w, zone, sizeof(zone));
	pre = sp_wire_used(&w);
	m = sp_wire_writer(msg, sizeof(msg));
	sp_wire_put(&m, rd, pre);
	sp_wire_put(&m, star, sizeof(star));
	sp_wire_put_u16(&m, SP_T_AAAA);
	sp_wire_put_u16(&m, SP_C_IN);
	sp_wire_put_u32(&m, 300);
	sp_wire_put_u16(&m, 16);
	sp_wire_put(&m, addr, 16);
	assert_int_equal(sp_wire_err(&m), SP_OK);
	assert_int_equal(sp_key_sign(F.zsk, msg, sp_wire_used(&m), rd + pre), SP_OK);
	return sp_xfr_ldns_rr(o, ol, SP_T_RRSIG, 300, rd, pre + SP_KEY_SIG_BYTES);
}

static ldns_rr *
rr_of(const char *owner, uint16_t type, uint32_t ttl, const uint8_t *rd, size_t rdlen)
{
	uint8_t o[SP_DNAME_MAX];
	size_t ol = wire(owner, o);
	ldns_rr *rr = sp_xfr_ldns_rr(o, ol, type, ttl, rd, rdlen);

	assert_non_null(rr);
	return rr;
}

/* A response to (id, qname, qtype) with these records (taken). */
static size_t
respond(uint16_t id, ldns_pkt_rcode rcode, const char *qname, uint16_t qtype,
    ldns_rr **an, size_t nan, ldns_rr **ns, size_t nns, uint8_t *out)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), (ldns_rr_type)qtype,
	    LDNS_RR_CLASS_IN, 0);
	size_t len;

	assert_non_null(p);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (size_t i = 0; i < nan; i++)
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, an[i]);
	for (size_t i = 0; i < nns; i++)
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, ns[i]);
	len = unparse(p, out);
	ldns_pkt_free(p);
	return len;
}

/* A client's query, as a stub sends it. */
static size_t
client_query(uint8_t *buf, uint16_t id, uint16_t flags, const char *name, uint16_t qtype,
    int edns, uint16_t udp, uint16_t eflags)
{
	sp_wire w = sp_wire_writer(buf, 512);
	const char *p = name;

	sp_wire_put_u16(&w, id);
	sp_wire_put_u16(&w, flags);
	sp_wire_put_u16(&w, 1);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, edns ? 1 : 0);
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		sp_wire_put_u8(&w, (uint8_t)l);
		sp_wire_put(&w, p, l);
		p += l + (dot != NULL);
	}
	sp_wire_put_u8(&w, 0);
	sp_wire_put_u16(&w, qtype);
	sp_wire_put_u16(&w, SP_C_IN);
	if (edns) {
		sp_wire_put_u8(&w, 0);
		sp_wire_put_u16(&w, SP_T_OPT);
		sp_wire_put_u16(&w, udp);
		sp_wire_put_u32(&w, eflags);
		sp_wire_put_u16(&w, 0);
	}
	assert_int_equal(sp_wire_err(&w), SP_OK);
	return sp_wire_used(&w);
}

static void
question(sp_devres_question *q, uint16_t flags, const char *name, uint16_t qtype, int edns,
    uint16_t udp, uint16_t eflags)
{
	uint8_t buf[512];
	size_t len = client_query(buf, 0x4242, flags, name, qtype, edns, udp, eflags);

	assert_int_equal(sp_devres_parse(buf, len, q), SP_OK);
	q->in_zone = sp_devres_in_zone(F.r, q->qname, q->qname_len);
}

/* ---- fixture ------------------------------------------------------------ */

static int
device(sp_device *d, const char *name)
{
	sp_key *k;

	if (sp_key_generate(SP_ROLE_DEVICE, NOW, sp_platform_rng(), &k) != SP_OK)
		return -1;
	snprintf(d->name, sizeof(d->name), "%s", name);
	memcpy(d->pub, sp_key_info_of(k)->pub, SP_KEY_PUBLIC_BYTES);
	sp_key_free(k);
	return 0;
}

static int
group_setup(void **state)
{
	sp_zone_config cfg;
	sp_errmsg e;

	(void)state;
	memset(&F, 0, sizeof(F));
	if (sp_key_generate(SP_ROLE_KSK, NOW - 86400, sp_platform_rng(), &F.ksk) != SP_OK ||
	    sp_key_generate(SP_ROLE_ZSK, NOW - 86400, sp_platform_rng(), &F.zsk) != SP_OK ||
	    sp_key_generate(SP_ROLE_DEVICE, NOW - 86400, sp_platform_rng(), &F.self) != SP_OK ||
	    sp_key_generate(SP_ROLE_KSK, NOW - 86400, sp_platform_rng(), &F.other) != SP_OK)
		return -1;
	snprintf(F.cloud.zone, sizeof(F.cloud.zone), ZONE);
	snprintf(F.cloud.name, sizeof(F.cloud.name), "gw");
	sp_ula_prefix(F.cloud.zone, sp_key_info_of(F.ksk)->pub, F.cloud.prefix);
	if (device(&F.devs[0], "phone") != 0 || device(&F.devs[1], "laptop") != 0 ||
	    device(&F.devs[2], "server") != 0)
		return -1;
	for (size_t i = 0; i < 8; i++) {
		F.devs[2].sshfp[i].algorithm = (uint8_t)(1 + i % 4);
		F.devs[2].sshfp[i].fp_type = 2;
		memset(F.devs[2].sshfp[i].fp, 0x40 + (int)i, 32);
	}
	F.devs[2].nsshfp = 8;
	sp_key *ks[] = { F.ksk, F.zsk, F.self };
	sp_zone_config_default(&cfg);
	if (sp_zone_build(&F.cloud, ks, 3, F.devs, 3, &cfg, 7, NOW, NULL, &F.zone, &e) != SP_OK)
		return -1;
	cfg.ttl = 100000;
	if (sp_zone_build(&F.cloud, ks, 3, F.devs, 3, &cfg, 8, LATER, NULL, &F.later, &e) != SP_OK)
		return -1;
	if (sp_answerer_new(0, sp_platform_rng(), &F.a) != SP_OK ||
	    sp_answerer_new(0, sp_platform_rng(), &F.a_later) != SP_OK)
		return -1;
	sp_answerer_set_zone(F.a, F.zone);
	sp_answerer_set_zone(F.a_later, F.later);
	sp_dnskey_rdata(257, sp_key_info_of(F.ksk)->pub, F.anchor[0]);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	sp_answerer_free(F.a);
	sp_answerer_free(F.a_later);
	sp_zone_free(F.zone);
	sp_zone_free(F.later);
	sp_key_free(F.ksk);
	sp_key_free(F.zsk);
	sp_key_free(F.self);
	sp_key_free(F.other);
	return 0;
}

static int
new_resolver(size_t cache_max, uint32_t stale_s)
{
	sp_devres_conf c = { ZONE, (const uint8_t (*)[SP_DNSKEY_RDATA_BYTES])F.anchor, 1,
	    cache_max, stale_s };
	sp_errmsg e;

	sp_devres_free(F.r);
	F.r = NULL;
	return sp_devres_new(&c, &F.r, &e) == SP_OK ? 0 : -1;
}

static int
setup(void **state)
{
	(void)state;
	return new_resolver(0, 0);
}

static int
teardown(void **state)
{
	(void)state;
	sp_devres_free(F.r);
	F.r = NULL;
	return 0;
}

/* ---- construction and the query ----------------------------------------- */

static void
test_new(void **state)
{
	uint8_t bad[1][SP_DNSKEY_RDATA_BYTES];
	sp_devres_conf c = { ZONE, (const uint8_t (*)[SP_DNSKEY_RDATA_BYTES])F.anchor, 1, 0, 0 };
	sp_devres *r = NULL;
	sp_errmsg e;
	size_t zl;

	(void)state;
	c.nanchor = 0;
	assert_int_equal(sp_devres_new(&c, &r, &e), SP_EINVAL);
	assert_null(r);
	assert_non_null(strstr(e.msg, "anchor"));
	c.nanchor = 1;
	c.zone = "a..b";
	assert_int_equal(sp_devres_new(&c, &r, &e), SP_EINVAL);
	c.zone = ZONE;
	c.cache_max = (size_t)1 << 40;
	assert_int_equal(sp_devres_new(&c, &r, &e), SP_EINVAL);
	c.cache_max = 0;
	/* An anchor that is not an Ed25519 zone key can never verify. */
	memcpy(bad[0], F.anchor[0], sizeof(bad[0]));
	bad[0][3] = 13;
	c.anchor = (const uint8_t (*)[SP_DNSKEY_RDATA_BYTES])bad;
	assert_int_equal(sp_devres_new(&c, &r, &e), SP_EINVAL);
	c.anchor = (const uint8_t (*)[SP_DNSKEY_RDATA_BYTES])F.anchor;
	c.zone = "Alice.Example";
	assert_int_equal(sp_devres_new(&c, &r, &e), SP_OK);
	assert_memory_equal(sp_devres_zone(r, &zl), "\5alice\7example", 15);
	assert_int_equal(zl, 15);
	assert_true(sp_devres_in_zone(r, (const uint8_t *)"\5PHONE\5alice\7example", 21));
	assert_true(sp_devres_in_zone(r, (const uint8_t *)"\5alice\7example", 15));
	assert_false(sp_devres_in_zone(r, (const uint8_t *)"\7example", 9));
	assert_false(sp_devres_in_zone(r, (const uint8_t *)"\3bob\7example", 13));
	sp_devres_free(r);
	sp_devres_free(NULL);
}

static void
test_make_query(void **state)
{
	uint8_t n[SP_DNAME_MAX], q[512];
	size_t nl = wire("Phone.alice.example", n), len;
	ldns_pkt *p;

	(void)state;
	assert_int_equal(sp_devres_make_query(0xabcd, n, nl, SP_T_AAAA, q, sizeof(q), &len), SP_OK);
	/* Header 12, question 21 + 4, OPT 11. */
	assert_int_equal(len, 12 + 25 + 11);
	assert_int_equal(u16(q), 0xabcd);
	assert_int_equal(u16(q + 2), 0);                   /* a query, RD clear */
	assert_int_equal(u16(q + len - 4), SP_EDNS_DO | SP_EDNS_CO);
	p = parse(q, len);
	assert_false(ldns_pkt_qr(p));
	assert_false(ldns_pkt_rd(p));
	assert_true(ldns_pkt_edns(p));
	assert_true(ldns_pkt_edns_do(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)),
	    LDNS_RR_TYPE_AAAA);
	ldns_pkt_free(p);
	assert_int_equal(sp_devres_make_query(1, n, nl, SP_T_AAAA, q, 40, &len), SP_ESPACE);
	assert_int_equal(sp_devres_make_query(1, n, nl - 1, SP_T_AAAA, q, sizeof(q), &len),
	    SP_EINVAL);
	assert_int_equal(sp_devres_make_query(1, (const uint8_t *)"\300\014", 2, SP_T_AAAA, q,
	    sizeof(q), &len), SP_EINVAL);
}

/* ---- the DNSKEY set and the anchor -------------------------------------- */

static void
test_dnskey_anchor(void **state)
{
	sp_devres_rrset rr;
	size_t len;

	(void)state;
	assert_false(sp_devres_have_keys(F.r, NOW));
	/* Nothing validates before the keys. */
	assert_int_equal(ask("phone.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_NEED_KEYS);
	assert_int_equal(ask("nosuch.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_NEED_KEYS);
	assert_int_equal(ask(ZONE, SP_T_DNSKEY, NOW, &rr), SP_DEVRES_OK);
	expect_zone_rrset(F.zone, ZONE, SP_T_DNSKEY, &rr);
	assert_int_equal(rr.n, 2);
	assert_int_equal(rr.nsig, 1);       /* the KSK's */
	assert_int_equal(rr.ttl, 3600);
	assert_true(sp_devres_have_keys(F.r, NOW));
	assert_true(sp_devres_have_keys(F.r, NOW + 3599));
	assert_false(sp_devres_have_keys(F.r, NOW + 3600));
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\5alice\7example", 15,
	    SP_T_DNSKEY, NOW + 10, &rr), SP_DEVRES_FRESH);
	assert_int_equal(rr.ttl, 3590);
	assert_int_equal(sp_devres_stats_get(F.r)->validated, 1);
	/* Once they expire, the keys are needed again. */
	assert_int_equal(ask("phone.alice.example", SP_T_AAAA, NOW + 3600, NULL),
	    SP_DEVRES_NEED_KEYS);

	/* An anchor the zone does not have. */
	sp_dnskey_rdata(257, sp_key_info_of(F.other)->pub, F.anchor[0]);
	assert_int_equal(new_resolver(0, 0), 0);
	expect_bogus(ask(ZONE, SP_T_DNSKEY, NOW, NULL), "trust anchor");
	assert_false(sp_devres_have_keys(F.r, NOW));
	/* The ZSK as anchor: in the RRset, but it does not sign it. */
	sp_dnskey_rdata(256, sp_key_info_of(F.zsk)->pub, F.anchor[0]);
	assert_int_equal(new_resolver(0, 0), 0);
	expect_bogus(ask(ZONE, SP_T_DNSKEY, NOW, NULL), "does not verify");
	assert_int_equal(sp_devres_stats_get(F.r)->bogus, 1);
	sp_dnskey_rdata(257, sp_key_info_of(F.ksk)->pub, F.anchor[0]);
	assert_int_equal(new_resolver(0, 0), 0);

	/* The KSK's signature flipped. */
	len = gateway(F.a, 7, ZONE, SP_T_DNSKEY, NOW, F.resp);
	F.resp[len - 12] ^= 1;
	expect_bogus(feed(7, ZONE, SP_T_DNSKEY, F.resp, len, NOW, NULL), "does not verify");
	/* Without DO, no signature at all. */
	{
		uint8_t q[512];
		size_t ql = client_query(q, 7, 0, "alice.example", SP_T_DNSKEY, 1, 1232, 0);
		len = sp_answer(F.a, q, ql, 0, NOW, F.resp, CAP, NULL);
		expect_bogus(feed(7, ZONE, SP_T_DNSKEY, F.resp, len, NOW, NULL), "no RRSIG");
	}
	assert_false(sp_devres_have_keys(F.r, NOW));
	/* A signed denial (the apex's, for TLSA) cannot stand in for them. */
	len = gateway(F.a, 7, ZONE, SP_T_TLSA, NOW, F.resp);
	{
		ldns_pkt *p = parse(F.resp, len);
		ldns_rr_list *ns = ldns_rr_list_clone(ldns_pkt_authority(p));
		ldns_rr *recs[4];
		assert_int_equal(ldns_rr_list_rr_count(ns), 4);
		for (size_t i = 0; i < 4; i++)
			recs[i] = ldns_rr_list_rr(ns, i);
		len = respond(7, LDNS_RCODE_NOERROR, ZONE, SP_T_DNSKEY, NULL, 0, recs, 4, F.resp);
		ldns_rr_list_free(ns);
		ldns_pkt_free(p);
	}
	expect_bogus(feed(7, ZONE, SP_T_DNSKEY, F.resp, len, NOW, NULL), "no DNSKEY RRset");
	keys(NOW);
}

/* ---- positive answers --------------------------------------------------- */

static void
test_positive(void **state)
{
	sp_devres_rrset rr;
	uint8_t addr[16];

	(void)state;
	keys(NOW);
	assert_int_equal(ask("PHONE.alice.example", SP_T_AAAA, NOW, &rr), SP_DEVRES_OK);
	expect_zone_rrset(F.zone, "phone.alice.example", SP_T_AAAA, &rr);
	sp_ula_device(F.cloud.prefix, F.devs[0].pub, addr);
	assert_int_equal(rr.rdlen[0], 16);
	assert_memory_equal(rr.rdata[0], addr, 16);
	assert_int_equal(rr.ttl, 300);
	assert_int_equal(rr.stale, 0);
	assert_int_equal(rr.nsig, 1);
	assert_int_equal(u16(rr.sig[0]), SP_T_AAAA);      /* type covered */

	assert_int_equal(ask("laptop.alice.example", SP_T_IPSECKEY, NOW, &rr), SP_DEVRES_OK);
	expect_zone_rrset(F.zone, "laptop.alice.example", SP_T_IPSECKEY, &rr);
	assert_int_equal(ask("server.alice.example", SP_T_SSHFP, NOW, &rr), SP_DEVRES_OK);
	expect_zone_rrset(F.zone, "server.alice.example", SP_T_SSHFP, &rr);
	assert_int_equal(rr.n, 8);
	assert_int_equal(ask("gw.alice.example", SP_T_IPSECKEY, NOW, &rr), SP_DEVRES_OK);

	/* Cached, under the lowercase name; any case finds it. */
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\5phone\5alice\7example", 21,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_FRESH);
	expect_zone_rrset(F.zone, "phone.alice.example", SP_T_AAAA, &rr);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6LAPTOP\5alice\7example", 22,
	    SP_T_IPSECKEY, NOW, &rr), SP_DEVRES_FRESH);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\5phone\5alice\7example", 21,
	    SP_T_IPSECKEY, NOW, &rr), SP_DEVRES_MISS);
	assert_int_equal(sp_devres_stats_get(F.r)->validated, 5);
	assert_int_equal(sp_devres_stats_get(F.r)->hits, 2);
	assert_int_equal(sp_devres_stats_get(F.r)->misses, 1);
	assert_int_equal(sp_devres_stats_get(F.r)->bogus, 0);
}

/* ---- denial ------------------------------------------------------------- */

static void
test_denial(void **state)
{
	sp_devres_rrset rr;
	ldns_pkt *p;
	uint32_t nsec_ttl;
	size_t len;

	(void)state;
	keys(NOW);
	len = gateway(F.a, 7, "phone.alice.example", T_TXT, NOW, F.resp);
	assert_int_equal(feed(7, "phone.alice.example", T_TXT, F.resp, len, NOW, &rr),
	    SP_DEVRES_OK);
	assert_int_equal(rr.kind, SP_DEVRES_NODATA);
	assert_int_equal(rr.n, 0);
	assert_int_equal(rr.nsig, 1);
	assert_non_null(rr.nsec);
	/* The TTL is the NSEC's. */
	p = parse(F.resp, len);
	{
		ldns_rr_list *l = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_NSEC,
		    LDNS_SECTION_AUTHORITY);
		nsec_ttl = ldns_rr_ttl(ldns_rr_list_rr(l, 0));
		ldns_rr_list_deep_free(l);
	}
	ldns_pkt_free(p);
	assert_int_equal(rr.ttl, nsec_ttl);
	assert_int_equal(rr.ttl, 300);

	len = gateway(F.a, 7, "nosuch.alice.example", SP_T_AAAA, NOW, F.resp);
	assert_int_equal(F.resp[3] & 0x0f, SP_RCODE_NXDOMAIN);    /* CO asked for it */
	assert_int_equal(feed(7, "nosuch.alice.example", SP_T_AAAA, F.resp, len, NOW, &rr),
	    SP_DEVRES_OK);
	assert_int_equal(rr.kind, SP_DEVRES_NXDOMAIN);
	assert_int_equal(rr.ttl, 300);
	assert_int_equal(rr.nsig, 1);
	/* next name "\000.nosuch.alice.example", then the bitmap. */
	assert_memory_equal(rr.nsec, "\1\0\6nosuch\5alice\7example", 24);

	/* A type the apex has not: NODATA at the apex. */
	assert_int_equal(ask(ZONE, SP_T_TLSA, NOW, &rr), SP_DEVRES_OK);
	assert_int_equal(rr.kind, SP_DEVRES_NODATA);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6nosuch\5alice\7example", 22,
	    SP_T_AAAA, NOW + 299, &rr), SP_DEVRES_FRESH);
	assert_int_equal(rr.kind, SP_DEVRES_NXDOMAIN);
	assert_int_equal(rr.ttl, 1);
	/* Another type of a missing name is another question. */
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6nosuch\5alice\7example", 22,
	    SP_T_A, NOW, &rr), SP_DEVRES_MISS);
}

/* ---- bogus -------------------------------------------------------------- */

static void
test_bogus_tampered(void **state)
{
	sp_devres_rrset rr;
	size_t len;
	ldns_pkt *p;

	(void)state;
	keys(NOW);
	/* The last byte of the AAAA's signature (the OPT's 11 bytes follow). */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[len - 12] ^= 0x01;
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "RRSIG over AAAA does not verify");
	/* The address: header, question (21 + 4), the RR's 12 bytes. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[12 + 25 + 12 + 15] ^= 0x80;
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "does not verify");
	/* The RRSIG's signer name, one letter. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[12 + 25 + 28 + 12 + 18 + 1] = 'b';
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "not signed by the zone");
	/* The NSEC's signature. */
	len = gateway(F.a, 7, "nosuch.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[len - 12] ^= 0x01;
	expect_bogus(feed(7, "nosuch.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "RRSIG over NSEC does not verify");
	/* Nothing of this went into the cache. */
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\5phone\5alice\7example", 21,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_MISS);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6nosuch\5alice\7example", 22,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_MISS);
	assert_int_equal(sp_devres_stats_get(F.r)->bogus, 4);

	/* Missing RRSIG: the gateway asked without DO. */
	{
		uint8_t q[512];
		size_t ql = client_query(q, 7, 0, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
		len = sp_answer(F.a, q, ql, 0, NOW, F.resp, CAP, NULL);
		expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
		    "no RRSIG over AAAA");
		ql = client_query(q, 7, 0, "phone.alice.example", T_TXT, 0, 0, 0);
		len = sp_answer(F.a, q, ql, 0, NOW, F.resp, CAP, NULL);
		expect_bogus(feed(7, "phone.alice.example", T_TXT, F.resp, len, NOW, NULL),
		    "without an NSEC");
	}
	/* The RRSIG removed from a DO answer. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	p = parse(F.resp, len);
	ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_answer(p)));
	ldns_pkt_set_ancount(p, 1);
	len = unparse(p, F.resp);
	ldns_pkt_free(p);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "no RRSIG over AAAA");
	/* An extra unsigned AAAA beside the signed one. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr *extra = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&extra,
		    "phone.alice.example. 300 IN AAAA 2001:db8::1", 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, extra);
	}
	len = unparse(p, F.resp);
	ldns_pkt_free(p);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "does not verify");
	/* An unsigned record of another type, or of another name. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr *extra = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&extra,
		    "phone.alice.example. 300 IN A 192.0.2.1", 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, extra);
	}
	len = unparse(p, F.resp);
	ldns_pkt_free(p);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "another type");
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr *extra = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&extra,
		    "evil.example. 300 IN AAAA 2001:db8::66", 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, extra);
	}
	len = unparse(p, F.resp);
	ldns_pkt_free(p);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "another name");
	/* And still nothing cached. */
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\5phone\5alice\7example", 21,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_MISS);
}

static void
test_bogus_denial_shape(void **state)
{
	size_t len;
	ldns_pkt *p;

	(void)state;
	keys(NOW);
	/* NXDOMAIN with an NSEC that has no NXNAME (the NODATA's, signed). */
	len = gateway(F.a, 7, "phone.alice.example", T_TXT, NOW, F.resp);
	F.resp[3] = (uint8_t)((F.resp[3] & 0xf0) | SP_RCODE_NXDOMAIN);
	expect_bogus(feed(7, "phone.alice.example", T_TXT, F.resp, len, NOW, NULL),
	    "NXDOMAIN without NXNAME");
	/* NOERROR with NXNAME. */
	len = gateway(F.a, 7, "nosuch.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[3] = (uint8_t)(F.resp[3] & 0xf0);
	expect_bogus(feed(7, "nosuch.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "NXNAME in the NSEC of a NOERROR");
	/* A NODATA whose NSEC lists the type asked for: laptop's NSEC (it
	 * has AAAA) answering laptop AAAA. */
	len = gateway(F.a, 7, "laptop.alice.example", T_TXT, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr_list *ns = ldns_rr_list_clone(ldns_pkt_authority(p));
		ldns_rr *recs[4];
		size_t n = ldns_rr_list_rr_count(ns);
		assert_int_equal(n, 4);
		for (size_t i = 0; i < n; i++)
			recs[i] = ldns_rr_list_rr(ns, i);
		len = respond(7, LDNS_RCODE_NOERROR, "laptop.alice.example.", SP_T_AAAA, NULL, 0,
		    recs, n, F.resp);
		ldns_rr_list_free(ns);
		/* Asked as laptop TXT, it is fine; as laptop AAAA it is not. */
		expect_bogus(feed(7, "laptop.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
		    "the NSEC says AAAA exists");
	}
	ldns_pkt_free(p);
	/* laptop's NSEC and RRSIG answering for another name. */
	len = gateway(F.a, 7, "laptop.alice.example", T_TXT, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr_list *ns = ldns_rr_list_clone(ldns_pkt_authority(p));
		ldns_rr *recs[4];
		for (size_t i = 0; i < 4; i++)
			recs[i] = ldns_rr_list_rr(ns, i);
		len = respond(7, LDNS_RCODE_NOERROR, "nosuch.alice.example.", T_TXT, NULL, 0,
		    recs, 4, F.resp);
		ldns_rr_list_free(ns);
		expect_bogus(feed(7, "nosuch.alice.example", T_TXT, F.resp, len, NOW, NULL),
		    "not at the query name");
	}
	ldns_pkt_free(p);
	/* Two NSECs (the same one twice). */
	len = gateway(F.a, 7, "nosuch.alice.example", SP_T_AAAA, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr_list *l = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_NSEC,
		    LDNS_SECTION_AUTHORITY);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, ldns_rr_clone(ldns_rr_list_rr(l, 0)));
		ldns_rr_list_deep_free(l);
	}
	len = unparse(p, F.resp);
	ldns_pkt_free(p);
	expect_bogus(feed(7, "nosuch.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "more than one NSEC");
	/* The NSEC without its RRSIG. */
	len = gateway(F.a, 7, "nosuch.alice.example", SP_T_AAAA, NOW, F.resp);
	p = parse(F.resp, len);
	{
		ldns_rr_list *ns = ldns_pkt_authority(p);
		ldns_rr *recs[4];
		size_t n = 0;
		for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
			ldns_rr *rr = ldns_rr_list_rr(ns, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
			    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_NSEC)
				continue;
			recs[n++] = ldns_rr_clone(rr);
		}
		len = respond(7, LDNS_RCODE_NXDOMAIN, "nosuch.alice.example.", SP_T_AAAA, NULL, 0,
		    recs, n, F.resp);
		expect_bogus(feed(7, "nosuch.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
		    "no RRSIG over NSEC");
	}
	ldns_pkt_free(p);
	/* Answer records in an NXDOMAIN. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[3] = (uint8_t)((F.resp[3] & 0xf0) | SP_RCODE_NXDOMAIN);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "NXDOMAIN");
	/* Neither answer nor authority. */
	len = respond(7, LDNS_RCODE_NOERROR, "phone.alice.example.", T_TXT, NULL, 0, NULL, 0,
	    F.resp);
	expect_bogus(feed(7, "phone.alice.example", T_TXT, F.resp, len, NOW, NULL),
	    "NODATA without an NSEC");
}

static void
test_bogus_signed_wrong(void **state)
{
	uint8_t addr[16], target[SP_DNAME_MAX];
	size_t len, tl;
	ldns_rr *an[2];

	(void)state;
	keys(NOW);
	memset(addr, 0x20, sizeof(addr));
	/* Signed by a key that is not in the DNSKEY set. */
	an[0] = rr_of("phone.alice.example.", SP_T_AAAA, 300, addr, 16);
	an[1] = sign_one(F.other, ZONE, "phone.alice.example.", SP_T_AAAA, 300, addr, 16, NOW);
	len = respond(7, LDNS_RCODE_NOERROR, "phone.alice.example.", SP_T_AAAA, an, 2, NULL, 0,
	    F.resp);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "does not verify");
	/* The zone's ZSK, but "example." as signer. */
	an[0] = rr_of("phone.alice.example.", SP_T_AAAA, 300, addr, 16);
	an[1] = sign_one(F.zsk, "example.", "phone.alice.example.", SP_T_AAAA, 300, addr, 16, NOW);
	len = respond(7, LDNS_RCODE_NOERROR, "phone.alice.example.", SP_T_AAAA, an, 2, NULL, 0,
	    F.resp);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "not signed by the zone");
	/* A wildcard's signature, expanded: valid in DNSSEC, never made by
	 * this zone. */
	an[0] = rr_of("ghost.alice.example.", SP_T_AAAA, 300, addr, 16);
	an[1] = sign_wildcard("ghost.alice.example.", addr, NOW);
	{
		/* ldns itself would accept it: the refusal is ours. */
		ldns_rr_list *rrs = ldns_rr_list_new(), *k = zone_keys(), *good = ldns_rr_list_new();
		ldns_rr_list_push_rr(rrs, an[0]);
		assert_int_equal(ldns_verify_rrsig_keylist_time(rrs, an[1], k, NOW, good),
		    LDNS_STATUS_OK);
		ldns_rr_list_free(good);
		ldns_rr_list_deep_free(k);
		ldns_rr_list_free(rrs);
	}
	len = respond(7, LDNS_RCODE_NOERROR, "ghost.alice.example.", SP_T_AAAA, an, 2, NULL, 0,
	    F.resp);
	expect_bogus(feed(7, "ghost.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "wildcard");
	/* A CNAME, properly signed. */
	tl = wire("laptop.alice.example.", target);
	an[0] = rr_of("phone.alice.example.", T_CNAME, 300, target, tl);
	an[1] = sign_one(F.zsk, ZONE, "phone.alice.example.", T_CNAME, 300, target, tl, NOW);
	len = respond(7, LDNS_RCODE_NOERROR, "phone.alice.example.", SP_T_AAAA, an, 2, NULL, 0,
	    F.resp);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL), "CNAME");
	/* Properly signed by the ZSK, for a control: this one validates. */
	an[0] = rr_of("phone.alice.example.", SP_T_AAAA, 300, addr, 16);
	an[1] = sign_one(F.zsk, ZONE, "phone.alice.example.", SP_T_AAAA, 300, addr, 16, NOW);
	len = respond(7, LDNS_RCODE_NOERROR, "phone.alice.example.", SP_T_AAAA, an, 2, NULL, 0,
	    F.resp);
	assert_int_equal(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    SP_DEVRES_OK);
}

static void
test_bogus_expired(void **state)
{
	sp_devres_rrset rr;
	uint8_t old[CAP];
	size_t len, oldlen;

	(void)state;
	/* Responses of the zone as signed at NOW, replayed at LATER, when
	 * the keys are those of the zone as signed at LATER. */
	oldlen = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, old);
	len = gateway(F.a_later, 7, ZONE, SP_T_DNSKEY, LATER, F.resp);
	assert_int_equal(feed(7, ZONE, SP_T_DNSKEY, F.resp, len, LATER, NULL), SP_DEVRES_OK);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, old, oldlen, LATER, NULL),
	    "RRSIG over AAAA has expired");
	oldlen = gateway(F.a, 7, "nosuch.alice.example", SP_T_AAAA, NOW, old);
	expect_bogus(feed(7, "nosuch.alice.example", SP_T_AAAA, old, oldlen, LATER, NULL),
	    "RRSIG over NSEC has expired");
	/* The keys of NOW replayed at LATER. */
	oldlen = gateway(F.a, 7, ZONE, SP_T_DNSKEY, NOW, old);
	expect_bogus(feed(7, ZONE, SP_T_DNSKEY, old, oldlen, LATER, NULL), "expired");
	/* Not yet valid: the inception is an hour before NOW. */
	expect_bogus(feed(7, ZONE, SP_T_DNSKEY, old, oldlen, NOW - 7200, NULL), "not valid yet");
	/* The current answer at LATER is fine, its TTL capped at a day. */
	len = gateway(F.a_later, 7, "phone.alice.example", SP_T_AAAA, LATER, F.resp);
	assert_int_equal(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, LATER, &rr),
	    SP_DEVRES_OK);
	assert_int_equal(rr.ttl, SP_DEVRES_TTL_MAX);
}

/* ---- not ours, and what the gateway refused ----------------------------- */

static void
test_not_mine(void **state)
{
	uint8_t q[512], n[SP_DNAME_MAX];
	size_t len, ql, nl = wire("phone.alice.example", n);

	(void)state;
	keys(NOW);
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	assert_int_equal(feed(8, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    SP_DEVRES_NOT_MINE);
	assert_int_equal(feed(7, "laptop.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    SP_DEVRES_NOT_MINE);
	assert_int_equal(feed(7, "phone.alice.example", SP_T_A, F.resp, len, NOW, NULL),
	    SP_DEVRES_NOT_MINE);
	assert_int_equal(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, 11, NOW, NULL),
	    SP_DEVRES_NOT_MINE);
	assert_int_equal(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, 30, NOW, NULL),
	    SP_DEVRES_NOT_MINE);
	/* Our own query echoed back is not an answer. */
	assert_int_equal(sp_devres_make_query(7, n, nl, SP_T_AAAA, q, sizeof(q), &ql), SP_OK);
	assert_int_equal(feed(7, "phone.alice.example", SP_T_AAAA, q, ql, NOW, NULL),
	    SP_DEVRES_NOT_MINE);
	/* The question in another case is still ours (0x20 in the answer). */
	F.resp[13] = 'P';
	assert_int_equal(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    SP_DEVRES_OK);
	assert_int_equal(sp_devres_stats_get(F.r)->bogus, 0);
}

static void
test_gateway_errors(void **state)
{
	size_t len;

	(void)state;
	keys(NOW);
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[3] = (uint8_t)((F.resp[3] & 0xf0) | SP_RCODE_REFUSED);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "gateway answered REFUSED");
	F.resp[3] = (uint8_t)((F.resp[3] & 0xf0) | SP_RCODE_SERVFAIL);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "gateway answered SERVFAIL");
	/* Before the keys too: an error is an error. */
	assert_int_equal(new_resolver(0, 0), 0);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "gateway answered SERVFAIL");
	keys(NOW);
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[2] |= SP_F_TC >> 8;
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "truncated");
	/* Cut short inside the answer. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len - 40, NOW, NULL),
	    "malformed");
	/* An opcode other than QUERY. */
	len = gateway(F.a, 7, "phone.alice.example", SP_T_AAAA, NOW, F.resp);
	F.resp[2] |= 0x10;   /* opcode 2, STATUS */
	expect_bogus(feed(7, "phone.alice.example", SP_T_AAAA, F.resp, len, NOW, NULL),
	    "QUERY");
	/* A name outside the zone. */
	len = respond(7, LDNS_RCODE_NOERROR, "www.example.", SP_T_AAAA, NULL, 0, NULL, 0, F.resp);
	expect_bogus(feed(7, "www.example", SP_T_AAAA, F.resp, len, NOW, NULL), "not in the zone");
}

/* ---- the cache ---------------------------------------------------------- */

static void
test_ttl_and_stale(void **state)
{
	sp_devres_rrset rr;
	const uint8_t *phone = (const uint8_t *)"\5phone\5alice\7example";

	(void)state;
	assert_int_equal(new_resolver(0, 600), 0);
	keys(NOW);
	assert_int_equal(ask("phone.alice.example", SP_T_AAAA, NOW, &rr), SP_DEVRES_OK);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 1, &rr), SP_DEVRES_FRESH);
	assert_int_equal(rr.ttl, 299);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 299, &rr),
	    SP_DEVRES_FRESH);
	assert_int_equal(rr.ttl, 1);
	assert_int_equal(rr.stale, 0);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 300, &rr),
	    SP_DEVRES_STALE);
	assert_int_equal(rr.ttl, SP_DEVRES_STALE_TTL);
	assert_int_equal(rr.stale, 1);
	assert_int_equal(rr.n, 1);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 899, &rr),
	    SP_DEVRES_STALE);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 900, &rr),
	    SP_DEVRES_MISS);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 1, &rr),
	    SP_DEVRES_MISS);     /* gone, not only hidden */
	assert_int_equal(sp_devres_stats_get(F.r)->hits, 2);
	assert_int_equal(sp_devres_stats_get(F.r)->stale_hits, 2);
	assert_int_equal(sp_devres_stats_get(F.r)->misses, 2);

	/* The default window is a day. */
	assert_int_equal(new_resolver(0, 0), 0);
	keys(NOW);
	assert_int_equal(ask("phone.alice.example", SP_T_AAAA, NOW, &rr), SP_DEVRES_OK);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 300 + 86399, &rr),
	    SP_DEVRES_STALE);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 300 + 86400, &rr),
	    SP_DEVRES_MISS);

	/* An answer refreshed replaces the old one. */
	assert_int_equal(ask("phone.alice.example", SP_T_AAAA, NOW + 1000, &rr), SP_DEVRES_OK);
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 1100, &rr),
	    SP_DEVRES_FRESH);
	assert_int_equal(rr.ttl, 200);

	/* The flush forgets the answers and the keys. */
	sp_devres_flush(F.r);
	assert_false(sp_devres_have_keys(F.r, NOW + 1100));
	assert_int_equal(sp_devres_lookup(F.r, phone, 21, SP_T_AAAA, NOW + 1100, &rr),
	    SP_DEVRES_MISS);
}

static void
test_ttl_capped_by_expiry(void **state)
{
	sp_devres_rrset rr;
	ldns_pkt *p;
	ldns_rr_list *sigs;
	uint32_t exp;
	size_t len;

	(void)state;
	len = gateway(F.a, 7, ZONE, SP_T_DNSKEY, NOW, F.resp);
	p = parse(F.resp, len);
	sigs = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_RRSIG, LDNS_SECTION_ANSWER);
	exp = ldns_rdf2native_int32(ldns_rr_rrsig_expiration(ldns_rr_list_rr(sigs, 0)));
	ldns_rr_list_deep_free(sigs);
	ldns_pkt_free(p);
	/* 100 s before the signature expires, the 3600 s TTL is 100 s. */
	assert_int_equal(feed(7, ZONE, SP_T_DNSKEY, F.resp, len, (int64_t)exp - 100, &rr),
	    SP_DEVRES_OK);
	assert_int_equal(rr.ttl, 100);
	assert_true(sp_devres_have_keys(F.r, (int64_t)exp - 1));
	assert_false(sp_devres_have_keys(F.r, (int64_t)exp));
}

static void
test_cache_bound(void **state)
{
	sp_devres_rrset rr;
	const uint8_t *apex = (const uint8_t *)"\5alice\7example";
	const uint8_t *n1 = (const uint8_t *)"\2n1\5alice\7example";
	const uint8_t *n2 = (const uint8_t *)"\2n2\5alice\7example";
	const uint8_t *n3 = (const uint8_t *)"\2n3\5alice\7example";

	(void)state;
	assert_int_equal(new_resolver(3, 0), 0);
	keys(NOW);                                                  /* DNSKEY */
	assert_int_equal(ask("n1.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	assert_int_equal(ask("n2.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	assert_int_equal(sp_devres_stats_get(F.r)->evicted, 0);
	/* LRU: a lookup makes the DNSKEY entry the newest; n1 goes. */
	assert_int_equal(sp_devres_lookup(F.r, apex, 15, SP_T_DNSKEY, NOW, &rr), SP_DEVRES_FRESH);
	assert_int_equal(ask("n3.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	assert_int_equal(sp_devres_stats_get(F.r)->evicted, 1);
	assert_int_equal(sp_devres_lookup(F.r, n1, 18, SP_T_AAAA, NOW, &rr), SP_DEVRES_MISS);
	assert_int_equal(sp_devres_lookup(F.r, n2, 18, SP_T_AAAA, NOW, &rr), SP_DEVRES_FRESH);
	/* Newest first: n2, n3, DNSKEY. The DNSKEY entry goes; the validated
	 * keys stay. */
	assert_int_equal(ask("n4.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	assert_int_equal(sp_devres_lookup(F.r, apex, 15, SP_T_DNSKEY, NOW, &rr), SP_DEVRES_MISS);
	assert_true(sp_devres_have_keys(F.r, NOW));
	/* n4, n2, n3; n3 looked up: n3, n4, n2; n5 evicts n2. */
	assert_int_equal(sp_devres_lookup(F.r, n3, 18, SP_T_AAAA, NOW, &rr), SP_DEVRES_FRESH);
	assert_int_equal(ask("n5.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	assert_int_equal(sp_devres_stats_get(F.r)->evicted, 3);
	assert_int_equal(sp_devres_lookup(F.r, n2, 18, SP_T_AAAA, NOW, &rr), SP_DEVRES_MISS);
	assert_int_equal(sp_devres_lookup(F.r, n3, 18, SP_T_AAAA, NOW, &rr), SP_DEVRES_FRESH);
	/* n3, n5, n4: n6 evicts n4. */
	assert_int_equal(ask("n6.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	/* Re-ingesting a cached name replaces it, evicting nothing. */
	assert_int_equal(ask("n6.alice.example", SP_T_AAAA, NOW + 5, NULL), SP_DEVRES_OK);
	assert_int_equal(sp_devres_stats_get(F.r)->evicted, 4);

	/* Many more than the bound. */
	assert_int_equal(new_resolver(16, 0), 0);
	keys(NOW);
	for (int i = 0; i < 100; i++) {
		char name[64];
		snprintf(name, sizeof(name), "host%d.alice.example", i);
		assert_int_equal(ask(name, SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	}
	assert_int_equal(sp_devres_stats_get(F.r)->evicted, 101 - 16);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6host99\5alice\7example", 22,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_FRESH);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6host84\5alice\7example", 22,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_FRESH);
	assert_int_equal(sp_devres_lookup(F.r, (const uint8_t *)"\6host83\5alice\7example", 22,
	    SP_T_AAAA, NOW, &rr), SP_DEVRES_MISS);
}

/* ---- answering the client ----------------------------------------------- */

static ldns_pkt *
answer(const sp_devres_question *q, const sp_devres_rrset *rr, size_t *len)
{
	assert_int_equal(sp_devres_answer(F.r, q, rr, F.out, CAP, len), SP_OK);
	return parse(F.out, *len);
}

static void
test_answer_positive(void **state)
{
	sp_devres_question q;
	sp_devres_rrset rr;
	ldns_pkt *p;
	size_t len;

	(void)state;
	keys(NOW);
	assert_int_equal(ask("phone.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);

	/* DO: AD, the AAAA and its RRSIG, which ldns verifies. */
	question(&q, SP_F_RD, "PhOnE.alice.example", SP_T_AAAA, 1, 4096, SP_EDNS_DO);
	assert_true(q.in_zone);
	assert_int_equal(sp_devres_lookup(F.r, q.qname, q.qname_len, q.qtype, NOW + 10, &rr),
	    SP_DEVRES_FRESH);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_pkt_id(p), 0x4242);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_rd(p));
	assert_true(ldns_pkt_ra(p));
	assert_true(ldns_pkt_ad(p));
	assert_false(ldns_pkt_aa(p));
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_edns_do(p));
	assert_int_equal(ldns_pkt_ancount(p), 2);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 290);
	assert_int_equal(verify_section(p, LDNS_SECTION_ANSWER, NOW + 10), 1);
	ldns_pkt_free(p);
	/* The question as the client wrote it. */
	assert_memory_equal(F.out + 12, "\5PhOnE\5alice\7example", 21);

	/* No DO, no AD asked: no AD, no RRSIG, RD as asked (clear). */
	question(&q, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	p = answer(&q, &rr, &len);
	assert_false(ldns_pkt_ad(p));
	assert_false(ldns_pkt_rd(p));
	assert_false(ldns_pkt_edns_do(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	/* AD asked without DO: AD, still no RRSIG; no EDNS, no OPT. */
	question(&q, 0x0020, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	p = answer(&q, &rr, &len);
	assert_true(ldns_pkt_ad(p));
	assert_false(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_arcount(p), 0);
	ldns_pkt_free(p);

	/* The DNSKEY set, and IPSECKEY, rebuilt with DO, verify too. */
	question(&q, SP_F_RD, "alice.example", SP_T_DNSKEY, 1, 1232, SP_EDNS_DO);
	assert_int_equal(sp_devres_lookup(F.r, q.qname, q.qname_len, q.qtype, NOW, &rr),
	    SP_DEVRES_FRESH);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_pkt_ancount(p), 3);
	assert_int_equal(verify_section(p, LDNS_SECTION_ANSWER, NOW), 1);
	ldns_pkt_free(p);
	assert_int_equal(ask("laptop.alice.example", SP_T_IPSECKEY, NOW, &rr), SP_DEVRES_OK);
	question(&q, SP_F_RD, "laptop.alice.example", SP_T_IPSECKEY, 1, 1232, SP_EDNS_DO);
	p = answer(&q, &rr, &len);
	assert_int_equal(verify_section(p, LDNS_SECTION_ANSWER, NOW), 1);
	ldns_pkt_free(p);

	/* Stale: the TTL says so. */
	question(&q, SP_F_RD, "phone.alice.example", SP_T_AAAA, 1, 1232, SP_EDNS_DO);
	assert_int_equal(sp_devres_lookup(F.r, q.qname, q.qname_len, q.qtype, NOW + 400, &rr),
	    SP_DEVRES_STALE);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), SP_DEVRES_STALE_TTL);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 1)), SP_DEVRES_STALE_TTL);
	ldns_pkt_free(p);
}

static void
test_answer_denial(void **state)
{
	sp_devres_question q;
	sp_devres_rrset rr;
	ldns_pkt *p;
	size_t len;

	(void)state;
	keys(NOW);
	assert_int_equal(ask("nosuch.alice.example", SP_T_AAAA, NOW, NULL), SP_DEVRES_OK);
	assert_int_equal(ask("phone.alice.example", T_TXT, NOW, NULL), SP_DEVRES_OK);

	/* DO and CO: NXDOMAIN, the NSEC and its RRSIG, verified. */
	question(&q, SP_F_RD, "nosuch.alice.example", SP_T_AAAA, 1, 1232,
	    SP_EDNS_DO | SP_EDNS_CO);
	assert_int_equal(sp_devres_lookup(F.r, q.qname, q.qname_len, q.qtype, NOW, &rr),
	    SP_DEVRES_FRESH);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_ad(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 2);
	assert_int_equal(verify_section(p, LDNS_SECTION_AUTHORITY, NOW), 1);
	assert_int_equal(u16(F.out + len - 4), SP_EDNS_DO | SP_EDNS_CO);
	ldns_pkt_free(p);
	/* DO without CO: NOERROR (RFC 9824), the same proof. */
	question(&q, SP_F_RD, "nosuch.alice.example", SP_T_AAAA, 1, 1232, SP_EDNS_DO);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_nscount(p), 2);
	assert_int_equal(u16(F.out + len - 4), SP_EDNS_DO);
	ldns_pkt_free(p);
	/* No DO: NXDOMAIN, no records. */
	question(&q, SP_F_RD, "nosuch.alice.example", SP_T_AAAA, 0, 0, 0);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	assert_false(ldns_pkt_ad(p));
	ldns_pkt_free(p);
	/* NODATA with DO. */
	question(&q, SP_F_RD, "phone.alice.example", T_TXT, 1, 1232, SP_EDNS_DO);
	assert_int_equal(sp_devres_lookup(F.r, q.qname, q.qname_len, q.qtype, NOW, &rr),
	    SP_DEVRES_FRESH);
	p = answer(&q, &rr, &len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 2);
	assert_int_equal(verify_section(p, LDNS_SECTION_AUTHORITY, NOW), 1);
	ldns_pkt_free(p);
}

static void
test_answer_truncation(void **state)
{
	sp_devres_question q;
	sp_devres_rrset rr;
	ldns_pkt *p;
	size_t len;

	(void)state;
	keys(NOW);
	assert_int_equal(ask("server.alice.example", SP_T_SSHFP, NOW, &rr), SP_DEVRES_OK);
	/* 8 SSHFP and an RRSIG are over 512 bytes. */
	question(&q, SP_F_RD, "server.alice.example", SP_T_SSHFP, 1, 512, SP_EDNS_DO);
	p = answer(&q, &rr, &len);
	assert_true(len <= 512);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_true(ldns_pkt_edns(p));
	ldns_pkt_free(p);
	/* A client size under 512 counts as 512. */
	q.udp_size = 100;
	p = answer(&q, &rr, &len);
	assert_true(ldns_pkt_tc(p));
	ldns_pkt_free(p);
	/* 1232 is enough. */
	question(&q, SP_F_RD, "server.alice.example", SP_T_SSHFP, 1, 1232, SP_EDNS_DO);
	p = answer(&q, &rr, &len);
	assert_true(len > 512);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 9);
	ldns_pkt_free(p);
	/* So is TCP. */
	question(&q, SP_F_RD, "server.alice.example", SP_T_SSHFP, 1, 512, SP_EDNS_DO);
	q.tcp = 1;
	p = answer(&q, &rr, &len);
	assert_false(ldns_pkt_tc(p));
	ldns_pkt_free(p);
	/* Without DO the SSHFPs alone fit in 512. */
	question(&q, SP_F_RD, "server.alice.example", SP_T_SSHFP, 0, 0, 0);
	p = answer(&q, &rr, &len);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 8);
	ldns_pkt_free(p);
	/* A buffer under 512 is refused. */
	assert_int_equal(sp_devres_answer(F.r, &q, &rr, F.out, 511, &len), SP_EINVAL);
	/* A buffer smaller than the client's size: truncated to fit it (the
	 * whole reply is 12 + 26 + 8 x 46 + 109 + 11 = 526 bytes). */
	question(&q, SP_F_RD, "server.alice.example", SP_T_SSHFP, 1, 4096, SP_EDNS_DO);
	assert_int_equal(sp_devres_answer(F.r, &q, &rr, F.out, 600, &len), SP_OK);
	assert_int_equal(len, 526);
	assert_int_equal(sp_devres_answer(F.r, &q, &rr, F.out, 520, &len), SP_OK);
	p = parse(F.out, len);
	assert_true(ldns_pkt_tc(p));
	ldns_pkt_free(p);
}

static void
test_error_reply(void **state)
{
	sp_devres_question q;
	uint8_t buf[512];
	ldns_pkt *p;
	size_t len, ql;

	(void)state;
	question(&q, SP_F_RD | SP_F_CD, "Phone.alice.example", SP_T_AAAA, 1, 1232, SP_EDNS_DO);
	assert_int_equal(sp_devres_error(&q, SP_RCODE_SERVFAIL, F.out, CAP, &len), SP_OK);
	p = parse(F.out, len);
	assert_int_equal(ldns_pkt_id(p), 0x4242);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_rd(p));
	assert_true(ldns_pkt_cd(p));
	assert_true(ldns_pkt_ra(p));
	assert_false(ldns_pkt_ad(p));
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_int_equal(ldns_pkt_ancount(p) + ldns_pkt_nscount(p), 0);
	assert_true(ldns_pkt_edns(p));
	assert_true(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
	assert_memory_equal(F.out + 12, "\5Phone", 6);
	/* Without EDNS: no OPT. */
	question(&q, 0, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	assert_int_equal(sp_devres_error(&q, SP_RCODE_REFUSED, F.out, CAP, &len), SP_OK);
	assert_int_equal(len, 12 + 25);
	assert_int_equal(F.out[3] & 0x0f, SP_RCODE_REFUSED);
	assert_int_equal(u16(F.out + 10), 0);
	/* A malformed query: FORMERR with no question. */
	ql = client_query(buf, 0x99, SP_F_RD, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	buf[5] = 2;                       /* two questions */
	assert_int_equal(sp_devres_parse(buf, ql, &q), SP_EPROTO);
	assert_int_equal(q.id, 0x99);
	assert_int_equal(q.qname_len, 0);
	assert_int_equal(sp_devres_error(&q, SP_RCODE_FORMERR, F.out, CAP, &len), SP_OK);
	assert_int_equal(len, 12);
	assert_int_equal(u16(F.out), 0x99);
	assert_int_equal(u16(F.out + 2), SP_F_QR | 0x0080 | SP_F_RD | SP_RCODE_FORMERR);
	assert_int_equal(u16(F.out + 4), 0);
	/* An unknown opcode: NOTIMP with the opcode echoed. */
	ql = client_query(buf, 0x98, 0x2000, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	assert_int_equal(sp_devres_parse(buf, ql, &q), SP_EPROTO);
	assert_int_equal(sp_devres_error(&q, SP_RCODE_NOTIMP, F.out, CAP, &len), SP_OK);
	assert_int_equal(u16(F.out + 2), SP_F_QR | 0x0080 | 0x2000 | SP_RCODE_NOTIMP);
	/* BADVERS: the upper bits of the rcode in the OPT. */
	ql = client_query(buf, 0x97, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	buf[ql - 11 + 6] = 1;             /* EDNS version 1 */
	assert_int_equal(sp_devres_parse(buf, ql, &q), SP_EUNSUPP);
	assert_int_equal(q.edns_version, 1);
	assert_int_equal(sp_devres_error(&q, SP_RCODE_BADVERS, F.out, CAP, &len), SP_OK);
	p = parse(F.out, len);
	assert_int_equal(ldns_pkt_edns_extended_rcode(p), 1);
	assert_int_equal(ldns_pkt_get_rcode(p), 0);
	ldns_pkt_free(p);
	/* Too small a buffer. */
	question(&q, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	assert_int_equal(sp_devres_error(&q, SP_RCODE_SERVFAIL, F.out, 20, &len), SP_ESPACE);
}

/* ---- parsing the client's query ----------------------------------------- */

static void
test_parse(void **state)
{
	sp_devres_question q;
	uint8_t buf[600];
	size_t len;

	(void)state;
	len = client_query(buf, 0x1234, SP_F_RD | SP_F_CD, "PhOnE.Alice.example", SP_T_AAAA, 1,
	    4096, SP_EDNS_DO | SP_EDNS_CO);
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags, SP_F_RD | SP_F_CD);
	assert_int_equal(q.qname_len, 21);
	assert_memory_equal(q.qname, "\5phone\5alice\7example", 21);
	assert_memory_equal(q.qname_sent, "\5PhOnE\5Alice\7example", 21);
	assert_int_equal(q.qtype, SP_T_AAAA);
	assert_int_equal(q.qclass, SP_C_IN);
	assert_true(q.edns);
	assert_int_equal(q.udp_size, 4096);
	assert_true(q.do_bit);
	assert_int_equal(q.edns_flags, SP_EDNS_DO | SP_EDNS_CO);
	assert_false(q.in_zone);        /* the parser does not know the zone */
	/* No EDNS: 512. */
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_OK);
	assert_false(q.edns);
	assert_int_equal(q.udp_size, 512);
	assert_false(q.do_bit);
	/* An EDNS size under 512 is 512. */
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 1, 100, 0);
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_OK);
	assert_int_equal(q.udp_size, 512);

	/* A response is never answered. */
	len = client_query(buf, 1, SP_F_QR, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_EPROTO);
	assert_true(q.flags & SP_F_QR);
	/* Opcodes other than QUERY: NOTIFY, UPDATE, IQUERY, STATUS. */
	for (unsigned op = 1; op < 16; op++) {
		len = client_query(buf, 1, (uint16_t)(op << 11), "phone.alice.example", SP_T_AAAA,
		    0, 0, 0);
		assert_int_equal(sp_devres_parse(buf, len, &q), SP_EPROTO);
	}
	/* Two questions, none. */
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 0, 0, 0);
	buf[5] = 2;
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_EPROTO);
	buf[5] = 0;
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_EPROTO);
	/* Short: no header, no full question. */
	buf[5] = 1;
	assert_int_equal(sp_devres_parse(buf, 11, &q), SP_EPROTO);
	assert_int_equal(sp_devres_parse(buf, len - 1, &q), SP_EPROTO);
	assert_int_equal(q.qname_len, 0);
	assert_int_equal(sp_devres_parse(NULL, 0, &q), SP_EPROTO);
	/* A compressed question name. */
	memcpy(buf + 12, "\300\014\0\34\0\1", 6);
	assert_int_equal(sp_devres_parse(buf, 18, &q), SP_EPROTO);
	/* Two OPTs; an OPT in the answer section; an OPT not at the root. */
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	memcpy(buf + len, buf + len - 11, 11);
	buf[11] = 2;
	assert_int_equal(sp_devres_parse(buf, len + 11, &q), SP_EPROTO);
	assert_false(q.edns);           /* no OPT in the FORMERR */
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	buf[7] = 1;
	buf[11] = 0;
	assert_int_equal(sp_devres_parse(buf, len, &q), SP_EPROTO);
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	memmove(buf + len - 10, buf + len - 11, 11);
	buf[len - 11] = 0xc0;
	buf[len - 10] = 0x0c;
	assert_int_equal(sp_devres_parse(buf, len + 1, &q), SP_EPROTO);
	/* An additional section cut short. */
	len = client_query(buf, 1, 0, "phone.alice.example", SP_T_AAAA, 1, 1232, 0);
	assert_int_equal(sp_devres_parse(buf, len - 1, &q), SP_EPROTO);
	assert_int_equal(q.qname_len, 21);     /* the question stays, for FORMERR */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_make_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnskey_anchor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_positive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_denial_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_signed_wrong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_mine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_and_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_capped_by_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_positive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_denial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
