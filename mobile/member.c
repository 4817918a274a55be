/* The control plane's messages (see sp_member.h). */
#include "sp_member.h"

#include <sodium.h>
#include <string.h>

#include "sp_platform.h"
#include "sp_wire.h"

enum {
	F_VERSION = 1, F_SEQ, F_NAME, F_TTL, F_TEXT, F_CODE, F_TOKEN_ID, F_ADDR, F_MEMBER,
	F_NONCE, F_SIG, F_MORE, F_CHOSEN,
	F_RELAY_SLOTS,      /* MEMBERS: each listed member's relay slot, u32 each, in order */
	F_RELAY_KEY,        /* MEMBERS: the receiver's own relay key (first part) */
	F_RELAY_SELF,       /* MEMBERS: the receiver's own relay slot (first part) */
	F_RELAY_TLS_PORT,   /* MEMBERS: the gateway's relay over TLS, its TCP port (first part) */
	/* Version 2. */
	F_PEER,             /* ICE: the other member's Ed25519 key */
	F_SESSION,          /* ICE: the sender's session, nonzero */
	F_ANSWERS,          /* ICE: the receiver's session this answers; 0 in an offer */
	F_UFRAG,            /* ICE: 4-256 bytes */
	F_PWD,              /* ICE: 22-256 bytes */
	F_CANDIDATE,        /* ICE: one SDP candidate line, repeated */
	F_DONE,             /* ICE: 1 once the sender has gathered all its candidates */
	F_PATH,             /* ICE: an sp_cp_path */
	F_TURN_SERVER,      /* MEMBERS (first part), PONG: "ADDR:PORT" */
	F_TURN_USER,
	F_TURN_PASSWORD,
};

/* Text lengths, inclusive; each maximum is its array's size less the NUL. */
#define UFRAG_MIN 4
#define PWD_MIN 22
#define CANDIDATE_MIN 1
#define TURN_MIN 1

void
sp_cp_hello_signed(const uint8_t nonce[32], const uint8_t gateway[SP_KEY_PUBLIC_BYTES],
    const uint8_t member[SP_KEY_PUBLIC_BYTES], uint8_t out[SP_CP_HELLO_SIGNED])
{
	size_t l = sizeof(SP_CP_HELLO_LABEL) - 1;

	memcpy(out, SP_CP_HELLO_LABEL, l);
	memcpy(out + l, nonce, 32);
	memcpy(out + l + 32, gateway, SP_KEY_PUBLIC_BYTES);
	memcpy(out + l + 32 + SP_KEY_PUBLIC_BYTES, member, SP_KEY_PUBLIC_BYTES);
}

static void
put_field(sp_wire *w, uint8_t type, const void *v, size_t len)
{
	sp_wire_put_u8(w, type);
	sp_wire_put_u16(w, (uint16_t)len);
	sp_wire_put(w, v, len);
}

static void
put_u32(sp_wire *w, uint8_t type, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put_field(w, type, b, 4);
}

static void
put_text(sp_wire *w, uint8_t type, const char *s)
{
	put_field(w, type, s, strlen(s));
}

/* Whether s, in an array of cap bytes, is text the decoder takes: min to
 * cap - 1 bytes of 0x20-0x7E, then a NUL. */
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

/* "ADDR:PORT": an IPv4 literal or an IPv6 one in brackets (the platform's
 * parser, pure), then a port of 1-65535 in decimal without leading zeros,
 * so that one address has one spelling of its port. */
static int
addr_port_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	struct sockaddr_storage ss;
	socklen_t len;

	/* A port that starts with 0 is port 0 or has a leading zero. */
	return colon != NULL && colon[1] != '0' && sp_addr_parse(s, &ss, &len) == SP_OK;
}

/* The TURN credentials: all three, each valid, or none. */
static int
turn_ok(const sp_cp_msg *m)
{
	if (m->turn_server[0] == '\0')
		return m->turn_user[0] == '\0' && m->turn_password[0] == '\0';
	return text_ok(m->turn_server, sizeof(m->turn_server), TURN_MIN) &&
	    addr_port_ok(m->turn_server) &&
	    text_ok(m->turn_user, sizeof(m->turn_user), TURN_MIN) &&
	    text_ok(m->turn_password, sizeof(m->turn_password), TURN_MIN);
}

static void
put_turn(sp_wire *w, const sp_cp_msg *m)
{
	if (m->turn_server[0] == '\0')
		return;
	put_text(w, F_TURN_SERVER, m->turn_server);
	put_text(w, F_TURN_USER, m->turn_user);
	put_text(w, F_TURN_PASSWORD, m->turn_password);
}

/* An ICE message's fields, as the decoder checks them. */
static int
ice_ok(const sp_cp_msg *m)
{
	if (m->session == 0 || m->ncandidates > SP_CP_MAX_CANDIDATES || m->done > 1 ||
	    m->path > SP_CP_PATH_MAX)
		return 0;
	if (m->ufrag[0] == '\0') {
		if (m->pwd[0] != '\0')
			return 0;
	} else if (!text_ok(m->ufrag, sizeof(m->ufrag), UFRAG_MIN) ||
	    !text_ok(m->pwd, sizeof(m->pwd), PWD_MIN)) {
		return 0;
	}
	for (size_t i = 0; i < m->ncandidates; i++)
		if (!text_ok(m->candidates[i], sizeof(m->candidates[i]), CANDIDATE_MIN))
			return 0;
	return 1;
}

int
sp_cp_encode(const sp_cp_msg *m, uint8_t *out, size_t cap, size_t *len)
{
	sp_wire w = sp_wire_writer(out, cap);
	size_t body;

	sp_wire_put_u16(&w, 0);   /* the length, filled in at the end */
	sp_wire_put_u8(&w, (uint8_t)m->type);
	switch (m->type) {
	case SP_CP_HELLO:
		put_u32(&w, F_VERSION, m->version);
		put_field(&w, F_NAME, m->name, strlen(m->name));
		put_field(&w, F_SIG, m->sig, sizeof(m->sig));
		break;
	case SP_CP_CHALLENGE:
		put_u32(&w, F_VERSION, m->version);
		put_field(&w, F_NONCE, m->nonce, sizeof(m->nonce));
		break;
	case SP_CP_WAIT:
		put_u32(&w, F_SEQ, m->seq);
		put_field(&w, F_TOKEN_ID, m->token_id, sizeof(m->token_id));
		break;
	case SP_CP_MEMBERS:
		if (!turn_ok(m))
			return SP_EINVAL;
		for (size_t i = 0; i < m->nmembers; i++) {
			const sp_cp_member *x = &m->members[i];
			size_t nl = strlen(x->name);
			uint8_t rec[1 + 32 + 16 + 63];
			rec[0] = x->kind;
			memcpy(rec + 1, x->key, 32);
			memcpy(rec + 33, x->addr, 16);
			memcpy(rec + 49, x->name, nl);
			put_field(&w, F_MEMBER, rec, 49 + nl);
		}
		{
			uint8_t slots[4 * SP_CP_MAX_MEMBERS];
			for (size_t i = 0; i < m->nmembers; i++) {
				uint32_t v = m->members[i].relay;
				slots[4 * i] = (uint8_t)(v >> 24);
				slots[4 * i + 1] = (uint8_t)(v >> 16);
				slots[4 * i + 2] = (uint8_t)(v >> 8);
				slots[4 * i + 3] = (uint8_t)v;
			}
			put_field(&w, F_RELAY_SLOTS, slots, 4 * m->nmembers);
		}
		if (m->relay_tls_port != 0)
			put_u32(&w, F_RELAY_TLS_PORT, m->relay_tls_port);
		if (m->relay_self != 0) {
			put_u32(&w, F_RELAY_SELF, m->relay_self);
			put_field(&w, F_RELAY_KEY, m->relay_key, sizeof(m->relay_key));
		}
		put_turn(&w, m);
		put_u32(&w, F_MORE, m->more);
		break;
	case SP_CP_PAIR:
		put_u32(&w, F_SEQ, m->seq);
		put_field(&w, F_NAME, m->name, strlen(m->name));
		put_u32(&w, F_TTL, m->ttl);
		break;
	case SP_CP_PAIR_OK:
		put_u32(&w, F_SEQ, m->seq);
		put_field(&w, F_TEXT, m->text, strlen(m->text));
		put_field(&w, F_TOKEN_ID, m->token_id, sizeof(m->token_id));
		put_u32(&w, F_CHOSEN, m->chosen);
		break;
	case SP_CP_PAIR_ERR:
		put_u32(&w, F_SEQ, m->seq);
		put_u32(&w, F_CODE, (uint32_t)m->code);
		put_field(&w, F_TEXT, m->text, strlen(m->text));
		put_field(&w, F_TOKEN_ID, m->token_id, sizeof(m->token_id));
		break;
	case SP_CP_JOINED:
		put_field(&w, F_TOKEN_ID, m->token_id, sizeof(m->token_id));
		put_field(&w, F_NAME, m->name, strlen(m->name));
		put_field(&w, F_ADDR, m->addr, sizeof(m->addr));
		break;
	case SP_CP_PING:
		break;
	case SP_CP_PONG:
		if (!turn_ok(m))
			return SP_EINVAL;
		put_turn(&w, m);
		break;
	case SP_CP_ICE:
		if (!ice_ok(m))
			return SP_EINVAL;
		put_field(&w, F_PEER, m->peer, sizeof(m->peer));
		put_u32(&w, F_SESSION, m->session);
		put_u32(&w, F_ANSWERS, m->answers);
		if (m->ufrag[0] != '\0') {
			put_text(&w, F_UFRAG, m->ufrag);
			put_text(&w, F_PWD, m->pwd);
		}
		for (size_t i = 0; i < m->ncandidates; i++)
			put_text(&w, F_CANDIDATE, m->candidates[i]);
		put_u32(&w, F_DONE, m->done);
		put_u32(&w, F_PATH, m->path);
		break;
	default:
		return SP_EINVAL;
	}
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	body = sp_wire_used(&w) - 2;
	if (body > SP_CP_MSG_MAX)
		return SP_ESPACE;
	out[0] = (uint8_t)(body >> 8);
	out[1] = (uint8_t)body;
	*len = sp_wire_used(&w);
	return SP_OK;
}

/* A printable text field of at least min bytes, NUL-terminated into out. */
static int
get_text(const uint8_t *v, size_t len, char *out, size_t cap, size_t min)
{
	if (len < min || len >= cap)
		return SP_EPROTO;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return SP_EPROTO;
	memcpy(out, v, len);
	out[len] = '\0';
	return SP_OK;
}

/* A field of exactly len bytes. */
static int
get_fixed(const uint8_t *v, size_t l, void *out, size_t len)
{
	if (l != len)
		return SP_EPROTO;
	memcpy(out, v, l);
	return SP_OK;
}

static uint32_t
u32_of(const uint8_t *v)
{
	return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
}

/* An integer field: 4 bytes, and at most max. */
static int
get_u32(const uint8_t *v, size_t l, uint32_t *out, uint32_t max)
{
	if (l != 4 || u32_of(v) > max)
		return SP_EPROTO;
	*out = u32_of(v);
	return SP_OK;
}

int
sp_cp_decode(const uint8_t *msg, size_t len, sp_cp_msg *m)
{
	sp_wire r = sp_wire_reader(msg, len);
	const uint8_t *slots = NULL;
	size_t nslots = 0;
	int seen_peer = 0, rc = SP_OK;

	memset(m, 0, sizeof(*m));
	m->type = (enum sp_cp_type)sp_wire_u8(&r);
	if (sp_wire_err(&r) != SP_OK || m->type < SP_CP_HELLO || m->type > SP_CP_TYPE_MAX)
		return SP_EPROTO;
	while (rc == SP_OK && sp_wire_left(&r) > 0) {
		uint8_t t = sp_wire_u8(&r);
		uint16_t l = sp_wire_u16(&r);
		const uint8_t *v = sp_wire_view(&r, l);

		if (v == NULL) {
			rc = SP_EPROTO;
			break;
		}
		switch (t) {
		case F_VERSION:
			rc = get_u32(v, l, &m->version, UINT32_MAX);
			break;
		case F_SEQ:
			rc = get_u32(v, l, &m->seq, UINT32_MAX);
			break;
		case F_TTL:
			rc = get_u32(v, l, &m->ttl, UINT32_MAX);
			break;
		case F_CODE: {
			uint32_t c = 0;
			rc = get_u32(v, l, &c, UINT32_MAX);
			m->code = (int32_t)c;
			break;
		}
		case F_MORE:
			rc = get_u32(v, l, &m->more, UINT32_MAX);
			break;
		case F_CHOSEN:
			rc = get_u32(v, l, &m->chosen, UINT32_MAX);
			break;
		case F_RELAY_SELF:
			rc = get_u32(v, l, &m->relay_self, UINT32_MAX);
			break;
		case F_RELAY_TLS_PORT:
			if ((rc = get_u32(v, l, &m->relay_tls_port, UINT32_MAX)) == SP_OK &&
			    m->relay_tls_port > 65535)
				m->relay_tls_port = 0;
			break;
		case F_NONCE:
			rc = get_fixed(v, l, m->nonce, sizeof(m->nonce));
			break;
		case F_SIG:
			rc = get_fixed(v, l, m->sig, sizeof(m->sig));
			break;
		case F_NAME:
			rc = get_text(v, l, m->name, sizeof(m->name), 0);
			break;
		case F_TEXT:
			rc = get_text(v, l, m->text, sizeof(m->text), 0);
			break;
		case F_TOKEN_ID:
			rc = get_fixed(v, l, m->token_id, sizeof(m->token_id));
			break;
		case F_ADDR:
			rc = get_fixed(v, l, m->addr, sizeof(m->addr));
			break;
		case F_MEMBER: {
			sp_cp_member *x;
			if (l < 50 || l > 49 + 63 || v[0] > SP_CP_KIND_WIREGUARD) {
				rc = SP_EPROTO;
				break;
			}
			if (m->nmembers == SP_CP_MAX_MEMBERS)
				break;
			x = &m->members[m->nmembers];
			x->kind = v[0];
			memcpy(x->key, v + 1, 32);
			memcpy(x->addr, v + 33, 16);
			if ((rc = get_text(v + 49, l - 49u, x->name, sizeof(x->name), 1)) == SP_OK)
				m->nmembers++;
			break;
		}
		case F_RELAY_KEY:
			rc = get_fixed(v, l, m->relay_key, sizeof(m->relay_key));
			break;
		case F_RELAY_SLOTS:
			if (l % 4 != 0 || l / 4 > SP_CP_MAX_MEMBERS) {
				rc = SP_EPROTO;
				break;
			}
			slots = v;
			nslots = l / 4u;
			break;
		case F_PEER:
			rc = get_fixed(v, l, m->peer, sizeof(m->peer));
			seen_peer = 1;
			break;
		case F_SESSION:
			if ((rc = get_u32(v, l, &m->session, UINT32_MAX)) == SP_OK && m->session == 0)
				rc = SP_EPROTO;
			break;
		case F_ANSWERS:
			rc = get_u32(v, l, &m->answers, UINT32_MAX);
			break;
		case F_UFRAG:
			rc = get_text(v, l, m->ufrag, sizeof(m->ufrag), UFRAG_MIN);
			break;
		case F_PWD:
			rc = get_text(v, l, m->pwd, sizeof(m->pwd), PWD_MIN);
			break;
		case F_CANDIDATE:
			if (m->ncandidates == SP_CP_MAX_CANDIDATES) {
				rc = SP_EPROTO;
				break;
			}
			if ((rc = get_text(v, l, m->candidates[m->ncandidates],
			    sizeof(m->candidates[0]), CANDIDATE_MIN)) == SP_OK)
				m->ncandidates++;
			break;
		case F_DONE:
			rc = get_u32(v, l, &m->done, 1);
			break;
		case F_PATH:
			rc = get_u32(v, l, &m->path, SP_CP_PATH_MAX);
			break;
		case F_TURN_SERVER:
			if ((rc = get_text(v, l, m->turn_server, sizeof(m->turn_server), TURN_MIN)) ==
			    SP_OK && !addr_port_ok(m->turn_server))
				rc = SP_EPROTO;
			break;
		case F_TURN_USER:
			rc = get_text(v, l, m->turn_user, sizeof(m->turn_user), TURN_MIN);
			break;
		case F_TURN_PASSWORD:
			rc = get_text(v, l, m->turn_password, sizeof(m->turn_password), TURN_MIN);
			break;
		default:
			break;   /* a newer side's field */
		}
	}
	if (rc == SP_OK && sp_wire_err(&r) != SP_OK)
		rc = SP_EPROTO;
	/* Fields that travel together, in any message. */
	if (rc == SP_OK && ((m->ufrag[0] == '\0') != (m->pwd[0] == '\0') ||
	    (m->turn_server[0] == '\0') != (m->turn_user[0] == '\0') ||
	    (m->turn_server[0] == '\0') != (m->turn_password[0] == '\0')))
		rc = SP_EPROTO;
	if (rc == SP_OK && m->type == SP_CP_ICE && (!seen_peer || m->session == 0))
		rc = SP_EPROTO;
	if (rc != SP_OK) {
		sodium_memzero(m->text, sizeof(m->text));
		sodium_memzero(m->relay_key, sizeof(m->relay_key));
		sodium_memzero(m->pwd, sizeof(m->pwd));
		sodium_memzero(m->turn_password, sizeof(m->turn_password));
		return SP_EPROTO;
	}
	/* Slots apply to the members in the order they came, whatever the
	 * fields' order. */
	for (size_t i = 0; i < nslots && i < m->nmembers; i++)
		m->members[i].relay = u32_of(slots + 4 * i);
	return SP_OK;
}
