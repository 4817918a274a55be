#define _GNU_SOURCE
#include "sp_time.h"

#include <string.h>
#include <time.h>

#include "sp_err.h"

#define ISO_FORMAT "%Y-%m-%dT%H:%M:%SZ"

void
sp_time_format(int64_t t, char out[SP_TIME_TEXT])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, SP_TIME_TEXT, ISO_FORMAT, &tm) == 0)
		strcpy(out, "?");
}

int
sp_time_parse(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, ISO_FORMAT, &tm);
	if (end == NULL || *end != '\0')
		return SP_EINVAL;
	*out = (int64_t)timegm(&tm);
	return SP_OK;
}
