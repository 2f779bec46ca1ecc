--
-- batch: the batch API (batch_create, membership through enqueue and
-- bulk_enqueue, batch_enqueue, batch_retry, batch_cancel,
-- batch_update_properties, the batch_progress view) and the callback rules
-- that a maintenance pass applies.
--
-- No maintainer serves this database, so batches finish and callbacks are
-- enqueued only when the test calls goodjob.run_maintenance(). Timestamps and
-- absolute ids are never printed: ids are kept with \gset and compared.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0
\set unknown_id 999999999

-- start from empty tables, whatever earlier tests left behind
TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches;

-- What a maintenance pass did to batches (the other keys of the report are
-- about leases and retention, and partitions_created depends on the date).
CREATE FUNCTION pg_temp.pass(OUT discarded bigint, OUT jobs_finished bigint,
							 OUT finished bigint, OUT callbacks bigint)
LANGUAGE sql AS $$
	SELECT (r->>'batches_discarded')::bigint, (r->>'batches_jobs_finished')::bigint,
		   (r->>'batches_finished')::bigint, (r->>'callbacks_enqueued')::bigint
	FROM goodjob.run_maintenance() AS r
$$;

-- The state of a batch, as booleans.
CREATE FUNCTION pg_temp.batch(b bigint, OUT armed boolean, OUT discarded boolean,
							  OUT jobs_finished boolean, OUT finished boolean,
							  OUT cancelled boolean)
LANGUAGE sql AS $$
	SELECT enqueued_at IS NOT NULL, discarded_at IS NOT NULL,
		   jobs_finished_at IS NOT NULL, finished_at IS NOT NULL,
		   cancelled_at IS NOT NULL
	FROM goodjob.batches WHERE id = b
$$;

-- The callback jobs of a batch, in the order they were enqueued; args_ok
-- says the args are exactly {"batch_id": b, "event": event}.
CREATE FUNCTION pg_temp.callbacks(b bigint, OUT job_class text, OUT event text,
								  OUT queue_name text, OUT priority integer,
								  OUT state text, OUT args_ok boolean)
RETURNS SETOF record
LANGUAGE sql AS $$
	SELECT job_class, args->>'event', queue_name, priority, state,
		   args = pg_catalog.jsonb_build_object('batch_id', b, 'event', args->>'event')
	FROM goodjob.jobs WHERE batch_callback_id = b ORDER BY id
$$;

-- A worker: claims every ready job of queue q and completes it; returns how
-- many it completed.
CREATE FUNCTION pg_temp.work(q text) RETURNS integer
LANGUAGE sql AS $$
	SELECT goodjob.complete(COALESCE(pg_catalog.array_agg(id), '{}'),
							COALESCE(pg_catalog.array_agg(attempts), '{}'))
	FROM goodjob.claim(q, 'test-worker', 1000)
$$;

--
-- batch_create: defaults, and every argument
--
SELECT goodjob.batch_create() AS b \gset
SELECT description, properties, on_finish, on_success, on_discard,
	   callback_queue_name, callback_priority, created_at IS NOT NULL AS created,
	   enqueued_at, discarded_at, jobs_finished_at, finished_at, cancelled_at
FROM goodjob.batches WHERE id = :b;
SELECT * FROM pg_temp.batch(:b);

SELECT goodjob.batch_create('Import users', '{"file": "users.csv", "rows": 3}',
							'ImportFinished', 'ImportSucceeded', 'ImportDiscarded',
							'callbacks', 5) AS b \gset
SELECT description, properties, on_finish, on_success, on_discard,
	   callback_queue_name, callback_priority
FROM goodjob.batches WHERE id = :b;
SELECT * FROM pg_temp.batch(:b);

-- by name, in any order; each callback alone is enough for a callback
-- queue or priority
SELECT goodjob.batch_create(on_discard => 'OnlyDiscard', callback_priority => -3,
							description => 'named') AS b \gset
SELECT description, properties, on_finish, on_success, on_discard,
	   callback_queue_name, callback_priority
FROM goodjob.batches WHERE id = :b;
-- batch ids are distinct and increasing
SELECT goodjob.batch_create() > :b AS newer_id;

--
-- membership: enqueue(batch_id) and bulk_enqueue(batch_id)
--
SELECT goodjob.batch_create(on_finish => 'MemberFinish', on_success => 'MemberSuccess') AS b \gset
SELECT goodjob.enqueue('MemberJob', '{"n": 1}', 'members', batch_id => :b) AS j1 \gset
SELECT count(*) AS bulk_jobs
FROM goodjob.bulk_enqueue('{MemberJob}', ARRAY['{"n": 2}', '{"n": 3}']::jsonb[],
						  '{members}', batch_id => :b);
-- a job outside the batch, in the same queue
SELECT goodjob.enqueue('LoneJob', queue_name => 'members') AS lone \gset
SELECT job_class, args, batch_id = :b AS in_batch, batch_callback_id
FROM goodjob.jobs WHERE queue_name = 'members' ORDER BY id;
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;

-- an unarmed batch never finishes, even when all of its jobs are done (the
-- worker completes the lone job too)
SELECT pg_temp.work('members') AS completed;
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT count(*) AS callbacks FROM goodjob.jobs WHERE batch_callback_id = :b;

-- batch_enqueue arms it; the next pass finishes its jobs and enqueues
-- on_success (nothing was discarded) and on_finish, in the default queue
-- with priority 0
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
-- every column of a callback job
SELECT job_class, args = jsonb_build_object('batch_id', :b, 'event', 'finish') AS args_exact,
	   queue_name, priority, state, attempts, max_attempts, batch_id,
	   batch_callback_id = :b AS callback_of_batch, scheduled_at <= now() AS ready
FROM goodjob.jobs WHERE batch_callback_id = :b AND job_class = 'MemberFinish';
-- a second pass finds nothing to do: callbacks are never duplicated
SELECT * FROM pg_temp.pass();
SELECT count(*) AS callbacks FROM goodjob.jobs WHERE batch_callback_id = :b;

-- finished_at waits for the callback jobs: one done is not enough
SELECT id AS cb1, attempts AS cb1_attempt FROM goodjob.claim('default', 'cb-worker') \gset
SELECT goodjob.complete(:cb1, :cb1_attempt);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT finished FROM goodjob.batch_progress WHERE batch_id = :b;
-- the other one done: the next pass sets finished_at
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;
SELECT * FROM pg_temp.pass();

--
-- on_discard: once, at the first discarded job, even before arming
--
SELECT goodjob.batch_create(on_finish => 'DFinish', on_success => 'DSuccess',
							on_discard => 'DDiscard') AS b \gset
SELECT goodjob.enqueue('DJob', queue_name => 'disc', batch_id => :b) AS j1 \gset
SELECT goodjob.enqueue('DJob', queue_name => 'disc', batch_id => :b) AS j2 \gset
SELECT goodjob.enqueue('DJob', queue_name => 'disc', batch_id => :b) AS j3 \gset
-- the first job fails without retry: discarded
SELECT attempts AS a1 FROM goodjob.claim('disc', 'w') \gset
SELECT goodjob.fail(:j1, :a1, 'boom', retry => false);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT * FROM pg_temp.pass();
-- the second job is discarded by an operator: no second on_discard
SELECT goodjob.discard_job(:j2);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
-- the last job succeeds; still unarmed, so nothing finishes
SELECT pg_temp.work('disc') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- armed: on_finish, but no on_success
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
SELECT * FROM pg_temp.pass();
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);

-- a discard in a batch without on_discard marks the batch (and counts in
-- the report) but enqueues nothing; on_finish only
SELECT goodjob.batch_create(on_finish => 'NDFinish', on_success => 'NDSuccess') AS b \gset
SELECT goodjob.enqueue('NDJob', queue_name => 'nodisc', batch_id => :b, max_attempts => 1) AS j \gset
SELECT goodjob.batch_enqueue(:b);
SELECT attempts AS a FROM goodjob.claim('nodisc', 'w') \gset
-- its only attempt fails: discarded although retry was asked for
SELECT goodjob.fail(:j, :a, 'boom');
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();

-- a job discarded because its lease expired on its last attempt counts as
-- a discard too
SELECT goodjob.batch_create(on_finish => 'LFinish', on_success => 'LSuccess',
							on_discard => 'LDiscard') AS b \gset
SELECT goodjob.enqueue('LJob', queue_name => 'lease', batch_id => :b, max_attempts => 1) AS j \gset
SELECT goodjob.batch_enqueue(:b);
SELECT count(*) AS claimed FROM goodjob.claim('lease', 'vanishing-worker', lease => '1 millisecond');
SELECT pg_sleep(0.05);
SELECT r->'expired_leases_discarded' AS expired_leases_discarded, r->'batches_discarded' AS batches_discarded,
	   r->'batches_jobs_finished' AS batches_jobs_finished, r->'callbacks_enqueued' AS callbacks_enqueued
FROM goodjob.run_maintenance() AS r;
SELECT state, error FROM goodjob.jobs WHERE id = :j;
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();

--
-- a retried job keeps the batch waiting until its last attempt
--
SELECT goodjob.batch_create(on_finish => 'RFinish', on_success => 'RSuccess',
							on_discard => 'RDiscard') AS b \gset
SELECT goodjob.enqueue('RJob', queue_name => 'retry', batch_id => :b, max_attempts => 2) AS j \gset
SELECT goodjob.batch_enqueue(:b);
SELECT attempts AS a FROM goodjob.claim('retry', 'w') \gset
SELECT goodjob.fail(:j, :a, 'first try failed', retry_at => now());
SELECT state, attempts FROM goodjob.jobs WHERE id = :j;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;
-- the last attempt fails too: discarded, so on_discard and on_finish
SELECT attempts AS a FROM goodjob.claim('retry', 'w') \gset
SELECT :a AS attempt;
SELECT * FROM pg_temp.pass();
SELECT goodjob.fail(:j, :a, 'second try failed', retry_at => now());
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();

-- the same with a retry that succeeds: on_success and on_finish, and no
-- on_discard (a failed attempt that is retried is not a discard)
SELECT goodjob.batch_create(on_finish => 'RFinish', on_success => 'RSuccess',
							on_discard => 'RDiscard') AS b \gset
SELECT goodjob.enqueue('RJob', queue_name => 'retry', batch_id => :b, max_attempts => 3) AS j \gset
SELECT goodjob.batch_enqueue(:b);
SELECT attempts AS a FROM goodjob.claim('retry', 'w') \gset
SELECT goodjob.fail(:j, :a, 'first try failed', retry_at => now());
SELECT * FROM pg_temp.pass();
SELECT attempts AS a FROM goodjob.claim('retry', 'w') \gset
SELECT goodjob.complete(:j, :a);
SELECT state, attempts, error FROM goodjob.jobs WHERE id = :j;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);

--
-- an armed batch without jobs finishes at once
--
SELECT goodjob.batch_create(on_finish => 'EFinish', on_success => 'ESuccess') AS b \gset
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- without callbacks there is nothing to wait for: finished in the same pass
SELECT goodjob.batch_create() AS b \gset
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT finished FROM goodjob.batch_progress WHERE batch_id = :b;

--
-- finished_at waits for every callback job, also one that is retried; a
-- discarded callback job counts as finished
--
SELECT goodjob.batch_create(on_finish => 'CFinish', on_success => 'CSuccess',
							callback_queue_name => 'cbq') AS b \gset
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.pass();
SELECT id AS cb1, attempts AS cb1_attempt FROM goodjob.claim('cbq', 'cb-worker') \gset
SELECT id AS cb2, attempts AS cb2_attempt FROM goodjob.claim('cbq', 'cb-worker') \gset
SELECT goodjob.complete(:cb1, :cb1_attempt);
SELECT goodjob.fail(:cb2, :cb2_attempt, 'callback failed', retry_at => now());
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT id AS cb2, attempts AS cb2_attempt FROM goodjob.claim('cbq', 'cb-worker') \gset
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT goodjob.fail(:cb2, :cb2_attempt, 'callback failed again', retry => false);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);

--
-- re-arming
--
SELECT goodjob.batch_create(on_finish => 'AFinish', on_success => 'ASuccess',
							on_discard => 'ADiscard') AS b \gset
SELECT goodjob.enqueue('AJob', queue_name => 'rearm', batch_id => :b) AS j1 \gset
SELECT goodjob.enqueue('AJob', queue_name => 'rearm', batch_id => :b) AS j2 \gset
-- arming twice before the batch finishes changes nothing
SELECT goodjob.batch_enqueue(:b);
SELECT enqueued_at AS armed_at, round_started_at AS round1 FROM goodjob.batches WHERE id = :b \gset
SELECT goodjob.batch_enqueue(:b);
SELECT enqueued_at = :'armed_at' AS same_enqueued_at, round_started_at = :'round1' AS same_round
FROM goodjob.batches WHERE id = :b;
-- round 1: one job discarded, one succeeded
SELECT goodjob.discard_job(:j1, 'not wanted');
SELECT pg_temp.work('rearm') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- re-arming after the finish clears discarded_at, jobs_finished_at and
-- finished_at, and starts a new round
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.batch(:b);
SELECT enqueued_at > :'armed_at' AS enqueued_again FROM goodjob.batches WHERE id = :b;
-- round 2 has a new job; the discard of round 1 does not fire on_discard again
SELECT goodjob.enqueue('AJob', queue_name => 'rearm', batch_id => :b) AS j3 \gset
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT pg_temp.work('rearm') AS completed;
-- nothing discarded in this round: on_success and on_finish again
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
SELECT * FROM pg_temp.pass();
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- round 3: a new discard fires on_discard again
SELECT goodjob.batch_enqueue(:b);
SELECT goodjob.enqueue('AJob', queue_name => 'rearm', batch_id => :b) AS j4 \gset
SELECT goodjob.discard_job(:j4);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;

--
-- batch_retry: requeues the discarded jobs (attempts kept) and re-arms
--
SELECT goodjob.batch_create(on_finish => 'TFinish', on_success => 'TSuccess',
							on_discard => 'TDiscard') AS b \gset
SELECT goodjob.enqueue('TJob', queue_name => 'bretry', batch_id => :b, max_attempts => 1) AS j1 \gset
SELECT goodjob.enqueue('TJob', queue_name => 'bretry', batch_id => :b, max_attempts => 1) AS j2 \gset
SELECT goodjob.enqueue('TJob', queue_name => 'bretry', batch_id => :b) AS j3 \gset
SELECT goodjob.batch_enqueue(:b);
SELECT id AS c1, attempts AS a1 FROM goodjob.claim('bretry', 'w') \gset
SELECT id AS c2, attempts AS a2 FROM goodjob.claim('bretry', 'w') \gset
SELECT goodjob.fail(:c1, :a1, 'out of attempts');
SELECT goodjob.fail(:c2, :a2, 'out of attempts');
SELECT pg_temp.work('bretry') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT goodjob.batch_retry(:b) AS requeued;
SELECT * FROM pg_temp.batch(:b);
SELECT id = :j1 OR id = :j2 AS was_discarded, state, attempts, max_attempts, error,
	   finished_at IS NOT NULL AS has_finished_at, locked_by
FROM goodjob.jobs WHERE batch_id = :b ORDER BY id;
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;
SELECT * FROM pg_temp.pass();
-- the retried jobs run again (as attempt 2) and succeed
SELECT job_class, attempts FROM goodjob.claim('bretry', 'w', 10) ORDER BY id;
SELECT goodjob.complete(ARRAY[:j1, :j2]::bigint[], ARRAY[2, 2]);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.callbacks(:b);
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- nothing discarded: nothing to requeue, but the batch is re-armed and
-- finishes again
SELECT goodjob.batch_retry(:b) AS requeued;
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.pass();
SELECT count(*) FILTER (WHERE args->>'event' = 'success') AS successes,
	   count(*) FILTER (WHERE args->>'event' = 'finish') AS finishes
FROM goodjob.jobs WHERE batch_callback_id = :b;
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();

--
-- batch_cancel: discards queued and running jobs, arms the batch; it
-- finishes with on_discard and on_finish, not on_success
--
-- (the next batch gets id 1000, so that the message naming it below does not
-- depend on the batches created before)
ALTER TABLE goodjob.batches ALTER COLUMN id RESTART WITH 1000;
SELECT goodjob.batch_create(on_finish => 'XFinish', on_success => 'XSuccess',
							on_discard => 'XDiscard') AS b \gset
SELECT goodjob.enqueue('XJob', queue_name => 'cancel', batch_id => :b) AS j1 \gset
SELECT goodjob.enqueue('XJob', queue_name => 'cancel', batch_id => :b) AS j2 \gset
SELECT goodjob.enqueue('XJob', queue_name => 'cancel', batch_id => :b) AS j3 \gset
SELECT goodjob.enqueue('XJob', queue_name => 'cancel', batch_id => :b) AS j4 \gset
-- j1 succeeded, j2 running, j3 and j4 queued; the batch is not armed
SELECT attempts AS a1 FROM goodjob.claim('cancel', 'w') \gset
SELECT goodjob.complete(:j1, :a1);
SELECT attempts AS a2 FROM goodjob.claim('cancel', 'w') \gset
SELECT queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id = :b;
SELECT goodjob.batch_cancel(:b) AS cancelled_jobs;
SELECT * FROM pg_temp.batch(:b);
SELECT id - :j1 + 1 AS job, state, attempts, error, locked_by
FROM goodjob.jobs WHERE batch_id = :b ORDER BY id;
-- the running job's holder finds its token gone
SELECT goodjob.complete(:j2, :a2);
SELECT goodjob.fail(:j2, :a2, 'too late') IS NULL AS token_gone;
SELECT goodjob.heartbeat(:j2, :a2);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
SELECT * FROM pg_temp.callbacks(:b);
SELECT * FROM pg_temp.pass();
SELECT queued, running, succeeded, discarded, total, finished, cancelled_at IS NOT NULL AS cancelled
FROM goodjob.batch_progress WHERE batch_id = :b;
-- a cancelled batch cannot be armed again (22023), and the attempt changes
-- nothing ...
SELECT enqueued_at AS armed_at FROM goodjob.batches WHERE id = :b \gset
SELECT goodjob.batch_enqueue(:b);
\echo :LAST_ERROR_SQLSTATE
SELECT b.enqueued_at = :'armed_at' AS same_enqueued_at, s.*
FROM goodjob.batches b, pg_temp.batch(b.id) s WHERE b.id = :b;
-- ... and cancelling again finds nothing to discard
SELECT goodjob.batch_cancel(:b, 'again') AS cancelled_jobs;
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- batch_retry brings it back: the cancelled jobs run and the batch succeeds
SELECT goodjob.batch_retry(:b) AS requeued;
SELECT * FROM pg_temp.batch(:b);
SELECT pg_temp.work('cancel') AS completed;
SELECT * FROM pg_temp.pass();
SELECT event, count(*) FROM pg_temp.callbacks(:b) GROUP BY event ORDER BY event COLLATE "C";
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);
-- no longer cancelled, it can be armed again: a new round
SELECT goodjob.batch_enqueue(:b);
SELECT * FROM pg_temp.pass();
SELECT pg_temp.work('default') AS completed;
SELECT * FROM pg_temp.pass();
SELECT event, count(*) FROM pg_temp.callbacks(:b) GROUP BY event ORDER BY event COLLATE "C";

-- the reason of batch_cancel becomes the error of the discarded jobs
SELECT goodjob.batch_create() AS b \gset
SELECT goodjob.enqueue('XJob', queue_name => 'cancel', batch_id => :b) AS j1 \gset
SELECT goodjob.batch_cancel(:b, 'customer left') AS cancelled_jobs;
SELECT state, error FROM goodjob.jobs WHERE id = :j1;
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.batch(:b);

--
-- batch_update_properties: merges the patch at the top level and returns
-- the result
--
SELECT goodjob.batch_create(properties => '{"total": 3, "done": 0, "meta": {"a": 1}}') AS b \gset
SELECT goodjob.batch_update_properties(:b, '{"done": 1}');
SELECT goodjob.batch_update_properties(:b, '{"meta": {"b": 2}, "owner": "ops"}');
SELECT goodjob.batch_update_properties(:b, '{}');
SELECT properties FROM goodjob.batches WHERE id = :b;
-- a finished batch can still be updated
SELECT goodjob.batch_create() AS fb \gset
SELECT goodjob.batch_enqueue(:fb);
SELECT * FROM pg_temp.pass();
SELECT goodjob.batch_update_properties(:fb, '{"note": "after finish"}');

--
-- batch_progress: counts of several batches in one query
--
SELECT goodjob.batch_create('progress A') AS pa \gset
SELECT goodjob.batch_create('progress B') AS pb \gset
SELECT goodjob.batch_create('progress C') AS pc \gset
SELECT count(*) AS enqueued FROM goodjob.bulk_enqueue('{PJob}', array_fill('{}'::jsonb, ARRAY[5]),
													  '{progress}', batch_id => :pa);
SELECT count(*) AS enqueued FROM goodjob.bulk_enqueue('{PJob}', array_fill('{}'::jsonb, ARRAY[3]),
													  '{progress_b}', batch_id => :pb);
-- A: 2 succeeded, 1 discarded, 1 running, 1 queued; B: 3 queued; C: none
SELECT goodjob.complete(array_agg(id), array_agg(attempts))
FROM goodjob.claim('progress', 'w', 2);
SELECT id AS pj, attempts AS pa_attempt FROM goodjob.claim('progress', 'w') \gset
SELECT goodjob.fail(:pj, :pa_attempt, 'broken', retry => false);
SELECT count(*) AS claimed FROM goodjob.claim('progress', 'w');
SELECT goodjob.batch_enqueue(:pc);
SELECT * FROM pg_temp.pass();
SELECT description, queued, running, succeeded, discarded, total, finished
FROM goodjob.batch_progress WHERE batch_id IN (:pa, :pb, :pc) ORDER BY batch_id;

--
-- callback queue and priority
--
SELECT goodjob.batch_create(on_finish => 'QFinish', on_success => 'QSuccess',
							on_discard => 'QDiscard', callback_queue_name => 'cb_high',
							callback_priority => -10) AS b1 \gset
SELECT goodjob.batch_create(on_finish => 'QFinish', callback_queue_name => 'cb_only_queue') AS b2 \gset
SELECT goodjob.batch_create(on_finish => 'QFinish', callback_priority => 7) AS b3 \gset
SELECT goodjob.enqueue('QJob', queue_name => 'cbjobs', batch_id => :b1) AS j \gset
SELECT goodjob.discard_job(:j);
SELECT goodjob.batch_enqueue(:b1);
SELECT goodjob.batch_enqueue(:b2);
SELECT goodjob.batch_enqueue(:b3);
SELECT * FROM pg_temp.pass();
SELECT * FROM pg_temp.pass();
SELECT CASE batch_callback_id WHEN :b1 THEN 'b1' WHEN :b2 THEN 'b2' WHEN :b3 THEN 'b3' END AS batch,
	   job_class, args->>'event' AS event, queue_name, priority,
	   args = jsonb_build_object('batch_id', batch_callback_id, 'event', args->>'event') AS args_exact
FROM goodjob.jobs WHERE batch_callback_id IN (:b1, :b2, :b3) ORDER BY id;
-- claimed in priority order from their queues
SELECT job_class, args->>'event' AS event, priority FROM goodjob.claim('cb_high,default', 'w', 10);
SELECT job_class, priority FROM goodjob.claim('cb_only_queue', 'w', 10);

-- a cancelled batch never succeeds: cancelling one with nothing left to
-- discard still fires on_discard and on_finish
SELECT goodjob.batch_create('cancel nothing', on_success => 'S', on_finish => 'F',
							on_discard => 'D') AS cb \gset
SELECT goodjob.enqueue('Quick', batch_id => :cb) AS quick \gset
SELECT goodjob.complete(id, attempts) AS completed FROM goodjob.claim('default', 'w', 1);
SELECT goodjob.batch_cancel(:cb) AS discarded_jobs;
SELECT r->'batches_discarded' AS discarded, r->'batches_jobs_finished' AS jobs_finished
FROM goodjob.run_maintenance() AS r;
SELECT args->>'event' AS event FROM goodjob.jobs WHERE batch_callback_id = :cb ORDER BY id;
-- and takes no new jobs (22023), one at a time or in bulk
SELECT goodjob.enqueue('Late', batch_id => :cb);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{Late}', array['{}']::jsonb[], batch_id => :cb);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS late_jobs FROM goodjob.jobs WHERE job_class = 'Late';

--
-- bad input: nothing is written
--
SELECT goodjob.batch_create() AS b \gset
SELECT count(*) AS batches_before FROM goodjob.batches \gset
-- unknown batch (23503), for every function that takes one
SELECT goodjob.batch_enqueue(:unknown_id);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_retry(:unknown_id);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_cancel(:unknown_id);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_update_properties(:unknown_id, '{"a": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.enqueue('NoBatchJob', batch_id => :unknown_id);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.bulk_enqueue('{NoBatchJob}', ARRAY['{}']::jsonb[], batch_id => :unknown_id);
\echo :LAST_ERROR_SQLSTATE
-- NULL batch id (22004)
SELECT goodjob.batch_enqueue(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_retry(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_cancel(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_update_properties(NULL, '{"a": 1}');
\echo :LAST_ERROR_SQLSTATE
-- NULL patch (22004), non-object patch (22023)
SELECT goodjob.batch_update_properties(:b, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_update_properties(:b, '[1, 2]');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_update_properties(:b, '"text"');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_update_properties(:b, 'null');
\echo :LAST_ERROR_SQLSTATE
SELECT properties FROM goodjob.batches WHERE id = :b;
-- non-object properties (22023), NULL properties (22004)
SELECT goodjob.batch_create(properties => '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(properties => '42');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(properties => NULL);
\echo :LAST_ERROR_SQLSTATE
-- empty callback class (22023)
SELECT goodjob.batch_create(on_finish => '');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_success => '');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_discard => '');
\echo :LAST_ERROR_SQLSTATE
-- a callback queue or priority without any callback (22023)
SELECT goodjob.batch_create(callback_queue_name => 'callbacks');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(callback_priority => 1);
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_finish => NULL, on_success => NULL, on_discard => NULL,
							callback_queue_name => 'callbacks', callback_priority => 1);
\echo :LAST_ERROR_SQLSTATE
-- invalid callback queue names (22023)
SELECT goodjob.batch_create(on_finish => 'F', callback_queue_name => '');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_finish => 'F', callback_queue_name => '*');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_finish => 'F', callback_queue_name => 'a,b');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_finish => 'F', callback_queue_name => '-a');
\echo :LAST_ERROR_SQLSTATE
SELECT goodjob.batch_create(on_finish => 'F', callback_queue_name => ' padded');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) - :batches_before AS batches_written FROM goodjob.batches;

-- clean up
TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches;
SELECT count(*) AS active_jobs FROM goodjob.active_jobs;
