/*
 * The tunnel interface: the adapter that joins a TUN device, a UDP socket
 * and the UAPI socket to the pure WireGuard core (tunnels/). `wg show` and
 * `wg set` work against it as against wireguard-go. This first adapter is
 * single-threaded on the daemon's loop; the batched multi-core data path
 * replaces its packet loop (docs/tunnels.md).
 */
#ifndef SP_TUNNEL_H
#define SP_TUNNEL_H

#include "sp_err.h"

struct sp_daemon;
typedef struct sp_tunnel sp_tunnel;

/* Create the interface (conf.interface) with the device's overlay address
 * and the zone's /48, listen on the WireGuard port, open the UAPI socket. */
int sp_tunnel_start(struct sp_daemon *d, sp_errmsg *e);
void sp_tunnel_stop(sp_tunnel *t);

struct sp_ctl_reply;
/* Add the interface and its peers to a status reply (docs/control.md). */
void sp_tunnel_status(const sp_tunnel *t, struct sp_ctl_reply *r);

#endif
