# test/t/011_maintainer_restart.pl: the goodjob maintainer as a process.
#
# - One maintainer per database in goodjob.database_names, shown in
#   pg_stat_activity with backend_type 'goodjob maintainer', and sleeping
#   outside any transaction.
# - CREATE EXTENSION warns in a database no maintainer serves, and not in a
#   served one.
# - A served database without the extension: its maintainer runs its passes
#   quietly (no warning or error in the log) and starts working as soon as
#   the extension is created there; also after DROP EXTENSION and CREATE
#   EXTENSION again.
# - pg_terminate_backend on a maintainer: the postmaster starts a new one
#   (new pid), which catches up with the batches whose last jobs completed
#   while none ran: every callback exactly once. The maintainer of the other
#   database is not disturbed.
# - SIGKILL of a maintainer (a crash of the whole server, which then
#   restarts) right after the last jobs of batches completed: every
#   callback exactly once.
# - SIGHUP: goodjob.maintenance_interval changed by ALTER SYSTEM and
#   pg_reload_conf() reaches the running maintainer (same pid), which keeps
#   being woken by commits and runs its periodic passes at the new interval.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GoodjobBatchTest;

# restart_after_crash: the SIGKILL part needs the server to come back.
my $node = new_goodjob_node('maint', "restart_after_crash = on\n");
$node->start;

# The served databases must exist before the maintainers start.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('postgres', 'CREATE DATABASE unserved');
$node->append_conf('postgresql.conf', "goodjob.database_names = 'postgres, other'\n");
$node->restart;
my $log_offset = -s $node->logfile;

##
## Maintainers in pg_stat_activity
##
ok( $node->poll_query_until('postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity"
		  . " WHERE backend_type = 'goodjob maintainer'",
		'other,postgres'),
	'one goodjob maintainer per served database in pg_stat_activity');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'goodjob maintainer'"
		  . " AND application_name = 'goodjob maintainer' AND usesysid IS NOT NULL"),
	'2', 'the maintainers show their name as application_name and run as a user');
my $other_pid = maintainer_pid($node, 'other');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'goodjob maintainer'"
		  . " AND state = 'idle' AND xact_start IS NULL AND backend_xid IS NULL"
		  . " AND backend_xmin IS NULL"),
	'between passes the maintainers are idle outside any transaction, holding no snapshot');

##
## CREATE EXTENSION: a WARNING only where no maintainer serves
##
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION goodjob');
is($ret, 0, 'CREATE EXTENSION in postgres succeeds');
unlike($stderr, qr/WARNING/, 'no WARNING in a served database');

($ret, $stdout, $stderr) = $node->psql('unserved', 'CREATE EXTENSION goodjob');
is($ret, 0, 'CREATE EXTENSION in an unserved database succeeds');
like($stderr, qr/WARNING:  no goodjob maintainer serves database "unserved"/,
	'WARNING in a database no maintainer serves');
like($stderr, qr/HINT:  .*goodjob\.database_names/, '... with a hint naming goodjob.database_names');

##
## A served database without the extension: the maintainer waits quietly
##
# Every pass is a transaction in its database, so the maintainer's commits
# in "other" (where nothing else connects) show that it keeps running passes.
my $commits_sql =
  "SELECT xact_commit FROM pg_stat_database WHERE datname = 'other'";
my $commits = $node->safe_psql('postgres', $commits_sql);
ok( $node->poll_query_until('postgres',
		"SELECT ($commits_sql) >= $commits + 5"),
	'the maintainer of "other" keeps running passes without the extension');
is(maintainer_pid($node, 'other'), $other_pid,
	'... as the same process all along');
is(maintainer_log_problems($node, $log_offset), '',
	'... without any warning or error in the log');

# Creates an armed batch with $n jobs in queue 'work' of $db, and returns
# (batch id, job ids).
sub make_batch
{
	my ($db, $name, $n) = @_;
	my $batch = $node->safe_psql($db,
		"SELECT goodjob.batch_create('$name', on_finish => 'Finish',"
		  . " on_success => 'Success', on_discard => 'Discard',"
		  . " callback_queue_name => 'callbacks', callback_priority => 3)");
	my $ids = $node->safe_psql($db,
		"SELECT goodjob.bulk_enqueue('{Work}',"
		  . " (SELECT array_agg(jsonb_build_object('batch', '$name', 'n', i))"
		  . "  FROM generate_series(1, $n) i),"
		  . " '{work}', batch_id => $batch)");
	$node->safe_psql($db, "SELECT goodjob.batch_enqueue($batch)");
	return ($batch, split(/\n/, $ids));
}

# Claims every queued job of queue 'work' in $db (with a long lease), so that
# the test can then complete exactly the jobs it picks, by id.
sub claim_all
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM goodjob.claim('work', 'test-worker', 10000, '1 hour')");
}

sub complete_jobs
{
	my ($db, @ids) = @_;
	return $node->safe_psql($db,
		"SELECT goodjob.complete(ARRAY[" . join(',', @ids) . "]::bigint[],"
		  . " array_fill(1, ARRAY[" . scalar(@ids) . "]))");
}

sub finished_batches
{
	my ($db, @batches) = @_;
	return "SELECT count(*) = " . scalar(@batches)
	  . " FROM goodjob.batches WHERE jobs_finished_at IS NOT NULL AND id IN ("
	  . join(',', @batches) . ")";
}

$node->safe_psql('other', 'CREATE EXTENSION goodjob');
my ($other_batch, @other_jobs) = make_batch('other', 'other-1', 2);
is(claim_all('other'), '2', 'other: jobs claimed');
$node->safe_psql('other',
	"SELECT goodjob.fail($other_jobs[0], 1, 'broken', retry => false)");
is(complete_jobs('other', $other_jobs[1]), '1', 'other: a job discarded, one completed');
ok($node->poll_query_until('other', finished_batches('other', $other_batch)),
	'other: the maintainer finishes the batch once the extension exists');
is(callback_violations($node, 'other'), '',
	'other: exactly on_discard and on_finish');
is(maintainer_pid($node, 'other'), $other_pid, 'other: the same maintainer did it');

# Dropping the extension under a running maintainer, then creating it again.
$node->safe_psql('other', 'DROP EXTENSION goodjob');
$commits = $node->safe_psql('postgres', $commits_sql);
ok( $node->poll_query_until('postgres', "SELECT ($commits_sql) >= $commits + 3"),
	'other: passes go on after DROP EXTENSION');
$node->safe_psql('other', 'CREATE EXTENSION goodjob');
($other_batch, @other_jobs) = make_batch('other', 'other-2', 3);
is(claim_all('other'), '3', 'other: jobs claimed after CREATE EXTENSION again');
is(complete_jobs('other', @other_jobs), '3', 'other: jobs completed');
ok($node->poll_query_until('other', finished_batches('other', $other_batch)),
	'other: the maintainer finishes a batch after DROP and CREATE EXTENSION');
is(callback_violations($node, 'other'), '',
	'other: exactly on_success and on_finish');
is(maintainer_pid($node, 'other'), $other_pid, 'other: still the same maintainer');
is(maintainer_log_problems($node, $log_offset), '',
	'no warning or error from the maintainers so far');

##
## pg_terminate_backend: a new maintainer catches up
##
my (@batch, %jobs);
for my $i (1 .. 6)
{
	my ($b, @ids) = make_batch('postgres', "b$i", 3);
	push @batch, $b;
	$jobs{$b} = \@ids;
}
is(claim_all('postgres'), '18', 'postgres: 18 jobs of 6 batches claimed');
# Every job but the last of each batch; batch 2 discards one.
$node->safe_psql('postgres',
	"SELECT goodjob.fail($jobs{$batch[1]}[0], 1, 'broken', retry => false)");
is( complete_jobs('postgres',
		map { $_ == $batch[1] ? $jobs{$_}[1] : @{ $jobs{$_} }[ 0 .. 1 ] } @batch),
	'11', 'postgres: all jobs but the last of each batch done');
ok($node->poll_query_until('postgres',
		"SELECT discarded_at IS NOT NULL FROM goodjob.batches WHERE id = $batch[1]"),
	'postgres: the discard is noticed');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batches WHERE jobs_finished_at IS NOT NULL"),
	'0', 'postgres: no batch has finished yet');

my $pid = maintainer_pid($node, 'postgres');
like($pid, qr/^\d+$/, 'postgres: the maintainer runs');
my $terminate_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"),
	't', 'pg_terminate_backend on the maintainer');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
	'the terminated maintainer is gone');

# While no maintainer may be running: the last jobs of four batches.
is( complete_jobs('postgres', map { $jobs{$_}[2] } @batch[ 0 .. 3 ]),
	'4', 'postgres: the last jobs of four batches completed while the maintainer was down');
note('maintainer pid right after the completions: "'
	  . maintainer_pid($node, 'postgres') . '"');

ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'goodjob maintainer'"
		  . " AND datname = 'postgres' AND pid <> $pid"),
	'the postmaster starts a new maintainer');
my $new_pid = maintainer_pid($node, 'postgres');
isnt($new_pid, $pid, 'the new maintainer has a new pid');
ok($node->poll_query_until('postgres', finished_batches('postgres', @batch[ 0 .. 3 ])),
	'the new maintainer catches up with the four batches');

is( complete_jobs('postgres', map { $jobs{$_}[2] } @batch[ 4 .. 5 ]),
	'2', 'postgres: the last jobs of the other two batches completed');
ok($node->poll_query_until('postgres', finished_batches('postgres', @batch)),
	'the new maintainer finishes them too');
is(callback_violations($node, 'postgres'), '',
	'postgres: every batch has exactly the callbacks its outcome calls for');
is(maintainer_pid($node, 'other'), $other_pid,
	'the maintainer of "other" was not disturbed');
is( maintainer_log_problems(
		$node, $terminate_offset,
		qr/FATAL:  terminating background worker "goodjob maintainer" due to administrator command/
	),
	'',
	'the maintainers logged nothing but the termination');
like(slurp_file($node->logfile, $terminate_offset),
	qr/\[$new_pid\] \[goodjob maintainer\] LOG:  goodjob maintainer started for database "postgres"/,
	'the new maintainer logged its start');

##
## SIGKILL of the maintainer: the server restarts, callbacks exactly once
##
my @kill_batch;
for my $i (1 .. 4)
{
	my ($b, @ids) = make_batch('postgres', "k$i", 2);
	push @kill_batch, $b;
	$jobs{$b} = \@ids;
}
is(claim_all('postgres'), '8', 'postgres: 8 jobs of 4 more batches claimed');
is(complete_jobs('postgres', map { $jobs{$_}[0] } @kill_batch),
	'4', 'postgres: the first job of each completed');
$pid = maintainer_pid($node, 'postgres');
# The last jobs complete, and the maintainer is killed right away: before,
# during or after the pass that finishes these batches.
is(complete_jobs('postgres', map { $jobs{$_}[1] } @kill_batch),
	'4', 'postgres: the last jobs completed');
is(kill('KILL', $pid), 1, 'SIGKILL to the maintainer');

ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'goodjob maintainer'"
		  . " AND pid <> $pid"),
	'after the crash restart both maintainers run again');
ok($node->poll_query_until('postgres', finished_batches('postgres', @kill_batch)),
	'the batches of the killed pass finish');
is(callback_violations($node, 'postgres'), '',
	'postgres: still exactly the callbacks every outcome calls for');
is(callback_violations($node, 'other'), '',
	'other: still exactly the callbacks every outcome calls for');
$other_pid = maintainer_pid($node, 'other');

##
## SIGHUP: the interval changes under the running maintainer
##
$pid = maintainer_pid($node, 'postgres');
my ($hup_batch, @hup_jobs) = make_batch('postgres', 'hup', 2);
is(claim_all('postgres'), '2', 'postgres: jobs of one more batch claimed');
is(complete_jobs('postgres', $hup_jobs[0]), '1', 'postgres: its first job completed');

my $hup_offset = -s $node->logfile;
$node->safe_psql('postgres',
	"ALTER SYSTEM SET goodjob.maintenance_interval = '1h'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$node->wait_for_log(
	qr/parameter "goodjob.maintenance_interval" changed to "1h"/, $hup_offset);
is($node->safe_psql('postgres', 'SHOW goodjob.maintenance_interval'),
	'1h', 'the new interval is in effect after the reload');

# With an hour between periodic passes, only the wake-up at commit can
# finish this batch within the poll's timeout.
is(complete_jobs('postgres', $hup_jobs[1]), '1', 'postgres: the last job completed');
ok($node->poll_query_until('postgres', finished_batches('postgres', $hup_batch)),
	'the maintainer, woken by the commit, finishes the batch after the reload');
is(maintainer_pid($node, 'postgres'), $pid,
	'the same maintainer process after SIGHUP');

# Back to a short interval: a lease expiry wakes nobody, so only periodic
# passes at the new interval can reap it within the poll's timeout.
$hup_offset = -s $node->logfile;
$node->safe_psql('postgres', "ALTER SYSTEM SET goodjob.maintenance_interval = '100ms'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$node->wait_for_log(
	qr/parameter "goodjob.maintenance_interval" changed to "100ms"/, $hup_offset);
my $lease_job = $node->safe_psql('postgres', "SELECT goodjob.enqueue('Lease', queue_name => 'lease')");
is( $node->safe_psql('postgres',
		"SELECT id FROM goodjob.claim('lease', 'vanishing', 1, '300 milliseconds')"),
	$lease_job, 'a job claimed with a short lease after the interval went back down');
ok( $node->poll_query_until('postgres',
		"SELECT state = 'queued' AND error = 'lease expired' FROM goodjob.jobs WHERE id = $lease_job"),
	'a periodic pass at the new interval reaps the expired lease');
is(maintainer_pid($node, 'postgres'), $pid,
	'still the same maintainer process');
is(maintainer_pid($node, 'other'), $other_pid,
	'the maintainer of "other" survived the reloads too');
is(callback_violations($node, 'postgres'), '',
	'postgres: every batch has exactly the callbacks its outcome calls for');
is(maintainer_log_problems($node, $hup_offset), '',
	'no warning or error from the maintainers after the reloads');

$node->stop;
done_testing();
