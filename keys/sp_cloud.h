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
/* Write it back, atomically (a member renamed by its gateway). */
int sp_cloud_save(sp_store *s, const sp_cloud *c, sp_errmsg *e);

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

/*
 * A member's cloud, as pairing made it: a KSK and ZSK stay with the
 * gateway; here are the device's key (in the keystore already), "gateway"
 * (where and who its gateway is), "anchor" (the zone's DNSKEYs its pairing
 * code's DS named) and, written last, "cloud" with role device. The same
 * refusals as sp_cloud_create: never over an existing cloud.
 */
#define SP_GATEWAY_ENDPOINTS 4
typedef struct sp_gateway_info {
	uint8_t key[SP_KEY_PUBLIC_BYTES];     /* Ed25519 */
	uint8_t addr[16];                     /* its overlay address */
	uint16_t control_port;
	char endpoint[SP_GATEWAY_ENDPOINTS][80];
	size_t nendpoints;
} sp_gateway_info;

#define SP_ANCHOR_MAX 8
typedef struct sp_anchor {
	uint8_t dnskey[SP_ANCHOR_MAX][SP_DNSKEY_RDATA_BYTES];
	size_t n;
} sp_anchor;

int sp_gateway_info_encode(const sp_gateway_info *g, char *out, size_t cap, size_t *len);
int sp_gateway_info_decode(const char *text, size_t len, const char *what, sp_gateway_info *g,
    sp_errmsg *e);
int sp_gateway_info_load(sp_store *s, sp_gateway_info *g, sp_errmsg *e);
int sp_anchor_encode(const sp_anchor *a, char *out, size_t cap, size_t *len);
int sp_anchor_decode(const char *text, size_t len, const char *what, sp_anchor *a,
    sp_errmsg *e);
int sp_anchor_load(sp_store *s, sp_anchor *a, sp_errmsg *e);
/* The anchor's KSKs as key infos (role KSK, for sp_anchor_text and DS). */
size_t sp_anchor_keys(const sp_anchor *a, sp_key_info *out, size_t max);

int sp_cloud_join(sp_store *s, const char *zone, const char *name, const uint8_t prefix[6],
    const sp_gateway_info *gw, const sp_anchor *anchor, int64_t now, sp_cloud *out,
    sp_errmsg *e) __attribute__((warn_unused_result));

#endif
