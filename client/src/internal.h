/*-------------------------------------------------------------------------
 * internal.h
 *	  Declarations shared by the goodjob client library's source files.
 *
 * Ownership: each lane's dispatcher (gj_worker_run runs the first, threads
 * the others) owns its work connection and every slot of its share that is
 * FREE or DONE; an executor thread owns the slot it is RUNNING. Slot states
 * and a lane's ring change only under that lane's mu.
 *-------------------------------------------------------------------------
 */
#ifndef GJ_INTERNAL_H
#define GJ_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "goodjob_client.h"

/* Bytes of a failed command's stderr kept as its error (the tail). */
#define GJ_ERROR_MAX 2048

/* Reconnect backoff: first delay, ceiling (seconds). */
#define GJ_BACKOFF_MIN 0.25
#define GJ_BACKOFF_MAX 10.0

/* Seconds after the grace period to keep trying to hand jobs back. */
#define GJ_HANDBACK_TIMEOUT 10.0

/* Attempts at reporting one outcome before leaving it to lease expiry. */
#define GJ_REPORT_TRIES 5

/* Most jobs completed by one statement. */
#define GJ_COMPLETE_CHUNK 1000

/*
 * Seconds of work claimed ahead of free executors: up to cfg.prefetch
 * jobs, as many as the executors are expected to finish in this time at
 * the recent average run time of a job.
 */
#define GJ_PREFETCH_HORIZON 0.05

/* ---- util.c: time, strings ---- */

#define GJ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GJ_MAX(a, b) ((a) > (b) ? (a) : (b))

typedef struct gj_buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} gj_buf;

extern double gj_now(void);
extern int	gj_poll_ms(double seconds);
extern void gj_format_wall_time(char *out, size_t outlen);
extern void *gj_malloc(size_t size);
extern char *gj_strdup(const char *s);
extern char *gj_strndup(const char *s, size_t n);
extern char *gj_printf(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern char *gj_vprintf(const char *fmt, va_list ap);
extern void gj_buf_init(gj_buf *b);
extern void gj_buf_append(gj_buf *b, const char *s, size_t n);
extern void gj_buf_puts(gj_buf *b, const char *s);
extern void gj_buf_printf(gj_buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void gj_buf_free(gj_buf *b);
extern void gj_utf8_sanitize(char *s, size_t len);
extern void gj_one_line(char *s);
extern bool gj_parse_seconds(const char *s, double *out);
extern bool gj_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* ---- json.c ---- */

extern bool gj_json_check(const char *text, char *msg, size_t msglen);
extern void gj_json_escape(gj_buf *out, const char *s);
extern char *gj_json_get_string(const char *json, const char *key);

/* ---- queues.c: client-side copy of the server's queue syntax ---- */

typedef struct gj_queues
{
	enum
	{
		GJ_QUEUES_ALL, GJ_QUEUES_ONLY, GJ_QUEUES_EXCEPT, GJ_QUEUES_ORDERED
	}			kind;
	int			n;
	char	  **names;
} gj_queues;

extern bool gj_queues_parse(const char *spec, gj_queues *out, char *msg, size_t msglen);
extern bool gj_queues_match(const gj_queues *q, const char *queue_name);
extern void gj_queues_free(gj_queues *q);

/* ---- log.c ---- */

typedef enum gj_level
{
	GJ_DEBUG, GJ_INFO, GJ_WARNING, GJ_ERROR
} gj_level;

typedef struct gj_logger
{
	gj_log_format format;
	FILE	   *stream;
	bool		verbose;
	const char *worker_name;
	pthread_mutex_t mu;
} gj_logger;

extern void gj_logger_init(gj_logger *lg, gj_log_format format, FILE *stream,
						   bool verbose, const char *worker_name);
extern void gj_log(gj_logger *lg, gj_level level, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void gj_log_job(gj_logger *lg, const gj_job *job, const char *outcome,
					   double duration_ms, const char *error);
extern void gj_log_job_line(gj_logger *lg, gj_buf *lines, const gj_job *job,
							const char *outcome, double duration_ms, const char *error);
extern void gj_log_write(gj_logger *lg, gj_buf *lines);

/* ---- conn.c: connections that come back ---- */

typedef struct gj_conn
{
	PGconn	   *pg;
	const char *dsn;
	const char *what;			/* "work" or "listen", for messages */
	gj_logger  *log;
	double		backoff;		/* next delay, seconds */
	double		next_attempt;	/* gj_now() of the next connect attempt */
	double		down_since;		/* 0 while connected or never connected */
	double		connected_at;	/* gj_now() of the last successful connect */
	bool		ever_connected;
} gj_conn;

extern bool gj_dsn_check(const char *dsn, char *msg, size_t msglen);
extern PGconn *gj_connect_once(const char *dsn, char **error);
extern PGPing gj_ping(const char *dsn);
extern void gj_conn_init(gj_conn *c, const char *dsn, const char *what, gj_logger *log);
extern bool gj_conn_ensure(gj_conn *c, double now);
extern void gj_conn_lost(gj_conn *c, const char *why);
extern void gj_conn_close(gj_conn *c);
extern PGresult *gj_conn_exec(gj_conn *c, const char *sql, int nparams,
							  const char *const *params, char **error);
extern char *gj_result_error(PGconn *pg, const PGresult *res);
extern bool gj_connection_broken(PGconn *pg, const PGresult *res);
extern double gj_backoff_next(double *backoff);

/* ---- worker state ---- */

typedef struct gj_handler_entry
{
	char	   *job_class;
	gj_handler	fn;
	void	   *arg;
	void	   *owned;			/* freed with the worker (command handlers) */
} gj_handler_entry;

typedef enum gj_slot_state
{
	SLOT_FREE,					/* no job */
	SLOT_WAITING,				/* claimed, in the ring, not started */
	SLOT_RUNNING,				/* an executor runs its handler */
	SLOT_DONE					/* finished (or handed back): to report */
} gj_slot_state;

typedef enum gj_handback
{
	HANDBACK_NONE,
	HANDBACK_WANTED,			/* fail(..., 'worker shutting down') due */
	HANDBACK_SENT				/* done; ignore the handler's outcome */
} gj_handback;

typedef struct gj_slot
{
	gj_job		job;			/* job.internal points back here */
	gj_slot_state state;
	gj_handback handback;
	const gj_handler_entry *handler;	/* NULL: no handler for the class */
	char	   *buf;			/* storage for job's strings */
	size_t		bufsize;
	gj_outcome	outcome;
	char	   *error;			/* malloc'd, from gj_job_set_error */
	atomic_int	cancelled;
	bool		lease_lost;		/* a heartbeat found the token gone */
	int			report_tries;
	int			lane;			/* index of the lane that claims and reports it */
	double		claimed_at;
	double		started_at;
	double		finished_at;
	double		next_beat;
} gj_slot;

typedef struct gj_listener
{
	pthread_t	thread;
	bool		started;
	gj_conn		conn;
	int			stop_pipe[2];
	atomic_int	stop;
} gj_listener;

/*
 * A lane: one dispatcher with its own connection, claiming into and
 * reporting from its own share of the slots (first .. first + nslots - 1),
 * with its own executors, ring and lock: lanes share nothing but the
 * listener and the log. Two lanes keep two server backends busy, so the
 * claims and completions of one overlap those of the other.
 */
typedef struct gj_lane
{
	gj_worker  *w;
	int			index;
	int			first;			/* its slots */
	int			nslots;
	int			concurrency;	/* its share of the executors */
	int			prefetch;		/* its share of cfg.prefetch */
	gj_conn		work;
	int			wake_pipe[2];
	atomic_int	claim_wanted;
	atomic_int	server_seen;	/* the listener connected: retry at once */
	double		claim_backoff;
	double		report_retry_at;
	double		report_backoff;
	bool		report_errors;	/* a statement error in this report pass */
	pthread_t	thread;			/* lanes after the first */
	bool		thread_started;
	int			result;

	/* its executors; the state of its slots and its ring change under mu */
	bool		mu_initialized;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;
	int		   *ring;			/* indexes of WAITING slots, FIFO */
	int			ring_head;
	int			ring_count;
	bool		exiting;
	pthread_t  *executors;
	int			nexecutors;
	double		run_avg;		/* seconds a job ran, moving average; 0 */
} gj_lane;

struct gj_worker
{
	gj_config	cfg;			/* string fields point into the copies below */
	char	   *dsn;
	char	   *listen_dsn;
	char	   *queue_spec;
	char	   *name;
	gj_queues	queues;
	gj_logger	log;

	gj_handler_entry *handlers;
	int			nhandlers;
	int			fallback;		/* index of the "*" handler, or -1 */

	gj_slot    *slots;
	int			nslots;


	/* dispatchers */
	gj_lane    *lanes;
	int			nlanes;
	atomic_int	stop_requests;
	bool		running;

	gj_listener listener;
};

/* ---- executor.c ---- */

extern bool gj_executors_start(gj_worker *w, char *msg, size_t msglen);
extern void gj_executors_stop(gj_worker *w);
extern void gj_ring_push(gj_lane *l, int slot);
extern int	gj_ring_take_lane(gj_lane *l, int *out);

/* ---- worker.c ---- */

extern void gj_wake(gj_lane *l);
extern void gj_wake_all(gj_worker *w);
extern int	gj_thread_create(pthread_t *thread, void *(*fn) (void *), void *arg);

/* ---- report.c ---- */

extern void gj_slot_release(gj_slot *s);
extern bool gj_report(gj_lane *l, double now, int *carry, int *ncarry);
extern bool gj_complete(gj_lane *l, const int *idx, int n, double now);
/* the ids and attempts (fencing tokens) of slots idx[0..n), as array text */
extern void gj_token_arrays(gj_worker *w, const int *idx, int n,
								 gj_buf *ids, gj_buf *attempts);
/* logs and releases slots idx[0..n) after the statement res completed them */
extern void gj_completions_done(gj_lane *l, const int *idx, int n, PGresult *res);
/* notes that the statement completing slots idx[0..n) failed */
extern void gj_completions_failed(gj_lane *l, const int *idx, int n,
								  const char *sqlerr, double now);

/* ---- claim.c ---- */

extern int	gj_claim(gj_lane *l, int max_jobs, double now,
					 const int *done, int ndone);
extern int	gj_fail_job(gj_lane *l, gj_slot *s, const char *error,
						bool retry, bool retry_now, char **new_state);

/* ---- heartbeat.c ---- */

extern void gj_heartbeat(gj_lane *l, double now);
extern double gj_heartbeat_due(gj_lane *l);

/* ---- listen.c ---- */

extern bool gj_listener_start(gj_worker *w, char *msg, size_t msglen);
extern void gj_listener_stop(gj_worker *w);

/* ---- command.c ---- */

extern gj_outcome gj_command_handler(gj_job *job, void *arg);
extern void gj_command_free(void *arg);

#endif							/* GJ_INTERNAL_H */
