/* TSIG with HMAC-SHA256 (see sp_tsig.h). */
#include "sp_tsig.h"

#include <sodium.h>
#include <string.h>

/* "hmac-sha256." in wire form, the only algorithm accepted. */
static const uint8_t hmac_sha256[] = "\013hmac-sha256";
#define HMAC_SHA256_LEN sizeof(hmac_sha256)   /* with the root label */
#define CLASS_ANY 255

int
sp_tsig_key_set(sp_tsig_key *k, const char *name, const char *secret_b64)
{
	size_t got;

	memset(k, 0, sizeof(*k));
	if (sp_dname_from_text(name, k->name, &k->name_len) != SP_OK ||
	    sodium_base642bin(k->secret, sizeof(k->secret), secret_b64, strlen(secret_b64),
	    NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got == 0) {
		sp_tsig_key_wipe(k);
		return SP_EINVAL;
	}
	k->secret_len = got;
	return SP_OK;
}

void
sp_tsig_key_wipe(sp_tsig_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

const char *
sp_tsig_error_name(int error)
{
	switch (error) {
	case SP_TSIG_OK: return "NOERROR";
	case SP_TSIG_BADSIG: return "BADSIG";
	case SP_TSIG_BADKEY: return "BADKEY";
	case SP_TSIG_BADTIME: return "BADTIME";
	default: return "error";
	}
}

static void
put_u48(sp_wire *w, uint64_t v)
{
	sp_wire_put_u16(w, (uint16_t)(v >> 32));
	sp_wire_put_u32(w, (uint32_t)v);
}

/*
 * The TSIG variables the MAC covers (RFC 8945 4.3.3), or with timers_only
 * just Time Signed and Fudge (4.3.1, later messages of a transfer).
 */
static size_t
variables(uint8_t *out, size_t cap, const sp_tsig_state *st, uint64_t time_signed,
    uint16_t error, const uint8_t *other, uint16_t other_len, int timers_only)
{
	sp_wire w = sp_wire_writer(out, cap);

	if (!timers_only) {
		sp_wire_put(&w, st->key_name, st->key_name_len);
		sp_wire_put_u16(&w, CLASS_ANY);
		sp_wire_put_u32(&w, 0);
		sp_wire_put(&w, st->alg, st->alg_len);
	}
	put_u48(&w, time_signed);
	sp_wire_put_u16(&w, st->fudge);
	if (!timers_only) {
		sp_wire_put_u16(&w, error);
		sp_wire_put_u16(&w, other_len);
		sp_wire_put(&w, other, other_len);
	}
	return sp_wire_err(&w) == SP_OK ? sp_wire_used(&w) : 0;
}

/* HMAC-SHA256 over (prefix MAC, message with a patched header, variables). */
static void
compute_mac(const sp_tsig_key *key, const uint8_t *prior, size_t prior_len,
    const uint8_t *msg, size_t len, uint16_t id, uint16_t arcount,
    const uint8_t *vars, size_t vars_len, uint8_t mac[SP_TSIG_MAC])
{
	crypto_auth_hmacsha256_state h;
	uint8_t hdr[SP_DNS_HEADER], plen[2];

	crypto_auth_hmacsha256_init(&h, key->secret, key->secret_len);
	if (prior != NULL) {
		plen[0] = (uint8_t)(prior_len >> 8);
		plen[1] = (uint8_t)prior_len;
		crypto_auth_hmacsha256_update(&h, plen, 2);
		crypto_auth_hmacsha256_update(&h, prior, prior_len);
	}
	memcpy(hdr, msg, SP_DNS_HEADER);
	hdr[0] = (uint8_t)(id >> 8);
	hdr[1] = (uint8_t)id;
	hdr[10] = (uint8_t)(arcount >> 8);
	hdr[11] = (uint8_t)arcount;
	crypto_auth_hmacsha256_update(&h, hdr, SP_DNS_HEADER);
	crypto_auth_hmacsha256_update(&h, msg + SP_DNS_HEADER, len - SP_DNS_HEADER);
	crypto_auth_hmacsha256_update(&h, vars, vars_len);
	crypto_auth_hmacsha256_final(&h, mac);
	sodium_memzero(&h, sizeof(h));
}

/* Skip one RR (owner possibly compressed); the type is returned. */
static uint16_t
skip_rr(sp_wire *r)
{
	uint16_t type, rdlen;

	sp_dname_skip(r);
	type = sp_wire_u16(r);
	sp_wire_skip(r, 6);
	rdlen = sp_wire_u16(r);
	sp_wire_skip(r, rdlen);
	return type;
}

void
sp_tsig_begin(sp_tsig_state *st, const sp_tsig_key *key, uint16_t id)
{
	memset(st, 0, sizeof(*st));
	st->key = 0;
	st->orig_id = id;
	memcpy(st->key_name, key->name, key->name_len);
	st->key_name_len = key->name_len;
	memcpy(st->alg, hmac_sha256, HMAC_SHA256_LEN);
	st->alg_len = HMAC_SHA256_LEN;
}

int
sp_tsig_verify(const uint8_t *msg, size_t len, const sp_tsig_key *keys, size_t nkeys,
    int64_t now, sp_tsig_state *st, size_t *tsig_at)
{
	sp_wire r = sp_wire_reader(msg, len);
	uint16_t qd, an, ns, ar, klass, rdlen, mac_size, error, other_len;
	uint8_t vars[2 * SP_DNAME_MAX + 64], want[SP_TSIG_MAC];
	const uint8_t *mac, *other;
	size_t at, rd_end, vlen;
	uint32_t ttl;
	int64_t skew;

	memset(st, 0, sizeof(*st));
	st->key = -1;
	if (len < SP_DNS_HEADER)
		return SP_EPROTO;
	sp_wire_skip(&r, 4);
	qd = sp_wire_u16(&r);
	an = sp_wire_u16(&r);
	ns = sp_wire_u16(&r);
	ar = sp_wire_u16(&r);
	if (ar == 0)
		return SP_ENOENT;
	for (unsigned i = 0; i < qd; i++) {
		sp_dname_skip(&r);
		sp_wire_skip(&r, 4);
	}
	for (unsigned i = 0; i + 1 < (unsigned)an + ns + ar; i++)
		if (skip_rr(&r) == SP_T_TSIG)
			return SP_EPROTO;   /* a TSIG anywhere but last */
	if (sp_wire_err(&r) != SP_OK)
		return SP_EPROTO;
	/* The last RR: is it a TSIG? */
	at = r.pos;
	if (sp_dname_read(&r, st->key_name, &st->key_name_len, NULL) != SP_OK)
		return sp_wire_err(&r) != SP_OK ? SP_EPROTO : SP_ENOENT;
	if (sp_wire_u16(&r) != SP_T_TSIG)
		return sp_wire_err(&r) != SP_OK ? SP_EPROTO : SP_ENOENT;
	klass = sp_wire_u16(&r);
	ttl = sp_wire_u32(&r);
	rdlen = sp_wire_u16(&r);
	rd_end = r.pos + rdlen;
	if (sp_dname_read(&r, st->alg, &st->alg_len, NULL) != SP_OK)
		return SP_EPROTO;
	st->time_signed = (uint64_t)sp_wire_u16(&r) << 32;
	st->time_signed |= sp_wire_u32(&r);
	st->fudge = sp_wire_u16(&r);
	mac_size = sp_wire_u16(&r);
	mac = sp_wire_view(&r, mac_size);
	st->orig_id = sp_wire_u16(&r);
	error = sp_wire_u16(&r);
	other_len = sp_wire_u16(&r);
	other = sp_wire_view(&r, other_len);
	if (sp_wire_err(&r) != SP_OK || r.pos != rd_end || r.pos != len ||
	    klass != CLASS_ANY || ttl != 0)
		return SP_EPROTO;
	(void)error;
	*tsig_at = at;

	/* 5.2.1: the key and its algorithm. */
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].name_len == st->key_name_len &&
		    memcmp(keys[i].name, st->key_name, st->key_name_len) == 0)
			st->key = (int)i;
	if (st->key < 0 || st->alg_len != HMAC_SHA256_LEN ||
	    memcmp(st->alg, hmac_sha256, HMAC_SHA256_LEN) != 0) {
		st->key = -1;
		st->error = SP_TSIG_BADKEY;
		return SP_OK;
	}
	/* 5.2.2: the MAC. A truncated one is refused: nothing here needs it. */
	vlen = variables(vars, sizeof(vars), st, st->time_signed, error, other, other_len, 0);
	if (vlen == 0)
		return SP_EPROTO;
	compute_mac(&keys[st->key], NULL, 0, msg, at, st->orig_id, (uint16_t)(ar - 1), vars, vlen,
	    want);
	if (mac_size != SP_TSIG_MAC || sodium_memcmp(want, mac, SP_TSIG_MAC) != 0) {
		st->error = SP_TSIG_BADSIG;
		return SP_OK;
	}
	memcpy(st->mac, mac, SP_TSIG_MAC);
	st->mac_len = SP_TSIG_MAC;
	/* 5.2.3: the time, within the request's own fudge. */
	skew = now - (int64_t)st->time_signed;
	if (skew > (int64_t)st->fudge || -skew > (int64_t)st->fudge) {
		st->error = SP_TSIG_BADTIME;
		return SP_OK;
	}
	st->error = SP_TSIG_OK;
	return SP_OK;
}

/* The TSIG RR after a message: owner, type, class, TTL, rdata. */
static void
put_tsig_rr(sp_wire *w, const sp_tsig_state *st, uint64_t time_signed, uint16_t fudge,
    const uint8_t *mac, uint16_t mac_len, uint16_t error, const uint8_t *other,
    uint16_t other_len)
{
	sp_wire_put(w, st->key_name, st->key_name_len);
	sp_wire_put_u16(w, SP_T_TSIG);
	sp_wire_put_u16(w, CLASS_ANY);
	sp_wire_put_u32(w, 0);
	sp_wire_put_u16(w, (uint16_t)(st->alg_len + 16 + mac_len + other_len));
	sp_wire_put(w, st->alg, st->alg_len);
	put_u48(w, time_signed);
	sp_wire_put_u16(w, fudge);
	sp_wire_put_u16(w, mac_len);
	sp_wire_put(w, mac, mac_len);
	sp_wire_put_u16(w, st->orig_id);
	sp_wire_put_u16(w, error);
	sp_wire_put_u16(w, other_len);
	sp_wire_put(w, other, other_len);
}

static void
bump_arcount(uint8_t *buf)
{
	uint16_t ar = (uint16_t)(buf[10] << 8 | buf[11]);

	ar++;
	buf[10] = (uint8_t)(ar >> 8);
	buf[11] = (uint8_t)ar;
}

int
sp_tsig_sign(uint8_t *buf, size_t *len, size_t cap, const sp_tsig_key *key,
    sp_tsig_state *st, int64_t now, int error)
{
	uint8_t vars[2 * SP_DNAME_MAX + 64], other[6], mac[SP_TSIG_MAC];
	uint16_t other_len = 0, arcount;
	/* 5.2.3: a BADTIME response keeps the request's time and tells ours. */
	uint64_t time_signed = error == SP_TSIG_BADTIME ? st->time_signed : (uint64_t)now;
	int first = st->messages == 0;
	size_t vlen;
	sp_wire w;

	if (*len < SP_DNS_HEADER)
		return SP_EINVAL;
	if (error == SP_TSIG_BADTIME) {
		sp_wire o = sp_wire_writer(other, sizeof(other));
		put_u48(&o, (uint64_t)now);
		other_len = sizeof(other);
	}
	if (first)
		st->fudge = SP_TSIG_FUDGE;
	vlen = variables(vars, sizeof(vars), st, time_signed, (uint16_t)error, other, other_len,
	    !first);
	if (vlen == 0)
		return SP_EINVAL;
	arcount = (uint16_t)(buf[10] << 8 | buf[11]);
	compute_mac(key, st->mac_len ? st->mac : NULL, st->mac_len, buf, *len,
	    (uint16_t)(buf[0] << 8 | buf[1]), arcount, vars, vlen, mac);
	w = sp_wire_writer(buf, cap);
	w.pos = *len;
	put_tsig_rr(&w, st, time_signed, st->fudge, mac, SP_TSIG_MAC, (uint16_t)error, other,
	    other_len);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	bump_arcount(buf);
	*len = sp_wire_used(&w);
	memcpy(st->mac, mac, SP_TSIG_MAC);
	st->mac_len = SP_TSIG_MAC;
	st->messages++;
	return SP_OK;
}

int
sp_tsig_append_error(uint8_t *buf, size_t *len, size_t cap, const sp_tsig_state *st,
    int64_t now)
{
	sp_wire w = sp_wire_writer(buf, cap);

	if (*len < SP_DNS_HEADER)
		return SP_EINVAL;
	w.pos = *len;
	put_tsig_rr(&w, st, (uint64_t)now, SP_TSIG_FUDGE, NULL, 0, (uint16_t)st->error, NULL, 0);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	bump_arcount(buf);
	*len = sp_wire_used(&w);
	return SP_OK;
}
