/*
 * The data path: packets from TUN are cut (TSO), encrypted in place and
 * sent in batches of UDP_SEGMENT trains; datagrams arrive in recvmmsg
 * batches (UDP_GRO trains), are decrypted in place, checked against
 * cryptokey routing and written to TUN merged per TCP flow. The pure work
 * is tunnels/'s; this file moves bytes between the kernel and it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "sp_log.h"
#include "tunnel_int.h"

void
dp_clear_queue(struct tpeer *p)
{
	for (size_t i = 0; i < p->nq; i++)
		free(p->queue[i]);
	p->nq = 0;
}

/*
 * While we send through the relay, the gateway must know where we are: it
 * forwards a frame only from our session's current endpoint. A member
 * that roams (new address, new NAT mapping) and only relays would send
 * nothing the gateway authenticates until its next keepalive (25 s), so
 * relaying sends one to the gateway at most every RELAY_TOUCH_MS.
 */
#define RELAY_TOUCH_MS 500
static void
relay_touch(sp_tunnel *t)
{
	uint64_t now = sp_clock_mono_ms();
	uint8_t ka[SP_WG_TRANSPORT_HEADER + 64];

	if (t->relay_gw == NULL || now - t->relay_touch_ms < RELAY_TOUCH_MS)
		return;
	t->relay_touch_ms = now;
	dp_send_packet(t, t->relay_gw, ka, 0);
}

int
dp_fd(const sp_tunnel *t, uint32_t sock)
{
	return sock == 0 || sock >= SOCKS_MAX || t->socks[sock].fd < 0 ? t->udp_fd :
	    t->socks[sock].fd;
}

int
dp_out(sp_tunnel *t, uint32_t sock, const struct sockaddr_in6 *to, const struct iovec *iov,
    int n)
{
	struct msghdr m;
	struct sockaddr_in v4;

	if (ep_is_stream(to)) {
		uint32_t i = ep_stream_index(to);
		if (i >= STREAMS_MAX || t->streams[i].send == NULL)
			return -1;
		return t->streams[i].send(t->streams[i].arg, iov, n) == 0 ? 0 : -1;
	}
	memset(&m, 0, sizeof(m));
	m.msg_name = (void *)to;
	m.msg_namelen = sizeof(*to);
	if (sock != 0 && sock < SOCKS_MAX && t->socks[sock].v4) {
		tp_v4_of(to, &v4);
		m.msg_name = &v4;
		m.msg_namelen = sizeof(v4);
	}
	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = (size_t)n;
	return sendmsg(dp_fd(t, sock), &m, MSG_DONTWAIT) >= 0 ? 0 : -1;
}

/* One datagram to a peer, directly or through the relay. A send that
 * fails (a full socket buffer, a network that is down) drops it, as UDP
 * does; WireGuard's timers resend what matters. */
static void
send_to(sp_tunnel *t, struct tpeer *p, const uint8_t *msg, size_t len)
{
	struct iovec iov[2];
	int n = 0;

	if (!tp_reachable(p))
		return;
	if (p->relay_via != NULL) {
		iov[n].iov_base = p->relay_hdr;
		iov[n++].iov_len = SP_RELAY_HEADER;
		relay_touch(t);
	}
	iov[n].iov_base = (void *)msg;
	iov[n++].iov_len = len;
	if (dp_out(t, tp_sock(p), tp_dest(p), iov, n) == 0)
		p->tx_bytes += len;
}

void
dp_initiate(sp_tunnel *t, struct tpeer *p)
{
	uint8_t msg[SP_WG_INITIATION_SIZE];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!tp_reachable(p))
		return;
	p->initiated_ms = sp_clock_mono_ms();
	if (sp_wg_initiate(t->wg, p->wp, ts.tv_sec, (uint32_t)ts.tv_nsec, p->initiated_ms,
	    msg) == SP_OK)
		send_to(t, p, msg, sizeof(msg));
}

/* Encrypt and send one packet (already at buf + 16), or queue it. */
void
dp_send_packet(sp_tunnel *t, struct tpeer *p, uint8_t *buf, size_t len)
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
	tun_schedule(t, 0);
}

static void
flush_queue(sp_tunnel *t, struct tpeer *p)
{
	size_t n = p->nq;

	p->nq = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(t->buf + SP_WG_TRANSPORT_HEADER, p->queue[i], p->qlen[i]);
		free(p->queue[i]);
		dp_send_packet(t, p, t->buf, p->qlen[i]);
	}
	if (n == 0)
		dp_send_packet(t, p, t->buf, 0);   /* a keepalive confirms the keys */
}

/* m carries a train of datagrams of size bytes each (the last may be
 * shorter): UDP_SEGMENT, in the control buffer cm (aligned, from a union
 * with struct cmsghdr). */
static void
gso_segment(struct msghdr *m, uint8_t *cm, size_t cmlen, uint16_t size)
{
	struct cmsghdr *c = (struct cmsghdr *)(void *)cm;

	m->msg_control = cm;
	m->msg_controllen = cmlen;
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(size));
	memcpy(CMSG_DATA(c), &size, sizeof(size));
}

/*
 * Send the batch: consecutive equal-sized datagrams to one peer go as one
 * UDP_SEGMENT message (the last may be shorter), the rest one by one. A
 * relayed peer's datagrams each get its relay header in front, as a second
 * iovec: no copy, and a train stays a train (every segment header+message).
 */
static void
send_batch(sp_tunnel *t, int first, int out)
{
	int nmsg = 0, first_slot[BATCH];
	size_t v = 0;

	for (int i = first; i < out;) {
		struct msghdr *m = &t->msg[nmsg].msg_hdr;
		struct tpeer *p = t->sto[i];
		size_t hdr = p->relay_via != NULL ? SP_RELAY_HEADER : 0;
		size_t seg = t->slen[i], bytes = 0;
		int j = i;

		/* A stream (TLS) takes datagrams one by one into its queue. */
		if (ep_is_stream(tp_dest(p))) {
			struct iovec one[2];
			int k = 0;
			if (hdr) {
				one[k].iov_base = p->relay_hdr;
				one[k++].iov_len = hdr;
				relay_touch(t);
			}
			one[k].iov_base = t->slot[i];
			one[k++].iov_len = t->slen[i];
			(void)dp_out(t, 0, tp_dest(p), one, k);   /* a full queue drops, as UDP */
			i++;
			continue;
		}

		memset(m, 0, sizeof(*m));
		m->msg_name = tp_dest(p);
		m->msg_namelen = sizeof(struct sockaddr_in6);
		t->mfd[nmsg] = dp_fd(t, tp_sock(p));
		if (tp_sock(p) != 0 && t->socks[tp_sock(p)].v4) {
			m->msg_name = &p->ep4;
			m->msg_namelen = sizeof(p->ep4);
		}
		m->msg_iov = &t->iov[v];
		first_slot[nmsg] = i;
		do {
			if (hdr) {
				t->iov[v].iov_base = p->relay_hdr;
				t->iov[v++].iov_len = hdr;
			}
			t->iov[v].iov_base = t->slot[j];
			t->iov[v++].iov_len = t->slen[j];
			bytes += hdr + t->slen[j];
			j++;
		} while (t->gso && j < out && j - i < GSO_MAX && t->sto[j] == p &&
		    t->slen[j] <= seg && t->slen[j - 1] == seg &&
		    bytes + hdr + t->slen[j] <= GSO_BYTES);
		m->msg_iovlen = (size_t)(&t->iov[v] - m->msg_iov);
		if (hdr)
			relay_touch(t);
		if (j - i > 1)
			gso_segment(m, t->scm[nmsg].b, sizeof(t->scm[nmsg].b), (uint16_t)(hdr + seg));
		nmsg++;
		i = j;
	}
	for (int sent = 0; sent < nmsg;) {
		int run = 1, m;
		/* One sendmmsg per run of messages that leave by the same socket. */
		while (sent + run < nmsg && t->mfd[sent + run] == t->mfd[sent])
			run++;
		m = sendmmsg(t->mfd[sent], t->msg + sent, (unsigned)run, MSG_DONTWAIT);
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
			send_batch(t, first_slot[sent], out);
		}
		break;
	}
}

/* Read from TUN until it is empty: each read, possibly a 64 KB TSO
 * segment, is cut into MTU-sized packets in the batch's slots and
 * encrypted there; a full batch is sent. */
void
dp_on_tun(void *arg, int fd, unsigned events)
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
			if (!tp_reachable(p) || sp_wg_encrypt(t->wg, p->wp,
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
			dp_send_packet(t, p, t->buf, t->slen[j]);
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

/* Queue a relayed frame (already rewritten in place, in the receive
 * buffer) for p; sent by fwd_flush before the buffers are reused. */
static void fwd_flush(sp_tunnel *t);

static void
fwd_add(sp_tunnel *t, struct tpeer *to, uint8_t *msg, size_t len)
{
	if (t->nfwd == FWD_MAX)
		fwd_flush(t);
	t->fwd_iov[t->nfwd].iov_base = msg;
	t->fwd_iov[t->nfwd].iov_len = len;
	t->fwd_to[t->nfwd++] = to;
}

/* Send what the relay forwards: consecutive equal-sized frames to one
 * member (a UDP_GRO train in, usually) go out as one UDP_SEGMENT train. */
static void
fwd_flush(sp_tunnel *t)
{
	size_t nmsg = 0;

	for (size_t i = 0; i < t->nfwd;) {
		struct msghdr *m = &t->fwd_msg[nmsg].msg_hdr;
		size_t seg = t->fwd_iov[i].iov_len, bytes = 0, j = i;

		if (ep_is_stream(&t->fwd_to[i]->endpoint)) {
			(void)dp_out(t, 0, &t->fwd_to[i]->endpoint, &t->fwd_iov[i], 1);
			i++;
			continue;
		}

		memset(m, 0, sizeof(*m));
		m->msg_name = &t->fwd_to[i]->endpoint;
		m->msg_namelen = sizeof(struct sockaddr_in6);
		m->msg_iov = &t->fwd_iov[i];
		do {
			bytes += t->fwd_iov[j].iov_len;
			j++;
		} while (t->gso && j < t->nfwd && j - i < GSO_MAX && t->fwd_to[j] == t->fwd_to[i] &&
		    t->fwd_iov[j].iov_len <= seg && t->fwd_iov[j - 1].iov_len == seg &&
		    bytes + t->fwd_iov[j].iov_len <= GSO_BYTES);
		m->msg_iovlen = j - i;
		if (j - i > 1)
			gso_segment(m, t->fwd_cm[nmsg].b, sizeof(t->fwd_cm[nmsg].b), (uint16_t)seg);
		nmsg++;
		i = j;
	}
	for (size_t sent = 0; sent < nmsg;) {
		int m = sendmmsg(t->udp_fd, t->fwd_msg + sent, (unsigned)(nmsg - sent), MSG_DONTWAIT);
		if (m <= 0)
			break;   /* a full socket buffer drops, as UDP does */
		sent += (size_t)m;
	}
	t->nfwd = 0;
}

/*
 * The gateway's relay: a TO frame from a member, for another member.
 * Rewritten in place and queued; its WireGuard message is never opened.
 */
static void
relay_forward(sp_tunnel *t, uint8_t *buf, size_t n, const struct sockaddr_in6 *from)
{
	sp_relay_stats *st = sp_relay_stats_of(t->relay);
	void *fv, *tv;
	struct tpeer *src, *dst;

	if (sp_relay_forward(t->relay, buf, n, &fv, &tv) != SP_OK)
		return;   /* counted by the table */
	src = fv;
	dst = tv;
	/* The key must come from where its member's session is. */
	if (!src->has_endpoint || !tp_same_endpoint(&src->endpoint, from)) {
		st->bad_source++;
		return;
	}
	if (!dst->has_endpoint) {
		st->no_dest++;
		return;
	}
	st->forwarded++;
	st->bytes += n;
	fwd_add(t, dst, buf, n);
}

static void wg_one(sp_tunnel *t, uint8_t *buf, size_t n, const struct sockaddr_in6 *from,
    const sp_relay_hdr *via, uint32_t sock);

/* One datagram: the relay's, another protocol's (pairing, STUN), or
 * WireGuard's. On a socket of ICE's (sock > 0) only WireGuard's: the
 * kernel steers everything else on its port to libnice (docs/tunnels.md). */
static void
udp_one(sp_tunnel *t, uint8_t *buf, size_t n, const struct sockaddr_in6 *from, uint32_t sock)
{
	if (sock != 0) {
		wg_one(t, buf, n, from, NULL, sock);
		return;
	}
	if (sp_relay_is(buf, n)) {
		sp_relay_hdr h;
		if (t->relay != NULL) {
			relay_forward(t, buf, n, from);
			return;
		}
		/* A member: a FROM frame carries our key, from our gateway. */
		if (t->relay_gw == NULL || sp_relay_parse(buf, n, &h) != SP_OK ||
		    h.kind != SP_RELAY_FROM ||
		    sodium_memcmp(h.key, t->relay_key, SP_RELAY_KEY) != 0) {
			t->relay_rx_bad++;
			return;
		}
		wg_one(t, buf + SP_RELAY_HEADER, n - SP_RELAY_HEADER, from, &h, 0);
		return;
	}
	/* Every WireGuard message starts with its type, 1 to 4, and three zero
	 * bytes; anything else on the port (pairing, STUN) is the role's. */
	if (t->other != NULL && n >= 4 && !(buf[0] >= 1 && buf[0] <= 4 && buf[1] == 0 &&
	    buf[2] == 0 && buf[3] == 0)) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(struct sockaddr_in6);
		memcpy(&ss, from, sizeof(*from));
		if (IN6_IS_ADDR_V4MAPPED(&from->sin6_addr)) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			uint16_t port = from->sin6_port;
			memset(&ss, 0, sizeof(ss));
			s4->sin_family = AF_INET;
			s4->sin_port = port;
			memcpy(&s4->sin_addr, &from->sin6_addr.s6_addr[12], 4);
			sl = sizeof(*s4);
		}
		if (t->other(t->other_arg, buf, n, (struct sockaddr *)&ss, sl))
			return;
	}
	wg_one(t, buf, n, from, NULL, 0);
}

/* The path to p is now the relay at slot index, or direct from `from` on
 * socket sock; unless ICE pinned it (then the pin holds until unpinned). */
static void
set_path(sp_tunnel *t, struct tpeer *p, const struct sockaddr_in6 *from, const sp_relay_hdr *via,
    uint32_t sock)
{
	if (p->pinned != SP_PATH_NONE)
		return;
	if (via != NULL) {
		sp_relay_hdr cur;
		if (p->relay_via != t->relay_gw ||
		    sp_relay_parse_header(p->relay_hdr, &cur) != SP_OK || cur.index != via->index)
			tp_path_changed(t, p);
		p->relay_via = t->relay_gw;
		sp_relay_write(p->relay_hdr, SP_RELAY_TO, via->index, t->relay_key);
		return;
	}
	if (p->relay_via != NULL || !p->has_endpoint || !tp_same_endpoint(&p->endpoint, from) ||
	    p->sock != sock)
		tp_path_changed(t, p);
	p->relay_via = NULL;
	p->endpoint = *from;
	p->has_endpoint = 1;
	p->sock = sock;
	if (sock != 0)
		tp_v4_of(from, &p->ep4);
}

/* One WireGuard message through the core: replies, roaming, TUN. via is
 * the relay header it came behind, or NULL. */
static void
wg_one(sp_tunnel *t, uint8_t *buf, size_t n, const struct sockaddr_in6 *from,
    const sp_relay_hdr *via, uint32_t sock)
{
	uint8_t reply[SP_WG_MIN_REPLY], src[22];
	size_t srclen = 18;
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
	/* Cookies bind to the source address and port, and for a relayed
	 * message to the relay slot it came from. */
	memcpy(src, &from->sin6_addr, 16);
	memcpy(src + 16, &from->sin6_port, 2);
	if (via != NULL) {
		memcpy(src + 18, &via->index, 4);
		srclen = 22;
	}
	if (sp_wg_receive(t->wg, buf, n, src, srclen, sp_clock_mono_ms(), reply, &rx) != SP_OK)
		return;
	/* A lost handshake reply is resent by the initiator's timer. */
	if (rx.kind == SP_WG_RX_REPLY) {
		struct iovec iov[2];
		uint8_t hdr[SP_RELAY_HEADER];
		int k = 0;
		if (via != NULL) {
			sp_relay_write(hdr, SP_RELAY_TO, via->index, t->relay_key);
			iov[k].iov_base = hdr;
			iov[k++].iov_len = sizeof(hdr);
		}
		iov[k].iov_base = reply;
		iov[k++].iov_len = rx.reply_len;
		if (dp_out(t, sock, from, iov, k) != 0)
			sp_debug("tunnel: a handshake reply was not sent");
	}
	if (rx.peer == NULL || rx.kind == SP_WG_RX_DROP)
		return;
	p = sp_wg_peer_user(rx.peer);
	/* A relayed message from the gateway's own peer makes no sense: the
	 * gateway talks to us directly. */
	if (via != NULL && p == t->relay_gw)
		return;
	/* Roaming: the path follows the latest authenticated packet. */
	set_path(t, p, from, via, sock);
	p->rx_bytes += n;
	if (rx.kind == SP_WG_RX_HANDSHAKE) {
		if (p->initiated_ms != 0)
			p->rtt_ms = (uint32_t)(sp_clock_mono_ms() - p->initiated_ms);
		flush_queue(t, p);
	} else if (rx.kind == SP_WG_RX_DATA) {
		const uint8_t *s, *d;
		int family;
		struct tpeer *to;
		/* Cryptokey routing: a peer may only send from its own prefixes. */
		if (sp_ip_addrs(rx.data, rx.data_len, &family, &s, &d) != SP_OK ||
		    sp_allowedips_lookup(t->aips, family, s) != p) {
			t->dropped_bad_source++;
			return;
		}
		/* For another peer of ours: straight into its session, without
		 * the kernel (the gateway's hub between members that cannot
		 * reach each other, such as WireGuard-app phones). Not ours: on
		 * a member the gateway's /48 covers our own address too. */
		if (!(family == 6 && memcmp(d, t->addr, 16) == 0) &&
		    (to = sp_allowedips_lookup(t->aips, family, d)) != NULL && to != p) {
			memcpy(t->buf + SP_WG_TRANSPORT_HEADER, rx.data, rx.data_len);
			dp_send_packet(t, to, t->buf, rx.data_len);
			t->forwarded++;
			return;
		}
		/* Decrypted in place: it stays in the receive buffer until flushed. */
		if (sp_gro_add(&t->gro, (uint8_t *)rx.data, rx.data_len) != 0) {
			flush_gro(t);
			(void)sp_gro_add(&t->gro, (uint8_t *)rx.data, rx.data_len);
		}
	}
}

void
dp_input(sp_tunnel *t, uint8_t *msg, size_t len, const struct sockaddr_in6 *from)
{
	udp_one(t, msg, len, from, 0);
	flush_gro(t);
	if (t->nfwd > 0)
		fwd_flush(t);
}

/* Read a socket until it is empty, in recvmmsg batches of UDP_GRO trains. */
static void
dp_recv(sp_tunnel *t, int fd, uint32_t sock)
{
	int n;

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
			/* An IPv4 socket's sources as the mapped form peers keep. */
			if (t->raddr[i].sin6_family == AF_INET) {
				struct sockaddr_in s4;
				memcpy(&s4, &t->raddr[i], sizeof(s4));
				memset(&t->raddr[i], 0, sizeof(t->raddr[i]));
				t->raddr[i].sin6_family = AF_INET6;
				t->raddr[i].sin6_port = s4.sin_port;
				t->raddr[i].sin6_addr.s6_addr[10] = 0xff;
				t->raddr[i].sin6_addr.s6_addr[11] = 0xff;
				memcpy(&t->raddr[i].sin6_addr.s6_addr[12], &s4.sin_addr, 4);
			}
			for (size_t off = 0; off < len; off += seg)
				udp_one(t, t->rx[i] + off, len - off < seg ? len - off : seg,
				    &t->raddr[i], sock);
		}
		flush_gro(t);
		if (t->nfwd > 0)
			fwd_flush(t);
	} while (n == RX_MSGS);
	/* No timer pass here: nothing received makes a deadline earlier than
	 * the ones the timer already holds (it wakes at least every 10 s). */
}

void
dp_on_udp(void *arg, int fd, unsigned events)
{
	(void)events;
	dp_recv(arg, fd, 0);
}

void
dp_on_sock(void *arg, int fd, unsigned events)
{
	struct tsock *s = arg;

	(void)events;
	dp_recv(s->t, fd, s->id);
}

