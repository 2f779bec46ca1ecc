--
-- admin: the operator actions retry_job, discard_job and reschedule_job.
-- Each returns true when it changed the job, false when the job is not in a
-- state the action applies to, and fails for an unknown job.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0
\set unknown_id 999999999

SELECT count(*) AS active_jobs FROM goodjob.active_jobs;

--
-- retry_job: a finished job is queued again now, its attempts kept
--
SELECT goodjob.enqueue('RetryJob', queue_name => 'admin', max_attempts => 1) AS id \gset
-- queued or running: nothing to retry
SELECT goodjob.retry_job(:id);
SELECT attempts AS attempt FROM goodjob.claim('admin') \gset
SELECT goodjob.retry_job(:id);
SELECT state, attempts FROM goodjob.jobs WHERE id = :id;
-- its only attempt fails: discarded
SELECT goodjob.fail(:id, :attempt, 'broken');
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.retry_job(:id);
SELECT clock_timestamp() AS t1 \gset
SELECT state, attempts, max_attempts, locked_by, locked_at, lease_expires_at, finished_at,
	   scheduled_at BETWEEN :'t0' AND :'t1' AS scheduled_now
FROM goodjob.jobs WHERE id = :id;
-- it is queued once, not twice
SELECT count(*) AS copies FROM goodjob.jobs WHERE id = :id;
-- a queued job cannot be retried
SELECT goodjob.retry_job(:id);
-- it runs again although its attempts were used up; attempt numbers never repeat
SELECT job_class, attempts FROM goodjob.claim('admin');
SELECT goodjob.complete(:id, :attempt);
SELECT goodjob.complete(:id, :attempt + 1);
SELECT state, attempts FROM goodjob.jobs WHERE id = :id;
-- a succeeded job can be retried as well
SELECT goodjob.retry_job(:id);
SELECT state, attempts, finished_at FROM goodjob.jobs WHERE id = :id;
SELECT job_class, attempts FROM goodjob.claim('admin');
-- failing that attempt discards it again (max_attempts 1)
SELECT goodjob.fail(:id, :attempt + 2, 'broken again');
SELECT state, attempts, error FROM goodjob.jobs WHERE id = :id;
-- a retried job is announced like a new one (shown without the sender's
-- process id)
LISTEN goodjob;
\o results/admin_notify.txt
SELECT goodjob.retry_job(:id) AS retried \gset
\o
UNLISTEN goodjob;
\echo :retried
\set notifications `sed -e 's/ received from server process with PID [0-9]*\.$/./' results/admin_notify.txt | grep '^Asynchronous notification'`
\echo :notifications
SELECT goodjob.discard_job(:id);

--
-- discard_job: a queued or running job is discarded; the reason becomes the error
--
SELECT goodjob.enqueue('DiscardQueuedJob', queue_name => 'admin') AS id \gset
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.discard_job(:id, 'not needed');
SELECT clock_timestamp() AS t1 \gset
SELECT state, attempts, error, finished_at BETWEEN :'t0' AND :'t1' AS finished_now
FROM goodjob.jobs WHERE id = :id;
-- finished: nothing to discard, the reason stays
SELECT goodjob.discard_job(:id, 'other reason');
SELECT state, error FROM goodjob.jobs WHERE id = :id;
-- a discarded job is never claimed
SELECT count(*) AS claimed FROM goodjob.claim('admin');

-- running: discarded, and its holder's token no longer holds
SELECT goodjob.enqueue('DiscardRunningJob', queue_name => 'admin') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('admin', 'worker-1') \gset
SELECT goodjob.discard_job(:id);
SELECT state, attempts, locked_by, error FROM goodjob.jobs WHERE id = :id;
SELECT goodjob.heartbeat(:id, :attempt);
SELECT goodjob.fail(:id, :attempt, 'late failure') IS NULL AS token_gone;
SELECT goodjob.complete(:id, :attempt);
SELECT goodjob.complete(ARRAY[:id]::bigint[], ARRAY[:attempt]);
SELECT state, error FROM goodjob.jobs WHERE id = :id;

-- a succeeded job cannot be discarded
SELECT goodjob.enqueue('SucceededJob', queue_name => 'admin') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('admin') \gset
SELECT goodjob.complete(:id, :attempt);
SELECT goodjob.discard_job(:id, 'too late');
SELECT state, error FROM goodjob.jobs WHERE id = :id;

--
-- reschedule_job: a queued job gets the new time
--
SELECT goodjob.enqueue('RescheduleJob', queue_name => 'admin') AS id \gset
SELECT goodjob.reschedule_job(:id, '2040-01-01 00:00:00+00');
SELECT state, scheduled_at = '2040-01-01 00:00:00+00' AS moved FROM goodjob.jobs WHERE id = :id;
SELECT count(*) AS claimed FROM goodjob.claim('admin');
SELECT goodjob.reschedule_job(:id, '2000-01-01 00:00:00+00');
SELECT state, scheduled_at = '2000-01-01 00:00:00+00' AS moved FROM goodjob.jobs WHERE id = :id;
-- running: left alone
SELECT attempts AS attempt FROM goodjob.claim('admin') \gset
SELECT goodjob.reschedule_job(:id, '2040-01-01 00:00:00+00');
SELECT state, scheduled_at = '2000-01-01 00:00:00+00' AS unchanged FROM goodjob.jobs WHERE id = :id;
-- finished: left alone
SELECT goodjob.complete(:id, :attempt);
SELECT goodjob.reschedule_job(:id, '2040-01-01 00:00:00+00');
SELECT state, scheduled_at = '2000-01-01 00:00:00+00' AS unchanged FROM goodjob.jobs WHERE id = :id;

--
-- Bad input: a clear error, and nothing changes
--
SELECT goodjob.enqueue('BadInputJob', queue_name => 'admin') AS id \gset
SELECT to_jsonb(j) AS before FROM goodjob.jobs j WHERE id = :id \gset

-- unknown job id
SELECT goodjob.retry_job(:unknown_id);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.discard_job(:unknown_id);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.discard_job(:unknown_id, 'reason');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.reschedule_job(:unknown_id, now());
\echo :LAST_ERROR_SQLSTATE

-- NULL where a value is required
SELECT goodjob.retry_job(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.discard_job(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.reschedule_job(NULL, now());
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.reschedule_job(:id, NULL);
\echo :LAST_ERROR_SQLSTATE

SELECT to_jsonb(j) = :'before'::jsonb AS unchanged FROM goodjob.jobs j WHERE id = :id;

-- clean up: no job of this test stays active
SELECT count(*) AS discarded FROM goodjob.active_jobs WHERE goodjob.discard_job(id);
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
