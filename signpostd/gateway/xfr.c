/*
 * Zone transfers out (AXFR; IXFR is answered AXFR-style, RFC 1995 4):
 * only to a request signed with a configured TSIG key (HMAC-SHA256), signed
 * recently (RFC 8945 5.2.3) and not older than the last one seen with that
 * key. The transfer walks a snapshot it holds, so a change during it does
 * not disturb it, and it is produced message by message only as fast as
 * the client reads (dns_tcp.c's bound).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_xfr.h"

#define XFR_MSG_RRS 256
#define XFR_MSG_BYTES 16000
/* One message: the records, the question, a TSIG, with room to spare. */
#define XFR_MSG_CAP (XFR_MSG_BYTES + SP_DNAME_MAX + 10 + 65535 + 1024)

struct xfr_out {
	sp_gateway *g;
	struct tcp_conn *c;
	sp_zone *zone;                /* held for the transfer */
	sp_xfr_iter it;
	sp_xfr_rr next;               /* read ahead, not yet in a message */
	int have_next;
	sp_tsig_state st;
	uint16_t id;
	uint8_t question[SP_DNAME_MAX + 4];
	size_t question_len;
	size_t rrs;
	unsigned messages;
	uint8_t *msg;                 /* XFR_MSG_CAP */
};

int
gw_xfr_keys(sp_gateway *g, sp_errmsg *e)
{
	const sp_conf *conf = &g->d->conf;

	if (conf->ntsig == 0)
		return SP_OK;
	/* Secrets live in guarded memory, wiped when the gateway stops. */
	if ((g->tsig = sodium_malloc(conf->ntsig * sizeof(*g->tsig))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	for (size_t i = 0; i < conf->ntsig; i++)
		if (sp_tsig_key_set(&g->tsig[i], conf->tsig[i].name, conf->tsig[i].secret) != SP_OK)
			return sp_errf(e, SP_ECONFIG, "tsig-key %s: cannot be decoded",
			    conf->tsig[i].name);
	g->ntsig = conf->ntsig;
	return SP_OK;
}

void
gw_xfr_stop(sp_gateway *g)
{
	if (g->tsig != NULL)
		sodium_free(g->tsig);   /* wipes */
	g->tsig = NULL;
	g->ntsig = 0;
}

/* The header and question of a response to the request q. */
static size_t
start_message(uint8_t *out, size_t cap, uint16_t id, const uint8_t *question, size_t qlen,
    unsigned rcode, int aa)
{
	sp_wire w = sp_wire_writer(out, cap);

	sp_wire_put_u16(&w, id);
	sp_wire_put_u16(&w, (uint16_t)(SP_F_QR | (aa ? SP_F_AA : 0) | rcode));
	sp_wire_put_u16(&w, qlen > 0 ? 1 : 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put(&w, question, qlen);
	return sp_wire_err(&w) == SP_OK ? sp_wire_used(&w) : 0;
}

/* The question of a request, as sent (one name, type and class). */
static int
request_question(const uint8_t *q, size_t len, uint8_t *out, size_t *qlen)
{
	sp_wire r = sp_wire_reader(q, len);
	uint8_t name[SP_DNAME_MAX];
	const uint8_t *raw;
	size_t nlen;

	sp_wire_skip(&r, 4);
	if (sp_wire_u16(&r) != 1)
		return SP_EPROTO;
	sp_wire_skip(&r, 6);
	if (sp_dname_read(&r, name, &nlen, &raw) != SP_OK)
		return SP_EPROTO;
	sp_wire_skip(&r, 4);
	if (sp_wire_err(&r) != SP_OK)
		return SP_EPROTO;
	memcpy(out, raw, nlen + 4);
	*qlen = nlen + 4;
	return SP_OK;
}

/* A one-message refusal: REFUSED unsigned, or NOTAUTH with the TSIG
 * error RFC 8945 5.2 asks for (BADTIME signed, the others not). */
static int
refuse(sp_gateway *g, struct tcp_conn *c, uint16_t id, const uint8_t *question,
    size_t qlen, sp_tsig_state *st, const char *why)
{
	uint8_t msg[SP_DNAME_MAX * 3 + 256];
	size_t len = start_message(msg, sizeof(msg), id, question, qlen,
	    st == NULL ? SP_RCODE_REFUSED : SP_RCODE_NOTAUTH, 0);
	int64_t now = sp_clock_wall();
	int rc = SP_OK;

	g->xfr_refused++;
	sp_warn("zone transfer refused: %s", why);
	if (len == 0)
		return SP_EINVAL;
	if (st != NULL && st->error == SP_TSIG_BADTIME)
		rc = sp_tsig_sign(msg, &len, sizeof(msg), &g->tsig[st->key], st, now,
		    SP_TSIG_BADTIME);
	else if (st != NULL)
		rc = sp_tsig_append_error(msg, &len, sizeof(msg), st, now);
	if (rc != SP_OK)
		return rc;
	return gw_tcp_queue(c, msg, len);
}

int
gw_xfr_request(sp_gateway *g, struct tcp_conn *c, const uint8_t *q, size_t len,
    struct xfr_out **out)
{
	uint8_t question[SP_DNAME_MAX + 4];
	size_t qlen, at;
	uint16_t id = (uint16_t)(q[0] << 8 | q[1]);
	sp_tsig_state st;
	struct xfr_out *x;
	int rc;

	*out = NULL;
	if (request_question(q, len, question, &qlen) != SP_OK)
		return SP_EPROTO;
	rc = sp_tsig_verify(q, len, g->tsig, g->ntsig, sp_clock_wall(), &st, &at);
	if (rc == SP_ENOENT)
		return refuse(g, c, id, question, qlen, NULL, "the request is not signed with TSIG");
	if (rc != SP_OK)
		return refuse(g, c, id, question, qlen, NULL, "the request's TSIG is malformed");
	if (st.error == SP_TSIG_OK && st.time_signed < g->tsig_last[st.key])
		st.error = SP_TSIG_BADTIME;   /* older than one already seen: a replay */
	if (st.error != SP_TSIG_OK) {
		char why[160], name[1024];
		sp_dname_to_text(st.key_name, name, sizeof(name));
		snprintf(why, sizeof(why), "TSIG %s (key %.100s)", sp_tsig_error_name(st.error),
		    name);
		return refuse(g, c, id, question, qlen, &st, why);
	}
	g->tsig_last[st.key] = st.time_signed;
	if ((x = calloc(1, sizeof(*x))) == NULL || (x->msg = malloc(XFR_MSG_CAP)) == NULL) {
		free(x);
		return SP_ENOMEM;
	}
	x->g = g;
	x->c = c;
	x->zone = sp_zone_hold(g->zone);
	x->st = st;
	x->id = id;
	memcpy(x->question, question, qlen);
	x->question_len = qlen;
	sp_xfr_begin(&x->it, x->zone);
	x->have_next = sp_xfr_next(&x->it, &x->next);
	if (gw_xfr_produce(x) == 0)
		*out = x;
	return SP_OK;
}

/* Put the records that fit into one message, sign it and queue it. */
static int
one_message(struct xfr_out *x)
{
	size_t len = start_message(x->msg, XFR_MSG_CAP, x->id, x->question,
	    x->messages == 0 ? x->question_len : 0, SP_RCODE_NOERROR, 1);
	sp_wire w = sp_wire_writer(x->msg, XFR_MSG_CAP);
	uint16_t an = 0;
	int rc;

	w.pos = len;
	while (x->have_next && an < XFR_MSG_RRS &&
	    (an == 0 || sp_wire_used(&w) + x->next.owner_len + 10 + x->next.rdlen <= XFR_MSG_BYTES)) {
		sp_wire_put(&w, x->next.owner, x->next.owner_len);
		sp_wire_put_u16(&w, x->next.type);
		sp_wire_put_u16(&w, SP_C_IN);
		sp_wire_put_u32(&w, x->next.ttl);
		sp_wire_put_u16(&w, (uint16_t)x->next.rdlen);
		sp_wire_put(&w, x->next.rdata, x->next.rdlen);
		an++;
		x->rrs++;
		x->have_next = sp_xfr_next(&x->it, &x->next);
	}
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	x->msg[6] = (uint8_t)(an >> 8);
	x->msg[7] = (uint8_t)an;
	len = sp_wire_used(&w);
	if ((rc = sp_tsig_sign(x->msg, &len, XFR_MSG_CAP, &x->g->tsig[x->st.key], &x->st,
	    sp_clock_wall(), SP_TSIG_OK)) != SP_OK)
		return rc;
	x->messages++;
	return gw_tcp_queue(x->c, x->msg, len);
}

int
gw_xfr_produce(struct xfr_out *x)
{
	sp_gateway *g = x->g;

	while (x->have_next && gw_tcp_room(x->c) >= XFR_MSG_CAP)
		if (one_message(x) != SP_OK) {
			/* Cannot happen with the sizes above; end the transfer
			 * rather than send a broken one. */
			sp_err("zone transfer: a message could not be built; stopped");
			x->have_next = 0;
			gw_xfr_free(x);
			return 1;
		}
	if (x->have_next)
		return 0;
	g->xfr_done++;
	sp_info("zone transfer of %s serial %u: %zu records in %u messages", g->d->cloud.zone,
	    sp_zone_serial(x->zone), x->rrs, x->messages);
	gw_xfr_free(x);
	return 1;
}

void
gw_xfr_free(struct xfr_out *x)
{
	if (x == NULL)
		return;
	sp_zone_free(x->zone);
	free(x->msg);
	sodium_memzero(&x->st, sizeof(x->st));
	free(x);
}
