/*
 * DNS Response Rate Limiting for the authoritative server (after BIND,
 * NSD and Knot RRL).
 *
 * Pure: no clock, no sockets, no allocation after sp_rrl_new(); the caller
 * passes the time. The adapter asks sp_rrl_check() about every UDP
 * response before it is sent and obeys the verdict:
 *   SP_RRL_SEND  send the response as built;
 *   SP_RRL_DROP  send nothing;
 *   SP_RRL_SLIP  send a truncated response instead (header and question
 *                only, TC=1), so that a real client retries over TCP.
 * TCP responses are never limited: TCP sources cannot be spoofed.
 *
 * libsodium must have been initialised (sodium_init) by the program.
 * An sp_rrl is not thread-safe: use one per worker, or lock around it.
 */
#ifndef SP_RRL_H
#define SP_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sp_err.h"
#include "sp_rng.h"

typedef struct sp_rrl sp_rrl;

enum sp_rrl_kind { SP_RRL_ANSWER, SP_RRL_NODATA, SP_RRL_NXDOMAIN, SP_RRL_ERROR };
enum sp_rrl_verdict { SP_RRL_SEND, SP_RRL_DROP, SP_RRL_SLIP };

typedef struct sp_rrl_config {
	unsigned rate;          /* responses per second per bucket; 0 = RRL off (always SEND) */
	unsigned slip;          /* every Nth limited response is SLIP instead of DROP;
	                         * 0 = never slip, 1 = always slip */
	unsigned ipv4_prefix;   /* 0..32, default 24 */
	unsigned ipv6_prefix;   /* 0..128, default 56 */
	int exempt_loopback;    /* nonzero: 127.0.0.0/8 and ::1 are never limited */
	size_t buckets;         /* table size, a power of two (1 is allowed), e.g. 16384 */
} sp_rrl_config;

/* Fill c with the defaults: rate 20, slip 2, prefixes 24 and 56,
 * exempt_loopback 1, 16384 buckets. */
void sp_rrl_config_default(sp_rrl_config *c);

/*
 * Create a limiter from c (borrowed; copied). On success *out owns the new
 * limiter (release it with sp_rrl_free); on failure *out is NULL.
 * Errors: SP_EINVAL if c or out is NULL, buckets is 0 or not a power of
 * two, or a prefix is longer than the address; SP_ENOMEM.
 */
int sp_rrl_new(const sp_rrl_config *c, const sp_rng *rng, sp_rrl **out)
	__attribute__((warn_unused_result));

/* Free r and wipe its hash key. NULL is a no-op. */
void sp_rrl_free(sp_rrl *r);

/*
 * The verdict for one UDP response of the given kind to src, at now_ms:
 * milliseconds on a monotonic clock. A reading up to 2 s older than an
 * earlier one counts as that one; a jump further back is taken as a reset
 * of the clock; no jump in either direction earns more than one second's
 * allowance per bucket, and none can overflow.
 *
 * src (borrowed) must point to a struct sockaddr_in or sockaddr_in6 as its
 * sa_family says; an IPv4-mapped IPv6 address counts as IPv4. A NULL src
 * or any other family is never limited. qname/qname_len (borrowed) is the
 * query name in DNS wire format, lowercased by the caller; qname may be
 * NULL only if qname_len is 0. For SP_RRL_NXDOMAIN and SP_RRL_ERROR the
 * name is ignored: those responses are bucketed by source prefix and kind
 * only, as BIND does, so that a random-subdomain flood shares one bucket.
 * r must not be NULL. Cannot fail.
 */
enum sp_rrl_verdict sp_rrl_check(sp_rrl *r, const struct sockaddr *src,
    enum sp_rrl_kind kind, const uint8_t *qname, size_t qname_len,
    uint64_t now_ms);

/* Counters since creation; checked == sent + dropped + slipped. */
typedef struct sp_rrl_stats {
	uint64_t checked, sent, dropped, slipped;
} sp_rrl_stats;

void sp_rrl_stats_get(const sp_rrl *r, sp_rrl_stats *out);

#endif
