/*
 * DNS over TCP (RFC 7766), bounded like NSD's: at most GW_TCP_MAX_CONNS
 * connections; each one holds at most TCP_OUT_HIGH unsent bytes before it
 * stops reading queries (a client that pipelines and never reads stalls
 * only itself); each has a deadline, dns-tcp-timeout seconds without
 * progress either way, so a slow transfer stays alive while it moves and a
 * silent client is closed. A transfer is produced as the client reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_int.h"
#include "sp_log.h"

#define TCP_MSG_MAX (2 + 65535)
/* Stop reading (and producing a transfer) with this much unsent. */
#define TCP_OUT_HIGH (64 * 1024)
/* Queued only below TCP_OUT_HIGH, one message at most each time. */
#define TCP_OUT_CAP (TCP_OUT_HIGH + TCP_MSG_MAX)
#define TCP_TIMEOUT_DEFAULT_MS 10000

struct tcp_conn {
	sp_gateway *g;
	int fd;
	sp_watch *watch;
	sp_timer *deadline;
	uint8_t in[TCP_MSG_MAX];
	size_t inlen;
	uint8_t *out;                 /* TCP_OUT_CAP bytes, made on first use */
	size_t outlen, outsent;
	struct xfr_out *xfr;          /* a transfer being sent */
};

static uint64_t
timeout_ms(const sp_gateway *g)
{
	return g->d->conf.dns_tcp_timeout > 0 ? (uint64_t)g->d->conf.dns_tcp_timeout * 1000
	    : TCP_TIMEOUT_DEFAULT_MS;
}

static void
tcp_close(struct tcp_conn *c)
{
	sp_gateway *g = c->g;

	for (size_t i = 0; i < GW_TCP_MAX_CONNS; i++)
		if (g->conns[i] == c)
			g->conns[i] = NULL;
	gw_xfr_free(c->xfr);
	sp_watch_cancel(c->watch);
	sp_timer_free(c->deadline);
	close(c->fd);
	free(c->out);
	free(c);
}

static void
on_deadline(void *arg)
{
	struct tcp_conn *c = arg;

	c->g->tcp_timeouts++;
	sp_debug("DNS: closing a TCP connection idle for %llu ms",
	    (unsigned long long)timeout_ms(c->g));
	tcp_close(c);
}

static size_t
pending(const struct tcp_conn *c)
{
	return c->outlen - c->outsent;
}

size_t
gw_tcp_room(const struct tcp_conn *c)
{
	return pending(c) >= TCP_OUT_HIGH ? 0 : TCP_OUT_CAP - pending(c);
}

int
gw_tcp_queue(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (len > 65535 || pending(c) >= TCP_OUT_HIGH)
		return SP_ESPACE;
	if (c->out == NULL && (c->out = malloc(TCP_OUT_CAP)) == NULL)
		return SP_ENOMEM;
	if (c->outlen + 2 + len > TCP_OUT_CAP) {
		memmove(c->out, c->out + c->outsent, pending(c));
		c->outlen -= c->outsent;
		c->outsent = 0;
	}
	c->out[c->outlen] = (uint8_t)(len >> 8);
	c->out[c->outlen + 1] = (uint8_t)len;
	memcpy(c->out + c->outlen + 2, msg, len);
	c->outlen += 2 + len;
	return SP_OK;
}

/* Answer the complete queries in the input while output has room. */
static int
answer_queries(struct tcp_conn *c)
{
	sp_gateway *g = c->g;
	uint8_t resp[65535];

	while (c->xfr == NULL && c->inlen >= 2 && pending(c) < TCP_OUT_HIGH) {
		size_t mlen = (size_t)c->in[0] << 8 | c->in[1], len;
		sp_answer_info info;
		int rc = SP_OK;

		if (c->inlen < 2 + mlen)
			break;
		len = sp_answer(g->answerer, c->in + 2, mlen, 1, sp_clock_wall(), resp,
		    sizeof(resp), &info);
		if (info.kind == SP_ANS_XFR)
			rc = gw_xfr_request(g, c, c->in + 2, mlen, &c->xfr);
		else if (len > 0)
			rc = gw_tcp_queue(c, resp, len);
		if (rc != SP_OK)
			return rc;
		memmove(c->in, c->in + 2 + mlen, c->inlen - 2 - mlen);
		c->inlen -= 2 + mlen;
	}
	return SP_OK;
}

static void
tcp_io(void *arg, int fd, unsigned events)
{
	struct tcp_conn *c = arg;
	int progress = 0;
	ssize_t n;

	if ((events & SP_IO_WRITE) && pending(c) > 0) {
		n = send(fd, c->out + c->outsent, pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tcp_close(c);
			return;
		}
		if (n > 0) {
			c->outsent += (size_t)n;
			progress = 1;
		}
		if (c->outsent == c->outlen)
			c->outsent = c->outlen = 0;
		/* The client read: a transfer may go on. */
		if (c->xfr != NULL && gw_xfr_produce(c->xfr) == 1)
			c->xfr = NULL;
	}
	if ((events & SP_IO_READ) && c->xfr == NULL && pending(c) < TCP_OUT_HIGH) {
		n = read(fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tcp_close(c);
			return;
		}
		if (n > 0) {
			c->inlen += (size_t)n;
			progress = 1;
		}
	}
	if (answer_queries(c) != SP_OK) {
		tcp_close(c);
		return;
	}
	if (progress)
		sp_timer_arm(c->deadline, timeout_ms(c->g));
	/* Read only while there is room to answer; write while there is
	 * something to send. A client that never reads is left with a full
	 * window and nothing more from us, until its deadline. */
	sp_watch_set_events(c->watch,
	    (c->xfr == NULL && pending(c) < TCP_OUT_HIGH ? SP_IO_READ : 0) |
	    (pending(c) > 0 ? SP_IO_WRITE : 0));
}

static void
on_accept(void *arg, int fd, unsigned events)
{
	struct dns_listener *l = arg;
	sp_gateway *g = l->g;
	struct tcp_conn *c;
	size_t slot;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	for (slot = 0; slot < GW_TCP_MAX_CONNS && g->conns[slot] != NULL; slot++)
		;
	if (slot == GW_TCP_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		g->tcp_refused++;
		close(cfd);
		return;
	}
	c->g = g;
	c->fd = cfd;
	if (sp_timer_new(g->d->loop, on_deadline, c, &c->deadline) != SP_OK ||
	    sp_loop_watch(g->d->loop, cfd, SP_IO_READ, tcp_io, c, &c->watch) != SP_OK) {
		sp_timer_free(c->deadline);
		close(cfd);
		free(c);
		g->tcp_refused++;
		return;
	}
	sp_timer_arm(c->deadline, timeout_ms(g));
	g->conns[slot] = c;
}

int
gw_tcp_listen(sp_gateway *g, struct dns_listener *l, const struct sockaddr *sa,
    socklen_t len, int own, sp_errmsg *e)
{
	int rc;

	l->g = g;
	if ((rc = (own ? sp_tcp_listen_own : sp_tcp_listen)(sa, len, &l->fd, e)) != SP_OK)
		return rc;
	if ((rc = sp_loop_watch(g->d->loop, l->fd, SP_IO_READ, on_accept, l, &l->watch)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	return SP_OK;
}

void
gw_dns_stop(sp_gateway *g)
{
	for (size_t i = 0; i < GW_TCP_MAX_CONNS; i++)
		if (g->conns[i] != NULL)
			tcp_close(g->conns[i]);
	for (size_t i = 0; i < g->nlisten; i++) {
		sp_watch_cancel(g->udp[i].watch);
		sp_watch_cancel(g->tcp[i].watch);
		if (g->udp[i].fd >= 0)
			close(g->udp[i].fd);
		if (g->tcp[i].fd >= 0)
			close(g->tcp[i].fd);
	}
	g->nlisten = 0;
	free(g->batch);
	g->batch = NULL;
}
