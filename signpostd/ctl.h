/* The control verbs, one file each (ctl_*.c), dispatched by ctl.c. */
#ifndef SP_CTL_H
#define SP_CTL_H

#include "daemon.h"

void ctl_status(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
void ctl_device(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
void ctl_zone(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
void ctl_pair(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
void ctl_pair_gone(sp_daemon *d, uint64_t ticket);
void ctl_devices(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
void ctl_revoke(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);
void ctl_rename(sp_daemon *d, const sp_ctl_request *req, sp_ctl_reply *r);

/* The gateway, or an error reply saying this is not it (returns NULL). */
struct sp_gateway *ctl_need_gateway(sp_daemon *d, sp_ctl_reply *r);

#endif
