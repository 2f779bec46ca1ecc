/*-------------------------------------------------------------------------
 * dispatch.c
 *	  gj_worker_run(): the dispatchers, one per lane. On its connection a
 *	  lane's dispatcher reports the outcomes of its slots, renews their
 *	  leases and claims as many jobs as it has room for (its share of the
 *	  executors plus the jobs claimed ahead), then sleeps on its wake pipe
 *	  until an executor finishes one of its jobs, the listener hears of a
 *	  new one, a timer is due, or a stop is asked for.
 *
 * Claim timing: at once after a claim that filled all the room (there
 * is probably more), when a NOTIFY for one of our queues arrives, and every
 * poll_interval otherwise (scheduled jobs and retries send no NOTIFY).
 *
 * Stopping: the first stop request stops claiming and hands back jobs not
 * started yet; running jobs get cfg.grace seconds. Then (or at a second
 * request) they are cancelled and handed back at once, without waiting for
 * their handlers to return.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Dispatcher state of one gj_worker_run() call. */
typedef struct run_state
{
	bool		stopping;
	bool		hard_stop;
	bool		last_full;		/* the last claim filled every free slot */
	double		grace_end;
	double		give_up_at;
	double		next_claim;
} run_state;

/* Counts lane l's slots in the given state (caller holds l->mu). */
static int
count_slots(gj_lane *l, gj_slot_state state)
{
	int			n = 0;
	int			i;

	for (i = l->first; i < l->first + l->nslots; i++)
		n += l->w->slots[i].state == state;
	return n;
}

/*
 * Counts the slots still holding a job, releasing those that finished
 * after being handed back; *unsettled counts those the server has not
 * heard the end of (neither reported nor handed back).
 */
static int
count_busy(gj_lane *l, int *unsettled)
{
	gj_worker  *w = l->w;
	int			n = 0;
	int			i;

	*unsettled = 0;
	pthread_mutex_lock(&l->mu);
	for (i = l->first; i < l->first + l->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state == SLOT_DONE && s->handback == HANDBACK_SENT)
			gj_slot_release(s);
		n += s->state != SLOT_FREE;
		*unsettled += s->state != SLOT_FREE && s->handback != HANDBACK_SENT;
	}
	pthread_mutex_unlock(&l->mu);
	return n;
}

/* Stops claiming; lane l's jobs not started yet are to be handed back. */
static void
begin_stop(gj_lane *l, run_state *rs, double now)
{
	gj_worker  *w = l->w;
	int		   *idx = gj_malloc(sizeof(int) * (size_t) l->nslots);
	int			n;
	int			i;
	int			running;

	rs->stopping = true;
	rs->grace_end = now + w->cfg.grace;
	pthread_mutex_lock(&l->mu);
	n = gj_ring_take_lane(l, idx);
	for (i = 0; i < n; i++)
	{
		w->slots[idx[i]].state = SLOT_DONE;
		w->slots[idx[i]].handback = HANDBACK_WANTED;
	}
	pthread_mutex_unlock(&l->mu);
	free(idx);
	if (l->index != 0)
		return;					/* one message, from the first lane */
	running = 0;
	for (i = 0; i < w->nlanes; i++)
	{
		pthread_mutex_lock(&w->lanes[i].mu);
		running += count_slots(&w->lanes[i], SLOT_RUNNING);
		pthread_mutex_unlock(&w->lanes[i].mu);
	}
	gj_log(&w->log, GJ_INFO,
		   "stopping: no new jobs; waiting up to %g s for %d running job%s (signal again to hand them back now)",
		   w->cfg.grace, running, running == 1 ? "" : "s");
}

/* Cancels the running jobs and marks them to be handed back. */
static void
hard_stop(gj_lane *l, run_state *rs, double now)
{
	gj_worker  *w = l->w;
	int			n = 0;
	int			i;

	rs->hard_stop = true;
	rs->give_up_at = now + GJ_HANDBACK_TIMEOUT;
	pthread_mutex_lock(&l->mu);
	for (i = l->first; i < l->first + l->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state == SLOT_RUNNING && s->handback == HANDBACK_NONE)
		{
			atomic_store(&s->cancelled, 1);
			s->handback = HANDBACK_WANTED;
			n++;
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (n > 0)
		gj_log(&w->log, GJ_INFO, "cancelling and handing back %d running job%s",
			   n, n == 1 ? "" : "s");
}

/* Logs the jobs that could not be handed back or reported. */
static void
give_up(gj_lane *l)
{
	gj_worker  *w = l->w;
	int			i;

	pthread_mutex_lock(&l->mu);
	for (i = l->first; i < l->first + l->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state != SLOT_FREE && s->handback != HANDBACK_SENT)
			gj_log(&w->log, GJ_ERROR,
				   "could not reach the database to report or hand back job %lld %s (attempt %d); it will run again once its lease expires",
				   (long long) s->job.id, s->job.job_class, s->job.attempt);
	}
	pthread_mutex_unlock(&l->mu);
}

/*
 * Returns how many more jobs the worker should hold: one per executor plus
 * the jobs claimed ahead (see GJ_PREFETCH_HORIZON), less those it holds,
 * not counting the ndone slots about to be completed.
 */
static int
claim_room(gj_lane *l, int ndone)
{
	int			ahead = 0;
	int			held;

	pthread_mutex_lock(&l->mu);
	held = l->nslots - count_slots(l, SLOT_FREE) - ndone;
	/* none before the first job has run: its run time is not known yet */
	if (l->run_avg > 0)
		ahead = (int) GJ_MIN((double) l->prefetch,
							 l->concurrency * GJ_PREFETCH_HORIZON / l->run_avg);
	pthread_mutex_unlock(&l->mu);
	return GJ_MAX(0, l->concurrency + ahead - held);
}

/*
 * Claims if it is time to and there is room; the successes of slots
 * done[0..ndone) are completed with the claim, or on their own when no
 * claim is due.
 */
static void
maybe_claim(gj_lane *l, run_state *rs, double now, const int *done, int ndone)
{
	int			room = claim_room(l, ndone);
	int			n;

	if (room == 0 ||
		(!atomic_exchange(&l->claim_wanted, 0) && !rs->last_full && now < rs->next_claim))
	{
		if (ndone > 0)
			gj_complete(l, done, ndone, now);
		return;
	}

	n = gj_claim(l, room, now, done, ndone);
	if (n < 0)
	{
		rs->last_full = false;
		if (l->work.pg != NULL)
			rs->next_claim = now + gj_backoff_next(&l->claim_backoff);
		return;
	}
	l->claim_backoff = GJ_BACKOFF_MIN;
	rs->last_full = (n == room);
	rs->next_claim = now + l->w->cfg.poll_interval;
}

/* Returns how long lane l's dispatcher may sleep, in seconds. */
static double
sleep_time(gj_lane *l, run_state *rs, double now)
{
	double		t = l->w->cfg.poll_interval;
	double		beat;

	if (l->work.pg == NULL)
		t = GJ_MIN(t, l->work.next_attempt - now);
	else if (!rs->stopping && claim_room(l, 0) > 0)
	{
		if (rs->last_full || atomic_load(&l->claim_wanted))
			return 0;
		t = GJ_MIN(t, rs->next_claim - now);
	}
	if (l->work.pg != NULL)
	{
		beat = gj_heartbeat_due(l);
		t = GJ_MIN(t, beat - now);
	}
	if (l->report_retry_at > now)
		t = GJ_MIN(t, l->report_retry_at - now);
	if (rs->stopping && !rs->hard_stop)
		t = GJ_MIN(t, rs->grace_end - now);
	if (rs->hard_stop)
		t = GJ_MIN(t, rs->give_up_at - now);
	return t > 0 ? t : 0;
}

/* Sleeps until woken or timeout seconds passed; drains the wake pipe. */
static void
sleep_until_woken(gj_lane *l, double timeout)
{
	struct pollfd pfd;
	char		drain[256];

	pfd.fd = l->wake_pipe[0];
	pfd.events = POLLIN;
	if (timeout > 0)
		poll(&pfd, 1, gj_poll_ms(timeout));
	while (read(l->wake_pipe[0], drain, sizeof(drain)) > 0)
		;
}

/* Logs what the worker is about to do. */
static void
log_start(gj_worker *w)
{
	gj_buf		classes;
	int			i;

	gj_buf_init(&classes);
	gj_buf_puts(&classes, "");
	for (i = 0; i < w->nhandlers; i++)
		gj_buf_printf(&classes, "%s%s", i ? ", " : "", w->handlers[i].job_class);
	gj_log(&w->log, GJ_INFO,
		   "worker %s started: queues \"%s\", concurrency %d, %d lane%s, lease %g s, poll interval %g s, %s, handlers: %s",
		   w->name, w->queue_spec, w->cfg.concurrency, w->nlanes, w->nlanes == 1 ? "" : "s",
		   w->cfg.lease, w->cfg.poll_interval,
		   w->cfg.listen ? "listening for NOTIFY" : "not listening",
		   w->nhandlers ? classes.data : "(none)");
	gj_buf_free(&classes);
}

/*
 * Runs lane l's dispatcher until the worker has stopped and the lane's jobs
 * are reported or handed back; returns 0, or 1 when some could not be.
 */
static int
run_lane(gj_lane *l)
{
	gj_worker  *w = l->w;
	run_state	rs;
	int			result = 0;
	int		   *carry;			/* successes to complete with the claim */
	int			ncarry = 0;

	memset(&rs, 0, sizeof(rs));
	carry = gj_malloc(sizeof(int) * (size_t) l->nslots);
	for (;;)
	{
		double		now = gj_now();
		int			stops = atomic_load(&w->stop_requests);

		if (stops > 0 && !rs.stopping)
			begin_stop(l, &rs, now);
		if (rs.stopping && !rs.hard_stop && (stops > 1 || now >= rs.grace_end))
			hard_stop(l, &rs, now);

		/* the listener got through: the server is back, do not wait */
		if (atomic_exchange(&l->server_seen, 0) && l->work.pg == NULL)
			l->work.next_attempt = now;
		if (gj_conn_ensure(&l->work, now) &&
			gj_report(l, now, rs.stopping ? NULL : carry, &ncarry))
		{
			if (gj_heartbeat_due(l) <= now)
				gj_heartbeat(l, now);
			if (l->work.pg != NULL && !rs.stopping)
				maybe_claim(l, &rs, now, carry, ncarry);
		}

		if (rs.stopping)
		{
			int			unsettled;

			/* after a hard stop, handed-back jobs need not be waited for */
			if (count_busy(l, &unsettled) == 0 || (rs.hard_stop && unsettled == 0))
				break;
			if (rs.hard_stop && gj_now() >= rs.give_up_at)
			{
				give_up(l);
				result = 1;
				break;
			}
		}
		sleep_until_woken(l, sleep_time(l, &rs, gj_now()));
	}
	free(carry);
	gj_conn_close(&l->work);
	return result;
}

static void *
lane_main(void *arg)
{
	gj_lane    *l = arg;

	l->result = run_lane(l);
	return NULL;
}

/* See goodjob_client.h. */
int
gj_worker_run(gj_worker *w)
{
	char		msg[256];
	int			result;
	int			i;
	int			rc;

	if (w->running)
		return 1;
	w->running = true;
	for (i = 0; i < w->nlanes; i++)
		gj_conn_init(&w->lanes[i].work, w->dsn, "work", &w->log);
	if (!gj_executors_start(w, msg, sizeof(msg)) ||
		(w->cfg.listen && !gj_listener_start(w, msg, sizeof(msg))))
	{
		gj_log(&w->log, GJ_ERROR, "%s", msg);
		gj_executors_stop(w);
		w->running = false;
		return 1;
	}
	log_start(w);

	/* the first lane runs here, the others in threads of their own */
	for (i = 1; i < w->nlanes; i++)
	{
		rc = gj_thread_create(&w->lanes[i].thread, lane_main, &w->lanes[i]);
		w->lanes[i].thread_started = rc == 0;
		if (rc != 0)
		{
			gj_log(&w->log, GJ_ERROR, "could not start lane %d: %s; stopping", i + 1,
				   strerror(rc));
			atomic_fetch_add(&w->stop_requests, 1);
		}
	}
	result = run_lane(&w->lanes[0]);
	for (i = 1; i < w->nlanes; i++)
	{
		if (!w->lanes[i].thread_started)
			continue;
		pthread_join(w->lanes[i].thread, NULL);
		w->lanes[i].thread_started = false;
		result = GJ_MAX(result, w->lanes[i].result);
	}

	gj_listener_stop(w);
	gj_executors_stop(w);
	for (i = 0; i < w->nslots; i++)
		gj_slot_release(&w->slots[i]);
	atomic_store(&w->stop_requests, 0);
	for (i = 0; i < w->nlanes; i++)
	{
		w->lanes[i].ring_head = w->lanes[i].ring_count = 0;
		atomic_store(&w->lanes[i].claim_wanted, 1);
	}
	w->running = false;
	gj_log(&w->log, GJ_INFO, "worker %s stopped", w->name);
	return result;
}
