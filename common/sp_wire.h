/*
 * The one reader/writer for untrusted bytes (after Knot's wire_ctx).
 *
 * Every read and write checks bounds. The first failure is recorded in
 * w->err and makes every later call a no-op (reads yield zero), so a parser
 * reads a whole structure and checks sp_wire_err() once at the end. No code
 * outside this header does pointer arithmetic on packets.
 *
 * A sp_wire borrows its buffer; it never allocates or frees.
 */
#ifndef SP_WIRE_H
#define SP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sp_err.h"

typedef struct sp_wire {
	uint8_t *buf;   /* start of the buffer (borrowed) */
	size_t len;     /* size of the buffer */
	size_t pos;     /* read/write position */
	int err;        /* first error, SP_OK while none */
	bool ro;        /* a reader: every write fails with SP_EINVAL */
} sp_wire;

static inline sp_wire
sp_wire_writer(void *buf, size_t len)
{
	sp_wire w = { (uint8_t *)buf, len, 0, SP_OK, false };
	return w;
}

/* A reader over const bytes; writing through it is an error. */
static inline sp_wire
sp_wire_reader(const void *buf, size_t len)
{
	/* The cast drops const only so both directions share one type; the
	 * write functions refuse a reader through the ro flag. */
	sp_wire w = { (uint8_t *)(uintptr_t)buf, len, 0, SP_OK, true };
	return w;
}

static inline int sp_wire_err(const sp_wire *w) { return w->err; }
static inline size_t sp_wire_left(const sp_wire *w) { return w->err ? 0 : w->len - w->pos; }
static inline size_t sp_wire_used(const sp_wire *w) { return w->pos; }

static inline bool
sp_wire_need(sp_wire *w, size_t n)
{
	if (w->err != SP_OK)
		return false;
	if (n > w->len - w->pos) {
		w->err = SP_ESPACE;
		return false;
	}
	return true;
}

static inline bool
sp_wire_wneed(sp_wire *w, size_t n)
{
	if (w->ro && w->err == SP_OK)
		w->err = SP_EINVAL;
	return sp_wire_need(w, n);
}

static inline void
sp_wire_fail(sp_wire *w, int err)
{
	if (w->err == SP_OK)
		w->err = err;
}

static inline void
sp_wire_skip(sp_wire *w, size_t n)
{
	if (sp_wire_need(w, n))
		w->pos += n;
}

static inline uint8_t
sp_wire_u8(sp_wire *w)
{
	if (!sp_wire_need(w, 1))
		return 0;
	return w->buf[w->pos++];
}

static inline uint16_t
sp_wire_u16(sp_wire *w)
{
	uint16_t v;

	if (!sp_wire_need(w, 2))
		return 0;
	v = (uint16_t)((uint16_t)w->buf[w->pos] << 8 | w->buf[w->pos + 1]);
	w->pos += 2;
	return v;
}

static inline uint32_t
sp_wire_u32(sp_wire *w)
{
	uint32_t v;

	if (!sp_wire_need(w, 4))
		return 0;
	v = (uint32_t)w->buf[w->pos] << 24 | (uint32_t)w->buf[w->pos + 1] << 16 |
	    (uint32_t)w->buf[w->pos + 2] << 8 | w->buf[w->pos + 3];
	w->pos += 4;
	return v;
}

/* Little-endian reads, for WireGuard's message fields. */
static inline uint32_t
sp_wire_u32le(sp_wire *w)
{
	uint32_t v;

	if (!sp_wire_need(w, 4))
		return 0;
	v = (uint32_t)w->buf[w->pos + 3] << 24 | (uint32_t)w->buf[w->pos + 2] << 16 |
	    (uint32_t)w->buf[w->pos + 1] << 8 | w->buf[w->pos];
	w->pos += 4;
	return v;
}

static inline void
sp_wire_read(sp_wire *w, void *out, size_t n)
{
	if (!sp_wire_need(w, n)) {
		memset(out, 0, n);
		return;
	}
	memcpy(out, w->buf + w->pos, n);
	w->pos += n;
}

/* A borrowed view of the next n bytes, or NULL (and a sticky error). */
static inline const uint8_t *
sp_wire_view(sp_wire *w, size_t n)
{
	const uint8_t *p;

	if (!sp_wire_need(w, n))
		return NULL;
	p = w->buf + w->pos;
	w->pos += n;
	return p;
}

static inline void
sp_wire_put_u8(sp_wire *w, uint8_t v)
{
	if (sp_wire_wneed(w, 1))
		w->buf[w->pos++] = v;
}

static inline void
sp_wire_put_u16(sp_wire *w, uint16_t v)
{
	if (!sp_wire_wneed(w, 2))
		return;
	w->buf[w->pos] = (uint8_t)(v >> 8);
	w->buf[w->pos + 1] = (uint8_t)v;
	w->pos += 2;
}

static inline void
sp_wire_put_u32(sp_wire *w, uint32_t v)
{
	if (!sp_wire_wneed(w, 4))
		return;
	w->buf[w->pos] = (uint8_t)(v >> 24);
	w->buf[w->pos + 1] = (uint8_t)(v >> 16);
	w->buf[w->pos + 2] = (uint8_t)(v >> 8);
	w->buf[w->pos + 3] = (uint8_t)v;
	w->pos += 4;
}

static inline void
sp_wire_put_u32le(sp_wire *w, uint32_t v)
{
	if (!sp_wire_wneed(w, 4))
		return;
	w->buf[w->pos] = (uint8_t)v;
	w->buf[w->pos + 1] = (uint8_t)(v >> 8);
	w->buf[w->pos + 2] = (uint8_t)(v >> 16);
	w->buf[w->pos + 3] = (uint8_t)(v >> 24);
	w->pos += 4;
}

static inline void
sp_wire_put(sp_wire *w, const void *data, size_t n)
{
	if (!sp_wire_wneed(w, n) || n == 0)
		return;
	memcpy(w->buf + w->pos, data, n);
	w->pos += n;
}

static inline void
sp_wire_put_str(sp_wire *w, const char *s)
{
	sp_wire_put(w, s, strlen(s));
}

/*
 * Read one line (up to and excluding LF; a CR before the LF is dropped).
 * *line points into the buffer and is not NUL-terminated. Returns false at
 * the end of the buffer. A final line without LF is returned as a line;
 * callers that need the LF check *had_lf.
 */
bool sp_wire_line(sp_wire *w, const char **line, size_t *len, bool *had_lf);

#endif
