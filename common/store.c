/* The store's name rules and validating wrappers, shared by every backend
 * (the daemon's directory store and the unikernel's block-device store). */
#include "sp_platform.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int
sp_store_name_ok(const char *name)
{
	int slashes = 0;
	size_t len = strlen(name), comp = 0;

	if (len == 0 || len > 200)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];
		if (c == '/' || c == '\0') {
			/* No empty, "." or ".." components; no hidden names, which
			 * are reserved for temporary files. */
			if (comp == 0 || name[i - comp] == '.')
				return 0;
			if (c == '/' && ++slashes > 1)
				return 0;
			comp = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
		comp++;
	}
	return 1;
}

static int
bad_name(sp_store *s, const char *name, sp_errmsg *e)
{
	return sp_errf(e, SP_EINVAL, "%s: invalid store name '%s'",
	    sp_store_where(s), name);
}

int
sp_store_get(sp_store *s, const char *name, uint8_t **data, size_t *len,
    sp_errmsg *e)
{
	if (!sp_store_name_ok(name))
		return bad_name(s, name, e);
	return s->ops->get(s, name, data, len, e);
}

int
sp_store_put(sp_store *s, const char *name, const void *data, size_t len,
    sp_errmsg *e)
{
	if (!sp_store_name_ok(name))
		return bad_name(s, name, e);
	if (len > SP_STORE_MAX)
		return sp_errf(e, SP_EINVAL, "%s/%s: %zu bytes is over the limit",
		    sp_store_where(s), name, len);
	return s->ops->put(s, name, data, len, e);
}

int
sp_store_del(sp_store *s, const char *name, sp_errmsg *e)
{
	if (!sp_store_name_ok(name))
		return bad_name(s, name, e);
	return s->ops->del(s, name, e);
}

int
sp_store_list(sp_store *s, const char *dir, int (*cb)(void *, const char *),
    void *arg, sp_errmsg *e)
{
	if (dir[0] != '\0' && (!sp_store_name_ok(dir) || strchr(dir, '/') != NULL))
		return bad_name(s, dir, e);
	return s->ops->list(s, dir, cb, arg, e);
}

const char *
sp_store_where(sp_store *s)
{
	return s->ops->where(s);
}

int
sp_store_lock(sp_store *s, sp_errmsg *e)
{
	return s->ops->lock(s, e);
}

void
sp_store_release(uint8_t *data, size_t len)
{
	if (data == NULL)
		return;
	sodium_memzero(data, len);
	free(data);
}

void
sp_store_close(sp_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}
