/*
 * The zone as a transfer carries it (AXFR, and `signpost zone export`).
 *
 * Secondaries such as NSD cannot sign online, so the transferred copy has a
 * conventional NSEC3 chain instead of compact denial: RFC 9276 parameters
 * (SHA-1, no salt, 0 extra iterations, no opt-out), built and signed with
 * the snapshot (sp_zone.h), so every transfer of one snapshot is the same
 * and costs no signing. The gateway's own answers keep using compact
 * denial. Hashed names make walking the secondaries' copy an offline
 * guessing job rather than a listing. docs/zone.md weighs this.
 */
#ifndef SP_XFR_H
#define SP_XFR_H

#include <ldns/ldns.h>

#include "sp_zone.h"

/* One RR of the transfer, borrowed from the snapshot. */
typedef struct sp_xfr_rr {
	const uint8_t *owner;
	size_t owner_len;
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rdata;   /* the RR's rdata alone */
	size_t rdlen;
} sp_xfr_rr;

/*
 * A resumable walk: SOA first and last (RFC 5936), every other RRset then
 * its RRSIGs, NSEC3PARAM, the NSEC3 chain. It borrows the snapshot, so a
 * walk that outlives a call (a transfer sent as the client reads) holds it
 * (sp_zone_hold). Pure.
 */
typedef struct sp_xfr_iter {
	const sp_zone *z;
	unsigned phase;
	size_t node, rrset, rr;
	int sigs;
	size_t off;            /* into the current RRset's rdata or rrsig */
} sp_xfr_iter;

void sp_xfr_begin(sp_xfr_iter *it, const sp_zone *z);
/* The next RR: 1 and rr filled, or 0 at the end. */
int sp_xfr_next(sp_xfr_iter *it, sp_xfr_rr *rr);

/* The zone in presentation format, as ldns prints it (malloc'd). The SOA
 * appears once, first. */
int sp_xfr_text(const sp_zone *z, char **out, size_t *len)
	__attribute__((warn_unused_result));

/* One RR as an ldns_rr (for presentation format). */
ldns_rr *sp_xfr_ldns_rr(const uint8_t *owner, size_t owner_len, uint16_t type,
    uint32_t ttl, const uint8_t *rdata, size_t rdlen);

#endif
