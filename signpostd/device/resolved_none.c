/*
 * resolved.h in the static gateway image (SP_STATIC): no GLib there, and
 * no systemd-resolved to tell. Start succeeds with nothing to stop.
 */
#include "resolved.h"

#include <stddef.h>

int
sp_resolved_start(struct sp_daemon *d, const char *ifname, const uint8_t addr[16],
    const char *zone, sp_resolved **out, sp_errmsg *e)
{
	(void)d;
	(void)ifname;
	(void)addr;
	(void)zone;
	(void)e;
	*out = NULL;
	return SP_OK;
}

void
sp_resolved_stop(sp_resolved *r)
{
	(void)r;
}

int
sp_resolved_registered(const sp_resolved *r)
{
	(void)r;
	return 0;
}

void
sp_resolved_set_recheck(sp_resolved *r, uint64_t ms)
{
	(void)r;
	(void)ms;
}
