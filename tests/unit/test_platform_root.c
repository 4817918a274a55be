/*
 * common/platform_linux.c: TUN, inside a private network namespace. These
 * need root, /dev/net/tun and the right to make namespaces; without them
 * main exits 77 before any test, so ctest shows the tests as skipped
 * (SKIP_RETURN_CODE 77) rather than as passed.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sp_platform.h"

#define SKIP_STATUS 77

/* Exit codes of the TUN child, to say which step failed. */
enum {
	TUN_OK = 0, TUN_NO_NS = 1, TUN_OPEN = 2, TUN_NAME = 3, TUN_SYSFS = 4,
	TUN_NOT_THERE = 5, TUN_FD = 6,
};

static int
tun_child(void)
{
	char ifname[IFNAMSIZ] = "";
	sp_errmsg e = { "" };
	struct stat st;
	int fd = -1;

	/* A new network namespace keeps the host untouched; a new mount
	 * namespace lets us mount a sysfs that shows that network namespace. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
		return TUN_NO_NS;
	if (sp_tun_open("sptest0", 0, &fd, ifname, &e) != SP_OK) {
		fprintf(stderr, "sp_tun_open: %s\n", e.msg);
		return TUN_OPEN;
	}
	if (strcmp(ifname, "sptest0") != 0)
		return TUN_NAME;
	if (fd < 0 || !(fcntl(fd, F_GETFL) & O_NONBLOCK))
		return TUN_FD;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
		return TUN_SYSFS;
	if (stat("/sys/class/net/sptest0", &st) != 0)
		return TUN_NOT_THERE;
	close(fd);
	return TUN_OK;
}

static void
test_tun_open_in_private_netns(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(tun_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	/* main saw that namespaces can be made: TUN_NO_NS is a failure here. */
	assert_int_equal(WEXITSTATUS(status), TUN_OK);
	/* The device lived and died in the child's namespace. */
	assert_int_equal(if_nametoindex("sptest0"), 0);
}

static void
test_tun_name_too_long_is_einval(void **state)
{
	char ifname[IFNAMSIZ];
	sp_errmsg e = { "" };
	int fd = -1, rc;

	(void)state;
	rc = sp_tun_open("a-name-much-too-long", 0, &fd, ifname, &e);
	assert_int_equal(rc, SP_EINVAL);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "a-name-much-too-long"));
}

/* Whether a child may make the namespaces tun_child needs: a container can
 * deny it even to root. */
static int
can_unshare(void)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0 ? 0 : 1);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tun_open_in_private_netns),
		cmocka_unit_test(test_tun_name_too_long_is_einval),
	};
	const char *why = NULL;

	if (geteuid() != 0)
		why = "not root";
	else if (access("/dev/net/tun", R_OK | W_OK) != 0)
		why = "no usable /dev/net/tun";
	else if (!can_unshare())
		why = "cannot create a network namespace";
	if (why != NULL) {
		printf("# skipped: %s\n", why);
		return SKIP_STATUS;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
