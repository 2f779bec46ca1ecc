/*-------------------------------------------------------------------------
 * shmem.h
 *	  Shared state between backends and the goodjob maintainers: where each
 *	  maintainer's latch is, so that a commit can wake it.
 *-------------------------------------------------------------------------
 */
#ifndef GOODJOB_SHMEM_H
#define GOODJOB_SHMEM_H

extern void goodjob_shmem_init(int nmaintainers);
extern void goodjob_maintainer_attach(int slot);
extern void goodjob_wake_maintainer_at_commit(void);

#endif							/* GOODJOB_SHMEM_H */
