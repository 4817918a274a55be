/*
 * The members' control plane, the gateway's side (docs/control-plane.md):
 * TCP on the gateway's overlay address. A connection is a member's when
 * its source address is that member's overlay address: only the member's
 * WireGuard session can bring packets from it (cryptokey routing), so the
 * address is the authentication. Anything else is closed and counted.
 *
 * Members get the member list at hello and on every change; they may ask
 * for a pairing code, and hear when it is used.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_member.h"
#include "sp_pair.h"
#include "stream.h"
#include "tunnel.h"

#define CP_MAX_CONNS 256
#define CP_TIMEOUT_MS 90000        /* members ping every 30 s */
#define CP_OUT_MAX (256 * 1024)

struct cp_conn {
	sp_gateway *g;
	sp_stream *s;
	char name[64];               /* the member it is */
	int hello;
};

struct sp_gw_members {
	sp_gateway *g;
	int fd;
	sp_watch *watch;
	struct cp_conn *conns[CP_MAX_CONNS];
	uint64_t refused, messages;
};

static void
conn_free(struct cp_conn *c)
{
	sp_gw_members *m = c->g->members;

	for (size_t i = 0; i < CP_MAX_CONNS; i++)
		if (m->conns[i] == c)
			m->conns[i] = NULL;
	sp_stream_free(c->s);
	free(c);
}

static void
send_msg(struct cp_conn *c, const sp_cp_msg *msg)
{
	uint8_t buf[SP_CP_MSG_MAX + 2];
	size_t len;

	if (sp_cp_encode(msg, buf, sizeof(buf), &len) != SP_OK) {
		sp_err("control plane: a message to %s does not fit", c->name);
		return;
	}
	if (sp_stream_send(c->s, buf, len) != SP_OK) {
		sp_warn("control plane: %s is not reading; closing its connection", c->name);
		conn_free(c);
	}
	sodium_memzero(buf, len);
}

/* The member list, as members see it. */
static void
members_msg(sp_gateway *g, sp_cp_msg *m)
{
	sp_daemon *d = g->d;
	const sp_key_info *self = sp_key_info_of(sp_daemon_device_key(d));

	memset(m, 0, sizeof(*m));
	m->type = SP_CP_MEMBERS;
	snprintf(m->members[0].name, sizeof(m->members[0].name), "%s", d->cloud.name);
	m->members[0].kind = SP_CP_KIND_GATEWAY;
	memcpy(m->members[0].key, self->pub, 32);
	sp_ula_device(d->cloud.prefix, self->pub, m->members[0].addr);
	m->nmembers = 1;
	for (size_t i = 0; i < g->ndevs && m->nmembers < SP_CP_MAX_MEMBERS; i++) {
		sp_cp_member *x = &m->members[m->nmembers++];
		snprintf(x->name, sizeof(x->name), "%s", g->devs[i].name);
		x->kind = g->devs[i].kind == SP_DEVICE_WIREGUARD ? SP_CP_KIND_WIREGUARD :
		    SP_CP_KIND_SIGNPOST;
		memcpy(x->key, g->devs[i].pub, 32);
		sp_ula_device(d->cloud.prefix, g->devs[i].pub, x->addr);
	}
}

void
gw_members_changed(sp_gateway *g)
{
	sp_gw_members *m = g->members;
	sp_cp_msg *msg;

	if (m == NULL || (msg = malloc(sizeof(*msg))) == NULL)
		return;
	members_msg(g, msg);
	for (size_t i = 0; i < CP_MAX_CONNS; i++) {
		struct cp_conn *c = m->conns[i];
		/* A member that is no longer one (revoked, renamed) is closed. */
		if (c != NULL && c->hello && gw_device_by_name(g, c->name) == NULL) {
			conn_free(c);
			continue;
		}
		if (c != NULL && c->hello)
			send_msg(c, msg);
	}
	free(msg);
}

/* A code a member asked for, waited on for it. */
struct asked {
	sp_gateway *g;
	char by[64];
	uint8_t id[SP_PAIR_TOKEN_ID];
};

/* The code was used (or expired, or the daemon stops): tell its asker. */
static void
pair_done(void *arg, uint64_t ticket, int rc, const char *name, const uint8_t addr[16])
{
	struct asked *a = arg;
	sp_gw_members *m = a->g->members;
	sp_cp_msg msg;

	(void)ticket;
	if (m != NULL && rc == SP_OK) {
		memset(&msg, 0, sizeof(msg));
		msg.type = SP_CP_JOINED;
		snprintf(msg.name, sizeof(msg.name), "%s", name);
		memcpy(msg.addr, addr, 16);
		memcpy(msg.token_id, a->id, sizeof(msg.token_id));
		for (size_t i = 0; i < CP_MAX_CONNS; i++)
			if (m->conns[i] != NULL && m->conns[i]->hello &&
			    strcmp(m->conns[i]->name, a->by) == 0) {
				send_msg(m->conns[i], &msg);
				break;
			}
	}
	free(a);
}

static void
pair_request(struct cp_conn *c, const sp_cp_msg *in)
{
	sp_gateway *g = c->g;
	struct asked *a;
	sp_cp_msg out;
	sp_pair_uri u;
	sp_errmsg e;
	int chosen, rc;

	memset(&out, 0, sizeof(out));
	out.seq = in->seq;
	rc = sp_gw_pair_create(g, in->name, in->ttl, c->name, &u, &chosen, &e);
	if (rc == SP_OK && (rc = sp_pair_uri_format(&u, out.text, sizeof(out.text))) == SP_OK) {
		out.type = SP_CP_PAIR_OK;
		sp_pair_token_id(u.token, out.token_id);
		if ((a = calloc(1, sizeof(*a))) != NULL) {
			a->g = g;
			snprintf(a->by, sizeof(a->by), "%s", c->name);
			memcpy(a->id, out.token_id, sizeof(a->id));
			if (sp_gw_pair_wait(g, a->id, 0, pair_done, a, &e) != SP_OK) {
				sp_warn("control plane: %s", e.msg);
				free(a);
			}
		}
	} else {
		out.type = SP_CP_PAIR_ERR;
		out.code = rc;
		snprintf(out.text, sizeof(out.text), "%s", rc == SP_ESPACE ? "too long" : e.msg);
	}
	sodium_memzero(&u, sizeof(u));
	send_msg(c, &out);
	sodium_memzero(out.text, sizeof(out.text));
}

static void
on_msg(void *arg, const uint8_t *buf, size_t len)
{
	struct cp_conn *c = arg;
	sp_cp_msg *in = malloc(sizeof(*in));

	if (in == NULL)
		return;
	c->g->members->messages++;
	if (sp_cp_decode(buf, len, in) != SP_OK) {
		sp_warn("control plane: a malformed message from %s; closing", c->name);
		free(in);
		conn_free(c);
		return;
	}
	switch (in->type) {
	case SP_CP_HELLO:
		if (strcmp(in->name, c->name) != 0)
			sp_warn("control plane: %s says it is %s", c->name, in->name);
		c->hello = 1;
		members_msg(c->g, in);
		send_msg(c, in);
		break;
	case SP_CP_PAIR:
		pair_request(c, in);
		break;
	case SP_CP_PING:
		in->type = SP_CP_PONG;
		send_msg(c, in);
		break;
	default:
		break;
	}
	free(in);
}

static void
on_end(void *arg, const char *why)
{
	struct cp_conn *c = arg;

	sp_debug("control plane: %s left (%s)", c->name, why);
	conn_free(c);
}

/* The member whose overlay address this is, or NULL. */
static const sp_device *
member_at(sp_gateway *g, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family != AF_INET6)
		return NULL;
	for (size_t i = 0; i < g->ndevs; i++) {
		uint8_t a[16];
		sp_ula_device(g->d->cloud.prefix, g->devs[i].pub, a);
		if (memcmp(a, s6->sin6_addr.s6_addr, 16) == 0)
			return &g->devs[i];
	}
	return NULL;
}

static void
on_accept(void *arg, int fd, unsigned events)
{
	sp_gateway *g = arg;
	sp_gw_members *m = g->members;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const sp_device *dev;
	struct cp_conn *c;
	size_t slot;
	int cfd;

	(void)events;
	if ((cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if ((dev = member_at(g, &ss)) == NULL) {
		char a[80];
		m->refused++;
		sp_warn("control plane: refused %s: not a member's address",
		    sp_addr_format((struct sockaddr *)&ss, a, sizeof(a)));
		close(cfd);
		return;
	}
	for (slot = 0; slot < CP_MAX_CONNS && m->conns[slot] != NULL; slot++)
		;
	if (slot == CP_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		m->refused++;
		close(cfd);
		return;
	}
	c->g = g;
	snprintf(c->name, sizeof(c->name), "%s", dev->name);
	if (sp_stream_new(g->d->loop, cfd, 0, SP_CP_MSG_MAX, CP_OUT_MAX, CP_TIMEOUT_MS, on_msg,
	    NULL, on_end, c, &c->s) != SP_OK) {
		close(cfd);
		free(c);
		return;
	}
	/* A member's newer connection replaces its older one. */
	for (size_t i = 0; i < CP_MAX_CONNS; i++)
		if (m->conns[i] != NULL && strcmp(m->conns[i]->name, c->name) == 0)
			conn_free(m->conns[i]);
	m->conns[slot] = c;
}

int
gw_members_start(sp_gateway *g, sp_errmsg *e)
{
	struct sockaddr_in6 a;
	sp_gw_members *m;
	int rc;

	if (g->d->tunnel == NULL)
		return SP_OK;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	m->g = g;
	m->fd = -1;
	g->members = m;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(SP_CONTROL_PORT);
	sp_tunnel_address(g->d->tunnel, a.sin6_addr.s6_addr);
	if ((rc = sp_tcp_listen((struct sockaddr *)&a, sizeof(a), &m->fd, e)) != SP_OK)
		return rc;
	if ((rc = sp_loop_watch(g->d->loop, m->fd, SP_IO_READ, on_accept, g, &m->watch)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	return SP_OK;
}

void
gw_members_stop(sp_gateway *g)
{
	sp_gw_members *m = g->members;

	if (m == NULL)
		return;
	for (size_t i = 0; i < CP_MAX_CONNS; i++)
		if (m->conns[i] != NULL)
			conn_free(m->conns[i]);
	sp_watch_cancel(m->watch);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	g->members = NULL;
}

void
gw_members_status(const sp_gateway *g, sp_ctl_reply *r)
{
	const sp_gw_members *m = g->members;
	size_t n = 0;

	if (m == NULL)
		return;
	for (size_t i = 0; i < CP_MAX_CONNS; i++)
		n += m->conns[i] != NULL && m->conns[i]->hello;
	sp_ctl_reply_field(r, "members-connected", "%zu", n);
	sp_ctl_reply_field(r, "control-plane-refused", "%llu", (unsigned long long)m->refused);
}
