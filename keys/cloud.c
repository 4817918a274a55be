#define _GNU_SOURCE
#include "sp_cloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "sp_device.h"
#include "sp_kv.h"
#include "sp_time.h"

#define CLOUD_FILE "cloud"

const char *
sp_role_name(sp_role role)
{
	return role == SP_NODE_GATEWAY ? "gateway" : "device";
}

int
sp_cloud_encode(const sp_cloud *c, char *out, size_t outlen, size_t *len)
{
	char created[SP_TIME_TEXT], prefix[INET6_ADDRSTRLEN];
	uint8_t a[16] = { 0 };
	int n;

	sp_time_format(c->created, created);
	memcpy(a, c->prefix, sizeof(c->prefix));
	inet_ntop(AF_INET6, a, prefix, sizeof(prefix));
	n = snprintf(out, outlen,
	    "# This device's personal cloud, written by signpost init or join.\n"
	    "zone %s\nname %s\nrole %s\ncreated %s\nprefix %s/48\n",
	    c->zone, c->name, sp_role_name(c->role), created, prefix);
	if (n < 0 || (size_t)n >= outlen)
		return SP_ESPACE;
	*len = (size_t)n;
	return SP_OK;
}

int
sp_cloud_decode(const char *text, size_t len, const char *what, sp_cloud *c,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0, seen = 0;
	sp_errmsg why;
	sp_kv kv;
	int rc;

	memset(c, 0, sizeof(*c));
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		if (strcmp(kv.key, "zone") == 0) {
			if (sp_zone_name_canon(kv.value, c->zone, sizeof(c->zone), &why) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: %s", what, kv.line, why.msg);
			seen |= 1;
		} else if (strcmp(kv.key, "name") == 0) {
			if (sp_device_name_check(kv.value, &why) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: %s", what, kv.line, why.msg);
			memcpy(c->name, kv.value, strlen(kv.value) + 1);
			seen |= 2;
		} else if (strcmp(kv.key, "role") == 0) {
			if (strcmp(kv.value, "gateway") == 0)
				c->role = SP_NODE_GATEWAY;
			else if (strcmp(kv.value, "device") == 0)
				c->role = SP_NODE_DEVICE;
			else
				return sp_errf(e, SP_ECORRUPT, "%s:%u: unknown role '%s'",
				    what, kv.line, kv.value);
			seen |= 4;
		} else if (strcmp(kv.key, "created") == 0) {
			if (sp_time_parse(kv.value, &c->created) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad time '%s'",
				    what, kv.line, kv.value);
			seen |= 8;
		} else if (strcmp(kv.key, "prefix") == 0) {
			uint8_t a[16];
			char *slash = strchr(kv.value, '/');
			if (slash == NULL || strcmp(slash, "/48") != 0)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: prefix must be a /48",
				    what, kv.line);
			*slash = '\0';
			if (inet_pton(AF_INET6, kv.value, a) != 1 || a[0] != 0xfd)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad prefix '%s'",
				    what, kv.line, kv.value);
			memcpy(c->prefix, a, sizeof(c->prefix));
			seen |= 16;
		} else {
			return sp_errf(e, SP_ECORRUPT, "%s:%u: unknown field '%s'",
			    what, kv.line, kv.key);
		}
	}
	if (rc < 0)
		return SP_ECORRUPT;
	if (seen != 31)
		return sp_errf(e, SP_ECORRUPT,
		    "%s: truncated: needs zone, name, role, created and prefix", what);
	return SP_OK;
}

int
sp_cloud_load(sp_store *s, sp_cloud *c, sp_errmsg *e)
{
	char what[4200];
	uint8_t *data;
	size_t len;
	int rc;

	rc = sp_store_get(s, CLOUD_FILE, &data, &len, e);
	if (rc == SP_ENOENT)
		return sp_errf(e, SP_ENOENT,
		    "%s holds no personal cloud; create one with "
		    "'signpost init --zone ZONE --name NAME'", sp_store_where(s));
	if (rc != SP_OK)
		return rc;
	snprintf(what, sizeof(what), "%s/%s", sp_store_where(s), CLOUD_FILE);
	rc = sp_cloud_decode((const char *)data, len, what, c, e);
	sp_store_release(data, len);
	return rc;
}

int
sp_cloud_save(sp_store *s, const sp_cloud *c, sp_errmsg *e)
{
	char text[1024];
	size_t len;
	int rc;

	if ((rc = sp_cloud_encode(c, text, sizeof(text), &len)) != SP_OK)
		return sp_errf(e, rc, "the cloud file does not fit");
	return sp_store_put(s, CLOUD_FILE, text, len, e);
}

static int
count_one(void *arg, const char *name)
{
	(void)name;
	(*(size_t *)arg)++;
	return SP_OK;
}

int
sp_cloud_create(sp_store *s, const char *zone, const char *name,
    const sp_seal *seal, int64_t now, const sp_rng *rng, sp_cloud *out, sp_errmsg *e)
{
	static const sp_key_role roles[] = { SP_ROLE_KSK, SP_ROLE_ZSK, SP_ROLE_DEVICE };
	char text[1024];
	sp_cloud c;
	size_t len, nkeys = 0;
	uint8_t *old;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((rc = sp_zone_name_canon(zone, c.zone, sizeof(c.zone), e)) != SP_OK)
		return rc;
	if ((rc = sp_device_name_check(name, e)) != SP_OK)
		return rc;
	if (sp_store_get(s, CLOUD_FILE, &old, &len, NULL) == SP_OK) {
		sp_cloud existing;
		rc = sp_cloud_decode((const char *)old, len, CLOUD_FILE, &existing, NULL);
		sp_store_release(old, len);
		if (rc == SP_OK)
			return sp_errf(e, SP_EEXIST,
			    "%s already holds the cloud %s (this device is %s); "
			    "refusing to overwrite it", sp_store_where(s), existing.zone,
			    existing.name);
		return sp_errf(e, SP_EEXIST, "%s/%s exists; refusing to overwrite it",
		    sp_store_where(s), CLOUD_FILE);
	}
	if ((rc = sp_store_list(s, "keys", count_one, &nkeys, e)) != SP_OK)
		return rc;
	if (nkeys > 0)
		return sp_errf(e, SP_EEXIST,
		    "%s/keys holds keys but there is no cloud file: an interrupted "
		    "init? Move the keys away to start over", sp_store_where(s));
	memcpy(c.name, name, strlen(name) + 1);
	c.role = SP_NODE_GATEWAY;
	c.created = now;

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		sp_key *k;
		if ((rc = sp_key_generate(roles[i], now, rng, &k)) != SP_OK)
			return sp_errf(e, rc, "generating a %s: %s",
			    sp_key_role_name(roles[i]), sp_strerror(rc));
		if (roles[i] == SP_ROLE_KSK)
			sp_ula_prefix(c.zone, sp_key_info_of(k)->pub, c.prefix);
		if (seal != NULL && (rc = sp_key_seal(k, seal, rng)) != SP_OK) {
			sp_key_free(k);
			return sp_errf(e, rc, "sealing the %s: %s", sp_key_role_name(roles[i]),
			    sp_strerror(rc));
		}
		rc = sp_keystore_add(s, k, e);
		sp_key_free(k);
		if (rc != SP_OK)
			return rc;
	}
	if ((rc = sp_cloud_encode(&c, text, sizeof(text), &len)) != SP_OK)
		return rc;
	if ((rc = sp_store_put(s, CLOUD_FILE, text, len, e)) != SP_OK)
		return rc;
	*out = c;
	return SP_OK;
}

void
sp_cloud_fqdn(const sp_cloud *c, char *out, size_t len)
{
	snprintf(out, len, "%s.%s", c->name, c->zone);
}

/* ---- a member's cloud -------------------------------------------------------- */

#define GATEWAY_FILE "gateway"
#define ANCHOR_FILE "anchor"

int
sp_gateway_info_encode(const sp_gateway_info *g, char *out, size_t cap, size_t *len)
{
	char key[64], addr[INET6_ADDRSTRLEN];
	size_t o;
	int n;

	sodium_bin2base64(key, sizeof(key), g->key, sizeof(g->key), sodium_base64_VARIANT_ORIGINAL);
	inet_ntop(AF_INET6, g->addr, addr, sizeof(addr));
	n = snprintf(out, cap, "# This member's gateway, written when it joined.\n"
	    "key %s\naddress %s\ncontrol-port %u\n", key, addr, g->control_port);
	if (n < 0 || (size_t)n >= cap)
		return SP_ESPACE;
	o = (size_t)n;
	for (size_t i = 0; i < g->nendpoints; i++) {
		n = snprintf(out + o, cap - o, "endpoint %s\n", g->endpoint[i]);
		if (n < 0 || (size_t)n >= cap - o)
			return SP_ESPACE;
		o += (size_t)n;
	}
	*len = o;
	return SP_OK;
}

int
sp_gateway_info_decode(const char *text, size_t len, const char *what, sp_gateway_info *g,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0, seen = 0;
	sp_kv kv;
	int rc;

	memset(g, 0, sizeof(*g));
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		if (strcmp(kv.key, "key") == 0) {
			size_t got;
			uint8_t x[32];
			if (sodium_base642bin(g->key, sizeof(g->key), kv.value, strlen(kv.value), NULL,
			    &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got != sizeof(g->key) ||
			    sp_key_x25519_public(g->key, x) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad key", what, kv.line);
			seen |= 1;
		} else if (strcmp(kv.key, "address") == 0) {
			if (inet_pton(AF_INET6, kv.value, g->addr) != 1)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad address", what, kv.line);
			seen |= 2;
		} else if (strcmp(kv.key, "control-port") == 0) {
			char *end;
			unsigned long p = strtoul(kv.value, &end, 10);
			if (*end != '\0' || p == 0 || p > 65535)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad port", what, kv.line);
			g->control_port = (uint16_t)p;
			seen |= 4;
		} else if (strcmp(kv.key, "endpoint") == 0) {
			size_t n = strlen(kv.value);
			if (g->nendpoints == SP_GATEWAY_ENDPOINTS || n >= sizeof(g->endpoint[0]))
				return sp_errf(e, SP_ECORRUPT, "%s:%u: too many endpoints, or too long",
				    what, kv.line);
			memcpy(g->endpoint[g->nendpoints++], kv.value, n + 1);
		} else {
			return sp_errf(e, SP_ECORRUPT, "%s:%u: unknown field '%s'", what, kv.line,
			    kv.key);
		}
	}
	if (rc < 0)
		return SP_ECORRUPT;
	if (seen != 7 || g->nendpoints == 0)
		return sp_errf(e, SP_ECORRUPT, "%s: truncated: needs key, address, control-port "
		    "and an endpoint", what);
	return SP_OK;
}

static int
load_text(sp_store *s, const char *file, void *out,
    int (*decode)(const char *, size_t, const char *, void *, sp_errmsg *), sp_errmsg *e)
{
	char what[4200];
	uint8_t *data;
	size_t len;
	int rc;

	if ((rc = sp_store_get(s, file, &data, &len, e)) == SP_ENOENT)
		return sp_errf(e, rc, "%s/%s is missing: this member's pairing did not finish; "
		    "pair it again", sp_store_where(s), file);
	if (rc != SP_OK)
		return rc;
	snprintf(what, sizeof(what), "%s/%s", sp_store_where(s), file);
	rc = decode((const char *)data, len, what, out, e);
	sp_store_release(data, len);
	return rc;
}

static int
gw_decode(const char *t, size_t l, const char *w, void *o, sp_errmsg *e)
{
	return sp_gateway_info_decode(t, l, w, o, e);
}

static int
anchor_decode(const char *t, size_t l, const char *w, void *o, sp_errmsg *e)
{
	return sp_anchor_decode(t, l, w, o, e);
}

int
sp_gateway_info_load(sp_store *s, sp_gateway_info *g, sp_errmsg *e)
{
	return load_text(s, GATEWAY_FILE, g, gw_decode, e);
}

int
sp_anchor_load(sp_store *s, sp_anchor *a, sp_errmsg *e)
{
	return load_text(s, ANCHOR_FILE, a, anchor_decode, e);
}

int
sp_anchor_encode(const sp_anchor *a, char *out, size_t cap, size_t *len)
{
	size_t o;
	int n = snprintf(out, cap, "# The zone's trust anchor: the DNSKEYs the pairing "
	    "code's DS named.\n");

	if (n < 0 || (size_t)n >= cap)
		return SP_ESPACE;
	o = (size_t)n;
	for (size_t i = 0; i < a->n; i++) {
		char b64[64];
		sodium_bin2base64(b64, sizeof(b64), a->dnskey[i] + 4, SP_KEY_PUBLIC_BYTES,
		    sodium_base64_VARIANT_ORIGINAL);
		n = snprintf(out + o, cap - o, "dnskey %u %u %u %s\n",
		    (unsigned)(a->dnskey[i][0] << 8 | a->dnskey[i][1]), a->dnskey[i][2],
		    a->dnskey[i][3], b64);
		if (n < 0 || (size_t)n >= cap - o)
			return SP_ESPACE;
		o += (size_t)n;
	}
	*len = o;
	return SP_OK;
}

int
sp_anchor_decode(const char *text, size_t len, const char *what, sp_anchor *a, sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0;
	sp_kv kv;
	int rc;

	memset(a, 0, sizeof(*a));
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		unsigned flags, proto, alg;
		char b64[100];
		uint8_t pub[SP_KEY_PUBLIC_BYTES];
		size_t got;

		if (strcmp(kv.key, "dnskey") != 0)
			return sp_errf(e, SP_ECORRUPT, "%s:%u: unknown field '%s'", what, kv.line,
			    kv.key);
		if (a->n == SP_ANCHOR_MAX ||
		    sscanf(kv.value, "%u %u %u %99s", &flags, &proto, &alg, b64) != 4 ||
		    flags > 65535 || proto != 3 || alg != SP_KEY_ALG_ED25519 ||
		    sodium_base642bin(pub, sizeof(pub), b64, strlen(b64), NULL, &got, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || got != sizeof(pub))
			return sp_errf(e, SP_ECORRUPT, "%s:%u: a DNSKEY must be FLAGS 3 15 BASE64",
			    what, kv.line);
		sp_dnskey_rdata((uint16_t)flags, pub, a->dnskey[a->n++]);
	}
	if (rc < 0)
		return SP_ECORRUPT;
	if (a->n == 0)
		return sp_errf(e, SP_ECORRUPT, "%s: holds no DNSKEY", what);
	return SP_OK;
}

size_t
sp_anchor_keys(const sp_anchor *a, sp_key_info *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n && n < max; i++) {
		uint16_t flags = (uint16_t)(a->dnskey[i][0] << 8 | a->dnskey[i][1]);
		if (!(flags & SP_DNSKEY_FLAG_SEP))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].role = SP_ROLE_KSK;
		out[n].state = SP_KSTATE_ACTIVE;
		out[n].algorithm = SP_KEY_ALG_ED25519;
		out[n].flags = flags;
		memcpy(out[n].pub, a->dnskey[i] + 4, SP_KEY_PUBLIC_BYTES);
		out[n].tag = sp_keytag(a->dnskey[i], SP_DNSKEY_RDATA_BYTES);
		sp_key_id(out[n].pub, out[n].id);
		n++;
	}
	return n;
}

int
sp_cloud_join(sp_store *s, const char *zone, const char *name, const uint8_t prefix[6],
    const sp_gateway_info *gw, const sp_anchor *anchor, int64_t now, sp_cloud *out,
    sp_errmsg *e)
{
	char text[2048];
	uint8_t *old;
	size_t len;
	sp_cloud c;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((rc = sp_zone_name_canon(zone, c.zone, sizeof(c.zone), e)) != SP_OK ||
	    (rc = sp_device_name_check(name, e)) != SP_OK)
		return rc;
	if (sp_store_get(s, CLOUD_FILE, &old, &len, NULL) == SP_OK) {
		sp_store_release(old, len);
		return sp_errf(e, SP_EEXIST, "%s already holds a cloud; refusing to overwrite it",
		    sp_store_where(s));
	}
	memcpy(c.name, name, strlen(name) + 1);
	c.role = SP_NODE_DEVICE;
	c.created = now;
	memcpy(c.prefix, prefix, sizeof(c.prefix));
	if ((rc = sp_gateway_info_encode(gw, text, sizeof(text), &len)) != SP_OK ||
	    (rc = sp_store_put(s, GATEWAY_FILE, text, len, e)) != SP_OK ||
	    (rc = sp_anchor_encode(anchor, text, sizeof(text), &len)) != SP_OK ||
	    (rc = sp_store_put(s, ANCHOR_FILE, text, len, e)) != SP_OK ||
	    (rc = sp_cloud_encode(&c, text, sizeof(text), &len)) != SP_OK ||
	    (rc = sp_store_put(s, CLOUD_FILE, text, len, e)) != SP_OK)
		return rc == SP_ESPACE ? sp_errf(e, rc, "the member's state does not fit") : rc;
	*out = c;
	return SP_OK;
}
