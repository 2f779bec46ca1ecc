-- bench/scale: one worker step, as pgbench runs it (-M prepared, so the
-- \gset variables get explicit types). One pgbench transaction = one claim
-- (its own transaction) + one complete (another transaction).
SELECT id, attempts FROM goodjob.claim('default', 'w', 1) \gset
SELECT goodjob.complete(:id::bigint, :attempts::integer);
