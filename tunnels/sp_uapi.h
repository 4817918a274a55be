/*
 * The WireGuard cross-platform userspace API (wireguard.com/xplatform):
 * the text protocol the `wg` tool speaks over /var/run/wireguard/NAME.sock.
 * A request is "get=1" or "set=1" followed by key=value lines and an
 * empty line; the reply ends with "errno=N" and an empty line.
 *
 * This is the pure part: a set request is parsed line by line and each
 * setting is handed to the adapter's callbacks as it comes (as
 * wireguard-go applies them), and the get reply is built with the
 * formatting helpers below. Errors are SP_E* codes, as everywhere;
 * sp_uapi_errno turns one into the errno value the protocol carries.
 */
#ifndef SP_UAPI_H
#define SP_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sp_uapi_ops {
	int (*private_key)(void *arg, const uint8_t key[32]);
	int (*listen_port)(void *arg, uint16_t port);
	int (*fwmark)(void *arg, uint32_t mark);
	int (*replace_peers)(void *arg);
	/* Opens a peer section; the settings below apply to it. */
	int (*peer)(void *arg, const uint8_t pub[32], int update_only);
	int (*remove)(void *arg);
	int (*preshared_key)(void *arg, const uint8_t key[32]);
	int (*endpoint)(void *arg, const struct sockaddr *addr, socklen_t len);
	int (*persistent_keepalive)(void *arg, uint16_t seconds);
	int (*replace_allowed_ips)(void *arg);
	int (*allowed_ip)(void *arg, int family, const uint8_t *addr, unsigned cidr);
};

/*
 * Parse the body of a set request: the lines after "set=1", up to and
 * excluding the empty line. Returns SP_OK or SP_EINVAL (a malformed line or
 * value), SP_EPROTO (an unknown key, or a peer setting outside a peer
 * section), or whatever a callback returned (callbacks return SP_E* too).
 */
int sp_uapi_set(const char *body, size_t len, const struct sp_uapi_ops *ops, void *arg);
/* The errno value for "errno=N" in a reply (0 for SP_OK). */
int sp_uapi_errno(int code);

/* Lowercase hex of a key (65 bytes with the NUL). */
void sp_uapi_hex(const uint8_t key[32], char out[65]);
/* An endpoint as the protocol writes it: 192.0.2.1:51820, [2001:db8::1]:51820. */
void sp_uapi_endpoint(const struct sockaddr *sa, char *out, size_t len);

#endif
