#include "sp_rollover.h"

void
sp_rollover_policy_default(sp_rollover_policy *p)
{
	p->zsk_lifetime = 30 * 86400;
	p->dnskey_ttl = 3600;
	p->max_ttl = 3600;
	p->propagation = 300;
}

static int64_t
earlier(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void
sp_rollover_plan(const sp_key_info *keys, size_t n, const sp_rollover_policy *p,
    int64_t now, int force, sp_rollover_step *step)
{
	int64_t ipub = (int64_t)p->dnskey_ttl + p->propagation;
	int64_t iret = (int64_t)p->max_ttl + p->propagation;
	size_t active = n, published = n;

	step->action = SP_ROLL_NONE;
	step->key = 0;
	step->next = now + 3600;

	for (size_t i = 0; i < n; i++) {
		if (keys[i].role != SP_ROLE_ZSK)
			continue;
		/* A retired key goes once no cache can hold its signatures. */
		if (keys[i].state == SP_KSTATE_RETIRED) {
			if (now >= keys[i].since + iret) {
				step->action = SP_ROLL_REMOVE_ZSK;
				step->key = i;
				step->next = now;
				return;
			}
			step->next = earlier(step->next, keys[i].since + iret);
		}
		if (keys[i].state == SP_KSTATE_ACTIVE &&
		    (active == n || keys[i].created > keys[active].created))
			active = i;
		if (keys[i].state == SP_KSTATE_PUBLISHED)
			published = i;
	}
	if (published != n) {
		/* A successor becomes active once every validator can know it. */
		if (now >= keys[published].since + ipub) {
			step->action = SP_ROLL_ACTIVATE_ZSK;
			step->key = published;
			step->next = now;
			return;
		}
		step->next = earlier(step->next, keys[published].since + ipub);
		return;
	}
	if (active == n) {
		/* No ZSK at all (keys lost?): publishing one is the way back. */
		step->action = SP_ROLL_PUBLISH_ZSK;
		step->next = now;
		return;
	}
	if (force) {
		step->action = SP_ROLL_PUBLISH_ZSK;
		step->next = now;
		return;
	}
	if (p->zsk_lifetime == 0)
		return;
	{
		int64_t due = keys[active].since + (int64_t)p->zsk_lifetime - ipub;
		if (now >= due) {
			step->action = SP_ROLL_PUBLISH_ZSK;
			step->next = now;
			return;
		}
		step->next = earlier(step->next, due);
	}
}

int
sp_rollover_activate_zsk(sp_store *s, sp_key **keys, size_t n, size_t next, int64_t now,
    sp_errmsg *e)
{
	const sp_key_info *k = sp_key_info_of(keys[next]);
	sp_key_state was = k->state;
	int64_t since = k->since;
	int rc;

	/* The successor first: if the second write fails, the disk holds two
	 * active ZSKs, and the zone is signed by the newer (sp_zonesrc.h), so
	 * the daemon starts and the next rollover step finishes the job. The
	 * other order would leave no active ZSK, and no zone. */
	sp_key_set_state(keys[next], SP_KSTATE_ACTIVE, now);
	if ((rc = sp_keystore_update(s, keys[next], e)) != SP_OK) {
		sp_key_set_state(keys[next], was, since);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		const sp_key_info *o = sp_key_info_of(keys[i]);
		int64_t osince = o->since;
		if (i == next || o->role != SP_ROLE_ZSK || o->state != SP_KSTATE_ACTIVE)
			continue;
		sp_key_set_state(keys[i], SP_KSTATE_RETIRED, now);
		if ((rc = sp_keystore_update(s, keys[i], e)) != SP_OK) {
			sp_key_set_state(keys[i], SP_KSTATE_ACTIVE, osince);
			return rc;
		}
	}
	return SP_OK;
}
