#include "sp_allowedips.h"

#include <stdlib.h>
#include <string.h>

struct node {
	struct node *child[2];
	void *peer;           /* the owner of the prefix ending here, or NULL */
};

struct sp_allowedips {
	struct node *root[2];  /* IPv4, IPv6 */
};

int
sp_allowedips_new(sp_allowedips **out)
{
	sp_allowedips *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return SP_ENOMEM;
	*out = t;
	return SP_OK;
}

static void
free_node(struct node *n)
{
	/* Depth is at most 128, so recursion is bounded. */
	if (n == NULL)
		return;
	free_node(n->child[0]);
	free_node(n->child[1]);
	free(n);
}

void
sp_allowedips_free(sp_allowedips *t)
{
	if (t == NULL)
		return;
	free_node(t->root[0]);
	free_node(t->root[1]);
	free(t);
}

static int
bit(const uint8_t *addr, unsigned i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

int
sp_allowedips_insert(sp_allowedips *t, int family, const uint8_t *addr, unsigned cidr, void *peer)
{
	unsigned max = family == 4 ? 32 : 128;
	struct node **n = &t->root[family == 4 ? 0 : 1];

	if ((family != 4 && family != 6) || cidr > max || peer == NULL)
		return SP_EINVAL;
	for (unsigned i = 0;; i++) {
		if (*n == NULL && (*n = calloc(1, sizeof(**n))) == NULL)
			return SP_ENOMEM;
		if (i == cidr)
			break;
		n = &(*n)->child[bit(addr, i)];
	}
	(*n)->peer = peer;
	return SP_OK;
}

void *
sp_allowedips_lookup(const sp_allowedips *t, int family, const uint8_t *addr)
{
	unsigned max = family == 4 ? 32 : 128;
	const struct node *n;
	void *best = NULL;

	if (family != 4 && family != 6)
		return NULL;
	n = t->root[family == 4 ? 0 : 1];
	for (unsigned i = 0; n != NULL; i++) {
		if (n->peer != NULL)
			best = n->peer;
		if (i == max)
			break;
		n = n->child[bit(addr, i)];
	}
	return best;
}

static void
remove_peer(struct node *n, void *peer)
{
	if (n == NULL)
		return;
	if (n->peer == peer)
		n->peer = NULL;
	remove_peer(n->child[0], peer);
	remove_peer(n->child[1], peer);
}

void
sp_allowedips_remove_peer(sp_allowedips *t, void *peer)
{
	remove_peer(t->root[0], peer);
	remove_peer(t->root[1], peer);
}

static void
walk(const struct node *n, const void *peer, int family, uint8_t *addr, unsigned depth,
    void (*cb)(void *, int, const uint8_t *, unsigned), void *arg)
{
	if (n == NULL)
		return;
	if (n->peer == peer)
		cb(arg, family, addr, depth);
	for (int b = 0; b < 2; b++) {
		if (n->child[b] == NULL)
			continue;
		if (b)
			addr[depth / 8] |= (uint8_t)(0x80 >> (depth % 8));
		walk(n->child[b], peer, family, addr, depth + 1, cb, arg);
		addr[depth / 8] &= (uint8_t)~(0x80 >> (depth % 8));
	}
}

void
sp_allowedips_walk(const sp_allowedips *t, const void *peer,
    void (*cb)(void *arg, int family, const uint8_t *addr, unsigned cidr), void *arg)
{
	uint8_t addr[16];

	memset(addr, 0, sizeof(addr));
	walk(t->root[0], peer, 4, addr, 0, cb, arg);
	memset(addr, 0, sizeof(addr));
	walk(t->root[1], peer, 6, addr, 0, cb, arg);
}

int
sp_ip_addrs(const uint8_t *pkt, size_t len, int *family, const uint8_t **src,
    const uint8_t **dst)
{
	if (len >= 20 && (pkt[0] >> 4) == 4 && (pkt[0] & 0x0f) >= 5) {
		*family = 4;
		*src = pkt + 12;
		*dst = pkt + 16;
		return SP_OK;
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*family = 6;
		*src = pkt + 8;
		*dst = pkt + 24;
		return SP_OK;
	}
	return SP_EINVAL;
}
