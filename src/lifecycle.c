/*-------------------------------------------------------------------------
 * lifecycle.c
 *	  What a worker does with a claimed job: goodjob.complete(),
 *	  goodjob.fail() and goodjob.heartbeat().
 *
 * Every statement here is keyed by the fencing token (job id, attempt) and
 * requires the job to be running: a worker whose lease expired and whose job
 * was taken over (or discarded) changes nothing and is told so.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "claim_start.h"

PG_FUNCTION_INFO_V1(goodjob_complete);
PG_FUNCTION_INFO_V1(goodjob_complete_many);
PG_FUNCTION_INFO_V1(goodjob_complete_ids);
PG_FUNCTION_INFO_V1(goodjob_fail);
PG_FUNCTION_INFO_V1(goodjob_heartbeat);

#define HOLDS_TOKEN "id = $1 AND attempts = $2 AND state = 'running'"

/*
 * Runs a kept plan whose first two parameters are the fencing token and
 * returns the number of rows it changed; when none changed, checks that the
 * job exists at all. Must run inside SPI.
 */
static uint64
run_fenced(SPIPlanPtr plan, Datum *values, char *nulls)
{
	uint64		changed;

	if (SPI_execute_plan(plan, values, nulls, false, 0) < 0)
		elog(ERROR, "could not update job " INT64_FORMAT, DatumGetInt64(values[0]));
	changed = SPI_processed;
	if (changed == 0)
		goodjob_ensure_job_exists(DatumGetInt64(values[0]));
	else if (SPI_tuptable != NULL)
		goodjob_wake_if_batch_touched();
	return changed;
}

/* Reads and checks the (job id, attempt) arguments into values[0..1]. */
static void
token_args(FunctionCallInfo fcinfo, Datum *values)
{
	goodjob_require_arg(fcinfo, 0, "job_id");
	goodjob_require_arg(fcinfo, 1, "attempt");
	goodjob_check_attempt(PG_GETARG_INT32(1));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
}

/*
 * goodjob.complete(job_id, attempt) RETURNS boolean
 *
 * Marks the job succeeded; false when the token no longer holds.
 */
Datum
goodjob_complete(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
	Datum		values[3];
	uint64		changed;

	token_args(fcinfo, values);
	values[2] = TimestampTzGetDatum(GetCurrentTimestamp());

	SPI_connect();
	goodjob_plan(&plan,
				 "WITH d AS (DELETE FROM goodjob.active_jobs WHERE " HOLDS_TOKEN
				 " RETURNING *) "
				 GOODJOB_INSERT_FINISHED_FROM_D("'succeeded'", "$3", "NULL")
				 GOODJOB_RETURNING_BATCH_TOUCHED,
				 3, argtypes);
	changed = run_fenced(plan, values, NULL);
	SPI_finish();

	PG_RETURN_BOOL(changed > 0);
}

/*
 * Completes the jobs of the (job_ids, attempts) arrays of fcinfo in one
 * statement and, inside SPI, leaves SPI_tuptable with one row per job whose
 * token held: (batch touched, id). Returns how many; the caller calls
 * SPI_finish.
 */
static uint64
complete_arrays(FunctionCallInfo fcinfo)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8ARRAYOID, INT4ARRAYOID, TIMESTAMPTZOID};
	Datum		values[3];
	int			njobs;
	int			nattempts;

	njobs = goodjob_array_arg_length(fcinfo, 0, "job_ids", false);
	nattempts = goodjob_array_arg_length(fcinfo, 1, "attempts", false);
	if (njobs != nattempts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("arrays \"job_ids\" and \"attempts\" must have the same length"),
				 errdetail_plural("\"job_ids\" has %d element and \"attempts\" has %d.",
								  "\"job_ids\" has %d elements and \"attempts\" has %d.",
								  njobs, njobs, nattempts)));

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = TimestampTzGetDatum(GetCurrentTimestamp());

	SPI_connect();
	if (njobs == 0)
		return 0;
	goodjob_plan(&plan,
				 "WITH t AS (SELECT * FROM unnest($1, $2) AS t(id, attempt)), "
				 "d AS (DELETE FROM goodjob.active_jobs j USING t"
				 " WHERE j.id = t.id AND j.attempts = t.attempt"
				 " AND j.state = 'running' RETURNING j.*) "
				 GOODJOB_INSERT_FINISHED_FROM_D("'succeeded'", "$3", "NULL")
				 GOODJOB_RETURNING_BATCH_TOUCHED ", id",
				 3, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 0) < 0)
		elog(ERROR, "could not complete jobs");
	goodjob_wake_if_batch_touched();
	return SPI_processed;
}

/*
 * goodjob.complete(job_ids bigint[], attempts integer[]) RETURNS integer
 *
 * Completes many jobs in one statement; returns how many tokens held.
 * Unknown ids count as tokens that no longer hold.
 */
Datum
goodjob_complete_many(PG_FUNCTION_ARGS)
{
	uint64		changed = complete_arrays(fcinfo);

	SPI_finish();
	PG_RETURN_INT32((int32) changed);
}

/*
 * goodjob.complete_ids(job_ids bigint[], attempts integer[])
 *	RETURNS SETOF bigint
 *
 * goodjob.complete(bigint[], integer[]), but returns the ids of the jobs
 * whose tokens held, so that a worker knows which of its completions count.
 */
Datum
goodjob_complete_ids(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		changed;
	uint64		i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	changed = complete_arrays(fcinfo);
	for (i = 0; i < changed; i++)
	{
		bool		isnull = false;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									   2, &isnull);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &isnull);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * goodjob.fail(job_id, attempt, error, retry, retry_at) RETURNS text
 *
 * Records a failed attempt. The job is queued again at retry_at (default:
 * polynomial backoff) while it has attempts left and retry is true, else
 * discarded. Returns the new state, or NULL when the token no longer holds.
 */
Datum
goodjob_fail(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr retry_plan = NULL;
	static SPIPlanPtr discard_plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT4OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	TimestampTz now = GetCurrentTimestamp();
	const char *new_state = NULL;

	token_args(fcinfo, values);
	goodjob_require_arg(fcinfo, 3, "retry");
	if (PG_ARGISNULL(2))
		nulls[3] = 'n';
	else
		values[3] = PG_GETARG_DATUM(2);

	SPI_connect();
	if (PG_GETARG_BOOL(3))
	{
		if (!PG_ARGISNULL(4))
			goodjob_check_finite(PG_GETARG_TIMESTAMPTZ(4), "retry_at");
		values[2] = PG_ARGISNULL(4) ?
			TimestampTzGetDatum(goodjob_retry_time(PG_GETARG_INT32(1), now)) :
			PG_GETARG_DATUM(4);
		goodjob_plan(&retry_plan,
					 "UPDATE goodjob.active_jobs SET state = 'queued',"
					 " scheduled_at = $3, error = $4, locked_by = NULL,"
					 " locked_at = NULL, lease_expires_at = NULL, lease = NULL"
					 " WHERE " HOLDS_TOKEN " AND attempts < max_attempts"
					 " RETURNING queue_name, priority",
					 4, argtypes);
		if (SPI_execute_plan(retry_plan, values, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not retry job");
		if (SPI_processed > 0)
		{
			bool		isnull;

			goodjob_note_queued(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
								DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 2, &isnull)),
								DatumGetTimestampTz(values[2]), DatumGetInt64(values[0]));
			new_state = "queued";
		}
	}
	if (new_state == NULL)
	{
		goodjob_lock_job_batch(DatumGetInt64(values[0]));
		values[2] = TimestampTzGetDatum(GetCurrentTimestamp());
		goodjob_plan(&discard_plan,
					 "WITH d AS (DELETE FROM goodjob.active_jobs WHERE " HOLDS_TOKEN
					 " RETURNING *) "
					 GOODJOB_INSERT_FINISHED_FROM_D("'discarded'", "$3", "$4")
					 GOODJOB_RETURNING_BATCH_TOUCHED,
					 4, argtypes);
		if (run_fenced(discard_plan, values, nulls) > 0)
			new_state = "discarded";
	}
	SPI_finish();

	if (new_state == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(new_state));
}

/*
 * goodjob.heartbeat(job_id, attempt, lease) RETURNS boolean
 *
 * Extends the lease of a running job to now + lease (default: the lease it
 * was claimed with); false when the token no longer holds.
 */
Datum
goodjob_heartbeat(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr given_plan = NULL;
	static SPIPlanPtr claimed_plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
	Datum		values[3];
	TimestampTz now = GetCurrentTimestamp();
	SPIPlanPtr	plan;
	uint64		changed;

	token_args(fcinfo, values);

	SPI_connect();
	if (PG_ARGISNULL(2))
	{
		values[2] = TimestampTzGetDatum(now);
		plan = goodjob_plan(&claimed_plan,
							"UPDATE goodjob.active_jobs"
							" SET lease_expires_at = $3 + lease"
							" WHERE " HOLDS_TOKEN,
							3, argtypes);
	}
	else
	{
		values[2] = TimestampTzGetDatum(now + goodjob_lease_usecs(fcinfo, 2));
		plan = goodjob_plan(&given_plan,
							"UPDATE goodjob.active_jobs SET lease_expires_at = $3"
							" WHERE " HOLDS_TOKEN,
							3, argtypes);
	}
	changed = run_fenced(plan, values, NULL);
	SPI_finish();

	PG_RETURN_BOOL(changed > 0);
}
