/*
 * The zone as a transfer carries it (AXFR, and `signpost zone export`).
 *
 * Secondaries such as NSD cannot sign online, so the transferred copy has a
 * conventional NSEC3 chain instead of compact denial: RFC 9276 parameters
 * (SHA-1, no salt, 0 extra iterations, no opt-out), signed with the ZSK
 * when the transfer is made. The gateway's own answers keep using compact
 * denial. Hashed names make walking the secondaries' copy an offline
 * guessing job rather than a listing. docs/zone.md weighs this.
 */
#ifndef SP_XFR_H
#define SP_XFR_H

#include <ldns/ldns.h>

#include "sp_zone.h"

/* Called once per RR, SOA first and last (RFC 5936), RRSIGs after the
 * RRset they cover. rdata is the RR's rdata alone. */
typedef int (*sp_xfr_rr_cb)(void *arg, const uint8_t *owner, size_t owner_len,
    uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen);

/* Emit the whole zone. The NSEC3 chain is signed at now. Pure apart from
 * the callback. */
int sp_xfr_walk(const sp_zone *z, int64_t now, sp_xfr_rr_cb cb, void *arg)
	__attribute__((warn_unused_result));

/* The zone in presentation format, as ldns prints it (malloc'd). The SOA
 * appears once, first. */
int sp_xfr_text(const sp_zone *z, int64_t now, char **out, size_t *len)
	__attribute__((warn_unused_result));

/* One RR as an ldns_rr (for building transfer messages). */
ldns_rr *sp_xfr_ldns_rr(const uint8_t *owner, size_t owner_len, uint16_t type,
    uint32_t ttl, const uint8_t *rdata, size_t rdlen);

#endif
