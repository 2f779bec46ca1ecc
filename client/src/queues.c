/*-------------------------------------------------------------------------
 * queues.c
 *	  The GoodJob queue syntax on the client side: checked before the worker
 *	  starts (same rules as the server's queue_spec.c), and matched against
 *	  the queue of each NOTIFY so that only relevant enqueues wake a worker.
 *
 *	  "*"		every queue
 *	  "a,b"		only queues a and b
 *	  "-a,b"	every queue but a and b
 *	  "+a,b"	queues a and b, a's jobs first
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns a malloc'd copy of [start, end) without surrounding white space. */
static char *
trimmed_copy(const char *start, const char *end)
{
	while (start < end && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;
	return gj_strndup(start, (size_t) (end - start));
}

/* Parses spec into out; on error returns false with a message. */
bool
gj_queues_parse(const char *spec, gj_queues *out, char *msg, size_t msglen)
{
	char	   *whole = trimmed_copy(spec, spec + strlen(spec));
	const char *list = whole;

	memset(out, 0, sizeof(*out));
	if (*whole == '\0')
	{
		snprintf(msg, msglen, "invalid queue specification \"%s\": it is empty", spec);
		free(whole);
		return false;
	}
	if (strcmp(whole, "*") == 0)
	{
		out->kind = GJ_QUEUES_ALL;
		free(whole);
		return true;
	}
	out->kind = GJ_QUEUES_ONLY;
	if (*list == '-' || *list == '+')
	{
		out->kind = (*list == '-') ? GJ_QUEUES_EXCEPT : GJ_QUEUES_ORDERED;
		list++;
	}
	for (;;)
	{
		const char *comma = strchr(list, ',');
		const char *end = comma ? comma : list + strlen(list);
		char	   *name = trimmed_copy(list, end);
		const char *problem = NULL;

		if (*name == '\0')
			problem = "a queue name in the list is empty";
		else if (strcmp(name, "*") == 0)
			problem = "\"*\" cannot be combined with queue names";
		else if (name[0] == '+' || name[0] == '-')
			problem = "only the whole list may start with \"+\" or \"-\"";
		if (problem != NULL)
		{
			snprintf(msg, msglen,
					 "invalid queue specification \"%s\": %s (use \"*\", \"a,b\", \"-a,b\" or \"+a,b\")",
					 spec, problem);
			free(name);
			free(whole);
			gj_queues_free(out);
			return false;
		}
		out->names = realloc(out->names, sizeof(char *) * (out->n + 1));
		if (out->names == NULL)
			abort();
		out->names[out->n++] = name;
		if (comma == NULL)
			break;
		list = comma + 1;
	}
	free(whole);
	return true;
}

/* True when a job in queue_name can be claimed under q. */
bool
gj_queues_match(const gj_queues *q, const char *queue_name)
{
	int			i;
	bool		listed = false;

	if (q->kind == GJ_QUEUES_ALL)
		return true;
	for (i = 0; i < q->n && !listed; i++)
		listed = strcmp(q->names[i], queue_name) == 0;
	return q->kind == GJ_QUEUES_EXCEPT ? !listed : listed;
}

/* Frees the names of q. */
void
gj_queues_free(gj_queues *q)
{
	int			i;

	for (i = 0; i < q->n; i++)
		free(q->names[i]);
	free(q->names);
	q->names = NULL;
	q->n = 0;
}
