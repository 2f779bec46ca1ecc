# test/t/GoodjobBatchTest.pm: helpers shared by the batch and maintainer TAP
# tests (010_batch_crash.pl, 011_maintainer_restart.pl, 012_lease_expiry.pl,
# 020_batch_stress.pl). Not a test itself: prove only runs test/t/*.pl.
#
# The central check is callback_violations(): for every batch it compares
# the callback jobs that exist with the ones its outcome calls for.

package GoodjobBatchTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  new_goodjob_node
  maintainer_pid
  callback_violations
  maintainer_log_problems
  run_maintenance_report
);

# Returns a new, initialized (not started) node that preloads goodjob, runs
# maintenance passes every 200 ms and logs the backend type of every line,
# so that the maintainer's own lines can be told apart. $extra is appended
# to postgresql.conf.
sub new_goodjob_node
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		    "shared_preload_libraries = 'goodjob'\n"
		  . "goodjob.maintenance_interval = '200ms'\n"
		  . "log_line_prefix = '%m [%p] [%b] %q%a '\n"
		  . ($extra // ''));
	return $node;
}

# The pid of the goodjob maintainer connected to database $db, or '' when
# there is none right now.
sub maintainer_pid
{
	my ($node, $db) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_catalog.pg_stat_activity"
		  . " WHERE backend_type = 'goodjob maintainer' AND datname = '$db'");
}

# One line per batch (of those matching the SQL condition $where on alias b)
# whose callback jobs differ from what its outcome calls for; '' when all is
# right. The outcome is read from the batch's jobs, which must all have
# finished, in a batch that was armed once and never re-armed:
#   on_finish: exactly one 'finish' callback;
#   on_success: exactly one 'success' callback iff no job was discarded, else none;
#   on_discard: exactly one 'discard' callback iff some job was discarded, else none;
# and every callback job has the class, args, queue and priority the batch
# gives it, batch_callback_id = the batch and no batch_id of its own.
sub callback_violations
{
	my ($node, $db, $where) = @_;
	$where //= 'true';
	return $node->safe_psql(
		$db, qq{
WITH b AS (
	SELECT b.id, b.on_finish, b.on_success, b.on_discard,
		   b.callback_queue_name, b.callback_priority,
		   b.enqueued_at IS NOT NULL AS armed,
		   EXISTS (SELECT 1 FROM goodjob.jobs j
				   WHERE j.batch_id = b.id AND j.state = 'discarded') AS any_discarded,
		   EXISTS (SELECT 1 FROM goodjob.jobs j
				   WHERE j.batch_id = b.id AND j.state IN ('queued', 'running')) AS unfinished
	FROM goodjob.batches b
	WHERE $where),
cb AS (
	SELECT b.id,
		   count(j.id) FILTER (WHERE j.args->>'event' = 'finish') AS finish,
		   count(j.id) FILTER (WHERE j.args->>'event' = 'success') AS success,
		   count(j.id) FILTER (WHERE j.args->>'event' = 'discard') AS discard,
		   count(j.id) FILTER (WHERE NOT (
				j.args = jsonb_build_object('batch_id', b.id, 'event', j.args->>'event')
				AND j.job_class IS NOT DISTINCT FROM CASE j.args->>'event'
					WHEN 'finish' THEN b.on_finish
					WHEN 'success' THEN b.on_success
					WHEN 'discard' THEN b.on_discard END
				AND j.queue_name = COALESCE(b.callback_queue_name, 'default')
				AND j.priority = COALESCE(b.callback_priority, 0)
				AND j.batch_id IS NULL)) AS malformed
	FROM b LEFT JOIN goodjob.jobs j ON j.batch_callback_id = b.id
	GROUP BY b.id),
want AS (
	SELECT b.id, b.unfinished,
		   (b.armed AND b.on_finish IS NOT NULL)::int AS finish,
		   (b.armed AND NOT b.any_discarded AND b.on_success IS NOT NULL)::int AS success,
		   (b.any_discarded AND b.on_discard IS NOT NULL)::int AS discard
	FROM b)
SELECT format('batch %s: finish %s (want %s), success %s (want %s), discard %s (want %s), malformed %s%s',
			  w.id, c.finish, w.finish, c.success, w.success, c.discard, w.discard,
			  c.malformed, CASE WHEN w.unfinished THEN ', has unfinished jobs' ELSE '' END)
FROM want w JOIN cb c USING (id)
WHERE w.unfinished OR c.finish <> w.finish OR c.success <> w.success
   OR c.discard <> w.discard OR c.malformed <> 0
ORDER BY w.id});
}

# Lines of the server log from byte $offset on, written by a goodjob
# maintainer, at level WARNING or worse, that do not match $allowed (a
# regexp, may be undef). Returns them joined by newlines ('' when none).
sub maintainer_log_problems
{
	my ($node, $offset, $allowed) = @_;
	my $log = slurp_file($node->logfile, $offset // 0);
	my @bad = grep {
		/\[goodjob maintainer\]/
		  && /\b(WARNING|ERROR|FATAL|PANIC):/
		  && !(defined $allowed && /$allowed/)
	} split /\n/, $log;
	return join("\n", @bad);
}

# Runs goodjob.run_maintenance() in $db and returns its report as a hash
# of counts.
sub run_maintenance_report
{
	my ($node, $db) = @_;
	my $out = $node->safe_psql($db,
		"SELECT key || '=' || value FROM jsonb_each_text(goodjob.run_maintenance()) ORDER BY key"
	);
	my %report = map { split /=/, $_, 2 } split /\n/, $out;
	return \%report;
}

1;
