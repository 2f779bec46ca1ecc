/*-------------------------------------------------------------------------
 * shmem.c
 *	  Shared memory of the goodjob maintainers, and waking them after commit.
 *
 * Each maintainer owns one slot: the database it serves and its latch. A
 * backend whose transaction finished a job of a batch (or armed or cancelled
 * a batch) asks for a wake-up; the transaction callback sets the latch of
 * its database's maintainer once the transaction has committed, so the
 * maintainer never looks before the change is visible. Without the preload
 * library there is no shared state and nothing to wake: run_maintenance()
 * (from pg_cron) does the work instead.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "claim_start.h"
#include "shmem.h"

typedef struct MaintainerSlot
{
	Oid			database;		/* InvalidOid until the maintainer runs */
	Latch	   *latch;
} MaintainerSlot;

typedef struct GoodjobShared
{
	slock_t		mutex;			/* protects the slots */
	int			nslots;
	MaintainerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} GoodjobShared;

static GoodjobShared *shared = NULL;
static int	shared_nslots = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool wake_pending = false;
static bool xact_callback_registered = false;

static Size
shared_size(void)
{
	return add_size(offsetof(GoodjobShared, slots),
					mul_size(shared_nslots, sizeof(MaintainerSlot)));
}

static void
goodjob_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	goodjob_claim_start_shmem_request();
}

static void
goodjob_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("goodjob", shared_size(), &found);
	if (!found)
	{
		int			i;

		SpinLockInit(&shared->mutex);
		shared->nslots = shared_nslots;
		for (i = 0; i < shared_nslots; i++)
		{
			shared->slots[i].database = InvalidOid;
			shared->slots[i].latch = NULL;
		}
	}
	goodjob_claim_start_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Installs the shared memory hooks for nmaintainers slots. Called from
 * _PG_init while shared_preload_libraries is processed.
 */
void
goodjob_shmem_init(int nmaintainers)
{
	shared_nslots = nmaintainers;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = goodjob_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = goodjob_shmem_startup;
}

/* Clears the slot of an exiting maintainer. */
static void
maintainer_detach(int code, Datum arg)
{
	MaintainerSlot *slot = &shared->slots[DatumGetInt32(arg)];

	SpinLockAcquire(&shared->mutex);
	slot->latch = NULL;
	SpinLockRelease(&shared->mutex);
}

/* Publishes the calling maintainer's database and latch in slot. */
void
goodjob_maintainer_attach(int slot)
{
	Assert(shared != NULL && slot >= 0 && slot < shared->nslots);
	SpinLockAcquire(&shared->mutex);
	shared->slots[slot].database = MyDatabaseId;
	shared->slots[slot].latch = MyLatch;
	SpinLockRelease(&shared->mutex);
	on_shmem_exit(maintainer_detach, Int32GetDatum(slot));
}

/* Sets the latch of the maintainer serving this backend's database. */
static void
wake_maintainer(void)
{
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].database == MyDatabaseId &&
			shared->slots[i].latch != NULL)
			SetLatch(shared->slots[i].latch);
	}
	SpinLockRelease(&shared->mutex);
}

static void
goodjob_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending)
				wake_maintainer();
			wake_pending = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			break;
		default:
			break;
	}
}

/*
 * Asks for this database's maintainer to be woken when the current
 * transaction commits (nothing happens if it aborts).
 */
void
goodjob_wake_maintainer_at_commit(void)
{
	if (shared == NULL)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(goodjob_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_pending = true;
}
