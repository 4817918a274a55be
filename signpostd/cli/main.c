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
	{ "pair", cli_pair, "pair --name NAME [--ttl 10m] [--qr terminal|png:FILE|svg:FILE] [--uri]\n"
	    "                [--wait|--no-wait] [--wireguard]" },
	{ "join", cli_join, "join URI | join - | join --qr-image FILE   [--no-start] [--interface NAME]" },
	{ "devices", cli_devices, "devices [--json]" },
	{ "revoke", cli_revoke, "revoke NAME" },
	{ "rename", cli_rename, "rename OLD NEW" },
	{ "status", cli_status, "status [--json]" },
	{ "keys", cli_keys, "keys" },
	{ "zone", cli_zone, "zone ds | dnskey | anchor --format bind|unbound | export | rollover zsk|ksk [--complete]" },
	{ "device", cli_device, "device add NAME --key KEY [--sshfp FILE] | device remove NAME | device list\n"
	    "                (the low-level form: a device by its key, no pairing)" },
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
cli_fields_collect(void *arg, const char *name, const char *value)
{
	struct cli_fields *f = arg;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		char **nn = realloc(f->name, cap * sizeof(*nn)), **nv;
		if (nn == NULL)
			return SP_ENOMEM;
		f->name = nn;
		if ((nv = realloc(f->value, cap * sizeof(*nv))) == NULL)
			return SP_ENOMEM;
		f->value = nv;
		f->cap = cap;
	}
	f->name[f->n] = strdup(name);
	f->value[f->n] = strdup(value);
	if (f->name[f->n] == NULL || f->value[f->n] == NULL) {
		free(f->name[f->n]);
		free(f->value[f->n]);
		return SP_ENOMEM;
	}
	f->n++;
	return SP_OK;
}

const char *
cli_field_find(const struct cli_fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

const char *
cli_field(const struct cli_fields *f, const char *name)
{
	const char *v = cli_field_find(f, name);

	return v != NULL ? v : "?";
}

/* Field values that are numbers in JSON; everything else is a string. */
static int
numeric(const char *name)
{
	static const char *const names[] = { "pid", "uptime", "tag", "algorithm",
		"zone-serial", "devices", "dns-queries", "dns-dropped", "rrl-dropped",
		"rrl-slipped", "tunnel-port", "tunnel-dropped", "handshake", "rx", "tx",
		"gateway-handshake", "pairing-pending", "ttl", "members-connected",
		"control-plane-refused" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

static void
json_value(const char *name, const char *value)
{
	const char *digits = value[0] == '-' ? value + 1 : value;

	if (numeric(name) && digits[0] != '\0' && strspn(digits, "0123456789") == strlen(digits))
		fputs(value, stdout);
	else if (numeric(name) && strcmp(value, "-") == 0)
		fputs("null", stdout);   /* a number that has no value, like a handshake never made */
	else
		cli_json_string(value);
}

/* A list item "k=v k=v" becomes an object. */
static void
json_object(const char *value)
{
	char *copy = strdup(value), *save = NULL, *tok;
	int first = 1;

	if (copy == NULL)
		return;
	putchar('{');
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		printf("%s", first ? "" : ",");
		cli_json_string(tok);
		putchar(':');
		json_value(tok, eq + 1);
		first = 0;
	}
	putchar('}');
	free(copy);
}

/* The generic mapping of docs/control.md: "name" fields become members,
 * "name[]" fields become arrays of objects. */
void
cli_fields_json(const struct cli_fields *f, const char *first)
{
	printf("{%s", first);
	for (size_t i = 0; i < f->n; i++) {
		size_t len = strlen(f->name[i]);
		int list = len > 2 && strcmp(f->name[i] + len - 2, "[]") == 0;
		int seen = 0;

		for (size_t j = 0; j < i; j++)
			if (strcmp(f->name[j], f->name[i]) == 0)
				seen = 1;
		if (seen)
			continue;
		printf("%s", i > 0 || first[0] ? "," : "");
		if (!list) {
			cli_json_string(f->name[i]);
			putchar(':');
			json_value(f->name[i], f->value[i]);
			continue;
		}
		f->name[i][len - 2] = '\0';
		cli_json_string(f->name[i]);
		f->name[i][len - 2] = '[';
		printf(":[");
		for (size_t j = i, k = 0; j < f->n; j++)
			if (strcmp(f->name[j], f->name[i]) == 0) {
				printf("%s", k++ ? "," : "");
				json_object(f->value[j]);
			}
		putchar(']');
	}
	printf("}\n");
}

void
cli_fields_free(struct cli_fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->name[i]);
		/* A value may be a pairing code. */
		sodium_memzero(f->value[i], strlen(f->value[i]));
		free(f->value[i]);
	}
	free(f->name);
	free(f->value);
	memset(f, 0, sizeof(*f));
}

int
cli_ask(struct cli *c, const char *request, struct cli_fields *f, int timeout_ms, sp_errmsg *e)
{
	char sock[4200], *reply;
	size_t len;
	int rc;

	memset(f, 0, sizeof(*f));
	snprintf(sock, sizeof(sock), "%s/%s", c->state_dir, SP_CTL_SOCKET);
	if ((rc = sp_ctl_call(sock, request, &reply, &len, timeout_ms, e)) != SP_OK)
		return rc;
	rc = sp_ctl_reply_parse(reply, len, cli_fields_collect, f, e);
	/* A reply may hold a pairing code: it leaves no copy behind. */
	sodium_memzero(reply, len);
	free(reply);
	if (rc != SP_OK)
		cli_fields_free(f);
	return rc;
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
			/* 0, not 1: glibc then also forgets the "+" (stop at
			 * the first non-option) of the parse above, so a
			 * command's options may follow its arguments. */
			optind = 0;
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
