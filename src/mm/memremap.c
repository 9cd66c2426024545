// SPDX-License-Identifier: MIT
/*
 * memremap.c - dev_pagemap lifetime: memremap_pages(), the reference,
 * get_dev_pagemap(), and the removal protocol of memunmap_pages().
 *
 * The reference (a percpu_ref in atomic mode).  pgmap->ref holds the
 * number of holders - the base reference of memremap_pages() plus one per
 * get_dev_pagemap() - and, once killed, the PGMAP_REF_DEAD bit:
 *
 *   tryget_live:  cmpxchg loop: fail if DEAD is set, else count + 1
 *   kill:         one RMW adds DEAD - 1 (sets DEAD, drops the base)
 *   put:          count - 1; reaching exactly DEAD wakes the remover
 *
 * Setting DEAD and dropping the base in one RMW means no tryget can slip
 * in after the count could have reached zero: after kill the count only
 * goes down, so "== DEAD" is final.
 *
 * Why removal zaps and flushes before it frees (seed 003).  A page of
 * device memory is reachable in two ways: through a get_dev_pagemap()
 * reference, and through a page-table entry that GUP-fast (or a CPU)
 * reads without any lock.  Killing the ref and waiting closes the first
 * way only.  A PTE still pointing at the range keeps the second one open:
 *
 *   GUP-fast (IRQs off)                 removal without the zap
 *   pte = READ_ONCE(*ptep)  [devmap]
 *                                       kill; wait for holders
 *                                       pages idle: give frames back
 *   get_page_unless_zero(pte_page(pte))  <- struct page of a removed frame
 *
 * Either GUP-fast asks the pgmap first (get_dev_pagemap() fails after the
 * kill: the kernel's "extra pgmap check"), or - Jason's point in the
 * seed - removal first clears every PTE that maps the range and flushes:
 * the shootdown waits for every IRQ-off section that could have read an
 * old entry, exactly as it does for a hardware walk, so after it nobody
 * can reach the pages except through a reference, and step 4 waits for
 * those.  mmirror does both; drivers/flawed/seed003.c takes either away.
 *
 * Locking: pgmap_lock (a leaf spinlock) guards the global list and every
 * pgmap's ->state; get_dev_pagemap() takes it with IRQs off (GUP-fast) and
 * under PTE locks (GUP slow path), so nothing that sleeps or flushes is
 * ever done under it.  pgmap_wq is static and never freed: a put or a
 * page release may wake it after the remover has returned and the driver
 * has freed the pgmap, without touching the pgmap.
 */
#include "base/check_hooks.h"
#include "base/trace.h"
#include "internal.h"
#include "memremap_internal.h"
#include <mmirror/wait.h>

static DEFINE_SPINLOCK(pgmap_lock);
static LIST_HEAD(pgmap_list);
static DECLARE_WAIT_QUEUE_HEAD(pgmap_wq);

/* --- the reference ------------------------------------------------------- */

bool pgmap_tryget_live(struct dev_pagemap *pgmap)
{
	long old = atomic_long_read(&pgmap->ref);

	do {
		if (old & PGMAP_REF_DEAD)
			return false;
	} while (!atomic_long_try_cmpxchg(&pgmap->ref, &old, old + 1));
	return true;
}

static void pgmap_ref_kill(struct dev_pagemap *pgmap)
{
	if (atomic_long_add_return(PGMAP_REF_DEAD - 1, &pgmap->ref) ==
	    PGMAP_REF_DEAD)
		wake_up(&pgmap_wq);
}

static bool pgmap_ref_is_zero(struct dev_pagemap *pgmap)
{
	/* Acquire: pairs with the fully ordered RMW of the last put, so
	 * what the holder did under its reference happens before. */
	return atomic_long_read_acquire(&pgmap->ref) == PGMAP_REF_DEAD;
}

void put_dev_pagemap(struct dev_pagemap *pgmap)
{
	long ref;

	if (!pgmap)
		return;
	ref = atomic_long_dec_return(&pgmap->ref);
	/* Underflow: below zero live, or below DEAD once killed. */
	WARN_ON(ref < 0 || ref == PGMAP_REF_DEAD - 1);
	/* After this RMW the pgmap may be freed: only the static queue. */
	if (ref == PGMAP_REF_DEAD)
		wake_up(&pgmap_wq);
}

struct dev_pagemap *get_dev_pagemap(unsigned long pfn,
				    struct dev_pagemap *pgmap)
{
	struct dev_pagemap *p, *found = NULL;

	/* The caller's reference keeps a cached pgmap listed and live. */
	if (pgmap) {
		if (pgmap_has_pfn(pgmap, pfn))
			return pgmap;
		put_dev_pagemap(pgmap);
	}
	spin_lock(&pgmap_lock);
	list_for_each_entry(p, &pgmap_list, node) {
		if (pgmap_has_pfn(p, pfn)) {
			if (pgmap_tryget_live(p))
				found = p;
			break;
		}
	}
	spin_unlock(&pgmap_lock);
	return found;
}

void devmap_page_put_notify(void)
{
	/* wake_up() orders the caller's refcount RMW before its test of the
	 * waiter count (K2 of wait.h): a remover that missed it sees it. */
	wake_up(&pgmap_wq);
}

int zone_device_page_init(struct page *page)
{
	struct dev_pagemap *pgmap;

	if (WARN_ON(!page || !PageDevmap(page) ||
		    !is_device_private_page(page) || page_ref_count(page)))
		return -EINVAL;
	pgmap = page->pgmap;
	/* The page's pgmap reference: memunmap_pages() waits for it. */
	if (!pgmap_tryget_live(pgmap))
		return -ENODEV;
	atomic_set(&page->_refcount, 1);
	/* Uncontended: nobody else can reach a free page. */
	lock_page(page);
	return 0;
}

/*
 * free_zone_device_page() - put_page() dropped the last reference on a
 * device-private page: hand it back to its driver (the kernel's
 * free_zone_device_folio).  Everything the page carried is cleared first:
 * once ops->page_free() has it on the driver's free list another thread
 * may take it.  The generation moves as for a freed frame, so a device
 * still using it through a stale translation is a use after free.
 * Context: any put_page() caller; never sleeps.
 */
void free_zone_device_page(struct page *page)
{
	struct dev_pagemap *pgmap = page->pgmap;

	check_hook_page_free(page, 0);
	WARN_ON(page_mapcount(page) || atomic_read(&page->_pincount));
	if (PageAnon(page) && page->mapping)
		anon_vma_put(page->mapping);
	/* Pairs with the oracle's READ_ONCE(gen) (check/access.c). */
	WRITE_ONCE(page->gen, page->gen + 1);
	WRITE_ONCE(page->flags, 1UL << PG_devmap);
	page->mapping = NULL;
	page->index = 0;
	page->private = 0;
	atomic_set(&page->_mapcount, -1);
	pgmap->ops->page_free(page);
	put_dev_pagemap(pgmap);
}

void put_devmap_page(struct page *page)
{
	if (WARN_ON(!page))
		return;
	put_page(page);
	devmap_page_put_notify();
}

unsigned long memremap_nr_pgmaps(void)
{
	struct dev_pagemap *p;
	unsigned long n = 0;

	spin_lock(&pgmap_lock);
	list_for_each_entry(p, &pgmap_list, node)
		n++;
	spin_unlock(&pgmap_lock);
	return n;
}

/* --- memremap_pages ------------------------------------------------------ */

static unsigned int order_for(unsigned long nr_pages)
{
	unsigned int order = 0;

	while ((1UL << order) < nr_pages)
		order++;
	return order;
}

static int pgmap_check_args(struct dev_pagemap *pgmap)
{
	if (!pgmap)
		return -EINVAL;
	if (pgmap->type < MEMORY_DEVICE_PRIVATE ||
	    pgmap->type > MEMORY_DEVICE_GENERIC)
		return -EINVAL;
	if (!pgmap->nr_pages || pgmap->nr_pages > (1UL << MAX_PAGE_ORDER))
		return -EINVAL;
	/* A pgmap is used once: the driver allocates a new one per bind. */
	if (READ_ONCE(pgmap->state) != PGMAP_UNUSED)
		return -EINVAL;
	/* A device-private page is reached only through these two. */
	if (pgmap->type == MEMORY_DEVICE_PRIVATE &&
	    (!pgmap->ops || !pgmap->ops->page_free ||
	     !pgmap->ops->migrate_to_ram || !pgmap->owner))
		return -EINVAL;
	return 0;
}

/* The _refcount of a page nobody uses: 0 (free) for device-private. */
static int pgmap_idle_ref(const struct dev_pagemap *pgmap)
{
	return pgmap->type == MEMORY_DEVICE_PRIVATE ? 0 : 1;
}

/* Make the frames device pages; give the block's excess back. */
static void pgmap_init_pages(struct dev_pagemap *pgmap, struct page *first)
{
	unsigned long nr = 1UL << pgmap->order;

	for (unsigned long i = 0; i < nr; i++) {
		struct page *page = first + i;

		/* alloc_pages() gave the first page its reference. */
		atomic_set(&page->_refcount, 1);
		if (i >= pgmap->nr_pages) {
			__free_pages(page, 0);
			continue;
		}
		/* Free device-private pages are the driver's (page.h). */
		atomic_set(&page->_refcount, pgmap_idle_ref(pgmap));
		page->pgmap = pgmap;
		/* Before the pgmap is listed (pgmap_lock orders it) and before
		 * any entry maps the page (release store of the PTE). */
		SetPageDevmap(page);
	}
}

void *memremap_pages(struct dev_pagemap *pgmap)
{
	int err = pgmap_check_args(pgmap);
	struct page *first;

	if (err)
		return ERR_PTR(err);
	pgmap->order = order_for(pgmap->nr_pages);
	first = alloc_pages(GFP_KERNEL | __GFP_ZERO, pgmap->order);
	if (!first)
		return ERR_PTR(-ENOMEM);
	pgmap->range.start = (u64)page_to_pfn(first) << PAGE_SHIFT;
	pgmap->range.end =
		pgmap->range.start + ((u64)pgmap->nr_pages << PAGE_SHIFT) - 1;
	atomic_long_set(&pgmap->ref, 1); /* the base reference */
	spin_lock_init(&pgmap->lock);
	INIT_LIST_HEAD(&pgmap->mappers);
	pgmap_init_pages(pgmap, first);
	spin_lock(&pgmap_lock);
	pgmap->state = PGMAP_LIVE;
	list_add_tail(&pgmap->node, &pgmap_list);
	spin_unlock(&pgmap_lock);
	trace_event(TR_OBJ, "memremap pfn %#lx x%lu", page_to_pfn(first),
		    pgmap->nr_pages);
	return page_address(first);
}

/* --- memunmap_pages -------------------------------------------------------- */

static struct page *pgmap_page(struct dev_pagemap *pgmap, unsigned long i)
{
	return pfn_to_page(pgmap_pfn_first(pgmap) + i);
}

/* Step 4's condition: only the idle reference left on every page. */
static bool pgmap_pages_idle(struct dev_pagemap *pgmap)
{
	int idle = pgmap_idle_ref(pgmap);

	for (unsigned long i = 0; i < pgmap->nr_pages; i++)
		/* Acquire: pairs with the fully ordered RMW of the holder's
		 * put_page(); its DMA happens before our free. */
		if (atomic_read_acquire(&pgmap_page(pgmap, i)->_refcount) !=
		    idle)
			return false;
	return true;
}

/*
 * Step 5: drop the idle references: the allocator's free path bumps each
 * frame's generation and tells the oracle (page_free hook).  Only a
 * removal without the zap can find a page referenced again here (GUP-fast
 * grabbed it through a PTE left behind): that holder's put frees it.
 */
static void pgmap_free_frames(struct dev_pagemap *pgmap, bool zapped)
{
	for (unsigned long i = 0; i < pgmap->nr_pages; i++) {
		struct page *page = pgmap_page(pgmap, i);

		/* A free device-private page gets the reference the
		 * allocator's free path drops. */
		if (pgmap->type == MEMORY_DEVICE_PRIVATE)
			atomic_set(&page->_refcount, 1);
		WARN_ON(zapped && page_ref_count(page) != 1);
		__free_pages(page, 0);
	}
}

/* LIVE -> DYING exactly once; false (and WARN) for any other state. */
static bool pgmap_start_removal(struct dev_pagemap *pgmap)
{
	bool live;

	if (WARN_ON(!pgmap))
		return false;
	spin_lock(&pgmap_lock);
	live = pgmap->state == PGMAP_LIVE;
	if (live)
		pgmap->state = PGMAP_DYING;
	spin_unlock(&pgmap_lock);
	return !WARN_ON(!live);
}

static void pgmap_remove(struct dev_pagemap *pgmap, bool zap)
{
	if (!pgmap_start_removal(pgmap))
		return;
	trace_event(TR_OBJ, "memunmap pfn %#lx%s: kill ref",
		    pgmap_pfn_first(pgmap), zap ? "" : " (no zap)");
	pgmap_ref_kill(pgmap); /* 1 */
	wait_event(pgmap_wq, pgmap_ref_is_zero(pgmap)); /* 2 */
	if (zap)
		pgmap_zap_mappings(pgmap); /* 3 */
	wait_event(pgmap_wq, pgmap_pages_idle(pgmap)); /* 4 */
	spin_lock(&pgmap_lock); /* 5 */
	list_del(&pgmap->node);
	pgmap->state = PGMAP_REMOVED;
	spin_unlock(&pgmap_lock);
	trace_event(TR_OBJ, "memunmap: pages idle, frames freed");
	pgmap_free_frames(pgmap, zap);
	pgmap_drop_mappers(pgmap);
}

void memunmap_pages(struct dev_pagemap *pgmap)
{
	pgmap_remove(pgmap, true);
}

void __memunmap_pages_nozap(struct dev_pagemap *pgmap)
{
	pgmap_remove(pgmap, false);
}
