/*-------------------------------------------------------------------------
 * claim_start.c
 *	  Where claims start their scan of the claim index.
 *
 * A claim leaves its jobs' queued row versions dead at the head of the claim
 * index, where every later claim starts; until VACUUM removes them (and while
 * any snapshot older than them is held, it cannot), every claim walks over
 * them again. So each queue (and "every queue", for claim('*')) has a start
 * key in shared memory: (priority, scheduled_at, id), below which no job is
 * expected to be queued. Claims scan from it and raise it to the last job
 * they took; whatever makes a job queued lowers it; each maintenance pass
 * resets it with one scan from the head of the index.
 *
 * Lowering happens after commit (the transaction callback), so a claim that
 * may have missed a job committed while it ran must not raise the key past
 * that job: every lowering also bumps the entry's epoch and records the key
 * in noted_min (the lowest key noted since the last reset began). A claim
 * reads the epoch before its statement takes its snapshot, and raises the
 * key when its transaction commits; when the epoch moved meanwhile, it
 * raises at most to noted_min, and not at all when a reset began meanwhile.
 *
 * What can still land below the key, until the next maintenance pass: jobs
 * that a claim skipped while another claim held them locked, if that other
 * claim then rolls back; the jobs of a claim rolled back to a savepoint (the
 * raise waits for the top transaction); and a job scheduled for later that
 * claims of a lower priority passed while it was not ready yet. The key is
 * used only while the maintainer keeps resetting it (a pass in the last
 * ten maintenance intervals, at least five seconds), so without a
 * maintainer claims scan from the head as before. Queue names of
 * NAMEDATALEN bytes or more, and queues beyond MAX_START_ENTRIES, get no key.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "claim_start.h"
#include "goodjob.h"

/* Most start keys in shared memory, for all databases. */
#define MAX_START_ENTRIES 1024

/* A key not reset for this long (and ten maintenance intervals) is unused. */
#define START_STALE_MIN_MS 5000

#define TRANCHE_NAME "goodjob claim start"

typedef struct StartTag
{
	Oid			database;
	char		queue[NAMEDATALEN];	/* "": claims from every queue */
} StartTag;

typedef struct StartEntry
{
	StartTag	tag;			/* hash key, first */
	slock_t		mutex;			/* protects the rest */
	ClaimKey	start;
	ClaimKey	noted_min;		/* lowest key noted since reset_epoch */
	uint64		epoch;			/* bumped by every note */
	uint64		reset_epoch;	/* epoch when the last reset began */
	TimestampTz reset_at;		/* end of the last reset; 0: never */
} StartEntry;

const ClaimKey goodjob_claim_key_min = {PG_INT32_MIN, DT_NOBEGIN, PG_INT64_MIN};
static const ClaimKey key_max = {PG_INT32_MAX, DT_NOEND, PG_INT64_MAX};

static HTAB *start_table = NULL;
static LWLock *start_lock = NULL;

/*
 * Keys of this transaction, per queue ("": claims from every queue), applied
 * when it commits: the lowest key it made queued (notes), and the last key
 * its claims took with the lowest epoch they read (raises).
 */
typedef struct PendingKey
{
	char		queue[NAMEDATALEN];
	ClaimKey	key;
	uint64		epoch;			/* raises only */
} PendingKey;

typedef struct PendingList
{
	PendingKey *keys;
	int			n;
	int			cap;
} PendingList;

static PendingList notes;
static PendingList raises;
static bool callback_registered = false;

static PendingKey *pending_find(PendingList *list, const char *queue);

/* Compares two keys in claim order (like btint4cmp and friends). */
int
goodjob_claim_key_cmp(const ClaimKey *a, const ClaimKey *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->scheduled_at != b->scheduled_at)
		return a->scheduled_at < b->scheduled_at ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

Size
goodjob_claim_start_shmem_size(void)
{
	return hash_estimate_size(MAX_START_ENTRIES, sizeof(StartEntry));
}

/* From the shmem_request hook. */
void
goodjob_claim_start_shmem_request(void)
{
	RequestAddinShmemSpace(goodjob_claim_start_shmem_size());
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

/* From the shmem_startup hook, holding AddinShmemInitLock. */
void
goodjob_claim_start_shmem_startup(void)
{
	HASHCTL		info;

	info.keysize = sizeof(StartTag);
	info.entrysize = sizeof(StartEntry);
	start_table = ShmemInitHash("goodjob claim start keys", 64, MAX_START_ENTRIES,
								&info, HASH_ELEM | HASH_BLOBS);
	start_lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
}

/* Fills *tag for queue (NULL: every queue); false if it can have no key. */
static bool
make_tag(const char *queue, StartTag *tag)
{
	memset(tag, 0, sizeof(*tag));
	tag->database = MyDatabaseId;
	if (queue == NULL)
		return true;
	if (strlen(queue) >= NAMEDATALEN)
		return false;
	strlcpy(tag->queue, queue, NAMEDATALEN);
	return true;
}

/* Returns the entry of queue in this database, made if create; or NULL. */
static StartEntry *
find_entry(const char *queue, bool create)
{
	StartTag	tag;
	StartEntry *e;
	bool		found;

	if (start_table == NULL || !make_tag(queue, &tag))
		return NULL;
	LWLockAcquire(start_lock, LW_SHARED);
	e = hash_search(start_table, &tag, HASH_FIND, NULL);
	LWLockRelease(start_lock);
	if (e != NULL || !create)
		return e;

	LWLockAcquire(start_lock, LW_EXCLUSIVE);
	e = hash_search(start_table, &tag, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		SpinLockInit(&e->mutex);
		e->start = goodjob_claim_key_min;
		e->noted_min = key_max;
		e->epoch = 0;
		e->reset_epoch = 0;
		e->reset_at = 0;
	}
	LWLockRelease(start_lock);
	return e;
}

/*
 * Reads the start key of queue (NULL: every queue) and its epoch. Returns
 * false when the key is not to be used (then claims scan from the head and
 * raise nothing). Call before the claim statement takes its snapshot.
 */
bool
goodjob_claim_start_get(const char *queue, ClaimKey *start, uint64 *epoch)
{
	StartEntry *e = find_entry(queue, true);
	int64		stale_us = (int64) Max(START_STALE_MIN_MS,
									   10 * (int64) goodjob_maintenance_interval_ms) * 1000;
	TimestampTz now = GetCurrentTimestamp();
	bool		usable;
	PendingKey *own;

	if (e == NULL)
		return false;
	SpinLockAcquire(&e->mutex);
	usable = e->reset_at != 0 && now - e->reset_at <= stale_us;
	*start = e->start;
	*epoch = e->epoch;
	SpinLockRelease(&e->mutex);

	/* this transaction's own jobs, noted only when it commits */
	own = usable ? pending_find(&notes, queue ? queue : "") : NULL;
	if (own != NULL && goodjob_claim_key_cmp(&own->key, start) < 0)
		*start = own->key;
	return usable;
}

/*
 * Raises the start key of e to to, the last job a claim took, unless jobs
 * noted since the claim read epoch may lie below it.
 */
static void
raise_entry(StartEntry *e, const ClaimKey *to, uint64 epoch)
{
	ClaimKey	cap = *to;
	bool		ok = true;

	if (e == NULL)
		return;
	SpinLockAcquire(&e->mutex);
	if (e->epoch != epoch)
	{
		if (epoch < e->reset_epoch)
			ok = false;
		else if (goodjob_claim_key_cmp(&e->noted_min, &cap) < 0)
			cap = e->noted_min;
	}
	if (ok && e->reset_at != 0 && goodjob_claim_key_cmp(&cap, &e->start) > 0)
		e->start = cap;
	SpinLockRelease(&e->mutex);
}

/* Lowers the key of e to key, and notes it. */
static void
lower_entry(StartEntry *e, const ClaimKey *key)
{
	if (e == NULL)
		return;
	SpinLockAcquire(&e->mutex);
	if (goodjob_claim_key_cmp(key, &e->start) < 0)
		e->start = *key;
	if (goodjob_claim_key_cmp(key, &e->noted_min) < 0)
		e->noted_min = *key;
	e->epoch++;
	SpinLockRelease(&e->mutex);
}

/* Applies the notes and raises of the committed transaction. */
static void
apply_notes(void)
{
	int			i;

	for (i = 0; i < raises.n; i++)
		raise_entry(find_entry(raises.keys[i].queue[0] ? raises.keys[i].queue : NULL, false),
					&raises.keys[i].key, raises.keys[i].epoch);
	for (i = 0; i < notes.n; i++)
		lower_entry(find_entry(notes.keys[i].queue[0] ? notes.keys[i].queue : NULL, false),
					&notes.keys[i].key);
}

static void
claim_start_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			apply_notes();
			notes.n = raises.n = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			notes.n = raises.n = 0;
			break;
		default:
			break;
	}
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(claim_start_xact_callback, NULL);
		callback_registered = true;
	}
}

/* Returns the key of queue in list, or NULL. */
static PendingKey *
pending_find(PendingList *list, const char *queue)
{
	int			i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->keys[i].queue, queue) == 0)
			return &list->keys[i];
	return NULL;
}

/*
 * Returns the key of queue (shorter than NAMEDATALEN) in list; a new one
 * holds to and epoch. Registers the transaction callback.
 */
static PendingKey *
pending_key(PendingList *list, const char *queue, const ClaimKey *to, uint64 epoch)
{
	PendingKey *p = pending_find(list, queue);

	register_callback();
	if (p != NULL)
		return p;
	if (list->n == list->cap)
	{
		list->cap = Max(8, list->cap * 2);
		list->keys = list->keys == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(PendingKey) * list->cap) :
			repalloc(list->keys, sizeof(PendingKey) * list->cap);
	}
	p = &list->keys[list->n++];
	strlcpy(p->queue, queue, NAMEDATALEN);
	p->key = *to;
	p->epoch = epoch;
	return p;
}

/*
 * Raises the start key of queue (NULL: every queue) to to, the last job a
 * claim took, when the transaction commits (a claim rolled back leaves its
 * jobs queued). epoch is what goodjob_claim_start_get() gave the claim.
 */
void
goodjob_claim_start_raise(const char *queue, const ClaimKey *to, uint64 epoch)
{
	PendingKey *p;

	if (start_table == NULL || (queue != NULL && strlen(queue) >= NAMEDATALEN))
		return;
	p = pending_key(&raises, queue ? queue : "", to, epoch);
	if (goodjob_claim_key_cmp(to, &p->key) > 0)
		p->key = *to;
	p->epoch = Min(p->epoch, epoch);
}

/* Lowers the pending note of queue to key. */
static void
note_key(const char *queue, const ClaimKey *key)
{
	PendingKey *p = pending_key(&notes, queue, key, 0);

	if (goodjob_claim_key_cmp(key, &p->key) < 0)
		p->key = *key;
}

/*
 * Notes that this transaction made a job of queue queued with the given
 * key; when it commits, the start keys of queue and of every queue are
 * lowered to it.
 */
void
goodjob_note_queued(const char *queue, int32 priority, TimestampTz scheduled_at,
					int64 id)
{
	ClaimKey	key = {priority, scheduled_at, id};

	if (start_table == NULL)
		return;
	note_key("", &key);
	if (strlen(queue) < NAMEDATALEN)
		note_key(queue, &key);
}

/* The lowest key of a queued job of queue (NULL: any), or key_max. */
static ClaimKey
lowest_queued(const char *queue)
{
	static SPIPlanPtr any_plan = NULL;
	static SPIPlanPtr queue_plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	SPIPlanPtr	plan;
	ClaimKey	key = key_max;

	if (queue == NULL)
		plan = goodjob_plan(&any_plan,
							"SELECT priority, scheduled_at, id FROM goodjob.active_jobs"
							" WHERE state = 'queued'"
							" ORDER BY priority, scheduled_at, id LIMIT 1",
							0, NULL);
	else
		plan = goodjob_plan(&queue_plan,
							"SELECT priority, scheduled_at, id FROM goodjob.active_jobs"
							" WHERE state = 'queued' AND queue_name = $1"
							" ORDER BY queue_name, priority, scheduled_at, id LIMIT 1",
							1, argtypes);
	values[0] = queue ? CStringGetTextDatum(queue) : (Datum) 0;
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not find the first queued job");
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		key.priority = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
		key.scheduled_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull));
		key.id = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
	}
	return key;
}

/*
 * Resets e to the first queued job, unless (when not force) it was reset
 * in the last half maintenance interval.
 */
static void
reset_entry(StartEntry *e, TimestampTz now, bool force)
{
	uint64		epoch;
	ClaimKey	first;

	SpinLockAcquire(&e->mutex);
	if (!force && e->reset_at != 0 &&
		now - e->reset_at < (int64) goodjob_maintenance_interval_ms * 500)
	{
		SpinLockRelease(&e->mutex);
		return;
	}
	epoch = e->epoch;
	e->reset_epoch = epoch;
	e->noted_min = key_max;
	SpinLockRelease(&e->mutex);

	first = lowest_queued(e->tag.queue[0] ? e->tag.queue : NULL);

	SpinLockAcquire(&e->mutex);
	/* jobs committed after the scan's snapshot were noted since it began */
	if (e->epoch != epoch && goodjob_claim_key_cmp(&e->noted_min, &first) < 0)
		first = e->noted_min;
	e->start = first;
	e->reset_at = GetCurrentTimestamp();
	SpinLockRelease(&e->mutex);
}

/*
 * Resets every start key of this database with a scan from the head of the
 * claim index (the maintainer's passes at most twice per maintenance
 * interval; force for run_maintenance()). Must run inside SPI.
 */
void
goodjob_claim_start_reset(bool force)
{
	List	   *entries = NIL;
	HASH_SEQ_STATUS seq;
	StartEntry *e;
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();

	if (start_table == NULL)
		return;
	LWLockAcquire(start_lock, LW_SHARED);
	hash_seq_init(&seq, start_table);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->tag.database == MyDatabaseId)
			entries = lappend(entries, e);
	LWLockRelease(start_lock);

	foreach(lc, entries)
		reset_entry((StartEntry *) lfirst(lc), now, force);
	list_free(entries);
}
