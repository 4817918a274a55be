/*
 * The gateway role: the node that holds the zone's keys and serves the
 * signed zone. What the daemon and its control verbs see of it; the
 * services themselves are one file each in this folder (README.md).
 */
#ifndef SP_GATEWAY_H
#define SP_GATEWAY_H

#include "control.h"
#include "sp_device.h"
#include "sp_zone.h"

struct sp_daemon;
typedef struct sp_gateway sp_gateway;

/* Load the devices, build and sign the zone, serve it on the configured
 * addresses, and start rollovers and NOTIFYs. d->gw is set even on failure
 * (sp_gateway_stop frees what was made). */
int sp_gateway_start(struct sp_daemon *d, sp_errmsg *e);
/* Close every socket and connection, free everything. NULL is a no-op. */
void sp_gateway_stop(sp_gateway *g);
/* The gateway's status fields (docs/control.md). */
void sp_gateway_status(const sp_gateway *g, sp_ctl_reply *r);

/* The current snapshot: borrowed until the next change (sp_zone_hold to
 * keep it longer). */
sp_zone *sp_gw_zone(const sp_gateway *g);

/* The devices published in the zone (registry.c). */
size_t sp_gw_device_count(const sp_gateway *g);
const sp_device *sp_gw_devices(const sp_gateway *g);
int sp_gw_device_add(sp_gateway *g, const sp_device *dev, sp_errmsg *e);
int sp_gw_device_remove(sp_gateway *g, const char *name, sp_errmsg *e);

/* A member in: in the store, the zone and the tunnel's peers (registry.c). */
int sp_gw_member_add(sp_gateway *g, const sp_device *dev, sp_errmsg *e);
const sp_device *sp_gw_device_find(const sp_gateway *g, const char *name);
/* Where the gateway can be reached (pairing.c): public-endpoint, else its
 * own addresses (*chosen = 1) on WireGuard's port. out[i] holds 80 bytes. */
size_t sp_gw_endpoints(sp_gateway *g, char out[][80], size_t max, int *chosen);

/* A member leaves for good (registry.c): out of the zone, off the tunnel,
 * its key refused from then on. And a member's new name. */
int sp_gw_device_revoke(sp_gateway *g, const char *name, sp_errmsg *e);
int sp_gw_device_rename(sp_gateway *g, const char *from, const char *to, sp_errmsg *e);

/*
 * Pairing (pairing.c, docs/pairing.md). A code for a device to be named
 * name, valid ttl seconds, asked for by member by (NULL: on the gateway);
 * *endpoints_chosen says the gateway picked its own addresses for it (no
 * public-endpoint). u holds the token: wipe it after use. Then a waiter
 * for its use: done runs once, on the loop, with the joined name and
 * address, or rc SP_ETIMEOUT at expiry.
 */
struct sp_pair_uri;
typedef void (*sp_gw_pair_done)(void *arg, uint64_t ticket, int rc, const char *name,
    const uint8_t addr[16]);
int sp_gw_pair_create(sp_gateway *g, const char *name, int64_t ttl, const char *by,
    struct sp_pair_uri *u, int *endpoints_chosen, sp_errmsg *e);
int sp_gw_pair_wait(sp_gateway *g, const uint8_t id[8], uint64_t ticket, sp_gw_pair_done done,
    void *arg, sp_errmsg *e);
/* Drop the waits made with this ticket (their asker left); done runs
 * for each with SP_EIO. Ticket 0 is nobody's. */
void sp_gw_pair_unwait(sp_gateway *g, uint64_t ticket);
/* Forget the unused codes a member asked for (it was revoked). */
void sp_gw_pair_cancel_by(sp_gateway *g, const char *by);
/* Forget an unused code at once (one that could not be shown). */
void sp_gw_pair_cancel(sp_gateway *g, const uint8_t id[8]);
/* Where the code with this id stands: SP_OK waiting, SP_EEXIST used (name
 * and addr: the device it admitted), SP_ETIMEOUT expired unused,
 * SP_ENOENT unknown. */
int sp_gw_pair_status(sp_gateway *g, const uint8_t id[8], char name[64], uint8_t addr[16]);
/* 1 if an unused, unexpired code names this device. */
int sp_gw_pair_waiting(sp_gateway *g, const char *name);
/* When the code with this id expires (Unix s); 0 if unknown. */
int64_t sp_gw_pair_expires(sp_gateway *g, const uint8_t id[8]);

/* Key rollovers (rollover.c, docs/zone.md). New keys are made and sealed
 * off the loop; done runs on the loop when the step is finished (rc and a
 * message on failure). ZSK rollovers also run by themselves. */
typedef void (*sp_gw_done)(void *arg, int rc, const char *msg);
int sp_gw_rollover_zsk(sp_gateway *g, sp_errmsg *e);
int sp_gw_rollover_ksk(sp_gateway *g, sp_gw_done done, void *arg, sp_errmsg *e);
int sp_gw_rollover_ksk_complete(sp_gateway *g, sp_errmsg *e);

#endif
