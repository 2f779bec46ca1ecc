/*-------------------------------------------------------------------------
 * batch.c
 *	  The batch API: goodjob.batch_create(), batch_enqueue(), batch_retry(),
 *	  batch_cancel() and batch_update_properties().
 *
 * These change the batch row and its jobs; the callbacks are enqueued by
 * the next maintenance pass (batch_finish.c), which a commit that may have
 * finished a batch wakes.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "maintenance.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(goodjob_batch_create);
PG_FUNCTION_INFO_V1(goodjob_batch_enqueue);
PG_FUNCTION_INFO_V1(goodjob_batch_retry);
PG_FUNCTION_INFO_V1(goodjob_batch_cancel);
PG_FUNCTION_INFO_V1(goodjob_batch_update_properties);

/* Raises 22023 unless jsonb argument argno is an object. */
static void
require_object(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Jsonb	   *value;

	goodjob_require_arg(fcinfo, argno, name);
	value = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(value) || JB_ROOT_IS_SCALAR(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", name)));
}

/* Rejects an empty callback class name (NULL means no callback). */
static void
check_callback(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (!PG_ARGISNULL(argno) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(argno)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name),
				 errhint("Pass NULL for no callback.")));
}

/*
 * Every discard of a batch's job holds FOR KEY SHARE on the batch row from
 * before it takes its finished_at until it commits (goodjob_lock_job_batch),
 * and the functions here lock it FOR UPDATE (goodjob_lock_batch) before
 * they take the time: once that lock is granted no discard is in flight, so
 * a round started then counts exactly the discards that commit from then on.
 */

/*
 * goodjob.batch_create(description, properties, on_finish, on_success,
 *						on_discard, callback_queue_name, callback_priority)
 *	RETURNS bigint
 *
 * Creates an unarmed batch; jobs join it through batch_id, and
 * batch_enqueue() arms it.
 */
Datum
goodjob_batch_create(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[7] = {TEXTOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INT4OID};
	Datum		values[7];
	char		nulls[7];
	bool		has_callback;
	bool		isnull;
	int64		batch_id;
	int			i;

	require_object(fcinfo, 1, "properties");
	check_callback(fcinfo, 2, "on_finish");
	check_callback(fcinfo, 3, "on_success");
	check_callback(fcinfo, 4, "on_discard");
	has_callback = !PG_ARGISNULL(2) || !PG_ARGISNULL(3) || !PG_ARGISNULL(4);
	if (!PG_ARGISNULL(5))
		goodjob_check_queue_name(text_to_cstring(PG_GETARG_TEXT_PP(5)));
	if ((!PG_ARGISNULL(5) || !PG_ARGISNULL(6)) && !has_callback)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("callback queue or priority given for a batch without callbacks"),
				 errhint("Name at least one of on_finish, on_success and on_discard.")));

	for (i = 0; i < 7; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}

	SPI_connect();
	goodjob_plan(&plan,
				 "INSERT INTO goodjob.batches (description, properties, on_finish,"
				 " on_success, on_discard, callback_queue_name, callback_priority)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
				 7, argtypes);
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not create batch");
	batch_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	PG_RETURN_INT64(batch_id);
}

/*
 * goodjob.batch_enqueue(batch_id) RETURNS void
 *
 * Arms the batch: once none of its jobs is unfinished, it finishes. Arming
 * a batch whose jobs had finished starts a new round: discarded_at,
 * jobs_finished_at and finished_at are cleared and the callbacks fire again.
 */
Datum
goodjob_batch_enqueue(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	int64		batch_id;

	goodjob_require_arg(fcinfo, 0, "batch_id");
	batch_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(batch_id);

	SPI_connect();
	if (goodjob_lock_batch(batch_id, true))
		goodjob_report_cancelled(batch_id);
	/* after the lock: no discard of this batch is in flight (see above) */
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	goodjob_plan(&plan,
				 "UPDATE goodjob.batches SET"
				 " enqueued_at = CASE WHEN jobs_finished_at IS NULL"
				 "  THEN COALESCE(enqueued_at, $2) ELSE $2 END,"
				 " round_started_at = CASE WHEN jobs_finished_at IS NULL"
				 "  THEN round_started_at ELSE jobs_finished_at END,"
				 " discarded_at = CASE WHEN jobs_finished_at IS NULL"
				 "  THEN discarded_at END,"
				 " jobs_finished_at = NULL, finished_at = NULL"
				 " WHERE id = $1",
				 2, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not arm batch " INT64_FORMAT, batch_id);
	SPI_finish();

	goodjob_wake_maintainer_at_commit();
	PG_RETURN_VOID();
}

/*
 * goodjob.batch_retry(batch_id) RETURNS integer
 *
 * Queues the batch's discarded jobs again (attempts kept) and starts a new
 * round: discarded_at, jobs_finished_at, finished_at and cancelled_at are
 * cleared, and a batch that was armed is armed again (one that never was
 * stays unarmed). Returns how many jobs were queued.
 */
Datum
goodjob_batch_retry(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr retry_plan = NULL;
	static SPIPlanPtr arm_plan = NULL;
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	int64		batch_id;
	int64		batches = 0;
	int64		requeued = 0;

	goodjob_require_arg(fcinfo, 0, "batch_id");
	batch_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(batch_id);

	SPI_connect();
	(void) goodjob_lock_batch(batch_id, true);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	goodjob_plan(&retry_plan,
				 "WITH d AS (DELETE FROM goodjob.finished_jobs"
				 " WHERE batch_id = $1 AND state = 'discarded' RETURNING *), "
				 "q AS (INSERT INTO goodjob.active_jobs (id, queue_name, priority,"
				 " job_class, args, state, scheduled_at, created_at, attempts,"
				 " max_attempts, error, batch_id, batch_callback_id)"
				 " SELECT id, queue_name, priority, job_class, args, 'queued', $2,"
				 " created_at, attempts, max_attempts, error, batch_id,"
				 " batch_callback_id FROM d" GOODJOB_RETURNING_KEYS ") "
				 "SELECT queue_name, pg_catalog.count(*)" GOODJOB_COUNT_KEYS
				 " FROM q GROUP BY queue_name",
				 2, argtypes);
	goodjob_add_counts(retry_plan, values, InvalidSnapshot, &batches, &requeued);
	goodjob_plan(&arm_plan,
				 "UPDATE goodjob.batches SET"
				 " enqueued_at = CASE WHEN enqueued_at IS NOT NULL THEN $2 END,"
				 " round_started_at = $2,"
				 " discarded_at = NULL, jobs_finished_at = NULL, finished_at = NULL,"
				 " cancelled_at = NULL"
				 " WHERE id = $1",
				 2, argtypes);
	if (SPI_execute_plan(arm_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not re-arm batch " INT64_FORMAT, batch_id);
	SPI_finish();

	goodjob_wake_maintainer_at_commit();
	PG_RETURN_INT32((int32) requeued);
}

/*
 * goodjob.batch_cancel(batch_id, reason) RETURNS integer
 *
 * Discards every unfinished job of the batch, running ones included (their
 * holders' complete then returns false), and arms it, so it finishes with
 * on_discard and on_finish. Returns how many jobs were discarded.
 */
Datum
goodjob_batch_cancel(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr discard_plan = NULL;
	static SPIPlanPtr cancel_plan = NULL;
	Oid			argtypes[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	int64		batch_id;
	uint64		discarded;

	goodjob_require_arg(fcinfo, 0, "batch_id");
	batch_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(batch_id);
	values[2] = PG_ARGISNULL(1) ?
		CStringGetTextDatum("batch cancelled") : PG_GETARG_DATUM(1);

	SPI_connect();
	(void) goodjob_lock_batch(batch_id, true);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	goodjob_plan(&discard_plan,
				 "WITH d AS (DELETE FROM goodjob.active_jobs WHERE batch_id = $1"
				 " RETURNING *) "
				 GOODJOB_INSERT_FINISHED_FROM_D("'discarded'", "$2", "$3"),
				 3, argtypes);
	if (SPI_execute_plan(discard_plan, values, NULL, false, 0) < 0)
		elog(ERROR, "could not cancel batch " INT64_FORMAT, batch_id);
	discarded = SPI_processed;
	goodjob_plan(&cancel_plan,
				 "UPDATE goodjob.batches SET cancelled_at = $2,"
				 " enqueued_at = COALESCE(enqueued_at, $2)"
				 " WHERE id = $1",
				 2, argtypes);
	if (SPI_execute_plan(cancel_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not cancel batch " INT64_FORMAT, batch_id);
	SPI_finish();

	goodjob_wake_maintainer_at_commit();
	PG_RETURN_INT32((int32) discarded);
}

/*
 * goodjob.batch_update_properties(batch_id, patch) RETURNS jsonb
 *
 * Merges the object patch into the batch's properties (top-level keys of
 * the patch replace those of the properties) atomically; returns the result.
 */
Datum
goodjob_batch_update_properties(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, JSONBOID};
	Datum		values[2];
	Datum		result;
	bool		isnull;
	int64		batch_id;

	goodjob_require_arg(fcinfo, 0, "batch_id");
	require_object(fcinfo, 1, "patch");
	batch_id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(batch_id);
	values[1] = PG_GETARG_DATUM(1);

	SPI_connect();
	goodjob_plan(&plan,
				 "UPDATE goodjob.batches SET properties = properties || $2"
				 " WHERE id = $1 RETURNING properties",
				 2, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not update batch " INT64_FORMAT, batch_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("batch " INT64_FORMAT " does not exist", batch_id)));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();

	PG_RETURN_DATUM(result);
}
