/*-------------------------------------------------------------------------
 * executor.c
 *	  Executor threads: each lane's take the lane's claimed jobs from its
 *	  ring (FIFO) and run their handlers. They never touch the database:
 *	  outcomes go back to the lane's dispatcher through the slot state and a
 *	  byte on its wake pipe.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs lane l's jobs until the worker tells its executors to exit. */
static void *
executor_main(void *arg)
{
	gj_lane    *l = arg;
	gj_worker  *w = l->w;

	pthread_mutex_lock(&l->mu);
	for (;;)
	{
		gj_slot    *s;
		gj_outcome	outcome;
		double		finished;
		double		ran;

		while (l->ring_count == 0 && !l->exiting)
			pthread_cond_wait(&l->work_cv, &l->mu);
		if (l->exiting)
			break;
		s = &w->slots[l->ring[l->ring_head]];
		l->ring_head = (l->ring_head + 1) % l->nslots;
		l->ring_count--;
		s->state = SLOT_RUNNING;
		s->started_at = gj_now();
		pthread_mutex_unlock(&l->mu);

		outcome = s->handler->fn(&s->job, s->handler->arg);
		finished = gj_now();

		pthread_mutex_lock(&l->mu);
		/* a moving average over about the last 20 jobs; never 0 */
		ran = GJ_MAX(finished - s->started_at, 1e-7);
		l->run_avg = l->run_avg == 0 ? ran : 0.95 * l->run_avg + 0.05 * ran;
		s->outcome = outcome;
		s->finished_at = finished;
		s->state = SLOT_DONE;
		pthread_mutex_unlock(&l->mu);
		gj_wake(l);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Starts each lane's share of the cfg.concurrency executor threads. */
bool
gj_executors_start(gj_worker *w, char *msg, size_t msglen)
{
	int			i;
	int			k;
	int			rc = 0;

	for (k = 0; k < w->nlanes && rc == 0; k++)
	{
		gj_lane    *l = &w->lanes[k];

		l->exiting = false;
		l->executors = gj_malloc(sizeof(pthread_t) * (size_t) l->concurrency);
		l->nexecutors = 0;
		for (i = 0; i < l->concurrency; i++)
		{
			rc = gj_thread_create(&l->executors[i], executor_main, l);
			if (rc != 0)
				break;
			l->nexecutors++;
		}
	}
	if (rc != 0)
	{
		snprintf(msg, msglen, "could not start an executor thread: %s", strerror(rc));
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
	int			k;

	for (k = 0; k < w->nlanes; k++)
	{
		gj_lane    *l = &w->lanes[k];

		pthread_mutex_lock(&l->mu);
		l->exiting = true;
		pthread_cond_broadcast(&l->work_cv);
		pthread_mutex_unlock(&l->mu);
		for (i = 0; i < l->nexecutors; i++)
			pthread_join(l->executors[i], NULL);
		free(l->executors);
		l->executors = NULL;
		l->nexecutors = 0;
	}
}

/* Queues slot (of lane l) for an executor. Caller holds l->mu. */
void
gj_ring_push(gj_lane *l, int slot)
{
	l->ring[(l->ring_head + l->ring_count) % l->nslots] = slot;
	l->ring_count++;
	l->w->slots[slot].state = SLOT_WAITING;
	pthread_cond_signal(&l->work_cv);
}

/*
 * Takes every slot of lane l that no executor has started yet off its
 * ring, into out; returns how many. Caller holds l->mu.
 */
int
gj_ring_take_lane(gj_lane *l, int *out)
{
	int			n = 0;

	while (l->ring_count > 0)
	{
		out[n++] = l->ring[l->ring_head];
		l->ring_head = (l->ring_head + 1) % l->nslots;
		l->ring_count--;
	}
	return n;
}
