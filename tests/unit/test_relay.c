/* tunnels/relay.c: the relay's framing and the gateway's table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_err.h"
#include "sp_relay.h"

static sp_rng_seeded rng;
static int A, B, C;   /* owners: only their addresses matter */

/* A TO frame from key to slot, with a WireGuard-looking message after. */
static size_t
frame(uint8_t *out, uint32_t slot, const uint8_t key[SP_RELAY_KEY], size_t body)
{
	sp_relay_write(out, SP_RELAY_TO, slot, key);
	for (size_t i = 0; i < body; i++)
		out[SP_RELAY_HEADER + i] = (uint8_t)(i == 0 ? 4 : i);
	return SP_RELAY_HEADER + body;
}

static void
test_header(void **state)
{
	uint8_t key[SP_RELAY_KEY] = { 1, 2, 3, 4, 5, 6, 7, 8 }, buf[64];
	sp_relay_hdr h;

	(void)state;
	sp_relay_write(buf, SP_RELAY_FROM, 0x01020304, key);
	memset(buf + SP_RELAY_HEADER, 4, 4);
	assert_true(sp_relay_is(buf, 20));
	assert_int_equal(sp_relay_parse(buf, 20, &h), SP_OK);
	assert_int_equal(h.kind, SP_RELAY_FROM);
	assert_int_equal(h.index, 0x01020304);
	assert_memory_equal(h.key, key, SP_RELAY_KEY);
	/* Little-endian on the wire, as docs/relay.md draws it. */
	assert_int_equal(buf[4], 4);
	assert_int_equal(buf[7], 1);
	/* Too short for a message after the header, a bad kind, nonzero
	 * reserved bytes: not a frame. */
	assert_int_equal(sp_relay_parse(buf, 19, &h), SP_EPROTO);
	buf[1] = 3;
	assert_int_equal(sp_relay_parse(buf, 20, &h), SP_EPROTO);
	buf[1] = SP_RELAY_TO;
	buf[2] = 1;
	assert_false(sp_relay_is(buf, 20));
	/* Never taken for WireGuard (types 1-4), pairing (0x50) or STUN
	 * (first byte 0x00 or 0x01, the magic cookie at 4). */
	{
		uint8_t other[20];
		static const uint8_t firsts[] = { 1, 2, 3, 4, 0x50, 0x00, 0x01 };
		for (size_t i = 0; i < sizeof(firsts); i++) {
			memset(other, 0, sizeof(other));
			other[0] = firsts[i];
			other[4] = 0x21, other[5] = 0x12, other[6] = 0xa4, other[7] = 0x42;
			assert_false(sp_relay_is(other, sizeof(other)));
		}
	}
}

static void
test_forward(void **state)
{
	sp_relay_table *t;
	uint32_t ia, ib, ic;
	uint8_t ka[SP_RELAY_KEY], kb[SP_RELAY_KEY], kc[SP_RELAY_KEY], buf[128], wrong[SP_RELAY_KEY];
	void *from, *to;
	sp_relay_hdr h;
	size_t n;

	(void)state;
	assert_int_equal(sp_relay_table_new(&rng.rng, &t), SP_OK);
	assert_int_equal(sp_relay_add(t, &A, &ia, ka), SP_OK);
	assert_int_equal(sp_relay_add(t, &B, &ib, kb), SP_OK);
	assert_int_equal(sp_relay_add(t, &C, &ic, kc), SP_OK);
	assert_int_not_equal(ia, 0);
	assert_true(ia != ib && ib != ic && ia != ic);
	assert_int_equal(sp_relay_count(t), 3);

	/* A to B: rewritten into B's FROM frame naming A, with B's key; the
	 * message after the header untouched. */
	n = frame(buf, ib, ka, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_OK);
	assert_ptr_equal(from, &A);
	assert_ptr_equal(to, &B);
	assert_int_equal(sp_relay_parse(buf, n, &h), SP_OK);
	assert_int_equal(h.kind, SP_RELAY_FROM);
	assert_int_equal(h.index, ia);
	assert_memory_equal(h.key, kb, SP_RELAY_KEY);
	assert_int_equal(buf[SP_RELAY_HEADER], 4);
	assert_int_equal(buf[SP_RELAY_HEADER + 39], 39);
	assert_int_equal(sp_relay_stats_of(t)->forwarded, 0);   /* the adapter counts sends */

	/* An unknown key, a FROM frame, a slot that is free, itself. */
	memset(wrong, 0xee, sizeof(wrong));
	n = frame(buf, ib, wrong, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_EPROTO);
	assert_int_equal(sp_relay_stats_of(t)->bad_key, 1);
	n = frame(buf, ib, ka, 40);
	buf[1] = SP_RELAY_FROM;
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_EPROTO);
	assert_int_equal(sp_relay_stats_of(t)->bad_frame, 1);
	n = frame(buf, 999, ka, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_EPROTO);
	n = frame(buf, ia, ka, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_EPROTO);
	assert_int_equal(sp_relay_stats_of(t)->no_dest, 2);

	/* B leaves: its key stops working and nobody reaches its slot. */
	sp_relay_remove(t, ib);
	assert_null(sp_relay_at(t, ib, NULL));
	n = frame(buf, ia, kb, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_EPROTO);
	n = frame(buf, ib, kc, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_EPROTO);
	/* C still reaches A. */
	n = frame(buf, ia, kc, 40);
	assert_int_equal(sp_relay_forward(t, buf, n, &from, &to), SP_OK);
	assert_ptr_equal(from, &C);
	/* A new member does not get B's slot back at once. */
	{
		uint32_t in;
		uint8_t kn[SP_RELAY_KEY];
		assert_int_equal(sp_relay_add(t, &B, &in, kn), SP_OK);
		assert_int_not_equal(in, ib);
		assert_memory_not_equal(kn, kb, SP_RELAY_KEY);
	}
	sp_relay_table_free(t);
}

/* Many members coming and going: every live key finds its own slot, and
 * no removed key works (the index's tombstones and growth). */
static void
test_churn(void **state)
{
	enum { N = 3000 };
	static int owner[N];
	static uint32_t idx[N];
	static uint8_t key[N][SP_RELAY_KEY];
	static int live[N];
	sp_relay_table *t;
	uint8_t buf[64];
	void *from, *to;
	uint32_t dst_slot = 0;
	int dst = -1;

	(void)state;
	assert_int_equal(sp_relay_table_new(&rng.rng, &t), SP_OK);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < N; i++)
			if (!live[i] && (i + round) % 3 != 0) {
				assert_int_equal(sp_relay_add(t, &owner[i], &idx[i], key[i]), SP_OK);
				live[i] = 1;
			}
		for (int i = 0; i < N; i++)
			if (live[i] && (i * 7 + round) % 5 == 0) {
				sp_relay_remove(t, idx[i]);
				live[i] = 0;
			}
		dst = -1;
		for (int i = 0; i < N && dst < 0; i++)
			if (live[i]) {
				dst = i;
				dst_slot = idx[i];
			}
		for (int i = 0; i < N; i++) {
			size_t n = frame(buf, dst_slot, key[i], 8);
			int rc = sp_relay_forward(t, buf, n, &from, &to);
			if (live[i] && i != dst) {
				assert_int_equal(rc, SP_OK);
				assert_ptr_equal(from, &owner[i]);
			} else if (!live[i]) {
				assert_int_equal(rc, SP_EPROTO);
			}
		}
	}
	sp_relay_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_churn),
	};

	if (sodium_init() < 0)
		return 1;
	sp_rng_seeded_init(&rng, 7);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
