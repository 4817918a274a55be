/*
 * common/store.c and common/store_file.c: the directory store. Each test
 * gets a fresh private directory under /tmp, removed in teardown. Covers
 * get/put/del/list, atomic replacement without leftover temp files, file
 * and folder modes, name rules, permission checks and the size limit.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp_platform.h"

typedef struct fixture {
	char root[64];      /* the mkdtemp directory, mode 0700 */
	char path[128];     /* root/state, the store's directory */
	sp_store *s;
} fixture;

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	sp_errmsg e;

	if (f == NULL)
		return -1;
	strcpy(f->root, "/tmp/sp-test-store-XXXXXX");
	if (mkdtemp(f->root) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state", f->root);
	if (sp_store_open_dir(f->path, SP_STORE_CREATE, &f->s, &e) != SP_OK) {
		print_error("open %s: %s\n", f->path, e.msg);
		rmdir(f->root);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	sp_store_close(f->s);
	nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
put_ok(sp_store *s, const char *name, const char *text)
{
	sp_errmsg e = { "" };

	if (sp_store_put(s, name, text, strlen(text), &e) != SP_OK)
		fail_msg("put %s: %s", name, e.msg);
}

static void
expect_content(sp_store *s, const char *name, const char *want)
{
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	if (sp_store_get(s, name, &data, &len, &e) != SP_OK)
		fail_msg("get %s: %s", name, e.msg);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	assert_int_equal(data[len], '\0');
	sp_store_release(data, len + 1);
}

static mode_t
mode_of(const fixture *f, const char *name)
{
	char full[256];
	struct stat st;

	snprintf(full, sizeof(full), "%s/%s", f->path, name);
	assert_int_equal(lstat(full, &st), 0);
	return st.st_mode;
}

/* Fails if dir (relative to the store) holds a hidden entry. */
static void
expect_no_hidden(const fixture *f, const char *dir)
{
	char full[256];
	struct dirent *de;
	DIR *d;

	snprintf(full, sizeof(full), "%s/%s", f->path, dir);
	d = opendir(full);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.') {
			closedir(d);
			fail_msg("leftover hidden file %s/%s", full, de->d_name);
		}
	}
	closedir(d);
}

static void
test_put_then_get_exact_bytes_with_nul(void **state)
{
	fixture *f = *state;
	static const uint8_t bin[] = { 0x00, 0xff, 0x0a, 0x00, 0x7f };
	sp_errmsg e;
	uint8_t *data = NULL;
	size_t len = 0;

	put_ok(f->s, "cloud", "zone example.org\n");
	expect_content(f->s, "cloud", "zone example.org\n");

	assert_int_equal(sp_store_put(f->s, "bin", bin, sizeof(bin), &e), SP_OK);
	assert_int_equal(sp_store_get(f->s, "bin", &data, &len, &e), SP_OK);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(data, bin, sizeof(bin));
	assert_int_equal(data[len], 0);
	sp_store_release(data, len + 1);
}

static void
test_put_empty_content(void **state)
{
	fixture *f = *state;
	sp_errmsg e;
	uint8_t *data = NULL;
	size_t len = 99;

	assert_int_equal(sp_store_put(f->s, "empty", "", 0, &e), SP_OK);
	assert_int_equal(sp_store_get(f->s, "empty", &data, &len, &e), SP_OK);
	assert_int_equal(len, 0);
	assert_non_null(data);
	assert_int_equal(data[0], '\0');
	sp_store_release(data, 1);
}

static void
test_put_replaces_without_leftover_temp_files(void **state)
{
	fixture *f = *state;

	put_ok(f->s, "cloud", "a much longer first version of the content\n");
	put_ok(f->s, "cloud", "short\n");
	expect_content(f->s, "cloud", "short\n");
	put_ok(f->s, "keys/k1.key", "one");
	put_ok(f->s, "keys/k1.key", "two");
	expect_content(f->s, "keys/k1.key", "two");
	expect_no_hidden(f, "");
	expect_no_hidden(f, "keys");
}

/* A writer killed between its temp file and the rename leaves
 * ".NAME.tmpPID" behind; taking the lock removes those, and only those. */
static void
write_file(const fixture *f, const char *name, const char *text)
{
	char full[256];
	FILE *fp;

	snprintf(full, sizeof(full), "%s/%s", f->path, name);
	assert_non_null(fp = fopen(full, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(full, 0600), 0);
}

static void
test_lock_removes_orphaned_temp_files(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };

	put_ok(f->s, "keys/k1.key", "real");
	put_ok(f->s, "pairing/0011223344556677", "token x");
	write_file(f, ".zone.tmp13827", "half a zone");
	write_file(f, "keys/.k1.key.tmp4242", "half a key");
	write_file(f, "pairing/.0011223344556677.tmp9", "a token");
	write_file(f, ".keepme", "not ours");
	write_file(f, "keys/.k1.key.tmpx", "not a pid");
	assert_int_equal(sp_store_lock(f->s, &e), SP_OK);
	assert_int_equal(access(f->path, F_OK), 0);
	expect_no_hidden(f, "pairing");
	expect_content(f->s, "keys/k1.key", "real");
	expect_content(f->s, "pairing/0011223344556677", "token x");
	{
		char full[256];
		snprintf(full, sizeof(full), "%s/.zone.tmp13827", f->path);
		assert_int_equal(access(full, F_OK), -1);
		snprintf(full, sizeof(full), "%s/keys/.k1.key.tmp4242", f->path);
		assert_int_equal(access(full, F_OK), -1);
		snprintf(full, sizeof(full), "%s/.keepme", f->path);
		assert_int_equal(access(full, F_OK), 0);
		snprintf(full, sizeof(full), "%s/keys/.k1.key.tmpx", f->path);
		assert_int_equal(access(full, F_OK), 0);
	}
}

static void
test_files_0600_and_folders_0700(void **state)
{
	fixture *f = *state;
	mode_t old = umask(0);
	mode_t m;

	/* With an empty umask the store itself must choose private modes. */
	put_ok(f->s, "top", "x");
	put_ok(f->s, "keys/x.key", "y");
	umask(old);
	m = mode_of(f, "top");
	assert_true(S_ISREG(m));
	assert_int_equal(m & 07777, 0600);
	m = mode_of(f, "keys");
	assert_true(S_ISDIR(m));
	assert_int_equal(m & 07777, 0700);
	m = mode_of(f, "keys/x.key");
	assert_true(S_ISREG(m));
	assert_int_equal(m & 07777, 0600);
	expect_content(f->s, "keys/x.key", "y");
}

static void
test_create_makes_directory_0700(void **state)
{
	fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_string_equal(sp_store_where(f->s), f->path);
}

static void
test_open_without_create_missing_is_enoent(void **state)
{
	fixture *f = *state;
	char missing[160];
	sp_errmsg e = { "" };
	sp_store *s = NULL;

	snprintf(missing, sizeof(missing), "%s/missing", f->root);
	assert_int_equal(sp_store_open_dir(missing, 0, &s, &e), SP_ENOENT);
	assert_null(s);
	assert_non_null(strstr(e.msg, missing));
}

static void
test_open_dir_0755_is_eperm_naming_path_and_mode(void **state)
{
	fixture *f = *state;
	char open_dir[160];
	sp_errmsg e = { "" };
	sp_store *s = NULL;

	snprintf(open_dir, sizeof(open_dir), "%s/open", f->root);
	assert_int_equal(mkdir(open_dir, 0700), 0);
	assert_int_equal(chmod(open_dir, 0755), 0);
	assert_int_equal(sp_store_open_dir(open_dir, 0, &s, &e), SP_EPERM);
	assert_null(s);
	assert_non_null(strstr(e.msg, open_dir));
	assert_non_null(strstr(e.msg, "0755"));

	/* Open to the group only is refused too. */
	assert_int_equal(chmod(open_dir, 0750), 0);
	assert_int_equal(sp_store_open_dir(open_dir, 0, &s, &e), SP_EPERM);
	assert_non_null(strstr(e.msg, "0750"));

	/* SP_STORE_CREATE does not fix an existing open directory either. */
	assert_int_equal(sp_store_open_dir(open_dir, SP_STORE_CREATE, &s, &e), SP_EPERM);
	assert_null(s);
}

static void
test_get_of_file_0644_is_eperm_naming_file(void **state)
{
	fixture *f = *state;
	char full[256];
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	put_ok(f->s, "cloud", "secret");
	snprintf(full, sizeof(full), "%s/cloud", f->path);
	assert_int_equal(chmod(full, 0644), 0);
	assert_int_equal(sp_store_get(f->s, "cloud", &data, &len, &e), SP_EPERM);
	assert_null(data);
	assert_non_null(strstr(e.msg, full));
	assert_non_null(strstr(e.msg, "0644"));

	assert_int_equal(chmod(full, 0640), 0);
	assert_int_equal(sp_store_get(f->s, "cloud", &data, &len, &e), SP_EPERM);
	assert_null(data);
	assert_non_null(strstr(e.msg, "0640"));
}

static void
test_get_in_open_folder_is_eperm(void **state)
{
	fixture *f = *state;
	char full[256];
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	put_ok(f->s, "keys/a.key", "k");
	snprintf(full, sizeof(full), "%s/keys", f->path);
	assert_int_equal(chmod(full, 0755), 0);
	assert_int_equal(sp_store_get(f->s, "keys/a.key", &data, &len, &e), SP_EPERM);
	assert_null(data);
	assert_non_null(strstr(e.msg, full));
}

static void
test_get_missing_is_enoent(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	assert_int_equal(sp_store_get(f->s, "nothing", &data, &len, &e), SP_ENOENT);
	assert_null(data);
	assert_non_null(strstr(e.msg, "nothing"));
	assert_int_equal(sp_store_get(f->s, "keys/nothing", &data, &len, &e), SP_ENOENT);
	assert_null(data);
}

static void
test_get_put_del_invalid_name_is_einval(void **state)
{
	fixture *f = *state;
	char outside[160];
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	assert_int_equal(sp_store_put(f->s, "../escape", "x", 1, &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "../escape"));
	assert_int_equal(sp_store_get(f->s, ".hidden", &data, &len, &e), SP_EINVAL);
	assert_int_equal(sp_store_del(f->s, "a/b/c", &e), SP_EINVAL);
	snprintf(outside, sizeof(outside), "%s/escape", f->root);
	assert_int_not_equal(access(outside, F_OK), 0);
	expect_no_hidden(f, "");
}

static void
test_del_removes(void **state)
{
	fixture *f = *state;
	char full[256];
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	put_ok(f->s, "cloud", "x");
	put_ok(f->s, "keys/a.key", "y");
	assert_int_equal(sp_store_del(f->s, "cloud", &e), SP_OK);
	assert_int_equal(sp_store_del(f->s, "keys/a.key", &e), SP_OK);
	snprintf(full, sizeof(full), "%s/cloud", f->path);
	assert_int_not_equal(access(full, F_OK), 0);
	assert_int_equal(sp_store_get(f->s, "cloud", &data, &len, &e), SP_ENOENT);
	assert_int_equal(sp_store_get(f->s, "keys/a.key", &data, &len, &e), SP_ENOENT);
	assert_int_equal(sp_store_del(f->s, "cloud", &e), SP_ENOENT);
}

typedef struct names {
	char name[8][64];
	size_t n;
} names;

static int
collect(void *arg, const char *name)
{
	names *c = arg;

	assert_true(c->n < 8);
	snprintf(c->name[c->n++], sizeof(c->name[0]), "%s", name);
	return 0;
}

static int
stop_after_one(void *arg, const char *name)
{
	(void)name;
	++*(int *)arg;
	return SP_ECONFIG;
}

static void
write_raw(const fixture *f, const char *name)
{
	char full[256];
	int fd;

	snprintf(full, sizeof(full), "%s/%s", f->path, name);
	fd = open(full, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static void
test_list_sorted_and_only_valid_names_in_folder(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };
	names c;

	put_ok(f->s, "keys/zsk-2.key", "z");
	put_ok(f->s, "keys/ksk-1.key", "k");
	put_ok(f->s, "keys/a.key", "a");
	put_ok(f->s, "other/b", "b");
	put_ok(f->s, "top", "t");
	/* Entries the store never writes and must not report. */
	write_raw(f, "keys/.hidden");
	write_raw(f, "keys/has space");

	memset(&c, 0, sizeof(c));
	assert_int_equal(sp_store_list(f->s, "keys", collect, &c, &e), SP_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.name[0], "keys/a.key");
	assert_string_equal(c.name[1], "keys/ksk-1.key");
	assert_string_equal(c.name[2], "keys/zsk-2.key");

	memset(&c, 0, sizeof(c));
	assert_int_equal(sp_store_list(f->s, "other", collect, &c, &e), SP_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.name[0], "other/b");
}

static void
test_list_top_level(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };
	names c;

	put_ok(f->s, "b", "1");
	put_ok(f->s, "a", "2");
	put_ok(f->s, "c", "3");
	write_raw(f, ".tmpfile");
	memset(&c, 0, sizeof(c));
	assert_int_equal(sp_store_list(f->s, "", collect, &c, &e), SP_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.name[0], "a");
	assert_string_equal(c.name[1], "b");
	assert_string_equal(c.name[2], "c");
}

static void
test_list_missing_folder_is_empty(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };
	names c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(sp_store_list(f->s, "keys", collect, &c, &e), SP_OK);
	assert_int_equal(c.n, 0);
}

static void
test_list_stops_on_callback_error(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };
	int calls = 0;

	put_ok(f->s, "keys/a", "1");
	put_ok(f->s, "keys/b", "2");
	assert_int_equal(sp_store_list(f->s, "keys", stop_after_one, &calls, &e),
	    SP_ECONFIG);
	assert_int_equal(calls, 1);
}

static void
test_list_invalid_folder_is_einval(void **state)
{
	fixture *f = *state;
	sp_errmsg e = { "" };
	names c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(sp_store_list(f->s, "..", collect, &c, &e), SP_EINVAL);
	assert_int_equal(sp_store_list(f->s, "keys/sub", collect, &c, &e), SP_EINVAL);
	assert_int_equal(sp_store_list(f->s, ".hidden", collect, &c, &e), SP_EINVAL);
	assert_int_equal(c.n, 0);
}

static void
test_name_rules(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", ".hidden", "a/b/c", "a//b", "a/", "/a", "has space",
		"a b/c", "keys/.tmp", "keys/..", "../a", "tab\there", "semi;colon",
		"nl\n",
	};
	static const char *const good[] = {
		"cloud", "keys/ksk-1.key", "A_b-c.d", "a/b", "a.", "x..y",
	};
	char longname[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sp_store_name_ok(bad[i]))
			fail_msg("'%s' was accepted", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sp_store_name_ok(good[i]))
			fail_msg("'%s' was refused", good[i]);
	memset(longname, 'a', 200);
	longname[200] = '\0';
	assert_true(sp_store_name_ok(longname));
	longname[200] = 'a';
	longname[201] = '\0';
	assert_false(sp_store_name_ok(longname));
}

static void
test_put_over_max_is_einval(void **state)
{
	fixture *f = *state;
	size_t n = SP_STORE_MAX + 1;
	uint8_t *big = calloc(1, n);
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;

	assert_non_null(big);
	assert_int_equal(sp_store_put(f->s, "big", big, n, &e), SP_EINVAL);
	assert_non_null(strstr(e.msg, "big"));
	assert_int_equal(sp_store_get(f->s, "big", &data, &len, &e), SP_ENOENT);
	/* Exactly SP_STORE_MAX is allowed. */
	assert_int_equal(sp_store_put(f->s, "big", big, n - 1, &e), SP_OK);
	assert_int_equal(sp_store_get(f->s, "big", &data, &len, &e), SP_OK);
	assert_int_equal(len, SP_STORE_MAX);
	sp_store_release(data, len + 1);
	free(big);
	expect_no_hidden(f, "");
}

static void
test_get_of_oversized_file_is_refused(void **state)
{
	fixture *f = *state;
	char full[256];
	sp_errmsg e = { "" };
	uint8_t *data = NULL;
	size_t len = 0;
	int fd;

	snprintf(full, sizeof(full), "%s/huge", f->path);
	fd = open(full, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SP_STORE_MAX + 1), 0);
	close(fd);
	assert_int_equal(sp_store_get(f->s, "huge", &data, &len, &e), SP_ECORRUPT);
	assert_null(data);
	assert_non_null(strstr(e.msg, full));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_then_get_exact_bytes_with_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_empty_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_replaces_without_leftover_temp_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_0600_and_folders_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_makes_directory_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_without_create_missing_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_dir_0755_is_eperm_naming_path_and_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_of_file_0644_is_eperm_naming_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_in_open_folder_is_eperm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_missing_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_put_del_invalid_name_is_einval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_sorted_and_only_valid_names_in_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_top_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_missing_folder_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_stops_on_callback_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_invalid_folder_is_einval, setup, teardown),
		cmocka_unit_test(test_name_rules),
		cmocka_unit_test_setup_teardown(test_lock_removes_orphaned_temp_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_over_max_is_einval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_of_oversized_file_is_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
