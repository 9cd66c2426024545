// SPDX-License-Identifier: MIT
/*
 * fork.c - copying an address space (fork) and tearing one down (exit).
 *
 * Fork of private memory is copy-on-write: the child gets the parent's
 * frames, both sides' entries lose write permission, and the frames' page
 * references and mapcounts go up.  PG_anon_exclusive is cleared: neither
 * side may reuse the page on its next write while the other maps it.  The
 * parent's TLBs are flushed before fork returns (with both mmap_locks still
 * held), so no parent CPU keeps writing through an old writable entry into
 * a frame the child now sees.  (A store racing with fork itself may or may
 * not reach the child, as in Linux.)
 *
 * Shared anonymous memory is not copied entry by entry: the child maps the
 * same shmem object and faults its pages in on first touch, as Linux does
 * for shmem VMAs.
 *
 * Lock order: parent mmap_lock -> child mmap_lock (the child is new and
 * invisible) -> parent PTE lock -> child PTE lock.
 */
#include "internal.h"

/* Is @page pinned for DMA (FOLL_PIN)?  Then fork must not share it. */
static bool page_needs_cow_for_dma(struct page *page)
{
	struct page *head = compound_head(page);

	return PageAnon(head) && atomic_read(&head->_pincount) > 0;
}

/*
 * The kernel's rule for pinned anonymous pages: the child gets a copy at
 * fork time and the parent keeps its page, mapping and write permission
 * untouched, so DMA through the pin stays visible to the parent (with
 * COW sharing, the parent's next write would move it to a new page and
 * the device would keep writing into the child's).
 */
static u64 copy_pinned_page(struct vm_area_struct *dst_vma, u64 old,
			    struct page *page, unsigned long addr, long *rss,
			    int *err)
{
	struct page *new = alloc_page(GFP_KERNEL);
	u64 entry;

	if (!new) {
		*err = -ENOMEM;
		return 0;
	}
	copy_user_page(new, page);
	anon_page_init(new, dst_vma, addr);
	atomic_inc(&new->_mapcount); /* the allocation's reference maps it */
	*rss += 1;
	entry = pte_val(mk_pte(new, dst_vma->vm_page_prot)) | _PAGE_ACCESSED |
		_PAGE_DIRTY | (old & _PAGE_SOFT_DIRTY);
	if (dst_vma->vm_flags & VM_WRITE)
		entry |= _PAGE_RW;
	return entry;
}

/*
 * A device-private entry: both mms share the device page (one more
 * reference and mapcount, as for a present page) and neither may write it
 * any more, so the parent's entry becomes READ too (the kernel's
 * copy_nonpresent_pte; every VMA fork copies is private: COW).  A write
 * then faults, migrates the page back to system memory for both and
 * breaks COW there.  Not present: no parent TLB to flush; the owning
 * device lost its mapping in fork's PROTECTION_PAGE invalidation.
 * Device-private pages are never pinned, so never copied here.
 */
static u64 copy_device_private(u64 *src, u64 old, long *rss)
{
	swp_entry_t entry = { old };
	struct page *page = pfn_swap_entry_to_page(entry);

	get_page(page);
	atomic_inc(&page->_mapcount);
	if (PageAnonExclusive(page))
		ClearPageAnonExclusive(page);
	*rss += 1;
	if (is_writable_device_private_entry(entry)) {
		entry = swp_entry(SWP_DEVICE_PRIVATE_READ, swp_offset(entry));
		pt_word_store(src, entry.val);
	}
	return entry.val;
}

/*
 * A software entry (source PTE lock held): the child gets the same entry;
 * the dispatch on its type.  Device entries plug in here.
 */
static u64 copy_nonpresent(struct vm_area_struct *dst_vma, u64 *src, u64 old,
			   long *rss)
{
	swp_entry_t entry = { old };

	switch (swp_type(entry)) {
	case SWP_SWAPFILE:
		/* One more entry names the slot (its swap count). */
		if (WARN_ON(swap_duplicate(entry)))
			return 0;
		add_mm_counter(dst_vma->vm_mm, MM_SWAPENTS, 1);
		return old;
	case SWP_MIGRATION_READ:
	case SWP_MIGRATION_WRITE:
		/*
		 * The page will be shared by both mms: neither may get it
		 * back writable, so parent and child both wait for a READ
		 * entry (the parent's needs no flush: it is not present).
		 */
		if (is_writable_migration_entry(entry)) {
			entry = swp_entry(SWP_MIGRATION_READ,
					  swp_offset(entry));
			pt_word_store(src, entry.val);
		}
		/* No reference: the migrator holds the page; the RSS
		 * counts it, as for the parent. */
		*rss += 1;
		return entry.val;
	case SWP_DEVICE_EXCLUSIVE:
		/* Restored (read-only) and shared like a present page. */
		return copy_device_exclusive(dst_vma, src, old, rss);
	case SWP_DEVICE_PRIVATE_READ:
	case SWP_DEVICE_PRIVATE_WRITE:
		return copy_device_private(src, old, rss);
	default:
		WARN_ON_ONCE(1);
		return 0;
	}
}

/* Copy one leaf word; returns the child's value. */
static u64 copy_leaf(struct vm_area_struct *dst_vma, unsigned long addr,
		     u64 *src, long nr, long *rss, bool *wrprotected, int *err)
{
	u64 old = pt_word_load(src);
	struct page *page;

	if (!(old & (_PAGE_PRESENT | _PAGE_PROTNONE)))
		return copy_nonpresent(dst_vma, src, old, rss);
	page = vm_normal_page_val(old);
	if (!page)
		return old; /* the zero page: shared, never written */
	/* Huge leaves of pinned folios were split before we got here. */
	if (nr == 1 && page_needs_cow_for_dma(page))
		return copy_pinned_page(dst_vma, old, page, addr, rss, err);
	get_page(page);
	atomic_inc(&page->_mapcount);
	/* Test first: after the first fork the flag is usually clear, and
	 * atomic RMWs per page dominate fork (bench_mm). */
	if (PageAnonExclusive(page))
		ClearPageAnonExclusive(page);
	*rss += nr;
	if (old & _PAGE_RW) {
		old = pt_word_fetch_and(src, ~(u64)_PAGE_RW);
		*wrprotected = true;
	}
	return old & ~(u64)_PAGE_RW;
}

static int copy_pte_range(struct vm_area_struct *dst_vma,
			  struct vm_area_struct *src_vma, pmd_t *dst_pmd,
			  pmd_t *src_pmd, unsigned long addr, unsigned long end,
			  bool *wp)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	spinlock_t *src_ptl, *dst_ptl;
	pte_t *src, *dst, *src0, *dst0;
	long rss = 0;
	int err = 0;

	if (pte_alloc(dst_mm, dst_pmd))
		return -ENOMEM;
	src0 = src =
		pte_offset_map_lock(src_vma->vm_mm, src_pmd, addr, &src_ptl);
	if (!src)
		return 0;
	dst0 = dst = pte_offset_map_lock(dst_mm, dst_pmd, addr, &dst_ptl);
	for (; addr != end && !err; src++, dst++, addr += PAGE_SIZE) {
		u64 val;

		if (pte_none(ptep_get(src)))
			continue;
		val = copy_leaf(dst_vma, addr, &src->pte, 1, &rss, wp, &err);
		if (!err)
			set_pte(dst, __pte(val));
	}
	add_mm_counter(dst_mm, MM_ANONPAGES, rss); /* once per table */
	pte_unmap_unlock(dst0, dst_ptl);
	pte_unmap_unlock(src0, src_ptl);
	return err;
}

/* Copy a huge leaf into @dst (an empty entry of the child). */
static void copy_huge_leaf(struct vm_area_struct *dst_vma,
			   struct vm_area_struct *src_vma, u64 *dst, u64 *src,
			   long nr, bool *wp)
{
	spinlock_t *ptl = &src_vma->vm_mm->page_table_lock;
	long rss = 0;
	int err = 0;
	u64 val;

	spin_lock(ptl);
	val = copy_leaf(dst_vma, 0, src, nr, &rss, wp, &err);
	spin_unlock(ptl);
	add_mm_counter(dst_vma->vm_mm, MM_ANONPAGES, rss);
	pt_word_store(dst, val);
}

static int copy_pmd_range(struct vm_area_struct *dst_vma,
			  struct vm_area_struct *src_vma, pud_t *dst_pud,
			  pud_t *src_pud, unsigned long addr, unsigned long end,
			  bool *wp)
{
	pmd_t *src = pmd_offset(src_pud, addr);
	pmd_t *dst = pmd_alloc(dst_vma->vm_mm, dst_pud, addr);
	unsigned long next;

	if (!dst)
		return -ENOMEM;
	do {
		pmd_t val = pmdp_get(src);

		next = pmd_addr_end(addr, end);
		if (pmd_none(val))
			continue;
		if (pmd_leaf(val) && vm_normal_page_val(pmd_val(val)) &&
		    page_needs_cow_for_dma(vm_normal_page_val(pmd_val(val)))) {
			/* Pinned: copy page by page (Linux splits too). */
			split_huge_pmd(src_vma, src, addr);
			val = pmdp_get(src);
		}
		if (pmd_leaf(val) || !pmd_present(val)) {
			copy_huge_leaf(dst_vma, src_vma, &dst->pmd, &src->pmd,
				       HPAGE_PMD_NR, wp);
			continue;
		}
		if (copy_pte_range(dst_vma, src_vma, dst, src, addr, next, wp))
			return -ENOMEM;
	} while (dst++, src++, addr = next, addr != end);
	return 0;
}

static int copy_pud_range(struct vm_area_struct *dst_vma,
			  struct vm_area_struct *src_vma, p4d_t *dst_p4d,
			  p4d_t *src_p4d, unsigned long addr, unsigned long end,
			  bool *wp)
{
	pud_t *src = pud_offset(src_p4d, addr);
	pud_t *dst = pud_alloc(dst_vma->vm_mm, dst_p4d, addr);
	unsigned long next;

	if (!dst)
		return -ENOMEM;
	do {
		pud_t val = pudp_get(src);

		next = pud_addr_end(addr, end);
		if (pud_none(val))
			continue;
		if (pud_leaf(val) && vm_normal_page_val(pud_val(val)) &&
		    page_needs_cow_for_dma(vm_normal_page_val(pud_val(val)))) {
			split_huge_pud(src_vma, src, addr);
			val = pudp_get(src);
		}
		if (pud_leaf(val)) {
			copy_huge_leaf(dst_vma, src_vma, &dst->pud, &src->pud,
				       HPAGE_PUD_NR, wp);
			continue;
		}
		if (copy_pmd_range(dst_vma, src_vma, dst, src, addr, next, wp))
			return -ENOMEM;
	} while (dst++, src++, addr = next, addr != end);
	return 0;
}

static int copy_p4d_range(struct vm_area_struct *dst_vma,
			  struct vm_area_struct *src_vma, pgd_t *dst_pgd,
			  pgd_t *src_pgd, unsigned long addr, unsigned long end,
			  bool *wp)
{
	p4d_t *src = p4d_offset(src_pgd, addr);
	p4d_t *dst = p4d_alloc(dst_vma->vm_mm, dst_pgd, addr);
	unsigned long next;

	if (!dst)
		return -ENOMEM;
	do {
		next = p4d_addr_end(addr, end);
		if (p4d_none(p4dp_get(src)))
			continue;
		if (copy_pud_range(dst_vma, src_vma, dst, src, addr, next, wp))
			return -ENOMEM;
	} while (dst++, src++, addr = next, addr != end);
	return 0;
}

int copy_page_range(struct vm_area_struct *dst_vma,
		    struct vm_area_struct *src_vma)
{
	unsigned long addr = src_vma->vm_start, end = src_vma->vm_end, next;
	pgd_t *src = pgd_offset(src_vma->vm_mm, addr);
	pgd_t *dst = pgd_offset(dst_vma->vm_mm, addr);
	struct mmu_notifier_range range;
	bool wp = false;
	int ret = 0;

	if (src_vma->vm_shared)
		return 0; /* the child faults the shmem pages in itself */
	/* The parent's writable entries are about to be write-protected. */
	mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_PAGE, 0,
				src_vma->vm_mm, addr, end);
	mmu_notifier_invalidate_range_start(&range);
	do {
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgdp_get(src)))
			continue;
		ret = copy_p4d_range(dst_vma, src_vma, dst, src, addr, next,
				     &wp);
		if (ret)
			break;
	} while (dst++, src++, addr = next, addr != end);
	if (wp)
		flush_tlb_range(src_vma, src_vma->vm_start, src_vma->vm_end);
	mmu_notifier_invalidate_range_end(&range);
	return ret;
}

/* ==== fork and exit ====================================================== */

static int dup_mmap(struct mm_struct *mm, struct mm_struct *old)
{
	struct vm_area_struct *vma, *tmp;

	for_each_vma(old, vma)
	{
		if (vma->vm_flags & VM_DONTCOPY)
			continue;
		tmp = vm_area_dup(vma);
		if (!tmp)
			return -ENOMEM;
		tmp->vm_mm = mm;
		if (vma_link(mm, tmp)) {
			vm_area_free(tmp);
			return -ENOMEM;
		}
		if (copy_page_range(tmp, vma))
			return -ENOMEM;
	}
	return 0;
}

struct mm_struct *mm_fork(struct mm_struct *old)
{
	struct mm_struct *mm;
	int ret;

	if (!old)
		return ERR_PTR(-EINVAL);
	mm = mm_alloc();
	if (IS_ERR(mm))
		return mm;
	mmap_write_lock(old);
	mmap_write_lock(mm);
	mm->mmap_base = old->mmap_base;
	/* One reverse map for the whole fork tree: COW-shared pages are
	 * found from either side. */
	anon_vma_put(mm->anon_vma);
	anon_vma_get(old->anon_vma);
	mm->anon_vma = old->anon_vma;
	/* GUP-fast pins watch this (gup_fast.c): a pin that overlaps the
	 * copy backs off to the slow path, which waits for mmap_lock. */
	write_seqcount_begin(&old->write_protect_seq);
	/* The odd count is visible before we read any pincount: a pin
	 * that we miss sees the odd count and backs off. */
	smp_mb();
	ret = dup_mmap(mm, old);
	write_seqcount_end(&old->write_protect_seq);
	mmap_write_unlock(mm);
	mmap_write_unlock(old);
	if (ret) {
		mmput(mm); /* tears down whatever was copied */
		return ERR_PTR(ret);
	}
	return mm;
}

void mm_exit(struct mm_struct *mm)
{
	if (mm)
		mmput(mm);
}

void exit_mmap(struct mm_struct *mm)
{
	struct vm_area_struct *vma, *last = NULL;
	struct mmu_notifier_range range;
	struct mmu_gather tlb;

	/* Whole-mm subscribers get ->release first, while the address space
	 * is still intact; interval subscribers see the RELEASE zap. */
	mmu_notifier_release(mm);
	mmap_write_lock(mm);
	for_each_vma(mm, vma) last = vma;
	vma = find_vma(mm, 0);
	if (vma) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_RELEASE, 0, mm,
					vma->vm_start, last->vm_end);
		mmu_notifier_invalidate_range_start(&range);
	}
	tlb_gather_mmu_fullmm(&tlb, mm);
	for_each_vma(mm, vma)
		unmap_page_range(&tlb, vma, vma->vm_start, vma->vm_end);
	tlb_finish_mmu(&tlb);
	if (last)
		mmu_notifier_invalidate_range_end(&range);
	while ((vma = find_vma(mm, 0))) {
		vma_unlink(mm, vma);
		vm_area_free(vma);
	}
	mmap_write_unlock(mm);
	/* Tables, and leaves built by hand outside any VMA (mm_map_page). */
	free_pgtables_all(mm);
}
