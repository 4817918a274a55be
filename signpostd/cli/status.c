/* signpost status: ask the running daemon how it is. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"

#define PEERS_SHOWN 16

static void
print_text(const struct cli_fields *f)
{
	unsigned long up = strtoul(cli_field(f, "uptime"), NULL, 10);

	printf("signpostd %s is running (pid %s, up %lud %02luh%02lum%02lus)\n",
	    cli_field(f, "version"), cli_field(f, "pid"), up / 86400, up / 3600 % 24, up / 60 % 60,
	    up % 60);
	printf("  role:    %s\n", cli_field(f, "role"));
	printf("  zone:    %s\n", cli_field(f, "zone"));
	printf("  device:  %s\n", cli_field(f, "name"));
	printf("  state:   %s\n", cli_field(f, "state-dir"));
	printf("  started: %s\n", cli_field(f, "started"));
	if (cli_field_find(f, "zone-serial") != NULL) {
		printf("  serving: zone serial %s, %s devices\n", cli_field(f, "zone-serial"),
		    cli_field(f, "devices"));
		printf("  dns:     %s queries, %s malformed or dropped, rate limiting dropped "
		    "%s and slipped %s\n", cli_field(f, "dns-queries"), cli_field(f, "dns-dropped"),
		    cli_field(f, "rrl-dropped"), cli_field(f, "rrl-slipped"));
	}
	if (cli_field_find(f, "pairing") != NULL)
		printf("  pairing: %s codes waiting; %s\n", cli_field(f, "pairing-pending"),
		    cli_field(f, "pairing"));
	if (cli_field_find(f, "members-connected") != NULL)
		printf("  members: %s connected to the control plane, %s refused\n",
		    cli_field(f, "members-connected"), cli_field(f, "control-plane-refused"));
	if (cli_field_find(f, "gateway") != NULL) {
		const char *hs = cli_field_find(f, "gateway-handshake");
		const char *path = cli_field_find(f, "gateway-path");
		printf("  gateway: %s at %s over %s, control plane %s, last handshake %s%s\n",
		    cli_field(f, "gateway"), cli_field(f, "gateway-endpoint"),
		    path != NULL ? path : "udp", cli_field(f, "control-plane"),
		    hs != NULL && hs[0] != '-' ? hs : "never", hs != NULL && hs[0] != '-' ? " s ago" : "");
	}
	if (cli_field_find(f, "resolver") != NULL)
		printf("  resolver: %s\n", cli_field(f, "resolver"));
	{
		int any = 0;
		for (size_t i = 0; i < f->n; i++)
			if (strcmp(f->name[i], "member-peers[]") == 0) {
				if (!any++)
					printf("  members (the path to each):\n");
				printf("    %s\n", f->value[i]);
			}
		for (size_t i = 0; i < f->n; i++)
			if (strcmp(f->name[i], "member-ice[]") == 0)
				printf("    ice %s\n", f->value[i]);
		if (cli_field_find(f, "ice") != NULL)
			printf("  ice:     %s\n", cli_field(f, "ice"));
	}
	if (cli_field_find(f, "relay") != NULL)
		printf("  relay:   %s\n", cli_field(f, "relay"));
	if (cli_field_find(f, "tunnel") != NULL) {
		size_t npeers = 0, shown = 0;
		printf("  tunnel:  %s, WireGuard on UDP %s, %s packets dropped (%s)\n", cli_field(f, "tunnel"),
		    cli_field(f, "tunnel-port"), cli_field(f, "tunnel-dropped"), cli_field(f, "tunnel-drops"));
		for (size_t i = 0; i < f->n; i++)
			npeers += strcmp(f->name[i], "peers[]") == 0;
		/* A gateway may have thousands: the first few, and where the rest are. */
		for (size_t i = 0; i < f->n && shown < PEERS_SHOWN; i++)
			if (strcmp(f->name[i], "peers[]") == 0) {
				printf("    peer %s\n", f->value[i]);
				shown++;
			}
		if (npeers > shown)
			printf("    ... and %zu more peers (signpost devices, or status --json)\n",
			    npeers - shown);
	}
	printf("  keys:\n");
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], "keys[]") == 0)
			printf("    %s\n", f->value[i]);
}

int
cli_status(struct cli *c, int argc, char **argv)
{
	char sock[4200], *reply;
	struct cli_fields f;
	sp_errmsg e;
	size_t len;
	int json = 0, rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1) {
		fprintf(stderr, "usage: signpost status [--json]\n");
		return CLI_USAGE;
	}
	snprintf(sock, sizeof(sock), "%s/%s", c->state_dir, SP_CTL_SOCKET);
	rc = sp_ctl_call(sock, "status", &reply, &len, 10000, &e);
	if (rc == SP_ENOTRUNNING) {
		if (json) {
			printf("{\"running\":false,\"error\":");
			cli_json_string(e.msg);
			printf("}\n");
		}
		return cli_error(CLI_NOTRUNNING, "%s", e.msg);
	}
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	memset(&f, 0, sizeof(f));
	rc = sp_ctl_reply_parse(reply, len, cli_fields_collect, &f, &e);
	free(reply);
	if (rc == SP_OK) {
		if (json)
			cli_fields_json(&f, "\"running\":true");
		else
			print_text(&f);
	} else {
		cli_error(CLI_FAIL, "%s", rc == SP_ENOMEM ? sp_strerror(rc) : e.msg);
	}
	cli_fields_free(&f);
	return rc == SP_OK ? CLI_OK : CLI_FAIL;
}
