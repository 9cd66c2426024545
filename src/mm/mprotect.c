// SPDX-License-Identifier: MIT
/*
 * mprotect.c - vm_mprotect(): change the access permissions of a range.
 *
 * Protocol, with mmap_lock held for write throughout (no fault can run, so
 * no new entry can appear with the old permissions):
 *   1. allocate the spare VMAs for the (at most two) edge splits - the only
 *      allocations, so -ENOMEM changes nothing;
 *   2. for each VMA in the range, in address order: split it at the range's
 *      edges, give it the new vm_flags and vm_page_prot, and
 *      change_protection() its entries through ONE mmu_gather for the whole
 *      call (a downgrade must reach every CPU's TLB before the call
 *      returns; one shootdown covers all VMAs), then merge it with its
 *      neighbours;
 *   3. tlb_finish_mmu(): the shootdown.
 * As in Linux, a hole stops the walk: the VMAs before it keep their new
 * protection and the call returns -ENOMEM.  A request for more than the
 * VMA may ever have (VM_MAY*) is -EACCES, likewise stopping there; anonymous
 * VMAs may have everything.
 */
#include "internal.h"

#define PROT_KNOWN (PROT_READ | PROT_WRITE | PROT_EXEC)

static unsigned long mprotect_newflags(const struct vm_area_struct *vma,
				       unsigned long prot)
{
	unsigned long flags = vma->vm_flags & ~VM_ACCESS_FLAGS;

	if (prot & PROT_READ)
		flags |= VM_READ;
	if (prot & PROT_WRITE)
		flags |= VM_WRITE;
	if (prot & PROT_EXEC)
		flags |= VM_EXEC;
	return flags;
}

/* The splits the range's edges will need (the VMAs whose flags change). */
static int mprotect_nr_splits(struct mm_struct *mm, unsigned long start,
			      unsigned long end, unsigned long prot)
{
	struct vm_area_struct *first = vma_lookup(mm, start);
	struct vm_area_struct *last = vma_lookup(mm, end - 1);
	int nr = 0;

	if (first && first->vm_start < start &&
	    mprotect_newflags(first, prot) != first->vm_flags)
		nr++;
	if (last && last->vm_end > end &&
	    mprotect_newflags(last, prot) != last->vm_flags)
		nr++;
	return nr;
}

/* Step 2 for one VMA's part [start, end); returns the VMA covering it. */
static struct vm_area_struct *
mprotect_fixup(struct mmu_gather *tlb, struct vm_area_struct *vma,
	       unsigned long start, unsigned long end, unsigned long newflags,
	       struct vm_area_struct *spares[2])
{
	if (newflags == vma->vm_flags)
		return vma;
	vma = vma_modify_flags(vma, start, end, newflags, spares);
	change_protection(tlb, vma, start, end);
	return vma_merge_neighbours(vma);
}

/**
 * vm_mprotect() - set the protection of [@start, @start + @len) to @prot,
 * like mprotect(2).
 * @mm: the address space.
 * @start: page aligned.
 * @len: rounded up to pages; 0 does nothing.
 * @prot: PROT_NONE or any of PROT_READ, PROT_WRITE, PROT_EXEC.
 *
 * Downgrades take effect in every CPU's TLB before the call returns;
 * upgrades of private memory map a page writable only when it is
 * exclusively owned (otherwise the next write faults and copies).
 *
 * Context: takes mmap_lock for write; may sleep.
 * Return: 0; -EINVAL (unaligned @start, unknown @prot bits); -ENOMEM (the
 * range wraps, or has a hole: the part before the hole is changed, as in
 * Linux; or no memory for a split: nothing changed); -EACCES (@prot beyond
 * a VMA's VM_MAY* bits).
 */
int vm_mprotect(struct mm_struct *mm, unsigned long start, unsigned long len,
		unsigned long prot)
{
	struct vm_area_struct *vma, *spares[2];
	unsigned long end, tmp, newflags;
	struct mmu_notifier_range range;
	struct mmu_gather tlb;
	int ret = 0;

	if (WARN_ON(!mm))
		return -EINVAL;
	if (!IS_ALIGNED(start, PAGE_SIZE))
		return -EINVAL;
	if (!len)
		return 0;
	len = PAGE_ALIGN(len);
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~PROT_KNOWN)
		return -EINVAL;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, start);
	if (!vma) {
		ret = -ENOMEM;
		goto out;
	}
	ret = vma_spares_alloc(mm, spares,
			       mprotect_nr_splits(mm, start, end, prot));
	if (ret)
		goto out;
	tlb_gather_mmu_notify(&tlb, &range, mm, MMU_NOTIFY_PROTECTION_VMA,
			      start, end);
	for (tmp = start;;) {
		unsigned long seg_end = min(end, vma->vm_end);

		newflags = mprotect_newflags(vma, prot);
		/* VM_MAYx sits 4 bits above VM_x. */
		if (newflags & ~(newflags >> 4) & VM_ACCESS_FLAGS) {
			ret = -EACCES;
			break;
		}
		mprotect_fixup(&tlb, vma, tmp, seg_end, newflags, spares);
		tmp = seg_end;
		if (tmp >= end)
			break;
		/* Look again: the fixup may have merged or split VMAs. */
		vma = find_vma(mm, tmp);
		if (!vma || vma->vm_start > tmp) {
			ret = -ENOMEM;
			break;
		}
	}
	tlb_finish_mmu(&tlb);
	vma_spares_free(spares);
out:
	mmap_write_unlock(mm);
	return ret;
}
