/*
 * NOTIFY (RFC 1996) to the configured secondaries after each change,
 * TSIG-signed, retried until each answers or NOTIFY_TRIES run out.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_int.h"
#include "sp_log.h"

#define NOTIFY_TRIES 5
#define NOTIFY_INTERVAL_MS 2000
#define OPCODE_NOTIFY 4

struct notify {
	sp_gateway *g;
	size_t secondary;
	uint16_t id;
	int tries;
	int fd;
	sp_watch *watch;
	sp_timer *retry;
};

static const char *
secondary_text(const struct notify *n, char *buf, size_t len)
{
	return sp_addr_format((const struct sockaddr *)&n->g->d->conf.secondary[n->secondary].addr,
	    buf, len);
}

static void
finish(struct notify *n)
{
	sp_watch_cancel(n->watch);
	n->watch = NULL;
	sp_timer_disarm(n->retry);
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

/* The NOTIFY: header, the zone's SOA question, a TSIG. */
static int
build(struct notify *n, uint8_t *buf, size_t cap, size_t *len)
{
	sp_gateway *g = n->g;
	const struct sp_conf_secondary *sec = &g->d->conf.secondary[n->secondary];
	size_t apex_len;
	const uint8_t *apex = sp_zone_apex(g->zone, &apex_len);
	sp_tsig_state st;
	sp_wire w = sp_wire_writer(buf, cap);

	sp_wire_put_u16(&w, n->id);
	sp_wire_put_u16(&w, (uint16_t)(OPCODE_NOTIFY << 11 | SP_F_AA));
	sp_wire_put_u16(&w, 1);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put_u16(&w, 0);
	sp_wire_put(&w, apex, apex_len);
	sp_wire_put_u16(&w, SP_T_SOA);
	sp_wire_put_u16(&w, SP_C_IN);
	if (sp_wire_err(&w) != SP_OK)
		return SP_ESPACE;
	*len = sp_wire_used(&w);
	sp_tsig_begin(&st, &g->tsig[sec->key], n->id);
	return sp_tsig_sign(buf, len, cap, &g->tsig[sec->key], &st, sp_clock_wall(), SP_TSIG_OK);
}

static void
send_one(struct notify *n)
{
	const struct sp_conf_secondary *sec = &n->g->d->conf.secondary[n->secondary];
	uint8_t buf[1024];
	size_t len;
	char a[80];

	n->tries++;
	if (build(n, buf, sizeof(buf), &len) != SP_OK)
		sp_warn("NOTIFY to %s: cannot build the message", secondary_text(n, a, sizeof(a)));
	else if (sendto(n->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&sec->addr,
	    sec->addr_len) != (ssize_t)len)
		sp_debug("NOTIFY to %s: not sent; retrying", secondary_text(n, a, sizeof(a)));
	sp_timer_arm(n->retry, NOTIFY_INTERVAL_MS);
}

static void
on_retry(void *arg)
{
	struct notify *n = arg;
	char a[80];

	if (n->tries >= NOTIFY_TRIES) {
		sp_warn("NOTIFY to %s: no answer after %d tries", secondary_text(n, a, sizeof(a)),
		    n->tries);
		finish(n);
		return;
	}
	send_one(n);
}

static void
on_reply(void *arg, int fd, unsigned events)
{
	struct notify *n = arg;
	uint8_t buf[4096];
	ssize_t got;
	char a[80];

	(void)events;
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (got >= SP_DNS_HEADER && (uint16_t)(buf[0] << 8 | buf[1]) == n->id &&
	    (buf[2] & 0x80)) {
		sp_debug("NOTIFY acknowledged by %s", secondary_text(n, a, sizeof(a)));
		finish(n);
	}
}

void
gw_notify_all(sp_gateway *g)
{
	for (size_t i = 0; i < g->d->conf.nsecondary; i++) {
		struct notify *n = &g->notifies[i];
		const struct sp_conf_secondary *sec = &g->d->conf.secondary[i];
		char a[80];

		finish(n);
		n->tries = 0;
		sp_rng_fill(g->d->rng, &n->id, sizeof(n->id));
		n->fd = socket(sec->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (n->fd < 0 ||
		    sp_loop_watch(g->d->loop, n->fd, SP_IO_READ, on_reply, n, &n->watch) != SP_OK) {
			sp_warn("NOTIFY to %s: no socket", secondary_text(n, a, sizeof(a)));
			finish(n);
			continue;
		}
		send_one(n);
	}
}

int
gw_notify_start(sp_gateway *g, sp_errmsg *e)
{
	size_t n = g->d->conf.nsecondary;

	if (n == 0)
		return SP_OK;
	if ((g->notifies = calloc(n, sizeof(*g->notifies))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		g->notifies[i].g = g;
		g->notifies[i].secondary = i;
		g->notifies[i].fd = -1;
		if (sp_timer_new(g->d->loop, on_retry, &g->notifies[i], &g->notifies[i].retry) !=
		    SP_OK)
			return sp_errf(e, SP_ENOMEM, "out of memory");
	}
	return SP_OK;
}

void
gw_notify_stop(sp_gateway *g)
{
	for (size_t i = 0; g->notifies != NULL && i < g->d->conf.nsecondary; i++) {
		finish(&g->notifies[i]);
		sp_timer_free(g->notifies[i].retry);
	}
	free(g->notifies);
	g->notifies = NULL;
}
