/*-------------------------------------------------------------------------
 * executor.c
 *	  Executor threads: take claimed jobs from the ring (FIFO) and run
 *	  their handlers. They never touch the database: outcomes go back to
 *	  the dispatcher through the slot state and a byte on its wake pipe.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs jobs until the worker tells its executors to exit. */
static void *
executor_main(void *arg)
{
	gj_worker  *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;)
	{
		gj_slot    *s;
		gj_outcome	outcome;
		double		finished;

		while (w->ring_count == 0 && !w->exiting)
			pthread_cond_wait(&w->work_cv, &w->mu);
		if (w->exiting)
			break;
		s = &w->slots[w->ring[w->ring_head]];
		w->ring_head = (w->ring_head + 1) % w->nslots;
		w->ring_count--;
		s->state = SLOT_RUNNING;
		s->started_at = gj_now();
		pthread_mutex_unlock(&w->mu);

		outcome = s->handler->fn(&s->job, s->handler->arg);
		finished = gj_now();

		pthread_mutex_lock(&w->mu);
		/* a moving average over about the last 20 jobs; never 0 */
		w->run_avg = w->run_avg == 0 ? GJ_MAX(finished - s->started_at, 1e-7) :
			0.95 * w->run_avg + 0.05 * GJ_MAX(finished - s->started_at, 1e-7);
		s->outcome = outcome;
		s->finished_at = finished;
		s->state = SLOT_DONE;
		pthread_mutex_unlock(&w->mu);
		gj_wake(w);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Starts cfg.concurrency executor threads. */
bool
gj_executors_start(gj_worker *w, char *msg, size_t msglen)
{
	int			i;
	int			rc = 0;

	w->exiting = false;
	w->executors = gj_malloc(sizeof(pthread_t) * (size_t) w->cfg.concurrency);
	w->nexecutors = 0;
	for (i = 0; i < w->cfg.concurrency; i++)
	{
		rc = gj_thread_create(&w->executors[i], executor_main, w);
		if (rc != 0)
			break;
		w->nexecutors++;
	}
	if (rc != 0)
	{
		snprintf(msg, msglen, "could not start executor thread %d: %s", i + 1, strerror(rc));
		gj_executors_stop(w);
		return false;
	}
	return true;
}

/* Tells the executors to exit once their current job is done; joins them. */
void
gj_executors_stop(gj_worker *w)
{
	int			i;

	pthread_mutex_lock(&w->mu);
	w->exiting = true;
	pthread_cond_broadcast(&w->work_cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->nexecutors; i++)
		pthread_join(w->executors[i], NULL);
	free(w->executors);
	w->executors = NULL;
	w->nexecutors = 0;
}

/* Queues slot for an executor. Caller holds w->mu. */
void
gj_ring_push(gj_worker *w, int slot)
{
	w->ring[(w->ring_head + w->ring_count) % w->nslots] = slot;
	w->ring_count++;
	w->slots[slot].state = SLOT_WAITING;
	pthread_cond_signal(&w->work_cv);
}

/*
 * Takes every slot that no executor has started yet off the ring, into
 * out; returns how many. Caller holds w->mu.
 */
int
gj_ring_take_all(gj_worker *w, int *out)
{
	int			n = 0;

	while (w->ring_count > 0)
	{
		out[n++] = w->ring[w->ring_head];
		w->ring_head = (w->ring_head + 1) % w->nslots;
		w->ring_count--;
	}
	return n;
}
