/* signpost status: ask the running daemon how it is. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"

#define MAX_FIELDS 256

struct fields {
	char *name[MAX_FIELDS];
	char *value[MAX_FIELDS];
	size_t n;
};

static int
collect(void *arg, const char *name, const char *value)
{
	struct fields *f = arg;

	if (f->n == MAX_FIELDS)
		return SP_EPROTO;
	f->name[f->n] = strdup(name);
	f->value[f->n] = strdup(value);
	if (f->name[f->n] == NULL || f->value[f->n] == NULL)
		return SP_ENOMEM;
	f->n++;
	return SP_OK;
}

static const char *
find(const struct fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

static const char *
get(const struct fields *f, const char *name)
{
	const char *v = find(f, name);

	return v != NULL ? v : "?";
}

/* Field values that are numbers in JSON; everything else is a string. */
static int
numeric(const char *name)
{
	static const char *const names[] = { "pid", "uptime", "tag", "algorithm",
		"zone-serial", "devices", "dns-queries", "dns-dropped", "rrl-dropped",
		"rrl-slipped", "tunnel-port", "tunnel-dropped", "handshake", "rx", "tx" };

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
static void
print_json(const struct fields *f)
{
	printf("{\"running\":true");
	for (size_t i = 0; i < f->n; i++) {
		size_t len = strlen(f->name[i]);
		int list = len > 2 && strcmp(f->name[i] + len - 2, "[]") == 0;
		int seen = 0;

		for (size_t j = 0; j < i; j++)
			if (strcmp(f->name[j], f->name[i]) == 0)
				seen = 1;
		if (seen)
			continue;
		printf(",");
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

static void
print_text(const struct fields *f)
{
	unsigned long up = strtoul(get(f, "uptime"), NULL, 10);

	printf("signpostd %s is running (pid %s, up %lud %02luh%02lum%02lus)\n",
	    get(f, "version"), get(f, "pid"), up / 86400, up / 3600 % 24, up / 60 % 60,
	    up % 60);
	printf("  role:    %s\n", get(f, "role"));
	printf("  zone:    %s\n", get(f, "zone"));
	printf("  device:  %s\n", get(f, "name"));
	printf("  state:   %s\n", get(f, "state-dir"));
	printf("  started: %s\n", get(f, "started"));
	if (find(f, "zone-serial") != NULL) {
		printf("  serving: zone serial %s, %s devices\n", get(f, "zone-serial"),
		    get(f, "devices"));
		printf("  dns:     %s queries, %s malformed or dropped, rate limiting dropped "
		    "%s and slipped %s\n", get(f, "dns-queries"), get(f, "dns-dropped"),
		    get(f, "rrl-dropped"), get(f, "rrl-slipped"));
	}
	if (find(f, "tunnel") != NULL) {
		printf("  tunnel:  %s, WireGuard on UDP %s, %s packets dropped (%s)\n", get(f, "tunnel"),
		    get(f, "tunnel-port"), get(f, "tunnel-dropped"), get(f, "tunnel-drops"));
		for (size_t i = 0; i < f->n; i++)
			if (strcmp(f->name[i], "peers[]") == 0)
				printf("    peer %s\n", f->value[i]);
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
	struct fields f;
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
	rc = sp_ctl_reply_parse(reply, len, collect, &f, &e);
	free(reply);
	if (rc == SP_OK) {
		if (json)
			print_json(&f);
		else
			print_text(&f);
	} else {
		cli_error(CLI_FAIL, "%s", rc == SP_ENOMEM ? sp_strerror(rc) : e.msg);
	}
	for (size_t i = 0; i < f.n; i++) {
		free(f.name[i]);
		free(f.value[i]);
	}
	return rc == SP_OK ? CLI_OK : CLI_FAIL;
}
