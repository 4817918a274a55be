/*
 * The UAPI socket `wg` talks to (/var/run/wireguard/NAME.sock), served like
 * the control socket: non-blocking, one request per connection, at most
 * UAPI_MAX_CONNS of them, each with a deadline, so a `wg` that stalls costs
 * itself and never the daemon. Requests and replies can hold private keys:
 * they live in guarded memory (sodium_malloc), grown by copying into a new
 * guarded buffer and freeing (which wipes) the old, never by realloc, and
 * are wiped when the connection ends.
 */
#ifndef SP_UAPI_SERVER_H
#define SP_UAPI_SERVER_H

#include <stddef.h>

#include "sp_err.h"
#include "sp_platform.h"

typedef struct sp_uapi_server sp_uapi_server;

/* What a request does. get writes the reply's settings into out (cap
 * bytes, NUL-terminated) and returns their length, or cap or more when
 * they did not fit (it is called again with more room); set applies the
 * lines of a set request and returns 0 or an errno value. */
typedef struct sp_uapi_handler {
	size_t (*get)(void *arg, char *out, size_t cap);
	int (*set)(void *arg, const char *body, size_t len);
} sp_uapi_handler;

int sp_uapi_server_start(sp_loop *loop, const char *path, const sp_uapi_handler *h,
    void *arg, sp_uapi_server **out, sp_errmsg *e);
/* Close every connection, remove the socket file. NULL is a no-op. */
void sp_uapi_server_stop(sp_uapi_server *s);

#endif
