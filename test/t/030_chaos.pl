# test/t/030_chaos.pl: the chaos test. Eight "goodjob work" processes
# (client/goodjob) run 50,000 jobs (100 armed batches of 200 jobs, with
# on_finish, on_success and on_discard callbacks, and 30,000 loose jobs)
# while a driver kills random workers with SIGKILL and starts them again,
# terminates random worker backends with pg_terminate_backend(), twice
# freezes a worker (SIGSTOP) for longer than its lease so that others take
# its jobs over before it resumes with stale fencing tokens, and once stops
# the server in immediate mode and starts it again. Then the workers drain
# the queue (jobs of killed workers come back when their 5 s leases expire
# and the maintainer reaps them) and stop on SIGTERM.
#
# Most jobs are Noop (the worker's built-in :noop handler, 25 attempts).
# Flaky jobs (3 attempts) run a shell script whose behaviour is fixed by the
# job's args: "ok" succeeds, "retry" fails its first attempt, "discard"
# always fails; the script records every run in a file.
#
# At the end, whatever the chaos interrupted (no assertion depends on when
# the kills landed):
# - every job is succeeded or discarded, none queued or running, and every
#   job id appears once;
# - the fencing token held: an audit trigger on goodjob.finished_jobs
#   records every job the server finished, and no job finished twice; in the
#   worker logs (--log-format json) no (job, attempt) is logged as succeeded
#   twice, every completion a worker saw accepted (workers with concurrency
#   1 complete one job per statement, so their "succeeded" lines are exact)
#   is the job's one recorded finish (the "succeeded" lines of the other
#   workers are checked against the audit only: a worker that completes
#   several jobs in one statement logs each as succeeded, even those the
#   server refused);
# - every failure a worker saw recorded agrees with the server (a retried
#   attempt was followed by another, a discard is the job's final state);
# - a Flaky job succeeded only at an attempt whose script run succeeded;
#   "discard" jobs are all discarded, Noop jobs all succeeded;
# - every batch has exactly the callbacks its outcome calls for, every
#   callback job ran, and every batch has finished_at.
#
# Environment: GOODJOB_CHAOS_SEED fixes the driver's random choices (the
# seed used is printed either way). Worker logs go to
# tmp_check/log/030_chaos_w<N>_<generation>.log.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use JSON::PP;
use POSIX qw(:sys_wait_h);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use GoodjobBatchTest;

my $bin = $ENV{GOODJOB_BIN} // "$ENV{TESTDIR}/client/goodjob";
die "goodjob client not found at $bin (build it with: make -C client)"
  unless -x $bin;

my $NBATCHES = 100;
my $BATCH_FLAKY = 10;     # Flaky jobs per batch
my $BATCH_NOOP = 190;     # Noop jobs per batch
my $LOOSE_FLAKY = 500;    # loose Flaky jobs
my $LOOSE_NOOP = 29_500;  # loose Noop jobs
my $TOTAL = $NBATCHES * ($BATCH_FLAKY + $BATCH_NOOP) + $LOOSE_FLAKY + $LOOSE_NOOP;
my $NWORKERS = 8;
my $LEASE = 5;            # seconds
my $PAUSE = $LEASE + 4;   # seconds a frozen worker stays frozen
my $CHAOS_LIMIT = 90;     # seconds the driver may spend (normally 10 to 30)
my $DRAIN_LIMIT = 120;    # seconds for the queue to drain after the chaos

my $seed = $ENV{GOODJOB_CHAOS_SEED} // int(rand(1 << 30));
srand($seed);
note "chaos seed $seed (set GOODJOB_CHAOS_SEED=$seed to repeat the driver's choices)";
my $started = time;

# Retries after 1 s (attempts^0 + 0 s, no jitter), so that retried jobs
# come back during the test.
my $node = new_goodjob_node(
	'chaos', qq{
max_connections = 60
log_statement = none
goodjob.retry_backoff_base = 0
goodjob.retry_backoff_exponent = 0
goodjob.retry_jitter = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION goodjob');
my $log_offset = -s $node->logfile;
my $dsn = $node->connstr('postgres');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $logdir = $PostgreSQL::Test::Utils::log_path;

# The audit: every row the server inserts into goodjob.finished_jobs (a
# completion, a discard by fail() or by lease reaping), with the attempt it
# finished. The row trigger on the partitioned table is cloned onto every
# partition, including those the maintainer creates later.
$node->safe_psql(
	'postgres', q{
CREATE TABLE public.chaos_finishes (
	job_id bigint NOT NULL,
	attempts integer NOT NULL,
	state text NOT NULL,
	finished_at timestamptz NOT NULL);
CREATE FUNCTION public.chaos_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.chaos_finishes VALUES (NEW.id, NEW.attempts, NEW.state, NEW.finished_at);
	RETURN NULL;
END $$;
CREATE TRIGGER chaos_audit AFTER INSERT ON goodjob.finished_jobs
	FOR EACH ROW EXECUTE FUNCTION public.chaos_audit();
});

# ------------------------------------------------------------------ jobs

# The Flaky handler: fate from the args, one line per run in flaky_runs.
my $runs_file = "$dir/flaky_runs";
my $flaky = "$dir/flaky.sh";
append_to_file(
	$flaky, qq{#!/bin/sh
args=\$(cat)
case "\$args" in
*'"fate": "discard"'*) result=fail ;;
*'"fate": "retry"'*) if [ "\$GOODJOB_ATTEMPT" -lt 2 ]; then result=fail; else result=ok; fi ;;
*'"fate": "ok"'*) result=ok ;;
*) echo "no fate in \$args" >&2; exit 3 ;;
esac
echo "\$GOODJOB_JOB_ID \$GOODJOB_ATTEMPT \$result" >> '$runs_file'
if [ \$result = fail ]; then echo "chaos: fated to fail" >&2; exit 1; fi
exit 0
});
chmod 0755, $flaky;

# Batch jobs and loose jobs are interleaved (batch b, then 300 loose jobs,
# then batch b + 1, ...), so that batches finish all through the run, and
# with them callbacks are enqueued all through the chaos. Odd batches are
# armed now, even ones once the workers are busy. Callbacks have priority
# -1, so they run as soon as they appear; odd batches send them to queue
# "callbacks", even ones to "default".
#
# Flaky fates: in a batch, job 1 of every fourth batch is "discard", even
# jobs are "retry", the rest "ok"; loose, every 10th is "discard", every
# 3rd "retry", the rest "ok".
my $loose_per_batch = $LOOSE_NOOP / $NBATCHES;
my $loose_flaky_per_batch = $LOOSE_FLAKY / $NBATCHES;
$node->safe_psql(
	'postgres', qq{
DO \$\$
DECLARE
	bid bigint;
BEGIN
	FOR b IN 1 .. $NBATCHES LOOP
		bid := goodjob.batch_create('chaos ' || b, on_finish => 'BatchFinish',
			on_success => 'BatchSuccess', on_discard => 'BatchDiscard',
			callback_queue_name => CASE WHEN b % 2 = 1 THEN 'callbacks' END,
			callback_priority => -1);
		PERFORM goodjob.bulk_enqueue('{Flaky}',
			(SELECT array_agg(jsonb_build_object('b', b, 'n', n, 'fate',
					CASE WHEN b % 4 = 0 AND n = 1 THEN 'discard'
						 WHEN n % 2 = 0 THEN 'retry' ELSE 'ok' END) ORDER BY n)
			 FROM generate_series(1, $BATCH_FLAKY) n),
			'{batch}', batch_id => bid, max_attempts => 3);
		PERFORM goodjob.bulk_enqueue('{Noop}',
			(SELECT array_agg(jsonb_build_object('b', b, 'n', n) ORDER BY n)
			 FROM generate_series($BATCH_FLAKY + 1, $BATCH_FLAKY + $BATCH_NOOP) n),
			'{batch}', batch_id => bid);
		IF b % 2 = 1 THEN
			PERFORM goodjob.batch_enqueue(bid);
		END IF;
		PERFORM goodjob.bulk_enqueue('{Flaky}',
			(SELECT array_agg(jsonb_build_object('n', n, 'fate',
					CASE WHEN n % 10 = 0 THEN 'discard'
						 WHEN n % 3 = 0 THEN 'retry' ELSE 'ok' END) ORDER BY n)
			 FROM generate_series((b - 1) * $loose_flaky_per_batch + 1,
								  b * $loose_flaky_per_batch) n),
			'{default}', max_attempts => 3);
		PERFORM goodjob.bulk_enqueue('{Noop}',
			(SELECT array_agg(jsonb_build_object('n', n) ORDER BY n)
			 FROM generate_series((b - 1) * $loose_per_batch + 1, b * $loose_per_batch) n),
			'{default}');
	END LOOP;
END
\$\$;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM goodjob.active_jobs'),
	$TOTAL, "$TOTAL jobs enqueued");
is($node->safe_psql('postgres', 'SELECT count(*) FROM goodjob.batches'),
	$NBATCHES, "$NBATCHES batches created");
note sprintf('enqueued in %.1f s', time - $started);

# --------------------------------------------------------------- workers

# Workers 1-4 complete one job per statement (concurrency 1), so each of
# their "succeeded" lines means the server accepted that completion; 5-8
# run 4 jobs at once, claim 8 more ahead (so a kill or a pause strands
# more jobs) and complete several per statement.
sub concurrency { return $_[0] <= $NWORKERS / 2 ? 1 : 4; }
sub prefetch { return $_[0] <= $NWORKERS / 2 ? 0 : 8; }

my (%pid, %generation, %log_concurrency);

sub start_worker
{
	my ($i) = @_;
	my $gen = ++$generation{$i};
	my $log = "$logdir/030_chaos_w${i}_$gen.log";
	$log_concurrency{$log} = concurrency($i);
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', $log) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
		exec($bin, 'work', '--dsn', "$dsn application_name=chaos_w$i",
			'--name', "chaos-w$i-g$gen",
			'--concurrency', concurrency($i), '--prefetch', prefetch($i),
			'--lease', $LEASE, '--poll-interval', '0.5', '--grace', '5',
			'--log-format', 'json',
			'--handler', 'Noop=:noop',
			'--handler', "Flaky=$flaky",
			'--handler', 'BatchFinish=:noop',
			'--handler', 'BatchSuccess=:noop',
			'--handler', 'BatchDiscard=:noop')
		  or POSIX::_exit(127);
	}
	$pid{$i} = $pid;
}

start_worker($_) for 1 .. $NWORKERS;

# ----------------------------------------------------------------- chaos

my %did = (kill => 0, terminate => 0, backends => 0, pause => 0);
my %paused;    # worker number => when to resume it
my ($restarted, $armed, $unfinished_at_crash) = (0, 0);
my $left_sql = 'SELECT count(*) FROM goodjob.active_jobs';

sub kill_one
{
	my @running = grep { !$paused{$_} } 1 .. $NWORKERS;
	my $i = $running[ int(rand(@running)) ];
	kill 'KILL', $pid{$i};
	waitpid($pid{$i}, 0);
	sleep rand(0.5);
	start_worker($i);
	$did{kill}++;
}

sub terminate_some
{
	my $n = 1 + int(rand(3));
	$did{backends} += $node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))"
		  . " FROM (SELECT pid FROM pg_catalog.pg_stat_activity"
		  . "       WHERE application_name LIKE 'chaos\\_w%' AND backend_type = 'client backend'"
		  . "       ORDER BY random() LIMIT $n) s");
	$did{terminate}++;
}

# Freezes worker $i (SIGSTOP) for longer than its lease, as a long GC pause
# or a stalled VM would: the maintainer reaps its jobs, other workers take
# them over, and once resumed it completes or fails them with stale
# fencing tokens, which the server must refuse.
sub pause_worker
{
	my ($i) = @_;
	kill 'STOP', $pid{$i};
	$paused{$i} = time + $PAUSE;
	$did{pause}++;
}

sub resume_workers
{
	my ($all) = @_;
	for my $i (sort keys %paused)
	{
		next unless $all || time >= $paused{$i};
		sleep($paused{$i} - time) if time < $paused{$i};
		kill 'CONT', $pid{$i};
		delete $paused{$i};
	}
}

sub arm_the_rest
{
	$node->safe_psql('postgres',
		"SELECT count(goodjob.batch_enqueue(id)) FROM goodjob.batches WHERE enqueued_at IS NULL");
	$armed = 1;
}

sub crash_and_restart
{
	$node->stop('immediate');
	sleep 1;
	$node->start;
	$restarted = 1;
	$unfinished_at_crash = $node->safe_psql('postgres', $left_sql);
	note "server restarted after an immediate stop; $unfinished_at_crash jobs unfinished";
}

# The driver acts on progress, not on time: the even batches are armed once
# a tenth of the jobs are done; a worker of 5-8 is frozen once 15% are
# done; the immediate stop comes once 45% are done; then a worker of 1-4 is
# frozen once 50% are done; kills and terminations go on until 85% are
# done and no worker is frozen. A frozen worker is resumed after $PAUSE s.
my $chaos_end = time + $CHAOS_LIMIT;
while (time < $chaos_end)
{
	my $left = $node->safe_psql('postgres', $left_sql);
	resume_workers(0);
	last if $left <= 0.15 * $TOTAL && !%paused;
	if (!$armed && $left <= 0.9 * $TOTAL)
	{
		arm_the_rest();
		next;
	}
	if ($did{pause} == 0 && $left <= 0.85 * $TOTAL)
	{
		pause_worker($NWORKERS / 2 + 1 + int(rand($NWORKERS / 2)));
		next;
	}
	if (!$restarted && $left <= 0.55 * $TOTAL)
	{
		crash_and_restart();
		next;
	}
	if ($restarted && $did{pause} == 1 && $left <= 0.5 * $TOTAL)
	{
		pause_worker(1 + int(rand($NWORKERS / 2)));
		next;
	}
	rand() < 0.5 ? kill_one() : terminate_some();
	sleep 0.05 + rand(0.2);
}
arm_the_rest() unless $armed;
resume_workers(1);
crash_and_restart() unless $restarted;
note sprintf(
	'chaos over after %.1f s: %d workers killed, %d backends terminated (%d rounds), '
	  . '%d workers frozen for %d s, %d jobs left',
	time - $started, $did{kill}, $did{backends}, $did{terminate}, $did{pause},
	$PAUSE, $node->safe_psql('postgres', $left_sql));
ok($did{kill} > 0 && $did{terminate} > 0,
	'the driver killed workers and terminated backends while jobs were left');
cmp_ok($unfinished_at_crash, '>', 0, 'the immediate stop came while jobs were left');

# ------------------------------------------------------------------ drain

# Every job finished and every batch finished (its callback jobs too).
my $drained_sql = q{SELECT NOT EXISTS (SELECT 1 FROM goodjob.active_jobs)
	AND NOT EXISTS (SELECT 1 FROM goodjob.batches WHERE finished_at IS NULL)};
my $drain_end = time + $DRAIN_LIMIT;
my $drained;
while (1)
{
	$drained = $node->safe_psql('postgres', $drained_sql) eq 't';
	last if $drained || time > $drain_end;
	sleep 0.5;
}
ok($drained, 'the queue drained: no job queued or running, every batch finished');
note sprintf('drained after %.1f s', time - $started);

my $stopped_ok = 0;
kill 'TERM', $pid{$_} for 1 .. $NWORKERS;
for my $i (1 .. $NWORKERS)
{
	my $until = time + 15;
	my $status;
	while (time < $until)
	{
		if (waitpid($pid{$i}, WNOHANG) == $pid{$i}) { $status = $?; last; }
		sleep 0.05;
	}
	if (!defined $status)
	{
		kill 'KILL', $pid{$i};
		waitpid($pid{$i}, 0);
	}
	$stopped_ok++ if defined $status && $status == 0;
}
is($stopped_ok, $NWORKERS, 'every worker exits with status 0 on SIGTERM');

# ------------------------------------------------------------- the server

is( $node->safe_psql('postgres',
		"SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)"
		  . " FROM (SELECT state, count(*) n FROM goodjob.jobs"
		  . "       WHERE state NOT IN ('succeeded', 'discarded') GROUP BY state) s"),
	'', 'every job is succeeded or discarded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM goodjob.active_jobs'),
	'0', 'no job is left queued or running');
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM goodjob.jobs WHERE batch_callback_id IS NULL'),
	$TOTAL, "all $TOTAL enqueued jobs are there");
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT id FROM goodjob.jobs GROUP BY id HAVING count(*) > 1) d'),
	'0', 'every job id appears once');

# The audit.
is( $node->safe_psql('postgres',
		'SELECT string_agg(job_id || ' x' || n, ', ') FROM'
		  . ' (SELECT job_id, count(*) n FROM public.chaos_finishes GROUP BY job_id'
		  . '  HAVING count(*) > 1 ORDER BY job_id LIMIT 20) d'),
	'', 'the server finished no job twice (audit of goodjob.finished_jobs inserts)');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM goodjob.jobs j
		  FULL JOIN public.chaos_finishes f ON f.job_id = j.id
		  WHERE f.job_id IS NULL OR j.id IS NULL
			 OR (f.attempts, f.state, f.finished_at) IS DISTINCT FROM (j.attempts, j.state, j.finished_at)}),
	'0', 'every finished job has exactly its audit row: same attempt, state and time');

# Fates.
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE args->>'fate' = 'discard' AND state <> 'discarded'"),
	'0', 'every job fated to be discarded was discarded');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE job_class = 'Noop' AND state <> 'succeeded'"),
	'0', 'every Noop job succeeded');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE args->>'fate' = 'retry'"
		  . " AND state = 'succeeded' AND attempts < 2"),
	'0', 'no job fated to fail its first attempt succeeded at its first attempt');

# Flaky runs recorded by the script.
my %run_ok;
my $nruns = 0;
for my $line (split /\n/, (-e $runs_file ? slurp_file($runs_file) : ''))
{
	my ($id, $att, $res) = split ' ', $line;
	$nruns++;
	$run_ok{"$id/$att"} = 1 if defined $res && $res eq 'ok';
}
my @flaky_succeeded = split /\n/, $node->safe_psql('postgres',
	"SELECT id || '/' || attempts FROM goodjob.jobs WHERE job_class = 'Flaky' AND state = 'succeeded'");
my @unbacked = grep { !$run_ok{$_} } @flaky_succeeded;
is(scalar(@unbacked), 0,
	'every Flaky job succeeded at an attempt whose script run succeeded')
  or diag("job/attempt without a successful run: @unbacked[0 .. ($#unbacked < 9 ? $#unbacked : 9)]");
note scalar(@flaky_succeeded) . " Flaky jobs succeeded, $nruns Flaky runs";

# Batches.
is($node->safe_psql('postgres',
		'SELECT count(*) FROM goodjob.batches WHERE enqueued_at IS NULL OR finished_at IS NULL'),
	'0', 'every batch was armed and has finished');
is(callback_violations($node, 'postgres'), '',
	'every batch has exactly the callbacks its outcome calls for');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batches b WHERE (b.discarded_at IS NOT NULL) <>"
		  . " EXISTS (SELECT 1 FROM goodjob.jobs j WHERE j.batch_id = b.id AND j.state = 'discarded')"),
	'0', 'a batch is marked discarded iff one of its jobs was discarded');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.batches b WHERE b.id % 4 = 0 AND b.discarded_at IS NULL"),
	'0', 'every batch with a job fated to be discarded is marked discarded');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL AND state <> 'succeeded'"),
	'0', 'every callback job ran and succeeded');
note 'callback jobs: '
  . $node->safe_psql('postgres',
	"SELECT string_agg(e || ' ' || n, ', ' ORDER BY e) FROM (SELECT args->>'event' AS e, count(*) n"
	  . " FROM goodjob.jobs WHERE batch_callback_id IS NOT NULL GROUP BY 1) s");

# ------------------------------------------------------------ worker logs

# The server's final word on every job: "state attempts".
my %final;
for my $row (split /\n/, $node->safe_psql('postgres',
		"SELECT id || ' ' || state || ' ' || attempts FROM goodjob.jobs"))
{
	my ($id, $state, $att) = split ' ', $row;
	$final{$id} = [ $state, $att ];
}

my $json = JSON::PP->new;
my (%outcomes, %success_lines, @problems, %logged_completion);
my ($nlines, $nbad, $refused_multi) = (0, 0, 0);
for my $log (sort keys %log_concurrency)
{
	my $exact = $log_concurrency{$log} == 1;
	for my $line (split /\n/, slurp_file($log))
	{
		next unless $line =~ /"event":"job"/;
		my $e = eval { $json->decode($line) };
		if (!$e)
		{
			$nbad++;    # a line cut by SIGKILL
			next;
		}
		$nlines++;
		my ($id, $att, $outcome) = @$e{qw(job_id attempt outcome)};
		$outcomes{$outcome}++;
		my $f = $final{$id};
		if (!$f)
		{
			push @problems, "$log: job $id is unknown to the server";
			next;
		}
		my ($state, $final_att) = @$f;
		if ($outcome eq 'succeeded')
		{
			push @problems, "$log: job $id attempt $att logged as succeeded twice"
			  if $success_lines{"$id/$att"}++;
			if ($state eq 'succeeded' && $final_att == $att)
			{
				$logged_completion{$id} = 1;
			}
			elsif ($exact)
			{
				# an accepted completion that is not the job's one finish
				push @problems,
				  "$log: job $id attempt $att logged as succeeded, but the server has it $state at attempt $final_att";
			}
			else
			{
				# A completion of several jobs in one statement: the
				# worker logs each as succeeded and only counts the
				# refused ones. The audit shows the job's one finish was
				# another, so this one was refused.
				$refused_multi++;
			}
		}
		elsif ($outcome eq 'failed (discarded)' || $outcome =~ /^handed back but discarded/)
		{
			push @problems,
			  "$log: job $id attempt $att logged as discarded, but the server has it $state at attempt $final_att"
			  unless $state eq 'discarded' && $final_att == $att;
		}
		elsif ($outcome eq 'failed (will retry)' || $outcome =~ /^handed back \(queued again\)/)
		{
			push @problems,
			  "$log: job $id attempt $att logged as retried, but the server has no later attempt ($state at attempt $final_att)"
			  unless $final_att > $att;
		}
	}
}
note "worker log: $nlines job lines ($nbad cut short), by outcome: "
  . join(', ', map { "$_ $outcomes{$_}" } sort keys %outcomes);
my $nsucceeded = grep { $_->[0] eq 'succeeded' } values %final;
note scalar(keys %logged_completion)
  . " of $nsucceeded succeeded jobs have their completion in a worker log"
  . " (the others were completed by a worker killed before it logged, or whose reply a"
  . " terminated connection lost); $refused_multi \"succeeded\" lines of multi-job"
  . " completions were in fact refused by the server";
cmp_ok($nlines, '>', $TOTAL / 2, 'the worker logs have a line for most jobs');
is(join("\n", @problems[0 .. ($#problems < 19 ? $#problems : 19)]), '',
	'every outcome the workers logged agrees with the server: no job completed twice, '
	  . 'every accepted completion is the job\'s one finish')
  or diag(scalar(@problems) . ' problems');

is(maintainer_log_problems($node, $log_offset), '',
	'the maintainer logged no warning or error');

note $node->safe_psql('postgres',
	"SELECT count(*) FROM goodjob.jobs WHERE job_class = 'Noop' AND attempts > 1")
  . ' Noop jobs (which never fail) needed more than one attempt: their worker was killed,'
  . ' or the server crashed, while they ran';
note sprintf('total %.1f s', time - $started);
$node->stop;
done_testing();
