/*
 * The device role's validating resolver: the adapter around resolver/'s
 * sp_devres (docs/resolver.md). It listens for the device's programs
 * (dns-listen, default the member's overlay address, port 53), asks the
 * gateway over the overlay for names in the zone, validates what comes
 * back to the trust anchor pairing stored, and answers from a cache that
 * serves stale answers while the gateway cannot be reached. Names outside
 * the zone go to the system's resolver (dns-upstream) or are refused.
 *
 * Non-blocking sockets, bounded tables: at most PENDING_MAX questions to
 * the gateway at once, each with at most WAITERS_MAX clients; over that a
 * client gets SERVFAIL at once rather than a queue that grows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "member_int.h"
#include "sp_devres.h"
#include "sp_log.h"
#include "tunnel.h"

#define PENDING_MAX 256
#define WAITERS_MAX 8
#define FORWARD_MAX 256
#define TRY_MS 400            /* one try at the gateway */
#define TRIES 3               /* then SERVFAIL, or stale */
#define FORWARD_MS 3000       /* an upstream's answer to a forwarded query */
#define MSG_MAX 1232          /* what we send and take over UDP (RFC 9715) */
#define RX_MAX 4096

enum waiter_kind { W_CLIENT = 1, W_INTERNAL };

struct waiter {
	enum waiter_kind kind;
	/* a client */
	int fd;
	struct sockaddr_storage from;
	socklen_t fromlen;
	sp_devres_question q;
	/* ours (peers.c) */
	dr_done_fn done;
	void *arg;
};

struct pending {
	int used;
	uint16_t id;
	uint8_t qname[SP_DNAME_MAX];
	size_t qlen;
	uint16_t qtype;
	unsigned tries;
	uint64_t next_ms;            /* the next try, or the end */
	struct waiter w[WAITERS_MAX];
	size_t nw;
	/* A response that came before the zone's keys: ingested once they are. */
	uint8_t *held;
	size_t heldlen;
};

struct forward {
	int used;
	uint16_t id, client_id;
	sp_devres_question q;        /* for a SERVFAIL when no answer comes */
	int fd;
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint64_t deadline_ms;
};

struct dr {
	sp_member *m;
	sp_devres *res;
	int listen_fd[SP_CONF_MAX_LISTEN];
	sp_watch *listen_w[SP_CONF_MAX_LISTEN];
	size_t nlisten;
	int gw_fd, up_fd;            /* to the gateway, to the upstream */
	sp_watch *gw_w, *up_w;
	struct sockaddr_in6 gw;
	struct sockaddr_storage upstream;
	socklen_t upstream_len;
	sp_timer *timer;
	struct pending pending[PENDING_MAX];
	struct forward fwd[FORWARD_MAX];
	uint64_t servfail, refused, forwarded, bogus_logged_ms;
	uint8_t buf[RX_MAX];
};

/* ---- answering ----------------------------------------------------------- */

static void
reply(int fd, const struct sockaddr_storage *to, socklen_t tolen, const uint8_t *msg,
    size_t len)
{
	/* A client that went away, or a full buffer: its retry asks again. */
	if (sendto(fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)to, tolen) < 0)
		sp_debug("resolver: a reply was not sent: %s", strerror(errno));
}

static void
reply_error(struct dr *r, const struct waiter *w, uint16_t rcode)
{
	uint8_t out[MSG_MAX];
	size_t len;

	if (rcode == 2)
		r->servfail++;
	if (sp_devres_error(&w->q, rcode, out, sizeof(out), &len) == SP_OK)
		reply(w->fd, &w->from, w->fromlen, out, len);
}

static void
reply_rrset(struct dr *r, const struct waiter *w, const sp_devres_rrset *rr)
{
	uint8_t out[MSG_MAX * 4];
	size_t len, cap = w->q.udp_size < 512 ? 512 : w->q.udp_size;

	if (cap > sizeof(out))
		cap = sizeof(out);
	if (sp_devres_answer(r->res, &w->q, rr, out, cap, &len) == SP_OK)
		reply(w->fd, &w->from, w->fromlen, out, len);
	else
		reply_error(r, w, 2);
	/* A program looked a member up: have its tunnel ready by the time
	 * its first packet comes (peers.c). */
	if (rr->kind == SP_DEVRES_POSITIVE && (w->q.qtype == 28 || w->q.qtype == 1))
		peers_on_lookup(r->m, w->q.qname, w->q.qname_len);
}

/* Finish a pending question: every waiter gets the cached answer, the
 * stale one if that is all there is, or SERVFAIL. */
static void
pending_finish(struct dr *r, struct pending *p, int bogus)
{
	sp_devres_rrset rr;
	enum sp_devres_hit hit = bogus ? SP_DEVRES_MISS :
	    sp_devres_lookup(r->res, p->qname, p->qlen, p->qtype, sp_clock_wall(), &rr);
	size_t nw = p->nw;
	struct waiter w[WAITERS_MAX];

	memcpy(w, p->w, nw * sizeof(w[0]));
	free(p->held);
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < nw; i++) {
		if (w[i].kind == W_INTERNAL)
			w[i].done(w[i].arg, hit != SP_DEVRES_MISS ? &rr : NULL);
		else if (hit != SP_DEVRES_MISS)
			reply_rrset(r, &w[i], &rr);
		else
			reply_error(r, &w[i], 2);
	}
}

/* ---- asking the gateway ------------------------------------------------- */

static void
send_query(struct dr *r, struct pending *p)
{
	uint8_t q[SP_DNAME_MAX + 64];
	size_t len;

	if (sp_devres_make_query(p->id, p->qname, p->qlen, p->qtype, q, sizeof(q), &len) != SP_OK)
		return;
	/* Lost (the tunnel is still coming up): the next try resends. */
	if (sendto(r->gw_fd, q, len, MSG_DONTWAIT, (const struct sockaddr *)&r->gw,
	    sizeof(r->gw)) < 0)
		sp_debug("resolver: a query to the gateway was not sent: %s", strerror(errno));
}

static struct pending *
pending_find(struct dr *r, const uint8_t *qname, size_t qlen, uint16_t qtype)
{
	for (size_t i = 0; i < PENDING_MAX; i++) {
		struct pending *p = &r->pending[i];
		if (p->used && p->qtype == qtype && p->qlen == qlen &&
		    memcmp(p->qname, qname, qlen) == 0)
			return p;
	}
	return NULL;
}

static void arm(struct dr *r);

/* The question (qname, qtype) asked of the gateway, or already being
 * asked; NULL if the table is full. */
static struct pending *
ask(struct dr *r, const uint8_t *qname, size_t qlen, uint16_t qtype)
{
	struct pending *p = pending_find(r, qname, qlen, qtype);
	uint64_t now = sp_clock_mono_ms();

	if (p != NULL)
		return p;
	for (size_t i = 0; i < PENDING_MAX && p == NULL; i++)
		if (!r->pending[i].used)
			p = &r->pending[i];
	if (p == NULL)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->used = 1;
	sp_rng_fill(r->m->d->rng, &p->id, sizeof(p->id));
	memcpy(p->qname, qname, qlen);
	p->qlen = qlen;
	p->qtype = qtype;
	p->tries = 1;
	p->next_ms = now + TRY_MS;
	/* Without the zone's validated keys nothing validates: ask for them
	 * too (a response that comes first is held until they do). */
	if (!sp_devres_have_keys(r->res, sp_clock_wall()) && qtype != 48) {
		size_t zl;
		const uint8_t *zone = sp_devres_zone(r->res, &zl);
		(void)ask(r, zone, zl, 48);
	}
	send_query(r, p);
	arm(r);
	return p;
}

/* A question from ourselves (peers.c): done gets the validated RRset, or
 * NULL (bogus, or no answer). Answered at once from the cache when fresh. */
int
dr_lookup(sp_member *m, const uint8_t *qname, size_t qlen, uint16_t qtype, dr_done_fn done,
    void *arg)
{
	struct dr *r = m->dr;
	struct pending *p;
	sp_devres_rrset rr;

	if (r == NULL)
		return SP_ENOENT;
	if (sp_devres_lookup(r->res, qname, qlen, qtype, sp_clock_wall(), &rr) == SP_DEVRES_FRESH) {
		done(arg, &rr);
		return SP_OK;
	}
	if ((p = ask(r, qname, qlen, qtype)) == NULL || p->nw == WAITERS_MAX)
		return SP_ESPACE;
	p->w[p->nw].kind = W_INTERNAL;
	p->w[p->nw].done = done;
	p->w[p->nw++].arg = arg;
	return SP_OK;
}

/* Drop the waiters of ours that carry arg (peers.c forgets a member). */
void
dr_forget(sp_member *m, void *arg)
{
	struct dr *r = m->dr;

	for (size_t i = 0; r != NULL && i < PENDING_MAX; i++) {
		struct pending *p = &r->pending[i];
		for (size_t k = 0; p->used && k < p->nw;)
			if (p->w[k].kind == W_INTERNAL && p->w[k].arg == arg)
				p->w[k] = p->w[--p->nw];
			else
				k++;
	}
}

static void
log_bogus(struct dr *r, const struct pending *p, const char *why)
{
	char name[SP_DNAME_MAX * 4 + 1];
	uint64_t now = sp_clock_mono_ms();

	/* One line a second at most: a forger cannot flood the log. */
	if (now - r->bogus_logged_ms < 1000)
		return;
	r->bogus_logged_ms = now;
	sp_dname_to_text(p->qname, name, sizeof(name));
	sp_warn("resolver: BOGUS answer for %s type %u from the gateway: %s; answering "
	    "SERVFAIL", name, p->qtype, why);
}

static void ingest(struct dr *r, struct pending *p, const uint8_t *msg, size_t len);

/* The zone's keys validated: what waited for them is ingested now. */
static void
keys_arrived(struct dr *r)
{
	for (size_t i = 0; i < PENDING_MAX; i++) {
		struct pending *p = &r->pending[i];
		if (p->used && p->held != NULL) {
			uint8_t *h = p->held;
			size_t hl = p->heldlen;
			p->held = NULL;
			ingest(r, p, h, hl);
			free(h);
		}
	}
}

static void
ingest(struct dr *r, struct pending *p, const uint8_t *msg, size_t len)
{
	char why[160] = "";
	enum sp_devres_result res = sp_devres_ingest(r->res, p->id, p->qname, p->qlen, p->qtype,
	    msg, len, sp_clock_wall(), NULL, why, sizeof(why));

	switch (res) {
	case SP_DEVRES_OK:
		pending_finish(r, p, 0);
		if (p->qtype == 48)
			keys_arrived(r);
		break;
	case SP_DEVRES_NEED_KEYS:
		if (p->held == NULL && (p->held = malloc(len)) != NULL) {
			memcpy(p->held, msg, len);
			p->heldlen = len;
		}
		break;
	case SP_DEVRES_BOGUS:
		log_bogus(r, p, why);
		/* Keys that did not validate fail everything waiting on them. */
		if (p->qtype == 48) {
			for (size_t i = 0; i < PENDING_MAX; i++)
				if (r->pending[i].used && r->pending[i].held != NULL)
					pending_finish(r, &r->pending[i], 1);
		}
		pending_finish(r, p, 1);
		break;
	case SP_DEVRES_NOT_MINE:
		break;
	}
}

static void
on_gateway(void *arg, int fd, unsigned events)
{
	struct dr *r = arg;
	struct sockaddr_in6 from;
	socklen_t fl;
	ssize_t n;

	(void)events;
	for (int k = 0; k < 64; k++) {
		fl = sizeof(from);
		n = recvfrom(fd, r->buf, sizeof(r->buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		/* Only the gateway's overlay address and port 53 (cryptokey
		 * routing vouches for the address); then the id and question. */
		if (from.sin6_family != AF_INET6 || from.sin6_port != r->gw.sin6_port ||
		    memcmp(&from.sin6_addr, &r->gw.sin6_addr, 16) != 0 || n < SP_DNS_HEADER)
			continue;
		for (size_t i = 0; i < PENDING_MAX; i++) {
			struct pending *p = &r->pending[i];
			uint16_t id = (uint16_t)(r->buf[0] << 8 | r->buf[1]);
			if (p->used && p->id == id) {
				ingest(r, p, r->buf, (size_t)n);
				break;
			}
		}
	}
}

/* ---- forwarding names outside the zone ------------------------------------ */

static void
forward(struct dr *r, int fd, const struct sockaddr_storage *from, socklen_t fl,
    uint8_t *q, size_t len, const sp_devres_question *qq)
{
	struct forward *f = NULL;
	struct waiter w;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	w.from = *from;
	w.fromlen = fl;
	w.q = *qq;
	if (r->up_fd < 0) {
		r->refused++;
		reply_error(r, &w, 5);
		return;
	}
	for (size_t i = 0; i < FORWARD_MAX && f == NULL; i++)
		if (!r->fwd[i].used)
			f = &r->fwd[i];
	if (f == NULL) {
		reply_error(r, &w, 2);
		return;
	}
	f->used = 1;
	f->client_id = qq->id;
	f->q = *qq;
	sp_rng_fill(r->m->d->rng, &f->id, sizeof(f->id));
	f->fd = fd;
	f->from = *from;
	f->fromlen = fl;
	f->deadline_ms = sp_clock_mono_ms() + FORWARD_MS;
	q[0] = (uint8_t)(f->id >> 8);
	q[1] = (uint8_t)f->id;
	if (sendto(r->up_fd, q, len, MSG_DONTWAIT, (const struct sockaddr *)&r->upstream,
	    r->upstream_len) < 0) {
		f->used = 0;
		reply_error(r, &w, 2);
		return;
	}
	r->forwarded++;
	arm(r);
}

static void
on_upstream(void *arg, int fd, unsigned events)
{
	struct dr *r = arg;
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t n;

	(void)events;
	for (int k = 0; k < 64; k++) {
		fl = sizeof(from);
		n = recvfrom(fd, r->buf, sizeof(r->buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (n < SP_DNS_HEADER || fl != r->upstream_len ||
		    memcmp(&from, &r->upstream, fl) != 0)
			continue;
		for (size_t i = 0; i < FORWARD_MAX; i++) {
			struct forward *f = &r->fwd[i];
			if (f->used && f->id == (uint16_t)(r->buf[0] << 8 | r->buf[1])) {
				r->buf[0] = (uint8_t)(f->client_id >> 8);
				r->buf[1] = (uint8_t)f->client_id;
				reply(f->fd, &f->from, f->fromlen, r->buf, (size_t)n);
				f->used = 0;
				break;
			}
		}
	}
}

/* ---- reverse names of the zone's /48 ------------------------------------------- */

static int
hexval(uint8_t c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Names under the zone's /48 in ip6.arpa are ours to answer: no public
 * server has them, and asking the upstream for them only waits (ping and
 * ssh look every address up). A member's full address gets a PTR to its
 * name, from the member list the gateway keeps us up to date with (not
 * signed: no AD bit); another full address NXDOMAIN; a name above one
 * NODATA. Returns 0 if qname is not under the /48.
 */
static int
answer_reverse(struct dr *r, const struct waiter *w)
{
	const sp_member *m = r->m;
	const uint8_t *n = w->q.qname;
	uint8_t nib[32], addr[16], out[MSG_MAX], target[SP_DNAME_MAX];
	size_t len, tl, k = 0, off = 0;

	/* Nibble labels, then exactly "ip6" "arpa" and the root. */
	while (off < w->q.qname_len && n[off] == 1 && k < 32 && hexval(n[off + 1]) >= 0) {
		nib[k++] = (uint8_t)hexval(n[off + 1]);
		off += 2;
	}
	if (w->q.qname_len - off != 10 || memcmp(n + off, "\003ip6\004arpa\000", 10) != 0 ||
	    k < 12)
		return 0;
	/* nib[0] is the last nibble of the address. */
	memset(addr, 0, sizeof(addr));
	for (size_t i = 0; i < k; i++) {
		size_t pos = k - 1 - i;   /* from the most significant */
		addr[pos / 2] |= (uint8_t)(pos % 2 == 0 ? nib[i] << 4 : nib[i]);
	}
	if (memcmp(addr, m->d->cloud.prefix, 6) != 0)
		return 0;
	if (k < 32) {
		if (sp_devres_local(&w->q, 0, 0, NULL, 0, 0, out, sizeof(out), &len) == SP_OK)
			reply(w->fd, &w->from, w->fromlen, out, len);
		return 1;
	}
	for (size_t i = 0; i < m->nlist; i++) {
		char fqdn[320];
		if (memcmp(m->list[i].addr, addr, 16) != 0)
			continue;
		snprintf(fqdn, sizeof(fqdn), "%s.%s", m->list[i].name, m->d->cloud.zone);
		if (w->q.qtype == 12 && sp_dname_from_text(fqdn, target, &tl) == SP_OK) {
			if (sp_devres_local(&w->q, 0, 12, target, (uint16_t)tl, 60, out, sizeof(out),
			    &len) == SP_OK)
				reply(w->fd, &w->from, w->fromlen, out, len);
		} else if (sp_devres_local(&w->q, 0, 0, NULL, 0, 0, out, sizeof(out), &len) ==
		    SP_OK) {
			reply(w->fd, &w->from, w->fromlen, out, len);
		}
		return 1;
	}
	if (sp_devres_local(&w->q, 3, 0, NULL, 0, 0, out, sizeof(out), &len) == SP_OK)
		reply(w->fd, &w->from, w->fromlen, out, len);
	return 1;
}

/* ---- the clients ------------------------------------------------------------ */

static void
on_client(void *arg, int fd, unsigned events)
{
	struct dr *r = arg;
	struct waiter w;
	ssize_t n;
	int rc;

	(void)events;
	for (int k = 0; k < 64; k++) {
		sp_devres_rrset rr;
		enum sp_devres_hit hit;
		struct pending *p;

		memset(&w, 0, sizeof(w));
		w.kind = W_CLIENT;
		w.fd = fd;
		w.fromlen = sizeof(w.from);
		n = recvfrom(fd, r->buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&w.from,
		    &w.fromlen);
		if (n < 0)
			break;
		rc = sp_devres_parse(r->buf, (size_t)n, &w.q);
		if (rc == SP_EUNSUPP) {
			reply_error(r, &w, 16);   /* BADVERS: an EDNS version we do not speak */
			continue;
		}
		if (rc != SP_OK) {
			/* Never answer a response; NOTIMP for other opcodes,
			 * FORMERR for the rest, when there was a header. */
			if (n >= SP_DNS_HEADER && !(w.q.flags & 0x8000))
				reply_error(r, &w, ((w.q.flags >> 11) & 0xf) != 0 ? 4 : 1);
			continue;
		}
		w.q.in_zone = sp_devres_in_zone(r->res, w.q.qname, w.q.qname_len);
		/* ANY and the meta-types are not answered from a validating
		 * cache (RFC 8482 lets a server decline ANY). */
		if (w.q.in_zone && (w.q.qtype == 0 || w.q.qtype >= 128)) {
			reply_error(r, &w, 4);
			continue;
		}
		if (!w.q.in_zone) {
			if (answer_reverse(r, &w))
				continue;
			forward(r, fd, &w.from, w.fromlen, r->buf, (size_t)n, &w.q);
			continue;
		}
		hit = sp_devres_lookup(r->res, w.q.qname, w.q.qname_len, w.q.qtype,
		    sp_clock_wall(), &rr);
		if (hit == SP_DEVRES_FRESH) {
			reply_rrset(r, &w, &rr);
			continue;
		}
		/* Missing or stale: ask; a stale answer is the fallback when
		 * the gateway does not answer in time (RFC 8767). */
		if ((p = ask(r, w.q.qname, w.q.qname_len, w.q.qtype)) == NULL ||
		    p->nw == WAITERS_MAX) {
			if (hit == SP_DEVRES_STALE)
				reply_rrset(r, &w, &rr);
			else
				reply_error(r, &w, 2);
			continue;
		}
		p->w[p->nw++] = w;
	}
}

/* ---- time ------------------------------------------------------------------- */

static void
arm(struct dr *r)
{
	uint64_t now = sp_clock_mono_ms(), next = UINT64_MAX;

	for (size_t i = 0; i < PENDING_MAX; i++)
		if (r->pending[i].used && r->pending[i].next_ms < next)
			next = r->pending[i].next_ms;
	for (size_t i = 0; i < FORWARD_MAX; i++)
		if (r->fwd[i].used && r->fwd[i].deadline_ms < next)
			next = r->fwd[i].deadline_ms;
	if (next == UINT64_MAX)
		sp_timer_disarm(r->timer);
	else
		sp_timer_arm(r->timer, next > now ? next - now : 1);
}

static void
on_timer(void *arg)
{
	struct dr *r = arg;
	uint64_t now = sp_clock_mono_ms();

	for (size_t i = 0; i < PENDING_MAX; i++) {
		struct pending *p = &r->pending[i];
		if (!p->used || p->next_ms > now)
			continue;
		if (p->tries < TRIES) {
			/* Stale answers go out after the first try that fails: a
			 * client should not wait for every retry (RFC 8767 5). */
			if (p->tries == 1) {
				sp_devres_rrset rr;
				if (sp_devres_lookup(r->res, p->qname, p->qlen, p->qtype,
				    sp_clock_wall(), &rr) == SP_DEVRES_STALE) {
					size_t k = 0;
					while (k < p->nw) {
						if (p->w[k].kind == W_CLIENT) {
							reply_rrset(r, &p->w[k], &rr);
							p->w[k] = p->w[--p->nw];
						} else {
							k++;
						}
					}
				}
			}
			p->tries++;
			p->next_ms = now + TRY_MS;
			send_query(r, p);
			continue;
		}
		pending_finish(r, p, 0);
	}
	for (size_t i = 0; i < FORWARD_MAX; i++) {
		struct forward *f = &r->fwd[i];
		if (f->used && f->deadline_ms <= now) {
			/* No answer from the upstream: say so, rather than let the
			 * client wait for its own timeout. */
			struct waiter w;
			memset(&w, 0, sizeof(w));
			w.fd = f->fd;
			w.from = f->from;
			w.fromlen = f->fromlen;
			w.q = f->q;
			f->used = 0;
			reply_error(r, &w, 2);
		}
	}
	arm(r);
}

/* ---- life ------------------------------------------------------------------- */

/* The system's resolver, unless it is us: the first nameserver line of
 * /etc/resolv.conf that is not one of our listen addresses. */
static int
system_upstream(struct dr *r, struct sockaddr_storage *out, socklen_t *len)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256];
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char addr[128];
		struct sockaddr_storage ss;
		socklen_t sl;
		int ours = 0;
		if (sscanf(line, "nameserver %127s", addr) != 1)
			continue;
		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
			((struct sockaddr_in *)&ss)->sin_family = AF_INET;
			((struct sockaddr_in *)&ss)->sin_port = htons(53);
			sl = sizeof(struct sockaddr_in);
		} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
			((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(53);
			sl = sizeof(struct sockaddr_in6);
		} else {
			continue;
		}
		for (size_t i = 0; i < r->m->d->conf.ndns_listen; i++)
			ours |= r->m->d->conf.dns_listen_len[i] == sl &&
			    memcmp(&r->m->d->conf.dns_listen[i], &ss, sl) == 0;
		/* Nor our own overlay address (where we listen by default), nor
		 * any address inside the zone's /48: asking those would loop. */
		ours |= ss.ss_family == AF_INET6 && memcmp(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr,
		    r->m->d->cloud.prefix, 6) == 0;
		if (!ours) {
			*out = ss;
			*len = sl;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

int
dr_start(sp_member *m, sp_errmsg *e)
{
	sp_daemon *d = m->d;
	sp_devres_conf c;
	struct dr *r;
	struct sockaddr_in6 self;
	char a[80], u[80];
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	m->dr = r;
	r->m = m;
	r->gw_fd = r->up_fd = -1;
	memset(&c, 0, sizeof(c));
	c.zone = d->cloud.zone;
	c.anchor = (const uint8_t (*)[SP_DNSKEY_RDATA_BYTES])m->anchor.dnskey;
	c.nanchor = m->anchor.n;
	if ((rc = sp_devres_new(&c, &r->res, e)) != SP_OK)
		return rc;
	if ((rc = sp_timer_new(d->loop, on_timer, r, &r->timer)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	/* To the gateway: from our overlay address, so the tunnel carries it. */
	memset(&self, 0, sizeof(self));
	self.sin6_family = AF_INET6;
	sp_tunnel_address(d->tunnel, self.sin6_addr.s6_addr);
	if ((rc = sp_udp_bind_own((struct sockaddr *)&self, sizeof(self), &r->gw_fd, e)) != SP_OK)
		return rc;
	memset(&r->gw, 0, sizeof(r->gw));
	r->gw.sin6_family = AF_INET6;
	r->gw.sin6_port = htons(53);
	memcpy(&r->gw.sin6_addr, m->gw.addr, 16);
	if ((rc = sp_loop_watch(d->loop, r->gw_fd, SP_IO_READ, on_gateway, r, &r->gw_w)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	/* Where programs ask. */
	if (d->conf.ndns_listen == 0) {
		self.sin6_port = htons(53);
		if ((rc = sp_udp_bind_own((struct sockaddr *)&self, sizeof(self), &r->listen_fd[0],
		    e)) != SP_OK)
			return rc;
		r->nlisten = 1;
	} else {
		for (size_t i = 0; i < d->conf.ndns_listen; i++) {
			if ((rc = sp_udp_bind((struct sockaddr *)&d->conf.dns_listen[i],
			    d->conf.dns_listen_len[i], &r->listen_fd[i], e)) != SP_OK)
				return rc;
			r->nlisten = i + 1;
		}
	}
	for (size_t i = 0; i < r->nlisten; i++)
		if ((rc = sp_loop_watch(d->loop, r->listen_fd[i], SP_IO_READ, on_client, r,
		    &r->listen_w[i])) != SP_OK)
			return sp_errf(e, rc, "out of memory");
	/* Names outside the zone. */
	if (d->conf.dns_upstream_len) {
		r->upstream = d->conf.dns_upstream;
		r->upstream_len = d->conf.dns_upstream_len;
	} else if (!d->conf.dns_upstream_none && !system_upstream(r, &r->upstream,
	    &r->upstream_len)) {
		r->upstream_len = 0;
	}
	if (r->upstream_len) {
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = r->upstream.ss_family;
		if ((rc = sp_udp_bind((struct sockaddr *)&any, r->upstream_len, &r->up_fd, e)) != SP_OK)
			return rc;
		if ((rc = sp_loop_watch(d->loop, r->up_fd, SP_IO_READ, on_upstream, r,
		    &r->up_w)) != SP_OK)
			return sp_errf(e, rc, "out of memory");
	}
	sp_info("resolver: validating %s on %s%s; other names %s%s", d->cloud.zone,
	    sp_addr_format(d->conf.ndns_listen ? (struct sockaddr *)&d->conf.dns_listen[0] :
	    (struct sockaddr *)&self, a, sizeof(a)), r->nlisten > 1 ? " and more" : "",
	    r->upstream_len ? "go to " : "are refused",
	    r->upstream_len ? sp_addr_format((struct sockaddr *)&r->upstream, u, sizeof(u)) : "");
	return SP_OK;
}

void
dr_stop(sp_member *m)
{
	struct dr *r = m->dr;

	if (r == NULL)
		return;
	for (size_t i = 0; i < PENDING_MAX; i++)
		free(r->pending[i].held);
	for (size_t i = 0; i < r->nlisten; i++) {
		sp_watch_cancel(r->listen_w[i]);
		close(r->listen_fd[i]);
	}
	sp_watch_cancel(r->gw_w);
	sp_watch_cancel(r->up_w);
	if (r->gw_fd >= 0)
		close(r->gw_fd);
	if (r->up_fd >= 0)
		close(r->up_fd);
	sp_timer_free(r->timer);
	sp_devres_free(r->res);
	free(r);
	m->dr = NULL;
}

void
dr_status(const sp_member *m, sp_ctl_reply *r)
{
	const struct dr *x = m->dr;
	const sp_devres_stats *st;

	if (x == NULL)
		return;
	st = sp_devres_stats_get(x->res);
	sp_ctl_reply_field(r, "resolver", "validated=%llu bogus=%llu hits=%llu stale=%llu "
	    "misses=%llu servfail=%llu forwarded=%llu refused=%llu",
	    (unsigned long long)st->validated, (unsigned long long)st->bogus,
	    (unsigned long long)st->hits, (unsigned long long)st->stale_hits,
	    (unsigned long long)st->misses, (unsigned long long)x->servfail,
	    (unsigned long long)x->forwarded, (unsigned long long)x->refused);
}

/* Forget cached answers (a member revoked: its records must not be served). */
void
dr_flush(sp_member *m)
{
	if (m->dr != NULL)
		sp_devres_flush(m->dr->res);
}
