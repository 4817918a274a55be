/* tunnels/allowedips.c: cryptokey routing, against a brute-force oracle. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_allowedips.h"

static int A, B, C;   /* peers: only their addresses matter */

static void
add(sp_allowedips *t, const char *prefix, void *peer)
{
	char buf[64];
	uint8_t addr[16];
	char *slash;
	int family;

	strcpy(buf, prefix);
	slash = strchr(buf, '/');
	*slash = '\0';
	family = strchr(buf, ':') ? 6 : 4;
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, buf, addr), 1);
	assert_int_equal(sp_allowedips_insert(t, family, addr, (unsigned)atoi(slash + 1), peer), SP_OK);
}

static void *
find(const sp_allowedips *t, const char *ip)
{
	uint8_t addr[16];
	int family = strchr(ip, ':') ? 6 : 4;

	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, ip, addr), 1);
	return sp_allowedips_lookup(t, family, addr);
}

static void
test_longest_prefix_wins(void **state)
{
	sp_allowedips *t;

	(void)state;
	assert_int_equal(sp_allowedips_new(&t), SP_OK);
	add(t, "10.0.0.0/8", &A);
	add(t, "10.1.0.0/16", &B);
	add(t, "10.1.2.3/32", &C);
	add(t, "fd00::/8", &A);
	add(t, "fd12:3456::/32", &B);
	assert_ptr_equal(find(t, "10.9.9.9"), &A);
	assert_ptr_equal(find(t, "10.1.9.9"), &B);
	assert_ptr_equal(find(t, "10.1.2.3"), &C);
	assert_ptr_equal(find(t, "10.1.2.4"), &B);
	assert_null(find(t, "11.0.0.1"));
	assert_ptr_equal(find(t, "fd12:3456::1"), &B);
	assert_ptr_equal(find(t, "fd99::1"), &A);
	assert_null(find(t, "2001:db8::1"));
	/* The families are separate: ::a00:1 is not 10.0.0.1. */
	assert_null(find(t, "::a00:1"));
	/* A prefix has one owner; re-inserting moves it. */
	add(t, "10.1.0.0/16", &C);
	assert_ptr_equal(find(t, "10.1.9.9"), &C);
	/* Removing a peer uncovers the shorter prefixes. */
	sp_allowedips_remove_peer(t, &C);
	assert_ptr_equal(find(t, "10.1.2.3"), &A);
	/* A default route. */
	add(t, "0.0.0.0/0", &B);
	assert_ptr_equal(find(t, "192.0.2.1"), &B);
	sp_allowedips_free(t);
}

static void
test_bad_insertions(void **state)
{
	sp_allowedips *t;
	uint8_t addr[16] = { 0 };

	(void)state;
	assert_int_equal(sp_allowedips_new(&t), SP_OK);
	assert_int_equal(sp_allowedips_insert(t, 4, addr, 33, &A), SP_EINVAL);
	assert_int_equal(sp_allowedips_insert(t, 6, addr, 129, &A), SP_EINVAL);
	assert_int_equal(sp_allowedips_insert(t, 5, addr, 8, &A), SP_EINVAL);
	assert_int_equal(sp_allowedips_insert(t, 4, addr, 8, NULL), SP_EINVAL);
	sp_allowedips_free(t);
	sp_allowedips_free(NULL);
}

struct seen {
	char text[512];
};

static void
collect(void *arg, int family, const uint8_t *addr, unsigned cidr)
{
	struct seen *s = arg;
	char ip[64];
	size_t len = strlen(s->text);

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	snprintf(s->text + len, sizeof(s->text) - len, "%s/%u ", ip, cidr);
}

static void
test_walk_lists_a_peers_prefixes(void **state)
{
	sp_allowedips *t;
	struct seen s = { "" };

	(void)state;
	assert_int_equal(sp_allowedips_new(&t), SP_OK);
	add(t, "10.1.0.0/16", &A);
	add(t, "10.0.0.0/8", &B);
	add(t, "192.168.7.128/25", &A);
	add(t, "fd12::/16", &A);
	sp_allowedips_walk(t, &A, collect, &s);
	assert_string_equal(s.text, "10.1.0.0/16 192.168.7.128/25 fd12::/16 ");
	sp_allowedips_free(t);
}

/* Random prefixes and addresses, checked against a linear scan. */
static void
test_random_against_oracle(void **state)
{
	struct { uint8_t addr[4]; unsigned cidr; int *peer; } p[200];
	int *peers[] = { &A, &B, &C };
	sp_allowedips *t;

	(void)state;
	assert_int_equal(sp_allowedips_new(&t), SP_OK);
	for (int i = 0; i < 200; i++) {
		randombytes_buf(p[i].addr, 4);
		p[i].cidr = randombytes_uniform(33);
		p[i].peer = peers[randombytes_uniform(3)];
		assert_int_equal(sp_allowedips_insert(t, 4, p[i].addr, p[i].cidr, p[i].peer), SP_OK);
	}
	for (int k = 0; k < 20000; k++) {
		uint8_t a[4];
		int best = -1;
		randombytes_buf(a, 4);
		if (k % 2)
			memcpy(a, p[k % 200].addr, 2);   /* land near a prefix */
		for (int i = 0; i < 200; i++) {
			uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
			uint32_t y = (uint32_t)p[i].addr[0] << 24 | (uint32_t)p[i].addr[1] << 16 |
			    (uint32_t)p[i].addr[2] << 8 | p[i].addr[3];
			uint32_t mask = p[i].cidr ? ~0u << (32 - p[i].cidr) : 0;
			/* Later insertions of the same prefix win, like the trie. */
			if ((x & mask) == (y & mask) &&
			    (best < 0 || p[i].cidr > p[best].cidr ||
			    (p[i].cidr == p[best].cidr)))
				best = i;
		}
		assert_ptr_equal(sp_allowedips_lookup(t, 4, a), best < 0 ? NULL : p[best].peer);
	}
	sp_allowedips_free(t);
}

/*
 * Churn: peers gain, move and lose random IPv6 and IPv4 prefixes, and
 * every lookup agrees with a linear scan of what is left. Removing every
 * peer leaves no node behind.
 */
#define NP 8
#define NPFX 600

struct pfx {
	int family, live;
	uint8_t addr[16];
	unsigned cidr;
	int owner;
};

static int
oracle(const struct pfx *p, int family, const uint8_t *a)
{
	int best = -1;

	for (int i = 0; i < NPFX; i++) {
		unsigned whole = p[i].cidr / 8, rest = p[i].cidr % 8;
		if (!p[i].live || p[i].family != family || memcmp(p[i].addr, a, whole) != 0 ||
		    (rest && ((p[i].addr[whole] ^ a[whole]) & (0xff00 >> rest) & 0xff)))
			continue;
		if (best < 0 || p[i].cidr > p[best].cidr)
			best = i;
	}
	return best;
}

static void
test_churn_against_oracle(void **state)
{
	static struct pfx p[NPFX];
	int peers[NP];
	sp_allowedips *t;

	(void)state;
	assert_int_equal(sp_allowedips_new(&t), SP_OK);
	memset(p, 0, sizeof(p));
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < NPFX; i++) {
			int dup = -1;
			if (p[i].live) {
				/* Move a live prefix to another owner, now and then. */
				if (randombytes_uniform(3) == 0) {
					p[i].owner = (int)randombytes_uniform(NP);
					assert_int_equal(sp_allowedips_insert(t, p[i].family, p[i].addr,
					    p[i].cidr, &peers[p[i].owner]), SP_OK);
				}
				continue;
			}
			if (randombytes_uniform(2) == 0)
				continue;
			p[i].family = randombytes_uniform(2) ? 6 : 4;
			memset(p[i].addr, 0, 16);
			randombytes_buf(p[i].addr, p[i].family == 4 ? 4 : 16);
			p[i].addr[0] = 0xfd;               /* share a few leading bits */
			p[i].cidr = p[i].family == 4 ? randombytes_uniform(33) :
			    (randombytes_uniform(2) ? 128 : randombytes_uniform(129));
			for (unsigned b = p[i].cidr; b < (p[i].family == 4 ? 32u : 128u); b++)
				p[i].addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
			p[i].owner = (int)randombytes_uniform(NP);
			/* The trie has one owner per prefix: the last insertion. */
			for (int j = 0; j < NPFX; j++)
				if (j != i && p[j].live && p[j].family == p[i].family &&
				    p[j].cidr == p[i].cidr && memcmp(p[j].addr, p[i].addr, 16) == 0)
					dup = j;
			if (dup >= 0)
				p[dup].live = 0;
			p[i].live = 1;
			assert_int_equal(sp_allowedips_insert(t, p[i].family, p[i].addr, p[i].cidr,
			    &peers[p[i].owner]), SP_OK);
		}
		/* One peer leaves. */
		{
			int gone = (int)randombytes_uniform(NP);
			sp_allowedips_remove_peer(t, &peers[gone]);
			for (int i = 0; i < NPFX; i++)
				if (p[i].owner == gone)
					p[i].live = 0;
		}
		for (int k = 0; k < 4000; k++) {
			uint8_t a[16] = { 0 };
			int family = k % 2 ? 6 : 4, best;
			randombytes_buf(a, 16);
			if (k % 3) {   /* land inside a live prefix, or near one */
				const struct pfx *q = &p[randombytes_uniform(NPFX)];
				family = q->family;
				memcpy(a, q->addr, (q->cidr + 7) / 8);
			}
			if (family == 4)
				memset(a + 4, 0, 12);
			best = oracle(p, family, a);
			assert_ptr_equal(sp_allowedips_lookup(t, family, a),
			    best < 0 ? NULL : (void *)&peers[p[best].owner]);
		}
		/* Fewer than two nodes a prefix. */
		{
			size_t live = 0;
			for (int i = 0; i < NPFX; i++)
				live += (size_t)p[i].live;
			assert_true(sp_allowedips_nodes(t) < 2 * live + 1);
		}
	}
	for (int i = 0; i < NP; i++)
		sp_allowedips_remove_peer(t, &peers[i]);
	assert_int_equal(sp_allowedips_nodes(t), 0);
	sp_allowedips_free(t);
}

static void
test_removal_frees_and_keeps_others(void **state)
{
	sp_allowedips *t;
	struct seen s = { "" };

	(void)state;
	assert_int_equal(sp_allowedips_new(&t), SP_OK);
	add(t, "fd00::/8", &A);
	add(t, "fd00::1/128", &B);
	add(t, "fd00::2/128", &C);
	add(t, "10.0.0.0/8", &B);
	sp_allowedips_remove_peer(t, &B);
	assert_ptr_equal(find(t, "fd00::1"), &A);
	assert_ptr_equal(find(t, "fd00::2"), &C);
	assert_null(find(t, "10.1.1.1"));
	sp_allowedips_remove_peer(t, &B);   /* again: nothing left to do */
	/* A prefix moved to another owner leaves the old owner's list. */
	add(t, "fd00::2/128", &A);
	sp_allowedips_walk(t, &C, collect, &s);
	assert_string_equal(s.text, "");
	sp_allowedips_walk(t, &A, collect, &s);
	assert_string_equal(s.text, "fd00::/8 fd00::2/128 ");
	sp_allowedips_remove_peer(t, &A);
	assert_int_equal(sp_allowedips_nodes(t), 0);
	assert_null(find(t, "fd00::2"));
	sp_allowedips_free(t);
}

static void
test_ip_addrs(void **state)
{
	uint8_t v4[20] = { 0x45 }, v6[40] = { 0x60 };
	const uint8_t *src, *dst;
	int family;

	(void)state;
	v4[12] = 10;
	v4[16] = 11;
	assert_int_equal(sp_ip_addrs(v4, sizeof(v4), &family, &src, &dst), SP_OK);
	assert_int_equal(family, 4);
	assert_int_equal(src[0], 10);
	assert_int_equal(dst[0], 11);
	v6[8] = 0xfd;
	v6[24] = 0xfe;
	assert_int_equal(sp_ip_addrs(v6, sizeof(v6), &family, &src, &dst), SP_OK);
	assert_int_equal(family, 6);
	assert_int_equal(src[0], 0xfd);
	assert_int_equal(dst[0], 0xfe);
	assert_int_equal(sp_ip_addrs(v4, 19, &family, &src, &dst), SP_EINVAL);
	assert_int_equal(sp_ip_addrs(v6, 39, &family, &src, &dst), SP_EINVAL);
	v4[0] = 0x44;   /* IHL below 5 */
	assert_int_equal(sp_ip_addrs(v4, sizeof(v4), &family, &src, &dst), SP_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix_wins),
		cmocka_unit_test(test_bad_insertions),
		cmocka_unit_test(test_walk_lists_a_peers_prefixes),
		cmocka_unit_test(test_random_against_oracle),
		cmocka_unit_test(test_churn_against_oracle),
		cmocka_unit_test(test_removal_frees_and_keeps_others),
		cmocka_unit_test(test_ip_addrs),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
