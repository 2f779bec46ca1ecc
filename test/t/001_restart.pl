# test/t/001_restart.pl: jobs in every state survive a server restart, both a
# clean one (fast shutdown) and a crash-like one (immediate shutdown, then
# crash recovery), with their state, attempts and whole rows unchanged; a
# running job's lease still holds afterwards.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'goodjob'");
$node->start;

like($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	qr/\bgoodjob\b/, 'goodjob is in shared_preload_libraries');

$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');

# One job per final state, each in its own queue so that claims are exact.
my %id;
for my $role (qw(running succeeded discarded queued))
{
	$id{$role} = $node->safe_psql('postgres',
		"SELECT goodjob.enqueue('RestartJob', '{\"role\": \"$role\"}', 'q_$role')");
	like($id{$role}, qr/^\d+$/, "enqueued the job that ends $role");
}

# A long lease, so that nothing can expire while the test runs.
is( $node->safe_psql('postgres',
		"SELECT id FROM goodjob.claim('q_running', 'worker-1', 1, '1 hour')"),
	$id{running},
	'claimed the job that stays running');
is( $node->safe_psql('postgres',
		"SELECT id FROM goodjob.claim('q_succeeded', 'worker-1', 1, '1 hour')"),
	$id{succeeded},
	'claimed the job that succeeds');
is( $node->safe_psql('postgres',
		"SELECT id FROM goodjob.claim('q_discarded', 'worker-1', 1, '1 hour')"),
	$id{discarded},
	'claimed the job that is discarded');

is($node->safe_psql('postgres', "SELECT goodjob.complete($id{succeeded}, 1)"),
	't', 'complete() succeeds');
is( $node->safe_psql('postgres',
		"SELECT goodjob.fail($id{discarded}, 1, 'boom', retry => false)"),
	'discarded',
	'fail(retry => false) discards');

my %expected = (
	running => 'running|1',
	succeeded => 'succeeded|1',
	discarded => 'discarded|1',
	queued => 'queued|0');

# Every column of every job, as text, in id order.
my $rows_sql = 'SELECT j::text FROM goodjob.jobs AS j ORDER BY j.id';

sub check_jobs
{
	my ($when) = @_;
	for my $role (sort keys %expected)
	{
		is( $node->safe_psql('postgres',
				"SELECT state, attempts FROM goodjob.jobs WHERE id = $id{$role}"),
			$expected{$role},
			"$when: the $role job has the expected state and attempts");
	}
	return $node->safe_psql('postgres', $rows_sql);
}

my $before = check_jobs('before restart');
my @rows = split /\n/, $before;
is(scalar @rows, 4, 'four jobs before restart');

$node->restart;    # pg_ctl restart, fast shutdown
is(check_jobs('after fast restart'), $before,
	'after fast restart: goodjob.jobs rows are unchanged');

$node->stop('immediate');
$node->start;
is(check_jobs('after immediate restart'), $before,
	'after immediate restart: goodjob.jobs rows are unchanged');

like($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	qr/\bgoodjob\b/, 'goodjob is still preloaded after the restarts');

# The running job's worker still holds its lease: nobody else can claim it,
# and its holder can still complete it.
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.claim('q_running', 'worker-2', 1, '1 hour')"),
	'0',
	'the running job cannot be claimed by another worker after the restarts');
is($node->safe_psql('postgres', "SELECT goodjob.complete($id{running}, 1)"),
	't', 'the running job can still be completed by its holder');

$node->stop;
done_testing();
