/*
 * DNS over UDP: batches of datagrams in with recvmmsg, through the
 * answerer and rate limiting, out with sendmmsg. The buffers live in the
 * gateway, so the hot path never allocates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_int.h"
#include "sp_log.h"

#define UDP_BATCH 64
#define UDP_BUF 4096
#define UDP_ROUNDS 16        /* batches per wake-up, then let others run */
/* A burst larger than one batch waits in the kernel rather than being
 * dropped (the kernel caps it at rmem_max). */
#define UDP_RCVBUF (4 << 20)

struct udp_batch {
	struct mmsghdr in_msgs[UDP_BATCH], out_msgs[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH], out_iov[UDP_BATCH];
	struct sockaddr_storage addrs[UDP_BATCH];
	uint8_t in_buf[UDP_BATCH][UDP_BUF];
	uint8_t out_buf[UDP_BATCH][UDP_BUF];
};

static enum sp_rrl_kind
rrl_kind(enum sp_answer_kind k)
{
	switch (k) {
	case SP_ANS_ANSWER: return SP_RRL_ANSWER;
	case SP_ANS_NODATA: return SP_RRL_NODATA;
	case SP_ANS_NXDOMAIN: return SP_RRL_NXDOMAIN;
	default: return SP_RRL_ERROR;
	}
}

/* Header and question with TC: a real client retries over TCP, a spoofed
 * victim gets nothing bigger than its query. */
static size_t
slip(uint8_t *o, size_t len, const sp_answer_info *info)
{
	size_t ql = info->qname_len + 4 + SP_DNS_HEADER;

	if (ql > len)
		ql = SP_DNS_HEADER;
	o[2] |= SP_F_TC >> 8;
	o[4] = 0;
	o[5] = ql > SP_DNS_HEADER ? 1 : 0;
	memset(o + 6, 0, 6);
	return ql;
}

static void
on_udp(void *arg, int fd, unsigned events)
{
	struct dns_listener *l = arg;
	sp_gateway *g = l->g;
	struct udp_batch *b = g->batch;
	int64_t now = sp_clock_wall();
	uint64_t now_ms = sp_clock_mono_ms();

	(void)events;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n, out = 0;

		for (int i = 0; i < UDP_BATCH; i++) {
			b->in_iov[i].iov_base = b->in_buf[i];
			b->in_iov[i].iov_len = UDP_BUF;
			memset(&b->in_msgs[i].msg_hdr, 0, sizeof(b->in_msgs[i].msg_hdr));
			b->in_msgs[i].msg_hdr.msg_iov = &b->in_iov[i];
			b->in_msgs[i].msg_hdr.msg_iovlen = 1;
			b->in_msgs[i].msg_hdr.msg_name = &b->addrs[i];
			b->in_msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
		}
		n = recvmmsg(fd, b->in_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			sp_answer_info info;
			size_t len = sp_answer(g->answerer, b->in_buf[i], b->in_msgs[i].msg_len, 0,
			    now, b->out_buf[out], UDP_BUF, &info);
			if (len == 0)
				continue;
			if (g->rrl != NULL) {
				enum sp_rrl_verdict v = sp_rrl_check(g->rrl,
				    (struct sockaddr *)&b->addrs[i], rrl_kind(info.kind),
				    info.qname, info.qname_len, now_ms);
				if (v == SP_RRL_DROP)
					continue;
				if (v == SP_RRL_SLIP)
					len = slip(b->out_buf[out], len, &info);
			}
			b->out_iov[out].iov_base = b->out_buf[out];
			b->out_iov[out].iov_len = len;
			memset(&b->out_msgs[out].msg_hdr, 0, sizeof(b->out_msgs[out].msg_hdr));
			b->out_msgs[out].msg_hdr.msg_iov = &b->out_iov[out];
			b->out_msgs[out].msg_hdr.msg_iovlen = 1;
			b->out_msgs[out].msg_hdr.msg_name = &b->addrs[i];
			b->out_msgs[out].msg_hdr.msg_namelen = b->in_msgs[i].msg_hdr.msg_namelen;
			out++;
		}
		for (int sent = 0; sent < out;) {
			int m = sendmmsg(fd, b->out_msgs + sent, (unsigned)(out - sent), MSG_DONTWAIT);
			if (m <= 0)
				break;   /* a full socket buffer drops, as UDP does */
			sent += m;
		}
		if (n < UDP_BATCH)
			return;
	}
}

int
gw_udp_listen(sp_gateway *g, struct dns_listener *l, const struct sockaddr *sa,
    socklen_t len, int own, sp_errmsg *e)
{
	int rcvbuf = UDP_RCVBUF, rc;

	l->g = g;
	if (g->batch == NULL && (g->batch = calloc(1, sizeof(*g->batch))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	if ((rc = (own ? sp_udp_bind_own : sp_udp_bind)(sa, len, &l->fd, e)) != SP_OK)
		return rc;
	/* Only the burst capacity depends on it; serving works without. */
	if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0)
		sp_debug("DNS: SO_RCVBUF: %s", strerror(errno));
	if ((rc = sp_loop_watch(g->d->loop, l->fd, SP_IO_READ, on_udp, l, &l->watch)) != SP_OK)
		return sp_errf(e, rc, "out of memory");
	return SP_OK;
}
