/* libFuzzer target: both directions of the control protocol
 * (signpostd/control.c): request lines and replies; and a message of the
 * members' control plane (mobile/member.c), from either side. Each input
 * goes to all three readers. */
#include <stdint.h>
#include <string.h>

#include "control.h"
#include "sp_member.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
field(void *arg, const char *name, const char *value)
{
	(void)arg;
	if (name[0] == '\0' || strchr(name, '\t') != NULL || strchr(value, '\n') != NULL)
		__builtin_trap();
	return SP_OK;
}

/* Text as the decoder must leave it: NUL-terminated in its array, at
 * least min bytes, all printable. */
static int
text_ok(const char *s, size_t cap, size_t min)
{
	size_t n = strnlen(s, cap);

	if (n == cap || n < min)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int
present(const char *s)
{
	return s[0] != '\0';
}

/* What decodes keeps the rules of docs/control-plane.md, encodes, and
 * decodes again to the same message: the same bytes once more, and the
 * same ICE and TURN fields. */
static void
member_message(const uint8_t *data, size_t size)
{
	static sp_cp_msg m, back;
	static uint8_t out[SP_CP_MSG_MAX + 2], again[SP_CP_MSG_MAX + 2];
	size_t n, k;

	if (sp_cp_decode(data, size, &m) != SP_OK)
		return;
	if (m.type < SP_CP_HELLO || m.type > SP_CP_TYPE_MAX || m.nmembers > SP_CP_MAX_MEMBERS ||
	    m.ncandidates > SP_CP_MAX_CANDIDATES || m.path > SP_CP_PATH_MAX || m.done > 1)
		__builtin_trap();
	if (m.type == SP_CP_ICE && m.session == 0)
		__builtin_trap();
	if (present(m.ufrag) != present(m.pwd) || (present(m.ufrag) &&
	    (!text_ok(m.ufrag, sizeof(m.ufrag), 4) || !text_ok(m.pwd, sizeof(m.pwd), 22))))
		__builtin_trap();
	for (size_t i = 0; i < m.ncandidates; i++)
		if (!text_ok(m.candidates[i], sizeof(m.candidates[i]), 1))
			__builtin_trap();
	if (present(m.turn_server) != present(m.turn_user) ||
	    present(m.turn_server) != present(m.turn_password) ||
	    !text_ok(m.turn_server, sizeof(m.turn_server), 0) ||
	    !text_ok(m.turn_user, sizeof(m.turn_user), 0) ||
	    !text_ok(m.turn_password, sizeof(m.turn_password), 0))
		__builtin_trap();

	if (sp_cp_encode(&m, out, sizeof(out), &n) != SP_OK || n < 3 ||
	    ((size_t)out[0] << 8 | out[1]) != n - 2 ||
	    sp_cp_decode(out + 2, n - 2, &back) != SP_OK ||
	    sp_cp_encode(&back, again, sizeof(again), &k) != SP_OK || n != k ||
	    memcmp(out, again, n) != 0 || back.type != m.type)
		__builtin_trap();
	if (m.type == SP_CP_ICE &&
	    (memcmp(back.peer, m.peer, sizeof(m.peer)) != 0 || back.session != m.session ||
	    back.answers != m.answers || strcmp(back.ufrag, m.ufrag) != 0 ||
	    strcmp(back.pwd, m.pwd) != 0 || back.ncandidates != m.ncandidates ||
	    back.done != m.done || back.path != m.path))
		__builtin_trap();
	if (m.type == SP_CP_ICE)
		for (size_t i = 0; i < m.ncandidates; i++)
			if (strcmp(back.candidates[i], m.candidates[i]) != 0)
				__builtin_trap();
	if ((m.type == SP_CP_MEMBERS || m.type == SP_CP_PONG) &&
	    (strcmp(back.turn_server, m.turn_server) != 0 ||
	    strcmp(back.turn_user, m.turn_user) != 0 ||
	    strcmp(back.turn_password, m.turn_password) != 0))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_ctl_request req;
	sp_errmsg e;

	if (sp_ctl_request_parse((const char *)data, size, &req, &e) == SP_OK) {
		if (req.nwords == 0 || req.nwords > SP_CTL_MAX_WORDS)
			__builtin_trap();
		for (size_t i = 0; i < req.nwords; i++)
			if (req.word[i][0] == '\0')
				__builtin_trap();
	}
	sp_ctl_reply_parse((const char *)data, size, field, NULL, &e);
	member_message(data, size);
	return 0;
}
