/*
 * The answerer (see sp_answer.h).
 *
 * Hand-written on sp_wire rather than on ldns's packet objects: this is the
 * hot path, and ldns allocates per RR. Every RRset's answer bytes are built
 * when the zone is signed, so answering is parse, hash lookup, copy.
 */
#include "sp_answer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * Signed compact-denial NSECs for names that do not exist. Each distinct
 * missing name costs one Ed25519 signature, so recent ones are cached.
 * An entry keeps only what cannot be rebuilt cheaply: a keyed hash of the
 * name (so a slot holds any name in 100 bytes, and names cannot be chosen
 * to collide) and the signature with its validity; the NSEC and RRSIG
 * records are rebuilt around it from the query name. 65536 entries are
 * 6.5 MB, allocated on first use and touched only as they fill.
 */
#define NX_SLOTS 65536
#define NX_KEY_BYTES 16

struct nx_entry {
	uint8_t key[NX_KEY_BYTES];  /* keyed BLAKE2b of the lowercase name */
	uint8_t used;
	uint16_t zsk_tag;
	uint32_t ttl;               /* the negative TTL it was made with */
	uint32_t inception, expiration, refresh;
	uint8_t sig[SP_KEY_SIG_BYTES];
};

struct sp_answerer {
	const sp_zone *zone;
	size_t udp_max;
	sp_dns_stats stats;
	struct nx_entry *nx;        /* NX_SLOTS, allocated on first use */
	uint8_t nx_hash_key[crypto_generichash_KEYBYTES];
	uint8_t nx_bitmap[32];      /* RRSIG NSEC NXNAME, the same for every name */
	size_t nx_bitmap_len;
};

int
sp_answerer_new(size_t udp_max, const sp_rng *rng, sp_answerer **out)
{
	sp_answerer *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return SP_ENOMEM;
	a->udp_max = udp_max ? udp_max : SP_DNS_UDP_DEFAULT;
	if (a->udp_max < 512)
		a->udp_max = 512;
	/* Keyed, so nobody can choose names that fill one cache slot. */
	sp_rng_fill(rng, a->nx_hash_key, sizeof(a->nx_hash_key));
	{
		static const uint16_t types[] = { SP_T_RRSIG, SP_T_NSEC, SP_T_NXNAME };
		a->nx_bitmap_len = sp_nsec_bitmap(types, 3, a->nx_bitmap, sizeof(a->nx_bitmap));
	}
	*out = a;
	return SP_OK;
}

void
sp_answerer_free(sp_answerer *a)
{
	if (a == NULL)
		return;
	free(a->nx);
	free(a);
}

void
sp_answerer_set_zone(sp_answerer *a, const sp_zone *zone)
{
	a->zone = zone;
}

const sp_dns_stats *
sp_answerer_stats(const sp_answerer *a)
{
	return &a->stats;
}

/* Copy an RRset's wire, rewriting each owner pointer to owner_ptr and
 * capping each TTL at max_ttl (the SOA of a negative answer, RFC 2308). */
static void
put_rrset(sp_wire *w, const sp_rrset *rs, int dnssec, uint16_t owner_ptr,
    uint32_t max_ttl, uint16_t *count)
{
	size_t len = dnssec ? rs->wire_len : rs->wire_plain;
	size_t start = sp_wire_used(w), off = 0;

	sp_wire_put(w, rs->wire, len);
	if (sp_wire_err(w) != SP_OK)
		return;
	while (off + 12 <= len) {
		uint8_t *rr = w->buf + start + off;
		uint16_t rdlen = (uint16_t)(rs->wire[off + 10] << 8 | rs->wire[off + 11]);
		uint32_t ttl = (uint32_t)rr[6] << 24 | (uint32_t)rr[7] << 16 |
		    (uint32_t)rr[8] << 8 | rr[9];
		rr[0] = (uint8_t)(owner_ptr >> 8);
		rr[1] = (uint8_t)owner_ptr;
		if (ttl > max_ttl) {
			rr[6] = (uint8_t)(max_ttl >> 24);
			rr[7] = (uint8_t)(max_ttl >> 16);
			rr[8] = (uint8_t)(max_ttl >> 8);
			rr[9] = (uint8_t)max_ttl;
		}
		off += 12 + rdlen;
		(*count)++;
	}
}

/* The NSEC rdata proving qname absent: next name "\000.qname" (qname
 * itself when that would pass 255 bytes), types RRSIG NSEC NXNAME. */
static size_t
nx_rdata(const sp_answerer *a, const uint8_t *qname, size_t qlen, uint8_t *out, size_t cap)
{
	sp_wire w = sp_wire_writer(out, cap);

	if (qlen + 2 <= SP_DNAME_MAX) {
		sp_wire_put_u8(&w, 1);
		sp_wire_put_u8(&w, 0);
	}
	sp_wire_put(&w, qname, qlen);
	sp_wire_put(&w, a->nx_bitmap, a->nx_bitmap_len);
	return sp_wire_err(&w) == SP_OK ? sp_wire_used(&w) : 0;
}

/* Write the signed NSEC for a missing qname, from the cache or signed now. */
static int
nx_proof(sp_answerer *a, sp_wire *out, const uint8_t *qname, size_t qlen, int64_t now)
{
	const sp_zone *z = a->zone;
	const sp_key *zsk = sp_zone_zsk(z);
	uint16_t tag = sp_key_info_of(zsk)->tag;
	const sp_sign_policy *pol = sp_zone_policy(z);
	uint8_t rd[2 + 2 + SP_DNAME_MAX + 40], key[NX_KEY_BYTES];
	size_t apex_len, rdlen;
	const uint8_t *apex = sp_zone_apex(z, &apex_len);
	uint32_t ttl = sp_zone_neg_ttl(z);
	struct nx_entry *e;

	if (a->nx == NULL && (a->nx = calloc(NX_SLOTS, sizeof(*a->nx))) == NULL)
		return SP_ENOMEM;
	if ((rdlen = nx_rdata(a, qname, qlen, rd + 2, sizeof(rd) - 2)) == 0)
		return SP_EINVAL;
	crypto_generichash(key, sizeof(key), qname, qlen, a->nx_hash_key, sizeof(a->nx_hash_key));
	e = &a->nx[((uint32_t)key[0] << 8 | key[1]) & (NX_SLOTS - 1)];
	if (!e->used || memcmp(e->key, key, sizeof(key)) != 0 || e->zsk_tag != tag ||
	    e->ttl != ttl || (int64_t)e->refresh <= now) {
		uint8_t sig[18 + SP_DNAME_MAX + SP_KEY_SIG_BYTES];
		size_t siglen;

		rd[0] = (uint8_t)(rdlen >> 8);
		rd[1] = (uint8_t)rdlen;
		e->inception = (uint32_t)(now - pol->inception_offset);
		e->expiration = (uint32_t)(now + pol->validity);
		if (sp_sign_rrset(zsk, apex, apex_len, qname, qlen, SP_T_NSEC, ttl, rd,
		    rdlen + 2, 1, e->inception, e->expiration, sig, &siglen) != SP_OK) {
			e->used = 0;
			return SP_ECRYPTO;
		}
		a->stats.nx_signed++;
		memcpy(e->key, key, sizeof(key));
		memcpy(e->sig, sig + siglen - SP_KEY_SIG_BYTES, SP_KEY_SIG_BYTES);
		e->zsk_tag = tag;
		e->ttl = ttl;
		e->refresh = e->expiration - pol->refresh;
		e->used = 1;
	}
	/* NSEC, then its RRSIG, both owned by the question name. */
	sp_wire_put_u16(out, 0xc00c);
	sp_wire_put_u16(out, SP_T_NSEC);
	sp_wire_put_u16(out, SP_C_IN);
	sp_wire_put_u32(out, ttl);
	sp_wire_put_u16(out, (uint16_t)rdlen);
	sp_wire_put(out, rd + 2, rdlen);
	sp_wire_put_u16(out, 0xc00c);
	sp_wire_put_u16(out, SP_T_RRSIG);
	sp_wire_put_u16(out, SP_C_IN);
	sp_wire_put_u32(out, ttl);
	sp_wire_put_u16(out, (uint16_t)(18 + apex_len + SP_KEY_SIG_BYTES));
	sp_wire_put_u16(out, SP_T_NSEC);
	sp_wire_put_u8(out, SP_KEY_ALG_ED25519);
	sp_wire_put_u8(out, (uint8_t)sp_dname_labels(qname));
	sp_wire_put_u32(out, ttl);
	sp_wire_put_u32(out, e->expiration);
	sp_wire_put_u32(out, e->inception);
	sp_wire_put_u16(out, tag);
	sp_wire_put(out, apex, apex_len);
	sp_wire_put(out, e->sig, SP_KEY_SIG_BYTES);
	return SP_OK;
}

struct query {
	uint16_t id, flags, qtype, qclass;
	uint8_t qname[SP_DNAME_MAX];
	size_t qname_len;
	const uint8_t *question;       /* as sent: name, type, class */
	size_t question_len;
	int edns;                      /* an OPT was present */
	uint16_t udp_size;
	uint8_t edns_version;
	uint16_t edns_flags;
};

/* Parse everything after the question; SP_EPROTO for a malformed message. */
static int
parse_rest(sp_wire *r, struct query *q, uint16_t an, uint16_t ns, uint16_t ar)
{
	for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
		int is_additional = i >= (unsigned)an + ns;
		size_t name_at = r->pos;
		sp_dname_skip(r);
		uint16_t type = sp_wire_u16(r), klass = sp_wire_u16(r);
		uint32_t ttl = sp_wire_u32(r);
		uint16_t rdlen = sp_wire_u16(r);
		sp_wire_skip(r, rdlen);
		if (sp_wire_err(r) != SP_OK)
			return SP_EPROTO;
		if (type == SP_T_OPT) {
			/* One OPT, in the additional section, owned by the root. */
			if (!is_additional || q->edns || r->buf[name_at] != 0)
				return SP_EPROTO;
			q->edns = 1;
			q->udp_size = klass;
			q->edns_version = (uint8_t)(ttl >> 16);
			q->edns_flags = (uint16_t)ttl;
		}
	}
	return SP_OK;
}

/*
 * The OPT flags of a response: DO echoed (RFC 3225), and CO echoed to a
 * query that set it with DO (RFC 9824: a server that signals compact
 * answers says so in every response to such a query).
 */
static uint16_t
edns_flags_out(const struct query *q)
{
	if (!(q->edns_flags & SP_EDNS_DO))
		return 0;
	return q->edns_flags & (SP_EDNS_DO | SP_EDNS_CO);
}

static size_t
finish(sp_answerer *a, sp_wire *w, const struct query *q, unsigned rcode,
    int tcp, size_t cap, enum sp_answer_kind kind, sp_answer_info *info)
{
	size_t limit;

	/* The OPT record: our buffer size, the extended rcode, DO (and CO)
	 * echoed. */
	if (q->edns) {
		uint16_t flags = edns_flags_out(q);
		sp_wire_put_u8(w, 0);
		sp_wire_put_u16(w, SP_T_OPT);
		sp_wire_put_u16(w, (uint16_t)a->udp_max);
		sp_wire_put_u8(w, (uint8_t)(rcode >> 4));
		sp_wire_put_u8(w, 0);
		sp_wire_put_u16(w, flags);
		sp_wire_put_u16(w, 0);
		w->buf[11] = 1;   /* ARCOUNT */
	}
	w->buf[3] = (uint8_t)((w->buf[3] & 0xf0) | (rcode & 0x0f));
	if (tcp)
		limit = cap < 65535 ? cap : 65535;
	else if (q->edns)
		limit = q->udp_size < 512 ? 512 : q->udp_size > a->udp_max ? a->udp_max : q->udp_size;
	else
		limit = 512;
	if (limit > cap)
		limit = cap;
	if (sp_wire_err(w) != SP_OK || sp_wire_used(w) > limit) {
		/* Too big: the header, the question and the OPT, with TC set,
		 * so the client retries over TCP. */
		sp_wire t = sp_wire_writer(w->buf, limit);
		a->stats.truncated++;
		t.pos = SP_DNS_HEADER + q->question_len;
		w->buf[2] |= SP_F_TC >> 8;
		w->buf[6] = w->buf[7] = w->buf[8] = w->buf[9] = 0;
		w->buf[10] = 0;
		w->buf[11] = 0;
		if (q->edns) {
			sp_wire_put_u8(&t, 0);
			sp_wire_put_u16(&t, SP_T_OPT);
			sp_wire_put_u16(&t, (uint16_t)a->udp_max);
			sp_wire_put_u8(&t, (uint8_t)(rcode >> 4));
			sp_wire_put_u8(&t, 0);
			sp_wire_put_u16(&t, edns_flags_out(q));
			sp_wire_put_u16(&t, 0);
			w->buf[11] = 1;
		}
		if (info != NULL)
			info->kind = kind;
		return sp_wire_used(&t);
	}
	if (info != NULL)
		info->kind = kind;
	return sp_wire_used(w);
}

static void
set_count(sp_wire *w, int which, uint16_t n)
{
	w->buf[4 + 2 * which] = (uint8_t)(n >> 8);
	w->buf[5 + 2 * which] = (uint8_t)n;
}

/* An error response: header and (when parsed) the question. */
static size_t
error_response(sp_answerer *a, const uint8_t *query, struct query *q,
    int have_question, unsigned rcode, int tcp, uint8_t *out, size_t cap,
    sp_answer_info *info)
{
	sp_wire w = sp_wire_writer(out, cap);
	uint16_t flags = (uint16_t)(SP_F_QR | (q->flags & (0x7800 | SP_F_RD | SP_F_CD)));

	sp_wire_put(&w, query, 2);
	sp_wire_put_u16(&w, flags);
	sp_wire_put_u16(&w, have_question ? 1 : 0);
	sp_wire_put_u32(&w, 0);
	sp_wire_put_u16(&w, 0);
	if (have_question)
		sp_wire_put(&w, q->question, q->question_len);
	else
		q->question_len = 0;
	if (rcode == SP_RCODE_FORMERR)
		a->stats.formerr++;
	else if (rcode == SP_RCODE_NOTIMP)
		a->stats.notimp++;
	else if (rcode == SP_RCODE_REFUSED)
		a->stats.refused++;
	else if (rcode == SP_RCODE_BADVERS)
		a->stats.badvers++;
	if (!have_question)
		q->edns = 0;
	return finish(a, &w, q, rcode, tcp, cap, SP_ANS_ERROR, info);
}

size_t
sp_answer(sp_answerer *a, const uint8_t *query, size_t qlen, int tcp,
    int64_t now, uint8_t *out, size_t cap, sp_answer_info *info)
{
	sp_wire r = sp_wire_reader(query, qlen), w;
	struct query q;
	uint16_t qd, an, ns, ar, counts[3] = { 0, 0, 0 };
	const uint8_t *raw;
	size_t apex_len;
	const uint8_t *apex;
	unsigned rcode = SP_RCODE_NOERROR;
	enum sp_answer_kind kind;
	int dnssec;

	a->stats.queries++;
	if (info != NULL) {
		info->kind = SP_ANS_DROP;
		info->qname_len = 0;
		info->qtype = 0;
	}
	if (qlen < SP_DNS_HEADER || cap < 512) {
		a->stats.dropped++;
		return 0;
	}
	memset(&q, 0, sizeof(q));
	q.id = sp_wire_u16(&r);
	q.flags = sp_wire_u16(&r);
	qd = sp_wire_u16(&r);
	an = sp_wire_u16(&r);
	ns = sp_wire_u16(&r);
	ar = sp_wire_u16(&r);
	if (q.flags & SP_F_QR) {
		/* Never answer a response: that way lies a packet loop. */
		a->stats.dropped++;
		return 0;
	}
	if (((q.flags >> 11) & 0xf) != 0)
		return error_response(a, query, &q, 0, SP_RCODE_NOTIMP, tcp, out, cap, info);
	if (qd != 1)
		return error_response(a, query, &q, 0, SP_RCODE_FORMERR, tcp, out, cap, info);
	if (sp_dname_read(&r, q.qname, &q.qname_len, &raw) != SP_OK)
		return error_response(a, query, &q, 0, SP_RCODE_FORMERR, tcp, out, cap, info);
	q.qtype = sp_wire_u16(&r);
	q.qclass = sp_wire_u16(&r);
	if (sp_wire_err(&r) != SP_OK)
		return error_response(a, query, &q, 0, SP_RCODE_FORMERR, tcp, out, cap, info);
	q.question = raw;
	q.question_len = q.qname_len + 4;
	if (parse_rest(&r, &q, an, ns, ar) != SP_OK)
		return error_response(a, query, &q, 1, SP_RCODE_FORMERR, tcp, out, cap, info);
	if (info != NULL) {
		memcpy(info->qname, q.qname, q.qname_len);
		info->qname_len = q.qname_len;
		info->qtype = q.qtype;
	}
	if (q.edns && q.edns_version != 0)
		return error_response(a, query, &q, 1, SP_RCODE_BADVERS, tcp, out, cap, info);
	if (q.qclass != SP_C_IN || a->zone == NULL)
		return error_response(a, query, &q, 1, SP_RCODE_REFUSED, tcp, out, cap, info);
	apex = sp_zone_apex(a->zone, &apex_len);
	if (!sp_dname_in_zone(q.qname, q.qname_len, apex, apex_len))
		return error_response(a, query, &q, 1, SP_RCODE_REFUSED, tcp, out, cap, info);
	/* RFC 9824 3.5: NXNAME is a meta-type that only ever appears in a
	 * compact denial's type bitmap; asking for it is a format error. */
	if (q.qtype == SP_T_NXNAME)
		return error_response(a, query, &q, 1, SP_RCODE_FORMERR, tcp, out, cap, info);
	if (q.qtype == SP_T_AXFR || q.qtype == SP_T_IXFR) {
		if (tcp) {
			if (info != NULL)
				info->kind = SP_ANS_XFR;
			return 0;
		}
		return error_response(a, query, &q, 1, SP_RCODE_REFUSED, tcp, out, cap, info);
	}

	/* Header and question; counts are filled in at the end. */
	w = sp_wire_writer(out, cap);
	sp_wire_put_u16(&w, q.id);
	sp_wire_put_u16(&w, (uint16_t)(SP_F_QR | SP_F_AA | (q.flags & (SP_F_RD | SP_F_CD))));
	sp_wire_put_u16(&w, 1);
	sp_wire_put_u32(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put(&w, q.question, q.question_len);

	dnssec = q.edns && (q.edns_flags & SP_EDNS_DO);
	/* The apex's position inside the question name, for owner pointers. */
	uint16_t apex_ptr = (uint16_t)(0xc000 | (SP_DNS_HEADER + q.qname_len - apex_len));
	const sp_node *node = sp_zone_find(a->zone, q.qname, q.qname_len);
	const sp_node *apex_node = sp_zone_node(a->zone, 0);
	const sp_rrset *rs = NULL;

	if (node != NULL) {
		if (q.qtype == SP_T_ANY) {
			/* RFC 8482: one RRset, not the whole node. */
			if (node->nrrsets > 0)
				rs = &node->rrsets[0];
		} else {
			rs = sp_node_rrset(node, q.qtype);
		}
	}
	if (rs != NULL) {
		put_rrset(&w, rs, dnssec, 0xc00c, UINT32_MAX, &counts[0]);
		kind = SP_ANS_ANSWER;
		a->stats.answers++;
	} else {
		/* RFC 2308 section 3: the SOA of a negative answer carries the
		 * negative TTL, min(SOA TTL, SOA minimum). */
		put_rrset(&w, sp_node_rrset(apex_node, SP_T_SOA), dnssec, apex_ptr,
		    sp_zone_neg_ttl(a->zone), &counts[1]);
		if (node != NULL) {
			if (dnssec)
				put_rrset(&w, &node->nsec, 1, 0xc00c, UINT32_MAX, &counts[1]);
			kind = SP_ANS_NODATA;
			a->stats.nodata++;
		} else {
			kind = SP_ANS_NXDOMAIN;
			a->stats.nxdomain++;
			if (dnssec) {
				if (nx_proof(a, &w, q.qname, q.qname_len, now) != SP_OK)
					return error_response(a, query, &q, 1, SP_RCODE_SERVFAIL,
					    tcp, out, cap, info);
				counts[1] += 2;
				/* RFC 9824 4: NOERROR unless the client said
				 * (CO, with DO) it understands compact answers. */
				rcode = (edns_flags_out(&q) & SP_EDNS_CO) ? SP_RCODE_NXDOMAIN
				    : SP_RCODE_NOERROR;
			} else {
				rcode = SP_RCODE_NXDOMAIN;
			}
		}
	}
	if (sp_wire_err(&w) == SP_OK) {
		set_count(&w, 1, counts[0]);
		set_count(&w, 2, counts[1]);
	}
	return finish(a, &w, &q, rcode, tcp, cap, kind, info);
}
