/* The `wg` UAPI socket's server (see uapi_server.h). */
#define _GNU_SOURCE
#include "uapi_server.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sp_log.h"

#define UAPI_MAX_CONNS 8
#define UAPI_TIMEOUT_MS 5000
#define UAPI_BUF_FIRST 4096
#define UAPI_BUF_MAX (1 << 20)   /* a request or a reply, at most */

struct uconn {
	sp_uapi_server *srv;
	int fd;
	sp_watch *watch;
	sp_timer *deadline;
	char *buf;                /* sodium_malloc; the request, then the reply */
	size_t cap, len, sent;
	int replying;
};

struct sp_uapi_server {
	sp_loop *loop;
	int fd;
	sp_watch *watch;
	char path[108];
	const sp_uapi_handler *h;
	void *arg;
	struct uconn *conns[UAPI_MAX_CONNS];
};

static void
uconn_close(struct uconn *c)
{
	sp_uapi_server *s = c->srv;

	for (size_t i = 0; i < UAPI_MAX_CONNS; i++)
		if (s->conns[i] == c)
			s->conns[i] = NULL;
	sp_watch_cancel(c->watch);
	sp_timer_free(c->deadline);
	close(c->fd);
	if (c->buf != NULL)
		sodium_free(c->buf);    /* wipes: it held keys */
	free(c);
}

static void
on_deadline(void *arg)
{
	struct uconn *c = arg;

	sp_debug("uapi: closing a connection that stalled for %d ms", UAPI_TIMEOUT_MS);
	uconn_close(c);
}

/* A bigger guarded buffer with the same bytes; the old one is wiped. */
static int
grow(struct uconn *c, size_t want)
{
	size_t cap = c->cap ? c->cap : UAPI_BUF_FIRST;
	char *nb;

	while (cap < want)
		cap *= 2;
	if (cap > UAPI_BUF_MAX)
		return SP_ESPACE;
	if ((nb = sodium_malloc(cap)) == NULL)
		return SP_ENOMEM;
	if (c->buf != NULL) {
		memcpy(nb, c->buf, c->len);
		sodium_free(c->buf);
	}
	c->buf = nb;
	c->cap = cap;
	return SP_OK;
}

/* Build the reply in the buffer, in place of the request. */
static void
respond(struct uconn *c, size_t reqlen)
{
	sp_uapi_server *s = c->srv;
	int err = 0;
	size_t n = 0;

	if (reqlen >= 6 && memcmp(c->buf, "get=1\n", 6) == 0) {
		/* The reply may be longer than the request: grow until it fits,
		 * leaving room for the errno line. */
		for (;;) {
			n = s->h->get(s->arg, c->buf, c->cap - 32);
			if (n < c->cap - 32)
				break;
			c->len = 0;
			if (grow(c, c->cap * 2) != SP_OK) {
				n = 0;
				err = ENOMEM;
				break;
			}
		}
	} else if (reqlen >= 6 && memcmp(c->buf, "set=1\n", 6) == 0) {
		err = s->h->set(s->arg, c->buf + 6, reqlen - 6);
	} else {
		err = EPROTO;
	}
	if (err != 0)
		n = 0;
	/* The request (keys in a set) is overwritten by the reply. */
	sodium_memzero(c->buf + n, c->cap - n);
	n += (size_t)snprintf(c->buf + n, c->cap - n, "errno=%d\n\n", err);
	c->len = n;
	c->sent = 0;
	c->replying = 1;
	sp_watch_set_events(c->watch, SP_IO_WRITE);
}

static void
uconn_io(void *arg, int fd, unsigned events)
{
	struct uconn *c = arg;
	ssize_t n;

	if (c->replying) {
		if (!(events & SP_IO_WRITE))
			return;
		n = send(fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0 || (c->sent += (size_t)n) == c->len) {
			uconn_close(c);
			return;
		}
		sp_timer_arm(c->deadline, UAPI_TIMEOUT_MS);
		return;
	}
	if (c->len + 1 >= c->cap && grow(c, c->cap + 1) != SP_OK) {
		sp_warn("uapi: a request over %d bytes; closing it", UAPI_BUF_MAX);
		uconn_close(c);
		return;
	}
	n = read(fd, c->buf + c->len, c->cap - c->len - 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		uconn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	/* A request ends with an empty line; look only at what just came
	 * and the byte before it. */
	{
		size_t from = c->len - (size_t)n;
		char *end = memmem(c->buf + (from > 0 ? from - 1 : 0),
		    c->len - (from > 0 ? from - 1 : 0), "\n\n", 2);
		if (end != NULL)
			respond(c, (size_t)(end - c->buf) + 1);
	}
}

static void
on_accept(void *arg, int fd, unsigned events)
{
	sp_uapi_server *s = arg;
	struct uconn *c;
	size_t slot;
	int cfd;

	(void)events;
	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	for (slot = 0; slot < UAPI_MAX_CONNS && s->conns[slot] != NULL; slot++)
		;
	if (slot == UAPI_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		sp_warn("uapi: too many connections; refusing one");
		close(cfd);
		return;
	}
	c->srv = s;
	c->fd = cfd;
	if (grow(c, UAPI_BUF_FIRST) != SP_OK ||
	    sp_timer_new(s->loop, on_deadline, c, &c->deadline) != SP_OK ||
	    sp_loop_watch(s->loop, cfd, SP_IO_READ, uconn_io, c, &c->watch) != SP_OK) {
		sp_warn("uapi: out of memory; refusing a connection");
		sp_timer_free(c->deadline);
		if (c->buf != NULL)
			sodium_free(c->buf);
		close(cfd);
		free(c);
		return;
	}
	sp_timer_arm(c->deadline, UAPI_TIMEOUT_MS);
	s->conns[slot] = c;
}

int
sp_uapi_server_start(sp_loop *loop, const char *path, const sp_uapi_handler *h, void *arg,
    sp_uapi_server **out, sp_errmsg *e)
{
	sp_uapi_server *s;
	int rc;

	if (strlen(path) >= sizeof(s->path))
		return sp_errf(e, SP_EINVAL, "%s: socket path too long", path);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	s->loop = loop;
	s->h = h;
	s->arg = arg;
	memcpy(s->path, path, strlen(path) + 1);
	if ((rc = sp_unix_listen(path, 0600, &s->fd, e)) != SP_OK) {
		free(s);
		return rc;
	}
	if ((rc = sp_loop_watch(loop, s->fd, SP_IO_READ, on_accept, s, &s->watch)) != SP_OK) {
		close(s->fd);
		unlink(path);
		free(s);
		return sp_errf(e, rc, "out of memory");
	}
	*out = s;
	return SP_OK;
}

void
sp_uapi_server_stop(sp_uapi_server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < UAPI_MAX_CONNS; i++)
		if (s->conns[i] != NULL)
			uconn_close(s->conns[i]);
	sp_watch_cancel(s->watch);
	close(s->fd);
	unlink(s->path);
	free(s);
}
