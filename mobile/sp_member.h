/*
 * The members' control plane (docs/control-plane.md): the messages a
 * member and its gateway exchange over a TCP connection inside their
 * WireGuard session, on the gateway's overlay address. The session
 * authenticates the member's host (cryptokey routing binds its overlay
 * address to its key); the member's daemon proves itself in HELLO, by
 * signing the gateway's CHALLENGE with its Ed25519 identity key, so no
 * other process on that host can speak for it.
 *
 * A message on the wire: a 16-bit length, a type, then fields as
 * (type, 16-bit length, value), in any order; an unknown field is skipped,
 * so either side can grow. Pure: these functions build and read bytes.
 *
 * Version 2 adds ICE signalling between two members, which the gateway
 * checks and forwards, and TURN credentials in MEMBERS and PONG.
 */
#ifndef SP_MEMBER_H
#define SP_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_key.h"

#define SP_CP_MSG_MAX 16384       /* one message, without its length */
/* Version 2 added ICE and the TURN credentials; the gateway still speaks
 * version 1 to a member whose HELLO says 1. */
#define SP_CP_VERSION 2

enum sp_cp_type {
	SP_CP_HELLO = 1,     /* member: who it is, signing the challenge */
	SP_CP_MEMBERS,       /* gateway: the member list, whole, in parts, on change */
	SP_CP_PAIR,          /* member: make a pairing code for a new device */
	SP_CP_PAIR_OK,       /* gateway: the code (it holds a token) */
	SP_CP_PAIR_ERR,      /* gateway: why not (a PAIR's or a WAIT's) */
	SP_CP_JOINED,        /* gateway: a code this member waits on was used */
	SP_CP_PING,          /* either: still there? */
	SP_CP_PONG,
	SP_CP_CHALLENGE,     /* gateway, first: a nonce for HELLO to sign */
	SP_CP_WAIT,          /* member: tell me when this code is used */
	SP_CP_ICE,           /* either, version 2: ICE signalling between two members,
	                      * through the gateway */
};
#define SP_CP_TYPE_MAX SP_CP_ICE

/* What HELLO's signature covers: this label, the challenge's nonce, the
 * gateway's Ed25519 key and the member's, so a signature answers one
 * challenge of one gateway only. */
#define SP_CP_HELLO_LABEL "signpost-control-hello-v1"
#define SP_CP_HELLO_SIGNED (sizeof(SP_CP_HELLO_LABEL) - 1 + 32 + 32 + 32)
void sp_cp_hello_signed(const uint8_t nonce[32], const uint8_t gateway[SP_KEY_PUBLIC_BYTES],
    const uint8_t member[SP_KEY_PUBLIC_BYTES], uint8_t out[SP_CP_HELLO_SIGNED]);

enum sp_cp_kind { SP_CP_KIND_GATEWAY = 0, SP_CP_KIND_SIGNPOST = 1, SP_CP_KIND_WIREGUARD = 2 };

typedef struct sp_cp_member {
	char name[64];
	uint8_t kind;
	uint8_t key[SP_KEY_PUBLIC_BYTES];   /* Ed25519, or X25519 for WireGuard apps */
	uint8_t addr[16];
	uint32_t relay;                     /* its relay slot (docs/relay.md); 0: none */
} sp_cp_member;

#define SP_CP_MAX_MEMBERS 128
#define SP_CP_MAX_CANDIDATES 32   /* in one ICE message; more is malformed */

/* The path a member uses to another, as its ICE agent's selected pair has
 * it. In order of assistance, so the more assisted of two is the larger. */
enum sp_cp_path {
	SP_CP_PATH_NONE = 0,      /* no pair selected */
	SP_CP_PATH_HOST,          /* direct, host to host */
	SP_CP_PATH_REFLEXIVE,     /* through a NAT's mapping (STUN) */
	SP_CP_PATH_UPNP,          /* through a port the router opened (UPnP/NAT-PMP) */
	SP_CP_PATH_TURN,          /* through a TURN relay */
};
#define SP_CP_PATH_MAX SP_CP_PATH_TURN

/* A decoded message: which fields a type uses is in docs/control-plane.md. */
typedef struct sp_cp_msg {
	enum sp_cp_type type;
	uint32_t version;
	uint32_t seq;                       /* PAIR and its answers */
	char name[64];                      /* HELLO, PAIR, JOINED */
	uint32_t ttl;                       /* PAIR */
	char text[1024];                    /* PAIR_OK: the URI; PAIR_ERR: why */
	int32_t code;                       /* PAIR_ERR: an SP_E* code */
	uint8_t token_id[8];                /* PAIR_OK, PAIR_ERR, JOINED, WAIT */
	uint8_t addr[16];                   /* JOINED */
	uint8_t nonce[32];                  /* CHALLENGE */
	uint8_t sig[SP_KEY_SIG_BYTES];      /* HELLO */
	uint32_t more;                      /* MEMBERS: 1 if another part follows */
	uint32_t chosen;                    /* PAIR_OK: the code offers addresses the
	                                     * gateway chose (no public-endpoint) */
	uint32_t relay_self;                /* MEMBERS: the receiver's relay slot; 0: none */
	uint32_t relay_tls_port;            /* MEMBERS: the relay over TLS's TCP port; 0: none */
	uint8_t relay_key[8];               /* MEMBERS: and its key (secret to it) */
	sp_cp_member members[SP_CP_MAX_MEMBERS];   /* in one part */
	size_t nmembers;
	/* ICE. From a member, peer is the member the message is for; from the
	 * gateway, the member it came from. session is the sender's ICE
	 * session (nonzero), answers the receiver's session it answers (0 in
	 * an offer). ufrag and pwd: both or neither (ufrag[0] == 0). */
	uint8_t peer[SP_KEY_PUBLIC_BYTES];
	uint32_t session, answers;
	char ufrag[257], pwd[257];          /* 4-256 and 22-256 bytes */
	char candidates[SP_CP_MAX_CANDIDATES][256];   /* SDP "a=candidate:" lines */
	size_t ncandidates;
	uint32_t done;                      /* 1: the sender has all its candidates */
	uint32_t path;                      /* an sp_cp_path: the sender's view */
	/* MEMBERS (first part) and PONG: TURN credentials, all three or none
	 * (turn_server[0] == 0). turn_server is "ADDR:PORT", IPv6 in brackets. */
	char turn_server[64], turn_user[128], turn_password[128];
} sp_cp_msg;

/* Write m as one message with its length prefix into out; SP_ESPACE if it
 * does not fit (cap should be SP_CP_MSG_MAX + 2). SP_EINVAL for an unknown
 * type, or ICE or TURN fields the decoder would refuse (a session of 0,
 * ufrag without pwd, too many candidates, a done above 1, a path above
 * SP_CP_PATH_MAX, text of a wrong length or with bytes outside 0x20-0x7E,
 * some but not all of the TURN fields, a TURN server that is not an IP
 * literal and a port), so what encodes also decodes.
 * In ICE it always writes peer, session, answers, done and path. */
int sp_cp_encode(const sp_cp_msg *m, uint8_t *out, size_t cap, size_t *len);
/* Read one message (without its length prefix). SP_EPROTO if malformed;
 * then m's secrets (text, relay_key, pwd, turn_password) are wiped, and
 * the rest of m means nothing. */
int sp_cp_decode(const uint8_t *msg, size_t len, sp_cp_msg *m);

#endif
