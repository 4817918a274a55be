/* Times in text: UTC, ISO 8601, whole seconds ("2026-11-23T01:46:12Z"),
 * the one form used in state files, replies and listings. Pure. */
#ifndef SP_TIME_H
#define SP_TIME_H

#include <stdint.h>

#define SP_TIME_TEXT 32

void sp_time_format(int64_t t, char out[SP_TIME_TEXT]);
/* SP_EINVAL unless s is exactly that form. */
int sp_time_parse(const char *s, int64_t *out);

#endif
