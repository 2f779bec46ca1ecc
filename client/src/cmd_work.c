/*-------------------------------------------------------------------------
 * cmd_work.c
 *	  "goodjob work": a worker that runs shell commands (or the built-in
 *	  :noop) per job class, built on the client library.
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char work_usage[] =
"Usage: goodjob work --handler CLASS=COMMAND [--handler ...] [OPTIONS]\n"
"\n"
"Claims jobs from goodjob.claim() and runs, for each, the COMMAND registered\n"
"for its class with /bin/sh -c. The command gets the job's args JSON on stdin\n"
"and GOODJOB_JOB_ID, GOODJOB_ATTEMPT, GOODJOB_JOB_CLASS, GOODJOB_QUEUE_NAME,\n"
"GOODJOB_BATCH_ID and GOODJOB_BATCH_CALLBACK_ID (empty when none) in its\n"
"environment. Exit status 0 completes the job; anything else fails it with the\n"
"last 2 kB of the command's stderr as the error, and the job is retried with the\n"
"server's backoff while it has attempts left. The command's stdout goes to the\n"
"worker's stdout. One log line per job outcome goes to stderr.\n"
"\n"
"Options:\n"
"  --handler CLASS=COMMAND  run COMMAND for jobs of CLASS (repeatable). CLASS \"*\"\n"
"                           handles every class without its own handler;\n"
"                           COMMAND \":noop\" completes the job at once without\n"
"                           running anything (for benchmarks).\n"
"  -q, --queues SPEC        queues to work: \"*\" (default), \"a,b\", \"-a,b\" (all\n"
"                           but), \"+a,b\" (a's jobs before b's)\n"
"  -c, --concurrency N      jobs run at once (default 1)\n"
"  --timeout SECONDS        kill a command running longer (SIGTERM to its process\n"
"                           group, SIGKILL 5 s later) and fail the job with\n"
"                           \"timed out after N s\" (default: no limit)\n"
"  --lease SECONDS          lease of a claimed job, renewed every lease/3 while it\n"
"                           runs (default 60)\n"
"  --poll-interval SECONDS  time between claims while idle; NOTIFY wakes the\n"
"                           worker sooner (default 1)\n"
"  --grace SECONDS          on SIGTERM or SIGINT, time running jobs get to finish\n"
"                           before they are killed and handed back (default 30)\n"
"  --connections N          lanes claiming and reporting in parallel, each with\n"
"                           its own connection (default 2, or 1 at concurrency 1)\n"
"  --prefetch N             most jobs claimed ahead of free executors: as many\n"
"                           as they finish in about 50 ms (default 200; 0: none)\n"
"  --log-format text|json   log lines as text (default) or JSON objects\n"
"  --name NAME              worker name stored in locked_by (default host:pid)\n"
"  --listen-dsn DSN         connection for LISTEN (default: --dsn); with PgBouncer\n"
"                           in transaction mode, point it at the server itself\n"
"  --no-listen              do not LISTEN; rely on the poll interval\n"
"  -v, --verbose            also log connections, claims and heartbeats\n"
"  --dsn DSN                connection string (default: PG* variables)\n"
"  -h, --help               show this help\n"
"\n"
"Jobs whose class has no handler (and no \"*\" handler) are failed with the error\n"
"'no handler for job class ...' and retried with backoff, so that a worker that\n"
"has the handler can take them: route classes to workers with queues.\n"
"\n"
"Stopping: the first SIGTERM or SIGINT stops claiming and waits up to --grace\n"
"seconds for running jobs; then, or at a second signal, their commands are killed\n"
"and the jobs handed back (goodjob.fail(..., 'worker shutting down', retry_at =>\n"
"now())), so nothing is lost. The worker reconnects with backoff whenever the\n"
"server is unreachable or restarts.\n";

enum
{
	OPT_HANDLER = 2000, OPT_TIMEOUT, OPT_LEASE, OPT_POLL, OPT_GRACE,
	OPT_PREFETCH, OPT_CONNECTIONS, OPT_LOG_FORMAT, OPT_NAME, OPT_LISTEN_DSN, OPT_NO_LISTEN
};

static const struct option work_options[] = {
	{"handler", required_argument, NULL, OPT_HANDLER},
	{"queues", required_argument, NULL, 'q'},
	{"concurrency", required_argument, NULL, 'c'},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"lease", required_argument, NULL, OPT_LEASE},
	{"poll-interval", required_argument, NULL, OPT_POLL},
	{"grace", required_argument, NULL, OPT_GRACE},
	{"prefetch", required_argument, NULL, OPT_PREFETCH},
	{"connections", required_argument, NULL, OPT_CONNECTIONS},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"name", required_argument, NULL, OPT_NAME},
	{"listen-dsn", required_argument, NULL, OPT_LISTEN_DSN},
	{"no-listen", no_argument, NULL, OPT_NO_LISTEN},
	{"verbose", no_argument, NULL, 'v'},
	{"dsn", required_argument, NULL, OPT_DSN},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

/* The worker the signal handler stops. */
static gj_worker *running_worker;

/* SIGTERM/SIGINT: ask the worker to stop (again: stop now). */
static void
on_stop_signal(int signo)
{
	(void) signo;
	if (running_worker != NULL)
		gj_worker_stop(running_worker);
}

/* The built-in :noop handler. */
static gj_outcome
noop_handler(gj_job *job, void *arg)
{
	(void) job;
	(void) arg;
	return GJ_SUCCESS;
}

/* Parses a --seconds style value or exits with a usage error. */
static double
seconds_arg(const char *option, const char *value, bool allow_zero)
{
	double		v;

	if (!gj_parse_seconds(value, &v) || (!allow_zero && v == 0))
		cli_usage_error("work", "invalid value \"%s\" for --%s: expected %s number of seconds",
						value, option, allow_zero ? "a" : "a positive");
	return v;
}

/* Parses an integer option within [min, max] or exits with a usage error. */
static int
int_arg(const char *option, const char *value, int min, int max)
{
	int64_t		v;

	if (!gj_parse_int64(value, min, max, &v))
		cli_usage_error("work", "invalid value \"%s\" for --%s: expected an integer from %d to %d",
						value, option, min, max);
	return (int) v;
}

/* Installs the stop handler and ignores SIGPIPE. */
static void
install_signals(gj_worker *w)
{
	struct sigaction sa;

	running_worker = w;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Runs "goodjob work". */
int
cmd_work(int argc, char **argv)
{
	gj_config	cfg;
	gj_worker  *w;
	char		msg[512];
	char	  **handlers = gj_malloc(sizeof(char *) * (size_t) argc);
	int			nhandlers = 0;
	double		timeout = 0;
	int			c;
	int			i;
	int			rc;

	gj_config_init(&cfg);
	while ((c = cli_getopt(argc, argv, "work", ":q:c:vh", work_options)) != -1)
	{
		switch (c)
		{
			case OPT_HANDLER:
				handlers[nhandlers++] = optarg;
				break;
			case 'q':
				cfg.queues = optarg;
				break;
			case 'c':
				cfg.concurrency = int_arg("concurrency", optarg, 1, 1024);
				break;
			case OPT_TIMEOUT:
				timeout = seconds_arg("timeout", optarg, false);
				break;
			case OPT_LEASE:
				cfg.lease = seconds_arg("lease", optarg, false);
				break;
			case OPT_POLL:
				cfg.poll_interval = seconds_arg("poll-interval", optarg, false);
				break;
			case OPT_GRACE:
				cfg.grace = seconds_arg("grace", optarg, true);
				break;
			case OPT_PREFETCH:
				cfg.prefetch = int_arg("prefetch", optarg, 0, 10000);
				break;
			case OPT_CONNECTIONS:
				cfg.connections = int_arg("connections", optarg, 1, 64);
				break;
			case OPT_LOG_FORMAT:
				if (strcmp(optarg, "text") == 0)
					cfg.log_format = GJ_LOG_TEXT;
				else if (strcmp(optarg, "json") == 0)
					cfg.log_format = GJ_LOG_JSON;
				else
					cli_usage_error("work", "invalid value \"%s\" for --log-format: expected text or json",
									optarg);
				break;
			case OPT_NAME:
				cfg.worker_name = optarg;
				break;
			case OPT_LISTEN_DSN:
				cfg.listen_dsn = optarg;
				break;
			case OPT_NO_LISTEN:
				cfg.listen = 0;
				break;
			case 'v':
				cfg.verbose = 1;
				break;
			case OPT_HELP:
				fputs(work_usage, stdout);
				return 0;
			default:
				cli_usage_error("work", "unexpected option");
		}
	}
	if (optind < argc)
		cli_usage_error("work", "unexpected argument \"%s\"", argv[optind]);
	if (nhandlers == 0)
		cli_usage_error("work", "no --handler given: the worker would have nothing to run");

	cfg.dsn = cli_dsn;
	w = gj_worker_new(&cfg, msg, sizeof(msg));
	if (w == NULL)
		cli_usage_error("work", "%s", msg);
	for (i = 0; i < nhandlers; i++)
	{
		char	   *eq = strchr(handlers[i], '=');
		char	   *job_class;
		const char *command;

		if (eq == NULL || eq == handlers[i])
			cli_usage_error("work", "invalid --handler \"%s\": expected CLASS=COMMAND",
							handlers[i]);
		command = eq + 1;
		if (command[strspn(command, " \t")] == '\0')
			cli_usage_error("work", "invalid --handler \"%s\": the command for class \"%.*s\" is empty",
							handlers[i], (int) (eq - handlers[i]), handlers[i]);
		job_class = gj_strndup(handlers[i], (size_t) (eq - handlers[i]));
		if (strcmp(command, ":noop") == 0)
			rc = gj_worker_handle(w, job_class, noop_handler, NULL);
		else if (command[0] == ':')
			cli_usage_error("work", "unknown built-in handler \"%s\" (the only one is \":noop\")",
							command);
		else
			rc = gj_worker_handle_command(w, job_class, command, timeout);
		if (rc != 0)
			cli_usage_error("work", "class \"%s\" has more than one --handler", job_class);
		free(job_class);
	}
	free(handlers);

	install_signals(w);
	rc = gj_worker_run(w);
	running_worker = NULL;
	gj_worker_free(w);
	return rc == 0 ? 0 : EXIT_FAILURE;
}
