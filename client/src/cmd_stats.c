/*-------------------------------------------------------------------------
 * cmd_stats.c
 *	  "goodjob stats": a table of jobs per queue, from goodjob.jobs.
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char stats_usage[] =
"Usage: goodjob stats [OPTIONS]\n"
"\n"
"Shows, per queue:\n"
"  queued        jobs ready to run now\n"
"  scheduled     queued jobs whose scheduled_at is in the future\n"
"  running       jobs a worker holds\n"
"  retried       queued or scheduled jobs that already failed at least once\n"
"  discarded_1h  jobs discarded in the last hour\n"
"  oldest_wait   how long the oldest ready job has been waiting\n"
"\n"
"Options:\n"
"  --json       print a JSON array instead of a table\n"
"  --dsn DSN    connection string (default: PG* variables)\n"
"  -h, --help   show this help\n";

enum
{
	OPT_JSON = 2000
};

static const struct option stats_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"dsn", required_argument, NULL, OPT_DSN},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

#define STATS_SQL \
	"WITH a AS (" \
	" SELECT queue_name," \
	"  pg_catalog.count(*) FILTER (WHERE state = 'queued' AND scheduled_at <= pg_catalog.now()) AS queued," \
	"  pg_catalog.count(*) FILTER (WHERE state = 'queued' AND scheduled_at > pg_catalog.now()) AS scheduled," \
	"  pg_catalog.count(*) FILTER (WHERE state = 'running') AS running," \
	"  pg_catalog.count(*) FILTER (WHERE state = 'queued' AND attempts > 0) AS retried," \
	"  pg_catalog.min(scheduled_at) FILTER (WHERE state = 'queued' AND scheduled_at <= pg_catalog.now()) AS oldest" \
	" FROM goodjob.jobs WHERE state IN ('queued', 'running') GROUP BY queue_name), " \
	"d AS (" \
	" SELECT queue_name, pg_catalog.count(*) AS discarded FROM goodjob.jobs" \
	" WHERE state = 'discarded' AND finished_at > pg_catalog.now() - interval '1 hour'" \
	" GROUP BY queue_name) " \
	"SELECT COALESCE(a.queue_name, d.queue_name), COALESCE(a.queued, 0)," \
	" COALESCE(a.scheduled, 0), COALESCE(a.running, 0), COALESCE(a.retried, 0)," \
	" COALESCE(d.discarded, 0)," \
	" EXTRACT(epoch FROM pg_catalog.now() - a.oldest)::float8" \
	" FROM a FULL JOIN d ON a.queue_name = d.queue_name ORDER BY 1"

#define NCOLS 7

static const char *const headers[NCOLS] = {
	"QUEUE", "QUEUED", "SCHEDULED", "RUNNING", "RETRIED", "DISCARDED_1H", "OLDEST_WAIT"
};

/* Writes an age in seconds as "42s", "5m03s", "2h05m" or "3d04h". */
static void
format_age(const char *seconds, char *out, size_t outlen)
{
	long		s;

	if (seconds == NULL || *seconds == '\0')
	{
		snprintf(out, outlen, "-");
		return;
	}
	s = (long) atof(seconds);
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outlen, "%lds", s);
	else if (s < 3600)
		snprintf(out, outlen, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, outlen, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(out, outlen, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
}

/* Prints the result as an aligned table. */
static void
print_table(PGresult *res)
{
	int			n = PQntuples(res);
	int			width[NCOLS];
	char		age[32];
	int			r;
	int			col;

	for (col = 0; col < NCOLS; col++)
		width[col] = (int) strlen(headers[col]);
	for (r = 0; r < n; r++)
		for (col = 0; col < NCOLS - 1; col++)
			if ((int) strlen(PQgetvalue(res, r, col)) > width[col])
				width[col] = (int) strlen(PQgetvalue(res, r, col));

	for (col = 0; col < NCOLS; col++)
		printf(col == 0 ? "%-*s" : "  %*s", width[col], headers[col]);
	putchar('\n');
	for (r = 0; r < n; r++)
	{
		for (col = 0; col < NCOLS - 1; col++)
			printf(col == 0 ? "%-*s" : "  %*s", width[col], PQgetvalue(res, r, col));
		format_age(PQgetisnull(res, r, NCOLS - 1) ? NULL : PQgetvalue(res, r, NCOLS - 1),
				   age, sizeof(age));
		printf("  %*s\n", width[NCOLS - 1], age);
	}
	if (n == 0)
		printf("(no queued, running or recently discarded jobs)\n");
}

/* Prints the result as a JSON array of objects. */
static void
print_json(PGresult *res)
{
	gj_buf		out;
	int			r;

	gj_buf_init(&out);
	gj_buf_puts(&out, "[");
	for (r = 0; r < PQntuples(res); r++)
	{
		gj_buf_puts(&out, r ? ",\n {\"queue\": " : "\n {\"queue\": ");
		gj_json_escape(&out, PQgetvalue(res, r, 0));
		gj_buf_printf(&out, ", \"queued\": %s, \"scheduled\": %s, \"running\": %s,"
					  " \"retried\": %s, \"discarded_1h\": %s, \"oldest_wait_seconds\": %s}",
					  PQgetvalue(res, r, 1), PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
					  PQgetvalue(res, r, 4), PQgetvalue(res, r, 5),
					  PQgetisnull(res, r, 6) ? "null" : PQgetvalue(res, r, 6));
	}
	gj_buf_puts(&out, PQntuples(res) ? "\n]\n" : "]\n");
	fputs(out.data, stdout);
	gj_buf_free(&out);
}

/* Runs "goodjob stats". */
int
cmd_stats(int argc, char **argv)
{
	bool		json = false;
	PGconn	   *pg;
	PGresult   *res;
	int			c;

	while ((c = cli_getopt(argc, argv, "stats", ":h", stats_options)) != -1)
	{
		switch (c)
		{
			case OPT_JSON:
				json = true;
				break;
			case OPT_HELP:
				fputs(stats_usage, stdout);
				return 0;
			default:
				cli_usage_error("stats", "unexpected option");
		}
	}
	if (optind < argc)
		cli_usage_error("stats", "unexpected argument \"%s\"", argv[optind]);

	pg = cli_connect("stats");
	res = cli_exec(pg, "stats", STATS_SQL, 0, NULL);
	if (json)
		print_json(res);
	else
		print_table(res);
	PQclear(res);
	PQfinish(pg);
	return 0;
}
