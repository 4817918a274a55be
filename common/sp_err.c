#include "sp_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
sp_strerror(int code)
{
	switch (code) {
	case SP_OK: return "success";
	case SP_ENOMEM: return "out of memory";
	case SP_EINVAL: return "invalid argument or malformed input";
	case SP_EIO: return "input/output error";
	case SP_ENOENT: return "not found";
	case SP_EEXIST: return "already exists";
	case SP_EPERM: return "permissions are wrong";
	case SP_ECORRUPT: return "data is truncated or corrupted";
	case SP_EPASSPHRASE: return "wrong passphrase";
	case SP_ENEEDPASS: return "a passphrase is needed";
	case SP_ESPACE: return "buffer too small";
	case SP_ECONFIG: return "bad configuration";
	case SP_ENOTRUNNING: return "signpostd is not running";
	case SP_EPROTO: return "protocol error";
	case SP_EUNSUPP: return "not supported";
	case SP_ECRYPTO: return "cryptographic operation failed";
	case SP_ETIMEOUT: return "timed out";
	case SP_EBUSY: return "busy";
	}
	return "unknown error";
}

int
sp_errf(sp_errmsg *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
