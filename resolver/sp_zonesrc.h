/*
 * What the personal zone contains, built from the cloud, its keys and its
 * devices (docs/zone.md):
 *
 *   apex      SOA, NS, DNSKEY, CDS, CDNSKEY, and the gateway's A/AAAA
 *   NS host   the gateway's A/AAAA again, for name servers inside the zone
 *   NAME      AAAA (the device's overlay ULA), IPSECKEY (its identity key,
 *             RFC 4025 with algorithm 4, EdDSA, RFC 9373), SSHFP (optional)
 *
 * A device's current network endpoints are never published here.
 */
#ifndef SP_ZONESRC_H
#define SP_ZONESRC_H

#include <netinet/in.h>

#include "sp_cloud.h"
#include "sp_device.h"
#include "sp_zone.h"

#define SP_ZONE_MAX_NS 8

/*
 * IPSECKEY algorithms (RFC 4025 2.4): 4 is EdDSA (RFC 9373), a Signpost
 * device's identity key. A phone that runs only a WireGuard app has an
 * X25519 key, for which IANA has no number: it is published under 252,
 * unassigned in the registry, and docs/keys.md says so. Resolvers store
 * and validate it like any other; Signpost reads it as "reach this member
 * through the gateway".
 */
#define SP_IPSECKEY_EDDSA 4
#define SP_IPSECKEY_X25519 252
#define SP_ZONE_MAX_ADDR 8

typedef struct sp_zone_config {
	uint32_t ttl;                   /* device records, apex A/AAAA: 300 */
	uint32_t key_ttl;               /* SOA, NS, DNSKEY, CDS, CDNSKEY: 3600 */
	char ns[SP_ZONE_MAX_NS][256];   /* NS names; none = the apex itself */
	size_t nns;
	struct in_addr a[SP_ZONE_MAX_ADDR];
	size_t na;
	struct in6_addr aaaa[SP_ZONE_MAX_ADDR];
	size_t naaaa;
	sp_sign_policy policy;
	/* The gateway's relay over TLS listens on this TCP port (0: none):
	 * _PORT._tcp.GATEWAY gets a TLSA 3 1 1 record of its certificate's key,
	 * the gateway's identity key (docs/relay.md). */
	uint16_t tlsa_port;
} sp_zone_config;

void sp_zone_config_default(sp_zone_config *c);

/*
 * Build and sign the zone. keys are the loaded keys (private halves
 * needed for the signers): every KSK and ZSK that is published, active or
 * retired goes into the DNSKEY RRset; active KSKs sign it; the newest
 * active ZSK signs the rest. this_device is the gateway's own device key
 * (published under cloud->name). prev lends signatures (may be NULL).
 */
int sp_zone_build(const sp_cloud *cloud, sp_key *const *keys, size_t nkeys,
    const sp_device *devs, size_t ndevs, const sp_zone_config *cfg,
    uint32_t serial, int64_t now, const sp_zone *prev, sp_zone **out, sp_errmsg *e)
	__attribute__((warn_unused_result));

/*
 * The zone's state file ("zone" in the store): the last serial published,
 * so a restart never goes back (RFC 1982). One line, "serial N". Pure;
 * errors name what and the line.
 */
int sp_zone_state_decode(const char *text, size_t len, const char *what, uint32_t *serial,
    sp_errmsg *e);
int sp_zone_state_encode(uint32_t serial, char *out, size_t cap, size_t *len);
/* The serial after last at time now: the time, or one more than the last
 * if that is later (RFC 1982 arithmetic keeps working past the wrap). */
uint32_t sp_zone_next_serial(uint32_t last, int64_t now);

#endif
