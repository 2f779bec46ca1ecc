/*-------------------------------------------------------------------------
 * conn.c
 *	  Database connections that come back: connect with sane defaults,
 *	  tell a broken connection from an SQL error, and reconnect with
 *	  exponential backoff (never a busy loop) and one clear line per try.
 *
 * Only PQexecParams is used (the unnamed statement, no session state), so
 * every statement works through PgBouncer in transaction pooling mode.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks that dsn parses as a libpq connection string or URI. */
bool
gj_dsn_check(const char *dsn, char *msg, size_t msglen)
{
	PQconninfoOption *opts;
	char	   *err = NULL;

	if (dsn == NULL || *dsn == '\0')
		return true;
	opts = PQconninfoParse(dsn, &err);
	if (opts == NULL)
	{
		char	   *m = gj_strdup(err ? err : "out of memory");

		gj_one_line(m);
		snprintf(msg, msglen, "invalid connection string: %s", m);
		free(m);
		PQfreemem(err);
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

/*
 * Fills keys/vals (8 entries) with the connection parameters: defaults
 * for a connect timeout, TCP keepalives and the application name, then
 * dsn, whose settings (and the PG* variables) win.
 */
static void
connection_params(const char *dsn, const char **keys, const char **vals)
{
	int			n = 0;

	if (getenv("PGCONNECT_TIMEOUT") == NULL)
		keys[n] = "connect_timeout", vals[n++] = "10";
	keys[n] = "keepalives_idle", vals[n++] = "30";
	keys[n] = "keepalives_interval", vals[n++] = "10";
	keys[n] = "keepalives_count", vals[n++] = "3";
	keys[n] = "fallback_application_name", vals[n++] = "goodjob";
	keys[n] = "dbname", vals[n++] = dsn ? dsn : "";
	keys[n] = NULL, vals[n] = NULL;
}

/* Asks whether the server of dsn accepts connections (PQpingParams). */
PGPing
gj_ping(const char *dsn)
{
	const char *keys[8];
	const char *vals[8];

	connection_params(dsn, keys, vals);
	return PQpingParams(keys, vals, 1);
}

/*
 * Makes one connection attempt (see connection_params). Returns NULL with
 * *error set (malloc'd) on failure.
 */
PGconn *
gj_connect_once(const char *dsn, char **error)
{
	const char *keys[8];
	const char *vals[8];
	PGconn	   *pg;

	connection_params(dsn, keys, vals);
	pg = PQconnectdbParams(keys, vals, 1);
	if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
		return pg;
	*error = gj_strdup(pg ? PQerrorMessage(pg) : "out of memory");
	gj_one_line(*error);
	PQfinish(pg);
	return NULL;
}

/* Sets up c; the first connect happens at the first gj_conn_ensure(). */
void
gj_conn_init(gj_conn *c, const char *dsn, const char *what, gj_logger *log)
{
	memset(c, 0, sizeof(*c));
	c->dsn = dsn;
	c->what = what;
	c->log = log;
	c->backoff = GJ_BACKOFF_MIN;
}

/* Returns the next delay (with +-20% jitter) and doubles *backoff. */
double
gj_backoff_next(double *backoff)
{
	double		delay = *backoff * (0.8 + 0.4 * ((double) rand() / RAND_MAX));

	*backoff *= 2;
	if (*backoff > GJ_BACKOFF_MAX)
		*backoff = GJ_BACKOFF_MAX;
	return delay;
}

/* Sends a server notice (WARNING, NOTICE, ...) to the log. */
static void
log_notice(void *arg, const char *message)
{
	gj_conn    *c = arg;

	gj_log(c->log, GJ_DEBUG, "%s connection: server says: %s", c->what, message);
}

/*
 * Returns true when c is connected, connecting first if the backoff allows
 * it; a failed attempt is logged and schedules the next one.
 */
bool
gj_conn_ensure(gj_conn *c, double now)
{
	char	   *error = NULL;
	double		delay;

	if (c->pg != NULL)
		return true;
	if (now < c->next_attempt)
		return false;

	c->pg = gj_connect_once(c->dsn, &error);
	if (c->pg != NULL)
	{
		PQsetNoticeProcessor(c->pg, log_notice, c);
		if (c->down_since > 0)
			gj_log(c->log, GJ_INFO, "%s connection: %s after %.1f s", c->what,
				   c->ever_connected ? "reconnected" : "connected",
				   gj_now() - c->down_since);
		else
			gj_log(c->log, GJ_DEBUG, "%s connection: connected", c->what);
		c->down_since = 0;
		c->ever_connected = true;
		c->connected_at = gj_now();
		return true;
	}
	if (c->down_since == 0)
		c->down_since = now;
	delay = gj_backoff_next(&c->backoff);
	c->next_attempt = gj_now() + delay;
	gj_log(c->log, GJ_WARNING, "%s connection: cannot connect to the database: %s (retrying in %.1f s)",
		   c->what, error, delay);
	free(error);
	return false;
}

/*
 * Drops a broken connection. The next attempt is at once, unless the
 * connection died young (then the backoff goes on growing).
 */
void
gj_conn_lost(gj_conn *c, const char *why)
{
	double		now = gj_now();

	gj_log(c->log, GJ_WARNING, "%s connection: lost the database connection: %s (reconnecting)",
		   c->what, why);
	PQfinish(c->pg);
	c->pg = NULL;
	c->down_since = now;
	if (now - c->connected_at < 5.0)
		c->next_attempt = now + gj_backoff_next(&c->backoff);
	else
	{
		c->backoff = GJ_BACKOFF_MIN;
		c->next_attempt = now;
	}
}

/* Closes c for good. */
void
gj_conn_close(gj_conn *c)
{
	PQfinish(c->pg);
	c->pg = NULL;
}

/*
 * True when the failure of res (NULL: no result at all) means the
 * connection is gone or the server is going away, as opposed to an error
 * in the statement.
 */
bool
gj_connection_broken(PGconn *pg, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (pg == NULL || PQstatus(pg) == CONNECTION_BAD || res == NULL)
		return true;
	/* errors without SQLSTATE come from libpq itself: the link failed */
	if (state == NULL)
		return PQresultStatus(res) == PGRES_FATAL_ERROR;
	return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
		strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

/*
 * Returns the error of res as one malloc'd line: the message plus DETAIL
 * and HINT when there are any.
 */
char *
gj_result_error(PGconn *pg, const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	char	   *s;

	if (msg == NULL)
		s = gj_strdup(pg ? PQerrorMessage(pg) : "no connection");
	else
		s = gj_printf("%s%s%s%s%s", msg,
					  detail ? " DETAIL: " : "", detail ? detail : "",
					  hint ? " HINT: " : "", hint ? hint : "");
	gj_one_line(s);
	if (*s == '\0')
	{
		free(s);
		s = gj_strdup("unknown error (no message from the server)");
	}
	return s;
}

/*
 * Runs one parameterized statement (text parameters, NULL for SQL NULL).
 * Returns the result, or NULL with *error set (malloc'd, may be NULL);
 * when the connection broke it is dropped (c->pg becomes NULL) and will be
 * reconnected by gj_conn_ensure().
 */
PGresult *
gj_conn_exec(gj_conn *c, const char *sql, int nparams, const char *const *params,
			 char **error)
{
	PGresult   *res;
	ExecStatusType st;
	char	   *msg;

	if (c->pg == NULL)
	{
		if (error)
			*error = gj_strdup("not connected");
		return NULL;
	}
	res = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;

	msg = gj_result_error(c->pg, res);
	if (gj_connection_broken(c->pg, res))
		gj_conn_lost(c, msg);
	PQclear(res);
	if (error)
		*error = msg;
	else
		free(msg);
	return NULL;
}
