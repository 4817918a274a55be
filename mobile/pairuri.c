/*
 * The signpost: pairing URI (docs/pairing.md):
 *
 *   signpost:pair?v=1&z=ZONE&n=NAME&k=KEY&d=TAG-DIGEST&e=HOST:PORT&t=TOKEN
 *
 * k and t are base64url without padding, d is a DS (algorithm 15, SHA-256)
 * as its key tag and hex digest, e and d may repeat. Values are
 * percent-encoded where they must be ('[' and ']' of an IPv6 address).
 * Unknown parameters are ignored, so version 1 can grow.
 */
#include "sp_pair.h"
#include "sp_kv.h"
#include "sp_time.h"
#include "sp_wg_crypto.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string already checked to fit (a device name, a printable 'by'):
 * copied, cut at cap - 1 all the same. */
static void
copy_str(char *out, size_t cap, const char *in)
{
	size_t n = strnlen(in, cap - 1);

	memcpy(out, in, n);
	out[n] = '\0';
}

#define SCHEME "signpost:pair?"

static void
append(char *out, size_t cap, size_t *o, const char *s, int *overflow)
{
	size_t n = strlen(s);

	if (*o + n + 1 > cap) {
		*overflow = 1;
		return;
	}
	memcpy(out + *o, s, n + 1);
	*o += n;
}

/* Percent-encode what a query value may not hold as is. */
static void
append_value(char *out, size_t cap, size_t *o, const char *v, int *overflow)
{
	for (; *v; v++) {
		char c[4];
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		    strchr("-._~:", *v) != NULL) {
			c[0] = *v;
			c[1] = '\0';
		} else {
			snprintf(c, sizeof(c), "%%%02X", (unsigned char)*v);
		}
		append(out, cap, o, c, overflow);
	}
}

int
sp_pair_uri_format(const sp_pair_uri *u, char *out, size_t cap)
{
	char b64[64], zone[256], buf[128];
	size_t o = 0, zl = strlen(u->zone);
	int overflow = 0;

	if (zl == 0 || zl >= sizeof(zone) || cap == 0)
		return SP_EINVAL;
	memcpy(zone, u->zone, zl + 1);
	if (zone[zl - 1] == '.')
		zone[zl - 1] = '\0';
	out[0] = '\0';
	snprintf(buf, sizeof(buf), SCHEME "v=%d&z=", SP_PAIR_VERSION);
	append(out, cap, &o, buf, &overflow);
	append_value(out, cap, &o, zone, &overflow);
	append(out, cap, &o, "&n=", &overflow);
	append_value(out, cap, &o, u->name, &overflow);
	sodium_bin2base64(b64, sizeof(b64), u->gateway_key, sizeof(u->gateway_key),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	append(out, cap, &o, "&k=", &overflow);
	append(out, cap, &o, b64, &overflow);
	for (size_t i = 0; i < u->nds; i++) {
		char hex[2 * SP_DS_SHA256_BYTES + 1];
		sodium_bin2hex(hex, sizeof(hex), u->ds[i].digest, sizeof(u->ds[i].digest));
		snprintf(buf, sizeof(buf), "&d=%u-%s", u->ds[i].tag, hex);
		append(out, cap, &o, buf, &overflow);
	}
	for (size_t i = 0; i < u->nendpoints; i++) {
		append(out, cap, &o, "&e=", &overflow);
		append_value(out, cap, &o, u->endpoint[i], &overflow);
	}
	sodium_bin2base64(b64, sizeof(b64), u->token, sizeof(u->token),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	append(out, cap, &o, "&t=", &overflow);
	append(out, cap, &o, b64, &overflow);
	sodium_memzero(b64, sizeof(b64));
	if (overflow) {
		sodium_memzero(out, cap);
		return SP_ESPACE;
	}
	return SP_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [v, v+n) into out (cap bytes, NUL-terminated). */
static int
decode_value(const char *v, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hexval(v[i + 1])) < 0 || (lo = hexval(v[i + 2])) < 0)
				return SP_EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e || o + 1 >= cap)
			return SP_EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return SP_OK;
}

/* HOST:PORT where HOST is IPv4, [IPv6] or a host name. */
static int
endpoint_ok(const char *ep)
{
	const char *colon = strrchr(ep, ':');
	char host[SP_PAIR_ENDPOINT_MAX], *end;
	unsigned long port;
	size_t hl;
	uint8_t a[16];

	if (colon == NULL || colon == ep)
		return 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port == 0 || port > 65535)
		return 0;
	hl = (size_t)(colon - ep);
	if (hl >= sizeof(host))
		return 0;
	memcpy(host, ep, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			return 0;
		host[hl - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, a) == 1;
	}
	if (inet_pton(AF_INET, host, a) == 1)
		return 1;
	/* A host name: letters, digits, hyphens and dots, as DNS has them. */
	return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
	    hl && host[0] != '.' && host[0] != '-';
}

static int
b64_exact(const char *v, uint8_t *out, size_t want)
{
	size_t got;

	return sodium_base642bin(out, want, v, strlen(v), NULL, &got, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 && got == want;
}

int
sp_pair_uri_parse(const char *text, size_t len, sp_pair_uri *u, sp_errmsg *e)
{
	const char *p, *end = text + len;
	char value[300];
	int seen_v = 0, seen_z = 0, seen_n = 0, seen_k = 0, seen_t = 0;
	int rc = SP_OK;

	memset(u, 0, sizeof(*u));
	/* Trailing white space (a line read from a file) is not part of it. */
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		end = text + --len;
	if (len < sizeof(SCHEME) - 1 || strncasecmp(text, "signpost:", 9) != 0)
		return sp_errf(e, SP_EINVAL, "not a Signpost pairing code (it should start with "
		    "'signpost:pair?')");
	if (strncmp(text + 9, "pair?", 5) != 0)
		return sp_errf(e, SP_EINVAL, "a signpost: link, but not a pairing code");
	if (len > SP_PAIR_URI_MAX)
		return sp_errf(e, SP_EINVAL, "the pairing code is longer than %d characters",
		    SP_PAIR_URI_MAX);
	for (p = text + sizeof(SCHEME) - 1; p < end && rc == SP_OK;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		size_t plen = (size_t)((amp != NULL ? amp : end) - p), klen;

		if ((eq = memchr(p, '=', plen)) == NULL || eq == p) {
			rc = sp_errf(e, SP_EINVAL, "the pairing code is malformed (a parameter "
			    "without a value)");
			break;
		}
		klen = (size_t)(eq - p);
		if (decode_value(eq + 1, plen - klen - 1, value, sizeof(value)) != SP_OK) {
			rc = sp_errf(e, SP_EINVAL, "the pairing code is malformed (a value with "
			    "bad characters)");
			break;
		}
#define KEY(s) (klen == 1 && p[0] == (s))
		if (KEY('v')) {
			char *vend;
			unsigned long v = strtoul(value, &vend, 10);
			if (seen_v++ || *vend != '\0' || v == 0)
				rc = sp_errf(e, SP_EINVAL, "the pairing code's version is malformed");
			else if (v > SP_PAIR_VERSION)
				rc = sp_errf(e, SP_EUNSUPP, "the pairing code is version %lu, made by a "
				    "newer Signpost than this one (version %d): update it", v,
				    SP_PAIR_VERSION);
		} else if (KEY('z')) {
			sp_errmsg why;
			if (seen_z++ || sp_zone_name_canon(value, u->zone, sizeof(u->zone), &why) != SP_OK)
				rc = sp_errf(e, SP_EINVAL, "the pairing code's zone is malformed");
		} else if (KEY('n')) {
			sp_errmsg why;
			if (seen_n++ || sp_device_name_check(value, &why) != SP_OK)
				rc = sp_errf(e, SP_EINVAL, "the pairing code's device name is malformed");
			else
				copy_str(u->name, sizeof(u->name), value);
		} else if (KEY('k')) {
			uint8_t x[32];
			if (seen_k++ || !b64_exact(value, u->gateway_key, sizeof(u->gateway_key)) ||
			    sp_key_x25519_public(u->gateway_key, x) != SP_OK)
				rc = sp_errf(e, SP_EINVAL, "the pairing code's gateway key is malformed");
		} else if (KEY('d')) {
			char *dash = strchr(value, '-'), *tend;
			unsigned long tag = strtoul(value, &tend, 10);
			size_t got;
			struct sp_pair_ds *d = &u->ds[u->nds];
			if (u->nds == SP_PAIR_MAX_DS || dash == NULL || tend != dash || tag > 65535 ||
			    strlen(dash + 1) != 2 * SP_DS_SHA256_BYTES ||
			    sodium_hex2bin(d->digest, sizeof(d->digest), dash + 1, strlen(dash + 1), NULL,
			    &got, NULL) != 0 || got != SP_DS_SHA256_BYTES)
				rc = sp_errf(e, SP_EINVAL, "the pairing code's DS is malformed");
			else {
				d->tag = (uint16_t)tag;
				u->nds++;
			}
		} else if (KEY('e')) {
			if (u->nendpoints == SP_PAIR_MAX_ENDPOINTS || !endpoint_ok(value) ||
			    strlen(value) >= SP_PAIR_ENDPOINT_MAX)
				rc = sp_errf(e, SP_EINVAL, "the pairing code's gateway address '%s' is "
				    "malformed (HOST:PORT, [IPv6]:PORT)", value);
			else
				memcpy(u->endpoint[u->nendpoints++], value, strlen(value) + 1);
		} else if (KEY('t')) {
			if (seen_t++ || !b64_exact(value, u->token, sizeof(u->token)))
				rc = sp_errf(e, SP_EINVAL, "the pairing code's token is malformed "
				    "(mistyped or cut short?)");
		}
#undef KEY
		p = amp != NULL ? amp + 1 : end;
	}
	sodium_memzero(value, sizeof(value));
	if (rc == SP_OK) {
		const char *missing = !seen_v ? "version (v=)" : !seen_z ? "zone (z=)" :
		    !seen_n ? "device name (n=)" : !seen_k ? "gateway key (k=)" :
		    u->nds == 0 ? "DS (d=)" : u->nendpoints == 0 ? "gateway address (e=)" :
		    !seen_t ? "token (t=)" : NULL;
		if (missing != NULL)
			rc = sp_errf(e, SP_EINVAL, "the pairing code has no %s", missing);
	}
	if (rc != SP_OK)
		sodium_memzero(u, sizeof(*u));
	return rc;
}

void
sp_pair_token_id(const uint8_t token[SP_PAIR_TOKEN], uint8_t id[SP_PAIR_TOKEN_ID])
{
	static const char label[] = "signpost-pair-token-id-v1";
	uint8_t h[32];

	sp_wg_hash(h, label, sizeof(label) - 1, token, SP_PAIR_TOKEN);
	memcpy(id, h, SP_PAIR_TOKEN_ID);
}

int
sp_pair_token_encode(const sp_pair_token *t, char *out, size_t cap, size_t *len)
{
	char tok[64], created[SP_TIME_TEXT], expires[SP_TIME_TEXT], used[80] = "";
	int n;

	sodium_bin2base64(tok, sizeof(tok), t->token, sizeof(t->token),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sp_time_format(t->created, created);
	sp_time_format(t->expires, expires);
	if (t->used) {
		char b64[64];
		sodium_bin2base64(b64, sizeof(b64), t->used_by, sizeof(t->used_by),
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(used, sizeof(used), "used-by %s\n", b64);
	}
	n = snprintf(out, cap, "token %s\nname %s\n%s%s%screated %s\nexpires %s\n%s", tok, t->name,
	    t->by[0] ? "by " : "", t->by, t->by[0] ? "\n" : "", created, expires, used);
	sodium_memzero(tok, sizeof(tok));
	if (n < 0 || (size_t)n >= cap) {
		sodium_memzero(out, cap);
		return SP_ESPACE;
	}
	*len = (size_t)n;
	return SP_OK;
}

int
sp_pair_token_decode(const char *text, size_t len, const char *what, sp_pair_token *t,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0, seen = 0;
	sp_errmsg why;
	sp_kv kv;
	int rc;

	memset(t, 0, sizeof(*t));
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		if (strcmp(kv.key, "token") == 0) {
			if (!b64_exact(kv.value, t->token, sizeof(t->token))) {
				rc = sp_errf(e, SP_ECORRUPT, "%s:%u: bad token", what, kv.line);
				break;
			}
			sp_pair_token_id(t->token, t->id);
			seen |= 1;
		} else if (strcmp(kv.key, "name") == 0) {
			if (sp_device_name_check(kv.value, &why) != SP_OK) {
				rc = sp_errf(e, SP_ECORRUPT, "%s:%u: %s", what, kv.line, why.msg);
				break;
			}
			copy_str(t->name, sizeof(t->name), kv.value);
			seen |= 2;
		} else if (strcmp(kv.key, "by") == 0) {
			/* A member's name, or who else asked ("the console"). */
			size_t bl = strlen(kv.value);
			int printable = bl > 0 && bl < sizeof(t->by);
			for (size_t i = 0; printable && i < bl; i++)
				printable = kv.value[i] >= 0x20 && kv.value[i] < 0x7f &&
				    kv.value[i] != '"';
			if (!printable) {
				rc = sp_errf(e, SP_ECORRUPT, "%s:%u: 'by' must be 1-%zu printable "
				    "characters", what, kv.line, sizeof(t->by) - 1);
				break;
			}
			copy_str(t->by, sizeof(t->by), kv.value);
		} else if (strcmp(kv.key, "created") == 0 || strcmp(kv.key, "expires") == 0) {
			int64_t *at = kv.key[0] == 'c' ? &t->created : &t->expires;
			if (sp_time_parse(kv.value, at) != SP_OK) {
				rc = sp_errf(e, SP_ECORRUPT, "%s:%u: bad time", what, kv.line);
				break;
			}
			seen |= kv.key[0] == 'c' ? 4 : 8;
		} else if (strcmp(kv.key, "used-by") == 0) {
			size_t got;
			if (sodium_base642bin(t->used_by, sizeof(t->used_by), kv.value, strlen(kv.value),
			    NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    got != sizeof(t->used_by)) {
				rc = sp_errf(e, SP_ECORRUPT, "%s:%u: bad key", what, kv.line);
				break;
			}
			t->used = 1;
		} else {
			rc = sp_errf(e, SP_ECORRUPT, "%s:%u: unknown field '%s'", what, kv.line, kv.key);
			break;
		}
	}
	sodium_memzero(&kv, sizeof(kv));
	if (rc == SP_OK && seen != 15)
		rc = sp_errf(e, SP_ECORRUPT, "%s: truncated: needs token, name, created and "
		    "expires", what);
	if (rc != SP_OK) {
		sodium_memzero(t, sizeof(*t));
		return rc < 0 ? rc : SP_ECORRUPT;
	}
	return SP_OK;
}
