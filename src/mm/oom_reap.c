// SPDX-License-Identifier: MIT
/*
 * oom_reap.c - an OOM-reaper-like path: the one caller of non-blockable
 * notifier invalidations.
 *
 * When the kernel kills a process to free memory, the OOM reaper unmaps
 * the victim's private memory right away, without waiting for the victim
 * to exit.  It must not block on anything the victim (or a secondary MMU)
 * might hold, so it only trylocks mmap_lock and starts each VMA's
 * invalidation with mmu_notifier_invalidate_range_start_nonblock(): a
 * subscriber that would have to sleep answers -EAGAIN, the reaper skips
 * that VMA, and reports -EAGAIN so its caller tries again later.
 */
#include "internal.h"

/* Reap one VMA; -EAGAIN if a secondary MMU cannot invalidate it now. */
static int reap_vma(struct vm_area_struct *vma)
{
	struct mmu_notifier_range range;
	struct mmu_gather tlb;

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, vma->vm_mm,
				vma->vm_start, vma->vm_end);
	if (mmu_notifier_invalidate_range_start_nonblock(&range))
		return -EAGAIN; /* nothing started: no end */
	tlb_gather_mmu(&tlb, vma->vm_mm);
	unmap_page_range(&tlb, vma, vma->vm_start, vma->vm_end);
	tlb_finish_mmu(&tlb);
	mmu_notifier_invalidate_range_end(&range);
	return 0;
}

int mm_oom_reap(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	int ret = 0;

	if (!mm)
		return -EINVAL;
	if (!down_read_trylock(&mm->mmap_lock))
		return -EAGAIN;
	for_each_vma(mm, vma)
	{
		/* Shared memory outlives the victim (others map it). */
		if (vma->vm_shared)
			continue;
		if (reap_vma(vma))
			ret = -EAGAIN;
	}
	mmap_read_unlock(mm);
	return ret;
}
