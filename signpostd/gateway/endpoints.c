/*
 * Where the members were, kept across a restart of the gateway: the
 * endpoint of each member's WireGuard session, by its WireGuard key,
 * written to the state's "endpoints" file (atomically, only when a peer's
 * path changed, at most every WRITE_MS) and read at start. A gateway that restarts (a reboot, a
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

static void
write_now(sp_gateway *g)
{
	uint64_t gen = sp_tunnel_path_gen(g->d->tunnel);
	char *text;
	size_t n;
	sp_errmsg e;

	/* No peer has moved since the last write: nothing to read or write. */
	if (g->ep_last != NULL && gen == g->ep_gen)
		return;
	if ((text = malloc(TEXT_MAX)) == NULL)
		return;
	n = sp_tunnel_endpoints_text(g->d->tunnel, text, TEXT_MAX);
	if (g->ep_last == NULL || g->ep_lastlen != n || memcmp(g->ep_last, text, n) != 0) {
		if (sp_store_put(g->d->store, ENDPOINTS_FILE, text, n, &e) != SP_OK) {
			sp_warn("endpoints: not saved: %s", e.msg);
			free(text);
			return;
		}
		free(g->ep_last);
		g->ep_last = text;
		g->ep_lastlen = n;
		text = NULL;
	}
	g->ep_gen = gen;
	free(text);
}

static void
on_timer(void *arg)
{
	sp_gateway *g = arg;

	write_now(g);
	sp_timer_arm(g->ep_timer, WRITE_MS);
}

/* Each remembered endpoint back on its peer, and a handshake sent there;
 * a key that is no longer a peer (revoked), or a damaged line, is
 * skipped: the members come back anyway. */
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
		struct sockaddr_storage ss;
		socklen_t sl;
		uint8_t x[32];
		size_t got;
		if (sp == NULL)
			continue;
		*sp = '\0';
		if (sodium_base642bin(x, sizeof(x), line, strlen(line), NULL, &got, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || got != sizeof(x) ||
		    sp_addr_parse(sp + 1, &ss, &sl) != SP_OK)
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
