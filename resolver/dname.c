#include "sp_dns.h"

#include <stdio.h>
#include <string.h>

static uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int
sp_dname_from_text(const char *text, uint8_t out[SP_DNAME_MAX], size_t *len)
{
	size_t o = 0, n = strlen(text);
	const char *p = text, *end;

	if (n > 0 && text[n - 1] == '.')
		n--;
	end = text + n;
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = dot != NULL ? (size_t)(dot - p) : (size_t)(end - p);
		if (l == 0 || l > 63 || o + l + 2 > SP_DNAME_MAX)
			return SP_EINVAL;
		out[o++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			out[o++] = lower((uint8_t)p[i]);
		p += l + 1;
	}
	out[o++] = 0;
	*len = o;
	return SP_OK;
}

void
sp_dname_to_text(const uint8_t *name, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 2)
		return;
	if (name[0] == 0) {
		snprintf(out, outlen, ".");
		return;
	}
	while (*name != 0 && o + 5 < outlen) {
		uint8_t l = *name++;
		for (uint8_t i = 0; i < l && o + 5 < outlen; i++, name++) {
			uint8_t c = *name;
			if (c == '.' || c == '\\')
				o += (size_t)snprintf(out + o, outlen - o, "\\%c", c);
			else if (c <= 0x20 || c >= 0x7f)
				o += (size_t)snprintf(out + o, outlen - o, "\\%03u", c);
			else
				out[o++] = (char)c;
		}
		out[o++] = '.';
	}
	out[o] = '\0';
}

unsigned
sp_dname_labels(const uint8_t *name)
{
	unsigned n = 0;

	while (*name != 0) {
		n++;
		name += *name + 1;
	}
	return n;
}

size_t
sp_dname_len(const uint8_t *name)
{
	const uint8_t *p = name;

	while (*p != 0)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

int
sp_dname_in_zone(const uint8_t *name, size_t len, const uint8_t *zone, size_t zlen)
{
	size_t off = 0;

	if (len < zlen)
		return 0;
	/* Walk label boundaries so that "xalice.example" is not in
	 * "alice.example". */
	while (len - off > zlen)
		off += (size_t)name[off] + 1;
	return len - off == zlen && memcmp(name + off, zone, zlen) == 0;
}

int
sp_dname_cmp(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[128], *lb[128];
	int na = 0, nb = 0;

	for (const uint8_t *p = a; *p; p += *p + 1)
		la[na++] = p;
	for (const uint8_t *p = b; *p; p += *p + 1)
		lb[nb++] = p;
	/* Compare from the rightmost label. */
	while (na > 0 && nb > 0) {
		const uint8_t *x = la[--na], *y = lb[--nb];
		size_t lx = x[0], ly = y[0], m = lx < ly ? lx : ly;
		for (size_t i = 1; i <= m; i++) {
			uint8_t cx = lower(x[i]), cy = lower(y[i]);
			if (cx != cy)
				return cx < cy ? -1 : 1;
		}
		if (lx != ly)
			return lx < ly ? -1 : 1;
	}
	return na == nb ? 0 : (na < nb ? -1 : 1);
}

int
sp_dname_read(sp_wire *r, uint8_t out[SP_DNAME_MAX], size_t *len, const uint8_t **raw)
{
	size_t o = 0;
	size_t start = r->pos;

	for (;;) {
		uint8_t l = sp_wire_u8(r);
		if (sp_wire_err(r) != SP_OK)
			return SP_EPROTO;
		if (l & 0xc0)
			return SP_EPROTO;
		if (o + 1 + l > SP_DNAME_MAX)
			return SP_EPROTO;
		out[o++] = l;
		if (l == 0)
			break;
		const uint8_t *p = sp_wire_view(r, l);
		if (p == NULL)
			return SP_EPROTO;
		for (uint8_t i = 0; i < l; i++)
			out[o++] = lower(p[i]);
	}
	*len = o;
	if (raw != NULL)
		*raw = r->buf + start;
	return SP_OK;
}

void
sp_dname_skip(sp_wire *r)
{
	size_t start = r->pos;

	for (unsigned n = 0; n < 128; n++) {
		uint8_t l = sp_wire_u8(r);
		if (sp_wire_err(r) != SP_OK || l == 0)
			return;
		if ((l & 0xc0) == 0xc0) {
			size_t target = (size_t)(l & 0x3f) << 8 | sp_wire_u8(r);
			/* RFC 1035 4.1.4: a pointer refers to a prior occurrence
			 * of a name. One into this name or past it is malformed:
			 * a loop for any reader that follows it. */
			if (target >= start)
				sp_wire_fail(r, SP_EPROTO);
			return;
		}
		if (l & 0xc0) {
			sp_wire_fail(r, SP_EPROTO);
			return;
		}
		sp_wire_skip(r, l);
	}
	sp_wire_fail(r, SP_EPROTO);
}
