# test/t/010_batch_crash.pl: the server is stopped in immediate mode (no
# shutdown checkpoint, crash recovery at the next start) while workers are
# completing, retrying and discarding the jobs of many armed batches, three
# times over, and once more right after the last jobs completed. After the
# last restart the rest is done, and every batch has exactly the callbacks
# its outcome calls for: one on_finish, one on_success iff none of its jobs
# was discarded, one on_discard iff one was. After the callback jobs run,
# every batch gets finished_at, and a further maintenance pass adds nothing.
#
# Each job's fate is fixed by its args ("ok", "retry": fails once then
# succeeds, "discard": fails for good), so the expected outcome of every
# batch is known whatever the crashes interrupted; a job that was running at
# a crash keeps its lease, which the maintainer reaps after the restart.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GoodjobBatchTest;

my $NBATCHES = 20;
my $NJOBS = 20;
my $TOTAL = $NBATCHES * $NJOBS;

my $node = new_goodjob_node('crash');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');
my $log_offset = -s $node->logfile;

# The fate of job $n (1-based) of batch $b (1-based): every fourth batch has
# one job that is discarded, every fifth job fails once and is retried.
sub fate
{
	my ($b, $n) = @_;
	return 'discard' if $b % 4 == 0 && $n == ($b * 7) % $NJOBS + 1;
	return 'retry' if $n % 5 == 0;
	return 'ok';
}

my (@batches, %discarding);
for my $b (1 .. $NBATCHES)
{
	my $id = $node->safe_psql('postgres',
		"SELECT goodjob.batch_create('crash $b', on_finish => 'CrashFinish',"
		  . " on_success => 'CrashSuccess', on_discard => 'CrashDiscard',"
		  . " callback_queue_name => 'callbacks', callback_priority => 1)");
	my @args =
	  map { sprintf('{"b": %d, "n": %d, "fate": "%s"}', $b, $_, fate($b, $_)) }
	  1 .. $NJOBS;
	my $array = "ARRAY['" . join("','", @args) . "']::jsonb[]";
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM goodjob.bulk_enqueue('{CrashJob}', $array,"
			  . " '{work}', batch_id => $id)"),
		$NJOBS,
		"batch $b: $NJOBS jobs enqueued");
	$node->safe_psql('postgres', "SELECT goodjob.batch_enqueue($id)");
	push @batches, $id;
	$discarding{$id} = 1 if grep { fate($b, $_) eq 'discard' } 1 .. $NJOBS;
}

# One worker step in psql: claim a job of queue "work" (3 second lease), work
# on it for 5 ms (so that crashes find workers mid-flight) and act on it
# according to its fate; when there is none, wait 50 ms. A retry keeps the
# job's place in the queue (retry_at = its scheduled_at), so that batches
# finish one after the other and the crashes find callbacks being enqueued.
my $step = <<'EOS';
SELECT coalesce(max(id), 0) AS jid, coalesce(max(attempts), 0) AS att,
       coalesce(max(args->>'fate'), 'none') AS fate,
       coalesce(max(scheduled_at), now()) AS sched
  FROM goodjob.claim('work', 'crash-worker', 1, '3 seconds') \gset
SELECT pg_sleep(CASE WHEN :jid = 0 THEN 0.05 ELSE 0.005 END);
SELECT CASE
	WHEN :jid = 0 THEN NULL
	WHEN :'fate' = 'discard' THEN goodjob.fail(:jid, :att, 'boom', retry => false)
	WHEN :'fate' = 'retry' AND :att = 1 THEN goodjob.fail(:jid, :att, 'flaky', true, :'sched')
	ELSE goodjob.complete(:jid, :att)::text
END;
EOS
# Returns a psql script file of $n worker steps.
my $nscripts = 0;
sub worker_script
{
	my ($n) = @_;
	my $file = $node->basedir . '/worker_' . $nscripts++ . '.sql';
	append_to_file($file, $step x $n);
	return $file;
}

# Starts $n psql workers, each running 60 worker steps: at most 120 jobs
# finish per round, so three rounds cannot finish all 400 jobs.
sub start_workers
{
	my ($n) = @_;
	my $script = worker_script(60);
	my @workers;
	for (1 .. $n)
	{
		my ($out, $err) = ('', '');
		push @workers,
		  IPC::Run::start(
			[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $script ],
			'>', \$out, '2>', \$err,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	}
	return @workers;
}

# Waits for psql workers to end (they fail once the server is gone).
sub reap_workers
{
	for my $w (@_)
	{
		eval { $w->finish; };
	}
}

my $finished_sql =
  "SELECT count(*) FROM goodjob.finished_jobs WHERE queue_name = 'work'";
my $callbacks_sql =
  "SELECT count(*) FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL";

sub check_maintainer
{
	my ($when) = @_;
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity"
			  . " WHERE backend_type = 'goodjob maintainer' AND datname = 'postgres'"),
		"$when: the goodjob maintainer is running");
}

##
## Three crashes while two workers are busy
##
for my $round (1 .. 3)
{
	my $before = $node->safe_psql('postgres', $finished_sql);
	my $target = $before + 50;
	my @workers = start_workers(2);
	ok($node->poll_query_until('postgres', "SELECT ($finished_sql) >= $target"),
		"round $round: workers finished 50 more jobs");
	$node->stop('immediate');
	reap_workers(@workers);
	$node->start;
	check_maintainer("round $round, after the immediate stop");
	my $finished = $node->safe_psql('postgres', $finished_sql);
	my $running = $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.active_jobs WHERE state = 'running'");
	note("round $round: $finished of $TOTAL jobs finished, $running left running"
		  . " by the crash, "
		  . $node->safe_psql('postgres', $callbacks_sql)
		  . " callbacks so far");
	cmp_ok($finished, '<', $TOTAL, "round $round: the crash came mid-way");
	is(callback_violations($node, 'postgres', 'b.jobs_finished_at IS NOT NULL'),
		'', "round $round: every batch finished so far has exactly its callbacks");
}

##
## The rest of the jobs, then a crash right after the last completion
##
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while ($node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.active_jobs WHERE queue_name = 'work'") > 0)
{
	die 'work jobs do not get done' if time() > $deadline;
	# one worker, 40 steps at a time; jobs left running by the crashes come
	# back once the maintainer reaps their leases
	$node->command_ok(
		[ 'psql', '-X', '-q', '-o', '/dev/null', '-d', $node->connstr('postgres'),
		  '-f', worker_script(40) ],
		'a worker runs 40 steps');
}
is($node->safe_psql('postgres', $finished_sql), $TOTAL, 'all work jobs finished');
$node->stop('immediate');
$node->start;
check_maintainer('after the immediate stop that followed the last completion');

ok( $node->poll_query_until('postgres',
		"SELECT count(*) = $NBATCHES FROM goodjob.batches WHERE jobs_finished_at IS NOT NULL"),
	'every batch has its jobs finished');
is(callback_violations($node, 'postgres'), '',
	'every batch has exactly the callbacks its outcome calls for');

# The outcomes the fates call for, independently of the jobs' final states.
is( $node->safe_psql('postgres',
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM goodjob.batches"
		  . " WHERE discarded_at IS NOT NULL"),
	join(',', sort { $a <=> $b } keys %discarding),
	'exactly the batches with a job fated to be discarded are marked discarded');
is( $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT batch_callback_id::text, ',' ORDER BY batch_callback_id::text)"
		  . " FROM goodjob.jobs WHERE args->>'event' = 'discard'"),
	join(',', sort { $a cmp $b } keys %discarding),
	'... and those alone have an on_discard callback');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE args->>'event' = 'success'"),
	$NBATCHES - scalar(keys %discarding),
	'every other batch has an on_success callback');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE args->>'fate' = 'retry'"
		  . " AND (state <> 'succeeded' OR attempts < 2)"),
	'0', 'every job fated to be retried succeeded on a later attempt');

##
## The callback jobs run; the batches finish; another crash changes nothing
##
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batches WHERE finished_at IS NOT NULL"),
	'0', 'no batch has finished_at while its callback jobs are queued');
is( $node->safe_psql('postgres',
		"SELECT goodjob.complete(array_agg(id), array_agg(attempts))"
		  . " FROM goodjob.claim('callbacks', 'callback-worker', 1000, '1 hour')"),
	2 * $NBATCHES,
	'every callback job is claimed and completed');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = $NBATCHES FROM goodjob.batches WHERE finished_at IS NOT NULL"),
	'every batch gets finished_at');
$node->stop('immediate');
$node->start;
check_maintainer('after a last immediate stop');
my $report = run_maintenance_report($node, 'postgres');
is($report->{callbacks_enqueued}, 0, 'a further maintenance pass enqueues no callback');
is(callback_violations($node, 'postgres'), '',
	'still exactly the callbacks every outcome calls for');
is($node->safe_psql('postgres', 'SELECT count(*) FROM goodjob.active_jobs'),
	'0', 'no job is left queued or running');
is(maintainer_log_problems($node, $log_offset), '',
	'the maintainer logged no warning or error');

$node->stop;
done_testing();
