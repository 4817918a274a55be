/*
 * tunnels/offload.c: TSO segmentation and receive coalescing. The oracle
 * for checksums is the plain byte-pair sum of RFC 1071 written here; a
 * segmented stream coalesced again must give back the bytes it started as.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sp_offload.h"

#define SLOT 2048

static uint32_t
naive_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i += 2)
		s += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
	return s;
}

static uint16_t
naive_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* A well-formed TCP packet sums to all ones over pseudo-header and segment. */
static int
tcp_ok(const uint8_t *p, size_t len)
{
	int v6 = p[0] >> 4 == 6;
	size_t l4 = v6 ? 40 : 20;
	uint32_t s, l4len = (uint32_t)(len - l4);

	s = v6 ? naive_sum(p + 8, 32) : naive_sum(p + 12, 8);
	s += 6 + l4len;
	s += naive_sum(p + l4, l4len);
	if (naive_fold(s) != 0xffff)
		return 0;
	return v6 || naive_fold(naive_sum(p, 20)) == 0xffff;
}

/* A TCP packet: IPv4 or IPv6, 12 bytes of timestamp option, payload i%251. */
static size_t
make_tcp(uint8_t *p, int v6, size_t payload, uint32_t seq, uint8_t flags)
{
	size_t l4 = v6 ? 40 : 20, hl = l4 + 32, len = hl + payload;

	memset(p, 0, hl);
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[4] = 0x12;
		p[6] = 0x40;   /* DF */
		p[8] = 64;
		p[9] = 6;
		p[12] = 10; p[15] = 1;
		p[16] = 10; p[19] = 2;
	}
	p[l4] = 0x9c; p[l4 + 1] = 0x40;   /* ports 40000 -> 5201 */
	p[l4 + 2] = 0x14; p[l4 + 3] = 0x51;
	p[l4 + 4] = (uint8_t)(seq >> 24); p[l4 + 5] = (uint8_t)(seq >> 16);
	p[l4 + 6] = (uint8_t)(seq >> 8); p[l4 + 7] = (uint8_t)seq;
	p[l4 + 11] = 7;                   /* ACK number */
	p[l4 + 12] = 8 << 4;              /* 32 bytes of header */
	p[l4 + 13] = flags;
	p[l4 + 14] = 0x01;                /* window */
	p[l4 + 20] = 1; p[l4 + 21] = 1; p[l4 + 22] = 8; p[l4 + 23] = 10;   /* timestamps */
	p[l4 + 27] = 0x33;
	for (size_t i = 0; i < payload; i++)
		p[hl + i] = (uint8_t)((seq + i) % 251);
	if (!v6) {
		uint16_t c = (uint16_t)~naive_fold(naive_sum(p, 20));
		p[10] = (uint8_t)(c >> 8);
		p[11] = (uint8_t)c;
	}
	return len;
}

/* The kernel's TSO packet: a partial checksum (the pseudo-header's sum). */
static void
make_partial(uint8_t *p, size_t len, sp_vnet_hdr *h, uint16_t mss)
{
	int v6 = p[0] >> 4 == 6;
	size_t l4 = v6 ? 40 : 20;
	uint32_t s = (v6 ? naive_sum(p + 8, 32) : naive_sum(p + 12, 8)) + 6 + (uint32_t)(len - l4);
	uint16_t c = naive_fold(s);

	p[l4 + 16] = (uint8_t)(c >> 8);
	p[l4 + 17] = (uint8_t)c;
	memset(h, 0, sizeof(*h));
	h->flags = SP_VNET_F_NEEDS_CSUM;
	h->gso_type = v6 ? SP_VNET_GSO_TCPV6 : SP_VNET_GSO_TCPV4;
	h->hdr_len = (uint16_t)(l4 + 32);
	h->gso_size = mss;
	h->csum_start = (uint16_t)l4;
	h->csum_offset = 16;
}

static void
segment_and_merge(int v6)
{
	static uint8_t big[70000], out[64 * SLOT], back[70000];
	size_t lens[64], l4 = v6 ? 40 : 20, hl = l4 + 32, len, blen;
	uint8_t vnet[SP_VNET_HDR_LEN];
	sp_vnet_hdr h, g;
	static sp_gro gro;
	int n;

	len = make_tcp(big, v6, 10000, 1000, 0x18 /* ACK PSH */);
	make_partial(big, len, &h, 1388);
	/* Through the wire form and back, as TUN hands it over. */
	sp_vnet_hdr_write(&h, vnet);
	sp_vnet_hdr_read(vnet, &h);
	n = sp_offload_segment(&h, big, len, out, SLOT, SLOT, 64, lens);
	assert_int_equal(n, 8);   /* 7 x 1388 + 284 */
	for (int i = 0; i < n; i++) {
		const uint8_t *s = out + (size_t)i * SLOT;
		uint32_t seq = (uint32_t)s[l4 + 4] << 24 | (uint32_t)s[l4 + 5] << 16 |
		    (uint32_t)s[l4 + 6] << 8 | s[l4 + 7];
		assert_int_equal(lens[i], hl + (i < 7 ? 1388 : 284));
		assert_true(tcp_ok(s, lens[i]));
		assert_int_equal(seq, 1000 + 1388 * (uint32_t)i);
		/* PSH only on the last; the payload is the original's slice. */
		assert_int_equal(s[l4 + 13], i < 7 ? 0x10 : 0x18);
		assert_memory_equal(s + hl, big + hl + (size_t)i * 1388, lens[i] - hl);
		if (!v6)
			assert_int_equal(s[4] << 8 | s[5], 0x1200 + i);
	}
	/* Coalesced again: one run, header describing the original. */
	sp_gro_init(&gro);
	for (int i = 0; i < n; i++)
		assert_int_equal(sp_gro_add(&gro, out + (size_t)i * SLOT, lens[i]), 0);
	sp_gro_finish(&gro);
	assert_true(gro.item[0].head);
	for (int i = 1; i < n; i++)
		assert_false(gro.item[i].head);
	sp_vnet_hdr_read(gro.item[0].vnet, &g);
	assert_int_equal(g.gso_type, h.gso_type);
	assert_int_equal(g.gso_size, 1388);
	assert_int_equal(g.hdr_len, hl);
	assert_int_equal(g.csum_start, l4);
	assert_int_equal(g.csum_offset, 16);
	blen = 0;
	for (int j = 0; j >= 0; j = gro.item[j].next) {
		size_t from = j == 0 ? 0 : hl;
		memcpy(back + blen, gro.item[j].pkt + from, gro.item[j].len - from);
		blen += gro.item[j].len - from;
	}
	assert_int_equal(blen, len);
	/* Identical but for the IPv4 ID of the first segment (it was the
	 * original's) and the checksums, which are partial in both. */
	assert_memory_equal(back, big, len);
}

static void
test_v4(void **state)
{
	(void)state;
	segment_and_merge(0);
}

static void
test_v6(void **state)
{
	(void)state;
	segment_and_merge(1);
}

static void
test_not_gso(void **state)
{
	uint8_t p[1500], out[SLOT];
	size_t len = make_tcp(p, 0, 500, 1, 0x10), lens[1];
	sp_vnet_hdr h;

	(void)state;
	make_partial(p, len, &h, 0);
	h.gso_type = SP_VNET_GSO_NONE;
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 1, lens), 1);
	assert_int_equal(lens[0], len);
	assert_true(tcp_ok(out, len));
	/* Without NEEDS_CSUM the packet passes untouched. */
	h.flags = 0;
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 1, lens), 1);
	assert_memory_equal(out, p, len);
}

static void
test_bad_segment(void **state)
{
	static uint8_t p[20000], out[8 * SLOT];
	size_t len = make_tcp(p, 0, 12000, 1, 0x10), lens[8];
	sp_vnet_hdr h;

	(void)state;
	make_partial(p, len, &h, 1000);
	/* Needs 12 slots, 8 given. */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.gso_size = 1400;   /* 9 */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.gso_size = 1600;   /* 8, fits */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), 8);
	h.gso_size = 3000;   /* bigger than a slot */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.gso_size = 0;
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.gso_size = 1600;
	h.csum_start = 24;   /* not where TCP starts */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.csum_start = 20;
	h.gso_type = SP_VNET_GSO_TCPV6;   /* it is IPv4 */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.gso_type = 3;   /* UFO: never asked for */
	assert_int_equal(sp_offload_segment(&h, p, len, out, SLOT, SLOT, 8, lens), -1);
	h.gso_type = SP_VNET_GSO_TCPV4;
	assert_int_equal(sp_offload_segment(&h, p, 30, out, SLOT, SLOT, 8, lens), -1);
	p[32] = 0xf0;   /* a TCP header longer than the packet */
	assert_int_equal(sp_offload_segment(&h, p, 70, out, SLOT, SLOT, 8, lens), -1);
	h.gso_type = SP_VNET_GSO_NONE;
	h.csum_start = 60;
	h.csum_offset = 16;
	assert_int_equal(sp_offload_segment(&h, p, 70, out, SLOT, SLOT, 8, lens), -1);
}

/* Two flows interleaved, a gap, a short segment, UDP: each where it belongs. */
static void
test_gro_runs(void **state)
{
	static uint8_t pk[12][1600];
	size_t len[12];
	static sp_gro g;

	(void)state;
	len[0] = make_tcp(pk[0], 0, 1000, 0, 0x10);
	len[1] = make_tcp(pk[1], 1, 1000, 0, 0x10);       /* another flow (IPv6) */
	len[2] = make_tcp(pk[2], 0, 1000, 1000, 0x10);    /* joins 0 */
	len[3] = make_tcp(pk[3], 1, 1000, 1000, 0x10);    /* joins 1 */
	len[4] = make_tcp(pk[4], 0, 1000, 5000, 0x10);    /* a gap: a new run */
	len[5] = make_tcp(pk[5], 0, 400, 6000, 0x10);     /* short: joins 4, ends it */
	len[6] = make_tcp(pk[6], 0, 1000, 6400, 0x10);    /* after a short: new run */
	len[7] = make_tcp(pk[7], 0, 1000, 7400, 0x18);    /* PSH: joins 6, ends it */
	len[8] = make_tcp(pk[8], 0, 1000, 8400, 0x10);    /* new run */
	len[9] = make_tcp(pk[9], 0, 1000, 9400, 0x11);    /* FIN: alone */
	len[10] = make_tcp(pk[10], 0, 0, 7, 0x10);        /* pure ACK: alone */
	len[11] = make_tcp(pk[11], 0, 100, 0, 0x10);
	pk[11][9] = 17;                                   /* UDP: alone */
	sp_gro_init(&g);
	for (int i = 0; i < 12; i++)
		assert_int_equal(sp_gro_add(&g, pk[i], len[i]), 0);
	sp_gro_finish(&g);
	{
		const int head[12] = { 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1 };
		const int next[12] = { 2, 3, -1, -1, 5, -1, 7, -1, -1, -1, -1, -1 };
		for (int i = 0; i < 12; i++) {
			assert_int_equal(g.item[i].head, head[i]);
			assert_int_equal(g.item[i].next, next[i]);
		}
	}
	/* Run 6+7 carries the PSH; lone packets get an empty header. */
	assert_int_equal(pk[6][33], 0x18);
	assert_int_equal(pk[0][2] << 8 | pk[0][3], 52 + 2000);
	for (int i = 8; i < 12; i++) {
		static const uint8_t zero[SP_VNET_HDR_LEN];
		assert_memory_equal(g.item[i].vnet, zero, SP_VNET_HDR_LEN);
	}
}

/* A header byte that differs (here the ACK number) keeps packets apart. */
static void
test_gro_header_differs(void **state)
{
	static uint8_t a[1600], b[1600];
	size_t la = make_tcp(a, 0, 1000, 0, 0x10), lb = make_tcp(b, 0, 1000, 1000, 0x10);
	static sp_gro g;

	(void)state;
	b[31] = 8;
	sp_gro_init(&g);
	assert_int_equal(sp_gro_add(&g, a, la), 0);
	assert_int_equal(sp_gro_add(&g, b, lb), 0);
	sp_gro_finish(&g);
	assert_true(g.item[0].head && g.item[1].head);
	assert_int_equal(g.item[0].next, -1);
	/* Full: the caller is told. */
	sp_gro_init(&g);
	for (int i = 0; i < SP_GRO_MAX; i++)
		assert_int_equal(sp_gro_add(&g, a, la), 0);
	assert_int_equal(sp_gro_add(&g, a, la), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_not_gso),
		cmocka_unit_test(test_bad_segment),
		cmocka_unit_test(test_gro_runs),
		cmocka_unit_test(test_gro_header_differs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
