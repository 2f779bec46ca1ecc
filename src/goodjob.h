/*-------------------------------------------------------------------------
 * goodjob.h
 *	  Declarations shared by the goodjob extension's source files.
 *-------------------------------------------------------------------------
 */
#ifndef GOODJOB_H
#define GOODJOB_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"

/* GUCs (goodjob.c) */
extern char *goodjob_database_names;
extern int	goodjob_maintenance_interval_ms;
extern int	goodjob_retention_s;
extern int	goodjob_vacuum_threshold;
extern int	goodjob_default_lease_ms;
extern int	goodjob_default_max_attempts;
extern int	goodjob_backoff_base_s;
extern double goodjob_backoff_exponent;
extern double goodjob_backoff_jitter;

/* Longest lease a claim or heartbeat may ask for. */
#define GOODJOB_MAX_LEASE_USECS ((int64) 7 * USECS_PER_DAY)

/*
 * The public column list of goodjob.jobs, as selected from goodjob.active_jobs
 * (where finished_at is always NULL).
 */
#define GOODJOB_ACTIVE_COLUMNS \
	"id, queue_name, priority, job_class, args, state, scheduled_at, " \
	"created_at, attempts, max_attempts, locked_by, locked_at, " \
	"lease_expires_at, NULL::timestamptz AS finished_at, error, batch_id, " \
	"batch_callback_id"

/*
 * Moves the rows of a CTE named "d" (deleted from goodjob.active_jobs) into
 * goodjob.finished_jobs. The three arguments are SQL expressions for the
 * final state, finished_at and error.
 */
#define GOODJOB_INSERT_FINISHED_FROM_D(state, finished_at, error) \
	"INSERT INTO goodjob.finished_jobs (id, queue_name, priority, job_class, " \
	"args, state, scheduled_at, created_at, attempts, max_attempts, " \
	"locked_by, locked_at, lease_expires_at, finished_at, error, batch_id, " \
	"batch_callback_id) " \
	"SELECT d.id, d.queue_name, d.priority, d.job_class, d.args, " state ", " \
	"d.scheduled_at, d.created_at, d.attempts, d.max_attempts, d.locked_by, " \
	"d.locked_at, d.lease_expires_at, " finished_at ", " error ", d.batch_id, " \
	"d.batch_callback_id FROM d"

/*
 * Appended to GOODJOB_INSERT_FINISHED_FROM_D: one boolean per moved job,
 * true when it belongs to a batch or is a batch's callback; see
 * goodjob_wake_if_batch_touched().
 */
#define GOODJOB_RETURNING_BATCH_TOUCHED \
	" RETURNING batch_id IS NOT NULL OR batch_callback_id IS NOT NULL"

/* args.c: argument checks shared by the SQL-callable functions */
extern void goodjob_require_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern int64 goodjob_lease_usecs(FunctionCallInfo fcinfo, int argno);
extern void goodjob_check_job_class(text *job_class);
extern void goodjob_check_queue_name(const char *queue_name);
extern int32 goodjob_max_attempts_arg(FunctionCallInfo fcinfo, int argno);
extern void goodjob_check_attempt(int32 attempt);
extern void goodjob_check_finite(TimestampTz ts, const char *name);
extern int	goodjob_array_arg_length(FunctionCallInfo fcinfo, int argno,
									 const char *name, bool allow_null_elements);
extern bool goodjob_lock_batch(int64 batch_id, bool exclusive);
extern void goodjob_check_batch_exists(int64 batch_id);
extern void goodjob_report_cancelled(int64 batch_id) pg_attribute_noreturn();
extern void goodjob_lock_job_batch(int64 job_id);
extern void goodjob_ensure_job_exists(int64 job_id);
extern TimestampTz goodjob_retry_time(int32 attempt, TimestampTz now);
extern void goodjob_notify_enqueued(const char *queue_name, int64 count);
extern void goodjob_wake_if_batch_touched(void);
extern SPIPlanPtr goodjob_plan(SPIPlanPtr *cache, const char *sql,
							   int nargs, Oid *argtypes);
extern SPIPlanPtr goodjob_plan_ext(SPIPlanPtr *cache, const char *sql,
								   int nargs, Oid *argtypes, bool generic);

#endif							/* GOODJOB_H */
