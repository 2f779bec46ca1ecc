/*-------------------------------------------------------------------------
 * log.c
 *	  Log lines of the worker, as text or as one JSON object per line.
 *
 * Each line is written with one call under a mutex, so lines from
 * different threads never interleave.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"debug", "info", "warning", "error"};

/* Sets up a logger. */
void
gj_logger_init(gj_logger *lg, gj_log_format format, FILE *stream, bool verbose,
			   const char *worker_name)
{
	lg->format = format;
	lg->stream = stream ? stream : stderr;
	lg->verbose = verbose;
	lg->worker_name = worker_name;
	pthread_mutex_init(&lg->mu, NULL);
}

/* Writes finished lines (each ending in a newline) in one write; frees them. */
void
gj_log_write(gj_logger *lg, gj_buf *lines)
{
	if (lines->len > 0)
	{
		pthread_mutex_lock(&lg->mu);
		fwrite(lines->data, 1, lines->len, lg->stream);
		fflush(lg->stream);
		pthread_mutex_unlock(&lg->mu);
	}
	gj_buf_free(lines);
}

/* Writes a finished line. */
static void
emit(gj_logger *lg, gj_buf *line)
{
	gj_buf_append(line, "\n", 1);
	gj_log_write(lg, line);
}

/* Starts a line with the time, level and (JSON) worker name. */
static void
begin(gj_logger *lg, gj_buf *line, gj_level level)
{
	char		ts[64];

	gj_format_wall_time(ts, sizeof(ts));
	gj_buf_init(line);
	if (lg->format == GJ_LOG_JSON)
	{
		gj_buf_printf(line, "{\"time\":\"%s\",\"level\":\"%s\",\"worker\":", ts,
					  level_names[level]);
		gj_json_escape(line, lg->worker_name ? lg->worker_name : "");
	}
	else
		gj_buf_printf(line, "%s %s: ", ts, level == GJ_INFO ? "LOG" :
					  level == GJ_DEBUG ? "DEBUG" :
					  level == GJ_WARNING ? "WARNING" : "ERROR");
}

/* Logs a message (debug messages only when verbose). */
void
gj_log(gj_logger *lg, gj_level level, const char *fmt,...)
{
	va_list		ap;
	char	   *msg;
	gj_buf		line;

	if (level == GJ_DEBUG && !lg->verbose)
		return;
	va_start(ap, fmt);
	msg = gj_vprintf(fmt, ap);
	va_end(ap);
	gj_one_line(msg);

	begin(lg, &line, level);
	if (lg->format == GJ_LOG_JSON)
	{
		gj_buf_puts(&line, ",\"msg\":");
		gj_json_escape(&line, msg);
		gj_buf_puts(&line, "}");
	}
	else
		gj_buf_puts(&line, msg);
	free(msg);
	emit(lg, &line);
}

/*
 * Appends to lines the log line of the outcome of one job: "succeeded",
 * "retried", "discarded", "handed back", "lost lease", ... with the error,
 * if any. gj_log_write() writes them.
 */
void
gj_log_job_line(gj_logger *lg, gj_buf *lines, const gj_job *job,
				const char *outcome, double duration_ms, const char *error)
{
	gj_buf		line;
	bool		bad = strcmp(outcome, "succeeded") != 0;
	char	   *err = error ? gj_strdup(error) : NULL;

	begin(lg, &line, bad ? GJ_WARNING : GJ_INFO);
	if (lg->format == GJ_LOG_JSON)
	{
		gj_buf_printf(&line, ",\"event\":\"job\",\"job_id\":%lld,\"job_class\":",
					  (long long) job->id);
		gj_json_escape(&line, job->job_class);
		gj_buf_puts(&line, ",\"queue\":");
		gj_json_escape(&line, job->queue_name);
		gj_buf_printf(&line, ",\"attempt\":%d,\"outcome\":", job->attempt);
		gj_json_escape(&line, outcome);
		gj_buf_printf(&line, ",\"duration_ms\":%.3f", duration_ms);
		if (job->batch_id)
			gj_buf_printf(&line, ",\"batch_id\":%lld", (long long) job->batch_id);
		gj_buf_puts(&line, ",\"error\":");
		if (err)
			gj_json_escape(&line, err);
		else
			gj_buf_puts(&line, "null");
		gj_buf_puts(&line, "}");
	}
	else
	{
		gj_buf_printf(&line, "job %lld %s (queue %s, attempt %d) %s in %.1f ms",
					  (long long) job->id, job->job_class, job->queue_name,
					  job->attempt, outcome, duration_ms);
		if (err)
		{
			gj_one_line(err);
			gj_buf_printf(&line, ": %s", err);
		}
	}
	free(err);
	gj_buf_append(&line, "\n", 1);
	gj_buf_append(lines, line.data, line.len);
	gj_buf_free(&line);
}

/* Logs the outcome of one job (see gj_log_job_line). */
void
gj_log_job(gj_logger *lg, const gj_job *job, const char *outcome,
		   double duration_ms, const char *error)
{
	gj_buf		lines;

	gj_buf_init(&lines);
	gj_log_job_line(lg, &lines, job, outcome, duration_ms, error);
	gj_log_write(lg, &lines);
}
