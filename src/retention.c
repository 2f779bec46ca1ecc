/*-------------------------------------------------------------------------
 * retention.c
 *	  The retention part of a maintenance pass: daily partitions of
 *	  goodjob.finished_jobs are created ahead of time and dropped whole once
 *	  older than goodjob.retention, so retention never deletes rows from (or
 *	  makes vacuum work in) the hot goodjob.active_jobs.
 *
 * Partitions are named finished_jobs_pYYYYMMDD and cover one UTC day. Rows
 * outside every dated partition (before the first one existed) go to
 * finished_jobs_default, which is trimmed by DELETE. Finished batches older
 * than the retention whose jobs are gone are deleted too.
 *
 * Creating or dropping a partition needs an ACCESS EXCLUSIVE lock on
 * finished_jobs (and the default partition), which every completion
 * conflicts with. The locks are only tried: when a completion holds one, the
 * DDL waits for a later pass instead of queueing, so that it never stalls
 * workers behind it. Partitions are made a week ahead, which leaves many
 * passes for that; a day that still has none keeps its rows in the default
 * partition, which retention trims by DELETE.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "maintenance.h"

/* Dated partitions kept ready beyond today. */
#define PARTITIONS_AHEAD 7

/* Returns midnight UTC of the day holding t. */
static TimestampTz
day_start(TimestampTz t)
{
	TimestampTz into_day = t % USECS_PER_DAY;

	return t - (into_day < 0 ? into_day + USECS_PER_DAY : into_day);
}

/* Returns "YYYYMMDD" for the UTC day starting at day. */
static char *
day_label(TimestampTz day)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(day, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	return psprintf("%04d%02d%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
}

/* Runs a utility or DML statement through SPI. */
static void
run_sql(const char *sql)
{
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run \"%s\"", sql);
}

/*
 * Takes ACCESS EXCLUSIVE on relation goodjob.relname if that is possible
 * right away, and returns whether it did. The lock is kept to commit.
 */
static bool
try_lock_exclusive(const char *relname)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid("goodjob", false));

	return OidIsValid(relid) && ConditionalLockRelationOid(relid, AccessExclusiveLock);
}

/* Gives back a lock taken by try_lock_exclusive that nothing used yet. */
static void
unlock_exclusive(const char *relname)
{
	UnlockRelationOid(get_relname_relid(relname, get_namespace_oid("goodjob", false)),
					  AccessExclusiveLock);
}

/* Returns whether relation goodjob.name exists. */
static bool
goodjob_relation_exists(const char *name)
{
	return OidIsValid(get_relname_relid(name, get_namespace_oid("goodjob", false)));
}

/* Runs the one-boolean plan and returns its result. */
static bool
default_has_rows(SPIPlanPtr plan, Datum *values)
{
	bool		isnull;

	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look into goodjob.finished_jobs_default");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Creates the partition for the day starting at day unless it exists, the
 * default partition already holds rows of that day, or the locks are busy.
 * Returns whether it did.
 */
static bool
create_day_partition(TimestampTz day)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	char	   *name = psprintf("finished_jobs_p%s", day_label(day));
	char	   *from = DatumGetCString(DirectFunctionCall1(timestamptz_out,
														   TimestampTzGetDatum(day)));
	char	   *to = DatumGetCString(DirectFunctionCall1(timestamptz_out,
														 TimestampTzGetDatum(day + USECS_PER_DAY)));

	if (goodjob_relation_exists(name))
		return false;

	values[0] = TimestampTzGetDatum(day);
	values[1] = TimestampTzGetDatum(day + USECS_PER_DAY);
	goodjob_plan(&plan,
				 "SELECT EXISTS (SELECT 1 FROM goodjob.finished_jobs_default"
				 " WHERE finished_at >= $1 AND finished_at < $2)",
				 2, argtypes);
	/* rows of that day already in the default partition: that day stays there */
	if (default_has_rows(plan, values))
		return false;
	/* with both locks held no new row can arrive there; look again */
	if (!try_lock_exclusive("finished_jobs"))
		return false;
	if (!try_lock_exclusive("finished_jobs_default"))
	{
		/* do not keep completions waiting until this transaction ends */
		unlock_exclusive("finished_jobs");
		return false;
	}
	if (default_has_rows(plan, values))
		return false;

	run_sql(psprintf("CREATE TABLE goodjob.%s PARTITION OF goodjob.finished_jobs"
					 " FOR VALUES FROM (%s) TO (%s)",
					 name, quote_literal_cstr(from), quote_literal_cstr(to)));
	/* the indexes of finished_jobs_default, see the install script */
	run_sql(psprintf("CREATE INDEX %s_id ON goodjob.%s (id)", name, name));
	run_sql(psprintf("CREATE INDEX %s_batch ON goodjob.%s (batch_id)"
					 " WHERE batch_id IS NOT NULL", name, name));
	run_sql(psprintf("CREATE INDEX %s_batch_callback ON goodjob.%s"
					 " (batch_callback_id) WHERE batch_callback_id IS NOT NULL",
					 name, name));
	/* since 0.2.0 (see goodjob--0.1.0--0.2.0.sql) */
	run_sql(psprintf("CREATE INDEX %s_batch_discarded ON goodjob.%s"
					 " (batch_id, finished_at)"
					 " WHERE batch_id IS NOT NULL AND state = 'discarded'",
					 name, name));
	return true;
}

/* Drops dated partitions whose whole day is older than cutoff. */
static int64
drop_old_partitions(TimestampTz cutoff)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	List	   *names = NIL;
	ListCell   *lc;
	uint64		i;
	int64		dropped = 0;

	/* partition names sort by day; the last day must end before cutoff */
	values[0] = CStringGetTextDatum(psprintf("finished_jobs_p%s",
											 day_label(day_start(cutoff) - USECS_PER_DAY)));
	goodjob_plan(&plan,
				 "SELECT c.relname::text FROM pg_catalog.pg_inherits i"
				 " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
				 " WHERE i.inhparent = 'goodjob.finished_jobs'::pg_catalog.regclass"
				 " AND c.relname ~ '^finished_jobs_p[0-9]{8}$'"
				 " AND c.relname::text <= $1 COLLATE \"C\""
				 " ORDER BY 1",
				 1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list partitions");
	for (i = 0; i < SPI_processed; i++)
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, 1));
	if (names == NIL || !try_lock_exclusive("finished_jobs"))
		return 0;
	foreach(lc, names)
	{
		if (!try_lock_exclusive(lfirst(lc)))
			continue;			/* in use (a retry reads it): next pass */
		run_sql(psprintf("DROP TABLE goodjob.%s", (char *) lfirst(lc)));
		dropped++;
	}
	return dropped;
}

/* Partitions, dropping and deleting: the body of goodjob_apply_retention. */
static void
apply_retention(TimestampTz now, MaintenanceReport *report)
{
	static SPIPlanPtr delete_jobs_plan = NULL;
	static SPIPlanPtr delete_batches_plan = NULL;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	TimestampTz cutoff = now - (int64) goodjob_retention_s * USECS_PER_SEC;
	int			d;

	for (d = 0; d <= PARTITIONS_AHEAD; d++)
		if (create_day_partition(day_start(now) + d * USECS_PER_DAY))
			report->partitions_created++;

	if (goodjob_retention_s <= 0)
		return;

	report->partitions_dropped += drop_old_partitions(cutoff);

	values[0] = TimestampTzGetDatum(cutoff);
	goodjob_plan(&delete_jobs_plan,
				 "DELETE FROM goodjob.finished_jobs_default WHERE finished_at < $1",
				 1, argtypes);
	if (SPI_execute_plan(delete_jobs_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete old finished jobs");
	report->jobs_deleted += SPI_processed;

	goodjob_plan(&delete_batches_plan,
				 "DELETE FROM goodjob.batches b WHERE b.finished_at < $1"
				 " AND NOT EXISTS (SELECT 1 FROM goodjob.active_jobs a"
				 " WHERE a.batch_id = b.id OR a.batch_callback_id = b.id)",
				 1, argtypes);
	if (SPI_execute_plan(delete_batches_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete old batches");
	report->batches_deleted += SPI_processed;
}

/*
 * Creates upcoming partitions and applies goodjob.retention (0 keeps
 * finished jobs forever), in a subtransaction: an error here is logged and
 * leaves the rest of the pass intact. Must run inside SPI.
 */
void
goodjob_apply_retention(TimestampTz now, MaintenanceReport *report)
{
	MemoryContext old_cxt = CurrentMemoryContext;
	ResourceOwner old_owner = CurrentResourceOwner;
	MaintenanceReport partial = *report;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(old_cxt);
	PG_TRY();
	{
		apply_retention(now, &partial);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(old_cxt);
		CurrentResourceOwner = old_owner;
		*report = partial;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(old_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(old_cxt);
		CurrentResourceOwner = old_owner;
		ereport(WARNING,
				(errmsg("goodjob retention skipped: %s", edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}
