// SPDX-License-Identifier: MIT
/*
 * vmscan.c - the LRU of anonymous pages, aging, reclaim, and the memory
 * pressure knobs (frame limit, kswapd).
 *
 * THE LRU is ONE list with a second chance (a clock), not the kernel's
 * active/inactive pair: the head is hot, the tail cold.  Order-0 private
 * anonymous pages join it when they get their identity (anon_page_init,
 * swap-in) and leave it when freed (lru_del_freed from the page free path).
 * The list holds no reference.  A scanner isolates a page from the tail:
 * under lru.lock it takes a reference with get_page_unless_zero() (a page
 * at zero is being freed: its free path waits for lru.lock to unlink it)
 * and clears PG_lru; it puts the page back at the head, or frees it.
 *
 * AGING (lru_age_pages) asks the reverse map whether the page was used
 * since the last look: folio_referenced() clears the accessed bit of every
 * PTE that maps it (no CPU TLB flush, as on x86: see rmap.c) and calls
 * clear_flush_young on every secondary MMU.  Young pages get
 * PG_referenced, the others lose it.
 *
 * RECLAIM (shrink_page) of one isolated page, the kernel's
 * shrink_folio_list for anonymous memory:
 *   1. skip pinned (folio_maybe_dma_pinned: _pincount > 0) and locked
 *      pages; keep young ones (accessed bit anywhere, or PG_referenced,
 *      which is cleared: the second chance);
 *   2. trylock the page.  A huge page (a PMD-sized THP: PUD-sized ones
 *      never join the LRU) is split first (split_huge_page_to_list,
 *      huge_split.c; the kernel's split_folio_to_list): its PMD mappings
 *      become PTEs and the folio 512 order-0 pages.  The head goes on as
 *      an order-0 page; the other subpages come back isolated on a list
 *      and are reclaimed right after it, each through steps 1-5 (their
 *      accessed bits are the PMD's, which step 1 just cleared).  A THP
 *      that cannot be split now (pinned, an extra reference, a busy mm)
 *      stays whole on the LRU.  Then give the page a swap slot and put it
 *      in the swap cache (add_to_swap: PG_dirty, nothing is in the slot
 *      yet);
 *   3. try_to_unmap(): every PTE becomes the swap entry, each under an
 *      MMU_NOTIFY_CLEAR invalidation, the PTE's dirty bit goes to PG_dirty.
 *      A mapping left behind (busy mm, a pin seen under the PTE lock)
 *      keeps the page: it stays in the swap cache, where faults find it;
 *   4. write it to the slot if dirty (a clean page's slot already holds
 *      its bytes; a page no swap entry names any more needs no write);
 *   5. freeze the refcount from 2 (ours and the cache's) to 0, so no
 *      GUP-fast can grab it, take it out of the swap cache and free it.
 *      A reference taken meanwhile (GUP, a fault waiting for the page
 *      lock) fails the freeze and keeps the page.
 * A device that wrote through its mapping before the invalidation wrote
 * into the frame, and the frame is what step 4 writes: nothing is lost.
 *
 * PRESSURE.  vm_set_frame_limit(): an allocation for user memory
 * (alloc_user_page) made while more frames are in use than the limit
 * reclaims SWAP_CLUSTER_MAX pages first and wakes kswapd.  A thread
 * already reclaiming never recurses (reclaim_depth).
 *
 * Lock order: mmap_lock -> page lock -> anon_vma lock -> PTE lock ->
 * si.lock -> lru.lock (a leaf: the page free path takes it under any lock).
 * The split of step 2 takes page lock -> mmap_lock (trylock) -> PTE locks
 * -> lru.lock (huge_split.c).
 */
#include <mmirror/kthread.h>
#include <mmirror/mutex.h>
#include <mmirror/rmap.h>
#include <mmirror/swap.h>
#include <mmirror/wait.h>
#include "huge_split.h"
#include "internal.h"

static struct {
	spinlock_t lock;
	struct list_head list; /* head: hot; tail: cold */
	unsigned long nr; /* under lock; READ_ONCE for statistics */
} lru = {
	.lock = __SPIN_LOCK_UNLOCKED(lru.lock),
	.list = LIST_HEAD_INIT(lru.list),
};

static atomic_long_t nr_reclaimed, nr_skipped_pinned, nr_aged;
static unsigned long frame_limit; /* WRITE_ONCE/READ_ONCE: a knob */
/* This thread is reclaiming: its allocations must not reclaim again. */
static __thread int reclaim_depth;

/* ==== the list ========================================================= */

void lru_add(struct page *page)
{
	spin_lock(&lru.lock);
	if (!PageLRU(page)) {
		list_add(&page->lru, &lru.list);
		SetPageLRU(page);
		WRITE_ONCE(lru.nr, lru.nr + 1);
	}
	spin_unlock(&lru.lock);
}

void lru_del_freed(struct page *page)
{
	/* Refcount 0: no scanner can isolate it any more, so PG_lru only
	 * changes under lru.lock here. */
	if (!PageLRU(page))
		return;
	spin_lock(&lru.lock);
	if (TestClearPageLRU(page)) {
		list_del(&page->lru);
		WRITE_ONCE(lru.nr, lru.nr - 1);
	}
	spin_unlock(&lru.lock);
}

unsigned long lru_nr_pages(void)
{
	return READ_ONCE(lru.nr); /* pairs with the WRITE_ONCEs */
}

/* Take the coldest page off the list with a reference, or NULL. */
static struct page *lru_isolate(void)
{
	struct page *page = NULL;

	spin_lock(&lru.lock);
	for (unsigned long i = 0; i < lru.nr; i++) {
		struct page *p = list_entry(lru.list.prev, struct page, lru);

		if (get_page_unless_zero(p)) {
			TestClearPageLRU(p);
			list_del(&p->lru);
			WRITE_ONCE(lru.nr, lru.nr - 1);
			page = p;
			break;
		}
		/* Being freed: its free path unlinks it; look past it. */
		list_del(&p->lru);
		list_add(&p->lru, &lru.list);
	}
	spin_unlock(&lru.lock);
	return page;
}

/* Back at the hot end; drop the isolation reference. */
static void lru_putback(struct page *page)
{
	spin_lock(&lru.lock);
	list_add(&page->lru, &lru.list);
	SetPageLRU(page);
	WRITE_ONCE(lru.nr, lru.nr + 1);
	spin_unlock(&lru.lock);
	put_page(page);
}

/* ==== aging ============================================================== */

unsigned long lru_age_pages(unsigned long nr, unsigned long *referenced)
{
	unsigned long scanned = 0, young = 0;

	/* Each page once at most: put back at the head, it would come
	 * round again. */
	nr = min(nr, lru_nr_pages());
	while (scanned < nr) {
		struct page *page = lru_isolate();

		if (!page)
			break;
		scanned++;
		/* Like the kernel's deactivation: a page unused since the
		 * last look loses its second chance. */
		if (folio_referenced(page)) {
			SetPageReferenced(page);
			young++;
		} else {
			ClearPageReferenced(page);
		}
		lru_putback(page);
	}
	atomic_long_add(scanned, &nr_aged);
	if (referenced)
		*referenced = young;
	return scanned;
}

/* ==== reclaim ============================================================= */

/* Steps 2-5 on a page kept old by step 1; true if the frame was freed. */
static bool pageout_locked(struct page *page)
{
	if (!page_in_swapcache(page)) {
		/* Unmapped and uncached: a fault is installing it. */
		if (!page_mapped(page) || add_to_swap(page))
			return false;
	}
	if (page_mapped(page) && !try_to_unmap(page))
		return false;
	/* Checked again after the unmap: a pin never loses its frame. */
	if (folio_pincount(page) > 0)
		return false;
	if (PageDirty(page) && page_swapcount(page) && swap_writepage(page))
		return false;
	return swapcache_freeze_and_delete(page);
}

/*
 * Step 2's split of the locked THP @page; true if it is now order-0 and
 * its other subpages are isolated on @split.  A folio this reclaim does
 * not split (PUD-sized, never on the LRU anyway) or cannot split now
 * (-EAGAIN: pinned, referenced, a busy mm) stays whole.
 */
static bool shrink_split(struct page *page, struct list_head *split)
{
	if (!split || compound_order(page) != HPAGE_PMD_ORDER)
		return false;
	return split_huge_page_to_list(page, split) == 0;
}

/* Reclaim one isolated page; @split collects the subpages of a THP it
 * splits (NULL: do not split).  True if the frame was freed. */
static bool shrink_page(struct page *page, struct list_head *split)
{
	if (PageTail(page))
		return false; /* never isolated: the LRU holds heads only */
	if (folio_pincount(page) > 0) {
		atomic_long_inc(&nr_skipped_pinned);
		return false;
	}
	if (folio_referenced(page) | TestClearPageReferenced(page))
		return false;
	if (!trylock_page(page))
		return false;
	if (PageHead(page) && !shrink_split(page, split)) {
		unlock_page(page);
		return false;
	}
	if (!pageout_locked(page)) {
		unlock_page(page);
		return false;
	}
	/* The freeze left no reference: nobody waits on the lock. */
	unlock_page(page);
	free_frozen_page(page);
	return true;
}

/*
 * The subpages a split left isolated on @split (one reference each):
 * reclaim them all now, as the kernel reclaims a whole folio; the ones
 * that stay go back to the LRU.
 */
static unsigned long shrink_split_list(struct list_head *split)
{
	unsigned long freed = 0;

	while (!list_empty(split)) {
		struct page *page = list_first_entry(split, struct page, lru);

		list_del_init(&page->lru);
		if (shrink_page(page, NULL))
			freed++;
		else
			lru_putback(page);
	}
	return freed;
}

/* Free up to @nr_pages frames, looking at @budget pages at most. */
static unsigned long shrink_lru(unsigned long nr_pages, unsigned long budget)
{
	unsigned long freed = 0;
	LIST_HEAD(split);

	reclaim_depth++;
	while (freed < nr_pages && budget--) {
		struct page *page = lru_isolate();

		if (!page)
			break;
		if (shrink_page(page, &split))
			freed++;
		else
			lru_putback(page);
		freed += shrink_split_list(&split);
	}
	reclaim_depth--;
	atomic_long_add(freed, &nr_reclaimed);
	return freed;
}

unsigned long vm_reclaim(unsigned long nr_pages)
{
	/* Every page twice: the first look may only clear its youth. */
	return shrink_lru(nr_pages, 2 * lru_nr_pages() + 1);
}

/*
 * Pressure reclaim looks at a few pages per page wanted, and at each
 * page once at most, like the kernel's first, shallow priority levels: a
 * page just faulted in is young and goes to the hot end, and must not
 * come round for its second look before the CPU that faulted it had a
 * chance to use it (with a small LRU, two looks per call would make
 * faults livelock: swap-in, reclaimed, swap-in...).
 */
static unsigned long shrink_pressure(unsigned long nr_pages)
{
	return shrink_lru(nr_pages, min(4 * nr_pages, lru_nr_pages()));
}

/* ==== pressure ============================================================ */

static DECLARE_WAIT_QUEUE_HEAD(kswapd_wait);
static DEFINE_MUTEX(kswapd_lock); /* start/stop */
static struct task_struct *kswapd_task; /* under kswapd_lock */
/* Bumped by every allocation over the limit; kswapd runs when it moved. */
static atomic_long_t kswapd_wakeups;
static bool kswapd_stopping; /* WRITE_ONCE by kswapd_stop, READ_ONCE */

static unsigned long frames_in_use(void)
{
	return totalram_pages() - nr_free_pages();
}

void vm_set_frame_limit(unsigned long frames)
{
	WRITE_ONCE(frame_limit, frames);
}

unsigned long vm_frame_limit(void)
{
	return READ_ONCE(frame_limit);
}

struct page *alloc_user_page(gfp_t gfp)
{
	unsigned long limit = READ_ONCE(frame_limit), used;
	struct page *page;

	gfp |= __GFP_MOVABLE; /* user memory can be migrated (page.h) */
	if (limit && !reclaim_depth && (used = frames_in_use()) > limit) {
		atomic_long_inc(&kswapd_wakeups);
		wake_up(&kswapd_wait);
		/* What we are over by, in batches: more only thrashes. */
		shrink_pressure(min(used - limit, SWAP_CLUSTER_MAX));
	}
	page = alloc_page(gfp);
	/* Only when the arena ran dry: not after an injected failure. */
	if (!page && !reclaim_depth && nr_free_pages() < SWAP_CLUSTER_MAX &&
	    shrink_pressure(SWAP_CLUSTER_MAX))
		page = alloc_page(gfp);
	return page;
}

static int kswapd_fn(void *arg)
{
	unsigned long seen = 0;

	for (;;) {
		unsigned long limit;

		wait_event(kswapd_wait,
			   READ_ONCE(kswapd_stopping) ||
				   atomic_long_read(&kswapd_wakeups) != seen);
		if (READ_ONCE(kswapd_stopping))
			break;
		seen = atomic_long_read(&kswapd_wakeups);
		limit = READ_ONCE(frame_limit);
		/* Down to 7/8 of the limit, while reclaim makes progress. */
		while (limit && frames_in_use() > limit - limit / 8 &&
		       !READ_ONCE(kswapd_stopping)) {
			if (!shrink_pressure(SWAP_CLUSTER_MAX))
				break;
			cond_resched();
		}
	}
	return 0;
}

int kswapd_start(void)
{
	struct task_struct *t;
	int ret = 0;

	mutex_lock(&kswapd_lock);
	if (kswapd_task) {
		ret = -EBUSY;
		goto out;
	}
	WRITE_ONCE(kswapd_stopping, false);
	t = kthread_run(kswapd_fn, NULL, "kswapd");
	if (IS_ERR(t))
		ret = PTR_ERR(t);
	else
		kswapd_task = t;
out:
	mutex_unlock(&kswapd_lock);
	return ret;
}

void kswapd_stop(void)
{
	mutex_lock(&kswapd_lock);
	if (kswapd_task) {
		WRITE_ONCE(kswapd_stopping, true);
		wake_up(&kswapd_wait);
		kthread_join(kswapd_task);
		kswapd_task = NULL;
	}
	mutex_unlock(&kswapd_lock);
}

void vm_reclaim_stat(struct vm_reclaim_stat *st)
{
	swap_stat_read(&st->pswpin, &st->pswpout);
	st->reclaimed = atomic_long_read(&nr_reclaimed);
	st->skipped_pinned = atomic_long_read(&nr_skipped_pinned);
	st->aged = atomic_long_read(&nr_aged);
}
