/* signpost keys: every key with its role, algorithm, tag, creation and state. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "sp_key.h"
#include "sp_time.h"

int
cli_keys(struct cli *c, int argc, char **argv)
{
	sp_key_info *keys;
	sp_cloud cloud;
	size_t n;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: signpost keys\n");
		return CLI_USAGE;
	}
	if ((rc = cli_open_keys(c, &cloud, &keys, &n)) != CLI_OK)
		return rc;
	printf("%-7s %-10s %-5s %-16s %-9s %s\n", "ROLE", "ALGORITHM", "TAG", "ID",
	    "STATE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		char created[SP_TIME_TEXT], tag[8] = "-";

		sp_time_format(keys[i].created, created);
		if (keys[i].role != SP_ROLE_DEVICE)
			snprintf(tag, sizeof(tag), "%u", keys[i].tag);
		printf("%-7s %-10s %-5s %-16s %-9s %s\n", sp_key_role_name(keys[i].role),
		    "15/ed25519", tag, keys[i].id, sp_key_state_name(keys[i].state), created);
	}
	free(keys);
	return CLI_OK;
}
