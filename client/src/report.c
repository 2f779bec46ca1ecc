/*-------------------------------------------------------------------------
 * report.c
 *	  Reporting outcomes: goodjob.complete() for successes (the array form,
 *	  one statement, when several finished together), goodjob.fail() for
 *	  failures, and the hand-back of jobs at shutdown. One log line per job.
 *
 * An outcome stays in its slot until the server has it: after a broken
 * connection it is sent again once reconnected (the fencing token makes a
 * repeat harmless). After GJ_REPORT_TRIES statement errors it is given up
 * and the job comes back when its lease expires.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest error text a library handler may report, in bytes. */
#define ERROR_TEXT_MAX 8192

/* Frees the job in s and makes the slot free. */
void
gj_slot_release(gj_slot *s)
{
	free(s->error);
	s->error = NULL;
	s->state = SLOT_FREE;
	s->handback = HANDBACK_NONE;
}

/* Releases s, of lane l, under the lane's lock. */
static void
release(gj_lane *l, gj_slot *s)
{
	pthread_mutex_lock(&l->mu);
	gj_slot_release(s);
	pthread_mutex_unlock(&l->mu);
}

/*
 * Returns error as text the server accepts: valid UTF-8 (or plain ASCII
 * when ascii), at most ERROR_TEXT_MAX bytes. Malloc'd.
 */
static char *
clean_error(const char *error, bool ascii)
{
	size_t		len = strlen(error);
	char	   *s;
	size_t		i;

	if (len > ERROR_TEXT_MAX)
		len = ERROR_TEXT_MAX;
	s = gj_strndup(error, len);
	gj_utf8_sanitize(s, len);
	if (ascii)
		for (i = 0; i < len; i++)
			if ((unsigned char) s[i] >= 0x80)
				s[i] = '?';
	return s;
}

/*
 * Records a failed attempt of the job in s with goodjob.fail(): retried
 * with the server's backoff, retried at once (retry_now, for hand-backs)
 * or discarded (!retry). Returns 1 with *new_state (malloc'd) when the
 * token held, 0 when it no longer did, -1 on a statement error, -2 when
 * the connection broke.
 */
int
gj_fail_job(gj_lane *l, gj_slot *s, const char *error, bool retry,
			bool retry_now, char **new_state)
{
	gj_worker  *w = l->w;
	char		id[24];
	char		attempt[16];
	const char *params[4];
	char	   *text = clean_error(error, s->report_tries > 0);
	char	   *sqlerr = NULL;
	PGresult   *res;
	int			rc;

	snprintf(id, sizeof(id), "%lld", (long long) s->job.id);
	snprintf(attempt, sizeof(attempt), "%d", s->job.attempt);
	params[0] = id;
	params[1] = attempt;
	params[2] = text;
	params[3] = retry ? "true" : "false";
	*new_state = NULL;

	if (retry_now)
		res = gj_conn_exec(&l->work,
						   "SELECT goodjob.fail($1::bigint, $2::integer, $3::text,"
						   " true, pg_catalog.now())", 3, params, &sqlerr);
	else
		res = gj_conn_exec(&l->work,
						   "SELECT goodjob.fail($1::bigint, $2::integer, $3::text,"
						   " $4::boolean)", 4, params, &sqlerr);
	free(text);
	if (res == NULL)
	{
		rc = l->work.pg == NULL ? -2 : -1;
		if (rc == -1)
			gj_log(&w->log, GJ_ERROR, "could not record the failure of job %lld: %s",
				   (long long) s->job.id, sqlerr);
		free(sqlerr);
		return rc;
	}
	rc = PQgetisnull(res, 0, 0) ? 0 : 1;
	if (rc == 1)
		*new_state = gj_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/*
 * Notes a statement error while reporting s: try again later, or give up
 * after GJ_REPORT_TRIES.
 */
static void
report_error(gj_lane *l, gj_slot *s, double now)
{
	gj_worker  *w = l->w;

	if (++s->report_tries >= GJ_REPORT_TRIES)
	{
		gj_log(&w->log, GJ_ERROR,
			   "giving up on reporting job %lld after %d tries; it will run again when its lease expires",
			   (long long) s->job.id, s->report_tries);
		release(l, s);
	}
	l->report_retry_at = now + l->report_backoff;
	l->report_errors = true;
}

/* Returns how long the job in s ran, in milliseconds. */
static double
run_ms(const gj_slot *s)
{
	return (s->finished_at - s->started_at) * 1000.0;
}

/*
 * Hands back the job in s (goodjob.fail(..., 'worker shutting down',
 * retry_at => now())). Returns false when the connection broke.
 */
static bool
hand_back(gj_lane *l, gj_slot *s, double now)
{
	gj_worker  *w = l->w;
	char	   *state = NULL;
	int			rc = gj_fail_job(l, s, "worker shutting down", true, true, &state);

	if (rc == -2)
		return false;
	if (rc == -1)
	{
		report_error(l, s, now);
		return true;
	}
	gj_log_job(&w->log, &s->job,
			   rc == 0 ? "lost its lease before it could be handed back" :
			   strcmp(state, "queued") == 0 ? "handed back (queued again)" :
			   "handed back but discarded (no attempts left)",
			   (now - s->started_at) * 1000.0, "worker shutting down");
	free(state);
	pthread_mutex_lock(&l->mu);
	s->handback = HANDBACK_SENT;
	if (s->state == SLOT_DONE)
		gj_slot_release(s);
	pthread_mutex_unlock(&l->mu);
	return true;
}

/* Reports the failed job in s. Returns false when the connection broke. */
static bool
report_failure(gj_lane *l, gj_slot *s, double now)
{
	gj_worker  *w = l->w;
	char	   *state = NULL;
	const char *error = s->error ? s->error : "the handler failed without giving a reason";
	int			rc = gj_fail_job(l, s, error, s->outcome == GJ_RETRY, false, &state);

	if (rc == -2)
		return false;
	if (rc == -1)
	{
		report_error(l, s, now);
		return true;
	}
	gj_log_job(&w->log, &s->job,
			   rc == 0 ? "failed, but its lease was lost (not recorded)" :
			   strcmp(state, "queued") == 0 ? "failed (will retry)" :
			   "failed (discarded)",
			   run_ms(s), error);
	free(state);
	release(l, s);
	return true;
}

static int
cmp_id(const void *a, const void *b)
{
	long long	x = *(const long long *) a;
	long long	y = *(const long long *) b;

	return x < y ? -1 : x > y;
}

/*
 * Returns the ids that res, rows of (completed boolean, id bigint, ...),
 * says were completed, sorted, with their count in *n. Malloc'd.
 */
static long long *
completed_ids(PGresult *res, int *n)
{
	long long  *ids = gj_malloc(sizeof(long long) * (size_t) (PQntuples(res) + 1));
	int			r;

	*n = 0;
	for (r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), "t") == 0)
			ids[(*n)++] = atoll(PQgetvalue(res, r, 1));
	qsort(ids, (size_t) *n, sizeof(long long), cmp_id);
	return ids;
}

/* See internal.h. */
void
gj_token_arrays(gj_worker *w, const int *idx, int n, gj_buf *ids,
					 gj_buf *attempts)
{
	int			i;

	gj_buf_init(ids);
	gj_buf_init(attempts);
	gj_buf_puts(ids, "{");
	gj_buf_puts(attempts, "{");
	for (i = 0; i < n; i++)
	{
		gj_slot    *s = &w->slots[idx[i]];

		gj_buf_printf(ids, "%s%lld", i ? "," : "", (long long) s->job.id);
		gj_buf_printf(attempts, "%s%d", i ? "," : "", s->job.attempt);
	}
	gj_buf_puts(ids, "}");
	gj_buf_puts(attempts, "}");
}

/* See internal.h. */
void
gj_completions_done(gj_lane *l, const int *idx, int n, PGresult *res)
{
	gj_worker  *w = l->w;
	gj_buf		lines;
	int			ndone;
	long long  *done = completed_ids(res, &ndone);
	int			held = 0;
	int			i;

	/* one write for the batch's log lines, one lock to free their slots */
	gj_buf_init(&lines);
	for (i = 0; i < n; i++)
	{
		gj_slot    *s = &w->slots[idx[i]];
		long long	id = s->job.id;
		bool		recorded = bsearch(&id, done, (size_t) ndone, sizeof(long long),
									   cmp_id) != NULL;

		held += recorded;
		gj_log_job_line(&w->log, &lines, &s->job,
						recorded ? "succeeded" :
						"succeeded, but its lease was lost (not recorded)",
						run_ms(s), NULL);
	}
	gj_log_write(&w->log, &lines);
	free(done);
	pthread_mutex_lock(&l->mu);
	for (i = 0; i < n; i++)
		gj_slot_release(&w->slots[idx[i]]);
	pthread_mutex_unlock(&l->mu);
	if (held < n)
		gj_log(&w->log, GJ_WARNING,
			   "%d of %d completion%s not recorded: %s lost %s lease%s",
			   n - held, n, n == 1 ? " was" : "s were",
			   n - held == 1 ? "that job had" : "those jobs had",
			   n - held == 1 ? "its" : "their", n - held == 1 ? "" : "s");
}

/* See internal.h. */
void
gj_completions_failed(gj_lane *l, const int *idx, int n, const char *sqlerr,
					  double now)
{
	gj_worker  *w = l->w;
	int			i;

	gj_log(&w->log, GJ_ERROR, "could not complete %d job%s: %s",
		   n, n == 1 ? "" : "s", sqlerr);
	for (i = 0; i < n; i++)
		report_error(l, &w->slots[idx[i]], now);
}

/*
 * Completes the n jobs of slots idx[0..n) in one statement. Returns false
 * when the connection broke.
 */
bool
gj_complete(gj_lane *l, const int *idx, int n, double now)
{
	gj_worker  *w = l->w;
	gj_buf		ids;
	gj_buf		attempts;
	const char *params[2];
	PGresult   *res;
	char	   *sqlerr = NULL;

	gj_token_arrays(w, idx, n, &ids, &attempts);
	params[0] = ids.data;
	params[1] = attempts.data;
	res = gj_conn_exec(&l->work,
					   "SELECT true, c FROM goodjob.complete_ids($1::bigint[], $2::integer[]) c",
					   2, params, &sqlerr);
	gj_buf_free(&ids);
	gj_buf_free(&attempts);
	if (res == NULL)
	{
		bool		broken = l->work.pg == NULL;

		if (!broken)
			gj_completions_failed(l, idx, n, sqlerr, now);
		free(sqlerr);
		return !broken;
	}
	gj_completions_done(l, idx, n, res);
	PQclear(res);
	return true;
}

/*
 * Sends every outcome and hand-back that is due. Returns false when the
 * connection broke (what was not sent is kept for later). When carry is
 * not NULL, up to GJ_COMPLETE_CHUNK successes are not sent but left in
 * carry[0..*ncarry), for the caller to complete with its claim.
 */
bool
gj_report(gj_lane *l, double now, int *carry, int *ncarry)
{
	gj_worker  *w = l->w;
	int		   *handback = gj_malloc(sizeof(int) * (size_t) l->nslots);
	int		   *success = gj_malloc(sizeof(int) * (size_t) l->nslots);
	int		   *failure = gj_malloc(sizeof(int) * (size_t) l->nslots);
	int			nhandback = 0;
	int			nsuccess = 0;
	int			nfailure = 0;
	bool		ok = true;
	bool		due = now >= l->report_retry_at;
	int			keep;
	int			i;

	if (ncarry != NULL)
		*ncarry = 0;

	pthread_mutex_lock(&l->mu);
	for (i = l->first; i < l->first + l->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (s->state == SLOT_FREE || s->state == SLOT_WAITING)
			continue;
		if (s->handback == HANDBACK_WANTED)
			handback[nhandback++] = i;
		else if (s->state != SLOT_DONE)
			continue;
		else if (s->handback == HANDBACK_SENT)
			gj_slot_release(s);
		else if (s->outcome == GJ_SUCCESS)
			success[nsuccess++] = i;
		else
			failure[nfailure++] = i;
	}
	pthread_mutex_unlock(&l->mu);

	l->report_errors = false;
	if (due)
	{
		for (i = 0; ok && i < nhandback; i++)
			ok = hand_back(l, &w->slots[handback[i]], now);
		keep = carry != NULL ? GJ_MIN(nsuccess, GJ_COMPLETE_CHUNK) : 0;
		for (i = 0; ok && i < nsuccess - keep; i += GJ_COMPLETE_CHUNK)
			ok = gj_complete(l, success + i,
							 GJ_MIN(nsuccess - keep - i, GJ_COMPLETE_CHUNK), now);
		if (ok && keep > 0)
		{
			memcpy(carry, success + nsuccess - keep, sizeof(int) * (size_t) keep);
			*ncarry = keep;
		}
		for (i = 0; ok && i < nfailure; i++)
			ok = report_failure(l, &w->slots[failure[i]], now);
		if (l->report_errors)
			gj_backoff_next(&l->report_backoff);
		else
			l->report_backoff = GJ_BACKOFF_MIN;
	}
	free(handback);
	free(success);
	free(failure);
	return ok;
}
