/*
 * signpostd/conf.c: the configuration file. Every error names the file,
 * the line and the problem; a good file round-trips through -n's printer.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "sp_log.h"

static int
parse(sp_conf *c, const char *text, sp_errmsg *e)
{
	sp_conf_init(c);
	return sp_conf_parse(c, "test.conf", text, strlen(text), e);
}

static void
test_good_file(void **state)
{
	sp_conf c;
	sp_errmsg e;

	(void)state;
	assert_int_equal(parse(&c,
	    "# signpostd configuration\n"
	    "\n"
	    "state /var/lib/signpost\r\n"
	    "   log   syslog   \n"
	    "log-level\tdebug\n"
	    "passphrase-file \"/etc/signpost/pass phrase\"\n", &e), SP_OK);
	assert_string_equal(c.state_dir, "/var/lib/signpost");
	assert_int_equal(c.log_syslog, 1);
	assert_int_equal(c.log_level, SP_LOG_DEBUG);
	assert_string_equal(c.passphrase_file, "/etc/signpost/pass phrase");
}

static void
test_empty_file_sets_nothing(void **state)
{
	sp_conf c;

	(void)state;
	assert_int_equal(parse(&c, "", NULL), SP_OK);
	assert_string_equal(c.state_dir, "");
	assert_int_equal(c.log_syslog, -1);
	assert_int_equal(c.log_level, -1);
}

static void
assert_error(const char *text, const char *want)
{
	sp_conf c;
	sp_errmsg e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(parse(&c, text, &e), SP_ECONFIG);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", e.msg, want);
}

static void
test_errors_name_file_line_and_problem(void **state)
{
	(void)state;
	assert_error("state /x\nfrobnicate yes\n", "test.conf:2: unknown option 'frobnicate'");
	assert_error("\n\nstate relative/dir\n", "test.conf:3: state 'relative/dir': must be an absolute path");
	assert_error("log file\n", "test.conf:1: log 'file': must be 'stderr' or 'syslog'");
	assert_error("log-level loud\n", "test.conf:1: log-level 'loud': must be one of");
	assert_error("state /a\n# again\nstate /b\n", "test.conf:3: 'state' is already set on line 1");
	assert_error("state\n", "test.conf:1: 'state' needs a value");
	assert_error("state \"/a\n", "test.conf:1: unterminated quoted value");
	assert_error("state \"/a\" extra\n", "test.conf:1: unexpected text after the quoted value");
	assert_error("State /a\n", "test.conf:1: 'State' is not a valid option name");
	assert_error("state /a\x01\n", "test.conf:1: control character (0x01)");
}

static void
test_interface(void **state)
{
	sp_conf c;
	sp_errmsg e;

	(void)state;
	assert_int_equal(parse(&c, "interface wg-home\ninterface-ipv4 10.99.0.1/24\n", &e), SP_OK);
	assert_string_equal(c.interface, "wg-home");
	assert_int_equal(c.interface_ipv4_prefix, 24);
	assert_memory_equal(c.interface_ipv4, "\x0a\x63\x00\x01", 4);
	assert_error("interface a-name-of-16-chars\n", "test.conf:1: interface");
	assert_error("interface sp/0\n", "letters, digits");
	assert_error("interface-ipv4 10.99.0.1\n", "test.conf:1: interface-ipv4 '10.99.0.1': must be");
	assert_error("interface-ipv4 10.99.0.1/33\n", "prefix of 1-32");
	assert_error("interface-ipv4 10.99.0.1/\n", "prefix of 1-32");
	assert_error("interface-ipv4 fd00::1/64\n", "an IPv4 address");
	assert_error("interface-ipv4 10.99.0.1/24x\n", "prefix of 1-32");
}

static void
test_nul_byte_is_refused(void **state)
{
	static const char text[] = "state /a\0b\n";
	sp_conf c;
	sp_errmsg e;

	(void)state;
	sp_conf_init(&c);
	assert_int_equal(sp_conf_parse(&c, "test.conf", text, sizeof(text) - 1, &e), SP_ECONFIG);
	assert_non_null(strstr(e.msg, "NUL"));
}

static void
test_long_line_is_refused(void **state)
{
	char text[2100];

	(void)state;
	memcpy(text, "state /", 7);
	memset(text + 7, 'a', 2000);
	strcpy(text + 2007, "\n");
	assert_error(text, "test.conf:1: line is longer than");
}

static void
test_print_round_trips(void **state)
{
	sp_conf c, back;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(parse(&c, "state \"/srv/sign post\"\nlog syslog\nlog-level warn\n"
	    "passphrase-file /etc/pass\n", NULL), SP_OK);
	f = open_memstream(&out, &len);
	sp_conf_print(&c, f);
	fclose(f);
	assert_int_equal(parse(&back, out, NULL), SP_OK);
	assert_string_equal(back.state_dir, "/srv/sign post");
	assert_int_equal(back.log_syslog, 1);
	assert_int_equal(back.log_level, SP_LOG_WARN);
	assert_string_equal(back.passphrase_file, "/etc/pass");
	free(out);
}

static void
test_load_names_missing_file(void **state)
{
	sp_conf c;
	sp_errmsg e;

	(void)state;
	sp_conf_init(&c);
	assert_int_equal(sp_conf_load(&c, "/nonexistent/signpost.conf", &e), SP_ECONFIG);
	assert_non_null(strstr(e.msg, "/nonexistent/signpost.conf"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_empty_file_sets_nothing),
		cmocka_unit_test(test_errors_name_file_line_and_problem),
		cmocka_unit_test(test_interface),
		cmocka_unit_test(test_nul_byte_is_refused),
		cmocka_unit_test(test_long_line_is_refused),
		cmocka_unit_test(test_print_round_trips),
		cmocka_unit_test(test_load_names_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
