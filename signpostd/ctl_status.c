/* status: the daemon, its keys, its role's and its tunnel's figures. */
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "gateway.h"
#include "member.h"
#include "paths.h"
#include "sp_time.h"
#include "tunnel.h"

void
ctl_status(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	char fqdn[320], started[SP_TIME_TEXT];

	if (req->nwords != 1) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: status");
		return;
	}
	sp_time_format(d->started_wall, started);
	sp_cloud_fqdn(&d->cloud, fqdn, sizeof(fqdn));
	sp_ctl_reply_ok(r);
	sp_ctl_reply_field(r, "version", "%s", SP_VERSION);
	sp_ctl_reply_field(r, "pid", "%ld", (long)getpid());
	sp_ctl_reply_field(r, "role", "%s", sp_role_name(d->cloud.role));
	sp_ctl_reply_field(r, "zone", "%s", d->cloud.zone);
	sp_ctl_reply_field(r, "name", "%s", fqdn);
	sp_ctl_reply_field(r, "state-dir", "%s", d->state_dir);
	sp_ctl_reply_field(r, "started", "%s", started);
	sp_ctl_reply_field(r, "uptime", "%llu",
	    (unsigned long long)((sp_clock_mono_ms() - d->started_mono) / 1000));
	for (size_t i = 0; i < d->nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		char tag[16] = "";

		/* A device key is published in an IPSECKEY record, not as a
		 * DNSKEY, so it has no key tag anybody would look for. */
		if (k->role != SP_ROLE_DEVICE)
			snprintf(tag, sizeof(tag), " tag=%u", k->tag);
		sp_ctl_reply_field(r, "keys[]", "role=%s algorithm=%u%s id=%s state=%s",
		    sp_key_role_name(k->role), k->algorithm, tag, k->id,
		    sp_key_state_name(k->state));
	}
	if (d->gw != NULL)
		sp_gateway_status(d->gw, r);
	if (d->member != NULL)
		sp_member_status(d->member, r);
	if (d->tunnel != NULL)
		sp_tunnel_status(d->tunnel, r);
}
