/*
 * One error convention for all of Signpost.
 *
 * Functions that can fail return int: SP_OK (0) or a negative SP_E* code.
 * Functions that have something to say to a person (which file, which line,
 * what was wrong) also take an optional sp_errmsg *, filled on failure only.
 * sp_strerror() names a code; it never returns NULL.
 */
#ifndef SP_ERR_H
#define SP_ERR_H

#include <stddef.h>

enum sp_err {
	SP_OK = 0,
	SP_ENOMEM = -1,      /* allocation failed */
	SP_EINVAL = -2,      /* invalid argument or malformed input */
	SP_EIO = -3,         /* I/O error from the operating system */
	SP_ENOENT = -4,      /* no such file, key or record */
	SP_EEXIST = -5,      /* already exists; refused to overwrite */
	SP_EPERM = -6,       /* permissions are wrong or too open */
	SP_ECORRUPT = -7,    /* stored data is truncated or corrupted */
	SP_EPASSPHRASE = -8, /* wrong passphrase */
	SP_ENEEDPASS = -9,   /* a passphrase is needed and none was given */
	SP_ESPACE = -10,     /* a buffer was too small (sticky wire error) */
	SP_ECONFIG = -11,    /* bad configuration */
	SP_ENOTRUNNING = -12,/* the daemon is not running */
	SP_EPROTO = -13,     /* protocol violation by the peer */
	SP_EUNSUPP = -14,    /* not supported (yet) */
	SP_ECRYPTO = -15,    /* a cryptographic operation failed */
	SP_ETIMEOUT = -16,   /* timed out */
	SP_EBUSY = -17,      /* busy or over a limit; try again later */
};

const char *sp_strerror(int code);

/* A human-readable explanation of a failure, e.g.
 * "/var/lib/signpost/keys/ksk-3613.key: wrong passphrase". */
typedef struct sp_errmsg {
	char msg[512];
} sp_errmsg;

/*
 * Record a message in e (which may be NULL) and return code, so that a
 * failure path is one line: return sp_errf(e, SP_EINVAL, "%s:%u: ...", ...).
 */
int sp_errf(sp_errmsg *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
