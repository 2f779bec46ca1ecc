/*-------------------------------------------------------------------------
 * enqueue.c
 *	  goodjob.enqueue(): adds one job.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "claim_start.h"

PG_FUNCTION_INFO_V1(goodjob_enqueue);

/*
 * goodjob.enqueue(job_class, args, queue_name, priority, scheduled_at,
 *				   max_attempts, batch_id) RETURNS bigint
 *
 * Inserts a queued job and returns its id. A NULL scheduled_at means now, a
 * NULL max_attempts goodjob.default_max_attempts; job_class, args, queue_name
 * and priority are required.
 */
Datum
goodjob_enqueue(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[7] = {TEXTOID, TEXTOID, JSONBOID, INT4OID,
	TIMESTAMPTZOID, INT4OID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char	   *queue_name;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		isnull;
	int64		job_id;

	goodjob_require_arg(fcinfo, 0, "job_class");
	goodjob_require_arg(fcinfo, 1, "args");
	goodjob_require_arg(fcinfo, 2, "queue_name");
	goodjob_require_arg(fcinfo, 3, "priority");

	goodjob_check_job_class(PG_GETARG_TEXT_PP(0));
	queue_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	goodjob_check_queue_name(queue_name);

	values[0] = PG_GETARG_DATUM(2);
	values[1] = PG_GETARG_DATUM(0);
	values[2] = PG_GETARG_DATUM(1);
	values[3] = PG_GETARG_DATUM(3);
	if (!PG_ARGISNULL(4))
		goodjob_check_finite(PG_GETARG_TIMESTAMPTZ(4), "scheduled_at");
	values[4] = PG_ARGISNULL(4) ? TimestampTzGetDatum(now) : PG_GETARG_DATUM(4);
	values[5] = Int32GetDatum(goodjob_max_attempts_arg(fcinfo, 5));
	if (PG_ARGISNULL(6))
	{
		values[6] = (Datum) 0;
		nulls[6] = 'n';
	}
	else
		values[6] = PG_GETARG_DATUM(6);

	SPI_connect();
	if (!PG_ARGISNULL(6))
		goodjob_check_batch_exists(PG_GETARG_INT64(6));

	goodjob_plan(&plan,
				 "INSERT INTO goodjob.active_jobs "
				 "(queue_name, job_class, args, priority, scheduled_at, "
				 " max_attempts, batch_id, created_at) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, pg_catalog.now()) "
				 "RETURNING id",
				 7, argtypes);
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not insert job");
	job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	goodjob_note_queued(queue_name, DatumGetInt32(values[3]),
						DatumGetTimestampTz(values[4]), job_id);
	goodjob_notify_enqueued(queue_name, 1);
	PG_RETURN_INT64(job_id);
}
