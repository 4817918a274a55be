/*
 * A personal cloud as this device knows it: its zone, its own name in it,
 * its role, and the keys in the state store. `signpost init` creates one.
 *
 * The store holds "cloud" (this file's state, sp_kv text) and the key files under keys/.
 * The cloud file is written last, so a store with keys but no cloud file
 * is an interrupted init, which sp_cloud_create reports rather than
 * silently reusing or overwriting.
 */
#ifndef SP_CLOUD_H
#define SP_CLOUD_H

#include <stdint.h>

#include "sp_err.h"
#include "sp_key.h"
#include "sp_platform.h"

typedef enum sp_role { SP_NODE_GATEWAY, SP_NODE_DEVICE } sp_role;

typedef struct sp_cloud {
	char zone[256];     /* canonical, with the trailing dot */
	char name[64];      /* this device's label */
	sp_role role;
	int64_t created;
	uint8_t prefix[6];  /* the zone's ULA /48, fixed at init (sp_device.h) */
} sp_cloud;

const char *sp_role_name(sp_role role);

/* The text of the cloud file, and back (pure). out holds >= 1024 bytes. */
int sp_cloud_encode(const sp_cloud *c, char *out, size_t outlen, size_t *len);
int sp_cloud_decode(const char *text, size_t len, const char *what, sp_cloud *c,
    sp_errmsg *e);

/* SP_ENOENT (with a message saying to run init) if there is no cloud. */
int sp_cloud_load(sp_store *s, sp_cloud *c, sp_errmsg *e);

/*
 * Create a cloud whose first device, name.zone, is the gateway: a KSK, a
 * ZSK and the device's identity key, sealed if seal is given (slow:
 * Argon2id per key). Refuses (SP_EEXIST) if the store already holds a
 * cloud or any key.
 */
int sp_cloud_create(sp_store *s, const char *zone, const char *name,
    const sp_seal *seal, int64_t now, const sp_rng *rng, sp_cloud *out, sp_errmsg *e)
	__attribute__((warn_unused_result));

/* name.zone with the trailing dot; out holds >= 320 bytes. */
void sp_cloud_fqdn(const sp_cloud *c, char *out, size_t len);

#endif
