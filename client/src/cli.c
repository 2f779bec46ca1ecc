/*-------------------------------------------------------------------------
 * cli.c
 *	  The goodjob command: global options, command dispatch, and the
 *	  helpers every command shares (option errors, connecting with a few
 *	  retries, running a statement with clear errors).
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define GOODJOB_CLIENT_VERSION "0.1.0"

/* Connection attempts of a one-shot command before it gives up. */
#define CONNECT_TRIES 4

const char *cli_dsn = NULL;

static const char main_usage[] =
"goodjob: the command-line client of the goodjob job queue.\n"
"\n"
"Usage:\n"
"  goodjob [--dsn DSN] COMMAND [OPTIONS]\n"
"\n"
"Commands:\n"
"  work         run jobs (a worker)\n"
"  enqueue      add a job and print its id\n"
"  stats        show a table of jobs per queue\n"
"  batch show   show a batch and its progress\n"
"  batch wait   wait for a batch to finish, with a progress bar\n"
"  help         show help for a command (goodjob help work)\n"
"\n"
"Options:\n"
"  --dsn DSN    libpq connection string or URI (default: the PG* environment\n"
"               variables: PGHOST, PGPORT, PGDATABASE, PGUSER, ...)\n"
"  -h, --help   show this help\n"
"  --version    show the version\n"
"\n"
"Every command takes --help, and --dsn after the command name too.\n"
"Exit status: 0 success, 1 failure, 2 bad usage or input.\n";

/* Prints "goodjob COMMAND: message" and a hint, then exits with status 2. */
void
cli_usage_error(const char *command, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "goodjob%s%s: ", command ? " " : "", command ? command : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"goodjob %s%s--help\".\n", command ? command : "",
			command ? " " : "");
	exit(EXIT_USAGE);
}

/* Prints "goodjob COMMAND: message", then exits with status 1. */
void
cli_fail(const char *command, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "goodjob %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

/*
 * getopt_long() with goodjob's error messages; handles --dsn itself.
 * Returns the option, OPT_HELP for -h/--help, or -1 at the end.
 */
int
cli_getopt(int argc, char **argv, const char *command, const char *shortopts,
		   const struct option *longopts)
{
	int			c;

	opterr = 0;
	for (;;)
	{
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == OPT_DSN)
		{
			cli_dsn = optarg;
			continue;
		}
		if (c == ':')
			cli_usage_error(command, "option \"%s\" needs a value", argv[optind - 1]);
		if (c == '?' && optopt > 0 && optopt < 256)
			cli_usage_error(command, "unknown option \"-%c\"", optopt);
		if (c == '?' && optopt >= 256)
			cli_usage_error(command, "option \"%s\" takes no value", argv[optind - 1]);
		if (c == '?')
			cli_usage_error(command, "unknown option \"%s\"", argv[optind - 1]);
		return c;
	}
}

/* Sleeps for seconds. */
static void
sleep_seconds(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t) seconds;
	ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Connects to the database of --dsn or the PG* environment. A server that
 * does not answer (or is starting up) is tried CONNECT_TRIES times with
 * growing delays; one that answers but refuses us (password, unknown
 * database) is not retried. Exits 2 for a malformed DSN, 1 on failure.
 */
PGconn *
cli_connect(const char *command)
{
	char		msg[512];
	double		delay = 0.5;
	int			attempt;

	if (!gj_dsn_check(cli_dsn, msg, sizeof(msg)))
		cli_usage_error(command, "%s", msg);
	for (attempt = 1;; attempt++)
	{
		char	   *error = NULL;
		PGconn	   *pg = gj_connect_once(cli_dsn, &error);
		PGPing		ping;

		if (pg != NULL)
			return pg;
		ping = gj_ping(cli_dsn);
		if (ping == PQPING_OK || ping == PQPING_NO_ATTEMPT || attempt == CONNECT_TRIES)
			cli_fail(command, "cannot connect to the database: %s%s", error,
					 attempt > 1 ? " (gave up after several attempts)" : "");
		fprintf(stderr, "goodjob %s: cannot connect to the database: %s (retrying in %.1f s)\n",
				command, error, delay);
		free(error);
		sleep_seconds(delay);
		delay *= 2;
	}
}

/*
 * Runs a parameterized statement. On error prints the server's message
 * (with DETAIL and HINT) and exits: 2 when the server rejected a value we
 * passed on (SQLSTATE classes 22 and 23), 1 otherwise.
 */
PGresult *
cli_exec(PGconn *pg, const char *command, const char *sql, int nparams,
		 const char *const *params)
{
	PGresult   *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state;
	char	   *msg;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	msg = gj_result_error(pg, res);
	if (gj_connection_broken(pg, res))
		cli_fail(command, "lost the connection to the database: %s", msg);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	fprintf(stderr, "goodjob %s: %s\n", command, msg);
	if (state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
		exit(EXIT_USAGE);
	if (state != NULL && strcmp(state, "42883") == 0)
		fprintf(stderr, "goodjob %s: is the goodjob extension installed in this database (CREATE EXTENSION goodjob)?\n",
				command);
	exit(EXIT_FAILURE);
}

/* True when the relation name (schema-qualified) exists. */
bool
cli_relation_exists(PGconn *pg, const char *command, const char *name)
{
	const char *params[1] = {name};
	PGresult   *res = cli_exec(pg, command,
							   "SELECT pg_catalog.to_regclass($1) IS NOT NULL", 1, params);
	bool		exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return exists;
}

/* Makes sure file descriptors 0, 1 and 2 are open (children inherit them). */
static void
ensure_std_fds(void)
{
	int			fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* Runs "goodjob help [COMMAND]". */
static int
cmd_help(int argc, char **argv)
{
	char	   *help_argv[4];

	if (argc < 2)
	{
		fputs(main_usage, stdout);
		return 0;
	}
	help_argv[0] = argv[1];
	help_argv[1] = "--help";
	help_argv[2] = NULL;
	if (strcmp(argv[1], "batch") == 0 && argc > 2)
	{
		help_argv[1] = argv[2];
		help_argv[2] = "--help";
		help_argv[3] = NULL;
	}
	if (strcmp(argv[1], "work") == 0)
		return cmd_work(2, help_argv);
	if (strcmp(argv[1], "enqueue") == 0)
		return cmd_enqueue(2, help_argv);
	if (strcmp(argv[1], "stats") == 0)
		return cmd_stats(2, help_argv);
	if (strcmp(argv[1], "batch") == 0)
		return cmd_batch(argc > 2 ? 3 : 2, help_argv);
	cli_usage_error(NULL, "unknown command \"%s\"", argv[1]);
}

/* Entry point: global options, then the command. */
int
main(int argc, char **argv)
{
	int			i = 1;

	ensure_std_fds();
	while (i < argc && argv[i][0] == '-')
	{
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			fputs(main_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0)
		{
			printf("goodjob %s (libpq %d)\n", GOODJOB_CLIENT_VERSION, PQlibVersion());
			return 0;
		}
		if (strcmp(argv[i], "--dsn") == 0 && i + 1 < argc)
		{
			cli_dsn = argv[i + 1];
			i += 2;
		}
		else if (strncmp(argv[i], "--dsn=", 6) == 0)
			cli_dsn = argv[i++] + 6;
		else if (strcmp(argv[i], "--dsn") == 0)
			cli_usage_error(NULL, "option \"--dsn\" needs a value");
		else
			cli_usage_error(NULL, "unknown option \"%s\"", argv[i]);
	}
	if (i >= argc)
		cli_usage_error(NULL, "no command given (work, enqueue, stats, batch)");

	argc -= i;
	argv += i;
	if (strcmp(argv[0], "work") == 0)
		return cmd_work(argc, argv);
	if (strcmp(argv[0], "enqueue") == 0)
		return cmd_enqueue(argc, argv);
	if (strcmp(argv[0], "stats") == 0)
		return cmd_stats(argc, argv);
	if (strcmp(argv[0], "batch") == 0)
		return cmd_batch(argc, argv);
	if (strcmp(argv[0], "help") == 0)
		return cmd_help(argc, argv);
	cli_usage_error(NULL, "unknown command \"%s\" (expected work, enqueue, stats, batch or help)",
					argv[0]);
}
