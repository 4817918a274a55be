/*
 * The tunnel's state, shared by the files of net/ that make it: tunnel.c
 * (life, peers, timers, `wg` requests, status), datapath.c (packets between
 * TUN and UDP) and uapi_server.c's handler. Nobody else includes it.
 */
#ifndef SP_TUNNEL_INT_H
#define SP_TUNNEL_INT_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "daemon.h"
#include "sp_allowedips.h"
#include "sp_offload.h"
#include "sp_relay.h"
#include "sp_wg.h"
#include "tunnel.h"
#include "uapi_server.h"

#define TUN_MTU 1420
#define QUEUE_MAX 16
#define PKT_MAX 65536
/*
 * The data path's batches. Sending: TUN reads of up to 64 KB (TSO) are cut
 * into BATCH slots of SLOT bytes (the MTU plus WireGuard's overhead,
 * rounded up), encrypted in place, and sent with one sendmmsg whose
 * messages each carry up to GSO_MAX equal datagrams to one peer
 * (UDP_SEGMENT). Receiving: one recvmmsg fills RX_MSGS buffers of RX_BUF
 * bytes, each one datagram or, with UDP_GRO, a train of equal ones.
 */
#define BATCH 128
#define SLOT 2048
#define GSO_MAX 64
#define GSO_BYTES 65000
#define RX_MSGS 16
#define RX_BUF 65536
/* More handshake messages than this in a second puts us under load:
 * handshakes then need a cookie (mac2) before any DH is spent. */
#define HANDSHAKES_PER_SECOND 64

struct tpeer {
	sp_tunnel *t;
	sp_wg_peer *wp;
	struct sockaddr_in6 endpoint;   /* IPv4 as ::ffff:a.b.c.d */
	int has_endpoint;
	uint16_t keepalive;
	uint64_t rx_bytes, tx_bytes;
	uint8_t *queue[QUEUE_MAX];
	size_t qlen[QUEUE_MAX];
	size_t nq;
	/* The relay (docs/relay.md). On the gateway: this member's slot (0:
	 * none). On a member: the peer is reached through the gateway peer
	 * relay_via, each message behind relay_hdr (a TO frame to its slot). */
	uint32_t relay_slot;
	struct tpeer *relay_via;
	uint8_t relay_hdr[SP_RELAY_HEADER];
	/* What `signpost status` shows of the path. */
	uint64_t path_since_ms;         /* monotonic: when the path last changed */
	uint64_t initiated_ms;          /* our last initiation, for the RTT */
	uint32_t rtt_ms;                /* of the last handshake we initiated; 0: none */
	/* ICE (sp_tunnel_peer_pin). pinned: the path ICE chose, which roaming
	 * does not move (SP_PATH_NONE: not pinned). sock: the socket its
	 * datagrams leave by (0: the WireGuard port), ep4 the endpoint as that
	 * socket takes it when it is IPv4. relay_index: the relay slot to go
	 * back to (0: none). */
	enum sp_tunnel_path pinned;
	uint32_t sock;
	struct sockaddr_in ep4;
	uint32_t relay_index;
};

/* Sockets of our own besides the WireGuard port (ICE's, sp_tunnel_sock_add):
 * index 0 is the WireGuard port itself and never used here. */
#define SOCKS_MAX 64
struct tsock {
	sp_tunnel *t;
	int fd;                         /* -1: free */
	int v4;                         /* an AF_INET socket: IPv4 names */
	uint32_t id;
	sp_watch *w;
};

/* Streams (TLS on TCP 443) the tunnel sends datagrams on; a virtual
 * endpoint 100::/64 with the stream's index in its last 4 bytes. */
#define STREAMS_MAX 1024
struct tstream {
	sp_tunnel_stream_send send;   /* NULL: free */
	void *arg;
};

static inline int
ep_is_stream(const struct sockaddr_in6 *ep)
{
	static const uint8_t pfx[8] = { 0x01, 0x00, 0, 0, 0, 0, 0, 0 };
	return memcmp(ep->sin6_addr.s6_addr, pfx, 8) == 0;
}

static inline uint32_t
ep_stream_index(const struct sockaddr_in6 *ep)
{
	const uint8_t *a = ep->sin6_addr.s6_addr;
	return (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
}

/* p's path changed (a new endpoint, the relay, a stream): when, and one
 * more change for whoever watches them all (the gateway's endpoints). */
#define tp_path_changed(t, p) do { \
	(p)->path_since_ms = sp_clock_mono_ms(); \
	(t)->path_gen++; \
} while (0)

/* Whether we can send to p at all: an endpoint of its own or a relay's. */
static inline int
tp_reachable(const struct tpeer *p)
{
	return p->relay_via != NULL ? p->relay_via->has_endpoint : p->has_endpoint;
}

/* Where p's datagrams go. */
static inline struct sockaddr_in6 *
tp_dest(struct tpeer *p)
{
	return p->relay_via != NULL ? &p->relay_via->endpoint : &p->endpoint;
}

/* Two endpoints are the same address and port. */
static inline int
tp_same_endpoint(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
	return a->sin6_port == b->sin6_port &&
	    memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}

/* An IPv4-mapped endpoint as an AF_INET socket takes it. */
static inline void
tp_v4_of(const struct sockaddr_in6 *s6, struct sockaddr_in *out)
{
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = s6->sin6_port;
	memcpy(&out->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
}

/* The socket they leave by (an index in sp_tunnel.socks; 0: the port). */
static inline uint32_t
tp_sock(const struct tpeer *p)
{
	return p->relay_via != NULL ? p->relay_via->sock : p->sock;
}

/* The gateway's relay forwards at most this many datagrams per receive
 * batch before it sends them (RX_MSGS trains of up to 64 KB). */
#define FWD_MAX 1024

struct sp_tunnel {
	sp_daemon *d;
	char ifname[16];
	int tun_fd, udp_fd;
	sp_watch *tun_w, *udp_w;
	sp_uapi_server *uapi;
	uint16_t port;
	uint32_t fwmark;
	uint8_t *priv;                  /* sodium_malloc */
	sp_wg *wg;
	sp_allowedips *aips;
	struct tpeer **peers;
	size_t npeers;
	struct tpeer *cur;              /* the peer a UAPI set is configuring */
	sp_timer *timer;
	uint64_t dropped_no_peer, dropped_bad_source, dropped_offload;
	uint64_t forwarded;             /* packets between two peers (the hub) */
	/* The relay. Gateway: the members' slots (NULL: not a relay). Member:
	 * our own key (relay_self set), which FROM frames must carry, and the
	 * gateway's peer, from whose endpoint they come. */
	struct tstream streams[STREAMS_MAX];
	struct tsock socks[SOCKS_MAX];
	sp_relay_table *relay;
	uint8_t relay_key[SP_RELAY_KEY];
	struct tpeer *relay_gw;
	uint64_t relay_rx_bad;          /* member: FROM frames with a wrong key */
	uint64_t path_gen;              /* paths changed so far (tp_path_changed) */
	uint64_t relay_touch_ms;        /* member: our last keepalive to the gateway
	                                 * because we relay (datapath.c) */
	/* Gateway: what a receive batch forwards, sent before the batch's
	 * buffers are reused. */
	struct iovec fwd_iov[FWD_MAX];
	struct tpeer *fwd_to[FWD_MAX];
	size_t nfwd;
	struct mmsghdr fwd_msg[FWD_MAX];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
	} fwd_cm[FWD_MAX];
	uint8_t addr[16];               /* our overlay address */
	sp_tunnel_other_fn other;       /* non-WireGuard datagrams on our port */
	void *other_arg;
	int gso;                        /* UDP_SEGMENT works (until it fails once) */
	uint64_t load_second;           /* monotonic second being counted */
	unsigned load_count;            /* handshake messages in it */
	uint8_t buf[PKT_MAX + 64];
	/* A TUN read: the virtio-net header and up to 64 KB. */
	uint8_t rbuf[SP_VNET_HDR_LEN + PKT_MAX];
	/* The send batch: slots, who each is for, and the messages over them. */
	uint8_t (*slot)[SLOT];
	size_t slen[BATCH];
	struct tpeer *sto[BATCH];
	struct iovec iov[2 * BATCH];     /* a relay header and a slot each */
	struct mmsghdr msg[BATCH];
	int mfd[BATCH];                  /* the socket each message leaves by */
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
	} scm[BATCH];
	/* The receive batch, and what it decrypted, merged for TUN. */
	uint8_t (*rx)[RX_BUF];
	struct sockaddr_in6 raddr[RX_MSGS];
	struct iovec riov[RX_MSGS];
	struct mmsghdr rmsg[RX_MSGS];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int))];
	} rcm[RX_MSGS];
	sp_gro gro;
	struct iovec wiov[SP_GRO_MAX + 1];
};

/* tunnel.c */
void tun_schedule(sp_tunnel *t, uint64_t delay_ms);
/* The endpoint as wg prints it: IPv4 unmapped. */
void tun_endpoint_text(const struct sockaddr_in6 *s6, char *out, size_t len);

/* datapath.c */
void dp_on_tun(void *arg, int fd, unsigned events);
void dp_on_udp(void *arg, int fd, unsigned events);
void dp_initiate(sp_tunnel *t, struct tpeer *p);
/* Encrypt and send one packet (at buf + 16), or queue it and ask for a
 * handshake; len 0 is a keepalive. */
void dp_send_packet(sp_tunnel *t, struct tpeer *p, uint8_t *buf, size_t len);
void dp_clear_queue(struct tpeer *p);
/* One datagram, gathered from iov, to an endpoint: a UDP one through
 * socket sock (0: the WireGuard port), or a stream's. Failures drop it, as
 * UDP does; 0 if it went. */
int dp_out(sp_tunnel *t, uint32_t sock, const struct sockaddr_in6 *to, const struct iovec *iov,
    int n);
/* The descriptor of socket sock (0: the WireGuard port). */
int dp_fd(const sp_tunnel *t, uint32_t sock);
/* The socket's own (sp_tunnel_sock_add) datagrams. */
void dp_on_sock(void *arg, int fd, unsigned events);
/* A datagram from an endpoint, as the UDP socket would deliver it, then
 * what it caused flushed (TUN writes, relayed frames). */
void dp_input(sp_tunnel *t, uint8_t *msg, size_t len, const struct sockaddr_in6 *from);

#endif
