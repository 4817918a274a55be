/* libFuzzer target: the WireGuard receive path (tunnels/wg.c). A device
 * with a known peer and an established session takes arbitrary bytes;
 * nothing may crash, and decrypted data must lie inside the message. */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "sp_wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sp_wg *dev;
/* Randomness from a fixed seed (ephemerals, indexes, cookie secrets), so a
 * crash replays exactly. */
static sp_rng_seeded rng;

static void
setup(void)
{
	uint8_t a[32], b[32], pa[32], pb[32], init[SP_WG_INITIATION_SIZE], reply[SP_WG_MIN_REPLY];
	static const uint8_t src[] = { 10, 0, 0, 1, 0, 1 };
	sp_wg *peer;
	sp_wg_peer *to_dev, *to_peer;
	sp_wg_rx rx;

	if (sodium_init() < 0)
		__builtin_trap();
	sp_rng_seeded_init(&rng, 1);
	/* Fixed keys so that runs are reproducible. */
	memset(a, 1, 32);
	memset(b, 2, 32);
	a[0] &= 248; a[31] = (uint8_t)((a[31] & 127) | 64);
	b[0] &= 248; b[31] = (uint8_t)((b[31] & 127) | 64);
	sp_wg_pubkey(pa, a);
	sp_wg_pubkey(pb, b);
	if (sp_wg_new(a, &rng.rng, &dev) != SP_OK || sp_wg_new(b, &rng.rng, &peer) != SP_OK ||
	    sp_wg_peer_add(dev, pb, &to_peer) != SP_OK || sp_wg_peer_add(peer, pa, &to_dev) != SP_OK ||
	    sp_wg_initiate(peer, to_dev, 1700000000, 0, 1, init) != SP_OK)
		__builtin_trap();
	sp_wg_receive(dev, init, sizeof(init), src, sizeof(src), 1, reply, &rx);
	sp_wg_free(peer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t src[] = { 10, 0, 0, 9, 0, 9 };
	uint8_t msg[4096], reply[SP_WG_MIN_REPLY];
	sp_wg_rx rx;

	if (dev == NULL)
		setup();
	if (size > sizeof(msg))
		size = sizeof(msg);
	memcpy(msg, data, size);
	if (sp_wg_receive(dev, msg, size, src, sizeof(src), 2, reply, &rx) != SP_OK)
		return 0;
	if (rx.kind == SP_WG_RX_DATA &&
	    (rx.data < msg || rx.data + rx.data_len > msg + size || rx.data_len == 0))
		__builtin_trap();
	if (rx.kind == SP_WG_RX_REPLY && (rx.reply_len == 0 || rx.reply_len > SP_WG_MIN_REPLY))
		__builtin_trap();
	return 0;
}
