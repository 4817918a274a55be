/* signpost devices | revoke NAME | rename OLD NEW: the cloud's members. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "k=v k=v" to the value of k, into out. */
static const char *
item(const char *list, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);

	for (const char *p = list; p != NULL && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " ");
			snprintf(out, cap, "%.*s", (int)n, p + kl + 1);
			return out;
		}
	snprintf(out, cap, "?");
	return out;
}

static int
ask(struct cli *c, const char *request, struct cli_fields *f, const char *needs)
{
	sp_errmsg e;
	int rc = cli_ask(c, request, f, 10000, &e);

	if (rc == SP_ENOTRUNNING)
		return cli_error(CLI_NOTRUNNING, "%s; %s needs the running gateway", e.msg, needs);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	return CLI_OK;
}

int
cli_devices(struct cli *c, int argc, char **argv)
{
	struct cli_fields f;
	int json = argc == 2 && strcmp(argv[1], "--json") == 0, rc;

	if (argc != 1 && !json) {
		fprintf(stderr, "usage: signpost devices [--json]\n");
		return CLI_USAGE;
	}
	if ((rc = ask(c, "devices", &f, "listing the devices")) != CLI_OK)
		return rc;
	if (json) {
		cli_fields_json(&f, "");
	} else {
		printf("%-16s %-9s %-16s %-39s %-9s %-10s %-6s %-22s %s\n", "NAME", "KIND", "KEY ID",
		    "ADDRESS", "HANDSHAKE", "PATH", "RTT", "ENDPOINT", "ADDED");
		for (size_t i = 0; i < f.n; i++) {
			char v[9][80], hs[96], rtt[96];
			const char *l = f.value[i];
			if (strcmp(f.name[i], "devices[]") != 0)
				continue;
			item(l, "handshake", v[4], sizeof(v[4]));
			snprintf(hs, sizeof(hs), "%s%s", v[4], strcmp(v[4], "-") == 0 ? "" : "s ago");
			item(l, "rtt-ms", v[8], sizeof(v[8]));
			snprintf(rtt, sizeof(rtt), "%s", v[8][0] == '?' || strcmp(v[8], "0") == 0 ? "-" :
			    v[8]);
			if (strcmp(rtt, "-") != 0)
				snprintf(rtt, sizeof(rtt), "%sms", v[8]);
			printf("%-16s %-9s %-16s %-39s %-9s %-10s %-6s %-22s %s\n",
			    item(l, "name", v[0], 80), item(l, "kind", v[1], 80),
			    item(l, "id", v[2], 80), item(l, "address", v[3], 80), hs,
			    item(l, "path", v[7], 80), rtt, item(l, "endpoint", v[5], 80),
			    item(l, "added", v[6], 80));
		}
	}
	cli_fields_free(&f);
	return CLI_OK;
}

int
cli_revoke(struct cli *c, int argc, char **argv)
{
	struct cli_fields f;
	char req[128];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: signpost revoke NAME\n");
		return CLI_USAGE;
	}
	snprintf(req, sizeof(req), "revoke %.100s", argv[1]);
	if ((rc = ask(c, req, &f, "revoking")) != CLI_OK)
		return rc;
	printf("Revoked %s (key %s, %s):\n"
	    "  - removed from the zone (serial %s): its name no longer resolves\n"
	    "  - tunnel: %s\n"
	    "  - its key is refused from now on; pairing again needs a new key\n",
	    cli_field(&f, "revoked"), cli_field(&f, "key"), cli_field(&f, "address"),
	    cli_field(&f, "serial"), cli_field(&f, "tunnel"));
	cli_fields_free(&f);
	return CLI_OK;
}

int
cli_rename(struct cli *c, int argc, char **argv)
{
	struct cli_fields f;
	char req[192];
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: signpost rename OLD NEW\n");
		return CLI_USAGE;
	}
	snprintf(req, sizeof(req), "rename %.80s %.80s", argv[1], argv[2]);
	if ((rc = ask(c, req, &f, "renaming")) != CLI_OK)
		return rc;
	printf("renamed %s to %s; zone serial %s\n", argv[1], argv[2], cli_field(&f, "serial"));
	cli_fields_free(&f);
	return CLI_OK;
}
