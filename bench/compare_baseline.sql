-- bench/compare_baseline.sql: the plain job table of bench/compare's SQL
-- baselines: the columns a job queue keeps (as goodjob.active_jobs does,
-- minus the batch and error columns) and one partial index for claiming.
DROP SCHEMA IF EXISTS compare_baseline CASCADE;
CREATE SCHEMA compare_baseline;
CREATE TABLE compare_baseline.jobs (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	queue_name text NOT NULL DEFAULT 'default',
	priority integer NOT NULL DEFAULT 0,
	job_class text NOT NULL,
	args jsonb NOT NULL DEFAULT '{}',
	state text NOT NULL DEFAULT 'queued',
	scheduled_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now(),
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 25,
	locked_at timestamptz
);
CREATE INDEX jobs_claim ON compare_baseline.jobs (queue_name, priority, scheduled_at, id)
	WHERE state = 'queued';
