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

static int
parse_key(const char *v, uint8_t key[32])
{
	size_t got;

	if (strlen(v) != 64 || strspn(v, "0123456789abcdefABCDEF") != 64 ||
	    sodium_hex2bin(key, 32, v, 64, NULL, &got, NULL) != 0 || got != 32)
		return EINVAL;
	return 0;
}

static int
parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return EINVAL;
	errno = 0;
	*out = strtoul(v, &end, 10);
	return (errno != 0 || *end != '\0' || *out > max) ? EINVAL : 0;
}

static int
parse_allowed_ip(const char *v, int *family, uint8_t addr[16], unsigned *cidr)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(v, '/');
	unsigned long c;
	size_t n = slash != NULL ? (size_t)(slash - v) : strlen(v);

	if (n == 0 || n >= sizeof(ip))
		return EINVAL;
	memcpy(ip, v, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, addr) == 1)
		*family = 4;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		*family = 6;
	else
		return EINVAL;
	if (slash == NULL)
		c = *family == 4 ? 32 : 128;
	else if (parse_uint(slash + 1, *family == 4 ? 32 : 128, &c) != 0)
		return EINVAL;
	*cidr = (unsigned)c;
	return 0;
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
		return EINVAL;
	*eq = '\0';
	val = eq + 1;

	/* Device settings come before the first peer section. */
	if (strcmp(key, "private_key") == 0 || strcmp(key, "listen_port") == 0 ||
	    strcmp(key, "fwmark") == 0 || strcmp(key, "replace_peers") == 0) {
		if (*in_peer)
			return EPROTO;
		if (strcmp(key, "private_key") == 0) {
			if ((rc = parse_key(val, k)) == 0)
				rc = ops->private_key(arg, k);
			sodium_memzero(k, sizeof(k));
			return rc;
		}
		if (strcmp(key, "replace_peers") == 0)
			return is_true(val) ? ops->replace_peers(arg) : EINVAL;
		if (strcmp(key, "listen_port") == 0)
			return parse_uint(val, 65535, &u) == 0 ? ops->listen_port(arg, (uint16_t)u)
			    : EINVAL;
		return parse_uint(val, UINT32_MAX, &u) == 0 ? ops->fwmark(arg, (uint32_t)u) : EINVAL;
	}
	if (strcmp(key, "public_key") == 0) {
		sp_wire peek = *r;
		const char *nl;
		size_t nn;
		int update_only = 0;

		if ((rc = parse_key(val, k)) != 0)
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
		return EPROTO;
	if (strcmp(key, "remove") == 0)
		return is_true(val) ? ops->remove(arg) : EINVAL;
	if (strcmp(key, "preshared_key") == 0) {
		if ((rc = parse_key(val, k)) == 0)
			rc = ops->preshared_key(arg, k);
		sodium_memzero(k, sizeof(k));
		return rc;
	}
	if (strcmp(key, "endpoint") == 0) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (sp_addr_parse(val, &ss, &sl) != 0)
			return EINVAL;
		return ops->endpoint(arg, (struct sockaddr *)&ss, sl);
	}
	if (strcmp(key, "persistent_keepalive_interval") == 0)
		return parse_uint(val, 65535, &u) == 0 ? ops->persistent_keepalive(arg, (uint16_t)u)
		    : EINVAL;
	if (strcmp(key, "replace_allowed_ips") == 0)
		return is_true(val) ? ops->replace_allowed_ips(arg) : EINVAL;
	if (strcmp(key, "allowed_ip") == 0) {
		int family;
		uint8_t addr[16];
		unsigned cidr;
		if ((rc = parse_allowed_ip(val, &family, addr, &cidr)) != 0)
			return rc;
		return ops->allowed_ip(arg, family, addr, cidr);
	}
	if (strcmp(key, "protocol_version") == 0)
		return strcmp(val, "1") == 0 ? 0 : EINVAL;
	return EPROTO;
}

int
sp_uapi_set(const char *body, size_t len, const struct sp_uapi_ops *ops, void *arg)
{
	sp_wire r = sp_wire_reader(body, len);
	const char *line;
	char buf[512];
	size_t n;
	int in_peer = 0, rc = 0;

	while (rc == 0 && sp_wire_line(&r, &line, &n, NULL) && n > 0) {
		if (n >= sizeof(buf) || memchr(line, '\0', n) != NULL) {
			rc = EINVAL;
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
