/*
 * The gateway image's PID 1 (sp_unikernel.h), around the daemon's run
 * function. This is the adapter that a full system's init scripts would
 * otherwise be: it is hand-written because the image has no userland to
 * do it, and kept to what the gateway needs.
 */
#define _GNU_SOURCE
#include "sp_unikernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "sp_blkstore.h"
#include "sp_cloud.h"
#include "sp_key.h"
#include "sp_log.h"
#include "sp_pair.h"

#define RUN_DIR "/run/signpost"          /* the control socket; in RAM */
#define MEMORY_STATE "/run/signpost-state"

/* ---- settings (pure) ------------------------------------------------------ */

static int
copy(char *dst, size_t cap, const char *v, const char *key, sp_errmsg *e)
{
	if (strlen(v) >= cap || v[0] == '\0')
		return sp_errf(e, SP_ECONFIG, "kernel command line: %s: must be 1-%zu characters",
		    key, cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return SP_OK;
}

int
sp_uk_settings(char *const *env, sp_uk *uk, sp_conf *conf, sp_errmsg *e)
{
	static const char prefix[] = "signpost_";

	memset(uk, 0, sizeof(*uk));
	strcpy(uk->name, "gateway");
	strcpy(uk->disk, "/dev/vda");
	strcpy(uk->ifname, "eth0");
	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		const char *kv = env[i], *eq, *key, *v;
		char line[1100], k[64];
		int rc;

		if (strncmp(kv, prefix, sizeof(prefix) - 1) != 0 || (eq = strchr(kv, '=')) == NULL)
			continue;
		key = kv + sizeof(prefix) - 1;
		v = eq + 1;
		if ((size_t)(eq - key) >= sizeof(k))
			return sp_errf(e, SP_ECONFIG, "kernel command line: %.*s: unknown setting",
			    (int)(eq - kv), kv);
		memcpy(k, key, (size_t)(eq - key));
		k[eq - key] = '\0';
		if (strcmp(k, "zone") == 0)
			rc = copy(uk->zone, sizeof(uk->zone), v, "signpost_zone", e);
		else if (strcmp(k, "name") == 0)
			rc = copy(uk->name, sizeof(uk->name), v, "signpost_name", e);
		else if (strcmp(k, "disk") == 0)
			rc = copy(uk->disk, sizeof(uk->disk), v, "signpost_disk", e);
		else if (strcmp(k, "if") == 0)
			rc = copy(uk->ifname, sizeof(uk->ifname), v, "signpost_if", e);
		else if (strcmp(k, "ip6") == 0)
			rc = sp_cidr_parse(v, AF_INET6, uk->ip6, &uk->ip6_prefix) == SP_OK ? SP_OK :
			    sp_errf(e, SP_ECONFIG, "kernel command line: signpost_ip6=%s: must be "
			    "IPV6ADDRESS/PREFIX", v);
		else if (strcmp(k, "gw6") == 0) {
			uk->has_gw6 = inet_pton(AF_INET6, v, uk->gw6) == 1;
			rc = uk->has_gw6 ? SP_OK : sp_errf(e, SP_ECONFIG,
			    "kernel command line: signpost_gw6=%s: must be an IPv6 address", v);
		} else if (strcmp(k, "state") == 0 || strcmp(k, "passphrase-file") == 0 ||
		    strcmp(k, "log") == 0) {
			rc = sp_errf(e, SP_ECONFIG, "kernel command line: signpost_%s: not a setting "
			    "of the image (its state is on signpost_disk, its log on the console)", k);
		} else {
			/* The configuration file's option, with ',' for spaces. */
			int n = snprintf(line, sizeof(line), "%s %s\n", k, v);
			if (n < 0 || (size_t)n >= sizeof(line))
				return sp_errf(e, SP_ECONFIG, "kernel command line: %s is too long", k);
			for (char *c = line + strlen(k) + 1; *c; c++)
				if (*c == ',')
					*c = ' ';
			rc = sp_conf_parse(conf, "kernel command line", line, strlen(line), e);
		}
		if (rc != SP_OK)
			return rc;
	}
	return SP_OK;
}

/* ---- the machine ------------------------------------------------------------ */

static void
noop(int signo)
{
	(void)signo;
}

/*
 * Power off and never come back. QEMU's microvm has no ACPI, so there is
 * no power-off device: the way out is a reset, which the VMM is told to
 * treat as the end (-no-reboot, as unikernel/run.sh does). Whether the
 * machine then starts again is the host's decision, as for any VM.
 */
static void __attribute__((noreturn))
halt(void)
{
	sync();
	fprintf(stderr, "signpostd: powering off\n");
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static void __attribute__((noreturn))
fatal(const char *msg)
{
	/* The serial console is the only place anyone will read this. */
	fprintf(stderr, "signpostd: cannot run the gateway: %s\n", msg);
	halt();
}

static void
console(void)
{
	int fd;

	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0 &&
	    errno != EBUSY)
		return;
	if ((fd = open("/dev/console", O_RDWR | O_NOCTTY)) < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/*
 * lo and the uplink up. IPv4 is the kernel's own (ip=... on its command
 * line, static or DHCP, done before init runs); IPv6 is the static
 * address and gateway given here, plus whatever router advertisements
 * bring.
 */
static void
network(const sp_uk *uk, sp_conf *conf)
{
	static const uint8_t any6[16];
	int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	char a[INET6_ADDRSTRLEN];
	sp_errmsg e;
	/* The zone publishes the gateway's addresses unless told others. */
	int publish = conf->zone.na == 0 && conf->zone.naaaa == 0;

	if (s4 < 0)
		fatal("no sockets");
	sp_if_up("lo", &e);
	if (sp_if_up(uk->ifname, &e) != SP_OK)
		sp_warn("network: %s; serving on loopback only", e.msg);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", uk->ifname);
	if (ioctl(s4, SIOCGIFADDR, &ifr) == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		sp_info("network: %s has %s (from the kernel's ip= setting)", uk->ifname, a);
		if (publish)
			memcpy(&conf->zone.a[conf->zone.na++], &sin->sin_addr, 4);
	}
	close(s4);
	if (uk->ip6_prefix) {
		inet_ntop(AF_INET6, uk->ip6, a, sizeof(a));
		if (sp_if_addr6(uk->ifname, uk->ip6, uk->ip6_prefix, &e) != SP_OK)
			sp_warn("network: adding %s: %s", a, e.msg);
		else
			sp_info("network: %s has %s/%u", uk->ifname, a, uk->ip6_prefix);
		if (publish)
			memcpy(&conf->zone.aaaa[conf->zone.naaaa++], uk->ip6, 16);
	}
	if (uk->has_gw6 && sp_route6_add(uk->ifname, any6, 0, uk->gw6, &e) != SP_OK)
		sp_warn("network: IPv6 default route: %s", e.msg);
}

/* The store: the disk, or memory when there is none. */
static sp_store *
storage(const sp_uk *uk)
{
	sp_store *s;
	sp_errmsg e;
	int rc;

	if (strcmp(uk->disk, "none") != 0) {
		rc = sp_store_open_block(uk->disk, &s, &e);
		if (rc == SP_OK) {
			sp_info("state: on %s", uk->disk);
			return s;
		}
		if (rc != SP_ENOENT)
			fatal(e.msg);   /* a damaged disk is not silently replaced */
	}
	if (sp_store_open_dir(MEMORY_STATE, SP_STORE_CREATE, &s, &e) != SP_OK)
		fatal(e.msg);
	sp_warn("state: no disk (%s); running from memory: keys and devices are lost at "
	    "power-off", uk->disk);
	return s;
}

/* First boot: make the cloud, and show what the parent zone needs. */
static void
first_boot(sp_store *s, const sp_uk *uk)
{
	sp_cloud cloud;
	sp_key_info *keys;
	size_t n;
	sp_errmsg e;

	if (sp_cloud_load(s, &cloud, &e) == SP_OK)
		return;
	if (uk->zone[0] == '\0')
		fatal("no cloud on this disk yet: give signpost_zone=ZONE (and signpost_name=NAME) "
		    "on the kernel command line for the first boot");
	if (sp_cloud_create(s, uk->zone, uk->name, NULL, sp_clock_wall(), sp_platform_rng(),
	    &cloud, &e) != SP_OK)
		fatal(e.msg);
	sp_info("first boot: created the personal cloud %s with this gateway, %s", cloud.zone,
	    cloud.name);
	if (sp_keystore_list(s, &keys, &n, &e) != SP_OK)
		fatal(e.msg);
	for (size_t i = 0; i < n; i++) {
		char *text;
		if (keys[i].role != SP_ROLE_KSK)
			continue;
		/* The DS for the parent, and the key itself as a trust anchor. */
		if (sp_key_ds_text(&keys[i], cloud.zone, 3600, &text) == SP_OK) {
			printf("signpostd: DS for the parent: %s", text);
			free(text);
		}
		if (sp_key_dnskey_text(&keys[i], cloud.zone, 3600, &text) == SP_OK) {
			printf("signpostd: trust anchor: %s", text);
			free(text);
		}
	}
	fflush(stdout);
	free(keys);
}

/*
 * The console is the router's own screen and keyboard. Lines typed (or
 * sent by the host) are commands:
 *   poweroff              stop cleanly
 *   pair NAME [SECONDS]   a pairing code for a new device, shown here
 *   help
 * The code is printed to the console as `signpost pair` prints it to its
 * terminal: it is a display, not the log (the log line names the code by
 * its id only). After the first device, members make codes themselves.
 */
#define CONSOLE_LINE 256
#define CONSOLE_TTL 600

static struct {
	char buf[CONSOLE_LINE];
	size_t len;
	int overlong;       /* dropping the rest of a line too long to be a command */
} con;

static void
console_joined(void *arg, int rc, const char *name, const uint8_t addr[16])
{
	sp_daemon *d = arg;
	char a[INET6_ADDRSTRLEN];

	if (rc == SP_OK && addr != NULL) {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		printf("signpostd: %s.%s joined, at %s\n", name, d->cloud.zone, a);
	} else if (name != NULL) {
		printf("signpostd: the code for %s expired unused\n", name);
	}
	fflush(stdout);
}

static void
console_pair(sp_daemon *d, const char *name, const char *ttl_text)
{
	uint8_t id[SP_PAIR_TOKEN_ID];
	char text[SP_PAIR_URI_MAX], *end;
	long ttl = CONSOLE_TTL;
	int chosen = 0;
	sp_errmsg e;

	if (ttl_text != NULL && ((ttl = strtol(ttl_text, &end, 10)) <= 0 || *end != '\0')) {
		printf("signpostd: pair NAME [SECONDS]: '%s' is not a number of seconds\n", ttl_text);
		return;
	}
	if (sp_daemon_pair(d, name, ttl, "the console", text, sizeof(text), id, &chosen, &e) !=
	    SP_OK) {
		printf("signpostd: pair: %s\n", e.msg);
		return;
	}
	printf("signpostd: a pairing code for %s.%s, for one device, within %ld s.\n"
	    "signpostd: on the device run 'signpost join -' and paste the line below%s\n%s\n",
	    name, d->cloud.zone, ttl, chosen ? " (it offers this gateway's own addresses: set "
	    "signpost_public-endpoint=HOST:PORT for devices outside this network)" : "", text);
	fflush(stdout);
	sodium_memzero(text, sizeof(text));
	if (sp_daemon_pair_wait(d, id, console_joined, d, &e) != SP_OK)
		sp_warn("console: %s", e.msg);
}

static void
console_line(sp_daemon *d, char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " \t\r", &save);
	char *a1 = strtok_r(NULL, " \t\r", &save), *a2 = strtok_r(NULL, " \t\r", &save);

	if (cmd == NULL)
		return;
	if (strcmp(cmd, "poweroff") == 0 && a1 == NULL) {
		sp_info("console: poweroff requested");
		sp_loop_stop(d->loop);
	} else if (strcmp(cmd, "pair") == 0 && a1 != NULL && strtok_r(NULL, " ", &save) == NULL) {
		console_pair(d, a1, a2);
	} else {
		printf("signpostd: commands: poweroff | pair NAME [SECONDS] | help\n");
		fflush(stdout);
	}
}

static void
on_console(void *arg, int fd, unsigned events)
{
	sp_daemon *d = arg;
	ssize_t n;
	char *nl;

	(void)events;
	n = read(fd, con.buf + con.len, sizeof(con.buf) - 1 - con.len);
	if (n <= 0)
		return;
	con.len += (size_t)n;
	while ((nl = memchr(con.buf, '\n', con.len)) != NULL) {
		size_t used = (size_t)(nl - con.buf) + 1;
		*nl = '\0';
		if (!con.overlong)
			console_line(d, con.buf);
		con.overlong = 0;
		memmove(con.buf, con.buf + used, con.len - used);
		con.len -= used;
	}
	if (con.len == sizeof(con.buf) - 1) {   /* no command is this long */
		con.overlong = 1;
		con.len = 0;
	}
}

static sp_watch *console_watch;

static void
ready(sp_daemon *d)
{
	sp_loop_watch(d->loop, 0, SP_IO_READ, on_console, d, &console_watch);
	printf("signpostd: ready\n");
	fflush(stdout);
}

void
sp_uk_main(int argc, char **argv, char **envp)
{
	static sp_daemon d;
	sp_uk uk;
	sp_errmsg e;

	(void)argc;
	(void)argv;
	console();
	/* Init gets only the signals it has handlers for; the loop reads
	 * them from a signalfd, so the handlers never run. */
	signal(SIGTERM, noop);
	signal(SIGINT, noop);
	signal(SIGPWR, noop);
	reboot(RB_DISABLE_CAD);   /* Ctrl-Alt-Del sends SIGINT instead */
	memset(&d, 0, sizeof(d));
	sp_conf_init(&d.conf);
	if (sp_uk_settings(envp, &uk, &d.conf, &e) != SP_OK)
		fatal(e.msg);
	sp_log_init("signpostd", 0,
	    d.conf.log_level < 0 ? SP_LOG_INFO : (enum sp_log_level)d.conf.log_level);
	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");
	/* The root is the initramfs, in RAM: /run for sockets, and /var/run
	 * where wg looks for the tunnel's UAPI socket. */
	mkdir("/run", 0755);
	mkdir("/var", 0755);
	if (symlink("/run", "/var/run") != 0 && errno != EEXIST)
		fatal("/var/run");
	if (mkdir(RUN_DIR, 0700) != 0 && errno != EEXIST)
		fatal(RUN_DIR);
	snprintf(d.state_dir, sizeof(d.state_dir), "%s", RUN_DIR);
	memcpy(d.conf.state_dir, d.state_dir, sizeof(d.conf.state_dir));
	if (!d.conf.interface[0])
		memcpy(d.conf.interface, SP_DEFAULT_INTERFACE, sizeof(SP_DEFAULT_INTERFACE));
	if (d.conf.ndns_listen == 0) {
		const char *why;
		if (sp_conf_add_listen(&d.conf, "0.0.0.0:53", &why) != SP_OK ||
		    sp_conf_add_listen(&d.conf, "[::]:53", &why) != SP_OK)
			fatal(why);
	}
	network(&uk, &d.conf);
	d.store = storage(&uk);
	first_boot(d.store, &uk);
	d.ready = ready;
	sp_daemon_run(&d);
	halt();
}
