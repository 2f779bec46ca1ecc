/*-------------------------------------------------------------------------
 * claim.c
 *	  goodjob.claim(): leases ready jobs to a worker.
 *
 * One statement per claim (per queue for "+a,b"): lock the next ready rows
 * with FOR UPDATE SKIP LOCKED, mark them running with a lease and count the
 * attempt. The new attempt number is the worker's fencing token.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "access/xact.h"

#include "claim_start.h"
#include "queue_spec.h"

/* Columns of the claim's result (GOODJOB_ACTIVE_COLUMNS), 1-based. */
#define CLAIM_COL_ID 1
#define CLAIM_COL_PRIORITY 3
#define CLAIM_COL_SCHEDULED_AT 7

PG_FUNCTION_INFO_V1(goodjob_claim);

/*
 * The claim statement; %s is the queue filter on $9. The scan starts at
 * the key ($6, $7, $8) (see claim_start.c). The UPDATE finds the
 * locked rows by primary key (= ANY of an array: a join could be planned as
 * a scan of the whole table, since a generic plan cannot know the LIMIT).
 * The final ORDER BY returns rows in claim order (RETURNING alone has none).
 */
#define CLAIM_SQL \
	"WITH c AS MATERIALIZED (" \
	" SELECT id FROM goodjob.active_jobs" \
	" WHERE state = 'queued' AND scheduled_at <= $1 %s" \
	" AND (priority, scheduled_at, id) >= ($6, $7, $8)" \
	" ORDER BY %spriority, scheduled_at, id" \
	" LIMIT $2 FOR UPDATE SKIP LOCKED)," \
	" u AS (" \
	" UPDATE goodjob.active_jobs j" \
	" SET state = 'running', attempts = j.attempts + 1, locked_by = $3," \
	" locked_at = $1, lease_expires_at = $4, lease = $5" \
	" WHERE j.id = ANY (ARRAY(SELECT id FROM c))" \
	" RETURNING j.*)" \
	" SELECT " GOODJOB_ACTIVE_COLUMNS " FROM u" \
	" ORDER BY priority, scheduled_at, id"

/* The queue filters, one kept plan each. */
typedef enum ClaimFilter
{
	FILTER_NONE,				/* every queue */
	FILTER_ONE,					/* queue_name = $9 */
	FILTER_ANY,					/* queue_name = ANY ($9) */
	FILTER_NOT_ANY,				/* queue_name <> ALL ($9) */
	NUM_FILTERS
} ClaimFilter;

/*
 * Leading ORDER BY column per filter: ordering one queue's jobs by
 * queue_name first (a constant there) steers the plan to the per-queue
 * index, whatever the queue's share of the table.
 */
static const char *const filter_order[NUM_FILTERS] = {
	"",
	"queue_name, ",
	"",
	"",
};

static const char *const filter_sql[NUM_FILTERS] = {
	"",
	"AND queue_name = $9",
	"AND queue_name = ANY ($9)",
	"AND queue_name <> ALL ($9)",
};

static SPIPlanPtr claim_plans[NUM_FILTERS];

/* Returns the kept claim plan for filter. Must run inside SPI. */
static SPIPlanPtr
claim_plan(ClaimFilter filter)
{
	Oid			argtypes[9] = {TIMESTAMPTZOID, INT8OID, TEXTOID, TIMESTAMPTZOID,
		INTERVALOID, INT4OID, TIMESTAMPTZOID, INT8OID,
	filter == FILTER_ONE ? TEXTOID : TEXTARRAYOID};
	int			nargs = filter == FILTER_NONE ? 8 : 9;

	if (claim_plans[filter] != NULL)
		return claim_plans[filter];
	/*
	 * A list of queues is planned per call: whether to walk the index across
	 * queues or to collect each queue's jobs depends on how many each holds.
	 */
	return goodjob_plan_ext(&claim_plans[filter],
							psprintf(CLAIM_SQL, filter_sql[filter], filter_order[filter]),
							nargs, argtypes,
							filter == FILTER_NONE || filter == FILTER_ONE);
}

/* Returns the names as a text[] datum. */
static Datum
queue_array(char **names, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(names[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Raises the start key of queue (NULL: every queue) to the last of the
 * claimed rows of SPI_tuptable (they are in claim order).
 */
static void
raise_start(const char *queue, uint64 epoch)
{
	HeapTuple	last = SPI_tuptable->vals[SPI_processed - 1];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	ClaimKey	key;
	bool		isnull;

	key.priority = DatumGetInt32(SPI_getbinval(last, desc, CLAIM_COL_PRIORITY, &isnull));
	key.scheduled_at = DatumGetTimestampTz(SPI_getbinval(last, desc,
														 CLAIM_COL_SCHEDULED_AT, &isnull));
	key.id = DatumGetInt64(SPI_getbinval(last, desc, CLAIM_COL_ID, &isnull));
	goodjob_claim_start_raise(queue, &key, epoch);
}

/*
 * Runs one claim of up to limit jobs and appends the rows to the result set.
 * values[0..4] are set by the caller; queues is $9 (unused for FILTER_NONE),
 * queue the one queue of FILTER_ONE. Returns the number of jobs claimed.
 */
static int64
claim_some(ReturnSetInfo *rsinfo, ClaimFilter filter, Datum *values,
		   char *nulls, int64 limit, Datum queues, const char *queue)
{
	SPIPlanPtr	plan = claim_plan(filter);
	ClaimKey	start = goodjob_claim_key_min;
	uint64		epoch = 0;
	bool		keyed = false;
	uint64		i;

	/* read before the statement takes its snapshot (see claim_start.c) */
	if (filter == FILTER_NONE || filter == FILTER_ONE)
		keyed = goodjob_claim_start_get(queue, &start, &epoch);
	if (!keyed)
		start = goodjob_claim_key_min;

	values[1] = Int64GetDatum(limit);
	values[5] = Int32GetDatum(start.priority);
	values[6] = TimestampTzGetDatum(start.scheduled_at);
	values[7] = Int64GetDatum(start.id);
	values[8] = queues;
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not claim jobs");
	/* a snapshot older than the statement may not see what was noted */
	if (keyed && SPI_processed > 0 && !IsolationUsesXactSnapshot())
		raise_start(queue, epoch);

	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[17];
		bool		rownulls[17];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, row, rownulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
	return (int64) SPI_processed;
}

/*
 * goodjob.claim(queues, worker, max_jobs, lease) RETURNS SETOF goodjob.jobs
 *
 * Leases up to max_jobs ready jobs of the queues named by the GoodJob queue
 * specification, in claim order: queue preference for "+a,b", then priority,
 * scheduled_at and id.
 */
Datum
goodjob_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueSpec  *spec;
	int32		max_jobs;
	int64		lease_usecs;
	TimestampTz now = GetCurrentTimestamp();
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Interval	lease;

	goodjob_require_arg(fcinfo, 0, "queues");
	goodjob_require_arg(fcinfo, 2, "max_jobs");

	spec = parse_queue_spec(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	max_jobs = PG_GETARG_INT32(2);
	if (max_jobs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_jobs must be at least 1, not %d", max_jobs)));
	lease_usecs = goodjob_lease_usecs(fcinfo, 3);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	/* the lease is stored as given in time units, for heartbeat's default */
	lease.month = 0;
	lease.day = 0;
	lease.time = lease_usecs;

	values[0] = TimestampTzGetDatum(now);
	if (PG_ARGISNULL(1))
	{
		values[2] = (Datum) 0;
		nulls[2] = 'n';
	}
	else
		values[2] = PG_GETARG_DATUM(1);
	values[3] = TimestampTzGetDatum(now + lease_usecs);
	values[4] = IntervalPGetDatum(&lease);

	SPI_connect();
	switch (spec->kind)
	{
		case QUEUES_ALL:
			claim_some(rsinfo, FILTER_NONE, values, nulls, max_jobs, (Datum) 0, NULL);
			break;
		case QUEUES_ONLY:
			if (spec->nqueues == 1)
				claim_some(rsinfo, FILTER_ONE, values, nulls, max_jobs,
						   CStringGetTextDatum(spec->queues[0]), spec->queues[0]);
			else
				claim_some(rsinfo, FILTER_ANY, values, nulls, max_jobs,
						   queue_array(spec->queues, spec->nqueues), NULL);
			break;
		case QUEUES_EXCEPT:
			claim_some(rsinfo, FILTER_NOT_ANY, values, nulls, max_jobs,
					   queue_array(spec->queues, spec->nqueues), NULL);
			break;
		case QUEUES_ORDERED:
			{
				int64		remaining = max_jobs;
				int			i;

				for (i = 0; i < spec->nqueues && remaining > 0; i++)
					remaining -= claim_some(rsinfo, FILTER_ONE, values, nulls,
											remaining,
											CStringGetTextDatum(spec->queues[i]),
											spec->queues[i]);
				break;
			}
	}
	SPI_finish();

	return (Datum) 0;
}
