/*
 * The members' control plane, the gateway's side (docs/control-plane.md):
 * TCP on the gateway's overlay address, bound to the tunnel interface.
 *
 * Who is speaking is settled twice. The source address must be a
 * member's overlay address: only that member's WireGuard session can
 * bring packets from it (cryptokey routing). That proves the host, not
 * the program, so the gateway then sends a CHALLENGE and the member's
 * daemon answers HELLO with the challenge signed by its Ed25519 identity
 * key. Until then a connection may say nothing else; another process on
 * the member's host cannot pass, and cannot displace the daemon's own
 * connection.
 *
 * Members get the member list at hello and on every change; they may ask
 * for a pairing code, and wait for its use.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_member.h"
#include "sp_pair.h"
#include "stream.h"
#include "tunnel.h"

#define CP_TIMEOUT_MS 90000        /* members ping every 30 s */
#define CP_HELLO_MS 10000          /* from accept to a verified HELLO */
#define CP_OUT_MAX (1024 * 1024)   /* the list of a large cloud, twice */
#define CP_UNVERIFIED_MAX 32       /* connections still to say HELLO */
#define CP_ASKED_MAX 64            /* codes members wait on */
#define ICE_PER_SECOND 64          /* ICE messages a member may have forwarded */
#define TURN_TTL 86400             /* TURN credentials are good for a day */

struct cp_conn {
	sp_gateway *g;
	sp_stream *s;
	char name[64];               /* the member whose address it came from */
	uint8_t key[SP_KEY_PUBLIC_BYTES];
	uint8_t nonce[32];           /* the challenge */
	uint64_t accepted_ms;
	int hello;                   /* verified */
	uint32_t version;            /* its HELLO's: 2 takes ICE messages */
	uint64_t ice_second;         /* the second its ICE messages are counted in */
	unsigned ice_count;
};

/* A member's wait for a code's use. */
struct asked {
	sp_gateway *g;
	char by[64];
	uint8_t id[SP_PAIR_TOKEN_ID];
	uint32_t seq;
};

/* Overlay address -> member, sorted, made again on every change. */
struct addr_entry {
	uint8_t addr[16];
	size_t dev;
};

struct sp_gw_members {
	sp_gateway *g;
	int fd;
	sp_watch *watch;
	struct cp_conn **conns;
	size_t nconns, capconns;
	struct asked *asked[CP_ASKED_MAX];
	size_t nasked;
	struct addr_entry *addrs;
	size_t naddrs;
	int addrs_stale;             /* the registry changed: index again when asked */
	uint64_t refused, messages, log_second;
	uint64_t ice_forwarded, ice_refused, ice_limited;
	unsigned log_suppressed;
};

/* A warning, at most one a second (refusals can be made to come fast). */
static void
warn_limited(sp_gw_members *m, const char *what, const char *who)
{
	uint64_t sec = sp_clock_mono_ms() / 1000;

	if (sec == m->log_second) {
		m->log_suppressed++;
		return;
	}
	if (m->log_suppressed > 0)
		sp_warn("control plane: %u more refusals in the second before", m->log_suppressed);
	m->log_second = sec;
	m->log_suppressed = 0;
	sp_warn("control plane: %s %s", what, who);
}

static void
conn_free(struct cp_conn *c)
{
	sp_gw_members *m = c->g->members;

	for (size_t i = 0; i < m->nconns; i++)
		if (m->conns[i] == c) {
			m->conns[i] = m->conns[--m->nconns];
			break;
		}
	sp_stream_free(c->s);   /* safe inside the stream's own callbacks */
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* 0 if the member is not reading and its connection was closed. */
static int
send_msg(struct cp_conn *c, const sp_cp_msg *msg)
{
	uint8_t buf[SP_CP_MSG_MAX + 2];
	size_t len;
	int rc;

	if (sp_cp_encode(msg, buf, sizeof(buf), &len) != SP_OK) {
		sp_err("control plane: a message to %s does not fit", c->name);
		return 1;
	}
	rc = sp_stream_send(c->s, buf, len);
	sodium_memzero(buf, len);
	if (rc != SP_OK) {
		sp_warn("control plane: %s is not reading; closing its connection", c->name);
		conn_free(c);
		return 0;
	}
	return 1;
}

/*
 * Time-limited TURN credentials for the member with this key, in coturn's
 * REST-API form (use-auth-secret): the user is "EXPIRY:KEYID" (Unix
 * seconds; the key's first 8 bytes in hex), the password
 * base64(HMAC-SHA1(turn-secret, user)). Nothing when no TURN server is
 * configured. SHA-1 is coturn's choice, from OpenSSL (libsodium has none).
 */
static void
turn_creds(const sp_daemon *d, const uint8_t key[32], sp_cp_msg *msg)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	char hex[17];

	if (d->conf.turn_server_len == 0 || d->conf.turn_secret[0] == '\0')
		return;
	sodium_bin2hex(hex, sizeof(hex), key, 8);
	snprintf(msg->turn_user, sizeof(msg->turn_user), "%lld:%s",
	    (long long)sp_clock_wall() + TURN_TTL, hex);
	if (HMAC(EVP_sha1(), d->conf.turn_secret, (int)strlen(d->conf.turn_secret),
	    (const uint8_t *)msg->turn_user, strlen(msg->turn_user), mac, &maclen) == NULL) {
		msg->turn_user[0] = '\0';
		return;
	}
	sodium_bin2base64(msg->turn_password, sizeof(msg->turn_password), mac, maclen,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(mac, sizeof(mac));
	(void)sp_addr_format((const struct sockaddr *)&d->conf.turn_server, msg->turn_server,
	    sizeof(msg->turn_server));
}

/* The gateway relays between members unless `relay off`. */
static int
relay_on(const sp_daemon *d)
{
	return d->tunnel != NULL && d->conf.relay != 0;
}

/* The member list, as members see it, in parts of SP_CP_MAX_MEMBERS. */
static void
send_members(struct cp_conn *c, sp_cp_msg *msg)
{
	sp_gateway *g = c->g;
	sp_daemon *d = g->d;
	const sp_key_info *self = sp_key_info_of(sp_daemon_device_key(d));
	size_t i = 0;

	do {
		memset(msg, 0, sizeof(*msg));
		msg->type = SP_CP_MEMBERS;
		if (i == 0) {
			sp_cp_member *x = &msg->members[msg->nmembers++];
			uint8_t addr[16];
			/* The receiver's own slot and key: its way into the relay. */
			sp_ula_device(d->cloud.prefix, c->key, addr);
			if (!relay_on(d) || sp_tunnel_relay_grant(d->tunnel, addr,
			    &msg->relay_self, msg->relay_key) != SP_OK)
				msg->relay_self = 0;
			msg->relay_tls_port = relay_tls_port(d);
			turn_creds(d, c->key, msg);
			snprintf(x->name, sizeof(x->name), "%s", d->cloud.name);
			x->kind = SP_CP_KIND_GATEWAY;
			memcpy(x->key, self->pub, 32);
			sp_ula_device(d->cloud.prefix, self->pub, x->addr);
		}
		for (; i < g->ndevs && msg->nmembers < SP_CP_MAX_MEMBERS; i++) {
			sp_cp_member *x = &msg->members[msg->nmembers++];
			snprintf(x->name, sizeof(x->name), "%s", g->devs[i].name);
			x->kind = g->devs[i].kind == SP_DEVICE_WIREGUARD ? SP_CP_KIND_WIREGUARD :
			    SP_CP_KIND_SIGNPOST;
			memcpy(x->key, g->devs[i].pub, 32);
			sp_ula_device(d->cloud.prefix, g->devs[i].pub, x->addr);
			/* Signpost members are reached through the relay by their slot;
			 * WireGuard-app phones through the gateway's hub. */
			if (x->kind == SP_CP_KIND_SIGNPOST && relay_on(d)) {
				uint8_t k[SP_RELAY_KEY_BYTES];
				if (sp_tunnel_relay_grant(d->tunnel, x->addr, &x->relay, k) != SP_OK)
					x->relay = 0;
				sodium_memzero(k, sizeof(k));
			}
		}
		msg->more = i < g->ndevs;
		if (!send_msg(c, msg))
			break;
		sodium_memzero(msg->relay_key, sizeof(msg->relay_key));
		sodium_memzero(msg->turn_password, sizeof(msg->turn_password));
	} while (i < g->ndevs);
	sodium_memzero(msg->relay_key, sizeof(msg->relay_key));
	sodium_memzero(msg->turn_password, sizeof(msg->turn_password));
}

static int
cmp_addr(const void *a, const void *b)
{
	return memcmp(((const struct addr_entry *)a)->addr, ((const struct addr_entry *)b)->addr,
	    16);
}

static void
index_addresses(sp_gateway *g)
{
	sp_gw_members *m = g->members;
	struct addr_entry *a = g->ndevs ? calloc(g->ndevs, sizeof(*a)) : NULL;

	free(m->addrs);
	m->addrs = a;
	m->naddrs = 0;
	if (a == NULL)
		return;   /* out of memory: nobody is recognised until the next change */
	for (size_t i = 0; i < g->ndevs; i++) {
		sp_ula_device(g->d->cloud.prefix, g->devs[i].pub, a[i].addr);
		a[i].dev = i;
	}
	m->naddrs = g->ndevs;
	qsort(a, m->naddrs, sizeof(*a), cmp_addr);
}

/* The member whose overlay address this is, or NULL. */
static const sp_device *
member_at(sp_gateway *g, const struct sockaddr_storage *ss)
{
	sp_gw_members *m = g->members;
	struct addr_entry key;
	const struct addr_entry *hit;

	if (ss->ss_family != AF_INET6)
		return NULL;
	if (m->addrs_stale) {
		/* Indexed when a connection needs it, not at every change: a
		 * gateway adding thousands of devices hashes each once. */
		index_addresses(g);
		m->addrs_stale = 0;
	}
	memcpy(key.addr, ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr, 16);
	hit = m->naddrs ? bsearch(&key, m->addrs, m->naddrs, sizeof(*m->addrs), cmp_addr) : NULL;
	return hit != NULL ? &g->devs[hit->dev] : NULL;
}

void
gw_members_changed(sp_gateway *g)
{
	sp_gw_members *m = g->members;
	sp_cp_msg *msg;

	if (m == NULL)
		return;
	m->addrs_stale = 1;
	if (m->nconns == 0)
		return;   /* nobody to tell */
	if ((msg = malloc(sizeof(*msg))) == NULL)
		return;
	for (size_t i = 0; i < m->nconns;) {
		struct cp_conn *c = m->conns[i];
		const sp_device *dev = gw_device_by_name(g, c->name);
		/* A member that is no longer one (revoked, removed, renamed,
		 * a new key) is closed: it will come back as what it is now. */
		if (dev == NULL || memcmp(dev->pub, c->key, SP_KEY_PUBLIC_BYTES) != 0) {
			conn_free(c);
			continue;
		}
		i++;
	}
	/* Sending may close a connection (a member not reading): walk a copy. */
	{
		size_t n = m->nconns;
		struct cp_conn **copy = n ? malloc(n * sizeof(*copy)) : NULL;
		if (n == 0 || copy != NULL) {
			if (n)
				memcpy(copy, m->conns, n * sizeof(*copy));
			for (size_t i = 0; i < n; i++) {
				int alive = 0;
				for (size_t k = 0; k < m->nconns; k++)
					alive |= m->conns[k] == copy[i];
				if (alive && copy[i]->hello)
					send_members(copy[i], msg);
			}
			free(copy);
		}
	}
	free(msg);
}

static struct cp_conn *
conn_of(sp_gw_members *m, const char *name)
{
	for (size_t i = 0; i < m->nconns; i++)
		if (m->conns[i]->hello && strcmp(m->conns[i]->name, name) == 0)
			return m->conns[i];
	return NULL;
}

static void
asked_drop(sp_gw_members *m, struct asked *a)
{
	for (size_t i = 0; m != NULL && i < m->nasked; i++)
		if (m->asked[i] == a) {
			m->asked[i] = m->asked[--m->nasked];
			break;
		}
	free(a);
}

/* A code a member waits on was used or expired (or pairing stops). */
static void
pair_done(void *arg, uint64_t ticket, int rc, const char *name, const uint8_t addr[16])
{
	struct asked *a = arg;
	sp_gw_members *m = a->g->members;
	struct cp_conn *c = m != NULL ? conn_of(m, a->by) : NULL;
	sp_cp_msg msg;

	(void)ticket;
	if (c != NULL) {
		memset(&msg, 0, sizeof(msg));
		memcpy(msg.token_id, a->id, sizeof(msg.token_id));
		msg.seq = a->seq;
		if (rc == SP_OK && addr != NULL && name != NULL) {
			msg.type = SP_CP_JOINED;
			snprintf(msg.name, sizeof(msg.name), "%s", name);
			memcpy(msg.addr, addr, 16);
		} else {
			msg.type = SP_CP_PAIR_ERR;
			msg.code = rc == SP_OK ? SP_EIO : rc;
			snprintf(msg.text, sizeof(msg.text), "the code for %s expired unused",
			    name != NULL ? name : "a device");
		}
		(void)send_msg(c, &msg);
	}
	/* A member not connected now hears it when it waits again. */
	asked_drop(m, a);
}

static void
pair_request(struct cp_conn *c, const sp_cp_msg *in)
{
	sp_gateway *g = c->g;
	sp_cp_msg out;
	sp_pair_uri u;
	sp_errmsg e;
	int chosen = 0, rc;

	memset(&out, 0, sizeof(out));
	memset(&u, 0, sizeof(u));
	out.seq = in->seq;
	rc = sp_gw_pair_create(g, in->name, in->ttl, c->name, &u, &chosen, &e);
	if (rc == SP_OK) {
		sp_pair_token_id(u.token, out.token_id);
		if ((rc = sp_pair_uri_format(&u, out.text, sizeof(out.text))) != SP_OK) {
			/* A code nobody can be shown: gone at once. */
			sp_gw_pair_cancel(g, out.token_id);
			snprintf(e.msg, sizeof(e.msg), "the code does not fit in a message");
		}
	}
	if (rc == SP_OK) {
		out.type = SP_CP_PAIR_OK;
		out.chosen = (uint32_t)chosen;
	} else {
		out.type = SP_CP_PAIR_ERR;
		out.code = rc;
		snprintf(out.text, sizeof(out.text), "%s", e.msg);
	}
	sodium_memzero(&u, sizeof(u));
	(void)send_msg(c, &out);
	sodium_memzero(out.text, sizeof(out.text));
}

/* WAIT: the code's use now if it was used, else when it is. */
static void
pair_wait(struct cp_conn *c, const sp_cp_msg *in)
{
	sp_gateway *g = c->g;
	sp_gw_members *m = g->members;
	struct asked *a;
	sp_cp_msg out;
	char name[64] = "";
	uint8_t addr[16];
	sp_errmsg e;
	int rc = sp_gw_pair_status(g, in->token_id, name, addr);

	memset(&out, 0, sizeof(out));
	out.seq = in->seq;
	memcpy(out.token_id, in->token_id, sizeof(out.token_id));
	if (rc == SP_EEXIST) {
		out.type = SP_CP_JOINED;
		snprintf(out.name, sizeof(out.name), "%s", name);
		memcpy(out.addr, addr, 16);
		(void)send_msg(c, &out);
		return;
	}
	if (rc == SP_OK) {
		for (size_t i = 0; i < m->nasked; i++)
			if (strcmp(m->asked[i]->by, c->name) == 0 &&
			    memcmp(m->asked[i]->id, in->token_id, SP_PAIR_TOKEN_ID) == 0) {
				m->asked[i]->seq = in->seq;
				return;   /* waited on already (a reconnect) */
			}
		if (m->nasked == CP_ASKED_MAX || (a = calloc(1, sizeof(*a))) == NULL) {
			rc = SP_EBUSY;
		} else {
			a->g = g;
			a->seq = in->seq;
			snprintf(a->by, sizeof(a->by), "%s", c->name);
			memcpy(a->id, in->token_id, sizeof(a->id));
			if ((rc = sp_gw_pair_wait(g, a->id, 0, pair_done, a, &e)) == SP_OK) {
				m->asked[m->nasked++] = a;
				return;
			}
			free(a);
		}
	}
	out.type = SP_CP_PAIR_ERR;
	out.code = rc;
	snprintf(out.text, sizeof(out.text), "%s", rc == SP_ENOENT ? "no such code (the gateway "
	    "forgets codes a day after they expire)" : rc == SP_ETIMEOUT ? "the code expired "
	    "unused" : "the gateway is waiting on too many codes");
	(void)send_msg(c, &out);
}

/* HELLO: the challenge signed with the key the address belongs to. */
static int
hello(struct cp_conn *c, const sp_cp_msg *in)
{
	sp_gw_members *m = c->g->members;
	const sp_device *dev = gw_device_by_name(c->g, c->name);
	const uint8_t *gw = sp_key_info_of(sp_daemon_device_key(c->g->d))->pub;
	uint8_t signed_part[SP_CP_HELLO_SIGNED];
	struct cp_conn *old;

	if (in->version != 1 && in->version != SP_CP_VERSION) {
		warn_limited(m, "refused a member speaking another version:", c->name);
		return 0;
	}
	sp_cp_hello_signed(c->nonce, gw, c->key, signed_part);
	if (dev == NULL || memcmp(dev->pub, c->key, SP_KEY_PUBLIC_BYTES) != 0 ||
	    sp_key_verify(c->key, signed_part, sizeof(signed_part), in->sig) != SP_OK) {
		warn_limited(m, "refused a connection whose HELLO does not verify, from the host of",
		    c->name);
		return 0;
	}
	/* The daemon's newer connection replaces its older one, and takes over
	 * its ICE budget: a member gets 64 a second, however many times it
	 * connects. */
	if ((old = conn_of(m, c->name)) != NULL) {
		c->ice_second = old->ice_second;
		c->ice_count = old->ice_count;
		conn_free(old);
	}
	c->hello = 1;
	c->version = in->version;
	sp_stream_set_timeout(c->s, CP_TIMEOUT_MS);
	return 1;
}

/*
 * The access-policy hook (a later issue fills it): may member `from`
 * signal to member `to`? Today every pair of Signpost members may.
 */
static int
policy_may_signal(const sp_device *from, const sp_device *to)
{
	(void)from;
	(void)to;
	return 1;
}

/*
 * The rendezvous (docs/control-plane.md, "ICE signalling"): an ICE message
 * for another current Signpost member, connected with version 2, goes to
 * it with `peer` naming the sender. Anything else is dropped and counted,
 * with no answer: the sender's agent gives up and stays on the relay, and
 * the sender learns nothing of who is connected.
 */
static void
ice_forward(struct cp_conn *c, sp_cp_msg *in)
{
	sp_gw_members *m = c->g->members;
	const sp_device *from = gw_device_by_key(c->g, c->key);
	const sp_device *to = gw_device_by_key(c->g, in->peer);
	struct cp_conn *dst;
	uint64_t sec = sp_clock_mono_ms() / 1000;

	if (sec != c->ice_second) {
		c->ice_second = sec;
		c->ice_count = 0;
	}
	if (++c->ice_count > ICE_PER_SECOND) {
		m->ice_limited++;
		return;
	}
	if (from == NULL || to == NULL || from == to || to->kind == SP_DEVICE_WIREGUARD ||
	    from->kind == SP_DEVICE_WIREGUARD || !policy_may_signal(from, to) ||
	    (dst = conn_of(m, to->name)) == NULL || dst->version < 2 ||
	    memcmp(dst->key, to->pub, SP_KEY_PUBLIC_BYTES) != 0) {
		m->ice_refused++;
		return;
	}
	memcpy(in->peer, c->key, 32);
	if (send_msg(dst, in))
		m->ice_forwarded++;
}

static void
on_msg(void *arg, const uint8_t *buf, size_t len)
{
	struct cp_conn *c = arg;
	sp_gw_members *m = c->g->members;
	sp_cp_msg *in = malloc(sizeof(*in));

	if (in == NULL)
		return;
	m->messages++;
	if (sp_cp_decode(buf, len, in) != SP_OK) {
		m->refused++;
		warn_limited(m, "a malformed message; closing the connection of", c->name);
		free(in);
		conn_free(c);
		return;
	}
	if (!c->hello && in->type != SP_CP_HELLO) {
		m->refused++;
		warn_limited(m, "a message before HELLO; closing the connection from the host of",
		    c->name);
		free(in);
		conn_free(c);
		return;
	}
	switch (in->type) {
	case SP_CP_HELLO:
		if (c->hello || !hello(c, in)) {
			m->refused++;
			conn_free(c);
			break;
		}
		send_members(c, in);
		break;
	case SP_CP_PAIR:
		pair_request(c, in);
		break;
	case SP_CP_WAIT:
		pair_wait(c, in);
		break;
	case SP_CP_PING:
		memset(in, 0, sizeof(*in));
		in->type = SP_CP_PONG;
		turn_creds(c->g->d, c->key, in);   /* always a day ahead */
		(void)send_msg(c, in);
		sodium_memzero(in->turn_password, sizeof(in->turn_password));
		break;
	case SP_CP_ICE:
		if (c->version >= 2)
			ice_forward(c, in);
		else
			m->ice_refused++;
		sodium_memzero(in->pwd, sizeof(in->pwd));
		break;
	default:
		break;   /* a newer member's message */
	}
	sodium_memzero(in->text, sizeof(in->text));
	free(in);
}

static void
on_end(void *arg, const char *why)
{
	struct cp_conn *c = arg;

	sp_debug("control plane: %s left (%s)", c->name, why);
	conn_free(c);
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
	sp_cp_msg msg;
	size_t unverified = 0;
	uint64_t now = sp_clock_mono_ms();
	char a[80];
	int cfd;

	(void)events;
	if ((cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	sp_addr_format((struct sockaddr *)&ss, a, sizeof(a));
	if ((dev = member_at(g, &ss)) == NULL || dev->kind == SP_DEVICE_WIREGUARD) {
		m->refused++;
		warn_limited(m, dev == NULL ? "refused a connection not from a member's address:" :
		    "refused a connection from a WireGuard-app phone:", a);
		close(cfd);
		return;
	}
	/* Unverified connections are few and short-lived: the oldest one past
	 * its time makes room. */
	for (size_t i = 0; i < m->nconns;) {
		if (!m->conns[i]->hello && now - m->conns[i]->accepted_ms > CP_HELLO_MS) {
			conn_free(m->conns[i]);
			continue;
		}
		unverified += !m->conns[i]->hello;
		i++;
	}
	if (unverified >= CP_UNVERIFIED_MAX) {
		m->refused++;
		warn_limited(m, "refused a connection (too many still to say HELLO) from", a);
		close(cfd);
		return;
	}
	if (m->nconns == m->capconns) {
		size_t cap = m->capconns ? m->capconns * 2 : 16;
		struct cp_conn **nc = realloc(m->conns, cap * sizeof(*nc));
		if (nc == NULL) {
			close(cfd);
			return;
		}
		m->conns = nc;
		m->capconns = cap;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(cfd);
		return;
	}
	c->g = g;
	c->accepted_ms = now;
	snprintf(c->name, sizeof(c->name), "%s", dev->name);
	memcpy(c->key, dev->pub, sizeof(c->key));
	sp_rng_fill(g->d->rng, c->nonce, sizeof(c->nonce));
	/* HELLO within CP_HELLO_MS, or the stream's deadline ends it. */
	if (sp_stream_new(g->d->loop, cfd, 0, SP_CP_MSG_MAX, CP_OUT_MAX, CP_HELLO_MS, on_msg,
	    NULL, on_end, c, &c->s) != SP_OK) {
		close(cfd);
		free(c);
		return;
	}
	m->conns[m->nconns++] = c;
	memset(&msg, 0, sizeof(msg));
	msg.type = SP_CP_CHALLENGE;
	msg.version = SP_CP_VERSION;
	memcpy(msg.nonce, c->nonce, sizeof(msg.nonce));
	(void)send_msg(c, &msg);
}

int
gw_members_start(sp_gateway *g, sp_errmsg *e)
{
	struct sockaddr_in6 a;
	sp_gw_members *m;
	const char *ifname;
	int rc;

	if (g->d->tunnel == NULL)
		return SP_OK;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	m->g = g;
	m->fd = -1;
	g->members = m;
	index_addresses(g);
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(SP_CONTROL_PORT);
	sp_tunnel_address(g->d->tunnel, a.sin6_addr.s6_addr);
	if ((rc = sp_tcp_listen_own((struct sockaddr *)&a, sizeof(a), &m->fd, e)) != SP_OK)
		return rc;
	/* Only what comes through the tunnel: the overlay address is not to
	 * be reached from the LAN by a host that routes to it. */
	ifname = sp_tunnel_ifname(g->d->tunnel);
	if (setsockopt(m->fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) != 0)
		return sp_errf(e, SP_EIO, "control plane: binding to %s: %s", ifname,
		    strerror(errno));
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
	while (m->nconns > 0)
		conn_free(m->conns[0]);
	free(m->conns);
	/* The waits stay with pairing, which frees them when it stops. */
	sp_watch_cancel(m->watch);
	if (m->fd >= 0)
		close(m->fd);
	free(m->addrs);
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
	for (size_t i = 0; i < m->nconns; i++)
		n += m->conns[i]->hello;
	sp_ctl_reply_field(r, "members-connected", "%zu", n);
	sp_ctl_reply_field(r, "control-plane-refused", "%llu", (unsigned long long)m->refused);
	sp_ctl_reply_field(r, "rendezvous", "forwarded=%llu refused=%llu rate-limited=%llu "
	    "relay=%s turn=%s", (unsigned long long)m->ice_forwarded,
	    (unsigned long long)m->ice_refused, (unsigned long long)m->ice_limited,
	    relay_on(g->d) ? "on" : "off", g->d->conf.turn_server_len ? "on" : "off");
}
