/* tunnels/uapi.c: set requests as wg sends them, and every bad line. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "sp_platform.h"
#include "sp_uapi.h"

/* Each callback appends what it was told to a log. */
struct log {
	char text[2048];
	int fail_at;     /* make the Nth callback fail with SP_ESPACE; 0 = never */
	int calls;
};

static int
note(struct log *l, const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(l->text);

	va_start(ap, fmt);
	vsnprintf(l->text + len, sizeof(l->text) - len, fmt, ap);
	va_end(ap);
	return ++l->calls == l->fail_at ? SP_ESPACE : SP_OK;
}

static int cb_private(void *a, const uint8_t k[32]) { return note(a, "priv:%02x%02x;", k[0], k[31]); }
static int cb_port(void *a, uint16_t p) { return note(a, "port:%u;", p); }
static int cb_fwmark(void *a, uint32_t m) { return note(a, "fwmark:%u;", m); }
static int cb_replace_peers(void *a) { return note(a, "replace_peers;"); }
static int cb_peer(void *a, const uint8_t k[32], int u) { return note(a, "peer:%02x:%d;", k[0], u); }
static int cb_remove(void *a) { return note(a, "remove;"); }
static int cb_psk(void *a, const uint8_t k[32]) { return note(a, "psk:%02x;", k[0]); }
static int cb_keepalive(void *a, uint16_t s) { return note(a, "keepalive:%u;", s); }
static int cb_replace_ips(void *a) { return note(a, "replace_ips;"); }

static int
cb_endpoint(void *a, const struct sockaddr *sa, socklen_t len)
{
	char buf[80];

	(void)len;
	sp_uapi_endpoint(sa, buf, sizeof(buf));
	return note(a, "endpoint:%s;", buf);
}

static int
cb_allowed(void *a, int family, const uint8_t *addr, unsigned cidr)
{
	return note(a, "allowed:%d:%u.%u/%u;", family, addr[0], addr[1], cidr);
}

static const struct sp_uapi_ops ops = {
	cb_private, cb_port, cb_fwmark, cb_replace_peers, cb_peer, cb_remove, cb_psk,
	cb_endpoint, cb_keepalive, cb_replace_ips, cb_allowed,
};

#define K1 "0102030405060708091011121314151617181920212223242526272829303132"
#define K2 "a1a2a3a4a5a6a7a8a9b0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9d0d1d2"

static int
run(const char *body, struct log *l)
{
	memset(l->text, 0, sizeof(l->text));
	l->calls = 0;
	return sp_uapi_set(body, strlen(body), &ops, l);
}

static void
test_what_wg_set_sends(void **state)
{
	struct log l = { "", 0, 0 };

	(void)state;
	assert_int_equal(run("private_key=" K1 "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
	    "public_key=" K2 "\nupdate_only=true\npreshared_key=" K1 "\nendpoint=192.0.2.1:51820\n"
	    "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
	    "allowed_ip=10.99.0.0/24\nallowed_ip=fd99::1/128\nprotocol_version=1\n"
	    "public_key=" K1 "\nremove=true\n\n", &l), 0);
	assert_string_equal(l.text, "priv:0132;port:51820;fwmark:0;replace_peers;peer:a1:1;psk:01;"
	    "endpoint:192.0.2.1:51820;keepalive:25;replace_ips;allowed:4:10.99/24;"
	    "allowed:6:253.153/128;peer:01:0;remove;");
}

static void
test_ipv6_endpoint_and_bare_address(void **state)
{
	struct log l = { "", 0, 0 };

	(void)state;
	assert_int_equal(run("public_key=" K2 "\nendpoint=[2001:db8::1]:51820\nallowed_ip=10.1.2.3\n",
	    &l), 0);
	assert_string_equal(l.text, "peer:a1:0;endpoint:[2001:db8::1]:51820;allowed:4:10.1/32;");
}

static void
test_bad_lines(void **state)
{
	static const struct { const char *body; int err; } bad[] = {
		{ "private_key=abc\n", SP_EINVAL },
		{ "private_key=" K1 "00\n", SP_EINVAL },
		{ "private_key=zz02030405060708091011121314151617181920212223242526272829303132\n", SP_EINVAL },
		{ "listen_port=65536\n", SP_EINVAL },
		{ "listen_port=-1\n", SP_EINVAL },
		{ "listen_port=\n", SP_EINVAL },
		{ "replace_peers=yes\n", SP_EINVAL },
		{ "no equals sign\n", SP_EINVAL },
		{ "colour=blue\n", SP_EPROTO },
		{ "endpoint=192.0.2.1:1\n", SP_EPROTO },            /* outside a peer */
		{ "allowed_ip=10.0.0.0/8\n", SP_EPROTO },
		{ "public_key=" K2 "\nlisten_port=1\n", SP_EPROTO }, /* device key in a peer */
		{ "public_key=" K2 "\nendpoint=192.0.2.1\n", SP_EINVAL },
		{ "public_key=" K2 "\nallowed_ip=10.0.0.0/33\n", SP_EINVAL },
		{ "public_key=" K2 "\nallowed_ip=fd00::/129\n", SP_EINVAL },
		{ "public_key=" K2 "\nallowed_ip=banana/8\n", SP_EINVAL },
		{ "public_key=" K2 "\nprotocol_version=2\n", SP_EINVAL },
		{ "public_key=" K2 "\npersistent_keepalive_interval=70000\n", SP_EINVAL },
		{ "public_key=" K2 "\nremove=false\n", SP_EINVAL },
	};
	struct log l = { "", 0, 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = run(bad[i].body, &l);
		if (rc != bad[i].err)
			fail_msg("'%s' gave %d, wanted %d", bad[i].body, rc, bad[i].err);
	}
}

static void
test_a_failing_callback_stops_the_request(void **state)
{
	struct log l = { "", 2, 0 };

	(void)state;
	assert_int_equal(run("listen_port=1\nfwmark=2\nreplace_peers=true\n", &l), SP_ESPACE);
	assert_string_equal(l.text, "port:1;fwmark:2;");
}

static void
test_stops_at_the_empty_line(void **state)
{
	struct log l = { "", 0, 0 };

	(void)state;
	assert_int_equal(run("listen_port=7\n\nlisten_port=8\n", &l), 0);
	assert_string_equal(l.text, "port:7;");
}

static void
test_hex(void **state)
{
	uint8_t k[32];
	char out[65];

	(void)state;
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(i * 8);
	sp_uapi_hex(k, out);
	assert_string_equal(out, "0008101820283038404850586068707880889098a0a8b0b8c0c8d0d8e0e8f0f8");
}

/* The protocol's errno values, from the one convention. */
static void
test_errno_of_codes(void **state)
{
	(void)state;
	assert_int_equal(sp_uapi_errno(SP_OK), 0);
	assert_int_equal(sp_uapi_errno(SP_EINVAL), EINVAL);
	assert_int_equal(sp_uapi_errno(SP_EPROTO), EPROTO);
	assert_int_equal(sp_uapi_errno(SP_ENOMEM), ENOMEM);
	assert_int_equal(sp_uapi_errno(SP_ECORRUPT), EIO);
}

/* Keys are decoded in constant time, and still exactly: every hex digit
 * in either case, and nothing else. */
static void
test_key_digits(void **state)
{
	char body[128];
	struct log l = { "", 0, 0 };
	static const char ok[] = "0123456789abcdefABCDEF";

	(void)state;
	for (size_t d = 0; d < sizeof(ok) - 1; d++) {
		memset(body, 0, sizeof(body));
		snprintf(body, sizeof(body), "private_key=%c%s\n", ok[d], K1 + 1);
		assert_int_equal(run(body, &l), SP_OK);
	}
	for (int c = 1; c < 256; c++) {
		if (strchr(ok, c) != NULL || c == '\n')
			continue;
		snprintf(body, sizeof(body), "private_key=" K1 "\n");
		body[12 + 17] = (char)c;
		assert_int_equal(run(body, &l), SP_EINVAL);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_of_codes),
		cmocka_unit_test(test_key_digits),
		cmocka_unit_test(test_what_wg_set_sends),
		cmocka_unit_test(test_ipv6_endpoint_and_bare_address),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_a_failing_callback_stops_the_request),
		cmocka_unit_test(test_stops_at_the_empty_line),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
