/*
 * common/sp_kv.c: the "key value" line grammar of signpost.conf and the
 * state files. Comments, blank lines, trimming, quoting and escapes, every
 * error with its "<what>:<line>:" prefix, and line numbers of the pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sp_kv.h"

#define WHAT "test.conf"

/* Parses all of text; returns the number of pairs before the end or error. */
typedef struct parsed {
	sp_kv kv[8];
	size_t n;
	int rc;          /* 0 at the end of input, or the error */
	sp_errmsg e;
} parsed;

static void
parse_n(const char *text, size_t len, parsed *p)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0;

	memset(p, 0, sizeof(*p));
	for (;;) {
		assert_true(p->n < sizeof(p->kv) / sizeof(p->kv[0]));
		p->rc = sp_kv_next(&r, WHAT, &lineno, &p->kv[p->n], &p->e);
		if (p->rc != 1)
			break;
		p->n++;
	}
}

static void
parse(const char *text, parsed *p)
{
	parse_n(text, strlen(text), p);
}

static void
expect_pair(const parsed *p, size_t i, const char *key, const char *value,
    unsigned line)
{
	assert_true(i < p->n);
	assert_string_equal(p->kv[i].key, key);
	assert_string_equal(p->kv[i].value, value);
	assert_int_equal(p->kv[i].line, line);
}

/* The error must be SP_ECONFIG and name the input and the line. */
static void
expect_error(const parsed *p, unsigned line)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "%s:%u:", WHAT, line);
	assert_int_equal(p->rc, SP_ECONFIG);
	if (strstr(p->e.msg, prefix) == NULL)
		fail_msg("message '%s' lacks '%s'", p->e.msg, prefix);
}

static void
test_simple_pairs(void **state)
{
	parsed p;

	(void)state;
	parse("listen 127.0.0.1:53\nzone example.org\n", &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 2);
	expect_pair(&p, 0, "listen", "127.0.0.1:53", 1);
	expect_pair(&p, 1, "zone", "example.org", 2);
}

static void
test_comments_and_blank_lines_skipped_with_right_line_numbers(void **state)
{
	parsed p;

	(void)state;
	parse("# a comment\n"
	    "\n"
	    "   \t\n"
	    "  # an indented comment\n"
	    "first 1\n"
	    "\n"
	    "# another\n"
	    "second 2\n", &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 2);
	expect_pair(&p, 0, "first", "1", 5);
	expect_pair(&p, 1, "second", "2", 8);
}

static void
test_empty_input_and_only_comments(void **state)
{
	parsed p;

	(void)state;
	parse("", &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 0);
	parse("# nothing\n\n", &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 0);
}

static void
test_values_trimmed(void **state)
{
	parsed p;

	(void)state;
	parse("  key \t  some value with  inner  spaces \t \n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "key", "some value with  inner  spaces", 1);
}

static void
test_key_without_value(void **state)
{
	parsed p;

	(void)state;
	parse("flag\nother   \n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "flag", "", 1);
	expect_pair(&p, 1, "other", "", 2);
}

static void
test_crlf_and_final_line_without_lf(void **state)
{
	parsed p;

	(void)state;
	parse("a 1\r\nb 2", &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 2);
	expect_pair(&p, 0, "a", "1", 1);
	expect_pair(&p, 1, "b", "2", 2);
}

static void
test_digits_and_dash_in_keys(void **state)
{
	parsed p;

	(void)state;
	parse("ksk-lifetime-2 30d\n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "ksk-lifetime-2", "30d", 1);
}

static void
test_quoted_value_keeps_spaces(void **state)
{
	parsed p;

	(void)state;
	parse("name \"  two  spaces  \"\n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "name", "  two  spaces  ", 1);
}

static void
test_quoted_value_escapes(void **state)
{
	parsed p;

	(void)state;
	/* name "say \"hi\" \\ done" */
	parse("name \"say \\\"hi\\\" \\\\ done\"\n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "name", "say \"hi\" \\ done", 1);
}

static void
test_quoted_value_other_backslash_kept(void **state)
{
	parsed p;

	(void)state;
	/* Only \" and \\ are escapes; any other backslash is literal. */
	parse("path \"C:\\dir\\n\"\n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "path", "C:\\dir\\n", 1);
}

static void
test_quoted_empty_and_trailing_comment(void **state)
{
	parsed p;

	(void)state;
	parse("a \"\"\nb \"x\"   # why\n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "a", "", 1);
	expect_pair(&p, 1, "b", "x", 2);
}

static void
test_unterminated_quote_is_error(void **state)
{
	parsed p;

	(void)state;
	parse("# c\nok 1\nname \"open\n", &p);
	assert_int_equal(p.n, 1);
	expect_error(&p, 3);
	assert_non_null(strstr(p.e.msg, "unterminated"));
}

static void
test_escaped_closing_quote_is_unterminated(void **state)
{
	parsed p;

	(void)state;
	parse("\nname \"open\\\"\n", &p);
	assert_int_equal(p.n, 0);
	expect_error(&p, 2);
}

static void
test_text_after_closing_quote_is_error(void **state)
{
	parsed p;

	(void)state;
	parse("\n\n\nname \"value\" more\n", &p);
	assert_int_equal(p.n, 0);
	expect_error(&p, 4);
	assert_non_null(strstr(p.e.msg, "after the quoted value"));
}

static void
test_uppercase_key_is_error(void **state)
{
	parsed p;

	(void)state;
	parse("# c\nListen 1.2.3.4:53\n", &p);
	assert_int_equal(p.n, 0);
	expect_error(&p, 2);
	assert_non_null(strstr(p.e.msg, "'Listen'"));
}

static void
test_underscore_key_is_error(void **state)
{
	parsed p;

	(void)state;
	parse("a 1\n\nmy_key 2\n", &p);
	assert_int_equal(p.n, 1);
	expect_error(&p, 3);
	assert_non_null(strstr(p.e.msg, "'my_key'"));
}

static void
test_bad_key_message_stays_within_the_line(void **state)
{
	parsed p;

	(void)state;
	/* The bad key is the whole line; the next line must not leak into the
	 * message. */
	parse("Bad\nnext line\n", &p);
	expect_error(&p, 1);
	assert_non_null(strstr(p.e.msg, "'Bad'"));
	assert_null(strchr(p.e.msg, '\n'));
}

static void
test_bad_key_at_end_of_unterminated_buffer(void **state)
{
	/* No NUL after the input: the parser must stay inside the buffer. */
	char *buf = malloc(3);
	parsed p;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "X_y", 3);
	parse_n(buf, 3, &p);
	expect_error(&p, 1);
	assert_non_null(strstr(p.e.msg, "'X_y'"));
	free(buf);
}

static void
test_overlong_key_is_error(void **state)
{
	char line[128];
	parsed p;

	(void)state;
	memset(line, 'k', 64);
	strcpy(line + 64, " v\n");
	parse(line, &p);
	expect_error(&p, 1);

	/* 63 characters is the longest key. */
	strcpy(line + 63, " v\n");
	parse(line, &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(strlen(p.kv[0].key), 63);
}

static void
test_control_character_is_error(void **state)
{
	parsed p;

	(void)state;
	parse("a 1\nb va\x01lue\n", &p);
	assert_int_equal(p.n, 1);
	expect_error(&p, 2);
	assert_non_null(strstr(p.e.msg, "0x01"));
}

static void
test_control_character_in_comment_is_error(void **state)
{
	parsed p;

	(void)state;
	parse("\n\n# bell\a\n", &p);
	expect_error(&p, 3);
}

static void
test_nul_and_lone_cr_are_control_characters(void **state)
{
	static const char nul[] = "a 1\nb x\0y\n";
	parsed p;

	(void)state;
	parse_n(nul, sizeof(nul) - 1, &p);
	expect_error(&p, 2);
	parse("a x\ry\n", &p);
	expect_error(&p, 1);
}

static void
test_tab_is_allowed(void **state)
{
	parsed p;

	(void)state;
	parse("key\tvalue\twith tab\n", &p);
	assert_int_equal(p.rc, 0);
	expect_pair(&p, 0, "key", "value\twith tab", 1);
}

static void
test_overlong_line_is_error(void **state)
{
	size_t max = SP_KV_LINE_MAX - 1;
	char *text = malloc(2 * SP_KV_LINE_MAX + 16);
	parsed p;

	(void)state;
	assert_non_null(text);

	/* Exactly SP_KV_LINE_MAX - 1 bytes is accepted. */
	memcpy(text, "k ", 2);
	memset(text + 2, 'v', max - 2);
	strcpy(text + max, "\n");
	parse(text, &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(strlen(p.kv[0].value), max - 2);

	/* One more byte is refused, on the right line. */
	memcpy(text, "# c\nk ", 6);
	memset(text + 6, 'v', max - 1);
	strcpy(text + 6 + max - 1, "\n");
	parse(text, &p);
	assert_int_equal(p.n, 0);
	expect_error(&p, 2);
	free(text);
}

static void
test_overlong_quoted_line_is_error(void **state)
{
	char *text = malloc(SP_KV_LINE_MAX + 16);
	parsed p;

	(void)state;
	assert_non_null(text);
	memcpy(text, "k \"", 3);
	memset(text + 3, ' ', SP_KV_LINE_MAX);
	strcpy(text + 3 + SP_KV_LINE_MAX, "\"\n");
	parse(text, &p);
	expect_error(&p, 1);
	free(text);
}

static void
test_error_without_errmsg(void **state)
{
	sp_wire r = sp_wire_reader("BAD 1\n", 6);
	unsigned lineno = 0;
	sp_kv kv;

	(void)state;
	assert_int_equal(sp_kv_next(&r, WHAT, &lineno, &kv, NULL), SP_ECONFIG);
	assert_int_equal(lineno, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_pairs),
		cmocka_unit_test(test_comments_and_blank_lines_skipped_with_right_line_numbers),
		cmocka_unit_test(test_empty_input_and_only_comments),
		cmocka_unit_test(test_values_trimmed),
		cmocka_unit_test(test_key_without_value),
		cmocka_unit_test(test_crlf_and_final_line_without_lf),
		cmocka_unit_test(test_digits_and_dash_in_keys),
		cmocka_unit_test(test_quoted_value_keeps_spaces),
		cmocka_unit_test(test_quoted_value_escapes),
		cmocka_unit_test(test_quoted_value_other_backslash_kept),
		cmocka_unit_test(test_quoted_empty_and_trailing_comment),
		cmocka_unit_test(test_unterminated_quote_is_error),
		cmocka_unit_test(test_escaped_closing_quote_is_unterminated),
		cmocka_unit_test(test_text_after_closing_quote_is_error),
		cmocka_unit_test(test_uppercase_key_is_error),
		cmocka_unit_test(test_underscore_key_is_error),
		cmocka_unit_test(test_bad_key_message_stays_within_the_line),
		cmocka_unit_test(test_bad_key_at_end_of_unterminated_buffer),
		cmocka_unit_test(test_overlong_key_is_error),
		cmocka_unit_test(test_control_character_is_error),
		cmocka_unit_test(test_control_character_in_comment_is_error),
		cmocka_unit_test(test_nul_and_lone_cr_are_control_characters),
		cmocka_unit_test(test_tab_is_allowed),
		cmocka_unit_test(test_overlong_line_is_error),
		cmocka_unit_test(test_overlong_quoted_line_is_error),
		cmocka_unit_test(test_error_without_errmsg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
