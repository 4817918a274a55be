/* The body of sp_key, shared by the files of keys/ only. */
#ifndef SP_KEY_INTERNAL_H
#define SP_KEY_INTERNAL_H

#include "sp_key.h"

struct sp_key {
	sp_key_info info;
	/* libsodium's 64-byte Ed25519 secret key (seed || public), in
	 * sodium_malloc memory; NULL when only the public half is loaded. */
	unsigned char *sk;
	/* The "sealed ..." line this key was read with, kept so that a state
	 * change can be written back without the passphrase; NULL if the key
	 * was read or created in the clear. */
	char *sealed;
};

void sp_key_fill_info(sp_key_info *info, sp_key_role role, int64_t created,
    const uint8_t pub[SP_KEY_PUBLIC_BYTES]);
int sp_key_new_public(sp_key_role role, int64_t created,
    const uint8_t pub[SP_KEY_PUBLIC_BYTES], sp_key **out);

#endif
