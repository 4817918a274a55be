/*
 * The personal zone in memory: an immutable, signed snapshot.
 *
 * A zone is built from records (sp_zone_builder) and signed as it is
 * finished. Signatures of the previous snapshot are reused for every RRset
 * whose data, TTL and signing keys are unchanged and whose signature is not
 * due for refresh, so a change re-signs only what changed. The answerer
 * reads snapshots; the daemon swaps in a new one after each change. Pure:
 * the time comes in as an argument.
 *
 * Each RRset keeps its answer-section wire form ready: the RRs with the
 * owner written as a compression pointer to the question (0xC00C), then
 * its RRSIGs. Answering is then a lookup and a copy.
 */
#ifndef SP_ZONE_H
#define SP_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "sp_dns.h"
#include "sp_key.h"

typedef struct sp_rrset {
	uint16_t type;
	uint16_t count;             /* RRs */
	uint32_t ttl;
	uint8_t *rdata;             /* count x (u16 length, bytes), canonical order */
	size_t rdata_len;
	uint8_t *rrsig;             /* nsig x (u16 length, RRSIG rdata) */
	size_t rrsig_len;
	uint16_t nsig;
	uint32_t sig_refresh;       /* re-sign at or after this time (Unix s) */
	uint8_t *wire;              /* answer RRs then RRSIG RRs, owner 0xC00C */
	size_t wire_plain;          /* bytes of the RRs alone */
	size_t wire_len;            /* bytes including the RRSIGs */
} sp_rrset;

typedef struct sp_node {
	uint8_t *name;              /* lowercase wire */
	size_t name_len;
	sp_rrset *rrsets;
	size_t nrrsets;
	sp_rrset nsec;              /* compact-denial NSEC for NODATA here */
} sp_node;

/* One record of the NSEC3 chain that transfers carry (sp_xfr.h). */
#define SP_NSEC3_HASH 20
typedef struct sp_nsec3 {
	uint8_t owner[SP_DNAME_MAX];  /* base32hex(hash).apex, lowercase wire */
	size_t owner_len;
	sp_rrset rrset;
} sp_nsec3;

typedef struct sp_zone sp_zone;

/* How signatures are made: RFC 4034 validity with our refresh policy. */
typedef struct sp_sign_policy {
	uint32_t inception_offset;  /* inception = now - this (clock skew) */
	uint32_t validity;          /* expiration = now + validity + jitter */
	uint32_t jitter;            /* uniform 0..jitter added to validity */
	uint32_t refresh;           /* re-sign when less than this remains */
} sp_sign_policy;

void sp_sign_policy_default(sp_sign_policy *p);

/* The keys that sign: zsk signs all but DNSKEY/CDS/CDNSKEY, which every
 * KSK in ksk[] signs. Borrowed for the duration of a build. */
typedef struct sp_zone_signers {
	const sp_key *zsk;
	const sp_key *const *ksk;
	size_t nksk;
} sp_zone_signers;

typedef struct sp_zone_builder sp_zone_builder;

int sp_zone_builder_new(const uint8_t *apex, size_t apex_len, sp_zone_builder **out);
void sp_zone_builder_free(sp_zone_builder *b);
/* Add one RR. owner must be at or below the apex; duplicates are merged
 * away; an RRset's TTL is its first RR's. */
int sp_zone_add(sp_zone_builder *b, const uint8_t *owner, size_t owner_len,
    uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen);
/*
 * Sign and finish, the transfer form's NSEC3 chain included. prev (may be
 * NULL) lends its signatures. The builder is consumed (freed) whatever the
 * result. SP_EINVAL if the apex has no SOA. The new snapshot has one hold.
 */
int sp_zone_finish(sp_zone_builder *b, const sp_zone_signers *signers,
    const sp_sign_policy *policy, int64_t now, const sp_zone *prev,
    sp_zone **out) __attribute__((warn_unused_result));
/* One more hold on a snapshot (a transfer, a job off the loop); any thread.
 * sp_zone_free drops one and frees with the last. NULL is a no-op there.
 * The keys that signed it are borrowed, not held: a holder other than the
 * loop reads records only. */
sp_zone *sp_zone_hold(sp_zone *z);
void sp_zone_free(sp_zone *z);

const uint8_t *sp_zone_apex(const sp_zone *z, size_t *len);
uint32_t sp_zone_serial(const sp_zone *z);
/* Exact-match lookup of a lowercase wire name; NULL if absent. */
const sp_node *sp_zone_find(const sp_zone *z, const uint8_t *name, size_t len);
const sp_rrset *sp_node_rrset(const sp_node *n, uint16_t type);
/* Nodes in canonical order, for transfer and export. */
size_t sp_zone_node_count(const sp_zone *z);
const sp_node *sp_zone_node(const sp_zone *z, size_t i);
/* Negative-answer TTL: min(SOA TTL, SOA minimum) (RFC 2308, RFC 9077). */
uint32_t sp_zone_neg_ttl(const sp_zone *z);
/* The earliest time any signature needs refreshing. */
uint32_t sp_zone_next_refresh(const sp_zone *z);
/* Signatures made (not reused) while building this snapshot. */
size_t sp_zone_signed_count(const sp_zone *z);
/* The ZSK of this snapshot, for signing negative answers online. */
const sp_key *sp_zone_zsk(const sp_zone *z);
const sp_sign_policy *sp_zone_policy(const sp_zone *z);
/* The transfer form's NSEC3PARAM (at the apex) and NSEC3 chain, in hash
 * order (RFC 9276 parameters: SHA-1, no salt, no extra iterations). */
const sp_rrset *sp_zone_nsec3param(const sp_zone *z);
size_t sp_zone_nsec3_count(const sp_zone *z);
const sp_nsec3 *sp_zone_nsec3(const sp_zone *z, size_t i);

/*
 * Sign one RRset (RFC 4034 3.1.8.1): rdata is count x (u16 len, bytes) in
 * canonical order; owner and signer are lowercase wire names. Writes the
 * RRSIG rdata to out (at least 18 + 255 + 64 bytes). Pure.
 */
int sp_sign_rrset(const sp_key *key, const uint8_t *signer, size_t signer_len,
    const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdata_len, uint16_t count, uint32_t inception,
    uint32_t expiration, uint8_t *out, size_t *outlen)
	__attribute__((warn_unused_result));

/* An NSEC type bitmap (RFC 4034 4.1.2) for types[] (any order). */
size_t sp_nsec_bitmap(const uint16_t *types, size_t n, uint8_t *out, size_t cap);

#endif
