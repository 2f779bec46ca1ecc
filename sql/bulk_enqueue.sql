--
-- bulk_enqueue: goodjob.bulk_enqueue() broadcast rules, defaults, id order,
-- batch membership, and bad input that must write nothing.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches;

-- ids come back in input order, one per job; arrays of length 1 apply to all
-- (rows a statement inserts are visible from the next statement on, so the
-- ids are kept in a temporary table first)
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT row_number() OVER () AS n, id
FROM goodjob.bulk_enqueue('{SendEmail}',
	array['{"user_id": 1}', '{"user_id": 2}', '{"user_id": 3}']::jsonb[]) AS id;
SELECT count(*) AS returned,
	   bool_and(id > lag_id) AS ascending_in_input_order
FROM (SELECT id, lag(id, 1, 0::bigint) OVER (ORDER BY n) AS lag_id FROM ids) s;
SELECT i.n, j.job_class, j.args, j.queue_name, j.priority, j.state, j.attempts,
	   j.max_attempts, j.scheduled_at = now() AS scheduled_now,
	   j.created_at = now() AS created_now, j.batch_id
FROM ids i JOIN goodjob.jobs j USING (id) ORDER BY i.n;
COMMIT;

-- every array of length N: each job gets its own values
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue(
	'{A,B,C}',
	array['{"i": 1}', '{"i": 2}', '{"i": 3}']::jsonb[],
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

-- mixed lengths: N, 1 and NULL together
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue('{Mixed}', array['{"i": 1}', '{"i": 2}']::jsonb[],
									NULL, '{7}', max_attempts => 2) AS id;
SELECT j.job_class, j.args, j.queue_name, j.priority, j.max_attempts
FROM ids JOIN goodjob.jobs j USING (id) ORDER BY j.id;
COMMIT;

-- priorities decide the claim order of a bulk-enqueued set
TRUNCATE goodjob.active_jobs;
SELECT count(*) FROM goodjob.bulk_enqueue('{P}', array['{"p": 5}', '{"p": 1}', '{"p": 3}']::jsonb[],
										  '{prio}', '{5,1,3}');
SELECT args FROM goodjob.claim('prio', 'w', 3);

-- batch membership
INSERT INTO goodjob.batches DEFAULT VALUES RETURNING id AS batch_id \gset
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
SELECT id FROM goodjob.bulk_enqueue('{InBatch}', array_fill('{}'::jsonb, ARRAY[5]),
									batch_id => :batch_id) AS id;
SELECT count(*) AS jobs, bool_and(j.batch_id = :batch_id) AS all_in_batch
FROM ids JOIN goodjob.jobs j USING (id);
COMMIT;

-- the typical call: one array built from a table
CREATE TEMP TABLE users AS SELECT g AS id FROM generate_series(1, 1000) g;
SELECT count(*) AS enqueued
FROM (SELECT goodjob.bulk_enqueue('{Welcome}', array_agg(jsonb_build_object('user_id', id)))
	  FROM users) s;
SELECT count(*) AS welcome_jobs, min((args->>'user_id')::int) AS first_user,
	   max((args->>'user_id')::int) AS last_user
FROM goodjob.jobs WHERE job_class = 'Welcome';

-- no jobs: no rows, nothing written
SELECT count(*) AS returned FROM goodjob.bulk_enqueue('{}', '{}');
SELECT count(*) AS returned FROM goodjob.bulk_enqueue('{}', '{}', '{}', '{}', '{}');

-- bad input: each call fails with a clear error and writes nothing
SELECT count(*) AS jobs_before FROM goodjob.jobs \gset

-- arrays of different lengths
SELECT goodjob.bulk_enqueue('{A,B}', array['{}', '{}', '{}']::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}', '{}']::jsonb[], '{q1,q2,q3}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}', '{}']::jsonb[], priorities => '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', '{}');
\echo :LAST_ERROR_SQLSTATE

-- multi-dimensional arrays
SELECT goodjob.bulk_enqueue('{{A},{B}}', array['{}']::jsonb[]);
\echo :LAST_ERROR_SQLSTATE

-- NULL arrays and NULL elements where a value is required
SELECT goodjob.bulk_enqueue(NULL, array['{}']::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A,NULL}', array['{}']::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}', NULL]::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}']::jsonb[], '{NULL}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}', '{}']::jsonb[], priorities => '{1,NULL}');
\echo :LAST_ERROR_SQLSTATE

-- invalid values
SELECT goodjob.bulk_enqueue('{A,""}', array['{}']::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}', '{}']::jsonb[], '{ok,"a,b"}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}']::jsonb[], max_attempts => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{A}', array['{}']::jsonb[], max_attempts => -3);
\echo :LAST_ERROR_SQLSTATE

-- infinite times would park a job forever (or put it first forever)
SELECT goodjob.bulk_enqueue('{A}', array['{}']::jsonb[], scheduled_ats => '{infinity}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('A', scheduled_at => '-infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('Finite') AS finite_id \gset
SELECT goodjob.reschedule_job(:finite_id, 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT id AS claimed_id, attempts AS claimed_attempt FROM goodjob.claim('default', 'w', 1) \gset
SELECT goodjob.fail(:claimed_id, :claimed_attempt, 'boom', retry_at => 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT state, attempts FROM goodjob.jobs WHERE id = :claimed_id;
SELECT goodjob.discard_job(:claimed_id);
SELECT count(*) AS jobs_before FROM goodjob.jobs \gset

-- unknown batch
SELECT goodjob.bulk_enqueue('{A}', array['{}']::jsonb[], batch_id => -1);
\echo :LAST_ERROR_SQLSTATE

-- a bad element at row 900,000 of a million leaves no row behind
SELECT count(*)
FROM goodjob.bulk_enqueue('{Big}',
	(SELECT array_agg(CASE WHEN g = 900000 THEN NULL ELSE jsonb_build_object('i', g) END)
	 FROM generate_series(1, 1000000) g));
\echo :LAST_ERROR_SQLSTATE

SELECT count(*) - :jobs_before AS jobs_written FROM goodjob.jobs;

-- and a million good rows go in whole
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_ids
FROM goodjob.bulk_enqueue('{Big}',
	(SELECT array_agg(jsonb_build_object('i', g)) FROM generate_series(1, 1000000) g)) AS id;
SELECT count(*) AS big_jobs, min((args->>'i')::int), max((args->>'i')::int)
FROM goodjob.jobs WHERE job_class = 'Big';

TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches;
