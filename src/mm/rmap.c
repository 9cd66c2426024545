// SPDX-License-Identifier: MIT
/*
 * rmap.c - a minimal reverse map of anonymous memory, and page aging
 * through it (the clear_flush_young / clear_young / test_young notifiers).
 *
 * Linux finds every mapping of an anonymous page through its anon_vma
 * chain.  mmirror keeps one anon_vma per fork tree: a list of every private
 * VMA of every mm that descends from the same mm_alloc().  An anonymous
 * page records that anon_vma (page->mapping) and its linear index
 * (page->index = vm_pgoff + offset in the VMA at fault time, kept across
 * mremap because VMAs keep their vm_pgoff); the address of the page in a
 * VMA is then vm_start + ((index - vm_pgoff) << PAGE_SHIFT).  (Linux's
 * per-VMA anon_vma chains prune the walk to the VMAs that can really map
 * the page; mmirror walks the whole tree's list and lets the page-table
 * check reject the rest: simpler, slower for big trees.)
 *
 * Locking and lifetime:
 *  - anon_vma->lock (a spinlock) guards the list and the vm_start/vm_end/
 *    vm_pgoff of every VMA on it (vma_set_range takes it too).  Taken
 *    under mmap_lock; a walker holds it for the whole walk, so no VMA on
 *    the list is freed (vma_unlink takes it first) and its mm stays
 *    allocated (VMAs are unlinked before the mm is dropped).
 *  - The walker reads the page tables of other mms without their
 *    mmap_lock: it does so with IRQs off, like GUP-fast, because page
 *    tables are freed only after tlb_remove_table_sync_one() (munmap) or
 *    after the VMAs are unlinked (exit).
 *  - Each mm of the tree holds one reference on the anon_vma.
 */
#include <mmirror/irqflags.h>
#include <mmirror/rmap.h>
#include "internal.h"

struct anon_vma {
	spinlock_t lock;
	atomic_t refcount;
	struct list_head vmas;
};

struct anon_vma *anon_vma_alloc(void)
{
	struct anon_vma *av = kzalloc(sizeof(*av), GFP_KERNEL);

	if (!av)
		return NULL;
	spin_lock_init(&av->lock);
	atomic_set(&av->refcount, 1);
	INIT_LIST_HEAD(&av->vmas);
	return av;
}

void anon_vma_get(struct anon_vma *av)
{
	WARN_ON(atomic_inc_return(&av->refcount) <= 1);
}

void anon_vma_put(struct anon_vma *av)
{
	if (!av || !atomic_dec_and_test(&av->refcount))
		return;
	WARN_ON(!list_empty(&av->vmas));
	kfree(av);
}

void anon_vma_link(struct vm_area_struct *vma)
{
	struct anon_vma *av = vma->vm_mm->anon_vma;

	if (vma->vm_shared || !av)
		return;
	spin_lock(&av->lock);
	list_add_tail(&vma->anon_vma_node, &av->vmas);
	spin_unlock(&av->lock);
}

/*
 * The list links of a VMA on the list change when a neighbour (of any mm
 * of the tree) is added or removed: "is it linked" is only asked under
 * the lock.
 */
void anon_vma_unlink(struct vm_area_struct *vma)
{
	struct anon_vma *av = vma->vm_mm->anon_vma;

	if (vma->vm_shared || !av)
		return;
	spin_lock(&av->lock);
	if (!list_empty(&vma->anon_vma_node))
		list_del_init(&vma->anon_vma_node);
	spin_unlock(&av->lock);
}

/* Lock the list a private VMA may be on, to change its range. */
struct anon_vma *anon_vma_lock_vma(struct vm_area_struct *vma)
{
	struct anon_vma *av = vma->vm_mm->anon_vma;

	if (vma->vm_shared || !av)
		return NULL;
	spin_lock(&av->lock);
	return av;
}

void anon_vma_unlock(struct anon_vma *av)
{
	if (av)
		spin_unlock(&av->lock);
}

/* ==== the walk ========================================================== */

/* What one rmap visit does with one mapping; returns its "young" count. */
enum rmap_age { AGE_CLEAR_FLUSH, AGE_CLEAR, AGE_TEST };

/*
 * Age the mapping of @page in @vma, if there is one: look at (and, unless
 * testing, clear) the accessed bit of the leaf that maps it, then ask the
 * secondary MMUs about the same range.
 */
static int age_one(struct page *page, struct vm_area_struct *vma,
		   enum rmap_age how)
{
	unsigned long addr =
		vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT);
	unsigned long pfn = page_to_pfn(page), flags, size;
	struct pt_snapshot s;
	bool young = false;

	if (page->index < vma->vm_pgoff || addr >= vma->vm_end)
		return 0;
	/* IRQs off: no page table of this mm is freed while we read it. */
	local_irq_save(flags);
	pt_walk_snapshot(vma->vm_mm, addr, &s);
	if (!pt_snapshot_maps(&s) || pt_snapshot_pfn(&s, addr) != pfn) {
		local_irq_restore(flags);
		return 0;
	}
	size = 1UL << s.shift;
	if (how == AGE_TEST) {
		young = s.entry & _PAGE_ACCESSED;
	} else {
		young = pt_word_fetch_and(s.entryp, ~(u64)_PAGE_ACCESSED) &
			_PAGE_ACCESSED;
	}
	local_irq_restore(flags);
	addr &= ~(size - 1);
	/* x86 needs no TLB flush to clear the accessed bit; secondary MMUs
	 * decide for themselves (clear_flush_young may flush). */
	switch (how) {
	case AGE_CLEAR_FLUSH:
		young |= mmu_notifier_clear_flush_young(vma->vm_mm, addr,
							addr + size);
		break;
	case AGE_CLEAR:
		young |=
			mmu_notifier_clear_young(vma->vm_mm, addr, addr + size);
		break;
	case AGE_TEST:
		young |= mmu_notifier_test_young(vma->vm_mm, addr);
		break;
	}
	return young;
}

static int rmap_walk_age(struct page *page, enum rmap_age how)
{
	struct anon_vma *av;
	struct vm_area_struct *vma;
	int young = 0;

	page = compound_head(page);
	av = READ_ONCE(page->mapping);
	if (!PageAnon(page) || !av)
		return 0;
	spin_lock(&av->lock);
	list_for_each_entry(vma, &av->vmas, anon_vma_node) {
		young += age_one(page, vma, how);
		if (how == AGE_TEST && young)
			break;
	}
	spin_unlock(&av->lock);
	return young;
}

int folio_referenced(struct page *page)
{
	return page ? rmap_walk_age(page, AGE_CLEAR_FLUSH) : 0;
}

void page_idle_clear_young(struct page *page)
{
	if (page)
		rmap_walk_age(page, AGE_CLEAR);
}

bool page_idle_test_young(struct page *page)
{
	return page && rmap_walk_age(page, AGE_TEST);
}

/* ==== an aging pass ======================================================= */

int mm_age_pass(struct mm_struct *mm, unsigned long *scanned,
		unsigned long *referenced)
{
	struct vm_area_struct *vma;

	if (!mm || !scanned || !referenced)
		return -EINVAL;
	*scanned = *referenced = 0;
	mmap_read_lock(mm);
	for_each_vma(mm, vma)
	{
		unsigned long addr = vma->vm_start;

		if (vma->vm_shared)
			continue;
		while (addr < vma->vm_end) {
			struct pt_snapshot s;
			struct page *page;

			pt_walk_snapshot(mm, addr, &s);
			if (!pt_snapshot_maps(&s) ||
			    !(page = vm_normal_page_val(s.entry))) {
				addr = (addr | (PAGE_SIZE - 1)) + 1;
				continue;
			}
			/* A reference keeps the page (and page->mapping) ours
			 * while we walk: MADV_DONTNEED may unmap it now. */
			if (!get_page_unless_zero(page)) {
				addr = (addr | (PAGE_SIZE - 1)) + 1;
				continue;
			}
			(*scanned)++;
			if (folio_referenced(page))
				(*referenced)++;
			put_page(page);
			addr = (addr | ((1UL << s.shift) - 1)) + 1;
		}
	}
	mmap_read_unlock(mm);
	return 0;
}
