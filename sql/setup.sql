--
-- setup: the extension installs on a fresh database, drops cleanly and
-- installs again. Later tests run against the second installation.
--
\set VERBOSITY default
\set ON_ERROR_STOP 0

CREATE EXTENSION goodjob;

-- the library loads and a job goes through its whole life
SELECT goodjob.enqueue('SetupJob', queue_name => 'setup') AS setup_id \gset
SELECT job_class, attempts FROM goodjob.claim('setup');
SELECT goodjob.complete(:setup_id, 1);
SELECT job_class, state FROM goodjob.jobs WHERE id = :setup_id;

DROP EXTENSION goodjob;

-- nothing of the extension is left behind but its (now empty) schema
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'goodjob';
SELECT count(*) AS objects
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'goodjob';
SELECT count(*) AS functions
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'goodjob';

CREATE EXTENSION goodjob;

-- the objects of the extension
\dx+ goodjob

SELECT extversion, extrelocatable, extnamespace::regnamespace AS schema
FROM pg_extension WHERE extname = 'goodjob';

-- tables and sequences whose contents pg_dump saves
SELECT c::regclass AS dumped
FROM pg_extension, unnest(extconfig) AS c
WHERE extname = 'goodjob'
ORDER BY c::regclass::text COLLATE "C";

-- the kept plans of this session follow the new tables: a job goes through
-- its whole life again, and job ids start over
SELECT goodjob.enqueue('SetupJob', queue_name => 'setup') AS setup_id \gset
SELECT :setup_id AS first_id;
SELECT job_class, attempts FROM goodjob.claim('setup');
SELECT goodjob.complete(:setup_id, 1);
SELECT job_class, state FROM goodjob.jobs WHERE id = :setup_id;
