/*
 * The gateway image's init: /init in its initramfs, PID 1 of the machine.
 * A program of its own, so that signpostd is an ordinary daemon whatever
 * its pid (as PID 1 of a container, say) and only this one sets up a
 * machine.
 */
#include "sp_unikernel.h"

int
main(int argc, char **argv, char **envp)
{
	sp_uk_main(argc, argv, envp);
}
