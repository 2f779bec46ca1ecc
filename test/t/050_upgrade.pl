# test/t/050_upgrade.pl: the upgrade path. A database is created at the first
# version, 0.1.0, and filled with jobs in every state and open and finished
# batches; it keeps working with the current shared library; then
# ALTER EXTENSION goodjob UPDATE brings it to the default version of
# goodjob.control, with every row unchanged, the API working (old functions
# and the ones the update adds; the index on discarded batch jobs on every
# partition of finished_jobs) and the maintainer carrying on. Last, the
# updated database's goodjob objects (columns, indexes, constraints, views,
# functions with their settings and grants, the dump configuration) must be
# exactly those of a fresh CREATE EXTENSION at the default version.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GoodjobBatchTest;

my $node = new_goodjob_node('upgrade', "goodjob.database_names = 'old,fresh'\n");
$node->start;
$node->command_ok([ 'createdb', 'old' ],   'createdb old');
$node->command_ok([ 'createdb', 'fresh' ], 'createdb fresh');
# (their maintainers started before the databases existed, failed, and come
# back; the log is checked from the moment both are connected)
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM pg_stat_activity"
		  . " WHERE backend_type = 'goodjob maintainer' AND datname IN ('old', 'fresh')"),
	'a maintainer serves each database');
my $log_offset = -s $node->logfile;

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'goodjob'");
isnt($default, '0.1.0', "the default version ($default) is newer than 0.1.0");
like(
	$node->safe_psql('postgres',
		"SELECT string_agg(version, ',' ORDER BY version) FROM pg_available_extension_versions WHERE name = 'goodjob'"),
	qr/^0\.1\.0,.*\Q$default\E/,
	'0.1.0 is still installable next to the default version');

$node->safe_psql('old',   "CREATE EXTENSION goodjob VERSION '0.1.0'");
$node->safe_psql('fresh', 'CREATE EXTENSION goodjob');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'goodjob'"),
	'0.1.0', 'database "old" is at 0.1.0');
is($node->safe_psql('fresh', "SELECT extversion FROM pg_extension WHERE extname = 'goodjob'"),
	$default, "database \"fresh\" is at $default");

# ------------------------------------------------- data written at 0.1.0
# Loose jobs (queue default): 5 queued, 1 scheduled tomorrow, 2 running
# (claimed by w1), 3 succeeded, 1 discarded. Batch b1 (jobs in queue b1q):
# armed, 2 of 3 jobs done, 1 queued. Batch b2 (queue b2q): armed, its job
# done: finished once its callback ran. Batch b3: not armed, one job.
# Callbacks go to queue cbq.
$node->safe_psql(
	'old', q{
SELECT count(*) FROM goodjob.bulk_enqueue('{Loose}',
	ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 11) i));
SELECT goodjob.enqueue('Later', '{}', scheduled_at => now() + interval '1 day');
SELECT count(*) FROM (SELECT id, attempts FROM goodjob.claim('*', 'w1', 6)) c,
	LATERAL (SELECT CASE WHEN c.id <= 3 THEN goodjob.complete(c.id, c.attempts)
	                     WHEN c.id = 4 THEN goodjob.fail(c.id, c.attempts, 'boom', false) IS NOT NULL
	                     ELSE true END) x;
SELECT goodjob.batch_create('b1', '{"k": 1}', on_finish => 'B1Finish',
	callback_queue_name => 'cbq') AS b1 \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{B1Job}', '{"{}","{}","{}"}', '{b1q}', batch_id => :b1);
SELECT goodjob.batch_enqueue(:b1);
SELECT count(*) FROM (SELECT id, attempts FROM goodjob.claim('b1q', 'w2', 2)) c,
	LATERAL (SELECT goodjob.complete(c.id, c.attempts)) x;
SELECT goodjob.batch_create('b2', on_success => 'B2Success',
	callback_queue_name => 'cbq') AS b2 \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{B2Job}', '{"{}"}', '{b2q}', batch_id => :b2);
SELECT goodjob.batch_enqueue(:b2);
});

# Waits for the callback job $class in queue cbq and runs it.
sub drain_callbacks
{
	my ($db, $class) = @_;
	ok( $node->poll_query_until($db,
			"SELECT count(*) = 1 FROM goodjob.jobs WHERE job_class = '$class'"),
		"$db: the maintainer enqueued $class");
	is( $node->safe_psql($db,
			"SELECT count(*) FILTER (WHERE goodjob.complete(id, attempts))"
			  . " FROM goodjob.claim('cbq', 'cb', 10)"),
		'1', "$db: $class ran");
}
$node->safe_psql('old',
	"SELECT goodjob.complete(id, attempts) FROM goodjob.claim('b2q', 'w3', 10)");
drain_callbacks('old', 'B2Success');
ok( $node->poll_query_until('old',
		"SELECT finished_at IS NOT NULL FROM goodjob.batches WHERE description = 'b2'"),
	'at 0.1.0 with the current library: batch b2 finished');
$node->safe_psql('old',
	"SELECT goodjob.batch_create('b3') AS b3 \\gset\n"
	  . "SELECT goodjob.enqueue('B3Job', '{}', batch_id => :b3)");

# Everything a user sees, as one text per relation.
my %views = (
	jobs => 'SELECT to_jsonb(j) FROM goodjob.jobs j ORDER BY id',
	batches => 'SELECT to_jsonb(b) FROM goodjob.batches b ORDER BY id',
	batch_progress => 'SELECT to_jsonb(p) FROM goodjob.batch_progress p ORDER BY batch_id',
	sequence => 'SELECT last_value FROM goodjob.jobs_id_seq');
my %before = map { $_ => $node->safe_psql('old', $views{$_}) } keys %views;
like($before{jobs}, qr/"state": "running"/, 'the data has running jobs');
like($before{jobs}, qr/"state": "discarded"/, '... discarded ones');
like($before{jobs}, qr/"state": "succeeded"/, '... succeeded ones');
like($before{jobs}, qr/"state": "queued"/, '... and queued ones');

# ---------------------------------------------------------------- update
$node->safe_psql('old', 'ALTER EXTENSION goodjob UPDATE');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'goodjob'"),
	$default, "ALTER EXTENSION goodjob UPDATE brings \"old\" to $default");
for my $v (sort keys %views)
{
	is($node->safe_psql('old', $views{$v}), $before{$v}, "$v unchanged by the update");
}

# Every partition of finished_jobs, the dated ones the 0.1.0 maintainer made
# included, has the index 0.2.0 adds for the discarded jobs of batches.
cmp_ok($node->safe_psql('old',
		"SELECT count(*) FROM pg_inherits WHERE inhparent = 'goodjob.finished_jobs'::regclass"),
	'>=', 2, 'finished_jobs has dated partitions besides the default one');
is( $node->safe_psql('old',
		"SELECT string_agg(c.relname, ', ') FROM pg_inherits i"
		  . " JOIN pg_class c ON c.oid = i.inhrelid"
		  . " WHERE i.inhparent = 'goodjob.finished_jobs'::regclass"
		  . " AND NOT EXISTS (SELECT 1 FROM pg_indexes x WHERE x.schemaname = 'goodjob'"
		  . " AND x.tablename = c.relname AND x.indexname = c.relname || '_batch_discarded'"
		  . " AND x.indexdef LIKE '%(batch_id, finished_at)%discarded%')"),
	'', 'every partition has its _batch_discarded index after the update');

# ------------------------------------------------ the API after the update
# The running jobs of w1 keep their fencing tokens.
is( $node->safe_psql('old',
		"SELECT count(*) FILTER (WHERE goodjob.complete(id, attempts)) FROM goodjob.jobs"
		  . " WHERE state = 'running' AND locked_by = 'w1'"),
	'2', "w1's running jobs complete with their tokens after the update");
# b1's last job; the maintainer enqueues its on_finish.
$node->safe_psql('old',
	"SELECT goodjob.complete(id, attempts) FROM goodjob.claim('b1q', 'w4', 10)");
drain_callbacks('old', 'B1Finish');
ok( $node->poll_query_until('old',
		"SELECT finished_at IS NOT NULL FROM goodjob.batches WHERE description = 'b1'"),
	'the maintainer finishes batch b1 after the update');
# New ids come after the old ones; new functions exist.
my $max_old = $node->safe_psql('old', 'SELECT max(id) FROM goodjob.jobs');
cmp_ok($node->safe_psql('old', "SELECT goodjob.enqueue('After', '{}')"),
	'>', $max_old, 'a job enqueued after the update gets a new id');
is( $node->safe_psql('old',
		"SELECT count(*) FROM goodjob.bulk_enqueue_json('{Json}', '{\"{\\\"a\\\": 1}\",\"{}\"}')"),
	'2', 'bulk_enqueue_json, added by 0.2.0, works after the update');
is( $node->safe_psql('old',
		"SELECT string_agg(args::text, ' ' ORDER BY id) FROM goodjob.jobs WHERE job_class = 'Json'"),
	'{"a": 1} {}', '... with the args it was given');
is($node->safe_psql('old', "SELECT count(*) FROM goodjob.jobs WHERE state = 'running'"),
	'0', 'nothing left running');

# --------------------------------- updated objects = fresh objects, exactly
my $catalog = q{
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	|| coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
	|| ' #' || a.attnum
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = 'goodjob' AND c.relname NOT LIKE 'finished_jobs_p%'
UNION ALL
SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(array_to_string(c.reloptions, ','), '')
	|| ' ' || coalesce(array_to_string(c.relacl, ','), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'goodjob' AND c.relname NOT LIKE 'finished_jobs_p%'
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes
WHERE schemaname = 'goodjob' AND tablename NOT LIKE 'finished_jobs_p%'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'goodjob'::regnamespace
	AND conrelid::regclass::text NOT LIKE 'goodjob.finished_jobs_p%'
UNION ALL
SELECT 'view ' || viewname || ' ' || definition FROM pg_views WHERE schemaname = 'goodjob'
UNION ALL
SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_function_result(p.oid)
	|| ' ' || pg_get_function_arguments(p.oid)
	|| ' secdef=' || p.prosecdef || ' volatile=' || p.provolatile::text || ' strict=' || p.proisstrict
	|| ' rows=' || p.prorows || ' config=' || coalesce(array_to_string(p.proconfig, ','), '')
	|| ' acl=' || coalesce(array_to_string(p.proacl, ','), '') || ' src=' || p.prosrc
FROM pg_proc p WHERE p.pronamespace = 'goodjob'::regnamespace
UNION ALL
SELECT 'dump ' || c.relname || ' ' || coalesce(x.extcondition[array_position(x.extconfig, c.oid)], '')
FROM pg_extension x, unnest(x.extconfig) cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
WHERE x.extname = 'goodjob'
UNION ALL
SELECT 'member ' || pg_describe_object(classid, objid, 0)
FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'goodjob')
ORDER BY 1
};
my $fresh_objects = $node->safe_psql('fresh', $catalog);
my $old_objects = $node->safe_psql('old', $catalog);
like($fresh_objects, qr/function goodjob\.bulk_enqueue_json/, 'the catalog listing sees the functions');
is($old_objects, $fresh_objects,
	"the updated database's goodjob objects are exactly a fresh $default install's");

is(maintainer_log_problems($node, $log_offset), '', 'no maintainer errors in the server log');
$node->stop;
done_testing();
