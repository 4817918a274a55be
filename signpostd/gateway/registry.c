/*
 * The registry of devices the zone publishes: loaded from the store at
 * start, changed through the daemon, each change written to the store
 * before it is published.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"

int
gw_registry_load(sp_gateway *g, sp_errmsg *e)
{
	return sp_devices_load(g->d->store, &g->devs, &g->ndevs, e);
}

size_t sp_gw_device_count(const sp_gateway *g) { return g->ndevs; }
const sp_device *sp_gw_devices(const sp_gateway *g) { return g->devs; }

int
sp_gw_device_add(sp_gateway *g, const sp_device *dev, sp_errmsg *e)
{
	sp_device *nd;
	int rc;

	if (strcmp(dev->name, g->d->cloud.name) == 0)
		return sp_errf(e, SP_EEXIST, "'%s' is the gateway's own name", dev->name);
	for (size_t i = 0; i < g->ndevs; i++)
		if (strcmp(g->devs[i].name, dev->name) == 0)
			return sp_errf(e, SP_EEXIST, "device '%s' already exists", dev->name);
	/* Room first, so that once the store has the device nothing can fail
	 * before it is published too. */
	if ((nd = realloc(g->devs, (g->ndevs + 1) * sizeof(*nd))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	g->devs = nd;
	if ((rc = sp_device_save(g->d->store, dev, e)) != SP_OK)
		return rc;
	g->devs[g->ndevs++] = *dev;
	return gw_zone_changed(g, e);
}

int
sp_gw_device_remove(sp_gateway *g, const char *name, sp_errmsg *e)
{
	size_t i;
	int rc;

	for (i = 0; i < g->ndevs; i++)
		if (strcmp(g->devs[i].name, name) == 0)
			break;
	if (i == g->ndevs)
		return sp_errf(e, SP_ENOENT, "no device '%s'", name);
	if ((rc = sp_device_delete(g->d->store, name, e)) != SP_OK)
		return rc;
	g->devs[i] = g->devs[--g->ndevs];
	return gw_zone_changed(g, e);
}
