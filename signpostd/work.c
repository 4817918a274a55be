/* One worker thread and a bounded queue (see work.h). Completion reaches
 * the loop through an eventfd the loop watches. */
#define _GNU_SOURCE
#include "work.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sp_log.h"

struct job {
	sp_work_run run;
	sp_work_done done;
	void *arg;
};

struct sp_work {
	sp_loop *loop;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	/* Waiting jobs, and finished ones the loop has not collected. */
	struct job todo[SP_WORK_QUEUE], done[SP_WORK_QUEUE + 1];
	size_t ntodo, ndone;
	int busy;                 /* the thread holds a job */
	int efd;
	sp_watch *watch;
};

static void *
worker(void *arg)
{
	sp_work *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct job j;

		while (w->ntodo == 0 && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping)
			break;
		j = w->todo[0];
		memmove(w->todo, w->todo + 1, --w->ntodo * sizeof(w->todo[0]));
		w->busy = 1;
		pthread_mutex_unlock(&w->mu);
		j.run(j.arg);
		pthread_mutex_lock(&w->mu);
		w->busy = 0;
		w->done[w->ndone++] = j;
		/* A full eventfd counter is impossible at these counts; a
		 * failed write would only delay collection to the next one. */
		if (write(w->efd, &one, sizeof(one)) != sizeof(one))
			sp_debug("work: eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Collect finished jobs and call their done functions, on the loop. */
static void
collect(sp_work *w)
{
	struct job done[SP_WORK_QUEUE + 1];
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->ndone;
	memcpy(done, w->done, n * sizeof(done[0]));
	w->ndone = 0;
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < n; i++)
		done[i].done(done[i].arg, 1);
}

static void
on_event(void *arg, int fd, unsigned events)
{
	uint64_t count;

	(void)events;
	/* Non-blocking: EAGAIN means another wake-up collected already. */
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		sp_debug("work: eventfd read: %s", strerror(errno));
	collect(arg);
}

int
sp_work_start(sp_loop *loop, sp_work **out, sp_errmsg *e)
{
	sp_work *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL)
		return sp_errf(e, SP_ENOMEM, "out of memory");
	w->loop = loop;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		free(w);
		return sp_errf(e, SP_EIO, "eventfd: %s", strerror(errno));
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((rc = sp_loop_watch(loop, w->efd, SP_IO_READ, on_event, w, &w->watch)) != SP_OK ||
	    (rc = pthread_create(&w->thread, NULL, worker, w)) != 0) {
		sp_watch_cancel(w->watch);
		close(w->efd);
		free(w);
		return sp_errf(e, rc == SP_ENOMEM ? SP_ENOMEM : SP_EIO,
		    "cannot start the worker thread");
	}
	w->started = 1;
	*out = w;
	return SP_OK;
}

int
sp_work_submit(sp_work *w, sp_work_run run, sp_work_done done, void *arg)
{
	int rc = SP_OK;

	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->ntodo == SP_WORK_QUEUE) {
		rc = SP_ESPACE;
	} else {
		w->todo[w->ntodo].run = run;
		w->todo[w->ntodo].done = done;
		w->todo[w->ntodo].arg = arg;
		w->ntodo++;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void
sp_work_stop(sp_work *w)
{
	struct job dropped[SP_WORK_QUEUE];
	size_t n;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	n = w->ntodo;
	memcpy(dropped, w->todo, n * sizeof(dropped[0]));
	w->ntodo = 0;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->thread, NULL);
	collect(w);
	for (size_t i = 0; i < n; i++)
		dropped[i].done(dropped[i].arg, 0);
	sp_watch_cancel(w->watch);
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
