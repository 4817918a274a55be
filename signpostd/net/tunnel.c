#define _GNU_SOURCE
#include "tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "sp_allowedips.h"
#include "sp_device.h"
#include "sp_log.h"
#include "sp_offload.h"
#include "sp_uapi.h"
#include "sp_wg.h"

#define TUN_MTU 1420
#define QUEUE_MAX 16
#define PKT_MAX 65536
/*
 * The data path's batches. Sending: TUN reads of up to 64 KB (TSO) are cut
 * into BATCH slots of SLOT bytes (the MTU plus WireGuard's overhead,
 * rounded up), encrypted in place, and sent with one sendmmsg whose
 * messages each carry up to GSO_MAX equal datagrams to one peer
 * (UDP_SEGMENT). Receiving: one recvmmsg fills RX_MSGS buffers of RX_BUF
 * bytes, each one datagram or, with UDP_GRO, a train of equal ones.
 */
#define BATCH 128
#define SLOT 2048
#define GSO_MAX 64
#define GSO_BYTES 65000
#define RX_MSGS 16
#define RX_BUF 65536
#define UAPI_DIR "/var/run/wireguard"
/* More handshake messages than this in a second puts us under load:
 * handshakes then need a cookie (mac2) before any DH is spent. */
#define HANDSHAKES_PER_SECOND 64

struct tpeer {
	sp_tunnel *t;
	sp_wg_peer *wp;
	struct sockaddr_in6 endpoint;   /* IPv4 as ::ffff:a.b.c.d */
	int has_endpoint;
	uint16_t keepalive;
	uint64_t rx_bytes, tx_bytes;
	uint8_t *queue[QUEUE_MAX];
	size_t qlen[QUEUE_MAX];
	size_t nq;
};

struct sp_tunnel {
	sp_daemon *d;
	char ifname[16];
	int tun_fd, udp_fd, uapi_fd;
	sp_watch *tun_w, *udp_w, *uapi_w;
	uint16_t port;
	uint32_t fwmark;
	uint8_t *priv;                  /* sodium_malloc */
	sp_wg *wg;
	sp_allowedips *aips;
	struct tpeer **peers;
	size_t npeers;
	struct tpeer *cur;              /* the peer a UAPI set is configuring */
	sp_timer *timer;
	char uapi_path[108];
	uint64_t dropped_no_peer, dropped_bad_source, dropped_offload;
	int gso;                        /* UDP_SEGMENT works (until it fails once) */
	uint64_t load_second;           /* monotonic second being counted */
	unsigned load_count;            /* handshake messages in it */
	uint8_t buf[PKT_MAX + 64];
	/* A TUN read: the virtio-net header and up to 64 KB. */
	uint8_t rbuf[SP_VNET_HDR_LEN + PKT_MAX];
	/* The send batch: slots, who each is for, and the messages over them. */
	uint8_t (*slot)[SLOT];
	size_t slen[BATCH];
	struct tpeer *sto[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msg[BATCH];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
	} scm[BATCH];
	/* The receive batch, and what it decrypted, merged for TUN. */
	uint8_t (*rx)[RX_BUF];
	struct sockaddr_in6 raddr[RX_MSGS];
	struct iovec riov[RX_MSGS];
	struct mmsghdr rmsg[RX_MSGS];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int))];
	} rcm[RX_MSGS];
	sp_gro gro;
	struct iovec wiov[SP_GRO_MAX + 1];
};

static void schedule(sp_tunnel *t, uint64_t delay_ms);

/* ---- helpers ------------------------------------------------------------ */

static void
to_v6(const struct sockaddr *sa, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	if (sa->sa_family == AF_INET6) {
		memcpy(out, sa, sizeof(*out));
		return;
	}
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	out->sin6_port = s4->sin_port;
	out->sin6_addr.s6_addr[10] = out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
}

/* The endpoint as wg prints it: IPv4 unmapped. */
static void
endpoint_text(const struct sockaddr_in6 *s6, char *out, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in s4;
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = s6->sin6_port;
		memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		sp_uapi_endpoint((struct sockaddr *)&s4, out, len);
	} else {
		sp_uapi_endpoint((const struct sockaddr *)s6, out, len);
	}
}

static struct tpeer *
find_peer(sp_tunnel *t, const uint8_t pub[32])
{
	for (size_t i = 0; i < t->npeers; i++)
		if (memcmp(sp_wg_peer_public(t->peers[i]->wp), pub, 32) == 0)
			return t->peers[i];
	return NULL;
}

static void
clear_queue(struct tpeer *p)
{
	for (size_t i = 0; i < p->nq; i++)
		free(p->queue[i]);
	p->nq = 0;
}

static void
send_to(sp_tunnel *t, struct tpeer *p, const uint8_t *msg, size_t len)
{
	if (!p->has_endpoint)
		return;
	if (sendto(t->udp_fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&p->endpoint,
	    sizeof(p->endpoint)) == (ssize_t)len)
		p->tx_bytes += len;
}

static void
initiate(sp_tunnel *t, struct tpeer *p)
{
	uint8_t msg[SP_WG_INITIATION_SIZE];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!p->has_endpoint)
		return;
	if (sp_wg_initiate(t->wg, p->wp, ts.tv_sec, (uint32_t)ts.tv_nsec, sp_clock_mono_ms(),
	    msg) == SP_OK)
		send_to(t, p, msg, sizeof(msg));
}

/* Encrypt and send one packet (already at buf + 16), or queue it. */
static void
send_packet(sp_tunnel *t, struct tpeer *p, uint8_t *buf, size_t len)
{
	size_t out;
	uint64_t now = sp_clock_mono_ms();

	if (sp_wg_encrypt(t->wg, p->wp, buf + SP_WG_TRANSPORT_HEADER, len, now, buf,
	    PKT_MAX + 64, &out) == SP_OK) {
		send_to(t, p, buf, out);
		return;
	}
	/* No session: keep the newest packets and start a handshake. */
	if (p->nq == QUEUE_MAX) {
		free(p->queue[0]);
		memmove(p->queue, p->queue + 1, (QUEUE_MAX - 1) * sizeof(p->queue[0]));
		memmove(p->qlen, p->qlen + 1, (QUEUE_MAX - 1) * sizeof(p->qlen[0]));
		p->nq--;
	}
	if ((p->queue[p->nq] = malloc(len)) != NULL) {
		memcpy(p->queue[p->nq], buf + SP_WG_TRANSPORT_HEADER, len);
		p->qlen[p->nq++] = len;
	}
	sp_wg_peer_want_handshake(p->wp, now);
	schedule(t, 0);
}

static void
flush_queue(sp_tunnel *t, struct tpeer *p)
{
	size_t n = p->nq;

	p->nq = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(t->buf + SP_WG_TRANSPORT_HEADER, p->queue[i], p->qlen[i]);
		free(p->queue[i]);
		send_packet(t, p, t->buf, p->qlen[i]);
	}
	if (n == 0)
		send_packet(t, p, t->buf, 0);   /* a keepalive confirms the keys */
}

/* ---- timers --------------------------------------------------------------- */

static void
on_timer(void *arg)
{
	sp_tunnel *t = arg;
	uint64_t now = sp_clock_mono_ms(), next = now + 10000;

	t->timer = NULL;
	for (size_t i = 0; i < t->npeers; i++) {
		struct tpeer *p = t->peers[i];
		uint64_t pn;
		unsigned todo = sp_wg_peer_tick(p->wp, now, p->keepalive, &pn);
		if (todo & SP_WG_DO_INITIATE)
			initiate(t, p);
		if (todo & SP_WG_DO_KEEPALIVE)
			send_packet(t, p, t->buf, 0);
		if (todo & SP_WG_DO_GIVE_UP)
			clear_queue(p);
		if (pn < next)
			next = pn;
	}
	schedule(t, next > now ? next - now : 1);
}

static void
schedule(sp_tunnel *t, uint64_t delay_ms)
{
	sp_timer_cancel(t->timer);
	t->timer = NULL;
	sp_loop_timer(t->d->loop, delay_ms, on_timer, t, &t->timer);
}

/* ---- packets --------------------------------------------------------------- */

/* Send the batch: consecutive equal-sized datagrams to one peer go as one
 * UDP_SEGMENT message (the last may be shorter), the rest one by one. */
static void
send_batch(sp_tunnel *t, int first, int out)
{
	int nmsg = 0;

	for (int i = first; i < out;) {
		struct msghdr *m = &t->msg[nmsg].msg_hdr;
		size_t seg = t->slen[i], bytes = 0;
		int j = i;

		memset(m, 0, sizeof(*m));
		m->msg_name = &t->sto[i]->endpoint;
		m->msg_namelen = sizeof(t->sto[i]->endpoint);
		m->msg_iov = &t->iov[i];
		do {
			t->iov[j].iov_base = t->slot[j];
			t->iov[j].iov_len = t->slen[j];
			bytes += t->slen[j];
			j++;
		} while (t->gso && j < out && j - i < GSO_MAX && t->sto[j] == t->sto[i] &&
		    t->slen[j] <= seg && t->slen[j - 1] == seg && bytes + t->slen[j] <= GSO_BYTES);
		m->msg_iovlen = (size_t)(j - i);
		if (j - i > 1) {
			struct cmsghdr *c = &t->scm[nmsg].h;
			uint16_t size = (uint16_t)seg;
			m->msg_control = t->scm[nmsg].b;
			m->msg_controllen = sizeof(t->scm[nmsg].b);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(size));
			memcpy(CMSG_DATA(c), &size, sizeof(size));
		}
		nmsg++;
		i = j;
	}
	for (int sent = 0; sent < nmsg;) {
		int m = sendmmsg(t->udp_fd, t->msg + sent, (unsigned)(nmsg - sent), MSG_DONTWAIT);
		if (m > 0) {
			sent += m;
			continue;
		}
		/* A kernel or device without UDP GSO refuses it: send what is
		 * left of the batch, and everything after, without. A full socket
		 * buffer drops, as UDP does. */
		if (t->gso && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
			sp_warn("tunnel: UDP segmentation offload failed (%s); sending without",
			    strerror(errno));
			t->gso = 0;
			send_batch(t, (int)(t->msg[sent].msg_hdr.msg_iov - t->iov), out);
		}
		break;
	}
}

/* Read from TUN until it is empty: each read, possibly a 64 KB TSO
 * segment, is cut into MTU-sized packets in the batch's slots and
 * encrypted there; a full batch is sent. */
static void
on_tun(void *arg, int fd, unsigned events)
{
	sp_tunnel *t = arg;
	uint64_t now = sp_clock_mono_ms();
	int out = 0;

	(void)events;
	for (;;) {
		ssize_t n = read(fd, t->rbuf, sizeof(t->rbuf));
		const uint8_t *pkt = t->rbuf + SP_VNET_HDR_LEN, *src, *dst;
		size_t len = (size_t)n - SP_VNET_HDR_LEN;
		int family, k, i;
		sp_vnet_hdr h;
		struct tpeer *p;

		if (n <= 0)
			break;
		if ((size_t)n <= SP_VNET_HDR_LEN ||
		    sp_ip_addrs(pkt, len, &family, &src, &dst) != SP_OK ||
		    (p = sp_allowedips_lookup(t->aips, family, dst)) == NULL) {
			t->dropped_no_peer++;
			continue;
		}
		sp_vnet_hdr_read(t->rbuf, &h);
		/* Room for the WireGuard header before and the padding and tag after. */
		k = sp_offload_segment(&h, pkt, len, t->slot[out] + SP_WG_TRANSPORT_HEADER, SLOT,
		    SLOT - SP_WG_TRANSPORT_OVERHEAD - 16, (size_t)(BATCH - out), &t->slen[out]);
		if (k < 0 && out > 0) {
			send_batch(t, 0, out);
			out = 0;
			k = sp_offload_segment(&h, pkt, len, t->slot[0] + SP_WG_TRANSPORT_HEADER,
			    SLOT, SLOT - SP_WG_TRANSPORT_OVERHEAD - 16, BATCH, t->slen);
		}
		if (k < 0) {
			t->dropped_offload++;
			continue;
		}
		/* All k go to p. Once one cannot be encrypted (no session yet,
		 * or its keys are spent), neither can the rest: the slow path
		 * queues them and starts a handshake. */
		for (i = out; i < out + k; i++) {
			size_t clen;
			if (!p->has_endpoint || sp_wg_encrypt(t->wg, p->wp,
			    t->slot[i] + SP_WG_TRANSPORT_HEADER, t->slen[i], now, t->slot[i], SLOT,
			    &clen) != SP_OK)
				break;
			t->slen[i] = clen;
			t->sto[i] = p;
			p->tx_bytes += clen;
		}
		for (int j = i; j < out + k; j++) {
			memcpy(t->buf + SP_WG_TRANSPORT_HEADER, t->slot[j] + SP_WG_TRANSPORT_HEADER,
			    t->slen[j]);
			send_packet(t, p, t->buf, t->slen[j]);
		}
		out = i;
		if (out == BATCH) {
			send_batch(t, 0, out);
			out = 0;
		}
	}
	if (out > 0)
		send_batch(t, 0, out);
}

/* Write what the receive batch decrypted to TUN, runs of a TCP flow as
 * one super-packet each. */
static void
flush_gro(sp_tunnel *t)
{
	/* Authenticated by its AEAD tag: no checksum check (sp_offload.h). */
	static const uint8_t lone[SP_VNET_HDR_LEN] = { SP_VNET_F_DATA_VALID };
	sp_gro *g = &t->gro;

	sp_gro_finish(g);
	for (size_t i = 0; i < g->n; i++) {
		const sp_gro_item *it = &g->item[i];
		int n = 0;

		if (!it->head)
			continue;
		t->wiov[n].iov_base = it->next < 0 ? (void *)lone : (void *)it->vnet;
		t->wiov[n++].iov_len = SP_VNET_HDR_LEN;
		t->wiov[n].iov_base = it->pkt;
		t->wiov[n++].iov_len = it->len;
		for (int j = it->next; j >= 0; j = g->item[j].next) {
			t->wiov[n].iov_base = g->item[j].pkt + g->item[j].hlen;
			t->wiov[n++].iov_len = (size_t)g->item[j].len - g->item[j].hlen;
		}
		if (writev(t->tun_fd, t->wiov, n) < 0)
			sp_debug("tunnel: TUN write: %s", strerror(errno));
	}
	sp_gro_init(g);
}

/* One datagram through the core: replies, roaming, TUN. */
static void
udp_one(sp_tunnel *t, int fd, uint8_t *buf, size_t n, const struct sockaddr_in6 *from)
{
	uint8_t reply[SP_WG_MIN_REPLY], src[18];
	struct tpeer *p;
	sp_wg_rx rx;

	/* Count handshake messages (types 1 and 2) per second; over the
	 * limit this second and the next are under load. */
	if (n > 0 && (buf[0] == 1 || buf[0] == 2)) {
		uint64_t sec = sp_clock_mono_ms() / 1000;
		if (sec != t->load_second) {
			sp_wg_set_under_load(t->wg, t->load_count > HANDSHAKES_PER_SECOND &&
			    sec == t->load_second + 1);
			t->load_second = sec;
			t->load_count = 0;
		}
		if (++t->load_count > HANDSHAKES_PER_SECOND)
			sp_wg_set_under_load(t->wg, 1);
	}
	/* Cookies bind to the source address and port. */
	memcpy(src, &from->sin6_addr, 16);
	memcpy(src + 16, &from->sin6_port, 2);
	if (sp_wg_receive(t->wg, buf, n, src, sizeof(src), sp_clock_mono_ms(), reply,
	    &rx) != SP_OK)
		return;
	if (rx.kind == SP_WG_RX_REPLY)
		sendto(fd, reply, rx.reply_len, MSG_DONTWAIT, (const struct sockaddr *)from,
		    sizeof(*from));
	if (rx.peer == NULL || rx.kind == SP_WG_RX_DROP)
		return;
	p = sp_wg_peer_user(rx.peer);
	/* Roaming: the endpoint follows the latest authenticated packet. */
	p->endpoint = *from;
	p->has_endpoint = 1;
	p->rx_bytes += n;
	if (rx.kind == SP_WG_RX_HANDSHAKE) {
		flush_queue(t, p);
	} else if (rx.kind == SP_WG_RX_DATA) {
		const uint8_t *s, *d;
		int family;
		/* Cryptokey routing: a peer may only send from its own prefixes. */
		if (sp_ip_addrs(rx.data, rx.data_len, &family, &s, &d) != SP_OK ||
		    sp_allowedips_lookup(t->aips, family, s) != p) {
			t->dropped_bad_source++;
			return;
		}
		/* Decrypted in place: it stays in the receive buffer until flushed. */
		if (sp_gro_add(&t->gro, (uint8_t *)rx.data, rx.data_len) != 0) {
			flush_gro(t);
			(void)sp_gro_add(&t->gro, (uint8_t *)rx.data, rx.data_len);
		}
	}
}

static void
on_udp(void *arg, int fd, unsigned events)
{
	sp_tunnel *t = arg;
	int n;

	(void)events;
	do {
		for (int i = 0; i < RX_MSGS; i++) {
			struct msghdr *m = &t->rmsg[i].msg_hdr;
			t->riov[i].iov_base = t->rx[i];
			t->riov[i].iov_len = RX_BUF;
			memset(m, 0, sizeof(*m));
			m->msg_name = &t->raddr[i];
			m->msg_namelen = sizeof(t->raddr[i]);
			m->msg_iov = &t->riov[i];
			m->msg_iovlen = 1;
			m->msg_control = t->rcm[i].b;
			m->msg_controllen = sizeof(t->rcm[i].b);
		}
		n = recvmmsg(fd, t->rmsg, RX_MSGS, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			size_t len = t->rmsg[i].msg_len, seg = len;
			struct cmsghdr *c;
			/* UDP_GRO: a train of datagrams of seg bytes, the last maybe shorter. */
			for (c = CMSG_FIRSTHDR(&t->rmsg[i].msg_hdr); c != NULL;
			    c = CMSG_NXTHDR(&t->rmsg[i].msg_hdr, c))
				if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
					int v;
					memcpy(&v, CMSG_DATA(c), sizeof(v));
					if (v > 0)
						seg = (size_t)v;
				}
			for (size_t off = 0; off < len; off += seg)
				udp_one(t, fd, t->rx[i] + off, len - off < seg ? len - off : seg,
				    &t->raddr[i]);
		}
		flush_gro(t);
	} while (n == RX_MSGS);
	/* No timer pass here: nothing received makes a deadline earlier than
	 * the ones the timer already holds (it wakes at least every 10 s). */
}

/* ---- UAPI ------------------------------------------------------------------ */

static int
rebuild_wg(sp_tunnel *t, const uint8_t key[32])
{
	sp_wg *wg;

	if (sp_wg_new(key, &wg) != SP_OK)
		return ENOMEM;
	for (size_t i = 0; i < t->npeers; i++) {
		sp_wg_peer *np;
		if (sp_wg_peer_add(wg, sp_wg_peer_public(t->peers[i]->wp), &np) != SP_OK) {
			sp_wg_free(wg);
			return EINVAL;
		}
		sp_wg_peer_set_user(np, t->peers[i]);
		t->peers[i]->wp = np;
	}
	sp_wg_free(t->wg);
	t->wg = wg;
	sp_wg_set_mtu(wg, TUN_MTU);
	memcpy(t->priv, key, 32);
	return 0;
}

static int
bind_udp(sp_tunnel *t, uint16_t port)
{
	struct sockaddr_in6 any;
	int fd, off = 0, on = 1;
	socklen_t len = sizeof(any);

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	/* Trains of datagrams in one receive; without it, one at a time. */
	setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
	memset(&any, 0, sizeof(any));
	any.sin6_family = AF_INET6;
	any.sin6_port = htons(port);
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&any, &len) != 0) {
		int err = errno;
		close(fd);
		return err;
	}
	if (t->udp_fd >= 0) {
		sp_watch_cancel(t->udp_w);
		close(t->udp_fd);
	}
	t->udp_fd = fd;
	t->port = ntohs(any.sin6_port);
	sp_loop_watch(t->d->loop, fd, SP_IO_READ, on_udp, t, &t->udp_w);
	return 0;
}

static void
peer_free(sp_tunnel *t, struct tpeer *p)
{
	sp_allowedips_remove_peer(t->aips, p);
	sp_wg_peer_remove(t->wg, p->wp);
	clear_queue(p);
	free(p);
}

static int u_private(void *a, const uint8_t k[32]) { return rebuild_wg(a, k); }
static int u_port(void *a, uint16_t port) { return bind_udp(a, port); }
static int u_fwmark(void *a, uint32_t m) { ((sp_tunnel *)a)->fwmark = m; return 0; }

static int
u_replace_peers(void *a)
{
	sp_tunnel *t = a;

	for (size_t i = 0; i < t->npeers; i++)
		peer_free(t, t->peers[i]);
	t->npeers = 0;
	t->cur = NULL;
	return 0;
}

static int
u_peer(void *a, const uint8_t pub[32], int update_only)
{
	sp_tunnel *t = a;
	struct tpeer *p = find_peer(t, pub), **np;

	t->cur = p;
	if (p != NULL || update_only)
		return 0;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (np = realloc(t->peers, (t->npeers + 1) * sizeof(*np))) == NULL) {
		free(p);
		return ENOMEM;
	}
	t->peers = np;
	if (sp_wg_peer_add(t->wg, pub, &p->wp) != SP_OK) {
		free(p);
		return EINVAL;
	}
	p->t = t;
	sp_wg_peer_set_user(p->wp, p);
	t->peers[t->npeers++] = p;
	t->cur = p;
	return 0;
}

static int
u_remove(void *a)
{
	sp_tunnel *t = a;

	for (size_t i = 0; t->cur != NULL && i < t->npeers; i++)
		if (t->peers[i] == t->cur) {
			t->peers[i] = t->peers[--t->npeers];
			peer_free(t, t->cur);
			break;
		}
	t->cur = NULL;
	return 0;
}

#define CUR_OR_SKIP(t) do { if ((t)->cur == NULL) return 0; } while (0)

static int
u_psk(void *a, const uint8_t k[32])
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	sp_wg_peer_set_psk(t->cur->wp, k);
	return 0;
}

static int
u_endpoint(void *a, const struct sockaddr *sa, socklen_t len)
{
	sp_tunnel *t = a;

	(void)len;
	CUR_OR_SKIP(t);
	to_v6(sa, &t->cur->endpoint);
	t->cur->has_endpoint = 1;
	return 0;
}

static int
u_keepalive(void *a, uint16_t s)
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	t->cur->keepalive = s;
	return 0;
}

static int
u_replace_ips(void *a)
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	sp_allowedips_remove_peer(t->aips, t->cur);
	return 0;
}

static int
u_allowed(void *a, int family, const uint8_t *addr, unsigned cidr)
{
	sp_tunnel *t = a;

	CUR_OR_SKIP(t);
	return sp_allowedips_insert(t->aips, family, addr, cidr, t->cur) == SP_OK ? 0 : ENOMEM;
}

static const struct sp_uapi_ops uapi_ops = {
	u_private, u_port, u_fwmark, u_replace_peers, u_peer, u_remove, u_psk, u_endpoint,
	u_keepalive, u_replace_ips, u_allowed,
};

static void
put_allowed(void *arg, int family, const uint8_t *addr, unsigned cidr)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	fprintf(arg, "allowed_ip=%s/%u\n", ip, cidr);
}

static void
uapi_get(sp_tunnel *t, FILE *f)
{
	char hex[65], ep[80];
	uint64_t now = sp_clock_mono_ms();
	int64_t wall = sp_clock_wall();

	sp_uapi_hex(t->priv, hex);
	fprintf(f, "private_key=%s\nlisten_port=%u\n", hex, t->port);
	sodium_memzero(hex, sizeof(hex));
	if (t->fwmark)
		fprintf(f, "fwmark=%u\n", t->fwmark);
	for (size_t i = 0; i < t->npeers; i++) {
		struct tpeer *p = t->peers[i];
		uint64_t hs = sp_wg_peer_last_handshake_ms(p->wp);
		sp_uapi_hex(sp_wg_peer_public(p->wp), hex);
		fprintf(f, "public_key=%s\nprotocol_version=1\n", hex);
		if (p->has_endpoint) {
			endpoint_text(&p->endpoint, ep, sizeof(ep));
			fprintf(f, "endpoint=%s\n", ep);
		}
		fprintf(f, "last_handshake_time_sec=%lld\nlast_handshake_time_nsec=0\n",
		    hs ? (long long)(wall - (int64_t)((now - hs) / 1000)) : 0LL);
		fprintf(f, "tx_bytes=%llu\nrx_bytes=%llu\npersistent_keepalive_interval=%u\n",
		    (unsigned long long)p->tx_bytes, (unsigned long long)p->rx_bytes, p->keepalive);
		sp_allowedips_walk(t->aips, p, put_allowed, f);
	}
}

/* One request per connection, answered at once: clients are local, root,
 * and their requests small, so the loop is not held up. */
static void
on_uapi(void *arg, int fd, unsigned events)
{
	sp_tunnel *t = arg;
	struct timeval tv = { 1, 0 };
	char *req = NULL, *out = NULL;
	size_t len = 0, cap = 0, olen = 0;
	FILE *f;
	int c, rc = 0;

	(void)events;
	if ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Read until the request's empty line. */
	for (;;) {
		if (len + 1024 > cap) {
			char *nr = cap < (1 << 20) ? realloc(req, cap = cap ? cap * 2 : 4096) : NULL;
			if (nr == NULL)
				goto done;
			req = nr;
		}
		ssize_t n = read(c, req + len, cap - len - 1);
		if (n <= 0)
			goto done;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\n\n") != NULL)
			break;
	}
	if ((f = open_memstream(&out, &olen)) == NULL)
		goto done;
	if (strncmp(req, "get=1\n", 6) == 0) {
		uapi_get(t, f);
	} else if (strncmp(req, "set=1\n", 6) == 0) {
		t->cur = NULL;
		rc = sp_uapi_set(req + 6, len - 6, &uapi_ops, t);
		schedule(t, 0);
	} else {
		rc = EPROTO;
	}
	fprintf(f, "errno=%d\n\n", rc);
	fclose(f);
	if (write(c, out, olen) < 0)
		sp_debug("uapi: the client went away");
	/* The reply held the private key. */
	sodium_memzero(out, olen);
	free(out);
done:
	if (req != NULL) {
		sodium_memzero(req, cap);
		free(req);
	}
	close(c);
}

void
sp_tunnel_status(const sp_tunnel *t, sp_ctl_reply *r)
{
	uint64_t now = sp_clock_mono_ms();

	const sp_wg_stats *st = sp_wg_stats_get(t->wg);

	sp_ctl_reply_field(r, "tunnel", "%s", t->ifname);
	sp_ctl_reply_field(r, "tunnel-port", "%u", t->port);
	/* Everything dropped, and why: from TUN (no peer for the address, an
	 * offload packet that could not be cut) and from the network. */
	sp_ctl_reply_field(r, "tunnel-dropped", "%llu", (unsigned long long)(t->dropped_no_peer +
	    t->dropped_bad_source + t->dropped_offload + st->rx_bad_type + st->rx_bad_size +
	    st->rx_bad_mac + st->rx_bad_auth + st->rx_replay + st->rx_unknown_index +
	    st->rx_unknown_peer + st->rx_old_timestamp + st->rx_flood));
	sp_ctl_reply_field(r, "tunnel-drops", "no-peer=%llu bad-source=%llu offload=%llu "
	    "bad-type=%llu bad-size=%llu bad-mac=%llu bad-auth=%llu replay=%llu "
	    "unknown-index=%llu unknown-peer=%llu old-timestamp=%llu flood=%llu cookies-sent=%llu",
	    (unsigned long long)t->dropped_no_peer, (unsigned long long)t->dropped_bad_source,
	    (unsigned long long)t->dropped_offload, (unsigned long long)st->rx_bad_type,
	    (unsigned long long)st->rx_bad_size, (unsigned long long)st->rx_bad_mac,
	    (unsigned long long)st->rx_bad_auth, (unsigned long long)st->rx_replay,
	    (unsigned long long)st->rx_unknown_index, (unsigned long long)st->rx_unknown_peer,
	    (unsigned long long)st->rx_old_timestamp, (unsigned long long)st->rx_flood,
	    (unsigned long long)st->rx_cookies_sent);
	for (size_t i = 0; i < t->npeers; i++) {
		const struct tpeer *p = t->peers[i];
		uint64_t hs = sp_wg_peer_last_handshake_ms(p->wp);
		char key[64], ep[80] = "-";

		sodium_bin2base64(key, sizeof(key), sp_wg_peer_public(p->wp), 32,
		    sodium_base64_VARIANT_ORIGINAL);
		if (p->has_endpoint)
			endpoint_text(&p->endpoint, ep, sizeof(ep));
		sp_ctl_reply_field(r, "peers[]", "key=%s endpoint=%s handshake=%lld rx=%llu tx=%llu",
		    key, ep, hs ? (long long)((now - hs) / 1000) : -1LL,
		    (unsigned long long)p->rx_bytes, (unsigned long long)p->tx_bytes);
	}
}

/* ---- lifecycle --------------------------------------------------------------- */

int
sp_tunnel_start(sp_daemon *d, sp_errmsg *e)
{
	sp_tunnel *t;
	uint8_t pub[32], addr[16], zone[16];
	const sp_key *dev = NULL;
	int rc;

	for (size_t i = 0; i < d->nkeys; i++)
		if (sp_key_info_of(d->keys[i])->role == SP_ROLE_DEVICE &&
		    sp_key_info_of(d->keys[i])->state == SP_KSTATE_ACTIVE)
			dev = d->keys[i];
	if (dev == NULL)
		return sp_errf(e, SP_ENOENT, "no device key for the tunnel");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SP_ENOMEM;
	d->tunnel = t;
	t->d = d;
	t->tun_fd = t->udp_fd = t->uapi_fd = -1;
	if ((t->priv = sodium_malloc(32)) == NULL || sp_allowedips_new(&t->aips) != SP_OK ||
	    (t->slot = calloc(BATCH, SLOT)) == NULL || (t->rx = calloc(RX_MSGS, RX_BUF)) == NULL)
		return SP_ENOMEM;
	t->gso = 1;
	sp_gro_init(&t->gro);
	/* The WireGuard key is the device's identity key (docs/keys.md). */
	if ((rc = sp_key_x25519(dev, t->priv, pub)) != SP_OK || sp_wg_new(t->priv, &t->wg) != SP_OK)
		return sp_errf(e, SP_ECRYPTO, "deriving the tunnel key");
	sp_wg_set_mtu(t->wg, TUN_MTU);
	if ((rc = sp_tun_open(d->conf.interface, SP_TUN_OFFLOAD, &t->tun_fd, t->ifname, e)) != SP_OK)
		return rc;
	sp_ula_device(d->cloud.prefix, sp_key_info_of(dev)->pub, addr);
	memset(zone, 0, sizeof(zone));
	memcpy(zone, d->cloud.prefix, 6);
	if ((rc = sp_tun_configure(t->ifname, TUN_MTU, addr, 128, zone, 48, e)) != SP_OK)
		return rc;
	if (d->conf.interface_ipv4_prefix &&
	    (rc = sp_if_addr4(t->ifname, d->conf.interface_ipv4, d->conf.interface_ipv4_prefix,
	    e)) != SP_OK)
		return rc;
	if ((rc = bind_udp(t, 0)) != 0)
		return sp_errf(e, SP_EIO, "WireGuard socket: %s", strerror(rc));
	if (mkdir(UAPI_DIR, 0755) != 0 && errno != EEXIST)
		return sp_errf(e, SP_EIO, "%s: %s", UAPI_DIR, strerror(errno));
	snprintf(t->uapi_path, sizeof(t->uapi_path), UAPI_DIR "/%s.sock", t->ifname);
	if ((rc = sp_unix_listen(t->uapi_path, 0600, &t->uapi_fd, e)) != SP_OK)
		return rc;
	if ((rc = sp_loop_watch(d->loop, t->tun_fd, SP_IO_READ, on_tun, t, &t->tun_w)) != SP_OK ||
	    (rc = sp_loop_watch(d->loop, t->uapi_fd, SP_IO_READ, on_uapi, t, &t->uapi_w)) != SP_OK)
		return rc;
	{
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		sp_info("tunnel: %s up with %s/128, route to the zone's /48, WireGuard on UDP %u, "
		    "UAPI at %s", t->ifname, a, t->port, t->uapi_path);
	}
	return SP_OK;
}

void
sp_tunnel_stop(sp_tunnel *t)
{
	if (t == NULL)
		return;
	sp_timer_cancel(t->timer);
	sp_watch_cancel(t->tun_w);
	sp_watch_cancel(t->udp_w);
	sp_watch_cancel(t->uapi_w);
	for (size_t i = 0; i < t->npeers; i++)
		peer_free(t, t->peers[i]);
	free(t->peers);
	if (t->uapi_fd >= 0) {
		close(t->uapi_fd);
		unlink(t->uapi_path);
	}
	if (t->udp_fd >= 0)
		close(t->udp_fd);
	if (t->tun_fd >= 0)
		close(t->tun_fd);
	sp_wg_free(t->wg);
	sp_allowedips_free(t->aips);
	free(t->slot);
	free(t->rx);
	if (t->priv != NULL)
		sodium_free(t->priv);
	free(t);
}
