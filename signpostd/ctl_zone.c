/* zone export | zone rollover zsk|ksk [complete]. The export and a KSK
 * rollover answer from the worker, so the loop goes on serving. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "gateway.h"
#include "sp_xfr.h"

#define EXPORT_TIMEOUT_MS 120000
#define ROLLOVER_TIMEOUT_MS 60000

/* The DS records of the active KSKs, for the parent. */
static void
add_ds(sp_daemon *d, sp_ctl_reply *r)
{
	for (size_t i = 0; i < d->nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		char *ds;
		if (k->role != SP_ROLE_KSK || k->state != SP_KSTATE_ACTIVE ||
		    sp_key_ds_text(k, d->cloud.zone, 3600, &ds) != SP_OK)
			continue;
		ds[strcspn(ds, "\n")] = '\0';
		sp_ctl_reply_field(r, "ds[]", "%s", ds);
		free(ds);
	}
}

static void
reply_rolled(sp_daemon *d, sp_ctl_reply *r)
{
	sp_ctl_reply_ok(r);
	sp_ctl_reply_field(r, "serial", "%u", sp_zone_serial(sp_gw_zone(d->gw)));
	add_ds(d, r);
}

struct deferred {
	sp_daemon *d;
	uint64_t ticket;
	sp_zone *zone;            /* export: the snapshot, held */
	sp_ctl_reply reply;       /* export: built off the loop */
};

static void
ksk_done(void *arg, int rc, const char *msg)
{
	struct deferred *x = arg;
	sp_ctl_reply r;

	sp_ctl_reply_init(&r);
	if (rc != SP_OK)
		sp_ctl_reply_error(&r, rc, "%s", msg);
	else if (x->d->gw != NULL)
		reply_rolled(x->d, &r);
	if (x->d->ctl != NULL)
		sp_ctl_server_finish(x->d->ctl, x->ticket, &r);
	sp_ctl_reply_free(&r);
	free(x);
}

static void
rollover(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	int complete = req->nwords == 4 && strcmp(req->word[3], "complete") == 0;
	struct deferred *x;
	sp_errmsg e;
	int rc;

	if (strcmp(req->word[2], "zsk") == 0 && req->nwords == 3) {
		rc = sp_gw_rollover_zsk(d->gw, &e);
	} else if (strcmp(req->word[2], "ksk") == 0 && complete) {
		rc = sp_gw_rollover_ksk_complete(d->gw, &e);
	} else if (strcmp(req->word[2], "ksk") == 0 && req->nwords == 3) {
		if ((x = calloc(1, sizeof(*x))) == NULL) {
			sp_ctl_reply_error(r, SP_ENOMEM, "out of memory");
			return;
		}
		x->d = d;
		x->ticket = sp_ctl_reply_defer(r, ROLLOVER_TIMEOUT_MS);
		if ((rc = sp_gw_rollover_ksk(d->gw, ksk_done, x, &e)) != SP_OK) {
			free(x);
			r->defer_ms = 0;
			sp_ctl_reply_error(r, rc, "%s", e.msg);
		}
		return;
	} else {
		sp_ctl_reply_error(r, SP_EINVAL, "usage: zone rollover zsk|ksk [complete]");
		return;
	}
	if (rc != SP_OK)
		sp_ctl_reply_error(r, rc, "%s", e.msg);
	else
		reply_rolled(d, r);
}

/* On the worker: the zone as text, into the reply. */
static void
export_run(void *arg)
{
	struct deferred *x = arg;
	char *text, *line, *save = NULL;
	size_t len;
	int rc;

	sp_ctl_reply_init(&x->reply);
	if ((rc = sp_xfr_text(x->zone, &text, &len)) != SP_OK) {
		sp_ctl_reply_error(&x->reply, rc, "exporting the zone: %s", sp_strerror(rc));
		return;
	}
	sp_ctl_reply_ok(&x->reply);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		sp_ctl_reply_field(&x->reply, "rr[]", "%s", line);
	free(text);
}

static void
export_done(void *arg, int ran)
{
	struct deferred *x = arg;

	if (!ran)
		sp_ctl_reply_error(&x->reply, SP_EIO, "the daemon is stopping");
	if (x->d->ctl != NULL)
		sp_ctl_server_finish(x->d->ctl, x->ticket, &x->reply);
	sp_ctl_reply_free(&x->reply);
	sp_zone_free(x->zone);
	free(x);
}

static void
export(sp_daemon *d, sp_ctl_reply *r)
{
	struct deferred *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL) {
		sp_ctl_reply_error(r, SP_ENOMEM, "out of memory");
		return;
	}
	x->d = d;
	x->zone = sp_zone_hold(sp_gw_zone(d->gw));
	x->ticket = sp_ctl_reply_defer(r, EXPORT_TIMEOUT_MS);
	if ((rc = sp_work_submit(d->work, export_run, export_done, x)) != SP_OK) {
		sp_zone_free(x->zone);
		free(x);
		r->defer_ms = 0;
		sp_ctl_reply_error(r, rc, "the worker is busy; try again");
	}
}

void
ctl_zone(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r)
{
	if (ctl_need_gateway(d, r) == NULL)
		return;
	if (req->nwords >= 3 && strcmp(req->word[1], "rollover") == 0)
		rollover(d, req, r);
	else if (req->nwords == 2 && strcmp(req->word[1], "export") == 0)
		export(d, r);
	else
		sp_ctl_reply_error(r, SP_EINVAL, "usage: zone export | zone rollover zsk|ksk [complete]");
}
