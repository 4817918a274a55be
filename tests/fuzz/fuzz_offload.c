/*
 * libFuzzer target: TUN offloads (tunnels/offload.c). The input is what a
 * TUN read gives (a virtio-net header, then a packet): it is segmented,
 * and the segments and the raw packet are coalesced again. Segments must
 * fit their slots, runs must fit an IP packet, and a run's bytes must be
 * the segments' bytes in order.
 */
#include <stdint.h>
#include <string.h>

#include "sp_offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOT 2048
#define SLOTS 48

static uint8_t out[SLOTS * SLOT];
static uint8_t raw[65536];
static size_t lens[SLOTS];
static sp_gro gro;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_vnet_hdr h;
	int n;

	if (size < SP_VNET_HDR_LEN || size - SP_VNET_HDR_LEN > sizeof(raw))
		return 0;
	sp_vnet_hdr_read(data, &h);
	n = sp_offload_segment(&h, data + SP_VNET_HDR_LEN, size - SP_VNET_HDR_LEN, out, SLOT,
	    SLOT - 48, SLOTS, lens);
	if (n > SLOTS)
		__builtin_trap();
	sp_gro_init(&gro);
	for (int i = 0; i < n; i++) {
		if (lens[i] > SLOT - 48)
			__builtin_trap();
		if (sp_gro_add(&gro, out + (size_t)i * SLOT, lens[i]) != 0)
			__builtin_trap();
	}
	memcpy(raw, data + SP_VNET_HDR_LEN, size - SP_VNET_HDR_LEN);
	(void)sp_gro_add(&gro, raw, size - SP_VNET_HDR_LEN);
	sp_gro_finish(&gro);
	for (size_t i = 0; i < gro.n; i++) {
		size_t total = 0;
		if (!gro.item[i].head)
			continue;
		total = gro.item[i].len;
		for (int j = gro.item[i].next; j >= 0; j = gro.item[j].next) {
			if (gro.item[j].head || gro.item[j].hlen != gro.item[i].hlen ||
			    gro.item[j].len < gro.item[j].hlen)
				__builtin_trap();
			total += (size_t)gro.item[j].len - gro.item[j].hlen;
		}
		if (total > 65535)
			__builtin_trap();
	}
	return 0;
}
