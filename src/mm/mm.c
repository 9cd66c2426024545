// SPDX-License-Identifier: MIT
/*
 * mm.c - address-space lifetime: mm_alloc, mmput/mmget, mmgrab/mmdrop.
 *
 * Two counts, as in the kernel (mm_types.h): the last mmput() tears down
 * the address space (page tables, mapped frames); the last mmdrop() frees
 * the struct.  All users together hold one mm_count reference, dropped by
 * the last mmput().
 */
#include "base/check_hooks.h"
#include "internal.h"

static atomic_long_t live_mms;

long mm_live_count(void)
{
	return atomic_long_read(&live_mms);
}

struct mm_struct *mm_alloc(void)
{
	struct mm_struct *mm = kzalloc(sizeof(*mm), GFP_KERNEL);
	struct page *pgd;

	if (!mm)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&mm->page_table_lock);
	init_rwsem(&mm->mmap_lock);
	seqcount_init(&mm->write_protect_seq);
	mm->mm_rb = RB_ROOT;
	spin_lock_init(&mm->cpus_lock);
	INIT_LIST_HEAD(&mm->cpus);
	atomic_set(&mm->mm_users, 1);
	atomic_set(&mm->mm_count, 1);
	mm->task_size = TASK_SIZE;
	/* Kernel-chosen mappings go top-down from 1 GiB below the top (room
	 * a real process would give its stack). */
	mm->mmap_base = mm->task_size - (1UL << 30);
	mm->anon_vma = anon_vma_alloc();
	pgd = mm->anon_vma ? pgtable_alloc(mm) : NULL;
	if (!pgd) {
		anon_vma_put(mm->anon_vma);
		kfree(mm);
		return ERR_PTR(-ENOMEM);
	}
	mm->pgd = page_address(pgd);
	atomic_long_inc(&live_mms);
	return mm;
}

void mmgrab(struct mm_struct *mm)
{
	WARN_ON(atomic_inc_return(&mm->mm_count) <= 1);
}

void mmdrop(struct mm_struct *mm)
{
	int left = atomic_dec_return(&mm->mm_count);

	if (WARN_ON(left < 0) || left)
		return;
	WARN_ON(mm->pgd);
	WARN_ON(mm->map_count || !RB_EMPTY_ROOT(&mm->mm_rb));
	WARN_ON(atomic_long_read(&mm->pgtables_bytes) != 0);
	/* Subscriptions hold mm_count: the last mmdrop comes after them. */
	if (mm->notifier_subscriptions)
		__mmu_notifier_subscriptions_destroy(mm);
	anon_vma_put(mm->anon_vma);
	/* The oracle forgets @mm before its address can be reused. */
	check_hook_mm_free(mm);
	kfree(mm);
	atomic_long_dec(&live_mms);
}

bool mmget_not_zero(struct mm_struct *mm)
{
	return atomic_inc_not_zero(&mm->mm_users);
}

void mmput(struct mm_struct *mm)
{
	int left = atomic_dec_return(&mm->mm_users);

	if (WARN_ON(left < 0) || left)
		return;
	exit_mmap(mm);
	mmdrop(mm);
}
