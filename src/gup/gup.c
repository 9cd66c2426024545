// SPDX-License-Identifier: MIT
/*
 * gup.c - the slow path of get_user_pages / pin_user_pages, and unpinning.
 *
 * The protocol, per page of the range (mmap_lock held for read):
 *
 *   1. find the VMA and check that it allows the access (check_vma_flags):
 *      VM_IO/VM_PFNMAP never; a write needs VM_WRITE, or FOLL_FORCE on a
 *      private VMA that may be written (VM_MAYWRITE);
 *   2. follow the page (gup_follow): walk the tables reading each level
 *      ONCE with Xp_get() and descending through that snapshot (seed 001);
 *      at the leaf take the leaf's lock (PTE lock, or page_table_lock for a
 *      PMD/PUD leaf), check the entry under it and, if it allows the
 *      access, take the reference (and pincount) while still holding the
 *      lock.  A mapped page holds a reference of its own that a zap drops
 *      only after clearing the entry under that same lock (and then only
 *      after the TLB shootdown), so the page cannot be freed between our
 *      check and our reference;
 *   3. if the page is missing or does not allow the access, fault it
 *      (handle_mm_fault, FAULT_FLAG_WRITE for FOLL_WRITE: breaking COW so the
 *      page held is the mm's own) and follow again.  Nothing from the first
 *      follow is trusted after the fault: the second follow re-reads all.
 *
 * FOLL_FORCE writes to a read-only private VMA (ptrace's poke): Linux lets
 * the write fault through and the COW leaves a private, still read-only
 * page.  handle_mm_fault() refuses writes the VMA forbids, so gup does that
 * COW itself (gup_cow_pte), at the PTE level, with the same steps as the
 * fault path's: copy outside the lock, notifier start, re-check the entry
 * under the PTE lock, clear + flush, install the copy read-only, drop the
 * old page after the flush.  The same helper "unshares" an anonymous page
 * shared with a fork relative before a read pin in a read-only VMA (the
 * kernel's FAULT_FLAG_UNSHARE); in a writable VMA a write fault does it.
 * A pinned anonymous page is therefore always PG_anon_exclusive, the
 * property fork's pinned-page rule depends on.
 *
 * Pins: one reference plus one _pincount on the folio head per page.
 * Unpin drops the pincount first, then the reference (which may free the
 * folio): a folio with _pincount > 0 always has a reference behind it.
 */
#include <limits.h>
#include <mmirror/memremap.h>
#include <mmirror/mmu_notifier.h>
#include "../mm/internal.h"
#include "base/check_hooks.h"
#include "internal.h"

#define FOLL_KNOWN                                                           \
	(FOLL_WRITE | FOLL_GET | FOLL_FORCE | FOLL_NOFAULT | FOLL_LONGTERM | \
	 FOLL_PIN | FOLL_REMOTE)
/* How often one page may be faulted before we give up (a concurrent
 * writer undoing every fault); far above anything a real race needs. */
#define GUP_MAX_TRIES 1000
/* Pin-and-migrate rounds of one FOLL_LONGTERM call before -ENOMEM
 * (longterm.c; the kernel does not bound them). */
#define GUP_LONGTERM_ROUNDS 16

/* --- holding pages ------------------------------------------------------------ */

/*
 * gup_grab_refs() - take @refs holds of kind @flags on the folio @head,
 * which the caller knows is alive (it maps it under a lock, or holds a
 * reference).  The zero page is never pinned (gup.h).
 */
void gup_grab_refs(struct page *head, int refs, unsigned int flags)
{
	if ((flags & FOLL_PIN) && PageZero(head))
		return;
	atomic_add(refs, &head->_refcount);
	if (flags & FOLL_PIN)
		atomic_add(refs, &head->_pincount);
}

/* Undo gup_grab_refs(); the last reference may free the folio. */
void gup_put_refs(struct page *head, int refs, unsigned int flags)
{
	bool devmap;

	if ((flags & FOLL_PIN) && PageZero(head))
		return;
	/* Read before our put: afterwards the page may be freed. */
	devmap = PageDevmap(head);
	if (flags & FOLL_PIN)
		atomic_sub(refs, &head->_pincount);
	if (refs > 1)
		atomic_sub(refs - 1, &head->_refcount);
	put_page(head);
	if (devmap)
		devmap_page_put_notify();
}

/*
 * Drop @n pins of the folio @head (and the @n references behind them).
 * Pins first: a folio with _pincount > 0 always has references behind it.
 */
static void unpin_folio_refs(struct page *head, int n)
{
	bool devmap;

	if (PageZero(head))
		return;
	/* Unpinning what is not pinned: undo and complain. */
	if (WARN_ON(atomic_sub_return(n, &head->_pincount) < 0)) {
		atomic_add(n, &head->_pincount);
		check_hook_unpin_underflow(head, n);
		return;
	}
	/* Read while our reference still holds the page. */
	devmap = PageDevmap(head);
	if (n > 1)
		atomic_sub(n - 1, &head->_refcount);
	put_page(head);
	/* A removal may be waiting for the page to become idle. */
	if (devmap)
		devmap_page_put_notify();
}

void unpin_user_page(struct page *page)
{
	if (WARN_ON(!page))
		return;
	unpin_folio_refs(compound_head(page), 1);
}

/*
 * Walk @pages in runs of consecutive entries of one folio (a huge leaf
 * pinned whole gives 512 of them): one atomic per run, not per page, as
 * the kernel's unpin_user_pages does.
 */
static void unpin_runs(struct page **pages, unsigned long npages,
		       bool make_dirty)
{
	unsigned long i = 0;

	while (i < npages) {
		struct page *head;
		unsigned long n = 1;

		if (WARN_ON(!pages[i])) {
			i++;
			continue;
		}
		head = compound_head(pages[i]);
		if (PageHead(head)) {
			/*
			 * A pinned folio is never split (huge_split.c
			 * refuses it), so a page within the head's
			 * pfn range belongs to it: no need to touch the
			 * struct pages of the run.
			 */
			struct page *end = head + compound_nr(head);

			while (i + n < npages && pages[i + n] == pages[i] + n &&
			       pages[i] + n < end && n < INT_MAX)
				n++;
		}
		/* Test first: the flag is usually set already. */
		if (make_dirty && !PageZero(head) && !PageDirty(head))
			SetPageDirty(head);
		unpin_folio_refs(head, (int)n);
		i += n;
	}
}

void unpin_user_pages(struct page **pages, unsigned long npages)
{
	unpin_runs(pages, npages, false);
}

void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages,
				 bool make_dirty)
{
	unpin_runs(pages, npages, make_dirty);
}

bool folio_maybe_dma_pinned(struct page *page)
{
	/* Pairs with the seq_cst RMWs of gup_grab_refs / unpin_user_page;
	 * callers that need the store-buffer pair add smp_mb() (gup.h). */
	return atomic_read(&compound_head(page)->_pincount) > 0;
}

/* --- argument checks --------------------------------------------------------- */

/*
 * gup_check_args() - the checks every entry point makes (gup.h's -EINVAL
 * list).  @flags already carries FOLL_GET or FOLL_PIN from the entry point.
 */
int gup_check_args(struct mm_struct *mm, unsigned long start,
		   unsigned long nr_pages, unsigned int flags,
		   struct page **pages)
{
	unsigned long len;

	if (WARN_ON(!mm))
		return -EINVAL;
	if (WARN_ON(flags & ~FOLL_KNOWN))
		return -EINVAL;
	/* Exactly one of FOLL_GET / FOLL_PIN: a caller passing FOLL_PIN to
	 * get_user_pages or FOLL_GET to pin_user_pages is a bug. */
	if (WARN_ON((flags & FOLL_GET) && (flags & FOLL_PIN)))
		return -EINVAL;
	/* FOLL_LONGTERM is a property of pins only. */
	if (WARN_ON((flags & FOLL_LONGTERM) && !(flags & FOLL_PIN)))
		return -EINVAL;
	if (!pages || !nr_pages || (start & ~PAGE_MASK))
		return -EINVAL;
	if (nr_pages > (ULONG_MAX >> PAGE_SHIFT))
		return -EINVAL;
	len = nr_pages << PAGE_SHIFT;
	if (start + len < start || start + len > mm->task_size)
		return -EINVAL;
	return 0;
}

/* --- VMA checks -------------------------------------------------------------- */

/* Is a FOLL_FORCE write to a VMA without VM_WRITE a ptrace-style COW? */
static bool gup_force_cow_vma(struct vm_area_struct *vma, unsigned int flags)
{
	return (flags & FOLL_WRITE) && (flags & FOLL_FORCE) &&
	       !(vma->vm_flags & VM_WRITE);
}

static int check_vma_flags(struct vm_area_struct *vma, unsigned int flags)
{
	unsigned long vm_flags = vma->vm_flags;

	if (vm_flags & (VM_IO | VM_PFNMAP))
		return -EFAULT;
	if (flags & FOLL_WRITE) {
		if (vm_flags & VM_WRITE)
			return 0;
		/* FOLL_FORCE may write private memory that could be made
		 * writable (a COW mapping), never shared memory. */
		if (!(flags & FOLL_FORCE) || vma->vm_shared ||
		    !(vm_flags & VM_MAYWRITE) || !(vm_flags & VM_READ))
			return -EFAULT;
		return 0;
	}
	if (!(vm_flags & VM_ACCESS_FLAGS))
		return -EFAULT; /* PROT_NONE: no FOLL_FORCE reads (docs) */
	return 0;
}

/* --- following a page -------------------------------------------------------- */

/* Result of one follow. */
enum follow_res {
	FOLLOW_OK, /* *page held */
	FOLLOW_FAULT, /* fault with the usual flags and follow again */
	FOLLOW_UNSHARE, /* write-fault (pin of a shared anon page) */
	FOLLOW_COW, /* gup_cow_pte() on *orig, then follow again */
	FOLLOW_EFAULT, /* cannot be held (a special non-zero entry) */
	FOLLOW_EOPNOTSUPP, /* FOLL_LONGTERM on fsdax/coherent memory */
};

/*
 * Does a present, non-PROT_NONE leaf allow the access of @flags?
 * @excl: where PG_anon_exclusive lives for this mapping: the subpage for
 * a PTE, the head for a huge leaf (as in the kernel).
 */
static enum follow_res gup_leaf_ok(struct vm_area_struct *vma, u64 entry,
				   struct page *head, struct page *excl,
				   unsigned int flags)
{
	bool anon_shared = PageAnon(head) && !PageAnonExclusive(excl);

	if (flags & FOLL_WRITE) {
		if (entry & _PAGE_RW)
			return FOLLOW_OK;
		if (!gup_force_cow_vma(vma, flags))
			return FOLLOW_FAULT;
		/* FOLL_FORCE: our own private copy may be written even
		 * though the entry stays read-only. */
		return PageAnon(head) && !anon_shared ? FOLLOW_OK : FOLLOW_COW;
	}
	/*
	 * A pin of an anonymous page shared with a fork relative would be
	 * lost at that relative's next write... or ours: unshare first.
	 */
	if ((flags & FOLL_PIN) && anon_shared)
		return (vma->vm_flags & VM_WRITE) ? FOLLOW_UNSHARE : FOLLOW_COW;
	return FOLLOW_OK;
}

/* May a FOLL_LONGTERM pin hold this device page?  (Kernel: fsdax never;
 * coherent memory is migrated out first - not modelled: refused.) */
static bool devmap_longterm_ok(const struct dev_pagemap *pgmap)
{
	return pgmap->type != MEMORY_DEVICE_FS_DAX &&
	       pgmap->type != MEMORY_DEVICE_COHERENT;
}

/*
 * A devmap PTE (PTE lock held): hold the page only through a live pgmap
 * reference, as the kernel's follow_devmap does.  Our PTE lock keeps the
 * zap (step 3 of memunmap_pages) from clearing the entry meanwhile; the
 * pgmap reference is what also covers a removal that does not zap.
 */
static enum follow_res gup_follow_devmap(struct vm_area_struct *vma, pte_t pte,
					 unsigned int flags,
					 struct page **pagep)
{
	struct dev_pagemap *pgmap = get_dev_pagemap(pte_pfn(pte), NULL);
	struct page *page = pte_page(pte);
	enum follow_res res;

	if (!pgmap)
		return FOLLOW_EFAULT; /* the device is going or gone */
	if ((flags & FOLL_LONGTERM) && !devmap_longterm_ok(pgmap))
		res = FOLLOW_EOPNOTSUPP;
	else
		res = gup_leaf_ok(vma, pte_val(pte), page, page, flags);
	if (res == FOLLOW_COW)
		res = FOLLOW_EFAULT; /* no private copy of device memory */
	if (res == FOLLOW_OK) {
		gup_grab_refs(page, 1, flags);
		*pagep = page;
	}
	put_dev_pagemap(pgmap);
	return res;
}

/* The PTE level: check and grab under the PTE lock. */
static enum follow_res gup_follow_pte(struct vm_area_struct *vma, pmd_t *pmdp,
				      unsigned long addr, unsigned int flags,
				      struct page **pagep, pte_t *orig)
{
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(vma->vm_mm, pmdp, addr, &ptl);
	enum follow_res res;
	struct page *page;
	pte_t pte;

	if (!ptep)
		return FOLLOW_FAULT; /* the table went or became a huge leaf */
	pte = ptep_get(ptep);
	*orig = pte;
	if (!pte_present(pte) || pte_protnone(pte)) {
		res = FOLLOW_FAULT;
		goto out;
	}
	if (pte_devmap(pte)) {
		res = gup_follow_devmap(vma, pte, flags, pagep);
		goto out;
	}
	if (pte_special(pte) && !is_zero_pfn(pte_pfn(pte))) {
		res = FOLLOW_EFAULT;
		goto out;
	}
	page = pte_page(pte);
	if (is_zero_pfn(pte_pfn(pte))) {
		/* Reads may hold the zero page; writes must fault (or COW). */
		res = !(flags & FOLL_WRITE)	    ? FOLLOW_OK :
		      gup_force_cow_vma(vma, flags) ? FOLLOW_COW :
						      FOLLOW_FAULT;
	} else {
		res = gup_leaf_ok(vma, pte_val(pte), compound_head(page), page,
				  flags);
	}
	if (res == FOLLOW_OK) {
		gup_grab_refs(compound_head(page), 1, flags);
		*pagep = page;
	}
out:
	pte_unmap_unlock(ptep, ptl);
	return res;
}

/* Read a PMD or PUD entry through its level's one getter (tear-free). */
static u64 huge_entry_get(u64 *entryp, unsigned int shift)
{
	if (shift == PMD_SHIFT)
		return pmd_val(pmdp_get((pmd_t *)entryp));
	return pud_val(pudp_get((pud_t *)entryp));
}

/*
 * A huge leaf: check and grab under page_table_lock after re-reading the
 * entry there (it may have been split or zapped since the snapshot).
 * @entryp/@snap: the PMD or PUD entry and its snapshot; @shift its size.
 */
static enum follow_res gup_follow_huge(struct vm_area_struct *vma, u64 *entryp,
				       u64 snap, unsigned int shift,
				       unsigned long addr, unsigned int flags,
				       struct page **pagep)
{
	struct mm_struct *mm = vma->vm_mm;
	enum follow_res res;
	struct page *page;
	u64 entry;

	spin_lock(&mm->page_table_lock);
	/* Acquire: pairs with the release stores of set_pmd/set_pud. */
	entry = huge_entry_get(entryp, shift);
	if (entry != snap) {
		spin_unlock(&mm->page_table_lock);
		return FOLLOW_FAULT; /* changed: follow again from the top */
	}
	if ((entry & _PAGE_SPECIAL) || (entry & _PAGE_DEVMAP)) {
		spin_unlock(&mm->page_table_lock);
		return FOLLOW_EFAULT;
	}
	page = pfn_to_page(((entry & PTE_PFN_MASK) >> PAGE_SHIFT) +
			   ((addr & ((1UL << shift) - 1)) >> PAGE_SHIFT));
	res = gup_leaf_ok(vma, entry, compound_head(page), compound_head(page),
			  flags);
	/* No COW of huge leaves here: a forced write to a shared huge page
	 * of a read-only VMA is refused (docs/gup.md). */
	if (res == FOLLOW_COW)
		res = FOLLOW_EFAULT;
	if (res == FOLLOW_OK) {
		gup_grab_refs(compound_head(page), 1, flags);
		*pagep = page;
	}
	spin_unlock(&mm->page_table_lock);
	return res;
}

/*
 * gup_follow() - the walk: one Xp_get() per level, descending through the
 * snapshot.  Tables cannot be freed under us: we hold mmap_lock, and
 * tables are freed only under it for write.
 */
static enum follow_res gup_follow(struct vm_area_struct *vma,
				  unsigned long addr, unsigned int flags,
				  struct page **pagep, pte_t *orig,
				  pmd_t **pmdpp)
{
	pgd_t *pgdp = pgd_offset(vma->vm_mm, addr), pgd = pgdp_get(pgdp);
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;

	*orig = __pte(0);
	if (!pgd_present(pgd))
		return FOLLOW_FAULT;
	p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	p4d = pgtable_l5_enabled ? p4dp_get(p4dp) : __p4d(pgd_val(pgd));
	if (!p4d_present(p4d))
		return FOLLOW_FAULT;
	pudp = p4d_pgtable(p4d) + pud_index(addr);
	pud = pudp_get(pudp);
	if (!pud_present(pud) || pud_protnone(pud))
		return FOLLOW_FAULT;
	if (pud_leaf(pud))
		return gup_follow_huge(vma, &pudp->pud, pud_val(pud), PUD_SHIFT,
				       addr, flags, pagep);
	pmdp = pud_pgtable(pud) + pmd_index(addr);
	pmd = pmdp_get(pmdp);
	if (!pmd_present(pmd) || pmd_protnone(pmd))
		return FOLLOW_FAULT;
	if (pmd_leaf(pmd))
		return gup_follow_huge(vma, &pmdp->pmd, pmd_val(pmd), PMD_SHIFT,
				       addr, flags, pagep);
	*pmdpp = pmdp;
	return gup_follow_pte(vma, pmdp, addr, flags, pagep, orig);
}

/* --- the ptrace-style COW ----------------------------------------------------- */

/*
 * gup_cow_pte() - replace the entry @orig at @addr (the zero page, or an
 * anonymous page shared with a fork relative) by a private copy mapped
 * with the VMA's own protection (read-only here): FOLL_FORCE writes and
 * unsharing before a read pin.  Return: 0 (done, or the entry changed:
 * follow again) or -ENOMEM.
 */
static int gup_cow_pte(struct vm_area_struct *vma, pmd_t *pmdp,
		       unsigned long addr, pte_t orig)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *old = vm_normal_page_val(pte_val(orig));
	struct mmu_notifier_range range;
	struct page *new;
	spinlock_t *ptl;
	pte_t *ptep, prev;

	/* Hold the old page while copying it (the entry may go meanwhile);
	 * the mapping's reference makes get_page() safe only under the lock,
	 * so take it there. */
	ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
	if (!ptep)
		return 0;
	if (!pte_same(ptep_get(ptep), orig)) {
		pte_unmap_unlock(ptep, ptl);
		return 0;
	}
	if (old)
		get_page(old);
	pte_unmap_unlock(ptep, ptl);

	/* User memory (movable; a FOLL_LONGTERM caller's scope strips it). */
	new = alloc_page(GFP_KERNEL | __GFP_MOVABLE | (old ? 0 : __GFP_ZERO));
	if (!new) {
		if (old)
			put_page(old);
		return -ENOMEM;
	}
	if (old)
		copy_user_page(new, old);
	anon_page_init(new, vma, addr);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr,
				addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
	if (!ptep || !pte_same(ptep_get(ptep), orig)) {
		if (ptep)
			pte_unmap_unlock(ptep, ptl);
		mmu_notifier_invalidate_range_end(&range);
		__free_page(new);
		if (old)
			put_page(old);
		return 0;
	}
	/* Clear and flush before installing: no CPU may hold both. */
	prev = ptep_get_and_clear(ptep);
	flush_tlb_page(vma, addr);
	if (old)
		zap_account(vma, old, pte_dirty(prev), 1);
	atomic_inc(&new->_mapcount); /* the allocation reference maps it */
	add_mm_counter(mm, MM_ANONPAGES, 1);
	set_pte(ptep, pte_mkdirty(pte_mkyoung(mk_pte(new, vma->vm_page_prot))));
	pte_unmap_unlock(ptep, ptl);
	mmu_notifier_invalidate_range_end(&range);
	if (old) {
		put_page(old); /* the old mapping's, after the flush */
		put_page(old); /* ours */
	}
	return 0;
}

/* --- the slow path ------------------------------------------------------------ */

/* Fault @addr in for @flags; 0 to follow again, or a negative errno. */
static int gup_fault(struct vm_area_struct *vma, unsigned long addr,
		     unsigned int flags, enum follow_res res, pmd_t *pmdp,
		     pte_t orig)
{
	unsigned int fault_flags = 0;
	vm_fault_t ret;

	if (flags & FOLL_NOFAULT)
		return -EFAULT;
	if (res == FOLLOW_COW)
		return gup_cow_pte(vma, pmdp, addr, orig);
	if (flags & FOLL_REMOTE)
		fault_flags |= FAULT_FLAG_REMOTE;
	/* A write, or unsharing for a pin in a writable VMA (gup_leaf_ok). */
	if ((flags & FOLL_WRITE) || res == FOLLOW_UNSHARE)
		fault_flags |= FAULT_FLAG_WRITE;
	/* A forced write first needs something to copy: read-fault it. */
	if (gup_force_cow_vma(vma, flags))
		fault_flags &= ~FAULT_FLAG_WRITE;
	ret = handle_mm_fault(vma, addr, fault_flags);
	if (ret & VM_FAULT_OOM)
		return -ENOMEM;
	if (ret & VM_FAULT_ERROR)
		return -EFAULT;
	return 0;
}

/*
 * __get_user_pages() - the core loop of every slow entry point.
 * Context: mmap_lock held.  Return: as gup.h.
 */
static long __get_user_pages(struct mm_struct *mm, unsigned long start,
			     unsigned long nr_pages, unsigned int flags,
			     struct page **pages)
{
	struct vm_area_struct *vma = NULL;
	unsigned long i;
	int err = 0;

	mmap_assert_locked(mm);
	for (i = 0; i < nr_pages; i++) {
		unsigned long addr = start + (i << PAGE_SHIFT);
		int tries = 0;

		if (!vma || addr >= vma->vm_end) {
			vma = vma_lookup(mm, addr);
			err = vma ? check_vma_flags(vma, flags) : -EFAULT;
			if (err)
				break;
		}
		for (;;) {
			enum follow_res res;
			pmd_t *pmdp = NULL;
			pte_t orig;

			res = gup_follow(vma, addr, flags, &pages[i], &orig,
					 &pmdp);
			if (res == FOLLOW_OK)
				break;
			if (res == FOLLOW_EOPNOTSUPP) {
				err = -EOPNOTSUPP;
				break;
			}
			if (res == FOLLOW_EFAULT || ++tries > GUP_MAX_TRIES) {
				err = -EFAULT;
				break;
			}
			if (res == FOLLOW_COW && !pmdp)
				res = FOLLOW_FAULT;
			err = gup_fault(vma, addr, flags, res, pmdp, orig);
			if (err)
				break;
		}
		if (err)
			break;
	}
	return i ? (long)i : err;
}

/*
 * __gup_longterm_locked() - FOLL_LONGTERM: pin, and if any page lies in
 * ZONE_MOVABLE unpin all, migrate those out and pin again (longterm.c has
 * the protocol).  Faults allocate outside ZONE_MOVABLE meanwhile.
 * Context: mmap_lock held.  Return: as __get_user_pages().
 */
static long __gup_longterm_locked(struct mm_struct *mm, unsigned long start,
				  unsigned long nr_pages, unsigned int flags,
				  struct page **pages)
{
	unsigned int memflags = memalloc_pin_save();
	int rounds = 0;
	long ret, rc = 0;

	do {
		ret = __get_user_pages(mm, start, nr_pages, flags, pages);
		if (ret <= 0)
			break;
		rc = gup_check_longterm(mm, (unsigned long)ret, pages);
		if (rc)
			ret = rc; /* nothing is pinned now */
	} while (rc == -EAGAIN && ++rounds < GUP_LONGTERM_ROUNDS);
	if (ret == -EAGAIN)
		ret = -ENOMEM; /* out of rounds: as a failed migration */
	memalloc_pin_restore(memflags);
	return ret;
}

/* The core of every slow entry point, after the argument checks. */
static long gup_core(struct mm_struct *mm, unsigned long start,
		     unsigned long nr_pages, unsigned int flags,
		     struct page **pages)
{
	if (flags & FOLL_LONGTERM)
		return __gup_longterm_locked(mm, start, nr_pages, flags, pages);
	return __get_user_pages(mm, start, nr_pages, flags, pages);
}

static long gup_locked(struct mm_struct *mm, unsigned long start,
		       unsigned long nr_pages, unsigned int flags,
		       struct page **pages)
{
	int err = gup_check_args(mm, start, nr_pages, flags, pages);

	if (err)
		return err;
	return gup_core(mm, start, nr_pages, flags, pages);
}

/*
 * gup_unlocked() - the _unlocked entry points and the fallback of
 * GUP-fast: validated arguments, mmap_lock taken here.
 */
long gup_unlocked(struct mm_struct *mm, unsigned long start,
		  unsigned long nr_pages, unsigned int flags,
		  struct page **pages)
{
	int err = gup_check_args(mm, start, nr_pages, flags, pages);
	long ret;

	if (err)
		return err;
	mmap_read_lock(mm);
	ret = gup_core(mm, start, nr_pages, flags, pages);
	mmap_read_unlock(mm);
	return ret;
}

/* The caller's flags may not name the hold kind: the entry point does. */
static bool gup_bad_caller_flags(unsigned int flags)
{
	return WARN_ON(flags & (FOLL_GET | FOLL_PIN | FOLL_REMOTE));
}

long get_user_pages(struct mm_struct *mm, unsigned long start,
		    unsigned long nr_pages, unsigned int gup_flags,
		    struct page **pages)
{
	if (gup_bad_caller_flags(gup_flags & ~FOLL_GET))
		return -EINVAL;
	return gup_locked(mm, start, nr_pages, gup_flags | FOLL_GET, pages);
}

long pin_user_pages(struct mm_struct *mm, unsigned long start,
		    unsigned long nr_pages, unsigned int gup_flags,
		    struct page **pages)
{
	if (gup_bad_caller_flags(gup_flags))
		return -EINVAL;
	return gup_locked(mm, start, nr_pages, gup_flags | FOLL_PIN, pages);
}

long get_user_pages_remote(struct mm_struct *mm, unsigned long start,
			   unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages)
{
	if (gup_bad_caller_flags(gup_flags & ~FOLL_GET))
		return -EINVAL;
	return gup_locked(mm, start, nr_pages,
			  gup_flags | FOLL_GET | FOLL_REMOTE, pages);
}

long pin_user_pages_remote(struct mm_struct *mm, unsigned long start,
			   unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages)
{
	if (gup_bad_caller_flags(gup_flags))
		return -EINVAL;
	return gup_locked(mm, start, nr_pages,
			  gup_flags | FOLL_PIN | FOLL_REMOTE, pages);
}

long get_user_pages_unlocked(struct mm_struct *mm, unsigned long start,
			     unsigned long nr_pages, struct page **pages,
			     unsigned int gup_flags)
{
	if (gup_bad_caller_flags(gup_flags & ~FOLL_GET))
		return -EINVAL;
	return gup_unlocked(mm, start, nr_pages, gup_flags | FOLL_GET, pages);
}

long pin_user_pages_unlocked(struct mm_struct *mm, unsigned long start,
			     unsigned long nr_pages, struct page **pages,
			     unsigned int gup_flags)
{
	if (gup_bad_caller_flags(gup_flags))
		return -EINVAL;
	return gup_unlocked(mm, start, nr_pages, gup_flags | FOLL_PIN, pages);
}
