/* The device role (see member.h). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "member_int.h"
#include "sp_log.h"
#include "resolved.h"
#include "tunnel.h"

/* Often enough that a NAT in the way keeps its mapping (they forget idle
 * UDP after 30 s to a few minutes), as the WireGuard apps suggest. */
#define KEEPALIVE_S 25


/*
 * An endpoint as pairing wrote it: a numeric address, or a host name
 * (a dynamic-DNS name for a home gateway), resolved here once at start.
 */
static int
resolve(const char *text, struct sockaddr_storage *out, socklen_t *len)
{
	struct addrinfo hints, *res;
	char host[80], port[8];
	const char *colon = strrchr(text, ':');
	size_t hl;
	int rc;

	if (sp_addr_parse(text, out, len) == SP_OK)
		return SP_OK;
	if (colon == NULL || (hl = (size_t)(colon - text)) >= sizeof(host) ||
	    strlen(colon + 1) >= sizeof(port))
		return SP_EINVAL;
	memcpy(host, text, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0 || res == NULL)
		return SP_ENOENT;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return SP_OK;
}

int
sp_member_start(sp_daemon *d, sp_errmsg *e)
{
	struct sockaddr_storage ss;
	sp_tunnel_prefix zone;
	socklen_t sl = 0;
	sp_member *m;
	int rc;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	m->d = d;
	d->member = m;
	if ((rc = sp_gateway_info_load(d->store, &m->gw, e)) != SP_OK ||
	    (rc = sp_anchor_load(d->store, &m->anchor, e)) != SP_OK)
		return rc;
	if (sp_key_x25519_public(m->gw.key, m->gw_x25519) != SP_OK)
		return sp_errf(e, SP_ECORRUPT, "the gateway's key has no X25519 form");
	if (d->tunnel == NULL) {
		sp_warn("member: no tunnel (--interface none): this member cannot reach its "
		    "gateway");
		return SP_OK;
	}
	for (size_t i = 0; i < m->gw.nendpoints && sl == 0; i++) {
		if (resolve(m->gw.endpoint[i], &ss, &sl) == SP_OK)
			snprintf(m->endpoint, sizeof(m->endpoint), "%s", m->gw.endpoint[i]);
		else
			sl = 0;
	}
	if (sl == 0)
		sp_warn("member: none of the gateway's endpoints resolves now; waiting for it "
		    "to reach us");
	/* Everything of the zone goes to the gateway: it is the way to every
	 * member, and its own address is in there too. */
	memset(&zone, 0, sizeof(zone));
	zone.family = 6;
	zone.cidr = 48;
	memcpy(zone.addr, d->cloud.prefix, 6);
	if ((rc = sp_tunnel_peer_set(d->tunnel, m->gw_x25519, sl ? (struct sockaddr *)&ss : NULL,
	    sl, KEEPALIVE_S, &zone, 1, e)) != SP_OK)
		return rc;
	sp_info("member: of %s, through the gateway at %s", d->cloud.zone,
	    m->endpoint[0] ? m->endpoint : "(unknown yet)");
	if ((rc = dr_start(m, e)) != SP_OK || (rc = peers_start(m, e)) != SP_OK ||
	    (rc = ice_start(m, e)) != SP_OK ||
	    (rc = tcp_path_start(m, (struct sockaddr *)&ss, sl, e)) != SP_OK)
		return rc;
	/* Programs find the zone's names through systemd-resolved, where it
	 * runs, when the resolver is where resolved can be told of it: on
	 * the overlay address, port 53 (the default). */
	if (d->conf.ndns_listen == 0) {
		uint8_t self[16];
		sp_tunnel_address(d->tunnel, self);
		if ((rc = sp_resolved_start(d, sp_tunnel_ifname(d->tunnel), self, d->cloud.zone,
		    &m->resolved, e)) != SP_OK)
			return rc;
	}
	return cp_start(m, e);
}

void
sp_member_stop(sp_member *m)
{
	if (m == NULL)
		return;
	sp_resolved_stop(m->resolved);
	m->resolved = NULL;
	cp_stop(m);
	tcp_path_stop(m);
	peers_stop(m);
	ice_stop(m);
	dr_stop(m);
	free(m);
}

void
sp_member_status(const sp_member *m, sp_ctl_reply *r)
{
	char a[INET6_ADDRSTRLEN];
	sp_tunnel_peer_info pi;

	inet_ntop(AF_INET6, m->gw.addr, a, sizeof(a));
	sp_ctl_reply_field(r, "gateway", "%s", a);
	if (m->tls_up) {
		char t[80];
		sp_ctl_reply_field(r, "gateway-endpoint", "%s",
		    sp_addr_format((const struct sockaddr *)&m->tls_addr, t, sizeof(t)));
	} else {
		sp_ctl_reply_field(r, "gateway-endpoint", "%s", m->endpoint[0] ? m->endpoint : "-");
	}
	sp_ctl_reply_field(r, "control-plane", "%s", m->cp_up ? "up" : "down");
	if (m->d->tunnel != NULL &&
	    sp_tunnel_peer_info_get(m->d->tunnel, m->gw_x25519, &pi) == SP_OK)
		sp_ctl_reply_field(r, "gateway-handshake", "%lld", (long long)pi.handshake_age);
	sp_ctl_reply_field(r, "relay-slot", "%u", m->relay_self);
	tcp_path_status(m, r);
	sp_ctl_reply_field(r, "resolved", "%s", sp_resolved_registered(m->resolved) ?
	    "registered" : "no");
	dr_status(m, r);
	peers_status(m, r);
}
