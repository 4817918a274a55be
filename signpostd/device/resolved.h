/*
 * The member's resolver, made known to systemd-resolved: the zone's names
 * go to the device's own validating resolver, listening on its overlay
 * address on the WireGuard interface. Per-link DNS (SetLinkDNS), the zone
 * as a routing-only domain (SetLinkDomains, "~alice.example"), not the
 * link for other names (SetLinkDefaultRoute false); RevertLink at stop.
 *
 * The D-Bus calls run on the worker (work.h), each bounded by 1 s. A check
 * every SP_RESOLVED_RECHECK_MS asks the bus who owns
 * org.freedesktop.resolve1 and registers again when the owner changed (a
 * restarted resolved forgets the links it was told about). Without a bus
 * or without resolved this logs one info line (docs/resolver.md) and keeps
 * checking quietly. The bus is $DBUS_SYSTEM_BUS_ADDRESS when set, else
 * unix:path=/run/dbus/system_bus_socket.
 *
 * In the static gateway image (SP_STATIC) this is resolved_none.c: start
 * succeeds with a NULL object and nothing is registered.
 */
#ifndef SP_DEVICE_RESOLVED_H
#define SP_DEVICE_RESOLVED_H

#include <stdint.h>

#include "sp_err.h"

#define SP_RESOLVED_RECHECK_MS 30000

struct sp_daemon;
typedef struct sp_resolved sp_resolved;

/*
 * Start registering ifname's DNS server addr (IPv6, borrowed, copied) for
 * zone ("alice.example", a trailing dot allowed), on d's loop and worker.
 * Never fails because the bus or resolved is absent, nor because ifname
 * does not exist yet (it is looked up at every check): SP_EINVAL for bad
 * arguments, SP_ENOMEM. *out is set only on success, and may be NULL then
 * (the static build).
 */
int sp_resolved_start(struct sp_daemon *d, const char *ifname, const uint8_t addr[16],
    const char *zone, sp_resolved **out, sp_errmsg *e);

/*
 * Revert the link (synchronously on the caller's thread, bounded by 1 s)
 * and free. Safe while a check is on the worker, and after the worker has
 * stopped (d->work NULL). NULL is a no-op.
 */
void sp_resolved_stop(sp_resolved *r);

/* 1 if the last check found resolved holding our registration (for
 * `signpost status`); 0 otherwise, and for NULL. */
int sp_resolved_registered(const sp_resolved *r);

/* The check period, SP_RESOLVED_RECHECK_MS unless a test sets it; from the
 * next arming on. */
void sp_resolved_set_recheck(sp_resolved *r, uint64_t ms);

#endif
