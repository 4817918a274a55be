/*
 * cpprobe: the members' control plane (docs/control-plane.md) spoken as a
 * member, for the system tests (tests/system/rendezvous.sh): it proves what
 * the gateway's rendezvous forwards and what it refuses.
 *
 *   cpprobe --state DIR [--gateway [ADDR]:PORT] [--bind ADDR] [--key-random]
 *           [--hello-version V] [--align] ice PEERKEY [COUNT]
 *
 * DIR is a member's state directory: its device key (keys/, unsealed) signs
 * HELLO, and DIR/gateway gives the gateway's Ed25519 key, which the
 * signature covers, and its overlay address and control port (the default
 * for --gateway). With --key-random HELLO is signed by a fresh Ed25519 key
 * that is nobody's: a program on the member's host that is not its
 * signpostd. --hello-version says V in HELLO whatever the challenge says
 * (1: a member from before ICE, to which the gateway gives no rendezvous).
 * --bind is the member's overlay address (run cpprobe in the
 * member's network namespace). --align waits for the next second of
 * CLOCK_MONOTONIC, the gateway's clock for its ICE rate, before connecting.
 *
 * It connects, reads CHALLENGE, answers HELLO (version 2, or the
 * challenge's if lower), waits for the whole member list, then sends COUNT
 * (default 1) ICE messages for PEERKEY (base64, 32 bytes: a member's
 * Ed25519 key as `signpost device list` prints it), all of one random
 * session, answers 0, ufrag, pwd and one host candidate, and a PING after
 * them. The gateway handles a connection's messages in order, so its PONG
 * says it has handled every ICE message. Then it listens for 1 s (and for
 * the PONG, up to 5 s).
 *
 * One line per event on standard output:
 *   challenge version=V       the gateway's CHALLENGE
 *   hello-accepted members=N  the last part of MEMBERS: HELLO verified
 *   sent N                    N ICE messages (and the PING) written
 *   fenced S                  the PONG: the gateway handled the N messages
 *                             within S seconds of CLOCK_MONOTONIC (1: all
 *                             in one second, as its rate limit counts them)
 *   received T                any other message, of type T; for ICE,
 *                             "received 11 peer=KEY": the member it came
 *                             from, as the gateway wrote it
 *   closed                    the gateway closed the connection
 * Exit status: 0 it got as far as sending; 3 the gateway closed the
 * connection before MEMBERS (refused at accept or at HELLO); 1 anything
 * else (no answer in time, closed after MEMBERS but before the ICE
 * messages were written, a malformed message); 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sp_cloud.h"
#include "sp_member.h"
#include "sp_platform.h"

enum { CP_SENT = 0, CP_FAIL = 1, CP_USAGE = 2, CP_REFUSED = 3 };

#define STEP_MS 5000        /* connect, CHALLENGE, MEMBERS, writing: each */
#define LISTEN_MS 1000      /* after sending, for what comes back */
#define COUNT_MAX 1000
#define PING_MAX 16         /* a PING is its length and its type */

/* One connection and its input: at most one message plus its length. */
struct conn {
	int fd;
	uint8_t in[SP_CP_MSG_MAX + 2];
	size_t inlen;
	sp_cp_msg *msg;   /* the last message read */
};

enum { GOT_MSG = 1, GOT_CLOSED = 0, GOT_TIMEOUT = -1, GOT_ERROR = -2 };

static int
usage(void)
{
	fprintf(stderr, "usage: cpprobe --state DIR [--gateway [ADDR]:PORT] [--bind ADDR] "
	    "[--key-random] [--hello-version V] [--align] ice PEERKEY [COUNT]\n");
	return CP_USAGE;
}

/* Milliseconds left to deadline, for poll: 0 once it has passed. */
static int
left_ms(uint64_t deadline)
{
	uint64_t now = sp_clock_mono_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* 1 when fd is ready for events, 0 at the deadline, -1 on an error. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&p, 1, left_ms(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR) {
			fprintf(stderr, "cpprobe: poll: %s\n", strerror(errno));
			return -1;
		}
	}
}

/* Connect from bind_to (if any) to gw, within STEP_MS. */
static int
open_conn(const struct sockaddr_storage *gw, socklen_t gwlen, const char *bind_to)
{
	uint64_t deadline = sp_clock_mono_ms() + STEP_MS;
	int fd, err = 0;
	socklen_t el = sizeof(err);

	if ((fd = socket(gw->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "cpprobe: socket: %s\n", strerror(errno));
		return -1;
	}
	if (bind_to != NULL) {
		struct sockaddr_in6 b;
		memset(&b, 0, sizeof(b));
		b.sin6_family = AF_INET6;
		if (gw->ss_family != AF_INET6 || inet_pton(AF_INET6, bind_to, &b.sin6_addr) != 1) {
			fprintf(stderr, "cpprobe: --bind %s: not an IPv6 address (the gateway's "
			    "control plane is on its overlay address)\n", bind_to);
			close(fd);
			return -1;
		}
		if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0) {
			fprintf(stderr, "cpprobe: bind %s: %s\n", bind_to, strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)gw, gwlen) != 0 && errno != EINPROGRESS) {
		fprintf(stderr, "cpprobe: connect: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (wait_fd(fd, POLLOUT, deadline) != 1) {
		fprintf(stderr, "cpprobe: connect: no answer within %d ms\n", STEP_MS);
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		fprintf(stderr, "cpprobe: connect: %s\n", strerror(err != 0 ? err : errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Write all of buf before deadline; -1 if the connection failed or the
 * gateway did not read. */
static int
send_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) == 1)
				continue;
			fprintf(stderr, "cpprobe: the gateway did not read within %d ms\n", STEP_MS);
			return -1;
		}
		fprintf(stderr, "cpprobe: send: %s\n", n < 0 ? strerror(errno) : "nothing written");
		return -1;
	}
	return 0;
}

/* The next message into c->msg, by deadline. */
static int
next_msg(struct conn *c, uint64_t deadline)
{
	for (;;) {
		if (c->inlen >= 2) {
			size_t body = (size_t)c->in[0] << 8 | c->in[1];
			if (body > SP_CP_MSG_MAX) {
				fprintf(stderr, "cpprobe: a message of %zu bytes from the gateway\n", body);
				return GOT_ERROR;
			}
			if (c->inlen >= 2 + body) {
				int rc = sp_cp_decode(c->in + 2, body, c->msg);
				memmove(c->in, c->in + 2 + body, c->inlen - 2 - body);
				c->inlen -= 2 + body;
				if (rc != SP_OK) {
					fprintf(stderr, "cpprobe: a malformed message from the gateway\n");
					return GOT_ERROR;
				}
				return GOT_MSG;
			}
		}
		ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n > 0) {
			c->inlen += (size_t)n;
			continue;
		}
		if (n == 0 || errno == ECONNRESET || errno == EPIPE)
			return GOT_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			fprintf(stderr, "cpprobe: recv: %s\n", strerror(errno));
			return GOT_ERROR;
		}
		switch (wait_fd(c->fd, POLLIN, deadline)) {
		case 1:
			continue;
		case 0:
			return GOT_TIMEOUT;
		default:
			return GOT_ERROR;
		}
	}
}

/* The device key and the gateway's details from a member's state. */
static int
load_member(const char *dir, int random_key, sp_key **key, sp_gateway_info *gw, char *name,
    size_t namelen)
{
	sp_store *store = NULL;
	sp_key **keys = NULL;
	size_t nkeys = 0;
	sp_cloud cloud;
	sp_errmsg e;
	int rc;

	*key = NULL;
	/* No lock: the member's signpostd holds it, and nothing is written. */
	if ((rc = sp_store_open_dir(dir, 0, &store, &e)) != SP_OK ||
	    (rc = sp_cloud_load(store, &cloud, &e)) != SP_OK ||
	    (rc = sp_gateway_info_load(store, gw, &e)) != SP_OK)
		goto out;
	if (cloud.role != SP_NODE_DEVICE) {
		rc = sp_errf(&e, SP_EINVAL, "%s is not a member's state (its role is %s)", dir,
		    sp_role_name(cloud.role));
		goto out;
	}
	snprintf(name, namelen, "%s", random_key ? "cpprobe" : cloud.name);
	if (random_key) {
		if ((rc = sp_key_generate(SP_ROLE_DEVICE, 0, sp_platform_rng(), key)) != SP_OK)
			sp_errf(&e, rc, "cannot make a key: %s", sp_strerror(rc));
		goto out;
	}
	if ((rc = sp_keystore_load_all(store, NULL, 0, &keys, &nkeys, &e)) != SP_OK)
		goto out;
	/* The daemon's choice (sp_daemon_device_key): the active device key. */
	for (size_t i = 0; i < nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(keys[i]);
		if (k->role == SP_ROLE_DEVICE && k->state == SP_KSTATE_ACTIVE) {
			*key = keys[i];
			keys[i] = NULL;
			break;
		}
	}
	if (*key == NULL)
		rc = sp_errf(&e, SP_ENOENT, "%s/keys: no active device key", dir);
out:
	sp_keystore_free_all(keys, nkeys);
	sp_store_close(store);
	if (rc != SP_OK)
		fprintf(stderr, "cpprobe: %s\n", e.msg);
	return rc;
}

/* Until the start of the next second of CLOCK_MONOTONIC. */
static void
align_second(void)
{
	uint64_t next = (sp_clock_mono_ms() / 1000 + 1) * 1000;
	struct timespec ts = { .tv_sec = (time_t)(next / 1000), .tv_nsec = 0 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* COUNT ICE messages of one offer's session, then a PING, as one buffer. */
static uint8_t *
ice_burst(const uint8_t peer[32], unsigned count, sp_cp_msg *m, size_t *total)
{
	uint8_t one[SP_CP_MSG_MAX + 2], *buf;
	size_t len;

	memset(m, 0, sizeof(*m));
	m->type = SP_CP_ICE;
	memcpy(m->peer, peer, 32);
	do
		m->session = randombytes_random();
	while (m->session == 0);
	m->answers = 0;
	snprintf(m->ufrag, sizeof(m->ufrag), "abcd");
	snprintf(m->pwd, sizeof(m->pwd), "cpprobe-pwd-0123456789ab");
	/* TEST-NET-1: checks to it go nowhere. */
	snprintf(m->candidates[0], sizeof(m->candidates[0]),
	    "a=candidate:1 1 UDP 2013266431 192.0.2.1 40000 typ host");
	m->ncandidates = 1;
	if (sp_cp_encode(m, one, sizeof(one), &len) != SP_OK) {
		fprintf(stderr, "cpprobe: the ICE message does not encode\n");
		return NULL;
	}
	if ((buf = malloc(len * count + PING_MAX)) == NULL) {
		fprintf(stderr, "cpprobe: out of memory\n");
		return NULL;
	}
	for (unsigned i = 0; i < count; i++)
		memcpy(buf + len * i, one, len);
	*total = len * count;
	memset(m, 0, sizeof(*m));
	m->type = SP_CP_PING;
	if (sp_cp_encode(m, buf + *total, PING_MAX, &len) != SP_OK) {
		fprintf(stderr, "cpprobe: the PING does not encode\n");
		free(buf);
		return NULL;
	}
	*total += len;
	return buf;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "bind", required_argument, NULL, 'b' },
		{ "key-random", no_argument, NULL, 'r' },
		{ "align", no_argument, NULL, 'a' },
		{ "hello-version", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *gateway = NULL, *bind_to = NULL;
	int random_key = 0, align = 0, opt, rc = CP_FAIL, got, fenced = 0;
	uint8_t peer[32], signed_part[SP_CP_HELLO_SIGNED], *burst = NULL;
	size_t got_len, burst_len = 0, nmembers = 0;
	unsigned long count = 1, hello_version = 0;
	struct sockaddr_storage gw;
	socklen_t gwlen;
	sp_gateway_info info;
	struct conn c;
	char name[64];
	sp_key *key = NULL;
	uint64_t first_ms, deadline;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': state = optarg; break;
		case 'g': gateway = optarg; break;
		case 'b': bind_to = optarg; break;
		case 'r': random_key = 1; break;
		case 'a': align = 1; break;
		case 'v': {
			char *end;
			hello_version = strtoul(optarg, &end, 10);
			if (*end != '\0' || hello_version < 1 || hello_version > SP_CP_VERSION)
				return usage();
			break;
		}
		default: return usage();
		}
	}
	if (state == NULL || argc - optind < 2 || argc - optind > 3 ||
	    strcmp(argv[optind], "ice") != 0)
		return usage();
	if (sodium_init() < 0)
		return CP_FAIL;
	if (sodium_base642bin(peer, sizeof(peer), argv[optind + 1], strlen(argv[optind + 1]),
	    NULL, &got_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got_len != 32) {
		fprintf(stderr, "cpprobe: PEERKEY must be 32 bytes in base64\n");
		return CP_USAGE;
	}
	if (argc - optind == 3) {
		char *end;
		errno = 0;
		count = strtoul(argv[optind + 2], &end, 10);
		if (errno != 0 || *end != '\0' || count == 0 || count > COUNT_MAX) {
			fprintf(stderr, "cpprobe: COUNT must be 1 to %d\n", COUNT_MAX);
			return CP_USAGE;
		}
	}
	if (load_member(state, random_key, &key, &info, name, sizeof(name)) != SP_OK)
		return CP_FAIL;
	if (gateway != NULL) {
		if (sp_addr_parse(gateway, &gw, &gwlen) != SP_OK) {
			fprintf(stderr, "cpprobe: --gateway %s: not [ADDR]:PORT\n", gateway);
			sp_key_free(key);
			return CP_USAGE;
		}
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&gw;
		memset(&gw, 0, sizeof(gw));
		a->sin6_family = AF_INET6;
		memcpy(a->sin6_addr.s6_addr, info.addr, 16);
		a->sin6_port = htons(info.control_port);
		gwlen = sizeof(*a);
	}

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if ((c.msg = malloc(sizeof(*c.msg))) == NULL) {
		fprintf(stderr, "cpprobe: out of memory\n");
		goto out;
	}
	if (align)
		align_second();
	if ((c.fd = open_conn(&gw, gwlen, bind_to)) < 0)
		goto out;

	deadline = sp_clock_mono_ms() + STEP_MS;
	got = next_msg(&c, deadline);
	if (got == GOT_CLOSED) {
		printf("closed\n");
		rc = CP_REFUSED;
		goto out;
	}
	if (got != GOT_MSG || c.msg->type != SP_CP_CHALLENGE) {
		fprintf(stderr, "cpprobe: %s\n", got == GOT_TIMEOUT ? "no CHALLENGE in time" :
		    got == GOT_MSG ? "the first message is not CHALLENGE" : "no CHALLENGE");
		goto out;
	}
	printf("challenge version=%u\n", c.msg->version);
	{
		uint32_t version = hello_version != 0 ? (uint32_t)hello_version :
		    c.msg->version >= 1 && c.msg->version < SP_CP_VERSION ? c.msg->version :
		    SP_CP_VERSION;
		uint8_t nonce[32], out[SP_CP_MSG_MAX + 2];
		size_t len;
		memcpy(nonce, c.msg->nonce, sizeof(nonce));
		memset(c.msg, 0, sizeof(*c.msg));
		c.msg->type = SP_CP_HELLO;
		c.msg->version = version;
		snprintf(c.msg->name, sizeof(c.msg->name), "%s", name);
		sp_cp_hello_signed(nonce, info.key, sp_key_info_of(key)->pub, signed_part);
		if (sp_key_sign(key, signed_part, sizeof(signed_part), c.msg->sig) != SP_OK ||
		    sp_cp_encode(c.msg, out, sizeof(out), &len) != SP_OK) {
			fprintf(stderr, "cpprobe: cannot make HELLO\n");
			goto out;
		}
		if (send_all(c.fd, out, len, sp_clock_mono_ms() + STEP_MS) != 0)
			goto out;
	}

	/* The whole list, or the connection closing: refused at HELLO. */
	deadline = sp_clock_mono_ms() + STEP_MS;
	for (;;) {
		got = next_msg(&c, deadline);
		if (got == GOT_CLOSED) {
			printf("closed\n");
			rc = CP_REFUSED;
			goto out;
		}
		if (got != GOT_MSG) {
			fprintf(stderr, "cpprobe: %s\n", got == GOT_TIMEOUT ?
			    "neither MEMBERS nor a close in time" : "no MEMBERS");
			goto out;
		}
		if (c.msg->type != SP_CP_MEMBERS) {
			printf("received %d\n", (int)c.msg->type);
			continue;
		}
		nmembers += c.msg->nmembers;
		if (c.msg->more == 0)
			break;
	}
	printf("hello-accepted members=%zu\n", nmembers);

	if ((burst = ice_burst(peer, (unsigned)count, c.msg, &burst_len)) == NULL)
		goto out;
	first_ms = sp_clock_mono_ms();
	if (send_all(c.fd, burst, burst_len, first_ms + STEP_MS) != 0) {
		printf("closed\n");
		goto out;
	}
	printf("sent %lu\n", count);
	rc = CP_SENT;

	/* LISTEN_MS for what comes back, and up to STEP_MS for the PONG. */
	{
		uint64_t listen_end = sp_clock_mono_ms() + LISTEN_MS;
		uint64_t pong_end = first_ms + STEP_MS;
		for (;;) {
			uint64_t now = sp_clock_mono_ms();
			if (now >= listen_end && (fenced || now >= pong_end))
				break;
			got = next_msg(&c, fenced ? listen_end : pong_end > listen_end ?
			    pong_end : listen_end);
			if (got == GOT_CLOSED) {
				printf("closed\n");
				break;
			}
			if (got == GOT_TIMEOUT)
				continue;
			if (got != GOT_MSG)
				break;
			if (c.msg->type == SP_CP_PONG && !fenced) {
				printf("fenced %llu\n", (unsigned long long)
				    (sp_clock_mono_ms() / 1000 - first_ms / 1000 + 1));
				fenced = 1;
			} else if (c.msg->type == SP_CP_ICE) {
				char b64[64];
				sodium_bin2base64(b64, sizeof(b64), c.msg->peer, 32,
				    sodium_base64_VARIANT_ORIGINAL);
				printf("received %d peer=%s\n", (int)c.msg->type, b64);
			} else {
				printf("received %d\n", (int)c.msg->type);
			}
		}
	}
out:
	if (c.msg != NULL) {
		sodium_memzero(c.msg, sizeof(*c.msg));
		free(c.msg);
	}
	free(burst);
	if (c.fd >= 0)
		close(c.fd);
	sp_key_free(key);
	return rc;
}
