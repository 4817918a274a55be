/*
 * A member's way to its gateway when UDP is blocked (docs/relay.md, "TCP
 * 443"): data to the gateway that gets nothing back for SUSPECT_MS starts
 * a handshake; once that has gone unanswered over UDP for TRY_MS, the
 * member opens TLS to the gateway's relay port (the same host
 * as its UDP endpoint; the port the member list names, else 443), checks
 * the certificate against the gateway key pinned at pairing, and moves the
 * gateway's WireGuard session onto it: the control plane and the relayed
 * traffic follow, as they ride that session. While on TCP it tries UDP
 * again every PROBE_MS with a handshake sent there; when the answer comes
 * over UDP the session roams back, and the TLS connection is closed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "member_int.h"
#include "sp_log.h"
#include "tls.h"
#include "tunnel.h"

#define TICK_MS 1000
#define SUSPECT_MS 1500          /* data sent, nothing back: try a handshake */
#define TRY_MS 2500              /* a handshake unanswered this long: try TCP */
#define SUSPECT_EVERY_MS 5000    /* at most one such handshake this often */
#define PROBE_MS 10000           /* on TCP: try UDP again this often */
#define BACK_MS 3000             /* back on UDP this long: close TCP */
#define RETRY_MS 5000            /* a TLS connection that failed: wait */

static int
path_send(void *arg, const struct iovec *iov, int n)
{
	sp_member *m = arg;

	return m->tls != NULL ? sp_tls_sendv(m->tls, iov, n) : SP_EIO;
}

static void
end_tls(sp_member *m)
{
	if (m->tls_up && m->d->tunnel != NULL)
		sp_tunnel_stream_remove(m->d->tunnel, &m->tls_ep);
	m->tls_up = 0;
	m->tls = NULL;
}

static void
on_up(void *arg, sp_tls_conn *c)
{
	sp_member *m = arg;
	char a[80];

	(void)c;
	if (sp_tunnel_stream_add(m->d->tunnel, path_send, m, &m->tls_ep) != SP_OK) {
		sp_tls_close(m->tls);
		m->tls = NULL;
		return;
	}
	m->tls_up = 1;
	m->tcp_switches++;
	m->tcp_since_ms = sp_clock_mono_ms();
	m->probe_ms = m->tcp_since_ms;
	sp_info("member: UDP to the gateway gets no answer; its session now runs over TLS "
	    "to %s (the certificate is the gateway's pinned key)",
	    sp_addr_format((struct sockaddr *)&m->tls_addr, a, sizeof(a)));
	(void)sp_tunnel_peer_move(m->d->tunnel, m->gw_x25519, (struct sockaddr *)&m->tls_ep,
	    sizeof(m->tls_ep));
}

static void
on_dgram(void *arg, sp_tls_conn *c, uint8_t *msg, size_t len)
{
	sp_member *m = arg;

	(void)c;
	if (m->tls_up)
		sp_tunnel_stream_input(m->d->tunnel, &m->tls_ep, msg, len);
}

static void
on_down(void *arg, sp_tls_conn *c, const char *why)
{
	sp_member *m = arg;
	sp_tunnel_peer_info pi;
	int was_on = m->tls_up;

	(void)c;
	if (m->d->tunnel != NULL && was_on &&
	    sp_tunnel_peer_info_get(m->d->tunnel, m->gw_x25519, &pi) == SP_OK &&
	    pi.path == SP_PATH_TCP && m->udp_ep_len)
		/* Back to trying UDP; TCP again if that still gets nothing. */
		(void)sp_tunnel_peer_move(m->d->tunnel, m->gw_x25519,
		    (struct sockaddr *)&m->udp_ep, m->udp_ep_len);
	end_tls(m);
	m->tls_retry_ms = sp_clock_mono_ms() + RETRY_MS;
	sp_warn("member: the TLS connection to the gateway %s: %s",
	    was_on ? "ended" : "failed", why);
}

static const sp_tls_handler handler = { on_up, on_dgram, on_down };

static void
connect_tls(sp_member *m)
{
	sp_errmsg e;

	m->tls_addr = m->udp_ep;
	if (m->tls_addr.ss_family == AF_INET)
		((struct sockaddr_in *)&m->tls_addr)->sin_port = htons(m->tls_port);
	else
		((struct sockaddr_in6 *)&m->tls_addr)->sin6_port = htons(m->tls_port);
	if (sp_tls_connect(m->d->loop, (struct sockaddr *)&m->tls_addr, m->udp_ep_len,
	    m->gw.key, &handler, m, &m->tls, &e) != SP_OK) {
		sp_warn("member: TLS to the gateway: %s", e.msg);
		m->tls = NULL;
		m->tls_retry_ms = sp_clock_mono_ms() + RETRY_MS;
	}
}

static void
on_tick(void *arg)
{
	sp_member *m = arg;
	uint64_t now = sp_clock_mono_ms(), relayed;
	sp_tunnel_peer_info pi;

	sp_timer_arm(m->tcp_timer, TICK_MS);
	if (sp_tunnel_peer_info_get(m->d->tunnel, m->gw_x25519, &pi) != SP_OK)
		return;
	relayed = peers_unanswered_ms(m);
	/* A new session with the gateway: if the gateway restarted (it starts
	 * the handshakes itself, from the endpoints it kept), our control
	 * plane and relay key are gone with it. A ping finds out at once. */
	if (pi.handshake_age >= 0) {
		uint64_t at = now - (uint64_t)pi.handshake_age * 1000;
		if (m->gw_handshake_ms != 0 && at > m->gw_handshake_ms + 2000)
			cp_check(m);
		m->gw_handshake_ms = at;
	}
	/*
	 * Members unanswered through the relay while the gateway's session is
	 * fresh: the gateway no longer takes our relay key (it restarted, and
	 * gave out new ones). The control plane, made again, brings ours.
	 */
	if (relayed >= 3000 && pi.handshake_age >= 0 && pi.handshake_age < 10 &&
	    now - m->cp_kicked_ms >= 10000) {
		m->cp_kicked_ms = now;
		cp_reconnect(m, "the relay does not carry our traffic: the gateway may have restarted");
	}
	if (m->tls == NULL) {
		/* WireGuard alone notices a dead path only after 15 s (keepalive
		 * and rekey timeouts): data to the gateway, or to a member
		 * through its relay, that got nothing back for SUSPECT_MS asks
		 * the question now, with a handshake. */
		if (pi.trying_ms == 0 && (pi.unanswered_ms >= SUSPECT_MS ||
		    relayed >= SUSPECT_MS) && m->udp_ep_len &&
		    now - m->suspect_ms >= SUSPECT_EVERY_MS) {
			/* At most every SUSPECT_EVERY_MS: a member that is simply
			 * off leaves our data to it unanswered for as long as we
			 * send, and the gateway is not to be rekeyed each second. */
			m->suspect_ms = now;
			(void)sp_tunnel_peer_probe(m->d->tunnel, m->gw_x25519,
			    (struct sockaddr *)&m->udp_ep, m->udp_ep_len);
		}
		else if (pi.trying_ms >= TRY_MS && now >= m->tls_retry_ms && m->udp_ep_len)
			connect_tls(m);
		return;
	}
	if (!m->tls_up)
		return;   /* connecting */
	if (pi.path == SP_PATH_TCP) {
		m->udp_back_ms = 0;
		if (now - m->probe_ms >= PROBE_MS) {
			m->probe_ms = now;
			(void)sp_tunnel_peer_probe(m->d->tunnel, m->gw_x25519,
			    (struct sockaddr *)&m->udp_ep, m->udp_ep_len);
		}
		return;
	}
	/* The session roamed back to UDP: an answer came that way. */
	if (m->udp_back_ms == 0)
		m->udp_back_ms = now;
	if (now - m->udp_back_ms >= BACK_MS) {
		sp_info("member: UDP to the gateway works again; closing the TLS connection");
		sp_tls_close(m->tls);
		end_tls(m);
	}
}

/*
 * The host moved networks (an address or a route changed): tell the
 * gateway at once where we are, with a keepalive from wherever we are now,
 * rather than at the next 25 s keepalive. Roaming does the rest: the
 * gateway's session follows the keepalive's source, and so does its relay.
 */
static void
on_link_change(void *arg)
{
	sp_member *m = arg;

	m->link_changes++;
	if (m->d->tunnel != NULL)
		(void)sp_tunnel_peer_keepalive(m->d->tunnel, m->gw_x25519);
	ice_on_link_change(m);
}

int
tcp_path_start(sp_member *m, const struct sockaddr *udp_ep, socklen_t len, sp_errmsg *e)
{
	sp_errmsg le;
	int rc;

	if (sp_linkwatch_start(m->d->loop, on_link_change, m, &m->links, &le) != SP_OK)
		sp_warn("member: not watching for network changes (%s): roaming waits for the "
		    "next keepalive", le.msg);

	if (len > 0 && len <= sizeof(m->udp_ep)) {
		memcpy(&m->udp_ep, udp_ep, len);
		m->udp_ep_len = len;
	}
	if (m->tls_port == 0)
		m->tls_port = 443;
	if ((rc = sp_timer_new(m->d->loop, on_tick, m, &m->tcp_timer)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	sp_timer_arm(m->tcp_timer, TICK_MS);
	return SP_OK;
}

void
tcp_path_stop(sp_member *m)
{
	sp_linkwatch_stop(m->links);
	m->links = NULL;
	sp_timer_free(m->tcp_timer);
	m->tcp_timer = NULL;
	if (m->tls != NULL) {
		sp_tls_close(m->tls);
		end_tls(m);
	}
}

void
tcp_path_status(const sp_member *m, sp_ctl_reply *r)
{
	sp_ctl_reply_field(r, "gateway-path", "%s", m->tls_up ? "tcp-443" :
	    m->tls != NULL ? "udp (connecting TLS)" : "udp");
	sp_ctl_reply_field(r, "tcp-switches", "%llu", (unsigned long long)m->tcp_switches);
	sp_ctl_reply_field(r, "link-changes", "%llu", (unsigned long long)m->link_changes);
}
