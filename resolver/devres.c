/*
 * The device side's validating resolver (see sp_devres.h).
 *
 * ldns parses the gateway's responses and checks the signatures; the rules
 * around it are here: which records may be in a response, whose signature
 * counts, what a compact denial must show. A response is judged whole:
 * one record that does not belong makes it bogus, so nothing unsigned is
 * ever cached beside something signed.
 *
 * The cache is a hash table of entries on one LRU list. An entry is one
 * allocation holding the rdatas and the RRSIGs that verified, so that a
 * reply with DO can be rebuilt from it. The validated DNSKEY set is kept
 * apart from the cache (eviction never drops the keys) and in it too (so
 * a client can ask for the DNSKEYs).
 */
#include "sp_devres.h"

#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_AD 0x0020
#define F_RA 0x0080
#define F_OPCODE 0x7800
#define T_CNAME 5
#define UDP_OURS 1232
#define CACHE_DEFAULT 4096
#define CACHE_LIMIT (1u << 22)
#define STALE_DEFAULT 86400
#define DNSKEY_PROTOCOL 3

struct entry {
	struct entry *hnext;            /* hash chain */
	struct entry *newer, *older;    /* the LRU list */
	uint32_t hash;
	uint16_t qtype;
	enum sp_devres_kind kind;
	uint8_t qname[SP_DNAME_MAX];
	size_t qname_len;
	int64_t expires;                /* fresh while now < expires */
	size_t n, nsig;
	uint16_t rdlen[SP_DEVRES_RR_MAX], siglen[SP_DEVRES_SIG_MAX], nsec_len;
	size_t rdoff[SP_DEVRES_RR_MAX], sigoff[SP_DEVRES_SIG_MAX], nsec_off;
	uint8_t data[];
};

struct sp_devres {
	uint8_t zone[SP_DNAME_MAX];
	size_t zone_len;
	uint8_t (*anchor)[SP_DNSKEY_RDATA_BYTES];
	size_t nanchor;
	size_t cache_max;
	uint32_t stale_s;
	struct entry **buckets;
	size_t nbuckets;                /* a power of two */
	struct entry *newest, *oldest;
	size_t count;
	ldns_rr_list *keys;             /* the validated DNSKEYs that may sign */
	int64_t keys_expires;
	sp_devres_stats stats;
};

/* ---- names and small helpers -------------------------------------------- */

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Case-insensitive equality of two wire names: byte by byte is exact,
 * since a label length (at most 63) never equals a letter. */
static int
name_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static int
rdf_is_name(const ldns_rdf *d, const uint8_t *name, size_t len)
{
	return d != NULL && ldns_rdf_get_type(d) == LDNS_RDF_TYPE_DNAME &&
	    name_eq(ldns_rdf_data(d), ldns_rdf_size(d), name, len);
}

static const char *
type_name(uint16_t t, char buf[16])
{
	switch (t) {
	case SP_T_A: return "A";
	case SP_T_NS: return "NS";
	case SP_T_SOA: return "SOA";
	case T_CNAME: return "CNAME";
	case SP_T_AAAA: return "AAAA";
	case SP_T_DS: return "DS";
	case SP_T_SSHFP: return "SSHFP";
	case SP_T_IPSECKEY: return "IPSECKEY";
	case SP_T_RRSIG: return "RRSIG";
	case SP_T_NSEC: return "NSEC";
	case SP_T_DNSKEY: return "DNSKEY";
	case SP_T_TLSA: return "TLSA";
	case SP_T_CDS: return "CDS";
	case SP_T_CDNSKEY: return "CDNSKEY";
	default:
		snprintf(buf, 16, "TYPE%u", (unsigned)t);
		return buf;
	}
}

static enum sp_devres_result bogus(sp_devres *r, char *why, size_t whylen,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum sp_devres_result
bogus(sp_devres *r, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	r->stats.bogus++;
	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return SP_DEVRES_BOGUS;
}

/* An RR's rdata in wire form (names uncompressed, as signed) into b. */
static int
rr_rdata(const ldns_rr *rr, ldns_buffer *b)
{
	ldns_buffer_clear(b);
	if (ldns_rr_rdata2buffer_wire(b, rr) != LDNS_STATUS_OK)
		return SP_ENOMEM;
	return SP_OK;
}

/* An RRSIG as ldns parsed it with every field of the right size. */
static int
rrsig_shape_ok(const ldns_rr *sig)
{
	static const size_t sizes[8] = { 2, 1, 1, 4, 4, 4, 2, 0 };

	if (ldns_rr_rd_count(sig) != 9)
		return 0;
	for (size_t i = 0; i < 7; i++)
		if (ldns_rdf_size(ldns_rr_rdf(sig, i)) != sizes[i])
			return 0;
	return ldns_rdf_get_type(ldns_rr_rdf(sig, 7)) == LDNS_RDF_TYPE_DNAME;
}

static uint16_t
rrsig_covers(const ldns_rr *sig)
{
	return ldns_rdf2native_int16(ldns_rr_rdf(sig, 0));
}

/*
 * Whether an NSEC rdata's type bitmap (RFC 4034 4.1.2) has type: 1 or 0,
 * -1 if the rdata or the bitmap is malformed (windows out of order, a
 * length of 0 or over 32).
 */
static int
nsec_has(const uint8_t *rd, size_t len, uint16_t type)
{
	sp_wire w = sp_wire_reader(rd, len);
	uint8_t name[SP_DNAME_MAX];
	size_t nlen;
	int prev = -1, has = 0;

	if (sp_dname_read(&w, name, &nlen, NULL) != SP_OK)
		return -1;
	while (sp_wire_left(&w) > 0) {
		uint8_t win = sp_wire_u8(&w), blen = sp_wire_u8(&w);
		const uint8_t *bits;

		if (blen == 0 || blen > 32 || (int)win <= prev)
			return -1;
		if ((bits = sp_wire_view(&w, blen)) == NULL)
			return -1;
		prev = win;
		if (win == type >> 8 && (size_t)((type & 0xff) >> 3) < blen)
			has = (bits[(type & 0xff) >> 3] & (0x80 >> (type & 7))) != 0;
	}
	return sp_wire_err(&w) == SP_OK ? has : -1;
}

/* ---- the cache ---------------------------------------------------------- */

static uint32_t
key_hash(const uint8_t *qname, size_t len, uint16_t qtype)
{
	/* FNV-1a. Unkeyed: only validated answers from our own zone get in,
	 * and the cache's bound bounds a chain. */
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ qname[i]) * 16777619u;
	h = (h ^ (uint8_t)(qtype >> 8)) * 16777619u;
	return (h ^ (uint8_t)qtype) * 16777619u;
}

static struct entry *
cache_find(const sp_devres *r, const uint8_t *qname, size_t len, uint16_t qtype, uint32_t h)
{
	for (struct entry *e = r->buckets[h & (r->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->qtype == qtype && e->qname_len == len &&
		    memcmp(e->qname, qname, len) == 0)
			return e;
	return NULL;
}

static void
lru_unlink(sp_devres *r, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		r->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		r->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
lru_push(sp_devres *r, struct entry *e)
{
	e->newer = NULL;
	e->older = r->newest;
	if (r->newest != NULL)
		r->newest->newer = e;
	r->newest = e;
	if (r->oldest == NULL)
		r->oldest = e;
}

static void
cache_remove(sp_devres *r, struct entry *e)
{
	struct entry **pp = &r->buckets[e->hash & (r->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(r, e);
	r->count--;
	free(e);
}

static void
cache_put(sp_devres *r, struct entry *e)
{
	struct entry *old = cache_find(r, e->qname, e->qname_len, e->qtype, e->hash);
	size_t b = e->hash & (r->nbuckets - 1);

	if (old != NULL)
		cache_remove(r, old);
	while (r->count >= r->cache_max && r->oldest != NULL) {
		cache_remove(r, r->oldest);
		r->stats.evicted++;
	}
	e->hnext = r->buckets[b];
	r->buckets[b] = e;
	lru_push(r, e);
	r->count++;
}

static void
fill(const struct entry *e, uint32_t ttl, int stale, sp_devres_rrset *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = e->kind;
	out->type = e->qtype;
	out->ttl = ttl;
	out->stale = stale;
	out->n = e->n;
	for (size_t i = 0; i < e->n; i++) {
		out->rdata[i] = e->data + e->rdoff[i];
		out->rdlen[i] = e->rdlen[i];
	}
	out->nsig = e->nsig;
	for (size_t i = 0; i < e->nsig; i++) {
		out->sig[i] = e->data + e->sigoff[i];
		out->siglen[i] = e->siglen[i];
	}
	if (e->nsec_len > 0) {
		out->nsec = e->data + e->nsec_off;
		out->nsec_len = e->nsec_len;
	}
}

/* Append rr's rdata to b; its offset and length out. SP_ESPACE past
 * SP_DEVRES_RDATA_MAX. */
static int
put_rdata(ldns_buffer *all, ldns_buffer *tmp, const ldns_rr *rr, size_t *off, uint16_t *len)
{
	size_t n;

	if (rr_rdata(rr, tmp) != SP_OK)
		return SP_ENOMEM;
	if ((n = ldns_buffer_position(tmp)) > SP_DEVRES_RDATA_MAX)
		return SP_ESPACE;
	*off = ldns_buffer_position(all);
	*len = (uint16_t)n;
	if (!ldns_buffer_reserve(all, n))
		return SP_ENOMEM;
	ldns_buffer_write(all, ldns_buffer_begin(tmp), n);
	return SP_OK;
}

/* A cache entry of rrs (may be NULL), nsec (may be NULL) and sigs. */
static int
entry_new(const uint8_t *qname, size_t qlen, uint16_t qtype, enum sp_devres_kind kind,
    const ldns_rr_list *rrs, const ldns_rr *nsec, const ldns_rr_list *sigs,
    int64_t expires, struct entry **out)
{
	ldns_buffer *all = ldns_buffer_new(1024), *tmp = ldns_buffer_new(SP_DEVRES_RDATA_MAX);
	struct entry *e = NULL;
	int rc = SP_ENOMEM;

	*out = NULL;
	if (all == NULL || tmp == NULL || (e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	e->kind = kind;
	e->qtype = qtype;
	memcpy(e->qname, qname, qlen);
	e->qname_len = qlen;
	e->hash = key_hash(qname, qlen, qtype);
	e->expires = expires;
	rc = SP_ESPACE;
	if (rrs != NULL && ldns_rr_list_rr_count(rrs) > SP_DEVRES_RR_MAX)
		goto out;
	for (size_t i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++, e->n++)
		if ((rc = put_rdata(all, tmp, ldns_rr_list_rr(rrs, i), &e->rdoff[i],
		    &e->rdlen[i])) != SP_OK)
			goto out;
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs) && i < SP_DEVRES_SIG_MAX; i++, e->nsig++)
		if ((rc = put_rdata(all, tmp, ldns_rr_list_rr(sigs, i), &e->sigoff[i],
		    &e->siglen[i])) != SP_OK)
			goto out;
	if (nsec != NULL && (rc = put_rdata(all, tmp, nsec, &e->nsec_off, &e->nsec_len)) != SP_OK)
		goto out;
	{
		size_t n = ldns_buffer_position(all);
		struct entry *full = malloc(sizeof(*e) + n);

		if (full == NULL) {
			rc = SP_ENOMEM;
			goto out;
		}
		memcpy(full, e, sizeof(*e));
		memcpy(full->data, ldns_buffer_begin(all), n);
		*out = full;
		rc = SP_OK;
	}
out:
	free(e);
	ldns_buffer_free(all);
	ldns_buffer_free(tmp);
	return rc;
}

/* ---- the resolver ------------------------------------------------------- */

int
sp_devres_new(const sp_devres_conf *c, sp_devres **out, sp_errmsg *e)
{
	sp_devres *r;
	size_t nb = 16;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL || c->zone == NULL)
		return sp_errf(e, SP_EINVAL, "resolver: no configuration");
	if (c->anchor == NULL || c->nanchor == 0)
		return sp_errf(e, SP_EINVAL, "resolver: no trust anchor");
	for (size_t i = 0; i < c->nanchor; i++) {
		const uint8_t *a = c->anchor[i];
		uint16_t flags = (uint16_t)(a[0] << 8 | a[1]);
		if (!(flags & SP_DNSKEY_FLAG_ZONE) || (flags & SP_DNSKEY_FLAG_REVOKE) ||
		    a[2] != DNSKEY_PROTOCOL || a[3] != SP_KEY_ALG_ED25519)
			return sp_errf(e, SP_EINVAL,
			    "resolver: trust anchor %zu is not an Ed25519 zone key", i);
	}
	if (c->cache_max > CACHE_LIMIT)
		return sp_errf(e, SP_EINVAL, "resolver: cache of %zu entries is over %u",
		    c->cache_max, CACHE_LIMIT);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return sp_errf(e, SP_ENOMEM, "resolver: out of memory");
	if (sp_dname_from_text(c->zone, r->zone, &r->zone_len) != SP_OK) {
		free(r);
		return sp_errf(e, SP_EINVAL, "resolver: the zone's name is not a domain name");
	}
	r->cache_max = c->cache_max ? c->cache_max : CACHE_DEFAULT;
	r->stale_s = c->stale_s ? c->stale_s : STALE_DEFAULT;
	while (nb < r->cache_max)
		nb <<= 1;
	r->nbuckets = nb;
	r->nanchor = c->nanchor;
	if ((r->buckets = calloc(nb, sizeof(*r->buckets))) == NULL ||
	    (r->anchor = malloc(c->nanchor * sizeof(*r->anchor))) == NULL) {
		sp_devres_free(r);
		return sp_errf(e, SP_ENOMEM, "resolver: out of memory");
	}
	memcpy(r->anchor, c->anchor, c->nanchor * sizeof(*r->anchor));
	*out = r;
	return SP_OK;
}

void
sp_devres_flush(sp_devres *r)
{
	if (r == NULL)
		return;
	while (r->oldest != NULL)
		cache_remove(r, r->oldest);
	ldns_rr_list_deep_free(r->keys);
	r->keys = NULL;
	r->keys_expires = 0;
}

void
sp_devres_free(sp_devres *r)
{
	if (r == NULL)
		return;
	if (r->buckets != NULL)
		sp_devres_flush(r);
	free(r->buckets);
	free(r->anchor);
	free(r);
}

const sp_devres_stats *
sp_devres_stats_get(const sp_devres *r)
{
	return &r->stats;
}

const uint8_t *
sp_devres_zone(const sp_devres *r, size_t *len)
{
	*len = r->zone_len;
	return r->zone;
}

int
sp_devres_in_zone(const sp_devres *r, const uint8_t *name, size_t len)
{
	uint8_t low[SP_DNAME_MAX];

	if (len == 0 || len > SP_DNAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		low[i] = lower(name[i]);
	return sp_dname_in_zone(low, len, r->zone, r->zone_len);
}

int
sp_devres_have_keys(const sp_devres *r, int64_t now)
{
	return r->keys != NULL && now < r->keys_expires;
}

enum sp_devres_hit
sp_devres_lookup(sp_devres *r, const uint8_t *qname, size_t qname_len, uint16_t qtype,
    int64_t now, sp_devres_rrset *out)
{
	uint8_t low[SP_DNAME_MAX];
	struct entry *e;

	if (qname_len == 0 || qname_len > SP_DNAME_MAX) {
		r->stats.misses++;
		return SP_DEVRES_MISS;
	}
	for (size_t i = 0; i < qname_len; i++)
		low[i] = lower(qname[i]);
	e = cache_find(r, low, qname_len, qtype, key_hash(low, qname_len, qtype));
	if (e != NULL && now < e->expires) {
		r->stats.hits++;
		lru_unlink(r, e);
		lru_push(r, e);
		if (out != NULL)
			fill(e, (uint32_t)(e->expires - now), 0, out);
		return SP_DEVRES_FRESH;
	}
	if (e != NULL && now - e->expires < (int64_t)r->stale_s) {
		r->stats.stale_hits++;
		lru_unlink(r, e);
		lru_push(r, e);
		if (out != NULL)
			fill(e, SP_DEVRES_STALE_TTL, 1, out);
		return SP_DEVRES_STALE;
	}
	if (e != NULL)
		cache_remove(r, e);
	r->stats.misses++;
	return SP_DEVRES_MISS;
}

/* ---- asking the gateway ------------------------------------------------- */

int
sp_devres_make_query(uint16_t id, const uint8_t *qname, size_t qname_len, uint16_t qtype,
    uint8_t *out, size_t cap, size_t *len)
{
	sp_wire r = sp_wire_reader(qname, qname_len), w = sp_wire_writer(out, cap);
	uint8_t name[SP_DNAME_MAX];
	size_t nlen;

	if (qname == NULL || sp_dname_read(&r, name, &nlen, NULL) != SP_OK ||
	    sp_wire_left(&r) != 0)
		return SP_EINVAL;
	sp_wire_put_u16(&w, id);
	sp_wire_put_u16(&w, 0);            /* a query, RD clear */
	sp_wire_put_u16(&w, 1);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 1);
	sp_wire_put(&w, name, nlen);
	sp_wire_put_u16(&w, qtype);
	sp_wire_put_u16(&w, SP_C_IN);
	sp_wire_put_u8(&w, 0);
	sp_wire_put_u16(&w, SP_T_OPT);
	sp_wire_put_u16(&w, UDP_OURS);
	sp_wire_put_u32(&w, SP_EDNS_DO | SP_EDNS_CO);
	sp_wire_put_u16(&w, 0);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	*len = sp_wire_used(&w);
	return SP_OK;
}

/* ---- validation --------------------------------------------------------- */

/* What a set of RRSIGs over one RRset came to. */
struct verdict {
	ldns_rr_list *good;          /* the RRSIGs that verified (borrowed RRs) */
	uint32_t ttl;                /* min over them of original TTL, expiry - now */
	const char *fail;            /* the last reason one did not verify */
};

/* Check every RRSIG in sigs over rrs with keys; v->good gets those that
 * verify, signed by the zone at the query name's own label count. */
static int
verify_sigs(const sp_devres *r, const ldns_rr_list *rrs, const ldns_rr_list *sigs,
    const ldns_rr_list *keys, const uint8_t *owner, int64_t now, struct verdict *v)
{
	unsigned labels = sp_dname_labels(owner);

	v->ttl = UINT32_MAX;
	v->fail = "does not verify";
	if ((v->good = ldns_rr_list_new()) == NULL)
		return SP_ENOMEM;
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		ldns_rr *sig = ldns_rr_list_rr(sigs, i);
		ldns_rr_list *ok;
		ldns_status st;

		if (!rdf_is_name(ldns_rr_rdf(sig, 7), r->zone, r->zone_len)) {
			v->fail = "is not signed by the zone";
			continue;
		}
		/* Fewer labels than the owner means a wildcard expansion,
		 * which this zone never makes; more is malformed. */
		if (ldns_rdf2native_int8(ldns_rr_rdf(sig, 2)) != labels) {
			v->fail = "has a wildcard or wrong label count";
			continue;
		}
		if (ldns_rdf_size(ldns_rr_rdf(sig, 8)) + 18 + r->zone_len > SP_DEVRES_RDATA_MAX) {
			v->fail = "is too large";
			continue;
		}
		if ((ok = ldns_rr_list_new()) == NULL)
			return SP_ENOMEM;
		st = ldns_verify_rrsig_keylist_time(rrs, sig, keys, (time_t)now, ok);
		ldns_rr_list_free(ok);
		if (st == LDNS_STATUS_CRYPTO_SIG_EXPIRED) {
			v->fail = "has expired";
		} else if (st == LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED) {
			v->fail = "is not valid yet";
		} else if (st != LDNS_STATUS_OK) {
			v->fail = "does not verify";
		} else if (ldns_rr_list_rr_count(v->good) < SP_DEVRES_SIG_MAX) {
			uint32_t orig = ldns_rdf2native_int32(ldns_rr_rdf(sig, 3));
			uint32_t exp = ldns_rdf2native_int32(ldns_rr_rdf(sig, 4));
			/* ldns checked expiry in serial arithmetic (RFC 4034
			 * 3.1.5), so this difference is the time left. */
			uint32_t left = exp - (uint32_t)now;
			if (!ldns_rr_list_push_rr(v->good, sig))
				return SP_ENOMEM;
			if (orig < v->ttl)
				v->ttl = orig;
			if (left < v->ttl)
				v->ttl = left;
		}
	}
	return SP_OK;
}

/*
 * The answer section: the RRset (owner qname, type qtype, class IN) into
 * rrs and the RRSIGs over it into sigs (both borrowed). Anything else
 * there is a reason to refuse the response, returned.
 */
static const char *
collect_answer(const ldns_pkt *p, const uint8_t *qname, size_t qlen, uint16_t qtype,
    ldns_rr_list *rrs, ldns_rr_list *sigs)
{
	const ldns_rr_list *an = ldns_pkt_answer(p);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		uint16_t t = (uint16_t)ldns_rr_get_type(rr);

		if (t == T_CNAME && qtype != T_CNAME)
			return "a CNAME in the answer (not followed)";
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    !rdf_is_name(ldns_rr_owner(rr), qname, qlen))
			return "a record of another name or class in the answer";
		if (t == qtype) {
			if (!ldns_rr_list_push_rr(rrs, rr))
				return "out of memory";
		} else if (t == SP_T_RRSIG) {
			if (!rrsig_shape_ok(rr))
				return "a malformed RRSIG in the answer";
			if (rrsig_covers(rr) != qtype)
				return "an RRSIG over another type in the answer";
			if (!ldns_rr_list_push_rr(sigs, rr))
				return "out of memory";
		} else {
			return "a record of another type in the answer";
		}
	}
	return NULL;
}

/* A DNSKEY that may validate: a zone key, not revoked, protocol 3. */
static int
usable_key(const uint8_t *rd, size_t len)
{
	uint16_t flags;

	if (len < 4)
		return 0;
	flags = (uint16_t)(rd[0] << 8 | rd[1]);
	return (flags & SP_DNSKEY_FLAG_ZONE) && !(flags & SP_DNSKEY_FLAG_REVOKE) &&
	    rd[2] == DNSKEY_PROTOCOL;
}

static int
anchored(const sp_devres *r, const uint8_t *rd, size_t len)
{
	if (len != SP_DNSKEY_RDATA_BYTES)
		return 0;
	for (size_t i = 0; i < r->nanchor; i++)
		if (memcmp(r->anchor[i], rd, SP_DNSKEY_RDATA_BYTES) == 0)
			return 1;
	return 0;
}

static uint32_t
ttl_cap(uint32_t ttl, const ldns_rr_list *rrs, const struct verdict *v)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
		if (ldns_rr_ttl(ldns_rr_list_rr(rrs, i)) < ttl)
			ttl = ldns_rr_ttl(ldns_rr_list_rr(rrs, i));
	if (v->ttl < ttl)
		ttl = v->ttl;
	return ttl < SP_DEVRES_TTL_MAX ? ttl : SP_DEVRES_TTL_MAX;
}

/* Cache what validated and hand it out. */
static enum sp_devres_result
keep(sp_devres *r, const uint8_t *qname, size_t qlen, uint16_t qtype, enum sp_devres_kind kind,
    const ldns_rr_list *rrs, const ldns_rr *nsec, const struct verdict *v, uint32_t ttl,
    int64_t now, sp_devres_rrset *out, char *why, size_t whylen)
{
	struct entry *e;
	int rc = entry_new(qname, qlen, qtype, kind, rrs, nsec, v->good, now + ttl, &e);

	if (rc == SP_ESPACE)
		return bogus(r, why, whylen, "RRset too large to keep (over %d RRs or %d bytes)",
		    SP_DEVRES_RR_MAX, SP_DEVRES_RDATA_MAX);
	if (rc != SP_OK)
		return bogus(r, why, whylen, "out of memory");
	cache_put(r, e);
	r->stats.validated++;
	if (out != NULL)
		fill(e, ttl, 0, out);
	return SP_DEVRES_OK;
}

/* The zone's DNSKEY RRset, checked against the trust anchor. */
static enum sp_devres_result
judge_dnskey(sp_devres *r, const ldns_pkt *p, int64_t now, sp_devres_rrset *out,
    char *why, size_t whylen)
{
	ldns_rr_list *rrs = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
	ldns_rr_list *anchors = ldns_rr_list_new(), *keys = ldns_rr_list_new();
	ldns_buffer *b = ldns_buffer_new(SP_DEVRES_RDATA_MAX);
	struct verdict v = { NULL, 0, NULL };
	enum sp_devres_result res;
	const char *bad;

	if (rrs == NULL || sigs == NULL || anchors == NULL || keys == NULL || b == NULL) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	if ((bad = collect_answer(p, r->zone, r->zone_len, SP_T_DNSKEY, rrs, sigs)) != NULL) {
		res = bogus(r, why, whylen, "DNSKEY response: %s", bad);
		goto out;
	}
	if (ldns_rr_list_rr_count(rrs) == 0) {
		res = bogus(r, why, whylen, "no DNSKEY RRset in the answer");
		goto out;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *k = ldns_rr_list_rr(rrs, i), *c;
		const uint8_t *rd;
		size_t len;

		if (rr_rdata(k, b) != SP_OK) {
			res = bogus(r, why, whylen, "out of memory");
			goto out;
		}
		rd = ldns_buffer_begin(b);
		len = ldns_buffer_position(b);
		if (!usable_key(rd, len))
			continue;
		if (anchored(r, rd, len) && !ldns_rr_list_push_rr(anchors, k)) {
			res = bogus(r, why, whylen, "out of memory");
			goto out;
		}
		if ((c = ldns_rr_clone(k)) == NULL || !ldns_rr_list_push_rr(keys, c)) {
			ldns_rr_free(c);
			res = bogus(r, why, whylen, "out of memory");
			goto out;
		}
	}
	if (ldns_rr_list_rr_count(anchors) == 0) {
		res = bogus(r, why, whylen, "no key of the trust anchor in the DNSKEY RRset");
		goto out;
	}
	if (ldns_rr_list_rr_count(sigs) == 0) {
		res = bogus(r, why, whylen, "no RRSIG over DNSKEY");
		goto out;
	}
	if (verify_sigs(r, rrs, sigs, anchors, r->zone, now, &v) != SP_OK) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	if (ldns_rr_list_rr_count(v.good) == 0) {
		res = bogus(r, why, whylen, "RRSIG over DNSKEY by the trust anchor %s", v.fail);
		goto out;
	}
	{
		uint32_t ttl = ttl_cap(UINT32_MAX, rrs, &v);
		res = keep(r, r->zone, r->zone_len, SP_T_DNSKEY, SP_DEVRES_POSITIVE, rrs, NULL, &v,
		    ttl, now, out, why, whylen);
		if (res == SP_DEVRES_OK) {
			ldns_rr_list_deep_free(r->keys);
			r->keys = keys;
			keys = NULL;
			r->keys_expires = now + ttl;
		}
	}
out:
	ldns_rr_list_free(v.good);
	ldns_rr_list_deep_free(keys);
	ldns_rr_list_free(anchors);
	ldns_rr_list_free(sigs);
	ldns_rr_list_free(rrs);
	ldns_buffer_free(b);
	return res;
}

static enum sp_devres_result
judge_positive(sp_devres *r, const ldns_pkt *p, const uint8_t *qname, size_t qlen,
    uint16_t qtype, int64_t now, sp_devres_rrset *out, char *why, size_t whylen)
{
	ldns_rr_list *rrs = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
	struct verdict v = { NULL, 0, NULL };
	enum sp_devres_result res;
	const char *bad;
	char tb[16];
	const char *tn = type_name(qtype, tb);

	if (rrs == NULL || sigs == NULL) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	if ((bad = collect_answer(p, qname, qlen, qtype, rrs, sigs)) != NULL) {
		res = bogus(r, why, whylen, "%s", bad);
		goto out;
	}
	if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR) {
		res = bogus(r, why, whylen, "records in the answer of an NXDOMAIN");
		goto out;
	}
	if (ldns_rr_list_rr_count(rrs) == 0) {
		res = bogus(r, why, whylen, "no %s RRset in the answer", tn);
		goto out;
	}
	if (ldns_rr_list_rr_count(sigs) == 0) {
		res = bogus(r, why, whylen, "no RRSIG over %s", tn);
		goto out;
	}
	if (verify_sigs(r, rrs, sigs, r->keys, qname, now, &v) != SP_OK) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	if (ldns_rr_list_rr_count(v.good) == 0) {
		res = bogus(r, why, whylen, "RRSIG over %s %s", tn, v.fail);
		goto out;
	}
	res = keep(r, qname, qlen, qtype, SP_DEVRES_POSITIVE, rrs, NULL, &v,
	    ttl_cap(UINT32_MAX, rrs, &v), now, out, why, whylen);
out:
	ldns_rr_list_free(v.good);
	ldns_rr_list_free(sigs);
	ldns_rr_list_free(rrs);
	return res;
}

/* RFC 9824 compact denial: one NSEC at qname, its RRSIG, its bitmap. */
static enum sp_devres_result
judge_denial(sp_devres *r, const ldns_pkt *p, const uint8_t *qname, size_t qlen,
    uint16_t qtype, int64_t now, sp_devres_rrset *out, char *why, size_t whylen)
{
	const ldns_rr_list *ns = ldns_pkt_authority(p);
	ldns_rr_list *rrs = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
	ldns_buffer *b = ldns_buffer_new(SP_DEVRES_RDATA_MAX);
	struct verdict v = { NULL, 0, NULL };
	int nx = ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN, has_type, has_cname, has_nx;
	enum sp_devres_result res;
	ldns_rr *nsec = NULL;
	size_t nnsec = 0;
	char tb[16];

	if (rrs == NULL || sigs == NULL || b == NULL) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		uint16_t t = (uint16_t)ldns_rr_get_type(rr);

		/* The SOA and its RRSIG come along; compact denial does not
		 * need them, so they are neither checked nor kept. */
		if (t == SP_T_NSEC) {
			nsec = rr;
			nnsec++;
		} else if (t == SP_T_RRSIG && rrsig_shape_ok(rr) && rrsig_covers(rr) == SP_T_NSEC &&
		    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    rdf_is_name(ldns_rr_owner(rr), qname, qlen)) {
			if (!ldns_rr_list_push_rr(sigs, rr)) {
				res = bogus(r, why, whylen, "out of memory");
				goto out;
			}
		}
	}
	if (nnsec == 0) {
		res = bogus(r, why, whylen, "%s without an NSEC", nx ? "NXDOMAIN" : "NODATA");
		goto out;
	}
	if (nnsec > 1) {
		res = bogus(r, why, whylen, "more than one NSEC in a compact denial");
		goto out;
	}
	if (ldns_rr_get_class(nsec) != LDNS_RR_CLASS_IN ||
	    !rdf_is_name(ldns_rr_owner(nsec), qname, qlen)) {
		res = bogus(r, why, whylen, "the NSEC is not at the query name");
		goto out;
	}
	if (rr_rdata(nsec, b) != SP_OK) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	has_type = nsec_has(ldns_buffer_begin(b), ldns_buffer_position(b), qtype);
	has_cname = nsec_has(ldns_buffer_begin(b), ldns_buffer_position(b), T_CNAME);
	has_nx = nsec_has(ldns_buffer_begin(b), ldns_buffer_position(b), SP_T_NXNAME);
	if (has_type < 0) {
		res = bogus(r, why, whylen, "malformed NSEC");
		goto out;
	}
	if (has_type) {
		res = bogus(r, why, whylen, "the NSEC says %s exists", type_name(qtype, tb));
		goto out;
	}
	if (has_cname) {
		res = bogus(r, why, whylen, "the NSEC shows a CNAME");
		goto out;
	}
	if (nx && !has_nx) {
		res = bogus(r, why, whylen, "NXDOMAIN without NXNAME in the NSEC");
		goto out;
	}
	if (!nx && has_nx) {
		res = bogus(r, why, whylen, "NXNAME in the NSEC of a NOERROR response");
		goto out;
	}
	if (ldns_rr_list_rr_count(sigs) == 0) {
		res = bogus(r, why, whylen, "no RRSIG over NSEC");
		goto out;
	}
	if (!ldns_rr_list_push_rr(rrs, nsec) ||
	    verify_sigs(r, rrs, sigs, r->keys, qname, now, &v) != SP_OK) {
		res = bogus(r, why, whylen, "out of memory");
		goto out;
	}
	if (ldns_rr_list_rr_count(v.good) == 0) {
		res = bogus(r, why, whylen, "RRSIG over NSEC %s", v.fail);
		goto out;
	}
	/* Compact denial has no SOA minimum to go by: the NSEC's TTL is the
	 * negative TTL (the gateway gives it the SOA's). */
	res = keep(r, qname, qlen, qtype, nx ? SP_DEVRES_NXDOMAIN : SP_DEVRES_NODATA, NULL, nsec,
	    &v, ttl_cap(UINT32_MAX, rrs, &v), now, out, why, whylen);
out:
	ldns_rr_list_free(v.good);
	ldns_rr_list_free(sigs);
	ldns_rr_list_free(rrs);
	ldns_buffer_free(b);
	return res;
}

static const char *
rcode_name(unsigned rcode, char buf[16])
{
	switch (rcode) {
	case SP_RCODE_FORMERR: return "FORMERR";
	case SP_RCODE_SERVFAIL: return "SERVFAIL";
	case SP_RCODE_NOTIMP: return "NOTIMP";
	case SP_RCODE_REFUSED: return "REFUSED";
	case SP_RCODE_NOTAUTH: return "NOTAUTH";
	case SP_RCODE_BADVERS: return "BADVERS";
	default:
		snprintf(buf, 16, "rcode %u", rcode & 0xfffu);
		return buf;
	}
}

/* Whether resp's header and question are those of our query. */
static int
is_mine(const uint8_t *resp, size_t len, uint16_t id, const uint8_t *qname, size_t qlen,
    uint16_t qtype)
{
	sp_wire w = sp_wire_reader(resp, len);
	uint8_t name[SP_DNAME_MAX];
	size_t nlen;
	uint16_t rid, flags, qd, t, c;

	rid = sp_wire_u16(&w);
	flags = sp_wire_u16(&w);
	qd = sp_wire_u16(&w);
	sp_wire_skip(&w, 6);
	if (sp_wire_err(&w) != SP_OK || rid != id || !(flags & SP_F_QR) || qd != 1 ||
	    sp_dname_read(&w, name, &nlen, NULL) != SP_OK)
		return 0;
	t = sp_wire_u16(&w);
	c = sp_wire_u16(&w);
	return sp_wire_err(&w) == SP_OK && t == qtype && c == SP_C_IN &&
	    name_eq(name, nlen, qname, qlen);
}

enum sp_devres_result
sp_devres_ingest(sp_devres *r, uint16_t id, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, const uint8_t *resp, size_t len, int64_t now, sp_devres_rrset *out,
    char *why, size_t whylen)
{
	uint8_t low[SP_DNAME_MAX];
	ldns_pkt *p = NULL;
	enum sp_devres_result res;
	unsigned rcode;
	char rb[16];

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (qname == NULL || qname_len == 0 || qname_len > SP_DNAME_MAX || resp == NULL ||
	    !is_mine(resp, len, id, qname, qname_len, qtype))
		return SP_DEVRES_NOT_MINE;
	for (size_t i = 0; i < qname_len; i++)
		low[i] = lower(qname[i]);
	if (ldns_wire2pkt(&p, resp, len) != LDNS_STATUS_OK || p == NULL)
		return bogus(r, why, whylen, "malformed response");
	rcode = (unsigned)ldns_pkt_get_rcode(p) |
	    (unsigned)ldns_pkt_edns_extended_rcode(p) << 4;
	if (ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY)
		res = bogus(r, why, whylen, "not a QUERY response");
	else if (rcode != SP_RCODE_NOERROR && rcode != SP_RCODE_NXDOMAIN)
		res = bogus(r, why, whylen, "gateway answered %s", rcode_name(rcode, rb));
	else if (ldns_pkt_tc(p))
		res = bogus(r, why, whylen, "truncated response");
	else if (!sp_dname_in_zone(low, qname_len, r->zone, r->zone_len))
		res = bogus(r, why, whylen, "the name is not in the zone");
	else if (qtype == SP_T_DNSKEY && name_eq(low, qname_len, r->zone, r->zone_len))
		res = judge_dnskey(r, p, now, out, why, whylen);
	else if (!sp_devres_have_keys(r, now))
		res = SP_DEVRES_NEED_KEYS;
	else if (ldns_rr_list_rr_count(ldns_pkt_answer(p)) > 0)
		res = judge_positive(r, p, low, qname_len, qtype, now, out, why, whylen);
	else
		res = judge_denial(r, p, low, qname_len, qtype, now, out, why, whylen);
	ldns_pkt_free(p);
	return res;
}

/* ---- the client's side -------------------------------------------------- */

int
sp_devres_parse(const uint8_t *q, size_t len, sp_devres_question *out)
{
	sp_wire r = sp_wire_reader(q, len);
	uint16_t qd, an, ns, ar;
	const uint8_t *raw;

	memset(out, 0, sizeof(*out));
	out->udp_size = 512;
	if (q == NULL || len < SP_DNS_HEADER)
		return SP_EPROTO;
	out->id = sp_wire_u16(&r);
	out->flags = sp_wire_u16(&r);
	qd = sp_wire_u16(&r);
	an = sp_wire_u16(&r);
	ns = sp_wire_u16(&r);
	ar = sp_wire_u16(&r);
	if ((out->flags & SP_F_QR) || (out->flags & F_OPCODE) != 0 || qd != 1)
		return SP_EPROTO;
	if (sp_dname_read(&r, out->qname, &out->qname_len, &raw) != SP_OK) {
		out->qname_len = 0;
		return SP_EPROTO;
	}
	memcpy(out->qname_sent, raw, out->qname_len);
	out->qtype = sp_wire_u16(&r);
	out->qclass = sp_wire_u16(&r);
	if (sp_wire_err(&r) != SP_OK) {
		out->qname_len = 0;
		return SP_EPROTO;
	}
	for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
		int additional = i >= (unsigned)an + ns;
		size_t name_at = r.pos;
		uint16_t type, klass, rdlen;
		uint32_t ttl;

		sp_dname_skip(&r);
		type = sp_wire_u16(&r);
		klass = sp_wire_u16(&r);
		ttl = sp_wire_u32(&r);
		rdlen = sp_wire_u16(&r);
		sp_wire_skip(&r, rdlen);
		if (sp_wire_err(&r) != SP_OK)
			goto malformed;
		if (type != SP_T_OPT)
			continue;
		/* One OPT, in the additional section, owned by the root. */
		if (!additional || out->edns || q[name_at] != 0)
			goto malformed;
		out->edns = 1;
		out->udp_size = klass < 512 ? 512 : klass;
		out->edns_version = (uint8_t)(ttl >> 16);
		out->edns_flags = (uint16_t)ttl;
		out->do_bit = (out->edns_flags & SP_EDNS_DO) != 0;
	}
	return out->edns && out->edns_version != 0 ? SP_EUNSUPP : SP_OK;
malformed:
	/* No OPT in the FORMERR to a message whose records do not parse. */
	out->edns = 0;
	out->udp_size = 512;
	out->edns_flags = 0;
	out->edns_version = 0;
	out->do_bit = 0;
	return SP_EPROTO;
}

/* The OPT flags of our reply: DO echoed, and CO with it (RFC 9824). */
static uint16_t
edns_flags_out(const sp_devres_question *q)
{
	if (!q->do_bit)
		return 0;
	return q->edns_flags & (SP_EDNS_DO | SP_EDNS_CO);
}

static void
put_opt(sp_wire *w, const sp_devres_question *q, unsigned rcode)
{
	sp_wire_put_u8(w, 0);
	sp_wire_put_u16(w, SP_T_OPT);
	sp_wire_put_u16(w, UDP_OURS);
	sp_wire_put_u8(w, (uint8_t)(rcode >> 4));
	sp_wire_put_u8(w, 0);
	sp_wire_put_u16(w, edns_flags_out(q));
	sp_wire_put_u16(w, 0);
}

/* Header and question; the counts are set later. */
static void
put_head(sp_wire *w, const sp_devres_question *q, uint16_t flags, unsigned rcode)
{
	sp_wire_put_u16(w, q->id);
	sp_wire_put_u16(w, (uint16_t)(flags | (rcode & 0x0f)));
	sp_wire_put_u16(w, q->qname_len > 0 ? 1 : 0);
	sp_wire_put_u16(w, 0);
	sp_wire_put_u16(w, 0);
	sp_wire_put_u16(w, q->edns ? 1 : 0);
	if (q->qname_len > 0) {
		sp_wire_put(w, q->qname_sent, q->qname_len);
		sp_wire_put_u16(w, q->qtype);
		sp_wire_put_u16(w, q->qclass);
	}
}

static void
put_rr(sp_wire *w, uint16_t type, uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	sp_wire_put_u16(w, 0xc00c);        /* the question's name */
	sp_wire_put_u16(w, type);
	sp_wire_put_u16(w, SP_C_IN);
	sp_wire_put_u32(w, ttl);
	sp_wire_put_u16(w, rdlen);
	sp_wire_put(w, rd, rdlen);
}

static void
set_count(uint8_t *buf, int which, uint16_t n)
{
	buf[4 + 2 * which] = (uint8_t)(n >> 8);
	buf[5 + 2 * which] = (uint8_t)n;
}

int
sp_devres_answer(sp_devres *r, const sp_devres_question *q, const sp_devres_rrset *rr,
    uint8_t *out, size_t cap, size_t *len)
{
	sp_wire w = sp_wire_writer(out, cap);
	uint16_t flags = (uint16_t)(SP_F_QR | F_RA | (q->flags & (SP_F_RD | SP_F_CD)));
	unsigned rcode = SP_RCODE_NOERROR;
	uint16_t an = 0, ns = 0, *sigs_in = &an;
	size_t limit;
	int dnssec = q->edns && q->do_bit;

	(void)r;
	if (cap < 512 || q->qname_len == 0 || rr == NULL)
		return SP_EINVAL;
	if ((q->flags & F_AD) || dnssec)
		flags |= F_AD;
	/* RFC 9824 section 4: NXDOMAIN to a client that said (CO) it knows
	 * compact answers, or asked for no proof at all; NOERROR to a
	 * validator that does not, for which the NSEC proves NODATA. */
	if (rr->kind == SP_DEVRES_NXDOMAIN && (!dnssec || (edns_flags_out(q) & SP_EDNS_CO)))
		rcode = SP_RCODE_NXDOMAIN;
	put_head(&w, q, flags, rcode);
	if (rr->kind == SP_DEVRES_POSITIVE) {
		for (size_t i = 0; i < rr->n && i < SP_DEVRES_RR_MAX; i++, an++)
			put_rr(&w, rr->type, rr->ttl, rr->rdata[i], rr->rdlen[i]);
	} else if (dnssec && rr->nsec != NULL) {
		put_rr(&w, SP_T_NSEC, rr->ttl, rr->nsec, rr->nsec_len);
		ns++;
		sigs_in = &ns;
	} else {
		dnssec = 0;     /* no NSEC, so no RRSIG over it either */
	}
	for (size_t i = 0; dnssec && i < rr->nsig && i < SP_DEVRES_SIG_MAX; i++, (*sigs_in)++)
		put_rr(&w, SP_T_RRSIG, rr->ttl, rr->sig[i], rr->siglen[i]);
	if (q->edns)
		put_opt(&w, q, rcode);
	if (q->tcp)
		limit = cap < 65535 ? cap : 65535;
	else
		limit = q->edns ? (q->udp_size < 512 ? 512 : q->udp_size) : 512;
	if (limit > cap)
		limit = cap;
	if (sp_wire_err(&w) != SP_OK || sp_wire_used(&w) > limit) {
		/* Too big: the header, the question and the OPT, with TC set,
		 * so the client asks again over TCP. */
		w = sp_wire_writer(out, limit);
		put_head(&w, q, (uint16_t)(flags | SP_F_TC), rcode);
		if (q->edns)
			put_opt(&w, q, rcode);
		if (sp_wire_err(&w) != SP_OK)
			return SP_ESPACE;
		*len = sp_wire_used(&w);
		return SP_OK;
	}
	set_count(out, 1, an);
	set_count(out, 2, ns);
	*len = sp_wire_used(&w);
	return SP_OK;
}

int
sp_devres_error(const sp_devres_question *q, uint16_t rcode, uint8_t *out, size_t cap,
    size_t *len)
{
	sp_wire w = sp_wire_writer(out, cap);
	uint16_t flags = (uint16_t)(SP_F_QR | F_RA | (q->flags & (F_OPCODE | SP_F_RD | SP_F_CD)));

	put_head(&w, q, flags, rcode);
	if (q->edns)
		put_opt(&w, q, rcode);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	*len = sp_wire_used(&w);
	return SP_OK;
}

int
sp_devres_local(const sp_devres_question *q, uint16_t rcode, uint16_t type, const uint8_t *rd,
    uint16_t rdlen, uint32_t ttl, uint8_t *out, size_t cap, size_t *len)
{
	sp_wire w = sp_wire_writer(out, cap);
	uint16_t flags = (uint16_t)(SP_F_QR | SP_F_AA | F_RA |
	    (q->flags & (F_OPCODE | SP_F_RD | SP_F_CD)));

	if (q->qname_len == 0)
		return SP_EINVAL;
	put_head(&w, q, flags, rcode);
	if (rd != NULL)
		put_rr(&w, type, ttl, rd, rdlen);
	if (q->edns)
		put_opt(&w, q, rcode);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	if (rd != NULL)
		set_count(out, 1, 1);
	*len = sp_wire_used(&w);
	return SP_OK;
}
