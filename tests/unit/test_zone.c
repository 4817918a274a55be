/*
 * resolver/zone.c, zonesrc.c and xfr.c with ldns as the independent
 * oracle: every signature verifies and is made by the right key, CDS
 * agrees with ldns_key_rr2ds, device records and NSEC bitmaps are exact,
 * signatures are reused exactly when nothing they cover changed, empty
 * non-terminals exist, and the transfer form passes ldns-verify-zone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>
#include <sodium.h>

#include "sp_cloud.h"
#include "sp_device.h"
#include "sp_dns.h"
#include "sp_key.h"
#include "sp_xfr.h"
#include "sp_zone.h"
#include "sp_zonesrc.h"

#define NOW 1700000000   /* 2023-11-14 22:13:20 UTC */
#define SERIAL 2023111401u
#define DAY 86400

/* apex: SOA NS DNSKEY CDS CDNSKEY + NSEC; gw: AAAA IPSECKEY + NSEC;
 * phone: AAAA IPSECKEY SSHFP + NSEC; laptop: AAAA IPSECKEY + NSEC. */
/* Every RRset and every node's compact-denial NSEC (16), and the transfer
 * form's chain: NSEC3PARAM and one NSEC3 per name (5). */
#define ZONE_SIGNATURES (16 + 5)

static struct {
	sp_key *ksk, *zsk, *self, *phone, *laptop;
	sp_cloud cloud;
	sp_device devs[2];
	sp_zone_config cfg;
	sp_zone *zone;
} F;

/* ---- helpers ------------------------------------------------------------ */

static void
dname(const char *text, uint8_t out[SP_DNAME_MAX], size_t *len)
{
	assert_int_equal(sp_dname_from_text(text, out, len), SP_OK);
}

static const sp_node *
node_at(const sp_zone *z, const char *text)
{
	uint8_t n[SP_DNAME_MAX];
	size_t len;

	dname(text, n, &len);
	return sp_zone_find(z, n, len);
}

static const sp_rrset *
rrset_at(const sp_zone *z, const char *text, uint16_t type)
{
	const sp_node *n = node_at(z, text);

	assert_non_null(n);
	return type == SP_T_NSEC ? &n->nsec : sp_node_rrset(n, type);
}

/* The RRs (sigs = 0) or the RRSIGs (sigs = 1) of an RRset as ldns RRs. */
static ldns_rr_list *
rrset_list(const uint8_t *owner, size_t owner_len, const sp_rrset *rs, int sigs)
{
	const uint8_t *p = sigs ? rs->rrsig : rs->rdata;
	size_t len = sigs ? rs->rrsig_len : rs->rdata_len, off = 0;
	uint16_t n = sigs ? rs->nsig : rs->count;
	ldns_rr_list *l = ldns_rr_list_new();

	assert_non_null(l);
	for (uint16_t i = 0; i < n; i++) {
		assert_true(off + 2 <= len);
		size_t rdlen = (size_t)p[off] << 8 | p[off + 1];
		assert_true(off + 2 + rdlen <= len);
		ldns_rr *rr = sp_xfr_ldns_rr(owner, owner_len, sigs ? SP_T_RRSIG : rs->type,
		    rs->ttl, p + off + 2, rdlen);
		assert_non_null(rr);
		assert_true(ldns_rr_list_push_rr(l, rr));
		off += 2 + rdlen;
	}
	assert_int_equal(off, len);
	return l;
}

static ldns_rr_list *
dnskeys(const sp_zone *z)
{
	size_t apex_len;
	const uint8_t *apex = sp_zone_apex(z, &apex_len);

	return rrset_list(apex, apex_len, rrset_at(z, "alice.example.", SP_T_DNSKEY), 0);
}

static uint16_t
tag_of(const sp_key *k)
{
	return sp_key_info_of(k)->tag;
}

/* One RRSIG, made at the apex by the key with want_tag, that ldns accepts
 * at time at with the zone's DNSKEY RRset. */
static void
verify_rrset(const sp_zone *z, const sp_node *node, const sp_rrset *rs,
    uint16_t want_tag, int64_t at)
{
	ldns_rr_list *keys = dnskeys(z);
	ldns_rr_list *rrs = rrset_list(node->name, node->name_len, rs, 0);
	ldns_rr_list *sigs = rrset_list(node->name, node->name_len, rs, 1);
	ldns_rr_list *good = ldns_rr_list_new();
	ldns_rdf *apex = ldns_dname_new_frm_str("alice.example.");
	ldns_rr *sig;

	assert_int_equal(rs->nsig, 1);
	assert_int_equal(ldns_rr_list_rr_count(sigs), 1);
	sig = ldns_rr_list_rr(sigs, 0);
	assert_int_equal(ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig)), rs->type);
	assert_int_equal(ldns_rdf2native_int8(ldns_rr_rrsig_algorithm(sig)), 15);
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig)), want_tag);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rrsig_origttl(sig)), rs->ttl);
	assert_int_equal(ldns_rdf2native_int8(ldns_rr_rrsig_labels(sig)),
	    sp_dname_labels(node->name));
	assert_int_equal(ldns_dname_compare(ldns_rr_rrsig_signame(sig), apex), 0);
	assert_int_equal(ldns_verify_rrsig_keylist_time(rrs, sig, keys, (time_t)at, good),
	    LDNS_STATUS_OK);
	assert_int_equal(ldns_rr_list_rr_count(good), 1);
	assert_int_equal(ldns_calc_keytag(ldns_rr_list_rr(good, 0)), want_tag);
	ldns_rdf_deep_free(apex);
	ldns_rr_list_free(good);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(rrs);
	ldns_rr_list_deep_free(keys);
}

static uint16_t
signer_for(uint16_t type)
{
	return type == SP_T_DNSKEY || type == SP_T_CDS || type == SP_T_CDNSKEY ?
	    tag_of(F.ksk) : tag_of(F.zsk);
}

/* Every RRset and every NSEC of z, verified at time at. */
static void
verify_zone(const sp_zone *z, int64_t at)
{
	for (size_t i = 0; i < sp_zone_node_count(z); i++) {
		const sp_node *n = sp_zone_node(z, i);
		for (size_t k = 0; k < n->nrrsets; k++)
			verify_rrset(z, n, &n->rrsets[k], signer_for(n->rrsets[k].type), at);
		verify_rrset(z, n, &n->nsec, tag_of(F.zsk), at);
	}
}

static int
build(const sp_device *devs, size_t ndevs, sp_key *const *keys, size_t nkeys,
    uint32_t serial, int64_t now, const sp_zone *prev, sp_zone **out)
{
	sp_errmsg e;

	return sp_zone_build(&F.cloud, keys, nkeys, devs, ndevs, &F.cfg, serial, now, prev,
	    out, &e);
}

static sp_zone *
build_default(uint32_t serial, int64_t now, const sp_zone *prev)
{
	sp_key *keys[] = { F.ksk, F.zsk, F.self };
	sp_zone *z = NULL;

	assert_int_equal(build(F.devs, 2, keys, 3, serial, now, prev, &z), SP_OK);
	return z;
}

static int
same_sigs(const sp_rrset *a, const sp_rrset *b)
{
	return a != NULL && b != NULL && a->rrsig_len == b->rrsig_len &&
	    memcmp(a->rrsig, b->rrsig, a->rrsig_len) == 0;
}

/* The number of RRsets and NSECs of z whose signatures differ from prev's. */
static size_t
changed_sigs(const sp_zone *z, const sp_zone *prev)
{
	size_t n = 0;

	for (size_t i = 0; i < sp_zone_node_count(z); i++) {
		const sp_node *node = sp_zone_node(z, i);
		const sp_node *pn = sp_zone_find(prev, node->name, node->name_len);
		for (size_t k = 0; k < node->nrrsets; k++)
			n += !same_sigs(&node->rrsets[k],
			    pn ? sp_node_rrset(pn, node->rrsets[k].type) : NULL);
		n += !same_sigs(&node->nsec, pn ? &pn->nsec : NULL);
	}
	n += !same_sigs(sp_zone_nsec3param(z), sp_zone_nsec3param(prev));
	for (size_t i = 0; i < sp_zone_nsec3_count(z); i++) {
		const sp_nsec3 *a = sp_zone_nsec3(z, i), *b = NULL;
		for (size_t k = 0; k < sp_zone_nsec3_count(prev) && b == NULL; k++)
			if (sp_zone_nsec3(prev, k)->owner_len == a->owner_len &&
			    memcmp(sp_zone_nsec3(prev, k)->owner, a->owner, a->owner_len) == 0)
				b = sp_zone_nsec3(prev, k);
		n += !same_sigs(&a->rrset, b ? &b->rrset : NULL);
	}
	return n;
}

static void
rdata_single(const sp_rrset *rs, const uint8_t *want, size_t len)
{
	assert_non_null(rs);
	assert_int_equal(rs->count, 1);
	assert_int_equal(rs->rdata_len, 2 + len);
	assert_int_equal((size_t)rs->rdata[0] << 8 | rs->rdata[1], len);
	assert_memory_equal(rs->rdata + 2, want, len);
}

/* ---- fixture ------------------------------------------------------------ */

static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	if (sp_key_generate(SP_ROLE_KSK, NOW - 30 * DAY, sp_platform_rng(), &F.ksk) != SP_OK ||
	    sp_key_generate(SP_ROLE_ZSK, NOW - 30 * DAY, sp_platform_rng(), &F.zsk) != SP_OK ||
	    sp_key_generate(SP_ROLE_DEVICE, NOW - 30 * DAY, sp_platform_rng(), &F.self) != SP_OK ||
	    sp_key_generate(SP_ROLE_DEVICE, NOW - 20 * DAY, sp_platform_rng(), &F.phone) != SP_OK ||
	    sp_key_generate(SP_ROLE_DEVICE, NOW - 10 * DAY, sp_platform_rng(), &F.laptop) != SP_OK)
		return -1;
	snprintf(F.cloud.zone, sizeof(F.cloud.zone), "alice.example.");
	snprintf(F.cloud.name, sizeof(F.cloud.name), "gw");
	F.cloud.role = SP_NODE_GATEWAY;
	F.cloud.created = NOW - 30 * DAY;
	sp_ula_prefix(F.cloud.zone, sp_key_info_of(F.ksk)->pub, F.cloud.prefix);

	snprintf(F.devs[0].name, sizeof(F.devs[0].name), "phone");
	memcpy(F.devs[0].pub, sp_key_info_of(F.phone)->pub, SP_KEY_PUBLIC_BYTES);
	F.devs[0].sshfp[0].algorithm = 4;
	F.devs[0].sshfp[0].fp_type = 2;
	for (int i = 0; i < 32; i++)
		F.devs[0].sshfp[0].fp[i] = (uint8_t)(0xa0 + i);
	F.devs[0].nsshfp = 1;
	snprintf(F.devs[1].name, sizeof(F.devs[1].name), "laptop");
	memcpy(F.devs[1].pub, sp_key_info_of(F.laptop)->pub, SP_KEY_PUBLIC_BYTES);

	sp_zone_config_default(&F.cfg);
	sp_key *keys[] = { F.ksk, F.zsk, F.self };
	return build(F.devs, 2, keys, 3, SERIAL, NOW, NULL, &F.zone) == SP_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	sp_zone_free(F.zone);
	sp_key_free(F.ksk);
	sp_key_free(F.zsk);
	sp_key_free(F.self);
	sp_key_free(F.phone);
	sp_key_free(F.laptop);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_nodes_and_find(void **state)
{
	static const char *names[] = {
		"alice.example.", "gw.alice.example.", "laptop.alice.example.",
		"phone.alice.example.",
	};
	uint8_t n[SP_DNAME_MAX];
	size_t len;

	(void)state;
	/* Canonical order, apex first. */
	assert_int_equal(sp_zone_node_count(F.zone), 4);
	for (size_t i = 0; i < 4; i++) {
		char text[1024];
		const sp_node *node = sp_zone_node(F.zone, i);
		sp_dname_to_text(node->name, text, sizeof(text));
		assert_string_equal(text, names[i]);
		assert_ptr_equal(node_at(F.zone, names[i]), node);
	}
	assert_null(node_at(F.zone, "tablet.alice.example."));
	assert_null(node_at(F.zone, "example."));
	assert_null(node_at(F.zone, "x.phone.alice.example."));
	assert_null(node_at(F.zone, "alice.example.org."));
	/* Lookups are exact on lowercase wire: an uppercase name is absent. */
	memcpy(n, "\5PHONE\5alice\7example", 21);
	len = 21;
	assert_null(sp_zone_find(F.zone, n, len));

	assert_int_equal(sp_zone_serial(F.zone), SERIAL);
	assert_int_equal(sp_zone_neg_ttl(F.zone), 300);   /* min(3600, minimum 300) */
	assert_ptr_equal(sp_zone_zsk(F.zone), F.zsk);
	assert_int_equal(sp_zone_signed_count(F.zone), ZONE_SIGNATURES);
}

static void
test_every_signature_verifies(void **state)
{
	(void)state;
	verify_zone(F.zone, NOW);
	/* The oracle can say no: outside the validity window ... */
	{
		const sp_node *n = node_at(F.zone, "phone.alice.example.");
		const sp_rrset *rs = sp_node_rrset(n, SP_T_AAAA);
		ldns_rr_list *keys = dnskeys(F.zone);
		ldns_rr_list *rrs = rrset_list(n->name, n->name_len, rs, 0);
		ldns_rr_list *sigs = rrset_list(n->name, n->name_len, rs, 1);
		ldns_rr *sig = ldns_rr_list_rr(sigs, 0);

		assert_int_equal(ldns_verify_rrsig_keylist_time(rrs, sig, keys,
		    NOW - 2 * 3600, NULL), LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED);
		assert_int_equal(ldns_verify_rrsig_keylist_time(rrs, sig, keys,
		    NOW + 16 * DAY, NULL), LDNS_STATUS_CRYPTO_SIG_EXPIRED);
		/* ... and for altered data. */
		ldns_rdf *addr = ldns_rr_rdf(ldns_rr_list_rr(rrs, 0), 0);
		ldns_rdf_data(addr)[15] ^= 1;
		assert_int_not_equal(ldns_verify_rrsig_keylist_time(rrs, sig, keys, NOW, NULL),
		    LDNS_STATUS_OK);
		ldns_rr_list_deep_free(sigs);
		ldns_rr_list_deep_free(rrs);
		ldns_rr_list_deep_free(keys);
	}
}

static void
test_signature_windows(void **state)
{
	const sp_sign_policy *p = sp_zone_policy(F.zone);
	uint32_t earliest = UINT32_MAX;

	(void)state;
	for (size_t i = 0; i < sp_zone_node_count(F.zone); i++) {
		const sp_node *n = sp_zone_node(F.zone, i);
		for (size_t k = 0; k <= n->nrrsets; k++) {
			const sp_rrset *rs = k < n->nrrsets ? &n->rrsets[k] : &n->nsec;
			const uint8_t *sig = rs->rrsig + 2;
			uint32_t exp = (uint32_t)sig[8] << 24 | (uint32_t)sig[9] << 16 |
			    (uint32_t)sig[10] << 8 | sig[11];
			uint32_t inc = (uint32_t)sig[12] << 24 | (uint32_t)sig[13] << 16 |
			    (uint32_t)sig[14] << 8 | sig[15];
			assert_int_equal(inc, NOW - 3600);
			assert_true(exp >= NOW + 14 * DAY && exp < NOW + 15 * DAY);
			assert_int_equal(rs->sig_refresh, exp - p->refresh);
			if (rs->sig_refresh < earliest)
				earliest = rs->sig_refresh;
		}
	}
	assert_int_equal(sp_zone_next_refresh(F.zone), earliest);
}

static void
test_key_rrsets(void **state)
{
	const sp_rrset *dk = rrset_at(F.zone, "alice.example.", SP_T_DNSKEY);
	const sp_rrset *cds = rrset_at(F.zone, "alice.example.", SP_T_CDS);
	const sp_rrset *cdnskey = rrset_at(F.zone, "alice.example.", SP_T_CDNSKEY);
	uint8_t ksk_rd[SP_DNSKEY_RDATA_BYTES], zsk_rd[SP_DNSKEY_RDATA_BYTES];
	ldns_rr_list *keys;
	ldns_rr *ksk_rr = NULL, *ds;

	(void)state;
	/* The DNSKEY RRset holds the KSK (257) and the ZSK (256), not the
	 * device key. */
	assert_non_null(dk);
	assert_int_equal(dk->count, 2);
	assert_int_equal(dk->ttl, 3600);
	sp_dnskey_rdata(257, sp_key_info_of(F.ksk)->pub, ksk_rd);
	sp_dnskey_rdata(256, sp_key_info_of(F.zsk)->pub, zsk_rd);
	keys = dnskeys(F.zone);
	for (size_t i = 0; i < 2; i++) {
		ldns_rr *k = ldns_rr_list_rr(keys, i);
		uint16_t flags = ldns_rdf2native_int16(ldns_rr_dnskey_flags(k));
		assert_int_equal(ldns_rdf2native_int8(ldns_rr_dnskey_algorithm(k)), 15);
		if (flags == 257) {
			assert_int_equal(ldns_calc_keytag(k), tag_of(F.ksk));
			ksk_rr = k;
		} else {
			assert_int_equal(flags, 256);
			assert_int_equal(ldns_calc_keytag(k), tag_of(F.zsk));
		}
	}
	assert_non_null(ksk_rr);

	/* CDS: exactly what ldns computes as the SHA-256 DS of the KSK. */
	ds = ldns_key_rr2ds(ksk_rr, LDNS_SHA256);
	assert_non_null(ds);
	assert_int_equal(cds->count, 1);
	assert_int_equal(cds->ttl, 3600);
	{
		uint8_t want[4 + 32];
		size_t o = 0;
		for (size_t i = 0; i < ldns_rr_rd_count(ds); i++) {
			ldns_rdf *f = ldns_rr_rdf(ds, i);
			assert_true(o + ldns_rdf_size(f) <= sizeof(want));
			memcpy(want + o, ldns_rdf_data(f), ldns_rdf_size(f));
			o += ldns_rdf_size(f);
		}
		assert_int_equal(o, sizeof(want));
		rdata_single(cds, want, sizeof(want));
		assert_int_equal((want[0] << 8 | want[1]), tag_of(F.ksk));
		assert_int_equal(want[2], 15);
		assert_int_equal(want[3], 2);
	}
	ldns_rr_free(ds);
	/* CDNSKEY: the KSK's DNSKEY. */
	rdata_single(cdnskey, ksk_rd, sizeof(ksk_rd));
	ldns_rr_list_deep_free(keys);
}

static void
test_apex_records(void **state)
{
	const sp_rrset *soa = rrset_at(F.zone, "alice.example.", SP_T_SOA);
	const sp_rrset *ns = rrset_at(F.zone, "alice.example.", SP_T_NS);
	static const uint8_t want_soa[] =
	    "\5alice\7example\0"
	    "\12hostmaster\5alice\7example\0"
	    "\x78\x96\x3a\xe9"          /* serial 2023111401 */
	    "\0\0\x0e\x10"              /* refresh 3600 */
	    "\0\0\x02\x58"              /* retry 600 */
	    "\0\x12\x75\0"              /* expire 1209600 */
	    "\0\0\x01\x2c";             /* minimum 300 */

	(void)state;
	assert_int_equal(soa->ttl, 3600);
	rdata_single(soa, want_soa, sizeof(want_soa) - 1);
	assert_int_equal(ns->ttl, 3600);
	rdata_single(ns, (const uint8_t *)"\5alice\7example", 15);
	/* No A/AAAA configured for the apex. */
	assert_null(rrset_at(F.zone, "alice.example.", SP_T_A));
	assert_null(rrset_at(F.zone, "alice.example.", SP_T_AAAA));
	assert_int_equal(node_at(F.zone, "alice.example.")->nrrsets, 5);
}

static void
test_device_records(void **state)
{
	static const struct { const char *name; int dev; } devs[] = {
		{ "gw.alice.example.", -1 },
		{ "phone.alice.example.", 0 },
		{ "laptop.alice.example.", 1 },
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		const uint8_t *pub = devs[i].dev < 0 ? sp_key_info_of(F.self)->pub :
		    F.devs[devs[i].dev].pub;
		const sp_node *n = node_at(F.zone, devs[i].name);
		uint8_t addr[16], ipseckey[3 + 32];

		assert_non_null(n);
		sp_ula_device(F.cloud.prefix, pub, addr);
		assert_int_equal(addr[0], 0xfd);
		assert_memory_equal(addr, F.cloud.prefix, 6);
		rdata_single(sp_node_rrset(n, SP_T_AAAA), addr, 16);
		assert_int_equal(sp_node_rrset(n, SP_T_AAAA)->ttl, 300);

		ipseckey[0] = 10;
		ipseckey[1] = 0;
		ipseckey[2] = 4;
		memcpy(ipseckey + 3, pub, 32);
		rdata_single(sp_node_rrset(n, SP_T_IPSECKEY), ipseckey, sizeof(ipseckey));
		assert_int_equal(sp_node_rrset(n, SP_T_IPSECKEY)->ttl, 300);

		if (devs[i].dev == 0) {
			uint8_t fp[34];
			fp[0] = 4;
			fp[1] = 2;
			memcpy(fp + 2, F.devs[0].sshfp[0].fp, 32);
			rdata_single(sp_node_rrset(n, SP_T_SSHFP), fp, sizeof(fp));
			assert_int_equal(n->nrrsets, 3);
		} else {
			assert_null(sp_node_rrset(n, SP_T_SSHFP));
			assert_int_equal(n->nrrsets, 2);
		}
	}
	/* ldns reads the IPSECKEY as precedence 10, no gateway, algorithm 4. */
	{
		const sp_node *n = node_at(F.zone, "phone.alice.example.");
		ldns_rr_list *l = rrset_list(n->name, n->name_len,
		    sp_node_rrset(n, SP_T_IPSECKEY), 0);
		char want[128], b64[64], *s = ldns_rr2str(ldns_rr_list_rr(l, 0));
		sodium_bin2base64(b64, sizeof(b64), F.devs[0].pub, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(want, sizeof(want), "\t300\tIN\tIPSECKEY\t10 0 4 . %s\n", b64);
		assert_non_null(strstr(s, want));
		free(s);
		ldns_rr_list_deep_free(l);
	}
}

/* The set bits of an NSEC bitmap, by ldns, for every type 0..65535. */
static void
expect_bitmap(const sp_zone *z, const sp_node *n, const uint16_t *want, size_t nwant)
{
	ldns_rr_list *l = rrset_list(n->name, n->name_len, &n->nsec, 0);
	ldns_rr *nsec = ldns_rr_list_rr(l, 0);
	ldns_rdf *bitmap = ldns_rr_rdf(nsec, 1);
	ldns_rdf *owner = ldns_dname_new_frm_data((uint16_t)n->name_len, n->name);
	ldns_rdf *zero = ldns_dname_new_frm_str("\\000");
	ldns_rdf *next = ldns_dname_cat_clone(zero, owner);

	assert_int_equal(n->nsec.count, 1);
	assert_int_equal(n->nsec.ttl, sp_zone_neg_ttl(z));
	assert_int_equal(ldns_dname_compare(ldns_rr_rdf(nsec, 0), next), 0);
	for (uint32_t t = 0; t < 65536; t++) {
		int in = 0;
		for (size_t i = 0; i < nwant; i++)
			in |= want[i] == t;
		if (ldns_nsec_bitmap_covers_type(bitmap, (ldns_rr_type)t) != (in != 0))
			fail_msg("type %u: bitmap says %d", t, !in);
	}
	ldns_rdf_deep_free(next);
	ldns_rdf_deep_free(zero);
	ldns_rdf_deep_free(owner);
	ldns_rr_list_deep_free(l);
}

static void
test_nsec_bitmaps(void **state)
{
	static const uint16_t apex[] = { SP_T_SOA, SP_T_NS, SP_T_DNSKEY, SP_T_CDS,
	    SP_T_CDNSKEY, SP_T_RRSIG, SP_T_NSEC };
	static const uint16_t phone[] = { SP_T_AAAA, SP_T_IPSECKEY, SP_T_SSHFP,
	    SP_T_RRSIG, SP_T_NSEC };
	static const uint16_t plain[] = { SP_T_AAAA, SP_T_IPSECKEY, SP_T_RRSIG, SP_T_NSEC };

	(void)state;
	expect_bitmap(F.zone, node_at(F.zone, "alice.example."), apex, 7);
	expect_bitmap(F.zone, node_at(F.zone, "phone.alice.example."), phone, 5);
	expect_bitmap(F.zone, node_at(F.zone, "laptop.alice.example."), plain, 4);
	expect_bitmap(F.zone, node_at(F.zone, "gw.alice.example."), plain, 4);
}

static void
test_reuse_when_nothing_changed(void **state)
{
	sp_zone *z = build_default(SERIAL, NOW + 3600, F.zone);

	(void)state;
	assert_int_equal(sp_zone_signed_count(z), 0);
	assert_int_equal(changed_sigs(z, F.zone), 0);
	assert_int_equal(sp_zone_next_refresh(z), sp_zone_next_refresh(F.zone));
	verify_zone(z, NOW + 3600);
	/* Reuse chains: a third build from the second reuses again. */
	sp_zone *z3 = build_default(SERIAL, NOW + 7200, z);
	assert_int_equal(sp_zone_signed_count(z3), 0);
	assert_int_equal(changed_sigs(z3, F.zone), 0);
	sp_zone_free(z3);
	sp_zone_free(z);
}

static void
test_one_device_changed(void **state)
{
	sp_device devs[2];
	sp_key *newkey;
	sp_zone *z;

	(void)state;
	/* laptop gets a new key and an SSHFP: its AAAA, IPSECKEY, new SSHFP
	 * and its NSEC (the bitmap gains SSHFP) change, and so does the SOA
	 * (new serial). Nothing else. */
	assert_int_equal(sp_key_generate(SP_ROLE_DEVICE, NOW, sp_platform_rng(), &newkey), SP_OK);
	memcpy(devs, F.devs, sizeof(devs));
	memcpy(devs[1].pub, sp_key_info_of(newkey)->pub, SP_KEY_PUBLIC_BYTES);
	devs[1].sshfp[0].algorithm = 4;
	devs[1].sshfp[0].fp_type = 2;
	memset(devs[1].sshfp[0].fp, 0x55, 32);
	devs[1].nsshfp = 1;
	{
		sp_key *keys[] = { F.ksk, F.zsk, F.self };
		assert_int_equal(build(devs, 2, keys, 3, SERIAL + 1, NOW + 3600, F.zone, &z), SP_OK);
	}
	/* ... and the name's NSEC3, whose type bitmap gained SSHFP. */
	assert_int_equal(sp_zone_signed_count(z), 6);
	assert_int_equal(changed_sigs(z, F.zone), 6);
	assert_false(same_sigs(rrset_at(z, "alice.example.", SP_T_SOA),
	    rrset_at(F.zone, "alice.example.", SP_T_SOA)));
	assert_false(same_sigs(rrset_at(z, "laptop.alice.example.", SP_T_AAAA),
	    rrset_at(F.zone, "laptop.alice.example.", SP_T_AAAA)));
	assert_false(same_sigs(rrset_at(z, "laptop.alice.example.", SP_T_IPSECKEY),
	    rrset_at(F.zone, "laptop.alice.example.", SP_T_IPSECKEY)));
	assert_false(same_sigs(rrset_at(z, "laptop.alice.example.", SP_T_NSEC),
	    rrset_at(F.zone, "laptop.alice.example.", SP_T_NSEC)));
	assert_non_null(rrset_at(z, "laptop.alice.example.", SP_T_SSHFP));
	assert_true(same_sigs(rrset_at(z, "phone.alice.example.", SP_T_AAAA),
	    rrset_at(F.zone, "phone.alice.example.", SP_T_AAAA)));
	assert_true(same_sigs(rrset_at(z, "alice.example.", SP_T_NSEC),
	    rrset_at(F.zone, "alice.example.", SP_T_NSEC)));
	verify_zone(z, NOW + 3600);
	sp_zone_free(z);

	/* A new serial alone re-signs the SOA only. */
	z = build_default(SERIAL + 1, NOW + 3600, F.zone);
	assert_int_equal(sp_zone_signed_count(z), 1);
	assert_int_equal(changed_sigs(z, F.zone), 1);
	sp_zone_free(z);

	/* Removing a device re-signs only the SOA; the node is gone. */
	{
		sp_key *keys[] = { F.ksk, F.zsk, F.self };
		assert_int_equal(build(F.devs, 1, keys, 3, SERIAL + 1, NOW + 3600, F.zone, &z),
		    SP_OK);
	}
	/* ... and the NSEC3 before it in hash order, whose next hash changed. */
	assert_int_equal(sp_zone_signed_count(z), 2);
	assert_null(node_at(z, "laptop.alice.example."));
	assert_int_equal(sp_zone_node_count(z), 3);
	sp_zone_free(z);
	sp_key_free(newkey);
}

static void
test_refresh_resigns_everything(void **state)
{
	sp_zone *z;

	(void)state;
	/* One second before the earliest refresh nothing is due ... */
	z = build_default(SERIAL, (int64_t)sp_zone_next_refresh(F.zone) - 1, F.zone);
	assert_int_equal(sp_zone_signed_count(z), 0);
	sp_zone_free(z);
	/* ... at it, at least one signature is, and only the due ones ... */
	z = build_default(SERIAL, sp_zone_next_refresh(F.zone), F.zone);
	assert_true(sp_zone_signed_count(z) >= 1);
	assert_true(sp_zone_signed_count(z) < ZONE_SIGNATURES);
	assert_int_equal(changed_sigs(z, F.zone), sp_zone_signed_count(z));
	sp_zone_free(z);
	/* ... and past every refresh time (7 days + up to 1 day of jitter),
	 * all of them. */
	z = build_default(SERIAL, NOW + 8 * DAY, F.zone);
	assert_int_equal(sp_zone_signed_count(z), ZONE_SIGNATURES);
	assert_int_equal(changed_sigs(z, F.zone), ZONE_SIGNATURES);
	verify_zone(z, NOW + 8 * DAY);
	sp_zone_free(z);
}

static void
test_zsk_rollover_resigns_zsk_data(void **state)
{
	sp_key *zsk2, *keys[4];
	sp_zone *z;

	(void)state;
	/* A newer active ZSK takes over signing. The DNSKEY RRset gains it, so
	 * it is re-signed; CDS and CDNSKEY keep their KSK signatures. */
	assert_int_equal(sp_key_generate(SP_ROLE_ZSK, NOW, sp_platform_rng(), &zsk2), SP_OK);
	keys[0] = F.ksk;
	keys[1] = F.zsk;
	keys[2] = F.self;
	keys[3] = zsk2;
	assert_int_equal(build(F.devs, 2, keys, 4, SERIAL, NOW + 3600, F.zone, &z), SP_OK);
	assert_ptr_equal(sp_zone_zsk(z), zsk2);
	assert_int_equal(sp_zone_signed_count(z), ZONE_SIGNATURES - 2);
	assert_int_equal(rrset_at(z, "alice.example.", SP_T_DNSKEY)->count, 3);
	assert_true(same_sigs(rrset_at(z, "alice.example.", SP_T_CDS),
	    rrset_at(F.zone, "alice.example.", SP_T_CDS)));
	verify_rrset(z, node_at(z, "phone.alice.example."),
	    rrset_at(z, "phone.alice.example.", SP_T_AAAA), tag_of(zsk2), NOW + 3600);
	verify_rrset(z, node_at(z, "alice.example."),
	    rrset_at(z, "alice.example.", SP_T_DNSKEY), tag_of(F.ksk), NOW + 3600);
	sp_zone_free(z);
	sp_key_free(zsk2);
}

static void
test_build_errors(void **state)
{
	sp_key *keys[] = { F.ksk, F.self };
	sp_zone *z = NULL;
	sp_errmsg e;

	(void)state;
	/* No ZSK. */
	assert_int_equal(build(F.devs, 2, keys, 2, SERIAL, NOW, NULL, &z), SP_EINVAL);
	assert_null(z);
	/* A device label of 63 bytes is a name; an empty one is refused. */
	{
		sp_device bad = F.devs[0];
		sp_key *k3[] = { F.ksk, F.zsk, F.self };
		memset(bad.name, 'a', 63);
		bad.name[63] = '\0';
		assert_int_equal(build(&bad, 1, k3, 3, SERIAL, NOW, NULL, &z), SP_OK);
		sp_zone_free(z);
		z = NULL;
		bad.name[0] = '\0';
		assert_int_equal(sp_zone_build(&F.cloud, k3, 3, &bad, 1, &F.cfg, SERIAL, NOW,
		    NULL, &z, &e), SP_EINVAL);
		assert_null(z);
	}
}

/* ---- the builder directly: empty non-terminals -------------------------- */

static void
add_text(sp_zone_builder *b, const char *owner, uint16_t type, uint32_t ttl,
    const void *rd, size_t len)
{
	uint8_t n[SP_DNAME_MAX];
	size_t nl;

	dname(owner, n, &nl);
	assert_int_equal(sp_zone_add(b, n, nl, type, ttl, rd, len), SP_OK);
}

static sp_zone_builder *
small_builder(void)
{
	static const uint8_t soa[] =
	    "\5alice\7example\0" "\12hostmaster\5alice\7example\0"
	    "\0\0\0\1" "\0\0\x0e\x10" "\0\0\x02\x58" "\0\x12\x75\0" "\0\0\0\x3c";
	uint8_t apex[SP_DNAME_MAX], dk[SP_DNSKEY_RDATA_BYTES];
	size_t al;
	sp_zone_builder *b;

	dname("alice.example.", apex, &al);
	assert_int_equal(sp_zone_builder_new(apex, al, &b), SP_OK);
	add_text(b, "alice.example.", SP_T_SOA, 3600, soa, sizeof(soa) - 1);
	add_text(b, "alice.example.", SP_T_NS, 3600, apex, al);
	sp_dnskey_rdata(257, sp_key_info_of(F.ksk)->pub, dk);
	add_text(b, "alice.example.", SP_T_DNSKEY, 3600, dk, sizeof(dk));
	sp_dnskey_rdata(256, sp_key_info_of(F.zsk)->pub, dk);
	add_text(b, "alice.example.", SP_T_DNSKEY, 3600, dk, sizeof(dk));
	return b;
}

static sp_zone *
ent_zone(void)
{
	static const uint8_t aaaa[16] = { 0xfd, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
	uint8_t tlsa[3 + 32];
	const sp_key *ksk[1] = { F.ksk };
	sp_zone_signers s = { F.zsk, ksk, 1 };
	sp_sign_policy pol;
	sp_zone_builder *b = small_builder();
	sp_zone *z = NULL;

	tlsa[0] = 3;
	tlsa[1] = 1;
	tlsa[2] = 1;
	memset(tlsa + 3, 0x77, 32);
	add_text(b, "phone.alice.example.", SP_T_AAAA, 300, aaaa, 16);
	add_text(b, "phone.alice.example.", SP_T_AAAA, 300, aaaa, 16);   /* duplicate */
	add_text(b, "_443._tcp.phone.alice.example.", SP_T_TLSA, 300, tlsa, sizeof(tlsa));
	sp_sign_policy_default(&pol);
	assert_int_equal(sp_zone_finish(b, &s, &pol, NOW, NULL, &z), SP_OK);
	return z;
}

static void
test_empty_nonterminal(void **state)
{
	static const char *names[] = {
		"alice.example.", "phone.alice.example.", "_tcp.phone.alice.example.",
		"_443._tcp.phone.alice.example.",
	};
	static const uint16_t ent_types[] = { SP_T_RRSIG, SP_T_NSEC };
	static const uint16_t tlsa_types[] = { SP_T_TLSA, SP_T_RRSIG, SP_T_NSEC };
	sp_zone *z = ent_zone();
	const sp_node *ent;

	(void)state;
	assert_int_equal(sp_zone_node_count(z), 4);
	for (size_t i = 0; i < 4; i++) {
		char text[1024];
		sp_dname_to_text(sp_zone_node(z, i)->name, text, sizeof(text));
		assert_string_equal(text, names[i]);
		assert_ptr_equal(node_at(z, names[i]), sp_zone_node(z, i));
	}
	ent = node_at(z, "_tcp.phone.alice.example.");
	assert_non_null(ent);
	assert_int_equal(ent->nrrsets, 0);
	expect_bitmap(z, ent, ent_types, 2);
	verify_rrset(z, ent, &ent->nsec, tag_of(F.zsk), NOW);
	expect_bitmap(z, node_at(z, "_443._tcp.phone.alice.example."), tlsa_types, 3);
	/* The duplicate AAAA was merged away. */
	assert_int_equal(rrset_at(z, "phone.alice.example.", SP_T_AAAA)->count, 1);
	assert_int_equal(sp_zone_neg_ttl(z), 60);
	/* SOA, NS and DNSKEY at the apex, AAAA, TLSA, four NSECs, and the
	 * chain: NSEC3PARAM and four NSEC3s. */
	assert_int_equal(sp_zone_signed_count(z), 9 + 5);
	assert_null(node_at(z, "_udp.phone.alice.example."));
	assert_null(node_at(z, "tcp.phone.alice.example."));
	sp_zone_free(z);
}

static void
test_builder_errors(void **state)
{
	static const uint8_t a4[4] = { 192, 0, 2, 1 };
	const sp_key *ksk[1] = { F.ksk };
	sp_zone_signers s = { F.zsk, ksk, 1 };
	uint8_t apex[SP_DNAME_MAX], n[SP_DNAME_MAX];
	size_t al, nl;
	sp_sign_policy pol;
	sp_zone_builder *b;
	sp_zone *z = NULL;

	(void)state;
	sp_sign_policy_default(&pol);
	dname("alice.example.", apex, &al);
	assert_int_equal(sp_zone_builder_new(apex, al - 1, &b), SP_EINVAL);
	assert_int_equal(sp_zone_builder_new(apex, al, &b), SP_OK);
	dname("bob.example.", n, &nl);
	assert_int_equal(sp_zone_add(b, n, nl, SP_T_A, 300, a4, 4), SP_EINVAL);
	dname("xalice.example.", n, &nl);
	assert_int_equal(sp_zone_add(b, n, nl, SP_T_A, 300, a4, 4), SP_EINVAL);
	dname("a.alice.example.", n, &nl);
	assert_int_equal(sp_zone_add(b, n, nl, SP_T_RRSIG, 300, a4, 4), SP_EINVAL);
	assert_int_equal(sp_zone_add(b, n, nl, SP_T_NSEC, 300, a4, 4), SP_EINVAL);
	/* Nothing at all: no SOA. */
	assert_int_equal(sp_zone_finish(b, &s, &pol, NOW, NULL, &z), SP_EINVAL);
	assert_null(z);
	/* Records but no SOA. */
	assert_int_equal(sp_zone_builder_new(apex, al, &b), SP_OK);
	assert_int_equal(sp_zone_add(b, n, nl, SP_T_A, 300, a4, 4), SP_OK);
	assert_int_equal(sp_zone_finish(b, &s, &pol, NOW, NULL, &z), SP_EINVAL);
	assert_null(z);
	/* An uppercase owner is stored lowercase. */
	b = small_builder();
	assert_int_equal(sp_zone_add(b, (const uint8_t *)"\2AB\5Alice\7EXAMPLE", 18, SP_T_A, 300,
	    a4, 4), SP_OK);
	assert_int_equal(sp_zone_finish(b, &s, &pol, NOW, NULL, &z), SP_OK);
	assert_non_null(node_at(z, "ab.alice.example."));
	sp_zone_free(z);
	sp_zone_builder_free(NULL);
	sp_zone_free(NULL);
}

/* ---- the transfer form -------------------------------------------------- */

/* ldns-verify-zone's exit status; expect_bad silences its complaints. */
static int
verify_zone_file(const char *text, size_t len, int64_t at, int expect_bad)
{
	char path[] = "/tmp/test_zone_XXXXXX", cmd[256], when[32];
	struct tm tm;
	time_t t = (time_t)at;
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm);
	snprintf(cmd, sizeof(cmd), "ldns-verify-zone -V 1 -t %s %s >/dev/null%s", when, path,
	    expect_bad ? " 2>&1" : "");
	rc = system(cmd);
	unlink(path);
	return rc;
}

static void
count_types(const char *text, size_t len, size_t counts[256])
{
	FILE *f = fmemopen((void *)(uintptr_t)text, len, "r");
	ldns_zone *zone = NULL;
	int line = 0;

	assert_non_null(f);
	assert_int_equal(ldns_zone_new_frm_fp_l(&zone, f, NULL, 0, LDNS_RR_CLASS_IN, &line),
	    LDNS_STATUS_OK);
	fclose(f);
	memset(counts, 0, 256 * sizeof(counts[0]));
	counts[SP_T_SOA] = ldns_zone_soa(zone) != NULL;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(zone)); i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(ldns_zone_rrs(zone), i));
		if (t < 256)
			counts[t]++;
	}
	ldns_zone_deep_free(zone);
}

static void
test_xfr_text_verifies(void **state)
{
	size_t counts[256], len;
	char *text;

	(void)state;
	assert_int_equal(sp_xfr_text(F.zone, &text, &len), SP_OK);
	assert_int_equal(strlen(text), len);
	assert_int_equal(verify_zone_file(text, len, NOW, 0), 0);
	/* Signed at NOW: not yet valid an hour and a second before. */
	assert_int_not_equal(verify_zone_file(text, len, NOW - 3601, 1), 0);

	count_types(text, len, counts);
	assert_int_equal(counts[SP_T_SOA], 1);
	assert_int_equal(counts[SP_T_NSEC3], 4);
	assert_int_equal(counts[SP_T_NSEC3PARAM], 1);
	assert_int_equal(counts[SP_T_NSEC], 0);
	assert_int_equal(counts[SP_T_DNSKEY], 2);
	assert_int_equal(counts[SP_T_AAAA], 3);
	assert_int_equal(counts[SP_T_IPSECKEY], 3);
	assert_int_equal(counts[SP_T_SSHFP], 1);
	/* One RRSIG for each of the 12 RRsets, NSEC3PARAM and 4 NSEC3. */
	assert_int_equal(counts[SP_T_RRSIG], 12 + 1 + 4);

	/* Changing one address breaks the zone for the oracle. */
	char *p = strstr(text, "\tAAAA\tfd");
	assert_non_null(p);
	p += strlen("\tAAAA\tfd");
	*p = *p == '0' ? '1' : '0';
	assert_int_not_equal(verify_zone_file(text, len, NOW, 1), 0);
	free(text);

	/* The NSEC3 chain covers the empty non-terminal too. */
	sp_zone *z = ent_zone();
	assert_int_equal(sp_xfr_text(z, &text, &len), SP_OK);
	assert_int_equal(verify_zone_file(text, len, NOW, 0), 0);
	count_types(text, len, counts);
	assert_int_equal(counts[SP_T_NSEC3], 4);
	free(text);
	sp_zone_free(z);
}

static void
test_xfr_walk_soa_first_and_last(void **state)
{
	sp_xfr_iter it;
	sp_xfr_rr rr;
	size_t n = 0;
	uint16_t last = 0;

	(void)state;
	sp_xfr_begin(&it, F.zone);
	while (sp_xfr_next(&it, &rr)) {
		if (n++ == 0)
			assert_int_equal(rr.type, SP_T_SOA);
		last = rr.type;
	}
	assert_int_equal(last, SP_T_SOA);
	/* 13 RRs in 12 RRsets with one RRSIG each, NSEC3PARAM and 4 NSEC3
	 * with their RRSIGs, and the closing SOA. */
	assert_int_equal(n, 13 + 12 + 2 + 8 + 1);
	/* Once at the end, it stays there. */
	assert_int_equal(sp_xfr_next(&it, &rr), 0);
}

/* The NSEC3 chain is signed with the snapshot, and a rebuild with one
 * device more re-signs only the records whose data changed: the new
 * name's NSEC3 and its predecessor's (whose next-hash changed). */
static void
test_nsec3_chain_reuses_signatures(void **state)
{
	sp_zone *z;
	sp_device devs[3];
	size_t same = 0;

	(void)state;
	memcpy(devs, F.devs, sizeof(F.devs));
	memset(&devs[2], 0, sizeof(devs[2]));
	snprintf(devs[2].name, sizeof(devs[2].name), "tablet");
	memcpy(devs[2].pub, sp_key_info_of(F.laptop)->pub, 32);
	sp_key *keys[] = { F.ksk, F.zsk, F.self };
	assert_int_equal(build(devs, 3, keys, 3, 2, NOW + 60, F.zone, &z), SP_OK);
	assert_int_equal(sp_zone_nsec3_count(z), sp_zone_node_count(z));
	assert_int_equal(sp_zone_nsec3_count(z), sp_zone_nsec3_count(F.zone) + 1);
	for (size_t i = 0; i < sp_zone_nsec3_count(z); i++) {
		const sp_nsec3 *a = sp_zone_nsec3(z, i);
		for (size_t k = 0; k < sp_zone_nsec3_count(F.zone); k++) {
			const sp_nsec3 *b = sp_zone_nsec3(F.zone, k);
			if (a->owner_len == b->owner_len &&
			    memcmp(a->owner, b->owner, a->owner_len) == 0 &&
			    a->rrset.rrsig_len == b->rrset.rrsig_len &&
			    memcmp(a->rrset.rrsig, b->rrset.rrsig, a->rrset.rrsig_len) == 0)
				same++;
		}
	}
	/* Of the old chain, all but the predecessor keep their signatures. */
	assert_int_equal(same, sp_zone_nsec3_count(F.zone) - 1);
	sp_zone_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nodes_and_find),
		cmocka_unit_test(test_every_signature_verifies),
		cmocka_unit_test(test_signature_windows),
		cmocka_unit_test(test_key_rrsets),
		cmocka_unit_test(test_apex_records),
		cmocka_unit_test(test_device_records),
		cmocka_unit_test(test_nsec_bitmaps),
		cmocka_unit_test(test_reuse_when_nothing_changed),
		cmocka_unit_test(test_one_device_changed),
		cmocka_unit_test(test_refresh_resigns_everything),
		cmocka_unit_test(test_zsk_rollover_resigns_zsk_data),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_empty_nonterminal),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_xfr_text_verifies),
		cmocka_unit_test(test_xfr_walk_soa_first_and_last),
		cmocka_unit_test(test_nsec3_chain_reuses_signatures),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
