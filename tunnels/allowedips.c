/*
 * Cryptokey routing: a path-compressed binary trie per family, as in the
 * kernel's WireGuard. A node holds a whole prefix (its bits and length),
 * so a lookup visits only the nodes whose prefixes differ, not one node
 * per bit: about log2(prefixes) nodes, against up to 128 for a trie of
 * one bit per level. A node without an owner exists only to fork two
 * subtrees, so a trie holds fewer than two nodes per prefix.
 *
 * Each owner's nodes are on a list, found through a small hash of owner
 * pointers, so removing a peer costs its own prefixes, not a walk of the
 * whole trie (a gateway with thousands of members adds and removes peers
 * often), and the nodes it leaves empty are freed.
 */
#include "sp_allowedips.h"

#include <stdlib.h>
#include <string.h>

struct node {
	struct node *child[2], *parent;
	void *peer;                 /* the owner of this prefix, or NULL: a fork */
	struct node *next, *prev;   /* the owner's prefixes, in the order added */
	uint8_t bits[16];           /* the prefix, zero past cidr */
	uint8_t cidr;
	uint8_t family;
};

struct owner {
	void *peer;                 /* NULL: a free slot */
	struct node *head, *tail;
};

struct sp_allowedips {
	struct node *root[2];       /* IPv4, IPv6 */
	struct owner *owners;       /* open addressing, linear probing */
	size_t cap, nowners, nodes;
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
	/* Depth is at most 129, so recursion is bounded. */
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
	free(t->owners);
	free(t);
}

size_t
sp_allowedips_nodes(const sp_allowedips *t)
{
	return t->nodes;
}

/* ---- owners ------------------------------------------------------------------ */

static size_t
slot_of(const sp_allowedips *t, const void *peer)
{
	uint64_t h = (uint64_t)(uintptr_t)peer * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (t->cap - 1);
}

static struct owner *
owner_find(const sp_allowedips *t, const void *peer)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = slot_of(t, peer);; i = (i + 1) & (t->cap - 1)) {
		if (t->owners[i].peer == peer)
			return &t->owners[i];
		if (t->owners[i].peer == NULL)
			return NULL;
	}
}

/* Room for one more owner: the table stays at most half full. */
static int
owner_reserve(sp_allowedips *t)
{
	struct owner *old = t->owners;
	size_t oldcap = t->cap, cap = oldcap ? oldcap * 2 : 16;

	if ((t->nowners + 1) * 2 <= t->cap)
		return SP_OK;
	if ((t->owners = calloc(cap, sizeof(*t->owners))) == NULL) {
		t->owners = old;
		return SP_ENOMEM;
	}
	t->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;
		if (old[i].peer == NULL)
			continue;
		for (j = slot_of(t, old[i].peer); t->owners[j].peer != NULL; j = (j + 1) & (cap - 1))
			;
		t->owners[j] = old[i];
	}
	free(old);
	return SP_OK;
}

/* Forget an owner's slot, shifting back the entries probing past it. */
static void
owner_drop(sp_allowedips *t, struct owner *o)
{
	size_t i = (size_t)(o - t->owners), j = i;

	t->owners[i].peer = NULL;
	t->nowners--;
	for (;;) {
		size_t home;
		j = (j + 1) & (t->cap - 1);
		if (t->owners[j].peer == NULL)
			return;
		home = slot_of(t, t->owners[j].peer);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->owners[i] = t->owners[j];
		t->owners[j].peer = NULL;
		i = j;
	}
}

static void
unlink_node(sp_allowedips *t, struct node *n)
{
	struct owner *o = owner_find(t, n->peer);

	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		o->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		o->tail = n->prev;
	n->next = n->prev = NULL;
	n->peer = NULL;
	if (o->head == NULL)
		owner_drop(t, o);
}

/* Give n to peer; owner_reserve has made room for a new owner. */
static void
set_owner(sp_allowedips *t, struct node *n, void *peer)
{
	struct owner *o;

	if (n->peer == peer)
		return;
	if (n->peer != NULL)
		unlink_node(t, n);
	if ((o = owner_find(t, peer)) == NULL) {
		size_t i;
		for (i = slot_of(t, peer); t->owners[i].peer != NULL; i = (i + 1) & (t->cap - 1))
			;
		o = &t->owners[i];
		o->peer = peer;
		o->head = o->tail = NULL;
		t->nowners++;
	}
	n->peer = peer;
	n->prev = o->tail;
	n->next = NULL;
	if (o->tail != NULL)
		o->tail->next = n;
	else
		o->head = n;
	o->tail = n;
}

/* ---- the trie ----------------------------------------------------------------- */

static int
bit(const uint8_t *addr, unsigned i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

/* How many leading bits a and b share, at most max. */
static unsigned
common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
	for (unsigned i = 0; i * 8 < max; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x != 0) {
			unsigned c = i * 8 + (unsigned)__builtin_clz(x) - 24;
			return c < max ? c : max;
		}
	}
	return max;
}

/* Does addr lie in the prefix bits/cidr? */
static int
in_prefix(const uint8_t *bits, const uint8_t *addr, unsigned cidr)
{
	unsigned whole = cidr / 8, rest = cidr % 8;

	if (memcmp(bits, addr, whole) != 0)
		return 0;
	return rest == 0 || ((bits[whole] ^ addr[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

static void
mask(uint8_t *bits, unsigned cidr)
{
	unsigned whole = cidr / 8, rest = cidr % 8;

	if (rest != 0)
		bits[whole++] &= (uint8_t)(0xff00 >> rest);
	memset(bits + whole, 0, 16 - whole);
}

static struct node *
node_new(sp_allowedips *t, const uint8_t *key, unsigned cidr, int family)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	memcpy(n->bits, key, 16);
	mask(n->bits, cidr);
	n->cidr = (uint8_t)cidr;
	n->family = (uint8_t)family;
	t->nodes++;
	return n;
}

static void
node_free(sp_allowedips *t, struct node *n)
{
	free(n);
	t->nodes--;
}

int
sp_allowedips_insert(sp_allowedips *t, int family, const uint8_t *addr, unsigned cidr, void *peer)
{
	unsigned max = family == 4 ? 32 : 128;
	struct node **slot, *parent = NULL, *n, *m, *fork;
	uint8_t key[16] = { 0 };

	if ((family != 4 && family != 6) || cidr > max || peer == NULL)
		return SP_EINVAL;
	if (owner_reserve(t) != SP_OK)
		return SP_ENOMEM;
	memcpy(key, addr, max / 8);
	mask(key, cidr);
	slot = &t->root[family == 4 ? 0 : 1];
	for (;;) {
		unsigned c;

		if ((n = *slot) == NULL) {
			if ((m = node_new(t, key, cidr, family)) == NULL)
				return SP_ENOMEM;
			m->parent = parent;
			*slot = m;
			set_owner(t, m, peer);
			return SP_OK;
		}
		c = common_bits(n->bits, key, n->cidr < cidr ? n->cidr : cidr);
		if (c == n->cidr && c == cidr) {          /* this very prefix */
			set_owner(t, n, peer);
			return SP_OK;
		}
		if (c == n->cidr) {                       /* below n */
			parent = n;
			slot = &n->child[bit(key, n->cidr)];
			continue;
		}
		/* The new prefix diverges from n's or contains it: it, or a fork
		 * of the two, takes n's place. */
		if ((m = node_new(t, key, cidr, family)) == NULL)
			return SP_ENOMEM;
		if (c == cidr) {
			m->parent = parent;
			m->child[bit(n->bits, cidr)] = n;
			n->parent = m;
			*slot = m;
		} else {
			if ((fork = node_new(t, key, c, family)) == NULL) {
				node_free(t, m);
				return SP_ENOMEM;
			}
			fork->parent = parent;
			fork->child[bit(n->bits, c)] = n;
			fork->child[bit(key, c)] = m;
			n->parent = m->parent = fork;
			*slot = fork;
		}
		set_owner(t, m, peer);
		return SP_OK;
	}
}

void *
sp_allowedips_lookup(const sp_allowedips *t, int family, const uint8_t *addr)
{
	unsigned max = family == 4 ? 32 : 128;
	const struct node *n;
	void *best = NULL;

	if (family != 4 && family != 6)
		return NULL;
	for (n = t->root[family == 4 ? 0 : 1]; n != NULL && in_prefix(n->bits, addr, n->cidr);
	    n = n->child[bit(addr, n->cidr)]) {
		if (n->peer != NULL)
			best = n->peer;
		if (n->cidr == max)
			break;
	}
	return best;
}

/* n has lost its owner: free it and the forks that no longer fork. */
static void
prune(sp_allowedips *t, struct node *n)
{
	while (n != NULL && n->peer == NULL && (n->child[0] == NULL || n->child[1] == NULL)) {
		struct node *only = n->child[0] != NULL ? n->child[0] : n->child[1];
		struct node *parent = n->parent;
		struct node **slot = parent != NULL ? &parent->child[parent->child[1] == n] :
		    &t->root[n->family == 4 ? 0 : 1];

		*slot = only;
		if (only != NULL)
			only->parent = parent;
		node_free(t, n);
		if (only != NULL)
			return;      /* the parent keeps as many children */
		n = parent;
	}
}

void
sp_allowedips_remove_peer(sp_allowedips *t, void *peer)
{
	struct owner *o = owner_find(t, peer);
	struct node *n, *next;

	if (o == NULL)
		return;
	n = o->head;
	owner_drop(t, o);
	for (; n != NULL; n = next) {
		next = n->next;
		n->peer = NULL;
		n->next = n->prev = NULL;
		prune(t, n);
	}
}

void
sp_allowedips_walk(const sp_allowedips *t, const void *peer,
    void (*cb)(void *arg, int family, const uint8_t *addr, unsigned cidr), void *arg)
{
	const struct owner *o = owner_find(t, peer);

	for (const struct node *n = o != NULL ? o->head : NULL; n != NULL; n = n->next)
		cb(arg, n->family, n->bits, n->cidr);
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
