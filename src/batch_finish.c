/*-------------------------------------------------------------------------
 * batch_finish.c
 *	  The batch part of a maintenance pass: notices discards and finished
 *	  batches and enqueues their callback jobs, each exactly once.
 *
 * Exactly once comes from the batch row: every step is one UPDATE of
 * goodjob.batches guarded by the column it sets (discarded_at,
 * jobs_finished_at, finished_at) with the callback INSERT in the same
 * statement. Two passes at once (the maintainer and run_maintenance(), say)
 * serialize on the batch row, and the second finds the guard already set.
 *
 * A batch's "round" starts at its creation; re-arming a batch whose jobs
 * had finished starts the next one at the time they finished (so a job added
 * and discarded in between counts for the new round), and batch_retry()
 * starts one at once. Only discards of the current round count.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "maintenance.h"

/* A discarded job of batch b in its current round. */
#define DISCARD_IN_ROUND \
	"EXISTS (SELECT 1 FROM goodjob.finished_jobs f" \
	" WHERE f.batch_id = b.id AND f.state = 'discarded'" \
	" AND f.finished_at >= b.round_started_at)"

/*
 * Inserts the callback jobs listed by a CTE named "events" (batch id,
 * callback class, event name, queue, priority) and counts them per queue,
 * after a row counting the batches of CTE "changed".
 */
#define INSERT_CALLBACKS_FROM_EVENTS \
	"cb AS (INSERT INTO goodjob.active_jobs (queue_name, priority, job_class," \
	" args, scheduled_at, created_at, max_attempts, batch_callback_id)" \
	" SELECT COALESCE(e.queue_name, 'default'), COALESCE(e.priority, 0)," \
	" e.job_class, pg_catalog.jsonb_build_object('batch_id', e.batch_id," \
	" 'event', e.event), $1, $1, $2, e.batch_id" \
	" FROM events e ORDER BY e.batch_id, e.ord" \
	GOODJOB_RETURNING_KEYS ") " \
	"SELECT NULL::text, pg_catalog.count(*)" GOODJOB_COUNT_NO_KEYS " FROM changed " \
	"UNION ALL " \
	"SELECT queue_name, pg_catalog.count(*)" GOODJOB_COUNT_KEYS \
	" FROM cb GROUP BY queue_name"

/* A discard of the current round, or a cancellation, marks batch b. */
#define ROUND_DISCARDED \
	"(b.cancelled_at IS NOT NULL OR " DISCARD_IN_ROUND ")"

/*
 * on_discard: the first discarded job of a round marks the batch, and so
 * does batch_cancel() (even when it found nothing left to discard). Once a
 * round's jobs have finished, later discards belong to the next round.
 */
static const char *const discard_sql =
"WITH changed AS ("
" UPDATE goodjob.batches b SET discarded_at = $1"
" WHERE b.discarded_at IS NULL AND b.jobs_finished_at IS NULL"
" AND b.finished_at IS NULL AND " ROUND_DISCARDED
" RETURNING b.id, b.on_discard, b.callback_queue_name, b.callback_priority), "
"events AS ("
" SELECT id AS batch_id, on_discard AS job_class, 'discard' AS event, 0 AS ord,"
" callback_queue_name AS queue_name, callback_priority AS priority"
" FROM changed WHERE on_discard IS NOT NULL), "
INSERT_CALLBACKS_FROM_EVENTS;

/*
 * on_success and on_finish: an armed batch with no unfinished job. Discards
 * are judged on this statement's snapshot too: one that committed after the
 * discard step marks the batch here (with its on_discard) and rules out
 * on_success. A batch's discarded_at equals $1 exactly when this statement
 * set it (an earlier one is an earlier time).
 */
static const char *const finish_sql =
"WITH changed AS ("
" UPDATE goodjob.batches b SET jobs_finished_at = $1,"
" discarded_at = CASE WHEN b.discarded_at IS NULL AND " ROUND_DISCARDED
"  THEN $1 ELSE b.discarded_at END"
" WHERE b.enqueued_at IS NOT NULL AND b.jobs_finished_at IS NULL"
" AND b.finished_at IS NULL"
" AND NOT EXISTS (SELECT 1 FROM goodjob.active_jobs a WHERE a.batch_id = b.id)"
" RETURNING b.id, b.on_discard, b.on_success, b.on_finish,"
" b.callback_queue_name, b.callback_priority, b.discarded_at), "
"events AS ("
" SELECT id AS batch_id, on_discard AS job_class, 'discard' AS event, 0 AS ord,"
" callback_queue_name AS queue_name, callback_priority AS priority"
" FROM changed WHERE discarded_at = $1 AND on_discard IS NOT NULL"
" UNION ALL"
" SELECT id, on_success, 'success', 1, callback_queue_name, callback_priority"
" FROM changed WHERE discarded_at IS NULL AND on_success IS NOT NULL"
" UNION ALL"
" SELECT id, on_finish, 'finish', 2, callback_queue_name, callback_priority"
" FROM changed WHERE on_finish IS NOT NULL), "
INSERT_CALLBACKS_FROM_EVENTS;

/* finished_at: the jobs have finished and so have all callback jobs. */
static const char *const finished_sql =
"UPDATE goodjob.batches b SET finished_at = $1"
" WHERE b.jobs_finished_at IS NOT NULL AND b.finished_at IS NULL"
" AND NOT EXISTS (SELECT 1 FROM goodjob.active_jobs a"
" WHERE a.batch_callback_id = b.id)";

/*
 * Takes a new snapshot and then the time: every job that snapshot sees as
 * finished has an earlier finished_at, so a batch stamped with the time
 * never looks finished before its last job. Unregister the result.
 */
static Snapshot
snapshot_then_time(TimestampTz *now)
{
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());

	*now = GetCurrentTimestamp();
	return snapshot;
}

/*
 * Runs one callback step and adds the batches it changed to *batches and
 * the callbacks it enqueued to the report. Must run inside SPI.
 */
static int64
run_callback_step(SPIPlanPtr *cache, const char *sql, int64 *batches,
				  MaintenanceReport *report)
{
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	int64		changed = 0;
	TimestampTz now;
	Snapshot	snapshot = snapshot_then_time(&now);

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(goodjob_default_max_attempts);
	goodjob_plan(cache, sql, 2, argtypes);
	goodjob_add_counts(*cache, values, snapshot, &changed,
					   &report->callbacks_enqueued);
	UnregisterSnapshot(snapshot);
	*batches += changed;
	return changed;
}

/*
 * Marks discarded and finished batches and enqueues their callbacks. Must
 * run inside SPI.
 */
void
goodjob_finish_batches(MaintenanceReport *report)
{
	static SPIPlanPtr discard_plan = NULL;
	static SPIPlanPtr finish_plan = NULL;
	static SPIPlanPtr finished_plan = NULL;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	TimestampTz now;
	Snapshot	snapshot;

	run_callback_step(&discard_plan, discard_sql,
					  &report->batches_discarded, report);
	run_callback_step(&finish_plan, finish_sql,
					  &report->batches_jobs_finished, report);

	snapshot = snapshot_then_time(&now);
	values[0] = TimestampTzGetDatum(now);
	goodjob_plan(&finished_plan, finished_sql, 1, argtypes);
	if (SPI_execute_snapshot(finished_plan, values, NULL, snapshot,
							 InvalidSnapshot, false, true, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark finished batches");
	UnregisterSnapshot(snapshot);
	report->batches_finished += SPI_processed;
}
