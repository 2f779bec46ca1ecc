-- Claims start their scan at a key kept in shared memory (claim_start.c):
-- whatever makes a job queued below the key lowers it, so claim order is
-- unchanged. Here no maintainer serves the database; run_maintenance()
-- resets the keys, which makes them usable (for ten maintenance intervals).
SET client_min_messages = warning;
TRUNCATE goodjob.active_jobs, goodjob.finished_jobs;
RESET client_min_messages;

-- ids are compared relative to the first job of this file
SELECT goodjob.enqueue('First', '{}', queue_name => 'cs') AS base \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{Job}',
	ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 5) i),
	'{cs}');
SELECT count(*) FROM goodjob.bulk_enqueue('{Job}',
	ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(6, 9) i),
	'{other}');

-- The first claim from a queue (or from every queue) makes its key, which
-- is used once a maintenance pass has set it.
SELECT id - :base AS job, job_class, args FROM goodjob.claim('cs', 'w', 1);
SELECT id - :base AS job, queue_name, args FROM goodjob.claim('*', 'w', 1);
SELECT goodjob.run_maintenance() ->> 'expired_leases_requeued' AS reaped;

-- Claims from the key: one queue, then every queue.
SELECT id - :base AS job, job_class, args FROM goodjob.claim('cs', 'w', 1);
SELECT id - :base AS job, queue_name, args FROM goodjob.claim('*', 'w', 1);

-- A job of a higher priority (a lower number) enqueued after those claims
-- comes first, for its queue and for every queue.
SELECT goodjob.enqueue('Urgent', '{}', queue_name => 'cs', priority => -1) - :base AS urgent;
SELECT id - :base AS job, job_class FROM goodjob.claim('cs', 'w', 1);
SELECT goodjob.enqueue('Urgent2', '{}', queue_name => 'other', priority => -1) - :base AS urgent2;
SELECT id - :base AS job, job_class FROM goodjob.claim('*', 'w', 1);

-- The same through bulk_enqueue and bulk_enqueue_json.
SELECT count(*) FROM goodjob.bulk_enqueue('{BulkUrgent}', '{"{}"}', '{cs}', '{-2}');
SELECT id - :base AS job, job_class FROM goodjob.claim('cs', 'w', 1);
SELECT count(*) FROM goodjob.bulk_enqueue_json('{JsonUrgent}', '{"{}"}', '{cs}', '{-2}');
SELECT id - :base AS job, job_class FROM goodjob.claim('cs', 'w', 1);

-- A job rescheduled to an earlier time is next.
SELECT goodjob.enqueue('Later', '{}', queue_name => 'cs',
	scheduled_at => now() + interval '1 hour') - :base AS later \gset
SELECT goodjob.reschedule_job(:base + :later, now() - interval '1 day');
SELECT id - :base AS job, job_class FROM goodjob.claim('cs', 'w', 1);

-- A failed job retried at an earlier time is next.
SELECT goodjob.fail(:base + :later, 1, 'boom', true, now() - interval '2 days');
SELECT id - :base AS job, job_class, attempts FROM goodjob.claim('cs', 'w', 1);

-- A finished job of a higher priority retried by an operator is next.
SELECT goodjob.complete(:base + :later, 2);
UPDATE goodjob.finished_jobs SET priority = -3 WHERE id = :base + :later;
SELECT goodjob.retry_job(:base + :later);
SELECT id - :base AS job, job_class, priority FROM goodjob.claim('cs', 'w', 1);

-- A claim that rolls back leaves its jobs where the next claim finds them.
BEGIN;
SELECT id - :base AS job, args FROM goodjob.claim('cs', 'w', 2);
ROLLBACK;
SELECT id - :base AS job, args FROM goodjob.claim('cs', 'w', 2);

-- A lease that expires puts its job back below the key; the reaper's
-- requeue lowers it.
SELECT goodjob.enqueue('Leased', '{}', queue_name => 'cs', priority => -9) - :base AS leased \gset
SELECT id - :base AS job, job_class FROM goodjob.claim('cs', 'w', 1, lease => '1 millisecond');
SELECT pg_sleep(0.01);
SELECT goodjob.run_maintenance() ->> 'expired_leases_requeued' AS reaped;
SELECT id - :base AS job, job_class, attempts FROM goodjob.claim('cs', 'w', 1);

-- Every job was claimed exactly once per attempt, nothing is left queued
-- in cs but job 5 (n = 5), and "other" still has its own jobs.
SELECT id - :base AS job, state, attempts FROM goodjob.jobs
WHERE queue_name = 'cs' ORDER BY id;
SELECT count(*) AS other_queued FROM goodjob.jobs
WHERE queue_name = 'other' AND state = 'queued';

-- An empty queue's key lies past every job; what is enqueued later, in
-- another transaction or in the claiming one, is found.
SELECT count(*) FROM goodjob.claim('empty', 'w', 1);
SELECT goodjob.run_maintenance() ->> 'expired_leases_requeued' AS reaped;
SELECT goodjob.enqueue('LaterIn', '{}', queue_name => 'empty', priority => 100) - :base AS later_in;
SELECT id - :base AS job, job_class FROM goodjob.claim('empty', 'w', 1);
BEGIN;
SELECT goodjob.enqueue('SameTx', '{}', queue_name => 'empty', priority => -100) - :base AS same_tx;
SELECT id - :base AS job, job_class FROM goodjob.claim('empty', 'w', 1);
COMMIT;
SELECT count(*) AS left_in_empty FROM goodjob.claim('empty', 'w', 1);
