// SPDX-License-Identifier: MIT
/*
 * memory.c - page faults and zapping at the PTE level, and the walks that
 * reach it.
 *
 * The fault protocol (handle_mm_fault, mmap_lock held for read):
 *
 *   1. walk down, allocating missing tables; at the PUD and PMD levels try
 *      a huge page first (huge_memory.c) and handle present huge leaves;
 *   2. at the PTE level read the entry, decide without the lock what is
 *      needed (a zero page, a new page, a copy), allocate outside the lock,
 *   3. take the PTE lock and re-check that the entry is still the one the
 *      decision was made on (pte_same); if not, drop what was allocated and
 *      return 0: the access retries and sees the new state.
 *
 * COW (do_wp_page): a write to a read-only entry of a writable private VMA.
 * The page is reused when this mm owns it exclusively (PG_anon_exclusive,
 * or an order-0 page nobody else references); otherwise the contents are
 * copied into a new page, and the old entry is cleared and flushed from
 * every TLB *before* the new one is installed (ptep_clear_flush), so no
 * CPU ever holds the old and the new translation at once.
 *
 * Zapping (unmap_page_range): entries are cleared with an atomic exchange,
 * which captures the dirty bit the hardware may be setting concurrently;
 * the mapping is dropped (mapcount, RSS, dirty to the page) under the PTE
 * lock, and the page's reference goes to the mmu_gather, which drops it
 * only after the TLB shootdown.
 *
 * Lock order: mmap_lock -> page_table_lock -> PTE lock -> shmem object lock.
 */
#include <string.h>
#include <mmirror/kthread.h>
#include <mmirror/memremap.h>
#include "base/check_hooks.h"
#include "base/trace.h"
#include "internal.h"

/* --- accounting -------------------------------------------------------------- */

void anon_page_init(struct page *page, struct vm_area_struct *vma,
		    unsigned long addr)
{
	SetPageAnon(page);
	SetPageSwapBacked(page);
	SetPageAnonExclusive(page);
	page->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	/*
	 * The page holds a reference on its anon_vma until it is freed
	 * (free_block drops it): an rmap walker holding a page reference
	 * may then use page->mapping even if every mm of the tree exited.
	 */
	anon_vma_get(vma->vm_mm->anon_vma);
	/* Written before the entry that maps the page is published (release
	 * store), read by rmap walkers after they find it (acquire). */
	WRITE_ONCE(page->mapping, vma->vm_mm->anon_vma);
	/* THPs go on the LRU when allocated (huge_memory.c); device-private
	 * pages never do. */
	if (!PageHead(page) && !PageDevmap(page))
		lru_add(page);
}

static int rss_member(const struct page *page)
{
	return PageAnon(compound_head(page)) ? MM_ANONPAGES : MM_SHMEMPAGES;
}

/* Drop a leaf mapping of @page but the RSS count (the caller batches it). */
static void zap_page_mapping(struct page *page, bool dirty)
{
	struct page *head = compound_head(page);

	/* Test first: most zapped pages are dirty already, and an atomic
	 * RMW per page is a measurable part of munmap (bench_mm). */
	if (dirty && !PageDirty(head))
		SetPageDirty(head);
	atomic_dec(&page->_mapcount);
}

void zap_account(struct vm_area_struct *vma, struct page *page, bool dirty,
		 long nr)
{
	zap_page_mapping(page, dirty);
	add_mm_counter(vma->vm_mm, rss_member(page), -nr);
}

static void zap_rss_commit(struct mm_struct *mm, long *rss)
{
	for (int i = 0; i < NR_MM_COUNTERS; i++)
		if (rss[i])
			add_mm_counter(mm, i, rss[i]);
}

/* Map @page (whose reference the caller transfers) at @ptep, locked. */
static void map_new_page(struct vm_area_struct *vma, pte_t *ptep,
			 unsigned long addr, struct page *page, pte_t entry)
{
	atomic_inc(&page->_mapcount);
	add_mm_counter(vma->vm_mm, rss_member(page), 1);
	set_pte(ptep, entry);
	trace_event(TR_PTE, "pte %#lx := pfn %#lx%s", addr, page_to_pfn(page),
		    pte_write(entry) ? " w" : "");
}

static pte_t pte_for(struct vm_area_struct *vma, struct page *page, bool write)
{
	pte_t entry = pte_mkyoung(mk_pte(page, vma->vm_page_prot));

	if (write)
		entry = pte_mkdirty(pte_mkwrite(entry));
	return entry;
}

/* --- PTE-level faults ----------------------------------------------------------- */

/* Lock the PTE of @vmf again; NULL (nothing held) if it changed. */
static pte_t *vmf_relock(struct vm_fault *vmf, spinlock_t **ptl)
{
	pte_t *pte = pte_offset_map_lock(vmf->vma->vm_mm, vmf->pmd,
					 vmf->address, ptl);

	if (pte && !pte_same(ptep_get(pte), vmf->orig_pte)) {
		pte_unmap_unlock(pte, *ptl);
		return NULL;
	}
	return pte;
}

/* A fault on an empty entry of private memory. */
static vm_fault_t do_anonymous_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	struct page *page = NULL;
	spinlock_t *ptl;
	pte_t *pte;

	if (write) {
		page = alloc_user_page(GFP_KERNEL | __GFP_ZERO);
		if (!page)
			return VM_FAULT_OOM;
		anon_page_init(page, vma, vmf->address);
	}
	pte = vmf_relock(vmf, &ptl);
	if (!pte) {
		if (page)
			__free_page(page);
		return 0;
	}
	if (page) {
		map_new_page(vma, pte, vmf->address, page,
			     pte_for(vma, page, true));
	} else {
		/* Reads of untouched private memory share the zero page. */
		set_pte(pte, pte_mkspecial(pte_wrprotect(pte_mkyoung(mk_pte(
				     ZERO_PAGE(0), vma->vm_page_prot)))));
		trace_event(TR_PTE, "pte %#lx := zero page", vmf->address);
	}
	pte_unmap_unlock(pte, ptl);
	return 0;
}

/* A fault on an empty entry of shared memory: the object's page. */
static vm_fault_t do_shared_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long index =
		vma->vm_pgoff + ((vmf->address - vma->vm_start) >> PAGE_SHIFT);
	bool oom;
	struct page *page = shmem_get_page(vma->vm_shared, index, &oom);
	spinlock_t *ptl;
	pte_t *pte;

	if (!page)
		return oom ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	pte = vmf_relock(vmf, &ptl);
	if (!pte) {
		put_page(page);
		return 0;
	}
	map_new_page(vma, pte, vmf->address, page,
		     pte_for(vma, page, vmf->flags & FAULT_FLAG_WRITE));
	pte_unmap_unlock(pte, ptl);
	return 0;
}

/* Can a write fault take over @page instead of copying it? */
static bool wp_can_reuse(struct page *page)
{
	if (PageAnonExclusive(page))
		return true;
	/*
	 * An order-0 page only this mapping references is ours alone.  The
	 * acquire pairs with the release of the put_page() that dropped the
	 * other mapping (a COW in another mm that was still copying from this
	 * page): our writes must come after its reads.
	 */
	if (!PageHead(page) && !PageTail(page) &&
	    atomic_read_acquire(&page->_refcount) == 1) {
		SetPageAnonExclusive(page);
		return true;
	}
	return false;
}

/*
 * Copy a page that CPUs may still be writing: another CPU of this mm can
 * reuse the page (its other mapping just went away) and store to it while
 * we copy; pte_same() then makes us discard the copy.  Relaxed word-sized
 * atomic loads make that a benign race in the model, as it is on hardware.
 */
void copy_user_page(struct page *dst, struct page *src)
{
	u64 *d = page_address(dst), *s = page_address(src);

	/* The oracle copies the bytes and their shadow as one step. */
	if (check_hook_copy_page(dst, src))
		return;
	for (size_t i = 0; i < PAGE_SIZE / sizeof(u64); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/* Break COW: copy into a new page, clear+flush the old entry, install. */
static vm_fault_t wp_page_copy(struct vm_fault *vmf, struct page *old)
{
	struct vm_area_struct *vma = vmf->vma;
	struct page *new = alloc_user_page(GFP_KERNEL | (old ? 0 : __GFP_ZERO));
	struct mmu_notifier_range range;
	spinlock_t *ptl;
	pte_t *pte, prev;

	if (!new)
		return VM_FAULT_OOM;
	if (old)
		copy_user_page(new, old);
	anon_page_init(new, vma, vmf->address);
	/* Secondary MMUs drop the old page before the entry changes. */
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm,
				vmf->address, vmf->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	pte = vmf_relock(vmf, &ptl);
	if (!pte) {
		mmu_notifier_invalidate_range_end(&range);
		__free_page(new);
		return 0;
	}
	prev = ptep_get_and_clear(pte);
	flush_tlb_page(vma, vmf->address);
	if (old)
		zap_account(vma, old, pte_dirty(prev), 1);
	trace_event(TR_PTE, "pte %#lx cow: clear", vmf->address);
	map_new_page(vma, pte, vmf->address, new, pte_for(vma, new, true));
	pte_unmap_unlock(pte, ptl);
	mmu_notifier_invalidate_range_end(&range);
	/* The old mapping's reference, after the flush. */
	if (old)
		put_page(old);
	return 0;
}

/*
 * Decide under the PTE lock: reuse in place, or copy.  A copy is made from
 * a page we hold a reference on, taken under the lock: once the lock is
 * dropped, another CPU's COW or a MADV_DONTNEED may unmap the page, and
 * without our reference it could be freed and reused while we copy it.
 */
static vm_fault_t do_wp_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct page *page = vm_normal_page_val(pte_val(vmf->orig_pte));
	spinlock_t *ptl;
	vm_fault_t ret;
	pte_t *pte = vmf_relock(vmf, &ptl);

	if (!pte)
		return 0;
	if (vma->vm_shared || (page && wp_can_reuse(page))) {
		/* Upgrading needs no flush; cmpxchg keeps hardware A/D. */
		ptep_cmpxchg(
			pte, &vmf->orig_pte,
			pte_mkyoung(pte_mkdirty(pte_mkwrite(vmf->orig_pte))));
		pte_unmap_unlock(pte, ptl);
		return 0;
	}
	if (page)
		get_page(page);
	pte_unmap_unlock(pte, ptl);
	ret = wp_page_copy(vmf, page);
	if (page)
		put_page(page);
	return ret;
}

/* A present entry: COW, a stale PROT_NONE, or only accessed/dirty. */
static vm_fault_t do_present_fault(struct vm_fault *vmf)
{
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	pte_t entry = vmf->orig_pte, new;
	spinlock_t *ptl;
	pte_t *pte;

	if (pte_protnone(entry))
		entry = pte_modify(entry, vmf->vma->vm_page_prot);
	if (write && !pte_write(entry))
		return do_wp_page(vmf);
	new = pte_mkyoung(write ? pte_mkdirty(entry) : entry);
	if (pte_same(new, vmf->orig_pte))
		return 0; /* spurious: another CPU already fixed it */
	pte = vmf_relock(vmf, &ptl);
	if (pte) {
		ptep_cmpxchg(pte, &vmf->orig_pte, new);
		pte_unmap_unlock(pte, ptl);
	}
	return 0;
}

/*
 * A software (swap-type) entry: the one dispatch on its type.  Migration,
 * device-private and device-exclusive entries plug in here.
 */
/*
 * After migrate_to_ram() returned 0 (our lock and reference dropped): did
 * the page move, is the entry gone?  Then VM_FAULT_MAJOR: progress for
 * the CPU's retry bound (cpu.c), like a swap-in, even if the device takes
 * the page again before the access retries (Linux counts no major fault).
 *
 * If it did not move, what stopped it is another thread's business: a
 * reference it holds for a moment (a migration finishing, another fault)
 * or a lock of another mm that maps the page (its exit, a fork, an
 * munmap hold it for write; migrate.c only trylocks it).  The access
 * retries for as long as that lasts, as in Linux (which retries such a
 * fault for ever): we yield and report progress so the CPU's bound, meant
 * for faults that fix nothing, does not fire.  The explorer is told
 * SP_SPIN when a foreign reference is still there - the test and the
 * spin have no schedule point between them, so its holder cannot have
 * let go in between (a false deadlock).  The counts are read without the
 * PTE lock: the struct page stays, and a wrong guess costs a retry.
 */
static vm_fault_t device_private_progress(struct vm_fault *vmf,
					  struct page *page)
{
	spinlock_t *ptl;
	pte_t *pte = vmf_relock(vmf, &ptl);

	if (!pte)
		return VM_FAULT_MAJOR;
	pte_unmap_unlock(pte, ptl);
	if (page_ref_count(page) > page_mapcount(page))
		sched_point(SP_SPIN, page);
	cond_resched();
	return VM_FAULT_MAJOR;
}

/*
 * A CPU touched a device-private entry: the page's driver moves it back to
 * system memory (ops->migrate_to_ram) and the access retries.  As the
 * kernel's do_swap_page: the page is referenced under the PTE lock (the
 * entry's reference keeps it until then) and locked by trylock.  A page
 * already locked is being migrated by someone else: we drop our reference
 * (it would fail that migration's refcount check) and wait for the lock
 * rather than spin (the kernel returns and refaults at once); the retry
 * then sees the new entry.  The struct page outlives any reuse of the
 * frame (page.h), so the wait is safe without the reference; a reuse
 * meanwhile only costs a spurious wakeup.
 */
static vm_fault_t do_device_private_fault(struct vm_fault *vmf)
{
	swp_entry_t entry = pte_to_swp_entry(vmf->orig_pte);
	struct page *page = pfn_swap_entry_to_page(entry);
	vm_fault_t ret;
	spinlock_t *ptl;
	pte_t *pte = vmf_relock(vmf, &ptl);

	if (!pte)
		return 0;
	get_page(page);
	pte_unmap_unlock(pte, ptl);
	if (!trylock_page(page)) {
		put_page(page);
		wait_on_page_locked(page);
		return 0;
	}
	vmf->page = page;
	/* Our reference keeps the page, and so its pgmap, alive. */
	ret = page->pgmap->ops->migrate_to_ram(vmf);
	unlock_page(page);
	put_page(page);
	return ret ? ret : device_private_progress(vmf, page);
}

static vm_fault_t do_nonpresent_fault(struct vm_fault *vmf)
{
	swp_entry_t entry = pte_to_swp_entry(vmf->orig_pte);

	switch (swp_type(entry)) {
	case SWP_SWAPFILE:
		if (WARN_ON_ONCE(vmf->vma->vm_shared))
			return VM_FAULT_SIGBUS;
		return do_swap_page(vmf->vma, vmf->pmd, vmf->address,
				    vmf->flags, vmf->orig_pte);
	case SWP_MIGRATION_READ:
	case SWP_MIGRATION_WRITE:
		return migration_entry_wait(vmf->vma, vmf->pmd, vmf->address,
					    vmf->orig_pte);
	case SWP_DEVICE_EXCLUSIVE:
		return remove_device_exclusive_entry(
			vmf->vma, vmf->pmd, vmf->address, vmf->orig_pte);
	case SWP_DEVICE_PRIVATE_READ:
	case SWP_DEVICE_PRIVATE_WRITE:
		return do_device_private_fault(vmf);
	default:
		WARN_ON_ONCE(1);
		return VM_FAULT_SIGBUS;
	}
}

/*
 * A none entry.  A device-memory (VM_MIXEDMAP) VMA is populated when it
 * is mapped (memremap_map.c) and has no fault handler: a none entry there
 * means the device memory is gone (removed, or zapped by DONTNEED), so
 * the access gets SIGBUS, as a device-dax fault past removal does.
 */
static vm_fault_t do_none_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;

	if (vma->vm_flags & VM_MIXEDMAP)
		return VM_FAULT_SIGBUS;
	return vma->vm_shared ? do_shared_fault(vmf) : do_anonymous_page(vmf);
}

static vm_fault_t handle_pte_fault(struct vm_fault *vmf)
{
	struct mm_struct *mm = vmf->vma->vm_mm;
	pte_t *pte;

	if (pte_alloc(mm, vmf->pmd))
		return VM_FAULT_OOM;
	pte = pte_offset_map(vmf->pmd, vmf->address);
	if (!pte)
		return 0; /* a huge leaf appeared: retry */
	vmf->orig_pte = ptep_get(pte);
	pte_unmap(pte);
	if (pte_none(vmf->orig_pte))
		return do_none_fault(vmf);
	if (pte_present(vmf->orig_pte))
		return do_present_fault(vmf);
	return do_nonpresent_fault(vmf);
}

/* --- the walk down ------------------------------------------------------------- */

static vm_fault_t __handle_mm_fault(struct vm_area_struct *vma,
				    unsigned long address, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct vm_fault vmf = { .vma = vma,
				.address = address,
				.flags = flags };
	pgd_t *pgd = pgd_offset(mm, address);
	p4d_t *p4d = p4d_alloc(mm, pgd, address);
	vm_fault_t ret;
	pud_t *pud, pudval;
	pmd_t pmdval;

	if (!p4d || !(pud = pud_alloc(mm, p4d, address)))
		return VM_FAULT_OOM;
	if (pud_none(pudp_get(pud)) &&
	    thp_vma_suitable(vma, address, HPAGE_PUD_ORDER)) {
		ret = do_huge_pud_anonymous_page(vma, pud, address, flags);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	/*
	 * Another fault may turn the PUD into a huge leaf at any moment:
	 * install a PMD table only if it is still none, then decide on ONE
	 * snapshot and descend through it (never re-read it: seed 001).
	 */
	if (pud_none(pudp_get(pud)) && __pmd_alloc(mm, pud, address))
		return VM_FAULT_OOM;
	pudval = pudp_get(pud);
	if (pud_leaf(pudval))
		return huge_pud_fault(vma, pud, address, flags);
	if (!pud_present(pudval))
		return VM_FAULT_SIGBUS;
	vmf.pmd = pud_pgtable(pudval) + pmd_index(address);
	if (pmd_none(pmdp_get(vmf.pmd)) &&
	    thp_vma_suitable(vma, address, HPAGE_PMD_ORDER)) {
		ret = do_huge_pmd_anonymous_page(vma, vmf.pmd, address, flags);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	pmdval = pmdp_get(vmf.pmd);
	if (pmd_leaf(pmdval))
		return huge_pmd_fault(vma, vmf.pmd, address, flags);
	if (!pmd_none(pmdval) && !pmd_present(pmdval))
		return VM_FAULT_SIGBUS; /* PMD migration entries: later */
	return handle_pte_fault(&vmf);
}

vm_fault_t handle_mm_fault(struct vm_area_struct *vma, unsigned long address,
			   unsigned int flags)
{
	if (WARN_ON(!vma || (flags & ~FAULT_FLAG_KNOWN)))
		return VM_FAULT_SIGSEGV;
	mmap_assert_locked(vma->vm_mm);
	trace_event(TR_FAULT, "fault %#lx%s", address,
		    flags & FAULT_FLAG_WRITE ? " w" : "");
	if (address < vma->vm_start || address >= vma->vm_end)
		return VM_FAULT_SIGSEGV;
	if (!vma_access_permitted(vma, flags))
		return VM_FAULT_SIGSEGV;
	return __handle_mm_fault(vma, address & PAGE_MASK, flags);
}

/* --- populate --------------------------------------------------------------------- */

int populate_vma_range(struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, bool write)
{
	unsigned int flags = write ? FAULT_FLAG_WRITE : 0;
	unsigned long addr = start;
	int tries = 0;

	if (!(vma->vm_flags & (write ? VM_WRITE : VM_ACCESS_FLAGS)))
		return 0; /* Linux skips PROT_NONE (and read-only) ranges */
	while (addr < end) {
		struct pt_snapshot s;
		vm_fault_t ret;

		pt_walk_snapshot(vma->vm_mm, addr, &s);
		if (pt_snapshot_maps(&s) &&
		    (!write || (s.path & s.entry & _PAGE_RW))) {
			addr = (addr | ((1UL << s.shift) - 1)) + 1;
			tries = 0;
			continue;
		}
		if (WARN_ON(++tries > 16))
			return -EFAULT;
		ret = handle_mm_fault(vma, addr, flags);
		if (ret & VM_FAULT_OOM)
			return -ENOMEM;
		if (ret & VM_FAULT_ERROR)
			return -EFAULT;
	}
	return 0;
}

/* --- zapping ----------------------------------------------------------------------- */

/* Drop a software entry (PTE lock held): the dispatch on its type. */
static void zap_nonpresent_pte(pte_t old, long *rss)
{
	swp_entry_t entry = pte_to_swp_entry(old);

	switch (swp_type(entry)) {
	case SWP_SWAPFILE:
		free_swap_and_cache(entry);
		rss[MM_SWAPENTS]--;
		break;
	case SWP_MIGRATION_READ:
	case SWP_MIGRATION_WRITE:
		/* The migrator holds the page and dropped the mapping's
		 * reference and mapcount; only the RSS it kept is ours. */
		rss[rss_member(pfn_swap_entry_to_page(entry))]--;
		break;
	case SWP_DEVICE_EXCLUSIVE:
	case SWP_DEVICE_PRIVATE_READ:
	case SWP_DEVICE_PRIVATE_WRITE: {
		/*
		 * The entry holds the mapping's mapcount and reference, as
		 * a present PTE does.  No TLB holds it, so the reference
		 * goes now, not through the gather (a device-private page
		 * then goes back to its driver: memremap.c).
		 */
		struct page *page = pfn_swap_entry_to_page(entry);

		zap_page_mapping(page, false);
		rss[rss_member(page)]--;
		put_page(page);
		break;
	}
	default:
		WARN_ON_ONCE(1);
		break;
	}
}

static void zap_pte_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			  pmd_t *pmd, unsigned long addr, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	long rss[NR_MM_COUNTERS];
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

again:
	start_pte = pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return;
	memset(rss, 0, sizeof(rss)); /* one RSS update per table, not page */
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		struct page *page;
		pte_t old;

		if (pte_none(ptep_get(pte)))
			continue;
		if (tlb_batch_full(tlb)) {
			/* The flush may sleep: not under the PTE lock. */
			zap_rss_commit(mm, rss);
			pte_unmap_unlock(start_pte, ptl);
			tlb_flush_mmu(tlb);
			goto again;
		}
		old = ptep_get_and_clear(pte);
		trace_event(TR_PTE, "pte %#lx zap", addr);
		tlb_flush_pte_range(tlb, addr, PAGE_SIZE);
		if (!pte_present(old)) {
			zap_nonpresent_pte(old, rss);
			continue;
		}
		page = vm_normal_page_val(pte_val(old));
		if (!page)
			continue;
		zap_page_mapping(page, pte_dirty(old));
		rss[rss_member(page)]--;
		tlb_remove_page(tlb, page);
	}
	zap_rss_commit(mm, rss);
	pte_unmap_unlock(start_pte, ptl);
}

static void zap_pmd_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			  pud_t *pud, unsigned long addr, unsigned long end)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	unsigned long next;

	do {
		pmd_t val = pmdp_get(pmd);

		next = pmd_addr_end(addr, end);
		if (pmd_none(val))
			continue;
		if (pmd_leaf(val)) {
			if (next - addr == PMD_SIZE) {
				zap_huge_pmd(tlb, vma, pmd, addr);
				continue;
			}
			split_huge_pmd(vma, pmd, addr);
		}
		zap_pte_range(tlb, vma, pmd, addr, next);
	} while (pmd++, addr = next, addr != end);
}

static void zap_pud_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			  p4d_t *p4d, unsigned long addr, unsigned long end)
{
	pud_t *pud = pud_offset(p4d, addr);
	unsigned long next;

	do {
		pud_t val = pudp_get(pud);

		next = pud_addr_end(addr, end);
		if (pud_none(val))
			continue;
		if (pud_leaf(val)) {
			if (next - addr == PUD_SIZE) {
				zap_huge_pud(tlb, vma, pud, addr);
				continue;
			}
			split_huge_pud(vma, pud, addr);
		}
		zap_pmd_range(tlb, vma, pud, addr, next);
	} while (pud++, addr = next, addr != end);
}

static void zap_p4d_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			  pgd_t *pgd, unsigned long addr, unsigned long end)
{
	p4d_t *p4d = p4d_offset(pgd, addr);
	unsigned long next;

	do {
		next = p4d_addr_end(addr, end);
		if (p4d_none(p4dp_get(p4d)))
			continue;
		zap_pud_range(tlb, vma, p4d, addr, next);
	} while (p4d++, addr = next, addr != end);
}

void unmap_page_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
		      unsigned long addr, unsigned long end)
{
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);
	unsigned long next;

	if (WARN_ON(addr < vma->vm_start || end > vma->vm_end || addr >= end))
		return;
	do {
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgdp_get(pgd)))
			continue;
		zap_p4d_range(tlb, vma, pgd, addr, next);
	} while (pgd++, addr = next, addr != end);
}

/* --- building mappings by hand ------------------------------------------------------ */

#define PROT_KNOWN_BITS                                           \
	(_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_RW | _PAGE_USER | \
	 _PAGE_ACCESSED | _PAGE_DIRTY)

static bool prot_valid(pgprot_t prot)
{
	u64 v = pgprot_val(prot);

	if (v & ~PROT_KNOWN_BITS)
		return false;
	/* Exactly one of present / protnone. */
	return !(v & _PAGE_PRESENT) != !(v & _PAGE_PROTNONE);
}

/* Walk to the PMD for @addr, allocating missing levels. */
static pmd_t *walk_alloc_pmd(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d = p4d_alloc(mm, pgd, addr);
	pud_t *pud;

	if (!p4d)
		return NULL;
	pud = pud_alloc(mm, p4d, addr);
	if (!pud)
		return NULL;
	return pmd_alloc(mm, pud, addr);
}

pte_t *walk_alloc_pte_lock(struct mm_struct *mm, unsigned long addr,
			   spinlock_t **ptl, int *err)
{
	pmd_t *pmd = walk_alloc_pmd(mm, addr);
	pte_t *pte;

	*err = -ENOMEM;
	if (!pmd)
		return NULL;
	pte = pte_alloc_map_lock(mm, pmd, addr, ptl);
	/* -ENOMEM, or a huge leaf already maps @addr. */
	if (!pte && pmd_leaf(pmdp_get(pmd)))
		*err = -EBUSY;
	return pte;
}

int mm_map_page(struct mm_struct *mm, unsigned long addr, struct page *page,
		pgprot_t prot)
{
	spinlock_t *ptl;
	pte_t *pte, entry;
	bool zero;
	int err;

	if (!mm || !page || PageTail(page) || !pfn_valid(page_to_pfn(page)) ||
	    !IS_ALIGNED(addr, PAGE_SIZE) || addr >= mm->task_size ||
	    !prot_valid(prot))
		return -EINVAL;
	pte = walk_alloc_pte_lock(mm, addr, &ptl, &err);
	if (!pte)
		return err;
	if (!pte_none(ptep_get(pte))) {
		pte_unmap_unlock(pte, ptl);
		return -EBUSY;
	}
	zero = is_zero_pfn(page_to_pfn(page));
	entry = mk_pte(page, prot);
	if (zero) {
		entry = pte_wrprotect(pte_mkspecial(entry));
	} else {
		get_page(page);
		atomic_inc(&page->_mapcount);
		add_mm_counter(mm, MM_ANONPAGES, 1);
	}
	set_pte(pte, entry);
	pte_unmap_unlock(pte, ptl);
	return 0;
}

int follow_pte_pfn(struct mm_struct *mm, unsigned long addr, unsigned long *pfn,
		   u64 *entry)
{
	struct pt_snapshot s;

	if (!mm || !pfn || !entry || addr >= mm->task_size)
		return -EINVAL;
	pt_walk_snapshot(mm, addr, &s);
	/* The frame of a device entry is still this va's (exclusive.c). */
	if (s.shift == PAGE_SHIFT && device_entry_follow(s.entry, pfn, entry))
		return 0;
	/* PROT_NONE leaves are present to software: report them too. */
	if (!(s.entry & (_PAGE_PRESENT | _PAGE_PROTNONE)) ||
	    !(s.shift == PAGE_SHIFT || (s.entry & _PAGE_PSE)))
		return -ENOENT;
	*pfn = pt_snapshot_pfn(&s, addr);
	*entry = s.entry;
	return 0;
}
