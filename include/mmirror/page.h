/* SPDX-License-Identifier: MIT */
/*
 * page.h - physical memory: page frames and their struct page.
 *
 * Physical memory is one real arena of host memory (DESIGN.md: a device
 * "DMA" and a CPU store both change real bytes, so a lost write is
 * observable).  Frame number pfn lives at arena + pfn * PAGE_SIZE and is
 * described by mem_map[pfn].  The arena is reserved with MAP_NORESERVE, so
 * frames nobody touched cost the host nothing.
 *
 * Reference counting follows the kernel:
 *   _refcount  every user of the frame (allocation, each mapping, GUP, ...);
 *              the frame returns to the allocator when it drops to zero.
 *   _mapcount  page-table mappings minus one (-1: mapped nowhere).  For a
 *              compound page it is kept on the head for the whole folio when
 *              mapped by one huge entry, and per page otherwise (see mm/).
 *   _pincount  FOLL_PIN pins, kept exactly on the head page (folio-style;
 *              the kernel folds small-page pins into _refcount with a bias
 *              of 1024: we keep a separate exact count, which the oracle's
 *              pin rule needs, and still take a reference per pin).
 *   gen        generation, bumped each time the frame is freed: a stale
 *              holder can tell that "its" frame has been reused (oracle).
 *
 * Flags are atomic bit operations (atomic.h).  Fields only the allocator
 * touches (PG_buddy, order of a free block, lru on the free lists) are
 * guarded by the zone lock in src/mm/page_alloc.c.
 */
#ifndef MMIRROR_PAGE_H
#define MMIRROR_PAGE_H

#include <mmirror/atomic.h>
#include <mmirror/list.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(x) ALIGN_UP((unsigned long)(x), PAGE_SIZE)

/* Orders of the two huge-page sizes (x86-64: 2 MiB PMD, 1 GiB PUD). */
#define HPAGE_PMD_ORDER 9
#define HPAGE_PUD_ORDER 18
#define HPAGE_PMD_NR (1UL << HPAGE_PMD_ORDER)
#define HPAGE_PUD_NR (1UL << HPAGE_PUD_ORDER)
/* Largest block the allocator hands out: a 1 GiB PUD page. */
#define MAX_PAGE_ORDER HPAGE_PUD_ORDER
#define NR_PAGE_ORDERS (MAX_PAGE_ORDER + 1)

enum pageflags {
	PG_locked, /* folio lock (migration, swap I/O) */
	PG_referenced, /* recently accessed (aging) */
	PG_dirty, /* content newer than any copy in swap */
	PG_lru, /* on an LRU list */
	PG_anon, /* anonymous memory (mapping is an anon_vma) */
	PG_swapbacked, /* goes to swap when reclaimed */
	PG_reserved, /* never allocated nor freed (the zero page) */
	PG_devmap, /* device memory described by a dev_pagemap */
	PG_zero, /* the shared zero page */
	PG_head, /* first page of a compound page */
	PG_tail, /* other pages of a compound page */
	PG_buddy, /* first page of a free block (allocator only) */
	PG_pgtable, /* a page-table page */
	PG_uptodate, /* content valid */
	PG_writeback, /* being written to swap */
	PG_anon_exclusive, /* mapped by one mm only: a write may reuse it */
	__NR_PAGEFLAGS
};

struct dev_pagemap;

struct page {
	unsigned long flags;
	atomic_t _refcount;
	atomic_t _mapcount;
	atomic_t _pincount; /* head page only */
	unsigned int order; /* head: compound order; buddy: block order */
	struct page *head; /* tail pages: their head page */
	union {
		struct list_head lru; /* free lists, later the LRU */
		struct { /* page-table pages */
			spinlock_t ptl; /* split PTE lock (PTE tables) */
			atomic_t pt_count; /* entries in use (debug) */
		};
	};
	void *mapping; /* anon: the anon_vma (rmap, later) */
	unsigned long index; /* anon: va >> PAGE_SHIFT when faulted */
	unsigned long private;
	struct dev_pagemap *pgmap;
	unsigned long gen; /* bumped at every free (oracle) */
	/* mmirror only: a device migration's state for this source page,
	 * from migrate_vma_setup() to _finalize() (page locked meanwhile;
	 * src/mm/migrate_device.c).  The kernel walks the reverse map again
	 * instead. */
	void *migration;
};

/* --- the arena ---------------------------------------------------------- */

/*
 * mem_init() - create physical memory of @bytes (a multiple of 1 GiB is not
 * required; any multiple of PAGE_SIZE from 16 pages up).  Called implicitly
 * with MEM_DEFAULT_BYTES (or $MMIRROR_MEM_MB) by the first allocation.
 * Returns 0, -EINVAL (size), -EBUSY (already initialised) or -ENOMEM.
 */
#define MEM_DEFAULT_BYTES (1UL << 30)
int mem_init(unsigned long bytes);
/*
 * mem_exit() - release physical memory.  Returns -EBUSY (and releases
 * nothing) while any frame is still allocated.  Single-threaded context.
 */
int mem_exit(void);
bool mem_initialized(void);

extern struct page *mem_map; /* struct page array, index = pfn */
extern unsigned long max_pfn; /* frames [0, max_pfn) exist */
extern char *mem_arena; /* host address of pfn 0 */
extern unsigned long zero_pfn; /* the shared zero page (reserved) */

static inline bool pfn_valid(unsigned long pfn)
{
	return pfn < max_pfn;
}
static inline struct page *pfn_to_page(unsigned long pfn)
{
	return mem_map + pfn;
}
static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - mem_map);
}
/* Host address of the frame's bytes (the kernel's direct map). */
static inline void *page_address(const struct page *page)
{
	return mem_arena + (page_to_pfn(page) << PAGE_SHIFT);
}
static inline void *pfn_to_virt(unsigned long pfn)
{
	return mem_arena + (pfn << PAGE_SHIFT);
}
static inline struct page *virt_to_page(const void *addr)
{
	return pfn_to_page((unsigned long)((const char *)addr - mem_arena) >>
			   PAGE_SHIFT);
}
static inline struct page *ZERO_PAGE(unsigned long vaddr)
{
	return pfn_to_page(zero_pfn);
}
static inline bool is_zero_pfn(unsigned long pfn)
{
	return pfn == zero_pfn;
}

/* --- flags --------------------------------------------------------------- */

#define __PAGEFLAG(Name, bit)                                       \
	static inline bool Page##Name(const struct page *page)      \
	{                                                           \
		return test_bit(PG_##bit, &page->flags);            \
	}                                                           \
	static inline void SetPage##Name(struct page *page)         \
	{                                                           \
		set_bit(PG_##bit, (unsigned long *)&page->flags);   \
	}                                                           \
	static inline void ClearPage##Name(struct page *page)       \
	{                                                           \
		clear_bit(PG_##bit, (unsigned long *)&page->flags); \
	}                                                           \
	static inline bool TestSetPage##Name(struct page *page)     \
	{                                                           \
		return test_and_set_bit(PG_##bit, &page->flags);    \
	}                                                           \
	static inline bool TestClearPage##Name(struct page *page)   \
	{                                                           \
		return test_and_clear_bit(PG_##bit, &page->flags);  \
	}

__PAGEFLAG(Locked, locked)
__PAGEFLAG(Referenced, referenced)
__PAGEFLAG(Dirty, dirty)
__PAGEFLAG(LRU, lru)
__PAGEFLAG(Anon, anon)
__PAGEFLAG(SwapBacked, swapbacked)
__PAGEFLAG(Reserved, reserved)
__PAGEFLAG(Devmap, devmap)
__PAGEFLAG(Zero, zero)
__PAGEFLAG(Head, head)
__PAGEFLAG(Tail, tail)
__PAGEFLAG(Buddy, buddy)
__PAGEFLAG(Table, pgtable)
__PAGEFLAG(Uptodate, uptodate)
__PAGEFLAG(Writeback, writeback)
__PAGEFLAG(AnonExclusive, anon_exclusive)
#undef __PAGEFLAG

/* --- compound pages -------------------------------------------------------- */

static inline struct page *compound_head(const struct page *page)
{
	/* ->head is written before PG_tail is set (prep_compound_page) and
	 * both are stable while the caller holds a reference. */
	if (PageTail(page))
		return READ_ONCE(((struct page *)page)->head);
	return (struct page *)page;
}
static inline unsigned int compound_order(const struct page *page)
{
	return PageHead(page) ? page->order : 0;
}
static inline unsigned long compound_nr(const struct page *page)
{
	return 1UL << compound_order(page);
}

/* --- reference counts ---------------------------------------------------- */

static inline int page_ref_count(const struct page *page)
{
	return atomic_read(&page->_refcount);
}
static inline int page_count(const struct page *page)
{
	return page_ref_count(compound_head(page));
}
static inline int page_mapcount(const struct page *page)
{
	return atomic_read(&page->_mapcount) + 1;
}
static inline bool page_mapped(const struct page *page)
{
	return page_mapcount(page) > 0;
}
static inline int folio_pincount(const struct page *page)
{
	return atomic_read(&compound_head(page)->_pincount);
}

/* Take a reference on a page the caller already holds one on (or maps). */
void get_page(struct page *page);
/*
 * Take a reference unless the count is zero (the page is being freed):
 * the primitive under GUP-fast, which finds pages without holding a lock.
 * Returns true if it took one.
 */
bool get_page_unless_zero(struct page *page);
/* Drop a reference; the last one frees the (compound) page. */
void put_page(struct page *page);

/*
 * The page lock (PG_locked as a sleeping lock; src/mm/swap.c): swap I/O,
 * migration and device-exclusive/device-private handshakes hold it.
 * Lock order: mmap_lock -> page lock -> PTE lock.  lock_page() may sleep;
 * trylock_page() never does.
 */
bool trylock_page(struct page *page);
void lock_page(struct page *page);
void unlock_page(struct page *page);

/* --- the allocator ----------------------------------------------------- */

/*
 * alloc_pages() - allocate 2^@order contiguous, naturally aligned frames.
 * @gfp: GFP_KERNEL etc.; __GFP_ZERO zeroes them; __GFP_COMP makes a
 *       compound page (head + tails, freed as a whole by put_page).
 * The block comes back with _refcount 1 on its first page, _mapcount -1.
 * Return: the first page, or NULL (no block of that order free, injected
 * failure, bad @order or unknown @gfp bits).  Context: any; takes the zone
 * lock (a spinlock) briefly.
 */
struct page *alloc_pages(gfp_t gfp, unsigned int order);
static inline struct page *alloc_page(gfp_t gfp)
{
	return alloc_pages(gfp, 0);
}
/*
 * __free_pages() - drop the allocation reference of a block from
 * alloc_pages(); frees it when that was the last reference.
 */
void __free_pages(struct page *page, unsigned int order);
static inline void __free_page(struct page *page)
{
	__free_pages(page, 0);
}

/*
 * The movable region: Linux's ZONE_MOVABLE (sized by movablecore=), the
 * frames that may only hold pages the kernel can move away (user memory:
 * __GFP_MOVABLE), so that memory can be offlined or compacted at any time.
 * The allocator has two buddy zones, ZONE_NORMAL (the low frames) and
 * ZONE_MOVABLE (the top @nr_pages frames of the arena).  An allocation
 * without __GFP_MOVABLE never gets a movable frame; one with it takes a
 * movable frame first and falls back to ZONE_NORMAL.  Without a region
 * (the default) there is one zone, as before.  A FOLL_LONGTERM pin never
 * holds a movable frame: GUP migrates the page out first (docs/gup.md).
 */

/*
 * mem_set_movable() - make the top @nr_pages managed frames ZONE_MOVABLE
 * (0: no movable region).  Initialises memory with its default size if
 * nothing did yet.  Context: a knob for set-up; takes both zone locks.
 * Return: 0; -EINVAL (ZONE_NORMAL would keep fewer than 16 frames);
 * -EBUSY (some managed frame is allocated: the zones are rebuilt from the
 * free lists only when every frame is free); -ENOMEM (no memory).
 */
int mem_set_movable(unsigned long nr_pages);
/* Frames in ZONE_MOVABLE (0: no region), and how many of them are free. */
unsigned long mem_movable_pages(void);
unsigned long nr_free_movable_pages(void);
/*
 * page_is_movable() - does @page's frame lie in ZONE_MOVABLE?  The zone
 * test of the kernel's folio_is_longterm_pinnable(): pfn arithmetic only,
 * safe without a reference (GUP-fast asks before it grabs).
 */
bool page_is_movable(const struct page *page);
/*
 * memalloc_pin_save() - until the matching memalloc_pin_restore(), the
 * calling thread's allocations ignore __GFP_MOVABLE (the kernel's
 * PF_MEMALLOC_PIN scope): a FOLL_LONGTERM GUP faults its pages straight
 * into ZONE_NORMAL instead of migrating them out afterwards.  Nests.
 * Return: the state to hand to memalloc_pin_restore().
 */
unsigned int memalloc_pin_save(void);
void memalloc_pin_restore(unsigned int flags);

/* Frames in the free pool, and managed in all (excludes the zero page). */
unsigned long nr_free_pages(void);
unsigned long totalram_pages(void);
/* Free blocks of exactly @order on the free lists (tests, diagnostics). */
unsigned long nr_free_blocks(unsigned int order);

#endif /* MMIRROR_PAGE_H */
