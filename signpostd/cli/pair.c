/*
 * signpost pair: a QR code that pairs a new device (docs/pairing.md), in
 * the terminal or as a PNG or SVG file; then, in a terminal (or with
 * --wait) and unless --no-wait, waiting until
 * the device has joined. With --wireguard, the QR code is a WireGuard
 * configuration the official apps import, whose key pair is made here and
 * whose private half leaves this process only inside the code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "sp_pair.h"
#include "sp_qr.h"
#include "sp_wg_crypto.h"

#define TTL_DEFAULT 600
#define WAIT_SLACK_MS 5000
/* The WireGuard apps' default is 1280 without an MTU line; the tunnel's
 * is 1420, which is what the gateway's side uses. */
#define WG_APP_MTU 1420
#define WG_APP_KEEPALIVE 25

static int
usage(void)
{
	fprintf(stderr, "usage: signpost pair --name NAME [--ttl 10m] "
	    "[--qr terminal|png:FILE|svg:FILE]... [--uri] [--wait|--no-wait] [--wireguard]\n");
	return CLI_USAGE;
}

/* "600", "600s", "10m", "2h" to seconds. */
static int
parse_ttl(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	/* A code lives from 10 s to a day: bounded before it is multiplied. */
	if (end == s || v <= 0 || v > 24 * 3600)
		return -1;
	if (*end == 'm')
		v *= 60, end++;
	else if (*end == 'h')
		v *= 3600, end++;
	else if (*end == 's')
		end++;
	if (*end != '\0' || v > 24 * 3600)
		return -1;
	*out = v;
	return 0;
}

/* Write text to path atomically enough for a user's file: a temporary
 * beside it, then a rename. */
static int
write_file(const char *path, const char *text, size_t len)
{
	char tmp[4200];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		return cli_error(CLI_FAIL, "%s: %s", path, strerror(errno));
	/* The file holds the code's secret: only its owner reads it. */
	ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		return cli_error(CLI_FAIL, "%s: %s", path, strerror(err));
	}
	return CLI_OK;
}

/* Is --qr's value one show_qr takes? Checked before the daemon acts. */
static int
qr_where_ok(const char *where)
{
	return strcmp(where, "terminal") == 0 ||
	    ((strncmp(where, "png:", 4) == 0 || strncmp(where, "svg:", 4) == 0) &&
	    where[4] != '\0');
}

#define QR_MAX 4   /* --qr may be given this often: a screen and files */

/* Show text as a QR code where --qr says. */
static int
show_qr_one(const char *text, const char *where)
{
	sp_qr *q;
	sp_errmsg e;
	char *out;
	size_t len;
	int rc = CLI_OK;

	if (sp_qr_encode(text, &q, &e) != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	if (strcmp(where, "terminal") == 0) {
		/* Colours make it scan on dark and light terminals alike; a file
		 * or a pipe gets the bare glyphs. */
		if (sp_qr_text(q, isatty(STDOUT_FILENO), &out, &len) != SP_OK) {
			rc = cli_error(CLI_FAIL, "out of memory");
		} else {
			fwrite(out, 1, len, stdout);
			fflush(stdout);
			sodium_memzero(out, len);   /* the code, drawn */
			free(out);
		}
	} else if (strncmp(where, "png:", 4) == 0 && where[4] != '\0') {
		if (sp_qr_png(q, 8, where + 4, &e) != SP_OK)
			rc = cli_error(CLI_FAIL, "%s", e.msg);
	} else if (strncmp(where, "svg:", 4) == 0 && where[4] != '\0') {
		if (sp_qr_svg(q, &out, &len) != SP_OK) {
			rc = cli_error(CLI_FAIL, "out of memory");
		} else {
			rc = write_file(where + 4, out, len);
			sodium_memzero(out, len);
			free(out);
		}
	} else {
		rc = cli_error(CLI_USAGE, "--qr %s: terminal, png:FILE or svg:FILE", where);
	}
	sp_qr_free(q);
	return rc;
}

static int
show_qr(const char *text, const char *const *where, size_t n)
{
	int rc = CLI_OK;

	for (size_t i = 0; i < n && rc == CLI_OK; i++)
		rc = show_qr_one(text, where[i]);
	return rc;
}

static void
say_endpoints(const struct cli_fields *f)
{
	if (strcmp(cli_field(f, "endpoints-chosen"), "1") != 0)
		return;
	fprintf(stderr, "signpost: no public-endpoint is set, so the code offers this gateway's "
	    "own addresses:");
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], "endpoints[]") == 0)
			fprintf(stderr, " %s", f->value[i]);
	fprintf(stderr, "\n          (set public-endpoint HOST:PORT for a device outside this "
	    "network)\n");
}

static volatile sig_atomic_t interrupted;

static void
on_int(int signo)
{
	(void)signo;
	interrupted = 1;
}

/* Wait until the device joins or the code expires. */
static int
wait_join(struct cli *c, const char *id, long ttl)
{
	struct sigaction sa;
	struct cli_fields f;
	char req[64];
	sp_errmsg e;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_int;
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "Waiting for the device to join (Ctrl-C stops waiting; the code stays "
	    "valid until it expires)...\n");
	snprintf(req, sizeof(req), "pair wait %s %ld", id, ttl);
	rc = cli_ask(c, req, &f, (int)(ttl * 1000 + WAIT_SLACK_MS), &e);
	if (interrupted)
		return CLI_OK;
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	printf("%s joined, at %s\n", cli_field(&f, "joined"), cli_field(&f, "address"));
	cli_fields_free(&f);
	return CLI_OK;
}

/* A Signpost device: a pairing code. */
static int
pair_signpost(struct cli *c, const char *name, long ttl, const char *const *qr, size_t nqr,
    int show_uri, int wait)
{
	struct cli_fields f;
	char req[256];
	sp_errmsg e;
	int rc;

	snprintf(req, sizeof(req), "pair create %s %ld", name, ttl);
	if ((rc = cli_ask(c, req, &f, 10000, &e)) == SP_ENOTRUNNING)
		return cli_error(CLI_NOTRUNNING, "%s; pairing needs the running gateway", e.msg);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	say_endpoints(&f);
	rc = show_qr(cli_field(&f, "uri"), qr, nqr);
	if (rc == CLI_OK) {
		if (show_uri)
			printf("%s\n", cli_field(&f, "uri"));
		fprintf(stderr, "Scan this with the new device, or run on it: signpost join -  "
		    "(and paste the code)\nIt pairs %s once, within %ld s.\n",
		    cli_field(&f, "name"), ttl);
	}
	if (rc == CLI_OK && (wait == 2 || (wait == 1 && isatty(STDOUT_FILENO)))) {
		char id[32];
		/* The code must be out before the wait, wherever stdout goes. */
		fflush(stdout);
		snprintf(id, sizeof(id), "%s", cli_field(&f, "id"));
		cli_fields_free(&f);
		return wait_join(c, id, ttl);
	}
	cli_fields_free(&f);
	return rc;
}

/*
 * A phone with only the WireGuard app: its configuration (the apps'
 * wg-quick format, nothing else), DNS the gateway's overlay address and
 * the zone as search domain, the zone's /48 through the gateway.
 */
static int
pair_wireguard(struct cli *c, const char *name, const char *const *qr, size_t nqr,
    int show_conf)
{
	uint8_t priv[32], pub[32];
	char b64pub[64], *b64priv, req[256], *conf;
	struct cli_fields f;
	const char *ep = NULL;
	char zone[256];
	sp_errmsg e;
	int rc, n;

	/* The private key exists in this process only, in guarded memory. */
	if ((b64priv = sodium_malloc(64)) == NULL || (conf = sodium_malloc(2048)) == NULL)
		return cli_error(CLI_FAIL, "out of memory");
	sp_wg_genkey(sp_platform_rng(), priv);
	sp_wg_pubkey(pub, priv);
	sodium_bin2base64(b64priv, 64, priv, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(priv, sizeof(priv));
	sodium_bin2base64(b64pub, sizeof(b64pub), pub, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(req, sizeof(req), "pair wireguard %s %s", name, b64pub);
	if ((rc = cli_ask(c, req, &f, 10000, &e)) != SP_OK) {
		sodium_free(b64priv);
		sodium_free(conf);
		return cli_error(rc == SP_ENOTRUNNING ? CLI_NOTRUNNING : CLI_FAIL, "%s", e.msg);
	}
	say_endpoints(&f);
	for (size_t i = 0; i < f.n && ep == NULL; i++)
		if (strcmp(f.name[i], "endpoints[]") == 0)
			ep = f.value[i];
	snprintf(zone, sizeof(zone), "%s", cli_field(&f, "zone"));
	if (zone[0] != '\0' && zone[strlen(zone) - 1] == '.')
		zone[strlen(zone) - 1] = '\0';
	n = snprintf(conf, 2048,
	    "[Interface]\nPrivateKey = %s\nAddress = %s/128\nDNS = %s, %s\nMTU = %d\n\n"
	    "[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\nPersistentKeepalive = %d\n",
	    b64priv, cli_field(&f, "address"), cli_field(&f, "dns"), zone, WG_APP_MTU,
	    cli_field(&f, "gateway-key"), ep != NULL ? ep : "?", cli_field(&f, "prefix"),
	    WG_APP_KEEPALIVE);
	sodium_free(b64priv);
	if (n < 0 || n >= 2048 || ep == NULL) {
		rc = cli_error(CLI_FAIL, "the gateway gave no endpoint for the configuration");
	} else {
		rc = show_qr(conf, qr, nqr);
		if (rc == CLI_OK && show_conf)
			fputs(conf, stdout);
		if (rc == CLI_OK)
			fprintf(stderr, "Scan this with the WireGuard app (+, Scan from QR code). "
			    "%s.%s is at %s.\nIts private key is in the code only: nobody keeps "
			    "it, so a lost code means pairing again.\n", name, zone,
			    cli_field(&f, "address"));
	}
	sodium_free(conf);
	cli_fields_free(&f);
	if (rc != CLI_OK) {
		/* Nobody will ever have this member's private key: undo it. */
		struct cli_fields g;
		snprintf(req, sizeof(req), "device remove %s", name);
		if (cli_ask(c, req, &g, 10000, &e) == SP_OK) {
			fprintf(stderr, "signpost: %s was removed again, as its code could not be "
			    "shown\n", name);
			cli_fields_free(&g);
		} else {
			fprintf(stderr, "signpost: %s could not be removed again (%s): remove it "
			    "with signpost device remove %s\n", name, e.msg, name);
		}
	}
	return rc;
}

int
cli_pair(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "ttl", required_argument, NULL, 't' },
		{ "qr", required_argument, NULL, 'q' },
		{ "uri", no_argument, NULL, 'u' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "wait", no_argument, NULL, 'A' },
		{ "wireguard", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *qr[QR_MAX] = { "terminal" };
	size_t nqr = 0;
	/* Waiting for the join is for someone watching: in a terminal, or
	 * asked for with --wait (a script that wants to know). */
	int show_uri = 0, wait = 1, wireguard = 0, opt;
	long ttl = TTL_DEFAULT;
	sp_errmsg e;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': name = optarg; break;
		case 't':
			if (parse_ttl(optarg, &ttl) != 0)
				return cli_error(CLI_USAGE, "--ttl %s: a duration up to a day, like "
				    "600, 10m or 2h", optarg);
			break;
		case 'q':
			if (nqr == QR_MAX)
				return cli_error(CLI_USAGE, "--qr: at most %d of them", QR_MAX);
			qr[nqr++] = optarg;
			break;
		case 'u': show_uri = 1; break;
		case 'W': wait = 0; break;
		case 'A': wait = 2; break;
		case 'w': wireguard = 1; break;
		default: return usage();
		}
	}
	if (name == NULL || optind != argc)
		return usage();
	if (sp_device_name_check(name, &e) != SP_OK)
		return cli_error(CLI_USAGE, "--name %s: %s", name, e.msg);
	/* Before anything is made: a WireGuard phone's key exists only in
	 * the code, so a code that cannot be shown must not be made. */
	if (nqr == 0)
		nqr = 1;   /* the terminal */
	for (size_t i = 0; i < nqr; i++)
		if (!qr_where_ok(qr[i]))
			return cli_error(CLI_USAGE, "--qr %s: terminal, png:FILE or svg:FILE", qr[i]);
	if (wireguard)
		return pair_wireguard(c, name, qr, nqr, show_uri);
	return pair_signpost(c, name, ttl, qr, nqr, show_uri, wait);
}
