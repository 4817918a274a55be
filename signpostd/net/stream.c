/* A framed stream (see stream.h). */
#define _GNU_SOURCE
#include "stream.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sp_stream {
	sp_loop *loop;
	int fd;
	sp_watch *watch;
	sp_timer *deadline;
	int connecting;
	unsigned timeout_ms;
	size_t max_msg, out_max;
	uint8_t *in;                 /* 2 + max_msg */
	size_t inlen;
	uint8_t *out;                /* grows to out_max */
	size_t outcap, outlen, outsent;
	sp_stream_msg_fn msg;
	sp_stream_up_fn up;
	sp_stream_end_fn end;
	void *arg;
	int ended;
	/* Callbacks may free the stream (sp_stream_free): while one runs,
	 * busy is set and the free only marks it doomed; the callback's
	 * caller frees it on the way out. */
	int busy, doomed;
};

static void
destroy(sp_stream *s)
{
	sp_watch_cancel(s->watch);
	sp_timer_free(s->deadline);
	if (s->fd >= 0)
		close(s->fd);
	/* Messages may hold secrets (a pairing code's token). */
	sodium_memzero(s->in, 2 + s->max_msg);
	free(s->in);
	if (s->out != NULL)
		sodium_memzero(s->out, s->outcap);
	free(s->out);
	free(s);
}

/* After a callback: 1 if the stream is gone (or going), so the caller
 * returns without touching it again. */
static int
leave(sp_stream *s)
{
	if (--s->busy == 0 && s->doomed) {
		destroy(s);
		return 1;
	}
	return s->doomed || s->ended;
}

/* The end: the owner's end callback runs once, and usually frees. */
static void
finish(sp_stream *s, const char *why)
{
	if (s->ended)
		return;
	s->ended = 1;
	sp_watch_cancel(s->watch);
	s->watch = NULL;
	sp_timer_disarm(s->deadline);
	s->busy++;
	s->end(s->arg, why);
	(void)leave(s);
}

static void
on_deadline(void *arg)
{
	finish(arg, "no word from the other side in time");
}

void
sp_stream_set_timeout(sp_stream *s, unsigned timeout_ms)
{
	s->timeout_ms = timeout_ms;
	if (!s->ended && !s->doomed)
		sp_timer_arm(s->deadline, timeout_ms);
}

void
sp_stream_close(sp_stream *s, const char *why)
{
	finish(s, why);
}

static void io(sp_stream *s, int fd, unsigned events);

static void
want(sp_stream *s)
{
	if (s->watch != NULL)
		sp_watch_set_events(s->watch, s->connecting ? SP_IO_WRITE :
		    SP_IO_READ | (s->outlen > s->outsent ? SP_IO_WRITE : 0));
}

static void
on_io(void *arg, int fd, unsigned events)
{
	sp_stream *s = arg;

	s->busy++;
	io(s, fd, events);
	(void)leave(s);
}

static void
io(sp_stream *s, int fd, unsigned events)
{
	ssize_t n;

	if (s->connecting) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
			finish(s, err == ECONNREFUSED ? "connection refused" :
			    err == ETIMEDOUT || err == EHOSTUNREACH ? "unreachable" : "connect failed");
			return;
		}
		s->connecting = 0;
		sp_timer_arm(s->deadline, s->timeout_ms);
		if (s->up != NULL)
			s->up(s->arg);
		if (s->ended || s->doomed)
			return;
		want(s);
		return;
	}
	if ((events & SP_IO_WRITE) && s->outlen > s->outsent) {
		n = send(fd, s->out + s->outsent, s->outlen - s->outsent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			finish(s, "send failed");
			return;
		}
		if (n > 0 && (s->outsent += (size_t)n) == s->outlen)
			s->outsent = s->outlen = 0;
	}
	if (events & SP_IO_READ) {
		n = read(fd, s->in + s->inlen, 2 + s->max_msg - s->inlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			finish(s, n == 0 ? "closed by the other side" : "read failed");
			return;
		}
		if (n > 0) {
			s->inlen += (size_t)n;
			sp_timer_arm(s->deadline, s->timeout_ms);
		}
		while (s->inlen >= 2 && !s->ended && !s->doomed) {
			size_t mlen = (size_t)s->in[0] << 8 | s->in[1];
			if (mlen > s->max_msg) {
				finish(s, "a message over the limit");
				return;
			}
			if (s->inlen < 2 + mlen)
				break;
			s->msg(s->arg, s->in + 2, mlen);
			if (s->ended || s->doomed)
				return;
			memmove(s->in, s->in + 2 + mlen, s->inlen - 2 - mlen);
			s->inlen -= 2 + mlen;
		}
	}
	want(s);
}

int
sp_stream_new(sp_loop *loop, int fd, int connecting, size_t max_msg, size_t out_max,
    unsigned timeout_ms, sp_stream_msg_fn msg, sp_stream_up_fn up, sp_stream_end_fn end,
    void *arg, sp_stream **out)
{
	sp_stream *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL || (s->in = malloc(2 + max_msg)) == NULL) {
		free(s);
		return SP_ENOMEM;
	}
	s->loop = loop;
	s->fd = fd;
	s->connecting = connecting;
	s->max_msg = max_msg;
	s->out_max = out_max;
	s->timeout_ms = timeout_ms;
	s->msg = msg;
	s->up = up;
	s->end = end;
	s->arg = arg;
	if ((rc = sp_timer_new(loop, on_deadline, s, &s->deadline)) != SP_OK ||
	    (rc = sp_loop_watch(loop, fd, connecting ? SP_IO_WRITE : SP_IO_READ, on_io, s,
	    &s->watch)) != SP_OK) {
		sp_timer_free(s->deadline);
		free(s->in);
		free(s);
		return rc;
	}
	sp_timer_arm(s->deadline, timeout_ms);
	*out = s;
	return SP_OK;
}

int
sp_stream_send(sp_stream *s, const uint8_t *framed, size_t len)
{
	if (s->ended || s->doomed)
		return SP_EIO;
	if (s->outlen - s->outsent + len > s->out_max)
		return SP_ESPACE;
	if (s->outsent > 0) {
		memmove(s->out, s->out + s->outsent, s->outlen - s->outsent);
		s->outlen -= s->outsent;
		sodium_memzero(s->out + s->outlen, s->outsent);
		s->outsent = 0;
	}
	if (s->outlen + len > s->outcap) {
		/* Grown by copy, the old buffer wiped: no realloc leaves a copy
		 * of a message behind in freed memory. */
		size_t cap = s->outcap ? s->outcap : 4096;
		uint8_t *nb;
		while (cap < s->outlen + len)
			cap *= 2;
		if (cap > s->out_max)
			cap = s->out_max;
		if ((nb = malloc(cap)) == NULL)
			return SP_ENOMEM;
		if (s->out != NULL) {
			memcpy(nb, s->out, s->outlen);
			sodium_memzero(s->out, s->outcap);
			free(s->out);
		}
		s->out = nb;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, framed, len);
	s->outlen += len;
	want(s);
	return SP_OK;
}

int
sp_stream_peer(const sp_stream *s, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getpeername(s->fd, (struct sockaddr *)ss, len) == 0 ? SP_OK : SP_EIO;
}

void
sp_stream_free(sp_stream *s)
{
	if (s == NULL)
		return;
	if (s->busy > 0) {
		/* From inside one of its callbacks: done on the way out. */
		s->doomed = 1;
		sp_watch_cancel(s->watch);
		s->watch = NULL;
		sp_timer_disarm(s->deadline);
		return;
	}
	destroy(s);
}
