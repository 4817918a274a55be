/*
 * The relay's framing and the gateway's table of who may use it
 * (docs/relay.md). Pure: bytes and a random source in, decisions out; the
 * data path in signpostd/net/ moves the datagrams.
 *
 * A relayed WireGuard message travels member -> gateway -> member on the
 * WireGuard port, behind a 16-byte header:
 *
 *   0      1      2  3   4 ........ 7   8 ............... 15
 *   'R'    kind   0  0   index (LE32)   key (8 bytes)
 *
 * Member to gateway (kind TO): index = the destination member's slot,
 * key = the sender's relay key. Gateway to member (kind FROM): index = the
 * sender's slot, key = the receiver's relay key. The WireGuard message
 * after the header is end to end between the two members: the gateway
 * rewrites the header in place and never looks past it.
 *
 * A member's slot and key are given to it over the control plane, inside
 * its WireGuard session with the gateway. The gateway forwards a TO frame
 * only when its key names a member AND it comes from that member's
 * current WireGuard endpoint (the source of its latest authenticated
 * packet): the session authenticates the relay's users.
 */
#ifndef SP_RELAY_H
#define SP_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "sp_rng.h"

#define SP_RELAY_MAGIC 0x52          /* 'R': not WireGuard (1-4), pairing (0x50), STUN (<0x40) */
#define SP_RELAY_HEADER 16
#define SP_RELAY_KEY 8
#define SP_RELAY_MAX 65536           /* slots */

enum sp_relay_kind { SP_RELAY_TO = 1, SP_RELAY_FROM = 2 };

typedef struct sp_relay_hdr {
	enum sp_relay_kind kind;
	uint32_t index;
	uint8_t key[SP_RELAY_KEY];
} sp_relay_hdr;

/* 1 if msg starts with a relay header (cheap: the first byte and the two
 * zero bytes); the data path's demultiplexer. */
static inline int
sp_relay_is(const uint8_t *msg, size_t len)
{
	return len >= SP_RELAY_HEADER && msg[0] == SP_RELAY_MAGIC && msg[2] == 0 && msg[3] == 0;
}

/* SP_EPROTO unless msg is a header of a known kind followed by at least a
 * WireGuard message's type (4 bytes). */
int sp_relay_parse(const uint8_t *msg, size_t len, sp_relay_hdr *out);
/* The header alone (no message after it required). */
int sp_relay_parse_header(const uint8_t hdr[SP_RELAY_HEADER], sp_relay_hdr *out);
void sp_relay_write(uint8_t out[SP_RELAY_HEADER], enum sp_relay_kind kind, uint32_t index,
    const uint8_t key[SP_RELAY_KEY]);

/* ---- the gateway's table -------------------------------------------------- */

typedef struct sp_relay_table sp_relay_table;

int sp_relay_table_new(const sp_rng *rng, sp_relay_table **out);
void sp_relay_table_free(sp_relay_table *t);

/* Give owner (the adapter's peer) a slot and a fresh random key; index 0
 * is never used, so 0 means "none" on the control plane. SP_ESPACE when
 * SP_RELAY_MAX are taken. */
int sp_relay_add(sp_relay_table *t, void *owner, uint32_t *index, uint8_t key[SP_RELAY_KEY]);
/* Free the slot; its key stops working at once. Unknown: no-op. */
void sp_relay_remove(sp_relay_table *t, uint32_t index);
/* The slot's owner and key; NULL if free. */
void *sp_relay_at(const sp_relay_table *t, uint32_t index, uint8_t key[SP_RELAY_KEY]);
size_t sp_relay_count(const sp_relay_table *t);

typedef struct sp_relay_stats {
	uint64_t forwarded, bytes;
	uint64_t bad_frame;          /* not a TO frame */
	uint64_t bad_key;            /* no member has this key */
	uint64_t bad_source;         /* the key's member is elsewhere (set by the adapter) */
	uint64_t no_dest;            /* no member in that slot, or itself, or it has no endpoint */
} sp_relay_stats;
sp_relay_stats *sp_relay_stats_of(sp_relay_table *t);

/*
 * A frame that arrived at the gateway: if it is a TO frame with a member's
 * key for another member's slot, rewrite its header in place into the
 * FROM frame for that member and return SP_OK with both owners; the
 * adapter then checks the sender's endpoint and sends msg to the
 * receiver's. Otherwise SP_EPROTO (counted: bad_frame, bad_key, no_dest).
 */
int sp_relay_forward(sp_relay_table *t, uint8_t *msg, size_t len, void **from, void **to);

#endif
