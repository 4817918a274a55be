/*
 * signpostd/control.c and control_server.c: the control protocol's parser
 * and builder, and a real exchange between sp_ctl_call and the server on
 * an event loop.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "control_server.h"

static void
test_request_parse(void **state)
{
	sp_ctl_request req;
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_ctl_request_parse("status", 6, &req, NULL), SP_OK);
	assert_int_equal(req.nwords, 1);
	assert_string_equal(req.word[0], "status");
	assert_int_equal(sp_ctl_request_parse("device add phone KEY=", 21, &req, NULL), SP_OK);
	assert_int_equal(req.nwords, 4);
	assert_string_equal(req.word[3], "KEY=");

	assert_int_equal(sp_ctl_request_parse("", 0, &req, &e), SP_EPROTO);
	assert_int_equal(sp_ctl_request_parse("a  b", 4, &req, &e), SP_EPROTO);
	assert_non_null(strstr(e.msg, "one space"));
	assert_int_equal(sp_ctl_request_parse("a ", 2, &req, &e), SP_EPROTO);
	assert_int_equal(sp_ctl_request_parse(" a", 2, &req, &e), SP_EPROTO);
	assert_int_equal(sp_ctl_request_parse("a\tb", 3, &req, &e), SP_EPROTO);
	assert_non_null(strstr(e.msg, "0x09"));
	assert_int_equal(sp_ctl_request_parse("a\x80", 2, &req, &e), SP_EPROTO);
	assert_int_equal(sp_ctl_request_parse("a b c d e f g h i j k l m n o p q", 33, &req, &e),
	    SP_EPROTO);
	char big[SP_CTL_REQUEST_MAX + 1];
	memset(big, 'a', sizeof(big));
	assert_int_equal(sp_ctl_request_parse(big, sizeof(big), &req, &e), SP_EPROTO);
}

struct seen {
	char text[1024];
};

static int
record(void *arg, const char *name, const char *value)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s=%s;", name, value);
	return SP_OK;
}

static void
test_reply_round_trip(void **state)
{
	sp_ctl_reply r;
	struct seen s = { "" };
	sp_errmsg e;

	(void)state;
	sp_ctl_reply_init(&r);
	sp_ctl_reply_ok(&r);
	sp_ctl_reply_field(&r, "role", "%s", "gateway");
	sp_ctl_reply_field(&r, "keys[]", "role=%s tag=%u", "ksk", 3613u);
	sp_ctl_reply_field(&r, "evil", "%s", "line\nbreak\ttab\x01");
	sp_ctl_reply_end(&r);
	assert_int_equal(r.err, SP_OK);
	assert_string_equal(r.buf, "ok\nrole\tgateway\nkeys[]\trole=ksk tag=3613\n"
	    "evil\tline?break\ttab?\n\n");
	assert_int_equal(sp_ctl_reply_parse(r.buf, r.len, record, &s, &e), SP_OK);
	assert_string_equal(s.text, "role=gateway;keys[]=role=ksk tag=3613;evil=line?break\ttab?;");
	sp_ctl_reply_free(&r);
}

static void
test_error_reply(void **state)
{
	sp_ctl_reply r;
	struct seen s = { "" };
	sp_errmsg e;

	(void)state;
	sp_ctl_reply_init(&r);
	sp_ctl_reply_ok(&r);
	sp_ctl_reply_field(&r, "partial", "x");
	sp_ctl_reply_error(&r, SP_ENOENT, "no device '%s'", "phone");
	sp_ctl_reply_end(&r);
	assert_string_equal(r.buf, "error not-found no device 'phone'\n\n");
	assert_int_equal(sp_ctl_reply_parse(r.buf, r.len, record, &s, &e), SP_ENOENT);
	assert_string_equal(e.msg, "no device 'phone'");
	assert_string_equal(s.text, "");
	sp_ctl_reply_free(&r);
}

static void
test_malformed_replies(void **state)
{
	static const char *const bad[] = {
		"", "ok", "ok\n", "ok\nrole\tx\n", "ok\nnotab\n\n", "ok\n\tvalue\n\n",
		"hello\n\n", "ok\nrole\tx", "ok\nRole\tx\n\n", "ok\nrole\tx\x01y\n\n",
	};
	struct seen s;
	sp_errmsg e;

	(void)state;
	/* Found by fuzz_control: a NUL inside a field. */
	static const char nul[] = "ok\nrole\tgate\0way\n\n";
	memset(&s, 0, sizeof(s));
	assert_int_equal(sp_ctl_reply_parse(nul, sizeof(nul) - 1, record, &s, &e), SP_EPROTO);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		if (sp_ctl_reply_parse(bad[i], strlen(bad[i]), record, &s, &e) != SP_EPROTO)
			fail_msg("reply %zu '%s' was not refused", i, bad[i]);
	}
}

/* ---- a real exchange over the socket -------------------------------- */

static void
handler(void *arg, const sp_ctl_request *req, sp_ctl_reply *r)
{
	int *calls = arg;

	(*calls)++;
	if (strcmp(req->word[0], "echo") == 0 && req->nwords == 2) {
		sp_ctl_reply_ok(r);
		sp_ctl_reply_field(r, "said", "%s", req->word[1]);
	} else {
		sp_ctl_reply_error(r, SP_EUNSUPP, "unknown request '%s'", req->word[0]);
	}
}

struct child {
	sp_loop *loop;
	char out[512];
	size_t len;
};

static void
on_child_output(void *arg, int fd, unsigned events)
{
	struct child *c = arg;
	ssize_t n;

	(void)events;
	n = read(fd, c->out + c->len, sizeof(c->out) - 1 - c->len);
	if (n <= 0)
		sp_loop_stop(c->loop);
	else
		c->len += (size_t)n;
}

/* The client runs in a child process (sp_ctl_call blocks) and reports what
 * it got through a pipe; the server runs on the loop in this process. */
static void
test_server_and_client(void **state)
{
	char dir[] = "/tmp/sp-ctl-XXXXXX", path[128];
	struct child c;
	sp_ctl_server *srv;
	int calls = 0, pfd[2], status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	memset(&c, 0, sizeof(c));
	assert_int_equal(sp_loop_new(&c.loop), SP_OK);
	assert_int_equal(sp_ctl_server_start(c.loop, path, handler, &calls, &srv, NULL), SP_OK);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *reply;
		size_t len;
		sp_errmsg e;
		FILE *f = fdopen(pfd[1], "w");

		close(pfd[0]);
		if (sp_ctl_call(path, "echo hello", &reply, &len, 5000, &e) == SP_OK)
			fprintf(f, "[%s]", reply);
		if (sp_ctl_call(path, "dance", &reply, &len, 5000, &e) == SP_OK)
			fprintf(f, "[%s]", reply);
		if (sp_ctl_call(path, "two  spaces", &reply, &len, 5000, &e) == SP_OK)
			fprintf(f, "[%s]", reply);
		fclose(f);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(sp_loop_watch(c.loop, pfd[0], SP_IO_READ, on_child_output, &c, NULL), SP_OK);
	assert_int_equal(sp_loop_run(c.loop), SP_OK);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	c.out[c.len] = '\0';
	assert_string_equal(c.out, "[ok\nsaid\thello\n\n]"
	    "[error unsupported unknown request 'dance'\n\n]"
	    "[error protocol words are separated by one space\n\n]");
	/* The malformed request never reached the handler. */
	assert_int_equal(calls, 2);
	sp_ctl_server_stop(srv);
	assert_int_not_equal(access(path, F_OK), 0);
	sp_loop_free(c.loop);
	close(pfd[0]);
	rmdir(dir);
}

static void
test_call_without_daemon(void **state)
{
	char *reply;
	size_t len;
	sp_errmsg e;

	(void)state;
	assert_int_equal(sp_ctl_call("/tmp/sp-nonexistent/control.sock", "status", &reply,
	    &len, 1000, &e), SP_ENOTRUNNING);
	assert_non_null(strstr(e.msg, "not running"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_server_and_client),
		cmocka_unit_test(test_call_without_daemon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
