/*-------------------------------------------------------------------------
 * args.c
 *	  Argument checks, retry timing, notifications and plan caching shared
 *	  by goodjob's SQL-callable functions.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "shmem.h"

/* Raises 22004 when argument argno is NULL. */
void
goodjob_require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", name)));
}

/*
 * Returns the lease length asked for by interval argument argno, in
 * microseconds, or goodjob.default_lease when it is NULL.
 */
int64
goodjob_lease_usecs(FunctionCallInfo fcinfo, int argno)
{
	Interval   *lease;
	double		usecs;

	if (PG_ARGISNULL(argno))
		return (int64) goodjob_default_lease_ms * 1000;

	lease = PG_GETARG_INTERVAL_P(argno);
	usecs = (double) lease->month * DAYS_PER_MONTH * USECS_PER_DAY +
		(double) lease->day * USECS_PER_DAY + (double) lease->time;

	if (usecs <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease must be positive")));
	if (usecs > GOODJOB_MAX_LEASE_USECS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease must not be longer than 7 days"),
				 errhint("Keep a long job's lease alive with goodjob.heartbeat().")));
	return (int64) usecs;
}

/* Rejects an empty job class. */
void
goodjob_check_job_class(text *job_class)
{
	if (VARSIZE_ANY_EXHDR(job_class) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("job class must not be empty")));
}

/*
 * Rejects a queue name that a queue specification could not select: empty,
 * "*", containing a comma, starting with "+" or "-", or with spaces around it.
 */
void
goodjob_check_queue_name(const char *queue_name)
{
	size_t		len = strlen(queue_name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue name must not be empty")));
	if (strcmp(queue_name, "*") == 0 || strchr(queue_name, ',') != NULL ||
		queue_name[0] == '+' || queue_name[0] == '-' ||
		isspace((unsigned char) queue_name[0]) ||
		isspace((unsigned char) queue_name[len - 1]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid queue name \"%s\"", queue_name),
				 errdetail("A queue name must not be \"*\", contain a comma, start with \"+\" or \"-\", or begin or end with white space.")));
}

/*
 * Returns the max_attempts argument argno, or goodjob.default_max_attempts
 * when it is NULL.
 */
int32
goodjob_max_attempts_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		max_attempts;

	if (PG_ARGISNULL(argno))
		return goodjob_default_max_attempts;
	max_attempts = PG_GETARG_INT32(argno);
	if (max_attempts < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_attempts must be at least 1, not %d", max_attempts)));
	return max_attempts;
}

/* Rejects an infinite time, which would park a job forever or run it first forever. */
void
goodjob_check_finite(TimestampTz ts, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite time", name)));
}

/* Rejects an attempt number that no claim can have produced. */
void
goodjob_check_attempt(int32 attempt)
{
	if (attempt < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attempt must be at least 1, not %d", attempt),
				 errhint("Pass the attempts value of the row goodjob.claim() returned.")));
}

/*
 * Returns the length of the one-dimensional array argument argno, which must
 * not be NULL. Raises 22023 for a multi-dimensional array and 22004 for NULL
 * elements unless allow_null_elements.
 */
int
goodjob_array_arg_length(FunctionCallInfo fcinfo, int argno, const char *name,
						 bool allow_null_elements)
{
	ArrayType  *array;

	goodjob_require_arg(fcinfo, argno, name);
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("array \"%s\" must be one-dimensional", name)));
	if (!allow_null_elements && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array \"%s\" must not contain null elements", name)));
	return ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
}

/*
 * Locks batch batch_id FOR UPDATE (exclusive) or FOR KEY SHARE and returns
 * whether it is cancelled; raises 23503 when it does not exist. Must run
 * inside SPI.
 */
bool
goodjob_lock_batch(int64 batch_id, bool exclusive)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;

	values[0] = Int64GetDatum(batch_id);
	goodjob_plan(&plans[exclusive],
				 exclusive ?
				 "SELECT cancelled_at IS NOT NULL FROM goodjob.batches"
				 " WHERE id = $1 FOR UPDATE" :
				 "SELECT cancelled_at IS NOT NULL FROM goodjob.batches"
				 " WHERE id = $1 FOR KEY SHARE",
				 1, argtypes);
	if (SPI_execute_plan(plans[exclusive], values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not lock batch " INT64_FORMAT, batch_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("batch " INT64_FORMAT " does not exist", batch_id)));
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Raises 23503 unless batch batch_id exists and 22023 if it is cancelled,
 * and locks it FOR KEY SHARE (as its foreign key would) so that it cannot go
 * away, or be cancelled, before commit. Must run inside SPI.
 */
void
goodjob_check_batch_exists(int64 batch_id)
{
	if (goodjob_lock_batch(batch_id, false))
		goodjob_report_cancelled(batch_id);
}

/* Raises 22023 for the cancelled batch batch_id. */
void
goodjob_report_cancelled(int64 batch_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("batch " INT64_FORMAT " is cancelled", batch_id),
			 errhint("Use goodjob.batch_retry() to run its discarded jobs again.")));
}

/*
 * Before a job is discarded: locks its batch row (if it has one) FOR KEY
 * SHARE until commit, so that batch_enqueue() and batch_retry(), which lock
 * it FOR UPDATE, never start a new round while the discard is in flight (see
 * batch.c). Take the discard's time after this. Must run inside SPI.
 */
void
goodjob_lock_job_batch(int64 job_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(job_id);
	goodjob_plan(&plan,
				 "SELECT 1 FROM goodjob.batches b"
				 " WHERE b.id = (SELECT a.batch_id FROM goodjob.active_jobs a"
				 " WHERE a.id = $1) FOR KEY SHARE OF b",
				 1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the batch of job " INT64_FORMAT, job_id);
}

/*
 * Raises 22023 unless job job_id exists, active or finished. Called once a
 * statement keyed by the job changed nothing, to tell "not in a state this
 * applies to" (a quiet false) from "no such job" (an error). Must run inside SPI.
 */
void
goodjob_ensure_job_exists(int64 job_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(job_id);
	goodjob_plan(&plan,
				 "SELECT 1 FROM goodjob.active_jobs WHERE id = $1 "
				 "UNION ALL "
				 "SELECT 1 FROM goodjob.finished_jobs WHERE id = $1",
				 1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up job " INT64_FORMAT, job_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("job " INT64_FORMAT " does not exist", job_id)));
}

/*
 * Returns when a job whose attempt number "attempt" failed runs again:
 * now + attempt^exponent + base seconds, stretched by up to the jitter
 * fraction at random so that jobs failing together do not retry together.
 */
TimestampTz
goodjob_retry_time(int32 attempt, TimestampTz now)
{
	double		delay_s;

	delay_s = pow((double) attempt, goodjob_backoff_exponent) + goodjob_backoff_base_s;
	delay_s *= 1.0 + goodjob_backoff_jitter * pg_prng_double(&pg_global_prng_state);
	/* one year is far past any useful retry and keeps the sum in range */
	delay_s = Min(delay_s, 365.0 * SECS_PER_DAY);
	return now + (TimestampTz) (delay_s * USECS_PER_SEC);
}

/*
 * Queues NOTIFY goodjob with payload {"queue_name": ..., "count": n}; it is
 * delivered when the transaction commits.
 */
void
goodjob_notify_enqueued(const char *queue_name, int64 count)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"queue_name\": ");
	escape_json(&payload, queue_name);
	appendStringInfo(&payload, ", \"count\": " INT64_FORMAT "}", count);
	Async_Notify("goodjob", payload.data);
	pfree(payload.data);
}

/*
 * After a statement ending in GOODJOB_RETURNING_BATCH_TOUCHED, asks for the
 * maintainer to be woken at commit if any moved job concerned a batch.
 */
void
goodjob_wake_if_batch_touched(void)
{
	uint64		i;
	bool		isnull;

	for (i = 0; i < SPI_processed; i++)
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
									   SPI_tuptable->tupdesc, 1, &isnull)))
		{
			goodjob_wake_maintainer_at_commit();
			return;
		}
}

/*
 * Returns the plan for sql, preparing and keeping it in *cache on first use.
 * The plan is generic: goodjob's statements are keyed by ids and queues
 * whose best plan does not depend on the values, and replanning each call
 * (what the plan cache may otherwise settle on) costs more than the
 * statement. Must run inside SPI.
 */
SPIPlanPtr
goodjob_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	return goodjob_plan_ext(cache, sql, nargs, argtypes, true);
}

/*
 * goodjob_plan, but with generic false the plan cache may plan each call
 * for its values, for statements whose best plan depends on them.
 */
SPIPlanPtr
goodjob_plan_ext(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes,
				 bool generic)
{
	SPIPlanPtr	plan;

	if (*cache != NULL)
		return *cache;
	plan = SPI_prepare_cursor(sql, nargs, argtypes,
							  generic ? CURSOR_OPT_GENERIC_PLAN : 0);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	*cache = plan;
	return plan;
}
