/*
 * The STUN Binding responder (sp_stun.h, docs/stun.md; RFC 8489).
 *
 * Written here rather than taken from libnice, whose STUN code the members'
 * ICE agents use: the gateway also runs as a static unikernel image without
 * GLib, and libnice ships no static library. A Binding responder is small
 * enough to own: walk the attributes, check the FINGERPRINT, write three.
 */
#include <string.h>

#include "sp_err.h"
#include "sp_stun.h"
#include "sp_wire.h"

enum {
	METHOD_BINDING = 0x001,
	CLASS_REQUEST = 0, CLASS_INDICATION = 1, CLASS_SUCCESS = 2, CLASS_ERROR = 3,
	TYPE_BINDING_SUCCESS = 0x0101,
	TYPE_BINDING_ERROR = 0x0111,
};

enum {
	ATTR_MAPPED_ADDRESS = 0x0001,
	ATTR_USERNAME = 0x0006,
	ATTR_MESSAGE_INTEGRITY = 0x0008,
	ATTR_ERROR_CODE = 0x0009,
	ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	ATTR_PRIORITY = 0x0024,
	ATTR_USE_CANDIDATE = 0x0025,
	ATTR_SOFTWARE = 0x8022,
	ATTR_FINGERPRINT = 0x8028,
	ATTR_OPTIONAL = 0x8000,      /* types from here on may be ignored */
};

#define FINGERPRINT_XOR 0x5354554eu
#define SOFTWARE "signpost"
#define REASON_420 "Unknown Attribute"

/* What the attribute walk learned of a request. */
struct request {
	uint8_t magic[4];            /* the cookie, or a classic id's first bytes */
	int classic;                 /* RFC 3489: no cookie */
	uint8_t txid[SP_STUN_TXID];
	uint16_t unknown[SP_STUN_MAX_UNKNOWN];
	size_t n_unknown;            /* listed in unknown[] */
	int any_unknown;             /* listed or not */
};

/*
 * The CRC-32 of ISO 3309 (the one zlib has), for FINGERPRINT (RFC 8489
 * section 14.7), four bits at a time from a 16-entry table. Our own
 * because the gateway image has no zlib, and STUN messages are short.
 */
static uint32_t
stun_crc32(const uint8_t *p, size_t n)
{
	static const uint32_t t[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
		0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		c = c >> 4 ^ t[c & 15];
		c = c >> 4 ^ t[c & 15];
	}
	return ~c;
}

int
sp_stun_is(const uint8_t *msg, size_t len)
{
	sp_wire r = sp_wire_reader(msg, len);
	uint16_t type = sp_wire_u16(&r), mlen = sp_wire_u16(&r);
	uint32_t cookie = sp_wire_u32(&r);

	return sp_wire_err(&r) == SP_OK && len >= SP_STUN_HEADER && (type & 0xc000) == 0 &&
	    (cookie == SP_STUN_COOKIE || type == SP_STUN_CLASSIC_REQUEST) && mlen % 4 == 0 &&
	    mlen == len - SP_STUN_HEADER;
}

/* ICE's attributes (RFC 8445) and the credentials we do not check. */
static int
understood(uint16_t type)
{
	return type >= ATTR_OPTIONAL || type == ATTR_USERNAME || type == ATTR_PRIORITY ||
	    type == ATTR_USE_CANDIDATE;
}

static void
note_unknown(struct request *q, uint16_t type)
{
	q->any_unknown = 1;
	for (size_t i = 0; i < q->n_unknown; i++)
		if (q->unknown[i] == type)
			return;
	if (q->n_unknown < SP_STUN_MAX_UNKNOWN)
		q->unknown[q->n_unknown++] = type;
}

/*
 * Walk the attributes after the header (r is positioned there). SP_EPROTO
 * if one runs past the end, or FINGERPRINT is not 4 bytes, not last, or
 * wrong. After MESSAGE-INTEGRITY(-SHA256) everything but FINGERPRINT is
 * ignored (RFC 8489 section 14.5); padding bytes are never looked at.
 */
static int
read_attrs(const uint8_t *msg, sp_wire *r, struct request *q)
{
	int after_integrity = 0;

	while (sp_wire_left(r) > 0) {
		size_t at = sp_wire_used(r);
		uint16_t type = sp_wire_u16(r), alen = sp_wire_u16(r);
		const uint8_t *val = sp_wire_view(r, alen);

		sp_wire_skip(r, (size_t)(-alen & 3));
		if (sp_wire_err(r) != SP_OK)
			return SP_EPROTO;
		if (type == ATTR_FINGERPRINT) {
			sp_wire v = sp_wire_reader(val, alen);
			uint32_t fp = sp_wire_u32(&v);

			if (alen != 4 || sp_wire_left(r) != 0 ||
			    fp != (stun_crc32(msg, at) ^ FINGERPRINT_XOR))
				return SP_EPROTO;
		} else if (type == ATTR_MESSAGE_INTEGRITY || type == ATTR_MESSAGE_INTEGRITY_SHA256) {
			after_integrity = 1;
		} else if (!after_integrity && !understood(type)) {
			note_unknown(q, type);
		}
	}
	return SP_OK;
}

static void
put_pad(sp_wire *w, size_t len)
{
	static const uint8_t zero[3];

	sp_wire_put(w, zero, -len & 3);
}

/* The request's cookie and transaction id, returned as they came (for a
 * classic request, its 16-byte id). */
static void
put_header(sp_wire *w, uint16_t type, const struct request *q)
{
	sp_wire_put_u16(w, type);
	sp_wire_put_u16(w, 0);       /* the length: finish() writes it */
	sp_wire_put(w, q->magic, 4);
	sp_wire_put(w, q->txid, SP_STUN_TXID);
}

/* RFC 3489 section 11.2.1: MAPPED-ADDRESS, in the clear, for a classic
 * client (RFC 8489 section 12.2 keeps answering them; libnice 0.1.21
 * discovers server-reflexive candidates this way). */
static void
put_mapped(sp_wire *w, int family, const uint8_t addr[16], uint16_t port)
{
	size_t n = family == 4 ? 4 : 16;

	sp_wire_put_u16(w, ATTR_MAPPED_ADDRESS);
	sp_wire_put_u16(w, (uint16_t)(4 + n));
	sp_wire_put_u8(w, 0);
	sp_wire_put_u8(w, family == 4 ? 0x01 : 0x02);
	sp_wire_put_u16(w, port);
	sp_wire_put(w, addr, n);
}

/* RFC 8489 section 14.2: the port XOR the cookie's top half, the address
 * XOR the cookie (IPv4) or the cookie and the transaction id (IPv6). */
static void
put_xor_mapped(sp_wire *w, int family, const uint8_t addr[16], uint16_t port,
    const uint8_t txid[SP_STUN_TXID])
{
	uint8_t mask[16] = { 0x21, 0x12, 0xa4, 0x42 };
	size_t n = family == 4 ? 4 : 16;

	memcpy(mask + 4, txid, SP_STUN_TXID);
	sp_wire_put_u16(w, ATTR_XOR_MAPPED_ADDRESS);
	sp_wire_put_u16(w, (uint16_t)(4 + n));
	sp_wire_put_u8(w, 0);
	sp_wire_put_u8(w, family == 4 ? 0x01 : 0x02);
	sp_wire_put_u16(w, (uint16_t)(port ^ SP_STUN_COOKIE >> 16));
	for (size_t i = 0; i < n; i++)
		sp_wire_put_u8(w, (uint8_t)(addr[i] ^ mask[i]));
}

/* ERROR-CODE 420 and UNKNOWN-ATTRIBUTES (RFC 8489 sections 14.8, 14.9). */
static void
put_unknown(sp_wire *w, const struct request *q)
{
	sp_wire_put_u16(w, ATTR_ERROR_CODE);
	sp_wire_put_u16(w, (uint16_t)(4 + strlen(REASON_420)));
	sp_wire_put_u16(w, 0);
	sp_wire_put_u8(w, 4);        /* the class: the hundreds */
	sp_wire_put_u8(w, 20);       /* the number: the rest */
	sp_wire_put_str(w, REASON_420);
	put_pad(w, strlen(REASON_420));
	sp_wire_put_u16(w, ATTR_UNKNOWN_ATTRIBUTES);
	sp_wire_put_u16(w, (uint16_t)(2 * q->n_unknown));
	for (size_t i = 0; i < q->n_unknown; i++)
		sp_wire_put_u16(w, q->unknown[i]);
	put_pad(w, 2 * q->n_unknown);
}

/* The end of every reply: SOFTWARE, then the header's length (counting
 * the FINGERPRINT to come, which the CRC covers), then FINGERPRINT; a
 * classic client's reply ends at SOFTWARE (RFC 3489 has no FINGERPRINT). */
static void
finish(sp_wire *w, uint8_t *out, int classic)
{
	sp_wire hdr = sp_wire_writer(out, SP_STUN_HEADER);

	sp_wire_put_u16(w, ATTR_SOFTWARE);
	sp_wire_put_u16(w, (uint16_t)strlen(SOFTWARE));
	sp_wire_put_str(w, SOFTWARE);
	put_pad(w, strlen(SOFTWARE));
	if (sp_wire_err(w) != SP_OK)
		return;
	sp_wire_skip(&hdr, 2);
	if (classic) {
		sp_wire_put_u16(&hdr, (uint16_t)(sp_wire_used(w) - SP_STUN_HEADER));
		return;
	}
	sp_wire_put_u16(&hdr, (uint16_t)(sp_wire_used(w) + 8 - SP_STUN_HEADER));
	sp_wire_put_u16(w, ATTR_FINGERPRINT);
	sp_wire_put_u16(w, 4);
	sp_wire_put_u32(w, stun_crc32(out, sp_wire_used(w) - 4) ^ FINGERPRINT_XOR);
}

int
sp_stun_respond(const uint8_t *msg, size_t len, int family, const uint8_t addr[16],
    uint16_t port, uint8_t *out, size_t cap, size_t *outlen, sp_stun_stats *st)
{
	sp_wire r = sp_wire_reader(msg, len), w = sp_wire_writer(out, cap);
	struct request q;
	uint16_t type;
	int cls, method;

	*outlen = 0;
	if (family != 4 && family != 6)
		return SP_EINVAL;
	if (!sp_stun_is(msg, len)) {
		st->malformed++;
		return SP_EPROTO;
	}
	memset(&q, 0, sizeof(q));
	type = sp_wire_u16(&r);
	sp_wire_skip(&r, 2);         /* the length sp_stun_is checked */
	sp_wire_read(&r, q.magic, 4);
	sp_wire_read(&r, q.txid, SP_STUN_TXID);
	q.classic = memcmp(q.magic, "\x21\x12\xa4\x42", 4) != 0;
	cls = (type >> 7 & 2) | (type >> 4 & 1);
	method = (type & 0x000f) | (type >> 1 & 0x0070) | (type >> 2 & 0x0f80);
	if (method != METHOD_BINDING || cls == CLASS_SUCCESS || cls == CLASS_ERROR) {
		st->ignored++;
		return SP_EPROTO;
	}
	if (read_attrs(msg, &r, &q) != SP_OK) {
		st->malformed++;
		return SP_EPROTO;
	}
	/* An indication is never answered, not even with a 420 (section 6.3.2). */
	if (cls == CLASS_INDICATION) {
		st->indications++;
		return SP_ENOENT;
	}
	/* Every byte of msg has been read: out may be msg itself from here. */
	if (q.any_unknown) {
		put_header(&w, TYPE_BINDING_ERROR, &q);
		put_unknown(&w, &q);
	} else {
		put_header(&w, TYPE_BINDING_SUCCESS, &q);
		if (q.classic)
			put_mapped(&w, family, addr, port);
		else
			put_xor_mapped(&w, family, addr, port, q.txid);
	}
	finish(&w, out, q.classic);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	if (q.any_unknown)
		st->unknown_attr++;
	else
		st->answered++;
	*outlen = sp_wire_used(&w);
	return SP_OK;
}
