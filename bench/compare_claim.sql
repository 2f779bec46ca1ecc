-- bench/compare_claim.sql: the plain-SQL worker step bench/compare_pgbench
-- runs in pgbench (-M prepared, -D batch=N): claim up to :batch queued rows
-- of compare_baseline.jobs with FOR UPDATE SKIP LOCKED (one transaction),
-- then complete them by deleting them (another transaction). An empty claim
-- is harmless, so the last clients of a drain do not abort.
WITH claimed AS (
	UPDATE compare_baseline.jobs
	SET state = 'running', attempts = attempts + 1, locked_at = now()
	WHERE id IN (SELECT id FROM compare_baseline.jobs
		WHERE queue_name = 'default' AND state = 'queued' AND scheduled_at <= now()
		ORDER BY priority, scheduled_at, id
		LIMIT :batch
		FOR UPDATE SKIP LOCKED)
	RETURNING id)
SELECT coalesce(array_agg(id), '{}') AS ids FROM claimed \gset
DELETE FROM compare_baseline.jobs WHERE id = ANY (:ids::bigint[]);
