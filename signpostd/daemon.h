/*
 * signpostd's life: load the state, hold its lock, start the roles and the
 * adapters, run the loop, stop. sp_daemon_run is a library function: the
 * signpostd main (main.c), the gateway image's init (unikernel/) and the
 * tests call it; no main calls another.
 */
#ifndef SP_DAEMON_H
#define SP_DAEMON_H

#include <stdint.h>

#include "conf.h"
#include "control_server.h"
#include "sp_cloud.h"
#include "sp_key.h"
#include "sp_platform.h"
#include "work.h"

struct sp_gateway;
struct sp_member;
struct sp_tunnel;

typedef struct sp_daemon {
	sp_loop *loop;
	sp_store *store;          /* opened by sp_daemon_run unless given */
	sp_work *work;            /* slow work off the loop */
	const sp_rng *rng;        /* sp_platform_rng() unless given */
	char state_dir[4096];
	sp_cloud cloud;
	sp_key **keys;            /* owned, with private halves */
	size_t nkeys;
	/* The passphrase, kept (sodium_malloc) so that keys made by a rollover
	 * are sealed like the others; NULL for an unsealed cloud. */
	char *pass;
	size_t passlen;
	sp_ctl_server *ctl;
	sp_conf conf;             /* the effective configuration */
	struct sp_gateway *gw;    /* the gateway role, on the gateway */
	struct sp_member *member; /* the device role, on any other member */
	struct sp_tunnel *tunnel; /* the WireGuard interface, if configured */
	uint64_t started_mono;    /* ms */
	int64_t started_wall;     /* s */
	int exit_signal;
	void (*ready)(struct sp_daemon *d);   /* called once serving, if set */
} sp_daemon;

/*
 * Load the state (d->state_dir, or d->store if already open), take the
 * state's lock, and serve until a stop signal or sp_loop_stop; frees
 * everything, d->conf's secrets included. Returns the exit status.
 */
int sp_daemon_run(sp_daemon *d);

/* Check the configuration and the state without serving (signpostd -n):
 * 0, or 1 with the reason printed. Frees what it loaded. */
int sp_daemon_check(sp_daemon *d, FILE *out);

/* The device's own identity key (active), or NULL. */
const sp_key *sp_daemon_device_key(const sp_daemon *d);

/*
 * Pairing for a front end other than the control socket (the gateway
 * image's console; ctl_pair.c): a code for a device named name, made as
 * asked by by, its URI text in uri (it holds the token: wipe it) and its
 * id; then fn once, when the code is used (rc SP_OK, the name and
 * address) or expires. Gateway only.
 */
typedef void (*sp_daemon_joined_fn)(void *arg, int rc, const char *name,
    const uint8_t addr[16]);
int sp_daemon_pair(sp_daemon *d, const char *name, int64_t ttl, const char *by, char *uri,
    size_t cap, uint8_t id[8], int *chosen, sp_errmsg *e);
int sp_daemon_pair_wait(sp_daemon *d, const uint8_t id[8], sp_daemon_joined_fn fn, void *arg,
    sp_errmsg *e);

/* The control requests the daemon answers (ctl.c). */
void sp_daemon_ctl(void *arg, const sp_ctl_request *req, sp_ctl_reply *reply);
void sp_daemon_ctl_gone(void *arg, uint64_t ticket);

#endif
