#define _GNU_SOURCE
#include "sp_uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_platform.h"
#include "sp_wire.h"

/*
 * 64 hex digits to a key, in constant time: every digit is decoded with
 * masks and the validity of all of them is known only at the end, so how
 * long it takes says nothing about the key (libsodium's sodium_hex2bin
 * also stops at the first bad digit, which the protocol's private keys
 * should not let a timer see).
 */
static int
parse_key(const char *v, uint8_t key[32])
{
	unsigned bad = 0;
	size_t i;

	for (i = 0; i < 64; i++) {
		unsigned c = (unsigned char)v[i];
		/* Each mask is 0xff when c is in its range, else 0. */
		unsigned num = c ^ 48u;
		unsigned num_ok = ((num - 10u) >> 8) & 0xff;
		unsigned alpha = (c & ~32u) - 55u;
		unsigned alpha_ok = (((alpha - 10u) ^ (alpha - 16u)) >> 8) & 0xff;
		unsigned digit = (num_ok & num) | (alpha_ok & alpha);

		bad |= ~(num_ok | alpha_ok) & 0xff;
		if (i % 2 == 0)
			key[i / 2] = (uint8_t)(digit << 4);
		else
			key[i / 2] |= (uint8_t)(digit & 0x0f);
		/* A NUL before the end is a bad digit too; stop reading there. */
		if (c == 0)
			break;
	}
	if (i != 64 || v[64] != '\0' || bad != 0) {
		sodium_memzero(key, 32);
		return SP_EINVAL;
	}
	return SP_OK;
}

static int
parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return SP_EINVAL;
	errno = 0;
	*out = strtoul(v, &end, 10);
	return (errno != 0 || *end != '\0' || *out > max) ? SP_EINVAL : SP_OK;
}

static int
parse_allowed_ip(const char *v, int *family, uint8_t addr[16], unsigned *cidr)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(v, '/');
	unsigned long c;
	size_t n = slash != NULL ? (size_t)(slash - v) : strlen(v);

	if (n == 0 || n >= sizeof(ip))
		return SP_EINVAL;
	memcpy(ip, v, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, addr) == 1)
		*family = 4;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		*family = 6;
	else
		return SP_EINVAL;
	if (slash == NULL)
		c = *family == 4 ? 32 : 128;
	else if (parse_uint(slash + 1, *family == 4 ? 32 : 128, &c) != SP_OK)
		return SP_EINVAL;
	*cidr = (unsigned)c;
	return SP_OK;
}

static int
is_true(const char *v)
{
	return strcmp(v, "true") == 0;
}

/* One key=value line. buf is NUL-terminated and writable. */
static int
set_line(char *buf, sp_wire *r, int *in_peer, const struct sp_uapi_ops *ops, void *arg)
{
	char *eq = strchr(buf, '='), *key = buf, *val;
	uint8_t k[32];
	unsigned long u;
	int rc;

	if (eq == NULL)
		return SP_EINVAL;
	*eq = '\0';
	val = eq + 1;

	/* Device settings come before the first peer section. */
	if (strcmp(key, "private_key") == 0 || strcmp(key, "listen_port") == 0 ||
	    strcmp(key, "fwmark") == 0 || strcmp(key, "replace_peers") == 0) {
		if (*in_peer)
			return SP_EPROTO;
		if (strcmp(key, "private_key") == 0) {
			if ((rc = parse_key(val, k)) == SP_OK)
				rc = ops->private_key(arg, k);
			sodium_memzero(k, sizeof(k));
			return rc;
		}
		if (strcmp(key, "replace_peers") == 0)
			return is_true(val) ? ops->replace_peers(arg) : SP_EINVAL;
		if (strcmp(key, "listen_port") == 0)
			return parse_uint(val, 65535, &u) == SP_OK ? ops->listen_port(arg, (uint16_t)u)
			    : SP_EINVAL;
		return parse_uint(val, UINT32_MAX, &u) == SP_OK ? ops->fwmark(arg, (uint32_t)u) : SP_EINVAL;
	}
	if (strcmp(key, "public_key") == 0) {
		sp_wire peek = *r;
		const char *nl;
		size_t nn;
		int update_only = 0;

		if ((rc = parse_key(val, k)) != SP_OK)
			return rc;
		/* update_only, when given, follows public_key directly. */
		if (sp_wire_line(&peek, &nl, &nn, NULL) && nn == 16 &&
		    memcmp(nl, "update_only=true", 16) == 0) {
			update_only = 1;
			*r = peek;
		}
		*in_peer = 1;
		return ops->peer(arg, k, update_only);
	}
	/* Everything else belongs to a peer section. */
	if (!*in_peer)
		return SP_EPROTO;
	if (strcmp(key, "remove") == 0)
		return is_true(val) ? ops->remove(arg) : SP_EINVAL;
	if (strcmp(key, "preshared_key") == 0) {
		if ((rc = parse_key(val, k)) == SP_OK)
			rc = ops->preshared_key(arg, k);
		sodium_memzero(k, sizeof(k));
		return rc;
	}
	if (strcmp(key, "endpoint") == 0) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (sp_addr_parse(val, &ss, &sl) != SP_OK)
			return SP_EINVAL;
		return ops->endpoint(arg, (struct sockaddr *)&ss, sl);
	}
	if (strcmp(key, "persistent_keepalive_interval") == 0)
		return parse_uint(val, 65535, &u) == SP_OK ? ops->persistent_keepalive(arg, (uint16_t)u)
		    : SP_EINVAL;
	if (strcmp(key, "replace_allowed_ips") == 0)
		return is_true(val) ? ops->replace_allowed_ips(arg) : SP_EINVAL;
	if (strcmp(key, "allowed_ip") == 0) {
		int family;
		uint8_t addr[16];
		unsigned cidr;
		if ((rc = parse_allowed_ip(val, &family, addr, &cidr)) != SP_OK)
			return rc;
		return ops->allowed_ip(arg, family, addr, cidr);
	}
	if (strcmp(key, "protocol_version") == 0)
		return strcmp(val, "1") == 0 ? SP_OK : SP_EINVAL;
	return SP_EPROTO;
}

int
sp_uapi_set(const char *body, size_t len, const struct sp_uapi_ops *ops, void *arg)
{
	sp_wire r = sp_wire_reader(body, len);
	const char *line;
	char buf[512];
	size_t n;
	int in_peer = 0, rc = SP_OK;

	while (rc == SP_OK && sp_wire_line(&r, &line, &n, NULL) && n > 0) {
		if (n >= sizeof(buf) || memchr(line, '\0', n) != NULL) {
			rc = SP_EINVAL;
			break;
		}
		memcpy(buf, line, n);
		buf[n] = '\0';
		rc = set_line(buf, &r, &in_peer, ops, arg);
	}
	/* A line may have held a private or preshared key. */
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
sp_uapi_errno(int code)
{
	switch (code) {
	case SP_OK: return 0;
	case SP_EINVAL: return EINVAL;
	case SP_EPROTO: return EPROTO;
	case SP_ENOMEM: return ENOMEM;
	case SP_EEXIST: return EEXIST;
	default: return EIO;
	}
}

void
sp_uapi_hex(const uint8_t key[32], char out[65])
{
	sodium_bin2hex(out, 65, key, 32);
}

void
sp_uapi_endpoint(const struct sockaddr *sa, char *out, size_t len)
{
	sp_addr_format(sa, out, len);
}
