/*
 * signpost join: this device joins a personal cloud with the code another
 * member showed (docs/pairing.md). It makes the device's identity key,
 * runs the pairing exchange with the gateway the code names and pins,
 * checks the zone's keys against the code's DS, writes the state, and
 * starts signpostd. The key is stored before the gateway is asked and
 * removed again if it says no, so a refused join leaves nothing; a join
 * unanswered, or admitted but cut short (a lost answer, a full disk, a
 * kill), can be run again with the same code and key.
 *
 * The code holds a single-use secret: given as an argument it is wiped
 * from this process's arguments at once, but `signpost join -` (the code
 * on standard input) or --qr-image keeps it out of them altogether.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "sp_pair.h"
#include "sp_device.h"
#include "sp_qr.h"

#define RETRY_MS 500
#define EXCHANGE_MS 8000
#define START_MS 10000

static int
usage(void)
{
	fprintf(stderr, "usage: signpost join URI [--no-start] [--interface NAME] [--ice on|off]\n"
	    "       signpost join - ...                   (the code on standard input)\n"
	    "       signpost join --qr-image FILE ...\n"
	    "  --interface NAME  the tunnel interface signpostd makes (default sp0; another\n"
	    "                    name where one machine runs more than one signpostd)\n"
	    "  --ice on|off      signpostd looks for direct paths to other members (default\n"
	    "                    on; off: everything through the gateway's relay)\n");
	return CLI_USAGE;
}

/* One line from standard input into guarded memory. */
static int
read_stdin(char *out, size_t cap)
{
	size_t n = 0;
	ssize_t k;

	while (n + 1 < cap && (k = read(STDIN_FILENO, out + n, 1)) == 1 && out[n] != '\n')
		n++;
	out[n] = '\0';
	return n > 0 ? CLI_OK : cli_error(CLI_USAGE, "no pairing code on standard input");
}

/* The gateway's endpoints, resolved: numeric ones as they are, names by
 * the system's resolver. */
static size_t
resolve(const sp_pair_uri *u, struct sockaddr_storage *out, socklen_t *lens)
{
	size_t n = 0;

	for (size_t i = 0; i < u->nendpoints; i++) {
		struct addrinfo hints, *res = NULL;
		const char *colon = strrchr(u->endpoint[i], ':');
		char host[SP_PAIR_ENDPOINT_MAX];
		size_t hl = (size_t)(colon - u->endpoint[i]);

		if (sp_addr_parse(u->endpoint[i], &out[n], &lens[n]) == SP_OK) {
			n++;
			continue;
		}
		memcpy(host, u->endpoint[i], hl);
		host[hl] = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_DGRAM;
		hints.ai_flags = AI_NUMERICSERV;
		if (getaddrinfo(host, colon + 1, &hints, &res) == 0 && res != NULL) {
			memcpy(&out[n], res->ai_addr, res->ai_addrlen);
			lens[n++] = res->ai_addrlen;
		}
		if (res != NULL)
			freeaddrinfo(res);
	}
	return n;
}

/* What to tell the user of each refusal. */
static const char *
advice(enum sp_pair_code code)
{
	switch (code) {
	case SP_PAIR_E_UNKNOWN_TOKEN:
	case SP_PAIR_E_EXPIRED:
	case SP_PAIR_E_USED:
	case SP_PAIR_E_FORGED:
		return "ask for a new code: signpost pair --name NAME on the gateway or a member";
	case SP_PAIR_E_NAME_TAKEN:
		return "make a code for another name";
	case SP_PAIR_E_BUSY:
		return "try again in a minute";
	case SP_PAIR_E_MEMBER:
		return "this device joined before; revoke that name on the gateway to start anew";
	default:
		return "";
	}
}

/*
 * Send the request to every endpoint, again every RETRY_MS, until one
 * answers for real (a response, or an error the gateway signed) or
 * EXCHANGE_MS pass. Replies that do not verify are ignored: anyone can
 * send a datagram, only the gateway can make a reply that opens.
 */
static int
exchange(const sp_pair_uri *u, sp_pair_state *st, const uint8_t *req, size_t len,
    sp_pair_settings *s, int *unanswered)
{
	struct sockaddr_storage to[SP_PAIR_MAX_ENDPOINTS];
	socklen_t tolen[SP_PAIR_MAX_ENDPOINTS];
	size_t n = resolve(u, to, tolen);
	int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	uint64_t start = sp_clock_mono_ms(), next = start;
	int rc = CLI_FAIL;

	if (n == 0) {
		close(fd4);
		close(fd6);
		return cli_error(CLI_FAIL, "none of the gateway's addresses in the code resolves");
	}
	for (;;) {
		uint64_t now = sp_clock_mono_ms();
		struct pollfd p[2] = { { fd4, POLLIN, 0 }, { fd6, POLLIN, 0 } };
		/* One byte more than a reply may be, so a longer datagram
		 * shows as one (and is refused), not as a cut one. */
		uint8_t buf[SP_PAIR_MSG_MAX + 1];
		enum sp_pair_code code;
		char reason[256];
		int r;

		if (now - start >= EXCHANGE_MS) {
			*unanswered = 1;
			rc = cli_error(CLI_FAIL, "the gateway did not answer at %s%s (is signpostd "
			    "running there, and its UDP port %s reachable from here?); this device's "
			    "key is kept, so the same join can be run again",
			    u->endpoint[0], u->nendpoints > 1 ? " or its other addresses" : "",
			    strrchr(u->endpoint[0], ':') + 1);
			break;
		}
		if (now >= next) {
			for (size_t i = 0; i < n; i++) {
				int fd = to[i].ss_family == AF_INET ? fd4 : fd6;
				/* An unreachable address is one of several: the
				 * others may answer. */
				if (fd >= 0 && sendto(fd, req, len, 0, (struct sockaddr *)&to[i],
				    tolen[i]) < 0)
					continue;
			}
			next = now + RETRY_MS;
		}
		if (poll(p, 2, (int)(next - now)) <= 0)
			continue;
		for (int k = 0; k < 2; k++) {
			ssize_t got;
			if (!(p[k].revents & POLLIN) ||
			    (got = recv(p[k].fd, buf, sizeof(buf), 0)) <= 0)
				continue;
			r = sp_pair_reply_read(st, buf, (size_t)got, s, &code, reason, sizeof(reason));
			if (r == SP_OK) {
				rc = CLI_OK;
				goto out;
			}
			if (r == SP_EPERM) {
				const char *a = advice(code);
				rc = cli_error(CLI_FAIL, "the gateway refused to pair this device (%s): "
				    "%s%s%s", sp_pair_code_name(code), reason, a[0] ? "; " : "", a);
				goto out;
			}
		}
	}
out:
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return rc;
}

/* The signpostd beside this program, else the one on the PATH. */
static void
daemon_path(char *out, size_t cap)
{
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	snprintf(out, cap, "signpostd");
	if (n <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	snprintf(out, cap, "%s/signpostd", self);
	if (access(out, X_OK) != 0)
		snprintf(out, cap, "signpostd");
}

/* Start signpostd on the state, detached, its log in STATE/signpostd.log;
 * wait until it answers and its gateway has shaken hands. */
static int
start_daemon(struct cli *c, const char *ifname, const char *ice)
{
	char path[PATH_MAX], log[4200];
	uint64_t start;
	pid_t pid;
	int fd;

	daemon_path(path, sizeof(path));
	snprintf(log, sizeof(log), "%s/signpostd.log", c->state_dir);
	if ((pid = fork()) < 0)
		return cli_error(CLI_FAIL, "cannot start signpostd: %s", strerror(errno));
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);   /* the grandchild is nobody's child: a daemon */
		setsid();
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if ((fd = open("/dev/null", O_RDONLY)) >= 0)
			dup2(fd, STDIN_FILENO);
		{
			char *argv[9];
			int n = 0;
			argv[n++] = path;
			argv[n++] = (char *)"--state";
			argv[n++] = c->state_dir;
			if (ifname != NULL) {
				argv[n++] = (char *)"--interface";
				argv[n++] = (char *)ifname;
			}
			if (ice != NULL) {
				argv[n++] = (char *)"--ice";
				argv[n++] = (char *)ice;
			}
			argv[n] = NULL;
			execvp(path, argv);
		}
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	for (start = sp_clock_mono_ms(); sp_clock_mono_ms() - start < START_MS; usleep(50000)) {
		struct cli_fields f;
		sp_errmsg e;
		const char *hs;
		if (cli_ask(c, "status", &f, 2000, &e) != SP_OK)
			continue;
		hs = cli_field_find(&f, "gateway-handshake");
		if (hs != NULL && hs[0] != '-') {
			cli_fields_free(&f);
			return CLI_OK;
		}
		cli_fields_free(&f);
	}
	return cli_error(CLI_FAIL, "signpostd started but has not reached the gateway within "
	    "%d s; see %s", START_MS / 1000, log);
}

/* The exchange succeeded: the gateway and the anchor, and last the cloud
 * file, in the store join holds locked. */
static int
write_state(sp_store *store, const sp_pair_uri *u, const sp_pair_settings *s, sp_cloud *cloud)
{
	sp_gateway_info gw;
	sp_anchor anchor;
	sp_errmsg e = { "" };

	memset(&gw, 0, sizeof(gw));
	memcpy(gw.key, u->gateway_key, sizeof(gw.key));
	memcpy(gw.addr, s->gateway_addr, sizeof(gw.addr));
	gw.control_port = s->control_port;
	/* The code's addresses first (they worked), then any others the
	 * gateway knows. */
	for (size_t i = 0; i < u->nendpoints && gw.nendpoints < SP_GATEWAY_ENDPOINTS; i++)
		snprintf(gw.endpoint[gw.nendpoints++], 80, "%s", u->endpoint[i]);
	for (size_t i = 0; i < s->nendpoints && gw.nendpoints < SP_GATEWAY_ENDPOINTS; i++) {
		int dup = 0;
		for (size_t k = 0; k < gw.nendpoints; k++)
			dup |= strcmp(gw.endpoint[k], s->endpoint[i]) == 0;
		if (!dup)
			snprintf(gw.endpoint[gw.nendpoints++], 80, "%s", s->endpoint[i]);
	}
	memset(&anchor, 0, sizeof(anchor));
	anchor.n = sp_pair_anchor_keys(s, u, anchor.dnskey, SP_ANCHOR_MAX);
	if (sp_cloud_join(store, s->zone, s->name, s->prefix, &gw, &anchor, sp_clock_wall(),
	    cloud, &e) != SP_OK)
		return cli_error(CLI_FAIL, "the gateway admitted this device, but its state could "
		    "not be written: %s; fix that and run the same join again (the code answers "
		    "the same key again)", e.msg);
	return CLI_OK;
}

/*
 * This device's identity key. One left by an earlier join that did not
 * finish (admitted, but its state not written; or killed) is used again,
 * so the same code admits it again; else a new one, stored before the
 * gateway is asked. *fresh says which: a fresh key is removed again if
 * the gateway does not admit it, so a failed join leaves nothing.
 */
static int
device_key(sp_store *store, sp_key **out, int *fresh)
{
	sp_key **keys = NULL;
	size_t n = 0;
	sp_errmsg e = { "" };

	*out = NULL;
	*fresh = 0;
	if (sp_keystore_load_all(store, NULL, 0, &keys, &n, &e) == SP_OK) {
		for (size_t i = 0; i < n && *out == NULL; i++)
			if (sp_key_info_of(keys[i])->role == SP_ROLE_DEVICE && sp_key_has_secret(keys[i])) {
				*out = keys[i];
				keys[i] = NULL;
			}
		sp_keystore_free_all(keys, n);
	}
	if (*out != NULL) {
		fprintf(stderr, "signpost: using this device's key from an earlier join that did "
		    "not finish\n");
		return CLI_OK;
	}
	if (sp_key_generate(SP_ROLE_DEVICE, sp_clock_wall(), sp_platform_rng(), out) != SP_OK)
		return cli_error(CLI_FAIL, "cannot make this device's key");
	if (sp_keystore_add(store, *out, &e) != SP_OK) {
		sp_key_free(*out);
		*out = NULL;
		return cli_error(CLI_FAIL, "%s", e.msg);
	}
	*fresh = 1;
	return CLI_OK;
}

int
cli_join(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "qr-image", required_argument, NULL, 'q' },
		{ "no-start", no_argument, NULL, 'n' },
		{ "interface", required_argument, NULL, 'i' },
		{ "ice", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	const char *image = NULL, *ifname = NULL, *ice = NULL;
	int nostart = 0, opt, rc;
	char *text;
	size_t len;
	sp_pair_uri *u;
	sp_pair_state *st;
	sp_pair_settings s;
	uint8_t req[SP_PAIR_MSG_MAX], x_priv[32], x_pub[32], addr[16];
	char fqdn[320], a[INET6_ADDRSTRLEN];
	sp_cloud cloud;
	sp_key *dev = NULL;
	sp_errmsg e = { "" };
	sp_store *store = NULL;
	int fresh = 0, admitted = 0, unanswered = 0;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'q')
			image = optarg;
		else if (opt == 'n')
			nostart = 1;
		else if (opt == 'i')
			ifname = optarg;
		else if (opt == 'I' && (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0))
			ice = optarg;
		else
			return usage();
	}
	if ((image == NULL) == (optind == argc) || optind + 1 < argc)
		return usage();
	/* The code, its secret included, lives in guarded memory. */
	if ((text = sodium_malloc(SP_PAIR_URI_MAX + 2)) == NULL ||
	    (u = sodium_malloc(sizeof(*u))) == NULL || (st = sodium_malloc(sizeof(*st))) == NULL)
		return cli_error(CLI_FAIL, "out of memory");
	rc = CLI_OK;
	if (image != NULL) {
		char *decoded;
		if (sp_qr_decode_file(image, &decoded, &len, &e) != SP_OK) {
			rc = cli_error(CLI_FAIL, "%s", e.msg);
		} else {
			snprintf(text, SP_PAIR_URI_MAX + 2, "%s", decoded);
			sodium_memzero(decoded, len);
			free(decoded);
		}
	} else if (strcmp(argv[optind], "-") == 0) {
		rc = read_stdin(text, SP_PAIR_URI_MAX + 2);
	} else {
		snprintf(text, SP_PAIR_URI_MAX + 2, "%s", argv[optind]);
		/* Out of /proc/PID/cmdline as soon as we have it. */
		sodium_memzero(argv[optind], strlen(argv[optind]));
	}
	if (rc == CLI_OK && sp_pair_uri_parse(text, strlen(text), u, &e) != SP_OK)
		rc = cli_error(CLI_USAGE, "%s", e.msg);
	sodium_free(text);
	if (rc != CLI_OK)
		goto out;
	/* The state, locked for the whole join: two joins on one state
	 * cannot race, and a running signpostd is not under our feet. Never
	 * over an existing cloud; checked before the gateway is asked. */
	if (sp_store_open_dir(c->state_dir, SP_STORE_CREATE, &store, &e) != SP_OK ||
	    sp_store_lock(store, &e) != SP_OK) {
		rc = cli_error(CLI_FAIL, "%s", e.msg);
		goto out;
	}
	if (sp_cloud_load(store, &cloud, NULL) == SP_OK) {
		rc = cli_error(CLI_FAIL, "%s already holds the cloud %s (this device is %s); "
		    "refusing to join another", c->state_dir, cloud.zone, cloud.name);
		goto out;
	}
	if ((rc = device_key(store, &dev, &fresh)) != CLI_OK)
		goto out;
	if (sp_key_x25519(dev, x_priv, x_pub) != SP_OK ||
	    sp_pair_request_make(st, u, x_priv, sp_key_info_of(dev)->pub, sp_platform_rng(), req,
	    &len) != SP_OK) {
		rc = cli_error(CLI_FAIL, "cannot build the pairing request");
		goto out;
	}
	sodium_memzero(x_priv, sizeof(x_priv));
	if ((rc = exchange(u, st, req, len, &s, &unanswered)) != CLI_OK)
		goto out;
	admitted = 1;
	/* What the gateway said must be what the code promised: its key, the
	 * zone, DNSKEYs under the code's DS, and its address in the zone's
	 * prefix (the control plane trusts it). */
	if (strcmp(s.zone, u->zone) != 0 ||
	    memcmp(s.gateway_key, u->gateway_key, sizeof(s.gateway_key)) != 0) {
		rc = cli_error(CLI_FAIL, "the gateway's answer does not match the code (zone or "
		    "key)");
		goto out;
	}
	if (memcmp(s.gateway_addr, s.prefix, sizeof(s.prefix)) != 0) {
		rc = cli_error(CLI_FAIL, "the gateway's overlay address is outside its zone's "
		    "prefix");
		goto out;
	}
	if (sp_pair_check_anchor(&s, u, &e) != SP_OK) {
		rc = cli_error(CLI_FAIL, "%s", e.msg);
		goto out;
	}
	if ((rc = write_state(store, u, &s, &cloud)) != CLI_OK)
		goto out;
	/* The daemon takes the lock next. */
	sp_store_close(store);
	store = NULL;
	sp_cloud_fqdn(&cloud, fqdn, sizeof(fqdn));
	sp_ula_device(cloud.prefix, sp_key_info_of(dev)->pub, addr);
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	if (nostart) {
		printf("Joined %s as %s, at %s.\nStart it with: signpostd --state %s\n", cloud.zone,
		    fqdn, a, c->state_dir);
	} else if ((rc = start_daemon(c, ifname, ice)) == CLI_OK) {
		printf("Joined %s as %s, at %s; signpostd runs and has reached its gateway.\n",
		    cloud.zone, fqdn, a);
	}
out:
	/* A key the gateway refused goes again: a refused join leaves nothing
	 * behind. One it did not answer stays: the answer may have been lost
	 * after it admitted the key, and a second run then completes. */
	if (store != NULL && dev != NULL && fresh && !admitted && !unanswered &&
	    sp_keystore_remove(store, sp_key_info_of(dev), &e) != SP_OK)
		fprintf(stderr, "signpost: %s\n", e.msg);
	sp_store_close(store);
	sp_key_free(dev);
	sodium_memzero(x_priv, sizeof(x_priv));
	sodium_free(u);
	sodium_free(st);
	return rc;
}
