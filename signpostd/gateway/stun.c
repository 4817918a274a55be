/*
 * The gateway's STUN service (docs/stun.md): Binding requests on the
 * WireGuard port, answered with the address they came from, so members'
 * ICE agents learn their server-reflexive candidates from a server they
 * already trust to be there. Datagrams on the port that are neither
 * WireGuard's nor STUN's go on to pairing.
 *
 * A Binding answer is at most 64 bytes for a request of at least 20: a
 * forged source could use the service to reflect about 3x the bytes at
 * someone. Answers are capped at STUN_PER_SECOND, which members' gathering
 * (a few requests per agent) never nears.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "gw_int.h"
#include "sp_log.h"
#include "sp_stun.h"
#include "tunnel.h"

#define STUN_PER_SECOND 1000

static int
stun_input(sp_gateway *g, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen)
{
	uint8_t out[SP_STUN_REPLY_MAX], addr[16];
	size_t outlen;
	uint16_t port;
	int family, rc;
	uint64_t sec = sp_clock_mono_ms() / 1000;

	memset(addr, 0, sizeof(addr));
	if (from->sa_family == AF_INET && fromlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
		family = 4;
		memcpy(addr, &s4->sin_addr, 4);
		port = ntohs(s4->sin_port);
	} else if (from->sa_family == AF_INET6 && fromlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		family = 6;
		memcpy(addr, &s6->sin6_addr, 16);
		port = ntohs(s6->sin6_port);
	} else {
		g->stun.malformed++;
		return 1;
	}
	if (sec != g->stun_second) {
		g->stun_second = sec;
		g->stun_count = 0;
	}
	if (++g->stun_count > STUN_PER_SECOND) {
		g->stun_limited++;
		return 1;
	}
	rc = sp_stun_respond(msg, len, family, addr, port, out, sizeof(out), &outlen, &g->stun);
	if (rc == SP_OK && sp_tunnel_send_other(g->d->tunnel, out, outlen, from, fromlen) != SP_OK)
		g->stun_send_failed++;
	return 1;   /* STUN's, answered or dropped and counted */
}

int
gw_port_input(void *arg, const uint8_t *msg, size_t len, const struct sockaddr *from,
    socklen_t fromlen)
{
	sp_gateway *g = arg;

	if (sp_stun_is(msg, len))
		return stun_input(g, msg, len, from, fromlen);
	return gw_pairing_input(arg, msg, len, from, fromlen);
}

void
gw_stun_status(const sp_gateway *g, sp_ctl_reply *r)
{
	sp_ctl_reply_field(r, "stun", "answered=%llu indications=%llu unknown-attribute=%llu "
	    "malformed=%llu ignored=%llu rate-limited=%llu send-failed=%llu",
	    (unsigned long long)g->stun.answered, (unsigned long long)g->stun.indications,
	    (unsigned long long)g->stun.unknown_attr, (unsigned long long)g->stun.malformed,
	    (unsigned long long)g->stun.ignored, (unsigned long long)g->stun_limited,
	    (unsigned long long)g->stun_send_failed);
}
