/*
 * The tunnel interface: the adapter that joins a TUN device, a UDP socket
 * and the UAPI socket to the pure WireGuard core (tunnels/). `wg show` and
 * `wg set` work against it as against wireguard-go. This first adapter is
 * single-threaded on the daemon's loop; the batched multi-core data path
 * replaces its packet loop (docs/tunnels.md).
 */
#ifndef SP_TUNNEL_H
#define SP_TUNNEL_H

#include <stdint.h>
#include <sys/socket.h>

#include "sp_err.h"

struct sp_daemon;
typedef struct sp_tunnel sp_tunnel;

/* Create the interface (conf.interface) with the device's overlay address
 * and the zone's /48, listen on the WireGuard port (conf.listen_port),
 * open the UAPI socket. */
int sp_tunnel_start(struct sp_daemon *d, sp_errmsg *e);
void sp_tunnel_stop(sp_tunnel *t);

struct sp_ctl_reply;
/* Add the interface and its peers to a status reply (docs/control.md). */
void sp_tunnel_status(const sp_tunnel *t, struct sp_ctl_reply *r);

/* ---- what the roles set (as `wg set` could) ------------------------------ */

typedef struct sp_tunnel_prefix {
	int family;              /* 4 or 6 */
	uint8_t addr[16];
	unsigned cidr;
} sp_tunnel_prefix;

/*
 * Add or change the peer with this X25519 key: its endpoint (NULL: keep
 * the one it has, or learn it from the peer's first handshake), its
 * persistent keepalive (0: none) and its allowed IPs, which replace any it
 * had. Traffic between two peers of this interface is forwarded between
 * their sessions (the gateway's hub for WireGuard-app phones).
 */
int sp_tunnel_peer_set(sp_tunnel *t, const uint8_t pub[32], const struct sockaddr *endpoint,
    socklen_t len, uint16_t keepalive, const sp_tunnel_prefix *allowed, size_t nallowed,
    sp_errmsg *e);
/* Forget a peer and its sessions (revocation). SP_ENOENT if unknown. */
int sp_tunnel_peer_remove(sp_tunnel *t, const uint8_t pub[32]);

typedef struct sp_tunnel_peer_info {
	int has_endpoint;
	struct sockaddr_in6 endpoint;   /* IPv4 mapped */
	int64_t handshake_age;          /* seconds since the last one; -1: none */
	uint64_t rx_bytes, tx_bytes;
} sp_tunnel_peer_info;
/* SP_ENOENT if there is no such peer. */
int sp_tunnel_peer_info_get(const sp_tunnel *t, const uint8_t pub[32],
    sp_tunnel_peer_info *out);
/* An endpoint as text, IPv4 unmapped ("192.0.2.1:51820"). */
void sp_tunnel_endpoint_text(const struct sockaddr_in6 *ep, char *out, size_t len);

/*
 * Datagrams on the WireGuard port that are not WireGuard's (pairing
 * requests, and later STUN) go to this function with their source; it
 * returns 1 if the datagram was its protocol's (the role answers with
 * sp_tunnel_send_other from the same port), 0 if not, and the tunnel then
 * drops it and counts it as WireGuard's bad-type.
 */
typedef int (*sp_tunnel_other_fn)(void *arg, const uint8_t *msg, size_t len,
    const struct sockaddr *from, socklen_t fromlen);
void sp_tunnel_set_other(sp_tunnel *t, sp_tunnel_other_fn fn, void *arg);
int sp_tunnel_send_other(sp_tunnel *t, const uint8_t *msg, size_t len,
    const struct sockaddr *to, socklen_t tolen);

/* The interface's name (sp0, or what --interface chose). */
const char *sp_tunnel_ifname(const sp_tunnel *t);
/* The UDP port WireGuard listens on, and this device's overlay address. */
uint16_t sp_tunnel_port(const sp_tunnel *t);
void sp_tunnel_address(const sp_tunnel *t, uint8_t out[16]);

#endif
