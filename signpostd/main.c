/*
 * signpostd: the daemon every device runs. It holds the device's keys and,
 * on the gateway, the zone's. This file parses the command line and the
 * configuration, loads the state, and runs the loop; the work is done by
 * the roles and the protocol cores it wires together.
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
#include "sp_unikernel.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signpostd [--state DIR] [--config FILE] [--passphrase-file FILE]\n"
	    "                 [--dns-listen ADDR:PORT ...] [--syslog] [--log-level LEVEL]\n"
	    "                 [-n] [-h] [-V]\n"
	    "\n"
	    "  --state DIR            state directory (default: $SIGNPOST_STATE,\n"
	    "                         else /var/lib/signpost for root)\n"
	    "  --config FILE          configuration file (docs/signpost.conf.md)\n"
	    "  --passphrase-file FILE passphrase for sealed private keys\n"
	    "  --dns-listen ADDR:PORT serve the zone here (gateway; repeatable)\n"
	    "  --interface NAME       the WireGuard tunnel interface (default sp0;\n"
	    "                         none: no tunnel)\n"
	    "  --syslog               log to syslog instead of stderr\n"
	    "  --log-level LEVEL      error, warn, info (default) or debug\n"
	    "  -n                     check and print the configuration, then exit\n"
	    "  -V                     print the version\n");
}

static void
on_stop_signal(void *arg, int signo)
{
	sp_daemon *d = arg;

	d->exit_signal = signo;
	sp_loop_stop(d->loop);
}

/* Check that the keys this node's role needs are there. */
static int
check_keys(const sp_daemon *d, sp_errmsg *e)
{
	int have[3] = { 0, 0, 0 };

	for (size_t i = 0; i < d->nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->state == SP_KSTATE_ACTIVE)
			have[k->role]++;
	}
	if (have[SP_ROLE_DEVICE] != 1)
		return sp_errf(e, SP_ECORRUPT,
		    "%s/keys: expected one active device key, found %d", d->state_dir,
		    have[SP_ROLE_DEVICE]);
	if (d->cloud.role == SP_NODE_GATEWAY && (have[SP_ROLE_KSK] == 0 || have[SP_ROLE_ZSK] == 0))
		return sp_errf(e, SP_ECORRUPT,
		    "%s/keys: a gateway needs an active KSK and ZSK (found %d and %d)",
		    d->state_dir, have[SP_ROLE_KSK], have[SP_ROLE_ZSK]);
	return SP_OK;
}

/* Load the cloud and, if want_secret, every private key. */
static int
load_state(sp_daemon *d, const sp_conf *conf, int want_secret, sp_errmsg *e)
{
	char *pass = NULL;
	size_t passlen = 0;
	int rc = SP_OK;

	/* The unikernel opens its store (a block device) itself. */
	if (d->store == NULL &&
	    (rc = sp_store_open_dir(d->state_dir, 0, &d->store, e)) == SP_ENOENT)
		return sp_errf(e, rc, "state directory %s does not exist; create a "
		    "personal cloud with 'signpost init --zone ZONE --name NAME'",
		    d->state_dir);
	if (rc != SP_OK)
		return rc;
	if ((rc = sp_cloud_load(d->store, &d->cloud, e)) != SP_OK)
		return rc;
	if (!want_secret) {
		sp_key_info *infos;
		size_t n;
		rc = sp_keystore_list(d->store, &infos, &n, e);
		if (rc == SP_OK)
			free(infos);
		return rc;
	}
	if (conf->passphrase_file[0] &&
	    (rc = sp_passphrase_read(conf->passphrase_file, &pass, &passlen, e)) != SP_OK)
		return rc;
	rc = sp_keystore_load_all(d->store, pass, passlen, &d->keys, &d->nkeys, e);
	d->pass = pass;
	d->passlen = passlen;
	if (rc == SP_ENEEDPASS)
		return sp_errf(e, rc, "%s (start signpostd with --passphrase-file FILE)", e->msg);
	if (rc != SP_OK)
		return rc;
	return check_keys(d, e);
}

static void
free_state(sp_daemon *d)
{
	sp_ctl_server_stop(d->ctl);
	sp_dns_server_stop(d->dns);
	sp_tunnel_stop(d->tunnel);
	sp_keystore_free_all(d->keys, d->nkeys);
	sp_passphrase_free(d->pass, d->passlen);
	sp_store_close(d->store);
	sp_loop_free(d->loop);
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
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_flag = NULL, *config = NULL;
	int check_only = 0, opt, rc;
	sp_daemon d;
	sp_conf conf, flags;
	sp_errmsg e;

	/* In the gateway image signpostd is init (unikernel/boot.c). */
	if (getpid() == 1)
		sp_uk_main(argc, argv, environ);
	memset(&d, 0, sizeof(d));
	sp_conf_init(&conf);
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
		case 'i': {
			const char *why;
			if (sp_conf_set_interface(&flags, optarg, &why) != SP_OK) {
				fprintf(stderr, "signpostd: --interface %s: %s\n", optarg, why);
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
	if (config != NULL && sp_conf_load(&conf, config, &e) != SP_OK) {
		fprintf(stderr, "signpostd: %s\n", e.msg);
		return 1;
	}
	if (flags.passphrase_file[0])
		memcpy(conf.passphrase_file, flags.passphrase_file, sizeof(conf.passphrase_file));
	if (flags.log_syslog >= 0)
		conf.log_syslog = flags.log_syslog;
	if (flags.log_level >= 0)
		conf.log_level = flags.log_level;
	if (flags.interface[0])
		memcpy(conf.interface, flags.interface, sizeof(conf.interface));
	if (!conf.interface[0])
		memcpy(conf.interface, SP_DEFAULT_INTERFACE, sizeof(SP_DEFAULT_INTERFACE));
	if (flags.ndns_listen > 0) {
		memcpy(conf.dns_listen, flags.dns_listen, sizeof(conf.dns_listen));
		memcpy(conf.dns_listen_len, flags.dns_listen_len, sizeof(conf.dns_listen_len));
		conf.ndns_listen = flags.ndns_listen;
	}
	if (sp_state_dir(state_flag, conf.state_dir, d.state_dir, sizeof(d.state_dir), &e) != SP_OK) {
		fprintf(stderr, "signpostd: %s\n", e.msg);
		return 1;
	}
	memcpy(conf.state_dir, d.state_dir, sizeof(conf.state_dir));
	d.conf = conf;
	if (sodium_init() < 0) {
		fprintf(stderr, "signpostd: libsodium failed to initialise\n");
		return 1;
	}

	if (check_only) {
		rc = load_state(&d, &conf, 0, &e);
		sp_conf_print(&conf, stdout);
		if (rc == SP_OK)
			printf("# cloud %s, this device %s.%s, role %s\n", d.cloud.zone,
			    d.cloud.name, d.cloud.zone, sp_role_name(d.cloud.role));
		free_state(&d);
		if (rc != SP_OK) {
			fprintf(stderr, "signpostd: %s\n", e.msg);
			return 1;
		}
		printf("# configuration OK\n");
		return 0;
	}

	sp_log_init("signpostd", conf.log_syslog == 1,
	    conf.log_level < 0 ? SP_LOG_INFO : (enum sp_log_level)conf.log_level);
	return sp_daemon_run(&d);
}

int
sp_daemon_run(sp_daemon *d)
{
	char sock[4200], fqdn[320];
	sp_errmsg e;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if ((rc = load_state(d, &d->conf, 1, &e)) != SP_OK) {
		sp_err("%s", e.msg);
		free_state(d);
		return 1;
	}
	if (sp_loop_new(&d->loop) != SP_OK ||
	    sp_loop_signal(d->loop, SIGINT, on_stop_signal, d) != SP_OK ||
	    sp_loop_signal(d->loop, SIGTERM, on_stop_signal, d) != SP_OK) {
		sp_err("cannot set up the event loop");
		free_state(d);
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/%s", d->state_dir, SP_CTL_SOCKET);
	if (sp_ctl_server_start(d->loop, sock, sp_daemon_ctl, d, &d->ctl, &e) != SP_OK) {
		sp_err("control socket: %s", e.msg);
		free_state(d);
		return 1;
	}
	if (d->cloud.role == SP_NODE_GATEWAY && sp_dns_server_start(d, &e) != SP_OK) {
		sp_err("DNS: %s", e.msg);
		free_state(d);
		return 1;
	}
	if (strcmp(d->conf.interface, SP_NO_INTERFACE) != 0 && sp_tunnel_start(d, &e) != SP_OK) {
		sp_err("tunnel: %s", e.msg);
		free_state(d);
		return 1;
	}
	d->started_mono = sp_clock_mono_ms();
	d->started_wall = sp_clock_wall();
	sp_cloud_fqdn(&d->cloud, fqdn, sizeof(fqdn));
	sp_info("started: %s of %s, this device is %s; %zu keys loaded; control at %s",
	    sp_role_name(d->cloud.role), d->cloud.zone, fqdn, d->nkeys, sock);
	if (d->ready != NULL)
		d->ready(d);

	rc = sp_loop_run(d->loop);
	if (rc != SP_OK)
		sp_err("event loop failed: %s", sp_strerror(rc));
	else
		sp_info("stopping on signal %d", d->exit_signal);
	free_state(d);
	sp_info("stopped");
	return rc == SP_OK ? 0 : 1;
}
