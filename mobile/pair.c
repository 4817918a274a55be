/*
 * The pairing exchange (see sp_pair.h and docs/pairing.md):
 *
 *   Noise_IKpsk1_25519_ChaChaPoly_BLAKE2s
 *     <- s
 *     ...
 *     -> e, es, s, ss, psk      the request: the device's key, its name
 *     <- e, ee, se              the response: the device's settings
 *
 * The prologue binds the message header and the token's id. The PSK is
 * BLAKE2s of the token, so it is 32 bytes whatever the token's length.
 */
#include "sp_pair.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sp_wg_crypto.h"
#include "sp_wire.h"

static const char protocol[] = "Noise_IKpsk1_25519_ChaChaPoly_BLAKE2s";
static const char prologue_label[] = "signpost-pair-v1";
static const char psk_label[] = "signpost-pair-psk-v1";
static const char error_label[] = "signpost-pair-error-v1";

#define HDR 4
#define REQ_FIXED (HDR + SP_PAIR_TOKEN_ID + 32 + 32 + SP_WG_TAG)
#define RESP_FIXED (HDR + SP_PAIR_TOKEN_ID + 32)
#define PAYLOAD_MAX (SP_PAIR_MSG_MAX - REQ_FIXED - SP_WG_TAG)

/* Settings in a response: type, 16-bit length, value; unknown types are
 * skipped, so a newer gateway can add some. */
enum {
	T_ZONE = 1, T_NAME, T_PREFIX, T_GATEWAY_ADDR, T_GATEWAY_KEY, T_CONTROL_PORT,
	T_ENDPOINT, T_DNSKEY,
};

void
sp_pair_wipe(sp_pair_state *st)
{
	sodium_memzero(st, sizeof(*st));
}

const char *
sp_pair_code_name(enum sp_pair_code code)
{
	switch (code) {
	case SP_PAIR_E_MALFORMED: return "malformed";
	case SP_PAIR_E_UNKNOWN_TOKEN: return "unknown-token";
	case SP_PAIR_E_EXPIRED: return "expired";
	case SP_PAIR_E_USED: return "used";
	case SP_PAIR_E_FORGED: return "forged";
	case SP_PAIR_E_NAME_TAKEN: return "name-taken";
	case SP_PAIR_E_REVOKED: return "revoked";
	case SP_PAIR_E_BUSY: return "busy";
	case SP_PAIR_E_INTERNAL: return "internal";
	case SP_PAIR_E_MEMBER: return "already-a-member";
	}
	return "error";
}

/* ---- Noise's symmetric state ----------------------------------------------- */

static void
mix_hash(sp_pair_state *st, const void *data, size_t len)
{
	sp_wg_hash(st->h, st->h, sizeof(st->h), data, len);
}

static void
mix_key(sp_pair_state *st, const uint8_t *ikm, size_t len)
{
	sp_wg_kdf(st->ck, ikm, len, st->ck, st->k, NULL);
}

static void
mix_key_and_hash(sp_pair_state *st, const uint8_t ikm[32])
{
	uint8_t th[32];

	sp_wg_kdf(st->ck, ikm, 32, st->ck, th, st->k);
	mix_hash(st, th, sizeof(th));
	sodium_memzero(th, sizeof(th));
}

/* Every key encrypts one message, so the nonce is always 0. */
static void
encrypt_and_hash(sp_pair_state *st, const uint8_t *pt, size_t len, uint8_t *out)
{
	sp_wg_aead_seal(out, st->k, 0, pt, len, st->h, sizeof(st->h));
	mix_hash(st, out, len + SP_WG_TAG);
}

static int
decrypt_and_hash(sp_pair_state *st, const uint8_t *ct, size_t len, uint8_t *out)
{
	if (len < SP_WG_TAG || sp_wg_aead_open(out, st->k, 0, ct, len, st->h, sizeof(st->h)) != SP_OK)
		return SP_ECRYPTO;
	mix_hash(st, ct, len);
	return SP_OK;
}

/* DH into the chaining key; SP_ECRYPTO for a low-order point. */
static int
mix_dh(sp_pair_state *st, const uint8_t priv[32], const uint8_t pub[32])
{
	uint8_t dh[32];
	int rc = sp_wg_dh(dh, priv, pub);

	if (rc == SP_OK)
		mix_key(st, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return rc;
}

/* The ephemeral token: in a PSK handshake it is mixed into the key too. */
static void
mix_ephemeral(sp_pair_state *st, const uint8_t pub[32])
{
	mix_hash(st, pub, 32);
	mix_key(st, pub, 32);
}

static void
header(uint8_t *out, enum sp_pair_type type)
{
	out[0] = SP_PAIR_MAGIC;
	out[1] = (uint8_t)type;
	out[2] = SP_PAIR_VERSION;
	out[3] = 0;
}

/* Protocol name, prologue (the request's header and token id), the
 * responder's static. */
static void
initialize(sp_pair_state *st, const uint8_t token_id[SP_PAIR_TOKEN_ID], const uint8_t rs[32])
{
	uint8_t pro[sizeof(prologue_label) - 1 + HDR + SP_PAIR_TOKEN_ID];

	sp_wg_hash(st->h, protocol, sizeof(protocol) - 1, NULL, 0);
	memcpy(st->ck, st->h, sizeof(st->ck));
	memcpy(pro, prologue_label, sizeof(prologue_label) - 1);
	header(pro + sizeof(prologue_label) - 1, SP_PAIR_REQUEST);
	memcpy(pro + sizeof(prologue_label) - 1 + HDR, token_id, SP_PAIR_TOKEN_ID);
	mix_hash(st, pro, sizeof(pro));
	mix_hash(st, rs, 32);
	memcpy(st->token_id, token_id, SP_PAIR_TOKEN_ID);
}

static void
psk_of(const uint8_t token[SP_PAIR_TOKEN], uint8_t psk[32])
{
	sp_wg_hash(psk, psk_label, sizeof(psk_label) - 1, token, SP_PAIR_TOKEN);
}

int
sp_pair_peek(const uint8_t *msg, size_t len, enum sp_pair_type *type,
    uint8_t token_id[SP_PAIR_TOKEN_ID], uint8_t e_init[32])
{
	sp_wire r = sp_wire_reader(msg, len);
	uint8_t magic = sp_wire_u8(&r), t = sp_wire_u8(&r), v = sp_wire_u8(&r);
	uint8_t reserved = sp_wire_u8(&r);

	sp_wire_read(&r, token_id, SP_PAIR_TOKEN_ID);
	sp_wire_read(&r, e_init, 32);
	if (sp_wire_err(&r) != SP_OK || magic != SP_PAIR_MAGIC || v != SP_PAIR_VERSION ||
	    reserved != 0 || t < SP_PAIR_REQUEST || t > SP_PAIR_ERROR)
		return SP_EPROTO;
	*type = (enum sp_pair_type)t;
	return SP_OK;
}

/* ---- the device ------------------------------------------------------------ */

int
sp_pair_request_make(sp_pair_state *st, const sp_pair_uri *u, const uint8_t s_priv[32],
    const uint8_t device_key[SP_KEY_PUBLIC_BYTES], const sp_rng *rng, uint8_t *out,
    size_t *len)
{
	uint8_t payload[1 + 63 + SP_KEY_PUBLIC_BYTES], psk[32];
	size_t nl = strlen(u->name), plen;
	sp_wire w = sp_wire_writer(out, SP_PAIR_MSG_MAX);
	int rc;

	memset(st, 0, sizeof(*st));
	if (nl == 0 || nl > 63 || sp_key_x25519_public(u->gateway_key, st->rs) != SP_OK)
		return SP_EINVAL;
	memcpy(st->gateway_key, u->gateway_key, sizeof(st->gateway_key));
	memcpy(st->s_priv, s_priv, 32);
	sp_wg_pubkey(st->s_pub, s_priv);
	sp_pair_token_id(u->token, st->token_id);
	initialize(st, st->token_id, st->rs);

	header(out, SP_PAIR_REQUEST);
	sp_wire_skip(&w, HDR);
	sp_wire_put(&w, st->token_id, SP_PAIR_TOKEN_ID);
	/* -> e */
	sp_wg_genkey(rng, st->e_priv);
	sp_wg_pubkey(st->e_pub, st->e_priv);
	sp_wire_put(&w, st->e_pub, 32);
	mix_ephemeral(st, st->e_pub);
	/* es, s, ss */
	if ((rc = mix_dh(st, st->e_priv, st->rs)) != SP_OK)
		return rc;
	encrypt_and_hash(st, st->s_pub, 32, out + sp_wire_used(&w));
	sp_wire_skip(&w, 32 + SP_WG_TAG);
	if ((rc = mix_dh(st, st->s_priv, st->rs)) != SP_OK)
		return rc;
	/* psk */
	psk_of(u->token, psk);
	mix_key_and_hash(st, psk);
	sodium_memzero(psk, sizeof(psk));
	/* payload: the name asked for and the device's identity key */
	payload[0] = (uint8_t)nl;
	memcpy(payload + 1, u->name, nl);
	memcpy(payload + 1 + nl, device_key, SP_KEY_PUBLIC_BYTES);
	plen = 1 + nl + SP_KEY_PUBLIC_BYTES;
	if (!sp_wire_need(&w, plen + SP_WG_TAG))
		return SP_ESPACE;
	encrypt_and_hash(st, payload, plen, out + sp_wire_used(&w));
	sp_wire_skip(&w, plen + SP_WG_TAG);
	*len = sp_wire_used(&w);
	return sp_wire_err(&w);
}

int
sp_pair_settings_decode(const uint8_t *p, size_t len, sp_pair_settings *s)
{
	sp_wire r = sp_wire_reader(p, len);

	memset(s, 0, sizeof(*s));
	while (sp_wire_left(&r) > 0) {
		uint8_t t = sp_wire_u8(&r);
		uint16_t l = sp_wire_u16(&r);
		const uint8_t *v = sp_wire_view(&r, l);

		if (v == NULL)
			return SP_EPROTO;
		switch (t) {
		case T_ZONE:
		case T_NAME:
		case T_ENDPOINT: {
			char *dst = t == T_ZONE ? s->zone : t == T_NAME ? s->name :
			    s->nendpoints < SP_PAIR_MAX_ENDPOINTS ? s->endpoint[s->nendpoints++] : NULL;
			size_t cap = t == T_ZONE ? sizeof(s->zone) : t == T_NAME ? sizeof(s->name) :
			    SP_PAIR_ENDPOINT_MAX;
			if (dst == NULL)
				break;
			if (l == 0 || l >= cap || memchr(v, '\0', l) != NULL)
				return SP_EPROTO;
			memcpy(dst, v, l);
			dst[l] = '\0';
			break;
		}
		case T_PREFIX:
			if (l != sizeof(s->prefix))
				return SP_EPROTO;
			memcpy(s->prefix, v, l);
			break;
		case T_GATEWAY_ADDR:
			if (l != sizeof(s->gateway_addr))
				return SP_EPROTO;
			memcpy(s->gateway_addr, v, l);
			break;
		case T_GATEWAY_KEY:
			if (l != sizeof(s->gateway_key))
				return SP_EPROTO;
			memcpy(s->gateway_key, v, l);
			break;
		case T_CONTROL_PORT:
			if (l != 2)
				return SP_EPROTO;
			s->control_port = (uint16_t)(v[0] << 8 | v[1]);
			break;
		case T_DNSKEY:
			if (l != SP_DNSKEY_RDATA_BYTES)
				return SP_EPROTO;
			if (s->ndnskeys < SP_PAIR_MAX_DNSKEYS)
				memcpy(s->dnskey[s->ndnskeys++], v, l);
			break;
		default:
			break;
		}
	}
	if (sp_wire_err(&r) != SP_OK || s->zone[0] == '\0' || s->name[0] == '\0' ||
	    s->ndnskeys == 0 || s->control_port == 0)
		return SP_EPROTO;
	return SP_OK;
}

/* A refusal: the gateway's signature over everything before it. */
static int
error_read(const sp_pair_state *st, const uint8_t *msg, size_t len, enum sp_pair_code *code,
    char *reason, size_t rcap)
{
	sp_wire r = sp_wire_reader(msg, len);
	uint8_t signed_part[sizeof(error_label) - 1 + SP_PAIR_MSG_MAX];
	uint8_t c, rl;
	const uint8_t *text, *sig;
	size_t body;

	sp_wire_skip(&r, HDR + SP_PAIR_TOKEN_ID + 32);
	c = sp_wire_u8(&r);
	rl = sp_wire_u8(&r);
	text = sp_wire_view(&r, rl);
	body = sp_wire_used(&r);
	sig = sp_wire_view(&r, SP_KEY_SIG_BYTES);
	if (sp_wire_err(&r) != SP_OK || sp_wire_left(&r) != 0 || text == NULL || sig == NULL ||
	    memcmp(msg + HDR + SP_PAIR_TOKEN_ID, st->e_pub, 32) != 0)
		return SP_EPROTO;
	memcpy(signed_part, error_label, sizeof(error_label) - 1);
	memcpy(signed_part + sizeof(error_label) - 1, msg, body);
	if (sp_key_verify(st->gateway_key, signed_part, sizeof(error_label) - 1 + body, sig) !=
	    SP_OK)
		return SP_EPROTO;
	*code = (enum sp_pair_code)c;
	if (rcap > 0) {
		size_t n = rl < rcap - 1 ? rl : rcap - 1;
		for (size_t i = 0; i < n; i++)
			reason[i] = text[i] >= 0x20 && text[i] < 0x7f ? (char)text[i] : '?';
		reason[n] = '\0';
	}
	return SP_EPERM;
}

int
sp_pair_reply_read(sp_pair_state *st, const uint8_t *msg, size_t len,
    sp_pair_settings *out, enum sp_pair_code *code, char *reason, size_t rcap)
{
	enum sp_pair_type type;
	uint8_t id[SP_PAIR_TOKEN_ID], e[32], payload[SP_PAIR_MSG_MAX];
	sp_pair_state tmp;
	int rc;

	/* Longer than any reply: refused before a byte is decrypted into
	 * payload (SP_PAIR_MSG_MAX). */
	if (len > SP_PAIR_MSG_MAX || sp_pair_peek(msg, len, &type, id, e) != SP_OK ||
	    sodium_memcmp(id, st->token_id, SP_PAIR_TOKEN_ID) != 0)
		return SP_EPROTO;
	if (type == SP_PAIR_ERROR)
		return error_read(st, msg, len, code, reason, rcap);
	if (type != SP_PAIR_RESPONSE || len < RESP_FIXED + SP_WG_TAG)
		return SP_EPROTO;
	/* A forgery must not spoil the state for the real response. */
	tmp = *st;
	memcpy(tmp.re, e, 32);
	mix_ephemeral(&tmp, tmp.re);
	if ((rc = mix_dh(&tmp, tmp.e_priv, tmp.re)) != SP_OK ||
	    (rc = mix_dh(&tmp, tmp.s_priv, tmp.re)) != SP_OK ||
	    (rc = decrypt_and_hash(&tmp, msg + RESP_FIXED, len - RESP_FIXED, payload)) != SP_OK ||
	    (rc = sp_pair_settings_decode(payload, len - RESP_FIXED - SP_WG_TAG, out)) != SP_OK) {
		sp_pair_wipe(&tmp);
		sodium_memzero(payload, sizeof(payload));
		return SP_EPROTO;
	}
	*st = tmp;
	sp_pair_wipe(&tmp);
	sodium_memzero(payload, sizeof(payload));
	return SP_OK;
}

/* Is DNSKEY i one the code's DS names? */
static int
vouched(const sp_pair_settings *s, size_t i, const sp_pair_uri *u)
{
	uint16_t flags = (uint16_t)(s->dnskey[i][0] << 8 | s->dnskey[i][1]);
	uint8_t digest[SP_DS_SHA256_BYTES];
	uint16_t tag = sp_keytag(s->dnskey[i], SP_DNSKEY_RDATA_BYTES);

	if (!(flags & SP_DNSKEY_FLAG_SEP) || sp_ds_sha256(u->zone, s->dnskey[i], digest) != SP_OK)
		return 0;
	for (size_t k = 0; k < u->nds; k++)
		if (u->ds[k].tag == tag && sodium_memcmp(u->ds[k].digest, digest, sizeof(digest)) ==
		    0)
			return 1;
	return 0;
}

size_t
sp_pair_anchor_keys(const sp_pair_settings *s, const sp_pair_uri *u,
    uint8_t out[][SP_DNSKEY_RDATA_BYTES], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->ndnskeys && n < max; i++)
		if (vouched(s, i, u))
			memcpy(out[n++], s->dnskey[i], SP_DNSKEY_RDATA_BYTES);
	return n;
}

int
sp_pair_check_anchor(const sp_pair_settings *s, const sp_pair_uri *u, sp_errmsg *e)
{
	for (size_t i = 0; i < s->ndnskeys; i++)
		if (vouched(s, i, u))
			return SP_OK;
	return sp_errf(e, SP_ECRYPTO, "the zone's keys the gateway sent do not match the DS "
	    "in the pairing code: not the gateway the code was made for");
}

/* ---- the gateway ------------------------------------------------------------ */

int
sp_pair_request_open(sp_pair_state *st, const uint8_t gw_priv[32], const uint8_t gw_pub[32],
    const uint8_t token[SP_PAIR_TOKEN], const uint8_t *msg, size_t len, sp_pair_request *req)
{
	uint8_t id[SP_PAIR_TOKEN_ID], e[32], psk[32], payload[PAYLOAD_MAX], x[32];
	enum sp_pair_type type;
	size_t plen;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(req, 0, sizeof(*req));
	if (sp_pair_peek(msg, len, &type, id, e) != SP_OK || type != SP_PAIR_REQUEST ||
	    len < REQ_FIXED + SP_WG_TAG || len > SP_PAIR_MSG_MAX)
		return SP_EPROTO;
	initialize(st, id, gw_pub);
	memcpy(st->re, e, 32);
	mix_ephemeral(st, st->re);
	if (mix_dh(st, gw_priv, st->re) != SP_OK)
		return SP_EPROTO;
	if (decrypt_and_hash(st, msg + HDR + SP_PAIR_TOKEN_ID + 32, 32 + SP_WG_TAG, st->rs) !=
	    SP_OK)
		return SP_ECRYPTO;
	if (mix_dh(st, gw_priv, st->rs) != SP_OK)
		return SP_EPROTO;
	psk_of(token, psk);
	mix_key_and_hash(st, psk);
	sodium_memzero(psk, sizeof(psk));
	plen = len - REQ_FIXED - SP_WG_TAG;
	/* The MAC fails unless the request was made with this very token. */
	if ((rc = decrypt_and_hash(st, msg + REQ_FIXED, plen + SP_WG_TAG, payload)) != SP_OK) {
		sp_pair_wipe(st);
		return SP_ECRYPTO;
	}
	/* name length, name, the Ed25519 key whose X25519 form is s */
	if (plen < 1 + SP_KEY_PUBLIC_BYTES || payload[0] == 0 || payload[0] > 63 ||
	    plen != 1u + payload[0] + SP_KEY_PUBLIC_BYTES) {
		sp_pair_wipe(st);
		return SP_EPROTO;
	}
	memcpy(req->name, payload + 1, payload[0]);
	req->name[payload[0]] = '\0';
	memcpy(req->device_key, payload + 1 + payload[0], SP_KEY_PUBLIC_BYTES);
	if (sp_key_x25519_public(req->device_key, x) != SP_OK ||
	    sodium_memcmp(x, st->rs, 32) != 0) {
		sp_pair_wipe(st);
		return SP_EPROTO;
	}
	memcpy(req->device_x25519, st->rs, 32);
	memcpy(req->token_id, id, SP_PAIR_TOKEN_ID);
	return SP_OK;
}

static void
put_tlv(sp_wire *w, uint8_t type, const void *v, size_t len)
{
	sp_wire_put_u8(w, type);
	sp_wire_put_u16(w, (uint16_t)len);
	sp_wire_put(w, v, len);
}

int
sp_pair_response_make(sp_pair_state *st, const sp_pair_settings *s, const sp_rng *rng,
    uint8_t *out, size_t *len)
{
	uint8_t payload[PAYLOAD_MAX], port[2] = { (uint8_t)(s->control_port >> 8),
	    (uint8_t)s->control_port };
	sp_wire p = sp_wire_writer(payload, sizeof(payload));
	int rc;

	put_tlv(&p, T_ZONE, s->zone, strlen(s->zone));
	put_tlv(&p, T_NAME, s->name, strlen(s->name));
	put_tlv(&p, T_PREFIX, s->prefix, sizeof(s->prefix));
	put_tlv(&p, T_GATEWAY_ADDR, s->gateway_addr, sizeof(s->gateway_addr));
	put_tlv(&p, T_GATEWAY_KEY, s->gateway_key, sizeof(s->gateway_key));
	put_tlv(&p, T_CONTROL_PORT, port, sizeof(port));
	for (size_t i = 0; i < s->nendpoints; i++)
		put_tlv(&p, T_ENDPOINT, s->endpoint[i], strlen(s->endpoint[i]));
	for (size_t i = 0; i < s->ndnskeys; i++)
		put_tlv(&p, T_DNSKEY, s->dnskey[i], SP_DNSKEY_RDATA_BYTES);
	if (sp_wire_err(&p) != SP_OK)
		return SP_ESPACE;
	header(out, SP_PAIR_RESPONSE);
	memcpy(out + HDR, st->token_id, SP_PAIR_TOKEN_ID);
	/* <- e, ee, se */
	sp_wg_genkey(rng, st->e_priv);
	sp_wg_pubkey(st->e_pub, st->e_priv);
	memcpy(out + HDR + SP_PAIR_TOKEN_ID, st->e_pub, 32);
	mix_ephemeral(st, st->e_pub);
	if ((rc = mix_dh(st, st->e_priv, st->re)) != SP_OK ||
	    (rc = mix_dh(st, st->e_priv, st->rs)) != SP_OK)
		return rc;
	encrypt_and_hash(st, payload, sp_wire_used(&p), out + RESP_FIXED);
	*len = RESP_FIXED + sp_wire_used(&p) + SP_WG_TAG;
	sodium_memzero(payload, sizeof(payload));
	return SP_OK;
}

int
sp_pair_error_make(const sp_key *gateway, const uint8_t token_id[SP_PAIR_TOKEN_ID],
    const uint8_t e_init[32], enum sp_pair_code code, const char *reason, uint8_t *out,
    size_t *len)
{
	uint8_t signed_part[sizeof(error_label) - 1 + SP_PAIR_MSG_MAX];
	size_t rl = strlen(reason) > 200 ? 200 : strlen(reason);
	sp_wire w = sp_wire_writer(out, SP_PAIR_MSG_MAX);
	size_t body;
	int rc;

	header(out, SP_PAIR_ERROR);
	sp_wire_skip(&w, HDR);
	sp_wire_put(&w, token_id, SP_PAIR_TOKEN_ID);
	sp_wire_put(&w, e_init, 32);
	sp_wire_put_u8(&w, (uint8_t)code);
	sp_wire_put_u8(&w, (uint8_t)rl);
	sp_wire_put(&w, reason, rl);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	body = sp_wire_used(&w);
	memcpy(signed_part, error_label, sizeof(error_label) - 1);
	memcpy(signed_part + sizeof(error_label) - 1, out, body);
	if (!sp_wire_need(&w, SP_KEY_SIG_BYTES))
		return SP_ESPACE;
	if ((rc = sp_key_sign(gateway, signed_part, sizeof(error_label) - 1 + body,
	    out + body)) != SP_OK)
		return rc;
	*len = body + SP_KEY_SIG_BYTES;
	return SP_OK;
}
