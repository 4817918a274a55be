/* signpost init: create a personal cloud with this device as its gateway. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sp_key.h"

#define DS_TTL 3600

int
cli_init(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "zone", required_argument, NULL, 'z' },
		{ "name", required_argument, NULL, 'n' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *zone = NULL, *name = NULL, *passfile = NULL;
	char *pass = NULL, fqdn[320];
	size_t passlen = 0, n;
	sp_key_info *keys;
	sp_store *store;
	sp_cloud cloud;
	sp_seal seal;
	sp_errmsg e;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'z': zone = optarg; break;
		case 'n': name = optarg; break;
		case 'p': passfile = optarg; break;
		default: goto usage;
		}
	}
	if (zone == NULL || name == NULL || optind != argc)
		goto usage;
	/* Check the names before anything is created on disk. */
	if (sp_zone_name_canon(zone, fqdn, sizeof(fqdn), &e) != SP_OK ||
	    sp_device_name_check(name, &e) != SP_OK)
		return cli_error(CLI_USAGE, "%s", e.msg);
	if (passfile != NULL && sp_passphrase_read(passfile, &pass, &passlen, &e) != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	if (sp_store_open_dir(c->state_dir, SP_STORE_CREATE, &store, &e) != SP_OK ||
	    sp_store_lock(store, &e) != SP_OK) {
		sp_store_close(store);
		sp_passphrase_free(pass, passlen);
		return cli_error(CLI_FAIL, "%s", e.msg);
	}
	memset(&seal, 0, sizeof(seal));
	seal.pass = pass;
	seal.passlen = passlen;
	rc = sp_cloud_create(store, zone, name, pass != NULL ? &seal : NULL,
	    sp_clock_wall(), sp_platform_rng(), &cloud, &e);
	sp_passphrase_free(pass, passlen);
	if (rc != SP_OK) {
		sp_store_close(store);
		return cli_error(CLI_FAIL, "%s", e.msg);
	}
	if (sp_keystore_list(store, &keys, &n, &e) != SP_OK) {
		sp_store_close(store);
		return cli_error(CLI_FAIL, "%s", e.msg);
	}
	sp_cloud_fqdn(&cloud, fqdn, sizeof(fqdn));
	printf("Created the personal cloud %s with this device, %s, as its gateway.\n",
	    cloud.zone, fqdn);
	printf("State is in %s; private keys are %s.\n", c->state_dir,
	    passfile != NULL ? "sealed with your passphrase"
	    : "stored unsealed, readable only by this user");
	printf("\nGive this DS record to the parent of %s (your registrar or DNS host):\n",
	    cloud.zone);
	for (size_t i = 0; i < n; i++) {
		char *ds;
		if (keys[i].role != SP_ROLE_KSK)
			continue;
		if (sp_key_ds_text(&keys[i], cloud.zone, DS_TTL, &ds) == SP_OK) {
			fputs(ds, stdout);
			free(ds);
		}
	}
	free(keys);
	sp_store_close(store);
	return CLI_OK;
usage:
	fprintf(stderr, "usage: signpost init --zone ZONE --name NAME [--passphrase-file FILE]\n");
	return CLI_USAGE;
}
