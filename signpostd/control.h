/*
 * The control protocol between `signpost` and signpostd, over the Unix
 * socket STATE/control.sock (mode 0600). Specified in docs/control.md:
 * one request line per connection, one reply, then the server closes.
 *
 * This header is the pure part (parsing and building messages) used by
 * both sides, plus the blocking client call used by the CLI. The server
 * adapter lives in control_server.c.
 */
#ifndef SP_CONTROL_H
#define SP_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

#define SP_CTL_REQUEST_MAX 4096
#define SP_CTL_MAX_WORDS 16
#define SP_CTL_REPLY_MAX (16 * 1024 * 1024)
#define SP_CTL_SOCKET "control.sock"

typedef struct sp_ctl_request {
	char buf[SP_CTL_REQUEST_MAX];
	char *word[SP_CTL_MAX_WORDS];   /* point into buf */
	size_t nwords;
} sp_ctl_request;

/* Parse one request line (without its LF). Pure. */
int sp_ctl_request_parse(const char *line, size_t len, sp_ctl_request *req,
    sp_errmsg *e);

/* A reply under construction; grows as needed, up to SP_CTL_REPLY_MAX. */
typedef struct sp_ctl_reply {
	char *buf;
	size_t len, cap;
	int err;            /* sticky, like sp_wire */
	uint64_t ticket;    /* the server's name for the request being answered */
	unsigned defer_ms;  /* set by sp_ctl_reply_defer */
} sp_ctl_reply;

void sp_ctl_reply_init(sp_ctl_reply *r);
void sp_ctl_reply_free(sp_ctl_reply *r);
/* Start a successful reply; then add fields; then sp_ctl_reply_end. */
void sp_ctl_reply_ok(sp_ctl_reply *r);
/* A field: name is [a-z0-9-]+, with "[]" appended for list items. The
 * value may hold TABs but no other control characters (they are replaced
 * by '?'). */
void sp_ctl_reply_field(sp_ctl_reply *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A failed reply: replaces anything added so far. */
void sp_ctl_reply_error(sp_ctl_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sp_ctl_reply_end(sp_ctl_reply *r);
/*
 * In a server's handler: the answer comes later (the work is off the
 * loop, or waits for an event). Returns the ticket to hand to
 * sp_ctl_server_finish; the client waits up to timeout_ms, then gets an
 * error. Add nothing to r after deferring.
 */
uint64_t sp_ctl_reply_defer(sp_ctl_reply *r, unsigned timeout_ms);

/* The short name of an error in replies ("not-found"), and back. */
const char *sp_ctl_errname(int code);
int sp_ctl_errcode(const char *name);

/*
 * Parse a whole reply. On "ok", calls field(arg, name, value) for each
 * field in order and returns SP_OK. On "error", returns the error's code
 * and puts its message in e. SP_EPROTO for a malformed reply. Pure.
 */
int sp_ctl_reply_parse(const char *text, size_t len,
    int (*field)(void *arg, const char *name, const char *value), void *arg,
    sp_errmsg *e);

/* Send one request to the daemon whose socket is at path and read the
 * whole reply (malloc'd into *reply). SP_ENOTRUNNING if none listens. */
int sp_ctl_call(const char *path, const char *request, char **reply, size_t *len,
    int timeout_ms, sp_errmsg *e);

#endif
