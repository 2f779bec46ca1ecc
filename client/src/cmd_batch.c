/*-------------------------------------------------------------------------
 * cmd_batch.c
 *	  "goodjob batch show" and "goodjob batch wait": a batch's state from
 *	  goodjob.batches, its progress from the goodjob.batch_progress view,
 *	  and its job counts from goodjob.jobs.
 *
 * Batch support comes with a later version of the extension; without the
 * goodjob.batch_progress view both commands say so and exit 1.
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const char batch_usage[] =
"Usage:\n"
"  goodjob batch show ID [OPTIONS]\n"
"  goodjob batch wait ID [OPTIONS]\n"
"\n"
"show: prints the batch (callbacks, properties, times), its row of the\n"
"      goodjob.batch_progress view and its job counts.\n"
"wait: waits until the batch has finished (its jobs and its callback jobs),\n"
"      with a progress bar on a terminal and a line per change otherwise.\n"
"      Exit status 0 when it finished without discarded jobs, 1 when it\n"
"      finished with some (or on an error), 3 when --timeout ran out.\n"
"\n"
"Options:\n"
"  --interval SECONDS   wait: time between two looks (default 0.5)\n"
"  --timeout SECONDS    wait: give up after this long (default: never)\n"
"  --dsn DSN            connection string (default: PG* variables)\n"
"  -h, --help           show this help\n";

enum
{
	OPT_INTERVAL = 2000, OPT_WAIT_TIMEOUT
};

static const struct option batch_options[] = {
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
	{"dsn", required_argument, NULL, OPT_DSN},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

/* The batch and the counts of its jobs. */
#define BATCH_STATUS_SQL \
	"SELECT b.enqueued_at IS NOT NULL, b.jobs_finished_at IS NOT NULL," \
	" b.finished_at IS NOT NULL, b.discarded_at IS NOT NULL," \
	" c.total, c.finished, c.discarded, c.running" \
	" FROM goodjob.batches b, LATERAL (" \
	"  SELECT pg_catalog.count(*) AS total," \
	"   pg_catalog.count(*) FILTER (WHERE j.state IN ('succeeded', 'discarded')) AS finished," \
	"   pg_catalog.count(*) FILTER (WHERE j.state = 'discarded') AS discarded," \
	"   pg_catalog.count(*) FILTER (WHERE j.state = 'running') AS running" \
	"  FROM goodjob.jobs j WHERE j.batch_id = b.id) c" \
	" WHERE b.id = $1::bigint"

/* One look at a batch. */
typedef struct batch_status
{
	bool		enqueued;
	bool		jobs_finished;
	bool		finished;
	bool		discarded;
	long long	total;
	long long	done;
	long long	failed;
	long long	running;
} batch_status;

/* Exits unless the extension has batch support. */
static void
require_batch_support(PGconn *pg, const char *command)
{
	if (!cli_relation_exists(pg, command, "goodjob.batch_progress"))
		cli_fail(command,
				 "batch support is not installed in this database (the view goodjob.batch_progress is missing); update the goodjob extension");
}

/* Reads a status row; false when there is no such batch. */
static bool
parse_status(PGresult *res, batch_status *st)
{
	if (PQntuples(res) == 0)
		return false;
	st->enqueued = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	st->jobs_finished = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	st->finished = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	st->discarded = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	st->total = atoll(PQgetvalue(res, 0, 4));
	st->done = atoll(PQgetvalue(res, 0, 5));
	st->failed = atoll(PQgetvalue(res, 0, 6));
	st->running = atoll(PQgetvalue(res, 0, 7));
	return true;
}

/* Returns a one-line description of st (static buffer). */
static const char *
describe(const batch_status *st)
{
	static char line[256];
	const char *phase;

	if (st->finished)
		phase = st->discarded ? "finished with discarded jobs" : "finished";
	else if (st->jobs_finished)
		phase = "jobs finished, waiting for callback jobs";
	else if (!st->enqueued)
		phase = "not enqueued yet (goodjob.batch_enqueue)";
	else
		phase = "running";
	snprintf(line, sizeof(line), "%lld/%lld jobs finished, %lld running, %lld discarded: %s",
			 st->done, st->total, st->running, st->failed, phase);
	return line;
}

/* Prints the columns of the batch's goodjob.batch_progress row. */
static void
show_progress_view(PGconn *pg, const char *id)
{
	const char *params[1] = {id};
	PGresult   *res;
	char	   *sql;
	char	   *key;
	int			col;

	res = cli_exec(pg, "batch show",
				   "SELECT a.attname FROM pg_catalog.pg_attribute a"
				   " WHERE a.attrelid = 'goodjob.batch_progress'::pg_catalog.regclass"
				   " AND a.attname IN ('batch_id', 'id') AND NOT a.attisdropped"
				   " ORDER BY a.attname = 'batch_id' DESC LIMIT 1", 0, NULL);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		printf("progress: (goodjob.batch_progress has no batch_id column)\n");
		return;
	}
	key = PQescapeIdentifier(pg, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	sql = gj_printf("SELECT * FROM goodjob.batch_progress WHERE %s = $1::bigint", key);
	PQfreemem(key);
	res = cli_exec(pg, "batch show", sql, 1, params);
	free(sql);
	printf("progress (goodjob.batch_progress):\n");
	for (col = 0; PQntuples(res) > 0 && col < PQnfields(res); col++)
		printf("  %-18s %s\n", PQfname(res, col),
			   PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
	PQclear(res);
}

/* Runs "goodjob batch show ID". */
static int
batch_show(const char *id)
{
	static const char *const labels[] = {
		"description", "properties", "on_finish", "on_success", "on_discard",
		"created_at", "enqueued_at", "discarded_at", "jobs_finished_at", "finished_at"
	};
	const char *params[1] = {id};
	PGconn	   *pg = cli_connect("batch show");
	PGresult   *res;
	batch_status st;
	int			col;

	require_batch_support(pg, "batch show");
	res = cli_exec(pg, "batch show",
				   "SELECT description, properties::text, on_finish, on_success, on_discard,"
				   " created_at, enqueued_at, discarded_at, jobs_finished_at, finished_at"
				   " FROM goodjob.batches WHERE id = $1::bigint", 1, params);
	if (PQntuples(res) == 0)
		cli_fail("batch show", "batch %s does not exist", id);
	printf("batch %s\n", id);
	for (col = 0; col < 10; col++)
		printf("  %-18s %s\n", labels[col],
			   PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
	PQclear(res);

	res = cli_exec(pg, "batch show", BATCH_STATUS_SQL, 1, params);
	parse_status(res, &st);
	PQclear(res);
	printf("  %-18s %s\n", "status", describe(&st));
	show_progress_view(pg, id);
	PQfinish(pg);
	return 0;
}

/* Draws the progress bar (terminal) or prints a line when st changed. */
static void
report_progress(const char *id, const batch_status *st, bool tty, char *last, size_t lastlen)
{
	const char *line = describe(st);
	int			width = 30;
	int			filled = st->total > 0 ? (int) (width * st->done / st->total) : 0;
	int			i;

	if (tty)
	{
		printf("\r\033[K[");
		for (i = 0; i < width; i++)
			putchar(i < filled ? '#' : '-');
		printf("] %3d%% %s", st->total > 0 ? (int) (100 * st->done / st->total) : 0, line);
		fflush(stdout);
	}
	else if (strcmp(line, last) != 0)
	{
		printf("batch %s: %s\n", id, line);
		fflush(stdout);
	}
	snprintf(last, lastlen, "%s", line);
}

/* Sleeps for seconds. */
static void
pause_for(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t) seconds;
	ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Runs "goodjob batch wait ID". A lost connection is re-established with
 * backoff until --timeout runs out.
 */
static int
batch_wait(const char *id, double interval, double timeout)
{
	const char *params[1] = {id};
	bool		tty = isatty(STDOUT_FILENO);
	double		deadline = timeout > 0 ? gj_now() + timeout : INFINITY;
	char		last[256] = "";
	gj_logger	log;
	gj_conn		conn;
	batch_status st;

	gj_logger_init(&log, GJ_LOG_TEXT, stderr, false, NULL);
	gj_conn_init(&conn, cli_dsn ? cli_dsn : "", "batch wait", &log);
	conn.pg = cli_connect("batch wait");
	conn.connected_at = gj_now();
	require_batch_support(conn.pg, "batch wait");

	for (;;)
	{
		PGresult   *res = NULL;
		char	   *error = NULL;

		if (gj_conn_ensure(&conn, gj_now()))
			res = gj_conn_exec(&conn, BATCH_STATUS_SQL, 1, params, &error);
		if (res == NULL && conn.pg != NULL)
			cli_fail("batch wait", "%s", error);
		free(error);
		if (res != NULL)
		{
			bool		exists = parse_status(res, &st);

			PQclear(res);
			if (!exists)
				cli_fail("batch wait", "batch %s does not exist", id);
			report_progress(id, &st, tty, last, sizeof(last));
			if (st.finished)
				break;
		}
		if (gj_now() >= deadline)
		{
			if (tty)
				putchar('\n');
			fprintf(stderr, "goodjob batch wait: batch %s has not finished after %g s\n", id, timeout);
			gj_conn_close(&conn);
			return EXIT_TIMEOUT;
		}
		pause_for(conn.pg != NULL ? interval : GJ_MAX(0.05, conn.next_attempt - gj_now()));
	}
	if (tty)
		putchar('\n');
	printf("batch %s %s\n", id, st.discarded ? "finished with discarded jobs" : "succeeded");
	gj_conn_close(&conn);
	return st.discarded ? EXIT_FAILURE : 0;
}

/* Runs "goodjob batch SUBCOMMAND". */
int
cmd_batch(int argc, char **argv)
{
	const char *sub;
	double		interval = 0.5;
	double		timeout = 0;
	int64_t		v;
	int			c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
	{
		if (argc < 2)
			cli_usage_error("batch", "missing the subcommand (show or wait)");
		fputs(batch_usage, stdout);
		return 0;
	}
	sub = argv[1];
	if (strcmp(sub, "show") != 0 && strcmp(sub, "wait") != 0)
		cli_usage_error("batch", "unknown subcommand \"%s\" (expected show or wait)", sub);

	while ((c = cli_getopt(argc - 1, argv + 1, "batch", ":h", batch_options)) != -1)
	{
		switch (c)
		{
			case OPT_INTERVAL:
				if (!gj_parse_seconds(optarg, &interval) || interval < 0.01)
					cli_usage_error("batch", "invalid --interval \"%s\": expected seconds (at least 0.01)", optarg);
				break;
			case OPT_WAIT_TIMEOUT:
				if (!gj_parse_seconds(optarg, &timeout) || timeout == 0)
					cli_usage_error("batch", "invalid --timeout \"%s\": expected a positive number of seconds", optarg);
				break;
			case OPT_HELP:
				fputs(batch_usage, stdout);
				return 0;
			default:
				cli_usage_error("batch", "unexpected option");
		}
	}
	if (optind + 1 >= argc)
		cli_usage_error("batch", "missing the batch id");
	if (optind + 2 < argc)
		cli_usage_error("batch", "unexpected argument \"%s\"", argv[optind + 2]);
	if (!gj_parse_int64(argv[optind + 1], 1, INT64_MAX, &v))
		cli_usage_error("batch", "invalid batch id \"%s\": expected a positive integer",
						argv[optind + 1]);
	if (strcmp(sub, "show") == 0)
		return batch_show(argv[optind + 1]);
	return batch_wait(argv[optind + 1], interval, timeout);
}
