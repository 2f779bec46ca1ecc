/*-------------------------------------------------------------------------
 * goodjob.c
 *	  Module entry point: defines goodjob's GUCs.
 *
 * Works both from shared_preload_libraries and when loaded on first use by
 * a backend. Only when preloaded does it reserve shared memory and register
 * the maintainer background workers (maintainer.c).
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include <float.h>
#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "maintenance.h"
#include "shmem.h"

PG_MODULE_MAGIC;

char	   *goodjob_database_names = NULL;
int			goodjob_maintenance_interval_ms = 1000;
int			goodjob_retention_s = 14 * SECS_PER_DAY;
int			goodjob_vacuum_threshold = 1000;
int			goodjob_default_lease_ms = 5 * 60 * 1000;
int			goodjob_default_max_attempts = 25;
int			goodjob_backoff_base_s = 15;
double		goodjob_backoff_exponent = 4.0;
double		goodjob_backoff_jitter = 0.1;

void		_PG_init(void);

/* Defines the GUCs; when preloaded, sets up the maintainers. */
void
_PG_init(void)
{
	DefineCustomStringVariable("goodjob.database_names",
							   "Databases the goodjob background worker serves (comma-separated).",
							   NULL,
							   &goodjob_database_names,
							   "postgres",
							   PGC_POSTMASTER,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("goodjob.maintenance_interval",
							"Time between two maintenance passes of the background worker.",
							NULL,
							&goodjob_maintenance_interval_ms,
							1000,
							10,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("goodjob.retention",
							"How long finished jobs are kept.",
							NULL,
							&goodjob_retention_s,
							14 * SECS_PER_DAY,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("goodjob.vacuum_threshold",
							"Dead rows in goodjob.active_jobs that make the maintainer vacuum it (0: leave it to autovacuum).",
							"The maintainer vacuums when the dead rows reach this number and 2% of the live rows.",
							&goodjob_vacuum_threshold,
							1000,
							0,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("goodjob.default_lease",
							"Lease of a claimed job when goodjob.claim() is given none.",
							NULL,
							&goodjob_default_lease_ms,
							5 * 60 * 1000,
							1,
							7 * 24 * 60 * 60 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("goodjob.default_max_attempts",
							"Attempts a job gets when enqueued without max_attempts.",
							NULL,
							&goodjob_default_max_attempts,
							25,
							1,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("goodjob.retry_backoff_base",
							"Seconds added to attempt^exponent when a failed job is retried.",
							NULL,
							&goodjob_backoff_base_s,
							15,
							0,
							365 * SECS_PER_DAY,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomRealVariable("goodjob.retry_backoff_exponent",
							 "Exponent of the polynomial retry backoff (attempt^exponent seconds).",
							 NULL,
							 &goodjob_backoff_exponent,
							 4.0,
							 0.0,
							 10.0,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("goodjob.retry_jitter",
							 "Largest random fraction added to a retry delay.",
							 NULL,
							 &goodjob_backoff_jitter,
							 0.1,
							 0.0,
							 1.0,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("goodjob");

	if (process_shared_preload_libraries_in_progress)
		goodjob_shmem_init(goodjob_register_maintainers());
}
