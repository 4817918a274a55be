/*
 * signpostd/net/stream.c: the framed stream's owners free it from inside
 * its own callbacks (a malformed message, a peer that does not read, the
 * end); the stream must not touch itself afterwards. Under test-asan a
 * use after free fails these tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sp_platform.h"
#include "stream.h"

struct ctx {
	sp_loop *loop;
	sp_stream *s;
	int msgs, ends, ups;
	int free_in_msg, close_in_msg;
	char why[80];
};

static void
on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct ctx *c = arg;

	(void)msg;
	(void)len;
	c->msgs++;
	if (c->free_in_msg) {
		sp_stream_free(c->s);   /* what members.c does on a bad message */
		c->s = NULL;
		sp_loop_stop(c->loop);
	} else if (c->close_in_msg) {
		sp_stream_close(c->s, "closed by its owner");
	}
}

static void
on_end(void *arg, const char *why)
{
	struct ctx *c = arg;

	c->ends++;
	snprintf(c->why, sizeof(c->why), "%s", why);
	sp_stream_free(c->s);      /* the owner frees in its end callback */
	c->s = NULL;
	sp_loop_stop(c->loop);
}

static void
stop(void *arg)
{
	sp_loop_stop(arg);
}

/* Two whole messages in one read, the first of which frees the stream. */
static void
run(struct ctx *c, const uint8_t *bytes, size_t n, int close_peer)
{
	int sv[2];
	sp_timer *t;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(sp_loop_new(&c->loop), SP_OK);
	assert_int_equal(sp_stream_new(c->loop, sv[0], 0, 64, 256, 5000, on_msg, NULL, on_end, c,
	    &c->s), SP_OK);
	assert_int_equal(write(sv[1], bytes, n), (ssize_t)n);
	if (close_peer)
		close(sv[1]);
	assert_int_equal(sp_loop_timer(c->loop, 2000, stop, c->loop, &t), SP_OK);
	assert_int_equal(sp_loop_run(c->loop), SP_OK);
	sp_stream_free(c->s);
	sp_loop_free(c->loop);
	if (!close_peer)
		close(sv[1]);
}

static const uint8_t two[] = { 0, 3, 'o', 'n', 'e', 0, 3, 't', 'w', 'o' };

static void
test_free_inside_msg(void **state)
{
	struct ctx c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.free_in_msg = 1;
	run(&c, two, sizeof(two), 0);
	assert_int_equal(c.msgs, 1);       /* the second is never delivered */
	assert_int_equal(c.ends, 0);
}

static void
test_close_inside_msg_ends_once(void **state)
{
	struct ctx c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.close_in_msg = 1;
	run(&c, two, sizeof(two), 0);
	assert_int_equal(c.msgs, 1);
	assert_int_equal(c.ends, 1);
	assert_string_equal(c.why, "closed by its owner");
}

static void
test_over_limit_and_eof_end_it(void **state)
{
	static const uint8_t big[] = { 0x01, 0x00 };   /* 256 > 64 */
	struct ctx c;

	(void)state;
	memset(&c, 0, sizeof(c));
	run(&c, big, sizeof(big), 0);
	assert_int_equal(c.msgs, 0);
	assert_int_equal(c.ends, 1);
	assert_string_equal(c.why, "a message over the limit");
	memset(&c, 0, sizeof(c));
	run(&c, two, sizeof(two), 1);
	assert_int_equal(c.msgs, 2);
	assert_int_equal(c.ends, 1);
	assert_string_equal(c.why, "closed by the other side");
}

static void
test_send_bounded(void **state)
{
	uint8_t msg[100];
	sp_loop *loop;
	sp_stream *s;
	struct ctx c;
	int sv[2];

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(msg, 0, sizeof(msg));
	msg[1] = 98;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(sp_loop_new(&loop), SP_OK);
	assert_int_equal(sp_stream_new(loop, sv[0], 0, 64, 256, 5000, on_msg, NULL, on_end, &c,
	    &s), SP_OK);
	/* Nothing is sent until the loop runs: the queue fills at 256. */
	assert_int_equal(sp_stream_send(s, msg, sizeof(msg)), SP_OK);
	assert_int_equal(sp_stream_send(s, msg, sizeof(msg)), SP_OK);
	assert_int_equal(sp_stream_send(s, msg, sizeof(msg)), SP_ESPACE);
	sp_stream_free(s);
	sp_loop_free(loop);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_inside_msg),
		cmocka_unit_test(test_close_inside_msg_ends_once),
		cmocka_unit_test(test_over_limit_and_eof_end_it),
		cmocka_unit_test(test_send_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
