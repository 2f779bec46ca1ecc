-- bench/scale: keeps at least :target jobs queued. Counts the queued jobs up
-- to :target (a LIMIT, so the count costs the same on a deep backlog, where
-- it finds nothing to add) and bulk-enqueues the difference, every 20 ms.
SELECT greatest(0, :target - count(*))::integer AS n
  FROM (SELECT 1 FROM goodjob.active_jobs WHERE state = 'queued' LIMIT :target) s \gset
SELECT count(*) FROM goodjob.bulk_enqueue(array_fill('BenchJob'::text, ARRAY[:n::integer]),
                                          array_fill('{"user_id": 42}'::jsonb, ARRAY[:n::integer]));
\sleep 20 ms
