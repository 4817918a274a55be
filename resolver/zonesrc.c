#include "sp_zonesrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sp_kv.h"

void
sp_zone_config_default(sp_zone_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ttl = 300;
	c->key_ttl = 3600;
	sp_sign_policy_default(&c->policy);
}

static int
add_device(sp_zone_builder *b, const uint8_t *apex, size_t apex_len, const char *name,
    uint8_t algorithm, const uint8_t pub[SP_KEY_PUBLIC_BYTES], const sp_sshfp *fps,
    size_t nfp, const uint8_t prefix[6], uint32_t ttl)
{
	uint8_t owner[SP_DNAME_MAX], addr[16], rd[3 + SP_KEY_PUBLIC_BYTES];
	size_t nl = strlen(name);
	int rc;

	if (nl == 0 || nl > 63 || nl + 1 + apex_len > SP_DNAME_MAX)
		return SP_EINVAL;
	owner[0] = (uint8_t)nl;
	memcpy(owner + 1, name, nl);
	memcpy(owner + 1 + nl, apex, apex_len);
	sp_ula_device(prefix, pub, addr);
	if ((rc = sp_zone_add(b, owner, nl + 1 + apex_len, SP_T_AAAA, ttl, addr, 16)) != SP_OK)
		return rc;
	/* IPSECKEY: precedence 10, no gateway, the key's algorithm. */
	rd[0] = 10;
	rd[1] = 0;
	rd[2] = algorithm;
	memcpy(rd + 3, pub, SP_KEY_PUBLIC_BYTES);
	if ((rc = sp_zone_add(b, owner, nl + 1 + apex_len, SP_T_IPSECKEY, ttl, rd,
	    sizeof(rd))) != SP_OK)
		return rc;
	for (size_t i = 0; i < nfp; i++) {
		uint8_t fp[2 + 32];
		fp[0] = fps[i].algorithm;
		fp[1] = fps[i].fp_type;
		memcpy(fp + 2, fps[i].fp, 32);
		if ((rc = sp_zone_add(b, owner, nl + 1 + apex_len, SP_T_SSHFP, ttl, fp,
		    sizeof(fp))) != SP_OK)
			return rc;
	}
	return SP_OK;
}

/*
 * _PORT._tcp.NAME TLSA 3 1 1: DANE-EE, the certificate's public key
 * (SubjectPublicKeyInfo), its SHA-256. The gateway's TLS certificate is
 * self-signed with its Ed25519 identity key, so the SPKI is that key in
 * its fixed DER wrapping (RFC 8410).
 */
static int
add_tlsa(sp_zone_builder *b, const uint8_t *apex, size_t apex_len, const char *name,
    uint16_t port, const uint8_t pub[SP_KEY_PUBLIC_BYTES], uint32_t ttl)
{
	static const uint8_t spki_prefix[12] = {
		0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
	};
	uint8_t owner[SP_DNAME_MAX], spki[12 + SP_KEY_PUBLIC_BYTES], rd[3 + 32];
	char plabel[8];
	size_t nl = strlen(name), pl, o = 0;

	pl = (size_t)snprintf(plabel, sizeof(plabel), "_%u", port);
	if (nl == 0 || nl > 63 || pl + 1 + 5 + nl + 1 + apex_len > SP_DNAME_MAX)
		return SP_EINVAL;
	owner[o++] = (uint8_t)pl;
	memcpy(owner + o, plabel, pl);
	o += pl;
	owner[o++] = 4;
	memcpy(owner + o, "_tcp", 4);
	o += 4;
	owner[o++] = (uint8_t)nl;
	memcpy(owner + o, name, nl);
	o += nl;
	memcpy(owner + o, apex, apex_len);
	o += apex_len;
	memcpy(spki, spki_prefix, sizeof(spki_prefix));
	memcpy(spki + sizeof(spki_prefix), pub, SP_KEY_PUBLIC_BYTES);
	rd[0] = 3;   /* DANE-EE */
	rd[1] = 1;   /* SubjectPublicKeyInfo */
	rd[2] = 1;   /* SHA-256 */
	crypto_hash_sha256(rd + 3, spki, sizeof(spki));
	return sp_zone_add(b, owner, o, SP_T_TLSA, ttl, rd, sizeof(rd));
}

int
sp_zone_build(const sp_cloud *cloud, sp_key *const *keys, size_t nkeys,
    const sp_device *devs, size_t ndevs, const sp_zone_config *cfg,
    uint32_t serial, int64_t now, const sp_zone *prev, sp_zone **out, sp_errmsg *e)
{
	uint8_t apex[SP_DNAME_MAX], rd[1024], host[SP_DNAME_MAX];
	const sp_key *ksk[8], *zsk = NULL, *self = NULL;
	size_t apex_len, nksk = 0, hl;
	sp_zone_builder *b;
	sp_zone_signers signers;
	sp_wire w;
	int rc;

	if (sp_dname_from_text(cloud->zone, apex, &apex_len) != SP_OK)
		return sp_errf(e, SP_EINVAL, "bad zone name %s", cloud->zone);
	for (size_t i = 0; i < nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(keys[i]);
		if (k->state != SP_KSTATE_ACTIVE)
			continue;
		if (k->role == SP_ROLE_KSK && nksk < 8)
			ksk[nksk++] = keys[i];
		else if (k->role == SP_ROLE_ZSK &&
		    (zsk == NULL || k->created >= sp_key_info_of(zsk)->created))
			zsk = keys[i];
		else if (k->role == SP_ROLE_DEVICE)
			self = keys[i];
	}
	if (nksk == 0 || zsk == NULL)
		return sp_errf(e, SP_EINVAL, "the zone needs an active KSK and ZSK");
	if ((rc = sp_zone_builder_new(apex, apex_len, &b)) != SP_OK)
		return rc;

	/* SOA: the first NS as primary, hostmaster@zone, the timers of a
	 * zone that changes often and is signed online. */
	if (cfg->nns > 0) {
		if (sp_dname_from_text(cfg->ns[0], host, &hl) != SP_OK) {
			sp_zone_builder_free(b);
			return sp_errf(e, SP_EINVAL, "bad NS name %s", cfg->ns[0]);
		}
	} else {
		memcpy(host, apex, apex_len);
		hl = apex_len;
	}
	w = sp_wire_writer(rd, sizeof(rd));
	sp_wire_put(&w, host, hl);
	sp_wire_put_u8(&w, 10);
	sp_wire_put(&w, "hostmaster", 10);
	sp_wire_put(&w, apex, apex_len);
	sp_wire_put_u32(&w, serial);
	sp_wire_put_u32(&w, 3600);      /* refresh */
	sp_wire_put_u32(&w, 600);       /* retry */
	sp_wire_put_u32(&w, 1209600);   /* expire: the signature validity */
	sp_wire_put_u32(&w, cfg->ttl);  /* minimum: negative caching */
	rc = sp_zone_add(b, apex, apex_len, SP_T_SOA, cfg->key_ttl, rd, sp_wire_used(&w));

	for (size_t i = 0; rc == SP_OK && i < (cfg->nns ? cfg->nns : 1); i++) {
		if (cfg->nns > 0 && sp_dname_from_text(cfg->ns[i], host, &hl) != SP_OK) {
			sp_zone_builder_free(b);
			return sp_errf(e, SP_EINVAL, "bad NS name %s", cfg->ns[i]);
		}
		rc = sp_zone_add(b, apex, apex_len, SP_T_NS, cfg->key_ttl, host, hl);
	}
	/* The gateway's addresses: at the apex, and at every name server name
	 * inside the zone (ns.alice.example), which would otherwise have none. */
	for (size_t n = 0; rc == SP_OK && n <= cfg->nns; n++) {
		const uint8_t *at = apex;
		size_t at_len = apex_len;
		if (n < cfg->nns) {
			if (sp_dname_from_text(cfg->ns[n], host, &hl) != SP_OK ||
			    !sp_dname_in_zone(host, hl, apex, apex_len) || hl == apex_len)
				continue;
			at = host;
			at_len = hl;
		}
		for (size_t i = 0; rc == SP_OK && i < cfg->na; i++)
			rc = sp_zone_add(b, at, at_len, SP_T_A, cfg->ttl, (const uint8_t *)&cfg->a[i], 4);
		for (size_t i = 0; rc == SP_OK && i < cfg->naaaa; i++)
			rc = sp_zone_add(b, at, at_len, SP_T_AAAA, cfg->ttl,
			    (const uint8_t *)&cfg->aaaa[i], 16);
	}

	/* DNSKEY: every zone key a validator may meet; CDS and CDNSKEY: the
	 * active KSKs, which the parent's DS should match (RFC 7344). */
	for (size_t i = 0; rc == SP_OK && i < nkeys; i++) {
		const sp_key_info *k = sp_key_info_of(keys[i]);
		uint8_t dnskey[SP_DNSKEY_RDATA_BYTES], cds[4 + SP_DS_SHA256_BYTES];
		if (k->role == SP_ROLE_DEVICE || k->state == SP_KSTATE_REVOKED)
			continue;
		sp_dnskey_rdata(k->flags, k->pub, dnskey);
		rc = sp_zone_add(b, apex, apex_len, SP_T_DNSKEY, cfg->key_ttl, dnskey, sizeof(dnskey));
		if (rc != SP_OK || k->role != SP_ROLE_KSK || k->state != SP_KSTATE_ACTIVE)
			continue;
		cds[0] = (uint8_t)(k->tag >> 8);
		cds[1] = (uint8_t)k->tag;
		cds[2] = SP_KEY_ALG_ED25519;
		cds[3] = 2;
		if ((rc = sp_ds_sha256(cloud->zone, dnskey, cds + 4)) != SP_OK)
			break;
		rc = sp_zone_add(b, apex, apex_len, SP_T_CDS, cfg->key_ttl, cds, sizeof(cds));
		if (rc == SP_OK)
			rc = sp_zone_add(b, apex, apex_len, SP_T_CDNSKEY, cfg->key_ttl, dnskey,
			    sizeof(dnskey));
	}

	/* The gateway is a device too, then every other device. */
	if (rc == SP_OK && self != NULL)
		rc = add_device(b, apex, apex_len, cloud->name, SP_IPSECKEY_EDDSA,
		    sp_key_info_of(self)->pub, NULL, 0, cloud->prefix, cfg->ttl);
	if (rc == SP_OK && self != NULL && cfg->tlsa_port != 0)
		rc = add_tlsa(b, apex, apex_len, cloud->name, cfg->tlsa_port,
		    sp_key_info_of(self)->pub, cfg->ttl);
	for (size_t i = 0; rc == SP_OK && i < ndevs; i++)
		rc = add_device(b, apex, apex_len, devs[i].name,
		    devs[i].kind == SP_DEVICE_WIREGUARD ? SP_IPSECKEY_X25519 : SP_IPSECKEY_EDDSA,
		    devs[i].pub, devs[i].sshfp, devs[i].nsshfp, cloud->prefix, cfg->ttl);
	if (rc != SP_OK) {
		sp_zone_builder_free(b);
		return sp_errf(e, rc, "building the zone: %s", sp_strerror(rc));
	}
	signers.zsk = zsk;
	signers.ksk = ksk;
	signers.nksk = nksk;
	rc = sp_zone_finish(b, &signers, &cfg->policy, now, prev, out);
	if (rc != SP_OK)
		return sp_errf(e, rc, "signing the zone: %s", sp_strerror(rc));
	return SP_OK;
}

int
sp_zone_state_decode(const char *text, size_t len, const char *what, uint32_t *serial,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0;
	int rc, have = 0;
	sp_kv kv;

	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		char *end;
		unsigned long v;

		if (strcmp(kv.key, "serial") != 0)
			return sp_errf(e, SP_ECORRUPT, "%s:%u: unknown key '%s'", what, kv.line,
			    kv.key);
		errno = 0;
		v = strtoul(kv.value, &end, 10);
		if (have || errno != 0 || *end != '\0' || end == kv.value || kv.value[0] == '-' ||
		    v > UINT32_MAX)
			return sp_errf(e, SP_ECORRUPT, "%s:%u: serial must be given once, as a "
			    "number from 0 to 4294967295", what, kv.line);
		*serial = (uint32_t)v;
		have = 1;
	}
	if (rc < 0)
		return SP_ECORRUPT;
	if (!have)
		return sp_errf(e, SP_ECORRUPT, "%s: no serial", what);
	return SP_OK;
}

int
sp_zone_state_encode(uint32_t serial, char *out, size_t cap, size_t *len)
{
	int n = snprintf(out, cap, "serial %u\n", serial);

	if (n < 0 || (size_t)n >= cap)
		return SP_ESPACE;
	*len = (size_t)n;
	return SP_OK;
}

uint32_t
sp_zone_next_serial(uint32_t last, int64_t now)
{
	uint32_t t = (uint32_t)now;

	return (int32_t)(t - last) > 0 ? t : last + 1;
}
