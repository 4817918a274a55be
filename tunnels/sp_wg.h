/*
 * The WireGuard protocol (the WireGuard paper, "WireGuard: Next Generation
 * Kernel Network Tunnel", section 5): the Noise_IKpsk2 handshake with mac1,
 * mac2 and cookie replies, session keypairs, and transport data with a
 * sliding anti-replay window. Wire-compatible with the reference
 * implementations.
 *
 * Pure: messages, the source address and the time come in; messages to
 * send and decrypted packets come out. Sockets, TUN, the UAPI and the
 * timers' clock live in adapters. Not thread-safe: one sp_wg per thread
 * of control (the data-path threads will get their own keypair views).
 */
#ifndef SP_WG_H
#define SP_WG_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_wg_crypto.h"

#define SP_WG_INITIATION_SIZE 148
#define SP_WG_RESPONSE_SIZE 92
#define SP_WG_COOKIE_REPLY_SIZE 64
#define SP_WG_TRANSPORT_HEADER 16
#define SP_WG_TRANSPORT_OVERHEAD (SP_WG_TRANSPORT_HEADER + SP_WG_TAG)
#define SP_WG_MIN_REPLY 148       /* a reply buffer this big fits any reply */

/* Protocol constants (the paper, section 6.1). */
#define SP_WG_REKEY_AFTER_MESSAGES (1ULL << 60)
#define SP_WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define SP_WG_REKEY_AFTER_TIME_MS 120000
#define SP_WG_REJECT_AFTER_TIME_MS 180000
#define SP_WG_REKEY_TIMEOUT_MS 5000
#define SP_WG_COOKIE_LIFETIME_MS 120000
#define SP_WG_REKEY_ATTEMPT_TIME_MS 90000
#define SP_WG_KEEPALIVE_TIMEOUT_MS 10000

typedef struct sp_wg sp_wg;
typedef struct sp_wg_peer sp_wg_peer;

/* rng (borrowed, kept) makes ephemerals, indexes and cookie secrets. */
int sp_wg_new(const uint8_t priv[SP_WG_KEY], const sp_rng *rng, sp_wg **out)
	__attribute__((warn_unused_result));
/* Wipes every key. NULL is a no-op. */
void sp_wg_free(sp_wg *wg);
const uint8_t *sp_wg_public(const sp_wg *wg);
/* With load set, handshakes without a valid mac2 get a cookie reply
 * instead of a DH computation (the adapter decides when: queue depth). */
void sp_wg_set_under_load(sp_wg *wg, int under_load);
/* The tunnel MTU: packets are padded to 16 bytes but not past it (the
 * paper, 5.4.6). 0, the default, pads every packet. */
void sp_wg_set_mtu(sp_wg *wg, size_t mtu);

/* A peer by its static public key; SP_EEXIST if it is there already, and
 * SP_ECRYPTO for a key that gives a zero shared secret. */
int sp_wg_peer_add(sp_wg *wg, const uint8_t pub[SP_WG_KEY], sp_wg_peer **out)
	__attribute__((warn_unused_result));
void sp_wg_peer_set_psk(sp_wg_peer *p, const uint8_t psk[SP_WG_KEY]);
/* The same PSK as another peer's (a device whose private key changed). */
void sp_wg_peer_copy_psk(sp_wg_peer *to, const sp_wg_peer *from);
/* Forget a peer and every key of it; p is freed. */
void sp_wg_peer_remove(sp_wg *wg, sp_wg_peer *p);
/* Close p's sessions: every key wiped, a handshake in progress abandoned.
 * The peer stays; the next packet for it starts a new handshake (an idle
 * tunnel closed, docs/relay.md). */
void sp_wg_peer_close(sp_wg *wg, sp_wg_peer *p);
sp_wg_peer *sp_wg_peer_find(const sp_wg *wg, const uint8_t pub[SP_WG_KEY]);
const uint8_t *sp_wg_peer_public(const sp_wg_peer *p);
/* The adapter's own data for a peer (its endpoint, allowed IPs). */
void sp_wg_peer_set_user(sp_wg_peer *p, void *user);
void *sp_wg_peer_user(const sp_wg_peer *p);

/* Whether the peer has a session that may send now, and since when (ms). */
int sp_wg_peer_has_session(const sp_wg_peer *p, uint64_t now_ms);
uint64_t sp_wg_peer_last_handshake_ms(const sp_wg_peer *p);
/* When the peer last sent us anything authenticated, and when we last
 * sent it data (monotonic ms; 0: never). */
void sp_wg_peer_times(const sp_wg_peer *p, uint64_t *last_received, uint64_t *last_sent_data);
/* How long a handshake has been tried without an answer; 0: not trying. */
uint64_t sp_wg_peer_trying_ms(const sp_wg_peer *p, uint64_t now_ms);
/* The last data (not keepalives) sent or received, monotonic ms; 0: none. */
uint64_t sp_wg_peer_last_data_ms(const sp_wg_peer *p);

/*
 * Write a handshake initiation for p (148 bytes). wall_s/wall_ns is the
 * real time (the TAI64N timestamp a responder uses against replays);
 * now_ms is monotonic.
 */
int sp_wg_initiate(sp_wg *wg, sp_wg_peer *p, int64_t wall_s, uint32_t wall_ns,
    uint64_t now_ms, uint8_t out[SP_WG_INITIATION_SIZE])
	__attribute__((warn_unused_result));

enum sp_wg_rx_kind {
	SP_WG_RX_DROP,          /* nothing to do (counted in stats) */
	SP_WG_RX_REPLY,         /* send reply[0..reply_len) back to the source */
	SP_WG_RX_DATA,          /* a packet for TUN: data[0..data_len) */
	SP_WG_RX_KEEPALIVE,     /* authenticated, empty */
	SP_WG_RX_HANDSHAKE,     /* a handshake completed (we initiated) */
};

typedef struct sp_wg_rx {
	enum sp_wg_rx_kind kind;
	sp_wg_peer *peer;       /* the authenticated peer, or NULL */
	const uint8_t *data;    /* points into the message buffer */
	size_t data_len;
	size_t reply_len;
	const char *why;        /* for DROP: a short reason, for counters */
} sp_wg_rx;

/*
 * Process one datagram. msg is decrypted in place. src/src_len are the
 * source address bytes (for cookies: any stable encoding of IP and port).
 * reply must hold SP_WG_MIN_REPLY bytes. After an authenticated packet the
 * adapter should update the peer's endpoint to the source (roaming).
 */
int sp_wg_receive(sp_wg *wg, uint8_t *msg, size_t len, const uint8_t *src, size_t src_len,
    uint64_t now_ms, uint8_t *reply, sp_wg_rx *rx);

/*
 * Encrypt one IP packet for p into out (len rounded up to 16, plus 32
 * bytes of overhead; out must hold that). SP_ENOENT when there is no
 * session to send with (the caller starts a handshake and queues).
 */
int sp_wg_encrypt(sp_wg *wg, sp_wg_peer *p, const uint8_t *pkt, size_t len,
    uint64_t now_ms, uint8_t *out, size_t cap, size_t *outlen)
	__attribute__((warn_unused_result));

/*
 * The timers (the paper, section 6), as a function of what was sent and
 * received when: the adapter calls this at or after *next and does what
 * the returned bits say. Encrypt and receive record the events, initiate
 * records attempts. persistent_keepalive_s is 0 for none.
 */
enum {
	SP_WG_DO_INITIATE = 1,     /* send (or resend) a handshake initiation */
	SP_WG_DO_KEEPALIVE = 2,    /* send an empty transport message */
	SP_WG_DO_GIVE_UP = 4,      /* 90 s without a handshake: drop what is queued */
	SP_WG_DO_EXPIRE = 8,       /* keys unused for 9 minutes were zeroed */
};
unsigned sp_wg_peer_tick(sp_wg_peer *p, uint64_t now_ms, unsigned persistent_keepalive_s,
    uint64_t *next_ms);
/* Ask for a handshake because a packet is waiting (no session yet). */
void sp_wg_peer_want_handshake(sp_wg_peer *p, uint64_t now_ms);

/* Bytes needed to encrypt a packet of len bytes (with padding, at most). */
size_t sp_wg_encrypted_size(size_t len);

typedef struct sp_wg_stats {
	uint64_t rx_bad_type, rx_bad_size, rx_bad_mac, rx_bad_auth, rx_replay,
	    rx_unknown_index, rx_unknown_peer, rx_old_timestamp, rx_cookies_sent,
	    rx_flood, handshakes, rx_data, tx_data;
} sp_wg_stats;
const sp_wg_stats *sp_wg_stats_get(const sp_wg *wg);

/* The anti-replay window, exposed for its tests (RFC 6479's idea with
 * 2048 bits). Returns 1 if counter is new and records it. */
#define SP_WG_REPLAY_BITS 2048
typedef struct sp_wg_replay {
	uint64_t top;
	uint64_t bits[SP_WG_REPLAY_BITS / 64];
} sp_wg_replay;
void sp_wg_replay_init(sp_wg_replay *r);
int sp_wg_replay_check(sp_wg_replay *r, uint64_t counter);

#endif
