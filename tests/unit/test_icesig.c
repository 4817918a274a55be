/* ICE signalling's receive decision (mobile/icesig.c): each case of
 * docs/control-plane.md's "ICE signalling", and the flows that use them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_icesig.h"

static const sp_icesig_agent none = { 0, 0, 0, 0 };

static void
test_offer_and_answer(void **state)
{
	/* A offers 7; B has nothing: a new agent (B's session 9) answers. */
	sp_icesig_agent a = { 1, 7, 0, 1 }, b;

	(void)state;
	assert_int_equal(sp_icesig_decide(&none, 7, 0, 1), SP_ICESIG_NEW);
	assert_int_equal(sp_icesig_decide(NULL, 7, 0, 1), SP_ICESIG_NEW);
	b = (sp_icesig_agent){ 1, 9, 7, 0 };
	/* B's answer reaches A's unanswered offer. */
	assert_int_equal(sp_icesig_decide(&a, 9, 7, 1), SP_ICESIG_ANSWERED);
	a.remote = 9;
	/* Trickle both ways, with or without credentials. */
	assert_int_equal(sp_icesig_decide(&a, 9, 7, 0), SP_ICESIG_TRICKLE);
	assert_int_equal(sp_icesig_decide(&b, 7, 0, 0), SP_ICESIG_TRICKLE);
	assert_int_equal(sp_icesig_decide(&b, 7, 0, 1), SP_ICESIG_TRICKLE);   /* offer again */
}

static void
test_answers_that_do_not_fit(void **state)
{
	sp_icesig_agent a = { 1, 7, 0, 1 };

	(void)state;
	/* Without credentials an answer cannot be taken. */
	assert_int_equal(sp_icesig_decide(&a, 9, 7, 0), SP_ICESIG_STALE);
	/* An answer to a session we no longer have (we restarted). */
	assert_int_equal(sp_icesig_decide(&a, 9, 6, 1), SP_ICESIG_STALE);
	/* An answer when we have no agent. */
	assert_int_equal(sp_icesig_decide(&none, 9, 7, 1), SP_ICESIG_STALE);
	/* An answer once answered by another session. */
	a.remote = 9;
	assert_int_equal(sp_icesig_decide(&a, 11, 7, 1), SP_ICESIG_STALE);
	/* Trickle for a session never offered. */
	assert_int_equal(sp_icesig_decide(&a, 13, 0, 0), SP_ICESIG_STALE);
	assert_int_equal(sp_icesig_decide(&none, 13, 0, 0), SP_ICESIG_STALE);
	/* Session 0 is malformed. */
	assert_int_equal(sp_icesig_decide(&a, 0, 0, 1), SP_ICESIG_STALE);
}

static void
test_glare(void **state)
{
	/* Both offered: A (controlling) keeps its own, B drops its own. */
	sp_icesig_agent a = { 1, 7, 0, 1 }, b = { 1, 8, 0, 0 };

	(void)state;
	assert_int_equal(sp_icesig_decide(&a, 8, 0, 1), SP_ICESIG_GLARE_KEEP);
	assert_int_equal(sp_icesig_decide(&b, 7, 0, 1), SP_ICESIG_RESTART);
	/* B's new agent (10) answers 7; A takes it. */
	assert_int_equal(sp_icesig_decide(&a, 10, 7, 1), SP_ICESIG_ANSWERED);
	/* B's old offer's trickle arrives late at A, now answered by 10. */
	a.remote = 10;
	assert_int_equal(sp_icesig_decide(&a, 8, 0, 0), SP_ICESIG_STALE);
}

static void
test_restart(void **state)
{
	/* Paired 7 <-> 9; A restarts with 11 (its addresses changed). */
	sp_icesig_agent b = { 1, 9, 7, 0 }, a2 = { 1, 11, 0, 1 };

	(void)state;
	assert_int_equal(sp_icesig_decide(&b, 11, 0, 1), SP_ICESIG_RESTART);
	/* B's answer to the old session reaches the new agent: stale. */
	assert_int_equal(sp_icesig_decide(&a2, 9, 7, 1), SP_ICESIG_STALE);
	/* B's new agent (12) answers 11. */
	assert_int_equal(sp_icesig_decide(&a2, 12, 11, 1), SP_ICESIG_ANSWERED);
	/* A controlled side restarting is a restart for the controlling one
	 * too, once paired (no glare: it has an answer). */
	b = (sp_icesig_agent){ 1, 9, 7, 1 };
	assert_int_equal(sp_icesig_decide(&b, 11, 0, 1), SP_ICESIG_RESTART);
}

static void
test_controlling(void **state)
{
	uint8_t lo[32], hi[32];

	(void)state;
	memset(lo, 0x11, sizeof(lo));
	memset(hi, 0x11, sizeof(hi));
	hi[31] = 0x12;
	assert_int_equal(sp_icesig_controlling(lo, hi), 1);
	assert_int_equal(sp_icesig_controlling(hi, lo), 0);
	assert_int_equal(sp_icesig_controlling(lo, lo), 0);   /* never both */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_and_answer),
		cmocka_unit_test(test_answers_that_do_not_fit),
		cmocka_unit_test(test_glare),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_controlling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
