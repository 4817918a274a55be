/*
 * The answerer (see sp_answer.h).
 *
 * Hand-written on sp_wire rather than on ldns's packet objects: this is the
 * hot path, and ldns allocates per RR. Every RRset's answer bytes are built
 * when the zone is signed, so answering is parse, hash lookup, copy.
 */
#include "sp_answer.h"

#include <stdlib.h>
#include <string.h>

/* One cached, signed compact-denial NSEC for a name that does not exist. */
#define NX_SLOTS 4096
#define NX_WIRE_MAX (12 + 2 + SP_DNAME_MAX + 2 + 32 + 12 + 18 + SP_DNAME_MAX + SP_KEY_SIG_BYTES)

struct nx_entry {
	uint8_t name[SP_DNAME_MAX];
	uint8_t name_len;          /* 0 = empty slot */
	uint16_t zsk_tag;
	uint32_t ttl;              /* the negative TTL it was made with */
	uint32_t refresh;
	uint16_t wire_len;
	uint8_t wire[NX_WIRE_MAX]; /* NSEC RR then RRSIG RR, owner 0xC00C */
};

struct sp_answerer {
	const sp_zone *zone;
	size_t udp_max;
	sp_dns_stats stats;
	struct nx_entry *nx;       /* NX_SLOTS, allocated on first use */
};

int
sp_answerer_new(size_t udp_max, sp_answerer **out)
{
	sp_answerer *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return SP_ENOMEM;
	a->udp_max = udp_max ? udp_max : SP_DNS_UDP_DEFAULT;
	if (a->udp_max < 512)
		a->udp_max = 512;
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
 * lowering a TTL above max_ttl to it. */
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
		uint16_t rdlen = (uint16_t)(rs->wire[off + 10] << 8 | rs->wire[off + 11]);
		w->buf[start + off] = (uint8_t)(owner_ptr >> 8);
		w->buf[start + off + 1] = (uint8_t)owner_ptr;
		if (rs->ttl > max_ttl) {
			w->buf[start + off + 6] = (uint8_t)(max_ttl >> 24);
			w->buf[start + off + 7] = (uint8_t)(max_ttl >> 16);
			w->buf[start + off + 8] = (uint8_t)(max_ttl >> 8);
			w->buf[start + off + 9] = (uint8_t)max_ttl;
		}
		off += 12 + rdlen;
		(*count)++;
	}
}

static uint64_t
nx_hash(const uint8_t *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 31);
}

/* The signed NSEC proving qname does not exist, from the cache or made now. */
static const struct nx_entry *
nx_proof(sp_answerer *a, const uint8_t *qname, size_t qlen, int64_t now)
{
	const sp_zone *z = a->zone;
	const sp_key *zsk = sp_zone_zsk(z);
	uint16_t tag = sp_key_info_of(zsk)->tag;
	const sp_sign_policy *pol = sp_zone_policy(z);
	static const uint16_t types[] = { SP_T_RRSIG, SP_T_NSEC, SP_T_NXNAME };
	uint8_t rdata[2 + 2 + SP_DNAME_MAX + 40], sig[18 + SP_DNAME_MAX + SP_KEY_SIG_BYTES];
	size_t apex_len, rdlen, siglen, bl;
	const uint8_t *apex = sp_zone_apex(z, &apex_len);
	uint32_t ttl = sp_zone_neg_ttl(z), exp;
	struct nx_entry *e;
	sp_wire w;

	if (a->nx == NULL && (a->nx = calloc(NX_SLOTS, sizeof(*a->nx))) == NULL)
		return NULL;
	e = &a->nx[nx_hash(qname, qlen) & (NX_SLOTS - 1)];
	if (e->name_len == qlen && memcmp(e->name, qname, qlen) == 0 &&
	    e->zsk_tag == tag && e->ttl == ttl && (int64_t)e->refresh > now)
		return e;

	/* NSEC rdata: next name "\000.qname" (or qname itself when that
	 * would exceed 255 bytes), then the bitmap. */
	w = sp_wire_writer(rdata + 2, sizeof(rdata) - 2);
	if (qlen + 2 <= SP_DNAME_MAX) {
		sp_wire_put_u8(&w, 1);
		sp_wire_put_u8(&w, 0);
	}
	sp_wire_put(&w, qname, qlen);
	bl = sp_nsec_bitmap(types, 3, w.buf + w.pos, w.len - w.pos);
	sp_wire_skip(&w, bl);
	if (bl == 0 || sp_wire_err(&w) != SP_OK)
		return NULL;
	rdlen = sp_wire_used(&w);
	rdata[0] = (uint8_t)(rdlen >> 8);
	rdata[1] = (uint8_t)rdlen;
	exp = (uint32_t)(now + pol->validity);
	if (sp_sign_rrset(zsk, apex, apex_len, qname, qlen, SP_T_NSEC, ttl, rdata,
	    rdlen + 2, 1, (uint32_t)(now - pol->inception_offset), exp, sig, &siglen) != SP_OK)
		return NULL;
	a->stats.nx_signed++;

	w = sp_wire_writer(e->wire, sizeof(e->wire));
	sp_wire_put_u16(&w, 0xc00c);
	sp_wire_put_u16(&w, SP_T_NSEC);
	sp_wire_put_u16(&w, SP_C_IN);
	sp_wire_put_u32(&w, ttl);
	sp_wire_put_u16(&w, (uint16_t)rdlen);
	sp_wire_put(&w, rdata + 2, rdlen);
	sp_wire_put_u16(&w, 0xc00c);
	sp_wire_put_u16(&w, SP_T_RRSIG);
	sp_wire_put_u16(&w, SP_C_IN);
	sp_wire_put_u32(&w, ttl);
	sp_wire_put_u16(&w, (uint16_t)siglen);
	sp_wire_put(&w, sig, siglen);
	if (sp_wire_err(&w) != SP_OK) {
		e->name_len = 0;
		return NULL;
	}
	memcpy(e->name, qname, qlen);
	e->name_len = (uint8_t)qlen;
	e->zsk_tag = tag;
	e->ttl = ttl;
	e->refresh = exp - pol->refresh;
	e->wire_len = (uint16_t)sp_wire_used(&w);
	return e;
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

static size_t
finish(sp_answerer *a, sp_wire *w, const struct query *q, unsigned rcode,
    int tcp, size_t cap, enum sp_answer_kind kind, sp_answer_info *info)
{
	size_t limit;

	/* The OPT record: our buffer size, the extended rcode, DO echoed. */
	if (q->edns) {
		uint16_t flags = q->edns_flags & SP_EDNS_DO;
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
			sp_wire_put_u16(&t, q->edns_flags & SP_EDNS_DO);
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
				const struct nx_entry *e = nx_proof(a, q.qname, q.qname_len, now);
				if (e == NULL)
					return error_response(a, query, &q, 1, SP_RCODE_SERVFAIL,
					    tcp, out, cap, info);
				sp_wire_put(&w, e->wire, e->wire_len);
				counts[1] += 2;
				/* RFC 9824: NOERROR unless the client said it
				 * understands compact answers. */
				rcode = (q.edns_flags & SP_EDNS_CO) ? SP_RCODE_NXDOMAIN
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
