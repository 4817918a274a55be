#include "conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sp_kv.h"
#include "sp_log.h"

enum { OPT_STATE, OPT_LOG, OPT_LOG_LEVEL, OPT_PASSPHRASE_FILE, OPT_COUNT };

struct option_def {
	const char *name;
	int (*set)(sp_conf *c, const char *value, const char **why);
};

static int
set_path(char *dst, size_t dstlen, const char *value, const char **why)
{
	if (value[0] != '/') {
		*why = "must be an absolute path";
		return SP_ECONFIG;
	}
	if (strlen(value) >= dstlen) {
		*why = "path is too long";
		return SP_ECONFIG;
	}
	memcpy(dst, value, strlen(value) + 1);
	return SP_OK;
}

static int
set_state(sp_conf *c, const char *value, const char **why)
{
	return set_path(c->state_dir, sizeof(c->state_dir), value, why);
}

static int
set_passphrase_file(sp_conf *c, const char *value, const char **why)
{
	return set_path(c->passphrase_file, sizeof(c->passphrase_file), value, why);
}

static int
set_log(sp_conf *c, const char *value, const char **why)
{
	if (strcmp(value, "stderr") == 0)
		c->log_syslog = 0;
	else if (strcmp(value, "syslog") == 0)
		c->log_syslog = 1;
	else {
		*why = "must be 'stderr' or 'syslog'";
		return SP_ECONFIG;
	}
	return SP_OK;
}

static int
set_log_level(sp_conf *c, const char *value, const char **why)
{
	int level = sp_log_level_parse(value);

	if (level < 0) {
		*why = "must be one of error, warn, info, debug";
		return SP_ECONFIG;
	}
	c->log_level = level;
	return SP_OK;
}

static const struct option_def options[OPT_COUNT] = {
	[OPT_STATE] = { "state", set_state },
	[OPT_LOG] = { "log", set_log },
	[OPT_LOG_LEVEL] = { "log-level", set_log_level },
	[OPT_PASSPHRASE_FILE] = { "passphrase-file", set_passphrase_file },
};

void
sp_conf_init(sp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->log_syslog = -1;
	c->log_level = -1;
}

int
sp_conf_parse(sp_conf *c, const char *what, const char *text, size_t len,
    sp_errmsg *e)
{
	sp_wire r = sp_wire_reader(text, len);
	unsigned lineno = 0;
	sp_kv kv;
	int rc;

	if (memchr(text, '\0', len) != NULL)
		return sp_errf(e, SP_ECONFIG, "%s: contains a NUL byte; not a text file", what);
	while ((rc = sp_kv_next(&r, what, &lineno, &kv, e)) == 1) {
		const char *why = NULL;
		size_t i;

		for (i = 0; i < OPT_COUNT; i++)
			if (strcmp(kv.key, options[i].name) == 0)
				break;
		if (i == OPT_COUNT)
			return sp_errf(e, SP_ECONFIG,
			    "%s:%u: unknown option '%s' (known: state, log, log-level, "
			    "passphrase-file)", what, kv.line, kv.key);
		if (c->line_of[i] != 0)
			return sp_errf(e, SP_ECONFIG, "%s:%u: '%s' is already set on line %u",
			    what, kv.line, kv.key, c->line_of[i]);
		if (kv.value[0] == '\0')
			return sp_errf(e, SP_ECONFIG, "%s:%u: '%s' needs a value", what,
			    kv.line, kv.key);
		if (options[i].set(c, kv.value, &why) != SP_OK)
			return sp_errf(e, SP_ECONFIG, "%s:%u: %s '%s': %s", what, kv.line,
			    kv.key, kv.value, why);
		c->line_of[i] = kv.line;
	}
	return rc < 0 ? rc : SP_OK;
}

int
sp_conf_load(sp_conf *c, const char *path, sp_errmsg *e)
{
	char *buf;
	size_t len;
	FILE *f;
	int rc;

	if ((f = fopen(path, "re")) == NULL)
		return sp_errf(e, SP_ECONFIG, "%s: %s", path, strerror(errno));
	if ((buf = malloc(65537)) == NULL) {
		fclose(f);
		return SP_ENOMEM;
	}
	len = fread(buf, 1, 65537, f);
	if (ferror(f)) {
		rc = sp_errf(e, SP_ECONFIG, "%s: read error", path);
	} else if (len > 65536) {
		rc = sp_errf(e, SP_ECONFIG, "%s: larger than 64 KiB", path);
	} else {
		rc = sp_conf_parse(c, path, buf, len, e);
	}
	fclose(f);
	free(buf);
	return rc;
}

static void
print_value(FILE *f, const char *key, const char *value)
{
	if (strpbrk(value, " \t\"\\#") == NULL) {
		fprintf(f, "%s %s\n", key, value);
		return;
	}
	fprintf(f, "%s \"", key);
	for (; *value; value++) {
		if (*value == '"' || *value == '\\')
			fputc('\\', f);
		fputc(*value, f);
	}
	fprintf(f, "\"\n");
}

void
sp_conf_print(const sp_conf *c, FILE *f)
{
	print_value(f, "state", c->state_dir);
	if (c->passphrase_file[0])
		print_value(f, "passphrase-file", c->passphrase_file);
	fprintf(f, "log %s\n", c->log_syslog == 1 ? "syslog" : "stderr");
	fprintf(f, "log-level %s\n",
	    sp_log_level_name(c->log_level < 0 ? SP_LOG_INFO : (enum sp_log_level)c->log_level));
}
