/*
 * The device role: a member of a personal cloud that is not its gateway.
 * It keeps a WireGuard session with its gateway (the key and endpoints
 * pairing wrote, a persistent keepalive so NAT mappings stay open), and
 * through it reaches the zone's other members.
 */
#ifndef SP_DEVICE_MEMBER_H
#define SP_DEVICE_MEMBER_H

#include "control.h"
#include "sp_err.h"

struct sp_daemon;
typedef struct sp_member sp_member;

/* Load the gateway's record and the trust anchor, and make the gateway a
 * peer of the tunnel. d->member is set even on failure. */
int sp_member_start(struct sp_daemon *d, sp_errmsg *e);
void sp_member_stop(sp_member *m);
void sp_member_status(const sp_member *m, sp_ctl_reply *r);

/*
 * A member's `signpost pair`, asked of the gateway over the control plane
 * (device/control.c). fn runs once on the loop: rc SP_OK with the code's
 * URI (it holds a token), its id, and whether it offers addresses the
 * gateway chose; or an error and the gateway's reason. Then a wait for
 * that code's use: fn with the joined name and address, or an error
 * (expired, unknown). A wait outlives a dropped connection: it is asked
 * again when the control plane is back. tag names the request for
 * sp_member_forget, which ends every request with that tag (its asker
 * left): their fn runs with SP_EIO.
 */
typedef void (*sp_member_pair_fn)(void *arg, int rc, const char *text, const uint8_t id[8],
    int chosen);
typedef void (*sp_member_joined_fn)(void *arg, int rc, const char *name,
    const uint8_t addr[16]);
int sp_member_pair(sp_member *m, const char *name, uint32_t ttl, uint64_t tag,
    sp_member_pair_fn fn, void *arg, sp_errmsg *e);
int sp_member_pair_wait(sp_member *m, const uint8_t id[8], uint32_t timeout_ms, uint64_t tag,
    sp_member_joined_fn fn, void *arg, sp_errmsg *e);
void sp_member_forget(sp_member *m, uint64_t tag);

/* The member list as the gateway last told it. */
struct sp_cp_member;
size_t sp_member_list(const sp_member *m, const struct sp_cp_member **out);
/* What the tunnel knows of a member by name (the gateway's session, or a
 * member peer's): SP_ENOENT if it is not a peer (yet). */
struct sp_tunnel_peer_info;
int sp_member_peer_info(const sp_member *m, const char *name,
    struct sp_tunnel_peer_info *out);

#endif
