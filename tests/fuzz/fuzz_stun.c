/* libFuzzer target: the STUN Binding responder (tunnels/stun.c). Each
 * input runs as sent and "repaired" (the cookie, the length field and a
 * trailing FINGERPRINT made right, so that mutations reach the attribute
 * walk instead of dying on the checksum). A reply must be STUN, answer a
 * Binding request with its transaction id, fit the cap, end in a
 * FINGERPRINT that verifies (none for a classic, cookie-less request, whose
 * 16-byte id it echoes), map back to the source, come out the same
 * with an exact cap or written over the request, and not fit one byte
 * less. Every outcome is counted exactly once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_err.h"
#include "sp_stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t source[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0xa5, 0x5a, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80,
};
#define SOURCE_PORT 0xbeef

/* Bit by bit, independent of the responder's table. */
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

static void
check_reply(const uint8_t *msg, size_t len, int family, const uint8_t *out, size_t n,
    const sp_stun_stats *st)
{
	uint16_t type = (uint16_t)(out[0] << 8 | out[1]);
	/* A classic (RFC 3489) request has no cookie: its reply echoes the
	 * 16-byte id, names the source in the clear, and has no FINGERPRINT. */
	int classic = memcmp(msg + 4, "\x21\x12\xa4\x42", 4) != 0;
	size_t alen = family == 4 ? 4 : 16;
	uint32_t fp;

	/* sp_stun_is takes no cookie-less message but a request: a classic
	 * reply is checked by hand (first bits, the length field). */
	if (n > SP_STUN_REPLY_MAX || n < SP_STUN_HEADER + 8 ||
	    (classic ? (out[0] & 0xc0) != 0 || (size_t)(out[2] << 8 | out[3]) != n - SP_STUN_HEADER :
	    !sp_stun_is(out, n)) ||
	    !sp_stun_is(msg, len) || msg[0] != 0x00 || msg[1] != 0x01 ||
	    memcmp(out + 4, msg + 4, 4 + SP_STUN_TXID) != 0)
		__builtin_trap();
	if (classic) {
		if (memcmp(out + n - 8, "\x80\x28\x00\x04", 4) == 0)
			__builtin_trap();
	} else {
		fp = (uint32_t)out[n - 4] << 24 | (uint32_t)out[n - 3] << 16 |
		    (uint32_t)out[n - 2] << 8 | out[n - 1];
		if (memcmp(out + n - 8, "\x80\x28\x00\x04", 4) != 0 ||
		    fp != (ref_crc32(out, n - 8) ^ 0x5354554eu))
			__builtin_trap();
	}
	if (type == 0x0101 && classic) {
		/* MAPPED-ADDRESS first, in the clear. */
		if (st->answered != 1 || out[20] != 0x00 || out[21] != 0x01 || out[23] != 4 + alen ||
		    out[25] != (family == 4 ? 1 : 2) || (out[26] << 8 | out[27]) != SOURCE_PORT ||
		    memcmp(out + 28, source, alen) != 0)
			__builtin_trap();
	} else if (type == 0x0101) {
		/* XOR-MAPPED-ADDRESS first, and it names the source. */
		uint8_t mask[16] = { 0x21, 0x12, 0xa4, 0x42 };
		memcpy(mask + 4, msg + 8, SP_STUN_TXID);
		if (st->answered != 1 || out[20] != 0x00 || out[21] != 0x20 || out[23] != 4 + alen ||
		    out[25] != (family == 4 ? 1 : 2) ||
		    ((out[26] << 8 | out[27]) ^ 0x2112) != SOURCE_PORT)
			__builtin_trap();
		for (size_t i = 0; i < alen; i++)
			if ((out[28 + i] ^ mask[i]) != source[i])
				__builtin_trap();
	} else if (type != 0x0111 || st->unknown_attr != 1) {
		__builtin_trap();
	}
}

static void
run(const uint8_t *msg, size_t len, int family)
{
	uint8_t out[SP_STUN_REPLY_MAX], again[SP_STUN_REPLY_MAX], *inplace;
	sp_stun_stats st = { 0 }, st2 = { 0 };
	size_t n = 1, m = 1, cap;
	int rc = sp_stun_respond(msg, len, family, source, SOURCE_PORT, out, sizeof(out), &n, &st);

	if (st.answered + st.indications + st.malformed + st.unknown_attr + st.ignored != 1)
		__builtin_trap();
	if (rc != SP_OK) {
		if (n != 0 || (rc != SP_ENOENT && rc != SP_EPROTO) ||
		    (rc == SP_ENOENT) != (st.indications == 1) ||
		    (rc == SP_ENOENT && !sp_stun_is(msg, len)))
			__builtin_trap();
		return;
	}
	check_reply(msg, len, family, out, n, &st);
	if (sp_stun_respond(msg, len, family, source, SOURCE_PORT, again, n, &m, &st2) != SP_OK ||
	    m != n || memcmp(again, out, n) != 0 ||
	    sp_stun_respond(msg, len, family, source, SOURCE_PORT, again, n - 1, &m, &st2) !=
	    SP_ESPACE || m != 0)
		__builtin_trap();
	cap = len > n ? len : n;
	if ((inplace = malloc(cap)) == NULL)
		return;
	memcpy(inplace, msg, len);
	if (sp_stun_respond(inplace, len, family, source, SOURCE_PORT, inplace, cap, &m, &st2) !=
	    SP_OK || m != n || memcmp(inplace, out, n) != 0)
		__builtin_trap();
	free(inplace);
}

/* Make the header and a trailing FINGERPRINT right; the length used. */
static size_t
repair(uint8_t *buf, size_t size)
{
	size_t len = size & ~(size_t)3, body;
	uint32_t crc;

	if (len > SP_STUN_HEADER + 0xfffc)
		len = SP_STUN_HEADER + 0xfffc;
	if (len < SP_STUN_HEADER)
		return 0;
	body = len - SP_STUN_HEADER;
	buf[0] &= 0x3f;
	buf[2] = (uint8_t)(body >> 8);
	buf[3] = (uint8_t)body;
	memcpy(buf + 4, "\x21\x12\xa4\x42", 4);
	if (len >= SP_STUN_HEADER + 8 && memcmp(buf + len - 8, "\x80\x28\x00\x04", 4) == 0) {
		crc = ref_crc32(buf, len - 8) ^ 0x5354554eu;
		buf[len - 4] = (uint8_t)(crc >> 24);
		buf[len - 3] = (uint8_t)(crc >> 16);
		buf[len - 2] = (uint8_t)(crc >> 8);
		buf[len - 1] = (uint8_t)crc;
	}
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The family from a transaction id bit, so both are explored. */
	int family = size >= SP_STUN_HEADER && (data[19] & 1) ? 6 : 4;
	uint8_t *buf;
	size_t len;

	(void)sp_stun_is(data, size);
	run(data, size, family);
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if ((len = repair(buf, size)) != 0)
		run(buf, len, family);
	free(buf);
	return 0;
}
