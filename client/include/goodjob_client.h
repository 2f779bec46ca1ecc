/*-------------------------------------------------------------------------
 * goodjob_client.h
 *	  Embed a goodjob worker in a C program (libpq + pthreads only).
 *
 * A worker claims jobs with goodjob.claim(), runs the handler registered
 * for each job's class on one of its executor threads, and reports the
 * outcome with goodjob.complete() / goodjob.fail(), renewing leases with
 * goodjob.heartbeat() while the job runs.
 *
 *	  gj_config	cfg;
 *	  gj_worker *w;
 *
 *	  gj_config_init(&cfg);
 *	  cfg.queues = "mail,default";
 *	  cfg.concurrency = 4;
 *	  w = gj_worker_new(&cfg, errbuf, sizeof(errbuf));
 *	  gj_worker_handle(w, "SendEmail", send_email, NULL);
 *	  (install a SIGTERM handler that calls gj_worker_stop(w))
 *	  gj_worker_run(w);			returns once stopped
 *	  gj_worker_free(w);
 *
 * Threads and connections: a worker has one or more lanes (cfg.connections;
 * two when concurrency is 2 or more). Each lane is a dispatcher with its own
 * database connection that claims (for its share of the executors, plus the
 * jobs claimed ahead, in one call), completes (many jobs in one call, with
 * the next claim), fails and heartbeats; gj_worker_run() runs the first lane
 * and a thread each the others, so two server backends work at once. N
 * executor threads run the handlers and never touch the database. One more
 * thread holds one more connection that LISTENs on channel "goodjob" and
 * wakes the lanes at once when a job is enqueued in one of its queues. So a
 * worker uses lanes + 1 connections whatever its concurrency. Every statement
 * is a single parameterized PQexecParams call (unnamed statement, no session
 * state), so the work connection can go through PgBouncer in transaction
 * pooling mode; LISTEN needs a session, so point listen_dsn at the server
 * itself (or disable it: the poll interval then bounds the latency).
 *-------------------------------------------------------------------------
 */
#ifndef GOODJOB_CLIENT_H
#define GOODJOB_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C"
{
#endif

typedef struct gj_worker gj_worker;

/* What a handler tells the worker about its job. */
typedef enum gj_outcome
{
	GJ_SUCCESS = 0,				/* goodjob.complete() */
	GJ_RETRY = 1,				/* goodjob.fail(): retried with backoff while
								 * attempts are left */
	GJ_DISCARD = 2				/* goodjob.fail(retry => false) */
} gj_outcome;

/*
 * The job a handler runs. Strings are owned by the worker and valid until
 * the handler returns.
 */
typedef struct gj_job
{
	int64_t		id;
	int32_t		attempt;		/* this attempt's number: the fencing token */
	int32_t		max_attempts;
	int32_t		priority;
	const char *job_class;
	const char *queue_name;
	const char *args;			/* the args column as JSON text */
	int64_t		batch_id;		/* 0 when the job is in no batch */
	int64_t		batch_callback_id;	/* 0 unless a batch callback job */
	void	   *internal;		/* the worker's; do not touch */
} gj_job;

/*
 * A handler runs one job on an executor thread and returns its outcome;
 * on failure it may say why with gj_job_set_error(). It should return soon
 * once gj_job_cancelled() is true.
 */
typedef gj_outcome (*gj_handler) (gj_job *job, void *arg);

typedef enum gj_log_format
{
	GJ_LOG_TEXT = 0,
	GJ_LOG_JSON = 1
} gj_log_format;

/* Worker settings; gj_config_init() fills in the defaults shown. */
typedef struct gj_config
{
	const char *dsn;			/* NULL or "": the PG* environment */
	const char *listen_dsn;		/* NULL: dsn */
	int			listen;			/* 1: LISTEN goodjob for wake-ups */
	const char *queues;			/* GoodJob queue syntax, "*" */
	const char *worker_name;	/* locked_by; NULL: "host:pid" */
	int			concurrency;	/* executor threads, 1 */
	int			connections;	/* lanes (dispatchers, each with a
								 * connection), at most concurrency; 0:
								 * 2 when concurrency >= 2, else 1 */
	int			prefetch;		/* most jobs claimed ahead of free
								 * executors, 200 (split among the
								 * lanes): as many as they finish in
								 * about 50 ms at the recent run time of
								 * a job; 0: none */
	double		lease;			/* seconds a claim lasts, 60; renewed every
								 * lease/3 while the job runs */
	double		poll_interval;	/* seconds between claims while idle, 1 */
	double		grace;			/* seconds running jobs get to finish after
								 * gj_worker_stop(), 30 */
	gj_log_format log_format;	/* GJ_LOG_TEXT */
	FILE	   *log_stream;		/* NULL: stderr */
	int			verbose;		/* 1: also log claims and heartbeats */
} gj_config;

extern void gj_config_init(gj_config *cfg);

/*
 * Returns a new worker, or NULL with a message in errbuf when cfg is
 * invalid (bad queue syntax, concurrency < 1, ...). Does not connect yet.
 */
extern gj_worker *gj_worker_new(const gj_config *cfg, char *errbuf, size_t errlen);

/*
 * Registers fn for job_class ("*" matches any class without its own
 * handler). Returns 0, or -1 if the class already has one.
 */
extern int	gj_worker_handle(gj_worker *w, const char *job_class,
							 gj_handler fn, void *arg);

/*
 * Registers a shell command for job_class: /bin/sh -c command, the args
 * JSON on stdin, GOODJOB_JOB_ID, GOODJOB_ATTEMPT, GOODJOB_JOB_CLASS,
 * GOODJOB_QUEUE_NAME, GOODJOB_BATCH_ID and GOODJOB_BATCH_CALLBACK_ID
 * (empty when none) in its environment. Exit 0 succeeds; anything else
 * fails with the tail of stderr. timeout > 0 kills its process group
 * (SIGTERM, then SIGKILL) after that many seconds and fails the job.
 */
extern int	gj_worker_handle_command(gj_worker *w, const char *job_class,
									 const char *command, double timeout);

/*
 * Runs until stopped: returns 0 after a clean stop, 1 if jobs could not be
 * handed back (they come back when their leases expire).
 */
extern int	gj_worker_run(gj_worker *w);

/*
 * Asks the worker to stop; async-signal-safe, so call it from a SIGTERM
 * handler. The first call stops claiming and lets running jobs finish
 * within the grace period; then (or at a second call) the jobs still
 * running are cancelled and handed back with goodjob.fail(..., 'worker
 * shutting down', retry => true, retry_at => now()).
 */
extern void gj_worker_stop(gj_worker *w);

/* Frees a worker that is not running. */
extern void gj_worker_free(gj_worker *w);

/* Sets the error a failing handler reports (printf format). */
extern void gj_job_set_error(gj_job *job, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* True once the worker gave up waiting for this job (shutdown). */
extern int	gj_job_cancelled(const gj_job *job);

#ifdef __cplusplus
}
#endif

#endif							/* GOODJOB_CLIENT_H */
