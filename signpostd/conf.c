#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp_kv.h"
#include "sp_log.h"

#include <arpa/inet.h>
#include <sodium.h>

#include "sp_platform.h"

enum {
	OPT_STATE, OPT_LOG, OPT_LOG_LEVEL, OPT_PASSPHRASE_FILE, OPT_DNS_LISTEN,
	OPT_ZONE_NS, OPT_ZONE_ADDRESS, OPT_ZONE_TTL, OPT_RRL_RATE, OPT_TSIG_KEY,
	OPT_SECONDARY, OPT_ZONE_KEY_TTL, OPT_ZSK_LIFETIME, OPT_PROPAGATION_DELAY, OPT_INTERFACE,
	OPT_INTERFACE_IPV4, OPT_DNS_TCP_TIMEOUT, OPT_LISTEN_PORT, OPT_PUBLIC_ENDPOINT,
	OPT_IDLE_TIMEOUT, OPT_DNS_UPSTREAM, OPT_RELAY_TLS_LISTEN, OPT_ICE, OPT_RELAY,
	OPT_TURN_SERVER, OPT_TURN_SECRET, OPT_COUNT
};

struct option_def {
	const char *name;
	int (*set)(sp_conf *c, const char *value, const char **why);
	int repeatable;
};

static int
set_path(char *dst, size_t dstlen, const char *value, const char **why)
{
	if (value[0] != '/') {
		*why = "must be an absolute path";
		return SP_ECONFIG;
	}
	if (strlen(value) >= dstlen) {
		*why = "path is too long";
		return SP_ECONFIG;
	}
	memcpy(dst, value, strlen(value) + 1);
	return SP_OK;
}

static int
set_state(sp_conf *c, const char *value, const char **why)
{
	return set_path(c->state_dir, sizeof(c->state_dir), value, why);
}

static int
set_passphrase_file(sp_conf *c, const char *value, const char **why)
{
	return set_path(c->passphrase_file, sizeof(c->passphrase_file), value, why);
}

static int
set_log(sp_conf *c, const char *value, const char **why)
{
	if (strcmp(value, "stderr") == 0)
		c->log_syslog = 0;
	else if (strcmp(value, "syslog") == 0)
		c->log_syslog = 1;
	else {
		*why = "must be 'stderr' or 'syslog'";
		return SP_ECONFIG;
	}
	return SP_OK;
}

static int
set_log_level(sp_conf *c, const char *value, const char **why)
{
	int level = sp_log_level_parse(value);

	if (level < 0) {
		*why = "must be one of error, warn, info, debug";
		return SP_ECONFIG;
	}
	c->log_level = level;
	return SP_OK;
}

int
sp_conf_add_listen(sp_conf *c, const char *value, const char **why)
{
	if (c->ndns_listen == SP_CONF_MAX_LISTEN) {
		*why = "too many listen addresses";
		return SP_ECONFIG;
	}
	if (sp_addr_parse(value, &c->dns_listen[c->ndns_listen],
	    &c->dns_listen_len[c->ndns_listen]) != SP_OK) {
		*why = "must be ADDRESS:PORT, with [brackets] around an IPv6 address";
		return SP_ECONFIG;
	}
	c->ndns_listen++;
	return SP_OK;
}

static int
set_zone_ns(sp_conf *c, const char *value, const char **why)
{
	uint8_t wire[SP_DNAME_MAX];
	size_t len;

	if (c->zone.nns == SP_ZONE_MAX_NS) {
		*why = "too many name servers";
		return SP_ECONFIG;
	}
	if (sp_dname_from_text(value, wire, &len) != SP_OK || len < 2) {
		*why = "must be a domain name";
		return SP_ECONFIG;
	}
	snprintf(c->zone.ns[c->zone.nns++], sizeof(c->zone.ns[0]), "%s", value);
	return SP_OK;
}

static int
set_zone_address(sp_conf *c, const char *value, const char **why)
{
	if (strchr(value, ':') != NULL) {
		if (c->zone.naaaa == SP_ZONE_MAX_ADDR ||
		    inet_pton(AF_INET6, value, &c->zone.aaaa[c->zone.naaaa]) != 1) {
			*why = "must be an IPv4 or IPv6 address (at most 8 of each)";
			return SP_ECONFIG;
		}
		c->zone.naaaa++;
	} else {
		if (c->zone.na == SP_ZONE_MAX_ADDR ||
		    inet_pton(AF_INET, value, &c->zone.a[c->zone.na]) != 1) {
			*why = "must be an IPv4 or IPv6 address (at most 8 of each)";
			return SP_ECONFIG;
		}
		c->zone.na++;
	}
	return SP_OK;
}

static int
set_number(const char *value, long min, long max, long *out, const char **why)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v < min || v > max) {
		*why = "must be a whole number in range";
		return SP_ECONFIG;
	}
	*out = v;
	return SP_OK;
}

static int
set_zone_ttl(sp_conf *c, const char *value, const char **why)
{
	long v;

	if (set_number(value, 1, 86400, &v, why) != SP_OK)
		return SP_ECONFIG;
	c->zone.ttl = (uint32_t)v;
	return SP_OK;
}

static int
set_zone_key_ttl(sp_conf *c, const char *value, const char **why)
{
	long v;

	if (set_number(value, 1, 86400, &v, why) != SP_OK)
		return SP_ECONFIG;
	c->zone.key_ttl = (uint32_t)v;
	return SP_OK;
}

static int
set_zsk_lifetime(sp_conf *c, const char *value, const char **why)
{
	return set_number(value, 0, 10L * 365 * 86400, &c->zsk_lifetime, why);
}

static int
set_propagation_delay(sp_conf *c, const char *value, const char **why)
{
	return set_number(value, 0, 86400, &c->propagation_delay, why);
}

int
sp_conf_set_interface(sp_conf *c, const char *value, const char **why)
{
	size_t n = strlen(value);

	if (n == 0 || n > 15 || strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") != n) {
		*why = "must be 1-15 letters, digits, '_' or '-'";
		return SP_ECONFIG;
	}
	memcpy(c->interface, value, n + 1);
	return SP_OK;
}

static int
set_dns_tcp_timeout(sp_conf *c, const char *value, const char **why)
{
	return set_number(value, 1, 3600, &c->dns_tcp_timeout, why);
}

int
sp_conf_set_listen_port(sp_conf *c, const char *value, const char **why)
{
	return set_number(value, 0, 65535, &c->listen_port, why);
}

/* HOST:PORT, HOST an IPv4 address, [an IPv6 address] or a host name. */
int
sp_conf_add_public_endpoint(sp_conf *c, const char *value, const char **why)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port;
	size_t n = strlen(value);

	if (c->npublic_endpoint == SP_CONF_MAX_ENDPOINTS) {
		*why = "at most 4 public endpoints";
		return SP_ECONFIG;
	}
	if (colon == NULL || colon == value || n >= sizeof(c->public_endpoint[0]) ||
	    (port = strtol(colon + 1, &end, 10)) < 1 || port > 65535 || *end != '\0' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != n ||
	    (value[0] == '[') != (colon > value && colon[-1] == ']')) {
		*why = "must be HOST:PORT, with [brackets] around an IPv6 address";
		return SP_ECONFIG;
	}
	memcpy(c->public_endpoint[c->npublic_endpoint++], value, n + 1);
	return SP_OK;
}

static int
set_rrl_rate(sp_conf *c, const char *value, const char **why)
{
	return set_number(value, 0, 1000000, &c->rrl_rate, why);
}

static int
set_dns_listen(sp_conf *c, const char *value, const char **why)
{
	return sp_conf_add_listen(c, value, why);
}

static void
canon_key_name(const char *in, char *out, size_t len)
{
	size_t n = strlen(in), o = 0;

	for (size_t i = 0; i < n && o + 2 < len; i++)
		out[o++] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
	if (o == 0 || out[o - 1] != '.')
		out[o++] = '.';
	out[o] = '\0';
}

const struct sp_conf_tsig *
sp_conf_tsig_find(const sp_conf *c, const char *name)
{
	char want[256];

	canon_key_name(name, want, sizeof(want));
	for (size_t i = 0; i < c->ntsig; i++)
		if (strcmp(c->tsig[i].name, want) == 0)
			return &c->tsig[i];
	return NULL;
}

static int
set_tsig_key(sp_conf *c, const char *value, const char **why)
{
	char name[256], secret[256];
	uint8_t raw[128];
	size_t got;

	if (c->ntsig == SP_CONF_MAX_LISTEN ||
	    sscanf(value, "%255s %255s", name, secret) != 2 ||
	    sodium_base642bin(raw, sizeof(raw), secret, strlen(secret), NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got < 16 || strlen(secret) >= 128) {
		*why = "must be NAME SECRET, the secret in base64 (at least 16 bytes; "
		    "e.g. from 'tsig-keygen' or 'head -c 32 /dev/urandom | base64')";
		sodium_memzero(secret, sizeof(secret));
		return SP_ECONFIG;
	}
	if (sp_conf_tsig_find(c, name) != NULL) {
		*why = "a key of that name is already defined";
		return SP_ECONFIG;
	}
	canon_key_name(name, c->tsig[c->ntsig].name, sizeof(c->tsig[0].name));
	memcpy(c->tsig[c->ntsig].secret, secret, strlen(secret) + 1);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(raw, sizeof(raw));
	c->ntsig++;
	return SP_OK;
}

static int
set_secondary(sp_conf *c, const char *value, const char **why)
{
	char addr[128], key[256];
	const struct sp_conf_tsig *k;
	struct sp_conf_secondary *s = &c->secondary[c->nsecondary];

	if (c->nsecondary == SP_CONF_MAX_LISTEN ||
	    sscanf(value, "%127s %255s", addr, key) != 2 ||
	    sp_addr_parse(addr, &s->addr, &s->addr_len) != SP_OK) {
		*why = "must be ADDRESS:PORT KEYNAME";
		return SP_ECONFIG;
	}
	if ((k = sp_conf_tsig_find(c, key)) == NULL) {
		*why = "names a TSIG key that is not defined (define it with tsig-key first)";
		return SP_ECONFIG;
	}
	s->key = (size_t)(k - c->tsig);
	c->nsecondary++;
	return SP_OK;
}

/* An IPv4 address for the tunnel, ADDR/PREFIX (the overlay is IPv6; this
 * is for peers that only speak IPv4, like a router's kernel WireGuard). */
static int
set_interface_ipv4(sp_conf *c, const char *value, const char **why)
{
	if (strchr(value, '/') == NULL) {
		*why = "must be ADDRESS/PREFIX, e.g. 10.99.0.1/24";
		return SP_ECONFIG;
	}
	if (sp_cidr_parse(value, AF_INET, c->interface_ipv4, &c->interface_ipv4_prefix) != SP_OK) {
		*why = "must be ADDRESS/PREFIX with an IPv4 address and a prefix of 1-32";
		return SP_ECONFIG;
	}
	return SP_OK;
}

static int
set_idle_timeout(sp_conf *c, const char *value, const char **why)
{
	return set_number(value, 10, 86400, &c->idle_timeout, why);
}

/* Where a member sends names outside its zone: ADDR:PORT, or "none" to
 * refuse them. */
static int
set_dns_upstream(sp_conf *c, const char *value, const char **why)
{
	if (strcmp(value, "none") == 0) {
		c->dns_upstream_none = 1;
		c->dns_upstream_len = 0;
		return SP_OK;
	}
	if (sp_addr_parse(value, &c->dns_upstream, &c->dns_upstream_len) != SP_OK) {
		*why = "must be ADDRESS:PORT ([v6]:port for IPv6) or none";
		return SP_ECONFIG;
	}
	c->dns_upstream_none = 0;
	return SP_OK;
}

int
sp_conf_set_relay_tls_listen(sp_conf *c, const char *value, const char **why)
{
	if (sp_addr_parse(value, &c->relay_tls_listen, &c->relay_tls_listen_len) != SP_OK) {
		*why = "must be ADDRESS:PORT ([v6]:port for IPv6), e.g. 192.0.2.1:443";
		return SP_ECONFIG;
	}
	return SP_OK;
}

int
sp_conf_set_dns_upstream(sp_conf *c, const char *value, const char **why)
{
	return set_dns_upstream(c, value, why);
}

static int
set_on_off(const char *value, int *out, const char **why)
{
	if (strcmp(value, "on") == 0)
		*out = 1;
	else if (strcmp(value, "off") == 0)
		*out = 0;
	else {
		*why = "must be on or off";
		return SP_ECONFIG;
	}
	return SP_OK;
}

int
sp_conf_set_ice(sp_conf *c, const char *value, const char **why)
{
	return set_on_off(value, &c->ice, why);
}

int
sp_conf_set_relay(sp_conf *c, const char *value, const char **why)
{
	return set_on_off(value, &c->relay, why);
}

static int
set_turn_server(sp_conf *c, const char *value, const char **why)
{
	if (sp_addr_parse(value, &c->turn_server, &c->turn_server_len) != SP_OK) {
		*why = "must be ADDRESS:PORT of a TURN server, e.g. 192.0.2.7:3478";
		return SP_ECONFIG;
	}
	return SP_OK;
}

/* coturn's static-auth-secret: printable, no spaces, 16 to 127 bytes. */
static int
set_turn_secret(sp_conf *c, const char *value, const char **why)
{
	size_t n = strlen(value);

	for (size_t i = 0; i < n; i++)
		if (value[i] <= 0x20 || value[i] > 0x7e)
			n = 0;
	if (n < 16 || n >= sizeof(c->turn_secret)) {
		*why = "must be 16 to 127 printable characters without spaces (coturn's "
		    "static-auth-secret)";
		return SP_ECONFIG;
	}
	memcpy(c->turn_secret, value, n + 1);
	return SP_OK;
}

static const struct option_def options[OPT_COUNT] = {
	[OPT_STATE] = { "state", set_state, 0 },
	[OPT_LOG] = { "log", set_log, 0 },
	[OPT_LOG_LEVEL] = { "log-level", set_log_level, 0 },
	[OPT_PASSPHRASE_FILE] = { "passphrase-file", set_passphrase_file, 0 },
	[OPT_DNS_LISTEN] = { "dns-listen", set_dns_listen, 1 },
	[OPT_ZONE_NS] = { "zone-ns", set_zone_ns, 1 },
	[OPT_ZONE_ADDRESS] = { "zone-address", set_zone_address, 1 },
	[OPT_ZONE_TTL] = { "zone-ttl", set_zone_ttl, 0 },
	[OPT_RRL_RATE] = { "rrl-rate", set_rrl_rate, 0 },
	[OPT_TSIG_KEY] = { "tsig-key", set_tsig_key, 1 },
	[OPT_SECONDARY] = { "secondary", set_secondary, 1 },
	[OPT_ZONE_KEY_TTL] = { "zone-key-ttl", set_zone_key_ttl, 0 },
	[OPT_ZSK_LIFETIME] = { "zsk-lifetime", set_zsk_lifetime, 0 },
	[OPT_PROPAGATION_DELAY] = { "propagation-delay", set_propagation_delay, 0 },
	[OPT_INTERFACE] = { "interface", sp_conf_set_interface, 0 },
	[OPT_INTERFACE_IPV4] = { "interface-ipv4", set_interface_ipv4, 0 },
	[OPT_DNS_TCP_TIMEOUT] = { "dns-tcp-timeout", set_dns_tcp_timeout, 0 },
	[OPT_LISTEN_PORT] = { "listen-port", sp_conf_set_listen_port, 0 },
	[OPT_PUBLIC_ENDPOINT] = { "public-endpoint", sp_conf_add_public_endpoint, 1 },
	[OPT_IDLE_TIMEOUT] = { "idle-timeout", set_idle_timeout, 0 },
	[OPT_DNS_UPSTREAM] = { "dns-upstream", set_dns_upstream, 0 },
	[OPT_RELAY_TLS_LISTEN] = { "relay-tls-listen", sp_conf_set_relay_tls_listen, 0 },
	[OPT_ICE] = { "ice", sp_conf_set_ice, 0 },
	[OPT_RELAY] = { "relay", sp_conf_set_relay, 0 },
	[OPT_TURN_SERVER] = { "turn-server", set_turn_server, 0 },
	[OPT_TURN_SECRET] = { "turn-secret", set_turn_secret, 0 },
};

void
sp_conf_init(sp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->log_syslog = -1;
	c->log_level = -1;
	c->rrl_rate = -1;
	c->zsk_lifetime = -1;
	c->propagation_delay = -1;
	c->dns_tcp_timeout = -1;
	c->idle_timeout = -1;
	c->listen_port = -1;
	c->ice = -1;
	c->relay = -1;
	sp_zone_config_default(&c->zone);
}

void
sp_conf_wipe(sp_conf *c)
{
	sodium_memzero(c, sizeof(*c));
	sp_conf_init(c);
}

int
sp_conf_parse(sp_conf *c, const char *what, const char *text, size_t len,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0;
	sp_kv kv;
	int rc;

	if (memchr(text, '\0', len) != NULL)
		return sp_errf(e, SP_ECONFIG, "%s: contains a NUL byte; not a text file", what);
	/* kv holds each line, a TSIG secret's too: wiped on every way out. */
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		const char *why = NULL;
		size_t i;

		for (i = 0; i < OPT_COUNT; i++)
			if (strcmp(kv.key, options[i].name) == 0)
				break;
		if (i == OPT_COUNT) {
			rc = sp_errf(e, SP_ECONFIG,
			    "%s:%u: unknown option '%s' (known: state, log, log-level, "
			    "passphrase-file, dns-listen, zone-ns, zone-address, zone-ttl, "
			    "rrl-rate, tsig-key, secondary, zone-key-ttl, zsk-lifetime, "
			    "propagation-delay, interface, interface-ipv4, dns-tcp-timeout, "
			    "listen-port, public-endpoint)", what,
			    kv.line, kv.key);
			goto out;
		}
		if (c->line_of[i] != 0 && !options[i].repeatable) {
			rc = sp_errf(e, SP_ECONFIG, "%s:%u: '%s' is already set on line %u",
			    what, kv.line, kv.key, c->line_of[i]);
			goto out;
		}
		if (kv.value[0] == '\0') {
			rc = sp_errf(e, SP_ECONFIG, "%s:%u: '%s' needs a value", what,
			    kv.line, kv.key);
			goto out;
		}
		if (options[i].set(c, kv.value, &why) != SP_OK) {
			/* A TSIG or TURN secret: name the option, not the value. */
			if (i == OPT_TSIG_KEY || i == OPT_TURN_SECRET)
				rc = sp_errf(e, SP_ECONFIG, "%s:%u: %s: %s", what, kv.line,
				    kv.key, why);
			else
				rc = sp_errf(e, SP_ECONFIG, "%s:%u: %s '%s': %s", what, kv.line,
				    kv.key, kv.value, why);
			goto out;
		}
		c->line_of[i] = kv.line;
	}
out:
	sodium_memzero(&kv, sizeof(kv));
	return rc < 0 ? rc : SP_OK;
}

/*
 * The file is read with read(2) into one buffer that is wiped before it
 * is freed: stdio would leave the text, secrets and all, in a buffer of
 * its own.
 */
int
sp_conf_load(sp_conf *c, const char *path, sp_errmsg *e)
{
	enum { CONF_MAX = 65536 };
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return sp_errf(e, SP_ECONFIG, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = sp_errf(e, SP_ECONFIG, "%s: not a regular file", path);
		goto out;
	}
	if ((buf = malloc(CONF_MAX + 1)) == NULL) {
		rc = sp_errf(e, SP_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len <= CONF_MAX && (n = read(fd, buf + len, CONF_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sp_errf(e, SP_ECONFIG, "%s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > CONF_MAX) {
		rc = sp_errf(e, SP_ECONFIG, "%s: larger than 64 KiB", path);
		goto out;
	}
	if ((rc = sp_conf_parse(c, path, buf, len, e)) != SP_OK)
		goto out;
	/* Secrets in a file others can read are no longer secret: refuse it
	 * rather than use keys an attacker may have too. */
	if ((c->ntsig > 0 || c->turn_secret[0] != '\0') && (st.st_mode & 077) != 0)
		rc = sp_errf(e, SP_ECONFIG, "%s: holds a %s secret but is readable by "
		    "group or others (mode %04o); chmod 600 it", path,
		    c->ntsig > 0 ? "tsig-key" : "turn-secret", (unsigned)(st.st_mode & 07777));
	if (rc == SP_OK && c->turn_server_len != 0 && c->turn_secret[0] == '\0')
		rc = sp_errf(e, SP_ECONFIG, "%s:%u: turn-server needs turn-secret (coturn's "
		    "static-auth-secret) to hand out credentials", path, c->line_of[OPT_TURN_SERVER]);
out:
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

static void
print_value(FILE *f, const char *key, const char *value)
{
	if (strpbrk(value, " \t\"\\#") == NULL) {
		fprintf(f, "%s %s\n", key, value);
		return;
	}
	fprintf(f, "%s \"", key);
	for (; *value; value++) {
		if (*value == '"' || *value == '\\')
			fputc('\\', f);
		fputc(*value, f);
	}
	fprintf(f, "\"\n");
}

void
sp_conf_print(const sp_conf *c, FILE *f)
{
	print_value(f, "state", c->state_dir);
	if (c->passphrase_file[0])
		print_value(f, "passphrase-file", c->passphrase_file);
	fprintf(f, "log %s\n", c->log_syslog == 1 ? "syslog" : "stderr");
	fprintf(f, "log-level %s\n",
	    sp_log_level_name(c->log_level < 0 ? SP_LOG_INFO : (enum sp_log_level)c->log_level));
	for (size_t i = 0; i < c->ndns_listen; i++) {
		char a[80];
		fprintf(f, "dns-listen %s\n",
		    sp_addr_format((const struct sockaddr *)&c->dns_listen[i], a, sizeof(a)));
	}
	for (size_t i = 0; i < c->zone.nns; i++)
		fprintf(f, "zone-ns %s\n", c->zone.ns[i]);
	for (size_t i = 0; i < c->zone.na; i++) {
		char a[INET6_ADDRSTRLEN];
		fprintf(f, "zone-address %s\n", inet_ntop(AF_INET, &c->zone.a[i], a, sizeof(a)));
	}
	for (size_t i = 0; i < c->zone.naaaa; i++) {
		char a[INET6_ADDRSTRLEN];
		fprintf(f, "zone-address %s\n", inet_ntop(AF_INET6, &c->zone.aaaa[i], a, sizeof(a)));
	}
	fprintf(f, "interface %s\n", c->interface[0] ? c->interface : SP_DEFAULT_INTERFACE);
	fprintf(f, "listen-port %ld\n", c->listen_port < 0 ? (long)SP_DEFAULT_LISTEN_PORT :
	    c->listen_port);
	for (size_t i = 0; i < c->npublic_endpoint; i++)
		fprintf(f, "public-endpoint %s\n", c->public_endpoint[i]);
	if (c->interface_ipv4_prefix) {
		char a[INET_ADDRSTRLEN];
		fprintf(f, "interface-ipv4 %s/%u\n", inet_ntop(AF_INET, c->interface_ipv4, a,
		    sizeof(a)), c->interface_ipv4_prefix);
	}
	fprintf(f, "zone-ttl %u\n", c->zone.ttl);
	fprintf(f, "zone-key-ttl %u\n", c->zone.key_ttl);
	fprintf(f, "zsk-lifetime %ld\n", c->zsk_lifetime < 0 ? 30L * 86400 : c->zsk_lifetime);
	fprintf(f, "propagation-delay %ld\n", c->propagation_delay < 0 ? 300L : c->propagation_delay);
	fprintf(f, "rrl-rate %ld\n", c->rrl_rate < 0 ? 20L : c->rrl_rate);
	fprintf(f, "dns-tcp-timeout %ld\n", c->dns_tcp_timeout < 0 ? 10L : c->dns_tcp_timeout);
	fprintf(f, "idle-timeout %ld\n", c->idle_timeout < 0 ? (long)SP_DEFAULT_IDLE_TIMEOUT :
	    c->idle_timeout);
	if (c->relay_tls_listen_len) {
		char a[80];
		fprintf(f, "relay-tls-listen %s\n",
		    sp_addr_format((const struct sockaddr *)&c->relay_tls_listen, a, sizeof(a)));
	}
	if (c->dns_upstream_none) {
		fprintf(f, "dns-upstream none\n");
	} else if (c->dns_upstream_len) {
		char a[80];
		fprintf(f, "dns-upstream %s\n",
		    sp_addr_format((const struct sockaddr *)&c->dns_upstream, a, sizeof(a)));
	}
	fprintf(f, "ice %s\n", c->ice == 0 ? "off" : "on");
	fprintf(f, "relay %s\n", c->relay == 0 ? "off" : "on");
	if (c->turn_server_len) {
		char a[80];
		fprintf(f, "turn-server %s\n",
		    sp_addr_format((const struct sockaddr *)&c->turn_server, a, sizeof(a)));
	}
	if (c->turn_secret[0] != '\0')
		fprintf(f, "# turn-secret (not shown)\n");
	for (size_t i = 0; i < c->ntsig; i++)
		fprintf(f, "# tsig-key %s (secret not shown)\n", c->tsig[i].name);
	for (size_t i = 0; i < c->nsecondary; i++) {
		char a[80];
		fprintf(f, "secondary %s %s\n",
		    sp_addr_format((const struct sockaddr *)&c->secondary[i].addr, a, sizeof(a)),
		    c->tsig[c->secondary[i].key].name);
	}
}
