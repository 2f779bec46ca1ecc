--
-- bulk_enqueue_json: goodjob.bulk_enqueue_json() follows bulk_enqueue's rules
-- (broadcast, defaults, id order, batches, errors) with the args given as JSON
-- text; JSON that does not parse is an error naming its element, and nothing
-- is written.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches;

-- ids come back in input order, one per job; arrays of length 1 apply to all
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT row_number() OVER () AS n, id
FROM goodjob.bulk_enqueue_json('{SendEmail}',
	array['{"user_id": 1}', '{"user_id": 2}', '{"user_id": 3}']) AS id;
SELECT count(*) AS returned,
	   bool_and(id > lag_id) AS ascending_in_input_order
FROM (SELECT id, lag(id, 1, 0::bigint) OVER (ORDER BY n) AS lag_id FROM ids) s;
SELECT i.n, j.job_class, j.args, j.queue_name, j.priority, j.state, j.attempts,
	   j.max_attempts, j.scheduled_at = now() AS scheduled_now,
	   j.created_at = now() AS created_now, j.batch_id
FROM ids i JOIN goodjob.jobs j USING (id) ORDER BY i.n;
COMMIT;

-- untyped literals resolve without casts: the name is not an overload of
-- bulk_enqueue, so nothing is ambiguous
SELECT count(*) AS returned
FROM goodjob.bulk_enqueue_json('{Untyped}', '{"{\"a\": 1}", "{\"a\": 2}"}');
SELECT count(*) AS returned
FROM goodjob.bulk_enqueue('{Untyped}', '{"{\"a\": 1}", "{\"a\": 2}"}');

-- every array of length N: each job gets its own values
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue_json(
	'{A,B,C}',
	array['{"i": 1}', '{"i": 2}', '{"i": 3}'],
	'{q1,q2,q1}',
	'{3,-1,0}',
	array['2030-01-01 00:00:00+00', NULL, '2030-01-01 00:00:00+00']::timestamptz[]) AS id;
SELECT j.job_class, j.args, j.queue_name, j.priority,
	   j.scheduled_at = '2030-01-01 00:00:00+00' AS in_2030,
	   j.scheduled_at = now() AS scheduled_now
FROM ids JOIN goodjob.jobs j USING (id) ORDER BY j.id;
COMMIT;

-- a NULL scheduled_ats element means now; a scheduled job is not claimed early
SELECT count(*) AS claimed FROM goodjob.claim('q1,q2', 'w', 10);
SELECT job_class, state FROM goodjob.jobs WHERE queue_name IN ('q1', 'q2') ORDER BY id;

-- mixed lengths: N, 1 and NULL together; a broadcast args element is one
-- JSON value for every job
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue_json('{Mixed}', array['{"i": 1}', '{"i": 2}'],
										 NULL, '{7}', max_attempts => 2) AS id;
SELECT j.job_class, j.args, j.queue_name, j.priority, j.max_attempts
FROM ids JOIN goodjob.jobs j USING (id) ORDER BY j.id;
COMMIT;
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue_json('{X,Y,Z}', '{"{\"same\": true}"}') AS id;
SELECT j.job_class, j.args FROM ids JOIN goodjob.jobs j USING (id) ORDER BY j.id;
COMMIT;

-- args are stored exactly as bulk_enqueue stores the same JSON as jsonb:
-- normalized objects, and any other JSON value, which bulk_enqueue accepts too
CREATE TEMP TABLE samples (n int, json text);
INSERT INTO samples VALUES
	(1, '{"b": 1, "a": [1, 2.50, "x"], "a": "last wins"}'),
	(2, '  {"nested": {"deep": {"er": null}}, "escaped": "\u0041\n"}  '),
	(3, '[1, {"two": 2}]'),
	(4, '42'),
	(5, '"just a string"'),
	(6, 'null'),
	(7, '{}');
BEGIN;
CREATE TEMP TABLE via_text ON COMMIT DROP AS
SELECT row_number() OVER () AS n, id
FROM goodjob.bulk_enqueue_json('{Same}', (SELECT array_agg(json ORDER BY n) FROM samples)) AS id;
CREATE TEMP TABLE via_jsonb ON COMMIT DROP AS
SELECT row_number() OVER () AS n, id
FROM goodjob.bulk_enqueue('{Same}', (SELECT array_agg(json::jsonb ORDER BY n) FROM samples)) AS id;
SELECT t.n, jt.args, jsonb_typeof(jt.args) AS type, jt.args = jb.args AS same_as_bulk_enqueue
FROM via_text t JOIN via_jsonb b USING (n)
JOIN goodjob.jobs jt ON jt.id = t.id JOIN goodjob.jobs jb ON jb.id = b.id
ORDER BY t.n;
COMMIT;

-- priorities decide the claim order of a bulk-enqueued set
TRUNCATE goodjob.active_jobs;
SELECT count(*) FROM goodjob.bulk_enqueue_json('{P}', array['{"p": 5}', '{"p": 1}', '{"p": 3}'],
											   '{prio}', '{5,1,3}');
SELECT args FROM goodjob.claim('prio', 'w', 3);

-- batch membership
INSERT INTO goodjob.batches DEFAULT VALUES RETURNING id AS batch_id \gset
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue_json('{InBatch}', array_fill('{}'::text, ARRAY[5]),
										 batch_id => :batch_id) AS id;
SELECT count(*) AS jobs, bool_and(j.batch_id = :batch_id) AS all_in_batch
FROM ids JOIN goodjob.jobs j USING (id);
COMMIT;

-- the ids as one array, in input order whatever the plan: number the rows
-- WITH ORDINALITY and order the aggregate by that number
BEGIN;
CREATE TEMP TABLE one_array ON COMMIT DROP AS
SELECT array_agg(id ORDER BY n) AS ids
FROM goodjob.bulk_enqueue_json('{OneArray}',
		(SELECT array_agg(format('{"n": %s}', g) ORDER BY g) FROM generate_series(1, 2500) g))
	 WITH ORDINALITY AS t(id, n);
SELECT cardinality(ids) AS returned,
	   ids = (SELECT array_agg(j.id ORDER BY (j.args->>'n')::int)
			  FROM goodjob.jobs j WHERE j.job_class = 'OneArray') AS in_input_order
FROM one_array;
COMMIT;

-- the typical call: JSON text kept in a table
CREATE TEMP TABLE inbox AS
SELECT g AS id, format('{"user_id": %s}', g) AS payload FROM generate_series(1, 1000) g;
SELECT count(*) AS enqueued
FROM (SELECT goodjob.bulk_enqueue_json('{Welcome}', array_agg(payload ORDER BY id))
	  FROM inbox) s;
SELECT count(*) AS welcome_jobs, min((args->>'user_id')::int) AS first_user,
	   max((args->>'user_id')::int) AS last_user
FROM goodjob.jobs WHERE job_class = 'Welcome';

-- no jobs: no rows, nothing written
SELECT count(*) AS returned FROM goodjob.bulk_enqueue_json('{}', '{}');
SELECT count(*) AS returned FROM goodjob.bulk_enqueue_json('{}', '{}', '{}', '{}', '{}');

-- the safe search_path holds: look-alike tables in public get nothing
CREATE TABLE public.active_jobs (LIKE goodjob.active_jobs);
SET search_path = public, pg_catalog;
SELECT count(*) AS returned
FROM goodjob.bulk_enqueue_json('{Pathless}', '{"{}", "{}"}');
RESET search_path;
SELECT (SELECT count(*) FROM public.active_jobs) AS lookalike_rows,
	   (SELECT count(*) FROM goodjob.jobs WHERE job_class = 'Pathless') AS real_rows;
DROP TABLE public.active_jobs;

-- not executable by PUBLIC; a grant on the function is enough to enqueue
CREATE ROLE regress_goodjob_json_producer;
GRANT USAGE ON SCHEMA goodjob TO regress_goodjob_json_producer;
SET ROLE regress_goodjob_json_producer;
SELECT goodjob.bulk_enqueue_json('{Refused}', '{"{}"}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION
	goodjob.bulk_enqueue_json(text[], text[], text[], integer[], timestamptz[], bigint, integer)
	TO regress_goodjob_json_producer;
SET ROLE regress_goodjob_json_producer;
SELECT count(*) AS returned FROM goodjob.bulk_enqueue_json('{Granted}', '{"{}"}');
RESET ROLE;
REVOKE ALL ON FUNCTION
	goodjob.bulk_enqueue_json(text[], text[], text[], integer[], timestamptz[], bigint, integer)
	FROM regress_goodjob_json_producer;
REVOKE USAGE ON SCHEMA goodjob FROM regress_goodjob_json_producer;
DROP ROLE regress_goodjob_json_producer;

-- bad input: each call fails with a clear error and writes nothing
SELECT count(*) AS jobs_before FROM goodjob.jobs \gset

-- JSON that does not parse: the error's context names the element (1-based)
SELECT goodjob.bulk_enqueue_json('{A}', array['{"i": 1}', '{"i": 2}', '{"i": 3', '{"i": 4}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', 'not json']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{} {}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{}', '']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A,B,C}', array['{"broadcast": ']);
\echo :LAST_ERROR_SQLSTATE
-- valid JSON that jsonb cannot hold
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{"nul": "\u0000"}']);
\echo :LAST_ERROR_SQLSTATE

-- arrays of different lengths
SELECT goodjob.bulk_enqueue_json('{A,B}', array['{}', '{}', '{}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{}'], '{q1,q2,q3}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{}'], priorities => '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{}'],
								 scheduled_ats => array[now(), now(), now()]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', '{}');
\echo :LAST_ERROR_SQLSTATE

-- multi-dimensional arrays
SELECT goodjob.bulk_enqueue_json('{{A},{B}}', array['{}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', '{{"{}"},{"{}"}}');
\echo :LAST_ERROR_SQLSTATE

-- NULL arrays and NULL elements where a value is required; a JSON null is
-- a value (see above), an SQL NULL element is not
SELECT goodjob.bulk_enqueue_json(NULL, array['{}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A,NULL}', array['{}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A,B}', array[NULL]::text[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}'], '{NULL}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{}'], priorities => '{1,NULL}');
\echo :LAST_ERROR_SQLSTATE

-- invalid values
SELECT goodjob.bulk_enqueue_json('{A,""}', array['{}']);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}', '{}'], '{ok,"a,b"}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}'], max_attempts => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}'], max_attempts => -3);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue_json('{A}', array['{}'], scheduled_ats => '{infinity}');
\echo :LAST_ERROR_SQLSTATE

-- unknown batch, cancelled batch
SELECT goodjob.bulk_enqueue_json('{A}', array['{}'], batch_id => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create() AS cancelled_batch \gset
SELECT goodjob.batch_cancel(:cancelled_batch);
\set VERBOSITY sqlstate
SELECT goodjob.bulk_enqueue_json('{A}', array['{}'], batch_id => :cancelled_batch);
\set VERBOSITY default
SELECT :'LAST_ERROR_MESSAGE' = format('batch %s is cancelled', :cancelled_batch) AS cancelled_error;

SELECT count(*) - :jobs_before AS jobs_written FROM goodjob.jobs;

-- a bad element at row 900,000 of a million leaves no row behind: JSON that
-- does not parse, and an SQL NULL
SELECT count(*)
FROM goodjob.bulk_enqueue_json('{Big}',
	(SELECT array_agg(CASE WHEN g = 900000 THEN '{"i": 900000' ELSE format('{"i": %s}', g) END)
	 FROM generate_series(1, 1000000) g));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*)
FROM goodjob.bulk_enqueue_json('{Big}',
	(SELECT array_agg(CASE WHEN g = 900000 THEN NULL ELSE format('{"i": %s}', g) END)
	 FROM generate_series(1, 1000000) g));
\echo :LAST_ERROR_SQLSTATE

SELECT count(*) - :jobs_before AS jobs_written FROM goodjob.jobs;

-- and a million good rows go in whole, each with its own args
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_ids
FROM goodjob.bulk_enqueue_json('{Big}',
	(SELECT array_agg(format('{"i": %s, "template": "welcome"}', g)) FROM generate_series(1, 1000000) g)) AS id;
SELECT count(*) AS big_jobs, min((args->>'i')::int), max((args->>'i')::int),
	   count(DISTINCT args->>'i') AS distinct_args,
	   bool_and(args->>'template' = 'welcome') AS all_complete
FROM goodjob.jobs WHERE job_class = 'Big';

TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches;
