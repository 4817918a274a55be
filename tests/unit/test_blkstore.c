/*
 * common/store_block.c: the unikernel's store on a block device, here a
 * file of the same size. Two copies: a damaged newest copy falls back to
 * the one before, a device with neither intact is refused, not erased.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_blkstore.h"

#define SIZE (256 * 1024)

static char path[64];

static int
setup(void **state)
{
	int fd;

	(void)state;
	strcpy(path, "/tmp/sp-blk-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static sp_store *
open_ok(void)
{
	sp_store *s;
	sp_errmsg e;

	if (sp_store_open_block(path, &s, &e) != SP_OK)
		fail_msg("open: %s", e.msg);
	return s;
}

static void
assert_content(sp_store *s, const char *name, const char *want)
{
	uint8_t *d;
	size_t n;
	sp_errmsg e;

	if (want == NULL) {
		assert_int_equal(sp_store_get(s, name, &d, &n, &e), SP_ENOENT);
		return;
	}
	assert_int_equal(sp_store_get(s, name, &d, &n, &e), SP_OK);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(d, want, n);
	sp_store_release(d, n);
}

static int
collect(void *arg, const char *name)
{
	strcat(arg, name);
	strcat(arg, ";");
	return SP_OK;
}

static void
test_round_trip(void **state)
{
	sp_store *s = open_ok();
	char names[256] = "";
	sp_errmsg e;

	(void)state;
	assert_content(s, "cloud", NULL);
	assert_int_equal(sp_store_put(s, "cloud", "zone alice.example\n", 19, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "keys/zsk-1.key", "z", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "keys/ksk-1.key", "k", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "devices/phone", "p", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "keys/zsk-1.key", "z2", 2, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "empty", "", 0, &e), SP_OK);
	assert_int_equal(sp_store_del(s, "devices/phone", &e), SP_OK);
	assert_int_equal(sp_store_del(s, "devices/phone", &e), SP_ENOENT);
	assert_int_equal(sp_store_put(s, "../x", "x", 1, &e), SP_EINVAL);
	sp_store_close(s);

	s = open_ok();
	assert_content(s, "cloud", "zone alice.example\n");
	assert_content(s, "keys/zsk-1.key", "z2");
	assert_content(s, "empty", "");
	assert_content(s, "devices/phone", NULL);
	assert_int_equal(sp_store_list(s, "", collect, names, &e), SP_OK);
	assert_string_equal(names, "cloud;empty;");
	names[0] = '\0';
	assert_int_equal(sp_store_list(s, "keys", collect, names, &e), SP_OK);
	assert_string_equal(names, "keys/ksk-1.key;keys/zsk-1.key;");
	names[0] = '\0';
	assert_int_equal(sp_store_list(s, "devices", collect, names, &e), SP_OK);
	assert_string_equal(names, "");
	sp_store_close(s);
}

/* Flip a byte in the body of the copy in half h. */
static void
damage(int h)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	off_t at = (off_t)h * (SIZE / 2) + SP_BLK_HEADER + 3;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

static void
test_torn_write_falls_back(void **state)
{
	sp_store *s = open_ok();
	sp_errmsg e;

	(void)state;
	/* Generation 1 in half 0, 2 in half 1, 3 in half 0. */
	assert_int_equal(sp_store_put(s, "a", "1", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "a", "2", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "a", "3", 1, &e), SP_OK);
	sp_store_close(s);
	damage(0);   /* as if generation 3's write was cut short */
	s = open_ok();
	assert_content(s, "a", "2");
	/* Life goes on: the next write takes the damaged half. */
	assert_int_equal(sp_store_put(s, "a", "4", 1, &e), SP_OK);
	sp_store_close(s);
	s = open_ok();
	assert_content(s, "a", "4");
	sp_store_close(s);
}

static void
test_not_a_store_is_refused(void **state)
{
	uint8_t junk[4096], back[4096];
	sp_store *s;
	sp_errmsg e;
	int fd = open(path, O_RDWR);

	(void)state;
	randombytes_buf(junk, sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), SIZE / 2), (ssize_t)sizeof(junk));
	assert_int_equal(sp_store_open_block(path, &s, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "refusing to overwrite"));
	assert_int_equal(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	assert_memory_equal(back, junk, sizeof(junk));
	close(fd);
	/* Both copies damaged is the same. */
	unlink(path);
	setup(NULL);
	s = open_ok();
	assert_int_equal(sp_store_put(s, "a", "1", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "a", "2", 1, &e), SP_OK);
	sp_store_close(s);
	damage(0);
	damage(1);
	assert_int_equal(sp_store_open_block(path, &s, &e), SP_ECORRUPT);
}

static void
test_full_and_small(void **state)
{
	static uint8_t big[SIZE / 2];
	sp_store *s = open_ok();
	sp_errmsg e;
	int fd;

	(void)state;
	assert_int_equal(sp_store_put(s, "a", "1", 1, &e), SP_OK);
	assert_int_equal(sp_store_put(s, "big", big, sizeof(big), &e), SP_ESPACE);
	assert_content(s, "big", NULL);
	assert_int_equal(sp_store_put(s, "a", big, sizeof(big), &e), SP_ESPACE);
	assert_content(s, "a", "1");
	sp_store_close(s);
	s = open_ok();
	assert_content(s, "a", "1");
	sp_store_close(s);
	fd = open(path, O_RDWR);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	assert_int_equal(sp_store_open_block(path, &s, &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "too small"));
	assert_int_equal(sp_store_open_block("/nonexistent/vdz", &s, &e), SP_ENOENT);
}

/* The parser's own checks, behind a correct checksum. */
static void
test_parse_rejects(void **state)
{
	sp_blk_entry ents[2] = { { "b", (uint8_t *)"1", 1 }, { "a", (uint8_t *)"2", 1 } };
	uint8_t buf[512];
	sp_blk_entry *out;
	size_t n, len;
	uint64_t gen;

	(void)state;
	/* Out of order. */
	len = sp_blk_serialize(ents, 2, 7, buf, sizeof(buf));
	assert_true(len > SP_BLK_HEADER);
	assert_int_equal(sp_blk_parse(buf, buf + SP_BLK_HEADER, len - SP_BLK_HEADER, &gen, &out,
	    &n), -1);
	/* In order it parses. */
	strcpy(ents[0].name, "a");
	strcpy(ents[1].name, "b");
	len = sp_blk_serialize(ents, 2, 7, buf, sizeof(buf));
	assert_int_equal(sp_blk_parse(buf, buf + SP_BLK_HEADER, len - SP_BLK_HEADER, &gen, &out,
	    &n), 0);
	assert_int_equal(gen, 7);
	assert_int_equal(n, 2);
	sp_blk_free_entries(out, n);
	/* A bad name, a length past the end, a short body. */
	strcpy(ents[1].name, "b/../c");
	len = sp_blk_serialize(ents, 2, 7, buf, sizeof(buf));
	assert_int_equal(sp_blk_parse(buf, buf + SP_BLK_HEADER, len - SP_BLK_HEADER, &gen, &out,
	    &n), -1);
	assert_int_equal(sp_blk_parse(buf, buf + SP_BLK_HEADER, 3, &gen, &out, &n), -1);
	/* Too small a buffer to serialize into. */
	assert_int_equal(sp_blk_serialize(ents, 2, 7, buf, SP_BLK_HEADER + 8), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_write_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_store_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_and_small, setup, teardown),
		cmocka_unit_test(test_parse_rejects),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
