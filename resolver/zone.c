/* Building, signing and looking up zone snapshots (see sp_zone.h). */
#include "sp_zone.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ZONE_MAX_RDATA 65535

struct rec {
	uint8_t *owner;
	size_t owner_len;
	uint16_t type;
	uint32_t ttl;
	uint8_t *rdata;
	size_t rdlen;
};

struct sp_zone_builder {
	uint8_t apex[SP_DNAME_MAX];
	size_t apex_len;
	struct rec *recs;
	size_t n, cap;
};

struct sp_zone {
	/* Holders: the daemon's current snapshot, a transfer in progress, a
	 * job off the loop. Atomic because a job may drop its hold on another
	 * thread. */
	atomic_uint refs;
	uint8_t apex[SP_DNAME_MAX];
	size_t apex_len;
	uint32_t serial;
	uint32_t neg_ttl;
	sp_node *nodes;             /* canonical order */
	size_t nnodes;
	uint32_t *index;            /* open addressing: node index + 1, 0 = empty */
	size_t index_mask;
	size_t signed_count;
	uint32_t next_refresh;
	const sp_key *zsk;
	sp_sign_policy policy;
	/* The transfer form's denial (sp_xfr.h): NSEC3PARAM at the apex and
	 * the NSEC3 chain in hash order, signed with the rest. */
	sp_rrset nsec3param;
	sp_nsec3 *nsec3;
	size_t nnsec3;
};

void
sp_sign_policy_default(sp_sign_policy *p)
{
	/* Two weeks of validity, refreshed when one week is left, expiries
	 * spread over a day so that re-signing never comes all at once; one
	 * hour of inception backdating for clients with slow clocks. */
	p->inception_offset = 3600;
	p->validity = 14 * 86400;
	p->jitter = 86400;
	p->refresh = 7 * 86400;
}

int
sp_zone_builder_new(const uint8_t *apex, size_t apex_len, sp_zone_builder **out)
{
	sp_zone_builder *b;

	if (apex_len == 0 || apex_len > SP_DNAME_MAX || sp_dname_len(apex) != apex_len)
		return SP_EINVAL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SP_ENOMEM;
	memcpy(b->apex, apex, apex_len);
	b->apex_len = apex_len;
	*out = b;
	return SP_OK;
}

static void
free_recs(struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(recs[i].owner);
		free(recs[i].rdata);
	}
	free(recs);
}

void
sp_zone_builder_free(sp_zone_builder *b)
{
	if (b == NULL)
		return;
	free_recs(b->recs, b->n);
	free(b);
}

int
sp_zone_add(sp_zone_builder *b, const uint8_t *owner, size_t owner_len,
    uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
	uint8_t lower[SP_DNAME_MAX];
	struct rec *r;

	if (owner_len == 0 || owner_len > SP_DNAME_MAX || sp_dname_len(owner) != owner_len)
		return SP_EINVAL;
	/* Lowercase before the apex test, which compares bytes. */
	for (size_t i = 0; i < owner_len; i++)
		lower[i] = owner[i] >= 'A' && owner[i] <= 'Z' ? (uint8_t)(owner[i] + 32) : owner[i];
	if (!sp_dname_in_zone(lower, owner_len, b->apex, b->apex_len) ||
	    rdlen > ZONE_MAX_RDATA || type == SP_T_RRSIG || type == SP_T_NSEC)
		return SP_EINVAL;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct rec *nr = realloc(b->recs, cap * sizeof(*nr));
		if (nr == NULL)
			return SP_ENOMEM;
		b->recs = nr;
		b->cap = cap;
	}
	r = &b->recs[b->n];
	r->owner = malloc(owner_len);
	r->rdata = malloc(rdlen ? rdlen : 1);
	if (r->owner == NULL || r->rdata == NULL) {
		free(r->owner);
		free(r->rdata);
		return SP_ENOMEM;
	}
	memcpy(r->owner, lower, owner_len);
	if (rdlen)
		memcpy(r->rdata, rdata, rdlen);
	r->owner_len = owner_len;
	r->type = type;
	r->ttl = ttl;
	r->rdlen = rdlen;
	b->n++;
	return SP_OK;
}

/* ---- signing ----------------------------------------------------------- */

static int
cmp_rdata(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	int c = memcmp(a, b, m);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int
sp_sign_rrset(const sp_key *key, const uint8_t *signer, size_t signer_len,
    const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdata_len, uint16_t count, uint32_t inception,
    uint32_t expiration, uint8_t *out, size_t *outlen)
{
	const sp_key_info *ki = sp_key_info_of(key);
	uint8_t stackbuf[2048], *data = stackbuf;
	size_t need = 18 + signer_len + rdata_len + (size_t)count * (owner_len + 10);
	sp_wire w, r;
	int rc;

	if (need > sizeof(stackbuf) && (data = malloc(need)) == NULL)
		return SP_ENOMEM;
	w = sp_wire_writer(data, need);
	sp_wire_put_u16(&w, type);
	sp_wire_put_u8(&w, SP_KEY_ALG_ED25519);
	sp_wire_put_u8(&w, (uint8_t)sp_dname_labels(owner));
	sp_wire_put_u32(&w, ttl);
	sp_wire_put_u32(&w, expiration);
	sp_wire_put_u32(&w, inception);
	sp_wire_put_u16(&w, ki->tag);
	sp_wire_put(&w, signer, signer_len);
	size_t header = sp_wire_used(&w);
	r = sp_wire_reader(rdata, rdata_len);
	for (uint16_t i = 0; i < count; i++) {
		uint16_t len = sp_wire_u16(&r);
		const uint8_t *rd = sp_wire_view(&r, len);
		sp_wire_put(&w, owner, owner_len);
		sp_wire_put_u16(&w, type);
		sp_wire_put_u16(&w, SP_C_IN);
		sp_wire_put_u32(&w, ttl);
		sp_wire_put_u16(&w, len);
		if (rd != NULL)
			sp_wire_put(&w, rd, len);
	}
	rc = sp_wire_err(&w) != SP_OK || sp_wire_err(&r) != SP_OK ? SP_EINVAL : SP_OK;
	if (rc == SP_OK) {
		memcpy(out, data, header);
		rc = sp_key_sign(key, data, sp_wire_used(&w), out + header);
		*outlen = header + SP_KEY_SIG_BYTES;
	}
	if (data != stackbuf)
		free(data);
	return rc;
}

size_t
sp_nsec_bitmap(const uint16_t *types, size_t n, uint8_t *out, size_t cap)
{
	uint16_t sorted[128];
	size_t o = 0, i = 0;

	if (n > 128)
		return 0;
	/* Insertion sort: the lists are a handful of types. */
	for (size_t k = 0; k < n; k++) {
		size_t j = k;
		while (j > 0 && sorted[j - 1] > types[k]) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = types[k];
	}
	while (i < n) {
		uint8_t win = (uint8_t)(sorted[i] >> 8), bytes[32], used = 0;

		memset(bytes, 0, sizeof(bytes));
		for (; i < n && (sorted[i] >> 8) == win; i++) {
			uint8_t lo = (uint8_t)sorted[i];
			bytes[lo / 8] |= (uint8_t)(0x80 >> (lo % 8));
			if (lo / 8 + 1 > used)
				used = (uint8_t)(lo / 8 + 1);
		}
		if (o + 2 + used > cap)
			return 0;
		out[o++] = win;
		out[o++] = used;
		memcpy(out + o, bytes, used);
		o += used;
	}
	return o;
}

/* A deterministic per-RRset jitter, so expiries spread out yet a rebuild
 * with the same data makes the same choice. */
static uint32_t
jitter_for(const uint8_t *owner, size_t len, uint16_t type, uint32_t range)
{
	uint8_t h[8];
	uint8_t t[2] = { (uint8_t)(type >> 8), (uint8_t)type };
	crypto_generichash_state st;

	if (range == 0)
		return 0;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, owner, len);
	crypto_generichash_update(&st, t, 2);
	crypto_generichash_final(&st, h, sizeof(h));
	return (uint32_t)(((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3]) % range);
}

/* The answer-section wire of an RRset: RRs then RRSIGs, owner 0xC00C. */
static int
build_wire(sp_rrset *rs)
{
	size_t cap = rs->rdata_len + (size_t)rs->count * 10 + rs->rrsig_len +
	    (size_t)rs->nsig * 10;
	sp_wire w, r;

	free(rs->wire);
	if ((rs->wire = malloc(cap ? cap : 1)) == NULL)
		return SP_ENOMEM;
	w = sp_wire_writer(rs->wire, cap);
	r = sp_wire_reader(rs->rdata, rs->rdata_len);
	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t len = sp_wire_u16(&r);
		const uint8_t *rd = sp_wire_view(&r, len);
		sp_wire_put_u16(&w, 0xc00c);
		sp_wire_put_u16(&w, rs->type);
		sp_wire_put_u16(&w, SP_C_IN);
		sp_wire_put_u32(&w, rs->ttl);
		sp_wire_put_u16(&w, len);
		if (rd != NULL)
			sp_wire_put(&w, rd, len);
	}
	rs->wire_plain = sp_wire_used(&w);
	r = sp_wire_reader(rs->rrsig, rs->rrsig_len);
	for (uint16_t i = 0; i < rs->nsig; i++) {
		uint16_t len = sp_wire_u16(&r);
		const uint8_t *rd = sp_wire_view(&r, len);
		sp_wire_put_u16(&w, 0xc00c);
		sp_wire_put_u16(&w, SP_T_RRSIG);
		sp_wire_put_u16(&w, SP_C_IN);
		sp_wire_put_u32(&w, rs->ttl);
		sp_wire_put_u16(&w, len);
		if (rd != NULL)
			sp_wire_put(&w, rd, len);
	}
	rs->wire_len = sp_wire_used(&w);
	return sp_wire_err(&w) == SP_OK && sp_wire_err(&r) == SP_OK ? SP_OK : SP_EINVAL;
}

static void
rrset_free(sp_rrset *rs)
{
	free(rs->rdata);
	free(rs->rrsig);
	free(rs->wire);
}

/* Whether prev's signatures for this RRset may be reused now. */
static int
can_reuse(const sp_rrset *old, const sp_rrset *rs, const sp_key *const *keys,
    size_t nkeys, int64_t now)
{
	sp_wire r;

	if (old == NULL || old->nsig != nkeys || old->ttl != rs->ttl ||
	    old->count != rs->count || old->rdata_len != rs->rdata_len ||
	    memcmp(old->rdata, rs->rdata, rs->rdata_len) != 0 ||
	    (int64_t)old->sig_refresh <= now)
		return 0;
	/* The same signing keys, in the same order, by key tag (offset 16 of
	 * the RRSIG rdata). A new key that happened to share a retired key's
	 * tag would reuse signatures that still validate, since a retired
	 * key stays published until they have expired from caches. */
	r = sp_wire_reader(old->rrsig, old->rrsig_len);
	for (size_t i = 0; i < nkeys; i++) {
		uint16_t len = sp_wire_u16(&r);
		const uint8_t *sig = sp_wire_view(&r, len);
		if (sig == NULL || len < 18 + SP_KEY_SIG_BYTES ||
		    ((uint16_t)(sig[16] << 8 | sig[17])) != sp_key_info_of(keys[i])->tag)
			return 0;
	}
	return 1;
}

static int
sign_rrset(sp_zone *z, const uint8_t *owner, size_t owner_len, sp_rrset *rs,
    const sp_key *const *keys, size_t nkeys, const sp_rrset *old, int64_t now)
{
	uint8_t sig[18 + SP_DNAME_MAX + SP_KEY_SIG_BYTES];
	uint32_t expiration, inception;
	size_t siglen;
	sp_wire w;
	int rc;

	if (can_reuse(old, rs, keys, nkeys, now)) {
		if ((rs->rrsig = malloc(old->rrsig_len)) == NULL)
			return SP_ENOMEM;
		memcpy(rs->rrsig, old->rrsig, old->rrsig_len);
		rs->rrsig_len = old->rrsig_len;
		rs->nsig = old->nsig;
		rs->sig_refresh = old->sig_refresh;
		return build_wire(rs);
	}
	inception = (uint32_t)(now - z->policy.inception_offset);
	expiration = (uint32_t)(now + z->policy.validity +
	    jitter_for(owner, owner_len, rs->type, z->policy.jitter));
	rs->rrsig_len = nkeys * (2 + sizeof(sig));
	if ((rs->rrsig = malloc(rs->rrsig_len ? rs->rrsig_len : 1)) == NULL)
		return SP_ENOMEM;
	w = sp_wire_writer(rs->rrsig, rs->rrsig_len);
	for (size_t i = 0; i < nkeys; i++) {
		rc = sp_sign_rrset(keys[i], z->apex, z->apex_len, owner, owner_len,
		    rs->type, rs->ttl, rs->rdata, rs->rdata_len, rs->count, inception,
		    expiration, sig, &siglen);
		if (rc != SP_OK)
			return rc;
		sp_wire_put_u16(&w, (uint16_t)siglen);
		sp_wire_put(&w, sig, siglen);
		z->signed_count++;
	}
	rs->rrsig_len = sp_wire_used(&w);
	{
		/* The buffer was sized for the longest signer name; keep only
		 * what was written, as there is one of these per RRset. */
		uint8_t *shrunk = realloc(rs->rrsig, rs->rrsig_len ? rs->rrsig_len : 1);
		if (shrunk != NULL)
			rs->rrsig = shrunk;
	}
	rs->nsig = (uint16_t)nkeys;
	rs->sig_refresh = expiration - z->policy.refresh;
	return build_wire(rs);
}

/* ---- finishing --------------------------------------------------------- */

static int
cmp_recs(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;
	int c = sp_dname_cmp(a->owner, b->owner);

	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return cmp_rdata(a->rdata, a->rdlen, b->rdata, b->rdlen);
}

static uint64_t
name_hash(const uint8_t *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static int
index_nodes(sp_zone *z)
{
	size_t size = 16;

	while (size < z->nnodes * 2)
		size *= 2;
	if ((z->index = calloc(size, sizeof(*z->index))) == NULL)
		return SP_ENOMEM;
	z->index_mask = size - 1;
	for (size_t i = 0; i < z->nnodes; i++) {
		size_t slot = name_hash(z->nodes[i].name, z->nodes[i].name_len) & z->index_mask;
		while (z->index[slot] != 0)
			slot = (slot + 1) & z->index_mask;
		z->index[slot] = (uint32_t)(i + 1);
	}
	return SP_OK;
}

const sp_node *
sp_zone_find(const sp_zone *z, const uint8_t *name, size_t len)
{
	size_t slot = name_hash(name, len) & z->index_mask;

	for (;;) {
		uint32_t v = z->index[slot];
		if (v == 0)
			return NULL;
		const sp_node *n = &z->nodes[v - 1];
		if (n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
		slot = (slot + 1) & z->index_mask;
	}
}

const sp_rrset *
sp_node_rrset(const sp_node *n, uint16_t type)
{
	for (size_t i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

/* Add the empty non-terminals between each name and the apex, so that a
 * query for one gets NODATA rather than a false "does not exist". */
static int
add_empty_nonterminals(sp_zone_builder *b)
{
	size_t n = b->n;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = b->recs[i].owner;
		size_t len = b->recs[i].owner_len;
		while (len > b->apex_len) {
			len -= (size_t)p[0] + 1;
			p += p[0] + 1;
			if (len <= b->apex_len)
				break;
			/* A type-0 placeholder marks a node with no data. */
			int rc = sp_zone_add(b, p, len, 0, 0, NULL, 0);
			if (rc != SP_OK)
				return rc;
		}
	}
	return SP_OK;
}

static const sp_rrset *
prev_rrset(const sp_zone *prev, const sp_node *node, uint16_t type)
{
	const sp_node *pn;

	if (prev == NULL || (pn = sp_zone_find(prev, node->name, node->name_len)) == NULL)
		return NULL;
	if (type == SP_T_NSEC)
		return &pn->nsec;
	return sp_node_rrset(pn, type);
}

/* The compact-denial NSEC of a node: next name "\000.owner", bitmap of the
 * node's types plus RRSIG and NSEC (RFC 9824 section 3.2). */
static int
make_nsec(sp_node *node, uint32_t ttl)
{
	uint16_t types[64];
	size_t nt = 0, o = 0, bl;
	uint8_t rd[2 + SP_DNAME_MAX + 512];

	for (size_t i = 0; i < node->nrrsets && nt < 62; i++)
		types[nt++] = node->rrsets[i].type;
	types[nt++] = SP_T_RRSIG;
	types[nt++] = SP_T_NSEC;
	if (node->name_len + 2 > SP_DNAME_MAX) {
		/* "\000." does not fit: use the owner itself as next name,
		 * which still covers nothing but the owner. */
		memcpy(rd, node->name, node->name_len);
		o = node->name_len;
	} else {
		rd[0] = 1;
		rd[1] = 0;
		memcpy(rd + 2, node->name, node->name_len);
		o = node->name_len + 2;
	}
	bl = sp_nsec_bitmap(types, nt, rd + o, sizeof(rd) - o);
	if (bl == 0)
		return SP_EINVAL;
	o += bl;
	memset(&node->nsec, 0, sizeof(node->nsec));
	node->nsec.type = SP_T_NSEC;
	node->nsec.ttl = ttl;
	node->nsec.count = 1;
	node->nsec.rdata_len = o + 2;
	if ((node->nsec.rdata = malloc(o + 2)) == NULL)
		return SP_ENOMEM;
	node->nsec.rdata[0] = (uint8_t)(o >> 8);
	node->nsec.rdata[1] = (uint8_t)o;
	memcpy(node->nsec.rdata + 2, rd, o);
	return SP_OK;
}

/* ---- the NSEC3 chain of the transfer form ------------------------------- */

/* RFC 9276 parameters: SHA-1, no opt-out, no extra iterations, no salt. */
static const uint8_t nsec3param_rdata[] = { 1, 0, 0, 0, 0 };

/* RFC 5155 hash with no salt and no extra iterations: SHA-1 of the name. */
static int
nsec3_hash(const uint8_t *name, size_t len, uint8_t out[SP_NSEC3_HASH])
{
	unsigned int n = 0;

	if (EVP_Digest(name, len, out, &n, EVP_sha1(), NULL) != 1 || n != SP_NSEC3_HASH)
		return SP_ECRYPTO;
	return SP_OK;
}

/* Base32hex without padding (RFC 4648 section 7), lowercase. */
static size_t
base32hex(const uint8_t *in, size_t len, uint8_t *out)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	size_t o = 0;
	unsigned buf = 0, bits = 0;

	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = (uint8_t)digits[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = (uint8_t)digits[(buf << (5 - bits)) & 31];
	return o;
}

struct hashed {
	uint8_t hash[SP_NSEC3_HASH];
	const sp_node *node;
};

static int
cmp_hashed(const void *a, const void *b)
{
	return memcmp(((const struct hashed *)a)->hash, ((const struct hashed *)b)->hash,
	    SP_NSEC3_HASH);
}

/* prev's NSEC3 at the same hashed owner, for signature reuse. */
static const sp_rrset *
prev_nsec3(const sp_zone *prev, const uint8_t *owner, size_t owner_len)
{
	size_t lo = 0, hi;

	if (prev == NULL)
		return NULL;
	hi = prev->nnsec3;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const sp_nsec3 *n = &prev->nsec3[mid];
		int c = memcmp(n->owner, owner, owner_len < n->owner_len ? owner_len : n->owner_len);
		if (c == 0 && n->owner_len == owner_len)
			return &n->rrset;
		if (c < 0 || (c == 0 && n->owner_len < owner_len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
one_rr(sp_rrset *rs, uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
	memset(rs, 0, sizeof(*rs));
	rs->type = type;
	rs->ttl = ttl;
	rs->count = 1;
	rs->rdata_len = rdlen + 2;
	if ((rs->rdata = malloc(rdlen + 2)) == NULL)
		return SP_ENOMEM;
	rs->rdata[0] = (uint8_t)(rdlen >> 8);
	rs->rdata[1] = (uint8_t)rdlen;
	memcpy(rs->rdata + 2, rdata, rdlen);
	return SP_OK;
}

/*
 * One NSEC3 per name, empty non-terminals included, in hash order, each
 * pointing at the next; signed like every other RRset, so a change
 * re-signs only the records whose data changed (a new name changes its
 * own NSEC3 and its predecessor's next-hash).
 */
static int
build_nsec3(sp_zone *z, const sp_key *const *zsk, const sp_zone *prev, int64_t now)
{
	struct hashed *h;
	int rc;

	if ((rc = one_rr(&z->nsec3param, SP_T_NSEC3PARAM, 0, nsec3param_rdata,
	    sizeof(nsec3param_rdata))) != SP_OK ||
	    (rc = sign_rrset(z, z->apex, z->apex_len, &z->nsec3param, zsk, 1,
	    prev != NULL ? &prev->nsec3param : NULL, now)) != SP_OK)
		return rc;
	if (z->nnodes == 0)
		return SP_OK;
	if ((h = calloc(z->nnodes, sizeof(*h))) == NULL ||
	    (z->nsec3 = calloc(z->nnodes, sizeof(*z->nsec3))) == NULL) {
		free(h);
		return SP_ENOMEM;
	}
	for (size_t i = 0; i < z->nnodes; i++) {
		h[i].node = &z->nodes[i];
		if ((rc = nsec3_hash(h[i].node->name, h[i].node->name_len, h[i].hash)) != SP_OK)
			goto out;
	}
	qsort(h, z->nnodes, sizeof(*h), cmp_hashed);
	for (size_t i = 0; i < z->nnodes; i++) {
		const sp_node *node = h[i].node;
		sp_nsec3 *n = &z->nsec3[z->nnsec3++];
		uint16_t types[70];
		size_t nt = 0, bl, ll;
		uint8_t rd[6 + SP_NSEC3_HASH + 512];

		for (size_t k = 0; k < node->nrrsets && nt < 64; k++)
			types[nt++] = node->rrsets[k].type;
		if (node->nrrsets > 0)
			types[nt++] = SP_T_RRSIG;
		if (node == &z->nodes[0])
			types[nt++] = SP_T_NSEC3PARAM;
		memcpy(rd, nsec3param_rdata, 4);   /* SHA-1, flags, iterations */
		rd[4] = 0;                          /* no salt */
		rd[5] = SP_NSEC3_HASH;
		memcpy(rd + 6, h[(i + 1) % z->nnodes].hash, SP_NSEC3_HASH);
		bl = nt ? sp_nsec_bitmap(types, nt, rd + 6 + SP_NSEC3_HASH,
		    sizeof(rd) - 6 - SP_NSEC3_HASH) : 0;
		ll = base32hex(h[i].hash, SP_NSEC3_HASH, n->owner + 1);
		n->owner[0] = (uint8_t)ll;
		memcpy(n->owner + 1 + ll, z->apex, z->apex_len);
		n->owner_len = 1 + ll + z->apex_len;
		if ((rc = one_rr(&n->rrset, SP_T_NSEC3, z->neg_ttl, rd,
		    6 + SP_NSEC3_HASH + bl)) != SP_OK ||
		    (rc = sign_rrset(z, n->owner, n->owner_len, &n->rrset, zsk, 1,
		    prev_nsec3(prev, n->owner, n->owner_len), now)) != SP_OK)
			goto out;
		if (n->rrset.sig_refresh < z->next_refresh)
			z->next_refresh = n->rrset.sig_refresh;
	}
	if (z->nsec3param.sig_refresh < z->next_refresh)
		z->next_refresh = z->nsec3param.sig_refresh;
out:
	free(h);
	return rc;
}

int
sp_zone_finish(sp_zone_builder *b, const sp_zone_signers *signers,
    const sp_sign_policy *policy, int64_t now, const sp_zone *prev, sp_zone **out)
{
	sp_zone *z = NULL;
	size_t i, j;
	int rc;

	if ((rc = add_empty_nonterminals(b)) != SP_OK)
		goto out;
	if (b->n > 0)
		qsort(b->recs, b->n, sizeof(*b->recs), cmp_recs);
	if ((z = calloc(1, sizeof(*z))) == NULL) {
		rc = SP_ENOMEM;
		goto out;
	}
	atomic_init(&z->refs, 1);
	memcpy(z->apex, b->apex, b->apex_len);
	z->apex_len = b->apex_len;
	z->policy = *policy;
	z->zsk = signers->zsk;
	z->next_refresh = UINT32_MAX;

	/* Count nodes, then fill them. */
	size_t nnodes = 0;
	for (i = 0; i < b->n; i++)
		if (i == 0 || sp_dname_cmp(b->recs[i].owner, b->recs[i - 1].owner) != 0)
			nnodes++;
	if ((z->nodes = calloc(nnodes ? nnodes : 1, sizeof(*z->nodes))) == NULL) {
		rc = SP_ENOMEM;
		goto out;
	}
	for (i = 0; i < b->n; i = j) {
		sp_node *node = &z->nodes[z->nnodes++];

		for (j = i; j < b->n && sp_dname_cmp(b->recs[j].owner, b->recs[i].owner) == 0; j++)
			;
		/* j - i records bound the number of RRsets at this node. */
		if ((node->rrsets = calloc(j - i, sizeof(*node->rrsets))) == NULL) {
			rc = SP_ENOMEM;
			goto out;
		}
		node->name = b->recs[i].owner;
		node->name_len = b->recs[i].owner_len;
		b->recs[i].owner = NULL;
		for (size_t k = i; k < j; k++) {
			struct rec *r = &b->recs[k];
			sp_rrset *rs;

			if (r->type == 0)
				continue;
			if (k > i && b->recs[k - 1].type == r->type &&
			    cmp_rdata(b->recs[k - 1].rdata, b->recs[k - 1].rdlen, r->rdata, r->rdlen) == 0)
				continue;   /* duplicate RR */
			if (node->nrrsets == 0 || node->rrsets[node->nrrsets - 1].type != r->type) {
				rs = &node->rrsets[node->nrrsets++];
				rs->type = r->type;
				rs->ttl = r->ttl;
			} else {
				rs = &node->rrsets[node->nrrsets - 1];
			}
			uint8_t *nr = realloc(rs->rdata, rs->rdata_len + 2 + r->rdlen);
			if (nr == NULL) {
				rc = SP_ENOMEM;
				goto out;
			}
			rs->rdata = nr;
			nr[rs->rdata_len] = (uint8_t)(r->rdlen >> 8);
			nr[rs->rdata_len + 1] = (uint8_t)r->rdlen;
			memcpy(nr + rs->rdata_len + 2, r->rdata, r->rdlen);
			rs->rdata_len += 2 + r->rdlen;
			rs->count++;
		}
	}

	/* The SOA gives the serial and the negative TTL. */
	const sp_node *apex = z->nnodes > 0 && sp_dname_cmp(z->nodes[0].name, z->apex) == 0 ?
	    &z->nodes[0] : NULL;
	const sp_rrset *soa = apex ? sp_node_rrset(apex, SP_T_SOA) : NULL;
	if (soa == NULL || soa->count != 1 || soa->rdata_len < 2 + 22) {
		rc = SP_EINVAL;
		goto out;
	}
	{
		const uint8_t *end = soa->rdata + soa->rdata_len;
		z->serial = (uint32_t)end[-20] << 24 | (uint32_t)end[-19] << 16 |
		    (uint32_t)end[-18] << 8 | end[-17];
		uint32_t minimum = (uint32_t)end[-4] << 24 | (uint32_t)end[-3] << 16 |
		    (uint32_t)end[-2] << 8 | end[-1];
		z->neg_ttl = soa->ttl < minimum ? soa->ttl : minimum;
	}

	/* Sign every RRset and every node's NSEC. */
	const sp_key *zsk[1] = { signers->zsk };
	for (i = 0; i < z->nnodes; i++) {
		sp_node *node = &z->nodes[i];
		for (size_t k = 0; k < node->nrrsets; k++) {
			sp_rrset *rs = &node->rrsets[k];
			int by_ksk = rs->type == SP_T_DNSKEY || rs->type == SP_T_CDS ||
			    rs->type == SP_T_CDNSKEY;
			rc = sign_rrset(z, node->name, node->name_len, rs,
			    by_ksk ? signers->ksk : zsk, by_ksk ? signers->nksk : 1,
			    prev_rrset(prev, node, rs->type), now);
			if (rc != SP_OK)
				goto out;
			if (rs->sig_refresh < z->next_refresh)
				z->next_refresh = rs->sig_refresh;
		}
		if ((rc = make_nsec(node, z->neg_ttl)) != SP_OK ||
		    (rc = sign_rrset(z, node->name, node->name_len, &node->nsec, zsk, 1,
		    prev_rrset(prev, node, SP_T_NSEC), now)) != SP_OK)
			goto out;
		if (node->nsec.sig_refresh < z->next_refresh)
			z->next_refresh = node->nsec.sig_refresh;
	}
	if ((rc = index_nodes(z)) == SP_OK)
		rc = build_nsec3(z, zsk, prev, now);
out:
	sp_zone_builder_free(b);
	if (rc != SP_OK) {
		sp_zone_free(z);
		return rc;
	}
	*out = z;
	return SP_OK;
}

sp_zone *
sp_zone_hold(sp_zone *z)
{
	atomic_fetch_add(&z->refs, 1);
	return z;
}

void
sp_zone_free(sp_zone *z)
{
	if (z == NULL || atomic_fetch_sub(&z->refs, 1) != 1)
		return;
	for (size_t i = 0; i < z->nnsec3; i++)
		rrset_free(&z->nsec3[i].rrset);
	free(z->nsec3);
	rrset_free(&z->nsec3param);
	for (size_t i = 0; i < z->nnodes; i++) {
		for (size_t k = 0; k < z->nodes[i].nrrsets; k++)
			rrset_free(&z->nodes[i].rrsets[k]);
		rrset_free(&z->nodes[i].nsec);
		free(z->nodes[i].rrsets);
		free(z->nodes[i].name);
	}
	free(z->nodes);
	free(z->index);
	free(z);
}

const uint8_t *
sp_zone_apex(const sp_zone *z, size_t *len)
{
	*len = z->apex_len;
	return z->apex;
}

uint32_t sp_zone_serial(const sp_zone *z) { return z->serial; }
size_t sp_zone_node_count(const sp_zone *z) { return z->nnodes; }
const sp_node *sp_zone_node(const sp_zone *z, size_t i) { return &z->nodes[i]; }
uint32_t sp_zone_neg_ttl(const sp_zone *z) { return z->neg_ttl; }
uint32_t sp_zone_next_refresh(const sp_zone *z) { return z->next_refresh; }
size_t sp_zone_signed_count(const sp_zone *z) { return z->signed_count; }
const sp_key *sp_zone_zsk(const sp_zone *z) { return z->zsk; }
const sp_sign_policy *sp_zone_policy(const sp_zone *z) { return &z->policy; }
const sp_rrset *sp_zone_nsec3param(const sp_zone *z) { return &z->nsec3param; }
size_t sp_zone_nsec3_count(const sp_zone *z) { return z->nnsec3; }
const sp_nsec3 *sp_zone_nsec3(const sp_zone *z, size_t i) { return &z->nsec3[i]; }
