/*-------------------------------------------------------------------------
 * worker.c
 *	  The public worker API: configuration, handler registration, stop and
 *	  free, and the small calls a handler makes about its job. The run loop
 *	  itself is in dispatch.c.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Largest concurrency, prefetch and number of lanes accepted. */
#define MAX_CONCURRENCY 1024
#define MAX_PREFETCH 10000
#define MAX_LANES 64

/* See goodjob_client.h. */
void
gj_config_init(gj_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = 1;
	cfg->queues = "*";
	cfg->concurrency = 1;
	cfg->prefetch = 200;
	cfg->lease = 60.0;
	cfg->poll_interval = 1.0;
	cfg->grace = 30.0;
	cfg->log_format = GJ_LOG_TEXT;
}

/* Returns the problem with cfg, or NULL when it is valid. */
static const char *
config_problem(const gj_config *cfg)
{
	if (cfg->concurrency < 1 || cfg->concurrency > MAX_CONCURRENCY)
		return "concurrency must be between 1 and 1024";
	if (cfg->prefetch < 0 || cfg->prefetch > MAX_PREFETCH)
		return "prefetch must be between 0 and 10000";
	if (cfg->connections < 0 || cfg->connections > cfg->concurrency ||
		cfg->connections > MAX_LANES)
		return "connections must be between 1 and the concurrency (at most 64)";
	if (!(cfg->lease >= 0.01 && cfg->lease <= 7 * 86400.0))
		return "the lease must be between 0.01 seconds and 7 days";
	if (!(cfg->poll_interval >= 0.001 && cfg->poll_interval <= 86400.0))
		return "the poll interval must be between 0.001 seconds and 1 day";
	if (!(cfg->grace >= 0 && cfg->grace <= 86400.0))
		return "the grace period must be between 0 seconds and 1 day";
	if (cfg->worker_name != NULL && *cfg->worker_name == '\0')
		return "the worker name must not be empty";
	return NULL;
}

/*
 * Splits the executors, the prefetch and the slots among the lanes and
 * makes their wake-up pipes. Returns false with a message in errbuf.
 */
static bool
lanes_init(gj_worker *w, char *errbuf, size_t errlen)
{
	int			n = w->cfg.connections > 0 ? w->cfg.connections :
		GJ_MIN(2, w->cfg.concurrency);
	int			first = 0;
	int			i;
	int			k;

	w->lanes = gj_malloc(sizeof(gj_lane) * (size_t) n);
	memset(w->lanes, 0, sizeof(gj_lane) * (size_t) n);
	for (i = 0; i < n; i++)
		w->lanes[i].wake_pipe[0] = w->lanes[i].wake_pipe[1] = -1;
	w->nlanes = n;
	w->cfg.connections = n;
	for (i = 0; i < n; i++)
	{
		gj_lane    *l = &w->lanes[i];

		l->w = w;
		l->index = i;
		l->concurrency = w->cfg.concurrency / n + (i < w->cfg.concurrency % n);
		l->prefetch = w->cfg.prefetch / n + (i < w->cfg.prefetch % n);
		l->first = first;
		l->nslots = l->concurrency + l->prefetch;
		first += l->nslots;
		for (k = l->first; k < l->first + l->nslots; k++)
			w->slots[k].lane = i;
		atomic_init(&l->claim_wanted, 1);
		atomic_init(&l->server_seen, 0);
		l->claim_backoff = GJ_BACKOFF_MIN;
		l->report_backoff = GJ_BACKOFF_MIN;
		l->ring = gj_malloc(sizeof(int) * (size_t) GJ_MAX(1, l->nslots));
		pthread_mutex_init(&l->mu, NULL);
		pthread_cond_init(&l->work_cv, NULL);
		l->mu_initialized = true;
		if (pipe2(l->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		{
			snprintf(errbuf, errlen, "could not create a pipe: %s", strerror(errno));
			l->wake_pipe[0] = l->wake_pipe[1] = -1;
			return false;
		}
	}
	return true;
}

/* See goodjob_client.h. */
gj_worker *
gj_worker_new(const gj_config *cfg, char *errbuf, size_t errlen)
{
	gj_worker  *w;
	const char *problem = config_problem(cfg);
	gj_queues	queues;
	char		host[256];
	int			i;

	if (problem != NULL)
	{
		snprintf(errbuf, errlen, "%s", problem);
		return NULL;
	}
	if (!gj_queues_parse(cfg->queues ? cfg->queues : "*", &queues, errbuf, errlen))
		return NULL;
	if (!gj_dsn_check(cfg->dsn, errbuf, errlen) ||
		!gj_dsn_check(cfg->listen_dsn, errbuf, errlen))
	{
		gj_queues_free(&queues);
		return NULL;
	}

	w = gj_malloc(sizeof(gj_worker));
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	w->queues = queues;
	w->queue_spec = gj_strdup(cfg->queues ? cfg->queues : "*");
	w->dsn = gj_strdup(cfg->dsn ? cfg->dsn : "");
	w->listen_dsn = gj_strdup(cfg->listen_dsn ? cfg->listen_dsn : w->dsn);
	if (cfg->worker_name != NULL)
		w->name = gj_strdup(cfg->worker_name);
	else
	{
		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		w->name = gj_printf("%s:%d", host, (int) getpid());
	}
	w->cfg.dsn = w->dsn;
	w->cfg.listen_dsn = w->listen_dsn;
	w->cfg.queues = w->queue_spec;
	w->cfg.worker_name = w->name;
	w->fallback = -1;

	w->nslots = cfg->concurrency + cfg->prefetch;
	w->slots = gj_malloc(sizeof(gj_slot) * (size_t) w->nslots);
	memset(w->slots, 0, sizeof(gj_slot) * (size_t) w->nslots);
	for (i = 0; i < w->nslots; i++)
	{
		w->slots[i].state = SLOT_FREE;
		atomic_init(&w->slots[i].cancelled, 0);
	}
	atomic_init(&w->stop_requests, 0);
	gj_logger_init(&w->log, cfg->log_format, cfg->log_stream, cfg->verbose != 0, w->name);
	if (!lanes_init(w, errbuf, errlen))
	{
		gj_worker_free(w);
		return NULL;
	}
	srand((unsigned int) time(NULL) ^ (unsigned int) getpid());
	return w;
}

/* See goodjob_client.h. */
int
gj_worker_handle(gj_worker *w, const char *job_class, gj_handler fn, void *arg)
{
	gj_handler_entry *h;
	int			i;

	if (w->running || job_class == NULL || *job_class == '\0' || fn == NULL)
		return -1;
	for (i = 0; i < w->nhandlers; i++)
		if (strcmp(w->handlers[i].job_class, job_class) == 0)
			return -1;
	h = realloc(w->handlers, sizeof(gj_handler_entry) * (size_t) (w->nhandlers + 1));
	if (h == NULL)
		return -1;
	w->handlers = h;
	h = &w->handlers[w->nhandlers];
	h->job_class = gj_strdup(job_class);
	h->fn = fn;
	h->arg = arg;
	h->owned = NULL;
	if (strcmp(job_class, "*") == 0)
		w->fallback = w->nhandlers;
	w->nhandlers++;
	return 0;
}

/* See goodjob_client.h. Async-signal-safe. */
void
gj_worker_stop(gj_worker *w)
{
	int			saved_errno = errno;

	atomic_fetch_add(&w->stop_requests, 1);
	gj_wake_all(w);
	errno = saved_errno;
}

/* Wakes the dispatcher of lane l (async-signal-safe). */
void
gj_wake(gj_lane *l)
{
	if (write(l->wake_pipe[1], "", 1) < 0)
	{
		/* full: the dispatcher has wake-ups pending anyway */
	}
}

/* Wakes every lane's dispatcher (async-signal-safe). */
void
gj_wake_all(gj_worker *w)
{
	int			i;

	for (i = 0; i < w->nlanes; i++)
		gj_wake(&w->lanes[i]);
}

/*
 * Starts a thread with asynchronous signals blocked, so that they are
 * delivered to the thread that called gj_worker_run().
 */
int
gj_thread_create(pthread_t *thread, void *(*fn) (void *), void *arg)
{
	sigset_t	all;
	sigset_t	old;
	int			rc;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* See goodjob_client.h. */
void
gj_worker_free(gj_worker *w)
{
	int			i;

	if (w == NULL || w->running)
		return;
	for (i = 0; i < w->nhandlers; i++)
	{
		free(w->handlers[i].job_class);
		gj_command_free(w->handlers[i].owned);
	}
	free(w->handlers);
	for (i = 0; i < w->nslots; i++)
	{
		free(w->slots[i].buf);
		free(w->slots[i].error);
	}
	free(w->slots);
	for (i = 0; i < w->nlanes; i++)
	{
		gj_lane    *l = &w->lanes[i];

		if (l->wake_pipe[0] >= 0)
		{
			close(l->wake_pipe[0]);
			close(l->wake_pipe[1]);
		}
		free(l->ring);
		if (l->mu_initialized)
		{
			pthread_mutex_destroy(&l->mu);
			pthread_cond_destroy(&l->work_cv);
		}
	}
	free(w->lanes);
	pthread_mutex_destroy(&w->log.mu);
	gj_queues_free(&w->queues);
	free(w->queue_spec);
	free(w->dsn);
	free(w->listen_dsn);
	free(w->name);
	free(w);
}

/* See goodjob_client.h. */
void
gj_job_set_error(gj_job *job, const char *fmt,...)
{
	gj_slot    *s = job->internal;
	va_list		ap;

	free(s->error);
	va_start(ap, fmt);
	s->error = gj_vprintf(fmt, ap);
	va_end(ap);
}

/* See goodjob_client.h. */
int
gj_job_cancelled(const gj_job *job)
{
	const gj_slot *s = job->internal;

	return atomic_load(&s->cancelled);
}
