/*-------------------------------------------------------------------------
 * maintainer.c
 *	  The "goodjob maintainer" background workers: one per database named in
 *	  goodjob.database_names, each running maintenance passes in its database.
 *
 * A maintainer wakes when a committing transaction finished a batch's job
 * (see shmem.c) and every goodjob.maintenance_interval, runs one pass in one
 * transaction, vacuums goodjob.active_jobs when enough of it is dead, and
 * sleeps again outside any transaction.
 *
 * The vacuum is there because every claimed job leaves dead index entries
 * at the front of the claim indexes, where the next claims start: left to
 * autovacuum (one look per table per autovacuum_naptime, a minute by
 * default) they pile up and each claim reads through them. In a database
 * without the extension it just waits. It skips the vacuum while the
 * removal horizon has not moved since the last one (see
 * active_jobs_need_vacuum). An error in a pass is logged and the
 * pass tried again after the usual wait. It exits on SIGTERM or when the
 * postmaster dies, and the postmaster restarts it after a crash.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "parser/parse_node.h"
#include "parser/parser.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "maintenance.h"
#include "shmem.h"

PGDLLEXPORT void goodjob_maintainer_main(Datum main_arg);

/* Shortest time between two maintenance passes, in milliseconds. */
#define MIN_PASS_GAP_MS 5

/* Seconds before the postmaster restarts a maintainer that died. */
#define MAINTAINER_RESTART_S 2

/*
 * Registers one maintainer per database in goodjob.database_names and
 * returns how many. Called from _PG_init during shared_preload_libraries.
 */
int
goodjob_register_maintainers(void)
{
	char	   *names = pstrdup(goodjob_database_names);
	List	   *databases;
	ListCell   *lc;
	int			n = 0;

	if (!SplitGUCList(names, ',', &databases))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"goodjob.database_names\"")));

	foreach(lc, databases)
	{
		const char *dbname = lfirst(lc);
		BackgroundWorker worker;

		if (strlen(dbname) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("database name \"%s\" in goodjob.database_names is too long", dbname)));

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = MAINTAINER_RESTART_S;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "goodjob");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "goodjob_maintainer_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "goodjob maintainer for database %s", dbname);
		snprintf(worker.bgw_type, BGW_MAXLEN, "goodjob maintainer");
		worker.bgw_main_arg = Int32GetDatum(n);
		strlcpy(worker.bgw_extra, dbname, BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
		n++;
	}
	return n;
}

/* Runs one maintenance pass in its own transaction, if the extension exists. */
static void
maintainer_pass(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	if (OidIsValid(get_extension_oid("goodjob", true)))
	{
		pgstat_report_activity(STATE_RUNNING, "goodjob maintenance pass");
		SPI_connect();
		/* a run_maintenance() in progress does this pass's work */
		(void) goodjob_maintenance_pass(NULL, false);
		SPI_finish();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* The removal horizon of goodjob.active_jobs when it was last vacuumed. */
static TransactionId last_vacuum_horizon = InvalidTransactionId;

/*
 * Returns whether goodjob.active_jobs holds at least goodjob.vacuum_threshold
 * dead rows and at least 2% of its live rows' count, and whether a vacuum
 * could remove more than the last one did: not while the removal horizon
 * stands where it stood then (an old snapshot held open keeps every row
 * that died since; vacuuming again would only scan them). Sets *horizon.
 * Must run in a transaction.
 */
static bool
active_jobs_need_vacuum(TransactionId *horizon)
{
	Oid			namespace_oid = get_namespace_oid("goodjob", true);
	Oid			relid;
	PgStat_StatTabEntry *stats;
	Relation	rel;

	if (goodjob_vacuum_threshold <= 0 || !OidIsValid(namespace_oid))
		return false;
	relid = get_relname_relid("active_jobs", namespace_oid);
	if (!OidIsValid(relid))
		return false;
	stats = pgstat_fetch_stat_tabentry(relid);
	if (stats == NULL ||
		stats->n_dead_tuples < goodjob_vacuum_threshold ||
		stats->n_dead_tuples < stats->n_live_tuples / 50)
		return false;
	rel = table_open(relid, AccessShareLock);
	*horizon = GetOldestNonRemovableTransactionId(rel);
	table_close(rel, AccessShareLock);
	return !TransactionIdIsValid(last_vacuum_horizon) ||
		!TransactionIdEquals(*horizon, last_vacuum_horizon);
}

/* Vacuums goodjob.active_jobs if it needs it (see the top of this file). */
static void
maintainer_vacuum(void)
{
	bool		needed;
	TransactionId horizon = InvalidTransactionId;
	RawStmt    *raw;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	needed = active_jobs_need_vacuum(&horizon);
	CommitTransactionCommand();
	if (!needed)
		return;

	pgstat_report_activity(STATE_RUNNING, "VACUUM goodjob.active_jobs");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	raw = linitial_node(RawStmt,
						raw_parser("VACUUM (SKIP_LOCKED, TRUNCATE false) goodjob.active_jobs",
								   RAW_PARSE_DEFAULT));
	ExecVacuum(make_parsestate(NULL), castNode(VacuumStmt, raw->stmt), true);
	CommitTransactionCommand();
	last_vacuum_horizon = horizon;
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Entry point of a maintainer. */
void
goodjob_maintainer_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);
	char		dbname[NAMEDATALEN];
	MemoryContext loop_cxt;

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, NAMEDATALEN);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	/* nothing a user puts in a search_path may capture a name */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("goodjob maintainer");
	goodjob_maintainer_attach(slot);

	ereport(LOG,
			(errmsg("goodjob maintainer started for database \"%s\"", dbname)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "goodjob maintainer loop",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old_cxt;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		old_cxt = MemoryContextSwitchTo(loop_cxt);
		PG_TRY();
		{
			maintainer_pass();
			maintainer_vacuum();
		}
		PG_CATCH();
		{
			/* log it, and try again after the usual wait */
			HOLD_INTERRUPTS();
			EmitErrorReport();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(loop_cxt);
			FlushErrorState();
			RESUME_INTERRUPTS();
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old_cxt);
		MemoryContextReset(loop_cxt);

		/*
		 * At most one pass per MIN_PASS_GAP_MS: while a batch's jobs finish,
		 * every commit wakes the maintainer, and back-to-back passes would
		 * take a core from the workers. Wake-ups meanwhile are kept (the
		 * latch stays set) and start the next pass after the gap.
		 */
		(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, MIN_PASS_GAP_MS,
						 PG_WAIT_EXTENSION);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 goodjob_maintenance_interval_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
