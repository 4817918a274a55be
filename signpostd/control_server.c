#define _GNU_SOURCE
#include "control_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sp_log.h"

#define MAX_CONNS 32
#define CONN_TIMEOUT_MS 5000

struct conn {
	sp_ctl_server *srv;
	uint64_t id;
	int fd;
	sp_watch *watch;
	sp_timer *timer;
	char in[SP_CTL_REQUEST_MAX];
	size_t inlen;
	sp_ctl_reply reply;
	size_t sent;
	int replying;
	int deferred;            /* the handler answers later */
};

struct sp_ctl_server {
	sp_loop *loop;
	int fd;
	sp_watch *watch;
	char path[108];
	sp_ctl_handler handler;
	sp_ctl_gone gone;
	void *arg;
	uint64_t next_id;
	struct conn *conns[MAX_CONNS];
};

static void
conn_close(struct conn *c)
{
	sp_ctl_server *s = c->srv;

	/* A deferred request whose asker left: its handler lets go of it. */
	if (c->deferred && s->gone != NULL) {
		c->deferred = 0;
		s->gone(s->arg, c->id);
	}
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (s->conns[i] == c)
			s->conns[i] = NULL;
	sp_watch_cancel(c->watch);
	sp_timer_free(c->timer);
	close(c->fd);
	sp_ctl_reply_free(&c->reply);
	free(c);
}

static void
start_reply(struct conn *c)
{
	if (c->reply.err != SP_OK)
		sp_ctl_reply_error(&c->reply, c->reply.err, "reply too large");
	sp_ctl_reply_end(&c->reply);
	c->replying = 1;
	c->deferred = 0;
	sp_timer_arm(c->timer, CONN_TIMEOUT_MS);
	sp_watch_set_events(c->watch, SP_IO_WRITE);
}

static void
conn_timeout(void *arg)
{
	struct conn *c = arg;

	if (c->deferred) {
		/* The answer did not come in time: say so, then close. */
		c->deferred = 0;
		if (c->srv->gone != NULL)
			c->srv->gone(c->srv->arg, c->id);
		sp_ctl_reply_free(&c->reply);
		sp_ctl_reply_error(&c->reply, SP_ETIMEOUT, "no answer in time");
		start_reply(c);
		return;
	}
	sp_debug("control: closing a connection that stalled for %d ms", CONN_TIMEOUT_MS);
	conn_close(c);
}

static void
conn_respond(struct conn *c, const char *line, size_t len)
{
	sp_ctl_request req;
	sp_errmsg e;

	sp_ctl_reply_init(&c->reply);
	c->reply.ticket = c->id;
	if (sp_ctl_request_parse(line, len, &req, &e) != SP_OK) {
		sp_ctl_reply_error(&c->reply, SP_EPROTO, "%s", e.msg);
	} else {
		c->srv->handler(c->srv->arg, &req, &c->reply);
		if (c->reply.defer_ms != 0) {
			/* Wait for sp_ctl_server_finish; watch for the client
			 * going away meanwhile. */
			c->deferred = 1;
			sp_timer_arm(c->timer, c->reply.defer_ms);
			sp_watch_set_events(c->watch, SP_IO_READ);
			return;
		}
		if (c->reply.len == 0)
			sp_ctl_reply_error(&c->reply, SP_EIO, "no reply");
	}
	start_reply(c);
}

void
sp_ctl_server_finish(sp_ctl_server *s, uint64_t ticket, sp_ctl_reply *r)
{
	struct conn *c = NULL;

	for (size_t i = 0; i < MAX_CONNS && c == NULL; i++)
		if (s->conns[i] != NULL && s->conns[i]->id == ticket && s->conns[i]->deferred)
			c = s->conns[i];
	if (c == NULL) {
		sp_ctl_reply_free(r);
		return;
	}
	sp_ctl_reply_free(&c->reply);
	c->reply = *r;
	sp_ctl_reply_init(r);
	if (c->reply.len == 0)
		sp_ctl_reply_error(&c->reply, SP_EIO, "no reply");
	start_reply(c);
}

static void
conn_io(void *arg, int fd, unsigned events)
{
	struct conn *c = arg;
	ssize_t n;

	if (c->deferred) {
		/* Nothing more is expected from the client: more bytes, or the
		 * end, mean it is not waiting for this answer. */
		char byte;
		n = read(fd, &byte, 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c);
		return;
	}
	if (c->replying) {
		if (!(events & SP_IO_WRITE))
			return;
		n = send(fd, c->reply.buf + c->sent, c->reply.len - c->sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0 || (c->sent += (size_t)n) == c->reply.len)
			conn_close(c);
		return;
	}
	n = read(fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	char *lf = memchr(c->in, '\n', c->inlen);
	if (lf != NULL) {
		conn_respond(c, c->in, (size_t)(lf - c->in));
	} else if (c->inlen == sizeof(c->in)) {
		sp_ctl_reply_init(&c->reply);
		sp_ctl_reply_error(&c->reply, SP_EPROTO, "request longer than %d bytes",
		    SP_CTL_REQUEST_MAX - 1);
		start_reply(c);
	}
}

static void
on_accept(void *arg, int fd, unsigned events)
{
	sp_ctl_server *s = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *c;
	size_t slot;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		sp_warn("control: refused a connection from uid %u", (unsigned)cred.uid);
		close(cfd);
		return;
	}
	for (slot = 0; slot < MAX_CONNS && s->conns[slot] != NULL; slot++)
		;
	if (slot == MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		sp_warn("control: too many connections; refusing one");
		close(cfd);
		return;
	}
	c->srv = s;
	c->fd = cfd;
	c->id = ++s->next_id;
	if (sp_timer_new(s->loop, conn_timeout, c, &c->timer) != SP_OK ||
	    sp_loop_watch(s->loop, cfd, SP_IO_READ, conn_io, c, &c->watch) != SP_OK) {
		sp_warn("control: out of memory; refusing a connection");
		sp_timer_free(c->timer);
		close(cfd);
		free(c);
		return;
	}
	sp_timer_arm(c->timer, CONN_TIMEOUT_MS);
	s->conns[slot] = c;
}

int
sp_ctl_server_start(sp_loop *loop, const char *path, sp_ctl_handler handler,
    void *arg, sp_ctl_server **out, sp_errmsg *e)
{
	sp_ctl_server *s;
	int rc;

	if (strlen(path) >= sizeof(s->path))
		return sp_errf(e, SP_EINVAL, "%s: control socket path too long", path);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SP_ENOMEM;
	s->loop = loop;
	s->handler = handler;
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
		return rc;
	}
	*out = s;
	return SP_OK;
}

void
sp_ctl_server_stop(sp_ctl_server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (s->conns[i] != NULL)
			conn_close(s->conns[i]);
	sp_watch_cancel(s->watch);
	close(s->fd);
	unlink(s->path);
	free(s);
}

void
sp_ctl_server_set_gone(sp_ctl_server *s, sp_ctl_gone gone)
{
	s->gone = gone;
}
