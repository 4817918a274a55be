/* signpost zone ds|dnskey|anchor: what the parent zone and validators need. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sp_key.h"

#define ZONE_KEY_TTL 3600

enum zone_cmd { ZONE_DS, ZONE_DNSKEY, ZONE_ANCHOR, ZONE_EXPORT, ZONE_ROLLOVER };

static int
collect_ds(void *arg, const char *name, const char *value)
{
	FILE *f = arg;

	if (strcmp(name, "ds[]") == 0)
		fprintf(f, "%s\n", value);
	return SP_OK;
}

/* signpost zone rollover zsk | ksk [--complete]: through the daemon. */
static int
zone_rollover(struct cli *c, int argc, char **argv)
{
	char request[64], *ds = NULL;
	size_t dslen = 0;
	sp_errmsg e;
	FILE *f;
	int rc;

	if (argc == 3 && strcmp(argv[2], "zsk") == 0)
		snprintf(request, sizeof(request), "zone rollover zsk");
	else if (argc == 3 && strcmp(argv[2], "ksk") == 0)
		snprintf(request, sizeof(request), "zone rollover ksk");
	else if (argc == 4 && strcmp(argv[2], "ksk") == 0 && strcmp(argv[3], "--complete") == 0)
		snprintf(request, sizeof(request), "zone rollover ksk complete");
	else {
		fprintf(stderr, "usage: signpost zone rollover zsk | ksk [--complete]\n");
		return CLI_USAGE;
	}
	if ((f = open_memstream(&ds, &dslen)) == NULL)
		return cli_error(CLI_FAIL, "out of memory");
	rc = cli_call(c, request, collect_ds, f, &e);
	fclose(f);
	if (rc == CLI_NOTRUNNING)
		cli_error(rc, "%s; rollovers need the running gateway", e.msg);
	if (rc != CLI_OK) {
		free(ds);
		return rc;
	}
	if (argc == 3 && strcmp(argv[2], "ksk") == 0)
		printf("A new KSK signs the DNSKEY set alongside the old one. Give the parent\n"
		    "zone the new DS below (CDS/CDNSKEY announce it too); once the parent\n"
		    "serves it and the old DS's TTL has passed, run\n"
		    "'signpost zone rollover ksk --complete'. DS records now:\n");
	else if (argc == 4)
		printf("The old KSK is removed. The DS the parent should have:\n");
	else
		printf("A ZSK rollover has started; it finishes by itself (docs/zone.md).\n");
	fputs(ds, stdout);
	free(ds);
	return CLI_OK;
}

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
	    "       signpost zone export\n"
	    "       signpost zone rollover zsk | ksk [--complete]\n");
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
	else if (strcmp(argv[1], "rollover") == 0)
		return zone_rollover(c, argc, argv);
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
	/* A member has no zone keys: its anchor and the zone's keys are the
	 * ones pairing checked against the code's DS. */
	if (cloud.role == SP_NODE_DEVICE) {
		sp_store *store;
		sp_anchor anchor;
		sp_errmsg e;
		free(keys);
		if ((rc = cli_open(c, 0, &store, &cloud)) != CLI_OK)
			return rc;
		rc = sp_anchor_load(store, &anchor, &e);
		sp_store_close(store);
		if (rc != SP_OK)
			return cli_error(CLI_FAIL, "%s", e.msg);
		if ((keys = calloc(SP_ANCHOR_MAX, sizeof(*keys))) == NULL)
			return cli_error(CLI_FAIL, "out of memory");
		n = sp_anchor_keys(&anchor, keys, SP_ANCHOR_MAX);
	}
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
