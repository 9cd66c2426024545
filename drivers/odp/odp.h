/* SPDX-License-Identifier: MIT */
/*
 * odp.h - an RDMA NIC with on-demand paging (mlx5 ODP style).
 *
 * A memory region (MR) registers a va range of an mm with one interval
 * notifier; its page list (va page -> pfn, writable) starts empty and is
 * filled by page faults on first DMA, or by prefetch, through
 * hmm_range_fault() and the read_begin/read_retry protocol.  An
 * invalidation zaps the overlapping part of the page list under the MR's
 * lock, which also orders it after every DMA in flight on the MR.  A DMA
 * engine thread per NIC executes posted reads and writes; deregistration
 * waits for the DMA in flight on the MR.  Every DMA goes through the
 * coherence oracle.  drivers/odp/README.md: protocol and lock order.
 */
#ifndef DRIVERS_ODP_H
#define DRIVERS_ODP_H

#include <mmirror/mm_types.h>

struct odp_dev;
struct odp_mr;

#define ODP_ACCESS_WRITE 0x1 /* remote writes allowed (IB_ACCESS_*_WRITE) */

struct odp_stats {
	unsigned long dma_reads, dma_writes; /* DMA operations completed */
	unsigned long page_faults; /* pages faulted in on a DMA */
	unsigned long prefetched; /* pages faulted in by prefetch */
	unsigned long invalidations; /* invalidate callbacks on MRs */
	unsigned long retries; /* faults that had to read again */
};

/* A NIC named @name with one DMA engine thread.  ERR_PTR on failure. */
struct odp_dev *odp_create(const char *name);
/* Stop the engine; every MR must have been deregistered (WARN otherwise,
 * and they are deregistered). */
void odp_destroy(struct odp_dev *dev);

/*
 * odp_reg_mr() - register [va, va + len) of @mm (page-aligned) with
 * @access (ODP_ACCESS_*).  Nothing is faulted.
 * Return: the MR or ERR_PTR(-EINVAL/-ENOMEM/-EFAULT: @mm exited).
 */
struct odp_mr *odp_reg_mr(struct odp_dev *dev, struct mm_struct *mm,
			  unsigned long va, unsigned long len,
			  unsigned int access);
/* odp_dereg_mr() - wait for DMA in flight on @mr, remove its notifier,
 * free it.  Later DMA on it is the caller's bug. */
void odp_dereg_mr(struct odp_mr *mr);

/* odp_prefetch() - fault [va, va + len) into the page list (writable if
 * @write).  Return 0, -EFAULT, -EPERM, -EINVAL (outside the MR), -ENOMEM. */
int odp_prefetch(struct odp_mr *mr, unsigned long va, unsigned long len,
		 bool write);
/*
 * odp_dma_read()/odp_dma_write() - post a DMA of @len bytes at @va (inside
 * the MR) to the NIC's engine and wait for its completion; missing pages
 * are faulted first.  Return 0; -EFAULT (unmapped, PROT_NONE, mm gone);
 * -EPERM (write to read-only memory, or an MR without ODP_ACCESS_WRITE);
 * -EINVAL (outside the MR); -ENOMEM.
 */
int odp_dma_read(struct odp_mr *mr, unsigned long va, void *buf, size_t len);
int odp_dma_write(struct odp_mr *mr, unsigned long va, const void *buf,
		  size_t len);
/* Wait until at least @n DMAs are posted on @mr and not yet finished
 * (tests and the CLI: deregister with DMA provably in flight). */
void odp_mr_wait_in_flight(struct odp_mr *mr, unsigned long n);
/* Pages of the MR's page list that are valid now. */
unsigned long odp_mr_mapped(struct odp_mr *mr);
void odp_get_stats(struct odp_dev *dev, struct odp_stats *stats);

#endif /* DRIVERS_ODP_H */
