/*
 * signpostd's life (see daemon.h): the state is loaded and locked, the
 * loop and the worker started, then the control socket, the tunnel and
 * the role's services; they stop in the reverse order.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "gateway.h"
#include "member.h"
#include "paths.h"
#include "sp_log.h"
#include "tunnel.h"

static void
on_stop_signal(void *arg, int signo)
{
	sp_daemon *d = arg;

	d->exit_signal = signo;
	sp_loop_stop(d->loop);
}

const sp_key *
sp_daemon_device_key(const sp_daemon *d)
{
	for (size_t i = 0; i < d->nkeys; i++)
		if (sp_key_info_of(d->keys[i])->role == SP_ROLE_DEVICE &&
		    sp_key_info_of(d->keys[i])->state == SP_KSTATE_ACTIVE)
			return d->keys[i];
	return NULL;
}

/* Check that the keys this node's role needs are there. */
static int
check_keys(const sp_daemon *d, sp_errmsg *e)
{
	int have[3] = { 0, 0, 0 };

	for (size_t i = 0; i < d->nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(d->keys[i]);
		if (k->state == SP_KSTATE_ACTIVE)
			have[k->role]++;
	}
	if (have[SP_ROLE_DEVICE] != 1)
		return sp_errf(e, SP_ECORRUPT,
		    "%s/keys: expected one active device key, found %d", d->state_dir,
		    have[SP_ROLE_DEVICE]);
	if (d->cloud.role == SP_NODE_GATEWAY && (have[SP_ROLE_KSK] == 0 || have[SP_ROLE_ZSK] == 0))
		return sp_errf(e, SP_ECORRUPT,
		    "%s/keys: a gateway needs an active KSK and ZSK (found %d and %d)",
		    d->state_dir, have[SP_ROLE_KSK], have[SP_ROLE_ZSK]);
	return SP_OK;
}

/*
 * Open and lock the state, load the cloud and, if want_secret, every
 * private key. The lock comes before anything is read, so a second daemon
 * on the same state stops here, having touched nothing.
 */
static int
load_state(sp_daemon *d, int want_secret, sp_errmsg *e)
{
	char *pass = NULL;
	size_t passlen = 0;
	int rc = SP_OK;

	/* The unikernel opens its store (a block device) itself. */
	if (d->store == NULL &&
	    (rc = sp_store_open_dir(d->state_dir, 0, &d->store, e)) == SP_ENOENT)
		return sp_errf(e, rc, "state directory %s does not exist; create a "
		    "personal cloud with 'signpost init --zone ZONE --name NAME'",
		    d->state_dir);
	if (rc != SP_OK)
		return rc;
	if (want_secret && (rc = sp_store_lock(d->store, e)) != SP_OK)
		return rc;
	if ((rc = sp_cloud_load(d->store, &d->cloud, e)) != SP_OK)
		return rc;
	if (!want_secret) {
		sp_key_info *infos;
		size_t n;
		rc = sp_keystore_list(d->store, &infos, &n, e);
		if (rc == SP_OK)
			free(infos);
		return rc;
	}
	if (d->conf.passphrase_file[0] &&
	    (rc = sp_passphrase_read(d->conf.passphrase_file, &pass, &passlen, e)) != SP_OK)
		return rc;
	rc = sp_keystore_load_all(d->store, pass, passlen, &d->keys, &d->nkeys, e);
	d->pass = pass;
	d->passlen = passlen;
	if (rc == SP_ENEEDPASS)
		return sp_errf(e, rc, "%s (start signpostd with --passphrase-file FILE)", e->msg);
	if (rc != SP_OK)
		return rc;
	return check_keys(d, e);
}

static void
free_state(sp_daemon *d)
{
	/* The worker first: a job's done function may still use the rest. */
	sp_work_stop(d->work);
	d->work = NULL;
	sp_gateway_stop(d->gw);
	d->gw = NULL;
	sp_member_stop(d->member);
	d->member = NULL;
	sp_tunnel_stop(d->tunnel);
	d->tunnel = NULL;
	sp_ctl_server_stop(d->ctl);
	d->ctl = NULL;
	sp_keystore_free_all(d->keys, d->nkeys);
	d->keys = NULL;
	d->nkeys = 0;
	sp_passphrase_free(d->pass, d->passlen);
	d->pass = NULL;
	sp_store_close(d->store);
	d->store = NULL;
	sp_loop_free(d->loop);
	d->loop = NULL;
	sp_conf_wipe(&d->conf);
}

int
sp_daemon_check(sp_daemon *d, FILE *out)
{
	sp_errmsg e;
	int rc = load_state(d, 0, &e);

	sp_conf_print(&d->conf, out);
	if (rc == SP_OK)
		fprintf(out, "# cloud %s, this device %s.%s, role %s\n", d->cloud.zone,
		    d->cloud.name, d->cloud.zone, sp_role_name(d->cloud.role));
	free_state(d);
	if (rc != SP_OK) {
		fprintf(stderr, "signpostd: %s\n", e.msg);
		return 1;
	}
	fprintf(out, "# configuration OK\n");
	return 0;
}

static int
start(sp_daemon *d, sp_errmsg *e, const char **what)
{
	char sock[4200];
	int rc;

	*what = "state";
	if ((rc = load_state(d, 1, e)) != SP_OK)
		return rc;
	*what = "event loop";
	if ((rc = sp_loop_new(&d->loop)) != SP_OK ||
	    (rc = sp_loop_signal(d->loop, SIGINT, on_stop_signal, d)) != SP_OK ||
	    (rc = sp_loop_signal(d->loop, SIGTERM, on_stop_signal, d)) != SP_OK)
		return sp_errf(e, rc, "cannot set up signals and the loop: %s", sp_strerror(rc));
	if ((rc = sp_work_start(d->loop, &d->work, e)) != SP_OK)
		return rc;
	*what = "control socket";
	snprintf(sock, sizeof(sock), "%s/%s", d->state_dir, SP_CTL_SOCKET);
	if ((rc = sp_ctl_server_start(d->loop, sock, sp_daemon_ctl, d, &d->ctl, e)) != SP_OK)
		return rc;
	sp_ctl_server_set_gone(d->ctl, sp_daemon_ctl_gone);
	/* The tunnel before the roles: they add its peers and listen on its
	 * overlay address. */
	*what = "tunnel";
	if (strcmp(d->conf.interface, SP_NO_INTERFACE) != 0 &&
	    (rc = sp_tunnel_start(d, e)) != SP_OK)
		return rc;
	*what = d->cloud.role == SP_NODE_GATEWAY ? "gateway" : "member";
	if (d->cloud.role == SP_NODE_GATEWAY && (rc = sp_gateway_start(d, e)) != SP_OK)
		return rc;
	if (d->cloud.role == SP_NODE_DEVICE && (rc = sp_member_start(d, e)) != SP_OK)
		return rc;
	return SP_OK;
}

int
sp_daemon_run(sp_daemon *d)
{
	const char *what;
	char fqdn[320];
	sp_errmsg e;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (d->rng == NULL)
		d->rng = sp_platform_rng();
	if ((rc = start(d, &e, &what)) != SP_OK) {
		/* The state's errors name their file already. */
		if (strcmp(what, "state") == 0)
			sp_err("%s", e.msg);
		else
			sp_err("%s: %s", what, e.msg);
		free_state(d);
		return 1;
	}
	d->started_mono = sp_clock_mono_ms();
	d->started_wall = sp_clock_wall();
	sp_cloud_fqdn(&d->cloud, fqdn, sizeof(fqdn));
	sp_info("started: %s of %s, this device is %s; %zu keys loaded; control at %s/%s",
	    sp_role_name(d->cloud.role), d->cloud.zone, fqdn, d->nkeys, d->state_dir,
	    SP_CTL_SOCKET);
	if (d->ready != NULL)
		d->ready(d);

	rc = sp_loop_run(d->loop);
	if (rc != SP_OK)
		sp_err("event loop failed: %s", sp_strerror(rc));
	else if (d->exit_signal != 0)
		sp_info("stopping on signal %d", d->exit_signal);
	else
		sp_info("stopping");
	free_state(d);
	sp_info("stopped");
	return rc == SP_OK ? 0 : 1;
}
