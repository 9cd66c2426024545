// SPDX-License-Identifier: MIT
/*
 * page_alloc.c - physical memory: the arena and a buddy allocator.
 *
 * The arena: one host mapping of (managed + 1) frames, MAP_NORESERVE so it is
 * backed lazily.  Frames [0, managed) are handed out; frame `managed` is the
 * shared zero page, PG_reserved, never freed.  Keeping the zero page outside
 * the managed range lets a 1 GiB arena still hold one free 1 GiB block for a
 * PUD-sized huge page.
 *
 * The buddy allocator: free blocks of order o (2^o frames, naturally
 * aligned) sit on zone.free_area[o].  A free block's first page carries
 * PG_buddy and its order.  Allocation splits a larger block; freeing merges
 * a block with its buddy (pfn ^ 2^o) while the buddy is free with the same
 * order.
 *
 * Locking: zone.lock (a spinlock, a leaf lock: nothing is taken under it)
 * guards the free lists, PG_buddy and ->order of free blocks.  nr_free is an
 * atomic counter updated under the lock and read locklessly (statistics).
 * A page outside the allocator belongs to whoever holds references to it;
 * the allocator touches it again only when its _refcount reaches zero.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <mmirror/memremap.h>
#include <mmirror/page.h>
#include "base/check_hooks.h"
#include "internal.h"

struct page *mem_map;
unsigned long max_pfn;
char *mem_arena;
unsigned long zero_pfn;

static struct zone {
	spinlock_t lock;
	struct list_head free_area[NR_PAGE_ORDERS];
	unsigned long nr_blocks[NR_PAGE_ORDERS];
	unsigned long managed;
	atomic_long_t nr_free;
} zone;

/*
 * mem_state: 0 none, 1 being set up, 2 ready.  The first allocation may race
 * with others: one cmpxchg wins and initialises; the rest wait for 2.  The
 * release store of 2 pairs with the acquire load in mem_ready().
 */
static int mem_state;
static size_t arena_bytes, map_bytes;

bool mem_initialized(void)
{
	return smp_load_acquire(&mem_state) == 2;
}

/* --- buddy core (zone.lock held) ------------------------------------------ */

static void buddy_add(struct page *page, unsigned int order)
{
	page->order = order;
	SetPageBuddy(page);
	list_add(&page->lru, &zone.free_area[order]);
	zone.nr_blocks[order]++;
}

static void buddy_del(struct page *page, unsigned int order)
{
	list_del(&page->lru);
	ClearPageBuddy(page);
	zone.nr_blocks[order]--;
}

/* Take a block of exactly @order, splitting a larger one if needed. */
static struct page *buddy_take(unsigned int order)
{
	unsigned int o;
	struct page *page;

	for (o = order; o < NR_PAGE_ORDERS; o++)
		if (!list_empty(&zone.free_area[o]))
			break;
	if (o == NR_PAGE_ORDERS)
		return NULL;
	page = list_first_entry(&zone.free_area[o], struct page, lru);
	buddy_del(page, o);
	while (o > order) {
		o--;
		buddy_add(page + (1UL << o), o);
	}
	return page;
}

/* Return a block, merging it with free buddies as far as they go. */
static void buddy_give(unsigned long pfn, unsigned int order)
{
	while (order < MAX_PAGE_ORDER) {
		unsigned long buddy_pfn = pfn ^ (1UL << order);
		struct page *buddy = pfn_to_page(buddy_pfn);

		if (buddy_pfn + (1UL << order) > zone.managed ||
		    !PageBuddy(buddy) || buddy->order != order)
			break;
		buddy_del(buddy, order);
		pfn &= ~(1UL << order);
		order++;
	}
	buddy_add(pfn_to_page(pfn), order);
}

/* --- arena ----------------------------------------------------------------- */

static void init_struct_pages(unsigned long nr)
{
	for (unsigned long pfn = 0; pfn < nr; pfn++) {
		struct page *p = &mem_map[pfn];

		atomic_set(&p->_mapcount, -1);
		INIT_LIST_HEAD(&p->lru);
	}
}

/* Hand every managed frame to the buddy lists in maximal aligned blocks. */
static void seed_free_lists(void)
{
	unsigned long pfn = 0;

	while (pfn < zone.managed) {
		unsigned int order = MAX_PAGE_ORDER;

		while (order && (!IS_ALIGNED(pfn, 1UL << order) ||
				 pfn + (1UL << order) > zone.managed))
			order--;
		buddy_give(pfn, order);
		pfn += 1UL << order;
	}
	atomic_long_set(&zone.nr_free, zone.managed);
}

static int mem_setup(unsigned long bytes)
{
	unsigned long nr = bytes >> PAGE_SHIFT;

	arena_bytes = (nr + 1) << PAGE_SHIFT;
	map_bytes = PAGE_ALIGN((nr + 1) * sizeof(struct page));
	mem_arena = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem_arena == MAP_FAILED)
		goto no_arena;
	/* Let the host back the arena with its own huge pages where it can:
	 * fewer host TLB misses when frames are zeroed and copied.  Advice
	 * only: failure changes nothing. */
	madvise(mem_arena, arena_bytes, MADV_HUGEPAGE);
	mem_map = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem_map == MAP_FAILED)
		goto no_map;
	init_struct_pages(nr + 1);
	spin_lock_init(&zone.lock);
	for (int o = 0; o < NR_PAGE_ORDERS; o++) {
		INIT_LIST_HEAD(&zone.free_area[o]);
		zone.nr_blocks[o] = 0;
	}
	zone.managed = nr;
	max_pfn = nr + 1;
	zero_pfn = nr;
	SetPageReserved(&mem_map[zero_pfn]);
	SetPageZero(&mem_map[zero_pfn]);
	atomic_set(&mem_map[zero_pfn]._refcount, 1);
	seed_free_lists();
	return 0;
no_map:
	munmap(mem_arena, arena_bytes);
no_arena:
	mem_arena = NULL;
	mem_map = NULL;
	return -ENOMEM;
}

int mem_init(unsigned long bytes)
{
	int ret;

	if (bytes < 16 * PAGE_SIZE || !IS_ALIGNED(bytes, PAGE_SIZE) ||
	    bytes > (1UL << 44))
		return -EINVAL;
	if (cmpxchg(&mem_state, 0, 1) != 0)
		return -EBUSY;
	ret = mem_setup(bytes);
	/* Pairs with the acquire loads in mem_initialized()/mem_ready(). */
	smp_store_release(&mem_state, ret ? 0 : 2);
	return ret;
}

/* The first allocation sets memory up with the default size. */
static bool mem_ready(void)
{
	unsigned long bytes = MEM_DEFAULT_BYTES;
	const char *env;
	int state;

	if (likely(smp_load_acquire(&mem_state) == 2))
		return true;
	env = getenv("MMIRROR_MEM_MB");
	if (env && atol(env) > 0)
		bytes = (unsigned long)atol(env) << 20;
	if (mem_init(bytes) == 0)
		return true;
	/* Lost the race to another initialiser: wait until it is done. */
	while ((state = smp_load_acquire(&mem_state)) == 1)
		sched_yield();
	return state == 2;
}

int mem_exit(void)
{
	if (!mem_initialized())
		return 0;
	if (atomic_long_read(&zone.nr_free) != (long)zone.managed)
		return -EBUSY;
	munmap(mem_arena, arena_bytes);
	munmap(mem_map, map_bytes);
	mem_arena = NULL;
	mem_map = NULL;
	max_pfn = 0;
	zone.managed = 0;
	smp_store_release(&mem_state, 0);
	return 0;
}

/* --- allocation ------------------------------------------------------------ */

static void prep_compound(struct page *head, unsigned int order)
{
	unsigned long nr = 1UL << order;

	head->order = order;
	SetPageHead(head);
	atomic_set(&head->_pincount, 0);
	for (unsigned long i = 1; i < nr; i++) {
		/* ->head before PG_tail: compound_head() reads them that way. */
		WRITE_ONCE(head[i].head, head);
		SetPageTail(&head[i]);
	}
}

static void zero_block(struct page *page, unsigned int order)
{
	size_t len = PAGE_SIZE << order;

	/*
	 * memset up to 2 MiB: those frames are usually already backed by the
	 * host, and handing them back with MADV_DONTNEED only makes the host
	 * refault them 4 KiB at a time on first touch (3.5x slower THP faults
	 * in bench_mm).  A 1 GiB block is handed back instead: the host gives
	 * zero-filled memory on touch and most of it is never touched.
	 */
	if (order > HPAGE_PMD_ORDER &&
	    madvise(page_address(page), len, MADV_DONTNEED) == 0)
		return;
	memset(page_address(page), 0, len);
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	struct page *page;

	if (WARN_ON(order > MAX_PAGE_ORDER || (gfp & ~__GFP_KNOWN)))
		return NULL;
	if (!mem_ready() || should_fail_alloc(gfp))
		return NULL;
	spin_lock(&zone.lock);
	page = buddy_take(order);
	if (page)
		atomic_long_sub(1L << order, &zone.nr_free);
	spin_unlock(&zone.lock);
	if (!page) {
		/* The kernel would reclaim or OOM-kill until it succeeds;
		 * mmirror has nobody to kill yet, and __GFP_NOFAIL callers
		 * (splitting a huge page) cannot unwind. */
		if (gfp & __GFP_NOFAIL)
			__bug(__FILE__, __LINE__,
			      "out of memory in a __GFP_NOFAIL allocation");
		return NULL;
	}

	WRITE_ONCE(page->flags, 0);
	atomic_set(&page->_refcount, 1);
	if ((gfp & __GFP_COMP) && order)
		prep_compound(page, order);
	if (gfp & __GFP_ZERO)
		zero_block(page, order);
	return page;
}

/* --- freeing ---------------------------------------------------------------- */

/*
 * A frame coming back must be unmapped, unpinned and unreferenced; anything
 * else is a bug in the caller.  Report it and leak the block rather than
 * hand out memory somebody still uses.
 */
static bool free_page_check(struct page *page)
{
	if (WARN_ON(page_mapcount(page) != 0 || page_ref_count(page) != 0 ||
		    atomic_read(&page->_pincount) != 0 || PageReserved(page) ||
		    PageBuddy(page)))
		return false;
	return true;
}

static void free_block(struct page *page, unsigned int order)
{
	unsigned long nr = 1UL << order;

	/* Before the generations move: the oracle drops the frames' shadows
	 * and reports a frame freed while pinned. */
	check_hook_page_free(page, order);
	if (!free_page_check(page))
		return;
	/* Off the LRU, and the anon_vma reference of anon_page_init(). */
	lru_del_freed(page);
	if (PageAnon(page) && page->mapping)
		anon_vma_put(page->mapping);
	for (unsigned long i = 0; i < nr; i++) {
		struct page *p = page + i;

		/* Generation first: a racing GUP-fast that still reads this
		 * struct page sees the reuse (the oracle relies on it). */
		WRITE_ONCE(p->gen, p->gen + 1);
		WRITE_ONCE(p->flags, 0);
		WRITE_ONCE(p->head, NULL);
		p->mapping = NULL;
		p->pgmap = NULL;
		p->private = 0;
		atomic_set(&p->_mapcount, -1);
	}
	spin_lock(&zone.lock);
	buddy_give(page_to_pfn(page), order);
	atomic_long_add(nr, &zone.nr_free);
	spin_unlock(&zone.lock);
}

void __free_pages(struct page *page, unsigned int order)
{
	if (WARN_ON(!page || order > MAX_PAGE_ORDER || PageTail(page)))
		return;
	if (PageHead(page)) {
		WARN_ON(order != page->order);
		put_page(page);
		return;
	}
	if (atomic_dec_and_test(&page->_refcount))
		free_block(page, order);
}

/* Reclaim froze the refcount of this order-0 page at 0 (vmscan.c). */
void free_frozen_page(struct page *page)
{
	if (WARN_ON(PageHead(page) || PageTail(page) || page_ref_count(page)))
		return;
	free_block(page, 0);
}

void get_page(struct page *page)
{
	struct page *head = compound_head(page);

	/* The caller holds a reference or a mapping, so the count is > 0. */
	WARN_ON(atomic_inc_return(&head->_refcount) <= 1);
}

bool get_page_unless_zero(struct page *page)
{
	return atomic_inc_not_zero(&compound_head(page)->_refcount);
}

void put_page(struct page *page)
{
	struct page *head = compound_head(page);
	int ref = atomic_dec_return(&head->_refcount);

	if (likely(ref > 0)) {
		/*
		 * A device page back at its idle count (the pgmap's own
		 * reference): wake a memunmap_pages() waiting for it, as the
		 * kernel's put_devmap_managed_page() does.
		 */
		if (unlikely(ref == 1 && PageDevmap(head)))
			devmap_page_put_notify();
		return;
	}
	if (WARN_ON(ref < 0 || PageReserved(head)))
		return;
	/* Device-private frames belong to their pgmap, not to us. */
	if (unlikely(PageDevmap(head) && is_device_private_page(head))) {
		free_zone_device_page(head);
		return;
	}
	free_block(head, compound_order(head));
}

/* --- statistics ------------------------------------------------------------ */

unsigned long nr_free_pages(void)
{
	return mem_initialized() ? atomic_long_read(&zone.nr_free) : 0;
}

unsigned long totalram_pages(void)
{
	return mem_initialized() ? zone.managed : 0;
}

unsigned long nr_free_blocks(unsigned int order)
{
	unsigned long n;

	if (order >= NR_PAGE_ORDERS || !mem_initialized())
		return 0;
	spin_lock(&zone.lock);
	n = zone.nr_blocks[order];
	spin_unlock(&zone.lock);
	return n;
}
