/*
 * signpostd's configuration file (docs/signpost.conf.md). Parsing is pure:
 * sp_conf_parse takes the file's text; sp_conf_load is the I/O adapter.
 * Command-line flags are applied after the file, so they win.
 */
#ifndef SP_CONF_H
#define SP_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "sp_err.h"

#include <sys/socket.h>

#include "sp_zonesrc.h"

#define SP_CONF_MAX_LISTEN 8
#define SP_CONF_MAX_ENDPOINTS 4
/* WireGuard's port unless listen-port says otherwise: fixed, so a home
 * router can forward it. */
#define SP_DEFAULT_LISTEN_PORT 51820
#define SP_DEFAULT_IDLE_TIMEOUT 300

typedef struct sp_conf {
	char state_dir[4096];        /* "" = not set */
	char passphrase_file[4096];  /* "" = not set */
	int log_syslog;              /* -1 = not set, else 0 or 1 */
	int log_level;               /* -1 = not set, else enum sp_log_level */
	/* DNS (gateway role) */
	struct sockaddr_storage dns_listen[SP_CONF_MAX_LISTEN];
	socklen_t dns_listen_len[SP_CONF_MAX_LISTEN];
	size_t ndns_listen;
	sp_zone_config zone;         /* zone-ns, zone-address, zone-ttl */
	long rrl_rate;               /* -1 = not set (default on, 20/s) */
	long zsk_lifetime;           /* -1 = not set (30 days); 0 = only when told */
	long propagation_delay;      /* -1 = not set (300 s) */
	long dns_tcp_timeout;        /* s without progress on a DNS TCP connection;
	                                -1 = not set (10 s) */
	char interface[16];          /* the tunnel interface; "" = the default */
	long listen_port;            /* WireGuard's UDP port; -1 = not set (51820) */
	/* Where the gateway can be reached, for pairing codes (HOST:PORT). */
	char public_endpoint[SP_CONF_MAX_ENDPOINTS][80];
	size_t npublic_endpoint;
	/* The device role: idle tunnels to members close after idle_timeout
	 * s (-1: SP_DEFAULT_IDLE_TIMEOUT); names outside the zone go to
	 * dns_upstream (unset: the system's, from /etc/resolv.conf), or are
	 * refused (dns_upstream_none). */
	long idle_timeout;
	/* Direct paths (docs/ice.md): a member's ICE (-1: not set, on; 0 off);
	 * the gateway's relay (-1: not set, on; 0 off); the TURN server the
	 * gateway hands members credentials for (turn_server_len 0: none),
	 * with coturn's REST-API secret (never logged or printed). */
	int ice;
	int relay;
	struct sockaddr_storage turn_server;
	socklen_t turn_server_len;
	char turn_secret[128];
	/* The gateway: the relay over TCP with TLS (docs/relay.md). */
	struct sockaddr_storage relay_tls_listen;
	socklen_t relay_tls_listen_len;
	struct sockaddr_storage dns_upstream;
	socklen_t dns_upstream_len;
	int dns_upstream_none;
	uint8_t interface_ipv4[4];   /* its IPv4 address, if interface_ipv4_prefix */
	unsigned interface_ipv4_prefix;
	/* Zone transfers: TSIG keys (HMAC-SHA256) and secondaries to NOTIFY. */
	struct sp_conf_tsig {
		char name[256];          /* lowercase, with the trailing dot */
		char secret[128];        /* base64; never logged or printed */
	} tsig[SP_CONF_MAX_LISTEN];
	size_t ntsig;
	struct sp_conf_secondary {
		struct sockaddr_storage addr;
		socklen_t addr_len;
		size_t key;              /* index into tsig[] */
	} secondary[SP_CONF_MAX_LISTEN];
	size_t nsecondary;
	unsigned line_of[32];        /* where each option was set, for duplicates */
} sp_conf;

/* The TSIG key named name (any case, dot optional), or NULL. */
const struct sp_conf_tsig *sp_conf_tsig_find(const sp_conf *c, const char *name);
/* The tunnel interface's name (the --interface flag); "none" for none. */
#define SP_DEFAULT_INTERFACE "sp0"
#define SP_NO_INTERFACE "none"
int sp_conf_set_interface(sp_conf *c, const char *value, const char **why);
/* Add one "ADDR:PORT" listen address (the --dns-listen flag). */
int sp_conf_add_listen(sp_conf *c, const char *text, const char **why);
/* The --listen-port and --public-endpoint flags. */
int sp_conf_set_listen_port(sp_conf *c, const char *value, const char **why);
int sp_conf_add_public_endpoint(sp_conf *c, const char *value, const char **why);
/* The --relay-tls-listen flag. */
int sp_conf_set_relay_tls_listen(sp_conf *c, const char *value, const char **why);
/* The --ice and --relay flags: on or off. */
int sp_conf_set_ice(sp_conf *c, const char *value, const char **why);
int sp_conf_set_relay(sp_conf *c, const char *value, const char **why);
/* The --dns-upstream flag. */
int sp_conf_set_dns_upstream(sp_conf *c, const char *value, const char **why);

void sp_conf_init(sp_conf *c);
/* Wipe the secrets (TSIG) and everything else; c is then as after init. */
void sp_conf_wipe(sp_conf *c);
/* what names the input in messages ("file:line: problem"). */
int sp_conf_parse(sp_conf *c, const char *what, const char *text, size_t len,
    sp_errmsg *e);
/* Read and parse a file. A file that holds secrets (tsig-key) must not be
 * readable by group or others: SP_ECONFIG naming the file and its mode. */
int sp_conf_load(sp_conf *c, const char *path, sp_errmsg *e);
/* The effective configuration, in the file's own syntax (signpostd -n). */
void sp_conf_print(const sp_conf *c, FILE *f);

#endif
