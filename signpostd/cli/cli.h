/* The signpost CLI: one function per subcommand, dispatched from cli.c. */
#ifndef SP_CLI_H
#define SP_CLI_H

#include "sp_cloud.h"
#include "sp_key.h"
#include "sp_platform.h"

/* Exit codes: 0 ok, 1 failure, 2 usage, 3 daemon not running. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_NOTRUNNING = 3 };

struct cli {
	const char *prog;
	char state_dir[4096];
};

int cli_init(struct cli *c, int argc, char **argv);
int cli_status(struct cli *c, int argc, char **argv);
int cli_zone(struct cli *c, int argc, char **argv);
int cli_keys(struct cli *c, int argc, char **argv);

/* Open the state store (taking its lock when about to change it offline)
 * and load the cloud; prints the error and returns CLI_FAIL on failure. */
int cli_open(struct cli *c, int lock, sp_store **store, sp_cloud *cloud);
/* cli_open, then the public information of every key (*keys malloc'd). */
int cli_open_keys(struct cli *c, sp_cloud *cloud, sp_key_info **keys, size_t *n);
/*
 * Send one request to the running daemon and call field() for each field
 * of its reply. Returns CLI_OK, CLI_NOTRUNNING (e names the socket, nothing
 * printed), or CLI_FAIL after printing the daemon's error.
 */
int cli_call(struct cli *c, const char *request,
    int (*field)(void *arg, const char *name, const char *value), void *arg,
    sp_errmsg *e);
int cli_device(struct cli *c, int argc, char **argv);
int cli_pair(struct cli *c, int argc, char **argv);
int cli_join(struct cli *c, int argc, char **argv);
int cli_devices(struct cli *c, int argc, char **argv);
int cli_revoke(struct cli *c, int argc, char **argv);
int cli_rename(struct cli *c, int argc, char **argv);
/* The fields of a control reply, in order (docs/control.md); as many as
 * the reply holds (a gateway's status lists every peer). */
struct cli_fields {
	char **name;
	char **value;
	size_t n, cap;
};
/* sp_ctl_reply_parse's callback, collecting into a struct cli_fields. */
int cli_fields_collect(void *arg, const char *name, const char *value);
/* A field's value, or NULL (cli_field: "?"). */
const char *cli_field_find(const struct cli_fields *f, const char *name);
const char *cli_field(const struct cli_fields *f, const char *name);
/* The fields as one JSON object, first (may be "") its first members. */
void cli_fields_json(const struct cli_fields *f, const char *first);
void cli_fields_free(struct cli_fields *f);
/* One request to the daemon, its reply's fields in f (freed by the
 * caller). SP_ENOTRUNNING if none runs; the daemon's error code with its
 * message in e otherwise. Nothing printed. */
int cli_ask(struct cli *c, const char *request, struct cli_fields *f, int timeout_ms,
    sp_errmsg *e);

/* Print "signpost: <msg>" to stderr and return code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a JSON string literal. */
void cli_json_string(const char *s);

#endif
