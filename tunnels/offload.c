/*
 * TSO segmentation and receive coalescing for TUN with a virtio-net
 * header (sp_offload.h). The kernel's own code for this lives in its TCP
 * GSO and GRO paths; a userspace tunnel has to redo both for the bytes it
 * carries, which is why this is hand-written rather than called.
 */
#include "sp_offload.h"

#include <string.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define PROTO_TCP 6
#define IP_MAX 65535

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
sp_vnet_hdr_read(const uint8_t b[SP_VNET_HDR_LEN], sp_vnet_hdr *h)
{
	h->flags = b[0];
	h->gso_type = b[1];
	memcpy(&h->hdr_len, b + 2, 2);
	memcpy(&h->gso_size, b + 4, 2);
	memcpy(&h->csum_start, b + 6, 2);
	memcpy(&h->csum_offset, b + 8, 2);
}

void
sp_vnet_hdr_write(const sp_vnet_hdr *h, uint8_t b[SP_VNET_HDR_LEN])
{
	b[0] = h->flags;
	b[1] = h->gso_type;
	memcpy(b + 2, &h->hdr_len, 2);
	memcpy(b + 4, &h->gso_size, 2);
	memcpy(b + 6, &h->csum_start, 2);
	memcpy(b + 8, &h->csum_offset, 2);
}

/*
 * RFC 1071's sum in the machine's byte order (the sum commutes with byte
 * swapping, section 2(B)), 32 bits at a time into 64. Pieces summed
 * separately must start at even offsets of the whole, which IP and TCP
 * headers always do.
 */
uint64_t
sp_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint32_t w;
	uint16_t h;

	for (; len >= 16; p += 16, len -= 16) {
		uint32_t a, b, c, d;
		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		memcpy(&c, p + 8, 4);
		memcpy(&d, p + 12, 4);
		sum += (uint64_t)a + b + c + d;
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { p[0], 0 };
		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

uint16_t
sp_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The TCP pseudo-header's sum for a packet whose L4 part is l4len bytes. */
static uint64_t
pseudo_sum(const uint8_t *ip, int v6, uint32_t l4len)
{
	uint8_t tail[8] = { 0 };

	tail[3] = (uint8_t)(l4len >> 16);
	put16(tail + 4, (uint16_t)l4len);
	tail[7] = PROTO_TCP;
	if (v6)
		return sp_csum_add(sp_csum_add(0, ip + 8, 32), tail, 8);
	return sp_csum_add(sp_csum_add(0, ip + 12, 8), tail, 8);
}

static void
ipv4_checksum(uint8_t *ip, size_t ihl)
{
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = (uint16_t)~sp_csum_fold(sp_csum_add(0, ip, ihl));
	memcpy(ip + 10, &c, 2);
}

/* A TSO packet's layout: IP header length l4, TCP header length thl. */
static int
tso_layout(const sp_vnet_hdr *h, const uint8_t *pkt, size_t len, size_t *l4, size_t *thl)
{
	unsigned type = h->gso_type & (unsigned)~SP_VNET_GSO_ECN;

	if (type == SP_VNET_GSO_TCPV4) {
		if (len < 20 || pkt[0] >> 4 != 4 || pkt[9] != PROTO_TCP)
			return -1;
		*l4 = (size_t)(pkt[0] & 0x0f) * 4;
	} else if (type == SP_VNET_GSO_TCPV6) {
		/* Extension headers never come with TSO from a TUN we own. */
		if (len < 40 || pkt[0] >> 4 != 6 || pkt[6] != PROTO_TCP)
			return -1;
		*l4 = 40;
	} else {
		return -1;
	}
	if (*l4 < 20 || h->csum_start != *l4 || len < *l4 + 20)
		return -1;
	*thl = (size_t)(pkt[*l4 + 12] >> 4) * 4;
	if (*thl < 20 || *l4 + *thl > len)
		return -1;
	return 0;
}

int
sp_offload_segment(const sp_vnet_hdr *h, const uint8_t *pkt, size_t len, uint8_t *out,
    size_t stride, size_t cap, size_t max, size_t *lens)
{
	size_t l4, thl, hl, payload, mss, nseg;
	uint32_t seq0;
	uint16_t id0;
	uint8_t flags;
	int v6;

	if (max == 0)
		return -1;
	if (h->gso_type == SP_VNET_GSO_NONE) {
		if (len > cap)
			return -1;
		memcpy(out, pkt, len);
		if (h->flags & SP_VNET_F_NEEDS_CSUM) {
			size_t at = (size_t)h->csum_start + h->csum_offset;
			uint16_t c;
			if (h->csum_start > len || at + 2 > len)
				return -1;
			c = (uint16_t)~sp_csum_fold(sp_csum_add(0, out + h->csum_start,
			    len - h->csum_start));
			/* UDP says "no checksum" with 0; a computed 0 is sent as all ones. */
			if (c == 0 && h->csum_offset == 6)
				c = 0xffff;
			memcpy(out + at, &c, 2);
		}
		lens[0] = len;
		return 1;
	}
	if (tso_layout(h, pkt, len, &l4, &thl) != 0)
		return -1;
	v6 = l4 == 40 && pkt[0] >> 4 == 6;
	hl = l4 + thl;
	payload = len - hl;
	mss = h->gso_size;
	if (mss == 0 || payload == 0 || hl + mss > cap)
		return -1;
	nseg = (payload + mss - 1) / mss;
	if (nseg > max)
		return -1;
	seq0 = get32(pkt + l4 + 4);
	id0 = get16(pkt + 4);
	flags = pkt[l4 + 13];
	for (size_t i = 0; i < nseg; i++) {
		uint8_t *o = out + i * stride, f = flags;
		size_t n = i + 1 < nseg ? mss : payload - i * mss;
		uint16_t c;

		memcpy(o, pkt, hl);
		memcpy(o + hl, pkt + hl + i * mss, n);
		if (v6) {
			put16(o + 4, (uint16_t)(hl - 40 + n));
		} else {
			put16(o + 2, (uint16_t)(hl + n));
			put16(o + 4, (uint16_t)(id0 + i));
			ipv4_checksum(o, l4);
		}
		put32(o + l4 + 4, seq0 + (uint32_t)(i * mss));
		/* FIN and PSH belong to the last segment, CWR to the first. */
		if (i + 1 < nseg)
			f &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			f &= (uint8_t)~TCP_CWR;
		o[l4 + 13] = f;
		o[l4 + 16] = o[l4 + 17] = 0;
		c = (uint16_t)~sp_csum_fold(sp_csum_add(pseudo_sum(o, v6, (uint32_t)(thl + n)),
		    o + l4, thl + n));
		memcpy(o + l4 + 16, &c, 2);
		lens[i] = hl + n;
	}
	return (int)nseg;
}

/* ---- receive coalescing ------------------------------------------------- */

void
sp_gro_init(sp_gro *g)
{
	g->n = 0;
	g->nflows = 0;
	g->next_evict = 0;
}

/* The header length of a packet that may join a run, or 0. */
static size_t
mergeable(const uint8_t *p, size_t len, size_t *l4out)
{
	size_t l4, thl;

	if (len > IP_MAX)
		return 0;
	if (len >= 40 && p[0] == 0x45) {
		/* No options, not a fragment, the length it says. */
		if (p[9] != PROTO_TCP || get16(p + 2) != len || (get16(p + 6) & 0x3fff) != 0)
			return 0;
		l4 = 20;
	} else if (len >= 60 && p[0] >> 4 == 6) {
		if (p[6] != PROTO_TCP || (size_t)get16(p + 4) + 40 != len)
			return 0;
		l4 = 40;
	} else {
		return 0;
	}
	thl = (size_t)(p[l4 + 12] >> 4) * 4;
	if (thl < 20 || l4 + thl >= len)
		return 0;   /* pure ACKs are not worth merging */
	if ((p[l4 + 13] & (uint8_t)~TCP_PSH) != TCP_ACK)
		return 0;
	*l4out = l4;
	return l4 + thl;
}

static size_t
l4_of(const uint8_t *p)
{
	return p[0] >> 4 == 4 ? 20 : 40;
}

/* Same addresses and ports: the same flow. */
static int
same_flow(const uint8_t *a, const uint8_t *b)
{
	size_t l4 = l4_of(a);

	if (a[0] >> 4 != b[0] >> 4)
		return 0;
	if (l4 == 20 ? memcmp(a + 12, b + 12, 8) != 0 : memcmp(a + 8, b + 8, 32) != 0)
		return 0;
	return memcmp(a + l4, b + l4, 4) == 0;
}

/*
 * Whether b may follow a in one super-packet: every header byte equal but
 * lengths, IPv4 ID and checksum, sequence number, PSH and TCP checksum
 * (what the kernel's TCP GRO compares, too).
 */
static int
continues(const uint8_t *a, size_t ahl, size_t alen, const uint8_t *b, size_t bhl)
{
	size_t l4 = l4_of(a);

	if (ahl != bhl)
		return 0;
	if (l4 == 20) {
		if (a[1] != b[1] || memcmp(a + 6, b + 6, 4) != 0)   /* TOS; flags, TTL, proto */
			return 0;
	} else {
		if (memcmp(a, b, 4) != 0 || memcmp(a + 6, b + 6, 2) != 0)   /* class, label; hops */
			return 0;
	}
	if (memcmp(a + l4 + 8, b + l4 + 8, 5) != 0 ||          /* ACK number, offset */
	    ((a[l4 + 13] ^ b[l4 + 13]) & (uint8_t)~TCP_PSH) != 0 ||
	    memcmp(a + l4 + 14, b + l4 + 14, 2) != 0 ||        /* window */
	    memcmp(a + l4 + 18, b + l4 + 18, ahl - l4 - 18) != 0)   /* urgent, options */
		return 0;
	return get32(b + l4 + 4) == get32(a + l4 + 4) + (uint32_t)(alen - ahl);
}

static void
close_flow(sp_gro *g, size_t f)
{
	g->flow[f] = g->flow[--g->nflows];
}

int
sp_gro_add(sp_gro *g, uint8_t *pkt, size_t len)
{
	sp_gro_item *it;
	size_t l4 = 0, hl, f, payload;
	int16_t idx;

	if (g->n == SP_GRO_MAX)
		return -1;
	idx = (int16_t)g->n++;
	it = &g->item[idx];
	memset(it, 0, sizeof(*it));
	it->pkt = pkt;
	it->len = (uint16_t)len;
	it->next = -1;
	it->head = 1;
	if ((hl = mergeable(pkt, len, &l4)) == 0)
		return 0;
	it->hlen = (uint16_t)hl;
	payload = len - hl;
	for (f = 0; f < g->nflows; f++)
		if (same_flow(g->item[g->flow[f].first].pkt, pkt))
			break;
	if (f < g->nflows) {
		sp_gro_item *last = &g->item[g->flow[f].last];
		if (payload <= g->flow[f].seg && g->flow[f].total + payload + hl <= IP_MAX &&
		    continues(last->pkt, last->hlen, last->len, pkt, hl)) {
			last->next = idx;
			it->head = 0;
			g->flow[f].last = idx;
			g->flow[f].total += (uint32_t)payload;
			g->flow[f].count++;
			/* A short segment or a push ends the run. */
			if (payload < g->flow[f].seg || (pkt[l4 + 13] & TCP_PSH))
				close_flow(g, f);
			return 0;
		}
		close_flow(g, f);
	}
	if (pkt[l4 + 13] & TCP_PSH)
		return 0;   /* nothing may follow it */
	if (g->nflows == SP_GRO_FLOWS) {
		/* Too many flows at once: forget one run (it stays as it is). */
		close_flow(g, g->next_evict++ % SP_GRO_FLOWS);
	}
	f = g->nflows++;
	g->flow[f].first = g->flow[f].last = idx;
	g->flow[f].seg = (uint16_t)payload;
	g->flow[f].total = (uint32_t)payload;
	g->flow[f].count = 1;
	return 0;
}

void
sp_gro_finish(sp_gro *g)
{
	for (size_t i = 0; i < g->n; i++) {
		sp_gro_item *it = &g->item[i];
		uint8_t *p = it->pkt, push = 0;
		size_t l4, total = 0;
		sp_vnet_hdr h;
		uint16_t c;
		int v6;

		if (!it->head || it->next < 0)
			continue;
		l4 = l4_of(p);
		v6 = l4 == 40;
		for (int j = (int)i; j >= 0; j = g->item[j].next) {
			total += (size_t)g->item[j].len - g->item[j].hlen;
			push |= g->item[j].pkt[l4 + 13] & TCP_PSH;
		}
		if (v6) {
			put16(p + 4, (uint16_t)(it->hlen - 40 + total));
		} else {
			put16(p + 2, (uint16_t)(it->hlen + total));
			ipv4_checksum(p, 20);
		}
		p[l4 + 13] |= push;
		/* A partial checksum holds the pseudo-header's sum, not complemented. */
		c = sp_csum_fold(pseudo_sum(p, v6, (uint32_t)(it->hlen - l4 + total)));
		memcpy(p + l4 + 16, &c, 2);
		memset(&h, 0, sizeof(h));
		h.flags = SP_VNET_F_NEEDS_CSUM;
		h.gso_type = v6 ? SP_VNET_GSO_TCPV6 : SP_VNET_GSO_TCPV4;
		h.hdr_len = it->hlen;
		h.gso_size = (uint16_t)(it->len - it->hlen);
		h.csum_start = (uint16_t)l4;
		h.csum_offset = 16;
		sp_vnet_hdr_write(&h, it->vnet);
	}
}
