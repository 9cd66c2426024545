// SPDX-License-Identifier: MIT
/*
 * huge_memory.c - transparent huge pages for private anonymous memory:
 * 2 MiB leaves at the PMD level and 1 GiB leaves at the PUD level.
 *
 * Policy (thp_set_mode): never; madvise (VM_HUGEPAGE VMAs only, the
 * default); always (unless VM_NOHUGEPAGE).  PUD-sized pages are a separate
 * switch.  A huge fault needs the naturally aligned huge range inside the
 * VMA and the entry at that level still none; otherwise, or if no huge
 * block is free, the fault falls back to the next level down.
 *
 * Accounting of a huge leaf (and of a PMD leaf left by splitting a PUD
 * leaf): the leaf's mapping counts once in the _mapcount of the first page
 * it maps and holds one reference on the folio (the head).  Splitting a
 * leaf into the 512 entries of the next level moves that mapcount to each
 * of the 512 first pages and takes 511 more folio references, so the
 * folio stays one compound page (Linux would eventually split the folio
 * itself from its deferred-split queue; mmirror keeps it whole until its
 * last reference goes or reclaim splits it, huge_split.c: a deviation
 * that only costs memory).
 *
 * Splitting replaces the huge entry by a table entry with one atomic
 * compare-and-exchange under page_table_lock: every translation stays the
 * same (same frames, same permissions, accessed/dirty carried over), so a
 * CPU or lockless walker that still holds the huge entry reaches the same
 * bytes; the TLB flush afterwards only retires the huge translation.
 * (Linux first invalidates the PMD and flushes; it must, because x86
 * forbids 2 MiB and 4 KiB TLB entries for the same address with different
 * attributes — a hardware rule the model does not have.)  The new table is
 * allocated with __GFP_NOFAIL: Linux deposits a page table at huge-fault
 * time so a split never allocates; mmirror allocates at split time and
 * treats failure as fatal (documented in docs/mm.md).
 *
 * Reclaim never swaps a huge page out whole: it splits a PMD-sized folio
 * into order-0 pages first (huge_split.c) and PUD-sized folios stay off
 * the LRU, so no PMD- or PUD-level swap entry ever exists; a non-present
 * huge-level entry is never a swap entry (docs/reclaim.md).
 *
 * Locking: PMD and PUD entries change under mm->page_table_lock, with
 * mmap_lock held (read for faults and MADV_DONTNEED, write otherwise).
 */
#include <string.h>
#include "internal.h"

static enum thp_mode thp_mode = THP_MADVISE;
static bool thp_pud_enabled;

void thp_set_mode(enum thp_mode mode, bool pud)
{
	WRITE_ONCE(thp_mode, mode);
	WRITE_ONCE(thp_pud_enabled, pud);
}

enum thp_mode thp_get_mode(void)
{
	return READ_ONCE(thp_mode);
}

bool thp_vma_suitable(struct vm_area_struct *vma, unsigned long addr,
		      unsigned int order)
{
	unsigned long size = PAGE_SIZE << order;
	unsigned long haddr = addr & ~(size - 1);
	enum thp_mode mode = READ_ONCE(thp_mode);

	if (vma->vm_shared || (vma->vm_flags & VM_NOHUGEPAGE))
		return false;
	if (mode == THP_NEVER ||
	    (mode == THP_MADVISE && !(vma->vm_flags & VM_HUGEPAGE)))
		return false;
	if (order == HPAGE_PUD_ORDER && !READ_ONCE(thp_pud_enabled))
		return false;
	return haddr >= vma->vm_start && haddr + size <= vma->vm_end;
}

/* --- faults ------------------------------------------------------------- */

/* A fresh zeroed folio of @order for @vma at @haddr, or NULL. */
static struct page *alloc_anon_folio(struct vm_area_struct *vma,
				     unsigned long haddr, unsigned int order)
{
	struct page *folio =
		alloc_pages(GFP_KERNEL | __GFP_COMP | __GFP_ZERO, order);

	if (folio)
		anon_page_init(folio, vma, haddr);
	/* huge_split.c: reclaim splits PMD-sized folios before swap-out, so
	 * they join the LRU (under our allocation reference, before any
	 * entry maps them); PUD-sized ones are never split: they stay off. */
	if (folio && order == HPAGE_PMD_ORDER)
		lru_add(folio);
	return folio;
}

static u64 huge_entry_prot(struct vm_area_struct *vma, unsigned int flags)
{
	u64 v = pgprot_val(vma->vm_page_prot) | _PAGE_ACCESSED;

	if (flags & FAULT_FLAG_WRITE)
		v |= _PAGE_RW | _PAGE_DIRTY;
	return v;
}

/*
 * Install a new huge folio of @order at the empty PUD or PMD word @entryp
 * (page_table_lock guards both levels).  The allocation reference becomes
 * the mapping's.  VM_FAULT_FALLBACK if no huge block is free.
 */
static vm_fault_t do_huge_anonymous(struct vm_area_struct *vma, u64 *entryp,
				    unsigned long addr, unsigned int flags,
				    unsigned int order)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = addr & ~((PAGE_SIZE << order) - 1);
	struct page *folio = alloc_anon_folio(vma, haddr, order);

	if (!folio)
		return VM_FAULT_FALLBACK;
	spin_lock(&mm->page_table_lock);
	if (pt_word_load(entryp)) {
		spin_unlock(&mm->page_table_lock);
		put_page(folio);
		return 0; /* raced: retry through the new entry */
	}
	atomic_inc(&folio->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, 1L << order);
	/* Release: the zeroed folio is visible before its entry. */
	pt_word_store(entryp, ((u64)page_to_pfn(folio) << PAGE_SHIFT) |
				      huge_entry_prot(vma, flags) | _PAGE_PSE);
	spin_unlock(&mm->page_table_lock);
	return 0;
}

vm_fault_t do_huge_pud_anonymous_page(struct vm_area_struct *vma, pud_t *pudp,
				      unsigned long addr, unsigned int flags)
{
	return do_huge_anonymous(vma, &pudp->pud, addr, flags, HPAGE_PUD_ORDER);
}

vm_fault_t do_huge_pmd_anonymous_page(struct vm_area_struct *vma, pmd_t *pmdp,
				      unsigned long addr, unsigned int flags)
{
	return do_huge_anonymous(vma, &pmdp->pmd, addr, flags, HPAGE_PMD_ORDER);
}

/*
 * A fault on a present huge leaf (@entryp, a PMD or PUD word) under
 * page_table_lock.  Reads and permitted writes only mark it young (and
 * dirty).  A write to a read-only leaf reuses the folio when this mm owns
 * it exclusively; otherwise the caller splits and COWs the one small page.
 */
static vm_fault_t huge_leaf_fault(struct vm_area_struct *vma, u64 *entryp,
				  unsigned int flags, bool *split)
{
	bool write = flags & FAULT_FLAG_WRITE;
	u64 seen = pt_word_load(entryp), old = seen, new;
	struct page *page;

	*split = false;
	if (!(seen & (_PAGE_PRESENT | _PAGE_PROTNONE)) || !(seen & _PAGE_PSE))
		return 0; /* changed under us: the access retries */
	if (old & _PAGE_PROTNONE) /* stale PROT_NONE: apply the VMA's */
		old = (old & _PAGE_CHG_MASK) | pgprot_val(vma->vm_page_prot);
	new = old | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
	if (write && !(old & _PAGE_RW)) {
		page = vm_normal_page_val(old);
		if (!page || !PageAnonExclusive(page)) {
			*split = true;
			return 0;
		}
		new |= _PAGE_RW;
	}
	/* The hardware may set A/D concurrently: update atomically; if the
	 * entry moved on, the faulting access simply retries. */
	pt_word_cmpxchg(entryp, &seen, new);
	return 0;
}

vm_fault_t huge_pud_fault(struct vm_area_struct *vma, pud_t *pudp,
			  unsigned long addr, unsigned int flags)
{
	spinlock_t *ptl = pud_lock(vma->vm_mm, pudp);
	bool split;
	vm_fault_t ret = huge_leaf_fault(vma, &pudp->pud, flags, &split);

	spin_unlock(ptl);
	if (split)
		split_huge_pud(vma, pudp, addr);
	return ret;
}

vm_fault_t huge_pmd_fault(struct vm_area_struct *vma, pmd_t *pmdp,
			  unsigned long addr, unsigned int flags)
{
	spinlock_t *ptl = pmd_lock(vma->vm_mm, pmdp);
	bool split;
	vm_fault_t ret = huge_leaf_fault(vma, &pmdp->pmd, flags, &split);

	spin_unlock(ptl);
	if (split)
		split_huge_pmd(vma, pmdp, addr);
	return ret;
}

/* --- splitting ------------------------------------------------------------ */

/*
 * Fill @table with the 512 next-level entries that together map what the
 * huge leaf @leaf maps.  @sub_shift is the next level's page shift; at the
 * PTE level the entries lose _PAGE_PSE.  Accounting moves from the leaf's
 * first page to each entry's first page (see the file comment).
 */
static void split_fill(u64 *table, u64 leaf, unsigned int sub_shift)
{
	u64 base = leaf & ~PTE_PFN_MASK;
	unsigned long pfn = (leaf & PTE_PFN_MASK) >> PAGE_SHIFT;
	unsigned long step = 1UL << (sub_shift - PAGE_SHIFT);
	struct page *first = vm_normal_page_val(leaf);

	if (sub_shift == PAGE_SHIFT)
		base &= ~(u64)_PAGE_PSE;
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		table[i] = base | ((u64)(pfn + i * step) << PAGE_SHIFT);
	if (!first)
		return;
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		struct page *p = first + i * step;

		atomic_inc(&p->_mapcount);
		if (PageAnonExclusive(first))
			SetPageAnonExclusive(p);
	}
	atomic_dec(&first->_mapcount);
	atomic_add(PTRS_PER_TABLE - 1, &compound_head(first)->_refcount);
}

/* Undo split_fill's accounting when the cmpxchg lost and we refill. */
static void split_unfill(u64 leaf, unsigned int sub_shift)
{
	unsigned long step = 1UL << (sub_shift - PAGE_SHIFT);
	struct page *first = vm_normal_page_val(leaf);

	if (!first)
		return;
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		atomic_dec(&first[i * step]._mapcount);
	atomic_inc(&first->_mapcount);
	atomic_sub(PTRS_PER_TABLE - 1, &compound_head(first)->_refcount);
}

/*
 * Replace the huge leaf at @entryp by a table of 512 entries of the next
 * level.  Returns whether it split (false: no longer a huge leaf).
 */
static bool split_leaf(struct mm_struct *mm, u64 *entryp,
		       unsigned int sub_shift)
{
	struct page *table = pgtable_alloc_gfp(mm, GFP_KERNEL | __GFP_NOFAIL);
	u64 *tbl, old;
	bool done = false;

	tbl = page_address(table);
	spin_lock(&mm->page_table_lock);
	old = pt_word_load(entryp);
	while ((old & (_PAGE_PRESENT | _PAGE_PROTNONE)) && (old & _PAGE_PSE)) {
		u64 seen = old;

		split_fill(tbl, old, sub_shift);
		/* Fully ordered: the filled table is visible before its entry. */
		if (pt_word_cmpxchg(entryp, &old,
				    ((u64)page_to_pfn(table) << PAGE_SHIFT) |
					    _PAGE_TABLE)) {
			done = true;
			break;
		}
		/* The hardware set A/D meanwhile: refill from the new value. */
		split_unfill(seen, sub_shift);
	}
	spin_unlock(&mm->page_table_lock);
	if (!done)
		pgtable_free(mm, table);
	return done;
}

/* Split under a CLEAR bracket: start, replace the leaf, flush, end. */
static void split_notify(struct vm_area_struct *vma, u64 *entryp,
			 unsigned long addr, unsigned long size,
			 unsigned int sub_shift)
{
	unsigned long haddr = addr & ~(size - 1);
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm, haddr,
				haddr + size);
	mmu_notifier_invalidate_range_start(&range);
	if (split_leaf(vma->vm_mm, entryp, sub_shift))
		flush_tlb_range(vma, haddr, haddr + size);
	mmu_notifier_invalidate_range_end(&range);
}

void split_huge_pud(struct vm_area_struct *vma, pud_t *pudp, unsigned long addr)
{
	split_notify(vma, &pudp->pud, addr, PUD_SIZE, PMD_SHIFT);
}

void split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmdp, unsigned long addr)
{
	split_notify(vma, &pmdp->pmd, addr, PMD_SIZE, PAGE_SHIFT);
}

/* Split whatever huge leaf maps @addr (PUD first, then the PMD under it)
 * if @addr is not on its boundary: a VMA is about to be split there. */
void vma_adjust_trans_huge(struct vm_area_struct *vma, unsigned long addr)
{
	struct pt_snapshot s;

	if (IS_ALIGNED(addr, PMD_SIZE) && IS_ALIGNED(addr, PUD_SIZE))
		return;
	for (;;) {
		pt_walk_snapshot(vma->vm_mm, addr, &s);
		if (!pt_snapshot_maps(&s) && !(s.entry & _PAGE_PROTNONE))
			return;
		if (s.shift == PUD_SHIFT && (s.entry & _PAGE_PSE) &&
		    !IS_ALIGNED(addr, PUD_SIZE))
			split_huge_pud(vma, (pud_t *)s.entryp, addr);
		else if (s.shift == PMD_SHIFT && (s.entry & _PAGE_PSE) &&
			 !IS_ALIGNED(addr, PMD_SIZE))
			split_huge_pmd(vma, (pmd_t *)s.entryp, addr);
		else
			return;
	}
}

/* --- zapping ---------------------------------------------------------------- */

static void zap_huge_leaf(struct mmu_gather *tlb, struct vm_area_struct *vma,
			  u64 *entryp, unsigned long addr, unsigned int order)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *page;
	u64 old;

	spin_lock(&mm->page_table_lock);
	old = pt_word_xchg(entryp, 0);
	if (old)
		tlb_flush_pte_range(tlb, addr, PAGE_SIZE << order);
	page = (old & (_PAGE_PRESENT | _PAGE_PROTNONE)) ?
		       vm_normal_page_val(old) :
		       NULL;
	if (page)
		zap_account(vma, page, old & _PAGE_DIRTY, 1L << order);
	spin_unlock(&mm->page_table_lock);
	if (page)
		tlb_remove_page(tlb, page);
}

void zap_huge_pud(struct mmu_gather *tlb, struct vm_area_struct *vma,
		  pud_t *pudp, unsigned long addr)
{
	zap_huge_leaf(tlb, vma, &pudp->pud, addr, HPAGE_PUD_ORDER);
}

void zap_huge_pmd(struct mmu_gather *tlb, struct vm_area_struct *vma,
		  pmd_t *pmdp, unsigned long addr)
{
	zap_huge_leaf(tlb, vma, &pmdp->pmd, addr, HPAGE_PMD_ORDER);
}
