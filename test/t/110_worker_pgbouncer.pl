# test/t/110_worker_pgbouncer.pl: the reference worker and CLI through
# PgBouncer in transaction pooling mode (Debian's pgbouncer), where a
# client's consecutive transactions may run on different server connections
# and session state (named prepared statements, SET, temporary objects) is
# lost or leaks between clients.
#
# Two passes on a mix of jobs (no-op, a handler that fails twice then
# succeeds, a batch whose callbacks the same worker runs):
#   1. work connections through PgBouncer, LISTEN on a direct connection
#      (--listen-dsn), two workers at once so that their transactions share
#      the pool's server connections;
#   2. everything through PgBouncer, --no-listen (polling only).
# Producers (goodjob enqueue, batch_create, bulk_enqueue) and goodjob stats
# go through PgBouncer too. Skipped when /usr/sbin/pgbouncer is missing
# (scripts/common.sh installs it).

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
use GoodjobPgBouncer;
use GoodjobWorkerTest;

plan skip_all =>
  'pgbouncer not found (apt-get install pgbouncer; test/run.sh installs it)'
  unless pgbouncer_binary();

my $bin = $ENV{GOODJOB_BIN} // "$ENV{TESTDIR}/client/goodjob";
die "goodjob client not found at $bin (build it with: make -C client)"
  unless -x $bin;

my $node = PostgreSQL::Test::Cluster->new('bouncer');
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
my $direct = $node->connstr('postgres');
my $user = $node->safe_psql('postgres', 'SELECT current_user');

my $dir = PostgreSQL::Test::Utils::tempdir;
my $logdir = $PostgreSQL::Test::Utils::log_path;
sub worker_log { return "$logdir/110_worker_pgbouncer_$_[0].log"; }

# ------------------------------------------------------------- PgBouncer

my $pool = start_pgbouncer($node, '110_worker_pgbouncer',
	admin_users => $user,
	max_client_conn => 100,
	default_pool_size => 4,
	server_lifetime => 3600,
	ignore_startup_parameters => 'extra_float_digits');
my ($sockdir, $bport, $bouncer_log) = @$pool{qw(sockdir port log)};

my @workers;
END
{
	local $?;
	kill 'KILL', $_ for @workers;
	stop_pgbouncer($pool);
}

my $bouncer = "host=$sockdir port=$bport dbname=postgres user=$user";

# Runs $sql with psql on $connstr; returns (exit status, stdout, stderr).
sub psql_on
{
	my ($connstr, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ $node->installed_command('psql'), '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $connstr, '-c', $sql ],
		'<', \'', '>', \$out, '2>', \$err,
		IPC::Run::timeout(30));
	chomp $out;
	return ($? >> 8, $out, $err);
}

# Runs $sql through PgBouncer; dies on error.
sub bpsql
{
	my ($sql) = @_;
	my ($rc, $out, $err) = psql_on($bouncer, $sql);
	die "psql through PgBouncer failed ($rc): $err\nSQL: $sql" if $rc != 0;
	return $out;
}

my $up;
for (1 .. 100)
{
	my ($rc) = psql_on($bouncer, 'SELECT 1');
	if ($rc == 0) { $up = 1; last; }
	sleep 0.1;
}
ok($up, 'PgBouncer (transaction pooling) is up in front of the server')
  or BAIL_OUT('PgBouncer did not start; see ' . $bouncer_log);

# ---------------------------------------------------------------- helpers

# Runs goodjob with @args (stdin $in); returns (exit status, stdout, stderr).
sub goodjob { return run_goodjob($bin, @_); }

# Enqueues a job with goodjob enqueue through PgBouncer; returns its id.
sub enqueue
{
	my (@args) = @_;
	my ($rc, $out, $err) = goodjob('', '--dsn', $bouncer, 'enqueue', @args);
	die "goodjob enqueue @args through PgBouncer failed ($rc): $err" if $rc != 0;
	chomp $out;
	return $out;
}

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
		exec($bin, 'work', '--name', $name, '--log-format', 'json', @args)
		  or POSIX::_exit(127);
	}
	push @workers, $pid;
	return $pid;
}

# Sends SIGTERM and waits up to $timeout s for a clean exit.
sub stop_worker
{
	my ($pid, $timeout, $what) = @_;
	kill 'TERM', $pid;
	my $status = wait_exit($pid, $timeout);
	@workers = grep { $_ != $pid } @workers;
	ok(defined $status && $status == 0,
		"$what exits with status 0 on SIGTERM within $timeout s");
}


# The JSON log lines of a worker, as hashes of their top-level string and
# number fields (enough for level, event, outcome, job_class, msg).
sub log_lines
{
	my ($name) = @_;
	my @lines;
	for my $line (split /\n/, slurp_if_exists(worker_log($name)))
	{
		my %h;
		while ($line =~ /"(\w+)":("((?:[^"\\]|\\.)*)"|(-?[\d.]+)|null)/g)
		{
			$h{$1} = defined $3 ? $3 : $4;
		}
		$h{_line} = $line;
		push @lines, \%h;
	}
	return @lines;
}

# Checks a worker's log: no error lines, no trace of lost session state
# (prepared statements, SET, temporary objects), and warnings only for the
# expected failed attempts of the flaky job.
sub check_log
{
	my ($name, $what) = @_;
	my $text = slurp_if_exists(worker_log($name));
	my @lines = log_lines($name);
	my @errors = grep { ($_->{level} // '') eq 'error' } @lines;
	is(scalar(@errors), 0, "$what logged no errors")
	  or diag(join("\n", map { $_->{_line} } @errors));
	my @bad_warnings = grep {
		($_->{level} // '') eq 'warning'
		  && !(($_->{job_class} // '') eq 'Flaky'
			&& ($_->{outcome} // '') eq 'failed (will retry)')
	} @lines;
	is(scalar(@bad_warnings), 0,
		"$what warned only about the flaky job's failed attempts")
	  or diag(join("\n", map { $_->{_line} } @bad_warnings));
	unlike($text,
		qr/prepared statement|portal|temporary table|DISCARD|current transaction is aborted|unsupported (startup )?parameter|server conn crashed|query_wait_timeout|no more connections/i,
		"$what shows no trace of prepared statements or session state lost in the pool");
}

# The attempt-counting flaky handler: fails attempts 1 and 2.
my $flaky = write_script($dir, 'flaky.sh', <<'EOF');
cat > /dev/null
if [ "$GOODJOB_ATTEMPT" -lt 3 ]; then echo "flaky failure $GOODJOB_ATTEMPT" >&2; exit 1; fi
EOF

# A batch callback: records "class batch event" (args arrive on stdin).
my $callback = write_script($dir, 'callback.sh', <<"EOF");
args=\$(cat)
echo "\$GOODJOB_JOB_CLASS \$GOODJOB_BATCH_CALLBACK_ID \$args" >> "$dir/callbacks.\$GOODJOB_BATCH_CALLBACK_ID"
EOF

# Enqueues one pass's jobs through PgBouncer: $n no-op jobs with
# bulk_enqueue, two with goodjob enqueue, a flaky job, and a batch of
# $parts no-op jobs with on_success and on_finish callbacks in queue $q.
# Returns (flaky job id, batch id).
sub enqueue_mix
{
	my ($q, $n, $parts) = @_;
	bpsql("SELECT count(*) FROM goodjob.bulk_enqueue('{Noop}', "
		  . "(SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, $n) i), "
		  . "'{$q}')");
	enqueue('Noop', '{"via": "cli"}', '--queue', $q) for 1 .. 2;
	my $flaky_id = enqueue('Flaky', '{"n": 1}', '--queue', $q);
	my $bid = bpsql(
		"SELECT goodjob.batch_create('pgbouncer $q', on_success => 'BatchOk', "
		  . "on_finish => 'BatchDone', callback_queue_name => '$q')");
	bpsql("SELECT count(*) FROM goodjob.bulk_enqueue('{Part}', "
		  . "(SELECT array_agg(jsonb_build_object('part', i)) FROM generate_series(1, $parts) i), "
		  . "'{$q}', batch_id => $bid)");
	bpsql("SELECT goodjob.batch_enqueue($bid)");
	return ($flaky_id, $bid);
}

# Asserts the outcome of one pass in queue $q, worked by worker $name.
sub check_pass
{
	my ($q, $name, $n, $parts, $flaky_id, $bid, $what) = @_;
	my $total = $n + 2 + 1 + $parts + 2;
	is( poll_until($node, 
			"SELECT count(*) FROM goodjob.jobs WHERE queue_name = '$q' AND state = 'succeeded'",
			$total, 20),
		$total,
		"$what: all $total jobs (no-op, flaky, batch parts, 2 callbacks) succeeded");
	is( $node->safe_psql('postgres',
			"SELECT state || ' ' || attempts FROM goodjob.jobs WHERE id = $flaky_id"),
		'succeeded 3',
		"$what: the handler that fails twice then succeeds ends succeeded with 3 attempts");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM goodjob.jobs WHERE queue_name = '$q' AND id <> $flaky_id AND attempts <> 1"),
		'0',
		"$what: every other job took exactly one attempt");
	is( $node->safe_psql('postgres',
			"SELECT string_agg(job_class || ' ' || (args->>'event') || ' ' || state || ' ' || locked_by, ', ' ORDER BY job_class) "
			  . "FROM goodjob.jobs WHERE batch_callback_id = $bid"),
		"BatchDone finish succeeded $name, BatchOk success succeeded $name",
		"$what: the batch's on_success and on_finish callbacks were run by the same worker");
	is(join('', sort split /^/m, slurp_if_exists("$dir/callbacks.$bid")),
		qq{BatchDone $bid {"event": "finish", "batch_id": $bid}\n}
		  . qq{BatchOk $bid {"event": "success", "batch_id": $bid}\n},
		"$what: the callback commands got GOODJOB_BATCH_CALLBACK_ID and their args");
	is( poll_until($node, 
			"SELECT finished_at IS NOT NULL AND discarded_at IS NULL FROM goodjob.batches WHERE id = $bid",
			't', 10),
		't',
		"$what: the batch finished without discards");
}

# ----------------------------------- pass 1: LISTEN direct, work via PgBouncer

my ($n, $parts) = (200, 5);
my $wa = start_worker('bouncer-a', '--dsn', $bouncer, '--listen-dsn', $direct,
	'--queues', 'main', '--concurrency', '4', '--poll-interval', '0.5',
	'--handler', 'Noop=:noop', '--handler', "Flaky=$flaky",
	'--handler', 'Part=cat > /dev/null',
	'--handler', "BatchOk=$callback", '--handler', "BatchDone=$callback");
# A second worker on another queue, so that two clients' transactions share
# the pool's server connections.
my $wb = start_worker('bouncer-b', '--dsn', $bouncer, '--listen-dsn', $direct,
	'--queues', 'other', '--concurrency', '4', '--poll-interval', '0.5',
	'--handler', 'Noop=:noop', '--handler', "Flaky=$flaky",
	'--handler', 'Part=:noop',
	'--handler', "BatchOk=$callback", '--handler', "BatchDone=$callback");
# both workers listen before the jobs come
poll_until($node, 
	"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN goodjob'", '2', 10);

my ($flaky_a, $bid_a) = enqueue_mix('main', $n, $parts);
my ($flaky_b, $bid_b) = enqueue_mix('other', $n, $parts);
check_pass('main', 'bouncer-a', $n, $parts, $flaky_a, $bid_a,
	'through PgBouncer, LISTEN direct');
check_pass('other', 'bouncer-b', $n, $parts, $flaky_b, $bid_b,
	'... the second worker');

# goodjob stats through PgBouncer, on queues no worker serves: two jobs
# scheduled for later, one ready.
enqueue('Later', '--queue', 'later', '--in', '1 hour') for 1 .. 2;
enqueue('Idle', '--queue', 'idle');
my ($rc, $out, $err) = goodjob('', '--dsn', $bouncer, 'stats');
ok($rc == 0 && $out =~ /^QUEUE\s+QUEUED\s+SCHEDULED\s+RUNNING\s+RETRIED\s+DISCARDED_1H\s+OLDEST_WAIT$/m,
	'goodjob stats through PgBouncer prints its table')
  or diag("exit $rc: $err");
like($out, qr/^later\s+0\s+2\s+0\s+0\s+0\s+-$/m, '... with the scheduled jobs');
like($out, qr/^idle\s+1\s+0\s+0\s+0\s+0\s+\d+s$/m, '... and the waiting one');
($rc, $out, $err) = goodjob('', '--dsn', $bouncer, 'stats', '--json');
like($out, qr/\{"queue": "later", "queued": 0, "scheduled": 2, "running": 0/,
	'goodjob stats --json through PgBouncer')
  or diag("exit $rc: $err");

stop_worker($wa, 10, 'worker a (through PgBouncer)');
stop_worker($wb, 10, 'worker b (through PgBouncer)');
check_log('bouncer-a', 'worker a');
check_log('bouncer-b', 'worker b');

# ------------------------------------ pass 2: --no-listen, all via PgBouncer

my $wc = start_worker('bouncer-c', '--dsn', $bouncer, '--no-listen',
	'--queues', 'poll', '--concurrency', '4', '--poll-interval', '0.2',
	'--handler', 'Noop=:noop', '--handler', "Flaky=$flaky",
	'--handler', 'Part=cat > /dev/null',
	'--handler', "BatchOk=$callback", '--handler', "BatchDone=$callback");
my ($flaky_c, $bid_c) = enqueue_mix('poll', $n, $parts);
check_pass('poll', 'bouncer-c', $n, $parts, $flaky_c, $bid_c,
	'through PgBouncer only, --no-listen');
stop_worker($wc, 10, 'worker c (--no-listen)');
check_log('bouncer-c', 'worker c');
like(slurp_if_exists(worker_log('bouncer-c')), qr/not listening/, '... which did not LISTEN');

# ---------------------------------------------------------- the aftermath

is($node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE state = 'running'"),
	'0', 'nothing is left running');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE queue_name IN ('main', 'other', 'poll') AND state <> 'succeeded'"),
	'0', 'nothing the workers served is left queued or discarded');

# The traffic really went through the pool: its server connections were
# shared (fewer than its clients) and it counted the transactions (a busy
# worker completes and claims in one statement, so there are far fewer
# transactions than jobs; dozens, not none).
($rc, $out, $err) = psql_on("host=$sockdir port=$bport dbname=pgbouncer user=$user",
	'SHOW STATS');
my ($xacts) = $out =~ /^postgres\|(\d+)\|/m;
ok(defined $xacts && $xacts > 30,
	'PgBouncer counted the transactions (' . ($xacts // 'none') . ')')
  or diag("SHOW STATS: exit $rc: $out $err");
unlike(slurp_if_exists($bouncer_log), qr/prepared statement|unsupported startup parameter/i,
	'PgBouncer logged no prepared-statement or startup-parameter trouble');

stop_pgbouncer($pool);
$node->stop;
done_testing();
