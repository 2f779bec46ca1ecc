/*-------------------------------------------------------------------------
 * dispatch.c
 *	  gj_worker_run(): the dispatcher loop. On its one connection it
 *	  reports outcomes, renews leases and claims as many jobs as there is
 *	  room for (free executors plus the jobs claimed ahead), then sleeps on its wake pipe until an executor finishes a
 *	  job, the listener hears of a new one, a timer is due, or a stop is
 *	  asked for.
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

/* Counts the slots in the given state (caller holds w->mu). */
static int
count_slots(gj_worker *w, gj_slot_state state)
{
	int			n = 0;
	int			i;

	for (i = 0; i < w->nslots; i++)
		n += w->slots[i].state == state;
	return n;
}

/*
 * Counts the slots still holding a job, releasing those that finished
 * after being handed back; *unsettled counts those the server has not
 * heard the end of (neither reported nor handed back).
 */
static int
count_busy(gj_worker *w, int *unsettled)
{
	int			n = 0;
	int			i;

	*unsettled = 0;
	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state == SLOT_DONE && s->handback == HANDBACK_SENT)
			gj_slot_release(s);
		n += s->state != SLOT_FREE;
		*unsettled += s->state != SLOT_FREE && s->handback != HANDBACK_SENT;
	}
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* Stops claiming; jobs not started yet are to be handed back. */
static void
begin_stop(gj_worker *w, run_state *rs, double now)
{
	int		   *idx = gj_malloc(sizeof(int) * (size_t) w->nslots);
	int			n;
	int			i;
	int			running;

	rs->stopping = true;
	rs->grace_end = now + w->cfg.grace;
	pthread_mutex_lock(&w->mu);
	n = gj_ring_take_all(w, idx);
	for (i = 0; i < n; i++)
	{
		w->slots[idx[i]].state = SLOT_DONE;
		w->slots[idx[i]].handback = HANDBACK_WANTED;
	}
	running = count_slots(w, SLOT_RUNNING);
	pthread_mutex_unlock(&w->mu);
	free(idx);
	gj_log(&w->log, GJ_INFO,
		   "stopping: no new jobs; waiting up to %g s for %d running job%s (signal again to hand them back now)",
		   w->cfg.grace, running, running == 1 ? "" : "s");
}

/* Cancels the running jobs and marks them to be handed back. */
static void
hard_stop(gj_worker *w, run_state *rs, double now)
{
	int			n = 0;
	int			i;

	rs->hard_stop = true;
	rs->give_up_at = now + GJ_HANDBACK_TIMEOUT;
	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state == SLOT_RUNNING && s->handback == HANDBACK_NONE)
		{
			atomic_store(&s->cancelled, 1);
			s->handback = HANDBACK_WANTED;
			n++;
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (n > 0)
		gj_log(&w->log, GJ_INFO, "cancelling and handing back %d running job%s",
			   n, n == 1 ? "" : "s");
}

/* Logs the jobs that could not be handed back or reported. */
static void
give_up(gj_worker *w)
{
	int			i;

	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state != SLOT_FREE && s->handback != HANDBACK_SENT)
			gj_log(&w->log, GJ_ERROR,
				   "could not reach the database to report or hand back job %lld %s (attempt %d); it will run again once its lease expires",
				   (long long) s->job.id, s->job.job_class, s->job.attempt);
	}
	pthread_mutex_unlock(&w->mu);
}

/*
 * Returns how many more jobs the worker should hold: one per executor plus
 * the jobs claimed ahead (see GJ_PREFETCH_HORIZON), less those it holds,
 * not counting the ndone slots about to be completed.
 */
static int
claim_room(gj_worker *w, int ndone)
{
	int			ahead = 0;
	int			held;

	pthread_mutex_lock(&w->mu);
	held = w->nslots - count_slots(w, SLOT_FREE) - ndone;
	/* none before the first job has run: its run time is not known yet */
	if (w->run_avg > 0)
		ahead = (int) GJ_MIN((double) w->cfg.prefetch,
							 w->cfg.concurrency * GJ_PREFETCH_HORIZON / w->run_avg);
	pthread_mutex_unlock(&w->mu);
	return GJ_MAX(0, w->cfg.concurrency + ahead - held);
}

/*
 * Claims if it is time to and there is room; the successes of slots
 * done[0..ndone) are completed with the claim, or on their own when no
 * claim is due.
 */
static void
maybe_claim(gj_worker *w, run_state *rs, double now, const int *done, int ndone)
{
	int			room = claim_room(w, ndone);
	int			n;

	if (room == 0 ||
		(!atomic_exchange(&w->claim_wanted, 0) && !rs->last_full && now < rs->next_claim))
	{
		if (ndone > 0)
			gj_complete(w, done, ndone, now);
		return;
	}

	n = gj_claim(w, room, now, done, ndone);
	if (n < 0)
	{
		rs->last_full = false;
		if (w->work.pg != NULL)
			rs->next_claim = now + gj_backoff_next(&w->claim_backoff);
		return;
	}
	w->claim_backoff = GJ_BACKOFF_MIN;
	rs->last_full = (n == room);
	rs->next_claim = now + w->cfg.poll_interval;
}

/* Returns how long the dispatcher may sleep, in seconds. */
static double
sleep_time(gj_worker *w, run_state *rs, double now)
{
	double		t = w->cfg.poll_interval;
	double		beat;

	if (w->work.pg == NULL)
		t = GJ_MIN(t, w->work.next_attempt - now);
	else if (!rs->stopping && claim_room(w, 0) > 0)
	{
		if (rs->last_full || atomic_load(&w->claim_wanted))
			return 0;
		t = GJ_MIN(t, rs->next_claim - now);
	}
	if (w->work.pg != NULL)
	{
		beat = gj_heartbeat_due(w);
		t = GJ_MIN(t, beat - now);
	}
	if (w->report_retry_at > now)
		t = GJ_MIN(t, w->report_retry_at - now);
	if (rs->stopping && !rs->hard_stop)
		t = GJ_MIN(t, rs->grace_end - now);
	if (rs->hard_stop)
		t = GJ_MIN(t, rs->give_up_at - now);
	return t > 0 ? t : 0;
}

/* Sleeps until woken or timeout seconds passed; drains the wake pipe. */
static void
sleep_until_woken(gj_worker *w, double timeout)
{
	struct pollfd pfd;
	char		drain[256];

	pfd.fd = w->wake_pipe[0];
	pfd.events = POLLIN;
	if (timeout > 0)
		poll(&pfd, 1, gj_poll_ms(timeout));
	while (read(w->wake_pipe[0], drain, sizeof(drain)) > 0)
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
		   "worker %s started: queues \"%s\", concurrency %d, lease %g s, poll interval %g s, %s, handlers: %s",
		   w->name, w->queue_spec, w->cfg.concurrency, w->cfg.lease, w->cfg.poll_interval,
		   w->cfg.listen ? "listening for NOTIFY" : "not listening",
		   w->nhandlers ? classes.data : "(none)");
	gj_buf_free(&classes);
}

/* See goodjob_client.h. */
int
gj_worker_run(gj_worker *w)
{
	run_state	rs;
	char		msg[256];
	int			result = 0;
	int			i;
	int		   *carry;			/* successes to complete with the claim */
	int			ncarry = 0;

	if (w->running)
		return 1;
	memset(&rs, 0, sizeof(rs));
	w->running = true;
	gj_conn_init(&w->work, w->dsn, "work", &w->log);
	if (!gj_executors_start(w, msg, sizeof(msg)) ||
		(w->cfg.listen && !gj_listener_start(w, msg, sizeof(msg))))
	{
		gj_log(&w->log, GJ_ERROR, "%s", msg);
		gj_executors_stop(w);
		w->running = false;
		return 1;
	}
	log_start(w);
	carry = gj_malloc(sizeof(int) * (size_t) w->nslots);

	for (;;)
	{
		double		now = gj_now();
		int			stops = atomic_load(&w->stop_requests);

		if (stops > 0 && !rs.stopping)
			begin_stop(w, &rs, now);
		if (rs.stopping && !rs.hard_stop && (stops > 1 || now >= rs.grace_end))
			hard_stop(w, &rs, now);

		/* the listener got through: the server is back, do not wait */
		if (atomic_exchange(&w->server_seen, 0) && w->work.pg == NULL)
			w->work.next_attempt = now;
		if (gj_conn_ensure(&w->work, now) &&
			gj_report(w, now, rs.stopping ? NULL : carry, &ncarry))
		{
			if (gj_heartbeat_due(w) <= now)
				gj_heartbeat(w, now);
			if (w->work.pg != NULL && !rs.stopping)
				maybe_claim(w, &rs, now, carry, ncarry);
		}

		if (rs.stopping)
		{
			int			unsettled;

			/* after a hard stop, handed-back jobs need not be waited for */
			if (count_busy(w, &unsettled) == 0 || (rs.hard_stop && unsettled == 0))
				break;
			if (rs.hard_stop && gj_now() >= rs.give_up_at)
			{
				give_up(w);
				result = 1;
				break;
			}
		}
		sleep_until_woken(w, sleep_time(w, &rs, gj_now()));
	}

	free(carry);
	gj_listener_stop(w);
	gj_executors_stop(w);
	gj_conn_close(&w->work);
	for (i = 0; i < w->nslots; i++)
		gj_slot_release(&w->slots[i]);
	w->ring_head = w->ring_count = 0;
	atomic_store(&w->stop_requests, 0);
	atomic_store(&w->claim_wanted, 1);
	w->running = false;
	gj_log(&w->log, GJ_INFO, "worker %s stopped", w->name);
	return result;
}
