/* libFuzzer target: the key file decoder (keys/keyfile.c). A fixed
 * passphrase lets sealed inputs reach the unsealing code. */
#include <sodium.h>
#include <stdint.h>

#include "sp_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_key *k = NULL;
	char *text;
	size_t len;

	if (sodium_init() < 0)
		return 0;
	if (sp_key_decode((const char *)data, size, "fuzz", 4, 1, &k, NULL) == SP_OK) {
		/* Anything accepted must encode again. */
		if (sp_key_encode(k, &text, &len) != SP_OK)
			__builtin_trap();
		sp_key_text_free(text, len);
		sp_key_free(k);
	}
	if (sp_key_decode((const char *)data, size, NULL, 0, 0, &k, NULL) == SP_OK)
		sp_key_free(k);
	return 0;
}
