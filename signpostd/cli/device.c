/* signpost device add|remove|list: the devices published in the zone. */
#define _GNU_SOURCE
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sp_device.h"

static int
device_usage(void)
{
	fprintf(stderr, "usage: signpost device add NAME --key KEY [--sshfp FILE]\n"
	    "       signpost device remove NAME\n"
	    "       signpost device list\n");
	return CLI_USAGE;
}

static int
print_serial(void *arg, const char *name, const char *value)
{
	if (strcmp(name, "serial") == 0)
		snprintf(arg, 32, "%s", value);
	return SP_OK;
}

static int
print_device(void *arg, const char *name, const char *value)
{
	(void)arg;
	if (strcmp(name, "devices[]") == 0)
		printf("%s\n", value);
	return SP_OK;
}

/* Read the --sshfp file: OpenSSH public keys, one per line. */
static int
read_sshfp(const char *path, sp_device *dev)
{
	char buf[65536];
	size_t len;
	sp_errmsg e;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return cli_error(CLI_FAIL, "%s: cannot open", path);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len == sizeof(buf))
		return cli_error(CLI_FAIL, "%s: too large", path);
	if (sp_sshfp_from_openssh(buf, len, dev->sshfp, SP_DEVICE_MAX_SSHFP, &dev->nsshfp,
	    &e) != SP_OK)
		return cli_error(CLI_FAIL, "%s: %s", path, e.msg);
	return CLI_OK;
}

/* Without a running daemon, change the store; it is read at the next start. */
static int
offline(struct cli *c, int add, const sp_device *dev, const char *name)
{
	sp_store *store;
	sp_cloud cloud;
	sp_errmsg e;
	int rc;

	/* The state's lock, held across the check and the write, so that no
	 * daemon or other CLI changes the state in between (one that tries
	 * is refused, and says so). */
	if ((rc = cli_open(c, 1, &store, &cloud)) != CLI_OK)
		return rc;
	if (add && strcmp(dev->name, cloud.name) == 0)
		rc = sp_errf(&e, SP_EEXIST, "'%s' is the gateway's own name", dev->name);
	else if (add) {
		sp_device *devs;
		size_t n;
		rc = sp_devices_load(store, &devs, &n, &e);
		int loaded = rc == SP_OK;
		for (size_t i = 0; rc == SP_OK && i < n; i++)
			if (strcmp(devs[i].name, dev->name) == 0)
				rc = sp_errf(&e, SP_EEXIST, "device '%s' already exists", dev->name);
		if (loaded)
			free(devs);
		if (rc == SP_OK)
			rc = sp_device_save(store, dev, &e);
	} else {
		rc = sp_device_delete(store, name, &e);
		if (rc == SP_ENOENT)
			sp_errf(&e, rc, "no device '%s'", name);
	}
	sp_store_close(store);
	if (rc != SP_OK)
		return cli_error(CLI_FAIL, "%s", e.msg);
	printf("%s %s (signpostd is not running: it publishes the change when it starts)\n",
	    add ? "added" : "removed", add ? dev->name : name);
	return CLI_OK;
}

int
cli_device(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "sshfp", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	char request[4096], serial[32] = "?";
	const char *key = NULL, *sshfp = NULL;
	sp_device dev;
	sp_errmsg e;
	int opt, rc;

	if (argc < 2)
		return device_usage();
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2)
			return device_usage();
		rc = cli_call(c, "device list", print_device, NULL, &e);
		if (rc == CLI_NOTRUNNING)
			return cli_error(rc, "%s", e.msg);
		return rc;
	}
	if (strcmp(argv[1], "remove") == 0) {
		if (argc != 3)
			return device_usage();
		if (sp_device_name_check(argv[2], &e) != SP_OK)
			return cli_error(CLI_USAGE, "%s", e.msg);
		snprintf(request, sizeof(request), "device remove %s", argv[2]);
		rc = cli_call(c, request, print_serial, serial, &e);
		if (rc == CLI_NOTRUNNING)
			return offline(c, 0, NULL, argv[2]);
		if (rc == CLI_OK)
			printf("removed %s; zone serial %s\n", argv[2], serial);
		return rc;
	}
	if (strcmp(argv[1], "add") != 0 || argc < 3)
		return device_usage();
	memset(&dev, 0, sizeof(dev));
	if (sp_device_name_check(argv[2], &e) != SP_OK)
		return cli_error(CLI_USAGE, "%s", e.msg);
	snprintf(dev.name, sizeof(dev.name), "%.63s", argv[2]);
	argc -= 2;
	argv += 2;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'k')
			key = optarg;
		else if (opt == 's')
			sshfp = optarg;
		else
			return device_usage();
	}
	if (key == NULL || optind != argc)
		return device_usage();
	if (sp_key_public_parse(key, dev.pub, &e) != SP_OK)
		return cli_error(CLI_USAGE, "--key %s", e.msg);
	if (sshfp != NULL && (rc = read_sshfp(sshfp, &dev)) != CLI_OK)
		return rc;
	dev.added = sp_clock_wall();
	{
		size_t o = (size_t)snprintf(request, sizeof(request), "device add %s %s",
		    dev.name, key);
		for (size_t i = 0; i < dev.nsshfp; i++) {
			char hex[65];
			sodium_bin2hex(hex, sizeof(hex), dev.sshfp[i].fp, 32);
			o += (size_t)snprintf(request + o, sizeof(request) - o, " sshfp=%u:%u:%s",
			    dev.sshfp[i].algorithm, dev.sshfp[i].fp_type, hex);
		}
	}
	rc = cli_call(c, request, print_serial, serial, &e);
	if (rc == CLI_NOTRUNNING)
		return offline(c, 1, &dev, NULL);
	if (rc == CLI_OK)
		printf("added %s; zone serial %s\n", dev.name, serial);
	return rc;
}
