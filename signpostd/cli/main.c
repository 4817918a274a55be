/* signpost: the command-line interface to a personal cloud. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "paths.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "init", cli_init, "init --zone ZONE --name NAME [--passphrase-file FILE]" },
	{ "status", cli_status, "status [--json]" },
	{ "zone", cli_zone, "zone ds | dnskey | anchor --format bind|unbound | export | rollover zsk|ksk [--complete]" },
	{ "keys", cli_keys, "keys" },
	{ "device", cli_device, "device add NAME --key KEY [--sshfp FILE] | device remove NAME | device list" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: signpost [--state DIR] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  signpost %s\n", commands[i].help);
	fprintf(f, "\nThe state directory is --state, else $SIGNPOST_STATE, else "
	    "/var/lib/signpost for root.\n");
}

int
cli_error(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("signpost: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cli_open(struct cli *c, int lock, sp_store **store, sp_cloud *cloud)
{
	sp_errmsg e;
	int rc = sp_store_open_dir(c->state_dir, 0, store, &e);

	if (rc == SP_ENOENT)
		return cli_error(CLI_FAIL, "state directory %s does not exist; create a "
		    "personal cloud with 'signpost init --zone ZONE --name NAME'",
		    c->state_dir);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	if ((lock && sp_store_lock(*store, &e) != SP_OK) ||
	    sp_cloud_load(*store, cloud, &e) != SP_OK) {
		sp_store_close(*store);
		return cli_error(CLI_FAIL, "%s", e.msg);
	}
	return CLI_OK;
}

int
cli_open_keys(struct cli *c, sp_cloud *cloud, sp_key_info **keys, size_t *n)
{
	sp_store *store;
	sp_errmsg e;
	int rc;

	if ((rc = cli_open(c, 0, &store, cloud)) != CLI_OK)
		return rc;
	rc = sp_keystore_list(store, keys, n, &e);
	sp_store_close(store);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	return CLI_OK;
}

int
cli_call(struct cli *c, const char *request,
    int (*field)(void *arg, const char *name, const char *value), void *arg,
    sp_errmsg *e)
{
	char sock[4200], *reply;
	size_t len;
	int rc;

	snprintf(sock, sizeof(sock), "%s/%s", c->state_dir, SP_CTL_SOCKET);
	rc = sp_ctl_call(sock, request, &reply, &len, 60000, e);
	if (rc == SP_ENOTRUNNING)
		return CLI_NOTRUNNING;
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e->msg);
	rc = sp_ctl_reply_parse(reply, len, field, arg, e);
	free(reply);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", rc == SP_ENOMEM ? sp_strerror(rc) : e->msg);
	return CLI_OK;
}

void
cli_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	struct cli c;
	sp_errmsg e;
	int opt;

	memset(&c, 0, sizeof(c));
	c.prog = "signpost";
	/* Stop at the first non-option: the rest belongs to the command. */
	while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': state = optarg; break;
		case 'h': usage(stdout); return CLI_OK;
		case 'V': printf("signpost %s\n", SP_VERSION); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (sodium_init() < 0)
		return cli_error(CLI_FAIL, "libsodium failed to initialise");
	if (sp_state_dir(state, NULL, c.state_dir, sizeof(c.state_dir), &e) != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 1;
			return commands[i].fn(&c, argc, argv);
		}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	fprintf(stderr, "signpost: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return CLI_USAGE;
}
