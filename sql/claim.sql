--
-- claim: queue specifications, claim order, max_jobs, leases, attempts, and
-- every bad input.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

-- nothing is queued when this test starts
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
SELECT * FROM goodjob.claim();

-- the job class names each job; all but "future" are ready
SELECT goodjob.enqueue('a_prio0_2001_first', queue_name => 'a', scheduled_at => '2001-01-01 00:00:00+00') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('a_prio0_2000', queue_name => 'a', scheduled_at => '2000-01-01 00:00:00+00') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('a_prio-1_2002', queue_name => 'a', priority => -1, scheduled_at => '2002-01-01 00:00:00+00') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('a_prio0_2001_second', queue_name => 'a', scheduled_at => '2001-01-01 00:00:00+00') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('b_prio0_2000-06', queue_name => 'b', scheduled_at => '2000-06-01 00:00:00+00') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('c_prio5_now', queue_name => 'c', priority => 5) IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('a_future', queue_name => 'a', priority => -100, scheduled_at => now() + interval '1 hour') IS NOT NULL AS enqueued;

--
-- Queue specifications. Each claim is rolled back, so every one sees the
-- same jobs; rows come back in claim order.
--

-- "*": every queue, by priority, then scheduled_at, then id
BEGIN;
SELECT job_class, queue_name, priority FROM goodjob.claim('*', max_jobs => 100);
ROLLBACK;

-- "a": only queue a
BEGIN;
SELECT job_class FROM goodjob.claim('a', max_jobs => 100);
ROLLBACK;

-- "a,b": only a and b, mixed in one order
BEGIN;
SELECT job_class FROM goodjob.claim('a,b', max_jobs => 100);
ROLLBACK;

-- white space around names is ignored
BEGIN;
SELECT job_class FROM goodjob.claim('  b , a ', max_jobs => 100);
ROLLBACK;

-- "-a": every queue but a; "-a,b": every queue but a and b
BEGIN;
SELECT job_class FROM goodjob.claim('-a', max_jobs => 100);
ROLLBACK;
BEGIN;
SELECT job_class FROM goodjob.claim('-a,b', max_jobs => 100);
ROLLBACK;

-- "+b,a": all of b's ready jobs before any of a's
BEGIN;
SELECT job_class FROM goodjob.claim('+b,a', max_jobs => 100);
ROLLBACK;

-- "+c,a,b" with max_jobs 3: c's job, then the first two of a
BEGIN;
SELECT job_class FROM goodjob.claim('+c,a,b', max_jobs => 3);
ROLLBACK;

-- "+a,b" with max_jobs 2: a alone fills the claim
BEGIN;
SELECT job_class FROM goodjob.claim('+a,b', max_jobs => 2);
ROLLBACK;

-- a queue without jobs
BEGIN;
SELECT job_class FROM goodjob.claim('nope', max_jobs => 100);
SELECT job_class FROM goodjob.claim('+nope,c', max_jobs => 100);
ROLLBACK;

-- max_jobs defaults to 1
BEGIN;
SELECT job_class FROM goodjob.claim();
ROLLBACK;

--
-- What a claim writes
--
SELECT clock_timestamp() AS t0 \gset
SELECT job_class, state, attempts, locked_by, finished_at, error,
	   lease_expires_at - locked_at AS lease
FROM goodjob.claim('a', 'worker-1', 2, '30 seconds');
SELECT clock_timestamp() AS t1 \gset
SELECT job_class, state, attempts, locked_by,
	   locked_at BETWEEN :'t0' AND :'t1' AS locked_during_claim,
	   lease_expires_at - locked_at AS lease
FROM goodjob.jobs WHERE queue_name = 'a'
ORDER BY priority, scheduled_at, id;

-- claimed jobs are not claimed again; no worker name is fine
SELECT job_class, attempts, locked_by, lease_expires_at - locked_at AS lease
FROM goodjob.claim('a', lease => '1 minute');

-- the default lease is goodjob.default_lease (5 minutes)
SELECT job_class, lease_expires_at - locked_at AS lease
FROM goodjob.claim('b', 'worker-2');
SET goodjob.default_lease = '90s';
SELECT job_class, lease_expires_at - locked_at AS lease
FROM goodjob.claim('c', 'worker-2', lease => NULL);
RESET goodjob.default_lease;

-- leases may be shorter than a second, and as long as 7 days
SELECT goodjob.enqueue('short_lease', queue_name => 'leases') IS NOT NULL AS enqueued;
SELECT goodjob.enqueue('long_lease', queue_name => 'leases') IS NOT NULL AS enqueued;
SELECT job_class, lease_expires_at - locked_at AS lease
FROM goodjob.claim('leases', lease => '500 milliseconds');
SELECT job_class, lease_expires_at - locked_at AS lease
FROM goodjob.claim('leases', lease => '7 days');

-- each claim is a new attempt
SELECT goodjob.enqueue('retried', queue_name => 'retry') AS retried_id \gset
SELECT job_class, attempts FROM goodjob.claim('retry');
SELECT goodjob.fail(:retried_id, 1, 'boom', retry_at => now() - interval '1 second');
SELECT job_class, attempts, error FROM goodjob.claim('retry');
SELECT goodjob.fail(:retried_id, 2, 'boom again', retry_at => now() - interval '1 second');
SELECT job_class, attempts, error FROM goodjob.claim('retry');

-- a job scheduled in the future is never claimed
SELECT count(*) AS claimed FROM goodjob.claim('*', max_jobs => 100);
SELECT job_class, state, attempts FROM goodjob.jobs WHERE state = 'queued';

--
-- Bad input: a clear error, and nothing is claimed
--
SELECT goodjob.reschedule_job(id, now() - interval '1 second') AS rescheduled
FROM goodjob.jobs WHERE job_class = 'a_future';

-- malformed queue specifications
SELECT * FROM goodjob.claim('');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('   ');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('+');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('-');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('a,,b');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(' , ');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('a,');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('+,a');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('*,a');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('-*');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('a,+b');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim('+a,-b');
\echo :LAST_ERROR_SQLSTATE

-- max_jobs below 1
SELECT * FROM goodjob.claim(max_jobs => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(max_jobs => -1);
\echo :LAST_ERROR_SQLSTATE

-- leases that are not positive, or too long
SELECT * FROM goodjob.claim(lease => '0');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(lease => '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(lease => '1 day -25 hours');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(lease => '8 days');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(lease => '7 days 1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(lease => '1 mon');
\echo :LAST_ERROR_SQLSTATE

-- NULL where a value is required
SELECT * FROM goodjob.claim(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM goodjob.claim(max_jobs => NULL);
\echo :LAST_ERROR_SQLSTATE

-- none of these claimed the ready job
SELECT job_class, state, attempts FROM goodjob.jobs WHERE job_class = 'a_future';

-- clean up: no job of this test stays active
SELECT count(*) AS discarded FROM goodjob.active_jobs WHERE goodjob.discard_job(id);
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
