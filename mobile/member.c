/* The control plane's messages (see sp_member.h). */
#include "sp_member.h"

#include <sodium.h>
#include <string.h>

#include "sp_wire.h"

enum {
	F_VERSION = 1, F_SEQ, F_NAME, F_TTL, F_TEXT, F_CODE, F_TOKEN_ID, F_ADDR, F_MEMBER,
	F_NONCE, F_SIG, F_MORE, F_CHOSEN,
	F_RELAY_SLOTS,      /* MEMBERS: each listed member's relay slot, u32 each, in order */
	F_RELAY_KEY,        /* MEMBERS: the receiver's own relay key (first part) */
	F_RELAY_SELF,       /* MEMBERS: the receiver's own relay slot (first part) */
	F_RELAY_TLS_PORT,   /* MEMBERS: the gateway's relay over TLS, its TCP port (first part) */
};

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
	case SP_CP_PONG:
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

/* A printable name or text field, NUL-terminated into out. */
static int
get_text(const uint8_t *v, size_t len, char *out, size_t cap)
{
	if (len >= cap)
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

int
sp_cp_decode(const uint8_t *msg, size_t len, sp_cp_msg *m)
{
	sp_wire r = sp_wire_reader(msg, len);
	const uint8_t *slots = NULL;
	size_t nslots = 0;
	int rc = SP_OK;

	memset(m, 0, sizeof(*m));
	m->type = (enum sp_cp_type)sp_wire_u8(&r);
	if (sp_wire_err(&r) != SP_OK || m->type < SP_CP_HELLO || m->type > SP_CP_TYPE_MAX)
		return SP_EPROTO;
	while (rc == SP_OK && sp_wire_left(&r) > 0) {
		uint8_t t = sp_wire_u8(&r);
		uint16_t l = sp_wire_u16(&r);
		const uint8_t *v = sp_wire_view(&r, l);

		if (v == NULL)
			return SP_EPROTO;
		switch (t) {
		case F_VERSION:
		case F_SEQ:
		case F_TTL:
		case F_CODE:
		case F_MORE:
		case F_CHOSEN:
		case F_RELAY_SELF:
		case F_RELAY_TLS_PORT:
			if (l != 4)
				return SP_EPROTO;
			if (t == F_VERSION)
				m->version = u32_of(v);
			else if (t == F_SEQ)
				m->seq = u32_of(v);
			else if (t == F_TTL)
				m->ttl = u32_of(v);
			else if (t == F_MORE)
				m->more = u32_of(v);
			else if (t == F_RELAY_SELF)
				m->relay_self = u32_of(v);
			else if (t == F_RELAY_TLS_PORT)
				m->relay_tls_port = u32_of(v) <= 65535 ? u32_of(v) : 0;
			else if (t == F_CHOSEN)
				m->chosen = u32_of(v);
			else
				m->code = (int32_t)u32_of(v);
			break;
		case F_NONCE:
			if (get_fixed(v, l, m->nonce, sizeof(m->nonce)) != SP_OK)
				return SP_EPROTO;
			break;
		case F_SIG:
			if (get_fixed(v, l, m->sig, sizeof(m->sig)) != SP_OK)
				return SP_EPROTO;
			break;
		case F_NAME:
			rc = get_text(v, l, m->name, sizeof(m->name));
			break;
		case F_TEXT:
			rc = get_text(v, l, m->text, sizeof(m->text));
			break;
		case F_TOKEN_ID:
			if (get_fixed(v, l, m->token_id, sizeof(m->token_id)) != SP_OK)
				return SP_EPROTO;
			break;
		case F_ADDR:
			if (get_fixed(v, l, m->addr, sizeof(m->addr)) != SP_OK)
				return SP_EPROTO;
			break;
		case F_MEMBER: {
			sp_cp_member *x;
			if (l < 50 || l > 49 + 63 || v[0] > SP_CP_KIND_WIREGUARD)
				return SP_EPROTO;
			if (m->nmembers == SP_CP_MAX_MEMBERS)
				break;
			x = &m->members[m->nmembers];
			x->kind = v[0];
			memcpy(x->key, v + 1, 32);
			memcpy(x->addr, v + 33, 16);
			if ((rc = get_text(v + 49, l - 49u, x->name, sizeof(x->name))) == SP_OK)
				m->nmembers++;
			break;
		}
		case F_RELAY_KEY:
			if (get_fixed(v, l, m->relay_key, sizeof(m->relay_key)) != SP_OK)
				return SP_EPROTO;
			break;
		case F_RELAY_SLOTS:
			if (l % 4 != 0 || l / 4 > SP_CP_MAX_MEMBERS)
				return SP_EPROTO;
			slots = v;
			nslots = l / 4u;
			break;
		default:
			break;   /* a newer side's field */
		}
	}
	if (rc != SP_OK || sp_wire_err(&r) != SP_OK) {
		sodium_memzero(m->text, sizeof(m->text));
		sodium_memzero(m->relay_key, sizeof(m->relay_key));
		return SP_EPROTO;
	}
	/* Slots apply to the members in the order they came, whatever the
	 * fields' order. */
	for (size_t i = 0; i < nslots && i < m->nmembers; i++)
		m->members[i].relay = u32_of(slots + 4 * i);
	return SP_OK;
}
