/* Where the state directory is, for the daemon and the CLI alike. */
#ifndef SP_PATHS_H
#define SP_PATHS_H

#include <stddef.h>

#include "sp_err.h"

#define SP_VERSION "0.1.0"

/*
 * The state directory: flag (may be NULL), else conf (may be NULL or ""),
 * else $SIGNPOST_STATE, else /var/lib/signpost for root, else
 * $HOME/.local/state/signpost.
 */
int sp_state_dir(const char *flag, const char *conf, char *out, size_t len, sp_errmsg *e);

#endif
