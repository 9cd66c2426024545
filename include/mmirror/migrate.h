/* SPDX-License-Identifier: MIT */
/*
 * migrate.h - page migration: move an anonymous page to another frame
 * while it stays mapped (docs/migrate.md).
 *
 * Every page-table entry that maps the page is replaced by a migration
 * entry (SWP_MIGRATION_WRITE if it was writable, else READ; the offset is
 * the old pfn) inside a one-page MMU_NOTIFY_MIGRATE invalidation, so every
 * secondary MMU drops its translation of the old frame first.  The bytes
 * are copied, the page's identity moves to the new frame, and each
 * migration entry becomes a PTE of the new frame.  A CPU that faults on a
 * migration entry meanwhile waits for the migration to end and retries.
 *
 * Pinned pages (_pincount > 0) are never migrated, and a page somebody
 * else holds a reference on (a GUP in flight) is put back as it was.
 * Only order-0 private anonymous pages move.  A PMD-sized THP named by
 * its head is split first (huge_split.c: Linux's path without THP
 * migration) and its pages move one by one; a tail page, a PUD-sized
 * THP, swap-cache pages, shared (shmem) and device pages are refused
 * with -EBUSY.
 */
#ifndef MMIRROR_MIGRATE_H
#define MMIRROR_MIGRATE_H

#include <mmirror/mm_types.h>
#include <mmirror/page.h>

/**
 * migrate_page_to_new() - move @page to a newly allocated frame (what
 * compaction does to the page in a frame it wants).
 * @page: an order-0 private anonymous page, named by its frame: the
 *        caller holds no reference on it (one would be a reference in
 *        flight: -EAGAIN); a free page is refused.
 *
 * Context: may sleep (page lock, notifier callbacks, allocation); the
 * caller holds no mmap_lock, page lock nor spinlock.
 * Return: 0 (every mapping now maps the new frame and the old one is
 * released); -EINVAL (NULL, not a page in use, not anonymous memory);
 * -EBUSY (a tail page, a THP that is not PMD-sized, in the swap cache,
 * or unsupported); -EAGAIN (pinned, a THP that could not be split,
 * another reference appeared, or an mm's mmap_lock was contended: the
 * page is left as it was, try again); -ENOMEM (no frame).
 */
int migrate_page_to_new(struct page *page);

/**
 * migrate_page_to_nonmovable() - as migrate_page_to_new(), but the new
 * frame is never in ZONE_MOVABLE (page.h): what FOLL_LONGTERM GUP does to
 * a movable page before it pins it (the kernel's
 * migrate_longterm_unpinnable_folios, a target without __GFP_MOVABLE).
 * @page: as for migrate_page_to_new().
 *
 * Context and return: as migrate_page_to_new().
 */
int migrate_page_to_nonmovable(struct page *page);

/**
 * vm_migrate_range() - move every page mapped in [@start, @end) of @mm to
 * a new frame (what move_pages()/NUMA balancing do).
 * @mm: the address space.
 * @start: page aligned.
 * @end: page aligned, > @start, inside the address space.
 *
 * Pages that are not present, the zero page and shared memory are
 * skipped; each page is tried a few times when it returns -EAGAIN.
 * Context: may sleep; the caller holds no lock of @mm.
 * Return: 0 if every candidate moved, else the first error of
 * migrate_page_to_new() (the others still moved); -EINVAL (bad
 * arguments).
 */
int vm_migrate_range(struct mm_struct *mm, unsigned long start,
		     unsigned long end);

/* Counters since start (statistics, tests). */
struct vm_migrate_stat {
	unsigned long succeeded; /* pages moved */
	unsigned long failed; /* attempts that left the page in place */
	unsigned long refused_pinned; /* attempts refused: pinned */
	unsigned long waits; /* faults that waited on a migration entry */
};

/**
 * vm_migrate_stat() - read the counters.
 * @st: filled with a snapshot.
 */
void vm_migrate_stat(struct vm_migrate_stat *st);

/* ==== device migration: migrate_vma and migrate_device (kernel API) ======
 *
 * A driver moves anonymous pages between system memory and its
 * device-private memory (memremap.h) in three steps, the kernel's
 * mm/migrate_device.c API (docs/devmem.md has the protocol):
 *
 *   migrate_vma_setup()     collect the pages of [start, end) of one VMA,
 *                           lock and reference them, and replace every
 *                           mapping by a migration entry inside
 *                           MMU_NOTIFY_MIGRATE invalidations whose owner
 *                           is args->pgmap_owner;
 *   the driver              allocates a locked destination page for each
 *                           src[] with MIGRATE_PFN_MIGRATE (dst[] =
 *                           migrate_pfn(pfn)), copies the bytes
 *                           (copy_highpage), or leaves dst[] 0 to skip;
 *   migrate_vma_pages()     moves each page's identity to its
 *                           destination (and maps destinations of holes);
 *   migrate_vma_finalize()  replaces the migration entries with entries of
 *                           the destination (of the source if the page did
 *                           not move), unlocks and releases.
 *
 * migrate_device_range()/_pages()/_finalize() do the same for device pfns
 * (no VMA, no mmap_lock held by the caller): evicting device memory.
 *
 * src[]/dst[] words: pfn << MIGRATE_PFN_SHIFT | flags.
 */
#define MIGRATE_PFN_VALID (1UL << 0) /* a pfn is present */
#define MIGRATE_PFN_MIGRATE (1UL << 1) /* this page may/does move */
#define MIGRATE_PFN_WRITE (1UL << 3) /* the mapping was writable */
#define MIGRATE_PFN_SHIFT 6

static inline unsigned long migrate_pfn(unsigned long pfn)
{
	return (pfn << MIGRATE_PFN_SHIFT) | MIGRATE_PFN_VALID;
}

static inline struct page *migrate_pfn_to_page(unsigned long mpfn)
{
	if (!(mpfn & MIGRATE_PFN_VALID))
		return NULL;
	return pfn_to_page(mpfn >> MIGRATE_PFN_SHIFT);
}

/* migrate_vma.flags: which source pages to collect. */
enum migrate_vma_direction {
	MIGRATE_VMA_SELECT_SYSTEM = 1 << 0, /* anonymous system pages */
	MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1, /* of pgmap_owner */
};

/*
 * struct migrate_vma - one migration of [start, end) of @vma.
 * @vma:        anonymous private VMA; its mm's mmap_lock held (read) by
 *              the caller from setup to finalize.
 * @src, @dst:  (end - start) / PAGE_SIZE words each (setup fills src and
 *              zeroes dst; the driver fills dst).
 * @cpages:     out: pages collected for migration (holes included).
 * @npages:     out: pages of the range.
 * @start, @end: page aligned, inside @vma, start < end.
 * @pgmap_owner: the owner of the MIGRATE invalidations (drivers skip their
 *              own), and the only device-private owner collected.
 * @flags:      MIGRATE_VMA_SELECT_*.
 * @fault_page: migrate_to_ram(): the faulting device page (locked and
 *              referenced by the fault path); NULL otherwise.
 *
 * Collected (src gets MIGRATE_PFN_MIGRATE): SELECT_SYSTEM: order-0 private
 * anonymous pages not pinned and not in the swap cache, and holes (none
 * entries and the zero page: src has MIGRATE but no VALID; a destination
 * given for a hole is mapped there); SELECT_DEVICE_PRIVATE: device-private
 * pages whose pgmap->owner is @pgmap_owner.  Everything else, including
 * pages of PUD mappings and pages whose lock is contended, gets 0 (a
 * PMD-mapped THP is split first, as Linux does).
 */
struct migrate_vma {
	struct vm_area_struct *vma;
	unsigned long *dst;
	unsigned long *src;
	unsigned long cpages;
	unsigned long npages;
	unsigned long start;
	unsigned long end;
	void *pgmap_owner;
	unsigned long flags;
	struct page *fault_page;
};

/**
 * migrate_vma_setup() - collect and unmap (see struct migrate_vma).
 * @args: filled as described there.
 *
 * Pages whose unmapping failed (another reference appeared: a GUP in
 * flight; an mmap_lock of another mm that maps it was contended) are put
 * back and their MIGRATE flag cleared.
 * Context: mmap_lock of args->vma->vm_mm held for read; may sleep.
 * Return: 0 (even if nothing was collected: check cpages), or -EINVAL
 * (bad arguments, a VM_SHARED/VM_MIXEDMAP/VM_IO/VM_PFNMAP VMA, a
 * fault_page that is not a locked device-private page).
 */
int migrate_vma_setup(struct migrate_vma *args);

/**
 * migrate_vma_pages() - move identities to the destinations.
 * @args: after migrate_vma_setup() and the driver's copies.
 *
 * A page without destination, or whose move fails, has MIGRATE cleared
 * (it stays where it was).  Destinations for holes are mapped (inside an
 * MMU_NOTIFY_MIGRATE invalidation) if the entry is still none or the zero
 * page.  Context: as migrate_vma_setup().
 */
void migrate_vma_pages(struct migrate_vma *args);

/**
 * migrate_vma_finalize() - restore entries, unlock, release.
 * @args: after migrate_vma_pages().
 *
 * Each migration entry becomes an entry of the destination (a
 * device-private entry for a device-private page, writable if the old
 * mapping was) or of the source if the page did not move.  Sources and
 * destinations are unlocked (except fault_page, the fault path's) and the
 * references of setup and of the driver dropped.
 * Context: as migrate_vma_setup().
 */
void migrate_vma_finalize(struct migrate_vma *args);

/**
 * migrate_device_range() - collect and unmap the allocated pages among
 * @npages device pfns from @start (driver unload: evict everything).
 * @src_pfns: @npages words out, as migrate_vma's src.
 * @start: first pfn; every pfn must belong to one device-private pgmap.
 * @npages: how many.
 *
 * Free pages and pages whose lock is contended get 0; the driver calls it
 * again until its memory is free.  Context: may sleep; no mmap_lock held.
 * Return: 0, or -EINVAL (bad arguments).
 */
int migrate_device_range(unsigned long *src_pfns, unsigned long start,
			 unsigned long npages);
/* migrate_vma_pages() for migrate_device_range()'s pages. */
void migrate_device_pages(unsigned long *src_pfns, unsigned long *dst_pfns,
			  unsigned long npages);
/* migrate_vma_finalize() for migrate_device_range()'s pages. */
void migrate_device_finalize(unsigned long *src_pfns, unsigned long *dst_pfns,
			     unsigned long npages);

/**
 * copy_highpage() - copy the bytes of @src to @dst (a driver's copy
 * between system and device memory; both are arena frames).  The
 * oracle's lost-write shadow moves with them.  Context: any.
 */
void copy_highpage(struct page *dst, struct page *src);

/**
 * alloc_page_vma() - a system page for user data of @vma at @addr (a
 * migrate_to_ram() destination): under the frame limit, reclaiming if
 * needed.  Return: the page (one reference, unlocked), or NULL.
 */
struct page *alloc_page_vma(gfp_t gfp, struct vm_area_struct *vma,
			    unsigned long addr);

#endif /* MMIRROR_MIGRATE_H */
