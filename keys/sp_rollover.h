/*
 * When zone keys change (RFC 7583), as a pure function of the keys' states,
 * the time they entered them, the policy and now: the daemon asks what to
 * do next and when to ask again, does it, and asks again.
 *
 * ZSK, pre-publication (RFC 7583 3.2):
 *   active for (lifetime - Ipub)   -> publish a successor (state published)
 *   published for Ipub             -> successor active, predecessor retired;
 *                                     everything is re-signed with the successor
 *   retired for Iret               -> the predecessor is removed
 * where Ipub = DNSKEY TTL + propagation delay (validators have the new
 * DNSKEY set before anything is signed with it) and Iret = the largest TTL
 * in the zone + propagation delay (no cached signature by the old key is
 * left when it goes).
 *
 * The KSK rolls only when told (signpost zone rollover ksk), because the
 * parent's DS must follow; see sp_rollover_ksk_* in the daemon.
 */
#ifndef SP_ROLLOVER_H
#define SP_ROLLOVER_H

#include <stddef.h>
#include <stdint.h>

#include "sp_key.h"

typedef struct sp_rollover_policy {
	uint32_t zsk_lifetime;   /* seconds a ZSK signs; 0 = never roll by itself */
	uint32_t dnskey_ttl;
	uint32_t max_ttl;        /* the largest TTL of any signed RRset */
	uint32_t propagation;    /* time for a change to reach every secondary */
} sp_rollover_policy;

void sp_rollover_policy_default(sp_rollover_policy *p);

enum sp_rollover_action {
	SP_ROLL_NONE,
	SP_ROLL_PUBLISH_ZSK,    /* generate a ZSK in state published */
	SP_ROLL_ACTIVATE_ZSK,   /* key -> active, the active ZSK -> retired */
	SP_ROLL_REMOVE_ZSK,     /* key (retired) -> deleted */
};

typedef struct sp_rollover_step {
	enum sp_rollover_action action;
	size_t key;             /* index into the keys given, for ACTIVATE/REMOVE */
	int64_t next;           /* when to ask again (Unix s) */
} sp_rollover_step;

/* force: start a ZSK rollover now if none is under way. Pure. */
void sp_rollover_plan(const sp_key_info *keys, size_t n, const sp_rollover_policy *p,
    int64_t now, int force, sp_rollover_step *step);

/*
 * SP_ROLL_ACTIVATE_ZSK, carried out: keys[next] becomes active and every
 * other active ZSK retired, each written to the store, the successor
 * first, so that a failure part-way never leaves the zone without an
 * active ZSK. On failure the keys in memory match what the store holds.
 */
int sp_rollover_activate_zsk(sp_store *s, sp_key **keys, size_t n, size_t next, int64_t now,
    sp_errmsg *e) __attribute__((warn_unused_result));

#endif
