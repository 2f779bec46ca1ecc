-- goodjob 0.1.0 -> 0.2.0
--
-- There is no goodjob--0.2.0.sql: CREATE EXTENSION goodjob runs
-- goodjob--0.1.0.sql and then this script, so a fresh install and an updated
-- one are built by the same statements. Later versions add one script each
-- (goodjob--0.2.0--0.3.0.sql, ...). The shared library keeps every C symbol an
-- older version's SQL names, so a database still on an older version keeps
-- working after the new library is installed, until ALTER EXTENSION UPDATE.

\echo Use "ALTER EXTENSION goodjob UPDATE" to load this file. \quit

-- ---------------------------------------------------------------------------
-- bulk_enqueue_json (issue 3): bulk_enqueue with the args as JSON text.
--
-- Same rules, errors, notifications and batch handling as bulk_enqueue (one C
-- implementation serves both). The difference is where JSON is parsed: a
-- jsonb[] argument is parsed by PostgreSQL before the call, every element at
-- once and in one memory context that keeps each parser's state until the
-- statement ends (gigabytes for a million jobs); here each element is parsed
-- inside the function, chunk by chunk, in memory reset as it goes. It is a
-- function of its own because an overload of bulk_enqueue taking text[]
-- would make calls with untyped arguments ambiguous.
-- ---------------------------------------------------------------------------

CREATE FUNCTION goodjob.bulk_enqueue_json(
	job_classes text[],
	args text[],
	queue_names text[] DEFAULT NULL,
	priorities integer[] DEFAULT NULL,
	scheduled_ats timestamptz[] DEFAULT NULL,
	batch_id bigint DEFAULT NULL,
	max_attempts integer DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE c VOLATILE SECURITY DEFINER ROWS 1000
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'goodjob_bulk_enqueue_json';

REVOKE ALL ON FUNCTION
	goodjob.bulk_enqueue_json(text[], text[], text[], integer[], timestamptz[], bigint, integer)
FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- finished_jobs_*_batch_discarded: the discarded jobs of batches.
--
-- Each maintenance pass asks, for every open batch, whether one of its jobs
-- was discarded in the current round (batch_finish.c). Through the batch_id
-- index that read every finished job of the batch, at every pass: a batch of
-- 50,000 jobs spent most of a core in the maintainer while it drained. This
-- index holds only the (rare) discarded batch jobs, so the question is one
-- probe. retention.c gives every new dated partition the same index; here
-- the default partition and the dated partitions that exist get it.
-- ---------------------------------------------------------------------------

CREATE INDEX finished_jobs_default_batch_discarded
	ON goodjob.finished_jobs_default (batch_id, finished_at)
	WHERE batch_id IS NOT NULL AND state = 'discarded';

DO $$
DECLARE
	part name;
BEGIN
	FOR part IN
		SELECT c.relname FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'goodjob.finished_jobs'::pg_catalog.regclass
		  AND c.relname <> 'finished_jobs_default'
	LOOP
		EXECUTE pg_catalog.format(
			'CREATE INDEX IF NOT EXISTS %I ON goodjob.%I (batch_id, finished_at)'
			' WHERE batch_id IS NOT NULL AND state = %L',
			part || '_batch_discarded', part, 'discarded');
	END LOOP;
END
$$;
