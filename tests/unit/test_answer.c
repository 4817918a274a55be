/*
 * resolver/answer.c: queries built by hand, responses checked byte by byte
 * in the header and parsed by ldns (ldns_wire2pkt) as the oracle. Positive
 * answers with and without DNSSEC, NODATA, RFC 9824 compact denial and its
 * cache, refusals, malformed queries, EDNS, ANY, transfers, truncation.
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
#include <sodium.h>

#include "sp_answer.h"
#include "sp_cloud.h"
#include "sp_device.h"
#include "sp_dns.h"
#include "sp_key.h"
#include "sp_xfr.h"
#include "sp_zone.h"
#include "sp_zonesrc.h"

#define NOW 1700000000
#define ID 0x1234
#define CAP 65535

static struct {
	sp_key *ksk, *zsk, *self;
	sp_cloud cloud;
	sp_device devs[3];
	sp_zone *zone;       /* apex, gw, laptop, phone (1 SSHFP), server (8 SSHFP) */
	sp_zone *big;        /* apex and big.alice.example. with 1400 bytes of TXT */
	sp_answerer *a;      /* fresh for every test, serving zone */
	uint8_t out[CAP];
} F;

/* ---- queries ------------------------------------------------------------ */

typedef struct query {
	uint16_t id, flags;
	const char *name;       /* presentation form; case is kept */
	uint16_t qtype, qclass;
	int edns;
	uint16_t udp;
	uint8_t version;
	uint16_t eflags;
} query;

static query
Q(const char *name, uint16_t qtype)
{
	query q = { ID, SP_F_RD, name, qtype, SP_C_IN, 1, 1232, 0, 0 };
	return q;
}

static query
QDO(const char *name, uint16_t qtype)
{
	query q = Q(name, qtype);
	q.eflags = SP_EDNS_DO;
	return q;
}

/* A name in wire form exactly as written (no lowercasing). */
static void
put_name(sp_wire *w, const char *text)
{
	const char *p = strcmp(text, ".") == 0 ? "" : text;

	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		sp_wire_put_u8(w, (uint8_t)l);
		sp_wire_put(w, p, l);
		p += l + (dot != NULL);
	}
	sp_wire_put_u8(w, 0);
}

static void
put_opt(sp_wire *w, uint16_t udp, uint8_t version, uint16_t eflags)
{
	sp_wire_put_u8(w, 0);
	sp_wire_put_u16(w, SP_T_OPT);
	sp_wire_put_u16(w, udp);
	sp_wire_put_u8(w, 0);
	sp_wire_put_u8(w, version);
	sp_wire_put_u16(w, eflags);
	sp_wire_put_u16(w, 0);
}

static size_t
mkquery(uint8_t *buf, size_t cap, const query *q)
{
	sp_wire w = sp_wire_writer(buf, cap);

	sp_wire_put_u16(&w, q->id);
	sp_wire_put_u16(&w, q->flags);
	sp_wire_put_u16(&w, 1);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, q->edns ? 1 : 0);
	put_name(&w, q->name);
	sp_wire_put_u16(&w, q->qtype);
	sp_wire_put_u16(&w, q->qclass);
	if (q->edns)
		put_opt(&w, q->udp, q->version, q->eflags);
	assert_int_equal(sp_wire_err(&w), SP_OK);
	return sp_wire_used(&w);
}

/* The length of the question section of a query built by mkquery. */
static size_t
question_len(const query *q)
{
	size_t n = strlen(q->name);

	if (strcmp(q->name, ".") == 0)
		return 1 + 4;
	return n + (q->name[n - 1] == '.' ? 1 : 2) + 4;
}

/* ---- responses ---------------------------------------------------------- */

static uint16_t
u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
expect_header(const uint8_t *r, size_t len, uint16_t id, uint16_t flags, uint16_t qd,
    uint16_t an, uint16_t ns, uint16_t ar)
{
	assert_true(len >= SP_DNS_HEADER);
	assert_int_equal(u16(r), id);
	assert_int_equal(u16(r + 2), flags);
	assert_int_equal(u16(r + 4), qd);
	assert_int_equal(u16(r + 6), an);
	assert_int_equal(u16(r + 8), ns);
	assert_int_equal(u16(r + 10), ar);
}

/* Our responses carry the OPT last, with no options: 11 bytes. */
static void
expect_opt_last(const uint8_t *r, size_t len, uint16_t udp, uint8_t ext_rcode,
    uint16_t eflags)
{
	const uint8_t *o = r + len - 11;

	assert_true(len >= SP_DNS_HEADER + 11);
	assert_int_equal(o[0], 0);
	assert_int_equal(u16(o + 1), SP_T_OPT);
	assert_int_equal(u16(o + 3), udp);
	assert_int_equal(o[5], ext_rcode);
	assert_int_equal(o[6], 0);          /* version */
	assert_int_equal(u16(o + 7), eflags);
	assert_int_equal(u16(o + 9), 0);    /* no options */
}

/* The question as sent, byte for byte. */
static void
expect_question(const uint8_t *r, size_t len, const uint8_t *qbuf, const query *q)
{
	size_t ql = question_len(q);

	assert_true(len >= SP_DNS_HEADER + ql);
	assert_memory_equal(r + SP_DNS_HEADER, qbuf + SP_DNS_HEADER, ql);
}

static ldns_pkt *
parse(const uint8_t *r, size_t len)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_wire2pkt(&p, r, len), LDNS_STATUS_OK);
	assert_non_null(p);
	return p;
}

static size_t
ask(const query *q, int tcp, uint8_t *qbuf, size_t *qlen, sp_answer_info *info)
{
	*qlen = mkquery(qbuf, 512, q);
	return sp_answer(F.a, qbuf, *qlen, tcp, NOW, F.out, CAP, info);
}

static size_t
ask_raw(const uint8_t *qbuf, size_t qlen)
{
	return sp_answer(F.a, qbuf, qlen, 0, NOW, F.out, CAP, NULL);
}

static ldns_rdf *
dn(const char *text)
{
	ldns_rdf *d = ldns_dname_new_frm_str(text);
	assert_non_null(d);
	return d;
}

static void
expect_owner(const ldns_rr *rr, const char *text)
{
	ldns_rdf *d = dn(text);

	/* ldns_dname_compare ignores case. */
	assert_int_equal(ldns_dname_compare(ldns_rr_owner(rr), d), 0);
	ldns_rdf_deep_free(d);
}

/* The zone's keys as ldns sees them. */
static ldns_rr_list *
zone_keys(void)
{
	ldns_rr_list *l = ldns_rr_list_new();
	uint8_t rd[SP_DNSKEY_RDATA_BYTES];

	sp_dnskey_rdata(257, sp_key_info_of(F.ksk)->pub, rd);
	ldns_rr_list_push_rr(l, sp_xfr_ldns_rr((const uint8_t *)"\5alice\7example", 15,
	    SP_T_DNSKEY, 3600, rd, sizeof(rd)));
	sp_dnskey_rdata(256, sp_key_info_of(F.zsk)->pub, rd);
	ldns_rr_list_push_rr(l, sp_xfr_ldns_rr((const uint8_t *)"\5alice\7example", 15,
	    SP_T_DNSKEY, 3600, rd, sizeof(rd)));
	return l;
}

/*
 * The RRset of type in a section of p, with exactly one RRSIG covering
 * it, verified by ldns at NOW; the key that verified has want_tag.
 * Returns the number of RRs in the RRset.
 */
static size_t
verify_in(const ldns_pkt *p, ldns_pkt_section s, uint16_t type, uint16_t want_tag)
{
	ldns_rr_list *rrs = ldns_pkt_rr_list_by_type(p, (ldns_rr_type)type, s);
	ldns_rr_list *sigs = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_RRSIG, s);
	ldns_rr_list *keys = zone_keys(), *good = ldns_rr_list_new();
	ldns_rr *sig = NULL;
	size_t n;

	assert_non_null(rrs);
	assert_non_null(sigs);
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		ldns_rr *c = ldns_rr_list_rr(sigs, i);
		if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(c)) == type) {
			assert_null(sig);
			sig = c;
		}
	}
	assert_non_null(sig);
	assert_int_equal(ldns_verify_rrsig_keylist_time(rrs, sig, keys, NOW, good),
	    LDNS_STATUS_OK);
	assert_int_equal(ldns_rr_list_rr_count(good), 1);
	assert_int_equal(ldns_calc_keytag(ldns_rr_list_rr(good, 0)), want_tag);
	/* The RRSIG's TTL is its RRset's. */
	assert_int_equal(ldns_rr_ttl(sig), ldns_rr_ttl(ldns_rr_list_rr(rrs, 0)));
	n = ldns_rr_list_rr_count(rrs);
	ldns_rr_list_free(good);
	ldns_rr_list_deep_free(keys);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(rrs);
	return n;
}

static uint16_t
zsk_tag(void)
{
	return sp_key_info_of(F.zsk)->tag;
}

/* ---- fixture ------------------------------------------------------------ */

static void
sshfps(sp_device *d, size_t n, uint8_t fill)
{
	for (size_t i = 0; i < n; i++) {
		d->sshfp[i].algorithm = (uint8_t)(1 + i % 4);
		d->sshfp[i].fp_type = 2;
		memset(d->sshfp[i].fp, fill + (int)i, 32);
	}
	d->nsshfp = n;
}

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
big_zone(void)
{
	static const uint8_t soa[] =
	    "\5alice\7example\0" "\12hostmaster\5alice\7example\0"
	    "\0\0\0\1" "\0\0\x0e\x10" "\0\0\x02\x58" "\0\x12\x75\0" "\0\0\x01\x2c";
	const sp_key *ksk[1] = { F.ksk };
	sp_zone_signers s = { F.zsk, ksk, 1 };
	uint8_t apex[SP_DNAME_MAX], big[SP_DNAME_MAX], txt[201];
	size_t al, bl;
	sp_sign_policy pol;
	sp_zone_builder *b;

	if (sp_dname_from_text("alice.example.", apex, &al) != SP_OK ||
	    sp_dname_from_text("big.alice.example.", big, &bl) != SP_OK ||
	    sp_zone_builder_new(apex, al, &b) != SP_OK ||
	    sp_zone_add(b, apex, al, SP_T_SOA, 3600, soa, sizeof(soa) - 1) != SP_OK)
		return -1;
	/* Seven TXT RRs of 201 bytes: 7 x (12 + 201) = 1491 bytes of answer. */
	txt[0] = 200;
	for (int i = 0; i < 7; i++) {
		memset(txt + 1, 'a' + i, 200);
		if (sp_zone_add(b, big, bl, 16, 300, txt, sizeof(txt)) != SP_OK)
			return -1;
	}
	sp_sign_policy_default(&pol);
	return sp_zone_finish(b, &s, &pol, NOW, NULL, &F.big) == SP_OK ? 0 : -1;
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
	    sp_key_generate(SP_ROLE_DEVICE, NOW - 86400, sp_platform_rng(), &F.self) != SP_OK)
		return -1;
	snprintf(F.cloud.zone, sizeof(F.cloud.zone), "alice.example.");
	snprintf(F.cloud.name, sizeof(F.cloud.name), "gw");
	sp_ula_prefix(F.cloud.zone, sp_key_info_of(F.ksk)->pub, F.cloud.prefix);
	if (device(&F.devs[0], "phone") != 0 || device(&F.devs[1], "laptop") != 0 ||
	    device(&F.devs[2], "server") != 0)
		return -1;
	sshfps(&F.devs[0], 1, 0x10);
	sshfps(&F.devs[2], SP_DEVICE_MAX_SSHFP, 0x40);
	sp_zone_config_default(&cfg);
	sp_key *keys[] = { F.ksk, F.zsk, F.self };
	if (sp_zone_build(&F.cloud, keys, 3, F.devs, 3, &cfg, 7, NOW, NULL, &F.zone, &e) != SP_OK)
		return -1;
	return big_zone();
}

static int
group_teardown(void **state)
{
	(void)state;
	sp_zone_free(F.big);
	sp_zone_free(F.zone);
	sp_key_free(F.ksk);
	sp_key_free(F.zsk);
	sp_key_free(F.self);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	if (sp_answerer_new(0, sp_platform_rng(), &F.a) != SP_OK)
		return -1;
	sp_answerer_set_zone(F.a, F.zone);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sp_answerer_free(F.a);
	F.a = NULL;
	return 0;
}

/* ---- positive answers --------------------------------------------------- */

static void
test_aaaa_without_do(void **state)
{
	query q = Q("PhOnE.Alice.EXAMPLE", SP_T_AAAA);
	uint8_t qbuf[512], addr[16];
	size_t qlen, len;
	sp_answer_info info;
	ldns_pkt *p;
	ldns_rr *rr;

	(void)state;
	len = ask(&q, 0, qbuf, &qlen, &info);
	/* Header 12, question 25, AAAA with owner pointer 28, OPT 11. */
	assert_int_equal(len, 12 + 25 + 28 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 1, 0, 1);
	expect_question(F.out, len, qbuf, &q);
	assert_int_equal(u16(F.out + 37), 0xc00c);
	expect_opt_last(F.out, len, 1232, 0, 0);
	assert_int_equal(info.kind, SP_ANS_ANSWER);
	assert_int_equal(info.qtype, SP_T_AAAA);
	assert_int_equal(info.qname_len, 21);
	assert_memory_equal(info.qname, "\5phone\5alice\7example", 21);

	p = parse(F.out, len);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_aa(p));
	assert_true(ldns_pkt_rd(p));
	assert_false(ldns_pkt_tc(p));
	assert_false(ldns_pkt_ra(p));
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_edns(p));
	assert_false(ldns_pkt_edns_do(p));
	{
		char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
		assert_string_equal(s, "PhOnE.Alice.EXAMPLE.");
		free(s);
	}
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
	rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_AAAA);
	assert_int_equal(ldns_rr_ttl(rr), 300);
	expect_owner(rr, "phone.alice.example.");
	sp_ula_device(F.cloud.prefix, F.devs[0].pub, addr);
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(rr, 0)), 16);
	assert_memory_equal(ldns_rdf_data(ldns_rr_rdf(rr, 0)), addr, 16);
	ldns_pkt_free(p);

	/* Without EDNS: no OPT, and RD clear is copied as clear; CD is copied. */
	q.edns = 0;
	q.flags = SP_F_CD;
	q.id = 0xbeef;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 25 + 28);
	expect_header(F.out, len, 0xbeef, SP_F_QR | SP_F_AA | SP_F_CD, 1, 1, 0, 0);
	/* Query bits that are not ours to copy (AA, TC, RA, Z) are not. */
	q.flags = SP_F_AA | SP_F_TC | 0x0080 | 0x0040;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, 0xbeef, SP_F_QR | SP_F_AA, 1, 1, 0, 0);
	assert_int_equal(sp_answerer_stats(F.a)->answers, 3);
	assert_int_equal(sp_answerer_stats(F.a)->queries, 3);
}

static void
test_aaaa_with_do(void **state)
{
	query q = QDO("PhOnE.Alice.EXAMPLE", SP_T_AAAA);
	uint8_t qbuf[512];
	size_t qlen, len;
	ldns_pkt *p;

	(void)state;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	/* The RRSIG: 12 + 18 + 15 (signer) + 64. */
	assert_int_equal(len, 12 + 25 + 28 + 109 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 2, 0, 1);
	expect_question(F.out, len, qbuf, &q);
	expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO);
	p = parse(F.out, len);
	assert_true(ldns_pkt_edns_do(p));
	assert_int_equal(verify_in(p, LDNS_SECTION_ANSWER, SP_T_AAAA, zsk_tag()), 1);
	ldns_pkt_free(p);

	/* The apex DNSKEY RRset is signed by the KSK. */
	q = QDO("alice.example", SP_T_DNSKEY);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 3, 0, 1);
	p = parse(F.out, len);
	assert_int_equal(verify_in(p, LDNS_SECTION_ANSWER, SP_T_DNSKEY,
	    sp_key_info_of(F.ksk)->tag), 2);
	ldns_pkt_free(p);

	/* Every SSHFP of server, signed. */
	q = QDO("server.alice.example.", SP_T_SSHFP);
	len = ask(&q, 1, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 9, 0, 1);
	p = parse(F.out, len);
	assert_int_equal(verify_in(p, LDNS_SECTION_ANSWER, SP_T_SSHFP, zsk_tag()), 8);
	ldns_pkt_free(p);
}

/* ---- negative answers --------------------------------------------------- */

static void
test_nodata(void **state)
{
	query q = Q("PHONE.alice.example", 16 /* TXT */);
	uint8_t qbuf[512];
	size_t qlen, len;
	sp_answer_info info;
	ldns_pkt *p;
	ldns_rr *soa;

	(void)state;
	len = ask(&q, 0, qbuf, &qlen, &info);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 0, 1, 1);
	expect_question(F.out, len, qbuf, &q);
	assert_int_equal(info.kind, SP_ANS_NODATA);
	/* The SOA's owner points at "alice.example" inside the question. */
	assert_int_equal(u16(F.out + 12 + 25), 0xc000 | (12 + 6));
	p = parse(F.out, len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 1);
	soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	expect_owner(soa, "alice.example.");
	/* RFC 2308: min(SOA TTL 3600, minimum 300). */
	assert_int_equal(ldns_rr_ttl(soa), 300);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 7);
	ldns_pkt_free(p);

	/* With DO: SOA, its RRSIG, the node's NSEC and its RRSIG. */
	q.eflags = SP_EDNS_DO;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 0, 4, 1);
	expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO);
	p = parse(F.out, len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(verify_in(p, LDNS_SECTION_AUTHORITY, SP_T_SOA, zsk_tag()), 1);
	assert_int_equal(verify_in(p, LDNS_SECTION_AUTHORITY, SP_T_NSEC, zsk_tag()), 1);
	{
		ldns_rr_list *l = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_NSEC,
		    LDNS_SECTION_AUTHORITY);
		ldns_rr *nsec = ldns_rr_list_rr(l, 0);
		ldns_rdf *next = dn("\\000.phone.alice.example.");
		expect_owner(nsec, "phone.alice.example.");
		assert_int_equal(ldns_rr_ttl(nsec), 300);
		assert_int_equal(ldns_dname_compare(ldns_rr_rdf(nsec, 0), next), 0);
		for (uint16_t t = 0; t < 256; t++) {
			int want = t == SP_T_AAAA || t == SP_T_IPSECKEY || t == SP_T_SSHFP ||
			    t == SP_T_RRSIG || t == SP_T_NSEC;
			assert_int_equal(ldns_nsec_bitmap_covers_type(ldns_rr_rdf(nsec, 1), t),
			    want);
		}
		assert_false(ldns_nsec_bitmap_covers_type(ldns_rr_rdf(nsec, 1),
		    (ldns_rr_type)SP_T_NXNAME));
		ldns_rdf_deep_free(next);
		ldns_rr_list_deep_free(l);
	}
	ldns_pkt_free(p);

	/* At the apex the SOA owner is the question name itself. */
	q = Q("alice.example.", SP_T_AAAA);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 0, 1, 1);
	assert_int_equal(u16(F.out + 12 + 19), 0xc00c);
	assert_int_equal(sp_answerer_stats(F.a)->nodata, 3);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 0);
}

static void
expect_compact_nx(const uint8_t *r, size_t len, const char *qname_lower, uint16_t rcode)
{
	ldns_pkt *p = parse(r, len);
	ldns_rr_list *l = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_NSEC, LDNS_SECTION_AUTHORITY);
	char next_text[300];
	ldns_rdf *next;
	ldns_rr *nsec;

	assert_int_equal(ldns_pkt_get_rcode(p), rcode);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 4);
	assert_int_equal(ldns_rr_list_rr_count(l), 1);
	nsec = ldns_rr_list_rr(l, 0);
	expect_owner(nsec, qname_lower);
	assert_int_equal(ldns_rr_ttl(nsec), 300);
	snprintf(next_text, sizeof(next_text), "\\000.%s", qname_lower);
	next = dn(next_text);
	assert_int_equal(ldns_dname_compare(ldns_rr_rdf(nsec, 0), next), 0);
	for (uint32_t t = 0; t < 65536; t++) {
		int want = t == SP_T_RRSIG || t == SP_T_NSEC || t == SP_T_NXNAME;
		if (ldns_nsec_bitmap_covers_type(ldns_rr_rdf(nsec, 1), (ldns_rr_type)t) != want)
			fail_msg("NSEC bitmap, type %u", t);
	}
	assert_int_equal(verify_in(p, LDNS_SECTION_AUTHORITY, SP_T_NSEC, zsk_tag()), 1);
	assert_int_equal(verify_in(p, LDNS_SECTION_AUTHORITY, SP_T_SOA, zsk_tag()), 1);
	{
		ldns_rr_list *soa = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_SOA,
		    LDNS_SECTION_AUTHORITY);
		expect_owner(ldns_rr_list_rr(soa, 0), "alice.example.");
		assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(soa, 0)), 300);
		ldns_rr_list_deep_free(soa);
	}
	ldns_rdf_deep_free(next);
	ldns_rr_list_deep_free(l);
	ldns_pkt_free(p);
}

static void
test_nx_compact_denial(void **state)
{
	query q = QDO("Nope.Alice.example", SP_T_A);
	uint8_t qbuf[512];
	size_t qlen, len;
	sp_answer_info info;

	(void)state;
	/* RFC 9824: NOERROR, one NSEC at the name, types RRSIG NSEC NXNAME. */
	len = ask(&q, 0, qbuf, &qlen, &info);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 0, 4, 1);
	expect_question(F.out, len, qbuf, &q);
	expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO);
	assert_int_equal(info.kind, SP_ANS_NXDOMAIN);
	expect_compact_nx(F.out, len, "nope.alice.example.", LDNS_RCODE_NOERROR);

	/* With CO (compact answers OK) the rcode is NXDOMAIN, and the
	 * response carries CO back (RFC 9824 4). */
	q.eflags = SP_EDNS_DO | SP_EDNS_CO;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD | SP_RCODE_NXDOMAIN,
	    1, 0, 4, 1);
	expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO | SP_EDNS_CO);
	expect_compact_nx(F.out, len, "nope.alice.example.", LDNS_RCODE_NXDOMAIN);
	/* So does a positive answer to such a query. */
	q = QDO("phone.alice.example", SP_T_AAAA);
	q.eflags = SP_EDNS_DO | SP_EDNS_CO;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO | SP_EDNS_CO);

	/* Below an existing name, too. */
	q = QDO("x.phone.alice.example", SP_T_AAAA);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 0, 4, 1);
	expect_compact_nx(F.out, len, "x.phone.alice.example.", LDNS_RCODE_NOERROR);

	/* Without DO: a plain NXDOMAIN with the SOA only, CO or not. */
	q = Q("nope.alice.example", SP_T_A);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD | SP_RCODE_NXDOMAIN,
	    1, 0, 1, 1);
	q.eflags = SP_EDNS_CO;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD | SP_RCODE_NXDOMAIN,
	    1, 0, 1, 1);
	/* CO without DO means nothing, and is not echoed. */
	expect_opt_last(F.out, len, 1232, 0, 0);
	q.edns = 0;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 24 + 12 + 61);   /* SOA rdata: 15 + 26 + 20 */
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD | SP_RCODE_NXDOMAIN,
	    1, 0, 1, 0);
	{
		ldns_pkt *p = parse(F.out, len);
		assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 300);
		ldns_pkt_free(p);
	}
	assert_int_equal(sp_answerer_stats(F.a)->nxdomain, 6);
}

static void
test_nx_signature_cache(void **state)
{
	query q = QDO("nope.alice.example", SP_T_A);
	uint8_t qbuf[512], first[CAP];
	size_t qlen, len, len1;

	(void)state;
	len1 = ask(&q, 0, qbuf, &qlen, NULL);
	memcpy(first, F.out, len1);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 1);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 1);
	assert_int_equal(len, len1);
	assert_memory_equal(F.out, first, len);
	/* Another qtype and another case: the same name, still cached. */
	q = QDO("NOPE.alice.example", SP_T_AAAA);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 1);
	expect_compact_nx(F.out, len, "nope.alice.example.", LDNS_RCODE_NOERROR);
	/* Another name is signed afresh. */
	q = QDO("other.alice.example", SP_T_A);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 2);
	expect_compact_nx(F.out, len, "other.alice.example.", LDNS_RCODE_NOERROR);
	/* Without DO nothing is signed. */
	q = Q("third.alice.example", SP_T_A);
	ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 2);
	/* Past the refresh time (now + validity - refresh) it is signed again. */
	q = QDO("nope.alice.example", SP_T_A);
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	len = sp_answer(F.a, qbuf, qlen, 0, NOW + 7 * 86400, F.out, CAP, NULL);
	assert_true(len > 0);
	assert_int_equal(sp_answerer_stats(F.a)->nx_signed, 3);
}

/* ---- refusals and errors ------------------------------------------------ */

static void
test_refused(void **state)
{
	static const char *others[] = { "bob.example.", "example.", ".", "xalice.example.",
	    "alice.example.org.", "alice.example.com." };
	uint8_t qbuf[512];
	size_t qlen, len;
	sp_answer_info info;
	query q;

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		q = QDO(others[i], SP_T_A);
		len = ask(&q, 0, qbuf, &qlen, &info);
		assert_int_equal(len, 12 + question_len(&q) + 11);
		expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 1);
		expect_question(F.out, len, qbuf, &q);
		expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO);
		assert_int_equal(info.kind, SP_ANS_ERROR);
	}
	/* Class CH (and ANY) in our own zone. */
	q = Q("alice.example.", SP_T_SOA);
	q.qclass = 3;
	q.edns = 0;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + question_len(&q));
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 0);
	q.qclass = 255;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 0);
	/* No zone yet: everything is refused. */
	sp_answerer_set_zone(F.a, NULL);
	q = Q("alice.example.", SP_T_SOA);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 1);
	assert_int_equal(sp_answerer_stats(F.a)->refused, 9);
	{
		ldns_pkt *p = parse(F.out, len);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
		assert_false(ldns_pkt_aa(p));
		ldns_pkt_free(p);
	}
}

static void
test_notimp(void **state)
{
	uint8_t qbuf[512];
	size_t qlen, len;
	query q;

	(void)state;
	for (uint16_t op = 1; op < 16; op++) {
		q = Q("alice.example.", SP_T_SOA);
		q.flags = (uint16_t)(op << 11 | SP_F_RD);
		len = ask(&q, 0, qbuf, &qlen, NULL);
		/* The opcode is echoed; the question is not parsed. */
		assert_int_equal(len, 12);
		expect_header(F.out, len, ID, (uint16_t)(SP_F_QR | op << 11 | SP_F_RD |
		    SP_RCODE_NOTIMP), 0, 0, 0, 0);
	}
	assert_int_equal(sp_answerer_stats(F.a)->notimp, 15);
	{
		ldns_pkt *p = parse(F.out, len);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
		ldns_pkt_free(p);
	}
	q = Q("alice.example.", SP_T_SOA);
	q.flags = 4 << 11;   /* NOTIFY */
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | 4 << 11 | SP_RCODE_NOTIMP, 0, 0, 0, 0);
	q.flags = 5 << 11;   /* UPDATE */
	len = ask(&q, 1, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | 5 << 11 | SP_RCODE_NOTIMP, 0, 0, 0, 0);
}

static void
test_dropped(void **state)
{
	uint8_t qbuf[512];
	size_t qlen;
	sp_answer_info info;
	query q = Q("alice.example.", SP_T_SOA);

	(void)state;
	/* A response is never answered. */
	q.flags = SP_F_QR | SP_F_AA;
	assert_int_equal(ask(&q, 0, qbuf, &qlen, &info), 0);
	assert_int_equal(info.kind, SP_ANS_DROP);
	assert_int_equal(ask(&q, 1, qbuf, &qlen, NULL), 0);
	/* Shorter than a header. */
	q.flags = 0;
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	for (size_t n = 0; n < 12; n++)
		assert_int_equal(sp_answer(F.a, qbuf, n, 0, NOW, F.out, CAP, NULL), 0);
	/* A buffer under 512 bytes. */
	assert_int_equal(sp_answer(F.a, qbuf, qlen, 0, NOW, F.out, 511, NULL), 0);
	assert_int_equal(sp_answer(F.a, qbuf, qlen, 1, NOW, F.out, 0, NULL), 0);
	assert_int_not_equal(sp_answer(F.a, qbuf, qlen, 0, NOW, F.out, 512, NULL), 0);
	assert_int_equal(sp_answerer_stats(F.a)->dropped, 2 + 12 + 2);
	assert_int_equal(sp_answerer_stats(F.a)->queries, 2 + 12 + 3);
}

/* A FORMERR without the question: 12 bytes, QDCOUNT 0, no OPT. */
static void
expect_formerr_bare(const uint8_t *qbuf, size_t qlen, uint16_t flags)
{
	size_t len = ask_raw(qbuf, qlen);

	assert_int_equal(len, 12);
	expect_header(F.out, len, u16(qbuf), (uint16_t)(SP_F_QR | flags | SP_RCODE_FORMERR),
	    0, 0, 0, 0);
	ldns_pkt_free(parse(F.out, len));
}

static void
test_formerr_question(void **state)
{
	uint8_t qbuf[1024];
	size_t qlen;
	query q = Q("phone.alice.example.", SP_T_AAAA);
	sp_wire w;

	(void)state;
	/* QDCOUNT 0 and 2. */
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	qbuf[5] = 0;
	expect_formerr_bare(qbuf, 12, SP_F_RD);
	expect_formerr_bare(qbuf, qlen, SP_F_RD);
	qbuf[5] = 2;
	expect_formerr_bare(qbuf, qlen, SP_F_RD);
	{
		/* Two whole questions. */
		query q2 = q;
		q2.edns = 0;
		qlen = mkquery(qbuf, sizeof(qbuf), &q2);
		memcpy(qbuf + qlen, qbuf + 12, qlen - 12);
		qbuf[5] = 2;
		expect_formerr_bare(qbuf, qlen + qlen - 12, SP_F_RD);
	}
	/* A question cut short anywhere. */
	q.edns = 0;
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	for (size_t n = 12; n < qlen; n++)
		expect_formerr_bare(qbuf, n, SP_F_RD);

	/* A compression pointer as the name, and after a label. */
	w = sp_wire_writer(qbuf, sizeof(qbuf));
	sp_wire_put(&w, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	sp_wire_put(&w, "\xc0\x0c\x00\x01\x00\x01", 6);
	expect_formerr_bare(qbuf, sp_wire_used(&w), SP_F_RD);
	w = sp_wire_writer(qbuf, sizeof(qbuf));
	sp_wire_put(&w, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	sp_wire_put(&w, "\x05phone\xc0\x12\x00\x01\x00\x01", 12);
	expect_formerr_bare(qbuf, sp_wire_used(&w), SP_F_RD);

	/* A label of 64 bytes (0x40, the reserved "extended label" bits). */
	w = sp_wire_writer(qbuf, sizeof(qbuf));
	sp_wire_put(&w, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	sp_wire_put_u8(&w, 64);
	for (int i = 0; i < 64; i++)
		sp_wire_put_u8(&w, 'a');
	sp_wire_put(&w, "\005alice\007example\000\000\001\000\001", 19);
	expect_formerr_bare(qbuf, sp_wire_used(&w), SP_F_RD);

	/* A name of 256 bytes: three labels of 63, one of 62, the root ... */
	for (int last = 62; last >= 61; last--) {
		w = sp_wire_writer(qbuf, sizeof(qbuf));
		sp_wire_put(&w, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
		for (int l = 0; l < 4; l++) {
			sp_wire_put_u8(&w, (uint8_t)(l < 3 ? 63 : last));
			for (int i = 0; i < (l < 3 ? 63 : last); i++)
				sp_wire_put_u8(&w, 'a');
		}
		sp_wire_put(&w, "\x00\x00\x01\x00\x01", 5);
		if (last == 62)
			expect_formerr_bare(qbuf, sp_wire_used(&w), SP_F_RD);
	}
	/* ... while 255 bytes is a name (not ours: REFUSED). */
	qlen = sp_wire_used(&w);
	assert_int_equal(ask_raw(qbuf, qlen), 12 + 255 + 4);
	expect_header(F.out, 12 + 255 + 4, 0x1234, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED,
	    1, 0, 0, 0);
	/* 4 counts, 25 cuts, 2 pointers, a long label, a long name. */
	assert_int_equal(sp_answerer_stats(F.a)->formerr, 4 + 25 + 2 + 1 + 1);
}

/* A query for phone AAAA whose additional section is "extra" (count ar). */
static size_t
with_additional(uint8_t *qbuf, const void *extra, size_t n, uint16_t ar)
{
	query q = Q("phone.alice.example.", SP_T_AAAA);
	size_t qlen;

	q.edns = 0;
	qlen = mkquery(qbuf, 512, &q);
	memcpy(qbuf + qlen, extra, n);
	qbuf[10] = (uint8_t)(ar >> 8);
	qbuf[11] = (uint8_t)ar;
	return qlen + n;
}

/* A FORMERR that echoes the question (12 + 25 bytes), with or without OPT. */
static void
expect_formerr_question(const uint8_t *qbuf, size_t qlen, int opt)
{
	size_t len = ask_raw(qbuf, qlen);

	assert_int_equal(len, 12 + 25 + (opt ? 11 : 0));
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_FORMERR, 1, 0, 0,
	    opt ? 1 : 0);
	assert_memory_equal(F.out + 12, qbuf + 12, 25);
	ldns_pkt_free(parse(F.out, len));
}

static void
test_formerr_additional(void **state)
{
	uint8_t qbuf[1024], rr[64];
	size_t qlen, len;

	(void)state;
	/* A name that is a pointer to itself: offset 12 + 25 = 37. */
	memcpy(rr, "\xc0\x25\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	qlen = with_additional(qbuf, rr, 12, 1);
	expect_formerr_question(qbuf, qlen, 0);
	/* A pointer forward, past itself. */
	rr[1] = 0x30;
	qlen = with_additional(qbuf, rr, 12, 1);
	expect_formerr_question(qbuf, qlen, 0);
	/* A pointer back into the question is fine (an A record for phone). */
	memcpy(rr, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x01\x02\x03\x04", 16);
	qlen = with_additional(qbuf, rr, 16, 1);
	len = ask_raw(qbuf, qlen);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 1, 0, 0);
	/* A label, then a pointer back to that label: a loop through it. */
	memcpy(rr, "\x01x\xc0\x25\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00", 14);
	qlen = with_additional(qbuf, rr, 14, 1);
	expect_formerr_question(qbuf, qlen, 0);

	/* More records announced than present, and an rdlength past the end. */
	qlen = with_additional(qbuf, "", 0, 1);
	expect_formerr_question(qbuf, qlen, 0);
	memcpy(rr, "\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x05\x01\x02", 13);
	qlen = with_additional(qbuf, rr, 13, 1);
	expect_formerr_question(qbuf, qlen, 0);
	/* Records announced in the answer or authority section are parsed too. */
	qlen = with_additional(qbuf, "", 0, 0);
	qbuf[7] = 1;
	expect_formerr_question(qbuf, qlen, 0);
	qbuf[7] = 0;
	qbuf[9] = 1;
	expect_formerr_question(qbuf, qlen, 0);

	/* Two OPTs: FORMERR (RFC 6891 6.1.1), with our OPT in the reply. */
	{
		uint8_t opts[22];
		sp_wire w = sp_wire_writer(opts, sizeof(opts));
		put_opt(&w, 1232, 0, 0);
		put_opt(&w, 1232, 0, 0);
		qlen = with_additional(qbuf, opts, 22, 2);
		expect_formerr_question(qbuf, qlen, 1);
		expect_opt_last(F.out, 12 + 25 + 11, 1232, 0, 0);
	}
	/* An OPT not owned by the root, and an OPT in the answer section. */
	memcpy(rr, "\x01x\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 13);
	qlen = with_additional(qbuf, rr, 13, 1);
	expect_formerr_question(qbuf, qlen, 0);
	memcpy(rr, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
	qlen = with_additional(qbuf, rr, 11, 0);
	qbuf[7] = 1;
	expect_formerr_question(qbuf, qlen, 0);
	/* Huge counts with little behind them end, and fail. */
	qlen = with_additional(qbuf, rr, 11, 0xffff);
	expect_formerr_question(qbuf, qlen, 1);
	qbuf[6] = qbuf[7] = qbuf[8] = qbuf[9] = 0xff;
	expect_formerr_question(qbuf, qlen, 0);
	assert_int_equal(sp_answerer_stats(F.a)->formerr, 12);
}

static void
test_badvers(void **state)
{
	query q = QDO("phone.alice.example.", SP_T_AAAA);
	uint8_t qbuf[512];
	size_t qlen, len;
	ldns_pkt *p;

	(void)state;
	q.version = 1;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	/* BADVERS is 16: 0 in the header, 1 in the OPT's extended rcode. */
	assert_int_equal(len, 12 + 25 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD, 1, 0, 0, 1);
	expect_question(F.out, len, qbuf, &q);
	expect_opt_last(F.out, len, 1232, 1, SP_EDNS_DO);
	p = parse(F.out, len);
	assert_int_equal(ldns_pkt_edns_extended_rcode(p), 1);
	assert_int_equal(ldns_pkt_edns_version(p), 0);
	ldns_pkt_free(p);
	q.version = 255;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_opt_last(F.out, len, 1232, 1, SP_EDNS_DO);
	assert_int_equal(sp_answerer_stats(F.a)->badvers, 2);
}

/* ---- ANY, transfers, sizes ---------------------------------------------- */

static void
test_any_is_one_rrset(void **state)
{
	query q = Q("phone.alice.example.", SP_T_ANY);
	uint8_t qbuf[512];
	size_t qlen, len;
	ldns_pkt *p;

	(void)state;
	/* RFC 8482: one RRset of the three at phone. */
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 1, 0, 1);
	p = parse(F.out, len);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	    LDNS_RR_TYPE_AAAA);
	ldns_pkt_free(p);
	q.eflags = SP_EDNS_DO;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 2, 0, 1);
	p = parse(F.out, len);
	assert_int_equal(verify_in(p, LDNS_SECTION_ANSWER, SP_T_AAAA, zsk_tag()), 1);
	ldns_pkt_free(p);
	/* At the apex (five RRsets) too: just the first, NS. */
	q = Q("alice.example.", SP_T_ANY);
	len = ask(&q, 1, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 1, 0, 1);
	p = parse(F.out, len);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	    LDNS_RR_TYPE_NS);
	ldns_pkt_free(p);
	/* ANY for a name that does not exist is an ordinary NXDOMAIN. */
	q = Q("nope.alice.example.", SP_T_ANY);
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD | SP_RCODE_NXDOMAIN,
	    1, 0, 1, 1);
}

static void
test_transfers(void **state)
{
	query q = Q("Alice.Example.", SP_T_AXFR);
	uint8_t qbuf[512];
	size_t qlen, len;
	sp_answer_info info;

	(void)state;
	/* Over UDP: refused. */
	len = ask(&q, 0, qbuf, &qlen, &info);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 1);
	assert_int_equal(info.kind, SP_ANS_ERROR);
	q.qtype = SP_T_IXFR;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 1);
	/* Over TCP: nothing written here, the caller transfers. */
	q.qtype = SP_T_AXFR;
	assert_int_equal(ask(&q, 1, qbuf, &qlen, &info), 0);
	assert_int_equal(info.kind, SP_ANS_XFR);
	assert_int_equal(info.qtype, SP_T_AXFR);
	assert_int_equal(info.qname_len, 15);
	assert_memory_equal(info.qname, "\5alice\7example", 15);
	q.qtype = SP_T_IXFR;
	assert_int_equal(ask(&q, 1, qbuf, &qlen, &info), 0);
	assert_int_equal(info.kind, SP_ANS_XFR);
	/* Of another zone, over TCP: refused. */
	q = Q("bob.example.", SP_T_AXFR);
	len = ask(&q, 1, qbuf, &qlen, &info);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_REFUSED, 1, 0, 0, 1);
	assert_int_equal(info.kind, SP_ANS_ERROR);
	assert_int_equal(sp_answerer_stats(F.a)->dropped, 0);
}

static void
test_truncation(void **state)
{
	query q = QDO("server.alice.example.", SP_T_SSHFP);
	uint8_t qbuf[512];
	size_t qlen, len;
	sp_answer_info info;
	ldns_pkt *p;

	(void)state;
	/* 12 + 26 + 8 x 46 + 109 + 11 = 526 bytes do not fit in 512: header,
	 * question and OPT, TC set, no records. */
	q.udp = 512;
	len = ask(&q, 0, qbuf, &qlen, &info);
	assert_int_equal(len, 12 + 26 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_TC | SP_F_RD, 1, 0, 0, 1);
	expect_question(F.out, len, qbuf, &q);
	expect_opt_last(F.out, len, 1232, 0, SP_EDNS_DO);
	assert_int_equal(info.kind, SP_ANS_ANSWER);
	p = parse(F.out, len);
	assert_true(ldns_pkt_tc(p));
	assert_true(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
	/* An advertised size under 512 means 512. */
	q.udp = 100;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 26 + 11);
	/* Over TCP the answer is whole. */
	len = ask(&q, 1, qbuf, &qlen, NULL);
	assert_int_equal(len, 526);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 9, 0, 1);
	p = parse(F.out, len);
	assert_int_equal(verify_in(p, LDNS_SECTION_ANSWER, SP_T_SSHFP, zsk_tag()), 8);
	ldns_pkt_free(p);
	/* With room for it over UDP, too. */
	q.udp = 1232;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 526);
	/* Without DO it fits in 512, with or without EDNS. */
	q.eflags = 0;
	q.udp = 512;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 26 + 8 * 46 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 8, 0, 1);
	q.edns = 0;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 26 + 8 * 46);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 8, 0, 0);
	/* A buffer of 512 bytes truncates even over TCP. */
	q = QDO("server.alice.example.", SP_T_SSHFP);
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	len = sp_answer(F.a, qbuf, qlen, 1, NOW, F.out, 512, NULL);
	assert_int_equal(len, 12 + 26 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_TC | SP_F_RD, 1, 0, 0, 1);
	assert_int_equal(sp_answerer_stats(F.a)->truncated, 3);
}

static void
test_edns_size_is_capped(void **state)
{
	query q = Q("big.alice.example.", 16);
	uint8_t qbuf[512];
	size_t qlen, len, whole;
	sp_answerer *a2;

	(void)state;
	sp_answerer_set_zone(F.a, F.big);
	/* 12 + 23 + 7 x 213 + 11 = 1537 bytes: over our 1232 even when the
	 * client offers 4096, and our OPT says 1232. */
	whole = 12 + 23 + 7 * 213 + 11;
	q.udp = 4096;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 23 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_TC | SP_F_RD, 1, 0, 0, 1);
	expect_opt_last(F.out, len, 1232, 0, 0);
	len = ask(&q, 1, qbuf, &qlen, NULL);
	assert_int_equal(len, whole);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_RD, 1, 7, 0, 1);
	ldns_pkt_free(parse(F.out, len));
	/* Without EDNS: 512, and no OPT in the truncated reply. */
	q.edns = 0;
	len = ask(&q, 0, qbuf, &qlen, NULL);
	assert_int_equal(len, 12 + 23);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_TC | SP_F_RD, 1, 0, 0, 0);

	/* An answerer configured for 2048 sends it whole to a client offering
	 * 4096, and truncates for one offering 1500. */
	assert_int_equal(sp_answerer_new(2048, sp_platform_rng(), &a2), SP_OK);
	sp_answerer_set_zone(a2, F.big);
	q = Q("big.alice.example.", 16);
	q.udp = 4096;
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	len = sp_answer(a2, qbuf, qlen, 0, NOW, F.out, CAP, NULL);
	assert_int_equal(len, whole);
	expect_opt_last(F.out, len, 2048, 0, 0);
	q.udp = 1500;
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	len = sp_answer(a2, qbuf, qlen, 0, NOW, F.out, CAP, NULL);
	assert_int_equal(len, 12 + 23 + 11);
	expect_header(F.out, len, ID, SP_F_QR | SP_F_AA | SP_F_TC | SP_F_RD, 1, 0, 0, 1);
	sp_answerer_free(a2);
	/* A configured size under 512 is 512. */
	assert_int_equal(sp_answerer_new(100, sp_platform_rng(), &a2), SP_OK);
	sp_answerer_set_zone(a2, F.zone);
	q = Q("phone.alice.example.", SP_T_AAAA);
	qlen = mkquery(qbuf, sizeof(qbuf), &q);
	len = sp_answer(a2, qbuf, qlen, 0, NOW, F.out, CAP, NULL);
	expect_opt_last(F.out, len, 512, 0, 0);
	sp_answerer_free(a2);
}

/* RFC 9824 3.5: NXNAME is a meta-type; a query for it is a format error,
 * at an existing name or a missing one, with or without DO. */
static void
test_nxname_query_is_formerr(void **state)
{
	static const char *names[] = { "phone.alice.example", "nope.alice.example",
	    "alice.example" };
	uint8_t qbuf[512];
	size_t qlen, len;
	sp_answer_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		query q = QDO(names[i], SP_T_NXNAME);
		len = ask(&q, 0, qbuf, &qlen, &info);
		expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_FORMERR, 1, 0, 0, 1);
		assert_int_equal(info.kind, SP_ANS_ERROR);
		q = Q(names[i], SP_T_NXNAME);
		len = ask(&q, 0, qbuf, &qlen, &info);
		expect_header(F.out, len, ID, SP_F_QR | SP_F_RD | SP_RCODE_FORMERR, 1, 0, 0, 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aaaa_without_do, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aaaa_with_do, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nx_compact_denial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxname_query_is_formerr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nx_signature_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notimp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formerr_question, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formerr_additional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_badvers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_is_one_rrset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edns_size_is_capped, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
