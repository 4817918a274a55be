/* The device role's state, shared by the files of device/ only. */
#ifndef SP_MEMBER_INT_H
#define SP_MEMBER_INT_H

#include "member.h"
#include "sp_cloud.h"
#include "sp_member.h"
#include "sp_platform.h"

#include <netinet/in.h>
#include <sys/socket.h>

struct sp_stream;
struct sp_ctl_reply;
struct sp_devres_rrset;
struct dr;
struct sp_resolved;
struct sp_tls_conn;
struct mpeer;
struct ice;
struct ice_ctx;

#define CP_PENDING_MAX 16

/* A control request (or a `pair wait`) waiting for the gateway. */
struct cp_pending {
	uint32_t seq;                    /* its message's */
	uint8_t id[8];                   /* a wait: the code's id */
	uint64_t expires;                /* monotonic ms: then it is dropped */
	uint64_t tag;                    /* the asker's, for sp_member_forget */
	sp_member_pair_fn pair;
	sp_member_joined_fn joined;
	void *arg;
};

struct sp_member {
	struct sp_daemon *d;
	sp_gateway_info gw;
	sp_anchor anchor;
	uint8_t gw_x25519[32];
	char endpoint[80];               /* the gateway endpoint in use */
	/* control.c */
	struct sp_stream *cp;
	int cp_up;                       /* HELLO verified and the list received */
	int cp_hello;                    /* HELLO sent */
	sp_timer *cp_retry, *cp_ping;
	unsigned cp_backoff;
	uint32_t seq;
	struct cp_pending pending[CP_PENDING_MAX];
	size_t npending;
	sp_cp_member *list, *incoming;   /* the list, and one arriving in parts */
	size_t nlist, nincoming;
	int incoming_bad;                /* the list arriving is too long: dropped */
	/* resolver.c: the validating resolver for the zone */
	struct dr *dr;
	struct sp_resolved *resolved;    /* registered with systemd-resolved */
	/* peers.c: the other members as tunnel peers, from their validated
	 * IPSECKEY records, reached through the relay */
	struct mpeer **peers;
	size_t npeers;
	sp_timer *peers_timer;
	uint32_t relay_self;             /* our relay slot (0: none yet) */
	/* tcp_path.c: the gateway over TLS when UDP is blocked */
	struct sockaddr_storage udp_ep, tls_addr;
	socklen_t udp_ep_len;
	uint16_t tls_port;               /* the member list's, else 443 */
	struct sp_tls_conn *tls;
	int tls_up;
	struct sockaddr_in6 tls_ep;      /* its virtual endpoint in the tunnel */
	sp_timer *tcp_timer;
	uint64_t tcp_since_ms, probe_ms, udp_back_ms, tls_retry_ms, tcp_switches;
	sp_linkwatch *links;             /* the host's networks changing */
	uint64_t link_changes, cp_kicked_ms, suspect_ms;
	uint64_t gw_handshake_ms;        /* monotonic: the gateway session we last saw */
	uint64_t tunnels_closed;         /* idle ones */
	struct ice_ctx *ice;             /* ice.c: NULL when ICE is off */
};

/* peers.c: another member as our peer */
enum mstate { M_RESOLVING = 1, M_READY, M_FAILED };

struct mpeer {
	sp_member *m;
	char name[64];
	uint8_t ed[32];            /* its Ed25519 key, as the member list names it */
	uint8_t x[32];             /* its WireGuard key, from the validated record */
	uint8_t addr[16];
	uint8_t fqdn[SP_DNAME_MAX];
	size_t fqdn_len;
	uint32_t relay;
	enum mstate state;
	int kick;                  /* looked up while resolving: kick when ready */
	int live;                  /* in the current list (sync's mark) */
	uint64_t retry_ms;
	char why[96];              /* M_FAILED: why */
	struct ice *ice;           /* ice.c: its agent, or NULL */
};

/* resolver.c */
typedef void (*dr_done_fn)(void *arg, const struct sp_devres_rrset *rr);
int dr_start(sp_member *m, sp_errmsg *e);
void dr_stop(sp_member *m);
void dr_status(const sp_member *m, struct sp_ctl_reply *r);
int dr_lookup(sp_member *m, const uint8_t *qname, size_t qlen, uint16_t qtype, dr_done_fn done,
    void *arg);
void dr_forget(sp_member *m, void *arg);
void dr_flush(sp_member *m);

/* peers.c */
int peers_start(sp_member *m, sp_errmsg *e);
void peers_stop(sp_member *m);
/* The member list changed (control.c): peers added, changed, removed. */
void peers_sync(sp_member *m);
/* The gateway gave us our relay slot and key. */
void peers_relay_self(sp_member *m, uint32_t slot, const uint8_t key[8]);
/* A program looked up this name (wire form) and got addresses. */
void peers_on_lookup(sp_member *m, const uint8_t *qname, size_t qlen);
void peers_status(const sp_member *m, struct sp_ctl_reply *r);
/* The longest a relayed member has gone unanswered since we sent it data
 * (ms): the relay, that is the gateway, may be out of reach. */
uint64_t peers_unanswered_ms(const sp_member *m);

/* The member with this Ed25519 key, or NULL. */
struct mpeer *peers_by_key(sp_member *m, const uint8_t ed[32]);

/* ice.c: direct paths (docs/ice.md) */
int ice_start(sp_member *m, sp_errmsg *e);
void ice_stop(sp_member *m);
/* A lookup of p: find a direct path to it, unless one is being found. */
void ice_want(sp_member *m, struct mpeer *p);
/* p became a tunnel peer (its key validated): pin it if ICE found a pair. */
void ice_peer_ready(sp_member *m, struct mpeer *p);
/* p left the list, or its tunnel closed idle: its agent goes. */
void ice_drop(sp_member *m, struct mpeer *p);
/* Links, addresses or routes changed: if our addresses did, every agent
 * starts again (after a short quiet time), on the relay meanwhile. */
void ice_on_link_change(sp_member *m);
/* An ICE message from the gateway (another member's, peer = who). */
void ice_on_msg(sp_member *m, const sp_cp_msg *msg);
/* The control plane is up: send what waited. */
void ice_cp_up(sp_member *m);
/* TURN credentials from the gateway (MEMBERS, PONG). */
void ice_set_turn(sp_member *m, const char *server, const char *user, const char *password);
void ice_status(const sp_member *m, const struct mpeer *p, struct sp_ctl_reply *r);
void ice_counters(const sp_member *m, struct sp_ctl_reply *r);

/* tcp_path.c */
int tcp_path_start(sp_member *m, const struct sockaddr *udp_ep, socklen_t len, sp_errmsg *e);
void tcp_path_stop(sp_member *m);
void tcp_path_status(const sp_member *m, struct sp_ctl_reply *r);

/* control.c */
int cp_start(sp_member *m, sp_errmsg *e);
/* Drop the connection and make it again soon (the gateway restarted: our
 * relay key is stale). */
void cp_reconnect(sp_member *m, const char *why);
/* Ping the gateway now: after a new session with it, a gateway that
 * restarted answers with a reset and the control plane is made again. */
void cp_check(sp_member *m);
void cp_stop(sp_member *m);
/* Queue a message to the gateway; SP_EIO if there is no connection. */
int cp_send(sp_member *m, const sp_cp_msg *msg);

#endif
