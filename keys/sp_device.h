/*
 * The devices of a personal cloud, as the gateway keeps them: a name, an
 * identity key, optional SSH host key fingerprints. One store entry each,
 * "devices/<name>", in sp_kv text. The zone publishes them.
 *
 * Overlay addresses (docs/zone.md): the zone's /48 is fd00::/8 plus 40 bits
 * of SHA-256("signpost-ula-v1" || zone || founding KSK), fixed at init; a
 * device's /128 is that /48 plus 80 bits of SHA-256("signpost-iid-v1" ||
 * device key), so it never changes while the key does not.
 */
#ifndef SP_DEVICE_H
#define SP_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_key.h"
#include "sp_platform.h"

#define SP_DEVICE_MAX_SSHFP 8

typedef struct sp_sshfp {
	uint8_t algorithm;          /* 1 RSA, 2 DSA, 3 ECDSA, 4 Ed25519 */
	uint8_t fp_type;            /* 2 = SHA-256 */
	uint8_t fp[32];
} sp_sshfp;

/* What kind of member a device is (docs/keys.md): a Signpost device, whose
 * key is its Ed25519 identity (the X25519 one derived from it), or a phone
 * with only a WireGuard app, whose key is an X25519 key and which talks to
 * the gateway alone. */
typedef enum sp_device_kind { SP_DEVICE_SIGNPOST, SP_DEVICE_WIREGUARD } sp_device_kind;

#define SP_DEVICE_TOKEN_ID 8

typedef struct sp_device {
	char name[64];
	sp_device_kind kind;
	uint8_t pub[SP_KEY_PUBLIC_BYTES];   /* Ed25519, or X25519 for WIREGUARD */
	int64_t added;
	int64_t renamed;                    /* when it got this name; 0: never */
	sp_sshfp sshfp[SP_DEVICE_MAX_SSHFP];
	size_t nsshfp;
	/* The pairing token that admitted it, if one did: a retried join with
	 * the same key is answered again, and at start a token it names is
	 * known to be used (a crash between the two writes). */
	uint8_t token_id[SP_DEVICE_TOKEN_ID];
	int has_token;
} sp_device;

/* The device's WireGuard (X25519) public key. SP_EINVAL for an Ed25519
 * key that has no X25519 form. */
int sp_device_x25519(const sp_device *d, uint8_t out[32]);

/* Text of the device's store entry and back (pure). */
int sp_device_encode(const sp_device *d, char *out, size_t cap, size_t *len);
int sp_device_decode(const char *text, size_t len, const char *what, sp_device *d,
    sp_errmsg *e);

/* Every device, sorted by name (*out malloc'd). */
int sp_devices_load(sp_store *s, sp_device **out, size_t *n, sp_errmsg *e);
int sp_device_save(sp_store *s, const sp_device *d, sp_errmsg *e);
/* SP_ENOENT if there is no such device. */
int sp_device_delete(sp_store *s, const char *name, sp_errmsg *e);

/*
 * SSHFP (SHA-256) fingerprints of OpenSSH public keys, one per line as in
 * ssh_host_*_key.pub ("ssh-ed25519 AAAA... comment"); blank lines and '#'
 * comments are skipped. Pure.
 */
int sp_sshfp_from_openssh(const char *text, size_t len, sp_sshfp *out, size_t max,
    size_t *n, sp_errmsg *e);

/*
 * Revoked keys: "revoked/<id>" in the store, so a key that was revoked can
 * never pair or handshake again (a new pairing with a new key is the only
 * way back). sp_revoked_find: SP_OK if pub is revoked (name and when, if
 * asked), SP_ENOENT if not.
 */
int sp_revoked_add(sp_store *s, const uint8_t pub[SP_KEY_PUBLIC_BYTES], const char *name,
    int64_t when, sp_errmsg *e);
int sp_revoked_find(sp_store *s, const uint8_t pub[SP_KEY_PUBLIC_BYTES], char name[64],
    int64_t *when, sp_errmsg *e);

/* The zone's /48 (first 6 bytes used) and a device's /128. Pure. */
void sp_ula_prefix(const char *zone, const uint8_t ksk_pub[SP_KEY_PUBLIC_BYTES],
    uint8_t prefix[6]);
void sp_ula_device(const uint8_t prefix[6], const uint8_t pub[SP_KEY_PUBLIC_BYTES],
    uint8_t addr[16]);

#endif
