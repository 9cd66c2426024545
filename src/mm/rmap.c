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
	switch (how) {
	case AGE_CLEAR_FLUSH:
		/*
		 * x86's ptep_clear_flush_young does not flush the CPU TLB:
		 * a CPU that caches the translation keeps using it without
		 * setting the bit again, so a page in use may look cold -
		 * reclaim then only costs a refault.  Secondary MMUs decide
		 * for themselves (clear_flush_young may flush).
		 */
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

/* ==== try_to_unmap ====================================================== */

/*
 * Reclaim replaces each PTE that maps a page by the page's swap entry.
 * The notifier callbacks may sleep and the anon_vma lock is a spinlock, so
 * the walk is in two steps: under the lock, collect (mm, address) of the
 * VMAs that can map the page (mmgrab keeps each mm_struct); then, for
 * each, take the mm's mmap_lock for read - by trylock: reclaim may run in
 * a fault that holds another mm's - which keeps its VMAs and, through
 * them, its page tables, and unmap under the PTE lock between
 * invalidate_range_start and _end.
 * Up to UNMAP_BATCH targets per pass; the next pass skips as many.
 */
#define UNMAP_BATCH 16

/* The address of anon @page in @vma, or 0 if @vma cannot map it. */
unsigned long rmap_vma_address(struct page *page, struct vm_area_struct *vma)
{
	unsigned long addr =
		vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT);

	if (page->index < vma->vm_pgoff || addr >= vma->vm_end)
		return 0;
	return addr;
}

/* Collect targets [skip, skip + @max) of @page's anon_vma (migrate.c
 * too); the caller mmdrop()s each target's mm. */
int rmap_collect(struct page *page, struct anon_vma *av, int skip,
		 struct rmap_target *t, int max)
{
	struct vm_area_struct *vma;
	int n = 0, seen = 0;

	spin_lock(&av->lock);
	list_for_each_entry(vma, &av->vmas, anon_vma_node) {
		unsigned long addr = rmap_vma_address(page, vma);

		if (!addr || seen++ < skip)
			continue;
		/* A VMA on the list keeps its mm allocated (file comment). */
		mmgrab(vma->vm_mm);
		t[n].mm = vma->vm_mm;
		t[n].addr = addr;
		if (++n == max)
			break;
	}
	spin_unlock(&av->lock);
	return n;
}

/* The PMD covering @addr if the tables down to it exist (mmap_lock). */
pmd_t *mm_find_pmd(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud, pudval;

	if (!pgd_present(pgdp_get(pgd)))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (!p4d_present(p4dp_get(p4d)))
		return NULL;
	pud = pud_offset(p4d, addr);
	pudval = pudp_get(pud);
	if (!pud_present(pudval) || pud_leaf(pudval))
		return NULL;
	return pud_pgtable(pudval) + pmd_index(addr);
}

/* Is @pte (locked) a present mapping of @page? */
static bool pte_maps(pte_t *pte, struct page *page)
{
	pte_t v = ptep_get(pte);

	return pte_present(v) && pte_pfn(v) == page_to_pfn(page);
}

/* Swap out the mapping of @page at @addr in @vma, if there is one.
 * False if it stays mapped (pinned). */
static bool unmap_one_pte(struct page *page, struct vm_area_struct *vma,
			  pmd_t *pmd, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	swp_entry_t entry = page_swap_entry(page);
	struct mmu_notifier_range range;
	spinlock_t *ptl;
	pte_t *pte, old;
	bool ok = true;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr,
				addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		goto out;
	if (!pte_maps(pte, page))
		goto unlock;
	old = ptep_get_and_clear(pte);
	/* After the clear (fully ordered): a GUP-fast pin that missed the
	 * clear is visible here; one that comes later backs off. */
	if (folio_pincount(page) > 0) {
		set_pte(pte, old);
		ok = false;
		goto unlock;
	}
	flush_tlb_page(vma, addr);
	if (pte_dirty(old))
		SetPageDirty(page);
	WARN_ON(swap_duplicate(entry));
	set_pte(pte, swp_entry_to_pte(entry));
	atomic_dec(&page->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, -1);
	add_mm_counter(mm, MM_SWAPENTS, 1);
	pte_unmap_unlock(pte, ptl);
	mmu_notifier_invalidate_range_end(&range);
	put_page(page); /* the mapping's reference, after the flush */
	return true;
unlock:
	pte_unmap_unlock(pte, ptl);
out:
	mmu_notifier_invalidate_range_end(&range);
	return ok;
}

/* One target: false if a mapping may be left there. */
static bool unmap_target(struct page *page, struct rmap_target *t)
{
	struct vm_area_struct *vma;
	bool ok = true;
	pmd_t *pmd;

	/*
	 * No mm_users reference: holding one would make us the one to tear
	 * the address space down, behind its owner's back.  mmap_lock is
	 * enough: exit_mmap() unlinks every VMA under it before the tables
	 * go, so a VMA found under it has its tables.
	 */
	if (!atomic_read(&t->mm->mm_users))
		return false; /* exiting: its teardown unmaps the page */
	if (!mmap_read_trylock(t->mm))
		return false;
	vma = vma_lookup(t->mm, t->addr);
	/* The VMA may have changed since the collect: check it again. */
	if (vma && !vma->vm_shared && rmap_vma_address(page, vma) == t->addr &&
	    (pmd = mm_find_pmd(t->mm, t->addr)))
		ok = unmap_one_pte(page, vma, pmd, t->addr);
	mmap_read_unlock(t->mm);
	return ok;
}

bool try_to_unmap(struct page *page)
{
	struct anon_vma *av = READ_ONCE(page->mapping);
	struct rmap_target t[UNMAP_BATCH];
	int n, skip = 0;

	if (!PageAnon(page) || !av)
		return !page_mapped(page);
	do {
		n = rmap_collect(page, av, skip, t, UNMAP_BATCH);
		for (int i = 0; i < n; i++) {
			if (page_mapped(page))
				unmap_target(page, &t[i]);
			mmdrop(t[i].mm);
		}
		skip += n;
	} while (n == UNMAP_BATCH && page_mapped(page));
	return !page_mapped(page);
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
