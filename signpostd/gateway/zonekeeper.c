/*
 * The keeper of the signed zone: builds a snapshot from the cloud, the
 * keys and the devices, swaps it in for the answerer, keeps the serial
 * rising across restarts, and re-signs before signatures age out.
 */
#include <stdio.h>
#include <string.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_zonesrc.h"

#define ZONE_STATE "zone"
/* Wake at least hourly: cheap, and it bounds the effect of a clock that
 * jumped while we slept. */
#define REFRESH_MAX_MS (3600 * 1000)

static void
load_serial(sp_gateway *g)
{
	sp_store *s = g->d->store;
	uint8_t *data;
	size_t len;
	sp_errmsg e;
	char what[4200];

	g->serial = 0;
	if (sp_store_get(s, ZONE_STATE, &data, &len, NULL) != SP_OK)
		return;
	snprintf(what, sizeof(what), "%s/%s", sp_store_where(s), ZONE_STATE);
	/* A damaged state file costs nothing but the serial's history: the
	 * next serial is the time, which is ahead of any serial this gateway
	 * has published unless its clock went back. */
	if (sp_zone_state_decode((const char *)data, len, what, &g->serial, &e) != SP_OK) {
		sp_warn("%s; the next serial is the current time", e.msg);
		g->serial = 0;
	}
	sp_store_release(data, len);
}

static int
rebuild(sp_gateway *g, int bump, sp_errmsg *e)
{
	sp_daemon *d = g->d;
	int64_t now = sp_clock_wall();
	uint32_t serial = bump ? sp_zone_next_serial(g->serial, now) : g->serial;
	sp_zone *z;
	int rc;

	rc = sp_zone_build(&d->cloud, d->keys, d->nkeys, g->devs, g->ndevs,
	    &d->conf.zone, serial, now, g->zone, &z, e);
	if (rc != SP_OK)
		return rc;
	if (bump) {
		char text[64];
		size_t n;
		if ((rc = sp_zone_state_encode(serial, text, sizeof(text), &n)) != SP_OK ||
		    (rc = sp_store_put(d->store, ZONE_STATE, text, n, e)) != SP_OK) {
			sp_zone_free(z);
			return rc;
		}
		g->serial = serial;
	}
	sp_answerer_set_zone(g->answerer, z);
	sp_zone_free(g->zone);
	g->zone = z;
	sp_debug("zone %s serial %u: %zu names, %zu new signatures", d->cloud.zone,
	    serial, sp_zone_node_count(z), sp_zone_signed_count(z));
	return SP_OK;
}

static void
schedule_refresh(sp_gateway *g)
{
	int64_t now = sp_clock_wall(), due = sp_zone_next_refresh(g->zone);
	uint64_t delay = due > now ? (uint64_t)(due - now) * 1000 : 0;

	sp_timer_arm(g->refresh, delay > REFRESH_MAX_MS ? REFRESH_MAX_MS : delay);
}

static void
on_refresh(void *arg)
{
	sp_gateway *g = arg;
	sp_errmsg e;

	if (rebuild(g, 0, &e) != SP_OK)
		sp_err("re-signing the zone: %s", e.msg);
	schedule_refresh(g);
}

int
gw_zone_changed(sp_gateway *g, sp_errmsg *e)
{
	int rc = rebuild(g, 1, e);

	if (rc == SP_OK) {
		schedule_refresh(g);
		gw_notify_all(g);
	}
	return rc;
}

int
gw_zone_start(sp_gateway *g, sp_errmsg *e)
{
	int rc;

	if ((rc = sp_timer_new(g->d->loop, on_refresh, g, &g->refresh)) != SP_OK)
		return rc;
	load_serial(g);
	return gw_zone_changed(g, e);
}

void
gw_zone_stop(sp_gateway *g)
{
	sp_timer_free(g->refresh);
	g->refresh = NULL;
	sp_zone_free(g->zone);
	g->zone = NULL;
}
