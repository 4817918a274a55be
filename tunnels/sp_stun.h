/*
 * A STUN Binding responder (RFC 8489) for the gateway's WireGuard UDP port,
 * so that members' ICE agents learn their server-reflexive address
 * (docs/stun.md). Pure: a datagram and the address it came from in, the
 * reply's bytes out; the adapter in signpostd/net/ owns the socket.
 *
 * It answers Binding requests with XOR-MAPPED-ADDRESS, SOFTWARE and
 * FINGERPRINT, and classic RFC 3489 Binding requests (no magic cookie: how
 * libnice 0.1.21 discovers server-reflexive candidates) with
 * MAPPED-ADDRESS and SOFTWARE, as RFC 8489 section 12.2 asks; nothing
 * else: no authentication (RFC 8489 section 9 lets a server go without),
 * no RFC 5780 NAT behaviour discovery, no TURN.
 */
#ifndef SP_STUN_H
#define SP_STUN_H

#include <stddef.h>
#include <stdint.h>

#define SP_STUN_HEADER 20
#define SP_STUN_COOKIE 0x2112A442u
#define SP_STUN_TXID 12
/* A classic (RFC 3489) Binding request's type: the only cookie-less
 * message sp_stun_is takes. */
#define SP_STUN_CLASSIC_REQUEST 0x0001
/* The most unknown attribute types a 420 response lists (further ones
 * still make it a 420, they are just not named). */
#define SP_STUN_MAX_UNKNOWN 16
/* The largest reply: header, ERROR-CODE with "Unknown Attribute",
 * UNKNOWN-ATTRIBUTES, SOFTWARE, FINGERPRINT. A success is 64 bytes at most. */
#define SP_STUN_REPLY_MAX (SP_STUN_HEADER + 28 + 4 + 2 * SP_STUN_MAX_UNKNOWN + 12 + 8)

/* Counters; the caller owns them and zeroes them once. */
typedef struct sp_stun_stats {
	uint64_t answered;       /* Binding success responses made */
	uint64_t indications;    /* Binding indications (never answered) */
	uint64_t malformed;      /* dropped: not STUN, bad attributes, wrong FINGERPRINT */
	uint64_t unknown_attr;   /* 420 (Unknown Attribute) responses made */
	uint64_t ignored;        /* dropped: responses, errors, methods other than Binding */
} sp_stun_stats;

/*
 * 1 if msg looks like STUN: at least a header, the first two bits zero,
 * the magic cookie at bytes 4..7 (or, without it, the type of a classic
 * Binding request), and a length field that is a multiple of 4 and equal
 * to len - 20. Otherwise 0. The data path's demultiplexer:
 * never true of WireGuard (its reserved zero bytes 2..3 would be a length
 * of 0, and its messages are longer than 20 bytes) or of relay frames
 * (0x52 has the second bit set).
 */
int sp_stun_is(const uint8_t *msg, size_t len);

/*
 * Answer one datagram msg[0..len) (borrowed) that came from (family, addr,
 * port): family is 4 (the IPv4 address is addr's first 4 bytes, in network
 * order) or 6 (all 16); port is a number in host order. The reply goes to
 * out[0..cap) and its length to *outlen (0 on every failure). out may be
 * msg itself: the request is read whole before the reply is written. st
 * (borrowed, not NULL) is counted.
 *
 *   SP_OK       *outlen bytes to send back to the source: a Binding success
 *               response, or a 420 error response naming the request's
 *               comprehension-required attributes we do not know
 *   SP_ENOENT   a well-formed Binding indication: nothing to send
 *   SP_EPROTO   dropped: not STUN, malformed, wrong FINGERPRINT, a response
 *               or error, or a method other than Binding
 *   SP_ESPACE   the reply does not fit in cap (SP_STUN_REPLY_MAX always does)
 *   SP_EINVAL   family is neither 4 nor 6
 *
 * MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and USERNAME are accepted and
 * not checked, since the server has no credentials; so are ICE's PRIORITY
 * and USE-CANDIDATE (RFC 8445), which the RFC 5769 vectors carry.
 */
int sp_stun_respond(const uint8_t *msg, size_t len, int family, const uint8_t addr[16],
    uint16_t port, uint8_t *out, size_t cap, size_t *outlen, sp_stun_stats *st)
	__attribute__((warn_unused_result));

#endif
