/* The control socket's server side: an adapter between the event loop and
 * a handler that turns a parsed request into a reply. */
#ifndef SP_CONTROL_SERVER_H
#define SP_CONTROL_SERVER_H

#include "control.h"
#include "sp_platform.h"

typedef void (*sp_ctl_handler)(void *arg, const sp_ctl_request *req,
    sp_ctl_reply *reply);
typedef struct sp_ctl_server sp_ctl_server;
/* A deferred request's asker left (or its time ran out) before the answer:
 * whoever holds its ticket drops it; a later finish is a no-op. */
typedef void (*sp_ctl_gone)(void *arg, uint64_t ticket);

/* Listen at path (mode 0600). Only our own uid and root may talk to it. */
int sp_ctl_server_start(sp_loop *loop, const char *path, sp_ctl_handler handler,
    void *arg, sp_ctl_server **out, sp_errmsg *e);
/* Close every connection, remove the socket file, free. NULL is a no-op. */
void sp_ctl_server_stop(sp_ctl_server *s);
/* Send the reply to a deferred request (sp_ctl_reply_defer). r is built
 * like a handler's (ok or error, then fields) and emptied here. If the
 * client has gone or timed out, the reply is dropped. */
void sp_ctl_server_finish(sp_ctl_server *s, uint64_t ticket, sp_ctl_reply *r);
/* Tell gone (with the handler's arg) of deferred requests given up. */
void sp_ctl_server_set_gone(sp_ctl_server *s, sp_ctl_gone gone);

#endif
