/*
 * Key rollovers, carried out (docs/zone.md): the plan is keys/'s pure
 * sp_rollover_plan; this file takes its steps. A step that needs a new key
 * makes it off the loop, because sealing it (Argon2id) takes a noticeable
 * fraction of a second; every store write and zone change is on the loop.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_rollover.h"
#include "work.h"

#define RETRY_S 60

/* A key being made off the loop, and what to do when it is there. */
struct keyjob {
	sp_gateway *g;
	sp_key_role role;
	sp_key_state state;
	int64_t now;
	const sp_rng *rng;         /* the platform's: safe from any thread */
	sp_seal seal;              /* borrows the daemon's passphrase */
	int sealed;
	sp_key *key;
	int rc;
	sp_gw_done done;           /* KSK rollover: the control request waits */
	void *arg;
};

static void schedule(sp_gateway *g, int force);

static void
rollover_policy(const sp_daemon *d, sp_rollover_policy *p)
{
	sp_rollover_policy_default(p);
	p->dnskey_ttl = d->conf.zone.key_ttl;
	p->max_ttl = d->conf.zone.key_ttl > d->conf.zone.ttl ? d->conf.zone.key_ttl
	    : d->conf.zone.ttl;
	if (d->conf.zsk_lifetime >= 0)
		p->zsk_lifetime = (uint32_t)d->conf.zsk_lifetime;
	if (d->conf.propagation_delay >= 0)
		p->propagation = (uint32_t)d->conf.propagation_delay;
}

static void
log_key(const sp_key *k, const char *what)
{
	const sp_key_info *i = sp_key_info_of(k);

	sp_info("key rollover: %s %u (%s) %s", sp_key_role_name(i->role), i->tag, i->id, what);
}

/* On the worker: generate, and seal if the cloud is sealed. */
static void
keyjob_run(void *arg)
{
	struct keyjob *j = arg;

	j->rc = sp_key_generate(j->role, j->now, j->rng, &j->key);
	if (j->rc != SP_OK)
		return;
	sp_key_set_state(j->key, j->state, j->now);
	if (j->sealed)
		j->rc = sp_key_seal(j->key, &j->seal, j->rng);
}

/* On the loop: store it, publish it, and go on with the rollover. */
static void
keyjob_done(void *arg, int ran)
{
	struct keyjob *j = arg;
	sp_gateway *g = j->g;
	sp_daemon *d = g->d;
	sp_key **nk;
	sp_errmsg e;
	int rc = ran ? j->rc : SP_EIO;

	g->rolling = 0;
	e.msg[0] = '\0';
	if (rc != SP_OK)
		sp_errf(&e, rc, "making a %s: %s", sp_key_role_name(j->role),
		    ran ? sp_strerror(rc) : "the daemon is stopping");
	else if ((nk = realloc(d->keys, (d->nkeys + 1) * sizeof(*nk))) == NULL)
		rc = sp_errf(&e, SP_ENOMEM, "out of memory");
	else if ((d->keys = nk, rc = sp_keystore_add(d->store, j->key, &e)) == SP_OK) {
		d->keys[d->nkeys++] = j->key;
		log_key(j->key, j->state == SP_KSTATE_ACTIVE ? "is new and active" :
		    "is new and published");
		j->key = NULL;
		rc = gw_zone_changed(g, &e);
	}
	sp_key_free(j->key);
	if (j->done != NULL)
		j->done(j->arg, rc, rc == SP_OK ? "" : e.msg);
	else if (rc != SP_OK && ran)
		sp_err("key rollover: %s; trying again in a minute", e.msg);
	if (ran)
		schedule(g, 0);
	free(j);
}

static int
make_key(sp_gateway *g, sp_key_role role, sp_key_state state, sp_gw_done done, void *arg,
    sp_errmsg *e)
{
	struct keyjob *j = calloc(1, sizeof(*j));
	sp_daemon *d = g->d;
	int rc;

	if (j == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	j->g = g;
	j->role = role;
	j->state = state;
	j->now = sp_clock_wall();
	j->done = done;
	j->arg = arg;
	j->rng = d->rng;
	if (d->pass != NULL) {
		j->sealed = 1;
		j->seal.pass = d->pass;
		j->seal.passlen = d->passlen;
	}
	if ((rc = sp_work_submit(d->work, keyjob_run, keyjob_done, j)) != SP_OK) {
		free(j);
		return sp_errf(e, rc, "the worker is busy; try again");
	}
	g->rolling = 1;
	return SP_OK;
}

/* Delete a key: from disk, from our set, then from the zone; freed last,
 * once no snapshot refers to it. */
static int
remove_key(sp_gateway *g, size_t i, sp_errmsg *e)
{
	sp_daemon *d = g->d;
	sp_key *k = d->keys[i];
	int rc;

	if ((rc = sp_keystore_remove(d->store, sp_key_info_of(k), e)) != SP_OK)
		return rc;
	log_key(k, "removed");
	d->keys[i] = d->keys[--d->nkeys];
	rc = gw_zone_changed(g, e);
	sp_key_free(k);
	return rc;
}

static void
on_timer(void *arg)
{
	schedule(arg, 0);
}

/* Take every rollover step that is due, then sleep until the next one. A
 * step that makes a key continues in keyjob_done. */
static void
schedule(sp_gateway *g, int force)
{
	sp_daemon *d = g->d;
	sp_rollover_policy pol;
	sp_rollover_step step;
	sp_errmsg e;
	int64_t now = sp_clock_wall();

	if (g->rolling)
		return;
	rollover_policy(d, &pol);
	step.next = now + 3600;
	for (int guard = 0; guard < 8; guard++) {
		sp_key_info infos[32];
		size_t n = d->nkeys < 32 ? d->nkeys : 32;
		int rc = SP_OK;

		for (size_t i = 0; i < n; i++)
			infos[i] = *sp_key_info_of(d->keys[i]);
		now = sp_clock_wall();
		sp_rollover_plan(infos, n, &pol, now, force, &step);
		force = 0;
		if (step.action == SP_ROLL_NONE)
			break;
		if (step.action == SP_ROLL_PUBLISH_ZSK) {
			if ((rc = make_key(g, SP_ROLE_ZSK, SP_KSTATE_PUBLISHED, NULL, NULL, &e)) ==
			    SP_OK)
				return;
		} else if (step.action == SP_ROLL_ACTIVATE_ZSK) {
			rc = sp_rollover_activate_zsk(d->store, d->keys, n, step.key, now, &e);
			if (rc == SP_OK) {
				log_key(d->keys[step.key], "is active; the old ZSK is retired");
				rc = gw_zone_changed(g, &e);
			}
		} else if (step.action == SP_ROLL_REMOVE_ZSK) {
			rc = remove_key(g, step.key, &e);
		}
		if (rc != SP_OK) {
			sp_err("key rollover: %s; trying again in a minute", e.msg);
			step.next = now + RETRY_S;
			break;
		}
	}
	now = sp_clock_wall();
	sp_timer_arm(g->rollover, step.next > now ? (uint64_t)(step.next - now) * 1000 : 1000);
}

int
gw_rollover_start(sp_gateway *g, sp_errmsg *e)
{
	int rc;

	if ((rc = sp_timer_new(g->d->loop, on_timer, g, &g->rollover)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	schedule(g, 0);
	return SP_OK;
}

void
gw_rollover_stop(sp_gateway *g)
{
	sp_timer_free(g->rollover);
	g->rollover = NULL;
}

int
sp_gw_rollover_zsk(sp_gateway *g, sp_errmsg *e)
{
	for (size_t i = 0; i < g->d->nkeys; i++)
		if (sp_key_info_of(g->d->keys[i])->role == SP_ROLE_ZSK &&
		    sp_key_info_of(g->d->keys[i])->state != SP_KSTATE_ACTIVE)
			return sp_errf(e, SP_EEXIST, "a ZSK rollover is already under way");
	if (g->rolling)
		return sp_errf(e, SP_EEXIST, "a new key is being made; try again in a moment");
	schedule(g, 1);
	return SP_OK;
}

int
sp_gw_rollover_ksk(sp_gateway *g, sp_gw_done done, void *arg, sp_errmsg *e)
{
	size_t active = 0;

	for (size_t i = 0; i < g->d->nkeys; i++)
		if (sp_key_info_of(g->d->keys[i])->role == SP_ROLE_KSK &&
		    sp_key_info_of(g->d->keys[i])->state == SP_KSTATE_ACTIVE)
			active++;
	if (active > 1)
		return sp_errf(e, SP_EEXIST, "a KSK rollover is already under way; finish it "
		    "with 'signpost zone rollover ksk --complete'");
	if (g->rolling)
		return sp_errf(e, SP_EEXIST, "a new key is being made; try again in a moment");
	/* Double-KSK: the new key signs the DNSKEY set at once, alongside the
	 * old, so either DS at the parent validates while it changes. */
	return make_key(g, SP_ROLE_KSK, SP_KSTATE_ACTIVE, done, arg, e);
}

int
sp_gw_rollover_ksk_complete(sp_gateway *g, sp_errmsg *e)
{
	sp_daemon *d = g->d;
	size_t newest = d->nkeys, active = 0;
	const sp_key *keep;
	int rc = SP_OK;

	for (size_t i = 0; i < d->nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->role != SP_ROLE_KSK || k->state != SP_KSTATE_ACTIVE)
			continue;
		active++;
		if (newest == d->nkeys || k->created > sp_key_info_of(d->keys[newest])->created)
			newest = i;
	}
	if (active < 2)
		return sp_errf(e, SP_ENOENT, "no KSK rollover is under way");
	keep = d->keys[newest];
	for (size_t i = 0; rc == SP_OK && i < d->nkeys;) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->role == SP_ROLE_KSK && d->keys[i] != keep)
			rc = remove_key(g, i, e);
		else
			i++;
	}
	return rc;
}
