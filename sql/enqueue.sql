--
-- enqueue: goodjob.enqueue() with its defaults, every argument, NOTIFY, and
-- every bad input. A call that fails writes nothing.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

-- defaults: queue "default", priority 0, args {}, 25 attempts, now
BEGIN;
SELECT goodjob.enqueue('DefaultJob') AS id \gset
SELECT queue_name, priority, job_class, args, state, attempts, max_attempts,
	   scheduled_at = now() AS scheduled_now, created_at = now() AS created_now,
	   locked_by, locked_at, lease_expires_at, finished_at, error,
	   batch_id, batch_callback_id
FROM goodjob.jobs WHERE id = :id;
COMMIT;

-- NULL scheduled_at and max_attempts mean their defaults too
BEGIN;
SELECT goodjob.enqueue('DefaultJob', scheduled_at => NULL, max_attempts => NULL,
					   batch_id => NULL) AS id \gset
SELECT queue_name, max_attempts, scheduled_at = now() AS scheduled_now, batch_id
FROM goodjob.jobs WHERE id = :id;
COMMIT;

-- goodjob.default_max_attempts replaces 25
SET goodjob.default_max_attempts = 3;
SELECT goodjob.enqueue('FewAttemptsJob') AS id \gset
SELECT max_attempts FROM goodjob.jobs WHERE id = :id;
RESET goodjob.default_max_attempts;
SELECT goodjob.enqueue('FewAttemptsJob') AS id \gset
SELECT max_attempts FROM goodjob.jobs WHERE id = :id;

-- every argument, by position and by name
INSERT INTO goodjob.batches DEFAULT VALUES RETURNING id AS batch_id \gset
SELECT goodjob.enqueue('FullJob', '{"user_id": 7}', 'mailers', -5,
					   '2030-01-02 03:04:05+00', 4, :batch_id) AS id \gset
SELECT queue_name, priority, job_class, args, state,
	   scheduled_at = '2030-01-02 03:04:05+00' AS scheduled_as_given,
	   attempts, max_attempts, batch_id = :batch_id AS in_batch
FROM goodjob.jobs WHERE id = :id;
SELECT goodjob.enqueue(batch_id => :batch_id, max_attempts => 1,
					   scheduled_at => '2000-01-01 00:00:00+00', priority => 100,
					   queue_name => 'reports', args => '[1, "two", null]',
					   job_class => 'NamedArgsJob') AS id \gset
SELECT queue_name, priority, job_class, args, state,
	   scheduled_at = '2000-01-01 00:00:00+00' AS scheduled_as_given,
	   max_attempts, batch_id = :batch_id AS in_batch
FROM goodjob.jobs WHERE id = :id;

-- ids grow
SELECT goodjob.enqueue('NextJob', queue_name => 'reports') > :id AS larger_id;

-- bad input: each call fails with a clear error and writes nothing
SELECT count(*) AS jobs_before FROM goodjob.jobs \gset
SELECT last_value AS seq_before FROM goodjob.jobs_id_seq \gset

-- NULL where a value is required
SELECT goodjob.enqueue(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', priority => NULL);
\echo :LAST_ERROR_SQLSTATE

-- empty job class
SELECT goodjob.enqueue('');
\echo :LAST_ERROR_SQLSTATE

-- queue names that no queue specification could select
SELECT goodjob.enqueue('BadJob', queue_name => '');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => '*');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => 'a,b');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => '+a');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => '-a');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => ' a');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', queue_name => 'a ');
\echo :LAST_ERROR_SQLSTATE

-- max_attempts below 1
SELECT goodjob.enqueue('BadJob', max_attempts => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('BadJob', max_attempts => -1);
\echo :LAST_ERROR_SQLSTATE

-- unknown batch
SELECT goodjob.enqueue('BadJob', batch_id => :batch_id + 1000);
\echo :LAST_ERROR_SQLSTATE

-- nothing was written, not even a job id was used
SELECT count(*) - :jobs_before AS new_jobs FROM goodjob.jobs;
SELECT last_value - :seq_before AS ids_used FROM goodjob.jobs_id_seq;

-- a failed call inside a transaction leaves nothing either
BEGIN;
SELECT goodjob.enqueue('RolledBackJob', queue_name => 'rollback') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('BadJob', max_attempts => 0);
COMMIT;
SELECT count(*) AS rolled_back_jobs FROM goodjob.jobs WHERE queue_name = 'rollback';

--
-- NOTIFY goodjob {"queue_name": ..., "count": n}, sent at commit. psql prints
-- notifications with the sender's process id, so they are written to a file
-- and shown without it.
--
LISTEN goodjob;
\o results/enqueue_notify.txt
SELECT goodjob.enqueue('NotifyJob', queue_name => 'notify_a') IS NOT NULL AS enqueued;
-- one transaction: identical notifications are folded into one
BEGIN;
SELECT goodjob.enqueue('NotifyJob', queue_name => 'notify_b') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('NotifyJob', queue_name => 'notify_b') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('NotifyJob', queue_name => 'notify "quoted"') IS NOT NULL AS enqueued;
COMMIT;
-- rolled back or failed: no notification
BEGIN;
SELECT goodjob.enqueue('NotifyJob', queue_name => 'notify_rolled_back') IS NOT NULL AS enqueued;
ROLLBACK;
SELECT goodjob.enqueue('NotifyJob', queue_name => 'notify_failed', max_attempts => 0);
SELECT 1 AS done;
\o
UNLISTEN goodjob;
\set notifications `sed -e 's/ received from server process with PID [0-9]*\.$/./' results/enqueue_notify.txt | grep '^Asynchronous notification'`
\echo :notifications

-- clean up: no job of this test stays queued
SELECT count(*) AS discarded FROM goodjob.active_jobs WHERE goodjob.discard_job(id);
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
