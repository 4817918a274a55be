/*
 * The device role: a member of a personal cloud that is not its gateway.
 * It keeps a WireGuard session with its gateway (the key and endpoints
 * pairing wrote, a persistent keepalive so NAT mappings stay open), and
 * through it reaches the zone's other members.
 */
#ifndef SP_MEMBER_H
#define SP_MEMBER_H

#include "control.h"
#include "sp_err.h"

struct sp_daemon;
typedef struct sp_member sp_member;

/* Load the gateway's record and the trust anchor, and make the gateway a
 * peer of the tunnel. d->member is set even on failure. */
int sp_member_start(struct sp_daemon *d, sp_errmsg *e);
void sp_member_stop(sp_member *m);
void sp_member_status(const sp_member *m, sp_ctl_reply *r);

#endif
