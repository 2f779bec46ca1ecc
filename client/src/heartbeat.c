/*-------------------------------------------------------------------------
 * heartbeat.c
 *	  Lease renewal: every job the worker holds gets goodjob.heartbeat()
 *	  every lease/3, all due jobs in one statement. A job whose token no
 *	  longer holds (its lease expired and another worker took it, or it was
 *	  discarded) is logged once; its outcome will not be recorded.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when the job in s holds a lease the worker must keep alive. */
static bool
needs_beat(const gj_slot *s)
{
	return s->state != SLOT_FREE && s->handback == HANDBACK_NONE;
}

/* Returns when the next heartbeat is due (INFINITY when none is). */
double
gj_heartbeat_due(gj_lane *l)
{
	gj_worker  *w = l->w;
	double		due = INFINITY;
	int			i;

	pthread_mutex_lock(&l->mu);
	for (i = l->first; i < l->first + l->nslots; i++)
		if (needs_beat(&w->slots[i]) && w->slots[i].next_beat < due)
			due = w->slots[i].next_beat;
	pthread_mutex_unlock(&l->mu);
	return due;
}

/* Notes that the job in s lost its lease. */
static void
lease_lost(gj_worker *w, gj_slot *s, const char *why)
{
	if (s->lease_lost)
		return;
	s->lease_lost = true;
	gj_log(&w->log, GJ_WARNING,
		   "job %lld %s (attempt %d) lost its lease: %s; its outcome will not be recorded",
		   (long long) s->job.id, s->job.job_class, s->job.attempt, why);
}

/*
 * Heartbeats the jobs of slots idx[0..n) one statement each (the fallback
 * when the combined statement failed). Returns false when the connection
 * broke.
 */
static bool
beat_one_by_one(gj_lane *l, const int *idx, int n)
{
	gj_worker  *w = l->w;
	int			i;

	for (i = 0; i < n; i++)
	{
		gj_slot    *s = &w->slots[idx[i]];
		char		id[24];
		char		attempt[16];
		const char *params[2] = {id, attempt};
		char	   *error = NULL;
		PGresult   *res;

		snprintf(id, sizeof(id), "%lld", (long long) s->job.id);
		snprintf(attempt, sizeof(attempt), "%d", s->job.attempt);
		res = gj_conn_exec(&l->work,
						   "SELECT goodjob.heartbeat($1::bigint, $2::integer)",
						   2, params, &error);
		if (res == NULL && l->work.pg == NULL)
		{
			free(error);
			return false;
		}
		if (res == NULL)
			lease_lost(w, s, error);
		else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			lease_lost(w, s, "it expired and was taken over, or the job was discarded");
		free(error);
		PQclear(res);
	}
	return true;
}

/*
 * Renews the leases that are due by now (and those due within lease/6, to
 * send fewer statements).
 */
void
gj_heartbeat(gj_lane *l, double now)
{
	gj_worker  *w = l->w;
	int		   *idx = gj_malloc(sizeof(int) * (size_t) l->nslots);
	int			n = 0;
	int			i;
	gj_buf		ids;
	gj_buf		attempts;
	const char *params[2];
	PGresult   *res;
	char	   *error = NULL;

	pthread_mutex_lock(&l->mu);
	for (i = l->first; i < l->first + l->nslots; i++)
	{
		gj_slot    *s = &w->slots[i];

		if (needs_beat(s) && s->next_beat <= now + w->cfg.lease / 6)
		{
			idx[n++] = i;
			s->next_beat = now + w->cfg.lease / 3;
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (n == 0)
	{
		free(idx);
		return;
	}

	gj_token_arrays(w, idx, n, &ids, &attempts);
	params[0] = ids.data;
	params[1] = attempts.data;
	res = gj_conn_exec(&l->work,
					   "SELECT t.ord, goodjob.heartbeat(t.id, t.att)"
					   " FROM ROWS FROM (pg_catalog.unnest($1::bigint[]),"
					   " pg_catalog.unnest($2::integer[]))"
					   " WITH ORDINALITY AS t(id, att, ord)",
					   2, params, &error);
	gj_buf_free(&ids);
	gj_buf_free(&attempts);

	if (res != NULL)
	{
		for (i = 0; i < PQntuples(res); i++)
		{
			int			k = atoi(PQgetvalue(res, i, 0)) - 1;

			if (k >= 0 && k < n && strcmp(PQgetvalue(res, i, 1), "t") != 0)
				lease_lost(w, &w->slots[idx[k]],
						   "it expired and was taken over, or the job was discarded");
		}
		PQclear(res);
		gj_log(&w->log, GJ_DEBUG, "renewed the leases of %d job%s", n, n == 1 ? "" : "s");
	}
	else if (l->work.pg != NULL)
	{
		gj_log(&w->log, GJ_WARNING, "could not renew leases together (%s); renewing one by one",
			   error);
		beat_one_by_one(l, idx, n);
	}
	free(error);
	free(idx);
}
