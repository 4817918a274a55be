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
#include <sys/uio.h>
#include <netinet/in.h>

#include "sp_err.h"

#define SP_RELAY_KEY_BYTES 8

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

/* A peer's path. DIRECT: UDP between host addresses (or the gateway's own
 * endpoint); REFLEXIVE: through a NAT's mapping (a server- or
 * peer-reflexive ICE candidate); UPNP: through a mapping a UPnP-IGD router
 * made; TURN: through a TURN server's allocation; RELAY_UDP, RELAY_TCP:
 * through the gateway's relay; TCP: TLS on TCP 443 to the gateway. */
enum sp_tunnel_path { SP_PATH_NONE, SP_PATH_DIRECT, SP_PATH_RELAY_UDP, SP_PATH_TCP,
	SP_PATH_RELAY_TCP, SP_PATH_REFLEXIVE, SP_PATH_UPNP, SP_PATH_TURN };
typedef struct sp_tunnel_peer_info {
	int has_endpoint;
	struct sockaddr_in6 endpoint;   /* IPv4 mapped; the gateway's when relayed */
	enum sp_tunnel_path path;
	int64_t handshake_age;          /* seconds since the last one; -1: none */
	int64_t path_age;               /* seconds since the path changed; -1: never set */
	int64_t idle_ms;                /* since the last data either way; -1: none yet */
	int has_session;
	uint32_t rtt_ms;                /* of our last handshake; 0: none measured */
	uint64_t trying_ms;             /* a handshake unanswered for so long; 0: not trying */
	/* Data sent to the peer with nothing authenticated back since: for
	 * how long (ms); 0 when something came back after it. */
	uint64_t unanswered_ms;
	uint64_t rx_bytes, tx_bytes;
} sp_tunnel_peer_info;
const char *sp_tunnel_path_name(enum sp_tunnel_path p);
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

/* ---- the relay (docs/relay.md) ------------------------------------------- */

/* Gateway: the member whose overlay address this is (the peer that has it
 * in its allowed IPs) may use the relay; its slot and key, the same ones
 * while its peer lasts. SP_ENOENT: no such peer. */
int sp_tunnel_relay_grant(sp_tunnel *t, const uint8_t addr[16], uint32_t *index,
    uint8_t key[SP_RELAY_KEY_BYTES]);
/* Member: our relay key, and the gateway's peer, through which relayed
 * peers are reached and from which FROM frames come. */
int sp_tunnel_relay_self(sp_tunnel *t, const uint8_t gw_pub[32],
    const uint8_t key[SP_RELAY_KEY_BYTES]);
/* Member: reach this peer through the relay, at its slot (until a packet
 * from it arrives on another path, or while ICE has pinned it elsewhere:
 * the slot is kept for when it unpins). SP_ENOENT: no such peer. */
int sp_tunnel_peer_relay(sp_tunnel *t, const uint8_t pub[32], uint32_t index);
/* Start a handshake with the peer now unless it has a session (a lookup of
 * it: the session is up before the application's first packet). */
int sp_tunnel_peer_kick(sp_tunnel *t, const uint8_t pub[32]);
/* A handshake with the peer now, on its path, session or not: an answer
 * proves the path (ICE's liveness check). SP_ENOENT: no such peer. */
int sp_tunnel_peer_rehandshake(sp_tunnel *t, const uint8_t pub[32]);
/* Send the peer a keepalive now (a member that moved networks tells its
 * gateway where it is). SP_ENOENT: no such peer. */
int sp_tunnel_peer_keepalive(sp_tunnel *t, const uint8_t pub[32]);
/* Close the peer's sessions (its keys wiped); the peer stays and the next
 * packet reopens them. */
int sp_tunnel_peer_close(sp_tunnel *t, const uint8_t pub[32]);

/* ---- datagrams over a stream (TLS on TCP 443, docs/relay.md) ------------ */

/* Send one datagram, gathered from iov, on the stream; nonzero: dropped. */
typedef int (*sp_tunnel_stream_send)(void *arg, const struct iovec *iov, int n);
/*
 * A stream the tunnel may send datagrams on: its virtual endpoint, an
 * address in 100::/64 (RFC 6666's discard-only prefix, never routed) with
 * port 443, goes in *ep. Peers whose endpoint it is are sent to through
 * send, and a peer roams onto it like onto any endpoint.
 */
int sp_tunnel_stream_add(sp_tunnel *t, sp_tunnel_stream_send send, void *arg,
    struct sockaddr_in6 *ep);
/* The stream is gone: peers on it have no endpoint (until they send again). */
void sp_tunnel_stream_remove(sp_tunnel *t, const struct sockaddr_in6 *ep);
/* A datagram that came on the stream (changed in place). */
void sp_tunnel_stream_input(sp_tunnel *t, const struct sockaddr_in6 *ep, uint8_t *msg,
    size_t len);
/* 1 if ep is a stream's virtual endpoint. */
int sp_tunnel_endpoint_is_stream(const struct sockaddr_in6 *ep);
/* Move the peer to this endpoint and start a handshake there. */
int sp_tunnel_peer_move(sp_tunnel *t, const uint8_t pub[32], const struct sockaddr *ep,
    socklen_t len);
/* A handshake with the peer sent to ep without moving it: if the answer
 * comes, the peer roams there (a member trying UDP again). */
int sp_tunnel_peer_probe(sp_tunnel *t, const uint8_t pub[32], const struct sockaddr *ep,
    socklen_t len);

/* ---- paths ICE finds (docs/tunnels.md, "Direct paths") ----------------- */

/*
 * A UDP socket of our own that the data path reads in batches (UDP_GRO)
 * and sends on in trains (UDP_SEGMENT): the one ICE's nominated pair moves
 * onto. The tunnel watches fd until sp_tunnel_sock_remove; the caller
 * keeps it and closes it after. *id names it to sp_tunnel_peer_pin.
 * SP_ESPACE: too many.
 */
int sp_tunnel_sock_add(sp_tunnel *t, int fd, uint32_t *id);
/* Stop using the socket: peers pinned to it or sending from it go back to
 * the relay (or to no path, without one). */
void sp_tunnel_sock_remove(sp_tunnel *t, uint32_t id);
/*
 * Pin the peer to a path: its datagrams go to ep through socket sock (0:
 * the WireGuard port; ep may be a stream's virtual endpoint), shown as
 * kind. While pinned, authenticated packets that arrive on other paths
 * (the relay, during the switch) are taken but do not move it. A new path
 * starts a handshake on it (its round trip is the path's RTT); the same
 * path again only changes the kind. SP_ENOENT: no such peer.
 */
int sp_tunnel_peer_pin(sp_tunnel *t, const uint8_t pub[32], uint32_t sock,
    const struct sockaddr *ep, socklen_t len, enum sp_tunnel_path kind);
/* Unpin: back to the peer's relay slot, if it has one, else no path until
 * it sends again. SP_ENOENT: no such peer. */
int sp_tunnel_peer_unpin(sp_tunnel *t, const uint8_t pub[32]);

/* How many times a peer's path has changed: unchanged, nothing moved. */
uint64_t sp_tunnel_path_gen(const sp_tunnel *t);
/* "KEY ENDPOINT" lines (base64 X25519 key, ADDR:PORT) for the peers with
 * a UDP endpoint of their own, at most cap bytes; the length. */
size_t sp_tunnel_endpoints_text(const sp_tunnel *t, char *out, size_t cap);

/* The interface's name (sp0, or what --interface chose). */
const char *sp_tunnel_ifname(const sp_tunnel *t);
/* The UDP port WireGuard listens on, and this device's overlay address. */
uint16_t sp_tunnel_port(const sp_tunnel *t);
void sp_tunnel_address(const sp_tunnel *t, uint8_t out[16]);

#endif
