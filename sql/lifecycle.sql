--
-- lifecycle: complete, fail and heartbeat, keyed by the fencing token
-- (job id, attempt), and every bad input.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

\set unknown_id 999999999
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;

--
-- complete(job_id, attempt)
--
SELECT goodjob.enqueue('CompleteJob', queue_name => 'life') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life', 'worker-1') \gset
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.complete(:id, :attempt);
SELECT clock_timestamp() AS t1 \gset
SELECT job_class, state, attempts, error, finished_at BETWEEN :'t0' AND :'t1' AS finished_now
FROM goodjob.jobs WHERE id = :id;
-- the token no longer holds: false, nothing changes
SELECT goodjob.complete(:id, :attempt);
SELECT state, finished_at BETWEEN :'t0' AND :'t1' AS finished_now
FROM goodjob.jobs WHERE id = :id;

-- a queued job was never claimed: no attempt holds
SELECT goodjob.enqueue('NotClaimedJob', queue_name => 'life') AS queued_id \gset
SELECT goodjob.complete(:queued_id, 1);
SELECT state, attempts FROM goodjob.jobs WHERE id = :queued_id;
SELECT goodjob.discard_job(:queued_id);

--
-- complete(job_ids, attempts): how many tokens held
--
SELECT goodjob.enqueue('ManyJob', queue_name => 'life') AS m1 \gset
SELECT goodjob.enqueue('ManyJob', queue_name => 'life') AS m2 \gset
SELECT goodjob.enqueue('ManyJob', queue_name => 'life') AS m3 \gset
SELECT count(*) AS claimed FROM goodjob.claim('life', max_jobs => 3);
-- m3 with a wrong attempt, and an id that does not exist: not counted
SELECT goodjob.complete(ARRAY[:m1, :m2, :m3, :m3 + 1000]::bigint[], ARRAY[1, 1, 2, 1]);
SELECT id - :m1 AS job, state FROM goodjob.jobs WHERE id IN (:m1, :m2, :m3) ORDER BY id;
SELECT goodjob.complete(ARRAY[:m1, :m2, :m3]::bigint[], ARRAY[1, 1, 1]);
SELECT id - :m1 AS job, state FROM goodjob.jobs WHERE id IN (:m1, :m2, :m3) ORDER BY id;
-- empty arrays complete nothing
SELECT goodjob.complete('{}'::bigint[], '{}'::integer[]);

-- complete_ids(job_ids, attempts): the same, returning the ids whose tokens held
SELECT goodjob.enqueue('IdsJob', queue_name => 'life') AS i1 \gset
SELECT goodjob.enqueue('IdsJob', queue_name => 'life') AS i2 \gset
SELECT goodjob.enqueue('IdsJob', queue_name => 'life') AS i3 \gset
SELECT count(*) AS claimed FROM goodjob.claim('life', max_jobs => 3);
-- i2 with a wrong attempt, and an id that does not exist: not returned
SELECT id - :i1 AS job FROM goodjob.complete_ids(ARRAY[:i1, :i2, :i3, :i3 + 1000]::bigint[],
												 ARRAY[1, 2, 1, 1]) AS id ORDER BY 1;
SELECT id - :i1 AS job, state FROM goodjob.jobs WHERE id IN (:i1, :i2, :i3) ORDER BY id;
SELECT count(*) AS returned FROM goodjob.complete_ids('{}'::bigint[], '{}'::integer[]);
SELECT goodjob.complete_ids(ARRAY[:i2]::bigint[], '{}'::integer[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete_ids(ARRAY[:i2]::bigint[], NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT id - :i1 AS job FROM goodjob.complete_ids(ARRAY[:i2]::bigint[], ARRAY[1]) AS id;

--
-- fail(): retry with polynomial backoff, attempt^exponent + base seconds,
-- stretched by up to goodjob.retry_jitter
--
SELECT goodjob.enqueue('FailJob', queue_name => 'life', max_attempts => 3) AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life', 'worker-1') \gset
SET goodjob.retry_jitter = 0;
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.fail(:id, :attempt, 'first failure');
SELECT clock_timestamp() AS t1 \gset
-- attempt 1: 1^4 + 15 = 16 seconds
SELECT job_class, state, attempts, error, locked_by, locked_at, lease_expires_at, finished_at,
	   scheduled_at BETWEEN :'t0'::timestamptz + interval '16 seconds'
					AND :'t1'::timestamptz + interval '16 seconds' AS after_16_seconds
FROM goodjob.jobs WHERE id = :id;
-- the failed attempt's token no longer holds
SELECT goodjob.fail(:id, :attempt, 'again') IS NULL AS token_gone;
SELECT goodjob.complete(:id, :attempt);
SELECT state, error FROM goodjob.jobs WHERE id = :id;

-- attempt 2 with base 10 and exponent 3: 2^3 + 10 = 18 seconds
SELECT goodjob.reschedule_job(:id, now() - interval '1 second');
SELECT attempts AS attempt FROM goodjob.claim('life', 'worker-1') \gset
SELECT :attempt AS attempt;
SET goodjob.retry_backoff_base = 10;
SET goodjob.retry_backoff_exponent = 3;
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.fail(:id, :attempt, 'second failure');
SELECT clock_timestamp() AS t1 \gset
SELECT state, error,
	   scheduled_at BETWEEN :'t0'::timestamptz + interval '18 seconds'
					AND :'t1'::timestamptz + interval '18 seconds' AS after_18_seconds
FROM goodjob.jobs WHERE id = :id;
RESET goodjob.retry_backoff_base;
RESET goodjob.retry_backoff_exponent;

-- the last attempt is used up: discarded, whatever retry says
SELECT goodjob.reschedule_job(:id, now() - interval '1 second');
SELECT attempts AS attempt FROM goodjob.claim('life', 'worker-1') \gset
SELECT :attempt AS attempt;
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.fail(:id, :attempt, 'third failure');
SELECT clock_timestamp() AS t1 \gset
SELECT state, attempts, max_attempts, error,
	   finished_at BETWEEN :'t0' AND :'t1' AS finished_now
FROM goodjob.jobs WHERE id = :id;
SELECT goodjob.fail(:id, :attempt, 'again') IS NULL AS token_gone;

-- with the default jitter (0.1) the delay is between 16 and 17.6 seconds
RESET goodjob.retry_jitter;
SELECT goodjob.enqueue('JitterJob', queue_name => 'life') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life') \gset
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.fail(:id, :attempt, 'failure');
SELECT clock_timestamp() AS t1 \gset
SELECT state,
	   scheduled_at BETWEEN :'t0'::timestamptz + interval '16 seconds'
					AND :'t1'::timestamptz + interval '17.6 seconds' AS within_jitter
FROM goodjob.jobs WHERE id = :id;
SELECT goodjob.discard_job(:id);

-- retry_at overrides the backoff
SELECT goodjob.enqueue('RetryAtJob', queue_name => 'life') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life') \gset
SELECT goodjob.fail(:id, :attempt, 'failure', retry_at => '2040-01-01 00:00:00+00');
SELECT state, error, scheduled_at = '2040-01-01 00:00:00+00' AS at_retry_at
FROM goodjob.jobs WHERE id = :id;
SELECT goodjob.discard_job(:id);

-- retry => false discards at once, with attempts left
SELECT goodjob.enqueue('NoRetryJob', queue_name => 'life') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life') \gset
SELECT goodjob.fail(:id, :attempt, 'fatal', retry => false);
SELECT state, attempts, max_attempts, error, finished_at IS NOT NULL AS finished
FROM goodjob.jobs WHERE id = :id;

-- a NULL error is stored as NULL
SELECT goodjob.enqueue('NullErrorJob', queue_name => 'life') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life') \gset
SELECT goodjob.fail(:id, :attempt, NULL, retry => false);
SELECT state, error IS NULL AS no_error FROM goodjob.jobs WHERE id = :id;

-- max_attempts 1: the first failure discards
SELECT goodjob.enqueue('OneShotJob', queue_name => 'life', max_attempts => 1) AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life') \gset
SELECT goodjob.fail(:id, :attempt, 'only failure');
SELECT state, attempts, error FROM goodjob.jobs WHERE id = :id;

--
-- heartbeat()
--
SELECT goodjob.enqueue('HeartbeatJob', queue_name => 'life') AS id \gset
SELECT attempts AS attempt FROM goodjob.claim('life', lease => '10 minutes') \gset
-- NULL lease: extended by the lease of the claim
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.heartbeat(:id, :attempt);
SELECT clock_timestamp() AS t1 \gset
SELECT lease_expires_at BETWEEN :'t0'::timestamptz + interval '10 minutes'
						AND :'t1'::timestamptz + interval '10 minutes' AS extended_10_minutes
FROM goodjob.jobs WHERE id = :id;
-- an explicit lease
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.heartbeat(:id, :attempt, '1 hour');
SELECT clock_timestamp() AS t1 \gset
SELECT lease_expires_at BETWEEN :'t0'::timestamptz + interval '1 hour'
						AND :'t1'::timestamptz + interval '1 hour' AS extended_1_hour
FROM goodjob.jobs WHERE id = :id;
-- a later NULL lease is the claimed one again, not the last heartbeat's
SELECT clock_timestamp() AS t0 \gset
SELECT goodjob.heartbeat(:id, :attempt, NULL);
SELECT clock_timestamp() AS t1 \gset
SELECT lease_expires_at BETWEEN :'t0'::timestamptz + interval '10 minutes'
						AND :'t1'::timestamptz + interval '10 minutes' AS extended_10_minutes
FROM goodjob.jobs WHERE id = :id;
-- sub-second leases are fine
SELECT goodjob.heartbeat(:id, :attempt, '250 milliseconds');
SELECT goodjob.heartbeat(:id, :attempt, '7 days');

--
-- Fencing: a wrong attempt returns false or NULL and changes nothing
--
SELECT to_jsonb(j) AS before FROM goodjob.jobs j WHERE id = :id \gset
SELECT goodjob.complete(:id, :attempt + 1);
SELECT goodjob.fail(:id, :attempt + 1, 'stale worker');
SELECT goodjob.fail(:id, :attempt + 1, 'stale worker', retry => false);
SELECT goodjob.heartbeat(:id, :attempt + 1);
SELECT goodjob.heartbeat(:id, :attempt + 1, '1 minute');
SELECT goodjob.complete(ARRAY[:id]::bigint[], ARRAY[:attempt + 1]);
SELECT to_jsonb(j) = :'before'::jsonb AS unchanged FROM goodjob.jobs j WHERE id = :id;

--
-- Bad input: a clear error, and nothing changes
--

-- attempt 0 or negative
SELECT goodjob.complete(:id, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(:id, -1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(:id, 0, 'bad');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(:id, -1, 'bad', retry => false);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:id, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:id, -1, '1 minute');
\echo :LAST_ERROR_SQLSTATE

-- unknown job id
SELECT goodjob.complete(:unknown_id, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(:unknown_id, 1, 'bad');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(:unknown_id, 1, 'bad', retry => false);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:unknown_id, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:unknown_id, 1, '1 minute');
\echo :LAST_ERROR_SQLSTATE

-- NULL where a value is required
SELECT goodjob.complete(NULL::bigint, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(:id, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(NULL, 1, 'bad');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(:id, NULL, 'bad');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.fail(:id, :attempt, 'bad', retry => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:id, NULL);
\echo :LAST_ERROR_SQLSTATE

-- heartbeat leases that are not positive, or too long
SELECT goodjob.heartbeat(:id, :attempt, '0');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:id, :attempt, '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.heartbeat(:id, :attempt, '8 days');
\echo :LAST_ERROR_SQLSTATE

-- complete(job_ids, attempts): NULL arrays, NULL elements, arrays of
-- different lengths, multi-dimensional arrays
SELECT goodjob.complete(NULL::bigint[], ARRAY[1]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[:id]::bigint[], NULL::integer[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[:id, NULL]::bigint[], ARRAY[:attempt, 1]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[:id]::bigint[], ARRAY[NULL]::integer[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[:id]::bigint[], ARRAY[:attempt, 1]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[:id, :id + 1]::bigint[], '{}'::integer[]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[[:id]]::bigint[], ARRAY[[:attempt]]);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.complete(ARRAY[:id]::bigint[], ARRAY[[:attempt]]);
\echo :LAST_ERROR_SQLSTATE

-- still running under the same attempt, nothing changed
SELECT to_jsonb(j) = :'before'::jsonb AS unchanged FROM goodjob.jobs j WHERE id = :id;
SELECT goodjob.complete(:id, :attempt);

-- clean up: no job of this test stays active
SELECT count(*) AS discarded FROM goodjob.active_jobs WHERE goodjob.discard_job(id);
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
