/*
 * libFuzzer target: the small state files, each a pure decoder of sp_kv
 * text: the cloud file (keys/cloud.c), a device's file (keys/device.c) and
 * the zone's state (resolver/zonesrc.c). The first byte picks the decoder,
 * so one corpus reaches all three.
 */
#include <stdint.h>
#include <string.h>

#include "sp_cloud.h"
#include "sp_device.h"
#include "sp_zonesrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	sp_errmsg e;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		sp_cloud c;
		if (sp_cloud_decode(text, size - 1, "cloud", &c, &e) == SP_OK &&
		    (memchr(c.zone, '\0', sizeof(c.zone)) == NULL ||
		    memchr(c.name, '\0', sizeof(c.name)) == NULL))
			__builtin_trap();
		break;
	}
	case 1: {
		sp_device d;
		if (sp_device_decode(text, size - 1, "devices/x", &d, &e) == SP_OK &&
		    (memchr(d.name, '\0', sizeof(d.name)) == NULL || d.nsshfp > SP_DEVICE_MAX_SSHFP))
			__builtin_trap();
		break;
	}
	default: {
		uint32_t serial;
		char again[64];
		size_t n;
		/* What decodes re-encodes to something that decodes the same. */
		if (sp_zone_state_decode(text, size - 1, "zone", &serial, &e) == SP_OK) {
			uint32_t back;
			if (sp_zone_state_encode(serial, again, sizeof(again), &n) != SP_OK ||
			    sp_zone_state_decode(again, n, "zone", &back, &e) != SP_OK || back != serial)
				__builtin_trap();
		}
		break;
	}
	}
	return 0;
}
