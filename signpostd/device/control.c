/*
 * The members' control plane, the member's side (docs/control-plane.md): a
 * TCP connection to the gateway's overlay address, bound to the tunnel
 * interface, kept up with pings and made again (1 s, then up to 30 s
 * apart) when it drops. The gateway's CHALLENGE is answered with HELLO,
 * signed with this device's identity key; then the member list arrives,
 * and a member's `signpost pair` and `pair wait` are carried to the
 * gateway.
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

#include "daemon.h"
#include "member_int.h"
#include "sp_log.h"
#include "stream.h"
#include "tunnel.h"

#define CP_TIMEOUT_MS 90000
#define CP_PING_MS 30000
#define CP_RETRY_FIRST_MS 1000
#define CP_RETRY_MAX_MS 30000
#define CP_OUT_MAX (64 * 1024)
#define CP_LIST_MAX 65536            /* members, in a list arriving in parts */

static void cp_connect(void *arg);

/* Queue a message; a gateway that does not read ends the connection. */
int
cp_send(sp_member *m, const sp_cp_msg *msg)
{
	uint8_t buf[SP_CP_MSG_MAX + 2];
	size_t len;
	int rc;

	if (m->cp == NULL)
		return SP_EIO;
	if (sp_cp_encode(msg, buf, sizeof(buf), &len) != SP_OK) {
		sp_err("member: a message to the gateway does not fit");
		return SP_ESPACE;
	}
	rc = sp_stream_send(m->cp, buf, len);
	sodium_memzero(buf, len);
	if (rc != SP_OK) {
		sp_stream_close(m->cp, "the gateway is not reading");
		return SP_EIO;
	}
	return SP_OK;
}

static void
end_pending(sp_member *m, size_t i, int rc, const char *why)
{
	struct cp_pending p = m->pending[i];

	m->pending[i] = m->pending[--m->npending];
	if (p.pair != NULL)
		p.pair(p.arg, rc, why, NULL, 0);
	else
		p.joined(p.arg, rc, why, NULL);
}

static void
cp_down(sp_member *m, const char *why)
{
	if (m->cp_up)
		sp_info("member: the control plane to the gateway is down (%s)", why);
	sp_stream_free(m->cp);   /* safe inside the stream's own callbacks */
	m->cp = NULL;
	m->cp_up = m->cp_hello = 0;
	m->nincoming = 0;
	m->incoming_bad = 0;
	sp_timer_disarm(m->cp_ping);
	/* Requests die with the connection; waits are asked again after it. */
	for (size_t i = 0; i < m->npending;)
		if (m->pending[i].pair != NULL)
			end_pending(m, i, SP_EIO, "the connection to the gateway dropped");
		else
			i++;
	sp_timer_arm(m->cp_retry, m->cp_backoff);
	m->cp_backoff = m->cp_backoff * 2 > CP_RETRY_MAX_MS ? CP_RETRY_MAX_MS : m->cp_backoff * 2;
}

void
cp_reconnect(sp_member *m, const char *why)
{
	if (m->cp == NULL)
		return;   /* already down: its retry is armed */
	m->cp_backoff = CP_RETRY_FIRST_MS;
	cp_down(m, why);
}

static void
on_end(void *arg, const char *why)
{
	cp_down(arg, why);
}

/* What nobody answered in time ends here: pair requests after the
 * control socket's own deadline, waits when their code has expired. */
static void
sweep(sp_member *m)
{
	uint64_t now = sp_clock_mono_ms();

	for (size_t i = 0; i < m->npending;)
		if (m->pending[i].expires <= now)
			end_pending(m, i, SP_ETIMEOUT, m->pending[i].pair != NULL ?
			    "the gateway did not answer in time" : "the code expired unused");
		else
			i++;
}

static void on_ping(void *arg);

void
cp_check(sp_member *m)
{
	if (m->cp_up)
		on_ping(m);
}

static void
on_ping(void *arg)
{
	sp_member *m = arg;
	sp_cp_msg msg;

	sweep(m);
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_PING;
	(void)cp_send(m, &msg);   /* a failure closed the connection */
	sp_timer_arm(m->cp_ping, CP_PING_MS);
}

static void
send_wait(sp_member *m, const struct cp_pending *p)
{
	sp_cp_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_WAIT;
	msg.seq = p->seq;
	memcpy(msg.token_id, p->id, sizeof(msg.token_id));
	(void)cp_send(m, &msg);   /* a failure closed the connection; resent on the next */
}

/* The connection is made: the gateway speaks first (CHALLENGE). */
static void
on_up(void *arg)
{
	sp_member *m = arg;

	sp_timer_arm(m->cp_ping, CP_PING_MS);
}

static void
on_challenge(sp_member *m, const sp_cp_msg *in)
{
	const sp_key *self = sp_daemon_device_key(m->d);
	uint8_t signed_part[SP_CP_HELLO_SIGNED];
	sp_cp_msg msg;

	if (m->cp_hello || self == NULL)
		return;
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_HELLO;
	/* The lower of the gateway's version and ours: a version-1 gateway
	 * refuses a HELLO of 2, and sends no ICE anyway. */
	msg.version = in->version >= 1 && in->version < SP_CP_VERSION ? in->version :
	    SP_CP_VERSION;
	snprintf(msg.name, sizeof(msg.name), "%s", m->d->cloud.name);
	sp_cp_hello_signed(in->nonce, m->gw.key, sp_key_info_of(self)->pub, signed_part);
	if (sp_key_sign(self, signed_part, sizeof(signed_part), msg.sig) != SP_OK) {
		sp_err("member: cannot sign the control plane's challenge");
		return;
	}
	m->cp_hello = 1;
	cp_send(m, &msg);
}

/* The gateway lists this device under another name: it was renamed
 * there (signpost rename). The cloud file follows, so status and the
 * next start say the new name. */
static void
renamed(sp_member *m)
{
	const sp_key *self = sp_daemon_device_key(m->d);
	sp_cloud c = m->d->cloud;
	sp_errmsg e;

	for (size_t i = 0; self != NULL && i < m->nlist; i++) {
		if (m->list[i].kind != SP_CP_KIND_SIGNPOST ||
		    memcmp(m->list[i].key, sp_key_info_of(self)->pub, SP_KEY_PUBLIC_BYTES) != 0 ||
		    strcmp(m->list[i].name, c.name) == 0)
			continue;
		if (sp_device_name_check(m->list[i].name, &e) != SP_OK)
			return;
		snprintf(c.name, sizeof(c.name), "%s", m->list[i].name);
		if (sp_cloud_save(m->d->store, &c, &e) != SP_OK) {
			sp_warn("member: renamed %s by the gateway, but %s", c.name, e.msg);
			return;
		}
		sp_info("member: this device was renamed %s.%s by its gateway (it was %s)", c.name,
		    c.zone, m->d->cloud.name);
		m->d->cloud = c;
		return;
	}
}

/* A part of the member list; the last one replaces the list. */
static void
on_members(sp_member *m, const sp_cp_msg *in)
{
	sp_cp_member *nl;

	if (m->incoming_bad || m->nincoming + in->nmembers > CP_LIST_MAX) {
		/* Too long: this list's parts are dropped, to its last one. */
		if (!m->incoming_bad)
			sp_warn("member: the gateway's member list is over %d entries; keeping "
			    "the old one", CP_LIST_MAX);
		m->nincoming = 0;
		m->incoming_bad = in->more != 0;
		return;
	}
	if (in->nmembers > 0) {
		nl = realloc(m->incoming, (m->nincoming + in->nmembers) * sizeof(*nl));
		if (nl == NULL) {
			m->nincoming = 0;
			return;
		}
		m->incoming = nl;
		memcpy(m->incoming + m->nincoming, in->members, in->nmembers * sizeof(*nl));
		m->nincoming += in->nmembers;
	}
	/* TURN credentials, when the gateway has a TURN server, come in the
	 * list's first part and in every PONG. */
	if (m->nincoming == in->nmembers)   /* the list's first part */
		ice_set_turn(m, in->turn_server, in->turn_user, in->turn_password);
	/* Our way into the relay comes in the list's first part. */
	if (in->relay_self != 0) {
		peers_relay_self(m, in->relay_self, in->relay_key);
		m->tls_port = in->relay_tls_port != 0 ? (uint16_t)in->relay_tls_port : 443;
	}
	if (in->more)
		return;
	nl = m->list;
	m->list = m->incoming;
	m->nlist = m->nincoming;
	m->incoming = nl;
	m->nincoming = 0;
	renamed(m);
	peers_sync(m);
	if (!m->cp_up) {
		/* Verified, and current: now it is up, and only now does the
		 * backoff start again from its shortest. */
		m->cp_up = 1;
		m->cp_backoff = CP_RETRY_FIRST_MS;
		sp_info("member: the control plane to the gateway is up");
		for (size_t i = 0; i < m->npending; i++)
			if (m->pending[i].joined != NULL)
				send_wait(m, &m->pending[i]);
		ice_cp_up(m);
	}
}

static void
on_msg(void *arg, const uint8_t *buf, size_t len)
{
	sp_member *m = arg;
	sp_cp_msg *in = malloc(sizeof(*in));

	if (in == NULL)
		return;
	if (sp_cp_decode(buf, len, in) != SP_OK) {
		free(in);
		sp_stream_close(m->cp, "a malformed message from the gateway");
		return;
	}
	switch (in->type) {
	case SP_CP_CHALLENGE:
		on_challenge(m, in);
		break;
	case SP_CP_MEMBERS:
		on_members(m, in);
		break;
	case SP_CP_PAIR_OK:
	case SP_CP_PAIR_ERR:
		for (size_t i = 0; i < m->npending; i++) {
			struct cp_pending p = m->pending[i];
			/* A request's answer by its seq; a wait's refusal by its code. */
			int mine = p.pair != NULL ? p.seq == in->seq :
			    in->type == SP_CP_PAIR_ERR && memcmp(p.id, in->token_id, sizeof(p.id)) == 0;
			if (!mine)
				continue;
			m->pending[i] = m->pending[--m->npending];
			if (p.pair != NULL && in->type == SP_CP_PAIR_OK)
				p.pair(p.arg, SP_OK, in->text, in->token_id, in->chosen != 0);
			else if (p.pair != NULL)
				p.pair(p.arg, in->code < 0 ? in->code : SP_EIO, in->text, NULL, 0);
			else
				p.joined(p.arg, in->code < 0 ? in->code : SP_EIO, in->text, NULL);
			break;
		}
		break;
	case SP_CP_JOINED:
		for (size_t i = 0; i < m->npending;) {
			struct cp_pending p = m->pending[i];
			if (p.joined == NULL || memcmp(p.id, in->token_id, sizeof(p.id)) != 0) {
				i++;
				continue;
			}
			m->pending[i] = m->pending[--m->npending];
			p.joined(p.arg, SP_OK, in->name, in->addr);
		}
		break;
	case SP_CP_ICE:
		if (m->cp_up)
			ice_on_msg(m, in);
		break;
	case SP_CP_PONG:
		/* Credentials in every PONG while the gateway has a TURN server;
		 * none: it has none (any more). */
		ice_set_turn(m, in->turn_server, in->turn_user, in->turn_password);
		break;
	default:
		break;   /* a newer gateway's message */
	}
	sodium_memzero(in->turn_password, sizeof(in->turn_password));
	sodium_memzero(in->pwd, sizeof(in->pwd));
	sodium_memzero(in->text, sizeof(in->text));
	sodium_memzero(in->relay_key, sizeof(in->relay_key));
	free(in);
}

static void
cp_connect(void *arg)
{
	sp_member *m = arg;
	struct sockaddr_in6 a;
	const char *ifname;
	int fd;

	if (m->cp != NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(m->gw.control_port);
	memcpy(a.sin6_addr.s6_addr, m->gw.addr, 16);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* Into the tunnel only, whatever the routing table says. */
	ifname = m->d->tunnel != NULL ? sp_tunnel_ifname(m->d->tunnel) : NULL;
	if (fd >= 0 && ifname != NULL && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
	    (socklen_t)strlen(ifname)) != 0) {
		sp_warn("member: the control plane: binding to %s: %s", ifname, strerror(errno));
		close(fd);
		fd = -1;
	}
	/* From our overlay address, said outright: just after the tunnel came
	 * up that address may still be tentative, and the kernel would pick
	 * the link-local one, which cryptokey routing drops at the gateway (a
	 * connection that never opens). Freebind takes it while tentative. */
	if (fd >= 0 && m->d->tunnel != NULL) {
		struct sockaddr_in6 self;
		int one = 1;
		memset(&self, 0, sizeof(self));
		self.sin6_family = AF_INET6;
		sp_tunnel_address(m->d->tunnel, self.sin6_addr.s6_addr);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) != 0 ||
		    bind(fd, (struct sockaddr *)&self, sizeof(self)) != 0) {
			sp_warn("member: the control plane: binding the overlay address: %s",
			    strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
	    errno != EINPROGRESS) || sp_stream_new(m->d->loop, fd, 1, SP_CP_MSG_MAX, CP_OUT_MAX,
	    CP_TIMEOUT_MS, on_msg, on_up, on_end, m, &m->cp) != SP_OK) {
		if (fd >= 0)
			close(fd);
		m->cp = NULL;
		sp_timer_arm(m->cp_retry, m->cp_backoff);
		m->cp_backoff = m->cp_backoff * 2 > CP_RETRY_MAX_MS ? CP_RETRY_MAX_MS :
		    m->cp_backoff * 2;
		return;
	}
}

int
cp_start(sp_member *m, sp_errmsg *e)
{
	int rc;

	m->cp_backoff = CP_RETRY_FIRST_MS;
	if ((rc = sp_timer_new(m->d->loop, cp_connect, m, &m->cp_retry)) != SP_OK ||
	    (rc = sp_timer_new(m->d->loop, on_ping, m, &m->cp_ping)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	/* The session may need a handshake first: TCP's own retries cover it. */
	cp_connect(m);
	return SP_OK;
}

void
cp_stop(sp_member *m)
{
	while (m->npending > 0)
		end_pending(m, m->npending - 1, SP_EIO, "signpostd is stopping");
	sp_stream_free(m->cp);
	m->cp = NULL;
	sp_timer_free(m->cp_retry);
	sp_timer_free(m->cp_ping);
	free(m->list);
	free(m->incoming);
	m->list = m->incoming = NULL;
	m->nlist = m->nincoming = 0;
}

static struct cp_pending *
pending_new(sp_member *m, uint64_t tag, void *arg, uint64_t expires_ms, sp_errmsg *e)
{
	struct cp_pending *p;

	if (m->npending == CP_PENDING_MAX) {
		sp_errf(e, SP_EBUSY, "too many requests waiting for the gateway");
		return NULL;
	}
	p = &m->pending[m->npending++];
	memset(p, 0, sizeof(*p));
	p->seq = ++m->seq;
	p->tag = tag;
	p->arg = arg;
	p->expires = sp_clock_mono_ms() + expires_ms;
	return p;
}

int
sp_member_pair(sp_member *m, const char *name, uint32_t ttl, uint64_t tag,
    sp_member_pair_fn fn, void *arg, sp_errmsg *e)
{
	struct cp_pending *p;
	sp_cp_msg msg;

	if (!m->cp_up)
		return sp_errf(e, SP_EIO, "not connected to the gateway now; try again shortly");
	if ((p = pending_new(m, tag, arg, CP_TIMEOUT_MS, e)) == NULL)
		return SP_EBUSY;
	p->pair = fn;
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_PAIR;
	msg.seq = p->seq;
	msg.ttl = ttl;
	snprintf(msg.name, sizeof(msg.name), "%s", name);
	cp_send(m, &msg);
	return SP_OK;
}

int
sp_member_pair_wait(sp_member *m, const uint8_t id[8], uint32_t timeout_ms, uint64_t tag,
    sp_member_joined_fn fn, void *arg, sp_errmsg *e)
{
	struct cp_pending *p;

	if ((p = pending_new(m, tag, arg, timeout_ms, e)) == NULL)
		return SP_EBUSY;
	p->joined = fn;
	memcpy(p->id, id, sizeof(p->id));
	/* Asked now, or when the control plane is (back) up. */
	if (m->cp_up)
		send_wait(m, p);
	return SP_OK;
}

void
sp_member_forget(sp_member *m, uint64_t tag)
{
	for (size_t i = 0; i < m->npending;)
		if (m->pending[i].tag == tag)
			end_pending(m, i, SP_EIO, "the asker left");
		else
			i++;
}

size_t
sp_member_list(const sp_member *m, const sp_cp_member **out)
{
	*out = m->list;
	return m->nlist;
}
