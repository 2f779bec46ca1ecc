# test/t/012_lease_expiry.pl: a worker claims a batch job and never comes
# back. The maintainer reaps the expired lease (a failed attempt with the
# error "lease expired", attempts kept, queued again at once), another
# worker claims it as attempt 2 and completes it, every call of the vanished
# worker with its old token (attempt 1) changes nothing, and the batch
# finishes exactly once (one on_success, one on_finish, no on_discard).
# When the expired attempt was the job's last one, the job is discarded
# instead, and its batch gets on_discard and on_finish but no on_success.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GoodjobBatchTest;

my $node = new_goodjob_node('lease');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');
my $log_offset = -s $node->logfile;

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'goodjob maintainer'"),
	'the maintainer is running');

# Creates an armed batch with $n jobs in queue $queue (optionally with
# max_attempts) and returns (batch id, job ids in claim order).
sub make_batch
{
	my ($name, $queue, $n, $max_attempts) = @_;
	my $batch = $node->safe_psql('postgres',
		"SELECT goodjob.batch_create('$name', on_finish => '${name}Finish',"
		  . " on_success => '${name}Success', on_discard => '${name}Discard',"
		  . " callback_queue_name => 'callbacks')");
	my $ids = $node->safe_psql('postgres',
		"SELECT goodjob.bulk_enqueue('{${name}Job}',"
		  . " (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, $n) i),"
		  . " '{$queue}', batch_id => $batch"
		  . (defined $max_attempts ? ", max_attempts => $max_attempts" : '')
		  . ")");
	$node->safe_psql('postgres', "SELECT goodjob.batch_enqueue($batch)");
	return ($batch, split(/\n/, $ids));
}

# Number of callback jobs of $batch for $event.
sub callbacks
{
	my ($batch, $event) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE batch_callback_id = $batch"
		  . " AND args->>'event' = '$event'");
}

sub job_row
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT state, attempts, coalesce(locked_by, '-'), coalesce(error, '-')"
		  . " FROM goodjob.jobs WHERE id = $id");
}

##
## 1. The lease expires, the job is retried by another worker, the batch
##    finishes once with on_success and on_finish.
##
my ($batch, @ids) = make_batch('Lease', 'lease', 3);
my @others = @ids[0, 1];
my $lost = $ids[2];

# Worker B claims the first two jobs (a long lease), worker A the last one
# with a short lease, and A vanishes.
is( $node->safe_psql('postgres',
		"SELECT string_agg(id::text, ',') FROM goodjob.claim('lease', 'worker-b', 2, '1 hour')"),
	join(',', @others),
	'worker B claims two jobs');
is( $node->safe_psql('postgres',
		"SELECT id || '|' || attempts FROM goodjob.claim('lease', 'worker-a', 1, '1 second')"),
	"$lost|1",
	'worker A claims the last job (attempt 1) with a 1 second lease');

# Worker B does its jobs properly.
for my $id (@others)
{
	is($node->safe_psql('postgres', "SELECT goodjob.complete($id, 1)"),
		't', "worker B completes job $id");
}

# The lost job is unfinished however far the reaping has got, so the batch
# cannot have finished.
is(callbacks($batch, 'finish') + callbacks($batch, 'success'),
	0, 'no on_finish or on_success while a job is still unfinished');
is($node->safe_psql('postgres',
		"SELECT jobs_finished_at IS NULL FROM goodjob.batches WHERE id = $batch"),
	't', 'jobs_finished_at is not set while a job is unfinished');

# The maintainer reaps the lease: queued again at once, the attempt counted.
ok( $node->poll_query_until('postgres',
		"SELECT state = 'queued' FROM goodjob.jobs WHERE id = $lost"),
	'the maintainer reaps the expired lease');
is(job_row($lost), 'queued|1|-|lease expired',
	'reaped job: queued, attempts kept at 1, unlocked, error "lease expired"');
is($node->safe_psql('postgres',
		"SELECT scheduled_at <= now() FROM goodjob.jobs WHERE id = $lost"),
	't', 'reaped job is ready to run at once');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.finished_jobs WHERE id = $lost"),
	'0', 'reaped job is not finished');

# The vanished worker's token no longer holds while the job waits.
is($node->safe_psql('postgres', "SELECT goodjob.heartbeat($lost, 1)"),
	'f', 'worker A: heartbeat with attempt 1 returns false once reaped');
is($node->safe_psql('postgres', "SELECT goodjob.complete($lost, 1)"),
	'f', 'worker A: complete with attempt 1 returns false once reaped');

# Worker C takes the job over: attempt 2.
is( $node->safe_psql('postgres',
		"SELECT id || '|' || attempts FROM goodjob.claim('lease', 'worker-c', 1, '1 hour')"),
	"$lost|2",
	'worker C claims the reaped job as attempt 2');

# Worker A comes back with its old token: nothing it does counts.
is($node->safe_psql('postgres', "SELECT goodjob.complete($lost, 1)"),
	'f', 'worker A: complete(id, 1) returns false after the takeover');
is($node->safe_psql('postgres',
		"SELECT goodjob.fail($lost, 1, 'late', retry => false) IS NULL"),
	't', 'worker A: fail(id, 1) returns NULL after the takeover');
is($node->safe_psql('postgres', "SELECT goodjob.heartbeat($lost, 1, '1 hour')"),
	'f', 'worker A: heartbeat(id, 1) returns false after the takeover');
is($node->safe_psql('postgres',
		"SELECT goodjob.complete(ARRAY[$lost]::bigint[], ARRAY[1])"),
	'0', 'worker A: complete(ids[], attempts[]) with attempt 1 counts 0');
is(job_row($lost), 'running|2|worker-c|lease expired',
	'the job still runs under attempt 2 for worker C');
is(callbacks($batch, 'finish') + callbacks($batch, 'success'),
	0, 'still no on_finish or on_success');

is($node->safe_psql('postgres', "SELECT goodjob.heartbeat($lost, 2)"),
	't', 'worker C: heartbeat(id, 2) holds');
is($node->safe_psql('postgres', "SELECT goodjob.complete($lost, 2)"),
	't', 'worker C: complete(id, 2) returns true');
is($node->safe_psql('postgres', "SELECT goodjob.complete($lost, 1)"),
	'f', 'worker A: complete(id, 1) still returns false after the job succeeded');
is($node->safe_psql('postgres',
		"SELECT state || '|' || attempts || '|' || locked_by FROM goodjob.jobs WHERE id = $lost"),
	'succeeded|2|worker-c', 'the job succeeded on attempt 2, by worker C');

ok( $node->poll_query_until('postgres',
		"SELECT jobs_finished_at IS NOT NULL FROM goodjob.batches WHERE id = $batch"),
	'the maintainer finishes the batch');
is(callbacks($batch, 'success'), 1, 'exactly one on_success callback');
is(callbacks($batch, 'finish'),  1, 'exactly one on_finish callback');
is(callbacks($batch, 'discard'), 0, 'no on_discard callback');

##
## 2. The expired attempt was the last one: the job is discarded with the
##    error "lease expired"; on_discard and on_finish, no on_success.
##
my ($batch2, $last, $fine) = make_batch('LastAttempt', 'lastattempt', 2, 1);
is( $node->safe_psql('postgres',
		"SELECT id FROM goodjob.claim('lastattempt', 'worker-d', 1, '500 milliseconds')"),
	$last, 'worker D claims a job with max_attempts 1 and a short lease');
is( $node->safe_psql('postgres',
		"SELECT id FROM goodjob.claim('lastattempt', 'worker-e', 1, '1 hour')"),
	$fine, 'worker E claims the other job');
is($node->safe_psql('postgres', "SELECT goodjob.complete($fine, 1)"),
	't', 'worker E completes it');

ok( $node->poll_query_until('postgres',
		"SELECT state = 'discarded' FROM goodjob.jobs WHERE id = $last"),
	'the maintainer discards the job whose last lease expired');
is(job_row($last), 'discarded|1|worker-d|lease expired',
	'discarded job: attempts 1, error "lease expired"');
is($node->safe_psql('postgres', "SELECT goodjob.complete($last, 1)"),
	'f', 'worker D: complete(id, 1) returns false after the discard');
ok( $node->poll_query_until('postgres',
		"SELECT jobs_finished_at IS NOT NULL FROM goodjob.batches WHERE id = $batch2"),
	'the maintainer finishes the second batch');
is(callbacks($batch2, 'discard'), 1, 'second batch: exactly one on_discard');
is(callbacks($batch2, 'finish'),  1, 'second batch: exactly one on_finish');
is(callbacks($batch2, 'success'), 0, 'second batch: no on_success');

##
## 3. Callbacks run, the batches finish; later passes add nothing.
##
is( $node->safe_psql('postgres',
		"SELECT goodjob.complete(array_agg(id), array_agg(attempts))"
		  . " FROM goodjob.claim('callbacks', 'cb-worker', 100, '1 hour')"),
	'4', 'the four callback jobs are claimed and completed');
ok( $node->poll_query_until('postgres',
		"SELECT bool_and(finished_at IS NOT NULL) FROM goodjob.batches"),
	'both batches get finished_at once their callbacks finished');
my $report = run_maintenance_report($node, 'postgres');
is($report->{callbacks_enqueued}, 0,
	'an extra maintenance pass enqueues no further callback');
is(callback_violations($node, 'postgres'), '',
	'every batch has exactly the callbacks its outcome calls for');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.active_jobs"),
	'0', 'no job is left queued or running');
is(maintainer_log_problems($node, $log_offset), '',
	'the maintainer logged no warning or error');

$node->stop;
done_testing();
