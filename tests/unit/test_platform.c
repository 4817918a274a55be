/*
 * common/platform_linux.c: address parsing and formatting, UDP/TCP/Unix
 * sockets on loopback and in a temporary directory, the monotonic clock
 * and randomness. TUN needs root: it is in test_platform_root.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp_platform.h"

/* ---- Addresses -------------------------------------------------------- */

static void
expect_round_trip(const char *text, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char buf[64];

	if (sp_addr_parse(text, &ss, &len) != SP_OK)
		fail_msg("'%s' was refused", text);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		assert_int_equal(len, sizeof(struct sockaddr_in));
		assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), port);
	} else {
		assert_int_equal(len, sizeof(struct sockaddr_in6));
		assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), port);
	}
	assert_ptr_equal(sp_addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), buf);
	assert_string_equal(buf, text);
}

static void
test_addr_parse_and_format_round_trip(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t want6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	expect_round_trip("127.0.0.1:53", AF_INET, 53);
	expect_round_trip("[::1]:5353", AF_INET6, 5353);
	expect_round_trip("[2001:db8::1]:0", AF_INET6, 0);
	expect_round_trip("192.0.2.255:65535", AF_INET, 65535);

	assert_int_equal(sp_addr_parse("127.0.0.1:53", &ss, &len), SP_OK);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x7f000001u);
	want6[15] = 1;
	assert_int_equal(sp_addr_parse("[2001:db8::1]:0", &ss, &len), SP_OK);
	assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr, want6, 16);
}

static void
test_addr_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1", "::1:53", "[::1]53", "1.2.3.4:65536", "1.2.3.4:-1",
		"1.2.3.4:", "host:53", "[::1]:5x", "", ":53", "[::1]", "[::1:53",
		"[1.2.3.4]:53", "1.2.3:53", "1.2.3.4: 53", "1.2.3.4:+53",
		"1.2.3.4:99999999999999999999", "[]:53", "[::1]:",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sp_addr_parse(bad[i], &ss, &len) != SP_EINVAL)
			fail_msg("'%s' was not refused with SP_EINVAL", bad[i]);
}

static void
test_addr_format_unknown_family(void **state)
{
	struct sockaddr sa;
	char buf[64];

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	sp_addr_format(&sa, buf, sizeof(buf));
	assert_non_null(strstr(buf, "family"));
}

/* ---- UDP and TCP ------------------------------------------------------ */

static uint16_t
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(sin.sin_family, AF_INET);
	assert_int_equal(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
	return ntohs(sin.sin_port);
}

static void
loopback(struct sockaddr_storage *ss, socklen_t *len, uint16_t port)
{
	char text[32];

	snprintf(text, sizeof(text), "127.0.0.1:%u", port);
	assert_int_equal(sp_addr_parse(text, ss, len), SP_OK);
}

static void
expect_nonblock_cloexec(int fd)
{
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* Waits for fd to become readable; a generous bound only against hangs. */
static void
wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	assert_int_equal(poll(&p, 1, 10000), 1);
}

static void
test_udp_bind_port_zero_and_receive(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	sp_errmsg e = { "" };
	char buf[16];
	uint16_t port;
	int fd = -1, tx;
	ssize_t n;

	(void)state;
	loopback(&ss, &len, 0);
	if (sp_udp_bind((struct sockaddr *)&ss, len, &fd, &e) != SP_OK)
		fail_msg("udp bind: %s", e.msg);
	expect_nonblock_cloexec(fd);
	port = local_port(fd);
	assert_int_not_equal(port, 0);

	loopback(&ss, &len, port);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(tx >= 0);
	assert_int_equal(sendto(tx, "ping", 4, 0, (struct sockaddr *)&ss, len), 4);
	wait_readable(fd);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "ping", 4);
	close(tx);
	close(fd);
}

static void
test_udp_bind_twice_fails_naming_address(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	sp_errmsg e = { "" };
	char where[32];
	uint16_t port;
	int fd = -1, fd2 = -1, rc;

	(void)state;
	loopback(&ss, &len, 0);
	assert_int_equal(sp_udp_bind((struct sockaddr *)&ss, len, &fd, &e), SP_OK);
	port = local_port(fd);
	loopback(&ss, &len, port);
	rc = sp_udp_bind((struct sockaddr *)&ss, len, &fd2, &e);
	if (rc == SP_OK)
		close(fd2);
	close(fd);
	assert_int_not_equal(rc, SP_OK);
	assert_int_equal(fd2, -1);
	snprintf(where, sizeof(where), "127.0.0.1:%u", port);
	assert_non_null(strstr(e.msg, where));
}

static void
test_tcp_listen_port_zero_and_accept(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	sp_errmsg e = { "" };
	uint16_t port;
	int fd = -1, fd2 = -1, c, a;
	char buf[4];

	(void)state;
	loopback(&ss, &len, 0);
	if (sp_tcp_listen((struct sockaddr *)&ss, len, &fd, &e) != SP_OK)
		fail_msg("tcp listen: %s", e.msg);
	expect_nonblock_cloexec(fd);
	port = local_port(fd);
	assert_int_not_equal(port, 0);

	loopback(&ss, &len, port);
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	wait_readable(fd);
	a = accept(fd, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(c, "abc", 3), 3);
	assert_int_equal(read(a, buf, 3), 3);
	assert_memory_equal(buf, "abc", 3);

	/* A second listener on the same port is refused. */
	assert_int_not_equal(sp_tcp_listen((struct sockaddr *)&ss, len, &fd2, &e), SP_OK);
	assert_int_equal(fd2, -1);
	close(a);
	close(c);
	close(fd);
}

/* ---- Unix sockets ----------------------------------------------------- */

typedef struct unix_fixture {
	char dir[64];
	char path[128];
} unix_fixture;

static int
unix_setup(void **state)
{
	static unix_fixture f;

	strcpy(f.dir, "/tmp/sp-test-platform-XXXXXX");
	if (mkdtemp(f.dir) == NULL)
		return -1;
	snprintf(f.path, sizeof(f.path), "%s/control.sock", f.dir);
	*state = &f;
	return 0;
}

static int
unix_teardown(void **state)
{
	unix_fixture *f = *state;

	unlink(f->path);
	return rmdir(f->dir);
}

static void
test_unix_listen_mode_0600(void **state)
{
	unix_fixture *f = *state;
	sp_errmsg e = { "" };
	struct stat st;
	mode_t old = umask(0);
	int fd = -1, rc;

	/* With an empty umask the socket must still come out private. */
	rc = sp_unix_listen(f->path, 0600, &fd, &e);
	umask(old);
	if (rc != SP_OK)
		fail_msg("unix listen: %s", e.msg);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	expect_nonblock_cloexec(fd);
	close(fd);
}

static void
test_unix_listen_wider_mode_on_request(void **state)
{
	unix_fixture *f = *state;
	sp_errmsg e = { "" };
	struct stat st;
	int fd = -1;

	assert_int_equal(sp_unix_listen(f->path, 0660, &fd, &e), SP_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	close(fd);
}

static void
test_unix_listen_live_is_eexist_stale_is_replaced(void **state)
{
	unix_fixture *f = *state;
	sp_errmsg e = { "" };
	struct stat st;
	int fd = -1, fd2 = -1, c = -1;

	assert_int_equal(sp_unix_listen(f->path, 0600, &fd, &e), SP_OK);
	assert_int_equal(sp_unix_listen(f->path, 0600, &fd2, &e), SP_EEXIST);
	assert_int_equal(fd2, -1);
	assert_non_null(strstr(e.msg, f->path));
	/* The live socket was left alone. */
	assert_int_equal(sp_unix_connect(f->path, &c, &e), SP_OK);
	close(c);

	/* Closed without unlink: the file stays, nobody listens. */
	close(fd);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	if (sp_unix_listen(f->path, 0600, &fd2, &e) != SP_OK)
		fail_msg("listen over a stale socket: %s", e.msg);
	c = -1;
	assert_int_equal(sp_unix_connect(f->path, &c, &e), SP_OK);
	assert_true(c >= 0);
	close(c);
	close(fd2);
}

static void
test_unix_connect_nothing_is_enotrunning(void **state)
{
	unix_fixture *f = *state;
	sp_errmsg e = { "" };
	int fd = -1, l = -1;

	assert_int_equal(sp_unix_connect(f->path, &fd, &e), SP_ENOTRUNNING);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, f->path));

	/* A stale socket file is "not running" too. */
	assert_int_equal(sp_unix_listen(f->path, 0600, &l, &e), SP_OK);
	close(l);
	assert_int_equal(sp_unix_connect(f->path, &fd, &e), SP_ENOTRUNNING);
	assert_int_equal(fd, -1);
}

static void
test_unix_path_too_long_is_einval(void **state)
{
	char path[200];
	sp_errmsg e = { "" };
	int fd = -1;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(sp_unix_listen(path, 0600, &fd, &e), SP_EINVAL);
	assert_int_equal(sp_unix_connect(path, &fd, &e), SP_EINVAL);
	assert_int_equal(fd, -1);
}

/* ---- Clock and randomness -------------------------------------------- */

static void
test_clock_mono_non_decreasing(void **state)
{
	uint64_t prev = sp_clock_mono_ms(), now;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		now = sp_clock_mono_ms();
		assert_true(now >= prev);
		prev = now;
	}
	/* Seconds since the epoch: after 2020-01-01. */
	assert_true(sp_clock_wall() > 1577836800);
}

static void
test_random_fills_and_differs(void **state)
{
	uint8_t a[32], b[32], zero[32];

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(zero, 0, sizeof(zero));
	sp_random(a, sizeof(a));
	sp_random(b, sizeof(b));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(b, zero, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_and_format_round_trip),
		cmocka_unit_test(test_addr_parse_rejects_malformed),
		cmocka_unit_test(test_addr_format_unknown_family),
		cmocka_unit_test(test_udp_bind_port_zero_and_receive),
		cmocka_unit_test(test_udp_bind_twice_fails_naming_address),
		cmocka_unit_test(test_tcp_listen_port_zero_and_accept),
		cmocka_unit_test_setup_teardown(test_unix_listen_mode_0600, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(test_unix_listen_wider_mode_on_request, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(test_unix_listen_live_is_eexist_stale_is_replaced, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(test_unix_connect_nothing_is_enotrunning, unix_setup, unix_teardown),
		cmocka_unit_test(test_unix_path_too_long_is_einval),
		cmocka_unit_test(test_clock_mono_non_decreasing),
		cmocka_unit_test(test_random_fills_and_differs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
