/*
 * The tunnel interface: a TUN device, a UDP socket and the UAPI socket for
 * `wg`, joined to the pure WireGuard core (tunnels/). `wg show` and `wg set`
 * work against it as against wireguard-go. This file holds its life, its
 * peers and timers, and what `wg` asks of it; the packets go through
 * datapath.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "sp_device.h"
#include "sp_log.h"
#include "sp_uapi.h"
#include "tunnel_int.h"

#define UAPI_DIR "/var/run/wireguard"

/* ---- helpers ------------------------------------------------------------ */

static void
to_v6(const struct sockaddr *sa, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	if (sa->sa_family == AF_INET6) {
		memcpy(out, sa, sizeof(*out));
		return;
	}
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	out->sin6_port = s4->sin_port;
	out->sin6_addr.s6_addr[10] = out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
}

/* The endpoint as wg prints it: IPv4 unmapped. */
void
tun_endpoint_text(const struct sockaddr_in6 *s6, char *out, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in s4;
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = s6->sin6_port;
		memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		sp_uapi_endpoint((struct sockaddr *)&s4, out, len);
	} else {
		sp_uapi_endpoint((const struct sockaddr *)s6, out, len);
	}
}

static struct tpeer *
find_peer(sp_tunnel *t, const uint8_t pub[32])
{
	sp_wg_peer *wp = t->wg != NULL ? sp_wg_peer_find(t->wg, pub) : NULL;

	return wp != NULL ? sp_wg_peer_user(wp) : NULL;
}

/* ---- timers --------------------------------------------------------------- */

/* One timer for every peer's deadlines (the core says when each is due). */
static void
on_timer(void *arg)
{
	sp_tunnel *t = arg;
	uint64_t now = sp_clock_mono_ms(), next = now + 10000;

	for (size_t i = 0; i < t->npeers; i++) {
		struct tpeer *p = t->peers[i];
		uint64_t pn;
		unsigned todo = sp_wg_peer_tick(p->wp, now, p->keepalive, &pn);
		if (todo & SP_WG_DO_INITIATE)
			dp_initiate(t, p);
		if (todo & SP_WG_DO_KEEPALIVE)
			dp_send_packet(t, p, t->buf, 0);
		if (todo & SP_WG_DO_GIVE_UP)
			dp_clear_queue(p);
		if (pn < next)
			next = pn;
	}
	tun_schedule(t, next > now ? next - now : 1);
}

void
tun_schedule(sp_tunnel *t, uint64_t delay_ms)
{
	sp_timer_arm(t->timer, delay_ms);
}

void
sp_tunnel_endpoint_text(const struct sockaddr_in6 *ep, char *out, size_t len)
{
	tun_endpoint_text(ep, out, len);
}

/* ---- `wg set` ------------------------------------------------------------- */

static int
rebuild_wg(sp_tunnel *t, const uint8_t key[32])
{
	sp_wg *wg;

	if (sp_wg_new(key, t->d->rng, &wg) != SP_OK)
		return SP_ENOMEM;
	for (size_t i = 0; i < t->npeers; i++) {
		sp_wg_peer *np;
		if (sp_wg_peer_add(wg, sp_wg_peer_public(t->peers[i]->wp), &np) != SP_OK) {
			sp_wg_free(wg);
			return SP_EINVAL;
		}
		sp_wg_peer_copy_psk(np, t->peers[i]->wp);
		sp_wg_peer_set_user(np, t->peers[i]);
		t->peers[i]->wp = np;
	}
	sp_wg_free(t->wg);
	t->wg = wg;
	sp_wg_set_mtu(wg, TUN_MTU);
	memcpy(t->priv, key, 32);
	return SP_OK;
}

/* The WireGuard socket on port (0: any), replacing the one before. */
static int
bind_udp(sp_tunnel *t, uint16_t port, sp_errmsg *e)
{
	struct sockaddr_in6 any;
	int fd, off = 0, on = 1;
	socklen_t len = sizeof(any);
	sp_watch *w;

	/* `wg set listen-port` with the port it has: nothing to do (a second
	 * socket could not bind it while the first holds it). */
	if (t->udp_fd >= 0 && port != 0 && port == t->port)
		return SP_OK;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sp_errf(e, SP_EIO, "UDP socket: %s", strerror(errno));
	/* IPv4 peers arrive as mapped addresses on the one socket. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) {
		int rc = sp_errf(e, SP_EIO, "IPV6_V6ONLY: %s", strerror(errno));
		close(fd);
		return rc;
	}
	/* Trains of datagrams in one receive; without it (an older kernel),
	 * one at a time, which the receive path handles too. */
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) != 0)
		sp_debug("tunnel: UDP_GRO: %s; receiving one datagram at a time", strerror(errno));
	memset(&any, 0, sizeof(any));
	any.sin6_family = AF_INET6;
	any.sin6_port = htons(port);
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&any, &len) != 0) {
		int rc = sp_errf(e, SP_EIO, "UDP port %u: %s", port, strerror(errno));
		close(fd);
		return rc;
	}
	if (sp_loop_watch(t->d->loop, fd, SP_IO_READ, dp_on_udp, t, &w) != SP_OK) {
		close(fd);
		return sp_errf(e, SP_ENOMEM, "out of memory");
	}
	if (t->udp_fd >= 0) {
		sp_watch_cancel(t->udp_w);
		close(t->udp_fd);
	}
	t->udp_fd = fd;
	t->udp_w = w;
	t->port = ntohs(any.sin6_port);
	return SP_OK;
}

static void unpin(sp_tunnel *t, struct tpeer *p);

static void
peer_free(sp_tunnel *t, struct tpeer *p)
{
	/* Whoever was relayed through it is unreachable now, not dangling. */
	for (size_t i = 0; i < t->npeers; i++)
		if (t->peers[i]->relay_via == p)
			t->peers[i]->relay_via = NULL;
	if (t->relay_gw == p)
		t->relay_gw = NULL;
	if (p->relay_slot != 0)
		sp_relay_remove(t->relay, p->relay_slot);
	sp_allowedips_remove_peer(t->aips, p);
	sp_wg_peer_remove(t->wg, p->wp);
	dp_clear_queue(p);
	free(p);
}

static int u_private(void *a, const uint8_t k[32]) { return rebuild_wg(a, k); }
static int
u_port(void *a, uint16_t port)
{
	sp_errmsg e;
	int rc = bind_udp(a, port, &e);

	if (rc != SP_OK)
		sp_warn("tunnel: wg set listen-port: %s", e.msg);
	return rc;
}
static int u_fwmark(void *a, uint32_t m) { ((sp_tunnel *)a)->fwmark = m; return SP_OK; }

static int
u_replace_peers(void *a)
{
	sp_tunnel *t = a;

	for (size_t i = 0; i < t->npeers; i++)
		peer_free(t, t->peers[i]);
	t->npeers = 0;
	t->cur = NULL;
	return SP_OK;
}

static int
u_peer(void *a, const uint8_t pub[32], int update_only)
{
	sp_tunnel *t = a;
	struct tpeer *p = find_peer(t, pub), **np;

	t->cur = p;
	if (p != NULL || update_only)
		return SP_OK;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (np = realloc(t->peers, (t->npeers + 1) * sizeof(*np))) == NULL) {
		free(p);
		return SP_ENOMEM;
	}
	t->peers = np;
	if (sp_wg_peer_add(t->wg, pub, &p->wp) != SP_OK) {
		free(p);
		return SP_EINVAL;
	}
	p->t = t;
	sp_wg_peer_set_user(p->wp, p);
	t->peers[t->npeers++] = p;
	t->cur = p;
	return SP_OK;
}

static int
u_remove(void *a)
{
	sp_tunnel *t = a;

	for (size_t i = 0; t->cur != NULL && i < t->npeers; i++)
		if (t->peers[i] == t->cur) {
			t->peers[i] = t->peers[--t->npeers];
			peer_free(t, t->cur);
			break;
		}
	t->cur = NULL;
	return SP_OK;
}

#define CUR_OR_SKIP(t) do { if ((t)->cur == NULL) return SP_OK; } while (0)

static int
u_psk(void *a, const uint8_t k[32])
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	sp_wg_peer_set_psk(t->cur->wp, k);
	return SP_OK;
}

static int
u_endpoint(void *a, const struct sockaddr *sa, socklen_t len)
{
	sp_tunnel *t = a;

	(void)len;
	CUR_OR_SKIP(t);
	to_v6(sa, &t->cur->endpoint);
	t->cur->has_endpoint = 1;
	tp_path_changed(t, t->cur);
	return SP_OK;
}

static int
u_keepalive(void *a, uint16_t s)
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	t->cur->keepalive = s;
	return SP_OK;
}

static int
u_replace_ips(void *a)
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	sp_allowedips_remove_peer(t->aips, t->cur);
	return SP_OK;
}

static int
u_allowed(void *a, int family, const uint8_t *addr, unsigned cidr)
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	return sp_allowedips_insert(t->aips, family, addr, cidr, t->cur) == SP_OK ? SP_OK : SP_ENOMEM;
}

static const struct sp_uapi_ops uapi_ops = {
	u_private, u_port, u_fwmark, u_replace_peers, u_peer, u_remove, u_psk, u_endpoint,
	u_keepalive, u_replace_ips, u_allowed,
};

/* ---- what the roles set ---------------------------------------------------- */

int
sp_tunnel_peer_set(sp_tunnel *t, const uint8_t pub[32], const struct sockaddr *endpoint,
    socklen_t len, uint16_t keepalive, const sp_tunnel_prefix *allowed, size_t nallowed,
    sp_errmsg *e)
{
	int rc;

	/* The same steps as a `wg set` of this peer, through the same code. */
	if ((rc = u_peer(t, pub, 0)) != SP_OK)
		return sp_errf(e, rc, "adding a WireGuard peer: %s", sp_strerror(rc));
	if (endpoint != NULL && (rc = u_endpoint(t, endpoint, len)) != SP_OK)
		return sp_errf(e, rc, "setting a peer's endpoint: %s", sp_strerror(rc));
	if ((rc = u_keepalive(t, keepalive)) != SP_OK || (rc = u_replace_ips(t)) != SP_OK)
		return sp_errf(e, rc, "configuring a peer: %s", sp_strerror(rc));
	for (size_t i = 0; i < nallowed; i++)
		if ((rc = u_allowed(t, allowed[i].family, allowed[i].addr, allowed[i].cidr)) != SP_OK)
			return sp_errf(e, rc, "a peer's allowed IPs: %s", sp_strerror(rc));
	t->cur = NULL;
	/* A keepalive or a queued packet may be due now. */
	tun_schedule(t, 0);
	return SP_OK;
}

int
sp_tunnel_peer_remove(sp_tunnel *t, const uint8_t pub[32])
{
	if ((t->cur = find_peer(t, pub)) == NULL)
		return SP_ENOENT;
	return u_remove(t);
}

static void
path_info(const struct tpeer *p, sp_tunnel_peer_info *out)
{
	uint64_t now = sp_clock_mono_ms(), hs = sp_wg_peer_last_handshake_ms(p->wp);
	uint64_t data = sp_wg_peer_last_data_ms(p->wp);

	memset(out, 0, sizeof(*out));
	out->has_endpoint = tp_reachable(p);
	out->endpoint = p->relay_via != NULL ? p->relay_via->endpoint : p->endpoint;
	if (!tp_reachable(p))
		out->path = SP_PATH_NONE;
	else if (p->pinned != SP_PATH_NONE)
		out->path = p->pinned;
	else if (p->relay_via != NULL)
		out->path = ep_is_stream(&p->relay_via->endpoint) ? SP_PATH_RELAY_TCP :
		    SP_PATH_RELAY_UDP;
	else
		out->path = ep_is_stream(&p->endpoint) ? SP_PATH_TCP : SP_PATH_DIRECT;
	out->trying_ms = sp_wg_peer_trying_ms(p->wp, now);
	{
		uint64_t rx, tx;
		sp_wg_peer_times(p->wp, &rx, &tx);
		out->unanswered_ms = tx > rx && now > tx ? now - tx : 0;
	}
	out->handshake_age = hs ? (int64_t)((now - hs) / 1000) : -1;
	out->path_age = p->path_since_ms ? (int64_t)((now - p->path_since_ms) / 1000) : -1;
	out->idle_ms = data ? (int64_t)(now - data) : -1;
	out->has_session = sp_wg_peer_has_session(p->wp, now);
	out->rtt_ms = p->rtt_ms;
	out->rx_bytes = p->rx_bytes;
	out->tx_bytes = p->tx_bytes;
}

int
sp_tunnel_peer_info_get(const sp_tunnel *t, const uint8_t pub[32], sp_tunnel_peer_info *out)
{
	const struct tpeer *p = find_peer((sp_tunnel *)t, pub);

	if (p == NULL)
		return SP_ENOENT;
	path_info(p, out);
	return SP_OK;
}

void
sp_tunnel_set_other(sp_tunnel *t, sp_tunnel_other_fn fn, void *arg)
{
	t->other = fn;
	t->other_arg = arg;
}

int
sp_tunnel_send_other(sp_tunnel *t, const uint8_t *msg, size_t len, const struct sockaddr *to,
    socklen_t tolen)
{
	struct sockaddr_in6 v6;

	(void)tolen;
	to_v6(to, &v6);
	return sendto(t->udp_fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&v6, sizeof(v6)) ==
	    (ssize_t)len ? SP_OK : SP_EIO;
}

/* ---- the relay --------------------------------------------------------- */

int
sp_tunnel_relay_grant(sp_tunnel *t, const uint8_t addr[16], uint32_t *index,
    uint8_t key[SP_RELAY_KEY_BYTES])
{
	struct tpeer *p = sp_allowedips_lookup(t->aips, 6, addr);
	int rc;

	if (p == NULL)
		return SP_ENOENT;
	if (t->relay == NULL && (rc = sp_relay_table_new(t->d->rng, &t->relay)) != SP_OK)
		return rc;
	if (p->relay_slot != 0) {
		(void)sp_relay_at(t->relay, p->relay_slot, key);
		*index = p->relay_slot;
		return SP_OK;
	}
	if ((rc = sp_relay_add(t->relay, p, index, key)) != SP_OK)
		return rc;
	p->relay_slot = *index;
	return SP_OK;
}

int
sp_tunnel_relay_self(sp_tunnel *t, const uint8_t gw_pub[32], const uint8_t key[SP_RELAY_KEY_BYTES])
{
	struct tpeer *g = find_peer(t, gw_pub);

	if (g == NULL)
		return SP_ENOENT;
	t->relay_gw = g;
	memcpy(t->relay_key, key, SP_RELAY_KEY);
	/* Relayed peers' headers carry our key: a new one rewrites them. */
	for (size_t i = 0; i < t->npeers; i++) {
		struct tpeer *p = t->peers[i];
		sp_relay_hdr h;
		if (p->relay_via != NULL && sp_relay_parse_header(p->relay_hdr, &h) == SP_OK) {
			p->relay_via = g;
			sp_relay_write(p->relay_hdr, SP_RELAY_TO, h.index, key);
		}
	}
	return SP_OK;
}

int
sp_tunnel_peer_relay(sp_tunnel *t, const uint8_t pub[32], uint32_t index)
{
	struct tpeer *p = find_peer(t, pub);

	if (p == NULL || t->relay_gw == NULL || p == t->relay_gw || index == 0)
		return p == NULL ? SP_ENOENT : SP_EINVAL;
	p->relay_index = index;
	if (p->pinned != SP_PATH_NONE)
		return SP_OK;   /* kept for when ICE unpins it */
	if (p->relay_via == NULL || p->path_since_ms == 0)
		tp_path_changed(t, p);
	p->relay_via = t->relay_gw;
	sp_relay_write(p->relay_hdr, SP_RELAY_TO, index, t->relay_key);
	return SP_OK;
}

int
sp_tunnel_peer_kick(sp_tunnel *t, const uint8_t pub[32])
{
	struct tpeer *p = find_peer(t, pub);
	uint64_t now = sp_clock_mono_ms();

	if (p == NULL)
		return SP_ENOENT;
	if (!sp_wg_peer_has_session(p->wp, now)) {
		sp_wg_peer_want_handshake(p->wp, now);
		tun_schedule(t, 0);
	}
	return SP_OK;
}

int
sp_tunnel_peer_rehandshake(sp_tunnel *t, const uint8_t pub[32])
{
	struct tpeer *p = find_peer(t, pub);

	if (p == NULL)
		return SP_ENOENT;
	dp_initiate(t, p);
	return SP_OK;
}

int
sp_tunnel_peer_keepalive(sp_tunnel *t, const uint8_t pub[32])
{
	struct tpeer *p = find_peer(t, pub);

	if (p == NULL)
		return SP_ENOENT;
	dp_send_packet(t, p, t->buf, 0);
	return SP_OK;
}

int
sp_tunnel_peer_close(sp_tunnel *t, const uint8_t pub[32])
{
	struct tpeer *p = find_peer(t, pub);

	if (p == NULL)
		return SP_ENOENT;
	sp_wg_peer_close(t->wg, p->wp);
	dp_clear_queue(p);
	return SP_OK;
}

/* ---- streams ------------------------------------------------------------ */

int
sp_tunnel_endpoint_is_stream(const struct sockaddr_in6 *ep)
{
	return ep_is_stream(ep);
}

int
sp_tunnel_stream_add(sp_tunnel *t, sp_tunnel_stream_send send, void *arg,
    struct sockaddr_in6 *ep)
{
	for (uint32_t i = 1; i < STREAMS_MAX; i++) {
		if (t->streams[i].send != NULL)
			continue;
		t->streams[i].send = send;
		t->streams[i].arg = arg;
		memset(ep, 0, sizeof(*ep));
		ep->sin6_family = AF_INET6;
		ep->sin6_port = htons(443);
		ep->sin6_addr.s6_addr[0] = 0x01;
		ep->sin6_addr.s6_addr[12] = (uint8_t)(i >> 24);
		ep->sin6_addr.s6_addr[13] = (uint8_t)(i >> 16);
		ep->sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
		ep->sin6_addr.s6_addr[15] = (uint8_t)i;
		return SP_OK;
	}
	return SP_ESPACE;
}

void
sp_tunnel_stream_remove(sp_tunnel *t, const struct sockaddr_in6 *ep)
{
	uint32_t i = ep_stream_index(ep);

	if (!ep_is_stream(ep) || i >= STREAMS_MAX)
		return;
	t->streams[i].send = NULL;
	t->streams[i].arg = NULL;
	for (size_t k = 0; k < t->npeers; k++) {
		struct tpeer *p = t->peers[k];
		if (p->relay_via != NULL || !p->has_endpoint ||
		    memcmp(&p->endpoint, ep, sizeof(*ep)) != 0)
			continue;
		if (p->pinned != SP_PATH_NONE) {
			unpin(t, p);   /* ICE's slow path (libnice's send) went */
			continue;
		}
		p->has_endpoint = 0;
		tp_path_changed(t, p);
	}
}

void
sp_tunnel_stream_input(sp_tunnel *t, const struct sockaddr_in6 *ep, uint8_t *msg, size_t len)
{
	dp_input(t, msg, len, ep);
}

/* An IPv4 or IPv6 endpoint as the IPv6 (mapped) form peers keep. */
static int
endpoint_v6(const struct sockaddr *ep, socklen_t len, struct sockaddr_in6 *out)
{
	if ((ep->sa_family != AF_INET || len < sizeof(struct sockaddr_in)) &&
	    (ep->sa_family != AF_INET6 || len < sizeof(struct sockaddr_in6)))
		return SP_EINVAL;
	to_v6(ep, out);
	return SP_OK;
}

int
sp_tunnel_peer_move(sp_tunnel *t, const uint8_t pub[32], const struct sockaddr *ep,
    socklen_t len)
{
	struct tpeer *p = find_peer(t, pub);
	struct sockaddr_in6 s6;

	if (p == NULL)
		return SP_ENOENT;
	if (endpoint_v6(ep, len, &s6) != SP_OK)
		return SP_EINVAL;
	if (!p->has_endpoint || memcmp(&p->endpoint, &s6, sizeof(s6)) != 0 || p->sock != 0)
		tp_path_changed(t, p);
	p->endpoint = s6;
	p->has_endpoint = 1;
	p->relay_via = NULL;
	p->sock = 0;
	p->pinned = SP_PATH_NONE;
	dp_initiate(t, p);
	return SP_OK;
}

int
sp_tunnel_peer_probe(sp_tunnel *t, const uint8_t pub[32], const struct sockaddr *ep,
    socklen_t len)
{
	struct tpeer *p = find_peer(t, pub);
	struct sockaddr_in6 keep, s6;
	struct tpeer *via;
	uint32_t sock;
	int had;

	if (p == NULL)
		return SP_ENOENT;
	if (endpoint_v6(ep, len, &s6) != SP_OK)
		return SP_EINVAL;
	/* The initiation goes to ep; the peer stays where it is until an
	 * authenticated answer arrives from there (roaming). */
	keep = p->endpoint;
	had = p->has_endpoint;
	sock = p->sock;
	via = p->relay_via;
	p->endpoint = s6;
	p->has_endpoint = 1;
	p->sock = 0;
	p->relay_via = NULL;
	dp_initiate(t, p);
	p->endpoint = keep;
	p->has_endpoint = had;
	p->sock = sock;
	p->relay_via = via;
	return SP_OK;
}

/* ---- ICE's paths ---------------------------------------------------------- */

int
sp_tunnel_sock_add(sp_tunnel *t, int fd, uint32_t *id)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return SP_EINVAL;
	for (uint32_t i = 1; i < SOCKS_MAX; i++) {
		struct tsock *s = &t->socks[i];
		if (s->fd >= 0)
			continue;
		if (sp_loop_watch(t->d->loop, fd, SP_IO_READ, dp_on_sock, s, &s->w) != SP_OK)
			return SP_ENOMEM;
		s->t = t;
		s->fd = fd;
		s->id = i;
		s->v4 = ss.ss_family == AF_INET;
		*id = i;
		return SP_OK;
	}
	return SP_ESPACE;
}

/* p leaves its pinned or ICE path: back to its relay slot, or none. */
static void
unpin(sp_tunnel *t, struct tpeer *p)
{
	p->pinned = SP_PATH_NONE;
	p->sock = 0;
	if (p->relay_index != 0 && t->relay_gw != NULL && p != t->relay_gw) {
		p->relay_via = t->relay_gw;
		sp_relay_write(p->relay_hdr, SP_RELAY_TO, p->relay_index, t->relay_key);
	} else {
		p->relay_via = NULL;
		p->has_endpoint = 0;
	}
	tp_path_changed(t, p);
}

void
sp_tunnel_sock_remove(sp_tunnel *t, uint32_t id)
{
	struct tsock *s;

	if (id == 0 || id >= SOCKS_MAX || t->socks[id].fd < 0)
		return;
	s = &t->socks[id];
	for (size_t i = 0; i < t->npeers; i++)
		if (t->peers[i]->relay_via == NULL && t->peers[i]->sock == id)
			unpin(t, t->peers[i]);
	sp_watch_cancel(s->w);
	s->w = NULL;
	s->fd = -1;
}

int
sp_tunnel_peer_pin(sp_tunnel *t, const uint8_t pub[32], uint32_t sock,
    const struct sockaddr *ep, socklen_t len, enum sp_tunnel_path kind)
{
	struct tpeer *p = find_peer(t, pub);
	struct sockaddr_in6 s6;

	if (p == NULL)
		return SP_ENOENT;
	if (endpoint_v6(ep, len, &s6) != SP_OK || sock >= SOCKS_MAX ||
	    (sock != 0 && t->socks[sock].fd < 0) || kind == SP_PATH_NONE)
		return SP_EINVAL;
	if (p->pinned != SP_PATH_NONE && p->relay_via == NULL && p->sock == sock &&
	    p->has_endpoint && tp_same_endpoint(&p->endpoint, &s6)) {
		p->pinned = kind;
		return SP_OK;
	}
	p->pinned = kind;
	p->relay_via = NULL;
	p->endpoint = s6;
	p->has_endpoint = 1;
	p->sock = sock;
	if (sock != 0)
		tp_v4_of(&s6, &p->ep4);
	tp_path_changed(t, p);
	/* The first handshake on the new path measures it, and tells the
	 * peer at once (it roams here unless it pinned a path of its own). */
	dp_initiate(t, p);
	return SP_OK;
}

int
sp_tunnel_peer_unpin(sp_tunnel *t, const uint8_t pub[32])
{
	struct tpeer *p = find_peer(t, pub);

	if (p == NULL)
		return SP_ENOENT;
	if (p->pinned != SP_PATH_NONE || p->sock != 0)
		unpin(t, p);
	return SP_OK;
}

uint64_t
sp_tunnel_path_gen(const sp_tunnel *t)
{
	return t->path_gen;
}

size_t
sp_tunnel_endpoints_text(const sp_tunnel *t, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < t->npeers; i++) {
		const struct tpeer *p = t->peers[i];
		char key[64], ep[80];
		int w;
		if (!p->has_endpoint || p->relay_via != NULL || ep_is_stream(&p->endpoint) ||
		    p->sock != 0)
			continue;
		sodium_bin2base64(key, sizeof(key), sp_wg_peer_public(p->wp), 32,
		    sodium_base64_VARIANT_ORIGINAL);
		tun_endpoint_text(&p->endpoint, ep, sizeof(ep));
		w = snprintf(out + n, cap - n, "%s %s\n", key, ep);
		if (w < 0 || (size_t)w >= cap - n)
			break;   /* bounded: what did not fit waits for a change */
		n += (size_t)w;
	}
	return n;
}

const char *
sp_tunnel_path_name(enum sp_tunnel_path p)
{
	switch (p) {
	case SP_PATH_DIRECT: return "direct";
	case SP_PATH_REFLEXIVE: return "reflexive";
	case SP_PATH_UPNP: return "upnp";
	case SP_PATH_TURN: return "turn";
	case SP_PATH_RELAY_UDP: return "relay-udp";
	case SP_PATH_TCP: return "tcp-443";
	case SP_PATH_RELAY_TCP: return "relay-tcp";
	default: return "none";
	}
}

const char *
sp_tunnel_ifname(const sp_tunnel *t)
{
	return t->ifname;
}

uint16_t
sp_tunnel_port(const sp_tunnel *t)
{
	return t->port;
}

void
sp_tunnel_address(const sp_tunnel *t, uint8_t out[16])
{
	memcpy(out, t->addr, 16);
}

/* ---- `wg get`, `wg set` ----------------------------------------------------- */

/* A bounded text builder for the get reply: formats into the caller's
 * buffer and only counts once it is full, so the caller knows to retry
 * with more room. */
struct text {
	char *buf;
	size_t cap, len;
};

static void tput(struct text *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tput(struct text *x, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(x->len < x->cap ? x->buf + x->len : NULL,
	    x->len < x->cap ? x->cap - x->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		x->len += (size_t)n;
}

static void
put_allowed(void *arg, int family, const uint8_t *addr, unsigned cidr)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	tput(arg, "allowed_ip=%s/%u\n", ip, cidr);
}

static size_t
uapi_get(void *arg, char *out, size_t cap)
{
	sp_tunnel *t = arg;
	struct text x = { out, cap, 0 };
	char hex[65], ep[80];
	uint64_t now = sp_clock_mono_ms();
	int64_t wall = sp_clock_wall();

	sp_uapi_hex(t->priv, hex);
	tput(&x, "private_key=%s\nlisten_port=%u\n", hex, t->port);
	sodium_memzero(hex, sizeof(hex));
	if (t->fwmark)
		tput(&x, "fwmark=%u\n", t->fwmark);
	for (size_t i = 0; i < t->npeers; i++) {
		struct tpeer *p = t->peers[i];
		uint64_t hs = sp_wg_peer_last_handshake_ms(p->wp);
		sp_uapi_hex(sp_wg_peer_public(p->wp), hex);
		tput(&x, "public_key=%s\nprotocol_version=1\n", hex);
		if (p->has_endpoint) {
			tun_endpoint_text(&p->endpoint, ep, sizeof(ep));
			tput(&x, "endpoint=%s\n", ep);
		}
		tput(&x, "last_handshake_time_sec=%lld\nlast_handshake_time_nsec=0\n",
		    hs ? (long long)(wall - (int64_t)((now - hs) / 1000)) : 0LL);
		tput(&x, "tx_bytes=%llu\nrx_bytes=%llu\npersistent_keepalive_interval=%u\n",
		    (unsigned long long)p->tx_bytes, (unsigned long long)p->rx_bytes, p->keepalive);
		sp_allowedips_walk(t->aips, p, put_allowed, &x);
	}
	return x.len;
}

static int
uapi_set(void *arg, const char *body, size_t len)
{
	sp_tunnel *t = arg;
	int rc;

	t->cur = NULL;
	rc = sp_uapi_set(body, len, &uapi_ops, t);
	tun_schedule(t, 0);
	return sp_uapi_errno(rc);
}

static const sp_uapi_handler uapi_handler = { uapi_get, uapi_set };

void
sp_tunnel_status(const sp_tunnel *t, sp_ctl_reply *r)
{
	uint64_t now = sp_clock_mono_ms();

	const sp_wg_stats *st = sp_wg_stats_get(t->wg);

	sp_ctl_reply_field(r, "tunnel", "%s", t->ifname);
	sp_ctl_reply_field(r, "tunnel-port", "%u", t->port);
	/* Everything dropped, and why: from TUN (no peer for the address, an
	 * offload packet that could not be cut) and from the network. */
	sp_ctl_reply_field(r, "tunnel-dropped", "%llu", (unsigned long long)(t->dropped_no_peer +
	    t->dropped_bad_source + t->dropped_offload + st->rx_bad_type + st->rx_bad_size +
	    st->rx_bad_mac + st->rx_bad_auth + st->rx_replay + st->rx_unknown_index +
	    st->rx_unknown_peer + st->rx_old_timestamp + st->rx_flood));
	sp_ctl_reply_field(r, "tunnel-drops", "no-peer=%llu bad-source=%llu offload=%llu "
	    "bad-type=%llu bad-size=%llu bad-mac=%llu bad-auth=%llu replay=%llu "
	    "unknown-index=%llu unknown-peer=%llu old-timestamp=%llu flood=%llu cookies-sent=%llu",
	    (unsigned long long)t->dropped_no_peer, (unsigned long long)t->dropped_bad_source,
	    (unsigned long long)t->dropped_offload, (unsigned long long)st->rx_bad_type,
	    (unsigned long long)st->rx_bad_size, (unsigned long long)st->rx_bad_mac,
	    (unsigned long long)st->rx_bad_auth, (unsigned long long)st->rx_replay,
	    (unsigned long long)st->rx_unknown_index, (unsigned long long)st->rx_unknown_peer,
	    (unsigned long long)st->rx_old_timestamp, (unsigned long long)st->rx_flood,
	    (unsigned long long)st->rx_cookies_sent);
	for (size_t i = 0; i < t->npeers; i++) {
		const struct tpeer *p = t->peers[i];
		uint64_t hs = sp_wg_peer_last_handshake_ms(p->wp);
		char key[64], ep[80] = "-";

		sp_tunnel_peer_info pi;

		path_info(p, &pi);
		sodium_bin2base64(key, sizeof(key), sp_wg_peer_public(p->wp), 32,
		    sodium_base64_VARIANT_ORIGINAL);
		if (pi.has_endpoint)
			tun_endpoint_text(&pi.endpoint, ep, sizeof(ep));
		sp_ctl_reply_field(r, "peers[]", "key=%s endpoint=%s path=%s handshake=%lld "
		    "rtt-ms=%u path-age=%lld rx=%llu tx=%llu", key, ep, sp_tunnel_path_name(pi.path),
		    hs ? (long long)((now - hs) / 1000) : -1LL, pi.rtt_ms, (long long)pi.path_age,
		    (unsigned long long)p->rx_bytes, (unsigned long long)p->tx_bytes);
	}
	if (t->relay != NULL) {
		const sp_relay_stats *rs = sp_relay_stats_of(t->relay);
		sp_ctl_reply_field(r, "relay", "members=%zu forwarded=%llu bytes=%llu bad-frame=%llu "
		    "bad-key=%llu bad-source=%llu no-dest=%llu", sp_relay_count(t->relay),
		    (unsigned long long)rs->forwarded, (unsigned long long)rs->bytes,
		    (unsigned long long)rs->bad_frame, (unsigned long long)rs->bad_key,
		    (unsigned long long)rs->bad_source, (unsigned long long)rs->no_dest);
	}
	if (t->relay_gw != NULL)
		sp_ctl_reply_field(r, "relay-rx-refused", "%llu", (unsigned long long)t->relay_rx_bad);
}

/* ---- lifecycle --------------------------------------------------------------- */

int
sp_tunnel_start(sp_daemon *d, sp_errmsg *e)
{
	const sp_key *dev = sp_daemon_device_key(d);
	uint8_t pub[32], addr[16], zone[16];
	char path[108], a[INET6_ADDRSTRLEN];
	sp_tunnel *t;
	int rc;

	if (dev == NULL)
		return sp_errf(e, SP_ENOENT, "no device key for the tunnel");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	d->tunnel = t;
	t->d = d;
	t->tun_fd = t->udp_fd = -1;
	for (uint32_t i = 0; i < SOCKS_MAX; i++)
		t->socks[i].fd = -1;
	if ((t->priv = sodium_malloc(32)) == NULL || sp_allowedips_new(&t->aips) != SP_OK ||
	    (t->slot = calloc(BATCH, SLOT)) == NULL || (t->rx = calloc(RX_MSGS, RX_BUF)) == NULL ||
	    sp_timer_new(d->loop, on_timer, t, &t->timer) != SP_OK)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	t->gso = 1;
	sp_gro_init(&t->gro);
	/* The WireGuard key is the device's identity key (docs/keys.md). */
	if (sp_key_x25519(dev, t->priv, pub) != SP_OK || sp_wg_new(t->priv, d->rng, &t->wg) != SP_OK)
		return sp_errf(e, SP_ECRYPTO, "deriving the tunnel key");
	sp_wg_set_mtu(t->wg, TUN_MTU);
	if ((rc = sp_tun_open(d->conf.interface, SP_TUN_OFFLOAD, &t->tun_fd, t->ifname, e)) != SP_OK)
		return rc;
	sp_ula_device(d->cloud.prefix, sp_key_info_of(dev)->pub, addr);
	memcpy(t->addr, addr, sizeof(t->addr));
	memset(zone, 0, sizeof(zone));
	memcpy(zone, d->cloud.prefix, 6);
	if ((rc = sp_tun_configure(t->ifname, TUN_MTU, addr, 128, zone, 48, e)) != SP_OK)
		return rc;
	if (d->conf.interface_ipv4_prefix &&
	    (rc = sp_if_addr4(t->ifname, d->conf.interface_ipv4, d->conf.interface_ipv4_prefix,
	    e)) != SP_OK)
		return rc;
	if ((rc = bind_udp(t, d->conf.listen_port < 0 ? SP_DEFAULT_LISTEN_PORT :
	    (uint16_t)d->conf.listen_port, e)) != SP_OK)
		return rc;
	if (mkdir(UAPI_DIR, 0755) != 0 && errno != EEXIST)
		return sp_errf(e, SP_EIO, "%s: %s", UAPI_DIR, strerror(errno));
	snprintf(path, sizeof(path), UAPI_DIR "/%s.sock", t->ifname);
	if ((rc = sp_uapi_server_start(d->loop, path, &uapi_handler, t, &t->uapi, e)) != SP_OK)
		return rc;
	if ((rc = sp_loop_watch(d->loop, t->tun_fd, SP_IO_READ, dp_on_tun, t, &t->tun_w)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	sp_info("tunnel: %s up with %s/128, route to the zone's /48, WireGuard on UDP %u, "
	    "UAPI at %s", t->ifname, a, t->port, path);
	return SP_OK;
}

void
sp_tunnel_stop(sp_tunnel *t)
{
	if (t == NULL)
		return;
	sp_timer_free(t->timer);
	sp_watch_cancel(t->tun_w);
	sp_watch_cancel(t->udp_w);
	for (uint32_t i = 1; i < SOCKS_MAX; i++)
		sp_watch_cancel(t->socks[i].w);   /* their fds are their owners' */
	sp_uapi_server_stop(t->uapi);
	for (size_t i = 0; i < t->npeers; i++)
		peer_free(t, t->peers[i]);
	free(t->peers);
	if (t->udp_fd >= 0)
		close(t->udp_fd);
	if (t->tun_fd >= 0)
		close(t->tun_fd);
	sp_wg_free(t->wg);
	sp_relay_table_free(t->relay);
	sp_allowedips_free(t->aips);
	free(t->slot);
	free(t->rx);
	if (t->priv != NULL)
		sodium_free(t->priv);
	free(t);
}
