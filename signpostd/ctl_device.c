/* device add|remove|list: the devices the gateway publishes. */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "gateway.h"
#include "sp_log.h"

/* The device words of `device add`: NAME KEY [sshfp=ALG:TYPE:HEX ...]. */
static int
parse_device(const sp_ctl_request *req, sp_device *dev, sp_errmsg *e)
{
	sp_errmsg why;
	size_t got;

	memset(dev, 0, sizeof(*dev));
	if (req->nwords < 4)
		return sp_errf(e, SP_EINVAL, "usage: device add NAME KEY [sshfp=ALG:TYPE:HEX ...]");
	if (sp_device_name_check(req->word[2], e) != SP_OK)
		return SP_EINVAL;
	snprintf(dev->name, sizeof(dev->name), "%.63s", req->word[2]);
	if (sp_key_public_parse(req->word[3], dev->pub, &why) != SP_OK)
		return sp_errf(e, SP_EINVAL, "the key %s", why.msg);
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

static void
reply_serial(sp_gateway *g, sp_ctl_reply *r)
{
	sp_ctl_reply_ok(r);
	sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_gw_zone(g)));
}

void
ctl_device(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	sp_gateway *g = ctl_need_gateway(d, r);
	sp_device dev;
	sp_errmsg e;
	int rc;

	if (g == NULL)
		return;
	if (req->nwords >= 2 && strcmp(req->word[1], "add") == 0) {
		if ((rc = parse_device(req, &dev, &e)) == SP_OK)
			rc = sp_gw_device_add(g, &dev, &e);
		if (rc != SP_OK) {
			sp_ctl_reply_error(r, rc, "%s", e.msg);
			return;
		}
		sp_info("device %s added; zone serial %u", dev.name, sp_zone_serial(sp_gw_zone(g)));
		reply_serial(g, r);
	} else if (req->nwords == 3 && strcmp(req->word[1], "remove") == 0) {
		if ((rc = sp_gw_device_remove(g, req->word[2], &e)) != SP_OK) {
			sp_ctl_reply_error(r, rc, "%s", e.msg);
			return;
		}
		sp_info("device %s removed; zone serial %u", req->word[2],
		    sp_zone_serial(sp_gw_zone(g)));
		reply_serial(g, r);
	} else if (req->nwords == 2 && strcmp(req->word[1], "list") == 0) {
		const sp_device *devs = sp_gw_devices(g);
		sp_ctl_reply_ok(r);
		for (size_t i = 0; i < sp_gw_device_count(g); i++) {
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
