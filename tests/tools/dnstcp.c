/*
 * dnstcp: DNS-over-TCP clients that misbehave on purpose, for the tests of
 * the gateway's TCP adapter (tests/system/hardening.sh).
 *
 *   dnstcp stall HOST PORT QNAME QTYPE COUNT SECONDS
 *       pipeline COUNT queries (EDNS, DO) and never read; report when, if
 *       ever within SECONDS, the server closed the connection
 *   dnstcp slowxfr HOST PORT ZONE KEYNAME SECRET CHUNK PAUSE_MS
 *       a TSIG-signed AXFR read CHUNK bytes at a time with PAUSE_MS between
 *       reads through a small receive buffer; report the records received
 *       and whether the transfer ended with the closing SOA
 *   dnstcp query HOST PORT QNAME QTYPE EDNS_FLAGS
 *       one query over UDP with these EDNS header flags (0x8000 is DO,
 *       0x4000 CO, which dig will not set); print the rcode and the
 *       response's EDNS flags
 *
 * HOST is a numeric IPv4 or IPv6 address. Exit status 0 when the run went as
 * reported, 1 on a usage or connection error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
connect_to(const char *host, const char *port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(port));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(port));
		len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "dnstcp: %s: not a numeric address\n", host);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0)
		return -1;
	/* Before connect, so the window the server sees is small from the start. */
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		fprintf(stderr, "dnstcp: connect: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* A query as DNS-over-TCP bytes (length prefix); malloc'd. */
static uint8_t *
query_wire(const char *qname, const char *qtype, uint16_t id, size_t *len)
{
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	ldns_rr_type type = ldns_get_rr_type_by_name(qtype);
	ldns_pkt *p;
	uint8_t *wire = NULL, *out;
	size_t n;

	if (name == NULL || type == 0)
		return NULL;
	p = ldns_pkt_query_new(name, type, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_do(p, true);
	if (ldns_pkt2wire(&wire, p, &n) != LDNS_STATUS_OK || (out = malloc(n + 2)) == NULL) {
		ldns_pkt_free(p);
		free(wire);
		return NULL;
	}
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	memcpy(out + 2, wire, n);
	free(wire);
	ldns_pkt_free(p);
	*len = n + 2;
	return out;
}

static int
stall(char **argv)
{
	long count = atol(argv[4]), seconds = atol(argv[5]);
	uint64_t start, deadline;
	size_t len;
	int fd = connect_to(argv[0], argv[1], 4096);
	long sent = 0;

	if (fd < 0)
		return 1;
	start = now_ms();
	deadline = start + (uint64_t)seconds * 1000;
	for (; sent < count; sent++) {
		uint8_t *q = query_wire(argv[2], argv[3], (uint16_t)sent, &len);
		struct pollfd pfd = { fd, POLLOUT | POLLRDHUP, 0 };
		int r;

		if (q == NULL)
			return 1;
		/* The server may stop reading: then our send buffer fills and
		 * we wait for it to drain, or to close, or the time to end. */
		r = poll(&pfd, 1, (int)(deadline > now_ms() ? deadline - now_ms() : 0));
		if (r <= 0 || (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) ||
		    send(fd, q, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
			free(q);
			break;
		}
		free(q);
	}
	printf("sent %ld queries in %llu ms\n", sent, (unsigned long long)(now_ms() - start));
	for (;;) {
		struct pollfd pfd = { fd, POLLRDHUP, 0 };
		uint64_t t = now_ms();
		if (t >= deadline) {
			printf("still open after %ld s\n", seconds);
			break;
		}
		if (poll(&pfd, 1, (int)(deadline - t)) > 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			printf("closed by the server after %llu ms\n",
			    (unsigned long long)(now_ms() - start));
			break;
		}
	}
	close(fd);
	return 0;
}

static int
slowxfr(char **argv)
{
	size_t chunk = (size_t)atol(argv[5]);
	int pause = atoi(argv[6]);
	ldns_rdf *zone = ldns_dname_new_frm_str(argv[2]);
	ldns_pkt *p;
	uint8_t *wire = NULL, *buf = NULL;
	size_t n, have = 0, cap = 70000;
	long records = 0, soas = 0, messages = 0;
	uint64_t start = now_ms();
	int fd, ended = 0;

	if (zone == NULL || chunk == 0)
		return 1;
	p = ldns_pkt_query_new(zone, LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(p, 4711);
	if (ldns_pkt_tsig_sign(p, argv[3], argv[4], 300, "hmac-sha256.", NULL) !=
	    LDNS_STATUS_OK || ldns_pkt2wire(&wire, p, &n) != LDNS_STATUS_OK)
		return 1;
	ldns_pkt_free(p);
	if ((fd = connect_to(argv[0], argv[1], 2048)) < 0 || (buf = malloc(cap)) == NULL)
		return 1;
	{
		uint8_t lenb[2] = { (uint8_t)(n >> 8), (uint8_t)n };
		if (send_all(fd, lenb, 2) != 0 || send_all(fd, wire, n) != 0)
			return 1;
	}
	free(wire);
	while (!ended) {
		ssize_t k = recv(fd, buf + have, chunk < cap - have ? chunk : cap - have, 0);
		if (k <= 0)
			break;
		have += (size_t)k;
		/* Take every complete message out of the buffer. */
		while (have >= 2 && have >= 2 + ((size_t)buf[0] << 8 | buf[1])) {
			size_t mlen = (size_t)buf[0] << 8 | buf[1];
			ldns_pkt *m = NULL;
			if (ldns_wire2pkt(&m, buf + 2, mlen) != LDNS_STATUS_OK) {
				printf("malformed message after %ld records\n", records);
				return 1;
			}
			messages++;
			if (ldns_pkt_get_rcode(m) != LDNS_RCODE_NOERROR) {
				printf("refused with rcode %d\n", (int)ldns_pkt_get_rcode(m));
				ended = 1;
			}
			for (size_t i = 0; i < ldns_pkt_ancount(m); i++) {
				ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(m), i);
				records++;
				if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ++soas == 2)
					ended = 1;
			}
			ldns_pkt_free(m);
			memmove(buf, buf + 2 + mlen, have - 2 - mlen);
			have -= 2 + mlen;
		}
		if (pause > 0)
			usleep((useconds_t)pause * 1000);
	}
	printf("%ld records in %ld messages in %llu ms; %s\n", records, messages,
	    (unsigned long long)(now_ms() - start),
	    soas == 2 ? "complete" : "incomplete");
	free(buf);
	close(fd);
	return 0;
}

static int
query(char **argv)
{
	ldns_rdf *name = ldns_dname_new_frm_str(argv[2]);
	ldns_rr_type type = ldns_get_rr_type_by_name(argv[3]);
	unsigned long flags = strtoul(argv[4], NULL, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(struct sockaddr_in);
	uint8_t *wire = NULL, buf[65535];
	ldns_pkt *q, *r = NULL;
	struct pollfd pfd;
	ssize_t got;
	size_t n;
	int fd;

	if (name == NULL || type == 0)
		return 1;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, argv[0], &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(argv[1]));
	} else if (inet_pton(AF_INET6, argv[0], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(argv[1]));
		sl = sizeof(struct sockaddr_in6);
	} else {
		return 1;
	}
	q = ldns_pkt_query_new(name, type, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt_set_id(q, 4242);
	ldns_pkt_set_edns_udp_size(q, 1232);
	/* ldns keeps DO inside the Z field: Z first, then DO. */
	ldns_pkt_set_edns_z(q, (uint16_t)(flags & 0x7fff));
	ldns_pkt_set_edns_do(q, (flags & 0x8000) != 0);
	if (ldns_pkt2wire(&wire, q, &n) != LDNS_STATUS_OK ||
	    (fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0 ||
	    sendto(fd, wire, n, 0, (struct sockaddr *)&ss, sl) != (ssize_t)n)
		return 1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) != 1 || (got = recv(fd, buf, sizeof(buf), 0)) <= 0 ||
	    ldns_wire2pkt(&r, buf, (size_t)got) != LDNS_STATUS_OK) {
		printf("no answer\n");
		return 1;
	}
	printf("rcode=%s eflags=0x%04x\n",
	    ldns_lookup_by_id(ldns_rcodes, ldns_pkt_get_rcode(r))->name,
	    (unsigned)(ldns_pkt_edns_z(r) | (ldns_pkt_edns_do(r) ? 0x8000 : 0)));
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "stall") == 0)
		return stall(argv + 2);
	if (argc == 9 && strcmp(argv[1], "slowxfr") == 0)
		return slowxfr(argv + 2);
	if (argc == 7 && strcmp(argv[1], "query") == 0)
		return query(argv + 2);
	fprintf(stderr, "usage: dnstcp stall HOST PORT QNAME QTYPE COUNT SECONDS\n"
	    "       dnstcp slowxfr HOST PORT ZONE KEYNAME SECRET CHUNK PAUSE_MS\n"
	    "       dnstcp query HOST PORT QNAME QTYPE EDNS_FLAGS\n");
	return 1;
}
