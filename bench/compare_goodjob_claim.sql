-- bench/compare_goodjob_claim.sql: the same worker step as
-- bench/compare_claim.sql through goodjob's API (pgbench -M prepared,
-- -D batch=N): goodjob.claim of up to :batch jobs (one transaction), then
-- goodjob.complete of all of them with their fencing tokens (another).
SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(attempts), '{}') AS attempts
FROM goodjob.claim('default', 'pgbench', :batch) \gset
SELECT goodjob.complete(:ids::bigint[], :attempts::integer[]);
