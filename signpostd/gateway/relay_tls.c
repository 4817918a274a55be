/*
 * The relay over TCP 443 (docs/relay.md): where a member's UDP is blocked,
 * its WireGuard session with the gateway, and with it the control plane
 * and the relayed traffic, rides a TLS connection to relay-tls-listen.
 * Each connection is a stream path of the tunnel: its datagrams go
 * through the WireGuard core as if they came on the UDP port, so only a
 * member's authenticated session can use it; the member's endpoint moves
 * onto it (and back to UDP) by WireGuard's roaming.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_int.h"
#include "sp_log.h"
#include "tls.h"
#include "tunnel.h"

#define TLS_CONNS_MAX 256

struct tls_path {
	sp_gateway *g;
	struct sockaddr_in6 ep;      /* its virtual endpoint in the tunnel */
	sp_tls_conn *c;
};

static int
path_send(void *arg, const struct iovec *iov, int n)
{
	struct tls_path *p = arg;

	return sp_tls_sendv(p->c, iov, n);
}

static void
on_up(void *arg, sp_tls_conn *c)
{
	sp_gateway *g = arg;
	struct tls_path *p = calloc(1, sizeof(*p));

	if (p == NULL || g->d->tunnel == NULL) {
		free(p);
		sp_tls_close(c);
		return;
	}
	p->g = g;
	p->c = c;
	if (sp_tunnel_stream_add(g->d->tunnel, path_send, p, &p->ep) != SP_OK) {
		free(p);
		sp_tls_close(c);
		return;
	}
	sp_tls_set_user(c, p);
	g->tls_accepted++;
}

static void
on_dgram(void *arg, sp_tls_conn *c, uint8_t *msg, size_t len)
{
	sp_gateway *g = arg;
	struct tls_path *p = sp_tls_user(c);

	if (p != NULL)
		sp_tunnel_stream_input(g->d->tunnel, &p->ep, msg, len);
}

static void
on_down(void *arg, sp_tls_conn *c, const char *why)
{
	sp_gateway *g = arg;
	struct tls_path *p = sp_tls_user(c);

	sp_debug("relay: a TLS connection ended: %s", why);
	if (p == NULL)
		return;
	if (g->d->tunnel != NULL)
		sp_tunnel_stream_remove(g->d->tunnel, &p->ep);
	free(p);
}

static const sp_tls_handler handler = { on_up, on_dgram, on_down };

uint16_t
relay_tls_port(const sp_daemon *d)
{
	const struct sockaddr *sa = (const struct sockaddr *)&d->conf.relay_tls_listen;

	if (d->conf.relay_tls_listen_len == 0)
		return 0;
	return ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port :
	    ((const struct sockaddr_in *)sa)->sin_port);
}

int
gw_relay_tls_start(sp_gateway *g, sp_errmsg *e)
{
	sp_daemon *d = g->d;
	char name[320], a[80];
	int rc;

	if (d->conf.relay_tls_listen_len == 0)
		return SP_OK;
	if (d->tunnel == NULL)
		return sp_errf(e, SP_ECONFIG, "relay-tls-listen needs the tunnel (interface)");
	sp_cloud_fqdn(&d->cloud, name, sizeof(name));
	if ((rc = sp_tls_server_start(d->loop, (const struct sockaddr *)&d->conf.relay_tls_listen,
	    d->conf.relay_tls_listen_len, sp_daemon_device_key(d), name, TLS_CONNS_MAX, &handler,
	    g, &g->tls, e)) != SP_OK)
		return rc;
	sp_info("relay: members whose UDP is blocked reach us over TLS on %s (certificate: "
	    "our identity key, TLSA at _%u._tcp.%s)", sp_addr_format((const struct sockaddr *)
	    &d->conf.relay_tls_listen, a, sizeof(a)), relay_tls_port(d), name);
	return SP_OK;
}

void
gw_relay_tls_stop(sp_gateway *g)
{
	sp_tls_server_stop(g->tls);
	g->tls = NULL;
}

void
gw_relay_tls_status(const sp_gateway *g, sp_ctl_reply *r)
{
	if (g->tls != NULL)
		sp_ctl_reply_field(r, "relay-tls", "connections=%zu accepted=%llu",
		    sp_tls_server_conns(g->tls), (unsigned long long)g->tls_accepted);
}
