/* libFuzzer target: the relay's framing and the gateway's table
 * (tunnels/relay.c). Arbitrary frames against a table of members; a
 * forwarded frame must name two different live members and carry the
 * receiver's key, and the bytes after the header must be untouched. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sp_relay_table *table;
static sp_rng_seeded rng;
static int owners[64];
static uint32_t slots[64];
static uint8_t keys[64][SP_RELAY_KEY];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	void *from, *to;
	sp_relay_hdr h;

	if (table == NULL) {
		if (sodium_init() < 0)
			__builtin_trap();
		sp_rng_seeded_init(&rng, 3);
		if (sp_relay_table_new(&rng.rng, &table) != 0)
			__builtin_trap();
		for (int i = 0; i < 64; i++)
			if (sp_relay_add(table, &owners[i], &slots[i], keys[i]) != 0)
				__builtin_trap();
		/* Some leave, so lookups walk tombstones. */
		for (int i = 0; i < 64; i += 3)
			sp_relay_remove(table, slots[i]);
	}
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	(void)sp_relay_parse(buf, size, &h);
	/* Half the inputs get a live member's key, so the forwarding path runs. */
	if (size >= SP_RELAY_HEADER && (data[0] & 1)) {
		int who = 1 + 3 * ((data[1] % 21));
		buf[0] = SP_RELAY_MAGIC;
		buf[1] = SP_RELAY_TO;
		buf[2] = buf[3] = 0;
		memcpy(buf + 8, keys[who % 64], SP_RELAY_KEY);
	}
	if (sp_relay_forward(table, buf, size, &from, &to) == 0) {
		uint8_t key[SP_RELAY_KEY];
		if (from == to || from == NULL || to == NULL ||
		    sp_relay_parse(buf, size, &h) != 0 || h.kind != SP_RELAY_FROM ||
		    sp_relay_at(table, h.index, NULL) != from)
			__builtin_trap();
		for (int i = 0; i < 64; i++)
			if (&owners[i] == to && (sp_relay_at(table, slots[i], key) != to ||
			    memcmp(key, h.key, SP_RELAY_KEY) != 0))
				__builtin_trap();
		if (size > SP_RELAY_HEADER && memcmp(buf + SP_RELAY_HEADER, data + SP_RELAY_HEADER,
		    size - SP_RELAY_HEADER) != 0)
			__builtin_trap();
	}
	free(buf);
	return 0;
}
