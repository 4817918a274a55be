/* tunnels/stun.c: the STUN Binding responder, against the RFC 5769 vectors
 * and, as an independent client, libnice's STUN code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <stun/stunagent.h>
#include <stun/usages/bind.h>

#include "sp_err.h"
#include "sp_stun.h"
#include "sp_wire.h"

/* RFC 5769 section 2.1: a Binding request with SOFTWARE, PRIORITY,
 * ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT. */
static const uint8_t rfc_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20,
	0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
	0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};
#define RFC_TXID (rfc_request + 8)

/* RFC 5769 section 2.2: the IPv4 response to it (192.0.2.1 port 32853). */
static const uint8_t rfc_response4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* The XOR-MAPPED-ADDRESS attributes of sections 2.2 and 2.3, whole. */
static const uint8_t rfc_xma4[] = {
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
};
static const uint8_t rfc_xma6[] = {
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
	0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
	0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
};
static const uint8_t addr4[16] = { 192, 0, 2, 1 };
static const uint8_t addr6[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
};
#define RFC_PORT 32853

/* A CRC-32 of our own, bit by bit, so the responder's table is checked
 * against something other than itself. */
static uint32_t
ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* ---- requests by hand ---------------------------------------------------- */

static sp_wire
req_begin(uint8_t *buf, size_t cap, uint16_t type, const uint8_t txid[SP_STUN_TXID])
{
	sp_wire w = sp_wire_writer(buf, cap);

	sp_wire_put_u16(&w, type);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u32(&w, SP_STUN_COOKIE);
	sp_wire_put(&w, txid, SP_STUN_TXID);
	return w;
}

static void
req_attr(sp_wire *w, uint16_t type, const void *val, uint16_t len)
{
	static const uint8_t pad[3] = { 0xff, 0xff, 0xff };   /* padding is any bytes */

	sp_wire_put_u16(w, type);
	sp_wire_put_u16(w, len);
	sp_wire_put(w, val, len);
	sp_wire_put(w, pad, (size_t)(-len & 3));
}

/* Set the length; with fp, append a FINGERPRINT (computed here). */
static size_t
req_end(sp_wire *w, uint8_t *buf, int fp)
{
	size_t n = sp_wire_used(w) + (fp ? 8 : 0);

	buf[2] = (uint8_t)((n - SP_STUN_HEADER) >> 8);
	buf[3] = (uint8_t)(n - SP_STUN_HEADER);
	if (fp) {
		sp_wire_put_u16(w, 0x8028);
		sp_wire_put_u16(w, 4);
		sp_wire_put_u32(w, ref_crc32(buf, n - 8) ^ 0x5354554eu);
	}
	assert_int_equal(sp_wire_err(w), SP_OK);
	return sp_wire_used(w);
}

static const uint8_t txid1[SP_STUN_TXID] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* ---- checking replies ---------------------------------------------------- */

/* The attribute's value in msg, or NULL. */
static const uint8_t *
find_attr(const uint8_t *msg, size_t len, uint16_t want, uint16_t *alen)
{
	sp_wire r = sp_wire_reader(msg, len);

	sp_wire_skip(&r, SP_STUN_HEADER);
	while (sp_wire_left(&r) > 0) {
		uint16_t type = sp_wire_u16(&r), n = sp_wire_u16(&r);
		const uint8_t *v = sp_wire_view(&r, n);
		sp_wire_skip(&r, (size_t)(-n & 3));
		assert_int_equal(sp_wire_err(&r), SP_OK);
		if (type == want) {
			*alen = n;
			return v;
		}
	}
	return NULL;
}

/* A reply of this type to txid: STUN, SOFTWARE "signpost", and a
 * FINGERPRINT last that verifies. */
static void
check_reply(const uint8_t *out, size_t n, uint16_t type, const uint8_t *txid)
{
	const uint8_t *v;
	uint16_t alen;

	assert_true(n <= SP_STUN_REPLY_MAX);
	assert_true(sp_stun_is(out, n));
	assert_int_equal(out[0] << 8 | out[1], type);
	assert_memory_equal(out + 8, txid, SP_STUN_TXID);
	v = find_attr(out, n, 0x8022, &alen);
	assert_non_null(v);
	assert_int_equal(alen, 8);
	assert_memory_equal(v, "signpost", 8);
	v = find_attr(out, n, 0x8028, &alen);
	assert_non_null(v);
	assert_int_equal(alen, 4);
	assert_ptr_equal(v + 4, out + n);
	assert_int_equal((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3],
	    ref_crc32(out, n - 8) ^ 0x5354554eu);
}

/* Decode XOR-MAPPED-ADDRESS back, as a client does. */
static void
check_mapped(const uint8_t *out, size_t n, int family, const uint8_t addr[16], uint16_t port)
{
	uint8_t mask[16] = { 0x21, 0x12, 0xa4, 0x42 }, got[16];
	const uint8_t *v;
	uint16_t alen;
	size_t alen_want = family == 4 ? 8 : 20;

	v = find_attr(out, n, 0x0020, &alen);
	assert_non_null(v);
	assert_int_equal(alen, alen_want);
	assert_int_equal(v[1], family == 4 ? 1 : 2);
	assert_int_equal((v[2] << 8 | v[3]) ^ 0x2112, port);
	memcpy(mask + 4, out + 8, SP_STUN_TXID);
	for (size_t i = 0; i < alen_want - 4; i++)
		got[i] = v[4 + i] ^ mask[i];
	assert_memory_equal(got, addr, alen_want - 4);
}

/* ---- the tests ----------------------------------------------------------- */

static void
test_crc(void **state)
{
	(void)state;
	/* The check value of CRC-32/ISO-HDLC, and the RFC's fingerprints. */
	assert_int_equal(ref_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	assert_int_equal(ref_crc32(rfc_request, sizeof(rfc_request) - 8) ^ 0x5354554eu, 0xe57a3bcfu);
	assert_int_equal(ref_crc32(rfc_response4, sizeof(rfc_response4) - 8) ^ 0x5354554eu,
	    0xc07d4c96u);
}

static void
test_is(void **state)
{
	uint8_t m[sizeof(rfc_request)];

	(void)state;
	assert_true(sp_stun_is(rfc_request, sizeof(rfc_request)));
	assert_true(sp_stun_is(rfc_response4, sizeof(rfc_response4)));
	assert_false(sp_stun_is(NULL, 0));
	for (size_t n = 0; n < sizeof(rfc_request); n++)
		assert_false(sp_stun_is(rfc_request, n));
	memcpy(m, rfc_request, sizeof(m));
	m[0] |= 0x40;                            /* first two bits */
	assert_false(sp_stun_is(m, sizeof(m)));
	/* Without the cookie, only a classic Binding request (type 0x0001) is
	 * STUN: not a response, nor anything else. */
	memcpy(m, rfc_request, sizeof(m));
	m[7] ^= 1;                               /* the cookie */
	assert_true(sp_stun_is(m, sizeof(m)));
	m[1] = 0x11;                             /* an indication */
	assert_false(sp_stun_is(m, sizeof(m)));
	assert_true(sizeof(m) >= sizeof(rfc_response4));
	memcpy(m, rfc_response4, sizeof(rfc_response4));
	m[7] ^= 1;
	assert_false(sp_stun_is(m, sizeof(rfc_response4)));
	memcpy(m, rfc_request, sizeof(m));
	m[3] = 0x57;                             /* not a multiple of 4 */
	assert_false(sp_stun_is(m, sizeof(m) - 1));
	/* A bare header is STUN. WireGuard messages never are, even with the
	 * cookie as a sender index: their reserved zero bytes make the length
	 * 0 and they are 32 bytes or more. Relay frames start 0x52. */
	memcpy(m, rfc_request, SP_STUN_HEADER);
	m[2] = m[3] = 0;
	assert_true(sp_stun_is(m, SP_STUN_HEADER));
	for (uint8_t type = 1; type <= 4; type++) {
		static const size_t sizes[] = { 32, 64, 92, 148 };
		uint8_t wg[148] = { 0 };
		wg[0] = type;
		memcpy(wg + 4, "\x21\x12\xa4\x42", 4);
		for (size_t i = 0; i < 4; i++)
			assert_false(sp_stun_is(wg, sizes[i]));
	}
	m[0] = 0x52;
	assert_false(sp_stun_is(m, SP_STUN_HEADER));
}

static void
test_rfc5769(void **state)
{
	uint8_t out[SP_STUN_REPLY_MAX];
	sp_stun_stats st = { 0 };
	const uint8_t *v;
	uint16_t alen;
	size_t n;

	(void)state;
	assert_int_equal(sp_stun_respond(rfc_request, sizeof(rfc_request), 4, addr4, RFC_PORT,
	    out, sizeof(out), &n, &st), SP_OK);
	check_reply(out, n, 0x0101, RFC_TXID);
	check_mapped(out, n, 4, addr4, RFC_PORT);
	v = find_attr(out, n, 0x0020, &alen);
	assert_memory_equal(v - 4, rfc_xma4, sizeof(rfc_xma4));
	/* Header, XOR-MAPPED-ADDRESS, SOFTWARE, FINGERPRINT, nothing else. */
	assert_int_equal(n, 20 + 12 + 12 + 8);

	assert_int_equal(sp_stun_respond(rfc_request, sizeof(rfc_request), 6, addr6, RFC_PORT,
	    out, sizeof(out), &n, &st), SP_OK);
	check_reply(out, n, 0x0101, RFC_TXID);
	check_mapped(out, n, 6, addr6, RFC_PORT);
	v = find_attr(out, n, 0x0020, &alen);
	assert_memory_equal(v - 4, rfc_xma6, sizeof(rfc_xma6));
	assert_int_equal(n, 20 + 24 + 12 + 8);
	assert_int_equal(st.answered, 2);
	assert_int_equal(st.malformed + st.ignored + st.indications + st.unknown_attr, 0);
}

/* libnice's STUN client, the code members' ICE agents run, reads our
 * reply: as an RFC 5389 client, and as the classic RFC 3489 one libnice
 * 0.1.21 uses to discover server-reflexive candidates (no cookie: we
 * answer with MAPPED-ADDRESS). */
static void
nice_bind_compat(int family, const uint8_t addr[16], uint16_t port, StunCompatibility compat)
{
	StunAgent agent;
	StunMessage req, resp;
	uint8_t buf[STUN_MAX_MESSAGE_SIZE_IPV4], out[SP_STUN_REPLY_MAX];
	struct sockaddr_storage ss, alt;
	socklen_t sslen = sizeof(ss), altlen = sizeof(alt);
	sp_stun_stats st = { 0 };
	size_t len, n;

	stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, compat,
	    compat == STUN_COMPATIBILITY_RFC5389 ? STUN_AGENT_USAGE_USE_FINGERPRINT : 0);
	len = stun_usage_bind_create(&agent, &req, buf, sizeof(buf));
	assert_true(len > 0);
	/* The classic request has no cookie: sp_stun_is takes it all the same. */
	assert_true(sp_stun_is(buf, len));
	assert_int_equal(memcmp(buf + 4, "\x21\x12\xa4\x42", 4) != 0,
	    compat == STUN_COMPATIBILITY_RFC3489);
	assert_int_equal(sp_stun_respond(buf, len, family, addr, port, out, sizeof(out), &n, &st),
	    SP_OK);
	assert_int_equal(stun_agent_validate(&agent, &resp, out, n, NULL, NULL),
	    STUN_VALIDATION_SUCCESS);
	assert_int_equal(stun_message_get_class(&resp), STUN_RESPONSE);
	assert_int_equal(stun_usage_bind_process(&resp, (struct sockaddr *)&ss, &sslen,
	    (struct sockaddr *)&alt, &altlen), STUN_USAGE_BIND_RETURN_SUCCESS);
	if (family == 4) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		assert_int_equal(ss.ss_family, AF_INET);
		assert_memory_equal(&sin->sin_addr, addr, 4);
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
		assert_int_equal(ss.ss_family, AF_INET6);
		assert_memory_equal(&sin6->sin6_addr, addr, 16);
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_int_equal(st.answered, 1);
	/* Classic: MAPPED-ADDRESS in the clear, the 16-byte id echoed, no
	 * FINGERPRINT; RFC 5389: XOR-MAPPED-ADDRESS and FINGERPRINT. */
	assert_memory_equal(out + 4, buf + 4, 16);
	if (compat == STUN_COMPATIBILITY_RFC3489) {
		uint16_t alen;
		assert_non_null(find_attr(out, n, 0x0001, &alen));
		assert_null(find_attr(out, n, 0x0020, &alen));
		assert_null(find_attr(out, n, 0x8028, &alen));
	}
}

static void
nice_bind(int family, const uint8_t addr[16], uint16_t port)
{
	nice_bind_compat(family, addr, port, STUN_COMPATIBILITY_RFC5389);
	nice_bind_compat(family, addr, port, STUN_COMPATIBILITY_RFC3489);
}

static void
test_libnice(void **state)
{
	static const uint8_t a4[16] = { 203, 0, 113, 77 };
	StunAgent agent;
	StunMessage req, resp;
	uint8_t buf[256], out[SP_STUN_REPLY_MAX];
	sp_stun_stats st = { 0 };
	const uint8_t *ua;
	uint16_t ualen;
	size_t len, n;
	int code;

	(void)state;
	nice_bind(4, addr4, RFC_PORT);
	nice_bind(4, a4, 1);
	nice_bind(4, a4, 65535);
	nice_bind(6, addr6, RFC_PORT);

	/* A request with an attribute we do not know: libnice reads a 420
	 * that names it. */
	stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
	    STUN_AGENT_USAGE_USE_FINGERPRINT);
	assert_true(stun_agent_init_request(&agent, &req, buf, sizeof(buf), STUN_BINDING));
	assert_int_equal(stun_message_append32(&req, 0x7777, 1), STUN_MESSAGE_RETURN_SUCCESS);
	len = stun_agent_finish_message(&agent, &req, NULL, 0);
	assert_true(len > 0);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 9, out, sizeof(out), &n, &st), SP_OK);
	assert_int_equal(stun_agent_validate(&agent, &resp, out, n, NULL, NULL),
	    STUN_VALIDATION_SUCCESS);
	assert_int_equal(stun_message_get_class(&resp), STUN_ERROR);
	assert_int_equal(stun_message_find_error(&resp, &code), STUN_MESSAGE_RETURN_SUCCESS);
	assert_int_equal(code, STUN_ERROR_UNKNOWN_ATTRIBUTE);
	ua = stun_message_find(&resp, STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES, &ualen);
	assert_non_null(ua);
	assert_int_equal(ualen, 2);
	assert_int_equal(ua[0] << 8 | ua[1], 0x7777);
	assert_int_equal(st.unknown_attr, 1);
}

static void
test_unknown(void **state)
{
	static const uint8_t four[4] = { 0, 0, 0, 6 };
	uint8_t buf[512], out[SP_STUN_REPLY_MAX];
	sp_stun_stats st = { 0 };
	const uint8_t *v;
	uint16_t alen;
	size_t len, n;
	sp_wire w;

	(void)state;
	/* CHANGE-REQUEST (RFC 5780, which we do not do) and 0x7777, twice;
	 * an unknown optional one (0x8888) is not named. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	req_attr(&w, 0x0003, four, 4);
	req_attr(&w, 0x8888, four, 3);
	req_attr(&w, 0x7777, NULL, 0);
	req_attr(&w, 0x0003, four, 4);
	req_attr(&w, 0x0006, "user", 4);
	len = req_end(&w, buf, 1);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 5, out, sizeof(out), &n, &st), SP_OK);
	check_reply(out, n, 0x0111, txid1);
	assert_null(find_attr(out, n, 0x0020, &alen));
	v = find_attr(out, n, 0x0009, &alen);
	assert_non_null(v);
	assert_int_equal(alen, 4 + 17);
	assert_int_equal(v[2], 4);
	assert_int_equal(v[3], 20);
	assert_memory_equal(v + 4, "Unknown Attribute", 17);
	v = find_attr(out, n, 0x000a, &alen);
	assert_non_null(v);
	assert_int_equal(alen, 4);
	assert_int_equal(v[0] << 8 | v[1], 0x0003);
	assert_int_equal(v[2] << 8 | v[3], 0x7777);
	assert_int_equal(st.unknown_attr, 1);
	assert_int_equal(st.answered, 0);

	/* Without a FINGERPRINT too; an odd count is padded. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	req_attr(&w, 0x0003, four, 4);
	len = req_end(&w, buf, 0);
	assert_int_equal(sp_stun_respond(buf, len, 6, addr6, 5, out, sizeof(out), &n, &st), SP_OK);
	check_reply(out, n, 0x0111, txid1);
	v = find_attr(out, n, 0x000a, &alen);
	assert_int_equal(alen, 2);
	assert_int_equal(v[0] << 8 | v[1], 0x0003);

	/* More than fit: the first SP_STUN_MAX_UNKNOWN, and the biggest reply. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	for (uint16_t t = 0x7000; t < 0x7000 + 40; t++)
		req_attr(&w, t, NULL, 0);
	len = req_end(&w, buf, 1);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 5, out, sizeof(out), &n, &st), SP_OK);
	check_reply(out, n, 0x0111, txid1);
	assert_int_equal(n, SP_STUN_REPLY_MAX);
	v = find_attr(out, n, 0x000a, &alen);
	assert_int_equal(alen, 2 * SP_STUN_MAX_UNKNOWN);
	assert_int_equal(v[2 * SP_STUN_MAX_UNKNOWN - 2] << 8 | v[2 * SP_STUN_MAX_UNKNOWN - 1],
	    0x7000 + SP_STUN_MAX_UNKNOWN - 1);

	/* Understood and ignored: the credentials and ICE's attributes; and
	 * anything after MESSAGE-INTEGRITY but FINGERPRINT. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	req_attr(&w, 0x0006, "evtj:h6vY", 9);
	req_attr(&w, 0x0024, four, 4);
	req_attr(&w, 0x0025, NULL, 0);
	req_attr(&w, 0x802a, "12345678", 8);
	req_attr(&w, 0x0008, "01234567890123456789", 20);
	req_attr(&w, 0x001c, "0123456789012345678901234567890123456789", 32);
	req_attr(&w, 0x0003, four, 4);
	len = req_end(&w, buf, 1);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 5, out, sizeof(out), &n, &st), SP_OK);
	check_reply(out, n, 0x0101, txid1);
	check_mapped(out, n, 4, addr4, 5);
	assert_int_equal(st.answered, 1);
	assert_int_equal(st.unknown_attr, 3);
}

static void
test_indication(void **state)
{
	uint8_t buf[64], out[SP_STUN_REPLY_MAX];
	sp_stun_stats st = { 0 };
	size_t len, n = 99;
	sp_wire w;

	(void)state;
	w = req_begin(buf, sizeof(buf), 0x0011, txid1);
	len = req_end(&w, buf, 1);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 5, out, sizeof(out), &n, &st),
	    SP_ENOENT);
	assert_int_equal(n, 0);
	/* Not even a 420 for an unknown attribute. */
	w = req_begin(buf, sizeof(buf), 0x0011, txid1);
	req_attr(&w, 0x7777, NULL, 0);
	len = req_end(&w, buf, 0);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 5, out, sizeof(out), &n, &st),
	    SP_ENOENT);
	assert_int_equal(st.indications, 2);
	/* A malformed indication is malformed. */
	buf[23] = 1;                             /* 0x7777's length: past the end */
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 5, out, sizeof(out), &n, &st),
	    SP_EPROTO);
	assert_int_equal(st.indications, 2);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.answered + st.unknown_attr, 0);
}

static void
test_drops(void **state)
{
	uint8_t m[sizeof(rfc_request)], buf[128], out[SP_STUN_REPLY_MAX];
	sp_stun_stats st = { 0 };
	uint64_t malformed = 0;
	size_t n = 99, len;
	sp_wire w;

	(void)state;
	/* Truncated: every shorter prefix, as sent and with the length field
	 * made to agree (then the attributes run past the end or cut one). */
	for (size_t cut = 0; cut < sizeof(rfc_request); cut++) {
		memcpy(m, rfc_request, sizeof(m));
		assert_int_equal(sp_stun_respond(m, cut, 4, addr4, 1, out, sizeof(out), &n, &st),
		    SP_EPROTO);
		assert_int_equal(n, 0);
		malformed++;
		if (cut >= SP_STUN_HEADER && cut % 4 == 0) {
			m[2] = (uint8_t)((cut - 20) >> 8);
			m[3] = (uint8_t)(cut - 20);
			/* Cut before FINGERPRINT, at an attribute's end, it is a
			 * well-formed request without one. */
			int whole = cut == 20 || cut == 40 || cut == 48 || cut == 60 || cut == 76 ||
			    cut == 100;
			assert_int_equal(sp_stun_respond(m, cut, 4, addr4, 1, out, sizeof(out), &n,
			    &st), whole ? SP_OK : SP_EPROTO);
			malformed += !whole;
		}
	}
	assert_int_equal(st.malformed, malformed);

	/* A wrong FINGERPRINT, or a bit flipped anywhere it covers. */
	memcpy(m, rfc_request, sizeof(m));
	m[sizeof(m) - 1] ^= 1;
	assert_int_equal(sp_stun_respond(m, sizeof(m), 4, addr4, 1, out, sizeof(out), &n, &st),
	    SP_EPROTO);
	for (size_t i = SP_STUN_HEADER; i < sizeof(m) - 8; i++) {
		memcpy(m, rfc_request, sizeof(m));
		m[i] ^= 0x80;
		assert_int_equal(sp_stun_respond(m, sizeof(m), 4, addr4, 1, out, sizeof(out), &n,
		    &st), SP_EPROTO);
	}
	/* FINGERPRINT not last, or not 4 bytes. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	req_attr(&w, 0x8028, "abcd", 4);
	req_attr(&w, 0x8022, "x", 1);
	len = req_end(&w, buf, 0);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 1, out, sizeof(out), &n, &st),
	    SP_EPROTO);
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	req_attr(&w, 0x8028, "abcdefgh", 8);
	len = req_end(&w, buf, 0);
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 1, out, sizeof(out), &n, &st),
	    SP_EPROTO);
	/* An attribute's length past the end. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	req_attr(&w, 0x8022, "abcd", 4);
	len = req_end(&w, buf, 0);
	buf[23] = 5;                             /* SOFTWARE's length */
	assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 1, out, sizeof(out), &n, &st),
	    SP_EPROTO);
	assert_int_equal(st.answered + st.unknown_attr + st.indications + st.ignored, 6);

	/* Responses, errors and other methods are not ours: ignored. */
	st.ignored = 0;
	assert_int_equal(sp_stun_respond(rfc_response4, sizeof(rfc_response4), 4, addr4, 1, out,
	    sizeof(out), &n, &st), SP_EPROTO);
	{
		static const uint16_t types[] = { 0x0101, 0x0111, 0x0003, 0x0013, 0x0002, 0x0201 };
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			w = req_begin(buf, sizeof(buf), types[i], txid1);
			len = req_end(&w, buf, 1);
			assert_int_equal(sp_stun_respond(buf, len, 4, addr4, 1, out, sizeof(out), &n,
			    &st), SP_EPROTO);
			assert_int_equal(n, 0);
		}
	}
	assert_int_equal(st.ignored, 7);
}

static void
test_edges(void **state)
{
	uint8_t buf[SP_STUN_REPLY_MAX], out[SP_STUN_REPLY_MAX], want[SP_STUN_REPLY_MAX];
	sp_stun_stats st = { 0 };
	size_t n, wantn, len;
	sp_wire w;

	(void)state;
	assert_int_equal(sp_stun_respond(rfc_request, sizeof(rfc_request), 5, addr4, 1, out,
	    sizeof(out), &n, &st), SP_EINVAL);
	/* Every cap short of the reply: SP_ESPACE, nothing counted. */
	assert_int_equal(sp_stun_respond(rfc_request, sizeof(rfc_request), 6, addr6, 1, want,
	    sizeof(want), &wantn, &st), SP_OK);
	for (size_t cap = 0; cap < wantn; cap++)
		assert_int_equal(sp_stun_respond(rfc_request, sizeof(rfc_request), 6, addr6, 1, out,
		    cap, &n, &st), SP_ESPACE);
	assert_int_equal(sp_stun_respond(rfc_request, sizeof(rfc_request), 6, addr6, 1, out,
	    wantn, &n, &st), SP_OK);
	assert_int_equal(n, wantn);
	assert_memory_equal(out, want, n);
	assert_int_equal(st.answered, 2);
	/* In place, in the request's own buffer. */
	w = req_begin(buf, sizeof(buf), 0x0001, txid1);
	len = req_end(&w, buf, 1);
	assert_int_equal(sp_stun_respond(buf, len, 6, addr6, 1, want, sizeof(want), &wantn, &st),
	    SP_OK);
	assert_int_equal(sp_stun_respond(buf, len, 6, addr6, 1, buf, sizeof(buf), &n, &st), SP_OK);
	assert_int_equal(n, wantn);
	assert_memory_equal(buf, want, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc),
		cmocka_unit_test(test_is),
		cmocka_unit_test(test_rfc5769),
		cmocka_unit_test(test_libnice),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_indication),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
