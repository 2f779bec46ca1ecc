# test/t/020_batch_stress.pl: 200 armed batches of 50 jobs each, worked off
# by 8 concurrent pgbench clients that complete, retry, fail for good,
# discard (goodjob.discard_job) or abandon (lease expiry) the jobs they claim
# at random, complete the callback jobs as they appear, and now and then run
# goodjob.run_maintenance() concurrently with the maintainer, which finishes
# batches as their last jobs go. At the end no work job is left unfinished
# and every batch has exactly the callbacks its outcome calls for: one
# on_finish, one on_success iff none of its jobs was discarded, one
# on_discard iff one was. Once the callback jobs have run too, every batch
# has finished_at, later than its callbacks. Bounded to about a minute on
# two cores (usually well under 30 s).

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use GoodjobBatchTest;

my $NBATCHES = 200;
my $NJOBS = 50;
my $CLIENTS = 8;
my $TIME_LIMIT = 60;    # seconds for the workers (usually 5 to 40)
my $CHUNK = 300;        # most transactions per client in one pgbench run

my $started = time();
# With these backoff settings a default retry waits 1 s (attempts^0 + 0).
my $node = new_goodjob_node(
	'stress', qq{
log_statement = none
max_connections = 40
goodjob.retry_backoff_base = 0
goodjob.retry_backoff_exponent = 0
goodjob.retry_jitter = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');
my $log_offset = -s $node->logfile;

# The batches: bulk_enqueue with batch_id, then batch_enqueue, each batch in
# its own transaction.
my $setup = '';
for my $b (1 .. $NBATCHES)
{
	$setup .= qq{
BEGIN;
SELECT goodjob.batch_create('stress $b', on_finish => 'StressFinish',
	on_success => 'StressSuccess', on_discard => 'StressDiscard',
	callback_queue_name => 'callbacks', callback_priority => 5) AS batch \\gset
SELECT count(*) FROM goodjob.bulk_enqueue('{StressJob}',
	(SELECT array_agg(jsonb_build_object('b', $b, 'n', i)) FROM generate_series(1, $NJOBS) i),
	'{work}', batch_id => :batch);
SELECT goodjob.batch_enqueue(:batch);
COMMIT;
};
}
$node->safe_psql('postgres', $setup);
is( $node->safe_psql('postgres',
		"SELECT count(*) || '|' || count(DISTINCT batch_id) FROM goodjob.active_jobs"
		  . " WHERE queue_name = 'work' AND state = 'queued'"),
	$NBATCHES * $NJOBS . "|$NBATCHES",
	"$NBATCHES batches of $NJOBS jobs enqueued");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batches WHERE enqueued_at IS NOT NULL"),
	$NBATCHES, 'every batch is armed');

# One pgbench transaction of a worker: claim a job of queue "work" or
# "callbacks". A callback job is completed. A work job is, at random:
# completed (88%), failed with a retry (7%: half with the default backoff,
# 1 s here, half at once), failed for good (2%),
# discarded by goodjob.discard_job (1%), abandoned with its lease cut to
# 100 ms so that the maintainer reaps it (1%), or completed 2 ms after its
# lease was cut to 1 ms, racing the reaper (1%). With nothing to claim right
# now (the rest is running), the worker waits 10 ms.
my $script = $node->basedir . '/stress_worker.sql';
append_to_file(
	$script, q{
\set r random(1, 1000)
SELECT coalesce(max(id), 0) AS jid, coalesce(max(attempts), 0) AS att, coalesce(max(batch_callback_id), 0) AS cb FROM goodjob.claim('work,callbacks', 'pgbench', 1, '5 minutes') \gset
\if :jid = 0
SELECT pg_sleep(0.01);
\elif :cb > 0
SELECT goodjob.complete(:jid, :att);
\elif :r <= 880
SELECT goodjob.complete(:jid, :att);
\elif :r <= 915
SELECT goodjob.fail(:jid, :att, 'flaky', true);
\elif :r <= 950
SELECT goodjob.fail(:jid, :att, 'flaky', true, now());
\elif :r <= 970
SELECT goodjob.fail(:jid, :att, 'fatal', false);
\elif :r <= 980
SELECT goodjob.discard_job(:jid, 'operator says no');
\elif :r <= 990
SELECT goodjob.heartbeat(:jid, :att, '100 milliseconds');
\else
SELECT goodjob.heartbeat(:jid, :att, '1 millisecond');
SELECT pg_sleep(0.002);
SELECT goodjob.complete(:jid, :att);
\endif
});

# Now and then a client runs a maintenance pass of its own, concurrently
# with the maintainer's: the two must not enqueue a callback twice.
my $maint_script = $node->basedir . '/stress_maintenance.sql';
append_to_file($maint_script, "SELECT goodjob.run_maintenance();\n");

# Run pgbench until no work job is left: each run gives every client about
# its share of what is left (an empty claim is a transaction too), at most
# $CHUNK transactions, so that the time limit is checked between runs.
my $unfinished_sql =
  "SELECT count(*) FROM goodjob.active_jobs WHERE queue_name = 'work'";
my $deadline = time() + $TIME_LIMIT;
my ($runs, $pgbench_ok, $unfinished) = (0, 1, 0);
while (($unfinished = $node->safe_psql('postgres', $unfinished_sql)) > 0)
{
	last if time() > $deadline;
	my $per_client = int($unfinished * 1.1 / $CLIENTS) + 5;
	$per_client = $CHUNK if $per_client > $CHUNK;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $CLIENTS, '-j', 2, '-t', $per_client,
			'-f', "$script\@50", '-f', "$maint_script\@1", 'postgres'
		],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$runs++;
	# pgbench counts a deadlock or serialization failure as a failed
	# transaction and goes on, with exit status 0 and nothing on stderr
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	if (!$ok || $err =~ /error|abort/i || !defined $failed || $failed > 0)
	{
		$pgbench_ok = 0;
		diag("pgbench failed:\n$out\n$err");
		last;
	}
	my ($tps) = $out =~ /tps = ([\d.]+)/;
	note("pgbench run $runs: $per_client transactions per client for $unfinished"
		  . " unfinished jobs, tps " . ($tps // '?'));
}
ok($pgbench_ok, 'pgbench workers ran without errors');
is($unfinished, 0, "no work job is left queued or running (after $runs pgbench runs)");
my $work_done = time();
note(sprintf('setup and work took %.1f s', $work_done - $started));

is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.finished_jobs WHERE queue_name = 'work'"),
	$NBATCHES * $NJOBS, 'every work job is finished');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = $NBATCHES FROM goodjob.batches WHERE jobs_finished_at IS NOT NULL"),
	'the maintainer catches up: every batch has its jobs finished');
note(sprintf('the maintainer caught up %.2f s after the last job', time() - $work_done));

is(callback_violations($node, 'postgres'), '',
	'every batch has exactly the callbacks its outcome calls for');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batch_progress WHERE total <> $NJOBS OR queued <> 0"
		  . " OR running <> 0 OR succeeded + discarded <> $NJOBS"),
	'0', 'batch_progress: every batch has its 50 jobs, all finished');

# What happened, for the record; both outcomes must have occurred.
my ($discarded_batches, $discarded_jobs, $retried_jobs) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT (SELECT count(*) FROM goodjob.batches WHERE discarded_at IS NOT NULL),"
	  . " count(*) FILTER (WHERE state = 'discarded'),"
	  . " count(*) FILTER (WHERE attempts > 1)"
	  . " FROM goodjob.finished_jobs WHERE queue_name = 'work'");
note("$discarded_batches of $NBATCHES batches had a discarded job;"
	  . " $discarded_jobs jobs discarded, $retried_jobs took more than one attempt");
ok($discarded_batches > 0 && $discarded_batches < $NBATCHES,
	'some batches had a discarded job and some did not');
cmp_ok($retried_jobs, '>', 0, 'some jobs were retried');

# The callback jobs enqueued after the workers stopped run now; then every
# batch finishes.
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batches b WHERE finished_at IS NOT NULL"
		  . " AND EXISTS (SELECT 1 FROM goodjob.active_jobs a WHERE a.batch_callback_id = b.id)"),
	'0', 'no batch has finished_at while one of its callback jobs is unfinished');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL"),
	2 * $NBATCHES,
	'two callback jobs per batch (finish and success, or finish and discard)');
my $callbacks = $node->safe_psql('postgres',
	"SELECT count(*) FROM goodjob.active_jobs WHERE batch_callback_id IS NOT NULL");
note("$callbacks callback jobs were left for after the workers");
is( $node->safe_psql('postgres',
		"SELECT CASE WHEN count(*) = 0 THEN 0"
		  . " ELSE goodjob.complete(array_agg(id), array_agg(attempts)) END"
		  . " FROM goodjob.claim('callbacks', 'callback-worker', 10000, '1 hour')"),
	$callbacks, 'the remaining callback jobs are claimed and completed');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = $NBATCHES FROM goodjob.batches WHERE finished_at IS NOT NULL"),
	'every batch gets finished_at');
# The batches' timestamps must not precede what they stand for. (A pass
# that stamps the time it started fails this when a job it sees finished
# and committed after that.)
# '' when no batch has $column earlier than the latest finished_at of the
# jobs linked to it by $link, else how many do and the first three.
sub stamped_too_early
{
	my ($column, $link) = @_;
	return $node->safe_psql('postgres', qq{
SELECT format('%s batches, e.g. %s', count(*),
	string_agg(format('batch %s: $column %s < %s', id, stamp, latest), '; ')
		FILTER (WHERE n <= 3))
FROM (SELECT b.id, b.$column AS stamp, l.latest,
			 row_number() OVER (ORDER BY b.id) AS n
	  FROM goodjob.batches b
	  CROSS JOIN LATERAL (SELECT max(f.finished_at) AS latest
						  FROM goodjob.finished_jobs f WHERE f.$link = b.id) l
	  WHERE b.$column < l.latest) x
HAVING count(*) > 0});
}
is(stamped_too_early('jobs_finished_at', 'batch_id'),
	'', 'no batch has jobs_finished_at earlier than the finish of its last job');
is(stamped_too_early('finished_at', 'batch_callback_id'),
	'', 'no batch has finished_at earlier than the finish of its last callback job');
my $report = run_maintenance_report($node, 'postgres');
is($report->{callbacks_enqueued}, 0, 'a further maintenance pass enqueues no callback');
is(callback_violations($node, 'postgres'), '',
	'still exactly the callbacks every outcome calls for');
is($node->safe_psql('postgres', 'SELECT count(*) FROM goodjob.active_jobs'),
	'0', 'no job at all is left queued or running');
is(maintainer_log_problems($node, $log_offset), '',
	'the maintainer logged no warning or error');

$node->stop;
note(sprintf('total %.1f s', time() - $started));
done_testing();
