/*
 * signpostd as PID 1 of the gateway image (docs/unikernel.md). There is no
 * userland: signpostd mounts what it needs, opens the console, brings up
 * its network, opens its store on the virtio disk, creates the cloud on
 * first boot, and powers the machine off when it stops.
 *
 * Settings come from the kernel command line. The kernel hands every
 * key=value it does not know, without a dot, to init as an environment
 * variable: signpost_zone=alice.example arrives as such. sp_uk_settings
 * turns them into settings and configuration lines; it is pure.
 */
#ifndef SP_UNIKERNEL_H
#define SP_UNIKERNEL_H

#include <stdint.h>

#include "conf.h"
#include "sp_err.h"
#include "sp_platform.h"

typedef struct sp_uk {
	char zone[256];          /* signpost_zone: needed on first boot */
	char name[64];           /* signpost_name (default "gateway") */
	char disk[64];           /* signpost_disk (default /dev/vda); "none" */
	char ifname[16];         /* signpost_if (default eth0) */
	uint8_t ip6[16];         /* signpost_ip6=ADDR/PREFIX, if ip6_prefix */
	unsigned ip6_prefix;
	uint8_t gw6[16];         /* signpost_gw6=ADDR, if has_gw6 */
	int has_gw6;
} sp_uk;

/*
 * From the environment init was given (NULL-terminated "k=v" strings):
 * signpost_zone, _name, _disk, _if, _ip6, _gw6 fill uk; any other
 * signpost_OPTION=VALUE is the configuration file's OPTION (with ','
 * for the spaces of two-part values), checked by the same parser, so an
 * error names the parameter and the problem.
 */
int sp_uk_settings(char *const *env, sp_uk *uk, sp_conf *conf, sp_errmsg *e);

/* Run as PID 1: set up, then run the daemon (sp_daemon_run); never
 * returns. The image's init (init.c) calls it. */
void sp_uk_main(int argc, char **argv, char **envp) __attribute__((noreturn));

#endif
