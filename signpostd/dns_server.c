#define _GNU_SOURCE
#include "dns_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "daemon.h"
#include "sp_xfr.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_rollover.h"
#include "sp_rrl.h"

#define UDP_BATCH 64
#define UDP_BUF 4096
#define UDP_ROUNDS 16             /* batches per wake-up, then let others run */
#define TCP_MAX_CONNS 64
#define TCP_IDLE_MS 10000
#define ZONE_STATE "zone"

struct udp_listener {
	sp_dns_server *srv;
	int fd;
	sp_watch *watch;
};

struct tcp_conn {
	sp_dns_server *srv;
	int fd;
	sp_watch *watch;
	sp_timer *timer;
	uint8_t in[2 + 65535];
	size_t inlen;
	uint8_t *out;                 /* pending output (length-prefixed) */
	size_t outlen, outsent, outcap;
};

struct tcp_listener {
	sp_dns_server *srv;
	int fd;
	sp_watch *watch;
};

#define NOTIFY_TRIES 5
#define NOTIFY_INTERVAL_MS 2000

/* A NOTIFY in flight to one secondary, retried until it answers. */
struct notify {
	sp_dns_server *s;
	size_t secondary;
	uint16_t id;
	int tries;
	int fd;
	sp_watch *watch;
	sp_timer *timer;
	int done;
};

static void notify_finish(struct notify *n);

struct sp_dns_server {
	sp_daemon *d;
	sp_answerer *answerer;
	sp_rrl *rrl;
	sp_zone *zone;
	sp_device *devs;
	size_t ndevs;
	uint32_t serial;
	sp_timer *refresh;
	sp_timer *rollover;
	struct notify *notifies;        /* one per configured secondary */
	struct udp_listener udp[SP_CONF_MAX_LISTEN];
	struct tcp_listener tcp[SP_CONF_MAX_LISTEN];
	size_t nlisten;
	struct tcp_conn *conns[TCP_MAX_CONNS];
	/* Batch buffers, kept here so the hot path never allocates. */
	struct mmsghdr in_msgs[UDP_BATCH], out_msgs[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH], out_iov[UDP_BATCH];
	struct sockaddr_storage addrs[UDP_BATCH];
	uint8_t in_buf[UDP_BATCH][UDP_BUF];
	uint8_t out_buf[UDP_BATCH][UDP_BUF];
};

/* ---- serial and zone ---------------------------------------------------- */

static int
load_serial(sp_store *s, uint32_t *serial)
{
	uint8_t *data;
	size_t len;
	unsigned lineno = 0;
	sp_kv kv;
	sp_wire r;

	*serial = 0;
	if (sp_store_get(s, ZONE_STATE, &data, &len, NULL) != SP_OK)
		return SP_OK;
	r = sp_wire_reader(data, len);
	while (sp_kv_next(&r, ZONE_STATE, &lineno, &kv, NULL) == 1)
		if (strcmp(kv.key, "serial") == 0)
			*serial = (uint32_t)strtoul(kv.value, NULL, 10);
	sp_store_release(data, len);
	return SP_OK;
}

/* The next serial: the time, or one more than the last if that is later
 * (RFC 1982 arithmetic keeps working past the wrap). */
static uint32_t
next_serial(uint32_t last, int64_t now)
{
	uint32_t t = (uint32_t)now;

	return (int32_t)(t - last) > 0 ? t : last + 1;
}

static int
rebuild(sp_dns_server *s, int bump, sp_errmsg *e)
{
	sp_daemon *d = s->d;
	int64_t now = sp_clock_wall();
	uint32_t serial = bump ? next_serial(s->serial, now) : s->serial;
	sp_zone *z;
	int rc;

	rc = sp_zone_build(&d->cloud, d->keys, d->nkeys, s->devs, s->ndevs,
	    &d->conf.zone, serial, now, s->zone, &z, e);
	if (rc != SP_OK)
		return rc;
	if (bump) {
		char text[64];
		int n = snprintf(text, sizeof(text), "serial %u\n", serial);
		if ((rc = sp_store_put(d->store, ZONE_STATE, text, (size_t)n, e)) != SP_OK) {
			sp_zone_free(z);
			return rc;
		}
		s->serial = serial;
	}
	sp_answerer_set_zone(s->answerer, z);
	sp_zone_free(s->zone);
	s->zone = z;
	sp_debug("zone %s serial %u: %zu names, %zu new signatures", d->cloud.zone,
	    serial, sp_zone_node_count(z), sp_zone_signed_count(z));
	return SP_OK;
}

static void schedule_refresh(sp_dns_server *s);
static void notify_all(sp_dns_server *s);

static void
on_refresh(void *arg)
{
	sp_dns_server *s = arg;
	sp_errmsg e;

	s->refresh = NULL;
	if (rebuild(s, 0, &e) != SP_OK)
		sp_err("re-signing the zone: %s", e.msg);
	schedule_refresh(s);
}

static void
schedule_refresh(sp_dns_server *s)
{
	int64_t now = sp_clock_wall(), due = sp_zone_next_refresh(s->zone);
	uint64_t delay = due > now ? (uint64_t)(due - now) * 1000 : 0;

	/* Wake at least hourly: cheap, and it bounds the effect of a clock
	 * that jumped while we slept. */
	if (delay > 3600 * 1000)
		delay = 3600 * 1000;
	sp_timer_cancel(s->refresh);
	sp_loop_timer(s->d->loop, delay, on_refresh, s, &s->refresh);
}

int
sp_dns_zone_changed(sp_dns_server *s, sp_errmsg *e)
{
	int rc = rebuild(s, 1, e);

	if (rc == SP_OK) {
		schedule_refresh(s);
		notify_all(s);
	}
	return rc;
}

/* ---- key rollover --------------------------------------------------------- */

static void
rollover_policy(const sp_daemon *d, sp_rollover_policy *p)
{
	sp_rollover_policy_default(p);
	p->dnskey_ttl = d->conf.zone.key_ttl;
	p->max_ttl = d->conf.zone.key_ttl > d->conf.zone.ttl ? d->conf.zone.key_ttl
	    : d->conf.zone.ttl;
	if (d->conf.zsk_lifetime >= 0)
		p->zsk_lifetime = (uint32_t)d->conf.zsk_lifetime;
	if (d->conf.propagation_delay >= 0)
		p->propagation = (uint32_t)d->conf.propagation_delay;
}

static const sp_seal *
daemon_seal(const sp_daemon *d, sp_seal *seal)
{
	if (d->pass == NULL)
		return NULL;
	memset(seal, 0, sizeof(*seal));
	seal->pass = d->pass;
	seal->passlen = d->passlen;
	return seal;
}

/* Generate a zone key in the given state, store it and add it to ours. */
static int
add_zone_key(sp_dns_server *s, sp_key_role role, sp_key_state state, sp_errmsg *e)
{
	sp_daemon *d = s->d;
	int64_t now = sp_clock_wall();
	sp_key **nk, *k;
	sp_seal seal;
	int rc;

	if ((nk = realloc(d->keys, (d->nkeys + 1) * sizeof(*nk))) == NULL)
		return SP_ENOMEM;
	d->keys = nk;
	if ((rc = sp_key_generate(role, now, &k)) != SP_OK)
		return sp_errf(e, rc, "generating a %s: %s", sp_key_role_name(role), sp_strerror(rc));
	sp_key_set_state(k, state, now);
	if ((rc = sp_keystore_add(d->store, k, daemon_seal(d, &seal), e)) != SP_OK) {
		sp_key_free(k);
		return rc;
	}
	d->keys[d->nkeys++] = k;
	sp_info("key rollover: new %s %u (%s) is %s", sp_key_role_name(role),
	    sp_key_info_of(k)->tag, sp_key_info_of(k)->id, sp_key_state_name(state));
	return SP_OK;
}

static int
set_key_state(sp_dns_server *s, sp_key *k, sp_key_state state, sp_errmsg *e)
{
	sp_seal seal;

	sp_key_set_state(k, state, sp_clock_wall());
	sp_info("key rollover: %s %u (%s) is %s", sp_key_role_name(sp_key_info_of(k)->role),
	    sp_key_info_of(k)->tag, sp_key_info_of(k)->id, sp_key_state_name(state));
	return sp_keystore_update(s->d->store, k, daemon_seal(s->d, &seal), e);
}

/* Delete a key: from disk, from our set, then from the zone; freed last,
 * once no snapshot refers to it. */
static int
remove_zone_key(sp_dns_server *s, size_t i, sp_errmsg *e)
{
	sp_daemon *d = s->d;
	sp_key *k = d->keys[i];
	int rc;

	if ((rc = sp_keystore_remove(d->store, sp_key_info_of(k), e)) != SP_OK)
		return rc;
	sp_info("key rollover: %s %u (%s) removed", sp_key_role_name(sp_key_info_of(k)->role),
	    sp_key_info_of(k)->tag, sp_key_info_of(k)->id);
	d->keys[i] = d->keys[--d->nkeys];
	rc = sp_dns_zone_changed(s, e);
	sp_key_free(k);
	return rc;
}

static void schedule_rollover(sp_dns_server *s, int force);

static void
on_rollover(void *arg)
{
	sp_dns_server *s = arg;

	s->rollover = NULL;
	schedule_rollover(s, 0);
}

/* Take every rollover step that is due, then sleep until the next one. */
static void
schedule_rollover(sp_dns_server *s, int force)
{
	sp_daemon *d = s->d;
	sp_rollover_policy pol;
	sp_rollover_step step;
	sp_errmsg e;
	int64_t now;

	rollover_policy(d, &pol);
	for (int guard = 0; guard < 8; guard++) {
		sp_key_info infos[32];
		size_t n = d->nkeys < 32 ? d->nkeys : 32;
		int rc = SP_OK;

		for (size_t i = 0; i < n; i++)
			infos[i] = *sp_key_info_of(d->keys[i]);
		now = sp_clock_wall();
		sp_rollover_plan(infos, n, &pol, now, force, &step);
		force = 0;
		if (step.action == SP_ROLL_NONE)
			break;
		if (step.action == SP_ROLL_PUBLISH_ZSK) {
			rc = add_zone_key(s, SP_ROLE_ZSK, SP_KSTATE_PUBLISHED, &e);
			if (rc == SP_OK)
				rc = sp_dns_zone_changed(s, &e);
		} else if (step.action == SP_ROLL_ACTIVATE_ZSK) {
			for (size_t i = 0; rc == SP_OK && i < n; i++)
				if (infos[i].role == SP_ROLE_ZSK && infos[i].state == SP_KSTATE_ACTIVE)
					rc = set_key_state(s, d->keys[i], SP_KSTATE_RETIRED, &e);
			if (rc == SP_OK)
				rc = set_key_state(s, d->keys[step.key], SP_KSTATE_ACTIVE, &e);
			if (rc == SP_OK)
				rc = sp_dns_zone_changed(s, &e);
		} else if (step.action == SP_ROLL_REMOVE_ZSK) {
			rc = remove_zone_key(s, step.key, &e);
		}
		if (rc != SP_OK) {
			sp_err("key rollover: %s; trying again in a minute", e.msg);
			step.next = now + 60;
			break;
		}
	}
	now = sp_clock_wall();
	sp_timer_cancel(s->rollover);
	sp_loop_timer(d->loop, step.next > now ? (uint64_t)(step.next - now) * 1000 : 1000,
	    on_rollover, s, &s->rollover);
}

int
sp_dns_rollover_zsk(sp_dns_server *s, sp_errmsg *e)
{
	for (size_t i = 0; i < s->d->nkeys; i++)
		if (sp_key_info_of(s->d->keys[i])->role == SP_ROLE_ZSK &&
		    sp_key_info_of(s->d->keys[i])->state != SP_KSTATE_ACTIVE)
			return sp_errf(e, SP_EEXIST, "a ZSK rollover is already under way");
	schedule_rollover(s, 1);
	return SP_OK;
}

int
sp_dns_rollover_ksk(sp_dns_server *s, sp_errmsg *e)
{
	size_t active = 0;
	int rc;

	for (size_t i = 0; i < s->d->nkeys; i++)
		if (sp_key_info_of(s->d->keys[i])->role == SP_ROLE_KSK &&
		    sp_key_info_of(s->d->keys[i])->state == SP_KSTATE_ACTIVE)
			active++;
	if (active > 1)
		return sp_errf(e, SP_EEXIST, "a KSK rollover is already under way; finish it "
		    "with 'signpost zone rollover ksk --complete'");
	/* Double-KSK: the new key signs the DNSKEY set at once, alongside the
	 * old, so either DS at the parent validates while it changes. */
	if ((rc = add_zone_key(s, SP_ROLE_KSK, SP_KSTATE_ACTIVE, e)) != SP_OK)
		return rc;
	return sp_dns_zone_changed(s, e);
}

int
sp_dns_rollover_ksk_complete(sp_dns_server *s, sp_errmsg *e)
{
	sp_daemon *d = s->d;
	size_t newest = d->nkeys, active = 0;
	int rc = SP_OK;

	for (size_t i = 0; i < d->nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->role != SP_ROLE_KSK || k->state != SP_KSTATE_ACTIVE)
			continue;
		active++;
		if (newest == d->nkeys || k->created > sp_key_info_of(d->keys[newest])->created)
			newest = i;
	}
	if (active < 2)
		return sp_errf(e, SP_ENOENT, "no KSK rollover is under way");
	const sp_key *keep = d->keys[newest];
	for (size_t i = 0; rc == SP_OK && i < d->nkeys;) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->role == SP_ROLE_KSK && d->keys[i] != keep)
			rc = remove_zone_key(s, i, e);
		else
			i++;
	}
	return rc;
}

/* ---- UDP ---------------------------------------------------------------- */

static enum sp_rrl_kind
rrl_kind(enum sp_answer_kind k)
{
	switch (k) {
	case SP_ANS_ANSWER: return SP_RRL_ANSWER;
	case SP_ANS_NODATA: return SP_RRL_NODATA;
	case SP_ANS_NXDOMAIN: return SP_RRL_NXDOMAIN;
	default: return SP_RRL_ERROR;
	}
}

static void
on_udp(void *arg, int fd, unsigned events)
{
	struct udp_listener *l = arg;
	sp_dns_server *s = l->srv;
	int64_t now = sp_clock_wall();
	uint64_t now_ms = sp_clock_mono_ms();

	(void)events;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n, out = 0;

		for (int i = 0; i < UDP_BATCH; i++) {
			s->in_iov[i].iov_base = s->in_buf[i];
			s->in_iov[i].iov_len = UDP_BUF;
			memset(&s->in_msgs[i].msg_hdr, 0, sizeof(s->in_msgs[i].msg_hdr));
			s->in_msgs[i].msg_hdr.msg_iov = &s->in_iov[i];
			s->in_msgs[i].msg_hdr.msg_iovlen = 1;
			s->in_msgs[i].msg_hdr.msg_name = &s->addrs[i];
			s->in_msgs[i].msg_hdr.msg_namelen = sizeof(s->addrs[i]);
		}
		n = recvmmsg(fd, s->in_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			sp_answer_info info;
			size_t len = sp_answer(s->answerer, s->in_buf[i], s->in_msgs[i].msg_len, 0,
			    now, s->out_buf[out], UDP_BUF, &info);
			if (len == 0)
				continue;
			if (s->rrl != NULL) {
				enum sp_rrl_verdict v = sp_rrl_check(s->rrl,
				    (struct sockaddr *)&s->addrs[i], rrl_kind(info.kind),
				    info.qname, info.qname_len, now_ms);
				if (v == SP_RRL_DROP)
					continue;
				if (v == SP_RRL_SLIP) {
					/* Header and question with TC: a real client
					 * retries over TCP, a spoofed victim gets
					 * nothing bigger than its query. */
					size_t ql = info.qname_len + 4 + SP_DNS_HEADER;
					uint8_t *o = s->out_buf[out];
					if (ql > len)
						ql = SP_DNS_HEADER;
					o[2] |= SP_F_TC >> 8;
					o[4] = 0;
					o[5] = ql > SP_DNS_HEADER ? 1 : 0;
					memset(o + 6, 0, 6);
					len = ql;
				}
			}
			s->out_iov[out].iov_base = s->out_buf[out];
			s->out_iov[out].iov_len = len;
			memset(&s->out_msgs[out].msg_hdr, 0, sizeof(s->out_msgs[out].msg_hdr));
			s->out_msgs[out].msg_hdr.msg_iov = &s->out_iov[out];
			s->out_msgs[out].msg_hdr.msg_iovlen = 1;
			s->out_msgs[out].msg_hdr.msg_name = &s->addrs[i];
			s->out_msgs[out].msg_hdr.msg_namelen = s->in_msgs[i].msg_hdr.msg_namelen;
			out++;
		}
		for (int sent = 0; sent < out;) {
			int m = sendmmsg(fd, s->out_msgs + sent, (unsigned)(out - sent), MSG_DONTWAIT);
			if (m <= 0)
				break;   /* a full socket buffer drops, as UDP does */
			sent += m;
		}
		if (n < UDP_BATCH)
			return;
	}
}

/* ---- TCP ---------------------------------------------------------------- */

struct tcp_conn;
static int sp_dns_xfr(sp_dns_server *s, const uint8_t *q, size_t len, struct tcp_conn *c,
    int (*queue)(struct tcp_conn *, const uint8_t *, size_t));

static void
tcp_close(struct tcp_conn *c)
{
	sp_dns_server *s = c->srv;

	for (size_t i = 0; i < TCP_MAX_CONNS; i++)
		if (s->conns[i] == c)
			s->conns[i] = NULL;
	sp_watch_cancel(c->watch);
	sp_timer_cancel(c->timer);
	close(c->fd);
	free(c->out);
	free(c);
}

static void
tcp_idle(void *arg)
{
	struct tcp_conn *c = arg;

	c->timer = NULL;
	tcp_close(c);
}

static int
tcp_queue(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (c->outlen + len + 2 > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		uint8_t *n;
		while (cap < c->outlen + len + 2)
			cap *= 2;
		if ((n = realloc(c->out, cap)) == NULL)
			return SP_ENOMEM;
		c->out = n;
		c->outcap = cap;
	}
	c->out[c->outlen] = (uint8_t)(len >> 8);
	c->out[c->outlen + 1] = (uint8_t)len;
	memcpy(c->out + c->outlen + 2, msg, len);
	c->outlen += len + 2;
	return SP_OK;
}

static void
tcp_io(void *arg, int fd, unsigned events)
{
	struct tcp_conn *c = arg;
	sp_dns_server *s = c->srv;
	ssize_t n;

	if ((events & SP_IO_WRITE) && c->outsent < c->outlen) {
		n = send(fd, c->out + c->outsent, c->outlen - c->outsent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tcp_close(c);
			return;
		}
		if (n > 0)
			c->outsent += (size_t)n;
		if (c->outsent == c->outlen)
			c->outsent = c->outlen = 0;
	}
	if (events & SP_IO_READ) {
		n = read(fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tcp_close(c);
			return;
		}
		if (n > 0)
			c->inlen += (size_t)n;
		/* Answer every complete message (pipelining, RFC 7766 6.2.1). */
		while (c->inlen >= 2) {
			size_t mlen = (size_t)c->in[0] << 8 | c->in[1];
			uint8_t resp[65535];
			sp_answer_info info;
			size_t len;

			if (c->inlen < 2 + mlen)
				break;
			len = sp_answer(s->answerer, c->in + 2, mlen, 1, sp_clock_wall(), resp,
			    sizeof(resp), &info);
			if (info.kind == SP_ANS_XFR) {
				if (sp_dns_xfr(s, c->in + 2, mlen, c, tcp_queue) != SP_OK) {
					tcp_close(c);
					return;
				}
			} else if (len > 0 && tcp_queue(c, resp, len) != SP_OK) {
				tcp_close(c);
				return;
			}
			memmove(c->in, c->in + 2 + mlen, c->inlen - 2 - mlen);
			c->inlen -= 2 + mlen;
		}
		sp_timer_cancel(c->timer);
		sp_loop_timer(s->d->loop, TCP_IDLE_MS, tcp_idle, c, &c->timer);
	}
	sp_watch_set_events(c->watch, SP_IO_READ | (c->outlen > c->outsent ? SP_IO_WRITE : 0));
}

static void
on_tcp_accept(void *arg, int fd, unsigned events)
{
	struct tcp_listener *l = arg;
	sp_dns_server *s = l->srv;
	struct tcp_conn *c;
	size_t slot;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	for (slot = 0; slot < TCP_MAX_CONNS && s->conns[slot] != NULL; slot++)
		;
	if (slot == TCP_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		close(cfd);
		return;
	}
	c->srv = s;
	c->fd = cfd;
	if (sp_loop_watch(s->d->loop, cfd, SP_IO_READ, tcp_io, c, &c->watch) != SP_OK ||
	    sp_loop_timer(s->d->loop, TCP_IDLE_MS, tcp_idle, c, &c->timer) != SP_OK) {
		sp_watch_cancel(c->watch);
		close(cfd);
		free(c);
		return;
	}
	s->conns[slot] = c;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

int
sp_dns_server_start(sp_daemon *d, sp_errmsg *e)
{
	sp_dns_server *s;
	sp_rrl_config rc_cfg;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SP_ENOMEM;
	s->d = d;
	d->dns = s;
	if ((rc = sp_answerer_new(0, &s->answerer)) != SP_OK)
		return rc;
	if (d->conf.nsecondary > 0) {
		if ((s->notifies = calloc(d->conf.nsecondary, sizeof(*s->notifies))) == NULL)
			return SP_ENOMEM;
		for (size_t i = 0; i < d->conf.nsecondary; i++)
			s->notifies[i].fd = -1;
	}
	sp_rrl_config_default(&rc_cfg);
	if (d->conf.rrl_rate >= 0)
		rc_cfg.rate = (unsigned)d->conf.rrl_rate;
	if (rc_cfg.rate > 0 && (rc = sp_rrl_new(&rc_cfg, &s->rrl)) != SP_OK)
		return rc;
	if ((rc = sp_devices_load(d->store, &s->devs, &s->ndevs, e)) != SP_OK)
		return rc;
	load_serial(d->store, &s->serial);
	if ((rc = sp_dns_zone_changed(s, e)) != SP_OK)
		return rc;
	schedule_rollover(s, 0);
	for (size_t i = 0; i < d->conf.ndns_listen; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&d->conf.dns_listen[i];
		socklen_t len = d->conf.dns_listen_len[i];
		char where[80];

		s->udp[i].srv = s->tcp[i].srv = s;
		s->udp[i].fd = s->tcp[i].fd = -1;
		s->nlisten++;
		if ((rc = sp_udp_bind(sa, len, &s->udp[i].fd, e)) != SP_OK ||
		    (rc = sp_tcp_listen(sa, len, &s->tcp[i].fd, e)) != SP_OK)
			return rc;
		{
			/* A burst larger than one batch waits in the kernel rather
			 * than being dropped (the kernel caps it at rmem_max). */
			int rcvbuf = 4 << 20;
			setsockopt(s->udp[i].fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		}
		if ((rc = sp_loop_watch(d->loop, s->udp[i].fd, SP_IO_READ, on_udp, &s->udp[i],
		    &s->udp[i].watch)) != SP_OK ||
		    (rc = sp_loop_watch(d->loop, s->tcp[i].fd, SP_IO_READ, on_tcp_accept,
		    &s->tcp[i], &s->tcp[i].watch)) != SP_OK)
			return rc;
		sp_info("DNS: serving %s on %s (UDP and TCP)%s", d->cloud.zone,
		    sp_addr_format(sa, where, sizeof(where)),
		    s->rrl == NULL ? ", rate limiting off" :
		    is_loopback(sa) ? ", rate limiting off for loopback clients" : "");
	}
	if (d->conf.ndns_listen == 0)
		sp_info("DNS: zone %s signed (serial %u); no dns-listen address, so not serving it",
		    d->cloud.zone, s->serial);
	return SP_OK;
}

void
sp_dns_server_stop(sp_dns_server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < TCP_MAX_CONNS; i++)
		if (s->conns[i] != NULL)
			tcp_close(s->conns[i]);
	for (size_t i = 0; i < s->nlisten; i++) {
		sp_watch_cancel(s->udp[i].watch);
		sp_watch_cancel(s->tcp[i].watch);
		if (s->udp[i].fd >= 0)
			close(s->udp[i].fd);
		if (s->tcp[i].fd >= 0)
			close(s->tcp[i].fd);
	}
	sp_timer_cancel(s->refresh);
	sp_timer_cancel(s->rollover);
	for (size_t i = 0; s->notifies != NULL && i < s->d->conf.nsecondary; i++)
		notify_finish(&s->notifies[i]);
	free(s->notifies);
	sp_answerer_free(s->answerer);
	sp_rrl_free(s->rrl);
	sp_zone_free(s->zone);
	free(s->devs);
	free(s);
}

/* ---- devices ------------------------------------------------------------- */

int
sp_dns_device_add(sp_dns_server *s, const sp_device *dev, sp_errmsg *e)
{
	sp_device *nd;
	size_t i;
	int rc;

	if (strcmp(dev->name, s->d->cloud.name) == 0)
		return sp_errf(e, SP_EEXIST, "'%s' is the gateway's own name", dev->name);
	for (i = 0; i < s->ndevs; i++)
		if (strcmp(s->devs[i].name, dev->name) == 0)
			return sp_errf(e, SP_EEXIST, "device '%s' already exists", dev->name);
	if ((rc = sp_device_save(s->d->store, dev, e)) != SP_OK)
		return rc;
	if ((nd = realloc(s->devs, (s->ndevs + 1) * sizeof(*nd))) == NULL)
		return SP_ENOMEM;
	s->devs = nd;
	s->devs[s->ndevs++] = *dev;
	return sp_dns_zone_changed(s, e);
}

int
sp_dns_device_remove(sp_dns_server *s, const char *name, sp_errmsg *e)
{
	size_t i;
	int rc;

	for (i = 0; i < s->ndevs; i++)
		if (strcmp(s->devs[i].name, name) == 0)
			break;
	if (i == s->ndevs)
		return sp_errf(e, SP_ENOENT, "no device '%s'", name);
	if ((rc = sp_device_delete(s->d->store, name, e)) != SP_OK)
		return rc;
	s->devs[i] = s->devs[--s->ndevs];
	return sp_dns_zone_changed(s, e);
}

/* ---- zone transfers ------------------------------------------------------ */

/* Transfers are rare and not on the hot path, so they use ldns for the
 * message building and for TSIG (RFC 8945), rather than our own code. */

#define XFR_MSG_RRS 256
#define XFR_MSG_BYTES 16000

struct xfr_out {
	sp_dns_server *s;
	struct tcp_conn *c;
	int (*queue)(struct tcp_conn *, const uint8_t *, size_t);
	const ldns_pkt *req;
	const struct sp_conf_tsig *key;
	ldns_rdf *mac;                /* MAC of the request, then of our last message */
	ldns_pkt *pkt;
	size_t bytes;
	int messages;
	size_t rrs;
};

static ldns_pkt *
xfr_new_pkt(const ldns_pkt *req)
{
	ldns_pkt *p = ldns_pkt_new();

	if (p == NULL)
		return NULL;
	ldns_pkt_set_id(p, ldns_pkt_id(req));
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
	if (ldns_pkt_qdcount(req) > 0)
		ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION,
		    ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(req), 0)));
	return p;
}

/* Sign (TSIG, chained to the previous MAC) and queue one message. */
static int
xfr_send(struct xfr_out *x, ldns_pkt *p)
{
	uint8_t *wire = NULL;
	size_t size;
	int rc;

	if (x->key != NULL) {
		if (ldns_pkt_tsig_sign_next(p, x->key->name, x->key->secret, 300,
		    "hmac-sha256.", x->mac, x->messages > 0) != LDNS_STATUS_OK)
			return SP_ECRYPTO;
		ldns_rdf_deep_free(x->mac);
		x->mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
	}
	if (ldns_pkt2wire(&wire, p, &size) != LDNS_STATUS_OK)
		return SP_ENOMEM;
	rc = x->queue(x->c, wire, size);
	free(wire);
	x->messages++;
	return rc;
}

static int
xfr_rr(void *arg, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdlen)
{
	struct xfr_out *x = arg;
	ldns_rr *rr = sp_xfr_ldns_rr(owner, owner_len, type, ttl, rdata, rdlen);
	int rc;

	if (rr == NULL)
		return SP_EINVAL;
	if (x->pkt != NULL && (ldns_pkt_ancount(x->pkt) >= XFR_MSG_RRS ||
	    x->bytes + owner_len + 10 + rdlen > XFR_MSG_BYTES)) {
		rc = xfr_send(x, x->pkt);
		ldns_pkt_free(x->pkt);
		x->pkt = NULL;
		if (rc != SP_OK) {
			ldns_rr_free(rr);
			return rc;
		}
	}
	if (x->pkt == NULL) {
		if ((x->pkt = xfr_new_pkt(x->req)) == NULL) {
			ldns_rr_free(rr);
			return SP_ENOMEM;
		}
		x->bytes = 0;
	}
	ldns_pkt_push_rr(x->pkt, LDNS_SECTION_ANSWER, rr);
	x->bytes += owner_len + 10 + rdlen;
	x->rrs++;
	return SP_OK;
}

/* A one-message error reply to a transfer request. */
static int
xfr_refuse(struct xfr_out *x, ldns_pkt_rcode rcode, const char *why)
{
	ldns_pkt *p = xfr_new_pkt(x->req);
	int rc;

	if (p == NULL)
		return SP_ENOMEM;
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	ldns_pkt_set_aa(p, false);
	rc = xfr_send(x, p);
	ldns_pkt_free(p);
	sp_warn("zone transfer refused: %s", why);
	return rc;
}

static int
sp_dns_xfr(sp_dns_server *s, const uint8_t *q, size_t len, struct tcp_conn *c,
    int (*queue)(struct tcp_conn *, const uint8_t *, size_t))
{
	struct xfr_out x;
	ldns_pkt *req = NULL;
	ldns_rr *tsig;
	char *keyname;
	int rc;

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.c = c;
	x.queue = queue;
	if (ldns_wire2pkt(&req, q, len) != LDNS_STATUS_OK)
		return SP_EPROTO;
	x.req = req;
	if ((tsig = ldns_pkt_tsig(req)) == NULL) {
		rc = xfr_refuse(&x, LDNS_RCODE_REFUSED, "the request is not signed with TSIG");
		goto out;
	}
	keyname = ldns_rdf2str(ldns_rr_owner(tsig));
	x.key = keyname != NULL ? sp_conf_tsig_find(&s->d->conf, keyname) : NULL;
	free(keyname);
	if (x.key == NULL) {
		x.key = NULL;
		rc = xfr_refuse(&x, LDNS_RCODE_NOTAUTH, "unknown TSIG key");
		goto out;
	}
	if (!ldns_pkt_tsig_verify(req, q, len, x.key->name, x.key->secret, NULL)) {
		x.key = NULL;
		rc = xfr_refuse(&x, LDNS_RCODE_NOTAUTH, "bad TSIG signature");
		goto out;
	}
	x.mac = ldns_rdf_clone(ldns_rr_rdf(tsig, 3));
	rc = sp_xfr_walk(s->zone, sp_clock_wall(), xfr_rr, &x);
	if (rc == SP_OK && x.pkt != NULL)
		rc = xfr_send(&x, x.pkt);
	if (rc == SP_OK)
		sp_info("zone transfer of %s serial %u: %zu records in %d messages (key %s)",
		    s->d->cloud.zone, s->serial, x.rrs, x.messages, x.key->name);
out:
	ldns_pkt_free(x.pkt);
	ldns_rdf_deep_free(x.mac);
	ldns_pkt_free(req);
	return rc;
}

/* ---- NOTIFY (RFC 1996) ------------------------------------------------------ */

static void notify_send(struct notify *n);

static void
notify_finish(struct notify *n)
{
	n->done = 1;
	sp_watch_cancel(n->watch);
	n->watch = NULL;
	sp_timer_cancel(n->timer);
	n->timer = NULL;
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

static void
notify_retry(void *arg)
{
	struct notify *n = arg;

	n->timer = NULL;
	if (n->tries >= NOTIFY_TRIES) {
		char a[80];
		sp_warn("NOTIFY to %s: no answer after %d tries",
		    sp_addr_format((struct sockaddr *)&n->s->d->conf.secondary[n->secondary].addr,
		    a, sizeof(a)), n->tries);
		notify_finish(n);
		return;
	}
	notify_send(n);
}

static void
notify_reply(void *arg, int fd, unsigned events)
{
	struct notify *n = arg;
	uint8_t buf[4096];
	ssize_t got;

	(void)events;
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (got >= SP_DNS_HEADER && ((uint16_t)(buf[0] << 8 | buf[1])) == n->id &&
	    (buf[2] & 0x80)) {
		char a[80];
		sp_debug("NOTIFY acknowledged by %s",
		    sp_addr_format((struct sockaddr *)&n->s->d->conf.secondary[n->secondary].addr,
		    a, sizeof(a)));
		notify_finish(n);
	}
}

static void
notify_send(struct notify *n)
{
	const struct sp_conf_secondary *sec = &n->s->d->conf.secondary[n->secondary];
	const struct sp_conf_tsig *key = &n->s->d->conf.tsig[sec->key];
	ldns_rdf *zone = ldns_dname_new_frm_str(n->s->d->cloud.zone);
	ldns_pkt *p;
	uint8_t *wire = NULL;
	size_t size;

	n->tries++;
	p = zone ? ldns_pkt_query_new(zone, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, LDNS_AA) : NULL;
	if (p != NULL) {
		ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
		ldns_pkt_set_id(p, n->id);
		if (ldns_pkt_tsig_sign(p, key->name, key->secret, 300, "hmac-sha256.", NULL) ==
		    LDNS_STATUS_OK && ldns_pkt2wire(&wire, p, &size) == LDNS_STATUS_OK)
			sendto(n->fd, wire, size, 0, (const struct sockaddr *)&sec->addr,
			    sec->addr_len);
		free(wire);
		ldns_pkt_free(p);
	} else {
		ldns_rdf_deep_free(zone);
	}
	sp_loop_timer(n->s->d->loop, NOTIFY_INTERVAL_MS, notify_retry, n, &n->timer);
}

static void
notify_all(sp_dns_server *s)
{
	for (size_t i = 0; i < s->d->conf.nsecondary; i++) {
		struct notify *n = &s->notifies[i];
		const struct sp_conf_secondary *sec = &s->d->conf.secondary[i];

		notify_finish(n);
		n->s = s;
		n->secondary = i;
		n->tries = 0;
		n->done = 0;
		sp_random(&n->id, sizeof(n->id));
		n->fd = socket(sec->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (n->fd < 0 ||
		    sp_loop_watch(s->d->loop, n->fd, SP_IO_READ, notify_reply, n, &n->watch) != SP_OK) {
			notify_finish(n);
			continue;
		}
		notify_send(n);
	}
}

void
sp_dns_rrl_counts(const sp_dns_server *s, uint64_t *dropped, uint64_t *slipped)
{
	sp_rrl_stats st = { 0, 0, 0, 0 };

	if (s->rrl != NULL)
		sp_rrl_stats_get(s->rrl, &st);
	*dropped = st.dropped;
	*slipped = st.slipped;
}

const sp_zone *sp_dns_zone(const sp_dns_server *s) { return s->zone; }
const sp_dns_stats *sp_dns_stats_get(const sp_dns_server *s) { return sp_answerer_stats(s->answerer); }
size_t sp_dns_device_count(const sp_dns_server *s) { return s->ndevs; }
const sp_device *sp_dns_devices(const sp_dns_server *s) { return s->devs; }
