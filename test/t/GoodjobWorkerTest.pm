# test/t/GoodjobWorkerTest.pm: helpers of the TAP tests that run the goodjob
# command-line tool against a test cluster (100_worker.pl,
# 110_worker_pgbouncer.pl).
package GoodjobWorkerTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use POSIX qw(:sys_wait_h);
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(run_goodjob wait_exit poll_until write_script slurp_if_exists);

# Runs the goodjob binary $bin with @args (stdin $in); returns (exit status,
# stdout, stderr).
sub run_goodjob
{
	my ($bin, $in, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $bin, @args ], '<', \$in, '>', \$out, '2>', \$err,
		IPC::Run::timeout(30));
	return ($? >> 8, $out, $err);
}

# Waits up to $timeout s for $pid to exit; returns its wait status, or
# undef (after killing it) when it did not exit.
sub wait_exit
{
	my ($pid, $timeout) = @_;
	my $until = time + $timeout;
	while (time < $until)
	{
		return $? if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return undef;
}

# Polls $sql on $node (directly, database postgres) until it returns
# $expected or $timeout s pass; returns the last value.
sub poll_until
{
	my ($node, $sql, $expected, $timeout) = @_;
	my $until = time + $timeout;
	my $got;
	while (1)
	{
		$got = $node->safe_psql('postgres', $sql);
		return $got if $got eq $expected || time >= $until;
		sleep 0.1;
	}
}

# Writes the executable shell script $dir/$name; returns its path.
sub write_script
{
	my ($dir, $name, $body) = @_;
	my $path = "$dir/$name";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh "#!/bin/sh\n$body";
	close $fh;
	chmod 0755, $path;
	return $path;
}

# The contents of $path, or '' if it does not exist (yet).
sub slurp_if_exists { return -e $_[0] ? slurp_file($_[0]) : ''; }

1;
