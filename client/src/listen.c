/*-------------------------------------------------------------------------
 * listen.c
 *	  The listener thread: LISTEN goodjob on a connection of its own, and
 *	  wake the dispatcher as soon as a job is enqueued in one of the
 *	  worker's queues (the payload is {"queue_name": ..., "count": n}).
 *
 * LISTEN is the one piece of session state the worker uses, so it has its
 * own connection (listen_dsn), reconnected with backoff like the work
 * connection. Notifications sent while it was down are lost, so after each
 * (re)connect it wakes the dispatcher once to claim anyway; the poll
 * interval covers anything else.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Asks every lane's dispatcher to claim now. */
static void
want_claim(gj_worker *w)
{
	int			i;

	for (i = 0; i < w->nlanes; i++)
	{
		atomic_store(&w->lanes[i].claim_wanted, 1);
		gj_wake(&w->lanes[i]);
	}
}

/* Waits until fd is readable, the stop pipe is written, or timeout (s). */
static void
wait_for(gj_listener *l, int fd, double timeout)
{
	struct pollfd pfd[2];
	int			n = 0;
	char		drain[64];

	pfd[n].fd = l->stop_pipe[0];
	pfd[n++].events = POLLIN;
	if (fd >= 0)
	{
		pfd[n].fd = fd;
		pfd[n++].events = POLLIN;
	}
	if (poll(pfd, (nfds_t) n, gj_poll_ms(timeout)) > 0 &&
		(pfd[0].revents & POLLIN))
		while (read(l->stop_pipe[0], drain, sizeof(drain)) > 0)
			;
}

/* Connects and sends LISTEN; returns true when listening. */
static bool
start_listening(gj_worker *w, gj_listener *l)
{
	PGresult   *res;
	char	   *error = NULL;
	int			i;

	if (!gj_conn_ensure(&l->conn, gj_now()))
		return false;
	res = gj_conn_exec(&l->conn, "LISTEN goodjob", 0, NULL, &error);
	if (res == NULL)
	{
		if (l->conn.pg != NULL)
			gj_conn_lost(&l->conn, error);
		free(error);
		return false;
	}
	PQclear(res);
	gj_log(&w->log, GJ_DEBUG, "listening on channel \"goodjob\"");
	for (i = 0; i < w->nlanes; i++)
		atomic_store(&w->lanes[i].server_seen, 1);
	want_claim(w);
	return true;
}

/* Reads what arrived on the connection; wakes the dispatcher if relevant. */
static void
read_notifications(gj_worker *w, gj_listener *l)
{
	PGnotify   *n;
	bool		relevant = false;

	if (!PQconsumeInput(l->conn.pg))
	{
		char	   *error = gj_strdup(PQerrorMessage(l->conn.pg));

		gj_one_line(error);
		gj_conn_lost(&l->conn, error);
		free(error);
		return;
	}
	while ((n = PQnotifies(l->conn.pg)) != NULL)
	{
		char	   *queue = gj_json_get_string(n->extra, "queue_name");

		if (queue == NULL || gj_queues_match(&w->queues, queue))
			relevant = true;
		free(queue);
		PQfreemem(n);
	}
	if (relevant)
		want_claim(w);
}

/* The listener thread's main loop. */
static void *
listener_main(void *arg)
{
	gj_worker  *w = arg;
	gj_listener *l = &w->listener;
	bool		listening = false;

	while (!atomic_load(&l->stop))
	{
		if (l->conn.pg == NULL)
			listening = false;
		if (!listening)
		{
			listening = start_listening(w, l);
			if (!listening)
			{
				wait_for(l, -1, l->conn.next_attempt - gj_now());
				continue;
			}
		}
		wait_for(l, PQsocket(l->conn.pg), INFINITY);
		if (!atomic_load(&l->stop))
			read_notifications(w, l);
	}
	gj_conn_close(&l->conn);
	return NULL;
}

/* Starts the listener thread. */
bool
gj_listener_start(gj_worker *w, char *msg, size_t msglen)
{
	gj_listener *l = &w->listener;
	int			rc;

	gj_conn_init(&l->conn, w->listen_dsn, "listen", &w->log);
	atomic_store(&l->stop, 0);
	if (pipe2(l->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
	{
		snprintf(msg, msglen, "could not create a pipe: %s", strerror(errno));
		return false;
	}
	rc = gj_thread_create(&l->thread, listener_main, w);
	if (rc != 0)
	{
		snprintf(msg, msglen, "could not start the listener thread: %s", strerror(rc));
		close(l->stop_pipe[0]);
		close(l->stop_pipe[1]);
		return false;
	}
	l->started = true;
	return true;
}

/* Stops the listener thread and closes its connection. */
void
gj_listener_stop(gj_worker *w)
{
	gj_listener *l = &w->listener;

	if (!l->started)
		return;
	atomic_store(&l->stop, 1);
	if (write(l->stop_pipe[1], "x", 1) < 0)
	{
		/* the pipe is full: the thread is waking up anyway */
	}
	pthread_join(l->thread, NULL);
	close(l->stop_pipe[0]);
	close(l->stop_pipe[1]);
	l->started = false;
}
