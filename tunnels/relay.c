/* The relay's framing and table (sp_relay.h, docs/relay.md). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sp_err.h"
#include "sp_relay.h"

struct slot {
	void *owner;                 /* NULL: free */
	uint8_t key[SP_RELAY_KEY];
};

/*
 * Slots by index, and an open-addressed index of keys (linear probing,
 * tombstones) so a frame finds its sender in one or two probes. The keys
 * are our own random numbers, secret to their members, so their first
 * bytes are already a uniform hash an attacker cannot steer.
 */
struct sp_relay_table {
	const sp_rng *rng;
	struct slot *slot;           /* [cap], slot 0 unused */
	uint32_t cap, count, next;   /* next: where the search for a free slot starts */
	uint32_t *hash;              /* [hcap]: 0 empty, TOMB deleted, else an index */
	uint32_t hcap, hused;        /* hused: live + tombstones */
	sp_relay_stats stats;
};

#define TOMB UINT32_MAX

static uint64_t
key_hash(const uint8_t key[SP_RELAY_KEY])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return h;
}

int
sp_relay_parse(const uint8_t *msg, size_t len, sp_relay_hdr *out)
{
	if (len < SP_RELAY_HEADER + 4)
		return SP_EPROTO;
	return sp_relay_parse_header(msg, out);
}

int
sp_relay_parse_header(const uint8_t msg[SP_RELAY_HEADER], sp_relay_hdr *out)
{
	if (!sp_relay_is(msg, SP_RELAY_HEADER) ||
	    (msg[1] != SP_RELAY_TO && msg[1] != SP_RELAY_FROM))
		return SP_EPROTO;
	out->kind = (enum sp_relay_kind)msg[1];
	out->index = (uint32_t)msg[4] | (uint32_t)msg[5] << 8 | (uint32_t)msg[6] << 16 |
	    (uint32_t)msg[7] << 24;
	memcpy(out->key, msg + 8, SP_RELAY_KEY);
	return SP_OK;
}

void
sp_relay_write(uint8_t out[SP_RELAY_HEADER], enum sp_relay_kind kind, uint32_t index,
    const uint8_t key[SP_RELAY_KEY])
{
	out[0] = SP_RELAY_MAGIC;
	out[1] = (uint8_t)kind;
	out[2] = out[3] = 0;
	out[4] = (uint8_t)index;
	out[5] = (uint8_t)(index >> 8);
	out[6] = (uint8_t)(index >> 16);
	out[7] = (uint8_t)(index >> 24);
	memcpy(out + 8, key, SP_RELAY_KEY);
}

int
sp_relay_table_new(const sp_rng *rng, sp_relay_table **out)
{
	sp_relay_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return SP_ENOMEM;
	t->rng = rng;
	t->next = 1;
	*out = t;
	return SP_OK;
}

void
sp_relay_table_free(sp_relay_table *t)
{
	if (t == NULL)
		return;
	if (t->slot != NULL)
		sodium_memzero(t->slot, (size_t)t->cap * sizeof(*t->slot));
	free(t->slot);
	free(t->hash);
	free(t);
}

/* The hash position of index's key, or of the first free place for it. */
static uint32_t *
hash_find(const sp_relay_table *t, const uint8_t key[SP_RELAY_KEY], int for_insert)
{
	uint32_t mask = t->hcap - 1, i = (uint32_t)key_hash(key) & mask;
	uint32_t *tomb = NULL;

	for (uint32_t n = 0; n < t->hcap; n++, i = (i + 1) & mask) {
		uint32_t v = t->hash[i];
		if (v == 0)
			return for_insert && tomb != NULL ? tomb : for_insert ? &t->hash[i] : NULL;
		if (v == TOMB) {
			if (tomb == NULL)
				tomb = &t->hash[i];
			continue;
		}
		if (memcmp(t->slot[v].key, key, SP_RELAY_KEY) == 0)
			return &t->hash[i];
	}
	return for_insert ? tomb : NULL;
}

static int
rehash(sp_relay_table *t, uint32_t hcap)
{
	uint32_t *h = calloc(hcap, sizeof(*h));

	if (h == NULL)
		return SP_ENOMEM;
	free(t->hash);
	t->hash = h;
	t->hcap = hcap;
	t->hused = 0;
	for (uint32_t i = 1; i < t->cap; i++)
		if (t->slot[i].owner != NULL) {
			*hash_find(t, t->slot[i].key, 1) = i;
			t->hused++;
		}
	return SP_OK;
}

int
sp_relay_add(sp_relay_table *t, void *owner, uint32_t *index, uint8_t key[SP_RELAY_KEY])
{
	uint32_t i;

	if (owner == NULL)
		return SP_EINVAL;
	if (t->count + 1 >= t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		struct slot *s;
		if (cap > SP_RELAY_MAX + 1)
			cap = SP_RELAY_MAX + 1;
		if (t->count + 1 >= cap)
			return SP_ESPACE;
		if ((s = realloc(t->slot, (size_t)cap * sizeof(*s))) == NULL)
			return SP_ENOMEM;
		memset(s + t->cap, 0, (size_t)(cap - t->cap) * sizeof(*s));
		t->slot = s;
		if (t->cap == 0)
			t->cap = 1;
		t->next = t->cap;
		t->cap = cap;
	}
	/* Keep the key index at most half full, tombstones included. */
	if ((t->hused + 1) * 2 > t->hcap) {
		uint32_t hcap = 32;
		while (hcap < 4 * (t->count + 1))
			hcap *= 2;
		if (rehash(t, hcap) != SP_OK)
			return SP_ENOMEM;
	}
	for (i = t->next; t->slot[i].owner != NULL;)
		i = i + 1 < t->cap ? i + 1 : 1;
	/* Not reused at once: a slot freed by a revocation keeps being
	 * refused for a while instead of reaching the next member. */
	/* A fresh key, unlike every other: a collision of 64 random bits is
	 * not going to happen, but a duplicate would misroute, so check. */
	do
		t->rng->fill(t->rng->ctx, t->slot[i].key, SP_RELAY_KEY);
	while (hash_find(t, t->slot[i].key, 0) != NULL);
	t->slot[i].owner = owner;
	{
		uint32_t *h = hash_find(t, t->slot[i].key, 1);
		if (*h == 0)
			t->hused++;
		*h = i;
	}
	t->count++;
	t->next = i + 1 < t->cap ? i + 1 : 1;
	*index = i;
	memcpy(key, t->slot[i].key, SP_RELAY_KEY);
	return SP_OK;
}

void
sp_relay_remove(sp_relay_table *t, uint32_t index)
{
	uint32_t *h;

	if (index == 0 || index >= t->cap || t->slot[index].owner == NULL)
		return;
	if ((h = hash_find(t, t->slot[index].key, 0)) != NULL)
		*h = TOMB;
	memset(&t->slot[index], 0, sizeof(t->slot[index]));
	t->count--;
}

void *
sp_relay_at(const sp_relay_table *t, uint32_t index, uint8_t key[SP_RELAY_KEY])
{
	if (index == 0 || index >= t->cap || t->slot[index].owner == NULL)
		return NULL;
	if (key != NULL)
		memcpy(key, t->slot[index].key, SP_RELAY_KEY);
	return t->slot[index].owner;
}

size_t
sp_relay_count(const sp_relay_table *t)
{
	return t->count;
}

sp_relay_stats *
sp_relay_stats_of(sp_relay_table *t)
{
	return &t->stats;
}

int
sp_relay_forward(sp_relay_table *t, uint8_t *msg, size_t len, void **from, void **to)
{
	sp_relay_hdr h;
	uint32_t *at, src;

	if (sp_relay_parse(msg, len, &h) != SP_OK || h.kind != SP_RELAY_TO) {
		t->stats.bad_frame++;
		return SP_EPROTO;
	}
	if (t->hcap == 0 || (at = hash_find(t, h.key, 0)) == NULL) {
		t->stats.bad_key++;
		return SP_EPROTO;
	}
	src = *at;
	if (h.index == src || h.index == 0 || h.index >= t->cap ||
	    t->slot[h.index].owner == NULL) {
		t->stats.no_dest++;
		return SP_EPROTO;
	}
	*from = t->slot[src].owner;
	*to = t->slot[h.index].owner;
	sp_relay_write(msg, SP_RELAY_FROM, src, t->slot[h.index].key);
	return SP_OK;
}
