/*
 * The registry of members: the devices the zone publishes and the tunnel
 * takes as peers. Loaded from the store at start; every change is written
 * to the store before it is published, in one atomic write where it can be.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "sp_log.h"
#include "tunnel.h"

/*
 * A rename writes the new record, then deletes the old; a crash in
 * between leaves two records with one key. The renamed one is newer: keep
 * it and delete the other.
 */
static void
drop_duplicates(sp_gateway *g)
{
	for (size_t i = 0; i < g->ndevs; i++)
		for (size_t k = i + 1; k < g->ndevs; k++) {
			size_t drop;
			sp_errmsg e;
			if (memcmp(g->devs[i].pub, g->devs[k].pub, SP_KEY_PUBLIC_BYTES) != 0)
				continue;
			drop = g->devs[i].renamed > g->devs[k].renamed ? k : i;
			sp_warn("registry: '%s' and '%s' have one key (a rename interrupted); "
			    "keeping '%s'", g->devs[i].name, g->devs[k].name,
			    g->devs[drop == i ? k : i].name);
			if (sp_device_delete(g->d->store, g->devs[drop].name, &e) != SP_OK)
				sp_warn("registry: %s", e.msg);
			g->devs[drop] = g->devs[--g->ndevs];
			i = (size_t)-1;
			break;
		}
}

int
gw_registry_load(sp_gateway *g, sp_errmsg *e)
{
	int rc = sp_devices_load(g->d->store, &g->devs, &g->ndevs, e);

	if (rc == SP_OK)
		drop_duplicates(g);
	return rc;
}

size_t sp_gw_device_count(const sp_gateway *g) { return g->ndevs; }
const sp_device *sp_gw_devices(const sp_gateway *g) { return g->devs; }

const sp_device *
gw_device_by_name(const sp_gateway *g, const char *name)
{
	for (size_t i = 0; i < g->ndevs; i++)
		if (strcmp(g->devs[i].name, name) == 0)
			return &g->devs[i];
	return NULL;
}

const sp_device *
sp_gw_device_find(const sp_gateway *g, const char *name)
{
	return gw_device_by_name(g, name);
}

const sp_device *
gw_device_by_key(const sp_gateway *g, const uint8_t pub[32])
{
	for (size_t i = 0; i < g->ndevs; i++)
		if (memcmp(g->devs[i].pub, pub, SP_KEY_PUBLIC_BYTES) == 0)
			return &g->devs[i];
	return NULL;
}

/* The member as a peer of the tunnel: its key, its /128, no endpoint (it
 * comes with its first handshake). */
static int
add_peer(sp_gateway *g, const sp_device *dev, sp_errmsg *e)
{
	sp_tunnel_prefix ip;
	uint8_t x[32];

	if (g->d->tunnel == NULL)
		return SP_OK;
	if (sp_device_x25519(dev, x) != SP_OK)
		return sp_errf(e, SP_EINVAL, "device '%s': its key has no X25519 form", dev->name);
	memset(&ip, 0, sizeof(ip));
	ip.family = 6;
	ip.cidr = 128;
	sp_ula_device(g->d->cloud.prefix, dev->pub, ip.addr);
	return sp_tunnel_peer_set(g->d->tunnel, x, NULL, 0, 0, &ip, 1, e);
}

static void
remove_peer(sp_gateway *g, const sp_device *dev)
{
	uint8_t x[32];

	if (g->d->tunnel != NULL && sp_device_x25519(dev, x) == SP_OK)
		(void)sp_tunnel_peer_remove(g->d->tunnel, x);   /* SP_ENOENT: none to close */
}

int
gw_registry_peers(sp_gateway *g, sp_errmsg *e)
{
	int rc;

	for (size_t i = 0; i < g->ndevs; i++)
		if ((rc = add_peer(g, &g->devs[i], e)) != SP_OK)
			return rc;
	return SP_OK;
}

static int
check_new(sp_gateway *g, const sp_device *dev, sp_errmsg *e)
{
	char who[64];

	if (strcmp(dev->name, g->d->cloud.name) == 0)
		return sp_errf(e, SP_EEXIST, "'%s' is the gateway's own name", dev->name);
	if (gw_device_by_name(g, dev->name) != NULL)
		return sp_errf(e, SP_EEXIST, "device '%s' already exists", dev->name);
	if (gw_device_by_key(g, dev->pub) != NULL)
		return sp_errf(e, SP_EEXIST, "that key is already device '%s'",
		    gw_device_by_key(g, dev->pub)->name);
	if (sp_revoked_find(g->d->store, dev->pub, who, NULL, NULL) == SP_OK)
		return sp_errf(e, SP_EPERM, "that key was revoked (it was %s); a revoked key "
		    "cannot come back", who[0] ? who : "a member");
	return SP_OK;
}

int
sp_gw_device_add(sp_gateway *g, const sp_device *dev, sp_errmsg *e)
{
	sp_device *nd;
	int rc;

	if ((rc = check_new(g, dev, e)) != SP_OK)
		return rc;
	/* Room first, so that once the store has the device nothing can fail
	 * before it is published too. */
	if ((nd = realloc(g->devs, (g->ndevs + 1) * sizeof(*nd))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	g->devs = nd;
	if ((rc = sp_device_save(g->d->store, dev, e)) != SP_OK)
		return rc;
	g->devs[g->ndevs++] = *dev;
	rc = gw_zone_changed(g, e);
	/* A peer before the members hear of it: their list names its relay
	 * slot, which the peer holds. The record is the membership: a failed
	 * peer is logged, and the next start adds it from the record. */
	{
		sp_errmsg pe;
		if (add_peer(g, dev, &pe) != SP_OK)
			sp_warn("registry: %s joined, but its tunnel peer was not added: %s",
			    dev->name, pe.msg);
	}
	gw_members_changed(g);
	return rc;
}

int
sp_gw_member_add(sp_gateway *g, const sp_device *dev, sp_errmsg *e)
{
	return sp_gw_device_add(g, dev, e);
}

static size_t
index_of(const sp_gateway *g, const char *name)
{
	for (size_t i = 0; i < g->ndevs; i++)
		if (strcmp(g->devs[i].name, name) == 0)
			return i;
	return g->ndevs;
}

int
sp_gw_device_remove(sp_gateway *g, const char *name, sp_errmsg *e)
{
	size_t i = index_of(g, name);
	sp_device dev;
	int rc;

	if (i == g->ndevs)
		return sp_errf(e, SP_ENOENT, "no device '%s'", name);
	if ((rc = sp_device_delete(g->d->store, name, e)) != SP_OK)
		return rc;
	dev = g->devs[i];
	g->devs[i] = g->devs[--g->ndevs];
	remove_peer(g, &dev);
	rc = gw_zone_changed(g, e);
	gw_members_changed(g);
	return rc;
}

int
sp_gw_device_revoke(sp_gateway *g, const char *name, sp_errmsg *e)
{
	size_t i = index_of(g, name);
	int rc;

	if (i == g->ndevs)
		return sp_errf(e, SP_ENOENT, "no device '%s'", name);
	/* The key is refused before the device is gone, so a crash between
	 * the two leaves a member that cannot come back after it is removed,
	 * never a removed one whose key still works. */
	if ((rc = sp_revoked_add(g->d->store, g->devs[i].pub, name, sp_clock_wall(), e)) != SP_OK)
		return rc;
	/* Codes it asked for die with it: a stolen phone's codes admit nobody. */
	sp_gw_pair_cancel_by(g, name);
	return sp_gw_device_remove(g, name, e);
}

int
sp_gw_device_rename(sp_gateway *g, const char *from, const char *to, sp_errmsg *e)
{
	size_t i = index_of(g, from);
	sp_device dev;
	int rc;

	if (i == g->ndevs)
		return sp_errf(e, SP_ENOENT, "no device '%s'", from);
	if ((rc = sp_device_name_check(to, e)) != SP_OK)
		return rc;
	if (strcmp(to, g->d->cloud.name) == 0 || gw_device_by_name(g, to) != NULL)
		return sp_errf(e, SP_EEXIST, "the name '%s' is taken", to);
	dev = g->devs[i];
	snprintf(dev.name, sizeof(dev.name), "%s", to);
	dev.renamed = sp_clock_wall();
	if ((rc = sp_device_save(g->d->store, &dev, e)) != SP_OK)
		return rc;
	if ((rc = sp_device_delete(g->d->store, from, e)) != SP_OK)
		sp_warn("registry: renamed %s to %s, but the old record stays: %s (the next "
		    "start keeps the new one)", from, to, e->msg);
	g->devs[i] = dev;
	rc = gw_zone_changed(g, e);
	gw_members_changed(g);
	return rc;
}
