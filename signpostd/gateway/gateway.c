/* The gateway role's start, stop and status (see gateway.h). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "sp_log.h"
#include "tunnel.h"

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

static int
listen_all(sp_gateway *g, sp_errmsg *e)
{
	const sp_conf *conf = &g->d->conf;
	int rc;

	for (size_t i = 0; i < conf->ndns_listen; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&conf->dns_listen[i];
		char where[80];

		g->udp[i].fd = g->tcp[i].fd = -1;
		g->nlisten++;
		if ((rc = gw_udp_listen(g, &g->udp[i], sa, conf->dns_listen_len[i], 0, e)) != SP_OK ||
		    (rc = gw_tcp_listen(g, &g->tcp[i], sa, conf->dns_listen_len[i], 0, e)) != SP_OK)
			return rc;
		sp_info("DNS: serving %s on %s (UDP and TCP)%s", g->d->cloud.zone,
		    sp_addr_format(sa, where, sizeof(where)),
		    g->rrl == NULL ? ", rate limiting off" :
		    is_loopback(sa) ? ", rate limiting off for loopback clients" : "");
	}
	/* The gateway's overlay address serves the zone to its members (the
	 * DNS a WireGuard-app phone is given, and the members' resolvers),
	 * unless a dns-listen already covers it ([::]:53, or itself). */
	if (g->d->tunnel != NULL) {
		struct sockaddr_in6 ov;
		size_t i = g->nlisten;
		char where[80];

		memset(&ov, 0, sizeof(ov));
		ov.sin6_family = AF_INET6;
		ov.sin6_port = htons(53);
		sp_tunnel_address(g->d->tunnel, ov.sin6_addr.s6_addr);
		for (size_t k = 0; k < conf->ndns_listen; k++) {
			const struct sockaddr_in6 *l = (const struct sockaddr_in6 *)&conf->dns_listen[k];
			if (l->sin6_family == AF_INET6 && l->sin6_port == ov.sin6_port &&
			    (IN6_IS_ADDR_UNSPECIFIED(&l->sin6_addr) ||
			    memcmp(&l->sin6_addr, &ov.sin6_addr, 16) == 0))
				return SP_OK;
		}
		g->udp[i].fd = g->tcp[i].fd = -1;
		g->nlisten++;
		if ((rc = gw_udp_listen(g, &g->udp[i], (struct sockaddr *)&ov, sizeof(ov), 1, e)) !=
		    SP_OK || (rc = gw_tcp_listen(g, &g->tcp[i], (struct sockaddr *)&ov, sizeof(ov), 1,
		    e)) != SP_OK)
			return rc;
		sp_info("DNS: serving %s to members on %s", g->d->cloud.zone,
		    sp_addr_format((struct sockaddr *)&ov, where, sizeof(where)));
	} else if (conf->ndns_listen == 0) {
		sp_info("DNS: zone %s signed (serial %u); no dns-listen address, so not serving it",
		    g->d->cloud.zone, g->serial);
	}
	return SP_OK;
}

int
sp_gateway_start(sp_daemon *d, sp_errmsg *e)
{
	sp_rrl_config rrl;
	sp_gateway *g;
	int rc;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	g->d = d;
	d->gw = g;
	if ((rc = sp_answerer_new(0, d->rng, &g->answerer)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	sp_rrl_config_default(&rrl);
	if (d->conf.rrl_rate >= 0)
		rrl.rate = (unsigned)d->conf.rrl_rate;
	if (rrl.rate > 0 && (rc = sp_rrl_new(&rrl, d->rng, &g->rrl)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	/* The relay over TLS's certificate key is published as TLSA. */
	d->conf.zone.tlsa_port = relay_tls_port(d);
	/* The order matters: the first zone build NOTIFYs, with the keys. */
	if ((rc = gw_registry_load(g, e)) != SP_OK || (rc = gw_xfr_keys(g, e)) != SP_OK ||
	    (rc = gw_notify_start(g, e)) != SP_OK || (rc = gw_zone_start(g, e)) != SP_OK ||
	    (rc = gw_rollover_start(g, e)) != SP_OK || (rc = gw_registry_peers(g, e)) != SP_OK ||
	    (rc = gw_pairing_start(g, e)) != SP_OK || (rc = gw_members_start(g, e)) != SP_OK ||
	    (rc = gw_relay_tls_start(g, e)) != SP_OK || (rc = gw_endpoints_start(g, e)) != SP_OK)
		return rc;
	return listen_all(g, e);
}

void
sp_gateway_stop(sp_gateway *g)
{
	if (g == NULL)
		return;
	gw_endpoints_stop(g);
	gw_relay_tls_stop(g);
	gw_members_stop(g);
	gw_pairing_stop(g);
	gw_dns_stop(g);
	gw_rollover_stop(g);
	gw_notify_stop(g);
	gw_zone_stop(g);
	gw_xfr_stop(g);
	sp_answerer_free(g->answerer);
	sp_rrl_free(g->rrl);
	free(g->devs);
	free(g);
}

sp_zone *
sp_gw_zone(const sp_gateway *g)
{
	return g->zone;
}

void
sp_gateway_status(const sp_gateway *g, sp_ctl_reply *r)
{
	const sp_dns_stats *st = sp_answerer_stats(g->answerer);
	sp_rrl_stats rs = { 0, 0, 0, 0 };

	if (g->rrl != NULL)
		sp_rrl_stats_get(g->rrl, &rs);
	sp_ctl_reply_field(r, "zone-serial", "%u", sp_zone_serial(g->zone));
	sp_ctl_reply_field(r, "devices", "%zu", g->ndevs);
	sp_ctl_reply_field(r, "dns-queries", "%llu", (unsigned long long)st->queries);
	sp_ctl_reply_field(r, "dns-dropped", "%llu",
	    (unsigned long long)(st->dropped + st->formerr));
	sp_ctl_reply_field(r, "rrl-dropped", "%llu", (unsigned long long)rs.dropped);
	sp_ctl_reply_field(r, "rrl-slipped", "%llu", (unsigned long long)rs.slipped);
	sp_ctl_reply_field(r, "dns-tcp-refused", "%llu", (unsigned long long)g->tcp_refused);
	sp_ctl_reply_field(r, "dns-tcp-timeouts", "%llu", (unsigned long long)g->tcp_timeouts);
	sp_ctl_reply_field(r, "xfr-done", "%llu", (unsigned long long)g->xfr_done);
	sp_ctl_reply_field(r, "xfr-refused", "%llu", (unsigned long long)g->xfr_refused);
	gw_pairing_status(g, r);
	gw_members_status(g, r);
	gw_relay_tls_status(g, r);
	gw_stun_status(g, r);
}
