/*-------------------------------------------------------------------------
 * maintainer.c
 *	  The "goodjob maintainer" background workers: one per database named in
 *	  goodjob.database_names, each running maintenance passes in its database.
 *
 * A maintainer wakes when a committing transaction finished a batch's job
 * (see shmem.c) and every goodjob.maintenance_interval, runs one pass in one
 * transaction, and sleeps again outside any transaction. In a database
 * without the extension it just waits. It exits on SIGTERM or when the
 * postmaster dies, and the postmaster restarts it after a crash.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "maintenance.h"
#include "shmem.h"

PGDLLEXPORT void goodjob_maintainer_main(Datum main_arg);

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
		goodjob_maintenance_pass(NULL);
		SPI_finish();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
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
		maintainer_pass();
		MemoryContextSwitchTo(old_cxt);
		MemoryContextReset(loop_cxt);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 goodjob_maintenance_interval_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
