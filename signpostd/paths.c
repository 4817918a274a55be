#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
put(char *out, size_t len, const char *a, const char *b, sp_errmsg *e)
{
	int n = snprintf(out, len, "%s%s", a, b);

	if (n < 0 || (size_t)n >= len)
		return sp_errf(e, SP_EINVAL, "state directory path is too long");
	return SP_OK;
}

int
sp_state_dir(const char *flag, const char *conf, char *out, size_t len, sp_errmsg *e)
{
	const char *env = getenv("SIGNPOST_STATE"), *home;

	if (flag != NULL && flag[0] != '\0')
		return put(out, len, flag, "", e);
	if (conf != NULL && conf[0] != '\0')
		return put(out, len, conf, "", e);
	if (env != NULL && env[0] != '\0')
		return put(out, len, env, "", e);
	if (geteuid() == 0)
		return put(out, len, "/var/lib/signpost", "", e);
	home = getenv("HOME");
	if (home == NULL || home[0] != '/')
		return sp_errf(e, SP_EINVAL,
		    "no state directory: give --state DIR or set SIGNPOST_STATE");
	return put(out, len, home, "/.local/state/signpost", e);
}
