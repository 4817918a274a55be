/*
 * TSIG (RFC 8945) with HMAC-SHA256, the only algorithm the gateway takes:
 * checking a request's signature and its time, and signing responses,
 * single or chained through a multi-message transfer.
 *
 * Hand-written on sp_wire rather than on ldns: ldns checks a MAC but not
 * the time a request was signed, and it cannot build the error responses
 * RFC 8945 section 5.2 asks for (BADKEY and BADSIG unsigned, BADTIME
 * signed with the server's time in Other Data). The HMAC is libsodium's.
 * Pure: message bytes, keys and the time in; verdicts and bytes out. The
 * unit tests hold it to ldns's own signer and verifier.
 */
#ifndef SP_TSIG_H
#define SP_TSIG_H

#include <stddef.h>
#include <stdint.h>

#include "sp_dns.h"

#define SP_TSIG_MAC 32            /* HMAC-SHA256 */
#define SP_TSIG_SECRET_MAX 128
#define SP_TSIG_FUDGE 300         /* seconds, RFC 8945 10 recommends 300 */

/* TSIG error codes (RFC 8945 3, 5.2). */
enum { SP_TSIG_OK = 0, SP_TSIG_BADSIG = 16, SP_TSIG_BADKEY = 17, SP_TSIG_BADTIME = 18 };

typedef struct sp_tsig_key {
	uint8_t name[SP_DNAME_MAX];       /* lowercase wire */
	size_t name_len;
	uint8_t secret[SP_TSIG_SECRET_MAX];
	size_t secret_len;
} sp_tsig_key;

/* A key from "name" and a base64 secret (as signpost.conf holds it). */
int sp_tsig_key_set(sp_tsig_key *k, const char *name, const char *secret_b64);
/* Wipe a key's secret. */
void sp_tsig_key_wipe(sp_tsig_key *k);

/*
 * What a request's TSIG said, and the state a response is signed with:
 * the request's MAC, then each message's (chained, RFC 8945 5.3.1).
 */
typedef struct sp_tsig_state {
	int key;                          /* index into keys[], -1 if unknown */
	int error;                        /* SP_TSIG_* verdict on the request */
	uint16_t orig_id;
	uint64_t time_signed;
	uint16_t fudge;
	uint8_t key_name[SP_DNAME_MAX];   /* as the request named it (lowercase) */
	size_t key_name_len;
	uint8_t alg[SP_DNAME_MAX];        /* the request's algorithm name */
	size_t alg_len;
	uint8_t mac[SP_TSIG_MAC];         /* the last MAC in the conversation */
	size_t mac_len;
	unsigned messages;                /* responses signed so far */
} sp_tsig_state;

/* Start the state for signing a request (a NOTIFY) with key; id is the
 * message's ID. */
void sp_tsig_begin(sp_tsig_state *st, const sp_tsig_key *key, uint16_t id);

/*
 * Check the TSIG of a request. Returns SP_ENOENT when the message has no
 * TSIG, SP_EPROTO when it is malformed (TSIG not last, names compressed,
 * lengths wrong), and otherwise SP_OK with st->error the verdict: OK,
 * BADKEY (unknown key name or another algorithm than hmac-sha256),
 * BADSIG (wrong MAC, or a truncated one), BADTIME (signed more than fudge
 * seconds from now). The checks run in RFC 8945 5.2's order. *tsig_at is
 * where the TSIG RR starts (the message without it is msg[0..tsig_at)).
 */
int sp_tsig_verify(const uint8_t *msg, size_t len, const sp_tsig_key *keys, size_t nkeys,
    int64_t now, sp_tsig_state *st, size_t *tsig_at);

/*
 * Append a signed TSIG to a response of *len bytes in buf (cap bytes),
 * adding one to ARCOUNT: the MAC covers the previous MAC of st, the
 * message and the TSIG variables (all of them for the first response,
 * only the timers for the later ones of a transfer). error is the TSIG
 * error to send (SP_TSIG_OK or BADTIME, which carries now in Other Data).
 * st->mac becomes this message's MAC. SP_ESPACE if it does not fit.
 */
int sp_tsig_sign(uint8_t *buf, size_t *len, size_t cap, const sp_tsig_key *key,
    sp_tsig_state *st, int64_t now, int error);

/*
 * Append the unsigned TSIG of a BADKEY or BADSIG error response: the
 * request's key and algorithm names, no MAC, the error (RFC 8945 5.2.1,
 * 5.2.2: a server cannot or must not sign with a key it cannot trust).
 */
int sp_tsig_append_error(uint8_t *buf, size_t *len, size_t cap, const sp_tsig_state *st,
    int64_t now);

/* The TSIG error's name, for logs ("BADTIME"). */
const char *sp_tsig_error_name(int error);

#endif
