--
-- security: no function that changes data is executable by PUBLIC; roles
-- work with EXECUTE grants alone, without rights on the tables; and nothing
-- a caller puts ahead in its search_path is ever called by goodjob.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0
\set unknown_id 999999999

SELECT count(*) AS active_jobs FROM goodjob.active_jobs;

-- roles are cluster-wide: start from fresh ones
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_goodjob_nobody;
DROP ROLE IF EXISTS regress_goodjob_producer;
DROP ROLE IF EXISTS regress_goodjob_worker;
DROP ROLE IF EXISTS regress_goodjob_operator;
RESET client_min_messages;
CREATE ROLE regress_goodjob_nobody;
CREATE ROLE regress_goodjob_producer;
CREATE ROLE regress_goodjob_worker;
CREATE ROLE regress_goodjob_operator;

--
-- Privileges as installed
--

-- every function of the extension changes data: none is executable by
-- PUBLIC, so a role without grants cannot run any; each runs as its owner
-- with a fixed search_path
SELECT p.oid::regprocedure AS function,
	   EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
			   WHERE a.grantee = 0) AS public_execute,
	   has_function_privilege('regress_goodjob_nobody', p.oid, 'EXECUTE') AS nobody_execute,
	   p.prosecdef AS security_definer,
	   p.proconfig
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'goodjob')
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- no rights at all on the tables, views and sequences, nor on the schema
SELECT c.oid::regclass AS relation, c.relkind,
	   has_table_privilege('regress_goodjob_nobody', c.oid,
			'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS nobody_any
FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
  AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'goodjob')
ORDER BY c.oid::regclass::text COLLATE "C";
SELECT has_schema_privilege('regress_goodjob_nobody', 'goodjob', 'USAGE') AS nobody_usage;

-- a role without grants is refused, with SQLSTATE 42501
SET ROLE regress_goodjob_nobody;
SELECT goodjob.enqueue('NobodyJob');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- even with USAGE on the schema
GRANT USAGE ON SCHEMA goodjob TO regress_goodjob_nobody;
SET ROLE regress_goodjob_nobody;
SELECT goodjob.enqueue('NobodyJob');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim();
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.run_maintenance();
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM goodjob.jobs;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA goodjob FROM regress_goodjob_nobody;
SELECT count(*) AS jobs FROM goodjob.jobs WHERE job_class = 'NobodyJob';

--
-- Producer, worker and operator roles: USAGE on the schema and EXECUTE on
-- their functions is all they need
--
GRANT USAGE ON SCHEMA goodjob
	TO regress_goodjob_producer, regress_goodjob_worker, regress_goodjob_operator;
GRANT EXECUTE ON FUNCTION
	goodjob.enqueue(text, jsonb, text, integer, timestamptz, integer, bigint)
	TO regress_goodjob_producer;
GRANT EXECUTE ON FUNCTION
	goodjob.claim(text, text, integer, interval),
	goodjob.complete(bigint, integer),
	goodjob.complete(bigint[], integer[]),
	goodjob.fail(bigint, integer, text, boolean, timestamptz),
	goodjob.heartbeat(bigint, integer, interval)
	TO regress_goodjob_worker;
GRANT EXECUTE ON FUNCTION
	goodjob.retry_job(bigint),
	goodjob.discard_job(bigint, text),
	goodjob.reschedule_job(bigint, timestamptz),
	goodjob.run_maintenance()
	TO regress_goodjob_operator;

SET ROLE regress_goodjob_producer;
SELECT goodjob.enqueue('SecureJob', '{"n": 1}', 'secure') AS id1 \gset
SELECT goodjob.enqueue('SecureJob', '{"n": 2}', 'secure') AS id2 \gset
-- no rights on the tables, nor on the worker's functions
SELECT count(*) FROM goodjob.jobs;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO goodjob.active_jobs (queue_name, job_class) VALUES ('secure', 'ForgedJob');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('secure');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SET ROLE regress_goodjob_worker;
SELECT job_class, args, state, attempts, locked_by
FROM goodjob.claim('secure', 'secure-worker', 2);
SELECT goodjob.heartbeat(:id1, 1);
SELECT goodjob.heartbeat(:id1, 1, '1 minute');
SELECT goodjob.complete(:id1, 1);
SELECT goodjob.fail(:id2, 1, 'failed for good', retry => false);
SELECT goodjob.complete(ARRAY[:id1, :id2]::bigint[], ARRAY[1, 1]);
-- no rights on the tables, nor on the producer's or operator's functions
UPDATE goodjob.active_jobs SET state = 'queued';
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('WorkerJob');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.retry_job(:id2);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SET ROLE regress_goodjob_operator;
SELECT goodjob.retry_job(:id2);
SELECT goodjob.reschedule_job(:id2, '2040-01-01 00:00:00+00');
SELECT goodjob.discard_job(:id2, 'stopped by the operator');
SELECT r->'expired_leases_requeued' AS requeued, r->'expired_leases_discarded' AS discarded
FROM goodjob.run_maintenance() AS r;
-- no rights on the tables, nor on the worker's functions
DELETE FROM goodjob.finished_jobs;
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(:id2, 1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SELECT job_class, args, state, attempts, error, locked_by
FROM goodjob.jobs WHERE id IN (:id1, :id2) ORDER BY id;

--
-- Search path capture. A fresh session, so that goodjob prepares its plans
-- again; then functions and operators in public shadow the ones in
-- pg_catalog, public is put first in search_path, and every goodjob
-- function is run. None of the hostile objects may be called, and the
-- look-alike tables in public and pg_temp must stay empty.
--
SELECT pg_backend_pid() AS old_backend \gset
\c -
SELECT pg_backend_pid() <> :old_backend AS fresh_session;
CREATE TABLE public.hostile_calls (what text);
CREATE FUNCTION public.hostile_call(what text) RETURNS void
	LANGUAGE sql AS $$ INSERT INTO public.hostile_calls VALUES (what) $$;

-- functions
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('now'); RETURN '2000-01-01 00:00:00+00'; END $$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('clock_timestamp'); RETURN '2000-01-01 00:00:00+00'; END $$;
CREATE FUNCTION public.statement_timestamp() RETURNS timestamptz LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('statement_timestamp'); RETURN '2000-01-01 00:00:00+00'; END $$;
CREATE FUNCTION public.nextval(regclass) RETURNS bigint LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('nextval'); RETURN 1; END $$;
CREATE FUNCTION public.random() RETURNS double precision LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('random'); RETURN 0.5; END $$;
CREATE FUNCTION public.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('unnest(bigint[])'); END $$;
CREATE FUNCTION public.unnest(integer[]) RETURNS SETOF integer LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('unnest(integer[])'); END $$;
CREATE FUNCTION public.hostile_count_step(bigint) RETURNS bigint LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('count(*)'); RETURN 0; END $$;
CREATE AGGREGATE public.count(*) (sfunc = public.hostile_count_step, stype = bigint, initcond = '0');

-- operators
CREATE FUNCTION public.hostile_int8_cmp(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('bigint operator'); RETURN true; END $$;
CREATE FUNCTION public.hostile_int4_cmp(integer, integer) RETURNS boolean LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('integer operator'); RETURN true; END $$;
CREATE FUNCTION public.hostile_int4_plus(integer, integer) RETURNS integer LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('integer +'); RETURN 1000; END $$;
CREATE FUNCTION public.hostile_text_cmp(text, text) RETURNS boolean LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('text operator'); RETURN true; END $$;
CREATE FUNCTION public.hostile_tstz_cmp(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('timestamptz operator'); RETURN true; END $$;
CREATE FUNCTION public.hostile_tstz_plus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql
	AS $$ BEGIN PERFORM public.hostile_call('timestamptz + interval'); RETURN '2000-01-01 00:00:00+00'; END $$;
CREATE OPERATOR public.= (FUNCTION = public.hostile_int8_cmp, LEFTARG = bigint, RIGHTARG = bigint);
CREATE OPERATOR public.= (FUNCTION = public.hostile_int4_cmp, LEFTARG = integer, RIGHTARG = integer);
CREATE OPERATOR public.< (FUNCTION = public.hostile_int4_cmp, LEFTARG = integer, RIGHTARG = integer);
CREATE OPERATOR public.>= (FUNCTION = public.hostile_int4_cmp, LEFTARG = integer, RIGHTARG = integer);
CREATE OPERATOR public.+ (FUNCTION = public.hostile_int4_plus, LEFTARG = integer, RIGHTARG = integer);
CREATE OPERATOR public.= (FUNCTION = public.hostile_text_cmp, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR public.<> (FUNCTION = public.hostile_text_cmp, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR public.<= (FUNCTION = public.hostile_tstz_cmp, LEFTARG = timestamptz, RIGHTARG = timestamptz);
CREATE OPERATOR public.< (FUNCTION = public.hostile_tstz_cmp, LEFTARG = timestamptz, RIGHTARG = timestamptz);
CREATE OPERATOR public.+ (FUNCTION = public.hostile_tstz_plus, LEFTARG = timestamptz, RIGHTARG = interval);

-- look-alike tables, in public and in pg_temp
CREATE TABLE public.active_jobs (LIKE goodjob.active_jobs);
CREATE TABLE public.finished_jobs (LIKE goodjob.finished_jobs);
CREATE TABLE public.batches (LIKE goodjob.batches);
CREATE TEMP TABLE active_jobs (LIKE goodjob.active_jobs);
CREATE TEMP TABLE finished_jobs (LIKE goodjob.finished_jobs);
CREATE TEMP TABLE batches (LIKE goodjob.batches);

INSERT INTO goodjob.batches DEFAULT VALUES RETURNING id AS batch_id \gset

-- the traps work: with public first, a plain query walks into them
SET search_path = public, pg_catalog;
SELECT now() = now() AS trapped;
RESET search_path;
SELECT what FROM public.hostile_calls ORDER BY what COLLATE "C";
TRUNCATE public.hostile_calls;

-- every goodjob function, with public ahead of pg_catalog
SET search_path = public, pg_catalog;
SELECT goodjob.enqueue('HostileJob', '{"n": 1}', 'hostile', 0, NULL, 2, :batch_id) AS h1 \gset
SELECT goodjob.enqueue('HostileJob', '{"n": 2}', 'hostile') AS h2 \gset
SELECT goodjob.enqueue('HostileJob', '{"n": 3}', 'hostile', max_attempts => 1) AS h3 \gset
SELECT goodjob.enqueue('HostileJob', '{"n": 4}', 'hostile_other') AS h4 \gset
SELECT goodjob.bulk_enqueue('{HostileBulkJob}', '{"{\"n\": 5}", "{\"n\": 6}"}', '{hostile_bulk}') IS NOT NULL AS bulk_enqueued;
SELECT job_class, args, state, attempts FROM goodjob.claim('hostile', 'hostile-worker', 1, '1 hour');
SELECT job_class, args, attempts FROM goodjob.claim('+hostile,hostile_other', max_jobs => 2, lease => '1 millisecond');
SELECT job_class, args, attempts FROM goodjob.claim('-hostile,hostile_other');
SELECT job_class, args, attempts FROM goodjob.claim('hostile_bulk,hostile_other');
SELECT job_class, args, attempts FROM goodjob.claim('*', lease => '1 hour');
SELECT goodjob.heartbeat(:h1, 1);
SELECT goodjob.heartbeat(:h1, 1, '2 hours');
SELECT goodjob.fail(:h1, 1, 'hostile failure', retry_at => '2000-01-01 00:00:00+00');
SELECT goodjob.complete(:h1, 1);
SELECT job_class, args, attempts FROM goodjob.claim('hostile');
SELECT goodjob.complete(:h1, 2);
SELECT goodjob.complete(ARRAY[:h1, :h2]::bigint[], ARRAY[2, 1]);
SELECT pg_sleep(0.05);
SELECT r->'expired_leases_requeued' AS requeued, r->'expired_leases_discarded' AS discarded
FROM goodjob.run_maintenance() AS r;
SELECT goodjob.fail(:h4, 2, 'hostile failure');
SELECT goodjob.fail(:h4, 2, 'hostile failure', retry => false);
SELECT goodjob.retry_job(:h4);
SELECT goodjob.reschedule_job(:h4, '2040-01-01 00:00:00+00');
SELECT goodjob.discard_job(:h4, 'hostile discard');
SELECT goodjob.discard_job(:h1);
SELECT goodjob.complete(:unknown_id, 1);
RESET search_path;

-- no hostile function or operator was called, the look-alikes are empty
SELECT what FROM public.hostile_calls ORDER BY what COLLATE "C";
SELECT (SELECT count(*) FROM public.active_jobs) + (SELECT count(*) FROM public.finished_jobs)
	   + (SELECT count(*) FROM public.batches) + (SELECT count(*) FROM pg_temp.active_jobs)
	   + (SELECT count(*) FROM pg_temp.finished_jobs) + (SELECT count(*) FROM pg_temp.batches)
	   AS look_alike_rows;

-- and every job ended as it should
SELECT job_class, args, state, attempts, error, batch_id = :batch_id AS in_batch
FROM goodjob.jobs WHERE job_class IN ('HostileJob', 'HostileBulkJob')
ORDER BY id;

-- clean up
SELECT count(*) AS discarded FROM goodjob.active_jobs WHERE goodjob.discard_job(id);
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
DROP ROLE regress_goodjob_nobody;
DROP TABLE public.hostile_calls, public.active_jobs, public.finished_jobs, public.batches;
DROP AGGREGATE public.count(*);
DROP OPERATOR public.= (bigint, bigint), public.= (integer, integer),
	public.< (integer, integer), public.>= (integer, integer),
	public.+ (integer, integer), public.= (text, text), public.<> (text, text),
	public.<= (timestamptz, timestamptz), public.< (timestamptz, timestamptz),
	public.+ (timestamptz, interval);
DROP FUNCTION public.hostile_call(text), public.now(), public.clock_timestamp(),
	public.statement_timestamp(), public.nextval(regclass), public.random(),
	public.unnest(bigint[]), public.unnest(integer[]),
	public.hostile_count_step(bigint), public.hostile_int8_cmp(bigint, bigint),
	public.hostile_int4_cmp(integer, integer), public.hostile_int4_plus(integer, integer),
	public.hostile_text_cmp(text, text), public.hostile_tstz_cmp(timestamptz, timestamptz),
	public.hostile_tstz_plus(timestamptz, interval);
REVOKE ALL ON SCHEMA goodjob
	FROM regress_goodjob_producer, regress_goodjob_worker, regress_goodjob_operator;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA goodjob
	FROM regress_goodjob_producer, regress_goodjob_worker, regress_goodjob_operator;
DROP ROLE regress_goodjob_producer;
DROP ROLE regress_goodjob_worker;
DROP ROLE regress_goodjob_operator;
