/*-------------------------------------------------------------------------
 * maintenance.h
 *	  One maintenance pass: what the maintainer and run_maintenance() do.
 *-------------------------------------------------------------------------
 */
#ifndef GOODJOB_MAINTENANCE_H
#define GOODJOB_MAINTENANCE_H

#include "datatype/timestamp.h"
#include "utils/snapshot.h"

/* What a pass did, reported by goodjob.run_maintenance(). */
typedef struct MaintenanceReport
{
	int64		leases_requeued;
	int64		leases_discarded;
	int64		batches_discarded;	/* batches that saw their first discard */
	int64		batches_jobs_finished;	/* batches whose jobs all finished */
	int64		batches_finished;	/* batches whose callbacks finished too */
	int64		callbacks_enqueued;
	int64		partitions_created;
	int64		partitions_dropped;
	int64		jobs_deleted;
	int64		batches_deleted;
} MaintenanceReport;

/* maintenance.c */
extern bool goodjob_maintenance_pass(MaintenanceReport *report, bool wait);
/*
 * The columns after (queue_name, count) in goodjob_add_counts() statements:
 * for the rows of a CTE that made jobs queued (RETURNING queue_name,
 * priority, scheduled_at, id), a lower bound of their claim keys, or NULLs
 * for the row that counts something else.
 */
#define GOODJOB_COUNT_KEYS \
	", pg_catalog.min(priority), pg_catalog.min(scheduled_at), pg_catalog.min(id)"
#define GOODJOB_COUNT_NO_KEYS \
	", NULL::integer, NULL::timestamptz, NULL::bigint"
#define GOODJOB_RETURNING_KEYS \
	" RETURNING queue_name, priority, scheduled_at, id"

extern void goodjob_add_counts(SPIPlanPtr plan, Datum *values, Snapshot snapshot,
							   int64 *rows, int64 *jobs);

/* batch_finish.c */
extern void goodjob_finish_batches(MaintenanceReport *report);

/* retention.c */
extern void goodjob_apply_retention(TimestampTz now, MaintenanceReport *report);

/* maintainer.c */
extern int	goodjob_register_maintainers(void);

#endif							/* GOODJOB_MAINTENANCE_H */
