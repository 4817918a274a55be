/*
 * resolvedprobe: signpostd/device/resolved.c alone, on the daemon's own
 * loop and worker, for tests/system/resolved.sh. A whole signpostd would
 * need a paired member's state and a tunnel to get this far; resolved.c
 * uses only the loop and the worker of its sp_daemon, so that is all this
 * builds.
 *
 *   resolvedprobe IFNAME ADDR6 ZONE RECHECK_MS [STOP_AFTER_MS]
 *
 * Prints "registered 0|1" on stdout whenever sp_resolved_registered
 * changes. On SIGTERM or SIGINT it stops as signpostd does (the worker,
 * then sp_resolved_stop and its revert), prints "stopped in N ms" and
 * exits. With STOP_AFTER_MS it stops then instead, whatever is in
 * flight, keeps the loop running 2 s longer so the worker's check comes
 * back to a stopped object, and exits. The bus is $DBUS_SYSTEM_BUS_ADDRESS.
 * Logs go to stderr at info level.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "resolved.h"
#include "sp_log.h"

#define WATCH_MS 20
#define LINGER_MS 2000

static sp_daemon d;
static sp_resolved *res;
static sp_timer *watch;
static int shown = -1;

static void
stop_now(void)
{
	uint64_t t0 = sp_clock_mono_ms();

	sp_resolved_stop(res);
	res = NULL;
	printf("stopped in %llu ms\n", (unsigned long long)(sp_clock_mono_ms() - t0));
	fflush(stdout);
}

static void
on_watch(void *arg)
{
	int now = sp_resolved_registered(res);

	(void)arg;
	if (res != NULL && now != shown) {
		printf("registered %d\n", now);
		fflush(stdout);
		shown = now;
	}
	sp_timer_arm(watch, WATCH_MS);
}

static void
on_signal(void *arg, int signo)
{
	(void)arg;
	(void)signo;
	sp_loop_stop(d.loop);
}

static void
on_linger(void *arg)
{
	(void)arg;
	sp_loop_stop(d.loop);
}

static void
on_stop_after(void *arg)
{
	(void)arg;
	stop_now();
	sp_loop_timer(d.loop, LINGER_MS, on_linger, NULL, NULL);
}

int
main(int argc, char **argv)
{
	uint8_t addr[16];
	sp_errmsg e;
	int rc;

	if (argc < 5 || argc > 6 || inet_pton(AF_INET6, argv[2], addr) != 1) {
		fprintf(stderr, "usage: resolvedprobe IFNAME ADDR6 ZONE RECHECK_MS [STOP_AFTER_MS]\n");
		return 2;
	}
	sp_log_init("resolvedprobe", 0, SP_LOG_INFO);
	if (sp_loop_new(&d.loop) != SP_OK ||
	    sp_loop_signal(d.loop, SIGTERM, on_signal, NULL) != SP_OK ||
	    sp_loop_signal(d.loop, SIGINT, on_signal, NULL) != SP_OK ||
	    sp_work_start(d.loop, &d.work, &e) != SP_OK ||
	    sp_timer_new(d.loop, on_watch, NULL, &watch) != SP_OK) {
		fprintf(stderr, "resolvedprobe: cannot set up the loop and the worker\n");
		return 1;
	}
	if ((rc = sp_resolved_start(&d, argv[1], addr, argv[3], &res, &e)) != SP_OK) {
		fprintf(stderr, "resolvedprobe: %s\n", e.msg);
		return 1;
	}
	sp_resolved_set_recheck(res, strtoull(argv[4], NULL, 10));
	sp_timer_arm(watch, 0);
	if (argc == 6 &&
	    sp_loop_timer(d.loop, strtoull(argv[5], NULL, 10), on_stop_after, NULL, NULL) != SP_OK)
		return 1;
	rc = sp_loop_run(d.loop);
	/* The daemon's order (daemon.c): the worker first, then the roles. */
	sp_work_stop(d.work);
	d.work = NULL;
	if (res != NULL)
		stop_now();
	sp_timer_free(watch);
	sp_loop_free(d.loop);
	return rc == SP_OK ? 0 : 1;
}
