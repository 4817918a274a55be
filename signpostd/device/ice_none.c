/*
 * ice.c in the static gateway image (SP_STATIC): no libnice there (the
 * gateway serves STUN and the rendezvous; it runs no agent of its own).
 * A member built this way stays on the relay and says so in status.
 */
#include "ctl.h"
#include "member_int.h"

int ice_start(sp_member *m, sp_errmsg *e) { (void)m; (void)e; return SP_OK; }
void ice_stop(sp_member *m) { (void)m; }
void ice_want(sp_member *m, struct mpeer *p) { (void)m; (void)p; }
void ice_peer_ready(sp_member *m, struct mpeer *p) { (void)m; (void)p; }
void ice_drop(sp_member *m, struct mpeer *p) { (void)m; (void)p; }
void ice_on_link_change(sp_member *m) { (void)m; }
void ice_on_msg(sp_member *m, const sp_cp_msg *msg) { (void)m; (void)msg; }
void ice_cp_up(sp_member *m) { (void)m; }

void
ice_set_turn(sp_member *m, const char *server, const char *user, const char *password)
{
	(void)m;
	(void)server;
	(void)user;
	(void)password;
}

void
ice_status(const sp_member *m, const struct mpeer *p, struct sp_ctl_reply *r)
{
	(void)m;
	(void)p;
	(void)r;
}

void
ice_counters(const sp_member *m, struct sp_ctl_reply *r)
{
	(void)m;
	sp_ctl_reply_field(r, "ice", "off (not in this build)");
}
