/*
 * Pairing a new device with its gateway (docs/pairing.md).
 *
 * The QR code carries a signpost: URI: the zone, where the gateway
 * listens, its Ed25519 key, the zone's DS, the proposed name and a
 * single-use token. The new device then runs one round trip with the
 * gateway, Noise_IKpsk1_25519_ChaChaPoly_BLAKE2s (the Noise framework, rev
 * 34) with the token as the PSK: the device knows the gateway's static key
 * from the URI (no trust on first use), sends its own static key encrypted,
 * and the PSK enters before its payload, so only the holder of the token
 * can make a request the gateway accepts, and the request binds the
 * device's key to the token.
 *
 * Pure: bytes, keys, the time and randomness in; bytes and verdicts out.
 * Built from the WireGuard primitives (tunnels/sp_wg_crypto.h: BLAKE2s,
 * HKDF, ChaCha20-Poly1305, X25519) and Ed25519 (keys/).
 */
#ifndef SP_PAIR_H
#define SP_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_key.h"
#include "sp_rng.h"

#define SP_PAIR_TOKEN 16            /* 128 bits */
#define SP_PAIR_TOKEN_ID 8
#define SP_PAIR_MAX_ENDPOINTS 4
#define SP_PAIR_MAX_DS 4
#define SP_PAIR_MAX_DNSKEYS 8
#define SP_PAIR_ENDPOINT_MAX 80     /* "HOST:PORT", bytes with the NUL */
#define SP_PAIR_URI_MAX 1024
#define SP_PAIR_VERSION 1

/* ---- The URI ------------------------------------------------------------- */

typedef struct sp_pair_uri {
	char zone[256];                 /* canonical, with the trailing dot */
	char endpoint[SP_PAIR_MAX_ENDPOINTS][SP_PAIR_ENDPOINT_MAX];
	size_t nendpoints;
	uint8_t gateway_key[SP_KEY_PUBLIC_BYTES];   /* Ed25519 */
	struct sp_pair_ds {
		uint16_t tag;
		uint8_t digest[SP_DS_SHA256_BYTES];     /* algorithm 15, digest type 2 */
	} ds[SP_PAIR_MAX_DS];
	size_t nds;
	char name[64];                  /* the proposed name */
	uint8_t token[SP_PAIR_TOKEN];   /* the one secret */
} sp_pair_uri;

/* The URI's text (docs/pairing.md); SP_ESPACE if cap is too small. The
 * text holds the token: wipe it when done. */
int sp_pair_uri_format(const sp_pair_uri *u, char *out, size_t cap);
/* Parse a URI. Every problem has its own message (not a pairing code, a
 * newer version, a field missing or malformed); nothing in e repeats the
 * token. */
int sp_pair_uri_parse(const char *text, size_t len, sp_pair_uri *u, sp_errmsg *e);

/* A token's public name: BLAKE2s(token) cut to 8 bytes. The gateway files
 * and finds tokens by it, and a request carries it in the clear: seeing it
 * tells nothing of the token. */
void sp_pair_token_id(const uint8_t token[SP_PAIR_TOKEN], uint8_t id[SP_PAIR_TOKEN_ID]);

/* ---- The exchange -------------------------------------------------------- */

/* The first byte of every pairing message: no WireGuard message (1..4) and
 * no STUN message (0x00..0x3f) starts with it, so one UDP port serves all. */
#define SP_PAIR_MAGIC 0x50
enum sp_pair_type { SP_PAIR_REQUEST = 1, SP_PAIR_RESPONSE = 2, SP_PAIR_ERROR = 3 };

/* Why a gateway refused; the device shows the reason text. */
enum sp_pair_code {
	SP_PAIR_E_MALFORMED = 1,     /* not a request this gateway understands */
	SP_PAIR_E_UNKNOWN_TOKEN,     /* no such token (never made, or a restart) */
	SP_PAIR_E_EXPIRED,
	SP_PAIR_E_USED,              /* already redeemed, by another key */
	SP_PAIR_E_FORGED,            /* the token does not match its id */
	SP_PAIR_E_NAME_TAKEN,
	SP_PAIR_E_REVOKED,           /* this device key was revoked */
	SP_PAIR_E_BUSY,              /* rate limited or overloaded: try later */
	SP_PAIR_E_INTERNAL,          /* the gateway failed to store the device */
	SP_PAIR_E_MEMBER,            /* this device's key is a member already, by another name */
};

/* What a device receives. */
typedef struct sp_pair_settings {
	char zone[256];
	char name[64];
	uint8_t prefix[6];                          /* the zone's /48 */
	uint8_t gateway_addr[16];                   /* its overlay address */
	uint8_t gateway_key[SP_KEY_PUBLIC_BYTES];   /* Ed25519 (equals the URI's) */
	uint16_t control_port;                      /* on gateway_addr, TCP */
	char endpoint[SP_PAIR_MAX_ENDPOINTS][SP_PAIR_ENDPOINT_MAX];
	size_t nendpoints;
	uint8_t dnskey[SP_PAIR_MAX_DNSKEYS][SP_DNSKEY_RDATA_BYTES];
	size_t ndnskeys;
} sp_pair_settings;

/* What a request asks for (the gateway's view, once opened). */
typedef struct sp_pair_request {
	uint8_t token_id[SP_PAIR_TOKEN_ID];
	uint8_t device_key[SP_KEY_PUBLIC_BYTES];    /* Ed25519 */
	uint8_t device_x25519[32];
	char name[64];
} sp_pair_request;

/* The Noise state between the two messages. Holds secrets: wipe it
 * (sp_pair_wipe) when done, whatever the outcome. */
typedef struct sp_pair_state {
	uint8_t ck[32], h[32], k[32];
	uint8_t e_priv[32], e_pub[32];
	uint8_t s_priv[32], s_pub[32];   /* the device's static (initiator only) */
	uint8_t re[32], rs[32];          /* the other side's ephemeral and static */
	uint8_t token_id[SP_PAIR_TOKEN_ID];
	uint8_t gateway_key[SP_KEY_PUBLIC_BYTES];
} sp_pair_state;

void sp_pair_wipe(sp_pair_state *st);

/* A message's type, token id and the initiator's ephemeral key (requests
 * and errors), without any crypto; SP_EPROTO if it is not one. */
int sp_pair_peek(const uint8_t *msg, size_t len, enum sp_pair_type *type,
    uint8_t token_id[SP_PAIR_TOKEN_ID], uint8_t e_init[32]);

/*
 * Device: the request to the gateway of u, for the device's X25519 key
 * pair (made from its Ed25519 identity, sp_key_x25519) and its Ed25519
 * public key, under the name u proposes. out holds SP_PAIR_MSG_MAX bytes.
 */
#define SP_PAIR_MSG_MAX 1200
int sp_pair_request_make(sp_pair_state *st, const sp_pair_uri *u, const uint8_t s_priv[32],
    const uint8_t device_key[SP_KEY_PUBLIC_BYTES], const sp_rng *rng, uint8_t *out,
    size_t *len);

/*
 * Device: a reply to our request. SP_OK with *out filled (a response);
 * SP_EPERM with *code and reason filled (an error the gateway signed);
 * SP_EPROTO for anything else (not for us, damaged, or forged): ignore it
 * and keep waiting.
 */
int sp_pair_reply_read(sp_pair_state *st, const uint8_t *msg, size_t len,
    sp_pair_settings *out, enum sp_pair_code *code, char *reason, size_t rcap);

/*
 * Gateway: open a request with the token its id named. SP_OK with req
 * filled; SP_ECRYPTO if the request was not made with this token (forged,
 * or a mistyped code); SP_EPROTO if it is malformed. gw_priv and gw_pub
 * are the gateway's X25519 key pair.
 */
int sp_pair_request_open(sp_pair_state *st, const uint8_t gw_priv[32],
    const uint8_t gw_pub[32], const uint8_t token[SP_PAIR_TOKEN], const uint8_t *msg,
    size_t len, sp_pair_request *req);

/* Gateway: the response to an opened request. out holds SP_PAIR_MSG_MAX. */
int sp_pair_response_make(sp_pair_state *st, const sp_pair_settings *s, const sp_rng *rng,
    uint8_t *out, size_t *len);

/* Gateway: a refusal, signed with its identity key so the device can tell
 * it from a forgery; bound to the request by its token id and ephemeral. */
int sp_pair_error_make(const sp_key *gateway, const uint8_t token_id[SP_PAIR_TOKEN_ID],
    const uint8_t e_init[32], enum sp_pair_code code, const char *reason, uint8_t *out,
    size_t *len);

/* The check a device makes of the DNSKEYs it received: at least one key
 * with the SEP flag whose DS is in the URI. SP_ECRYPTO otherwise. */
int sp_pair_check_anchor(const sp_pair_settings *s, const sp_pair_uri *u, sp_errmsg *e);
/* The device's trust anchor: those DNSKEYs (KSKs, with the SEP flag)
 * whose DS the code carries; never a ZSK, whose key a rollover retires.
 * Up to max into out; how many. */
size_t sp_pair_anchor_keys(const sp_pair_settings *s, const sp_pair_uri *u,
    uint8_t out[][SP_DNSKEY_RDATA_BYTES], size_t max);

const char *sp_pair_code_name(enum sp_pair_code code);

/* The settings inside a response, once decrypted (sp_pair_reply_read
 * calls it; public so the fuzzer reaches it without a gateway's key). */
int sp_pair_settings_decode(const uint8_t *p, size_t len, sp_pair_settings *s);

/* ---- The gateway's record of a token ------------------------------------- */

/*
 * A token as the gateway keeps it, "pairing/<id in hex>" in its store, so
 * a code shown before a restart still works after it, and a token stays
 * known as used until it expires. The file holds the token: 0600 like
 * every file of the store.
 */
typedef struct sp_pair_token {
	uint8_t token[SP_PAIR_TOKEN];
	uint8_t id[SP_PAIR_TOKEN_ID];
	char name[64];                  /* the device name it proposes */
	char by[64];                    /* who asked for it: a member, or "" */
	int64_t created, expires;
	int used;                       /* redeemed, by used_by */
	uint8_t used_by[SP_KEY_PUBLIC_BYTES];
} sp_pair_token;

/* The file's text (it holds the token: wipe it) and back. Pure. */
int sp_pair_token_encode(const sp_pair_token *t, char *out, size_t cap, size_t *len);
int sp_pair_token_decode(const char *text, size_t len, const char *what, sp_pair_token *t,
    sp_errmsg *e);

#endif
