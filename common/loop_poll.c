/*
 * The event loop on poll(2) and signalfd(2).
 *
 * This is the loop of the daemon and of the unikernel. libnice's GLib
 * context joins it through a hook (sp_loop_set_hook), the documented way:
 * g_main_context_prepare and _query before our poll, _check and _dispatch
 * after it, instead of the other way round, so protocol code and the
 * unikernel never need GLib.
 *
 * The daemon watches a handful of descriptors, so a linear scan is the
 * simplest correct structure; the data plane uses its own threads.
 */
#define _GNU_SOURCE
#include "sp_platform.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct sp_watch {
	sp_loop *loop;
	int fd;
	unsigned events;
	sp_io_cb cb;
	void *arg;
	bool dead;
	sp_watch *next;
};

struct sp_timer {
	sp_loop *loop;
	uint64_t due;
	uint64_t seq;   /* keeps equal deadlines in arming order */
	sp_timer_cb cb;
	void *arg;
	bool armed;     /* in the loop's list */
	bool oneshot;   /* sp_loop_timer's: freed once fired or cancelled */
	sp_timer *next;
};

struct signal_handler {
	int signo;
	sp_signal_cb cb;
	void *arg;
};

struct sp_loop {
	sp_watch *watches;
	sp_timer *timers;          /* the armed ones, sorted by (due, seq) */
	uint64_t seq;
	bool stop;
	int sigfd;
	sigset_t sigmask;
	struct signal_handler sig[8];
	size_t nsig;
	sp_watch *sigwatch;
	sp_loop_hook hook;         /* .prepare NULL: none */
};

int
sp_loop_new(sp_loop **out)
{
	sp_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return SP_ENOMEM;
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	*out = l;
	return SP_OK;
}

static void
reap(sp_loop *l)
{
	sp_watch **wp = &l->watches;

	while (*wp != NULL) {
		sp_watch *w = *wp;
		if (w->dead) {
			*wp = w->next;
			free(w);
		} else {
			wp = &w->next;
		}
	}
}

/* Armed timers are in the loop's list; an owner's timer that is not armed
 * is in no list and is the owner's to free. */
void
sp_loop_free(sp_loop *l)
{
	if (l == NULL)
		return;
	for (sp_watch *w = l->watches; w != NULL; w = w->next)
		w->dead = true;
	reap(l);
	while (l->timers != NULL) {
		sp_timer *t = l->timers;
		l->timers = t->next;
		t->armed = false;
		t->next = NULL;
		/* An owner's timer outlives the loop only until its owner frees
		 * it; it must not point at a loop that is gone. */
		t->loop = NULL;
		if (t->oneshot)
			free(t);
	}
	if (l->sigfd >= 0) {
		close(l->sigfd);
		sigprocmask(SIG_UNBLOCK, &l->sigmask, NULL);
	}
	free(l);
}

int
sp_loop_watch(sp_loop *l, int fd, unsigned events, sp_io_cb cb, void *arg,
    sp_watch **out)
{
	sp_watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return SP_ENOMEM;
	w->loop = l;
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	w->next = l->watches;
	l->watches = w;
	if (out != NULL)
		*out = w;
	return SP_OK;
}

void
sp_watch_set_events(sp_watch *w, unsigned events)
{
	w->events = events;
}

void
sp_watch_cancel(sp_watch *w)
{
	if (w != NULL)
		w->dead = true;
}

int
sp_timer_new(sp_loop *l, sp_timer_cb cb, void *arg, sp_timer **out)
{
	sp_timer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return SP_ENOMEM;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	*out = t;
	return SP_OK;
}

void
sp_timer_disarm(sp_timer *t)
{
	sp_timer **p;

	if (t == NULL || !t->armed)
		return;
	for (p = &t->loop->timers; *p != NULL && *p != t; p = &(*p)->next)
		;
	if (*p == t)
		*p = t->next;
	t->next = NULL;
	t->armed = false;
}

void
sp_timer_arm(sp_timer *t, uint64_t delay_ms)
{
	sp_loop *l = t->loop;
	sp_timer **p;

	if (l == NULL)
		return;
	sp_timer_disarm(t);
	t->due = sp_clock_mono_ms() + delay_ms;
	t->seq = l->seq++;
	for (p = &l->timers; *p != NULL && (*p)->due <= t->due; p = &(*p)->next)
		;
	t->next = *p;
	*p = t;
	t->armed = true;
}

int
sp_timer_armed(const sp_timer *t)
{
	return t != NULL && t->armed;
}

void
sp_timer_free(sp_timer *t)
{
	if (t == NULL)
		return;
	sp_timer_disarm(t);
	free(t);
}

int
sp_loop_timer(sp_loop *l, uint64_t delay_ms, sp_timer_cb cb, void *arg,
    sp_timer **out)
{
	sp_timer *t;
	int rc;

	if ((rc = sp_timer_new(l, cb, arg, &t)) != SP_OK)
		return rc;
	t->oneshot = true;
	sp_timer_arm(t, delay_ms);
	if (out != NULL)
		*out = t;
	return SP_OK;
}

void
sp_timer_cancel(sp_timer *t)
{
	sp_timer_free(t);
}

static void
on_signalfd(void *arg, int fd, unsigned events)
{
	sp_loop *l = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		for (size_t i = 0; i < l->nsig; i++)
			if (l->sig[i].signo == (int)si.ssi_signo)
				l->sig[i].cb(l->sig[i].arg, (int)si.ssi_signo);
}

int
sp_loop_signal(sp_loop *l, int signo, sp_signal_cb cb, void *arg)
{
	int fd, rc;

	if (l->nsig == sizeof(l->sig) / sizeof(l->sig[0]))
		return SP_ENOMEM;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) != 0)
		return SP_EIO;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return SP_EIO;
	if (l->sigfd < 0) {
		l->sigfd = fd;
		rc = sp_loop_watch(l, fd, SP_IO_READ, on_signalfd, l, &l->sigwatch);
		if (rc != SP_OK)
			return rc;
	}
	l->sig[l->nsig].signo = signo;
	l->sig[l->nsig].cb = cb;
	l->sig[l->nsig].arg = arg;
	l->nsig++;
	return SP_OK;
}

/*
 * Fire what is due. The list is sorted by (due, seq), and the head is taken
 * off before its callback runs, so callbacks may arm, disarm or free any
 * timer. A timer armed by a callback waits for the next pass, even with a
 * zero delay (its seq is new, and everything due before it sorts ahead of
 * it), so a callback that re-arms itself cannot starve I/O.
 */
static void
run_timers(sp_loop *l)
{
	uint64_t now = sp_clock_mono_ms(), armed_before = l->seq;

	while (!l->stop && l->timers != NULL && l->timers->due <= now &&
	    l->timers->seq < armed_before) {
		sp_timer *t = l->timers;
		sp_timer_cb cb = t->cb;
		void *arg = t->arg;

		l->timers = t->next;
		t->next = NULL;
		t->armed = false;
		if (t->oneshot)
			free(t);
		cb(arg);
	}
}

/* Make room for n pollfds and their watches. */
static int
grow(struct pollfd **pfd, sp_watch ***who, size_t *cap, size_t n)
{
	struct pollfd *np;
	sp_watch **nw;

	if (n <= *cap)
		return SP_OK;
	if ((np = realloc(*pfd, n * sizeof(**pfd))) == NULL)
		return SP_ENOMEM;
	*pfd = np;
	if ((nw = realloc(*who, n * sizeof(**who))) == NULL)
		return SP_ENOMEM;
	*who = nw;
	*cap = n;
	return SP_OK;
}

int
sp_loop_run(sp_loop *l)
{
	struct pollfd *pfd = NULL;
	sp_watch **who = NULL;
	size_t cap = 0;
	int rc = SP_OK;

	l->stop = false;
	while (!l->stop) {
		size_t n = 0, nh = 0;
		int timeout = -1, prc;
		bool hooked = l->hook.prepare != NULL;
		sp_loop_hook hook = l->hook;

		reap(l);
		for (sp_watch *w = l->watches; w != NULL; w = w->next)
			n++;
		if ((rc = grow(&pfd, &who, &cap, n + 8)) != SP_OK)
			break;
		n = 0;
		for (sp_watch *w = l->watches; w != NULL; w = w->next) {
			pfd[n].fd = w->fd;
			pfd[n].events = (short)((w->events & SP_IO_READ ? POLLIN : 0) |
			    (w->events & SP_IO_WRITE ? POLLOUT : 0));
			pfd[n].revents = 0;
			who[n++] = w;
		}
		if (l->timers != NULL) {
			uint64_t now = sp_clock_mono_ms();
			uint64_t due = l->timers->due;
			timeout = due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
		}
		if (hooked) {
			int want, ht = -1;
			while ((want = hook.prepare(hook.arg, pfd + n, (int)(cap - n), &ht)) >
			    (int)(cap - n))
				if ((rc = grow(&pfd, &who, &cap, n + (size_t)want)) != SP_OK)
					goto out;
			nh = want < 0 ? 0 : (size_t)want;
			if (ht >= 0 && (timeout < 0 || ht < timeout))
				timeout = ht;
		}
		prc = poll(pfd, n + nh, timeout);
		if (prc < 0 && errno != EINTR) {
			rc = SP_EIO;
			break;
		}
		if (prc < 0)
			for (size_t i = 0; i < n + nh; i++)
				pfd[i].revents = 0;
		for (size_t i = 0; prc > 0 && i < n && !l->stop; i++) {
			unsigned ev = 0;
			if (pfd[i].revents == 0 || who[i]->dead)
				continue;
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				ev |= SP_IO_READ;
			if (pfd[i].revents & (POLLOUT | POLLERR))
				ev |= SP_IO_WRITE;
			who[i]->cb(who[i]->arg, who[i]->fd, ev);
		}
		/* The source's own check and dispatch follow every prepare, so
		 * its context is never left half way through a turn. */
		if (hooked && l->hook.dispatch == hook.dispatch && l->hook.arg == hook.arg)
			hook.dispatch(hook.arg, pfd + n, (int)nh);
		run_timers(l);
	}
out:
	reap(l);
	free(pfd);
	free(who);
	return rc;
}

void
sp_loop_set_hook(sp_loop *l, const sp_loop_hook *h)
{
	if (h == NULL)
		memset(&l->hook, 0, sizeof(l->hook));
	else
		l->hook = *h;
}

void
sp_loop_stop(sp_loop *l)
{
	l->stop = true;
}
