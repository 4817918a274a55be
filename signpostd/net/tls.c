/* Datagrams over TLS (see tls.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "sp_log.h"
#include "tls.h"

#define FRAME_MAX 65535
#define IN_CAP (2 + FRAME_MAX)
#define TICK_MS 5000

enum cstate { C_CONNECTING = 1, C_HANDSHAKE, C_UP };

struct sp_tls_conn {
	sp_loop *loop;
	sp_tls_server *srv;          /* the server that accepted it; NULL: a client */
	SSL_CTX *own_ctx;            /* a client's */
	int fd;
	SSL *ssl;
	sp_watch *w;
	sp_timer *timer;
	enum cstate state;
	uint8_t pinned[SP_KEY_PUBLIC_BYTES];
	const sp_tls_handler *h;
	void *arg;
	uint8_t in[IN_CAP];
	size_t inlen;
	uint8_t *out;
	size_t outlen, outcap;
	uint64_t started_ms, last_rx_ms;
	int busy, doomed, quiet;     /* in a callback; to free after it; close without down */
	void *user;
	sp_tls_stats st;
};

struct sp_tls_server {
	sp_loop *loop;
	SSL_CTX *ctx;
	int fd;
	sp_watch *w;
	size_t max;
	sp_tls_conn **conns;
	size_t nconns;
	const sp_tls_handler *h;
	void *arg;
};

static void conn_io(void *arg, int fd, unsigned events);

/* The queue is written from its head as far as the socket takes (partial
 * writes), and it may grow, and move, between a write that wanted to wait
 * and the one that retries it. */
static void
set_modes(SSL_CTX *ctx)
{
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/* The last OpenSSL error, for a log line. */
static const char *
ssl_why(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "closed";
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static void
conn_free(sp_tls_conn *c)
{
	if (c->srv != NULL) {
		sp_tls_server *s = c->srv;
		for (size_t i = 0; i < s->nconns; i++)
			if (s->conns[i] == c) {
				s->conns[i] = s->conns[--s->nconns];
				break;
			}
	}
	sp_watch_cancel(c->w);
	sp_timer_free(c->timer);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->own_ctx != NULL)
		SSL_CTX_free(c->own_ctx);
	if (c->fd >= 0)
		close(c->fd);
	/* What went through may be anything the members send. */
	sodium_memzero(c->in, sizeof(c->in));
	if (c->out != NULL) {
		sodium_memzero(c->out, c->outcap);
		free(c->out);
	}
	free(c);
}

/* End c: tell its owner (unless it asked), free it now or after the
 * callback it is in. */
static void
conn_down(sp_tls_conn *c, const char *why)
{
	if (c->doomed)
		return;
	c->doomed = 1;
	sp_watch_set_events(c->w, 0);
	if (!c->quiet && c->h->down != NULL) {
		c->busy++;
		c->h->down(c->arg, c, why);
		c->busy--;
	}
	if (c->busy == 0)
		conn_free(c);
}

void
sp_tls_close(sp_tls_conn *c)
{
	if (c == NULL)
		return;
	c->quiet = 1;
	conn_down(c, "closed");
}

void
sp_tls_set_user(sp_tls_conn *c, void *user)
{
	c->user = user;
}

void *
sp_tls_user(const sp_tls_conn *c)
{
	return c->user;
}

const sp_tls_stats *
sp_tls_stats_of(const sp_tls_conn *c)
{
	return &c->st;
}

static void
want(sp_tls_conn *c, int write)
{
	sp_watch_set_events(c->w, SP_IO_READ | (write || c->outlen > 0 ? SP_IO_WRITE : 0));
}

/* Write what is queued; 0, or -1 when the connection failed. */
static int
flush_out(sp_tls_conn *c)
{
	while (c->outlen > 0) {
		int n = SSL_write(c->ssl, c->out, (int)(c->outlen > 1 << 30 ? 1 << 30 : c->outlen));
		if (n > 0) {
			memmove(c->out, c->out + n, c->outlen - (size_t)n);
			c->outlen -= (size_t)n;
			continue;
		}
		switch (SSL_get_error(c->ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			return 0;
		default:
			return -1;
		}
	}
	return 0;
}

/* Whole frames out of the read buffer, to the owner. */
static void
deliver(sp_tls_conn *c)
{
	size_t off = 0;

	while (!c->doomed && c->inlen - off >= 2) {
		size_t n = (size_t)c->in[off] << 8 | c->in[off + 1];
		if (c->inlen - off < 2 + n)
			break;
		c->st.dgrams_in++;
		if (n > 0) {
			c->busy++;
			c->h->dgram(c->arg, c, c->in + off + 2, n);
			c->busy--;
		}
		off += 2 + n;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

static int
check_pin(sp_tls_conn *c, const char **why)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	EVP_PKEY *pk = cert != NULL ? X509_get0_pubkey(cert) : NULL;
	uint8_t raw[SP_KEY_PUBLIC_BYTES];
	size_t len = sizeof(raw);

	if (pk == NULL || EVP_PKEY_id(pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pk, raw, &len) != 1 || len != sizeof(raw)) {
		*why = "the server's certificate has no Ed25519 key";
		return -1;
	}
	if (sodium_memcmp(raw, c->pinned, sizeof(raw)) != 0) {
		*why = "the server's certificate is not the gateway's key pinned at pairing";
		return -1;
	}
	return 0;
}

static void
conn_io(void *arg, int fd, unsigned events)
{
	sp_tls_conn *c = arg;
	char eb[160];
	int r;

	(void)events;
	c->busy++;
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
			c->busy--;
			conn_down(c, err ? strerror(err) : "connect failed");
			return;
		}
		c->state = C_HANDSHAKE;
	}
	if (c->state == C_HANDSHAKE) {
		const char *why = NULL;
		if ((r = SSL_do_handshake(c->ssl)) != 1) {
			int e = SSL_get_error(c->ssl, r);
			c->busy--;
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				want(c, e == SSL_ERROR_WANT_WRITE);
			else
				conn_down(c, ssl_why(eb, sizeof(eb)));
			return;
		}
		if (c->srv == NULL && check_pin(c, &why) != 0) {
			c->busy--;
			conn_down(c, why);
			return;
		}
		c->state = C_UP;
		c->last_rx_ms = sp_clock_mono_ms();
		if (c->h->up != NULL)
			c->h->up(c->arg, c);
	}
	/* Read everything there is (TLS may hold more than the socket). */
	while (!c->doomed) {
		r = SSL_read(c->ssl, c->in + c->inlen, (int)(sizeof(c->in) - c->inlen));
		if (r > 0) {
			c->inlen += (size_t)r;
			c->last_rx_ms = sp_clock_mono_ms();
			deliver(c);
			continue;
		}
		r = SSL_get_error(c->ssl, r);
		if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
			break;
		c->busy--;
		conn_down(c, r == SSL_ERROR_ZERO_RETURN ? "closed by the other side" :
		    ssl_why(eb, sizeof(eb)));
		return;
	}
	if (!c->doomed && flush_out(c) != 0) {
		c->busy--;
		conn_down(c, ssl_why(eb, sizeof(eb)));
		return;
	}
	c->busy--;
	if (c->doomed) {
		if (c->busy == 0)
			conn_free(c);
		return;
	}
	want(c, 0);
}

static void
conn_tick(void *arg)
{
	sp_tls_conn *c = arg;
	uint64_t now = sp_clock_mono_ms();

	if (c->state != C_UP && now - c->started_ms >= SP_TLS_HANDSHAKE_MS) {
		conn_down(c, "no TLS handshake in time");
		return;
	}
	if (c->state == C_UP && now - c->last_rx_ms >= SP_TLS_IDLE_MS) {
		conn_down(c, "nothing received for too long");
		return;
	}
	sp_timer_arm(c->timer, TICK_MS);
}

int
sp_tls_sendv(sp_tls_conn *c, const struct iovec *iov, int n)
{
	size_t total = 0;

	if (c == NULL || c->state != C_UP || c->doomed)
		return SP_EIO;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total > FRAME_MAX)
		return SP_EINVAL;
	if (c->outlen + 2 + total > SP_TLS_OUT_MAX) {
		c->st.dropped_out++;
		return SP_ESPACE;
	}
	if (c->outlen + 2 + total > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 65536;
		uint8_t *o;
		while (cap < c->outlen + 2 + total)
			cap *= 2;
		if (cap > SP_TLS_OUT_MAX)
			cap = SP_TLS_OUT_MAX;
		/* Grow by copy, wiping the old: it held members' bytes. */
		if ((o = malloc(cap)) == NULL) {
			c->st.dropped_out++;
			return SP_ENOMEM;
		}
		if (c->out != NULL) {
			memcpy(o, c->out, c->outlen);
			sodium_memzero(c->out, c->outcap);
			free(c->out);
		}
		c->out = o;
		c->outcap = cap;
	}
	c->out[c->outlen++] = (uint8_t)(total >> 8);
	c->out[c->outlen++] = (uint8_t)total;
	for (int i = 0; i < n; i++) {
		memcpy(c->out + c->outlen, iov[i].iov_base, iov[i].iov_len);
		c->outlen += iov[i].iov_len;
	}
	c->st.dgrams_out++;
	/* Written when the socket is writable: everything queued in this
	 * turn of the loop goes in one TLS write. */
	want(c, 1);
	return SP_OK;
}

static sp_tls_conn *
conn_new(sp_loop *loop, int fd, SSL_CTX *ctx, const sp_tls_handler *h, void *arg)
{
	sp_tls_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL)
		return NULL;
	c->loop = loop;
	c->fd = fd;
	c->h = h;
	c->arg = arg;
	c->started_ms = sp_clock_mono_ms();
	/* Datagrams carry their own pacing: no Nagle delay. Best effort. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1 ||
	    sp_loop_watch(loop, fd, SP_IO_READ, conn_io, c, &c->w) != SP_OK ||
	    sp_timer_new(loop, conn_tick, c, &c->timer) != SP_OK) {
		if (c->ssl != NULL)
			SSL_free(c->ssl);
		sp_watch_cancel(c->w);
		free(c);
		return NULL;
	}
	sp_timer_arm(c->timer, TICK_MS);
	return c;
}

/* ---- the gateway's side ------------------------------------------------------ */

/* A self-signed certificate of the identity key; its subject names the
 * gateway. Valid from an hour ago for ten years: members check the key,
 * not the dates. */
static int
make_cert(SSL_CTX *ctx, const sp_key *key, const char *name, sp_errmsg *e)
{
	uint8_t *seed = sodium_malloc(SP_KEY_SEED_BYTES);
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	int rc = SP_ECRYPTO;

	if (seed == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	if (sp_key_seed(key, seed) != SP_OK) {
		sodium_free(seed);
		return sp_errf(e, SP_EINVAL, "TLS: no private key to make the certificate with");
	}
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, SP_KEY_SEED_BYTES);
	sodium_free(seed);   /* wipes */
	if (pk == NULL || (x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) == NULL ||
	    X509_set_pubkey(x, pk) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    X509_sign(x, pk, NULL) <= 0 || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
		char eb[160];
		sp_errf(e, SP_ECRYPTO, "TLS: making the certificate: %s", ssl_why(eb, sizeof(eb)));
	} else {
		rc = SP_OK;
	}
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

static void
on_accept(void *arg, int fd, unsigned events)
{
	sp_tls_server *s = arg;

	(void)events;
	for (int k = 0; k < 16; k++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		sp_tls_conn *c, **nc;
		if (cfd < 0)
			return;
		if (s->nconns == s->max ||
		    (nc = realloc(s->conns, (s->nconns + 1) * sizeof(*nc))) == NULL) {
			close(cfd);   /* full: the member tries again later */
			continue;
		}
		s->conns = nc;
		if ((c = conn_new(s->loop, cfd, s->ctx, s->h, s->arg)) == NULL) {
			close(cfd);
			continue;
		}
		c->srv = s;
		c->state = C_HANDSHAKE;
		SSL_set_accept_state(c->ssl);
		s->conns[s->nconns++] = c;
	}
}

int
sp_tls_server_start(sp_loop *loop, const struct sockaddr *addr, socklen_t len,
    const sp_key *key, const char *name, size_t max_conns, const sp_tls_handler *h, void *arg,
    sp_tls_server **out, sp_errmsg *e)
{
	sp_tls_server *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	s->loop = loop;
	s->fd = -1;
	s->max = max_conns;
	s->h = h;
	s->arg = arg;
	*out = s;
	if ((s->ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(s->ctx, TLS1_3_VERSION) != 1)
		return sp_errf(e, SP_ECRYPTO, "TLS: no context");
	set_modes(s->ctx);
	if ((rc = make_cert(s->ctx, key, name, e)) != SP_OK)
		return rc;
	if ((rc = sp_tcp_listen(addr, len, &s->fd, e)) != SP_OK)
		return rc;
	if ((rc = sp_loop_watch(loop, s->fd, SP_IO_READ, on_accept, s, &s->w)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	return SP_OK;
}

void
sp_tls_server_stop(sp_tls_server *s)
{
	if (s == NULL)
		return;
	/* Each connection's owner hears of its end, and frees what it kept. */
	while (s->nconns > 0)
		conn_down(s->conns[s->nconns - 1], "stopping");   /* takes itself off the list */
	free(s->conns);
	sp_watch_cancel(s->w);
	if (s->fd >= 0)
		close(s->fd);
	if (s->ctx != NULL)
		SSL_CTX_free(s->ctx);
	free(s);
}

size_t
sp_tls_server_conns(const sp_tls_server *s)
{
	return s != NULL ? s->nconns : 0;
}

/* ---- a member's side ----------------------------------------------------------- */

/* Any certificate gets through OpenSSL's own check: ours is the pin,
 * checked once the handshake is done (check_pin). */
static int
accept_for_pin(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

int
sp_tls_connect(sp_loop *loop, const struct sockaddr *addr, socklen_t len,
    const uint8_t pinned[SP_KEY_PUBLIC_BYTES], const sp_tls_handler *h, void *arg,
    sp_tls_conn **out, sp_errmsg *e)
{
	SSL_CTX *ctx;
	sp_tls_conn *c;
	int fd;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
		SSL_CTX_free(ctx);
		return sp_errf(e, SP_ECRYPTO, "TLS: no context");
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_for_pin);
	set_modes(ctx);
	if ((fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		SSL_CTX_free(ctx);
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	}
	if (connect(fd, addr, len) != 0 && errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		SSL_CTX_free(ctx);
		return sp_errf(e, SP_EIO, "connect: %s", strerror(err));
	}
	if ((c = conn_new(loop, fd, ctx, h, arg)) == NULL) {
		close(fd);
		SSL_CTX_free(ctx);
		return sp_errf(e, SP_ENOMEM, "out of memory");
	}
	c->own_ctx = ctx;
	c->state = C_CONNECTING;
	memcpy(c->pinned, pinned, sizeof(c->pinned));
	SSL_set_connect_state(c->ssl);
	sp_watch_set_events(c->w, SP_IO_WRITE);
	*out = c;
	return SP_OK;
}
