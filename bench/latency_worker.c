/*-------------------------------------------------------------------------
 * latency_worker.c
 *	  A goodjob worker for bench/worker's latency run: the client library's
 *	  worker (the same code as `goodjob work`) with an in-process no-op
 *	  handler, exactly like the built-in ":noop" except that it first reads
 *	  CLOCK_MONOTONIC and prints "L <job id> <nanoseconds>" on stdout. The
 *	  bench compares that with the clock reading the enqueuing client took
 *	  right after its COMMIT returned (Node's process.hrtime reads the same
 *	  clock).
 *
 *	  latency_worker DSN QUEUES CONCURRENCY
 *
 * Prints "ready" once the worker runs; stops on SIGTERM or SIGINT.
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goodjob_client.h"

static gj_worker *worker;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* The no-op handler: notes when it started, then succeeds. */
static gj_outcome
stamp_handler(gj_job *job, void *arg)
{
	struct timespec ts;

	(void) arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&out_mu);
	printf("L %lld %lld\n", (long long) job->id,
		   (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
	return GJ_SUCCESS;
}

/* SIGTERM/SIGINT: stop the worker (async-signal-safe). */
static void
on_signal(int signo)
{
	(void) signo;
	if (worker != NULL)
		gj_worker_stop(worker);
}

int
main(int argc, char **argv)
{
	gj_config	cfg;
	char		err[256];
	struct sigaction sa;
	int			rc;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s DSN QUEUES CONCURRENCY\n", argv[0]);
		return 2;
	}
	gj_config_init(&cfg);
	cfg.dsn = argv[1];
	cfg.queues = argv[2];
	cfg.concurrency = atoi(argv[3]);
	worker = gj_worker_new(&cfg, err, sizeof(err));
	if (worker == NULL)
	{
		fprintf(stderr, "latency_worker: %s\n", err);
		return 2;
	}
	gj_worker_handle(worker, "*", stamp_handler, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	printf("ready\n");
	fflush(stdout);
	rc = gj_worker_run(worker);
	gj_worker_free(worker);
	return rc;
}
