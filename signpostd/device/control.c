/*
 * The members' control plane, the member's side (docs/control-plane.md): a
 * TCP connection to the gateway's overlay address, inside the WireGuard
 * session, kept up with pings and made again (1 s, then up to 30 s apart)
 * when it drops. It brings the member list, and carries a member's
 * `signpost pair` to the gateway.
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

#define CP_TIMEOUT_MS 90000
#define CP_PING_MS 30000
#define CP_RETRY_FIRST_MS 1000
#define CP_RETRY_MAX_MS 30000
#define CP_OUT_MAX (64 * 1024)

static void cp_connect(void *arg);

static void
cp_send(sp_member *m, const sp_cp_msg *msg)
{
	uint8_t buf[SP_CP_MSG_MAX + 2];
	size_t len;

	if (m->cp == NULL || !m->cp_up)
		return;
	if (sp_cp_encode(msg, buf, sizeof(buf), &len) != SP_OK ||
	    sp_stream_send(m->cp, buf, len) != SP_OK)
		sp_warn("member: a message to the gateway could not be queued");
}

/* Fail every request still waiting for the gateway. */
static void
fail_pending(sp_member *m, const char *why)
{
	while (m->npending > 0) {
		struct cp_pending p = m->pending[--m->npending];
		if (p.pair != NULL)
			p.pair(p.arg, SP_EIO, why, NULL);
		else if (p.joined != NULL)
			p.joined(p.arg, SP_EIO, why, NULL);
	}
}

static void
cp_down(sp_member *m, const char *why)
{
	if (m->cp_up)
		sp_info("member: the control plane to the gateway is down (%s)", why);
	sp_stream_free(m->cp);
	m->cp = NULL;
	m->cp_up = 0;
	sp_timer_disarm(m->cp_ping);
	fail_pending(m, "the connection to the gateway dropped");
	sp_timer_arm(m->cp_retry, m->cp_backoff);
	m->cp_backoff = m->cp_backoff * 2 > CP_RETRY_MAX_MS ? CP_RETRY_MAX_MS : m->cp_backoff * 2;
}

static void
on_end(void *arg, const char *why)
{
	cp_down(arg, why);
}

/* Requests nobody answered in time: their askers were told already (the
 * control socket's own deadline); only the slot is freed here. */
static void
sweep(sp_member *m)
{
	uint64_t now = sp_clock_mono_ms();

	for (size_t i = 0; i < m->npending;) {
		struct cp_pending p = m->pending[i];
		if (p.expires > now) {
			i++;
			continue;
		}
		m->pending[i] = m->pending[--m->npending];
		if (p.pair != NULL)
			p.pair(p.arg, SP_ETIMEOUT, "the gateway did not answer in time", NULL);
		else
			p.joined(p.arg, SP_ETIMEOUT, "the code expired unused", NULL);
	}
}

static void
on_ping(void *arg)
{
	sp_member *m = arg;
	sp_cp_msg msg;

	sweep(m);
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_PING;
	cp_send(m, &msg);
	sp_timer_arm(m->cp_ping, CP_PING_MS);
}

static void
on_up(void *arg)
{
	sp_member *m = arg;
	sp_cp_msg msg;

	m->cp_up = 1;
	m->cp_backoff = CP_RETRY_FIRST_MS;
	sp_info("member: the control plane to the gateway is up");
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_HELLO;
	msg.version = SP_CP_VERSION;
	snprintf(msg.name, sizeof(msg.name), "%s", m->d->cloud.name);
	cp_send(m, &msg);
	sp_timer_arm(m->cp_ping, CP_PING_MS);
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
		sp_warn("member: a malformed message from the gateway");
		return;
	}
	switch (in->type) {
	case SP_CP_MEMBERS:
		memcpy(m->list, in->members, in->nmembers * sizeof(in->members[0]));
		m->nlist = in->nmembers;
		break;
	case SP_CP_PAIR_OK:
	case SP_CP_PAIR_ERR:
		for (size_t i = 0; i < m->npending; i++) {
			struct cp_pending p = m->pending[i];
			if (p.pair == NULL || p.seq != in->seq)
				continue;
			m->pending[i] = m->pending[--m->npending];
			if (in->type == SP_CP_PAIR_OK)
				p.pair(p.arg, SP_OK, in->text, in->token_id);
			else
				p.pair(p.arg, in->code < 0 ? in->code : SP_EIO, in->text, NULL);
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
	default:
		break;
	}
	sodium_memzero(in->text, sizeof(in->text));
	free(in);
}

static void
cp_connect(void *arg)
{
	sp_member *m = arg;
	struct sockaddr_in6 a;
	int fd;

	if (m->cp != NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(m->gw.control_port);
	memcpy(a.sin6_addr.s6_addr, m->gw.addr, 16);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
	    errno != EINPROGRESS) || sp_stream_new(m->d->loop, fd, 1, SP_CP_MSG_MAX, CP_OUT_MAX,
	    CP_TIMEOUT_MS, on_msg, on_up, on_end, m, &m->cp) != SP_OK) {
		if (fd >= 0)
			close(fd);
		m->cp = NULL;
		sp_timer_arm(m->cp_retry, m->cp_backoff);
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
	fail_pending(m, "signpostd is stopping");
	sp_stream_free(m->cp);
	m->cp = NULL;
	sp_timer_free(m->cp_retry);
	sp_timer_free(m->cp_ping);
}

int
sp_member_pair(sp_member *m, const char *name, uint32_t ttl, sp_member_pair_fn fn, void *arg,
    sp_errmsg *e)
{
	sp_cp_msg msg;

	if (!m->cp_up)
		return sp_errf(e, SP_EIO, "not connected to the gateway now; try again shortly");
	if (m->npending == CP_PENDING_MAX)
		return sp_errf(e, SP_EBUSY, "too many requests waiting for the gateway");
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_PAIR;
	msg.seq = ++m->seq;
	msg.ttl = ttl;
	snprintf(msg.name, sizeof(msg.name), "%s", name);
	memset(&m->pending[m->npending], 0, sizeof(m->pending[0]));
	m->pending[m->npending].seq = msg.seq;
	m->pending[m->npending].pair = fn;
	m->pending[m->npending].expires = sp_clock_mono_ms() + CP_TIMEOUT_MS;
	m->pending[m->npending].arg = arg;
	m->npending++;
	cp_send(m, &msg);
	return SP_OK;
}

int
sp_member_pair_wait(sp_member *m, const uint8_t id[8], uint32_t timeout_ms,
    sp_member_joined_fn fn, void *arg, sp_errmsg *e)
{
	if (m->npending == CP_PENDING_MAX)
		return sp_errf(e, SP_EBUSY, "too many requests waiting for the gateway");
	memset(&m->pending[m->npending], 0, sizeof(m->pending[0]));
	memcpy(m->pending[m->npending].id, id, 8);
	m->pending[m->npending].joined = fn;
	m->pending[m->npending].expires = sp_clock_mono_ms() + timeout_ms;
	m->pending[m->npending].arg = arg;
	m->npending++;
	return SP_OK;
}

void
sp_member_forget(sp_member *m, void *arg)
{
	for (size_t i = 0; i < m->npending;)
		if (m->pending[i].arg == arg)
			m->pending[i] = m->pending[--m->npending];
		else
			i++;
}

size_t
sp_member_list(const sp_member *m, const sp_cp_member **out)
{
	*out = m->list;
	return m->nlist;
}
