/*-------------------------------------------------------------------------
 * maintenance.c
 *	  One maintenance pass, and goodjob.run_maintenance() which runs one on
 *	  demand (by hand, or from pg_cron where the library is not preloaded).
 *
 * A pass reaps expired leases (an expired lease counts as a failed attempt
 * with the error "lease expired": queued again at once, or discarded when
 * its attempts are used up), finishes batches and enqueues their callbacks
 * (batch_finish.c), and applies retention to finished jobs and batches
 * (retention.c).
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "claim_start.h"
#include "maintenance.h"

PG_FUNCTION_INFO_V1(goodjob_run_maintenance);

/*
 * Advisory lock (per database) held by a pass until its transaction ends, so
 * that two passes never run at once: each updates many batch rows, and two at
 * once could lock them in opposite orders and deadlock.
 */
#define MAINTENANCE_LOCK_KEY INT64CONST(0x676f6f646a6f62)	/* "goodjob" */

/* Leases reaped per statement, so that one pass never holds huge locks. */
#define REAP_CHUNK 1000

/*
 * Runs a kept plan that returns (queue_name text, count bigint, then the
 * GOODJOB_COUNT_KEYS columns) rows: a row with a NULL queue counts into
 * *rows, the others are jobs made queued in that queue, which are notified,
 * noted for the claim start keys and added to *jobs. The statement runs on
 * snapshot, or on a new one if that is InvalidSnapshot. Must run inside SPI.
 */
void
goodjob_add_counts(SPIPlanPtr plan, Datum *values, Snapshot snapshot,
				   int64 *rows, int64 *jobs)
{
	uint64		i;

	if (SPI_execute_snapshot(plan, values, NULL, snapshot, InvalidSnapshot,
							 false, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run maintenance statement");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		char	   *queue_name = SPI_getvalue(row, SPI_tuptable->tupdesc, 1);
		bool		isnull;
		int64		count = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc,
														2, &isnull));

		if (queue_name == NULL)
			*rows += count;
		else
		{
			*jobs += count;
			if (count > 0)
			{
				TupleDesc	desc = SPI_tuptable->tupdesc;

				goodjob_notify_enqueued(queue_name, count);
				goodjob_note_queued(queue_name,
									DatumGetInt32(SPI_getbinval(row, desc, 3, &isnull)),
									DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull)),
									DatumGetInt64(SPI_getbinval(row, desc, 5, &isnull)));
			}
		}
	}
}

/*
 * Reaps up to REAP_CHUNK expired leases and returns how many. Rows a worker
 * is completing right now are locked and skipped. Must run inside SPI.
 */
static int64
reap_expired_chunk(TimestampTz now, MaintenanceReport *report)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	int64		discarded = 0;
	int64		requeued = 0;

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
				 " WHERE j.id = ANY (ARRAY(SELECT id FROM expired))"
				 " AND j.attempts < j.max_attempts"
				 GOODJOB_RETURNING_KEYS "), "
				 "d AS ("
				 " DELETE FROM goodjob.active_jobs j"
				 " WHERE j.id = ANY (ARRAY(SELECT id FROM expired))"
				 " AND j.attempts >= j.max_attempts"
				 " RETURNING j.*), "
				 "discarded AS ("
				 GOODJOB_INSERT_FINISHED_FROM_D("'discarded'", "$1", "'lease expired'")
				 " RETURNING 1) "
				 "SELECT NULL::text, pg_catalog.count(*)" GOODJOB_COUNT_NO_KEYS
				 " FROM discarded "
				 "UNION ALL "
				 "SELECT queue_name, pg_catalog.count(*)" GOODJOB_COUNT_KEYS
				 " FROM requeued GROUP BY queue_name",
				 2, argtypes);
	goodjob_add_counts(plan, values, InvalidSnapshot, &discarded, &requeued);
	report->leases_requeued += requeued;
	report->leases_discarded += discarded;
	return requeued + discarded;
}

/*
 * Takes the maintenance lock; with wait false, only if it is free. Returns
 * whether it holds it.
 */
static bool
lock_maintenance(bool wait)
{
	if (wait)
	{
		DirectFunctionCall1(pg_advisory_xact_lock_int8,
							Int64GetDatum(MAINTENANCE_LOCK_KEY));
		return true;
	}
	return DatumGetBool(DirectFunctionCall1(pg_try_advisory_xact_lock_int8,
											Int64GetDatum(MAINTENANCE_LOCK_KEY)));
}

/*
 * Runs one maintenance pass and adds what it did to *report (which may be
 * NULL). When another pass is running, waits for it if wait is true, else
 * does nothing and returns false. Must run inside SPI, in a transaction.
 */
bool
goodjob_maintenance_pass(MaintenanceReport *report, bool wait)
{
	MaintenanceReport ignored;
	TimestampTz now;

	if (!lock_maintenance(wait))
		return false;
	now = GetCurrentTimestamp();
	if (report == NULL)
	{
		memset(&ignored, 0, sizeof(ignored));
		report = &ignored;
	}

	while (reap_expired_chunk(now, report) >= REAP_CHUNK)
		CHECK_FOR_INTERRUPTS();
	goodjob_finish_batches(report);
	goodjob_apply_retention(now, report);
	goodjob_claim_start_reset(wait);
	return true;
}

/*
 * goodjob.run_maintenance() RETURNS jsonb
 *
 * Runs one maintenance pass and returns what it did, as counts.
 */
Datum
goodjob_run_maintenance(PG_FUNCTION_ARGS)
{
	MaintenanceReport report;
	char	   *json;

	memset(&report, 0, sizeof(report));
	SPI_connect();
	goodjob_maintenance_pass(&report, true);
	SPI_finish();

	json = psprintf("{\"expired_leases_requeued\": " INT64_FORMAT
					", \"expired_leases_discarded\": " INT64_FORMAT
					", \"batches_discarded\": " INT64_FORMAT
					", \"batches_jobs_finished\": " INT64_FORMAT
					", \"batches_finished\": " INT64_FORMAT
					", \"callbacks_enqueued\": " INT64_FORMAT
					", \"partitions_created\": " INT64_FORMAT
					", \"partitions_dropped\": " INT64_FORMAT
					", \"finished_jobs_deleted\": " INT64_FORMAT
					", \"batches_deleted\": " INT64_FORMAT "}",
					report.leases_requeued, report.leases_discarded,
					report.batches_discarded, report.batches_jobs_finished,
					report.batches_finished, report.callbacks_enqueued,
					report.partitions_created, report.partitions_dropped,
					report.jobs_deleted, report.batches_deleted);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
