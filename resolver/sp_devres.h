/*
 * The device side's validating resolver for the zone: the pure part.
 * Bytes and the time in, bytes and decisions out; the adapter in
 * signpostd/device/ owns the sockets, the clients waiting and the timers.
 *
 * A member asks its gateway (over the overlay) for names in the zone and
 * validates every answer with ldns up to the trust anchor that pairing
 * stored: the zone's DNSKEY RRset must be signed by an anchored KSK, every
 * other RRset by a key of that validated DNSKEY set. Denial is RFC 9824
 * compact denial: one NSEC at the query name itself, its type bitmap
 * proving NODATA (the type is absent) or NXDOMAIN (NXNAME, type 128, is
 * present). Bogus data is never cached and never answered: the caller
 * answers SERVFAIL and logs the reason.
 *
 * Validated answers are cached by TTL (capped by the RRSIG's expiry and by
 * SP_DEVRES_TTL_MAX) and kept for serve-stale (RFC 8767) for stale_s
 * seconds past their expiry, for when the gateway cannot be reached.
 *
 * Names are wire-format, lowercase for lookups; a name is "in the zone"
 * when it is the zone's origin or under it.
 */
#ifndef SP_DEVRES_H
#define SP_DEVRES_H

#include <stddef.h>
#include <stdint.h>

#include "sp_dns.h"
#include "sp_err.h"
#include "sp_key.h"

#define SP_DEVRES_TTL_MAX 86400      /* no answer is trusted longer */
#define SP_DEVRES_STALE_TTL 30       /* the TTL a stale answer carries (RFC 8767 §4) */
#define SP_DEVRES_RR_MAX 16          /* RRs of one RRset kept */
#define SP_DEVRES_RDATA_MAX 512      /* bytes of one RR's rdata kept */
#define SP_DEVRES_SIG_MAX 4          /* RRSIGs kept per RRset (those that verified) */

typedef struct sp_devres sp_devres;

typedef struct sp_devres_conf {
	const char *zone;            /* "alice.example." (presentation, trailing dot optional) */
	const uint8_t (*anchor)[SP_DNSKEY_RDATA_BYTES];   /* the KSKs pairing stored */
	size_t nanchor;
	size_t cache_max;            /* entries (0: 4096); the oldest go first */
	uint32_t stale_s;            /* serve stale this long past expiry (0: 1 day) */
} sp_devres_conf;

int sp_devres_new(const sp_devres_conf *c, sp_devres **out, sp_errmsg *e)
    __attribute__((warn_unused_result));
void sp_devres_free(sp_devres *r);

typedef struct sp_devres_stats {
	uint64_t validated;          /* responses that validated (any kind) */
	uint64_t bogus;              /* responses refused: signature, anchor, shape */
	uint64_t hits, stale_hits, misses;
	uint64_t evicted;
} sp_devres_stats;
const sp_devres_stats *sp_devres_stats_get(const sp_devres *r);

/* ---- a client's question ------------------------------------------------ */

typedef struct sp_devres_question {
	uint16_t id;
	uint16_t flags;              /* the query's header flags (RD, CD, AD...) */
	uint8_t qname[SP_DNAME_MAX]; /* lowercase wire form */
	size_t qname_len;
	uint16_t qtype, qclass;
	int edns;                    /* had an OPT record */
	uint16_t udp_size;           /* its payload size (512 without EDNS) */
	int do_bit;                  /* DNSSEC OK */
	int in_zone;                 /* qname is the zone or under it */
	/* Additions. */
	uint8_t qname_sent[SP_DNAME_MAX];  /* the name as sent (case kept), echoed */
	uint16_t edns_flags;         /* the OPT's flags (DO, CO) */
	uint8_t edns_version;
	int tcp;                     /* set by a TCP adapter: no limit but cap */
} sp_devres_question;

/* Parse a client's query: one question, opcode QUERY, not a response.
 * SP_EPROTO (caller answers FORMERR when the header was readable, or
 * drops) otherwise. On SP_EPROTO, out->id and out->flags are set when
 * len >= 12 and out->qname_len is 0 unless the question was read: drop
 * when len < 12 or out->flags has QR (never answer a response), answer
 * NOTIMP for another opcode, FORMERR otherwise (sp_devres_error then
 * echoes no question). SP_EUNSUPP: an EDNS version other than 0, out is
 * complete: answer BADVERS. in_zone is left 0: the parser does not know
 * the zone; sp_devres_in_zone() says. */
int sp_devres_parse(const uint8_t *q, size_t len, sp_devres_question *out);

/* ---- the cache ---------------------------------------------------------- */

enum sp_devres_kind {
	SP_DEVRES_POSITIVE = 1,      /* the RRset exists */
	SP_DEVRES_NODATA,            /* the name exists, not this type */
	SP_DEVRES_NXDOMAIN,          /* the name does not exist */
};

/* A validated RRset (or denial) from the cache. Pointers are into the
 * cache and valid until the next call that changes it. */
typedef struct sp_devres_rrset {
	enum sp_devres_kind kind;
	uint16_t type;
	uint32_t ttl;                /* remaining seconds; SP_DEVRES_STALE_TTL when stale */
	int stale;                   /* past its TTL, inside the stale window */
	size_t n;                    /* RRs (0 for denial) */
	const uint8_t *rdata[SP_DEVRES_RR_MAX];
	uint16_t rdlen[SP_DEVRES_RR_MAX];
	/* Additions: the RRSIG rdatas that verified, over the RRset or, for
	 * denial, over the NSEC; and the NSEC's rdata (denial only). */
	size_t nsig;
	const uint8_t *sig[SP_DEVRES_SIG_MAX];
	uint16_t siglen[SP_DEVRES_SIG_MAX];
	const uint8_t *nsec;
	uint16_t nsec_len;
} sp_devres_rrset;

enum sp_devres_hit { SP_DEVRES_MISS = 0, SP_DEVRES_FRESH, SP_DEVRES_STALE };
/* Look (qname, qtype) up at time now (Unix seconds). The cache is LRU: a
 * hit (fresh or stale) or an ingest makes an entry the newest, and when
 * cache_max entries are held the least recently used goes. An entry past
 * its stale window is dropped when it is next looked up (a miss). The
 * validated DNSKEY set is also kept outside the cache: evicting its entry
 * does not lose the keys. */
enum sp_devres_hit sp_devres_lookup(sp_devres *r, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, int64_t now, sp_devres_rrset *out);

/* ---- asking the gateway ------------------------------------------------- */

/* A query to the gateway for (qname, qtype): id, RD clear, EDNS0 with DO
 * and CO (RFC 9824: so NXDOMAIN comes as NXDOMAIN), payload 1232. */
int sp_devres_make_query(uint16_t id, const uint8_t *qname, size_t qname_len, uint16_t qtype,
    uint8_t *out, size_t cap, size_t *len);

/* Whether the validated DNSKEY set is cached and fresh at now: if not, the
 * adapter asks for (zone, DNSKEY) first and feeds that response in. */
int sp_devres_have_keys(const sp_devres *r, int64_t now);
/* The zone's origin in wire form (for that DNSKEY query). */
const uint8_t *sp_devres_zone(const sp_devres *r, size_t *len);
/* 1 if the lowercase wire name is the zone's origin or under it. */
int sp_devres_in_zone(const sp_devres *r, const uint8_t *name, size_t len);

enum sp_devres_result {
	SP_DEVRES_OK = 0,            /* validated and cached */
	SP_DEVRES_BOGUS,             /* refused; why says why (for the log) */
	SP_DEVRES_NEED_KEYS,         /* no validated DNSKEY set yet: ask for it first */
	SP_DEVRES_NOT_MINE,          /* not an answer to (qname, qtype) with this id */
};
/*
 * A response from the gateway to the query (id, qname, qtype) made above.
 * A DNSKEY response for the origin is checked against the anchor; any
 * other against the cached DNSKEY set. On OK the result is cached and, if
 * out is not NULL, returned as sp_devres_lookup would. why gets a short
 * reason on BOGUS ("RRSIG over AAAA does not verify", "no RRSIG", ...).
 *
 * NOT_MINE: shorter than a header, another id, QR clear, or a question
 * other than (qname, qtype, IN). BOGUS besides bad signatures: a
 * malformed packet, an opcode other than QUERY, TC set, any rcode but
 * NOERROR and NXDOMAIN ("gateway answered REFUSED"), a name outside the
 * zone, a record in the answer section that is not the RRset or an RRSIG
 * over it (a CNAME, another name or type, an unsigned extra RR), a
 * wildcard expansion, an RRset over SP_DEVRES_RR_MAX RRs or an rdata over
 * SP_DEVRES_RDATA_MAX bytes. The authority section of a positive answer
 * and the SOA of a denial are ignored: nothing from them is kept.
 */
enum sp_devres_result sp_devres_ingest(sp_devres *r, uint16_t id, const uint8_t *qname,
    size_t qname_len, uint16_t qtype, const uint8_t *resp, size_t len, int64_t now,
    sp_devres_rrset *out, char *why, size_t whylen);

/* Forget everything cached (the anchor stays): a member revoked, a test. */
void sp_devres_flush(sp_devres *r);

/* ---- answering the client ----------------------------------------------- */

/*
 * The reply to q from a cached RRset: q's id and question, QR RA and RD as
 * asked, AD set (the data validated) when the client set AD or DO, the
 * RRset with the TTL in rr, and its RRSIGs too when the client set DO.
 * NXDOMAIN and NODATA answers carry the NSEC and its RRSIG with DO. Fits
 * the client's UDP size or sets TC. cap >= 512.
 *
 * Compact denial has no SOA to give: a negative answer's authority section
 * is the NSEC and its RRSIGs with DO, and empty without. The rcode of a
 * nonexistent name is NXDOMAIN, except to a client that set DO without
 * CO, which gets NOERROR as RFC 9824 section 4 says (the NSEC proves the
 * name's "type set" to a validator that does not know NXNAME).
 * SP_EINVAL if cap < 512, SP_ESPACE if even the truncated reply does not
 * fit.
 */
int sp_devres_answer(sp_devres *r, const sp_devres_question *q, const sp_devres_rrset *rr,
    uint8_t *out, size_t cap, size_t *len);
/* A reply from local data, not validated (no AD): rcode, and one record
 * of type with rd at the question's name if rd is not NULL; AA set. For
 * the reverse names of the zone's own /48, which the resolver answers from
 * its member list. */
int sp_devres_local(const sp_devres_question *q, uint16_t rcode, uint16_t type, const uint8_t *rd,
    uint16_t rdlen, uint32_t ttl, uint8_t *out, size_t cap, size_t *len);
/* A reply with no records and this rcode (SERVFAIL, REFUSED, FORMERR,
 * NOTIMP, BADVERS): q's opcode, RD and CD echoed, RA set, the question
 * when q->qname_len > 0, an OPT when q had one. SP_ESPACE if cap is too
 * small (12 + 259 + 11 bytes always do). */
int sp_devres_error(const sp_devres_question *q, uint16_t rcode, uint8_t *out, size_t cap,
    size_t *len);

#endif
