/*-------------------------------------------------------------------------
 * bulk.c
 *	  goodjob.bulk_enqueue() and goodjob.bulk_enqueue_json(): add many jobs
 *	  from arrays in one call.
 *
 * The rows go into goodjob.active_jobs through the table AM's multi-insert
 * path, as COPY does, a chunk at a time, with their index entries. Every value
 * is checked here, so the table's CHECK and NOT NULL constraints hold by
 * construction; the batch foreign key is checked (and the batch row locked
 * FOR KEY SHARE, as the foreign key would) once per call instead of once per
 * row. Memory stays bounded: input arrays are read with iterators, rows are
 * built and flushed per chunk, and ids go to a tuplestore that spills to disk
 * past work_mem.
 *
 * The two functions differ only in where the args come from: bulk_enqueue
 * takes jsonb[], which PostgreSQL parses before the call, all elements at
 * once in one memory context; bulk_enqueue_json takes the JSON as text[] and
 * parses each element as it reads it, in a context reset after every element,
 * so that only the parsed values of one chunk are alive at a time.
 *-------------------------------------------------------------------------
 */
#include "goodjob.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/heapam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "claim_start.h"

PG_FUNCTION_INFO_V1(goodjob_bulk_enqueue);
PG_FUNCTION_INFO_V1(goodjob_bulk_enqueue_json);

/* Rows inserted per multi-insert call. */
#define BULK_CHUNK_ROWS 1000

/* The array arguments, in argument order. */
enum
{
	ARG_JOB_CLASSES,
	ARG_ARGS,
	ARG_QUEUE_NAMES,
	ARG_PRIORITIES,
	ARG_SCHEDULED_ATS,
	NUM_ARRAY_ARGS
};
#define ARG_BATCH_ID 5
#define ARG_MAX_ATTEMPTS 6

static const char *const array_arg_names[NUM_ARRAY_ARGS] = {
	"job_classes", "args", "queue_names", "priorities", "scheduled_ats"
};

/* One array argument being read. */
typedef struct ArrayArg
{
	const char *name;
	bool		present;		/* false: the array is NULL, use the default */
	int			length;
	ArrayIterator iterator;
	Datum		value;			/* current element (for length 1: the only one) */
	bool		isnull;
	MemoryContext json_cxt;		/* not NULL: elements are JSON text, parsed to
								 * jsonb as they are read, with this context
								 * for the parser's working memory */
} ArrayArg;

/* Attribute numbers (0-based) of goodjob.active_jobs, found by name. */
typedef struct JobColumns
{
	int			id,
				queue_name,
				priority,
				job_class,
				args,
				state,
				scheduled_at,
				created_at,
				attempts,
				max_attempts,
				batch_id;
} JobColumns;

/* Jobs per queue, for one NOTIFY per queue. */
typedef struct QueueCount
{
	char	   *queue_name;		/* hash key: the pointer, compared by string */
	int64		count;
	ClaimKey	first;			/* lowest claim key of its jobs */
} QueueCount;

static uint32
queue_key_hash(const void *key, Size keysize)
{
	const char *name = *(char *const *) key;

	return hash_bytes((const unsigned char *) name, strlen(name));
}

static int
queue_key_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

/* Adds the position of the element being parsed to an error's context. */
static void
json_element_error_context(void *arg)
{
	errcontext("element " INT64_FORMAT " of array \"args\"", *(int64 *) arg + 1);
}

/*
 * Returns the jsonb value of the JSON text t, element row (0-based) of array
 * "args", in CurrentMemoryContext. The parser works in parse_cxt, which is
 * reset afterwards, so that only the value itself stays; an error names the
 * element.
 */
static Datum
parse_json_element(Datum t, int64 row, MemoryContext parse_cxt)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	ErrorContextCallback errcallback;
	Datum		parsed;
	Datum		result;

	errcallback.callback = json_element_error_context;
	errcallback.arg = &row;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	MemoryContextSwitchTo(parse_cxt);
	parsed = DirectFunctionCall1(jsonb_in,
								 CStringGetDatum(text_to_cstring(DatumGetTextPP(t))));
	MemoryContextSwitchTo(result_cxt);
	result = datumCopy(parsed, false, -1);
	MemoryContextReset(parse_cxt);

	error_context_stack = errcallback.previous;
	return result;
}

/*
 * Opens array argument argno; required arrays must not be NULL. With
 * json_text, its elements are JSON text and are read as jsonb.
 */
static void
open_array_arg(FunctionCallInfo fcinfo, int argno, bool required,
			   bool json_text, ArrayArg *arg)
{
	arg->name = array_arg_names[argno];
	arg->present = required || !PG_ARGISNULL(argno);
	arg->length = 0;
	arg->iterator = NULL;
	arg->json_cxt = NULL;
	if (!arg->present)
		return;
	arg->length = goodjob_array_arg_length(fcinfo, argno, arg->name, true);
	arg->iterator = array_create_iterator(PG_GETARG_ARRAYTYPE_P(argno), 0, NULL);
	if (json_text)
		arg->json_cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "goodjob bulk_enqueue_json parse",
											  ALLOCSET_DEFAULT_SIZES);
	if (arg->length == 1)
	{
		/* read (and parse) once, for every job */
		array_iterate(arg->iterator, &arg->value, &arg->isnull);
		if (json_text && !arg->isnull)
			arg->value = parse_json_element(arg->value, 0, arg->json_cxt);
	}
}

/*
 * Advances to element row of arg, parsing it if its elements are JSON text
 * (a broadcast element stays put).
 */
static void
next_element(ArrayArg *arg, int64 row)
{
	if (!arg->present || arg->length == 1)
		return;
	array_iterate(arg->iterator, &arg->value, &arg->isnull);
	if (arg->json_cxt != NULL && !arg->isnull)
		arg->value = parse_json_element(arg->value, row, arg->json_cxt);
}

/* Raises 22004 for a NULL element of an array where NULL means nothing. */
static void
require_element(ArrayArg *arg, int64 row)
{
	if (arg->isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array \"%s\" must not contain null elements", arg->name),
				 errdetail("Element " INT64_FORMAT " is null.", row + 1)));
}

/*
 * Returns N, the length of the longest array, after checking that every
 * other present array has length N or 1.
 */
static int
job_count(ArrayArg *arrays)
{
	int			longest = 0;
	int			i;

	for (i = 0; i < NUM_ARRAY_ARGS; i++)
		if (arrays[i].present && arrays[i].length > arrays[longest].length)
			longest = i;
	for (i = 0; i < NUM_ARRAY_ARGS; i++)
		if (arrays[i].present && arrays[i].length != 1 &&
			arrays[i].length != arrays[longest].length)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("array \"%s\" has %d elements, but array \"%s\" has %d",
							arrays[i].name, arrays[i].length,
							arrays[longest].name, arrays[longest].length),
					 errdetail("Each array must have as many elements as the longest one, or exactly one, which then applies to every job.")));
	return arrays[longest].length;
}

/* Returns the 0-based attribute number of column name of rel. */
static int
column_index(Relation rel, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of goodjob.active_jobs is missing", name);
	return attnum - 1;
}

/* Looks up the columns bulk_enqueue fills. */
static void
find_columns(Relation rel, JobColumns *cols)
{
	cols->id = column_index(rel, "id");
	cols->queue_name = column_index(rel, "queue_name");
	cols->priority = column_index(rel, "priority");
	cols->job_class = column_index(rel, "job_class");
	cols->args = column_index(rel, "args");
	cols->state = column_index(rel, "state");
	cols->scheduled_at = column_index(rel, "scheduled_at");
	cols->created_at = column_index(rel, "created_at");
	cols->attempts = column_index(rel, "attempts");
	cols->max_attempts = column_index(rel, "max_attempts");
	cols->batch_id = column_index(rel, "batch_id");
}

/*
 * Returns the counter of queue_name, checking the name and making the counter
 * on first sight; *order lists the counters in the order first seen.
 */
static QueueCount *
count_queue(HTAB *counts, List **order, MemoryContext queues_cxt, char *queue_name)
{
	QueueCount *entry;
	bool		found;

	entry = hash_search(counts, &queue_name, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(queues_cxt);

		goodjob_check_queue_name(queue_name);
		entry->queue_name = pstrdup(queue_name);
		entry->count = 0;
		entry->first.priority = PG_INT32_MAX;
		entry->first.scheduled_at = DT_NOEND;
		entry->first.id = PG_INT64_MAX;
		*order = lappend(*order, entry);
		MemoryContextSwitchTo(old);
	}
	return entry;
}

/* Lowers *first to the key (priority, scheduled_at, id) if that is lower. */
static inline void
note_key(ClaimKey *first, int32 priority, TimestampTz scheduled_at, int64 id)
{
	ClaimKey	key = {priority, scheduled_at, id};

	if (goodjob_claim_key_cmp(&key, first) < 0)
		*first = key;
}

/* Returns whether text value t equals the C string s, without copying t. */
static bool
text_equals_cstring(Datum t, const char *s)
{
	text	   *txt = DatumGetTextPP(t);
	size_t		len = VARSIZE_ANY_EXHDR(txt);

	return len == strlen(s) && memcmp(VARDATA_ANY(txt), s, len) == 0;
}

/* Writes the buffered rows and their index entries. */
static void
flush_rows(Relation rel, ResultRelInfo *rri, EState *estate,
		   TupleTableSlot **slots, int nrows, BulkInsertState bistate)
{
	int			i;

	table_multi_insert(rel, slots, nrows, GetCurrentCommandId(true), 0, bistate);
	for (i = 0; i < nrows; i++)
	{
		List	   *conflicts;

		conflicts = ExecInsertIndexTuples(rri, slots[i], estate, false, false,
										  NULL, NIL);
		list_free(conflicts);
		ResetPerTupleExprContext(estate);
		ExecClearTuple(slots[i]);
	}
}

/* Locks batch batch_id FOR KEY SHARE, raising 23503 when it does not exist. */
static void
lock_batch(int64 batch_id)
{
	SPI_connect();
	goodjob_check_batch_exists(batch_id);
	SPI_finish();
}

/*
 * Enqueues N jobs, N being the length of the longest array; arrays of length
 * 1 apply to every job and NULL arrays mean the defaults of goodjob.enqueue.
 * Returns the new ids in input order and sends one NOTIFY per queue. With
 * json_args, the args elements are JSON text rather than jsonb.
 */
static Datum
bulk_enqueue(FunctionCallInfo fcinfo, bool json_args)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayArg	arrays[NUM_ARRAY_ARGS];
	int			njobs;
	int32		max_attempts;
	Datum		batch_id = (Datum) 0;
	Oid			namespace_oid;
	Oid			seq_oid;
	Relation	rel;
	JobColumns	cols;
	EState	   *estate;
	ResultRelInfo *rri;
	RangeTblEntry *rte;
	BulkInsertState bistate;
	TupleTableSlot *slots[BULK_CHUNK_ROWS];
	int			nslots = 0;
	int			nbuffered = 0;
	MemoryContext chunk_cxt;
	MemoryContext old_cxt;
	HASHCTL		hash_ctl;
	HTAB	   *queue_counts;
	List	   *queue_order = NIL;
	ListCell   *lc;
	QueueCount *queue = NULL;
	Datum		state_queued = CStringGetTextDatum("queued");
	Datum		default_queue = CStringGetTextDatum("default");
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		row;
	int			i;

	open_array_arg(fcinfo, ARG_JOB_CLASSES, true, false, &arrays[ARG_JOB_CLASSES]);
	open_array_arg(fcinfo, ARG_ARGS, true, json_args, &arrays[ARG_ARGS]);
	open_array_arg(fcinfo, ARG_QUEUE_NAMES, false, false, &arrays[ARG_QUEUE_NAMES]);
	open_array_arg(fcinfo, ARG_PRIORITIES, false, false, &arrays[ARG_PRIORITIES]);
	open_array_arg(fcinfo, ARG_SCHEDULED_ATS, false, false, &arrays[ARG_SCHEDULED_ATS]);
	njobs = job_count(arrays);
	max_attempts = goodjob_max_attempts_arg(fcinfo, ARG_MAX_ATTEMPTS);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (njobs == 0)
		return (Datum) 0;

	if (!PG_ARGISNULL(ARG_BATCH_ID))
	{
		batch_id = PG_GETARG_DATUM(ARG_BATCH_ID);
		lock_batch(DatumGetInt64(batch_id));
	}

	namespace_oid = get_namespace_oid("goodjob", false);
	seq_oid = get_relname_relid("jobs_id_seq", namespace_oid);
	rel = table_open(get_relname_relid("active_jobs", namespace_oid), RowExclusiveLock);
	find_columns(rel, &cols);

	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	bistate = GetBulkInsertState();

	memset(&hash_ctl, 0, sizeof(hash_ctl));
	hash_ctl.keysize = sizeof(char *);
	hash_ctl.entrysize = sizeof(QueueCount);
	hash_ctl.hash = queue_key_hash;
	hash_ctl.match = queue_key_match;
	hash_ctl.hcxt = CurrentMemoryContext;
	queue_counts = hash_create("goodjob bulk_enqueue queues", 16, &hash_ctl,
							   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "goodjob bulk_enqueue chunk",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(chunk_cxt);

	for (row = 0; row < njobs; row++)
	{
		TupleTableSlot *slot;
		Datum	   *values;
		bool	   *nulls;
		Datum		queue_name;
		int64		job_id;

		for (i = 0; i < NUM_ARRAY_ARGS; i++)
			next_element(&arrays[i], row);

		if (nbuffered == nslots)
		{
			MemoryContextSwitchTo(old_cxt);
			slots[nslots++] = table_slot_create(rel, NULL);
			MemoryContextSwitchTo(chunk_cxt);
		}
		slot = slots[nbuffered];
		values = slot->tts_values;
		nulls = slot->tts_isnull;
		memset(nulls, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);

		require_element(&arrays[ARG_JOB_CLASSES], row);
		require_element(&arrays[ARG_ARGS], row);
		goodjob_check_job_class(DatumGetTextPP(arrays[ARG_JOB_CLASSES].value));

		if (arrays[ARG_QUEUE_NAMES].present)
		{
			require_element(&arrays[ARG_QUEUE_NAMES], row);
			queue_name = arrays[ARG_QUEUE_NAMES].value;
		}
		else
			queue_name = default_queue;
		if (queue == NULL || !text_equals_cstring(queue_name, queue->queue_name))
			queue = count_queue(queue_counts, &queue_order, old_cxt,
								TextDatumGetCString(queue_name));
		queue->count++;

		if (arrays[ARG_PRIORITIES].present)
		{
			require_element(&arrays[ARG_PRIORITIES], row);
			values[cols.priority] = arrays[ARG_PRIORITIES].value;
		}
		else
			values[cols.priority] = Int32GetDatum(0);

		if (arrays[ARG_SCHEDULED_ATS].present && !arrays[ARG_SCHEDULED_ATS].isnull)
		{
			values[cols.scheduled_at] = arrays[ARG_SCHEDULED_ATS].value;
			goodjob_check_finite(DatumGetTimestampTz(values[cols.scheduled_at]),
								 "scheduled_ats element");
		}
		else
			values[cols.scheduled_at] = TimestampTzGetDatum(now);

		job_id = nextval_internal(seq_oid, false);
		values[cols.id] = Int64GetDatum(job_id);
		note_key(&queue->first, DatumGetInt32(values[cols.priority]),
				 DatumGetTimestampTz(values[cols.scheduled_at]), job_id);
		values[cols.queue_name] = queue_name;
		values[cols.job_class] = arrays[ARG_JOB_CLASSES].value;
		values[cols.args] = arrays[ARG_ARGS].value;
		values[cols.state] = state_queued;
		values[cols.created_at] = TimestampTzGetDatum(now);
		values[cols.attempts] = Int32GetDatum(0);
		values[cols.max_attempts] = Int32GetDatum(max_attempts);
		values[cols.batch_id] = batch_id;
		nulls[cols.id] = nulls[cols.queue_name] = nulls[cols.priority] = false;
		nulls[cols.job_class] = nulls[cols.args] = nulls[cols.state] = false;
		nulls[cols.scheduled_at] = nulls[cols.created_at] = false;
		nulls[cols.attempts] = nulls[cols.max_attempts] = false;
		nulls[cols.batch_id] = PG_ARGISNULL(ARG_BATCH_ID);
		ExecStoreVirtualTuple(slot);

		{
			Datum		id_value = Int64GetDatum(job_id);
			bool		id_null = false;

			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 &id_value, &id_null);
		}

		if (++nbuffered == BULK_CHUNK_ROWS)
		{
			flush_rows(rel, rri, estate, slots, nbuffered, bistate);
			nbuffered = 0;
			MemoryContextReset(chunk_cxt);
			CHECK_FOR_INTERRUPTS();
		}
	}
	if (nbuffered > 0)
		flush_rows(rel, rri, estate, slots, nbuffered, bistate);
	MemoryContextSwitchTo(old_cxt);

	foreach(lc, queue_order)
	{
		QueueCount *entry = lfirst(lc);

		goodjob_notify_enqueued(entry->queue_name, entry->count);
		goodjob_note_queued(entry->queue_name, entry->first.priority,
							entry->first.scheduled_at, entry->first.id);
	}

	for (i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	FreeBulkInsertState(bistate);
	table_finish_bulk_insert(rel, 0);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	MemoryContextDelete(chunk_cxt);
	if (arrays[ARG_ARGS].json_cxt != NULL)
		MemoryContextDelete(arrays[ARG_ARGS].json_cxt);

	return (Datum) 0;
}

/*
 * goodjob.bulk_enqueue(job_classes, args jsonb[], queue_names, priorities,
 *						scheduled_ats, batch_id, max_attempts)
 *	RETURNS SETOF bigint
 */
Datum
goodjob_bulk_enqueue(PG_FUNCTION_ARGS)
{
	return bulk_enqueue(fcinfo, false);
}

/*
 * goodjob.bulk_enqueue_json(job_classes, args text[], queue_names,
 *							 priorities, scheduled_ats, batch_id, max_attempts)
 *	RETURNS SETOF bigint
 *
 * bulk_enqueue with the args as JSON text, parsed here one element at a time
 * instead of all at once by the array's input function.
 */
Datum
goodjob_bulk_enqueue_json(PG_FUNCTION_ARGS)
{
	return bulk_enqueue(fcinfo, true);
}
