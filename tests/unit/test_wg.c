/*
 * tunnels/: the WireGuard protocol core. Known values (BLAKE2s from RFC
 * 7693, the protocol's initial chaining key and hash), a whole handshake
 * and data both ways between two instances, and every bad input the issue
 * names: garbage, truncation, tampering, replays, unknown keys, a flood of
 * handshakes answered with cookies. Interoperability with wireguard-go is
 * the system test's job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_wg.h"

/* Every random byte the core uses comes from here (sp_rng.h), so every
 * run of these tests is the same run. */
static sp_rng_seeded R;

static void
hex(const char *h, uint8_t *out, size_t n)
{
	size_t got;

	assert_int_equal(sodium_hex2bin(out, n, h, strlen(h), NULL, &got, NULL), 0);
	assert_int_equal(got, n);
}

static void
test_blake2s_rfc7693(void **state)
{
	uint8_t out[32], want[32];

	(void)state;
	/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
	hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", want, 32);
	sp_wg_hash(out, "abc", 3, NULL, 0);
	assert_memory_equal(out, want, 32);
	/* HASH(a || b) is the hash of the concatenation. */
	sp_wg_hash(out, "a", 1, "bc", 2);
	assert_memory_equal(out, want, 32);
}

static void
test_protocol_constants(void **state)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t ck[32], h[32], want[32];

	(void)state;
	/* Ci and Hi before any key is mixed in, as the reference
	 * implementations precompute them. */
	sp_wg_hash(ck, construction, sizeof(construction) - 1, NULL, 0);
	hex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", want, 32);
	assert_memory_equal(ck, want, 32);
	sp_wg_hash(h, ck, 32, identifier, sizeof(identifier) - 1);
	hex("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3", want, 32);
	assert_memory_equal(h, want, 32);
}

static void
test_tai64n(void **state)
{
	uint8_t t[12], u[12];

	(void)state;
	sp_wg_tai64n(t, 0, 0);
	assert_memory_equal(t, "\x40\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00", 12);
	sp_wg_tai64n(t, 1700000000, 5);
	sp_wg_tai64n(u, 1700000000, 6);
	assert_true(memcmp(t, u, 12) < 0);
}

static void
test_dh_rejects_low_order(void **state)
{
	uint8_t priv[32], zero[32] = { 0 }, out[32];

	(void)state;
	sp_wg_genkey(&R.rng, priv);
	assert_int_equal(sp_wg_dh(out, priv, zero), SP_ECRYPTO);
}

/* Two devices that know each other. */
struct pair {
	sp_wg *a, *b;
	sp_wg_peer *a_b, *b_a;     /* a's view of b, b's view of a */
	uint64_t now;
};

static const uint8_t src_a[] = { 10, 0, 0, 1, 0x13, 0x88 };
static const uint8_t src_b[] = { 10, 0, 0, 2, 0x13, 0x89 };

static void
make_pair(struct pair *p)
{
	uint8_t ka[32], kb[32], pa[32], pb[32];

	sp_wg_genkey(&R.rng, ka);
	sp_wg_genkey(&R.rng, kb);
	sp_wg_pubkey(pa, ka);
	sp_wg_pubkey(pb, kb);
	assert_int_equal(sp_wg_new(ka, &R.rng, &p->a), SP_OK);
	assert_int_equal(sp_wg_new(kb, &R.rng, &p->b), SP_OK);
	assert_memory_equal(sp_wg_public(p->a), pa, 32);
	assert_int_equal(sp_wg_peer_add(p->a, pb, &p->a_b), SP_OK);
	assert_int_equal(sp_wg_peer_add(p->b, pa, &p->b_a), SP_OK);
	p->now = 1000000;
}

static void
free_pair(struct pair *p)
{
	sp_wg_free(p->a);
	sp_wg_free(p->b);
}

/* a initiates, b responds, a completes. */
static void
handshake(struct pair *p)
{
	uint8_t init[SP_WG_INITIATION_SIZE], reply[SP_WG_MIN_REPLY], resp[SP_WG_RESPONSE_SIZE];
	sp_wg_rx rx;

	assert_int_equal(sp_wg_initiate(p->a, p->a_b, 1700000000 + (int64_t)p->now, 0, p->now,
	    init), SP_OK);
	assert_int_equal(sp_wg_receive(p->b, init, sizeof(init), src_a, sizeof(src_a), p->now,
	    reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_REPLY);
	assert_ptr_equal(rx.peer, p->b_a);
	assert_int_equal(rx.reply_len, SP_WG_RESPONSE_SIZE);
	memcpy(resp, reply, sizeof(resp));
	assert_int_equal(sp_wg_receive(p->a, resp, sizeof(resp), src_b, sizeof(src_b), p->now,
	    reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_HANDSHAKE);
	assert_ptr_equal(rx.peer, p->a_b);
}

/* A minimal IPv4 packet of total length len. */
static void
ip_packet(uint8_t *pkt, size_t len, uint8_t fill)
{
	memset(pkt, fill, len);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
}

static size_t
seal(struct pair *p, sp_wg *from, sp_wg_peer *to, const uint8_t *pkt, size_t len, uint8_t *out)
{
	size_t n;

	assert_int_equal(sp_wg_encrypt(from, to, pkt, len, p->now, out, 2048, &n), SP_OK);
	assert_int_equal(n, sp_wg_encrypted_size(len));
	return n;
}

static void
test_handshake_and_data_both_ways(void **state)
{
	struct pair p;
	uint8_t pkt[100], msg[2048], copy[2048], reply[SP_WG_MIN_REPLY];
	size_t n;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	/* No session yet: the caller must start a handshake. */
	ip_packet(pkt, sizeof(pkt), 0xaa);
	assert_int_equal(sp_wg_encrypt(p.a, p.a_b, pkt, sizeof(pkt), p.now, msg, sizeof(msg), &n),
	    SP_ENOENT);
	handshake(&p);
	/* The responder may not send until the initiator's first message
	 * confirms the keys (the paper, 5.4.5). */
	assert_int_equal(sp_wg_encrypt(p.b, p.b_a, pkt, sizeof(pkt), p.now, msg, sizeof(msg), &n),
	    SP_ENOENT);

	n = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	memcpy(copy, msg, n);
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	assert_ptr_equal(rx.peer, p.b_a);
	assert_int_equal(rx.data_len, sizeof(pkt));
	assert_memory_equal(rx.data, pkt, sizeof(pkt));

	/* Replayed: dropped, counted. */
	assert_int_equal(sp_wg_receive(p.b, copy, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DROP);
	assert_int_equal(sp_wg_stats_get(p.b)->rx_replay, 1);

	/* Now b can answer. */
	ip_packet(pkt, 60, 0xbb);
	n = seal(&p, p.b, p.b_a, pkt, 60, msg);
	assert_int_equal(sp_wg_receive(p.a, msg, n, src_b, sizeof(src_b), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	assert_int_equal(rx.data_len, 60);
	assert_memory_equal(rx.data, pkt, 60);

	/* A keepalive is an empty, authenticated message. */
	n = seal(&p, p.a, p.a_b, pkt, 0, msg);
	assert_int_equal(n, SP_WG_TRANSPORT_OVERHEAD);
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_KEEPALIVE);
	free_pair(&p);
}

/* Padding stops at the MTU (the paper, 5.4.6), so a full-size packet
 * travels unpadded, as other implementations send it, and is accepted. */
static void
test_padding_stops_at_the_mtu(void **state)
{
	struct pair p;
	uint8_t pkt[1420], msg[2048], reply[SP_WG_MIN_REPLY];
	size_t n;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	handshake(&p);
	sp_wg_set_mtu(p.a, 1420);
	ip_packet(pkt, sizeof(pkt), 0x42);
	assert_int_equal(sp_wg_encrypt(p.a, p.a_b, pkt, sizeof(pkt), p.now, msg, sizeof(msg), &n),
	    SP_OK);
	assert_int_equal(n, 1420 + SP_WG_TRANSPORT_OVERHEAD);   /* not a multiple of 16 */
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	assert_int_equal(rx.data_len, 1420);
	assert_memory_equal(rx.data, pkt, 1420);
	/* Below the MTU, padding to 16 as usual. */
	assert_int_equal(sp_wg_encrypt(p.a, p.a_b, pkt, 1410, p.now, msg, sizeof(msg), &n), SP_OK);
	assert_int_equal(n, 1420 + SP_WG_TRANSPORT_OVERHEAD);
	assert_int_equal(sp_wg_encrypt(p.a, p.a_b, pkt, 100, p.now, msg, sizeof(msg), &n), SP_OK);
	assert_int_equal(n, 112 + SP_WG_TRANSPORT_OVERHEAD);
	free_pair(&p);
}

static void
test_reordered_packets_within_the_window(void **state)
{
	struct pair p;
	uint8_t pkt[40], msgs[5][128], reply[SP_WG_MIN_REPLY];
	size_t n[5];
	sp_wg_rx rx;
	static const int order[] = { 3, 0, 4, 1, 2 };

	(void)state;
	make_pair(&p);
	handshake(&p);
	ip_packet(pkt, sizeof(pkt), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sp_wg_encrypt(p.a, p.a_b, pkt, sizeof(pkt), p.now, msgs[i], 128, &n[i]),
		    SP_OK);
	for (int i = 0; i < 5; i++) {
		int k = order[i];
		assert_int_equal(sp_wg_receive(p.b, msgs[k], n[k], src_a, sizeof(src_a), p.now, reply,
		    &rx), SP_OK);
		assert_int_equal(rx.kind, SP_WG_RX_DATA);
	}
	assert_int_equal(sp_wg_stats_get(p.b)->rx_data, 5);
	free_pair(&p);
}

static void
test_tampering_is_dropped(void **state)
{
	struct pair p;
	uint8_t pkt[64], msg[256], copy[256], reply[SP_WG_MIN_REPLY];
	size_t n;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	handshake(&p);
	ip_packet(pkt, sizeof(pkt), 7);
	n = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	/* Every single-bit flip after the type byte is refused. */
	for (size_t i = 4; i < n; i++) {
		memcpy(copy, msg, n);
		copy[i] ^= 0x10;
		assert_int_equal(sp_wg_receive(p.b, copy, n, src_a, sizeof(src_a), p.now, reply, &rx),
		    SP_OK);
		assert_int_not_equal(rx.kind, SP_WG_RX_DATA);
	}
	/* The untouched message still goes through: the failures above did
	 * not consume its counter. */
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	free_pair(&p);
}

static void
test_garbage_and_truncation(void **state)
{
	struct pair p;
	uint8_t buf[2048], init[SP_WG_INITIATION_SIZE], reply[SP_WG_MIN_REPLY];
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t)(i % 300);
		randombytes_buf(buf, len);
		if (i % 4 == 0 && len > 0)
			buf[0] = (uint8_t)(1 + i % 4);   /* plausible types */
		if (i % 8 == 0 && len > 3)
			buf[1] = buf[2] = buf[3] = 0;
		assert_int_equal(sp_wg_receive(p.b, buf, len, src_a, sizeof(src_a), p.now, reply, &rx),
		    SP_OK);
		assert_true(rx.kind == SP_WG_RX_DROP);
	}
	/* Every truncation of a real initiation is refused. */
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000, 0, p.now, init), SP_OK);
	for (size_t len = 0; len < sizeof(init); len++) {
		memcpy(buf, init, len);
		assert_int_equal(sp_wg_receive(p.b, buf, len, src_a, sizeof(src_a), p.now, reply, &rx),
		    SP_OK);
		assert_int_equal(rx.kind, SP_WG_RX_DROP);
	}
	assert_int_equal(sp_wg_stats_get(p.b)->handshakes, 0);
	free_pair(&p);
}

static void
test_unknown_key_and_replayed_initiation(void **state)
{
	struct pair p;
	uint8_t stranger_key[32], init[SP_WG_INITIATION_SIZE], copy[SP_WG_INITIATION_SIZE];
	uint8_t reply[SP_WG_MIN_REPLY];
	sp_wg *stranger;
	sp_wg_peer *to_b;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	/* Someone who knows b's key but whom b does not know. */
	sp_wg_genkey(&R.rng, stranger_key);
	assert_int_equal(sp_wg_new(stranger_key, &R.rng, &stranger), SP_OK);
	assert_int_equal(sp_wg_peer_add(stranger, sp_wg_public(p.b), &to_b), SP_OK);
	assert_int_equal(sp_wg_initiate(stranger, to_b, 1700000000, 0, p.now, init), SP_OK);
	assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DROP);
	assert_int_equal(sp_wg_stats_get(p.b)->rx_unknown_peer, 1);
	sp_wg_free(stranger);

	/* A recorded initiation played again is refused by its timestamp. */
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000, 0, p.now, init), SP_OK);
	memcpy(copy, init, sizeof(init));
	assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_REPLY);
	p.now += 1000;
	assert_int_equal(sp_wg_receive(p.b, copy, sizeof(copy), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DROP);
	assert_int_equal(sp_wg_stats_get(p.b)->rx_old_timestamp, 1);
	free_pair(&p);
}

static void
test_wrong_responder_key(void **state)
{
	struct pair p;
	uint8_t other[32], other_pub[32], init[SP_WG_INITIATION_SIZE], reply[SP_WG_MIN_REPLY];
	sp_wg_peer *wrong;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	/* a thinks b has another key: mac1 (keyed by the responder's key)
	 * fails before any DH is spent. */
	sp_wg_genkey(&R.rng, other);
	sp_wg_pubkey(other_pub, other);
	assert_int_equal(sp_wg_peer_add(p.a, other_pub, &wrong), SP_OK);
	assert_int_equal(sp_wg_initiate(p.a, wrong, 1700000000, 0, p.now, init), SP_OK);
	assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DROP);
	assert_int_equal(sp_wg_stats_get(p.b)->rx_bad_mac, 1);
	free_pair(&p);
}

static void
test_cookies_under_load(void **state)
{
	struct pair p;
	uint8_t init[SP_WG_INITIATION_SIZE], reply[SP_WG_MIN_REPLY], cookie[SP_WG_COOKIE_REPLY_SIZE];
	uint8_t spoofed[] = { 192, 0, 2, 9, 0, 1 };
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	sp_wg_set_under_load(p.b, 1);
	/* Under load an initiation without a cookie costs b one MAC and gets
	 * a cookie reply, not a handshake. */
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000, 0, p.now, init), SP_OK);
	assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_REPLY);
	assert_int_equal(rx.reply_len, SP_WG_COOKIE_REPLY_SIZE);
	assert_int_equal(sp_wg_stats_get(p.b)->handshakes, 0);
	memcpy(cookie, reply, sizeof(cookie));
	assert_int_equal(sp_wg_receive(p.a, cookie, sizeof(cookie), src_b, sizeof(src_b), p.now,
	    reply, &rx), SP_OK);
	assert_ptr_equal(rx.peer, p.a_b);
	/* With the cookie, the next initiation carries mac2 and is served. */
	p.now += 100;
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000001, 0, p.now, init), SP_OK);
	assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_REPLY);
	assert_int_equal(rx.reply_len, SP_WG_RESPONSE_SIZE);
	assert_int_equal(sp_wg_stats_get(p.b)->handshakes, 1);
	/* The cookie is bound to the source: from elsewhere it is no good. */
	p.now += 100;
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000002, 0, p.now, init), SP_OK);
	assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), spoofed, sizeof(spoofed), p.now,
	    reply, &rx), SP_OK);
	assert_int_equal(rx.reply_len, SP_WG_COOKIE_REPLY_SIZE);
	assert_int_equal(sp_wg_stats_get(p.b)->handshakes, 1);
	free_pair(&p);
}

static void
test_handshake_flood_is_limited(void **state)
{
	struct pair p;
	uint8_t init[SP_WG_INITIATION_SIZE], reply[SP_WG_MIN_REPLY];
	sp_wg_rx rx;
	int served = 0;

	(void)state;
	make_pair(&p);
	/* 100 fresh initiations in one millisecond: one is served. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000 + i, 0, p.now, init), SP_OK);
		assert_int_equal(sp_wg_receive(p.b, init, sizeof(init), src_a, sizeof(src_a), p.now,
		    reply, &rx), SP_OK);
		served += rx.kind == SP_WG_RX_REPLY;
	}
	assert_int_equal(served, 1);
	assert_int_equal(sp_wg_stats_get(p.b)->rx_flood, 99);
	free_pair(&p);
}

static void
test_rehandshake_keeps_old_session_working(void **state)
{
	struct pair p;
	uint8_t pkt[40], old_msg[128], msg[128], reply[SP_WG_MIN_REPLY];
	size_t n_old, n;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	handshake(&p);
	ip_packet(pkt, sizeof(pkt), 3);
	/* The first session is confirmed by a first packet... */
	n = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	/* ...and a second is still in flight when the keys change. */
	n_old = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), old_msg);
	/* A second handshake while a packet under the first is in flight. */
	p.now += 1000;
	handshake(&p);
	n = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	/* The late packet under the previous keypair is still accepted. */
	assert_int_equal(sp_wg_receive(p.b, old_msg, n_old, src_a, sizeof(src_a), p.now, reply, &rx),
	    SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	/* After REJECT_AFTER_TIME nothing under these keys is accepted. */
	p.now += SP_WG_REJECT_AFTER_TIME_MS;
	assert_int_equal(sp_wg_encrypt(p.a, p.a_b, pkt, sizeof(pkt), p.now, msg, sizeof(msg), &n),
	    SP_ENOENT);
	free_pair(&p);
}

/*
 * Both sides start a handshake at once (a path ICE found, pinned at both
 * ends in the same moment): each is responder to the other's initiation
 * and then completes its own. Data under either new session must get
 * through at once, in both directions, not after the next handshake.
 */
static void
test_simultaneous_initiations(void **state)
{
	struct pair p;
	uint8_t ia[SP_WG_INITIATION_SIZE], ib[SP_WG_INITIATION_SIZE];
	uint8_t ra[SP_WG_RESPONSE_SIZE], rb[SP_WG_RESPONSE_SIZE], reply[SP_WG_MIN_REPLY];
	uint8_t pkt[40], msg[128];
	size_t n;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000, 0, p.now, ia), SP_OK);
	assert_int_equal(sp_wg_initiate(p.b, p.b_a, 1700000000, 0, p.now, ib), SP_OK);
	/* Each answers the other's initiation... */
	assert_int_equal(sp_wg_receive(p.b, ia, sizeof(ia), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_REPLY);
	memcpy(rb, reply, sizeof(rb));
	assert_int_equal(sp_wg_receive(p.a, ib, sizeof(ib), src_b, sizeof(src_b), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_REPLY);
	memcpy(ra, reply, sizeof(ra));
	/* ...a completes its own first and sends at once under it. */
	assert_int_equal(sp_wg_receive(p.a, rb, sizeof(rb), src_b, sizeof(src_b), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_HANDSHAKE);
	ip_packet(pkt, sizeof(pkt), 7);
	n = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	/* b completes its own before a's data arrives: a's session must
	 * survive that (it was b's unconfirmed next). */
	assert_int_equal(sp_wg_receive(p.b, ra, sizeof(ra), src_a, sizeof(src_a), p.now, reply,
	    &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_HANDSHAKE);
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	/* b sends under its own session; a kept it (its unconfirmed next). */
	n = seal(&p, p.b, p.b_a, pkt, sizeof(pkt), msg);
	assert_int_equal(sp_wg_receive(p.a, msg, n, src_b, sizeof(src_b), p.now, reply, &rx), SP_OK);
	assert_int_equal(rx.kind, SP_WG_RX_DATA);
	assert_int_equal(sp_wg_stats_get(p.a)->rx_unknown_index + sp_wg_stats_get(p.b)->rx_unknown_index,
	    0);
	free_pair(&p);
}

static void
test_replay_window(void **state)
{
	sp_wg_replay r;

	(void)state;
	sp_wg_replay_init(&r);
	assert_true(sp_wg_replay_check(&r, 0));
	assert_false(sp_wg_replay_check(&r, 0));
	assert_true(sp_wg_replay_check(&r, 5));
	assert_true(sp_wg_replay_check(&r, 3));
	assert_false(sp_wg_replay_check(&r, 3));
	assert_true(sp_wg_replay_check(&r, 4));
	assert_true(sp_wg_replay_check(&r, 5000));
	/* 5000 - 2048 is the oldest still in the window. */
	assert_false(sp_wg_replay_check(&r, 5000 - 2049));
	assert_true(sp_wg_replay_check(&r, 5000 - 2047));
	assert_false(sp_wg_replay_check(&r, 5000 - 2047));
	/* Bits skipped over by a jump are clear, not stale. */
	assert_true(sp_wg_replay_check(&r, 4999));
	assert_true(sp_wg_replay_check(&r, 5000 + 2048 * 3));
	assert_true(sp_wg_replay_check(&r, 5000 + 2048 * 3 - 5));
	assert_false(sp_wg_replay_check(&r, SP_WG_REJECT_AFTER_MESSAGES));
}

/* ---- timers, in virtual time ---------------------------------------------- */

static void
test_timer_handshake_retries_then_gives_up(void **state)
{
	struct pair p;
	uint8_t init[SP_WG_INITIATION_SIZE];
	uint64_t t0, next;
	unsigned todo;

	(void)state;
	make_pair(&p);
	t0 = p.now;
	/* A packet waits: initiate now. */
	sp_wg_peer_want_handshake(p.a_b, t0);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t0, 0, &next) & SP_WG_DO_INITIATE, SP_WG_DO_INITIATE);
	assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000, 0, t0, init), SP_OK);
	/* No answer: nothing before REKEY_TIMEOUT (+ at most 333 ms jitter). */
	todo = sp_wg_peer_tick(p.a_b, t0 + 4999, 0, &next);
	assert_int_equal(todo, 0);
	assert_true(next >= t0 + 5000 && next <= t0 + 5333);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t0 + 5334, 0, &next), SP_WG_DO_INITIATE);
	/* Retries stop after REKEY_ATTEMPT_TIME. */
	for (uint64_t t = t0 + 5334; t < t0 + 90000; t += 5334)
		assert_int_equal(sp_wg_initiate(p.a, p.a_b, 1700000000 + (int64_t)t, 0, t, init), SP_OK);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t0 + 90000, 0, &next), SP_WG_DO_GIVE_UP);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t0 + 90001, 0, &next), 0);
	free_pair(&p);
}

static void
test_timer_keepalive_acknowledges_data(void **state)
{
	struct pair p;
	uint8_t pkt[40], msg[128], reply[SP_WG_MIN_REPLY];
	uint64_t next, t;
	size_t n;
	sp_wg_rx rx;

	(void)state;
	make_pair(&p);
	handshake(&p);
	ip_packet(pkt, sizeof(pkt), 9);
	n = seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	t = p.now;
	assert_int_equal(sp_wg_receive(p.b, msg, n, src_a, sizeof(src_a), t, reply, &rx), SP_OK);
	/* b got data and sent nothing: a keepalive after KEEPALIVE_TIMEOUT. */
	assert_int_equal(sp_wg_peer_tick(p.b_a, t + 9999, 0, &next), 0);
	assert_int_equal(next, t + 10000);
	assert_int_equal(sp_wg_peer_tick(p.b_a, t + 10000, 0, &next), SP_WG_DO_KEEPALIVE);
	p.now = t + 10000;
	seal(&p, p.b, p.b_a, pkt, 0, msg);
	assert_int_equal(sp_wg_peer_tick(p.b_a, t + 10001, 0, &next) & SP_WG_DO_KEEPALIVE, 0);
	free_pair(&p);
}

static void
test_timer_silence_after_data_rehandshakes(void **state)
{
	struct pair p;
	uint8_t pkt[40], msg[128];
	uint64_t next, t;

	(void)state;
	make_pair(&p);
	handshake(&p);
	ip_packet(pkt, sizeof(pkt), 9);
	p.now += 1000;
	t = p.now;
	seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	/* Sent data, nothing came back for KEEPALIVE + REKEY_TIMEOUT. */
	assert_int_equal(sp_wg_peer_tick(p.a_b, t + 14999, 0, &next), 0);
	assert_int_equal(next, t + 15000);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t + 15000, 0, &next), SP_WG_DO_INITIATE);
	free_pair(&p);
}

static void
test_timer_rekey_and_expiry(void **state)
{
	struct pair p;
	uint8_t pkt[40], msg[128];
	uint64_t next, birth;

	(void)state;
	make_pair(&p);
	handshake(&p);
	birth = p.now;
	ip_packet(pkt, sizeof(pkt), 9);
	/* The initiator renews after REKEY_AFTER_TIME when it sends. */
	p.now = birth + SP_WG_REKEY_AFTER_TIME_MS - 1;
	seal(&p, p.a, p.a_b, pkt, sizeof(pkt), msg);
	assert_int_equal(sp_wg_peer_tick(p.a_b, birth + SP_WG_REKEY_AFTER_TIME_MS, 0, &next),
	    SP_WG_DO_INITIATE);
	/* The responder never rekeys by time; it leaves that to the initiator. */
	assert_int_equal(sp_wg_peer_tick(p.b_a, birth + SP_WG_REKEY_AFTER_TIME_MS, 0, &next)
	    & SP_WG_DO_INITIATE, 0);
	/* Nine minutes without new keys: everything is wiped. */
	assert_int_equal(sp_wg_peer_tick(p.b_a, birth + 3 * SP_WG_REJECT_AFTER_TIME_MS, 0, &next)
	    & SP_WG_DO_EXPIRE, SP_WG_DO_EXPIRE);
	assert_false(sp_wg_peer_has_session(p.b_a, birth + 3 * SP_WG_REJECT_AFTER_TIME_MS));
	free_pair(&p);
}

static void
test_timer_persistent_keepalive(void **state)
{
	struct pair p;
	uint8_t pkt[40], msg[128];
	uint64_t next, t;

	(void)state;
	make_pair(&p);
	/* Without a session, a persistent keepalive asks for one. */
	assert_int_equal(sp_wg_peer_tick(p.a_b, p.now, 25, &next), SP_WG_DO_INITIATE);
	handshake(&p);
	ip_packet(pkt, sizeof(pkt), 9);
	t = p.now;
	seal(&p, p.a, p.a_b, pkt, 0, msg);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t + 24999, 25, &next) & SP_WG_DO_KEEPALIVE, 0);
	assert_int_equal(sp_wg_peer_tick(p.a_b, t + 25000, 25, &next) & SP_WG_DO_KEEPALIVE,
	    SP_WG_DO_KEEPALIVE);
	free_pair(&p);
}

/* The core's randomness is only what it is given: the same seed gives the
 * same initiation bytes (ephemeral key, sender index, MACs), another seed
 * other ones. */
static void
initiation_with_seed(uint64_t seed, uint8_t out[SP_WG_INITIATION_SIZE])
{
	uint8_t ka[32], kb[32], pb[32];
	sp_rng_seeded rng;
	sp_wg *wg;
	sp_wg_peer *p;

	memset(ka, 7, 32);
	memset(kb, 9, 32);
	sp_wg_pubkey(pb, kb);
	sp_rng_seeded_init(&rng, seed);
	assert_int_equal(sp_wg_new(ka, &rng.rng, &wg), SP_OK);
	assert_int_equal(sp_wg_peer_add(wg, pb, &p), SP_OK);
	assert_int_equal(sp_wg_initiate(wg, p, 1700000000, 0, 1000, out), SP_OK);
	sp_wg_free(wg);
}

static void
test_randomness_comes_from_the_rng(void **state)
{
	uint8_t a[SP_WG_INITIATION_SIZE], b[SP_WG_INITIATION_SIZE], c[SP_WG_INITIATION_SIZE];

	(void)state;
	initiation_with_seed(42, a);
	initiation_with_seed(42, b);
	initiation_with_seed(43, c);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s_rfc7693),
		cmocka_unit_test(test_randomness_comes_from_the_rng),
		cmocka_unit_test(test_protocol_constants),
		cmocka_unit_test(test_tai64n),
		cmocka_unit_test(test_dh_rejects_low_order),
		cmocka_unit_test(test_handshake_and_data_both_ways),
		cmocka_unit_test(test_padding_stops_at_the_mtu),
		cmocka_unit_test(test_reordered_packets_within_the_window),
		cmocka_unit_test(test_tampering_is_dropped),
		cmocka_unit_test(test_garbage_and_truncation),
		cmocka_unit_test(test_unknown_key_and_replayed_initiation),
		cmocka_unit_test(test_wrong_responder_key),
		cmocka_unit_test(test_cookies_under_load),
		cmocka_unit_test(test_handshake_flood_is_limited),
		cmocka_unit_test(test_rehandshake_keeps_old_session_working),
		cmocka_unit_test(test_simultaneous_initiations),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_timer_handshake_retries_then_gives_up),
		cmocka_unit_test(test_timer_keepalive_acknowledges_data),
		cmocka_unit_test(test_timer_silence_after_data_rehandshakes),
		cmocka_unit_test(test_timer_rekey_and_expiry),
		cmocka_unit_test(test_timer_persistent_keepalive),
	};

	if (sodium_init() < 0)
		return 1;
	sp_rng_seeded_init(&R, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
