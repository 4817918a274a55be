/*
 * systemd-resolved over D-Bus (see resolved.h), with GDBus.
 *
 * Who owns what. struct link holds everything a check needs (the bus
 * connection among it); while a check is queued or running it belongs to
 * that job, and to the loop otherwise (r->inflight says which). Its done
 * function, on the loop, hands it back, or frees it if sp_resolved_stop
 * came first (link->r is then NULL). The loop never blocks on the worker:
 * a stop during a check reverts on a connection of its own and leaves a
 * flag (link->stopped) that makes the check revert after any registration
 * it made, so whichever of the two runs last leaves the link reverted.
 *
 * GDBus queues its own events (a connection's "closed" signal) on the
 * thread-default main context of the thread that made the connection. The
 * daemon runs no GMainLoop, so each link has a private context, pushed
 * around every use and drained before it is let go.
 */
#include "resolved.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon.h"
#include "sp_log.h"

#define CALL_MS 1000
#define SYSTEM_BUS_DEFAULT "unix:path=/run/dbus/system_bus_socket"
#define RESOLVE1 "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MANAGER "org.freedesktop.resolve1.Manager"
/* Never start resolved through bus activation: not to look for it, and
 * certainly not to revert a link at stop. */
#define CALL_FLAGS G_DBUS_CALL_FLAGS_NO_AUTO_START

enum outcome {
	OUT_NONE,
	OUT_REGISTERED,   /* registered now (first time, or to a new owner) */
	OUT_KEPT,         /* the owner we registered with still runs */
	OUT_ABSENT,       /* no bus, or no resolved on it */
	OUT_FAILED,       /* resolved refused or failed */
};

struct link {
	struct sp_resolved *r;        /* the loop's alone; NULL once stopped */
	atomic_int stopped;
	char bus[1024];
	char ifname[IF_NAMESIZE];
	char zone[254];
	uint8_t addr[16];
	GMainContext *ctx;
	GDBusConnection *conn;
	char owner[256];              /* resolved's unique name we registered with */
	unsigned ifindex;             /* the index we last registered, 0 if none */
	enum outcome outcome;         /* the last check's */
	char why[256];
};

struct sp_resolved {
	sp_daemon *d;
	struct link *link;
	int inflight;
	sp_timer *timer;
	uint64_t recheck_ms;
	int registered;
	unsigned ifindex;             /* link->ifindex as of the last check */
	enum outcome said;            /* what the log said last, against spam */
	char said_why[256];
};

/* ---- GDBus, on whichever thread holds the link ------------------------ */

struct connecting {
	GDBusConnection *conn;
	GError *err;
	int done;
};

static void
on_connected(GObject *src, GAsyncResult *res, gpointer arg)
{
	struct connecting *c = arg;

	(void)src;
	c->conn = g_dbus_connection_new_for_address_finish(res, &c->err);
	c->done = 1;
}

static gboolean
on_connect_timeout(gpointer arg)
{
	g_cancellable_cancel(arg);
	return G_SOURCE_REMOVE;
}

/*
 * A connection to the bus at address, within ms: GDBus's synchronous
 * constructor has no timeout, so the asynchronous one runs on ctx (the
 * thread-default context here) with a timer that cancels it.
 */
static GDBusConnection *
connect_bounded(GMainContext *ctx, const char *address, unsigned ms, char *why, size_t cap)
{
	struct connecting c = { NULL, NULL, 0 };
	GCancellable *cancel = g_cancellable_new();
	GSource *timeout = g_timeout_source_new(ms);

	g_source_set_callback(timeout, on_connect_timeout, cancel, NULL);
	g_source_attach(timeout, ctx);
	g_dbus_connection_new_for_address(address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, cancel, on_connected, &c);
	while (!c.done)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(timeout);
	g_source_unref(timeout);
	g_object_unref(cancel);
	if (c.conn == NULL) {
		snprintf(why, cap, "no system bus at %.200s (%s)", address,
		    c.err != NULL ? c.err->message : "?");
		g_clear_error(&c.err);
	}
	return c.conn;
}

static void
drain(GMainContext *ctx)
{
	while (g_main_context_iteration(ctx, FALSE))
		;
}

static void
disconnect(GMainContext *ctx, GDBusConnection **conn)
{
	if (*conn == NULL)
		return;
	if (!g_dbus_connection_is_closed(*conn))
		g_dbus_connection_close_sync(*conn, NULL, NULL);
	g_clear_object(conn);
	drain(ctx);
}

/* A method call of resolved's Manager, within ms; 0, or -1 with why. */
static int
manager_call(GDBusConnection *conn, const char *dest, const char *method, GVariant *args,
    int ms, char *why, size_t cap, GError **errp)
{
	GError *err = NULL;
	GVariant *ret;

	ret = g_dbus_connection_call_sync(conn, dest, RESOLVE1_PATH, RESOLVE1_MANAGER, method,
	    args, NULL, CALL_FLAGS, ms, NULL, &err);
	if (ret != NULL) {
		g_variant_unref(ret);
		return 0;
	}
	snprintf(why, cap, "%s: %s", method, err->message);
	if (errp != NULL)
		*errp = err;
	else
		g_error_free(err);
	return -1;
}

static int
revert(GDBusConnection *conn, unsigned ifindex, int ms, char *why, size_t cap)
{
	return manager_call(conn, RESOLVE1, "RevertLink", g_variant_new("(i)", (gint32)ifindex),
	    ms, why, cap, NULL);
}

static int
register_link(struct link *l, const char *owner, unsigned ifindex)
{
	GVariantBuilder servers, domains;
	GError *err = NULL;

	g_variant_builder_init(&servers, G_VARIANT_TYPE("a(iay)"));
	g_variant_builder_add(&servers, "(i@ay)", (gint32)AF_INET6,
	    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, l->addr, sizeof(l->addr), 1));
	g_variant_builder_init(&domains, G_VARIANT_TYPE("a(sb)"));
	g_variant_builder_add(&domains, "(sb)", l->zone, TRUE);
	if (manager_call(l->conn, owner, "SetLinkDNS",
	    g_variant_new("(ia(iay))", (gint32)ifindex, &servers), CALL_MS, l->why,
	    sizeof(l->why), NULL) < 0) {
		g_variant_builder_clear(&domains);
		return -1;
	}
	if (manager_call(l->conn, owner, "SetLinkDomains",
	    g_variant_new("(ia(sb))", (gint32)ifindex, &domains), CALL_MS, l->why,
	    sizeof(l->why), NULL) < 0)
		return -1;
	/* Only the zone's names go to this link. A resolved older than v240
	 * has no such call, and routing-only domains are enough there. */
	if (manager_call(l->conn, owner, "SetLinkDefaultRoute",
	    g_variant_new("(ib)", (gint32)ifindex, FALSE), CALL_MS, l->why, sizeof(l->why),
	    &err) < 0) {
		int unknown = g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD);

		g_error_free(err);
		if (!unknown)
			return -1;
	}
	return 0;
}

/* resolved's unique name into owner, or why it has none. */
static enum outcome
find_owner(struct link *l, char *owner, size_t cap)
{
	GError *err = NULL;
	GVariant *ret;
	const char *name;

	ret = g_dbus_connection_call_sync(l->conn, "org.freedesktop.DBus",
	    "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
	    g_variant_new("(s)", RESOLVE1), G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE,
	    CALL_MS, NULL, &err);
	if (ret == NULL) {
		if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)) {
			snprintf(l->why, sizeof(l->why), "nothing owns %s on the system bus",
			    RESOLVE1);
		} else {
			snprintf(l->why, sizeof(l->why), "the system bus at %.200s: %s", l->bus,
			    err->message);
			/* A bus that times out or has gone: connect anew next time. */
			disconnect(l->ctx, &l->conn);
		}
		g_error_free(err);
		return OUT_ABSENT;
	}
	g_variant_get(ret, "(&s)", &name);
	snprintf(owner, cap, "%s", name);
	g_variant_unref(ret);
	return OUT_NONE;
}

static enum outcome
check(struct link *l)
{
	char owner[sizeof(l->owner)];
	unsigned ifindex;

	l->why[0] = '\0';
	if (l->conn != NULL && g_dbus_connection_is_closed(l->conn))
		disconnect(l->ctx, &l->conn);
	if (l->conn == NULL) {
		/* Unique names mean something on one bus only: a restarted bus
		 * counts them from :1.0 again. */
		l->owner[0] = '\0';
		l->conn = connect_bounded(l->ctx, l->bus, CALL_MS, l->why, sizeof(l->why));
		if (l->conn == NULL)
			return OUT_ABSENT;
	}
	if (find_owner(l, owner, sizeof(owner)) == OUT_ABSENT) {
		/* What we registered went with the resolved that had it. */
		l->owner[0] = '\0';
		return OUT_ABSENT;
	}
	if ((ifindex = if_nametoindex(l->ifname)) == 0) {
		snprintf(l->why, sizeof(l->why), "no interface %s", l->ifname);
		l->owner[0] = '\0';
		return OUT_FAILED;
	}
	if (strcmp(owner, l->owner) == 0 && ifindex == l->ifindex)
		return OUT_KEPT;
	/* Partly registered counts as registered for the revert at stop. */
	l->ifindex = ifindex;
	if (register_link(l, owner, ifindex) < 0) {
		l->owner[0] = '\0';
		return OUT_FAILED;
	}
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	return OUT_REGISTERED;
}

/* On the worker. */
static void
check_run(void *arg)
{
	struct link *l = arg;
	char why[256];

	if (atomic_load(&l->stopped))
		return;
	g_main_context_push_thread_default(l->ctx);
	l->outcome = check(l);
	/* A stop that came during the check reverted before our calls, or
	 * leaves it to us: see the top of the file. */
	if (atomic_load(&l->stopped) && l->ifindex != 0 && l->conn != NULL)
		revert(l->conn, l->ifindex, CALL_MS, why, sizeof(why));
	drain(l->ctx);
	g_main_context_pop_thread_default(l->ctx);
}

static void
link_free(struct link *l)
{
	if (l == NULL)
		return;
	g_main_context_push_thread_default(l->ctx);
	disconnect(l->ctx, &l->conn);
	g_main_context_pop_thread_default(l->ctx);
	g_main_context_unref(l->ctx);
	free(l);
}

/* ---- The loop's side -------------------------------------------------- */

static void
say(sp_resolved *r, const struct link *l)
{
	char a[INET6_ADDRSTRLEN];

	switch (l->outcome) {
	case OUT_REGISTERED:
		inet_ntop(AF_INET6, l->addr, a, sizeof(a));
		sp_info("resolved: %s's names go to [%s]:53 on %s (index %u), told %s", l->zone, a,
		    l->ifname, l->ifindex, l->owner);
		break;
	case OUT_ABSENT:
		if (r->said != OUT_ABSENT)
			sp_info("systemd-resolved not found: %s; %s's names are not resolved "
			    "through it (see docs/resolver.md)", l->why, l->zone);
		break;
	case OUT_FAILED:
		if (r->said != OUT_FAILED || strcmp(r->said_why, l->why) != 0)
			sp_warn("resolved: cannot register %s on %s: %s (see docs/resolver.md)",
			    l->zone, l->ifname, l->why);
		break;
	case OUT_KEPT:
	case OUT_NONE:
		return;
	}
	r->said = l->outcome;
	snprintf(r->said_why, sizeof(r->said_why), "%s", l->why);
}

static void
check_done(void *arg, int ran)
{
	struct link *l = arg;
	sp_resolved *r = l->r;

	if (r == NULL) {
		link_free(l);
		return;
	}
	r->inflight = 0;
	/* ran is 0 only when the worker stops: no more checks then. */
	if (!ran)
		return;
	r->ifindex = l->ifindex;
	r->registered = l->outcome == OUT_REGISTERED || l->outcome == OUT_KEPT;
	say(r, l);
	sp_timer_arm(r->timer, r->recheck_ms);
}

static void
on_recheck(void *arg)
{
	sp_resolved *r = arg;

	if (r->inflight)
		return;
	if (r->d->work == NULL ||
	    sp_work_submit(r->d->work, check_run, check_done, r->link) != SP_OK) {
		sp_timer_arm(r->timer, r->recheck_ms);
		return;
	}
	r->inflight = 1;
}

static int
zone_ok(const char *zone, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253 || zone[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)zone[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

int
sp_resolved_start(sp_daemon *d, const char *ifname, const uint8_t addr[16], const char *zone,
    sp_resolved **out, sp_errmsg *e)
{
	const char *bus = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	sp_resolved *r;
	struct link *l;
	size_t zl;
	int rc;

	if (d == NULL || d->loop == NULL || ifname == NULL || addr == NULL || zone == NULL ||
	    out == NULL)
		return sp_errf(e, SP_EINVAL, "resolved: missing argument");
	if (ifname[0] == '\0' || strlen(ifname) >= IF_NAMESIZE)
		return sp_errf(e, SP_EINVAL, "resolved: bad interface name '%s'", ifname);
	zl = strlen(zone);
	if (zl > 1 && zone[zl - 1] == '.')
		zl--;
	if (!zone_ok(zone, zl))
		return sp_errf(e, SP_EINVAL, "resolved: bad zone name '%s'", zone);
	if (bus == NULL || bus[0] == '\0')
		bus = SYSTEM_BUS_DEFAULT;
	if (strlen(bus) >= sizeof(l->bus))
		return sp_errf(e, SP_EINVAL, "resolved: DBUS_SYSTEM_BUS_ADDRESS is too long");
	if ((r = calloc(1, sizeof(*r))) == NULL || (l = calloc(1, sizeof(*l))) == NULL) {
		free(r);
		return sp_errf(e, SP_ENOMEM, "out of memory");
	}
	if ((rc = sp_timer_new(d->loop, on_recheck, r, &r->timer)) != SP_OK) {
		free(l);
		free(r);
		return sp_errf(e, rc, "resolved: cannot make a timer: %s", sp_strerror(rc));
	}
	l->r = r;
	atomic_init(&l->stopped, 0);
	snprintf(l->bus, sizeof(l->bus), "%s", bus);
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	memcpy(l->zone, zone, zl);
	l->zone[zl] = '\0';
	memcpy(l->addr, addr, sizeof(l->addr));
	l->ctx = g_main_context_new();
	r->d = d;
	r->link = l;
	r->recheck_ms = SP_RESOLVED_RECHECK_MS;
	sp_timer_arm(r->timer, 0);
	*out = r;
	return SP_OK;
}

void
sp_resolved_set_recheck(sp_resolved *r, uint64_t ms)
{
	if (r != NULL)
		r->recheck_ms = ms;
}

int
sp_resolved_registered(const sp_resolved *r)
{
	return r != NULL && r->registered;
}

/* Revert ifindex within CALL_MS all told, connecting first if need be. */
static int
revert_bounded(GMainContext *ctx, GDBusConnection **conn, const char *bus, unsigned ifindex)
{
	uint64_t t0 = sp_clock_mono_ms(), spent;
	char why[256];

	if (*conn != NULL && g_dbus_connection_is_closed(*conn))
		disconnect(ctx, conn);
	if (*conn == NULL && (*conn = connect_bounded(ctx, bus, CALL_MS, why, sizeof(why))) == NULL)
		return -1;
	spent = sp_clock_mono_ms() - t0;
	if (spent >= CALL_MS)
		return -1;
	return revert(*conn, ifindex, (int)(CALL_MS - spent), why, sizeof(why));
}

void
sp_resolved_stop(sp_resolved *r)
{
	struct link *l;

	if (r == NULL)
		return;
	l = r->link;
	sp_timer_free(r->timer);
	if (r->inflight) {
		/* The check owns the link: revert on a connection of our own and
		 * leave the link to check_done. The flag first, so that a
		 * registration we cannot see yet is reverted by the check. */
		GMainContext *ctx = g_main_context_new();
		GDBusConnection *conn = NULL;
		unsigned ifindex = r->ifindex != 0 ? r->ifindex : if_nametoindex(l->ifname);

		atomic_store(&l->stopped, 1);
		l->r = NULL;
		g_main_context_push_thread_default(ctx);
		if (ifindex != 0)
			revert_bounded(ctx, &conn, l->bus, ifindex);
		disconnect(ctx, &conn);
		g_main_context_pop_thread_default(ctx);
		g_main_context_unref(ctx);
	} else {
		g_main_context_push_thread_default(l->ctx);
		if (l->ifindex != 0 && revert_bounded(l->ctx, &l->conn, l->bus, l->ifindex) == 0)
			sp_info("resolved: reverted %s (index %u)", l->ifname, l->ifindex);
		g_main_context_pop_thread_default(l->ctx);
		link_free(l);
	}
	free(r);
}
