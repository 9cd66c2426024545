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
 * aligned) sit on their zone's free_area[o].  A free block's first page carries
 * PG_buddy and its order.  Allocation splits a larger block; freeing merges
 * a block with its buddy (pfn ^ 2^o) while the buddy is free with the same
 * order.
 *
 * Zones (page.h, "The movable region"): ZONE_NORMAL holds the frames
 * [0, movable_start), ZONE_MOVABLE [movable_start, managed); without a
 * region movable_start == managed and ZONE_MOVABLE is empty.  Each zone is
 * a buddy allocator of its own: a block never crosses the boundary (the
 * merge in buddy_give stops at the zone's ends), so a free block is all
 * movable or all normal.  __GFP_MOVABLE allocations try ZONE_MOVABLE
 * first and fall back to ZONE_NORMAL (the kernel's zonelist order); all
 * others use ZONE_NORMAL only.  A thread inside memalloc_pin_save() loses
 * __GFP_MOVABLE (the kernel's PF_MEMALLOC_PIN, set by FOLL_LONGTERM GUP).
 *
 * Locking: each zone's lock (a spinlock, a leaf lock: nothing is taken
 * under it, except that mem_set_movable() takes ZONE_NORMAL's, then
 * ZONE_MOVABLE's) guards its free lists, PG_buddy and ->order of its free
 * blocks.  nr_free is a per-zone atomic counter updated under the lock and
 * read locklessly (statistics); under both locks the sum is exact, which
 * is how mem_set_movable() knows that no frame is allocated.  The zone
 * bounds change only there, with every frame free: whoever holds a page
 * may read them without a lock (READ_ONCE, paired with its WRITE_ONCEs).
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

enum zone_type { ZONE_NORMAL, ZONE_MOVABLE, MAX_NR_ZONES };

static struct zone {
	spinlock_t lock;
	struct list_head free_area[NR_PAGE_ORDERS];
	unsigned long nr_blocks[NR_PAGE_ORDERS];
	unsigned long start_pfn, end_pfn; /* frames [start, end) */
	atomic_long_t nr_free;
} zones[MAX_NR_ZONES];

/* Frames [0, managed) are handed out; set once by mem_setup(). */
static unsigned long managed;
/* First frame of ZONE_MOVABLE (managed: no region).  WRITE_ONCE under
 * both zone locks in zones_rebuild(); READ_ONCE elsewhere. */
static unsigned long movable_start;
/* This thread is in a memalloc_pin_save() scope (PF_MEMALLOC_PIN). */
static __thread unsigned int memalloc_pin;

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

/* --- buddy core (the zone's lock held) ------------------------------------ */

static void buddy_add(struct zone *z, struct page *page, unsigned int order)
{
	page->order = order;
	SetPageBuddy(page);
	list_add(&page->lru, &z->free_area[order]);
	z->nr_blocks[order]++;
}

static void buddy_del(struct zone *z, struct page *page, unsigned int order)
{
	list_del(&page->lru);
	ClearPageBuddy(page);
	z->nr_blocks[order]--;
}

/* Take a block of exactly @order, splitting a larger one if needed. */
static struct page *buddy_take(struct zone *z, unsigned int order)
{
	unsigned int o;
	struct page *page;

	for (o = order; o < NR_PAGE_ORDERS; o++)
		if (!list_empty(&z->free_area[o]))
			break;
	if (o == NR_PAGE_ORDERS)
		return NULL;
	page = list_first_entry(&z->free_area[o], struct page, lru);
	buddy_del(z, page, o);
	while (o > order) {
		o--;
		buddy_add(z, page + (1UL << o), o);
	}
	return page;
}

/*
 * Return a block, merging it with free buddies as far as they go - but
 * never with a buddy outside @z: a block is all of one zone.
 */
static void buddy_give(struct zone *z, unsigned long pfn, unsigned int order)
{
	while (order < MAX_PAGE_ORDER) {
		unsigned long buddy_pfn = pfn ^ (1UL << order);
		struct page *buddy = pfn_to_page(buddy_pfn);

		if (buddy_pfn < z->start_pfn ||
		    buddy_pfn + (1UL << order) > z->end_pfn ||
		    !PageBuddy(buddy) || buddy->order != order)
			break;
		buddy_del(z, buddy, order);
		pfn &= ~(1UL << order);
		order++;
	}
	buddy_add(z, pfn_to_page(pfn), order);
}

/* The zone of a managed frame. */
static struct zone *pfn_zone(unsigned long pfn)
{
	/* Pairs with the WRITE_ONCE in zones_rebuild(); stable while the
	 * caller owns a frame (the bounds move only when all are free). */
	return &zones[pfn >= READ_ONCE(movable_start) ? ZONE_MOVABLE :
							ZONE_NORMAL];
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

/* Hand every frame of @z to its buddy lists in maximal aligned blocks. */
static void seed_free_lists(struct zone *z)
{
	unsigned long pfn = z->start_pfn;

	while (pfn < z->end_pfn) {
		unsigned int order = MAX_PAGE_ORDER;

		while (order && (!IS_ALIGNED(pfn, 1UL << order) ||
				 pfn + (1UL << order) > z->end_pfn))
			order--;
		buddy_give(z, pfn, order);
		pfn += 1UL << order;
	}
	atomic_long_set(&z->nr_free, (long)(z->end_pfn - z->start_pfn));
}

/*
 * Empty both zones and seed them again with ZONE_MOVABLE from @mstart.
 * Both zone locks held (or set-up: nobody else sees the zones) and every
 * managed frame free.
 */
static void zones_rebuild(unsigned long mstart)
{
	for (int i = 0; i < MAX_NR_ZONES; i++) {
		struct zone *z = &zones[i];

		for (int o = 0; o < NR_PAGE_ORDERS; o++)
			while (!list_empty(&z->free_area[o]))
				buddy_del(z,
					  list_first_entry(&z->free_area[o],
							   struct page, lru),
					  o);
	}
	zones[ZONE_NORMAL].start_pfn = 0;
	zones[ZONE_NORMAL].end_pfn = mstart;
	zones[ZONE_MOVABLE].start_pfn = mstart;
	zones[ZONE_MOVABLE].end_pfn = managed;
	/* Pairs with the READ_ONCEs of pfn_zone()/page_is_movable(). */
	WRITE_ONCE(movable_start, mstart);
	seed_free_lists(&zones[ZONE_NORMAL]);
	seed_free_lists(&zones[ZONE_MOVABLE]);
}

static unsigned long zones_nr_free(void)
{
	return atomic_long_read(&zones[ZONE_NORMAL].nr_free) +
	       atomic_long_read(&zones[ZONE_MOVABLE].nr_free);
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
	for (int i = 0; i < MAX_NR_ZONES; i++) {
		spin_lock_init(&zones[i].lock);
		for (int o = 0; o < NR_PAGE_ORDERS; o++) {
			INIT_LIST_HEAD(&zones[i].free_area[o]);
			zones[i].nr_blocks[o] = 0;
		}
	}
	managed = nr;
	max_pfn = nr + 1;
	zero_pfn = nr;
	SetPageReserved(&mem_map[zero_pfn]);
	SetPageZero(&mem_map[zero_pfn]);
	atomic_set(&mem_map[zero_pfn]._refcount, 1);
	/* No movable region until mem_set_movable() asks for one. */
	zones_rebuild(nr);
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
	if (zones_nr_free() != managed)
		return -EBUSY;
	munmap(mem_arena, arena_bytes);
	munmap(mem_map, map_bytes);
	mem_arena = NULL;
	mem_map = NULL;
	max_pfn = 0;
	managed = 0;
	WRITE_ONCE(movable_start, 0);
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

static struct page *zone_take(struct zone *z, unsigned int order)
{
	struct page *page;

	spin_lock(&z->lock);
	page = buddy_take(z, order);
	if (page)
		atomic_long_sub(1L << order, &z->nr_free);
	spin_unlock(&z->lock);
	return page;
}

/* ZONE_MOVABLE first for movable requests, then ZONE_NORMAL. */
static struct page *zones_take(gfp_t gfp, unsigned int order)
{
	struct page *page = NULL;

	/* Pairs with zones_rebuild(): a stale "no region" only costs the
	 * movable zone's turn; the take itself is checked under the lock. */
	if ((gfp & __GFP_MOVABLE) && !memalloc_pin &&
	    READ_ONCE(movable_start) < managed)
		page = zone_take(&zones[ZONE_MOVABLE], order);
	if (!page)
		page = zone_take(&zones[ZONE_NORMAL], order);
	return page;
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	struct page *page;

	if (WARN_ON(order > MAX_PAGE_ORDER || (gfp & ~__GFP_KNOWN)))
		return NULL;
	if (!mem_ready() || should_fail_alloc(gfp))
		return NULL;
	page = zones_take(gfp, order);
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
	struct zone *z;

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
	z = pfn_zone(page_to_pfn(page));
	spin_lock(&z->lock);
	buddy_give(z, page_to_pfn(page), order);
	atomic_long_add(nr, &z->nr_free);
	spin_unlock(&z->lock);
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
	struct page *head = compound_head(page);

	if (!atomic_inc_not_zero(&head->_refcount))
		return false;
	/*
	 * A split between our read of the head and the increment
	 * (huge_split.c) made @page a page of its own: the reference is on
	 * the wrong page.  The split froze the count to 0 while it ran, so
	 * once we hold a reference on the right head no split can start.
	 */
	if (unlikely(compound_head(page) != head)) {
		put_page(head);
		return false;
	}
	return true;
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
	return mem_initialized() ? zones_nr_free() : 0;
}

unsigned long totalram_pages(void)
{
	return mem_initialized() ? managed : 0;
}

unsigned long nr_free_blocks(unsigned int order)
{
	unsigned long n = 0;

	if (order >= NR_PAGE_ORDERS || !mem_initialized())
		return 0;
	for (int i = 0; i < MAX_NR_ZONES; i++) {
		spin_lock(&zones[i].lock);
		n += zones[i].nr_blocks[order];
		spin_unlock(&zones[i].lock);
	}
	return n;
}

/* --- the movable region ----------------------------------------------- */

int mem_set_movable(unsigned long nr_pages)
{
	int ret = 0;

	if (!mem_ready())
		return -ENOMEM;
	if (nr_pages > managed || managed - nr_pages < 16)
		return -EINVAL;
	/* Lock order: ZONE_NORMAL, then ZONE_MOVABLE (only here). */
	spin_lock(&zones[ZONE_NORMAL].lock);
	spin_lock(&zones[ZONE_MOVABLE].lock);
	/* Exact under both locks: every take and give updates nr_free
	 * under its zone's lock. */
	if (zones_nr_free() != managed)
		ret = -EBUSY;
	else
		zones_rebuild(managed - nr_pages);
	spin_unlock(&zones[ZONE_MOVABLE].lock);
	spin_unlock(&zones[ZONE_NORMAL].lock);
	return ret;
}

unsigned long mem_movable_pages(void)
{
	return mem_initialized() ? managed - READ_ONCE(movable_start) : 0;
}

unsigned long nr_free_movable_pages(void)
{
	return mem_initialized() ?
		       atomic_long_read(&zones[ZONE_MOVABLE].nr_free) :
		       0;
}

bool page_is_movable(const struct page *page)
{
	unsigned long pfn = page_to_pfn(page);

	/* Pairs with the WRITE_ONCE in zones_rebuild().  The zero page
	 * (pfn == managed) lies above every zone. */
	return pfn >= READ_ONCE(movable_start) && pfn < managed;
}

unsigned int memalloc_pin_save(void)
{
	unsigned int old = memalloc_pin;

	memalloc_pin = 1;
	return old;
}

void memalloc_pin_restore(unsigned int flags)
{
	memalloc_pin = flags;
}
