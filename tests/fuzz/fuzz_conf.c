/* libFuzzer target: the configuration parser (signpostd/conf.c, sp_kv). */
#include <stdint.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_conf c;
	sp_errmsg e;

	sp_conf_init(&c);
	if (sp_conf_parse(&c, "fuzz.conf", (const char *)data, size, &e) == SP_OK) {
		/* What parsed must be well-formed. */
		if (memchr(c.state_dir, '\0', sizeof(c.state_dir)) == NULL ||
		    (c.state_dir[0] != '\0' && c.state_dir[0] != '/'))
			__builtin_trap();
	}
	return 0;
}
