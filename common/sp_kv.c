#include "sp_kv.h"

#include <string.h>

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

int
sp_kv_next(sp_wire *r, const char *what, unsigned *lineno, sp_kv *kv, sp_errmsg *e)
{
	const char *line;
	size_t n;

	while (sp_wire_line(r, &line, &n, NULL)) {
		size_t i = 0, k = 0, v = 0;

		(*lineno)++;
		if (n > SP_KV_LINE_MAX - 1)
			return sp_errf(e, SP_ECONFIG, "%s:%u: line is longer than %d bytes",
			    what, *lineno, SP_KV_LINE_MAX - 1);
		for (size_t j = 0; j < n; j++)
			if ((unsigned char)line[j] < 0x20 && line[j] != '\t')
				return sp_errf(e, SP_ECONFIG,
				    "%s:%u: control character (0x%02x) in line", what,
				    *lineno, (unsigned char)line[j]);
		while (i < n && is_space(line[i]))
			i++;
		if (i == n || line[i] == '#')
			continue;
		while (i < n && !is_space(line[i])) {
			char c = line[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') ||
			    k == sizeof(kv->key) - 1) {
				/* The line is not NUL-terminated: name the key by
				 * scanning only up to the end of the line. */
				size_t end = i;
				while (end < n && !is_space(line[end]))
					end++;
				return sp_errf(e, SP_ECONFIG,
				    "%s:%u: '%.*s' is not a valid option name", what, *lineno,
				    (int)(end - (i - k)), line + i - k);
			}
			kv->key[k++] = c;
			i++;
		}
		kv->key[k] = '\0';
		while (i < n && is_space(line[i]))
			i++;
		if (i < n && line[i] == '"') {
			for (i++; i < n && line[i] != '"'; i++) {
				if (line[i] == '\\' && i + 1 < n &&
				    (line[i + 1] == '"' || line[i + 1] == '\\'))
					i++;
				kv->value[v++] = line[i];
			}
			if (i == n)
				return sp_errf(e, SP_ECONFIG, "%s:%u: unterminated quoted value",
				    what, *lineno);
			for (i++; i < n && is_space(line[i]); i++)
				;
			if (i < n && line[i] != '#')
				return sp_errf(e, SP_ECONFIG,
				    "%s:%u: unexpected text after the quoted value", what, *lineno);
		} else {
			size_t end = n;
			while (end > i && is_space(line[end - 1]))
				end--;
			memcpy(kv->value, line + i, end - i);
			v = end - i;
		}
		kv->value[v] = '\0';
		kv->line = *lineno;
		return 1;
	}
	return 0;
}
