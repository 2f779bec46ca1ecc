# test/t/040_dump_restore.pl: pg_dump / pg_restore of a database holding
# goodjob data in every state: queued jobs (ready, scheduled later, retried),
# running jobs (one with a long lease, one whose lease has expired),
# finished jobs (succeeded and discarded) in the dated partitions that
# maintenance creates, and open batches (armed and unarmed, with some jobs
# done, one with its on_discard callback already enqueued) next to a
# finished one.
#
# The source database is served by no maintainer (its state changes only
# when the test says so). It is dumped twice:
# - pg_dump -Fc, then pg_restore --single-transaction --exit-on-error into
#   the database "restored", created empty beforehand and served by a
#   maintainer (goodjob.database_names = 'postgres,restored');
# - pg_dump -Fp, replayed with psql -v ON_ERROR_STOP=1 into "restored_plain"
#   (not served).
# Both restores must reproduce every row of goodjob.active_jobs,
# goodjob.finished_jobs (each in the same partition) and goodjob.batches,
# and of the goodjob.jobs and goodjob.batch_progress views, identically
# (to_jsonb, ordered by id); the dated partitions with their bounds and
# indexes; the extension's dump configuration; the grants of the README's
# producer, worker and operator roles; and both sequences, so that new ids
# come after the restored ones. In "restored" the one row the
# maintainer may change at once, the job whose lease expired, is compared
# apart (and so is the progress of its batch).
#
# Then the restored databases carry on: the maintainer reaps the expired
# lease (run_maintenance() does in restored_plain); the long-lease job is
# still held by its worker's fencing token; the remaining jobs of the armed
# batches are completed in "restored" and the maintainer enqueues their
# callbacks exactly once, without firing the on_discard that came with the
# dump again; the unarmed batch is armed there and finishes too; once the
# callback jobs ran, every armed batch has finished_at.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GoodjobBatchTest;

my $node = new_goodjob_node('dump', "goodjob.database_names = 'postgres,restored'\n");
$node->start;
my $dir = PostgreSQL::Test::Utils::tempdir;

# "restored" exists (empty) from the start, so that its maintainer is
# connected and waiting when the restore commits.
$node->command_ok([ 'createdb', 'restored' ], 'createdb restored');
$node->command_ok([ 'createdb', 'source' ], 'createdb source');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity"
		  . " WHERE backend_type = 'goodjob maintainer' AND datname = 'restored'"),
	'a maintainer waits in the empty database "restored"');

my ($ret, $out, $err) = $node->psql('source', 'CREATE EXTENSION goodjob');
is($ret, 0, 'CREATE EXTENSION goodjob in "source"');
like($err, qr/no goodjob maintainer serves database "source"/,
	'... which warns that no maintainer serves it');

# The roles of the README, with their grants (roles are global: the
# restored databases must bring back the grants).
$node->safe_psql(
	'source', q{
CREATE ROLE app_producer LOGIN;
CREATE ROLE app_worker LOGIN;
CREATE ROLE app_operator LOGIN;
GRANT USAGE ON SCHEMA goodjob TO app_producer, app_worker, app_operator;
GRANT EXECUTE ON FUNCTION
	goodjob.enqueue(text, jsonb, text, integer, timestamptz, integer, bigint),
	goodjob.bulk_enqueue(text[], jsonb[], text[], integer[], timestamptz[], bigint, integer),
	goodjob.batch_create(text, jsonb, text, text, text, text, integer),
	goodjob.batch_enqueue(bigint),
	goodjob.batch_update_properties(bigint, jsonb)
  TO app_producer;
GRANT SELECT ON goodjob.batch_progress TO app_producer;
GRANT EXECUTE ON FUNCTION
	goodjob.claim(text, text, integer, interval),
	goodjob.complete(bigint, integer),
	goodjob.complete(bigint[], integer[]),
	goodjob.fail(bigint, integer, text, boolean, timestamptz),
	goodjob.heartbeat(bigint, integer, interval)
  TO app_worker;
GRANT EXECUTE ON FUNCTION
	goodjob.retry_job(bigint),
	goodjob.discard_job(bigint, text),
	goodjob.reschedule_job(bigint, timestamptz),
	goodjob.batch_retry(bigint),
	goodjob.batch_cancel(bigint, text),
	goodjob.run_maintenance()
  TO app_operator;
GRANT SELECT ON goodjob.jobs, goodjob.batches, goodjob.batch_progress TO app_operator;
});

# ------------------------------------------------------------ the source

# One maintenance pass first: it creates the dated partitions (today and
# the next seven days, UTC), so that the jobs finished below land in today's.
my $report = run_maintenance_report($node, 'source');
cmp_ok($report->{partitions_created}, '>=', 1,
	'run_maintenance() creates the dated partitions');

# Batches:
#   b1  armed; 3 jobs succeeded, 1 running (long lease), 1 running with an
#       expired lease, 1 retried (queued again), 2 queued
#   b2  armed; 1 job discarded (its on_discard callback enqueued, not run),
#       1 succeeded, 3 queued
#   b3  not armed; 2 succeeded, 1 discarded by discard_job (its on_discard
#       callback ran), 1 queued
#   b4  armed, all jobs and both callbacks done: finished
#   b5  not armed, no jobs, no callbacks
# Loose jobs: 150 succeeded, 20 discarded, 10 scheduled tomorrow, 20 ready.
$node->safe_psql(
	'source', q{
SELECT goodjob.batch_create('b1 armed', '{"k": 1, "nested": {"a": [1, 2]}}',
	on_finish => 'B1Finish', on_success => 'B1Success', on_discard => 'B1Discard',
	callback_queue_name => 'cb1', callback_priority => 3) AS b1 \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{B1Job}',
	(SELECT array_agg(jsonb_build_object('n', n) ORDER BY n) FROM generate_series(1, 8) n),
	'{b1}', batch_id => :b1);
SELECT goodjob.batch_enqueue(:b1);
SELECT goodjob.complete(array_agg(id), array_agg(attempts))
	FROM goodjob.claim('b1', 'src-worker', 3, '1 minute');
SELECT count(*) FROM goodjob.claim('b1', 'long-worker', 1, '1 hour');
SELECT count(*) FROM goodjob.claim('b1', 'vanished-worker', 1, '1 second');
SELECT goodjob.fail(id, attempts, 'flaky', true, pg_catalog.now())
	FROM goodjob.claim('b1', 'src-worker', 1, '1 minute');

SELECT goodjob.batch_create('b2 armed, discarded', on_finish => 'B2Finish',
	on_success => 'B2Success', on_discard => 'B2Discard', callback_queue_name => 'cb2') AS b2 \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{B2Job}',
	(SELECT array_agg(jsonb_build_object('n', n) ORDER BY n) FROM generate_series(1, 5) n),
	'{b2}', batch_id => :b2, max_attempts => 2);
SELECT goodjob.batch_enqueue(:b2);
SELECT goodjob.fail(id, attempts, 'boom', retry => false)
	FROM goodjob.claim('b2', 'src-worker', 1, '1 minute');
SELECT goodjob.complete(id, attempts) FROM goodjob.claim('b2', 'src-worker', 1, '1 minute');

SELECT goodjob.batch_create('b3 not armed', on_finish => 'B3Finish',
	on_success => 'B3Success', on_discard => 'B3Discard', callback_queue_name => 'cb3') AS b3 \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{B3Job}',
	(SELECT array_agg(jsonb_build_object('n', n) ORDER BY n) FROM generate_series(1, 4) n),
	'{b3}', batch_id => :b3);
SELECT goodjob.complete(array_agg(id), array_agg(attempts))
	FROM goodjob.claim('b3', 'src-worker', 2, '1 minute');
SELECT goodjob.discard_job(min(id), 'not wanted') FROM goodjob.active_jobs WHERE batch_id = :b3;

SELECT goodjob.batch_create('b4 finished', on_finish => 'B4Finish',
	on_success => 'B4Success', callback_queue_name => 'cb4') AS b4 \gset
SELECT count(*) FROM goodjob.bulk_enqueue('{B4Job}', '{"{}","{}","{}"}', '{b4}', batch_id => :b4);
SELECT goodjob.batch_enqueue(:b4);
SELECT goodjob.complete(array_agg(id), array_agg(attempts))
	FROM goodjob.claim('b4', 'src-worker', 10, '1 minute');

SELECT goodjob.batch_create('b5 empty', '{"empty": true}') AS b5 \gset

SELECT count(*) FROM goodjob.bulk_enqueue('{Loose}',
	(SELECT array_agg(jsonb_build_object('n', n, 'text', repeat('x', n)) ORDER BY n)
	 FROM generate_series(1, 200) n),
	'{loose}', (SELECT array_agg(n % 3 ORDER BY n) FROM generate_series(1, 200) n));
SELECT goodjob.complete(array_agg(id), array_agg(attempts))
	FROM goodjob.claim('loose', 'src-worker', 150, '1 minute');
SELECT count(goodjob.fail(id, attempts, 'bad input ' || id, retry => false))
	FROM goodjob.claim('loose', 'src-worker', 20, '1 minute');
SELECT count(goodjob.reschedule_job(id, pg_catalog.now() + interval '1 day'))
	FROM (SELECT id FROM goodjob.active_jobs WHERE queue_name = 'loose'
		  ORDER BY id LIMIT 10) s;
});

# A pass: b2 and b3 get their on_discard callbacks, b4 its on_success and
# on_finish; then b3's and b4's callbacks run and a last pass finishes b4.
run_maintenance_report($node, 'source');
$node->safe_psql(
	'source', q{
SELECT goodjob.complete(array_agg(id), array_agg(attempts))
	FROM goodjob.claim('cb3,cb4', 'src-worker', 10, '1 minute');
});
run_maintenance_report($node, 'source');

my %b = map { (split /\|/)[1] => (split /\|/)[0] } split /\n/,
  $node->safe_psql('source', "SELECT id, split_part(description, ' ', 1) FROM goodjob.batches");
my $expired = $node->safe_psql('source',
	"SELECT id FROM goodjob.active_jobs WHERE locked_by = 'vanished-worker'");
my $long = $node->safe_psql('source',
	"SELECT id FROM goodjob.active_jobs WHERE locked_by = 'long-worker'");

is( $node->safe_psql(
		'source', q{
SELECT string_agg(format('%s %s/%s/%s/%s %s%s%s', description, queued, running, succeeded,
		discarded, (enqueued_at IS NOT NULL)::int, (discarded_at IS NOT NULL)::int,
		(finished_at IS NOT NULL)::int), ', ' ORDER BY batch_id)
FROM goodjob.batch_progress}),
	'b1 armed 3/2/3/0 100, b2 armed, discarded 3/0/1/1 110, b3 not armed 1/0/2/1 010, '
	  . 'b4 finished 0/0/3/0 101, b5 empty 0/0/0/0 000',
	'source batches: queued/running/succeeded/discarded jobs, armed, discarded, finished');
is( $node->safe_psql(
		'source', q{
SELECT string_agg(format('%s %s %s', batch_callback_id, job_class, state), ', '
		ORDER BY batch_callback_id, job_class)
FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL}),
	"$b{b2} B2Discard queued, $b{b3} B3Discard succeeded, "
	  . "$b{b4} B4Finish succeeded, $b{b4} B4Success succeeded",
	'source callbacks: b2\'s on_discard waiting, the others done');
is( $node->safe_psql('source',
		"SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM"
		  . " (SELECT state, count(*) n FROM goodjob.jobs GROUP BY state) s"),
	'discarded 22, queued 38, running 2, succeeded 162',
	'source jobs by state');
is( $node->safe_psql('source',
		"SELECT count(*) FROM goodjob.active_jobs WHERE scheduled_at > now() + interval '1 hour'"),
	'10', 'source: 10 jobs scheduled for tomorrow');
my $today_partition = $node->safe_psql('source',
	"SELECT 'goodjob.finished_jobs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')");
is( $node->safe_psql('source',
		'SELECT string_agg(DISTINCT tableoid::regclass::text, \',\') FROM goodjob.finished_jobs'),
	$today_partition,
	"source: every finished job is in today's dated partition ($today_partition)");

# The expired lease must have expired before the dump; nothing reaps it in
# "source".
ok( $node->poll_query_until('source',
		"SELECT lease_expires_at < now() FROM goodjob.active_jobs WHERE id = $expired"),
	"source: job $expired is running with an expired lease");

# ------------------------------------------------------------- the dumps

my $custom = "$dir/source.dump";
my $plain = "$dir/source.sql";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $custom, '-d', 'source' ],
	'pg_dump -Fc of "source"');
$node->command_ok([ 'pg_dump', '-Fp', '-f', $plain, '-d', 'source' ],
	'pg_dump -Fp of "source"');

my $log_offset = -s $node->logfile;
$node->command_ok(
	[ 'pg_restore', '--single-transaction', '--exit-on-error', '-d', 'restored', $custom ],
	'pg_restore --single-transaction --exit-on-error into "restored"');
$node->command_ok([ 'createdb', 'restored_plain' ], 'createdb restored_plain');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'restored_plain', '-f', $plain ],
	'the plain dump replays with psql -v ON_ERROR_STOP=1 into "restored_plain"');

# ------------------------------------------------------------ comparisons

# Returns the rows of $sql in $db as a list of lines.
sub rows
{
	my ($db, $sql) = @_;
	return split /\n/, $node->safe_psql($db, $sql);
}

# Checks that $sql gives the same lines in "source" and $db; shows the
# first differences when not.
sub same_rows
{
	my ($db, $sql, $what) = @_;
	my @want = rows('source', $sql);
	my @got = rows($db, $sql);
	my @diff;
	for my $i (0 .. ($#want > $#got ? $#want : $#got))
	{
		my ($w, $g) = ($want[$i] // '(none)', $got[$i] // '(none)');
		push @diff, "  source:  $w\n  $db: $g" if $w ne $g;
	}
	ok(@want > 0 && @diff == 0, "$db: $what (" . scalar(@want) . ' rows)')
	  or diag(join("\n", @diff[0 .. ($#diff < 4 ? $#diff : 4)]));
}

my %sql = (
	active => 'SELECT to_jsonb(a)::text FROM goodjob.active_jobs a %s ORDER BY id',
	finished => q{SELECT (to_jsonb(f) || jsonb_build_object('partition', f.tableoid::regclass::text))::text
		FROM goodjob.finished_jobs f ORDER BY id},
	jobs => 'SELECT to_jsonb(j)::text FROM goodjob.jobs j %s ORDER BY id',
	batches => 'SELECT to_jsonb(b)::text FROM goodjob.batches b ORDER BY id',
	progress => 'SELECT to_jsonb(p)::text FROM goodjob.batch_progress p %s ORDER BY batch_id',
	sequences => q{SELECT s || ' ' || last_value || ' ' || is_called FROM
		(SELECT 'jobs_id_seq' s, last_value, is_called FROM goodjob.jobs_id_seq
		 UNION ALL SELECT 'batches_id_seq', last_value, is_called FROM goodjob.batches_id_seq) q},
	partitions => q{SELECT c.oid::regclass || ' ' || pg_get_expr(c.relpartbound, c.oid)
		|| CASE WHEN EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
			AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
			AND d.deptype = 'e') THEN ' (extension member)' ELSE '' END
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'goodjob.finished_jobs'::regclass ORDER BY 1},
	indexes => q{SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x
		WHERE x.indrelid IN (SELECT inhrelid FROM pg_inherits
							 WHERE inhparent = 'goodjob.finished_jobs'::regclass)
		ORDER BY 1},
	privileges => q{SELECT x FROM (
		SELECT p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '(default)') AS x
		FROM pg_proc p WHERE p.pronamespace = 'goodjob'::regnamespace
		UNION ALL
		SELECT c.oid::regclass::text || ' ' || coalesce(c.relacl::text, '(default)')
		FROM pg_class c WHERE c.relnamespace = 'goodjob'::regnamespace
		UNION ALL
		SELECT 'schema goodjob ' || coalesce(nspacl::text, '(default)')
		FROM pg_namespace WHERE nspname = 'goodjob') s ORDER BY 1},
	config => q{SELECT pg_extension_config_dump_list FROM (
		SELECT unnest(extconfig)::regclass::text || ' [' || unnest(extcondition) || ']'
			AS pg_extension_config_dump_list
		FROM pg_extension WHERE extname = 'goodjob') s ORDER BY 1},
);

for my $db ('restored_plain', 'restored')
{
	# The maintainer of "restored" may reap the expired lease at any time
	# now: that row is compared on its own below.
	my $not_expired = $db eq 'restored' ? "WHERE id <> $expired" : '';
	same_rows($db, sprintf($sql{active}, $not_expired),
		'goodjob.active_jobs rows are identical' . ($not_expired ? ' (but the expired one)' : ''));
	same_rows($db, $sql{finished},
		'goodjob.finished_jobs rows are identical, each in the same partition');
	same_rows($db, sprintf($sql{jobs}, $not_expired),
		'goodjob.jobs rows are identical' . ($not_expired ? ' (but the expired one)' : ''));
	same_rows($db, $sql{batches}, 'goodjob.batches rows are identical');
	same_rows($db, sprintf($sql{progress}, $db eq 'restored' ? "WHERE batch_id <> $b{b1}" : ''),
		'goodjob.batch_progress rows are identical'
		  . ($db eq 'restored' ? ' (but that of b1, which counts the expired one)' : ''));
	same_rows($db, $sql{sequences}, 'both sequences are where they were');
	same_rows($db, $sql{partitions},
		'the same partitions of goodjob.finished_jobs, with the same bounds, dated ones not extension members');
	same_rows($db, $sql{indexes}, 'every partition has the same indexes');
	same_rows($db, $sql{config}, 'the extension\'s dump configuration is the same');
	same_rows($db, $sql{privileges},
		'the same privileges on the schema, its functions, tables, views and sequences');
}
my $expired_row = "SELECT state || ' ' || attempts || ' ' || coalesce(error, '-')"
  . " FROM goodjob.active_jobs WHERE id = $expired";
is($node->safe_psql('restored_plain', $expired_row), 'running 1 -',
	"restored_plain: the job with the expired lease ($expired) is still running");

# New ids come after the restored ones (the producer role makes them).
for my $db ('restored_plain', 'restored')
{
	is( $node->safe_psql(
			$db, q{
SET ROLE app_operator;
SELECT (SELECT max(id) FROM goodjob.jobs) AS maxjob, (SELECT max(id) FROM goodjob.batches) AS maxbatch \gset
SET ROLE app_producer;
SELECT goodjob.enqueue('AfterRestore', queue_name => 'after') > :maxjob,
	   goodjob.batch_create('after restore') > :maxbatch}),
		't|t',
		"$db: a new job and a new batch get ids above every restored one");
}

# ---------------------------------------------------- the maintainer carries on

ok( $node->poll_query_until('restored', $expired_row, "queued 1 lease expired"),
	"restored: the maintainer reaps the expired lease of job $expired (queued again, attempt 1 used)");
$report = run_maintenance_report($node, 'restored_plain');
is($report->{expired_leases_requeued}, 1,
	'restored_plain: run_maintenance() reaps the expired lease');
is($node->safe_psql('restored_plain', $expired_row), 'queued 1 lease expired',
	"restored_plain: job $expired is queued again");

is( $node->safe_psql('restored',
		"SELECT state || ' ' || (lease_expires_at > now()) FROM goodjob.active_jobs WHERE id = $long"),
	'running true', "restored: the long-lease job $long is still running");
is($node->safe_psql('restored', "SELECT goodjob.heartbeat($long, 1)"),
	't', '... its worker\'s fencing token holds after the restore (heartbeat)');
is($node->safe_psql('restored', "SELECT goodjob.complete($long, 2)"),
	'f', '... and a wrong attempt does not');
is($node->safe_psql('restored', "SELECT goodjob.complete($long, 1)"),
	't', '... and its worker completes it');

# A few passes went by: nothing was fired again or early.
run_maintenance_report($node, 'restored');
is( $node->safe_psql(
		'restored', q{
SELECT string_agg(format('%s %s', batch_callback_id, job_class), ', '
		ORDER BY batch_callback_id, job_class)
FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL}),
	"$b{b2} B2Discard, $b{b3} B3Discard, $b{b4} B4Finish, $b{b4} B4Success",
	'restored: after maintenance passes, only the callbacks that came with the dump');

# The rest of b1 (the reaped job, the retried one, two queued ones) and of
# b2; b3 is armed and its last job completed.
is( $node->safe_psql('restored',
		"SET ROLE app_worker; SELECT goodjob.complete(array_agg(id), array_agg(attempts))"
		  . " FROM goodjob.claim('b1,b2', 'restored-worker', 100, '1 minute')"),
	'7', 'restored: the 4 unfinished jobs of b1 and 3 of b2 are claimed and completed (as app_worker)');
$node->safe_psql('restored', "SELECT goodjob.batch_enqueue($b{b3})");
is( $node->safe_psql('restored',
		"SELECT goodjob.complete(array_agg(id), array_agg(attempts))"
		  . " FROM goodjob.claim('b3', 'restored-worker', 100, '1 minute')"),
	'1', 'restored: b3 is armed and its last job completed');

ok( $node->poll_query_until(
		'restored',
		"SELECT count(*) = 3 FROM goodjob.batches WHERE id IN ($b{b1}, $b{b2}, $b{b3})"
		  . " AND jobs_finished_at IS NOT NULL"),
	'restored: the maintainer finishes b1, b2 and b3');
my $callbacks_sql = q{
SELECT string_agg(format('%s %s %s', batch_callback_id, job_class, n), ', '
		ORDER BY batch_callback_id, job_class)
FROM (SELECT batch_callback_id, job_class, count(*) n FROM goodjob.jobs
	  WHERE batch_callback_id IS NOT NULL GROUP BY 1, 2) s};
my $want_callbacks =
    "$b{b1} B1Finish 1, $b{b1} B1Success 1, $b{b2} B2Discard 1, $b{b2} B2Finish 1, "
  . "$b{b3} B3Discard 1, $b{b3} B3Finish 1, $b{b4} B4Finish 1, $b{b4} B4Success 1";
is($node->safe_psql('restored', $callbacks_sql), $want_callbacks,
	'restored: b1 gets on_success and on_finish, b2 and b3 on_finish only, each once');
$report = run_maintenance_report($node, 'restored');
is($report->{callbacks_enqueued}, 0, 'restored: a further pass enqueues no callback');
is($node->safe_psql('restored', $callbacks_sql), $want_callbacks,
	'restored: still each callback once');
is(callback_violations($node, 'restored'), '',
	'restored: every batch has exactly the callbacks its outcome calls for');

# The callbacks run; every armed batch finishes.
is( $node->safe_psql('restored',
		"SELECT goodjob.complete(array_agg(id), array_agg(attempts))"
		  . " FROM goodjob.claim('cb1,cb2,cb3', 'restored-worker', 100, '1 minute')"),
	'5', 'restored: the 5 waiting callback jobs are completed');
ok( $node->poll_query_until('restored',
		"SELECT count(*) = 0 FROM goodjob.batches WHERE enqueued_at IS NOT NULL AND finished_at IS NULL"),
	'restored: every armed batch gets finished_at');
is( $node->safe_psql('restored',
		"SELECT string_agg(description, ', ' ORDER BY id) FROM goodjob.batches WHERE finished_at IS NULL"),
	'b5 empty, after restore', 'restored: only the unarmed batches are open');
is( $node->safe_psql('restored',
		"SELECT count(*) FROM goodjob.jobs WHERE state IN ('queued', 'running') AND queue_name <> 'loose' AND queue_name <> 'after'"),
	'0', 'restored: no batch job or callback is left');

is(maintainer_log_problems($node, $log_offset), '',
	'the maintainers logged no warning or error after the restores');

$node->stop;
done_testing();
