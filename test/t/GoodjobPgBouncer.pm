# test/t/GoodjobPgBouncer.pm: a PgBouncer in transaction pooling mode in
# front of a test cluster's "postgres" database, for the TAP tests that go
# through one (110_worker_pgbouncer.pl, 111_pgbouncer_many_clients.pl).
package GoodjobPgBouncer;

use strict;
use warnings;

use Exporter 'import';
use POSIX qw(:sys_wait_h);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(sleep);

our @EXPORT = qw(pgbouncer_binary start_pgbouncer stop_pgbouncer);

# The pgbouncer executable ($PGBOUNCER, else Debian's), or undef if missing.
sub pgbouncer_binary
{
	my $bin = $ENV{PGBOUNCER} // '/usr/sbin/pgbouncer';
	return -x $bin ? $bin : undef;
}

# Writes the configuration (with the extra [pgbouncer] settings of
# %settings) and starts PgBouncer in the foreground, logging to
# <log_path>/<$name>_pgbouncer.log. Returns a hash: port, sockdir (a short
# socket directory: Unix socket paths are limited to about 100 bytes), log,
# pid, user. Clients trust-authenticate as the cluster's user.
sub start_pgbouncer
{
	my ($node, $name, %settings) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir;
	my %b = (
		port => PostgreSQL::Test::Cluster::get_free_port(),
		sockdir => PostgreSQL::Test::Utils::tempdir_short,
		log => "$PostgreSQL::Test::Utils::log_path/${name}_pgbouncer.log",
		user => $node->safe_psql('postgres', 'SELECT current_user'));
	my ($host, $port) = ($node->host, $node->port);

	open(my $uf, '>', "$dir/userlist.txt") or die "$dir/userlist.txt: $!";
	print $uf qq{"$b{user}" ""\n};
	close $uf;
	open(my $ini, '>', "$dir/pgbouncer.ini") or die "$dir/pgbouncer.ini: $!";
	print $ini <<"INI";
[databases]
postgres = host=$host port=$port dbname=postgres

[pgbouncer]
pool_mode = transaction
listen_addr =
listen_port = $b{port}
unix_socket_dir = $b{sockdir}
auth_type = trust
auth_file = $dir/userlist.txt
min_pool_size = 0
pidfile = $dir/pgbouncer.pid
INI
	print $ini "$_ = $settings{$_}\n" for sort keys %settings;
	close $ini;

	my $bin = pgbouncer_binary() or die 'pgbouncer is not installed';
	$b{pid} = fork();
	die "fork: $!" unless defined $b{pid};
	if ($b{pid} == 0)
	{
		# not daemonized, PgBouncer logs to stderr
		open(STDOUT, '>>', $b{log}) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
		exec($bin, "$dir/pgbouncer.ini") or POSIX::_exit(127);
	}
	return \%b;
}

# Stops the PgBouncer of start_pgbouncer() (SIGINT: shut down at once; SIGKILL
# after 5 s); does nothing if it is stopped already.
sub stop_pgbouncer
{
	my ($b) = @_;
	return unless $b && $b->{pid};
	kill 'INT', $b->{pid};
	for (1 .. 100)
	{
		last if waitpid($b->{pid}, WNOHANG) == $b->{pid};
		sleep 0.05;
	}
	if (kill 0, $b->{pid})
	{
		kill 'KILL', $b->{pid};
		waitpid($b->{pid}, 0);
	}
	$b->{pid} = undef;
}

1;
