/*
 * Where the members were, kept across a restart of the gateway: the
 * endpoint of each member's WireGuard session, written to the state's
 * "endpoints" file (atomically, and only when it changed, at most every
 * WRITE_MS) and read at start. A gateway that restarts (a reboot, a
 * crash, an upgrade) then starts the handshakes itself, from where each
 * member last was: a member that only waits for traffic, behind a NAT
 * that still maps it, is reachable again within a second instead of at
 * its next keepalive and the rekey after it. The file says where the
 * user's devices connect from, so it stays in the state directory
 * (0600) and never goes into the zone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gw_int.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "tunnel.h"

#define ENDPOINTS_FILE "endpoints"
#define WRITE_MS 2000
#define TEXT_MAX (256 * 1024)

/* "NAME ENDPOINT" lines for the members whose session has a UDP endpoint. */
static size_t
collect(sp_gateway *g, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < g->ndevs; i++) {
		sp_tunnel_peer_info pi;
		uint8_t x[32];
		char ep[80];
		int w;
		if (sp_device_x25519(&g->devs[i], x) != SP_OK ||
		    sp_tunnel_peer_info_get(g->d->tunnel, x, &pi) != SP_OK || !pi.has_endpoint ||
		    pi.path != SP_PATH_DIRECT)
			continue;
		sp_tunnel_endpoint_text(&pi.endpoint, ep, sizeof(ep));
		w = snprintf(out + n, cap - n, "%s %s\n", g->devs[i].name, ep);
		if (w < 0 || (size_t)w >= cap - n)
			break;   /* bounded: the rest waits for the next write */
		n += (size_t)w;
	}
	return n;
}

static void
write_now(sp_gateway *g)
{
	char *text = malloc(TEXT_MAX);
	size_t n;
	sp_errmsg e;

	if (text == NULL)
		return;
	n = collect(g, text, TEXT_MAX);
	if (g->ep_last == NULL || g->ep_lastlen != n || memcmp(g->ep_last, text, n) != 0) {
		if (sp_store_put(g->d->store, ENDPOINTS_FILE, text, n, &e) != SP_OK) {
			sp_warn("endpoints: not saved: %s", e.msg);
		} else {
			free(g->ep_last);
			g->ep_last = text;
			g->ep_lastlen = n;
			text = NULL;
		}
	}
	free(text);
}

static void
on_timer(void *arg)
{
	sp_gateway *g = arg;

	write_now(g);
	sp_timer_arm(g->ep_timer, WRITE_MS);
}

/* Each remembered endpoint back on its member's peer, and a handshake
 * sent there; a damaged file is ignored (the members come back anyway). */
static void
restore(sp_gateway *g)
{
	uint8_t *data;
	size_t len, done = 0;
	sp_errmsg e;
	char *line, *save = NULL, *text;

	if (sp_store_get(g->d->store, ENDPOINTS_FILE, &data, &len, &e) != SP_OK)
		return;
	if ((text = malloc(len + 1)) == NULL) {
		sp_store_release(data, len);
		return;
	}
	memcpy(text, data, len);
	text[len] = '\0';
	sp_store_release(data, len);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		const sp_device *dev;
		struct sockaddr_storage ss;
		socklen_t sl;
		uint8_t x[32];
		if (sp == NULL)
			continue;
		*sp = '\0';
		if ((dev = gw_device_by_name(g, line)) == NULL ||
		    sp_addr_parse(sp + 1, &ss, &sl) != SP_OK || sp_device_x25519(dev, x) != SP_OK)
			continue;
		if (sp_tunnel_peer_move(g->d->tunnel, x, (struct sockaddr *)&ss, sl) == SP_OK)
			done++;
	}
	free(text);
	if (done > 0)
		sp_info("endpoints: %zu members' last endpoints restored; handshakes sent to them",
		    done);
}

int
gw_endpoints_start(sp_gateway *g, sp_errmsg *e)
{
	int rc;

	if (g->d->tunnel == NULL)
		return SP_OK;
	restore(g);
	if ((rc = sp_timer_new(g->d->loop, on_timer, g, &g->ep_timer)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	sp_timer_arm(g->ep_timer, WRITE_MS);
	return SP_OK;
}

void
gw_endpoints_stop(sp_gateway *g)
{
	if (g->ep_timer != NULL) {
		write_now(g);   /* a clean stop leaves them current */
		sp_timer_free(g->ep_timer);
		g->ep_timer = NULL;
	}
	free(g->ep_last);
	g->ep_last = NULL;
}
