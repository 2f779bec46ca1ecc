--
-- maintenance: run_maintenance() reaps expired leases. An expired lease is
-- a failed attempt with the error "lease expired": the job is queued again
-- at once, or discarded when its attempts are used up.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

SELECT count(*) AS active_jobs FROM goodjob.active_jobs;

-- nothing to do
SELECT r->'expired_leases_requeued' AS requeued, r->'expired_leases_discarded' AS discarded
FROM goodjob.run_maintenance() AS r;

-- a job whose lease expires, one with its last attempt, and one whose lease
-- is still good
SELECT goodjob.enqueue('ExpiringJob', queue_name => 'maint') AS id \gset
SELECT goodjob.enqueue('LastAttemptJob', queue_name => 'maint', max_attempts => 1) AS last_id \gset
SELECT goodjob.enqueue('HealthyJob', queue_name => 'maint_ok') AS ok_id \gset
SELECT job_class, attempts FROM goodjob.claim('maint', 'old-worker', 2, '1 millisecond');
SELECT job_class, attempts FROM goodjob.claim('maint_ok', 'good-worker', lease => '1 hour');
SELECT pg_sleep(0.05);

SELECT clock_timestamp() AS t0 \gset
SELECT r->'expired_leases_requeued' AS requeued, r->'expired_leases_discarded' AS discarded
FROM goodjob.run_maintenance() AS r;
SELECT clock_timestamp() AS t1 \gset
SELECT job_class, state, attempts, max_attempts, error, locked_by,
	   locked_at IS NOT NULL AS locked, lease_expires_at > :'t1' AS lease_good,
	   scheduled_at BETWEEN :'t0' AND :'t1' AS scheduled_now,
	   finished_at BETWEEN :'t0' AND :'t1' AS finished_now
FROM goodjob.jobs WHERE id IN (:id, :last_id, :ok_id) ORDER BY id;

-- a second pass finds nothing more
SELECT r->'expired_leases_requeued' AS requeued, r->'expired_leases_discarded' AS discarded
FROM goodjob.run_maintenance() AS r;

-- the old holder's token no longer holds, and changes nothing
SELECT to_jsonb(j) AS before FROM goodjob.jobs j WHERE id = :id \gset
SELECT goodjob.complete(:id, 1);
SELECT goodjob.fail(:id, 1, 'old worker failed') IS NULL AS token_gone;
SELECT goodjob.heartbeat(:id, 1);
SELECT goodjob.complete(ARRAY[:id]::bigint[], ARRAY[1]);
SELECT to_jsonb(j) = :'before'::jsonb AS unchanged FROM goodjob.jobs j WHERE id = :id;
SELECT goodjob.complete(:last_id, 1);
SELECT goodjob.fail(:last_id, 1, 'old worker failed') IS NULL AS token_gone;
SELECT goodjob.heartbeat(:last_id, 1);

-- the requeued job is claimed at once by a new worker, as attempt 2
SELECT job_class, attempts, locked_by, error FROM goodjob.claim('maint', 'new-worker');
-- still not for the old holder
SELECT goodjob.complete(:id, 1);
SELECT goodjob.heartbeat(:id, 1);
SELECT goodjob.fail(:id, 1, 'old worker failed') IS NULL AS token_gone;
-- the new holder completes it
SELECT goodjob.complete(:id, 2);
SELECT job_class, state, attempts, locked_by FROM goodjob.jobs WHERE id = :id;

-- a heartbeat extends a short lease, so the job is not reaped
SELECT goodjob.enqueue('HeartbeatJob', queue_name => 'maint') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('maint', lease => '200 milliseconds') \gset
SELECT goodjob.heartbeat(:id, :attempt, '1 hour');
SELECT pg_sleep(0.3);
SELECT r->'expired_leases_requeued' AS requeued, r->'expired_leases_discarded' AS discarded
FROM goodjob.run_maintenance() AS r;
SELECT state, attempts FROM goodjob.jobs WHERE id = :id;

-- several expired leases at once, in two queues
SELECT goodjob.enqueue('BulkExpiringJob', queue_name => 'maint_x') IS NOT NULL AS enqueued
FROM generate_series(1, 3);
SELECT goodjob.enqueue('BulkExpiringJob', queue_name => 'maint_y') IS NOT NULL AS enqueued
FROM generate_series(1, 2);
SELECT goodjob.enqueue('BulkExpiringJob', queue_name => 'maint_y', max_attempts => 1) IS NOT NULL AS enqueued;
SELECT count(*) AS claimed FROM goodjob.claim('maint_x,maint_y', max_jobs => 10, lease => '1 millisecond');
SELECT pg_sleep(0.05);
-- each queue that got jobs back is notified (shown without the sender's
-- process id, sorted)
LISTEN goodjob;
\o results/maintenance_notify.txt
SELECT jsonb_build_object('expired_leases_requeued', r->'expired_leases_requeued',
						  'expired_leases_discarded', r->'expired_leases_discarded') AS report
FROM goodjob.run_maintenance() AS r \gset
\o
UNLISTEN goodjob;
\echo :report
\set notifications `sed -e 's/ received from server process with PID [0-9]*\.$/./' results/maintenance_notify.txt | grep '^Asynchronous notification' | LC_ALL=C sort`
\echo :notifications
SELECT queue_name, state, attempts, error, count(*)
FROM goodjob.jobs WHERE job_class = 'BulkExpiringJob'
GROUP BY queue_name, state, attempts, error
ORDER BY queue_name COLLATE "C", state COLLATE "C";

-- clean up: no job of this test stays active
SELECT count(*) AS discarded FROM goodjob.active_jobs WHERE goodjob.discard_job(id);
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
