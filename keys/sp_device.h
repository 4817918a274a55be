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

typedef struct sp_device {
	char name[64];
	uint8_t pub[SP_KEY_PUBLIC_BYTES];
	int64_t added;
	sp_sshfp sshfp[SP_DEVICE_MAX_SSHFP];
	size_t nsshfp;
} sp_device;

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

/* The zone's /48 (first 6 bytes used) and a device's /128. Pure. */
void sp_ula_prefix(const char *zone, const uint8_t ksk_pub[SP_KEY_PUBLIC_BYTES],
    uint8_t prefix[6]);
void sp_ula_device(const uint8_t prefix[6], const uint8_t pub[SP_KEY_PUBLIC_BYTES],
    uint8_t addr[16]);

#endif
