/*
 * pair create|wait|wireguard, devices, revoke, rename: the membership
 * verbs (docs/control.md). On the gateway they act; on a member, pair and
 * devices are asked of the gateway over the control plane (device/).
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "gateway.h"
#include "member.h"
#include "sp_member.h"
#include "sp_log.h"
#include "sp_pair.h"
#include "sp_time.h"
#include "tunnel.h"

#define WAIT_SLACK_MS 2000

/* A code lives at most a day (the gateway's limit too): so a number of
 * seconds here fits every unsigned millisecond count made from it. */
#define TTL_MAX (24 * 3600)

static int
parse_ttl(const char *s, int64_t *ttl)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*end != '\0' || end == s || v < 1 || v > TTL_MAX)
		return SP_EINVAL;
	*ttl = v;
	return SP_OK;
}

static void
address_text(const sp_daemon *d, const uint8_t pub[32], char out[INET6_ADDRSTRLEN])
{
	uint8_t a[16];

	sp_ula_device(d->cloud.prefix, pub, a);
	inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
}

/* pair create NAME TTL */
static void
pair_create(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	char uri[SP_PAIR_URI_MAX], hex[2 * SP_PAIR_TOKEN_ID + 1];
	uint8_t id[SP_PAIR_TOKEN_ID];
	sp_pair_uri u;
	int64_t ttl;
	int chosen, rc;
	sp_errmsg e;

	if (req->nwords != 4 || parse_ttl(req->word[3], &ttl) != SP_OK) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: pair create NAME SECONDS");
		return;
	}
	if ((rc = sp_gw_pair_create(d->gw, req->word[2], ttl, NULL, &u, &chosen, &e)) != SP_OK) {
		sp_ctl_reply_error(r, rc, "%s", e.msg);
		return;
	}
	rc = sp_pair_uri_format(&u, uri, sizeof(uri));
	sp_pair_token_id(u.token, id);
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	if (rc != SP_OK) {
		sp_gw_pair_cancel(d->gw, id);   /* a code nobody can be shown */
		sp_ctl_reply_error(r, rc, "the pairing code does not fit in a URI");
	} else {
		sp_ctl_reply_ok(r);
		sp_ctl_reply_field(r, "uri", "%s", uri);
		sp_ctl_reply_field(r, "id", "%s", hex);
		sp_ctl_reply_field(r, "name", "%s.%s", u.name, d->cloud.zone);
		sp_ctl_reply_field(r, "ttl", "%lld", (long long)ttl);
		sp_ctl_reply_field(r, "endpoints-chosen", "%d", chosen);
		for (size_t i = 0; i < u.nendpoints; i++)
			sp_ctl_reply_field(r, "endpoints[]", "%s", u.endpoint[i]);
	}
	sodium_memzero(uri, sizeof(uri));
	sodium_memzero(&u, sizeof(u));
}

/* A member's request, answered when the gateway does. */
struct relayed {
	sp_daemon *d;
	uint64_t ticket;
	char name[64];
	uint32_t ttl;
};

static void
member_paired(void *arg, int rc, const char *text, const uint8_t id[8], int chosen)
{
	struct relayed *x = arg;
	sp_ctl_reply r;
	sp_pair_uri u;
	char hex[17];

	sp_ctl_reply_init(&r);
	if (rc != SP_OK) {
		sp_ctl_reply_error(&r, rc, "the gateway says: %s", text);
	} else if (sp_pair_uri_parse(text, strlen(text), &u, NULL) != SP_OK) {
		sp_ctl_reply_error(&r, SP_EPROTO, "the gateway's code does not parse");
	} else {
		sodium_bin2hex(hex, sizeof(hex), id, 8);
		sp_ctl_reply_ok(&r);
		sp_ctl_reply_field(&r, "uri", "%s", text);
		sp_ctl_reply_field(&r, "id", "%s", hex);
		sp_ctl_reply_field(&r, "name", "%s.%s", x->name, x->d->cloud.zone);
		sp_ctl_reply_field(&r, "ttl", "%u", x->ttl);
		sp_ctl_reply_field(&r, "endpoints-chosen", "%d", chosen);
		for (size_t i = 0; i < u.nendpoints; i++)
			sp_ctl_reply_field(&r, "endpoints[]", "%s", u.endpoint[i]);
		sodium_memzero(&u, sizeof(u));
	}
	if (x->d->ctl != NULL)
		sp_ctl_server_finish(x->d->ctl, x->ticket, &r);
	sp_ctl_reply_free(&r);
	free(x);
}

static void
member_joined(void *arg, int rc, const char *name, const uint8_t addr[16])
{
	struct relayed *x = arg;
	sp_ctl_reply r;
	char a[INET6_ADDRSTRLEN];

	sp_ctl_reply_init(&r);
	if (rc == SP_OK) {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		sp_ctl_reply_ok(&r);
		sp_ctl_reply_field(&r, "joined", "%s.%s", name, x->d->cloud.zone);
		sp_ctl_reply_field(&r, "address", "%s", a);
	} else {
		sp_ctl_reply_error(&r, rc, "%s", name);
	}
	if (x->d->ctl != NULL)
		sp_ctl_server_finish(x->d->ctl, x->ticket, &r);
	sp_ctl_reply_free(&r);
	free(x);
}

/* pair create|wait on a member: the gateway does it, over the control plane. */
static void
member_pair(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	struct relayed *x;
	uint8_t id[8];
	size_t got;
	int64_t ttl = 0;
	sp_errmsg e;
	int rc, create = req->nwords == 4 && strcmp(req->word[1], "create") == 0;

	if (req->nwords >= 2 && strcmp(req->word[1], "wireguard") == 0) {
		sp_ctl_reply_error(r, SP_EUNSUPP, "a phone with only the WireGuard app is paired on "
		    "the gateway (its configuration holds the gateway's endpoint and settings): run "
		    "signpost pair --wireguard there");
		return;
	}
	if (!create && !(req->nwords >= 3 && strcmp(req->word[1], "wait") == 0)) {
		sp_ctl_reply_error(r, SP_EINVAL, "on a member: pair create NAME SECONDS | pair wait "
		    "ID [SECONDS]");
		return;
	}
	if ((create && (parse_ttl(req->word[3], &ttl) != SP_OK ||
	    sp_device_name_check(req->word[2], &e) != SP_OK)) ||
	    (!create && (sodium_hex2bin(id, sizeof(id), req->word[2], strlen(req->word[2]), NULL,
	    &got, NULL) != 0 || got != sizeof(id) ||
	    (req->nwords == 4 && parse_ttl(req->word[3], &ttl) != SP_OK)))) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: pair create NAME SECONDS | pair wait ID");
		return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		sp_ctl_reply_error(r, SP_ENOMEM, "out of memory");
		return;
	}
	x->d = d;
	x->ttl = (uint32_t)ttl;
	if (create)
		snprintf(x->name, sizeof(x->name), "%s", req->word[2]);
	x->ticket = sp_ctl_reply_defer(r, create ? 10000 :
	    (unsigned)((ttl > 0 ? ttl : TTL_MAX) * 1000 + WAIT_SLACK_MS));
	rc = create ? sp_member_pair(d->member, x->name, x->ttl, x->ticket, member_paired, x,
	    &e) : sp_member_pair_wait(d->member, id, (uint32_t)(ttl > 0 ? ttl : TTL_MAX) * 1000u,
	    x->ticket, member_joined, x, &e);
	if (rc != SP_OK) {
		free(x);
		r->defer_ms = 0;
		sp_ctl_reply_error(r, rc, "%s", e.msg);
	}
}

static void
pair_joined(void *arg, uint64_t ticket, int rc, const char *name, const uint8_t addr[16])
{
	sp_daemon *d = arg;
	sp_ctl_reply r;
	char a[INET6_ADDRSTRLEN];

	if (d->ctl == NULL)
		return;
	sp_ctl_reply_init(&r);
	if (rc == SP_OK) {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		sp_ctl_reply_ok(&r);
		sp_ctl_reply_field(&r, "joined", "%s.%s", name, d->cloud.zone);
		sp_ctl_reply_field(&r, "address", "%s", a);
	} else if (rc == SP_ETIMEOUT) {
		sp_ctl_reply_error(&r, rc, "the code for %s expired unused", name);
	} else {
		sp_ctl_reply_error(&r, rc, "signpostd is stopping");
	}
	sp_ctl_server_finish(d->ctl, ticket, &r);
	sp_ctl_reply_free(&r);
}

/* pair wait ID: answered when the device joins or the code expires. */
static void
pair_wait(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	uint8_t id[SP_PAIR_TOKEN_ID];
	size_t got;
	int64_t left;
	uint64_t ticket;
	sp_errmsg e;
	int rc;

	/* A member sends how long its code lives; the gateway knows it. */
	if ((req->nwords != 3 && req->nwords != 4) || sodium_hex2bin(id, sizeof(id), req->word[2],
	    strlen(req->word[2]), NULL, &got, NULL) != 0 || got != sizeof(id)) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: pair wait ID [SECONDS]");
		return;
	}
	left = sp_gw_pair_expires(d->gw, id) - sp_clock_wall();
	ticket = sp_ctl_reply_defer(r, (unsigned)(left > 0 ? left : 1) * 1000 + WAIT_SLACK_MS);
	if ((rc = sp_gw_pair_wait(d->gw, id, ticket, pair_joined, d, &e)) != SP_OK) {
		r->defer_ms = 0;
		sp_ctl_reply_error(r, rc, "%s", e.msg);
	}
}

/*
 * pair wireguard NAME KEY: a phone with only a WireGuard app. The key pair
 * was made by the CLI, which keeps the private half to itself: the
 * gateway gets and stores the public one only.
 */
static void
pair_wireguard(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	sp_device dev;
	sp_errmsg e;
	size_t got;
	uint8_t gw_x[32], gw_priv[32], addr[16];
	char a[INET6_ADDRSTRLEN], b64[64];
	int rc;

	memset(&dev, 0, sizeof(dev));
	if (req->nwords != 4 || sp_device_name_check(req->word[2], &e) != SP_OK ||
	    sodium_base642bin(dev.pub, sizeof(dev.pub), req->word[3], strlen(req->word[3]), NULL,
	    &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got != sizeof(dev.pub)) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: pair wireguard NAME X25519-KEY");
		return;
	}
	if (d->tunnel == NULL) {
		sp_ctl_reply_error(r, SP_EUNSUPP, "a WireGuard phone needs the tunnel");
		return;
	}
	if (sp_gw_pair_waiting(d->gw, req->word[2])) {
		sp_ctl_reply_error(r, SP_EEXIST, "a code for '%s' is waiting already", req->word[2]);
		return;
	}
	/* Where the phone will reach the gateway, before it is admitted: a
	 * configuration without an endpoint would be a member nobody uses. */
	{
		char eps[SP_PAIR_MAX_ENDPOINTS][SP_PAIR_ENDPOINT_MAX];
		int chosen;
		if (sp_gw_endpoints(d->gw, eps, SP_PAIR_MAX_ENDPOINTS, &chosen) == 0) {
			sp_ctl_reply_error(r, SP_ECONFIG, "no endpoint to give the phone: set "
			    "public-endpoint HOST:PORT");
			return;
		}
	}
	snprintf(dev.name, sizeof(dev.name), "%s", req->word[2]);
	dev.kind = SP_DEVICE_WIREGUARD;
	dev.added = sp_clock_wall();
	if ((rc = sp_gw_member_add(d->gw, &dev, &e)) != SP_OK) {
		sp_ctl_reply_error(r, rc, "%s", e.msg);
		return;
	}
	if (sp_key_x25519(sp_daemon_device_key(d), gw_priv, gw_x) != SP_OK) {
		sp_ctl_reply_error(r, SP_ECRYPTO, "the gateway's key");
		return;
	}
	sodium_memzero(gw_priv, sizeof(gw_priv));
	sp_ctl_reply_ok(r);
	sp_ula_device(d->cloud.prefix, dev.pub, addr);
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	sp_ctl_reply_field(r, "address", "%s", a);
	sp_tunnel_address(d->tunnel, addr);
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	sp_ctl_reply_field(r, "dns", "%s", a);
	sp_ctl_reply_field(r, "zone", "%s", d->cloud.zone);
	memset(addr, 0, sizeof(addr));
	memcpy(addr, d->cloud.prefix, 6);
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	sp_ctl_reply_field(r, "prefix", "%s/48", a);
	sodium_bin2base64(b64, sizeof(b64), gw_x, 32, sodium_base64_VARIANT_ORIGINAL);
	sp_ctl_reply_field(r, "gateway-key", "%s", b64);
	{
		int chosen;
		char eps[SP_PAIR_MAX_ENDPOINTS][SP_PAIR_ENDPOINT_MAX];
		size_t n = sp_gw_endpoints(d->gw, eps, SP_PAIR_MAX_ENDPOINTS, &chosen);
		for (size_t i = 0; i < n; i++)
			sp_ctl_reply_field(r, "endpoints[]", "%s", eps[i]);
		sp_ctl_reply_field(r, "endpoints-chosen", "%d", chosen);
	}
	sp_info("pairing: %s.%s added as a WireGuard-app phone", dev.name, d->cloud.zone);
}

void
ctl_pair(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	if (d->gw == NULL && d->member != NULL) {
		member_pair(d, req, r);
		return;
	}
	if (ctl_need_gateway(d, r) == NULL)
		return;
	if (req->nwords >= 2 && strcmp(req->word[1], "create") == 0)
		pair_create(d, req, r);
	else if (req->nwords >= 2 && strcmp(req->word[1], "wait") == 0)
		pair_wait(d, req, r);
	else if (req->nwords >= 2 && strcmp(req->word[1], "wireguard") == 0)
		pair_wireguard(d, req, r);
	else
		sp_ctl_reply_error(r, SP_EINVAL, "usage: pair create|wait|wireguard ...");
}

/* The path fields of a devices[] line (docs/control.md). */
static void
path_fields(const sp_tunnel_peer_info *pi, char *out, size_t len)
{
	snprintf(out, len, "path=%s rtt-ms=%u path-age=%lld rx=%llu tx=%llu",
	    sp_tunnel_path_name(pi->path), pi->rtt_ms, (long long)pi->path_age,
	    (unsigned long long)pi->rx_bytes, (unsigned long long)pi->tx_bytes);
}

/* devices: every member, the gateway first, with what the tunnel knows. */
/* devices on a member: the list the gateway last gave it. */
static void
member_devices(sp_daemon *d, sp_ctl_reply *r)
{
	char hsbuf[32];
	const sp_cp_member *list;
	size_t n = sp_member_list(d->member, &list);
	char a[INET6_ADDRSTRLEN], id[SP_KEY_ID_CHARS + 1];

	sp_ctl_reply_ok(r);
	for (size_t i = 0; i < n; i++) {
		sp_tunnel_peer_info pi;
		char path[96];
		inet_ntop(AF_INET6, list[i].addr, a, sizeof(a));
		sp_key_id(list[i].key, id);
		if (sp_member_peer_info(d->member, list[i].name, &pi) != SP_OK)
			memset(&pi, 0, sizeof(pi)), pi.handshake_age = pi.path_age = -1;
		path_fields(&pi, path, sizeof(path));
		if (memcmp(list[i].key, sp_key_info_of(sp_daemon_device_key(d))->pub, 32) == 0)
			snprintf(path, sizeof(path), "path=self");
		sp_ctl_reply_field(r, "devices[]", "name=%s kind=%s id=%s address=%s handshake=%s "
		    "endpoint=- added=- %s", list[i].name, list[i].kind == SP_CP_KIND_GATEWAY ?
		    "gateway" : list[i].kind == SP_CP_KIND_WIREGUARD ? "wireguard" : "signpost", id,
		    a, pi.handshake_age >= 0 ? (snprintf(hsbuf, sizeof(hsbuf), "%lld",
		    (long long)pi.handshake_age), hsbuf) : "-", path);
	}
}

void
ctl_devices(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	const sp_device *devs;
	char a[INET6_ADDRSTRLEN], added[SP_TIME_TEXT], id[SP_KEY_ID_CHARS + 1];

	if (d->gw == NULL && d->member != NULL && req->nwords == 1) {
		member_devices(d, r);
		return;
	}
	if (ctl_need_gateway(d, r) == NULL)
		return;
	if (req->nwords != 1) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: devices");
		return;
	}
	sp_ctl_reply_ok(r);
	{
		const sp_key_info *self = sp_key_info_of(sp_daemon_device_key(d));
		address_text(d, self->pub, a);
		sp_time_format(self->created, added);
		sp_ctl_reply_field(r, "devices[]", "name=%s kind=gateway id=%s address=%s "
		    "handshake=- endpoint=- added=%s path=self", d->cloud.name, self->id, a, added);
	}
	devs = sp_gw_devices(d->gw);
	for (size_t i = 0; i < sp_gw_device_count(d->gw); i++) {
		sp_tunnel_peer_info pi;
		uint8_t x[32];
		char hs[32] = "-", ep[80] = "-", path[96];

		memset(&pi, 0, sizeof(pi));
		pi.path_age = -1;
		address_text(d, devs[i].pub, a);
		sp_time_format(devs[i].added, added);
		sp_key_id(devs[i].pub, id);
		if (d->tunnel != NULL && sp_device_x25519(&devs[i], x) == SP_OK &&
		    sp_tunnel_peer_info_get(d->tunnel, x, &pi) == SP_OK) {
			if (pi.handshake_age >= 0)
				snprintf(hs, sizeof(hs), "%lld", (long long)pi.handshake_age);
			if (pi.has_endpoint)
				sp_tunnel_endpoint_text(&pi.endpoint, ep, sizeof(ep));
		}
		path_fields(&pi, path, sizeof(path));
		sp_ctl_reply_field(r, "devices[]", "name=%s kind=%s id=%s address=%s handshake=%s "
		    "endpoint=%s added=%s %s", devs[i].name,
		    devs[i].kind == SP_DEVICE_WIREGUARD ? "wireguard" : "signpost", id, a, hs, ep,
		    added, path);
	}
}

/* revoke NAME: says each thing it did. */
void
ctl_revoke(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	const sp_device *dev;
	char a[INET6_ADDRSTRLEN], id[SP_KEY_ID_CHARS + 1];
	sp_device copy;
	sp_errmsg e;
	int rc;

	if (ctl_need_gateway(d, r) == NULL)
		return;
	if (req->nwords != 2) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: revoke NAME");
		return;
	}
	if ((dev = sp_gw_device_find(d->gw, req->word[1])) == NULL) {
		sp_ctl_reply_error(r, SP_ENOENT, "no device '%s' in %s", req->word[1], d->cloud.zone);
		return;
	}
	copy = *dev;
	if ((rc = sp_gw_device_revoke(d->gw, req->word[1], &e)) != SP_OK) {
		sp_ctl_reply_error(r, rc, "%s", e.msg);
		return;
	}
	address_text(d, copy.pub, a);
	sp_key_id(copy.pub, id);
	sp_info("revoked %s.%s (key %s): out of the zone, its sessions closed, its key refused",
	    copy.name, d->cloud.zone, id);
	sp_ctl_reply_ok(r);
	sp_ctl_reply_field(r, "revoked", "%s.%s", copy.name, d->cloud.zone);
	sp_ctl_reply_field(r, "key", "%s", id);
	sp_ctl_reply_field(r, "address", "%s", a);
	sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_gw_zone(d->gw)));
	sp_ctl_reply_field(r, "tunnel", "%s", d->tunnel != NULL ? "peer removed, sessions closed"
	    : "no tunnel");
}

/* rename OLD NEW */
void
ctl_rename(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	sp_errmsg e;
	int rc;

	if (ctl_need_gateway(d, r) == NULL)
		return;
	if (req->nwords != 3) {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: rename OLD NEW");
		return;
	}
	if ((rc = sp_gw_device_rename(d->gw, req->word[1], req->word[2], &e)) != SP_OK) {
		sp_ctl_reply_error(r, rc, "%s", e.msg);
		return;
	}
	sp_info("renamed %s.%s to %s.%s", req->word[1], d->cloud.zone, req->word[2],
	    d->cloud.zone);
	sp_ctl_reply_ok(r);
	sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_gw_zone(d->gw)));
}

/* A deferred pair request's asker left: its waits go with it. */
void
ctl_pair_gone(sp_daemon *d, uint64_t ticket)
{
	if (d->gw != NULL)
		sp_gw_pair_unwait(d->gw, ticket);
	else if (d->member != NULL)
		sp_member_forget(d->member, ticket);
}

/* ---- the same for other front ends (daemon.h) ------------------------------ */

int
sp_daemon_pair(sp_daemon *d, const char *name, int64_t ttl, const char *by, char *uri,
    size_t cap, uint8_t id[8], int *chosen, sp_errmsg *e)
{
	sp_pair_uri u;
	int rc;

	if (d->gw == NULL)
		return sp_errf(e, SP_EUNSUPP, "this device is not the gateway of %s", d->cloud.zone);
	if ((rc = sp_gw_pair_create(d->gw, name, ttl, by, &u, chosen, e)) != SP_OK)
		return rc;
	sp_pair_token_id(u.token, id);
	rc = sp_pair_uri_format(&u, uri, cap);
	sodium_memzero(&u, sizeof(u));
	if (rc != SP_OK) {
		sp_gw_pair_cancel(d->gw, id);
		return sp_errf(e, rc, "the pairing code does not fit in %zu bytes", cap);
	}
	return SP_OK;
}

struct front_wait {
	sp_daemon_joined_fn fn;
	void *arg;
};

static void
front_joined(void *arg, uint64_t ticket, int rc, const char *name, const uint8_t addr[16])
{
	struct front_wait *w = arg;

	(void)ticket;
	w->fn(w->arg, rc, name, addr);
	free(w);
}

int
sp_daemon_pair_wait(sp_daemon *d, const uint8_t id[8], sp_daemon_joined_fn fn, void *arg,
    sp_errmsg *e)
{
	struct front_wait *w;
	int rc;

	if (d->gw == NULL)
		return sp_errf(e, SP_EUNSUPP, "this device is not the gateway of %s", d->cloud.zone);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	w->fn = fn;
	w->arg = arg;
	if ((rc = sp_gw_pair_wait(d->gw, id, 0, front_joined, w, e)) != SP_OK)
		free(w);
	return rc;
}
