#define _GNU_SOURCE
#include "sp_device.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_kv.h"
#include "sp_time.h"

#define DEVICES_DIR "devices"

/* SHA-256 of a domain-separation tag and two inputs. */
static void
tagged_sha256(const char *tag, const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[crypto_hash_sha256_BYTES])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)tag, strlen(tag));
	crypto_hash_sha256_update(&st, a, alen);
	crypto_hash_sha256_update(&st, b, blen);
	crypto_hash_sha256_final(&st, out);
}

void
sp_ula_prefix(const char *zone, const uint8_t ksk_pub[SP_KEY_PUBLIC_BYTES],
    uint8_t prefix[6])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	tagged_sha256("signpost-ula-v1", zone, strlen(zone), ksk_pub, SP_KEY_PUBLIC_BYTES, h);
	/* RFC 4193: fd00::/8 (L = 1) then a 40-bit pseudo-random global ID. */
	prefix[0] = 0xfd;
	memcpy(prefix + 1, h, 5);
}

void
sp_ula_device(const uint8_t prefix[6], const uint8_t pub[SP_KEY_PUBLIC_BYTES],
    uint8_t addr[16])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	tagged_sha256("signpost-iid-v1", pub, SP_KEY_PUBLIC_BYTES, NULL, 0, h);
	memcpy(addr, prefix, 6);
	memcpy(addr + 6, h, 10);
}

int
sp_device_encode(const sp_device *d, char *out, size_t cap, size_t *len)
{
	char pub64[64], added[SP_TIME_TEXT];
	size_t o;
	int n;

	sodium_bin2base64(pub64, sizeof(pub64), d->pub, SP_KEY_PUBLIC_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	sp_time_format(d->added, added);
	n = snprintf(out, cap, "name %s\n%skey %s\nadded %s\n", d->name,
	    d->kind == SP_DEVICE_WIREGUARD ? "kind wireguard\n" : "", pub64, added);
	if (n < 0 || (size_t)n >= cap)
		return SP_ESPACE;
	o = (size_t)n;
	if (d->renamed != 0) {
		char t[SP_TIME_TEXT];
		sp_time_format(d->renamed, t);
		n = snprintf(out + o, cap - o, "renamed %s\n", t);
		if (n < 0 || (size_t)n >= cap - o)
			return SP_ESPACE;
		o += (size_t)n;
	}
	if (d->has_token) {
		char hex[2 * SP_DEVICE_TOKEN_ID + 1];
		sodium_bin2hex(hex, sizeof(hex), d->token_id, sizeof(d->token_id));
		n = snprintf(out + o, cap - o, "token %s\n", hex);
		if (n < 0 || (size_t)n >= cap - o)
			return SP_ESPACE;
		o += (size_t)n;
	}
	for (size_t i = 0; i < d->nsshfp; i++) {
		char hex[65];
		sodium_bin2hex(hex, sizeof(hex), d->sshfp[i].fp, 32);
		n = snprintf(out + o, cap - o, "sshfp %u %u %s\n", d->sshfp[i].algorithm,
		    d->sshfp[i].fp_type, hex);
		if (n < 0 || (size_t)n >= cap - o)
			return SP_ESPACE;
		o += (size_t)n;
	}
	*len = o;
	return SP_OK;
}

int
sp_device_decode(const char *text, size_t len, const char *what, sp_device *d,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0, seen = 0;
	sp_errmsg why;
	sp_kv kv;
	int rc;

	memset(d, 0, sizeof(*d));
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		if (strcmp(kv.key, "name") == 0) {
			if (sp_device_name_check(kv.value, &why) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: %s", what, kv.line, why.msg);
			snprintf(d->name, sizeof(d->name), "%.63s", kv.value);
			seen |= 1;
		} else if (strcmp(kv.key, "key") == 0) {
			size_t got;
			if (sodium_base642bin(d->pub, sizeof(d->pub), kv.value, strlen(kv.value),
			    NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    got != sizeof(d->pub))
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad key", what, kv.line);
			seen |= 2;
		} else if (strcmp(kv.key, "kind") == 0) {
			if (strcmp(kv.value, "wireguard") == 0)
				d->kind = SP_DEVICE_WIREGUARD;
			else if (strcmp(kv.value, "signpost") != 0)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: kind must be signpost or "
				    "wireguard", what, kv.line);
		} else if (strcmp(kv.key, "token") == 0) {
			size_t got;
			if (sodium_hex2bin(d->token_id, sizeof(d->token_id), kv.value,
			    strlen(kv.value), NULL, &got, NULL) != 0 || got != sizeof(d->token_id))
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad token id", what, kv.line);
			d->has_token = 1;
		} else if (strcmp(kv.key, "renamed") == 0) {
			if (sp_time_parse(kv.value, &d->renamed) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad time", what, kv.line);
		} else if (strcmp(kv.key, "added") == 0) {
			if (sp_time_parse(kv.value, &d->added) != SP_OK)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad time", what, kv.line);
			seen |= 4;
		} else if (strcmp(kv.key, "sshfp") == 0) {
			unsigned alg, type;
			char hex[80];
			size_t got;
			sp_sshfp *f = &d->sshfp[d->nsshfp];
			if (d->nsshfp == SP_DEVICE_MAX_SSHFP ||
			    sscanf(kv.value, "%u %u %79s", &alg, &type, hex) != 3 ||
			    alg > 255 || type != 2 ||
			    sodium_hex2bin(f->fp, 32, hex, strlen(hex), NULL, &got, NULL) != 0 ||
			    got != 32)
				return sp_errf(e, SP_ECORRUPT, "%s:%u: bad sshfp", what, kv.line);
			f->algorithm = (uint8_t)alg;
			f->fp_type = (uint8_t)type;
			d->nsshfp++;
		} else {
			return sp_errf(e, SP_ECORRUPT, "%s:%u: unknown field '%s'", what,
			    kv.line, kv.key);
		}
	}
	if (rc < 0)
		return SP_ECORRUPT;
	if (seen != 7)
		return sp_errf(e, SP_ECORRUPT, "%s: truncated: needs name, key and added", what);
	return SP_OK;
}

struct collect {
	sp_store *s;
	sp_device *devs;
	size_t n, cap;
	sp_errmsg *e;
};

static int
collect_one(void *arg, const char *name)
{
	struct collect *c = arg;
	char what[4200];
	uint8_t *data;
	size_t len;
	int rc;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		sp_device *nd = realloc(c->devs, cap * sizeof(*nd));
		if (nd == NULL)
			return SP_ENOMEM;
		c->devs = nd;
		c->cap = cap;
	}
	if ((rc = sp_store_get(c->s, name, &data, &len, c->e)) != SP_OK)
		return rc;
	snprintf(what, sizeof(what), "%s/%s", sp_store_where(c->s), name);
	rc = sp_device_decode((const char *)data, len, what, &c->devs[c->n], c->e);
	sp_store_release(data, len);
	if (rc == SP_OK && strcmp(c->devs[c->n].name, name + strlen(DEVICES_DIR) + 1) != 0)
		rc = sp_errf(c->e, SP_ECORRUPT, "%s: holds device '%s'", what,
		    c->devs[c->n].name);
	if (rc == SP_OK)
		c->n++;
	return rc;
}

int
sp_devices_load(sp_store *s, sp_device **out, size_t *n, sp_errmsg *e)
{
	struct collect c = { s, NULL, 0, 0, e };
	int rc = sp_store_list(s, DEVICES_DIR, collect_one, &c, e);

	if (rc != SP_OK) {
		free(c.devs);
		return rc;
	}
	*out = c.devs;
	*n = c.n;
	return SP_OK;
}

int
sp_device_save(sp_store *s, const sp_device *d, sp_errmsg *e)
{
	char text[2048], name[128];
	size_t len;
	int rc;

	if ((rc = sp_device_encode(d, text, sizeof(text), &len)) != SP_OK)
		return rc;
	snprintf(name, sizeof(name), DEVICES_DIR "/%s", d->name);
	return sp_store_put(s, name, text, len, e);
}

int
sp_device_delete(sp_store *s, const char *name, sp_errmsg *e)
{
	char path[128];

	snprintf(path, sizeof(path), DEVICES_DIR "/%s", name);
	return sp_store_del(s, path, e);
}

static int
sshfp_algorithm(const char *type)
{
	if (strcmp(type, "ssh-rsa") == 0)
		return 1;
	if (strcmp(type, "ssh-dss") == 0)
		return 2;
	if (strncmp(type, "ecdsa-sha2-", 11) == 0)
		return 3;
	if (strcmp(type, "ssh-ed25519") == 0)
		return 4;
	return -1;
}

int
sp_sshfp_from_openssh(const char *text, size_t len, sp_sshfp *out, size_t max,
    size_t *n, sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	const char *line;
	size_t ll, lineno = 0;

	*n = 0;
	while (sp_wire_line(&r, &line, &ll, NULL)) {
		char buf[8192], type[64], b64[8000];
		uint8_t blob[6000];
		size_t got;
		int alg;

		lineno++;
		if (ll >= sizeof(buf))
			return sp_errf(e, SP_EINVAL, "line %zu: too long", lineno);
		memcpy(buf, line, ll);
		buf[ll] = '\0';
		if (buf[strspn(buf, " \t")] == '\0' || buf[strspn(buf, " \t")] == '#')
			continue;
		if (sscanf(buf, "%63s %7999s", type, b64) != 2 ||
		    (alg = sshfp_algorithm(type)) < 0)
			return sp_errf(e, SP_EINVAL,
			    "line %zu: not an OpenSSH public key (ssh-ed25519, ecdsa-sha2-*, ssh-rsa)",
			    lineno);
		if (sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &got, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || got < 4)
			return sp_errf(e, SP_EINVAL, "line %zu: the key is not valid base64", lineno);
		if (*n == max)
			return sp_errf(e, SP_EINVAL, "more than %zu host keys", max);
		out[*n].algorithm = (uint8_t)alg;
		out[*n].fp_type = 2;
		crypto_hash_sha256(out[*n].fp, blob, got);
		(*n)++;
	}
	if (*n == 0)
		return sp_errf(e, SP_EINVAL, "no public keys found");
	return SP_OK;
}

int
sp_device_x25519(const sp_device *d, uint8_t out[32])
{
	if (d->kind == SP_DEVICE_WIREGUARD) {
		memcpy(out, d->pub, 32);
		return SP_OK;
	}
	return sp_key_x25519_public(d->pub, out);
}

#define REVOKED_DIR "revoked"

static void
revoked_name(const uint8_t pub[SP_KEY_PUBLIC_BYTES], char out[64])
{
	char id[SP_KEY_ID_CHARS + 1];

	sp_key_id(pub, id);
	snprintf(out, 64, REVOKED_DIR "/%s", id);
}

int
sp_revoked_add(sp_store *s, const uint8_t pub[SP_KEY_PUBLIC_BYTES], const char *name,
    int64_t when, sp_errmsg *e)
{
	char path[64], pub64[64], t[SP_TIME_TEXT], text[256];
	int n;

	revoked_name(pub, path);
	sodium_bin2base64(pub64, sizeof(pub64), pub, SP_KEY_PUBLIC_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	sp_time_format(when, t);
	n = snprintf(text, sizeof(text), "key %s\nname %s\nrevoked %s\n", pub64, name, t);
	if (n < 0 || (size_t)n >= sizeof(text))
		return sp_errf(e, SP_EINVAL, "revoking %s: name too long", name);
	return sp_store_put(s, path, text, (size_t)n, e);
}

int
sp_revoked_find(sp_store *s, const uint8_t pub[SP_KEY_PUBLIC_BYTES], char name[64],
    int64_t *when, sp_errmsg *e)
{
	char path[64];
	uint8_t *data;
	size_t len;
	unsigned lineno = 0;
	sp_kv kv;
	sp_wire r;
	int rc;

	revoked_name(pub, path);
	if ((rc = sp_store_get(s, path, &data, &len, NULL)) != SP_OK)
		return rc == SP_ENOENT ? SP_ENOENT : sp_errf(e, rc, "%s/%s: cannot read it",
		    sp_store_where(s), path);
	if (name != NULL)
		name[0] = '\0';
	if (when != NULL)
		*when = 0;
	r = sp_wire_reader(data, len);
	/* What the record says is for messages only: its presence is what
	 * counts, so a damaged one still refuses the key. */
	while (sp_kv_next(&r, path, &lineno, &kv, NULL) == 1) {
		if (strcmp(kv.key, "name") == 0 && name != NULL)
			snprintf(name, 64, "%.63s", kv.value);
		else if (strcmp(kv.key, "revoked") == 0 && when != NULL)
			(void)sp_time_parse(kv.value, when);
	}
	sp_store_release(data, len);
	return SP_OK;
}
