/*-------------------------------------------------------------------------
 * cmd_enqueue.c
 *	  "goodjob enqueue": adds one job with goodjob.enqueue() and prints its
 *	  id. The args JSON is checked here first, for a clear message.
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char enqueue_usage[] =
"Usage: goodjob enqueue CLASS [ARGS_JSON] [OPTIONS]\n"
"\n"
"Adds a job of class CLASS with arguments ARGS_JSON (default {}; \"-\" reads\n"
"them from stdin) and prints its id.\n"
"\n"
"Options:\n"
"  -q, --queue QUEUE        queue name (default \"default\")\n"
"  -p, --priority P         priority, smaller runs first (default 0)\n"
"  --at TIME                run at or after TIME (a timestamptz, e.g.\n"
"                           \"2030-01-01 12:00+00\")\n"
"  --in INTERVAL            run after INTERVAL from now (e.g. \"30 seconds\")\n"
"  --batch ID               add the job to batch ID\n"
"  --max-attempts N         attempts before the job is discarded\n"
"                           (default goodjob.default_max_attempts)\n"
"  --dsn DSN                connection string (default: PG* variables)\n"
"  -h, --help               show this help\n"
"\n"
"Exit status: 0 success, 1 failure, 2 bad input (e.g. malformed JSON).\n";

enum
{
	OPT_AT = 2000, OPT_IN, OPT_BATCH, OPT_MAX_ATTEMPTS
};

static const struct option enqueue_options[] = {
	{"queue", required_argument, NULL, 'q'},
	{"priority", required_argument, NULL, 'p'},
	{"at", required_argument, NULL, OPT_AT},
	{"in", required_argument, NULL, OPT_IN},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
	{"dsn", required_argument, NULL, OPT_DSN},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

/* Reads all of stdin (malloc'd). */
static char *
read_stdin(void)
{
	gj_buf		b;
	char		chunk[4096];
	size_t		n;

	gj_buf_init(&b);
	gj_buf_append(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		gj_buf_append(&b, chunk, n);
	if (ferror(stdin))
		cli_fail("enqueue", "could not read the args JSON from stdin");
	return b.data;
}

/* Runs "goodjob enqueue". */
int
cmd_enqueue(int argc, char **argv)
{
	const char *queue = "default";
	const char *priority = "0";
	const char *at = NULL;
	const char *in = NULL;
	const char *batch = NULL;
	const char *max_attempts = NULL;
	const char *job_class;
	char	   *args;
	char		msg[256];
	const char *params[8];
	int64_t		v;
	PGconn	   *pg;
	PGresult   *res;
	int			c;

	while ((c = cli_getopt(argc, argv, "enqueue", ":q:p:h", enqueue_options)) != -1)
	{
		switch (c)
		{
			case 'q':
				queue = optarg;
				break;
			case 'p':
				if (!gj_parse_int64(optarg, INT32_MIN, INT32_MAX, &v))
					cli_usage_error("enqueue", "invalid priority \"%s\": expected an integer", optarg);
				priority = optarg;
				break;
			case OPT_AT:
				at = optarg;
				break;
			case OPT_IN:
				in = optarg;
				break;
			case OPT_BATCH:
				if (!gj_parse_int64(optarg, 1, INT64_MAX, &v))
					cli_usage_error("enqueue", "invalid batch id \"%s\": expected a positive integer", optarg);
				batch = optarg;
				break;
			case OPT_MAX_ATTEMPTS:
				if (!gj_parse_int64(optarg, 1, INT32_MAX, &v))
					cli_usage_error("enqueue", "invalid --max-attempts \"%s\": expected a positive integer", optarg);
				max_attempts = optarg;
				break;
			case OPT_HELP:
				fputs(enqueue_usage, stdout);
				return 0;
			default:
				cli_usage_error("enqueue", "unexpected option");
		}
	}
	if (optind >= argc)
		cli_usage_error("enqueue", "missing the job class");
	if (argc - optind > 2)
		cli_usage_error("enqueue", "unexpected argument \"%s\"", argv[optind + 2]);
	if (at != NULL && in != NULL)
		cli_usage_error("enqueue", "give --at or --in, not both");
	job_class = argv[optind];
	if (*job_class == '\0')
		cli_usage_error("enqueue", "the job class must not be empty");
	if (argc - optind < 2)
		args = gj_strdup("{}");
	else if (strcmp(argv[optind + 1], "-") == 0)
		args = read_stdin();
	else
		args = gj_strdup(argv[optind + 1]);
	if (!gj_json_check(args, msg, sizeof(msg)))
		cli_usage_error("enqueue", "malformed ARGS_JSON: %s", msg);

	params[0] = job_class;
	params[1] = args;
	params[2] = queue;
	params[3] = priority;
	params[4] = at;
	params[5] = max_attempts;
	params[6] = batch;
	params[7] = in;
	pg = cli_connect("enqueue");
	res = cli_exec(pg, "enqueue",
				   "SELECT goodjob.enqueue($1::text, $2::jsonb, $3::text, $4::integer,"
				   " COALESCE($5::timestamptz,"
				   " pg_catalog.now() OPERATOR(pg_catalog.+) $8::interval),"
				   " $6::integer, $7::bigint)", 8, params);
	printf("%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(pg);
	free(args);
	return 0;
}
