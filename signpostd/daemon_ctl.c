/* Control requests answered by the daemon: one function per verb. */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "paths.h"
#include "sp_log.h"
#include "sp_time.h"
#include "sp_xfr.h"

static void
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
	if (d->dns != NULL) {
		const sp_dns_stats *st = sp_dns_stats_get(d->dns);
		sp_ctl_reply_field(r, "zone-serial", "%u", sp_zone_serial(sp_dns_zone(d->dns)));
		sp_ctl_reply_field(r, "devices", "%zu", sp_dns_device_count(d->dns));
		sp_ctl_reply_field(r, "dns-queries", "%llu", (unsigned long long)st->queries);
		sp_ctl_reply_field(r, "dns-dropped", "%llu",
		    (unsigned long long)(st->dropped + st->formerr));
		uint64_t rd, rs;
		sp_dns_rrl_counts(d->dns, &rd, &rs);
		sp_ctl_reply_field(r, "rrl-dropped", "%llu", (unsigned long long)rd);
		sp_ctl_reply_field(r, "rrl-slipped", "%llu", (unsigned long long)rs);
	}
	if (d->tunnel != NULL)
		sp_tunnel_status(d->tunnel, r);
}

/* The device words of `device add`: NAME KEY [sshfp=ALG:TYPE:HEX ...]. */
static int
parse_device(const sp_ctl_request *req, sp_device *dev, sp_errmsg *e)
{
	size_t got;

	memset(dev, 0, sizeof(*dev));
	if (req->nwords < 4)
		return sp_errf(e, SP_EINVAL, "usage: device add NAME KEY [sshfp=ALG:TYPE:HEX ...]");
	if (sp_device_name_check(req->word[2], e) != SP_OK)
		return SP_EINVAL;
	snprintf(dev->name, sizeof(dev->name), "%.63s", req->word[2]);
	{
		sp_errmsg why;
		if (sp_key_public_parse(req->word[3], dev->pub, &why) != SP_OK)
			return sp_errf(e, SP_EINVAL, "the key %s", why.msg);
	}
	for (size_t i = 4; i < req->nwords; i++) {
		unsigned alg, type;
		char hex[80];
		sp_sshfp *f = &dev->sshfp[dev->nsshfp];
		if (dev->nsshfp == SP_DEVICE_MAX_SSHFP ||
		    sscanf(req->word[i], "sshfp=%u:%u:%79s", &alg, &type, hex) != 3 ||
		    alg == 0 || alg > 255 || type != 2 ||
		    sodium_hex2bin(f->fp, 32, hex, strlen(hex), NULL, &got, NULL) != 0 || got != 32)
			return sp_errf(e, SP_EINVAL, "bad SSHFP '%s'", req->word[i]);
		f->algorithm = (uint8_t)alg;
		f->fp_type = (uint8_t)type;
		dev->nsshfp++;
	}
	dev->added = sp_clock_wall();
	return SP_OK;
}

static int
need_gateway(sp_daemon *d, sp_ctl_reply *r)
{
	if (d->dns != NULL)
		return 1;
	sp_ctl_reply_error(r, SP_EUNSUPP, "this device is not the gateway of %s", d->cloud.zone);
	return 0;
}

static void
ctl_device(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	sp_errmsg e;
	sp_device dev;
	int rc;

	if (!need_gateway(d, r))
		return;
	if (req->nwords >= 2 && strcmp(req->word[1], "add") == 0) {
		if ((rc = parse_device(req, &dev, &e)) == SP_OK)
			rc = sp_dns_device_add(d->dns, &dev, &e);
		if (rc != SP_OK) {
			sp_ctl_reply_error(r, rc, "%s", e.msg);
			return;
		}
		sp_info("device %s added; zone serial %u", dev.name, sp_zone_serial(sp_dns_zone(d->dns)));
		sp_ctl_reply_ok(r);
		sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_dns_zone(d->dns)));
	} else if (req->nwords == 3 && strcmp(req->word[1], "remove") == 0) {
		if ((rc = sp_dns_device_remove(d->dns, req->word[2], &e)) != SP_OK) {
			sp_ctl_reply_error(r, rc, "%s", e.msg);
			return;
		}
		sp_info("device %s removed; zone serial %u", req->word[2],
		    sp_zone_serial(sp_dns_zone(d->dns)));
		sp_ctl_reply_ok(r);
		sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_dns_zone(d->dns)));
	} else if (req->nwords == 2 && strcmp(req->word[1], "list") == 0) {
		const sp_device *devs = sp_dns_devices(d->dns);
		sp_ctl_reply_ok(r);
		for (size_t i = 0; i < sp_dns_device_count(d->dns); i++) {
			char b64[64], addr[INET6_ADDRSTRLEN];
			uint8_t a[16];
			sp_ula_device(d->cloud.prefix, devs[i].pub, a);
			inet_ntop(AF_INET6, a, addr, sizeof(addr));
			sodium_bin2base64(b64, sizeof(b64), devs[i].pub, 32, sodium_base64_VARIANT_ORIGINAL);
			sp_ctl_reply_field(r, "devices[]", "name=%s address=%s key=%s sshfp=%zu",
			    devs[i].name, addr, b64, devs[i].nsshfp);
		}
	} else {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: device add|remove|list ...");
	}
}

static void
ctl_zone(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	char *text, *line, *save = NULL;
	size_t len;
	int rc;

	if (!need_gateway(d, r))
		return;
	if (req->nwords >= 3 && strcmp(req->word[1], "rollover") == 0) {
		sp_errmsg e;
		int complete = req->nwords == 4 && strcmp(req->word[3], "complete") == 0;
		if (strcmp(req->word[2], "zsk") == 0 && req->nwords == 3)
			rc = sp_dns_rollover_zsk(d->dns, &e);
		else if (strcmp(req->word[2], "ksk") == 0 && (req->nwords == 3 || complete))
			rc = complete ? sp_dns_rollover_ksk_complete(d->dns, &e)
			    : sp_dns_rollover_ksk(d->dns, &e);
		else {
			sp_ctl_reply_error(r, SP_EINVAL, "usage: zone rollover zsk|ksk [complete]");
			return;
		}
		if (rc != SP_OK) {
			sp_ctl_reply_error(r, rc, "%s", e.msg);
			return;
		}
		sp_ctl_reply_ok(r);
		sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_dns_zone(d->dns)));
		for (size_t i = 0; i < d->nkeys; i++) {
			const sp_key_info *k = sp_key_info_of(d->keys[i]);
			char *ds;
			if (k->role != SP_ROLE_KSK || k->state != SP_KSTATE_ACTIVE ||
			    sp_key_ds_text(k, d->cloud.zone, 3600, &ds) != SP_OK)
				continue;
			ds[strcspn(ds, "\n")] = '\0';
			sp_ctl_reply_field(r, "ds[]", "%s", ds);
			free(ds);
		}
		return;
	}
	if (req->nwords != 2 || strcmp(req->word[1], "export") != 0) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: zone export | zone rollover zsk|ksk [complete]");
		return;
	}
	if ((rc = sp_xfr_text(sp_dns_zone(d->dns), sp_clock_wall(), &text, &len)) != SP_OK) {
		sp_ctl_reply_error(r, rc, "exporting the zone: %s", sp_strerror(rc));
		return;
	}
	sp_ctl_reply_ok(r);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		sp_ctl_reply_field(r, "rr[]", "%s", line);
	free(text);
}

static const struct {
	const char *verb;
	void (*fn)(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
} verbs[] = {
	{ "status", ctl_status },
	{ "device", ctl_device },
	{ "zone", ctl_zone },
};

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
