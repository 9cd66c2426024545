// SPDX-License-Identifier: MIT
/*
 * hmm.c - hmm_range_fault(): read a range of the CPU page tables for a
 * device driver, faulting pages in where the driver asks (seeds 000, 004).
 *
 * THE PROTOCOL (docs/hmm.md)
 *
 * hmm_range_fault() never blocks the host MMU and takes no page-table
 * lock: it reads a snapshot under mmap_lock (read) while munmap, mprotect,
 * COW, MADV_DONTNEED and huge-page splits may run concurrently (the last
 * three under mmap_lock for read too).  What it returns may therefore be
 * stale the moment it returns.  That is by design (seed 004: "never block
 * mm"): the snapshot is only used if the interval notifier's sequence,
 * checked by the driver under its own lock with mmu_interval_read_retry(),
 * proves no invalidation of the range began since read_begin.  Here the
 * same sequence is only a hint, mmu_interval_check_retry(), used to stop
 * doing useless work: on entry and after every fault, -EBUSY as soon as the
 * range was invalidated.
 *
 * THE WALK
 *
 * The generic walker (pagewalk.h) reads each entry once and hands us the
 * snapshot; we decide per entry from that snapshot only, and descend into
 * a PTE table through the snapshot of its PMD (seed 001: never re-read an
 * entry and trust both reads).  Page-table pages cannot be freed under us:
 * they are freed only under mmap_lock held for write, and we hold it for
 * read.  A leaf that changes after we read it (split, zap, COW) is caught
 * by the sequence count, not by us.
 *
 * Per page the request is (hmm_pfns[i] & pfn_flags_mask) | default_flags.
 * A page needs a fault if REQ_FAULT is asked and the CPU entry is not
 * VALID, or REQ_WRITE is asked too and the entry is not WRITE.  Pages that
 * need no fault are written with their output (pfn | VALID | WRITE | order,
 * or 0) in address order.  At the first page that needs one we fault the
 * run of pages needing one that starts there (handle_mm_fault(), WRITE if
 * asked), remember its address in hw->last, and return HMM_RESTART: the
 * walker stops and hmm_range_fault() walks again from hw->last, so the
 * faulted pages are reported from a fresh read of the page tables.  The
 * invariant that makes the restart correct: every word below hw->last
 * holds an output, every word from hw->last on still holds its input.
 *
 * Device-private entries of range->dev_private_owner are reported as
 * their device page (VALID, WRITE if the entry is), never faulted, even
 * when a write is asked of a read-only one (the kernel's rule: the driver
 * owns that page and decides).  Every other non-present software entry
 * is "not mapped": faulted if requested, else 0.  For another owner's
 * device-private page the fault migrates it back (migrate_to_ram).  For swap entries that is the kernel's
 * answer (handle_mm_fault swaps the page in); for a migration entry the
 * fault waits until the migration ends (migration_entry_wait) and the
 * walk restarts: the kernel waits and returns -EBUSY (a restart) in
 * hmm_vma_handle_pte (the MIGRATE invalidation has usually moved the
 * notifier sequence too, so the caller then sees -EBUSY and retries).
 */
#include <mmirror/hmm.h>
#include <mmirror/memremap.h>
#include <mmirror/mm.h>
#include <mmirror/pagewalk.h>
#include "base/trace.h"

/* Internal: "faulted, walk again from hw->last"; never returned. */
#define HMM_RESTART 1

#define HMM_NEED_FAULT 1
#define HMM_NEED_WRITE_FAULT 2

#define HMM_REQ_FLAGS (HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE)

struct hmm_walk {
	struct hmm_range *range;
	unsigned long last; /* first address whose word is still input */
	unsigned long req_mask; /* pfn_flags_mask & HMM_REQ_FLAGS */
	unsigned long req_default; /* default_flags */
	bool may_fault; /* REQ_FAULT possible on some page at all */
};

static inline unsigned long *hmm_word(struct hmm_walk *hw, unsigned long addr)
{
	return hw->range->hmm_pfns + ((addr - hw->range->start) >> PAGE_SHIFT);
}

/* Does a page with input word @in and CPU flags @cpu_flags need a fault? */
static inline unsigned int hmm_need_fault(const struct hmm_walk *hw,
					  unsigned long in,
					  unsigned long cpu_flags)
{
	unsigned long req = (in & hw->req_mask) | hw->req_default;

	if (!(req & HMM_PFN_REQ_FAULT))
		return 0;
	if ((req & HMM_PFN_REQ_WRITE) && !(cpu_flags & HMM_PFN_WRITE))
		return HMM_NEED_FAULT | HMM_NEED_WRITE_FAULT;
	if (!(cpu_flags & HMM_PFN_VALID))
		return HMM_NEED_FAULT;
	return 0;
}

/* Does any page of @n words at @p need a fault with CPU flags @cpu_flags? */
static bool hmm_range_need_fault(const struct hmm_walk *hw,
				 const unsigned long *p, unsigned long n,
				 unsigned long cpu_flags)
{
	if (!hw->may_fault)
		return false;
	/* Without per-page requests every page asks the same. */
	if (!hw->req_mask)
		return hmm_need_fault(hw, 0, cpu_flags);
	for (unsigned long i = 0; i < n; i++)
		if (hmm_need_fault(hw, p[i], cpu_flags))
			return true;
	return false;
}

/* Write @n outputs at @p: @cpu_flags, with pfn, pfn + 1, ... if VALID. */
static void hmm_fill(unsigned long *p, unsigned long n, unsigned long cpu_flags,
		     unsigned long pfn)
{
	if (!(cpu_flags & HMM_PFN_VALID)) {
		for (unsigned long i = 0; i < n; i++)
			p[i] = cpu_flags;
		return;
	}
	/*
	 * The hot loop of a huge-leaf snapshot (512 or 262144 words): two
	 * words per 16-byte store.  (pfn + i) | flags == (pfn | flags) + i
	 * since a pfn never reaches the flag bits.
	 */
	typedef unsigned long v2ul __attribute__((vector_size(16)));
	v2ul v = { pfn | cpu_flags, (pfn + 1) | cpu_flags };
	const v2ul step = { 2, 2 };
	unsigned long i;

	for (i = 0; i + 2 <= n; i += 2, v += step)
		__builtin_memcpy(p + i, &v, sizeof(v));
	if (i < n)
		p[i] = (pfn + i) | cpu_flags;
}

/*
 * hmm_fault_page() - fault in the page at @addr as @need (HMM_NEED_*) says;
 * mmap_lock is held for read, as handle_mm_fault() wants.  Return 0, or
 * -EPERM (write asked of a VMA without VM_WRITE), -EFAULT, -ENOMEM, or
 * -EBUSY (the range was invalidated meanwhile: by the fault itself, a COW
 * or a split, or by another thread; nothing read is worth reporting).
 */
static int hmm_fault_page(struct hmm_walk *hw, struct mm_walk *walk,
			  unsigned long addr, unsigned int need)
{
	struct vm_area_struct *vma = walk->vma;
	struct hmm_range *range = hw->range;
	unsigned int fault_flags = 0;
	vm_fault_t ret;

	if (WARN_ON(!vma))
		return -EFAULT;
	if (need & HMM_NEED_WRITE_FAULT) {
		if (!(vma->vm_flags & VM_WRITE))
			return -EPERM;
		fault_flags |= FAULT_FLAG_WRITE;
	}
	ret = handle_mm_fault(vma, addr, fault_flags);
	if (ret & VM_FAULT_OOM)
		return -ENOMEM;
	if (ret & VM_FAULT_ERROR)
		return -EFAULT;
	/* Pairs with mmu_interval_set_seq()'s WRITE_ONCE. */
	if (mmu_interval_check_retry(range->notifier, range->notifier_seq))
		return -EBUSY;
	return 0;
}

/*
 * hmm_fault() - fault in the pages of [addr, addr + n pages) (words at @p,
 * still input) that need it given CPU flags @cpu_flags, then ask for a
 * walk from @addr.  Return HMM_RESTART or hmm_fault_page()'s error.
 */
static int hmm_fault(struct hmm_walk *hw, struct mm_walk *walk,
		     unsigned long addr, const unsigned long *p,
		     unsigned long n, unsigned long cpu_flags)
{
	hw->last = addr;
	for (unsigned long i = 0; i < n; i++, addr += PAGE_SIZE) {
		unsigned int need = hmm_need_fault(hw, p[i], cpu_flags);
		int ret;

		if (need && (ret = hmm_fault_page(hw, walk, addr, need)))
			return ret;
	}
	return HMM_RESTART;
}

/*
 * hmm_report() - [addr, end) is mapped uniformly by one entry (a hole, a
 * huge leaf, a non-present entry): CPU flags @cpu_flags, first pfn @pfn.
 * Report the pages that need no fault up to the first that does, then
 * fault the run of pages that need one from there.
 */
static int hmm_report(struct hmm_walk *hw, struct mm_walk *walk,
		      unsigned long addr, unsigned long end,
		      unsigned long cpu_flags, unsigned long pfn)
{
	unsigned long *p = hmm_word(hw, addr);
	unsigned long n = (end - addr) >> PAGE_SHIFT;
	unsigned long i, j;

	if (hmm_range_need_fault(hw, p, n, cpu_flags)) {
		for (i = 0; i < n && !hmm_need_fault(hw, p[i], cpu_flags); i++)
			;
		for (j = i + 1; j < n && hmm_need_fault(hw, p[j], cpu_flags);
		     j++)
			;
		hmm_fill(p, i, cpu_flags, pfn);
		return hmm_fault(hw, walk, addr + (i << PAGE_SHIFT), p + i,
				 j - i, cpu_flags);
	}
	hmm_fill(p, n, cpu_flags, pfn);
	return 0;
}

/*
 * [addr, end) cannot be mirrored (no VMA, or a VM_IO/VM_PFNMAP/!VM_READ
 * one): HMM_PFN_ERROR on its pages; -EFAULT if a fault was asked of any.
 */
static int hmm_unmirrorable(struct hmm_walk *hw, unsigned long addr,
			    unsigned long end)
{
	unsigned long *p = hmm_word(hw, addr);
	unsigned long n = (end - addr) >> PAGE_SHIFT;
	bool fault = hmm_range_need_fault(hw, p, n, 0);

	hmm_fill(p, n, HMM_PFN_ERROR, 0);
	return fault ? -EFAULT : 0;
}

static bool hmm_vma_mirrorable(const struct vm_area_struct *vma)
{
	return !(vma->vm_flags & (VM_IO | VM_PFNMAP)) &&
	       (vma->vm_flags & VM_READ);
}

static int hmm_test_walk(unsigned long addr, unsigned long next,
			 struct mm_walk *walk)
{
	struct hmm_walk *hw = walk->private;
	int ret;

	if (hmm_vma_mirrorable(walk->vma))
		return 0;
	ret = hmm_unmirrorable(hw, addr, next);
	/* Skipped VMAs come back to hmm_pte_hole() with depth -1. */
	return ret ? ret : 1;
}

static int hmm_pte_hole(unsigned long addr, unsigned long next, int depth,
			struct mm_walk *walk)
{
	struct hmm_walk *hw = walk->private;

	if (depth < 0)
		return hmm_unmirrorable(hw, addr, next);
	return hmm_report(hw, walk, addr, next, 0, 0);
}

/* CPU flags of a leaf entry's value @v mapping 2^@order pages. */
static inline unsigned long hmm_leaf_flags(u64 v, unsigned int order)
{
	/* Not present to hardware (none, PROT_NONE, swap-type): nothing a
	 * device may use. */
	if (!(v & _PAGE_PRESENT))
		return 0;
	return HMM_PFN_VALID | (v & _PAGE_RW ? HMM_PFN_WRITE : 0) |
	       ((unsigned long)order << HMM_PFN_ORDER_SHIFT);
}

static int hmm_pud_entry(pud_t pud, pud_t *pudp, unsigned long addr,
			 unsigned long next, struct mm_walk *walk)
{
	struct hmm_walk *hw = walk->private;
	unsigned long flags, pfn;

	(void)pudp;
	if (pud_present(pud) && !pud_leaf(pud)) {
		walk->action = ACTION_SUBTREE; /* a PMD table */
		return 0;
	}
	walk->action = ACTION_CONTINUE;
	/* none, a huge leaf, or a software entry: one answer for all. */
	flags = hmm_leaf_flags(pud_val(pud), PUD_SHIFT - PAGE_SHIFT);
	pfn = pud_pfn(pud) + ((addr & ~PUD_MASK) >> PAGE_SHIFT);
	return hmm_report(hw, walk, addr, next, flags, pfn);
}

/* Is @pfn a device-private page of the caller (range->dev_private_owner)? */
static bool hmm_owns(const struct hmm_range *range, unsigned long pfn)
{
	struct dev_pagemap *pgmap;
	bool own;

	if (!range->dev_private_owner)
		return false;
	/*
	 * The entry was read without the PTE lock: the page may have left
	 * since, even the pgmap.  A reference on a live pgmap makes ->owner
	 * safe to read; a dying one's pages are being moved out anyway.
	 */
	pgmap = get_dev_pagemap(pfn, NULL);
	own = pgmap && pgmap->owner == range->dev_private_owner;
	put_dev_pagemap(pgmap);
	return own;
}

/*
 * hmm_pte_flags() - the CPU flags of PTE value @v, its pfn in *@pfn.
 * *@own is set for a device-private page of the caller: reported VALID
 * (WRITE if its entry is) and never faulted, whatever was asked (the
 * kernel decides it before it looks at the request).  Other
 * device-private entries are "not mapped": faulted if asked, which calls
 * the owner's migrate_to_ram().
 */
static unsigned long hmm_pte_flags(const struct hmm_walk *hw, u64 v,
				   unsigned long *pfn, bool *own)
{
	swp_entry_t e = pte_to_swp_entry(__pte(v));

	*own = false;
	*pfn = (v & PTE_PFN_MASK) >> PAGE_SHIFT;
	if (!is_swap_pte(__pte(v)) || !is_device_private_entry(e))
		return hmm_leaf_flags(v, 0);
	*pfn = swp_offset(e);
	if (!hmm_owns(hw->range, *pfn))
		return 0;
	*own = true;
	return HMM_PFN_VALID |
	       (is_writable_device_private_entry(e) ? HMM_PFN_WRITE : 0);
}

/* A special entry that is not a page: pfnmap (not the zero page, not
 * device memory mapped with devmap entries, which is reported). */
static bool hmm_pte_unmirrorable(u64 v)
{
	return (v & _PAGE_PRESENT) && (v & _PAGE_SPECIAL) &&
	       !(v & _PAGE_DEVMAP) &&
	       !is_zero_pfn((v & PTE_PFN_MASK) >> PAGE_SHIFT);
}

/* Does the page at @p (PTE value @v) need a fault?  0 for our own pages. */
static unsigned int hmm_pte_need_fault(const struct hmm_walk *hw, u64 v,
				       unsigned long in)
{
	unsigned long pfn;
	bool own;
	unsigned long flags = hmm_pte_flags(hw, v, &pfn, &own);

	return own ? 0 : hmm_need_fault(hw, in, flags);
}

/*
 * The PTEs of one table, reached through the PMD snapshot @pmd.  Each PTE
 * is read once; the zero page reports VALID read-only (a write request
 * faults it: COW), devmap entries report their device page, other special
 * entries (pfnmap) are errors.
 */
static int hmm_pte_table(struct hmm_walk *hw, struct mm_walk *walk, pmd_t pmd,
			 unsigned long addr, unsigned long end)
{
	pte_t *ptep = pmd_pgtable(pmd) + pte_index(addr);
	unsigned long *p = hmm_word(hw, addr);
	unsigned long n = (end - addr) >> PAGE_SHIFT;
	unsigned long i, j;

	for (i = 0; i < n; i++) {
		u64 v = pte_val(ptep_get(ptep + i));
		unsigned long pfn;
		bool own;
		unsigned long flags = hmm_pte_flags(hw, v, &pfn, &own);

		if (unlikely(hmm_pte_unmirrorable(v))) {
			if (hmm_need_fault(hw, p[i], 0))
				return -EFAULT;
			p[i] = HMM_PFN_ERROR;
			continue;
		}
		if (hw->may_fault && !own && hmm_need_fault(hw, p[i], flags))
			goto fault;
		p[i] = flags ? pfn | flags : 0;
	}
	return 0;

fault:
	/* Fault the run of pages that need it from here, each judged by a
	 * fresh read of its PTE (the loop's read is not reused); the walk
	 * then restarts at the first of them. */
	hw->last = addr + (i << PAGE_SHIFT);
	for (j = i; j < n; j++) {
		u64 v = pte_val(ptep_get(ptep + j));
		unsigned int need = hmm_pte_need_fault(hw, v, p[j]);
		int ret;

		if (!need)
			break;
		ret = hmm_fault_page(hw, walk, addr + (j << PAGE_SHIFT), need);
		if (ret)
			return ret;
	}
	return HMM_RESTART;
}

static int hmm_pmd_entry(pmd_t pmd, pmd_t *pmdp, unsigned long addr,
			 unsigned long next, struct mm_walk *walk)
{
	struct hmm_walk *hw = walk->private;
	unsigned long flags, pfn;

	(void)pmdp;
	walk->action = ACTION_CONTINUE; /* we read the PTEs ourselves */
	if (pmd_present(pmd) && !pmd_leaf(pmd))
		return hmm_pte_table(hw, walk, pmd, addr, next);
	flags = hmm_leaf_flags(pmd_val(pmd), PMD_SHIFT - PAGE_SHIFT);
	pfn = pmd_pfn(pmd) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
	return hmm_report(hw, walk, addr, next, flags, pfn);
}

static const struct mm_walk_ops hmm_walk_ops = {
	.pud_entry = hmm_pud_entry,
	.pmd_entry = hmm_pmd_entry,
	.pte_hole = hmm_pte_hole,
	.test_walk = hmm_test_walk,
};

int hmm_range_fault(struct hmm_range *range)
{
	struct hmm_walk hw;
	struct mm_struct *mm;
	int ret;

	if (WARN_ON(!range || !range->notifier || !range->notifier->mm ||
		    !range->hmm_pfns))
		return -EINVAL;
	mm = range->notifier->mm;
	if (!IS_ALIGNED(range->start, PAGE_SIZE) ||
	    !IS_ALIGNED(range->end, PAGE_SIZE) || range->start >= range->end ||
	    range->end > mm->task_size ||
	    (range->default_flags & ~HMM_REQ_FLAGS))
		return -EINVAL;
	mmap_assert_locked(mm);

	hw.range = range;
	hw.last = range->start;
	hw.req_mask = range->pfn_flags_mask & HMM_REQ_FLAGS;
	hw.req_default = range->default_flags;
	hw.may_fault = (hw.req_mask | hw.req_default) & HMM_PFN_REQ_FAULT;
	trace_event(TR_FAULT, "hmm_range_fault %#lx-%#lx seq %lu", range->start,
		    range->end, range->notifier_seq);
	do {
		/* A hint only (the driver's read_retry under its lock is the
		 * real check): pairs with mmu_interval_set_seq()'s
		 * WRITE_ONCE in the invalidate callback. */
		if (mmu_interval_check_retry(range->notifier,
					     range->notifier_seq))
			return -EBUSY;
		ret = walk_page_range(mm, hw.last, range->end, &hmm_walk_ops,
				      &hw);
	} while (ret == HMM_RESTART);
	return ret;
}
