/*
 * The gateway's state, shared by the files of gateway/ and by nobody
 * else. Each service keeps its part here and exposes gw_* functions to
 * its neighbours.
 */
#ifndef SP_GW_INT_H
#define SP_GW_INT_H

#include <sys/socket.h>

#include "daemon.h"
#include "gateway.h"
#include "sp_answer.h"
#include "sp_rrl.h"
#include "sp_stun.h"
#include "sp_tsig.h"

#define GW_TCP_MAX_CONNS 64
/* The members' control plane: TCP on the gateway's overlay address. */
#define SP_CONTROL_PORT 5301

struct tcp_conn;
struct xfr_out;
struct notify;
struct udp_batch;
typedef struct sp_gw_pairing sp_gw_pairing;
typedef struct sp_gw_members sp_gw_members;

struct dns_listener {
	sp_gateway *g;
	int fd;
	sp_watch *watch;
};

struct sp_gateway {
	sp_daemon *d;
	/* zonekeeper.c: the signed snapshot and its serial */
	sp_zone *zone;
	uint32_t serial;
	sp_timer *refresh;
	/* registry.c: the published devices, sorted by name */
	sp_device *devs;
	size_t ndevs;
	/* rollover.c */
	sp_timer *rollover;
	int rolling;                     /* a new key is being made off the loop */
	/* dns_udp.c and dns_tcp.c */
	sp_answerer *answerer;
	sp_rrl *rrl;
	struct dns_listener udp[SP_CONF_MAX_LISTEN + 1], tcp[SP_CONF_MAX_LISTEN + 1];   /* + overlay */
	size_t nlisten;
	struct udp_batch *batch;
	struct tcp_conn *conns[GW_TCP_MAX_CONNS];
	uint64_t tcp_refused;            /* connections over the cap */
	uint64_t tcp_timeouts;           /* closed at their deadline */
	uint64_t conn_ids;
	/* xfr.c: TSIG keys (decoded from the configuration) */
	sp_tsig_key *tsig;               /* sodium_malloc, ntsig of them */
	size_t ntsig;
	uint64_t tsig_last[SP_CONF_MAX_LISTEN];   /* latest time signed, per key */
	uint64_t xfr_done, xfr_refused;
	/* notify.c: one per configured secondary */
	struct notify *notifies;
	/* pairing.c */
	sp_gw_pairing *pairing;
	/* members.c: the control plane */
	sp_gw_members *members;
	/* endpoints.c: members' last endpoints, across restarts */
	sp_timer *ep_timer;
	char *ep_last;
	size_t ep_lastlen;
	uint64_t ep_gen;                 /* the tunnel's path_gen at the last write */
	/* relay_tls.c: the relay over TCP 443 */
	struct sp_tls_server *tls;
	uint64_t tls_accepted;
	/* stun.c: the STUN service on the WireGuard port */
	sp_stun_stats stun;
	uint64_t stun_second, stun_count, stun_limited, stun_send_failed;
};

/* zonekeeper.c */
int gw_zone_start(sp_gateway *g, sp_errmsg *e);
/* Rebuild with a new serial, swap it in, NOTIFY the secondaries. */
int gw_zone_changed(sp_gateway *g, sp_errmsg *e);
void gw_zone_stop(sp_gateway *g);

/* registry.c */
int gw_registry_load(sp_gateway *g, sp_errmsg *e);
const sp_device *gw_device_by_name(const sp_gateway *g, const char *name);
const sp_device *gw_device_by_key(const sp_gateway *g, const uint8_t pub[32]);
/* Every member a peer of the tunnel (at start). */
int gw_registry_peers(sp_gateway *g, sp_errmsg *e);

/* members.c: the members' control plane; changed: tell them the list */
int gw_members_start(sp_gateway *g, sp_errmsg *e);
void gw_members_stop(sp_gateway *g);
void gw_members_changed(sp_gateway *g);
void gw_members_status(const sp_gateway *g, sp_ctl_reply *r);

/* endpoints.c */
int gw_endpoints_start(sp_gateway *g, sp_errmsg *e);
void gw_endpoints_stop(sp_gateway *g);

/* relay_tls.c */
int gw_relay_tls_start(sp_gateway *g, sp_errmsg *e);
void gw_relay_tls_stop(sp_gateway *g);
void gw_relay_tls_status(const sp_gateway *g, sp_ctl_reply *r);
/* The port relay-tls-listen names; 0: none. */
uint16_t relay_tls_port(const sp_daemon *d);

/* stun.c: what arrives on the WireGuard port that is not WireGuard's:
 * STUN, else pairing (sp_tunnel_set_other). */
int gw_port_input(void *arg, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen);
void gw_stun_status(const sp_gateway *g, sp_ctl_reply *r);

/* stun.c: what arrives on the WireGuard port that is not WireGuard's:
 * STUN, else pairing (sp_tunnel_set_other). */
int gw_port_input(void *arg, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen);
void gw_stun_status(const sp_gateway *g, sp_ctl_reply *r);

/* pairing.c */
int gw_pairing_start(sp_gateway *g, sp_errmsg *e);
void gw_pairing_stop(sp_gateway *g);
int gw_pairing_input(void *arg, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen);
void gw_pairing_status(const sp_gateway *g, sp_ctl_reply *r);

/* rollover.c */
int gw_rollover_start(sp_gateway *g, sp_errmsg *e);
void gw_rollover_stop(sp_gateway *g);

/* dns_udp.c, dns_tcp.c: listen on one address (own: our tunnel's, which
 * may still be tentative) */
int gw_udp_listen(sp_gateway *g, struct dns_listener *l, const struct sockaddr *sa,
    socklen_t len, int own, sp_errmsg *e);
int gw_tcp_listen(sp_gateway *g, struct dns_listener *l, const struct sockaddr *sa,
    socklen_t len, int own, sp_errmsg *e);
void gw_dns_stop(sp_gateway *g);

/* dns_tcp.c, for xfr.c: room left before the connection's output bound,
 * and queueing one message (it must fit: check the room first). */
size_t gw_tcp_room(const struct tcp_conn *c);
int gw_tcp_queue(struct tcp_conn *c, const uint8_t *msg, size_t len);

/* xfr.c: a transfer request arrived on c; it answers, or starts a
 * transfer that gw_xfr_produce continues as the client reads. */
int gw_xfr_request(sp_gateway *g, struct tcp_conn *c, const uint8_t *q, size_t len,
    struct xfr_out **out);
/* Queue what fits; 1 when the transfer is complete (then freed). */
int gw_xfr_produce(struct xfr_out *x);
void gw_xfr_free(struct xfr_out *x);
int gw_xfr_keys(sp_gateway *g, sp_errmsg *e);
void gw_xfr_stop(sp_gateway *g);

/* notify.c */
int gw_notify_start(sp_gateway *g, sp_errmsg *e);
void gw_notify_all(sp_gateway *g);
void gw_notify_stop(sp_gateway *g);

#endif
