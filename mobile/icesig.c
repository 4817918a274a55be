/*
 * ICE signalling's receive decision (sp_icesig.h): a table of cases, in
 * the order docs/control-plane.md gives them.
 */
#include <string.h>

#include "sp_icesig.h"

enum sp_icesig_action
sp_icesig_decide(const sp_icesig_agent *a, uint32_t session, uint32_t answers, int has_creds)
{
	int ours = a != NULL && a->exists;

	if (session == 0)
		return SP_ICESIG_STALE;
	/* 1. The session we know: trickle (an offer repeated is trickle too). */
	if (ours && a->remote != 0 && a->remote == session)
		return SP_ICESIG_TRICKLE;
	/* 2. An answer: to our unanswered offer, with credentials; else to an
	 * agent that is gone (we restarted since). */
	if (answers != 0)
		return ours && a->remote == 0 && answers == a->session && has_creds ?
		    SP_ICESIG_ANSWERED : SP_ICESIG_STALE;
	/* 3. Trickle for a session we never saw (its offer was dropped). */
	if (!has_creds)
		return SP_ICESIG_STALE;
	/* 4. An offer. */
	if (!ours)
		return SP_ICESIG_NEW;
	if (a->remote == 0 && a->controlling)
		return SP_ICESIG_GLARE_KEEP;
	return SP_ICESIG_RESTART;
}

int
sp_icesig_controlling(const uint8_t ours[32], const uint8_t theirs[32])
{
	return memcmp(ours, theirs, 32) < 0;
}
