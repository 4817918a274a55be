/*
 * The platform interface: everything protocol code may not do itself.
 *
 * Protocol cores (DNS answerer, signer, WireGuard, pairing, STUN) never
 * include this header: they take bytes and a time and return bytes and
 * deadlines. Adapters in signpostd/ use this interface to feed them.
 * The daemon on Linux and the unikernel image both implement it; the
 * unikernel differs only in its storage backend (a block device).
 *
 * Conventions: every call is non-blocking unless it says otherwise; every
 * int result is SP_OK or a negative SP_E* code; out-pointers are set only
 * on success; sp_errmsg arguments may be NULL.
 */
#ifndef SP_PLATFORM_H
#define SP_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sp_err.h"
#include "sp_rng.h"

/* ---- Clock ----------------------------------------------------------- */

/* Monotonic milliseconds since an arbitrary origin; never goes back. */
uint64_t sp_clock_mono_ms(void);
/* Wall-clock time in seconds since the Unix epoch (DNSSEC validity, logs). */
int64_t sp_clock_wall(void);

/* ---- Randomness ------------------------------------------------------ */

/* Cryptographically secure; cannot fail (libsodium aborts if it must). */
void sp_random(void *buf, size_t len);
/* The same generator as an sp_rng, for the cores (sp_rng.h). Static. */
const sp_rng *sp_platform_rng(void);

/* ---- Event loop: file descriptors, timers, signals ------------------- */

typedef struct sp_loop sp_loop;
typedef struct sp_watch sp_watch;
typedef struct sp_timer sp_timer;

enum { SP_IO_READ = 1, SP_IO_WRITE = 2 };

/* Called when fd is ready for any of the watched events. */
typedef void (*sp_io_cb)(void *arg, int fd, unsigned events);
/* Called once when the timer expires; the timer is gone afterwards. */
typedef void (*sp_timer_cb)(void *arg);
/* Called in loop context (not in a signal handler) after signo arrived. */
typedef void (*sp_signal_cb)(void *arg, int signo);

int sp_loop_new(sp_loop **out);
/* Frees the loop and every watch and timer still registered. NULL is a no-op. */
void sp_loop_free(sp_loop *loop);

/* Watch fd (borrowed: the caller closes it after sp_watch_cancel). */
int sp_loop_watch(sp_loop *loop, int fd, unsigned events, sp_io_cb cb,
    void *arg, sp_watch **out);
void sp_watch_set_events(sp_watch *w, unsigned events);
/* Safe to call from inside any callback, including w's own. NULL is a no-op. */
void sp_watch_cancel(sp_watch *w);

/*
 * Timers. A timer made with sp_timer_new belongs to its owner and is armed
 * as often as the owner likes: arming never allocates, so it cannot fail,
 * and a daemon's periodic work cannot be lost to a failed re-arm. The
 * callback runs once per arming, on the loop.
 */
int sp_timer_new(sp_loop *loop, sp_timer_cb cb, void *arg, sp_timer **out);
/* (Re)arm to fire delay_ms from now (monotonic); replaces any earlier arming. */
void sp_timer_arm(sp_timer *t, uint64_t delay_ms);
void sp_timer_disarm(sp_timer *t);
int sp_timer_armed(const sp_timer *t);
/* Disarm and free; NULL is a no-op; safe from any callback, its own too. */
void sp_timer_free(sp_timer *t);

/* A one-shot timer: fire cb once, delay_ms from now, then it is freed. */
int sp_loop_timer(sp_loop *loop, uint64_t delay_ms, sp_timer_cb cb, void *arg,
    sp_timer **out);
/* Cancel a one-shot timer that has not fired yet (a fired one is gone);
 * safe from any callback. NULL is a no-op. */
void sp_timer_cancel(sp_timer *t);

/* Deliver signo to cb from the loop. Blocks the signal for normal delivery. */
int sp_loop_signal(sp_loop *loop, int signo, sp_signal_cb cb, void *arg);

/*
 * A foreign event source polled with the loop's own descriptors: libnice's
 * GLib main context (docs/ARCHITECTURE.md, "The event loop and GLib").
 * Before each poll, prepare fills at most max pollfds and may lower
 * *timeout_ms (-1: no deadline); it returns how many it needs, and if that
 * is more than max the loop grows its array and asks again. After the
 * poll, dispatch gets the same pollfds with their revents (as many as
 * prepare filled), every turn, even when none is ready. One hook per loop;
 * NULL removes it.
 */
struct pollfd;
typedef struct sp_loop_hook {
	int (*prepare)(void *arg, struct pollfd *fds, int max, int *timeout_ms);
	void (*dispatch)(void *arg, struct pollfd *fds, int n);
	void *arg;
} sp_loop_hook;
void sp_loop_set_hook(sp_loop *loop, const sp_loop_hook *hook);

/* Run until sp_loop_stop(); returns SP_OK, or SP_EIO if polling failed. */
int sp_loop_run(sp_loop *loop);
void sp_loop_stop(sp_loop *loop);

/* ---- Sockets ---------------------------------------------------------- */

/* Parse "192.0.2.1:53", "[2001:db8::1]:53" (port required). Pure. */
int sp_addr_parse(const char *text, struct sockaddr_storage *out, socklen_t *len);
/* Format an address as the parser accepts it; buf of at least 64 bytes. */
const char *sp_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Non-blocking, close-on-exec sockets bound to addr. */
int sp_udp_bind(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e);
/* The same for an address of our own tunnel interface, which may still be
 * tentative just after it was added (IPV6_FREEBIND). */
int sp_udp_bind_own(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e);
int sp_tcp_listen_own(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e);
int sp_tcp_listen(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e);
/* A listening Unix stream socket at path with the given mode; a stale
 * socket file at path (nobody listening) is replaced, a live one is not. */
int sp_unix_listen(const char *path, unsigned mode, int *fd, sp_errmsg *e);
/* A blocking connection to path; SP_ENOTRUNNING if nobody listens. */
int sp_unix_connect(const char *path, int *fd, sp_errmsg *e);

/* ---- TUN -------------------------------------------------------------- */

/* Open (creating if needed) a layer-3 TUN device without packet info.
 * name may be NULL for a kernel-chosen name; the actual name is written to
 * ifname (at least 16 bytes). Needs CAP_NET_ADMIN. With SP_TUN_OFFLOAD
 * every packet read and written starts with a virtio-net header
 * (tunnels/sp_offload.h) and the kernel may pass TCP segments of up to
 * 64 KB and leave checksums partial (TSO). */
#define SP_TUN_OFFLOAD 1
int sp_tun_open(const char *name, unsigned flags, int *fd, char *ifname, sp_errmsg *e);

/* Interfaces: up; an IPv6 address; an IPv6 route through it (to gw if
 * not NULL; dst ::/0 for the default). Need CAP_NET_ADMIN. */
int sp_if_up(const char *ifname, sp_errmsg *e);
int sp_if_addr6(const char *ifname, const uint8_t addr6[16], unsigned prefix, sp_errmsg *e);
int sp_route6_add(const char *ifname, const uint8_t dst[16], unsigned dst_prefix,
    const uint8_t *gw, sp_errmsg *e);
/* "ADDRESS/PREFIX" of family (AF_INET or AF_INET6), prefix 1 to 32 or
 * 128: SP_OK, or SP_EINVAL. Pure. */
int sp_cidr_parse(const char *text, int family, uint8_t *addr, unsigned *prefix);
/* Add an IPv4 address/prefix to an interface (its subnet routes to it). */
int sp_if_addr4(const char *ifname, const uint8_t addr4[4], unsigned prefix, sp_errmsg *e);

/* The host's own addresses a peer could reach it at: IPv4 and IPv6,
 * without loopback, link-local and those on interface skip (may be NULL);
 * at most max, in the order the kernel lists them. Ports are 0. */
int sp_if_addresses(const char *skip, struct sockaddr_storage *out, size_t max, size_t *n);

/* cb runs on the loop when the host's links, addresses or routes change
 * (netlink): a device that moved networks learns it at once. */
typedef struct sp_linkwatch sp_linkwatch;
int sp_linkwatch_start(sp_loop *loop, void (*cb)(void *arg), void *arg, sp_linkwatch **out,
    sp_errmsg *e);
void sp_linkwatch_stop(sp_linkwatch *l);

/* Bring a TUN interface up with an MTU, an IPv6 address/prefix on it, and
 * optionally a route (route_prefix may be 0 for none). Needs CAP_NET_ADMIN. */
int sp_tun_configure(const char *ifname, unsigned mtu, const uint8_t addr6[16],
    unsigned prefix, const uint8_t route6[16], unsigned route_prefix, sp_errmsg *e);

/* ---- Storage ---------------------------------------------------------- */

/*
 * Named blobs, written atomically and durably: after sp_store_put returns
 * SP_OK the new content survives a crash, and a crash during the call
 * leaves the old content. Names are relative, made of [A-Za-z0-9._-]
 * components, with at most one '/' (one level of folders, e.g.
 * "keys/ksk-3613.key"). Content is at most SP_STORE_MAX bytes.
 */
#define SP_STORE_MAX (1024 * 1024)

typedef struct sp_store sp_store;

struct sp_store_ops {
	int (*get)(sp_store *s, const char *name, uint8_t **data, size_t *len,
	    sp_errmsg *e);
	int (*put)(sp_store *s, const char *name, const void *data, size_t len,
	    sp_errmsg *e);
	int (*del)(sp_store *s, const char *name, sp_errmsg *e);
	/* Calls cb for each name in folder dir ("" for the top), sorted. */
	int (*list)(sp_store *s, const char *dir,
	    int (*cb)(void *arg, const char *name), void *arg, sp_errmsg *e);
	/* A description for messages, e.g. the directory's path. */
	const char *(*where)(sp_store *s);
	/* Take the store for this process alone until it is closed: SP_EEXIST
	 * (naming the holder where it can) if another process has it. */
	int (*lock)(sp_store *s, sp_errmsg *e);
	void (*close)(sp_store *s);
};

struct sp_store {
	const struct sp_store_ops *ops;
};

enum { SP_STORE_CREATE = 1 };

/*
 * A store in a directory. The directory must belong to the effective user
 * and be closed to group and others (SP_EPERM otherwise, naming it); with
 * SP_STORE_CREATE it is created (mode 0700) if missing. Files are 0600.
 */
int sp_store_open_dir(const char *path, int flags, sp_store **out, sp_errmsg *e);

/* Validating wrappers around the ops. get returns a malloc'd buffer with a
 * NUL after the data; release it with sp_store_release, which wipes it. */
int sp_store_get(sp_store *s, const char *name, uint8_t **data, size_t *len,
    sp_errmsg *e);
int sp_store_put(sp_store *s, const char *name, const void *data, size_t len,
    sp_errmsg *e);
int sp_store_del(sp_store *s, const char *name, sp_errmsg *e);
int sp_store_list(sp_store *s, const char *dir,
    int (*cb)(void *arg, const char *name), void *arg, sp_errmsg *e);
const char *sp_store_where(sp_store *s);
/* The daemon holds the lock for its lifetime and the CLI around an offline
 * change, so two writers never interleave (a directory store locks the
 * file "lock" in it with flock). Released by sp_store_close. */
int sp_store_lock(sp_store *s, sp_errmsg *e);
void sp_store_release(uint8_t *data, size_t len);
void sp_store_close(sp_store *s);
/* True if name is a valid store name. Pure. */
int sp_store_name_ok(const char *name);

#endif
