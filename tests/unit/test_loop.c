/*
 * common/loop_poll.c: the event loop. Timer order (by deadline, then by
 * arming order), cancellation, a zero-delay timer that re-arms itself not
 * starving I/O, pipe watches, cancelling a watch from its own callback,
 * stopping from callbacks, and signals delivered in loop context.
 *
 * Only order and delivery are asserted, never durations. Each test runs
 * under a generous alarm so that a hung loop fails instead of stalling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include "sp_platform.h"

typedef struct fixture {
	sp_loop *loop;
	int pipe[2];
} fixture;

static int
setup(void **state)
{
	static fixture f;

	memset(&f, 0, sizeof(f));
	if (sp_loop_new(&f.loop) != SP_OK || pipe(f.pipe) != 0)
		return -1;
	alarm(30);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	alarm(0);
	sp_loop_free(f->loop);
	close(f->pipe[0]);
	close(f->pipe[1]);
	return 0;
}

/* A log of which callbacks ran, in order. */
typedef struct record {
	sp_loop *loop;
	int order[16];
	size_t n;
	size_t stop_at;     /* stop the loop after this many entries */
} record;

typedef struct tick {
	record *rec;
	int id;
} tick;

static void
log_tick(void *arg)
{
	tick *t = arg;
	record *r = t->rec;

	assert_true(r->n < sizeof(r->order) / sizeof(r->order[0]));
	r->order[r->n++] = t->id;
	if (r->n >= r->stop_at)
		sp_loop_stop(r->loop);
}

static void
test_timers_fire_in_deadline_order(void **state)
{
	fixture *f = *state;
	record rec = { .loop = f->loop, .stop_at = 3 };
	tick t30 = { &rec, 30 }, t10 = { &rec, 10 }, t20 = { &rec, 20 };

	assert_int_equal(sp_loop_timer(f->loop, 30, log_tick, &t30, NULL), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 10, log_tick, &t10, NULL), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 20, log_tick, &t20, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.order[0], 10);
	assert_int_equal(rec.order[1], 20);
	assert_int_equal(rec.order[2], 30);
}

static void
test_equal_deadlines_fire_in_arming_order(void **state)
{
	fixture *f = *state;
	record rec = { .loop = f->loop, .stop_at = 9 };
	tick t[9];

	/* An earlier timer armed in between must still go first. */
	for (int i = 0; i < 8; i++) {
		t[i] = (tick){ &rec, i };
		assert_int_equal(sp_loop_timer(f->loop, 20, log_tick, &t[i], NULL), SP_OK);
		if (i == 3) {
			t[8] = (tick){ &rec, 100 };
			assert_int_equal(sp_loop_timer(f->loop, 5, log_tick, &t[8], NULL),
			    SP_OK);
		}
	}
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(rec.n, 9);
	assert_int_equal(rec.order[0], 100);
	for (int i = 0; i < 8; i++)
		assert_int_equal(rec.order[i + 1], i);
}

static void
test_cancelled_timer_never_fires(void **state)
{
	fixture *f = *state;
	record rec = { .loop = f->loop, .stop_at = 2 };
	tick a = { &rec, 1 }, b = { &rec, 2 }, c = { &rec, 3 };
	sp_timer *tb;

	assert_int_equal(sp_loop_timer(f->loop, 5, log_tick, &a, NULL), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 10, log_tick, &b, &tb), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 20, log_tick, &c, NULL), SP_OK);
	sp_timer_cancel(tb);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.order[0], 1);
	assert_int_equal(rec.order[1], 3);
}

typedef struct canceller {
	record *rec;
	sp_timer *victim;
} canceller;

static void
cancel_other(void *arg)
{
	canceller *c = arg;
	tick me = { c->rec, 0 };

	sp_timer_cancel(c->victim);
	log_tick(&me);
}

static void
test_timer_cancelled_by_earlier_callback_in_same_pass(void **state)
{
	fixture *f = *state;
	record rec = { .loop = f->loop, .stop_at = 2 };
	tick victim = { &rec, 1 }, last = { &rec, 2 };
	canceller c = { &rec, NULL };

	/* Both are due in the same pass; the first cancels the second. */
	assert_int_equal(sp_loop_timer(f->loop, 5, cancel_other, &c, NULL), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 5, log_tick, &victim, &c.victim), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 15, log_tick, &last, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.order[0], 0);
	assert_int_equal(rec.order[1], 2);
}

typedef struct starve {
	sp_loop *loop;
	int wfd;
	unsigned rearms;
	unsigned rearms_at_read;
	bool read_called;
} starve;

/* Far more passes than a fair loop needs to see a readable pipe. */
#define STARVE_LIMIT 100000u

static void
rearm_forever(void *arg)
{
	starve *s = arg;

	s->rearms++;
	if (s->rearms == 3)
		assert_int_equal(write(s->wfd, "x", 1), 1);
	if (s->rearms >= STARVE_LIMIT) {
		sp_loop_stop(s->loop);
		return;
	}
	assert_int_equal(sp_loop_timer(s->loop, 0, rearm_forever, s, NULL), SP_OK);
}

static void
starve_on_read(void *arg, int fd, unsigned events)
{
	starve *s = arg;
	char c;

	assert_true(events & SP_IO_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	s->read_called = true;
	s->rearms_at_read = s->rearms;
	sp_loop_stop(s->loop);
}

static void
test_zero_delay_rearming_timer_does_not_starve_fd(void **state)
{
	fixture *f = *state;
	starve s = { f->loop, f->pipe[1], 0, 0, false };

	assert_int_equal(sp_loop_watch(f->loop, f->pipe[0], SP_IO_READ, starve_on_read,
	    &s, NULL), SP_OK);
	assert_int_equal(sp_loop_timer(f->loop, 0, rearm_forever, &s, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_true(s.read_called);
	/* The data was written by the third firing. A timer armed from its
	 * own callback waits for the next pass, so the watch runs in the pass
	 * right after the write, with at most one more firing in between. */
	assert_true(s.rearms_at_read >= 3);
	assert_true(s.rearms_at_read <= 4);
}

typedef struct io {
	sp_loop *loop;
	int fd;
	unsigned events;
	unsigned calls;
	char data[16];
} io;

static void
on_readable(void *arg, int fd, unsigned events)
{
	io *x = arg;
	ssize_t n;

	x->calls++;
	x->fd = fd;
	x->events = events;
	n = read(fd, x->data, sizeof(x->data) - 1);
	assert_true(n > 0);
	x->data[n] = '\0';
	sp_loop_stop(x->loop);
}

static void
test_pipe_watch_gets_read(void **state)
{
	fixture *f = *state;
	io x = { .loop = f->loop, .fd = -1 };

	assert_int_equal(sp_loop_watch(f->loop, f->pipe[0], SP_IO_READ, on_readable,
	    &x, NULL), SP_OK);
	assert_int_equal(write(f->pipe[1], "hello", 5), 5);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.fd, f->pipe[0]);
	assert_true(x.events & SP_IO_READ);
	assert_false(x.events & SP_IO_WRITE);
	assert_string_equal(x.data, "hello");
}

static void
on_writable(void *arg, int fd, unsigned events)
{
	io *x = arg;

	x->calls++;
	x->fd = fd;
	x->events = events;
	sp_loop_stop(x->loop);
}

static void
test_pipe_watch_gets_write(void **state)
{
	fixture *f = *state;
	io x = { .loop = f->loop, .fd = -1 };

	assert_int_equal(sp_loop_watch(f->loop, f->pipe[1], SP_IO_WRITE, on_writable,
	    &x, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.fd, f->pipe[1]);
	assert_true(x.events & SP_IO_WRITE);
	assert_false(x.events & SP_IO_READ);
}

static void
stop_loop(void *arg)
{
	sp_loop_stop(arg);
}

typedef struct self_cancel {
	sp_watch *w;
	unsigned calls;
} self_cancel;

static void
cancel_self(void *arg, int fd, unsigned events)
{
	self_cancel *c = arg;

	(void)fd;
	assert_true(events & SP_IO_READ);
	c->calls++;
	/* The data stays in the pipe: a live watch would fire again. */
	sp_watch_cancel(c->w);
}

static void
test_watch_cancel_from_own_callback(void **state)
{
	fixture *f = *state;
	self_cancel c = { NULL, 0 };

	assert_int_equal(sp_loop_watch(f->loop, f->pipe[0], SP_IO_READ, cancel_self,
	    &c, &c.w), SP_OK);
	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	assert_int_equal(sp_loop_timer(f->loop, 20, stop_loop, f->loop, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(c.calls, 1);
}

static void
test_watch_cancelled_before_run_never_fires(void **state)
{
	fixture *f = *state;
	self_cancel c = { NULL, 0 };

	assert_int_equal(sp_loop_watch(f->loop, f->pipe[0], SP_IO_READ, cancel_self,
	    &c, &c.w), SP_OK);
	sp_watch_cancel(c.w);
	sp_watch_cancel(NULL);
	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	assert_int_equal(sp_loop_timer(f->loop, 10, stop_loop, f->loop, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(c.calls, 0);
}

typedef struct cross {
	int fd[2];
	sp_watch *w[2];
	unsigned calls[2];
} cross;

static void
cancel_both_watches(void *arg, int fd, unsigned events)
{
	cross *c = arg;

	assert_true(events & SP_IO_READ);
	c->calls[fd == c->fd[0] ? 0 : 1]++;
	sp_watch_cancel(c->w[0]);
	sp_watch_cancel(c->w[1]);
}

static void
test_watch_cancelled_by_earlier_callback_in_same_pass(void **state)
{
	fixture *f = *state;
	cross c;
	int p2[2];

	/* Both pipes are readable in the same pass; whichever watch runs
	 * first cancels both, so the other must not run. */
	assert_int_equal(pipe(p2), 0);
	memset(&c, 0, sizeof(c));
	c.fd[0] = f->pipe[0];
	c.fd[1] = p2[0];
	assert_int_equal(sp_loop_watch(f->loop, c.fd[0], SP_IO_READ,
	    cancel_both_watches, &c, &c.w[0]), SP_OK);
	assert_int_equal(sp_loop_watch(f->loop, c.fd[1], SP_IO_READ,
	    cancel_both_watches, &c, &c.w[1]), SP_OK);
	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	assert_int_equal(write(p2[1], "y", 1), 1);
	assert_int_equal(sp_loop_timer(f->loop, 20, stop_loop, f->loop, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	close(p2[0]);
	close(p2[1]);
	assert_int_equal(c.calls[0] + c.calls[1], 1);
}

typedef struct counter {
	sp_loop *loop;
	unsigned calls;
} counter;

static void
count_and_stop(void *arg)
{
	counter *c = arg;

	c->calls++;
	sp_loop_stop(c->loop);
}

static void
test_stop_from_timer_returns_from_run(void **state)
{
	fixture *f = *state;
	counter c = { f->loop, 0 };

	assert_int_equal(sp_loop_timer(f->loop, 1, count_and_stop, &c, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(c.calls, 1);

	/* The loop can run again after a stop. */
	assert_int_equal(sp_loop_timer(f->loop, 1, count_and_stop, &c, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(c.calls, 2);
}

static void
test_stop_from_watch_returns_from_run(void **state)
{
	fixture *f = *state;
	io x = { .loop = f->loop, .fd = -1 };

	assert_int_equal(sp_loop_watch(f->loop, f->pipe[0], SP_IO_READ, on_readable,
	    &x, NULL), SP_OK);
	assert_int_equal(write(f->pipe[1], "a", 1), 1);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(x.calls, 1);
	/* Still registered: new data brings the loop back to the watch. */
	assert_int_equal(write(f->pipe[1], "b", 1), 1);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(x.calls, 2);
	assert_string_equal(x.data, "b");
}

typedef struct sig {
	sp_loop *loop;
	bool in_raise;
	bool raised;
	unsigned calls;
	int signo;
	bool during_raise;
} sig;

static void
raise_usr1(void *arg)
{
	sig *s = arg;

	s->in_raise = true;
	assert_int_equal(raise(SIGUSR1), 0);
	s->in_raise = false;
	s->raised = true;
}

static void
on_signal(void *arg, int signo)
{
	sig *s = arg;

	s->calls++;
	s->signo = signo;
	s->during_raise = s->in_raise;
	sp_loop_stop(s->loop);
}

static void
test_signal_delivered_in_loop_context(void **state)
{
	fixture *f = *state;
	sig s = { .loop = f->loop };
	sigset_t cur;

	assert_int_equal(sp_loop_signal(f->loop, SIGUSR1, on_signal, &s), SP_OK);
	/* Blocked, so that it can only arrive through the loop. */
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	assert_int_equal(sigismember(&cur, SIGUSR1), 1);
	assert_int_equal(sp_loop_timer(f->loop, 1, raise_usr1, &s, NULL), SP_OK);
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_true(s.raised);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.signo, SIGUSR1);
	assert_false(s.during_raise);

	/* Freeing the loop gives the signal back its normal delivery. */
	sp_loop_free(f->loop);
	assert_int_equal(sp_loop_new(&f->loop), SP_OK);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	assert_int_equal(sigismember(&cur, SIGUSR1), 0);
}

static void
test_free_with_pending_timers_and_watches(void **state)
{
	fixture *f = *state;
	counter c = { f->loop, 0 };

	/* Nothing runs, nothing leaks (checked under ASan). */
	assert_int_equal(sp_loop_timer(f->loop, 1000, count_and_stop, &c, NULL), SP_OK);
	assert_int_equal(sp_loop_watch(f->loop, f->pipe[0], SP_IO_READ, on_readable,
	    &c, NULL), SP_OK);
	sp_loop_free(f->loop);
	f->loop = NULL;
	sp_loop_free(NULL);
	assert_int_equal(c.calls, 0);
}

/* A hook that asks for more pollfds than the loop has room for: the loop
 * grows, polls them with its own, and dispatches with their revents; its
 * timeout wakes the loop when nothing else would. */
typedef struct hooked {
	sp_loop *loop;
	int fd;
	int prepares, dispatches, readable;
	int want;                     /* pollfds asked for */
} hooked;

static int
hook_prepare(void *arg, struct pollfd *fds, int max, int *timeout_ms)
{
	hooked *h = arg;

	h->prepares++;
	if (max < h->want)
		return h->want;
	for (int i = 0; i < h->want; i++) {
		fds[i].fd = i == h->want - 1 ? h->fd : -1;   /* poll ignores fd -1 */
		fds[i].events = POLLIN;
		fds[i].revents = 0;
	}
	*timeout_ms = 10;
	return h->want;
}

static void
hook_dispatch(void *arg, struct pollfd *fds, int n)
{
	hooked *h = arg;

	assert_int_equal(n, h->want);
	h->dispatches++;
	if (fds[n - 1].revents & POLLIN) {
		char c;
		h->readable++;
		assert_int_equal(read(h->fd, &c, 1), 1);
	}
	if (h->dispatches == 3)
		sp_loop_stop(h->loop);
}

static void
test_hook_polled_with_the_loop(void **state)
{
	fixture *f = *state;
	hooked h = { .loop = f->loop, .fd = f->pipe[0], .want = 40 };
	sp_loop_hook hk = { hook_prepare, hook_dispatch, &h };

	sp_loop_set_hook(f->loop, &hk);
	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	/* No watch, no timer: only the hook's 10 ms timeout ends each poll. */
	assert_int_equal(sp_loop_run(f->loop), SP_OK);
	assert_int_equal(h.dispatches, 3);
	assert_int_equal(h.readable, 1);
	assert_true(h.prepares > h.dispatches);   /* asked again after growing */
	sp_loop_set_hook(f->loop, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_timers_fire_in_deadline_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equal_deadlines_fire_in_arming_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_timer_never_fires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_cancelled_by_earlier_callback_in_same_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_delay_rearming_timer_does_not_starve_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_watch_gets_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_watch_gets_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_cancel_from_own_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_cancelled_before_run_never_fires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_cancelled_by_earlier_callback_in_same_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_from_timer_returns_from_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_from_watch_returns_from_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_delivered_in_loop_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_pending_timers_and_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_polled_with_the_loop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
