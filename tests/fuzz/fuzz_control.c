/* libFuzzer target: both directions of the control protocol
 * (signpostd/control.c): request lines and replies. */
#include <stdint.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
field(void *arg, const char *name, const char *value)
{
	(void)arg;
	if (name[0] == '\0' || strchr(name, '\t') != NULL || strchr(value, '\n') != NULL)
		__builtin_trap();
	return SP_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_ctl_request req;
	sp_errmsg e;

	if (sp_ctl_request_parse((const char *)data, size, &req, &e) == SP_OK) {
		if (req.nwords == 0 || req.nwords > SP_CTL_MAX_WORDS)
			__builtin_trap();
		for (size_t i = 0; i < req.nwords; i++)
			if (req.word[i][0] == '\0')
				__builtin_trap();
	}
	sp_ctl_reply_parse((const char *)data, size, field, NULL, &e);
	return 0;
}
