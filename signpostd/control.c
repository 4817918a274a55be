#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp_platform.h"
#include "sp_wire.h"

int
sp_ctl_request_parse(const char *line, size_t len, sp_ctl_request *req,
    sp_errmsg *e)
{
	size_t i = 0;

	memset(req, 0, sizeof(*req));
	if (len == 0)
		return sp_errf(e, SP_EPROTO, "empty request");
	if (len >= sizeof(req->buf))
		return sp_errf(e, SP_EPROTO, "request longer than %d bytes",
		    SP_CTL_REQUEST_MAX - 1);
	memcpy(req->buf, line, len);
	while (i < len) {
		if (req->nwords == SP_CTL_MAX_WORDS)
			return sp_errf(e, SP_EPROTO, "more than %d words", SP_CTL_MAX_WORDS);
		if (req->buf[i] == ' ')
			return sp_errf(e, SP_EPROTO, "words are separated by one space");
		req->word[req->nwords++] = &req->buf[i];
		while (i < len && req->buf[i] != ' ') {
			unsigned char c = (unsigned char)req->buf[i];
			if (c < 0x21 || c > 0x7e)
				return sp_errf(e, SP_EPROTO,
				    "byte 0x%02x at offset %zu is not allowed", c, i);
			i++;
		}
		if (i < len) {
			req->buf[i++] = '\0';
			if (i == len || req->buf[i] == ' ')
				return sp_errf(e, SP_EPROTO, "words are separated by one space");
		}
	}
	return SP_OK;
}

uint64_t
sp_ctl_reply_defer(sp_ctl_reply *r, unsigned timeout_ms)
{
	r->defer_ms = timeout_ms ? timeout_ms : 1;
	return r->ticket;
}

void
sp_ctl_reply_init(sp_ctl_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Replies may hold secrets (a pairing code's token): buffers grow by
 * copy with the old one wiped, never by realloc, and are wiped when
 * freed, so no copy stays behind in freed memory.
 */
static char *
grow(char *old, size_t used, size_t oldcap, size_t cap)
{
	char *nb = malloc(cap);

	if (nb == NULL)
		return NULL;
	if (old != NULL) {
		memcpy(nb, old, used);
		sodium_memzero(old, oldcap);
		free(old);
	}
	return nb;
}

void
sp_ctl_reply_free(sp_ctl_reply *r)
{
	if (r->buf != NULL)
		sodium_memzero(r->buf, r->cap);
	free(r->buf);
	sp_ctl_reply_init(r);
}

static void
append(sp_ctl_reply *r, const char *s, size_t n)
{
	if (r->err != SP_OK)
		return;
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		char *nb;
		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > SP_CTL_REPLY_MAX || (nb = grow(r->buf, r->len + (r->buf != NULL),
		    r->cap, cap)) == NULL) {
			r->err = SP_ENOMEM;
			return;
		}
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

void
sp_ctl_reply_ok(sp_ctl_reply *r)
{
	r->len = 0;
	append(r, "ok\n", 3);
}

static void
append_clean(sp_ctl_reply *r, const char *s)
{
	size_t start = r->len;

	append(r, s, strlen(s));
	if (r->err != SP_OK)
		return;
	for (size_t i = start; i < r->len; i++)
		if (((unsigned char)r->buf[i] < 0x20 && r->buf[i] != '\t') || r->buf[i] == 0x7f)
			r->buf[i] = '?';
}

void
sp_ctl_reply_field(sp_ctl_reply *r, const char *name, const char *fmt, ...)
{
	char *value;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->err = SP_ENOMEM;
		return;
	}
	append(r, name, strlen(name));
	append(r, "\t", 1);
	append_clean(r, value);
	append(r, "\n", 1);
	free(value);
}

void
sp_ctl_reply_error(sp_ctl_reply *r, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->len = 0;
	r->err = SP_OK;
	append(r, "error ", 6);
	append(r, sp_ctl_errname(code), strlen(sp_ctl_errname(code)));
	append(r, " ", 1);
	append_clean(r, msg);
	append(r, "\n", 1);
}

void
sp_ctl_reply_end(sp_ctl_reply *r)
{
	append(r, "\n", 1);
}

static const struct {
	int code;
	const char *name;
} errnames[] = {
	{ SP_EINVAL, "invalid" }, { SP_ENOENT, "not-found" }, { SP_EEXIST, "exists" },
	{ SP_EPERM, "permission" }, { SP_EUNSUPP, "unsupported" },
	{ SP_EPROTO, "protocol" }, { SP_ENOMEM, "no-memory" }, { SP_EIO, "io" },
	{ SP_ECORRUPT, "corrupt" }, { SP_ECONFIG, "config" }, { SP_ETIMEOUT, "timeout" },
	{ SP_EBUSY, "busy" }, { SP_ECRYPTO, "crypto" }, { SP_ENOTRUNNING, "not-running" },
};

const char *
sp_ctl_errname(int code)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].code == code)
			return errnames[i].name;
	return "failed";
}

int
sp_ctl_errcode(const char *name)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(errnames[i].name, name) == 0)
			return errnames[i].code;
	return SP_EIO;
}

int
sp_ctl_reply_parse(const char *text, size_t len,
    int (*field)(void *arg, const char *name, const char *value), void *arg,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	const char *line;
	size_t n;
	bool had_lf, ended = false;
	char *copy;
	int rc = SP_OK;

	if (!sp_wire_line(&r, &line, &n, &had_lf) || !had_lf)
		return sp_errf(e, SP_EPROTO, "empty or truncated reply from signpostd");
	if (n > 6 && memcmp(line, "error ", 6) == 0) {
		const char *sp = memchr(line + 6, ' ', n - 6);
		char name[32];
		size_t nl = sp ? (size_t)(sp - line - 6) : n - 6;
		if (nl >= sizeof(name))
			nl = sizeof(name) - 1;
		memcpy(name, line + 6, nl);
		name[nl] = '\0';
		if (sp != NULL)
			sp_errf(e, 0, "%.*s", (int)(line + n - sp - 1), sp + 1);
		else
			sp_errf(e, 0, "signpostd reported an error (%s)", name);
		return sp_ctl_errcode(name);
	}
	if (n != 2 || memcmp(line, "ok", 2) != 0)
		return sp_errf(e, SP_EPROTO, "malformed reply from signpostd");
	while (sp_wire_line(&r, &line, &n, &had_lf)) {
		const char *tab;
		if (!had_lf)
			return sp_errf(e, SP_EPROTO, "truncated reply from signpostd");
		if (n == 0) {
			ended = true;
			break;
		}
		if ((tab = memchr(line, '\t', n)) == NULL || tab == line)
			return sp_errf(e, SP_EPROTO, "malformed field in reply from signpostd");
		/* Names are [a-z0-9-] with an optional "[]"; values have no
		 * control bytes. Checking here also keeps NULs out of strndup. */
		for (const char *p = line; p < tab; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '[' || *p == ']'))
				return sp_errf(e, SP_EPROTO, "malformed field name in reply");
		for (const char *p = tab + 1; p < line + n; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
				return sp_errf(e, SP_EPROTO, "control byte in reply field");
		if ((copy = strndup(line, n)) == NULL)
			return SP_ENOMEM;
		copy[tab - line] = '\0';
		rc = field(arg, copy, copy + (tab - line) + 1);
		free(copy);
		if (rc != SP_OK)
			return sp_errf(e, rc, "reading signpostd's reply: %s", sp_strerror(rc));
	}
	if (!ended)
		return sp_errf(e, SP_EPROTO, "truncated reply from signpostd");
	return SP_OK;
}

int
sp_ctl_call(const char *path, const char *request, char **reply, size_t *len,
    int timeout_ms, sp_errmsg *e)
{
	size_t rlen = strlen(request), done = 0, cap = 4096, got = 0;
	char *buf;
	int fd, rc;

	if ((rc = sp_unix_connect(path, &fd, e)) != SP_OK)
		return rc;
	while (done < rlen + 1) {
		const char *p = done < rlen ? request + done : "\n";
		size_t n = done < rlen ? rlen - done : 1;
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			return sp_errf(e, SP_EIO, "%s: write: %s", path, strerror(errno));
		}
		done += (size_t)w;
	}
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return SP_ENOMEM;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			free(buf);
			close(fd);
			return sp_errf(e, SP_ETIMEOUT, "%s: signpostd did not answer in %d ms",
			    path, timeout_ms);
		}
		if (got + 1 >= cap) {
			char *nb;
			if (cap >= SP_CTL_REPLY_MAX || (nb = grow(buf, got, cap, cap * 2)) == NULL) {
				sodium_memzero(buf, cap);
				free(buf);
				close(fd);
				return sp_errf(e, SP_EPROTO, "%s: reply too large", path);
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + got, cap - got - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sodium_memzero(buf, cap);
			free(buf);
			close(fd);
			return sp_errf(e, SP_EIO, "%s: read: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*reply = buf;
	*len = got;
	return SP_OK;
}
