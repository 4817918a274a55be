/*
 * Direct paths (docs/ice.md): one ICE agent (libnice, RFC 8445, with
 * trickle and RFC 7675 consent freshness) per member we talk to. Its
 * offers, answers and candidates go through the gateway's rendezvous on the
 * control plane (docs/control-plane.md, "ICE signalling"); its candidates
 * are host addresses, server-reflexive ones from the gateway's STUN
 * service on its WireGuard port, UPnP-IGD mappings (libnice's gupnp-igd)
 * and TURN allocations with the credentials the gateway hands out.
 *
 * The tunnel starts on the relay. When ICE selects a pair, the peer is
 * pinned to it (sp_tunnel_peer_pin) without touching its WireGuard
 * session. A pair on a UDP socket of libnice's moves onto a socket of our
 * own bound to the same address and port (SO_REUSEPORT) that the data path
 * reads and writes in batches; a classic BPF program on the port's
 * reuseport group steers WireGuard's datagrams to ours and everything else
 * (STUN: checks, consent) to libnice's, so libnice keeps the pair alive and
 * the data keeps the offloaded speed (docs/tunnels.md says why). A TURN
 * pair, or a kernel that will not share the port, sends through
 * nice_agent_send instead, as a virtual endpoint of the tunnel.
 *
 * libnice's GLib context is ours: acquired once, and polled with the loop's
 * own descriptors (sp_loop_set_hook), so its callbacks run on our thread and
 * libnice never copies packets to defer them. No agent is freed inside one
 * of its own signals: a dead agent waits for the reap timer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <nice/agent.h>
#include <sodium.h>

#include "ctl.h"
#include "daemon.h"
#include "member_int.h"
#include "sp_icesig.h"
#include "sp_log.h"
#include "tunnel.h"

/*
 * libnice is loaded when a member starts ICE, not linked: its dependencies
 * (GnuTLS, libsoup, libxml2, ICU through gupnp-igd) map about 8 MB that a
 * gateway or a daemon with ICE off never needs (bench/tunnel.sh's idle
 * RSS). The functions used, called through pointers under their own names.
 */
#define NICE_FUNCS(X) X(nice_agent_new_full) X(nice_agent_add_local_address) \
	X(nice_agent_add_stream) X(nice_agent_set_relay_info) X(nice_agent_attach_recv) \
	X(nice_agent_gather_candidates) X(nice_agent_get_local_credentials) \
	X(nice_agent_generate_local_candidate_sdp) X(nice_agent_parse_remote_candidate_sdp) \
	X(nice_agent_set_remote_candidates) X(nice_agent_peer_candidate_gathering_done) \
	X(nice_agent_set_remote_credentials) X(nice_agent_send) X(nice_agent_get_selected_socket) \
	X(nice_agent_get_sockets) \
	X(nice_candidate_free) X(nice_address_init) X(nice_address_set_from_sockaddr) \
	X(nice_address_set_port) X(nice_address_get_port) X(nice_address_to_string)
#define NICE_PTR(f) __typeof__(f) *f;
static struct {
	void *handle;
	NICE_FUNCS(NICE_PTR)
} nicelib;
#define NICE_LIBRARY "libnice.so.10"

/* Load libnice once; SP_ENOENT with why if it cannot be. */
static int
nice_load(const char **why)
{
	if (nicelib.handle != NULL)
		return SP_OK;
	if ((nicelib.handle = dlopen(NICE_LIBRARY, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*why = dlerror();
		return SP_ENOENT;
	}
#define NICE_SYM(f) \
	if ((*(void **)&nicelib.f = dlsym(nicelib.handle, #f)) == NULL) { \
		*why = "a function is missing (" #f ")"; \
		dlclose(nicelib.handle); \
		memset(&nicelib, 0, sizeof(nicelib)); \
		return SP_ENOENT; \
	}
	NICE_FUNCS(NICE_SYM)
#undef NICE_SYM
	return SP_OK;
}
/* From here on, libnice's names are the pointers. */
#define nice_agent_new_full nicelib.nice_agent_new_full
#define nice_agent_add_local_address nicelib.nice_agent_add_local_address
#define nice_agent_add_stream nicelib.nice_agent_add_stream
#define nice_agent_set_relay_info nicelib.nice_agent_set_relay_info
#define nice_agent_attach_recv nicelib.nice_agent_attach_recv
#define nice_agent_gather_candidates nicelib.nice_agent_gather_candidates
#define nice_agent_get_local_credentials nicelib.nice_agent_get_local_credentials
#define nice_agent_generate_local_candidate_sdp nicelib.nice_agent_generate_local_candidate_sdp
#define nice_agent_parse_remote_candidate_sdp nicelib.nice_agent_parse_remote_candidate_sdp
#define nice_agent_set_remote_candidates nicelib.nice_agent_set_remote_candidates
#define nice_agent_peer_candidate_gathering_done nicelib.nice_agent_peer_candidate_gathering_done
#define nice_agent_set_remote_credentials nicelib.nice_agent_set_remote_credentials
#define nice_agent_send nicelib.nice_agent_send
#define nice_agent_get_selected_socket nicelib.nice_agent_get_selected_socket
#define nice_agent_get_sockets nicelib.nice_agent_get_sockets
#define nice_candidate_free nicelib.nice_candidate_free
#define nice_address_init nicelib.nice_address_init
#define nice_address_set_from_sockaddr nicelib.nice_address_set_from_sockaddr
#define nice_address_set_port nicelib.nice_address_set_port
#define nice_address_get_port nicelib.nice_address_get_port
#define nice_address_to_string nicelib.nice_address_to_string

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define ICE_MAX 32                /* agents at once; more stay on the relay */
#define TWINS_MAX 8               /* libnice's UDP sockets we pair (host addresses) */
#define RETRY_MS 30000            /* a failed agent is tried again after this */
#define UPNP_TIMEOUT_MS 2000      /* libnice's 200 ms default misses slow routers */
#define FDS_MAX 256
#define LINKS_QUIET_MS 300        /* after the last netlink event of a burst */
/* A pinned path that carries data out and nothing back for PROBE_MS gets a
 * handshake (which the peer answers at once); nothing back for DEAD_MS
 * and the path is given up for the relay and ICE starts again. Faster than
 * consent freshness (30 s), and no false alarm on one-way traffic: the
 * handshake's answer counts. */
#define PROBE_MS 1500
#define DEAD_MS 4000
#define TICK_MS 500

/* libnice's type preference for UPnP-mapped candidates (NAT-assisted, 105:
 * libnice's candidate-priv.h), in the priority's top byte: how a remote
 * UPnP candidate is told from a STUN-learned one. */
#define NICE_PREF_NAT_ASSISTED 105

enum istate { I_GATHERING = 1, I_CHECKING, I_READY, I_FAILED };

struct ice {
	sp_member *m;
	struct mpeer *p;
	NiceAgent *agent;
	guint stream;
	uint32_t session, remote;     /* ours, and theirs (0: no answer yet) */
	int controlling;
	enum istate state;
	int dead;                     /* freed by the reap timer */
	int creds_sent, gathered, done_sent;
	char *pending[SP_CP_MAX_CANDIDATES];   /* local candidates not sent yet */
	size_t npending;
	int local_kind, remote_kind;  /* SP_CP_PATH_*: the pair as each side sees it */
	int sent_kind;
	struct sockaddr_in6 vep;      /* our virtual endpoint: nice_agent_send */
	int has_vep;
	/* Our twin of each of libnice's UDP sockets (same port, WireGuard's
	 * datagrams steered to it), made as soon as the agent gathers: the
	 * peer's first packets on a pair this side has not selected yet reach
	 * the tunnel too (libnice drops data from a source it has not
	 * validated). chosen: the selected pair's, -1 none. */
	struct twin {
		int fd;
		uint32_t id;
		struct sockaddr_storage la;
	} twins[TWINS_MAX];
	size_t ntwins;
	int chosen;
	struct sockaddr_storage raddr;   /* the selected pair's remote address */
	socklen_t raddr_len;
	char ltext[80], rtext[80];    /* the selected pair's ends, for status */
	uint64_t started_ms, selected_ms, failed_ms;
	uint64_t switches;
	uint64_t slow_rx, slow_tx;    /* datagrams through libnice's own path */
	uint64_t probed_ms;           /* our liveness handshake on the pair; 0: none */
	char why[48];                 /* I_FAILED: why */
	struct ice *next;             /* dead: on the reap list */
};

struct ice_ctx {
	GMainContext *ctx;
	GPollFD fds[FDS_MAX];
	gint nfds, max_prio;
	int prepared;
	sp_timer *flush, *reap, *links, *tick;
	uint8_t addrs[16];            /* addresses_digest at the last (re)start */
	struct ice *dead;             /* agents to free on the next reap */
	/* The UPnP probe (probe_start): igd -1 while it runs, 0 no router,
	 * 1 a router maps ports (igd_addr: its external address). */
	NiceAgent *probe;
	sp_member *probe_m;
	int probe_dead, igd;
	char igd_addr[64];
	char turn_server[64], turn_user[128], turn_password[128];
	uint64_t started, direct, failed, restarts, msgs_in, msgs_out, msgs_stale;
	uint64_t fallbacks;           /* pinned pairs given up for the relay */
	uint64_t silent;              /* of them, because nothing came back */
};

static const char *
kind_name(int k)
{
	switch (k) {
	case SP_CP_PATH_HOST: return "direct";
	case SP_CP_PATH_REFLEXIVE: return "reflexive";
	case SP_CP_PATH_UPNP: return "upnp";
	case SP_CP_PATH_TURN: return "turn";
	default: return "none";
	}
}

static enum sp_tunnel_path
kind_path(int k)
{
	switch (k) {
	case SP_CP_PATH_REFLEXIVE: return SP_PATH_REFLEXIVE;
	case SP_CP_PATH_UPNP: return SP_PATH_UPNP;
	case SP_CP_PATH_TURN: return SP_PATH_TURN;
	default: return SP_PATH_DIRECT;
	}
}

/* ---- the GLib context in our loop ---------------------------------------- */

static int
hook_prepare(void *arg, struct pollfd *fds, int max, int *timeout_ms)
{
	struct ice_ctx *c = arg;
	gint timeout = -1;

	/* The loop asks again when we need more room: prepare and query once
	 * per turn, and hand out the same descriptors. */
	if (!c->prepared) {
		g_main_context_prepare(c->ctx, &c->max_prio);
		c->nfds = g_main_context_query(c->ctx, c->max_prio, &timeout, c->fds, FDS_MAX);
		if (c->nfds > FDS_MAX) {
			sp_warn("ice: GLib wants %d descriptors; polling %d", c->nfds, FDS_MAX);
			c->nfds = FDS_MAX;
		}
		c->prepared = 1;
		*timeout_ms = timeout;
	}
	if (c->nfds > max)
		return c->nfds;
	for (gint i = 0; i < c->nfds; i++) {
		fds[i].fd = c->fds[i].fd;
		fds[i].events = (short)c->fds[i].events;
		fds[i].revents = 0;
	}
	return c->nfds;
}

static void
hook_dispatch(void *arg, struct pollfd *fds, int n)
{
	struct ice_ctx *c = arg;

	for (int i = 0; i < n && i < c->nfds; i++)
		c->fds[i].revents = (gushort)fds[i].revents;
	c->prepared = 0;
	if (g_main_context_check(c->ctx, c->max_prio, c->fds, c->nfds))
		g_main_context_dispatch(c->ctx);
}

/* ---- signalling ----------------------------------------------------------- */

static void
flush_soon(sp_member *m)
{
	if (!sp_timer_armed(m->ice->flush))
		sp_timer_arm(m->ice->flush, 0);
}

/* What this agent has not told its peer yet, in one ICE message (or
 * more, 32 candidates each). Sent only on a live control plane; kept
 * otherwise. */
static void
send_pending(struct ice *i)
{
	sp_member *m = i->m;
	sp_cp_msg *msg;

	if (i->dead || !m->cp_up)
		return;
	if (i->creds_sent && i->npending == 0 && (!i->gathered || i->done_sent) &&
	    i->sent_kind == i->local_kind)
		return;
	if ((msg = calloc(1, sizeof(*msg))) == NULL)
		return;
	msg->type = SP_CP_ICE;
	memcpy(msg->peer, i->p->ed, 32);
	msg->session = i->session;
	msg->answers = i->remote;
	if (!i->creds_sent) {
		gchar *ufrag = NULL, *pwd = NULL;
		if (nice_agent_get_local_credentials(i->agent, i->stream, &ufrag, &pwd)) {
			snprintf(msg->ufrag, sizeof(msg->ufrag), "%s", ufrag);
			snprintf(msg->pwd, sizeof(msg->pwd), "%s", pwd);
		}
		if (pwd != NULL)
			sodium_memzero(pwd, strlen(pwd));
		g_free(ufrag);
		g_free(pwd);
	}
	for (size_t k = 0; k < i->npending; k++) {
		snprintf(msg->candidates[msg->ncandidates++], sizeof(msg->candidates[0]), "%s",
		    i->pending[k]);
		g_free(i->pending[k]);
	}
	i->npending = 0;
	msg->done = i->gathered;
	msg->path = (uint32_t)i->local_kind;
	sp_debug("ice: %s: to the peer: session %08x answers %08x%s, %zu candidates%s, path %s",
	    i->p->name, msg->session, msg->answers, msg->ufrag[0] ? ", credentials" : "",
	    msg->ncandidates, msg->done ? ", done" : "", kind_name((int)msg->path));
	if (cp_send(m, msg) == SP_OK) {
		i->creds_sent = 1;
		i->done_sent = i->gathered;
		i->sent_kind = i->local_kind;
		m->ice->msgs_out++;
	}
	sodium_memzero(msg->pwd, sizeof(msg->pwd));
	free(msg);
}

static void
on_flush(void *arg)
{
	sp_member *m = arg;

	for (size_t k = 0; k < m->npeers; k++)
		if (m->peers[k]->ice != NULL)
			send_pending(m->peers[k]->ice);
}

/* ---- the path ------------------------------------------------------------- */

/*
 * The steering program for the port's reuseport group: a datagram whose
 * first word is a WireGuard type (1-4, then three zero bytes; the kernel
 * starts the program at the UDP payload) goes to the group's second
 * socket, ours; anything else, STUN above all, to the first, libnice's.
 */
static int
steer(int fd)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x01000000, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02000000, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x03000000, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x04000000, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 1),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

/* The selected pair is no longer ours to send on (its twin stays). */
static void
fast_close(struct ice *i)
{
	i->chosen = -1;
}

static void
twins_close(struct ice *i)
{
	i->chosen = -1;
	while (i->ntwins > 0) {
		struct twin *w = &i->twins[--i->ntwins];
		sp_tunnel_sock_remove(i->m->d->tunnel, w->id);
		close(w->fd);
	}
}

/* Our twin of one of libnice's sockets (borrowed); its index, or -1 if
 * the kernel refuses to share the port or there is no room. */
static int
twin_open(struct ice *i, GSocket *gs)
{
	struct sockaddr_storage la;
	socklen_t ll = sizeof(la);
	int nfd = g_socket_get_fd(gs), fd = -1, on = 1;
	uint32_t id;

	if (getsockname(nfd, (struct sockaddr *)&la, &ll) != 0)
		return -1;
	for (size_t k = 0; k < i->ntwins; k++)
		if (memcmp(&i->twins[k].la, &la, ll) == 0)
			return (int)k;
	if (i->ntwins == TWINS_MAX || g_socket_get_socket_type(gs) != G_SOCKET_TYPE_DATAGRAM)
		return -1;
	if (setsockopt(nfd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    (fd = socket(la.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    (la.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, (struct sockaddr *)&la, ll) != 0 || steer(fd) != 0) {
		sp_info("ice: %s: a port of libnice's cannot be shared (%s); data on it goes "
		    "through libnice", i->p->name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Trains in one receive; without, one datagram at a time. */
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) != 0)
		sp_debug("ice: UDP_GRO: %s", strerror(errno));
	if (sp_tunnel_sock_add(i->m->d->tunnel, fd, &id) != SP_OK) {
		close(fd);
		return -1;
	}
	i->twins[i->ntwins].fd = fd;
	i->twins[i->ntwins].id = id;
	memset(&i->twins[i->ntwins].la, 0, sizeof(la));
	memcpy(&i->twins[i->ntwins].la, &la, ll);
	return (int)i->ntwins++;
}

/* Twins for every UDP socket the agent gathers from. */
static void
twins_open(struct ice *i)
{
	GPtrArray *socks = nice_agent_get_sockets(i->agent, i->stream, 1);

	if (socks == NULL)
		return;
	for (guint k = 0; k < socks->len; k++)
		(void)twin_open(i, g_ptr_array_index(socks, k));
	g_ptr_array_unref(socks);
}

/* The selected pair's twin, made now if the socket is new; -1 if the pair
 * is not on a UDP socket of libnice's (TURN) or the port cannot be shared. */
static int
fast_open(struct ice *i)
{
	GSocket *gs = nice_agent_get_selected_socket(i->agent, i->stream, 1);

	if (gs == NULL)
		return -1;
	i->chosen = twin_open(i, gs);
	g_object_unref(gs);
	return i->chosen;
}

static int
combined_kind(const struct ice *i)
{
	return i->local_kind > i->remote_kind ? i->local_kind : i->remote_kind;
}

/* Pin the peer to the selected pair, if it is a tunnel peer yet. */
static void
pin(struct ice *i)
{
	sp_tunnel *t = i->m->d->tunnel;
	int rc;

	if (i->state != I_READY || i->p->state != M_READY)
		return;
	if (i->chosen >= 0)
		rc = sp_tunnel_peer_pin(t, i->p->x, i->twins[i->chosen].id,
		    (struct sockaddr *)&i->raddr, i->raddr_len, kind_path(combined_kind(i)));
	else
		rc = sp_tunnel_peer_pin(t, i->p->x, 0, (struct sockaddr *)&i->vep,
		    sizeof(i->vep), kind_path(combined_kind(i)));
	if (rc != SP_OK)
		sp_warn("ice: %s: the tunnel refused the pair (%d)", i->p->name, rc);
}

static void
unpin(struct ice *i)
{
	if (i->p->state == M_READY)
		(void)sp_tunnel_peer_unpin(i->m->d->tunnel, i->p->x);
}

static void
cand_text(const NiceCandidate *c, char *out, size_t len)
{
	static const char *type[] = { "host", "srflx", "prflx", "relay" };
	char a[NICE_ADDRESS_STRING_LEN];

	nice_address_to_string(&c->addr, a);
	snprintf(out, len, "%s/%s%s%s:%u", c->type <= NICE_CANDIDATE_TYPE_RELAYED ?
	    type[c->type] : "?", c->addr.s.addr.sa_family == AF_INET6 ? "[" : "", a,
	    c->addr.s.addr.sa_family == AF_INET6 ? "]" : "", nice_address_get_port(&c->addr));
}

/* The pair as this side sees it. A remote server-reflexive candidate with
 * the NAT-assisted preference is a UPnP mapping; the other side tells us
 * what it sees (our UPnP mapping looks like a host pair from here). */
static int
pair_kind(const NiceCandidate *l, const NiceCandidate *r)
{
	if (l->type == NICE_CANDIDATE_TYPE_RELAYED || r->type == NICE_CANDIDATE_TYPE_RELAYED)
		return SP_CP_PATH_TURN;
	if (r->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE &&
	    r->priority >> 24 == NICE_PREF_NAT_ASSISTED)
		return SP_CP_PATH_UPNP;
	if (l->type != NICE_CANDIDATE_TYPE_HOST || r->type != NICE_CANDIDATE_TYPE_HOST)
		return SP_CP_PATH_REFLEXIVE;
	return SP_CP_PATH_HOST;
}

/* ---- libnice's signals ---------------------------------------------------- */

static void
cb_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
	struct ice *i = data;
	gchar *sdp;

	if (i->dead || i->npending == SP_CP_MAX_CANDIDATES)
		return;
	if ((sdp = nice_agent_generate_local_candidate_sdp(agent, c)) == NULL)
		return;
	if (strlen(sdp) >= 256) {
		g_free(sdp);
		return;
	}
	sp_debug("ice: %s: local candidate %s", i->p->name, sdp);
	i->pending[i->npending++] = sdp;
	flush_soon(i->m);
}

static void
cb_gathered(NiceAgent *agent, guint stream, gpointer data)
{
	struct ice *i = data;

	(void)agent;
	(void)stream;
	i->gathered = 1;
	flush_soon(i->m);
}

static void
cb_selected(NiceAgent *agent, guint stream, guint comp, NiceCandidate *l, NiceCandidate *r,
    gpointer data)
{
	struct ice *i = data;
	uint64_t now = sp_clock_mono_ms();

	(void)agent;
	(void)stream;
	(void)comp;
	if (i->dead)
		return;
	fast_close(i);
	i->raddr_len = (socklen_t)(r->addr.s.addr.sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	memset(&i->raddr, 0, sizeof(i->raddr));
	memcpy(&i->raddr, &r->addr.s, i->raddr_len);
	i->local_kind = pair_kind(l, r);
	cand_text(l, i->ltext, sizeof(i->ltext));
	cand_text(r, i->rtext, sizeof(i->rtext));
	if (l->type != NICE_CANDIDATE_TYPE_RELAYED)
		(void)fast_open(i);
	if (i->state != I_READY) {
		i->m->ice->direct++;
		sp_info("ice: %s: %s path %s -> %s, %llu ms after ICE started%s", i->p->name,
		    kind_name(i->local_kind), i->ltext, i->rtext,
		    (unsigned long long)(now - i->started_ms),
		    i->chosen >= 0 ? "" : " (data through libnice)");
	} else {
		sp_info("ice: %s: a better pair: %s %s -> %s", i->p->name,
		    kind_name(i->local_kind), i->ltext, i->rtext);
	}
	i->state = I_READY;
	i->selected_ms = now;
	i->switches++;
	pin(i);
	flush_soon(i->m);   /* tell the peer the kind we see */
}

static void
cb_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
	struct ice *i = data;

	(void)agent;
	(void)stream;
	(void)comp;
	if (i->dead || state != NICE_COMPONENT_STATE_FAILED)
		return;
	snprintf(i->why, sizeof(i->why), "%s", i->state == I_READY ? "consent-lost" :
	    "no-working-pair");
	sp_info("ice: %s: %s; on the relay", i->p->name, i->why);
	if (i->state == I_READY)
		i->m->ice->fallbacks++;
	fast_close(i);
	unpin(i);
	i->state = I_FAILED;
	i->failed_ms = sp_clock_mono_ms();
	i->m->ice->failed++;
}

static void
cb_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf, gpointer data)
{
	static uint8_t copy[65536];
	struct ice *i = data;

	(void)agent;
	(void)stream;
	(void)comp;
	/* A WireGuard datagram that reached libnice's socket (a TURN pair, or
	 * before our socket joined the port): the tunnel takes it from our
	 * virtual endpoint, changing it in place. */
	if (i->dead || !i->has_vep || len == 0 || len > sizeof(copy))
		return;
	memcpy(copy, buf, len);
	i->slow_rx++;
	sp_tunnel_stream_input(i->m->d->tunnel, &i->vep, copy, len);
}

/* The tunnel's datagram for the pair, through libnice (TURN, or no socket
 * of our own). */
static int
vep_send(void *arg, const struct iovec *iov, int n)
{
	static uint8_t buf[65536];
	struct ice *i = arg;
	size_t len = 0;

	if (i->dead || i->state != I_READY)
		return -1;
	for (int k = 0; k < n; k++) {
		if (iov[k].iov_len > sizeof(buf) - len)
			return -1;
		memcpy(buf + len, iov[k].iov_base, iov[k].iov_len);
		len += iov[k].iov_len;
	}
	i->slow_tx++;
	return nice_agent_send(i->agent, i->stream, 1, (guint)len, (const gchar *)buf) ==
	    (gint)len ? 0 : -1;
}

/* ---- agents ---------------------------------------------------------------- */

/* An address as libnice's properties take it: the IP as text, the port. */
static int
host_port(const struct sockaddr_storage *ss, char host[INET6_ADDRSTRLEN], uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		*port = ntohs(s4->sin_port);
		return inet_ntop(AF_INET, &s4->sin_addr, host, INET6_ADDRSTRLEN) ? SP_OK : SP_EINVAL;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		*port = ntohs(s6->sin6_port);
		return inet_ntop(AF_INET6, &s6->sin6_addr, host, INET6_ADDRSTRLEN) ? SP_OK :
		    SP_EINVAL;
	}
	return SP_EINVAL;
}

/* Whether a is an address for host candidates: every interface's but the
 * tunnel's own (ICE through the tunnel would carry the tunnel inside
 * itself) and loopback's, IPv4 or IPv6 but link-local or the zone's /48.
 * The one rule for gathering (add_addresses) and for noticing a change
 * (addresses_digest). */
static int
candidate_address(const sp_member *m, const struct ifaddrs *a)
{
	if (a->ifa_addr == NULL || (a->ifa_flags & IFF_LOOPBACK) || !(a->ifa_flags & IFF_UP) ||
	    strcmp(a->ifa_name, sp_tunnel_ifname(m->d->tunnel)) == 0)
		return 0;
	if (a->ifa_addr->sa_family == AF_INET6) {
		const struct in6_addr *x = &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
		return !IN6_IS_ADDR_LINKLOCAL(x) && memcmp(x->s6_addr, m->d->cloud.prefix, 6) != 0;
	}
	return a->ifa_addr->sa_family == AF_INET;
}

static int
add_addresses(sp_member *m, NiceAgent *agent)
{
	struct ifaddrs *ifa, *a;
	int n = 0;

	if (getifaddrs(&ifa) != 0)
		return 0;
	for (a = ifa; a != NULL; a = a->ifa_next) {
		NiceAddress na;
		if (!candidate_address(m, a))
			continue;
		nice_address_init(&na);
		nice_address_set_from_sockaddr(&na, a->ifa_addr);
		nice_address_set_port(&na, 0);
		if (nice_agent_add_local_address(agent, &na))
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

static void probe_free(struct ice_ctx *c);

static void
ice_free(struct ice *i)
{
	if (i == NULL)
		return;
	twins_close(i);
	if (i->has_vep)
		sp_tunnel_stream_remove(i->m->d->tunnel, &i->vep);   /* unpins it */
	if (i->p != NULL)
		unpin(i);
	for (size_t k = 0; k < i->npending; k++)
		g_free(i->pending[k]);
	if (i->agent != NULL) {
		g_signal_handlers_disconnect_by_data(i->agent, i);
		g_object_unref(i->agent);
	}
	sodium_memzero(i, sizeof(*i));
	free(i);
}

/* Mark p's agent dead (freed by the reap timer, never inside one of its
 * own signals) and back on the relay at once. */
static void
kill_agent(sp_member *m, struct mpeer *p)
{
	struct ice *i = p->ice;

	if (i == NULL)
		return;
	p->ice = NULL;
	i->dead = 1;
	if (i->state == I_READY)
		m->ice->fallbacks++;   /* off a direct path, onto the relay */
	twins_close(i);   /* nothing more into a dead agent's sockets */
	unpin(i);
	if (i->has_vep) {
		sp_tunnel_stream_remove(m->d->tunnel, &i->vep);
		i->has_vep = 0;
	}
	i->p = NULL;
	i->next = m->ice->dead;
	m->ice->dead = i;
	sp_timer_arm(m->ice->reap, 0);
}

static void
on_reap(void *arg)
{
	sp_member *m = arg;

	while (m->ice->dead != NULL) {
		struct ice *i = m->ice->dead;
		m->ice->dead = i->next;
		ice_free(i);
	}
	if (m->ice->probe_dead)
		probe_free(m->ice);
}

/*
 * The UPnP probe: an agent of its own with UPnP and no STUN, whose only
 * possible server-reflexive candidate is a router's mapping. Run at start
 * and when our addresses change; agents made after it know whether to ask
 * the router or the gateway's STUN service.
 */
static void
probe_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
	sp_member *m = data;
	char a[NICE_ADDRESS_STRING_LEN];

	(void)agent;
	if (cand->type != NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE || m->ice->igd == 1)
		return;
	nice_address_to_string(&cand->addr, a);
	snprintf(m->ice->igd_addr, sizeof(m->ice->igd_addr), "%s", a);
	m->ice->igd = 1;
	sp_info("ice: a UPnP-IGD router maps ports for us (its address %s): agents use it "
	    "instead of STUN", a);
}

static void
probe_done(NiceAgent *agent, guint stream, gpointer data)
{
	sp_member *m = data;

	(void)agent;
	(void)stream;
	if (m->ice->igd != 1) {
		m->ice->igd = 0;
		sp_debug("ice: no UPnP-IGD router answered; agents use the gateway's STUN service");
	}
	m->ice->probe_dead = 1;
	sp_timer_arm(m->ice->reap, 0);   /* the probe goes, with its mapping */
}

static void
probe_free(struct ice_ctx *c)
{
	if (c->probe == NULL)
		return;
	g_signal_handlers_disconnect_by_data(c->probe, c->probe_m);
	g_object_unref(c->probe);
	c->probe = NULL;
	c->probe_dead = 0;
}

static void
probe_start(sp_member *m)
{
	struct ice_ctx *c = m->ice;
	guint stream;

	probe_free(c);
	c->igd = -1;
	c->igd_addr[0] = '\0';
	c->probe_m = m;
	c->probe = nice_agent_new_full(c->ctx, NICE_COMPATIBILITY_RFC5245, 0);
	if (c->probe == NULL)
		goto none;
	g_object_set(c->probe, "upnp", TRUE, "upnp-timeout", UPNP_TIMEOUT_MS, "ice-tcp", FALSE,
	    NULL);
	if (add_addresses(m, c->probe) == 0 || (stream = nice_agent_add_stream(c->probe, 1)) == 0)
		goto none;
	g_signal_connect(c->probe, "new-candidate-full", G_CALLBACK(probe_candidate), m);
	g_signal_connect(c->probe, "candidate-gathering-done", G_CALLBACK(probe_done), m);
	if (nice_agent_gather_candidates(c->probe, stream))
		return;
none:
	probe_free(c);
	c->igd = 0;
}

static size_t
live_agents(const sp_member *m)
{
	size_t n = 0;

	for (size_t k = 0; k < m->npeers; k++)
		n += m->peers[k]->ice != NULL;
	return n;
}

/* A new agent for p: ours is the controlling role if our key is the lower
 * (both sides agree without a word). */
static struct ice *
agent_new(sp_member *m, struct mpeer *p)
{
	struct ice_ctx *c = m->ice;
	struct ice *i;
	char host[INET6_ADDRSTRLEN];
	uint16_t port;

	if (live_agents(m) >= ICE_MAX)
		return NULL;
	if ((i = calloc(1, sizeof(*i))) == NULL)
		return NULL;
	i->m = m;
	i->p = p;
	i->chosen = -1;
	i->started_ms = sp_clock_mono_ms();
	i->state = I_GATHERING;
	do
		i->session = randombytes_random();
	while (i->session == 0);
	i->controlling = sp_icesig_controlling(sp_key_info_of(sp_daemon_device_key(m->d))->pub,
	    p->ed);
	i->agent = nice_agent_new_full(c->ctx, NICE_COMPATIBILITY_RFC5245,
	    NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS);
	if (i->agent == NULL)
		goto fail;
	/* Behind a UPnP-IGD router (the probe found one) the router's mapping
	 * is the reflexive candidate, and STUN stays off: libnice 0.1.21 keeps
	 * one server-reflexive candidate per external address, and the
	 * gateway's STUN answer, always first, would push the mapping out
	 * (useless behind a symmetric NAT). Otherwise the gateway's STUN
	 * service, on its WireGuard port; UPnP only while the probe runs. */
	g_object_set(i->agent, "controlling-mode", i->controlling, "ice-tcp", FALSE,
	    "upnp", c->igd != 0, "upnp-timeout", UPNP_TIMEOUT_MS, NULL);
	if (c->igd != 1 && m->udp_ep_len != 0 && host_port(&m->udp_ep, host, &port) == SP_OK)
		g_object_set(i->agent, "stun-server", host, "stun-server-port", (guint)port, NULL);
	if (add_addresses(m, i->agent) == 0) {
		snprintf(i->why, sizeof(i->why), "no-local-address");
		goto fail;
	}
	if ((i->stream = nice_agent_add_stream(i->agent, 1)) == 0)
		goto fail;
	if (c->turn_server[0] != '\0') {
		struct sockaddr_storage ts;
		socklen_t tl;
		char th[INET6_ADDRSTRLEN];
		uint16_t tp;
		if (sp_addr_parse(c->turn_server, &ts, &tl) != SP_OK ||
		    host_port(&ts, th, &tp) != SP_OK ||
		    !nice_agent_set_relay_info(i->agent, i->stream, 1, th, tp, c->turn_user,
		    c->turn_password, NICE_RELAY_TYPE_TURN_UDP))
			sp_warn("ice: libnice refused the TURN server %s", c->turn_server);
	}
	g_signal_connect(i->agent, "new-candidate-full", G_CALLBACK(cb_candidate), i);
	g_signal_connect(i->agent, "candidate-gathering-done", G_CALLBACK(cb_gathered), i);
	g_signal_connect(i->agent, "new-selected-pair-full", G_CALLBACK(cb_selected), i);
	g_signal_connect(i->agent, "component-state-changed", G_CALLBACK(cb_state), i);
	if (!nice_agent_attach_recv(i->agent, i->stream, 1, c->ctx, cb_recv, i))
		goto fail;
	if (sp_tunnel_stream_add(m->d->tunnel, vep_send, i, &i->vep) != SP_OK)
		goto fail;
	i->has_vep = 1;
	p->ice = i;
	if (!nice_agent_gather_candidates(i->agent, i->stream)) {
		p->ice = NULL;
		snprintf(i->why, sizeof(i->why), "gathering-failed");
		goto fail;
	}
	twins_open(i);   /* the host sockets exist once gathering has started */
	c->started++;
	flush_soon(m);
	return i;
fail:
	sp_warn("ice: %s: no agent (%s); staying on the relay", p->name,
	    i->why[0] ? i->why : "libnice refused");
	ice_free(i);
	return NULL;
}

static void
add_remote(struct ice *i, const sp_cp_msg *msg)
{
	GSList *list = NULL;

	for (size_t k = 0; k < msg->ncandidates; k++) {
		NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(i->agent, i->stream,
		    msg->candidates[k]);
		if (c == NULL) {
			sp_debug("ice: %s: a candidate libnice cannot read", i->p->name);
			continue;
		}
		c->component_id = 1;
		list = g_slist_append(list, c);
	}
	if (list != NULL) {
		if (nice_agent_set_remote_candidates(i->agent, i->stream, 1, list) < 0)
			sp_debug("ice: %s: libnice took none of the candidates", i->p->name);
		g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
	}
	if (msg->done)
		nice_agent_peer_candidate_gathering_done(i->agent, i->stream);
	if (msg->path != 0 && (int)msg->path != i->remote_kind) {
		i->remote_kind = (int)msg->path;
		pin(i);   /* the kind shown is the more assisted of the two views */
	}
}

static void
set_remote(struct ice *i, const sp_cp_msg *msg)
{
	i->remote = msg->session;
	i->state = I_CHECKING;
	if (!nice_agent_set_remote_credentials(i->agent, i->stream, msg->ufrag, msg->pwd))
		sp_warn("ice: %s: libnice refused the peer's credentials", i->p->name);
	add_remote(i, msg);
}

/* ---- what the member calls ------------------------------------------------- */

void
ice_on_msg(sp_member *m, const sp_cp_msg *msg)
{
	struct mpeer *p = peers_by_key(m, msg->peer);
	sp_icesig_agent st = { 0 };
	struct ice *i;

	if (m->ice == NULL || p == NULL) {
		if (m->ice != NULL)
			m->ice->msgs_stale++;
		return;
	}
	m->ice->msgs_in++;
	i = p->ice;
	if (i != NULL) {
		st.exists = 1;
		st.session = i->session;
		st.remote = i->remote;
		st.controlling = i->controlling;
	}
	switch (sp_icesig_decide(&st, msg->session, msg->answers, msg->ufrag[0] != '\0')) {
	case SP_ICESIG_TRICKLE:
		add_remote(i, msg);
		break;
	case SP_ICESIG_ANSWERED:
		set_remote(i, msg);
		break;
	case SP_ICESIG_RESTART:
		m->ice->restarts++;
		kill_agent(m, p);
		/* FALLTHROUGH */
	case SP_ICESIG_NEW:
		if ((i = agent_new(m, p)) != NULL)
			set_remote(i, msg);
		break;
	case SP_ICESIG_GLARE_KEEP:
		break;   /* our offer stands; the peer answers it */
	case SP_ICESIG_STALE:
	default:
		m->ice->msgs_stale++;
		break;
	}
}

void
ice_want(sp_member *m, struct mpeer *p)
{
	struct ice *i = p->ice;

	if (m->ice == NULL)
		return;
	if (i != NULL && !(i->state == I_FAILED &&
	    sp_clock_mono_ms() - i->failed_ms >= RETRY_MS))
		return;
	if (i != NULL)
		kill_agent(m, p);
	(void)agent_new(m, p);
}

void
ice_peer_ready(sp_member *m, struct mpeer *p)
{
	(void)m;
	if (p->ice != NULL)
		pin(p->ice);
}

void
ice_drop(sp_member *m, struct mpeer *p)
{
	if (m->ice != NULL)
		kill_agent(m, p);
}

/* A digest of the addresses host candidates come from (candidate_address):
 * a change of routes alone, or of an address no candidate uses, restarts
 * nothing. */
static void
addresses_digest(sp_member *m, uint8_t out[16])
{
	crypto_generichash_state st;
	struct ifaddrs *ifa, *a;

	crypto_generichash_init(&st, NULL, 0, 16);
	if (getifaddrs(&ifa) == 0) {
		for (a = ifa; a != NULL; a = a->ifa_next) {
			if (!candidate_address(m, a))
				continue;
			if (a->ifa_addr->sa_family == AF_INET)
				crypto_generichash_update(&st, (const uint8_t *)
				    &((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4);
			else if (a->ifa_addr->sa_family == AF_INET6)
				crypto_generichash_update(&st, (const uint8_t *)
				    &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16);
		}
		freeifaddrs(ifa);
	}
	crypto_generichash_final(&st, out, 16);
}

static void
on_links_quiet(void *arg)
{
	sp_member *m = arg;
	uint8_t now[16];

	addresses_digest(m, now);
	if (memcmp(now, m->ice->addrs, sizeof(now)) == 0)
		return;
	memcpy(m->ice->addrs, now, sizeof(now));
	probe_start(m);
	for (size_t k = 0; k < m->npeers; k++) {
		struct mpeer *p = m->peers[k];
		if (p->ice == NULL)
			continue;
		sp_info("ice: %s: our addresses changed; restarting, on the relay until a new "
		    "pair is up", p->name);
		m->ice->restarts++;
		kill_agent(m, p);
		(void)agent_new(m, p);
	}
}

/* Whether addr (a socket's own address) is still one of ours. */
static int
address_present(const struct sockaddr_storage *addr)
{
	struct ifaddrs *ifa, *a;
	int found = 0;

	if (getifaddrs(&ifa) != 0)
		return 1;   /* cannot tell: keep the pair */
	for (a = ifa; a != NULL && !found; a = a->ifa_next) {
		if (a->ifa_addr == NULL || a->ifa_addr->sa_family != addr->ss_family)
			continue;
		if (addr->ss_family == AF_INET)
			found = memcmp(&((struct sockaddr_in *)a->ifa_addr)->sin_addr,
			    &((const struct sockaddr_in *)addr)->sin_addr, 4) == 0;
		else
			found = memcmp(&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr,
			    &((const struct sockaddr_in6 *)addr)->sin6_addr, 16) == 0;
	}
	freeifaddrs(ifa);
	return found;
}

/* Liveness of the pinned pairs (PROBE_MS, DEAD_MS). */
static void
on_tick(void *arg)
{
	sp_member *m = arg;
	uint64_t now = sp_clock_mono_ms();

	for (size_t k = 0; k < m->npeers; k++) {
		struct mpeer *p = m->peers[k];
		struct ice *i = p->ice;
		sp_tunnel_peer_info pi;
		if (i == NULL || i->state != I_READY || p->state != M_READY ||
		    sp_tunnel_peer_info_get(m->d->tunnel, p->x, &pi) != SP_OK)
			continue;
		if (pi.unanswered_ms < PROBE_MS) {
			i->probed_ms = 0;
			continue;
		}
		if (i->probed_ms == 0) {
			i->probed_ms = now;
			(void)sp_tunnel_peer_rehandshake(m->d->tunnel, p->x);
			continue;
		}
		if (pi.unanswered_ms < DEAD_MS || now - i->probed_ms < PROBE_MS)
			continue;
		sp_info("ice: %s: nothing back on the %s path for %llu ms; on the relay, and ICE "
		    "starts again", p->name, kind_name(combined_kind(i)),
		    (unsigned long long)pi.unanswered_ms);
		m->ice->silent++;
		m->ice->restarts++;
		kill_agent(m, p);
		(void)agent_new(m, p);
	}
	sp_timer_arm(m->ice->tick, TICK_MS);
}

void
ice_on_link_change(sp_member *m)
{
	if (m->ice == NULL)
		return;
	/* A pair whose local address went cannot carry anything: back to the
	 * relay at once, without waiting for the restart. */
	for (size_t k = 0; k < m->npeers; k++) {
		struct ice *i = m->peers[k]->ice;
		if (i == NULL || i->chosen < 0 || address_present(&i->twins[i->chosen].la))
			continue;
		sp_info("ice: %s: the pair's local address is gone; on the relay", i->p->name);
		m->ice->fallbacks++;
		fast_close(i);
		unpin(i);
		i->state = I_FAILED;
		snprintf(i->why, sizeof(i->why), "address-gone");
		i->failed_ms = sp_clock_mono_ms();
	}
	/* Netlink reports a move as a burst (link, address, route): restart
	 * once it is quiet. */
	sp_timer_arm(m->ice->links, LINKS_QUIET_MS);
}

void
ice_cp_up(sp_member *m)
{
	if (m->ice != NULL)
		flush_soon(m);
}

void
ice_set_turn(sp_member *m, const char *server, const char *user, const char *password)
{
	struct ice_ctx *c = m->ice;

	if (c == NULL)
		return;
	snprintf(c->turn_server, sizeof(c->turn_server), "%s", server);
	snprintf(c->turn_user, sizeof(c->turn_user), "%s", user);
	snprintf(c->turn_password, sizeof(c->turn_password), "%s", password);
}

void
ice_status(const sp_member *m, const struct mpeer *p, sp_ctl_reply *r)
{
	const struct ice *i = p->ice;
	uint64_t now = sp_clock_mono_ms();

	if (m->ice == NULL || i == NULL)
		return;
	sp_ctl_reply_field(r, "member-ice[]", "name=%s state=%s role=%s local-view=%s "
	    "remote-view=%s local=%s remote=%s age=%llu direct-after-ms=%lld switches=%llu "
	    "fast=%s libnice-rx=%llu libnice-tx=%llu%s%s", p->name,
	    i->state == I_GATHERING ? "gathering" : i->state == I_CHECKING ? "checking" :
	    i->state == I_READY ? "ready" : "failed", i->controlling ? "controlling" : "controlled",
	    kind_name(i->local_kind), kind_name(i->remote_kind), i->ltext[0] ? i->ltext : "-",
	    i->rtext[0] ? i->rtext : "-",
	    (unsigned long long)((now - i->started_ms) / 1000),
	    i->selected_ms ? (long long)(i->selected_ms - i->started_ms) : -1LL,
	    (unsigned long long)i->switches, i->chosen >= 0 ? "yes" : "no",
	    (unsigned long long)i->slow_rx, (unsigned long long)i->slow_tx,
	    i->why[0] ? " why=" : "", i->why);
}

void
ice_counters(const sp_member *m, sp_ctl_reply *r)
{
	const struct ice_ctx *c = m->ice;

	if (c == NULL) {
		sp_ctl_reply_field(r, "ice", "off");
		return;
	}
	sp_ctl_reply_field(r, "ice", "on agents=%zu started=%llu selected=%llu failed=%llu "
	    "restarts=%llu fallbacks=%llu silent=%llu msgs-in=%llu msgs-out=%llu msgs-stale=%llu turn=%s upnp=%s%s",
	    live_agents(m),
	    (unsigned long long)c->started, (unsigned long long)c->direct,
	    (unsigned long long)c->failed, (unsigned long long)c->restarts,
	    (unsigned long long)c->fallbacks, (unsigned long long)c->silent,
	    (unsigned long long)c->msgs_in, (unsigned long long)c->msgs_out,
	    (unsigned long long)c->msgs_stale, c->turn_server[0] ? c->turn_server : "none",
	    c->igd < 0 ? "probing" : c->igd ? "yes:" : "no", c->igd == 1 ? c->igd_addr : "");
}

/* libnice's own log lines go to ours at debug level. */
static void
on_glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	(void)data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		sp_warn("ice: %s: %s", domain != NULL ? domain : "glib", message);
	else
		sp_debug("ice: %s: %s", domain != NULL ? domain : "glib", message);
}

int
ice_start(sp_member *m, sp_errmsg *e)
{
	struct ice_ctx *c;
	sp_loop_hook hook;

	const char *why = "";

	if (m->d->conf.ice == 0 || m->d->tunnel == NULL)
		return SP_OK;   /* off: every member stays on the relay */
	if (nice_load(&why) != SP_OK) {
		sp_warn("ice: cannot load %s (%s): no direct paths, everything through the "
		    "gateway's relay", NICE_LIBRARY, why);
		return SP_OK;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	c->ctx = g_main_context_new();
	if (!g_main_context_acquire(c->ctx)) {
		g_main_context_unref(c->ctx);
		free(c);
		return sp_errf(e, SP_EIO, "ICE: cannot own a GLib main context");
	}
	if (sp_timer_new(m->d->loop, on_flush, m, &c->flush) != SP_OK ||
	    sp_timer_new(m->d->loop, on_reap, m, &c->reap) != SP_OK ||
	    sp_timer_new(m->d->loop, on_links_quiet, m, &c->links) != SP_OK ||
	    sp_timer_new(m->d->loop, on_tick, m, &c->tick) != SP_OK) {
		sp_timer_free(c->flush);
		sp_timer_free(c->reap);
		sp_timer_free(c->links);
		g_main_context_release(c->ctx);
		g_main_context_unref(c->ctx);
		free(c);
		return sp_errf(e, SP_ENOMEM, "out of memory");
	}
	g_log_set_handler("libnice", G_LOG_LEVEL_MASK, on_glib_log, NULL);
	m->ice = c;
	addresses_digest(m, c->addrs);
	probe_start(m);
	sp_timer_arm(c->tick, TICK_MS);
	hook.prepare = hook_prepare;
	hook.dispatch = hook_dispatch;
	hook.arg = c;
	sp_loop_set_hook(m->d->loop, &hook);
	return SP_OK;
}

void
ice_stop(sp_member *m)
{
	struct ice_ctx *c = m->ice;

	if (c == NULL)
		return;
	for (size_t k = 0; k < m->npeers; k++)
		kill_agent(m, m->peers[k]);
	on_reap(m);
	probe_free(c);
	sp_loop_set_hook(m->d->loop, NULL);
	sp_timer_free(c->flush);
	sp_timer_free(c->reap);
	sp_timer_free(c->links);
	sp_timer_free(c->tick);
	/* What the agents left on the context (UPnP, TURN refreshes) goes. */
	while (g_main_context_iteration(c->ctx, FALSE))
		;
	g_main_context_release(c->ctx);
	g_main_context_unref(c->ctx);
	sodium_memzero(c, sizeof(*c));
	free(c);
	m->ice = NULL;
}
