// SPDX-License-Identifier: MIT
/*
 * madvise.c - vm_madvise(): advice about a range of anonymous memory.
 *
 * Advice and the lock each needs:
 *   MADV_DONTNEED    mmap_lock READ.  Zap the range's entries through one
 *                    mmu_gather (one shootdown, then the pages are freed);
 *                    the page tables stay, as in Linux.  Faults may run
 *                    concurrently and refill pages behind the zap: that is
 *                    the advice's semantics (the pages are simply gone at
 *                    some point during the call).  Private memory then reads
 *                    back as zeroes; shared memory reads back its object's
 *                    pages (only the mappings were dropped).
 *   MADV_WILLNEED    mmap_lock READ.  mmirror deviation: Linux only starts
 *                    swap-in for anonymous memory; here the range is
 *                    populated like MADV_POPULATE_READ (read faults), which
 *                    is what a user of the advice wants from a model with
 *                    no readahead.  Populate failure is ignored (a hint).
 *                    VMAs without any access permission are skipped.
 *   MADV_HUGEPAGE,   mmap_lock WRITE (they change vm_flags).  Set VM_HUGEPAGE
 *   MADV_NOHUGEPAGE  (clearing VM_NOHUGEPAGE) or the reverse on the range,
 *                    splitting VMAs at its edges and merging afterwards.
 *                    Existing huge pages stay (as in Linux).
 *
 * Holes, as in Linux: the advice is applied to every mapped part of the
 * range and the call then returns -ENOMEM.  Allocation (the spare VMAs for
 * the edge splits of MADV_(NO)HUGEPAGE) happens before anything changes.
 */
#include "internal.h"

typedef int (*madvise_visit_t)(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, void *arg);

/*
 * Call @visit for each VMA's part of [start, end) in address order,
 * looking the next VMA up afresh each time (a visit may split or merge).
 * Return: the first visit error; else -ENOMEM if the range had a hole;
 * else 0.
 */
static int madvise_walk_vmas(struct mm_struct *mm, unsigned long start,
			     unsigned long end, madvise_visit_t visit,
			     void *arg)
{
	int unmapped = 0, err;

	while (start < end) {
		struct vm_area_struct *vma = find_vma(mm, start);
		unsigned long tmp;

		if (!vma || vma->vm_start >= end)
			return -ENOMEM;
		if (vma->vm_start > start) {
			unmapped = -ENOMEM;
			start = vma->vm_start;
		}
		tmp = min(end, vma->vm_end);
		err = visit(vma, start, tmp, arg);
		if (err)
			return err;
		start = tmp;
	}
	return unmapped;
}

static int madvise_dontneed_one(struct vm_area_struct *vma, unsigned long start,
				unsigned long end, void *arg)
{
	/* Linux: locked or PFN-mapped memory cannot be discarded. */
	if (vma->vm_flags & (VM_LOCKED | VM_PFNMAP))
		return -EINVAL;
	unmap_page_range(arg, vma, start, end);
	return 0;
}

static int madvise_willneed_one(struct vm_area_struct *vma, unsigned long start,
				unsigned long end, void *arg)
{
	if (vma->vm_flags & VM_ACCESS_FLAGS)
		populate_vma_range(vma, start, end, false);
	return 0;
}

static unsigned long hugepage_newflags(unsigned long flags, int advice)
{
	if (advice == MADV_HUGEPAGE)
		return (flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
	return (flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
}

struct hugepage_arg {
	int advice;
	struct vm_area_struct **spares;
};

static int madvise_hugepage_one(struct vm_area_struct *vma, unsigned long start,
				unsigned long end, void *arg)
{
	struct hugepage_arg *ha = arg;
	unsigned long newflags = hugepage_newflags(vma->vm_flags, ha->advice);

	if (newflags == vma->vm_flags)
		return 0;
	vma = vma_modify_flags(vma, start, end, newflags, ha->spares);
	vma_merge_neighbours(vma);
	return 0;
}

/* The splits the range's edges will need (the VMAs whose flags change). */
static int hugepage_nr_splits(struct mm_struct *mm, unsigned long start,
			      unsigned long end, int advice)
{
	struct vm_area_struct *first = vma_lookup(mm, start);
	struct vm_area_struct *last = vma_lookup(mm, end - 1);
	int nr = 0;

	if (first && first->vm_start < start &&
	    hugepage_newflags(first->vm_flags, advice) != first->vm_flags)
		nr++;
	if (last && last->vm_end > end &&
	    hugepage_newflags(last->vm_flags, advice) != last->vm_flags)
		nr++;
	return nr;
}

static int madvise_hugepage(struct mm_struct *mm, unsigned long start,
			    unsigned long end, int advice)
{
	struct vm_area_struct *spares[2];
	struct hugepage_arg ha = { .advice = advice, .spares = spares };
	int ret;

	ret = vma_spares_alloc(mm, spares,
			       hugepage_nr_splits(mm, start, end, advice));
	if (ret)
		return ret;
	ret = madvise_walk_vmas(mm, start, end, madvise_hugepage_one, &ha);
	vma_spares_free(spares);
	return ret;
}

static bool madvise_behavior_valid(int advice)
{
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_WILLNEED:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
		return true;
	default:
		return false;
	}
}

static bool madvise_need_mmap_write(int advice)
{
	return advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE;
}

/**
 * vm_madvise() - give advice about [@start, @start + @len), like madvise(2).
 * @mm: the address space.
 * @start: page aligned.
 * @len: rounded up to pages; 0 does nothing.
 * @advice: MADV_DONTNEED, MADV_WILLNEED, MADV_HUGEPAGE or MADV_NOHUGEPAGE
 *          (the file comment says what each does).
 *
 * Context: takes mmap_lock, for read (DONTNEED, WILLNEED) or write
 * (HUGEPAGE, NOHUGEPAGE); may sleep.
 * Return: 0; -EINVAL (unknown @advice, unaligned @start, the range wraps,
 * MADV_DONTNEED on VM_LOCKED/VM_PFNMAP memory); -ENOMEM (a hole in the
 * range: the mapped parts were advised; or no memory for a split: nothing
 * changed).
 */
int vm_madvise(struct mm_struct *mm, unsigned long start, unsigned long len,
	       int advice)
{
	unsigned long end, len_in = len;
	bool write = madvise_need_mmap_write(advice);
	struct mmu_notifier_range range;
	struct mmu_gather tlb;
	int ret;

	if (WARN_ON(!mm))
		return -EINVAL;
	if (!madvise_behavior_valid(advice))
		return -EINVAL;
	if (!IS_ALIGNED(start, PAGE_SIZE))
		return -EINVAL;
	len = PAGE_ALIGN(len_in);
	if (len_in && !len)
		return -EINVAL;
	end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;

	if (write)
		mmap_write_lock(mm);
	else
		mmap_read_lock(mm);
	switch (advice) {
	case MADV_DONTNEED:
		tlb_gather_mmu_notify(&tlb, &range, mm, MMU_NOTIFY_CLEAR, start,
				      end);
		ret = madvise_walk_vmas(mm, start, end, madvise_dontneed_one,
					&tlb);
		tlb_finish_mmu(&tlb);
		break;
	case MADV_WILLNEED:
		ret = madvise_walk_vmas(mm, start, end, madvise_willneed_one,
					NULL);
		break;
	default:
		ret = madvise_hugepage(mm, start, end, advice);
		break;
	}
	if (write)
		mmap_write_unlock(mm);
	else
		mmap_read_unlock(mm);
	return ret;
}
