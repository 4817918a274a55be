/* signpost keys: every key with its role, algorithm, tag, creation and state. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "sp_key.h"

int
cli_keys(struct cli *c, int argc, char **argv)
{
	sp_key_info *keys;
	sp_store *store;
	sp_cloud cloud;
	sp_errmsg e;
	size_t n;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: signpost keys\n");
		return CLI_USAGE;
	}
	if ((rc = cli_open(c, &store, &cloud)) != CLI_OK)
		return rc;
	rc = sp_keystore_list(store, &keys, &n, &e);
	sp_store_close(store);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	printf("%-7s %-10s %-5s %-16s %-9s %s\n", "ROLE", "ALGORITHM", "TAG", "ID",
	    "STATE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		char created[32], tag[8] = "-";
		struct tm tm;
		time_t t = (time_t)keys[i].created;

		gmtime_r(&t, &tm);
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (keys[i].role != SP_ROLE_DEVICE)
			snprintf(tag, sizeof(tag), "%u", keys[i].tag);
		printf("%-7s %-10s %-5s %-16s %-9s %s\n", sp_key_role_name(keys[i].role),
		    "15/ed25519", tag, keys[i].id, sp_key_state_name(keys[i].state), created);
	}
	free(keys);
	return CLI_OK;
}
