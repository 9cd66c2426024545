/* SPDX-License-Identifier: MIT */
/*
 * mirror_priv.h - the inside of a mirror device, shared by mirror.c (the
 * device, its notifier, the fault protocol, snapshots) and engine.c (the
 * engine threads and the job queue).  README.md has the protocol and the
 * lock order; the rules are repeated beside the fields they govern.
 */
#ifndef DRIVERS_MIRROR_PRIV_H
#define DRIVERS_MIRROR_PRIV_H

#include <mmirror/atomic.h>
#include <mmirror/check.h>
#include <mmirror/kthread.h>
#include <mmirror/list.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/mutex.h>
#include <mmirror/rwsem.h>
#include <mmirror/spinlock.h>
#include <mmirror/wait.h>

#include "dpt.h"
#include "mirror.h"

#define DMIRROR_MAX_ENGINES 16
/* Pages one hmm_range_fault() call of an engine covers at most. */
#define DMIRROR_FAULT_BATCH 64UL

enum dmirror_op {
	DMIRROR_OP_READ,
	DMIRROR_OP_WRITE,
	DMIRROR_OP_FAULT,
};

/*
 * One request, on the submitter's stack.  The submitter owns it until
 * @done is set: the engine writes @ret, then publishes @done with a
 * release store (paired with the acquire load in the submitter's wait)
 * and never touches the job again.
 */
struct dmirror_job {
	struct list_head node; /* in dmirror.queue, under queue_lock */
	enum dmirror_op op;
	unsigned long start, end; /* [start, end): bytes, or pages (FAULT) */
	void *buf; /* READ: destination; WRITE: source (const) */
	bool write; /* FAULT: writable */
	int ret;
	int done;
};

struct dmirror_engine {
	struct dmirror *dm;
	struct task_struct *task;
	/* The hmm_pfns of this engine's faults: DMIRROR_FAULT_BATCH words,
	 * used by its thread only. */
	unsigned long *pfns;
};

struct dmirror_devmem;

struct dmirror {
	struct mmu_interval_notifier notifier; /* [0, task_size) of mm */
	struct mm_struct *mm; /* mmgrab'ed from create to destroy */
	struct check_dev cdev;
	/*
	 * The driver mutex.  It orders device page-table updates, device
	 * accesses (check_dev_*) and the invalidate callback.
	 * Lock order: mmap_lock -> mutex (the callback runs under whatever
	 * the invalidating path holds, often mmap_lock); nothing under the
	 * mutex takes mmap_lock or calls hmm_range_fault(), which may
	 * trigger an invalidation that takes the mutex.  Only kmalloc and
	 * the oracle's leaf locks are taken under it.
	 */
	struct mutex mutex;
	struct dmirror_pt pt; /* under mutex */

	/* The job queue: queue and nr_queued under queue_lock (a leaf).
	 * Engines sleep on queue_wq until nr_queued or stopping. */
	spinlock_t queue_lock;
	struct list_head queue;
	unsigned long nr_queued; /* WRITE_ONCE under queue_lock */
	bool stopping; /* WRITE_ONCE by dmirror_destroy() */
	wait_queue_head_t queue_wq;
	/* Submitters sleep here until their job's done flag is set. */
	wait_queue_head_t done_wq;
	unsigned int nr_engines;
	struct dmirror_engine engines[DMIRROR_MAX_ENGINES];

	/* Statistics (struct dmirror_stats; entries is pt.nr). */
	atomic_long_t reads, writes, faults, retries, invalidations;
	atomic_long_t atomics;
	/*
	 * Invalidations other than MMU_NOTIFY_EXCLUSIVE ones, under mutex:
	 * dmirror_exclusive() maps its pages only if none ran since before
	 * make_device_exclusive() (atomic.c).
	 */
	unsigned long excl_gen;
	/*
	 * Invalidations other than this device's own MMU_NOTIFY_MIGRATE
	 * ones, under mutex: a migration to the device maps its pages only
	 * if none ran since before its migrate_vma_setup() (devmem.c).
	 */
	unsigned long migrate_gen;

	/*
	 * Device memory (devmem.c).  devmem_sem keeps @devmem alive and
	 * unchanging: dmirror_devmem_add() and _release() set it under the
	 * write side, migrations to the device use it under the read side.
	 * Lock order: devmem_sem -> mmap_lock -> dm->mutex.  The
	 * migrate_to_ram callback (mmap_lock held) never takes it: it finds
	 * the memory through the faulting page's pgmap, which the fault's
	 * page reference keeps alive (memunmap_pages() waits for it).
	 */
	struct rw_semaphore devmem_sem;
	struct dmirror_devmem *devmem; /* NULL: no device memory */
	/* struct dmirror_devmem_stats counters, kept across releases. */
	atomic_long_t to_device, to_system, cpu_faults, evicted;
};

/* mirror.c */
int dmirror_fault_range(struct dmirror_engine *eng, unsigned long start,
			unsigned long end, bool write);
/* atomic.c */
void dmirror_zap_nonatomic(struct dmirror *dm, unsigned long start,
			   unsigned long end);
/* devmem.c */
bool dmirror_is_own_devpage(struct dmirror *dm, struct page *page);
int dmirror_devpage_to_system(struct dmirror *dm, unsigned long va,
			      struct page *page);

/* engine.c */
int dmirror_engines_start(struct dmirror *dm);
void dmirror_engines_stop(struct dmirror *dm);
bool dmirror_user_range_ok(struct dmirror *dm, unsigned long start,
			   unsigned long len);

#endif /* DRIVERS_MIRROR_PRIV_H */
