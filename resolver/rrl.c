/*
 * Response Rate Limiting.
 *
 * An authoritative server answers anyone, so an attacker who spoofs a
 * victim's address can make it send the victim many large responses for
 * small queries (amplification). RRL caps how many *identical* responses
 * one network gets per second; a real client asks a name a few times, a
 * reflected flood asks it thousands of times. Because the source may be
 * forged, a limited response is mostly dropped, but every slip-th one is
 * sent truncated (TC=1): it is no larger than the query, so it amplifies
 * nothing, and a real client behind the forged address retries over TCP,
 * where spoofing is impossible and nothing is limited.
 *
 * Each bucket is a token bucket keyed by (source prefix, kind, qname) —
 * without the qname for NXDOMAIN and errors, so that random names do not
 * each get a fresh allowance. It holds at most one second's worth of
 * responses (rate) and refills at rate per second, so over any T seconds a
 * bucket sends at most rate * (T + 1). Credit is counted in thousandths of
 * a response so that refilling by the millisecond is exact.
 *
 * Buckets live in a fixed table indexed by SipHash under a random key, so
 * that nobody outside can choose addresses or names that collide. A key
 * probes SP_RRL_WAYS neighbouring slots: its own bucket if present, else
 * the first empty or stale one (untouched for SP_RRL_STALE_MS, hence full,
 * so replacing it loses nothing). If all are in recent use the response
 * is charged to the home slot's bucket: sharing can only limit more, never
 * less, so a flood that fills the table cannot get itself unlimited.
 */
#include "sp_rrl.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SP_RRL_UNIT 1000u        /* credit of one response */
#define SP_RRL_WAYS 4u
/* Anything untouched for a second is full again; two leave some margin. */
#define SP_RRL_STALE_MS 2000u

struct sp_rrl_bucket {
	uint64_t key;         /* keyed hash of the bucket key; 0 = empty */
	uint64_t last_ms;     /* time of the last check */
	uint64_t credit;      /* in SP_RRL_UNITs, at most rate * SP_RRL_UNIT */
	uint32_t slip_count;  /* limited responses since the last SLIP */
};

struct sp_rrl {
	sp_rrl_config cfg;
	uint64_t burst;
	size_t mask;
	size_t ways;
	sp_rrl_stats stats;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct sp_rrl_bucket *table;
};

/* Bytes hashed into the bucket key: family, kind, address, name hash. */
enum { MAT_FAMILY = 0, MAT_KIND = 1, MAT_ADDR = 2, MAT_NAME = 18, MAT_LEN = 26 };

void
sp_rrl_config_default(sp_rrl_config *c)
{
	c->rate = 20;
	c->slip = 2;
	c->ipv4_prefix = 24;
	c->ipv6_prefix = 56;
	c->exempt_loopback = 1;
	c->buckets = 16384;
}

int
sp_rrl_new(const sp_rrl_config *c, const sp_rng *rng, sp_rrl **out)
{
	sp_rrl *r;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL || c->buckets == 0 ||
	    (c->buckets & (c->buckets - 1)) != 0 || c->ipv4_prefix > 32 ||
	    c->ipv6_prefix > 128)
		return SP_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SP_ENOMEM;
	if ((r->table = calloc(c->buckets, sizeof(*r->table))) == NULL) {
		free(r);
		return SP_ENOMEM;
	}
	r->cfg = *c;
	r->burst = (uint64_t)c->rate * SP_RRL_UNIT;
	r->mask = c->buckets - 1;
	r->ways = c->buckets < SP_RRL_WAYS ? c->buckets : SP_RRL_WAYS;
	sp_rng_fill(rng, r->hkey, sizeof(r->hkey));
	*out = r;
	return SP_OK;
}

void
sp_rrl_free(sp_rrl *r)
{
	if (r == NULL)
		return;
	/* The key only guards the table against aimed collisions and dies
	 * with the process, so it needs no locked memory; wipe it anyway. */
	sodium_memzero(r->hkey, sizeof(r->hkey));
	free(r->table);
	free(r);
}

void
sp_rrl_stats_get(const sp_rrl *r, sp_rrl_stats *out)
{
	*out = r->stats;
}

static void
mask_prefix(uint8_t *addr, size_t len, unsigned prefix)
{
	size_t full = prefix / 8;

	if (full >= len)
		return;
	addr[full] &= (uint8_t)(0xffu << (8 - prefix % 8));
	memset(addr + full + 1, 0, len - full - 1);
}

/*
 * Fill mat with the masked source address, family and kind. Returns 0 if
 * the response is not to be limited (exempt loopback, unknown family).
 */
static int
source_material(const sp_rrl *r, const struct sockaddr *src,
    uint8_t mat[MAT_LEN])
{
	uint8_t *addr = mat + MAT_ADDR;

	memset(mat, 0, MAT_LEN);
	if (src == NULL)
		return 0;
	if (src->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, src, sizeof(sin));
		memcpy(addr, &sin.sin_addr, 4);
	} else if (src->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, src, sizeof(sin6));
		/* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d;
		 * the IPv6 prefix would lump all of IPv4 into one bucket. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			memcpy(addr, sin6.sin6_addr.s6_addr + 12, 4);
		} else {
			if (r->cfg.exempt_loopback &&
			    IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr))
				return 0;
			memcpy(addr, sin6.sin6_addr.s6_addr, 16);
			mask_prefix(addr, 16, r->cfg.ipv6_prefix);
			mat[MAT_FAMILY] = 6;
			return 1;
		}
	} else {
		return 0;
	}
	if (r->cfg.exempt_loopback && addr[0] == 127)
		return 0;
	mask_prefix(addr, 4, r->cfg.ipv4_prefix);
	mat[MAT_FAMILY] = 4;
	return 1;
}

static uint64_t
hash64(const sp_rrl *r, const uint8_t *in, size_t len)
{
	static const uint8_t empty[1];
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, in != NULL ? in : empty, in != NULL ? len : 0,
	    r->hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

/* The distance between two readings, whichever is later. */
static uint64_t
distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* An entry last touched far in the future belongs to a clock that has
 * since been reset; without this the whole table would stay taken. */
static int
is_stale(const struct sp_rrl_bucket *b, uint64_t now_ms)
{
	return distance(now_ms, b->last_ms) > SP_RRL_STALE_MS;
}

static struct sp_rrl_bucket *
find_bucket(sp_rrl *r, uint64_t key, uint64_t now_ms)
{
	size_t home = (size_t)key & r->mask;
	struct sp_rrl_bucket *b, *reuse = NULL;

	for (size_t i = 0; i < r->ways; i++) {
		b = &r->table[(home + i) & r->mask];
		if (b->key == key)
			return b;
		if (reuse == NULL && (b->key == 0 || is_stale(b, now_ms)))
			reuse = b;
	}
	if (reuse == NULL)
		return &r->table[home];
	reuse->key = key;
	reuse->last_ms = now_ms;
	reuse->credit = r->burst;
	reuse->slip_count = 0;
	return reuse;
}

static void
refill(const sp_rrl *r, struct sp_rrl_bucket *b, uint64_t now_ms)
{
	if (now_ms >= b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;

		/* One second fills any bucket; clamping first keeps a jump
		 * forward from overflowing the product. */
		if (elapsed > 1000)
			elapsed = 1000;
		b->credit += elapsed * r->cfg.rate;
		if (b->credit > r->burst)
			b->credit = r->burst;
		b->last_ms = now_ms;
	} else if (b->last_ms - now_ms > SP_RRL_STALE_MS) {
		/* The clock was reset. Carry on from the new reading, with no
		 * credit for the jump, rather than freeze until it catches up. */
		b->last_ms = now_ms;
	}
	/* A reading slightly older than the last (callers racing for a lock)
	 * is taken as the last: moving back and forth would count the same
	 * milliseconds twice. */
}

enum sp_rrl_verdict
sp_rrl_check(sp_rrl *r, const struct sockaddr *src, enum sp_rrl_kind kind,
    const uint8_t *qname, size_t qname_len, uint64_t now_ms)
{
	uint8_t mat[MAT_LEN];
	struct sp_rrl_bucket *b;
	uint64_t key;

	r->stats.checked++;
	if (r->cfg.rate == 0 || !source_material(r, src, mat))
		goto send;
	switch (kind) {
	case SP_RRL_ANSWER:
	case SP_RRL_NODATA: {
		uint64_t name = hash64(r, qname, qname_len);

		memcpy(mat + MAT_NAME, &name, sizeof(name));
		break;
	}
	case SP_RRL_NXDOMAIN:
		break;
	case SP_RRL_ERROR:
	default:
		kind = SP_RRL_ERROR;
		break;
	}
	mat[MAT_KIND] = (uint8_t)kind;
	if ((key = hash64(r, mat, sizeof(mat))) == 0)
		key = 1;
	b = find_bucket(r, key, now_ms);
	refill(r, b, now_ms);
	if (b->credit >= SP_RRL_UNIT) {
		b->credit -= SP_RRL_UNIT;
		goto send;
	}
	/* The count survives refills: were it reset on every SEND, a flood
	 * whose few allowed responses interleave with the limited ones might
	 * never reach the slip-th and real clients would get no TC answer. */
	if (r->cfg.slip != 0 && ++b->slip_count >= r->cfg.slip) {
		b->slip_count = 0;
		r->stats.slipped++;
		return SP_RRL_SLIP;
	}
	r->stats.dropped++;
	return SP_RRL_DROP;
send:
	r->stats.sent++;
	return SP_RRL_SEND;
}
