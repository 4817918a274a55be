/*
 * Logging. One sink per process: stderr (default) or syslog.
 *
 * Nothing secret is ever passed to these functions: keys, seeds,
 * passphrases and tokens have no formatting helpers anywhere in the tree,
 * so there is nothing to print them with.
 */
#ifndef SP_LOG_H
#define SP_LOG_H

enum sp_log_level { SP_LOG_ERROR, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG };

void sp_log_init(const char *ident, int use_syslog, enum sp_log_level level);
void sp_log_set_level(enum sp_log_level level);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int sp_log_level_parse(const char *s);
const char *sp_log_level_name(enum sp_log_level level);

void sp_log(enum sp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define sp_err(...) sp_log(SP_LOG_ERROR, __VA_ARGS__)
#define sp_warn(...) sp_log(SP_LOG_WARN, __VA_ARGS__)
#define sp_info(...) sp_log(SP_LOG_INFO, __VA_ARGS__)
#define sp_debug(...) sp_log(SP_LOG_DEBUG, __VA_ARGS__)

/* For invariants that cannot fail; logs and aborts. */
_Noreturn void sp_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
