/*
 * A framed stream: one TCP connection carrying messages that each start
 * with their 16-bit length (the control plane, later the relay over TLS's
 * plain side). Non-blocking, with a bounded input (one message), a bounded
 * output (the caller's limit), and a deadline: no byte received for
 * timeout_ms closes it. Whoever owns it pings often enough.
 */
#ifndef SP_STREAM_H
#define SP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_platform.h"

typedef struct sp_stream sp_stream;

/* A whole message, without its length prefix (borrowed until return). */
typedef void (*sp_stream_msg_fn)(void *arg, const uint8_t *msg, size_t len);
/* The stream ended (why says how); the callee frees it (sp_stream_free). */
typedef void (*sp_stream_end_fn)(void *arg, const char *why);
/* A connection started with connect() finished connecting. */
typedef void (*sp_stream_up_fn)(void *arg);

/*
 * Take over fd (connected, or connecting: then up runs once it is), with
 * messages of at most max_msg bytes in and at most out_max bytes queued
 * out. fd is closed by sp_stream_free.
 */
int sp_stream_new(sp_loop *loop, int fd, int connecting, size_t max_msg, size_t out_max,
    unsigned timeout_ms, sp_stream_msg_fn msg, sp_stream_up_fn up, sp_stream_end_fn end,
    void *arg, sp_stream **out);
/* Queue one framed message (length prefix included). SP_ESPACE when the
 * peer is not reading and the queue is full: the caller ends the stream. */
int sp_stream_send(sp_stream *s, const uint8_t *framed, size_t len);
/* A new deadline, from now (a connection past its hello lives longer). */
void sp_stream_set_timeout(sp_stream *s, unsigned timeout_ms);
/* End it from its owner's side: the end callback runs (once), with why. */
void sp_stream_close(sp_stream *s, const char *why);
/* The peer's address. */
int sp_stream_peer(const sp_stream *s, struct sockaddr_storage *ss, socklen_t *len);
/* Free it, closing its socket and wiping its buffers; safe from inside
 * any of its callbacks (the stream goes when the callback returns). */
void sp_stream_free(sp_stream *s);

#endif
