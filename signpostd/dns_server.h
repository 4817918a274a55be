/*
 * The gateway's authoritative DNS service: the adapter between sockets and
 * the pure answerer, and the keeper of the zone snapshot. UDP is read and
 * written in batches (recvmmsg/sendmmsg); TCP follows RFC 7766 (several
 * queries per connection, idle timeout). Zone transfers go to xfr.
 */
#ifndef SP_DNS_SERVER_H
#define SP_DNS_SERVER_H

#include "sp_answer.h"
#include "sp_device.h"
#include "sp_err.h"
#include "sp_zonesrc.h"

struct sp_daemon;
typedef struct sp_dns_server sp_dns_server;

/* Load devices, build the zone, and listen on the configured addresses. */
int sp_dns_server_start(struct sp_daemon *d, sp_errmsg *e);
void sp_dns_server_stop(sp_dns_server *s);

/* Rebuild and swap the zone after a change (a new serial). */
int sp_dns_zone_changed(sp_dns_server *s, sp_errmsg *e);

/* Device registry changes through the daemon. */
int sp_dns_device_add(sp_dns_server *s, const sp_device *dev, sp_errmsg *e);
int sp_dns_device_remove(sp_dns_server *s, const char *name, sp_errmsg *e);

/* Key rollover (docs/zone.md). ZSK rollovers also run by themselves. */
int sp_dns_rollover_zsk(sp_dns_server *s, sp_errmsg *e);
int sp_dns_rollover_ksk(sp_dns_server *s, sp_errmsg *e);
int sp_dns_rollover_ksk_complete(sp_dns_server *s, sp_errmsg *e);

const sp_zone *sp_dns_zone(const sp_dns_server *s);
const sp_dns_stats *sp_dns_stats_get(const sp_dns_server *s);
/* Responses rate limiting dropped and slipped (0 when it is off). */
void sp_dns_rrl_counts(const sp_dns_server *s, uint64_t *dropped, uint64_t *slipped);
size_t sp_dns_device_count(const sp_dns_server *s);
const sp_device *sp_dns_devices(const sp_dns_server *s);

#endif
