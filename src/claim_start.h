/*-------------------------------------------------------------------------
 * claim_start.h
 *	  Where claims start their scan: per queue (and for all queues), a key
 *	  below which no job is expected to be ready, kept in shared memory.
 *	  See claim_start.c.
 *-------------------------------------------------------------------------
 */
#ifndef GOODJOB_CLAIM_START_H
#define GOODJOB_CLAIM_START_H

#include "datatype/timestamp.h"

/* A job's place in claim order. */
typedef struct ClaimKey
{
	int32		priority;
	TimestampTz scheduled_at;
	int64		id;
} ClaimKey;

/* The lowest key there is: a claim from it scans from the head. */
extern const ClaimKey goodjob_claim_key_min;

extern int	goodjob_claim_key_cmp(const ClaimKey *a, const ClaimKey *b);
extern Size goodjob_claim_start_shmem_size(void);
extern void goodjob_claim_start_shmem_request(void);
extern void goodjob_claim_start_shmem_startup(void);

/* queue NULL: the key of claims from every queue */
extern bool goodjob_claim_start_get(const char *queue, ClaimKey *start, uint64 *epoch);
extern void goodjob_claim_start_raise(const char *queue, const ClaimKey *to, uint64 epoch);
extern void goodjob_note_queued(const char *queue, int32 priority,
								TimestampTz scheduled_at, int64 id);
extern void goodjob_claim_start_reset(bool force);

#endif							/* GOODJOB_CLAIM_START_H */
