#include "sp_wire.h"

bool
sp_wire_line(sp_wire *w, const char **line, size_t *len, bool *had_lf)
{
	const uint8_t *start, *lf;
	size_t left, n;

	if (w->err != SP_OK || w->pos >= w->len)
		return false;
	start = w->buf + w->pos;
	left = w->len - w->pos;
	lf = memchr(start, '\n', left);
	n = lf != NULL ? (size_t)(lf - start) : left;
	w->pos += lf != NULL ? n + 1 : n;
	if (had_lf != NULL)
		*had_lf = lf != NULL;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*line = (const char *)start;
	*len = n;
	return true;
}
