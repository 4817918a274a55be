/*
 * TUN offloads in pure code: the adapter opens TUN with a virtio-net
 * header on every packet (IFF_VNET_HDR) and TSO enabled, so the kernel
 * hands it TCP "super-packets" of up to 64 KB in one read and takes
 * coalesced ones in one write. Each read or write then moves some forty
 * packets instead of one, which is most of what a userspace tunnel
 * spends its CPU on.
 *
 *   segment: a packet read from TUN (header + bytes) -> MTU-sized IP
 *            packets with complete checksums, ready to encrypt.
 *   gro:     decrypted IP packets -> runs of one TCP flow merged back
 *            into super-packets with a header for TUN to write.
 *
 * No I/O, no allocation: bytes in, bytes out, so the fuzzers and unit
 * tests drive them directly.
 */
#ifndef SP_OFFLOAD_H
#define SP_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

/* The virtio-net header as TUN reads and writes it (host byte order). */
typedef struct sp_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
} sp_vnet_hdr;
#define SP_VNET_HDR_LEN 10
#define SP_VNET_F_NEEDS_CSUM 1
#define SP_VNET_F_DATA_VALID 2
#define SP_VNET_GSO_NONE 0
#define SP_VNET_GSO_TCPV4 1
#define SP_VNET_GSO_TCPV6 4
#define SP_VNET_GSO_ECN 0x80

void sp_vnet_hdr_read(const uint8_t b[SP_VNET_HDR_LEN], sp_vnet_hdr *h);
void sp_vnet_hdr_write(const sp_vnet_hdr *h, uint8_t b[SP_VNET_HDR_LEN]);

/* The Internet checksum (RFC 1071) of len bytes, added to sum, unfolded. */
uint64_t sp_csum_add(uint64_t sum, const uint8_t *p, size_t len);
/* Fold an unfolded sum to 16 bits (not complemented). */
uint16_t sp_csum_fold(uint64_t sum);

/*
 * Cut pkt (what followed the header h) into packets of at most the
 * header's gso_size of payload each, written to out, out + stride, ...
 * (each slot holds cap bytes), with their lengths in lens. Checksums the
 * kernel left partial are completed. Returns the number of packets, or
 * -1 if the packet is malformed, not one we asked for, or needs more than
 * max slots (the caller drops and counts it).
 */
int sp_offload_segment(const sp_vnet_hdr *h, const uint8_t *pkt, size_t len, uint8_t *out,
    size_t stride, size_t cap, size_t max, size_t *lens);

/*
 * Receive coalescing. Add decrypted packets in arrival order; packets of
 * one TCP flow that continue each other (next sequence number, same
 * headers but for lengths and PSH, equal sizes but for the last) join a
 * run. sp_gro_finish patches each run's first packet into a super-packet
 * header. Then, for each i with item[i].head set, the adapter writes
 * item[i].vnet, the whole of item i, and the payload (pkt + hlen) of each
 * following member, item[i].next, item[next].next, ... until -1.
 *
 * Packets added here are modified in place by finish. The merged packet's
 * TCP checksum is left to no one (NEEDS_CSUM on a packet the kernel
 * delivers locally means "verified"): every member was authenticated by
 * its AEAD tag, which is what the kernel's WireGuard relies on too when
 * it marks decrypted packets CHECKSUM_UNNECESSARY.
 */
#define SP_GRO_MAX 256
#define SP_GRO_FLOWS 8
typedef struct sp_gro_item {
	uint8_t *pkt;
	uint16_t len;
	uint16_t hlen;          /* IP + TCP header length, 0 if not mergeable */
	int16_t next;           /* the next member of its run, or -1 */
	uint8_t head;           /* first of a run (or a lone packet) */
	uint8_t vnet[SP_VNET_HDR_LEN];
} sp_gro_item;

typedef struct sp_gro {
	size_t n;
	sp_gro_item item[SP_GRO_MAX];
	/* Open runs: their first and last members, payload size, bytes. */
	struct {
		int16_t first, last;
		uint16_t seg;
		uint32_t total;
		uint16_t count;
	} flow[SP_GRO_FLOWS];
	size_t nflows;
	size_t next_evict;
} sp_gro;

void sp_gro_init(sp_gro *g);
/* 0 on success, -1 when full (the caller finishes, writes, and inits). */
int sp_gro_add(sp_gro *g, uint8_t *pkt, size_t len);
void sp_gro_finish(sp_gro *g);

#endif
