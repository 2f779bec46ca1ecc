/*-------------------------------------------------------------------------
 * cli.h
 *	  Declarations shared by the goodjob command's source files.
 *
 * Exit statuses: 0 success, 1 failure (server unreachable, SQL error,
 * "batch wait" on a batch that finished with discarded jobs), 2 bad usage
 * or bad input (unknown command or option, malformed JSON or connection
 * string, invalid value rejected by the server), 3 "batch wait" timed out.
 *-------------------------------------------------------------------------
 */
#ifndef GJ_CLI_H
#define GJ_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include <libpq-fe.h>

#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3

/* Common option codes (long-only options use values above 255). */
#define OPT_DSN 1000
#define OPT_HELP 'h'

/* cli.c */
extern const char *cli_dsn;
extern void cli_usage_error(const char *command, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));
extern void cli_fail(const char *command, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));
extern int	cli_getopt(int argc, char **argv, const char *command,
					   const char *shortopts, const struct option *longopts);
extern PGconn *cli_connect(const char *command);
extern PGresult *cli_exec(PGconn *pg, const char *command, const char *sql,
						  int nparams, const char *const *params);
extern bool cli_relation_exists(PGconn *pg, const char *command, const char *name);

/* one function per command: argv[0] is the command's name */
extern int	cmd_work(int argc, char **argv);
extern int	cmd_enqueue(int argc, char **argv);
extern int	cmd_stats(int argc, char **argv);
extern int	cmd_batch(int argc, char **argv);

#endif							/* GJ_CLI_H */
