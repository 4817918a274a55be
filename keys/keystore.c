/* Keys in an sp_store: one file per key under keys/, named <role>-<id>.key. */
#define _GNU_SOURCE
#include "key_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_DIR "keys"

void
sp_keystore_name(const sp_key_info *k, char out[64])
{
	snprintf(out, 64, "%s-%s.key", sp_key_role_name(k->role), k->id);
}

int
sp_keystore_add(sp_store *s, const sp_key *key, sp_errmsg *e)
{
	char base[64], name[80];
	uint8_t *old;
	size_t oldlen, len;
	char *text;
	int rc;

	sp_keystore_name(&key->info, base);
	snprintf(name, sizeof(name), KEYS_DIR "/%s", base);
	rc = sp_store_get(s, name, &old, &oldlen, NULL);
	if (rc == SP_OK) {
		sp_store_release(old, oldlen);
		return sp_errf(e, SP_EEXIST, "%s/%s: already exists", sp_store_where(s), name);
	}
	if ((rc = sp_key_encode(key, &text, &len)) != SP_OK)
		return sp_errf(e, rc, "%s/%s: cannot encode key: %s", sp_store_where(s),
		    name, sp_strerror(rc));
	rc = sp_store_put(s, name, text, len, e);
	sp_key_text_free(text, len);
	return rc;
}

int
sp_keystore_update(sp_store *s, const sp_key *key, sp_errmsg *e)
{
	char base[64], name[80];
	size_t len;
	char *text;
	int rc;

	sp_keystore_name(&key->info, base);
	snprintf(name, sizeof(name), KEYS_DIR "/%s", base);
	if ((rc = sp_key_encode(key, &text, &len)) != SP_OK)
		return sp_errf(e, rc, "%s/%s: cannot encode key: %s", sp_store_where(s),
		    name, sp_strerror(rc));
	rc = sp_store_put(s, name, text, len, e);
	sp_key_text_free(text, len);
	return rc;
}

int
sp_keystore_remove(sp_store *s, const sp_key_info *key, sp_errmsg *e)
{
	char base[64], name[80];

	sp_keystore_name(key, base);
	snprintf(name, sizeof(name), KEYS_DIR "/%s", base);
	return sp_store_del(s, name, e);
}

struct collect {
	sp_store *store;
	const char *pass;
	size_t passlen;
	int want_secret;
	sp_key **keys;
	size_t n, cap;
	sp_errmsg *e;
};

static int
collect_one(void *arg, const char *name)
{
	struct collect *c = arg;
	sp_errmsg why;
	uint8_t *data;
	size_t len;
	sp_key *k;
	int rc;

	if (strlen(name) < 4 || strcmp(name + strlen(name) - 4, ".key") != 0)
		return SP_OK;
	if ((rc = sp_store_get(c->store, name, &data, &len, c->e)) != SP_OK)
		return rc;
	rc = sp_key_decode((const char *)data, len, c->pass, c->passlen,
	    c->want_secret, &k, &why);
	sp_store_release(data, len);
	if (rc != SP_OK)
		return sp_errf(c->e, rc, "%s/%s: %s", sp_store_where(c->store), name,
		    rc == SP_ENOMEM ? sp_strerror(rc) : why.msg);
	{
		char want[64];
		sp_keystore_name(&k->info, want);
		if (strcmp(name + strlen(KEYS_DIR) + 1, want) != 0) {
			sp_key_free(k);
			return sp_errf(c->e, SP_ECORRUPT,
			    "%s/%s: holds a different key (%s); was it renamed?",
			    sp_store_where(c->store), name, want);
		}
	}
	if (c->n == c->cap) {
		sp_key **nk = realloc(c->keys, (c->cap = c->cap ? 2 * c->cap : 8) * sizeof(*nk));
		if (nk == NULL) {
			sp_key_free(k);
			return SP_ENOMEM;
		}
		c->keys = nk;
	}
	c->keys[c->n++] = k;
	return SP_OK;
}

static int
collect(sp_store *s, const char *pass, size_t passlen, int want_secret,
    struct collect *c, sp_errmsg *e)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->store = s;
	c->pass = pass;
	c->passlen = passlen;
	c->want_secret = want_secret;
	c->e = e;
	rc = sp_store_list(s, KEYS_DIR, collect_one, c, e);
	if (rc != SP_OK) {
		sp_keystore_free_all(c->keys, c->n);
		c->keys = NULL;
		c->n = 0;
	}
	return rc;
}

int
sp_keystore_list(sp_store *s, sp_key_info **out, size_t *n, sp_errmsg *e)
{
	struct collect c;
	sp_key_info *infos;
	int rc;

	if ((rc = collect(s, NULL, 0, 0, &c, e)) != SP_OK)
		return rc;
	infos = calloc(c.n ? c.n : 1, sizeof(*infos));
	if (infos == NULL) {
		sp_keystore_free_all(c.keys, c.n);
		return SP_ENOMEM;
	}
	for (size_t i = 0; i < c.n; i++)
		infos[i] = c.keys[i]->info;
	*n = c.n;
	*out = infos;
	sp_keystore_free_all(c.keys, c.n);
	return SP_OK;
}

int
sp_keystore_load_all(sp_store *s, const char *pass, size_t passlen,
    sp_key ***out, size_t *n, sp_errmsg *e)
{
	struct collect c;
	int rc;

	if ((rc = collect(s, pass, passlen, 1, &c, e)) != SP_OK)
		return rc;
	*out = c.keys;
	*n = c.n;
	return SP_OK;
}

void
sp_keystore_free_all(sp_key **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sp_key_free(keys[i]);
	free(keys);
}

int
sp_passphrase_read(const char *path, char **pass, size_t *len, sp_errmsg *e)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sp_errf(e, errno == ENOENT ? SP_ENOENT : SP_EIO,
		    "passphrase file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
		close(fd);
		return sp_errf(e, SP_EPERM,
		    "passphrase file %s is open to group or others (mode %04o); expected 0600",
		    path, (unsigned)(st.st_mode & 07777));
	}
	if ((buf = sodium_malloc(1025)) == NULL) {
		close(fd);
		return SP_ENOMEM;
	}
	r = read(fd, buf, 1024);
	close(fd);
	if (r < 0) {
		sodium_free(buf);
		return sp_errf(e, SP_EIO, "passphrase file %s: %s", path, strerror(errno));
	}
	buf[r] = '\0';
	n = strcspn(buf, "\r\n");
	if (n == 0) {
		sodium_free(buf);
		return sp_errf(e, SP_EINVAL, "passphrase file %s: the first line is empty", path);
	}
	sodium_memzero(buf + n, (size_t)r - n);
	*pass = buf;
	*len = n;
	return SP_OK;
}

void
sp_passphrase_free(char *pass, size_t len)
{
	(void)len;
	if (pass != NULL)
		sodium_free(pass);
}
