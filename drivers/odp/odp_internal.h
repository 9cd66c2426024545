/* SPDX-License-Identifier: MIT */
/*
 * odp_internal.h - the structures shared by odp.c (the NIC and its DMA
 * engine) and odp_mr.c (memory regions: page list, faults, invalidation).
 * drivers/odp/README.md has the protocol and the lock order.
 */
#ifndef DRIVERS_ODP_INTERNAL_H
#define DRIVERS_ODP_INTERNAL_H

#include <mmirror/check.h>
#include <mmirror/completion.h>
#include <mmirror/kthread.h>
#include <mmirror/list.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/mutex.h>
#include <mmirror/spinlock.h>
#include <mmirror/wait.h>
#include "odp.h"

/*
 * struct odp_dev - one NIC.
 * @lock:      guards @queue, @mrs, @stopping and every MR's @dying; a leaf
 *             under an MR's umem_mutex is never needed (nothing nests).
 * @queue:     posted DMA work, FIFO, executed by @engine one at a time.
 * @engine_wq: the engine sleeps here for work or @stopping.
 * @mr_wq:     woken whenever an MR's in_flight count changes (dereg waits
 *             for zero, odp_mr_wait_in_flight() for a minimum).
 */
struct odp_dev {
	char name[32];
	struct check_dev cdev;
	spinlock_t lock;
	struct list_head queue;
	struct list_head mrs;
	bool stopping;
	wait_queue_head_t engine_wq;
	wait_queue_head_t mr_wq;
	struct task_struct *engine;
	atomic_long_t dma_reads, dma_writes, page_faults, prefetched,
		invalidations, retries;
};

/* One page of an MR's page list; every field under the MR's umem_mutex. */
struct odp_pte {
	unsigned long pfn;
	bool writable;
	bool valid;
};

/*
 * struct odp_mr - a memory region.
 * @umem_mutex: guards @pages and @nmapped.  Held by the invalidate
 *              callback while it zaps, by the fault path while it fills
 *              (after read_retry), and by the engine around each page of
 *              a DMA: holding it therefore also waits for the DMA page in
 *              flight, which is what makes zap-then-return safe.
 * @in_flight:  DMA posted on the MR and not yet finished by the engine
 *              (incremented under dev->lock at post, decremented by the
 *              engine when it is done with the MR).
 * @dying:      set by dereg under dev->lock: no new DMA is accepted.
 */
struct odp_mr {
	struct odp_dev *dev;
	struct mmu_interval_notifier notifier;
	struct mm_struct *mm;
	unsigned long va, len, npages;
	unsigned int access;
	struct mutex umem_mutex;
	struct odp_pte *pages;
	unsigned long nmapped;
	atomic_long_t in_flight;
	bool dying;
	struct list_head node; /* on dev->mrs, under dev->lock */
};

/* Is [va, va + len) a non-empty range inside @mr? */
static inline bool odp_mr_contains(const struct odp_mr *mr, unsigned long va,
				   unsigned long len)
{
	return len && va >= mr->va && va + len > va &&
	       va + len <= mr->va + mr->len;
}

/* odp_mr.c */
int odp_mr_fault(struct odp_mr *mr, unsigned long start, unsigned long end,
		 bool write, unsigned long *faulted);

#endif /* DRIVERS_ODP_INTERNAL_H */
