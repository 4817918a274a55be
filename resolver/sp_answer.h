/*
 * The authoritative answerer: query bytes and the time in, response bytes
 * out. No I/O; the daemon's UDP and TCP adapters call it, and so do the
 * unit tests and the fuzzer.
 *
 * Denial of existence is RFC 9824 compact denial: a name that does not
 * exist gets one NSEC at the name itself ("\000.name" as next name, types
 * RRSIG NSEC NXNAME), signed online and cached. Nothing in a response ever
 * names another name in the zone, so the device inventory cannot be walked.
 */
#ifndef SP_ANSWER_H
#define SP_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "sp_rng.h"
#include "sp_zone.h"

#define SP_DNS_UDP_DEFAULT 1232   /* RFC 9715 / DNS flag day 2020 */

typedef struct sp_answerer sp_answerer;

typedef struct sp_dns_stats {
	uint64_t queries;      /* every call */
	uint64_t dropped;      /* not answered: too short, or a response */
	uint64_t formerr;
	uint64_t notimp;
	uint64_t refused;      /* other zones, other classes, transfers over UDP */
	uint64_t answers;
	uint64_t nodata;
	uint64_t nxdomain;
	uint64_t truncated;
	uint64_t badvers;
	uint64_t nx_signed;    /* negative answers signed online (cache misses) */
} sp_dns_stats;

/* What a response was, for rate limiting and logs. */
enum sp_answer_kind {
	SP_ANS_DROP, SP_ANS_ANSWER, SP_ANS_NODATA, SP_ANS_NXDOMAIN, SP_ANS_ERROR,
	SP_ANS_XFR,            /* a zone transfer request (TCP): handled elsewhere */
};

typedef struct sp_answer_info {
	enum sp_answer_kind kind;
	uint8_t qname[SP_DNAME_MAX];   /* lowercase */
	size_t qname_len;
	uint16_t qtype;
} sp_answer_info;

/* udp_max: the largest UDP response we send (0 = SP_DNS_UDP_DEFAULT);
 * rng keys the negative-answer cache's hash. */
int sp_answerer_new(size_t udp_max, const sp_rng *rng, sp_answerer **out);
void sp_answerer_free(sp_answerer *a);
/* Borrowed: the caller keeps zone alive until it sets another. NULL
 * means no zone yet: every query is refused. */
void sp_answerer_set_zone(sp_answerer *a, const sp_zone *zone);
const sp_dns_stats *sp_answerer_stats(const sp_answerer *a);

/*
 * Answer one query. tcp selects the size limit (65535 instead of the
 * EDNS/512 limit). Returns the response length (<= cap, and cap must be at
 * least 512), or 0 if the query is to be dropped. info may be NULL.
 */
size_t sp_answer(sp_answerer *a, const uint8_t *query, size_t qlen, int tcp,
    int64_t now, uint8_t *out, size_t cap, sp_answer_info *info);

#endif
