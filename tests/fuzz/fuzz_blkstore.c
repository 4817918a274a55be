/*
 * libFuzzer target: the block store's format (common/store_block.c), what
 * a damaged or hostile disk presents at boot: a header, then a body of
 * entries. Whatever parses must serialize back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_blkstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t gen, len;
	sp_blk_entry *ents;
	size_t n;

	if (size < SP_BLK_HEADER)
		return 0;
	if (sp_blk_header(data, &gen, &len) != 0)
		return 0;
	if (sp_blk_parse(data, data + SP_BLK_HEADER, size - SP_BLK_HEADER, &gen, &ents, &n) == 0) {
		size_t cap = SP_BLK_HEADER + (size_t)len + 64;
		uint8_t *out = malloc(cap);
		size_t m;
		if (out == NULL)
			__builtin_trap();
		m = sp_blk_serialize(ents, n, gen, out, cap);
		if (m == 0 || m > size || memcmp(out, data, m) != 0)
			__builtin_trap();
		free(out);
		sp_blk_free_entries(ents, n);
	}
	return 0;
}
