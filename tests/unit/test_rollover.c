/*
 * keys/rollover.c: the ZSK rollover timeline of RFC 7583 (pre-publication)
 * in virtual time, step by step, with the exact deadlines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_state_sleeps_until_publication),
		cmocka_unit_test(test_full_zsk_rollover),
		cmocka_unit_test(test_forced_and_manual_only),
		cmocka_unit_test(test_force_during_rollover_does_not_start_another),
		cmocka_unit_test(test_ksk_never_rolls_by_itself),
		cmocka_unit_test(test_no_zsk_publishes_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
