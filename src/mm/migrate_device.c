// SPDX-License-Identifier: MIT
/*
 * migrate_device.c - moving anonymous pages between system memory and
 * device-private memory: migrate_vma_setup/pages/finalize and
 * migrate_device_range/pages/finalize (include/mmirror/migrate.h,
 * docs/devmem.md).  Built on migrate.c's steps (migrate_internal.h).
 *
 * THE PROTOCOL, per page (the driver's part in brackets):
 *
 *   setup      collect: under the PTE lock, read the entry and take a
 *              reference (the mapping's keeps the page alive meanwhile);
 *              trylock the page (the fault path already holds a
 *              fault_page);
 *              unmap: migrate.c's steps 1-3 - every mapping of the page
 *              (present PTE or device-private entry) becomes a migration
 *              entry inside a one-page MMU_NOTIFY_MIGRATE invalidation
 *              whose owner is pgmap_owner, then the page must be ours
 *              alone (no mapping, our reference, the fault path's); else
 *              the entries are restored and src[i] = 0;
 *   [copy]     the driver allocates a locked destination and copies: no
 *              CPU and no device can reach the source now (the entries are
 *              migration entries, every device dropped its translation in
 *              the invalidation), so the copy is complete;
 *   pages      the destination takes the source's identity (anon_vma,
 *              index, flags); holes get their destination mapped;
 *   finalize   migration entries become entries of the destination (of
 *              the source if it did not move); the sources are unlocked
 *              and our references dropped: a moved source is freed (a
 *              device-private one goes back to its driver).
 *
 * Between setup and finalize, the state of a collected page (the mms whose
 * mmap_lock we hold, where its entries are) hangs on the locked source
 * page (page->migration); the kernel walks the reverse map again instead,
 * which mmirror cannot do without those locks (migrate.c's file comment).
 *
 * Deviations: every page gets its own MIGRATE invalidation (the kernel
 * brackets the caller's range once in the collect and each page's other
 * mappings in try_to_migrate).  A THP is split first (huge_split.c), as
 * Linux does; a PUD leaf or a THP that cannot be split is skipped.
 *
 * Lock order: mmap_lock (the caller's, read) -> page locks (trylock, in
 * address order) -> other mms' mmap_lock (trylock) -> notifier callbacks
 * (driver locks) -> PTE lock.
 */
#include <string.h>
#include <mmirror/memremap.h>
#include <mmirror/migrate.h>
#include "base/trace.h"
#include "internal.h"
#include "huge_split.h"
#include "migrate_internal.h"

/* ==== setup: collect ======================================================= */

static bool migrate_vma_args_ok(const struct migrate_vma *a)
{
	const struct vm_area_struct *vma = a->vma;

	if (!vma || !a->src || !a->dst || vma->vm_shared ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP)))
		return false;
	if (!IS_ALIGNED(a->start, PAGE_SIZE) ||
	    !IS_ALIGNED(a->end, PAGE_SIZE) || a->start >= a->end ||
	    a->start < vma->vm_start || a->end > vma->vm_end)
		return false;
	return !a->fault_page || (is_device_private_page(a->fault_page) &&
				  PageLocked(a->fault_page));
}

/* The src word of a present PTE @v (PTE lock held); *@pagep to reference. */
static unsigned long collect_present(const struct migrate_vma *a, pte_t v,
				     struct page **pagep)
{
	struct page *page = vm_normal_page_val(pte_val(v));

	if (!(a->flags & MIGRATE_VMA_SELECT_SYSTEM))
		return 0;
	/* The zero page is a hole with something in it. */
	if (!page)
		return is_zero_pfn(pte_pfn(v)) ? MIGRATE_PFN_MIGRATE : 0;
	if (PageHead(page) || PageTail(page) || PageDevmap(page) ||
	    !PageAnon(page))
		return 0;
	*pagep = page;
	return migrate_pfn(page_to_pfn(page)) | MIGRATE_PFN_MIGRATE |
	       (pte_write(v) ? MIGRATE_PFN_WRITE : 0);
}

/* The src word of a software entry @v; *@pagep to reference. */
static unsigned long collect_swap(const struct migrate_vma *a, pte_t v,
				  struct page **pagep)
{
	swp_entry_t e = pte_to_swp_entry(v);
	struct page *page;

	if (!is_device_private_entry(e) ||
	    !(a->flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE))
		return 0;
	page = pfn_swap_entry_to_page(e);
	/* Stable under the PTE lock: the entry holds a reference. */
	if (page->pgmap->owner != a->pgmap_owner)
		return 0;
	*pagep = page;
	return migrate_pfn(page_to_pfn(page)) | MIGRATE_PFN_MIGRATE |
	       (is_writable_device_private_entry(e) ? MIGRATE_PFN_WRITE : 0);
}

/*
 * A huge leaf maps @pmd's range: split the THP so its pages can move one
 * by one, as Linux's migrate_vma_collect_pmd() does.  No lock held; the
 * leaf is read once, its head referenced (the reference count says
 * whether it is still in use) and trylocked.  True if the range is now
 * mapped by a PTE table.
 */
static bool collect_split(const struct migrate_vma *a, pmd_t *pmd)
{
	pmd_t v = pmdp_get(pmd);
	struct page *head;
	int ret;

	if (!(a->flags & MIGRATE_VMA_SELECT_SYSTEM) || !pmd_present(v) ||
	    !pmd_leaf(v))
		return false;
	head = pfn_to_page(pmd_pfn(v));
	if (!PageHead(head) || !get_page_unless_zero(head))
		return false;
	ret = -EBUSY;
	if (trylock_page(head)) {
		ret = split_huge_page(head);
		unlock_page(head);
	}
	put_page(head);
	return !ret;
}

/*
 * The src word for @addr, and in *@pagep the page it names, referenced
 * (NULL for holes and skipped entries).  Takes and drops the PTE lock.
 */
static unsigned long collect_one(const struct migrate_vma *a,
				 unsigned long addr, struct page **pagep)
{
	struct mm_struct *mm = a->vma->vm_mm;
	pmd_t *pmd = mm_find_pmd(mm, addr);
	unsigned long mpfn;
	spinlock_t *ptl;
	pte_t *pte, v;

	*pagep = NULL;
	if (!pmd) {
		struct pt_snapshot snap;

		/* No PMD table: a hole, unless a PUD leaf maps it. */
		pt_walk_snapshot(mm, addr, &snap);
		return snap.entry ? 0 : MIGRATE_PFN_MIGRATE;
	}
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte && collect_split(a, pmd))
		pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte) /* a hole, or a huge leaf that stays (pinned, busy) */
		return pmd_none(pmdp_get(pmd)) ? MIGRATE_PFN_MIGRATE : 0;
	v = ptep_get(pte);
	if (pte_none(v))
		mpfn = MIGRATE_PFN_MIGRATE;
	else if (pte_present(v))
		mpfn = collect_present(a, v, pagep);
	else
		mpfn = collect_swap(a, v, pagep);
	/* The entry's reference keeps the page until ours is taken. */
	if (*pagep)
		get_page(*pagep);
	pte_unmap_unlock(pte, ptl);
	return mpfn;
}

/* Drop what collect_one() and the page lock gave us. */
static void collect_drop(struct page *page, struct page *fault_page,
			 bool locked)
{
	if (locked && page != fault_page)
		unlock_page(page);
	put_page(page);
}

/*
 * Lock @page (referenced) and unmap it; on any failure everything is
 * undone and 0 returned, else @mpfn.
 */
static unsigned long unmap_collected(struct page *page, unsigned long mpfn,
				     struct mm_struct *held, void *owner,
				     struct page *fault_page)
{
	int expected = page == fault_page ? 2 : 1; /* ours + the fault's */
	struct migration *m;
	int ret = -ENOMEM;

	/* Trylock: we may hold other pages' locks already (kernel rule). */
	if (page != fault_page && !trylock_page(page)) {
		collect_drop(page, fault_page, false);
		return 0;
	}
	/* ->private (the swap cache) changes only under the page lock. */
	if (page_in_swapcache(page) || folio_pincount(page) > 0) {
		collect_drop(page, fault_page, true);
		return 0;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (m) {
		m->old = page;
		m->owner = owner;
		m->held = held;
		ret = migrate_unmap(m);
		if (!ret && !migrate_refs_frozen(m, expected))
			ret = -EBUSY; /* a reference in flight */
	}
	if (!ret) {
		page->migration = m; /* ours while the page is locked */
		return mpfn;
	}
	if (m) {
		migrate_remap(m, page);
		migrate_release(m);
		kfree(m);
	}
	collect_drop(page, fault_page, true);
	/*
	 * Another thread holds the page for a moment (a fault between its
	 * get_page and its trylock, a COW copying it, a finalize about to
	 * drop its reference): the caller's retry needs that thread's next
	 * step.  Said to the explorer once we hold nothing of the page, and
	 * only if the reference is still there - no schedule point between
	 * the test and the spin, so its holder cannot have let go meanwhile
	 * (that would be a false deadlock).  The fault path's own reference
	 * on fault_page is not somebody else's.
	 */
	if (ret == -EBUSY &&
	    page_ref_count(page) > page_mapcount(page) + (page == fault_page))
		sched_point(SP_SPIN, page);
	return 0;
}

int migrate_vma_setup(struct migrate_vma *a)
{
	unsigned long addr;

	if (!a || !migrate_vma_args_ok(a))
		return -EINVAL;
	mmap_assert_locked(a->vma->vm_mm);
	a->npages = (a->end - a->start) >> PAGE_SHIFT;
	a->cpages = 0;
	memset(a->dst, 0, a->npages * sizeof(*a->dst));
	for (unsigned long i = 0; i < a->npages; i++) {
		struct page *page;
		unsigned long mpfn;

		addr = a->start + (i << PAGE_SHIFT);
		mpfn = collect_one(a, addr, &page);
		if (page)
			mpfn = unmap_collected(page, mpfn, a->vma->vm_mm,
					       a->pgmap_owner, a->fault_page);
		a->src[i] = mpfn;
		if (mpfn & MIGRATE_PFN_MIGRATE)
			a->cpages++;
	}
	trace_event(TR_PTE, "migrate_vma_setup %#lx-%#lx: %lu of %lu", a->start,
		    a->end, a->cpages, a->npages);
	return 0;
}

/* ==== pages ================================================================ */

/* The entry that maps @new, a destination for a hole, at @addr. */
static pte_t hole_entry(struct vm_area_struct *vma, struct page *new)
{
	bool write = vma->vm_flags & VM_WRITE;
	pte_t pte;

	if (is_device_private_page(new))
		return swp_entry_to_pte(
			swp_entry(write ? SWP_DEVICE_PRIVATE_WRITE :
					  SWP_DEVICE_PRIVATE_READ,
				  page_to_pfn(new)));
	pte = pte_mkyoung(mk_pte(new, vma->vm_page_prot));
	return write ? pte_mkdirty(pte_mkwrite(pte)) : pte;
}

/*
 * Map @new (locked, the driver's reference) at the hole @addr if it is
 * still none or the zero page (the kernel's migrate_vma_insert_page).
 * The mapping takes its own reference and mapcount.
 */
static bool insert_hole_locked(struct vm_area_struct *vma, unsigned long addr,
			       struct page *new)
{
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pte_t *pte, v;
	int err;

	pte = walk_alloc_pte_lock(mm, addr, &ptl, &err);
	if (!pte)
		return false;
	v = ptep_get(pte);
	if (!pte_none(v) && !(pte_present(v) && is_zero_pfn(pte_pfn(v)))) {
		pte_unmap_unlock(pte, ptl);
		return false;
	}
	if (!pte_none(v)) {
		ptep_get_and_clear(pte);
		flush_tlb_page(vma, addr);
	}
	get_page(new);
	atomic_inc(&new->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, 1);
	/* Release store: walkers that see it see the page's identity. */
	set_pte(pte, hole_entry(vma, new));
	pte_unmap_unlock(pte, ptl);
	trace_event(TR_PTE, "pte %#lx := %s %#lx (hole filled)", addr,
		    is_device_private_page(new) ? "device-private" : "pfn",
		    page_to_pfn(new));
	return true;
}

static bool insert_hole(struct migrate_vma *a, unsigned long addr,
			struct page *new)
{
	struct mmu_notifier_range range;
	bool done;

	if (PageDevmap(new) && !is_device_private_page(new))
		return false;
	/* Before the entry is published; undone by the free if it fails. */
	anon_page_init(new, a->vma, addr);
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_MIGRATE, 0,
				      a->vma->vm_mm, addr, addr + PAGE_SIZE,
				      a->pgmap_owner);
	mmu_notifier_invalidate_range_start(&range);
	done = insert_hole_locked(a->vma, addr, new);
	mmu_notifier_invalidate_range_end(&range);
	return done;
}

void migrate_device_pages(unsigned long *src, unsigned long *dst,
			  unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *page = migrate_pfn_to_page(src[i]);
		struct page *new = migrate_pfn_to_page(dst[i]);

		if (!page || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		/* Only device-private or system pages take an identity. */
		if (!new || WARN_ON(!PageLocked(new)) ||
		    (PageDevmap(new) && !is_device_private_page(new))) {
			src[i] &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		migrate_page_state(new, page);
		/* A device may have written it: nothing else holds the
		 * bytes, so a clean system copy would be a lie. */
		if (is_device_private_page(page))
			SetPageDirty(new);
		((struct migration *)page->migration)->new = new;
	}
}

void migrate_vma_pages(struct migrate_vma *a)
{
	if (!a)
		return;
	for (unsigned long i = 0; i < a->npages; i++) {
		struct page *new = migrate_pfn_to_page(a->dst[i]);
		unsigned long addr = a->start + (i << PAGE_SHIFT);

		if (migrate_pfn_to_page(a->src[i]) ||
		    !(a->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!new || !insert_hole(a, addr, new))
			a->src[i] &= ~MIGRATE_PFN_MIGRATE;
	}
	migrate_device_pages(a->src, a->dst, a->npages);
}

/* ==== finalize ============================================================= */

/*
 * Unlock @page and drop a reference the migration held (the driver's on a
 * destination, ours on a source that stayed).  While it still maps
 * somewhere the reference goes first: whoever takes the lock next (a CPU
 * fault's migrate_to_ram) then finds only the mappings' references and
 * can migrate it.  The kernel unlocks first, and such a fault fails its
 * refcount check and refaults.  The last reference goes after the unlock:
 * a freed page must not be locked.
 */
static void unlock_put(struct page *page, bool locked)
{
	if (!atomic_add_unless(&page->_refcount, -1, 1)) {
		if (locked)
			unlock_page(page);
		put_page(page);
		return;
	}
	if (locked)
		unlock_page(page);
}

static void finalize_dst(struct page *new)
{
	unlock_put(new, true); /* the driver's; the mappings keep theirs */
}

static void finalize(unsigned long *src, unsigned long *dst,
		     unsigned long npages, struct page *fault_page)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *page = migrate_pfn_to_page(src[i]);
		struct page *new = migrate_pfn_to_page(dst[i]);
		struct migration *m;

		if (!page) {
			if (new)
				finalize_dst(new);
			continue;
		}
		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !new) {
			if (new)
				finalize_dst(new);
			new = page;
		}
		m = page->migration;
		page->migration = NULL;
		migrate_remap(m, new);
		migrate_release(m);
		kfree(m);
		/* Ours: frees a page that moved. */
		unlock_put(page, page != fault_page);
		if (new != page)
			finalize_dst(new);
	}
}

void migrate_vma_finalize(struct migrate_vma *a)
{
	if (a)
		finalize(a->src, a->dst, a->npages, a->fault_page);
}

void migrate_device_finalize(unsigned long *src, unsigned long *dst,
			     unsigned long npages)
{
	finalize(src, dst, npages, NULL);
}

/* ==== migrate_device_range ================================================ */

int migrate_device_range(unsigned long *src, unsigned long start,
			 unsigned long npages)
{
	if (!src || !npages || !pfn_valid(start) ||
	    !pfn_valid(start + npages - 1))
		return -EINVAL;
	/* PG_devmap and ->pgmap stay while the pgmap lives (the caller's). */
	for (unsigned long i = 0; i < npages; i++)
		if (WARN_ON(!is_device_private_page(pfn_to_page(start + i))))
			return -EINVAL;
	for (unsigned long i = 0; i < npages; i++) {
		struct page *page = pfn_to_page(start + i);

		src[i] = 0;
		/* A free page has nothing to move. */
		if (!get_page_unless_zero(page))
			continue;
		src[i] = unmap_collected(
			page, migrate_pfn(start + i) | MIGRATE_PFN_MIGRATE,
			NULL, NULL, NULL);
	}
	return 0;
}

/* ==== helpers for drivers ================================================== */

void copy_highpage(struct page *dst, struct page *src)
{
	copy_user_page(dst, src);
}

struct page *alloc_page_vma(gfp_t gfp, struct vm_area_struct *vma,
			    unsigned long addr)
{
	(void)vma; /* one node: no policy to follow */
	(void)addr;
	return alloc_user_page(gfp);
}
