/*-------------------------------------------------------------------------
 * command.c
 *	  The shell-command handler: runs /bin/sh -c COMMAND for a job, in a
 *	  process group of its own, with the job's args JSON on stdin and the
 *	  GOODJOB_* variables in its environment. Exit status 0 succeeds;
 *	  anything else fails the job with the tail of its stderr. A timeout or
 *	  a shutdown kills the whole process group (SIGTERM, then SIGKILL).
 *
 * posix_spawn() is used rather than fork(): it is safe in a threaded
 * program and cheap. Every pipe is close-on-exec, so a job's children never
 * inherit another job's pipes (which would hold its stderr open).
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Seconds between SIGTERM and SIGKILL. */
#define KILL_GRACE 5.0

/* Longest wait between two looks at the clock and the cancel flag (s). */
#define POLL_SLICE 0.1

/* A registered command: see gj_worker_handle_command(). */
typedef struct gj_command
{
	char	   *command;
	double		timeout;
	char	  **env;			/* the environment at registration, without
								 * GOODJOB_* variables */
	int			nenv;
} gj_command;

/* The last GJ_ERROR_MAX bytes of a stream. */
typedef struct tail_buf
{
	char		data[GJ_ERROR_MAX];
	size_t		len;
	bool		truncated;
} tail_buf;

/* One running child. */
typedef struct child
{
	pid_t		pid;
	int			in_fd;			/* its stdin, -1 once closed */
	int			err_fd;			/* its stderr, -1 once closed */
	int			pid_fd;			/* pidfd, -1 if the kernel has none */
	size_t		written;		/* bytes of args written */
	bool		exited;
	int			status;
} child;

/* Appends n bytes to t, keeping only the last GJ_ERROR_MAX. */
static void
tail_append(tail_buf *t, const char *s, size_t n)
{
	if (n >= sizeof(t->data))
	{
		memcpy(t->data, s + n - sizeof(t->data), sizeof(t->data));
		t->truncated = true;
		t->len = sizeof(t->data);
		return;
	}
	if (t->len + n > sizeof(t->data))
	{
		size_t		drop = t->len + n - sizeof(t->data);

		memmove(t->data, t->data + drop, t->len - drop);
		t->len -= drop;
		t->truncated = true;
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
}

/* Returns the tail as clean one-piece text (malloc'd, may be empty). */
static char *
tail_text(tail_buf *t)
{
	size_t		start = 0;
	size_t		end = t->len;
	size_t		prefix;
	char	   *s;

	/* skip a character cut in half at the front */
	if (t->truncated)
		while (start < end && ((unsigned char) t->data[start] & 0xC0) == 0x80)
			start++;
	while (start < end && (t->data[start] == '\n' || t->data[start] == ' ' ||
						   t->data[start] == '\r' || t->data[start] == '\t'))
		start++;
	while (end > start && (t->data[end - 1] == '\n' || t->data[end - 1] == ' ' ||
						   t->data[end - 1] == '\r' || t->data[end - 1] == '\t'))
		end--;
	prefix = t->truncated && end > start ? 3 : 0;
	s = gj_malloc(prefix + end - start + 1);
	memcpy(s, "...", prefix);
	memcpy(s + prefix, t->data + start, end - start);
	s[prefix + end - start] = '\0';
	gj_utf8_sanitize(s, prefix + end - start);	/* NULs become '?' too */
	return s;
}

/* Builds the child's environment: the saved one plus the job's variables. */
static char **
job_env(const gj_command *cmd, const gj_job *job, char **vars)
{
	char	  **envp = gj_malloc(sizeof(char *) * (size_t) (cmd->nenv + 8));
	int			n = 0;
	int			i;

	vars[0] = gj_printf("GOODJOB_JOB_ID=%lld", (long long) job->id);
	vars[1] = gj_printf("GOODJOB_ATTEMPT=%d", job->attempt);
	vars[2] = gj_printf("GOODJOB_JOB_CLASS=%s", job->job_class);
	vars[3] = gj_printf("GOODJOB_QUEUE_NAME=%s", job->queue_name);
	vars[4] = job->batch_id ? gj_printf("GOODJOB_BATCH_ID=%lld", (long long) job->batch_id)
		: gj_strdup("GOODJOB_BATCH_ID=");
	vars[5] = job->batch_callback_id ?
		gj_printf("GOODJOB_BATCH_CALLBACK_ID=%lld", (long long) job->batch_callback_id)
		: gj_strdup("GOODJOB_BATCH_CALLBACK_ID=");
	for (i = 0; i < cmd->nenv; i++)
		envp[n++] = cmd->env[i];
	for (i = 0; i < 6; i++)
		envp[n++] = vars[i];
	envp[n] = NULL;
	return envp;
}

/*
 * Starts /bin/sh -c command in its own process group with stdin and
 * stderr piped. Returns 0 or an errno value.
 */
static int
spawn(child *c, const char *command, char **envp)
{
	int			in[2];
	int			err[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	none;
	sigset_t	deflt;
	char	   *argv[] = {"sh", "-c", (char *) command, NULL};
	int			rc;

	if (pipe2(in, O_CLOEXEC) != 0)
		return errno;
	if (pipe2(err, O_CLOEXEC) != 0)
	{
		rc = errno;
		close(in[0]);
		close(in[1]);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&deflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
							 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&c->pid, "/bin/sh", &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	close(err[1]);
	if (rc != 0)
	{
		close(in[1]);
		close(err[0]);
		return rc;
	}
	c->in_fd = in[1];
	c->err_fd = err[0];
	fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
	c->pid_fd = pidfd_open(c->pid, 0);
	c->written = 0;
	c->exited = false;
	return 0;
}

/* Closes *fd if open. */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reads what the child's stderr has; closes it at EOF. */
static void
read_stderr(child *c, tail_buf *t)
{
	char		buf[4096];

	while (c->err_fd >= 0)
	{
		ssize_t		n = read(c->err_fd, buf, sizeof(buf));

		if (n > 0)
			tail_append(t, buf, (size_t) n);
		else if (n == 0 || (errno != EINTR && errno != EAGAIN))
			close_fd(&c->err_fd);
		else if (errno == EAGAIN)
			break;
	}
}

/* Writes what the child's stdin takes of args; closes it when done. */
static void
write_stdin(child *c, const char *args, size_t len)
{
	while (c->in_fd >= 0 && c->written < len)
	{
		ssize_t		n = write(c->in_fd, args + c->written, len - c->written);

		if (n > 0)
			c->written += (size_t) n;
		else if (errno == EAGAIN)
			return;
		else if (errno != EINTR)
			break;				/* EPIPE: it does not read its stdin */
	}
	close_fd(&c->in_fd);
}

/* Reaps the child if it has exited. */
static void
check_exit(child *c)
{
	pid_t		r;

	if (c->exited)
		return;
	r = waitpid(c->pid, &c->status, WNOHANG);
	if (r == c->pid || (r < 0 && errno == ECHILD))
	{
		if (r < 0)
			c->status = -1;
		c->exited = true;
	}
}

/*
 * Waits for the child to exit while feeding its stdin, collecting its
 * stderr, and enforcing the deadline and the job's cancellation. Returns
 * 't' when it timed out, 'c' when it was cancelled, 0 otherwise.
 */
static char
supervise(child *c, const gj_job *job, double deadline, tail_buf *tail)
{
	size_t		len = strlen(job->args);
	double		kill_at = INFINITY;
	char		stopped = 0;

	for (;;)
	{
		struct pollfd pfd[3];
		int			n = 0;
		double		now;
		double		wait;

		check_exit(c);
		if (c->exited)
			break;
		now = gj_now();
		if (!stopped && (now >= deadline || gj_job_cancelled(job)))
		{
			stopped = now >= deadline ? 't' : 'c';
			kill(-c->pid, SIGTERM);
			kill_at = now + KILL_GRACE;
		}
		if (now >= kill_at)
		{
			kill(-c->pid, SIGKILL);
			kill_at = INFINITY;
		}

		wait = POLL_SLICE;
		if (deadline - now < wait && !stopped)
			wait = deadline - now;
		if (kill_at - now < wait)
			wait = kill_at - now;
		if (c->err_fd >= 0)
			pfd[n].fd = c->err_fd, pfd[n++].events = POLLIN;
		if (c->in_fd >= 0)
			pfd[n].fd = c->in_fd, pfd[n++].events = POLLOUT;
		if (c->pid_fd >= 0)
			pfd[n].fd = c->pid_fd, pfd[n++].events = POLLIN;
		else if (c->err_fd < 0 && wait > 0.005)
			wait = 0.005;		/* no pidfd: stderr closed, exit is near */
		if (wait < 0)
			wait = 0;
		poll(pfd, (nfds_t) n, gj_poll_ms(wait));
		read_stderr(c, tail);
		write_stdin(c, job->args, len);
	}
	read_stderr(c, tail);		/* what is left; a grandchild may hold it open */
	if (stopped)
		kill(-c->pid, SIGKILL); /* and whatever else is in its group */
	close_fd(&c->in_fd);
	close_fd(&c->err_fd);
	close_fd(&c->pid_fd);
	return stopped;
}

/* Runs the job's command; see the file header. */
gj_outcome
gj_command_handler(gj_job *job, void *arg)
{
	gj_command *cmd = arg;
	char	   *vars[6];
	char	  **envp = job_env(cmd, job, vars);
	child		c = {-1, -1, -1, -1, 0, false, 0};
	tail_buf   *tail = gj_malloc(sizeof(tail_buf));
	double		deadline = cmd->timeout > 0 ? gj_now() + cmd->timeout : INFINITY;
	gj_outcome	outcome = GJ_RETRY;
	char	   *text;
	char		stopped;
	int			rc;
	int			i;

	tail->len = 0;
	tail->truncated = false;
	rc = spawn(&c, cmd->command, envp);
	for (i = 0; i < 6; i++)
		free(vars[i]);
	free(envp);
	if (rc != 0)
	{
		gj_job_set_error(job, "could not run /bin/sh: %s", strerror(rc));
		free(tail);
		return GJ_RETRY;
	}

	stopped = supervise(&c, job, deadline, tail);
	text = tail_text(tail);
	if (stopped == 't')
		gj_job_set_error(job, "timed out after %g s", cmd->timeout);
	else if (stopped == 'c')
		gj_job_set_error(job, "worker shutting down");
	else if (c.status == -1)
		gj_job_set_error(job, "lost track of the command's process%s%s",
						 *text ? ": " : "", text);
	else if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
		outcome = GJ_SUCCESS;
	else if (WIFEXITED(c.status))
		gj_job_set_error(job, "exit status %d%s%s", WEXITSTATUS(c.status),
						 *text ? ": " : "", text);
	else
		gj_job_set_error(job, "killed by signal %d (%s)%s%s", WTERMSIG(c.status),
						 strsignal(WTERMSIG(c.status)), *text ? ": " : "", text);
	free(text);
	free(tail);
	return outcome;
}

/* Returns a command handler's argument (environment saved now). */
static gj_command *
command_new(const char *command, double timeout)
{
	gj_command *cmd = gj_malloc(sizeof(gj_command));
	int			n = 0;
	char	  **e;

	for (e = environ; *e; e++)
		n++;
	cmd->command = gj_strdup(command);
	cmd->timeout = timeout;
	cmd->env = gj_malloc(sizeof(char *) * (size_t) (n + 1));
	cmd->nenv = 0;
	for (e = environ; *e; e++)
		if (strncmp(*e, "GOODJOB_", 8) != 0)
			cmd->env[cmd->nenv++] = gj_strdup(*e);
	cmd->env[cmd->nenv] = NULL;
	return cmd;
}

/* Frees a command handler's argument. */
void
gj_command_free(void *arg)
{
	gj_command *cmd = arg;
	int			i;

	if (cmd == NULL)
		return;
	for (i = 0; i < cmd->nenv; i++)
		free(cmd->env[i]);
	free(cmd->env);
	free(cmd->command);
	free(cmd);
}

/* See goodjob_client.h. */
int
gj_worker_handle_command(gj_worker *w, const char *job_class, const char *command,
						 double timeout)
{
	gj_command *cmd = command_new(command, timeout);

	if (gj_worker_handle(w, job_class, gj_command_handler, cmd) != 0)
	{
		gj_command_free(cmd);
		return -1;
	}
	w->handlers[w->nhandlers - 1].owned = cmd;
	return 0;
}
