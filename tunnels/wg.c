/* The WireGuard protocol core (see sp_wg.h). Message layouts and every
 * derivation step follow the WireGuard paper, section 5.4. */
#include "sp_wg.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sp_wire.h"

enum { MSG_INITIATION = 1, MSG_RESPONSE = 2, MSG_COOKIE = 3, MSG_TRANSPORT = 4 };

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static const char LABEL_MAC1[] = "mac1----";
static const char LABEL_COOKIE[] = "cookie--";

/* Offsets of mac1 in each handshake message; mac2 follows it. */
#define INIT_MAC1 116
#define RESP_MAC1 60
#define INDEX_BUCKETS 1024
/* A peer's initiations are accepted at most this often (flood guard). */
#define INITIATION_MIN_INTERVAL_MS 20

enum idx_kind { IDX_HANDSHAKE, IDX_KEYPAIR };

struct idx_entry {
	uint32_t index;
	enum idx_kind kind;
	sp_wg_peer *peer;
	struct keypair *kp;
	struct idx_entry *next;
	int linked;
};

struct keypair {
	struct idx_entry idx;          /* our (receiving) index */
	uint8_t send[SP_WG_KEY], recv[SP_WG_KEY];
	uint32_t remote_index;
	uint64_t send_counter;
	sp_wg_replay replay;
	uint64_t birth_ms;
	int initiator;
	int confirmed;                 /* may send: initiator, or responder after data */
};

enum hs_state { HS_NONE, HS_INITIATION_SENT };

struct handshake {
	struct idx_entry idx;
	enum hs_state state;
	uint8_t chaining[SP_WG_HASH], hash[SP_WG_HASH];
	uint8_t eph_priv[SP_WG_KEY];
};

struct sp_wg_peer {
	sp_wg *wg;
	size_t at;                      /* its place in wg->peers */
	uint8_t pub[SP_WG_KEY];
	uint8_t psk[SP_WG_KEY];
	uint8_t ss[SP_WG_KEY];          /* DH(our static, their static) */
	uint8_t mac1_key[SP_WG_HASH];   /* HASH(LABEL_MAC1 || their static) */
	uint8_t cookie_key[SP_WG_HASH]; /* HASH(LABEL_COOKIE || their static) */
	uint8_t cookie[SP_WG_MAC];
	uint64_t cookie_ms;             /* when it arrived; 0 = none */
	uint8_t last_mac1[SP_WG_MAC];   /* of our last handshake message to them */
	uint8_t last_timestamp[SP_WG_TAI64N];
	uint64_t last_initiation_ms;    /* last initiation accepted from them */
	uint64_t last_handshake_ms;
	struct handshake hs;
	struct keypair *current, *previous, *next;
	void *user;
	/* Timer inputs (monotonic ms; 0 = never). */
	uint64_t last_sent_ms;          /* any message to the peer */
	uint64_t last_sent_data_ms;     /* data, not keepalives */
	uint64_t last_received_ms;      /* any authenticated message */
	uint64_t last_received_data_ms;
	uint64_t last_initiation_sent_ms;
	uint64_t attempt_start_ms;      /* trying to handshake since; 0 = not */
	uint32_t retry_jitter_ms;
	int need_keepalive;             /* data came in, nothing went out yet */
};

struct sp_wg {
	const sp_rng *rng;              /* borrowed */
	uint8_t *priv;                  /* sodium_malloc */
	uint8_t pub[SP_WG_KEY];
	uint8_t mac1_key[SP_WG_HASH];
	uint8_t cookie_key[SP_WG_HASH];
	uint8_t cookie_secret[SP_WG_KEY];
	uint64_t cookie_secret_ms;
	int cookie_secret_set;
	uint8_t ck0[SP_WG_HASH];        /* HASH(CONSTRUCTION) */
	uint8_t h0[SP_WG_HASH];         /* HASH(ck0 || IDENTIFIER) */
	uint8_t h0_self[SP_WG_HASH];    /* HASH(h0 || our static): the responder's start */
	sp_wg_peer **peers;
	size_t npeers, peers_cap;
	/* Peers by public key: open addressing on SipHash under a key only
	 * this device knows, so a gateway with thousands of members finds the
	 * initiator of a handshake in one probe or two, not a scan of all. */
	sp_wg_peer **bykey;
	size_t bykey_cap;
	uint8_t bykey_secret[crypto_shorthash_KEYBYTES];
	struct idx_entry *buckets[INDEX_BUCKETS];
	int under_load;
	size_t mtu;
	sp_wg_stats stats;
};

/* ---- the index table ---------------------------------------------------- */

static struct idx_entry **
bucket(sp_wg *wg, uint32_t index)
{
	return &wg->buckets[(index * 2654435761u) >> 22];
}

static struct idx_entry *
idx_find(sp_wg *wg, uint32_t index)
{
	for (struct idx_entry *e = *bucket(wg, index); e != NULL; e = e->next)
		if (e->index == index)
			return e;
	return NULL;
}

static void
idx_remove(sp_wg *wg, struct idx_entry *e)
{
	if (!e->linked)
		return;
	for (struct idx_entry **pp = bucket(wg, e->index); *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->linked = 0;
}

/* Give e a fresh random index that is not in use, and link it. */
static void
idx_add(sp_wg *wg, struct idx_entry *e)
{
	do
		sp_rng_fill(wg->rng, &e->index, sizeof(e->index));
	while (idx_find(wg, e->index) != NULL);
	e->next = *bucket(wg, e->index);
	*bucket(wg, e->index) = e;
	e->linked = 1;
}

/* ---- peers by key --------------------------------------------------------- */

static size_t
key_slot(const sp_wg *wg, const uint8_t pub[SP_WG_KEY])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, pub, SP_WG_KEY, wg->bykey_secret);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (wg->bykey_cap - 1);
}

static void
key_put(sp_wg *wg, sp_wg_peer *p)
{
	size_t i;

	for (i = key_slot(wg, p->pub); wg->bykey[i] != NULL; i = (i + 1) & (wg->bykey_cap - 1))
		;
	wg->bykey[i] = p;
}

/* Room for one more peer: the table stays at most half full. */
static int
key_reserve(sp_wg *wg)
{
	sp_wg_peer **old = wg->bykey;
	size_t cap = wg->bykey_cap ? wg->bykey_cap * 2 : 16;

	if ((wg->npeers + 1) * 2 <= wg->bykey_cap)
		return SP_OK;
	if ((wg->bykey = calloc(cap, sizeof(*wg->bykey))) == NULL) {
		wg->bykey = old;
		return SP_ENOMEM;
	}
	wg->bykey_cap = cap;
	for (size_t i = 0; i < wg->npeers; i++)
		key_put(wg, wg->peers[i]);
	free(old);
	return SP_OK;
}

/* Take p out, shifting back the entries that probed past its slot. */
static void
key_remove(sp_wg *wg, const sp_wg_peer *p)
{
	size_t mask = wg->bykey_cap - 1, i, j;

	for (i = key_slot(wg, p->pub); wg->bykey[i] != p; i = (i + 1) & mask)
		if (wg->bykey[i] == NULL)
			return;
	wg->bykey[i] = NULL;
	for (j = (i + 1) & mask; wg->bykey[j] != NULL; j = (j + 1) & mask) {
		size_t home = key_slot(wg, wg->bykey[j]->pub);
		if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		wg->bykey[i] = wg->bykey[j];
		wg->bykey[j] = NULL;
		i = j;
	}
}

/* ---- device and peers ----------------------------------------------------- */

int
sp_wg_new(const uint8_t priv[SP_WG_KEY], const sp_rng *rng, sp_wg **out)
{
	sp_wg *wg;

	if (sodium_init() < 0)
		return SP_ECRYPTO;
	if ((wg = calloc(1, sizeof(*wg))) == NULL)
		return SP_ENOMEM;
	if ((wg->priv = sodium_malloc(SP_WG_KEY)) == NULL) {
		free(wg);
		return SP_ENOMEM;
	}
	memcpy(wg->priv, priv, SP_WG_KEY);
	wg->rng = rng;
	sp_wg_pubkey(wg->pub, wg->priv);
	sp_wg_hash(wg->mac1_key, LABEL_MAC1, 8, wg->pub, SP_WG_KEY);
	sp_wg_hash(wg->cookie_key, LABEL_COOKIE, 8, wg->pub, SP_WG_KEY);
	sp_wg_hash(wg->ck0, CONSTRUCTION, sizeof(CONSTRUCTION) - 1, NULL, 0);
	sp_wg_hash(wg->h0, wg->ck0, SP_WG_HASH, IDENTIFIER, sizeof(IDENTIFIER) - 1);
	sp_wg_hash(wg->h0_self, wg->h0, SP_WG_HASH, wg->pub, SP_WG_KEY);
	{
		/* The index's key: secret like the private key it comes from,
		 * and no draw from rng, whose sequence the tests pin. */
		uint8_t k[SP_WG_HASH];
		sp_wg_hash(k, "peer-index", 10, wg->priv, SP_WG_KEY);
		memcpy(wg->bykey_secret, k, sizeof(wg->bykey_secret));
		sodium_memzero(k, sizeof(k));
	}
	*out = wg;
	return SP_OK;
}

static void
keypair_free(struct keypair *kp)
{
	if (kp == NULL)
		return;
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

void
sp_wg_free(sp_wg *wg)
{
	if (wg == NULL)
		return;
	for (size_t i = 0; i < wg->npeers; i++) {
		sp_wg_peer *p = wg->peers[i];
		keypair_free(p->current);
		keypair_free(p->previous);
		keypair_free(p->next);
		sodium_memzero(p, sizeof(*p));
		free(p);
	}
	free(wg->peers);
	free(wg->bykey);
	sodium_free(wg->priv);
	sodium_memzero(wg, sizeof(*wg));
	free(wg);
}

const uint8_t *sp_wg_public(const sp_wg *wg) { return wg->pub; }
void sp_wg_set_under_load(sp_wg *wg, int under_load) { wg->under_load = under_load; }
void sp_wg_set_mtu(sp_wg *wg, size_t mtu) { wg->mtu = mtu; }
const sp_wg_stats *sp_wg_stats_get(const sp_wg *wg) { return &wg->stats; }
const uint8_t *sp_wg_peer_public(const sp_wg_peer *p) { return p->pub; }
void sp_wg_peer_set_user(sp_wg_peer *p, void *user) { p->user = user; }
void *sp_wg_peer_user(const sp_wg_peer *p) { return p->user; }
uint64_t sp_wg_peer_last_handshake_ms(const sp_wg_peer *p) { return p->last_handshake_ms; }

void
sp_wg_peer_set_psk(sp_wg_peer *p, const uint8_t psk[SP_WG_KEY])
{
	memcpy(p->psk, psk, SP_WG_KEY);
}

void
sp_wg_peer_copy_psk(sp_wg_peer *to, const sp_wg_peer *from)
{
	memcpy(to->psk, from->psk, SP_WG_KEY);
}

static void drop_keypair(sp_wg *wg, struct keypair **slot);

void
sp_wg_peer_remove(sp_wg *wg, sp_wg_peer *p)
{
	if (p == NULL || p->at >= wg->npeers || wg->peers[p->at] != p)
		return;
	key_remove(wg, p);
	wg->peers[p->at] = wg->peers[--wg->npeers];
	wg->peers[p->at]->at = p->at;
	idx_remove(wg, &p->hs.idx);
	drop_keypair(wg, &p->current);
	drop_keypair(wg, &p->previous);
	drop_keypair(wg, &p->next);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

void
sp_wg_peer_times(const sp_wg_peer *p, uint64_t *last_received, uint64_t *last_sent_data)
{
	*last_received = p->last_received_ms;
	*last_sent_data = p->last_sent_data_ms;
}

uint64_t
sp_wg_peer_trying_ms(const sp_wg_peer *p, uint64_t now_ms)
{
	return p->attempt_start_ms != 0 && now_ms > p->attempt_start_ms ?
	    now_ms - p->attempt_start_ms : 0;
}

uint64_t
sp_wg_peer_last_data_ms(const sp_wg_peer *p)
{
	return p->last_sent_data_ms > p->last_received_data_ms ? p->last_sent_data_ms :
	    p->last_received_data_ms;
}

void
sp_wg_peer_close(sp_wg *wg, sp_wg_peer *p)
{
	idx_remove(wg, &p->hs.idx);
	p->hs.state = HS_NONE;
	sodium_memzero(p->hs.eph_priv, sizeof(p->hs.eph_priv));
	drop_keypair(wg, &p->current);
	drop_keypair(wg, &p->previous);
	drop_keypair(wg, &p->next);
	p->attempt_start_ms = 0;
}

sp_wg_peer *
sp_wg_peer_find(const sp_wg *wg, const uint8_t pub[SP_WG_KEY])
{
	if (wg->bykey_cap == 0)
		return NULL;
	for (size_t i = key_slot(wg, pub); wg->bykey[i] != NULL; i = (i + 1) & (wg->bykey_cap - 1))
		if (sodium_memcmp(wg->bykey[i]->pub, pub, SP_WG_KEY) == 0)
			return wg->bykey[i];
	return NULL;
}

int
sp_wg_peer_add(sp_wg *wg, const uint8_t pub[SP_WG_KEY], sp_wg_peer **out)
{
	sp_wg_peer *p, **np;

	if (sp_wg_peer_find(wg, pub) != NULL)
		return SP_EEXIST;
	if (key_reserve(wg) != SP_OK)
		return SP_ENOMEM;
	if (wg->npeers == wg->peers_cap) {
		size_t cap = wg->peers_cap ? wg->peers_cap * 2 : 8;
		if ((np = realloc(wg->peers, cap * sizeof(*np))) == NULL)
			return SP_ENOMEM;
		wg->peers = np;
		wg->peers_cap = cap;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return SP_ENOMEM;
	if (sp_wg_dh(p->ss, wg->priv, pub) != SP_OK) {
		free(p);
		return SP_ECRYPTO;
	}
	p->wg = wg;
	memcpy(p->pub, pub, SP_WG_KEY);
	sp_wg_hash(p->mac1_key, LABEL_MAC1, 8, pub, SP_WG_KEY);
	sp_wg_hash(p->cookie_key, LABEL_COOKIE, 8, pub, SP_WG_KEY);
	p->hs.idx.peer = p;
	p->hs.idx.kind = IDX_HANDSHAKE;
	p->at = wg->npeers;
	wg->peers[wg->npeers++] = p;
	key_put(wg, p);
	*out = p;
	return SP_OK;
}

int
sp_wg_peer_has_session(const sp_wg_peer *p, uint64_t now_ms)
{
	const struct keypair *kp = p->current;

	return kp != NULL && kp->confirmed && now_ms - kp->birth_ms < SP_WG_REJECT_AFTER_TIME_MS &&
	    kp->send_counter < SP_WG_REJECT_AFTER_MESSAGES;
}

/* ---- mac1, mac2 and cookies ------------------------------------------------ */

static void
add_macs(sp_wg_peer *p, uint8_t *msg, size_t mac1_at, uint64_t now_ms)
{
	sp_wg_mac(msg + mac1_at, p->mac1_key, SP_WG_HASH, msg, mac1_at);
	memcpy(p->last_mac1, msg + mac1_at, SP_WG_MAC);
	if (p->cookie_ms != 0 && now_ms - p->cookie_ms < SP_WG_COOKIE_LIFETIME_MS)
		sp_wg_mac(msg + mac1_at + SP_WG_MAC, p->cookie, SP_WG_MAC, msg, mac1_at + SP_WG_MAC);
	else
		memset(msg + mac1_at + SP_WG_MAC, 0, SP_WG_MAC);
}

static int
mac1_ok(sp_wg *wg, const uint8_t *msg, size_t mac1_at)
{
	uint8_t want[SP_WG_MAC];

	sp_wg_mac(want, wg->mac1_key, SP_WG_HASH, msg, mac1_at);
	return sodium_memcmp(want, msg + mac1_at, SP_WG_MAC) == 0;
}

/* The cookie a source earns: MAC(secret, source), the secret renewed
 * every two minutes. */
static void
cookie_for(sp_wg *wg, const uint8_t *src, size_t src_len, uint64_t now_ms,
    uint8_t cookie[SP_WG_MAC])
{
	if (!wg->cookie_secret_set || now_ms - wg->cookie_secret_ms >= SP_WG_COOKIE_LIFETIME_MS) {
		sp_rng_fill(wg->rng, wg->cookie_secret, sizeof(wg->cookie_secret));
		wg->cookie_secret_ms = now_ms;
		wg->cookie_secret_set = 1;
	}
	sp_wg_mac(cookie, wg->cookie_secret, SP_WG_KEY, src, src_len);
}

static int
mac2_ok(sp_wg *wg, const uint8_t *msg, size_t mac1_at, const uint8_t *src, size_t src_len,
    uint64_t now_ms)
{
	uint8_t cookie[SP_WG_MAC], want[SP_WG_MAC];

	cookie_for(wg, src, src_len, now_ms, cookie);
	sp_wg_mac(want, cookie, SP_WG_MAC, msg, mac1_at + SP_WG_MAC);
	return sodium_memcmp(want, msg + mac1_at + SP_WG_MAC, SP_WG_MAC) == 0;
}

/* Type 3: tell a source under load to come back with a cookie. */
static size_t
cookie_reply(sp_wg *wg, const uint8_t *msg, size_t mac1_at, uint32_t sender,
    const uint8_t *src, size_t src_len, uint64_t now_ms, uint8_t *out)
{
	uint8_t cookie[SP_WG_MAC];
	sp_wire w = sp_wire_writer(out, SP_WG_COOKIE_REPLY_SIZE);

	cookie_for(wg, src, src_len, now_ms, cookie);
	sp_wire_put_u32le(&w, MSG_COOKIE);
	sp_wire_put_u32le(&w, sender);
	sp_rng_fill(wg->rng, out + 8, 24);
	sp_wire_skip(&w, 24);
	sp_wg_xaead_seal(out + 32, wg->cookie_key, out + 8, cookie, SP_WG_MAC, msg + mac1_at,
	    SP_WG_MAC);
	wg->stats.rx_cookies_sent++;
	return SP_WG_COOKIE_REPLY_SIZE;
}

/*
 * The gate before any Diffie-Hellman: mac1 must prove knowledge of our
 * key, and under load mac2 must carry a cookie for this source, or the
 * sender gets a cookie reply instead. Returns 1 to go on.
 */
static int
macs_admit(sp_wg *wg, const uint8_t *msg, size_t mac1_at, uint32_t sender,
    const uint8_t *src, size_t src_len, uint64_t now_ms, uint8_t *reply, sp_wg_rx *rx)
{
	if (!mac1_ok(wg, msg, mac1_at)) {
		wg->stats.rx_bad_mac++;
		rx->why = "bad mac1";
		return 0;
	}
	if (wg->under_load && !mac2_ok(wg, msg, mac1_at, src, src_len, now_ms)) {
		rx->reply_len = cookie_reply(wg, msg, mac1_at, sender, src, src_len, now_ms, reply);
		rx->kind = SP_WG_RX_REPLY;
		return 0;
	}
	return 1;
}

/* ---- the handshake ----------------------------------------------------------- */

static void
mix_hash(uint8_t h[SP_WG_HASH], const void *data, size_t len)
{
	sp_wg_hash(h, h, SP_WG_HASH, data, len);
}

int
sp_wg_initiate(sp_wg *wg, sp_wg_peer *p, int64_t wall_s, uint32_t wall_ns, uint64_t now_ms,
    uint8_t out[SP_WG_INITIATION_SIZE])
{
	struct handshake *hs = &p->hs;
	uint8_t eph_pub[SP_WG_KEY], dh[SP_WG_KEY], k[SP_WG_KEY], ts[SP_WG_TAI64N];
	sp_wire w = sp_wire_writer(out, SP_WG_INITIATION_SIZE);

	idx_remove(wg, &hs->idx);
	memcpy(hs->chaining, wg->ck0, SP_WG_HASH);
	sp_wg_hash(hs->hash, wg->h0, SP_WG_HASH, p->pub, SP_WG_KEY);
	sp_wg_genkey(wg->rng, hs->eph_priv);
	sp_wg_pubkey(eph_pub, hs->eph_priv);
	idx_add(wg, &hs->idx);

	sp_wire_put_u32le(&w, MSG_INITIATION);
	sp_wire_put_u32le(&w, hs->idx.index);
	sp_wg_kdf(hs->chaining, eph_pub, SP_WG_KEY, hs->chaining, NULL, NULL);
	sp_wire_put(&w, eph_pub, SP_WG_KEY);
	mix_hash(hs->hash, eph_pub, SP_WG_KEY);
	if (sp_wg_dh(dh, hs->eph_priv, p->pub) != SP_OK)
		return SP_ECRYPTO;
	sp_wg_kdf(hs->chaining, dh, SP_WG_KEY, hs->chaining, k, NULL);
	sp_wg_aead_seal(out + 40, k, 0, wg->pub, SP_WG_KEY, hs->hash, SP_WG_HASH);
	mix_hash(hs->hash, out + 40, SP_WG_KEY + SP_WG_TAG);
	sp_wg_kdf(hs->chaining, p->ss, SP_WG_KEY, hs->chaining, k, NULL);
	sp_wg_tai64n(ts, wall_s, wall_ns);
	sp_wg_aead_seal(out + 88, k, 0, ts, SP_WG_TAI64N, hs->hash, SP_WG_HASH);
	mix_hash(hs->hash, out + 88, SP_WG_TAI64N + SP_WG_TAG);
	add_macs(p, out, INIT_MAC1, now_ms);
	hs->state = HS_INITIATION_SENT;
	p->last_initiation_sent_ms = now_ms;
	p->last_sent_ms = now_ms;
	if (p->attempt_start_ms == 0)
		p->attempt_start_ms = now_ms;
	/* Retries are spread by up to a third of a second (the paper, 6.1). */
	sp_rng_fill(wg->rng, &p->retry_jitter_ms, sizeof(p->retry_jitter_ms));
	p->retry_jitter_ms %= 334;
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(k, sizeof(k));
	return sp_wire_err(&w);
}

/* Turn the final chaining key into a keypair (KDF2(C, empty)). */
static struct keypair *
derive_keypair(const uint8_t chaining[SP_WG_HASH], int initiator, uint64_t now_ms)
{
	struct keypair *kp = calloc(1, sizeof(*kp));
	uint8_t t1[SP_WG_HASH], t2[SP_WG_HASH];

	if (kp == NULL)
		return NULL;
	sp_wg_kdf(chaining, NULL, 0, t1, t2, NULL);
	memcpy(initiator ? kp->send : kp->recv, t1, SP_WG_KEY);
	memcpy(initiator ? kp->recv : kp->send, t2, SP_WG_KEY);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	kp->initiator = initiator;
	kp->confirmed = initiator;
	kp->birth_ms = now_ms;
	kp->idx.kind = IDX_KEYPAIR;
	kp->idx.kp = kp;
	sp_wg_replay_init(&kp->replay);
	return kp;
}

static void
drop_keypair(sp_wg *wg, struct keypair **slot)
{
	if (*slot == NULL)
		return;
	idx_remove(wg, &(*slot)->idx);
	keypair_free(*slot);
	*slot = NULL;
}

static int
consume_initiation(sp_wg *wg, uint8_t *msg, const uint8_t *src, size_t src_len,
    uint64_t now_ms, uint8_t *reply, sp_wg_rx *rx)
{
	uint8_t chaining[SP_WG_HASH], hash[SP_WG_HASH], k[SP_WG_KEY], dh[SP_WG_KEY];
	uint8_t their_static[SP_WG_KEY], ts[SP_WG_TAI64N], tau[SP_WG_HASH];
	uint8_t eph_priv[SP_WG_KEY], eph_pub[SP_WG_KEY];
	sp_wire r = sp_wire_reader(msg, SP_WG_INITIATION_SIZE), w;
	uint32_t sender;
	const uint8_t *their_eph;
	struct keypair *kp;
	sp_wg_peer *p;
	int rc = SP_ECRYPTO;

	sp_wire_skip(&r, 4);
	sender = sp_wire_u32le(&r);
	their_eph = sp_wire_view(&r, SP_WG_KEY);
	if (!macs_admit(wg, msg, INIT_MAC1, sender, src, src_len, now_ms, reply, rx))
		return SP_OK;
	memcpy(chaining, wg->ck0, SP_WG_HASH);
	memcpy(hash, wg->h0_self, SP_WG_HASH);
	sp_wg_kdf(chaining, their_eph, SP_WG_KEY, chaining, NULL, NULL);
	mix_hash(hash, their_eph, SP_WG_KEY);
	if (sp_wg_dh(dh, wg->priv, their_eph) != SP_OK)
		goto bad;
	sp_wg_kdf(chaining, dh, SP_WG_KEY, chaining, k, NULL);
	if (sp_wg_aead_open(their_static, k, 0, msg + 40, SP_WG_KEY + SP_WG_TAG, hash,
	    SP_WG_HASH) != SP_OK)
		goto bad;
	mix_hash(hash, msg + 40, SP_WG_KEY + SP_WG_TAG);
	if ((p = sp_wg_peer_find(wg, their_static)) == NULL) {
		wg->stats.rx_unknown_peer++;
		rx->why = "unknown peer";
		rc = SP_OK;
		goto out;
	}
	sp_wg_kdf(chaining, p->ss, SP_WG_KEY, chaining, k, NULL);
	if (sp_wg_aead_open(ts, k, 0, msg + 88, SP_WG_TAI64N + SP_WG_TAG, hash, SP_WG_HASH) != SP_OK)
		goto bad;
	mix_hash(hash, msg + 88, SP_WG_TAI64N + SP_WG_TAG);
	/* A replayed initiation carries an old timestamp; a flood of fresh
	 * ones is cut to one per interval per peer. */
	if (memcmp(ts, p->last_timestamp, SP_WG_TAI64N) <= 0) {
		wg->stats.rx_old_timestamp++;
		rx->why = "replayed initiation";
		rc = SP_OK;
		goto out;
	}
	if (p->last_initiation_ms != 0 && now_ms - p->last_initiation_ms < INITIATION_MIN_INTERVAL_MS) {
		wg->stats.rx_flood++;
		rx->why = "initiation flood";
		rc = SP_OK;
		goto out;
	}
	memcpy(p->last_timestamp, ts, SP_WG_TAI64N);
	p->last_initiation_ms = now_ms;

	/* The response (type 2). */
	w = sp_wire_writer(reply, SP_WG_RESPONSE_SIZE);
	sp_wg_genkey(wg->rng, eph_priv);
	sp_wg_pubkey(eph_pub, eph_priv);
	sp_wg_kdf(chaining, eph_pub, SP_WG_KEY, chaining, NULL, NULL);
	mix_hash(hash, eph_pub, SP_WG_KEY);
	if (sp_wg_dh(dh, eph_priv, their_eph) != SP_OK)
		goto bad;
	sp_wg_kdf(chaining, dh, SP_WG_KEY, chaining, NULL, NULL);
	if (sp_wg_dh(dh, eph_priv, p->pub) != SP_OK)
		goto bad;
	sp_wg_kdf(chaining, dh, SP_WG_KEY, chaining, NULL, NULL);
	sp_wg_kdf(chaining, p->psk, SP_WG_KEY, chaining, tau, k);
	mix_hash(hash, tau, SP_WG_HASH);
	if ((kp = derive_keypair(chaining, 0, now_ms)) == NULL) {
		rc = SP_ENOMEM;
		goto out;
	}
	/* derive_keypair used the chaining key before the empty AEAD, which
	 * is right: the AEAD changes only the hash. */
	kp->idx.peer = p;
	kp->remote_index = sender;
	idx_add(wg, &kp->idx);
	sp_wire_put_u32le(&w, MSG_RESPONSE);
	sp_wire_put_u32le(&w, kp->idx.index);
	sp_wire_put_u32le(&w, sender);
	sp_wire_put(&w, eph_pub, SP_WG_KEY);
	sp_wg_aead_seal(reply + 44, k, 0, (const uint8_t *)"", 0, hash, SP_WG_HASH);
	add_macs(p, reply, RESP_MAC1, now_ms);
	/* The new keypair waits for the initiator's first data message to
	 * confirm it before we send with it. */
	drop_keypair(wg, &p->next);
	p->next = kp;
	p->last_handshake_ms = now_ms;
	p->last_received_ms = now_ms;
	p->last_sent_ms = now_ms;
	wg->stats.handshakes++;
	rx->kind = SP_WG_RX_REPLY;
	rx->peer = p;
	rx->reply_len = SP_WG_RESPONSE_SIZE;
	rc = SP_OK;
	goto out;
bad:
	wg->stats.rx_bad_auth++;
	rx->why = "initiation does not authenticate";
	rc = SP_OK;
out:
	sodium_memzero(chaining, sizeof(chaining));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(eph_priv, sizeof(eph_priv));
	return rc;
}

static int
consume_response(sp_wg *wg, uint8_t *msg, const uint8_t *src, size_t src_len,
    uint64_t now_ms, uint8_t *reply, sp_wg_rx *rx)
{
	uint8_t chaining[SP_WG_HASH], hash[SP_WG_HASH], k[SP_WG_KEY], dh[SP_WG_KEY];
	uint8_t tau[SP_WG_HASH];
	sp_wire r = sp_wire_reader(msg, SP_WG_RESPONSE_SIZE);
	uint32_t sender, receiver;
	const uint8_t *their_eph;
	struct idx_entry *e;
	struct keypair *kp;
	struct handshake *hs;
	sp_wg_peer *p;
	int rc = SP_OK;

	sp_wire_skip(&r, 4);
	sender = sp_wire_u32le(&r);
	receiver = sp_wire_u32le(&r);
	their_eph = sp_wire_view(&r, SP_WG_KEY);
	if (!macs_admit(wg, msg, RESP_MAC1, sender, src, src_len, now_ms, reply, rx))
		return SP_OK;
	e = idx_find(wg, receiver);
	if (e == NULL || e->kind != IDX_HANDSHAKE || e->peer->hs.state != HS_INITIATION_SENT) {
		wg->stats.rx_unknown_index++;
		rx->why = "response to no initiation";
		return SP_OK;
	}
	p = e->peer;
	hs = &p->hs;
	memcpy(chaining, hs->chaining, SP_WG_HASH);
	memcpy(hash, hs->hash, SP_WG_HASH);
	sp_wg_kdf(chaining, their_eph, SP_WG_KEY, chaining, NULL, NULL);
	mix_hash(hash, their_eph, SP_WG_KEY);
	if (sp_wg_dh(dh, hs->eph_priv, their_eph) != SP_OK)
		goto bad;
	sp_wg_kdf(chaining, dh, SP_WG_KEY, chaining, NULL, NULL);
	if (sp_wg_dh(dh, wg->priv, their_eph) != SP_OK)
		goto bad;
	sp_wg_kdf(chaining, dh, SP_WG_KEY, chaining, NULL, NULL);
	sp_wg_kdf(chaining, p->psk, SP_WG_KEY, chaining, tau, k);
	mix_hash(hash, tau, SP_WG_HASH);
	{
		uint8_t nothing[1];
		if (sp_wg_aead_open(nothing, k, 0, msg + 44, SP_WG_TAG, hash, SP_WG_HASH) != SP_OK)
			goto bad;
	}
	if ((kp = derive_keypair(chaining, 1, now_ms)) == NULL) {
		rc = SP_ENOMEM;
		goto out;
	}
	/* The handshake's index becomes the session's. */
	idx_remove(wg, &hs->idx);
	hs->state = HS_NONE;
	sodium_memzero(hs->eph_priv, sizeof(hs->eph_priv));
	kp->idx.peer = p;
	kp->idx.index = hs->idx.index;
	kp->idx.next = *bucket(wg, kp->idx.index);
	*bucket(wg, kp->idx.index) = &kp->idx;
	kp->idx.linked = 1;
	kp->remote_index = sender;
	/* Both sides initiated at once: the peer may already send under the
	 * keypair we made as its responder (next, unconfirmed). Keep it, as
	 * previous, or those packets find no keypair until the next
	 * handshake, 15 s on; WireGuard's Linux implementation does the same.
	 * Otherwise previous is the current one, for packets in flight. */
	drop_keypair(wg, &p->previous);
	if (p->next != NULL) {
		p->previous = p->next;
		p->next = NULL;
		drop_keypair(wg, &p->current);
	} else {
		p->previous = p->current;
	}
	p->current = kp;
	p->last_handshake_ms = now_ms;
	p->last_received_ms = now_ms;
	p->attempt_start_ms = 0;
	wg->stats.handshakes++;
	rx->kind = SP_WG_RX_HANDSHAKE;
	rx->peer = p;
	goto out;
bad:
	wg->stats.rx_bad_auth++;
	rx->why = "response does not authenticate";
out:
	sodium_memzero(chaining, sizeof(chaining));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(tau, sizeof(tau));
	return rc;
}

static int
consume_cookie(sp_wg *wg, const uint8_t *msg, uint64_t now_ms, sp_wg_rx *rx)
{
	uint32_t receiver = (uint32_t)msg[4] | (uint32_t)msg[5] << 8 |
	    (uint32_t)msg[6] << 16 | (uint32_t)msg[7] << 24;
	struct idx_entry *e = idx_find(wg, receiver);
	uint8_t cookie[SP_WG_MAC];
	sp_wg_peer *p;

	if (e == NULL) {
		wg->stats.rx_unknown_index++;
		rx->why = "cookie for no handshake";
		return SP_OK;
	}
	p = e->peer;
	if (sp_wg_xaead_open(cookie, p->cookie_key, msg + 8, msg + 32, SP_WG_MAC + SP_WG_TAG,
	    p->last_mac1, SP_WG_MAC) != SP_OK) {
		wg->stats.rx_bad_auth++;
		rx->why = "cookie does not authenticate";
		return SP_OK;
	}
	memcpy(p->cookie, cookie, SP_WG_MAC);
	p->cookie_ms = now_ms ? now_ms : 1;
	rx->peer = p;
	rx->why = "cookie stored";
	return SP_OK;
}

/* ---- transport ------------------------------------------------------------------ */

size_t
sp_wg_encrypted_size(size_t len)
{
	return ((len + 15) & ~(size_t)15) + SP_WG_TRANSPORT_OVERHEAD;
}

int
sp_wg_encrypt(sp_wg *wg, sp_wg_peer *p, const uint8_t *pkt, size_t len, uint64_t now_ms,
    uint8_t *out, size_t cap, size_t *outlen)
{
	struct keypair *kp = p->current;
	size_t padded = (len + 15) & ~(size_t)15;
	sp_wire w = sp_wire_writer(out, cap);

	/* Pad to 16, but a packet at or near the MTU only up to the MTU. */
	if (wg->mtu != 0 && padded > wg->mtu)
		padded = len > wg->mtu ? len : wg->mtu;
	uint64_t counter;

	if (!sp_wg_peer_has_session(p, now_ms))
		return SP_ENOENT;
	if (cap < padded + SP_WG_TRANSPORT_OVERHEAD)
		return SP_ESPACE;
	counter = kp->send_counter++;
	sp_wire_put_u32le(&w, MSG_TRANSPORT);
	sp_wire_put_u32le(&w, kp->remote_index);
	sp_wire_put_u32le(&w, (uint32_t)counter);
	sp_wire_put_u32le(&w, (uint32_t)(counter >> 32));
	/* Pad with zeros to a multiple of 16 (the paper, 5.4.6), in place. */
	if (out + SP_WG_TRANSPORT_HEADER != pkt)
		memmove(out + SP_WG_TRANSPORT_HEADER, pkt, len);
	memset(out + SP_WG_TRANSPORT_HEADER + len, 0, padded - len);
	sp_wg_aead_seal(out + SP_WG_TRANSPORT_HEADER, kp->send, counter,
	    out + SP_WG_TRANSPORT_HEADER, padded, NULL, 0);
	*outlen = padded + SP_WG_TRANSPORT_OVERHEAD;
	wg->stats.tx_data++;
	p->last_sent_ms = now_ms;
	p->need_keepalive = 0;
	if (len > 0)
		p->last_sent_data_ms = now_ms;
	return SP_OK;
}

/* The real length of a decrypted IP packet, from its own header. */
static size_t
ip_length(const uint8_t *pkt, size_t padded)
{
	size_t n = 0;

	if (padded >= 20 && (pkt[0] >> 4) == 4)
		n = (size_t)pkt[2] << 8 | pkt[3];
	else if (padded >= 40 && (pkt[0] >> 4) == 6)
		n = ((size_t)pkt[4] << 8 | pkt[5]) + 40;
	return n <= padded ? n : 0;
}

static int
consume_transport(sp_wg *wg, uint8_t *msg, size_t len, uint64_t now_ms, sp_wg_rx *rx)
{
	uint32_t receiver = (uint32_t)msg[4] | (uint32_t)msg[5] << 8 |
	    (uint32_t)msg[6] << 16 | (uint32_t)msg[7] << 24;
	uint64_t counter = 0;
	struct idx_entry *e = idx_find(wg, receiver);
	struct keypair *kp;
	sp_wg_peer *p;
	size_t plain = len - SP_WG_TRANSPORT_OVERHEAD;

	for (int i = 7; i >= 0; i--)
		counter = counter << 8 | msg[8 + i];
	if (e == NULL || e->kind != IDX_KEYPAIR) {
		wg->stats.rx_unknown_index++;
		rx->why = "no session for index";
		return SP_OK;
	}
	kp = e->kp;
	p = e->peer;
	if (now_ms - kp->birth_ms >= SP_WG_REJECT_AFTER_TIME_MS ||
	    counter >= SP_WG_REJECT_AFTER_MESSAGES) {
		wg->stats.rx_bad_auth++;
		rx->why = "session expired";
		return SP_OK;
	}
	if (sp_wg_aead_open(msg + SP_WG_TRANSPORT_HEADER, kp->recv, counter,
	    msg + SP_WG_TRANSPORT_HEADER, plain + SP_WG_TAG, NULL, 0) != SP_OK) {
		wg->stats.rx_bad_auth++;
		rx->why = "transport does not authenticate";
		return SP_OK;
	}
	/* Only after authentication may a counter move the window. */
	if (!sp_wg_replay_check(&kp->replay, counter)) {
		wg->stats.rx_replay++;
		rx->why = "replayed or too old";
		return SP_OK;
	}
	if (kp == p->next) {
		/* The initiator used the keypair we offered: it is confirmed. */
		drop_keypair(wg, &p->previous);
		p->previous = p->current;
		p->current = kp;
		p->next = NULL;
		kp->confirmed = 1;
	}
	rx->peer = p;
	p->last_received_ms = now_ms;
	if (plain == 0) {
		rx->kind = SP_WG_RX_KEEPALIVE;
		return SP_OK;
	}
	p->last_received_data_ms = now_ms;
	p->need_keepalive = 1;
	rx->data = msg + SP_WG_TRANSPORT_HEADER;
	rx->data_len = ip_length(rx->data, plain);
	if (rx->data_len == 0) {
		wg->stats.rx_bad_size++;
		rx->why = "not an IP packet";
		rx->kind = SP_WG_RX_KEEPALIVE;
		rx->data = NULL;
		return SP_OK;
	}
	rx->kind = SP_WG_RX_DATA;
	wg->stats.rx_data++;
	return SP_OK;
}

int
sp_wg_receive(sp_wg *wg, uint8_t *msg, size_t len, const uint8_t *src, size_t src_len,
    uint64_t now_ms, uint8_t *reply, sp_wg_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->kind = SP_WG_RX_DROP;
	if (len < 4 || msg[1] != 0 || msg[2] != 0 || msg[3] != 0) {
		wg->stats.rx_bad_type++;
		rx->why = "not a WireGuard message";
		return SP_OK;
	}
	switch (msg[0]) {
	case MSG_INITIATION:
		if (len != SP_WG_INITIATION_SIZE)
			break;
		return consume_initiation(wg, msg, src, src_len, now_ms, reply, rx);
	case MSG_RESPONSE:
		if (len != SP_WG_RESPONSE_SIZE)
			break;
		return consume_response(wg, msg, src, src_len, now_ms, reply, rx);
	case MSG_COOKIE:
		if (len != SP_WG_COOKIE_REPLY_SIZE)
			break;
		return consume_cookie(wg, msg, now_ms, rx);
	case MSG_TRANSPORT:
		/* Senders pad to 16 bytes but never past their MTU, so a full
		 * packet arrives unpadded: any length above the overhead goes. */
		if (len < SP_WG_TRANSPORT_OVERHEAD)
			break;
		return consume_transport(wg, msg, len, now_ms, rx);
	default:
		wg->stats.rx_bad_type++;
		rx->why = "unknown message type";
		return SP_OK;
	}
	wg->stats.rx_bad_size++;
	rx->why = "wrong size for its type";
	return SP_OK;
}

/* ---- timers ------------------------------------------------------------------------ */

void
sp_wg_peer_want_handshake(sp_wg_peer *p, uint64_t now_ms)
{
	if (p->attempt_start_ms == 0) {
		p->attempt_start_ms = now_ms;
		p->last_initiation_sent_ms = 0;
	}
}

static void
earliest(uint64_t *next, uint64_t t)
{
	if (t < *next)
		*next = t;
}

unsigned
sp_wg_peer_tick(sp_wg_peer *p, uint64_t now_ms, unsigned persistent_keepalive_s,
    uint64_t *next_ms)
{
	sp_wg *wg = p->wg;
	struct keypair *kp = p->current;
	unsigned todo = 0;
	uint64_t next = now_ms + 60000;

	/* Keys not renewed for three times the reject time are wiped. */
	if (kp != NULL || p->previous != NULL || p->next != NULL) {
		uint64_t newest = kp != NULL ? kp->birth_ms : 0;
		if (p->next != NULL && p->next->birth_ms > newest)
			newest = p->next->birth_ms;
		if (p->previous != NULL && p->previous->birth_ms > newest)
			newest = p->previous->birth_ms;
		if (now_ms - newest >= 3ULL * SP_WG_REJECT_AFTER_TIME_MS) {
			drop_keypair(wg, &p->current);
			drop_keypair(wg, &p->previous);
			drop_keypair(wg, &p->next);
			kp = NULL;
			todo |= SP_WG_DO_EXPIRE;
		} else {
			earliest(&next, newest + 3ULL * SP_WG_REJECT_AFTER_TIME_MS);
		}
	}

	/* Trying to handshake: retry every REKEY_TIMEOUT (with jitter),
	 * for REKEY_ATTEMPT_TIME at most. */
	if (p->attempt_start_ms != 0) {
		if (now_ms - p->attempt_start_ms >= SP_WG_REKEY_ATTEMPT_TIME_MS) {
			p->attempt_start_ms = 0;
			todo |= SP_WG_DO_GIVE_UP;
		} else {
			uint64_t due = p->last_initiation_sent_ms == 0 ? now_ms
			    : p->last_initiation_sent_ms + SP_WG_REKEY_TIMEOUT_MS + p->retry_jitter_ms;
			if (now_ms >= due)
				todo |= SP_WG_DO_INITIATE;
			else
				earliest(&next, due);
		}
	}

	if (kp != NULL && kp->confirmed && !(todo & SP_WG_DO_INITIATE)) {
		/* The initiator renews keys before they grow old. */
		if (kp->initiator && p->attempt_start_ms == 0 &&
		    (now_ms - kp->birth_ms >= SP_WG_REKEY_AFTER_TIME_MS ||
		    kp->send_counter >= SP_WG_REKEY_AFTER_MESSAGES)) {
			if (p->last_sent_data_ms > kp->birth_ms || now_ms - kp->birth_ms >=
			    SP_WG_REJECT_AFTER_TIME_MS - SP_WG_KEEPALIVE_TIMEOUT_MS - SP_WG_REKEY_TIMEOUT_MS) {
				p->attempt_start_ms = now_ms;
				todo |= SP_WG_DO_INITIATE;
			}
		} else if (kp->initiator) {
			earliest(&next, kp->birth_ms + SP_WG_REKEY_AFTER_TIME_MS);
		}
		/* Data went out and nothing came back: the peer may be gone or
		 * moved; a new handshake finds out. */
		if (p->last_sent_data_ms > p->last_received_ms && p->attempt_start_ms == 0) {
			uint64_t due = p->last_sent_data_ms + SP_WG_KEEPALIVE_TIMEOUT_MS + SP_WG_REKEY_TIMEOUT_MS;
			if (now_ms >= due) {
				p->attempt_start_ms = now_ms;
				todo |= SP_WG_DO_INITIATE;
			} else {
				earliest(&next, due);
			}
		}
		/* Data came in and nothing went back: acknowledge it. */
		if (p->need_keepalive) {
			uint64_t due = p->last_received_data_ms + SP_WG_KEEPALIVE_TIMEOUT_MS;
			if (now_ms >= due)
				todo |= SP_WG_DO_KEEPALIVE;
			else
				earliest(&next, due);
		}
		if (persistent_keepalive_s > 0) {
			uint64_t due = p->last_sent_ms + (uint64_t)persistent_keepalive_s * 1000;
			if (now_ms >= due)
				todo |= SP_WG_DO_KEEPALIVE;
			else
				earliest(&next, due);
		}
	} else if (persistent_keepalive_s > 0 && p->attempt_start_ms == 0) {
		/* No session but told to keep the path open: make one. */
		p->attempt_start_ms = now_ms;
		todo |= SP_WG_DO_INITIATE;
	}
	if ((todo & SP_WG_DO_INITIATE) && p->attempt_start_ms != 0)
		earliest(&next, now_ms + SP_WG_REKEY_TIMEOUT_MS);
	*next_ms = next;
	return todo;
}

/* ---- the replay window ------------------------------------------------------------ */

void
sp_wg_replay_init(sp_wg_replay *r)
{
	memset(r, 0, sizeof(*r));
}

int
sp_wg_replay_check(sp_wg_replay *r, uint64_t counter)
{
	const uint64_t n = SP_WG_REPLAY_BITS;

	if (counter >= SP_WG_REJECT_AFTER_MESSAGES)
		return 0;
	if (counter >= r->top) {
		/* Slide: clear the bits of the counters skipped over. */
		if (counter - r->top >= n)
			memset(r->bits, 0, sizeof(r->bits));
		else
			for (uint64_t c = r->top; c < counter; c++)
				r->bits[(c % n) / 64] &= ~(1ULL << (c % 64));
		r->top = counter + 1;
		r->bits[(counter % n) / 64] |= 1ULL << (counter % 64);
		return 1;
	}
	if (r->top - counter > n)
		return 0;
	if (r->bits[(counter % n) / 64] & (1ULL << (counter % 64)))
		return 0;
	r->bits[(counter % n) / 64] |= 1ULL << (counter % 64);
	return 1;
}
