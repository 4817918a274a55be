/* The control requests the daemon answers: a table of verbs. */
#include <string.h>

#include "ctl.h"

static const struct {
	const char *verb;
	void (*fn)(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
} verbs[] = {
	{ "status", ctl_status },
	{ "device", ctl_device },
	{ "zone", ctl_zone },
	{ "pair", ctl_pair },
	{ "devices", ctl_devices },
	{ "revoke", ctl_revoke },
	{ "rename", ctl_rename },
};

struct sp_gateway *
ctl_need_gateway(sp_daemon *d, sp_ctl_reply *r)
{
	if (d->gw == NULL)
		sp_ctl_reply_error(r, SP_EUNSUPP, "this device is not the gateway of %s",
		    d->cloud.zone);
	return d->gw;
}

void
sp_daemon_ctl(void *arg, const sp_ctl_request *req, sp_ctl_reply *reply)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(req->word[0], verbs[i].verb) == 0) {
			verbs[i].fn(arg, req, reply);
			return;
		}
	sp_ctl_reply_error(reply, SP_EUNSUPP, "unknown request '%s'", req->word[0]);
}

/* Only pair wait defers; its waits are dropped with their asker. */
void
sp_daemon_ctl_gone(void *arg, uint64_t ticket)
{
	ctl_pair_gone(arg, ticket);
}
