/* SPDX-License-Identifier: MIT */
/*
 * memremap.h - dev_pagemap: struct pages for device memory (ZONE_DEVICE).
 *
 * A driver describes its device memory with a struct dev_pagemap and hands
 * it to memremap_pages(); from then on every page of the range has a
 * struct page with PG_devmap set and ->pgmap pointing back, so the rest of
 * the system (GUP, the oracle, a CPU mapping it) can treat device memory
 * like memory.  Physical memory in mmirror is one arena (page.h), so device
 * "VRAM" is a block of arena frames memremap_pages() reserves from the
 * allocator: real bytes a CPU store and a device DMA both change.
 *
 * Types (kernel names):
 *   MEMORY_DEVICE_GENERIC   CPU-addressable (device-dax): mapped with devmap
 *                           entries, GUP-able, FOLL_LONGTERM allowed.
 *   MEMORY_DEVICE_FS_DAX    CPU-addressable (filesystem dax): as GENERIC but
 *                           FOLL_LONGTERM pins are refused (-EOPNOTSUPP).
 *   MEMORY_DEVICE_COHERENT  CPU-addressable, coherent device memory: as
 *                           GENERIC; FOLL_LONGTERM refused (the kernel
 *                           migrates the page out first; mmirror does not).
 *   MEMORY_DEVICE_PRIVATE   not CPU-addressable (docs/devmem.md): mapped by
 *                           device-private swap entries, which hold the
 *                           page's reference and mapcount like a present
 *                           PTE; a CPU touch faults and calls
 *                           ops->migrate_to_ram(); pages move in and out
 *                           with migrate_vma_*() / migrate_device_*()
 *                           (migrate.h).  ops->page_free and
 *                           ops->migrate_to_ram are required.
 *
 * Page references (the kernel's model up to 6.14 for GENERIC/FS_DAX): a
 * page of a live pgmap is idle at _refcount 1, the pgmap's own reference.
 * Devmap entries are _PAGE_SPECIAL|_PAGE_DEVMAP (pte_mkdevmap) and hold no
 * reference and no mapcount (the kernel's vm_normal_page() returns NULL
 * for them too, so zap, fork and exit drop nothing).  GUP takes references
 * above 1.  ops->page_free is not called for these types.
 *
 * Device-private pages (the kernel's model since 6.1): a page is FREE at
 * _refcount 0 and belongs to the driver's own allocator.  The driver takes
 * one with zone_device_page_init() (reference 1, page locked, one pgmap
 * reference held by the page); the last put_page() calls ops->page_free()
 * (the driver puts it back on its free list) and drops that pgmap
 * reference.  Such a page is anonymous memory like the page it replaced:
 * ->mapping is the anon_vma, ->index its linear index, so the reverse map
 * finds its device-private entries.  It is never on the LRU, never
 * swapped, never pinned (GUP faults it back to system memory first).
 *
 * Lifetime: pgmap->ref is a percpu_ref-like count: one base reference from
 * memremap_pages(), one per get_dev_pagemap() holder and one per
 * allocated device-private page.  memunmap_pages():
 *
 *   1. kill the ref: get_dev_pagemap() and zone_device_page_init() fail
 *      from now on;
 *   2. wait until every holder has put its reference (device-private:
 *      until every page is free again - the driver must migrate them all
 *      out first, migrate_device_range(), or this waits for ever);
 *   3. zap every mapping of the range in every mm that mapped it (the
 *      "global zap", like unmap_mapping_range() on the device inode),
 *      bracketed by mmu notifiers, and flush those mms' TLBs: the flush
 *      waits for IRQ-off sections, so no GUP-fast is still reading an
 *      entry that pointed into the range (not for device-private: a free
 *      page has no entry left);
 *   4. wait until every page is idle again (GUP holders released theirs);
 *   5. unlist the pgmap and give the frames back to the allocator: each
 *      frame's generation moves (page.h), so any later touch through a
 *      stale pointer is a use after free the oracle reports (seed 003).
 *
 * Releasing page references: unpin_user_page*() (pins), put_page() and
 * put_devmap_page() all wake a removal waiting in step 4 when a page
 * drops back to idle (put_page() calls devmap_page_put_notify(), as the
 * kernel's calls put_devmap_managed_page()).
 *
 * Lock order: mmap_lock -> PTE lock -> pgmap->lock (the mapper list) or
 * pgmap_lock (global list; src/mm/memremap.c); both are leaves, never
 * nested.  get_dev_pagemap() takes only pgmap_lock and never sleeps: it is
 * called with IRQs off (GUP-fast) and under PTE locks (GUP slow path).
 */
#ifndef MMIRROR_MEMREMAP_H
#define MMIRROR_MEMREMAP_H

#include <mmirror/list.h>
#include <mmirror/mm.h>
#include <mmirror/spinlock.h>

enum memory_type {
	MEMORY_DEVICE_PRIVATE = 1,
	MEMORY_DEVICE_COHERENT,
	MEMORY_DEVICE_FS_DAX,
	MEMORY_DEVICE_GENERIC,
};

/* A physical byte range, both ends inclusive (the kernel's struct range). */
struct range {
	u64 start;
	u64 end;
};

static inline u64 range_len(const struct range *r)
{
	return r->end - r->start + 1;
}

struct vm_fault;

struct dev_pagemap_ops {
	/*
	 * Device-private: the last reference on @page was put; the page is
	 * free (_refcount 0, ->mapping cleared) and the driver's again.
	 * Context: any put_page() caller: may hold spinlocks, IRQs may be
	 * off; must not sleep.
	 */
	void (*page_free)(struct page *page);
	/*
	 * Device-private: a CPU access found a device-private entry of this
	 * pgmap.  vmf->page is the device page, locked and referenced by the
	 * fault path (which unlocks and puts it after the call); the driver
	 * migrates at least that page back with migrate_vma_setup(.flags =
	 * MIGRATE_VMA_SELECT_DEVICE_PRIVATE, .fault_page = vmf->page,
	 * .pgmap_owner = its owner) and returns 0 (the access retries), or
	 * VM_FAULT_SIGBUS / VM_FAULT_OOM.
	 * Context: mmap_lock of vmf->vma->vm_mm held for read; may sleep.
	 */
	vm_fault_t (*migrate_to_ram)(struct vm_fault *vmf);
};

/* pgmap->state */
enum {
	PGMAP_UNUSED, /* before memremap_pages() / after a failed one */
	PGMAP_LIVE,
	PGMAP_DYING, /* memunmap_pages() running */
	PGMAP_REMOVED,
};

/*
 * struct dev_pagemap - device memory and its struct pages.  The driver
 * owns (allocates, embeds) it; it must stay allocated from
 * memremap_pages() until memunmap_pages() returns.
 */
struct dev_pagemap {
	/* Set by the driver before memremap_pages(). */
	enum memory_type type;
	unsigned long nr_pages; /* size of the device memory */
	const struct dev_pagemap_ops *ops; /* may be NULL */
	void *owner; /* the driver's cookie (hmm "owner" matching) */

	/* Set by memremap_pages(): the frames, [range.start, range.end]. */
	struct range range;

	/* Private to src/mm/memremap*.c. */
	atomic_long_t ref; /* holders, plus PGMAP_REF_DEAD once killed */
	int state; /* PGMAP_*; changed under pgmap_lock */
	unsigned int order; /* the reserved block, 2^order frames */
	struct list_head node; /* on the global list, under pgmap_lock */
	spinlock_t lock; /* guards mappers */
	struct list_head mappers; /* struct pgmap_mapper: mms mapping us */
};

static inline unsigned long pgmap_pfn_first(const struct dev_pagemap *pgmap)
{
	return pgmap->range.start >> PAGE_SHIFT;
}

static inline bool pgmap_has_pfn(const struct dev_pagemap *pgmap,
				 unsigned long pfn)
{
	return pfn >= pgmap_pfn_first(pgmap) &&
	       pfn < pgmap_pfn_first(pgmap) + pgmap->nr_pages;
}

/* --- pages ------------------------------------------------------------ */

/* Is @page device memory described by a dev_pagemap? */
static inline bool is_zone_device_page(const struct page *page)
{
	return PageDevmap(page);
}

static inline bool is_device_private_page(const struct page *page)
{
	return is_zone_device_page(page) &&
	       page->pgmap->type == MEMORY_DEVICE_PRIVATE;
}

static inline bool is_device_coherent_page(const struct page *page)
{
	return is_zone_device_page(page) &&
	       page->pgmap->type == MEMORY_DEVICE_COHERENT;
}

static inline bool is_fsdax_page(const struct page *page)
{
	return is_zone_device_page(page) &&
	       page->pgmap->type == MEMORY_DEVICE_FS_DAX;
}

/* --- lifetime -------------------------------------------------------- */

/**
 * memremap_pages() - create struct pages for @pgmap's device memory.
 * @pgmap: type, nr_pages, ops and owner filled in; state PGMAP_UNUSED.
 *
 * Reserves 2^order frames (the excess beyond nr_pages goes back), zeroes
 * them, makes each page PG_devmap, idle (_refcount 1) and ->pgmap = @pgmap,
 * sets pgmap->range and lists the pgmap for get_dev_pagemap().
 *
 * Device-private pages start free instead (_refcount 0): the driver
 * hands them out with zone_device_page_init().
 *
 * Context: may sleep.  Return: the host address of the memory (the
 * kernel's direct map), or ERR_PTR(-EINVAL) (NULL @pgmap, bad type,
 * nr_pages 0 or above 2^MAX_PAGE_ORDER, pgmap already used, a
 * device-private pgmap without ops->page_free, ops->migrate_to_ram or
 * an owner),
 * or ERR_PTR(-ENOMEM) (no block that large; nothing changed).
 */
void *memremap_pages(struct dev_pagemap *pgmap);

/**
 * memunmap_pages() - remove @pgmap's memory: the five steps above.
 * @pgmap: a live pgmap.
 *
 * Context: may sleep (waits for references and TLB shootdowns); takes
 * mmap_lock for read of every mm that mapped the range: the caller must
 * hold no mmap_lock, no page reference on the range (it would wait for
 * itself) and no spinlock.  Returns when the frames are back in the
 * allocator; @pgmap may then be freed.  A pgmap that is not live: WARN.
 */
void memunmap_pages(struct dev_pagemap *pgmap);

/*
 * NEVER USE OUTSIDE drivers/flawed: memunmap_pages() without step 3 (no
 * zap, no flush) - seed 003's filesystem-dax removal, which leaves page
 * tables pointing at the removed frames.
 */
void __memunmap_pages_nozap(struct dev_pagemap *pgmap);

/**
 * get_dev_pagemap() - the live pgmap that contains @pfn, with a reference.
 * @pfn: a frame number.
 * @pgmap: optional: a pgmap the caller already holds a reference on.  If
 *	it contains @pfn that reference is returned (no new one is taken);
 *	otherwise it is put and the lookup starts afresh (kernel semantics).
 *
 * Context: any, including IRQs off and PTE locks held; never sleeps.
 * Return: the pgmap, or NULL (no pgmap has @pfn, or it is being removed).
 * Pair with put_dev_pagemap().
 */
struct dev_pagemap *get_dev_pagemap(unsigned long pfn,
				    struct dev_pagemap *pgmap);

/**
 * put_dev_pagemap() - drop a reference from get_dev_pagemap().
 * @pgmap: the pgmap, or NULL (nothing to do).
 *
 * Context: any; never sleeps.  The last put of a killed pgmap wakes
 * memunmap_pages().
 */
void put_dev_pagemap(struct dev_pagemap *pgmap);

/**
 * zone_device_page_init() - the driver's allocator hands out @page.
 * @page: a free (_refcount 0) page of a live device-private pgmap.
 *
 * Takes a pgmap reference for the page, sets _refcount to 1 and locks the
 * page (migrate_vma_pages() wants destination pages locked; finalize
 * unlocks them).  The page is then the caller's until it puts it or a
 * migration maps it.
 * Context: may sleep (the page lock).  Return: 0; -ENODEV (the pgmap is
 * dying: memunmap_pages() began; nothing changed); -EINVAL (not a free
 * device-private page: WARN).
 */
int zone_device_page_init(struct page *page);

/**
 * put_devmap_page() - drop a FOLL_GET reference on a device page.
 * @page: a PG_devmap page the caller holds a reference on.
 *
 * put_page() plus a wake-up of a removal waiting for the page to become
 * idle.  Context: any; never sleeps.
 */
void put_devmap_page(struct page *page);

/*
 * devmap_page_put_notify() - a reference on a PG_devmap page was just
 * dropped: let a waiting memunmap_pages() look again.  For the put paths
 * (gup.c's unpin; put_devmap_page()).  Context: any; never sleeps.
 */
void devmap_page_put_notify(void);

/* --- mapping device memory -------------------------------------------- */

/**
 * vm_mmap_devmap() - map @nr_pages of @pgmap's memory, from page @pgoff
 * on, into @mm (a device driver's mmap; device-dax's fault handler run
 * for every page up front).
 * @mm: the address space.
 * @pgmap: a live, CPU-addressable pgmap.
 * @pgoff: first page of the device memory to map.
 * @nr_pages: how many.
 * @prot: PROT_READ, optionally PROT_WRITE.
 *
 * Creates a MAP_SHARED VMA marked VM_MIXEDMAP (fork then copies no entry:
 * a child faults; DONTNEED/removal leave the VMA in place) and fills it
 * with devmap PTEs (pte_mkdevmap: special + devmap, no reference, no
 * mapcount), taking each PTE lock.  Records @mm with the pgmap so that
 * memunmap_pages() zaps it.  Entries moved by mremap stay found: the zap
 * walks every VM_MIXEDMAP VMA of each recorded mm.
 *
 * Context: may sleep; takes mmap_lock (the caller must not hold it).
 * Return: the address, or -EINVAL (bad arguments, PRIVATE type), -ENODEV
 * (the pgmap is not live: removal started), -ENOMEM (the VMA, a table or
 * the record: nothing stays mapped).
 */
long vm_mmap_devmap(struct mm_struct *mm, struct dev_pagemap *pgmap,
		    unsigned long pgoff, unsigned long nr_pages,
		    unsigned long prot);

/* Number of pgmaps listed (tests). */
unsigned long memremap_nr_pgmaps(void);

#endif /* MMIRROR_MEMREMAP_H */
