/* The zone as transfers carry it (see sp_xfr.h). */
#define _GNU_SOURCE
#include "sp_xfr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PH_SOA, PH_NODES, PH_PARAM, PH_CHAIN, PH_SOA_END, PH_DONE };

void
sp_xfr_begin(sp_xfr_iter *it, const sp_zone *z)
{
	memset(it, 0, sizeof(*it));
	it->z = z;
}

/*
 * The next record of one RRset: its RRs, then (if sigs) its RRSIGs. it->rr
 * counts within the part it->sigs says; 0 when the RRset is done.
 */
static int
rrset_next(sp_xfr_iter *it, const sp_rrset *rs, const uint8_t *owner, size_t owner_len,
    int with_sigs, sp_xfr_rr *out)
{
	for (;;) {
		const uint8_t *data = it->sigs ? rs->rrsig : rs->rdata;
		size_t len = it->sigs ? rs->rrsig_len : rs->rdata_len;
		uint16_t n = it->sigs ? rs->nsig : rs->count;
		sp_wire r;
		uint16_t rdlen;

		if (it->rr < n) {
			r = sp_wire_reader(data, len);
			r.pos = it->off;
			rdlen = sp_wire_u16(&r);
			out->rdata = sp_wire_view(&r, rdlen);
			if (out->rdata == NULL)
				return 0;   /* a snapshot is built well-formed; stop */
			out->owner = owner;
			out->owner_len = owner_len;
			out->type = it->sigs ? SP_T_RRSIG : rs->type;
			out->ttl = rs->ttl;
			out->rdlen = rdlen;
			it->off = r.pos;
			it->rr++;
			return 1;
		}
		if (it->sigs || !with_sigs) {
			it->sigs = 0;
			it->rr = 0;
			it->off = 0;
			return 0;
		}
		it->sigs = 1;
		it->rr = 0;
		it->off = 0;
	}
}

int
sp_xfr_next(sp_xfr_iter *it, sp_xfr_rr *rr)
{
	const sp_zone *z = it->z;
	size_t apex_len;
	const uint8_t *apex = sp_zone_apex(z, &apex_len);
	const sp_rrset *soa = sp_node_rrset(sp_zone_node(z, 0), SP_T_SOA);

	for (;;) {
		switch (it->phase) {
		case PH_SOA:
			if (rrset_next(it, soa, apex, apex_len, 1, rr))
				return 1;
			it->phase = PH_NODES;
			break;
		case PH_NODES: {
			const sp_node *node;
			if (it->node == sp_zone_node_count(z)) {
				it->phase = PH_PARAM;
				break;
			}
			node = sp_zone_node(z, it->node);
			if (it->rrset == node->nrrsets) {
				it->node++;
				it->rrset = 0;
				break;
			}
			if (node->rrsets[it->rrset].type != SP_T_SOA &&
			    rrset_next(it, &node->rrsets[it->rrset], node->name, node->name_len, 1, rr))
				return 1;
			it->rrset++;
			break;
		}
		case PH_PARAM:
			if (rrset_next(it, sp_zone_nsec3param(z), apex, apex_len, 1, rr))
				return 1;
			it->phase = PH_CHAIN;
			it->node = 0;
			break;
		case PH_CHAIN: {
			const sp_nsec3 *n;
			if (it->node == sp_zone_nsec3_count(z)) {
				it->phase = PH_SOA_END;
				break;
			}
			n = sp_zone_nsec3(z, it->node);
			if (rrset_next(it, &n->rrset, n->owner, n->owner_len, 1, rr))
				return 1;
			it->node++;
			break;
		}
		case PH_SOA_END:
			/* RFC 5936: the transfer ends with the SOA again, alone. */
			if (rrset_next(it, soa, apex, apex_len, 0, rr))
				return 1;
			it->phase = PH_DONE;
			break;
		default:
			return 0;
		}
	}
}

ldns_rr *
sp_xfr_ldns_rr(const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdlen)
{
	uint8_t buf[SP_DNAME_MAX + 10 + 65535];
	sp_wire w = sp_wire_writer(buf, sizeof(buf));
	ldns_rr *rr = NULL;
	size_t pos = 0;

	sp_wire_put(&w, owner, owner_len);
	sp_wire_put_u16(&w, type);
	sp_wire_put_u16(&w, SP_C_IN);
	sp_wire_put_u32(&w, ttl);
	sp_wire_put_u16(&w, (uint16_t)rdlen);
	sp_wire_put(&w, rdata, rdlen);
	if (sp_wire_err(&w) != SP_OK ||
	    ldns_wire2rr(&rr, buf, sp_wire_used(&w), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return NULL;
	return rr;
}

int
sp_xfr_text(const sp_zone *z, char **out, size_t *len)
{
	sp_xfr_iter it;
	sp_xfr_rr rr;
	char *buf = NULL;
	size_t blen = 0;
	int rc = SP_OK, soas = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &blen)) == NULL)
		return SP_ENOMEM;
	sp_xfr_begin(&it, z);
	while (rc == SP_OK && sp_xfr_next(&it, &rr)) {
		ldns_rr *lr;
		char *s;

		/* A zone file holds the SOA once; the closing SOA is for transfers. */
		if (rr.type == SP_T_SOA && soas++ > 0)
			continue;
		if ((lr = sp_xfr_ldns_rr(rr.owner, rr.owner_len, rr.type, rr.ttl, rr.rdata,
		    rr.rdlen)) == NULL) {
			rc = SP_EINVAL;
			break;
		}
		s = ldns_rr2str_fmt(ldns_output_format_nocomments, lr);
		ldns_rr_free(lr);
		if (s == NULL) {
			rc = SP_ENOMEM;
			break;
		}
		fputs(s, f);
		free(s);
	}
	if (fclose(f) != 0 && rc == SP_OK)
		rc = SP_ENOMEM;
	if (rc != SP_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = blen;
	return SP_OK;
}
