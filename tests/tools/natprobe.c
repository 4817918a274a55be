/*
 * natprobe: what a NAT does to the traffic through it, told by both ends.
 * Echo servers on public hosts report the source address they saw (the
 * mapping); a client behind the NAT asks two of them whether they saw the
 * same one (mapping behaviour, RFC 4787 section 4.1) and whether answers from
 * another port or another host get back in (filtering, section 5).
 *
 *   natprobe echo PORT [--alt ALTPORT] [--peer ADDR:PORT]
 *       UDP server: answers each datagram with "ADDR:PORT", the source it
 *       saw. --alt: requests "ALT TAG" are answered from ALTPORT. --peer:
 *       requests "OTHER TAG" are handed to the echo server at ADDR:PORT,
 *       which answers them from its own host
 *   natprobe echo-tcp PORT
 *       TCP server: reads one line per connection, answers "ADDR:PORT\n"
 *   natprobe ask LOCALPORT SERVER:PORT
 *       from LOCALPORT (0: any), print the mapping SERVER saw
 *   natprobe ask-tcp SERVER:PORT [--from LOCALPORT]
 *       the same over TCP
 *   natprobe map LOCALPORT SERVER1:PORT SERVER2:PORT
 *       from one local port, the mappings two servers saw, then
 *       "mapping: same" (endpoint-independent) or "mapping: different"
 *   natprobe filter LOCALPORT SERVER:PORT
 *       ask SERVER (an echo with --alt and --peer) for the mapping, then, at
 *       once, for answers from its other port and from its peer's host;
 *       print which came in and "filtering: endpoint-independent",
 *       "address-dependent" or "address-and-port-dependent"
 *   natprobe send [--from LOCALPORT] ADDR:PORT MESSAGE
 *       send one datagram
 *   natprobe recv LOCALPORT
 *       wait for one datagram; print "ADDR:PORT MESSAGE"
 *
 * Every wait is bounded by --timeout MS (default 1000), and clients send
 * each request three times within it. Addresses are "A.B.C.D:PORT" or
 * "[IPV6]:PORT". Exit status: 0 done, 1 no answer in time, 2 usage, 3 a
 * system call failed or the server cannot do what was asked.
 *
 * The UDP protocol is text: "ASK TAG", "ALT TAG" and "OTHER TAG" are answered
 * "ADDR:PORT TAG" (or "ERR TAG REASON"); a peer is told "POKE ADDR:PORT TAG"
 * and sends "ADDR:PORT TAG" to ADDR:PORT. Anything else gets "ADDR:PORT".
 * A TAG (the client's pid and a serial) has at most 64 characters; servers
 * cut longer ones. Over TCP, a line "ASK TAG" gets "ADDR:PORT TAG\n".
 * POKE makes a server send to any address it is told, so run the servers
 * only inside a lab.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { NP_OK = 0, NP_NOANSWER = 1, NP_USAGE = 2, NP_FAIL = 3 };

#define MSG_MAX 512
#define ADDR_MAX (INET6_ADDRSTRLEN + 8)
#define TAG_MAX 32
#define TRIES 3

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* One request of a client and what came back for it. */
struct probe {
	const char *verb;       /* ASK, ALT or OTHER */
	char tag[TAG_MAX];
	int answered;           /* 1: an answer, -1: the server refused */
	struct addr from;       /* who answered */
	char seen[ADDR_MAX];    /* the mapping the answer reports */
	char reason[64];        /* why the server refused */
};

static int timeout_ms = 1000;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: natprobe [--timeout MS] echo PORT [--alt ALTPORT] [--peer ADDR:PORT]\n"
	    "       natprobe [--timeout MS] echo-tcp PORT\n"
	    "       natprobe [--timeout MS] ask LOCALPORT SERVER:PORT\n"
	    "       natprobe [--timeout MS] ask-tcp SERVER:PORT [--from LOCALPORT]\n"
	    "       natprobe [--timeout MS] map LOCALPORT SERVER1:PORT SERVER2:PORT\n"
	    "       natprobe [--timeout MS] filter LOCALPORT SERVER:PORT\n"
	    "       natprobe send [--from LOCALPORT] ADDR:PORT MESSAGE\n"
	    "       natprobe [--timeout MS] recv LOCALPORT\n");
	exit(NP_USAGE);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PORT in 0..65535 (0 only if allow_zero), or -1. */
static int
parse_port(const char *s, int allow_zero)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < (allow_zero ? 0 : 1) || v > 65535)
		return -1;
	return (int)v;
}

/* "A.B.C.D:PORT" or "[IPV6]:PORT"; 0 or -1. */
static int
parse_addr(const char *s, struct addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *h = s, *colon;
	size_t hlen;
	int port, v6 = 0;

	memset(a, 0, sizeof(*a));
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		v6 = 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host) || (port = parse_port(colon + 1, 0)) < 0)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
	}
	return 0;
}

/* A v4-mapped IPv6 address (from a dual-stack socket) as plain IPv4. */
static void
unmap(const struct addr *in, struct addr *out)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&in->ss;

	*out = *in;
	if (in->ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
		struct in_addr v4;
		uint16_t port = sin6->sin6_port;

		memcpy(&v4, sin6->sin6_addr.s6_addr + 12, 4);
		memset(out, 0, sizeof(*out));
		sin->sin_family = AF_INET;
		sin->sin_addr = v4;
		sin->sin_port = port;
		out->len = sizeof(*sin);
	}
}

/* The address as a socket of FAMILY takes it: IPv4 becomes v4-mapped. */
static void
for_family(const struct addr *in, int family, struct addr *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&in->ss;

	*out = *in;
	if (family == AF_INET6 && in->ss.ss_family == AF_INET) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
		struct in_addr v4 = sin->sin_addr;
		uint16_t port = sin->sin_port;

		memset(out, 0, sizeof(*out));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(sin6->sin6_addr.s6_addr + 12, &v4, 4);
		out->len = sizeof(*sin6);
	}
}

static void
fmt_addr(const struct addr *in, char out[ADDR_MAX])
{
	struct addr a;
	char host[INET6_ADDRSTRLEN];

	unmap(in, &a);
	if (a.ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, ADDR_MAX, "%s:%u", host, ntohs(sin->sin_port));
	} else if (a.ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, ADDR_MAX, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(out, ADDR_MAX, "(family %d)", a.ss.ss_family);
	}
}

/* Same address (with_port: and port), whichever socket family saw them. */
static int
same_endpoint(const struct addr *x, const struct addr *y, int with_port)
{
	struct addr a, b;

	unmap(x, &a);
	unmap(y, &b);
	if (a.ss.ss_family != b.ss.ss_family)
		return 0;
	if (a.ss.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const struct sockaddr_in *)&a.ss;
		const struct sockaddr_in *q = (const struct sockaddr_in *)&b.ss;

		return p->sin_addr.s_addr == q->sin_addr.s_addr &&
		    (!with_port || p->sin_port == q->sin_port);
	}
	if (a.ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&a.ss;
		const struct sockaddr_in6 *q = (const struct sockaddr_in6 *)&b.ss;

		return memcmp(&p->sin6_addr, &q->sin6_addr, sizeof(p->sin6_addr)) == 0 &&
		    (!with_port || p->sin6_port == q->sin6_port);
	}
	return 0;
}

/* A socket of FAMILY bound to the wildcard address and PORT (0: any);
 * IPv6 ones take IPv4 too. */
static int
bound_socket(int family, int type, int port)
{
	struct addr a;
	int fd, off = 0, on = 1;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		a.len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)port);
		a.len = sizeof(*sin);
	}
	if ((fd = socket(family, type, 0)) < 0)
		return -1;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		goto fail;
	/* A TCP port a previous run left in TIME_WAIT can be taken again. */
	if (type == SOCK_STREAM && port != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0)
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

/* A server socket: dual-stack where the host has IPv6, IPv4 otherwise. */
static int
server_socket(int type, int port, const char *what)
{
	int fd = bound_socket(AF_INET6, type, port);

	if (fd < 0 && errno != EADDRINUSE)
		fd = bound_socket(AF_INET, type, port);
	if (fd < 0)
		fprintf(stderr, "natprobe: cannot bind %s port %d: %s\n", what, port,
		    strerror(errno));
	return fd;
}

static int
client_socket(int family, int type, int port)
{
	int fd = bound_socket(family, type, port);

	if (fd < 0)
		fprintf(stderr, "natprobe: cannot bind local %s port %d: %s\n",
		    type == SOCK_STREAM ? "tcp" : "udp", port, strerror(errno));
	return fd;
}

static int
send_text(int fd, const struct addr *to, const char *text)
{
	struct addr a;
	struct sockaddr_storage self;
	socklen_t slen = sizeof(self);

	/* A dual-stack socket reaches IPv4 hosts through v4-mapped addresses. */
	if (getsockname(fd, (struct sockaddr *)&self, &slen) < 0)
		return -1;
	for_family(to, self.ss_family, &a);
	return sendto(fd, text, strlen(text), 0, (struct sockaddr *)&a.ss, a.len) < 0 ? -1 : 0;
}

/* One datagram before DEADLINE, NUL-terminated, trailing blanks cut:
 * 1 got one, 0 none in time, -1 error. */
static int
recv_text(int fd, int64_t deadline, struct addr *from, char *buf, size_t cap)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r;
		from->len = sizeof(from->ss);
		n = recvfrom(fd, buf, cap - 1, 0, (struct sockaddr *)&from->ss, &from->len);
		if (n < 0) {
			/* An ICMP error from an earlier send; datagrams may still come. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH || errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
			n--;
		buf[n] = '\0';
		return 1;
	}
}

static int
all_answered(const struct probe *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].answered == 0)
			return 0;
	return 1;
}

/* Sends each unanswered probe to SERVER, TRIES times within the timeout,
 * and matches the answers by tag. 0, or -1 if the socket failed. */
static int
run_probes(int fd, const struct addr *server, struct probe *p, size_t n)
{
	static unsigned serial;
	int64_t deadline = now_ms() + timeout_ms, until;
	char buf[MSG_MAX], req[MSG_MAX];
	struct addr from;
	int r;

	for (size_t i = 0; i < n; i++) {
		snprintf(p[i].tag, sizeof(p[i].tag), "%ld.%u", (long)getpid(), ++serial);
		p[i].answered = 0;
	}
	for (int round = 1;; round++) {
		size_t pending = 0;

		for (size_t i = 0; i < n; i++) {
			if (p[i].answered != 0)
				continue;
			pending++;
			snprintf(req, sizeof(req), "%s %s", p[i].verb, p[i].tag);
			if (send_text(fd, server, req) < 0 && errno != ECONNREFUSED &&
			    errno != EHOSTUNREACH && errno != ENETUNREACH && errno != EPERM) {
				fprintf(stderr, "natprobe: send: %s\n", strerror(errno));
				return -1;
			}
		}
		if (pending == 0)
			return 0;
		until = round < TRIES ? now_ms() + timeout_ms / TRIES : deadline;
		if (until > deadline)
			until = deadline;
		while ((r = recv_text(fd, until, &from, buf, sizeof(buf))) > 0) {
			/* "ADDR:PORT TAG" or "ERR TAG REASON". */
			int err = strncmp(buf, "ERR ", 4) == 0;
			char *first = err ? buf + 4 : buf, *second, *tag;

			if ((second = strchr(first, ' ')) == NULL)
				continue;
			*second++ = '\0';
			second[strcspn(second, " ")] = '\0';
			tag = err ? first : second;
			for (size_t i = 0; i < n; i++) {
				if (p[i].answered != 0 || strcmp(p[i].tag, tag) != 0)
					continue;
				p[i].answered = err ? -1 : 1;
				p[i].from = from;
				snprintf(p[i].seen, sizeof(p[i].seen), "%.*s", ADDR_MAX - 1, err ? "" : first);
				snprintf(p[i].reason, sizeof(p[i].reason), "%.*s",
				    (int)sizeof(p[i].reason) - 1, err ? second : "");
			}
			if (all_answered(p, n))
				return 0;
		}
		if (r < 0) {
			fprintf(stderr, "natprobe: receive: %s\n", strerror(errno));
			return -1;
		}
		if (now_ms() >= deadline)
			return 0;
	}
}

static int
server_refused(const struct probe *p, const char *server)
{
	fprintf(stderr, "natprobe: %s refuses %s: %s\n", server, p->verb, p->reason);
	return NP_FAIL;
}

static int
cmd_ask(int localport, const struct addr *server)
{
	struct probe p = { .verb = "ASK" };
	char s[ADDR_MAX];
	int fd;

	fmt_addr(server, s);
	if ((fd = client_socket(server->ss.ss_family, SOCK_DGRAM, localport)) < 0)
		return NP_FAIL;
	if (run_probes(fd, server, &p, 1) < 0) {
		close(fd);
		return NP_FAIL;
	}
	close(fd);
	if (p.answered < 0)
		return server_refused(&p, s);
	if (p.answered == 0) {
		fprintf(stderr, "natprobe: no answer from %s within %d ms\n", s, timeout_ms);
		return NP_NOANSWER;
	}
	printf("%s\n", p.seen);
	return NP_OK;
}

static int
cmd_map(int localport, const struct addr *s1, const struct addr *s2)
{
	struct probe p[2] = { { .verb = "ASK" }, { .verb = "ASK" } };
	const struct addr *server[2] = { s1, s2 };
	char s[2][ADDR_MAX];
	int fd, status = NP_OK;

	if (s1->ss.ss_family != s2->ss.ss_family) {
		fprintf(stderr, "natprobe: map: both servers must be IPv4 or both IPv6\n");
		return NP_USAGE;
	}
	if ((fd = client_socket(s1->ss.ss_family, SOCK_DGRAM, localport)) < 0)
		return NP_FAIL;
	/* One after the other: each server's answer is the mapping to it alone. */
	for (int i = 0; i < 2; i++) {
		fmt_addr(server[i], s[i]);
		if (run_probes(fd, server[i], &p[i], 1) < 0) {
			close(fd);
			return NP_FAIL;
		}
		if (p[i].answered < 0) {
			close(fd);
			return server_refused(&p[i], s[i]);
		}
		if (p[i].answered == 0) {
			printf("%s: no answer within %d ms\n", s[i], timeout_ms);
			status = NP_NOANSWER;
		} else {
			printf("%s sees %s\n", s[i], p[i].seen);
		}
	}
	close(fd);
	if (status == NP_OK)
		printf("mapping: %s\n", strcmp(p[0].seen, p[1].seen) == 0 ? "same" : "different");
	return status;
}

static int
cmd_filter(int localport, const struct addr *server)
{
	struct probe ask = { .verb = "ASK" };
	struct probe p[2] = { { .verb = "ALT" }, { .verb = "OTHER" } };
	const char *label[2] = { "other port", "other host" };
	char s[ADDR_MAX], f[ADDR_MAX];
	int fd, in[2];

	fmt_addr(server, s);
	if ((fd = client_socket(server->ss.ss_family, SOCK_DGRAM, localport)) < 0)
		return NP_FAIL;
	if (run_probes(fd, server, &ask, 1) < 0)
		goto fail;
	if (ask.answered < 0) {
		close(fd);
		return server_refused(&ask, s);
	}
	if (ask.answered == 0) {
		close(fd);
		printf("same port: nothing within %d ms\n", timeout_ms);
		return NP_NOANSWER;
	}
	fmt_addr(&ask.from, f);
	printf("mapping: %s\nsame port: answered by %s\n", ask.seen, f);
	/* Both at once: a NAT that filters costs one timeout, not two. */
	if (run_probes(fd, server, p, 2) < 0)
		goto fail;
	close(fd);
	for (int i = 0; i < 2; i++) {
		if (p[i].answered < 0)
			return server_refused(&p[i], s);
		/* The answer must come from where it says: the other port of the
		 * server's host, or another host. */
		in[i] = p[i].answered > 0 && (i == 0 ?
		    same_endpoint(&p[i].from, server, 0) && !same_endpoint(&p[i].from, server, 1) :
		    !same_endpoint(&p[i].from, server, 0));
		if (p[i].answered > 0) {
			fmt_addr(&p[i].from, f);
			printf("%s: answered by %s%s\n", label[i], f, in[i] ? "" : " (unexpected source)");
		} else {
			printf("%s: nothing within %d ms\n", label[i], timeout_ms);
		}
	}
	if (in[0] && in[1])
		printf("filtering: endpoint-independent\n");
	else if (in[0])
		printf("filtering: address-dependent\n");
	else if (!in[1])
		printf("filtering: address-and-port-dependent\n");
	else
		printf("filtering: inconsistent (another host got in, another port did not)\n");
	return NP_OK;
fail:
	close(fd);
	return NP_FAIL;
}

static int
cmd_send(int fromport, const struct addr *to, const char *msg)
{
	int fd = client_socket(to->ss.ss_family, SOCK_DGRAM, fromport);

	if (fd < 0)
		return NP_FAIL;
	if (send_text(fd, to, msg) < 0) {
		fprintf(stderr, "natprobe: send: %s\n", strerror(errno));
		close(fd);
		return NP_FAIL;
	}
	close(fd);
	return NP_OK;
}

static int
cmd_recv(int localport)
{
	char buf[MSG_MAX], f[ADDR_MAX];
	struct addr from;
	int fd = server_socket(SOCK_DGRAM, localport, "udp"), r;

	if (fd < 0)
		return NP_FAIL;
	r = recv_text(fd, now_ms() + timeout_ms, &from, buf, sizeof(buf));
	close(fd);
	if (r < 0) {
		fprintf(stderr, "natprobe: receive: %s\n", strerror(errno));
		return NP_FAIL;
	}
	if (r == 0) {
		fprintf(stderr, "natprobe: nothing on udp port %d within %d ms\n", localport,
		    timeout_ms);
		return NP_NOANSWER;
	}
	fmt_addr(&from, f);
	printf("%s %s\n", f, buf);
	return NP_OK;
}

/* The echo server's answer to one datagram on FD (ALT_FD: its other port). */
static void
echo_one(int fd, int alt_fd, const struct addr *peer, const struct addr *from, char *msg)
{
	char seen[ADDR_MAX], out[MSG_MAX];
	const char *tag = strchr(msg, ' ');
	int via = fd;

	fmt_addr(from, seen);
	tag = tag != NULL ? tag + 1 : "";
	if (strncmp(msg, "ASK ", 4) == 0) {
		snprintf(out, sizeof(out), "%s %.64s", seen, tag);
	} else if (strncmp(msg, "ALT ", 4) == 0) {
		if (alt_fd < 0) {
			snprintf(out, sizeof(out), "ERR %.64s no-alt-port", tag);
		} else {
			snprintf(out, sizeof(out), "%s %.64s", seen, tag);
			via = alt_fd;
		}
	} else if (strncmp(msg, "OTHER ", 6) == 0) {
		if (peer == NULL) {
			snprintf(out, sizeof(out), "ERR %.64s no-peer", tag);
		} else {
			char p[ADDR_MAX];

			fmt_addr(peer, p);
			snprintf(out, sizeof(out), "POKE %s %.64s", seen, tag);
			if (send_text(fd, peer, out) < 0)
				printf("%s: OTHER %s: cannot tell %s: %s\n", seen, tag, p,
				    strerror(errno));
			else
				printf("%s: OTHER %s: told %s\n", seen, tag, p);
			return;
		}
	} else if (strncmp(msg, "POKE ", 5) == 0) {
		char target[ADDR_MAX];
		const char *sp = strchr(tag, ' ');
		struct addr to;

		if (sp == NULL || (size_t)(sp - tag) >= sizeof(target)) {
			printf("%s: bad POKE\n", seen);
			return;
		}
		memcpy(target, tag, (size_t)(sp - tag));
		target[sp - tag] = '\0';
		if (parse_addr(target, &to) < 0) {
			printf("%s: bad POKE address '%s'\n", seen, target);
			return;
		}
		/* Tell the client what the first server saw, from this host. */
		snprintf(out, sizeof(out), "%.128s", tag);
		if (send_text(fd, &to, out) < 0)
			printf("%s: POKE: cannot send to %s: %s\n", seen, target, strerror(errno));
		else
			printf("%s: POKE: sent to %s\n", seen, target);
		return;
	} else {
		snprintf(out, sizeof(out), "%s", seen);
	}
	if (send_text(via, from, out) < 0)
		printf("%s: cannot answer: %s\n", seen, strerror(errno));
	else
		printf("%s: %.16s -> %s%s\n", seen, msg, out, via == fd ? "" : " (from the alt port)");
}

static int
cmd_echo(int port, int alt, const struct addr *peer)
{
	struct pollfd pfd[2];
	char buf[MSG_MAX], p[ADDR_MAX] = "none";
	struct addr from;
	int nfd = 1;

	if ((pfd[0].fd = server_socket(SOCK_DGRAM, port, "udp")) < 0)
		return NP_FAIL;
	pfd[0].events = POLLIN;
	pfd[1].fd = -1;
	if (alt > 0) {
		if ((pfd[1].fd = server_socket(SOCK_DGRAM, alt, "udp")) < 0)
			return NP_FAIL;
		pfd[1].events = POLLIN;
		nfd = 2;
	}
	if (peer != NULL)
		fmt_addr(peer, p);
	printf("natprobe: echo on udp port %d, alt port %d, peer %s\n", port, alt, p);
	for (;;) {
		if (poll(pfd, (nfds_t)nfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "natprobe: poll: %s\n", strerror(errno));
			return NP_FAIL;
		}
		for (int i = 0; i < nfd; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			from.len = sizeof(from.ss);
			ssize_t n = recvfrom(pfd[i].fd, buf, sizeof(buf) - 1, 0,
			    (struct sockaddr *)&from.ss, &from.len);
			if (n < 0)
				continue;
			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
				n--;
			buf[n] = '\0';
			/* A request to the alt port is answered from there. */
			echo_one(pfd[i].fd, pfd[1].fd, peer, &from, buf);
		}
	}
}

/* Reads one line from a connection before DEADLINE: its length, or -1. */
static ssize_t
read_line(int fd, int64_t deadline, char *buf, size_t cap)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t len = 0;

	while (len + 1 < cap) {
		int64_t left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			return -1;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return (ssize_t)strlen(buf);
}

static int
cmd_echo_tcp(int port)
{
	char buf[MSG_MAX], seen[ADDR_MAX], out[MSG_MAX];
	struct addr from;
	int lfd = server_socket(SOCK_STREAM, port, "tcp");

	if (lfd < 0)
		return NP_FAIL;
	if (listen(lfd, 16) < 0) {
		fprintf(stderr, "natprobe: listen: %s\n", strerror(errno));
		return NP_FAIL;
	}
	printf("natprobe: echo on tcp port %d\n", port);
	/* One connection at a time, each bounded by the timeout. */
	for (;;) {
		const char *tag;
		int fd;

		from.len = sizeof(from.ss);
		fd = accept(lfd, (struct sockaddr *)&from.ss, &from.len);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "natprobe: accept: %s\n", strerror(errno));
			return NP_FAIL;
		}
		fmt_addr(&from, seen);
		if (read_line(fd, now_ms() + timeout_ms, buf, sizeof(buf)) < 0) {
			printf("%s: no request within %d ms\n", seen, timeout_ms);
			close(fd);
			continue;
		}
		tag = strncmp(buf, "ASK ", 4) == 0 ? buf + 4 : NULL;
		snprintf(out, sizeof(out), "%s%s%.64s\n", seen, tag ? " " : "", tag ? tag : "");
		if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0)
			printf("%s: cannot answer: %s\n", seen, strerror(errno));
		else
			printf("%s: %.16s -> %.*s\n", seen, buf, (int)strlen(out) - 1, out);
		close(fd);
	}
}

static int
cmd_ask_tcp(const struct addr *server, int fromport)
{
	char s[ADDR_MAX], buf[MSG_MAX], req[64], *tag;
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd;
	int fd, err = 0, r;
	socklen_t elen = sizeof(err);

	fmt_addr(server, s);
	if ((fd = client_socket(server->ss.ss_family, SOCK_STREAM, fromport)) < 0)
		return NP_FAIL;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&server->ss, server->len) < 0 &&
	    errno != EINPROGRESS)
		goto refused;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		int64_t left = deadline - now_ms();

		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		goto fail;
	if (r == 0) {
		fprintf(stderr, "natprobe: no tcp connection to %s within %d ms\n", s, timeout_ms);
		close(fd);
		return NP_NOANSWER;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		goto fail;
	if (err != 0) {
		errno = err;
		goto refused;
	}
	snprintf(req, sizeof(req), "ASK %ld.tcp\n", (long)getpid());
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		goto refused;
	if (read_line(fd, deadline, buf, sizeof(buf)) <= 0) {
		fprintf(stderr, "natprobe: no answer from %s within %d ms\n", s, timeout_ms);
		close(fd);
		return NP_NOANSWER;
	}
	close(fd);
	if ((tag = strchr(buf, ' ')) != NULL)
		*tag = '\0';
	printf("%s\n", buf);
	return NP_OK;
refused:
	fprintf(stderr, "natprobe: tcp to %s: %s\n", s, strerror(errno));
	close(fd);
	return NP_NOANSWER;
fail:
	fprintf(stderr, "natprobe: tcp to %s: %s\n", s, strerror(errno));
	close(fd);
	return NP_FAIL;
}

static int
need_port(const char *s, int allow_zero)
{
	int port = parse_port(s, allow_zero);

	if (port < 0) {
		fprintf(stderr, "natprobe: bad port '%s'\n", s);
		usage();
	}
	return port;
}

static void
need_addr(const char *s, struct addr *a)
{
	if (parse_addr(s, a) < 0) {
		fprintf(stderr, "natprobe: bad address '%s' (A.B.C.D:PORT or [IPV6]:PORT)\n", s);
		usage();
	}
}

int
main(int argc, char **argv)
{
	const char *arg[4], *alt = NULL, *peer = NULL, *from = NULL, *cmd;
	struct addr a, b;
	int narg = 0, has_peer = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char **opt = NULL;

		if (strcmp(argv[i], "--timeout") == 0 || strcmp(argv[i], "-t") == 0) {
			char *end;
			long v;

			if (++i == argc)
				usage();
			errno = 0;
			v = strtol(argv[i], &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > 600000) {
				fprintf(stderr, "natprobe: bad timeout '%s' (1..600000 ms)\n", argv[i]);
				usage();
			}
			timeout_ms = (int)v;
			continue;
		}
		if (strcmp(argv[i], "--alt") == 0)
			opt = &alt;
		else if (strcmp(argv[i], "--peer") == 0)
			opt = &peer;
		else if (strcmp(argv[i], "--from") == 0)
			opt = &from;
		if (opt != NULL) {
			if (++i == argc)
				usage();
			*opt = argv[i];
			continue;
		}
		if (narg == 4)
			usage();
		arg[narg++] = argv[i];
	}
	if (narg == 0)
		usage();
	cmd = arg[0];
	if ((alt != NULL || peer != NULL) && strcmp(cmd, "echo") != 0)
		usage();
	if (from != NULL && strcmp(cmd, "send") != 0 && strcmp(cmd, "ask-tcp") != 0)
		usage();
	if (strcmp(cmd, "echo") == 0 && narg == 2) {
		if (peer != NULL) {
			need_addr(peer, &b);
			has_peer = 1;
		}
		return cmd_echo(need_port(arg[1], 0), alt != NULL ? need_port(alt, 0) : 0,
		    has_peer ? &b : NULL);
	}
	if (strcmp(cmd, "echo-tcp") == 0 && narg == 2)
		return cmd_echo_tcp(need_port(arg[1], 0));
	if (strcmp(cmd, "ask") == 0 && narg == 3) {
		need_addr(arg[2], &a);
		return cmd_ask(need_port(arg[1], 1), &a);
	}
	if (strcmp(cmd, "ask-tcp") == 0 && narg == 2) {
		need_addr(arg[1], &a);
		return cmd_ask_tcp(&a, from != NULL ? need_port(from, 1) : 0);
	}
	if (strcmp(cmd, "map") == 0 && narg == 4) {
		need_addr(arg[2], &a);
		need_addr(arg[3], &b);
		return cmd_map(need_port(arg[1], 1), &a, &b);
	}
	if (strcmp(cmd, "filter") == 0 && narg == 3) {
		need_addr(arg[2], &a);
		return cmd_filter(need_port(arg[1], 1), &a);
	}
	if (strcmp(cmd, "send") == 0 && narg == 3) {
		need_addr(arg[1], &a);
		return cmd_send(from != NULL ? need_port(from, 1) : 0, &a, arg[2]);
	}
	if (strcmp(cmd, "recv") == 0 && narg == 2)
		return cmd_recv(need_port(arg[1], 0));
	usage();
	return NP_USAGE;
}
