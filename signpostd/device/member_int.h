/* The device role's state, shared by the files of device/ only. */
#ifndef SP_MEMBER_INT_H
#define SP_MEMBER_INT_H

#include "member.h"
#include "sp_cloud.h"
#include "sp_member.h"
#include "sp_platform.h"

struct sp_stream;

#define CP_PENDING_MAX 16

/* A control request (or a `pair wait`) waiting for the gateway. */
struct cp_pending {
	uint32_t seq;                    /* its message's */
	uint8_t id[8];                   /* a wait: the code's id */
	uint64_t expires;                /* monotonic ms: then it is dropped */
	uint64_t tag;                    /* the asker's, for sp_member_forget */
	sp_member_pair_fn pair;
	sp_member_joined_fn joined;
	void *arg;
};

struct sp_member {
	struct sp_daemon *d;
	sp_gateway_info gw;
	sp_anchor anchor;
	uint8_t gw_x25519[32];
	char endpoint[80];               /* the gateway endpoint in use */
	/* control.c */
	struct sp_stream *cp;
	int cp_up;                       /* HELLO verified and the list received */
	int cp_hello;                    /* HELLO sent */
	sp_timer *cp_retry, *cp_ping;
	unsigned cp_backoff;
	uint32_t seq;
	struct cp_pending pending[CP_PENDING_MAX];
	size_t npending;
	sp_cp_member *list, *incoming;   /* the list, and one arriving in parts */
	size_t nlist, nincoming;
	int incoming_bad;                /* the list arriving is too long: dropped */
};

/* control.c */
int cp_start(sp_member *m, sp_errmsg *e);
void cp_stop(sp_member *m);

#endif
