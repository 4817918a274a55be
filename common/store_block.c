/*
 * Storage on a raw block device, for the unikernel, which has no file
 * system to put a state directory on (docs/unikernel.md).
 *
 * The device holds two copies of the whole store, one in each half. A
 * copy is a 64-byte header (magic, generation, length, SHA-256 of the
 * body) and a body of entries (name, content). A change is made in
 * memory, written whole to the half not in use, and flushed to the
 * device; only then is it the current copy. A crash during the write
 * leaves a copy whose checksum fails, and the other half, one generation
 * older and intact, is read at the next boot. The state is small (keys,
 * the cloud, devices), so rewriting all of it each time costs little and
 * needs no journal.
 *
 * sp_blk_parse and sp_blk_serialize are pure; the ops are the adapter.
 */
#define _GNU_SOURCE
#include "sp_platform.h"
#include "sp_blkstore.h"
#include "sp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

static const uint8_t MAGIC[8] = { 'S', 'P', 'S', 'T', 'O', 'R', 'E', '1' };

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void
sp_blk_free_entries(sp_blk_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ents[i].data != NULL) {
			sodium_memzero(ents[i].data, ents[i].len);
			free(ents[i].data);
		}
	}
	free(ents);
}

int
sp_blk_header(const uint8_t *hdr, uint64_t *gen, uint64_t *len)
{
	static const uint8_t zero[SP_BLK_HEADER - 56];

	/* The last bytes are reserved and written as zero: a header with
	 * anything there is not one this version wrote (the fuzzer found one
	 * that parsed and then serialized differently). */
	if (memcmp(hdr, MAGIC, sizeof(MAGIC)) != 0 || memcmp(hdr + 56, zero, sizeof(zero)) != 0)
		return -1;
	*gen = get64(hdr + 8);
	*len = get64(hdr + 16);
	return 0;
}

int
sp_blk_parse(const uint8_t *hdr, const uint8_t *body, size_t avail, uint64_t *gen,
    sp_blk_entry **out, size_t *nout)
{
	uint8_t sum[crypto_hash_sha256_BYTES];
	uint64_t len;
	sp_blk_entry *ents = NULL;
	size_t n = 0, cap = 0, at = 0;

	if (sp_blk_header(hdr, gen, &len) != 0 || len > avail)
		return -1;
	crypto_hash_sha256(sum, body, len);
	if (sodium_memcmp(sum, hdr + 24, sizeof(sum)) != 0)
		return -1;
	while (at < len) {
		sp_blk_entry *e;
		size_t nl, dl;

		if (len - at < 6)
			goto bad;
		nl = (size_t)body[at] << 8 | body[at + 1];
		dl = (size_t)body[at + 2] << 24 | (size_t)body[at + 3] << 16 |
		    (size_t)body[at + 4] << 8 | body[at + 5];
		at += 6;
		if (nl == 0 || nl >= sizeof(e->name) || len - at < nl || len - at - nl < dl ||
		    dl > SP_STORE_MAX)
			goto bad;
		if (n == cap) {
			sp_blk_entry *ne = realloc(ents, (cap = cap ? cap * 2 : 16) * sizeof(*ents));
			if (ne == NULL)
				goto bad;
			ents = ne;
		}
		e = &ents[n];
		memcpy(e->name, body + at, nl);
		e->name[nl] = '\0';
		/* Names sorted and valid, as every writer leaves them. */
		if (!sp_store_name_ok(e->name) || memchr(e->name, '\0', nl) != NULL ||
		    (n > 0 && strcmp(ents[n - 1].name, e->name) >= 0))
			goto bad;
		at += nl;
		e->len = dl;
		if ((e->data = malloc(dl ? dl : 1)) == NULL)
			goto bad;
		memcpy(e->data, body + at, dl);
		at += dl;
		n++;
	}
	*out = ents;
	*nout = n;
	return 0;
bad:
	sp_blk_free_entries(ents, n);
	return -1;
}

size_t
sp_blk_serialize(const sp_blk_entry *ents, size_t n, uint64_t gen, uint8_t *out, size_t cap)
{
	size_t at = SP_BLK_HEADER;

	if (cap < SP_BLK_HEADER)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(ents[i].name);
		if (cap - at < 6 + nl || cap - at - 6 - nl < ents[i].len)
			return 0;
		out[at] = (uint8_t)(nl >> 8);
		out[at + 1] = (uint8_t)nl;
		out[at + 2] = (uint8_t)(ents[i].len >> 24);
		out[at + 3] = (uint8_t)(ents[i].len >> 16);
		out[at + 4] = (uint8_t)(ents[i].len >> 8);
		out[at + 5] = (uint8_t)ents[i].len;
		memcpy(out + at + 6, ents[i].name, nl);
		memcpy(out + at + 6 + nl, ents[i].data, ents[i].len);
		at += 6 + nl + ents[i].len;
	}
	memset(out, 0, SP_BLK_HEADER);
	memcpy(out, MAGIC, sizeof(MAGIC));
	put64(out + 8, gen);
	put64(out + 16, at - SP_BLK_HEADER);
	crypto_hash_sha256(out + 24, out + SP_BLK_HEADER, at - SP_BLK_HEADER);
	return at;
}

/* ---- the adapter ---------------------------------------------------------- */

typedef struct blk_store {
	struct sp_store base;
	int fd;
	char path[256];
	uint64_t half;          /* bytes per copy */
	uint64_t gen;           /* of the current copy */
	int cur;                /* which half holds it, -1 for none yet */
	sp_blk_entry *ents;
	size_t n;
} blk_store;

static sp_blk_entry *
find(blk_store *b, const char *name, size_t *pos)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(b->ents[mid].name, name);
		if (c == 0) {
			*pos = mid;
			return &b->ents[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return NULL;
}

/* Write the entries as the next generation to the other half, durably. */
static int
commit(blk_store *b, sp_errmsg *e)
{
	int half = b->cur == 0 ? 1 : 0;
	size_t cap = (size_t)b->half, len;
	uint8_t *buf = malloc(cap);
	int rc = SP_OK;

	if (buf == NULL)
		return SP_ENOMEM;
	len = sp_blk_serialize(b->ents, b->n, b->gen + 1, buf, cap);
	if (len == 0) {
		rc = sp_errf(e, SP_ESPACE, "%s: the store needs more than %llu bytes", b->path,
		    (unsigned long long)cap);
	} else if (pwrite(b->fd, buf, len, (off_t)(half * b->half)) != (ssize_t)len ||
	    fdatasync(b->fd) != 0) {
		rc = sp_errf(e, SP_EIO, "%s: write: %s", b->path, strerror(errno));
	} else {
		b->gen++;
		b->cur = half;
	}
	sodium_memzero(buf, cap);
	free(buf);
	return rc;
}

static int
bs_get(sp_store *s, const char *name, uint8_t **data, size_t *len, sp_errmsg *e)
{
	blk_store *b = (blk_store *)s;
	sp_blk_entry *ent;
	size_t pos;

	if ((ent = find(b, name, &pos)) == NULL)
		return sp_errf(e, SP_ENOENT, "%s: %s: no such entry", b->path, name);
	if ((*data = malloc(ent->len + 1)) == NULL)
		return SP_ENOMEM;
	memcpy(*data, ent->data, ent->len);
	(*data)[ent->len] = '\0';
	*len = ent->len;
	return SP_OK;
}

static int
bs_put(sp_store *s, const char *name, const void *data, size_t len, sp_errmsg *e)
{
	blk_store *b = (blk_store *)s;
	sp_blk_entry *ent, saved;
	size_t pos;
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	if (copy == NULL)
		return SP_ENOMEM;
	memcpy(copy, data, len);
	if ((ent = find(b, name, &pos)) != NULL) {
		saved = *ent;
		ent->data = copy;
		ent->len = len;
		if ((rc = commit(b, e)) != SP_OK) {
			*ent = saved;
			sodium_memzero(copy, len);
			free(copy);
			return rc;
		}
		sodium_memzero(saved.data, saved.len);
		free(saved.data);
		return SP_OK;
	}
	{
		sp_blk_entry *ne = realloc(b->ents, (b->n + 1) * sizeof(*ne));
		if (ne == NULL) {
			free(copy);
			return SP_ENOMEM;
		}
		b->ents = ne;
	}
	memmove(&b->ents[pos + 1], &b->ents[pos], (b->n - pos) * sizeof(*b->ents));
	snprintf(b->ents[pos].name, sizeof(b->ents[pos].name), "%s", name);
	b->ents[pos].data = copy;
	b->ents[pos].len = len;
	b->n++;
	if ((rc = commit(b, e)) != SP_OK) {
		memmove(&b->ents[pos], &b->ents[pos + 1], (b->n - pos - 1) * sizeof(*b->ents));
		b->n--;
		sodium_memzero(copy, len);
		free(copy);
	}
	return rc;
}

static int
bs_del(sp_store *s, const char *name, sp_errmsg *e)
{
	blk_store *b = (blk_store *)s;
	sp_blk_entry *ent, saved;
	size_t pos;
	int rc;

	if ((ent = find(b, name, &pos)) == NULL)
		return sp_errf(e, SP_ENOENT, "%s: %s: no such entry", b->path, name);
	saved = *ent;
	memmove(&b->ents[pos], &b->ents[pos + 1], (b->n - pos - 1) * sizeof(*b->ents));
	b->n--;
	if ((rc = commit(b, e)) != SP_OK) {
		memmove(&b->ents[pos + 1], &b->ents[pos], (b->n - pos) * sizeof(*b->ents));
		b->ents[pos] = saved;
		b->n++;
		return rc;
	}
	sodium_memzero(saved.data, saved.len);
	free(saved.data);
	return SP_OK;
}

static int
bs_list(sp_store *s, const char *dir, int (*cb)(void *, const char *), void *arg, sp_errmsg *e)
{
	blk_store *b = (blk_store *)s;
	size_t dl = strlen(dir);

	(void)e;
	/* Sorted already; a folder lists the names one level inside it. */
	for (size_t i = 0; i < b->n; i++) {
		const char *nm = b->ents[i].name, *slash = strchr(nm, '/');
		int rc;
		if (dl == 0 ? slash != NULL : (strncmp(nm, dir, dl) != 0 || nm[dl] != '/'))
			continue;
		if ((rc = cb(arg, nm)) != SP_OK)
			return rc;
	}
	return SP_OK;
}

static const char *
bs_where(sp_store *s)
{
	return ((blk_store *)s)->path;
}

/* The device itself is locked: one writer of a disk at a time. */
static int
bs_lock(sp_store *s, sp_errmsg *e)
{
	blk_store *b = (blk_store *)s;

	if (flock(b->fd, LOCK_EX | LOCK_NB) == 0)
		return SP_OK;
	if (errno == EWOULDBLOCK)
		return sp_errf(e, SP_EEXIST, "%s: in use by another signpostd", b->path);
	return sp_errf(e, SP_EIO, "%s: lock: %s", b->path, strerror(errno));
}

static void
bs_close(sp_store *s)
{
	blk_store *b = (blk_store *)s;

	sp_blk_free_entries(b->ents, b->n);
	close(b->fd);
	free(b);
}

static const struct sp_store_ops blk_ops = {
	bs_get, bs_put, bs_del, bs_list, bs_where, bs_lock, bs_close,
};

/* Read the copy in one half; 0 and its entries if it is whole. */
static int
read_half(blk_store *b, int half, int *blank, uint64_t *gen, sp_blk_entry **ents, size_t *n)
{
	uint8_t hdr[SP_BLK_HEADER], *body;
	uint64_t g, len;
	int rc;

	*blank = 0;
	if (pread(b->fd, hdr, sizeof(hdr), (off_t)(half * b->half)) != (ssize_t)sizeof(hdr))
		return -1;
	if (sp_blk_header(hdr, &g, &len) != 0) {
		static const uint8_t zero[SP_BLK_HEADER];
		*blank = memcmp(hdr, zero, sizeof(zero)) == 0;
		return -1;
	}
	if (len > b->half - SP_BLK_HEADER || (body = malloc(len ? len : 1)) == NULL)
		return -1;
	if (pread(b->fd, body, len, (off_t)(half * b->half + SP_BLK_HEADER)) != (ssize_t)len) {
		free(body);
		return -1;
	}
	rc = sp_blk_parse(hdr, body, len, gen, ents, n);
	sodium_memzero(body, len);
	free(body);
	return rc;
}

int
sp_store_open_block(const char *path, sp_store **out, sp_errmsg *e)
{
	blk_store *b;
	struct stat st;
	uint64_t size, gen[2] = { 0, 0 };
	sp_blk_entry *ents[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 };
	int ok[2], blank[2];

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SP_ENOMEM;
	b->base.ops = &blk_ops;
	snprintf(b->path, sizeof(b->path), "%s", path);
	if ((b->fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		int err = errno;
		free(b);
		return sp_errf(e, err == ENOENT ? SP_ENOENT : SP_EIO, "%s: %s", path, strerror(err));
	}
	if (fstat(b->fd, &st) != 0)
		goto io;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) != 0)
			goto io;
	} else {
		size = (uint64_t)st.st_size;   /* a plain file: the tests */
	}
	b->half = size / 2 / 4096 * 4096;
	if (b->half < 64 * 1024) {
		close(b->fd);
		free(b);
		return sp_errf(e, SP_EINVAL, "%s: %llu bytes is too small for a store (128 KB at least)",
		    path, (unsigned long long)size);
	}
	for (int h = 0; h < 2; h++)
		ok[h] = read_half(b, h, &blank[h], &gen[h], &ents[h], &n[h]) == 0;
	if (!ok[0] && !ok[1] && !(blank[0] && blank[1])) {
		/* Neither copy whole and not blank: never overwrite what we do not
		 * understand; someone must look at it. */
		close(b->fd);
		free(b);
		return sp_errf(e, SP_ECORRUPT, "%s: holds no intact store (both copies damaged, "
		    "or not a signpost store); refusing to overwrite it", path);
	}
	b->cur = -1;
	if (ok[0] || ok[1]) {
		int h = ok[0] && (!ok[1] || gen[0] > gen[1]) ? 0 : 1;
		b->cur = h;
		b->gen = gen[h];
		b->ents = ents[h];
		b->n = n[h];
		sp_blk_free_entries(ents[1 - h], n[1 - h]);
		if (!ok[1 - h] && !blank[1 - h])
			sp_warn("%s: one copy of the store was damaged (an interrupted write?); "
			    "using the other, generation %llu", path, (unsigned long long)b->gen);
	}
	*out = &b->base;
	return SP_OK;
io:
	{
		int err = errno;
		close(b->fd);
		free(b);
		return sp_errf(e, SP_EIO, "%s: %s", path, strerror(err));
	}
}
