/*
 * signpostd: the daemon every device runs. It holds the device's keys and,
 * on the gateway, the zone's. This file turns the command line and the
 * configuration file into a configuration and hands it to the daemon's
 * run function (daemon.c). Whatever its pid, it is a normal daemon: the
 * gateway image's init is its own program (unikernel/init.c).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "paths.h"
#include "sp_log.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signpostd [--state DIR] [--config FILE] [--passphrase-file FILE]\n"
	    "                 [--dns-listen ADDR:PORT ...] [--interface NAME]\n"
	    "                 [--listen-port PORT] [--public-endpoint HOST:PORT ...]\n"
	    "                 [--dns-upstream ADDR:PORT|none] [--relay-tls-listen ADDR:PORT]\n"
	    "                 [--ice on|off] [--relay on|off]\n"
	    "                 [--syslog] [--log-level LEVEL]\n"
	    "                 [-n] [-h] [-V]\n"
	    "\n"
	    "  --state DIR            state directory (default: $SIGNPOST_STATE,\n"
	    "                         else /var/lib/signpost for root)\n"
	    "  --config FILE          configuration file (docs/signpost.conf.md)\n"
	    "  --passphrase-file FILE passphrase for sealed private keys\n"
	    "  --dns-listen ADDR:PORT serve the zone here (gateway), or run the\n"
	    "                         validating resolver here (member; default its\n"
	    "                         overlay address, port 53); repeatable\n"
	    "  --dns-upstream ADDR:PORT|none  a member's resolver for names outside\n"
	    "                         the zone (default: /etc/resolv.conf's first)\n"
	    "  --relay-tls-listen ADDR:PORT  the gateway's relay over TLS, for\n"
	    "                         members whose UDP is blocked (e.g. port 443)\n"
	    "  --ice on|off           find direct paths to other members (member;\n"
	    "                         default on; docs/ice.md)\n"
	    "  --relay on|off         relay between members (gateway; default on)\n"
	    "  --interface NAME       the WireGuard tunnel interface (default sp0;\n"
	    "                         none: no tunnel)\n"
	    "  --listen-port PORT     WireGuard's UDP port (default 51820; 0: any)\n"
	    "  --public-endpoint HOST:PORT  where the gateway can be reached, for\n"
	    "                         pairing codes (repeatable)\n"
	    "  --syslog               log to syslog instead of stderr\n"
	    "  --log-level LEVEL      error, warn, info (default) or debug\n"
	    "  -n                     check and print the configuration, then exit\n"
	    "  -V                     print the version\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "dns-listen", required_argument, NULL, 'd' },
		{ "listen-port", required_argument, NULL, 'P' },
		{ "public-endpoint", required_argument, NULL, 'E' },
		{ "interface", required_argument, NULL, 'i' },
		{ "dns-upstream", required_argument, NULL, 'u' },
		{ "relay-tls-listen", required_argument, NULL, 'T' },
		{ "ice", required_argument, NULL, 'I' },
		{ "relay", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_flag = NULL, *config = NULL;
	int check_only = 0, opt;
	sp_daemon d;
	sp_conf *conf = &d.conf, flags;
	sp_errmsg e;

	memset(&d, 0, sizeof(d));
	sp_conf_init(conf);
	sp_conf_init(&flags);
	while ((opt = getopt_long(argc, argv, "nhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': state_flag = optarg; break;
		case 'c': config = optarg; break;
		case 'p':
			snprintf(flags.passphrase_file, sizeof(flags.passphrase_file), "%s", optarg);
			break;
		case 'S': flags.log_syslog = 1; break;
		case 'l':
			if ((flags.log_level = sp_log_level_parse(optarg)) < 0) {
				fprintf(stderr, "signpostd: --log-level %s: must be one of "
				    "error, warn, info, debug\n", optarg);
				return 2;
			}
			break;
		case 'd': {
			const char *why;
			if (sp_conf_add_listen(&flags, optarg, &why) != SP_OK) {
				fprintf(stderr, "signpostd: --dns-listen %s: %s\n", optarg, why);
				return 2;
			}
			break;
		}
		case 'P':
		case 'E': {
			const char *why;
			if ((opt == 'P' ? sp_conf_set_listen_port(&flags, optarg, &why) :
			    sp_conf_add_public_endpoint(&flags, optarg, &why)) != SP_OK) {
				fprintf(stderr, "signpostd: --%s %s: %s\n",
				    opt == 'P' ? "listen-port" : "public-endpoint", optarg, why);
				return 2;
			}
			break;
		}
		case 'i': {
			const char *why;
			if (sp_conf_set_interface(&flags, optarg, &why) != SP_OK) {
				fprintf(stderr, "signpostd: --interface %s: %s\n", optarg, why);
				return 2;
			}
			break;
		}
		case 'u': {
			const char *why;
			if (sp_conf_set_dns_upstream(&flags, optarg, &why) != SP_OK) {
				fprintf(stderr, "signpostd: --dns-upstream %s: %s\n", optarg, why);
				return 2;
			}
			break;
		}
		case 'T': {
			const char *why;
			if (sp_conf_set_relay_tls_listen(&flags, optarg, &why) != SP_OK) {
				fprintf(stderr, "signpostd: --relay-tls-listen %s: %s\n", optarg, why);
				return 2;
			}
			break;
		}
		case 'I':
		case 'R': {
			const char *why;
			if ((opt == 'I' ? sp_conf_set_ice : sp_conf_set_relay)(&flags, optarg, &why) !=
			    SP_OK) {
				fprintf(stderr, "signpostd: --%s %s: %s\n", opt == 'I' ? "ice" : "relay",
				    optarg, why);
				return 2;
			}
			break;
		}
		case 'n': check_only = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("signpostd %s\n", SP_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "signpostd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* The file is read straight into the daemon's configuration: one copy
	 * of its secrets, wiped by the daemon when it stops. */
	if (config != NULL && sp_conf_load(conf, config, &e) != SP_OK) {
		fprintf(stderr, "signpostd: %s\n", e.msg);
		sp_conf_wipe(conf);
		return 1;
	}
	if (flags.passphrase_file[0])
		memcpy(conf->passphrase_file, flags.passphrase_file, sizeof(conf->passphrase_file));
	if (flags.log_syslog >= 0)
		conf->log_syslog = flags.log_syslog;
	if (flags.log_level >= 0)
		conf->log_level = flags.log_level;
	if (flags.interface[0])
		memcpy(conf->interface, flags.interface, sizeof(conf->interface));
	if (!conf->interface[0])
		memcpy(conf->interface, SP_DEFAULT_INTERFACE, sizeof(SP_DEFAULT_INTERFACE));
	if (flags.listen_port >= 0)
		conf->listen_port = flags.listen_port;
	if (flags.npublic_endpoint > 0) {
		memcpy(conf->public_endpoint, flags.public_endpoint, sizeof(conf->public_endpoint));
		conf->npublic_endpoint = flags.npublic_endpoint;
	}
	if (flags.ice >= 0)
		conf->ice = flags.ice;
	if (flags.relay >= 0)
		conf->relay = flags.relay;
	if (flags.relay_tls_listen_len) {
		conf->relay_tls_listen = flags.relay_tls_listen;
		conf->relay_tls_listen_len = flags.relay_tls_listen_len;
	}
	if (flags.dns_upstream_none || flags.dns_upstream_len) {
		conf->dns_upstream = flags.dns_upstream;
		conf->dns_upstream_len = flags.dns_upstream_len;
		conf->dns_upstream_none = flags.dns_upstream_none;
	}
	if (flags.ndns_listen > 0) {
		memcpy(conf->dns_listen, flags.dns_listen, sizeof(conf->dns_listen));
		memcpy(conf->dns_listen_len, flags.dns_listen_len, sizeof(conf->dns_listen_len));
		conf->ndns_listen = flags.ndns_listen;
	}
	if (sp_state_dir(state_flag, conf->state_dir, d.state_dir, sizeof(d.state_dir), &e) != SP_OK) {
		fprintf(stderr, "signpostd: %s\n", e.msg);
		sp_conf_wipe(conf);
		return 1;
	}
	memcpy(conf->state_dir, d.state_dir, sizeof(conf->state_dir));
	if (sodium_init() < 0) {
		fprintf(stderr, "signpostd: libsodium failed to initialise\n");
		sp_conf_wipe(conf);
		return 1;
	}
	if (check_only)
		return sp_daemon_check(&d, stdout);
	sp_log_init("signpostd", conf->log_syslog == 1,
	    conf->log_level < 0 ? SP_LOG_INFO : (enum sp_log_level)conf->log_level);
	return sp_daemon_run(&d);
}
