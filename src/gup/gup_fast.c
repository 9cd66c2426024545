// SPDX-License-Identifier: MIT
/*
 * gup_fast.c - get_user_pages_fast / pin_user_pages_fast: the lockless walk.
 *
 * The protocol (seed 003; docs/tlb.md "IRQ-off sections and GUP-fast"):
 *
 *   local_irq_save()
 *   for each level: entry = Xp_get(entryp)         ONE read (tear-free)
 *                   bail if none / not a table;  descend via the snapshot
 *   at the leaf:    bail unless present, not PROT_NONE, not special (zero
 *                   page, pfnmap) unless devmap, writable if FOLL_WRITE
 *                   devmap: pgmap = get_dev_pagemap(pfn) or bail
 *                   get_page_unless_zero(head)     (+ pincount for pins)
 *                   smp_mb()
 *                   re-read the leaf (and the PMD above a PTE table):
 *                   changed -> drop what we took and bail
 *   local_irq_restore()
 *   the rest of the range, from the first page we bailed on: slow path
 *
 * Why IRQs off makes the lockless walk safe.  Nothing here holds a lock
 * that stops munmap, MADV_DONTNEED, a huge-page split or exit from
 * unhooking a table or zapping a page under us.  But every one of them
 * frees what it unhooked only after a TLB shootdown whose last step,
 * tlb_remove_table_sync_one(), waits for every thread that was inside an
 * IRQ-off section when it began (a CPU with interrupts off does not
 * acknowledge the IPI).  So a table or struct page we reached by a read
 * made inside our section stays allocated until we leave it: the walk is
 * exactly as safe as a hardware walk (seed 003: the shootdown serialises
 * against both).  The store-buffer pair of smp_mb()s in irq.c means
 * either the freer sees our section and waits, or our read already sees
 * the cleared entry and never reaches what it frees.
 *
 * Why get_page_unless_zero().  Staying allocated is not staying owned:
 * between our leaf read and our reference, a zap may have dropped the
 * page's last reference — the mmu_gather's put_page() runs after the
 * shootdown, and the shootdown does not wait for us if our section began
 * after its snapshot... but then our read came after the entry was
 * cleared.  The remaining window is a reference count already at zero on
 * its way back to the allocator (or reallocated: gen bumped).  A plain
 * increment would resurrect a free page; inc-not-zero refuses it.
 *
 * Why the re-read.  A nonzero count does not mean the page is still the
 * one mapped at this address: it may have been zapped and reallocated to
 * someone else (refcount 1 again), or the entry may have become read-only
 * (fork, COW, mprotect) after we checked its write bit.  Re-reading the
 * entry after taking the reference (smp_mb() orders our count increment
 * before the load) and comparing it with the snapshot closes that: if it
 * is unchanged, the mapping still holds its own reference and the page is
 * the mm's page at this address at some instant while we held ours.  A
 * pin also re-checks PG_anon_exclusive after the barrier, the other half
 * of the store-buffer pair fork's pinned-page rule needs (gup.h).  For a
 * PTE we also re-read the PMD: a table that was detached (a collapse or a
 * munmap's free_pgtables) would show an unchanged PTE in a dead table.
 *
 * The oracle's check (check_hooks.h): the frame's generation is sampled
 * right after the leaf read and compared once the grab and the re-read
 * succeeded.  A changed generation would mean we hold a frame that was
 * freed (and maybe reused) under us.  With IRQs off around the walk this
 * can never fire: the free of anything we reached waits for our section
 * (the shootdown above), and a free that already happened made the
 * re-read fail.  The hook exists to prove that, and to catch a broken
 * variant of this file.
 *
 * Device memory (devmap entries, seed 003).  A devmap PTE maps a page of
 * a dev_pagemap (memremap.h); its frames go back to the allocator when the
 * device is removed.  Like the kernel we ask the pgmap first: a live
 * reference from get_dev_pagemap() (held, IRQs off, until the table's
 * PTEs are done) means removal has not passed its kill-and-wait step, so
 * the page cannot be freed under the grab; a removed or dying pgmap sends
 * us to the slow path.  The seed's argument is that this check is only
 * needed because filesystem-dax removal did not zap: memunmap_pages()
 * zaps every mapping and flushes before it frees, and that flush waits
 * for this IRQ-off section like any other zap's.  gup_fast_devmap_check
 * (gup.h) turns the check off so both sides can be shown:
 *
 *   removal          pgmap check   result (tests/explore/test_seed003.c)
 *   no zap (flawed)  on            safe: the kill makes the lookup fail
 *   no zap (flawed)  off           use after free of a removed page
 *   zap + flush      off           safe: the flush waits for us
 *
 * A grab that FAILS on a frame whose generation moved since the leaf read
 * is reported too: get_page_unless_zero() touched the struct page of a
 * freed frame (in the kernel, memory that may no longer exist).  With the
 * IRQ-off protocol respected that cannot happen either, for any page.
 * FOLL_LONGTERM devmap requests leave the fast path at once: the slow
 * path decides (fsdax refuses them).  So do FOLL_LONGTERM requests for a
 * ZONE_MOVABLE frame: the slow path migrates it out before pinning.
 *
 * Everything the fast path declines goes to the slow path, which faults,
 * breaks COW, handles the zero page, devmap and special entries, unshares
 * and returns the errors.
 */
#include <mmirror/irqflags.h>
#include <mmirror/memremap.h>
#include "base/check_hooks.h"
#include "base/trace.h"
#include "internal.h"

/*
 * Take @refs holds on the folio of @page unless it is being freed; also
 * make sure it is still a folio containing @page (a concurrent split may
 * have changed the head).  Returns the head held, or NULL.
 */
static struct page *gup_fast_try_grab(struct page *page, int refs,
				      unsigned int flags)
{
	struct page *head = compound_head(page);

	if (!get_page_unless_zero(head))
		return NULL;
	if (unlikely(compound_head(page) != head)) {
		put_page(head);
		return NULL;
	}
	if (refs > 1)
		atomic_add(refs - 1, &head->_refcount);
	if (flags & FOLL_PIN)
		atomic_add(refs, &head->_pincount);
	return head;
}

/*
 * Does a leaf word allow the fast path at all?  A FOLL_LONGTERM pin of a
 * ZONE_MOVABLE frame does not: the slow path migrates it out first
 * (longterm.c; the kernel's folio_is_longterm_pinnable() check).  The zone
 * is a property of the pfn, so no reference is needed to ask.
 */
static bool gup_fast_leaf_ok(u64 entry, unsigned int flags)
{
	if (!(entry & _PAGE_PRESENT)) /* none, swap-type, PROT_NONE */
		return false;
	if ((flags & FOLL_LONGTERM) &&
	    page_is_movable(pfn_to_page((entry & PTE_PFN_MASK) >> PAGE_SHIFT)))
		return false;
	if (entry & _PAGE_DEVMAP) {
		if (flags & FOLL_LONGTERM)
			return false;
	} else if (entry & _PAGE_SPECIAL) {
		return false;
	}
	if ((flags & FOLL_WRITE) && !(entry & _PAGE_RW))
		return false;
	return true;
}

/*
 * After the barrier: a pinned anonymous page must be the mm's alone.
 * @excl carries PG_anon_exclusive: the subpage under a PTE, the head
 * under a huge leaf.
 */
static bool gup_fast_pin_ok(struct page *head, struct page *excl,
			    unsigned int flags)
{
	return !(flags & FOLL_PIN) || !PageAnon(head) ||
	       PageAnonExclusive(excl);
}

/* Written by gup_fast_set_devmap_check() only; read once per walk. */
static bool gup_fast_devmap_check = true;

bool gup_fast_set_devmap_check(bool on)
{
	bool old = READ_ONCE(gup_fast_devmap_check);

	WRITE_ONCE(gup_fast_devmap_check, on);
	return old;
}

/*
 * Take @page at @addr of a PTE read as @pte; NULL (nothing held) to bail.
 * *@pgmapp: the pgmap reference held for devmap entries (reused across
 * the table, put by the caller); @devmap_check: ask the pgmap at all.
 */
static struct page *gup_fast_grab_pte(pte_t pte, pte_t *ptep, pmd_t pmd,
				      pmd_t *pmdp, unsigned long addr,
				      unsigned int flags, bool devmap_check,
				      struct dev_pagemap **pgmapp)
{
	struct page *page = pte_page(pte), *head;
	unsigned long gen = check_gup_fast_gen(&page->gen);

	if (pte_devmap(pte) && devmap_check) {
		*pgmapp = get_dev_pagemap(pte_pfn(pte), *pgmapp);
		if (!*pgmapp)
			return NULL; /* removed or dying: the slow path */
	}
	head = gup_fast_try_grab(page, 1, flags);
	if (!head) {
		/* We touched its count: was the frame freed under us? */
		check_hook_gup_fast(page, addr, gen);
		return NULL;
	}
	/* Orders our count RMW before the re-reads (the pair to the
	 * zapper's clear-then-put and fork's wrprotect-then-check). */
	smp_mb();
	if (!pmd_same(pmdp_get(pmdp), pmd) || !pte_same(ptep_get(ptep), pte) ||
	    !gup_fast_pin_ok(head, page, flags)) {
		gup_put_refs(head, 1, flags);
		return NULL;
	}
	check_hook_gup_fast(page, addr, gen);
	trace_event(TR_FAULT, "gup-fast grab %#lx pfn %#lx%s", addr,
		    page_to_pfn(page), pte_devmap(pte) ? " devmap" : "");
	return page;
}

/* PTEs of one table, [addr, end).  Returns false at the first bail. */
static bool gup_fast_pte_range(pmd_t pmd, pmd_t *pmdp, unsigned long addr,
			       unsigned long end, unsigned int flags,
			       struct page **pages, int *nr)
{
	/* Pairs with WRITE_ONCE in gup_fast_set_devmap_check(). */
	bool devmap_check = READ_ONCE(gup_fast_devmap_check);
	pte_t *ptep = pmd_pgtable(pmd) + pte_index(addr);
	struct dev_pagemap *pgmap = NULL;
	bool ok = true;

	do {
		pte_t pte = ptep_get(ptep);
		struct page *page;

		if (!gup_fast_leaf_ok(pte_val(pte), flags)) {
			ok = false;
			break;
		}
		page = gup_fast_grab_pte(pte, ptep, pmd, pmdp, addr, flags,
					 devmap_check, &pgmap);
		if (!page) {
			ok = false;
			break;
		}
		pages[(*nr)++] = page;
	} while (ptep++, addr += PAGE_SIZE, addr != end);
	/* Never sleeps: fine with IRQs off. */
	put_dev_pagemap(pgmap);
	return ok;
}

/* Read a PMD or PUD entry through its level's one getter (tear-free). */
static u64 huge_entry_get(u64 *entryp, unsigned int shift)
{
	if (shift == PMD_SHIFT)
		return pmd_val(pmdp_get((pmd_t *)entryp));
	return pud_val(pudp_get((pud_t *)entryp));
}

/*
 * A PMD or PUD leaf: @snap read from @entryp, covering 2^@shift bytes;
 * hold the subpages of [addr, end) with one grab on the folio.
 */
static bool gup_fast_huge(u64 *entryp, u64 snap, unsigned int shift,
			  unsigned long addr, unsigned long end,
			  unsigned int flags, struct page **pages, int *nr)
{
	int refs = (int)((end - addr) >> PAGE_SHIFT);
	struct page *page, *head;
	unsigned long gen;

	/* Devmap entries are only ever PTEs (memremap.h). */
	if (!gup_fast_leaf_ok(snap, flags) || (snap & _PAGE_DEVMAP))
		return false;
	page = pfn_to_page(((snap & PTE_PFN_MASK) >> PAGE_SHIFT) +
			   ((addr & ((1UL << shift) - 1)) >> PAGE_SHIFT));
	gen = check_gup_fast_gen(&page->gen);
	head = gup_fast_try_grab(page, refs, flags);
	if (!head)
		return false;
	smp_mb(); /* as in gup_fast_pte_range() */
	/* Acquire: pairs with the release stores of set_pmd/set_pud. */
	if (huge_entry_get(entryp, shift) != snap ||
	    !gup_fast_pin_ok(head, head, flags)) {
		gup_put_refs(head, refs, flags);
		return false;
	}
	check_hook_gup_fast(page, addr, gen);
	trace_event(TR_FAULT, "gup-fast grab %#lx pfn %#lx x%d", addr,
		    page_to_pfn(page), refs);
	for (int i = 0; i < refs; i++)
		pages[(*nr)++] = page + i;
	return true;
}

static bool gup_fast_pmd_range(pud_t pud, unsigned long addr, unsigned long end,
			       unsigned int flags, struct page **pages, int *nr)
{
	pmd_t *pmdp = pud_pgtable(pud) + pmd_index(addr);
	unsigned long next;

	do {
		pmd_t pmd = pmdp_get(pmdp);

		next = pmd_addr_end(addr, end);

		if (!pmd_present(pmd))
			return false;
		if (pmd_leaf(pmd)) {
			if (!gup_fast_huge(&pmdp->pmd, pmd_val(pmd), PMD_SHIFT,
					   addr, next, flags, pages, nr))
				return false;
		} else if (!gup_fast_pte_range(pmd, pmdp, addr, next, flags,
					       pages, nr)) {
			return false;
		}
	} while (pmdp++, addr = next, addr != end);
	return true;
}

static bool gup_fast_pud_range(p4d_t p4d, unsigned long addr, unsigned long end,
			       unsigned int flags, struct page **pages, int *nr)
{
	pud_t *pudp = p4d_pgtable(p4d) + pud_index(addr);
	unsigned long next;

	do {
		pud_t pud = pudp_get(pudp);

		next = pud_addr_end(addr, end);

		if (!pud_present(pud))
			return false;
		if (pud_leaf(pud)) {
			if (!gup_fast_huge(&pudp->pud, pud_val(pud), PUD_SHIFT,
					   addr, next, flags, pages, nr))
				return false;
		} else if (!gup_fast_pmd_range(pud, addr, next, flags, pages,
					       nr)) {
			return false;
		}
	} while (pudp++, addr = next, addr != end);
	return true;
}

static bool gup_fast_p4d_range(pgd_t *pgdp, pgd_t pgd, unsigned long addr,
			       unsigned long end, unsigned int flags,
			       struct page **pages, int *nr)
{
	/* With 4 levels the P4D is the PGD entry itself: its snapshot is
	 * the one we already have (never re-read it). */
	p4d_t *p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	unsigned long next;

	do {
		p4d_t p4d = pgtable_l5_enabled ? p4dp_get(p4dp) :
						 __p4d(pgd_val(pgd));

		next = p4d_addr_end(addr, end);

		if (!p4d_present(p4d))
			return false;
		if (!gup_fast_pud_range(p4d, addr, next, flags, pages, nr))
			return false;
	} while (p4dp++, addr = next, addr != end);
	return true;
}

/* The IRQ-off walk of [start, end); returns the number of pages held. */
static int gup_fast(struct mm_struct *mm, unsigned long start,
		    unsigned long end, unsigned int flags, struct page **pages)
{
	unsigned long irqflags, addr = start, next;
	unsigned int seq = 0;
	pgd_t *pgdp;
	int nr = 0;

	/*
	 * Fork decides "pinned? then copy, else share COW" entry by entry
	 * with mmap_lock held for write, which we do not take.  A pin that
	 * lands while fork runs could miss that decision, so pins read
	 * mm->write_protect_seq (odd while fork copies) and back off
	 * if a fork overlapped; the slow path then serialises with fork on
	 * mmap_lock.  Pairs with write_seqcount_begin/end in dup_mmap().
	 */
	if (flags & FOLL_PIN) {
		seq = raw_read_seqcount(&mm->write_protect_seq);
		if (seq & 1)
			return 0;
	}
	local_irq_save(irqflags);
	pgdp = pgd_offset(mm, addr);
	do {
		pgd_t pgd = pgdp_get(pgdp);

		next = pgd_addr_end(addr, end);
		if (!pgd_present(pgd))
			break;
		if (!gup_fast_p4d_range(pgdp, pgd, addr, next, flags, pages,
					&nr))
			break;
	} while (pgdp++, addr = next, addr != end);
	local_irq_restore(irqflags);
	/* Our pincount RMWs are fully ordered before this re-read. */
	if ((flags & FOLL_PIN) && nr &&
	    read_seqcount_retry(&mm->write_protect_seq, seq)) {
		unpin_user_pages(pages, nr);
		nr = 0;
	}
	return nr;
}

/* Validate, walk locklessly, hand the rest to the slow path. */
static int gup_fast_fallback(struct mm_struct *mm, unsigned long start,
			     int nr_pages, unsigned int flags,
			     struct page **pages)
{
	unsigned long len;
	long ret;
	int nr;

	if (nr_pages <= 0)
		return -EINVAL;
	ret = gup_check_args(mm, start, (unsigned long)nr_pages, flags, pages);
	if (ret)
		return (int)ret;
	len = (unsigned long)nr_pages << PAGE_SHIFT;
	nr = gup_fast(mm, start, start + len, flags, pages);
	if (nr == nr_pages)
		return nr;
	ret = gup_unlocked(mm, start + ((unsigned long)nr << PAGE_SHIFT),
			   (unsigned long)(nr_pages - nr), flags, pages + nr);
	if (ret < 0)
		return nr ? nr : (int)ret;
	return nr + (int)ret;
}

int get_user_pages_fast(struct mm_struct *mm, unsigned long start, int nr_pages,
			unsigned int gup_flags, struct page **pages)
{
	if (WARN_ON(gup_flags & (FOLL_PIN | FOLL_REMOTE)))
		return -EINVAL;
	return gup_fast_fallback(mm, start, nr_pages, gup_flags | FOLL_GET,
				 pages);
}

int pin_user_pages_fast(struct mm_struct *mm, unsigned long start, int nr_pages,
			unsigned int gup_flags, struct page **pages)
{
	if (WARN_ON(gup_flags & (FOLL_GET | FOLL_PIN | FOLL_REMOTE)))
		return -EINVAL;
	return gup_fast_fallback(mm, start, nr_pages, gup_flags | FOLL_PIN,
				 pages);
}
