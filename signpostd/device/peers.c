/*
 * The other members as tunnel peers (docs/relay.md). The gateway's member
 * list says who is a member and at which relay slot; each member's
 * WireGuard key comes only from its IPSECKEY record, validated by the
 * resolver up to the trust anchor. A member becomes our peer once that
 * record validates: reached through the gateway's relay, end to end
 * encrypted, until a direct path is found (the ICE issue). A lookup of a
 * member starts the handshake, so the session is up when the program's
 * first packet comes; a session idle for idle-timeout is closed, and the
 * next packet or lookup opens it again. A member that leaves the list
 * (revoked, removed) stops being a peer at once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "daemon.h"
#include "member_int.h"
#include "sp_devres.h"
#include "sp_log.h"
#include "tunnel.h"

#define RETRY_MS 5000          /* a key that did not validate is asked for again */
#define TICK_MS 5000           /* the idle check */
#define T_IPSECKEY 45
#define IPSECKEY_EDDSA 4

static void resolved(void *arg, const struct sp_devres_rrset *rr);

static struct mpeer *
find_by_name(sp_member *m, const char *name)
{
	for (size_t i = 0; i < m->npeers; i++)
		if (m->peers[i] != NULL && strcmp(m->peers[i]->name, name) == 0)
			return m->peers[i];
	return NULL;
}

static void
start_lookup(struct mpeer *p)
{
	p->state = M_RESOLVING;
	p->retry_ms = sp_clock_mono_ms() + RETRY_MS;
	/* An answer from the cache comes back before this returns. */
	if (dr_lookup(p->m, p->fqdn, p->fqdn_len, T_IPSECKEY, resolved, p) != SP_OK) {
		p->state = M_FAILED;
		snprintf(p->why, sizeof(p->why), "resolver-busy");
	}
}

/* Its validated IPSECKEY: the key must be the one the member list names
 * (the list is the gateway's word; the record is the zone's, signed). */
static void
resolved(void *arg, const struct sp_devres_rrset *rr)
{
	struct mpeer *p = arg;
	sp_member *m = p->m;
	sp_tunnel_prefix ip;
	sp_errmsg e;
	int found = 0;

	p->retry_ms = sp_clock_mono_ms() + RETRY_MS;
	if (rr == NULL || rr->kind != SP_DEVRES_POSITIVE) {
		p->state = M_FAILED;
		snprintf(p->why, sizeof(p->why), "%s", rr == NULL ? "ipseckey-not-validated" :
		    "no-ipseckey");
		return;
	}
	for (size_t i = 0; i < rr->n && !found; i++)
		found = rr->rdlen[i] == 3 + 32 && rr->rdata[i][1] == 0 &&
		    rr->rdata[i][2] == IPSECKEY_EDDSA && memcmp(rr->rdata[i] + 3, p->ed, 32) == 0;
	if (!found) {
		p->state = M_FAILED;
		snprintf(p->why, sizeof(p->why), "key-differs-from-list");
		sp_warn("member: %s: its signed IPSECKEY is not the key the gateway's list names; "
		    "not a peer", p->name);
		return;
	}
	if (sp_key_x25519_public(p->ed, p->x) != SP_OK) {
		p->state = M_FAILED;
		snprintf(p->why, sizeof(p->why), "no-x25519-form");
		return;
	}
	memset(&ip, 0, sizeof(ip));
	ip.family = 6;
	ip.cidr = 128;
	memcpy(ip.addr, p->addr, 16);
	/* Slot 0: the gateway relays nothing (relay off); only ICE reaches it. */
	if (sp_tunnel_peer_set(m->d->tunnel, p->x, NULL, 0, 0, &ip, 1, &e) != SP_OK ||
	    (p->relay != 0 && sp_tunnel_peer_relay(m->d->tunnel, p->x, p->relay) != SP_OK)) {
		p->state = M_FAILED;
		snprintf(p->why, sizeof(p->why), "tunnel-refused");
		return;
	}
	p->state = M_READY;
	p->why[0] = '\0';
	sp_info("member: %s is a peer (key from its validated IPSECKEY), %s", p->name,
	    p->relay != 0 ? "through the relay" : "reached only by ICE (the gateway does not relay)");
	ice_peer_ready(m, p);
	if (p->kick) {
		p->kick = 0;
		(void)sp_tunnel_peer_kick(m->d->tunnel, p->x);
		ice_want(m, p);
	}
}

static void
drop(sp_member *m, size_t i)
{
	struct mpeer *p = m->peers[i];

	dr_forget(m, p);
	ice_drop(m, p);
	if (p->state == M_READY) {
		/* Revoked or gone: its sessions end now (docs/relay.md). */
		(void)sp_tunnel_peer_remove(m->d->tunnel, p->x);
		sp_info("member: %s is no longer a member; its tunnel is closed", p->name);
	}
	sodium_memzero(p, sizeof(*p));
	free(p);
	m->peers[i] = m->peers[--m->npeers];
}

void
peers_sync(sp_member *m)
{
	const sp_key *self = sp_daemon_device_key(m->d);
	int removed = 0;

	if (m->d->tunnel == NULL || self == NULL)
		return;
	for (size_t i = 0; i < m->npeers; i++)
		m->peers[i]->live = 0;
	for (size_t i = 0; i < m->nlist; i++) {
		const sp_cp_member *x = &m->list[i];
		struct mpeer *p = find_by_name(m, x->name), **np;
		char fqdn[320];

		if (x->kind != SP_CP_KIND_SIGNPOST ||
		    memcmp(x->key, sp_key_info_of(self)->pub, 32) == 0)
			continue;
		if (p != NULL && memcmp(p->ed, x->key, 32) == 0) {
			p->live = 1;
			if (p->relay != x->relay) {
				p->relay = x->relay;
				if (p->state == M_READY)
					(void)sp_tunnel_peer_relay(m->d->tunnel, p->x, p->relay);
			}
			continue;
		}
		/* New, or the name has a new key: a new peer. */
		if ((p = calloc(1, sizeof(*p))) == NULL ||
		    (np = realloc(m->peers, (m->npeers + 1) * sizeof(*np))) == NULL) {
			free(p);
			continue;
		}
		m->peers = np;
		p->m = m;
		snprintf(p->name, sizeof(p->name), "%s", x->name);
		memcpy(p->ed, x->key, 32);
		memcpy(p->addr, x->addr, 16);
		p->relay = x->relay;
		p->live = 1;
		snprintf(fqdn, sizeof(fqdn), "%s.%s", x->name, m->d->cloud.zone);
		if (sp_dname_from_text(fqdn, p->fqdn, &p->fqdn_len) != SP_OK) {
			free(p);
			continue;
		}
		m->peers[m->npeers++] = p;
		start_lookup(p);
	}
	for (size_t i = 0; i < m->npeers;) {
		if (!m->peers[i]->live) {
			drop(m, i);
			removed = 1;
		} else {
			i++;
		}
	}
	/* What was cached of a member that left must not be answered. */
	if (removed)
		dr_flush(m);
}

void
peers_relay_self(sp_member *m, uint32_t slot, const uint8_t key[8])
{
	if (m->d->tunnel == NULL)
		return;
	if (sp_tunnel_relay_self(m->d->tunnel, m->gw_x25519, key) != SP_OK)
		return;
	if (m->relay_self != slot)
		sp_info("member: the gateway's relay is open to us (slot %u)", slot);
	m->relay_self = slot;
}

void
peers_on_lookup(sp_member *m, const uint8_t *qname, size_t qlen)
{
	for (size_t i = 0; i < m->npeers; i++) {
		struct mpeer *p = m->peers[i];
		if (p->fqdn_len != qlen || memcmp(p->fqdn, qname, qlen) != 0)
			continue;
		if (p->state == M_READY) {
			(void)sp_tunnel_peer_kick(m->d->tunnel, p->x);
			ice_want(m, p);
		} else {
			p->kick = 1;
		}
		if (p->state == M_FAILED)
			start_lookup(p);
		return;
	}
}

/* Close idle sessions; ask again for keys that did not validate. */
static void
on_tick(void *arg)
{
	sp_member *m = arg;
	uint64_t now = sp_clock_mono_ms();
	long idle = m->d->conf.idle_timeout < 0 ? SP_DEFAULT_IDLE_TIMEOUT :
	    m->d->conf.idle_timeout;

	for (size_t i = 0; i < m->npeers; i++) {
		struct mpeer *p = m->peers[i];
		sp_tunnel_peer_info pi;
		if (p->state == M_FAILED && now >= p->retry_ms) {
			start_lookup(p);
			continue;
		}
		if (p->state != M_READY ||
		    sp_tunnel_peer_info_get(m->d->tunnel, p->x, &pi) != SP_OK)
			continue;
		if (pi.has_session && pi.idle_ms >= idle * 1000) {
			ice_drop(m, p);
			(void)sp_tunnel_peer_close(m->d->tunnel, p->x);
			m->tunnels_closed++;
			sp_info("member: the tunnel to %s closed after %ld s without traffic",
			    p->name, idle);
		}
	}
	sp_timer_arm(m->peers_timer, TICK_MS);
}

int
peers_start(sp_member *m, sp_errmsg *e)
{
	int rc;

	if ((rc = sp_timer_new(m->d->loop, on_tick, m, &m->peers_timer)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	sp_timer_arm(m->peers_timer, TICK_MS);
	return SP_OK;
}

void
peers_stop(sp_member *m)
{
	while (m->npeers > 0) {
		struct mpeer *p = m->peers[--m->npeers];
		dr_forget(m, p);
		ice_drop(m, p);
		sodium_memzero(p, sizeof(*p));
		free(p);
	}
	free(m->peers);
	m->peers = NULL;
	sp_timer_free(m->peers_timer);
	m->peers_timer = NULL;
}

int
sp_member_peer_info(const sp_member *m, const char *name, sp_tunnel_peer_info *out)
{
	if (m->d->tunnel == NULL)
		return SP_ENOENT;
	for (size_t i = 0; i < m->nlist; i++)
		if (m->list[i].kind == SP_CP_KIND_GATEWAY && strcmp(m->list[i].name, name) == 0)
			return sp_tunnel_peer_info_get(m->d->tunnel, m->gw_x25519, out);
	for (size_t i = 0; i < m->npeers; i++)
		if (strcmp(m->peers[i]->name, name) == 0 && m->peers[i]->state == M_READY)
			return sp_tunnel_peer_info_get(m->d->tunnel, m->peers[i]->x, out);
	return SP_ENOENT;
}

uint64_t
peers_unanswered_ms(const sp_member *m)
{
	uint64_t worst = 0;

	for (size_t i = 0; i < m->npeers; i++) {
		sp_tunnel_peer_info pi;
		if (m->peers[i]->state == M_READY &&
		    sp_tunnel_peer_info_get(m->d->tunnel, m->peers[i]->x, &pi) == SP_OK &&
		    (pi.path == SP_PATH_RELAY_UDP || pi.path == SP_PATH_RELAY_TCP) &&
		    pi.unanswered_ms > worst)
			worst = pi.unanswered_ms;
	}
	return worst;
}

struct mpeer *
peers_by_key(sp_member *m, const uint8_t ed[32])
{
	for (size_t i = 0; i < m->npeers; i++)
		if (memcmp(m->peers[i]->ed, ed, 32) == 0)
			return m->peers[i];
	return NULL;
}

void
peers_status(const sp_member *m, sp_ctl_reply *r)
{
	for (size_t i = 0; i < m->npeers; i++) {
		const struct mpeer *p = m->peers[i];
		sp_tunnel_peer_info pi;
		char a[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, p->addr, a, sizeof(a));
		if (p->state != M_READY ||
		    sp_tunnel_peer_info_get(m->d->tunnel, p->x, &pi) != SP_OK) {
			sp_ctl_reply_field(r, "member-peers[]", "name=%s address=%s path=none state=%s%s%s",
			    p->name, a, p->state == M_RESOLVING ? "resolving" : "failed",
			    p->why[0] ? " why=" : "", p->why[0] ? p->why : "");
			continue;
		}
		sp_ctl_reply_field(r, "member-peers[]", "name=%s address=%s path=%s session=%s "
		    "handshake=%lld rtt-ms=%u path-age=%lld rx=%llu tx=%llu", p->name, a,
		    sp_tunnel_path_name(pi.path), pi.has_session ? "up" : "idle",
		    (long long)pi.handshake_age, pi.rtt_ms, (long long)pi.path_age,
		    (unsigned long long)pi.rx_bytes, (unsigned long long)pi.tx_bytes);
	}
	for (size_t i = 0; i < m->npeers; i++)
		ice_status(m, m->peers[i], r);
	ice_counters(m, r);
	sp_ctl_reply_field(r, "tunnels-closed-idle", "%llu", (unsigned long long)m->tunnels_closed);
}
