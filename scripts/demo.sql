-- scripts/demo.sql: a short tour of goodjob, run by scripts/demo.sh
-- (psql -X -q -v ON_ERROR_STOP=1 against a fresh database with goodjob preloaded).

\pset footer off

\echo '== goodjob demo =='
\echo
\echo '1. Install the extension.'
CREATE EXTENSION goodjob;
\echo '   done: its tables and functions live in the "goodjob" schema.'
\echo

\echo '2. Producers enqueue five jobs: three in queue "mail", two in queue "reports".'
\echo '   goodjob.enqueue(job_class, args, queue_name) returns the new job id.'
SELECT goodjob.enqueue('SendWelcomeEmail', '{"user_id": 1}', 'mail') AS mail1 \gset
SELECT goodjob.enqueue('SendWelcomeEmail', '{"user_id": 2}', 'mail') AS mail2 \gset
SELECT goodjob.enqueue('SendWelcomeEmail', '{"user_id": 3}', 'mail') AS mail3 \gset
SELECT goodjob.enqueue('BuildReport', '{"month": "2024-01"}', 'reports') AS report1 \gset
SELECT goodjob.enqueue('BuildReport', '{"month": "2024-02"}', 'reports') AS report2 \gset
SELECT id, queue_name, job_class, args, state, attempts
FROM goodjob.jobs ORDER BY id;

\echo '3. Two workers claim work. goodjob.claim(queues, worker, max_jobs, lease) locks'
\echo '   jobs with FOR UPDATE SKIP LOCKED, marks them running and counts the attempt.'
\echo '   worker-a takes up to 2 jobs from "mail":'
SELECT id, queue_name, job_class, state, attempts, locked_by
FROM goodjob.claim('mail', 'worker-a', 2, '5 minutes');
\echo '   worker-b takes 1 job from "reports":'
SELECT id, queue_name, job_class, state, attempts, locked_by
FROM goodjob.claim('reports', 'worker-b', 1, '5 minutes');

\echo '4. worker-a finishes job' :mail1 'and reports it with its fencing token'
\echo '   (job id, attempt): goodjob.complete(id, attempt).'
SELECT goodjob.complete(:mail1, 1) AS completed;

\echo '5. Job' :mail2 'raised an error. goodjob.fail(id, attempt, error) records it and'
\echo '   queues the job again for a later retry (polynomial backoff).'
SELECT goodjob.fail(:mail2, 1, 'boom') AS new_state;

\echo '6. A late report for that attempt is refused: the token no longer holds.'
SELECT goodjob.complete(:mail2, 1) AS completed;

\echo '7. What happened: one job succeeded, one waits for its retry, worker-b still'
\echo '   holds its report, and two jobs are still queued.'
SELECT id, queue_name, job_class, state, attempts, locked_by, error
FROM goodjob.jobs ORDER BY id;
SELECT id, state, scheduled_at > now() AS retry_is_later
FROM goodjob.jobs WHERE id = :mail2;

\echo
\echo '8. A batch: three jobs run in parallel; when the last one is done, the server'
\echo '   itself (the "goodjob maintainer" background worker) enqueues the callbacks.'
SELECT goodjob.batch_create('welcome campaign', on_success => 'CampaignSucceeded',
							on_finish => 'CampaignFinished',
							callback_queue_name => 'callbacks') AS batch \gset
SELECT count(*) AS jobs_in_batch
FROM goodjob.bulk_enqueue('{SendWelcomeEmail}',
						  array['{"user_id": 10}', '{"user_id": 11}', '{"user_id": 12}']::jsonb[],
						  '{campaign}', batch_id => :batch);
\echo '   goodjob.batch_enqueue arms the batch: it finishes once none of its jobs is left.'
SELECT goodjob.batch_enqueue(:batch);
\echo '   worker-a claims the three jobs and completes them in one call:'
SELECT id, job_class, args, attempts FROM goodjob.claim('campaign', 'worker-a', 3);
SELECT goodjob.complete(array_agg(id), array_agg(attempts)) AS completed
FROM goodjob.jobs WHERE batch_id = :batch AND state = 'running';

\echo '9. The maintainer was woken by that commit; wait a moment for its callbacks.'
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		IF (SELECT count(*) FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL) >= 2 THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RAISE EXCEPTION 'the maintainer enqueued no callbacks within 10 seconds';
END
$$;
SELECT id, queue_name, job_class, args, state FROM goodjob.jobs
WHERE batch_callback_id = :batch ORDER BY id;

\echo '10. A worker on queue "callbacks" claims and runs them like any other job.'
SELECT id, job_class, args, attempts FROM goodjob.claim('callbacks', 'worker-b', 2);
SELECT goodjob.complete(array_agg(id), array_agg(attempts)) AS completed
FROM goodjob.jobs WHERE batch_callback_id = :batch AND state = 'running';
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		IF (SELECT bool_and(finished) FROM goodjob.batch_progress) THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RAISE EXCEPTION 'the batch did not finish within 10 seconds';
END
$$;
SELECT batch_id, succeeded, discarded, total, finished,
	   discarded_at IS NULL AS no_discards
FROM goodjob.batch_progress WHERE batch_id = :batch;
