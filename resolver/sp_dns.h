/*
 * DNS wire-format constants and names, shared by the zone, the signer and
 * the answerer. Names here are always in wire form (length-prefixed labels
 * ending in the root label) and, once inside the zone, lowercase.
 */
#ifndef SP_DNS_H
#define SP_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"
#include "sp_wire.h"

#define SP_DNAME_MAX 255
#define SP_DNS_HEADER 12

enum sp_dns_type {
	SP_T_A = 1, SP_T_NS = 2, SP_T_SOA = 6, SP_T_AAAA = 28, SP_T_OPT = 41,
	SP_T_DS = 43, SP_T_SSHFP = 44, SP_T_IPSECKEY = 45, SP_T_RRSIG = 46,
	SP_T_NSEC = 47, SP_T_DNSKEY = 48, SP_T_NSEC3 = 50, SP_T_NSEC3PARAM = 51,
	SP_T_TLSA = 52, SP_T_CDS = 59, SP_T_CDNSKEY = 60,
	SP_T_NXNAME = 128,   /* RFC 9824 pseudo-type: "this name does not exist" */
	SP_T_TSIG = 250, SP_T_IXFR = 251, SP_T_AXFR = 252, SP_T_ANY = 255,
};

enum { SP_C_IN = 1 };

enum sp_dns_rcode {
	SP_RCODE_NOERROR = 0, SP_RCODE_FORMERR = 1, SP_RCODE_SERVFAIL = 2,
	SP_RCODE_NXDOMAIN = 3, SP_RCODE_NOTIMP = 4, SP_RCODE_REFUSED = 5,
	SP_RCODE_NOTAUTH = 9, SP_RCODE_BADVERS = 16,
};

/* Header flag bits (second 16-bit word). */
#define SP_F_QR 0x8000
#define SP_F_AA 0x0400
#define SP_F_TC 0x0200
#define SP_F_RD 0x0100
#define SP_F_CD 0x0010
/* EDNS flags (RFC 3225 DO; RFC 9824 CO, "compact answers OK"). */
#define SP_EDNS_DO 0x8000
#define SP_EDNS_CO 0x4000

/* "alice.example" or "alice.example." to lowercase wire form. */
int sp_dname_from_text(const char *text, uint8_t out[SP_DNAME_MAX], size_t *len);
/* Wire to presentation text with the trailing dot; out >= 1024 bytes
 * (escapes can quadruple a label). */
void sp_dname_to_text(const uint8_t *name, char *out, size_t outlen);
/* Number of labels, not counting the root (RRSIG "labels"). */
unsigned sp_dname_labels(const uint8_t *name);
/* Length of a wire name known to be valid. */
size_t sp_dname_len(const uint8_t *name);
/* 1 if name equals zone or lies below it (both lowercase wire). */
int sp_dname_in_zone(const uint8_t *name, size_t len, const uint8_t *zone, size_t zlen);
/* Canonical DNS name order (RFC 4034 6.1): <0, 0, >0. */
int sp_dname_cmp(const uint8_t *a, const uint8_t *b);

/*
 * Read an uncompressed name from r into out, lowercasing it; raw (may be
 * NULL) receives a borrowed pointer to the bytes as sent. A compression
 * pointer, a label over 63 bytes or a name over 255 bytes fails with
 * SP_EPROTO. Used for the question, where compression cannot occur.
 */
int sp_dname_read(sp_wire *r, uint8_t out[SP_DNAME_MAX], size_t *len, const uint8_t **raw);
/* Skip a possibly compressed name (pointers are not followed: a name ends
 * at its first pointer). */
void sp_dname_skip(sp_wire *r);

#endif
