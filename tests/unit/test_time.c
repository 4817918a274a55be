/* common/sp_time.c: the one ISO 8601 form, both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_err.h"
#include "sp_time.h"

static void
test_format(void **state)
{
	char out[SP_TIME_TEXT];

	(void)state;
	sp_time_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	sp_time_format(1763862372, out);
	assert_string_equal(out, "2025-11-23T01:46:12Z");
	/* Past 2038 on 64-bit time_t. */
	sp_time_format(4102444800LL, out);
	assert_string_equal(out, "2100-01-01T00:00:00Z");
}

static void
test_parse(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(sp_time_parse("2025-11-23T01:46:12Z", &t), SP_OK);
	assert_int_equal(t, 1763862372);
	assert_int_equal(sp_time_parse("1970-01-01T00:00:00Z", &t), SP_OK);
	assert_int_equal(t, 0);
	assert_int_equal(sp_time_parse("2025-11-23 01:46:12Z", &t), SP_EINVAL);
	assert_int_equal(sp_time_parse("2025-11-23T01:46:12", &t), SP_EINVAL);
	assert_int_equal(sp_time_parse("2025-11-23T01:46:12Zjunk", &t), SP_EINVAL);
	assert_int_equal(sp_time_parse("yesterday", &t), SP_EINVAL);
	assert_int_equal(sp_time_parse("", &t), SP_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
