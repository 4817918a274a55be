/*
 * keys/keystore.c and keys/cloud.c over a real directory store: creating a
 * cloud, refusing to overwrite one, loading keys, and the errors that must
 * name the file and change nothing.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_cloud.h"
#include "sp_key.h"

static const sp_seal fast_seal = { "pass phrase", 11, 1, 8192 };

struct fixture {
	char dir[64];
	sp_store *store;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/sp-keystore-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (sp_store_open_dir(f->dir, 0, &f->store, NULL) != SP_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	sp_store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
test_create_cloud(void **state)
{
	struct fixture *f = *state;
	sp_key_info *keys;
	sp_cloud c, back;
	size_t n;
	int roles[3] = { 0, 0, 0 };

	assert_int_equal(sp_cloud_create(f->store, "Alice.Example", "laptop", NULL,
	    1763862372, sp_platform_rng(), &c, NULL), SP_OK);
	assert_string_equal(c.zone, "alice.example.");
	assert_string_equal(c.name, "laptop");
	assert_int_equal(c.role, SP_NODE_GATEWAY);
	assert_int_equal(sp_cloud_load(f->store, &back, NULL), SP_OK);
	assert_memory_equal(&c, &back, sizeof(c));
	assert_int_equal(sp_keystore_list(f->store, &keys, &n, NULL), SP_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		char name[64], path[200];
		struct stat st;

		roles[keys[i].role]++;
		assert_int_equal(keys[i].state, SP_KSTATE_ACTIVE);
		assert_int_equal(keys[i].created, 1763862372);
		sp_keystore_name(&keys[i], name);
		snprintf(path, sizeof(path), "%s/keys/%s", f->dir, name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(roles[SP_ROLE_KSK], 1);
	assert_int_equal(roles[SP_ROLE_ZSK], 1);
	assert_int_equal(roles[SP_ROLE_DEVICE], 1);
	free(keys);
}

static void
test_refuses_to_overwrite(void **state)
{
	struct fixture *f = *state;
	sp_key_info *before, *after;
	size_t n1, n2;
	sp_cloud c;
	sp_errmsg e;

	assert_int_equal(sp_cloud_create(f->store, "alice.example", "laptop", NULL, 1, sp_platform_rng(), &c, NULL), SP_OK);
	assert_int_equal(sp_keystore_list(f->store, &before, &n1, NULL), SP_OK);
	assert_int_equal(sp_cloud_create(f->store, "bob.example", "phone", NULL, 2, sp_platform_rng(), &c, &e), SP_EEXIST);
	assert_non_null(strstr(e.msg, "alice.example."));
	assert_non_null(strstr(e.msg, "refusing"));
	assert_int_equal(sp_keystore_list(f->store, &after, &n2, NULL), SP_OK);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1 * sizeof(*before));
	assert_int_equal(sp_cloud_load(f->store, &c, NULL), SP_OK);
	assert_string_equal(c.zone, "alice.example.");
	free(before);
	free(after);
}

static void
test_interrupted_init_is_reported(void **state)
{
	struct fixture *f = *state;
	sp_cloud c;
	sp_errmsg e;
	sp_key *k;

	assert_int_equal(sp_key_generate(SP_ROLE_KSK, 1, sp_platform_rng(), &k), SP_OK);
	assert_int_equal(sp_keystore_add(f->store, k, NULL), SP_OK);
	assert_int_equal(sp_keystore_add(f->store, k, &e), SP_EEXIST);
	sp_key_free(k);
	assert_int_equal(sp_cloud_load(f->store, &c, &e), SP_ENOENT);
	assert_non_null(strstr(e.msg, "signpost init"));
	assert_int_equal(sp_cloud_create(f->store, "alice.example", "laptop", NULL, 1, sp_platform_rng(), &c, &e),
	    SP_EEXIST);
	assert_non_null(strstr(e.msg, "interrupted init"));
}

static void
test_bad_names_create_nothing(void **state)
{
	struct fixture *f = *state;
	sp_key_info *keys;
	size_t n;
	sp_cloud c;
	sp_errmsg e;

	assert_int_equal(sp_cloud_create(f->store, "alice..example", "laptop", NULL, 1, sp_platform_rng(), &c, &e),
	    SP_EINVAL);
	assert_int_equal(sp_cloud_create(f->store, "alice.example", "Laptop", NULL, 1, sp_platform_rng(), &c, &e),
	    SP_EINVAL);
	assert_non_null(strstr(e.msg, "Laptop"));
	assert_int_equal(sp_keystore_list(f->store, &keys, &n, NULL), SP_OK);
	assert_int_equal(n, 0);
	free(keys);
}

static void
test_load_sealed_keys(void **state)
{
	struct fixture *f = *state;
	sp_key **keys;
	size_t n;
	sp_cloud c;
	sp_errmsg e;

	assert_int_equal(sp_cloud_create(f->store, "alice.example", "laptop", &fast_seal, 1, sp_platform_rng(), &c, NULL),
	    SP_OK);
	assert_int_equal(sp_keystore_load_all(f->store, "pass phrase", 11, &keys, &n, &e), SP_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(sp_key_has_secret(keys[i]));
	sp_keystore_free_all(keys, n);

	keys = NULL;
	assert_int_equal(sp_keystore_load_all(f->store, "pass phrasE", 11, &keys, &n, &e),
	    SP_EPASSPHRASE);
	assert_null(keys);
	assert_non_null(strstr(e.msg, f->dir));
	assert_non_null(strstr(e.msg, ".key: wrong passphrase"));
	assert_int_equal(sp_keystore_load_all(f->store, NULL, 0, &keys, &n, &e), SP_ENEEDPASS);
	assert_non_null(strstr(e.msg, "--passphrase-file"));
}

static int
first_key(void *arg, const char *name)
{
	char *out = arg;

	if (out[0] == '\0')
		snprintf(out, 128, "%s", name);
	return SP_OK;
}

static void
test_damaged_files_are_named(void **state)
{
	struct fixture *f = *state;
	char name[128] = "", path[256], renamed[256];
	sp_key **keys = NULL;
	size_t n;
	sp_cloud c;
	sp_errmsg e;
	FILE *fp;

	assert_int_equal(sp_cloud_create(f->store, "alice.example", "laptop", NULL, 1, sp_platform_rng(), &c, NULL), SP_OK);
	assert_int_equal(sp_store_list(f->store, "keys", first_key, name, NULL), SP_OK);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);

	/* Too open. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sp_keystore_load_all(f->store, NULL, 0, &keys, &n, &e), SP_EPERM);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "0644"));
	assert_int_equal(chmod(path, 0600), 0);

	/* Renamed over another key's name. */
	snprintf(renamed, sizeof(renamed), "%s/keys/zsk-0000000000000000.key", f->dir);
	assert_int_equal(rename(path, renamed), 0);
	assert_int_equal(sp_keystore_load_all(f->store, NULL, 0, &keys, &n, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "zsk-0000000000000000.key"));
	assert_int_equal(rename(renamed, path), 0);

	/* Truncated. */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(sp_keystore_load_all(f->store, NULL, 0, &keys, &n, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "truncated"));
	assert_null(keys);

	/* A damaged cloud file names itself and its line. */
	snprintf(path, sizeof(path), "%s/cloud", f->dir);
	fp = fopen(path, "w");
	fputs("zone alice.example\nname laptop\nrole ruler\ncreated 2026-01-01T00:00:00Z\nprefix fd00:1:2::/48\n", fp);
	fclose(fp);
	assert_int_equal(sp_cloud_load(f->store, &c, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "/cloud:3: unknown role 'ruler'"));
	fp = fopen(path, "w");
	fputs("zone alice.example\nname lap", fp);
	fclose(fp);
	assert_int_equal(sp_cloud_load(f->store, &c, &e), SP_ECORRUPT);
	assert_non_null(strstr(e.msg, "truncated"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_cloud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_to_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_init_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names_create_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_sealed_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_files_are_named, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
