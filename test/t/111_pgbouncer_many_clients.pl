# test/t/111_pgbouncer_many_clients.pl: 500 worker connections through
# PgBouncer in transaction pooling mode onto 20 server connections. Each
# client claims and completes jobs in separate transactions, so consecutive
# statements of one client run on different server connections; goodjob
# keeps no session state, so this must work with no error at all.
# Skipped when /usr/sbin/pgbouncer is missing (scripts/common.sh installs it).

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use GoodjobPgBouncer;

plan skip_all =>
  'pgbouncer not found (apt-get install pgbouncer; test/run.sh installs it)'
  unless pgbouncer_binary();

my $clients = 500;
my $per_client = 20;
my $pool = 20;

my $node = PostgreSQL::Test::Cluster->new('many');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'goodjob'
max_connections = 60
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');
my $user = $node->safe_psql('postgres', 'SELECT current_user');

# more jobs than the clients will take, so no claim ever comes back empty
my $jobs = $clients * $per_client + 2000;
$node->safe_psql('postgres',
	"SELECT count(*) FROM goodjob.bulk_enqueue('{Many}', array_fill('{}'::jsonb, ARRAY[$jobs]), '{many}')");

my $dir = PostgreSQL::Test::Utils::tempdir;
my $bouncer = start_pgbouncer($node, '111_pgbouncer_many_clients',
	max_client_conn => 600,
	default_pool_size => $pool);
my ($sockdir, $bport) = @$bouncer{qw(sockdir port)};
END { stop_pgbouncer($bouncer); }
for (1 .. 100)
{
	last if -S "$sockdir/.s.PGSQL.$bport";
	sleep 0.1;
}
ok(-S "$sockdir/.s.PGSQL.$bport", 'pgbouncer listens');

# a worker's loop, one transaction per statement
open(my $script, '>', "$dir/worker.sql") or die "$dir/worker.sql: $!";
print $script <<'SQL';
SELECT id, attempts FROM goodjob.claim('many', 'pgbench', 1, '5 minutes') \gset
SELECT goodjob.complete(:id, :attempts) AS completed \gset
\if :completed
\else
SELECT 1 / 0 AS a_completion_was_refused;
\endif
SQL
close $script;

my ($stdout, $stderr) = ('', '');
my $ok = IPC::Run::run(
	[
		'pgbench', '-n', '-h', $sockdir, '-p', $bport, '-U', $user,
		'-c', $clients, '-j', 4, '-t', $per_client, '-f', "$dir/worker.sql",
		'postgres'
	],
	'>', \$stdout, '2>', \$stderr,
	IPC::Run::timeout(180));
ok($ok, "pgbench with $clients clients through pgbouncer exits 0")
  or diag("stdout:\n$stdout\nstderr:\n$stderr");
my $expected = $clients * $per_client;
like($stdout, qr/number of transactions actually processed: $expected\/$expected/,
	"all $expected claim-and-complete loops ran");
like($stdout, qr/number of failed transactions: 0 /, 'no transaction failed');
is($stderr =~ /ERROR|FATAL|aborted/ ? $stderr : '', '', 'no error from any client');

is($node->safe_psql('postgres',
	"SELECT count(*) FROM goodjob.jobs WHERE queue_name = 'many' AND state = 'succeeded'"),
	$expected, 'every loop completed exactly one job');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM goodjob.jobs WHERE queue_name = 'many' AND state = 'running'"),
	'0', 'nothing is left running');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM goodjob.jobs WHERE queue_name = 'many' AND attempts > 1"),
	'0', 'no job was claimed twice');

# PgBouncer never opened more than its pool of server connections
my $server_conns = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
cmp_ok($server_conns, '<=', $pool, "at most $pool server connections");

done_testing();
