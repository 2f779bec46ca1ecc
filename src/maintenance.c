/*-------------------------------------------------------------------------
 * maintenance.c
 *	  goodjob.run_maintenance(): one pass of the housekeeping the background
 *	  worker does, callable by hand or from pg_cron.
 *
 * Today the pass reaps expired leases: a running job whose lease ran out
 * counts as a failed attempt with the error "lease expired" and is queued
 * again at once, or discarded when its attempts are used up.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(goodjob_run_maintenance);

/* Leases reaped per statement, so that one pass never holds huge locks. */
#define REAP_CHUNK 1000

/*
 * Reaps up to REAP_CHUNK expired leases. Rows a worker is completing right
 * now are locked and skipped. Adds to *requeued and *discarded, notifies the
 * queues that got jobs back and returns how many leases it reaped. Must run
 * inside SPI.
 */
static uint64
reap_expired_chunk(TimestampTz now, int64 *requeued, int64 *discarded)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	uint64		reaped = 0;
	uint64		i;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(REAP_CHUNK);
	goodjob_plan(&plan,
				 "WITH expired AS MATERIALIZED ("
				 " SELECT id FROM goodjob.active_jobs"
				 " WHERE state = 'running' AND lease_expires_at < $1"
				 " ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED), "
				 "requeued AS ("
				 " UPDATE goodjob.active_jobs j SET state = 'queued',"
				 " scheduled_at = $1, error = 'lease expired', locked_by = NULL,"
				 " locked_at = NULL, lease_expires_at = NULL, lease = NULL"
				 " FROM expired e WHERE j.id = e.id AND j.attempts < j.max_attempts"
				 " RETURNING j.queue_name), "
				 "d AS ("
				 " DELETE FROM goodjob.active_jobs j USING expired e"
				 " WHERE j.id = e.id AND j.attempts >= j.max_attempts"
				 " RETURNING j.*), "
				 "discarded AS ("
				 GOODJOB_INSERT_FINISHED_FROM_D("'discarded'", "$1", "'lease expired'")
				 " RETURNING 1) "
				 "SELECT queue_name, pg_catalog.count(*) FROM requeued"
				 " GROUP BY queue_name "
				 "UNION ALL "
				 "SELECT NULL, pg_catalog.count(*) FROM discarded",
				 2, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not reap expired leases");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		char	   *queue_name = SPI_getvalue(row, SPI_tuptable->tupdesc, 1);
		bool		isnull;
		int64		count = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc,
														2, &isnull));

		if (queue_name != NULL)
		{
			*requeued += count;
			goodjob_notify_enqueued(queue_name, count);
		}
		else
			*discarded += count;
		reaped += count;
	}
	return reaped;
}

/*
 * goodjob.run_maintenance() RETURNS jsonb
 *
 * Runs one maintenance pass and returns what it did, e.g.
 * {"expired_leases_requeued": 2, "expired_leases_discarded": 0}.
 */
Datum
goodjob_run_maintenance(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		requeued = 0;
	int64		discarded = 0;
	char	   *report;

	SPI_connect();
	while (reap_expired_chunk(now, &requeued, &discarded) >= REAP_CHUNK)
		CHECK_FOR_INTERRUPTS();
	SPI_finish();

	report = psprintf("{\"expired_leases_requeued\": " INT64_FORMAT
					  ", \"expired_leases_discarded\": " INT64_FORMAT "}",
					  requeued, discarded);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(report)));
}
