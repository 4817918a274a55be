/*
 * Datagrams over TLS on TCP (docs/relay.md, "TCP 443"): where UDP is
 * blocked, a member's WireGuard session with its gateway, its control
 * plane and its relayed traffic all ride one TLS 1.3 connection, each
 * datagram framed as a 16-bit length and its bytes. OpenSSL does TLS; this
 * adapter is non-blocking, its buffers bounded (a datagram that does not
 * fit is dropped, as UDP would), with deadlines for the handshake and
 * for silence.
 *
 * The gateway's certificate is self-signed with its identity key
 * (Ed25519): the key a member pinned at pairing is the certificate's key,
 * so the member checks the certificate against the pin alone, and the
 * zone publishes the same key as a TLSA record (3 1 1) for anyone else.
 */
#ifndef SP_TLS_H
#define SP_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sp_err.h"
#include "sp_key.h"
#include "sp_platform.h"

#define SP_TLS_OUT_MAX (512 * 1024)   /* queued per connection, then drops */
#define SP_TLS_HANDSHAKE_MS 10000
#define SP_TLS_IDLE_MS 120000         /* nothing received: the peer is gone */

typedef struct sp_tls_conn sp_tls_conn;
typedef struct sp_tls_server sp_tls_server;

typedef struct sp_tls_handler {
	/* The connection is up (a client: the gateway's key checked). */
	void (*up)(void *arg, sp_tls_conn *c);
	/* One datagram; msg may be changed in place, until the return. */
	void (*dgram)(void *arg, sp_tls_conn *c, uint8_t *msg, size_t len);
	/* It ended; c is freed after this returns. */
	void (*down)(void *arg, sp_tls_conn *c, const char *why);
} sp_tls_handler;

/* The gateway: accept on addr with a certificate of key (a device key with
 * its private half); at most max_conns at once. */
int sp_tls_server_start(sp_loop *loop, const struct sockaddr *addr, socklen_t len,
    const sp_key *key, const char *name, size_t max_conns, const sp_tls_handler *h, void *arg,
    sp_tls_server **out, sp_errmsg *e);
/* Ends every connection (down is called for each), then the listener. */
void sp_tls_server_stop(sp_tls_server *s);
size_t sp_tls_server_conns(const sp_tls_server *s);

/* A member: connect to addr and accept only a certificate whose key is
 * pinned (the gateway's Ed25519 key). Never blocks: up or down follow. */
int sp_tls_connect(sp_loop *loop, const struct sockaddr *addr, socklen_t len,
    const uint8_t pinned[SP_KEY_PUBLIC_BYTES], const sp_tls_handler *h, void *arg,
    sp_tls_conn **out, sp_errmsg *e);

/* Queue one datagram (at most 65535 bytes), as gathered from iov.
 * SP_ESPACE when the queue is full (dropped, as UDP drops), SP_EIO when
 * the connection is not up. */
int sp_tls_sendv(sp_tls_conn *c, const struct iovec *iov, int n);
/* The owner's own pointer for a connection (a server's, per member). */
void sp_tls_set_user(sp_tls_conn *c, void *user);
void *sp_tls_user(const sp_tls_conn *c);
/* End it now (down is not called for a close the owner asked for). */
void sp_tls_close(sp_tls_conn *c);

typedef struct sp_tls_stats {
	uint64_t dgrams_in, dgrams_out, dropped_out;
} sp_tls_stats;
const sp_tls_stats *sp_tls_stats_of(const sp_tls_conn *c);

#endif
