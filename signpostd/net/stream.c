/* A framed stream (see stream.h). */
#define _GNU_SOURCE
#include "stream.h"

#include <errno.h>
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
	uint8_t *out;                /* out_max, made on first use */
	size_t outlen, outsent;
	sp_stream_msg_fn msg;
	sp_stream_up_fn up;
	sp_stream_end_fn end;
	void *arg;
	int ended;
};

static void
finish(sp_stream *s, const char *why)
{
	if (s->ended)
		return;
	s->ended = 1;
	sp_watch_cancel(s->watch);
	s->watch = NULL;
	sp_timer_disarm(s->deadline);
	s->end(s->arg, why);
}

static void
on_deadline(void *arg)
{
	finish(arg, "no word from the other side in time");
}

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
		if (s->ended)
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
		while (s->inlen >= 2 && !s->ended) {
			size_t mlen = (size_t)s->in[0] << 8 | s->in[1];
			if (mlen > s->max_msg) {
				finish(s, "a message over the limit");
				return;
			}
			if (s->inlen < 2 + mlen)
				break;
			s->msg(s->arg, s->in + 2, mlen);
			if (s->ended)
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
	if (s->ended)
		return SP_EIO;
	if (s->out == NULL && (s->out = malloc(s->out_max)) == NULL)
		return SP_ENOMEM;
	if (s->outlen - s->outsent + len > s->out_max)
		return SP_ESPACE;
	if (s->outlen + len > s->out_max) {
		memmove(s->out, s->out + s->outsent, s->outlen - s->outsent);
		s->outlen -= s->outsent;
		s->outsent = 0;
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
	sp_watch_cancel(s->watch);
	sp_timer_free(s->deadline);
	close(s->fd);
	free(s->in);
	free(s->out);
	free(s);
}
