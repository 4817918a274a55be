/* The Linux implementation of the clock, randomness, sockets and TUN. */
#define _GNU_SOURCE
#include "sp_platform.h"
#include "sp_log.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <net/route.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t
sp_clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t
sp_clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void
sp_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static void
system_fill(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	randombytes_buf(buf, len);
}

const sp_rng *
sp_platform_rng(void)
{
	static const sp_rng system_rng = { system_fill, NULL };

	return &system_rng;
}

int
sp_addr_parse(const char *text, struct sockaddr_storage *out, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s, *end;
	size_t hlen;
	unsigned long port;
	char *ep;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL || end[1] != ':')
			return SP_EINVAL;
		hlen = (size_t)(end - text - 1);
		if (hlen >= sizeof(host))
			return SP_EINVAL;
		memcpy(host, text + 1, hlen);
		port_s = end + 2;
	} else {
		end = strrchr(text, ':');
		if (end == NULL || memchr(text, ':', (size_t)(end - text)) != NULL)
			return SP_EINVAL;
		hlen = (size_t)(end - text);
		if (hlen >= sizeof(host))
			return SP_EINVAL;
		memcpy(host, text, hlen);
		port_s = end + 1;
	}
	host[hlen] = '\0';
	if (*port_s < '0' || *port_s > '9')
		return SP_EINVAL;
	errno = 0;
	port = strtoul(port_s, &ep, 10);
	if (errno != 0 || *ep != '\0' || port > 65535)
		return SP_EINVAL;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return SP_EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return SP_EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	}
	return SP_OK;
}

const char *
sp_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

static int
inet_socket(const struct sockaddr *addr, socklen_t len, int type, int own, int *out,
    sp_errmsg *e)
{
	char where[64];
	int fd, one = 1;

	fd = socket(addr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	/* TCP needs SO_REUSEADDR to rebind past TIME_WAIT after a restart. On
	 * Linux it would let a second UDP socket bind the same port and take
	 * the traffic silently, so UDP does without it. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A v6 listener serves v6 only; v4 gets its own socket, so that the
	 * configured addresses are exactly the ones served. */
	if (addr->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Our tunnel's own address: for a moment after it is added the
	 * kernel holds it tentative (its DAD work runs asynchronously, even
	 * with DAD off), and a bind then fails. Freebind takes it anyway. */
	if (own && setsockopt(fd, addr->sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    addr->sa_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one, sizeof(one)) != 0) {
		int err = errno;
		close(fd);
		return sp_errf(e, SP_EIO, "freebind: %s", strerror(err));
	}
	if (bind(fd, addr, len) != 0) {
		int err = errno;
		close(fd);
		return sp_errf(e, err == EACCES ? SP_EPERM : SP_EIO,
		    "bind %s: %s", sp_addr_format(addr, where, sizeof(where)),
		    strerror(err));
	}
	*out = fd;
	return SP_OK;
}

int
sp_udp_bind(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e)
{
	return inet_socket(addr, len, SOCK_DGRAM, 0, fd, e);
}

int
sp_udp_bind_own(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e)
{
	return inet_socket(addr, len, SOCK_DGRAM, 1, fd, e);
}

static int
tcp_listen(const struct sockaddr *addr, socklen_t len, int own, int *fd, sp_errmsg *e)
{
	char where[64];
	int rc, s;

	rc = inet_socket(addr, len, SOCK_STREAM, own, &s, e);
	if (rc != SP_OK)
		return rc;
	if (listen(s, 128) != 0) {
		rc = sp_errf(e, SP_EIO, "listen %s: %s",
		    sp_addr_format(addr, where, sizeof(where)), strerror(errno));
		close(s);
		return rc;
	}
	*fd = s;
	return SP_OK;
}

int
sp_tcp_listen(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e)
{
	return tcp_listen(addr, len, 0, fd, e);
}

int
sp_tcp_listen_own(const struct sockaddr *addr, socklen_t len, int *fd, sp_errmsg *e)
{
	return tcp_listen(addr, len, 1, fd, e);
}

static int
unix_addr(const char *path, struct sockaddr_un *sun, sp_errmsg *e)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return sp_errf(e, SP_EINVAL, "%s: socket path too long (max %zu)",
		    path, sizeof(sun->sun_path) - 1);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return SP_OK;
}

int
sp_unix_connect(const char *path, int *fd, sp_errmsg *e)
{
	struct sockaddr_un sun;
	int s, rc;

	if ((rc = unix_addr(path, &sun, e)) != SP_OK)
		return rc;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int err = errno;
		close(s);
		if (err == ENOENT || err == ECONNREFUSED)
			return sp_errf(e, SP_ENOTRUNNING,
			    "signpostd is not running (nothing listens on %s)", path);
		if (err == EACCES)
			return sp_errf(e, SP_EPERM, "%s: %s", path, strerror(err));
		return sp_errf(e, SP_EIO, "connect %s: %s", path, strerror(err));
	}
	*fd = s;
	return SP_OK;
}

int
sp_unix_listen(const char *path, unsigned mode, int *fd, sp_errmsg *e)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int s, rc, probe;

	if ((rc = unix_addr(path, &sun, e)) != SP_OK)
		return rc;
	rc = sp_unix_connect(path, &probe, NULL);
	if (rc == SP_OK) {
		close(probe);
		return sp_errf(e, SP_EEXIST,
		    "%s: another signpostd is already running", path);
	}
	/* Only a socket is ours to replace: a misconfigured path must not
	 * cost someone a file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return sp_errf(e, SP_EEXIST, "%s exists and is not a socket", path);
		if (unlink(path) != 0)
			return sp_errf(e, SP_EIO, "unlink %s: %s", path, strerror(errno));
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	/* The umask makes the socket private from the moment it exists; the
	 * chmod afterwards only widens it when a caller asks for that. */
	old = umask(0177);
	rc = bind(s, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || chmod(path, mode) != 0 || listen(s, 16) != 0) {
		rc = sp_errf(e, SP_EIO, "%s: %s", path, strerror(errno));
		close(s);
		return rc;
	}
	*fd = s;
	return SP_OK;
}

int
sp_tun_open(const char *name, unsigned flags, int *fd, char *ifname, sp_errmsg *e)
{
	struct ifreq ifr;
	int t;

	t = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t < 0)
		return sp_errf(e, errno == EACCES || errno == EPERM ? SP_EPERM : SP_EIO,
		    "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (flags & SP_TUN_OFFLOAD ? IFF_VNET_HDR : 0);
	if (name != NULL) {
		if (strlen(name) >= IFNAMSIZ) {
			close(t);
			return sp_errf(e, SP_EINVAL, "interface name '%s' is too long", name);
		}
		memcpy(ifr.ifr_name, name, strlen(name));
	}
	if (ioctl(t, TUNSETIFF, &ifr) != 0) {
		int err = errno;
		close(t);
		return sp_errf(e, err == EPERM ? SP_EPERM : SP_EIO,
		    "TUNSETIFF %s: %s", name != NULL ? name : "", strerror(err));
	}
	/* The checksum and TSO offloads; the 10-byte header is the default. */
	if ((flags & SP_TUN_OFFLOAD) &&
	    ioctl(t, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) != 0) {
		int err = errno;
		close(t);
		return sp_errf(e, SP_EIO, "TUNSETOFFLOAD %s: %s", ifr.ifr_name, strerror(err));
	}
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	*fd = t;
	return SP_OK;
}

/* The kernel's in6_ifreq, which glibc's headers do not declare. */
struct sp_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

static int
ifreq_for(const char *ifname, struct ifreq *ifr, sp_errmsg *e)
{
	if (strlen(ifname) >= IFNAMSIZ)
		return sp_errf(e, SP_EINVAL, "interface name '%s' is too long", ifname);
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, ifname, strlen(ifname));
	return SP_OK;
}

/* The interface's index (<net/if.h>'s if_nametoindex clashes with <linux/if.h>). */
static int
ifindex_of(int s, const char *ifname, int *index, sp_errmsg *e)
{
	struct ifreq ifr;
	int rc;

	if ((rc = ifreq_for(ifname, &ifr, e)) != SP_OK)
		return rc;
	if (ioctl(s, SIOCGIFINDEX, &ifr) != 0)
		return sp_errf(e, SP_EIO, "%s: %s", ifname, strerror(errno));
	*index = ifr.ifr_ifindex;
	return SP_OK;
}

int
sp_if_up(const char *ifname, sp_errmsg *e)
{
	struct ifreq ifr;
	int s, rc;

	if ((rc = ifreq_for(ifname, &ifr, e)) != SP_OK)
		return rc;
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		rc = sp_errf(e, SP_EIO, "%s: %s", ifname, strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (rc == SP_OK && ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		rc = sp_errf(e, SP_EIO, "%s: bring up: %s", ifname, strerror(errno));
	close(s);
	return rc;
}

int
sp_if_addr6(const char *ifname, const uint8_t addr6[16], unsigned prefix, sp_errmsg *e)
{
	struct sp_in6_ifreq a;
	int s, rc = SP_OK;

	if (prefix > 128)
		return sp_errf(e, SP_EINVAL, "bad prefix /%u", prefix);
	if ((s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	memcpy(&a.addr, addr6, 16);
	a.prefixlen = prefix;
	if ((rc = ifindex_of(s, ifname, &a.ifindex, e)) == SP_OK &&
	    ioctl(s, SIOCSIFADDR, &a) != 0 && errno != EEXIST)
		rc = sp_errf(e, SP_EIO, "%s: add address: %s", ifname, strerror(errno));
	close(s);
	return rc;
}

int
sp_route6_add(const char *ifname, const uint8_t dst[16], unsigned dst_prefix,
    const uint8_t *gw, sp_errmsg *e)
{
	struct in6_rtmsg rt;
	int s, rc = SP_OK;

	if ((s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	memset(&rt, 0, sizeof(rt));
	memcpy(&rt.rtmsg_dst, dst, 16);
	rt.rtmsg_dst_len = (uint16_t)dst_prefix;
	rt.rtmsg_metric = 1;
	rt.rtmsg_flags = RTF_UP;
	if (gw != NULL) {
		memcpy(&rt.rtmsg_gateway, gw, 16);
		rt.rtmsg_flags |= RTF_GATEWAY;
	}
	if ((rc = ifindex_of(s, ifname, &rt.rtmsg_ifindex, e)) == SP_OK &&
	    ioctl(s, SIOCADDRT, &rt) != 0 && errno != EEXIST)
		rc = sp_errf(e, SP_EIO, "%s: add route: %s", ifname, strerror(errno));
	close(s);
	return rc;
}

/*
 * No duplicate address detection on the tunnel: its address is derived
 * from the device's key and unique by construction, and while DAD runs the
 * address is "tentative", so sockets that bind it at once (the member's
 * resolver, its control plane) fail with EADDRNOTAVAIL. Best effort:
 * without /proc the kernel runs DAD as usual.
 */
static void
no_dad(const char *ifname)
{
	char path[96];
	int fd;

	if (snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", ifname) >=
	    (int)sizeof(path))
		return;
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (write(fd, "0\n", 2) != 2)
		sp_debug("%s: accept_dad not set: %s", ifname, strerror(errno));
	close(fd);
}

int
sp_tun_configure(const char *ifname, unsigned mtu, const uint8_t addr6[16], unsigned prefix,
    const uint8_t route6[16], unsigned route_prefix, sp_errmsg *e)
{
	struct ifreq ifr;
	int s4, rc;

	if ((rc = ifreq_for(ifname, &ifr, e)) != SP_OK)
		return rc;
	if ((s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(s4, SIOCSIFMTU, &ifr) != 0)
		rc = sp_errf(e, SP_EIO, "%s: set MTU %u: %s", ifname, mtu, strerror(errno));
	close(s4);
	if (rc == SP_OK)
		no_dad(ifname);
	if (rc == SP_OK)
		rc = sp_if_up(ifname, e);
	if (rc == SP_OK)
		rc = sp_if_addr6(ifname, addr6, prefix, e);
	if (rc == SP_OK && route_prefix > 0)
		rc = sp_route6_add(ifname, route6, route_prefix, NULL, e);
	return rc;
}

int
sp_if_addr4(const char *ifname, const uint8_t addr4[4], unsigned prefix, sp_errmsg *e)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	uint32_t mask;
	int s, rc = SP_OK;

	if (prefix > 32)
		return sp_errf(e, SP_EINVAL, "bad prefix /%u", prefix);
	mask = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
	if ((rc = ifreq_for(ifname, &ifr, e)) != SP_OK)
		return rc;
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return sp_errf(e, SP_EIO, "socket: %s", strerror(errno));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, addr4, 4);
	if (ioctl(s, SIOCSIFADDR, &ifr) != 0) {
		rc = sp_errf(e, SP_EIO, "%s: add IPv4 address: %s", ifname, strerror(errno));
		goto out;
	}
	memcpy(&sin->sin_addr, &mask, 4);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0)
		rc = sp_errf(e, SP_EIO, "%s: set IPv4 prefix: %s", ifname, strerror(errno));
out:
	close(s);
	return rc;
}

int
sp_cidr_parse(const char *text, int family, uint8_t *addr, unsigned *prefix)
{
	char a[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	unsigned max = family == AF_INET ? 32 : 128;
	char *end;
	long p;

	if (slash == NULL || (size_t)(slash - text) >= sizeof(a) || slash[1] < '0' ||
	    slash[1] > '9')
		return SP_EINVAL;
	memcpy(a, text, (size_t)(slash - text));
	a[slash - text] = '\0';
	p = strtol(slash + 1, &end, 10);
	if (inet_pton(family, a, addr) != 1 || *end != '\0' || p < 1 || p > (long)max)
		return SP_EINVAL;
	*prefix = (unsigned)p;
	return SP_OK;
}

int
sp_if_addresses(const char *skip, struct sockaddr_storage *out, size_t max, size_t *n)
{
	struct ifaddrs *ifs, *i;

	*n = 0;
	if (getifaddrs(&ifs) != 0)
		return SP_EIO;
	for (i = ifs; i != NULL && *n < max; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (skip != NULL && strcmp(i->ifa_name, skip) == 0))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)i->ifa_addr;
			uint32_t v = ntohl(a->sin_addr.s_addr);
			if ((v >> 24) == 127 || (v >> 16) == 0xa9fe)
				continue;
			memset(&out[*n], 0, sizeof(out[*n]));
			memcpy(&out[(*n)++], a, sizeof(*a));
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)i->ifa_addr;
			if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr))
				continue;
			memset(&out[*n], 0, sizeof(out[*n]));
			memcpy(&out[*n], a, sizeof(*a));
			((struct sockaddr_in6 *)&out[(*n)++])->sin6_scope_id = 0;
		}
	}
	freeifaddrs(ifs);
	return SP_OK;
}

/* ---- link changes ------------------------------------------------------------ */

struct sp_linkwatch {
	int fd;
	sp_watch *w;
	void (*cb)(void *arg);
	void *arg;
};

static void
linkwatch_io(void *arg, int fd, unsigned events)
{
	struct sp_linkwatch *l = arg;
	uint8_t buf[8192];
	int any = 0;

	(void)events;
	/* The messages themselves do not matter: that something changed does. */
	for (int k = 0; k < 64 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; k++)
		any = 1;
	if (any)
		l->cb(l->arg);
}

int
sp_linkwatch_start(sp_loop *loop, void (*cb)(void *arg), void *arg, sp_linkwatch **out,
    sp_errmsg *e)
{
	struct sp_linkwatch *l = calloc(1, sizeof(*l));
	struct sockaddr_nl sa;
	int rc;

	if (l == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	l->cb = cb;
	l->arg = arg;
	if ((l->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) < 0) {
		free(l);
		return sp_errf(e, SP_EIO, "netlink socket: %s", strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = sp_errf(e, SP_EIO, "netlink bind: %s", strerror(errno));
		close(l->fd);
		free(l);
		return rc;
	}
	if ((rc = sp_loop_watch(loop, l->fd, SP_IO_READ, linkwatch_io, l, &l->w)) != SP_OK) {
		close(l->fd);
		free(l);
		return sp_errf(e, rc, "out of memory");
	}
	*out = l;
	return SP_OK;
}

void
sp_linkwatch_stop(sp_linkwatch *l)
{
	if (l == NULL)
		return;
	sp_watch_cancel(l->w);
	close(l->fd);
	free(l);
}
