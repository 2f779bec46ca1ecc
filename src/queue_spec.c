/*-------------------------------------------------------------------------
 * queue_spec.c
 *	  Parsing of GoodJob queue specifications.
 *
 *	  "*"		every queue
 *	  "a,b"		only queues a and b
 *	  "-a,b"	every queue but a and b
 *	  "+a,b"	queues a and b, all of a's ready jobs before any of b's
 *
 * White space around names is ignored; empty names are errors.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "queue_spec.h"

static void report_bad_spec(const char *spec, const char *detail) pg_attribute_noreturn();

/* Raises 22023 for the queue specification spec. */
static void
report_bad_spec(const char *spec, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid queue specification \"%s\"", spec),
			 errdetail("%s", detail),
			 errhint("Use \"*\", \"a,b\", \"-a,b\" or \"+a,b\".")));
}

/* Returns a copy of [start, end) with surrounding white space removed. */
static char *
trimmed_copy(const char *start, const char *end)
{
	while (start < end && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;
	return pnstrdup(start, end - start);
}

/* Parses spec into a QueueSpec allocated in the current memory context. */
QueueSpec *
parse_queue_spec(const char *spec)
{
	QueueSpec  *result = palloc0(sizeof(QueueSpec));
	char	   *whole = trimmed_copy(spec, spec + strlen(spec));
	const char *list = whole;
	const char *p;
	int			capacity;

	if (*whole == '\0')
		report_bad_spec(spec, "The queue specification is empty.");
	if (strcmp(whole, "*") == 0)
	{
		result->kind = QUEUES_ALL;
		return result;
	}

	if (*list == '-')
	{
		result->kind = QUEUES_EXCEPT;
		list++;
	}
	else if (*list == '+')
	{
		result->kind = QUEUES_ORDERED;
		list++;
	}
	else
		result->kind = QUEUES_ONLY;

	capacity = 1;
	for (p = list; *p; p++)
		if (*p == ',')
			capacity++;
	result->queues = palloc(sizeof(char *) * capacity);

	for (;;)
	{
		const char *comma = strchr(list, ',');
		const char *end = comma ? comma : list + strlen(list);
		char	   *name = trimmed_copy(list, end);

		if (*name == '\0')
			report_bad_spec(spec, "A queue name in the list is empty.");
		if (strcmp(name, "*") == 0)
			report_bad_spec(spec, "\"*\" cannot be combined with queue names.");
		if (name[0] == '+' || name[0] == '-')
			report_bad_spec(spec, "Only the whole list may start with \"+\" or \"-\".");
		result->queues[result->nqueues++] = name;
		if (comma == NULL)
			break;
		list = comma + 1;
	}
	return result;
}
