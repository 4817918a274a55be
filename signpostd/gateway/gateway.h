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

/* Key rollovers (rollover.c, docs/zone.md). New keys are made and sealed
 * off the loop; done runs on the loop when the step is finished (rc and a
 * message on failure). ZSK rollovers also run by themselves. */
typedef void (*sp_gw_done)(void *arg, int rc, const char *msg);
int sp_gw_rollover_zsk(sp_gateway *g, sp_errmsg *e);
int sp_gw_rollover_ksk(sp_gateway *g, sp_gw_done done, void *arg, sp_errmsg *e);
int sp_gw_rollover_ksk_complete(sp_gateway *g, sp_errmsg *e);

#endif
