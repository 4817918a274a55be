/* Presentation format of keys, DS records and trust anchors, through ldns so
 * that our text is exactly what the ldns tools print. */
#include "key_internal.h"

#include <ldns/ldns.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
dnskey_rr(const sp_key_info *k, const char *zone, uint32_t ttl, ldns_rr **out)
{
	char b64[sodium_base64_ENCODED_LEN(SP_KEY_PUBLIC_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	char text[600];

	sodium_bin2base64(b64, sizeof(b64), k->pub, SP_KEY_PUBLIC_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "%s %u IN DNSKEY %u 3 %u %s", zone, ttl,
	    k->flags, k->algorithm, b64);
	if (ldns_rr_new_frm_str(out, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return SP_EINVAL;
	return SP_OK;
}

static int
rr_text(const ldns_rr *rr, char **out)
{
	char *s = ldns_rr2str_fmt(ldns_output_format_nocomments, rr);

	if (s == NULL)
		return SP_ENOMEM;
	*out = s;
	return SP_OK;
}

int
sp_key_dnskey_text(const sp_key_info *k, const char *zone, uint32_t ttl, char **out)
{
	ldns_rr *rr;
	int rc;

	if ((rc = dnskey_rr(k, zone, ttl, &rr)) != SP_OK)
		return rc;
	rc = rr_text(rr, out);
	ldns_rr_free(rr);
	return rc;
}

int
sp_key_ds_text(const sp_key_info *k, const char *zone, uint32_t ttl, char **out)
{
	ldns_rr *rr, *ds;
	int rc;

	if ((rc = dnskey_rr(k, zone, ttl, &rr)) != SP_OK)
		return rc;
	ds = ldns_key_rr2ds(rr, LDNS_SHA256);
	ldns_rr_free(rr);
	if (ds == NULL)
		return SP_ECRYPTO;
	rc = rr_text(ds, out);
	ldns_rr_free(ds);
	return rc;
}

int
sp_anchor_text(const sp_key_info *keys, size_t n, const char *zone,
    enum sp_anchor_format fmt, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int found = 0;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return SP_ENOMEM;
	if (fmt == SP_ANCHOR_BIND)
		fprintf(f, "trust-anchors {\n");
	for (size_t i = 0; i < n; i++) {
		uint8_t rdata[SP_DNSKEY_RDATA_BYTES], digest[SP_DS_SHA256_BYTES];
		char hex[2 * SP_DS_SHA256_BYTES + 1];

		if (keys[i].role != SP_ROLE_KSK || keys[i].state == SP_KSTATE_REVOKED)
			continue;
		sp_dnskey_rdata(keys[i].flags, keys[i].pub, rdata);
		if (sp_ds_sha256(zone, rdata, digest) != SP_OK) {
			fclose(f);
			free(buf);
			return SP_EINVAL;
		}
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		if (fmt == SP_ANCHOR_BIND)
			fprintf(f, "\t%s static-ds %u %u 2 \"%s\";\n", zone,
			    keys[i].tag, keys[i].algorithm, hex);
		else
			fprintf(f, "trust-anchor: \"%s DS %u %u 2 %s\"\n", zone,
			    keys[i].tag, keys[i].algorithm, hex);
		found++;
	}
	if (fmt == SP_ANCHOR_BIND)
		fprintf(f, "};\n");
	if (fclose(f) != 0) {
		free(buf);
		return SP_ENOMEM;
	}
	if (found == 0) {
		free(buf);
		return SP_ENOENT;
	}
	*out = buf;
	return SP_OK;
}
