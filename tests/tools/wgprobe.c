/*
 * wgprobe: the WireGuard core on a plain UDP socket, no TUN, for proving
 * wire compatibility with wireguard-go before the daemon's adapters exist.
 *
 *   wgprobe ping  PRIVKEY PEERPUB ENDPOINT LISTEN_PORT OUR_IP PEER_IP
 *       initiate a handshake to the peer, send an ICMP echo request from
 *       OUR_IP to PEER_IP through the tunnel, and expect the reply
 *   wgprobe serve PRIVKEY PEERPUB LISTEN_PORT OUR_IP SECONDS
 *       answer the peer's handshakes and echo requests to OUR_IP
 *   wgprobe flood PRIVKEY PEERPUB ENDPOINT LISTEN_PORT COUNT
 *       send COUNT initiations back to back and count the responses and
 *       cookie replies that come back
 *
 * Keys are base64, as `wg genkey`/`wg pubkey` print them. Exit 0 on
 * success; every step is printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sp_platform.h"
#include "sp_wg.h"

static int
key64(const char *s, uint8_t out[32])
{
	size_t got;

	return sodium_base642bin(out, 32, s, strlen(s), NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && got == 32 ? 0 : -1;
}

static uint16_t
csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)(p[len - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An IPv4 ICMP echo (type 8) or echo reply (type 0) with 32 bytes of data. */
static size_t
icmp_packet(uint8_t *pkt, uint8_t type, const struct in_addr *src, const struct in_addr *dst,
    uint16_t id, uint16_t seq, const uint8_t *data)
{
	size_t len = 20 + 8 + 32;
	uint16_t c;

	memset(pkt, 0, len);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = 1;   /* ICMP */
	memcpy(pkt + 12, src, 4);
	memcpy(pkt + 16, dst, 4);
	c = csum(pkt, 20);
	pkt[10] = (uint8_t)(c >> 8);
	pkt[11] = (uint8_t)c;
	pkt[20] = type;
	pkt[24] = (uint8_t)(id >> 8);
	pkt[25] = (uint8_t)id;
	pkt[26] = (uint8_t)(seq >> 8);
	pkt[27] = (uint8_t)seq;
	memcpy(pkt + 28, data, 32);
	c = csum(pkt + 20, 8 + 32);
	pkt[22] = (uint8_t)(c >> 8);
	pkt[23] = (uint8_t)c;
	return len;
}

static void
wall(int64_t *s, uint32_t *ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*s = ts.tv_sec;
	*ns = (uint32_t)ts.tv_nsec;
}

struct probe {
	int fd;
	sp_wg *wg;
	sp_wg_peer *peer;
	struct sockaddr_storage peer_addr;
	socklen_t peer_len;
	int have_peer_addr;
};

static int
send_to_peer(struct probe *p, const uint8_t *msg, size_t len)
{
	if (!p->have_peer_addr)
		return -1;
	return sendto(p->fd, msg, len, 0, (struct sockaddr *)&p->peer_addr, p->peer_len) ==
	    (ssize_t)len ? 0 : -1;
}

/* Receive one datagram (up to timeout_ms) and run it through the core. */
static int
receive_one(struct probe *p, int timeout_ms, uint8_t *buf, size_t cap, sp_wg_rx *rx)
{
	struct pollfd pfd = { p->fd, POLLIN, 0 };
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	uint8_t reply[SP_WG_MIN_REPLY];
	ssize_t n;

	memset(rx, 0, sizeof(*rx));
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	n = recvfrom(p->fd, buf, cap, 0, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return -1;
	if (sp_wg_receive(p->wg, buf, (size_t)n, (const uint8_t *)&from, flen,
	    sp_clock_mono_ms(), reply, rx) != SP_OK)
		return -1;
	if (rx->peer != NULL && rx->kind != SP_WG_RX_DROP) {
		/* Roaming: the endpoint follows the latest authenticated packet. */
		memcpy(&p->peer_addr, &from, flen);
		p->peer_len = flen;
		p->have_peer_addr = 1;
	}
	if (rx->kind == SP_WG_RX_REPLY) {
		if (sendto(p->fd, reply, rx->reply_len, 0, (struct sockaddr *)&from, flen) < 0)
			return -1;
	}
	return 0;
}

static int
do_ping(struct probe *p, const struct in_addr *ours, const struct in_addr *theirs)
{
	uint8_t init[SP_WG_INITIATION_SIZE], buf[2048], pkt[128], data[32], msg[256];
	int64_t s;
	uint32_t ns;
	size_t len, n;
	sp_wg_rx rx;

	wall(&s, &ns);
	if (sp_wg_initiate(p->wg, p->peer, s, ns, sp_clock_mono_ms(), init) != SP_OK ||
	    send_to_peer(p, init, sizeof(init)) != 0) {
		printf("wgprobe: cannot send the initiation\n");
		return 1;
	}
	printf("wgprobe: initiation sent\n");
	for (int i = 0; i < 50; i++) {
		if (receive_one(p, 100, buf, sizeof(buf), &rx) == 0 && rx.kind == SP_WG_RX_HANDSHAKE)
			break;
	}
	if (rx.kind != SP_WG_RX_HANDSHAKE) {
		printf("wgprobe: no handshake response\n");
		return 1;
	}
	printf("wgprobe: handshake complete\n");
	randombytes_buf(data, sizeof(data));
	len = icmp_packet(pkt, 8, ours, theirs, 0x5350, 1, data);
	if (sp_wg_encrypt(p->wg, p->peer, pkt, len, sp_clock_mono_ms(), msg, sizeof(msg), &n) != SP_OK ||
	    send_to_peer(p, msg, n) != 0) {
		printf("wgprobe: cannot send the echo request\n");
		return 1;
	}
	printf("wgprobe: echo request sent through the tunnel\n");
	for (int i = 0; i < 50; i++) {
		if (receive_one(p, 100, buf, sizeof(buf), &rx) != 0 || rx.kind != SP_WG_RX_DATA)
			continue;
		if (rx.data_len == len && rx.data[9] == 1 && rx.data[20] == 0 &&
		    memcmp(rx.data + 12, theirs, 4) == 0 && memcmp(rx.data + 28, data, 32) == 0) {
			printf("wgprobe: echo reply received and decrypted: ok\n");
			return 0;
		}
	}
	printf("wgprobe: no echo reply\n");
	return 1;
}

static int
do_serve(struct probe *p, const struct in_addr *ours, int seconds)
{
	uint64_t end = sp_clock_mono_ms() + (uint64_t)seconds * 1000;
	uint8_t buf[2048], pkt[2048], msg[2048];
	int answered = 0, handshakes = 0;
	sp_wg_rx rx;

	while (sp_clock_mono_ms() < end) {
		if (receive_one(p, 100, buf, sizeof(buf), &rx) != 0)
			continue;
		if (rx.kind == SP_WG_RX_REPLY && rx.reply_len == SP_WG_RESPONSE_SIZE) {
			handshakes++;
			printf("wgprobe: answered a handshake\n");
		}
		if (rx.kind != SP_WG_RX_DATA || rx.data_len < 28 || rx.data[9] != 1 ||
		    rx.data[20] != 8 || memcmp(rx.data + 16, ours, 4) != 0)
			continue;
		/* Echo back: swap the addresses, type 0, fresh checksums. */
		{
			struct in_addr src, dst;
			size_t len = rx.data_len, n;
			uint16_t c;
			memcpy(pkt, rx.data, len);
			memcpy(&src, rx.data + 16, 4);
			memcpy(&dst, rx.data + 12, 4);
			memcpy(pkt + 12, &src, 4);
			memcpy(pkt + 16, &dst, 4);
			pkt[10] = pkt[11] = 0;
			c = csum(pkt, 20);
			pkt[10] = (uint8_t)(c >> 8);
			pkt[11] = (uint8_t)c;
			pkt[20] = 0;
			pkt[22] = pkt[23] = 0;
			c = csum(pkt + 20, len - 20);
			pkt[22] = (uint8_t)(c >> 8);
			pkt[23] = (uint8_t)c;
			if (sp_wg_encrypt(p->wg, p->peer, pkt, len, sp_clock_mono_ms(), msg, sizeof(msg),
			    &n) == SP_OK && send_to_peer(p, msg, n) == 0)
				answered++;
		}
	}
	printf("wgprobe: %d handshakes, %d echo requests answered\n", handshakes, answered);
	return answered > 0 ? 0 : 1;
}

static int
do_flood(struct probe *p, int count)
{
	uint8_t init[SP_WG_INITIATION_SIZE], buf[2048];
	int responses = 0, cookies = 0;
	int64_t s;
	uint32_t ns;

	for (int i = 0; i < count; i++) {
		wall(&s, &ns);
		if (sp_wg_initiate(p->wg, p->peer, s, ns + (uint32_t)i, sp_clock_mono_ms(), init) != SP_OK)
			return 1;
		send_to_peer(p, init, sizeof(init));
	}
	for (;;) {
		struct pollfd pfd = { p->fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&pfd, 1, 500) <= 0)
			break;
		n = recv(p->fd, buf, sizeof(buf), 0);
		if (n == SP_WG_RESPONSE_SIZE && buf[0] == 2)
			responses++;
		else if (n == SP_WG_COOKIE_REPLY_SIZE && buf[0] == 3)
			cookies++;
	}
	printf("wgprobe: %d initiations sent, %d responses, %d cookie replies\n", count, responses,
	    cookies);
	return 0;
}

int
main(int argc, char **argv)
{
	uint8_t priv[32], pub[32];
	struct sockaddr_in6 any;
	struct in_addr ours, theirs;
	struct probe p;
	int port, off = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0)
		return 2;
	memset(&p, 0, sizeof(p));
	if (argc == 8 && strcmp(argv[1], "ping") == 0) {
		if (sp_addr_parse(argv[4], &p.peer_addr, &p.peer_len) != SP_OK)
			return 2;
		p.have_peer_addr = 1;
		port = atoi(argv[5]);
		if (inet_pton(AF_INET, argv[6], &ours) != 1 || inet_pton(AF_INET, argv[7], &theirs) != 1)
			return 2;
	} else if (argc == 7 && strcmp(argv[1], "flood") == 0) {
		if (sp_addr_parse(argv[4], &p.peer_addr, &p.peer_len) != SP_OK)
			return 2;
		p.have_peer_addr = 1;
		port = atoi(argv[5]);
	} else if (argc == 7 && strcmp(argv[1], "serve") == 0) {
		port = atoi(argv[4]);
		if (inet_pton(AF_INET, argv[5], &ours) != 1)
			return 2;
	} else {
		fprintf(stderr, "usage: wgprobe ping PRIVKEY PEERPUB ENDPOINT LISTEN_PORT OUR_IP PEER_IP\n"
		    "       wgprobe serve PRIVKEY PEERPUB LISTEN_PORT OUR_IP SECONDS\n"
		    "       wgprobe flood PRIVKEY PEERPUB ENDPOINT LISTEN_PORT COUNT\n");
		return 2;
	}
	if (key64(argv[2], priv) != 0 || key64(argv[3], pub) != 0) {
		fprintf(stderr, "wgprobe: keys must be base64 (wg genkey / wg pubkey)\n");
		return 2;
	}
	if (sp_wg_new(priv, sp_platform_rng(), &p.wg) != SP_OK || sp_wg_peer_add(p.wg, pub, &p.peer) != SP_OK)
		return 2;
	sodium_memzero(priv, sizeof(priv));
	/* One dual-stack socket, as the daemon will have. */
	p.fd = socket(AF_INET6, SOCK_DGRAM, 0);
	setsockopt(p.fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	memset(&any, 0, sizeof(any));
	any.sin6_family = AF_INET6;
	any.sin6_port = htons((uint16_t)port);
	if (p.fd < 0 || bind(p.fd, (struct sockaddr *)&any, sizeof(any)) != 0) {
		perror("wgprobe: bind");
		return 2;
	}
	if (p.have_peer_addr && p.peer_addr.ss_family == AF_INET) {
		/* Map the IPv4 endpoint for the dual-stack socket. */
		struct sockaddr_in v4;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&p.peer_addr;
		memcpy(&v4, &p.peer_addr, sizeof(v4));
		memset(v6, 0, sizeof(*v6));
		v6->sin6_family = AF_INET6;
		v6->sin6_port = v4.sin_port;
		v6->sin6_addr.s6_addr[10] = v6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&v6->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
		p.peer_len = sizeof(*v6);
	}
	{
		int rc = strcmp(argv[1], "ping") == 0 ? do_ping(&p, &ours, &theirs)
		    : strcmp(argv[1], "flood") == 0 ? do_flood(&p, atoi(argv[6]))
		    : do_serve(&p, &ours, atoi(argv[6]));
		sp_wg_free(p.wg);
		close(p.fd);
		return rc;
	}
}
