/*
 * pairtool: pairing requests the signpost CLI never sends, for the system
 * tests (tests/system/pairing.sh).
 *
 *   pairtool flood URI COUNT MS
 *       COUNT well-formed requests for the code URI, each with a fresh
 *       device key, spread evenly over MS milliseconds from one socket;
 *       then one more second for replies. Prints "sent=N replies=R
 *       verified=V" and one "CODE=COUNT" line per kind of refusal that
 *       verified.
 *   pairtool forge URI
 *       a request that names the code's token id (which travels in the
 *       clear) but was made without its token, as an eavesdropper who saw
 *       the id would make it; prints the gateway's verdict.
 *   pairtool join URI KEYFILE
 *       the request a device with the key in KEYFILE (an unsealed device
 *       key of a state directory, keys/device-*.key) would send, so a test
 *       can replay a revoked device's own key; prints the verdict. Nothing
 *       is written.
 *
 * URI is the code's text, or "-" for a line on standard input. A verdict
 * is "admitted NAME.ZONE", "refused CODE: REASON" or "no answer" (3 s,
 * requests sent again every 500 ms). Exit status: 0 admitted (or the flood
 * sent), 1 no answer, 2 usage, 3 refused, 4 a system call failed.
 */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sp_pair.h"
#include "sp_platform.h"

enum { PT_ADMITTED = 0, PT_NOANSWER = 1, PT_USAGE = 2, PT_REFUSED = 3, PT_FAIL = 4 };

#define ANSWER_MS 3000
#define RETRY_MS 500
#define CODES (SP_PAIR_E_INTERNAL + 1)

static int
usage(void)
{
	fprintf(stderr, "usage: pairtool flood URI COUNT MS\n"
	    "       pairtool forge URI\n"
	    "       pairtool join URI KEYFILE\n");
	return PT_USAGE;
}

static int
read_uri(const char *arg, sp_pair_uri *u)
{
	char line[SP_PAIR_URI_MAX + 2];
	const char *text = arg;
	sp_errmsg e;

	if (strcmp(arg, "-") == 0) {
		if (fgets(line, sizeof(line), stdin) == NULL)
			return PT_USAGE;
		line[strcspn(line, "\r\n")] = '\0';
		text = line;
	}
	if (sp_pair_uri_parse(text, strlen(text), u, &e) != SP_OK) {
		fprintf(stderr, "pairtool: %s\n", e.msg);
		return PT_USAGE;
	}
	return PT_ADMITTED;
}

/* A socket to the code's first endpoint. */
static int
open_to(const sp_pair_uri *u, struct sockaddr_storage *to, socklen_t *tolen)
{
	int fd;

	if (u->nendpoints == 0 || sp_addr_parse(u->endpoint[0], to, tolen) != SP_OK) {
		fprintf(stderr, "pairtool: the code's endpoint is not a numeric address\n");
		return -1;
	}
	if ((fd = socket(to->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		fprintf(stderr, "pairtool: socket: %s\n", strerror(errno));
	return fd;
}

/* A device's X25519 key pair and Ed25519 public key from a seed. */
static void
device_keys(const uint8_t seed[32], uint8_t x_priv[32], uint8_t ed_pub[32])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];

	crypto_sign_seed_keypair(ed_pub, sk, seed);
	crypto_sign_ed25519_sk_to_curve25519(x_priv, sk);
	sodium_memzero(sk, sizeof(sk));
}

/* The seed of an unsealed key file's "secret" line. */
static int
read_seed(const char *path, uint8_t seed[32])
{
	char line[512];
	size_t got = 0;
	int found = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		fprintf(stderr, "pairtool: %s: %s\n", path, strerror(errno));
		return PT_USAGE;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "secret ", 7) != 0)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		found = sodium_base642bin(seed, 32, line + 7, strlen(line + 7), NULL, &got, NULL,
		    sodium_base64_VARIANT_ORIGINAL) == 0 && got == 32;
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (!found) {
		fprintf(stderr, "pairtool: %s: no unsealed 32-byte secret\n", path);
		return PT_USAGE;
	}
	return PT_ADMITTED;
}

/* Send req until a reply verifies or ANSWER_MS pass; print the verdict. */
static int
exchange(const sp_pair_uri *u, sp_pair_state *st, const uint8_t *req, size_t len)
{
	struct sockaddr_storage to;
	socklen_t tolen;
	uint64_t start = sp_clock_mono_ms(), next = start;
	int fd = open_to(u, &to, &tolen), rc = PT_NOANSWER;

	if (fd < 0)
		return PT_FAIL;
	for (;;) {
		uint64_t now = sp_clock_mono_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		uint8_t buf[SP_PAIR_MSG_MAX + 64];
		sp_pair_settings s;
		enum sp_pair_code code;
		char reason[256];
		ssize_t got;
		int r;

		if (now - start >= ANSWER_MS) {
			printf("no answer\n");
			break;
		}
		if (now >= next) {
			if (sendto(fd, req, len, 0, (struct sockaddr *)&to, tolen) < 0)
				fprintf(stderr, "pairtool: sendto: %s\n", strerror(errno));
			next = now + RETRY_MS;
		}
		if (poll(&p, 1, (int)(next - now)) <= 0 || (got = recv(fd, buf, sizeof(buf), 0)) <= 0)
			continue;
		r = sp_pair_reply_read(st, buf, (size_t)got, &s, &code, reason, sizeof(reason));
		if (r == SP_OK) {
			printf("admitted %s.%s\n", s.name, s.zone);
			rc = PT_ADMITTED;
			break;
		}
		if (r == SP_EPERM) {
			printf("refused %s: %s\n", sp_pair_code_name(code), reason);
			rc = PT_REFUSED;
			break;
		}
	}
	close(fd);
	return rc;
}

static int
cmd_join(const sp_pair_uri *u, const char *keyfile)
{
	uint8_t seed[32], x_priv[32], ed_pub[32], req[SP_PAIR_MSG_MAX];
	sp_pair_state st;
	size_t len;
	int rc;

	if ((rc = read_seed(keyfile, seed)) != PT_ADMITTED)
		return rc;
	device_keys(seed, x_priv, ed_pub);
	sodium_memzero(seed, sizeof(seed));
	rc = sp_pair_request_make(&st, u, x_priv, ed_pub, sp_platform_rng(), req, &len);
	sodium_memzero(x_priv, sizeof(x_priv));
	if (rc != SP_OK) {
		fprintf(stderr, "pairtool: cannot make the request: %s\n", sp_strerror(rc));
		return PT_FAIL;
	}
	rc = exchange(u, &st, req, len);
	sp_pair_wipe(&st);
	return rc;
}

/*
 * Made with a guessed token, then given the real token's id: the gateway
 * finds the code by the id, and the request does not open with its token.
 * Its signed refusal names the real id, so the state is told that id to
 * accept it.
 */
static int
cmd_forge(const sp_pair_uri *u)
{
	uint8_t seed[32], x_priv[32], ed_pub[32], req[SP_PAIR_MSG_MAX], id[SP_PAIR_TOKEN_ID];
	sp_pair_uri guess = *u;
	sp_pair_state st;
	size_t len;
	int rc;

	sp_random(seed, sizeof(seed));
	device_keys(seed, x_priv, ed_pub);
	sodium_memzero(seed, sizeof(seed));
	sp_random(guess.token, sizeof(guess.token));
	sp_pair_token_id(u->token, id);
	rc = sp_pair_request_make(&st, &guess, x_priv, ed_pub, sp_platform_rng(), req, &len);
	sodium_memzero(x_priv, sizeof(x_priv));
	sodium_memzero(&guess, sizeof(guess));
	if (rc != SP_OK) {
		fprintf(stderr, "pairtool: cannot make the request: %s\n", sp_strerror(rc));
		return PT_FAIL;
	}
	/* The id follows the 4-byte header: magic, type, version, 0 (mobile/pair.c). */
	memcpy(req + 4, id, SP_PAIR_TOKEN_ID);
	memcpy(st.token_id, id, SP_PAIR_TOKEN_ID);
	rc = exchange(u, &st, req, len);
	sp_pair_wipe(&st);
	return rc;
}

static int
cmd_flood(const sp_pair_uri *u, const char *count_text, const char *ms_text)
{
	char *end;
	unsigned long count = strtoul(count_text, &end, 10), ms;
	struct sockaddr_storage to;
	socklen_t tolen;
	sp_pair_state *st;
	unsigned long sent = 0;
	unsigned replies = 0, verified = 0, codes[CODES];
	uint64_t start, stop;
	int fd;

	if (*end != '\0' || count < 1 || count > 100000)
		return usage();
	ms = strtoul(ms_text, &end, 10);
	if (*end != '\0' || ms > 600000)
		return usage();
	/* Every request's state, to tell which refusal answers which. */
	if ((st = calloc(count, sizeof(*st))) == NULL)
		return PT_FAIL;
	if ((fd = open_to(u, &to, &tolen)) < 0) {
		free(st);
		return PT_FAIL;
	}
	memset(codes, 0, sizeof(codes));
	start = sp_clock_mono_ms();
	stop = start + ms + 1000;
	for (;;) {
		uint64_t now = sp_clock_mono_ms();
		uint64_t due = sent < count ? start + ms * sent / count : stop;
		struct pollfd p = { fd, POLLIN, 0 };
		uint8_t buf[SP_PAIR_MSG_MAX + 64];

		if (sent == count && now >= stop)
			break;
		if (sent < count && now >= due) {
			uint8_t seed[32], x_priv[32], ed_pub[32], req[SP_PAIR_MSG_MAX];
			size_t len;

			sp_random(seed, sizeof(seed));
			device_keys(seed, x_priv, ed_pub);
			if (sp_pair_request_make(&st[sent], u, x_priv, ed_pub, sp_platform_rng(), req,
			    &len) == SP_OK && sendto(fd, req, len, 0, (struct sockaddr *)&to, tolen) >= 0)
				sent++;
			else
				count--;   /* counted as never sent */
			sodium_memzero(seed, sizeof(seed));
			sodium_memzero(x_priv, sizeof(x_priv));
			continue;
		}
		if (poll(&p, 1, (int)(due > now ? due - now : 0)) <= 0)
			continue;
		while (1) {
			ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (got <= 0)
				break;
			replies++;
			for (unsigned long i = 0; i < sent; i++) {
				sp_pair_settings s;
				enum sp_pair_code code;
				char reason[256];
				int r = sp_pair_reply_read(&st[i], buf, (size_t)got, &s, &code, reason,
				    sizeof(reason));
				if (r == SP_EPROTO)
					continue;
				verified++;
				codes[r == SP_OK ? 0 : (code < CODES ? code : 0)]++;
				break;
			}
		}
	}
	close(fd);
	printf("sent=%lu replies=%u verified=%u\n", sent, replies, verified);
	if (codes[0] > 0)
		printf("admitted=%u\n", codes[0]);
	for (int c = 1; c < CODES; c++)
		if (codes[c] > 0)
			printf("%s=%u\n", sp_pair_code_name((enum sp_pair_code)c), codes[c]);
	for (unsigned long i = 0; i < count; i++)
		sp_pair_wipe(&st[i]);
	free(st);
	return PT_ADMITTED;
}

int
main(int argc, char **argv)
{
	sp_pair_uri u;
	int rc;

	if (argc < 3)
		return usage();
	if (sodium_init() < 0)
		return PT_FAIL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = read_uri(argv[2], &u)) != PT_ADMITTED)
		return rc;
	if (strcmp(argv[1], "flood") == 0 && argc == 5)
		rc = cmd_flood(&u, argv[3], argv[4]);
	else if (strcmp(argv[1], "forge") == 0 && argc == 3)
		rc = cmd_forge(&u);
	else if (strcmp(argv[1], "join") == 0 && argc == 4)
		rc = cmd_join(&u, argv[3]);
	else
		rc = usage();
	sodium_memzero(&u, sizeof(u));
	return rc;
}
