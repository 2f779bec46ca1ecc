/*-------------------------------------------------------------------------
 * queue_spec.h
 *	  Parsing of GoodJob queue specifications ("*", "a,b", "-a,b", "+a,b").
 *-------------------------------------------------------------------------
 */
#ifndef GOODJOB_QUEUE_SPEC_H
#define GOODJOB_QUEUE_SPEC_H

typedef enum QueueSpecKind
{
	QUEUES_ALL,					/* "*": every queue */
	QUEUES_ONLY,				/* "a,b": only these */
	QUEUES_EXCEPT,				/* "-a,b": all but these */
	QUEUES_ORDERED				/* "+a,b": these, first ones preferred */
} QueueSpecKind;

typedef struct QueueSpec
{
	QueueSpecKind kind;
	int			nqueues;
	char	  **queues;			/* palloc'd names, in the order given */
} QueueSpec;

extern QueueSpec *parse_queue_spec(const char *spec);

#endif							/* GOODJOB_QUEUE_SPEC_H */
