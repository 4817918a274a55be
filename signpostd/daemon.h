/* signpostd's process state: what the roles share. */
#ifndef SP_DAEMON_H
#define SP_DAEMON_H

#include <stdint.h>

#include "conf.h"
#include "control_server.h"
#include "dns_server.h"
#include "tunnel.h"
#include "sp_cloud.h"
#include "sp_key.h"
#include "sp_platform.h"

typedef struct sp_daemon {
	sp_loop *loop;
	sp_store *store;
	char state_dir[4096];
	sp_cloud cloud;
	sp_key **keys;           /* owned, with private halves */
	size_t nkeys;
	/* The passphrase, kept (sodium_malloc) so that keys made by a rollover
	 * are sealed like the others; NULL for an unsealed cloud. */
	char *pass;
	size_t passlen;
	sp_ctl_server *ctl;
	sp_conf conf;            /* the effective configuration */
	sp_dns_server *dns;      /* gateway role: the authoritative server */
	sp_tunnel *tunnel;       /* the WireGuard interface, if configured */
	uint64_t started_mono;   /* ms */
	int64_t started_wall;    /* s */
	int exit_signal;
	void (*ready)(struct sp_daemon *d);   /* called once serving, if set */
} sp_daemon;

/* Load the state (d->state_dir, or d->store if already open) and serve
 * until a stop signal; frees everything. The exit status. */
int sp_daemon_run(sp_daemon *d);

/* The control requests the daemon answers (daemon_ctl.c). */
void sp_daemon_ctl(void *arg, const sp_ctl_request *req, sp_ctl_reply *reply);

#endif
