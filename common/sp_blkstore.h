/*
 * The block-device store (common/store_block.c): two copies of the whole
 * store on a raw device, each a header and a body of entries, so the
 * unikernel keeps its keys and devices across reboots and crashes. The
 * format functions are pure, for the unit tests and the fuzzer.
 */
#ifndef SP_BLKSTORE_H
#define SP_BLKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "sp_platform.h"

#define SP_BLK_HEADER 64

typedef struct sp_blk_entry {
	char name[208];
	uint8_t *data;
	size_t len;
} sp_blk_entry;

/* A copy's header: 0 with its generation and body length if the magic is there. */
int sp_blk_header(const uint8_t *hdr, uint64_t *gen, uint64_t *len);
/* The entries of a copy, header hdr and avail bytes of body: 0, or -1 if
 * the checksum, an entry, or their order is wrong. */
int sp_blk_parse(const uint8_t *hdr, const uint8_t *body, size_t avail, uint64_t *gen,
    sp_blk_entry **out, size_t *nout);
/* A copy of entries (sorted by name) as generation gen into out: its
 * length, or 0 if cap is too small. */
size_t sp_blk_serialize(const sp_blk_entry *ents, size_t n, uint64_t gen, uint8_t *out,
    size_t cap);
void sp_blk_free_entries(sp_blk_entry *ents, size_t n);

/* Open the store on a block device (or a file of its size, for tests).
 * A blank device is an empty store; one with neither copy intact is
 * refused (SP_ECORRUPT) rather than overwritten. */
int sp_store_open_block(const char *path, sp_store **out, sp_errmsg *e);

#endif
