/*
 * Slow work off the event loop (STYLE.md 12): signing a whole zone,
 * Argon2id, a pairing's key work under a flood. A job's run function goes
 * to one worker thread; its done function comes back on the loop with the
 * result, so the loop only ever does bounded work and all state the loop
 * owns is touched on the loop alone.
 *
 * A job's run function must touch nothing the loop changes: it gets what
 * it needs in its argument (copies, or snapshots it holds, such as
 * sp_zone_hold) and leaves its result there.
 */
#ifndef SP_WORK_H
#define SP_WORK_H

#include "sp_err.h"
#include "sp_platform.h"

#define SP_WORK_QUEUE 32

typedef struct sp_work sp_work;
/* On the worker thread. */
typedef void (*sp_work_run)(void *arg);
/* On the loop, after run; ran is 0 when the job was dropped unrun at stop. */
typedef void (*sp_work_done)(void *arg, int ran);

int sp_work_start(sp_loop *loop, sp_work **out, sp_errmsg *e);
/* Queue a job; SP_ESPACE when SP_WORK_QUEUE jobs wait already (the caller
 * refuses the request that wanted it, as a busy server would). */
int sp_work_submit(sp_work *w, sp_work_run run, sp_work_done done, void *arg);
/* Finish the job in progress, drop the waiting ones, and call every done
 * (ran = 1 for the finished, 0 for the dropped). NULL is a no-op. */
void sp_work_stop(sp_work *w);

#endif
