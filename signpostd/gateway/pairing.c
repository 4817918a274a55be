/*
 * Pairing on the gateway (docs/pairing.md): pairing tokens, and the
 * requests that redeem them, which arrive on WireGuard's UDP port.
 *
 * A token lives in the store ("pairing/<id>") from the moment its code is
 * shown until it expires, so a gateway restart loses no code shown and no
 * knowledge of one used. A device is admitted by one atomic write (its
 * record names the token), then the token is marked used; after a crash
 * between the two, the record says the token is used. So after a kill -9
 * mid-join the device is a full member or absent, and a retried join with
 * the same key is answered again, while another key is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_pair.h"
#include "tunnel.h"

#define PAIR_DIR "pairing"
#define PENDING_MAX 10            /* codes shown and not yet used */
#define KNOWN_MAX 64              /* tokens remembered, pending and used */
#define TTL_MAX (24 * 3600)
/* A code is remembered for a day past its expiry, so that a late or a
 * second use hears "expired" or "used", not "no such code". */
#define REMEMBER_AFTER (24 * 3600)
/* Requests per source (an IPv4 address, an IPv6 /64): a burst of 5, then
 * one a second. In all, at most 50 a second are opened (X25519 work), and
 * only for codes this gateway made, so junk with made-up code ids cannot
 * crowd out a real join; and at most 20 signed refusals a second. */
#define RATE_SOURCES 256
#define RATE_BURST 5
#define RATE_GLOBAL 50
#define RATE_REFUSALS 20
/* Codes one member may have waiting, so no member can use up the rest. */
#define PENDING_PER_MEMBER 3
/* Recent answers, so a retransmitted request gets the same reply. */
#define ANSWERED_MAX 8

struct waiter {
	uint8_t id[SP_PAIR_TOKEN_ID];
	uint64_t ticket;
	sp_gw_pair_done done;
	void *arg;
};

struct answered {
	uint8_t id[SP_PAIR_TOKEN_ID], e[32];
	uint8_t msg[SP_PAIR_MSG_MAX];
	size_t len;
};

struct sp_gw_pairing {
	sp_gateway *g;
	sp_pair_token known[KNOWN_MAX];      /* sodium_malloc: they hold tokens */
	uint8_t told[KNOWN_MAX];             /* its expiry was logged and waited on */
	/* Opens per code: a burst of 5, then one a second. A code's id goes
	 * in the clear, so whoever saw one can send junk under it: this keeps
	 * that to one code's share of the global budget. */
	struct { uint32_t tokens; uint64_t at_ms; } opens[KNOWN_MAX];
	size_t nknown;
	sp_timer *expiry;
	struct waiter waiters[KNOWN_MAX];
	size_t nwaiters;
	struct answered answered[ANSWERED_MAX];
	size_t next_answered;
	struct { uint8_t key[8]; uint32_t tokens; uint64_t at_ms; } rate[RATE_SOURCES];
	uint8_t rate_key[crypto_shorthash_KEYBYTES];
	uint64_t global_second;
	unsigned global_count, refusal_count;
	uint64_t log_at;                /* refusals are logged: a burst of 10, */
	unsigned log_tokens, log_suppressed;   /* then one a second */
	uint64_t requests, admitted, refused, limited, malformed;
};

static void
id_hex(const uint8_t id[SP_PAIR_TOKEN_ID], char out[2 * SP_PAIR_TOKEN_ID + 1])
{
	sodium_bin2hex(out, 2 * SP_PAIR_TOKEN_ID + 1, id, SP_PAIR_TOKEN_ID);
}

static int
token_save(sp_gateway *g, const sp_pair_token *t, sp_errmsg *e)
{
	char text[512], path[64], hex[2 * SP_PAIR_TOKEN_ID + 1];
	size_t len;
	int rc;

	id_hex(t->id, hex);
	snprintf(path, sizeof(path), PAIR_DIR "/%s", hex);
	if ((rc = sp_pair_token_encode(t, text, sizeof(text), &len)) == SP_OK)
		rc = sp_store_put(g->d->store, path, text, len, e);
	sodium_memzero(text, sizeof(text));
	return rc;
}

static void
token_forget(sp_gw_pairing *p, size_t i)
{
	char path[64], hex[2 * SP_PAIR_TOKEN_ID + 1];
	sp_errmsg e;

	id_hex(p->known[i].id, hex);
	snprintf(path, sizeof(path), PAIR_DIR "/%s", hex);
	if (sp_store_del(p->g->d->store, path, &e) != SP_OK && sp_store_del(p->g->d->store, path,
	    NULL) != SP_ENOENT)
		sp_warn("pairing: %s", e.msg);
	sodium_memzero(&p->known[i], sizeof(p->known[i]));
	p->known[i] = p->known[--p->nknown];
	p->told[i] = p->told[p->nknown];
	p->opens[i] = p->opens[p->nknown];
	memset(&p->opens[p->nknown], 0, sizeof(p->opens[0]));
	sodium_memzero(&p->known[p->nknown], sizeof(p->known[p->nknown]));
}

static sp_pair_token *
token_find(sp_gw_pairing *p, const uint8_t id[SP_PAIR_TOKEN_ID])
{
	for (size_t i = 0; i < p->nknown; i++)
		if (sodium_memcmp(p->known[i].id, id, SP_PAIR_TOKEN_ID) == 0)
			return &p->known[i];
	return NULL;
}

static size_t
pending_count(const sp_gw_pairing *p, int64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nknown; i++)
		n += !p->known[i].used && p->known[i].expires > now;
	return n;
}

/* Tell whoever waits on token id, then forget the waiter. */
static void
wake(sp_gw_pairing *p, const uint8_t id[SP_PAIR_TOKEN_ID], int rc, const char *name,
    const uint8_t addr[16])
{
	for (size_t i = 0; i < p->nwaiters;) {
		struct waiter w = p->waiters[i];
		if (memcmp(w.id, id, SP_PAIR_TOKEN_ID) != 0) {
			i++;
			continue;
		}
		p->waiters[i] = p->waiters[--p->nwaiters];
		w.done(w.arg, w.ticket, rc, name, addr);
	}
}

/* Expire what is due (telling its waiters), forget codes a day after
 * their expiry, and sleep until the next of either. */
static void
on_expiry(void *arg)
{
	sp_gw_pairing *p = arg;
	int64_t now = sp_clock_wall(), next = INT64_MAX;

	for (size_t i = 0; i < p->nknown;) {
		sp_pair_token *t = &p->known[i];
		if (t->expires > now) {
			if (t->expires < next)
				next = t->expires;
			i++;
			continue;
		}
		if (t->expires + REMEMBER_AFTER <= now) {
			token_forget(p, i);
			continue;
		}
		if (!t->used && !p->told[i]) {
			char hex[2 * SP_PAIR_TOKEN_ID + 1];
			id_hex(t->id, hex);
			sp_info("pairing: the code %s for %s expired unused", hex, t->name);
			wake(p, t->id, SP_ETIMEOUT, t->name, NULL);
		}
		p->told[i] = 1;
		if (t->expires + REMEMBER_AFTER < next)
			next = t->expires + REMEMBER_AFTER;
		i++;
	}
	if (next != INT64_MAX)
		sp_timer_arm(p->expiry, (uint64_t)(next - now) * 1000);
}

/* Room for one more code: when the memory is full, the expired code that
 * expired first goes. SP_EBUSY if every remembered code is still live. */
static int
make_room(sp_gw_pairing *p, int64_t now)
{
	size_t oldest = KNOWN_MAX;

	if (p->nknown < KNOWN_MAX)
		return SP_OK;
	for (size_t i = 0; i < p->nknown; i++)
		if (p->known[i].expires <= now &&
		    (oldest == KNOWN_MAX || p->known[i].expires < p->known[oldest].expires))
			oldest = i;
	if (oldest == KNOWN_MAX)
		return SP_EBUSY;
	token_forget(p, oldest);
	return SP_OK;
}

static int
load_one(void *arg, const char *name)
{
	sp_gw_pairing *p = arg;
	sp_store *s = p->g->d->store;
	char what[4200];
	uint8_t *data;
	size_t len;
	sp_errmsg e;

	if (p->nknown == KNOWN_MAX)
		return SP_OK;
	if (sp_store_get(s, name, &data, &len, &e) != SP_OK) {
		sp_warn("pairing: %s", e.msg);
		return SP_OK;
	}
	snprintf(what, sizeof(what), "%s/%s", sp_store_where(s), name);
	/* A damaged token file is one code that no longer works, said in the
	 * log; the gateway runs on. */
	if (sp_pair_token_decode((const char *)data, len, what, &p->known[p->nknown], &e) !=
	    SP_OK) {
		sodium_memzero(&p->known[p->nknown], sizeof(p->known[0]));
		/* Useless, and it may hold a token: gone. */
		sp_warn("pairing: %s; the code it held will be refused, and the file is removed",
		    e.msg);
		if (sp_store_del(s, name, &e) != SP_OK)
			sp_warn("pairing: %s", e.msg);
	} else {
		/* One that expired before this start was told of then. */
		p->told[p->nknown] = p->known[p->nknown].expires <= sp_clock_wall();
		p->nknown++;
	}
	sp_store_release(data, len);
	return SP_OK;
}

int
gw_pairing_start(sp_gateway *g, sp_errmsg *e)
{
	sp_gw_pairing *p;
	sp_errmsg le;
	int rc;

	if ((p = sodium_malloc(sizeof(*p))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	memset(p, 0, sizeof(*p));
	p->g = g;
	g->pairing = p;
	sp_rng_fill(g->d->rng, p->rate_key, sizeof(p->rate_key));
	if ((rc = sp_timer_new(g->d->loop, on_expiry, p, &p->expiry)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	if ((rc = sp_store_list(g->d->store, PAIR_DIR, load_one, p, &le)) != SP_OK &&
	    rc != SP_ENOENT)
		sp_warn("pairing: %s", le.msg);
	/* A crash between admitting a device and marking its token used: the
	 * device's record names the token. */
	for (size_t i = 0; i < p->nknown; i++)
		for (size_t k = 0; !p->known[i].used && k < g->ndevs; k++)
			if (g->devs[k].has_token && memcmp(g->devs[k].token_id, p->known[i].id,
			    SP_PAIR_TOKEN_ID) == 0) {
				p->known[i].used = 1;
				memcpy(p->known[i].used_by, g->devs[k].pub, SP_KEY_PUBLIC_BYTES);
				if (token_save(g, &p->known[i], &le) != SP_OK)
					sp_warn("pairing: %s", le.msg);
			}
	on_expiry(p);
	if (g->d->tunnel != NULL)
		sp_tunnel_set_other(g->d->tunnel, gw_port_input, g);
	return SP_OK;
}

void
gw_pairing_stop(sp_gateway *g)
{
	sp_gw_pairing *p = g->pairing;

	if (p == NULL)
		return;
	if (g->d->tunnel != NULL)
		sp_tunnel_set_other(g->d->tunnel, NULL, NULL);
	/* Nobody waits beyond the daemon's life. */
	while (p->nwaiters > 0) {
		struct waiter w = p->waiters[--p->nwaiters];
		w.done(w.arg, w.ticket, SP_EIO, NULL, NULL);
	}
	sp_timer_free(p->expiry);
	sodium_free(p);   /* wipes the tokens */
	g->pairing = NULL;
}

/* ---- making a code ---------------------------------------------------------- */

/* Where the gateway can be reached: the configuration's public-endpoint
 * lines, else this host's own addresses on WireGuard's port. */
size_t
sp_gw_endpoints(sp_gateway *g, char out[][SP_PAIR_ENDPOINT_MAX], size_t max, int *chosen)
{
	const sp_conf *c = &g->d->conf;
	struct sockaddr_storage a[SP_PAIR_MAX_ENDPOINTS];
	size_t n = 0, na;
	uint16_t port = g->d->tunnel != NULL ? sp_tunnel_port(g->d->tunnel) : SP_DEFAULT_LISTEN_PORT;

	*chosen = 0;
	for (size_t i = 0; i < c->npublic_endpoint && n < max; i++)
		snprintf(out[n++], SP_PAIR_ENDPOINT_MAX, "%s", c->public_endpoint[i]);
	if (n > 0)
		return n;
	*chosen = 1;
	if (sp_if_addresses(c->interface, a, max < SP_PAIR_MAX_ENDPOINTS ? max :
	    SP_PAIR_MAX_ENDPOINTS, &na) != SP_OK)
		return 0;
	for (size_t i = 0; i < na; i++) {
		if (a[i].ss_family == AF_INET)
			((struct sockaddr_in *)&a[i])->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&a[i])->sin6_port = htons(port);
		sp_addr_format((struct sockaddr *)&a[i], out[n++], SP_PAIR_ENDPOINT_MAX);
	}
	return n;
}

int
sp_gw_pair_create(sp_gateway *g, const char *name, int64_t ttl, const char *by,
    sp_pair_uri *u, int *endpoints_chosen, sp_errmsg *e)
{
	sp_gw_pairing *p = g->pairing;
	sp_daemon *d = g->d;
	int64_t now = sp_clock_wall();
	const sp_key *self = sp_daemon_device_key(d);
	sp_pair_token *t;
	int rc;

	if (p == NULL || g->d->tunnel == NULL)
		return sp_errf(e, SP_EUNSUPP, "pairing needs the tunnel (signpostd runs with "
		    "--interface none)");
	if ((rc = sp_device_name_check(name, e)) != SP_OK)
		return rc;
	if (ttl < 10 || ttl > TTL_MAX)
		return sp_errf(e, SP_EINVAL, "a code lives from 10 s to 24 h");
	if (strcmp(name, d->cloud.name) == 0 || gw_device_by_name(g, name) != NULL)
		return sp_errf(e, SP_EEXIST, "the name '%s' is taken in %s", name, d->cloud.zone);
	if (sp_gw_pair_waiting(g, name))
		return sp_errf(e, SP_EEXIST, "a code for '%s' is waiting already", name);
	if (by != NULL) {
		size_t mine = 0;
		for (size_t i = 0; i < p->nknown; i++)
			mine += !p->known[i].used && p->known[i].expires > now &&
			    strcmp(p->known[i].by, by) == 0;
		if (mine >= PENDING_PER_MEMBER)
			return sp_errf(e, SP_EBUSY, "%s has %d codes waiting already; use or let "
			    "them expire first", by, PENDING_PER_MEMBER);
	}
	on_expiry(p);
	if (pending_count(p, now) >= PENDING_MAX)
		return sp_errf(e, SP_EBUSY, "%d codes are waiting already; use or let "
		    "them expire first", PENDING_MAX);
	if (make_room(p, now) != SP_OK)
		return sp_errf(e, SP_EBUSY, "the gateway remembers %d codes, none of them expired; "
		    "try again when one has", KNOWN_MAX);
	t = &p->known[p->nknown];
	memset(t, 0, sizeof(*t));
	sp_rng_fill(d->rng, t->token, sizeof(t->token));
	sp_pair_token_id(t->token, t->id);
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (by != NULL)
		snprintf(t->by, sizeof(t->by), "%s", by);
	t->created = now;
	t->expires = now + ttl;
	if ((rc = token_save(g, t, e)) != SP_OK) {
		sodium_memzero(t, sizeof(*t));
		return rc;
	}
	p->nknown++;
	sp_timer_arm(p->expiry, 0);

	memset(u, 0, sizeof(*u));
	snprintf(u->zone, sizeof(u->zone), "%s", d->cloud.zone);
	snprintf(u->name, sizeof(u->name), "%s", name);
	memcpy(u->token, t->token, sizeof(u->token));
	memcpy(u->gateway_key, sp_key_info_of(self)->pub, SP_KEY_PUBLIC_BYTES);
	u->nendpoints = sp_gw_endpoints(g, u->endpoint, SP_PAIR_MAX_ENDPOINTS, endpoints_chosen);
	for (size_t i = 0; i < d->nkeys && u->nds < SP_PAIR_MAX_DS; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		uint8_t rd[SP_DNSKEY_RDATA_BYTES];
		if (k->role != SP_ROLE_KSK || k->state != SP_KSTATE_ACTIVE)
			continue;
		sp_dnskey_rdata(k->flags, k->pub, rd);
		u->ds[u->nds].tag = k->tag;
		if (sp_ds_sha256(d->cloud.zone, rd, u->ds[u->nds].digest) == SP_OK)
			u->nds++;
	}
	if (u->nendpoints == 0) {
		token_forget(p, p->nknown - 1);
		sodium_memzero(u, sizeof(*u));
		return sp_errf(e, SP_ENOENT, "this gateway has no address to put in a code: "
		    "set public-endpoint HOST:PORT");
	}
	{
		char hex[2 * SP_PAIR_TOKEN_ID + 1];
		id_hex(t->id, hex);
		sp_info("pairing: code %s made for %s%s%s, valid %lld s", hex, name,
		    by != NULL ? ", asked by " : "", by != NULL ? by : "", (long long)ttl);
	}
	return SP_OK;
}

int
sp_gw_pair_wait(sp_gateway *g, const uint8_t id[SP_PAIR_TOKEN_ID], uint64_t ticket,
    sp_gw_pair_done done, void *arg, sp_errmsg *e)
{
	sp_gw_pairing *p = g->pairing;
	sp_pair_token *t;

	if (p == NULL || (t = token_find(p, id)) == NULL)
		return sp_errf(e, SP_ENOENT, "no such pairing code");
	if (t->used)
		return sp_errf(e, SP_EEXIST, "the code was used already");
	if (t->expires <= sp_clock_wall())
		return sp_errf(e, SP_ETIMEOUT, "the code expired unused");
	if (p->nwaiters == sizeof(p->waiters) / sizeof(p->waiters[0]))
		return sp_errf(e, SP_EBUSY, "too many waiting");
	memcpy(p->waiters[p->nwaiters].id, id, SP_PAIR_TOKEN_ID);
	p->waiters[p->nwaiters].ticket = ticket;
	p->waiters[p->nwaiters].done = done;
	p->waiters[p->nwaiters].arg = arg;
	p->nwaiters++;
	return SP_OK;
}

void
sp_gw_pair_unwait(sp_gateway *g, uint64_t ticket)
{
	sp_gw_pairing *p = g->pairing;

	for (size_t i = 0; ticket != 0 && p != NULL && i < p->nwaiters;) {
		struct waiter w = p->waiters[i];
		if (w.ticket != ticket) {
			i++;
			continue;
		}
		p->waiters[i] = p->waiters[--p->nwaiters];
		w.done(w.arg, w.ticket, SP_EIO, NULL, NULL);
	}
}

void
sp_gw_pair_cancel(sp_gateway *g, const uint8_t id[SP_PAIR_TOKEN_ID])
{
	sp_gw_pairing *p = g->pairing;
	sp_pair_token *t = p != NULL ? token_find(p, id) : NULL;

	if (t != NULL && !t->used) {
		wake(p, id, SP_ENOENT, t->name, NULL);
		token_forget(p, (size_t)(t - p->known));
	}
}

void
sp_gw_pair_cancel_by(sp_gateway *g, const char *by)
{
	sp_gw_pairing *p = g->pairing;

	for (size_t i = 0; p != NULL && i < p->nknown;) {
		sp_pair_token *t = &p->known[i];
		if (!t->used && strcmp(t->by, by) == 0) {
			char hex[2 * SP_PAIR_TOKEN_ID + 1];
			id_hex(t->id, hex);
			sp_info("pairing: code %s for %s cancelled: %s, who asked for it, is no longer a "
			    "member", hex, t->name, by);
			wake(p, t->id, SP_ENOENT, t->name, NULL);
			token_forget(p, i);
			continue;
		}
		i++;
	}
}

int
sp_gw_pair_status(sp_gateway *g, const uint8_t id[SP_PAIR_TOKEN_ID], char name[64],
    uint8_t addr[16])
{
	sp_pair_token *t = g->pairing != NULL ? token_find(g->pairing, id) : NULL;

	if (t == NULL)
		return SP_ENOENT;
	snprintf(name, 64, "%s", t->name);
	if (t->used) {
		sp_ula_device(g->d->cloud.prefix, t->used_by, addr);
		return SP_EEXIST;
	}
	return t->expires <= sp_clock_wall() ? SP_ETIMEOUT : SP_OK;
}

int
sp_gw_pair_waiting(sp_gateway *g, const char *name)
{
	sp_gw_pairing *p = g->pairing;
	int64_t now = sp_clock_wall();

	for (size_t i = 0; p != NULL && i < p->nknown; i++)
		if (!p->known[i].used && p->known[i].expires > now &&
		    strcmp(p->known[i].name, name) == 0)
			return 1;
	return 0;
}

int64_t
sp_gw_pair_expires(sp_gateway *g, const uint8_t id[SP_PAIR_TOKEN_ID])
{
	sp_pair_token *t = g->pairing != NULL ? token_find(g->pairing, id) : NULL;

	return t != NULL ? t->expires : 0;
}

/* ---- a request ------------------------------------------------------------------ */

/* 1 if this source may make a request now. */
static int
rate_ok(sp_gw_pairing *p, const struct sockaddr *from)
{
	/* An IPv6 host has a /64 to send from: it counts as one source. */
	const uint8_t *a = from->sa_family == AF_INET ?
	    (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr :
	    (const uint8_t *)&((const struct sockaddr_in6 *)from)->sin6_addr;
	size_t alen = from->sa_family == AF_INET ? 4 : 8;
	uint64_t now = sp_clock_mono_ms();
	uint8_t h[8];
	size_t slot;

	crypto_shorthash(h, a, alen, p->rate_key);
	slot = ((size_t)h[0] << 8 | h[1]) % RATE_SOURCES;
	if (memcmp(p->rate[slot].key, h, 8) != 0) {
		memcpy(p->rate[slot].key, h, 8);
		p->rate[slot].tokens = RATE_BURST;
		p->rate[slot].at_ms = now;
	}
	p->rate[slot].tokens += (uint32_t)((now - p->rate[slot].at_ms) / 1000);
	p->rate[slot].at_ms += (now - p->rate[slot].at_ms) / 1000 * 1000;
	if (p->rate[slot].tokens > RATE_BURST)
		p->rate[slot].tokens = RATE_BURST;
	if (p->rate[slot].tokens == 0)
		return 0;
	p->rate[slot].tokens--;
	return 1;
}

/* 1 if code i may be opened again now. */
static int
code_budget_ok(sp_gw_pairing *p, size_t i)
{
	uint64_t now = sp_clock_mono_ms();

	if (p->opens[i].at_ms == 0) {
		p->opens[i].tokens = RATE_BURST;
		p->opens[i].at_ms = now;
	}
	p->opens[i].tokens += (uint32_t)((now - p->opens[i].at_ms) / 1000);
	p->opens[i].at_ms += (now - p->opens[i].at_ms) / 1000 * 1000;
	if (p->opens[i].tokens > RATE_BURST)
		p->opens[i].tokens = RATE_BURST;
	if (p->opens[i].tokens == 0)
		return 0;
	p->opens[i].tokens--;
	return 1;
}

/* 1 if the gateway may spend another open (RATE_GLOBAL) or signed
 * refusal (RATE_REFUSALS) this second. */
static int
budget_ok(sp_gw_pairing *p, int refusal)
{
	uint64_t sec = sp_clock_mono_ms() / 1000;

	if (sec != p->global_second) {
		p->global_second = sec;
		p->global_count = p->refusal_count = 0;
	}
	if (refusal)
		return ++p->refusal_count <= RATE_REFUSALS;
	return ++p->global_count <= RATE_GLOBAL;
}

static void
refuse(sp_gateway *g, const uint8_t id[SP_PAIR_TOKEN_ID], const uint8_t e_init[32],
    enum sp_pair_code code, const char *reason, const char *from_text,
    const struct sockaddr *from, socklen_t fromlen)
{
	uint8_t msg[SP_PAIR_MSG_MAX];
	size_t len;
	char hex[2 * SP_PAIR_TOKEN_ID + 1];

	sp_gw_pairing *p = g->pairing;
	uint64_t now = sp_clock_mono_ms();

	if (!budget_ok(p, 1)) {
		p->limited++;   /* not refused: not answered at all */
		return;
	}
	p->refused++;
	id_hex(id, hex);
	if (p->log_at == 0 || now - p->log_at >= 1000) {
		uint64_t add = p->log_at == 0 ? 10 : (now - p->log_at) / 1000;
		p->log_tokens = (unsigned)(p->log_tokens + add > 10 ? 10 : p->log_tokens + add);
		p->log_at = now;
	}
	if (p->log_tokens > 0) {
		p->log_tokens--;
		if (p->log_suppressed > 0)
			sp_warn("pairing: %u refusals were not logged (too many)", p->log_suppressed);
		p->log_suppressed = 0;
		sp_warn("pairing: refused a join from %s with code %s: %s", from_text, hex, reason);
	} else {
		p->log_suppressed++;
	}
	if (sp_pair_error_make(sp_daemon_device_key(g->d), id, e_init, code, reason, msg, &len) ==
	    SP_OK && sp_tunnel_send_other(g->d->tunnel, msg, len, from, fromlen) != SP_OK)
		sp_debug("pairing: the refusal to %s was not sent", from_text);
}

/* The settings a new member receives. */
static void
settings_for(sp_gateway *g, const char *name, char endpoint[][SP_PAIR_ENDPOINT_MAX],
    size_t nendpoints, sp_pair_settings *s)
{
	sp_daemon *d = g->d;

	memset(s, 0, sizeof(*s));
	snprintf(s->zone, sizeof(s->zone), "%s", d->cloud.zone);
	snprintf(s->name, sizeof(s->name), "%s", name);
	memcpy(s->prefix, d->cloud.prefix, sizeof(s->prefix));
	sp_tunnel_address(g->d->tunnel, s->gateway_addr);
	memcpy(s->gateway_key, sp_key_info_of(sp_daemon_device_key(d))->pub, SP_KEY_PUBLIC_BYTES);
	s->control_port = SP_CONTROL_PORT;
	for (size_t i = 0; i < nendpoints && i < SP_PAIR_MAX_ENDPOINTS; i++)
		snprintf(s->endpoint[s->nendpoints++], SP_PAIR_ENDPOINT_MAX, "%s", endpoint[i]);
	/* Every key of the DNSKEY set: the device keeps as its anchor those
	 * the pairing code's DS names. */
	for (size_t i = 0; i < d->nkeys && s->ndnskeys < SP_PAIR_MAX_DNSKEYS; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->role == SP_ROLE_DEVICE || k->state == SP_KSTATE_REVOKED)
			continue;
		sp_dnskey_rdata(k->flags, k->pub, s->dnskey[s->ndnskeys++]);
	}
}

static void
remember_answer(sp_gw_pairing *p, const uint8_t id[SP_PAIR_TOKEN_ID], const uint8_t e[32],
    const uint8_t *msg, size_t len)
{
	struct answered *a = &p->answered[p->next_answered++ % ANSWERED_MAX];

	memcpy(a->id, id, SP_PAIR_TOKEN_ID);
	memcpy(a->e, e, 32);
	memcpy(a->msg, msg, len);
	a->len = len;
}

static void
request(sp_gateway *g, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen)
{
	sp_gw_pairing *p = g->pairing;
	sp_daemon *d = g->d;
	uint8_t id[SP_PAIR_TOKEN_ID], e_init[32], x_priv[32], x_pub[32];
	uint8_t resp[SP_PAIR_MSG_MAX], addr[16];
	char from_text[80], hex[2 * SP_PAIR_TOKEN_ID + 1], why[400], rname[64];
	char eps[SP_PAIR_MAX_ENDPOINTS][SP_PAIR_ENDPOINT_MAX];
	enum sp_pair_type type;
	sp_pair_request req;
	sp_pair_settings s;
	sp_pair_state st;
	sp_pair_token *t;
	const sp_device *same;
	sp_device dev;
	sp_errmsg e;
	int64_t now = sp_clock_wall(), when;
	size_t rlen, neps;
	int chosen, rc;

	sp_addr_format(from, from_text, sizeof(from_text));
	if (sp_pair_peek(msg, len, &type, id, e_init) != SP_OK || type != SP_PAIR_REQUEST) {
		p->malformed++;   /* not a request: nothing to answer, and nobody to tell */
		return;
	}
	p->requests++;
	/* A retransmission of a request already answered gets that answer. */
	for (size_t i = 0; i < ANSWERED_MAX; i++)
		if (p->answered[i].len > 0 && memcmp(p->answered[i].id, id, sizeof(id)) == 0 &&
		    memcmp(p->answered[i].e, e_init, 32) == 0) {
			if (sp_tunnel_send_other(g->d->tunnel, p->answered[i].msg, p->answered[i].len,
			    from, fromlen) != SP_OK)
				sp_debug("pairing: a repeated answer to %s was not sent", from_text);
			return;
		}
	if ((t = token_find(p, id)) == NULL) {
		refuse(g, id, e_init, SP_PAIR_E_UNKNOWN_TOKEN, "this gateway made no such pairing "
		    "code: check that it was copied whole, or make a new one with 'signpost "
		    "pair'", from_text, from, fromlen);
		return;
	}
	if (!t->used && t->expires <= now) {
		refuse(g, id, e_init, SP_PAIR_E_EXPIRED, "this pairing code has expired: make a "
		    "new one with 'signpost pair'", from_text, from, fromlen);
		return;
	}
	if (!code_budget_ok(p, (size_t)(t - p->known)) || !budget_ok(p, 0)) {
		p->limited++;   /* the device retries every half second */
		return;
	}
	if (sp_key_x25519(sp_daemon_device_key(d), x_priv, x_pub) != SP_OK)
		return;
	rc = sp_pair_request_open(&st, x_priv, x_pub, t->token, msg, len, &req);
	sodium_memzero(x_priv, sizeof(x_priv));
	if (rc == SP_ECRYPTO) {
		refuse(g, id, e_init, SP_PAIR_E_FORGED, "the request does not match its pairing "
		    "code: a mistyped or forged code", from_text, from, fromlen);
		goto out;
	}
	if (rc != SP_OK) {
		refuse(g, id, e_init, SP_PAIR_E_MALFORMED, "a malformed pairing request",
		    from_text, from, fromlen);
		goto out;
	}
	/* The token is bound to the device key of its first redemption. */
	if (t->used && memcmp(t->used_by, req.device_key, SP_KEY_PUBLIC_BYTES) != 0) {
		refuse(g, id, e_init, SP_PAIR_E_USED, "this pairing code was used already, by "
		    "another device; each code pairs one device", from_text, from, fromlen);
		goto out;
	}
	if (strcmp(req.name, t->name) != 0) {
		refuse(g, id, e_init, SP_PAIR_E_MALFORMED, "the request asks for another name than "
		    "its code", from_text, from, fromlen);
		goto out;
	}
	if (sp_revoked_find(d->store, req.device_key, rname, &when, NULL) == SP_OK) {
		snprintf(why, sizeof(why), "this device's key was revoked (it was %s); pair it "
		    "again with a new key", rname[0] ? rname : "a member");
		refuse(g, id, e_init, SP_PAIR_E_REVOKED, why, from_text, from, fromlen);
		goto out;
	}
	same = gw_device_by_name(g, req.name);
	/* A used code only answers again (a lost response, a join retried
	 * after a local failure) while the device it admitted is still a
	 * member with that key: a request replayed after the device was
	 * removed admits nothing. */
	if (t->used && (same == NULL || memcmp(same->pub, req.device_key,
	    SP_KEY_PUBLIC_BYTES) != 0 || !same->has_token || memcmp(same->token_id, id,
	    SP_PAIR_TOKEN_ID) != 0)) {
		refuse(g, id, e_init, SP_PAIR_E_USED, "this pairing code was used already; each "
		    "code pairs one device, once", from_text, from, fromlen);
		goto out;
	}
	if (same == NULL && (same = gw_device_by_key(g, req.device_key)) != NULL) {
		snprintf(why, sizeof(why), "this device's key is a member already, as %s.%s",
		    same->name, d->cloud.zone);
		refuse(g, id, e_init, SP_PAIR_E_MEMBER, why, from_text, from, fromlen);
		goto out;
	}
	if (strcmp(req.name, d->cloud.name) == 0 ||
	    (same != NULL && memcmp(same->pub, req.device_key, SP_KEY_PUBLIC_BYTES) != 0)) {
		snprintf(why, sizeof(why), "the name '%s' is taken in %s", req.name, d->cloud.zone);
		refuse(g, id, e_init, SP_PAIR_E_NAME_TAKEN, why, from_text, from, fromlen);
		goto out;
	}
	/* Admit: one atomic write makes it a member (or, retried, it is one). */
	if (same == NULL) {
		memset(&dev, 0, sizeof(dev));
		snprintf(dev.name, sizeof(dev.name), "%s", req.name);
		dev.kind = SP_DEVICE_SIGNPOST;
		memcpy(dev.pub, req.device_key, SP_KEY_PUBLIC_BYTES);
		dev.added = now;
		memcpy(dev.token_id, id, sizeof(dev.token_id));
		dev.has_token = 1;
		if (sp_gw_member_add(g, &dev, &e) != SP_OK) {
			sp_err("pairing: admitting %s: %s", req.name, e.msg);
			refuse(g, id, e_init, SP_PAIR_E_INTERNAL, "the gateway could not store the "
			    "new device; try again", from_text, from, fromlen);
			goto out;
		}
	}
	if (!t->used) {
		t->used = 1;
		memcpy(t->used_by, req.device_key, SP_KEY_PUBLIC_BYTES);
		if (token_save(g, t, &e) != SP_OK)
			sp_warn("pairing: marking the code used: %s (the device's record says it "
			    "is)", e.msg);
	}
	neps = sp_gw_endpoints(g, eps, SP_PAIR_MAX_ENDPOINTS, &chosen);
	settings_for(g, req.name, eps, neps, &s);
	if (sp_pair_response_make(&st, &s, d->rng, resp, &rlen) != SP_OK) {
		sp_err("pairing: cannot build the response for %s", req.name);
		goto out;
	}
	remember_answer(p, id, e_init, resp, rlen);
	if (sp_tunnel_send_other(g->d->tunnel, resp, rlen, from, fromlen) != SP_OK)
		sp_warn("pairing: the response to %s was not sent; its retry will get it",
		    from_text);
	p->admitted++;
	sp_ula_device(d->cloud.prefix, req.device_key, addr);
	{
		char a[INET6_ADDRSTRLEN];
		id_hex(id, hex);
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		sp_info("pairing: %s.%s joined from %s with code %s; its address is %s", req.name,
		    d->cloud.zone, from_text, hex, a);
	}
	wake(p, id, SP_OK, req.name, addr);
out:
	sp_pair_wipe(&st);
}

/* A datagram on the WireGuard port: 1 if it was pairing's. */
int
gw_pairing_input(void *arg, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen)
{
	sp_gateway *g = arg;

	if (g->pairing == NULL || len == 0 || msg[0] != SP_PAIR_MAGIC)
		return 0;
	if (!rate_ok(g->pairing, from)) {
		g->pairing->limited++;
		return 1;
	}
	request(g, msg, len, from, fromlen);
	return 1;
}

void
gw_pairing_status(const sp_gateway *g, sp_ctl_reply *r)
{
	const sp_gw_pairing *p = g->pairing;
	int64_t now = sp_clock_wall();

	if (p == NULL)
		return;
	sp_ctl_reply_field(r, "pairing-pending", "%zu", pending_count(p, now));
	sp_ctl_reply_field(r, "pairing", "requests=%llu admitted=%llu refused=%llu limited=%llu "
	    "malformed=%llu", (unsigned long long)p->requests, (unsigned long long)p->admitted,
	    (unsigned long long)p->refused, (unsigned long long)p->limited,
	    (unsigned long long)p->malformed);
}
