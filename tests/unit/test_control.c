/*
 * signpostd/control.c and control_server.c: the control protocol's parser
 * and builder, and a real exchange between sp_ctl_call and the server on
 * an event loop. Then mobile/member.c: the members' control plane's
 * messages (docs/control-plane.md), its ICE signalling and TURN
 * credentials with every refusal the decoder must make.
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
#include "sp_member.h"

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

/* ---- the members' control plane: ICE and TURN ----------------------- */

/* The field types of docs/control-plane.md, as the wire has them. */
enum {
	FT_VERSION = 1, FT_MEMBER = 9, FT_MORE = 12, FT_RELAY_SLOTS = 14,
	FT_PEER = 18, FT_SESSION, FT_ANSWERS, FT_UFRAG, FT_PWD, FT_CANDIDATE, FT_DONE, FT_PATH,
	FT_TURN_SERVER, FT_TURN_USER, FT_TURN_PASSWORD,
};

static const char UFRAG[] = "Xk3q";
static const char PWD[] = "oR6l8kq1hv3fW0Zx9bYpTs";   /* 22 bytes */

/* A message body built by hand, to say what the encoder never writes. */
struct raw {
	uint8_t b[SP_CP_MSG_MAX + 64];
	size_t n;
};

static void
raw_start(struct raw *r, uint8_t type)
{
	r->b[0] = type;
	r->n = 1;
}

static void
raw_field(struct raw *r, uint8_t t, const void *v, size_t l)
{
	assert_true(r->n + 3 + l <= sizeof(r->b));
	r->b[r->n] = t;
	r->b[r->n + 1] = (uint8_t)(l >> 8);
	r->b[r->n + 2] = (uint8_t)l;
	memcpy(r->b + r->n + 3, v, l);
	r->n += 3 + l;
}

static void
raw_u32(struct raw *r, uint8_t t, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	raw_field(r, t, b, 4);
}

static void
raw_text(struct raw *r, uint8_t t, const char *s)
{
	raw_field(r, t, s, strlen(s));
}

/* An ICE message that decodes: peer and session, and what to add. */
static void
raw_ice(struct raw *r)
{
	uint8_t peer[32];

	memset(peer, 0xbb, sizeof(peer));
	raw_start(r, SP_CP_ICE);
	raw_field(r, FT_PEER, peer, sizeof(peer));
	raw_u32(r, FT_SESSION, 7);
}

static void
raw_turn(struct raw *r)
{
	raw_text(r, FT_TURN_SERVER, "192.0.2.1:3478");
	raw_text(r, FT_TURN_USER, "1800086400:k1");
	raw_text(r, FT_TURN_PASSWORD, "c2VjcmV0LXBhc3N3b3JkLWJhc2U2NA==");
}

static int
decode_raw(const struct raw *r, sp_cp_msg *m)
{
	return sp_cp_decode(r->b, r->n, m);
}

/* Encode, check the length prefix, decode, and encode again to the same
 * bytes. */
static void
round_trip(const sp_cp_msg *in, sp_cp_msg *out)
{
	static uint8_t buf[SP_CP_MSG_MAX + 2], again[SP_CP_MSG_MAX + 2];
	size_t n, k;

	assert_int_equal(sp_cp_encode(in, buf, sizeof(buf), &n), SP_OK);
	assert_true(n >= 3);
	assert_int_equal((size_t)buf[0] << 8 | buf[1], n - 2);
	assert_int_equal(sp_cp_decode(buf + 2, n - 2, out), SP_OK);
	assert_int_equal(sp_cp_encode(out, again, sizeof(again), &k), SP_OK);
	assert_int_equal(k, n);
	assert_memory_equal(buf, again, n);
}

static void
test_cp_version(void **state)
{
	(void)state;
	assert_int_equal(SP_CP_VERSION, 2);
	assert_int_equal(SP_CP_ICE, 11);
	assert_int_equal(SP_CP_TYPE_MAX, SP_CP_ICE);
	assert_int_equal(SP_CP_PATH_TURN, 4);
	assert_true(SP_CP_PATH_HOST < SP_CP_PATH_REFLEXIVE && SP_CP_PATH_REFLEXIVE < SP_CP_PATH_UPNP &&
	    SP_CP_PATH_UPNP < SP_CP_PATH_TURN);
}

/* The bytes of a small ICE message, so the layout cannot drift. */
static void
test_cp_ice_golden(void **state)
{
	static sp_cp_msg m;
	uint8_t out[SP_CP_MSG_MAX + 2], want[128];
	size_t n, w = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = SP_CP_ICE;
	memset(m.peer, 0x11, sizeof(m.peer));
	m.session = 0x01020304;
	m.answers = 0xa0b0c0d0;
	strcpy(m.candidates[0], "a");
	m.ncandidates = 1;
	m.done = 1;
	m.path = SP_CP_PATH_HOST;
	assert_int_equal(sp_cp_encode(&m, out, sizeof(out), &n), SP_OK);
	want[w++] = 0;
	want[w++] = 0;   /* the length, below */
	want[w++] = 11;
	want[w++] = 18, want[w++] = 0, want[w++] = 32;
	memset(want + w, 0x11, 32), w += 32;
	memcpy(want + w, "\x13\x00\x04\x01\x02\x03\x04", 7), w += 7;
	memcpy(want + w, "\x14\x00\x04\xa0\xb0\xc0\xd0", 7), w += 7;
	memcpy(want + w, "\x17\x00\x01" "a", 4), w += 4;
	memcpy(want + w, "\x18\x00\x04\x00\x00\x00\x01", 7), w += 7;
	memcpy(want + w, "\x19\x00\x04\x00\x00\x00\x01", 7), w += 7;
	want[1] = (uint8_t)(w - 2);
	assert_int_equal(n, w);
	assert_memory_equal(out, want, w);
}

/* An offer with the most candidates a message holds, each as long as a
 * candidate may be. */
static void
test_cp_ice_offer(void **state)
{
	static sp_cp_msg m, back;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = SP_CP_ICE;
	memset(m.peer, 0xb0, sizeof(m.peer));
	m.session = 0x5eed;
	strcpy(m.ufrag, UFRAG);
	strcpy(m.pwd, PWD);
	for (size_t i = 0; i < SP_CP_MAX_CANDIDATES; i++) {
		int l = snprintf(m.candidates[i], sizeof(m.candidates[i]),
		    "a=candidate:%zu 1 UDP 2013266431 192.168.1.%zu 40000 typ host", i + 1, i + 2);
		/* Pad to 255 bytes with extension attributes. */
		memset(m.candidates[i] + l, 'x', sizeof(m.candidates[i]) - 1 - (size_t)l);
		m.candidates[i][l] = ' ';
		m.candidates[i][sizeof(m.candidates[i]) - 1] = '\0';
	}
	m.ncandidates = SP_CP_MAX_CANDIDATES;
	round_trip(&m, &back);
	assert_int_equal(back.type, SP_CP_ICE);
	assert_memory_equal(back.peer, m.peer, sizeof(m.peer));
	assert_int_equal(back.session, 0x5eed);
	assert_int_equal(back.answers, 0);
	assert_string_equal(back.ufrag, UFRAG);
	assert_string_equal(back.pwd, PWD);
	assert_int_equal(back.ncandidates, SP_CP_MAX_CANDIDATES);
	for (size_t i = 0; i < SP_CP_MAX_CANDIDATES; i++) {
		assert_int_equal(strlen(back.candidates[i]), 255);
		assert_string_equal(back.candidates[i], m.candidates[i]);
	}
	assert_int_equal(back.done, 0);
	assert_int_equal(back.path, SP_CP_PATH_NONE);
	assert_int_equal(back.turn_server[0], '\0');

	/* The longest credentials too. */
	memset(m.ufrag, 'u', 256);
	m.ufrag[256] = '\0';
	memset(m.pwd, 'p', 256);
	m.pwd[256] = '\0';
	m.done = 1;
	round_trip(&m, &back);
	assert_string_equal(back.ufrag, m.ufrag);
	assert_string_equal(back.pwd, m.pwd);
	assert_int_equal(back.done, 1);
}

/* The answer, trickled candidates without credentials, the end of
 * gathering, and a path update. */
static void
test_cp_ice_trickle_and_path(void **state)
{
	static sp_cp_msg m, back;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = SP_CP_ICE;
	memset(m.peer, 0xa0, sizeof(m.peer));
	m.session = 0xb;
	m.answers = 0xa;
	strcpy(m.ufrag, UFRAG);
	strcpy(m.pwd, PWD);
	strcpy(m.candidates[0], "a=candidate:1 1 UDP 2013266431 192.168.1.3 40002 typ host");
	m.ncandidates = 1;
	round_trip(&m, &back);
	assert_int_equal(back.answers, 0xa);
	assert_int_equal(back.ncandidates, 1);

	m.ufrag[0] = m.pwd[0] = '\0';
	strcpy(m.candidates[0], "a=candidate:2 1 UDP 1677724415 198.51.100.7 61000 typ srflx "
	    "raddr 192.168.1.3 rport 40002");
	strcpy(m.candidates[1], "a=candidate:3 1 UDP 16777215 [2001:db8::5] 3478 typ relay");
	m.ncandidates = 2;
	round_trip(&m, &back);
	assert_string_equal(back.ufrag, "");
	assert_string_equal(back.pwd, "");
	assert_int_equal(back.ncandidates, 2);
	assert_string_equal(back.candidates[1], m.candidates[1]);
	assert_int_equal(back.session, 0xb);
	assert_int_equal(back.done, 0);

	m.ncandidates = 0;
	m.done = 1;
	round_trip(&m, &back);
	assert_int_equal(back.ncandidates, 0);
	assert_int_equal(back.done, 1);

	m.path = SP_CP_PATH_TURN;
	round_trip(&m, &back);
	assert_int_equal(back.path, SP_CP_PATH_TURN);
	assert_int_equal(back.done, 1);
	for (uint32_t p = SP_CP_PATH_NONE; p <= SP_CP_PATH_MAX; p++) {
		m.path = p;
		round_trip(&m, &back);
		assert_int_equal(back.path, p);
	}
}

/* Fields a version 1 side never sends are skipped by it; a field newer
 * than this side is skipped here. */
static void
test_cp_ice_unknown_field(void **state)
{
	static sp_cp_msg m;
	struct raw r;

	(void)state;
	raw_ice(&r);
	raw_text(&r, 29, "from a later version");
	raw_text(&r, 255, "");
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	assert_int_equal(m.type, SP_CP_ICE);
	assert_int_equal(m.session, 7);
	/* The fields can come in any order, and the last session counts. */
	raw_start(&r, SP_CP_ICE);
	raw_u32(&r, FT_SESSION, 9);
	raw_u32(&r, FT_PATH, SP_CP_PATH_UPNP);
	raw_field(&r, FT_PEER, "0123456789abcdef0123456789abcdef", 32);
	raw_u32(&r, FT_SESSION, 10);
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	assert_int_equal(m.session, 10);
	assert_int_equal(m.path, SP_CP_PATH_UPNP);
	assert_memory_equal(m.peer, "0123456789abcdef0123456789abcdef", 32);
}

static void
test_cp_turn(void **state)
{
	static sp_cp_msg m, back;
	uint8_t out[SP_CP_MSG_MAX + 2];
	size_t n;

	(void)state;
	/* PONG without credentials is still a bare type. */
	memset(&m, 0, sizeof(m));
	m.type = SP_CP_PONG;
	assert_int_equal(sp_cp_encode(&m, out, sizeof(out), &n), SP_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x00\x01\x08", 3);

	strcpy(m.turn_server, "203.0.113.9:3478");
	strcpy(m.turn_user, "1800086400:k1");
	strcpy(m.turn_password, "ZGVtby1wYXNzd29yZC1obWFj");
	round_trip(&m, &back);
	assert_int_equal(back.type, SP_CP_PONG);
	assert_string_equal(back.turn_server, m.turn_server);
	assert_string_equal(back.turn_user, m.turn_user);
	assert_string_equal(back.turn_password, m.turn_password);

	strcpy(m.turn_server, "[2001:db8::3478]:65535");
	round_trip(&m, &back);
	assert_string_equal(back.turn_server, "[2001:db8::3478]:65535");

	/* MEMBERS' first part: the fullest part there can be still fits, with
	 * the longest credentials. */
	memset(&m, 0, sizeof(m));
	m.type = SP_CP_MEMBERS;
	for (size_t i = 0; i < SP_CP_MAX_MEMBERS; i++) {
		m.members[i].kind = SP_CP_KIND_SIGNPOST;
		memset(m.members[i].key, (int)i, sizeof(m.members[i].key));
		memset(m.members[i].name, 'a' + (int)(i % 26), 63);
		m.members[i].relay = (uint32_t)i + 1;
	}
	m.nmembers = SP_CP_MAX_MEMBERS;
	m.relay_self = 5;
	m.relay_tls_port = 443;
	memset(m.relay_key, 0x42, sizeof(m.relay_key));
	m.more = 1;
	strcpy(m.turn_server, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	memset(m.turn_user, 'U', 127);
	memset(m.turn_password, 'P', 127);
	round_trip(&m, &back);
	assert_int_equal(back.nmembers, SP_CP_MAX_MEMBERS);
	assert_int_equal(back.members[127].relay, 128);
	assert_string_equal(back.turn_server, m.turn_server);
	assert_string_equal(back.turn_user, m.turn_user);
	assert_string_equal(back.turn_password, m.turn_password);
	assert_int_equal(back.more, 1);

	/* A later part carries none. */
	m.turn_server[0] = m.turn_user[0] = m.turn_password[0] = '\0';
	m.nmembers = 2;
	m.more = 0;
	round_trip(&m, &back);
	assert_string_equal(back.turn_server, "");
	assert_string_equal(back.turn_user, "");
	assert_string_equal(back.turn_password, "");
}

/* Every ICE and TURN refusal of the decoder, each from an otherwise good
 * message. */
static void
test_cp_malformed(void **state)
{
	static sp_cp_msg m;
	struct raw r;
	char big[300];
	uint8_t peer[32] = { 0 };

	(void)state;
	/* The good ones, to show each refusal is for its one flaw. */
	raw_ice(&r);
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	raw_start(&r, SP_CP_PONG);
	raw_turn(&r);
	assert_int_equal(decode_raw(&r, &m), SP_OK);

	/* peer or session missing, session 0, a peer of 31 bytes */
	raw_start(&r, SP_CP_ICE);
	raw_u32(&r, FT_SESSION, 7);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_start(&r, SP_CP_ICE);
	raw_field(&r, FT_PEER, peer, 32);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_start(&r, SP_CP_ICE);
	raw_field(&r, FT_PEER, peer, 32);
	raw_u32(&r, FT_SESSION, 0);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_start(&r, SP_CP_ICE);
	raw_field(&r, FT_PEER, peer, 31);
	raw_u32(&r, FT_SESSION, 7);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_field(&r, FT_SESSION, "\0\0\0\1\0", 5);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);

	/* 32 candidates are fine, 33 are not */
	raw_ice(&r);
	for (int i = 0; i < SP_CP_MAX_CANDIDATES; i++)
		raw_text(&r, FT_CANDIDATE, "a=candidate:1 1 UDP 2013266431 192.168.1.2 40000 typ host");
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	assert_int_equal(m.ncandidates, SP_CP_MAX_CANDIDATES);
	raw_text(&r, FT_CANDIDATE, "a=candidate:1 1 UDP 2013266431 192.168.1.2 40000 typ host");
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);

	/* a candidate of 255 bytes is fine, of 256 not, nor empty, nor with a
	 * line break */
	memset(big, 'c', sizeof(big));
	raw_ice(&r);
	raw_field(&r, FT_CANDIDATE, big, 255);
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	raw_ice(&r);
	raw_field(&r, FT_CANDIDATE, big, 256);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_field(&r, FT_CANDIDATE, big, 0);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_text(&r, FT_CANDIDATE, "a=candidate:1 1 UDP 1 192.0.2.1 1 typ host\r\n");
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);

	/* ufrag and pwd: both or neither, and of their lengths */
	raw_ice(&r);
	raw_text(&r, FT_UFRAG, UFRAG);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_text(&r, FT_PWD, PWD);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	assert_int_equal(m.pwd[0], '\0');   /* wiped */
	raw_ice(&r);
	raw_text(&r, FT_UFRAG, UFRAG);
	raw_field(&r, FT_PWD, PWD, 21);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_field(&r, FT_UFRAG, UFRAG, 3);
	raw_text(&r, FT_PWD, PWD);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_field(&r, FT_UFRAG, big, 257);
	raw_text(&r, FT_PWD, PWD);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_text(&r, FT_UFRAG, UFRAG);
	raw_field(&r, FT_PWD, big, 257);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);

	/* path 0-4, done 0-1 */
	raw_ice(&r);
	raw_u32(&r, FT_PATH, SP_CP_PATH_MAX);
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	raw_ice(&r);
	raw_u32(&r, FT_PATH, 5);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_ice(&r);
	raw_u32(&r, FT_DONE, 2);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);

	/* The TURN triple: all or none, in PONG and MEMBERS alike. */
	raw_start(&r, SP_CP_PONG);
	raw_text(&r, FT_TURN_SERVER, "192.0.2.1:3478");
	raw_text(&r, FT_TURN_USER, "1800086400:k1");
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_start(&r, SP_CP_PONG);
	raw_text(&r, FT_TURN_PASSWORD, "secret");
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	assert_int_equal(m.turn_password[0], '\0');   /* wiped */
	raw_start(&r, SP_CP_MEMBERS);
	raw_text(&r, FT_TURN_USER, "1800086400:k1");
	raw_text(&r, FT_TURN_PASSWORD, "secret");
	raw_u32(&r, FT_MORE, 0);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	/* each of its fields of its lengths */
	raw_start(&r, SP_CP_PONG);
	raw_turn(&r);
	raw_field(&r, FT_TURN_USER, big, 128);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	raw_start(&r, SP_CP_PONG);
	raw_turn(&r);
	raw_field(&r, FT_TURN_PASSWORD, big, 0);
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	/* and the server an IP literal and a port */
	static const char *const bad_servers[] = {
		"turn.example.net:3478", "192.0.2.1", "192.0.2.1:", "192.0.2.1:0", "192.0.2.1:03478",
		"192.0.2.1:65536", "192.0.2.1:34x8", "2001:db8::1:3478", "[2001:db8::1]",
		"[192.0.2.1]:3478", "[2001:db8::1:3478", ":3478", "192.0.2.1:+3478", "192.0.2.1: 3478",
		"[fe80::1%eth0]:3478",
	};
	for (size_t i = 0; i < sizeof(bad_servers) / sizeof(bad_servers[0]); i++) {
		raw_start(&r, SP_CP_PONG);
		raw_turn(&r);
		raw_text(&r, FT_TURN_SERVER, bad_servers[i]);
		if (decode_raw(&r, &m) != SP_EPROTO)
			fail_msg("TURN server '%s' was not refused", bad_servers[i]);
	}
	raw_start(&r, SP_CP_PONG);
	raw_turn(&r);
	raw_text(&r, FT_TURN_SERVER, "[::1]:1");
	assert_int_equal(decode_raw(&r, &m), SP_OK);
	assert_string_equal(m.turn_server, "[::1]:1");

	/* types: 11 is the last */
	raw_ice(&r);
	r.b[0] = 12;
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	r.b[0] = 0;
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);
	r.b[0] = 255;
	assert_int_equal(decode_raw(&r, &m), SP_EPROTO);

	/* a field cut short */
	raw_ice(&r);
	raw_text(&r, FT_CANDIDATE, "a=candidate:1 1 UDP 1 192.0.2.1 1 typ host");
	assert_int_equal(sp_cp_decode(r.b, r.n - 1, &m), SP_EPROTO);
}

/* What the decoder refuses, the encoder does not write. */
static void
test_cp_encode_refuses(void **state)
{
	static sp_cp_msg good, m;
	uint8_t out[SP_CP_MSG_MAX + 2];
	size_t n;

	(void)state;
	memset(&good, 0, sizeof(good));
	good.type = SP_CP_ICE;
	good.session = 1;
	strcpy(good.ufrag, UFRAG);
	strcpy(good.pwd, PWD);
	strcpy(good.candidates[0], "a=candidate:1 1 UDP 2013266431 192.168.1.2 40000 typ host");
	good.ncandidates = 1;
	assert_int_equal(sp_cp_encode(&good, out, sizeof(out), &n), SP_OK);

#define REFUSED(change) do { \
		m = good; \
		change; \
		assert_int_equal(sp_cp_encode(&m, out, sizeof(out), &n), SP_EINVAL); \
	} while (0)
	REFUSED(m.session = 0);
	REFUSED(m.pwd[0] = '\0');
	REFUSED(m.ufrag[0] = '\0');
	REFUSED(strcpy(m.ufrag, "abc"));
	REFUSED(m.pwd[21] = '\0');
	REFUSED(memset(m.ufrag, 'u', sizeof(m.ufrag)));   /* no NUL */
	REFUSED(m.path = SP_CP_PATH_MAX + 1);
	REFUSED(m.done = 2);
	REFUSED(m.ncandidates = SP_CP_MAX_CANDIDATES + 1);
	REFUSED(m.ncandidates = 2);                      /* the second is empty */
	REFUSED(strcat(m.candidates[0], "\n"));
	REFUSED(memset(m.candidates[0], 'c', sizeof(m.candidates[0])));

	memset(&good, 0, sizeof(good));
	good.type = SP_CP_PONG;
	strcpy(good.turn_server, "192.0.2.1:3478");
	strcpy(good.turn_user, "1800086400:k1");
	strcpy(good.turn_password, "secret");
	assert_int_equal(sp_cp_encode(&good, out, sizeof(out), &n), SP_OK);
	REFUSED(m.turn_password[0] = '\0');
	REFUSED(m.turn_user[0] = '\0');
	REFUSED(m.turn_server[0] = '\0');
	REFUSED(strcpy(m.turn_server, "turn.example.net:3478"));
	REFUSED(m.type = SP_CP_MEMBERS; m.turn_password[0] = '\0');
	REFUSED(m.type = SP_CP_TYPE_MAX + 1);
#undef REFUSED
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
		cmocka_unit_test(test_cp_version),
		cmocka_unit_test(test_cp_ice_golden),
		cmocka_unit_test(test_cp_ice_offer),
		cmocka_unit_test(test_cp_ice_trickle_and_path),
		cmocka_unit_test(test_cp_ice_unknown_field),
		cmocka_unit_test(test_cp_turn),
		cmocka_unit_test(test_cp_malformed),
		cmocka_unit_test(test_cp_encode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
