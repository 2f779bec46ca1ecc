# test/t/101_worker_memory.pl: the reference worker does not leak. Under
# valgrind --leak-check=full it runs 10,000 jobs and stops on SIGTERM with no
# definitely lost block; without valgrind its resident memory stays flat
# over 100,000 jobs. The binary comes from $GOODJOB_BIN, else
# $TESTDIR/client/goodjob; valgrind must be installed (test/run.sh does).

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $bin = $ENV{GOODJOB_BIN} // "$ENV{TESTDIR}/client/goodjob";
die "goodjob client not found at $bin" unless -x $bin;
my ($valgrind) = grep { -x } map { "$_/valgrind" } split /:/, $ENV{PATH};
die "valgrind is not installed (test/run.sh installs it)" unless $valgrind;

my $node = PostgreSQL::Test::Cluster->new('worker_memory');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'goodjob'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');
my $dsn = $node->connstr('postgres');
my $logdir = $PostgreSQL::Test::Utils::log_path;

# Enqueues $n Noop jobs in one call.
sub enqueue_noops
{
	my ($n) = @_;
	$node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.bulk_enqueue('{Noop}', array_fill('{}'::jsonb, ARRAY[$n]))"
	);
}

sub unfinished
{
	return $node->safe_psql('postgres', 'SELECT count(*) FROM goodjob.active_jobs');
}

sub succeeded
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.finished_jobs WHERE state = 'succeeded'");
}

# Starts @cmd with stdout and stderr to $log; returns the IPC::Run harness.
sub start_logged
{
	my ($log, @cmd) = @_;
	return IPC::Run::start(\@cmd, '<', \undef, '>', $log, '2>&1');
}

# Waits up to $timeout s for no unfinished job; returns whether it got there.
sub wait_drained
{
	my ($timeout) = @_;
	my $end = time + $timeout;
	while (time < $end)
	{
		return 1 if unfinished() == 0;
		sleep 0.2;
	}
	return 0;
}

# Sends SIGTERM to the harness' process and waits for it; returns its exit code.
sub stop_harness
{
	my ($h) = @_;
	$h->signal('TERM');
	eval { $h->finish; };
	return $h->result(0);
}

# ------------------------------------------------- valgrind over 10k jobs
enqueue_noops(10_000);
my $vglog = "$logdir/101_valgrind.log";
my $h = start_logged(
	"$logdir/101_worker_valgrind.log", $valgrind,
	'--leak-check=full', '--show-leak-kinds=definite',
	'--errors-for-leak-kinds=definite', '--error-exitcode=99',
	"--log-file=$vglog", $bin, 'work', '--dsn', $dsn,
	'--handler', 'Noop=:noop', '--concurrency', '4');
ok(wait_drained(300), 'the worker under valgrind ran 10,000 jobs');
my $rc = stop_harness($h);
is($rc, 0, 'the worker under valgrind stopped cleanly on SIGTERM (exit 0, no valgrind error)');
is(succeeded(), 10_000, 'all 10,000 jobs succeeded');
my $report = slurp_file($vglog);
like($report, qr/ERROR SUMMARY: 0 errors/, 'valgrind found no memory errors');
ok($report !~ /definitely lost: [1-9]/, 'valgrind found no definitely lost block')
  or diag($report);
like($report, qr/All heap blocks were freed|definitely lost: 0 bytes|LEAK SUMMARY/,
	'valgrind wrote its leak summary');

# --------------------------------------- resident memory over 100k jobs
$node->safe_psql('postgres', 'TRUNCATE goodjob.finished_jobs');
enqueue_noops(100_000);
$h = start_logged("$logdir/101_worker_rss.log",
	$bin, 'work', '--dsn', $dsn, '--handler', 'Noop=:noop',
	'--concurrency', '4');
my $pid = $h->{KIDS}[0]{PID};

# VmRSS of the worker in kB
sub rss
{
	my $status = slurp_file("/proc/$pid/status");
	return $status =~ /^VmRSS:\s+(\d+)\s+kB/m ? $1 : die "no VmRSS for $pid";
}

# (jobs finished, kB resident) every 100 ms until the queue is empty
my @samples;
my $end = time + 300;
while (time < $end)
{
	my $left = unfinished();
	push @samples, [ 100_000 - $left, rss() ];
	last if $left == 0;
	sleep 0.1;
}
ok($samples[-1][0] == 100_000, 'the worker ran 100,000 jobs');
my ($warm) = grep { $_->[0] >= 10_000 } @samples;
my $peak = 0;
$peak = $_->[1] > $peak ? $_->[1] : $peak for @samples;
note(sprintf('RSS at %d jobs: %d kB; at the end: %d kB; peak: %d kB; %d samples',
		$warm->[0], $warm->[1], $samples[-1][1], $peak, scalar @samples));
# Flat: after the first 10,000 jobs, less than 1 MB more, however many jobs
# follow (a leak of 16 bytes a job would be 1.4 MB here).
cmp_ok($peak - $warm->[1], '<', 1024,
	'resident memory grows by less than 1 MB from 10,000 to 100,000 jobs');
is(stop_harness($h), 0, 'the worker stopped cleanly');
is(succeeded(), 100_000, 'all 100,000 jobs succeeded');

$node->stop;
done_testing();
