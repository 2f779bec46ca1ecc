# test/t/100_worker.pl: the reference worker and CLI (client/goodjob) end to
# end against a real server: retries, --timeout, SIGTERM hand-back,
# --concurrency, a server restart under a running worker, batches and their
# callbacks, and bad input (each a clear message and a non-zero exit, never
# a crash). The binary comes from $GOODJOB_BIN, else $TESTDIR/client/goodjob.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use POSIX qw(:sys_wait_h);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use GoodjobWorkerTest;

my $bin = $ENV{GOODJOB_BIN} // "$ENV{TESTDIR}/client/goodjob";
die "goodjob client not found at $bin (build it with: make -C client)"
  unless -x $bin;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
# Retries at once (attempt^0 + 0 s, no jitter = 1 s), so a test sees them.
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'goodjob'
goodjob.retry_backoff_base = 0
goodjob.retry_backoff_exponent = 0
goodjob.retry_jitter = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');

my $dsn = $node->connstr('postgres');
my $dir = PostgreSQL::Test::Utils::tempdir;
# Worker logs go beside the server's (tmp_check/log/100_worker_NAME.log),
# where test/run.sh shows them when this file fails.
my $logdir = $PostgreSQL::Test::Utils::log_path;

# ---------------------------------------------------------------- helpers

# Runs goodjob with @args (stdin $in); returns (exit status, stdout, stderr).
sub goodjob { return run_goodjob($bin, @_); }

# Enqueues a job with goodjob enqueue; returns its id.
sub enqueue
{
	my (@args) = @_;
	my ($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'enqueue', @args);
	die "goodjob enqueue @args failed ($rc): $err" if $rc != 0;
	chomp $out;
	return $out;
}

# Returns the log file of the worker called $name.
sub worker_log { return "$logdir/100_worker_$_[0].log"; }

# Starts "goodjob work @args" in the background, logging to worker_log($name).
sub start_worker
{
	my ($name, @args) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', worker_log($name)) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
		exec($bin, 'work', '--dsn', $dsn, @args) or POSIX::_exit(127);
	}
	return $pid;
}

# Sends SIGTERM and waits for a clean exit.
sub stop_worker
{
	my ($pid, $timeout, $what) = @_;
	kill 'TERM', $pid;
	my $status = wait_exit($pid, $timeout);
	ok(defined $status && $status == 0,
		"$what exits with status 0 on SIGTERM within $timeout s");
}

sub job_row
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT state, attempts, coalesce(error, '') FROM goodjob.jobs WHERE id = $id");
}


# ------------------------------------------ retries, timeout, bad handlers

my $flaky = write_script($dir, 'flaky.sh', <<"EOF");
cat > "$dir/args.\$GOODJOB_JOB_ID"
echo "\$GOODJOB_JOB_ID \$GOODJOB_ATTEMPT \$GOODJOB_JOB_CLASS [\$GOODJOB_BATCH_ID]" > "$dir/env.\$GOODJOB_JOB_ID"
if [ "\$GOODJOB_ATTEMPT" -lt 3 ]; then echo "flaky failure \$GOODJOB_ATTEMPT" >&2; exit 1; fi
EOF

my %id;
$id{flaky} = enqueue('Flaky', '{"n": 42}', '--queue', 'main');
$id{slow} = enqueue('Slow', '--queue', 'main', '--max-attempts', '1');
$id{missing} = enqueue('Missing', '--queue', 'main', '--max-attempts', '1');
$id{unknown} = enqueue('Unknown', '--queue', 'main', '--max-attempts', '1');
$id{noop} = enqueue('Noop', '--queue', 'main');

my $t0 = time;
my $main = start_worker(
	'main', '--queues', 'main', '--concurrency', '4',
	'--timeout', '1', '--poll-interval', '0.2',
	'--handler', "Flaky=$flaky",
	'--handler', 'Slow=sleep 20',
	'--handler', 'Missing=goodjob_no_such_program --flag',
	'--handler', 'Noop=:noop');

is(poll_until($node, "SELECT state || ' ' || attempts FROM goodjob.jobs WHERE id = $id{flaky}",
		'succeeded 3', 15),
	'succeeded 3', 'a handler that fails twice then succeeds ends succeeded with 3 attempts');
is(slurp_if_exists("$dir/args.$id{flaky}"), '{"n": 42}', 'the handler got the args JSON on stdin');
is(slurp_if_exists("$dir/env.$id{flaky}"), "$id{flaky} 3 Flaky []\n",
	'the handler got GOODJOB_JOB_ID, GOODJOB_ATTEMPT, GOODJOB_JOB_CLASS and GOODJOB_BATCH_ID');

is(poll_until($node, "SELECT state FROM goodjob.jobs WHERE id = $id{slow}", 'discarded', 10),
	'discarded', 'a handler exceeding --timeout is failed');
is(job_row($id{slow}), 'discarded|1|timed out after 1 s', "... with the error 'timed out after 1 s'");

poll_until($node, "SELECT state FROM goodjob.jobs WHERE id = $id{missing}", 'discarded', 5);
like(job_row($id{missing}),
	qr/^discarded\|1\|exit status 127: sh: .*goodjob_no_such_program: (not found|Permission denied)/,
	'a missing handler program fails the job with the shell\'s error');
poll_until($node, "SELECT state FROM goodjob.jobs WHERE id = $id{unknown}", 'discarded', 5);
like(job_row($id{unknown}),
	qr/^discarded\|1\|no handler for job class "Unknown"/,
	'a job whose class has no handler is failed with a clear error');
is(poll_until($node, "SELECT state FROM goodjob.jobs WHERE id = $id{noop}", 'succeeded', 5),
	'succeeded', 'the built-in :noop handler completes its job');

# The worker survived all of that and still takes new jobs, woken by NOTIFY.
my $later = enqueue('Noop', '--queue', 'main');
is(poll_until($node, "SELECT state FROM goodjob.jobs WHERE id = $later", 'succeeded', 5),
	'succeeded', 'the worker survives failing handlers and runs the next job');

my $log = slurp_if_exists(worker_log('main'));
like($log, qr/job $id{flaky} Flaky \(queue main, attempt 1\) failed \(will retry\) in [\d.]+ ms: exit status 1: flaky failure 1/,
	'one log line per failed attempt, with the stderr tail');
like($log, qr/job $id{flaky} Flaky \(queue main, attempt 3\) succeeded/,
	'one log line for the success');
stop_worker($main, 10, 'the worker');

# ------------------------------------------------ concurrency and restart

my $span = write_script($dir, 'span.sh', <<"EOF");
start=\$(date +%s.%N)
sleep 1
echo "\$start \$(date +%s.%N)" > "$dir/span.\$GOODJOB_JOB_ID"
EOF
my $conc = start_worker('conc', '--queues', 'conc', '--concurrency', '4',
	'--handler', "Span=$span", '--log-format', 'json');
my @span_ids = map { enqueue('Span', '--queue', 'conc') } 1 .. 4;
is( poll_until($node, 
		"SELECT count(*) FROM goodjob.jobs WHERE queue_name = 'conc' AND state = 'succeeded'",
		'4', 10),
	'4',
	'four one-second jobs ran with --concurrency 4');
my ($last_start, $first_end) = (0, 9e99);
for my $jid (@span_ids)
{
	my ($s, $e) = split ' ', slurp_if_exists("$dir/span.$jid");
	$last_start = $s if defined $s && $s > $last_start;
	$first_end = $e if defined $e && $e < $first_end;
}
ok($last_start > 0 && $last_start < $first_end,
	'all four jobs ran at the same time (each started before any ended)');
like(slurp_if_exists(worker_log('conc')), qr/\{"time":"[^"]+","level":"info","worker":"[^"]+","event":"job","job_id":$span_ids[0],"job_class":"Span"/,
	'--log-format json writes one JSON object per job outcome');

# The server restarts under the running worker: it reconnects and carries on.
$node->restart;
my $after = enqueue('Span', '--queue', 'conc');
is(poll_until($node, "SELECT state FROM goodjob.jobs WHERE id = $after", 'succeeded', 20),
	'succeeded', 'the worker survives a server restart and runs new jobs');
like(slurp_if_exists(worker_log('conc')), qr/"msg":"work connection: lost the database connection/,
	'the worker logged the lost connection');
stop_worker($conc, 10, 'the worker after the restart');

# ------------------------------------------------------------ heartbeats

# A 2 s job under a 0.6 s lease survives lease reaping: the worker renews
# the lease every lease/3 while the job runs.
$id{beat} = enqueue('Beat', '--queue', 'beat');
my $beat = start_worker('beat', '--queues', 'beat', '--lease', '0.6',
	'--handler', 'Beat=sleep 2');
my $until = time + 10;
while (time < $until
	&& $node->safe_psql('postgres', "SELECT state FROM goodjob.jobs WHERE id = $id{beat}")
	ne 'succeeded')
{
	$node->safe_psql('postgres', 'SELECT goodjob.run_maintenance()');
	sleep 0.1;
}
is(job_row($id{beat}), 'succeeded|1|',
	'heartbeats keep the lease of a job that runs longer than its lease');
unlike(slurp_if_exists(worker_log('beat')), qr/WARNING|ERROR/, '... without a warning');
stop_worker($beat, 10, 'the heartbeat worker');

# ------------------------------------------------- SIGTERM loses nothing

$id{long} = enqueue('Long', '--queue', 'term');
$id{short} = enqueue('Short', '--queue', 'term');
my $term = start_worker('term', '--queues', 'term', '--concurrency', '2',
	'--grace', '2', '--handler', 'Long=sleep 30', '--handler', 'Short=sleep 1');
is( poll_until($node, 
		"SELECT count(*) FROM goodjob.jobs WHERE queue_name = 'term' AND state = 'running'",
		'2', 10),
	'2',
	'both jobs are running');
$t0 = time;
stop_worker($term, 15, 'the worker with running jobs');
my $took = time - $t0;
ok($took >= 1.5 && $took < 10, sprintf('it waited for the grace period (%.1f s)', $took));
is(job_row($id{short}), 'succeeded|1|', 'a job that finished within the grace period succeeded');
is(job_row($id{long}), 'queued|1|worker shutting down',
	'a job still running after the grace period was handed back');
is( $node->safe_psql('postgres',
		"SELECT scheduled_at <= now() FROM goodjob.jobs WHERE id = $id{long}"),
	't',
	'... to run again at once');
is($node->safe_psql('postgres', "SELECT count(*) FROM goodjob.jobs WHERE state = 'running'"),
	'0', 'no job is left running');

# ------------------------------------------------------------ batches

my ($rc, $out, $err);
if ($node->safe_psql('postgres',
		"SELECT to_regproc('goodjob.batch_create') IS NOT NULL AND to_regclass('goodjob.batch_progress') IS NOT NULL")
	eq 't')
{
	my $bid = $node->safe_psql('postgres',
		"SELECT goodjob.batch_create('worker test', on_success => 'BatchDone', callback_queue_name => 'batch')");
	enqueue('Part', '--queue', 'batch', '--batch', $bid) for 1 .. 3;
	$node->safe_psql('postgres', "SELECT goodjob.batch_enqueue($bid)");
	my $bw = start_worker('batch', '--queues', 'batch', '--concurrency', '2',
		'--handler', 'Part=cat > /dev/null', '--handler', 'BatchDone=:noop');
	($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'batch', 'wait', $bid, '--timeout', '20');
	is($rc, 0, 'batch wait exits 0 when the batch succeeded');
	like($out, qr/batch $bid succeeded/, 'batch wait says so');
	is( $node->safe_psql('postgres',
			"SELECT state FROM goodjob.jobs WHERE batch_callback_id = $bid"),
		'succeeded',
		'the batch callback was run by the same worker');
	($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'batch', 'show', $bid);
	is($rc, 0, 'batch show exits 0');
	like($out, qr/finished_at\s+\d{4}-/, 'batch show shows the finished batch');
	stop_worker($bw, 10, 'the batch worker');
}
else
{
	($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'batch', 'show', '1');
	is($rc, 1, 'batch show without batch support exits 1');
	like($err, qr/batch support is not installed/, '... saying why');
}

# ------------------------------------------------- the CLI and bad input

for my $cmd ([], ['work'], ['enqueue'], ['stats'], ['batch'], ['batch', 'wait'])
{
	($rc, $out, $err) = goodjob('', @$cmd, '--help');
	ok($rc == 0 && $out =~ /Usage/, "goodjob @$cmd --help prints usage");
}

($rc, $out, $err) = goodjob('', 'frobnicate');
ok($rc == 2 && $err =~ /unknown command "frobnicate"/, 'unknown command: clear message, exit 2');

($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'enqueue', 'Foo', '{"a": ');
ok($rc == 2 && $err =~ /malformed ARGS_JSON: .* at line 1, column \d+/,
	'malformed ARGS_JSON: clear message, exit 2');
($rc, $out, $err) = goodjob('{"from": "stdin"}', '--dsn', $dsn, 'enqueue', 'Foo', '-',
	'--queue', 'cli', '--priority', '5', '--in', '1 hour');
ok($rc == 0 && $out =~ /^(\d+)$/, 'enqueue prints the new id');
is( $node->safe_psql('postgres',
		"SELECT args::text, queue_name, priority, scheduled_at > now() + interval '50 minutes' FROM goodjob.jobs WHERE id = "
		  . ($out =~ /(\d+)/)[0]),
	'{"from": "stdin"}|cli|5|t',
	'... with the given args (from stdin), queue, priority and time');
($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'enqueue', 'Foo', '--batch', '999999');
ok($rc == 2 && $err =~ /batch 999999 does not exist/, 'an unknown batch: the server\'s message, exit 2');

($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'stats');
ok($rc == 0 && $out =~ /^QUEUE\s+QUEUED\s+SCHEDULED\s+RUNNING\s+RETRIED\s+DISCARDED_1H\s+OLDEST_WAIT$/m,
	'stats prints a table');
like($out, qr/^cli\s+0\s+1\s+0\s+0\s+0\s+-$/m, '... with a row per queue (a scheduled job)');
like($out, qr/^main\s+0\s+0\s+0\s+0\s+3\s+-$/m, '... counting the jobs discarded in the last hour');

($rc, $out, $err) = goodjob('', '--dsn', 'this is not a dsn', 'stats');
ok($rc == 2 && $err =~ /invalid connection string/, 'bad DSN: clear message, exit 2');

my $nowhere = "host=$dir/no-such-socket-dir port=1 dbname=postgres";
$t0 = time;
($rc, $out, $err) = goodjob('', '--dsn', $nowhere, 'stats');
$took = time - $t0;
ok($rc == 1 && $err =~ /cannot connect to the database.*retrying in/,
	'unreachable server: a one-shot command retries with a clear message, then exits 1');
ok($took >= 3 && $took < 15, sprintf('... backing off, not spinning (%.1f s)', $took));

my $lost = start_worker('lost', '--dsn', $nowhere, '--handler', 'X=:noop');
sleep 3;
ok(waitpid($lost, WNOHANG) == 0, 'work keeps retrying while the server is unreachable');
my @tries = (slurp_if_exists(worker_log('lost')) =~ /cannot connect to the database/g);
ok(@tries >= 4 && @tries <= 16,
	'... with backoff (' . scalar(@tries) . ' attempts by two connections in 3 s)');
stop_worker($lost, 10, 'a worker that never connected');

($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'work', '--handler', 'X=');
ok($rc == 2 && $err =~ /the command for class "X" is empty/, 'work --handler X=: clear message, exit 2');
($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'work');
ok($rc == 2 && $err =~ /no --handler given/, 'work without handlers: clear message, exit 2');
($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'work', '--handler', 'X=:noop', '--queues', '+a,,b');
ok($rc == 2 && $err =~ /invalid queue specification/, 'work with bad queue syntax: clear message, exit 2');
($rc, $out, $err) = goodjob('', '--dsn', $dsn, 'work', '--handler', 'X=:noop', '--concurrency', 'lots');
ok($rc == 2 && $err =~ /invalid value "lots" for --concurrency/, 'work with a bad number: clear message, exit 2');

$node->stop;
done_testing();
