/* The zone as transfers carry it (see sp_xfr.h). */
#define _GNU_SOURCE
#include "sp_xfr.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSEC3_HASH_LEN 20

struct hashed {
	uint8_t hash[NSEC3_HASH_LEN];
	const sp_node *node;
};

static int
cmp_hashed(const void *a, const void *b)
{
	return memcmp(((const struct hashed *)a)->hash, ((const struct hashed *)b)->hash,
	    NSEC3_HASH_LEN);
}

/* RFC 5155 hash with no salt and no extra iterations: SHA-1 of the name. */
static int
nsec3_hash(const uint8_t *name, size_t len, uint8_t out[NSEC3_HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(name, len, out, &n, EVP_sha1(), NULL) != 1 || n != NSEC3_HASH_LEN)
		return SP_ECRYPTO;
	return SP_OK;
}

/* Base32hex without padding (RFC 4648 section 7), lowercase. */
static size_t
base32hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	size_t o = 0;
	unsigned buf = 0, bits = 0;

	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = digits[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = digits[(buf << (5 - bits)) & 31];
	return o;
}

static int
emit_rrset(const sp_rrset *rs, const uint8_t *owner, size_t owner_len, int sigs,
    sp_xfr_rr_cb cb, void *arg)
{
	sp_wire r = sp_wire_reader(rs->rdata, rs->rdata_len);
	int rc;

	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t len = sp_wire_u16(&r);
		const uint8_t *rd = sp_wire_view(&r, len);
		if (rd == NULL)
			return SP_EINVAL;
		if ((rc = cb(arg, owner, owner_len, rs->type, rs->ttl, rd, len)) != SP_OK)
			return rc;
	}
	if (!sigs)
		return SP_OK;
	r = sp_wire_reader(rs->rrsig, rs->rrsig_len);
	for (uint16_t i = 0; i < rs->nsig; i++) {
		uint16_t len = sp_wire_u16(&r);
		const uint8_t *rd = sp_wire_view(&r, len);
		if (rd == NULL)
			return SP_EINVAL;
		if ((rc = cb(arg, owner, owner_len, SP_T_RRSIG, rs->ttl, rd, len)) != SP_OK)
			return rc;
	}
	return SP_OK;
}

/* Sign one single-RR RRset with the ZSK and emit it with its RRSIG. */
static int
emit_signed(const sp_zone *z, const uint8_t *owner, size_t owner_len, uint16_t type,
    uint32_t ttl, const uint8_t *rdata, size_t rdlen, int64_t now, sp_xfr_rr_cb cb,
    void *arg)
{
	const sp_sign_policy *pol = sp_zone_policy(z);
	uint8_t list[2 + 1024], sig[18 + SP_DNAME_MAX + SP_KEY_SIG_BYTES];
	size_t apex_len, siglen;
	const uint8_t *apex = sp_zone_apex(z, &apex_len);
	int rc;

	if (rdlen > sizeof(list) - 2)
		return SP_EINVAL;
	list[0] = (uint8_t)(rdlen >> 8);
	list[1] = (uint8_t)rdlen;
	memcpy(list + 2, rdata, rdlen);
	rc = sp_sign_rrset(sp_zone_zsk(z), apex, apex_len, owner, owner_len, type, ttl, list,
	    rdlen + 2, 1, (uint32_t)(now - pol->inception_offset),
	    (uint32_t)(now + pol->validity), sig, &siglen);
	if (rc != SP_OK)
		return rc;
	if ((rc = cb(arg, owner, owner_len, type, ttl, rdata, rdlen)) != SP_OK)
		return rc;
	return cb(arg, owner, owner_len, SP_T_RRSIG, ttl, sig, siglen);
}

int
sp_xfr_walk(const sp_zone *z, int64_t now, sp_xfr_rr_cb cb, void *arg)
{
	size_t n = sp_zone_node_count(z), apex_len;
	const uint8_t *apex = sp_zone_apex(z, &apex_len);
	const sp_node *apex_node = sp_zone_node(z, 0);
	const sp_rrset *soa = sp_node_rrset(apex_node, SP_T_SOA);
	static const uint8_t nsec3param[] = { 1, 0, 0, 0, 0 };
	struct hashed *h;
	int rc;

	if (soa == NULL)
		return SP_EINVAL;
	if ((rc = emit_rrset(soa, apex, apex_len, 1, cb, arg)) != SP_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const sp_node *node = sp_zone_node(z, i);
		for (size_t k = 0; k < node->nrrsets; k++) {
			if (node->rrsets[k].type == SP_T_SOA)
				continue;
			rc = emit_rrset(&node->rrsets[k], node->name, node->name_len, 1, cb, arg);
			if (rc != SP_OK)
				return rc;
		}
	}
	rc = emit_signed(z, apex, apex_len, SP_T_NSEC3PARAM, 0, nsec3param,
	    sizeof(nsec3param), now, cb, arg);
	if (rc != SP_OK)
		return rc;

	/* The NSEC3 chain: one record per name, empty non-terminals
	 * included, in hash order, each pointing at the next. */
	if ((h = calloc(n, sizeof(*h))) == NULL)
		return SP_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		h[i].node = sp_zone_node(z, i);
		if ((rc = nsec3_hash(h[i].node->name, h[i].node->name_len, h[i].hash)) != SP_OK)
			goto out;
	}
	qsort(h, n, sizeof(*h), cmp_hashed);
	for (size_t i = 0; i < n; i++) {
		const sp_node *node = h[i].node;
		uint16_t types[70];
		size_t nt = 0, bl;
		uint8_t rd[6 + NSEC3_HASH_LEN + 512], owner[SP_DNAME_MAX];
		char label[40];
		size_t ll;

		for (size_t k = 0; k < node->nrrsets && nt < 64; k++)
			types[nt++] = node->rrsets[k].type;
		if (node->nrrsets > 0)
			types[nt++] = SP_T_RRSIG;
		if (node == apex_node)
			types[nt++] = SP_T_NSEC3PARAM;
		rd[0] = 1;              /* SHA-1 */
		rd[1] = 0;              /* no opt-out */
		rd[2] = rd[3] = 0;      /* 0 iterations */
		rd[4] = 0;              /* no salt */
		rd[5] = NSEC3_HASH_LEN;
		memcpy(rd + 6, h[(i + 1) % n].hash, NSEC3_HASH_LEN);
		bl = nt ? sp_nsec_bitmap(types, nt, rd + 6 + NSEC3_HASH_LEN,
		    sizeof(rd) - 6 - NSEC3_HASH_LEN) : 0;
		ll = base32hex(h[i].hash, NSEC3_HASH_LEN, label);
		owner[0] = (uint8_t)ll;
		memcpy(owner + 1, label, ll);
		memcpy(owner + 1 + ll, apex, apex_len);
		rc = emit_signed(z, owner, 1 + ll + apex_len, SP_T_NSEC3, sp_zone_neg_ttl(z),
		    rd, 6 + NSEC3_HASH_LEN + bl, now, cb, arg);
		if (rc != SP_OK)
			goto out;
	}
	/* RFC 5936: the transfer ends with the SOA again. */
	rc = emit_rrset(soa, apex, apex_len, 0, cb, arg);
out:
	free(h);
	return rc;
}

ldns_rr *
sp_xfr_ldns_rr(const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdlen)
{
	uint8_t buf[SP_DNAME_MAX + 10 + 65535];
	sp_wire w = sp_wire_writer(buf, sizeof(buf));
	ldns_rr *rr = NULL;
	size_t pos = 0;

	sp_wire_put(&w, owner, owner_len);
	sp_wire_put_u16(&w, type);
	sp_wire_put_u16(&w, SP_C_IN);
	sp_wire_put_u32(&w, ttl);
	sp_wire_put_u16(&w, (uint16_t)rdlen);
	sp_wire_put(&w, rdata, rdlen);
	if (sp_wire_err(&w) != SP_OK ||
	    ldns_wire2rr(&rr, buf, sp_wire_used(&w), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return NULL;
	return rr;
}

struct text_ctx {
	FILE *f;
	int soas;
};

static int
text_rr(void *arg, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdlen)
{
	struct text_ctx *t = arg;
	ldns_rr *rr;
	char *s;

	/* A zone file holds the SOA once; the closing SOA is for transfers. */
	if (type == SP_T_SOA && t->soas++ > 0)
		return SP_OK;
	if ((rr = sp_xfr_ldns_rr(owner, owner_len, type, ttl, rdata, rdlen)) == NULL)
		return SP_EINVAL;
	s = ldns_rr2str_fmt(ldns_output_format_nocomments, rr);
	ldns_rr_free(rr);
	if (s == NULL)
		return SP_ENOMEM;
	fputs(s, t->f);
	free(s);
	return SP_OK;
}

int
sp_xfr_text(const sp_zone *z, int64_t now, char **out, size_t *len)
{
	struct text_ctx t = { NULL, 0 };
	char *buf = NULL;
	size_t blen = 0;
	int rc;

	if ((t.f = open_memstream(&buf, &blen)) == NULL)
		return SP_ENOMEM;
	rc = sp_xfr_walk(z, now, text_rr, &t);
	if (fclose(t.f) != 0 && rc == SP_OK)
		rc = SP_ENOMEM;
	if (rc != SP_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = blen;
	return SP_OK;
}
