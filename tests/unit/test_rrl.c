/*
 * resolver/rrl.c: Response Rate Limiting, in virtual time.
 * Rate 0, the per-second allowance and its refill, the exact slip
 * sequences, prefix sharing for IPv4, IPv6 and IPv4-mapped sources, the
 * loopback exemption, name-blind NXDOMAIN and ERROR buckets, clocks that
 * jump either way, the table's sharing and stale replacement, the counters
 * and the configuration checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/un.h>

#include <cmocka.h>

#include "sp_rrl.h"

/* The hash key comes from here (sp_rng.h): every run is the same run. */
static sp_rng_seeded R;

#define T0 1000000u

static const uint8_t www[] = "\3www\7example\3org";  /* with its root NUL */
static const uint8_t mail[] = "\4mail\7example\3org";

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
	return ss;
}

static sp_rrl *
make(unsigned rate, unsigned slip, int exempt_loopback)
{
	sp_rrl_config c;
	sp_rrl *r;

	sp_rrl_config_default(&c);
	c.rate = rate;
	c.slip = slip;
	c.exempt_loopback = exempt_loopback;
	assert_int_equal(sp_rrl_new(&c, &R.rng, &r), SP_OK);
	assert_non_null(r);
	return r;
}

static enum sp_rrl_verdict
check(sp_rrl *r, const char *src, enum sp_rrl_kind kind, const uint8_t *name,
    uint64_t now)
{
	struct sockaddr_storage ss = addr(src);

	return sp_rrl_check(r, (const struct sockaddr *)&ss, kind, name,
	    name != NULL ? sizeof(www) : 0, now);
}

/* Of n identical checks at one instant, how many were sent. */
static unsigned
sends(sp_rrl *r, const char *src, enum sp_rrl_kind kind, const uint8_t *name,
    uint64_t now, unsigned n)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < n; i++)
		sent += check(r, src, kind, name, now) == SP_RRL_SEND;
	return sent;
}

/* A distinct wire-format name, "\6rNNNNN\7example\3org", for each i. */
static size_t
random_name(uint8_t *buf, size_t len, unsigned i)
{
	char label[16];
	int n = snprintf(label, sizeof(label), "r%05u", i);

	assert_true(n == 6 && len >= 1 + 6 + sizeof(www) - 4);
	buf[0] = 6;
	memcpy(buf + 1, label, 6);
	memcpy(buf + 7, www + 4, sizeof(www) - 4);
	return 7 + sizeof(www) - 4;
}

static void
test_config_default(void **state)
{
	sp_rrl_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	sp_rrl_config_default(&c);
	assert_int_equal(c.rate, 20);
	assert_int_equal(c.slip, 2);
	assert_int_equal(c.ipv4_prefix, 24);
	assert_int_equal(c.ipv6_prefix, 56);
	assert_int_equal(c.exempt_loopback, 1);
	assert_int_equal(c.buckets, 16384);
}

static void
expect_einval(const sp_rrl_config *c)
{
	sp_rrl *r = (sp_rrl *)&r;   /* anything but NULL */

	assert_int_equal(sp_rrl_new(c, &R.rng, &r), SP_EINVAL);
	assert_null(r);
}

static void
test_new_rejects_bad_config(void **state)
{
	static const size_t bad_buckets[] = { 0, 3, 1000, 16383, 16385 };
	sp_rrl_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_buckets) / sizeof(bad_buckets[0]); i++) {
		sp_rrl_config_default(&c);
		c.buckets = bad_buckets[i];
		expect_einval(&c);
	}
	sp_rrl_config_default(&c);
	c.ipv4_prefix = 33;
	expect_einval(&c);
	sp_rrl_config_default(&c);
	c.ipv6_prefix = 129;
	expect_einval(&c);
	expect_einval(NULL);
	sp_rrl_config_default(&c);
	assert_int_equal(sp_rrl_new(&c, &R.rng, NULL), SP_EINVAL);
}

static void
test_new_accepts_edge_config(void **state)
{
	sp_rrl_config c;
	sp_rrl *r;

	(void)state;
	sp_rrl_config_default(&c);
	c.buckets = 1;
	c.ipv4_prefix = 32;
	c.ipv6_prefix = 128;
	assert_int_equal(sp_rrl_new(&c, &R.rng, &r), SP_OK);
	sp_rrl_free(r);
	c.ipv4_prefix = 0;
	c.ipv6_prefix = 0;
	c.rate = 0xffffffffu;
	c.slip = 0xffffffffu;
	assert_int_equal(sp_rrl_new(&c, &R.rng, &r), SP_OK);
	assert_int_equal(check(r, "192.0.2.1", SP_RRL_ANSWER, www, 0), SP_RRL_SEND);
	sp_rrl_free(r);
}

static void
test_free_null(void **state)
{
	(void)state;
	sp_rrl_free(NULL);
}

static void
test_rate_zero_never_limits(void **state)
{
	sp_rrl *r = make(0, 2, 0);
	sp_rrl_stats st;

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10000), 10000);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_NXDOMAIN, NULL, T0, 1000), 1000);
	assert_int_equal(sends(r, "127.0.0.1", SP_RRL_ERROR, NULL, 0, 1000), 1000);
	sp_rrl_stats_get(r, &st);
	assert_int_equal(st.checked, 12000);
	assert_int_equal(st.sent, 12000);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.slipped, 0);
	sp_rrl_free(r);
}

static void
test_rate_five_per_second(void **state)
{
	sp_rrl *r = make(5, 2, 1);

	(void)state;
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0), SP_RRL_SEND);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 50), 0);
	/* One response's credit comes back every 200 ms, not sooner. */
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 199, 10), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 200, 10), 1);
	/* A full second later the whole allowance is back, and no more. */
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 1200, 50), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 1200, 50), 0);
	/* Idle for long: still only one second's worth, even with credit
	 * left over from before. */
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 60000, 1), 1);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 120000, 50), 5);
	sp_rrl_free(r);
}

static void
test_sustained_flood_gets_the_rate(void **state)
{
	sp_rrl *r = make(5, 0, 1);
	unsigned sent = 0;

	(void)state;
	/* 100 queries a second for 10 s: the initial 5, plus 5 a second for
	 * the 9.99 s up to the last query (49.95 responses' worth) = 54. */
	for (uint64_t t = 0; t < 10000; t += 10)
		sent += check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + t) == SP_RRL_SEND;
	assert_int_equal(sent, 54);
	sp_rrl_free(r);
}

static void
expect_sequence(unsigned slip, const enum sp_rrl_verdict *want, size_t n)
{
	sp_rrl *r = make(5, slip, 1);

	assert_int_equal(sends(r, "198.51.100.9", SP_RRL_ANSWER, www, T0, 5), 5);
	for (size_t i = 0; i < n; i++) {
		enum sp_rrl_verdict v = check(r, "198.51.100.9", SP_RRL_ANSWER, www, T0);

		if (v != want[i])
			fail_msg("slip %u: limited response %zu: got %d, want %d",
			    slip, i, (int)v, (int)want[i]);
	}
	sp_rrl_free(r);
}

static void
test_slip_two_alternates(void **state)
{
	static const enum sp_rrl_verdict want[] = {
		SP_RRL_DROP, SP_RRL_SLIP, SP_RRL_DROP, SP_RRL_SLIP,
		SP_RRL_DROP, SP_RRL_SLIP, SP_RRL_DROP, SP_RRL_SLIP,
	};

	(void)state;
	expect_sequence(2, want, sizeof(want) / sizeof(want[0]));
}

static void
test_slip_three(void **state)
{
	static const enum sp_rrl_verdict want[] = {
		SP_RRL_DROP, SP_RRL_DROP, SP_RRL_SLIP,
		SP_RRL_DROP, SP_RRL_DROP, SP_RRL_SLIP,
	};

	(void)state;
	expect_sequence(3, want, sizeof(want) / sizeof(want[0]));
}

static void
test_slip_zero_never_slips_one_always_slips(void **state)
{
	enum sp_rrl_verdict drops[100], slips[100];

	(void)state;
	for (size_t i = 0; i < 100; i++) {
		drops[i] = SP_RRL_DROP;
		slips[i] = SP_RRL_SLIP;
	}
	expect_sequence(0, drops, 100);
	expect_sequence(1, slips, 100);
}

static void
test_slip_count_survives_refill(void **state)
{
	sp_rrl *r = make(5, 3, 1);

	(void)state;
	/* A flood in which each allowed response is followed by two limited
	 * ones must still slip every third limited response. */
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 5), 5);
	assert_int_equal(check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0), SP_RRL_DROP);
	assert_int_equal(check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0), SP_RRL_DROP);
	assert_int_equal(check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 200), SP_RRL_SEND);
	assert_int_equal(check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 200), SP_RRL_SLIP);
	sp_rrl_free(r);
}

static void
test_ipv4_prefixes(void **state)
{
	sp_rrl *r = make(5, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 5), 5);
	/* Same /24: the same bucket, already empty. */
	assert_int_equal(sends(r, "192.0.2.200", SP_RRL_ANSWER, www, T0, 5), 0);
	/* Next /24: its own allowance. */
	assert_int_equal(sends(r, "192.0.3.1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "10.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	sp_rrl_free(r);
}

static void
test_ipv4_prefix_32_and_0(void **state)
{
	sp_rrl_config c;
	sp_rrl *r;

	(void)state;
	sp_rrl_config_default(&c);
	c.rate = 5;
	c.ipv4_prefix = 32;
	assert_int_equal(sp_rrl_new(&c, &R.rng, &r), SP_OK);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "192.0.2.2", SP_RRL_ANSWER, www, T0, 10), 5);
	sp_rrl_free(r);

	c.ipv4_prefix = 0;
	assert_int_equal(sp_rrl_new(&c, &R.rng, &r), SP_OK);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "203.0.113.77", SP_RRL_ANSWER, www, T0, 10), 0);
	sp_rrl_free(r);
}

static void
test_ipv6_prefixes(void **state)
{
	sp_rrl *r = make(5, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "2001:db8:0:100::1", SP_RRL_ANSWER, www, T0, 5), 5);
	/* 2001:db8:0:1ff::/64 is in the same /56 as 2001:db8:0:100::/64. */
	assert_int_equal(sends(r, "2001:db8:0:1ff:ffff::2", SP_RRL_ANSWER, www, T0, 5), 0);
	assert_int_equal(sends(r, "2001:db8:0:200::1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "2001:db9:0:100::1", SP_RRL_ANSWER, www, T0, 10), 5);
	sp_rrl_free(r);
}

static void
test_ipv4_mapped_counts_as_ipv4(void **state)
{
	sp_rrl *r = make(5, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "::ffff:192.0.2.1", SP_RRL_ANSWER, www, T0, 5), 5);
	assert_int_equal(sends(r, "192.0.2.9", SP_RRL_ANSWER, www, T0, 5), 0);
	/* Under the /56 every mapped address would share one bucket. */
	assert_int_equal(sends(r, "::ffff:198.51.100.1", SP_RRL_ANSWER, www, T0, 10), 5);
	sp_rrl_free(r);
}

static void
test_loopback_exempt(void **state)
{
	static const char *const loopbacks[] = {
		"127.0.0.1", "127.255.3.4", "::1", "::ffff:127.0.0.1",
	};
	sp_rrl *r = make(5, 2, 1);

	(void)state;
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(sends(r, loopbacks[i], SP_RRL_ANSWER, www, T0, 1000), 1000);
	/* ::2 and 128.0.0.1 are not loopback. */
	assert_int_equal(sends(r, "::2", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "128.0.0.1", SP_RRL_ANSWER, www, T0, 10), 5);
	sp_rrl_free(r);
}

static void
test_loopback_limited_when_not_exempt(void **state)
{
	sp_rrl *r = make(5, 2, 0);

	(void)state;
	assert_int_equal(sends(r, "127.0.0.1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "127.0.0.2", SP_RRL_ANSWER, www, T0, 10), 0);
	assert_int_equal(sends(r, "::1", SP_RRL_ANSWER, www, T0, 10), 5);
	sp_rrl_free(r);
}

static void
test_nxdomain_flood_shares_one_bucket(void **state)
{
	sp_rrl *r = make(5, 0, 1);
	struct sockaddr_storage ss = addr("192.0.2.1");
	unsigned sent = 0;

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		uint8_t name[32];
		size_t len = random_name(name, sizeof(name), i);

		sent += sp_rrl_check(r, (const struct sockaddr *)&ss, SP_RRL_NXDOMAIN,
		    name, len, T0) == SP_RRL_SEND;
	}
	assert_int_equal(sent, 5);
	sp_rrl_free(r);
}

static void
test_error_ignores_name(void **state)
{
	sp_rrl *r = make(5, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ERROR, www, T0, 3), 3);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ERROR, mail, T0, 3), 2);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ERROR, NULL, T0, 3), 0);
	sp_rrl_free(r);
}

static void
test_answers_for_different_names_are_independent(void **state)
{
	sp_rrl *r = make(5, 0, 1);
	struct sockaddr_storage ss = addr("192.0.2.1");
	unsigned sent = 0;

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		uint8_t name[32];
		size_t len = random_name(name, sizeof(name), i);

		sent += sp_rrl_check(r, (const struct sockaddr *)&ss, SP_RRL_ANSWER,
		    name, len, T0) == SP_RRL_SEND;
	}
	assert_int_equal(sent, 1000);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, mail, T0, 10), 5);
	sp_rrl_free(r);
}

static void
test_kinds_are_independent(void **state)
{
	sp_rrl *r = make(5, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_NODATA, www, T0, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_NXDOMAIN, www, T0, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ERROR, www, T0, 10), 5);
	/* An out-of-range kind is limited as an error. */
	assert_int_equal(sends(r, "192.0.2.1", (enum sp_rrl_kind)99, www, T0, 10), 0);
	sp_rrl_free(r);
}

static void
test_time_going_backwards(void **state)
{
	sp_rrl *r = make(5, 0, 1);
	unsigned sent = 0;

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	/* A slightly older reading counts as the last one: no credit until
	 * the clock has gone past it again. */
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 - 500, 100), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 199, 10), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 200, 10), 1);
	/* Readings going back and forth count the time only once: from
	 * T0 + 200 to T0 + 301 is half a response's credit. */
	for (unsigned i = 0; i < 1000; i++) {
		sent += check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 300) == SP_RRL_SEND;
		sent += check(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 301) == SP_RRL_SEND;
	}
	assert_int_equal(sent, 0);
	/* A reset to 0 gives no credit either, and the bucket carries on at
	 * the normal pace from the new reading: the 0.505 response's credit
	 * it had becomes a whole one 99 ms later. */
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 0, 100), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 98, 10), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 99, 10), 1);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 5000, 100), 5);
	sp_rrl_free(r);
}

static void
test_time_jumping_to_the_end(void **state)
{
	sp_rrl *r = make(5, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 0, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, UINT64_MAX, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, UINT64_MAX, 10), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 0, 10), 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, UINT64_MAX, 10), 5);
	sp_rrl_free(r);

	/* 2^62 ms at 4 a second is 2^64 thousandths: a product that wraps
	 * to nothing unless the jump is clamped first. */
	r = make(4, 0, 1);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 0, 10), 4);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, UINT64_C(1) << 62, 10), 4);
	sp_rrl_free(r);
}

static void
test_huge_rate_does_not_overflow(void **state)
{
	sp_rrl *r = make(0xffffffffu, 0, 1);

	(void)state;
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, 0, 1000), 1000);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, UINT64_MAX, 1000), 1000);
	sp_rrl_free(r);
}

static void
test_stats(void **state)
{
	sp_rrl *r = make(2, 2, 1);
	sp_rrl_stats st;

	(void)state;
	sp_rrl_stats_get(r, &st);
	assert_int_equal(st.checked, 0);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 7), 2);
	assert_int_equal(sends(r, "127.0.0.1", SP_RRL_ANSWER, www, T0, 3), 3);
	sp_rrl_stats_get(r, &st);
	assert_int_equal(st.checked, 10);
	assert_int_equal(st.sent, 5);
	assert_int_equal(st.dropped, 3);   /* limited 1, 3, 5 */
	assert_int_equal(st.slipped, 2);   /* limited 2, 4 */
	sp_rrl_free(r);
}

static void
test_other_families_not_limited(void **state)
{
	sp_rrl *r = make(1, 0, 0);
	struct sockaddr_un sun;

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(sp_rrl_check(r, (const struct sockaddr *)&sun,
		    SP_RRL_ANSWER, www, sizeof(www), T0), SP_RRL_SEND);
		assert_int_equal(sp_rrl_check(r, NULL, SP_RRL_ANSWER, NULL, 0, T0),
		    SP_RRL_SEND);
	}
	sp_rrl_free(r);
}

static void
test_full_table_shares_then_replaces_stale(void **state)
{
	sp_rrl_config c;
	sp_rrl *r;

	(void)state;
	sp_rrl_config_default(&c);
	c.rate = 5;
	c.slip = 0;
	c.buckets = 1;
	assert_int_equal(sp_rrl_new(&c, &R.rng, &r), SP_OK);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0, 10), 5);
	/* The one slot is in use: another key is charged to it. */
	assert_int_equal(sends(r, "198.51.100.1", SP_RRL_ANSWER, www, T0 + 1000, 10), 5);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 1000, 10), 0);
	/* Untouched for 2 s it is stale (and full): the next key takes it. */
	assert_int_equal(sends(r, "203.0.113.1", SP_RRL_ANSWER, www, T0 + 3001, 3), 3);
	assert_int_equal(sends(r, "192.0.2.1", SP_RRL_ANSWER, www, T0 + 3001, 10), 2);
	/* After a reset of the clock the entry, touched "in the future", is
	 * stale too rather than taken until the clock catches up. */
	assert_int_equal(sends(r, "198.18.0.1", SP_RRL_ANSWER, www, 0, 10), 5);
	sp_rrl_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_default),
		cmocka_unit_test(test_new_rejects_bad_config),
		cmocka_unit_test(test_new_accepts_edge_config),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_rate_zero_never_limits),
		cmocka_unit_test(test_rate_five_per_second),
		cmocka_unit_test(test_sustained_flood_gets_the_rate),
		cmocka_unit_test(test_slip_two_alternates),
		cmocka_unit_test(test_slip_three),
		cmocka_unit_test(test_slip_zero_never_slips_one_always_slips),
		cmocka_unit_test(test_slip_count_survives_refill),
		cmocka_unit_test(test_ipv4_prefixes),
		cmocka_unit_test(test_ipv4_prefix_32_and_0),
		cmocka_unit_test(test_ipv6_prefixes),
		cmocka_unit_test(test_ipv4_mapped_counts_as_ipv4),
		cmocka_unit_test(test_loopback_exempt),
		cmocka_unit_test(test_loopback_limited_when_not_exempt),
		cmocka_unit_test(test_nxdomain_flood_shares_one_bucket),
		cmocka_unit_test(test_error_ignores_name),
		cmocka_unit_test(test_answers_for_different_names_are_independent),
		cmocka_unit_test(test_kinds_are_independent),
		cmocka_unit_test(test_time_going_backwards),
		cmocka_unit_test(test_time_jumping_to_the_end),
		cmocka_unit_test(test_huge_rate_does_not_overflow),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_other_families_not_limited),
		cmocka_unit_test(test_full_table_shares_then_replaces_stale),
	};

	if (sodium_init() < 0)
		return 1;
	sp_rng_seeded_init(&R, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
