/*-------------------------------------------------------------------------
 * admin.c
 *	  Operator actions on one job: goodjob.retry_job(), goodjob.discard_job()
 *	  and goodjob.reschedule_job().
 *
 * Each returns true when it changed the job, false when the job is not in a
 * state the action applies to, and raises an error for an unknown job.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "claim_start.h"

PG_FUNCTION_INFO_V1(goodjob_retry_job);
PG_FUNCTION_INFO_V1(goodjob_discard_job);
PG_FUNCTION_INFO_V1(goodjob_reschedule_job);

/*
 * Runs a kept plan keyed by the job id in values[0] and returns whether it
 * changed a row; raises an error when it did not and the job does not exist.
 * Must run inside SPI.
 */
static bool
run_on_job(SPIPlanPtr plan, Datum *values, char *nulls)
{
	if (SPI_execute_plan(plan, values, nulls, false, 0) < 0)
		elog(ERROR, "could not update job " INT64_FORMAT, DatumGetInt64(values[0]));
	if (SPI_processed > 0)
		return true;
	goodjob_ensure_job_exists(DatumGetInt64(values[0]));
	return false;
}

/*
 * Notes (claim_start.c) the job values[0], now queued for values[1], whose
 * queue name is queue_name and whose priority is column 2 of SPI_tuptable.
 */
static void
note_queued_row(const char *queue_name, Datum *values)
{
	bool		isnull;

	goodjob_note_queued(queue_name,
						DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 2, &isnull)),
						DatumGetTimestampTz(values[1]), DatumGetInt64(values[0]));
}

/*
 * goodjob.retry_job(job_id) RETURNS boolean
 *
 * Queues a finished (succeeded or discarded) job again, to run now. Its
 * attempts count is kept, since attempt numbers are fencing tokens; the job
 * runs once more even if it had used up its attempts.
 */
Datum
goodjob_retry_job(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		changed;
	char	   *queue_name = NULL;

	goodjob_require_arg(fcinfo, 0, "job_id");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());

	SPI_connect();
	goodjob_plan(&plan,
				 "WITH d AS (DELETE FROM goodjob.finished_jobs WHERE id = $1"
				 " RETURNING *) "
				 "INSERT INTO goodjob.active_jobs (id, queue_name, priority,"
				 " job_class, args, state, scheduled_at, created_at, attempts,"
				 " max_attempts, error, batch_id, batch_callback_id) "
				 "SELECT id, queue_name, priority, job_class, args, 'queued', $2,"
				 " created_at, attempts, max_attempts, error, batch_id,"
				 " batch_callback_id FROM d "
				 "RETURNING queue_name, priority",
				 2, argtypes);
	changed = run_on_job(plan, values, NULL);
	if (changed)
	{
		queue_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		note_queued_row(queue_name, values);
		goodjob_notify_enqueued(queue_name, 1);
	}
	SPI_finish();

	PG_RETURN_BOOL(changed);
}

/*
 * goodjob.discard_job(job_id, reason) RETURNS boolean
 *
 * Discards a queued or running job; a running holder's later complete or
 * fail finds its token gone. The reason (default "discarded by an operator")
 * becomes the job's error.
 */
Datum
goodjob_discard_job(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	bool		changed;

	goodjob_require_arg(fcinfo, 0, "job_id");
	values[0] = PG_GETARG_DATUM(0);
	values[2] = PG_ARGISNULL(1) ?
		CStringGetTextDatum("discarded by an operator") : PG_GETARG_DATUM(1);

	SPI_connect();
	goodjob_lock_job_batch(DatumGetInt64(values[0]));
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	goodjob_plan(&plan,
				 "WITH d AS (DELETE FROM goodjob.active_jobs WHERE id = $1"
				 " RETURNING *) "
				 GOODJOB_INSERT_FINISHED_FROM_D("'discarded'", "$2", "$3")
				 GOODJOB_RETURNING_BATCH_TOUCHED,
				 3, argtypes);
	changed = run_on_job(plan, values, NULL);
	if (changed)
		goodjob_wake_if_batch_touched();
	SPI_finish();

	PG_RETURN_BOOL(changed);
}

/*
 * goodjob.reschedule_job(job_id, scheduled_at) RETURNS boolean
 *
 * Moves a queued job to a new time; running and finished jobs are left alone.
 */
Datum
goodjob_reschedule_job(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		changed;

	goodjob_require_arg(fcinfo, 0, "job_id");
	goodjob_require_arg(fcinfo, 1, "scheduled_at");
	goodjob_check_finite(PG_GETARG_TIMESTAMPTZ(1), "scheduled_at");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);

	SPI_connect();
	goodjob_plan(&plan,
				 "UPDATE goodjob.active_jobs SET scheduled_at = $2"
				 " WHERE id = $1 AND state = 'queued'"
				 " RETURNING queue_name, priority",
				 2, argtypes);
	changed = run_on_job(plan, values, NULL);
	if (changed)
		note_queued_row(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						values);
	SPI_finish();

	PG_RETURN_BOOL(changed);
}
