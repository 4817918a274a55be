/*
 * keys/rollover.c: the ZSK rollover timeline of RFC 7583 (pre-publication)
 * in virtual time, step by step, with the exact deadlines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sp_rollover.h"

#define T0 1800000000

static sp_key_info
key(sp_key_role role, sp_key_state state, int64_t created, int64_t since)
{
	sp_key_info k;

	memset(&k, 0, sizeof(k));
	k.role = role;
	k.state = state;
	k.created = created;
	k.since = since;
	return k;
}

static sp_rollover_policy
policy(void)
{
	sp_rollover_policy p = { 30 * 86400, 3600, 3600, 300 };
	return p;
}

static void
test_steady_state_sleeps_until_publication(void **state)
{
	sp_key_info k[] = {
		key(SP_ROLE_KSK, SP_KSTATE_ACTIVE, T0, T0),
		key(SP_ROLE_ZSK, SP_KSTATE_ACTIVE, T0, T0),
		key(SP_ROLE_DEVICE, SP_KSTATE_ACTIVE, T0, T0),
	};
	sp_rollover_policy p = policy();
	sp_rollover_step s;
	int64_t due = T0 + 30 * 86400 - 3900;   /* lifetime - (TTL + propagation) */

	(void)state;
	sp_rollover_plan(k, 3, &p, T0 + 10, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	assert_int_equal(s.next, T0 + 10 + 3600);   /* wakes at least hourly */
	/* With one-hour TTLs a retiring key's deadline can be later than the
	 * hourly wake; the earlier of the two wins. */
	sp_rollover_plan(k, 3, &p, due - 100, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	assert_int_equal(s.next, due);
	sp_rollover_plan(k, 3, &p, due, 0, &s);
	assert_int_equal(s.action, SP_ROLL_PUBLISH_ZSK);
}

static void
test_full_zsk_rollover(void **state)
{
	/* TTLs of 600 s: every interval (900 s) ends before the hourly wake. */
	sp_rollover_policy p = { 30 * 86400, 600, 600, 300 };
	int64_t pub = T0 + 1000;
	sp_key_info k[] = {
		key(SP_ROLE_ZSK, SP_KSTATE_ACTIVE, T0, T0),
		key(SP_ROLE_ZSK, SP_KSTATE_PUBLISHED, pub, pub),
	};
	sp_rollover_step s;

	(void)state;
	/* Published: activation waits Ipub = 600 + 300. */
	sp_rollover_plan(k, 2, &p, pub + 899, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	assert_int_equal(s.next, pub + 900);
	sp_rollover_plan(k, 2, &p, pub + 900, 0, &s);
	assert_int_equal(s.action, SP_ROLL_ACTIVATE_ZSK);
	assert_int_equal(s.key, 1);

	/* After activation: the old key retires for Iret = 600 + 300. */
	int64_t act = pub + 900;
	k[0] = key(SP_ROLE_ZSK, SP_KSTATE_RETIRED, T0, act);
	k[1] = key(SP_ROLE_ZSK, SP_KSTATE_ACTIVE, pub, act);
	sp_rollover_plan(k, 2, &p, act + 10, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	assert_int_equal(s.next, act + 900);
	sp_rollover_plan(k, 2, &p, act + 900, 0, &s);
	assert_int_equal(s.action, SP_ROLL_REMOVE_ZSK);
	assert_int_equal(s.key, 0);

	/* Alone again, the new key's lifetime counts from its activation. */
	sp_rollover_plan(&k[1], 1, &p, act + 900, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	assert_int_equal(s.next, act + 900 + 3600);
	sp_rollover_plan(&k[1], 1, &p, act + 30 * 86400 - 900, 0, &s);
	assert_int_equal(s.action, SP_ROLL_PUBLISH_ZSK);
}

static void
test_forced_and_manual_only(void **state)
{
	sp_rollover_policy p = policy();
	sp_key_info k[] = { key(SP_ROLE_ZSK, SP_KSTATE_ACTIVE, T0, T0) };
	sp_rollover_step s;

	(void)state;
	sp_rollover_plan(k, 1, &p, T0 + 5, 1, &s);
	assert_int_equal(s.action, SP_ROLL_PUBLISH_ZSK);
	/* zsk-lifetime 0: never by itself, but still when told. */
	p.zsk_lifetime = 0;
	sp_rollover_plan(k, 1, &p, T0 + 400 * 86400, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	sp_rollover_plan(k, 1, &p, T0 + 400 * 86400, 1, &s);
	assert_int_equal(s.action, SP_ROLL_PUBLISH_ZSK);
}

static void
test_force_during_rollover_does_not_start_another(void **state)
{
	sp_rollover_policy p = { 30 * 86400, 600, 600, 300 };
	sp_key_info k[] = {
		key(SP_ROLE_ZSK, SP_KSTATE_ACTIVE, T0, T0),
		key(SP_ROLE_ZSK, SP_KSTATE_PUBLISHED, T0 + 10, T0 + 10),
	};
	sp_rollover_step s;

	(void)state;
	sp_rollover_plan(k, 2, &p, T0 + 20, 1, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
	assert_int_equal(s.next, T0 + 10 + 900);
}

static void
test_ksk_never_rolls_by_itself(void **state)
{
	sp_rollover_policy p = policy();
	sp_key_info k[] = {
		key(SP_ROLE_KSK, SP_KSTATE_ACTIVE, T0, T0),
		key(SP_ROLE_ZSK, SP_KSTATE_ACTIVE, T0 + 1000 * 86400, T0 + 1000 * 86400),
	};
	sp_rollover_step s;

	(void)state;
	sp_rollover_plan(k, 2, &p, T0 + 1000 * 86400 + 10, 0, &s);
	assert_int_equal(s.action, SP_ROLL_NONE);
}

static void
test_no_zsk_publishes_one(void **state)
{
	sp_rollover_policy p = policy();
	sp_key_info k[] = { key(SP_ROLE_KSK, SP_KSTATE_ACTIVE, T0, T0) };
	sp_rollover_step s;

	(void)state;
	sp_rollover_plan(k, 1, &p, T0, 0, &s);
	assert_int_equal(s.action, SP_ROLL_PUBLISH_ZSK);
}

/* ---- carrying out ACTIVATE_ZSK against a store that fails ------------- */

/* A directory store whose nth put (1-based) fails, as a full disk would. */
struct failing {
	struct sp_store base;
	sp_store *real;
	int puts, fail_at;
};

static int f_get(sp_store *s, const char *n, uint8_t **d, size_t *l, sp_errmsg *e)
{ return sp_store_get(((struct failing *)s)->real, n, d, l, e); }
static int f_del(sp_store *s, const char *n, sp_errmsg *e)
{ return sp_store_del(((struct failing *)s)->real, n, e); }
static int f_list(sp_store *s, const char *d, int (*cb)(void *, const char *), void *a,
    sp_errmsg *e)
{ return sp_store_list(((struct failing *)s)->real, d, cb, a, e); }
static const char *f_where(sp_store *s) { return sp_store_where(((struct failing *)s)->real); }
static int f_lock(sp_store *s, sp_errmsg *e) { return sp_store_lock(((struct failing *)s)->real, e); }
static void f_close(sp_store *s) { (void)s; }

static int
f_put(sp_store *s, const char *n, const void *d, size_t l, sp_errmsg *e)
{
	struct failing *f = (struct failing *)s;

	if (++f->puts == f->fail_at)
		return sp_errf(e, SP_EIO, "%s: no space left on device", n);
	return sp_store_put(f->real, n, d, l, e);
}

static const struct sp_store_ops failing_ops = {
	f_get, f_put, f_del, f_list, f_where, f_lock, f_close,
};

/* Active ZSKs as the store holds them. */
static int
stored_active_zsks(sp_store *s)
{
	sp_key_info *infos;
	size_t n;
	int active = 0;

	assert_int_equal(sp_keystore_list(s, &infos, &n, NULL), SP_OK);
	for (size_t i = 0; i < n; i++)
		active += infos[i].role == SP_ROLE_ZSK && infos[i].state == SP_KSTATE_ACTIVE;
	free(infos);
	return active;
}

static void
test_activation_never_leaves_no_active_zsk(void **state)
{
	char dir[] = "/tmp/sp-rollover-XXXXXX";
	sp_store *real;
	sp_key *keys[2];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sp_store_open_dir(dir, 0, &real, NULL), SP_OK);
	assert_int_equal(sp_key_generate(SP_ROLE_ZSK, T0, sp_platform_rng(), &keys[0]), SP_OK);
	assert_int_equal(sp_key_generate(SP_ROLE_ZSK, T0 + 10, sp_platform_rng(), &keys[1]), SP_OK);
	sp_key_set_state(keys[1], SP_KSTATE_PUBLISHED, T0 + 10);
	assert_int_equal(sp_keystore_add(real, keys[0], NULL), SP_OK);
	assert_int_equal(sp_keystore_add(real, keys[1], NULL), SP_OK);

	/* Whichever of the two writes fails, the store keeps an active ZSK
	 * (a crash at the same point would leave the same), and the keys in
	 * memory say what the store says. */
	for (int fail_at = 1; fail_at <= 2; fail_at++) {
		struct failing f = { { &failing_ops }, real, 0, fail_at };
		sp_errmsg e;

		assert_int_equal(sp_rollover_activate_zsk(&f.base, keys, 2, 1, T0 + 100, &e), SP_EIO);
		assert_non_null(strstr(e.msg, "no space left"));
		assert_true(stored_active_zsks(real) >= 1);
		for (int i = 0; i < 2; i++) {
			sp_key_info *infos;
			size_t n;
			assert_int_equal(sp_keystore_list(real, &infos, &n, NULL), SP_OK);
			for (size_t k = 0; k < n; k++)
				if (memcmp(infos[k].pub, sp_key_info_of(keys[i])->pub, 32) == 0)
					assert_int_equal(infos[k].state, sp_key_info_of(keys[i])->state);
			free(infos);
		}
		/* Put the store back as it was for the next round. */
		sp_key_set_state(keys[0], SP_KSTATE_ACTIVE, T0);
		sp_key_set_state(keys[1], SP_KSTATE_PUBLISHED, T0 + 10);
		assert_int_equal(sp_keystore_update(real, keys[0], NULL), SP_OK);
		assert_int_equal(sp_keystore_update(real, keys[1], NULL), SP_OK);
	}
	/* Without failures: the successor active, the predecessor retired. */
	assert_int_equal(sp_rollover_activate_zsk(real, keys, 2, 1, T0 + 100, NULL), SP_OK);
	assert_int_equal(sp_key_info_of(keys[1])->state, SP_KSTATE_ACTIVE);
	assert_int_equal(sp_key_info_of(keys[0])->state, SP_KSTATE_RETIRED);
	assert_int_equal(stored_active_zsks(real), 1);
	sp_key_free(keys[0]);
	sp_key_free(keys[1]);
	sp_store_close(real);
	{
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_state_sleeps_until_publication),
		cmocka_unit_test(test_full_zsk_rollover),
		cmocka_unit_test(test_forced_and_manual_only),
		cmocka_unit_test(test_force_during_rollover_does_not_start_another),
		cmocka_unit_test(test_ksk_never_rolls_by_itself),
		cmocka_unit_test(test_activation_never_leaves_no_active_zsk),
		cmocka_unit_test(test_no_zsk_publishes_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
