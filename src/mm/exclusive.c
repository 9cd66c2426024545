// SPDX-License-Identifier: MIT
/*
 * exclusive.c - device-exclusive entries (include/mmirror/exclusive.h,
 * docs/exclusive.md): making them, restoring them on a CPU access, and
 * what fork, zap and the oracle's page-table lookup do with them.
 *
 * The entry is SWP_DEVICE_EXCLUSIVE with the pfn as offset.  It stands for
 * a mapping that is still there: the page's mapcount, the reference the
 * mapping holds and the RSS count are those of the present PTE it
 * replaced, so zap drops them like a present PTE's and rmap counts it.  It
 * records no permission: there is one (writable) type, as in Linux since
 * 6.14, and write permission is decided from the VMA when it is restored.
 *
 * The handshake (why the page lock):
 *
 *   device thread                        CPU thread
 *   make_device_exclusive()
 *     lock_page; EXCLUSIVE inv (owner)
 *     entry := exclusive
 *   map the page in the device           load at va: fault
 *   device_exclusive_release()             lock_page ... waits
 *     unlock_page                          ... gets it
 *                                          EXCLUSIVE inv (owner NULL):
 *                                            the device drops its mapping
 *                                          entry := present PTE
 *
 * Without the lock the CPU could restore the entry (and run its
 * invalidation) between the device's make and its map, and the device
 * would then map a page the CPU uses again.
 *
 * Lock order: mmap_lock -> page lock -> notifier callbacks (driver locks)
 * -> PTE lock.
 */
#include <mmirror/exclusive.h>
#include <mmirror/gup.h>
#include "base/trace.h"
#include "internal.h"

/* How often one page is retried when its PTE changes under us. */
#define EXCLUSIVE_TRIES 16

/* The present PTE an exclusive entry of @page at @vma is restored to. */
static pte_t exclusive_restored_pte(struct vm_area_struct *vma,
				    struct page *page, bool may_write)
{
	pte_t pte = mk_pte(page, vma->vm_page_prot);

	/*
	 * Writable only if the VMA still allows it (mprotect keeps the
	 * entry) and the page is still this mm's alone (the kernel's
	 * can_change_pte_writable()); otherwise a write faults and COWs.
	 * The device may have written it: its dirty state moved to the page
	 * when the entry was made, so a clean page is really clean.
	 */
	if (may_write && (vma->vm_flags & VM_WRITE) &&
	    PageAnonExclusive(page)) {
		pte = pte_mkwrite(pte);
		if (PageDirty(page))
			pte = pte_mkdirty(pte);
	}
	return pte;
}

/*
 * Replace the present, writable PTE mapping @page at @addr with an
 * exclusive entry.  Context: @page locked and referenced; mmap_lock held.
 * Return: 0, or -EAGAIN if the PTE no longer is that (the caller retries).
 */
static int exclusive_install(struct vm_area_struct *vma, unsigned long addr,
			     struct page *page, void *owner)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	pmd_t *pmd = mm_find_pmd(mm, addr);
	spinlock_t *ptl;
	pte_t *pte, old;
	int ret = -EAGAIN;

	if (!pmd)
		return -EAGAIN;
	/* Every other secondary MMU drops the page; @owner keeps its own. */
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_EXCLUSIVE, 0, mm, addr,
				      addr + PAGE_SIZE, owner);
	mmu_notifier_invalidate_range_start(&range);
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		goto out;
	old = ptep_get(pte);
	if (pte_present(old) && !pte_protnone(old) && pte_write(old) &&
	    pte_pfn(old) == page_to_pfn(page)) {
		/* Clear and flush first: no CPU keeps a translation. */
		old = ptep_get_and_clear(pte);
		flush_tlb_page(vma, addr);
		if (pte_dirty(old) && !PageDirty(page))
			SetPageDirty(page);
		set_pte(pte, swp_entry_to_pte(swp_entry(SWP_DEVICE_EXCLUSIVE,
							page_to_pfn(page))));
		trace_event(TR_PTE, "pte %#lx := exclusive pfn %#lx", addr,
			    page_to_pfn(page));
		ret = 0;
	}
	pte_unmap_unlock(pte, ptl);
out:
	mmu_notifier_invalidate_range_end(&range);
	return ret;
}

/* Fault @addr in writable, then make it exclusive; the page out, locked. */
static int exclusive_one(struct mm_struct *mm, unsigned long addr, void *owner,
			 struct page **pagep)
{
	for (int tries = 0; tries < EXCLUSIVE_TRIES; tries++) {
		struct vm_area_struct *vma;
		struct page *page;
		long got;
		int ret;

		/* FOLL_WRITE: a private page is this mm's own after it. */
		got = get_user_pages(mm, addr, 1, FOLL_WRITE, &page);
		if (got < 0)
			return (int)got;
		if (got != 1)
			return -EFAULT;
		vma = vma_lookup(mm, addr);
		if (!vma || !PageAnon(page) || PageHead(page) ||
		    PageTail(page)) {
			put_page(page);
			return -EOPNOTSUPP;
		}
		lock_page(page);
		ret = exclusive_install(vma, addr, page, owner);
		if (!ret) {
			*pagep = page;
			return 0;
		}
		unlock_page(page);
		put_page(page);
	}
	return -EBUSY;
}

void device_exclusive_release(struct page **pages, unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		if (!pages[i])
			continue;
		unlock_page(pages[i]);
		put_page(pages[i]);
		pages[i] = NULL;
	}
}

int make_device_exclusive(struct mm_struct *mm, unsigned long start,
			  unsigned long end, void *owner, struct page **pages)
{
	unsigned long npages, i;
	int ret = 0;

	if (!mm || !owner || !pages || !IS_ALIGNED(start, PAGE_SIZE) ||
	    !IS_ALIGNED(end, PAGE_SIZE) || start >= end || end > mm->task_size)
		return -EINVAL;
	mmap_assert_locked(mm);
	npages = (end - start) >> PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		pages[i] = NULL;
	for (i = 0; i < npages && !ret; i++)
		ret = exclusive_one(mm, start + (i << PAGE_SHIFT), owner,
				    &pages[i]);
	if (ret)
		device_exclusive_release(pages, npages);
	return ret;
}

/**
 * remove_device_exclusive_entry() - a CPU access hit an exclusive entry
 * @vma: the VMA of @addr
 * @pmd: the PMD entry above the PTE
 * @addr: page aligned
 * @orig: the exclusive entry the fault read
 *
 * Locks the page (waiting for a device still programming its mapping),
 * runs an MMU_NOTIFY_EXCLUSIVE invalidation with a NULL owner so the
 * owning device drops its mapping as well, and puts the present PTE back
 * if the entry is still @orig.
 *
 * Context: mmap_lock held for read; may sleep.
 * Return: 0 (the access retries and sees whatever the PTE is now).
 */
vm_fault_t remove_device_exclusive_entry(struct vm_area_struct *vma, pmd_t *pmd,
					 unsigned long addr, pte_t orig)
{
	struct page *page = pfn_swap_entry_to_page(pte_to_swp_entry(orig));
	struct mmu_notifier_range range;
	spinlock_t *ptl;
	pte_t *pte;

	/* The entry holds a reference, but a zap may drop it any moment. */
	if (!get_page_unless_zero(page))
		return 0;
	lock_page(page);
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_EXCLUSIVE, 0,
				      vma->vm_mm, addr, addr + PAGE_SIZE, NULL);
	mmu_notifier_invalidate_range_start(&range);
	pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (pte && pte_same(ptep_get(pte), orig)) {
		/* Not present before: no TLB to flush. */
		set_pte(pte,
			pte_mkyoung(exclusive_restored_pte(vma, page, true)));
		trace_event(TR_PTE, "pte %#lx exclusive restored", addr);
	}
	if (pte)
		pte_unmap_unlock(pte, ptl);
	mmu_notifier_invalidate_range_end(&range);
	unlock_page(page);
	put_page(page);
	return 0;
}

/**
 * copy_device_exclusive() - fork meets an exclusive entry
 * @dst_vma: the child's VMA
 * @src: the parent's entry (its PTE lock held)
 * @old: its value, an exclusive entry
 * @rss: the child's anon RSS to add to
 *
 * The kernel restores the parent's entry before copying it as a present
 * one (try_restore_exclusive_pte).  We restore it read-only: both mms then
 * share the page COW, as for any present private page, and since the
 * restored entry was never writable no parent TLB needs a flush.  No page
 * lock: fork holds the parent's mmap_lock for write, which excludes the
 * make_device_exclusive() callers and faults (mmap_lock for read) that
 * hold exclusive pages locked.  The owning device lost its mapping in
 * fork's MMU_NOTIFY_PROTECTION_PAGE invalidation of the whole VMA.
 * A pinned page is shared too (not copied as copy_pinned_page would).
 *
 * Return: the child's entry.
 */
u64 copy_device_exclusive(struct vm_area_struct *dst_vma, u64 *src, u64 old,
			  long *rss)
{
	struct page *page = pfn_swap_entry_to_page((swp_entry_t){ old });
	pte_t pte = pte_mkyoung(exclusive_restored_pte(dst_vma, page, false));

	if (PageDirty(page))
		pte = pte_mkdirty(pte);
	pt_word_store(src, pte_val(pte));
	get_page(page);
	atomic_inc(&page->_mapcount);
	if (PageAnonExclusive(page))
		ClearPageAnonExclusive(page);
	*rss += 1;
	return pte_val(pte);
}

/**
 * device_entry_follow() - follow_pte_pfn() on a device entry
 * @entry: a non-present PTE value
 * @pfn: out, the page it names
 * @out: out, the entry as the owning device may use it
 *
 * The frame of a device-exclusive or a device-private entry is still this
 * va's: the device holding it may read it, and write it if the entry
 * allows (an exclusive entry always, a device-private one if WRITE).  The
 * oracle judges device accesses by this lookup, so it is reported as a
 * present user entry of that frame.
 * Return: true if @entry is such an entry (then @pfn and @out set).
 */
bool device_entry_follow(u64 entry, unsigned long *pfn, u64 *out)
{
	swp_entry_t e = { entry };
	bool write;

	if (!entry || (entry & (_PAGE_PRESENT | _PAGE_PROTNONE)))
		return false;
	if (is_device_exclusive_entry(e))
		write = true;
	else if (is_device_private_entry(e))
		write = is_writable_device_private_entry(e);
	else
		return false;
	*pfn = swp_offset(e);
	*out = ((u64)*pfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_USER |
	       (write ? _PAGE_RW : 0);
	return true;
}
