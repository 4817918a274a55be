/* signpost zone ds|dnskey|anchor: what the parent zone and validators need. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sp_key.h"

#define ZONE_KEY_TTL 3600

enum zone_cmd { ZONE_DS, ZONE_DNSKEY, ZONE_ANCHOR, ZONE_EXPORT };

static int
print_rr(void *arg, const char *name, const char *value)
{
	(void)arg;
	if (strcmp(name, "rr[]") == 0)
		printf("%s\n", value);
	return SP_OK;
}

static int
zone_usage(void)
{
	fprintf(stderr, "usage: signpost zone ds\n"
	    "       signpost zone dnskey\n"
	    "       signpost zone anchor --format bind|unbound\n"
	    "       signpost zone export\n");
	return CLI_USAGE;
}

int
cli_zone(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	enum sp_anchor_format fmt = SP_ANCHOR_BIND;
	const char *format = NULL;
	enum zone_cmd cmd;
	sp_key_info *keys;
	sp_cloud cloud;
	size_t n;
	int opt, rc, printed = 0;

	if (argc < 2)
		return zone_usage();
	if (strcmp(argv[1], "ds") == 0)
		cmd = ZONE_DS;
	else if (strcmp(argv[1], "dnskey") == 0)
		cmd = ZONE_DNSKEY;
	else if (strcmp(argv[1], "anchor") == 0)
		cmd = ZONE_ANCHOR;
	else if (strcmp(argv[1], "export") == 0)
		cmd = ZONE_EXPORT;
	else
		return zone_usage();
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 'f' || cmd != ZONE_ANCHOR)
			return zone_usage();
		format = optarg;
	}
	if (optind != argc)
		return zone_usage();
	if (cmd == ZONE_ANCHOR) {
		if (format == NULL || strcmp(format, "bind") == 0)
			fmt = SP_ANCHOR_BIND;
		else if (strcmp(format, "unbound") == 0)
			fmt = SP_ANCHOR_UNBOUND;
		else
			return cli_error(CLI_USAGE, "--format %s: must be bind or unbound", format);
	}

	if (cmd == ZONE_EXPORT) {
		sp_errmsg e;
		/* The signed zone lives in the daemon: it holds the keys. */
		rc = cli_call(c, "zone export", print_rr, NULL, &e);
		if (rc == CLI_NOTRUNNING)
			return cli_error(rc, "%s; zone export needs the running gateway", e.msg);
		return rc;
	}
	if ((rc = cli_open_keys(c, &cloud, &keys, &n)) != CLI_OK)
		return rc;
	if (cmd == ZONE_ANCHOR) {
		char *text;
		rc = sp_anchor_text(keys, n, cloud.zone, fmt, &text);
		free(keys);
		if (rc != SP_OK)
			return cli_error(CLI_FAIL, "no key-signing key in %s", c->state_dir);
		fputs(text, stdout);
		free(text);
		return CLI_OK;
	}
	for (size_t i = 0; i < n; i++) {
		char *text;
		if (keys[i].role == SP_ROLE_DEVICE || keys[i].state == SP_KSTATE_REVOKED)
			continue;
		if (cmd == ZONE_DS && keys[i].role != SP_ROLE_KSK)
			continue;
		rc = cmd == ZONE_DS
		    ? sp_key_ds_text(&keys[i], cloud.zone, ZONE_KEY_TTL, &text)
		    : sp_key_dnskey_text(&keys[i], cloud.zone, ZONE_KEY_TTL, &text);
		if (rc != SP_OK) {
			free(keys);
			return cli_error(CLI_FAIL, "formatting key %u: %s", keys[i].tag,
			    sp_strerror(rc));
		}
		fputs(text, stdout);
		free(text);
		printed++;
	}
	free(keys);
	if (printed == 0)
		return cli_error(CLI_FAIL, "no zone keys in %s", c->state_dir);
	return CLI_OK;
}
