/*
 * ICE signalling between two members, the receiving side's decision
 * (docs/control-plane.md, "ICE signalling"): given the agent a member has
 * for the sender (or none) and an ICE message from it, what to do. Pure:
 * the member's adapter (signpostd/device/ice.c) does it with libnice.
 *
 * Sessions: each agent has a random nonzero session id; an offer has
 * answers = 0, an answer names the session it answers, and trickle
 * messages repeat the sender's session. A new session from a peer whose
 * session we knew is a restart. Both offering at once (glare): the
 * controlling agent's offer stands, the other side drops its own and
 * answers. The member with the lower Ed25519 key controls.
 */
#ifndef SP_ICESIG_H
#define SP_ICESIG_H

#include <stdint.h>

/* The agent a member has for a peer. */
typedef struct sp_icesig_agent {
	int exists;
	uint32_t session;        /* ours */
	uint32_t remote;         /* the peer's; 0 while our offer is unanswered */
	int controlling;
} sp_icesig_agent;

enum sp_icesig_action {
	SP_ICESIG_TRICKLE = 1,   /* more of the session we know: candidates, done, path */
	SP_ICESIG_ANSWERED,      /* the answer to our offer: take its credentials, then trickle */
	SP_ICESIG_NEW,           /* an offer and no agent: make one, take it, answer */
	SP_ICESIG_RESTART,       /* an offer that replaces our agent (the peer restarted, or
	                          * won the glare): drop ours, make one, take it, answer */
	SP_ICESIG_GLARE_KEEP,    /* both offered and ours controls: ignore theirs */
	SP_ICESIG_STALE,         /* for an agent gone, or a session never seen: drop, count */
};

/* The decision for a message with this session, answers and (has_creds)
 * ICE credentials. A message with session 0 is malformed and never gets
 * here (sp_cp_decode refuses it); it is STALE if it does. */
enum sp_icesig_action sp_icesig_decide(const sp_icesig_agent *a, uint32_t session,
    uint32_t answers, int has_creds);

/* The controlling side of a pair: 1 if our key is the lower. */
int sp_icesig_controlling(const uint8_t ours[32], const uint8_t theirs[32]);

#endif
