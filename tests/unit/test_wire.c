/*
 * common/sp_wire.h and sp_wire.c: the bounds-checked reader/writer.
 * Byte-exact big- and little-endian round trips, sticky errors on reads and
 * writes past the end, writes through a reader, views, skips, the position
 * accessors and the line splitter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_wire.h"

static void
test_u16_u32_big_endian_bytes_and_round_trip(void **state)
{
	static const uint8_t want[] = { 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xa5 };
	uint8_t buf[7];
	sp_wire w = sp_wire_writer(buf, sizeof(buf)), r;

	(void)state;
	sp_wire_put_u16(&w, 0x1234);
	sp_wire_put_u32(&w, 0xdeadbeefu);
	sp_wire_put_u8(&w, 0xa5);
	assert_int_equal(sp_wire_err(&w), SP_OK);
	assert_int_equal(sp_wire_used(&w), 7);
	assert_int_equal(sp_wire_left(&w), 0);
	assert_memory_equal(buf, want, sizeof(want));

	r = sp_wire_reader(buf, sizeof(buf));
	assert_int_equal(sp_wire_u16(&r), 0x1234);
	assert_int_equal(sp_wire_u32(&r), 0xdeadbeefu);
	assert_int_equal(sp_wire_u8(&r), 0xa5);
	assert_int_equal(sp_wire_err(&r), SP_OK);
	assert_int_equal(sp_wire_left(&r), 0);
}

static void
test_u32_little_endian_bytes_and_round_trip(void **state)
{
	static const uint8_t want[] = { 0x04, 0x03, 0x02, 0x01, 0xef, 0xbe, 0xad, 0xde };
	uint8_t buf[8];
	sp_wire w = sp_wire_writer(buf, sizeof(buf)), r;

	(void)state;
	sp_wire_put_u32le(&w, 0x01020304u);
	sp_wire_put_u32le(&w, 0xdeadbeefu);
	assert_int_equal(sp_wire_err(&w), SP_OK);
	assert_memory_equal(buf, want, sizeof(want));

	r = sp_wire_reader(buf, sizeof(buf));
	assert_int_equal(sp_wire_u32le(&r), 0x01020304u);
	assert_int_equal(sp_wire_u32le(&r), 0xdeadbeefu);
	assert_int_equal(sp_wire_err(&r), SP_OK);

	/* The same bytes read big-endian come out reversed. */
	r = sp_wire_reader(buf, sizeof(buf));
	assert_int_equal(sp_wire_u32(&r), 0x04030201u);
}

static void
test_read_past_end_is_sticky(void **state)
{
	static const uint8_t in[] = { 0x01, 0x02, 0x03 };
	uint8_t out[2] = { 0xff, 0xff };
	sp_wire r = sp_wire_reader(in, sizeof(in));

	(void)state;
	assert_int_equal(sp_wire_u16(&r), 0x0102);
	/* One byte left: a u16 does not fit. */
	assert_int_equal(sp_wire_u16(&r), 0);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	assert_int_equal(sp_wire_used(&r), 2);
	assert_int_equal(sp_wire_left(&r), 0);
	/* A u8 would fit, but the error is sticky. */
	assert_int_equal(sp_wire_u8(&r), 0);
	assert_int_equal(sp_wire_u32(&r), 0);
	assert_int_equal(sp_wire_u32le(&r), 0);
	assert_null(sp_wire_view(&r, 1));
	sp_wire_read(&r, out, 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0xff);
	sp_wire_skip(&r, 1);
	assert_int_equal(sp_wire_used(&r), 2);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
}

static void
test_read_into_buffer_past_end_zeroes_it(void **state)
{
	static const uint8_t in[] = { 0xaa, 0xbb };
	uint8_t out[4];
	sp_wire r = sp_wire_reader(in, sizeof(in));

	(void)state;
	memset(out, 0x55, sizeof(out));
	sp_wire_read(&r, out, sizeof(out));
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	assert_int_equal(sp_wire_used(&r), 0);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
}

static void
test_write_past_end_fails_and_keeps_position(void **state)
{
	uint8_t buf[5];
	sp_wire w = sp_wire_writer(buf, sizeof(buf));

	(void)state;
	memset(buf, 0, sizeof(buf));
	sp_wire_put_u16(&w, 0xabcd);
	sp_wire_put_u32(&w, 0x11223344u);
	assert_int_equal(sp_wire_err(&w), SP_ESPACE);
	assert_int_equal(sp_wire_used(&w), 2);
	/* Nothing of the failed write reached the buffer. */
	assert_int_equal(buf[2], 0);
	/* One byte would still fit, but the writer has failed. */
	sp_wire_put_u8(&w, 0x77);
	sp_wire_put(&w, "x", 1);
	assert_int_equal(sp_wire_used(&w), 2);
	assert_int_equal(buf[2], 0);
	assert_int_equal(sp_wire_err(&w), SP_ESPACE);
}

static void
test_put_bytes_and_string(void **state)
{
	uint8_t buf[8];
	sp_wire w = sp_wire_writer(buf, sizeof(buf));

	(void)state;
	sp_wire_put(&w, "\x01\x02", 2);
	sp_wire_put_str(&w, "abc");
	assert_int_equal(sp_wire_err(&w), SP_OK);
	assert_int_equal(sp_wire_used(&w), 5);
	assert_int_equal(sp_wire_left(&w), 3);
	assert_memory_equal(buf, "\x01\x02" "abc", 5);
	sp_wire_put_str(&w, "defg");
	assert_int_equal(sp_wire_err(&w), SP_ESPACE);
	assert_int_equal(sp_wire_used(&w), 5);
}

static void
test_write_through_reader_is_einval(void **state)
{
	uint8_t buf[8] = { 0 };
	sp_wire r = sp_wire_reader(buf, sizeof(buf));

	(void)state;
	sp_wire_put_u8(&r, 0x42);
	assert_int_equal(sp_wire_err(&r), SP_EINVAL);
	assert_int_equal(buf[0], 0);
	assert_int_equal(sp_wire_used(&r), 0);

	r = sp_wire_reader(buf, sizeof(buf));
	sp_wire_put_u16(&r, 1);
	assert_int_equal(sp_wire_err(&r), SP_EINVAL);
	r = sp_wire_reader(buf, sizeof(buf));
	sp_wire_put_u32(&r, 1);
	assert_int_equal(sp_wire_err(&r), SP_EINVAL);
	r = sp_wire_reader(buf, sizeof(buf));
	sp_wire_put_u32le(&r, 1);
	assert_int_equal(sp_wire_err(&r), SP_EINVAL);
	r = sp_wire_reader(buf, sizeof(buf));
	sp_wire_put(&r, "ab", 2);
	assert_int_equal(sp_wire_err(&r), SP_EINVAL);
	/* Reads after the failed write fail too. */
	assert_int_equal(sp_wire_u8(&r), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

static void
test_first_error_wins(void **state)
{
	uint8_t buf[1] = { 0 };
	sp_wire r = sp_wire_reader(buf, sizeof(buf));

	(void)state;
	assert_int_equal(sp_wire_u16(&r), 0);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	sp_wire_put_u8(&r, 1);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	sp_wire_fail(&r, SP_EPROTO);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);

	r = sp_wire_reader(buf, sizeof(buf));
	sp_wire_fail(&r, SP_EPROTO);
	assert_int_equal(sp_wire_err(&r), SP_EPROTO);
	assert_int_equal(sp_wire_u8(&r), 0);
	assert_int_equal(sp_wire_err(&r), SP_EPROTO);
}

static void
test_view_borrows_and_advances(void **state)
{
	static const uint8_t in[] = { 'h', 'e', 'l', 'l', 'o' };
	sp_wire r = sp_wire_reader(in, sizeof(in));
	const uint8_t *v;

	(void)state;
	v = sp_wire_view(&r, 3);
	assert_ptr_equal(v, in);
	assert_int_equal(sp_wire_used(&r), 3);
	v = sp_wire_view(&r, 0);
	assert_ptr_equal(v, in + 3);
	assert_int_equal(sp_wire_used(&r), 3);
	v = sp_wire_view(&r, 2);
	assert_ptr_equal(v, in + 3);
	assert_int_equal(sp_wire_left(&r), 0);
	assert_int_equal(sp_wire_err(&r), SP_OK);
	assert_null(sp_wire_view(&r, 1));
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
}

static void
test_view_past_end_is_null_and_keeps_position(void **state)
{
	static const uint8_t in[] = { 1, 2, 3 };
	sp_wire r = sp_wire_reader(in, sizeof(in));

	(void)state;
	assert_int_equal(sp_wire_u8(&r), 1);
	assert_null(sp_wire_view(&r, 3));
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	assert_int_equal(sp_wire_used(&r), 1);
}

static void
test_skip(void **state)
{
	static const uint8_t in[] = { 1, 2, 3, 4, 5 };
	sp_wire r = sp_wire_reader(in, sizeof(in));

	(void)state;
	sp_wire_skip(&r, 2);
	assert_int_equal(sp_wire_used(&r), 2);
	assert_int_equal(sp_wire_left(&r), 3);
	assert_int_equal(sp_wire_u8(&r), 3);
	sp_wire_skip(&r, 2);
	assert_int_equal(sp_wire_err(&r), SP_OK);
	assert_int_equal(sp_wire_left(&r), 0);
	sp_wire_skip(&r, 1);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	assert_int_equal(sp_wire_used(&r), 5);

	/* A huge skip must not wrap the position around. */
	r = sp_wire_reader(in, sizeof(in));
	sp_wire_u8(&r);
	sp_wire_skip(&r, SIZE_MAX);
	assert_int_equal(sp_wire_err(&r), SP_ESPACE);
	assert_int_equal(sp_wire_used(&r), 1);
}

static void
test_left_and_used_on_fresh_and_empty(void **state)
{
	uint8_t buf[10];
	sp_wire w = sp_wire_writer(buf, sizeof(buf));
	sp_wire e = sp_wire_reader("", 0);

	(void)state;
	assert_int_equal(sp_wire_left(&w), 10);
	assert_int_equal(sp_wire_used(&w), 0);
	sp_wire_put_u32(&w, 7);
	assert_int_equal(sp_wire_left(&w), 6);
	assert_int_equal(sp_wire_used(&w), 4);
	assert_int_equal(sp_wire_left(&e), 0);
	assert_int_equal(sp_wire_u8(&e), 0);
	assert_int_equal(sp_wire_err(&e), SP_ESPACE);
}

/* Reads the next line and checks it against want (NULL: no more lines). */
static void
expect_line(sp_wire *r, const char *want, bool want_lf)
{
	const char *line = NULL;
	size_t len = 99;
	bool had_lf = !want_lf;

	if (want == NULL) {
		assert_false(sp_wire_line(r, &line, &len, &had_lf));
		return;
	}
	assert_true(sp_wire_line(r, &line, &len, &had_lf));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
	assert_int_equal(had_lf, want_lf);
}

static void
test_line_lf(void **state)
{
	static const char in[] = "one\ntwo\n";
	sp_wire r = sp_wire_reader(in, sizeof(in) - 1);

	(void)state;
	expect_line(&r, "one", true);
	expect_line(&r, "two", true);
	expect_line(&r, NULL, false);
	assert_int_equal(sp_wire_err(&r), SP_OK);
}

static void
test_line_crlf(void **state)
{
	static const char in[] = "one\r\ntwo\r\n";
	sp_wire r = sp_wire_reader(in, sizeof(in) - 1);

	(void)state;
	expect_line(&r, "one", true);
	expect_line(&r, "two", true);
	expect_line(&r, NULL, false);
}

static void
test_line_final_without_lf(void **state)
{
	static const char in[] = "one\ntail";
	sp_wire r = sp_wire_reader(in, sizeof(in) - 1);

	(void)state;
	expect_line(&r, "one", true);
	expect_line(&r, "tail", false);
	expect_line(&r, NULL, false);
	assert_int_equal(sp_wire_left(&r), 0);
}

static void
test_line_cr_only_inside_is_kept(void **state)
{
	static const char in[] = "a\rb\n";
	sp_wire r = sp_wire_reader(in, sizeof(in) - 1);

	(void)state;
	expect_line(&r, "a\rb", true);
	expect_line(&r, NULL, false);
}

static void
test_line_empty_lines(void **state)
{
	static const char in[] = "\n\r\nx\n\n";
	sp_wire r = sp_wire_reader(in, sizeof(in) - 1);

	(void)state;
	expect_line(&r, "", true);
	expect_line(&r, "", true);
	expect_line(&r, "x", true);
	expect_line(&r, "", true);
	expect_line(&r, NULL, false);
}

static void
test_line_empty_buffer(void **state)
{
	sp_wire r = sp_wire_reader("", 0);

	(void)state;
	expect_line(&r, NULL, false);
	assert_int_equal(sp_wire_err(&r), SP_OK);
}

static void
test_line_after_error_returns_false(void **state)
{
	static const char in[] = "a\nb\n";
	sp_wire r = sp_wire_reader(in, sizeof(in) - 1);

	(void)state;
	sp_wire_fail(&r, SP_EPROTO);
	expect_line(&r, NULL, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u16_u32_big_endian_bytes_and_round_trip),
		cmocka_unit_test(test_u32_little_endian_bytes_and_round_trip),
		cmocka_unit_test(test_read_past_end_is_sticky),
		cmocka_unit_test(test_read_into_buffer_past_end_zeroes_it),
		cmocka_unit_test(test_write_past_end_fails_and_keeps_position),
		cmocka_unit_test(test_put_bytes_and_string),
		cmocka_unit_test(test_write_through_reader_is_einval),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_view_borrows_and_advances),
		cmocka_unit_test(test_view_past_end_is_null_and_keeps_position),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_left_and_used_on_fresh_and_empty),
		cmocka_unit_test(test_line_lf),
		cmocka_unit_test(test_line_crlf),
		cmocka_unit_test(test_line_final_without_lf),
		cmocka_unit_test(test_line_cr_only_inside_is_kept),
		cmocka_unit_test(test_line_empty_lines),
		cmocka_unit_test(test_line_empty_buffer),
		cmocka_unit_test(test_line_after_error_returns_false),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
