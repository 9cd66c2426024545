// SPDX-License-Identifier: MIT
/*
 * swap.c - the swap area, the swap cache, the page lock, and swap-in
 * (do_swap_page).
 *
 * THE AREA.  si.slots[] is a bounded array of slots; a slot's bytes live in
 * host memory (slot->data, kmalloc'ed at its first write), never in arena
 * frames.  A slot is referenced by
 *   count   the swap entries that name it in page tables (the kernel's
 *           swap_map count): +1 when reclaim installs one or fork copies
 *           one (swap_duplicate), -1 when a fault maps the page back or a
 *           zap drops the entry (swap_free, free_swap_and_cache);
 *   cache   the swap-cache page of the slot (the kernel's SWAP_HAS_CACHE):
 *           the page being swapped out, or one read back in and still
 *           shared with other swap entries.  The cache holds a reference on
 *           it, and page->private holds its swap entry (0: not cached).
 * The slot is free when both are gone; its data and the oracle's slot
 * shadow go with it.
 *
 * THE PAGE LOCK (PG_locked, lock_page/trylock_page/unlock_page) serialises
 * what happens to a swap-cache page: reclaim holds it from add_to_swap to
 * the final free, and a fault holds it while it maps the page, so a fault
 * never maps a page reclaim is writing out or freeing, and reclaim never
 * frees a page a fault is mapping.  Reclaim only ever trylocks it.
 *
 * SWAP-IN (do_swap_page, mmap_lock held for read):
 *   1. find the slot's cache page, or allocate a page and, under si.lock,
 *      read the slot into it and make it the cache page (a racing fault on
 *      another entry of the same slot then finds it);
 *   2. lock the page; under the PTE lock check the entry is still the one
 *      faulted on (pte_same), drop one swap count, and map the page.  When
 *      that was the last swap entry and nobody else holds the page, the
 *      page is exclusive: the cache lets go of it, the slot is freed, the
 *      page is dirty (its only copy) and a write fault maps it writable.
 *      Otherwise it is mapped read-only and stays cached (a write COWs).
 *
 * Lock order: mmap_lock -> page lock -> anon_vma lock -> PTE lock ->
 * si.lock -> LRU lock (vmscan.c) -> oracle locks.  si.lock is otherwise a
 * leaf; the page lock is only slept on with no spinlock held.
 */
#include <stdlib.h>
#include <mmirror/swap.h>
#include <mmirror/wait.h>
#include "base/check_hooks.h"
#include "base/trace.h"
#include "internal.h"

#define SWAP_MAX_SLOTS (1UL << 24)

struct swap_slot {
	unsigned int count; /* swap entries naming the slot */
	struct page *cache; /* the swap-cache page (a reference), or NULL */
	void *data; /* PAGE_SIZE bytes once written (host memory) */
};

/* Every field is guarded by lock; used and cached are also read racily
 * (READ_ONCE) by the statistics. */
static struct swap_info {
	spinlock_t lock;
	struct swap_slot *slots;
	unsigned long nr_slots;
	unsigned long used; /* slots with a count or a cache page */
	unsigned long cached; /* slots with a cache page */
	unsigned long cursor; /* where the next free-slot search starts */
} si = { .lock = __SPIN_LOCK_UNLOCKED(si.lock) };

static DECLARE_WAIT_QUEUE_HEAD(page_lock_wq);
static atomic_long_t nr_pswpin, nr_pswpout;

/* ==== the page lock ===================================================== */

bool trylock_page(struct page *page)
{
	/* A fully ordered RMW: acquire for what the holder reads next. */
	return !TestSetPageLocked(page);
}

void lock_page(struct page *page)
{
	might_sleep();
	wait_event(page_lock_wq, trylock_page(page));
}

void unlock_page(struct page *page)
{
	/* Release: the holder's changes are seen by the next holder. */
	clear_bit_unlock(PG_locked, &page->flags);
	wake_up_all(&page_lock_wq);
}

void wait_on_page_locked(struct page *page)
{
	might_sleep();
	/* Pairs with the release in unlock_page(): what the holder did
	 * before unlocking is seen once the bit reads clear. */
	wait_event(page_lock_wq,
		   !(smp_load_acquire(&page->flags) & BIT(PG_locked)));
}

/* ==== the area ============================================================ */

int swap_area_init(unsigned long nr_slots)
{
	struct swap_slot *slots, *old;

	if (!nr_slots || nr_slots > SWAP_MAX_SLOTS)
		return -EINVAL;
	/* Host memory, not kmalloc: the area outlives every test's leak
	 * check; only slot data is counted. */
	slots = calloc(nr_slots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	spin_lock(&si.lock);
	if (si.used) {
		spin_unlock(&si.lock);
		free(slots);
		return -EBUSY;
	}
	old = si.slots;
	WRITE_ONCE(si.slots, slots); /* pairs with swap_area_ready() */
	si.nr_slots = nr_slots;
	si.cursor = 0;
	spin_unlock(&si.lock);
	free(old);
	return 0;
}

static int swap_area_ready(void)
{
	int ret;

	/* Pairs with the store of si.slots under si.lock: a stale NULL only
	 * costs a redundant init attempt, which then sees -EBUSY or wins. */
	if (READ_ONCE(si.slots))
		return 0;
	ret = swap_area_init(SWAP_DEFAULT_SLOTS);
	return ret == -EBUSY ? 0 : ret;
}

unsigned long swap_slots_total(void)
{
	unsigned long n;

	spin_lock(&si.lock);
	n = si.slots ? si.nr_slots : SWAP_DEFAULT_SLOTS;
	spin_unlock(&si.lock);
	return n;
}

unsigned long swap_slots_used(void)
{
	/* Pairs with the WRITE_ONCEs under si.lock. */
	return READ_ONCE(si.used);
}

unsigned long swap_cache_pages(void)
{
	/* Pairs with the WRITE_ONCEs under si.lock. */
	return READ_ONCE(si.cached);
}

/* The slot of @entry, or NULL (WARN) for an entry that names none. */
static struct swap_slot *slot_of(swp_entry_t entry)
{
	unsigned long off = swp_offset(entry);

	spin_assert_held(&si.lock);
	if (WARN_ON(swp_type(entry) != SWP_SWAPFILE || off >= si.nr_slots))
		return NULL;
	return &si.slots[off];
}

/* Free @s if nothing references it any more.  si.lock held; called once
 * per transition to unreferenced (it cannot tell a slot already free). */
static void slot_release(struct swap_slot *s)
{
	if (s->count || s->cache)
		return;
	check_hook_swap_free(s - si.slots);
	kfree(s->data);
	s->data = NULL;
	WRITE_ONCE(si.used, si.used - 1);
}

int swap_duplicate(swp_entry_t entry)
{
	struct swap_slot *s;
	int ret = -EINVAL;

	spin_lock(&si.lock);
	s = slot_of(entry);
	if (s && !WARN_ON(!s->count && !s->cache)) {
		s->count++;
		ret = 0;
	}
	spin_unlock(&si.lock);
	return ret;
}

/* Take @page (si.lock held, page locked) out of the swap cache.  The
 * caller drops the cache's reference afterwards. */
static void __delete_from_swap_cache(struct page *page)
{
	struct swap_slot *s = slot_of(page_swap_entry(page));

	if (WARN_ON(!s || s->cache != page))
		return;
	s->cache = NULL;
	WRITE_ONCE(si.cached, si.cached - 1);
	WRITE_ONCE(page->private, 0);
	slot_release(s);
}

void delete_from_swap_cache(struct page *page)
{
	spin_lock(&si.lock);
	__delete_from_swap_cache(page);
	spin_unlock(&si.lock);
}

bool swapcache_freeze_and_delete(struct page *page)
{
	bool frozen;

	/*
	 * Under si.lock: a swap-cache lookup takes its reference under it
	 * too, so it either comes before (the count is 3: no freeze) or
	 * finds the page gone.  Fully ordered: a GUP-fast
	 * get_page_unless_zero() after the freeze fails.
	 */
	spin_lock(&si.lock);
	frozen = atomic_cmpxchg(&page->_refcount, 2, 0) == 2;
	if (frozen)
		__delete_from_swap_cache(page);
	spin_unlock(&si.lock);
	return frozen;
}

int page_swapcount(struct page *page)
{
	struct swap_slot *s;
	int n = 0;

	spin_lock(&si.lock);
	if (page_in_swapcache(page) && (s = slot_of(page_swap_entry(page))))
		n = s->count;
	spin_unlock(&si.lock);
	return n;
}

void free_swap_and_cache(swp_entry_t entry)
{
	struct page *drop = NULL;
	struct swap_slot *s;

	spin_lock(&si.lock);
	s = slot_of(entry);
	if (!s || WARN_ON(!s->count)) {
		spin_unlock(&si.lock);
		return;
	}
	s->count--;
	/* The last entry is gone: a cached page nobody maps is garbage.
	 * Trylock: the page lock ranks above the PTE lock we hold. */
	if (!s->count && s->cache && trylock_page(s->cache)) {
		if (!page_mapped(s->cache))
			drop = s->cache;
		else
			unlock_page(s->cache);
	}
	/* Exactly one of them frees the slot if nothing references it. */
	if (drop)
		__delete_from_swap_cache(drop);
	else
		slot_release(s);
	spin_unlock(&si.lock);
	if (drop) {
		unlock_page(drop);
		put_page(drop);
	}
}

/* ==== swap-out (reclaim holds the page lock) ========================== */

int add_to_swap(struct page *page)
{
	unsigned long i, off;
	int ret = swap_area_ready();

	if (ret)
		return ret;
	spin_lock(&si.lock);
	for (i = 0; i < si.nr_slots; i++) {
		off = (si.cursor + i) % si.nr_slots;
		if (!si.slots[off].count && !si.slots[off].cache)
			break;
	}
	if (i == si.nr_slots) {
		spin_unlock(&si.lock);
		return -ENOMEM;
	}
	si.cursor = off + 1;
	si.slots[off].cache = page;
	WRITE_ONCE(si.used, si.used + 1);
	WRITE_ONCE(si.cached, si.cached + 1);
	get_page(page); /* the cache's reference */
	WRITE_ONCE(page->private, swp_entry(SWP_SWAPFILE, off).val);
	spin_unlock(&si.lock);
	SetPageDirty(page); /* not in the slot yet */
	return 0;
}

/* Move a page's bytes with relaxed word loads/stores (see copy_user_page:
 * a racing access is a race the model permits, not UB). */
static void copy_words(u64 *dst, const u64 *src)
{
	for (size_t i = 0; i < PAGE_SIZE / sizeof(u64); i++)
		__atomic_store_n(&dst[i],
				 __atomic_load_n(&src[i], __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
}

int swap_writepage(struct page *page)
{
	unsigned long off = swp_offset(page_swap_entry(page));
	void *buf, *fresh = NULL;

	spin_lock(&si.lock);
	buf = si.slots[off].data;
	spin_unlock(&si.lock);
	if (!buf) {
		/* Only the locked cache page writes its slot: no race for
		 * the data pointer, only readers under si.lock. */
		fresh = kmalloc(PAGE_SIZE, GFP_KERNEL);
		if (!fresh)
			return -ENOMEM;
		spin_lock(&si.lock);
		si.slots[off].data = buf = fresh;
		spin_unlock(&si.lock);
	}
	/* Before the copy: a store after it must leave the page dirty. */
	ClearPageDirty(page);
	if (!check_hook_swap_write(page, off, buf))
		copy_words(buf, page_address(page));
	atomic_long_inc(&nr_pswpout);
	trace_event(TR_PTE, "swap out pfn %#lx -> slot %lu", page_to_pfn(page),
		    off);
	return 0;
}

/* ==== swap-in ============================================================== */

/* A new page for the slot of @entry, filled from it, cached and locked;
 * si.lock held.  The caller's allocation reference stays the caller's. */
static void swapin_fill(struct page *page, struct swap_slot *s,
			swp_entry_t entry)
{
	unsigned long off = s - si.slots;

	WARN_ON(!s->data);
	SetPageLocked(page);
	if (s->data && !check_hook_swap_read(page, off, s->data))
		copy_words(page_address(page), s->data);
	SetPageUptodate(page);
	/* A refault: it was in use a moment ago (the kernel's workingset
	 * activation), so it gets a second chance against reclaim. */
	SetPageReferenced(page);
	s->cache = page;
	WRITE_ONCE(si.cached, si.cached + 1);
	get_page(page); /* the cache's reference */
	WRITE_ONCE(page->private, entry.val);
	atomic_long_inc(&nr_pswpin);
}

static void swapin_prep(struct page *page, struct vm_area_struct *vma,
			unsigned long addr)
{
	SetPageAnon(page);
	SetPageSwapBacked(page);
	page->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	/* Held until the page is freed, as anon_page_init() does. */
	anon_vma_get(vma->vm_mm->anon_vma);
	/* Published before the page is (cache: si.lock; PTE: release). */
	WRITE_ONCE(page->mapping, vma->vm_mm->anon_vma);
}

/*
 * The cache page of @entry's slot, referenced and locked: found, or read
 * in.  NULL: the entry is gone (a racing zap or fault: retry the access),
 * or *@oom.
 */
static struct page *swapin_page(swp_entry_t entry, struct vm_area_struct *vma,
				unsigned long addr, bool *oom)
{
	struct page *new = NULL, *page;
	struct swap_slot *s;

	for (;;) {
		spin_lock(&si.lock);
		s = slot_of(entry);
		if (!s || !s->count) {
			spin_unlock(&si.lock);
			page = NULL;
			break;
		}
		page = s->cache;
		if (!page && new) {
			swapin_fill(new, s, entry);
			spin_unlock(&si.lock);
			lru_add(new);
			return new;
		}
		if (page) {
			get_page(page);
			spin_unlock(&si.lock);
			lock_page(page);
			/* Still the slot's page, now that we hold it?  (->private
			 * changes only under the page lock.) */
			if (READ_ONCE(page->private) == entry.val)
				break;
			unlock_page(page);
			put_page(page);
			continue;
		}
		spin_unlock(&si.lock);
		new = alloc_user_page(GFP_KERNEL);
		if (!new) {
			*oom = true;
			return NULL;
		}
		swapin_prep(new, vma, addr);
	}
	if (new)
		put_page(new);
	return page;
}

/* Map the locked cache @page at @pte (locked) in place of the entry. */
static bool swapin_map(struct vm_area_struct *vma, pte_t *pte,
		       unsigned long addr, struct page *page, bool write)
{
	struct mm_struct *mm = vma->vm_mm;
	struct swap_slot *s;
	bool exclusive;
	pte_t entry;

	spin_lock(&si.lock);
	s = slot_of(page_swap_entry(page));
	s->count--;
	/* Ours and the cache's references only: nobody else can see it. */
	exclusive = !s->count && !page_mapped(page) && page_count(page) == 2;
	if (exclusive)
		__delete_from_swap_cache(page);
	spin_unlock(&si.lock);
	entry = pte_mkyoung(mk_pte(page, vma->vm_page_prot));
	if (exclusive) {
		SetPageDirty(page); /* the slot is gone: the only copy */
		SetPageAnonExclusive(page);
		if (write && (vma->vm_flags & VM_WRITE))
			entry = pte_mkdirty(pte_mkwrite(entry));
	}
	atomic_inc(&page->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, 1);
	add_mm_counter(mm, MM_SWAPENTS, -1);
	set_pte(pte, entry);
	trace_event(TR_PTE, "pte %#lx := pfn %#lx (swap-in%s)", addr,
		    page_to_pfn(page), exclusive ? ", exclusive" : "");
	return exclusive;
}

vm_fault_t do_swap_page(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr, unsigned int flags, pte_t orig)
{
	swp_entry_t entry = pte_to_swp_entry(orig);
	bool oom = false, exclusive = false;
	struct page *page = swapin_page(entry, vma, addr, &oom);
	spinlock_t *ptl;
	pte_t *pte;

	if (!page)
		return oom ? VM_FAULT_OOM : 0;
	pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (pte && pte_same(ptep_get(pte), orig)) {
		/* Our reference becomes the mapping's. */
		exclusive = swapin_map(vma, pte, addr, page,
				       flags & FAULT_FLAG_WRITE);
		pte_unmap_unlock(pte, ptl);
		unlock_page(page);
		if (exclusive)
			put_page(page); /* the cache's */
		return VM_FAULT_MAJOR;
	}
	if (pte)
		pte_unmap_unlock(pte, ptl);
	unlock_page(page);
	put_page(page);
	return 0; /* the entry changed: the access retries */
}

/* ==== draining the cache =============================================== */

/* Drop the cache page @page (referenced by us) if nothing maps it. */
static bool swap_cache_drop(struct page *page)
{
	bool dropped = false;

	if (!trylock_page(page))
		return false;
	if (page_in_swapcache(page) && !page_mapped(page) &&
	    (!PageDirty(page) || !page_swapcount(page) ||
	     !swap_writepage(page))) {
		delete_from_swap_cache(page);
		dropped = true;
	}
	unlock_page(page);
	if (dropped)
		put_page(page); /* the cache's */
	return dropped;
}

unsigned long swap_cache_drain(void)
{
	unsigned long off, dropped = 0;

	for (off = 0;; off++) {
		struct page *page;

		spin_lock(&si.lock);
		if (off >= si.nr_slots || !si.slots) {
			spin_unlock(&si.lock);
			break;
		}
		page = si.slots[off].cache;
		if (page)
			get_page(page);
		spin_unlock(&si.lock);
		if (!page)
			continue;
		dropped += swap_cache_drop(page);
		put_page(page);
	}
	return dropped;
}

void swap_stat_read(unsigned long *pswpin, unsigned long *pswpout)
{
	*pswpin = atomic_long_read(&nr_pswpin);
	*pswpout = atomic_long_read(&nr_pswpout);
}
