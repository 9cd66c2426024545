/* SPDX-License-Identifier: MIT */
/*
 * hmm.h - heterogeneous memory management: hmm_range_fault(), the way a
 * device driver reads (and, if asked, faults in) a range of a process's
 * page tables to mirror it in its own page table, without pinning.
 *
 * The result is a snapshot: it is only worth programming into a device
 * page table if no invalidation of the range began since the snapshot's
 * mmu_interval_read_begin().  The driver proves that under its own lock
 * with mmu_interval_read_retry() (docs/hmm.md has the whole protocol and a
 * small example driver; seed 000 is the race it closes):
 *
 *	again:
 *		range.notifier_seq = mmu_interval_read_begin(range.notifier);
 *		mmap_read_lock(mm);
 *		ret = hmm_range_fault(&range);
 *		mmap_read_unlock(mm);
 *		if (ret == -EBUSY)
 *			goto again;
 *		if (ret)
 *			return ret;
 *		driver_lock();
 *		if (mmu_interval_read_retry(range.notifier,
 *					    range.notifier_seq)) {
 *			driver_unlock();
 *			goto again;
 *		}
 *		... program the device page table from range.hmm_pfns ...
 *		driver_unlock();
 *
 * Output encoding of one hmm_pfns[] entry (kernel layout): the pfn in the
 * low bits, HMM_PFN_VALID / HMM_PFN_WRITE / HMM_PFN_ERROR in bits 63..61,
 * and the order of the CPU mapping that covers the page (0 for a PTE, 9 for
 * a PMD leaf, 18 for a PUD leaf) in bits 56..60.  0 means "nothing mapped
 * and nothing was asked".  On input, the same words carry per-page
 * requests (HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE) filtered by
 * pfn_flags_mask and or-ed with default_flags.
 */
#ifndef MMIRROR_HMM_H
#define MMIRROR_HMM_H

#include <mmirror/mm_types.h>
#include <mmirror/mmu_notifier.h>

/* Output flags (and, below, the request aliases). */
#define HMM_PFN_VALID (1UL << 63) /* the CPU maps the page (>= read) */
#define HMM_PFN_WRITE (1UL << 62) /* ... and the mapping is writable */
#define HMM_PFN_ERROR (1UL << 61) /* not mirrorable (no VMA, VM_IO...) */
#define HMM_PFN_ORDER_SHIFT 56 /* 5 bits: log2 of the mapping's pages */
#define HMM_PFN_ORDER_MASK (0x1fUL << HMM_PFN_ORDER_SHIFT)
/* Every non-pfn bit: the pfn is hmm_pfn & ~HMM_PFN_FLAGS. */
#define HMM_PFN_FLAGS (0xffUL << HMM_PFN_ORDER_SHIFT)

/* Input: fault the page in if it is not mapped (read) / not writable. */
#define HMM_PFN_REQ_FAULT HMM_PFN_VALID
#define HMM_PFN_REQ_WRITE HMM_PFN_WRITE

/*
 * struct hmm_range - one hmm_range_fault() request.
 * @notifier:     the interval notifier covering [start, end); its mm is
 *                the address space read.
 * @notifier_seq: from mmu_interval_read_begin(@notifier), taken before the
 *                call; hmm_range_fault() returns -EBUSY once it is stale.
 * @start, @end:  page-aligned, start < end, end <= the mm's task size.
 * @hmm_pfns:     (end - start) >> PAGE_SHIFT words: requests in, results
 *                out (see above).
 * @default_flags: request bits applied to every page (REQ_FAULT, REQ_WRITE).
 * @pfn_flags_mask: which per-page request bits of @hmm_pfns are honoured
 *                (0: only @default_flags count).
 * @dev_private_owner: device-private pages whose pgmap->owner is this
 *                are reported (VALID, WRITE if their entry is; never
 *                faulted, even for a write request); those of other
 *                owners count as not mapped and a fault request migrates
 *                them back to system memory.  NULL: none is the caller's.
 */
struct hmm_range {
	struct mmu_interval_notifier *notifier;
	unsigned long notifier_seq;
	unsigned long start;
	unsigned long end;
	unsigned long *hmm_pfns;
	unsigned long default_flags;
	unsigned long pfn_flags_mask;
	void *dev_private_owner;
};

/* The struct page of a VALID entry. */
static inline struct page *hmm_pfn_to_page(unsigned long hmm_pfn)
{
	return pfn_to_page(hmm_pfn & ~HMM_PFN_FLAGS);
}

/* The order of the CPU mapping that covers a VALID entry's page: 0 (4 KiB
 * PTE), PMD_SHIFT - PAGE_SHIFT or PUD_SHIFT - PAGE_SHIFT. */
static inline unsigned int hmm_pfn_to_map_order(unsigned long hmm_pfn)
{
	return (hmm_pfn >> HMM_PFN_ORDER_SHIFT) & 0x1f;
}

/*
 * hmm_range_fault() - snapshot [range->start, range->end) of the notifier's
 * mm into range->hmm_pfns, faulting pages in where requested.
 * @range: the request (see struct hmm_range).
 *
 * Per page, request = (hmm_pfns[i] & pfn_flags_mask) | default_flags.
 * Without REQ_FAULT the page is only read: VALID (| WRITE) and the pfn if
 * the CPU maps it, 0 otherwise (none, PROT_NONE, swap/migration entries).
 * With REQ_FAULT a page that is not mapped (or, with REQ_WRITE, not
 * writable: read-only, COW-shared, the zero page) is faulted in with
 * handle_mm_fault(), then reported.  The zero page is reported VALID and
 * read-only; pages of a huge leaf report its order.  Pages outside every
 * VMA, or in a VMA that cannot be mirrored (VM_IO, VM_PFNMAP, no VM_READ),
 * are HMM_PFN_ERROR when only snapshotted.
 *
 * Context: the caller holds the mm's mmap_lock for read (asserted); may
 * sleep (faults allocate).  The caller must not hold its driver lock: an
 * invalidation that hmm_range_fault() may trigger takes it.
 *
 * Return: 0 with every entry filled;
 *  -EBUSY  the range was invalidated since range->notifier_seq (checked on
 *          entry and after every fault): read_begin again and retry;
 *  -EFAULT a fault was requested outside every VMA or in an unmirrorable
 *          VMA (those pages are set HMM_PFN_ERROR), or the fault failed;
 *  -EPERM  a write was requested in a VMA without VM_WRITE;
 *  -ENOMEM the fault ran out of memory;
 *  -EINVAL bad arguments: NULL range/notifier/hmm_pfns, unaligned, empty or
 *          reversed range, end beyond the address space, unknown bits in
 *          default_flags.
 * On an error the contents of hmm_pfns are undefined (partially filled).
 */
int hmm_range_fault(struct hmm_range *range);

#endif /* MMIRROR_HMM_H */
