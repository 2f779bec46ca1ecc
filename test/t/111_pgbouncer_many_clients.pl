# test/t/111_pgbouncer_many_clients.pl: 500 worker connections through
# PgBouncer in transaction pooling mode onto 20 server connections. Each
# client claims and completes jobs in separate transactions, so consecutive
# statements of one client run on different server connections; goodjob
# keeps no session state, so this must work with no error at all.
# Skipped when /usr/sbin/pgbouncer is missing (scripts/common.sh installs it).

use strict;
use warnings;

use POSIX qw(:sys_wait_h);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $pgbouncer = $ENV{PGBOUNCER} // '/usr/sbin/pgbouncer';
plan skip_all =>
  "pgbouncer not found at $pgbouncer (apt-get install pgbouncer; test/run.sh installs it)"
  unless -x $pgbouncer;

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
my $sockdir = PostgreSQL::Test::Utils::tempdir_short;
my $bport = PostgreSQL::Test::Cluster::get_free_port();
my $bouncer_log = "$PostgreSQL::Test::Utils::log_path/111_pgbouncer_many_clients_pgbouncer.log";
my ($host, $port) = ($node->host, $node->port);

open(my $uf, '>', "$dir/userlist.txt") or die "$dir/userlist.txt: $!";
print $uf qq{"$user" ""\n};
close $uf;
open(my $ini, '>', "$dir/pgbouncer.ini") or die "$dir/pgbouncer.ini: $!";
print $ini <<"INI";
[databases]
postgres = host=$host port=$port dbname=postgres

[pgbouncer]
pool_mode = transaction
listen_addr =
listen_port = $bport
unix_socket_dir = $sockdir
auth_type = trust
auth_file = $dir/userlist.txt
max_client_conn = 600
default_pool_size = $pool
min_pool_size = 0
pidfile = $dir/pgbouncer.pid
INI
close $ini;

my $bouncer_pid = fork();
die "fork: $!" unless defined $bouncer_pid;
if ($bouncer_pid == 0)
{
	open(STDOUT, '>>', $bouncer_log) or POSIX::_exit(126);
	open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
	exec($pgbouncer, "$dir/pgbouncer.ini") or POSIX::_exit(127);
}
END
{
	if ($bouncer_pid)
	{
		kill 'INT', $bouncer_pid;
		waitpid($bouncer_pid, 0);
	}
}
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
