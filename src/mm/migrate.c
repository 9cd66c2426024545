// SPDX-License-Identifier: MIT
/*
 * migrate.c - move an order-0 anonymous page to a new frame while it stays
 * mapped, with migration entries (docs/migrate.md).
 *
 * THE PROTOCOL (migrate_one, the page locked and referenced by us):
 *
 *   1. collect every (mm, address) that may map the page through the
 *      reverse map, and take each mm's mmap_lock for read - by trylock:
 *      the page lock ranks below mmap_lock, and a fault holding an
 *      mmap_lock may be waiting for our page lock;
 *   2. try_to_migrate: for each mapping, inside a one-page
 *      MMU_NOTIFY_MIGRATE invalidation (owner NULL: a CPU migration),
 *      clear the PTE, re-check the pin count (a GUP-fast pin racing with
 *      the clear is seen here, or sees the clear and backs off), flush the
 *      TLB, move the dirty bit to the page, and install a migration entry
 *      (WRITE if the PTE was writable, else READ; offset: the old pfn).
 *      The entry keeps the mapping's RSS count but not its mapcount or
 *      reference;
 *   3. the page must now be held by us alone (refcount 1, mapcount 0);
 *      any other reference is a GUP in flight that may write the old
 *      frame: give up (-EAGAIN);
 *   4. copy the bytes with copy_user_page() (the oracle's shadow moves
 *      with them) and the page's identity (anon_vma, index, flags, LRU);
 *   5. replace each migration entry by a PTE of the new page (of the old
 *      one if we gave up), writable if the entry was WRITE and the VMA
 *      still allows it; no invalidation: nothing was mapped;
 *   6. drop the mmap_locks, unlock the page, drop our reference: the old
 *      frame is freed with its last reference.
 *
 * A fault on a migration entry (migration_entry_wait) re-checks the entry
 * under the PTE lock and sleeps until the page lock drops, then retries.
 * As the kernel does since 5.19 (migration_entry_wait_on_locked), it takes
 * no page reference: one would make step 3 fail for every waiter.  The
 * struct page it sleeps on is never freed (the arena is static); a frame
 * reused meanwhile only costs a spurious wakeup.
 *
 * Holding the mmap_locks from step 1 to 6 keeps the VMAs and page tables
 * of every target mm in place without taking them again while the page is
 * locked: munmap frees page tables before its VMAs leave the anon_vma
 * list, so the anon_vma lock alone (the kernel's remove_migration_ptes)
 * would not keep them.  Hence fork, mprotect and mremap (mmap_lock for
 * write) never meet a migration entry here; faults, MADV_DONTNEED,
 * hmm_range_fault and GUP (read) do.
 *
 * Lock order: page lock -> mmap_lock (trylock only) -> PTE lock ->
 * LRU lock; notifier callbacks run with the page lock and mmap_locks held,
 * no spinlock (as reclaim's try_to_unmap).  A caller that already holds
 * an mm's mmap_lock (FOLL_LONGTERM GUP migrating the pages it just
 * unpinned; device migration) names it as m->held: that one is not taken
 * again, and its page lock nests inside it (mmap_lock -> page lock, the
 * order page.h gives).
 *
 * THE TARGET FRAME (migrate_alloc_target, the kernel's
 * alloc_migration_target): user memory, from ZONE_MOVABLE if there is
 * one, for compaction-style moves (migrate_page_to_new, vm_migrate_range);
 * a ZONE_NORMAL frame for a page about to be pinned long term
 * (migrate_page_to_nonmovable, GUP's migrate_page_gfp without
 * __GFP_MOVABLE).
 */
#include <string.h>
#include <mmirror/kthread.h>
#include <mmirror/migrate.h>
#include "base/trace.h"
#include "internal.h"
#include "huge_split.h"
#include "migrate_internal.h"

/* Attempts per page of vm_migrate_range() that return -EAGAIN. */
#define MIGRATE_RETRIES 3
/* Reverse-map targets collected per anon_vma lock hold. */
#define MIGRATE_BATCH 16

void (*migrate_test_pause)(struct page *page);

static atomic_long_t nr_succeeded, nr_failed, nr_refused_pinned, nr_waits;

/* ==== step 1: targets and their mmap_locks =============================== */

static int migrate_grow(struct migration *m, int more)
{
	struct migrate_target *t;
	int cap = m->cap * 2 + more;

	if (m->nr + more <= m->cap)
		return 0;
	t = kcalloc(cap, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	if (m->nr)
		memcpy(t, m->t, m->nr * sizeof(*t));
	kfree(m->t);
	m->t = t;
	m->cap = cap;
	return 0;
}

static int migrate_collect(struct migration *m)
{
	/* Stable: the page is locked and anonymous, we hold a reference. */
	struct anon_vma *av = READ_ONCE(m->old->mapping);
	struct rmap_target batch[MIGRATE_BATCH];
	int n, skip = 0;

	/* A device page its driver holds but never mapped has no rmap. */
	if (!av)
		return 0;

	do {
		n = rmap_collect(m->old, av, skip, batch, MIGRATE_BATCH);
		if (migrate_grow(m, n)) {
			while (n--)
				mmdrop(batch[n].mm);
			return -ENOMEM;
		}
		for (int i = 0; i < n; i++) {
			m->t[m->nr].mm = batch[i].mm;
			m->t[m->nr++].addr = batch[i].addr;
		}
		skip += n;
	} while (n == MIGRATE_BATCH);
	return 0;
}

static int migrate_lock_mms(struct migration *m)
{
	for (int i = 0; i < m->nr; i++) {
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = m->t[j].mm == m->t[i].mm;
		/* The caller's own lock (device migration) is not ours. */
		if (seen || m->t[i].mm == m->held)
			continue;
		/* Trylock: we hold the page lock (file comment). */
		if (!mmap_read_trylock(m->t[i].mm))
			return -EAGAIN;
		m->t[i].locked = true;
	}
	return 0;
}

void migrate_release(struct migration *m)
{
	for (int i = 0; i < m->nr; i++) {
		if (m->t[i].locked)
			mmap_read_unlock(m->t[i].mm);
		mmdrop(m->t[i].mm);
	}
	kfree(m->t);
	m->t = NULL;
	m->nr = m->cap = 0;
}

/* The PMD of @t if its VMA still maps the page there (mmap_lock held). */
static pmd_t *migrate_target_pmd(struct migration *m, struct migrate_target *t,
				 struct vm_area_struct **vmap)
{
	struct vm_area_struct *vma = vma_lookup(t->mm, t->addr);

	/* The VMA may have changed since the collect: check it again. */
	if (!vma || vma->vm_shared || rmap_vma_address(m->old, vma) != t->addr)
		return NULL;
	*vmap = vma;
	return mm_find_pmd(t->mm, t->addr);
}

/* ==== step 2: try_to_migrate ============================================= */

/*
 * Does @v map @page: a present PTE of it, or a device-private entry of it
 * (which holds the mapping's reference and mapcount like a present PTE)?
 */
static bool migrate_pte_maps(pte_t v, struct page *page)
{
	swp_entry_t e = pte_to_swp_entry(v);

	if (pte_present(v))
		return pte_pfn(v) == page_to_pfn(page);
	return is_swap_pte(v) && is_device_private_entry(e) &&
	       swp_offset(e) == page_to_pfn(page);
}

/* Clear the entry at @pte (locked) and install the migration entry. */
static int migrate_install(struct vm_area_struct *vma, pte_t *pte,
			   unsigned long addr, struct page *page)
{
	pte_t old = ptep_get_and_clear(pte);
	bool write;

	/* After the clear (fully ordered): a GUP-fast pin that missed the
	 * clear is visible here; one that comes later backs off. */
	if (folio_pincount(page) > 0) {
		set_pte(pte, old);
		atomic_long_inc(&nr_refused_pinned);
		return -EAGAIN;
	}
	if (pte_present(old)) {
		flush_tlb_page(vma, addr);
		if (pte_dirty(old))
			SetPageDirty(page);
		write = pte_write(old);
	} else {
		/* Device-private: no TLB ever held it. */
		write = is_writable_device_private_entry(pte_to_swp_entry(old));
	}
	set_pte(pte, swp_entry_to_pte(swp_entry(write ? SWP_MIGRATION_WRITE :
							SWP_MIGRATION_READ,
						page_to_pfn(page))));
	/* The RSS stays: the entry counts as the page (zap drops it). */
	atomic_dec(&page->_mapcount);
	trace_event(TR_PTE, "pte %#lx := migration %s pfn %#lx", addr,
		    write ? "w" : "r", page_to_pfn(page));
	return 0;
}

static int migrate_unmap_one(struct migration *m, struct migrate_target *t)
{
	struct mmu_notifier_range range;
	struct vm_area_struct *vma;
	pmd_t *pmd = migrate_target_pmd(m, t, &vma);
	spinlock_t *ptl;
	pte_t *pte, v;
	int ret = 0;

	if (!pmd)
		return 0;
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_MIGRATE, 0, t->mm,
				      t->addr, t->addr + PAGE_SIZE, m->owner);
	mmu_notifier_invalidate_range_start(&range);
	pte = pte_offset_map_lock(t->mm, pmd, t->addr, &ptl);
	if (pte) {
		v = ptep_get(pte);
		if (migrate_pte_maps(v, m->old)) {
			ret = migrate_install(vma, pte, t->addr, m->old);
			t->installed = !ret;
		}
		pte_unmap_unlock(pte, ptl);
	}
	mmu_notifier_invalidate_range_end(&range);
	if (t->installed)
		put_page(m->old); /* the mapping's reference, after the flush */
	return ret;
}

/* ==== steps 4 and 5: the new page, and the entries back ================= */

/* Give @new the identity of @old (both exclusively ours: no PTE maps
 * @new yet, and @old is locked and unmapped). */
void migrate_page_state(struct page *new, struct page *old)
{
	static const int moved[] = { PG_anon,  PG_swapbacked, PG_anon_exclusive,
				     PG_dirty, PG_referenced, PG_uptodate };

	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
		if (test_bit(moved[i], &old->flags))
			set_bit(moved[i], &new->flags);
	new->index = old->index;
	/* Held until @new is freed, as anon_page_init() does. */
	anon_vma_get(old->mapping);
	/* Published before a PTE maps @new (set_pte is a release store);
	 * read by rmap walkers after they find the page (acquire). */
	WRITE_ONCE(new->mapping, old->mapping);
	/* Device-private pages are never on the LRU (memremap.h). */
	if (!PageDevmap(new))
		lru_add(new);
}

/*
 * The entry that replaces migration entry @entry for @dst: a device-private
 * entry for a device-private page, else a present PTE; writable if the old
 * mapping was and the VMA still allows it (mprotect may have run since).
 */
static pte_t migrate_entry_for(struct vm_area_struct *vma, swp_entry_t entry,
			       struct page *dst)
{
	bool write = is_writable_migration_entry(entry) &&
		     (vma->vm_flags & VM_WRITE);
	pte_t new;

	if (is_device_private_page(dst))
		return swp_entry_to_pte(
			swp_entry(write ? SWP_DEVICE_PRIVATE_WRITE :
					  SWP_DEVICE_PRIVATE_READ,
				  page_to_pfn(dst)));
	new = pte_mkyoung(mk_pte(dst, vma->vm_page_prot));
	if (write) {
		new = pte_mkwrite(new);
		if (PageDirty(dst))
			new = pte_mkdirty(new);
	}
	return new;
}

/* Replace our migration entry at @t by an entry of @dst (new or old). */
static void migrate_remove_one(struct migration *m, struct migrate_target *t,
			       struct page *dst)
{
	struct vm_area_struct *vma;
	pmd_t *pmd = migrate_target_pmd(m, t, &vma);
	spinlock_t *ptl;
	swp_entry_t entry;
	pte_t *pte, v, new;

	/* Our mmap_lock kept the VMA and the tables since the install. */
	if (WARN_ON(!pmd))
		return;
	pte = pte_offset_map_lock(t->mm, pmd, t->addr, &ptl);
	if (WARN_ON(!pte))
		return;
	v = ptep_get(pte);
	entry = pte_to_swp_entry(v);
	/* Gone if MADV_DONTNEED zapped it meanwhile. */
	if (!is_swap_pte(v) || !is_migration_entry(entry) ||
	    swp_offset(entry) != page_to_pfn(m->old)) {
		pte_unmap_unlock(pte, ptl);
		return;
	}
	new = migrate_entry_for(vma, entry, dst);
	get_page(dst);
	atomic_inc(&dst->_mapcount);
	set_pte(pte, new);
	trace_event(TR_PTE, "pte %#lx := %s %#lx (migrated%s)", t->addr,
		    pte_present(new) ? "pfn" : "device-private",
		    page_to_pfn(dst),
		    pte_write(new) || (!pte_present(new) &&
				       is_writable_device_private_entry(
					       pte_to_swp_entry(new))) ?
			    " w" :
			    "");
	pte_unmap_unlock(pte, ptl);
}

/* ==== one page ============================================================= */

int migrate_unmap(struct migration *m)
{
	int ret = migrate_collect(m);

	if (!ret)
		ret = migrate_lock_mms(m);
	for (int i = 0; i < m->nr && !ret; i++)
		ret = migrate_unmap_one(m, &m->t[i]);
	return ret;
}

bool migrate_refs_frozen(struct migration *m, int expected)
{
	/* Pairs with GUP-fast's reference before its PTE re-check: either
	 * it saw our clear and drops its reference, or we see it here. */
	smp_mb();
	return !page_mapped(m->old) && page_ref_count(m->old) == expected;
}

void migrate_remap(struct migration *m, struct page *dst)
{
	for (int i = 0; i < m->nr; i++)
		if (m->t[i].installed)
			migrate_remove_one(m, &m->t[i], dst);
}

/* Steps 1-5 for m->old (locked, referenced once by us). */
static int migrate_locked(struct migration *m)
{
	void (*pause)(struct page *);
	int ret = migrate_unmap(m);

	/* Written by tests before they migrate. */
	pause = READ_ONCE(migrate_test_pause);
	if (!ret && pause)
		pause(m->old);
	if (!ret && !migrate_refs_frozen(m, 1))
		ret = -EAGAIN;
	if (!ret) {
		copy_user_page(m->new, m->old);
		migrate_page_state(m->new, m->old);
	}
	migrate_remap(m, ret ? m->old : m->new);
	return ret;
}

/* Is @page (referenced by us) something we can migrate? */
static int migrate_check(struct page *page)
{
	/* A huge page moves as its head names it: migrate_split(). */
	if (PageTail(page))
		return -EBUSY;
	if (!PageAnon(page) || !READ_ONCE(page->mapping) ||
	    PageReserved(page) || PageDevmap(page) || PageTable(page))
		return -EINVAL;
	if (folio_pincount(page) > 0) {
		atomic_long_inc(&nr_refused_pinned);
		return -EAGAIN; /* pinned pages are never migrated */
	}
	return 0;
}

/*
 * The new frame (the kernel's alloc_migration_target): user memory goes
 * through alloc_user_page() (frame limit, ZONE_MOVABLE preferred); a
 * target that must not be movable (a FOLL_LONGTERM pin's) comes straight
 * from ZONE_NORMAL.
 */
static struct page *migrate_alloc_target(gfp_t gfp)
{
	if (gfp & __GFP_MOVABLE)
		return alloc_user_page(gfp & ~__GFP_MOVABLE);
	return alloc_page(gfp);
}

/*
 * Migrate @page, on which the caller holds exactly one reference (ours),
 * to a frame allocated with @gfp.  @held: an mm whose mmap_lock the caller
 * holds, or NULL.
 */
/*
 * @page is the head of a THP (referenced by the caller): split it into
 * order-0 pages first, as Linux does where THP migration is not
 * supported (ARCH_ENABLE_THP_MIGRATION off): mmirror has no PMD
 * migration entries.  The caller's reference and our lock stay on the
 * head, now an order-0 page; the other pages go to the LRU and move when
 * their own turn comes (vm_migrate_range walks them next).
 */
static int migrate_split(struct page *page)
{
	int ret;

	if (!PageAnon(page) || compound_order(page) != HPAGE_PMD_ORDER)
		return -EBUSY;
	lock_page(page);
	ret = split_huge_page(page);
	unlock_page(page);
	return ret;
}

static int migrate_one(struct page *page, gfp_t gfp, struct mm_struct *held)
{
	struct migration m = { .old = page, .held = held };
	int ret = PageHead(page) ? migrate_split(page) : 0;

	if (!ret)
		ret = migrate_check(page);

	if (!ret && !(m.new = migrate_alloc_target(gfp)))
		ret = -ENOMEM;
	if (ret) {
		atomic_long_inc(&nr_failed);
		return ret;
	}
	lock_page(page);
	/* ->private changes only under the page lock. */
	if (page_in_swapcache(page))
		ret = -EBUSY; /* the cache would need moving too: later */
	else
		ret = migrate_locked(&m);
	migrate_release(&m);
	unlock_page(page);
	atomic_long_inc(ret ? &nr_failed : &nr_succeeded);
	trace_event(TR_PTE, "migrate pfn %#lx -> %#lx: %d", page_to_pfn(page),
		    page_to_pfn(m.new), ret);
	/* On success the old page goes with our reference; the new one
	 * keeps the references of its mappings. */
	put_page(m.new);
	return ret;
}

/* migrate_one(), again while it fails with -EAGAIN (a transient
 * reference or a contended mmap_lock), but never for a pinned page. */
static int migrate_retry(struct page *page, gfp_t gfp, struct mm_struct *held)
{
	int ret = 0;

	for (int i = 0; i < MIGRATE_RETRIES; i++) {
		ret = migrate_one(page, gfp, held);
		if (ret != -EAGAIN || folio_pincount(page) > 0)
			break;
		cond_resched();
	}
	return ret;
}

int migrate_page_gfp(struct page *page, gfp_t gfp, struct mm_struct *held)
{
	if (WARN_ON(gfp & ~__GFP_KNOWN))
		return -EINVAL;
	return migrate_retry(page, gfp, held);
}

static int migrate_page_by_frame(struct page *page, gfp_t gfp)
{
	int ret;

	if (!page || !pfn_valid(page_to_pfn(page)) ||
	    page != pfn_to_page(page_to_pfn(page)))
		return -EINVAL;
	/* A free page has no reference to take: nothing to move. */
	if (!get_page_unless_zero(page))
		return -EINVAL;
	ret = migrate_one(page, gfp, NULL);
	put_page(page);
	return ret;
}

int migrate_page_to_new(struct page *page)
{
	return migrate_page_by_frame(page, GFP_KERNEL | __GFP_MOVABLE);
}

int migrate_page_to_nonmovable(struct page *page)
{
	return migrate_page_by_frame(page, GFP_KERNEL);
}

/* ==== a range ============================================================= */

/* The page mapped at @addr, referenced, or NULL; *@next: where to go on. */
static struct page *migrate_range_page(struct mm_struct *mm, unsigned long addr,
				       unsigned long *next)
{
	struct vm_area_struct *vma;
	struct page *page = NULL;
	struct pt_snapshot s;

	*next = addr + PAGE_SIZE;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || vma->vm_shared) {
		if (!vma)
			vma = find_vma(mm, addr);
		*next = vma ? vma->vm_end : ~0UL;
		if (vma && vma->vm_start > addr)
			*next = vma->vm_start;
		mmap_read_unlock(mm);
		return NULL;
	}
	pt_walk_snapshot(mm, addr, &s);
	if (pt_snapshot_maps(&s)) {
		page = vm_normal_page_val(s.entry);
		if (s.shift != PAGE_SHIFT && page)
			page = pfn_to_page(pt_snapshot_pfn(&s, addr));
		/* The snapshot may be stale: a reference only if in use. */
		if (page && !get_page_unless_zero(page))
			page = NULL;
	}
	mmap_read_unlock(mm);
	return page;
}

int vm_migrate_range(struct mm_struct *mm, unsigned long start,
		     unsigned long end)
{
	unsigned long addr, next;
	int first = 0;

	if (!mm || !IS_ALIGNED(start, PAGE_SIZE) ||
	    !IS_ALIGNED(end, PAGE_SIZE) || start >= end || end > mm->task_size)
		return -EINVAL;
	for (addr = start; addr < end; addr = next) {
		struct page *page = migrate_range_page(mm, addr, &next);
		int ret = 0;

		if (!page)
			continue;
		ret = migrate_retry(page, GFP_KERNEL | __GFP_MOVABLE, NULL);
		put_page(page);
		if (ret && !first)
			first = ret;
	}
	return first;
}

/* ==== faults on migration entries, statistics ============================ */

vm_fault_t migration_entry_wait(struct vm_area_struct *vma, pmd_t *pmd,
				unsigned long addr, pte_t orig)
{
	struct page *page = pfn_swap_entry_to_page(pte_to_swp_entry(orig));
	spinlock_t *ptl;
	pte_t *pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	bool same;

	if (!pte)
		return 0;
	same = pte_same(ptep_get(pte), orig);
	pte_unmap_unlock(pte, ptl);
	/*
	 * The entry was there under the PTE lock, so the migrator held the
	 * page lock then; it unlocks only after replacing the entry.  If it
	 * did already, the wait returns at once and the access retries.
	 */
	if (same) {
		atomic_long_inc(&nr_waits);
		wait_on_page_locked(page);
	}
	return 0;
}

void vm_migrate_stat(struct vm_migrate_stat *st)
{
	if (!st)
		return;
	st->succeeded = atomic_long_read(&nr_succeeded);
	st->failed = atomic_long_read(&nr_failed);
	st->refused_pinned = atomic_long_read(&nr_refused_pinned);
	st->waits = atomic_long_read(&nr_waits);
}
