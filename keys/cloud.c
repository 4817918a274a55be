#define _GNU_SOURCE
#include "sp_cloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

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
	    "# This device's personal cloud, written by signpost init.\n"
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
