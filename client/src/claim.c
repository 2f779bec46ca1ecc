/*-------------------------------------------------------------------------
 * claim.c
 *	  Claiming: one goodjob.claim() call leases up to as many jobs as the
 *	  worker has room for, and each job goes to the ring for an executor.
 *	  Jobs that just succeeded are completed by the same statement, so a
 *	  busy worker commits once per round, not twice.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Rows of (completed, id, ...): completed is false for a claimed job, true
 * for the id of a job complete_ids() recorded.
 */
#define CLAIM_SQL \
	"SELECT false, id, attempts, max_attempts, priority, job_class, queue_name," \
	" args::text, batch_id, batch_callback_id" \
	" FROM goodjob.claim($1::text, $2::text, $3::integer, $4::interval)"

#define COMPLETE_AND_CLAIM_SQL \
	"SELECT true, c, NULL::integer, NULL::integer, NULL::integer, NULL::text," \
	" NULL::text, NULL::text, NULL::bigint, NULL::bigint" \
	" FROM goodjob.complete_ids($5::bigint[], $6::integer[]) c" \
	" UNION ALL " CLAIM_SQL

/* Returns the handler for job_class: its own, the "*" one, or NULL. */
static const gj_handler_entry *
find_handler(gj_worker *w, const char *job_class)
{
	int			i;

	for (i = 0; i < w->nhandlers; i++)
		if (strcmp(w->handlers[i].job_class, job_class) == 0)
			return &w->handlers[i];
	return w->fallback >= 0 ? &w->handlers[w->fallback] : NULL;
}

/* Copies row of res into the free slot s (strings into s->buf). */
static void
fill_slot(gj_slot *s, PGresult *res, int row, double now)
{
	const char *job_class = PQgetvalue(res, row, 5);
	const char *queue_name = PQgetvalue(res, row, 6);
	const char *args = PQgetvalue(res, row, 7);
	size_t		lc = strlen(job_class) + 1;
	size_t		lq = strlen(queue_name) + 1;
	size_t		la = strlen(args) + 1;

	if (s->bufsize < lc + lq + la)
	{
		free(s->buf);
		s->bufsize = lc + lq + la;
		s->buf = gj_malloc(s->bufsize);
	}
	memcpy(s->buf, job_class, lc);
	memcpy(s->buf + lc, queue_name, lq);
	memcpy(s->buf + lc + lq, args, la);

	s->job.id = strtoll(PQgetvalue(res, row, 1), NULL, 10);
	s->job.attempt = (int32_t) strtol(PQgetvalue(res, row, 2), NULL, 10);
	s->job.max_attempts = (int32_t) strtol(PQgetvalue(res, row, 3), NULL, 10);
	s->job.priority = (int32_t) strtol(PQgetvalue(res, row, 4), NULL, 10);
	s->job.job_class = s->buf;
	s->job.queue_name = s->buf + lc;
	s->job.args = s->buf + lc + lq;
	s->job.batch_id = PQgetisnull(res, row, 8) ? 0 :
		strtoll(PQgetvalue(res, row, 8), NULL, 10);
	s->job.batch_callback_id = PQgetisnull(res, row, 9) ? 0 :
		strtoll(PQgetvalue(res, row, 9), NULL, 10);
	s->job.internal = s;
	s->handback = HANDBACK_NONE;
	s->outcome = GJ_SUCCESS;
	s->error = NULL;
	atomic_store(&s->cancelled, 0);
	s->lease_lost = false;
	s->report_tries = 0;
	s->claimed_at = now;
	s->started_at = now;
	s->finished_at = now;
}

/*
 * Claims up to max_jobs jobs and hands them to the executors, completing
 * the successes of slots done[0..ndone) in the same statement (their slots
 * count in max_jobs). Returns how many were claimed, or -1 when the claim
 * failed (logged; a broken connection is dropped for reconnecting; the
 * successes are then completed on their own, or kept for later).
 */
int
gj_claim(gj_lane *l, int max_jobs, double now, const int *done, int ndone)
{
	gj_worker  *w = l->w;
	char		limit[16];
	char		lease[32];
	const char *params[6];
	gj_buf		ids;
	gj_buf		attempts;
	PGresult   *res;
	char	   *error = NULL;
	int			claimed = 0;
	int			i;
	int			next = l->first;
	int			end = l->first + l->nslots;

	snprintf(limit, sizeof(limit), "%d", max_jobs);
	snprintf(lease, sizeof(lease), "%.3f seconds", w->cfg.lease);
	params[0] = w->queue_spec;
	params[1] = w->name;
	params[2] = limit;
	params[3] = lease;
	if (ndone > 0)
	{
		gj_token_arrays(w, done, ndone, &ids, &attempts);
		params[4] = ids.data;
		params[5] = attempts.data;
		res = gj_conn_exec(&l->work, COMPLETE_AND_CLAIM_SQL, 6, params, &error);
		gj_buf_free(&ids);
		gj_buf_free(&attempts);
	}
	else
		res = gj_conn_exec(&l->work, CLAIM_SQL, 4, params, &error);
	if (res == NULL)
	{
		if (l->work.pg != NULL)
		{
			gj_log(&w->log, GJ_ERROR, "could not claim jobs: %s", error);
			/* the completions alone, to tell their error from the claim's */
			if (ndone > 0)
				gj_complete(l, done, ndone, now);
		}
		free(error);
		return -1;
	}
	if (ndone > 0)
		gj_completions_done(l, done, ndone, res);

	pthread_mutex_lock(&l->mu);
	for (i = 0; i < PQntuples(res); i++)
	{
		gj_slot    *s;

		if (strcmp(PQgetvalue(res, i, 0), "f") != 0)
			continue;
		claimed++;
		while (next < end && w->slots[next].state != SLOT_FREE)
			next++;
		if (next == end)
			break;				/* cannot happen: we asked for free slots only */
		s = &w->slots[next];
		fill_slot(s, res, i, now);
		s->next_beat = now + w->cfg.lease / 3;
		s->handler = find_handler(w, s->job.job_class);
		if (s->handler != NULL)
			gj_ring_push(l, next);
		else
		{
			s->state = SLOT_DONE;
			s->outcome = GJ_RETRY;
			s->error = gj_printf("no handler for job class \"%s\" on worker \"%s\"",
								 s->job.job_class, w->name);
		}
	}
	pthread_mutex_unlock(&l->mu);
	PQclear(res);
	if (claimed > 0)
		gj_log(&w->log, GJ_DEBUG, "claimed %d job%s", claimed, claimed == 1 ? "" : "s");
	return claimed;
}
