/*
 * signpostd/net/tls.c: datagrams over TLS between a server with a
 * certificate of its identity key and a client that pins that key, on
 * loopback in one loop. A wrong pin refuses the connection; datagrams come
 * through whole and in order; a full queue drops instead of growing; an
 * owner may close from inside its callbacks (ASan checks the rest).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "sp_key.h"
#include "sp_platform.h"
#include "tls.h"

struct side {
	sp_loop *loop;
	sp_tls_conn *c;
	int ups, downs, dgrams;
	size_t bytes;
	uint8_t last[2048];
	size_t lastlen;
	char why[160];
	int close_on_dgram;
	int stop_after;       /* dgrams */
};

static struct side S, C;

static void
up(void *arg, sp_tls_conn *c)
{
	struct side *s = arg;

	s->ups++;
	s->c = c;
	if (s == &C)
		sp_loop_stop(s->loop);
}

static void
dgram(void *arg, sp_tls_conn *c, uint8_t *msg, size_t len)
{
	struct side *s = arg;

	s->dgrams++;
	s->bytes += len;
	memcpy(s->last, msg, len < sizeof(s->last) ? len : sizeof(s->last));
	s->lastlen = len;
	if (s->close_on_dgram) {
		sp_tls_close(c);
		s->c = NULL;
		sp_loop_stop(s->loop);
		return;
	}
	if (s->stop_after && s->dgrams >= s->stop_after)
		sp_loop_stop(s->loop);
}

static void
down(void *arg, sp_tls_conn *c, const char *why)
{
	struct side *s = arg;

	(void)c;
	s->downs++;
	s->c = NULL;
	snprintf(s->why, sizeof(s->why), "%s", why);
	sp_loop_stop(s->loop);
}

static const sp_tls_handler H = { up, dgram, down };

static void
timeout(void *arg)
{
	sp_loop_stop(arg);
}

/* Run the loop until someone stops it, or 5 s. */
static void
run(sp_loop *loop)
{
	sp_timer *t;

	assert_int_equal(sp_loop_timer(loop, 5000, timeout, loop, &t), SP_OK);
	assert_int_equal(sp_loop_run(loop), SP_OK);
	sp_timer_cancel(t);
}

static sp_tls_server *
server(sp_loop *loop, sp_key *key, struct sockaddr_in *addr)
{
	sp_tls_server *srv;
	socklen_t l = sizeof(*addr);
	sp_errmsg e;
	int fd;

	/* A free port: bind 0, read it back, close, then listen there. */
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &l), 0);
	close(fd);
	assert_int_equal(sp_tls_server_start(loop, (struct sockaddr *)addr, sizeof(*addr), key,
	    "gateway.alice.example.", 4, &H, &S, &srv, &e), SP_OK);
	return srv;
}

static sp_key *
device_key(uint8_t fill)
{
	uint8_t seed[SP_KEY_SEED_BYTES];
	sp_key *k;

	memset(seed, fill, sizeof(seed));
	assert_int_equal(sp_key_from_seed(SP_ROLE_DEVICE, seed, 1, &k), SP_OK);
	return k;
}

static void
test_pinned(void **state)
{
	sp_loop *loop;
	sp_key *key = device_key(7);
	sp_tls_server *srv;
	struct sockaddr_in addr;
	sp_errmsg e;
	uint8_t msg[1400];
	struct iovec iov[2];

	(void)state;
	memset(&S, 0, sizeof(S));
	memset(&C, 0, sizeof(C));
	assert_int_equal(sp_loop_new(&loop), SP_OK);
	S.loop = C.loop = loop;
	srv = server(loop, key, &addr);
	assert_int_equal(sp_tls_connect(loop, (struct sockaddr *)&addr, sizeof(addr),
	    sp_key_info_of(key)->pub, &H, &C, &C.c, &e), SP_OK);
	run(loop);
	assert_int_equal(C.ups, 1);
	assert_int_equal(C.downs, 0);
	assert_int_equal(sp_tls_server_conns(srv), 1);

	/* 50 datagrams of growing sizes, sent as header + body iovecs. */
	S.stop_after = 50;
	for (int i = 0; i < 50; i++) {
		uint8_t hdr[16];
		memset(hdr, 0x52, sizeof(hdr));
		for (size_t k = 0; k < sizeof(msg); k++)
			msg[k] = (uint8_t)(k + (size_t)i);
		iov[0].iov_base = hdr;
		iov[0].iov_len = sizeof(hdr);
		iov[1].iov_base = msg;
		iov[1].iov_len = (size_t)(i * 28);
		assert_int_equal(sp_tls_sendv(C.c, iov, 2), SP_OK);
	}
	run(loop);
	assert_int_equal(S.dgrams, 50);
	assert_int_equal(S.lastlen, 16 + 49 * 28);
	assert_int_equal(S.last[0], 0x52);
	assert_int_equal(S.last[16 + 5], (uint8_t)(5 + 49));
	/* And back, on the server's connection. */
	C.stop_after = 1;
	iov[0].iov_base = msg;
	iov[0].iov_len = 100;
	assert_non_null(S.c);
	assert_int_equal(sp_tls_sendv(S.c, iov, 1), SP_OK);
	run(loop);
	assert_int_equal(C.dgrams, 1);
	assert_int_equal(C.lastlen, 100);

	/* A queue that nobody drains is bounded: drops, no growth. */
	{
		static uint8_t big[60000];
		int dropped = 0;
		iov[0].iov_base = big;
		iov[0].iov_len = sizeof(big);
		for (int i = 0; i < 20; i++)
			dropped += sp_tls_sendv(C.c, iov, 1) == SP_ESPACE;
		assert_true(dropped > 0);
		assert_int_equal(sp_tls_stats_of(C.c)->dropped_out, (uint64_t)dropped);
	}
	/* The server closes from inside its datagram callback. */
	S.close_on_dgram = 1;
	S.stop_after = 0;
	run(loop);
	assert_null(S.c);
	sp_tls_close(C.c);
	sp_tls_server_stop(srv);
	sp_key_free(key);
	sp_loop_free(loop);
}

static void
test_wrong_pin(void **state)
{
	sp_loop *loop;
	sp_key *key = device_key(7), *other = device_key(8);
	sp_tls_server *srv;
	struct sockaddr_in addr;
	sp_errmsg e;

	(void)state;
	memset(&S, 0, sizeof(S));
	memset(&C, 0, sizeof(C));
	assert_int_equal(sp_loop_new(&loop), SP_OK);
	S.loop = C.loop = loop;
	srv = server(loop, key, &addr);
	assert_int_equal(sp_tls_connect(loop, (struct sockaddr *)&addr, sizeof(addr),
	    sp_key_info_of(other)->pub, &H, &C, &C.c, &e), SP_OK);
	run(loop);
	assert_int_equal(C.ups, 0);
	assert_int_equal(C.downs, 1);
	assert_non_null(strstr(C.why, "not the gateway's key"));
	sp_tls_server_stop(srv);
	sp_key_free(key);
	sp_key_free(other);
	sp_loop_free(loop);
}

static void
test_refused(void **state)
{
	sp_loop *loop;
	sp_key *key = device_key(7);
	struct sockaddr_in addr;
	sp_errmsg e;

	(void)state;
	memset(&C, 0, sizeof(C));
	assert_int_equal(sp_loop_new(&loop), SP_OK);
	C.loop = loop;
	/* Nobody listens on port 1. */
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(1);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sp_tls_connect(loop, (struct sockaddr *)&addr, sizeof(addr),
	    sp_key_info_of(key)->pub, &H, &C, &C.c, &e), SP_OK);
	run(loop);
	assert_int_equal(C.ups, 0);
	assert_int_equal(C.downs, 1);
	sp_key_free(key);
	sp_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
